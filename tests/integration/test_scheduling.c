/*  test_scheduling.c: the scheduling service through its protocol, with
    the real staffing and patients services as the sources of its
    projections: appointment types, booking rules and their refusals
    (working hours, leave, closures, inactive and merged patients, bad
    input), many clients racing for one slot, the lifecycle with its
    guards, history, late cancels, reschedule and reset, slot search with
    buffers and holds, lapsed holds and automatic no-shows as the clock
    moves, site scope and audit, and a slot-search timing figure.

    Requests are JSON turned into each command's message by its schema. */
#include <libical/ical.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"
#include "patients_schema.h"
#include "scheduling_schema.h"
#include "staffing_schema.h"

#define HOUR_MS 3600000LL
#define MIN_MS 60000LL

//  --- helpers -----------------------------------------------------------------

//  The schema that names `type`.
static const pm_command_def_t *
s_def (const char *type)
{
    const pm_schema_t *all[] = {&scheduling_schema, &staffing_schema, &patients_schema};
    for (int i = 0; i < 3; i++) {
        const pm_command_def_t *d = pm_schema_command (all[i], type);
        if (d) {
            return d;
        }
    }
    return NULL;
}

//  Calls `type` with a JSON body; the reply's code (-1: none), quietly:
//  for polling until something becomes allowed.
static int
s_code (pm_client_t *client, const char *type, const char *fmt, ...)
{
    const pm_command_def_t *def = s_def (type);
    char text[2048], err[256];
    va_list args;
    va_start (args, fmt);
    vsnprintf (text, sizeof text, fmt, args);
    va_end (args);
    ProtobufCMessage *body = NULL;
    if (!def || pm_json_parse (def->request, text, strlen (text), &body, err, sizeof err)
                    != PM_OK) {
        return -1;
    }
    Pm__Reply *reply = itest_call (client, type, body);
    protobuf_c_message_free_unpacked (body, NULL);
    int code = reply ? (int) reply->code : -1;
    pm__reply__free_unpacked (reply, NULL);
    return code;
}

static long long
s_int (json_t *j, const char *path)
{
    json_t *v = itest_json_at (j, path);
    if (json_is_string (v)) {
        return atoll (json_string_value (v)); //  64-bit numbers may come as text
    }
    return (long long) json_integer_value (v);
}

//  True when the JSON message of an error contains `text`.
static bool
s_says (json_t *err, const char *text)
{
    bool ok = err && strstr (itest_json_str (err, "message"), text) != NULL;
    if (err && !ok) {
        fprintf (stderr, "    message \"%s\" lacks \"%s\"\n", itest_json_str (err, "message"), text);
    }
    json_decref (err);
    return ok;
}

//  Milliseconds UTC of "YYYY-MM-DDTHH:MM" UTC.
static int64_t
s_utc (const char *when)
{
    struct tm tm = {0};
    tm.tm_year = atoi (when) - 1900;
    tm.tm_mon = atoi (when + 5) - 1;
    tm.tm_mday = atoi (when + 8);
    tm.tm_hour = atoi (when + 11);
    tm.tm_min = atoi (when + 14);
    return (int64_t) timegm (&tm) * 1000;
}

//  The high seq of a service's stream.
static uint64_t
s_high_seq (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  Waits until scheduling has applied everything staffing and patients
//  have published so far.
static bool
s_synced (pm_client_t *sched, pm_client_t *staffing, pm_client_t *patients)
{
    uint64_t want_s = s_high_seq (staffing), want_p = s_high_seq (patients);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until) {
        Pm__Health *h = itest_health (sched);
        int done = 0;
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            const Pm__ConsumerLag *c = h->consumers[i];
            uint64_t want = strcmp (c->source, "staffing") == 0 ? want_s : want_p;
            done += c->cursor >= want && !c->catching_up;
        }
        pm__health__free_unpacked (h, NULL);
        if (done == 2) {
            return true;
        }
        zclock_sleep (10);
    }
    return false;
}

//  Events of `type` on the scheduling stream, as JSON (caller decrefs).
static json_t *
s_events (pm_client_t *client, const char *type)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    json_t *out = json_array ();
    for (long i = 0; i < n; i++) {
        const pm_event_def_t *def = pm_schema_event (&scheduling_schema, events[i]->type);
        if (strcmp (events[i]->type, type) == 0 && def && def->data) {
            json_array_append_new (out, pm_json_from_pb (def->data, events[i]->data.data,
                                                         events[i]->data.len));
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    return out;
}

//  --- the world: staffing, patients, scheduling ----------------------------------

typedef struct {
    itest_svc_t staffing, patients, sched;
    pm_client_t *stf, *pat, *sch;
    char doc[PM_ID_MAX], doc2[PM_ID_MAX], pm[PM_ID_MAX], room[PM_ID_MAX];
    char patient[PM_ID_MAX], other[PM_ID_MAX];
    char type[PM_ID_MAX];
    char clock[64];   //  the PM_CLOCK_OFFSET_MS setting of a restart
} s_world_t;

static const char *s_site_json
    = "{\"id\": \"north\", \"name\": \"North Clinic\", \"time_zone\": \"America/New_York\", "
      "\"currency\": \"USD\", \"opening_hours\": [{\"weekday\": 1, \"opens\": \"08:00\", "
      "\"closes\": \"18:00\"}, {\"weekday\": 2, \"opens\": \"08:00\", \"closes\": \"18:00\"}, "
      "{\"weekday\": 3, \"opens\": \"08:00\", \"closes\": \"18:00\"}, {\"weekday\": 4, "
      "\"opens\": \"08:00\", \"closes\": \"18:00\"}, {\"weekday\": 5, \"opens\": \"08:00\", "
      "\"closes\": \"18:00\"}], \"closures\": [%s], \"policy\": {\"late_cancel_minutes\": "
      "1440, \"no_show_grace_minutes\": 15}}";

//  A staff member; id into `id`.
static bool
s_onboard (pm_client_t *c, char *id, const char *role, const char *family)
{
    json_t *r = itest_req (c, 0, NULL, "staffing.Onboard",
                       "{\"staff\": {\"name\": {\"family\": \"%s\", \"given\": [\"Jo\"]}, "
                       "\"employment_type\": \"FULL_TIME\", \"pay_rate_minor\": 5000, "
                       "\"currency\": \"USD\", \"roles\": [\"%s\"], \"sites\": [{\"site_id\": "
                       "\"north\", \"fte_permille\": 500}], \"start_date\": \"2029-01-01\"}}",
                       family, role);
    snprintf (id, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    return pm_id_valid (id, "stf");
}

//  A patient at north; id into `id`.
static bool
s_patient (pm_client_t *c, char *id, const char *family, const char *dob)
{
    json_t *r = itest_req (c, 0, NULL, "patients.Register",
                       "{\"patient\": {\"name\": {\"family\": \"%s\", \"given\": [\"Ana\"]}, "
                       "\"birth_date\": \"%s\", \"home_site\": \"north\"}}", family, dob);
    snprintf (id, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    return pm_id_valid (id, "pat");
}

//  Starts the three services and fills them: site north (New York) with
//  an exam room, two physicians rostered 08:00-18:00 on Mon 4 .. Fri 8
//  March 2030 (EST: 13:00-23:00 UTC), a practice manager, two patients
//  and a 30-minute consultation with a 10-minute buffer.
static bool
s_world (s_world_t *w, const char *extra_env)
{
    memset (w, 0, sizeof *w);
    itest_svc_init (&w->staffing, "staffing", "pm-staffing");
    itest_svc_init (&w->patients, "patients", "pm-patients");
    itest_svc_init (&w->sched, "scheduling", "pm-scheduling");
    if (itest_start (&w->staffing) != 0 || itest_start (&w->patients) != 0) {
        return false;
    }
    itest_point_at (&w->sched, &w->staffing);
    itest_point_at (&w->sched, &w->patients);
    size_t n = 0;
    while (w->sched.env[n]) {
        n++;
    }
    w->sched.env[n++] = "PM_SCHEDULING_TICK_MS=100";
    w->sched.env[n++] = extra_env;
    if (itest_start (&w->sched) != 0) {
        return false;
    }
    w->stf = itest_client (&w->staffing);
    w->pat = itest_client (&w->patients);
    w->sch = itest_client (&w->sched);
    char site[2048];
    snprintf (site, sizeof site, s_site_json, "");
    json_t *r = itest_req (w->stf, 0, NULL, "staffing.CreateSite", "{\"site\": %s}", site);
    bool ok = r != NULL;
    json_decref (r);
    r = itest_req (w->stf, 0, NULL, "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"north\", \"name\": \"Room 1\", "
               "\"category\": \"ROOM\", \"kind\": \"exam-room\"}}");
    snprintf (w->room, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    ok = ok && s_onboard (w->stf, w->doc, "physician", "House")
         && s_onboard (w->stf, w->doc2, "physician", "Quinn")
         && s_onboard (w->stf, w->pm, "practice-manager", "Boss");
    r = ok ? itest_req (w->stf, 0, NULL, "staffing.CreateShiftTemplate",
                    "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                    "\"name\": \"Day\", \"starts\": \"08:00\", \"ends\": \"18:00\"}}")
           : NULL;
    char tpl[PM_ID_MAX];
    snprintf (tpl, sizeof tpl, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    const char *docs[] = {w->doc, w->doc2};
    for (int i = 0; ok && i < 2; i++) {
        r = itest_req (w->stf, 0, NULL, "staffing.AddShifts",
                   "{\"template_id\": \"%s\", \"from_date\": \"2030-03-04\", \"to_date\": "
                   "\"2030-03-08\", \"staff_id\": \"%s\"}", tpl, docs[i]);
        ok = r != NULL;
        json_decref (r);
    }
    ok = ok && s_patient (w->pat, w->patient, "Alvarez", "1980-02-03")
         && s_patient (w->pat, w->other, "Okafor", "1975-11-12")
         && s_synced (w->sch, w->stf, w->pat);
    r = ok ? itest_req (w->sch, 0, NULL, "scheduling.DefineType",
                    "{\"type\": {\"site_id\": \"north\", \"name\": \"Consultation\", "
                    "\"duration_minutes\": 30, \"buffer_minutes\": 10, \"practitioner_role\": "
                    "\"physician\", \"room_kind\": \"exam-room\", \"price_code\": \"cons-30\"}}")
           : NULL;
    snprintf (w->type, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    return ok && pm_id_valid (w->type, "atp") && pm_id_valid (w->room, "res");
}

static void
s_world_end (s_world_t *w)
{
    pm_client_destroy (&w->stf);
    pm_client_destroy (&w->pat);
    pm_client_destroy (&w->sch);
    itest_cleanup (&w->sched);
    itest_cleanup (&w->patients);
    itest_cleanup (&w->staffing);
}

//  Restarts scheduling with its clock at `at` (ms UTC) from now on.
static bool
s_restart_at (s_world_t *w, int64_t at)
{
    pm_client_destroy (&w->sch);
    itest_signal (&w->sched, SIGTERM);
    snprintf (w->clock, sizeof w->clock, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (at - pm_clock_wall_ms ()));
    size_t n = 0;
    while (w->sched.env[n] && w->sched.env[n] != w->clock) {
        n++;
    }
    w->sched.env[n] = w->clock;
    if (itest_start (&w->sched) != 0) {
        return false;
    }
    w->sch = itest_client (&w->sched);
    return w->sch != NULL;
}

//  Books `patient` with `doc` at UTC `when`; the reply or error as s_req.
static json_t *
s_book (s_world_t *w, int want, const char *field, const char *patient, const char *doc,
        const char *when)
{
    return itest_req (w->sch, want, field, "scheduling.Book",
                  "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": \"%s\", "
                  "\"start\": %lld}", patient, w->type, doc, (long long) s_utc (when));
}

//  --- tests ------------------------------------------------------------------------

//  Types: defined per site with their rules; bad input refused by field;
//  listed and versioned.
static void
s_test_types (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    json_t *t = itest_req (w.sch, 0, NULL, "scheduling.GetType", "{\"type_id\": \"%s\"}", w.type);
    CHECK (t && s_int (t, "duration_minutes") == 30 && s_int (t, "capacity") == 1);
    CHECK (strcmp (itest_json_str (t, "price_code"), "cons-30") == 0 && s_int (t, "version") == 1);
    json_decref (t);
    struct {
        const char *body, *field;
    } bad[] = {
        {"\"site_id\": \"nowhere\", \"name\": \"X\", \"duration_minutes\": 30, "
         "\"practitioner_role\": \"physician\"", "type.site_id"},
        {"\"site_id\": \"north\", \"name\": \"\", \"duration_minutes\": 30, "
         "\"practitioner_role\": \"physician\"", "type.name"},
        {"\"site_id\": \"north\", \"name\": \"X\", \"duration_minutes\": 2, "
         "\"practitioner_role\": \"physician\"", "type.duration_minutes"},
        {"\"site_id\": \"north\", \"name\": \"X\", \"duration_minutes\": 30, "
         "\"buffer_minutes\": 500, \"practitioner_role\": \"physician\"", "type.buffer_minutes"},
        {"\"site_id\": \"north\", \"name\": \"X\", \"duration_minutes\": 30", "type.practitioner_role"},
        {"\"site_id\": \"north\", \"name\": \"X\", \"duration_minutes\": 30, "
         "\"practitioner_role\": \"physician\", \"telehealth\": true, \"room_kind\": \"exam-room\"",
         "type.room_kind"},
        {"\"site_id\": \"north\", \"name\": \"X\", \"duration_minutes\": 30, "
         "\"practitioner_role\": \"physician\", \"capacity\": 51", "type.capacity"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *e = itest_req (w.sch, i == 0 ? PM_ENOTFOUND : PM_EINVAL, bad[i].field,
                           "scheduling.DefineType", "{\"type\": {%s}}", bad[i].body);
        CHECK (e);
        json_decref (e);
    }
    json_t *u = itest_req (w.sch, PM_ECONFLICT, "expected_version", "scheduling.UpdateType",
                       "{\"type\": {\"id\": \"%s\", \"name\": \"Long\", \"duration_minutes\": 60, "
                       "\"practitioner_role\": \"physician\"}, \"expected_version\": 7}", w.type);
    CHECK (u);
    json_decref (u);
    json_t *l = itest_req (w.sch, 0, NULL, "scheduling.ListTypes", "{\"site_id\": \"north\"}");
    CHECK (l && json_array_size (itest_json_at (l, "types")) == 1);
    json_decref (l);
    s_world_end (&w);
}

//  Booking takes practitioner and room together; every refusal names its
//  reason: taken, outside working hours, on leave, site closed, patient
//  inactive; a merged patient is booked as the survivor; bad input.
static void
s_test_booking_rules (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    //  Mon 4 March 2030 10:00 New York = 15:00 UTC.
    json_t *a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T15:00");
    CHECK (a && pm_id_valid (itest_json_str (a, "id"), "apt"));
    CHECK (strcmp (itest_json_str (a, "status"), "APPOINTMENT_BOOKED") == 0);
    CHECK (strcmp (itest_json_str (a, "room_id"), w.room) == 0);
    CHECK (s_int (a, "end") - s_int (a, "start") == 30 * MIN_MS);
    CHECK (strcmp (itest_json_str (a, "history[0].status"), "APPOINTMENT_BOOKED") == 0);
    CHECK (strcmp (itest_json_str (a, "history[0].actor"), "admin") == 0);
    json_decref (a);
    json_t *ev = s_events (w.sch, "scheduling.appointment.booked");
    CHECK (json_array_size (ev) == 1);
    CHECK (strcmp (itest_json_str (json_array_get (ev, 0), "patient_id"), w.patient) == 0);
    CHECK (strcmp (itest_json_str (json_array_get (ev, 0), "type_id"), w.type) == 0);
    json_decref (ev);

    //  The same doctor then: taken. The other doctor then: the only room
    //  is taken. Inside the buffer (10:30..10:40): taken.
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "start", w.other, w.doc, "2030-03-04T15:00"),
                   "already booked"));
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "room_id", w.other, w.doc2, "2030-03-04T15:15"),
                   "no room of kind exam-room"));
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "start", w.other, w.doc, "2030-03-04T15:35"),
                   "already booked"));
    a = s_book (&w, 0, NULL, w.other, w.doc, "2030-03-04T15:40");
    CHECK (a);
    json_decref (a);

    //  Outside working hours: 19:00 local = 00:00 UTC next day; Saturday.
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "start", w.other, w.doc, "2030-03-05T00:00"),
                   "outside working hours"));
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "start", w.other, w.doc, "2030-03-09T15:00"),
                   "outside working hours"));
    //  Instants out of range are refused, not wrapped (fuzz finding F7).
    json_t *bad = itest_req (w.sch, PM_EINVAL, "start", "scheduling.Book",
                             "{\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                             "\"practitioner_id\": \"%s\", \"start\": %lld}",
                             w.other, w.type, w.doc, (long long) (INT64_MAX - 1000));
    CHECK (bad);
    json_decref (bad);
    bad = itest_req (w.sch, PM_EINVAL, "from", "scheduling.List",
                     "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}",
                     (long long) INT64_MIN, (long long) INT64_MAX);
    CHECK (bad);
    json_decref (bad);
    bad = itest_req (w.sch, PM_EINVAL, "from", "scheduling.ExportCalendar",
                     "{\"practitioner_id\": \"%s\", \"from\": %lld, \"to\": %lld}",
                     w.doc, (long long) INT64_MIN, (long long) INT64_MAX);
    CHECK (bad);
    json_decref (bad);

    //  Leave on Wednesday, approved by the practice manager.
    json_t *r = itest_req (w.stf, 0, NULL, "staffing.SetLeaveType",
                       "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                       "\"yearly_days\": 25}}");
    CHECK (r);
    json_decref (r);
    r = itest_req (w.stf, 0, NULL, "staffing.RequestLeave",
               "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", \"start_date\": "
               "\"2030-03-06\", \"end_date\": \"2030-03-06\", \"reason\": \"family\"}", w.doc2);
    CHECK (r);
    char leave[PM_ID_MAX];
    snprintf (leave, sizeof leave, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (w.stf, 0, NULL, "staffing.ApproveLeave",
               "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}", leave, w.pm);
    CHECK (r);
    json_decref (r);

    //  A closure on Thursday (the site updated with it).
    char site[2048];
    snprintf (site, sizeof site, s_site_json,
              "{\"date\": \"2030-03-07\", \"reason\": \"Flooding\"}");
    r = itest_req (w.stf, 0, NULL, "staffing.UpdateSite",
               "{\"site\": %s, \"expected_version\": 1}", site);
    CHECK (r);
    json_decref (r);

    //  Patients: one deactivated, one merged into the other.
    char gone[PM_ID_MAX], dup[PM_ID_MAX];
    CHECK (s_patient (w.pat, gone, "Novak", "1960-06-06"));
    CHECK (s_patient (w.pat, dup, "Alvarez", "1980-02-03"));
    r = itest_req (w.pat, 0, NULL, "patients.Deactivate",
               "{\"id\": \"%s\", \"reason\": \"moved away\"}", gone);
    CHECK (r);
    json_decref (r);
    r = itest_req (w.pat, 0, NULL, "patients.Merge",
               "{\"survivor_id\": \"%s\", \"merged_id\": \"%s\", \"survivor_expected_version\": 1, "
               "\"merged_expected_version\": 1, \"reason\": \"same person\"}", w.patient, dup);
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));

    CHECK (s_says (s_book (&w, PM_ECONFLICT, "practitioner_id", w.other, w.doc2,
                           "2030-03-06T15:00"), "on approved leave"));
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "start", w.other, w.doc, "2030-03-07T15:00"),
                   "closed on 2030-03-07 (Flooding)"));
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "patient_id", gone, w.doc, "2030-03-05T15:00"),
                   "inactive"));
    a = s_book (&w, 0, NULL, dup, w.doc, "2030-03-05T15:00");
    CHECK (a && strcmp (itest_json_str (a, "patient_id"), w.patient) == 0);
    CHECK (strcmp (itest_json_str (a, "requested_patient_id"), dup) == 0);
    json_decref (a);

    //  Bad input, by field.
    CHECK (s_says (s_book (&w, PM_EINVAL, "patient_id", "nobody", w.doc, "2030-03-05T16:00"),
                   "patient id"));
    CHECK (s_says (s_book (&w, PM_ENOTFOUND, "patient_id", "pat_00000000000000000000000000",
                           w.doc, "2030-03-05T16:00"), "no patient"));
    CHECK (s_says (s_book (&w, PM_EINVAL, "practitioner_id", w.patient, "x", "2030-03-05T16:00"),
                   "staff id"));
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "practitioner_id", w.patient, w.pm,
                           "2030-03-05T16:00"), "not a physician"));
    CHECK (s_says (s_book (&w, PM_EINVAL, "start", w.patient, w.doc, "2020-03-05T16:00"),
                   "in the past"));
    json_t *e = itest_req (w.sch, PM_ENOTFOUND, "type_id", "scheduling.Book",
                       "{\"patient_id\": \"%s\", \"type_id\": \"atp_00000000000000000000000000\", "
                       "\"practitioner_id\": \"%s\", \"start\": %lld}", w.patient, w.doc,
                       (long long) s_utc ("2030-03-05T16:00"));
    CHECK (e);
    json_decref (e);
    s_world_end (&w);
}

//  16 clients send Book for the same slot at once: exactly one wins, the
//  others are told it is taken.
static void
s_test_booking_race (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    enum { N = 16 };
    pm_client_t *clients[N];
    const pm_command_def_t *def = s_def ("scheduling.Book");
    char json[512], err[128];
    snprintf (json, sizeof json,
              "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": \"%s\", "
              "\"start\": %lld}", w.patient, w.type, w.doc,
              (long long) s_utc ("2030-03-05T14:00"));
    ProtobufCMessage *body;
    CHECK (pm_json_parse (def->request, json, strlen (json), &body, err, sizeof err) == PM_OK);
    uint8_t buf[512];
    size_t len = protobuf_c_message_pack (body, buf);
    protobuf_c_message_free_unpacked (body, NULL);
    for (int i = 0; i < N; i++) {
        clients[i] = itest_client (&w.sched);
        CHECK (clients[i]);
    }
    for (int i = 0; i < N; i++) {
        pm_client_send (clients[i], 0, "scheduling.Book", buf, len);
    }
    int won = 0, taken = 0;
    for (int i = 0; i < N; i++) {
        Pm__Reply *r = pm_client_recv (clients[i], ITEST_WAIT_MS);
        CHECK (r);
        won += r->code == PM__CODE__OK;
        taken += r->code == PM__CODE__ECONFLICT && strstr (r->message, "already booked");
        pm__reply__free_unpacked (r, NULL);
        pm_client_destroy (&clients[i]);
    }
    CHECK (won == 1 && taken == N - 1);
    json_t *ev = s_events (w.sch, "scheduling.appointment.booked");
    CHECK (json_array_size (ev) == 1);
    json_decref (ev);
    s_world_end (&w);
}

//  The lifecycle: arrive, check in, fulfil; guarded (the allowed ones
//  named); cancel needs a reason and is flagged late inside the site's
//  window; a cancelled slot is free again; reschedule keeps id and
//  history; a practice manager's reset; history with actor and time.
static void
s_test_lifecycle (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    json_t *a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T15:00");
    CHECK (a);
    char id[PM_ID_MAX];
    snprintf (id, sizeof id, "%s", itest_json_str (a, "id"));
    json_decref (a);

    //  Fulfil straight from booked is refused, naming what is allowed.
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "appointment_id", "scheduling.Fulfil",
                          "{\"appointment_id\": \"%s\"}", id),
                   "allowed: arrived, checked-in, cancelled, noshow, entered-in-error"));
    //  No-show before the start, cancel without a reason: refused.
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "appointment_id", "scheduling.NoShow",
                          "{\"appointment_id\": \"%s\", \"reason\": \"x\"}", id),
                   "not started"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "reason", "scheduling.Cancel",
                          "{\"appointment_id\": \"%s\"}", id), "reason is required"));

    //  Reschedule to 11:00 (16:00 UTC): same id, history grows, the old
    //  time is free for someone else.
    a = itest_req (w.sch, 0, NULL, "scheduling.Reschedule",
               "{\"appointment_id\": \"%s\", \"start\": %lld, \"reason\": \"asked\"}", id,
               (long long) s_utc ("2030-03-04T16:00"));
    CHECK (a && strcmp (itest_json_str (a, "id"), id) == 0 && s_int (a, "start") == s_utc ("2030-03-04T16:00"));
    CHECK (json_array_size (itest_json_at (a, "history")) == 2 && s_int (a, "version") == 2);
    CHECK (s_int (a, "history[0].start") == s_utc ("2030-03-04T15:00"));
    json_decref (a);
    a = s_book (&w, 0, NULL, w.other, w.doc, "2030-03-04T15:00");
    CHECK (a);
    char second[PM_ID_MAX];
    snprintf (second, sizeof second, "%s", itest_json_str (a, "id"));
    json_decref (a);

    //  Cancel far ahead: not late; the slot is free again.
    a = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
               "{\"appointment_id\": \"%s\", \"reason\": \"feels better\"}", second);
    CHECK (a && strcmp (itest_json_str (a, "status"), "APPOINTMENT_CANCELLED") == 0);
    CHECK (!json_is_true (itest_json_at (a, "late_cancel")));
    CHECK (strcmp (itest_json_str (a, "status_reason"), "feels better") == 0);
    json_decref (a);
    a = s_book (&w, 0, NULL, w.other, w.doc, "2030-03-04T15:00");
    CHECK (a);
    json_decref (a);

    //  Reset is a practice manager's: a front-desk user is refused; the
    //  reset of the cancelled one finds its slot taken meanwhile.
    itest_principal ("desk", "front-desk", "north");
    pm_client_t *desk = itest_client_as (&w.sched, "desk");
    Pm__Reply *r = itest_call (desk, "scheduling.Reset", NULL);
    CHECK (r && r->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (r, NULL);
    pm_client_destroy (&desk);
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "start", "scheduling.Reset",
                          "{\"appointment_id\": \"%s\", \"reason\": \"mistake\"}", second),
                   "already booked"));
    //  Days before the visit nobody arrives or checks in (the bug the demo
    //  found: finance charged visits that had not happened).
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "appointment_id", "scheduling.Arrive",
                          "{\"appointment_id\": \"%s\"}", id),
                   "arrived is possible from 120 minutes before the start"));
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "appointment_id", "scheduling.CheckIn",
                          "{\"appointment_id\": \"%s\"}", id), "from 120 minutes"));
    json_t *later = s_book (&w, 0, NULL, w.other, w.doc2, "2030-03-04T17:00");
    CHECK (later);
    char late_id[PM_ID_MAX];
    snprintf (late_id, sizeof late_id, "%s", itest_json_str (later, "id"));
    json_decref (later);
    //  The clock a second before the 16:00 visit: the patient arrives
    //  and checks in; the 17:00 one arrives early but cannot be fulfilled
    //  before it starts; the 16:00 one can once it has.
    CHECK (s_restart_at (&w, s_utc ("2030-03-04T16:00") - 1000));
    const char *steps[][2] = {{"scheduling.Arrive", "APPOINTMENT_ARRIVED"},
                              {"scheduling.CheckIn", "APPOINTMENT_CHECKED_IN"}};
    for (int i = 0; i < 2; i++) {
        a = itest_req (w.sch, 0, NULL, steps[i][0], "{\"appointment_id\": \"%s\"}", id);
        CHECK (a && strcmp (itest_json_str (a, "status"), steps[i][1]) == 0);
        json_decref (a);
    }
    a = itest_req (w.sch, 0, NULL, "scheduling.Arrive", "{\"appointment_id\": \"%s\"}", late_id);
    CHECK (a);
    json_decref (a);
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "appointment_id", "scheduling.Fulfil",
                          "{\"appointment_id\": \"%s\"}", late_id), "not started yet"));
    int code = -1;
    for (int64_t until = itest_now () + ITEST_WAIT_MS; code != 0 && itest_now () < until;) {
        code = s_code (w.sch, "scheduling.Fulfil", "{\"appointment_id\": \"%s\"}", id);
        if (code != 0) {
            CHECK (code == PM_ECONFLICT);
            zclock_sleep (20);
        }
    }
    CHECK (code == 0);
    json_t *ev = s_events (w.sch, "scheduling.appointment.fulfilled");
    CHECK (json_array_size (ev) == 1);
    json_t *f = json_array_get (ev, 0);
    CHECK (strcmp (itest_json_str (f, "id"), id) == 0 && strcmp (itest_json_str (f, "patient_id"), w.patient) == 0);
    CHECK (strcmp (itest_json_str (f, "practitioner_id"), w.doc) == 0);
    CHECK (strcmp (itest_json_str (f, "site_id"), "north") == 0 && s_int (f, "end") > s_int (f, "start"));
    CHECK (strcmp (itest_json_str (f, "status"), "APPOINTMENT_FULFILLED") == 0);
    json_decref (ev);
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "appointment_id", "scheduling.Cancel",
                          "{\"appointment_id\": \"%s\", \"reason\": \"x\"}", id),
                   "allowed: entered-in-error"));

    a = itest_req (w.sch, 0, NULL, "scheduling.Reset",
               "{\"appointment_id\": \"%s\", \"reason\": \"billing fix\"}", id);
    CHECK (a && strcmp (itest_json_str (a, "status"), "APPOINTMENT_BOOKED") == 0);
    CHECK (json_array_size (itest_json_at (a, "history")) == 6);
    CHECK (strcmp (itest_json_str (a, "history[5].reason"), "billing fix") == 0);
    CHECK (s_int (a, "history[5].at") > 0);
    json_decref (a);
    s_world_end (&w);
}

//  A late cancel (inside the 24 h window) is flagged; the service runs
//  with its clock moved to the morning of the visit.
static void
s_test_late_cancel (void)
{
    s_world_t w;
    char offset[64];
    //  Book first with the real clock, then restart an hour before.
    CHECK (s_world (&w, NULL));
    json_t *a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T15:00");
    CHECK (a);
    char id[PM_ID_MAX];
    snprintf (id, sizeof id, "%s", itest_json_str (a, "id"));
    json_decref (a);
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    snprintf (offset, sizeof offset, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc ("2030-03-04T14:00") - pm_clock_wall_ms ()));
    size_t n = 0;
    while (w.sched.env[n]) {
        n++;
    }
    w.sched.env[n - 1] = offset; //  replaces the empty slot left for extras
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    a = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
               "{\"appointment_id\": \"%s\", \"reason\": \"car broke down\"}", id);
    CHECK (a && json_is_true (itest_json_at (a, "late_cancel")));
    json_decref (a);
    s_world_end (&w);
}

//  Automatic no-show: with the clock past the start plus the site's
//  15-minute grace, the timer marks the booked appointment noshow (once,
//  with a reason and the slot given back); an arrived one is left alone.
static void
s_test_auto_noshow (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    json_t *a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T15:00");
    json_t *b = s_book (&w, 0, NULL, w.other, w.doc2, "2030-03-04T16:00");
    CHECK (a && b);
    char id[PM_ID_MAX], arrived[PM_ID_MAX];
    snprintf (id, sizeof id, "%s", itest_json_str (a, "id"));
    snprintf (arrived, sizeof arrived, "%s", itest_json_str (b, "id"));
    json_decref (a);
    json_decref (b);
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    //  14 minutes after the start: not yet.
    char offset[64];
    snprintf (offset, sizeof offset, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc ("2030-03-04T15:14") - pm_clock_wall_ms ()));
    size_t n = 0;
    while (w.sched.env[n]) {
        n++;
    }
    w.sched.env[n] = offset;
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    //  The 16:00 patient arrives 46 minutes early (inside the window).
    a = itest_req (w.sch, 0, NULL, "scheduling.Arrive", "{\"appointment_id\": \"%s\"}", arrived);
    CHECK (a);
    json_decref (a);
    uint64_t before = s_high_seq (w.sch);
    a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", id);
    CHECK (a && strcmp (itest_json_str (a, "status"), "APPOINTMENT_BOOKED") == 0);
    json_decref (a);
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    //  16 minutes after: the timer (every 100 ms) marks it.
    snprintf (offset, sizeof offset, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc ("2030-03-04T15:16") - pm_clock_wall_ms ()));
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    bool seen = false;
    while (!seen && itest_now () < until) {
        json_t *ev = s_events (w.sch, "scheduling.appointment.noshow");
        seen = json_array_size (ev) == 1;
        if (seen) {
            CHECK (strcmp (itest_json_str (json_array_get (ev, 0), "id"), id) == 0);
            CHECK (strstr (itest_json_str (json_array_get (ev, 0), "status_reason"), "15 minutes"));
        }
        json_decref (ev);
        zclock_sleep (20);
    }
    CHECK (seen && s_high_seq (w.sch) == before + 1);
    a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", arrived);
    CHECK (a && strcmp (itest_json_str (a, "status"), "APPOINTMENT_ARRIVED") == 0);
    json_decref (a);
    s_world_end (&w);
}

//  Slot search: inside working hours, around bookings and their buffers,
//  over every qualified practitioner; a hold hides its slot, books with
//  its id, and lapses by the timer when not used.
static void
s_test_slots_and_holds (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    json_t *a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T15:00");
    CHECK (a);
    json_decref (a);
    //  Doctor 1 on Monday 08:00-18:00 local: 40-minute steps, the booking
    //  at 10:00 (to 10:40 with its buffer) in the way.
    json_t *s = itest_req (w.sch, 0, NULL, "scheduling.FindSlots",
                       "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"from\": %lld, "
                       "\"to\": %lld, \"limit\": 500}", w.type, w.doc,
                       (long long) s_utc ("2030-03-04T00:00"), (long long) s_utc ("2030-03-05T00:00"));
    CHECK (s);
    size_t n = json_array_size (itest_json_at (s, "slots"));
    CHECK (n == 14);
    CHECK (s_int (s, "slots[0].start") == s_utc ("2030-03-04T13:00"));
    CHECK (s_int (s, "slots[3].start") == s_utc ("2030-03-04T15:40"));
    for (size_t i = 0; i < n; i++) {
        json_t *slot = json_array_get (itest_json_at (s, "slots"), i);
        CHECK (s_int (slot, "start") >= s_utc ("2030-03-04T15:40")
               || s_int (slot, "start") + 40 * MIN_MS <= s_utc ("2030-03-04T15:00"));
        CHECK (s_int (slot, "end") <= s_utc ("2030-03-04T23:00"));
        CHECK (strcmp (itest_json_str (slot, "room_id"), w.room) == 0);
    }
    json_decref (s);
    //  Any physician, first three: both doctors at 08:00 would need the
    //  one room each; the search offers the room to each in turn.
    s = itest_req (w.sch, 0, NULL, "scheduling.FindSlots",
               "{\"type_id\": \"%s\", \"from\": %lld, \"to\": %lld, \"limit\": 3}", w.type,
               (long long) s_utc ("2030-03-04T13:00"), (long long) s_utc ("2030-03-04T14:00"));
    CHECK (s && json_array_size (itest_json_at (s, "slots")) == 3);
    json_decref (s);
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "to", "scheduling.FindSlots",
                          "{\"type_id\": \"%s\", \"from\": %lld, \"to\": %lld}", w.type,
                          (long long) s_utc ("2030-03-04T00:00"),
                          (long long) s_utc ("2030-06-04T00:00")), "31 days"));

    //  A hold on 08:00 (13:00 UTC): another booking is refused, the
    //  holder books it with the hold's id.
    json_t *h = itest_req (w.sch, 0, NULL, "scheduling.HoldSlot",
                       "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"start\": %lld, "
                       "\"seconds\": 300}", w.type, w.doc, (long long) s_utc ("2030-03-04T13:00"));
    CHECK (h && pm_id_valid (itest_json_str (h, "id"), "hld"));
    char hold[PM_ID_MAX];
    snprintf (hold, sizeof hold, "%s", itest_json_str (h, "id"));
    json_decref (h);
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "start", w.other, w.doc, "2030-03-04T13:00"),
                   "booked or held"));
    a = itest_req (w.sch, 0, NULL, "scheduling.Book",
               "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": \"%s\", "
               "\"start\": %lld, \"hold_id\": \"%s\"}", w.other, w.type, w.doc,
               (long long) s_utc ("2030-03-04T13:00"), hold);
    CHECK (a && strcmp (itest_json_str (a, "hold_id"), hold) == 0);
    json_decref (a);
    CHECK (s_says (itest_req (w.sch, PM_ENOTFOUND, "hold_id", "scheduling.ReleaseHold",
                          "{\"hold_id\": \"%s\"}", hold), "no hold"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "seconds", "scheduling.HoldSlot",
                          "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"start\": %lld, "
                          "\"seconds\": 0}", w.type, w.doc,
                          (long long) s_utc ("2030-03-04T17:00")), "1..3600"));

    //  A one-second hold on 12:00 (17:00 UTC) lapses; the slot is free.
    h = itest_req (w.sch, 0, NULL, "scheduling.HoldSlot",
               "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"start\": %lld, "
               "\"seconds\": 1}", w.type, w.doc, (long long) s_utc ("2030-03-04T17:00"));
    CHECK (h);
    json_decref (h);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    size_t lapsed = 0;
    while (lapsed == 0 && itest_now () < until) {
        json_t *ev = s_events (w.sch, "scheduling.hold.lapsed");
        lapsed = json_array_size (ev);
        json_decref (ev);
        zclock_sleep (50);
    }
    CHECK (lapsed == 1);
    a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T17:00");
    CHECK (a);
    json_decref (a);
    s_world_end (&w);
}

//  Site scope and audit: a front-desk user of another site can neither
//  read nor book at north; reads and changes of an appointment are on
//  the audit log with its id.
static void
s_test_scope_and_audit (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    json_t *a = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-04T15:00");
    CHECK (a);
    char id[PM_ID_MAX];
    snprintf (id, sizeof id, "%s", itest_json_str (a, "id"));
    json_decref (a);
    itest_principal ("southdesk", "front-desk", "south");
    pm_client_t *south = itest_client_as (&w.sched, "southdesk");
    CHECK (s_says (itest_req (south, PM_EFORBIDDEN, "appointment_id", "scheduling.Get",
                          "{\"appointment_id\": \"%s\"}", id), "not one of yours"));
    CHECK (s_says (itest_req (south, PM_EFORBIDDEN, "type_id", "scheduling.Book",
                          "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": "
                          "\"%s\", \"start\": %lld}", w.other, w.type, w.doc,
                          (long long) s_utc ("2030-03-04T16:00")), "not one of yours"));
    pm_client_destroy (&south);
    a = itest_req (w.sch, 0, NULL, "scheduling.List",
               "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}",
               (long long) s_utc ("2030-03-04T00:00"), (long long) s_utc ("2030-03-05T00:00"));
    CHECK (a && json_array_size (itest_json_at (a, "appointments")) == 1);
    json_decref (a);
    //  The audit log holds the booking, the refused read and the list's
    //  read, each with the appointment's id.
    json_t *r = itest_req (w.sch, 0, NULL, "pm.AuditRead", "{}");
    CHECK (r);
    json_t *entries = json_object_get (r, "entries");
    int booked = 0, refused = 0, listed = 0;
    for (size_t i = 0; i < json_array_size (entries); i++) {
        json_t *e = json_array_get (entries, i);
        if (strcmp (itest_json_str (e, "subject"), id) != 0) {
            continue;
        }
        booked += strcmp (itest_json_str (e, "action"), "scheduling.Book") == 0;
        refused += strcmp (itest_json_str (e, "action"), "scheduling.Get") == 0
                   && strcmp (itest_json_str (e, "outcome"), "EFORBIDDEN") == 0;
        listed += strcmp (itest_json_str (e, "action"), "scheduling.List") == 0;
    }
    json_decref (r);
    CHECK (booked == 1 && refused == 1 && listed == 1);
    s_world_end (&w);
}

//  Slot search on a full calendar: a month of 30-minute bookings for 2
//  doctors is too few; this books every free slot of the rostered week
//  and then times searches (a day, one practitioner) through the
//  protocol, printing p50 and p99.
static void
s_test_search_timing (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    //  A type without a room, so both doctors fill their whole week.
    json_t *t = itest_req (w.sch, 0, NULL, "scheduling.DefineType",
                       "{\"type\": {\"site_id\": \"north\", \"name\": \"Call\", "
                       "\"duration_minutes\": 5, \"practitioner_role\": \"physician\", "
                       "\"telehealth\": true}}");
    CHECK (t);
    char call[PM_ID_MAX];
    snprintf (call, sizeof call, "%s", itest_json_str (t, "id"));
    json_decref (t);
    const char *docs[] = {w.doc, w.doc2};
    int booked = 0;
    for (int d = 0; d < 2; d++) {
        for (int64_t at = s_utc ("2030-03-04T13:00"); at < s_utc ("2030-03-08T23:00");
             at += 5 * MIN_MS) {
            if ((at - s_utc ("2030-03-04T13:00")) % (24 * HOUR_MS) >= 10 * HOUR_MS
                || (at / (5 * MIN_MS)) % 7 == 0) {
                continue; //  outside the shift, or left free (one slot in 7)
            }
            json_t *a = itest_req (w.sch, 0, NULL, "scheduling.Book",
                               "{\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                               "\"practitioner_id\": \"%s\", \"start\": %lld}", w.patient, call,
                               docs[d], (long long) at);
            CHECK (a);
            json_decref (a);
            booked++;
        }
    }
    enum { RUNS = 200 };
    int64_t took[RUNS];
    const pm_command_def_t *def = s_def ("scheduling.FindSlots");
    char json[256], err[128];
    snprintf (json, sizeof json,
              "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"from\": %lld, \"to\": %lld, "
              "\"limit\": 10}", call, w.doc, (long long) s_utc ("2030-03-06T00:00"),
              (long long) s_utc ("2030-03-07T00:00"));
    ProtobufCMessage *body;
    CHECK (pm_json_parse (def->request, json, strlen (json), &body, err, sizeof err) == PM_OK);
    for (int i = 0; i < RUNS; i++) {
        int64_t t0 = zclock_usecs ();
        Pm__Reply *r = itest_call (w.sch, "scheduling.FindSlots", body);
        took[i] = zclock_usecs () - t0;
        CHECK (r && r->code == 0);
        Pm__Scheduling__SlotList *l = pm__scheduling__slot_list__unpack (NULL, r->body.len,
                                                                         r->body.data);
        CHECK (l && l->n_slots == 10);
        pm__scheduling__slot_list__free_unpacked (l, NULL);
        pm__reply__free_unpacked (r, NULL);
    }
    protobuf_c_message_free_unpacked (body, NULL);
    for (int i = 1; i < RUNS; i++) {
        for (int j = i; j > 0 && took[j] < took[j - 1]; j--) {
            int64_t x = took[j];
            took[j] = took[j - 1];
            took[j - 1] = x;
        }
    }
    printf ("    FindSlots (one practitioner, one day, 10 slots) with %d bookings stored, "
            "round trip: p50 %lld us, p99 %lld us\n", booked, (long long) took[RUNS / 2],
            (long long) took[RUNS * 99 / 100]);
    fflush (stdout);
    CHECK (took[RUNS * 99 / 100] < 20000);
    s_world_end (&w);
}

//  Recurring series: a weekly 09:00 New York appointment stays 09:00
//  local across the DST change (14:00Z before, 13:00Z after); all or
//  nothing with a reason per refused occurrence; this-and-following moved
//  by local time and cancelled; one occurrence alone; bad rules refused.
static void
s_test_series (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    //  Mondays after the change (2030-03-10) too; 2030-04-01 left unrostered.
    json_t *r = itest_req (w.stf, 0, NULL, "staffing.CreateShiftTemplate",
                       "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                       "\"name\": \"Mon\", \"starts\": \"08:00\", \"ends\": \"18:00\"}}");
    CHECK (r);
    char tpl[PM_ID_MAX];
    snprintf (tpl, sizeof tpl, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (w.stf, 0, NULL, "staffing.AddShifts",
               "{\"template_id\": \"%s\", \"from_date\": \"2030-03-11\", \"to_date\": "
               "\"2030-03-25\", \"weekdays\": [1], \"staff_id\": \"%s\"}", tpl, w.doc);
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    const char *first = "{\"first\": {\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                        "\"practitioner_id\": \"%s\", \"start\": %lld}, \"rule\": %s}";
    long long at = (long long) s_utc ("2030-03-04T14:00"); //  09:00 EST
    //  Five weeks: the fifth Monday has no shift, so nothing is booked.
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "rule", "scheduling.BookSeries", first,
                          w.patient, w.type, w.doc, at,
                          "{\"frequency\": \"weekly\", \"count\": 5}"),
                   "#5 (2030-04-01): "));
    json_t *l = itest_req (w.sch, 0, NULL, "scheduling.List",
                       "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld}", at,
                       (long long) s_utc ("2030-04-02T00:00"));
    CHECK (l && json_array_size (itest_json_at (l, "appointments")) == 0);
    json_decref (l);
    //  Bad rules, by field.
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "rule.frequency", "scheduling.BookSeries", first,
                          w.patient, w.type, w.doc, at, "{\"frequency\": \"yearly\", \"count\": 2}"),
                   "yearly"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "rule.count", "scheduling.BookSeries", first,
                          w.patient, w.type, w.doc, at,
                          "{\"frequency\": \"weekly\", \"count\": 2, \"until\": 1900000000000}"),
                   "either count"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "rule.count", "scheduling.BookSeries", first,
                          w.patient, w.type, w.doc, at, "{\"frequency\": \"daily\", \"count\": 101}"),
                   "at most 100"));
    //  Until the last rostered Monday: four, at 09:00 local each.
    char rule[128];
    snprintf (rule, sizeof rule, "{\"frequency\": \"weekly\", \"until\": %lld}",
              (long long) s_utc ("2030-03-25T13:00"));
    json_t *ser = itest_req (w.sch, 0, NULL, "scheduling.BookSeries", first, w.patient, w.type, w.doc, at,
                 rule);
    CHECK (ser && json_array_size (itest_json_at (ser, "appointments")) == 4);
    const char *want[] = {"2030-03-04T14:00", "2030-03-11T13:00", "2030-03-18T13:00",
                          "2030-03-25T13:00"};
    char ids[4][PM_ID_MAX];
    for (int i = 0; i < 4; i++) {
        char path[64];
        snprintf (path, sizeof path, "appointments[%d].start", i);
        CHECK (s_int (ser, path) == s_utc (want[i]));
        snprintf (path, sizeof path, "appointments[%d].occurrence", i);
        CHECK (s_int (ser, path) == i + 1);
        snprintf (path, sizeof path, "appointments[%d].series_id", i);
        CHECK (strcmp (itest_json_str (ser, path), itest_json_str (ser, "series_id")) == 0);
        snprintf (path, sizeof path, "appointments[%d].id", i);
        snprintf (ids[i], PM_ID_MAX, "%s", itest_json_str (ser, path));
    }
    json_decref (ser);
    json_t *ev = s_events (w.sch, "scheduling.appointment.booked");
    CHECK (ev && json_array_size (ev) == 4);
    json_decref (ev);
    //  The second and following move to 10:30 local (14:30Z after DST).
    ser = itest_req (w.sch, 0, NULL, "scheduling.RescheduleSeries",
                 "{\"appointment_id\": \"%s\", \"following\": true, \"start\": %lld, "
                 "\"reason\": \"clinic hours\"}", ids[1], (long long) s_utc ("2030-03-11T14:30"));
    CHECK (ser && json_array_size (itest_json_at (ser, "appointments")) == 3);
    CHECK (s_int (ser, "appointments[2].start") == s_utc ("2030-03-25T14:30"));
    json_decref (ser);
    json_t *a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", ids[0]);
    CHECK (a && s_int (a, "start") == s_utc ("2030-03-04T14:00"));
    json_decref (a);
    //  Moving them past the shift's end is refused for each, nothing moves.
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "start", "scheduling.RescheduleSeries",
                          "{\"appointment_id\": \"%s\", \"following\": true, \"start\": %lld}",
                          ids[1], (long long) s_utc ("2030-03-11T21:45")),
                   "3 of 3 occurrences cannot be moved"));
    a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", ids[3]);
    CHECK (a && s_int (a, "start") == s_utc ("2030-03-25T14:30"));
    json_decref (a);
    //  Cancel the third and following; then one occurrence alone.
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "reason", "scheduling.CancelSeries",
                          "{\"appointment_id\": \"%s\", \"following\": true}", ids[2]),
                   "reason"));
    ser = itest_req (w.sch, 0, NULL, "scheduling.CancelSeries",
                 "{\"appointment_id\": \"%s\", \"following\": true, \"reason\": \"moving away\"}",
                 ids[2]);
    CHECK (ser && json_array_size (itest_json_at (ser, "appointments")) == 2);
    CHECK (strcmp (itest_json_str (ser, "appointments[1].status"), "APPOINTMENT_CANCELLED") == 0);
    json_decref (ser);
    ser = itest_req (w.sch, 0, NULL, "scheduling.CancelSeries",
                 "{\"appointment_id\": \"%s\", \"reason\": \"away that week\"}", ids[0]);
    CHECK (ser && json_array_size (itest_json_at (ser, "appointments")) == 1);
    json_decref (ser);
    a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", ids[1]);
    CHECK (a && strcmp (itest_json_str (a, "status"), "APPOINTMENT_BOOKED") == 0);
    json_decref (a);
    //  A lone appointment has no following.
    json_t *one = s_book (&w, 0, NULL, w.patient, w.doc2, "2030-03-05T15:00");
    CHECK (one);
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "following", "scheduling.CancelSeries",
                          "{\"appointment_id\": \"%s\", \"following\": true, \"reason\": \"x\"}",
                          itest_json_str (one, "id")),
                   "not part of a series"));
    json_decref (one);
    s_world_end (&w);
}

//  The status of appointment `id`, its first risk's cause and reason.
static bool
s_risk_is (s_world_t *w, const char *id, const char *cause_prefix, const char *reason)
{
    json_t *a = itest_req (w->sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", id);
    bool ok = false;
    for (size_t i = 0; a && i < json_array_size (itest_json_at (a, "risks")); i++) {
        json_t *r = json_array_get (itest_json_at (a, "risks"), i);
        ok = ok || (strncmp (itest_json_str (r, "cause"), cause_prefix, strlen (cause_prefix)) == 0
                    && strstr (itest_json_str (r, "reason"), reason) && s_int (r, "at") > 0);
    }
    if (!ok) {
        char *text = a ? json_dumps (itest_json_at (a, "risks"), 0) : NULL;
        fprintf (stderr, "    %s: no risk %s... \"%s\" in %s\n", id, cause_prefix, reason,
                 text ? text : "-");
        free (text);
    }
    json_decref (a);
    return ok;
}

//  The ids on a site's at-risk list, in order, joined by spaces.
static void
s_at_risk (s_world_t *w, char *out, size_t len)
{
    json_t *l = itest_req (w->sch, 0, NULL, "scheduling.ListAtRisk", "{\"site_id\": \"north\"}");
    out[0] = 0;
    for (size_t i = 0; l && i < json_array_size (itest_json_at (l, "appointments")); i++) {
        size_t used = strlen (out);
        snprintf (out + used, len - used, "%s%s", i ? " " : "",
                  itest_json_str (json_array_get (itest_json_at (l, "appointments"), i), "id"));
    }
    json_decref (l);
}

//  Books and returns the id (empty on failure).
static void
s_book_id (s_world_t *w, const char *patient, const char *doc, const char *when, char *id)
{
    json_t *a = s_book (w, 0, NULL, patient, doc, when);
    snprintf (id, PM_ID_MAX, "%s", a ? itest_json_str (a, "id") : "");
    json_decref (a);
}

//  Re-validation with the real staffing service: approved leave and an
//  unassigned shift flag the booked appointments they reach (at_risk with
//  the cause and the reason, once each), the front desk's list shows
//  them by start, and a reschedule or a cancel takes one off it.
static void
s_test_at_risk (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    char a[PM_ID_MAX], b[PM_ID_MAX], c[PM_ID_MAX], d[PM_ID_MAX];
    s_book_id (&w, w.patient, w.doc2, "2030-03-06T15:00", a);  //  Wed, doc2
    s_book_id (&w, w.other, w.doc, "2030-03-07T17:00", c);     //  Thu, doc
    s_book_id (&w, w.patient, w.doc, "2030-03-07T15:00", b);
    s_book_id (&w, w.other, w.doc, "2030-03-08T15:00", d);     //  Fri: untouched
    CHECK (*a && *b && *c && *d);
    char list[512];
    s_at_risk (&w, list, sizeof list);
    CHECK (strcmp (list, "") == 0);

    //  doc2 takes Wednesday off.
    json_t *r = itest_req (w.stf, 0, NULL, "staffing.SetLeaveType",
                       "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                       "\"yearly_days\": 25}}");
    json_decref (r);
    r = itest_req (w.stf, 0, NULL, "staffing.RequestLeave",
               "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", \"start_date\": "
               "\"2030-03-06\", \"end_date\": \"2030-03-06\", \"reason\": \"family\"}", w.doc2);
    char leave[PM_ID_MAX];
    snprintf (leave, sizeof leave, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    r = itest_req (w.stf, 0, NULL, "staffing.ApproveLeave",
               "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}", leave, w.pm);
    CHECK (r);
    json_decref (r);
    //  doc's Thursday shift is taken away.
    r = itest_req (w.stf, 0, NULL, "staffing.ListShifts",
               "{\"site_id\": \"north\", \"from\": %lld, \"to\": %lld, \"staff_id\": \"%s\"}",
               (long long) s_utc ("2030-03-07T00:00"), (long long) s_utc ("2030-03-08T00:00"),
               w.doc);
    CHECK (r && json_array_size (itest_json_at (r, "shifts")) == 1);
    char shift[PM_ID_MAX];
    snprintf (shift, sizeof shift, "%s", itest_json_str (r, "shifts[0].id"));
    json_decref (r);
    r = itest_req (w.stf, 0, NULL, "staffing.UnassignShift",
               "{\"shift_id\": \"%s\", \"reason\": \"training day\"}", shift);
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));

    CHECK (s_risk_is (&w, a, "leave lv", "on approved leave"));
    CHECK (s_risk_is (&w, b, "shift shf", "outside working hours"));
    CHECK (s_risk_is (&w, c, "shift shf", "outside working hours"));
    json_t *ev = s_events (w.sch, "scheduling.appointment.at_risk");
    size_t n_a = 0, n_b = 0, n_d = 0;
    for (size_t i = 0; i < json_array_size (ev); i++) {
        const char *id = itest_json_str (json_array_get (ev, i), "id");
        n_a += strcmp (id, a) == 0;
        n_b += strcmp (id, b) == 0;
        n_d += strcmp (id, d) == 0;
    }
    //  The leave also took doc2's Wednesday shift: the same reason is not
    //  raised twice for one appointment.
    CHECK (n_a == 1 && n_b == 1 && n_d == 0);
    json_decref (ev);
    char want[512];
    snprintf (want, sizeof want, "%s %s %s", a, b, c);
    s_at_risk (&w, list, sizeof list);
    CHECK (strcmp (list, want) == 0);

    //  The desk moves b to Friday and cancels c: both leave the list.
    json_t *m = itest_req (w.sch, 0, NULL, "scheduling.Reschedule",
                       "{\"appointment_id\": \"%s\", \"start\": %lld}", b,
                       (long long) s_utc ("2030-03-08T16:00"));
    CHECK (m && json_array_size (itest_json_at (m, "risks")) == 0);
    json_decref (m);
    m = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
               "{\"appointment_id\": \"%s\", \"reason\": \"doctor away\"}", c);
    CHECK (m);
    json_decref (m);
    s_at_risk (&w, list, sizeof list);
    CHECK (strcmp (list, a) == 0);
    //  Another site's desk may not read north's list.
    itest_principal ("southdesk", "front-desk", "south");
    pm_client_t *south = itest_client_as (&w.sched, "southdesk");
    json_t *e = itest_req (south, PM_EFORBIDDEN, "site_id", "scheduling.ListAtRisk",
                       "{\"site_id\": \"north\"}");
    CHECK (e);
    json_decref (e);
    pm_client_destroy (&south);
    s_world_end (&w);
}

//  Re-validation on a credential expiry with the real staffing service:
//  doc's medical licence runs to Tuesday 5 March (it expires at New
//  York's midnight, 05:00Z on the 6th); the role requires it only from
//  after the bookings. When staffing's own timer, its clock moved past
//  that midnight, announces staffing.credential.expired, scheduling flags
//  doc's Thursday visit (cause the credential, reason the failing check)
//  once; doc's Tuesday visit (over before the expiry) and doc2's visit
//  (another practitioner) are left alone; the desk's list shows it.
static void
s_test_credential_risk (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    json_t *r = itest_req (w.stf, 0, NULL, "staffing.AddCredential",
                           "{\"credential\": {\"staff_id\": \"%s\", \"type\": "
                           "\"medical-licence\", \"number\": \"MD-77\", \"issuer\": \"State "
                           "Board\", \"valid_from\": \"2020-01-01\", \"valid_to\": "
                           "\"2030-03-05\", \"verified_by\": \"hr-officer\"}}", w.doc);
    CHECK (r && s_int (r, "expires_at") == s_utc ("2030-03-06T05:00"));
    char crd[PM_ID_MAX];
    snprintf (crd, sizeof crd, "%s", itest_json_str (r, "id"));
    json_decref (r);
    char a[PM_ID_MAX], b[PM_ID_MAX], c[PM_ID_MAX];
    s_book_id (&w, w.patient, w.doc, "2030-03-05T15:00", a);  //  Tue
    s_book_id (&w, w.other, w.doc, "2030-03-07T15:00", b);    //  Thu
    s_book_id (&w, w.patient, w.doc2, "2030-03-07T17:00", c); //  Thu, doc2
    CHECK (*a && *b && *c);
    r = itest_req (w.stf, 0, NULL, "staffing.SetRoleRequirements",
                   "{\"requirements\": {\"role\": \"physician\", "
                   "\"credential_types\": [\"medical-licence\"]}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    //  The requirement holds for new bookings at once; nothing is
    //  flagged before the expiry.
    CHECK (s_says (s_book (&w, PM_ECONFLICT, "practitioner_id", w.other, w.doc,
                           "2030-03-08T15:00"), "no valid verified medical-licence"));
    char list[512];
    s_at_risk (&w, list, sizeof list);
    CHECK (strcmp (list, "") == 0);

    //  Staffing's clock at 01:00 New York on Wednesday; its timer runs
    //  every 50 ms.
    char clock[64];
    snprintf (clock, sizeof clock, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc ("2030-03-06T06:00") - pm_clock_wall_ms ()));
    pm_client_destroy (&w.stf);
    itest_signal (&w.staffing, SIGTERM);
    w.staffing.env[0] = "PM_STAFFING_TICK_MS=50";
    w.staffing.env[1] = clock;
    w.staffing.env[2] = NULL;
    CHECK (itest_start (&w.staffing) == 0);
    w.stf = itest_client (&w.staffing);
    CHECK (w.stf);
    bool flagged = false;
    for (int64_t until = itest_now () + ITEST_WAIT_MS; !flagged && itest_now () < until;) {
        zclock_sleep (20);
        json_t *ev = s_events (w.sch, "scheduling.appointment.at_risk");
        flagged = json_array_size (ev) > 0;
        json_decref (ev);
    }
    CHECK (flagged);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    char cause[96];
    snprintf (cause, sizeof cause, "credential %s", crd);
    CHECK (s_risk_is (&w, b, cause, "has no valid verified medical-licence, which a physician "
                                    "needs"));
    json_t *ev = s_events (w.sch, "scheduling.appointment.at_risk");
    CHECK (json_array_size (ev) == 1 && strcmp (itest_json_str (ev, "[0].id"), b) == 0);
    json_decref (ev);
    const char *unflagged[] = {a, c};
    for (int i = 0; i < 2; i++) {
        json_t *x = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}",
                               unflagged[i]);
        CHECK (x && json_array_size (itest_json_at (x, "risks")) == 0);
        json_decref (x);
    }
    s_at_risk (&w, list, sizeof list);
    CHECK (strcmp (list, b) == 0);
    s_world_end (&w);
}

//  A patient merge re-points the merged record's appointments to the
//  survivor once (a repointed event each, the old id kept); the unmerge
//  points exactly those back; the survivor's own stay.
static void
s_test_merge_repoint (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    char dup[PM_ID_MAX], mine[PM_ID_MAX], theirs[PM_ID_MAX], theirs2[PM_ID_MAX];
    CHECK (s_patient (w.pat, dup, "Alvarez", "1980-02-03"));
    CHECK (s_synced (w.sch, w.stf, w.pat));
    s_book_id (&w, w.patient, w.doc, "2030-03-04T15:00", mine);
    s_book_id (&w, dup, w.doc, "2030-03-05T15:00", theirs);
    s_book_id (&w, dup, w.doc2, "2030-03-06T15:00", theirs2);
    CHECK (*mine && *theirs && *theirs2);
    json_t *r = itest_req (w.pat, 0, NULL, "patients.Merge",
                       "{\"survivor_id\": \"%s\", \"merged_id\": \"%s\", "
                       "\"survivor_expected_version\": 1, \"merged_expected_version\": 1, "
                       "\"reason\": \"same person\"}", w.patient, dup);
    CHECK (r);
    long long sv = s_int (r, "survivor.version"), mv = s_int (r, "merged.version");
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    json_t *a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", theirs);
    CHECK (a && strcmp (itest_json_str (a, "patient_id"), w.patient) == 0);
    CHECK (strcmp (itest_json_str (a, "repointed_from[0]"), dup) == 0);
    json_decref (a);
    json_t *ev = s_events (w.sch, "scheduling.appointment.repointed");
    CHECK (json_array_size (ev) == 2);
    json_decref (ev);

    //  A restart replays nothing twice (the cursor and the marker).
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    CHECK (s_synced (w.sch, w.stf, w.pat));

    r = itest_req (w.pat, 0, NULL, "patients.Unmerge",
               "{\"merged_id\": \"%s\", \"survivor_expected_version\": %lld, "
               "\"merged_expected_version\": %lld, \"reason\": \"different people\"}", dup, sv,
               mv);
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", theirs2);
    CHECK (a && strcmp (itest_json_str (a, "patient_id"), dup) == 0);
    CHECK (json_array_size (itest_json_at (a, "repointed_from")) == 0);
    json_decref (a);
    a = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", mine);
    CHECK (a && strcmp (itest_json_str (a, "patient_id"), w.patient) == 0);
    json_decref (a);
    ev = s_events (w.sch, "scheduling.appointment.repointed");
    CHECK (json_array_size (ev) == 4);
    json_decref (ev);
    s_world_end (&w);
}

//  The status of an appointment, as its JSON name.
static bool
s_status_is (s_world_t *w, const char *id, const char *status)
{
    json_t *a = itest_req (w->sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", id);
    bool ok = a && strcmp (itest_json_str (a, "status"), status) == 0;
    json_decref (a);
    return ok;
}

//  The VEVENT with UID `uid` in a parsed calendar, or NULL.
static icalcomponent *
s_vevent (icalcomponent *cal, const char *uid)
{
    for (icalcomponent *e = icalcomponent_get_first_component (cal, ICAL_VEVENT_COMPONENT); e;
         e = icalcomponent_get_next_component (cal, ICAL_VEVENT_COMPONENT)) {
        if (strcmp (icalcomponent_get_uid (e), uid) == 0) {
            return e;
        }
    }
    return NULL;
}

//  A VEVENT's DTSTART/DTEND as ms UTC.
static int64_t
s_ical_ms (struct icaltimetype t)
{
    return (int64_t) icaltime_as_timet_with_zone (t, icaltimezone_get_utc_timezone ()) * 1000;
}

//  Views: the day sheet is the site's local day (New York: 05:00Z to
//  05:00Z, 23 hours on the DST day) in start order with patient, type,
//  room and status, per site and per practitioner; utilisation is booked
//  over rostered minutes with the no-show rate after the clock moves; the
//  iCalendar export parses back with libical into the right events.
static void
s_test_views (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    char a[PM_ID_MAX], b[PM_ID_MAX], c[PM_ID_MAX], d[PM_ID_MAX];
    s_book_id (&w, w.other, w.doc, "2030-03-05T15:00", b);
    s_book_id (&w, w.patient, w.doc, "2030-03-05T14:00", a);
    s_book_id (&w, w.patient, w.doc2, "2030-03-05T16:00", c);
    s_book_id (&w, w.other, w.doc, "2030-03-06T14:00", d);
    CHECK (*a && *b && *c && *d);
    json_t *r = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
                           "{\"appointment_id\": \"%s\", \"reason\": \"moved away\"}", c);
    json_decref (r);

    //  The site's day: three lines by start, the next day's visit not on it.
    r = itest_req (w.sch, 0, NULL, "scheduling.DaySheet",
                   "{\"site_id\": \"north\", \"date\": \"2030-03-05\"}");
    CHECK (r && json_array_size (itest_json_at (r, "lines")) == 3);
    CHECK (s_int (r, "from") == s_utc ("2030-03-05T05:00")
           && s_int (r, "to") == s_utc ("2030-03-06T05:00"));
    CHECK (strcmp (itest_json_str (r, "time_zone"), "America/New_York") == 0);
    CHECK (strcmp (itest_json_str (r, "lines[0].appointment.id"), a) == 0
           && strcmp (itest_json_str (r, "lines[1].appointment.id"), b) == 0
           && strcmp (itest_json_str (r, "lines[2].appointment.id"), c) == 0);
    CHECK (strcmp (itest_json_str (r, "lines[0].local_start"), "09:00") == 0
           && strcmp (itest_json_str (r, "lines[0].local_end"), "09:30") == 0);
    CHECK (strcmp (itest_json_str (r, "lines[0].appointment.patient_id"), w.patient) == 0
           && strcmp (itest_json_str (r, "lines[1].appointment.patient_id"), w.other) == 0);
    CHECK (strcmp (itest_json_str (r, "lines[0].type_name"), "Consultation") == 0
           && strcmp (itest_json_str (r, "lines[0].room_name"), "Room 1") == 0);
    CHECK (strcmp (itest_json_str (r, "lines[2].appointment.status"), "APPOINTMENT_CANCELLED") == 0
           && itest_json_at (r, "lines[0].at_risk") && !json_is_true (itest_json_at (r, "lines[0].at_risk")));
    json_decref (r);
    r = itest_req (w.sch, 0, NULL, "scheduling.DaySheet",
                   "{\"site_id\": \"north\", \"date\": \"2030-03-05\", \"practitioner_id\": "
                   "\"%s\"}", w.doc2);
    CHECK (r && json_array_size (itest_json_at (r, "lines")) == 1
           && strcmp (itest_json_str (r, "lines[0].appointment.id"), c) == 0);
    json_decref (r);
    r = itest_req (w.sch, 0, NULL, "scheduling.DaySheet",
                   "{\"site_id\": \"north\", \"date\": \"2030-03-10\"}");
    CHECK (r && s_int (r, "to") - s_int (r, "from") == 23 * HOUR_MS
           && json_array_size (itest_json_at (r, "lines")) == 0);
    json_decref (r);

    //  Bad input and scope.
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "site_id", "scheduling.DaySheet",
                              "{\"date\": \"2030-03-05\"}"), "required"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "date", "scheduling.DaySheet",
                              "{\"site_id\": \"north\", \"date\": \"2030-13-01\"}"), "YYYY"));
    json_decref (itest_req (w.sch, PM_ENOTFOUND, "site_id", "scheduling.DaySheet",
                            "{\"site_id\": \"east\", \"date\": \"2030-03-05\"}"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "to_date", "scheduling.Utilisation",
                              "{\"site_id\": \"north\", \"from_date\": \"2030-03-05\", "
                              "\"to_date\": \"2030-03-01\"}"), "not before"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "to", "scheduling.ExportCalendar",
                              "{\"practitioner_id\": \"%s\", \"from\": 10, \"to\": 5}", w.doc),
                   "after from"));
    json_decref (itest_req (w.sch, PM_ENOTFOUND, "practitioner_id", "scheduling.ExportCalendar",
                            "{\"practitioner_id\": \"stf_nobody\", \"from\": 1, \"to\": 5}"));
    itest_principal ("southdesk", "front-desk", "south");
    pm_client_t *south = itest_client_as (&w.sched, "southdesk");
    CHECK (s_says (itest_req (south, PM_EFORBIDDEN, "site_id", "scheduling.DaySheet",
                              "{\"site_id\": \"north\", \"date\": \"2030-03-05\"}"),
                   "not one of yours"));
    CHECK (s_says (itest_req (south, PM_EFORBIDDEN, "practitioner_id",
                              "scheduling.ExportCalendar",
                              "{\"practitioner_id\": \"%s\", \"from\": 1, \"to\": 5}", w.doc),
                   "none of your sites"));
    pm_client_destroy (&south);

    //  Utilisation of the day: 10 rostered hours each; doc has 60 minutes
    //  booked (100 per mille), doc2's one visit was cancelled.
    const char *util = "{\"site_id\": \"north\", \"from_date\": \"2030-03-05\", "
                       "\"to_date\": \"2030-03-05\"}";
    r = itest_req (w.sch, 0, NULL, "scheduling.Utilisation", "%s", util);
    CHECK (r);
    json_t *rows = itest_json_at (r, "practitioners");
    int seen = 0;
    for (size_t i = 0; i < json_array_size (rows); i++) {
        json_t *row = json_array_get (rows, i);
        if (strcmp (itest_json_str (row, "practitioner_id"), w.doc) == 0) {
            CHECK (s_int (row, "rostered_minutes") == 600 && s_int (row, "booked_minutes") == 60
                   && s_int (row, "utilisation_permille") == 100
                   && s_int (row, "appointments") == 2);
            seen++;
        }
        if (strcmp (itest_json_str (row, "practitioner_id"), w.doc2) == 0) {
            CHECK (s_int (row, "rostered_minutes") == 600 && s_int (row, "booked_minutes") == 0
                   && s_int (row, "cancelled") == 1);
            seen++;
        }
    }
    CHECK (seen == 2);
    CHECK (s_int (r, "total.rostered_minutes") == 1200 && s_int (r, "total.booked_minutes") == 60
           && s_int (r, "total.utilisation_permille") == 50);
    json_decref (r);

    //  A's patient comes (fulfilled), B's does not (automatic no-show):
    //  the no-show rate is one in two.
    CHECK (s_restart_at (&w, s_utc ("2030-03-05T14:05")));
    const char *steps[] = {"scheduling.Arrive", "scheduling.Fulfil"};
    for (int i = 0; i < 2; i++) {
        r = itest_req (w.sch, 0, NULL, steps[i], "{\"appointment_id\": \"%s\"}", a);
        CHECK (r);
        json_decref (r);
    }
    CHECK (s_restart_at (&w, s_utc ("2030-03-05T16:00")));
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (!s_status_is (&w, b, "APPOINTMENT_NOSHOW") && itest_now () < until) {
        zclock_sleep (20);
    }
    CHECK (s_status_is (&w, b, "APPOINTMENT_NOSHOW"));
    r = itest_req (w.sch, 0, NULL, "scheduling.Utilisation",
                   "{\"site_id\": \"north\", \"from_date\": \"2030-03-05\", "
                   "\"practitioner_id\": \"%s\"}", w.doc);
    CHECK (r && json_array_size (itest_json_at (r, "practitioners")) == 1);
    CHECK (s_int (r, "total.fulfilled") == 1 && s_int (r, "total.noshows") == 1
           && s_int (r, "total.noshow_permille") == 500 && s_int (r, "total.booked_minutes") == 60);
    json_decref (r);
    //  A site nobody works at yet: an empty report (fuzz finding F10).
    r = itest_req (w.stf, 0, NULL, "staffing.CreateSite", "{\"site\": {\"id\": \"west\", "
                   "\"name\": \"West\", \"time_zone\": \"America/Denver\", "
                   "\"currency\": \"USD\"}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    r = itest_req (w.sch, 0, NULL, "scheduling.Utilisation",
                   "{\"site_id\": \"west\", \"from_date\": \"2030-03-05\"}");
    CHECK (r && json_array_size (itest_json_at (r, "practitioners")) == 0);
    CHECK (r && s_int (r, "total.booked_minutes") == 0);
    json_decref (r);

    //  The iCalendar export of doc's week parses back into A, B and D.
    r = itest_req (w.sch, 0, NULL, "scheduling.ExportCalendar",
                   "{\"practitioner_id\": \"%s\", \"from\": %lld, \"to\": %lld}", w.doc,
                   (long long) s_utc ("2030-03-04T00:00"), (long long) s_utc ("2030-03-09T00:00"));
    CHECK (r && s_int (r, "events") == 3);
    icalcomponent *cal = r ? icalparser_parse_string (itest_json_str (r, "text")) : NULL;
    CHECK (cal && icalcomponent_isa (cal) == ICAL_VCALENDAR_COMPONENT);
    CHECK (cal && icalcomponent_count_components (cal, ICAL_VEVENT_COMPONENT) == 3);
    icalcomponent *ea = cal ? s_vevent (cal, a) : NULL, *eb = cal ? s_vevent (cal, b) : NULL;
    icalcomponent *ed = cal ? s_vevent (cal, d) : NULL;
    CHECK (ea && eb && ed && (!cal || !s_vevent (cal, c)));
    if (ea && eb && ed) {
        CHECK (icaltime_is_utc (icalcomponent_get_dtstart (ea)));
        CHECK (s_ical_ms (icalcomponent_get_dtstart (ea)) == s_utc ("2030-03-05T14:00")
               && s_ical_ms (icalcomponent_get_dtend (ea)) == s_utc ("2030-03-05T14:30"));
        CHECK (s_ical_ms (icalcomponent_get_dtstart (ed)) == s_utc ("2030-03-06T14:00"));
        CHECK (strcmp (icalcomponent_get_summary (ea), "Consultation") == 0);
        CHECK (icalcomponent_get_status (ea) == ICAL_STATUS_CONFIRMED
               && icalcomponent_get_status (eb) == ICAL_STATUS_CANCELLED
               && icalcomponent_get_status (ed) == ICAL_STATUS_CONFIRMED);
    }
    if (cal) {
        icalcomponent_free (cal);
    }
    json_decref (r);
    s_world_end (&w);
}

//  The status and offered hold of a waitlist entry.
static bool
s_entry_is (s_world_t *w, const char *id, const char *status, char *hold)
{
    json_t *r = itest_req (w->sch, 0, NULL, "scheduling.ListWaitlist", "{\"site_id\": \"north\"}");
    bool ok = false;
    for (size_t i = 0; r && i < json_array_size (itest_json_at (r, "entries")); i++) {
        json_t *e = json_array_get (itest_json_at (r, "entries"), i);
        if (strcmp (itest_json_str (e, "id"), id) == 0) {
            ok = strcmp (itest_json_str (e, "status"), status) == 0;
            if (hold) {
                snprintf (hold, PM_ID_MAX, "%s", itest_json_str (e, "offer_hold_id"));
            }
        }
    }
    json_decref (r);
    return ok;
}

//  Waitlist: a cancelled slot goes to the best matching entry (priority
//  before age, the local daily window respected) as a held offer with
//  scheduling.waitlist.offered; the hold cannot be booked by anyone else;
//  a decline passes it to the next, who accepts and is booked into it.
static void
s_test_waitlist (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    char third[PM_ID_MAX], late[PM_ID_MAX], a[PM_ID_MAX];
    CHECK (s_patient (w.pat, third, "Nakamura", "1990-06-07"));
    CHECK (s_patient (w.pat, late, "Lindqvist", "1960-01-09"));
    CHECK (s_synced (w.sch, w.stf, w.pat));
    s_book_id (&w, w.patient, w.doc, "2030-03-05T14:00", a); //  09:00 local
    CHECK (*a);
    const char *add = "{\"entry\": {\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                      "\"latest\": %lld, \"priority\": %d%s}}";
    long long latest = (long long) s_utc ("2030-03-08T23:00");
    char ids[3][PM_ID_MAX];
    //  Oldest, ordinary priority; then urgent; then urgent but afternoons only.
    const char *who[] = {w.other, third, late};
    const int prio[] = {5, 2, 1};
    const char *extra[] = {"", "", ", \"day_from\": \"13:00\", \"day_to\": \"17:00\""};
    for (int i = 0; i < 3; i++) {
        json_t *r = itest_req (w.sch, 0, NULL, "scheduling.AddToWaitlist", add, who[i], w.type,
                               latest, prio[i], extra[i]);
        CHECK (r && strcmp (itest_json_str (r, "status"), "WAITLIST_WAITING") == 0);
        snprintf (ids[i], PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
        json_decref (r);
    }
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "entry.priority", "scheduling.AddToWaitlist",
                              add, w.other, w.type, latest, 12, ""), "1..9"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "entry.latest", "scheduling.AddToWaitlist",
                              add, w.other, w.type, 5LL, 3, ""), "after earliest"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "entry.day_from", "scheduling.AddToWaitlist",
                              add, w.other, w.type, latest, 3, ", \"day_from\": \"13:00\""),
                   "day_to"));

    //  The 09:00 slot frees: the afternoon-only entry does not match, so
    //  the urgent one gets it.
    json_t *r = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
                           "{\"appointment_id\": \"%s\", \"reason\": \"sick\"}", a);
    json_decref (r);
    char hold[PM_ID_MAX] = "";
    CHECK (s_entry_is (&w, ids[1], "WAITLIST_OFFERED", hold) && pm_id_valid (hold, "hld"));
    CHECK (s_entry_is (&w, ids[0], "WAITLIST_WAITING", NULL)
           && s_entry_is (&w, ids[2], "WAITLIST_WAITING", NULL));
    json_t *ev = s_events (w.sch, "scheduling.waitlist.offered");
    CHECK (json_array_size (ev) == 1 && strcmp (itest_json_str (ev, "[0].id"), ids[1]) == 0
           && s_int (ev, "[0].offer_start") == s_utc ("2030-03-05T14:00")
           && strcmp (itest_json_str (ev, "[0].offer_practitioner_id"), w.doc) == 0);
    json_decref (ev);
    //  Nobody books the offered slot around the offer.
    CHECK (s_says (s_book (&w, PM_ECONFLICT, NULL, w.other, w.doc, "2030-03-05T14:00"),
                   "held"));
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "hold_id", "scheduling.Book",
                              "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": "
                              "\"%s\", \"start\": %lld, \"hold_id\": \"%s\"}", w.other, w.type,
                              w.doc, (long long) s_utc ("2030-03-05T14:00"), hold),
                   "AcceptOffer"));

    //  Declined: offered to the next (the oldest ordinary entry), who accepts.
    r = itest_req (w.sch, 0, NULL, "scheduling.DeclineOffer", "{\"entry_id\": \"%s\"}", ids[1]);
    CHECK (r && strcmp (itest_json_str (r, "status"), "WAITLIST_WAITING") == 0
           && json_array_size (itest_json_at (r, "passed")) == 1);
    json_decref (r);
    CHECK (s_entry_is (&w, ids[0], "WAITLIST_OFFERED", NULL));
    r = itest_req (w.sch, 0, NULL, "scheduling.AcceptOffer", "{\"entry_id\": \"%s\"}", ids[0]);
    CHECK (r && strcmp (itest_json_str (r, "patient_id"), w.other) == 0
           && s_int (r, "start") == s_utc ("2030-03-05T14:00")
           && strcmp (itest_json_str (r, "status"), "APPOINTMENT_BOOKED") == 0);
    json_decref (r);
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "entry_id", "scheduling.AcceptOffer",
                              "{\"entry_id\": \"%s\"}", ids[0]), "no open offer"));
    r = itest_req (w.sch, 0, NULL, "scheduling.ListWaitlist", "{\"site_id\": \"north\"}");
    CHECK (r && json_array_size (itest_json_at (r, "entries")) == 2);
    json_decref (r);
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "entry_id", "scheduling.DeclineOffer",
                              "{\"entry_id\": \"%s\"}", ids[2]), "no open offer"));

    //  An afternoon visit (14:00 local) rescheduled away reaches the
    //  afternoon-only entry, the most urgent.
    char c[PM_ID_MAX];
    s_book_id (&w, third, w.doc, "2030-03-05T19:00", c);
    CHECK (*c);
    r = itest_req (w.sch, 0, NULL, "scheduling.Reschedule",
                   "{\"appointment_id\": \"%s\", \"start\": %lld}", c,
                   (long long) s_utc ("2030-03-06T19:00"));
    json_decref (r);
    CHECK (s_entry_is (&w, ids[2], "WAITLIST_OFFERED", NULL));
    CHECK (s_entry_is (&w, ids[1], "WAITLIST_WAITING", NULL));
    r = itest_req (w.sch, 0, NULL, "scheduling.RemoveFromWaitlist",
                   "{\"entry_id\": \"%s\", \"reason\": \"found elsewhere\"}", ids[2]);
    CHECK (r && strcmp (itest_json_str (r, "status"), "WAITLIST_REMOVED") == 0);
    json_decref (r);
    //  Removed with an open offer: the slot went on to the urgent entry.
    CHECK (s_entry_is (&w, ids[1], "WAITLIST_OFFERED", NULL));
    s_world_end (&w);
}

//  The waitlist events on the scheduling stream, in order, as
//  "added:<entry> offered:<entry> ..." (the type's last word and the
//  subject).
static void
s_waitlist_story (s_world_t *w, char *out, size_t len)
{
    Pm__Event **events;
    long n = itest_read_stream (w->sch, &events);
    out[0] = 0;
    for (long i = 0; i < n; i++) {
        const char *t = events[i]->type;
        if (strncmp (t, "scheduling.waitlist.", 20) == 0) {
            size_t used = strlen (out);
            snprintf (out + used, len - used, "%s%s:%s", used ? " " : "", t + 20,
                      events[i]->subject);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
}

//  An offer nobody answers lapses by the hold timer: the entry waits
//  again with the slot passed (scheduling.waitlist.lapsed, after
//  scheduling.hold.lapsed), the slot goes to the next entry, whose offer
//  lapses in turn; then nobody is left who has not passed it, the slot is
//  free to book, and a late accept is refused.
static void
s_test_waitlist_lapse (void)
{
    s_world_t w;
    CHECK (s_world (&w, "PM_SCHEDULING_OFFER_SECONDS=1"));
    char third[PM_ID_MAX], a[PM_ID_MAX], ids[2][PM_ID_MAX];
    CHECK (s_patient (w.pat, third, "Nakamura", "1990-06-07"));
    CHECK (s_synced (w.sch, w.stf, w.pat));
    s_book_id (&w, w.patient, w.doc, "2030-03-05T14:00", a);
    CHECK (*a);
    const char *who[] = {w.other, third};
    for (int i = 0; i < 2; i++) {
        json_t *r = itest_req (w.sch, 0, NULL, "scheduling.AddToWaitlist",
                               "{\"entry\": {\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                               "\"latest\": %lld, \"priority\": %d}}", who[i], w.type,
                               (long long) s_utc ("2030-03-08T23:00"), i + 1);
        CHECK (r);
        snprintf (ids[i], PM_ID_MAX, "%s", itest_json_str (r, "id"));
        json_decref (r);
    }
    json_t *r = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
                           "{\"appointment_id\": \"%s\", \"reason\": \"sick\"}", a);
    CHECK (r);
    json_decref (r);
    //  Offered to the first, lapsed, offered to the second, lapsed: each
    //  offer holds for one second (PM_SCHEDULING_OFFER_SECONDS=1).
    char want[512], story[2048] = "";
    snprintf (want, sizeof want, "added:%s added:%s offered:%s lapsed:%s offered:%s lapsed:%s",
              ids[0], ids[1], ids[0], ids[0], ids[1], ids[1]);
    for (int64_t until = itest_now () + ITEST_WAIT_MS;
         strcmp (story, want) != 0 && itest_now () < until;) {
        zclock_sleep (50);
        s_waitlist_story (&w, story, sizeof story);
    }
    if (strcmp (story, want) != 0) {
        fprintf (stderr, "    waitlist events: %s\n    wanted: %s\n", story, want);
    }
    CHECK (strcmp (story, want) == 0);
    //  Each lapse came with its hold's, for that entry.
    json_t *ev = s_events (w.sch, "scheduling.hold.lapsed");
    CHECK (json_array_size (ev) == 2);
    CHECK (strcmp (itest_json_str (ev, "[0].waitlist_entry_id"), ids[0]) == 0
           && strcmp (itest_json_str (ev, "[1].waitlist_entry_id"), ids[1]) == 0);
    CHECK (s_int (ev, "[0].start") == s_utc ("2030-03-05T14:00"));
    json_decref (ev);
    char mark[128];
    snprintf (mark, sizeof mark, "%s@%lld", w.doc, (long long) s_utc ("2030-03-05T14:00"));
    ev = s_events (w.sch, "scheduling.waitlist.lapsed");
    CHECK (json_array_size (ev) == 2);
    for (int i = 0; i < 2; i++) {
        json_t *e = json_array_get (ev, (size_t) i);
        CHECK (strcmp (itest_json_str (e, "status"), "WAITLIST_WAITING") == 0);
        CHECK (strcmp (itest_json_str (e, "passed[0]"), mark) == 0);
        CHECK (strcmp (itest_json_str (e, "offer_hold_id"), "") == 0);
    }
    json_decref (ev);
    //  Both wait again (in the commit of the last lapse nobody else got
    //  it); a late accept is refused; the slot is free.
    CHECK (s_entry_is (&w, ids[0], "WAITLIST_WAITING", NULL)
           && s_entry_is (&w, ids[1], "WAITLIST_WAITING", NULL));
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "entry_id", "scheduling.AcceptOffer",
                              "{\"entry_id\": \"%s\"}", ids[0]), "no open offer"));
    json_t *b = s_book (&w, 0, NULL, w.patient, w.doc, "2030-03-05T14:00");
    CHECK (b);
    json_decref (b);

    //  An entry removed after its offer's time is up, before the timer
    //  has ended the hold: when it does, the slot still goes to the next
    //  in line (it once went to no one). The timer is slowed to ten
    //  minutes for that window.
    size_t n = 0;
    while (w.sched.env[n]) {
        n++;
    }
    w.sched.env[n] = "PM_SCHEDULING_TICK_MS=600000";
    w.sched.env[n + 1] = NULL;
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    s_book_id (&w, w.patient, w.doc, "2030-03-05T16:00", a);
    CHECK (*a);
    r = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
                   "{\"appointment_id\": \"%s\", \"reason\": \"sick\"}", a);
    json_decref (r);
    r = itest_req (w.sch, 0, NULL, "scheduling.ListWaitlist", "{\"site_id\": \"north\"}");
    CHECK (r && strcmp (itest_json_str (r, "entries[0].id"), ids[0]) == 0
           && strcmp (itest_json_str (r, "entries[0].status"), "WAITLIST_OFFERED") == 0);
    int64_t expires = s_int (r, "entries[0].offer_expires_at");
    json_decref (r);
    for (int64_t until = itest_now () + ITEST_WAIT_MS;
         pm_clock_wall_ms () <= expires && itest_now () < until;) {
        zclock_sleep (20);
    }
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "entry_id", "scheduling.AcceptOffer",
                              "{\"entry_id\": \"%s\"}", ids[0]), "lapsed"));
    r = itest_req (w.sch, 0, NULL, "scheduling.RemoveFromWaitlist",
                   "{\"entry_id\": \"%s\", \"reason\": \"booked elsewhere\"}", ids[0]);
    CHECK (r && strcmp (itest_json_str (r, "status"), "WAITLIST_REMOVED") == 0);
    json_decref (r);
    CHECK (s_entry_is (&w, ids[1], "WAITLIST_WAITING", NULL));
    w.sched.env[n] = NULL;
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    bool offered = false;
    for (int64_t until = itest_now () + ITEST_WAIT_MS; !offered && itest_now () < until;) {
        zclock_sleep (20);
        offered = s_entry_is (&w, ids[1], "WAITLIST_OFFERED", NULL);
    }
    CHECK (offered);
    s_world_end (&w);
}

//  Stops scheduling, deletes the index entries of `tags` from its store
//  (a store as an older version left it), starts it again: the count
//  deleted, -1 on failure.
static long
s_restart_forgetting (s_world_t *w, const char *tags)
{
    pm_client_destroy (&w->sch);
    itest_signal (&w->sched, SIGTERM);
    long n = itest_store_forget (&w->sched, "index", tags);
    if (itest_start (&w->sched) != 0) {
        return -1;
    }
    w->sch = itest_client (&w->sched);
    return w->sch ? n : -1;
}

//  True once appointment `id` belongs to `patient` (bounded wait).
static bool
s_patient_becomes (s_world_t *w, const char *id, const char *patient)
{
    for (int64_t until = itest_now () + ITEST_WAIT_MS; itest_now () < until;) {
        json_t *a = itest_req (w->sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}",
                               id);
        bool ok = a && strcmp (itest_json_str (a, "patient_id"), patient) == 0;
        json_decref (a);
        if (ok) {
            return true;
        }
        zclock_sleep (20);
    }
    return false;
}

//  A store from before the patient index: appointments without their
//  'p' entries, and a merge its version applied to the patients
//  projection without moving them (it did not re-point at all). Made
//  honestly from a real run: the entries are deleted from the stopped
//  store (and the migration markers, 'M', with the merge markers 'm', none
//  of which that version wrote), and the merge is applied while the
//  index is missing. The new version opening it builds the index and
//  re-points what the old merge left behind (an event each, once, kept
//  for the unmerge), and a merge after the upgrade reaches appointments
//  booked before it.
static void
s_test_merge_backfill (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    char dup[PM_ID_MAX], dup2[PM_ID_MAX], mine[PM_ID_MAX];
    char theirs[PM_ID_MAX], theirs2[PM_ID_MAX], later[PM_ID_MAX];
    CHECK (s_patient (w.pat, dup, "Alvarez", "1980-02-03"));
    CHECK (s_patient (w.pat, dup2, "Alvares", "1980-02-03"));
    CHECK (s_synced (w.sch, w.stf, w.pat));
    s_book_id (&w, w.patient, w.doc, "2030-03-04T15:00", mine);
    s_book_id (&w, dup, w.doc, "2030-03-05T15:00", theirs);
    s_book_id (&w, dup, w.doc2, "2030-03-06T15:00", theirs2);
    s_book_id (&w, dup2, w.doc2, "2030-03-07T15:00", later);
    CHECK (*mine && *theirs && *theirs2 && *later);

    //  The old version: no patient index, so its merge moves nothing.
    CHECK (s_restart_forgetting (&w, "p") == 4);
    json_t *r = itest_req (w.pat, 0, NULL, "patients.Merge",
                           "{\"survivor_id\": \"%s\", \"merged_id\": \"%s\", "
                           "\"survivor_expected_version\": 1, \"merged_expected_version\": 1, "
                           "\"reason\": \"same person\"}", w.patient, dup);
    CHECK (r);
    long long sv = s_int (r, "survivor.version"), mv = s_int (r, "merged.version");
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    r = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", theirs);
    CHECK (r && strcmp (itest_json_str (r, "patient_id"), dup) == 0);
    json_decref (r);
    json_t *ev = s_events (w.sch, "scheduling.appointment.repointed");
    CHECK (json_array_size (ev) == 0);
    json_decref (ev);

    //  The new version opens that store.
    CHECK (s_restart_forgetting (&w, "pMm") >= 2);
    CHECK (s_patient_becomes (&w, theirs, w.patient) && s_patient_becomes (&w, theirs2, w.patient));
    r = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", theirs2);
    CHECK (r && strcmp (itest_json_str (r, "repointed_from[0]"), dup) == 0);
    json_decref (r);
    r = itest_req (w.sch, 0, NULL, "scheduling.Get", "{\"appointment_id\": \"%s\"}", later);
    CHECK (r && strcmp (itest_json_str (r, "patient_id"), dup2) == 0);
    json_decref (r);
    ev = s_events (w.sch, "scheduling.appointment.repointed");
    CHECK (json_array_size (ev) == 2);
    json_decref (ev);

    //  The index the migration built is kept over a restart.
    pm_client_destroy (&w.sch);
    itest_signal (&w.sched, SIGTERM);
    CHECK (itest_start (&w.sched) == 0);
    w.sch = itest_client (&w.sched);
    CHECK (s_synced (w.sch, w.stf, w.pat));

    //  The unmerge of the old merge takes back exactly its two.
    r = itest_req (w.pat, 0, NULL, "patients.Unmerge",
                   "{\"merged_id\": \"%s\", \"survivor_expected_version\": %lld, "
                   "\"merged_expected_version\": %lld, \"reason\": \"different people\"}", dup,
                   sv, mv);
    CHECK (r);
    long long sv2 = s_int (r, "survivor.version");
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    CHECK (s_patient_becomes (&w, theirs, dup) && s_patient_becomes (&w, theirs2, dup));
    CHECK (s_patient_becomes (&w, mine, w.patient));
    ev = s_events (w.sch, "scheduling.appointment.repointed");
    CHECK (json_array_size (ev) == 4);
    json_decref (ev);

    //  A merge now reaches the appointment booked before the index.
    r = itest_req (w.pat, 0, NULL, "patients.Merge",
                   "{\"survivor_id\": \"%s\", \"merged_id\": \"%s\", "
                   "\"survivor_expected_version\": %lld, \"merged_expected_version\": 1, "
                   "\"reason\": \"same person\"}", w.patient, dup2, sv2);
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    CHECK (s_patient_becomes (&w, later, w.patient));
    ev = s_events (w.sch, "scheduling.appointment.repointed");
    CHECK (json_array_size (ev) == 5);
    json_decref (ev);
    s_world_end (&w);
}

//  Books `patient` with `doc` at `at` (ms UTC) for type `type`; the reply
//  or error as itest_req.
static json_t *
s_book_type (s_world_t *w, int want, const char *field, const char *type, const char *patient,
             const char *doc, int64_t at)
{
    return itest_req (w->sch, want, field, "scheduling.Book",
                      "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": "
                      "\"%s\", \"start\": %lld}", patient, type, doc, (long long) at);
}

//  The id of a booking that must succeed ("" when it did not).
static void
s_book_type_id (s_world_t *w, const char *type, const char *doc, int64_t at, char *id)
{
    json_t *a = s_book_type (w, 0, NULL, type, w->patient, doc, at);
    snprintf (id, PM_ID_MAX, "%s", a ? itest_json_str (a, "id") : "");
    json_decref (a);
}

//  A type's id from DefineType with the JSON fields `fields` ("" on failure).
static void
s_define (s_world_t *w, const char *fields, char *id)
{
    json_t *t = itest_req (w->sch, 0, NULL, "scheduling.DefineType",
                           "{\"type\": {\"site_id\": \"north\", \"practitioner_role\": "
                           "\"physician\", %s}}", fields);
    snprintf (id, PM_ID_MAX, "%s", t ? itest_json_str (t, "id") : "");
    json_decref (t);
}

//  doc also works 18:00-23:00 New York time on Tuesday 5 March
//  (23:00Z-04:00Z): visits on the next UTC date, the same local one.
static bool
s_evening_shift (s_world_t *w)
{
    json_t *r = itest_req (w->stf, 0, NULL, "staffing.CreateShiftTemplate",
                           "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                           "\"name\": \"Evening\", \"starts\": \"18:00\", \"ends\": \"23:00\"}}");
    char tpl[PM_ID_MAX];
    snprintf (tpl, sizeof tpl, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    r = itest_req (w->stf, 0, NULL, "staffing.AddShifts",
                   "{\"template_id\": \"%s\", \"from_date\": \"2030-03-05\", \"to_date\": "
                   "\"2030-03-05\", \"staff_id\": \"%s\"}", tpl, w->doc);
    bool ok = r != NULL;
    json_decref (r);
    return ok && s_synced (w->sch, w->stf, w->pat);
}

//  A site whose zone changes has its limited types' days counted again
//  in the new zone: one new-patient visit a day; the visit at 01:00Z on
//  Wednesday is Tuesday in New York, Wednesday in London.
static void
s_test_day_limits_zone (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    CHECK (s_evening_shift (&w));
    char np[PM_ID_MAX], x[PM_ID_MAX], y[PM_ID_MAX];
    s_define (&w, "\"name\": \"New patient\", \"duration_minutes\": 30, \"max_per_day\": 1", np);
    CHECK (pm_id_valid (np, "atp"));
    s_book_type_id (&w, np, w.doc, s_utc ("2030-03-06T01:00"), x);
    CHECK (*x);
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.other, w.doc,
                                s_utc ("2030-03-05T14:00")), "on 2030-03-05"));
    //  The site moves to London's zone (its shifts stay the same instants).
    char site[2048], moved[2048];
    snprintf (site, sizeof site, s_site_json, "");
    const char *at = strstr (site, "America/New_York");
    CHECK (at);
    snprintf (moved, sizeof moved, "%.*sEurope/London%s", (int) (at - site), site,
              at + strlen ("America/New_York"));
    json_t *r = itest_req (w.stf, 0, NULL, "staffing.UpdateSite",
                           "{\"site\": %s, \"expected_version\": 1}", moved);
    CHECK (r);
    json_decref (r);
    CHECK (s_synced (w.sch, w.stf, w.pat));
    s_book_type_id (&w, np, w.doc, s_utc ("2030-03-05T14:00"), y);
    CHECK (*y);
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.other, w.doc,
                                s_utc ("2030-03-06T14:00")), "already has 1 New patient visits "
                                                             "booked or held on 2030-03-06"));
    s_world_end (&w);
}

//  Daily limits: at most 2 new-patient visits a day per doctor and 3 at
//  the site, counted on the site's local day (New York: an 20:00 visit
//  is 01:00 UTC the next day and still counts on its local day). The
//  third is refused with the reason, by Book, HoldSlot, Reschedule and
//  BookSeries alike; FindSlots offers nothing on a full day; a cancel or
//  entered-in-error frees a place; a move within the day keeps its
//  place; a waitlist offer takes a place until accepted; a limit set on
//  a type with bookings counts them.
static void
s_test_day_limits (void)
{
    s_world_t w;
    CHECK (s_world (&w, NULL));
    CHECK (s_evening_shift (&w));
    json_t *r;

    //  Bad limits, by field.
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "type.max_per_day", "scheduling.DefineType",
                              "{\"type\": {\"site_id\": \"north\", \"name\": \"X\", "
                              "\"duration_minutes\": 30, \"practitioner_role\": \"physician\", "
                              "\"max_per_day\": 1001}}"), "0 (no limit) .. 1000"));
    CHECK (s_says (itest_req (w.sch, PM_EINVAL, "type.site_max_per_day",
                              "scheduling.DefineType",
                              "{\"type\": {\"site_id\": \"north\", \"name\": \"X\", "
                              "\"duration_minutes\": 30, \"practitioner_role\": \"physician\", "
                              "\"max_per_day\": 4, \"site_max_per_day\": 3}}"),
                   "not below max_per_day"));
    char np[PM_ID_MAX];
    s_define (&w, "\"name\": \"New patient\", \"duration_minutes\": 30, \"max_per_day\": 2, "
                  "\"site_max_per_day\": 3", np);
    CHECK (pm_id_valid (np, "atp"));
    json_t *t = itest_req (w.sch, 0, NULL, "scheduling.GetType", "{\"type_id\": \"%s\"}", np);
    CHECK (t && s_int (t, "max_per_day") == 2 && s_int (t, "site_max_per_day") == 3);
    json_decref (t);

    //  Two on Tuesday (local) for doc; a third that evening (20:00 local,
    //  01:00Z on Wednesday) is refused, as is a hold then.
    char a[PM_ID_MAX], b[PM_ID_MAX], c[PM_ID_MAX], d[PM_ID_MAX], e[PM_ID_MAX];
    s_book_type_id (&w, np, w.doc, s_utc ("2030-03-05T14:00"), a);
    s_book_type_id (&w, np, w.doc, s_utc ("2030-03-05T15:00"), b);
    CHECK (*a && *b);
    const char *full_doc = "visits booked or held on 2030-03-05: the type allows 2 a day per "
                           "practitioner";
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.other, w.doc,
                                s_utc ("2030-03-06T01:00")), full_doc));
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.other, w.doc,
                                s_utc ("2030-03-06T01:00")), "already has 2 New patient"));
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "start", "scheduling.HoldSlot",
                              "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"start\": "
                              "%lld, \"seconds\": 60}", np, w.doc,
                              (long long) s_utc ("2030-03-06T02:00")), full_doc));
    //  Wednesday 09:00 local is another day.
    s_book_type_id (&w, np, w.doc, s_utc ("2030-03-06T14:00"), c);
    CHECK (*c);
    json_t *ev = s_events (w.sch, "scheduling.appointment.booked");
    CHECK (json_array_size (ev) == 3);
    json_decref (ev);

    //  The search offers doc nothing on local Tuesday (its evening shift
    //  included), and starts on Wednesday at 08:00 local.
    r = itest_req (w.sch, 0, NULL, "scheduling.FindSlots",
                   "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"from\": %lld, "
                   "\"to\": %lld, \"limit\": 500}", np, w.doc,
                   (long long) s_utc ("2030-03-05T05:00"), (long long) s_utc ("2030-03-07T05:00"));
    CHECK (r && json_array_size (itest_json_at (r, "slots")) > 0);
    CHECK (s_int (r, "slots[0].start") == s_utc ("2030-03-06T13:00"));
    json_decref (r);
    //  Any physician on Tuesday: doc2's only.
    r = itest_req (w.sch, 0, NULL, "scheduling.FindSlots",
                   "{\"type_id\": \"%s\", \"from\": %lld, \"to\": %lld, \"limit\": 500}", np,
                   (long long) s_utc ("2030-03-05T05:00"), (long long) s_utc ("2030-03-06T05:00"));
    CHECK (r && json_array_size (itest_json_at (r, "slots")) > 0);
    for (size_t i = 0; r && i < json_array_size (itest_json_at (r, "slots")); i++) {
        json_t *slot = json_array_get (itest_json_at (r, "slots"), i);
        CHECK (strcmp (itest_json_str (slot, "practitioner_id"), w.doc2) == 0);
    }
    json_decref (r);

    //  Moved within its day, b keeps its place; c cannot move onto the
    //  full day.
    r = itest_req (w.sch, 0, NULL, "scheduling.Reschedule",
                   "{\"appointment_id\": \"%s\", \"start\": %lld}", b,
                   (long long) s_utc ("2030-03-05T16:00"));
    CHECK (r);
    json_decref (r);
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "start", "scheduling.Reschedule",
                              "{\"appointment_id\": \"%s\", \"start\": %lld}", c,
                              (long long) s_utc ("2030-03-05T17:00")), full_doc));

    //  A cancel frees a place: the evening visit now fits.
    r = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
                   "{\"appointment_id\": \"%s\", \"reason\": \"better\"}", a);
    CHECK (r);
    json_decref (r);
    s_book_type_id (&w, np, w.doc, s_utc ("2030-03-06T01:00"), d);
    CHECK (*d);

    //  The site's limit: doc's two and one of doc2's make three.
    s_book_type_id (&w, np, w.doc2, s_utc ("2030-03-05T17:00"), e);
    CHECK (*e);
    const char *full_site = "site north already has 3 New patient visits booked or held on "
                            "2030-03-05: the type allows 3 a day at the site";
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.other, w.doc2,
                                s_utc ("2030-03-05T18:00")), full_site));
    CHECK (s_says (itest_req (w.sch, PM_ECONFLICT, "rule", "scheduling.BookSeries",
                              "{\"first\": {\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                              "\"practitioner_id\": \"%s\", \"start\": %lld}, \"rule\": "
                              "{\"frequency\": \"daily\", \"count\": 2}}", w.other, np, w.doc2,
                              (long long) s_utc ("2030-03-05T19:00")),
                   "1 of 2 occurrences cannot be booked, none was: #1 (2030-03-05): site north "
                   "already has 3"));
    //  Entered in error: it no longer counts.
    r = itest_req (w.sch, 0, NULL, "scheduling.EnteredInError",
                   "{\"appointment_id\": \"%s\", \"reason\": \"wrong patient\"}", e);
    CHECK (r);
    json_decref (r);
    s_book_type_id (&w, np, w.doc2, s_utc ("2030-03-05T18:00"), e);
    CHECK (*e);

    //  A waitlist offer holds a place: d's slot, freed by a cancel, is
    //  held for the entry, so doc's day is full again until it is
    //  accepted (and stays full after).
    r = itest_req (w.sch, 0, NULL, "scheduling.AddToWaitlist",
                   "{\"entry\": {\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                   "\"practitioner_id\": \"%s\", \"latest\": %lld}}", w.other, np, w.doc,
                   (long long) s_utc ("2030-03-08T23:00"));
    CHECK (r);
    char entry[PM_ID_MAX];
    snprintf (entry, sizeof entry, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (w.sch, 0, NULL, "scheduling.Cancel",
                   "{\"appointment_id\": \"%s\", \"reason\": \"away\"}", d);
    CHECK (r);
    json_decref (r);
    CHECK (s_entry_is (&w, entry, "WAITLIST_OFFERED", NULL));
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.patient, w.doc,
                                s_utc ("2030-03-05T20:00")), full_doc));
    r = itest_req (w.sch, 0, NULL, "scheduling.AcceptOffer", "{\"entry_id\": \"%s\"}", entry);
    CHECK (r && s_int (r, "start") == s_utc ("2030-03-06T01:00"));
    json_decref (r);
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", np, w.patient, w.doc,
                                s_utc ("2030-03-05T20:00")), full_doc));

    //  A limit set on a type that has bookings counts them; removed, it
    //  no longer refuses.
    char fu[PM_ID_MAX], f1[PM_ID_MAX], f2[PM_ID_MAX], f3[PM_ID_MAX];
    s_define (&w, "\"name\": \"Follow-up\", \"duration_minutes\": 20", fu);
    CHECK (pm_id_valid (fu, "atp"));
    s_book_type_id (&w, fu, w.doc2, s_utc ("2030-03-07T14:00"), f1);
    s_book_type_id (&w, fu, w.doc2, s_utc ("2030-03-07T15:00"), f2);
    CHECK (*f1 && *f2);
    const char *upd = "{\"type\": {\"id\": \"%s\", \"name\": \"Follow-up\", "
                      "\"duration_minutes\": 20, \"practitioner_role\": \"physician\", "
                      "\"max_per_day\": %d}, \"expected_version\": %d}";
    r = itest_req (w.sch, 0, NULL, "scheduling.UpdateType", upd, fu, 2, 1);
    CHECK (r);
    json_decref (r);
    CHECK (s_says (s_book_type (&w, PM_ECONFLICT, "start", fu, w.patient, w.doc2,
                                s_utc ("2030-03-07T16:00")),
                   "already has 2 Follow-up visits booked or held on 2030-03-07"));
    r = itest_req (w.sch, 0, NULL, "scheduling.UpdateType", upd, fu, 0, 2);
    CHECK (r);
    json_decref (r);
    s_book_type_id (&w, fu, w.doc2, s_utc ("2030-03-07T16:00"), f3);
    CHECK (*f3);
    s_world_end (&w);
}

int
main (int argc, char *argv[])
{
    static const itest_case_t cases[] = {
        {"types", s_test_types},
        {"booking_rules", s_test_booking_rules},
        {"booking_race", s_test_booking_race},
        {"lifecycle", s_test_lifecycle},
        {"late_cancel", s_test_late_cancel},
        {"auto_noshow", s_test_auto_noshow},
        {"slots_and_holds", s_test_slots_and_holds},
        {"scope_and_audit", s_test_scope_and_audit},
        {"search_timing", s_test_search_timing},
        {"series", s_test_series},
        {"at_risk", s_test_at_risk},
        {"credential_risk", s_test_credential_risk},
        {"merge_repoint", s_test_merge_repoint},
        {"views", s_test_views},
        {"waitlist", s_test_waitlist},
        {"waitlist_lapse", s_test_waitlist_lapse},
        {"day_limits", s_test_day_limits},
        {"day_limits_zone", s_test_day_limits_zone},
        {"merge_backfill", s_test_merge_backfill},
        {NULL, NULL},
    };
    return itest_main (argc, argv, cases);
}
