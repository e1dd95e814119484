/*  pm_id.c: time-ordered ids (ULID layout, Crockford base32).            */
#include <assert.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "pm_id.h"

static const char s_alphabet[] = "0123456789abcdefghjkmnpqrstvwxyz";

//  Monotonic state: one process makes ids from several threads (tests,
//  benchmarks), so the last value is guarded.
static pthread_mutex_t s_lock = PTHREAD_MUTEX_INITIALIZER;
static int64_t s_last_ms = -1;
static uint8_t s_last_random[10];

//  --------------------------------------------------------------------------
//  Fills `buf` with random bytes. getrandom never fails for small sizes
//  once the pool is initialised; a failure here is a broken kernel.
void
pm_random (void *buf, size_t len)
{
    uint8_t *p = buf;
    while (len > 0) {
        ssize_t n = getrandom (p, len, 0);
        assert (n > 0);
        p += n;
        len -= (size_t) n;
    }
}

//  --------------------------------------------------------------------------
//  Milliseconds since the epoch, UTC.
int64_t
pm_clock_wall_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (int64_t) ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

//  --------------------------------------------------------------------------
//  Writes a new id for `now_ms`. Within one millisecond the random part
//  counts up, so ids stay ordered; a clock that steps back keeps the last
//  time, for the same reason.
void
pm_id_new (const char *prefix, int64_t now_ms, char *out)
{
    uint8_t raw[16];
    pthread_mutex_lock (&s_lock);
    if (now_ms > s_last_ms) {
        s_last_ms = now_ms;
        pm_random (s_last_random, sizeof s_last_random);
        s_last_random[0] &= 0x7f; //  room to count up without wrapping
    }
    else {
        for (int i = 9; i >= 0 && ++s_last_random[i] == 0; i--) {
        }
    }
    uint64_t ms = (uint64_t) s_last_ms;
    for (int i = 5; i >= 0; i--, ms >>= 8) {
        raw[i] = (uint8_t) ms;
    }
    memcpy (raw + 6, s_last_random, 10);
    pthread_mutex_unlock (&s_lock);

    size_t at = strlen (prefix);
    memcpy (out, prefix, at);
    out[at++] = '_';
    //  128 bits in 26 base32 digits, most significant first: the first
    //  digit carries the top 3 bits.
    unsigned __int128 v = 0;
    for (int i = 0; i < 16; i++) {
        v = (v << 8) | raw[i];
    }
    for (int d = PM_ID_BODY_LEN - 1; d >= 0; d--, v >>= 5) {
        out[at + (size_t) d] = s_alphabet[(unsigned) (v & 31)];
    }
    out[at + PM_ID_BODY_LEN] = 0;
}

//  --------------------------------------------------------------------------
//  True when `id` is well formed.
bool
pm_id_valid (const char *id, const char *prefix)
{
    if (!id) {
        return false;
    }
    const char *sep = strchr (id, '_');
    if (!sep || sep == id || sep - id > 12) {
        return false;
    }
    if (prefix && (strlen (prefix) != (size_t) (sep - id)
                   || strncmp (id, prefix, (size_t) (sep - id)) != 0)) {
        return false;
    }
    const char *body = sep + 1;
    if (strlen (body) != PM_ID_BODY_LEN || body[0] > '7') {
        return false;
    }
    for (const char *c = body; *c; c++) {
        if (!strchr (s_alphabet, *c)) {
            return false;
        }
    }
    return true;
}

//  --------------------------------------------------------------------------
void
pm_id_test (bool verbose)
{
    char a[PM_ID_MAX], b[PM_ID_MAX];
    pm_id_new ("pat", 1000, a);
    assert (pm_id_valid (a, "pat"));
    assert (pm_id_valid (a, NULL));
    assert (!pm_id_valid (a, "apt"));
    assert (strlen (a) == 4 + PM_ID_BODY_LEN);
    //  Same millisecond: still strictly ordered.
    for (int i = 0; i < 1000; i++) {
        pm_id_new ("pat", 1000, b);
        assert (strcmp (a, b) < 0);
        memcpy (a, b, sizeof a);
    }
    //  A later millisecond sorts after; an earlier one does not go back.
    pm_id_new ("pat", 2000, b);
    assert (strcmp (a, b) < 0);
    pm_id_new ("pat", 1500, a);
    assert (strcmp (b, a) < 0);
    //  Malformed ids.
    assert (!pm_id_valid ("pat_", "pat"));
    assert (pm_id_valid ("pat_0123456789abcdefghjkmnpqrs", "pat"));
    assert (!pm_id_valid ("pat_0123456789abcdefghjkmnpqrst", "pat")); //  27
    assert (!pm_id_valid ("pat_0123456789abcdefghjkmnpqru", "pat"));  //  'u'
    assert (!pm_id_valid ("pat_8123456789abcdefghjkmnpqrs", "pat"));  //  > 128 bits
    assert (!pm_id_valid ("_0123456789abcdefghjkmnpqr", NULL));
    assert (!pm_id_valid (NULL, NULL));
    uint8_t key[8];
    pm_be64_put (key, 0x0102030405060708ULL);
    assert (key[0] == 1 && key[7] == 8);
    assert (pm_be64_get (key) == 0x0102030405060708ULL);
    if (verbose) {
        printf ("pm_id: %s\n", a);
    }
}
