/*  pm_metrics.c: Prometheus text exposition (see pm_metrics.h).          */
#include <arpa/inet.h>
#include <assert.h>
#include <czmq.h>
#include <stdarg.h>
#include <microhttpd.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_log.h"
#include "pm_metrics.h"

//  Latency buckets in seconds, batch size buckets in requests.
static const double s_latency_le[] = {0.0005, 0.001, 0.002, 0.005, 0.01, 0.025,
                                      0.05,   0.1,   0.25,  0.5,   1.0};
#define LATENCY_BUCKETS (sizeof s_latency_le / sizeof s_latency_le[0])
static const double s_batch_le[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512};
#define BATCH_BUCKETS (sizeof s_batch_le / sizeof s_batch_le[0])

typedef struct {
    uint64_t buckets[16]; //  cumulative at output; per bucket here
    uint64_t count;
    double sum;
} s_histogram_t;

typedef struct {
    char name[64];
    char help[128];
    char labels[128];
    double value;
} s_gauge_t;

struct _pm_metrics_t {
    char service[32];
    struct MHD_Daemon *daemon;  //  NULL when off
    int port;
    pthread_mutex_t lock;       //  everything below
    zhashx_t *requests;         //  "type\tcode" -> uint64_t *
    s_histogram_t latency[2];   //  read, write
    s_histogram_t batch;
    uint64_t events;
    s_gauge_t *gauges;
    size_t n_gauges;
};

static void
s_observe (s_histogram_t *h, const double *le, size_t n, double value)
{
    size_t i = 0;
    while (i < n && value > le[i]) {
        i++;
    }
    h->buckets[i]++; //  i == n: +Inf only
    h->count++;
    h->sum += value;
}

//  Appends printf output to a growing buffer.
static void __attribute__ ((format (printf, 4, 5)))
s_append (char **buf, size_t *len, size_t *cap, const char *fmt, ...)
{
    va_list args;
    for (;;) {
        va_start (args, fmt);
        int n = vsnprintf (*buf + *len, *cap - *len, fmt, args);
        va_end (args);
        if (n >= 0 && (size_t) n < *cap - *len) {
            *len += (size_t) n;
            return;
        }
        *cap = *cap * 2 + (size_t) (n > 0 ? n : 256);
        *buf = realloc (*buf, *cap);
        assert (*buf);
    }
}

static void
s_histogram_text (char **buf, size_t *len, size_t *cap, const char *name,
                  const char *labels, const s_histogram_t *h, const double *le,
                  size_t n)
{
    uint64_t cumulative = 0;
    for (size_t i = 0; i < n; i++) {
        cumulative += h->buckets[i];
        s_append (buf, len, cap, "%s_bucket{%s,le=\"%g\"} %llu\n", name, labels, le[i],
                  (unsigned long long) cumulative);
    }
    s_append (buf, len, cap, "%s_bucket{%s,le=\"+Inf\"} %llu\n", name, labels,
              (unsigned long long) h->count);
    s_append (buf, len, cap, "%s_sum{%s} %.6f\n", name, labels, h->sum);
    s_append (buf, len, cap, "%s_count{%s} %llu\n", name, labels,
              (unsigned long long) h->count);
}

//  --------------------------------------------------------------------------
//  The exposition text.
char *
pm_metrics_text (pm_metrics_t *self)
{
    size_t len = 0, cap = 4096;
    char *buf = malloc (cap);
    assert (buf);
    buf[0] = 0;
    const char *svc = self->service;
    pthread_mutex_lock (&self->lock);
    s_append (&buf, &len, &cap,
              "# HELP pm_requests_total Requests answered, by command and result code.\n"
              "# TYPE pm_requests_total counter\n");
    for (uint64_t *count = zhashx_first (self->requests); count;
         count = zhashx_next (self->requests)) {
        const char *key = zhashx_cursor (self->requests);
        const char *tab = strchr (key, '\t');
        s_append (&buf, &len, &cap,
                  "pm_requests_total{service=\"%s\",type=\"%.*s\",code=\"%s\"} %llu\n",
                  svc, (int) (tab - key), key, tab + 1, (unsigned long long) *count);
    }
    s_append (&buf, &len, &cap,
              "# HELP pm_request_duration_seconds Time from receipt to reply "
              "(writes: including their commit).\n"
              "# TYPE pm_request_duration_seconds histogram\n");
    const char *kinds[] = {"read", "write"};
    for (int k = 0; k < 2; k++) {
        char labels[96];
        snprintf (labels, sizeof labels, "service=\"%s\",kind=\"%s\"", svc, kinds[k]);
        s_histogram_text (&buf, &len, &cap, "pm_request_duration_seconds", labels,
                          &self->latency[k], s_latency_le, LATENCY_BUCKETS);
    }
    char labels[64];
    snprintf (labels, sizeof labels, "service=\"%s\"", svc);
    s_append (&buf, &len, &cap,
              "# HELP pm_batch_size Write requests committed together (one fsync).\n"
              "# TYPE pm_batch_size histogram\n");
    s_histogram_text (&buf, &len, &cap, "pm_batch_size", labels, &self->batch,
                      s_batch_le, BATCH_BUCKETS);
    s_append (&buf, &len, &cap,
              "# HELP pm_events_published_total Events published after commit.\n"
              "# TYPE pm_events_published_total counter\n"
              "pm_events_published_total{%s} %llu\n",
              labels, (unsigned long long) self->events);
    for (size_t i = 0; i < self->n_gauges; i++) {
        s_gauge_t *g = &self->gauges[i];
        bool first = i == 0 || strcmp (g->name, self->gauges[i - 1].name) != 0;
        if (first) {
            s_append (&buf, &len, &cap, "# HELP %s %s\n# TYPE %s gauge\n", g->name,
                      g->help, g->name);
        }
        s_append (&buf, &len, &cap, "%s{%s%s%s} %.17g\n", g->name, labels,
                  g->labels[0] ? "," : "", g->labels, g->value);
    }
    pthread_mutex_unlock (&self->lock);
    return buf;
}

//  The HTTP handler: GET /metrics (or /) answers the text; others 404.
static enum MHD_Result
s_on_http (void *cls, struct MHD_Connection *connection, const char *url,
           const char *method, const char *version, const char *upload_data,
           size_t *upload_data_size, void **con_cls)
{
    (void) version;
    (void) upload_data;
    (void) upload_data_size;
    (void) con_cls;
    pm_metrics_t *self = cls;
    struct MHD_Response *response;
    enum MHD_Result ret;
    if (strcmp (method, "GET") != 0
        || (strcmp (url, "/metrics") != 0 && strcmp (url, "/") != 0)) {
        static char not_found[] = "not found: GET /metrics\n";
        response = MHD_create_response_from_buffer (strlen (not_found), not_found,
                                                    MHD_RESPMEM_PERSISTENT);
        ret = MHD_queue_response (connection, MHD_HTTP_NOT_FOUND, response);
    }
    else {
        char *text = pm_metrics_text (self);
        response = MHD_create_response_from_buffer (strlen (text), text,
                                                    MHD_RESPMEM_MUST_FREE);
        MHD_add_response_header (response, "Content-Type",
                                 "text/plain; version=0.0.4; charset=utf-8");
        ret = MHD_queue_response (connection, MHD_HTTP_OK, response);
    }
    MHD_destroy_response (response);
    return ret;
}

static void
s_free_count (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------
pm_metrics_t *
pm_metrics_new (const char *service, const char *listen)
{
    pm_metrics_t *self = calloc (1, sizeof *self);
    assert (self);
    snprintf (self->service, sizeof self->service, "%s", service);
    pthread_mutex_init (&self->lock, NULL);
    self->requests = zhashx_new ();
    zhashx_set_destructor (self->requests, s_free_count);
    if (!listen || strcmp (listen, "off") == 0) {
        return self;
    }
    //  "host:port": listen on that address only (loopback by default).
    char host[128] = "127.0.0.1";
    const char *colon = strrchr (listen, ':');
    int port = atoi (colon ? colon + 1 : listen);
    if (colon && colon > listen) {
        snprintf (host, sizeof host, "%.*s", (int) (colon - listen), listen);
    }
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    if (strcmp (host, "*") == 0 || strcmp (host, "0.0.0.0") == 0) {
        addr.sin_addr.s_addr = htonl (INADDR_ANY);
    }
    else if (inet_pton (AF_INET, host, &addr.sin_addr) != 1) {
        pm_error ("metrics address is not host:port", "listen", listen, NULL);
        pm_metrics_destroy (&self);
        return NULL;
    }
    self->daemon = MHD_start_daemon (MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG,
                                     (uint16_t) port, NULL, NULL, s_on_http, self,
                                     MHD_OPTION_SOCK_ADDR, &addr,
                                     MHD_OPTION_CONNECTION_LIMIT, 16U,
                                     MHD_OPTION_CONNECTION_TIMEOUT, 10U, MHD_OPTION_END);
    if (!self->daemon) {
        pm_error ("cannot serve metrics", "listen", listen, NULL);
        pm_metrics_destroy (&self);
        return NULL;
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info (self->daemon,
                                                            MHD_DAEMON_INFO_BIND_PORT);
    self->port = info ? info->port : port;
    return self;
}

void
pm_metrics_destroy (pm_metrics_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pm_metrics_t *self = *self_p;
        if (self->daemon) {
            MHD_stop_daemon (self->daemon);
        }
        zhashx_destroy (&self->requests);
        free (self->gauges);
        pthread_mutex_destroy (&self->lock);
        free (self);
        *self_p = NULL;
    }
}

int
pm_metrics_port (pm_metrics_t *self)
{
    return self->port;
}

void
pm_metrics_request (pm_metrics_t *self, const char *type, pm_err code, bool write,
                    int64_t micros)
{
    char key[160];
    snprintf (key, sizeof key, "%s\t%s", type ? type : "unknown", pm_err_name (code));
    pthread_mutex_lock (&self->lock);
    uint64_t *count = zhashx_lookup (self->requests, key);
    if (!count) {
        count = calloc (1, sizeof *count);
        assert (count);
        zhashx_insert (self->requests, key, count);
    }
    (*count)++;
    s_observe (&self->latency[write], s_latency_le, LATENCY_BUCKETS,
               (double) micros / 1e6);
    pthread_mutex_unlock (&self->lock);
}

void
pm_metrics_batch (pm_metrics_t *self, size_t size)
{
    pthread_mutex_lock (&self->lock);
    s_observe (&self->batch, s_batch_le, BATCH_BUCKETS, (double) size);
    pthread_mutex_unlock (&self->lock);
}

void
pm_metrics_events (pm_metrics_t *self, size_t n)
{
    pthread_mutex_lock (&self->lock);
    self->events += n;
    pthread_mutex_unlock (&self->lock);
}

void
pm_metrics_gauge (pm_metrics_t *self, const char *name, const char *help,
                  const char *labels, double value)
{
    pthread_mutex_lock (&self->lock);
    size_t i = 0;
    while (i < self->n_gauges && !(strcmp (self->gauges[i].name, name) == 0
                                   && strcmp (self->gauges[i].labels, labels) == 0)) {
        i++;
    }
    if (i == self->n_gauges) {
        self->gauges = realloc (self->gauges, (i + 1) * sizeof *self->gauges);
        assert (self->gauges);
        //  Keep a gauge's series together: insert after its last sibling.
        size_t at = i;
        for (size_t j = 0; j < i; j++) {
            if (strcmp (self->gauges[j].name, name) == 0) {
                at = j + 1;
            }
        }
        memmove (&self->gauges[at + 1], &self->gauges[at], (i - at) * sizeof *self->gauges);
        i = at;
        self->n_gauges++;
        snprintf (self->gauges[i].name, sizeof self->gauges[i].name, "%s", name);
        snprintf (self->gauges[i].help, sizeof self->gauges[i].help, "%s", help);
        snprintf (self->gauges[i].labels, sizeof self->gauges[i].labels, "%s", labels);
    }
    self->gauges[i].value = value;
    pthread_mutex_unlock (&self->lock);
}
