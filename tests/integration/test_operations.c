/*  test_operations.c: what operators rely on. A hot backup taken while
    the service writes restores to a consistent, serving store that its
    consumers rebuild from; SIGTERM (docker stop) finishes the batch in
    hand and loses nothing acknowledged.                                 */
#include <arpa/inet.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "itest.h"
#include "patients.pb-c.h"
#include "pm_test.pb-c.h"

//  Registers `n` patients named <tag><i>; returns how many were acknowledged.
static int
s_load (pm_client_t *client, int n, const char *tag)
{
    int acked = 0;
    for (int i = 0; i < n; i++) {
        char family[48];
        snprintf (family, sizeof family, "%s%05d", tag, i);
        char *given[] = {"Ola"};
        Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
        name.family = family;
        name.n_given = 1;
        name.given = given;
        Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
        p.name = &name;
        p.birth_date = "1990-10-10";
        p.home_site = "north";
        Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
        reg.patient = &p;
        Pm__Reply *reply = itest_call (client, "patients.Register", &reg.base);
        if (!reply) {
            break;
        }
        acked += reply->code == PM__CODE__OK;
        pm__reply__free_unpacked (reply, NULL);
    }
    return acked;
}

//  Runs pmctl with `args` for service `svc` (its store, its endpoint).
static int
s_pmctl (itest_svc_t *svc, const char *args)
{
    char pmctl[600], cmd[2000];
    itest_bin_path ("pmctl", pmctl, sizeof pmctl);
    snprintf (cmd, sizeof cmd,
              "PM_DATA_DIR='%s/store' PM_PATIENTS_ENDPOINT='%s' %s %s >/dev/null 2>&1",
              svc->dir, svc->commands, pmctl, args);
    int status = system (cmd);
    return WIFEXITED (status) ? WEXITSTATUS (status) : -1;
}

static Pm__Test__MirrorStats *
s_mirror_stats (pm_client_t *mirror)
{
    Pm__Reply *reply = itest_call (mirror, "mirror.Stats", NULL);
    Pm__Test__MirrorStats *stats = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        stats = pm__test__mirror_stats__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return stats;
}

//  --------------------------------------------------------------------------
static void
s_test_backup_restore (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    CHECK (s_load (pc, 40, "Before") == 40);

    //  Back up while another process keeps registering.
    pid_t writer = fork ();
    if (writer == 0) {
        pm_client_t *wc = itest_client (&pat);
        s_load (wc, 150, "During");
        pm_client_destroy (&wc);
        _exit (0);
    }
    char backup[400], args[600];
    snprintf (backup, sizeof backup, "%s/backup", pat.dir);
    snprintf (args, sizeof args, "backup patients '%s'", backup);
    CHECK (s_pmctl (&pat, args) == 0);
    int status;
    waitpid (writer, &status, 0);
    Pm__Health *h = itest_health (pc);
    CHECK (h && h->high_seq == 190);
    char old_stream[PM_ID_MAX];
    snprintf (old_stream, sizeof old_stream, "%s", h->stream_id);
    pm__health__free_unpacked (h, NULL);

    //  Let the mirror take everything, then restore the older copy.
    pm_client_t *mc = itest_client (&mir);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    Pm__Test__MirrorStats *stats = NULL;
    do {
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        stats = s_mirror_stats (mc);
        zclock_sleep (10);
    } while (itest_now () < until && !(stats && stats->applied == 190));
    CHECK (stats && stats->applied == 190);
    pm__test__mirror_stats__free_unpacked (stats, NULL);

    snprintf (args, sizeof args, "restore patients '%s'", backup);
    CHECK (s_pmctl (&pat, args) == 1); //  refused: the service is running
    itest_signal (&pat, SIGTERM);
    CHECK (s_pmctl (&pat, args) == 0);
    CHECK (itest_start (&pat) == 0);
    pm_client_destroy (&pc);
    pc = itest_client (&pat);

    //  The copy is one committed state: a gap-free stream whose every
    //  registration is stored, under a new stream id.
    h = itest_health (pc);
    CHECK (h && h->high_seq >= 40 && h->high_seq <= 190);
    CHECK (strcmp (h->stream_id, old_stream) != 0);
    uint64_t restored = h->high_seq;
    pm__health__free_unpacked (h, NULL);
    Pm__Event **events;
    long n = itest_read_stream (pc, &events);
    CHECK (n == (long) restored);
    for (long i = 0; i < n; i++) {
        CHECK (events[i]->seq == (uint64_t) i + 1);
        Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
        get.id = events[i]->subject;
        Pm__Reply *reply = itest_call (pc, "patients.Get", &get.base);
        CHECK (reply && reply->code == PM__CODE__OK);
        pm__reply__free_unpacked (reply, NULL);
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);

    //  It serves writes, and the consumer rebuilt from the new stream.
    CHECK (s_load (pc, 5, "After") == 5);
    until = itest_now () + ITEST_WAIT_MS;
    stats = NULL;
    do {
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        stats = s_mirror_stats (mc);
        zclock_sleep (10);
    } while (itest_now () < until
             && !(stats && stats->rebuilds == 1 && stats->applied == restored + 5));
    CHECK (stats && stats->rebuilds == 1 && stats->applied == restored + 5);
    CHECK (stats->duplicates == 0);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

//  --------------------------------------------------------------------------
//  SIGTERM under load: the process ends promptly and cleanly, and every
//  registration it acknowledged is there after a restart.
static void
s_test_sigterm_graceful (void)
{
    itest_svc_t pat;
    itest_svc_init (&pat, "patients", "pm-patients");
    CHECK (itest_start (&pat) == 0);
    enum { CLIENTS = 8 };
    pm_client_t *clients[CLIENTS];
    zpoller_t *poller = zpoller_new (NULL);
    uint8_t body[512];
    char (*acked)[PM_ID_MAX] = calloc (10000, PM_ID_MAX);
    int n_acked = 0, next = 0;
    for (int c = 0; c < CLIENTS; c++) {
        clients[c] = itest_client (&pat);
        zpoller_add (poller, pm_client_sock (clients[c]));
    }
    for (int c = 0; c < CLIENTS; c++) {
        char family[32];
        snprintf (family, sizeof family, "Term%05d", next++);
        char *given[] = {"Ana"};
        Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
        name.family = family;
        name.n_given = 1;
        name.given = given;
        Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
        p.name = &name;
        p.birth_date = "1980-08-08";
        p.home_site = "north";
        Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
        reg.patient = &p;
        size_t len = pm__patients__register__pack (&reg, body);
        pm_client_send (clients[c], 0, "patients.Register", body, len);
    }
    bool termed = false;
    int64_t termed_at = 0;
    int64_t until = itest_now () + 20000;
    while (itest_now () < until) {
        zsock_t *which = zpoller_wait (poller, 500);
        if (!which) {
            break; //  nothing more comes: the service has stopped
        }
        int c = 0;
        while (pm_client_sock (clients[c]) != which) {
            c++;
        }
        Pm__Reply *reply = pm_client_recv (clients[c], 0);
        if (reply && reply->code == PM__CODE__OK) {
            Pm__Patients__Patient *p = pm__patients__patient__unpack (
                NULL, reply->body.len, reply->body.data);
            if (p) {
                snprintf (acked[n_acked++], PM_ID_MAX, "%s", p->id);
                pm__patients__patient__free_unpacked (p, NULL);
            }
        }
        if (reply) {
            pm__reply__free_unpacked (reply, NULL);
        }
        if (!termed && n_acked >= 300) {
            kill (pat.pid, SIGTERM);
            termed = true;
            termed_at = itest_now ();
        }
        if (termed) {
            continue; //  collect what still comes, send nothing new
        }
        char family[32];
        snprintf (family, sizeof family, "Term%05d", next++);
        char *given[] = {"Ana"};
        Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
        name.family = family;
        name.n_given = 1;
        name.given = given;
        Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
        p.name = &name;
        p.birth_date = "1980-08-08";
        p.home_site = "north";
        Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
        reg.patient = &p;
        size_t len = pm__patients__register__pack (&reg, body);
        pm_client_send (clients[c], 0, "patients.Register", body, len);
    }
    CHECK (termed);
    int status = -1;
    int64_t exit_by = termed_at + 5000;
    while (itest_now () < exit_by && waitpid (pat.pid, &status, WNOHANG) == 0) {
        zclock_sleep (5);
    }
    CHECK (WIFEXITED (status) && WEXITSTATUS (status) == 0);
    pat.pid = 0;
    CHECK (itest_start (&pat) == 0);
    pm_client_t *pc = itest_client (&pat);
    for (int i = 0; i < n_acked; i++) {
        Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
        get.id = acked[i];
        Pm__Reply *reply = itest_call (pc, "patients.Get", &get.base);
        CHECK (reply && reply->code == PM__CODE__OK);
        pm__reply__free_unpacked (reply, NULL);
    }
    free (acked);
    zpoller_destroy (&poller);
    for (int c = 0; c < CLIENTS; c++) {
        pm_client_destroy (&clients[c]);
    }
    pm_client_destroy (&pc);
    itest_cleanup (&pat);
}

//  GET of http://127.0.0.1:PORT/PATH; the body (caller frees) or NULL.
static char *
s_http_get (const char *url)
{
    int port = 0;
    char path[128] = "/";
    if (sscanf (url, "http://127.0.0.1:%d%127s", &port, path) < 1) {
        return NULL;
    }
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in addr = {.sin_family = AF_INET, .sin_port = htons ((uint16_t) port)};
    inet_pton (AF_INET, "127.0.0.1", &addr.sin_addr);
    struct timeval tv = {5, 0};
    setsockopt (fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect (fd, (struct sockaddr *) &addr, sizeof addr) != 0) {
        close (fd);
        return NULL;
    }
    char req[256];
    int n = snprintf (req, sizeof req, "GET %s HTTP/1.0\r\nHost: localhost\r\n\r\n", path);
    if (write (fd, req, (size_t) n) != n) {
        close (fd);
        return NULL;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc (cap);
    ssize_t got;
    while ((got = read (fd, buf + len, cap - len - 1)) > 0) {
        len += (size_t) got;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc (buf, cap);
        }
    }
    close (fd);
    buf[len] = 0;
    char *body = strstr (buf, "\r\n\r\n");
    char *out = body && strstr (buf, " 200 ") ? strdup (body + 4) : NULL;
    free (buf);
    return out;
}

//  The value of the sample line that starts with `series`, or -1.
static double
s_sample (const char *text, const char *series)
{
    const char *at = strstr (text, series);
    return at ? atof (at + strlen (series)) : -1;
}

//  --------------------------------------------------------------------------
//  Prometheus metrics: requests by type and code, latency and batch
//  histograms, events, map use, consumer lag; promtool accepts the text.
static void
s_test_metrics (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    CHECK (pat.metrics[0] && mir.metrics[0]);
    pm_client_t *pc = itest_client (&pat);
    CHECK (s_load (pc, 25, "Metric") == 25);
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = "pat_00000000000000000000000000";
    Pm__Reply *reply = itest_call (pc, "patients.Get", &get.base);
    CHECK (reply && reply->code == PM__CODE__ENOTFOUND);
    pm__reply__free_unpacked (reply, NULL);

    //  Gauges refresh with the heartbeat (1 s): poll until they show.
    char *text = NULL;
    int64_t until = itest_now () + ITEST_WAIT_MS;
    do {
        free (text);
        text = s_http_get (pat.metrics);
        zclock_sleep (50);
    } while (itest_now () < until
             && !(text && s_sample (text, "pm_stream_high_seq{service=\"patients\"} ") == 25));
    CHECK (text);
    CHECK (s_sample (text, "pm_requests_total{service=\"patients\",type=\"patients.Register\",code=\"OK\"} ") == 25);
    CHECK (s_sample (text, "pm_requests_total{service=\"patients\",type=\"patients.Get\",code=\"ENOTFOUND\"} ") == 1);
    CHECK (s_sample (text, "pm_request_duration_seconds_count{service=\"patients\",kind=\"write\"} ") == 25);
    CHECK (s_sample (text, "pm_events_published_total{service=\"patients\"} ") == 25);
    CHECK (s_sample (text, "pm_batch_size_count{service=\"patients\"} ") >= 1);
    CHECK (s_sample (text, "pm_lmdb_map_used_bytes{service=\"patients\"} ") > 0);

    //  promtool (from Debian's prometheus) checks the exposition format.
    char path[400], cmd[600];
    snprintf (path, sizeof path, "%s/metrics.txt", pat.dir);
    FILE *f = fopen (path, "w");
    CHECK (f);
    fputs (text, f);
    fclose (f);
    snprintf (cmd, sizeof cmd, "promtool check metrics < '%s' >/dev/null 2>&1", path);
    CHECK (system (cmd) == 0);
    free (text);

    //  The consumer shows its lag (none, once caught up) per source.
    until = itest_now () + ITEST_WAIT_MS;
    text = NULL;
    do {
        free (text);
        text = s_http_get (mir.metrics);
        zclock_sleep (50);
    } while (itest_now () < until
             && !(text && s_sample (text, "pm_consumer_cursor{service=\"mirror\",source=\"patients\"} ") == 25));
    CHECK (text && s_sample (text, "pm_consumer_lag_events{service=\"mirror\",source=\"patients\"} ") == 0);
    free (text);
    pm_client_destroy (&pc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

static const itest_case_t s_cases[] = {
    {"metrics_for_prometheus", s_test_metrics},
    {"backup_while_writing_restore_rebuilds", s_test_backup_restore},
    {"sigterm_finishes_batch_loses_nothing", s_test_sigterm_graceful},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
