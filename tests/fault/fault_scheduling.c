/*  fault_scheduling.c: the scheduling workload of the fault suites, the
    clinic it runs in, and the money check.

    The clinic: staffing (a New York site, practitioners rostered all week),
    patients, scheduling (its clock set to a Tuesday morning of March 2030)
    and finance (a price for the visit type, a no-show fee) following it.

    Each user has its own practitioners and patients, so a command is valid
    when it is first sent. It books group visits (a 5-minute type of
    capacity 50) a few seconds ahead on the service clock, one session per
    practitioner, and decides for each booking what will happen: once the
    start has passed the patient arrives and the visit is fulfilled, or it
    is marked a no-show; some are cancelled before, some left booked. In
    between it books further ahead (next days' sessions), cancelling some.
    A Book refused because its start passed while the service was down is
    expected (the retry came too late) and changes nothing.

    The money check then holds finance's charges against scheduling's
    stream: each fulfilled appointment one visit charge, each no-show one
    fee, nothing else, nothing twice, finance's cursor at the stream's end. */
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

//  What fault_clinic_start made, for the users.
static struct {
    int64_t offset;                     //  scheduling's clock - wall clock
    char clock[64];                     //  its PM_CLOCK_OFFSET_MS setting
    char type[PM_ID_MAX];
    char (*staff)[PM_ID_MAX];           //  users x (PRACTITIONERS + 1)
    char (*patients)[PM_ID_MAX];        //  users x PATIENTS
    int users;
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
//  A Book of the user's next patient with practitioner `p` at `start`.
static void
s_book (s_model_t *m, int p, int64_t start, s_plan_t plan, char *type, uint8_t **body,
        size_t *len)
{
    Pm__Scheduling__Book book = PM__SCHEDULING__BOOK__INIT;
    book.patient_id = s_clinic.patients[m->user * PATIENTS + (int) (m->n % PATIENTS)];
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
//  The user's next command: a due step of a booking, a cancellation, a
//  booking into the open session, a new session, or a booking ahead.
static void
s_next (void *model, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    s_model_t *m = model;
    int64_t now = s_now ();
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
        s_book (m, m->practitioner, m->start, plan, type, body, len);
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
        s_book (m, p, start, plan, type, body, len);
        return;
    }
    //  Ahead: eight a session, sessions every 5 minutes from 13:00 UTC
    //  (08:00 in New York) to 23:00, over the next three days.
    unsigned slot = m->ahead++ / PATIENTS;
    int64_t at = AHEAD + (int64_t) (slot / 120 % 3) * 24 * HOUR_MS
                 + (int64_t) (slot % 120) * 5 * MIN_MS;
    s_book (m, PRACTITIONERS, at, roll < 30 ? PLAN_CANCEL : PLAN_KEEP, type, body, len);
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
    }
    else if (m->target >= 0) {
        s_appt_t *r = &m->appts[m->target];
        r->step++;
        r->done = r->plan != PLAN_FULFIL || r->step == 2;
    }
    pm__scheduling__appointment__free_unpacked (a, NULL);
}

//  --------------------------------------------------------------------------
//  A final refusal: a Book whose start passed before it was done (it was
//  sent before, answered after a kill) is expected; anything else is not.
//  Either way the user gives up on it.
static bool
s_refusal_ok (void *model, const char *type, const Pm__Reply *reply)
{
    s_model_t *m = model;
    if (strcmp (type, "scheduling.Book") == 0) {
        return reply->code == PM__CODE__EINVAL && reply->field
               && strcmp (reply->field, "start") == 0 && s_now () >= m->book_start;
    }
    if (m->target >= 0) {
        m->appts[m->target].done = true;
    }
    return false;
}

//  --------------------------------------------------------------------------
//  The appointment as scheduling.Get answers it.
static bool
s_read (pm_client_t *client, const char *subject, uint8_t **data, size_t *len)
{
    Pm__Scheduling__GetAppointment get = PM__SCHEDULING__GET_APPOINTMENT__INIT;
    get.appointment_id = (char *) subject;
    Pm__Reply *reply = itest_call (client, "scheduling.Get", &get.base);
    bool ok = reply && reply->code == PM__CODE__OK;
    if (ok) {
        *len = reply->body.len;
        *data = malloc (*len ? *len : 1);
        memcpy (*data, reply->body.data, *len);
    }
    pm__reply__free_unpacked (reply, NULL);
    return ok;
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

const fault_workload_t fault_scheduling = {
    "scheduling", "pm-scheduling", 1, "scheduling.appointment.", false,
    s_model_new, s_model_destroy, s_next, s_acked, s_read, s_version, s_refusal_ok, NULL,
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
//  The high seq of a service's stream.
static uint64_t
s_high_seq (pm_client_t *c)
{
    Pm__Health *h = itest_health (c);
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  --------------------------------------------------------------------------
//  Fills staffing and patients and starts scheduling and finance after them.
static int
s_fill (pm_client_t *stf, pm_client_t *pat, int users)
{
    char json[2048], tpl[PM_ID_MAX];
    bool ok = s_make (stf, NULL, "staffing.CreateSite",
                      "{\"site\": {\"id\": \"north\", \"name\": \"North Clinic\", "
                      "\"time_zone\": \"America/New_York\", \"currency\": \"USD\", "
                      "\"opening_hours\": [{\"weekday\": 2, \"opens\": \"08:00\", "
                      "\"closes\": \"18:00\"}, {\"weekday\": 3, \"opens\": \"08:00\", "
                      "\"closes\": \"18:00\"}, {\"weekday\": 4, \"opens\": \"08:00\", "
                      "\"closes\": \"18:00\"}, {\"weekday\": 5, \"opens\": \"08:00\", "
                      "\"closes\": \"18:00\"}], \"policy\": {\"late_cancel_minutes\": 0, "
                      "\"no_show_grace_minutes\": 600}}}")
              && s_make (stf, tpl, "staffing.CreateShiftTemplate",
                         "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                         "\"name\": \"Day\", \"starts\": \"08:00\", \"ends\": \"18:00\"}}");
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
    s_clinic.users = users;
    s_clinic.staff = calloc ((size_t) users * (PRACTITIONERS + 1), PM_ID_MAX);
    s_clinic.patients = calloc ((size_t) users * PATIENTS, PM_ID_MAX);
    itest_svc_init (staffing, "staffing", "pm-staffing");
    itest_svc_init (patients, "patients", "pm-patients");
    itest_svc_init (sched, "scheduling", "pm-scheduling");
    itest_svc_init (fin, "finance", "pm-finance");
    if (itest_start (staffing) != 0 || itest_start (patients) != 0) {
        return -1;
    }
    pm_client_t *stf = itest_client (staffing);
    pm_client_t *pat = itest_client (patients);
    int rc = s_fill (stf, pat, users);
    //  Scheduling's clock: T0 now, running on from there.
    s_clinic.offset = T0 - pm_clock_wall_ms ();
    snprintf (s_clinic.clock, sizeof s_clinic.clock, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) s_clinic.offset);
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
        char json[512];
        rc = s_applied (sch, "staffing", s_high_seq (stf))
                     && s_applied (sch, "patients", s_high_seq (pat))
                     && s_make (sch, s_clinic.type, "scheduling.DefineType",
                                "{\"type\": {\"site_id\": \"north\", \"name\": \"Group "
                                "visit\", \"duration_minutes\": 5, \"practitioner_role\": "
                                "\"physician\", \"capacity\": 50}}")
                     && s_make (fc, NULL, "finance.SetSite",
                                "{\"site_id\": \"north\", \"currency\": \"USD\", "
                                "\"time_zone\": \"America/New_York\", \"no_show_fee_minor\": "
                                "2500, \"late_cancel_fee_minor\": 0}")
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

//  --- the money check -------------------------------------------------------------

//  What the stream says of one appointment, and what finance charged.
typedef struct {
    int fulfilled, noshow, cancelled;
    int charges;
    int64_t amount;       //  of the last charge
} s_money_t;

//  --------------------------------------------------------------------------
//  Frees an entry (zhashx destructor).
static void
s_money_free (void **item)
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
fault_check_money (pm_client_t *sched, pm_client_t *fin, int64_t price, int64_t fee,
                   bool quiet, fault_money_t *out)
{
    int problems = 0;
    memset (out, 0, sizeof *out);
    zhashx_t *all = zhashx_new ();
    zhashx_set_destructor (all, s_money_free);
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
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);

    //  Finance has applied the whole stream: its cursor is at the end.
    int64_t until = itest_now () + 30000;
    for (;;) {
        Pm__Health *h = itest_health (fin);
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            if (strcmp (h->consumers[i]->source, "scheduling") == 0) {
                out->fin_cursor = h->consumers[i]->cursor;
            }
        }
        pm__health__free_unpacked (h, NULL);
        if (out->fin_cursor == out->sched_high_seq || itest_now () >= until) {
            break;
        }
        zclock_sleep (50);
    }
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
        int64_t want = e->fulfilled ? price : e->noshow ? fee : 0;
        int charges = e->fulfilled || e->noshow ? 1 : 0;
        if (e->fulfilled + e->noshow > 1) {
            problems++;
            fprintf (stderr, "    money: %s fulfilled %d times, no-show %d times\n", id,
                     e->fulfilled, e->noshow);
        }
        else if (e->charges != charges || (charges && e->amount != want)) {
            problems++;
            if (problems <= 12 && !quiet) {
                fprintf (stderr, "    money: %s (fulfilled %d, no-show %d, cancelled %d) "
                                 "has %d charges (last %lld), wanted %d of %lld\n",
                         id, e->fulfilled, e->noshow, e->cancelled, e->charges,
                         (long long) e->amount, charges, (long long) want);
            }
        }
    }
    zhashx_destroy (&all);
    return problems;
}
