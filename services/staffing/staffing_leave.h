/*  staffing_leave.h: leave types, yearly allocations and balances, and
    leave requests with their decisions.                                  */
#ifndef STAFFING_LEAVE_H
#define STAFFING_LEAVE_H

#include <stddef.h>

#include "pm_server.h"

//  Binds the leave commands.
void stf_leave_setup (pm_server_t *server);

//  Looks for approved leave of `staff_id` overlapping [start, end). PM_OK
//  with why[0] == 0 when there is none; otherwise `why` (len bytes) names
//  it. Other codes are store errors.
pm_err stf_leave_during (pm_ctx_t *ctx, const char *staff_id, int64_t start,
                         int64_t end, char *why, size_t len);

#endif
