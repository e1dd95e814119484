/*  finance_dues.h: what each issued invoice had due, over time (the
    aging at a past date reads it).                                      */
#ifndef FINANCE_DUES_H
#define FINANCE_DUES_H

#include "finance_store.h"

//  Records what `inv` has due from instant `at` on, when that differs
//  from what it had before (an invoice that is not issued or balanced has
//  nothing due). fin_invoice_save calls it with every change.
pm_err fin_due_record (MDB_txn *txn, const Pm__Finance__Invoice *inv, int64_t at);

//  What invoice `inv` of `site` had due just before instant `before`
//  into *due (0 when it had nothing due yet).
pm_err fin_due_at (MDB_txn *txn, const char *site, const char *inv, int64_t before,
                   int64_t *due);

//  A store from before the due history: builds it from finance's own
//  stream (`arg` is the MDB_dbi of the runtime's "$events"), every
//  finance.invoice.* event carrying the invoice's full state at its time.
pm_err fin_dues_migrate (MDB_txn *txn, void *arg, long *changed);

#endif
