/*  scheduling_views.h: read-only views over the appointments. The day
    sheet of a site (or one practitioner) on the site's local day,
    utilisation and no-show rate per practitioner over a local period, and
    an iCalendar (RFC 5545, built with libical) export of a practitioner's
    schedule.                                                             */
#ifndef SCHEDULING_VIEWS_H
#define SCHEDULING_VIEWS_H

#include "pm_server.h"

//  scheduling.DaySheet, scheduling.Utilisation, scheduling.ExportCalendar.
pm_err sch_day_sheet (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_utilisation (pm_ctx_t *ctx, const ProtobufCMessage *body);
pm_err sch_export_calendar (pm_ctx_t *ctx, const ProtobufCMessage *body);

#endif
