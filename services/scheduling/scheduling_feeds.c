/*  scheduling_feeds.c: applying staffing's and patients' events to the
    projections (see scheduling_feeds.h and scheduling_store.h).         */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scheduling_appts.h"
#include "scheduling_feeds.h"
#include "scheduling_slots.h"
#include "scheduling_store.h"

//  True when `type` starts with `prefix`.
static bool
s_is (const char *type, const char *prefix)
{
    return strncmp (type, prefix, strlen (prefix)) == 0;
}

//  An index entry with an empty value.
static pm_err
s_mark (MDB_txn *txn, const pm_key_t *k)
{
    return pm_store_put (txn, sch_db.index, k->b, k->len, "", 0, 0);
}

//  Deletes an index entry; absent is fine.
static pm_err
s_unmark (MDB_txn *txn, const pm_key_t *k)
{
    pm_err rc = pm_store_del (txn, sch_db.index, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  --------------------------------------------------------------------------
//  A site: kept whole (zone, closures, policy, status).
static pm_err
s_site (pm_ctx_t *ctx, const Pm__Event *ev)
{
    Pm__Staffing__Site *s = pm__staffing__site__unpack (NULL, ev->data.len, ev->data.data);
    if (!s || !s->id || !*s->id) {
        pm__staffing__site__free_unpacked (s, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a site");
    }
    pm_err rc = sch_save (pm_ctx_txn (ctx), sch_db.sites, s->id, &s->base);
    if (rc == PM_OK) {
        //  Daily limits count local days: a new zone recounts them.
        rc = sch_day_site_changed (pm_ctx_txn (ctx), s, pm_ctx_now (ctx) - 2 * 86400000LL);
    }
    pm__staffing__site__free_unpacked (s, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  A resource: kept, and indexed by site and kind while active.
static pm_err
s_resource (pm_ctx_t *ctx, const Pm__Event *ev)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Resource *r
        = pm__staffing__resource__unpack (NULL, ev->data.len, ev->data.data);
    if (!r || !r->id || !r->site_id || !r->kind) {
        pm__staffing__resource__free_unpacked (r, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a resource");
    }
    Pm__Staffing__Resource *old = NULL;
    pm_err rc = sch_load (txn, sch_db.resources, r->id, &pm__staffing__resource__descriptor,
                          (ProtobufCMessage **) &old);
    pm_key_t k;
    if (rc == PM_OK) {
        pm_key_init (&k, 'r');
        pm_key_str (&k, old->site_id);
        pm_key_str (&k, old->kind);
        pm_key_str (&k, old->id);
        rc = s_unmark (txn, &k);
    }
    else if (rc == PM_ENOTFOUND) {
        rc = PM_OK;
    }
    if (rc == PM_OK && (!r->has_active || r->active)) {
        pm_key_init (&k, 'r');
        pm_key_str (&k, r->site_id);
        pm_key_str (&k, r->kind);
        pm_key_str (&k, r->id);
        rc = s_mark (txn, &k);
    }
    if (rc == PM_OK) {
        rc = sch_save (txn, sch_db.resources, r->id, &r->base);
    }
    pm__staffing__resource__free_unpacked (old, NULL);
    pm__staffing__resource__free_unpacked (r, NULL);
    return rc;
}

//  Adds or removes the 's' entries of a staff member's sites.
static pm_err
s_staff_sites (MDB_txn *txn, const Pm__Staffing__Staff *st, bool add)
{
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < st->n_sites; i++) {
        pm_key_t k;
        pm_key_init (&k, 's');
        pm_key_str (&k, st->sites[i]->site_id);
        pm_key_str (&k, st->id);
        rc = add ? s_mark (txn, &k) : s_unmark (txn, &k);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  A staff member: kept, and indexed by site while active.
static pm_err
s_staff (pm_ctx_t *ctx, const Pm__Event *ev)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Staff *st = pm__staffing__staff__unpack (NULL, ev->data.len, ev->data.data);
    //  Every site assignment names its site: bookings compare them.
    bool sited = st != NULL;
    for (size_t i = 0; sited && i < st->n_sites; i++) {
        sited = st->sites[i]->site_id && *st->sites[i]->site_id;
    }
    if (!st || !st->id || !sited) {
        pm__staffing__staff__free_unpacked (st, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a staff member with named sites");
    }
    Pm__Staffing__Staff *old = NULL;
    pm_err rc = sch_load (txn, sch_db.staff, st->id, &pm__staffing__staff__descriptor,
                          (ProtobufCMessage **) &old);
    if (rc == PM_OK) {
        rc = s_staff_sites (txn, old, false);
    }
    else if (rc == PM_ENOTFOUND) {
        rc = PM_OK;
    }
    if (rc == PM_OK && st->status != PM__STAFFING__STAFF_STATUS__TERMINATED) {
        rc = s_staff_sites (txn, st, true);
    }
    if (rc == PM_OK) {
        rc = sch_save (txn, sch_db.staff, st->id, &st->base);
    }
    pm__staffing__staff__free_unpacked (old, NULL);
    pm__staffing__staff__free_unpacked (st, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Working hours: an assigned shift adds them, an unassigned one (for
//  whoever was released) withdraws them.
static pm_err
s_shift (pm_ctx_t *ctx, const Pm__Event *ev, bool assigned)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Shift *sh = pm__staffing__shift__unpack (NULL, ev->data.len, ev->data.data);
    const char *who = sh ? (assigned ? sh->staff_id : sh->released_staff_id) : NULL;
    //  Instants as the commands take them (slot searches step through a
    //  shift's hours: fuzz finding F12).
    if (!sh || !sh->id || !sh->site_id || !who || !*who || sh->end <= sh->start
        || sh->start < 0 || sh->end > SCH_TIME_MAX) {
        pm__staffing__shift__free_unpacked (sh, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not an assigned shift");
    }
    pm_key_t k;
    pm_key_init (&k, 'w');
    pm_key_str (&k, who);
    pm_key_u64 (&k, (uint64_t) sh->start);
    pm_key_str (&k, sh->id);
    pm_err rc;
    if (assigned) {
        uint8_t val[8 + 65];
        size_t slen = strlen (sh->site_id) > 64 ? 64 : strlen (sh->site_id);
        pm_be64_put (val, (uint64_t) sh->end);
        memcpy (val + 8, sh->site_id, slen);
        rc = pm_store_put (txn, sch_db.index, k.b, k.len, val, 8 + slen, 0);
    }
    else {
        rc = s_unmark (txn, &k);
    }
    if (rc == PM_OK && !assigned) {
        char cause[96];
        snprintf (cause, sizeof cause, "shift %.64s", sh->id);
        rc = sch_revalidate (ctx, who, sh->start, sh->end, cause, ev);
    }
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Approved leave adds its UTC range; cancelled leave removes it.
static pm_err
s_leave (pm_ctx_t *ctx, const Pm__Event *ev, bool approved)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Leave *lv = pm__staffing__leave__unpack (NULL, ev->data.len, ev->data.data);
    if (!lv || !lv->id || !lv->staff_id || lv->end <= lv->start || lv->start < 0
        || lv->end > SCH_TIME_MAX) {
        pm__staffing__leave__free_unpacked (lv, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a leave with a range");
    }
    pm_key_t k;
    pm_key_init (&k, 'l');
    pm_key_str (&k, lv->staff_id);
    pm_key_u64 (&k, (uint64_t) lv->start);
    pm_key_str (&k, lv->id);
    pm_err rc;
    if (approved) {
        uint8_t val[8];
        pm_be64_put (val, (uint64_t) lv->end);
        rc = pm_store_put (txn, sch_db.index, k.b, k.len, val, 8, 0);
    }
    else {
        rc = s_unmark (txn, &k);
    }
    if (rc == PM_OK && approved) {
        char cause[96];
        snprintf (cause, sizeof cause, "leave %.64s", lv->id);
        rc = sch_revalidate (ctx, lv->staff_id, lv->start, lv->end, cause, ev);
    }
    pm__staffing__leave__free_unpacked (lv, NULL);
    return rc;
}

//  Stores one credential's expiry and verification.
static pm_err
s_credential_put (MDB_txn *txn, const Pm__Staffing__Credential *c)
{
    pm_key_t k;
    pm_key_init (&k, 'c');
    pm_key_str (&k, c->staff_id);
    pm_key_str (&k, c->type);
    pm_key_str (&k, c->id);
    uint8_t val[9];
    pm_be64_put (val, (uint64_t) c->expires_at);
    val[8] = c->verified_at > 0 || (c->verified_by && *c->verified_by);
    return pm_store_put (txn, sch_db.index, k.b, k.len, val, 9, 0);
}

//  --------------------------------------------------------------------------
//  Credentials: added, updated, verified, expired.
static pm_err
s_credential (pm_ctx_t *ctx, const Pm__Event *ev)
{
    pm_err rc = PM_OK;
    if (strcmp (ev->type, "staffing.credential.expired") == 0) {
        Pm__Staffing__CredentialAlert *al
            = pm__staffing__credential_alert__unpack (NULL, ev->data.len, ev->data.data);
        if (!al || !al->credential || !al->credential->id || !al->credential->staff_id
            || !al->credential->type) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a credential alert");
        }
        else {
            rc = s_credential_put (pm_ctx_txn (ctx), al->credential);
        }
        if (rc == PM_OK) {
            //  Everything of theirs from the expiry on is checked again.
            char cause[96];
            snprintf (cause, sizeof cause, "credential %.64s", al->credential->id);
            rc = sch_revalidate (ctx, al->credential->staff_id, al->credential->expires_at,
                                 INT64_MAX, cause, ev);
        }
        pm__staffing__credential_alert__free_unpacked (al, NULL);
        return rc;
    }
    if (strcmp (ev->type, "staffing.credential.expiring") == 0) {
        return PM_OK; //  a warning: nothing changes yet
    }
    Pm__Staffing__Credential *c
        = pm__staffing__credential__unpack (NULL, ev->data.len, ev->data.data);
    if (!c || !c->id || !c->staff_id || !c->type) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a credential");
    }
    else {
        rc = s_credential_put (pm_ctx_txn (ctx), c);
    }
    pm__staffing__credential__free_unpacked (c, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  What a role requires.
static pm_err
s_role (pm_ctx_t *ctx, const Pm__Event *ev)
{
    Pm__Staffing__RoleRequirements *r
        = pm__staffing__role_requirements__unpack (NULL, ev->data.len, ev->data.data);
    pm_err rc = (!r || !r->role || !*r->role)
                    ? pm_ctx_fail (ctx, PM_EINVAL, "data", "not role requirements")
                    : sch_save (pm_ctx_txn (ctx), sch_db.roles, r->role, &r->base);
    pm__staffing__role_requirements__free_unpacked (r, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  One staffing event.
pm_err
sch_feed_staffing (pm_ctx_t *ctx, const Pm__Event *event)
{
    const char *t = event->type ? event->type : "";
    if (s_is (t, "staffing.site.")) {
        return s_site (ctx, event);
    }
    if (s_is (t, "staffing.resource.")) {
        return s_resource (ctx, event);
    }
    if (s_is (t, "staffing.staff.")) {
        return s_staff (ctx, event);
    }
    if (strcmp (t, "staffing.shift.assigned") == 0) {
        return s_shift (ctx, event, true);
    }
    if (strcmp (t, "staffing.shift.unassigned") == 0) {
        return s_shift (ctx, event, false);
    }
    if (strcmp (t, "staffing.leave.approved") == 0) {
        return s_leave (ctx, event, true);
    }
    if (strcmp (t, "staffing.leave.cancelled") == 0) {
        return s_leave (ctx, event, false);
    }
    if (s_is (t, "staffing.credential.")) {
        return s_credential (ctx, event);
    }
    if (strcmp (t, "staffing.role.requirements_set") == 0) {
        return s_role (ctx, event);
    }
    return PM_OK; //  not something scheduling keeps
}

//  --------------------------------------------------------------------------
//  Drops everything projected from staffing.
pm_err
sch_reset_staffing (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    MDB_txn *txn = pm_ctx_txn (ctx);
    MDB_dbi dbis[] = {sch_db.sites, sch_db.resources, sch_db.staff, sch_db.roles};
    for (size_t i = 0; i < sizeof dbis / sizeof dbis[0]; i++) {
        int rc = mdb_drop (txn, dbis[i], 0);
        if (rc != 0) {
            return pm_err_from_mdb (rc);
        }
    }
    const char *tags = "rswlc";
    for (const char *t = tags; *t; t++) {
        pm_err rc = pm_key_drop (txn, sch_db.index, (const uint8_t *) t, 1);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

//  Keeps what scheduling needs of one patient record, if newer.
static pm_err
s_patient_put (MDB_txn *txn, const Pm__Patients__Patient *p)
{
    if (!p || !p->id) {
        return PM_EINVAL;
    }
    Pm__Scheduling__PatientRef *old = NULL;
    pm_err rc = sch_load (txn, sch_db.patients, p->id, &pm__scheduling__patient_ref__descriptor,
                          (ProtobufCMessage **) &old);
    bool stale = rc == PM_OK && old->version >= p->version;
    pm__scheduling__patient_ref__free_unpacked (old, NULL);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        return rc;
    }
    if (stale) {
        return PM_OK; //  a replay: nothing new
    }
    Pm__Scheduling__PatientRef ref = PM__SCHEDULING__PATIENT_REF__INIT;
    ref.id = p->id;
    ref.has_version = ref.has_active = 1;
    ref.version = p->version;
    ref.active = p->active;
    ref.home_site = p->home_site;
    for (size_t i = 0; i < p->n_links; i++) {
        if (p->links[i]->type == PM__PATIENTS__LINK_TYPE__REPLACED_BY) {
            ref.replaced_by = p->links[i]->other_id; //  the last link stands
        }
    }
    return sch_save (txn, sch_db.patients, p->id, &ref.base);
}

//  Re-points appointments for a merge or unmerge, once: a marker
//  ('m' merged 0 be64 version of the merged record) survives a rebuild
//  of the patients projection, so a replayed merge moves nothing again.
static pm_err
s_repoint_once (pm_ctx_t *ctx, const Pm__Patients__MergeResult *m, bool back)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 'm');
    pm_key_str (&k, m->merged->id);
    pm_key_u64 (&k, m->merged->version);
    MDB_val key = {k.len, k.b}, val;
    int mrc = mdb_get (txn, sch_db.index, &key, &val);
    if (mrc == 0) {
        return PM_OK;
    }
    if (mrc != MDB_NOTFOUND) {
        return pm_err_from_mdb (mrc);
    }
    pm_err rc = s_mark (txn, &k);
    if (rc == PM_OK) {
        rc = back ? sch_repoint (ctx, m->survivor->id, m->merged->id, true)
                  : sch_repoint (ctx, m->merged->id, m->survivor->id, false);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  One patients event: records' status, merges and unmerges.
pm_err
sch_feed_patients (pm_ctx_t *ctx, const Pm__Event *event)
{
    const char *t = event->type ? event->type : "";
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = PM_OK;
    if (strcmp (t, "patients.patient.merged") == 0
        || strcmp (t, "patients.patient.unmerged") == 0) {
        Pm__Patients__MergeResult *m
            = pm__patients__merge_result__unpack (NULL, event->data.len, event->data.data);
        if (!m || !m->survivor || !m->merged) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a merge result");
        }
        else {
            rc = s_patient_put (txn, m->survivor);
            if (rc == PM_OK) {
                rc = s_patient_put (txn, m->merged);
            }
        }
        if (rc == PM_OK && m->merged->id && m->survivor->id) {
            rc = s_repoint_once (ctx, m, strcmp (t, "patients.patient.unmerged") == 0);
        }
        pm__patients__merge_result__free_unpacked (m, NULL);
        return rc;
    }
    if (s_is (t, "patients.patient.")) {
        Pm__Patients__Patient *p
            = pm__patients__patient__unpack (NULL, event->data.len, event->data.data);
        rc = p && p->id ? s_patient_put (txn, p)
                        : pm_ctx_fail (ctx, PM_EINVAL, "data", "not a patient");
        pm__patients__patient__free_unpacked (p, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Drops the patients projection.
pm_err
sch_reset_patients (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    int rc = mdb_drop (pm_ctx_txn (ctx), sch_db.patients, 0);
    return rc == 0 ? PM_OK : pm_err_from_mdb (rc);
}
