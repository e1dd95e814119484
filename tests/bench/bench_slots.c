/*  bench_slots.c: scheduling.FindSlots on a calendar of 1,000,000
    appointments, through the real protocol.

    Filling: booking a million appointments through the protocol would
    take longer than the benchmark is worth, so the store is written
    in-process with the service's own store code (scheduling_store.c and
    scheduling_slots.c are compiled into this program): the staffing
    projection (sites, practitioners with their shifts), one appointment
    type per site, and the appointments with their occupancy and start
    indexes, exactly the records and keys a Book writes. Then the real
    pm-scheduling binary is started on that store (CURVE on, loopback)
    and searched through its command socket.

    The calendar: 5 sites, 100 practitioners each (500), 100 days from
    2031-01-06, a 10-hour shift per day (08:00-18:00 UTC), a 20-minute
    type: 30 slots a day, 20 of them booked (every third left free), so
    500 x 100 x 20 = 1,000,000 appointments.

    Measured, each on random practitioners and days (closed loop, one
    client, round trip):
      one     one practitioner, one day, limit 10 (the front desk's search)
      week    one practitioner, seven days, limit 50
      any     every practitioner of a site, one day, limit 10
    It prints p50/p99/max per kind and the fill time. BENCH_APPTS sets
    the number of appointments (default 1000000; rounded to whole days).
    A benchmark, not a test: missing the 2 ms target changes no exit
    status, an error does.                                                */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "itest.h"

//  The service's own store code (not linked into benchmarks otherwise).
#include "scheduling_store.c"
#include "scheduling_slots.c"
#include "scheduling_types.c"
#include "scheduling_tz.c"

#define SITES 5
#define PER_SITE 100
#define SLOTS_PER_DAY 30
#define BOOKED_PER_DAY 20
#define DUR_MIN 20
#define DAY_MS 86400000LL
#define RUNS 2000

static int64_t s_first_day;    //  2031-01-06T00:00Z

//  --------------------------------------------------------------------------
//  Orders latencies.
static int
s_cmp (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return x < y ? -1 : x > y;
}

static char s_ids[SITES * PER_SITE][PM_ID_MAX]; //  the practitioners

//  The practitioner id of number `n` (made once: ids carry random bits).
static void
s_stf (int n, char *out)
{
    if (!s_ids[n][0]) {
        pm_id_new ("stf", 1900000000000LL + n, s_ids[n]);
    }
    snprintf (out, PM_ID_MAX, "%s", s_ids[n]);
}

//  --------------------------------------------------------------------------
//  Writes the staffing projection, the types and the appointments.
static int
s_fill (const char *dir, int days, char types[SITES][PM_ID_MAX], long *n_appts)
{
    char path[300];
    snprintf (path, sizeof path, "%s/store", dir); //  where itest_start points it
    mkdir (path, 0700);
    pm_store_t *store = pm_store_new (path, 8ULL << 30, 64ULL << 30);
    if (!store || sch_store_open (store) != 0) {
        fprintf (stderr, "bench: cannot open the store in %s\n", dir);
        return -1;
    }
    MDB_txn *txn;
    if (pm_store_begin (store, NULL, true, &txn) != PM_OK) {
        return -1;
    }
    pm_err rc = PM_OK;
    int64_t now = 1900000000000LL;
    char site_ids[SITES][16];
    for (int s = 0; rc == PM_OK && s < SITES; s++) {
        snprintf (site_ids[s], sizeof site_ids[s], "site%d", s);
        Pm__Staffing__Site site = PM__STAFFING__SITE__INIT;
        site.id = site_ids[s];
        site.name = site_ids[s];
        site.time_zone = "Europe/Berlin";
        site.has_status = 1;
        site.status = PM__STAFFING__SITE_STATUS__SITE_OPEN;
        rc = sch_save (txn, sch_db.sites, site.id, &site.base);
        Pm__Scheduling__AppointmentType t = PM__SCHEDULING__APPOINTMENT_TYPE__INIT;
        pm_id_new ("atp", now + s, types[s]);
        t.id = types[s];
        t.site_id = site_ids[s];
        t.name = "Consultation";
        t.has_duration_minutes = t.has_capacity = t.has_telehealth = t.has_active = 1;
        t.has_version = 1;
        t.version = 1;
        t.duration_minutes = DUR_MIN;
        t.capacity = 1;
        t.telehealth = true;
        t.active = true;
        t.practitioner_role = "physician";
        t.price_code = "consult";
        if (rc == PM_OK) {
            rc = sch_save (txn, sch_db.types, t.id, &t.base);
        }
        pm_key_t k;
        pm_key_init (&k, 't');
        pm_key_str (&k, site_ids[s]);
        pm_key_str (&k, t.id);
        if (rc == PM_OK) {
            rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
        }
    }
    char *roles[] = {"physician"};
    long count = 0;
    for (int p = 0; rc == PM_OK && p < SITES * PER_SITE; p++) {
        int s = p / PER_SITE;
        char stf[PM_ID_MAX];
        s_stf (p, stf);
        Pm__Staffing__SiteAssignment as = PM__STAFFING__SITE_ASSIGNMENT__INIT;
        Pm__Staffing__SiteAssignment *asp = &as;
        as.site_id = site_ids[s];
        Pm__Staffing__Staff st = PM__STAFFING__STAFF__INIT;
        st.id = stf;
        st.n_roles = 1;
        st.roles = roles;
        st.n_sites = 1;
        st.sites = &asp;
        st.has_status = 1;
        st.status = PM__STAFFING__STAFF_STATUS__ACTIVE;
        rc = sch_save (txn, sch_db.staff, stf, &st.base);
        pm_key_t k;
        pm_key_init (&k, 's');
        pm_key_str (&k, site_ids[s]);
        pm_key_str (&k, stf);
        if (rc == PM_OK) {
            rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
        }
        Pm__Scheduling__AppointmentType *type = NULL;
        if (rc == PM_OK) {
            rc = sch_load (txn, sch_db.types, types[s],
                           &pm__scheduling__appointment_type__descriptor,
                           (ProtobufCMessage **) &type);
        }
        for (int d = 0; rc == PM_OK && d < days; d++) {
            int64_t shift = s_first_day + d * DAY_MS + 8 * 3600000LL;
            //  The shift, as the staffing feed stores it.
            char shf[PM_ID_MAX];
            pm_id_new ("shf", now + (int64_t) p * days + d, shf);
            pm_key_init (&k, 'w');
            pm_key_str (&k, stf);
            pm_key_u64 (&k, (uint64_t) shift);
            pm_key_str (&k, shf);
            uint8_t val[8 + 16];
            size_t slen = strlen (site_ids[s]);
            pm_be64_put (val, (uint64_t) (shift + 10 * 3600000LL));
            memcpy (val + 8, site_ids[s], slen);
            rc = pm_store_put (txn, sch_db.index, k.b, k.len, val, 8 + slen, 0);
            for (int i = 0; rc == PM_OK && i < SLOTS_PER_DAY; i++) {
                if (i % 3 == 1) {
                    continue; //  left free
                }
                char id[PM_ID_MAX];
                pm_id_new ("apt", now + count, id);
                sch_slot_t slot = {.type = type, .practitioner_id = stf};
                slot.start = shift + (int64_t) i * DUR_MIN * SCH_MINUTE_MS;
                slot.end = slot.busy_until = slot.start + DUR_MIN * SCH_MINUTE_MS;
                rc = sch_slot_take (txn, &slot, id);
                Pm__Scheduling__Appointment a = PM__SCHEDULING__APPOINTMENT__INIT;
                a.id = id;
                a.patient_id = "pat_bench";
                a.practitioner_id = stf;
                a.site_id = site_ids[s];
                a.type_id = types[s];
                a.has_start = a.has_end = a.has_status = a.has_version = 1;
                a.start = slot.start;
                a.end = slot.end;
                a.status = PM__SCHEDULING__APPOINTMENT_STATUS__APPOINTMENT_BOOKED;
                a.version = 1;
                a.price_code = type->price_code;
                a.has_telehealth = a.has_created_at = 1;
                a.telehealth = true;
                a.created_at = now;
                if (rc == PM_OK) {
                    rc = sch_save (txn, sch_db.appts, id, &a.base);
                }
                pm_key_init (&k, 'a');
                pm_key_str (&k, a.site_id);
                pm_key_u64 (&k, (uint64_t) a.start);
                pm_key_str (&k, id);
                if (rc == PM_OK) {
                    rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
                }
                pm_key_init (&k, 'b');
                pm_key_u64 (&k, (uint64_t) a.start);
                pm_key_str (&k, id);
                if (rc == PM_OK) {
                    rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
                }
                count++;
            }
        }
        pm__scheduling__appointment_type__free_unpacked (type, NULL);
        //  A commit per practitioner keeps the dirty pages bounded.
        if (rc == PM_OK) {
            rc = pm_store_commit (txn);
            txn = NULL;
        }
        if (rc == PM_OK && p + 1 < SITES * PER_SITE) {
            rc = pm_store_begin (store, NULL, true, &txn);
        }
    }
    if (txn) {
        pm_store_abort (txn);
    }
    uint64_t size, used;
    pm_store_usage (store, &size, &used);
    printf ("store: %.0f MiB used\n", (double) used / (1 << 20));
    pm_store_destroy (&store);
    *n_appts = count;
    if (rc != PM_OK) {
        fprintf (stderr, "bench: filling failed: %s\n", pm_err_name (rc));
        return -1;
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Runs one kind of search RUNS times; prints its figures. -1 on an error.
static int
s_measure (pm_client_t *client, const char *name, char types[SITES][PM_ID_MAX], int days,
           bool any, int span_days, uint32_t limit, unsigned seed)
{
    srand (seed);
    int64_t *took = calloc (RUNS, sizeof *took);
    size_t slots = 0;
    int rc = 0;
    for (int i = 0; rc == 0 && i < RUNS; i++) {
        int p = rand () % (SITES * PER_SITE);
        int d = rand () % (days - span_days + 1);
        char stf[PM_ID_MAX];
        s_stf (p, stf);
        Pm__Scheduling__FindSlots req = PM__SCHEDULING__FIND_SLOTS__INIT;
        req.type_id = types[p / PER_SITE];
        req.practitioner_id = any ? NULL : stf;
        req.has_from = req.has_to = req.has_limit = 1;
        req.from = s_first_day + d * DAY_MS;
        req.to = req.from + span_days * DAY_MS;
        req.limit = limit;
        int64_t t0 = zclock_usecs ();
        Pm__Reply *r = itest_call (client, "scheduling.FindSlots", &req.base);
        took[i] = zclock_usecs () - t0;
        Pm__Scheduling__SlotList *l = r && r->code == 0
            ? pm__scheduling__slot_list__unpack (NULL, r->body.len, r->body.data) : NULL;
        if (!l || l->n_slots == 0) {
            fprintf (stderr, "bench: %s: %s\n", name,
                     r ? (r->message ? r->message : "no slots") : "no reply");
            rc = -1;
        }
        else {
            slots += l->n_slots;
        }
        pm__scheduling__slot_list__free_unpacked (l, NULL);
        pm__reply__free_unpacked (r, NULL);
    }
    if (rc == 0) {
        qsort (took, RUNS, sizeof *took, s_cmp);
        printf ("%-6s %6d %9.1f %8.3f %8.3f %8.3f\n", name, RUNS, (double) slots / RUNS,
                took[RUNS / 2] / 1000.0, took[RUNS * 99 / 100] / 1000.0,
                took[RUNS - 1] / 1000.0);
        fflush (stdout);
    }
    free (took);
    return rc;
}

//  --------------------------------------------------------------------------
//  Fills, starts pm-scheduling on the store, measures.
int
main (void)
{
    pm_log_init ("bench", "error");
    long want = 1000000;
    const char *env = getenv ("BENCH_APPTS");
    if (env && atol (env) > 0) {
        want = atol (env);
    }
    int days = (int) ((want + SITES * PER_SITE * BOOKED_PER_DAY - 1)
                      / (SITES * PER_SITE * BOOKED_PER_DAY));
    if (days < 7) {
        days = 7;
    }
    struct tm tm = {.tm_year = 131, .tm_mon = 0, .tm_mday = 6};
    s_first_day = (int64_t) timegm (&tm) * 1000;

    itest_svc_t svc;
    itest_svc_init (&svc, "scheduling", "pm-scheduling");
    char types[SITES][PM_ID_MAX];
    long n = 0;
    int64_t t0 = zclock_mono ();
    if (s_fill (svc.dir, days, types, &n) != 0) {
        itest_cleanup (&svc);
        return 1;
    }
    printf ("filled %ld appointments (%d practitioners, %d days) in %.1f s, in-process\n", n,
            SITES * PER_SITE, days, (zclock_mono () - t0) / 1000.0);
    //  A tick far away: the timed work is not what is measured.
    svc.env[0] = "PM_SCHEDULING_TICK_MS=3600000";
    svc.env[1] = NULL;
    if (itest_start (&svc) != 0) {
        fprintf (stderr, "bench: pm-scheduling did not start on the store (%s)\n", svc.log);
        itest_cleanup (&svc);
        return 1;
    }
    pm_client_t *client = itest_client (&svc);
    printf ("\nscheduling.FindSlots through the protocol (CURVE, loopback), round trip,\n"
            "random practitioner and day, %ld appointments stored\n\n", n);
    printf ("%-6s %6s %9s %8s %8s %8s\n", "search", "runs", "slots/q", "p50 ms", "p99 ms",
            "max ms");
    int rc = s_measure (client, "one", types, days, false, 1, 10, 1);
    if (rc == 0) {
        rc = s_measure (client, "week", types, days, false, 7, 50, 2);
    }
    if (rc == 0) {
        rc = s_measure (client, "any", types, days, true, 1, 10, 3);
    }
    pm_client_destroy (&client);
    itest_cleanup (&svc);
    sch_tz_shutdown ();
    printf ("\ntarget: p99 under 2 ms for one practitioner's day with 1,000,000 stored\n");
    return rc == 0 ? 0 : 1;
}
