/*  recruitment_tz.h: a site's local days, through libical.

    Interview slots are instants (ms UTC) but are offered inside the
    site's local days (its IANA zone, followed from staffing). libical
    reads the system tzdata, DST included: no zone rules are written
    here (the approach of services/staffing/staffing_tz.c).               */
#ifndef RECRUITMENT_TZ_H
#define RECRUITMENT_TZ_H

#include <stdbool.h>
#include <stdint.h>

#define REC_DATE_LEN 11 //  "YYYY-MM-DD" and its NUL

//  The instant of local midnight starting `date` in `zone`; false for an
//  unknown zone or a malformed date.
bool rec_tz_midnight (const char *zone, const char *date, int64_t *ms_out);

//  The local date (REC_DATE_LEN bytes) and minute of the day of instant
//  `ms` in `zone`; false for an unknown zone.
bool rec_tz_local (const char *zone, int64_t ms, char *date_out, int *minute_out);

//  `date` moved by `days` into out (REC_DATE_LEN); false if malformed.
bool rec_date_add (const char *date, int days, char *out);

//  Days from `from` to `to` (negative when `to` is earlier); 0 if either
//  is malformed.
long rec_date_diff (const char *from, const char *to);

//  Releases libical's cached zones (at exit, so leak checkers stay quiet).
void rec_tz_shutdown (void);

#endif
