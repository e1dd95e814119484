/*  scheduling_schema.h: what the scheduling service speaks (commands with
    the roles that may call them, events). Linked by the service and by
    pmctl.                                                                */
#ifndef SCHEDULING_SCHEMA_H
#define SCHEDULING_SCHEMA_H

#include "pm_schema.h"
#include "scheduling.pb-c.h"

extern const pm_schema_t scheduling_schema;

#endif
