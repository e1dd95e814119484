/*  finance_days.h: a site's days (what its payments add up to per mode),
    the daily close (counted vs expected, variance with a note, immutable
    once closed) and period locks for a month.                          */
#ifndef FINANCE_DAYS_H
#define FINANCE_DAYS_H

#include "finance_store.h"

//  Binds finance.CloseDay, GetDay, LockPeriod.
void fin_days_setup (pm_server_t *server);

//  Books `amount` (negative for money out) in `mode` on the site's first
//  open day on or after today (local; not closed, not in a locked month):
//  a correction after a close lands on the next open day. The day is
//  written to `date_out` (FIN_DATE_LEN bytes).
pm_err fin_day_post (pm_ctx_t *ctx, const Pm__Finance__SiteFinance *site, int mode,
                     int64_t amount, char *date_out);

#endif
