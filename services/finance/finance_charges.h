/*  finance_charges.h: charges (FHIR ChargeItem): raised exactly once per
    appointment from scheduling's stream, or by hand; voided with a
    reason; billed by invoices.                                          */
#ifndef FINANCE_CHARGES_H
#define FINANCE_CHARGES_H

#include "finance_store.h"

//  Binds finance.AddCharge, VoidCharge, GetCharge, ListCharges and the
//  scheduling follower.
void fin_charges_setup (pm_server_t *server);

//  Charge `id` (caller frees); PM_ENOTFOUND if none.
pm_err fin_charge_get (MDB_txn *txn, const char *id, Pm__Finance__Charge **out);

//  Stores a changed charge (version and updated_at bumped here), moves its
//  patient index entry from `old_patient` (NULL: unchanged) and emits
//  `event` with its full new state.
pm_err fin_charge_save (pm_ctx_t *ctx, Pm__Finance__Charge *c, const char *old_patient,
                        const char *event);

//  A patient merge: the merged record's open charges (not on an invoice,
//  not voided) now belong to the survivor.
pm_err fin_charges_repoint (pm_ctx_t *ctx, const char *from, const char *to);

#endif
