/*  pm_key.c: index keys from parts and prefix scans (see pm_key.h).     */
#include <string.h>

#include "pm_id.h"
#include "pm_key.h"

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
    size_t n = s ? strlen (s) : 0;
    if (k->len + n + 1 > PM_KEY_MAX) {
        n = PM_KEY_MAX - k->len - 1;
    }
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
        if (r == 1) {
            break;
        }
        if (r > 1) {
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

void
pm_val_str (const MDB_val *val, char *out, size_t outlen)
{
    size_t n = val->mv_size < outlen - 1 ? val->mv_size : outlen - 1;
    memcpy (out, val->mv_data, n);
    out[n] = 0;
}
