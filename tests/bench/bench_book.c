/*  bench_book.c: durable throughput and latency of scheduling.Book, with
    real conflicts, through the real services (issue 4, item 12).

    The world: the real pm-staffing, pm-patients and pm-scheduling on
    loopback (CURVE on, default durable store settings). Staffing gets one
    site (America/New_York), 500 physicians rostered 08:00-18:00 local on
    the forty weekdays 2031-01-06 .. 2031-02-28 (EST: 13:00-23:00 UTC);
    patients gets 300 patients; scheduling a 20-minute type with no buffer
    and no room. The setup commands are pipelined (up to PIPE requests in
    flight per client) so it takes seconds; then the benchmark waits until
    scheduling has applied both streams (pm.Health: every consumer's
    cursor at the producer's high seq, not catching up).

    Then, for 1, 8, 32 and 128 clients (each its own DEALER and client_id,
    exactly one request outstanding, all driven from this one thread by
    zmq_poll), each client books a random patient with a random one of the
    500 practitioners on a random day at a random start on the 5-minute
    grid inside the shift. Starts 5 minutes apart overlap a 20-minute
    visit, so requests really collide: ECONFLICT replies ("already
    booked or held then") are counted apart from errors; a conflict for
    any other reason (outside working hours...) is an error. The rows run one after the
    other on the same world (the calendar fills as it goes, so later rows
    see more conflicts: with eight weeks the 128-client row meets about
    one conflict in six, as a busy front desk would; with two weeks it
    was one in two, and most requests were cheap refusals); each has a 500 ms warm-up and a BENCH_SECONDS
    (default 3) window.

    How to read the output, one row per client count:
      req/s       answered Book requests (booked + conflict) in the window
                  per second: the figure the target is about
      booked/s    of which booked
      p50, p99    latency in ms, send -> reply, every answered request
      conflict %  ECONFLICT replies / answered requests
      req/commit  write requests per LMDB commit, from pm.Health (requests,
                  batches) read at the window's edges
      errors      any other reply, plus replies that never came (5 s);
                  any makes the exit status 1
    The last line compares with the target. Missing it does not change the
    exit status: this is a benchmark, not a test.

    BENCH_PROFILE=1 (make profile-book) runs one row of 64 clients with
    scheduling under callgrind and prints the window's request count, for
    instructions per Book.                                                  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"
#include "patients_schema.h"
#include "scheduling.pb-c.h"
#include "scheduling_schema.h"
#include "staffing_schema.h"

#define PRACTITIONERS 500
#define PATIENTS 300
#define PIPE 64                    //  setup requests in flight
#define WARMUP_US 500000LL
#define REPLY_LIMIT_US 5000000LL
#define SYNC_LIMIT_MS 60000        //  for scheduling to catch up
#define MAX_CLIENTS 128
#define ERRORS_SHOWN 5
#define DAY_MS 86400000LL
#define MINUTE_MS 60000LL
#define DUR_MIN 20
#define DAYS 40                    //  weekdays rostered (eight weeks)

typedef struct {
    pm_client_t *client;
    uint64_t pending;        //  request id outstanding, 0 = idle
    int64_t sent_us;
} s_slot_t;

typedef struct {
    int64_t *us;
    size_t n, cap;
} s_lat_t;

typedef struct {
    int clients;
    double rate, booked_rate;
    double p50, p99;
    double conflict_pct;
    double per_commit;
    long errors, lost;
    bool failed;
} s_row_t;

static char s_staff[PRACTITIONERS][PM_ID_MAX];
static char s_patients[PATIENTS][PM_ID_MAX];
static char s_type[PM_ID_MAX];
static int64_t s_days[DAYS];       //  13:00 UTC (08:00 EST) of each weekday
static int64_t s_seconds = 3;
static uint64_t s_rng = 0x9e3779b97f4a7c15ULL;

//  --------------------------------------------------------------------------
//  Microseconds on the monotonic clock.
static int64_t
s_now_us (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t) ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

//  --------------------------------------------------------------------------
//  A 64-bit xorshift*: reproducible choices.
static uint64_t
s_rand (void)
{
    s_rng ^= s_rng >> 12;
    s_rng ^= s_rng << 25;
    s_rng ^= s_rng >> 27;
    return s_rng * 2685821657736338717ULL;
}

//  --------------------------------------------------------------------------
//  Appends one latency sample.
static void
s_lat_add (s_lat_t *lat, int64_t us)
{
    if (lat->n == lat->cap) {
        lat->cap = lat->cap ? lat->cap * 2 : 65536;
        lat->us = realloc (lat->us, lat->cap * sizeof *lat->us);
        if (!lat->us) {
            abort ();
        }
    }
    lat->us[lat->n++] = us;
}

//  --------------------------------------------------------------------------
//  Orders int64_t samples for qsort.
static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  --------------------------------------------------------------------------
//  The q-quantile (nearest rank) in ms of sorted samples; 0 when none.
static double
s_quantile (const s_lat_t *lat, double q)
{
    if (lat->n == 0) {
        return 0;
    }
    size_t rank = (size_t) (q * (double) lat->n + 0.999999);
    rank = rank < 1 ? 1 : rank > lat->n ? lat->n : rank;
    return (double) lat->us[rank - 1] / 1000.0;
}

//  --------------------------------------------------------------------------
//  The command definition of `type` in the three services' schemas.
static const pm_command_def_t *
s_def (const char *type)
{
    const pm_schema_t *all[] = {&scheduling_schema, &staffing_schema, &patients_schema};
    for (int i = 0; i < 3; i++) {
        const pm_command_def_t *d = pm_schema_command (all[i], type);
        if (d) {
            return d;
        }
    }
    return NULL;
}

//  Writes the JSON body of setup request `i` into `text`.
typedef void (s_body_fn) (int i, char *text, size_t len);

//  --------------------------------------------------------------------------
//  Sends `n` requests of `type` (bodies from `body`) with up to PIPE in
//  flight and waits for every reply; each must be OK. With `ids`, request
//  i's reply "id" goes to ids[i]. 0, or -1 (what failed is printed).
static int
s_pipeline (pm_client_t *client, const char *type, int n, s_body_fn *body,
            char (*ids)[PM_ID_MAX])
{
    const pm_command_def_t *def = s_def (type);
    if (!def || !def->request) {
        fprintf (stderr, "bench_book: no command %s\n", type);
        return -1;
    }
    uint64_t inflight[PIPE] = {0};
    int which[PIPE];
    int sent = 0, done = 0, rc = 0;
    int64_t limit = s_now_us () + 60 * 1000000LL;
    while (done < n && rc == 0) {
        for (int k = 0; k < PIPE && sent < n; k++) {
            if (inflight[k]) {
                continue;
            }
            char text[4096], err[256];
            uint8_t *buf = NULL;
            size_t len = 0;
            body (sent, text, sizeof text);
            if (pm_json_to_pb (def->request, text, strlen (text), &buf, &len, err,
                               sizeof err) != PM_OK) {
                fprintf (stderr, "bench_book: bad JSON for %s: %s\n", type, err);
                return -1;
            }
            inflight[k] = pm_client_send (client, 0, type, buf, len);
            which[k] = sent++;
            free (buf);
        }
        Pm__Reply *reply = pm_client_recv (client, 1000);
        if (!reply) {
            if (s_now_us () > limit) {
                fprintf (stderr, "bench_book: %s: replies stopped coming\n", type);
                rc = -1;
            }
            continue;
        }
        for (int k = 0; k < PIPE; k++) {
            if (!inflight[k] || inflight[k] != reply->request_id) {
                continue;
            }
            if (reply->code != PM__CODE__OK) {
                fprintf (stderr, "bench_book: %s #%d: %s %s\n", type, which[k],
                         pm_err_name ((pm_err) reply->code),
                         reply->message ? reply->message : "");
                rc = -1;
            }
            else if (ids) {
                json_t *j = def->reply ? pm_json_from_pb (def->reply, reply->body.data,
                                                          reply->body.len)
                                       : NULL;
                const char *id = json_string_value (json_object_get (j, "id"));
                snprintf (ids[which[k]], PM_ID_MAX, "%s", id ? id : "");
                json_decref (j);
            }
            inflight[k] = 0;
            done++;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Body of staffing.Onboard number i: a physician at north.
static void
s_onboard_body (int i, char *text, size_t len)
{
    snprintf (text, len,
              "{\"staff\": {\"name\": {\"family\": \"Doctor%d\", \"given\": [\"Jo\"]}, "
              "\"employment_type\": \"FULL_TIME\", \"pay_rate_minor\": 5000, "
              "\"currency\": \"USD\", \"roles\": [\"physician\"], \"sites\": [{\"site_id\": "
              "\"north\", \"fte_permille\": 1000}], \"start_date\": \"2029-01-01\"}}", i);
}

static char s_template[PM_ID_MAX];

//  --------------------------------------------------------------------------
//  Body of staffing.AddShifts number i: practitioner i's two weeks.
static void
s_shifts_body (int i, char *text, size_t len)
{
    snprintf (text, len,
              "{\"template_id\": \"%s\", \"from_date\": \"2031-01-06\", \"to_date\": "
              "\"2031-02-28\", \"weekdays\": [1, 2, 3, 4, 5], \"staff_id\": \"%s\"}",
              s_template, s_staff[i]);
}

//  --------------------------------------------------------------------------
//  Body of patients.Register number i.
static void
s_patient_body (int i, char *text, size_t len)
{
    snprintf (text, len,
              "{\"patient\": {\"name\": {\"family\": \"Patient%d\", \"given\": [\"Ana\"]}, "
              "\"birth_date\": \"19%02d-%02d-%02d\", \"home_site\": \"north\"}}",
              i, 30 + i % 70, 1 + i % 12, 1 + i % 28);
}

//  --------------------------------------------------------------------------
//  The high seq of a service's stream (0 when it does not answer).
static uint64_t
s_high_seq (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  --------------------------------------------------------------------------
//  Waits until scheduling has applied everything staffing and patients
//  have published (consumer lag 0). True when it has, within the limit.
static bool
s_synced (pm_client_t *sched, pm_client_t *staffing, pm_client_t *patients)
{
    uint64_t want_s = s_high_seq (staffing), want_p = s_high_seq (patients);
    int64_t until = itest_now () + SYNC_LIMIT_MS;
    while (itest_now () < until) {
        Pm__Health *h = itest_health (sched);
        int done = 0;
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            const Pm__ConsumerLag *c = h->consumers[i];
            uint64_t want = strcmp (c->source, "staffing") == 0 ? want_s : want_p;
            done += c->cursor >= want && !c->catching_up;
        }
        pm__health__free_unpacked (h, NULL);
        if (done == 2) {
            return true;
        }
        zclock_sleep (20);
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Fills the three services. 0, or -1 (printed).
static int
s_setup (pm_client_t *stf, pm_client_t *pat, pm_client_t *sch)
{
    json_t *r = itest_req (stf, 0, NULL, "staffing.CreateSite",
                           "{\"site\": {\"id\": \"north\", \"name\": \"North Clinic\", "
                           "\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}}");
    if (!r) {
        return -1;
    }
    json_decref (r);
    r = itest_req (stf, 0, NULL, "staffing.CreateShiftTemplate",
                   "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                   "\"name\": \"Day\", \"starts\": \"08:00\", \"ends\": \"18:00\"}}");
    const char *tpl = r ? json_string_value (json_object_get (r, "id")) : NULL;
    snprintf (s_template, sizeof s_template, "%s", tpl ? tpl : "");
    json_decref (r);
    if (!s_template[0]
        || s_pipeline (stf, "staffing.Onboard", PRACTITIONERS, s_onboard_body, s_staff)
        || s_pipeline (stf, "staffing.AddShifts", PRACTITIONERS, s_shifts_body, NULL)
        || s_pipeline (pat, "patients.Register", PATIENTS, s_patient_body, s_patients)) {
        return -1;
    }
    r = itest_req (sch, 0, NULL, "scheduling.DefineType",
                   "{\"type\": {\"site_id\": \"north\", \"name\": \"Review\", "
                   "\"duration_minutes\": %d, \"buffer_minutes\": 0, \"practitioner_role\": "
                   "\"physician\", \"price_code\": \"rev-20\"}}", DUR_MIN);
    const char *type = r ? json_string_value (json_object_get (r, "id")) : NULL;
    snprintf (s_type, sizeof s_type, "%s", type ? type : "");
    json_decref (r);
    return s_type[0] ? 0 : -1;
}

//  One row being run.
typedef struct {
    s_slot_t slots[MAX_CLIENTS];
    int nslots;
    pm_client_t *health;
    uint64_t health_pending;
    int health_got;
    uint64_t requests[2], batches[2];
    s_lat_t lat;
    s_row_t *row;
    int64_t window_start, window_end;
    long booked, conflicts;     //  inside the window
} s_run_t;

//  --------------------------------------------------------------------------
//  Sends a Book of a random patient, practitioner, day and start.
static void
s_send_book (s_slot_t *slot)
{
    uint64_t r = s_rand ();
    //  A 10-hour shift holds 120 - 4 = 116 starts 5 minutes apart at which
    //  a 20-minute visit ends inside it.
    int64_t start = s_days[(r >> 8) % DAYS] + (int64_t) ((r >> 16) % 117) * 5 * MINUTE_MS;
    Pm__Scheduling__Book book = PM__SCHEDULING__BOOK__INIT;
    book.patient_id = s_patients[(r >> 32) % PATIENTS];
    book.type_id = s_type;
    book.practitioner_id = s_staff[(r >> 44) % PRACTITIONERS];
    book.has_start = 1;
    book.start = start;
    uint8_t buf[256];
    size_t len = pm__scheduling__book__pack (&book, buf);
    slot->sent_us = s_now_us ();
    slot->pending = pm_client_send (slot->client, 0, "scheduling.Book", buf, len);
}

//  --------------------------------------------------------------------------
//  Takes a pm.Health reply as snapshot 0 (window start) or 1 (end).
static void
s_on_health (s_run_t *run)
{
    Pm__Reply *reply;
    while ((reply = pm_client_recv (run->health, 0))) {
        if (reply->request_id == run->health_pending && run->health_got < 2) {
            Pm__Health *h = reply->code == PM__CODE__OK
                                ? pm__health__unpack (NULL, reply->body.len, reply->body.data)
                                : NULL;
            if (h) {
                run->requests[run->health_got] = h->requests;
                run->batches[run->health_got] = h->batches;
                pm__health__free_unpacked (h, NULL);
            }
            else {
                run->row->errors++;
            }
            run->health_got++;
            run->health_pending = 0;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Drains the replies waiting on `slot`: classifies, times, counts them.
static void
s_on_replies (s_run_t *run, s_slot_t *slot)
{
    Pm__Reply *reply;
    while ((reply = pm_client_recv (slot->client, 0))) {
        int64_t now = s_now_us ();
        bool in_window = now >= run->window_start && now < run->window_end;
        bool ours = slot->pending && reply->request_id == slot->pending;
        pm_err code = (pm_err) reply->code;
        //  The only conflict this workload should meet is a collision with
        //  another booking; any other reason (working hours...) is a fault.
        bool collision = code == PM_ECONFLICT && reply->message
                         && strstr (reply->message, "already booked");
        if (!ours || (code != PM_OK && !collision)) {
            if (run->row->errors < ERRORS_SHOWN) {
                fprintf (stderr, "  %d clients: reply %s to request %llu: %s\n",
                         run->row->clients, pm_err_name (code),
                         (unsigned long long) reply->request_id,
                         reply->message ? reply->message : "(no message)");
            }
            run->row->errors++;
        }
        else if (in_window) {
            run->booked += code == PM_OK;
            run->conflicts += collision;
            s_lat_add (&run->lat, now - slot->sent_us);
        }
        if (ours) {
            slot->pending = 0;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Profiling (BENCH_PROFILE=1, make profile-book): the scheduling
//  service runs under callgrind; its counters are zeroed at the window's
//  start and dumped at its end, so they count the window's Books only.
static pid_t s_profile_pid;

static void
s_profile_mark (int edge)
{
    if (s_profile_pid) {
        char cmd[96];
        snprintf (cmd, sizeof cmd, "callgrind_control %s %d >/dev/null",
                  edge == 0 ? "-z" : "-d", (int) s_profile_pid);
        if (system (cmd) != 0) {
            fprintf (stderr, "bench_book: %s failed\n", cmd);
        }
    }
}

//  --------------------------------------------------------------------------
//  Drives the clients until the window has closed and every reply is in.
//  False when a reply never came.
static bool
s_drive (s_run_t *run)
{
    int n = run->nslots;
    zmq_pollitem_t items[MAX_CLIENTS + 1];
    for (int i = 0; i < n; i++) {
        items[i] = (zmq_pollitem_t) {
            .socket = zsock_resolve (pm_client_sock (run->slots[i].client)),
            .events = ZMQ_POLLIN};
    }
    items[n] = (zmq_pollitem_t) {.socket = zsock_resolve (pm_client_sock (run->health)),
                                 .events = ZMQ_POLLIN};
    int64_t t0 = s_now_us ();
    run->window_start = t0 + WARMUP_US;
    run->window_end = run->window_start + s_seconds * 1000000;
    bool health_sent[2] = {false, false};
    int64_t last_check = t0;
    for (;;) {
        int64_t now = s_now_us ();
        for (int e = 0; e < 2; e++) {
            int64_t at = e == 0 ? run->window_start : run->window_end;
            if (!health_sent[e] && now >= at && run->health_pending == 0) {
                s_profile_mark (e);
                run->health_pending = pm_client_send (run->health, 0, "pm.Health", NULL, 0);
                health_sent[e] = true;
            }
        }
        int outstanding = 0;
        for (int i = 0; i < n; i++) {
            if (!run->slots[i].pending && now < run->window_end) {
                s_send_book (&run->slots[i]);
            }
            outstanding += run->slots[i].pending != 0;
        }
        if (now >= run->window_end && !outstanding && run->health_got == 2) {
            return true;
        }
        if (now - last_check >= 100000) {
            last_check = now;
            for (int i = 0; i < n; i++) {
                if (run->slots[i].pending && now - run->slots[i].sent_us > REPLY_LIMIT_US) {
                    run->row->lost++;
                }
            }
            if (now > run->window_end + REPLY_LIMIT_US && run->health_got < 2) {
                run->row->lost++;
            }
            if (run->row->lost) {
                fprintf (stderr, "  %d clients: %ld request(s) not answered in %lld s\n",
                         run->row->clients, run->row->lost, REPLY_LIMIT_US / 1000000);
                return false;
            }
        }
        int64_t wake = now + 100000;
        if (now < run->window_start && run->window_start < wake) {
            wake = run->window_start;
        }
        if (now < run->window_end && run->window_end < wake) {
            wake = run->window_end;
        }
        long timeout = (long) ((wake - now) / 1000);
        int rc = zmq_poll (items, n + 1, timeout > 0 ? timeout : 1);
        if (rc < 0) {
            return false;
        }
        for (int i = 0; i < n && rc > 0; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                s_on_replies (run, &run->slots[i]);
            }
        }
        if (rc > 0 && (items[n].revents & ZMQ_POLLIN)) {
            s_on_health (run);
        }
    }
}

//  --------------------------------------------------------------------------
//  Runs one row against the running scheduling service.
static void
s_run_row (s_row_t *row, itest_svc_t *sched)
{
    s_run_t *run = calloc (1, sizeof *run);
    if (!run) {
        abort ();
    }
    run->row = row;
    run->nslots = row->clients;
    bool ready = true;
    for (int i = 0; i < run->nslots; i++) {
        run->slots[i].client = pm_client_new ("scheduling", sched->commands, NULL);
        ready = ready && run->slots[i].client;
    }
    run->health = pm_client_new ("scheduling", sched->commands, NULL);
    ready = ready && run->health;
    row->failed = !ready || !s_drive (run);
    double secs = (double) s_seconds;
    long answered = run->booked + run->conflicts;
    row->rate = (double) answered / secs;
    row->booked_rate = (double) run->booked / secs;
    row->conflict_pct = answered ? 100.0 * (double) run->conflicts / (double) answered : 0;
    qsort (run->lat.us, run->lat.n, sizeof *run->lat.us, s_cmp_i64);
    row->p50 = s_quantile (&run->lat, 0.50);
    row->p99 = s_quantile (&run->lat, 0.99);
    if (run->health_got == 2 && run->batches[1] > run->batches[0]) {
        //  The second pm.Health counts itself among the requests.
        row->per_commit = (double) (run->requests[1] - run->requests[0] - 1)
                          / (double) (run->batches[1] - run->batches[0]);
    }
    for (int i = 0; i < run->nslots; i++) {
        pm_client_destroy (&run->slots[i].client);
    }
    pm_client_destroy (&run->health);
    free (run->lat.us);
    free (run);
}

//  --------------------------------------------------------------------------
//  Starts the world, fills it, runs every row, prints the table and target.
int
main (void)
{
    pm_log_init ("bench", "error");
    const char *env = getenv ("BENCH_SECONDS");
    if (env && atoll (env) > 0 && atoll (env) <= 20) {
        s_seconds = atoll (env);
    }
    //  2031-01-06 is a Monday; 13:00 UTC is 08:00 EST.
    int64_t monday = 1925424000000LL + 13 * 3600000LL;
    for (int d = 0; d < DAYS; d++) {
        s_days[d] = monday + (int64_t) (d / 5 * 7 + d % 5) * DAY_MS;
    }
    itest_svc_t staffing, patients, sched;
    itest_svc_init (&staffing, "staffing", "pm-staffing");
    itest_svc_init (&patients, "patients", "pm-patients");
    itest_svc_init (&sched, "scheduling", "pm-scheduling");
    pm_client_t *stf = NULL, *pat = NULL, *sch = NULL;
    bool bad = true;
    int64_t t0 = itest_now ();
    if (itest_start (&staffing) != 0 || itest_start (&patients) != 0) {
        fprintf (stderr, "bench_book: staffing or patients did not start\n");
        goto done;
    }
    itest_point_at (&sched, &staffing);
    itest_point_at (&sched, &patients);
    if (itest_start (&sched) != 0) {
        fprintf (stderr, "bench_book: scheduling did not start (log: %s)\n", sched.log);
        goto done;
    }
    stf = itest_client (&staffing);
    pat = itest_client (&patients);
    sch = itest_client (&sched);
    if (!stf || !pat || !sch || s_setup (stf, pat, sch) != 0) {
        fprintf (stderr, "bench_book: setup failed\n");
        goto done;
    }
    int64_t t1 = itest_now ();
    if (!s_synced (sch, stf, pat)) {
        fprintf (stderr, "bench_book: scheduling did not catch up in %d s\n",
                 SYNC_LIMIT_MS / 1000);
        goto done;
    }
    int64_t t2 = itest_now ();
    printf ("scheduling.Book, durable, %d practitioners x %d days (08:00-18:00), %d "
            "patients, %d-minute visits at random 5-minute starts\n",
            PRACTITIONERS, DAYS, PATIENTS, DUR_MIN);
    printf ("setup %.1f s (pipelined), scheduling caught up %.1f s later; rows share "
            "the calendar; %lld s window after %lld ms warm-up\n\n",
            (double) (t1 - t0) / 1000.0, (double) (t2 - t1) / 1000.0,
            (long long) s_seconds, WARMUP_US / 1000);
    printf ("%7s %9s %9s %8s %8s %10s %10s %7s\n", "clients", "req/s", "booked/s",
            "p50 ms", "p99 ms", "conflict %", "req/commit", "errors");
    static const int counts[] = {1, 8, 32, 128};
    s_row_t rows[4];
    memset (rows, 0, sizeof rows);
    bad = false;
    if (getenv ("BENCH_PROFILE")) {
        s_profile_pid = sched.pid;
        rows[3].clients = 64;
        s_run_row (&rows[3], &sched);
        printf ("profile: %.0f Book requests in the window, %.1f%% conflicts, "
                "%.1f per commit\n", rows[3].rate * (double) s_seconds,
                rows[3].conflict_pct, rows[3].per_commit);
        bad = rows[3].failed || rows[3].errors || rows[3].lost;
        goto done;
    }
    for (int i = 0; i < 4; i++) {
        rows[i].clients = counts[i];
        s_run_row (&rows[i], &sched);
        printf ("%7d %9.0f %9.0f %8.2f %8.2f %10.1f %10.1f %7ld%s\n", rows[i].clients,
                rows[i].rate, rows[i].booked_rate, rows[i].p50, rows[i].p99,
                rows[i].conflict_pct, rows[i].per_commit, rows[i].errors + rows[i].lost,
                rows[i].failed ? "  (stopped early)" : "");
        fflush (stdout);
        bad = bad || rows[i].failed || rows[i].errors || rows[i].lost;
    }
    const s_row_t *top = &rows[3];
    printf ("\ntarget: >= 10000 booking requests/s at 128 clients: %.0f (%s)\n", top->rate,
            !top->failed && top->rate >= 10000 ? "met" : "NOT met");
done:
    pm_client_destroy (&stf);
    pm_client_destroy (&pat);
    pm_client_destroy (&sch);
    itest_cleanup (&sched);
    itest_cleanup (&patients);
    itest_cleanup (&staffing);
    zsys_shutdown ();
    return bad ? 1 : 0;
}
