/*  recruitment_schema.h: the recruitment service's commands and events. */
#ifndef RECRUITMENT_SCHEMA_H
#define RECRUITMENT_SCHEMA_H

#include "pm_schema.h"
#include "recruitment.pb-c.h"

extern const pm_schema_t recruitment_schema;

#endif
