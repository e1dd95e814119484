/*  staffing_leave.h: leave types (hours per day, yearly or monthly
    accrual, carry-over, pro-rating), yearly allocations, balances in days
    and minutes, and leave requests (whole days, across a year end too,
    or part of one date) with their decisions.                            */
#ifndef STAFFING_LEAVE_H
#define STAFFING_LEAVE_H

#include <stddef.h>

#include "pm_server.h"

//  Binds the leave commands.
void stf_leave_setup (pm_server_t *server);

//  Looks for approved leave of `staff_id` that rules out working [start,
//  end): whole-day leave overlapping it, or partial leave covering all of
//  it (partial leave leaves the rest of a shift to be worked: scheduling
//  blocks the window itself). PM_OK with why[0] == 0 when there is none;
//  otherwise `why` (len bytes) names it. Other codes are store errors.
pm_err stf_leave_during (pm_ctx_t *ctx, const char *staff_id, int64_t start,
                         int64_t end, char *why, size_t len);

//  A stretch of time, ms UTC, [start, end).
typedef struct {
    int64_t start, end;
} stf_span_t;

//  The approved partial leave of `staff_id` overlapping [start, end),
//  into `out` (at most `max`; *n how many): the hours someone rostered
//  for a shift is not there.
pm_err stf_leave_partial (MDB_txn *txn, const char *staff_id, int64_t start,
                          int64_t end, stf_span_t *out, size_t max, size_t *n);

#endif
