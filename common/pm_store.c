/*  pm_store.c: the LMDB environment wrapper.

    Durability is LMDB's default: a commit returns after fsync, so
    "acknowledged" means "on disk". No MDB_WRITEMAP (it gives up LMDB's
    immunity to stray writes) and no NOSYNC flags.                        */
#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "pm_log.h"
#include "pm_store.h"

//  Sub-databases per store. LMDB allocates per-DBI state for every nested
//  transaction, one per request, so this stays close to what services use
//  (the runtime's 5 plus a service's own).
#define MAX_DBS 32
#define DISK_FULL_BYTES (1024 * 1024) //  less free than this after a failed write: full

struct _pm_store_t {
    MDB_env *env;    //  the environment
    size_t map_size; //  current map size in bytes
    size_t map_max;  //  growth ceiling
    char *dir;       //  where it lives, for log lines
    bool disk_full;  //  the last commit failed for want of disk, not map
};

static void
s_log_mdb (const char *what, const char *dir, int rc)
{
    pm_error (what, "dir", dir, "error", mdb_strerror (rc), NULL);
}

//  --------------------------------------------------------------------------
//  Opens (creating) the store.
pm_store_t *
pm_store_new (const char *dir, size_t map_size, size_t map_max)
{
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        pm_error ("cannot create data directory", "dir", dir, "error",
                  strerror (errno), NULL);
        return NULL;
    }
    pm_store_t *self = calloc (1, sizeof *self);
    assert (self);
    self->dir = strdup (dir);
    self->map_max = map_max > map_size ? map_max : map_size;
    int rc = mdb_env_create (&self->env);
    if (rc == 0) {
        mdb_env_set_userctx (self->env, self); //  pm_store_commit finds us
    }
    if (rc == 0) {
        rc = mdb_env_set_maxdbs (self->env, MAX_DBS);
    }
    if (rc == 0) {
        rc = mdb_env_set_mapsize (self->env, map_size);
    }
    if (rc == 0) {
        //  NOTLS: read txns are not tied to threads (one loop uses them).
        //  NOMEMINIT: LMDB zeroes every freshly malloc'd dirty page, and
        //  the nested txn per request dirties a dozen pages: that memset
        //  was 36% of the instructions of a registration (callgrind,
        //  148k -> 95k). The cost: unused bytes of a page may hold this
        //  process's earlier heap contents, i.e. data of this same store.
        //  Secrets (CURVE keys) must therefore live outside the malloc
        //  heap (sodium_malloc), never in memory malloc can hand back.
        rc = mdb_env_open (self->env, dir, MDB_NOTLS | MDB_NOMEMINIT, 0600);
    }
    if (rc != 0) {
        s_log_mdb ("cannot open store", dir, rc);
        pm_store_destroy (&self);
        return NULL;
    }
    //  The file may be larger than asked for (grown by an earlier run).
    MDB_envinfo info;
    mdb_env_info (self->env, &info);
    self->map_size = info.me_mapsize;
    pm_store_reader_check (self);
    return self;
}

//  --------------------------------------------------------------------------
//  Closes the store.
void
pm_store_destroy (pm_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pm_store_t *self = *self_p;
        if (self->env) {
            mdb_env_close (self->env);
        }
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

MDB_env *
pm_store_env (pm_store_t *self)
{
    assert (self);
    return self->env;
}

//  --------------------------------------------------------------------------
//  Opens (creating) a named sub-database.
pm_err
pm_store_dbi (pm_store_t *self, const char *name, unsigned flags,
              MDB_dbi *dbi_out)
{
    MDB_txn *txn;
    int rc = mdb_txn_begin (self->env, NULL, 0, &txn);
    if (rc == 0) {
        rc = mdb_dbi_open (txn, name, flags | MDB_CREATE, dbi_out);
        if (rc == 0) {
            rc = mdb_txn_commit (txn);
        }
        else {
            mdb_txn_abort (txn);
        }
    }
    if (rc != 0) {
        s_log_mdb ("cannot open sub-database", name, rc);
    }
    return pm_err_from_mdb (rc);
}

//  --------------------------------------------------------------------------
//  Begins a transaction.
pm_err
pm_store_begin (pm_store_t *self, MDB_txn *parent, bool write,
                MDB_txn **txn_out)
{
    int rc = mdb_txn_begin (self->env, parent, write ? 0 : MDB_RDONLY, txn_out);
    if (rc == MDB_MAP_RESIZED) {
        //  Another process (mdb_copy, a backup) grew the map: adopt it.
        mdb_env_set_mapsize (self->env, 0);
        rc = mdb_txn_begin (self->env, parent, write ? 0 : MDB_RDONLY, txn_out);
    }
    return pm_err_from_mdb (rc);
}

//  True when the file system holding `dir` has (almost) no space left.
static bool
s_disk_full (const char *dir)
{
    struct statvfs fs;
    if (statvfs (dir, &fs) != 0) {
        return false;
    }
    return (uint64_t) fs.f_bavail * fs.f_frsize < DISK_FULL_BYTES;
}

pm_err
pm_store_commit (MDB_txn *txn)
{
    pm_store_t *self = mdb_env_get_userctx (mdb_txn_env (txn));
    int rc = mdb_txn_commit (txn);
    //  A full disk and a full map both answer EFULL, but only a full map
    //  is cured by growing it: remember which one this was. LMDB reports
    //  a write cut short by a full disk as EIO, so ask the file system.
    bool disk_full = self && (rc == ENOSPC || rc == EDQUOT || rc == EIO)
                     && s_disk_full (self->dir);
    if (rc != 0 && rc != MDB_MAP_FULL) {
        pm_error (disk_full ? "commit failed: the disk is full" : "commit failed",
                  "error", mdb_strerror (rc), "dir", self ? self->dir : "", NULL);
    }
    if (self) {
        self->disk_full = disk_full;
    }
    return disk_full ? PM_EFULL : pm_err_from_mdb (rc);
}

void
pm_store_abort (MDB_txn *txn)
{
    if (txn) {
        mdb_txn_abort (txn);
    }
}

//  --------------------------------------------------------------------------
//  Doubles the map, up to map_max.
pm_err
pm_store_grow (pm_store_t *self)
{
    if (self->disk_full) {
        self->disk_full = false;
        return PM_EFULL; //  a bigger map needs more disk, not less
    }
    if (self->map_size >= self->map_max) {
        pm_error ("store is full at its maximum map size", "dir", self->dir,
                  NULL);
        return PM_EFULL;
    }
    size_t next = self->map_size * 2;
    if (next > self->map_max) {
        next = self->map_max;
    }
    int rc = mdb_env_set_mapsize (self->env, next);
    if (rc != 0) {
        s_log_mdb ("cannot grow map", self->dir, rc);
        return pm_err_from_mdb (rc);
    }
    char size[32];
    snprintf (size, sizeof size, "%zu", next);
    pm_info ("map grown", "dir", self->dir, "map_size", size, NULL);
    self->map_size = next;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  A one-time migration with its marker, through map growth.
int
pm_store_migrate (pm_store_t *self, MDB_dbi marks, const char *name, pm_migrate_fn *fn,
                  void *arg)
{
    uint8_t marker[128];
    size_t len = strlen (name);
    assert (len + 2 <= sizeof marker);
    marker[0] = 'M';
    memcpy (marker + 1, name, len + 1);
    for (int attempt = 0; attempt < 16; attempt++) {
        MDB_txn *txn;
        long changed = 0;
        MDB_val val;
        pm_err rc = pm_store_begin (self, NULL, true, &txn);
        if (rc != PM_OK) {
            pm_error ("store migration failed", "migration", name, "error", pm_err_name (rc),
                      NULL);
            return -1;
        }
        rc = pm_store_get (txn, marks, marker, len + 2, &val);
        if (rc == PM_OK) {
            pm_store_abort (txn);
            return 0; //  done in an earlier life
        }
        if (rc == PM_ENOTFOUND) {
            rc = fn (txn, arg, &changed);
        }
        if (rc == PM_OK) {
            rc = pm_store_put (txn, marks, marker, len + 2, "", 0, 0);
        }
        if (rc == PM_OK) {
            rc = pm_store_commit (txn);
        }
        else {
            pm_store_abort (txn);
        }
        if (rc == PM_EFULL && pm_store_grow (self) == PM_OK) {
            continue; //  a bigger map, and the whole migration again
        }
        if (rc != PM_OK) {
            pm_error ("store migration failed", "migration", name, "error", pm_err_name (rc),
                      NULL);
            return -1;
        }
        if (changed > 0) {
            char count[24];
            snprintf (count, sizeof count, "%ld", changed);
            pm_info ("store migrated", "migration", name, "records", count, NULL);
        }
        return 0;
    }
    return -1;
}

//  --------------------------------------------------------------------------
//  Clears stale reader slots.
int
pm_store_reader_check (pm_store_t *self)
{
    int dead = 0;
    mdb_reader_check (self->env, &dead);
    if (dead > 0) {
        char n[16];
        snprintf (n, sizeof n, "%d", dead);
        pm_warn ("cleared stale readers", "dir", self->dir, "count", n, NULL);
    }
    return dead;
}

//  --------------------------------------------------------------------------
//  Map size and bytes in use.
void
pm_store_usage (pm_store_t *self, uint64_t *size, uint64_t *used)
{
    MDB_envinfo info;
    MDB_stat stat;
    mdb_env_info (self->env, &info);
    mdb_env_stat (self->env, &stat);
    *size = info.me_mapsize;
    *used = (uint64_t) (info.me_last_pgno + 1) * stat.ms_psize;
}

pm_err
pm_store_get (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
              MDB_val *val)
{
    MDB_val k = {klen, (void *) key};
    return pm_err_from_mdb (mdb_get (txn, dbi, &k, val));
}

pm_err
pm_store_put (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
              const void *val, size_t vlen, unsigned flags)
{
    MDB_val k = {klen, (void *) key};
    MDB_val v = {vlen, (void *) val};
    return pm_err_from_mdb (mdb_put (txn, dbi, &k, &v, flags));
}

pm_err
pm_store_del (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen)
{
    MDB_val k = {klen, (void *) key};
    return pm_err_from_mdb (mdb_del (txn, dbi, &k, NULL));
}

//  --------------------------------------------------------------------------
//  Reads and unpacks a message.
pm_err
pm_store_get_msg (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                  const ProtobufCMessageDescriptor *desc,
                  ProtobufCMessage **msg_out)
{
    MDB_val val;
    *msg_out = NULL;
    pm_err rc = pm_store_get (txn, dbi, key, klen, &val);
    if (rc != PM_OK) {
        return rc;
    }
    *msg_out = protobuf_c_message_unpack (desc, NULL, val.mv_size, val.mv_data);
    if (!*msg_out) {
        pm_error ("stored value does not decode", "type", desc->name, NULL);
        return PM_EINTERNAL;
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Walks every stored message of a sub-database.
pm_err
pm_store_each_msg (MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
                   pm_msg_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    while (rc == PM_OK && mrc == 0) {
        ProtobufCMessage *msg = protobuf_c_message_unpack (desc, NULL, val.mv_size,
                                                           val.mv_data);
        if (!msg) {
            pm_error ("stored value does not decode", "type", desc->name, NULL);
            rc = PM_EINTERNAL;
        }
        else {
            rc = fn (msg, arg);
            protobuf_c_message_free_unpacked (msg, NULL);
        }
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return rc == PM_OK && mrc != MDB_NOTFOUND ? pm_err_from_mdb (mrc) : rc;
}

//  Packs and stores a message. MDB_RESERVE lets protobuf-c pack straight
//  into the page: no intermediate buffer.
pm_err
pm_store_put_msg (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                  const ProtobufCMessage *msg, unsigned flags)
{
    MDB_val k = {klen, (void *) key};
    MDB_val v = {protobuf_c_message_get_packed_size (msg), NULL};
    int rc = mdb_put (txn, dbi, &k, &v, flags | MDB_RESERVE);
    if (rc == 0) {
        protobuf_c_message_pack (msg, v.mv_data);
    }
    return pm_err_from_mdb (rc);
}

//  --------------------------------------------------------------------------
//  Self test: a small map fills, grows, and keeps what was committed.
#include "pm.pb-c.h"

void
pm_store_test (bool verbose)
{
    char dir[] = "/tmp/pm_store_test.XXXXXX";
    assert (mkdtemp (dir));
    pm_store_t *store = pm_store_new (dir, 64 * 1024, 64 * 1024 * 1024);
    assert (store);
    MDB_dbi dbi;
    assert (pm_store_dbi (store, "things", 0, &dbi) == PM_OK);

    //  Write until the map is full, then grow and retry, as the write path
    //  does: nothing committed is lost.
    uint8_t value[1000];
    memset (value, 7, sizeof value);
    int grown = 0;
    for (uint32_t i = 0; i < 2000; i++) {
        MDB_txn *txn;
        assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
        uint32_t key = i;
        pm_err rc = pm_store_put (txn, dbi, &key, sizeof key, value,
                                  sizeof value, 0);
        if (rc == PM_OK) {
            rc = pm_store_commit (txn);
        }
        else {
            pm_store_abort (txn);
        }
        if (rc == PM_EFULL) {
            assert (pm_store_grow (store) == PM_OK);
            grown++;
            i--;
            continue;
        }
        assert (rc == PM_OK);
    }
    assert (grown > 0);

    MDB_txn *txn;
    assert (pm_store_begin (store, NULL, false, &txn) == PM_OK);
    MDB_val val;
    uint32_t key = 1999;
    assert (pm_store_get (txn, dbi, &key, sizeof key, &val) == PM_OK);
    assert (val.mv_size == sizeof value);
    key = 5000;
    assert (pm_store_get (txn, dbi, &key, sizeof key, &val) == PM_ENOTFOUND);
    pm_store_abort (txn);

    //  Messages round-trip; a nested txn that aborts leaves no trace.
    assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    Pm__Heartbeat hb = PM__HEARTBEAT__INIT;
    hb.source = "test";
    hb.has_high_seq = 1;
    hb.high_seq = 42;
    assert (pm_store_put_msg (txn, dbi, "hb", 2, &hb.base, 0) == PM_OK);
    MDB_txn *child;
    assert (pm_store_begin (store, txn, true, &child) == PM_OK);
    assert (pm_store_put (child, dbi, "gone", 4, "x", 1, 0) == PM_OK);
    pm_store_abort (child);
    assert (pm_store_commit (txn) == PM_OK);

    assert (pm_store_begin (store, NULL, false, &txn) == PM_OK);
    ProtobufCMessage *msg;
    assert (pm_store_get_msg (txn, dbi, "hb", 2, &pm__heartbeat__descriptor,
                              &msg) == PM_OK);
    assert (((Pm__Heartbeat *) msg)->high_seq == 42);
    protobuf_c_message_free_unpacked (msg, NULL);
    assert (pm_store_get (txn, dbi, "gone", 4, &val) == PM_ENOTFOUND);
    //  A value that is not the message type is reported, not trusted.
    key = 3;
    assert (pm_store_get_msg (txn, dbi, &key, sizeof key,
                              &pm__event_batch__descriptor, &msg)
            == PM_EINTERNAL);
    pm_store_abort (txn);

    uint64_t size, used;
    pm_store_usage (store, &size, &used);
    assert (used > 1000 * 2000 && used <= size);
    if (verbose) {
        printf ("pm_store: grown %d times, %lu of %lu bytes\n", grown,
                (unsigned long) used, (unsigned long) size);
    }
    pm_store_destroy (&store);
    pm_store_destroy (&store);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
}
