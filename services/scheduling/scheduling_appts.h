/*  scheduling_appts.h: appointments. Booking (every resource in one
    transaction), the FHIR Appointment lifecycle with guarded transitions
    and a status history, reschedule (same identity and history), the
    day list, holds on a slot, and the timed work: lapsed holds and
    automatic no-shows after the site's grace period.                     */
#ifndef SCHEDULING_APPTS_H
#define SCHEDULING_APPTS_H

#include <stdbool.h>
#include <stdint.h>

#include "pm_server.h"
#include "scheduling.pb-c.h"

//  How long before its start a patient may arrive or check in (ms;
//  PM_SCHEDULING_EARLY_ARRIVAL_MINUTES, default 120). Fulfilment is
//  refused before the start.
extern int64_t sch_early_arrival_ms;

pm_err sch_book (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_get (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_list (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_arrive (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_check_in (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_fulfil (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_cancel (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_noshow (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_entered_in_error (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_reset (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_reschedule (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_hold (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_release_hold (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  Recurring series: book all occurrences or none; cancel or move one
//  occurrence or it and the following ones.
pm_err sch_book_series (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_cancel_series (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_reschedule_series (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  Re-validation (called by the staffing feed after its projection
//  changed with event `ev`): every live appointment of `staff` overlapping
//  [from, to) whose last booking check did not see `ev` (it had applied
//  less of staffing's stream) is checked again as a booking; one that
//  fails is flagged at risk with `cause` and the reason
//  (scheduling.appointment.at_risk), once per cause and reason.
pm_err sch_revalidate (pm_ctx_t *ctx, const char *staff, int64_t from, int64_t to,
                       const char *cause, const Pm__Event *ev);

//  A patient merge (back = false: `from` merged into `to`) re-points
//  every appointment of `from` to `to`; an unmerge (back = true, `from`
//  the survivor, `to` the record split off) points back those a merge
//  moved away from `to` (scheduling.appointment.repointed each).
pm_err sch_repoint (pm_ctx_t *ctx, const char *from, const char *to, bool back);

//  scheduling.ListAtRisk: the front desk's list of a site.
pm_err sch_list_at_risk (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  A patient id checked and resolved as a booking does (merged records
//  followed to the survivor, inactive refused) into out (PM_ID_MAX).
pm_err sch_appt_patient (pm_ctx_t *ctx, const char *id, const char *field, char *out);

//  Ends a hold: resources back, record gone, `event` emitted.
pm_err sch_hold_end (pm_ctx_t *ctx, Pm__Scheduling__Hold *h, const char *event);

//  Timed work: lapsed holds, then automatic no-shows.
pm_err sch_tick (pm_ctx_t *ctx);

#endif
