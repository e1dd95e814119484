/*  staffing_schema.h: what the staffing service speaks (commands with
    the roles that may call them, events). Linked by the service and by
    pmctl.                                                                */
#ifndef STAFFING_SCHEMA_H
#define STAFFING_SCHEMA_H

#include "pm_schema.h"
#include "staffing.pb-c.h"

extern const pm_schema_t staffing_schema;

#endif
