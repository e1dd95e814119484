/*  finance_notes.h: credit note numbers (a gap-free series per site, apart
    from the invoices'), finance.GetCreditNote and ListCreditNotes, and
    the numbering of notes
    a store kept from before numbers existed. The notes themselves are
    issued in finance_payments.c (they move money).                     */
#ifndef FINANCE_NOTES_H
#define FINANCE_NOTES_H

#include "finance_store.h"

#define FIN_NUMBER_TEXT_MAX 96 //  "<site, at most 64>-CN-<at most 20 digits>"

//  Binds finance.GetCreditNote and finance.ListCreditNotes.
void fin_notes_setup (pm_server_t *server);

//  Takes the site's next credit note number: last_credit_note_number + 1
//  (version + 1), written back to the store in the caller's transaction,
//  so a note refused after this gives it back. `site` is updated; the
//  number in *number.
pm_err fin_note_take_number (pm_ctx_t *ctx, Pm__Finance__SiteFinance *site,
                             uint64_t *number);

//  A credit note's number text: "<site>-CN-<number, at least 6 digits>"
//  into `out` (FIN_NUMBER_TEXT_MAX bytes).
void fin_note_number_text (const char *site, uint64_t number, char *out);

//  Puts the number index entry of a numbered note (FIN_IX_NOTE_NUMBER).
pm_err fin_note_number_index (MDB_txn *txn, const Pm__Finance__CreditNote *n);

//  Puts the list entries of a note: by invoice and number
//  (FIN_IX_INVOICE_NOTE, a note of an invoice) and by site and issue time
//  (FIN_IX_NOTE_ISSUED). In the issuing transaction.
pm_err fin_note_list_index (MDB_txn *txn, const Pm__Finance__CreditNote *n);

//  pm_store_migrate step "credit-note-lists": every note of a store from
//  before the lists gets its list entries (run after the numbering).
pm_err fin_notes_list_migrate (MDB_txn *txn, void *arg, long *changed);

//  pm_store_migrate step "credit-note-numbers": a store from before
//  numbering holds notes without numbers; each gets its site's next one
//  in issue order (the order of their time-ordered ids), the number text
//  of the invoice it corrects and its index entry, and the site's
//  counter ends at the last. No event is sent (none may be, outside a
//  command); finance.GetCreditNote and statements show the numbers.
pm_err fin_notes_migrate (MDB_txn *txn, void *arg, long *changed);

#endif
