/*  fault_kill.c: kill -9 under load (make test-fault).

    pm-patients and a consumer following it (pm_mirror) run under a mixed
    load from several clients that resend every unanswered command with
    its request id, as real clients do. At seeded random moments one of
    them, in turn, is killed with SIGKILL and restarted. Then the history
    checker holds the result against what clients were told:
    - every acknowledged command is in the stream exactly once, with the
      state its reply gave; nothing unacknowledged happened;
    - the stream is gap-free and each record as stored is its last event;
    - the consumer applied every event once, and its projection equals a
      fresh consumer's replay from seq 1 (stats and records).
    Cases: patients with its consumer; staffing (onboard, updates,
    rosters); the money check, scheduling, finance and patients killed in
    turn (fault_scheduling.c: every fulfilled appointment charged once,
    every no-show and late cancellation fined once, every booking inside
    an approved leave flagged at risk once); and
    recruitment with staffing onboarding its hires, killed in turn
    (fault_recruitment.c: every hire exactly one staff member).
    FAULT_SEED replays a run's choices; FAULT_SECONDS (default 20) is how
    long the load runs; FAULT_USERS (default 6) how many clients.        */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

//  The fault injector: kills each victim in turn at random moments.
typedef struct {
    itest_svc_t *victims[4];
    int n_victims;
    int kills[4];
    fault_rng_t rng;
    int turn;
    int64_t next_kill;     //  when the next victim dies
    int down;              //  victim being restarted, or -1
    int64_t restart_at;
    bool start_failed;
} s_chaos_t;

//  Restarts a killed service. Its ports can stay taken for a moment
//  (the dead process's connections are still closing: FIN_WAIT), so a
//  start that cannot bind is tried again, as a supervisor would.
static int
s_restart (itest_svc_t *svc)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_start (svc) != 0) {
        if (itest_now () >= until) {
            return -1;
        }
        zclock_sleep (100);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Between polls of the load: kills the next victim, or restarts the dead one.
static void
s_chaos_tick (void *arg)
{
    s_chaos_t *c = arg;
    int64_t now = itest_now ();
    if (c->down >= 0) {
        if (now >= c->restart_at) {
            if (s_restart (c->victims[c->down]) != 0) {
                c->start_failed = true;
            }
            c->down = -1;
            c->next_kill = itest_now () + 200 + (int64_t) fault_rand (&c->rng, 1300);
        }
        return;
    }
    if (now >= c->next_kill) {
        int v = c->turn++ % c->n_victims;
        itest_signal (c->victims[v], SIGKILL);
        c->kills[v]++;
        c->down = v;
        c->restart_at = now + (int64_t) fault_rand (&c->rng, 400);
    }
}

//  --------------------------------------------------------------------------
//  A positive integer setting from the environment, or `fallback`.
static int
s_env_int (const char *name, int fallback)
{
    const char *v = getenv (name);
    return v && atoi (v) > 0 ? atoi (v) : fallback;
}

//  --------------------------------------------------------------------------
//  The history checker is not blind: told of one write less, and of
//  another with a different state, it finds exactly those two. Returns
//  what it found.
static int
s_history_selftest (const fault_workload_t *w, pm_client_t *client,
                    const fault_history_t *h)
{
    fault_history_t broken = *h;
    broken.n = h->n - 1;
    if (broken.acks[0].reply_len == 0) {
        return -1;
    }
    broken.acks[0].reply[broken.acks[0].reply_len - 1] ^= 1;
    fault_stream_t stream;
    fault_check_quiet (true);
    int problems = fault_check_history (w, client, &broken, &stream);
    fault_check_quiet (false);
    broken.acks[0].reply[broken.acks[0].reply_len - 1] ^= 1;
    fault_stream_free (&stream);
    printf ("    %s: the checker finds %d problems in a history altered twice\n",
            w->service, problems);
    fflush (stdout);
    return problems;
}

//  --------------------------------------------------------------------------
//  The service of workload `w` (and pm_mirror following it, when it is
//  mirrored) under load, killed in turn; then the history checker.
static void
s_kill9 (const fault_workload_t *w)
{
    uint64_t seed = fault_seed ("kill9");
    int seconds = s_env_int ("FAULT_SECONDS", 20);
    int users = s_env_int ("FAULT_USERS", 6);

    itest_svc_t svc, mir, fresh;
    itest_svc_init (&svc, w->service, w->binary);
    CHECK (itest_start (&svc) == 0);
    s_chaos_t chaos = {.victims = {&svc, &mir}, .n_victims = 1, .down = -1};
    if (w->mirrored) {
        itest_svc_init (&mir, "mirror", "pm_mirror");
        itest_point_at (&mir, &svc);
        CHECK (itest_start (&mir) == 0);
        chaos.n_victims = 2;
    }
    uint64_t setup_events = 0;
    if (w->setup) {
        pm_client_t *c = itest_client (&svc);
        setup_events = w->setup (c);
        pm_client_destroy (&c);
        CHECK (setup_events > 0);
    }
    fault_rng_init (&chaos.rng, seed ^ 0xC4A05);
    chaos.next_kill = itest_now () + 300 + (int64_t) fault_rand (&chaos.rng, 700);
    fault_load_t *load = fault_load_new (w, &svc, users, seed);
    fault_load_run (load, seconds * 1000, s_chaos_tick, &chaos);
    CHECK (!chaos.start_failed);
    if (chaos.down >= 0) {
        CHECK (s_restart (chaos.victims[chaos.down]) == 0);
    }
    CHECK (fault_load_drain (load, 30000) == 0);
    const fault_history_t *h = fault_load_history (load);
    printf ("    kill9: %zu commands acknowledged by %d clients in %d s; "
            "%d kills of %s, %d of the consumer; %zu tries resent\n",
            h->n, users, seconds, chaos.kills[0], w->service, chaos.kills[1],
            h->resent);
    fflush (stdout);
    CHECK (h->refused == 0);
    CHECK (chaos.kills[0] >= 1 && (!w->mirrored || chaos.kills[1] >= 1));

    pm_client_t *client = itest_client (&svc);
    fault_history_t all = *h;
    all.setup_events = setup_events;
    h = &all;
    fault_stream_t stream;
    int problems = fault_check_history (w, client, h, &stream);
    printf ("    kill9: stream of %llu events, %zu records; history: %d problems\n",
            (unsigned long long) stream.high_seq, stream.n_subjects, problems);
    fflush (stdout);
    CHECK (problems == 0);
    CHECK (w->events_per_command == 0
           || stream.high_seq == h->n * (size_t) w->events_per_command + setup_events);

    CHECK (s_history_selftest (w, client, h) == 2);

    if (w->mirrored) {
        //  The consumer, killed as often, caught up exactly; a fresh one
        //  replaying from seq 1 agrees with it.
        pm_client_t *mc = itest_client (&mir);
        Pm__Test__MirrorStats *stats = fault_mirror_wait (mc, &stream, 30000);
        CHECK (stats);
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        itest_svc_init (&fresh, "mirror", "pm_mirror");
        itest_point_at (&fresh, &svc);
        CHECK (itest_start (&fresh) == 0);
        pm_client_t *fc = itest_client (&fresh);
        stats = fault_mirror_wait (fc, &stream, 30000);
        CHECK (stats);
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        fault_rng_t rng;
        fault_rng_init (&rng, seed);
        problems = fault_mirror_check (mc, fc, &stream, 400, &rng);
        printf ("    kill9: consumer vs fresh replay: %d problems\n", problems);
        fflush (stdout);
        CHECK (problems == 0);
        pm_client_destroy (&mc);
        pm_client_destroy (&fc);
        itest_cleanup (&fresh);
        itest_cleanup (&mir);
    }
    fault_stream_free (&stream);
    pm_client_destroy (&client);
    fault_load_destroy (&load);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  One case per service: a service joins with its workload (fault.h).
static void
s_test_kill9_patients (void)
{
    s_kill9 (&fault_patients);
}

//  The money case's fault injector: kills in turn, the front desk's load
//  run beside the users', each user's leave approved at its moment.
typedef struct {
    s_chaos_t chaos;
    fault_load_t *desk;         //  registrations in patients
    size_t desk_seen;           //  of its acknowledgements, handed on
    pm_client_t *staffing;
    int users;
    int64_t leave_at[8];
    fault_leave_t leaves[8];
    int n_leaves;               //  approved so far
    bool leave_failed;
} s_money_run_t;

//  --------------------------------------------------------------------------
//  Between polls of the users' load.
static void
s_money_tick (void *arg)
{
    s_money_run_t *r = arg;
    s_chaos_tick (&r->chaos);
    fault_load_step (r->desk);
    const fault_history_t *h = fault_load_history (r->desk);
    while (r->desk_seen < h->n) {
        fault_clinic_patient (h->acks[r->desk_seen++].subject);
    }
    if (r->n_leaves < r->users && itest_now () >= r->leave_at[r->n_leaves]) {
        if (fault_clinic_leave (r->staffing, r->n_leaves, &r->leaves[r->n_leaves]) != 0) {
            r->leave_failed = true;
        }
        r->n_leaves++;
    }
}

//  --------------------------------------------------------------------------
//  The money check: scheduling, finance (following it) and patients
//  (followed by scheduling) killed in turn while front desks book, fulfil,
//  mark no-shows and cancel, inside the late-cancel window and outside
//  it, and another registers new patients whom they book; staffing
//  approves a day of leave for one practitioner of each desk meanwhile.
//  Then the history checker on scheduling's stream and on patients',
//  scheduling's cursors at both producers' ends, every new patient
//  bookable; every fulfilled appointment charged once, every no-show and
//  late cancellation fined once, no early cancellation fined, nothing
//  else and nothing twice, finance's cursor at the stream's end; and
//  every booking inside a leave flagged at risk once, none outside.
static void
s_test_kill9_money (void)
{
    uint64_t seed = fault_seed ("money");
    int seconds = s_env_int ("FAULT_SECONDS", 20);
    int users = s_env_int ("FAULT_USERS", 4);
    users = users > 8 ? 8 : users;
    int64_t began = itest_now ();
    itest_svc_t stf, pat, sch, fin;
    CHECK (fault_clinic_start (&stf, &pat, &sch, &fin, users) == 0);
    pm_client_t *pc = itest_client (&pat);
    uint64_t patients_before = fault_high_seq (pc);
    CHECK (patients_before > 0);
    s_money_run_t run = {.chaos = {.victims = {&sch, &fin, &pat}, .n_victims = 3,
                                   .down = -1},
                         .users = users};
    fault_rng_init (&run.chaos.rng, seed ^ 0xC4A05);
    run.chaos.next_kill = itest_now () + 300 + (int64_t) fault_rand (&run.chaos.rng, 700);
    for (int u = 0; u < users; u++) {
        //  Between a fifth and three quarters of the way, in order.
        int64_t permille = 200 + 550 * u / users
                           + (int64_t) fault_rand (&run.chaos.rng, (uint64_t) (500 / users));
        run.leave_at[u] = itest_now () + seconds * permille;
    }
    run.staffing = itest_client (&stf);
    run.desk = fault_load_new (&fault_patients_new, &pat, 1, seed ^ 0xDE5C);
    fault_load_pace (run.desk, 20);
    fault_load_t *load = fault_load_new (&fault_scheduling, &sch, users, seed);
    fault_load_run (load, seconds * 1000, s_money_tick, &run);
    CHECK (!run.chaos.start_failed);
    if (run.chaos.down >= 0) {
        CHECK (s_restart (run.chaos.victims[run.chaos.down]) == 0);
    }
    CHECK (fault_load_drain (load, 30000) == 0);
    CHECK (fault_load_drain (run.desk, 30000) == 0);
    const fault_history_t *h = fault_load_history (load);
    const fault_history_t *dh = fault_load_history (run.desk);
    while (run.desk_seen < dh->n) {
        fault_clinic_patient (dh->acks[run.desk_seen++].subject);
    }
    fault_fresh_t fresh;
    fault_clinic_fresh (&fresh);
    printf ("    money: %zu commands acknowledged by %d clients in %d s, %zu declined "
            "(%zu books of a patient scheduling did not know yet, %zu into an "
            "approved leave, the rest too late after a kill); %zu patients registered "
            "beside them, %zu booked; %d kills of scheduling, %d of finance, %d of "
            "patients; %zu tries resent\n",
            h->n, users, seconds, h->declined, fresh.unknown, fresh.on_leave, dh->n,
            fresh.booked, run.chaos.kills[0], run.chaos.kills[1], run.chaos.kills[2],
            h->resent + dh->resent);
    fflush (stdout);
    CHECK (h->refused == 0 && dh->refused == 0);
    CHECK (run.chaos.kills[0] >= 1 && run.chaos.kills[1] >= 1 && run.chaos.kills[2] >= 1);
    CHECK (!run.leave_failed && run.n_leaves == users);

    pm_client_t *sc = itest_client (&sch);
    pm_client_t *fc = itest_client (&fin);
    //  The type was defined before the load: the stream's first event.
    fault_history_t all = *h;
    all.setup_events = 1;
    fault_stream_t stream;
    int problems = fault_check_history (&fault_scheduling, sc, &all, &stream);
    printf ("    money: scheduling's stream of %llu events (%llu its own at-risk flags), "
            "%zu appointments; history: %d problems\n",
            (unsigned long long) stream.high_seq, (unsigned long long) stream.own_events,
            stream.n_subjects, problems);
    fflush (stdout);
    uint64_t high_seq = stream.high_seq, own = stream.own_events;
    fault_stream_free (&stream);
    CHECK (problems == 0);
    CHECK (high_seq == h->n + all.setup_events + own);

    //  Patients, killed while scheduling follows it: its registrations
    //  exactly once; scheduling caught up with it (and with staffing).
    fault_history_t desk = *dh;
    desk.setup_events = patients_before;
    problems = fault_check_history (&fault_patients_new, pc, &desk, &stream);
    uint64_t pat_seq = stream.high_seq;
    fault_stream_free (&stream);
    uint64_t cursor = fault_cursor_wait (sc, "patients", pat_seq, 30000);
    uint64_t stf_seq = fault_high_seq (run.staffing);
    uint64_t stf_cursor = fault_cursor_wait (sc, "staffing", stf_seq, 30000);
    size_t booked = 0;
    int refused = fault_clinic_book_rest (sc, &booked);
    printf ("    money: patients' stream of %llu events; history: %d problems; "
            "scheduling's cursor there %llu, on staffing %llu of %llu; %zu patients "
            "the users had not booked booked now, %d refused\n",
            (unsigned long long) pat_seq, problems, (unsigned long long) cursor,
            (unsigned long long) stf_cursor, (unsigned long long) stf_seq, booked, refused);
    fflush (stdout);
    CHECK (problems == 0);
    CHECK (pat_seq == patients_before + dh->n);
    CHECK (cursor == pat_seq && stf_cursor == stf_seq);
    CHECK (refused == 0);

    fault_money_t money;
    problems = fault_check_money (sc, fc, &fault_clinic_fees, false, &money);
    printf ("    money: %zu fulfilled, %zu no-shows, %zu cancelled (%zu late, %zu early); "
            "%zu charges; finance's cursor %llu of %llu; %d problems\n",
            money.fulfilled, money.noshows, money.cancelled, money.late_cancels,
            money.early_cancels, money.charges, (unsigned long long) money.fin_cursor,
            (unsigned long long) money.sched_high_seq, problems);
    fflush (stdout);
    CHECK (problems == 0);
    CHECK (money.fulfilled > 0 && money.noshows > 0);
    CHECK (money.late_cancels > 0 && money.early_cancels > 0);
    CHECK (money.charges == money.fulfilled + money.noshows + money.late_cancels);

    //  The check is not blind: at another price every visit is wrong, at
    //  another late-cancel fee every late cancellation.
    fault_money_t again;
    fault_fees_t fees = fault_clinic_fees;
    fees.price++;
    problems = fault_check_money (sc, fc, &fees, true, &again);
    fees = fault_clinic_fees;
    fees.late_fee++;
    int late_problems = fault_check_money (sc, fc, &fees, true, &again);
    printf ("    money: at a price off by one, the check finds %d problems; at a "
            "late-cancel fee off by one, %d\n", problems, late_problems);
    fflush (stdout);
    CHECK (problems == (int) money.fulfilled);
    CHECK (late_problems == (int) money.late_cancels);

    fault_risk_t risk;
    problems = fault_check_leave (sc, run.leaves, run.n_leaves, false, &risk);
    size_t in_leave = 0;
    for (int u = 0; u < run.n_leaves; u++) {
        in_leave += risk.in_leave[u];
    }
    printf ("    money: %d leaves approved; %zu bookings inside them, %zu flagged at risk "
            "(%zu flags); %d problems\n",
            run.n_leaves, in_leave, risk.flagged, risk.at_risk_events, problems);
    fflush (stdout);
    CHECK (problems == 0);
    CHECK (risk.in_leave[0] > 0 && risk.flagged == in_leave);
    CHECK (risk.at_risk_events == own);

    //  Not blind either: told the first leave was none, it finds each of
    //  that leave's flags wrong.
    size_t first = risk.in_leave[0];
    fault_leave_t wrong[8];
    memcpy (wrong, run.leaves, sizeof wrong);
    wrong[0].end = wrong[0].start;
    problems = fault_check_leave (sc, wrong, run.n_leaves, true, &risk);
    printf ("    money: told the first leave was none, the leave check finds %d problems "
            "(it held %zu bookings); %.1f s in all\n", problems, first,
            (double) (itest_now () - began) / 1000);
    fflush (stdout);
    CHECK (problems == (int) first);

    pm_client_destroy (&sc);
    pm_client_destroy (&fc);
    pm_client_destroy (&pc);
    pm_client_destroy (&run.staffing);
    fault_load_destroy (&run.desk);
    fault_load_destroy (&load);
    itest_cleanup (&fin);
    itest_cleanup (&sch);
    itest_cleanup (&pat);
    itest_cleanup (&stf);
}

//  --------------------------------------------------------------------------
//  A leave approved while scheduling is down (killed -9), and staffing
//  stalled (SIGSTOP) for a moment when scheduling comes back: a front
//  desk books the practitioner on that day before scheduling has heard of
//  the leave. Once it has, every booking of theirs inside the leave is
//  flagged at risk once: the one made before the approval, and the one
//  scheduling took without knowing (it was never checked against the
//  leave). Deterministic; the money case meets the same by chance.
static void
s_test_kill9_leave_unheard (void)
{
    itest_svc_t stf, pat, sch, fin;
    CHECK (fault_clinic_start (&stf, &pat, &sch, &fin, 1) == 0);
    pm_client_t *sc = itest_client (&sch);
    pm_client_t *st = itest_client (&stf);
    char before[PM_ID_MAX], unheard[PM_ID_MAX] = "";
    CHECK (fault_clinic_book_leave_day (sc, 0, 14, before) == 0);
    pm_client_destroy (&sc);
    itest_signal (&sch, SIGKILL);
    fault_leave_t leave;
    CHECK (fault_clinic_leave (st, 0, &leave) == 0);
    //  Staffing stalls while scheduling restarts: scheduling serves from
    //  what it has applied, and catches up once staffing answers.
    pid_t stalled = stf.pid;
    kill (stalled, SIGSTOP);
    int restarted = s_restart (&sch);
    sc = itest_client (&sch);
    int booked = restarted == 0 ? fault_clinic_book_leave_day (sc, 0, 15, unheard) : -1;
    kill (stalled, SIGCONT);
    CHECK (restarted == 0);
    uint64_t seq = fault_high_seq (st);
    CHECK (seq > 0 && fault_cursor_wait (sc, "staffing", seq, 30000) == seq);
    fault_risk_t risk;
    int problems = fault_check_leave (sc, &leave, 1, false, &risk);
    printf ("    leave: approved while scheduling was down; booked before it: %s, "
            "while scheduling had not heard of it: %s; %zu bookings inside, %zu "
            "flagged; %d problems\n", before, booked == 0 ? unheard : "(refused)",
            risk.in_leave[0], risk.flagged, problems);
    fflush (stdout);
    CHECK (problems == 0);
    CHECK (risk.in_leave[0] >= 1);
    pm_client_destroy (&sc);
    pm_client_destroy (&st);
    itest_cleanup (&fin);
    itest_cleanup (&sch);
    itest_cleanup (&pat);
    itest_cleanup (&stf);
}

static void
s_test_kill9_staffing (void)
{
    s_kill9 (&fault_staffing);
}

//  --------------------------------------------------------------------------
//  Recruitment and staffing (following its hires, and followed by it for
//  rosters) killed in turn while recruiters open requisitions and take
//  candidates to hire, decline, rejection or withdrawal. Then the history
//  checker on recruitment's stream, and the hire check: every hired
//  candidate exactly one staff member in staffing, nobody else any,
//  staffing's cursor at the stream's end.
static void
s_test_kill9_recruitment (void)
{
    uint64_t seed = fault_seed ("recruitment");
    int seconds = s_env_int ("FAULT_SECONDS", 20);
    int users = s_env_int ("FAULT_USERS", 6);
    int64_t began = itest_now ();
    itest_svc_t stf, rec;
    CHECK (fault_hiring_start (&stf, &rec) == 0);
    s_chaos_t chaos = {.victims = {&rec, &stf}, .n_victims = 2, .down = -1};
    fault_rng_init (&chaos.rng, seed ^ 0xC4A05);
    chaos.next_kill = itest_now () + 300 + (int64_t) fault_rand (&chaos.rng, 700);
    fault_load_t *load = fault_load_new (&fault_recruitment, &rec, users, seed);
    fault_load_run (load, seconds * 1000, s_chaos_tick, &chaos);
    CHECK (!chaos.start_failed);
    if (chaos.down >= 0) {
        CHECK (s_restart (chaos.victims[chaos.down]) == 0);
    }
    CHECK (fault_load_drain (load, 30000) == 0);
    const fault_history_t *h = fault_load_history (load);
    printf ("    recruitment: %zu commands acknowledged by %d clients in %d s; %d kills "
            "of recruitment, %d of staffing; %zu tries resent\n",
            h->n, users, seconds, chaos.kills[0], chaos.kills[1], h->resent);
    fflush (stdout);
    CHECK (h->refused == 0);
    CHECK (chaos.kills[0] >= 1 && chaos.kills[1] >= 1);

    pm_client_t *rc = itest_client (&rec);
    pm_client_t *sc = itest_client (&stf);
    fault_stream_t stream;
    int problems = fault_check_history (&fault_recruitment, rc, h, &stream);
    printf ("    recruitment: stream of %llu events, %zu records (requisitions, "
            "candidates, applications); history: %d problems\n",
            (unsigned long long) stream.high_seq, stream.n_subjects, problems);
    fflush (stdout);
    fault_stream_free (&stream);
    CHECK (problems == 0);
    CHECK (s_history_selftest (&fault_recruitment, rc, h) == 2);

    fault_hires_t hires;
    problems = fault_check_hires (rc, sc, NULL, false, &hires);
    printf ("    recruitment: %zu candidates hired; staffing lists %zu staff, rejected "
            "%zu hires; its cursor %llu of %llu (recruitment's on staffing %llu of %llu); "
            "%d problems\n",
            hires.hired, hires.staff, hires.rejected,
            (unsigned long long) hires.stf_cursor, (unsigned long long) hires.rec_high_seq,
            (unsigned long long) hires.rec_cursor, (unsigned long long) hires.stf_high_seq,
            problems);
    fflush (stdout);
    CHECK (problems == 0);
    CHECK (hires.hired > 0 && hires.staff == hires.hired);

    //  The check is not blind: told one hire never happened, it finds
    //  that candidate's staff record.
    char dropped[PM_ID_MAX] = "";
    Pm__Event **events = NULL;
    long n = itest_read_stream (rc, &events);
    for (long i = 0; i < n; i++) {
        if (!dropped[0] && strcmp (events[i]->type, "recruitment.candidate.hired") == 0) {
            snprintf (dropped, sizeof dropped, "%s", events[i]->subject);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    fault_hires_t again;
    problems = fault_check_hires (rc, sc, dropped, true, &again);
    printf ("    recruitment: told %s was never hired, the check finds %d problem(s); "
            "%.1f s in all\n", dropped, problems, (double) (itest_now () - began) / 1000);
    fflush (stdout);
    CHECK (problems == 1);

    pm_client_destroy (&rc);
    pm_client_destroy (&sc);
    fault_load_destroy (&load);
    itest_cleanup (&rec);
    itest_cleanup (&stf);
}

static const itest_case_t s_cases[] = {
    {"kill9_patients_and_consumer", s_test_kill9_patients},
    {"kill9_money", s_test_kill9_money},
    {"kill9_staffing", s_test_kill9_staffing},
    {"kill9_recruitment", s_test_kill9_recruitment},
    {"kill9_leave_unheard", s_test_kill9_leave_unheard},
    {NULL, NULL},
};

//  --------------------------------------------------------------------------
//  Runs the case through the itest runner.
int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
