/*  staffing_credentials.c: credentials, expiry warnings, role
    requirements (see staffing_credentials.h).

    The due index ('d') holds, per credential, the instant of its next
    warning; the timer walks it from the start up to now, so a run costs
    what is due, not what exists.                                         */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_credentials.h"
#include "staffing_store.h"
#include "staffing_training.h"
#include "staffing_tz.h"

#define TICK_MAX 500          //  credentials handled per timer run
#define TYPES_MAX 16
#define DAY_MS 86400000LL

typedef Pm__Staffing__Credential cred_t;

//  Warnings, most urgent last: days before expiry (0 = expired).
static const uint32_t s_thresholds[] = {90, 30, 7, 0};
#define THRESHOLDS 4

//  --------------------------------------------------------------------------
//  The instant a warning `days` before expiry is due: local midnight
//  starting (valid_to + 1 - days) in `zone`.
static int64_t
s_due_at (const cred_t *c, const char *zone, uint32_t days)
{
    char date[STF_DATE_LEN];
    stf_date_add (c->valid_to, 1 - (int) days, date);
    int64_t ms = 0;
    if (!stf_tz_instant (zone, date, 0, &ms) || ms < 0) {
        ms = 0;
    }
    return ms;
}

static bool
s_given (const cred_t *c, uint32_t days)
{
    for (size_t i = 0; i < c->n_escalations; i++) {
        if (c->escalations[i] == days) {
            return true;
        }
    }
    return false;
}

//  The instant of the next warning not yet given; -1 if none is left.
static int64_t
s_next_due (const cred_t *c, const char *zone)
{
    int64_t next = -1;
    for (int i = 0; i < THRESHOLDS; i++) {
        if (!s_given (c, s_thresholds[i])) {
            int64_t at = s_due_at (c, zone, s_thresholds[i]);
            next = next < 0 || at < next ? at : next;
        }
    }
    return next;
}

//  Adds or removes the credential's entry in the due index.
static pm_err
s_due_index (MDB_txn *txn, const cred_t *c, const char *zone, bool add)
{
    int64_t due = s_next_due (c, zone);
    if (due < 0) {
        return PM_OK;
    }
    pm_key_t k;
    pm_key_init (&k, STF_IX_CRD_DUE);
    pm_key_u64 (&k, (uint64_t) due);
    pm_key_str (&k, c->id);
    return stf_index (txn, stf_db.index, &k, c->id, add);
}

//  The zone of site `site_id` into zone (64 bytes); UTC if it is gone.
static pm_err
s_zone (pm_ctx_t *ctx, const char *site_id, char *zone)
{
    Pm__Staffing__Site *site;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), stf_db.sites, site_id,
                                  strlen (site_id), &pm__staffing__site__descriptor,
                                  (ProtobufCMessage **) &site);
    if (rc == PM_OK) {
        snprintf (zone, 64, "%s", site->time_zone);
        pm__staffing__site__free_unpacked (site, NULL);
    }
    else if (rc == PM_ENOTFOUND) {
        snprintf (zone, 64, "UTC");
        rc = PM_OK;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Checks the fields a command may set.
static pm_err
s_validate (pm_ctx_t *ctx, const cred_t *c)
{
    pm_err rc = stf_token (ctx, "credential.type", c->type, 48);
    if (rc == PM_OK) {
        rc = stf_text (ctx, "credential.number", c->number, true, 64);
    }
    if (rc == PM_OK) {
        rc = stf_text (ctx, "credential.issuer", c->issuer, false, 100);
    }
    if (rc == PM_OK) {
        rc = stf_text (ctx, "credential.verified_by", c->verified_by, false, 100);
    }
    if (rc == PM_OK && c->valid_from) {
        rc = stf_date (ctx, "credential.valid_from", c->valid_from);
    }
    if (rc == PM_OK) {
        rc = stf_date (ctx, "credential.valid_to", c->valid_to);
    }
    if (rc == PM_OK && c->valid_from && strcmp (c->valid_to, c->valid_from) < 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "credential.valid_to",
                           "credential.valid_to: %s is before valid_from %s", c->valid_to,
                           c->valid_from);
    }
    return rc;
}

//  Dates the expiry in the holder's primary site's zone, stores, indexes
//  and announces the credential.
static pm_err
s_save (pm_ctx_t *ctx, cred_t *c, const char *event)
{
    char zone[64];
    pm_err rc = s_zone (ctx, c->site_id, zone);
    if (rc != PM_OK) {
        return rc;
    }
    c->has_expires_at = 1;
    c->expires_at = s_due_at (c, zone, 0);
    pm_key_t k;
    pm_key_init (&k, STF_IX_CRD_BY_STAFF);
    pm_key_str (&k, c->staff_id);
    pm_key_str (&k, c->id);
    rc = stf_index (pm_ctx_txn (ctx), stf_db.index, &k, c->id, true);
    if (rc == PM_OK) {
        rc = s_due_index (pm_ctx_txn (ctx), c, zone, true);
    }
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.credentials, c->id, &c->base, event, c->site_id);
    }
    return rc;
}

//  staffing.AddCredential
static pm_err
s_add (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__AddCredential *req = (const Pm__Staffing__AddCredential *) body;
    if (!req->credential) {
        return pm_ctx_fail (ctx, PM_EINVAL, "credential", "credential: is required");
    }
    cred_t c = *req->credential;
    if (c.id || c.has_version || c.has_verified_at || c.site_id || c.has_expires_at
        || c.n_escalations || c.has_created_at || c.has_updated_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "credential.id",
                             "credential.id: id, version, verified_at, site_id, "
                             "expires_at, escalations and timestamps are set by the "
                             "service; leave them out");
    }
    pm_err rc = s_validate (ctx, &c);
    if (rc != PM_OK) {
        return rc;
    }
    stf_staff_t *s;
    if ((rc = stf_staff_load (ctx, c.staff_id, "credential.staff_id", &s)) != PM_OK) {
        return rc;
    }
    rc = stf_staff_access (ctx, s, false, "credential.staff_id");
    if (rc == PM_OK) {
        rc = stf_staff_active (ctx, s, "credential.staff_id");
    }
    char id[PM_ID_MAX];
    if (rc == PM_OK) {
        pm_id_new ("crd", pm_ctx_now (ctx), id);
        c.id = id;
        c.has_version = c.has_created_at = c.has_updated_at = 1;
        c.version = 1;
        c.created_at = c.updated_at = pm_ctx_now (ctx);
        c.has_verified_at = c.verified_by != NULL && *c.verified_by;
        c.verified_at = pm_ctx_now (ctx);
        c.site_id = s->sites[0]->site_id;
        rc = s_save (ctx, &c, "staffing.credential.added");
    }
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  Loads a credential and checks the caller may change it.
static pm_err
s_load_mine (pm_ctx_t *ctx, const char *id, const char *field, cred_t **out)
{
    pm_err rc = stf_load (ctx, stf_db.credentials, id,
                          &pm__staffing__credential__descriptor, field, "credential",
                          out);
    if (rc == PM_OK) {
        rc = stf_access (ctx, (*out)->site_id, field);
    }
    return rc;
}

//  staffing.UpdateCredential
static pm_err
s_update (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__UpdateCredential *req
        = (const Pm__Staffing__UpdateCredential *) body;
    if (!req->credential) {
        return pm_ctx_fail (ctx, PM_EINVAL, "credential",
                             "credential: holds the new values");
    }
    cred_t *old;
    pm_err rc = s_load_mine (ctx, req->credential->id, "credential.id", &old);
    if (rc == PM_OK) {
        rc = stf_check_version (ctx, old->id, old->version, req->has_expected_version,
                                req->expected_version, true);
    }
    if (rc != PM_OK) {
        pm__staffing__credential__free_unpacked (old, NULL);
        return rc;
    }
    const cred_t *p = req->credential;
    cred_t c = *old;
    c.number = p->number;
    c.issuer = p->issuer;
    c.valid_from = p->valid_from;
    c.valid_to = p->valid_to;
    c.verified_by = p->verified_by;
    c.has_verified_at = p->verified_by && *p->verified_by;
    c.verified_at = c.has_verified_at ? pm_ctx_now (ctx) : 0;
    char zone[64];
    uint32_t kept[THRESHOLDS];
    if ((rc = s_validate (ctx, &c)) == PM_OK) {
        rc = s_zone (ctx, c.site_id, zone);
    }
    if (rc == PM_OK) {
        rc = s_due_index (pm_ctx_txn (ctx), old, zone, false);
    }
    if (rc == PM_OK) {
        //  Warnings given that are still due for the new dates stay given;
        //  the others (a renewal moved them) will be given again.
        c.n_escalations = 0;
        c.escalations = kept;
        for (int i = 0; i < THRESHOLDS; i++) {
            if (s_given (old, s_thresholds[i])
                && s_due_at (&c, zone, s_thresholds[i]) <= pm_ctx_now (ctx)) {
                kept[c.n_escalations++] = s_thresholds[i];
            }
        }
        c.version++;
        c.updated_at = pm_ctx_now (ctx);
        rc = s_save (ctx, &c, "staffing.credential.updated");
    }
    pm__staffing__credential__free_unpacked (old, NULL);
    return rc;
}

//  staffing.VerifyCredential
static pm_err
s_verify (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__VerifyCredential *req
        = (const Pm__Staffing__VerifyCredential *) body;
    pm_err rc = stf_text (ctx, "verified_by", req->verified_by, true, 100);
    if (rc != PM_OK) {
        return rc;
    }
    cred_t *c;
    if ((rc = s_load_mine (ctx, req->credential_id, "credential_id", &c)) == PM_OK) {
        char *old = c->verified_by;
        c->verified_by = req->verified_by;
        c->has_verified_at = 1;
        c->verified_at = pm_ctx_now (ctx);
        c->version++;
        c->updated_at = pm_ctx_now (ctx);
        rc = stf_commit (ctx, stf_db.credentials, c->id, &c->base,
                         "staffing.credential.verified", c->site_id);
        c->verified_by = old;
    }
    pm__staffing__credential__free_unpacked (c, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  A growing list of unpacked credentials.
typedef struct {
    MDB_txn *txn;
    cred_t **items;
    size_t n, cap;
} s_creds_t;

static int
s_collect (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_creds_t *list = arg;
    if (list->n == STF_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    cred_t *c;
    pm_err rc = pm_store_get_msg (list->txn, stf_db.credentials, id, strlen (id),
                                  &pm__staffing__credential__descriptor,
                                  (ProtobufCMessage **) &c);
    if (rc != PM_OK) {
        return rc;
    }
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items = realloc (list->items, list->cap * sizeof *list->items);
    }
    list->items[list->n++] = c;
    return 0;
}

//  Every credential of staff member `staff_id`, appended to `list`.
static pm_err
s_of_staff (MDB_txn *txn, const char *staff_id, s_creds_t *list)
{
    pm_key_t prefix;
    pm_key_init (&prefix, STF_IX_CRD_BY_STAFF);
    pm_key_str (&prefix, staff_id);
    list->txn = txn;
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, NULL, s_collect,
                        list);
}

static void
s_creds_free (s_creds_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        pm__staffing__credential__free_unpacked (list->items[i], NULL);
    }
    free (list->items);
}

//  staffing.ListCredentials
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListCredentials *req
        = (const Pm__Staffing__ListCredentials *) body;
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, req->staff_id, "staff_id", &s);
    if (rc == PM_OK) {
        rc = stf_staff_access (ctx, s, true, "staff_id");
        pm__staffing__staff__free_unpacked (s, NULL);
    }
    s_creds_t list = {NULL, NULL, 0, 0};
    if (rc == PM_OK) {
        rc = s_of_staff (pm_ctx_txn (ctx), req->staff_id, &list);
    }
    if (rc == PM_OK) {
        Pm__Staffing__CredentialList out = PM__STAFFING__CREDENTIAL_LIST__INIT;
        out.n_credentials = list.n;
        out.credentials = list.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    s_creds_free (&list);
    return rc;
}

//  Credentials of a site's active staff, with their holders.
typedef struct {
    pm_ctx_t *ctx;
    const char *today, *last;   //  the window of valid_to dates
    bool include_expired;
    Pm__Staffing__ExpiringCredential *items;
    stf_staff_t **holders;
    size_t n, cap, n_holders, cap_holders;
} s_expiring_t;

static int
s_expiring_staff (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_expiring_t *ex = arg;
    MDB_txn *txn = pm_ctx_txn (ex->ctx);
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    stf_staff_t *s;
    pm_err rc = pm_store_get_msg (txn, stf_db.staff, id, strlen (id),
                                  &pm__staffing__staff__descriptor,
                                  (ProtobufCMessage **) &s);
    if (rc != PM_OK) {
        return rc;
    }
    if (s->status == PM__STAFFING__STAFF_STATUS__TERMINATED) {
        pm__staffing__staff__free_unpacked (s, NULL);
        return 0;
    }
    if (ex->n_holders == ex->cap_holders) {
        ex->cap_holders = ex->cap_holders ? ex->cap_holders * 2 : 16;
        ex->holders = realloc (ex->holders, ex->cap_holders * sizeof *ex->holders);
    }
    ex->holders[ex->n_holders++] = s;
    s_creds_t list = {NULL, NULL, 0, 0};
    rc = s_of_staff (txn, id, &list);
    for (size_t i = 0; i < list.n; i++) {
        cred_t *c = list.items[i];
        bool in = strcmp (c->valid_to, ex->last) <= 0
                  && (ex->include_expired || strcmp (c->valid_to, ex->today) >= 0);
        if (in && ex->n < STF_LIST_MAX) {
            if (ex->n == ex->cap) {
                ex->cap = ex->cap ? ex->cap * 2 : 16;
                ex->items = realloc (ex->items, ex->cap * sizeof *ex->items);
            }
            Pm__Staffing__ExpiringCredential *e = &ex->items[ex->n++];
            pm__staffing__expiring_credential__init (e);
            e->credential = c;
            e->holder = s->name;
            e->has_days_left = 1;
            e->days_left = (int32_t) stf_date_diff (ex->today, c->valid_to);
            list.items[i] = NULL;
        }
        else {
            pm__staffing__credential__free_unpacked (c, NULL);
        }
    }
    free (list.items);
    return rc;
}

static int
s_by_valid_to (const void *a, const void *b)
{
    const Pm__Staffing__ExpiringCredential *x = a, *y = b;
    int c = strcmp (x->credential->valid_to, y->credential->valid_to);
    return c ? c : strcmp (x->credential->id, y->credential->id);
}

//  staffing.ExpiringCredentials
static pm_err
s_expiring (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ExpiringCredentials *q
        = (const Pm__Staffing__ExpiringCredentials *) body;
    if (!q->has_days || q->days < 1 || q->days > 366) {
        return pm_ctx_fail (ctx, PM_EINVAL, "days", "days: 1 to 366");
    }
    Pm__Staffing__Site *site;
    pm_err rc = stf_site (ctx, q->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    char today[STF_DATE_LEN], last[STF_DATE_LEN];
    stf_today (ctx, site->time_zone, today);
    stf_date_add (today, (int) q->days, last);
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, q->site_id, "site_id")) != PM_OK) {
        return rc;
    }
    s_expiring_t ex = {ctx, today, last, q->include_expired, NULL, NULL, 0, 0, 0, 0};
    pm_key_t prefix;
    pm_key_init (&prefix, STF_IX_STAFF_BY_SITE);
    pm_key_str (&prefix, q->site_id);
    rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, prefix.b, prefix.len, NULL,
                      s_expiring_staff, &ex);
    Pm__Staffing__ExpiringCredential **ptrs = calloc (ex.n + 1, sizeof *ptrs);
    if (rc == PM_OK) {
        if (ex.n) {
            qsort (ex.items, ex.n, sizeof *ex.items, s_by_valid_to);
        }
        for (size_t i = 0; i < ex.n; i++) {
            ptrs[i] = &ex.items[i];
        }
        Pm__Staffing__ExpiringList out = PM__STAFFING__EXPIRING_LIST__INIT;
        out.n_items = ex.n;
        out.items = ptrs;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < ex.n; i++) {
        pm__staffing__credential__free_unpacked (ex.items[i].credential, NULL);
    }
    for (size_t i = 0; i < ex.n_holders; i++) {
        pm__staffing__staff__free_unpacked (ex.holders[i], NULL);
    }
    free (ex.items);
    free (ex.holders);
    free (ptrs);
    return rc;
}

//  --- the timer --------------------------------------------------------------

typedef struct {
    int64_t now;
    pm_key_t keys[TICK_MAX];
    char ids[TICK_MAX][PM_ID_MAX];
    size_t n;
} s_due_t;

static int
s_due_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_due_t *due = arg;
    if (key->mv_size < 9
        || (int64_t) pm_be64_get ((uint8_t *) key->mv_data + 1) > due->now
        || due->n == TICK_MAX) {
        return PM_SCAN_STOP;
    }
    pm_key_t *k = &due->keys[due->n];
    k->len = key->mv_size < PM_KEY_MAX ? key->mv_size : PM_KEY_MAX;
    memcpy (k->b, key->mv_data, k->len);
    pm_val_str (val, due->ids[due->n], PM_ID_MAX);
    due->n++;
    return 0;
}

//  Gives the due warnings of one credential: the most urgent one due is
//  announced, the less urgent ones it overtook are marked given too (a
//  credential added 20 days before expiry gets the 30-day warning only).
static pm_err
s_escalate (pm_ctx_t *ctx, const char *id)
{
    cred_t *c;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), stf_db.credentials, id, strlen (id),
                                  &pm__staffing__credential__descriptor,
                                  (ProtobufCMessage **) &c);
    if (rc != PM_OK) {
        return rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    char zone[64];
    if ((rc = s_zone (ctx, c->site_id, zone)) != PM_OK) {
        pm__staffing__credential__free_unpacked (c, NULL);
        return rc;
    }
    int64_t now = pm_ctx_now (ctx);
    uint32_t given[THRESHOLDS], *old = c->escalations;
    size_t n_old = c->n_escalations, n = 0;
    int urgent = -1;
    for (int i = 0; i < THRESHOLDS; i++) {
        bool done = s_given (c, s_thresholds[i]);
        if (!done && s_due_at (c, zone, s_thresholds[i]) <= now) {
            urgent = i;
            done = true;
        }
        if (done) {
            given[n++] = s_thresholds[i];
        }
    }
    if (urgent >= 0) {
        c->escalations = given;
        c->n_escalations = n;
        Pm__Staffing__CredentialAlert alert = PM__STAFFING__CREDENTIAL_ALERT__INIT;
        alert.credential = c;
        alert.has_threshold_days = alert.has_days_left = 1;
        alert.threshold_days = s_thresholds[urgent];
        int64_t left = c->expires_at - now;
        alert.days_left = (int32_t) (left >= 0 ? left / DAY_MS
                                               : -((-left + DAY_MS - 1) / DAY_MS));
        rc = stf_put (ctx, stf_db.credentials, c->id, &c->base);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx,
                              s_thresholds[urgent] ? "staffing.credential.expiring"
                                                   : "staffing.credential.expired",
                              c->site_id, c->id, &alert.base);
        }
    }
    //  The next warning's entry, also when this one fired early (its
    //  site's zone moved since it was written): no warning is lost.
    if (rc == PM_OK) {
        rc = s_due_index (pm_ctx_txn (ctx), c, zone, true);
    }
    c->escalations = old;
    c->n_escalations = n_old;
    pm__staffing__credential__free_unpacked (c, NULL);
    return rc;
}

pm_err
stf_credentials_tick (pm_ctx_t *ctx)
{
    s_due_t *due = calloc (1, sizeof *due);
    due->now = pm_ctx_now (ctx);
    const char tag = STF_IX_CRD_DUE;
    pm_err rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, &tag, 1, NULL, s_due_item,
                             due);
    for (size_t i = 0; rc == PM_OK && i < due->n; i++) {
        rc = pm_store_del (pm_ctx_txn (ctx), stf_db.index, due->keys[i].b,
                           due->keys[i].len);
        if (rc == PM_OK) {
            rc = s_escalate (ctx, due->ids[i]);
        }
    }
    free (due);
    return rc;
}

//  --- what roles require -------------------------------------------------------

//  The role's requirements (caller frees), or NULL when it has none.
static pm_err
s_requirements (MDB_txn *txn, const char *role, Pm__Staffing__RoleRequirements **out)
{
    *out = NULL;
    pm_err rc = pm_store_get_msg (txn, stf_db.roles, role, strlen (role),
                                  &pm__staffing__role_requirements__descriptor,
                                  (ProtobufCMessage **) out);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

pm_err
stf_credentials_cover (pm_ctx_t *ctx, const stf_staff_t *s, const char *role,
                       const char *from, const char *to, char *missing, size_t len)
{
    missing[0] = 0;
    Pm__Staffing__RoleRequirements *req;
    pm_err rc = s_requirements (pm_ctx_txn (ctx), role, &req);
    if (rc != PM_OK || !req) {
        return rc;
    }
    s_creds_t list = {NULL, NULL, 0, 0};
    rc = s_of_staff (pm_ctx_txn (ctx), s->id, &list);
    for (size_t t = 0; rc == PM_OK && t < req->n_credential_types && !missing[0]; t++) {
        const char *type = req->credential_types[t];
        bool held = false, unverified = false;
        for (size_t i = 0; i < list.n && !held; i++) {
            const cred_t *c = list.items[i];
            bool covers = strcmp (c->type, type) == 0
                          && (!c->valid_from || strcmp (c->valid_from, from) <= 0)
                          && strcmp (c->valid_to, to) >= 0;
            held = covers && c->has_verified_at;
            unverified = unverified || (covers && !c->has_verified_at);
        }
        if (!held) {
            snprintf (missing, len, "a %s %s valid from %s to %s (required for %s)",
                      unverified ? "verified" : "valid", type, from, to, role);
        }
    }
    s_creds_free (&list);
    pm__staffing__role_requirements__free_unpacked (req, NULL);
    return rc;
}

//  staffing.SetRoleRequirements
static pm_err
s_set_requirements (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__SetRoleRequirements *req
        = (const Pm__Staffing__SetRoleRequirements *) body;
    if (!req->requirements) {
        return pm_ctx_fail (ctx, PM_EINVAL, "requirements", "requirements: is required");
    }
    Pm__Staffing__RoleRequirements r = *req->requirements;
    pm_err rc = stf_token (ctx, "requirements.role", r.role, 32);
    if (rc != PM_OK) {
        return rc;
    }
    if (r.n_credential_types > TYPES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "requirements.credential_types",
                             "requirements.credential_types: at most %d", TYPES_MAX);
    }
    char field[64];
    for (size_t i = 0; i < r.n_credential_types; i++) {
        snprintf (field, sizeof field, "requirements.credential_types[%zu]", i);
        if ((rc = stf_token (ctx, field, r.credential_types[i], 48)) != PM_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (r.credential_types[i], r.credential_types[j]) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: listed twice", field);
            }
        }
    }
    if (r.n_trainings > TYPES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "requirements.trainings",
                             "requirements.trainings: at most %d", TYPES_MAX);
    }
    for (size_t i = 0; i < r.n_trainings; i++) {
        const Pm__Staffing__TrainingRequirement *t = r.trainings[i];
        snprintf (field, sizeof field, "requirements.trainings[%zu].course", i);
        if ((rc = stf_token (ctx, field, t->course, 48)) != PM_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (t->course, r.trainings[j]->course) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: listed twice", field);
            }
        }
        snprintf (field, sizeof field, "requirements.trainings[%zu].title", i);
        if ((rc = stf_text (ctx, field, t->title, false, 100)) != PM_OK) {
            return rc;
        }
        if (t->renewal_days > 3650 || t->grace_days > 365) {
            snprintf (field, sizeof field, "requirements.trainings[%zu].%s", i,
                      t->renewal_days > 3650 ? "renewal_days" : "grace_days");
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: renewal at most 3650 days, grace at most 365", field);
        }
    }
    Pm__Staffing__RoleRequirements *old;
    if ((rc = s_requirements (pm_ctx_txn (ctx), r.role, &old)) != PM_OK) {
        return rc;
    }
    r.has_version = r.has_updated_at = 1;
    r.version = old ? old->version + 1 : 1;
    r.updated_at = pm_ctx_now (ctx);
    pm__staffing__role_requirements__free_unpacked (old, NULL);
    rc = stf_commit (ctx, stf_db.roles, r.role, &r.base,
                     "staffing.role.requirements_set", NULL);
    if (rc == PM_OK) {
        rc = stf_training_role_changed (ctx, r.role);
    }
    return rc;
}

//  staffing.GetRoleRequirements
static pm_err
s_get_requirements (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__GetRoleRequirements *q
        = (const Pm__Staffing__GetRoleRequirements *) body;
    pm_err rc = stf_token (ctx, "role", q->role, 32);
    Pm__Staffing__RoleRequirements *r = NULL;
    if (rc == PM_OK) {
        rc = s_requirements (pm_ctx_txn (ctx), q->role, &r);
    }
    if (rc == PM_OK) {
        Pm__Staffing__RoleRequirements none = PM__STAFFING__ROLE_REQUIREMENTS__INIT;
        none.role = q->role;
        rc = pm_ctx_reply (ctx, r ? &r->base : &none.base);
    }
    pm__staffing__role_requirements__free_unpacked (r, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_credentials_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.AddCredential", s_add);
    pm_server_handle (server, "staffing.UpdateCredential", s_update);
    pm_server_handle (server, "staffing.VerifyCredential", s_verify);
    pm_server_handle (server, "staffing.ListCredentials", s_list);
    pm_server_handle (server, "staffing.ExpiringCredentials", s_expiring);
    pm_server_handle (server, "staffing.SetRoleRequirements", s_set_requirements);
    pm_server_handle (server, "staffing.GetRoleRequirements", s_get_requirements);
}
