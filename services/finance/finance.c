/*  finance.c: wires the finance service together: its store, each
    concept's commands, and the followers of scheduling (charges, in
    finance_charges.c), staffing and recruitment (payroll and hires, in
    finance_budgets.c) and patients (merges, here).

    A patient merge (patients.patient.merged, subject the survivor)
    re-points what is still open: billable charges, draft and issued
    invoices (merged_from keeps the old recipient), and folds the merged
    record's accounts (balance, credit, ledger) into the survivor's.
    Balanced, cancelled and in-error invoices keep the recipient they were
    issued to. Applying the event again finds nothing left under the
    merged id. An unmerge is not undone here (the money stays with the
    survivor; a refund or a new invoice settles a wrong merge), and the
    patients stream's reset drops nothing: these are not projections.  */
#include <string.h>

#include "finance.h"
#include "finance_accounts.h"
#include "finance_budgets.h"
#include "finance_charges.h"
#include "finance_days.h"
#include "finance_dues.h"
#include "finance_invoices.h"
#include "finance_notes.h"
#include "finance_payments.h"
#include "finance_reports.h"
#include "finance_sites.h"
#include "finance_store.h"
#include "patients.pb-c.h"
#include "pm_id.h"

//  patients.patient.merged -> re-point the merged patient's money.
static pm_err
s_apply_patients (pm_ctx_t *ctx, const Pm__Event *event)
{
    if (!event->type || strcmp (event->type, "patients.patient.merged") != 0) {
        return PM_OK;
    }
    Pm__Patients__MergeResult *m = pm__patients__merge_result__unpack (
        NULL, event->data.len, event->data.data);
    pm_err rc = PM_OK;
    if (!m || !m->survivor || !m->merged || !pm_id_valid (m->survivor->id, "pat")
        || !pm_id_valid (m->merged->id, "pat") || !strcmp (m->survivor->id, m->merged->id)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a patients.MergeResult of two ids");
    }
    if (rc == PM_OK) {
        rc = fin_charges_repoint (ctx, m->merged->id, m->survivor->id);
    }
    if (rc == PM_OK) {
        rc = fin_invoices_repoint (ctx, m->merged->id, m->survivor->id);
    }
    if (rc == PM_OK) {
        rc = fin_accounts_repoint (ctx, m->merged->id, m->survivor->id);
    }
    pm__patients__merge_result__free_unpacked (m, NULL);
    return rc;
}

//  The patients store was replaced: nothing of finance is a projection.
static pm_err
s_reset_patients (pm_ctx_t *ctx, const char *source)
{
    (void) ctx;
    (void) source;
    return PM_OK;
}

typedef struct {
    MDB_txn *txn;
    long *changed;
} s_walk_t;

static pm_err
s_index_invoice (const ProtobufCMessage *msg, void *arg)
{
    s_walk_t *w = arg;
    (*w->changed)++;
    return fin_invoice_report_index (w->txn, (const Pm__Finance__Invoice *) msg);
}

//  A store from before the report indexes: every invoice gets its entries.
static pm_err
s_index_invoices (MDB_txn *txn, void *arg, long *changed)
{
    (void) arg;
    s_walk_t w = {txn, changed};
    return pm_store_each_msg (txn, fin_db.invoices, &pm__finance__invoice__descriptor,
                              s_index_invoice, &w);
}

static pm_err
s_index_payment (const ProtobufCMessage *msg, void *arg)
{
    s_walk_t *w = arg;
    (*w->changed)++;
    return fin_payment_booked_index (w->txn, (const Pm__Finance__Payment *) msg);
}

//  A store from before the day-book index: every payment gets its entry.
static pm_err
s_index_payments (MDB_txn *txn, void *arg, long *changed)
{
    (void) arg;
    s_walk_t w = {txn, changed};
    return pm_store_each_msg (txn, fin_db.payments, &pm__finance__payment__descriptor,
                              s_index_payment, &w);
}

//  --------------------------------------------------------------------------
int
finance_setup (pm_server_t *server)
{
    pm_store_t *store = pm_server_store (server);
    MDB_dbi events;
    if (fin_store_open (store) != PM_OK
        || pm_store_migrate (store, fin_db.index, "report-index", s_index_invoices, NULL)
               != 0
        || pm_store_migrate (store, fin_db.index, "booked-index", s_index_payments, NULL)
               != 0
        || pm_store_migrate (store, fin_db.index, "credit-note-numbers", fin_notes_migrate,
                             NULL) != 0
        || pm_store_migrate (store, fin_db.index, "credit-note-lists",
                             fin_notes_list_migrate, NULL) != 0
        //  Finance's own stream is the history of its invoices.
        || pm_store_dbi (store, "$events", 0, &events) != PM_OK
        || pm_store_migrate (store, fin_db.index, "due-history", fin_dues_migrate, &events)
               != 0
        || pm_store_migrate (store, fin_db.index, "payroll-rate-history",
                             fin_budgets_migrate, NULL) != 0) {
        return -1;
    }
    fin_sites_setup (server);
    fin_charges_setup (server);
    fin_invoices_setup (server);
    fin_payments_setup (server);
    fin_notes_setup (server);
    fin_accounts_setup (server);
    fin_days_setup (server);
    fin_budgets_setup (server);
    fin_reports_setup (server);
    pm_server_follow (server, "patients", s_apply_patients, s_reset_patients);
    return 0;
}
