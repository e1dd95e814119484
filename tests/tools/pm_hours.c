/*  pm_hours: a consumer of the staffing stream for the tests, shaped like
    scheduling's use of it: it follows staffing with the runtime's
    follower (durable cursor in the same transaction as the projection,
    catch-up, rebuild on a new stream) and keeps each staff member's
    rostered minutes from staffing.shift.assigned (+) and
    staffing.shift.unassigned (-, for released_staff_id).

    It answers with pm_test.proto's mirror messages:
      hours.Stats -> MirrorStats: applied (every event), patients (shifts
        seen), duplicates (shift events whose version was not newer: must
        stay 0), rebuilds, applied_this_run, version_sum (latest version
        of each shift, summed)
      hours.Get {id: staff id} -> MirrorEntry: version = rostered minutes,
        events = shift events that changed them                          */
#include <stdio.h>
#include <string.h>

#include "pm.h"
#include "pm_test.pb-c.h"
#include "staffing.pb-c.h"

static MDB_dbi s_shifts;  //  shift id -> MirrorEntry (latest version)
static MDB_dbi s_staff;   //  staff id -> MirrorEntry (minutes)
static MDB_dbi s_counts;  //  counter name -> be64
static uint64_t s_applied_this_run;

static const pm_command_def_t s_commands[] = {
    {"hours.Stats", PM_READ, NULL, &pm__test__mirror_stats__descriptor,
     "what was applied", PM_ROLES_ALL},
    {"hours.Get", PM_READ, &pm__test__mirror_get__descriptor,
     &pm__test__mirror_entry__descriptor, "one person's rostered minutes",
     PM_ROLES_ALL},
    {NULL, 0, NULL, NULL, NULL, 0},
};
static const pm_event_def_t s_events[] = {{NULL, NULL}};
static const pm_schema_t s_schema = {"hours", s_commands, s_events};

static uint64_t
s_count_get (MDB_txn *txn, const char *name)
{
    MDB_val val;
    if (pm_store_get (txn, s_counts, name, strlen (name), &val) == PM_OK
        && val.mv_size == 8) {
        return pm_be64_get (val.mv_data);
    }
    return 0;
}

static pm_err
s_count_add (MDB_txn *txn, const char *name, uint64_t n)
{
    uint8_t buf[8];
    pm_be64_put (buf, s_count_get (txn, name) + n);
    return pm_store_put (txn, s_counts, name, strlen (name), buf, 8, 0);
}

//  Adds `minutes` (may be negative) to a staff member's total.
static pm_err
s_minutes (MDB_txn *txn, const char *staff_id, int64_t minutes)
{
    Pm__Test__MirrorEntry *old = NULL;
    pm_err rc = pm_store_get_msg (txn, s_staff, staff_id, strlen (staff_id),
                                  &pm__test__mirror_entry__descriptor,
                                  (ProtobufCMessage **) &old);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        return rc;
    }
    Pm__Test__MirrorEntry e = PM__TEST__MIRROR_ENTRY__INIT;
    e.id = (char *) staff_id;
    e.has_version = e.has_events = 1;
    e.version = (uint64_t) ((old ? (int64_t) old->version : 0) + minutes);
    e.events = (old ? old->events : 0) + 1;
    rc = pm_store_put_msg (txn, s_staff, staff_id, strlen (staff_id), &e.base, 0);
    pm__test__mirror_entry__free_unpacked (old, NULL);
    return rc;
}

static pm_err
s_apply (pm_ctx_t *ctx, const Pm__Event *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = s_count_add (txn, "applied", 1);
    if (rc == PM_OK) {
        s_applied_this_run++;
    }
    if (rc != PM_OK || strncmp (event->type, "staffing.shift.", 15) != 0) {
        return rc; //  not a shift; the cursor still moves past it
    }
    Pm__Staffing__Shift *sh = pm__staffing__shift__unpack (NULL, event->data.len,
                                                          event->data.data);
    if (!sh || !sh->id) {
        pm__staffing__shift__free_unpacked (sh, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a shift");
    }
    Pm__Test__MirrorEntry *old = NULL;
    rc = pm_store_get_msg (txn, s_shifts, sh->id, strlen (sh->id),
                           &pm__test__mirror_entry__descriptor,
                           (ProtobufCMessage **) &old);
    if (rc == PM_OK && old->version >= sh->version) {
        rc = s_count_add (txn, "duplicates", 1);
    }
    else if (rc == PM_OK || rc == PM_ENOTFOUND) {
        rc = s_count_add (txn, "version_sum", sh->version - (old ? old->version : 0));
        if (rc == PM_OK && !old) {
            rc = s_count_add (txn, "shifts", 1);
        }
        int64_t minutes = (sh->end - sh->start) / 60000;
        if (rc == PM_OK && strcmp (event->type, "staffing.shift.assigned") == 0) {
            rc = s_minutes (txn, sh->staff_id, minutes);
        }
        if (rc == PM_OK && strcmp (event->type, "staffing.shift.unassigned") == 0) {
            rc = s_minutes (txn, sh->released_staff_id, -minutes);
        }
        Pm__Test__MirrorEntry e = PM__TEST__MIRROR_ENTRY__INIT;
        e.id = sh->id;
        e.has_version = 1;
        e.version = sh->version;
        if (rc == PM_OK) {
            rc = pm_store_put_msg (txn, s_shifts, sh->id, strlen (sh->id), &e.base, 0);
        }
    }
    pm__test__mirror_entry__free_unpacked (old, NULL);
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

static pm_err
s_reset (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint64_t rebuilds = s_count_get (txn, "rebuilds");
    int rc = mdb_drop (txn, s_shifts, 0);
    if (rc == 0) {
        rc = mdb_drop (txn, s_staff, 0);
    }
    if (rc == 0) {
        rc = mdb_drop (txn, s_counts, 0);
    }
    if (rc != 0) {
        return pm_err_from_mdb (rc);
    }
    return s_count_add (txn, "rebuilds", rebuilds + 1);
}

static pm_err
s_stats (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    (void) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Test__MirrorStats stats = PM__TEST__MIRROR_STATS__INIT;
    stats.has_patients = stats.has_applied = stats.has_duplicates = 1;
    stats.has_rebuilds = stats.has_applied_this_run = stats.has_version_sum = 1;
    stats.patients = s_count_get (txn, "shifts");
    stats.applied = s_count_get (txn, "applied");
    stats.duplicates = s_count_get (txn, "duplicates");
    stats.rebuilds = s_count_get (txn, "rebuilds");
    stats.version_sum = s_count_get (txn, "version_sum");
    stats.applied_this_run = s_applied_this_run;
    return pm_ctx_reply (ctx, &stats.base);
}

static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Test__MirrorGet *req = (const Pm__Test__MirrorGet *) body;
    if (!req->id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "id", "id is required");
    }
    ProtobufCMessage *entry;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), s_staff, req->id, strlen (req->id),
                                  &pm__test__mirror_entry__descriptor, &entry);
    if (rc != PM_OK) {
        return pm_ctx_fail (ctx, rc, "id", "no hours for %s", req->id);
    }
    pm_ctx_reply (ctx, entry);
    protobuf_c_message_free_unpacked (entry, NULL);
    return PM_OK;
}

int
main (void)
{
    pm_log_init ("hours", pm_cfg_get ("PM_LOG_LEVEL", "info"));
    pm_server_t *server = pm_server_new (&s_schema, NULL);
    pm_store_t *store = server ? pm_server_store (server) : NULL;
    if (!server || pm_store_dbi (store, "shifts", 0, &s_shifts) != PM_OK
        || pm_store_dbi (store, "staff", 0, &s_staff) != PM_OK
        || pm_store_dbi (store, "counts", 0, &s_counts) != PM_OK) {
        pm_server_destroy (&server);
        return 1;
    }
    pm_server_handle (server, "hours.Stats", s_stats);
    pm_server_handle (server, "hours.Get", s_get);
    pm_server_follow (server, "staffing", s_apply, s_reset);
    pm_server_run (server);
    pm_server_destroy (&server);
    return 0;
}
