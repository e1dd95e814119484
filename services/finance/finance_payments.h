/*  finance_payments.h: payments (cash, card, bank transfer, insurance),
    partial payments, overpayment kept as credit, credit applied to
    invoices, and credit notes (refunds, write-offs) for finance only.  */
#ifndef FINANCE_PAYMENTS_H
#define FINANCE_PAYMENTS_H

#include "finance_store.h"

//  Binds finance.RecordPayment, ApplyCredit, IssueCreditNote.
void fin_payments_setup (pm_server_t *server);

#endif
