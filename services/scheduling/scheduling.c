/*  scheduling.c: sets the scheduling service up on a server: its store,
    its handlers, the streams it follows and its timed work. Shared by
    main.c and the fuzz harness (tests/fuzz/fuzz_cmd.c).                 */
#include <stdio.h>
#include <stdlib.h>

#include "pm_cfg.h"
#include "pm_log.h"
#include "scheduling.h"
#include "scheduling_appts.h"
#include "scheduling_feeds.h"
#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"
#include "scheduling_views.h"
#include "scheduling_waitlist.h"

static const struct {
    const char *type;
    pm_handler_fn *fn;
} s_handlers[] = {
    {"scheduling.DefineType", sch_define_type},
    {"scheduling.UpdateType", sch_update_type},
    {"scheduling.GetType", sch_get_type},
    {"scheduling.ListTypes", sch_list_types},
    {"scheduling.FindSlots", sch_find_slots},
    {"scheduling.HoldSlot", sch_hold},
    {"scheduling.ReleaseHold", sch_release_hold},
    {"scheduling.Book", sch_book},
    {"scheduling.Get", sch_get},
    {"scheduling.List", sch_list},
    {"scheduling.Reschedule", sch_reschedule},
    {"scheduling.Arrive", sch_arrive},
    {"scheduling.CheckIn", sch_check_in},
    {"scheduling.Fulfil", sch_fulfil},
    {"scheduling.Cancel", sch_cancel},
    {"scheduling.NoShow", sch_noshow},
    {"scheduling.EnteredInError", sch_entered_in_error},
    {"scheduling.Reset", sch_reset},
    {"scheduling.BookSeries", sch_book_series},
    {"scheduling.CancelSeries", sch_cancel_series},
    {"scheduling.RescheduleSeries", sch_reschedule_series},
    {"scheduling.ListAtRisk", sch_list_at_risk},
    {"scheduling.DaySheet", sch_day_sheet},
    {"scheduling.Utilisation", sch_utilisation},
    {"scheduling.ExportCalendar", sch_export_calendar},
    {"scheduling.AddToWaitlist", sch_waitlist_add},
    {"scheduling.AcceptOffer", sch_waitlist_accept},
    {"scheduling.DeclineOffer", sch_waitlist_decline},
    {"scheduling.RemoveFromWaitlist", sch_waitlist_remove},
    {"scheduling.ListWaitlist", sch_waitlist_list},
};

//  How many merges deep a record is (0: living, or not merged).
static int
s_merge_depth (MDB_txn *txn, const char *id)
{
    char cur[PM_ID_MAX];
    snprintf (cur, sizeof cur, "%s", id);
    for (int depth = 0; depth < 8; depth++) {
        Pm__Scheduling__PatientRef *p = NULL;
        if (sch_load (txn, sch_db.patients, cur, &pm__scheduling__patient_ref__descriptor,
                      (ProtobufCMessage **) &p) != PM_OK) {
            return depth;
        }
        bool merged = p->replaced_by && *p->replaced_by;
        if (merged) {
            snprintf (cur, sizeof cur, "%s", p->replaced_by);
        }
        pm__scheduling__patient_ref__free_unpacked (p, NULL);
        if (!merged) {
            return depth;
        }
    }
    return 8;
}

//  A merged record and where it went.
typedef struct {
    char id[PM_ID_MAX], to[PM_ID_MAX];
    int depth;
} s_merged_t;

//  Deepest first: a record merged into one merged later moves one step
//  at a time, as the merges themselves would have moved it.
static int
s_merged_cmp (const void *a, const void *b)
{
    return ((const s_merged_t *) b)->depth - ((const s_merged_t *) a)->depth;
}

//  Stores older than the patient index applied merges to the patients
//  projection without moving appointments. Once ('M' "merge-catch-up"),
//  every appointment of a record that is merged now is re-pointed to its
//  survivor as the merge would have (scheduling.appointment.repointed
//  each), through the write path. *done once the marker is committed.
static pm_err
s_merge_catch_up (pm_ctx_t *ctx, bool *done)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t marker;
    pm_key_init (&marker, 'M');
    pm_key_str (&marker, SCH_MARK_MERGE_CATCH_UP);
    MDB_val val;
    pm_err rc = pm_store_get (txn, sch_db.index, marker.b, marker.len, &val);
    if (rc == PM_OK) {
        *done = true; //  committed by an earlier run
        return PM_OK;
    }
    if (rc != PM_ENOTFOUND) {
        return rc;
    }
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.patients, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    s_merged_t *merged = NULL;
    size_t n = 0;
    MDB_val key;
    rc = PM_OK;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_FIRST);
    while (rc == PM_OK && mrc == 0) {
        Pm__Scheduling__PatientRef *p
            = pm__scheduling__patient_ref__unpack (NULL, val.mv_size, val.mv_data);
        if (p && p->id && p->replaced_by && *p->replaced_by) {
            s_merged_t *more = realloc (merged, (n + 1) * sizeof *merged);
            if (!more) {
                rc = PM_EINTERNAL;
            }
            else {
                merged = more;
                snprintf (merged[n].id, PM_ID_MAX, "%s", p->id);
                snprintf (merged[n].to, PM_ID_MAX, "%s", p->replaced_by);
                n++;
            }
        }
        pm__scheduling__patient_ref__free_unpacked (p, NULL);
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    for (size_t i = 0; i < n; i++) {
        merged[i].depth = s_merge_depth (txn, merged[i].id);
    }
    if (n > 1) {
        qsort (merged, n, sizeof *merged, s_merged_cmp);
    }
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rc = sch_repoint (ctx, merged[i].id, merged[i].to, false);
    }
    free (merged);
    if (rc == PM_OK) {
        rc = pm_store_put (txn, sch_db.index, marker.b, marker.len, "", 0, 0);
    }
    if (rc == PM_OK && n > 0) {
        char count[24];
        snprintf (count, sizeof count, "%zu", n);
        pm_info ("appointments of records merged before the patient index re-pointed",
                 "merged_records", count, NULL);
    }
    return rc;
}

static bool s_caught_up; //  the merge catch-up's marker was seen committed

//  Timed work: the one-time merge catch-up (a marker read per run until
//  it is seen), then lapsed holds and automatic no-shows.
static pm_err
s_tick (pm_ctx_t *ctx)
{
    pm_err rc = s_caught_up ? PM_OK : s_merge_catch_up (ctx, &s_caught_up);
    return rc == PM_OK ? sch_tick (ctx) : rc;
}

//  --------------------------------------------------------------------------
int
scheduling_setup (pm_server_t *server)
{
    if (sch_store_open (pm_server_store (server)) != 0
        || sch_store_migrate (pm_server_store (server)) != 0) {
        return -1;
    }
    for (size_t i = 0; i < sizeof s_handlers / sizeof s_handlers[0]; i++) {
        pm_server_handle (server, s_handlers[i].type, s_handlers[i].fn);
    }
    pm_server_follow (server, "staffing", sch_feed_staffing, sch_reset_staffing);
    pm_server_follow (server, "patients", sch_feed_patients, sch_reset_patients);
    int64_t early = pm_cfg_int ("PM_SCHEDULING_EARLY_ARRIVAL_MINUTES", 120);
    sch_early_arrival_ms = (early >= 0 && early <= 1440 ? early : 120) * SCH_MINUTE_MS;
    int64_t offer = pm_cfg_int ("PM_SCHEDULING_OFFER_SECONDS", 900);
    sch_offer_ms = (offer >= 1 && offer <= 86400 ? offer : 900) * 1000;
    int tick = (int) pm_cfg_int ("PM_SCHEDULING_TICK_MS", 10000);
    s_caught_up = false;
    pm_server_every (server, tick > 0 ? tick : 10000, s_tick);
    return 0;
}
