/*  fault.c: the fault suites' load driver and history checker (see
    fault.h).                                                             */
#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"

#define RESEND_MS 400   //  an unanswered try is sent again after this
#define RETRY_MS 100    //  a retryable refusal is sent again after this
#define PROBLEMS_SHOWN 12

static bool s_quiet;      //  the checker's self-test: problems expected

//  --------------------------------------------------------------------------
//  The run's seed, printed so that it can be replayed.
uint64_t
fault_seed (const char *suite)
{
    const char *env = getenv ("FAULT_SEED");
    uint64_t seed;
    if (env && *env) {
        seed = strtoull (env, NULL, 10);
    }
    else {
        struct timespec ts;
        clock_gettime (CLOCK_REALTIME, &ts);
        seed = ((uint64_t) ts.tv_sec * 1000003u) ^ (uint64_t) ts.tv_nsec;
        seed %= 1000000000u;
    }
    printf ("    %s: seed %llu (FAULT_SEED=%llu replays it)\n", suite,
            (unsigned long long) seed, (unsigned long long) seed);
    fflush (stdout);
    return seed;
}

//  --------------------------------------------------------------------------
//  Seeds a random source.
void
fault_rng_init (fault_rng_t *rng, uint64_t seed)
{
    rng->s = seed * 0x9E3779B97F4A7C15ULL + 1;
}

//  xorshift64*: small, fast, and the same on every machine.
uint64_t
fault_rand (fault_rng_t *rng, uint64_t n)
{
    rng->s ^= rng->s >> 12;
    rng->s ^= rng->s << 25;
    rng->s ^= rng->s >> 27;
    uint64_t v = rng->s * 0x2545F4914F6CDD1DULL;
    return n ? v % n : v;
}

//  --------------------------------------------------------------------------
//  Prints the service log's last warnings and errors.
void
fault_show_log (const itest_svc_t *svc, int max)
{
    FILE *f = fopen (svc->log, "r");
    if (!f) {
        return;
    }
    char (*lines)[512] = calloc ((size_t) max, 512);
    char line[512];
    int n = 0;
    while (fgets (line, sizeof line, f)) {
        if (strstr (line, "\"level\":\"error\"") || strstr (line, "\"level\":\"warn\"")) {
            snprintf (lines[n++ % max], 512, "%s", line);
        }
    }
    fclose (f);
    for (int i = n > max ? n - max : 0; i < n; i++) {
        fprintf (stderr, "    %s log: %s", svc->service, lines[i % max]);
    }
    free (lines);
}

//  --------------------------------------------------------------------------
//  The high seq of a service's stream.
uint64_t
fault_high_seq (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  --------------------------------------------------------------------------
//  A follower's cursor once it reaches `seq` (bounded wait).
uint64_t
fault_cursor_wait (pm_client_t *client, const char *source, uint64_t seq, int ms)
{
    int64_t until = itest_now () + ms;
    uint64_t cursor = 0;
    for (;;) {
        Pm__Health *h = itest_health (client);
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            if (strcmp (h->consumers[i]->source, source) == 0) {
                cursor = h->consumers[i]->cursor;
            }
        }
        pm__health__free_unpacked (h, NULL);
        if (cursor == seq || itest_now () >= until) {
            return cursor;
        }
        zclock_sleep (50);
    }
}

//  --- the load driver -------------------------------------------------------

//  A user: one command in flight at a time.
typedef struct {
    pm_client_t *client;
    void *model;
    char type[64];
    uint8_t *body;
    size_t len;
    uint64_t request_id;  //  in flight; 0 = none
    int64_t resend_at;    //  when to send it again if unanswered
    int64_t next_at;      //  a paced user's next command, when idle
} s_user_t;

struct _fault_load_t {
    const fault_workload_t *w;
    s_user_t *users;
    int n_users;
    zpoller_t *poller;
    fault_rng_t rng;
    fault_history_t history;
    bool draining;
    int pace_ms;          //  wait between a user's commands
};

//  --------------------------------------------------------------------------
//  Makes the users, each with its client and its model.
fault_load_t *
fault_load_new (const fault_workload_t *w, itest_svc_t *svc, int users,
                uint64_t seed)
{
    fault_load_t *self = calloc (1, sizeof *self);
    self->w = w;
    self->n_users = users;
    self->users = calloc ((size_t) users, sizeof *self->users);
    self->poller = zpoller_new (NULL);
    fault_rng_init (&self->rng, seed);
    for (int i = 0; i < users; i++) {
        self->users[i].client = itest_client (svc);
        self->users[i].model = w->model_new (i);
        zpoller_add (self->poller, pm_client_sock (self->users[i].client));
    }
    return self;
}

//  --------------------------------------------------------------------------
//  Closes the clients and frees the history.
void
fault_load_destroy (fault_load_t **self_p)
{
    fault_load_t *self = *self_p;
    if (!self) {
        return;
    }
    for (int i = 0; i < self->n_users; i++) {
        pm_client_destroy (&self->users[i].client);
        self->w->model_destroy (self->users[i].model);
        free (self->users[i].body);
    }
    for (size_t i = 0; i < self->history.n; i++) {
        free (self->history.acks[i].reply);
    }
    free (self->history.acks);
    zpoller_destroy (&self->poller);
    free (self->users);
    free (self);
    *self_p = NULL;
}

//  --------------------------------------------------------------------------
//  What was acknowledged so far.
const fault_history_t *
fault_load_history (fault_load_t *self)
{
    return &self->history;
}

//  Sends the user's command (again, with the same request id, if it was
//  sent before).
static void
s_send (s_user_t *u)
{
    u->request_id = pm_client_send (u->client, u->request_id, u->type, u->body,
                                    u->len);
    u->resend_at = itest_now () + RESEND_MS;
}

//  Makes and sends the user's next command.
static void
s_start (fault_load_t *self, s_user_t *u)
{
    self->w->next (u->model, &self->rng, u->type, &u->body, &u->len);
    s_send (u);
}

//  Ends the user's command; starts the next one (a paced user: later).
static void
s_next (fault_load_t *self, s_user_t *u)
{
    free (u->body);
    u->body = NULL;
    u->request_id = 0;
    if (self->draining) {
        return;
    }
    if (self->pace_ms > 0) {
        u->next_at = itest_now () + self->pace_ms;
        return;
    }
    s_start (self, u);
}

//  Codes that may go away (store full, shutting down, I/O): the same
//  request is sent again. Any other refusal is final.
static bool
s_retryable (int code)
{
    return code == PM__CODE__EFULL || code == PM__CODE__EUNAVAILABLE
           || code == PM__CODE__EINTERNAL || code == PM__CODE__ETIMEDOUT;
}

//  A reply for user `u`.
static void
s_on_reply (fault_load_t *self, s_user_t *u, Pm__Reply *reply)
{
    if (!u->request_id || reply->request_id != u->request_id) {
        return; //  a late answer to an earlier try
    }
    fault_history_t *h = &self->history;
    if (reply->code == PM__CODE__OK) {
        if (h->n == h->cap) {
            h->cap = h->cap ? h->cap * 2 : 1024;
            h->acks = realloc (h->acks, h->cap * sizeof *h->acks);
        }
        fault_ack_t *ack = &h->acks[h->n++];
        memset (ack, 0, sizeof *ack);
        snprintf (ack->causation, sizeof ack->causation, "%s/%llu",
                  pm_client_id (u->client), (unsigned long long) u->request_id);
        snprintf (ack->type, sizeof ack->type, "%s", u->type);
        self->w->acked (u->model, u->type, reply, ack->subject);
        if (reply->has_body && self->w->reply_state) {
            ack->reply = self->w->reply_state (u->type, reply, &ack->reply_len);
        }
        else if (reply->has_body) {
            ack->reply = malloc (reply->body.len ? reply->body.len : 1);
            memcpy (ack->reply, reply->body.data, reply->body.len);
            ack->reply_len = reply->body.len;
        }
        s_next (self, u);
    }
    else if (s_retryable (reply->code)) {
        h->resent++;
        u->resend_at = itest_now () + RETRY_MS;
    }
    else if (self->w->refusal_ok && self->w->refusal_ok (u->model, u->type, reply)) {
        h->declined++;
        s_next (self, u);
    }
    else {
        h->refused++;
        if (h->refused <= 5) {
            fprintf (stderr, "    refused: %s: %s %s\n", u->type,
                     pm_err_name ((pm_err) reply->code),
                     reply->message ? reply->message : "");
        }
        s_next (self, u);
    }
}

//  One poll: replies, then resends of what went unanswered.
static void
s_poll (fault_load_t *self, int ms)
{
    zsock_t *which = zpoller_wait (self->poller, ms);
    for (int i = 0; which && i < self->n_users; i++) {
        s_user_t *u = &self->users[i];
        Pm__Reply *reply;
        while ((reply = pm_client_recv (u->client, 0)) != NULL) {
            s_on_reply (self, u, reply);
            pm__reply__free_unpacked (reply, NULL);
        }
    }
    int64_t now = itest_now ();
    for (int i = 0; i < self->n_users; i++) {
        s_user_t *u = &self->users[i];
        if (u->request_id && now >= u->resend_at) {
            self->history.resent++;
            s_send (u);
        }
        else if (!u->request_id && !u->body && !self->draining && self->pace_ms > 0
                 && now >= u->next_at) {
            s_start (self, u);
        }
    }
}

//  --------------------------------------------------------------------------
//  Paces the users.
void
fault_load_pace (fault_load_t *self, int ms)
{
    self->pace_ms = ms;
}

//  --------------------------------------------------------------------------
//  One step beside another load: never blocks.
void
fault_load_step (fault_load_t *self)
{
    for (int i = 0; i < self->n_users && !self->draining; i++) {
        s_user_t *u = &self->users[i];
        if (!u->request_id && !u->body && itest_now () >= u->next_at) {
            s_start (self, u);
        }
    }
    s_poll (self, 0);
}

//  --------------------------------------------------------------------------
//  Keeps every user busy for `ms`, calling the fault injector between polls.
void
fault_load_run (fault_load_t *self, int ms, fault_tick_fn *tick, void *arg)
{
    for (int i = 0; i < self->n_users; i++) {
        if (!self->users[i].request_id) {
            s_next (self, &self->users[i]);
        }
    }
    int64_t until = itest_now () + ms;
    while (itest_now () < until) {
        s_poll (self, 20);
        if (tick) {
            tick (arg);
        }
    }
}

//  --------------------------------------------------------------------------
//  Waits until every command in flight is answered, resending.
int
fault_load_drain (fault_load_t *self, int ms)
{
    self->draining = true;
    int64_t until = itest_now () + ms;
    for (;;) {
        int busy = 0;
        for (int i = 0; i < self->n_users; i++) {
            busy += self->users[i].request_id != 0;
        }
        if (busy == 0) {
            return 0;
        }
        if (itest_now () >= until) {
            fprintf (stderr, "    %d commands still unanswered\n", busy);
            return -1;
        }
        s_poll (self, 50);
    }
}

//  --- the checker -------------------------------------------------------------

static void
s_problem (int *problems, const char *fmt, ...) __attribute__ ((format (printf, 2, 3)));

//  --------------------------------------------------------------------------
//  Reports one problem (the first few in full).
static void
s_problem (int *problems, const char *fmt, ...)
{
    if (++*problems <= PROBLEMS_SHOWN && !s_quiet) {
        va_list args;
        va_start (args, fmt);
        fprintf (stderr, "    history: ");
        vfprintf (stderr, fmt, args);
        fprintf (stderr, "\n");
        va_end (args);
    }
}

//  The events of one command: where they start in the stream, how many.
typedef struct {
    long first;
    long count;
    bool contiguous;
    bool acked;
    bool own;           //  every event of it the service's own doing
} s_group_t;

//  --------------------------------------------------------------------------
//  Frees a group of events (zhashx destructor).
static void
s_group_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------
//  Turns the printing of problems off and on.
void
fault_check_quiet (bool quiet)
{
    s_quiet = quiet;
}

//  --------------------------------------------------------------------------
//  Frees what fault_check_history filled in.
void
fault_stream_free (fault_stream_t *stream)
{
    free (stream->subjects);
    memset (stream, 0, sizeof *stream);
}

//  --------------------------------------------------------------------------
//  True when events of `type` carry a record's state.
static bool
s_is_state (const fault_workload_t *w, const char *type)
{
    if (!type) {
        return false;
    }
    if (w->is_state) {
        return w->is_state (type);
    }
    return strncmp (type, w->state_events, strlen (w->state_events)) == 0;
}

//  A record read back.
typedef struct {
    uint8_t *data;
    size_t len;
    bool read;          //  answered OK
} s_record_t;

//  A read in flight.
typedef struct {
    size_t subject;
    uint64_t request_id;
    char type[64];
    uint8_t *body;
    size_t len;
} s_read_t;

#define READS_IN_FLIGHT 128
#define READ_RESEND_MS 3000
#define READ_ALL_MS 120000

//  --------------------------------------------------------------------------
//  Reads every subject's record back, many requests in flight at once (a
//  read that touches a person waits for its audit entry's commit: one by
//  one, that is a commit each). Returns one record per subject (caller
//  frees each data and the array); one left unanswered is not `read`.
static s_record_t *
s_read_back (const fault_workload_t *w, pm_client_t *client,
             char (*subjects)[PM_ID_MAX], size_t n)
{
    s_record_t *records = calloc (n + 1, sizeof *records);
    s_read_t flight[READS_IN_FLIGHT];
    size_t busy = 0, next = 0;
    int64_t until = itest_now () + READ_ALL_MS;
    int64_t resend_at = itest_now () + READ_RESEND_MS;
    while ((next < n || busy > 0) && itest_now () < until) {
        while (busy < READS_IN_FLIGHT && next < n) {
            s_read_t *r = &flight[busy++];
            r->subject = next;
            w->read (subjects[next++], r->type, &r->body, &r->len);
            r->request_id = pm_client_send (client, 0, r->type, r->body, r->len);
        }
        Pm__Reply *reply = pm_client_recv (client, 200);
        if (!reply) {
            if (itest_now () >= resend_at) {
                //  Unanswered (the service is slow): the same reads again.
                for (size_t i = 0; i < busy; i++) {
                    pm_client_send (client, flight[i].request_id, flight[i].type,
                                    flight[i].body, flight[i].len);
                }
                resend_at = itest_now () + READ_RESEND_MS;
            }
            continue;
        }
        for (size_t i = 0; i < busy; i++) {
            if (flight[i].request_id != reply->request_id) {
                continue;
            }
            s_record_t *rec = &records[flight[i].subject];
            rec->read = reply->code == PM__CODE__OK;
            if (rec->read) {
                rec->len = reply->body.len;
                rec->data = malloc (rec->len ? rec->len : 1);
                memcpy (rec->data, reply->body.data, rec->len);
            }
            free (flight[i].body);
            flight[i] = flight[--busy];
            resend_at = itest_now () + READ_RESEND_MS;
            break;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
    for (size_t i = 0; i < busy; i++) {
        free (flight[i].body);
    }
    return records;
}

//  --------------------------------------------------------------------------
//  The history checker (see fault.h).
int
fault_check_history (const fault_workload_t *w, pm_client_t *client,
                     const fault_history_t *history, fault_stream_t *out)
{
    int problems = 0;
    memset (out, 0, sizeof *out);
    Pm__Event **events = NULL;
    long n = itest_read_stream (client, &events);
    if (n < 0) {
        s_problem (&problems, "the stream cannot be read");
        return problems;
    }
    out->high_seq = (uint64_t) n;

    //  Gap-free, one stream, ids that say where they are.
    zhashx_t *groups = zhashx_new (); //  causation -> s_group_t
    zhashx_set_destructor (groups, s_group_free);
    for (long i = 0; i < n; i++) {
        Pm__Event *ev = events[i];
        char id[160];
        snprintf (id, sizeof id, "%s.%llu", ev->stream_id ? ev->stream_id : "",
                  (unsigned long long) ev->seq);
        if (ev->seq != (uint64_t) i + 1) {
            s_problem (&problems, "event %ld has seq %llu: the stream has a gap",
                       i + 1, (unsigned long long) ev->seq);
        }
        if (!ev->stream_id || strcmp (ev->stream_id, events[0]->stream_id) != 0) {
            s_problem (&problems, "event %ld is of another stream", i + 1);
        }
        if (!ev->id || strcmp (ev->id, id) != 0) {
            s_problem (&problems, "event %ld has id %s", i + 1, ev->id ? ev->id : "-");
        }
        const char *cause = ev->causation_id ? ev->causation_id : "";
        s_group_t *g = zhashx_lookup (groups, cause);
        if (!g) {
            g = calloc (1, sizeof *g);
            g->first = i;
            g->contiguous = true;
            g->own = w->own_event != NULL;
            zhashx_insert (groups, cause, g);
        }
        else if (g->first + g->count != i) {
            g->contiguous = false;
        }
        g->own = g->own && w->own_event (ev);
        g->count++;
    }

    //  Every acknowledged write: its events, once, contiguous, about its
    //  subject, carrying the state its reply gave.
    for (size_t a = 0; a < history->n; a++) {
        const fault_ack_t *ack = &history->acks[a];
        s_group_t *g = zhashx_lookup (groups, ack->causation);
        if (!g) {
            s_problem (&problems, "acknowledged %s %s (%s) is not in the stream",
                       ack->type, ack->subject, ack->causation);
            continue;
        }
        if (g->acked) {
            s_problem (&problems, "%s was acknowledged twice", ack->causation);
        }
        g->acked = true;
        if (!g->contiguous
            || (w->events_per_command && g->count != w->events_per_command)) {
            s_problem (&problems, "%s %s has %ld events%s: applied more than once?",
                       ack->type, ack->causation, g->count,
                       g->contiguous ? "" : ", not together");
        }
        //  The command's (last) event about the record the reply names.
        Pm__Event *last = events[g->first + g->count - 1];
        for (long i = g->first + g->count - 1; ack->subject[0] && i >= g->first; i--) {
            if (events[i]->subject && strcmp (events[i]->subject, ack->subject) == 0) {
                last = events[i];
                break;
            }
        }
        if (ack->subject[0] && (!last->subject || strcmp (last->subject, ack->subject) != 0)) {
            s_problem (&problems, "%s: the events are about %s, the reply about %s",
                       ack->causation, last->subject ? last->subject : "-",
                       ack->subject);
        }
        if (s_is_state (w, last->type) && ack->reply
            && (last->data.len != ack->reply_len
                || memcmp (last->data.data, ack->reply, ack->reply_len) != 0)) {
            s_problem (&problems, "%s: the event's data is not the state the "
                                  "reply acknowledged", ack->causation);
        }
    }
    //  Nothing happened that nobody was told about (but what the service
    //  does on its own).
    for (s_group_t *g = zhashx_first (groups); g; g = zhashx_next (groups)) {
        if (!g->acked && g->own) {
            out->own_events += (uint64_t) g->count;
            continue;
        }
        if (!g->acked && (uint64_t) g->first >= history->setup_events) {
            s_problem (&problems, "events %ld.. (%s) come from a write that was "
                                  "never acknowledged",
                       g->first + 1, (const char *) zhashx_cursor (groups));
        }
    }

    //  Each record: versions 1, 2, 3, ... and the last one is what is stored.
    zhashx_t *last = zhashx_new (); //  subject -> index of its last event + 1
    out->subjects = calloc ((size_t) n + 1, PM_ID_MAX);
    for (long i = 0; i < n; i++) {
        Pm__Event *ev = events[i];
        if (!ev->subject || !s_is_state (w, ev->type)) {
            continue;
        }
        long prev = (long) (intptr_t) zhashx_lookup (last, ev->subject) - 1;
        uint64_t version = w->version (ev->data.data, ev->data.len);
        uint64_t before = prev >= 0 ? w->version (events[prev]->data.data,
                                                  events[prev]->data.len)
                                    : 0;
        uint64_t step = w->version_step ? w->version_step (ev) : 1;
        if (version != before + step) {
            s_problem (&problems, "%s goes from version %llu to %llu at seq %llu",
                       ev->subject, (unsigned long long) before,
                       (unsigned long long) version, (unsigned long long) ev->seq);
        }
        out->state_events++;
        if (prev < 0) {
            snprintf (out->subjects[out->n_subjects++], PM_ID_MAX, "%s", ev->subject);
        }
        zhashx_update (last, ev->subject, (void *) (intptr_t) (i + 1));
    }
    s_record_t *records = s_read_back (w, client, out->subjects, out->n_subjects);
    for (size_t s = 0; s < out->n_subjects; s++) {
        const char *subject = out->subjects[s];
        Pm__Event *ev = events[(intptr_t) zhashx_lookup (last, subject) - 1];
        out->version_sum += w->version (ev->data.data, ev->data.len);
        const s_record_t *r = &records[s];
        if (!r->read) {
            s_problem (&problems, "%s cannot be read back", subject);
        }
        else if (r->len != ev->data.len || memcmp (r->data, ev->data.data, r->len) != 0) {
            s_problem (&problems, "%s as stored is not its last event (seq %llu)",
                       subject, (unsigned long long) ev->seq);
        }
        free (r->data);
    }
    free (records);
    if (problems > PROBLEMS_SHOWN && !s_quiet) {
        fprintf (stderr, "    history: ... %d problems in all\n", problems);
    }
    zhashx_destroy (&last);
    zhashx_destroy (&groups);
    for (long i = 0; i < n; i++) {
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    return problems;
}

//  --- the test consumer ---------------------------------------------------------

//  --------------------------------------------------------------------------
//  The mirror's stats, NULL when it does not answer.
static Pm__Test__MirrorStats *
s_mirror_stats (pm_client_t *mirror)
{
    Pm__Reply *reply = itest_call (mirror, "mirror.Stats", NULL);
    Pm__Test__MirrorStats *stats = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        stats = pm__test__mirror_stats__unpack (NULL, reply->body.len, reply->body.data);
    }
    pm__reply__free_unpacked (reply, NULL);
    return stats;
}

Pm__Test__MirrorStats *
fault_mirror_wait (pm_client_t *mirror, const fault_stream_t *stream, int ms)
{
    uint64_t high_seq = stream->high_seq;
    int64_t until = itest_now () + ms;
    Pm__Test__MirrorStats *stats = NULL;
    uint64_t cursor = 0;
    for (;;) {
        Pm__Health *h = itest_health (mirror);
        cursor = h && h->n_consumers == 1 ? h->consumers[0]->cursor : 0;
        pm__health__free_unpacked (h, NULL);
        stats = s_mirror_stats (mirror);
        if (stats && cursor >= high_seq && stats->applied >= stream->state_events) {
            return stats;
        }
        if (itest_now () >= until) {
            fprintf (stderr, "    mirror: cursor %llu, applied %llu, wanted %llu\n",
                     (unsigned long long) cursor,
                     (unsigned long long) (stats ? stats->applied : 0),
                     (unsigned long long) high_seq);
            pm__test__mirror_stats__free_unpacked (stats, NULL);
            return NULL;
        }
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        zclock_sleep (50);
    }
}

//  --------------------------------------------------------------------------
//  The mirror's entry for `id`, NULL when it has none.
static Pm__Test__MirrorEntry *
s_mirror_get (pm_client_t *mirror, const char *id)
{
    Pm__Test__MirrorGet get = PM__TEST__MIRROR_GET__INIT;
    get.id = (char *) id;
    Pm__Reply *reply = itest_call (mirror, "mirror.Get", &get.base);
    Pm__Test__MirrorEntry *entry = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        entry = pm__test__mirror_entry__unpack (NULL, reply->body.len, reply->body.data);
    }
    pm__reply__free_unpacked (reply, NULL);
    return entry;
}

//  --------------------------------------------------------------------------
//  Compares a mirror with the stream and with a fresh replay.
int
fault_mirror_check (pm_client_t *mirror, pm_client_t *fresh,
                    const fault_stream_t *stream, size_t sample, fault_rng_t *rng)
{
    int problems = 0;
    Pm__Test__MirrorStats *a = s_mirror_stats (mirror);
    Pm__Test__MirrorStats *b = s_mirror_stats (fresh);
    if (!a || !b) {
        s_problem (&problems, "a mirror does not answer mirror.Stats");
    }
    else {
        //  Both against the stream, and each other.
        Pm__Test__MirrorStats *both[] = {a, b};
        const char *name[] = {"the mirror", "a fresh replay"};
        for (int i = 0; i < 2; i++) {
            Pm__Test__MirrorStats *s = both[i];
            if (s->applied != stream->state_events || s->duplicates != 0
                || s->patients != stream->n_subjects
                || s->version_sum != stream->version_sum || s->rebuilds != 0) {
                s_problem (&problems,
                           "%s: applied %llu duplicates %llu records %llu version sum "
                           "%llu rebuilds %llu; the stream: %llu record events, %zu "
                           "records, version sum %llu",
                           name[i], (unsigned long long) s->applied,
                           (unsigned long long) s->duplicates,
                           (unsigned long long) s->patients,
                           (unsigned long long) s->version_sum,
                           (unsigned long long) s->rebuilds,
                           (unsigned long long) stream->state_events, stream->n_subjects,
                           (unsigned long long) stream->version_sum);
            }
        }
    }
    //  Record by record: everything when it is small, else a sample.
    size_t n = stream->n_subjects;
    size_t checks = sample == 0 || n <= sample ? n : sample;
    for (size_t i = 0; i < checks; i++) {
        const char *id = stream->subjects[checks == n ? i : fault_rand (rng, n)];
        Pm__Test__MirrorEntry *x = s_mirror_get (mirror, id);
        Pm__Test__MirrorEntry *y = s_mirror_get (fresh, id);
        if (!x || !y || x->version != y->version || x->events != y->events) {
            s_problem (&problems, "%s: the mirror has version %llu after %llu events, "
                                  "a fresh replay %llu after %llu",
                       id, (unsigned long long) (x ? x->version : 0),
                       (unsigned long long) (x ? x->events : 0),
                       (unsigned long long) (y ? y->version : 0),
                       (unsigned long long) (y ? y->events : 0));
        }
        pm__test__mirror_entry__free_unpacked (x, NULL);
        pm__test__mirror_entry__free_unpacked (y, NULL);
    }
    pm__test__mirror_stats__free_unpacked (a, NULL);
    pm__test__mirror_stats__free_unpacked (b, NULL);
    return problems;
}
