/*  finance_schema.h: what the finance service speaks (commands with the
    roles that may call them, events). Linked by the service and by pmctl. */
#ifndef FINANCE_SCHEMA_H
#define FINANCE_SCHEMA_H

#include "finance.pb-c.h"
#include "pm_schema.h"

extern const pm_schema_t finance_schema;

#endif
