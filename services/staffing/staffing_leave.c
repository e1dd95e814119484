/*  staffing_leave.c: leave types, allocations, balances, requests and
    decisions (see staffing_leave.h).

    Leave is whole local days at the person's primary site. Its UTC range
    runs from local midnight on the first day to local midnight after the
    last, so a week off in New York across a DST change is 167 or 169
    hours, as it should be. Days used are the site's working days in the
    range (weekdays with opening hours, less closures); a site without
    weekly hours counts every day. A request counts against the balance
    from the moment it is made, so two requests cannot both spend the
    last days.                                                            */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_leave.h"
#include "staffing_rosters.h"
#include "staffing_sites.h"
#include "staffing_staff.h"
#include "staffing_store.h"
#include "staffing_tz.h"

#define APPROVER_ROLE "practice-manager"

typedef Pm__Staffing__Leave leave_t;
typedef Pm__Staffing__LeaveType ltype_t;

//  --- the index of a person's live leave -------------------------------------

static pm_err
s_index (MDB_txn *txn, const leave_t *l, bool add)
{
    pm_key_t k;
    pm_key_init (&k, STF_IX_LV_BY_STAFF);
    pm_key_str (&k, l->staff_id);
    pm_key_str (&k, l->start_date);
    pm_key_str (&k, l->id);
    return stf_index (txn, stf_db.index, &k, l->id, add);
}

//  A person's requested and approved leave, by start date.
typedef struct {
    MDB_txn *txn;
    leave_t **items;
    size_t n, cap;
} s_leaves_t;

static int
s_leave_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_leaves_t *list = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    leave_t *l;
    pm_err rc = pm_store_get_msg (list->txn, stf_db.leave, id, strlen (id),
                                  &pm__staffing__leave__descriptor,
                                  (ProtobufCMessage **) &l);
    if (rc != PM_OK) {
        return rc;
    }
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items = realloc (list->items, list->cap * sizeof *list->items);
    }
    list->items[list->n++] = l;
    return 0;
}

static pm_err
s_live (MDB_txn *txn, const char *staff_id, s_leaves_t *list)
{
    pm_key_t prefix;
    pm_key_init (&prefix, STF_IX_LV_BY_STAFF);
    pm_key_str (&prefix, staff_id);
    *list = (s_leaves_t) {txn, NULL, 0, 0};
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, NULL, s_leave_item, list);
}

static void
s_leaves_free (s_leaves_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        pm__staffing__leave__free_unpacked (list->items[i], NULL);
    }
    free (list->items);
}

pm_err
stf_leave_during (pm_ctx_t *ctx, const char *staff_id, int64_t start, int64_t end,
                  char *why, size_t len)
{
    why[0] = 0;
    s_leaves_t list;
    pm_err rc = s_live (pm_ctx_txn (ctx), staff_id, &list);
    for (size_t i = 0; rc == PM_OK && i < list.n && !why[0]; i++) {
        const leave_t *l = list.items[i];
        if (l->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED && l->start < end
            && l->end > start) {
            snprintf (why, len, "approved leave %s (%s) from %s to %s", l->id,
                      l->leave_type, l->start_date, l->end_date);
        }
    }
    s_leaves_free (&list);
    return rc;
}

//  --- types and allocations -------------------------------------------------------

static pm_err
s_type (pm_ctx_t *ctx, const char *id, const char *field, ltype_t **out)
{
    return stf_load (ctx, stf_db.leave_types, id, &pm__staffing__leave_type__descriptor,
                     field, "leave type", out);
}

//  staffing.SetLeaveType
static pm_err
s_set_type (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__SetLeaveType *req = (const Pm__Staffing__SetLeaveType *) body;
    if (!req->leave_type) {
        return pm_ctx_fail (ctx, PM_EINVAL, "leave_type", "leave_type: is required");
    }
    ltype_t t = *req->leave_type;
    pm_err rc = stf_token (ctx, "leave_type.id", t.id, 32);
    if (rc == PM_OK) {
        rc = stf_text (ctx, "leave_type.name", t.name, true, 60);
    }
    if (rc == PM_OK && (!t.has_yearly_days || t.yearly_days > 366)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.yearly_days",
                           "leave_type.yearly_days: is required, 0 to 366");
    }
    if (rc != PM_OK) {
        return rc;
    }
    ltype_t *old = NULL;
    rc = pm_store_get_msg (pm_ctx_txn (ctx), stf_db.leave_types, t.id, strlen (t.id),
                           &pm__staffing__leave_type__descriptor,
                           (ProtobufCMessage **) &old);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        return rc;
    }
    t.has_version = t.has_updated_at = 1;
    t.version = old ? old->version + 1 : 1;
    t.updated_at = pm_ctx_now (ctx);
    pm__staffing__leave_type__free_unpacked (old, NULL);
    return stf_commit (ctx, stf_db.leave_types, t.id, &t.base,
                       "staffing.leave_type.set", NULL);
}

static int
s_type_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    Pm__Staffing__LeaveTypeList *list = arg;
    if (list->n_leave_types == STF_LIST_MAX) {
        return 1;
    }
    ltype_t *t = pm__staffing__leave_type__unpack (NULL, val->mv_size, val->mv_data);
    if (!t) {
        return PM_EINTERNAL;
    }
    list->leave_types[list->n_leave_types++] = t;
    return 0;
}

//  staffing.ListLeaveTypes
static pm_err
s_list_types (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    (void) body;
    Pm__Staffing__LeaveTypeList out = PM__STAFFING__LEAVE_TYPE_LIST__INIT;
    out.leave_types = calloc (STF_LIST_MAX, sizeof *out.leave_types);
    pm_err rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.leave_types, "", 0, NULL, s_type_item,
                             &out);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < out.n_leave_types; i++) {
        pm__staffing__leave_type__free_unpacked (out.leave_types[i], NULL);
    }
    free (out.leave_types);
    return rc;
}

static void
s_alloc_key (pm_key_t *k, const char *staff_id, const char *type, uint32_t year)
{
    pm_key_init (k, 'a');
    pm_key_str (k, staff_id);
    pm_key_str (k, type);
    pm_key_u64 (k, year);
}

//  staffing.SetLeaveAllocation
static pm_err
s_set_allocation (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__SetLeaveAllocation *req
        = (const Pm__Staffing__SetLeaveAllocation *) body;
    const Pm__Staffing__LeaveAllocation *a = req->allocation;
    if (!a) {
        return pm_ctx_fail (ctx, PM_EINVAL, "allocation", "allocation: is required");
    }
    if (!a->has_year || a->year < 2000 || a->year > 2999) {
        return pm_ctx_fail (ctx, PM_EINVAL, "allocation.year",
                             "allocation.year: 2000 to 2999");
    }
    if (!a->has_days || a->days > 366) {
        return pm_ctx_fail (ctx, PM_EINVAL, "allocation.days",
                             "allocation.days: is required, 0 to 366");
    }
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, a->staff_id, "allocation.staff_id", &s);
    if (rc != PM_OK) {
        return rc;
    }
    rc = stf_staff_access (ctx, s, false, "allocation.staff_id");
    ltype_t *t = NULL;
    if (rc == PM_OK) {
        rc = s_type (ctx, a->leave_type, "allocation.leave_type", &t);
    }
    if (rc == PM_OK) {
        pm_key_t k;
        s_alloc_key (&k, s->id, t->id, a->year);
        rc = pm_store_put_msg (pm_ctx_txn (ctx), stf_db.allocations, k.b, k.len,
                               &a->base, 0);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "staffing.leave.allocation_set",
                          stf_staff_primary_site (s), s->id, &a->base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &a->base);
    }
    pm__staffing__leave_type__free_unpacked (t, NULL);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  --- balances -----------------------------------------------------------------

//  The balance of `staff_id`'s leave of type `t` in `year`.
static pm_err
s_balance (pm_ctx_t *ctx, const char *staff_id, const ltype_t *t, uint32_t year,
           Pm__Staffing__Balance *b)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    b->has_year = b->has_allocated = b->has_approved = b->has_requested = 1;
    b->has_remaining = 1;
    b->year = year;
    b->allocated = t->yearly_days;
    pm_key_t k;
    s_alloc_key (&k, staff_id, t->id, year);
    Pm__Staffing__LeaveAllocation *a;
    pm_err rc = pm_store_get_msg (txn, stf_db.allocations, k.b, k.len,
                                  &pm__staffing__leave_allocation__descriptor,
                                  (ProtobufCMessage **) &a);
    if (rc == PM_OK) {
        b->allocated = a->days;
        pm__staffing__leave_allocation__free_unpacked (a, NULL);
    }
    else if (rc != PM_ENOTFOUND) {
        return rc;
    }
    s_leaves_t list;
    rc = s_live (txn, staff_id, &list);
    for (size_t i = 0; rc == PM_OK && i < list.n; i++) {
        const leave_t *l = list.items[i];
        if (strcmp (l->leave_type, t->id) == 0
            && (uint32_t) atoi (l->start_date) == year) {
            if (l->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED) {
                b->approved += l->days;
            }
            else {
                b->requested += l->days;
            }
        }
    }
    s_leaves_free (&list);
    b->remaining = (int32_t) b->allocated - (int32_t) (b->approved + b->requested);
    return rc;
}

//  staffing.LeaveBalance
static pm_err
s_leave_balance (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__LeaveBalance *q = (const Pm__Staffing__LeaveBalance *) body;
    if (!q->has_year || q->year < 2000 || q->year > 2999) {
        return pm_ctx_fail (ctx, PM_EINVAL, "year", "year: 2000 to 2999");
    }
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, q->staff_id, "staff_id", &s);
    if (rc != PM_OK) {
        return rc;
    }
    ltype_t *t = NULL;
    rc = stf_staff_access (ctx, s, true, "staff_id");
    if (rc == PM_OK) {
        rc = s_type (ctx, q->leave_type, "leave_type", &t);
    }
    Pm__Staffing__Balance b = PM__STAFFING__BALANCE__INIT;
    if (rc == PM_OK) {
        rc = s_balance (ctx, s->id, t, q->year, &b);
    }
    if (rc == PM_OK) {
        b.staff_id = s->id;
        b.leave_type = t->id;
        rc = pm_ctx_reply (ctx, &b.base);
    }
    pm__staffing__leave_type__free_unpacked (t, NULL);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  --- requests and decisions ---------------------------------------------------

//  The working days of `site` from `from` to `to`.
static uint32_t
s_working_days (const Pm__Staffing__Site *site, const char *from, const char *to)
{
    uint32_t days = 0;
    long n = stf_date_diff (from, to);
    for (long i = 0; i <= n; i++) {
        char date[STF_DATE_LEN];
        stf_date_add (from, (int) i, date);
        bool open = site->n_opening_hours == 0;
        int weekday = stf_date_weekday (date);
        for (size_t h = 0; h < site->n_opening_hours && !open; h++) {
            open = site->opening_hours[h]->weekday == (uint32_t) weekday;
        }
        days += open && !stf_site_closure (site, date);
    }
    return days;
}

//  staffing.RequestLeave
static pm_err
s_request (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__RequestLeave *req = (const Pm__Staffing__RequestLeave *) body;
    pm_err rc = stf_acting_as (ctx, req->staff_id, true, "staff_id");
    if (rc == PM_OK) {
        rc = stf_date (ctx, "start_date", req->start_date);
    }
    if (rc == PM_OK) {
        rc = stf_date (ctx, "end_date", req->end_date);
    }
    if (rc == PM_OK) {
        rc = stf_text (ctx, "reason", req->reason, false, 500);
    }
    if (rc != PM_OK) {
        return rc;
    }
    if (strcmp (req->end_date, req->start_date) < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_date",
                             "end_date: %s is before start_date %s", req->end_date,
                             req->start_date);
    }
    if (strncmp (req->end_date, req->start_date, 4) != 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_date",
                             "end_date: leave ends in the year it starts; split it at "
                             "the year end (balances are yearly)");
    }
    stf_staff_t *s;
    if ((rc = stf_staff_load (ctx, req->staff_id, "staff_id", &s)) != PM_OK) {
        return rc;
    }
    ltype_t *t = NULL;
    Pm__Staffing__Site *site = NULL;
    rc = stf_staff_access (ctx, s, false, "staff_id");
    if (rc == PM_OK) {
        rc = stf_staff_active (ctx, s, "staff_id");
    }
    if (rc == PM_OK) {
        rc = s_type (ctx, req->leave_type, "leave_type", &t);
    }
    if (rc == PM_OK) {
        rc = stf_site (ctx, stf_staff_primary_site (s), "staff_id", &site);
    }
    leave_t l = PM__STAFFING__LEAVE__INIT;
    char id[PM_ID_MAX];
    if (rc == PM_OK) {
        pm_id_new ("lv", pm_ctx_now (ctx), id);
        l.id = id;
        l.staff_id = s->id;
        l.leave_type = t->id;
        l.start_date = req->start_date;
        l.end_date = req->end_date;
        l.site_id = site->id;
        l.reason = req->reason;
        l.has_version = l.has_days = l.has_start = l.has_end = l.has_status = 1;
        l.has_requested_at = l.has_updated_at = 1;
        l.version = 1;
        l.days = s_working_days (site, req->start_date, req->end_date);
        l.status = PM__STAFFING__LEAVE_STATUS__LEAVE_REQUESTED;
        l.requested_at = l.updated_at = pm_ctx_now (ctx);
        char after[STF_DATE_LEN];
        stf_date_add (req->end_date, 1, after);
        stf_tz_instant (site->time_zone, req->start_date, 0, &l.start);
        stf_tz_instant (site->time_zone, after, 0, &l.end);
        //  No overlap with their other live leave.
        s_leaves_t list;
        rc = s_live (pm_ctx_txn (ctx), s->id, &list);
        for (size_t i = 0; rc == PM_OK && i < list.n; i++) {
            const leave_t *o = list.items[i];
            if (strcmp (o->start_date, l.end_date) <= 0
                && strcmp (o->end_date, l.start_date) >= 0) {
                rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start_date",
                                   "start_date: overlaps %s leave %s (%s) from %s to %s",
                                   o->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED
                                   ? "approved"
                                   : "requested",
                                   o->id, o->leave_type, o->start_date, o->end_date);
            }
        }
        s_leaves_free (&list);
    }
    if (rc == PM_OK) {
        Pm__Staffing__Balance b = PM__STAFFING__BALANCE__INIT;
        rc = s_balance (ctx, s->id, t, (uint32_t) atoi (l.start_date), &b);
        if (rc == PM_OK && b.remaining < (int32_t) l.days) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "leave_type",
                               "leave_type: %d day(s) of %s left in %u (%u allocated, %u "
                               "approved, %u requested); this asks %u", b.remaining, t->id,
                               b.year, b.allocated, b.approved, b.requested, l.days);
        }
    }
    if (rc == PM_OK) {
        rc = s_index (pm_ctx_txn (ctx), &l, true);
    }
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, STF_IX_LV_ALL);
        pm_key_str (&k, l.staff_id);
        pm_key_str (&k, l.id);
        rc = stf_index (pm_ctx_txn (ctx), stf_db.index, &k, l.id, true);
    }
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.leave, l.id, &l.base, "staffing.leave.requested",
                         l.site_id);
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__leave_type__free_unpacked (t, NULL);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  Checks `approver_id` may decide leave at `site` for `requester`: an
//  active practice manager attached to the site, not the requester.
static pm_err
s_check_approver (pm_ctx_t *ctx, const char *approver_id, const leave_t *l)
{
    stf_staff_t *m;
    pm_err rc = stf_staff_load (ctx, approver_id, "approver_id", &m);
    if (rc != PM_OK) {
        return rc;
    }
    if (strcmp (m->id, l->staff_id) == 0) {
        rc = pm_ctx_fail (ctx, PM_EFORBIDDEN, "approver_id",
                           "approver_id: nobody decides their own leave");
    }
    else if (m->status == PM__STAFFING__STAFF_STATUS__TERMINATED
             || !stf_staff_has_role (m, APPROVER_ROLE)
             || !stf_staff_at_site (m, l->site_id)) {
        rc = pm_ctx_fail (ctx, PM_EFORBIDDEN, "approver_id",
                           "approver_id: %s is not an active %s of site %s", m->id,
                           APPROVER_ROLE, l->site_id);
    }
    pm__staffing__staff__free_unpacked (m, NULL);
    return rc;
}

//  Moves leave `l` (as stored) to `status` and announces it.
static pm_err
s_move (pm_ctx_t *ctx, leave_t *l, Pm__Staffing__LeaveStatus status,
        const char *decided_by, const char *reason, const char *event)
{
    leave_t next = *l;
    next.status = status;
    next.version++;
    next.updated_at = pm_ctx_now (ctx);
    if (decided_by) {
        next.decided_by = (char *) decided_by;
        next.has_decided_at = 1;
        next.decided_at = pm_ctx_now (ctx);
    }
    next.decision_reason = (char *) reason;
    pm_err rc = PM_OK;
    if (status == PM__STAFFING__LEAVE_STATUS__LEAVE_DENIED
        || status == PM__STAFFING__LEAVE_STATUS__LEAVE_CANCELLED) {
        rc = s_index (pm_ctx_txn (ctx), l, false);
    }
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.leave, next.id, &next.base, event, next.site_id);
    }
    return rc;
}

//  staffing.ApproveLeave and staffing.DenyLeave
static pm_err
s_decide (pm_ctx_t *ctx, const ProtobufCMessage *body, bool approve)
{
    const Pm__Staffing__DecideLeave *req = (const Pm__Staffing__DecideLeave *) body;
    pm_err rc = stf_text (ctx, "reason", req->reason, !approve, 500);
    leave_t *l = NULL;
    if (rc == PM_OK) {
        rc = stf_load (ctx, stf_db.leave, req->leave_id, &pm__staffing__leave__descriptor,
                       "leave_id", "leave", &l);
    }
    if (rc == PM_OK) {
        rc = stf_access (ctx, l->site_id, "leave_id");
    }
    if (rc == PM_OK && l->status != PM__STAFFING__LEAVE_STATUS__LEAVE_REQUESTED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "leave_id", "leave_id: %s was already decided",
                           l->id);
    }
    if (rc == PM_OK) {
        rc = stf_acting_as (ctx, req->approver_id, false, "approver_id");
    }
    if (rc == PM_OK) {
        rc = s_check_approver (ctx, req->approver_id, l);
    }
    if (rc == PM_OK) {
        rc = s_move (ctx, l,
                     approve ? PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED
                             : PM__STAFFING__LEAVE_STATUS__LEAVE_DENIED,
                     req->approver_id, req->reason,
                     approve ? "staffing.leave.approved" : "staffing.leave.denied");
    }
    //  Off their shifts in the range: the hours go back to open shifts.
    if (rc == PM_OK && approve) {
        char why[96];
        snprintf (why, sizeof why, "on approved leave %s", l->id);
        rc = stf_rosters_release (ctx, l->staff_id, l->start, l->end, NULL, why);
    }
    pm__staffing__leave__free_unpacked (l, NULL);
    return rc;
}

static pm_err
s_approve (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_decide (ctx, body, true);
}

static pm_err
s_deny (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_decide (ctx, body, false);
}

//  staffing.CancelLeave
static pm_err
s_cancel (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__CancelLeave *req = (const Pm__Staffing__CancelLeave *) body;
    pm_err rc = stf_text (ctx, "reason", req->reason, true, 500);
    leave_t *l = NULL;
    if (rc == PM_OK) {
        rc = stf_load (ctx, stf_db.leave, req->leave_id, &pm__staffing__leave__descriptor,
                       "leave_id", "leave", &l);
    }
    if (rc == PM_OK) {
        rc = stf_access (ctx, l->site_id, "leave_id");
    }
    if (rc == PM_OK) {
        rc = stf_acting_as (ctx, l->staff_id, true, "leave_id");
    }
    if (rc == PM_OK && l->status != PM__STAFFING__LEAVE_STATUS__LEAVE_REQUESTED
        && l->status != PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED) {
        bool denied = l->status == PM__STAFFING__LEAVE_STATUS__LEAVE_DENIED;
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "leave_id", "leave_id: %s is %s", l->id,
                           denied ? "denied" : "cancelled");
    }
    if (rc == PM_OK) {
        rc = s_move (ctx, l, PM__STAFFING__LEAVE_STATUS__LEAVE_CANCELLED, NULL,
                     req->reason, "staffing.leave.cancelled");
    }
    pm__staffing__leave__free_unpacked (l, NULL);
    return rc;
}


static int
s_by_start (const void *a, const void *b)
{
    const leave_t *x = *(leave_t *const *) a, *y = *(leave_t *const *) b;
    int c = strcmp (x->start_date, y->start_date);
    return c ? c : strcmp (x->id, y->id);
}

//  staffing.ListLeave
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListLeave *q = (const Pm__Staffing__ListLeave *) body;
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, q->staff_id, "staff_id", &s);
    if (rc != PM_OK) {
        return rc;
    }
    rc = stf_staff_access (ctx, s, true, "staff_id");
    pm__staffing__staff__free_unpacked (s, NULL);
    s_leaves_t list = {pm_ctx_txn (ctx), NULL, 0, 0};
    if (rc == PM_OK) {
        pm_key_t prefix;
        pm_key_init (&prefix, STF_IX_LV_ALL);
        pm_key_str (&prefix, q->staff_id);
        rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, prefix.b, prefix.len, NULL,
                          s_leave_item, &list);
    }
    if (rc == PM_OK) {
        if (list.n) {
            qsort (list.items, list.n, sizeof *list.items, s_by_start);
        }
        Pm__Staffing__LeaveList out = PM__STAFFING__LEAVE_LIST__INIT;
        out.n_leave = list.n;
        out.leave = list.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    s_leaves_free (&list);
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_leave_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.SetLeaveType", s_set_type);
    pm_server_handle (server, "staffing.ListLeaveTypes", s_list_types);
    pm_server_handle (server, "staffing.SetLeaveAllocation", s_set_allocation);
    pm_server_handle (server, "staffing.LeaveBalance", s_leave_balance);
    pm_server_handle (server, "staffing.RequestLeave", s_request);
    pm_server_handle (server, "staffing.ApproveLeave", s_approve);
    pm_server_handle (server, "staffing.DenyLeave", s_deny);
    pm_server_handle (server, "staffing.CancelLeave", s_cancel);
    pm_server_handle (server, "staffing.ListLeave", s_list);
}
