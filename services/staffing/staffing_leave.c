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
    what a December holiday already counts on).

    A year's unused time carries into the next up to the type's cap, so
    a year's balance depends on every year before it: it is computed
    from the records, from the year the person started, on each request
    and read (no year-end job, and a past year's allocation corrected
    later changes what carries). Carried time that expires is used
    first, by date, so leave in the months it may be used is not paid
    from the allocation while carried time lapses. Whole-day leave across
    a year end is one leave paying each year's working days from that
    year.                                                                 */
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
    if (rc == PM_OK && t.carry_over_days > 366) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.carry_over_days",
                           "leave_type.carry_over_days: 0 to 366 (0: nothing carries)");
    }
    if (rc == PM_OK && t.carry_over_expiry_months > 12) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.carry_over_expiry_months",
                           "leave_type.carry_over_expiry_months: 0 to 12 (0: never)");
    }
    if (rc == PM_OK && t.carry_over_expiry_months && !t.carry_over_days) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.carry_over_expiry_months",
                           "leave_type.carry_over_expiry_months: nothing carries over "
                           "(carry_over_days is 0)");
    }
    //  Monthly accrual already earns from the start month only.
    if (rc == PM_OK && t.pro_rate_yearly
        && s_accrual (&t) != PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_YEARLY) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "leave_type.pro_rate_yearly",
                           "leave_type.pro_rate_yearly: only for ACCRUAL_YEARLY (monthly "
                           "accrual earns from the month they start)");
    }
    if (rc != PM_OK) {
        return rc;
    }
    //  Defaults written out, so that the event says what applies.
    t.has_hours_per_day = t.has_accrual = 1;
    t.hours_per_day = s_hours_per_day (&t);
    t.accrual = s_accrual (&t);
    t.has_carry_over_days = t.has_carry_over_expiry_months = t.has_pro_rate_yearly = 1;
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

//  One live leave's use of one year's balance: leave across a year end
//  makes two, one in each year.
typedef struct {
    char date[STF_DATE_LEN]; //  when it must be paid for: its start date, or
                             //  1 January for the second year of leave across
                             //  a year end (it must have accrued by then,
                             //  and may use carried time until it expires)
    char id[PM_ID_MAX];
    uint32_t minutes;
    uint32_t days;           //  whole-day leave: its working days in the year
    bool partial;
    bool approved;
    bool mine;               //  the request being checked, not stored yet
} s_use_t;

//  A person's live leave of one type as uses, by date.
typedef struct {
    s_use_t *uses;
    size_t n, cap;
} s_book_t;

//  One person's standing on one type in one year: the balance and the
//  uses behind it.
typedef struct {
    Pm__Staffing__Balance b;
    uint32_t day;        //  minutes in a day of the type
    uint32_t monthly;    //  minutes earned each month (monthly accrual), else 0
    int first_month;     //  the first month they work in the year; 13: none
    int last_month;      //  the last; 0: none
    int64_t alloc;       //  the year's allocation in minutes (pro-rated)
    int64_t carried;     //  carried in from the year before
    int64_t carried_used; //  of it, what leave starting by `until` uses
    int64_t cap;         //  the most that may carry on into the next year
    char until[STF_DATE_LEN]; //  last start date that may use it; "" never expires
    const s_use_t *uses; //  the year's uses in the book
    size_t n;
    bool with_mine;      //  the request being checked counts
    char carried_text[160]; //  what it carries, for messages ("" none)
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

//  Adds the uses of leave `l`, a day of its type being `day` minutes:
//  whole days at the type's current day length (as the allocation is
//  counted), partial leave its minutes; leave across a year end one use
//  per year with that year's working days.
static void
s_book_add (s_book_t *book, const leave_t *l, uint32_t day, bool mine)
{
    if (book->n + 2 > book->cap) {
        book->cap = book->cap ? book->cap * 2 : 16;
        book->uses = realloc (book->uses, book->cap * sizeof *book->uses);
    }
    size_t parts = !s_partial (l) && l->n_year_days == 2 ? 2 : 1;
    for (size_t i = 0; i < parts; i++) {
        s_use_t *u = &book->uses[book->n++];
        memset (u, 0, sizeof *u);
        if (i == 0) {
            snprintf (u->date, sizeof u->date, "%s", l->start_date);
        }
        else {
            snprintf (u->date, sizeof u->date, "%04u-01-01", l->year_days[1]->year);
        }
        snprintf (u->id, sizeof u->id, "%s", l->id);
        u->partial = s_partial (l);
        u->days = u->partial ? 0 : parts == 2 ? l->year_days[i]->days : l->days;
        u->minutes = u->partial ? l->minutes : u->days * day;
        u->approved = l->status == PM__STAFFING__LEAVE_STATUS__LEAVE_APPROVED;
        u->mine = mine;
    }
}

static int
s_use_cmp (const void *a, const void *b)
{
    const s_use_t *x = a, *y = b;
    int c = strcmp (x->date, y->date);
    return c ? c : strcmp (x->id, y->id);
}

//  Loads the book of `s`'s live leave of type `t` for the years from
//  `from` to `to`; everything when the type carries time over (each
//  year's balance then depends on the years before it). Leave that
//  started the year before `from` may end in it: that year is read too.
static pm_err
s_book_load (pm_ctx_t *ctx, const stf_staff_t *s, const ltype_t *t, uint32_t from,
             uint32_t to, s_book_t *book)
{
    memset (book, 0, sizeof *book);
    s_leaves_t list;
    pm_err rc;
    if (t->carry_over_days) {
        rc = s_live (pm_ctx_txn (ctx), s->id, &list);
    }
    else {
        char jan1[STF_DATE_LEN], dec31[STF_DATE_LEN];
        snprintf (jan1, sizeof jan1, "%04u-01-01", from - 1);
        snprintf (dec31, sizeof dec31, "%04u-12-31", to);
        rc = s_live_between (pm_ctx_txn (ctx), s->id, jan1, dec31, &list);
    }
    uint32_t day = s_hours_per_day (t) * 60;
    for (size_t i = 0; rc == PM_OK && i < list.n; i++) {
        if (strcmp (list.items[i]->leave_type, t->id) == 0) {
            s_book_add (book, list.items[i], day, false);
        }
    }
    s_leaves_free (&list);
    return rc;
}

//  Sorts the book by date (after adding to it).
static void
s_book_sort (s_book_t *book)
{
    if (book->n) {
        qsort (book->uses, book->n, sizeof *book->uses, s_use_cmp);
    }
}

static void
s_book_free (s_book_t *book)
{
    free (book->uses);
}

//  True when use `u` counts in `led`.
static bool
s_counts (const s_ledger_t *led, const s_use_t *u)
{
    return !u->mine || led->with_mine;
}

//  The months `s` works in `year`: from their start month (1 when they
//  started before it, 13 when later) to their end month (12 when they
//  have not left by then, 0 when they left before it).
static void
s_months (const stf_staff_t *s, uint32_t year, int *first, int *last)
{
    int start = s->start_date ? atoi (s->start_date) : 0;
    *first = start < (int) year ? 1 : start == (int) year ? atoi (s->start_date + 5) : 13;
    int end = s->end_date && *s->end_date ? atoi (s->end_date) : 9999;
    *last = end > (int) year ? 12 : end == (int) year ? atoi (s->end_date + 5) : 0;
}

//  The leave taken or asked that starts on or before `date`.
static int64_t
s_used_by (const s_ledger_t *led, const char *date)
{
    int64_t used = 0;
    for (size_t i = 0; i < led->n && strcmp (led->uses[i].date, date) <= 0; i++) {
        used += s_counts (led, &led->uses[i]) ? led->uses[i].minutes : 0;
    }
    return used;
}

//  The carried time leave starting on `date` may use: all of it until
//  it expires, after that only what earlier leave used (taken first, it
//  was not lost).
static int64_t
s_credit (const s_ledger_t *led, const char *date)
{
    return !led->until[0] || strcmp (date, led->until) <= 0 ? led->carried
                                                              : led->carried_used;
}

//  Everything taken or asked in the year.
static int64_t
s_used (const s_ledger_t *led)
{
    return (int64_t) led->b.approved_minutes + led->b.requested_minutes;
}

//  What the year leaves unused for the next, at most the carry-over cap.
static int64_t
s_carry_out (const s_ledger_t *led)
{
    int64_t unused = led->alloc + s_credit (led, "9999-12-31") - s_used (led);
    return unused < 0 ? 0 : unused > led->cap ? led->cap : unused;
}

//  The ledger of `s`'s leave of type `t` in `year` from `book`, with
//  `carried` minutes carried in; `with_mine`: the request being checked
//  counts.
static pm_err
s_ledger (pm_ctx_t *ctx, const stf_staff_t *s, const ltype_t *t, const s_book_t *book,
          uint32_t year, int64_t carried, bool with_mine, s_ledger_t *led)
{
    memset (led, 0, sizeof *led);
    Pm__Staffing__Balance *b = &led->b;
    pm__staffing__balance__init (b);
    b->has_year = b->has_allocated = b->has_approved = b->has_requested = 1;
    b->has_remaining = b->has_hours_per_day = b->has_allocated_minutes = 1;
    b->has_approved_minutes = b->has_requested_minutes = b->has_remaining_minutes = 1;
    b->has_accrual = b->has_carried_in_minutes = b->has_carried_used_minutes = 1;
    b->has_carried_expired_minutes = 1;
    b->year = year;
    b->allocated = t->yearly_days;
    b->hours_per_day = s_hours_per_day (t);
    b->accrual = s_accrual (t);
    led->day = b->hours_per_day * 60;
    led->with_mine = with_mine;
    pm_key_t k;
    s_alloc_key (&k, s->id, t->id, year);
    Pm__Staffing__LeaveAllocation *a;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), stf_db.allocations, k.b, k.len,
                                  &pm__staffing__leave_allocation__descriptor,
                                  (ProtobufCMessage **) &a);
    if (rc == PM_OK) {
        b->allocated = a->days;
        pm__staffing__leave_allocation__free_unpacked (a, NULL);
    }
    else if (rc != PM_ENOTFOUND) {
        return rc;
    }
    s_months (s, year, &led->first_month, &led->last_month);
    int months = led->last_month - led->first_month + 1;
    months = months < 0 ? 0 : months;
    //  A twelfth of days * hours * 60 is days * hours * 5: whole minutes,
    //  so a pro-rated allocation and a monthly accrual are exact.
    led->alloc = (int64_t) b->allocated * led->day;
    if (b->accrual == PM__STAFFING__LEAVE_ACCRUAL__ACCRUAL_MONTHLY) {
        led->monthly = b->allocated * b->hours_per_day * 5;
    }
    else if (t->pro_rate_yearly && months < 12) {
        led->alloc = (int64_t) b->allocated * b->hours_per_day * 5 * months;
        b->has_prorated_months = 1;
        b->prorated_months = (uint32_t) months;
    }
    b->allocated_minutes = (uint32_t) led->alloc;
    led->cap = (int64_t) t->carry_over_days * led->day;
    led->carried = carried;
    b->carried_in_minutes = (uint32_t) carried;
    if (carried && t->carry_over_expiry_months) {
        //  The last day of the expiry month.
        char next[STF_DATE_LEN];
        uint32_t m = t->carry_over_expiry_months;
        snprintf (next, sizeof next, "%04u-%02u-01", m == 12 ? year + 1 : year,
                  m == 12 ? 1 : m + 1);
        stf_date_add (next, -1, led->until);
        b->carried_until = led->until;
    }
    //  The book is by date: this year's uses lie together.
    size_t i = 0;
    while (i < book->n && (uint32_t) atoi (book->uses[i].date) < year) {
        i++;
    }
    led->uses = book->uses + i;
    while (i < book->n && (uint32_t) atoi (book->uses[i].date) == year) {
        i++;
        led->n++;
    }
    int64_t early = 0; //  taken or asked by `until`
    for (size_t j = 0; j < led->n; j++) {
        const s_use_t *u = &led->uses[j];
        if (!s_counts (led, u)) {
            continue;
        }
        if (!u->partial) {
            *(u->approved ? &b->approved : &b->requested) += u->days;
        }
        *(u->approved ? &b->approved_minutes : &b->requested_minutes) += u->minutes;
        if (led->until[0] && strcmp (u->date, led->until) <= 0) {
            early += u->minutes;
        }
    }
    //  Leave uses carried time first: what starts before it expires takes
    //  it before the year's own allocation.
    led->carried_used = led->until[0] ? (early < carried ? early : carried)
                                      : (s_used (led) < carried ? s_used (led) : carried);
    b->carried_used_minutes = (uint32_t) led->carried_used;
    if (carried) {
        char amount[64];
        snprintf (led->carried_text, sizeof led->carried_text, "%s carried over from %u",
                  s_amount (carried, led->day, amount, sizeof amount), year - 1);
    }
    return PM_OK;
}

//  Completes balance `led` as of `as_of`: what expired by then, what is
//  left.
static void
s_ledger_as_of (s_ledger_t *led, const char *as_of)
{
    Pm__Staffing__Balance *b = &led->b;
    int64_t credit = s_credit (led, as_of);
    b->carried_expired_minutes = (uint32_t) (led->carried - credit);
    int64_t left = led->alloc + credit - s_used (led);
    b->remaining_minutes = (int32_t) left;
    //  Whole days, rounded down (also below zero).
    b->remaining = (int32_t) (left >= 0 ? left / led->day
                                        : -((-left + led->day - 1) / led->day));
}

//  What `s` carries into `year` of type `t`: each year from the one
//  they started in leaves its unused time, at most the cap, to the next.
static pm_err
s_carried_into (pm_ctx_t *ctx, const stf_staff_t *s, const ltype_t *t,
                const s_book_t *book, uint32_t year, int64_t *carried)
{
    *carried = 0;
    if (!t->carry_over_days || !s->start_date) {
        return PM_OK;
    }
    pm_err rc = PM_OK;
    for (uint32_t z = (uint32_t) atoi (s->start_date); rc == PM_OK && z < year; z++) {
        s_ledger_t led;
        rc = s_ledger (ctx, s, t, book, z, *carried, true, &led);
        *carried = s_carry_out (&led);
    }
    return rc;
}

//  What has accrued by local date `date` (the year's allocation when it
//  accrues yearly): a twelfth a month of the months they work.
static int64_t
s_accrued (const s_ledger_t *led, const char *date)
{
    if (!led->monthly) {
        return led->alloc;
    }
    int year = atoi (date);
    int month = year < (int) led->b.year ? 0 : year > (int) led->b.year ? 12
                                                                         : atoi (date + 5);
    month = month < led->last_month ? month : led->last_month;
    int months = month - led->first_month + 1;
    return months > 0 ? (int64_t) months * led->monthly : 0;
}

//  The most new leave starting on `from` may use: the least, over `from`
//  and every later start of their leave, of what has accrued by then less
//  what is taken or asked by then, plus the carried time it may use.
//  *at is the leave whose start binds (NULL: `from` itself).
static int64_t
s_available (const s_ledger_t *led, const char *from, const s_use_t **at)
{
    *at = NULL;
    int64_t least = s_accrued (led, from) - s_used_by (led, from);
    for (size_t i = 0; i < led->n; i++) {
        const s_use_t *u = &led->uses[i];
        if (s_counts (led, u) && strcmp (u->date, from) > 0) {
            int64_t left = s_accrued (led, u->date) - s_used_by (led, u->date);
            if (left < least) {
                least = left;
                *at = u;
            }
        }
    }
    return least + s_credit (led, from);
}

//  How far the year's leave is from overdrawing it (below zero: that
//  short): the year's total, and at each start what has accrued less what
//  is taken or asked by then.
static int64_t
s_slack (const s_ledger_t *led)
{
    int64_t least = led->alloc + s_credit (led, "9999-12-31") - s_used (led);
    for (size_t i = 0; i < led->n; i++) {
        const s_use_t *u = &led->uses[i];
        int64_t left = s_accrued (led, u->date) + s_credit (led, u->date)
                       - s_used_by (led, u->date);
        if (s_counts (led, u) && left < least) {
            least = left;
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
    s_book_t book = {0};
    int64_t carried = 0;
    if (rc == PM_OK) {
        rc = s_book_load (ctx, s, t, q->year, q->year, &book);
        s_book_sort (&book);
    }
    if (rc == PM_OK) {
        rc = s_carried_into (ctx, s, t, &book, q->year, &carried);
    }
    s_ledger_t led;
    if (rc == PM_OK) {
        rc = s_ledger (ctx, s, t, &book, q->year, carried, false, &led);
    }
    if (rc == PM_OK) {
        const s_use_t *at;
        Pm__Staffing__Balance *b = &led.b;
        s_ledger_as_of (&led, as_of);
        b->staff_id = s->id;
        b->leave_type = t->id;
        b->as_of = as_of;
        b->has_accrued_minutes = b->has_available_minutes = 1;
        b->accrued_minutes = (uint32_t) s_accrued (&led, as_of);
        b->available_minutes = (int32_t) s_available (&led, as_of, &at);
        rc = pm_ctx_reply (ctx, &b->base);
    }
    s_book_free (&book);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__leave_type__free_unpacked (t, NULL);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  Refuses (ECONFLICT on leave_type) request `l` of type `t`, whose use
//  of year `led` (its other leave, the carry as it would be) is `mine`,
//  when that year cannot pay for it: its total, counting carried time
//  only while `mine` may use it, or, accruing monthly, what will have
//  accrued by its start (and by each later leave's start) after the
//  leave taken or asked by then.
static pm_err
s_check_year (pm_ctx_t *ctx, const ltype_t *t, const leave_t *l, const s_ledger_t *led,
              const s_use_t *mine)
{
    const Pm__Staffing__Balance *b = &led->b;
    char asks[160], amount[64], extra[320] = "";
    s_amount (mine->minutes, led->day, amount, sizeof amount);
    if (strcmp (l->start_date, mine->date) != 0 || strncmp (l->end_date, mine->date, 4)) {
        //  Leave across a year end: the part in this year.
        snprintf (asks, sizeof asks, "%s in %u (of %u day(s) from %s to %s)", amount,
                  b->year, l->days, l->start_date, l->end_date);
    }
    else {
        snprintf (asks, sizeof asks, "%s", amount);
    }
    if (b->has_prorated_months) {
        char part[64];
        snprintf (extra, sizeof extra, ", pro-rated for %u month(s) to %s",
                  b->prorated_months, s_amount (led->alloc, led->day, part, sizeof part));
    }
    if (led->carried) {
        size_t len = strlen (extra);
        snprintf (extra + len, sizeof extra - len, ", %s", led->carried_text);
        len = strlen (extra);
        if (led->until[0] && strcmp (mine->date, led->until) > 0) {
            char lost[64];
            snprintf (extra + len, sizeof extra - len,
                      " usable until %s: %s of it expired unused", led->until,
                      s_amount (led->carried - led->carried_used, led->day, lost,
                                sizeof lost));
        }
        else if (led->until[0]) {
            snprintf (extra + len, sizeof extra - len, " usable until %s", led->until);
        }
    }
    int64_t left = led->alloc + s_credit (led, mine->date) - s_used (led);
    if (left < (int64_t) mine->minutes) {
        char have[64], approved[64], requested[64];
        return pm_ctx_fail (ctx, PM_ECONFLICT, "leave_type",
                             "leave_type: %s of %s left in %u (%u day(s) allocated at %u "
                             "hour(s) a day%s, %s approved, %s requested); this asks %s",
                             s_amount (left, led->day, have, sizeof have), t->id, b->year,
                             b->allocated, b->hours_per_day, extra,
                             s_amount (b->approved_minutes, led->day, approved,
                                       sizeof approved),
                             s_amount (b->requested_minutes, led->day, requested,
                                       sizeof requested),
                             asks);
    }
    const s_use_t *at;
    if (led->monthly && s_available (led, mine->date, &at) < (int64_t) mine->minutes) {
        const char *date = at ? at->date : mine->date;
        char accrued[64], used[64], each[64], when[80] = "", with[200] = "";
        if (at) {
            snprintf (when, sizeof when, " (their leave %s starts that day)", at->id);
        }
        if (s_credit (led, mine->date)) {
            snprintf (with, sizeof with, ", with %s", led->carried_text);
        }
        int first = led->first_month;
        return pm_ctx_fail (ctx, PM_ECONFLICT, "leave_type",
                             "leave_type: %s of %s will have accrued by %s (%s a month from "
                             "%04u-%02d)%s; %s is taken or asked by then%s, and this asks %s",
                             s_amount (s_accrued (led, date), led->day, accrued,
                                       sizeof accrued),
                             t->id, date, s_amount (led->monthly, led->day, each, sizeof each),
                             b->year, first > 12 ? 12 : first, with,
                             s_amount (s_used_by (led, date), led->day, used, sizeof used),
                             when, asks);
    }
    return PM_OK;
}

//  The use of the request being checked in year `led`, or NULL.
static const s_use_t *
s_mine (const s_ledger_t *led)
{
    for (size_t i = 0; i < led->n; i++) {
        if (led->uses[i].mine) {
            return &led->uses[i];
        }
    }
    return NULL;
}

//  Refuses (ECONFLICT on leave_type) leave `l` of type `t` that a year
//  it falls in cannot pay for (s_check_year), or that would carry less
//  into a later year than the leave taken or asked there needs. Requests
//  count as taken from the moment they are made, so two cannot both
//  spend the last of a balance.
static pm_err
s_check_balance (pm_ctx_t *ctx, const stf_staff_t *s, const ltype_t *t, const leave_t *l)
{
    uint32_t first = (uint32_t) atoi (l->start_date), last = (uint32_t) atoi (l->end_date);
    s_book_t book;
    pm_err rc = s_book_load (ctx, s, t, first, last, &book);
    s_book_add (&book, l, s_hours_per_day (t) * 60, true);
    s_book_sort (&book);
    uint32_t until = (uint32_t) atoi (book.uses[book.n - 1].date); //  the last year used
    //  The carry into each year with the request and without it.
    int64_t with = 0, without = 0;
    if (rc == PM_OK) {
        rc = s_carried_into (ctx, s, t, &book, first, &with);
        without = with;
    }
    for (uint32_t z = first; rc == PM_OK; z++) {
        //  The year with the request, without it, and its other leave
        //  with the carry the request leaves it (what it is asked to pay
        //  the request's part in it from).
        s_ledger_t mine_in, before, rest;
        rc = s_ledger (ctx, s, t, &book, z, with, true, &mine_in);
        if (rc == PM_OK) {
            rc = s_ledger (ctx, s, t, &book, z, without, false, &before);
        }
        if (rc == PM_OK) {
            rc = s_ledger (ctx, s, t, &book, z, with, false, &rest);
        }
        const s_use_t *mine = rc == PM_OK ? s_mine (&mine_in) : NULL;
        if (rc == PM_OK && mine) {
            rc = s_check_year (ctx, t, l, &rest, mine);
        }
        else if (rc == PM_OK) {
            //  A later year gets less carried in: refused when that
            //  overdraws it (or overdraws it further).
            int64_t short_by = s_slack (&mine_in);
            if (short_by < 0 && short_by < s_slack (&before)) {
                char less[64], gap[64];
                rc = pm_ctx_fail (ctx, PM_ECONFLICT, "leave_type",
                                   "leave_type: it would carry %s less of %s into %u, where "
                                   "the leave taken or asked would then be %s short",
                                   s_amount (without - with, mine_in.day, less, sizeof less),
                                   t->id, z,
                                   s_amount (-short_by, mine_in.day, gap, sizeof gap));
            }
        }
        with = s_carry_out (&mine_in);
        without = s_carry_out (&before);
        if (z >= last && (with == without || z >= until)) {
            break;
        }
    }
    s_book_free (&book);
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
    //  Across one year end at most: each year pays for its part.
    if (atoi (req->end_date) > atoi (req->start_date) + 1) {
        return pm_ctx_fail (ctx, PM_EINVAL, "end_date",
                             "end_date: leave ends in the year it starts or the next (%s "
                             "to %s crosses more than one year end)", req->start_date,
                             req->end_date);
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
//  type being `day` minutes; whole days across a year end also each
//  year's days, into `years` (two, which `l` then points to). Partial
//  leave must fall on a day the site opens and be a real stretch of
//  local time.
static pm_err
s_extent (pm_ctx_t *ctx, const Pm__Staffing__Site *site, uint32_t day, leave_t *l,
          Pm__Staffing__LeaveYearDays **years)
{
    l->has_days = l->has_start = l->has_end = l->has_minutes = 1;
    if (!s_partial (l)) {
        char after[STF_DATE_LEN];
        stf_date_add (l->end_date, 1, after);
        stf_tz_instant (site->time_zone, l->start_date, 0, &l->start);
        stf_tz_instant (site->time_zone, after, 0, &l->end);
        l->days = s_working_days (site, l->start_date, l->end_date);
        l->minutes = l->days * day;
        if (strncmp (l->start_date, l->end_date, 4) != 0) {
            char dec31[STF_DATE_LEN];
            snprintf (dec31, sizeof dec31, "%.4s-12-31", l->start_date);
            years[0]->has_year = years[0]->has_days = 1;
            years[0]->year = (uint32_t) atoi (l->start_date);
            years[0]->days = s_working_days (site, l->start_date, dec31);
            years[1]->has_year = years[1]->has_days = 1;
            years[1]->year = years[0]->year + 1;
            years[1]->days = l->days - years[0]->days;
            l->n_year_days = 2;
            l->year_days = years;
        }
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
    Pm__Staffing__LeaveYearDays parts[2] = {PM__STAFFING__LEAVE_YEAR_DAYS__INIT,
                                            PM__STAFFING__LEAVE_YEAR_DAYS__INIT};
    Pm__Staffing__LeaveYearDays *years[2] = {&parts[0], &parts[1]};
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
        rc = s_extent (ctx, site, s_hours_per_day (t) * 60, &l, years);
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
