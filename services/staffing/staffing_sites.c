/*  staffing_sites.c: the site and resource commands.

    A site is created once with a chosen id and then changed by full
    replacement of its settings (expected_version guards the write). Its
    zone is checked against the tz database through libical, so a typo
    ("Europe/Berln") is refused at the door rather than at the first
    night shift.                                                          */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_sites.h"
#include "staffing_store.h"
#include "staffing_tz.h"

#define OPENING_MAX 28      //  four intervals a day
#define CLOSURES_MAX 400
#define POLICY_MINUTES_MAX (7 * 24 * 60)

typedef Pm__Staffing__Site site_t;
typedef Pm__Staffing__Resource resource_t;

const char *
stf_site_closure (const site_t *site, const char *date)
{
    for (size_t i = 0; i < site->n_closures; i++) {
        if (strcmp (site->closures[i]->date, date) == 0) {
            return site->closures[i]->reason ? site->closures[i]->reason : "closed";
        }
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  Checks every settable field of a site.
static pm_err
s_validate (pm_ctx_t *ctx, const site_t *s)
{
    char field[96];
    pm_err rc = stf_token (ctx, "site.id", s->id, 64);
    if (rc == PM_OK) {
        rc = stf_text (ctx, "site.name", s->name, true, 100);
    }
    if (rc != PM_OK) {
        return rc;
    }
    if (!s->time_zone || !*s->time_zone) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site.time_zone",
                             "site.time_zone: is required (IANA, e.g. \"Europe/Berlin\")");
    }
    if (!stf_tz_valid (s->time_zone)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site.time_zone",
                             "site.time_zone: \"%.64s\" is not a time zone of the "
                             "tz database (e.g. \"America/New_York\")", s->time_zone);
    }
    if ((rc = stf_currency (ctx, "site.currency", s->currency)) != PM_OK) {
        return rc;
    }
    if (s->address) {
        const Pm__Staffing__Address *a = s->address;
        if (a->n_lines > 4) {
            return pm_ctx_fail (ctx, PM_EINVAL, "site.address.lines",
                                 "site.address.lines: at most 4 lines");
        }
        for (size_t i = 0; i < a->n_lines; i++) {
            snprintf (field, sizeof field, "site.address.lines[%zu]", i);
            if ((rc = stf_text (ctx, field, a->lines[i], true, 200)) != PM_OK) {
                return rc;
            }
        }
        if ((rc = stf_text (ctx, "site.address.city", a->city, false, 100)) != PM_OK
            || (rc = stf_text (ctx, "site.address.state", a->state, false, 100)) != PM_OK
            || (rc = stf_text (ctx, "site.address.postal_code", a->postal_code,
                               false, 20)) != PM_OK) {
            return rc;
        }
        if (a->country && (strlen (a->country) != 2 || a->country[0] < 'A'
                           || a->country[0] > 'Z' || a->country[1] < 'A'
                           || a->country[1] > 'Z')) {
            return pm_ctx_fail (ctx, PM_EINVAL, "site.address.country",
                                 "site.address.country: \"%.10s\" is not an ISO "
                                 "3166-1 alpha-2 code (e.g. \"US\")", a->country);
        }
    }
    if (s->n_opening_hours > OPENING_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site.opening_hours",
                             "site.opening_hours: at most %d intervals", OPENING_MAX);
    }
    for (size_t i = 0; i < s->n_opening_hours; i++) {
        const Pm__Staffing__OpeningHours *h = s->opening_hours[i];
        if (!h->has_weekday || h->weekday < 1 || h->weekday > 7) {
            snprintf (field, sizeof field, "site.opening_hours[%zu].weekday", i);
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: 1 (Monday) to 7 (Sunday)", field);
        }
        int opens = stf_hhmm (h->opens), closes = stf_hhmm (h->closes);
        if (opens < 0 || opens == 1440) {
            snprintf (field, sizeof field, "site.opening_hours[%zu].opens", i);
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: \"%.10s\" is not a time written HH:MM", field,
                                 h->opens ? h->opens : "");
        }
        snprintf (field, sizeof field, "site.opening_hours[%zu].closes", i);
        if (closes < 0) {
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: \"%.10s\" is not a time written HH:MM", field,
                                 h->closes ? h->closes : "");
        }
        if (closes <= opens) {
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: %s is not after opens %s (hours past midnight "
                                 "go on the next weekday)", field, h->closes, h->opens);
        }
        for (size_t j = 0; j < i; j++) {
            const Pm__Staffing__OpeningHours *o = s->opening_hours[j];
            if (o->weekday == h->weekday && stf_hhmm (o->opens) < closes
                && opens < stf_hhmm (o->closes)) {
                snprintf (field, sizeof field, "site.opening_hours[%zu]", i);
                return pm_ctx_fail (ctx, PM_EINVAL, field,
                                     "%s: overlaps opening_hours[%zu] on weekday %u",
                                     field, j, h->weekday);
            }
        }
    }
    if (s->n_closures > CLOSURES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site.closures",
                             "site.closures: at most %d", CLOSURES_MAX);
    }
    for (size_t i = 0; i < s->n_closures; i++) {
        snprintf (field, sizeof field, "site.closures[%zu].date", i);
        if ((rc = stf_date (ctx, field, s->closures[i]->date)) != PM_OK) {
            return rc;
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (s->closures[j]->date, s->closures[i]->date) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s is listed twice",
                                     field, s->closures[i]->date);
            }
        }
        snprintf (field, sizeof field, "site.closures[%zu].reason", i);
        if ((rc = stf_text (ctx, field, s->closures[i]->reason, false, 100)) != PM_OK) {
            return rc;
        }
    }
    if (s->policy) {
        if (s->policy->late_cancel_minutes > POLICY_MINUTES_MAX) {
            return pm_ctx_fail (ctx, PM_EINVAL, "site.policy.late_cancel_minutes",
                                 "site.policy.late_cancel_minutes: at most %d (a week)",
                                 POLICY_MINUTES_MAX);
        }
        if (s->policy->no_show_grace_minutes > 24 * 60) {
            return pm_ctx_fail (ctx, PM_EINVAL, "site.policy.no_show_grace_minutes",
                                 "site.policy.no_show_grace_minutes: at most 1440 (a day)");
        }
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  staffing.CreateSite
static pm_err
s_create_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__CreateSite *req = (const Pm__Staffing__CreateSite *) body;
    if (!req->site) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site", "site: is required");
    }
    site_t s = *req->site;
    if (s.has_version || s.has_status || s.has_created_at || s.has_updated_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site.version",
                             "site.version: version, status and timestamps are set "
                             "by the service; leave them out");
    }
    pm_err rc = s_validate (ctx, &s);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val val;
    rc = pm_store_get (pm_ctx_txn (ctx), stf_db.sites, s.id, strlen (s.id), &val);
    if (rc == PM_OK) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "site.id",
                             "site.id: site %s exists already", s.id);
    }
    if (rc != PM_ENOTFOUND) {
        return rc;
    }
    s.has_version = s.has_status = s.has_created_at = s.has_updated_at = 1;
    s.version = 1;
    s.status = PM__STAFFING__SITE_STATUS__SITE_OPEN;
    s.created_at = s.updated_at = pm_ctx_now (ctx);
    s.status_reason = NULL;
    return stf_commit (ctx, stf_db.sites, s.id, &s.base, "staffing.site.created",
                       s.id);
}

//  --------------------------------------------------------------------------
//  staffing.UpdateSite
static pm_err
s_update_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__UpdateSite *req = (const Pm__Staffing__UpdateSite *) body;
    if (!req->site) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site", "site: holds the new settings");
    }
    site_t *old;
    pm_err rc = stf_site (ctx, req->site->id, "site.id", &old);
    if (rc != PM_OK) {
        return rc;
    }
    rc = stf_access (ctx, old->id, "site.id");
    if (rc == PM_OK) {
        rc = stf_check_version (ctx, old->id, old->version,
                                req->has_expected_version, req->expected_version,
                                true);
    }
    site_t s = *old;
    const site_t *patch = req->site;
    s.name = patch->name;
    s.address = patch->address;
    s.time_zone = patch->time_zone;
    s.n_opening_hours = patch->n_opening_hours;
    s.opening_hours = patch->opening_hours;
    s.n_closures = patch->n_closures;
    s.closures = patch->closures;
    s.currency = patch->currency;
    s.policy = patch->policy;
    if (rc == PM_OK) {
        rc = s_validate (ctx, &s);
    }
    if (rc == PM_OK && stf_same (&s.base, &old->base)) {
        rc = pm_ctx_reply (ctx, &old->base);
    }
    else if (rc == PM_OK) {
        s.version++;
        s.updated_at = pm_ctx_now (ctx);
        rc = stf_commit (ctx, stf_db.sites, s.id, &s.base, "staffing.site.updated",
                         s.id);
    }
    pm__staffing__site__free_unpacked (old, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  staffing.CloseSite and staffing.ReopenSite
static pm_err
s_set_status (pm_ctx_t *ctx, const ProtobufCMessage *body, bool open)
{
    const Pm__Staffing__SetSiteStatus *req = (const Pm__Staffing__SetSiteStatus *) body;
    pm_err rc = stf_text (ctx, "reason", req->reason, true, 500);
    if (rc != PM_OK) {
        return rc;
    }
    site_t *s;
    if ((rc = stf_site (ctx, req->site_id, "site_id", &s)) != PM_OK) {
        return rc;
    }
    Pm__Staffing__SiteStatus want = open ? PM__STAFFING__SITE_STATUS__SITE_OPEN
                                         : PM__STAFFING__SITE_STATUS__SITE_CLOSED;
    rc = stf_access (ctx, s->id, "site_id");
    if (rc == PM_OK) {
        rc = stf_check_version (ctx, s->id, s->version, req->has_expected_version,
                                req->expected_version, false);
    }
    if (rc == PM_OK && s->status == want) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "site_id", "site %s is already %s",
                           s->id, open ? "open" : "closed");
    }
    if (rc == PM_OK) {
        char *old_reason = s->status_reason;
        s->status = want;
        s->status_reason = req->reason;
        s->version++;
        s->updated_at = pm_ctx_now (ctx);
        rc = stf_commit (ctx, stf_db.sites, s->id, &s->base,
                         open ? "staffing.site.reopened" : "staffing.site.closed",
                         s->id);
        s->status_reason = old_reason; //  freed with its own message
    }
    pm__staffing__site__free_unpacked (s, NULL);
    return rc;
}

static pm_err
s_close_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_set_status (ctx, body, false);
}

static pm_err
s_reopen_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_set_status (ctx, body, true);
}

//  --------------------------------------------------------------------------
//  staffing.GetSite
static pm_err
s_get_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__GetSite *req = (const Pm__Staffing__GetSite *) body;
    site_t *s;
    pm_err rc = stf_site (ctx, req->site_id, "site_id", &s);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s->base);
        pm__staffing__site__free_unpacked (s, NULL);
    }
    return rc;
}

//  Collects unpacked records of a list reply.
typedef struct {
    const ProtobufCMessageDescriptor *desc;
    MDB_txn *txn;
    MDB_dbi records;          //  where an index entry's id points
    ProtobufCMessage **items;
    size_t n;
    pm_err rc;
} s_list_t;

//  One entry of the sites db (the record itself).
static int
s_site_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_list_t *list = arg;
    if (list->n == STF_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    ProtobufCMessage *m = protobuf_c_message_unpack (list->desc, NULL, val->mv_size,
                                                     val->mv_data);
    if (!m) {
        return PM_EINTERNAL;
    }
    list->items[list->n++] = m;
    return 0;
}

//  staffing.ListSites
static pm_err
s_list_sites (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    (void) body;
    s_list_t list = {&pm__staffing__site__descriptor, pm_ctx_txn (ctx), 0, NULL, 0,
                     PM_OK};
    list.items = calloc (STF_LIST_MAX, sizeof *list.items);
    pm_err rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.sites, "", 0, NULL, s_site_item,
                             &list);
    if (rc == PM_OK) {
        Pm__Staffing__SiteList out = PM__STAFFING__SITE_LIST__INIT;
        out.n_sites = list.n;
        out.sites = (site_t **) list.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < list.n; i++) {
        protobuf_c_message_free_unpacked (list.items[i], NULL);
    }
    free (list.items);
    return rc;
}

//  --- resources ----------------------------------------------------------------

static pm_err
s_validate_resource (pm_ctx_t *ctx, const resource_t *r)
{
    pm_err rc = stf_text (ctx, "resource.name", r->name, true, 100);
    if (rc != PM_OK) {
        return rc;
    }
    bool room = r->category == PM__STAFFING__RESOURCE_CATEGORY__ROOM;
    bool equipment = r->category == PM__STAFFING__RESOURCE_CATEGORY__EQUIPMENT;
    if (!r->has_category || (!room && !equipment)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "resource.category",
                             "resource.category: is required: ROOM or EQUIPMENT");
    }
    return stf_token (ctx, "resource.kind", r->kind, 32);
}

static pm_err
s_resource_index (MDB_txn *txn, const resource_t *r)
{
    pm_key_t k;
    pm_key_init (&k, STF_IX_RES_BY_SITE);
    pm_key_str (&k, r->site_id);
    pm_key_str (&k, r->id);
    return stf_index (txn, stf_db.index, &k, r->id, true);
}

//  staffing.AddResource
static pm_err
s_add_resource (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__AddResource *req = (const Pm__Staffing__AddResource *) body;
    if (!req->resource) {
        return pm_ctx_fail (ctx, PM_EINVAL, "resource", "resource: is required");
    }
    resource_t r = *req->resource;
    if (r.id || r.has_version || r.has_created_at || r.has_updated_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "resource.id",
                             "resource.id: id, version and timestamps are set by "
                             "the service; leave them out");
    }
    site_t *site;
    pm_err rc = stf_site (ctx, r.site_id, "resource.site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, r.site_id, "resource.site_id")) != PM_OK
        || (rc = s_validate_resource (ctx, &r)) != PM_OK) {
        return rc;
    }
    char id[PM_ID_MAX];
    pm_id_new ("res", pm_ctx_now (ctx), id);
    r.id = id;
    r.has_version = r.has_active = r.has_created_at = r.has_updated_at = 1;
    r.version = 1;
    r.active = req->resource->has_active ? req->resource->active : true;
    r.created_at = r.updated_at = pm_ctx_now (ctx);
    rc = s_resource_index (pm_ctx_txn (ctx), &r);
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.resources, r.id, &r.base,
                         "staffing.resource.added", r.site_id);
    }
    return rc;
}

//  staffing.UpdateResource
static pm_err
s_update_resource (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__UpdateResource *req = (const Pm__Staffing__UpdateResource *) body;
    if (!req->resource) {
        return pm_ctx_fail (ctx, PM_EINVAL, "resource",
                             "resource: holds the new settings");
    }
    resource_t *old;
    pm_err rc = stf_load (ctx, stf_db.resources, req->resource->id,
                          &pm__staffing__resource__descriptor, "resource.id",
                          "resource", &old);
    if (rc != PM_OK) {
        return rc;
    }
    rc = stf_access (ctx, old->site_id, "resource.id");
    if (rc == PM_OK) {
        rc = stf_check_version (ctx, old->id, old->version,
                                req->has_expected_version, req->expected_version,
                                true);
    }
    resource_t r = *old;
    r.name = req->resource->name;
    r.has_category = req->resource->has_category;
    r.category = req->resource->category;
    r.kind = req->resource->kind;
    r.active = req->resource->has_active ? req->resource->active : old->active;
    if (rc == PM_OK) {
        rc = s_validate_resource (ctx, &r);
    }
    if (rc == PM_OK && stf_same (&r.base, &old->base)) {
        rc = pm_ctx_reply (ctx, &old->base);
    }
    else if (rc == PM_OK) {
        r.version++;
        r.updated_at = pm_ctx_now (ctx);
        rc = stf_commit (ctx, stf_db.resources, r.id, &r.base,
                         "staffing.resource.updated", r.site_id);
    }
    pm__staffing__resource__free_unpacked (old, NULL);
    return rc;
}

//  One entry of a site's resources index: the resource it names, if it passes the filter.
typedef struct {
    s_list_t list;
    const Pm__Staffing__ListResources *q;
} s_res_list_t;

static int
s_resource_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_res_list_t *rl = arg;
    if (rl->list.n == STF_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    resource_t *r;
    pm_err rc = pm_store_get_msg (rl->list.txn, stf_db.resources, id, strlen (id),
                                  &pm__staffing__resource__descriptor,
                                  (ProtobufCMessage **) &r);
    if (rc != PM_OK) {
        return rc;
    }
    if ((!rl->q->kind || strcmp (rl->q->kind, r->kind) == 0)
        && (r->active || rl->q->include_inactive)) {
        rl->list.items[rl->list.n++] = &r->base;
    }
    else {
        pm__staffing__resource__free_unpacked (r, NULL);
    }
    return 0;
}

//  staffing.ListResources
static pm_err
s_list_resources (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListResources *q = (const Pm__Staffing__ListResources *) body;
    site_t *site;
    pm_err rc = stf_site (ctx, q->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    s_res_list_t rl = {{NULL, pm_ctx_txn (ctx), 0, NULL, 0, PM_OK}, q};
    rl.list.items = calloc (STF_LIST_MAX, sizeof *rl.list.items);
    pm_key_t prefix;
    pm_key_init (&prefix, STF_IX_RES_BY_SITE);
    pm_key_str (&prefix, q->site_id);
    rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, prefix.b, prefix.len, NULL,
                      s_resource_item, &rl);
    if (rc == PM_OK) {
        Pm__Staffing__ResourceList out = PM__STAFFING__RESOURCE_LIST__INIT;
        out.n_resources = rl.list.n;
        out.resources = (resource_t **) rl.list.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < rl.list.n; i++) {
        protobuf_c_message_free_unpacked (rl.list.items[i], NULL);
    }
    free (rl.list.items);
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_sites_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.CreateSite", s_create_site);
    pm_server_handle (server, "staffing.UpdateSite", s_update_site);
    pm_server_handle (server, "staffing.CloseSite", s_close_site);
    pm_server_handle (server, "staffing.ReopenSite", s_reopen_site);
    pm_server_handle (server, "staffing.GetSite", s_get_site);
    pm_server_handle (server, "staffing.ListSites", s_list_sites);
    pm_server_handle (server, "staffing.AddResource", s_add_resource);
    pm_server_handle (server, "staffing.UpdateResource", s_update_resource);
    pm_server_handle (server, "staffing.ListResources", s_list_resources);
}
