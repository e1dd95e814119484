/*  staffing_tz.h: local dates and times of a site, on libical.

    Sites keep an IANA zone ("Europe/Berlin"); weekly rules, shift
    templates, closures and expiry dates are local. Everything stored or
    published is an instant (ms UTC). These helpers turn one into the
    other with libical, which reads the system's tzdata: DST included,
    no zone rules written here.

    Dates are "YYYY-MM-DD" strings (they sort as they fall); a time of day
    is minutes since local midnight, and may pass 1440 to mean the next
    day (a night shift's end).                                            */
#ifndef STAFFING_TZ_H
#define STAFFING_TZ_H

#include <stdbool.h>
#include <stdint.h>

#define STF_DATE_LEN 11 //  "YYYY-MM-DD" and its NUL

//  True when `zone` is a time zone name the tz database knows.
bool stf_tz_valid (const char *zone);

//  The instant at local date `date`, `minute` minutes after its midnight,
//  in `zone`. Local times skipped by a DST change map as libical maps
//  them (an hour later); repeated ones to the later instant. False for
//  an unknown zone or a malformed date.
bool stf_tz_instant (const char *zone, const char *date, int minute,
                     int64_t *ms_out);

//  The local date (STF_DATE_LEN bytes), minute of the day and ISO weekday
//  (1 = Monday .. 7 = Sunday) of instant `ms` in `zone`. False for an
//  unknown zone.
bool stf_tz_local (const char *zone, int64_t ms, char *date_out,
                   int *minute_out, int *weekday_out);

//  True for a real calendar date written YYYY-MM-DD (years 1900..2999).
bool stf_date_valid (const char *date);

//  `date` moved by `days` (may be negative) into out (STF_DATE_LEN).
void stf_date_add (const char *date, int days, char *out);

//  Days from `from` to `to` (negative when `to` is earlier).
long stf_date_diff (const char *from, const char *to);

//  The ISO weekday of `date`: 1 = Monday .. 7 = Sunday.
int stf_date_weekday (const char *date);

//  "HH:MM" (00:00 .. 24:00) as minutes since midnight; -1 if malformed.
int stf_hhmm (const char *s);

//  Releases libical's cached zones (at exit, so leak checkers stay quiet).
void stf_tz_shutdown (void);

#endif
