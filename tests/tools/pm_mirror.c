/*  pm_mirror: a consumer service for the tests. It follows the patients
    stream with the runtime's follower (durable cursor in the same
    transaction as the projection, catch-up, rebuild on a new stream) and
    keeps, per patient, the latest version and how many events it applied.
    A version that is not newer than the stored one counts as a duplicate:
    the tests require zero.

    PM_MIRROR_APPLY_DELAY_US slows each apply down, to make a slow
    consumer that overflows the PUB high-water mark.                     */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "patients.pb-c.h"
#include "pm.h"
#include "pm_test.pb-c.h"

static MDB_dbi s_entries; //  patient id -> pm.test.MirrorEntry
static MDB_dbi s_counts;  //  counter name -> be64
static unsigned s_delay_us;
static uint64_t s_applied_this_run;

static const pm_command_def_t s_commands[] = {
    {"mirror.Stats", PM_READ, NULL, &pm__test__mirror_stats__descriptor,
     "what was applied"},
    {"mirror.Get", PM_READ, &pm__test__mirror_get__descriptor,
     &pm__test__mirror_entry__descriptor, "one mirrored patient"},
    {NULL, 0, NULL, NULL, NULL, 0},
};
static const pm_event_def_t s_events[] = {
    {"mirror.clock.ticked", &pm__test__mirror_entry__descriptor},
    {NULL, NULL},
};
static const pm_schema_t s_schema = {"mirror", s_commands, s_events};

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

static pm_err
s_apply (pm_ctx_t *ctx, const Pm__Event *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (s_delay_us) {
        usleep (s_delay_us);
    }
    if (strncmp (event->type, "patients.patient.", 17) != 0) {
        return PM_OK; //  not ours; the cursor still moves past it
    }
    Pm__Patients__Patient *p = pm__patients__patient__unpack (
        NULL, event->data.len, event->data.data);
    if (!p || !p->id) {
        pm__patients__patient__free_unpacked (p, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a patient");
    }
    Pm__Test__MirrorEntry *old = NULL;
    pm_err rc = pm_store_get_msg (txn, s_entries, p->id, strlen (p->id),
                                  &pm__test__mirror_entry__descriptor,
                                  (ProtobufCMessage **) &old);
    Pm__Test__MirrorEntry entry = PM__TEST__MIRROR_ENTRY__INIT;
    entry.id = p->id;
    entry.has_version = entry.has_events = 1;
    entry.version = p->version;
    entry.events = old ? old->events + 1 : 1;
    if (rc == PM_OK && old->version >= p->version) {
        rc = s_count_add (txn, "duplicates", 1);
    }
    else if (rc == PM_OK || rc == PM_ENOTFOUND) {
        rc = s_count_add (txn, "version_sum", p->version - (old ? old->version : 0));
        if (rc == PM_OK && !old) {
            rc = s_count_add (txn, "patients", 1);
        }
    }
    if (rc == PM_OK) {
        rc = pm_store_put_msg (txn, s_entries, p->id, strlen (p->id),
                               &entry.base, 0);
    }
    if (rc == PM_OK) {
        rc = s_count_add (txn, "applied", 1);
    }
    if (rc == PM_OK) {
        s_applied_this_run++;
    }
    pm__test__mirror_entry__free_unpacked (old, NULL);
    pm__patients__patient__free_unpacked (p, NULL);
    return rc;
}

static pm_err
s_reset (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint64_t rebuilds = s_count_get (txn, "rebuilds");
    int rc = mdb_drop (txn, s_entries, 0);
    if (rc == 0) {
        rc = mdb_drop (txn, s_counts, 0);
    }
    if (rc != 0) {
        return pm_err_from_mdb (rc);
    }
    return s_count_add (txn, "rebuilds", rebuilds + 1);
}

//  Timed work through the write path: counts ticks durably and emits an
//  event for each (PM_MIRROR_TICK_MS, off when 0).
static pm_err
s_tick (pm_ctx_t *ctx)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = s_count_add (txn, "ticks", 1);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Test__MirrorEntry tick = PM__TEST__MIRROR_ENTRY__INIT;
    tick.id = "clock";
    tick.has_version = 1;
    tick.version = s_count_get (txn, "ticks");
    return pm_ctx_emit (ctx, "mirror.clock.ticked", NULL, "clock", &tick.base);
}

static pm_err
s_stats (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    (void) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Test__MirrorStats stats = PM__TEST__MIRROR_STATS__INIT;
    stats.has_patients = stats.has_applied = stats.has_duplicates = 1;
    stats.has_rebuilds = stats.has_applied_this_run = stats.has_version_sum = 1;
    stats.patients = s_count_get (txn, "patients");
    stats.applied = s_count_get (txn, "applied");
    stats.duplicates = s_count_get (txn, "duplicates");
    stats.rebuilds = s_count_get (txn, "rebuilds");
    stats.version_sum = s_count_get (txn, "version_sum");
    stats.applied_this_run = s_applied_this_run;
    stats.has_ticks = 1;
    stats.ticks = s_count_get (txn, "ticks");
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
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), s_entries, req->id,
                                  strlen (req->id),
                                  &pm__test__mirror_entry__descriptor, &entry);
    if (rc != PM_OK) {
        return pm_ctx_fail (ctx, rc, "id", "not mirrored");
    }
    pm_ctx_reply (ctx, entry);
    protobuf_c_message_free_unpacked (entry, NULL);
    return PM_OK;
}

int
main (void)
{
    pm_log_init ("mirror", pm_cfg_get ("PM_LOG_LEVEL", "info"));
    s_delay_us = (unsigned) pm_cfg_int ("PM_MIRROR_APPLY_DELAY_US", 0);
    pm_server_t *server = pm_server_new (&s_schema, NULL);
    if (!server
        || pm_store_dbi (pm_server_store (server), "entries", 0, &s_entries) != PM_OK
        || pm_store_dbi (pm_server_store (server), "counts", 0, &s_counts) != PM_OK) {
        pm_server_destroy (&server);
        return 1;
    }
    pm_server_handle (server, "mirror.Stats", s_stats);
    pm_server_handle (server, "mirror.Get", s_get);
    pm_server_follow (server, "patients", s_apply, s_reset);
    int tick_ms = (int) pm_cfg_int ("PM_MIRROR_TICK_MS", 0);
    if (tick_ms > 0) {
        pm_server_every (server, tick_ms, s_tick);
    }
    pm_server_run (server);
    pm_server_destroy (&server);
    return 0;
}
