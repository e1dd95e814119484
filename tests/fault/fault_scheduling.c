/*  fault_scheduling.c: the scheduling workload of the fault suites, the
    clinic it runs in, the money check and the leave check.

    The clinic: staffing (a New York site whose policy makes a cancellation
    less than an hour before the start late; practitioners rostered all
    week; a practice manager who approves leave), patients, scheduling and
    finance (a price for the visit type, a no-show fee, a late-cancel fee)
    following it. Staffing's and scheduling's clocks both run from a
    Tuesday morning of March 2030 (one world, one time: scheduling holds
    staffing's event times against its own bookings).

    Each user has its own practitioners and patients, so a command is valid
    when it is first sent. It books group visits (a 5-minute type of
    capacity 50) a few seconds ahead on the service clock, one session per
    practitioner, and decides for each booking what will happen: once the
    start has passed the patient arrives and the visit is fulfilled, or it
    is marked a no-show; some are cancelled before, some left booked.
    In between it books further ahead (sessions of every practitioner of
    its own over the next three days), cancelling some a day or more
    before: early, no fee. Cancellations in the sessions soon come seconds
    before the start: late.

    Beside it a front desk registers new patients in patients (killed in
    turn too); a user books them ahead once scheduling knows them. During
    the load each user's practitioner LEAVE_P gets a day of leave approved
    (LEAVE_DATE, inside the ahead days), which scheduling flags on every
    booking of theirs that day (scheduling.appointment.at_risk, its own
    event, no client's write); the user keeps those bookings, and stops
    booking that day once scheduling refuses it.
    Refusals the users expect, which change nothing: a Book whose start
    passed while the service was down (the retry came too late); a Book of
    a new patient scheduling has not heard of yet (tried again later); a
    Book into the leave once it was approved.

    The money check then holds finance's charges against scheduling's
    stream: each fulfilled appointment one visit charge, each no-show one
    fee, each late cancellation one late-cancel fee (late by the site's
    window, as the appointment says too), nothing for an early one,
    nothing else, nothing twice, finance's cursor at the stream's end.
    The leave check: every booking of a practitioner inside their approved
    leave flagged at risk exactly once, nothing outside any leave.       */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "finance.pb-c.h"
#include "scheduling.pb-c.h"

#define MIN_MS 60000LL
#define HOUR_MS (60 * MIN_MS)
#define PRACTITIONERS 24       //  per user for sessions soon, plus one ahead
#define PATIENTS 8             //  per user; also the size of a session
#define T0 1898949600000LL     //  2030-03-05 14:00 UTC, 09:00 in New York
#define AHEAD 1899032400000LL  //  2030-03-06 13:00 UTC: sessions booked ahead
#define SESSION_LEAD_MS 2500   //  a session starts this long after it opens
#define BOOK_UNTIL_MS 1500     //  booking into it stops this long before
#define STEP_AFTER_MS 300      //  steps after the start wait this much more
#define AHEAD_STAFF (PRACTITIONERS + 1)  //  a user's practitioners booked ahead
#define AHEAD_DAYS 3
#define LEAVE_P 3              //  each user's practitioner who takes a day off
#define LEAVE_DAY 1            //  which of the ahead days
#define LEAVE_DATE "2030-03-07"
#define AHEAD_FIRST (LEAVE_DAY * AHEAD_STAFF + LEAVE_P)  //  the first session ahead
#define FRESH_RETRY_MS 100     //  a new patient scheduling did not know yet

//  A patient the front desk registered during the load.
typedef struct {
    char id[PM_ID_MAX];
    int state;                 //  0 waiting, 1 being booked, 2 booked
    int64_t retry_at;          //  wall clock
} s_fresh_t;

//  What fault_clinic_start made, for the users.
static struct {
    int64_t offset;                     //  scheduling's clock - wall clock
    char clock[64];                     //  its PM_CLOCK_OFFSET_MS setting
    char type[PM_ID_MAX];
    char (*staff)[PM_ID_MAX];           //  users x (PRACTITIONERS + 1)
    char (*patients)[PM_ID_MAX];        //  users x PATIENTS
    int users;
    char manager[PM_ID_MAX];            //  the practice manager
    s_fresh_t *fresh;                   //  new patients, in order
    size_t n_fresh, cap_fresh, fresh_from;
    bool *leave_sent;                   //  per user: approval sent
    bool *leave_closed;                 //  per user: scheduling refused it
    size_t unknown_patient, on_leave;   //  Books declined by these causes
} s_clinic;

//  What a user means to do with a booking.
typedef enum { PLAN_FULFIL, PLAN_NOSHOW, PLAN_CANCEL, PLAN_KEEP } s_plan_t;

typedef struct {
    char id[PM_ID_MAX];
    int64_t start;
    s_plan_t plan;
    int step;           //  steps done: fulfil = arrive, fulfil; else one
    bool done;
} s_appt_t;

typedef struct {
    int user;
    s_appt_t *appts;
    size_t n, cap;
    //  The session being booked: its practitioner and start.
    int practitioner;        //  0..PRACTITIONERS-1; -1: none open
    int sessions;            //  sessions opened so far
    int64_t start;
    int booked;              //  bookings in it
    int64_t last_start[PRACTITIONERS];
    unsigned ahead;          //  bookings made ahead
    //  The command in flight.
    int target;              //  appointment it steps, -1: a Book
    s_plan_t plan;           //  a Book's plan
    int64_t book_start;
    bool book_leave;         //  a Book of LEAVE_P on the leave day
    long fresh;              //  a Book of a new patient: which, else -1
} s_model_t;

//  --------------------------------------------------------------------------
//  The scheduling clock now.
static int64_t
s_now (void)
{
    return pm_clock_wall_ms () + s_clinic.offset;
}

//  --------------------------------------------------------------------------
//  A user's empty model.
static void *
s_model_new (int user)
{
    s_model_t *m = calloc (1, sizeof *m);
    m->user = user;
    m->practitioner = -1;
    m->target = -1;
    m->fresh = -1;
    return m;
}

//  --------------------------------------------------------------------------
//  Frees a user's model.
static void
s_model_destroy (void *model)
{
    s_model_t *m = model;
    if (m) {
        free (m->appts);
        free (m);
    }
}

//  --------------------------------------------------------------------------
//  Packs `msg` into a new buffer.
static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size (msg);
    uint8_t *buf = malloc (*len ? *len : 1);
    protobuf_c_message_pack (msg, buf);
    return buf;
}

//  --------------------------------------------------------------------------
//  A Book with practitioner `p` at `start` of `patient`, else of the
//  user's next patient.
static void
s_book (s_model_t *m, int p, int64_t start, s_plan_t plan, const char *patient,
        char *type, uint8_t **body, size_t *len)
{
    Pm__Scheduling__Book book = PM__SCHEDULING__BOOK__INIT;
    book.patient_id = (char *) (patient ? patient
                                        : s_clinic.patients[m->user * PATIENTS
                                                            + (int) (m->n % PATIENTS)]);
    book.type_id = s_clinic.type;
    book.practitioner_id = s_clinic.staff[m->user * (PRACTITIONERS + 1) + p];
    book.has_start = 1;
    book.start = start;
    snprintf (type, 64, "scheduling.Book");
    *body = s_pack (&book.base, len);
    m->target = -1;
    m->plan = plan;
    m->book_start = start;
}

//  --------------------------------------------------------------------------
//  A step of appointment `i`.
static void
s_step (s_model_t *m, size_t i, const char *command, const char *reason, char *type,
        uint8_t **body, size_t *len)
{
    Pm__Scheduling__Transition t = PM__SCHEDULING__TRANSITION__INIT;
    t.appointment_id = m->appts[i].id;
    t.reason = (char *) reason;
    snprintf (type, 64, "%s", command);
    *body = s_pack (&t.base, len);
    m->target = (int) i;
}

//  --------------------------------------------------------------------------
//  A new patient to book, if one waits (marked as being booked), else NULL.
static const char *
s_take_fresh (s_model_t *m)
{
    while (s_clinic.fresh_from < s_clinic.n_fresh
           && s_clinic.fresh[s_clinic.fresh_from].state == 2) {
        s_clinic.fresh_from++;
    }
    int64_t wall = pm_clock_wall_ms ();
    for (size_t i = s_clinic.fresh_from; i < s_clinic.n_fresh; i++) {
        s_fresh_t *f = &s_clinic.fresh[i];
        if (f->state == 0 && wall >= f->retry_at) {
            f->state = 1;
            m->fresh = (long) i;
            return f->id;
        }
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  The user's next command: a due step of a booking, a cancellation, a
//  booking into the open session, a new session, or a booking ahead.
static void
s_next (void *model, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    s_model_t *m = model;
    int64_t now = s_now ();
    m->fresh = -1;
    m->book_leave = false;
    for (size_t i = 0; i < m->n; i++) {
        s_appt_t *a = &m->appts[i];
        if (a->done) {
            continue;
        }
        if (a->plan == PLAN_CANCEL) {
            s_step (m, i, "scheduling.Cancel", "patient called (fault drill)", type, body,
                    len);
            return;
        }
        if (now >= a->start + STEP_AFTER_MS) {
            if (a->plan == PLAN_NOSHOW) {
                s_step (m, i, "scheduling.NoShow", "did not come (fault drill)", type,
                        body, len);
            }
            else {
                s_step (m, i, a->step == 0 ? "scheduling.Arrive" : "scheduling.Fulfil",
                        NULL, type, body, len);
            }
            return;
        }
    }
    uint64_t roll = fault_rand (rng, 100);
    s_plan_t plan = roll < 50 ? PLAN_FULFIL : roll < 75 ? PLAN_NOSHOW
                  : roll < 90 ? PLAN_CANCEL : PLAN_KEEP;
    if (m->practitioner >= 0 && m->booked < PATIENTS
        && now < m->start - BOOK_UNTIL_MS) {
        m->booked++;
        s_book (m, m->practitioner, m->start, plan, NULL, type, body, len);
        return;
    }
    //  A new session once booking into the last one closed, with the next
    //  practitioner if its last session (5 minutes) is long over.
    int p = m->sessions % PRACTITIONERS;
    int64_t start = now + SESSION_LEAD_MS;
    if ((m->practitioner < 0 || now >= m->start - BOOK_UNTIL_MS)
        && (m->last_start[p] == 0 || start > m->last_start[p] + 10 * MIN_MS)) {
        m->sessions++;
        m->practitioner = p;
        m->start = start;
        m->last_start[p] = start;
        m->booked = 1;
        s_book (m, p, start, plan, NULL, type, body, len);
        return;
    }
    //  Ahead: eight a session, each practitioner of the user's on each of
    //  the next three days in turn, then the next 5 minutes from 13:00 UTC
    //  (08:00 in New York) on; the first is LEAVE_P's on the leave day, so
    //  that the leave has bookings however slow the load. Not into the
    //  leave scheduling refused.
    unsigned slot = m->ahead / PATIENTS + AHEAD_FIRST;
    while (slot % AHEAD_STAFF == LEAVE_P && slot / AHEAD_STAFF % AHEAD_DAYS == LEAVE_DAY
           && s_clinic.leave_closed[m->user]) {
        m->ahead = (++slot - AHEAD_FIRST) * PATIENTS;
    }
    m->ahead++;
    p = (int) (slot % AHEAD_STAFF);
    unsigned day = slot / AHEAD_STAFF % AHEAD_DAYS;
    int64_t at = AHEAD + (int64_t) day * 24 * HOUR_MS
                 + (int64_t) (slot / (AHEAD_STAFF * AHEAD_DAYS) % 120) * 5 * MIN_MS;
    //  The leave's bookings stay: each must end up flagged once.
    bool leave = p == LEAVE_P && day == LEAVE_DAY;
    const char *patient = s_take_fresh (m);
    s_book (m, p, at, roll < 30 && !leave ? PLAN_CANCEL : PLAN_KEEP, patient, type, body,
            len);
    m->book_leave = leave;
}

//  --------------------------------------------------------------------------
//  Learns the booking, or the step, an acknowledgement names.
static void
s_acked (void *model, const char *type, const Pm__Reply *reply, char *subject)
{
    s_model_t *m = model;
    Pm__Scheduling__Appointment *a
        = pm__scheduling__appointment__unpack (NULL, reply->body.len, reply->body.data);
    if (!a || !a->id) {
        pm__scheduling__appointment__free_unpacked (a, NULL);
        return;
    }
    snprintf (subject, PM_ID_MAX, "%s", a->id);
    if (strcmp (type, "scheduling.Book") == 0) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->appts = realloc (m->appts, m->cap * sizeof *m->appts);
        }
        s_appt_t *r = &m->appts[m->n++];
        memset (r, 0, sizeof *r);
        snprintf (r->id, sizeof r->id, "%s", a->id);
        r->start = a->start;
        r->plan = m->plan;
        r->done = m->plan == PLAN_KEEP;
        if (m->fresh >= 0) {
            s_clinic.fresh[m->fresh].state = 2;
            m->fresh = -1;
        }
    }
    else if (m->target >= 0) {
        s_appt_t *r = &m->appts[m->target];
        r->step++;
        r->done = r->plan != PLAN_FULFIL || r->step == 2;
    }
    pm__scheduling__appointment__free_unpacked (a, NULL);
}

//  --------------------------------------------------------------------------
//  A final refusal. Expected: a Book whose start passed before it was done
//  (sent before, answered after a kill); a Book of a new patient whom
//  scheduling has not heard of yet (the patient waits to be booked
//  again); a Book into the leave once its approval was sent (the user
//  books that day no more). Anything else is not. Either way the user
//  gives up on the command.
static bool
s_refusal_ok (void *model, const char *type, const Pm__Reply *reply)
{
    s_model_t *m = model;
    if (strcmp (type, "scheduling.Book") == 0) {
        const char *field = reply->field ? reply->field : "";
        bool ok = reply->code == PM__CODE__EINVAL && strcmp (field, "start") == 0
                  && s_now () >= m->book_start;
        if (m->fresh >= 0) {
            s_clinic.fresh[m->fresh].state = 0;
            s_clinic.fresh[m->fresh].retry_at = pm_clock_wall_ms () + FRESH_RETRY_MS;
            m->fresh = -1;
            if (!ok && reply->code == PM__CODE__ENOTFOUND
                && strcmp (field, "patient_id") == 0) {
                s_clinic.unknown_patient++;
                ok = true;
            }
        }
        if (!ok && m->book_leave && s_clinic.leave_sent[m->user]
            && (reply->code == PM__CODE__ECONFLICT || reply->code == PM__CODE__EINVAL)) {
            if (s_clinic.on_leave == 0) {
                printf ("    money: a booking into the leave refused: %s: %s\n",
                        pm_err_name ((pm_err) reply->code),
                        reply->message ? reply->message : "");
            }
            s_clinic.leave_closed[m->user] = true;
            s_clinic.on_leave++;
            ok = true;
        }
        return ok;
    }
    if (m->target >= 0) {
        m->appts[m->target].done = true;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  The appointment as scheduling.Get answers it.
static void
s_read (const char *subject, char *type, uint8_t **body, size_t *len)
{
    Pm__Scheduling__GetAppointment get = PM__SCHEDULING__GET_APPOINTMENT__INIT;
    get.appointment_id = (char *) subject;
    snprintf (type, 64, "scheduling.Get");
    *body = s_pack (&get.base, len);
}

//  --------------------------------------------------------------------------
//  The version of a packed appointment (0 if it does not decode).
static uint64_t
s_version (const uint8_t *data, size_t len)
{
    Pm__Scheduling__Appointment *a = pm__scheduling__appointment__unpack (NULL, len, data);
    uint64_t v = a ? a->version : 0;
    pm__scheduling__appointment__free_unpacked (a, NULL);
    return v;
}

//  --------------------------------------------------------------------------
//  Scheduling's own events: re-validation after a staffing change.
static bool
s_own_event (const Pm__Event *ev)
{
    return ev->type && strcmp (ev->type, "scheduling.appointment.at_risk") == 0;
}

const fault_workload_t fault_scheduling = {
    "scheduling", "pm-scheduling", 1, "scheduling.appointment.", false,
    s_model_new, s_model_destroy, s_next, s_acked, s_read, s_version, s_refusal_ok, NULL,
    NULL, NULL, s_own_event,
};

//  --- the clinic ----------------------------------------------------------------

//  --------------------------------------------------------------------------
//  Calls `type`, copying the reply's `id` into `id` (if given).
static bool
s_make (pm_client_t *c, char *id, const char *type, const char *json)
{
    json_t *r = itest_req (c, 0, NULL, type, "%s", json);
    const char *got = r ? json_string_value (json_object_get (r, "id")) : NULL;
    if (id) {
        snprintf (id, PM_ID_MAX, "%s", got ? got : "");
    }
    json_decref (r);
    return r != NULL && (!id || *id);
}

//  --------------------------------------------------------------------------
//  Waits until `svc` has applied `source`'s stream up to `seq`.
static bool
s_applied (pm_client_t *c, const char *source, uint64_t seq)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until) {
        Pm__Health *h = itest_health (c);
        bool done = false;
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            done = done
                   || (strcmp (h->consumers[i]->source, source) == 0
                       && h->consumers[i]->cursor >= seq && !h->consumers[i]->catching_up);
        }
        pm__health__free_unpacked (h, NULL);
        if (done) {
            return true;
        }
        zclock_sleep (20);
    }
    return false;
}

//  --------------------------------------------------------------------------
//  Fills staffing and patients and starts scheduling and finance after them.
static int
s_fill (pm_client_t *stf, pm_client_t *pat, int users)
{
    char json[2048], tpl[PM_ID_MAX];
    snprintf (json, sizeof json,
              "{\"site\": {\"id\": \"north\", \"name\": \"North Clinic\", "
              "\"time_zone\": \"America/New_York\", \"currency\": \"USD\", "
              "\"opening_hours\": [{\"weekday\": 2, \"opens\": \"08:00\", "
              "\"closes\": \"18:00\"}, {\"weekday\": 3, \"opens\": \"08:00\", "
              "\"closes\": \"18:00\"}, {\"weekday\": 4, \"opens\": \"08:00\", "
              "\"closes\": \"18:00\"}, {\"weekday\": 5, \"opens\": \"08:00\", "
              "\"closes\": \"18:00\"}], \"policy\": {\"late_cancel_minutes\": %d, "
              "\"no_show_grace_minutes\": 600}}}", FAULT_LATE_CANCEL_MINUTES);
    bool ok = s_make (stf, NULL, "staffing.CreateSite", json)
              && s_make (stf, tpl, "staffing.CreateShiftTemplate",
                         "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                         "\"name\": \"Day\", \"starts\": \"08:00\", \"ends\": \"18:00\"}}");
    ok = ok && s_make (stf, NULL, "staffing.SetLeaveType",
                       "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual leave\", "
                       "\"yearly_days\": 30}}")
         && s_make (stf, s_clinic.manager, "staffing.Onboard",
                    "{\"staff\": {\"name\": {\"family\": \"Manager\", \"given\": "
                    "[\"Mo\"]}, \"employment_type\": \"FULL_TIME\", \"pay_rate_minor\": "
                    "7000, \"currency\": \"USD\", \"roles\": [\"practice-manager\"], "
                    "\"sites\": [{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                    "\"start_date\": \"2029-01-01\"}}");
    int staff = users * (PRACTITIONERS + 1);
    for (int i = 0; ok && i < staff; i++) {
        snprintf (json, sizeof json,
                  "{\"staff\": {\"name\": {\"family\": \"Drill%03d\", \"given\": [\"Jo\"]}, "
                  "\"employment_type\": \"FULL_TIME\", \"pay_rate_minor\": 5000, "
                  "\"currency\": \"USD\", \"roles\": [\"physician\"], \"sites\": "
                  "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                  "\"start_date\": \"2029-01-01\"}}", i);
        ok = s_make (stf, s_clinic.staff[i], "staffing.Onboard", json);
        snprintf (json, sizeof json,
                  "{\"template_id\": \"%s\", \"from_date\": \"2030-03-05\", \"to_date\": "
                  "\"2030-03-08\", \"staff_id\": \"%s\"}", tpl, s_clinic.staff[i]);
        ok = ok && s_make (stf, NULL, "staffing.AddShifts", json);
    }
    for (int i = 0; ok && i < users * PATIENTS; i++) {
        snprintf (json, sizeof json,
                  "{\"patient\": {\"name\": {\"family\": \"Ledger%03d\", \"given\": "
                  "[\"Ana\"]}, \"birth_date\": \"19%02d-0%d-1%d\", \"home_site\": "
                  "\"north\"}}", i, 40 + i % 50, 1 + i % 9, i % 10);
        ok = s_make (pat, s_clinic.patients[i], "patients.Register", json);
    }
    return ok ? 0 : -1;
}

int
fault_clinic_start (itest_svc_t *staffing, itest_svc_t *patients, itest_svc_t *sched,
                    itest_svc_t *fin, int users)
{
    free (s_clinic.staff);
    free (s_clinic.patients);
    free (s_clinic.fresh);
    free (s_clinic.leave_sent);
    free (s_clinic.leave_closed);
    memset (&s_clinic, 0, sizeof s_clinic);
    s_clinic.users = users;
    s_clinic.staff = calloc ((size_t) users * (PRACTITIONERS + 1), PM_ID_MAX);
    s_clinic.patients = calloc ((size_t) users * PATIENTS, PM_ID_MAX);
    s_clinic.leave_sent = calloc ((size_t) users, sizeof (bool));
    s_clinic.leave_closed = calloc ((size_t) users, sizeof (bool));
    itest_svc_init (staffing, "staffing", "pm-staffing");
    itest_svc_init (patients, "patients", "pm-patients");
    itest_svc_init (sched, "scheduling", "pm-scheduling");
    itest_svc_init (fin, "finance", "pm-finance");
    //  Staffing's and scheduling's clock: T0 now, running on from there.
    s_clinic.offset = T0 - pm_clock_wall_ms ();
    snprintf (s_clinic.clock, sizeof s_clinic.clock, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) s_clinic.offset);
    staffing->env[0] = s_clinic.clock;
    staffing->env[1] = NULL;
    if (itest_start (staffing) != 0 || itest_start (patients) != 0) {
        return -1;
    }
    pm_client_t *stf = itest_client (staffing);
    pm_client_t *pat = itest_client (patients);
    int rc = s_fill (stf, pat, users);
    itest_point_at (sched, staffing);
    itest_point_at (sched, patients);
    size_t n = 0;
    while (sched->env[n]) {
        n++;
    }
    sched->env[n] = s_clinic.clock;
    pm_client_t *sch = NULL, *fc = NULL;
    if (rc == 0 && itest_start (sched) != 0) {
        rc = -1;
    }
    if (rc == 0) {
        itest_point_at (fin, sched); //  its ports are known once it runs
        rc = itest_start (fin);
    }
    if (rc == 0) {
        sch = itest_client (sched);
        fc = itest_client (fin);
        char json[512], fees[256];
        snprintf (fees, sizeof fees,
                  "{\"site_id\": \"north\", \"currency\": \"USD\", \"time_zone\": "
                  "\"America/New_York\", \"no_show_fee_minor\": %d, "
                  "\"late_cancel_fee_minor\": %d}", FAULT_NOSHOW_FEE, FAULT_LATE_CANCEL_FEE);
        rc = s_applied (sch, "staffing", fault_high_seq (stf))
                     && s_applied (sch, "patients", fault_high_seq (pat))
                     && s_make (sch, s_clinic.type, "scheduling.DefineType",
                                "{\"type\": {\"site_id\": \"north\", \"name\": \"Group "
                                "visit\", \"duration_minutes\": 5, \"practitioner_role\": "
                                "\"physician\", \"capacity\": 50}}")
                     && s_make (fc, NULL, "finance.SetSite", fees)
                 ? 0
                 : -1;
        snprintf (json, sizeof json,
                  "{\"price\": {\"site_id\": \"north\", \"code\": \"%s\", \"amount_minor\": "
                  "%d, \"currency\": \"USD\", \"valid_from\": 0}}", s_clinic.type,
                  FAULT_VISIT_PRICE);
        rc = rc == 0 && s_make (fc, NULL, "finance.SetPrice", json) ? 0 : -1;
    }
    pm_client_destroy (&stf);
    pm_client_destroy (&pat);
    pm_client_destroy (&sch);
    pm_client_destroy (&fc);
    return rc;
}

//  --- the front desk's new patients and the leave -------------------------------

void
fault_clinic_patient (const char *id)
{
    if (s_clinic.n_fresh == s_clinic.cap_fresh) {
        s_clinic.cap_fresh = s_clinic.cap_fresh ? s_clinic.cap_fresh * 2 : 256;
        s_clinic.fresh = realloc (s_clinic.fresh, s_clinic.cap_fresh * sizeof *s_clinic.fresh);
    }
    s_fresh_t *f = &s_clinic.fresh[s_clinic.n_fresh++];
    memset (f, 0, sizeof *f);
    snprintf (f->id, sizeof f->id, "%s", id);
}

void
fault_clinic_fresh (fault_fresh_t *out)
{
    memset (out, 0, sizeof *out);
    out->registered = s_clinic.n_fresh;
    for (size_t i = 0; i < s_clinic.n_fresh; i++) {
        out->booked += s_clinic.fresh[i].state == 2;
    }
    out->unknown = s_clinic.unknown_patient;
    out->on_leave = s_clinic.on_leave;
}

int
fault_clinic_book_rest (pm_client_t *sched, size_t *booked)
{
    //  Sessions of the first user's last practitioner late on the last
    //  ahead day, which the load does not reach: 40 a session.
    const char *staff = s_clinic.staff[AHEAD_STAFF - 1];
    int refused = 0;
    size_t k = 0;
    *booked = 0;
    for (size_t i = 0; i < s_clinic.n_fresh; i++) {
        if (s_clinic.fresh[i].state == 2) {
            continue;
        }
        int64_t at = AHEAD + (AHEAD_DAYS - 1) * 24 * HOUR_MS + 8 * HOUR_MS
                     + (int64_t) (k++ / 40) * 5 * MIN_MS;
        json_t *r = itest_req (sched, 0, NULL, "scheduling.Book",
                               "{\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                               "\"practitioner_id\": \"%s\", \"start\": %lld}",
                               s_clinic.fresh[i].id, s_clinic.type, staff, (long long) at);
        if (r) {
            s_clinic.fresh[i].state = 2;
            (*booked)++;
        }
        else {
            refused++;
        }
        json_decref (r);
    }
    return refused;
}

int
fault_clinic_book_leave_day (pm_client_t *sched, int user, int hour, char *id)
{
    int64_t at = AHEAD + (int64_t) LEAVE_DAY * 24 * HOUR_MS + (int64_t) (hour - 13) * HOUR_MS;
    json_t *r = itest_req (sched, 0, NULL, "scheduling.Book",
                           "{\"patient_id\": \"%s\", \"type_id\": \"%s\", "
                           "\"practitioner_id\": \"%s\", \"start\": %lld}",
                           s_clinic.patients[user * PATIENTS],
                           s_clinic.type, s_clinic.staff[user * AHEAD_STAFF + LEAVE_P],
                           (long long) at);
    snprintf (id, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    return r ? 0 : -1;
}

int
fault_clinic_leave (pm_client_t *staffing, int user, fault_leave_t *out)
{
    memset (out, 0, sizeof *out);
    const char *staff = s_clinic.staff[user * AHEAD_STAFF + LEAVE_P];
    json_t *r = itest_req (staffing, 0, NULL, "staffing.RequestLeave",
                           "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
                           "\"start_date\": \"%s\", \"end_date\": \"%s\", \"reason\": "
                           "\"family (fault drill)\"}", staff, LEAVE_DATE, LEAVE_DATE);
    if (!r) {
        return -1;
    }
    snprintf (out->id, sizeof out->id, "%s", itest_json_str (r, "id"));
    json_decref (r);
    //  From now on scheduling may refuse that day: the users expect it.
    s_clinic.leave_sent[user] = true;
    r = itest_req (staffing, 0, NULL, "staffing.ApproveLeave",
                   "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}", out->id,
                   s_clinic.manager);
    if (!r) {
        return -1;
    }
    snprintf (out->staff_id, sizeof out->staff_id, "%s", itest_json_str (r, "staff_id"));
    out->start = (int64_t) json_integer_value (itest_json_at (r, "start"));
    out->end = (int64_t) json_integer_value (itest_json_at (r, "end"));
    bool ok = strcmp (itest_json_str (r, "status"), "LEAVE_APPROVED") == 0
              && out->end > out->start;
    json_decref (r);
    return ok ? 0 : -1;
}

//  --- the money check -------------------------------------------------------------

const fault_fees_t fault_clinic_fees = {
    FAULT_VISIT_PRICE, FAULT_NOSHOW_FEE, FAULT_LATE_CANCEL_FEE,
    FAULT_LATE_CANCEL_MINUTES * MIN_MS,
};

//  What the stream says of one appointment, and what finance charged.
typedef struct {
    int fulfilled, noshow, cancelled;
    bool late;            //  cancelled inside the window, by the clock
    bool said_late;       //  the appointment's late_cancel
    int charges;
    int64_t amount;       //  of the last charge
    int kind;             //  of the last charge
} s_money_t;

//  --------------------------------------------------------------------------
//  Frees an entry (zhashx destructor).
static void
s_entry_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------
//  The entry of appointment `id`, made when new.
static s_money_t *
s_money (zhashx_t *all, const char *id)
{
    s_money_t *e = zhashx_lookup (all, id);
    if (!e) {
        e = calloc (1, sizeof *e);
        zhashx_insert (all, id, e);
    }
    return e;
}

int
fault_check_money (pm_client_t *sched, pm_client_t *fin, const fault_fees_t *fees,
                   bool quiet, fault_money_t *out)
{
    int problems = 0;
    memset (out, 0, sizeof *out);
    zhashx_t *all = zhashx_new ();
    zhashx_set_destructor (all, s_entry_free);
    Pm__Event **events = NULL;
    long n = itest_read_stream (sched, &events);
    out->sched_high_seq = n > 0 ? (uint64_t) n : 0;
    for (long i = 0; i < n; i++) {
        const char *t = events[i]->type ? events[i]->type : "";
        bool f = strcmp (t, "scheduling.appointment.fulfilled") == 0;
        bool ns = strcmp (t, "scheduling.appointment.noshow") == 0;
        bool c = strcmp (t, "scheduling.appointment.cancelled") == 0;
        if (f || ns || c) {
            s_money_t *e = s_money (all, events[i]->subject ? events[i]->subject : "");
            e->fulfilled += f;
            e->noshow += ns;
            e->cancelled += c;
        }
        if (c) {
            //  Late by the clock: the cancellation's time against the start.
            Pm__Scheduling__Appointment *a = pm__scheduling__appointment__unpack (
                NULL, events[i]->data.len, events[i]->data.data);
            s_money_t *e = s_money (all, events[i]->subject ? events[i]->subject : "");
            e->late = a && a->start - events[i]->time < fees->late_window_ms;
            e->said_late = a && a->has_late_cancel && a->late_cancel;
            pm__scheduling__appointment__free_unpacked (a, NULL);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);

    //  Finance has applied the whole stream: its cursor is at the end.
    out->fin_cursor = fault_cursor_wait (fin, "scheduling", out->sched_high_seq, 30000);
    if (n <= 0 || out->fin_cursor != out->sched_high_seq) {
        problems++;
        fprintf (stderr, "    money: finance's cursor on scheduling is %llu, the stream "
                         "ends at %ld\n", (unsigned long long) out->fin_cursor, n);
    }

    //  Every charge finance raised, by appointment.
    n = itest_read_stream (fin, &events);
    for (long i = 0; i < n; i++) {
        if (events[i]->type && strcmp (events[i]->type, "finance.charge.raised") == 0) {
            Pm__Finance__Charge *ch = pm__finance__charge__unpack (
                NULL, events[i]->data.len, events[i]->data.data);
            if (ch && ch->appointment_id) {
                s_money_t *e = s_money (all, ch->appointment_id);
                e->charges++;
                e->amount = ch->amount_minor;
                e->kind = (int) ch->kind;
                out->charges++;
            }
            pm__finance__charge__free_unpacked (ch, NULL);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    if (n < 0) {
        problems++;
        fprintf (stderr, "    money: finance's stream cannot be read\n");
    }

    for (s_money_t *e = zhashx_first (all); e; e = zhashx_next (all)) {
        const char *id = zhashx_cursor (all);
        out->fulfilled += e->fulfilled > 0;
        out->noshows += e->noshow > 0;
        out->cancelled += e->cancelled > 0;
        out->late_cancels += e->cancelled > 0 && e->late;
        out->early_cancels += e->cancelled > 0 && !e->late;
        bool fee = e->cancelled && e->late;
        int64_t want = e->fulfilled ? fees->price
                     : e->noshow    ? fees->noshow_fee
                     : fee          ? fees->late_fee
                                    : 0;
        int kind = e->fulfilled ? PM__FINANCE__CHARGE_KIND__CHARGE_VISIT
                 : e->noshow    ? PM__FINANCE__CHARGE_KIND__CHARGE_NO_SHOW_FEE
                                : PM__FINANCE__CHARGE_KIND__CHARGE_LATE_CANCEL_FEE;
        int charges = e->fulfilled || e->noshow || fee ? 1 : 0;
        if (e->fulfilled + e->noshow + e->cancelled > 1) {
            problems++;
            fprintf (stderr, "    money: %s fulfilled %d times, no-show %d times, "
                             "cancelled %d times\n", id, e->fulfilled, e->noshow,
                     e->cancelled);
        }
        else if (e->cancelled && e->late != e->said_late) {
            problems++;
            fprintf (stderr, "    money: %s was cancelled %s the late window, but its "
                             "late_cancel says %s\n", id, e->late ? "inside" : "outside",
                     e->said_late ? "late" : "not late");
        }
        else if (e->charges != charges || (charges && (e->amount != want || e->kind != kind))) {
            problems++;
            if (problems <= 12 && !quiet) {
                fprintf (stderr, "    money: %s (fulfilled %d, no-show %d, cancelled %d%s) "
                                 "has %d charges (last %lld, kind %d), wanted %d of %lld "
                                 "(kind %d)\n",
                         id, e->fulfilled, e->noshow, e->cancelled,
                         e->cancelled ? (e->late ? " late" : " early") : "", e->charges,
                         (long long) e->amount, e->kind, charges, (long long) want, kind);
            }
        }
    }
    zhashx_destroy (&all);
    return problems;
}

//  --- the leave check --------------------------------------------------------------

#define CAUSES_MAX 4

//  One appointment as its events tell it.
typedef struct {
    char practitioner[PM_ID_MAX];
    int64_t start, end;
    int at_risk;                          //  at_risk events
    char causes[CAUSES_MAX][96];          //  their flags' causes
} s_risk_t;

int
fault_check_leave (pm_client_t *sched, const fault_leave_t *leaves, int n_leaves,
                   bool quiet, fault_risk_t *out)
{
    int problems = 0;
    memset (out, 0, sizeof *out);
    n_leaves = n_leaves > 8 ? 8 : n_leaves;
    zhashx_t *all = zhashx_new ();
    zhashx_set_destructor (all, s_entry_free);
    Pm__Event **events = NULL;
    long n = itest_read_stream (sched, &events);
    if (n <= 0) {
        problems++;
        fprintf (stderr, "    leave: scheduling's stream cannot be read\n");
    }
    for (long i = 0; i < n; i++) {
        const Pm__Event *ev = events[i];
        if (ev->type && ev->subject
            && strncmp (ev->type, "scheduling.appointment.", 23) == 0) {
            Pm__Scheduling__Appointment *a = pm__scheduling__appointment__unpack (
                NULL, ev->data.len, ev->data.data);
            s_risk_t *e = zhashx_lookup (all, ev->subject);
            if (!e) {
                e = calloc (1, sizeof *e);
                zhashx_insert (all, ev->subject, e);
            }
            if (a) {
                snprintf (e->practitioner, sizeof e->practitioner, "%s",
                          a->practitioner_id ? a->practitioner_id : "");
                e->start = a->start;
                e->end = a->end;
            }
            if (strcmp (ev->type, "scheduling.appointment.at_risk") == 0) {
                //  The flag it adds is the last.
                const char *cause = a && a->n_risks && a->risks[a->n_risks - 1]->cause
                                        ? a->risks[a->n_risks - 1]->cause
                                        : "";
                if (e->at_risk < CAUSES_MAX) {
                    snprintf (e->causes[e->at_risk], sizeof e->causes[0], "%s", cause);
                }
                e->at_risk++;
                out->at_risk_events++;
            }
            pm__scheduling__appointment__free_unpacked (a, NULL);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);

    for (s_risk_t *e = zhashx_first (all); e; e = zhashx_next (all)) {
        const char *id = zhashx_cursor (all);
        int in = -1;
        for (int l = 0; l < n_leaves && in < 0; l++) {
            in = strcmp (e->practitioner, leaves[l].staff_id) == 0
                         && e->start < leaves[l].end && e->end > leaves[l].start
                     ? l
                     : -1;
        }
        out->flagged += e->at_risk > 0;
        char cause[96] = "";
        if (in >= 0) {
            out->in_leave[in]++;
            snprintf (cause, sizeof cause, "leave %s", leaves[in].id);
        }
        bool duplicate = false;
        for (int a = 0; a < e->at_risk && a < CAUSES_MAX; a++) {
            for (int b = 0; b < a; b++) {
                duplicate |= strcmp (e->causes[a], e->causes[b]) == 0;
            }
        }
        if (in >= 0 ? e->at_risk != 1 || strcmp (e->causes[0], cause) != 0
                    : e->at_risk != 0) {
            problems++;
            if (problems <= 12 && !quiet) {
                fprintf (stderr, "    leave: %s of %s at %lld (%s) flagged at risk %d "
                                 "times%s%s%s, wanted %s\n", id, e->practitioner,
                         (long long) e->start,
                         in >= 0 ? "inside a leave" : "outside every leave", e->at_risk,
                         e->at_risk ? " (first cause \"" : "", e->at_risk ? e->causes[0] : "",
                         duplicate ? "\", a cause twice)" : e->at_risk ? "\")" : "",
                         in >= 0 ? "once, for the leave" : "never");
            }
        }
    }
    zhashx_destroy (&all);
    return problems;
}
