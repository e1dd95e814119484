/*  patients_dups.c: duplicate detection and the per-site worklist.

    Candidates for a record come from the indexes it shares with others
    (blocking, so a register never scores the whole network): the same
    birth date or the one with day and month swapped, a phone ending in
    the same 7 digits, the same e-mail, a family name with the same first
    four folded letters, and (for a probe) the same site MRN. Each source
    gives at most SOURCE_MAX records. The name and birth date indexes
    carry the folded names as values, so every candidate gets the most it
    could score from the indexes alone; only the best few that can still
    reach the threshold are read and scored by pat_match (a register reads
    at most 30 records, however many share a birth date or a surname).
    Merged and erased records are never candidates.

    The worklist lives in the `dups` sub-database, three kinds of key:
      'P' a 0 b                    -> DuplicatePair (a < b)
      'S' site 0 rank a 0 b        -> ""  open pairs per site; rank is one
                                          byte, 255 - score: best first
      'B' id 0 other               -> ""  the pairs of each record
    A record's pairs are recomputed when it is registered or updated: its
    TOP_PAIRS best likely matches are raised or updated, its open pairs
    that no longer make that list are dropped, dismissed pairs stay.      */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_match.h"
#include "patients_store.h"
#include "patients_validate.h"

#define SOURCE_MAX 64        //  entries taken from each index looked at
#define TOP_PAIRS 10         //  pairs raised per record
#define FIND_MAX 50
#define FIND_DEFAULT 10
#define PAGE_DEFAULT 20
#define PAGE_MAX 200

typedef Pm__Patients__DuplicatePair pair_t;

//  A set of candidate ids.
typedef struct {
    char (*ids)[PM_ID_MAX];
    size_t n, cap;
} s_ids_t;

typedef struct {
    patient_t *p;
    pat_match_t m;
} s_cand_t;

static void
s_ids_add (s_ids_t *set, const char *id, size_t len)
{
    if (len == 0 || len >= PM_ID_MAX) {
        return;
    }
    if (set->n == set->cap) {
        set->cap = set->cap ? set->cap * 2 : 64;
        set->ids = realloc (set->ids, set->cap * sizeof *set->ids);
        if (!set->ids) {
            abort ();
        }
    }
    memcpy (set->ids[set->n], id, len);
    set->ids[set->n++][len] = 0;
}

//  What the indexes say about one candidate before its record is read.
enum {
    F_DOB = 1,          //  same birth date
    F_SWAPPED = 2,      //  birth date with day and month swapped
    F_PHONE = 4,        //  a phone ending in the same 7 digits
    F_EMAIL = 8,        //  the same e-mail
    F_MRN = 16,         //  the same MRN at the same site (probes)
    F_NAMED = 32,       //  family and given below are known
};

typedef struct {
    char id[PM_ID_MAX];
    unsigned flags;
    int bound;          //  the most its score can be
    char family[PAT_MATCH_NAME_MAX], given[PAT_MATCH_NAME_MAX];
} s_hit_t;

typedef struct {
    s_hit_t **hits;
    size_t n, cap;
    unsigned cut;       //  F_* of the blocks cut at SOURCE_MAX: unknown there
} s_block_t;

static s_hit_t *
s_hit_add (s_block_t *b, const char *id, size_t len, unsigned flags)
{
    if (len == 0 || len >= PM_ID_MAX) {
        return NULL;
    }
    if (b->n == b->cap) {
        b->cap = b->cap ? b->cap * 2 : 64;
        b->hits = realloc (b->hits, b->cap * sizeof *b->hits);
        if (!b->hits) {
            abort ();
        }
    }
    s_hit_t *h = malloc (sizeof *h);
    if (!h) {
        abort ();
    }
    memcpy (h->id, id, len);
    h->id[len] = 0;
    h->flags = flags;
    h->bound = 0;
    h->family[0] = h->given[0] = 0;
    b->hits[b->n++] = h;
    return h;
}

static void
s_block_free (s_block_t *b)
{
    for (size_t i = 0; i < b->n; i++) {
        free (b->hits[i]);
    }
    free (b->hits);
}

//  Copies at most PAT_MATCH_NAME_MAX-1 bytes of a name out of an index.
static void
s_name_copy (char *out, const char *in, size_t len)
{
    len = len < PAT_MATCH_NAME_MAX - 1 ? len : PAT_MATCH_NAME_MAX - 1;
    memcpy (out, in, len);
    out[len] = 0;
}

//  The index entries under `prefix` (keys ending "0 id"), at most
//  SOURCE_MAX. names: 0 none, 'D' the value is "family 0 given" (by_dob),
//  'N' the key starts with the family and the value is the given name
//  (by_name). Marks the block cut when there were more.
static pm_err
s_scan (MDB_txn *txn, MDB_dbi dbi, const void *prefix, size_t plen, unsigned flags,
        char names, s_block_t *b)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = {plen, (void *) prefix}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    int n = 0;
    while (mrc == 0 && key.mv_size > plen && memcmp (key.mv_data, prefix, plen) == 0) {
        if (n++ == SOURCE_MAX) {
            b->cut |= flags;
            break;
        }
        const char *sep = memrchr (key.mv_data, 0, key.mv_size);
        const char *id = sep ? sep + 1 : NULL;
        s_hit_t *h = id ? s_hit_add (b, id, key.mv_size - (size_t) (id - (char *) key.mv_data),
                                     flags)
                        : NULL;
        //  Stores made before the names rode along have empty values.
        if (h && names == 'D' && val.mv_size > 0) {
            const char *v = val.mv_data, *mid = memchr (v, 0, val.mv_size);
            if (mid) {
                s_name_copy (h->family, v, (size_t) (mid - v));
                s_name_copy (h->given, mid + 1, val.mv_size - (size_t) (mid + 1 - v));
                h->flags |= F_NAMED;
            }
        }
        else if (h && names == 'N' && val.mv_size > 0) {
            s_name_copy (h->family, key.mv_data, strnlen (key.mv_data, key.mv_size));
            s_name_copy (h->given, val.mv_data, val.mv_size);
            h->flags |= F_NAMED;
        }
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return PM_OK;
}

//  Every record that shares a blocking key with `p`.
static pm_err
s_block (MDB_txn *txn, const patient_t *p, s_block_t *b)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n;
    pm_err rc = PM_OK;
    if (p->birth_date && pat_valid_date (p->birth_date)) {
        n = pat_pair_key (key, p->birth_date, "");
        rc = s_scan (txn, pat_db.by_dob, key, n, F_DOB, 'D', b);
        char swapped[11];
        snprintf (swapped, sizeof swapped, "%.4s-%.2s-%.2s", p->birth_date,
                  p->birth_date + 8, p->birth_date + 5);
        if (rc == PM_OK && strcmp (swapped, p->birth_date) != 0
            && pat_valid_date (swapped)) {
            n = pat_pair_key (key, swapped, "");
            rc = s_scan (txn, pat_db.by_dob, key, n, F_SWAPPED, 'D', b);
        }
    }
    for (size_t i = 0; rc == PM_OK && i < p->n_telecom; i++) {
        const Pm__Patients__ContactPoint *cp = p->telecom[i];
        char value[256];
        if (!cp->value) {
            continue;
        }
        if (cp->system == PM__PATIENTS__CONTACT_SYSTEM__EMAIL) {
            pat_email_key (cp->value, value, sizeof value);
            n = pat_pair_key (key, value, "");
            rc = *value ? s_scan (txn, pat_db.by_email, key, n, F_EMAIL, 0, b) : PM_OK;
        }
        else {
            pat_phone_key (cp->value, value);
            if (strlen (value) >= 7) {
                rc = s_scan (txn, pat_db.by_phone, value, 7, F_PHONE, 0, b);
            }
        }
    }
    if (rc == PM_OK && p->name && p->name->family) {
        char family[PAT_NAME_PART];
        pat_fold_name (p->name->family, family, sizeof family);
        size_t len = strlen (family) < 4 ? strlen (family) : 4;
        if (len > 0) {
            rc = s_scan (txn, pat_db.by_name, family, len, 0, 'N', b);
        }
    }
    for (size_t i = 0; rc == PM_OK && i < p->n_mrns; i++) {
        const Pm__Patients__SiteMrn *m = p->mrns[i];
        MDB_val val;
        if (!m->site_id || !m->mrn) {
            continue;
        }
        n = pat_pair_key (key, m->site_id, m->mrn);
        rc = pm_store_get (txn, pat_db.by_mrn, key, n, &val);
        if (rc == PM_OK) {
            s_hit_add (b, val.mv_data, val.mv_size, F_MRN);
        }
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    return rc;
}

static int
s_hit_id_cmp (const void *a, const void *b)
{
    return strcmp ((*(s_hit_t *const *) a)->id, (*(s_hit_t *const *) b)->id);
}

static int
s_hit_bound_cmp (const void *a, const void *b)
{
    const s_hit_t *x = *(s_hit_t *const *) a, *y = *(s_hit_t *const *) b;
    return x->bound != y->bound ? y->bound - x->bound : strcmp (x->id, y->id);
}

//  The most `h` can score against `p` (folded names fa, ga; NULL when p
//  has none): what the indexes showed, and the most of what they could
//  not show. Exact but for the sex (which only takes away).
static int
s_bound (const patient_t *p, const char *fa, const char *ga, const s_hit_t *h,
         unsigned cut)
{
    int bound = 0;
    if (fa && (h->flags & F_NAMED)) {
        bound += pat_match_names (fa, ga, h->family, h->given, NULL, 0);
    }
    else if (fa) {
        bound += 35;
    }
    if (h->flags & F_DOB) {
        bound += 30;
    }
    else if (p->birth_date) {
        //  Not the same date (the block would have shown it, unless cut);
        //  swapped or one digit apart at most.
        bound += (cut & (F_DOB | F_SWAPPED)) ? 30 : (h->flags & F_SWAPPED) ? 20 : 15;
    }
    bool phone = false, email = false;
    for (size_t i = 0; i < p->n_telecom; i++) {
        email = email || p->telecom[i]->system == PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
        phone = phone || p->telecom[i]->system != PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
    }
    if (phone && ((h->flags & F_PHONE) || (cut & F_PHONE))) {
        bound += 20;
    }
    if (email && ((h->flags & F_EMAIL) || (cut & F_EMAIL))) {
        bound += 25;
    }
    if (h->flags & F_MRN) {
        bound += 60;
    }
    return bound;
}

static int
s_cand_cmp (const void *a, const void *b)
{
    const s_cand_t *x = a, *y = b;
    if (x->m.score != y->m.score) {
        return y->m.score - x->m.score;
    }
    return strcmp (x->p->id, y->p->id);
}

static void
s_cands_free (s_cand_t *cands, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pm__patients__patient__free_unpacked (cands[i].p, NULL);
    }
    free (cands);
}

//  The records scoring at least `min` against `p`, best first, at most
//  `max` of them (caller frees with s_cands_free). Candidates are ranked
//  by the bound their index entries allow; only the best 2 x max + 10
//  that can still reach `min` are read and scored.
static pm_err
s_candidates (MDB_txn *txn, const patient_t *p, int min, size_t max,
              s_cand_t **out, size_t *n_out)
{
    s_block_t b = {NULL, 0, 0, 0};
    *out = NULL;
    *n_out = 0;
    pm_err rc = s_block (txn, p, &b);
    //  One hit per record, what every block said about it together.
    if (b.n > 1) {
        qsort (b.hits, b.n, sizeof *b.hits, s_hit_id_cmp);
    }
    size_t kept = 0;
    for (size_t i = 0; i < b.n; i++) {
        s_hit_t *h = b.hits[i];
        if (p->id && strcmp (h->id, p->id) == 0) {
            free (h);
            continue;
        }
        if (kept > 0 && strcmp (b.hits[kept - 1]->id, h->id) == 0) {
            s_hit_t *into = b.hits[kept - 1];
            if ((h->flags & F_NAMED) && !(into->flags & F_NAMED)) {
                memcpy (into->family, h->family, sizeof into->family);
                memcpy (into->given, h->given, sizeof into->given);
            }
            into->flags |= h->flags;
            free (h);
            continue;
        }
        b.hits[kept++] = h;
    }
    b.n = kept;
    char fa[PAT_MATCH_NAME_MAX], ga[PAT_MATCH_NAME_MAX];
    bool named = p->name && p->name->family && p->name->n_given > 0;
    if (named) {
        pat_fold_name (p->name->family, fa, sizeof fa);
        pat_fold_name (p->name->given[0], ga, sizeof ga);
        named = *fa && *ga;
    }
    kept = 0;
    for (size_t i = 0; i < b.n; i++) {
        b.hits[i]->bound = s_bound (p, named ? fa : NULL, ga, b.hits[i], b.cut);
        if (b.hits[i]->bound >= min) {
            b.hits[kept++] = b.hits[i];
        }
        else {
            free (b.hits[i]);
        }
    }
    b.n = kept;
    if (b.n > 1) {
        qsort (b.hits, b.n, sizeof *b.hits, s_hit_bound_cmp);
    }
    size_t reads = b.n < 2 * max + 10 ? b.n : 2 * max + 10;
    s_cand_t *cands = calloc (reads ? reads : 1, sizeof *cands);
    if (!cands) {
        abort ();
    }
    size_t n = 0;
    for (size_t i = 0; rc == PM_OK && i < reads; i++) {
        patient_t *other;
        rc = pat_get (txn, b.hits[i]->id, &other);
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK; //  an index entry of a record gone: nothing to score
            continue;
        }
        if (rc != PM_OK) {
            break;
        }
        if (pat_merged_into (other) || pat_erased (other)) {
            pm__patients__patient__free_unpacked (other, NULL);
            continue;
        }
        pat_match (p, other, &cands[n].m);
        if (cands[n].m.score >= min) {
            cands[n++].p = other;
        }
        else {
            pm__patients__patient__free_unpacked (other, NULL);
        }
    }
    s_block_free (&b);
    if (rc != PM_OK) {
        s_cands_free (cands, n);
        return rc;
    }
    qsort (cands, n, sizeof *cands, s_cand_cmp);
    for (size_t i = max; i < n; i++) {
        pm__patients__patient__free_unpacked (cands[i].p, NULL);
    }
    *out = cands;
    *n_out = n < max ? n : max;
    return PM_OK;
}

//  --- pairs -----------------------------------------------------------------

//  'P' a 0 b with a < b.
static size_t
s_pair_key (uint8_t *key, const char *x, const char *y)
{
    const char *a = strcmp (x, y) < 0 ? x : y, *b = a == x ? y : x;
    key[0] = 'P';
    return 1 + pat_pair_key (key + 1, a, b);
}

//  'S' site 0 rank a 0 b.
static size_t
s_site_key (uint8_t *key, const char *site, const pair_t *pair)
{
    key[0] = 'S';
    size_t n = 1 + pat_key_put (key + 1, site, 65);
    key[n++] = (uint8_t) (255 - (pair->score > 100 ? 100 : pair->score));
    return n + pat_pair_key (key + n, pair->a_id, pair->b_id);
}

//  'B' id 0 other.
static size_t
s_by_key (uint8_t *key, const char *id, const char *other)
{
    key[0] = 'B';
    return 1 + pat_pair_key (key + 1, id, other);
}

static pm_err
s_pair_get (MDB_txn *txn, const char *x, const char *y, pair_t **out)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_pair_key (key, x, y);
    *out = NULL;
    return pm_store_get_msg (txn, pat_db.dups, key, n,
                             &pm__patients__duplicate_pair__descriptor,
                             (ProtobufCMessage **) out);
}

//  Adds (or removes) the pair's site worklist entries.
static pm_err
s_pair_sites (MDB_txn *txn, const pair_t *pair, bool add)
{
    if (pair->status != PM__PATIENTS__PAIR_STATUS__PAIR_OPEN) {
        return PM_OK; //  only open pairs are on worklists
    }
    for (size_t i = 0; i < pair->n_sites; i++) {
        uint8_t key[PAT_KEY_MAX];
        size_t n = s_site_key (key, pair->sites[i], pair);
        pm_err rc = add ? pm_store_put (txn, pat_db.dups, key, n, "", 0, 0)
                        : pm_store_del (txn, pat_db.dups, key, n);
        if (rc != PM_OK && !(rc == PM_ENOTFOUND && !add)) {
            return rc;
        }
    }
    return PM_OK;
}

//  Writes the pair record, its worklist entries and its 'B' entries.
static pm_err
s_pair_put (MDB_txn *txn, const pair_t *pair)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_pair_key (key, pair->a_id, pair->b_id);
    pm_err rc = pm_store_put_msg (txn, pat_db.dups, key, n, &pair->base, 0);
    if (rc == PM_OK) {
        rc = s_pair_sites (txn, pair, true);
    }
    n = s_by_key (key, pair->a_id, pair->b_id);
    rc = rc == PM_OK ? pm_store_put (txn, pat_db.dups, key, n, "", 0, 0) : rc;
    n = s_by_key (key, pair->b_id, pair->a_id);
    rc = rc == PM_OK ? pm_store_put (txn, pat_db.dups, key, n, "", 0, 0) : rc;
    return rc;
}

//  Removes the pair and every entry pointing at it.
static pm_err
s_pair_drop (MDB_txn *txn, const pair_t *pair)
{
    uint8_t key[PAT_KEY_MAX];
    pm_err rc = s_pair_sites (txn, pair, false);
    size_t n = s_pair_key (key, pair->a_id, pair->b_id);
    rc = rc == PM_OK ? pm_store_del (txn, pat_db.dups, key, n) : rc;
    n = s_by_key (key, pair->a_id, pair->b_id);
    rc = rc == PM_OK ? pm_store_del (txn, pat_db.dups, key, n) : rc;
    n = s_by_key (key, pair->b_id, pair->a_id);
    rc = rc == PM_OK ? pm_store_del (txn, pat_db.dups, key, n) : rc;
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  The ids `id` has pairs with (caller frees set.ids).
static pm_err
s_pairs_of (MDB_txn *txn, const char *id, s_ids_t *set)
{
    uint8_t prefix[PAT_KEY_MAX];
    size_t plen = s_by_key (prefix, id, ""); //  through the separator
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.dups, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = {plen, prefix}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size > plen && memcmp (key.mv_data, prefix, plen) == 0) {
        s_ids_add (set, (char *) key.mv_data + plen, key.mv_size - plen);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return PM_OK;
}

//  Storage for the reasons of one pair or candidate.
typedef struct {
    Pm__Patients__MatchReason items[PAT_MATCH_REASONS];
    Pm__Patients__MatchReason *ptrs[PAT_MATCH_REASONS];
} s_reasons_t;

static void
s_reasons (const pat_match_t *m, s_reasons_t *r)
{
    for (int i = 0; i < m->n; i++) {
        pm__patients__match_reason__init (&r->items[i]);
        r->items[i].field = (char *) m->reasons[i].field;
        r->items[i].has_points = 1;
        r->items[i].points = m->reasons[i].points;
        r->items[i].detail = (char *) m->reasons[i].detail;
        r->ptrs[i] = &r->items[i];
    }
}

//  The worklists of a pair: both home sites, in order.
static void
s_sites (const patient_t *p, const patient_t *q, char *sites[2])
{
    bool p_first = strcmp (p->home_site, q->home_site) <= 0;
    sites[0] = p_first ? p->home_site : q->home_site;
    sites[1] = p_first ? q->home_site : p->home_site;
}

//  True when the two packed messages are the same bytes.
static bool
s_same (const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t la = protobuf_c_message_get_packed_size (a);
    size_t lb = protobuf_c_message_get_packed_size (b);
    if (la != lb) {
        return false;
    }
    uint8_t *pa = malloc (la + 1), *pb = malloc (lb + 1);
    if (!pa || !pb) {
        abort ();
    }
    protobuf_c_message_pack (a, pa);
    protobuf_c_message_pack (b, pb);
    bool same = memcmp (pa, pb, la) == 0;
    free (pa);
    free (pb);
    return same;
}

//  --------------------------------------------------------------------------
//  Recomputes the pairs of `p`.
pm_err
pat_dups_refresh (pm_ctx_t *ctx, const patient_t *p)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    s_cand_t *cands;
    size_t n;
    pm_err rc = s_candidates (txn, p, PAT_MATCH_LIKELY, TOP_PAIRS, &cands, &n);
    if (rc != PM_OK) {
        return rc;
    }
    //  Open pairs that no longer make the list leave the worklists.
    s_ids_t had = {NULL, 0, 0};
    rc = s_pairs_of (txn, p->id, &had);
    for (size_t i = 0; rc == PM_OK && i < had.n; i++) {
        bool kept = false;
        for (size_t j = 0; j < n && !kept; j++) {
            kept = strcmp (cands[j].p->id, had.ids[i]) == 0;
        }
        pair_t *old;
        if (kept || (rc = s_pair_get (txn, p->id, had.ids[i], &old)) != PM_OK) {
            rc = rc == PM_ENOTFOUND ? PM_OK : rc;
            continue;
        }
        if (old->status == PM__PATIENTS__PAIR_STATUS__PAIR_OPEN) {
            rc = s_pair_drop (txn, old);
        }
        pm__patients__duplicate_pair__free_unpacked (old, NULL);
    }
    free (had.ids);
    //  The list itself: new pairs raised, changed ones rewritten.
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        const patient_t *q = cands[i].p;
        pair_t *old = NULL;
        rc = s_pair_get (txn, p->id, q->id, &old);
        if (rc != PM_OK && rc != PM_ENOTFOUND) {
            break;
        }
        rc = PM_OK;
        if (old && old->status == PM__PATIENTS__PAIR_STATUS__PAIR_DISMISSED) {
            pm__patients__duplicate_pair__free_unpacked (old, NULL);
            continue;
        }
        s_reasons_t reasons;
        s_reasons (&cands[i].m, &reasons);
        char *sites[2];
        s_sites (p, q, sites);
        pair_t pair = PM__PATIENTS__DUPLICATE_PAIR__INIT;
        bool p_first = strcmp (p->id, q->id) < 0;
        pair.a_id = p_first ? p->id : q->id;
        pair.b_id = p_first ? q->id : p->id;
        pair.has_score = pair.has_status = pair.has_detected_at = 1;
        pair.score = (uint32_t) cands[i].m.score;
        pair.n_reasons = (size_t) cands[i].m.n;
        pair.reasons = reasons.ptrs;
        pair.n_sites = strcmp (sites[0], sites[1]) == 0 ? 1 : 2;
        pair.sites = sites;
        pair.status = PM__PATIENTS__PAIR_STATUS__PAIR_OPEN;
        pair.detected_at = old ? old->detected_at : pm_ctx_now (ctx);
        pair.has_updated_at = 1;
        pair.updated_at = old ? old->updated_at : pair.detected_at;
        if (old && s_same (&old->base, &pair.base)) {
            pm__patients__duplicate_pair__free_unpacked (old, NULL);
            continue;
        }
        pair.updated_at = pm_ctx_now (ctx);
        if (old) {
            rc = s_pair_sites (txn, old, false);
        }
        if (rc == PM_OK) {
            rc = s_pair_put (txn, &pair);
        }
        pm__patients__duplicate_pair__free_unpacked (old, NULL);
    }
    s_cands_free (cands, n);
    return rc;
}

//  --------------------------------------------------------------------------
//  Drops every pair of `id`.
pm_err
pat_dups_forget (pm_ctx_t *ctx, const char *id)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    s_ids_t had = {NULL, 0, 0};
    pm_err rc = s_pairs_of (txn, id, &had);
    for (size_t i = 0; rc == PM_OK && i < had.n; i++) {
        pair_t *old;
        rc = s_pair_get (txn, id, had.ids[i], &old);
        if (rc == PM_OK) {
            rc = s_pair_drop (txn, old);
            pm__patients__duplicate_pair__free_unpacked (old, NULL);
        }
        else if (rc == PM_ENOTFOUND) {
            uint8_t key[PAT_KEY_MAX];
            size_t n = s_by_key (key, id, had.ids[i]);
            rc = pm_store_del (txn, pat_db.dups, key, n);
        }
    }
    free (had.ids);
    return rc;
}

//  --------------------------------------------------------------------------
//  Marks the pair dismissed, creating it if needed.
pm_err
pat_dups_dismiss (pm_ctx_t *ctx, const char *x, const char *y, const char *note,
                  pair_t **out)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    *out = NULL;
    pair_t *old = NULL;
    pm_err rc = s_pair_get (txn, x, y, &old);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        return rc;
    }
    if (old && old->status == PM__PATIENTS__PAIR_STATUS__PAIR_DISMISSED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "other_id",
                          "%s and %s were already dismissed by %s", old->a_id,
                          old->b_id, old->reviewed_by ? old->reviewed_by : "?");
        pm__patients__duplicate_pair__free_unpacked (old, NULL);
        return rc;
    }
    //  The pair as it stands now, scored afresh when it was never raised.
    patient_t *px = NULL, *py = NULL;
    rc = pat_get (txn, x, &px);
    if (rc == PM_OK) {
        rc = pat_get (txn, y, &py);
    }
    if (rc != PM_OK) {
        pm__patients__patient__free_unpacked (px, NULL);
        pm__patients__duplicate_pair__free_unpacked (old, NULL);
        return rc == PM_ENOTFOUND ? pm_ctx_fail (ctx, rc, "other_id", "no patient %s",
                                                 px ? y : x)
                                  : rc;
    }
    pat_match_t m;
    pat_match (px, py, &m);
    s_reasons_t reasons;
    s_reasons (&m, &reasons);
    char *sites[2];
    s_sites (px, py, sites);
    pair_t pair = PM__PATIENTS__DUPLICATE_PAIR__INIT;
    bool x_first = strcmp (x, y) < 0;
    pair.a_id = (char *) (x_first ? x : y);
    pair.b_id = (char *) (x_first ? y : x);
    pair.has_score = pair.has_status = pair.has_detected_at = 1;
    pair.has_updated_at = pair.has_reviewed_at = 1;
    pair.score = (uint32_t) m.score;
    pair.n_reasons = (size_t) m.n;
    pair.reasons = reasons.ptrs;
    pair.n_sites = strcmp (sites[0], sites[1]) == 0 ? 1 : 2;
    pair.sites = sites;
    pair.status = PM__PATIENTS__PAIR_STATUS__PAIR_DISMISSED;
    pair.detected_at = old ? old->detected_at : pm_ctx_now (ctx);
    pair.updated_at = pair.reviewed_at = pm_ctx_now (ctx);
    pair.reviewed_by = (char *) pat_actor (ctx);
    pair.review_note = (char *) note;
    rc = old ? s_pair_sites (txn, old, false) : PM_OK;
    if (rc == PM_OK) {
        rc = s_pair_put (txn, &pair);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "patients.duplicate.dismissed",
                          pair.n_sites ? pair.sites[0] : NULL, pair.a_id,
                          &pair.base);
    }
    if (rc == PM_OK) {
        //  A copy that outlives the records it points into.
        size_t len = pm__patients__duplicate_pair__get_packed_size (&pair);
        uint8_t *buf = malloc (len + 1);
        if (!buf) {
            abort ();
        }
        pm__patients__duplicate_pair__pack (&pair, buf);
        *out = pm__patients__duplicate_pair__unpack (NULL, len, buf);
        free (buf);
        rc = *out ? PM_OK : PM_EINTERNAL;
    }
    pm__patients__patient__free_unpacked (px, NULL);
    pm__patients__patient__free_unpacked (py, NULL);
    pm__patients__duplicate_pair__free_unpacked (old, NULL);
    return rc;
}

//  --- commands ------------------------------------------------------------

//  True for a site id: 1..64 letters, digits, '_' or '-'.
static bool
s_site_ok (const char *s)
{
    size_t n = s ? strlen (s) : 0;
    return n > 0 && n <= 64
           && strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-") == n;
}

//  patients.FindDuplicates
static pm_err
s_find (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__FindDuplicates *req = (const Pm__Patients__FindDuplicates *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (!req->patient_id == !req->probe) {
        return pm_ctx_fail (ctx, PM_EINVAL, "patient_id",
                            "give a patient_id or a probe, not both");
    }
    uint32_t min = req->has_min_score ? req->min_score : PAT_MATCH_DEFAULT_MIN;
    uint32_t max = req->has_max && req->max ? req->max : FIND_DEFAULT;
    if (min > 100) {
        return pm_ctx_fail (ctx, PM_EINVAL, "min_score", "min_score is 0..100");
    }
    if (max > FIND_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "max", "at most %d", FIND_MAX);
    }
    patient_t *stored = NULL;
    const patient_t *p = req->probe;
    if (req->patient_id) {
        pm_err rc = pat_load (ctx, req->patient_id, "patient_id", &stored);
        if (rc == PM_OK) {
            rc = pat_access (ctx, stored, "patient_id");
        }
        if (rc == PM_OK) {
            rc = pat_check_changeable (ctx, stored, "patient_id");
        }
        if (rc != PM_OK) {
            pm__patients__patient__free_unpacked (stored, NULL);
            return rc;
        }
        p = stored;
    }
    else {
        if (p->id) {
            return pm_ctx_fail (ctx, PM_EINVAL, "probe.id",
                                "a probe is not registered: leave id out, or "
                                "use patient_id");
        }
        if (p->birth_date && !pat_valid_date (p->birth_date)) {
            return pm_ctx_fail (ctx, PM_EINVAL, "probe.birth_date",
                                "\"%.20s\" is not a date written YYYY-MM-DD",
                                p->birth_date);
        }
        bool named = p->name && p->name->family && *p->name->family;
        if (!named && !p->birth_date && p->n_telecom == 0 && p->n_mrns == 0) {
            return pm_ctx_fail (ctx, PM_EINVAL, "probe",
                                "give at least a name, birth_date, telecom or mrn");
        }
    }
    s_cand_t *cands;
    size_t n;
    pm_err rc = s_candidates (txn, p, (int) min, max, &cands, &n);
    if (rc == PM_OK) {
        Pm__Patients__DuplicateCandidate items[n ? n : 1], *ptrs[n ? n : 1];
        s_reasons_t reasons[n ? n : 1];
        for (size_t i = 0; rc == PM_OK && i < n; i++) {
            Pm__Patients__DuplicateCandidate *c = &items[i];
            pm__patients__duplicate_candidate__init (c);
            s_reasons (&cands[i].m, &reasons[i]);
            c->patient_id = cands[i].p->id;
            c->has_score = c->has_likely = c->has_dismissed = 1;
            c->score = (uint32_t) cands[i].m.score;
            c->likely = cands[i].m.score >= PAT_MATCH_LIKELY;
            c->n_reasons = (size_t) cands[i].m.n;
            c->reasons = reasons[i].ptrs;
            c->patient = cands[i].p;
            //  Candidates from any site are shown (finding cross-site
            //  duplicates is the point); each look is on the audit log.
            pm_ctx_audit (ctx, cands[i].p->id, cands[i].p->home_site);
            if (stored) {
                pair_t *pair;
                rc = s_pair_get (txn, stored->id, cands[i].p->id, &pair);
                if (rc == PM_OK) {
                    c->dismissed = pair->status == PM__PATIENTS__PAIR_STATUS__PAIR_DISMISSED;
                    pm__patients__duplicate_pair__free_unpacked (pair, NULL);
                }
                rc = rc == PM_ENOTFOUND ? PM_OK : rc;
            }
            ptrs[i] = c;
        }
        Pm__Patients__Duplicates out = PM__PATIENTS__DUPLICATES__INIT;
        out.n_candidates = n;
        out.candidates = ptrs;
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &out.base);
        }
        s_cands_free (cands, n);
    }
    pm__patients__patient__free_unpacked (stored, NULL);
    return rc;
}

//  patients.DuplicateWorklist
static pm_err
s_worklist (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__DuplicateWorklist *req
        = (const Pm__Patients__DuplicateWorklist *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (!s_site_ok (req->site_id)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id",
                            "a site id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (pat_site_access (ctx, req->site_id, "site_id") != PM_OK) {
        return PM_EFORBIDDEN;
    }
    uint32_t page = req->has_page_size && req->page_size ? req->page_size : PAGE_DEFAULT;
    if (page > PAGE_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_size", "at most %d", PAGE_MAX);
    }
    uint8_t prefix[PAT_KEY_MAX], after[PAT_KEY_MAX];
    size_t after_len = 0;
    prefix[0] = 'S';
    size_t plen = 1 + pat_key_put (prefix + 1, req->site_id, 65);
    if (req->page_token && *req->page_token
        && (!pat_unhex (req->page_token, after, &after_len) || after_len <= plen
            || memcmp (after, prefix, plen) != 0)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_token",
                            "not a page token from this site's worklist");
    }
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.dups, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = after_len ? (MDB_val) {after_len, after} : (MDB_val) {plen, prefix};
    MDB_val val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    if (mrc == 0 && after_len && key.mv_size == after_len
        && memcmp (key.mv_data, after, after_len) == 0) {
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    pair_t **pairs = calloc (page, sizeof *pairs);
    patient_t **patients = calloc (2 * page, sizeof *patients);
    size_t n = 0, np = 0;
    char next[2 * PAT_KEY_MAX + 1] = "";
    while (rc == PM_OK && mrc == 0 && key.mv_size > plen
           && memcmp (key.mv_data, prefix, plen) == 0) {
        if (n == page) {
            //  There is more: the next page starts after the last one.
            break;
        }
        const char *a = (const char *) key.mv_data + plen + 1;
        const char *b = a + strnlen (a, key.mv_size - plen - 1) + 1;
        char ida[PM_ID_MAX], idb[PM_ID_MAX];
        snprintf (ida, sizeof ida, "%.*s", (int) strnlen (a, PM_ID_MAX - 1), a);
        size_t blen = key.mv_size - (size_t) (b - (const char *) key.mv_data);
        snprintf (idb, sizeof idb, "%.*s", (int) (blen < PM_ID_MAX ? blen : PM_ID_MAX - 1), b);
        rc = s_pair_get (txn, ida, idb, &pairs[n]);
        if (rc == PM_OK) {
            for (int side = 0; rc == PM_OK && side < 2; side++) {
                const char *id = side ? pairs[n]->b_id : pairs[n]->a_id;
                bool seen = false;
                for (size_t i = 0; i < np && !seen; i++) {
                    seen = strcmp (patients[i]->id, id) == 0;
                }
                if (!seen) {
                    rc = pat_get (txn, id, &patients[np]);
                    if (rc == PM_OK) {
                        pm_ctx_audit (ctx, id, patients[np++]->home_site);
                    }
                }
            }
            n++;
        }
        pat_hex (key.mv_data, key.mv_size, next);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    bool more = rc == PM_OK && mrc == 0 && key.mv_size > plen
                && memcmp (key.mv_data, prefix, plen) == 0;
    mdb_cursor_close (cursor);
    if (rc == PM_OK) {
        Pm__Patients__DuplicateWorklistPage out = PM__PATIENTS__DUPLICATE_WORKLIST_PAGE__INIT;
        out.n_pairs = n;
        out.pairs = pairs;
        out.n_patients = np;
        out.patients = patients;
        out.next_page_token = more ? next : NULL;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < n; i++) {
        pm__patients__duplicate_pair__free_unpacked (pairs[i], NULL);
    }
    for (size_t i = 0; i < np; i++) {
        pm__patients__patient__free_unpacked (patients[i], NULL);
    }
    free (pairs);
    free (patients);
    return rc;
}

//  patients.DismissDuplicate
static pm_err
s_dismiss (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__DismissDuplicate *req
        = (const Pm__Patients__DismissDuplicate *) body;
    patient_t *a = NULL, *b = NULL;
    pm_err rc = pat_load (ctx, req->patient_id, "patient_id", &a);
    if (rc == PM_OK) {
        rc = pat_load (ctx, req->other_id, "other_id", &b);
    }
    if (rc == PM_OK && strcmp (a->id, b->id) == 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "other_id", "a record is not its own duplicate");
    }
    if (rc == PM_OK) {
        rc = pat_access (ctx, a, "patient_id");
    }
    if (rc == PM_OK) {
        rc = pat_access (ctx, b, "other_id");
    }
    if (rc == PM_OK) {
        rc = pat_check_changeable (ctx, a, "patient_id");
    }
    if (rc == PM_OK) {
        rc = pat_check_changeable (ctx, b, "other_id");
    }
    if (rc == PM_OK) {
        rc = pat_check_text (ctx, "note", req->note, true);
    }
    pair_t *pair = NULL;
    if (rc == PM_OK) {
        rc = pat_dups_dismiss (ctx, a->id, b->id, req->note, &pair);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &pair->base);
    }
    pm__patients__duplicate_pair__free_unpacked (pair, NULL);
    pm__patients__patient__free_unpacked (a, NULL);
    pm__patients__patient__free_unpacked (b, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Binds the duplicate commands.
void
pat_dups_bind (pm_server_t *server)
{
    pm_server_handle (server, "patients.FindDuplicates", s_find);
    pm_server_handle (server, "patients.DuplicateWorklist", s_worklist);
    pm_server_handle (server, "patients.DismissDuplicate", s_dismiss);
}
