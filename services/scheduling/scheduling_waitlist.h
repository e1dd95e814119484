/*  scheduling_waitlist.h: the waitlist. Entries (patient, type, a
    practitioner or any, a UTC range and a site-local daily window,
    priority); a freed slot (cancel, no-show, reschedule away) is offered
    to the best matching entry as a hold; accept books it, decline or
    lapse passes it to the next.                                          */
#ifndef SCHEDULING_WAITLIST_H
#define SCHEDULING_WAITLIST_H

#include "pm_server.h"
#include "scheduling.pb-c.h"

//  How long an offer's hold lasts (ms; PM_SCHEDULING_OFFER_SECONDS).
extern int64_t sch_offer_ms;

pm_err sch_waitlist_add (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_waitlist_accept (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_waitlist_decline (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_waitlist_remove (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_waitlist_list (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  A slot of `type_id` with `practitioner` at `start` was freed: offers
//  it to the best waiting entry that matches and still fits (if any).
pm_err sch_waitlist_offer (pm_ctx_t *ctx, const char *type_id, const char *practitioner,
                           int64_t start);

//  An offer's hold ended without a booking (lapsed, or released): the
//  entry waits again without that slot, and the slot goes to the next.
pm_err sch_waitlist_hold_ended (pm_ctx_t *ctx, const Pm__Scheduling__Hold *h,
                                const char *why);

#endif
