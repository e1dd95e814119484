/*  recruitment_pool.c: the talent pool and its search.

    A member is a candidate who gave both consents (data processing and
    talent pool; SetCandidatePrivacy replaces them, so a withdrawal takes
    them out), is not erased, and whose retention has not ended: the last
    is a matter of the clock, so the search checks it against now (the
    retention timer then erases them, which takes them out of the index).

    The index (recruitment_store.h) keeps per member one 'P' entry, a
    TalentPoolEntry rebuilt from the candidate and their applications
    (sites, the requisitions' roles, skills as matched, last activity,
    hired, retain_until), and lookups by site ('G'), role ('J') and skill
    ('K'). rec_pool_sync rewrites them in the transaction of every change
    to what they are made of - Apply, every pipeline step (the end of a
    process, the hire), consent and retention, skills, erasure, a
    requisition's new role - so a search reads only the lookups it needs
    and the entries they lead to: never every candidate, and never a
    candidate record but those of the page it returns (each audited).

    Order: relevance (keywords matched) first, then the most recent
    activity, then candidate id; a page ends with a cursor naming its last
    match in that order, so the next page starts after it whatever
    changed in between.                                                   */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "pm_log.h"
#include "recruitment_pool.h"

#define PAGE_DEFAULT 50
#define FILTER_MAX 20         //  roles, sites, keywords a search names, at most
#define MARK_POOL_INDEX "talent-pool-index"
#define STAGE(x) PM__RECRUITMENT__STAGE__##x

typedef Pm__Recruitment__TalentPoolEntry rec_entry_t;

//  --- skills -----------------------------------------------------------------

//  --------------------------------------------------------------------------
//  A skill as matched: trimmed, single spaces, ASCII lower case.
bool
rec_skill_norm (const char *in, char *out)
{
    size_t n = 0, chars = 0;
    bool space = false;
    for (const unsigned char *c = (const unsigned char *) in; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return false;
        }
        if (*c == ' ') {
            space = n > 0;
            continue;
        }
        if (n + 3 >= REC_SKILL_BYTES) {
            return false;
        }
        if (space) {
            out[n++] = ' ';
            chars++;
            space = false;
        }
        out[n++] = (char) (*c >= 'A' && *c <= 'Z' ? *c + ('a' - 'A') : *c);
        chars += (*c & 0xc0) != 0x80;
    }
    out[n] = 0;
    return n > 0 && chars <= REC_SKILL_CHARS;
}

//  --------------------------------------------------------------------------
//  A list of skills or keywords: each one, none twice, not too many.
pm_err
rec_skills_check (pm_ctx_t *ctx, const char *field, char *const *skills, size_t n,
                  size_t max)
{
    if (n > max) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %zu given; at most %zu", field, n,
                            max);
    }
    char norm[REC_SKILL_BYTES], other[REC_SKILL_BYTES], path[80];
    for (size_t i = 0; i < n; i++) {
        snprintf (path, sizeof path, "%s[%zu]", field, i);
        if (!skills[i] || !rec_skill_norm (skills[i], norm)) {
            return pm_ctx_fail (ctx, PM_EINVAL, path,
                                "%s: \"%.70s\" is not 1 to %d characters without control "
                                "characters", path, skills[i] ? skills[i] : "",
                                REC_SKILL_CHARS);
        }
        for (size_t j = 0; j < i; j++) {
            if (rec_skill_norm (skills[j], other) && strcmp (norm, other) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, path,
                                    "%s: \"%.70s\" is %s[%zu] again", path, skills[i],
                                    field, j);
            }
        }
    }
    return PM_OK;
}

//  --- the index ----------------------------------------------------------------

//  True when candidate `c` belongs in the pool (retention aside: see top).
static bool
s_member (const rec_cand_t *c)
{
    const Pm__Recruitment__Consent *k = c->consent;
    return !c->has_erased_at && k && k->has_talent_pool && k->talent_pool
           && k->has_data_processing && k->data_processing;
}

//  The key of a member's entry ('P', part NULL) or of one of its lookups.
static void
s_key (pm_key_t *k, char tag, const char *part, const char *cand_id)
{
    pm_key_init (k, tag);
    if (part) {
        pm_key_str (k, part);
    }
    pm_key_str (k, cand_id);
}

//  Adds or removes the lookups of entry `e`.
static pm_err
s_lookups (MDB_txn *txn, const rec_entry_t *e, bool add)
{
    struct {
        char tag;
        char **parts;
        size_t n;
    } lists[] = {{REC_IX_POOL_SITE, e->site_ids, e->n_site_ids},
                 {REC_IX_POOL_ROLE, e->roles, e->n_roles},
                 {REC_IX_POOL_SKILL, e->skills, e->n_skills}};
    pm_err rc = PM_OK;
    for (size_t l = 0; rc == PM_OK && l < sizeof lists / sizeof lists[0]; l++) {
        for (size_t i = 0; rc == PM_OK && i < lists[l].n; i++) {
            pm_key_t k;
            s_key (&k, lists[l].tag, lists[l].parts[i], e->candidate_id);
            if (add) {
                rc = pm_store_put (txn, rec_db.index, k.b, k.len, e->candidate_id,
                                   strlen (e->candidate_id), 0);
            }
            else {
                rc = pm_store_del (txn, rec_db.index, k.b, k.len);
                rc = rc == PM_ENOTFOUND ? PM_OK : rc;
            }
        }
    }
    return rc;
}

//  Ids collected from an index scan (values).
typedef struct {
    char (*ids)[PM_ID_MAX];
    size_t n, cap;
} s_ids_t;

//  Appends the id an index entry holds.
static int
s_ids_add (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_ids_t *ids = arg;
    if (ids->n == ids->cap) {
        ids->cap = ids->cap ? ids->cap * 2 : 16;
        ids->ids = realloc (ids->ids, ids->cap * sizeof *ids->ids);
        if (!ids->ids) {
            abort ();
        }
    }
    pm_val_str (val, ids->ids[ids->n++], PM_ID_MAX);
    return 0;
}

//  Appends a copy of s to a message's repeated string unless it is there.
static void
s_add_once (char ***list, size_t *n, const char *s)
{
    for (size_t i = 0; i < *n; i++) {
        if (strcmp ((*list)[i], s) == 0) {
            return;
        }
    }
    *list = realloc (*list, (*n + 1) * sizeof **list);
    if (!*list) {
        abort ();
    }
    (*list)[(*n)++] = strdup (s);
}

//  --------------------------------------------------------------------------
//  The entry of member `c` from the candidate and their applications
//  (`current` newer in memory); caller frees (free_unpacked).
static pm_err
s_entry_build (MDB_txn *txn, const rec_cand_t *c, const rec_app_t *current,
               rec_entry_t **out)
{
    rec_entry_t *e = calloc (1, sizeof *e);
    if (!e) {
        abort ();
    }
    pm__recruitment__talent_pool_entry__init (e);
    e->candidate_id = strdup (c->id);
    for (size_t i = 0; i < c->n_site_ids; i++) {
        s_add_once (&e->site_ids, &e->n_site_ids, c->site_ids[i]);
    }
    char norm[REC_SKILL_BYTES];
    for (size_t i = 0; i < c->n_skills; i++) {
        if (rec_skill_norm (c->skills[i], norm)) {
            s_add_once (&e->skills, &e->n_skills, norm);
        }
    }
    e->has_hired = e->has_last_activity_at = 1;
    if (c->has_retain_until) {
        e->has_retain_until = 1;
        e->retain_until = c->retain_until;
    }
    //  Collect first: the loads below must not run under the scan.
    s_ids_t apps = {NULL, 0, 0};
    pm_key_t k;
    pm_key_init (&k, REC_IX_APP_BY_CAND);
    pm_key_str (&k, c->id);
    pm_err rc = pm_key_scan (txn, rec_db.index, k.b, k.len, NULL, s_ids_add, &apps);
    for (size_t i = 0; rc == PM_OK && i < apps.n; i++) {
        ProtobufCMessage *m = NULL, *jm = NULL;
        const rec_app_t *a = current;
        if (!a || strcmp (a->id, apps.ids[i]) != 0) {
            rc = pm_store_get_msg (txn, rec_db.applications, apps.ids[i],
                                   strlen (apps.ids[i]),
                                   &pm__recruitment__application__descriptor, &m);
            a = (const rec_app_t *) m;
        }
        if (rc == PM_OK) {
            rc = pm_store_get_msg (txn, rec_db.requisitions, a->requisition_id,
                                   strlen (a->requisition_id),
                                   &pm__recruitment__requisition__descriptor, &jm);
        }
        if (rc == PM_OK) {
            const Pm__Recruitment__Requisition *j = (const void *) jm;
            if (j->role && *j->role) {
                s_add_once (&e->roles, &e->n_roles, j->role);
            }
            int64_t last = a->applied_at;
            for (size_t h = 0; h < a->n_history; h++) {
                last = a->history[h]->at > last ? a->history[h]->at : last;
            }
            e->last_activity_at = last > e->last_activity_at ? last : e->last_activity_at;
            e->hired |= a->stage == STAGE (HIRED);
        }
        protobuf_c_message_free_unpacked (m, NULL);
        protobuf_c_message_free_unpacked (jm, NULL);
    }
    free (apps.ids);
    if (rc != PM_OK) {
        pm__recruitment__talent_pool_entry__free_unpacked (e, NULL);
        e = NULL;
    }
    *out = e;
    return rc;
}

//  --------------------------------------------------------------------------
//  Rewrites the member's entry and lookups when they changed; removes
//  them when the candidate left the pool.
pm_err
rec_pool_sync (MDB_txn *txn, const rec_cand_t *c, const rec_app_t *current)
{
    pm_key_t k;
    s_key (&k, REC_IX_POOL, NULL, c->id);
    MDB_val old;
    pm_err rc = pm_store_get (txn, rec_db.index, k.b, k.len, &old);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        return rc;
    }
    bool had = rc == PM_OK;
    bool member = s_member (c);
    if (!had && !member) {
        return PM_OK; //  most candidates: nothing to keep
    }
    rec_entry_t *now = NULL;
    uint8_t *packed = NULL;
    size_t len = 0;
    rc = member ? s_entry_build (txn, c, current, &now) : PM_OK;
    if (rc == PM_OK && now) {
        len = protobuf_c_message_get_packed_size (&now->base);
        packed = malloc (len + 1);
        if (!packed) {
            abort ();
        }
        protobuf_c_message_pack (&now->base, packed);
    }
    bool same = rc == PM_OK && had && now && old.mv_size == len
                && memcmp (old.mv_data, packed, len) == 0;
    if (rc == PM_OK && had && !same) {
        //  The lookups the old entry made go; the new one's come.
        rec_entry_t *was = pm__recruitment__talent_pool_entry__unpack (NULL, old.mv_size,
                                                                       old.mv_data);
        if (!was) {
            rc = PM_EINTERNAL; //  we packed it
        }
        if (rc == PM_OK) {
            rc = s_lookups (txn, was, false);
        }
        pm__recruitment__talent_pool_entry__free_unpacked (was, NULL);
        if (rc == PM_OK && !now) {
            rc = pm_store_del (txn, rec_db.index, k.b, k.len);
        }
    }
    if (rc == PM_OK && now && !same) {
        rc = s_lookups (txn, now, true);
        if (rc == PM_OK) {
            rc = pm_store_put (txn, rec_db.index, k.b, k.len, packed, len, 0);
        }
    }
    free (packed);
    pm__recruitment__talent_pool_entry__free_unpacked (now, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  rec_pool_sync for a stored candidate.
pm_err
rec_pool_sync_id (MDB_txn *txn, const char *cand_id, const rec_app_t *current)
{
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (txn, rec_db.candidates, cand_id, strlen (cand_id),
                                  &pm__recruitment__candidate__descriptor, &m);
    if (rc == PM_OK) {
        rc = rec_pool_sync (txn, (const rec_cand_t *) m, current);
        protobuf_c_message_free_unpacked (m, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  rec_pool_sync for everyone who applied to a requisition.
pm_err
rec_pool_sync_job (MDB_txn *txn, const char *job_id)
{
    s_ids_t apps = {NULL, 0, 0};
    pm_key_t k;
    pm_key_init (&k, REC_IX_APP_BY_JOB);
    pm_key_str (&k, job_id);
    pm_err rc = pm_key_scan (txn, rec_db.index, k.b, k.len, NULL, s_ids_add, &apps);
    for (size_t i = 0; rc == PM_OK && i < apps.n; i++) {
        ProtobufCMessage *m;
        rc = pm_store_get_msg (txn, rec_db.applications, apps.ids[i], strlen (apps.ids[i]),
                               &pm__recruitment__application__descriptor, &m);
        if (rc == PM_OK) {
            rc = rec_pool_sync_id (txn, ((const rec_app_t *) m)->candidate_id, NULL);
            protobuf_c_message_free_unpacked (m, NULL);
        }
    }
    free (apps.ids);
    return rc;
}

//  --------------------------------------------------------------------------
typedef struct {
    MDB_txn *txn;
    long *changed;
} s_walk_t;

static pm_err
s_migrate_one (const ProtobufCMessage *msg, void *arg)
{
    const rec_cand_t *c = (const rec_cand_t *) msg;
    s_walk_t *w = arg;
    if (!c->id) {
        return PM_EINTERNAL; //  we packed it
    }
    if (!s_member (c)) {
        return PM_OK;
    }
    (*w->changed)++;
    return rec_pool_sync (w->txn, c, NULL);
}

//  The migration: every candidate of an older store through rec_pool_sync.
static pm_err
s_migrate (MDB_txn *txn, void *arg, long *changed)
{
    (void) arg;
    s_walk_t w = {txn, changed};
    return pm_store_each_msg (txn, rec_db.candidates, &pm__recruitment__candidate__descriptor,
                              s_migrate_one, &w);
}

//  --------------------------------------------------------------------------
//  The migration, once in the store's life.
int
rec_pool_migrate (pm_store_t *store)
{
    return pm_store_migrate (store, rec_db.index, MARK_POOL_INDEX, s_migrate, NULL);
}

//  --- the search -----------------------------------------------------------------

//  One member found: how it sorts.
typedef struct {
    uint32_t rel;
    int64_t act;
    char id[PM_ID_MAX];
} s_hit_t;

//  Most relevant first, then most recent, then by id.
static int
s_hit_cmp (const void *pa, const void *pb)
{
    const s_hit_t *a = pa, *b = pb;
    if (a->rel != b->rel) {
        return a->rel > b->rel ? -1 : 1;
    }
    if (a->act != b->act) {
        return a->act > b->act ? -1 : 1;
    }
    return strcmp (a->id, b->id);
}

//  Ids in byte order (to find the same member twice).
static int
s_id_cmp (const void *a, const void *b)
{
    return strcmp (a, b);
}

//  Collects the members under a lookup prefix; the 'P' entries themselves
//  are keyed by the member's id.
static int
s_member_id (const MDB_val *key, const MDB_val *val, void *arg)
{
    if (((const uint8_t *) key->mv_data)[0] != REC_IX_POOL) {
        return s_ids_add (key, val, arg);
    }
    MDB_val id = {key->mv_size - 2, (uint8_t *) key->mv_data + 1};
    return s_ids_add (key, &id, arg);
}

//  The search's filters, checked and normalized.
typedef struct {
    const Pm__Recruitment__SearchTalentPool *req;
    char (*keywords)[REC_SKILL_BYTES];
    size_t n_keywords;
    uint32_t page;
    bool has_after;
    s_hit_t after;
} s_query_t;

//  True when list (n) holds s.
static bool
s_has (char *const *list, size_t n, const char *s)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp (list[i], s) == 0) {
            return true;
        }
    }
    return false;
}

//  Reads a cursor "relevance.activity.candidate" into *out.
static bool
s_cursor_parse (const char *s, s_hit_t *out)
{
    char *end;
    unsigned long rel = strtoul (s, &end, 10);
    if (end == s || *end != '.' || rel > FILTER_MAX) {
        return false;
    }
    const char *p = end + 1;
    long long act = strtoll (p, &end, 10);
    if (end == p || *end != '.' || strlen (end + 1) >= PM_ID_MAX
        || !pm_id_valid (end + 1, "cand")) {
        return false;
    }
    out->rel = (uint32_t) rel;
    out->act = act;
    snprintf (out->id, sizeof out->id, "%s", end + 1);
    return true;
}

//  --------------------------------------------------------------------------
//  Checks the request: each filter's rules, the sites the caller's.
static pm_err
s_query (pm_ctx_t *ctx, const Pm__Recruitment__SearchTalentPool *req, s_query_t *q)
{
    memset (q, 0, sizeof *q);
    q->req = req;
    q->page = req->has_page_size && req->page_size ? req->page_size : PAGE_DEFAULT;
    if (q->page > REC_LIST_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_size", "page_size: at most %d",
                            REC_LIST_MAX);
    }
    struct {
        const char *field;
        char **list;
        size_t n;
    } tokens[] = {{"roles", req->roles, req->n_roles},
                  {"site_ids", req->site_ids, req->n_site_ids}};
    for (size_t t = 0; t < 2; t++) {
        if (tokens[t].n > FILTER_MAX) {
            return pm_ctx_fail (ctx, PM_EINVAL, tokens[t].field, "%s: at most %d",
                                tokens[t].field, FILTER_MAX);
        }
        for (size_t i = 0; i < tokens[t].n; i++) {
            char path[32];
            snprintf (path, sizeof path, "%s[%zu]", tokens[t].field, i);
            pm_err rc = rec_token (ctx, path, tokens[t].list[i], 64);
            if (rc == PM_OK && t == 1) {
                rc = rec_access (ctx, tokens[t].list[i], path);
            }
            if (rc != PM_OK) {
                return rc;
            }
        }
    }
    pm_err rc = rec_skills_check (ctx, "keywords", req->keywords, req->n_keywords,
                                  FILTER_MAX);
    if (rc != PM_OK) {
        return rc;
    }
    q->keywords = calloc (req->n_keywords + 1, sizeof *q->keywords);
    if (!q->keywords) {
        abort ();
    }
    for (size_t i = 0; i < req->n_keywords; i++) {
        rec_skill_norm (req->keywords[i], q->keywords[q->n_keywords++]);
    }
    if (req->after && *req->after) {
        if (!s_cursor_parse (req->after, &q->after)) {
            return pm_ctx_fail (ctx, PM_EINVAL, "after",
                                "after: \"%.60s\" is not the next_after of a page",
                                req->after);
        }
        q->has_after = true;
    }
    return PM_OK;
}

//  Scans the lookups of tag for each part (a comma-separated list when
//  `csv`) into ids.
static pm_err
s_drive (MDB_txn *txn, char tag, char *const *parts, size_t n, const char *csv,
         s_ids_t *ids)
{
    pm_err rc = PM_OK;
    pm_key_t k;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        pm_key_init (&k, tag);
        pm_key_str (&k, parts[i]);
        rc = pm_key_scan (txn, rec_db.index, k.b, k.len, NULL, s_member_id, ids);
    }
    for (const char *s = csv; rc == PM_OK && s && *s;) {
        const char *end = strchr (s, ',');
        size_t len = end ? (size_t) (end - s) : strlen (s);
        char site[PM_KEY_MAX];
        snprintf (site, sizeof site, "%.*s", (int) (len < sizeof site ? len : 0), s);
        pm_key_init (&k, tag);
        pm_key_str (&k, site);
        rc = len ? pm_key_scan (txn, rec_db.index, k.b, k.len, NULL, s_member_id, ids)
                 : PM_OK;
        s = end ? end + 1 : s + len;
    }
    return rc;
}

//  The pool entry of member `id`, NULL when there is none (caller frees).
static pm_err
s_entry_get (MDB_txn *txn, const char *id, rec_entry_t **out)
{
    *out = NULL;
    pm_key_t k;
    s_key (&k, REC_IX_POOL, NULL, id);
    MDB_val val;
    pm_err rc = pm_store_get (txn, rec_db.index, k.b, k.len, &val);
    if (rc == PM_OK) {
        *out = pm__recruitment__talent_pool_entry__unpack (NULL, val.mv_size, val.mv_data);
        rc = *out ? PM_OK : PM_EINTERNAL;
    }
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  The site of entry `e` the caller finds it by, or NULL when none: one
//  of the sites asked for, else one the caller works at.
static const char *
s_site_seen (pm_ctx_t *ctx, const s_query_t *q, const rec_entry_t *e)
{
    for (size_t i = 0; i < e->n_site_ids; i++) {
        if (q->req->n_site_ids ? s_has (q->req->site_ids, q->req->n_site_ids, e->site_ids[i])
                               : pm_principal_has_site (pm_ctx_principal (ctx),
                                                        e->site_ids[i])) {
            return e->site_ids[i];
        }
    }
    return NULL;
}

//  How many of the query's keywords entry `e` has; each into matched (may
//  be NULL).
static uint32_t
s_relevance (const s_query_t *q, const rec_entry_t *e, char **matched)
{
    uint32_t n = 0;
    for (size_t i = 0; i < q->n_keywords; i++) {
        if (s_has (e->skills, e->n_skills, q->keywords[i])) {
            if (matched) {
                matched[n] = q->keywords[i];
            }
            n++;
        }
    }
    return n;
}

//  True when entry `e` passes every filter of the query now; its
//  relevance into *rel.
static bool
s_passes (pm_ctx_t *ctx, const s_query_t *q, const rec_entry_t *e, uint32_t *rel)
{
    const Pm__Recruitment__SearchTalentPool *req = q->req;
    *rel = s_relevance (q, e, NULL);
    bool roles = !req->n_roles;
    for (size_t i = 0; !roles && i < e->n_roles; i++) {
        roles = s_has (req->roles, req->n_roles, e->roles[i]);
    }
    return roles && (!q->n_keywords || *rel > 0) && s_site_seen (ctx, q, e)
           && !(req->has_not_hired && req->not_hired && e->hired)
           && !(req->has_active_after && e->last_activity_at <= req->active_after)
           && !(e->has_retain_until && e->retain_until <= pm_ctx_now (ctx));
}

//  --------------------------------------------------------------------------
//  The page's match of hit h: the candidate (audited) and what its pool
//  entry says (into *entry, which match->roles points into). Caller frees
//  match->candidate, match->matched and *entry.
static pm_err
s_match (pm_ctx_t *ctx, const s_query_t *q, const s_hit_t *h,
         Pm__Recruitment__TalentPoolMatch *match, rec_entry_t **entry)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = s_entry_get (txn, h->id, entry);
    if (rc != PM_OK || !*entry) {
        return rc == PM_OK ? PM_EINTERNAL : rc; //  read in this same txn
    }
    ProtobufCMessage *m;
    rc = pm_store_get_msg (txn, rec_db.candidates, h->id, strlen (h->id),
                           &pm__recruitment__candidate__descriptor, &m);
    if (rc != PM_OK) {
        return rc;
    }
    pm__recruitment__talent_pool_match__init (match);
    match->candidate = (rec_cand_t *) m;
    pm_ctx_audit (ctx, h->id, s_site_seen (ctx, q, *entry));
    match->has_relevance = match->has_last_activity_at = match->has_hired = 1;
    match->matched = calloc (q->n_keywords + 1, sizeof *match->matched);
    if (!match->matched) {
        abort ();
    }
    match->n_matched = match->relevance = s_relevance (q, *entry, match->matched);
    match->roles = (*entry)->roles;
    match->n_roles = (*entry)->n_roles;
    match->last_activity_at = (*entry)->last_activity_at;
    match->hired = (*entry)->hired;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Fills and sends the page of `hits` (sorted) after the query's cursor.
static pm_err
s_page (pm_ctx_t *ctx, const s_query_t *q, const s_hit_t *hits, size_t n)
{
    size_t from = 0;
    while (q->has_after && from < n && s_hit_cmp (&hits[from], &q->after) <= 0) {
        from++;
    }
    size_t count = n - from < q->page ? n - from : q->page;
    Pm__Recruitment__TalentPoolMatch *matches = calloc (count + 1, sizeof *matches);
    Pm__Recruitment__TalentPoolMatch **ptrs = calloc (count + 1, sizeof *ptrs);
    rec_entry_t **entries = calloc (count + 1, sizeof *entries);
    if (!matches || !ptrs || !entries) {
        abort ();
    }
    pm_err rc = PM_OK;
    size_t made = 0;
    for (; rc == PM_OK && made < count; made++) {
        rc = s_match (ctx, q, &hits[from + made], &matches[made], &entries[made]);
        ptrs[made] = &matches[made];
    }
    char next[PM_ID_MAX + 48] = "";
    if (rc == PM_OK && from + count < n) {
        const s_hit_t *last = &hits[from + count - 1];
        snprintf (next, sizeof next, "%" PRIu32 ".%" PRId64 ".%s", last->rel, last->act,
                  last->id);
    }
    if (rc == PM_OK) {
        Pm__Recruitment__TalentPoolPage page = PM__RECRUITMENT__TALENT_POOL_PAGE__INIT;
        page.matches = ptrs;
        page.n_matches = count;
        page.next_after = next[0] ? next : NULL;
        page.has_total = 1;
        page.total = (uint32_t) n;
        rc = pm_ctx_reply (ctx, &page.base);
    }
    for (size_t i = 0; i < made; i++) {
        protobuf_c_message_free_unpacked (&matches[i].candidate->base, NULL);
        free (matches[i].matched);
        pm__recruitment__talent_pool_entry__free_unpacked (entries[i], NULL);
    }
    free (entries);
    free (ptrs);
    free (matches);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.SearchTalentPool
static pm_err
s_search (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__SearchTalentPool *req = (const void *) body;
    s_query_t q;
    pm_err rc = s_query (ctx, req, &q);
    MDB_txn *txn = pm_ctx_txn (ctx);
    const pm_principal_t *who = pm_ctx_principal (ctx);
    s_ids_t ids = {NULL, 0, 0};
    //  The narrowest lookups that hold every possible match drive.
    if (rc == PM_OK && q.n_keywords) {
        char **kw = calloc (q.n_keywords, sizeof *kw);
        for (size_t i = 0; kw && i < q.n_keywords; i++) {
            kw[i] = q.keywords[i];
        }
        rc = kw ? s_drive (txn, REC_IX_POOL_SKILL, kw, q.n_keywords, NULL, &ids)
                : PM_EINTERNAL;
        free (kw);
    }
    else if (rc == PM_OK && req->n_site_ids) {
        rc = s_drive (txn, REC_IX_POOL_SITE, req->site_ids, req->n_site_ids, NULL, &ids);
    }
    else if (rc == PM_OK && req->n_roles) {
        rc = s_drive (txn, REC_IX_POOL_ROLE, req->roles, req->n_roles, NULL, &ids);
    }
    else if (rc == PM_OK && strcmp (who->sites, "*") != 0) {
        rc = s_drive (txn, REC_IX_POOL_SITE, NULL, 0, who->sites, &ids);
    }
    else if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_POOL);
        rc = pm_key_scan (txn, rec_db.index, k.b, k.len, NULL, s_member_id, &ids);
    }
    //  One hit per member (a lookup per keyword or site finds one twice).
    if (ids.n > 1) {
        qsort (ids.ids, ids.n, sizeof *ids.ids, s_id_cmp);
    }
    s_hit_t *hits = calloc (ids.n + 1, sizeof *hits);
    size_t n = 0;
    if (!hits) {
        abort ();
    }
    for (size_t i = 0; rc == PM_OK && i < ids.n; i++) {
        if (i > 0 && strcmp (ids.ids[i], ids.ids[i - 1]) == 0) {
            continue;
        }
        rec_entry_t *e;
        rc = s_entry_get (txn, ids.ids[i], &e);
        uint32_t rel;
        if (rc == PM_OK && e && s_passes (ctx, &q, e, &rel)) {
            hits[n].rel = rel;
            hits[n].act = e->last_activity_at;
            snprintf (hits[n].id, sizeof hits[n].id, "%s", e->candidate_id);
            n++;
        }
        pm__recruitment__talent_pool_entry__free_unpacked (e, NULL);
    }
    free (ids.ids);
    if (rc == PM_OK) {
        if (n > 1) {
            qsort (hits, n, sizeof *hits, s_hit_cmp);
        }
        rc = s_page (ctx, &q, hits, n);
    }
    free (hits);
    free (q.keywords);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.SetCandidateSkills
static pm_err
s_set_skills (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__SetCandidateSkills *req = (const void *) body;
    pm_err rc = rec_skills_check (ctx, "skills", req->skills, req->n_skills,
                                  REC_SKILLS_MAX);
    if (rc != PM_OK) {
        return rc;
    }
    rec_cand_t *c;
    rc = rec_cand_open (ctx, req->candidate_id, "candidate_id", &c);
    if (rc != PM_OK) {
        return rc;
    }
    if (c->has_erased_at) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "candidate_id", "candidate_id: %s was erased",
                          c->id);
    }
    if (rc == PM_OK) {
        rc = rec_check_version (ctx, c->id, c->version, req->has_expected_version,
                                req->expected_version, false);
    }
    if (rc == PM_OK) {
        for (size_t i = 0; i < c->n_skills; i++) {
            free (c->skills[i]);
        }
        free (c->skills);
        c->skills = calloc (req->n_skills + 1, sizeof *c->skills);
        if (!c->skills) {
            abort ();
        }
        for (size_t i = 0; i < req->n_skills; i++) {
            c->skills[i] = strdup (req->skills[i]);
        }
        c->n_skills = req->n_skills;
        c->version++;
        c->updated_at = pm_ctx_now (ctx);
        rc = rec_commit (ctx, rec_db.candidates, c->id, &c->base,
                         "recruitment.candidate.updated",
                         c->n_site_ids ? c->site_ids[0] : "");
    }
    if (rc == PM_OK) {
        rc = rec_pool_sync (pm_ctx_txn (ctx), c, NULL);
    }
    pm__recruitment__candidate__free_unpacked (c, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Binds the pool's commands.
void
rec_pool_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.SearchTalentPool", s_search);
    pm_server_handle (server, "recruitment.SetCandidateSkills", s_set_skills);
}
