/*  finance_budgets.h: budgets per site and month by category, the
    payroll and hire actuals projected from staffing's and recruitment's
    streams, and the budget-vs-actual report.                           */
#ifndef FINANCE_BUDGETS_H
#define FINANCE_BUDGETS_H

#include <stdint.h>

#include "finance_store.h"

//  A shift's cost: duration_ms x rate_minor per hour, rounded half up to
//  the minor unit (0 for an empty or negative duration or rate).
int64_t fin_shift_cost (int64_t duration_ms, int64_t rate_minor);

//  pm_store_migrate step "payroll-rate-history": a store from before the
//  rate history gets each known rate in force from the start and each
//  priced shift listed under its staff member (so that the next rate
//  change re-prices the shifts from then on).
pm_err fin_budgets_migrate (MDB_txn *txn, void *arg, long *changed);

//  Binds finance.SetBudget, GetBudget, BudgetReport and follows the
//  staffing and recruitment streams.
void fin_budgets_setup (pm_server_t *server);

#endif
