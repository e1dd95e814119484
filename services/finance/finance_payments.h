/*  finance_payments.h: payments (cash, card, bank transfer, insurance),
    partial payments, overpayment kept as credit, credit applied to
    invoices, and credit notes (refunds, write-offs) for finance only.  */
#ifndef FINANCE_PAYMENTS_H
#define FINANCE_PAYMENTS_H

#include "finance_store.h"

//  Binds finance.RecordPayment, ReversePayment, ApplyCredit, IssueCreditNote.
void fin_payments_setup (pm_server_t *server);

//  Puts the day-book index entries (FIN_IX_BOOKED) of a payment or refund
//  payout: on its business date and, once reversed, on its reversal date
//  (the day book gives the money back that day). Its site and dates never
//  change once set, so putting them again is harmless.
pm_err fin_payment_booked_index (MDB_txn *txn, const Pm__Finance__Payment *p);

//  Calls `fn` with each payment and refund payout of `site` booked on a
//  day of `month` (YYYY-MM), from the day-book index: only that month is
//  read; `date` is the day of the entry (its business date, its reversal
//  date, or both when they are the same day). `fn` returns 0 to go on, PM_SCAN_STOP
//  to stop, or a pm_err (> 1) that ends the walk and is returned. The
//  payment is valid during the call.
typedef int (fin_payment_fn) (const Pm__Finance__Payment *p, const char *date, void *arg);
pm_err fin_payments_booked (MDB_txn *txn, const char *site, const char *month,
                            fin_payment_fn *fn, void *arg);

#endif
