/*  staffing_tz.c: site-local dates and times through libical (see
    staffing_tz.h). libical's built-in zones come from the system tzdata;
    it caches each zone it loads, so lookups after the first are cheap.  */
#include <ctype.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "staffing_tz.h"

#define ZONE_NAME_MAX 64

//  The zone named `zone`, or NULL. Names are checked first so that only
//  plausible IANA names ("Area/City", "UTC") reach the library.
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

//  Parses YYYY-MM-DD into a libical date; false when malformed.
static bool
s_parse_date (const char *date, struct icaltimetype *t)
{
    if (!stf_date_valid (date)) {
        return false;
    }
    *t = icaltime_null_date ();
    t->year = atoi (date);
    t->month = atoi (date + 5);
    t->day = atoi (date + 8);
    return true;
}

static void
s_format_date (struct icaltimetype t, char *out)
{
    snprintf (out, STF_DATE_LEN, "%04d-%02d-%02d", t.year, t.month, t.day);
}

//  --------------------------------------------------------------------------
//  True when the tz database knows `zone`.
bool
stf_tz_valid (const char *zone)
{
    return s_zone (zone) != NULL;
}

//  --------------------------------------------------------------------------
//  Local date and minute in `zone` to an instant.
bool
stf_tz_instant (const char *zone, const char *date, int minute, int64_t *ms_out)
{
    icaltimezone *tz = s_zone (zone);
    struct icaltimetype t;
    if (!tz || !s_parse_date (date, &t) || minute < 0) {
        return false;
    }
    //  Move whole days first so that "24:00" or a night shift's "30:00"
    //  lands on the right local date before the zone is applied.
    icaltime_adjust (&t, minute / 1440, 0, 0, 0);
    t.is_date = 0;
    t.hour = (minute % 1440) / 60;
    t.minute = minute % 60;
    t.second = 0;
    *ms_out = (int64_t) icaltime_as_timet_with_zone (t, tz) * 1000;
    return true;
}

//  --------------------------------------------------------------------------
//  An instant's local date, minute of the day and weekday in `zone`.
bool
stf_tz_local (const char *zone, int64_t ms, char *date_out, int *minute_out,
              int *weekday_out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz) {
        return false;
    }
    //  Floor division: instants before 1970 still fall in the right second.
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    struct icaltimetype t = icaltime_from_timet_with_zone ((time_t) secs, 0, tz);
    if (date_out) {
        s_format_date (t, date_out);
    }
    if (minute_out) {
        *minute_out = t.hour * 60 + t.minute;
    }
    if (weekday_out) {
        int dow = icaltime_day_of_week (t); //  1 = Sunday
        *weekday_out = dow == 1 ? 7 : dow - 1;
    }
    return true;
}

//  --------------------------------------------------------------------------
//  True for a real calendar date.
bool
stf_date_valid (const char *s)
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
    return y >= 1900 && y <= 2999 && m >= 1 && m <= 12 && d >= 1
           && d <= icaltime_days_in_month (m, y);
}

//  --------------------------------------------------------------------------
//  A date moved by whole days.
void
stf_date_add (const char *date, int days, char *out)
{
    struct icaltimetype t;
    if (!s_parse_date (date, &t)) {
        snprintf (out, STF_DATE_LEN, "%s", "0000-00-00");
        return;
    }
    icaltime_adjust (&t, days, 0, 0, 0);
    s_format_date (t, out);
}

//  --------------------------------------------------------------------------
//  Days between two dates.
long
stf_date_diff (const char *from, const char *to)
{
    struct icaltimetype a, b;
    if (!s_parse_date (from, &a) || !s_parse_date (to, &b)) {
        return 0;
    }
    //  Both as midnight UTC: whole days apart, no zone involved.
    time_t ta = icaltime_as_timet (a), tb = icaltime_as_timet (b);
    return (long) ((tb - ta) / 86400);
}

//  --------------------------------------------------------------------------
//  The ISO weekday of a date.
int
stf_date_weekday (const char *date)
{
    struct icaltimetype t;
    if (!s_parse_date (date, &t)) {
        return 0;
    }
    int dow = icaltime_day_of_week (t);
    return dow == 1 ? 7 : dow - 1;
}

//  --------------------------------------------------------------------------
//  "HH:MM" to minutes.
int
stf_hhmm (const char *s)
{
    if (!s || strlen (s) != 5 || s[2] != ':' || !isdigit ((unsigned char) s[0])
        || !isdigit ((unsigned char) s[1]) || !isdigit ((unsigned char) s[3])
        || !isdigit ((unsigned char) s[4])) {
        return -1;
    }
    int h = (s[0] - '0') * 10 + s[1] - '0', m = (s[3] - '0') * 10 + s[4] - '0';
    if (m > 59 || h > 24 || (h == 24 && m != 0)) {
        return -1;
    }
    return h * 60 + m;
}

//  --------------------------------------------------------------------------
void
stf_tz_shutdown (void)
{
    icaltimezone_free_builtin_timezones ();
}
