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

//  The local date of instant `ms` in `zone` (as sch_tz_date) and, when
//  end_out is given, the instant of the next local midnight (the end of
//  that day, 23 to 25 hours after its start); false for an unknown zone.
bool sch_tz_day (const char *zone, int64_t ms, char *date_out, int64_t *end_out);

//  The starts of a series beginning at `first`, repeated `freq`
//  ("daily", "weekly", "monthly") every `interval` periods, `count` times
//  or until `until` (ms UTC, inclusive; 0 = none), at the same local wall
//  time in `zone` (DST-correct; a monthly date a month lacks is skipped,
//  RFC 5545). Writes at most `max` into out; returns how many, -1 for an
//  unknown zone or frequency.
int sch_tz_expand (const char *zone, int64_t first, const char *freq, uint32_t interval,
                   uint32_t count, int64_t until, int64_t *out, int max);

//  The local wall-clock difference (seconds) from `from` to `to` in zone.
bool sch_tz_local_delta (const char *zone, int64_t from, int64_t to, int64_t *secs_out);

//  `ms` moved by `secs` of local wall-clock time in `zone` (ms UTC).
bool sch_tz_local_shift (const char *zone, int64_t ms, int64_t secs, int64_t *out);

//  Releases libical's cached zones (at exit).
void sch_tz_shutdown (void);

#endif
