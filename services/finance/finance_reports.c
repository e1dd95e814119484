/*  finance_reports.c: finance.RevenueReport (what a site invoiced over a
    period, by practitioner, appointment type and month) and
    finance.AgingReport (what patients owe a site, by age, at a date).

    Both read finance's own invoices: revenue is the net of the lines of
    invoices issued in the period and still issued or balanced; the aging
    lists issued invoices with something due. Each walks an index of its
    own site only - issued invoices by issue time (FIN_IX_ISSUED, walked by
    fin_invoices_issued, which the budget report uses too) for the period,
    open ones (FIN_IX_OPEN) for the aging now - so a report reads what it
    reports, not the network's whole history (a store from before the
    indexes gets them at start, finance.c). The aging at a past date walks
    the site's invoices issued by the end of that day (FIN_IX_ISSUED) and
    takes what each had due then from its due history (finance_dues.c),
    never from today's amounts; only invoices that had something due are
    read.                                                                 */
#include <stdlib.h>
#include <string.h>

#include "finance_dues.h"
#include "finance_invoices.h"
#include "finance_reports.h"
#include "finance_tz.h"
#include "pm_id.h"

#define REVENUE_SPAN_MAX (366 * 86400000LL)
#define GROUPS_MAX 1000

//  Groups of one dimension, kept sorted by key.
typedef struct {
    Pm__Finance__RevenueGroup **groups;
    size_t n;
} s_groups_t;

typedef struct {
    MDB_txn *txn;
    const Pm__Finance__SiteFinance *site;
    int64_t from, to;
    int64_t total;
    uint32_t invoices;
    s_groups_t by_practitioner, by_type, by_month;
    pm_err rc;
} s_revenue_t;

//  Adds `amount` to the group of `key` (created in key order).
static void
s_add (s_groups_t *g, const char *key, int64_t amount)
{
    key = key ? key : "";
    size_t lo = 0, hi = g->n;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        int c = strcmp (g->groups[mid]->key, key);
        if (c == 0) {
            g->groups[mid]->amount_minor += amount;
            g->groups[mid]->lines++;
            return;
        }
        if (c < 0) {
            lo = mid + 1;
        }
        else {
            hi = mid;
        }
    }
    if (g->n >= GROUPS_MAX) {
        return; //  more groups than a reply shows; the total still counts
    }
    Pm__Finance__RevenueGroup *n = calloc (1, sizeof *n);
    pm__finance__revenue_group__init (n);
    n->key = strdup (key);
    n->has_amount_minor = n->has_lines = 1;
    n->amount_minor = amount;
    n->lines = 1;
    memmove (g->groups + lo + 1, g->groups + lo, (g->n - lo) * sizeof *g->groups);
    g->groups[lo] = n;
    g->n++;
}

static void
s_groups_free (s_groups_t *g)
{
    for (size_t i = 0; i < g->n; i++) {
        free (g->groups[i]->key);
        free (g->groups[i]);
    }
    free (g->groups);
}

//  One invoice of the site issued in the period: its lines go to the
//  groups when it counts.
static int
s_revenue_each (const Pm__Finance__Invoice *inv, void *arg)
{
    s_revenue_t *r = arg;
    if (inv->site_id && strcmp (inv->site_id, r->site->site_id) == 0
        && (inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED
            || inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_BALANCED)
        && inv->issued_at >= r->from && inv->issued_at < r->to) {
        char date[FIN_DATE_LEN], month[8];
        fin_local_date (r->site, inv->issued_at, date);
        snprintf (month, sizeof month, "%.7s", date);
        r->invoices++;
        for (size_t i = 0; i < inv->n_lines; i++) {
            const Pm__Finance__InvoiceLine *l = inv->lines[i];
            Pm__Finance__Charge *c = NULL;
            if (l->charge_id) {
                pm_store_get_msg (r->txn, fin_db.charges, l->charge_id,
                                  strlen (l->charge_id), &pm__finance__charge__descriptor,
                                  (ProtobufCMessage **) &c);
            }
            r->total += l->net_minor;
            s_add (&r->by_practitioner, c ? c->practitioner_id : NULL, l->net_minor);
            s_add (&r->by_type, l->code, l->net_minor);
            s_add (&r->by_month, month, l->net_minor);
            pm__finance__charge__free_unpacked (c, NULL);
        }
    }
    return 0;
}

//  finance.RevenueReport.
static pm_err
s_revenue (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__RevenueReport *req = (const Pm__Finance__RevenueReport *) body;
    Pm__Finance__SiteFinance *site = NULL;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK && (!req->has_from || req->from < 0)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "from", "from: an instant (ms UTC) is required");
    }
    if (rc == PM_OK
        && (!req->has_to || req->to <= req->from || req->to - req->from > REVENUE_SPAN_MAX)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to", "to: after from, at most 366 days on");
    }
    if (rc != PM_OK) {
        pm__finance__site_finance__free_unpacked (site, NULL);
        return rc;
    }
    s_revenue_t r;
    memset (&r, 0, sizeof r);
    r.txn = pm_ctx_txn (ctx);
    r.site = site;
    r.from = req->from;
    r.to = req->to;
    r.by_practitioner.groups = calloc (GROUPS_MAX, sizeof (void *));
    r.by_type.groups = calloc (GROUPS_MAX, sizeof (void *));
    r.by_month.groups = calloc (GROUPS_MAX, sizeof (void *));
    rc = fin_invoices_issued (r.txn, site->site_id, req->from, req->to, s_revenue_each, &r);
    if (rc == PM_OK) {
        Pm__Finance__RevenueResult out = PM__FINANCE__REVENUE_RESULT__INIT;
        out.site_id = site->site_id;
        out.currency = site->currency;
        out.has_from = out.has_to = out.has_total_minor = out.has_invoices = 1;
        out.from = req->from;
        out.to = req->to;
        out.total_minor = r.total;
        out.invoices = r.invoices;
        out.n_by_practitioner = r.by_practitioner.n;
        out.by_practitioner = r.by_practitioner.groups;
        out.n_by_type = r.by_type.n;
        out.by_type = r.by_type.groups;
        out.n_by_month = r.by_month.n;
        out.by_month = r.by_month.groups;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    s_groups_free (&r.by_practitioner);
    s_groups_free (&r.by_type);
    s_groups_free (&r.by_month);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --- aging --------------------------------------------------------------------

static const char *s_bucket_labels[4] = {"0-30", "31-60", "61-90", "90+"};

typedef struct {
    pm_ctx_t *ctx;
    const Pm__Finance__SiteFinance *site;
    const char *as_of;
    Pm__Finance__AgingBucket buckets[4];
    Pm__Finance__AgingItem **items;
    size_t n_items;
    int64_t total;
    int64_t as_at;            //  the instant the amounts stand at
    size_t prefix_len;        //  'D' site 0: where the issue time starts
} s_aging_t;

//  An invoice of the site with `due` owed at as_of: counted when issued on
//  or before as_of, in the bucket of its age.
static void
s_aging_add (s_aging_t *a, const Pm__Finance__Invoice *inv, int64_t due)
{
    char date[FIN_DATE_LEN];
    fin_local_date (a->site, inv->issued_at, date);
    int days = fin_date_diff (date, a->as_of);
    if (days < 0) {
        return;
    }
    int b = days <= 30 ? 0 : days <= 60 ? 1 : days <= 90 ? 2 : 3;
    a->buckets[b].due_minor += due;
    a->buckets[b].invoices++;
    a->total += due;
    if (a->n_items < FIN_LIST_MAX) {
        Pm__Finance__AgingItem *it = calloc (1, sizeof *it);
        pm__finance__aging_item__init (it);
        it->invoice_id = strdup (inv->id);
        it->number_text = strdup (inv->number_text ? inv->number_text : "");
        it->patient_id = strdup (inv->patient_id ? inv->patient_id : "");
        it->issued_date = strdup (date);
        it->bucket = (char *) s_bucket_labels[b];
        it->has_days = it->has_due_minor = 1;
        it->days = (uint32_t) days;
        it->due_minor = due;
        a->items[a->n_items++] = it;
        //  The report names a patient and what they owe.
        pm_ctx_audit (a->ctx, inv->patient_id, inv->site_id);
    }
}

//  One open invoice of the site (now): what it has due.
static int
s_aging_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_aging_t *a = arg;
    Pm__Finance__Invoice *inv;
    pm_err rc = fin_invoice_indexed (pm_ctx_txn (a->ctx), val, &inv);
    if (!inv) {
        return (int) rc; //  a stale entry is skipped
    }
    if (inv->site_id && strcmp (inv->site_id, a->site->site_id) == 0
        && inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED
        && inv->due_minor > 0) {
        s_aging_add (a, inv, inv->due_minor);
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    return 0;
}

//  One invoice of the site issued before the end of as_of (a past date):
//  what it had due then, from its due history; the record is read only
//  when something was due.
static int
s_aging_past_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_aging_t *a = arg;
    if (key->mv_size < a->prefix_len + 8
        || pm_be64_get ((const uint8_t *) key->mv_data + a->prefix_len)
               >= (uint64_t) a->as_at) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    int64_t due = 0;
    MDB_txn *txn = pm_ctx_txn (a->ctx);
    pm_err rc = fin_due_at (txn, a->site->site_id, id, a->as_at, &due);
    if (rc != PM_OK || due <= 0) {
        return (int) rc;
    }
    Pm__Finance__Invoice *inv;
    rc = fin_invoice_indexed (txn, val, &inv);
    if (inv) {
        s_aging_add (a, inv, due);
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    return (int) rc;
}

//  Oldest first, then by number.
static int
s_item_cmp (const void *x, const void *y)
{
    const Pm__Finance__AgingItem *a = *(Pm__Finance__AgingItem *const *) x;
    const Pm__Finance__AgingItem *b = *(Pm__Finance__AgingItem *const *) y;
    if (a->days != b->days) {
        return a->days > b->days ? -1 : 1;
    }
    return strcmp (a->number_text, b->number_text);
}

//  finance.AgingReport.
static pm_err
s_aging (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__AgingReport *req = (const Pm__Finance__AgingReport *) body;
    Pm__Finance__SiteFinance *site = NULL;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    char as_of[FIN_DATE_LEN];
    if (rc == PM_OK && req->as_of && *req->as_of) {
        if (!fin_date_valid (req->as_of)) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "as_of", "as_of: a date YYYY-MM-DD");
        }
        else {
            snprintf (as_of, sizeof as_of, "%s", req->as_of);
        }
    }
    else if (rc == PM_OK) {
        fin_local_date (site, pm_ctx_now (ctx), as_of);
    }
    if (rc != PM_OK) {
        pm__finance__site_finance__free_unpacked (site, NULL);
        return rc;
    }
    s_aging_t a;
    memset (&a, 0, sizeof a);
    a.ctx = ctx;
    a.site = site;
    a.as_of = as_of;
    a.items = calloc (FIN_LIST_MAX, sizeof *a.items);
    Pm__Finance__AgingBucket *bp[4];
    for (int i = 0; i < 4; i++) {
        pm__finance__aging_bucket__init (&a.buckets[i]);
        a.buckets[i].label = (char *) s_bucket_labels[i];
        a.buckets[i].has_due_minor = a.buckets[i].has_invoices = 1;
        bp[i] = &a.buckets[i];
    }
    //  Today or later: what is open now (the open index). A past date:
    //  every invoice issued by its end (the issue-time index), with what
    //  its due history says it had due then.
    char today[FIN_DATE_LEN];
    fin_local_date (site, pm_ctx_now (ctx), today);
    bool past = strcmp (as_of, today) < 0;
    a.as_at = past ? fin_local_day_end (site, as_of) : pm_ctx_now (ctx);
    pm_key_t prefix;
    pm_key_init (&prefix, past ? FIN_IX_ISSUED : FIN_IX_OPEN);
    pm_key_str (&prefix, site->site_id);
    a.prefix_len = prefix.len;
    rc = pm_key_scan (pm_ctx_txn (ctx), fin_db.index, prefix.b, prefix.len, NULL,
                      past ? s_aging_past_each : s_aging_each, &a);
    if (rc == PM_OK) {
        qsort (a.items, a.n_items, sizeof *a.items, s_item_cmp);
        Pm__Finance__AgingResult out = PM__FINANCE__AGING_RESULT__INIT;
        out.site_id = site->site_id;
        out.as_of = as_of;
        out.currency = site->currency;
        out.n_buckets = 4;
        out.buckets = bp;
        out.has_total_due_minor = 1;
        out.total_due_minor = a.total;
        out.n_items = a.n_items;
        out.items = a.items;
        out.has_as_at = 1;
        out.as_at = a.as_at;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < a.n_items; i++) {
        Pm__Finance__AgingItem *it = a.items[i];
        free (it->invoice_id);
        free (it->number_text);
        free (it->patient_id);
        free (it->issued_date);
        free (it);
    }
    free (a.items);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_reports_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.RevenueReport", s_revenue);
    pm_server_handle (server, "finance.AgingReport", s_aging);
}
