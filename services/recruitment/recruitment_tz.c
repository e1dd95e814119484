/*  recruitment_tz.c: a site's local days through libical (see
    recruitment_tz.h). libical caches each zone it loads.               */
#include <ctype.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recruitment_tz.h"

#define ZONE_NAME_MAX 64

//  --------------------------------------------------------------------------
//  The zone named `zone`, or NULL; only plausible IANA names reach libical.
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
//  Parses YYYY-MM-DD (years 1900..2999) into a libical date.
static bool
s_parse_date (const char *s, struct icaltimetype *t)
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
    if (y < 1900 || y > 2999 || m < 1 || m > 12 || d < 1
        || d > icaltime_days_in_month (m, y)) {
        return false;
    }
    *t = icaltime_null_date ();
    t->year = y;
    t->month = m;
    t->day = d;
    return true;
}

//  --------------------------------------------------------------------------
bool
rec_tz_midnight (const char *zone, const char *date, int64_t *ms_out)
{
    icaltimezone *tz = s_zone (zone);
    struct icaltimetype t;
    if (!tz || !s_parse_date (date, &t)) {
        return false;
    }
    t.is_date = 0;
    t.hour = t.minute = t.second = 0;
    *ms_out = (int64_t) icaltime_as_timet_with_zone (t, tz) * 1000;
    return true;
}

//  --------------------------------------------------------------------------
bool
rec_tz_local (const char *zone, int64_t ms, char *date_out, int *minute_out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz) {
        return false;
    }
    //  Floor division: instants before 1970 still fall in the right second.
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    struct icaltimetype t = icaltime_from_timet_with_zone ((time_t) secs, 0, tz);
    if (date_out) {
        snprintf (date_out, REC_DATE_LEN, "%04d-%02d-%02d", t.year, t.month, t.day);
    }
    if (minute_out) {
        *minute_out = t.hour * 60 + t.minute;
    }
    return true;
}

//  --------------------------------------------------------------------------
bool
rec_date_add (const char *date, int days, char *out)
{
    struct icaltimetype t;
    if (!s_parse_date (date, &t)) {
        return false;
    }
    icaltime_adjust (&t, days, 0, 0, 0);
    snprintf (out, REC_DATE_LEN, "%04d-%02d-%02d", t.year, t.month, t.day);
    return true;
}

//  --------------------------------------------------------------------------
long
rec_date_diff (const char *from, const char *to)
{
    struct icaltimetype a, b;
    if (!s_parse_date (from, &a) || !s_parse_date (to, &b)) {
        return 0;
    }
    //  Both as midnight UTC: whole days apart, no zone involved.
    return (long) ((icaltime_as_timet (b) - icaltime_as_timet (a)) / 86400);
}

//  --------------------------------------------------------------------------
void
rec_tz_shutdown (void)
{
    icaltimezone_free_builtin_timezones ();
}
