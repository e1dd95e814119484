/*  staffing_leave.c: leave types, allocations, balances, requests and
    decisions (see staffing_leave.h).

    Leave is whole local days at the person's primary site, or part of one
    local date ("partial": a start and end time). Whole-day leave runs
    from local midnight on the first day to local midnight after the last,
    so a week off in New York across a DST change is 167 or 169 hours, as
    it should be; partial leave is exactly its local window, turned into
    instants with libical. Days used are the site's working days in the
    range (weekdays with opening hours, less closures); a site without
    weekly hours counts every day.

    Balances are kept in days (whole-day leave, as before) and in minutes
    (everything): a day of a type is worth its hours_per_day, partial
    leave its real length, at most one day's worth. A request counts
    against the balance from the moment it is made, so two requests cannot
    both spend the last of it. A monthly-accruing type earns a twelfth of
    the year's allocation at the start of each local month: leave may use
    only what will have accrued by its start date, after everything taken
    or asked by then (later leave included: booking March must not take
    what a December holiday already counts on).                           */
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
#define HOURS_PER_DAY 8 //  a type's default

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
    const char *until; //  the last start date wanted; NULL: all
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
    if (list->until && strcmp (l->start_date, list->until) > 0) {
        pm__staffing__leave__free_unpacked (l, NULL);
        return PM_SCAN_STOP; //  by start date: nothing further is wanted
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
    *list = (s_leaves_t) {txn, NULL, 0, 0, NULL};
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, NULL, s_leave_item, list);
}

//  A person's live leave that starts from `from` to `until` (dates).
static pm_err
s_live_between (MDB_txn *txn, const char *staff_id, const char *from, const char *until,
                s_leaves_t *list)
{
    pm_key_t prefix, start;
    pm_key_init (&prefix, STF_IX_LV_BY_STAFF);
    pm_key_str (&prefix, staff_id);
    start = prefix;
    pm_key_str (&start, from);
    *list = (s_leaves_t) {txn, NULL, 0, 0, until};
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, &start, s_leave_item, list);
}

//  True for leave that covers part of one date.
static bool
s_partial (const leave_t *l)
{
    return l->start_time && *l->start_time;
}

static void
s_leaves_free (s_leaves_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        pm__staffing__leave__free_unpacked (list->items[i], NULL);
    }
    free (list->items);
}

//  --------------------------------------------------------------------------
//  Approved leave that keeps someone from working a stretch.
pm_err
stf_leave_during (pm_ctx_t *ctx, const char *staff_id, int64_t start, int64_t end,
                  char *why, size_t len)
{
    why[0] = 0;
    s_leaves_t list;
    pm_err rc = s_live (pm_ctx_txn (ctx), staff_id, &list);
    for (size_t i = 0; rc == PM_OK && i < list.n && !why[0]; i++) {
        const leave_t *l = list.items[i];
        if (l->status != PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED || l->start >= end
            || l->end <= start) {
            continue;
        }
        if (!s_partial (l)) {
            snprintf (why, len, "approved leave %s (%s) from %s to %s", l->id,
                      l->leave_type, l->start_date, l->end_date);
        }
        else if (l->start <= start && l->end >= end) {
            snprintf (why, len, "approved leave %s (%s) on %s %s-%s", l->id, l->leave_type,
                      l->start_date, l->start_time, l->end_time);
        }
    }
    s_leaves_free (&list);
    return rc;
}

//  --------------------------------------------------------------------------
//  Approved partial leave overlapping a stretch (a shift, for coverage).
pm_err
stf_leave_partial (MDB_txn *txn, const char *staff_id, int64_t start, int64_t end,
                   stf_span_t *out, size_t max, size_t *n)
{
    *n = 0;
    //  Partial leave lies within its local date, which is at most a day
    //  from the UTC date of any instant in it: only those dates are read.
    char from[STF_DATE_LEN], until[STF_DATE_LEN], utc[STF_DATE_LEN];
    stf_tz_local ("UTC", start, utc, NULL, NULL);
    stf_date_add (utc, -1, from);
    stf_tz_local ("UTC", end, utc, NULL, NULL);
    stf_date_add (utc, 1, until);
    s_leaves_t list;
    pm_err rc = s_live_between (txn, staff_id, from, until, &list);
    for (size_t i = 0; rc == PM_OK && i < list.n && *n < max; i++) {
        const leave_t *l = list.items[i];
        if (l->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED && s_partial (l)
            && l->start < end && l->end > start) {
            out[(*n)++] = (stf_span_t) {l->start, l->end};
        }
    }
    s_leaves_free (&list);
    return rc;
}

//  --- types and allocations -------------------------------------------------------

//  A type's hours per day; types stored before it existed are 8.
static uint32_t
s_hours_per_day (const ltype_t *t)
{
    return t->has_hours_per_day && t->hours_per_day ? t->hours_per_day : HOURS_PER_DAY;
}

//  A type's accrual; types stored before it existed accrue yearly.
static Pm__Staffing__LeaveAccrual
s_accrual (const ltype_t *t)
{
    return t->has_accrual && t->accrual == PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_MONTHLY
           ? PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_MONTHLY
           : PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_YEARLY;
}

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
    if (rc == PM_OK && t.has_hours_per_day
        && (t.hours_per_day < 1 || t.hours_per_day > 24)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.hours_per_day",
                           "leave_type.hours_per_day: 1 to 24 (8 when absent)");
    }
    if (rc == PM_OK && t.has_accrual && t.accrual != PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_UNSET
        && t.accrual != PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_YEARLY
        && t.accrual != PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_MONTHLY) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.accrual",
                           "leave_type.accrual: ACCRUAL_YEARLY or ACCRUAL_MONTHLY");
    }
    if (rc != PM_OK) {
        return rc;
    }
    //  Defaults written out, so that the event says what applies.
    t.has_hours_per_day = t.has_accrual = 1;
    t.hours_per_day = s_hours_per_day (&t);
    t.accrual = s_accrual (&t);
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
        return PM_SCAN_STOP;
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

//  One live leave's use of a balance.
typedef struct {
    char date[STF_DATE_LEN]; //  its start date: when it must have accrued
    char id[PM_ID_MAX];
    uint32_t minutes;
} s_use_t;

//  One person's standing on one type in one year: the balance and the
//  leave behind it, by start date.
typedef struct {
    Pm__Staffing__Balance b;
    uint32_t day;      //  minutes in a day of the type
    uint32_t monthly;  //  minutes earned each month (monthly accrual), else 0
    int first_month;   //  the first month that earns; 13 when none this year
    s_use_t *uses;
    size_t n;
} s_ledger_t;

//  `minutes` as "2 day(s) 4h30 (1230 minutes)", a day being `day` minutes.
static const char *
s_amount (int64_t minutes, uint32_t day, char *out, size_t len)
{
    long long m = minutes < 0 ? -minutes : minutes;
    long long d = m / day, r = m % day;
    if (r) {
        snprintf (out, len, "%s%lld day(s) %lldh%02lld (%lld minutes)",
                  minutes < 0 ? "-" : "", d, r / 60, r % 60, (long long) minutes);
    }
    else {
        snprintf (out, len, "%s%lld day(s) (%lld minutes)", minutes < 0 ? "-" : "", d,
                  (long long) minutes);
    }
    return out;
}

//  The balance minutes leave `l` uses: whole days at the type's current
//  day length (as the allocation is counted), partial leave its minutes.
static uint32_t
s_minutes (const leave_t *l, uint32_t day)
{
    return s_partial (l) ? l->minutes : l->days * day;
}

//  The ledger of `s`'s leave of type `t` in `year` (free with
//  s_ledger_free).
static pm_err
s_ledger (pm_ctx_t *ctx, const stf_staff_t *s, const ltype_t *t, uint32_t year,
          s_ledger_t *led)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    memset (led, 0, sizeof *led);
    Pm__Staffing__Balance *b = &led->b;
    pm__staffing__balance__init (b);
    b->has_year = b->has_allocated = b->has_approved = b->has_requested = 1;
    b->has_remaining = b->has_hours_per_day = b->has_allocated_minutes = 1;
    b->has_approved_minutes = b->has_requested_minutes = b->has_remaining_minutes = 1;
    b->has_accrual = 1;
    b->year = year;
    b->allocated = t->yearly_days;
    b->hours_per_day = s_hours_per_day (t);
    b->accrual = s_accrual (t);
    led->day = b->hours_per_day * 60;
    pm_key_t k;
    s_alloc_key (&k, s->id, t->id, year);
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
    b->allocated_minutes = b->allocated * led->day;
    if (b->accrual == PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_MONTHLY) {
        //  A twelfth of days * hours * 60 is days * hours * 5: whole minutes.
        led->monthly = b->allocated * b->hours_per_day * 5;
        int start_year = s->start_date ? atoi (s->start_date) : 0;
        led->first_month = start_year < (int) year ? 1
                           : start_year == (int) year ? atoi (s->start_date + 5)
                                                      : 13;
    }
    char jan1[STF_DATE_LEN], dec31[STF_DATE_LEN];
    snprintf (jan1, sizeof jan1, "%04u-01-01", year);
    snprintf (dec31, sizeof dec31, "%04u-12-31", year);
    s_leaves_t list;
    rc = s_live_between (txn, s->id, jan1, dec31, &list);
    if (rc == PM_OK && list.n) {
        led->uses = calloc (list.n, sizeof *led->uses);
    }
    //  The index is by start date, so the uses are too.
    for (size_t i = 0; rc == PM_OK && i < list.n; i++) {
        const leave_t *l = list.items[i];
        if (strcmp (l->leave_type, t->id) != 0) {
            continue;
        }
        uint32_t minutes = s_minutes (l, led->day);
        bool approved = l->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED;
        if (!s_partial (l)) {
            *(approved ? &b->approved : &b->requested) += l->days;
        }
        *(approved ? &b->approved_minutes : &b->requested_minutes) += minutes;
        s_use_t *u = &led->uses[led->n++];
        snprintf (u->date, sizeof u->date, "%s", l->start_date);
        snprintf (u->id, sizeof u->id, "%s", l->id);
        u->minutes = minutes;
    }
    s_leaves_free (&list);
    int64_t left = (int64_t) b->allocated_minutes - b->approved_minutes - b->requested_minutes;
    b->remaining_minutes = (int32_t) left;
    //  Whole days, rounded down (also below zero).
    b->remaining = (int32_t) (left >= 0 ? left / led->day : -((-left + led->day - 1) / led->day));
    return rc;
}

static void
s_ledger_free (s_ledger_t *led)
{
    free (led->uses);
}

//  What has accrued by local date `date` (the year's allocation when it
//  accrues yearly).
static int64_t
s_accrued (const s_ledger_t *led, const char *date)
{
    if (!led->monthly) {
        return led->b.allocated_minutes;
    }
    int year = atoi (date);
    int month = year < (int) led->b.year ? 0 : year > (int) led->b.year ? 12
                                                                         : atoi (date + 5);
    int months = month - led->first_month + 1;
    return months > 0 ? (int64_t) months * led->monthly : 0;
}

//  The leave taken or asked that starts on or before `date`.
static int64_t
s_used_by (const s_ledger_t *led, const char *date)
{
    int64_t used = 0;
    for (size_t i = 0; i < led->n && strcmp (led->uses[i].date, date) <= 0; i++) {
        used += led->uses[i].minutes;
    }
    return used;
}

//  The most new leave starting on `from` may use: the least, over `from`
//  and every later start of their leave, of what has accrued by then less
//  what is taken or asked by then. *at is the leave whose start binds
//  (NULL: `from` itself).
static int64_t
s_available (const s_ledger_t *led, const char *from, const s_use_t **at)
{
    *at = NULL;
    int64_t least = s_accrued (led, from) - s_used_by (led, from);
    for (size_t i = 0; i < led->n; i++) {
        const s_use_t *u = &led->uses[i];
        if (strcmp (u->date, from) > 0) {
            int64_t left = s_accrued (led, u->date) - s_used_by (led, u->date);
            if (left < least) {
                least = left;
                *at = u;
            }
        }
    }
    return least;
}

//  staffing.LeaveBalance
static pm_err
s_leave_balance (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__LeaveBalance *q = (const Pm__Staffing__LeaveBalance *) body;
    if (!q->has_year || q->year < 2000 || q->year > 2999) {
        return pm_ctx_fail (ctx, PM_EINVAL, "year", "year: 2000 to 2999");
    }
    if (q->as_of && *q->as_of) {
        pm_err rc = stf_date (ctx, "as_of", q->as_of);
        if (rc != PM_OK) {
            return rc;
        }
        if ((uint32_t) atoi (q->as_of) != q->year) {
            return pm_ctx_fail (ctx, PM_EINVAL, "as_of", "as_of: %s is not in %u", q->as_of,
                                 q->year);
        }
    }
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, q->staff_id, "staff_id", &s);
    if (rc != PM_OK) {
        return rc;
    }
    ltype_t *t = NULL;
    Pm__Staffing__Site *site = NULL;
    rc = stf_staff_access (ctx, s, true, "staff_id");
    if (rc == PM_OK) {
        rc = s_type (ctx, q->leave_type, "leave_type", &t);
    }
    char as_of[STF_DATE_LEN];
    if (rc == PM_OK && q->as_of && *q->as_of) {
        snprintf (as_of, sizeof as_of, "%s", q->as_of);
    }
    else if (rc == PM_OK) {
        //  Today at their primary site, kept within the year asked about.
        rc = stf_site (ctx, stf_staff_primary_site (s), "staff_id", &site);
        if (rc == PM_OK) {
            stf_today (ctx, site->time_zone, as_of);
            if ((uint32_t) atoi (as_of) < q->year) {
                snprintf (as_of, sizeof as_of, "%04u-01-01", q->year);
            }
            else if ((uint32_t) atoi (as_of) > q->year) {
                snprintf (as_of, sizeof as_of, "%04u-12-31", q->year);
            }
        }
    }
    s_ledger_t led = {0};
    if (rc == PM_OK) {
        rc = s_ledger (ctx, s, t, q->year, &led);
    }
    if (rc == PM_OK) {
        const s_use_t *at;
        Pm__Staffing__Balance *b = &led.b;
        b->staff_id = s->id;
        b->leave_type = t->id;
        b->as_of = as_of;
        b->has_accrued_minutes = b->has_available_minutes = 1;
        b->accrued_minutes = (uint32_t) s_accrued (&led, as_of);
        b->available_minutes = (int32_t) s_available (&led, as_of, &at);
        rc = pm_ctx_reply (ctx, &b->base);
    }
    s_ledger_free (&led);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__leave_type__free_unpacked (t, NULL);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  Refuses (ECONFLICT on leave_type) leave `l` of type `t` that its
//  balance cannot pay for: the year's, or, accruing monthly, what will
//  have accrued by its start (and by each later leave's start) after the
//  leave taken or asked by then.
static pm_err
s_check_balance (pm_ctx_t *ctx, const stf_staff_t *s, const ltype_t *t, const leave_t *l)
{
    s_ledger_t led;
    pm_err rc = s_ledger (ctx, s, t, (uint32_t) atoi (l->start_date), &led);
    const Pm__Staffing__Balance *b = &led.b;
    char left[64], asks[64], approved[64], requested[64];
    s_amount (l->minutes, led.day, asks, sizeof asks);
    if (rc == PM_OK && b->remaining_minutes < (int64_t) l->minutes) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "leave_type",
                           "leave_type: %s of %s left in %u (%u day(s) allocated at %u "
                           "hour(s) a day, %s approved, %s requested); this asks %s",
                           s_amount (b->remaining_minutes, led.day, left, sizeof left), t->id,
                           b->year, b->allocated, b->hours_per_day,
                           s_amount (b->approved_minutes, led.day, approved, sizeof approved),
                           s_amount (b->requested_minutes, led.day, requested,
                                     sizeof requested),
                           asks);
    }
    const s_use_t *at;
    if (rc == PM_OK && led.monthly && s_available (&led, l->start_date, &at) < l->minutes) {
        const char *date = at ? at->date : l->start_date;
        char accrued[64], used[64], each[64], when[80] = "";
        if (at) {
            snprintf (when, sizeof when, " (their leave %s starts that day)", at->id);
        }
        int first = led.first_month;
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "leave_type",
                           "leave_type: %s of %s will have accrued by %s (%s a month from "
                           "%04u-%02d); %s is taken or asked by then%s, and this asks %s",
                           s_amount (s_accrued (&led, date), led.day, accrued, sizeof accrued),
                           t->id, date, s_amount (led.monthly, led.day, each, sizeof each),
                           b->year, first > 12 ? 12 : first,
                           s_amount (s_used_by (&led, date), led.day, used, sizeof used), when,
                           asks);
    }
    s_ledger_free (&led);
    return rc;
}

//  --- requests and decisions ---------------------------------------------------

//  True when `site` opens on `date`: a weekday with opening hours (every
//  day for a site without weekly hours) that is not a closure.
static bool
s_open_on (const Pm__Staffing__Site *site, const char *date)
{
    bool open = site->n_opening_hours == 0;
    int weekday = stf_date_weekday (date);
    for (size_t h = 0; h < site->n_opening_hours && !open; h++) {
        open = site->opening_hours[h]->weekday == (uint32_t) weekday;
    }
    return open && !stf_site_closure (site, date);
}

//  The working days of `site` from `from` to `to`.
static uint32_t
s_working_days (const Pm__Staffing__Site *site, const char *from, const char *to)
{
    uint32_t days = 0;
    long n = stf_date_diff (from, to);
    for (long i = 0; i <= n; i++) {
        char date[STF_DATE_LEN];
        stf_date_add (from, (int) i, date);
        days += s_open_on (site, date);
    }
    return days;
}

//  Checks the dates and times of a request: whole days within one year,
//  or a window on one date.
static pm_err
s_check_when (pm_ctx_t *ctx, const Pm__Staffing__RequestLeave *req)
{
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
    bool has_start = req->start_time && *req->start_time;
    bool has_end = req->end_time && *req->end_time;
    if (has_start != has_end) {
        const char *missing = has_start ? "end_time" : "start_time";
        return pm_ctx_fail (ctx, PM_EINVAL, missing,
                             "%s: partial-day leave needs both start_time and end_time",
                             missing);
    }
    if (!has_start) {
        return PM_OK;
    }
    if (strcmp (req->start_date, req->end_date) != 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_date",
                             "end_date: partial-day leave (start_time, end_time) covers one "
                             "date: end_date %s must be start_date %s", req->end_date,
                             req->start_date);
    }
    int from = stf_hhmm (req->start_time), to = stf_hhmm (req->end_time);
    if (from < 0 || from >= 1440) {
        return pm_ctx_fail (ctx, PM_EINVAL, "start_time", "start_time: HH:MM, 00:00 to 23:59");
    }
    if (to < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_time", "end_time: HH:MM, 00:00 to 24:00");
    }
    if (to <= from) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_time",
                             "end_time: %s is not after start_time %s", req->end_time,
                             req->start_time);
    }
    return PM_OK;
}

//  Fills the range, days and minutes of leave `l` at `site`, a day of the
//  type being `day` minutes. Partial leave must fall on a day the site
//  opens and be a real stretch of local time.
static pm_err
s_extent (pm_ctx_t *ctx, const Pm__Staffing__Site *site, uint32_t day, leave_t *l)
{
    l->has_days = l->has_start = l->has_end = l->has_minutes = 1;
    if (!s_partial (l)) {
        char after[STF_DATE_LEN];
        stf_date_add (l->end_date, 1, after);
        stf_tz_instant (site->time_zone, l->start_date, 0, &l->start);
        stf_tz_instant (site->time_zone, after, 0, &l->end);
        l->days = s_working_days (site, l->start_date, l->end_date);
        l->minutes = l->days * day;
        return PM_OK;
    }
    const char *closure = stf_site_closure (site, l->start_date);
    if (closure) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "start_date",
                             "start_date: site %s is closed on %s (%s): no hours to take off",
                             site->id, l->start_date, closure);
    }
    if (!s_open_on (site, l->start_date)) {
        static const char *names[] = {"", "Monday", "Tuesday", "Wednesday", "Thursday",
                                      "Friday", "Saturday", "Sunday"};
        return pm_ctx_fail (ctx, PM_ECONFLICT, "start_date",
                             "start_date: site %s does not open on %ss (%s): no hours to "
                             "take off", site->id, names[stf_date_weekday (l->start_date)],
                             l->start_date);
    }
    //  Local window to instants: libical applies the zone's rules.
    stf_tz_instant (site->time_zone, l->start_date, stf_hhmm (l->start_time), &l->start);
    stf_tz_instant (site->time_zone, l->start_date, stf_hhmm (l->end_time), &l->end);
    if (l->end <= l->start) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_time",
                             "end_time: %s-%s on %s is no time in %s (a clock change)",
                             l->start_time, l->end_time, l->start_date, site->time_zone);
    }
    int64_t minutes = (l->end - l->start) / 60000;
    l->days = 0;
    l->minutes = (uint32_t) (minutes < day ? minutes : day);
    return PM_OK;
}

//  Refuses leave `l` overlapping another live leave of theirs: whole-day
//  leave holds its dates; two partial windows clash when they intersect.
static pm_err
s_check_overlap (pm_ctx_t *ctx, const leave_t *l)
{
    s_leaves_t list;
    pm_err rc = s_live (pm_ctx_txn (ctx), l->staff_id, &list);
    for (size_t i = 0; rc == PM_OK && i < list.n; i++) {
        const leave_t *o = list.items[i];
        bool clash = strcmp (o->start_date, l->end_date) <= 0
                     && strcmp (o->end_date, l->start_date) >= 0;
        if (clash && s_partial (o) && s_partial (l)) {
            clash = o->start < l->end && o->end > l->start;
        }
        if (!clash) {
            continue;
        }
        const char *status = o->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED
                             ? "approved" : "requested";
        if (s_partial (o)) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start_date",
                               "start_date: overlaps %s leave %s (%s) on %s %s-%s", status,
                               o->id, o->leave_type, o->start_date, o->start_time,
                               o->end_time);
        }
        else {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start_date",
                               "start_date: overlaps %s leave %s (%s) from %s to %s", status,
                               o->id, o->leave_type, o->start_date, o->end_date);
        }
    }
    s_leaves_free (&list);
    return rc;
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
    if (rc == PM_OK) {
        rc = s_check_when (ctx, req);
    }
    if (rc != PM_OK) {
        return rc;
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
        if (req->start_time && *req->start_time) {
            l.start_time = req->start_time;
            l.end_time = req->end_time;
        }
        l.site_id = site->id;
        l.reason = req->reason;
        l.has_version = l.has_status = l.has_requested_at = l.has_updated_at = 1;
        l.version = 1;
        l.status = PM__STAFFING__LEAVE_STATUS__LEAVE_REQUESTED;
        l.requested_at = l.updated_at = pm_ctx_now (ctx);
        rc = s_extent (ctx, site, s_hours_per_day (t) * 60, &l);
    }
    if (rc == PM_OK) {
        rc = s_check_overlap (ctx, &l);
    }
    if (rc == PM_OK) {
        rc = s_check_balance (ctx, s, t, &l);
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
    //  Partial leave takes only shifts that lie wholly inside it: they
    //  work the rest of a longer one, and scheduling, which blocks the
    //  leave's UTC range, books nobody with them in the window.
    if (rc == PM_OK && approve) {
        char why[96];
        snprintf (why, sizeof why, "on approved leave %s", l->id);
        rc = stf_rosters_release (ctx, l->staff_id, l->start, l->end, s_partial (l), NULL,
                                  why);
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
    s_leaves_t list = {pm_ctx_txn (ctx), NULL, 0, 0, NULL};
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
