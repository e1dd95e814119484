/*  pm_id.h: typed, time-ordered ids; big-endian keys; the clock.

    An id is a type prefix and 26 characters of Crockford base32 (lower
    case) for 128 bits: 48 bits of milliseconds, then 80 random bits that
    count up within one millisecond, so ids made by one process sort in
    the order they were made ("pat_01jdq9x3m0...").                       */
#ifndef PM_ID_H
#define PM_ID_H

#include <stdbool.h>
#include <stdint.h>

#define PM_ID_BODY_LEN 26
#define PM_ID_MAX 40 //  prefix (<= 12 chars) + '_' + body + NUL

//  Writes a new id "<prefix>_<body>" for time `now_ms` into out
//  (PM_ID_MAX bytes). prefix: 1..12 lower-case letters.
void pm_id_new (const char *prefix, int64_t now_ms, char *out);

//  True when `id` is a well-formed id of `prefix` (any prefix if NULL).
bool pm_id_valid (const char *id, const char *prefix);

//  Fills `buf` with `len` random bytes from the kernel.
void pm_random (void *buf, size_t len);

//  Milliseconds since the epoch, UTC, from the wall clock.
int64_t pm_clock_wall_ms (void);

//  Big-endian fixed-width integers, so LMDB keys sort numerically.
static inline void
pm_be64_put (uint8_t *p, uint64_t v)
{
    for (int i = 7; i >= 0; i--, v >>= 8) {
        p[i] = (uint8_t) v;
    }
}

static inline uint64_t
pm_be64_get (const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = (v << 8) | p[i];
    }
    return v;
}

//  Self test: asserts on failure.
void pm_id_test (bool verbose);

#endif
