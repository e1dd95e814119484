/*  pm_key.c: index keys from parts and prefix scans (see pm_key.h).     */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "pm_key.h"
#include "pm_store.h"

void
pm_key_init (pm_key_t *k, char tag)
{
    k->len = 0;
    if (tag) {
        k->b[k->len++] = (uint8_t) tag;
    }
}

void
pm_key_str (pm_key_t *k, const char *s)
{
    size_t room = PM_KEY_MAX - k->len;
    if (room == 0) {
        return; //  full: a part past the end is cut whole (fuzz finding F4)
    }
    size_t n = s ? strnlen (s, room - 1) : 0;
    memcpy (k->b + k->len, s ? s : "", n);
    k->len += n;
    k->b[k->len++] = 0;
}

void
pm_key_u64 (pm_key_t *k, uint64_t v)
{
    if (k->len + 8 <= PM_KEY_MAX) {
        pm_be64_put (k->b + k->len, v);
        k->len += 8;
    }
}

void
pm_key_byte (pm_key_t *k, uint8_t b)
{
    if (k->len < PM_KEY_MAX) {
        k->b[k->len++] = b;
    }
}

//  --------------------------------------------------------------------------
//  Walks the entries under a prefix in key order.
pm_err
pm_key_scan (MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen,
             const pm_key_t *from, pm_scan_fn *fn, void *arg)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = from ? (MDB_val) {from->len, (void *) from->b}
                       : (MDB_val) {plen, (void *) prefix};
    MDB_val val;
    int mrc = key.mv_size ? mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE)
                          : mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    while (mrc == 0 && key.mv_size >= plen
           && (plen == 0 || memcmp (key.mv_data, prefix, plen) == 0)) {
        int r = fn (&key, &val, arg);
        if (r == PM_SCAN_STOP) {
            break;
        }
        if (r > 0) {
            rc = (pm_err) r;
            break;
        }
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = pm_err_from_mdb (mrc);
    }
    mdb_cursor_close (cursor);
    return rc;
}

//  --------------------------------------------------------------------------
//  The first key after (prefix, at), then one back: the last one <= at.
pm_err
pm_key_at_or_before (MDB_txn *txn, MDB_dbi dbi, const pm_key_t *prefix, uint64_t at,
                     MDB_val *val_out)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    pm_key_t k = *prefix;
    pm_key_u64 (&k, at);
    MDB_val key = {k.len, k.b}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    bool exact = mrc == 0 && key.mv_size == k.len && memcmp (key.mv_data, k.b, k.len) == 0;
    if (!exact) {
        mrc = mrc == 0 ? mdb_cursor_get (cursor, &key, &val, MDB_PREV)
              : mrc == MDB_NOTFOUND ? mdb_cursor_get (cursor, &key, &val, MDB_LAST)
                                    : mrc;
    }
    if (mrc == 0 && key.mv_size == prefix->len + 8
        && memcmp (key.mv_data, prefix->b, prefix->len) == 0) {
        *val_out = val;
        rc = PM_OK;
    }
    else {
        rc = mrc == 0 || mrc == MDB_NOTFOUND ? PM_ENOTFOUND : pm_err_from_mdb (mrc);
    }
    mdb_cursor_close (cursor);
    return rc;
}

//  --------------------------------------------------------------------------
//  Deletes the entries under a prefix. The cursor is placed afresh after
//  each delete (what a cursor points at after mdb_cursor_del differs
//  between LMDB versions).
pm_err
pm_key_drop (MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    int mrc = 0;
    while (mrc == 0) {
        MDB_val key = {plen, (void *) prefix}, val;
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        if (mrc == 0 && (key.mv_size < plen || memcmp (key.mv_data, prefix, plen) != 0)) {
            mrc = MDB_NOTFOUND;
        }
        if (mrc == 0) {
            mrc = mdb_cursor_del (cursor, 0);
        }
    }
    mdb_cursor_close (cursor);
    return mrc == MDB_NOTFOUND ? PM_OK : pm_err_from_mdb (mrc);
}

void
pm_val_str (const MDB_val *val, char *out, size_t outlen)
{
    size_t n = val->mv_size < outlen - 1 ? val->mv_size : outlen - 1;
    memcpy (out, val->mv_data, n);
    out[n] = 0;
}

//  --------------------------------------------------------------------------
//  Self test: keys sort by their parts, a full key takes no more, and a
//  scan lists exactly the entries under its prefix, from where it is told.

static int
s_count (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    (void) val;
    return ++*(int *) arg == 3 ? PM_SCAN_STOP : 0; //  stop after three
}

//  A callback that refuses (PM_EINVAL is 1: not a "stop").
static int
s_refuse (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    (void) val;
    (void) arg;
    return PM_EINVAL;
}

void
pm_key_test (bool verbose)
{
    (void) verbose;
    pm_key_t a, b;
    pm_key_init (&a, 'o');
    pm_key_str (&a, "stf_1");
    pm_key_u64 (&a, 5);
    pm_key_init (&b, 'o');
    pm_key_str (&b, "stf_1");
    pm_key_u64 (&b, 300);
    assert (a.len == 1 + 6 + 8 && memcmp (a.b, b.b, a.len) < 0);
    pm_key_init (&a, 0);
    assert (a.len == 0);
    //  F4: a full key, then more parts: nothing written past the end.
    char part[PM_KEY_MAX + 10];
    memset (part, 'x', sizeof part - 1);
    part[sizeof part - 1] = 0;
    pm_key_init (&a, 't');
    pm_key_str (&a, part);
    assert (a.len == PM_KEY_MAX && a.b[PM_KEY_MAX - 1] == 0);
    pm_key_str (&a, "more");
    pm_key_u64 (&a, 1);
    pm_key_byte (&a, 1);
    assert (a.len == PM_KEY_MAX);

    char dir[] = "/tmp/pm_key_test.XXXXXX";
    assert (mkdtemp (dir));
    pm_store_t *store = pm_store_new (dir, 1 << 20, 1 << 20);
    assert (store);
    MDB_dbi dbi;
    assert (pm_store_dbi (store, "index", 0, &dbi) == PM_OK);
    MDB_txn *txn;
    assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    const char *staff[] = {"stf_a", "stf_b", "stf_c"};
    for (int s = 0; s < 3; s++) {
        for (uint64_t t = 1; t <= 4; t++) {
            pm_key_init (&a, 'w');
            pm_key_str (&a, staff[s]);
            pm_key_u64 (&a, t);
            assert (pm_store_put (txn, dbi, a.b, a.len, staff[s], 5, 0) == PM_OK);
        }
    }
    pm_key_init (&a, 'w');
    pm_key_str (&a, "stf_b");
    int n = 0;
    assert (pm_key_scan (txn, dbi, a.b, a.len, NULL, s_count, &n) == PM_OK && n == 3);
    assert (pm_key_scan (txn, dbi, a.b, a.len, NULL, s_refuse, NULL) == PM_EINVAL);
    pm_key_init (&b, 'w');
    pm_key_str (&b, "stf_b");
    pm_key_u64 (&b, 3);
    n = -10; //  no stop: every entry from t = 3 on, and only stf_b's
    assert (pm_key_scan (txn, dbi, a.b, a.len, &b, s_count, &n) == PM_OK && n == -8);
    n = -100;
    assert (pm_key_scan (txn, dbi, NULL, 0, NULL, s_count, &n) == PM_OK && n == -88);
    assert (pm_key_drop (txn, dbi, a.b, a.len) == PM_OK); //  stf_b's four
    n = -100;
    assert (pm_key_scan (txn, dbi, NULL, 0, NULL, s_count, &n) == PM_OK && n == -92);
    //  A history by time: what was in force at an instant, never a
    //  neighbour's (stf_0 sorts before, stf_b after).
    const char *who[] = {"stf_0", "stf_a", "stf_a", "stf_a", "stf_a", "stf_b"};
    const uint64_t when[] = {1, 10, 20, 30, 40, 1};
    const char *what[] = {"z0", "t1", "t2", "t3", "t4", "b1"};
    for (int i = 0; i < 6; i++) {
        pm_key_init (&a, 'h');
        pm_key_str (&a, who[i]);
        pm_key_u64 (&a, when[i]);
        assert (pm_store_put (txn, dbi, a.b, a.len, what[i], 2, 0) == PM_OK);
    }
    pm_key_init (&a, 'h');
    pm_key_str (&a, "stf_a");
    const uint64_t at[] = {5, 10, 25, 40, 1000};
    const char *in_force[] = {NULL, "t1", "t2", "t4", "t4"};
    for (int i = 0; i < 5; i++) {
        MDB_val found;
        pm_err rc = pm_key_at_or_before (txn, dbi, &a, at[i], &found);
        assert (in_force[i] ? rc == PM_OK && found.mv_size == 2
                                  && memcmp (found.mv_data, in_force[i], 2) == 0
                            : rc == PM_ENOTFOUND);
    }
    MDB_val v = {5, (void *) "stf_c"};
    char out[4];
    pm_val_str (&v, out, sizeof out);
    assert (strcmp (out, "stf") == 0);
    pm_store_abort (txn);
    pm_store_destroy (&store);
    char cmd[64];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
}
