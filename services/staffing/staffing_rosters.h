/*  staffing_rosters.h: shift templates, shifts (assigned, open, claimed,
    swapped), coverage rules and the coverage-gap report.

    A shift's working hours are published: staffing.shift.assigned adds
    [start, end) for staff_id at site_id in role; staffing.shift.unassigned
    withdraws them for released_staff_id. Scheduling offers slots from
    these alone.                                                          */
#ifndef STAFFING_ROSTERS_H
#define STAFFING_ROSTERS_H

#include "pm_server.h"

//  Binds the roster commands.
void stf_rosters_setup (pm_server_t *server);

//  Takes `staff_id` off their assigned shifts that overlap [from, to)
//  (only those wholly inside it when `within`) and, if `after_date` is
//  given, start on a later local date; each becomes open again
//  (staffing.shift.unassigned, with `reason`). For approved leave (partial
//  leave: `within`) and termination.
pm_err stf_rosters_release (pm_ctx_t *ctx, const char *staff_id, int64_t from,
                            int64_t to, bool within, const char *after_date,
                            const char *reason);

#endif
