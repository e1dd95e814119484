/*  scheduling_types.h: appointment types per site: duration, buffer,
    what a visit needs (a practitioner of a role, a room of a kind,
    equipment of a kind), capacity (group sessions), price code, in person
    or by video. Commands scheduling.DefineType, UpdateType, GetType,
    ListTypes; events scheduling.type.defined, scheduling.type.updated.  */
#ifndef SCHEDULING_TYPES_H
#define SCHEDULING_TYPES_H

#include "pm_server.h"
#include "scheduling.pb-c.h"

pm_err sch_define_type (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_update_type (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_get_type (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_list_types (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  Loads type `id` for `field` (caller frees); the refusal when unknown.
pm_err sch_type_load (pm_ctx_t *ctx, const char *id, const char *field,
                      Pm__Scheduling__AppointmentType **out);

#endif
