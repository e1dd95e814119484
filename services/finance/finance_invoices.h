/*  finance_invoices.h: invoices (FHIR Invoice statuses, a separate payment
    state), gap-free numbers per site, lines that reference charges,
    discounts and exemptions with a reason.                              */
#ifndef FINANCE_INVOICES_H
#define FINANCE_INVOICES_H

#include "finance_store.h"

//  Binds finance.CreateInvoice, Discount, IssueInvoice, CancelInvoice,
//  MarkInError, GetInvoice.
void fin_invoices_setup (pm_server_t *server);

//  Loads invoice `id` in the caller's scope, audited (caller frees);
//  failures name `field`.
pm_err fin_invoice_load (pm_ctx_t *ctx, const char *id, const char *field,
                         Pm__Finance__Invoice **out);

//  Recomputes an invoice's sums, due amount, payment state, and moves an
//  issued invoice with nothing due to balanced.
void fin_invoice_totals (Pm__Finance__Invoice *inv);

//  Stores a changed invoice (version, updated_at, totals), moves its
//  index entry from `old_patient` (NULL: unchanged), records a change of
//  its due amount (fin_due_record) and emits `event`.
pm_err fin_invoice_save (pm_ctx_t *ctx, Pm__Finance__Invoice *inv,
                         const char *old_patient, const char *event);

//  Keeps the report indexes of `inv` (FIN_IX_ISSUED, FIN_IX_OPEN) in step;
//  fin_invoice_save calls it.
pm_err fin_invoice_report_index (MDB_txn *txn, const Pm__Finance__Invoice *inv);

//  The invoice an index entry's value names (caller frees); *out NULL
//  when the entry is stale (the reports skip it).
pm_err fin_invoice_indexed (MDB_txn *txn, const MDB_val *val, Pm__Finance__Invoice **out);

//  Calls `fn` with each invoice of `site` issued in [from, to), in issue
//  order, by the issue-time index (FIN_IX_ISSUED): only the period is
//  read. `fn` returns 0 to go on, PM_SCAN_STOP to stop, or a pm_err that ends
//  the walk and is returned. The invoice is valid during the call.
typedef int (fin_invoice_fn) (const Pm__Finance__Invoice *inv, void *arg);
pm_err fin_invoices_issued (MDB_txn *txn, const char *site, int64_t from, int64_t to,
                            fin_invoice_fn *fn, void *arg);

//  A patient merge: the merged record's open invoices (draft, issued) now
//  go to the survivor.
pm_err fin_invoices_repoint (pm_ctx_t *ctx, const char *from, const char *to);

#endif
