/*  finance_reports.h: revenue by site, practitioner, appointment type and
    month, and accounts receivable aging per site at a date.             */
#ifndef FINANCE_REPORTS_H
#define FINANCE_REPORTS_H

#include "finance_store.h"

//  Binds finance.RevenueReport and finance.AgingReport.
void fin_reports_setup (pm_server_t *server);

#endif
