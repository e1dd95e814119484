/*  bench_register.c: durable throughput and latency of patients.Register.

    What it measures: the batched write path of pm_server (one LMDB write
    transaction and one fsync per batch) through the real pm-patients
    binary on loopback, with the default durable store settings.

      closed loop   1, 8, 32 and 128 clients, each its own DEALER and
                    client_id with exactly one request outstanding; first
                    with the default PM_BATCH_MAX (256), then with
                    PM_BATCH_MAX=1 (one request per commit), so the gain
                    of batching shows side by side.
      open loop     1000 req/s offered over 32 clients, requests at fixed
                    intervals; latency counts from the scheduled send time
                    so a stall is not hidden (no coordinated omission).

    Every client is driven from this one thread by zmq_poll. Each row gets
    a fresh service and store, a short warm-up, then a measuring window of
    BENCH_SECONDS (default 3) seconds.

    How to read the output, one row per configuration:
      req/s       OK replies received in the window / window length
      p50..p99.9  latency in ms (closed loop: send -> reply; open loop:
                  scheduled send -> reply)
      req/commit  write requests per LMDB commit, from pm.Health
                  (requests, batches) read before and after the window
      ms/commit   window length / commits: the time one commit (with its
                  fsync) takes when the service is saturated
      errors      replies whose code was not OK, plus replies that never
                  came (5 s); any error makes the exit status 1
    Two lines at the end compare with the targets. Missing a target does
    not change the exit status: this is a benchmark, not a test.          */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"
#include "patients.pb-c.h"

#define WARMUP_US 500000LL         //  before each measuring window
#define REPLY_LIMIT_US 5000000LL   //  a reply later than this is lost
#define MAX_CLIENTS 128
#define OPEN_RATE 1000             //  offered load of the open loop, req/s
#define OPEN_CLIENTS 32
#define ERRORS_SHOWN 5             //  error replies printed per row

typedef struct {
    pm_client_t *client;
    uint64_t pending;       //  request id outstanding, 0 = idle
    int64_t sent_us;        //  when it was really sent
    int64_t start_us;       //  where its latency counts from
    bool measured;          //  open loop: scheduled inside the window
} s_slot_t;

typedef struct {
    int64_t *us;
    size_t n, cap;
} s_lat_t;

typedef struct {
    const char *mode;       //  "batched", "1/commit", "open"
    int clients;
    double rate;            //  req/s
    double p50, p99, p999;  //  ms
    double per_commit;      //  requests per commit
    double ms_commit;       //  window / commits
    double lag_p99;         //  open loop: p99 of scheduled -> sent, ms
    long errors;            //  non-OK replies
    long lost;              //  replies that never came
    bool failed;            //  could not start, or stopped early
} s_row_t;

//  One configuration being run.
typedef struct {
    itest_svc_t svc;
    s_slot_t slots[MAX_CLIENTS];
    int nslots;
    pm_client_t *health;
    uint64_t health_pending;
    int health_got;            //  snapshots received: 0, 1 or 2
    uint64_t requests[2], batches[2];
    s_lat_t lat;
    s_lat_t lag;               //  open loop: scheduled -> really sent
    uint64_t rng;
    s_row_t *row;
    int64_t window_start, window_end;
    long done;                 //  replies received inside the window
} s_run_t;

static int64_t s_seconds = 3;

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
//  Sleeps until `when` on the monotonic clock (sub-millisecond waits).
static void
s_sleep_until (int64_t when_us)
{
    struct timespec ts = {.tv_sec = when_us / 1000000,
                          .tv_nsec = (long) (when_us % 1000000) * 1000};
    clock_nanosleep (CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL);
}

//  --------------------------------------------------------------------------
//  A 64-bit xorshift*: cheap, reproducible patient data.
static uint64_t
s_rand (s_run_t *run)
{
    run->rng ^= run->rng >> 12;
    run->rng ^= run->rng << 25;
    run->rng ^= run->rng >> 27;
    return run->rng * 2685821657736338717ULL;
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
    if (rank < 1) {
        rank = 1;
    }
    if (rank > lat->n) {
        rank = lat->n;
    }
    return (double) lat->us[rank - 1] / 1000.0;
}

//  --------------------------------------------------------------------------
//  Packs a valid, unique-ish patients.Register into buf; returns its size.
static size_t
s_make_register (s_run_t *run, uint8_t *buf, size_t buflen)
{
    static const char *families[] = {
        "Garcia", "Smith", "Nguyen", "Okafor", "Müller", "Kowalski", "Rossi",
        "Tanaka", "Haddad", "Silva", "Johansson", "O'Brien", "Novak", "Ivanova",
        "Mensah", "Dubois", "Kim", "Patel", "Cohen", "Schmidt", "Lopez",
        "Wong", "Ahmed", "Fischer", "Moreau", "Costa", "Jensen", "Popescu",
        "Yilmaz", "Murphy", "Horvat", "Andersen"};
    static const char *givens[] = {
        "Maria", "John", "Linh", "Chidi", "Jürgen", "Anna", "Luca", "Yuki",
        "Omar", "Ana", "Erik", "Siobhan", "Petr", "Olga", "Kwame", "Chloé",
        "Min-jun", "Priya", "Noa", "Lena", "Diego", "Mei", "Fatima", "Jonas",
        "Camille", "João", "Freja", "Ioana", "Emre", "Aoife", "Marko", "Ida"};
    static const char *sites[] = {"site-north", "site-south", "site-east",
                                  "site_west"};
    const size_t nf = sizeof families / sizeof *families;
    const size_t ng = sizeof givens / sizeof *givens;
    uint64_t r = s_rand (run);
    uint64_t r2 = s_rand (run);

    //  A quarter have double-barrelled family names; a third two givens.
    char family[64], date[16], phone[32];
    if (r % 4 == 0) {
        snprintf (family, sizeof family, "%s-%s", families[(r >> 8) % nf],
                  families[(r >> 16) % nf]);
    }
    else {
        snprintf (family, sizeof family, "%s", families[(r >> 8) % nf]);
    }
    char *given[2] = {(char *) givens[(r >> 24) % ng],
                      (char *) givens[(r >> 32) % ng]};
    snprintf (date, sizeof date, "%04d-%02d-%02d", 1930 + (int) (r2 % 90),
              1 + (int) ((r2 >> 8) % 12), 1 + (int) ((r2 >> 16) % 28));
    snprintf (phone, sizeof phone, "+1 555 %07d", (int) ((r2 >> 24) % 10000000));

    Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
    name.family = family;
    name.n_given = (r >> 40) % 3 == 0 ? 2 : 1;
    name.given = given;
    Pm__Patients__ContactPoint cp = PM__PATIENTS__CONTACT_POINT__INIT;
    cp.has_system = 1;
    cp.system = PM__PATIENTS__CONTACT_SYSTEM__PHONE;
    cp.value = phone;
    cp.use = "mobile";
    Pm__Patients__ContactPoint *telecom[1] = {&cp};
    Pm__Patients__Patient patient = PM__PATIENTS__PATIENT__INIT;
    patient.name = &name;
    patient.birth_date = date;
    patient.has_sex = 1;
    patient.sex = (r >> 48) % 2 ? PM__PATIENTS__SEX__FEMALE
                                : PM__PATIENTS__SEX__MALE;
    patient.n_telecom = 1;
    patient.telecom = telecom;
    patient.home_site = (char *) sites[(r >> 56) % 4];
    Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
    reg.patient = &patient;
    if (pm__patients__register__get_packed_size (&reg) > buflen) {
        abort ();
    }
    return pm__patients__register__pack (&reg, buf);
}

//  --------------------------------------------------------------------------
//  Sends a new patients.Register on `slot`; latency counts from start_us.
static void
s_send_register (s_run_t *run, s_slot_t *slot, int64_t start_us)
{
    uint8_t buf[512];
    size_t len = s_make_register (run, buf, sizeof buf);
    slot->sent_us = s_now_us ();
    slot->start_us = start_us ? start_us : slot->sent_us;
    slot->pending = pm_client_send (slot->client, 0, "patients.Register", buf,
                                    len);
}

//  --------------------------------------------------------------------------
//  Takes a pm.Health reply as snapshot 0 (window start) or 1 (end).
static void
s_on_health (s_run_t *run)
{
    Pm__Reply *reply;
    while ((reply = pm_client_recv (run->health, 0))) {
        if (reply->request_id == run->health_pending && run->health_got < 2) {
            Pm__Health *h = NULL;
            if (reply->code == PM__CODE__OK) {
                h = pm__health__unpack (NULL, reply->body.len, reply->body.data);
            }
            if (h) {
                run->requests[run->health_got] = h->requests;
                run->batches[run->health_got] = h->batches;
                pm__health__free_unpacked (h, NULL);
            }
            else {
                fprintf (stderr, "  pm.Health failed: %s\n",
                         reply->message ? reply->message : "?");
                run->row->errors++;
            }
            run->health_got++;
            run->health_pending = 0;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Drains the replies waiting on `slot`: checks, times and counts them.
static void
s_on_replies (s_run_t *run, s_slot_t *slot, bool open)
{
    Pm__Reply *reply;
    while ((reply = pm_client_recv (slot->client, 0))) {
        int64_t now = s_now_us ();
        bool in_window = now >= run->window_start && now < run->window_end;
        bool ours = slot->pending && reply->request_id == slot->pending;
        if (!ours || reply->code != PM__CODE__OK) {
            if (run->row->errors < ERRORS_SHOWN) {
                fprintf (stderr, "  %s/%d: reply %s to request %llu: %s\n",
                         run->row->mode, run->row->clients,
                         pm_err_name ((pm_err) reply->code),
                         (unsigned long long) reply->request_id,
                         reply->message ? reply->message : "(no message)");
            }
            run->row->errors++;
        }
        if (ours) {
            if (in_window && reply->code == PM__CODE__OK) {
                run->done++;
            }
            if (open ? slot->measured : in_window) {
                s_lat_add (&run->lat, now - slot->start_us);
            }
            slot->pending = 0;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
}

//  --------------------------------------------------------------------------
//  Sends pm.Health if the window edge `edge` (0 start, 1 end) has passed.
static void
s_maybe_health (s_run_t *run, int edge, int64_t now, bool *sent)
{
    int64_t at = edge == 0 ? run->window_start : run->window_end;
    if (!*sent && now >= at && run->health_pending == 0) {
        run->health_pending = pm_client_send (run->health, 0, "pm.Health",
                                              NULL, 0);
        *sent = true;
    }
}

//  --------------------------------------------------------------------------
//  Drives the clients until the window has closed and every reply is in.
//  open_rate 0 = closed loop. Returns false when a reply never came.
static bool
s_drive (s_run_t *run, int open_rate)
{
    bool open = open_rate > 0;
    int n = run->nslots;
    zmq_pollitem_t items[MAX_CLIENTS + 1];
    for (int i = 0; i < n; i++) {
        items[i] = (zmq_pollitem_t) {
            .socket = zsock_resolve (pm_client_sock (run->slots[i].client)),
            .events = ZMQ_POLLIN};
    }
    items[n] = (zmq_pollitem_t) {
        .socket = zsock_resolve (pm_client_sock (run->health)),
        .events = ZMQ_POLLIN};

    int64_t t0 = s_now_us ();
    run->window_start = t0 + WARMUP_US;
    run->window_end = run->window_start + s_seconds * 1000000;
    int64_t interval = open ? 1000000 / open_rate : 0;
    uint64_t next_k = 0;       //  open loop: the next request to send
    int rr = 0;                //  open loop: where to look for an idle client
    bool health_sent[2] = {false, false};
    int64_t last_check = t0;

    for (;;) {
        int64_t now = s_now_us ();
        s_maybe_health (run, 0, now, &health_sent[0]);
        s_maybe_health (run, 1, now, &health_sent[1]);

        //  Send what is due: closed loop, every idle client while the
        //  window is open; open loop, every scheduled request that has
        //  an idle client (those scheduled before the end are all sent).
        int64_t next_due = 0;  //  open loop: the next request not yet sent
        bool blocked = false;  //  open loop: it is due, every client is busy
        if (!open && now < run->window_end) {
            for (int i = 0; i < n; i++) {
                if (!run->slots[i].pending) {
                    s_send_register (run, &run->slots[i], 0);
                }
            }
        }
        else if (open) {
            int64_t due;
            while ((due = t0 + (int64_t) next_k * interval) <= now
                   && due < run->window_end) {
                int i, tried;
                for (tried = 0, i = rr; tried < n; tried++, i = (i + 1) % n) {
                    if (!run->slots[i].pending) {
                        break;
                    }
                }
                if (tried == n) {
                    blocked = true; //  it waits; its latency runs
                    break;
                }
                s_slot_t *slot = &run->slots[i];
                slot->measured = due >= run->window_start;
                s_send_register (run, slot, due);
                if (slot->measured) {
                    s_lat_add (&run->lag, slot->sent_us - due);
                }
                rr = (i + 1) % n;
                next_k++;
            }
            if (due < run->window_end) {
                next_due = due;
            }
        }

        //  Done when the window is over and nothing is outstanding.
        int outstanding = 0;
        for (int i = 0; i < n; i++) {
            outstanding += run->slots[i].pending != 0;
        }
        if (now >= run->window_end && !outstanding && !next_due
            && run->health_got == 2) {
            return true;
        }
        //  A reply later than the limit: lost; the row stops here.
        if (now - last_check >= 100000) {
            last_check = now;
            for (int i = 0; i < n; i++) {
                s_slot_t *slot = &run->slots[i];
                if (slot->pending && now - slot->sent_us > REPLY_LIMIT_US) {
                    run->row->lost++;
                }
            }
            if (next_due && now - next_due > REPLY_LIMIT_US) {
                run->row->lost++; //  the open loop could not send for 5 s
            }
            if (now > run->window_end + REPLY_LIMIT_US && run->health_got < 2) {
                run->row->lost++;
            }
            if (run->row->lost) {
                fprintf (stderr, "  %s/%d: %ld request(s) not answered in %lld s\n",
                         run->row->mode, run->row->clients, run->row->lost,
                         REPLY_LIMIT_US / 1000000);
                return false;
            }
        }

        //  Wait for replies, or until the next thing to do.
        int64_t wake = now + 100000;
        if (now < run->window_start && run->window_start < wake) {
            wake = run->window_start;
        }
        if (now < run->window_end && run->window_end < wake) {
            wake = run->window_end;
        }
        if (next_due && !blocked && next_due < wake) {
            wake = next_due;
        }
        long timeout = (long) ((wake - now) / 1000);
        int rc = zmq_poll (items, n + 1, timeout > 0 ? timeout : 0);
        if (rc < 0) {
            return false; //  interrupted
        }
        if (rc == 0 && wake > now && timeout == 0) {
            s_sleep_until (wake); //  less than 1 ms: zmq_poll cannot wait it
        }
        for (int i = 0; i < n && rc > 0; i++) {
            if (items[i].revents & ZMQ_POLLIN) {
                s_on_replies (run, &run->slots[i], open);
            }
        }
        if (rc > 0 && (items[n].revents & ZMQ_POLLIN)) {
            s_on_health (run);
        }
    }
}

//  --------------------------------------------------------------------------
//  Runs one row on a fresh service: mode, clients, optional "K=V" setting,
//  open_rate 0 = closed loop. Returns 0, or -1 if the service did not start.
static int
s_run_row (s_row_t *row, const char *setting, int open_rate)
{
    s_run_t *run = calloc (1, sizeof *run);
    if (!run) {
        abort ();
    }
    run->row = row;
    run->rng = 0x9e3779b97f4a7c15ULL ^ ((uint64_t) row->clients << 32)
               ^ (uint64_t) open_rate ^ (setting ? 1 : 0);
    itest_svc_init (&run->svc, "patients", "pm-patients");
    if (setting) {
        run->svc.env[0] = setting;
    }
    if (itest_start (&run->svc) != 0) {
        fprintf (stderr, "  %s/%d: the service did not start (log: %s)\n",
                 row->mode, row->clients, run->svc.log);
        itest_cleanup (&run->svc);
        row->failed = true;
        free (run);
        return -1;
    }
    bool ready = true;
    run->nslots = row->clients;
    for (int i = 0; i < run->nslots; i++) {
        run->slots[i].client = pm_client_new ("patients", run->svc.commands, NULL);
        ready = ready && run->slots[i].client;
    }
    run->health = pm_client_new ("patients", run->svc.commands, NULL);
    ready = ready && run->health;

    row->failed = !ready || !s_drive (run, open_rate);
    double secs = (double) s_seconds;
    row->rate = (double) run->done / secs;
    qsort (run->lat.us, run->lat.n, sizeof *run->lat.us, s_cmp_i64);
    row->p50 = s_quantile (&run->lat, 0.50);
    row->p99 = s_quantile (&run->lat, 0.99);
    row->p999 = s_quantile (&run->lat, 0.999);
    qsort (run->lag.us, run->lag.n, sizeof *run->lag.us, s_cmp_i64);
    row->lag_p99 = s_quantile (&run->lag, 0.99);
    if (run->health_got == 2 && run->batches[1] > run->batches[0]) {
        //  The second pm.Health counts itself among the requests.
        uint64_t commits = run->batches[1] - run->batches[0];
        uint64_t writes = run->requests[1] - run->requests[0] - 1;
        row->per_commit = (double) writes / (double) commits;
        row->ms_commit = secs * 1000.0 / (double) commits;
    }

    for (int i = 0; i < run->nslots; i++) {
        pm_client_destroy (&run->slots[i].client);
    }
    pm_client_destroy (&run->health);
    itest_cleanup (&run->svc);
    free (run->lat.us);
    free (run->lag.us);
    free (run);
    return 0;
}

//  --------------------------------------------------------------------------
//  Prints one row of the table.
static void
s_print_row (const s_row_t *row)
{
    printf ("%-9s %7d %9.0f %8.2f %8.2f %8.2f %10.1f %9.2f %7ld%s\n",
            row->mode, row->clients, row->rate, row->p50, row->p99, row->p999,
            row->per_commit, row->ms_commit, row->errors + row->lost,
            row->failed ? "  (stopped early)" : "");
    fflush (stdout);
}

//  --------------------------------------------------------------------------
//  Runs every row, prints the table and the targets.
int
main (void)
{
    pm_log_init ("bench", "error");
    const char *env = getenv ("BENCH_SECONDS");
    if (env && atoll (env) > 0) {
        s_seconds = atoll (env);
    }
    static const int counts[] = {1, 8, 32, 128};
    const int ncounts = (int) (sizeof counts / sizeof *counts);
    s_row_t rows[2 * 4 + 1];
    memset (rows, 0, sizeof rows);
    bool bad = false;

    printf ("patients.Register, durable, %lld s window after %lld ms warm-up, "
            "fresh store per row\n\n",
            (long long) s_seconds, WARMUP_US / 1000);
    printf ("%-9s %7s %9s %8s %8s %8s %10s %9s %7s\n", "mode", "clients",
            "req/s", "p50 ms", "p99 ms", "p99.9 ms", "req/commit", "ms/commit",
            "errors");
    for (int pass = 0; pass < 2; pass++) {
        for (int i = 0; i < ncounts; i++) {
            s_row_t *row = &rows[pass * ncounts + i];
            row->mode = pass == 0 ? "batched" : "1/commit";
            row->clients = counts[i];
            if (s_run_row (row, pass == 0 ? NULL : "PM_BATCH_MAX=1", 0) != 0) {
                bad = true;
                continue;
            }
            s_print_row (row);
        }
    }
    s_row_t *open = &rows[2 * ncounts];
    open->mode = "open";
    open->clients = OPEN_CLIENTS;
    if (s_run_row (open, NULL, OPEN_RATE) == 0) {
        s_print_row (open);
    }
    else {
        bad = true;
    }
    printf ("(open: %d req/s offered, latency from the scheduled send time; "
            "p99 of scheduled -> sent: %.2f ms)\n\n",
            OPEN_RATE, open->lag_p99);

    for (int i = 0; i < 2 * ncounts + 1; i++) {
        if (rows[i].failed || rows[i].errors || rows[i].lost) {
            bad = true;
        }
    }
    const s_row_t *top = &rows[ncounts - 1];
    printf ("target: >= 10000 durable registrations/s at 128 clients: %.0f (%s)\n",
            top->rate, !top->failed && top->rate >= 10000 ? "met" : "NOT met");
    printf ("target: p99 < 5 ms at 1000 req/s offered: %.2f ms (%s)\n",
            open->p99, !open->failed && open->p99 < 5.0 ? "met" : "NOT met");
    zsys_shutdown ();
    return bad ? 1 : 0;
}
