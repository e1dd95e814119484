/*  pm_key.h: index keys built from parts, and prefix scans over them.

    A key is an optional tag byte, then parts: a string ends with its NUL
    byte, a number is 8 bytes big-endian. So keys sort by their parts in
    order, and the key of the first parts is a prefix of every key that
    goes on from them: a range scan lists them. Parts past PM_KEY_MAX are
    cut (ids and tokens are far shorter).                                 */
#ifndef PM_KEY_H
#define PM_KEY_H

#include <lmdb.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm_err.h"

#define PM_KEY_MAX 480 //  LMDB keys are at most 511 bytes

typedef struct {
    uint8_t b[PM_KEY_MAX];
    size_t len;
} pm_key_t;

//  Starts a key with `tag`; tag 0 starts one without a tag byte.
void pm_key_init (pm_key_t *k, char tag);

//  Appends `s` (NULL as "") and its NUL.
void pm_key_str (pm_key_t *k, const char *s);

//  Appends `v` as 8 bytes big-endian.
void pm_key_u64 (pm_key_t *k, uint64_t v);

//  Appends one byte.
void pm_key_byte (pm_key_t *k, uint8_t b);

//  Calls `fn` for each entry of `dbi` whose key starts with `prefix` (plen
//  bytes; 0: every entry), in key order, from `from` on (NULL: the
//  prefix). `fn` returns 0 to go on, PM_SCAN_STOP to stop, or a pm_err
//  (any, PM_EINVAL included) that ends the scan and is returned.
#define PM_SCAN_STOP (-1)
typedef int (pm_scan_fn) (const MDB_val *key, const MDB_val *val, void *arg);
pm_err pm_key_scan (MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen,
                    const pm_key_t *from, pm_scan_fn *fn, void *arg);

//  The entry of `dbi` whose key is `prefix` and then the largest instant
//  (8 bytes big-endian) not after `at`: what was in force at `at` in a
//  history keyed by time (prices, rates, due amounts). One cursor seek.
//  PM_OK with *val_out (valid until the transaction writes), or
//  PM_ENOTFOUND.
pm_err pm_key_at_or_before (MDB_txn *txn, MDB_dbi dbi, const pm_key_t *prefix, uint64_t at,
                            MDB_val *val_out);

//  Deletes every entry of `dbi` whose key starts with `prefix` (plen >= 1
//  bytes): how a projection is dropped before it is rebuilt.
pm_err pm_key_drop (MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen);

//  Copies a value that holds a string (an id) into `out`, cut to fit and
//  NUL-terminated.
void pm_val_str (const MDB_val *val, char *out, size_t outlen);

//  Self test.
void pm_key_test (bool verbose);

#endif
