/*  finance_sites.h: a site's finance settings (currency, zone, the fees
    of its policy) and its price list.                                   */
#ifndef FINANCE_SITES_H
#define FINANCE_SITES_H

#include "finance_store.h"
#include "staffing.pb-c.h"

//  Binds finance.SetSite, GetSite, SetPrice, ListPrices.
void fin_sites_setup (pm_server_t *server);

//  staffing.site.created|updated|closed|reopened: keeps staffing's view of
//  the site and moves the site's finance time zone with it (local days and
//  months follow the clinic's clock). A currency that differs from the
//  books' is refused, not followed.
pm_err fin_sites_apply_staffing (pm_ctx_t *ctx, const Pm__Event *event);

//  The price of `code` at `site` in force at `at` (caller frees);
//  PM_ENOTFOUND when there is none.
pm_err fin_price_at (MDB_txn *txn, const char *site, const char *code, int64_t at,
                     Pm__Finance__Price **out);

#endif
