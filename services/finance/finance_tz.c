/*  finance_tz.c: a site's local dates through libical (see finance_tz.h).
    libical caches each zone it loads, so lookups after the first are
    cheap.                                                               */
#include <ctype.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finance_tz.h"

#define ZONE_NAME_MAX 64
#define DATE_LEN 11 //  "YYYY-MM-DD" and its NUL

//  The zone named `zone`, or NULL. Only plausible IANA names ("Area/City",
//  "UTC") reach the library.
static icaltimezone *
s_zone (const char *zone)
{
    if (!zone || !*zone || strlen (zone) > ZONE_NAME_MAX) {
        return NULL;
    }
    for (const char *c = zone; *c; c++) {
        if (!isalnum ((unsigned char) *c) && !strchr ("/_-+", *c)) {
            return NULL;
        }
    }
    if (strstr (zone, "..") || zone[0] == '/') {
        return NULL;
    }
    return icaltimezone_get_builtin_timezone (zone);
}

//  --------------------------------------------------------------------------
//  True when the tz database knows `zone`.
bool
fin_tz_valid (const char *zone)
{
    return s_zone (zone) != NULL;
}

//  --------------------------------------------------------------------------
//  An instant's local date in `zone`.
bool
fin_tz_date (const char *zone, int64_t ms, char *out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz) {
        return false;
    }
    //  Floor division: instants before 1970 still fall in the right second.
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    struct icaltimetype t = icaltime_from_timet_with_zone ((time_t) secs, 0, tz);
    snprintf (out, 11, "%04d-%02d-%02d", t.year, t.month, t.day);
    return true;
}

//  --------------------------------------------------------------------------
//  True for a real calendar date.
bool
fin_date_valid (const char *s)
{
    if (!s || strlen (s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !isdigit ((unsigned char) s[i])) {
            return false;
        }
    }
    int y = atoi (s), m = atoi (s + 5), d = atoi (s + 8);
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1) {
        return false;
    }
    return d <= icaltime_days_in_month (m, y);
}

//  --------------------------------------------------------------------------
//  True for YYYY-MM.
bool
fin_month_valid (const char *s)
{
    char date[16];
    if (!s || strlen (s) != 7) {
        return false;
    }
    snprintf (date, sizeof date, "%s-01", s);
    return fin_date_valid (date);
}

//  The instant of local midnight starting `date` as libical turns it (a
//  skipped or repeated midnight may come out an hour off either way).
static int64_t
s_midnight (icaltimezone *tz, const char *date)
{
    struct icaltimetype t = icaltime_null_time ();
    t.year = atoi (date);
    t.month = atoi (date + 5);
    t.day = atoi (date + 8);
    return (int64_t) icaltime_as_timet_with_zone (t, tz) * 1000;
}

//  --------------------------------------------------------------------------
//  A local month's instants, a little wide rather than short.
bool
fin_tz_month_span (const char *zone, const char *month, int64_t *from, int64_t *to)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz || !fin_month_valid (month)) {
        return false;
    }
    char first[DATE_LEN], next[DATE_LEN], date[DATE_LEN];
    snprintf (first, sizeof first, "%s-01", month);
    fin_date_add (first, icaltime_days_in_month (atoi (month + 5), atoi (month)), next);
    int64_t a = s_midnight (tz, first), b = s_midnight (tz, next);
    //  Local dates only go forward: once the instant before `a` is dated
    //  before the month, so is every earlier one; once `b` is dated after
    //  it, so is every later one. An hour back or on at a time covers any
    //  clock change (a day for the few that moved across the date line).
    for (int i = 0; i < 48 && fin_tz_date (zone, a - 1, date) && strcmp (date, first) >= 0;
         i++) {
        a -= 3600000;
    }
    for (int i = 0; i < 48 && fin_tz_date (zone, b, date) && strcmp (date, next) < 0; i++) {
        b += 3600000;
    }
    *from = a;
    *to = b;
    return true;
}

//  --------------------------------------------------------------------------
//  The end of a local day, searched for rather than computed: libical's
//  midnight may be an hour off where a clock change skips or repeats it.
bool
fin_tz_day_end (const char *zone, const char *date, int64_t *end)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz || !fin_date_valid (date)) {
        return false;
    }
    char next[DATE_LEN], d[DATE_LEN];
    fin_date_add (date, 1, next);
    int64_t guess = s_midnight (tz, next);
    //  Dated on or before `date` at lo, after it at hi (a day either side
    //  of the guess covers every offset change); halve down to the second.
    int64_t lo = guess - 86400000, hi = guess + 86400000;
    while (hi - lo > 1000) {
        int64_t mid = lo + (hi - lo) / 2;
        fin_tz_date (zone, mid, d);
        if (strcmp (d, date) > 0) {
            hi = mid;
        }
        else {
            lo = mid;
        }
    }
    //  Local dates change on whole seconds: the first one of `hi`.
    *end = hi - ((hi % 1000) + 1000) % 1000;
    fin_tz_date (zone, *end, d);
    if (strcmp (d, date) <= 0) {
        *end += 1000;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  A date moved by whole days.
void
fin_date_add (const char *date, int days, char *out)
{
    struct icaltimetype t = icaltime_null_date ();
    t.year = atoi (date);
    t.month = atoi (date + 5);
    t.day = atoi (date + 8);
    icaltime_adjust (&t, days, 0, 0, 0);
    snprintf (out, 11, "%04d-%02d-%02d", t.year, t.month, t.day);
}

//  --------------------------------------------------------------------------
//  Days between two calendar dates (no zone: both are local dates).
int
fin_date_diff (const char *a, const char *b)
{
    struct icaltimetype ta = icaltime_null_date (), tb = icaltime_null_date ();
    ta.year = atoi (a);
    ta.month = atoi (a + 5);
    ta.day = atoi (a + 8);
    tb.year = atoi (b);
    tb.month = atoi (b + 5);
    tb.day = atoi (b + 8);
    time_t sa = icaltime_as_timet (ta), sb = icaltime_as_timet (tb);
    return (int) ((sb - sa) / 86400);
}

//  --------------------------------------------------------------------------
//  Frees libical's zone cache.
void
fin_tz_shutdown (void)
{
    icaltimezone_free_builtin_timezones ();
}
