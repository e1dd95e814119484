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
//  An instant's local date and the instant its day ends.
bool
sch_tz_day (const char *zone, int64_t ms, char *date_out, int64_t *end_out)
{
    if (!sch_tz_date (zone, ms, date_out)) {
        return false;
    }
    if (!end_out) {
        return true;
    }
    //  A local day is 23 to 25 hours: 36 hours after its midnight is
    //  always inside the next one.
    int64_t midnight;
    char next[SCH_DATE_LEN];
    return sch_tz_midnight (zone, date_out, &midnight)
           && sch_tz_date (zone, midnight + 36 * 3600000LL, next)
           && sch_tz_midnight (zone, next, end_out);
}

//  The local wall time of an instant, as a floating time.
static struct icaltimetype
s_local (icaltimezone *tz, int64_t ms)
{
    int64_t secs = ms >= 0 ? ms / 1000 : -((-ms + 999) / 1000);
    return icaltime_from_timet_with_zone ((time_t) secs, 0, tz);
}

//  --------------------------------------------------------------------------
//  A series' starts, expanded by libical's RRULE iterator in local time.
int
sch_tz_expand (const char *zone, int64_t first, const char *freq, uint32_t interval,
               uint32_t count, int64_t until, int64_t *out, int max)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz || !freq) {
        return -1;
    }
    struct icalrecurrencetype rule;
    icalrecurrencetype_clear (&rule);
    if (strcmp (freq, "daily") == 0) {
        rule.freq = ICAL_DAILY_RECURRENCE;
    }
    else if (strcmp (freq, "weekly") == 0) {
        rule.freq = ICAL_WEEKLY_RECURRENCE;
    }
    else if (strcmp (freq, "monthly") == 0) {
        rule.freq = ICAL_MONTHLY_RECURRENCE;
    }
    else {
        return -1;
    }
    rule.interval = (short) (interval ? interval : 1);
    rule.count = (int) count;
    if (until > 0) {
        rule.until = s_local (tz, until);
    }
    //  DTSTART in the zone: the iterator keeps its wall time; each
    //  occurrence is turned back into an instant with that date's offset.
    struct icaltimetype start = s_local (tz, first);
    icalrecur_iterator *it = icalrecur_iterator_new (rule, start);
    if (!it) {
        return -1;
    }
    int n = 0;
    for (struct icaltimetype t = icalrecur_iterator_next (it);
         n < max && !icaltime_is_null_time (t); t = icalrecur_iterator_next (it)) {
        out[n++] = (int64_t) icaltime_as_timet_with_zone (t, tz) * 1000;
    }
    icalrecur_iterator_free (it);
    return n;
}

//  --------------------------------------------------------------------------
//  Local wall-clock difference.
bool
sch_tz_local_delta (const char *zone, int64_t from, int64_t to, int64_t *secs_out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz) {
        return false;
    }
    struct icaltimetype a = s_local (tz, from), b = s_local (tz, to);
    a.zone = b.zone = NULL;
    *secs_out = (int64_t) icaltime_as_timet (b) - (int64_t) icaltime_as_timet (a);
    return true;
}

//  --------------------------------------------------------------------------
//  Moves an instant by local wall-clock seconds.
bool
sch_tz_local_shift (const char *zone, int64_t ms, int64_t secs, int64_t *out)
{
    icaltimezone *tz = s_zone (zone);
    if (!tz) {
        return false;
    }
    struct icaltimetype t = s_local (tz, ms);
    icaltime_adjust (&t, 0, 0, 0, (int) secs);
    *out = (int64_t) icaltime_as_timet_with_zone (t, tz) * 1000 + ms % 1000;
    return true;
}

//  --------------------------------------------------------------------------
void
sch_tz_shutdown (void)
{
    icaltimezone_free_builtin_timezones ();
}
