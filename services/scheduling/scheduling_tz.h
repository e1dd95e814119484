/*  scheduling_tz.h: a site's local dates, through libical.

    Sites keep an IANA zone; their closures are local dates. Appointments
    are instants (ms UTC). libical reads the system tzdata, DST included:
    no zone rules are written here.                                       */
#ifndef SCHEDULING_TZ_H
#define SCHEDULING_TZ_H

#include <stdbool.h>
#include <stdint.h>

#define SCH_DATE_LEN 11 //  "YYYY-MM-DD" and its NUL

//  The local date of instant `ms` in `zone` into date_out (SCH_DATE_LEN);
//  false for an unknown zone.
bool sch_tz_date (const char *zone, int64_t ms, char *date_out);

//  The instant of local midnight starting `date` in `zone`; false for an
//  unknown zone or a malformed date.
bool sch_tz_midnight (const char *zone, const char *date, int64_t *ms_out);

//  Releases libical's cached zones (at exit).
void sch_tz_shutdown (void);

#endif
