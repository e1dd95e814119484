/*  scheduling_feeds.h: the projections scheduling keeps of the staffing
    and patients streams (pm_server_follow: each event applied in the
    transaction that moves the durable cursor; a replaced stream drops
    its projection and replays from seq 1).

    From staffing: sites (zone, closures, policy, status), resources
    (kind, active), staff (roles, sites, status), working hours
    (staffing.shift.assigned adds [start, end) at a site,
    staffing.shift.unassigned withdraws it for released_staff_id),
    approved leave (staffing.leave.approved adds its UTC range,
    .cancelled removes it), credentials (expiry and verification) and
    the credential types each role requires.
    From patients: each record's active flag and, while merged, its
    survivor (the REPLACED_BY link).                                      */
#ifndef SCHEDULING_FEEDS_H
#define SCHEDULING_FEEDS_H

#include "pm_server.h"

pm_err sch_feed_staffing (pm_ctx_t *ctx, const Pm__Event *event);
pm_err sch_reset_staffing (pm_ctx_t *ctx, const char *source);
pm_err sch_feed_patients (pm_ctx_t *ctx, const Pm__Event *event);
pm_err sch_reset_patients (pm_ctx_t *ctx, const char *source);

#endif
