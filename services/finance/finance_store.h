/*  finance_store.h: the finance service's store layout and the helpers
    every concept file shares (keys, loads, field rules, site scope).

    Store layout (sub-databases; "0" is a NUL byte, "be64" an 8-byte
    big-endian integer, so range scans come out ordered):
      sites     site_id                          -> SiteFinance
      prices    site 0 code 0 be64 valid_from     -> Price
      charges   chg_id                           -> Charge
      invoices  inv_id                           -> Invoice
      payments  pay_id                           -> Payment
      notes     crn_id                           -> CreditNote
      accounts  patient 0 site                   -> Account
      ledger    patient 0 site 0 be64 at kind ref -> Entry
      days      'd' site 0 date                  -> Day
                'm' site 0 month                 -> PeriodLock
      index     'p' patient 0 site 0 chg_id 0    -> chg_id  a patient's charges
                'i' patient 0 site 0 inv_id 0    -> inv_id  a patient's invoices
                'D' site 0 be64 issued_at inv_id 0 -> inv_id  issued, by time (revenue)
                'O' site 0 inv_id 0              -> inv_id  open receivables (aging)
                'Y' site 0 date 0 pay_id 0      -> pay_id  payments and refund
                                                    payouts by the day they are
                                                    booked on, and again on the
                                                    day a reversal gives them
                                                    back (budget report)
                'N' site 0 be64 number           -> crn_id  credit notes by number
                'V' inv_id 0 be64 number         -> crn_id  an invoice's credit notes
                'W' site 0 be64 created_at crn_id 0 -> crn_id  a site's credit
                                                    notes by issue time
                'H' site 0 inv_id 0 be64 at      -> InvoiceDue  what an issued
                                                    invoice has due from `at` on
                                                    (finance_dues.c)
                'M' name 0                       -> ""      migrations done
      budgets   site 0 month                     -> Budget
      actuals   (projections of staffing and recruitment, rebuilt on reset)
                'r' staff_id                     -> StaffRate  the rate now
                'R' staff_id 0 be64 effective_from -> StaffRate  each rate
                                                    from when it took effect
                'h' shift_id                     -> ShiftCost
                'm' site 0 month 0 shift_id      -> ""   a month's shifts
                'S' staff_id 0 be64 start shift_id 0 -> ""  a person's
                                                    shifts by start (re-pricing)
                'c' candidate_id                 -> HireCount
                'n' site 0 month 0 candidate_id  -> ""   a month's hires
                'z' site_id                      -> pm.staffing.Site  staffing's
                                                    view of a site (zone, currency)

    Patient-first keys let a patient merge move everything of the merged
    record with prefix scans. A value read from LMDB is valid only until
    the txn ends: the loaders here unpack into memory the caller frees. */
#ifndef FINANCE_STORE_H
#define FINANCE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "finance.pb-c.h"
#include "pm_key.h"
#include "pm_server.h"

#define FIN_LIST_MAX 1000      //  records one list reply carries at most
#define FIN_MONEY_MAX 10000000000000LL //  10^13 minor units
#define FIN_TEXT_MAX 500
#define FIN_DATE_LEN 11        //  "YYYY-MM-DD" and its NUL

typedef struct {
    MDB_dbi sites, prices, charges, invoices, payments, notes;
    MDB_dbi accounts, ledger, days, index, budgets, actuals;
} fin_db_t;

extern fin_db_t fin_db;

//  Opens (creating) every sub-database. PM_OK or the store's error.
pm_err fin_store_open (pm_store_t *store);

//  --- keys -------------------------------------------------------------------

#define FIN_IX_CHARGE 'p'
#define FIN_IX_INVOICE 'i'
#define FIN_IX_ISSUED 'D'  //  site 0 be64 issued_at inv_id 0: every issued invoice
#define FIN_IX_OPEN 'O'    //  site 0 inv_id 0: issued with something due
#define FIN_IX_BOOKED 'Y'  //  site 0 date 0 pay_id 0: payments by booked and reversed day
#define FIN_IX_NOTE_NUMBER 'N' //  site 0 be64 number: credit notes by number
#define FIN_IX_MIGRATED 'M' //  name 0: one-time migrations done
#define FIN_IX_DUE 'H'     //  site 0 inv_id 0 be64 at: due amounts over time
#define FIN_IX_INVOICE_NOTE 'V' //  inv_id 0 be64 number: an invoice's credit notes
#define FIN_IX_NOTE_ISSUED 'W'  //  site 0 be64 created_at crn_id 0: by issue time

//  Puts (add) or deletes an index entry `k` -> `id`.
pm_err fin_index (MDB_txn *txn, const pm_key_t *k, const char *id, bool add);

//  The patient-and-site index key of `tag` for record `id`.
void fin_ix_key (pm_key_t *k, char tag, const char *patient, const char *site,
                 const char *id);

//  --- records ------------------------------------------------------------

//  Loads record `id` (which must be an id of `prefix`) into *out (caller
//  frees). Missing or malformed: EINVAL naming `field`; unknown:
//  ENOTFOUND "no <what> <id>".
pm_err fin_load (pm_ctx_t *ctx, MDB_dbi dbi, const char *id, const char *prefix,
                 const ProtobufCMessageDescriptor *desc, const char *field,
                 const char *what, void *out);

//  Stores `msg` under the string key `id`.
pm_err fin_put (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                const ProtobufCMessage *msg);

//  The site's settings (caller frees): EINVAL for a malformed id,
//  ENOTFOUND when finance has none for it, EFORBIDDEN when the caller
//  does not work there; all naming `field`.
pm_err fin_site (pm_ctx_t *ctx, const char *site_id, const char *field,
                 Pm__Finance__SiteFinance **out);

//  Refuses (EFORBIDDEN, naming `field`) when the caller may not see or
//  change data of `site`.
pm_err fin_access (pm_ctx_t *ctx, const char *site, const char *field);

//  Refuses (ECONFLICT) a stale expected version; `required` makes a
//  missing one EINVAL.
pm_err fin_check_version (pm_ctx_t *ctx, const char *id, uint64_t actual,
                          bool has_expected, uint64_t expected, bool required);

//  --- field rules ------------------------------------------------------------

//  Text of at most `max` characters without control characters.
pm_err fin_text (pm_ctx_t *ctx, const char *field, const char *s, bool required,
                 size_t max);

//  A token: 1..64 of a-z A-Z 0-9 '_' '-' '.'.
pm_err fin_token (pm_ctx_t *ctx, const char *field, const char *s);

//  True for a token as fin_token accepts it.
bool fin_token_ok (const char *s);

//  An id of type `prefix`, required.
pm_err fin_id (pm_ctx_t *ctx, const char *field, const char *s, const char *prefix);

//  An amount in minor units: 0 (when zero_ok) or 1 .. 10^13.
pm_err fin_money (pm_ctx_t *ctx, const char *field, bool has, int64_t v,
                  bool zero_ok);

//  A payment mode of the enum.
pm_err fin_mode (pm_ctx_t *ctx, const char *field, bool has, int mode);

//  --- small helpers ---------------------------------------------------------

//  The site's local date of instant `at` (FIN_DATE_LEN bytes).
void fin_local_date (const Pm__Finance__SiteFinance *site, int64_t at, char *out);

//  The first instant after the site's local date `date` (valid): its
//  end, the next local midnight.
int64_t fin_local_day_end (const Pm__Finance__SiteFinance *site, const char *date);

//  The instants [*from, *to) that hold the site's local month `month`
//  (YYYY-MM, valid), see fin_tz_month_span.
void fin_local_month (const Pm__Finance__SiteFinance *site, const char *month,
                      int64_t *from, int64_t *to);

#endif
