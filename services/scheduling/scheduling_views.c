/*  scheduling_views.c: the day sheet, utilisation and the iCalendar
    export (see scheduling_views.h). Everything is read from the 'a'
    index (site, start) and the 'w' index (working hours); local days are
    turned into instants by libical (scheduling_tz.c), so a DST day is 23
    or 25 hours long and is read as such.                                 */
#include <libical/ical.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scheduling_store.h"
#include "scheduling_tz.h"
#include "scheduling_views.h"

typedef Pm__Scheduling__Appointment appt_t;

#define ST(x) PM__SCHEDULING__APPOINTMENT_STATUS__APPOINTMENT_##x
#define DAY_MAX 1000          //  lines on one day sheet
#define EXPORT_MAX 5000       //  events in one export
#define PERIOD_MAX_MS (92 * 86400000LL)

//  The appointment's callback while scanning a site's 'a' index.
typedef pm_err (s_visit_fn) (void *arg, appt_t *a);

//  --------------------------------------------------------------------------
//  Calls fn for each appointment of `site` starting in [from, to), by
//  start; fn owns the appointment. Stops after `max` visits.
static pm_err
s_scan (MDB_txn *txn, const char *site, int64_t from, int64_t to, size_t max,
        s_visit_fn *fn, void *arg)
{
    pm_key_t k;
    pm_key_init (&k, 'a');
    pm_key_str (&k, site);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) from);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    pm_err rc = PM_OK;
    size_t n = 0;
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && n < max && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        const uint8_t *kb = key.mv_data;
        if ((int64_t) pm_be64_get (kb + plen) >= to) {
            break;
        }
        appt_t *a = NULL;
        rc = sch_load (txn, sch_db.appts, (const char *) kb + plen + 8,
                       &pm__scheduling__appointment__descriptor, (ProtobufCMessage **) &a);
        if (rc == PM_OK) {
            rc = fn (arg, a);
            n++;
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return rc;
}

//  --------------------------------------------------------------------------
//  The site (caller frees) after the scope check.
static pm_err
s_site (pm_ctx_t *ctx, const char *id, Pm__Staffing__Site **out)
{
    *out = NULL;
    if (!id || !*id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id", "site_id is required");
    }
    pm_err rc = sch_site_access (ctx, id, "site_id");
    if (rc != PM_OK) {
        return rc;
    }
    rc = sch_load (pm_ctx_txn (ctx), sch_db.sites, id, &pm__staffing__site__descriptor,
                   (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, "site_id", "site %.64s is not known", id);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  The date after `date` (plain calendar arithmetic, no zone involved).
static void
s_next_date (const char *date, char *out)
{
    struct tm tm = {0};
    tm.tm_year = atoi (date) - 1900;
    tm.tm_mon = atoi (date + 5) - 1;
    tm.tm_mday = atoi (date + 8) + 1;
    tm.tm_hour = 12;
    time_t t = timegm (&tm);
    gmtime_r (&t, &tm);
    snprintf (out, SCH_DATE_LEN, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1,
              tm.tm_mday);
}

//  --------------------------------------------------------------------------
//  [from, to) of local dates first..last (inclusive) in the site's zone.
static pm_err
s_local_days (pm_ctx_t *ctx, const Pm__Staffing__Site *site, const char *first,
              const char *first_field, const char *last, const char *last_field,
              int64_t *from, int64_t *to)
{
    if (!sch_tz_midnight (site->time_zone, first, from)) {
        return pm_ctx_fail (ctx, PM_EINVAL, first_field, "%s: a date YYYY-MM-DD is required",
                            first_field);
    }
    char after[SCH_DATE_LEN];
    if (!last || !sch_tz_midnight (site->time_zone, last, to)) {
        return pm_ctx_fail (ctx, PM_EINVAL, last_field, "%s: a date YYYY-MM-DD is required",
                            last_field);
    }
    s_next_date (last, after);
    sch_tz_midnight (site->time_zone, after, to);
    if (*to <= *from) {
        return pm_ctx_fail (ctx, PM_EINVAL, last_field, "%s: not before %s", last_field,
                            first_field);
    }
    return PM_OK;
}

//  "HH:MM" of an instant in a zone.
static void
s_hhmm (const char *zone, int64_t ms, char *out, size_t len)
{
    icaltimezone *tz = icaltimezone_get_builtin_timezone (zone);
    struct icaltimetype t = icaltime_from_timet_with_zone ((time_t) (ms / 1000), 0, tz);
    snprintf (out, len, "%02d:%02d", t.hour, t.minute);
}

//  --- day sheet ---------------------------------------------------------------

typedef struct {
    pm_ctx_t *ctx;
    const char *practitioner;
    const char *zone;
    Pm__Scheduling__DaySheetLine **lines;
    size_t n, cap;
    char type_id[PM_ID_MAX], type_name[128];
} s_sheet_t;

//  A name from a message store (types, resources) into out, "" if none.
static void
s_name_of (MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
           const char *id, char *out, size_t len)
{
    *out = 0;
    ProtobufCMessage *m = NULL;
    if (id && *id && sch_load (txn, dbi, id, desc, &m) == PM_OK) {
        const char *name = desc == &pm__scheduling__appointment_type__descriptor
                               ? ((Pm__Scheduling__AppointmentType *) m)->name
                               : ((Pm__Staffing__Resource *) m)->name;
        snprintf (out, len, "%s", name ? name : "");
        protobuf_c_message_free_unpacked (m, NULL);
    }
}

//  One appointment onto the sheet (the practitioner's, not in error).
static pm_err
s_sheet_add (void *arg, appt_t *a)
{
    s_sheet_t *s = arg;
    if (a->status == ST (ENTERED_IN_ERROR)
        || (s->practitioner && strcmp (a->practitioner_id, s->practitioner) != 0)) {
        pm__scheduling__appointment__free_unpacked (a, NULL);
        return PM_OK;
    }
    MDB_txn *txn = pm_ctx_txn (s->ctx);
    pm_ctx_audit (s->ctx, a->id, a->site_id);
    Pm__Scheduling__DaySheetLine *l = malloc (sizeof *l);
    pm__scheduling__day_sheet_line__init (l);
    l->appointment = a;
    l->local_start = malloc (8);
    l->local_end = malloc (8);
    s_hhmm (s->zone, a->start, l->local_start, 8);
    s_hhmm (s->zone, a->end, l->local_end, 8);
    if (strcmp (s->type_id, a->type_id ? a->type_id : "") != 0) {
        snprintf (s->type_id, sizeof s->type_id, "%s", a->type_id ? a->type_id : "");
        s_name_of (txn, sch_db.types, &pm__scheduling__appointment_type__descriptor,
                   a->type_id, s->type_name, sizeof s->type_name);
    }
    l->type_name = strdup (s->type_name);
    char room[128];
    s_name_of (txn, sch_db.resources, &pm__staffing__resource__descriptor, a->room_id,
               room, sizeof room);
    l->room_name = strdup (room);
    l->has_at_risk = true;
    l->at_risk = a->n_risks > 0;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 32;
        s->lines = realloc (s->lines, s->cap * sizeof *s->lines);
    }
    s->lines[s->n++] = l;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  scheduling.DaySheet: a site's (or a practitioner's) local day.
pm_err
sch_day_sheet (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__GetDaySheet *req = (const Pm__Scheduling__GetDaySheet *) body;
    Pm__Staffing__Site *site = NULL;
    pm_err rc = s_site (ctx, req ? req->site_id : NULL, &site);
    int64_t from = 0, to = 0;
    if (rc == PM_OK) {
        rc = s_local_days (ctx, site, req->date, "date", req->date, "date", &from, &to);
    }
    s_sheet_t s = {ctx, NULL, NULL, NULL, 0, 0, "", ""};
    if (rc == PM_OK) {
        s.practitioner = req->practitioner_id && *req->practitioner_id
                             ? req->practitioner_id : NULL;
        s.zone = site->time_zone;
        rc = s_scan (pm_ctx_txn (ctx), site->id, from, to, DAY_MAX, s_sheet_add, &s);
    }
    if (rc == PM_OK) {
        Pm__Scheduling__DaySheet out = PM__SCHEDULING__DAY_SHEET__INIT;
        out.site_id = site->id;
        out.date = req->date;
        out.time_zone = site->time_zone;
        out.has_from = out.has_to = true;
        out.from = from;
        out.to = to;
        out.n_lines = s.n;
        out.lines = s.lines;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < s.n; i++) {
        pm__scheduling__day_sheet_line__free_unpacked (s.lines[i], NULL);
    }
    free (s.lines);
    if (site) {
        pm__staffing__site__free_unpacked (site, NULL);
    }
    return rc;
}

//  --- utilisation ---------------------------------------------------------------

typedef struct {
    Pm__Scheduling__UtilisationRow **rows;
    size_t n, cap;
    const char *practitioner;
    int64_t from, to;
} s_util_t;

//  The row of a practitioner, made when missing.
static Pm__Scheduling__UtilisationRow *
s_row (s_util_t *u, const char *id)
{
    for (size_t i = u->n; i > 0; i--) {
        if (strcmp (u->rows[i - 1]->practitioner_id, id) == 0) {
            return u->rows[i - 1];
        }
    }
    Pm__Scheduling__UtilisationRow *r = calloc (1, sizeof *r);
    pm__scheduling__utilisation_row__init (r);
    r->practitioner_id = strdup (id);
    if (u->n == u->cap) {
        u->cap = u->cap ? u->cap * 2 : 32;
        u->rows = realloc (u->rows, u->cap * sizeof *u->rows);
    }
    u->rows[u->n++] = r;
    return r;
}

//  The overlap of [a, b) with the period, in ms.
static int64_t
s_clip (const s_util_t *u, int64_t a, int64_t b)
{
    a = a > u->from ? a : u->from;
    b = b < u->to ? b : u->to;
    return b > a ? b - a : 0;
}

//  One appointment counted.
static pm_err
s_util_add (void *arg, appt_t *a)
{
    s_util_t *u = arg;
    if (!u->practitioner || strcmp (a->practitioner_id, u->practitioner) == 0) {
        Pm__Scheduling__UtilisationRow *r = s_row (u, a->practitioner_id);
        switch (a->status) {
            case ST (BOOKED): case ST (ARRIVED): case ST (CHECKED_IN):
            case ST (FULFILLED): case ST (NOSHOW):
                r->booked_minutes += s_clip (u, a->start, a->end) / SCH_MINUTE_MS;
                r->appointments++;
                r->fulfilled += a->status == ST (FULFILLED);
                r->noshows += a->status == ST (NOSHOW);
                break;
            case ST (CANCELLED):
                r->cancelled++;
                break;
            default:
                break;
        }
    }
    pm__scheduling__appointment__free_unpacked (a, NULL);
    return PM_OK;
}

//  A practitioner's rostered minutes at `site` inside the period.
static pm_err
s_rostered (MDB_txn *txn, const char *staff, const char *site, s_util_t *u,
            int64_t *minutes)
{
    pm_key_t k;
    pm_key_init (&k, 'w');
    pm_key_str (&k, staff);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) (u->from - SCH_SHIFT_MAX_MS));
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    size_t slen = strlen (site);
    int64_t ms = 0;
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size > plen + 8 && memcmp (key.mv_data, k.b, plen) == 0) {
        int64_t start = (int64_t) pm_be64_get ((const uint8_t *) key.mv_data + plen);
        if (start >= u->to) {
            break;
        }
        if (val.mv_size == 8 + slen && memcmp ((const uint8_t *) val.mv_data + 8, site, slen) == 0) {
            ms += s_clip (u, start, (int64_t) pm_be64_get (val.mv_data));
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    *minutes = ms / SCH_MINUTE_MS;
    return mrc == 0 || mrc == MDB_NOTFOUND ? PM_OK : pm_err_from_mdb (mrc);
}

//  num / den per mille, half up; 0 without a denominator.
static uint32_t
s_permille (int64_t num, int64_t den)
{
    return den > 0 ? (uint32_t) ((num * 2000 + den) / (2 * den)) : 0;
}

//  Rates of a row from its counts.
static void
s_rates (Pm__Scheduling__UtilisationRow *r)
{
    r->has_rostered_minutes = r->has_booked_minutes = r->has_appointments = true;
    r->has_fulfilled = r->has_noshows = r->has_cancelled = true;
    r->has_utilisation_permille = r->has_noshow_permille = true;
    r->utilisation_permille = s_permille (r->booked_minutes, r->rostered_minutes);
    r->noshow_permille = s_permille (r->noshows, (int64_t) r->fulfilled + r->noshows);
}

//  Orders rows by practitioner id.
static int
s_row_cmp (const void *a, const void *b)
{
    const Pm__Scheduling__UtilisationRow *x = *(Pm__Scheduling__UtilisationRow *const *) a;
    const Pm__Scheduling__UtilisationRow *y = *(Pm__Scheduling__UtilisationRow *const *) b;
    return strcmp (x->practitioner_id, y->practitioner_id);
}

//  --------------------------------------------------------------------------
//  scheduling.Utilisation: booked / rostered minutes and no-show rate.
pm_err
sch_utilisation (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__GetUtilisation *req = (const Pm__Scheduling__GetUtilisation *) body;
    Pm__Staffing__Site *site = NULL;
    pm_err rc = s_site (ctx, req ? req->site_id : NULL, &site);
    s_util_t u = {NULL, 0, 0, NULL, 0, 0};
    if (rc == PM_OK) {
        const char *last = req->to_date && *req->to_date ? req->to_date : req->from_date;
        rc = s_local_days (ctx, site, req->from_date, "from_date", last, "to_date",
                           &u.from, &u.to);
    }
    if (rc == PM_OK && u.to - u.from > PERIOD_MAX_MS + 2 * 3600000LL) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to_date", "to_date: at most 92 days after from_date");
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (rc == PM_OK) {
        u.practitioner = req->practitioner_id && *req->practitioner_id
                             ? req->practitioner_id : NULL;
        if (u.practitioner) {
            s_row (&u, u.practitioner);
        }
        else {
            //  Every practitioner attached to the site, booked or not.
            pm_key_t k;
            pm_key_init (&k, 's');
            pm_key_str (&k, site->id);
            MDB_cursor *cur;
            int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
            MDB_val key = {k.len, k.b}, val;
            mrc = mrc ? mrc : mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
            while (mrc == 0 && key.mv_size > k.len && memcmp (key.mv_data, k.b, k.len) == 0) {
                s_row (&u, (const char *) key.mv_data + k.len);
                mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
            }
            mdb_cursor_close (cur);
        }
        rc = s_scan (txn, site->id, u.from, u.to, SIZE_MAX, s_util_add, &u);
    }
    Pm__Scheduling__UtilisationRow total = PM__SCHEDULING__UTILISATION_ROW__INIT;
    for (size_t i = 0; rc == PM_OK && i < u.n; i++) {
        Pm__Scheduling__UtilisationRow *r = u.rows[i];
        rc = s_rostered (txn, r->practitioner_id, site->id, &u, &r->rostered_minutes);
        s_rates (r);
        total.rostered_minutes += r->rostered_minutes;
        total.booked_minutes += r->booked_minutes;
        total.appointments += r->appointments;
        total.fulfilled += r->fulfilled;
        total.noshows += r->noshows;
        total.cancelled += r->cancelled;
    }
    if (rc == PM_OK) {
        if (u.n > 1) { //  a site nobody works at yet has no rows, and a NULL array (F10)
            qsort (u.rows, u.n, sizeof *u.rows, s_row_cmp);
        }
        s_rates (&total);
        Pm__Scheduling__UtilisationReport out = PM__SCHEDULING__UTILISATION_REPORT__INIT;
        out.site_id = site->id;
        out.from_date = req->from_date;
        out.to_date = req->to_date && *req->to_date ? req->to_date : req->from_date;
        out.has_from = out.has_to = true;
        out.from = u.from;
        out.to = u.to;
        out.n_practitioners = u.n;
        out.practitioners = u.rows;
        out.total = &total;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < u.n; i++) {
        pm__scheduling__utilisation_row__free_unpacked (u.rows[i], NULL);
    }
    free (u.rows);
    if (site) {
        pm__staffing__site__free_unpacked (site, NULL);
    }
    return rc;
}

//  --- iCalendar export ------------------------------------------------------------

typedef struct {
    pm_ctx_t *ctx;
    const char *practitioner;
    icalcomponent *cal;
    uint32_t events;
    char type_id[PM_ID_MAX], type_name[128];
} s_export_t;

//  An instant as a UTC DATE-TIME.
static struct icaltimetype
s_utc (int64_t ms)
{
    return icaltime_from_timet_with_zone ((time_t) (ms / 1000), 0,
                                          icaltimezone_get_utc_timezone ());
}

//  The VEVENT STATUS of an appointment status.
static enum icalproperty_status
s_ical_status (Pm__Scheduling__AppointmentStatus s)
{
    switch (s) {
        case ST (BOOKED): case ST (ARRIVED): case ST (CHECKED_IN): case ST (FULFILLED):
            return ICAL_STATUS_CONFIRMED;
        case ST (CANCELLED): case ST (NOSHOW):
            return ICAL_STATUS_CANCELLED;
        default:
            return ICAL_STATUS_TENTATIVE;
    }
}

//  One appointment as a VEVENT.
static pm_err
s_export_add (void *arg, appt_t *a)
{
    s_export_t *x = arg;
    if (a->status != ST (ENTERED_IN_ERROR) && strcmp (a->practitioner_id, x->practitioner) == 0
        && x->events < EXPORT_MAX) {
        pm_ctx_audit (x->ctx, a->id, a->site_id);
        if (strcmp (x->type_id, a->type_id ? a->type_id : "") != 0) {
            snprintf (x->type_id, sizeof x->type_id, "%s", a->type_id ? a->type_id : "");
            s_name_of (pm_ctx_txn (x->ctx), sch_db.types,
                       &pm__scheduling__appointment_type__descriptor, a->type_id,
                       x->type_name, sizeof x->type_name);
        }
        icalcomponent *ev = icalcomponent_vanew (
            ICAL_VEVENT_COMPONENT, icalproperty_new_uid (a->id),
            icalproperty_new_dtstamp (s_utc (a->updated_at ? a->updated_at : a->created_at)),
            icalproperty_new_dtstart (s_utc (a->start)), icalproperty_new_dtend (s_utc (a->end)),
            icalproperty_new_summary (x->type_name[0] ? x->type_name : "Appointment"),
            icalproperty_new_status (s_ical_status (a->status)),
            icalproperty_new_location (a->site_id), (void *) 0);
        icalcomponent_add_component (x->cal, ev);
        x->events++;
    }
    pm__scheduling__appointment__free_unpacked (a, NULL);
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  scheduling.ExportCalendar: a practitioner's schedule as iCalendar.
pm_err
sch_export_calendar (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ExportCalendar *req = (const Pm__Scheduling__ExportCalendar *) body;
    if (!req || !req->practitioner_id || !*req->practitioner_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "practitioner_id", "practitioner_id is required");
    }
    if (req->from < 0 || req->from > SCH_TIME_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "from", "from: ms UTC, 0 to year 9999");
    }
    if (req->to <= req->from || req->to - req->from > PERIOD_MAX_MS) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: after from, at most 92 days on");
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Staff *staff = NULL;
    pm_err rc = sch_load (txn, sch_db.staff, req->practitioner_id,
                          &pm__staffing__staff__descriptor, (ProtobufCMessage **) &staff);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, "practitioner_id", "practitioner %.64s is not known",
                            req->practitioner_id);
    }
    if (rc != PM_OK) {
        return rc;
    }
    size_t seen = 0;
    for (size_t i = 0; i < staff->n_sites; i++) {
        seen += pm_ctx_may_access_site (ctx, staff->sites[i]->site_id);
    }
    if (seen == 0) {
        pm__staffing__staff__free_unpacked (staff, NULL);
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, "practitioner_id",
                            "%.64s works at none of your sites", req->practitioner_id);
    }
    s_export_t x = {ctx, req->practitioner_id, NULL, 0, "", ""};
    x.cal = icalcomponent_vanew (ICAL_VCALENDAR_COMPONENT, icalproperty_new_version ("2.0"),
                                 icalproperty_new_prodid ("-//Praxis//scheduling//EN"),
                                 icalproperty_new_calscale ("GREGORIAN"), (void *) 0);
    for (size_t i = 0; rc == PM_OK && i < staff->n_sites; i++) {
        if (pm_ctx_may_access_site (ctx, staff->sites[i]->site_id)) {
            rc = s_scan (txn, staff->sites[i]->site_id, req->from, req->to, SIZE_MAX,
                         s_export_add, &x);
        }
    }
    if (rc == PM_OK) {
        char *text = icalcomponent_as_ical_string_r (x.cal);
        Pm__Scheduling__Calendar out = PM__SCHEDULING__CALENDAR__INIT;
        out.practitioner_id = req->practitioner_id;
        out.has_events = true;
        out.events = x.events;
        out.text = text;
        rc = pm_ctx_reply (ctx, &out.base);
        free (text);
    }
    icalcomponent_free (x.cal);
    pm__staffing__staff__free_unpacked (staff, NULL);
    return rc;
}
