/*  bench_erase.c: what an erasure's rewriting of the older events costs
    the requests served meanwhile.

    The world: the real pm-patients on loopback (CURVE on, durable store,
    the default PM_PATIENTS_REDACT_PER_PASS and _EVERY_MS). One patient is
    registered first, then BENCH_ERASE_EVENTS others (default 50,000,
    register_load: 64 in flight), so the stream holds that many events
    after the one to be erased. One client then registers patients one at
    a time for the window (BENCH_SECONDS, default 3) to measure latency
    before; the first patient is erased; the same client goes on until
    patients.patient.events_redacted appears on the stream, measuring the
    latency while the job's passes run in the write path.

    How to read the output:
      job         time from the Erase reply to the completion event, and
                  the events the job looked at and rewrote
      before,     one client's Register latency (send -> reply, ms) before
      during      the erasure and while its job ran; the difference at the
                  top (p99, max) is what a pass of the job costs a request
                  that waits behind it
    A benchmark, not a test: the exit status is 1 only if something failed. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "patients.pb-c.h"

#define LIMIT_MS 120000            //  the job must end within this
#define REPLY_LIMIT_MS 5000

typedef struct {
    int64_t *us;
    size_t n, cap;
} s_lat_t;

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  The q-quantile in ms (sorts in place).
static double
s_quantile (s_lat_t *lat, double q)
{
    if (lat->n == 0) {
        return 0;
    }
    qsort (lat->us, lat->n, sizeof *lat->us, s_cmp_i64);
    size_t i = (size_t) (q * (double) (lat->n - 1) + 0.5);
    return (double) lat->us[i] / 1000.0;
}

//  One registration, timed; false if it failed.
static bool
s_register_timed (pm_client_t *client, long i, s_lat_t *lat)
{
    char family[32];
    snprintf (family, sizeof family, "Probe%ld", i);
    Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
    char *given[] = {"Ana"};
    name.family = family;
    name.n_given = 1;
    name.given = given;
    Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
    p.name = &name;
    p.birth_date = "1990-01-01";
    p.home_site = "north";
    Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
    reg.patient = &p;
    int64_t t0 = zclock_usecs ();
    Pm__Reply *reply = itest_call (client, "patients.Register", &reg.base);
    int64_t us = zclock_usecs () - t0;
    bool ok = reply && reply->code == PM__CODE__OK;
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    if (ok) {
        if (lat->n == lat->cap) {
            lat->cap = lat->cap ? lat->cap * 2 : 1024;
            lat->us = realloc (lat->us, lat->cap * sizeof *lat->us);
        }
        lat->us[lat->n++] = us;
    }
    return ok;
}

//  Looks through the events from *from on for the completion event; moves
//  *from past what it read. The completion's data, or NULL.
static Pm__Patients__EventRedaction *
s_completion (pm_client_t *client, uint64_t *from)
{
    Pm__EventsRead req = PM__EVENTS_READ__INIT;
    req.has_from_seq = req.has_max = 1;
    req.from_seq = *from;
    req.max = 1000;
    Pm__Reply *reply = itest_call (client, "pm.EventsRead", &req.base);
    Pm__EventBatch *batch = reply && reply->code == PM__CODE__OK
                                ? pm__event_batch__unpack (NULL, reply->body.len,
                                                           reply->body.data)
                                : NULL;
    Pm__Patients__EventRedaction *job = NULL;
    for (size_t i = 0; batch && i < batch->n_events; i++) {
        Pm__Event *ev = batch->events[i];
        *from = ev->seq + 1;
        if (!job && strcmp (ev->type, "patients.patient.events_redacted") == 0) {
            job = pm__patients__event_redaction__unpack (NULL, ev->data.len, ev->data.data);
        }
    }
    pm__event_batch__free_unpacked (batch, NULL);
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return job;
}

int
main (void)
{
    pm_log_init ("bench", "error");
    long events = 50000;
    int64_t seconds = 3;
    if (getenv ("BENCH_ERASE_EVENTS") && atol (getenv ("BENCH_ERASE_EVENTS")) > 0) {
        events = atol (getenv ("BENCH_ERASE_EVENTS"));
    }
    if (getenv ("BENCH_SECONDS") && atoll (getenv ("BENCH_SECONDS")) > 0
        && atoll (getenv ("BENCH_SECONDS")) <= 20) {
        seconds = atoll (getenv ("BENCH_SECONDS"));
    }
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    pm_client_t *client = NULL;
    s_lat_t before = {0}, during = {0};
    bool bad = true;
    if (itest_start (&svc) != 0 || !(client = itest_client (&svc))) {
        fprintf (stderr, "bench_erase: patients did not start\n");
        goto done;
    }
    json_t *target = itest_req (client, 0, NULL, "patients.Register",
                                "{\"patient\": {\"name\": {\"family\": \"Lindqvist\", "
                                "\"given\": [\"Greta\"]}, \"birth_date\": \"1948-05-17\", "
                                "\"home_site\": \"north\"}}");
    char id[PM_ID_MAX] = "";
    if (target) {
        snprintf (id, sizeof id, "%s", itest_json_str (target, "id"));
        json_decref (target);
    }
    char load[600], cmd[1200];
    itest_bin_path ("register_load", load, sizeof load);
    snprintf (cmd, sizeof cmd, "'%s' '%s' %ld 64 >/dev/null", load, svc.commands, events);
    int64_t t0 = itest_now ();
    if (!id[0] || system (cmd) != 0) {
        fprintf (stderr, "bench_erase: filling the stream failed\n");
        goto done;
    }
    printf ("patients erasure: the record's older events rewritten in passes of %s every "
            "%s ms, %ld events after its first\n",
            getenv ("PM_PATIENTS_REDACT_PER_PASS") ? getenv ("PM_PATIENTS_REDACT_PER_PASS")
                                                   : "5000",
            getenv ("PM_PATIENTS_REDACT_EVERY_MS") ? getenv ("PM_PATIENTS_REDACT_EVERY_MS")
                                                   : "250",
            events);
    printf ("filled in %.1f s; %lld s of one client registering before the erasure\n\n",
            (double) (itest_now () - t0) / 1000.0, (long long) seconds);

    long i = 0;
    int64_t until = itest_now () + seconds * 1000;
    while (itest_now () < until) {
        if (!s_register_timed (client, i++, &before)) {
            fprintf (stderr, "bench_erase: a registration failed\n");
            goto done;
        }
    }
    Pm__Health *h = itest_health (client);
    uint64_t from = h ? h->high_seq + 1 : 1;
    pm__health__free_unpacked (h, NULL);
    json_t *erased = itest_req (client, 0, NULL, "patients.Erase",
                                "{\"id\": \"%s\", \"expected_version\": 1, \"legal_basis\": "
                                "\"GDPR art. 17 request\"}", id);
    if (!erased) {
        fprintf (stderr, "bench_erase: the erasure was refused\n");
        goto done;
    }
    json_decref (erased);
    int64_t erased_at = itest_now ();
    Pm__Patients__EventRedaction *job = NULL;
    int64_t limit = erased_at + LIMIT_MS;
    while (!job && itest_now () < limit) {
        for (int k = 0; k < 20; k++) {
            if (!s_register_timed (client, i++, &during)) {
                fprintf (stderr, "bench_erase: a registration failed\n");
                goto done;
            }
        }
        job = s_completion (client, &from);
    }
    if (!job) {
        fprintf (stderr, "bench_erase: the job did not end in %d s\n", LIMIT_MS / 1000);
        goto done;
    }
    printf ("job: %.2f s from the Erase reply to patients.patient.events_redacted; "
            "%llu events looked at, %llu rewritten\n\n",
            (double) (itest_now () - erased_at) / 1000.0,
            (unsigned long long) job->events_seen, (unsigned long long) job->events_redacted);
    pm__patients__event_redaction__free_unpacked (job, NULL);
    printf ("one client, Register   requests   p50 ms   p99 ms   max ms\n");
    s_lat_t *rows[] = {&before, &during};
    const char *names[] = {"before", "during the job"};
    for (int r = 0; r < 2; r++) {
        size_t n = rows[r]->n;
        printf ("%-22s %10zu %8.2f %8.2f %8.2f\n", names[r], n, s_quantile (rows[r], 0.50),
                s_quantile (rows[r], 0.99), s_quantile (rows[r], 1.0));
    }
    bad = false;
done:
    free (before.us);
    free (during.us);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
    zsys_shutdown ();
    return bad ? 1 : 0;
}
