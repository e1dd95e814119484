/*  finance_invoices.c: invoices from charges.

    Status (FHIR Invoice): draft -> issued | cancelled | entered-in-error;
    issued -> balanced | cancelled. Payment state is apart: unpaid,
    partial, paid (nothing due), refunded (all that was paid given back).

    A draft holds its charges (charge.invoice_id), so no charge is on two
    invoices. Issuing takes the site's next number in the same
    transaction (SiteFinance.last_invoice_number + 1): a refused issue
    rolls the counter back with it, and a cancelled invoice keeps its
    number, so a site's numbers have no gaps. Issuing bills the charges
    and puts the total on the patient's account; cancelling gives the
    charges back (billable again) and, if issued, takes the total off.

    Discounts are per line, in minor units or basis points (rounded half
    up, see proto/finance.proto), or an exemption of the whole line;
    always with a reason; only on a draft.                              */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finance_accounts.h"
#include "finance_charges.h"
#include "finance_dues.h"
#include "finance_invoices.h"
#include "pm_id.h"

typedef Pm__Finance__Invoice invoice_t;
typedef Pm__Finance__Charge charge_t;

#define LINES_MAX 200

//  --------------------------------------------------------------------------
//  Loads an invoice, audited, in the caller's scope.
pm_err
fin_invoice_load (pm_ctx_t *ctx, const char *id, const char *field, invoice_t **out)
{
    pm_err rc = fin_load (ctx, fin_db.invoices, id, "inv",
                          &pm__finance__invoice__descriptor, field, "invoice", out);
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, (*out)->id, (*out)->site_id);
        rc = fin_access (ctx, (*out)->site_id, field);
    }
    if (rc != PM_OK) {
        pm__finance__invoice__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Sums, due, payment state.
void
fin_invoice_totals (invoice_t *inv)
{
    int64_t gross = 0, discount = 0;
    for (size_t i = 0; i < inv->n_lines; i++) {
        Pm__Finance__InvoiceLine *l = inv->lines[i];
        l->has_net_minor = 1;
        l->net_minor = l->amount_minor - l->discount_minor;
        gross += l->amount_minor;
        discount += l->discount_minor;
    }
    inv->has_gross_minor = inv->has_discount_minor = inv->has_total_minor = 1;
    inv->has_paid_minor = inv->has_credited_minor = inv->has_refunded_minor = 1;
    inv->has_due_minor = inv->has_payment_state = 1;
    inv->gross_minor = gross;
    inv->discount_minor = discount;
    inv->total_minor = gross - discount;
    inv->due_minor = inv->total_minor - inv->credited_minor - inv->paid_minor;
    if (inv->refunded_minor > 0 && inv->paid_minor == 0) {
        inv->payment_state = PM__FINANCE__PAYMENT_STATE__REFUNDED;
    }
    else if (inv->due_minor <= 0) {
        inv->payment_state = PM__FINANCE__PAYMENT_STATE__PAID;
    }
    else if (inv->paid_minor > 0) {
        inv->payment_state = PM__FINANCE__PAYMENT_STATE__PARTIAL;
    }
    else {
        inv->payment_state = PM__FINANCE__PAYMENT_STATE__UNPAID;
    }
    if (inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED && inv->due_minor <= 0) {
        inv->status = PM__FINANCE__INVOICE_STATUS__INVOICE_BALANCED;
    }
}

//  --------------------------------------------------------------------------
//  The reports' entries of an invoice: issued ones by site and issue time
//  ('D', kept whatever becomes of it), open ones - issued, something due -
//  by site ('O', only while open).
pm_err
fin_invoice_report_index (MDB_txn *txn, const invoice_t *inv)
{
    if (!inv->site_id || !inv->id) {
        return PM_OK;
    }
    pm_key_t k;
    pm_err rc = PM_OK;
    if (inv->issued_at > 0) {
        pm_key_init (&k, FIN_IX_ISSUED);
        pm_key_str (&k, inv->site_id);
        pm_key_u64 (&k, (uint64_t) inv->issued_at);
        pm_key_str (&k, inv->id);
        rc = fin_index (txn, &k, inv->id, true);
    }
    bool open = inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED
                && inv->due_minor > 0;
    pm_key_init (&k, FIN_IX_OPEN);
    pm_key_str (&k, inv->site_id);
    pm_key_str (&k, inv->id);
    return rc == PM_OK ? fin_index (txn, &k, inv->id, open) : rc;
}

//  --------------------------------------------------------------------------
//  The invoice an index entry names.
pm_err
fin_invoice_indexed (MDB_txn *txn, const MDB_val *val, invoice_t **out)
{
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    *out = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.invoices, id, strlen (id),
                                  &pm__finance__invoice__descriptor,
                                  (ProtobufCMessage **) out);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

typedef struct {
    MDB_txn *txn;
    size_t prefix_len;           //  'D' site 0
    int64_t to;
    fin_invoice_fn *fn;
    void *arg;
} s_issued_t;

//  One entry of the issue-time index: the first past `to` ends the walk.
static int
s_issued_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_issued_t *w = arg;
    if (key->mv_size < w->prefix_len + 8
        || pm_be64_get ((const uint8_t *) key->mv_data + w->prefix_len) >= (uint64_t) w->to) {
        return PM_SCAN_STOP;
    }
    invoice_t *inv;
    pm_err rc = fin_invoice_indexed (w->txn, val, &inv);
    int r = rc != PM_OK ? (int) rc : inv ? w->fn (inv, w->arg) : 0;
    pm__finance__invoice__free_unpacked (inv, NULL);
    return r;
}

//  --------------------------------------------------------------------------
//  A site's invoices issued in a period, from the issue-time index.
pm_err
fin_invoices_issued (MDB_txn *txn, const char *site, int64_t from, int64_t to,
                     fin_invoice_fn *fn, void *arg)
{
    //  Only instants after 1970 are indexed (keys are unsigned).
    from = from > 0 ? from : 0;
    if (to <= from) {
        return PM_OK;
    }
    s_issued_t w = {txn, 0, to, fn, arg};
    pm_key_t prefix, start;
    pm_key_init (&prefix, FIN_IX_ISSUED);
    pm_key_str (&prefix, site);
    w.prefix_len = prefix.len;
    start = prefix;
    pm_key_u64 (&start, (uint64_t) from);
    return pm_key_scan (txn, fin_db.index, prefix.b, prefix.len, &start, s_issued_each, &w);
}

//  --------------------------------------------------------------------------
//  Stores a changed invoice, keeps its indexes and due history, and
//  announces it.
pm_err
fin_invoice_save (pm_ctx_t *ctx, invoice_t *inv, const char *old_patient,
                  const char *event)
{
    fin_invoice_totals (inv);
    inv->version++;
    inv->has_updated_at = 1;
    inv->updated_at = pm_ctx_now (ctx);
    pm_err rc = fin_put (ctx, fin_db.invoices, inv->id, &inv->base);
    if (rc == PM_OK) {
        rc = fin_invoice_report_index (pm_ctx_txn (ctx), inv);
    }
    if (rc == PM_OK) {
        rc = fin_due_record (pm_ctx_txn (ctx), inv, inv->updated_at);
    }
    pm_key_t k;
    if (rc == PM_OK && old_patient) {
        fin_ix_key (&k, FIN_IX_INVOICE, old_patient, inv->site_id, inv->id);
        rc = fin_index (pm_ctx_txn (ctx), &k, inv->id, false);
    }
    if (rc == PM_OK && (old_patient || inv->version == 1)) {
        fin_ix_key (&k, FIN_IX_INVOICE, inv->patient_id, inv->site_id, inv->id);
        rc = fin_index (pm_ctx_txn (ctx), &k, inv->id, true);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, event, inv->site_id, inv->id, &inv->base);
    }
    return rc;
}

//  Saves, replies and frees (borrowed strings are the caller's to unset).
static pm_err
s_done (pm_ctx_t *ctx, invoice_t *inv, const char *event, pm_err rc)
{
    if (rc == PM_OK) {
        rc = fin_invoice_save (ctx, inv, NULL, event);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &inv->base);
    }
    return rc;
}

//  Sets the state of every charge of the invoice: its invoice (NULL:
//  none) and status.
static pm_err
s_charges_set (pm_ctx_t *ctx, const invoice_t *inv, const char *invoice_id, int status,
               const char *event)
{
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < inv->n_lines; i++) {
        charge_t *c;
        rc = fin_charge_get (pm_ctx_txn (ctx), inv->lines[i]->charge_id, &c);
        if (rc != PM_OK) {
            rc = rc == PM_ENOTFOUND ? PM_EINTERNAL : rc;
            break;
        }
        char *old = c->invoice_id;
        c->invoice_id = (char *) invoice_id;
        c->status = status;
        rc = fin_charge_save (ctx, c, NULL, event);
        c->invoice_id = old;
        pm__finance__charge__free_unpacked (c, NULL);
    }
    return rc;
}

typedef struct {
    char (*ids)[PM_ID_MAX];
    size_t n;
} s_ids_t;

static int
s_collect (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_ids_t *s = arg;
    if (s->n >= LINES_MAX) {
        return PM_SCAN_STOP;
    }
    pm_val_str (val, s->ids[s->n++], PM_ID_MAX);
    return 0;
}

//  finance.CreateInvoice: a draft of the patient's billable charges.
static pm_err
s_create (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__CreateInvoice *req = (const Pm__Finance__CreateInvoice *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Finance__SiteFinance *site = NULL;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK) {
        rc = fin_id (ctx, "patient_id", req->patient_id, "pat");
    }
    if (rc == PM_OK && req->n_charge_ids > LINES_MAX) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "charge_ids", "charge_ids: at most %d", LINES_MAX);
    }
    s_ids_t ids = {calloc (LINES_MAX, PM_ID_MAX), 0};
    bool named = req->n_charge_ids > 0;
    if (rc == PM_OK && named) {
        for (size_t i = 0; i < req->n_charge_ids; i++) {
            snprintf (ids.ids[ids.n++], PM_ID_MAX, "%s", req->charge_ids[i]);
        }
    }
    else if (rc == PM_OK) {
        pm_key_t prefix;
        fin_ix_key (&prefix, FIN_IX_CHARGE, req->patient_id, req->site_id, NULL);
        rc = pm_key_scan (txn, fin_db.index, prefix.b, prefix.len, NULL, s_collect, &ids);
    }
    char id[PM_ID_MAX];
    pm_id_new ("inv", pm_ctx_now (ctx), id);
    invoice_t inv = PM__FINANCE__INVOICE__INIT;
    inv.lines = calloc (LINES_MAX, sizeof *inv.lines);
    charge_t **charges = calloc (LINES_MAX, sizeof *charges);
    for (size_t i = 0; rc == PM_OK && i < ids.n; i++) {
        char field[32];
        snprintf (field, sizeof field, "charge_ids[%zu]", i);
        charge_t *c = NULL;
        if (named) {
            rc = fin_load (ctx, fin_db.charges, ids.ids[i], "chg",
                           &pm__finance__charge__descriptor, field, "charge", &c);
        }
        else {
            rc = fin_charge_get (txn, ids.ids[i], &c);
        }
        if (rc != PM_OK) {
            break;
        }
        charges[i] = c;
        bool free_charge = c->status == PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE
                           && !(c->invoice_id && *c->invoice_id);
        if (!named && !free_charge) {
            continue;
        }
        if (strcmp (c->site_id, req->site_id) != 0
            || strcmp (c->patient_id, req->patient_id) != 0) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s is not a charge of this "
                              "patient at this site", field, c->id);
        }
        else if (!free_charge) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: %s is not billable (%s)", field,
                              c->id, c->invoice_id && *c->invoice_id
                                         ? "on another invoice" : "voided or billed");
        }
        for (size_t j = 0; rc == PM_OK && j < inv.n_lines; j++) {
            if (strcmp (inv.lines[j]->charge_id, c->id) == 0) {
                rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s named twice", field, c->id);
            }
        }
        if (rc == PM_OK) {
            Pm__Finance__InvoiceLine *l = calloc (1, sizeof *l);
            pm__finance__invoice_line__init (l);
            l->charge_id = c->id;
            l->code = c->code;
            l->description = c->description;
            l->has_amount_minor = l->has_discount_minor = 1;
            l->amount_minor = c->amount_minor;
            inv.lines[inv.n_lines++] = l;
        }
    }
    if (rc == PM_OK && inv.n_lines == 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "charge_ids", "charge_ids: the patient has no "
                          "billable charges at site %s", req->site_id);
    }
    if (rc == PM_OK) {
        int64_t now = pm_ctx_now (ctx);
        inv.id = id;
        inv.site_id = req->site_id;
        inv.patient_id = req->patient_id;
        inv.currency = site->currency;
        inv.has_status = inv.has_created_at = 1;
        inv.status = PM__FINANCE__INVOICE_STATUS__INVOICE_DRAFT;
        inv.created_at = now;
        pm_ctx_audit (ctx, id, req->site_id);
        rc = fin_invoice_save (ctx, &inv, NULL, "finance.invoice.created");
    }
    if (rc == PM_OK) {
        rc = s_charges_set (ctx, &inv, id, PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE,
                            "finance.charge.updated");
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &inv.base);
    }
    for (size_t i = 0; i < inv.n_lines; i++) {
        free (inv.lines[i]);
    }
    for (size_t i = 0; i < ids.n; i++) {
        pm__finance__charge__free_unpacked (charges[i], NULL);
    }
    free (charges);
    free (inv.lines);
    free (ids.ids);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  Loads the invoice of an action and checks its version.
static pm_err
s_action_load (pm_ctx_t *ctx, const char *id, bool has_version, uint64_t version,
               invoice_t **out)
{
    pm_err rc = fin_invoice_load (ctx, id, "invoice_id", out);
    if (rc == PM_OK) {
        rc = fin_check_version (ctx, (*out)->id, (*out)->version, has_version, version,
                                false);
    }
    return rc;
}

static bool
s_is (const invoice_t *inv, int status)
{
    return inv->status == (Pm__Finance__InvoiceStatus) status;
}

//  finance.Discount: a draft line's discount or exemption, with a reason.
static pm_err
s_discount (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__Discount *req = (const Pm__Finance__Discount *) body;
    invoice_t *inv = NULL;
    pm_err rc = fin_text (ctx, "reason", req->reason, true, FIN_TEXT_MAX);
    int given = req->has_amount_minor + req->has_percent_bp + (req->has_exemption
                                                                 && req->exemption);
    if (rc == PM_OK && given != 1) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "amount_minor", "amount_minor: give one of "
                          "amount_minor, percent_bp or exemption");
    }
    if (rc == PM_OK && req->has_percent_bp
        && (req->percent_bp < 1 || req->percent_bp > 10000)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "percent_bp", "percent_bp: 1..10000");
    }
    if (rc == PM_OK && req->has_amount_minor) {
        rc = fin_money (ctx, "amount_minor", true, req->amount_minor, false);
    }
    if (rc == PM_OK) {
        rc = s_action_load (ctx, req->invoice_id, req->has_expected_version,
                            req->expected_version, &inv);
    }
    if (rc == PM_OK && !s_is (inv, PM__FINANCE__INVOICE_STATUS__INVOICE_DRAFT)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: %s is issued or "
                          "closed; discounts go on drafts (credit an issued one)", inv->id);
    }
    Pm__Finance__InvoiceLine *l = NULL;
    for (size_t i = 0; rc == PM_OK && inv && i < inv->n_lines; i++) {
        if (req->charge_id && strcmp (inv->lines[i]->charge_id, req->charge_id) == 0) {
            l = inv->lines[i];
        }
    }
    if (rc == PM_OK && !l) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "charge_id", "charge_id: not a line of %s",
                          inv->id);
    }
    int64_t amount = 0;
    if (rc == PM_OK) {
        if (req->has_percent_bp) {
            //  Half up to the minor unit; amount <= 10^13 and bp <= 10^4
            //  keep the product far inside int64.
            amount = (l->amount_minor * (int64_t) req->percent_bp + 5000) / 10000;
        }
        else if (req->has_amount_minor) {
            amount = req->amount_minor;
        }
        else {
            amount = l->amount_minor;
        }
        if (amount > l->amount_minor) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "amount_minor", "amount_minor: more than the "
                              "line (%lld)", (long long) l->amount_minor);
        }
    }
    if (rc == PM_OK) {
        char *old_reason = l->discount_reason;
        l->has_discount_minor = l->has_discount_bp = l->has_exemption = 1;
        l->discount_minor = amount;
        l->discount_bp = req->has_percent_bp ? req->percent_bp : 0;
        l->exemption = req->has_exemption && req->exemption;
        l->discount_reason = req->reason;
        rc = s_done (ctx, inv, "finance.invoice.updated", rc);
        l->discount_reason = old_reason;
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  finance.IssueInvoice: the next number of the site, charges billed, the
//  total on the patient's account.
static pm_err
s_issue (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__InvoiceAction *req = (const Pm__Finance__InvoiceAction *) body;
    invoice_t *inv = NULL;
    Pm__Finance__SiteFinance *site = NULL;
    pm_err rc = s_action_load (ctx, req->invoice_id, req->has_expected_version,
                               req->expected_version, &inv);
    if (rc == PM_OK && !s_is (inv, PM__FINANCE__INVOICE_STATUS__INVOICE_DRAFT)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: %s is not a draft",
                          inv->id);
    }
    if (rc == PM_OK) {
        rc = fin_site (ctx, inv->site_id, "invoice_id", &site);
    }
    char number[96];
    if (rc == PM_OK) {
        site->last_invoice_number++;
        site->version++;
        site->updated_at = pm_ctx_now (ctx);
        rc = fin_put (ctx, fin_db.sites, site->site_id, &site->base);
        inv->has_number = inv->has_issued_at = 1;
        inv->number = site->last_invoice_number;
        snprintf (number, sizeof number, "%s-%06llu", site->site_id,
                  (unsigned long long) inv->number);
        inv->issued_at = pm_ctx_now (ctx);
        inv->status = PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED;
    }
    if (rc == PM_OK) {
        rc = s_charges_set (ctx, inv, inv->id, PM__FINANCE__CHARGE_STATUS__CHARGE_BILLED,
                            "finance.charge.billed");
    }
    if (rc == PM_OK) {
        fin_invoice_totals (inv);
        rc = fin_account_entry (ctx, inv->patient_id, inv->site_id, inv->currency,
                                PM__FINANCE__ENTRY_KIND__ENTRY_INVOICE, inv->id,
                                inv->total_minor, number);
    }
    if (rc == PM_OK) {
        char *old_text = inv->number_text;
        inv->number_text = number;
        rc = s_done (ctx, inv, "finance.invoice.issued", rc);
        inv->number_text = old_text;
    }
    pm__finance__site_finance__free_unpacked (site, NULL);
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  finance.CancelInvoice / finance.MarkInError: the charges go back.
static pm_err
s_close (pm_ctx_t *ctx, const Pm__Finance__InvoiceAction *req, bool in_error)
{
    invoice_t *inv = NULL;
    pm_err rc = fin_text (ctx, "reason", req->reason, true, FIN_TEXT_MAX);
    if (rc == PM_OK) {
        rc = s_action_load (ctx, req->invoice_id, req->has_expected_version,
                            req->expected_version, &inv);
    }
    bool draft = rc == PM_OK && s_is (inv, PM__FINANCE__INVOICE_STATUS__INVOICE_DRAFT);
    if (rc == PM_OK && in_error && !draft) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: only a draft can "
                          "be entered in error (%s is not); cancel or credit it", inv->id);
    }
    if (rc == PM_OK && !draft
        && (!s_is (inv, PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED)
            || inv->paid_minor != 0 || inv->credited_minor != 0)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: %s has payments "
                          "or credit notes, or is closed: credit it instead", inv->id);
    }
    if (rc == PM_OK) {
        rc = s_charges_set (ctx, inv, NULL, PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE,
                            "finance.charge.updated");
    }
    if (rc == PM_OK && !draft) {
        rc = fin_account_entry (ctx, inv->patient_id, inv->site_id, inv->currency,
                                PM__FINANCE__ENTRY_KIND__ENTRY_INVOICE_CANCELLED, inv->id,
                                -inv->total_minor, req->reason);
    }
    if (rc == PM_OK) {
        char *old_reason = inv->reason;
        inv->reason = req->reason;
        inv->status = in_error ? PM__FINANCE__INVOICE_STATUS__INVOICE_ENTERED_IN_ERROR
                               : PM__FINANCE__INVOICE_STATUS__INVOICE_CANCELLED;
        rc = s_done (ctx, inv, in_error ? "finance.invoice.entered_in_error"
                                        : "finance.invoice.cancelled", rc);
        inv->reason = old_reason;
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

static pm_err
s_cancel (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_close (ctx, (const Pm__Finance__InvoiceAction *) body, false);
}

static pm_err
s_in_error (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_close (ctx, (const Pm__Finance__InvoiceAction *) body, true);
}

//  finance.GetInvoice.
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetInvoice *req = (const Pm__Finance__GetInvoice *) body;
    invoice_t *inv;
    pm_err rc = fin_invoice_load (ctx, req->invoice_id, "invoice_id", &inv);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &inv->base);
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Open invoices of the merged patient go to the survivor.
pm_err
fin_invoices_repoint (pm_ctx_t *ctx, const char *from, const char *to)
{
    s_ids_t ids = {calloc (LINES_MAX, PM_ID_MAX), 0};
    pm_key_t prefix;
    pm_key_init (&prefix, FIN_IX_INVOICE);
    pm_key_str (&prefix, from);
    pm_err rc = pm_key_scan (pm_ctx_txn (ctx), fin_db.index, prefix.b, prefix.len, NULL,
                             s_collect, &ids);
    for (size_t i = 0; rc == PM_OK && i < ids.n; i++) {
        invoice_t *inv = NULL;
        rc = pm_store_get_msg (pm_ctx_txn (ctx), fin_db.invoices, ids.ids[i],
                               strlen (ids.ids[i]), &pm__finance__invoice__descriptor,
                               (ProtobufCMessage **) &inv);
        if (rc != PM_OK) {
            break;
        }
        if (s_is (inv, PM__FINANCE__INVOICE_STATUS__INVOICE_DRAFT)
            || s_is (inv, PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED)) {
            char *old = inv->patient_id, *old_from = inv->merged_from;
            inv->patient_id = (char *) to;
            inv->merged_from = (char *) from;
            rc = fin_invoice_save (ctx, inv, from, "finance.invoice.updated");
            inv->patient_id = old;
            inv->merged_from = old_from;
        }
        pm__finance__invoice__free_unpacked (inv, NULL);
    }
    free (ids.ids);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_invoices_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.CreateInvoice", s_create);
    pm_server_handle (server, "finance.Discount", s_discount);
    pm_server_handle (server, "finance.IssueInvoice", s_issue);
    pm_server_handle (server, "finance.CancelInvoice", s_cancel);
    pm_server_handle (server, "finance.MarkInError", s_in_error);
    pm_server_handle (server, "finance.GetInvoice", s_get);
}
