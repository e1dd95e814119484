/*  patients_schema.h: what the patients service speaks (commands, events).
    Linked by the service and by pmctl.                                   */
#ifndef PATIENTS_SCHEMA_H
#define PATIENTS_SCHEMA_H

#include "patients.pb-c.h"
#include "pm_schema.h"

extern const pm_schema_t patients_schema;

#endif
