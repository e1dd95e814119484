/*  scheduling_tz.c: site-local dates through libical (see
    scheduling_tz.h). libical caches each built-in zone it loads.        */
#include <ctype.h>
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduling_tz.h"

//  The zone named `zone`, or NULL. Only plausible IANA names ("Area/City",
//  "UTC") reach the library.
static icaltimezone *
s_zone (const char *zone)
{
    if (!zone || !*zone || strlen (zone) > 64 || zone[0] == '/' || strstr (zone, "..")) {
        return NULL;
    }
    for (const char *c = zone; *c; c++) {
        if (!isalnum ((unsigned char) *c) && !strchr ("/_-+", *c)) {
            return NULL;
        }
    }
    return icaltimezone_get_builtin_timezone (zone);
}

//  --------------------------------------------------------------------------
//  An instant's local date.
bool
sch_tz_date (const char *zone, int64_t ms, char *date_out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz) {
        return false;
    }
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    struct icaltimetype t = icaltime_from_timet_with_zone ((time_t) secs, 0, tz);
    snprintf (date_out, SCH_DATE_LEN, "%04d-%02d-%02d", t.year, t.month, t.day);
    return true;
}

//  --------------------------------------------------------------------------
//  Local midnight of a date.
bool
sch_tz_midnight (const char *zone, const char *date, int64_t *ms_out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz || !date || strlen (date) != 10 || date[4] != '-' || date[7] != '-') {
        return false;
    }
    struct icaltimetype t = icaltime_null_time ();
    t.year = atoi (date);
    t.month = atoi (date + 5);
    t.day = atoi (date + 8);
    if (t.month < 1 || t.month > 12 || t.day < 1
        || t.day > icaltime_days_in_month (t.month, t.year)) {
        return false;
    }
    *ms_out = (int64_t) icaltime_as_timet_with_zone (t, tz) * 1000;
    return true;
}

//  --------------------------------------------------------------------------
void
sch_tz_shutdown (void)
{
    icaltimezone_free_builtin_timezones ();
}
