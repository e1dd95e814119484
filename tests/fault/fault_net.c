/*  fault_net.c: a consumer cut off from its producer (make test-fault).

    run-fault.sh makes two network namespaces joined by a veth pair (the
    only place its 10.x addresses exist) and runs this test in the first:
    pm-patients runs here, the consumer (pm_mirror) in the other one and
    reaches patients over the link. Under a steady load the link is cut
    (ip link set down) twice while writes go on: once for a few seconds,
    once for longer than the sockets' heartbeat timeout, so that the
    connections die and come back. After each heal the consumer
    converges: its cursor reaches the producer's high seq, it applied
    every event once and its records equal a fresh replay.

    Settings (from run-fault.sh): FAULT_NET_LINK (the veth here),
    FAULT_NET_SELF / FAULT_NET_PEER (the two addresses), FAULT_NET_PEER_BIN
    (a directory of wrappers that run a program in the other namespace).
    FAULT_SEED replays the moments of the cuts.                         */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"

#define SHORT_CUT_MS 3000
#define LONG_CUT_MS 8000   //  longer than the ZMTP heartbeat timeout (6 s)

typedef struct {
    const char *link;
    int64_t started;
    int64_t cuts[2][2];     //  [cut][down at, up at], ms after start
    int state;              //  0 up before cut 1, 1 down, 2 up, 3 down, 4 up
    bool failed;
    size_t acked_at_cut;    //  acknowledged writes when the last cut began
    size_t acked_in_cuts;   //  acknowledged while the link was down
    fault_load_t *load;
} s_cutter_t;

//  --------------------------------------------------------------------------
//  Sets the link up or down.
static int
s_link (const char *link, bool up)
{
    char cmd[128];
    snprintf (cmd, sizeof cmd, "ip link set dev '%s' %s", link, up ? "up" : "down");
    return system (cmd);
}

//  --------------------------------------------------------------------------
//  Between polls of the load: cuts or heals the link when its time comes.
static void
s_cutter_tick (void *arg)
{
    s_cutter_t *c = arg;
    int64_t t = itest_now () - c->started;
    size_t acked = fault_load_history (c->load)->n;
    if ((c->state == 0 && t >= c->cuts[0][0]) || (c->state == 2 && t >= c->cuts[1][0])) {
        printf ("    net: link down at %.1f s (%zu writes acknowledged)\n",
                (double) t / 1000.0, acked);
        fflush (stdout);
        c->failed |= s_link (c->link, false) != 0;
        c->acked_at_cut = acked;
        c->state++;
    }
    else if ((c->state == 1 && t >= c->cuts[0][1]) || (c->state == 3 && t >= c->cuts[1][1])) {
        c->failed |= s_link (c->link, true) != 0;
        c->acked_in_cuts += acked - c->acked_at_cut;
        printf ("    net: link up at %.1f s (%zu writes acknowledged while down)\n",
                (double) t / 1000.0, acked - c->acked_at_cut);
        fflush (stdout);
        c->state++;
    }
}

//  "tcp://0.0.0.0:1234" -> 1234
static int
s_port (const char *endpoint)
{
    const char *colon = strrchr (endpoint, ':');
    return colon ? atoi (colon + 1) : 0;
}

//  --------------------------------------------------------------------------
//  How many catch-up reads the mirror's follower has sent.
static uint64_t
s_catch_ups (pm_client_t *mirror)
{
    Pm__Health *h = itest_health (mirror);
    uint64_t n = h && h->n_consumers == 1 ? h->consumers[0]->catch_ups : 0;
    pm__health__free_unpacked (h, NULL);
    return n;
}

//  Waits until the mirror has everything in the stream, then checks it
//  against the stream and a fresh replay.
static int
s_converged (const fault_workload_t *w, pm_client_t *pc, pm_client_t *mc,
             pm_client_t *fc, fault_history_t const *h, fault_rng_t *rng,
             const char *when)
{
    fault_stream_t stream;
    int problems = fault_check_history (w, pc, h, &stream);
    Pm__Test__MirrorStats *stats = fault_mirror_wait (mc, &stream, 60000);
    if (!stats) {
        problems++;
    }
    else {
        printf ("    net: %s: consumer converged: %llu events applied, "
                "%llu duplicates\n",
                when, (unsigned long long) stats->applied,
                (unsigned long long) stats->duplicates);
        fflush (stdout);
    }
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    if (fc) {
        stats = fault_mirror_wait (fc, &stream, 60000);
        problems += !stats;
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        problems += fault_mirror_check (mc, fc, &stream, 0, rng);
    }
    fault_stream_free (&stream);
    return problems;
}

//  --------------------------------------------------------------------------
static void
s_test_partition_heals (void)
{
    const char *link = getenv ("FAULT_NET_LINK");
    const char *self_addr = getenv ("FAULT_NET_SELF");
    const char *peer_addr = getenv ("FAULT_NET_PEER");
    const char *peer_bin = getenv ("FAULT_NET_PEER_BIN");
    if (!link || !self_addr || !peer_addr || !peer_bin) {
        fprintf (stderr, "    FAULT_NET_* are not set: run through tests/fault/run-fault.sh\n");
    }
    CHECK (link && self_addr && peer_addr && peer_bin);
    uint64_t seed = fault_seed ("net");
    fault_rng_t rng;
    fault_rng_init (&rng, seed);
    const fault_workload_t *w = &fault_patients;

    //  The producer listens on every address of this namespace: the
    //  consumer comes over the link, test clients over loopback.
    itest_svc_t pat, mir, fresh;
    itest_svc_init (&pat, w->service, w->binary);
    snprintf (pat.commands, sizeof pat.commands, "tcp://0.0.0.0:*");
    snprintf (pat.events, sizeof pat.events, "tcp://0.0.0.0:*");
    CHECK (itest_start (&pat) == 0);
    int cport = s_port (pat.commands), eport = s_port (pat.events);
    snprintf (pat.commands, sizeof pat.commands, "tcp://127.0.0.1:%d", cport);
    char remote_cmd[96], remote_ev[96];
    snprintf (remote_cmd, sizeof remote_cmd, "PM_PATIENTS_ENDPOINT=tcp://%s:%d",
              self_addr, cport);
    snprintf (remote_ev, sizeof remote_ev, "PM_PATIENTS_EVENTS=tcp://%s:%d",
              self_addr, eport);

    //  Two consumers in the other namespace: the one cut off, and a fresh
    //  one started after the heal to replay from seq 1.
    itest_svc_t *mirrors[] = {&mir, &fresh};
    for (int i = 0; i < 2; i++) {
        itest_svc_init (mirrors[i], "mirror", "pm_mirror");
        snprintf (mirrors[i]->binary, sizeof mirrors[i]->binary, "%s/pm_mirror",
                  peer_bin);
        snprintf (mirrors[i]->commands, sizeof mirrors[i]->commands, "tcp://%s:*",
                  peer_addr);
        snprintf (mirrors[i]->events, sizeof mirrors[i]->events, "tcp://%s:*",
                  peer_addr);
        mirrors[i]->env[0] = remote_cmd;
        mirrors[i]->env[1] = remote_ev;
    }
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);

    //  The load runs through both cuts; the cuts start at seeded moments.
    s_cutter_t cutter = {.link = link};
    cutter.cuts[0][0] = 1000 + (int64_t) fault_rand (&rng, 1000);
    cutter.cuts[0][1] = cutter.cuts[0][0] + SHORT_CUT_MS;
    cutter.cuts[1][0] = cutter.cuts[0][1] + 1500 + (int64_t) fault_rand (&rng, 1000);
    cutter.cuts[1][1] = cutter.cuts[1][0] + LONG_CUT_MS;
    fault_load_t *load = fault_load_new (w, &pat, 4, seed);
    cutter.load = load;
    cutter.started = itest_now ();
    uint64_t catch_ups = s_catch_ups (mc);
    fault_load_run (load, (int) cutter.cuts[1][1] + 1500, s_cutter_tick, &cutter);
    if (cutter.state % 2 == 1) {
        s_link (link, true); //  never leave it down
    }
    CHECK (!cutter.failed && cutter.state == 4);
    CHECK (fault_load_drain (load, 30000) == 0);
    const fault_history_t *h = fault_load_history (load);
    CHECK (h->refused == 0);
    //  Writes went on while the consumer was cut off.
    CHECK (cutter.acked_in_cuts > 0);

    //  Converged, with no duplicate, and the same as a fresh replay.
    CHECK (itest_start (&fresh) == 0);
    pm_client_t *fc = itest_client (&fresh);
    CHECK (s_converged (w, pc, mc, fc, h, &rng, "after the cuts") == 0);
    uint64_t catch_ups_after = s_catch_ups (mc);
    printf ("    net: %zu writes in all; consumer catch-up reads %llu -> %llu\n", h->n,
            (unsigned long long) catch_ups, (unsigned long long) catch_ups_after);
    fflush (stdout);
    //  What the dead connections lost was read back, not skipped.
    CHECK (catch_ups_after > catch_ups);

    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    pm_client_destroy (&fc);
    fault_load_destroy (&load);
    itest_cleanup (&fresh);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

static const itest_case_t s_cases[] = {
    {"partition_then_heal_converges", s_test_partition_heals},
    {NULL, NULL},
};

//  --------------------------------------------------------------------------
//  Runs the case through the itest runner.
int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
