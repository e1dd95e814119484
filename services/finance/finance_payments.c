/*  finance_payments.c: money in and out.

    A payment against an issued invoice pays up to what is due; the rest
    is kept as the patient's credit at the site (never lost, never
    silently refunded), which finance.ApplyCredit spends on another
    invoice or a refund credit note gives back. Every payment is booked
    on the site's day (finance_days.c) by mode, for the daily close, and
    indexed by site and that business date (FIN_IX_BOOKED), so the budget
    report reads one site's month of payments.

    Credit notes need the finance role. A refund of an invoice gives back
    at most what was paid on it: the invoice's total is credited and its
    paid amount goes down by the same sum, so what is due stays (a fully
    refunded invoice's payment state is refunded). A write-off gives up
    at most what is due, and moves no money. The patient's ledger gets
    the credit note (-) and the refund paid out (+). Every note takes its
    site's next credit note number in the issuing transaction
    (finance_notes.c) and states the number of the invoice it corrects.

    A payment that did not clear is reversed (finance role): everything
    it did is undone in one transaction (invoice, credit, ledger +, day
    book -), and the payment keeps when and why. It is refused where
    undoing would need money that has moved on since (its credit spent,
    a refund on its invoice), rather than leaving a negative credit.     */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finance_accounts.h"
#include "finance_days.h"
#include "finance_invoices.h"
#include "finance_notes.h"
#include "finance_payments.h"
#include "pm_id.h"

typedef Pm__Finance__Invoice invoice_t;
typedef Pm__Finance__Payment payment_t;

//  --------------------------------------------------------------------------
//  A payment's entry in the day-book index.
pm_err
fin_payment_booked_index (MDB_txn *txn, const payment_t *p)
{
    if (!p->id || !p->site_id || !p->business_date) {
        return PM_OK; //  not booked: no day holds it
    }
    const char *dates[] = {p->business_date, p->reversal_date};
    pm_err rc = PM_OK;
    for (int i = 0; i < 2 && dates[i] && rc == PM_OK; i++) {
        pm_key_t k;
        pm_key_init (&k, FIN_IX_BOOKED);
        pm_key_str (&k, p->site_id);
        pm_key_str (&k, dates[i]);
        pm_key_str (&k, p->id);
        rc = fin_index (txn, &k, p->id, true);
    }
    return rc;
}

typedef struct {
    MDB_txn *txn;
    size_t date_at;       //  where the date starts in a key
    fin_payment_fn *fn;
    void *arg;
} s_booked_t;

//  One entry of the day-book index: the payment it names, on its day.
static int
s_booked_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_booked_t *w = arg;
    char date[FIN_DATE_LEN] = "";
    if (key->mv_size >= w->date_at + FIN_DATE_LEN - 1) {
        memcpy (date, (const char *) key->mv_data + w->date_at, FIN_DATE_LEN - 1);
        date[FIN_DATE_LEN - 1] = 0;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    payment_t *p = NULL;
    pm_err rc = pm_store_get_msg (w->txn, fin_db.payments, id, strlen (id),
                                  &pm__finance__payment__descriptor,
                                  (ProtobufCMessage **) &p);
    int r = rc == PM_ENOTFOUND ? 0 : rc != PM_OK ? (int) rc : w->fn (p, date, w->arg);
    pm__finance__payment__free_unpacked (p, NULL);
    return r;
}

//  --------------------------------------------------------------------------
//  A site's payments booked in a month, from the day-book index.
pm_err
fin_payments_booked (MDB_txn *txn, const char *site, const char *month,
                     fin_payment_fn *fn, void *arg)
{
    //  The month's dates all start with "YYYY-MM": that is the prefix.
    pm_key_t prefix;
    pm_key_init (&prefix, FIN_IX_BOOKED);
    pm_key_str (&prefix, site);
    for (const char *c = month; *c; c++) {
        pm_key_byte (&prefix, (uint8_t) *c);
    }
    s_booked_t w = {txn, 1 + strlen (site) + 1, fn, arg};
    return pm_key_scan (txn, fin_db.index, prefix.b, prefix.len, NULL, s_booked_each, &w);
}

//  Stores a payment (or payout), books it on the site's day, announces it.
static pm_err
s_payment_put (pm_ctx_t *ctx, const Pm__Finance__SiteFinance *site, payment_t *p,
               char *date)
{
    pm_err rc = fin_day_post (ctx, site, p->mode, p->amount_minor, date);
    p->business_date = date;
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, p->id, p->site_id);
        rc = fin_put (ctx, fin_db.payments, p->id, &p->base);
    }
    if (rc == PM_OK) {
        rc = fin_payment_booked_index (pm_ctx_txn (ctx), p);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "finance.payment.recorded", p->site_id, p->id, &p->base);
    }
    return rc;
}

//  A new payment record of the patient at the site.
static void
s_payment_init (pm_ctx_t *ctx, payment_t *p, char *id, const char *site,
                const char *patient, const char *currency, int kind, int mode,
                int64_t amount)
{
    pm__finance__payment__init (p);
    pm_id_new ("pay", pm_ctx_now (ctx), id);
    p->id = id;
    p->site_id = (char *) site;
    p->patient_id = (char *) patient;
    p->currency = (char *) currency;
    p->has_version = p->has_kind = p->has_mode = p->has_amount_minor = 1;
    p->has_applied_minor = p->has_credit_minor = p->has_received_at = 1;
    p->version = 1;
    p->kind = kind;
    p->mode = mode;
    p->amount_minor = amount;
    p->received_at = pm_ctx_now (ctx);
}

//  Loads an invoice the money is for: the patient's, at the site, issued.
static pm_err
s_open_invoice (pm_ctx_t *ctx, const char *id, const char *site, const char *patient,
                invoice_t **out)
{
    pm_err rc = fin_invoice_load (ctx, id, "invoice_id", out);
    if (rc == PM_OK && ((site && strcmp ((*out)->site_id, site) != 0)
                        || (patient && strcmp ((*out)->patient_id, patient) != 0))) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "invoice_id", "invoice_id: %s is not the "
                          "patient's at site %s", id, site);
    }
    if (rc == PM_OK && (*out)->status != PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: %s has nothing due "
                          "(not issued, or balanced)", id);
    }
    return rc;
}

//  finance.RecordPayment.
static pm_err
s_record (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__RecordPayment *req = (const Pm__Finance__RecordPayment *) body;
    Pm__Finance__SiteFinance *site = NULL;
    invoice_t *inv = NULL;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK) {
        rc = fin_id (ctx, "patient_id", req->patient_id, "pat");
    }
    if (rc == PM_OK) {
        rc = fin_mode (ctx, "mode", req->has_mode, req->mode);
    }
    if (rc == PM_OK) {
        rc = fin_money (ctx, "amount_minor", req->has_amount_minor, req->amount_minor, false);
    }
    if (rc == PM_OK && (!req->currency || strcmp (req->currency, site->currency) != 0)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "currency", "currency: site %s takes %s",
                          site->site_id, site->currency);
    }
    if (rc == PM_OK) {
        rc = fin_text (ctx, "reference", req->reference, false, 200);
    }
    if (rc == PM_OK && req->invoice_id) {
        rc = s_open_invoice (ctx, req->invoice_id, req->site_id, req->patient_id, &inv);
    }
    if (rc != PM_OK) {
        pm__finance__invoice__free_unpacked (inv, NULL);
        pm__finance__site_finance__free_unpacked (site, NULL);
        return rc;
    }
    char id[PM_ID_MAX], date[FIN_DATE_LEN];
    payment_t p;
    s_payment_init (ctx, &p, id, req->site_id, req->patient_id, site->currency,
                    PM__FINANCE__PAYMENT_KIND__PAYMENT_RECEIVED, req->mode, req->amount_minor);
    p.reference = req->reference;
    p.invoice_id = req->invoice_id;
    p.applied_minor = inv ? (req->amount_minor < inv->due_minor ? req->amount_minor
                                                                : inv->due_minor)
                          : 0;
    p.credit_minor = req->amount_minor - p.applied_minor;
    if (inv) {
        inv->paid_minor += p.applied_minor;
        rc = fin_invoice_save (ctx, inv, NULL, "finance.invoice.updated");
    }
    if (rc == PM_OK) {
        rc = fin_account_entry (ctx, req->patient_id, req->site_id, site->currency,
                                PM__FINANCE__ENTRY_KIND__ENTRY_PAYMENT, id,
                                -req->amount_minor, req->reference);
    }
    if (rc == PM_OK && p.credit_minor) {
        rc = fin_account_credit (ctx, req->patient_id, req->site_id, site->currency,
                                 p.credit_minor);
    }
    if (rc == PM_OK) {
        rc = s_payment_put (ctx, site, &p, date);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &p.base);
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  What a reversal takes back from the payment's invoice: its applied
//  part is due again (a balanced invoice is issued again).
static pm_err
s_unpay_invoice (pm_ctx_t *ctx, const payment_t *p)
{
    invoice_t *inv = NULL;
    pm_err rc = fin_invoice_load (ctx, p->invoice_id, "payment_id", &inv);
    if (rc == PM_OK && inv->paid_minor < p->applied_minor) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "payment_id", "payment_id: invoice %s has had "
                          "money refunded since %s paid it: settle that first", inv->id,
                          p->id);
    }
    if (rc == PM_OK) {
        inv->paid_minor -= p->applied_minor;
        if (inv->status == PM__FINANCE__INVOICE_STATUS__INVOICE_BALANCED) {
            inv->status = PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED; //  due again
        }
        rc = fin_invoice_save (ctx, inv, NULL, "finance.invoice.updated");
    }
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  finance.ReversePayment: money received that did not clear.
static pm_err
s_reverse (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__ReversePayment *req = (const Pm__Finance__ReversePayment *) body;
    payment_t *p = NULL;
    Pm__Finance__SiteFinance *site = NULL;
    Pm__Finance__Account *a = NULL;
    pm_err rc = fin_load (ctx, fin_db.payments, req->payment_id, "pay",
                          &pm__finance__payment__descriptor, "payment_id", "payment", &p);
    if (rc == PM_OK) {
        rc = fin_access (ctx, p->site_id, "payment_id");
    }
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, p->id, p->site_id);
        rc = fin_check_version (ctx, p->id, p->version, req->has_expected_version,
                                req->expected_version, false);
    }
    if (rc == PM_OK && p->kind != PM__FINANCE__PAYMENT_KIND__PAYMENT_RECEIVED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "payment_id",
                          "payment_id: %s is a refund paid out, not money received", p->id);
    }
    if (rc == PM_OK && p->reversed_at) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "payment_id", "payment_id: %s was reversed "
                          "already (%s)", p->id, p->reversal_reason ? p->reversal_reason : "");
    }
    if (rc == PM_OK) {
        rc = fin_text (ctx, "reason", req->reason, true, 500);
    }
    if (rc == PM_OK) {
        rc = fin_site (ctx, p->site_id, "payment_id", &site);
    }
    if (rc == PM_OK && !fin_account_exists (pm_ctx_txn (ctx), p->patient_id, p->site_id)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "payment_id", "payment_id: %s's account at site "
                          "%s was merged into another record: not reversible here",
                          p->patient_id, p->site_id);
    }
    if (rc == PM_OK) {
        rc = fin_account_get (pm_ctx_txn (ctx), p->patient_id, p->site_id, p->currency, &a);
    }
    if (rc == PM_OK && a->credit_minor < p->credit_minor) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "payment_id", "payment_id: the credit %s left "
                          "(%lld) has been spent (%lld left)", p->id,
                          (long long) p->credit_minor, (long long) a->credit_minor);
    }
    if (rc == PM_OK && p->invoice_id && p->applied_minor > 0) {
        rc = s_unpay_invoice (ctx, p);
    }
    if (rc == PM_OK && p->credit_minor > 0) {
        rc = fin_account_credit (ctx, p->patient_id, p->site_id, p->currency, -p->credit_minor);
    }
    if (rc == PM_OK) {
        rc = fin_account_entry (ctx, p->patient_id, p->site_id, p->currency,
                                PM__FINANCE__ENTRY_KIND__ENTRY_PAYMENT_REVERSED, p->id,
                                p->amount_minor, req->reason);
    }
    char date[FIN_DATE_LEN];
    if (rc == PM_OK) {
        rc = fin_day_post (ctx, site, p->mode, -p->amount_minor, date);
    }
    //  The payment keeps its site, business date and amount; the give-back
    //  is booked on the reversal date, in the day book and its index.
    if (rc == PM_OK) {
        char *reason = p->reversal_reason, *when = p->reversal_date;
        p->version++;
        p->has_reversed_at = 1;
        p->reversed_at = pm_ctx_now (ctx);
        p->reversal_reason = req->reason;
        p->reversal_date = date;
        rc = pm_ctx_save_record (ctx, fin_db.payments, p->id, strlen (p->id), &p->base,
                                 "finance.payment.reversed", p->site_id, p->id);
        if (rc == PM_OK) {
            rc = fin_payment_booked_index (pm_ctx_txn (ctx), p);
        }
        p->reversal_reason = reason; //  the unpacked message owns its strings
        p->reversal_date = when;
    }
    pm__finance__account__free_unpacked (a, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    pm__finance__payment__free_unpacked (p, NULL);
    return rc;
}

//  finance.ApplyCredit: the patient's credit at the site pays an invoice.
static pm_err
s_apply_credit (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__ApplyCredit *req = (const Pm__Finance__ApplyCredit *) body;
    invoice_t *inv = NULL;
    Pm__Finance__Account *a = NULL;
    pm_err rc = PM_OK;
    if (req->has_amount_minor) {
        rc = fin_money (ctx, "amount_minor", true, req->amount_minor, false);
    }
    if (rc == PM_OK) {
        rc = s_open_invoice (ctx, req->invoice_id, NULL, NULL, &inv);
    }
    if (rc == PM_OK) {
        rc = fin_account_get (pm_ctx_txn (ctx), inv->patient_id, inv->site_id,
                              inv->currency, &a);
    }
    int64_t amount = 0;
    if (rc == PM_OK) {
        amount = a->credit_minor < inv->due_minor ? a->credit_minor : inv->due_minor;
        if (req->has_amount_minor && req->amount_minor > amount) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "amount_minor", "amount_minor: at most %lld "
                              "(the credit, or what is due)", (long long) amount);
        }
        else if (req->has_amount_minor) {
            amount = req->amount_minor;
        }
        if (rc == PM_OK && amount <= 0) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: the patient has "
                              "no credit at site %s", inv->site_id);
        }
    }
    if (rc == PM_OK) {
        rc = fin_account_credit (ctx, inv->patient_id, inv->site_id, inv->currency, -amount);
    }
    if (rc == PM_OK) {
        inv->paid_minor += amount;
        rc = fin_invoice_save (ctx, inv, NULL, "finance.invoice.updated");
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &inv->base);
    }
    pm__finance__account__free_unpacked (a, NULL);
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  finance.IssueCreditNote: a refund or a write-off.
static pm_err
s_credit_note (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__IssueCreditNote *req = (const Pm__Finance__IssueCreditNote *) body;
    bool refund = req->kind == PM__FINANCE__CREDIT_NOTE_KIND__CREDIT_REFUND;
    invoice_t *inv = NULL;
    Pm__Finance__SiteFinance *site = NULL;
    Pm__Finance__Account *a = NULL;
    pm_err rc = PM_OK;
    if (!req->has_kind || (!refund && req->kind != PM__FINANCE__CREDIT_NOTE_KIND__CREDIT_WRITE_OFF)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "kind", "kind: CREDIT_REFUND or CREDIT_WRITE_OFF");
    }
    if (rc == PM_OK) {
        rc = fin_money (ctx, "amount_minor", req->has_amount_minor, req->amount_minor, false);
    }
    if (rc == PM_OK) {
        rc = fin_text (ctx, "reason", req->reason, true, FIN_TEXT_MAX);
    }
    if (rc == PM_OK && refund) {
        rc = fin_mode (ctx, "mode", req->has_mode, req->mode);
    }
    if (rc == PM_OK && req->invoice_id) {
        rc = fin_invoice_load (ctx, req->invoice_id, "invoice_id", &inv);
        if (rc == PM_OK && inv->status != PM__FINANCE__INVOICE_STATUS__INVOICE_ISSUED
            && inv->status != PM__FINANCE__INVOICE_STATUS__INVOICE_BALANCED) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "invoice_id", "invoice_id: %s was never "
                              "issued, or is cancelled", inv->id);
        }
    }
    else if (rc == PM_OK && !refund) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "invoice_id", "invoice_id: a write-off is of an "
                          "invoice");
    }
    else if (rc == PM_OK) {
        rc = fin_id (ctx, "patient_id", req->patient_id, "pat");
    }
    const char *site_id = inv ? inv->site_id : req->site_id;
    const char *patient = inv ? inv->patient_id : req->patient_id;
    if (rc == PM_OK) {
        rc = fin_site (ctx, site_id, inv ? "invoice_id" : "site_id", &site);
    }
    //  The number is taken as soon as the site is known: whatever refuses
    //  the note after this rolls it back with the request's nested
    //  transaction, so no refusal leaves a gap.
    uint64_t number = 0;
    if (rc == PM_OK) {
        rc = fin_note_take_number (ctx, site, &number);
    }
    if (rc == PM_OK) {
        rc = fin_account_get (pm_ctx_txn (ctx), patient, site_id, site->currency, &a);
    }
    int64_t limit = 0;
    if (rc == PM_OK) {
        limit = !inv ? a->credit_minor : refund ? inv->paid_minor : inv->due_minor;
        if (req->amount_minor > limit) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "amount_minor", "amount_minor: at most %lld "
                              "(%s)", (long long) limit,
                              !inv ? "the patient's credit"
                                   : refund ? "what was paid" : "what is due");
        }
    }
    char id[PM_ID_MAX], pay_id[PM_ID_MAX], date[FIN_DATE_LEN];
    pm_id_new ("crn", pm_ctx_now (ctx), id);
    int64_t amount = req->amount_minor;
    if (rc == PM_OK && inv) {
        inv->credited_minor += amount;
        if (refund) {
            inv->paid_minor -= amount;
            inv->refunded_minor += amount;
        }
        rc = fin_invoice_save (ctx, inv, NULL, "finance.invoice.updated");
        if (rc == PM_OK) {
            rc = fin_account_entry (ctx, patient, site_id, site->currency,
                                    PM__FINANCE__ENTRY_KIND__ENTRY_CREDIT_NOTE, id, -amount,
                                    req->reason);
        }
    }
    else if (rc == PM_OK) {
        rc = fin_account_credit (ctx, patient, site_id, site->currency, -amount);
    }
    payment_t p;
    if (rc == PM_OK && refund) {
        s_payment_init (ctx, &p, pay_id, site_id, patient, site->currency,
                        PM__FINANCE__PAYMENT_KIND__PAYMENT_REFUND, req->mode, -amount);
        p.invoice_id = inv ? inv->id : NULL;
        p.reason = req->reason;
        rc = s_payment_put (ctx, site, &p, date);
        if (rc == PM_OK) {
            rc = fin_account_entry (ctx, patient, site_id, site->currency,
                                    PM__FINANCE__ENTRY_KIND__ENTRY_REFUND_PAID, pay_id,
                                    amount, req->reason);
        }
    }
    if (rc == PM_OK) {
        char text[FIN_NUMBER_TEXT_MAX];
        fin_note_number_text (site_id, number, text);
        Pm__Finance__CreditNote n = PM__FINANCE__CREDIT_NOTE__INIT;
        n.id = id;
        n.has_number = 1;
        n.number = number;
        n.number_text = text;
        n.invoice_number_text = inv ? inv->number_text : NULL;
        n.site_id = (char *) site_id;
        n.patient_id = (char *) patient;
        n.invoice_id = inv ? inv->id : NULL;
        n.has_kind = n.has_amount_minor = n.has_created_at = 1;
        n.kind = req->kind;
        n.amount_minor = amount;
        n.currency = site->currency;
        n.has_mode = refund;
        n.mode = req->mode;
        n.reason = req->reason;
        n.payment_id = refund ? pay_id : NULL;
        n.created_at = pm_ctx_now (ctx);
        n.actor = (char *) pm_ctx_principal (ctx)->name;
        pm_ctx_audit (ctx, id, site_id);
        rc = fin_put (ctx, fin_db.notes, id, &n.base);
        if (rc == PM_OK) {
            rc = fin_note_number_index (pm_ctx_txn (ctx), &n);
        }
        if (rc == PM_OK) {
            rc = fin_note_list_index (pm_ctx_txn (ctx), &n);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.credit_note.issued", site_id, id, &n.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &n.base);
        }
    }
    pm__finance__account__free_unpacked (a, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    pm__finance__invoice__free_unpacked (inv, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_payments_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.RecordPayment", s_record);
    pm_server_handle (server, "finance.ReversePayment", s_reverse);
    pm_server_handle (server, "finance.ApplyCredit", s_apply_credit);
    pm_server_handle (server, "finance.IssueCreditNote", s_credit_note);
}
