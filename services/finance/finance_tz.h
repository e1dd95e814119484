/*  finance_tz.h: a site's local dates, on libical (system tzdata, DST
    included; no zone rules written here). A site's day for payments and
    daily close is its local date. Dates are "YYYY-MM-DD" strings, which
    sort as they fall.                                                   */
#ifndef FINANCE_TZ_H
#define FINANCE_TZ_H

#include <stdbool.h>
#include <stdint.h>

//  True when `zone` is a time zone name the tz database knows.
bool fin_tz_valid (const char *zone);

//  The local date of instant `ms` in `zone` into out (11 bytes). False for
//  an unknown zone.
bool fin_tz_date (const char *zone, int64_t ms, char *out);

//  True for a real calendar date written YYYY-MM-DD (years 1900..2999).
bool fin_date_valid (const char *date);

//  True for a month written YYYY-MM.
bool fin_month_valid (const char *month);

//  The instants [*from, *to) (ms UTC) of local month `month` (YYYY-MM) in
//  `zone`: from its first local midnight to the next month's, widened
//  where a clock change skips or repeats a midnight, so that every
//  instant whose local date falls in the month is inside (a range scan
//  by time still checks each date). False for an unknown zone or month.
bool fin_tz_month_span (const char *zone, const char *month, int64_t *from,
                        int64_t *to);

//  The first instant (ms UTC) whose local date in `zone` is after `date`
//  (YYYY-MM-DD): the end of that local day, exact to the second whatever
//  the clock changes. False for an unknown zone or date.
bool fin_tz_day_end (const char *zone, const char *date, int64_t *end);

//  `date` moved by `days` into out (11 bytes).
void fin_date_add (const char *date, int days, char *out);

//  Whole days from date `a` to date `b` (negative when b is earlier).
int fin_date_diff (const char *a, const char *b);

//  Releases libical's cached zones (at exit).
void fin_tz_shutdown (void);

#endif
