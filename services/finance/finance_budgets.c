/*  finance_budgets.c: finance.SetBudget / GetBudget (a site's plan for a
    month by category) and finance.BudgetReport (budget against actuals,
    variance and variance %), with the projections the actuals come from.

    Payroll follows staffing's stream: staffing.staff.onboarded / updated
    keep each staff member's hourly rate and, per change, the rate from
    the event's time on ('R' staff 0 be64 effective_from; staffing's Staff
    has no effective date); staffing.shift.assigned prices the shift at
    the rate in force at its start (hours x rate, rounded half up once
    per shift) under the month of its local start date (Shift.date, which
    staffing computes in the site's zone) and lists it under its staff
    member by start ('S' staff 0 be64 start shift 0); a rate change
    re-prices, in the transaction that applies it, that person's shifts
    that start at or after it; staffing.shift.unassigned takes the cost
    away. A re-delivered event writes the same record again, so
    each shift counts once; the cursor moves in the same transaction.
    Recruitment: recruitment.cost.recorded (advertising, agency fees, ...)
    is the recruitment actual, under the month of its local date, keyed by
    cost id so a re-delivery replaces rather than adds; costs in another
    currency than the site's are left out. recruitment.candidate.hired is
    counted once per candidate under the month of the start date.
    These are projections: when a stream is replaced, its part is dropped
    and rebuilt from seq 1 (the reset callbacks). The report's revenue
    lines read the site's month only: invoices by issue time over the
    month's local span (FIN_IX_ISSUED), payments by the day they are
    booked on (FIN_IX_BOOKED).                                          */
#include <stdlib.h>
#include <string.h>

#include "finance_budgets.h"
#include "finance_invoices.h"
#include "finance_payments.h"
#include "finance_sites.h"
#include "finance_tz.h"
#include "pm_id.h"
#include "recruitment.pb-c.h"
#include "staffing.pb-c.h"

typedef Pm__Finance__Budget budget_t;

#define CATEGORIES 5
#define MONTH_LEN 8            //  "YYYY-MM" and its NUL

//  Category names for messages, by enum value.
static const char *s_category_names[CATEGORIES + 1] = {
    "", "payroll", "recruitment", "supplies", "rent", "other"};

//  --------------------------------------------------------------------------
//  Hours x rate, rounded half up, without overflow for any sane shift.
int64_t
fin_shift_cost (int64_t duration_ms, int64_t rate_minor)
{
    if (duration_ms <= 0 || rate_minor <= 0) {
        return 0;
    }
    __int128 num = (__int128) duration_ms * rate_minor;
    return (int64_t) ((num + 1800000) / 3600000);
}

//  variance / budget in basis points, rounded half away from zero.
static int64_t
s_bp (int64_t variance, int64_t budget)
{
    __int128 num = (__int128) variance * 10000;
    __int128 q = num / budget, r = num % budget;
    if (r < 0) {
        r = -r;
    }
    if (2 * r >= budget) {
        q += num < 0 ? -1 : 1;
    }
    return (int64_t) q;
}

static void
s_budget_key (pm_key_t *k, const char *site, const char *month)
{
    pm_key_init (k, 0);
    pm_key_str (k, site);
    pm_key_str (k, month);
}

//  Site and month of a request: a valid month, a site of the caller's
//  with finance settings.
static pm_err
s_site_month (pm_ctx_t *ctx, const char *site_id, const char *month,
              Pm__Finance__SiteFinance **site)
{
    pm_err rc = fin_site (ctx, site_id, "site_id", site);
    if (rc == PM_OK && !fin_month_valid (month)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "month", "month: YYYY-MM is required");
    }
    return rc;
}

//  The budget of a site's month, or NULL (caller frees).
static pm_err
s_budget_get (MDB_txn *txn, const char *site, const char *month, budget_t **out)
{
    pm_key_t k;
    s_budget_key (&k, site, month);
    *out = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.budgets, k.b, k.len,
                                  &pm__finance__budget__descriptor,
                                  (ProtobufCMessage **) out);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  finance.SetBudget: the whole month's plan, versioned.
static pm_err
s_set_budget (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__SetBudget *req = (const Pm__Finance__SetBudget *) body;
    Pm__Finance__SiteFinance *site = NULL;
    budget_t *old = NULL;
    int64_t amounts[CATEGORIES + 1] = {0};
    bool seen[CATEGORIES + 1] = {false};
    pm_err rc = s_site_month (ctx, req->site_id, req->month, &site);
    if (rc == PM_OK && req->n_lines > CATEGORIES) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "lines", "lines: at most one per category (%d)",
                          CATEGORIES);
    }
    for (size_t i = 0; rc == PM_OK && i < req->n_lines; i++) {
        const Pm__Finance__BudgetLine *l = req->lines[i];
        char field[48];
        snprintf (field, sizeof field, "lines[%zu].category", i);
        if (!l->has_category || l->category < 1 || l->category > CATEGORIES) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: PAYROLL, RECRUITMENT, SUPPLIES, "
                              "RENT or OTHER", field);
        }
        else if (seen[l->category]) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s is given twice", field,
                              s_category_names[l->category]);
        }
        else {
            snprintf (field, sizeof field, "lines[%zu].amount_minor", i);
            rc = fin_money (ctx, field, l->has_amount_minor, l->amount_minor, true);
            seen[l->category] = true;
            amounts[l->category] = l->amount_minor;
        }
    }
    if (rc == PM_OK) {
        rc = s_budget_get (pm_ctx_txn (ctx), req->site_id, req->month, &old);
    }
    if (rc == PM_OK && old) {
        char id[100];
        snprintf (id, sizeof id, "the budget of %s for %s", req->site_id, req->month);
        rc = fin_check_version (ctx, id, old->version, req->has_expected_version,
                                req->expected_version, true);
    }
    else if (rc == PM_OK && req->has_expected_version && req->expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version", "site %s has no budget "
                          "for %s yet", req->site_id, req->month);
    }
    if (rc == PM_OK) {
        Pm__Finance__BudgetLine lines[CATEGORIES], *lp[CATEGORIES];
        budget_t b = PM__FINANCE__BUDGET__INIT;
        b.site_id = req->site_id;
        b.month = req->month;
        b.currency = site->currency;
        b.has_version = b.has_total_minor = b.has_updated_at = 1;
        b.version = old ? old->version + 1 : 1;
        b.updated_by = (char *) pm_ctx_principal (ctx)->name;
        b.updated_at = pm_ctx_now (ctx);
        for (int c = 1; c <= CATEGORIES; c++) {
            pm__finance__budget_line__init (&lines[c - 1]);
            lines[c - 1].has_category = lines[c - 1].has_amount_minor = 1;
            lines[c - 1].category = (Pm__Finance__BudgetCategory) c;
            lines[c - 1].amount_minor = amounts[c];
            lp[c - 1] = &lines[c - 1];
            b.total_minor += amounts[c];
        }
        b.n_lines = CATEGORIES;
        b.lines = lp;
        pm_key_t k;
        s_budget_key (&k, b.site_id, b.month);
        rc = pm_store_put_msg (pm_ctx_txn (ctx), fin_db.budgets, k.b, k.len, &b.base, 0);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.budget.set", b.site_id, b.month, &b.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &b.base);
        }
    }
    pm__finance__budget__free_unpacked (old, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  finance.GetBudget.
static pm_err
s_get_budget (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetBudget *req = (const Pm__Finance__GetBudget *) body;
    Pm__Finance__SiteFinance *site = NULL;
    budget_t *b = NULL;
    pm_err rc = s_site_month (ctx, req->site_id, req->month, &site);
    if (rc == PM_OK) {
        rc = s_budget_get (pm_ctx_txn (ctx), req->site_id, req->month, &b);
    }
    if (rc == PM_OK && !b) {
        rc = pm_ctx_fail (ctx, PM_ENOTFOUND, "month", "month: site %s has no budget for %s",
                          req->site_id, req->month);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &b->base);
    }
    pm__finance__budget__free_unpacked (b, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --- the report ---------------------------------------------------------------

typedef struct {
    MDB_txn *txn;
    const Pm__Finance__SiteFinance *site;
    const char *month;
    int64_t payroll, minutes, invoiced, received, recruitment;
    uint32_t shifts, unpriced, hires, costs;
} s_actuals_t;

//  One recruitment cost of the site in the month (site currency only).
static int
s_cost_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_actuals_t *a = arg;
    Pm__Recruitment__RecruitmentCost *c = pm__recruitment__recruitment_cost__unpack (
        NULL, val->mv_size, val->mv_data);
    if (!c) {
        return PM_EINTERNAL;
    }
    if (c->currency && a->site->currency && strcmp (c->currency, a->site->currency) == 0) {
        a->recruitment += c->amount_minor;
        a->costs++;
    }
    pm__recruitment__recruitment_cost__free_unpacked (c, NULL);
    return 0;
}

//  One shift of the month: priced in the site's currency, or unpriced.
static int
s_shift_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) val;
    s_actuals_t *a = arg;
    //  The key ends in the shift id and its NUL: load its cost record.
    const char *kb = key->mv_data;
    size_t end = key->mv_size - 1, start = end;
    while (start > 0 && kb[start - 1]) {
        start--;
    }
    pm_key_t k;
    pm_key_init (&k, 'h');
    memcpy (k.b + k.len, kb + start, end - start + 1);
    k.len += end - start + 1;
    Pm__Finance__ShiftCost *s = NULL;
    pm_err rc = pm_store_get_msg (a->txn, fin_db.actuals, k.b, k.len,
                                  &pm__finance__shift_cost__descriptor,
                                  (ProtobufCMessage **) &s);
    if (rc != PM_OK) {
        return rc == PM_ENOTFOUND ? 0 : (int) rc;
    }
    a->minutes += (s->end - s->start) / 60000;
    if (s->pay_rate_minor > 0 && s->currency
        && strcmp (s->currency, a->site->currency) == 0) {
        a->payroll += s->cost_minor;
        a->shifts++;
    }
    else {
        a->unpriced++;
    }
    pm__finance__shift_cost__free_unpacked (s, NULL);
    return 0;
}

//  One hire of the month.
static int
s_hire_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    (void) val;
    ((s_actuals_t *) arg)->hires++;
    return 0;
}

//  An invoice of the site issued in the month (issued or balanced). The
//  walk is by UTC issue time over the month's local span, which may be a
//  little wide: the local date decides.
static int
s_invoice_each (const Pm__Finance__Invoice *inv, void *arg)
{
    s_actuals_t *a = arg;
    if (inv->site_id && strcmp (inv->site_id, a->site->site_id) == 0
        && (inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED
            || inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_BALANCED)) {
        char date[FIN_DATE_LEN];
        fin_local_date (a->site, inv->issued_at, date);
        if (strncmp (date, a->month, 7) == 0) {
            a->invoiced += inv->total_minor;
        }
    }
    return 0;
}

//  A payment (or refund payout) of the site booked on a day of the month,
//  less what was reversed on a day of it (as the day book has them).
static int
s_payment_each (const Pm__Finance__Payment *p, const char *date, void *arg)
{
    s_actuals_t *a = arg;
    if (!p->site_id || strcmp (p->site_id, a->site->site_id) != 0
        || strncmp (date, a->month, 7) != 0) {
        return 0;
    }
    if (p->business_date && strcmp (p->business_date, date) == 0) {
        a->received += p->amount_minor;
    }
    if (p->reversal_date && strcmp (p->reversal_date, date) == 0) {
        a->received -= p->amount_minor;
    }
    return 0;
}

//  Sets a category line's variance from its budget and actual.
static void
s_variance (Pm__Finance__CategoryActual *c)
{
    c->has_variance_minor = 1;
    c->variance_minor = c->actual_minor - c->budget_minor;
    if (c->budget_minor > 0) {
        c->has_variance_bp = 1;
        c->variance_bp = s_bp (c->variance_minor, c->budget_minor);
    }
}

//  finance.BudgetReport: budget against actuals for one site month.
static pm_err
s_report (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__BudgetReport *req = (const Pm__Finance__BudgetReport *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Finance__SiteFinance *site = NULL;
    budget_t *b = NULL;
    pm_err rc = s_site_month (ctx, req->site_id, req->month, &site);
    if (rc == PM_OK) {
        rc = s_budget_get (txn, req->site_id, req->month, &b);
    }
    s_actuals_t a = {txn, site, req->month, 0, 0, 0, 0, 0, 0, 0};
    pm_key_t prefix;
    if (rc == PM_OK) {
        pm_key_init (&prefix, 'm');
        pm_key_str (&prefix, req->site_id);
        pm_key_str (&prefix, req->month);
        rc = pm_key_scan (txn, fin_db.actuals, prefix.b, prefix.len, NULL, s_shift_each, &a);
    }
    if (rc == PM_OK) {
        prefix.b[0] = 'n';
        rc = pm_key_scan (txn, fin_db.actuals, prefix.b, prefix.len, NULL, s_hire_each, &a);
    }
    if (rc == PM_OK) {
        prefix.b[0] = 'K';
        rc = pm_key_scan (txn, fin_db.actuals, prefix.b, prefix.len, NULL, s_cost_each, &a);
    }
    //  Revenue: the site's own month only, by index (issue time; booked day).
    if (rc == PM_OK) {
        int64_t from, to;
        fin_local_month (site, req->month, &from, &to);
        rc = fin_invoices_issued (txn, req->site_id, from, to, s_invoice_each, &a);
    }
    if (rc == PM_OK) {
        rc = fin_payments_booked (txn, req->site_id, req->month, s_payment_each, &a);
    }
    if (rc == PM_OK) {
        Pm__Finance__BudgetVsActual r = PM__FINANCE__BUDGET_VS_ACTUAL__INIT;
        Pm__Finance__CategoryActual cats[CATEGORIES], *cp[CATEGORIES];
        r.site_id = req->site_id;
        r.month = req->month;
        r.currency = site->currency;
        r.has_budget_version = r.has_budget_total_minor = r.has_actual_total_minor = 1;
        r.has_variance_total_minor = r.has_payroll_minutes = r.has_unpriced_shifts = 1;
        r.has_hires = r.has_revenue_invoiced_minor = r.has_revenue_received_minor = 1;
        r.budget_version = b ? b->version : 0;
        for (int c = 1; c <= CATEGORIES; c++) {
            Pm__Finance__CategoryActual *ca = &cats[c - 1];
            pm__finance__category_actual__init (ca);
            ca->has_category = ca->has_budget_minor = ca->has_actual_minor = 1;
            ca->has_has_actual = 1;
            ca->category = (Pm__Finance__BudgetCategory) c;
            for (size_t i = 0; b && i < b->n_lines; i++) {
                if ((int) b->lines[i]->category == c) {
                    ca->budget_minor = b->lines[i]->amount_minor;
                }
            }
            if (c == PM__FINANCE__BUDGET_CATEGORY__PAYROLL) {
                ca->has_actual = 1;
                ca->actual_minor = a.payroll;
                ca->has_count = 1;
                ca->count = a.shifts;
            }
            else if (c == PM__FINANCE__BUDGET_CATEGORY__RECRUITMENT) {
                ca->has_actual = 1;
                ca->actual_minor = a.recruitment;
                ca->has_count = 1;
                ca->count = a.hires;
            }
            s_variance (ca);
            r.budget_total_minor += ca->budget_minor;
            r.actual_total_minor += ca->actual_minor;
            cp[c - 1] = ca;
        }
        r.n_categories = CATEGORIES;
        r.categories = cp;
        r.variance_total_minor = r.actual_total_minor - r.budget_total_minor;
        if (r.budget_total_minor > 0) {
            r.has_variance_total_bp = 1;
            r.variance_total_bp = s_bp (r.variance_total_minor, r.budget_total_minor);
        }
        r.payroll_minutes = a.minutes;
        r.unpriced_shifts = a.unpriced;
        r.hires = a.hires;
        r.revenue_invoiced_minor = a.invoiced;
        r.revenue_received_minor = a.received;
        rc = pm_ctx_reply (ctx, &r.base);
    }
    pm__finance__budget__free_unpacked (b, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --- projections -----------------------------------------------------------------

//  Deletes every actuals entry whose key starts with `tag`.
static pm_err
s_drop (MDB_txn *txn, char tag)
{
    return pm_key_drop (txn, fin_db.actuals, &tag, 1);
}

//  A key of the actuals: tag, then up to three parts (NULL: none).
static void
s_akey (pm_key_t *k, char tag, const char *a, const char *b, const char *c)
{
    pm_key_init (k, tag);
    pm_key_str (k, a);
    if (b) {
        pm_key_str (k, b);
    }
    if (c) {
        pm_key_str (k, c);
    }
}

//  Deletes a key; an absent one is fine.
static pm_err
s_del (MDB_txn *txn, const pm_key_t *k)
{
    pm_err rc = pm_store_del (txn, fin_db.actuals, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  'S' staff 0 be64 start shift 0: a staff member's shifts by start.
static void
s_staff_shift_key (pm_key_t *k, const char *staff, int64_t start, const char *shift)
{
    pm_key_init (k, 'S');
    pm_key_str (k, staff);
    pm_key_u64 (k, (uint64_t) (start > 0 ? start : 0));
    if (shift) {
        pm_key_str (k, shift);
    }
}

//  'R' staff 0 be64 effective_from: a staff member's rates over time.
static void
s_rate_key (pm_key_t *k, const char *staff, int64_t at)
{
    pm_key_init (k, 'R');
    pm_key_str (k, staff);
    if (at >= 0) {
        pm_key_u64 (k, (uint64_t) at);
    }
}

//  The rate of `staff` in force at instant `at` (caller frees; NULL when
//  finance knows none): the last change at or before it, or else the
//  first rate known (no earlier one is). With `next`, the instant of the
//  change after `at` (INT64_MAX: none).
static pm_err
s_rate_at (MDB_txn *txn, const char *staff, int64_t at, Pm__Finance__StaffRate **out,
           int64_t *next)
{
    *out = NULL;
    pm_key_t prefix, k;
    s_rate_key (&prefix, staff, -1);
    s_rate_key (&k, staff, at < INT64_MAX && at >= 0 ? at + 1 : 0);
    MDB_cursor *cur;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, fin_db.actuals, &cur));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = {k.len, k.b}, val = {0, NULL};
    //  The first entry after `at`: the change after; the one before it is
    //  the rate in force (none after: the last entry).
    int mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    bool after = mrc == 0 && key.mv_size == prefix.len + 8
                 && memcmp (key.mv_data, prefix.b, prefix.len) == 0;
    if (next) {
        *next = after ? (int64_t) pm_be64_get ((const uint8_t *) key.mv_data + prefix.len)
                      : INT64_MAX;
    }
    MDB_val first = val;
    mrc = mrc == 0 ? mdb_cursor_get (cur, &key, &val, MDB_PREV)
                   : mrc == MDB_NOTFOUND ? mdb_cursor_get (cur, &key, &val, MDB_LAST) : mrc;
    bool in_force = mrc == 0 && key.mv_size == prefix.len + 8
                    && memcmp (key.mv_data, prefix.b, prefix.len) == 0;
    if (!in_force && after) {
        val = first; //  before every change known: the first rate
    }
    if (in_force || after) {
        *out = pm__finance__staff_rate__unpack (NULL, val.mv_size, val.mv_data);
        rc = *out ? PM_OK : PM_EINTERNAL;
    }
    else if (mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = pm_err_from_mdb (mrc);
    }
    mdb_cursor_close (cur);
    return rc;
}

typedef struct {
    char (*ids)[PM_ID_MAX];
    size_t n, max;
    size_t time_at;           //  where the start time is in an 'S' key
    int64_t until;
} s_shift_ids_t;

//  Copies the shift id of each 'S' entry before `until` (the shift costs
//  are written after the scan, in the same sub-database).
static int
s_collect_shift (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) val;
    s_shift_ids_t *s = arg;
    const char *kb = key->mv_data;
    if (key->mv_size <= s->time_at + 8
        || pm_be64_get ((const uint8_t *) kb + s->time_at) >= (uint64_t) s->until) {
        return PM_SCAN_STOP;
    }
    if (s->n == s->max) {
        s->max = s->max ? 2 * s->max : 64;
        void *more = realloc (s->ids, s->max * sizeof *s->ids);
        if (!more) {
            return PM_EINTERNAL;
        }
        s->ids = more;
    }
    snprintf (s->ids[s->n++], PM_ID_MAX, "%.*s", (int) (key->mv_size - s->time_at - 9),
              kb + s->time_at + 8);
    return 0;
}

//  Prices again, at `rate`, the shifts of its staff member that start in
//  [rate->effective_from, until).
static pm_err
s_reprice (MDB_txn *txn, const Pm__Finance__StaffRate *rate, int64_t until)
{
    pm_key_t prefix, start;
    pm_key_init (&prefix, 'S');
    pm_key_str (&prefix, rate->staff_id);
    s_staff_shift_key (&start, rate->staff_id, rate->effective_from, NULL);
    s_shift_ids_t ids = {NULL, 0, 0, prefix.len, until};
    pm_err rc = pm_key_scan (txn, fin_db.actuals, prefix.b, prefix.len, &start,
                             s_collect_shift, &ids);
    for (size_t i = 0; rc == PM_OK && i < ids.n; i++) {
        pm_key_t k;
        s_akey (&k, 'h', ids.ids[i], NULL, NULL);
        Pm__Finance__ShiftCost *c = NULL;
        rc = pm_store_get_msg (txn, fin_db.actuals, k.b, k.len,
                               &pm__finance__shift_cost__descriptor,
                               (ProtobufCMessage **) &c);
        if (rc != PM_OK) {
            rc = rc == PM_ENOTFOUND ? PM_EINTERNAL : rc; //  'S' names costs kept
            break;
        }
        char *currency = c->currency;
        c->currency = rate->currency;
        c->pay_rate_minor = rate->pay_rate_minor;
        c->cost_minor = fin_shift_cost (c->end - c->start, rate->pay_rate_minor);
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &c->base, 0);
        c->currency = currency; //  the unpacked message owns its strings
        pm__finance__shift_cost__free_unpacked (c, NULL);
    }
    free (ids.ids);
    return rc;
}

//  Takes a shift's cost (and its month and staff entries) away, if it
//  has one.
static pm_err
s_shift_drop (MDB_txn *txn, const char *shift_id)
{
    pm_key_t k;
    s_akey (&k, 'h', shift_id, NULL, NULL);
    Pm__Finance__ShiftCost *old = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.actuals, k.b, k.len,
                                  &pm__finance__shift_cost__descriptor,
                                  (ProtobufCMessage **) &old);
    if (rc == PM_ENOTFOUND) {
        return PM_OK;
    }
    if (rc == PM_OK) {
        rc = s_del (txn, &k);
    }
    if (rc == PM_OK) {
        pm_key_t m;
        s_akey (&m, 'm', old->site_id, old->month, old->shift_id);
        rc = s_del (txn, &m);
    }
    if (rc == PM_OK && old->staff_id) {
        pm_key_t m;
        s_staff_shift_key (&m, old->staff_id, old->start, old->shift_id);
        rc = s_del (txn, &m);
    }
    pm__finance__shift_cost__free_unpacked (old, NULL);
    return rc;
}

//  staffing.staff.onboarded / updated -> the staff member's rate; a new
//  rate takes effect at the event's time and re-prices the shifts that
//  start from then on (until a later change, when the stream is replayed).
static pm_err
s_apply_staff (pm_ctx_t *ctx, const Pm__Event *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Staff *s = pm__staffing__staff__unpack (NULL, event->data.len,
                                                          event->data.data);
    if (!s || !pm_id_valid (s->id, "stf")) {
        pm__staffing__staff__free_unpacked (s, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a staffing.Staff");
    }
    Pm__Finance__StaffRate r = PM__FINANCE__STAFF_RATE__INIT;
    r.staff_id = s->id;
    r.has_pay_rate_minor = r.has_effective_from = 1;
    r.pay_rate_minor = s->has_pay_rate_minor && s->pay_rate_minor > 0
                           && s->pay_rate_minor <= FIN_MONEY_MAX ? s->pay_rate_minor : 0;
    r.currency = s->currency;
    //  Staffing's Staff has no effective date: the change is in force from
    //  when staffing made it (the event's time, the same on every replay).
    r.effective_from = event->has_time && event->time > 0 ? event->time : pm_ctx_now (ctx);
    pm_key_t k;
    s_akey (&k, 'r', s->id, NULL, NULL);
    Pm__Finance__StaffRate *old = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.actuals, k.b, k.len,
                                  &pm__finance__staff_rate__descriptor,
                                  (ProtobufCMessage **) &old);
    rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    bool same = old && old->pay_rate_minor == r.pay_rate_minor
                && strcmp (old->currency ? old->currency : "", r.currency ? r.currency : "")
                       == 0;
    if (rc == PM_OK && !same) {
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &r.base, 0);
    }
    if (rc == PM_OK && !same) {
        s_rate_key (&k, s->id, r.effective_from);
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &r.base, 0);
    }
    //  Only up to a later change already known (none, unless replayed
    //  out of order): its shifts keep that one's rate.
    Pm__Finance__StaffRate *in_force = NULL;
    int64_t until = INT64_MAX;
    if (rc == PM_OK && !same) {
        rc = s_rate_at (txn, s->id, r.effective_from, &in_force, &until);
    }
    if (rc == PM_OK && !same) {
        rc = s_reprice (txn, &r, until);
    }
    pm__finance__staff_rate__free_unpacked (in_force, NULL);
    pm__finance__staff_rate__free_unpacked (old, NULL);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  staffing.shift.assigned -> the shift's cost at the rate held now;
//  staffing.shift.unassigned -> none.
static pm_err
s_apply_shift (pm_ctx_t *ctx, const Pm__Event *event, bool assigned)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Shift *s = pm__staffing__shift__unpack (NULL, event->data.len,
                                                          event->data.data);
    pm_err rc = PM_OK;
    if (!s || !pm_id_valid (s->id, "shf")) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a staffing.Shift");
    }
    else if (assigned && (!fin_token_ok (s->site_id) || !fin_date_valid (s->date)
                          || !pm_id_valid (s->staff_id, "stf") || !s->has_start
                          || !s->has_end || s->end < s->start
                          //  Unsigned: end - start may not fit an int64.
                          || (uint64_t) s->end - (uint64_t) s->start > 7 * 86400000ULL)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "shift %s: no site, date, staff or "
                          "working hours", s->id);
    }
    if (rc == PM_OK) {
        rc = s_shift_drop (txn, s->id);
    }
    if (rc != PM_OK || !assigned) {
        pm__staffing__shift__free_unpacked (s, NULL);
        return rc;
    }
    pm_key_t k;
    Pm__Finance__StaffRate *rate = NULL;
    rc = s_rate_at (txn, s->staff_id, s->start, &rate, NULL);
    char month[MONTH_LEN];
    snprintf (month, sizeof month, "%.7s", s->date);
    Pm__Finance__ShiftCost c = PM__FINANCE__SHIFT_COST__INIT;
    c.shift_id = s->id;
    c.site_id = s->site_id;
    c.staff_id = s->staff_id;
    c.month = month;
    c.has_start = c.has_end = c.has_pay_rate_minor = c.has_cost_minor = 1;
    c.start = s->start;
    c.end = s->end;
    c.pay_rate_minor = rate ? rate->pay_rate_minor : 0;
    c.currency = rate ? rate->currency : NULL;
    c.cost_minor = fin_shift_cost (s->end - s->start, c.pay_rate_minor);
    if (rc == PM_OK) {
        s_akey (&k, 'h', s->id, NULL, NULL);
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &c.base, 0);
    }
    if (rc == PM_OK) {
        s_akey (&k, 'm', s->site_id, month, s->id);
        rc = pm_store_put (txn, fin_db.actuals, k.b, k.len, "", 0, 0);
    }
    if (rc == PM_OK) {
        s_staff_shift_key (&k, s->staff_id, s->start, s->id);
        rc = pm_store_put (txn, fin_db.actuals, k.b, k.len, "", 0, 0);
    }
    pm__finance__staff_rate__free_unpacked (rate, NULL);
    pm__staffing__shift__free_unpacked (s, NULL);
    return rc;
}

//  One event of staffing's stream.
static pm_err
s_apply_staffing (pm_ctx_t *ctx, const Pm__Event *event)
{
    const char *t = event->type ? event->type : "";
    if (!strcmp (t, "staffing.staff.onboarded") || !strcmp (t, "staffing.staff.updated")) {
        return s_apply_staff (ctx, event);
    }
    if (!strcmp (t, "staffing.shift.assigned")) {
        return s_apply_shift (ctx, event, true);
    }
    if (!strcmp (t, "staffing.shift.unassigned")) {
        return s_apply_shift (ctx, event, false);
    }
    if (!strncmp (t, "staffing.site.", 14)) {
        return fin_sites_apply_staffing (ctx, event);
    }
    return PM_OK;
}

//  Staffing's store was replaced: rates, shift costs and staffing's view
//  of the sites are rebuilt.
static pm_err
s_reset_staffing (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = s_drop (txn, 'r');
    if (rc == PM_OK) {
        rc = s_drop (txn, 'h');
    }
    if (rc == PM_OK) {
        rc = s_drop (txn, 'm');
    }
    if (rc == PM_OK) {
        rc = s_drop (txn, 'z');
    }
    if (rc == PM_OK) {
        rc = s_drop (txn, 'R');
    }
    if (rc == PM_OK) {
        rc = s_drop (txn, 'S');
    }
    return rc;
}

//  recruitment.cost.recorded -> the cost under its site and local month;
//  the same cost delivered again replaces its entry.
static pm_err
s_apply_cost (pm_ctx_t *ctx, const Pm__Event *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Recruitment__RecruitmentCost *c = pm__recruitment__recruitment_cost__unpack (
        NULL, event->data.len, event->data.data);
    if (!c || !pm_id_valid (c->id, "rcost") || !fin_token_ok (c->site_id)
        || !fin_date_valid (c->incurred_on) || c->amount_minor <= 0
        || c->amount_minor > FIN_MONEY_MAX || !c->currency) {
        pm__recruitment__recruitment_cost__free_unpacked (c, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a recruitment.RecruitmentCost "
                            "with an id, site, date, amount (1..10^13) and currency");
    }
    pm_key_t k, m;
    s_akey (&k, 'k', c->id, NULL, NULL);
    Pm__Recruitment__RecruitmentCost *old = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.actuals, k.b, k.len,
                                  &pm__recruitment__recruitment_cost__descriptor,
                                  (ProtobufCMessage **) &old);
    rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    char month[MONTH_LEN];
    if (rc == PM_OK && old) {
        snprintf (month, sizeof month, "%.7s", old->incurred_on);
        s_akey (&m, 'K', old->site_id, month, old->id);
        rc = s_del (txn, &m);
    }
    snprintf (month, sizeof month, "%.7s", c->incurred_on);
    s_akey (&m, 'K', c->site_id, month, c->id);
    if (rc == PM_OK) {
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &c->base, 0);
    }
    if (rc == PM_OK) {
        rc = pm_store_put_msg (txn, fin_db.actuals, m.b, m.len, &c->base, 0);
    }
    pm__recruitment__recruitment_cost__free_unpacked (old, NULL);
    pm__recruitment__recruitment_cost__free_unpacked (c, NULL);
    return rc;
}

//  recruitment.candidate.hired -> one hire in the month of the start date.
static pm_err
s_apply_recruitment (pm_ctx_t *ctx, const Pm__Event *event)
{
    if (event->type && strcmp (event->type, "recruitment.cost.recorded") == 0) {
        return s_apply_cost (ctx, event);
    }
    if (!event->type || strcmp (event->type, "recruitment.candidate.hired") != 0) {
        return PM_OK;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Recruitment__CandidateHired *h = pm__recruitment__candidate_hired__unpack (
        NULL, event->data.len, event->data.data);
    if (!h || !pm_id_valid (h->candidate_id, "cand") || !fin_token_ok (h->site_id)
        || !fin_date_valid (h->start_date)) {
        pm__recruitment__candidate_hired__free_unpacked (h, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a recruitment.CandidateHired "
                            "with a candidate, site and start date");
    }
    //  The candidate's earlier count (a re-delivery) moves to this one.
    pm_key_t k;
    s_akey (&k, 'c', h->candidate_id, NULL, NULL);
    Pm__Finance__HireCount *old = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.actuals, k.b, k.len,
                                  &pm__finance__hire_count__descriptor,
                                  (ProtobufCMessage **) &old);
    rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    if (rc == PM_OK && old) {
        pm_key_t n;
        s_akey (&n, 'n', old->site_id, old->month, old->candidate_id);
        rc = s_del (txn, &n);
    }
    char month[MONTH_LEN];
    snprintf (month, sizeof month, "%.7s", h->start_date);
    Pm__Finance__HireCount c = PM__FINANCE__HIRE_COUNT__INIT;
    c.candidate_id = h->candidate_id;
    c.site_id = h->site_id;
    c.month = month;
    if (rc == PM_OK) {
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &c.base, 0);
    }
    if (rc == PM_OK) {
        s_akey (&k, 'n', c.site_id, month, c.candidate_id);
        rc = pm_store_put (txn, fin_db.actuals, k.b, k.len, "", 0, 0);
    }
    pm__finance__hire_count__free_unpacked (old, NULL);
    pm__recruitment__candidate_hired__free_unpacked (h, NULL);
    return rc;
}

//  Recruitment's store was replaced: hires are counted again.
static pm_err
s_reset_recruitment (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    pm_err rc = s_drop (pm_ctx_txn (ctx), 'c');
    if (rc == PM_OK) {
        rc = s_drop (pm_ctx_txn (ctx), 'n');
    }
    if (rc == PM_OK) {
        rc = s_drop (pm_ctx_txn (ctx), 'k');
    }
    if (rc == PM_OK) {
        rc = s_drop (pm_ctx_txn (ctx), 'K');
    }
    return rc;
}

typedef struct {
    ProtobufCMessage **msgs;
    size_t n, max;
    const ProtobufCMessageDescriptor *desc;
} s_msgs_t;

//  Unpacks each value (written back after the scan).
static int
s_collect_msg (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_msgs_t *m = arg;
    if (m->n == m->max) {
        m->max = m->max ? 2 * m->max : 64;
        void *more = realloc (m->msgs, m->max * sizeof *m->msgs);
        if (!more) {
            return PM_EINTERNAL;
        }
        m->msgs = more;
    }
    m->msgs[m->n] = protobuf_c_message_unpack (m->desc, NULL, val->mv_size, val->mv_data);
    return m->msgs[m->n++] ? 0 : PM_EINTERNAL;
}

//  --------------------------------------------------------------------------
//  A store from before rate history: each known rate is in force from
//  the start, each priced shift is listed under its staff member.
pm_err
fin_budgets_migrate (MDB_txn *txn, void *arg, long *changed)
{
    (void) arg;
    s_msgs_t rates = {NULL, 0, 0, &pm__finance__staff_rate__descriptor};
    s_msgs_t shifts = {NULL, 0, 0, &pm__finance__shift_cost__descriptor};
    pm_err rc = pm_key_scan (txn, fin_db.actuals, "r", 1, NULL, s_collect_msg, &rates);
    if (rc == PM_OK) {
        rc = pm_key_scan (txn, fin_db.actuals, "h", 1, NULL, s_collect_msg, &shifts);
    }
    for (size_t i = 0; rc == PM_OK && i < rates.n; i++) {
        Pm__Finance__StaffRate *r = (Pm__Finance__StaffRate *) rates.msgs[i];
        r->has_effective_from = 1;
        r->effective_from = 0;
        pm_key_t k;
        s_rate_key (&k, r->staff_id, 0);
        rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &r->base, 0);
        (*changed)++;
    }
    for (size_t i = 0; rc == PM_OK && i < shifts.n; i++) {
        Pm__Finance__ShiftCost *c = (Pm__Finance__ShiftCost *) shifts.msgs[i];
        pm_key_t k;
        s_staff_shift_key (&k, c->staff_id, c->start, c->shift_id);
        rc = pm_store_put (txn, fin_db.actuals, k.b, k.len, "", 0, 0);
        (*changed)++;
    }
    for (size_t i = 0; i < rates.n; i++) {
        protobuf_c_message_free_unpacked (rates.msgs[i], NULL);
    }
    for (size_t i = 0; i < shifts.n; i++) {
        protobuf_c_message_free_unpacked (shifts.msgs[i], NULL);
    }
    free (rates.msgs);
    free (shifts.msgs);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_budgets_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.SetBudget", s_set_budget);
    pm_server_handle (server, "finance.GetBudget", s_get_budget);
    pm_server_handle (server, "finance.BudgetReport", s_report);
    pm_server_follow (server, "staffing", s_apply_staffing, s_reset_staffing);
    pm_server_follow (server, "recruitment", s_apply_recruitment, s_reset_recruitment);
}
