/*  finance_accounts.h: a patient's account at a site: a ledger of what
    was invoiced, paid, credited and refunded (the balance is their sum)
    and the credit the patient has there (money not yet applied).       */
#ifndef FINANCE_ACCOUNTS_H
#define FINANCE_ACCOUNTS_H

#include "finance_store.h"

//  Binds finance.GetAccount and finance.Statement.
void fin_accounts_setup (pm_server_t *server);

//  The account of `patient` at `site` (caller frees); a fresh zero
//  account in `currency` when there is none yet.
pm_err fin_account_get (MDB_txn *txn, const char *patient, const char *site,
                        const char *currency, Pm__Finance__Account **out);

//  True when `patient` has an account at `site` (false also after a merge
//  folded it into the survivor's).
bool fin_account_exists (MDB_txn *txn, const char *patient, const char *site);

//  Puts a ledger entry (+ the patient owes more, - less) on the account
//  and adds it to the balance.
pm_err fin_account_entry (pm_ctx_t *ctx, const char *patient, const char *site,
                          const char *currency, int kind, const char *ref,
                          int64_t amount, const char *text);

//  Adds `delta` to the patient's credit at the site (the caller checks it
//  does not go below zero).
pm_err fin_account_credit (pm_ctx_t *ctx, const char *patient, const char *site,
                           const char *currency, int64_t delta);

//  A patient merge: the merged record's accounts (balance, credit and
//  ledger) fold into the survivor's.
pm_err fin_accounts_repoint (pm_ctx_t *ctx, const char *from, const char *to);

#endif
