/*  staffing_staff.c: the staff commands.

    A staff member has one or more roles and one or more sites (the first
    is the primary one). Changes are full replacements of the changeable
    fields guarded by expected_version; termination sets the last working
    day. Onboarding is shared with the recruitment follower, so that a
    hire is checked by exactly the same rules as a manual onboarding.    */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_staff.h"
#include "staffing_store.h"

#define ROLES_MAX 8
#define SITES_MAX 16
#define GIVEN_MAX 5
#define PAGE_DEFAULT 100

static stf_staff_hook_fn *s_on_terminate;
static stf_staff_hook_fn *s_on_change;

void
stf_staff_on_change (stf_staff_hook_fn *fn)
{
    s_on_change = fn;
}

void
stf_staff_on_terminate (stf_staff_hook_fn *fn)
{
    s_on_terminate = fn;
}

bool
stf_staff_has_role (const stf_staff_t *s, const char *role)
{
    for (size_t i = 0; i < s->n_roles; i++) {
        if (strcmp (s->roles[i], role) == 0) {
            return true;
        }
    }
    return false;
}

bool
stf_staff_at_site (const stf_staff_t *s, const char *site)
{
    for (size_t i = 0; i < s->n_sites; i++) {
        if (strcmp (s->sites[i]->site_id, site) == 0) {
            return true;
        }
    }
    return false;
}

const char *
stf_staff_primary_site (const stf_staff_t *s)
{
    return s->n_sites ? s->sites[0]->site_id : "";
}

pm_err
stf_staff_access (pm_ctx_t *ctx, const stf_staff_t *s, bool any, const char *field)
{
    //  A staff record is a person's record: every access, allowed or not,
    //  is on the audit log.
    pm_ctx_audit (ctx, s->id, stf_staff_primary_site (s));
    for (size_t i = 0; any && i < s->n_sites; i++) {
        if (pm_ctx_may_access_site (ctx, s->sites[i]->site_id)) {
            return PM_OK;
        }
    }
    return stf_access (ctx, stf_staff_primary_site (s), field);
}

pm_err
stf_staff_active (pm_ctx_t *ctx, const stf_staff_t *s, const char *field)
{
    if (s->status == PM__STAFFING__STAFF_STATUS__TERMINATED) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, field,
                             "%s: %s was terminated (last day %s)", field, s->id,
                             s->end_date);
    }
    return PM_OK;
}

pm_err
stf_staff_load (pm_ctx_t *ctx, const char *id, const char *field,
                stf_staff_t **out)
{
    return stf_load (ctx, stf_db.staff, id, &pm__staffing__staff__descriptor, field,
                     "staff member", out);
}

//  --------------------------------------------------------------------------
//  An e-mail address: one @, something before it, a dotted domain after.
static bool
s_email_ok (const char *v)
{
    const char *at = strchr (v, '@');
    const char *dot = at ? strrchr (at, '.') : NULL;
    return strlen (v) <= 254 && at && at != v && !strchr (at + 1, '@') && dot
           && dot != at + 1 && dot[1] && !strpbrk (v, " \t,;<>");
}

//  A phone number: digits, spaces and + - ( ) . only, 5 to 20 digits.
static bool
s_phone_ok (const char *v)
{
    int digits = 0;
    for (const char *c = v; *c; c++) {
        if (isdigit ((unsigned char) *c)) {
            digits++;
        }
        else if (!strchr (" +-().", *c)) {
            return false;
        }
    }
    return digits >= 5 && digits <= 20;
}

//  Checks every changeable field of a staff record, and that the caller
//  works at each of its sites.
static pm_err
s_validate (pm_ctx_t *ctx, const stf_staff_t *s)
{
    char field[96];
    pm_err rc;
    if (!s->name) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.name", "staff.name: is required");
    }
    if ((rc = stf_text (ctx, "staff.name.family", s->name->family, true, 100)) != PM_OK) {
        return rc;
    }
    if (s->name->n_given < 1 || s->name->n_given > GIVEN_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.name.given",
                             "staff.name.given: 1 to %d given names", GIVEN_MAX);
    }
    for (size_t i = 0; i < s->name->n_given; i++) {
        snprintf (field, sizeof field, "staff.name.given[%zu]", i);
        if ((rc = stf_text (ctx, field, s->name->given[i], true, 100)) != PM_OK) {
            return rc;
        }
    }
    if ((rc = stf_text (ctx, "staff.name.prefix", s->name->prefix, false, 20)) != PM_OK
        || (rc = stf_text (ctx, "staff.name.suffix", s->name->suffix, false, 20))
               != PM_OK) {
        return rc;
    }
    if (s->email && *s->email && !s_email_ok (s->email)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.email",
                             "staff.email: \"%.60s\" is not an e-mail address", s->email);
    }
    if (s->phone && *s->phone && !s_phone_ok (s->phone)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.phone",
                             "staff.phone: \"%.40s\" is not a phone number (5 to 20 "
                             "digits; spaces and + - ( ) . allowed)", s->phone);
    }
    if (s->n_roles < 1 || s->n_roles > ROLES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.roles",
                             "staff.roles: 1 to %d roles (e.g. \"nurse\")", ROLES_MAX);
    }
    for (size_t i = 0; i < s->n_roles; i++) {
        snprintf (field, sizeof field, "staff.roles[%zu]", i);
        if ((rc = stf_token (ctx, field, s->roles[i], 32)) != PM_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (s->roles[i], s->roles[j]) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s is listed twice",
                                     field, s->roles[i]);
            }
        }
    }
    if (s->n_sites < 1 || s->n_sites > SITES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.sites",
                             "staff.sites: 1 to %d sites, the primary one first",
                             SITES_MAX);
    }
    unsigned total = 0;
    for (size_t i = 0; i < s->n_sites; i++) {
        const Pm__Staffing__SiteAssignment *a = s->sites[i];
        snprintf (field, sizeof field, "staff.sites[%zu].site_id", i);
        Pm__Staffing__Site *site;
        if ((rc = stf_site (ctx, a->site_id, field, &site)) != PM_OK) {
            return rc;
        }
        pm__staffing__site__free_unpacked (site, NULL);
        if ((rc = stf_access (ctx, a->site_id, field)) != PM_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (a->site_id, s->sites[j]->site_id) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s is listed twice",
                                     field, a->site_id);
            }
        }
        snprintf (field, sizeof field, "staff.sites[%zu].fte_permille", i);
        if (!a->has_fte_permille || a->fte_permille < 1 || a->fte_permille > 1000) {
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: 1 to 1000 (thousandths of a full-time position)",
                                 field);
        }
        total += a->fte_permille;
    }
    if (total > 1000) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.sites",
                             "staff.sites: FTE adds up to %u/1000; at most one full-time "
                             "position in all", total);
    }
    if (!s->has_employment_type
        || s->employment_type < PM__STAFFING__EMPLOYMENT_TYPE__FULL_TIME
        || s->employment_type > PM__STAFFING__EMPLOYMENT_TYPE__TEMPORARY) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.employment_type",
                             "staff.employment_type: is required: FULL_TIME, PART_TIME, "
                             "CONTRACTOR, LOCUM or TEMPORARY");
    }
    if (!s->has_pay_rate_minor || s->pay_rate_minor < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.pay_rate_minor",
                             "staff.pay_rate_minor: is required: per hour, in minor "
                             "units, not negative");
    }
    if ((rc = stf_currency (ctx, "staff.currency", s->currency)) != PM_OK) {
        return rc;
    }
    return stf_date (ctx, "staff.start_date", s->start_date);
}

//  Adds or removes a staff member's site index entries.
static pm_err
s_index (MDB_txn *txn, const stf_staff_t *s, bool add)
{
    for (size_t i = 0; i < s->n_sites; i++) {
        pm_key_t k;
        pm_key_init (&k, STF_IX_STAFF_BY_SITE);
        pm_key_str (&k, s->sites[i]->site_id);
        pm_key_str (&k, s->id);
        pm_err rc = stf_index (txn, stf_db.index, &k, s->id, add);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

//  Stores `s`, a changed copy of `old`: one version on, its site index
//  entries moved, staffing.staff.updated, the change hooks.
static pm_err
s_save_changed (pm_ctx_t *ctx, const stf_staff_t *old, stf_staff_t *s)
{
    s->version++;
    s->updated_at = pm_ctx_now (ctx);
    pm_err rc = s_index (pm_ctx_txn (ctx), old, false);
    if (rc == PM_OK) {
        rc = s_index (pm_ctx_txn (ctx), s, true);
    }
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.staff, s->id, &s->base, "staffing.staff.updated",
                         stf_staff_primary_site (s));
    }
    if (rc == PM_OK && s_on_change) {
        rc = s_on_change (ctx, s);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Onboards a new staff member (commands and hires).
pm_err
stf_staff_onboard (pm_ctx_t *ctx, const stf_staff_t *given, char *id_out)
{
    stf_staff_t s = *given;
    if (s.id || s.has_version || s.has_status || s.end_date || s.has_created_at
        || s.has_updated_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.id",
                             "staff.id: id, version, status, end_date and timestamps "
                             "are set by the service; leave them out");
    }
    pm_err rc = s_validate (ctx, &s);
    if (rc != PM_OK) {
        return rc;
    }
    pm_id_new ("stf", pm_ctx_now (ctx), id_out);
    s.id = id_out;
    s.has_version = s.has_status = s.has_created_at = s.has_updated_at = 1;
    s.version = 1;
    s.status = PM__STAFFING__STAFF_STATUS__ACTIVE;
    s.created_at = s.updated_at = pm_ctx_now (ctx);
    s.termination_reason = NULL;
    pm_ctx_audit (ctx, s.id, stf_staff_primary_site (&s));
    rc = s_index (pm_ctx_txn (ctx), &s, true);
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.staff, s.id, &s.base, "staffing.staff.onboarded",
                         stf_staff_primary_site (&s));
    }
    if (rc == PM_OK && s_on_change) {
        rc = s_on_change (ctx, &s);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  A further hire of someone who has a staff record already.
pm_err
stf_staff_rehire (pm_ctx_t *ctx, const char *staff_id, const stf_staff_t *hire)
{
    stf_staff_t *old;
    pm_err rc = stf_staff_load (ctx, staff_id, "candidate_id", &old);
    if (rc != PM_OK) {
        return rc;
    }
    bool left = old->status == PM__STAFFING__STAFF_STATUS__TERMINATED;
    const char *role = hire->roles[0];
    const Pm__Staffing__SiteAssignment *site = hire->sites[0];
    if (!left && stf_staff_has_role (old, role) && stf_staff_at_site (old, site->site_id)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "candidate_id", "%s already works at site %s "
                          "as %s", old->id, site->site_id, role);
    }
    //  Room for one more role and site; the unpacked record keeps its own.
    char **roles = calloc (old->n_roles + 1, sizeof *roles);
    Pm__Staffing__SiteAssignment **sites = calloc (old->n_sites + 1, sizeof *sites);
    if (!roles || !sites) {
        rc = PM_EINTERNAL;
    }
    stf_staff_t s = *old;
    if (rc == PM_OK) {
        memcpy (roles, old->roles, old->n_roles * sizeof *roles);
        s.roles = roles;
        if (!stf_staff_has_role (old, role)) {
            roles[s.n_roles++] = (char *) role;
        }
        s.sites = sites;
        if (left) {
            //  Back after leaving: the new post is where they work now.
            sites[0] = (Pm__Staffing__SiteAssignment *) site;
            s.n_sites = 1;
            s.status = PM__STAFFING__STAFF_STATUS__ACTIVE;
            s.start_date = hire->start_date;
            s.end_date = NULL;
            s.termination_reason = NULL;
            s.has_employment_type = hire->has_employment_type;
            s.employment_type = hire->employment_type;
            s.has_pay_rate_minor = hire->has_pay_rate_minor;
            s.pay_rate_minor = hire->pay_rate_minor;
            s.currency = hire->currency;
        }
        else {
            //  A second post: one more site; pay and contract stay theirs.
            memcpy (sites, old->sites, old->n_sites * sizeof *sites);
            if (!stf_staff_at_site (old, site->site_id)) {
                sites[s.n_sites++] = (Pm__Staffing__SiteAssignment *) site;
            }
        }
        rc = s_validate (ctx, &s);
    }
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, s.id, stf_staff_primary_site (&s));
        rc = s_save_changed (ctx, old, &s);
    }
    free (roles);
    free (sites);
    pm__staffing__staff__free_unpacked (old, NULL);
    return rc;
}

//  staffing.Onboard
static pm_err
s_onboard (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__Onboard *req = (const Pm__Staffing__Onboard *) body;
    if (!req->staff) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff", "staff: is required");
    }
    if (req->staff->candidate_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff.candidate_id",
                             "staff.candidate_id: set only by hires from recruitment");
    }
    char id[PM_ID_MAX];
    return stf_staff_onboard (ctx, req->staff, id);
}

//  --------------------------------------------------------------------------
//  staffing.UpdateStaff
static pm_err
s_update (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__UpdateStaff *req = (const Pm__Staffing__UpdateStaff *) body;
    if (!req->staff) {
        return pm_ctx_fail (ctx, PM_EINVAL, "staff", "staff: holds the new values");
    }
    stf_staff_t *old;
    pm_err rc = stf_staff_load (ctx, req->staff->id, "staff.id", &old);
    if (rc != PM_OK) {
        return rc;
    }
    rc = stf_access (ctx, stf_staff_primary_site (old), "staff.id");
    if (rc == PM_OK) {
        rc = stf_check_version (ctx, old->id, old->version, req->has_expected_version,
                                req->expected_version, true);
    }
    if (rc == PM_OK && old->status == PM__STAFFING__STAFF_STATUS__TERMINATED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "staff.id",
                           "%s was terminated on %s; their record no longer changes",
                           old->id, old->end_date);
    }
    const stf_staff_t *p = req->staff;
    stf_staff_t s = *old;
    s.name = p->name;
    s.email = p->email;
    s.phone = p->phone;
    s.n_roles = p->n_roles;
    s.roles = p->roles;
    s.n_sites = p->n_sites;
    s.sites = p->sites;
    s.has_employment_type = p->has_employment_type;
    s.employment_type = p->employment_type;
    s.has_pay_rate_minor = p->has_pay_rate_minor;
    s.pay_rate_minor = p->pay_rate_minor;
    s.currency = p->currency;
    s.start_date = p->start_date;
    if (rc == PM_OK) {
        rc = s_validate (ctx, &s);
    }
    if (rc == PM_OK && stf_same (&s.base, &old->base)) {
        rc = pm_ctx_reply (ctx, &old->base);
    }
    else if (rc == PM_OK) {
        rc = s_save_changed (ctx, old, &s);
    }
    pm__staffing__staff__free_unpacked (old, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  staffing.Terminate
static pm_err
s_terminate (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__Terminate *req = (const Pm__Staffing__Terminate *) body;
    pm_err rc = stf_date (ctx, "end_date", req->end_date);
    if (rc == PM_OK) {
        rc = stf_text (ctx, "reason", req->reason, true, 500);
    }
    if (rc != PM_OK) {
        return rc;
    }
    stf_staff_t *s;
    if ((rc = stf_staff_load (ctx, req->staff_id, "staff_id", &s)) != PM_OK) {
        return rc;
    }
    rc = stf_access (ctx, stf_staff_primary_site (s), "staff_id");
    if (rc == PM_OK) {
        rc = stf_check_version (ctx, s->id, s->version, req->has_expected_version,
                                req->expected_version, false);
    }
    if (rc == PM_OK && s->status == PM__STAFFING__STAFF_STATUS__TERMINATED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "staff_id", "%s was already terminated on %s",
                           s->id, s->end_date);
    }
    if (rc == PM_OK && strcmp (req->end_date, s->start_date) < 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "end_date",
                           "end_date: %s is before the start date %s", req->end_date,
                           s->start_date);
    }
    if (rc == PM_OK) {
        char *old_end = s->end_date, *old_reason = s->termination_reason;
        s->end_date = req->end_date;
        s->termination_reason = req->reason;
        s->status = PM__STAFFING__STAFF_STATUS__TERMINATED;
        s->version++;
        s->updated_at = pm_ctx_now (ctx);
        rc = stf_commit (ctx, stf_db.staff, s->id, &s->base,
                         "staffing.staff.terminated", stf_staff_primary_site (s));
        if (rc == PM_OK && s_on_terminate) {
            rc = s_on_terminate (ctx, s);
        }
        if (rc == PM_OK && s_on_change) {
            rc = s_on_change (ctx, s);
        }
        s->end_date = old_end; //  freed with their own message
        s->termination_reason = old_reason;
    }
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  staffing.GetStaff
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__GetStaff *req = (const Pm__Staffing__GetStaff *) body;
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, req->staff_id, "staff_id", &s);
    if (rc != PM_OK) {
        return rc;
    }
    //  Anyone working at one of their sites may read the record.
    rc = stf_staff_access (ctx, s, true, "staff_id");
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s->base);
    }
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  One page of a site's staff.
typedef struct {
    MDB_txn *txn;
    const Pm__Staffing__ListStaff *q;
    stf_staff_t **items;
    size_t n, page;
    const pm_key_t *after;  //  the last key of the previous page
    bool more;               //  another match after the page
} s_page_t;

static int
s_list_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_page_t *pg = arg;
    if (pg->after && key->mv_size == pg->after->len
        && memcmp (key->mv_data, pg->after->b, key->mv_size) == 0) {
        return 0;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    stf_staff_t *s;
    pm_err rc = pm_store_get_msg (pg->txn, stf_db.staff, id, strlen (id),
                                  &pm__staffing__staff__descriptor,
                                  (ProtobufCMessage **) &s);
    if (rc != PM_OK) {
        return rc;
    }
    bool match = (!pg->q->role || stf_staff_has_role (s, pg->q->role))
                 && (pg->q->include_terminated
                     || s->status != PM__STAFFING__STAFF_STATUS__TERMINATED);
    if (match && pg->n == pg->page) {
        pg->more = true;
        pm__staffing__staff__free_unpacked (s, NULL);
        return PM_SCAN_STOP;
    }
    if (match) {
        pg->items[pg->n++] = s;
    }
    else {
        pm__staffing__staff__free_unpacked (s, NULL);
    }
    return 0;
}

//  staffing.ListStaff
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListStaff *q = (const Pm__Staffing__ListStaff *) body;
    Pm__Staffing__Site *site;
    pm_err rc = stf_site (ctx, q->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, q->site_id, "site_id")) != PM_OK) {
        return rc;
    }
    size_t page = q->has_page_size && q->page_size ? q->page_size : PAGE_DEFAULT;
    if (page > STF_LIST_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_size", "page_size: at most %d",
                             STF_LIST_MAX);
    }
    pm_key_t prefix, after;
    pm_key_init (&prefix, STF_IX_STAFF_BY_SITE);
    pm_key_str (&prefix, q->site_id);
    bool paged = q->page_token && *q->page_token;
    if (paged) {
        if (!pm_id_valid (q->page_token, "stf")) {
            return pm_ctx_fail (ctx, PM_EINVAL, "page_token",
                                 "page_token: not one from an earlier StaffList");
        }
        after = prefix;
        pm_key_str (&after, q->page_token);
    }
    s_page_t pg = {pm_ctx_txn (ctx), q, calloc (page, sizeof (stf_staff_t *)), 0, page,
                   paged ? &after : NULL, false};
    rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, prefix.b, prefix.len,
                      paged ? &after : NULL, s_list_item, &pg);
    if (rc == PM_OK) {
        Pm__Staffing__StaffList out = PM__STAFFING__STAFF_LIST__INIT;
        out.n_staff = pg.n;
        out.staff = pg.items;
        out.next_page_token = pg.more && pg.n ? pg.items[pg.n - 1]->id : NULL;
        for (size_t i = 0; i < pg.n; i++) {
            pm_ctx_audit (ctx, pg.items[i]->id, stf_staff_primary_site (pg.items[i]));
        }
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < pg.n; i++) {
        pm__staffing__staff__free_unpacked (pg.items[i], NULL);
    }
    free (pg.items);
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_staff_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.Onboard", s_onboard);
    pm_server_handle (server, "staffing.UpdateStaff", s_update);
    pm_server_handle (server, "staffing.Terminate", s_terminate);
    pm_server_handle (server, "staffing.GetStaff", s_get);
    pm_server_handle (server, "staffing.ListStaff", s_list);
}
