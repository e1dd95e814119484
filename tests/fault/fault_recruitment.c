/*  fault_recruitment.c: the recruitment workload of the fault suites, the
    hiring office it runs in (recruitment, and staffing as the consumer of
    its hires), and the hire check.

    Each user runs openings of its own: it writes a requisition (headcount
    1 to 3), submits and approves it, publishes a posting, and takes
    candidates of its own (names, e-mails and phones no other user makes)
    through the pipeline: screening (or straight to the shortlist), an
    interview, an offer; hired, offer declined, rejected or withdrawn at a
    stage it decides when they apply. Each step sends the version it was
    told last. It hires at most the headcount, and accepts offers only once
    every candidate of the opening has applied (the hire that fills it
    closes its posting), so every command is valid when first sent: a
    refusal can only mean a retry was not recognised or an acknowledged
    change was lost.

    The stream holds requisitions, candidates and applications (all carry
    a version, field 2) besides postings and hires; Apply answers with the
    application and the candidate, the application being the state its
    events are checked against. Postings are not read back (there is no
    command that reads a closed one); their events are still checked as
    each command's, once.

    The hire check: staffing follows recruitment's stream and must make
    exactly one staff member of every recruitment.candidate.hired, none of
    anyone else, its cursor at the stream's end.                         */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "recruitment.pb-c.h"
#include "staffing.pb-c.h"

#define DAY_MS 86400000LL

typedef enum { PLAN_HIRE, PLAN_DECLINE, PLAN_REJECT, PLAN_WITHDRAW } s_plan_t;

//  One opening of the user's.
typedef struct {
    char id[PM_ID_MAX];
    char posting[PM_ID_MAX];
    uint64_t version;
    int status;              //  RequisitionStatus as last told
    unsigned headcount;
    unsigned hires;          //  candidates it will hire (<= headcount)
    unsigned target;         //  candidates who will apply
    unsigned apps;           //  who applied so far
    unsigned planned;        //  of whom it means to hire
} s_job_t;

//  One candidate's application.
typedef struct {
    char id[PM_ID_MAX];
    uint64_t version;
    size_t job;
    s_plan_t plan;
    int stage;               //  Stage as last told
    unsigned steps;          //  steps taken
    unsigned stop;           //  reject or withdraw: after this many steps
    bool shortcut;           //  straight to the shortlist
    bool done;
} s_app_t;

typedef struct {
    int user;
    unsigned made;           //  commands made, for names
    s_job_t *jobs;
    size_t n_jobs, cap_jobs;
    s_app_t *apps;
    size_t n_apps, cap_apps;
    size_t open_from;        //  apps before it are all done
    //  The command in flight.
    long target;             //  the application it steps, -1: none
    s_plan_t plan;           //  an Apply's plan
    unsigned headcount, hires, applicants; //  a CreateRequisition's
} s_model_t;

#define STAGE(x) PM__RECRUITMENT__STAGE__##x
#define STATUS(x) PM__RECRUITMENT__REQUISITION_STATUS__##x

//  --------------------------------------------------------------------------
//  A user's empty model.
static void *
s_model_new (int user)
{
    s_model_t *m = calloc (1, sizeof *m);
    m->user = user;
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
        free (m->jobs);
        free (m->apps);
        free (m);
    }
}

//  --------------------------------------------------------------------------
//  Packs the JSON `text` as a `desc` message (the workload's own text: it
//  always parses).
static uint8_t *
s_body (const ProtobufCMessageDescriptor *desc, const char *text, size_t *len)
{
    uint8_t *buf = NULL;
    char err[256];
    if (pm_json_to_pb (desc, text, strlen (text), &buf, len, err, sizeof err) != PM_OK) {
        fprintf (stderr, "    recruitment workload: %s: %s\n", err, text);
        abort ();
    }
    return buf;
}

//  --------------------------------------------------------------------------
//  A new requisition, as a draft.
static void
s_create (s_model_t *m, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    m->headcount = 1 + (unsigned) fault_rand (rng, 3);
    //  Most openings are filled; some keep a place open.
    m->hires = m->headcount > 1 && fault_rand (rng, 10) < 3 ? m->headcount - 1
                                                               : m->headcount;
    m->applicants = m->hires + 1 + (unsigned) fault_rand (rng, 3);
    char text[1024];
    snprintf (text, sizeof text,
              "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
              "\"headcount\": %u, \"title\": \"Drill nurse %02d-%u\", \"description\": "
              "\"Clinics and vaccinations (fault drill).\", \"requirements\": [\"RN "
              "licence\"], \"salary\": {\"min_minor\": 3000, \"max_minor\": 5000, "
              "\"currency\": \"USD\"}, \"target_start\": \"2030-04-01\", "
              "\"employment_type\": \"PART_TIME\", \"fte_permille\": 600}}",
              m->headcount, m->user, m->made);
    snprintf (type, 64, "recruitment.CreateRequisition");
    *body = s_body (&pm__recruitment__create_requisition__descriptor, text, len);
}

//  --------------------------------------------------------------------------
//  The next step of opening `j`'s life before it takes candidates, or
//  false when it is open and posted.
static bool
s_open_step (s_job_t *j, char *type, uint8_t **body, size_t *len)
{
    char text[256];
    const char *command = j->status == STATUS (DRAFT)              ? "SubmitRequisition"
                          : j->status == STATUS (PENDING_APPROVAL) ? "ApproveRequisition"
                          : !j->posting[0]                         ? "PublishPosting"
                                                                   : NULL;
    if (!command) {
        return false;
    }
    snprintf (type, 64, "recruitment.%s", command);
    if (!j->posting[0] && j->status == STATUS (OPEN)) {
        snprintf (text, sizeof text, "{\"requisition_id\": \"%s\", \"channel\": "
                                     "\"careers-page\"}", j->id);
        *body = s_body (&pm__recruitment__publish_posting__descriptor, text, len);
    }
    else {
        snprintf (text, sizeof text, "{\"requisition_id\": \"%s\", \"expected_version\": "
                                     "%llu}", j->id, (unsigned long long) j->version);
        *body = s_body (&pm__recruitment__requisition_action__descriptor, text, len);
    }
    return true;
}

//  --------------------------------------------------------------------------
//  A candidate of this user's applies to opening `j`; decides what will
//  become of them.
static void
s_apply (s_model_t *m, fault_rng_t *rng, s_job_t *j, char *type, uint8_t **body,
         size_t *len)
{
    unsigned left = j->target - j->apps;
    unsigned hires = j->hires - j->planned;
    uint64_t roll = fault_rand (rng, 100);
    if (hires >= left || (hires > 0 && roll < 40)) {
        m->plan = PLAN_HIRE;
    }
    else {
        m->plan = roll < 60 ? PLAN_DECLINE : roll < 80 ? PLAN_REJECT : PLAN_WITHDRAW;
    }
    static const char *sources[] = {"CAREERS_PAGE", "JOB_BOARD", "WALK_IN", "AGENCY"};
    char text[1024];
    snprintf (text, sizeof text,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": "
              "\"Hire%02dx%05u\", \"given_names\": [\"Sam\"], \"email\": "
              "\"c%02d.%05u@drill.example\", \"phone\": \"+1 555 %02d%05u\", \"cv_ref\": "
              "\"doc://cv/%02d/%u\"}, \"source\": \"%s\"}",
              j->posting, m->user, m->made, m->user, m->made, m->user, m->made, m->user,
              m->made, sources[fault_rand (rng, 4)]);
    snprintf (type, 64, "recruitment.Apply");
    *body = s_body (&pm__recruitment__apply__descriptor, text, len);
}

//  --------------------------------------------------------------------------
//  The next step of application `a`, or false when it has to wait (an
//  offer is accepted only once every candidate of its opening applied).
static bool
s_app_step (s_model_t *m, s_app_t *a, char *type, uint8_t **body, size_t *len)
{
    char text[1024];
    const s_job_t *j = &m->jobs[a->job];
    if ((a->plan == PLAN_REJECT || a->plan == PLAN_WITHDRAW) && a->steps >= a->stop) {
        snprintf (text, sizeof text,
                  "{\"application_id\": \"%s\", \"to\": \"%s\", \"reason\": \"%s\", "
                  "\"expected_version\": %llu}", a->id,
                  a->plan == PLAN_REJECT ? "REJECTED" : "WITHDRAWN",
                  a->plan == PLAN_REJECT ? "another candidate fits better (drill)"
                                         : "took another job (drill)",
                  (unsigned long long) a->version);
        snprintf (type, 64, "recruitment.Move");
        *body = s_body (&pm__recruitment__move__descriptor, text, len);
        return true;
    }
    const char *to = NULL;
    switch (a->stage) {
    case STAGE (APPLIED):
        to = a->shortcut ? "SHORTLISTED" : "SCREENING";
        break;
    case STAGE (SCREENING):
        to = "SHORTLISTED";
        break;
    case STAGE (SHORTLISTED):
        to = "INTERVIEW_SCHEDULED";
        break;
    case STAGE (INTERVIEW_SCHEDULED):
        to = "INTERVIEW_DONE";
        break;
    case STAGE (INTERVIEW_DONE):
        snprintf (text, sizeof text,
                  "{\"application_id\": \"%s\", \"offer\": {\"pay_rate_minor\": %d, "
                  "\"currency\": \"USD\", \"start_date\": \"2030-04-%02u\", "
                  "\"expires_at\": %lld}, \"expected_version\": %llu}",
                  a->id, 3000 + 100 * m->user, 1 + a->steps % 28,
                  (long long) (pm_clock_wall_ms () + 30 * DAY_MS),
                  (unsigned long long) a->version);
        snprintf (type, 64, "recruitment.MakeOffer");
        *body = s_body (&pm__recruitment__make_offer__descriptor, text, len);
        return true;
    case STAGE (OFFER_SENT):
        if (a->plan == PLAN_HIRE && j->apps < j->target) {
            return false;
        }
        snprintf (text, sizeof text, "{\"application_id\": \"%s\"%s}", a->id,
                  a->plan == PLAN_HIRE ? "" : ", \"reason\": \"pay (drill)\"");
        snprintf (type, 64, "%s", a->plan == PLAN_HIRE ? "recruitment.AcceptOffer"
                                                      : "recruitment.DeclineOffer");
        *body = s_body (&pm__recruitment__answer_offer__descriptor, text, len);
        return true;
    default:
        return false;
    }
    snprintf (text, sizeof text,
              "{\"application_id\": \"%s\", \"to\": \"%s\", \"expected_version\": %llu}",
              a->id, to, (unsigned long long) a->version);
    snprintf (type, 64, "recruitment.Move");
    *body = s_body (&pm__recruitment__move__descriptor, text, len);
    return true;
}

//  --------------------------------------------------------------------------
//  The user's next command: the opening's own steps first; then a step of
//  a candidate (60%) or a new candidate; a new opening once everyone of
//  the last one applied.
static void
s_next (void *model, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    s_model_t *m = model;
    m->made++;
    m->target = -1;
    s_job_t *j = m->n_jobs ? &m->jobs[m->n_jobs - 1] : NULL;
    if (j && s_open_step (j, type, body, len)) {
        return;
    }
    while (m->open_from < m->n_apps && m->apps[m->open_from].done) {
        m->open_from++;
    }
    bool may_apply = j && j->apps < j->target;
    if (m->open_from < m->n_apps && (!may_apply || fault_rand (rng, 100) < 60)) {
        size_t span = m->n_apps - m->open_from;
        size_t first = (size_t) fault_rand (rng, span);
        for (size_t k = 0; k < span; k++) {
            size_t i = m->open_from + (first + k) % span;
            if (!m->apps[i].done && s_app_step (m, &m->apps[i], type, body, len)) {
                m->target = (long) i;
                return;
            }
        }
    }
    if (may_apply) {
        s_apply (m, rng, j, type, body, len);
        return;
    }
    s_create (m, rng, type, body, len);
}

//  --------------------------------------------------------------------------
//  The requisition in a reply: the user's opening of that id (a new one
//  for a CreateRequisition).
static void
s_acked_job (s_model_t *m, const char *type, const Pm__Reply *reply, char *subject)
{
    Pm__Recruitment__Requisition *r
        = pm__recruitment__requisition__unpack (NULL, reply->body.len, reply->body.data);
    if (!r || !r->id) {
        pm__recruitment__requisition__free_unpacked (r, NULL);
        return;
    }
    snprintf (subject, PM_ID_MAX, "%s", r->id);
    s_job_t *j = NULL;
    if (strcmp (type, "recruitment.CreateRequisition") == 0) {
        if (m->n_jobs == m->cap_jobs) {
            m->cap_jobs = m->cap_jobs ? m->cap_jobs * 2 : 16;
            m->jobs = realloc (m->jobs, m->cap_jobs * sizeof *m->jobs);
        }
        j = &m->jobs[m->n_jobs++];
        memset (j, 0, sizeof *j);
        snprintf (j->id, sizeof j->id, "%s", r->id);
        j->headcount = m->headcount;
        j->hires = m->hires;
        j->target = m->applicants;
    }
    for (size_t i = m->n_jobs; !j && i > 0; i--) {
        j = strcmp (m->jobs[i - 1].id, r->id) == 0 ? &m->jobs[i - 1] : NULL;
    }
    if (j) {
        j->version = r->version;
        j->status = (int) r->status;
    }
    pm__recruitment__requisition__free_unpacked (r, NULL);
}

//  --------------------------------------------------------------------------
//  Learns what an acknowledgement says: the opening, its posting, the new
//  application or the step.
static void
s_acked (void *model, const char *type, const Pm__Reply *reply, char *subject)
{
    s_model_t *m = model;
    if (strstr (type, "Requisition")) {
        s_acked_job (m, type, reply, subject);
        return;
    }
    if (strcmp (type, "recruitment.PublishPosting") == 0) {
        Pm__Recruitment__Posting *p
            = pm__recruitment__posting__unpack (NULL, reply->body.len, reply->body.data);
        if (p && p->id && m->n_jobs) {
            snprintf (subject, PM_ID_MAX, "%s", p->id);
            snprintf (m->jobs[m->n_jobs - 1].posting, PM_ID_MAX, "%s", p->id);
        }
        pm__recruitment__posting__free_unpacked (p, NULL);
        return;
    }
    if (strcmp (type, "recruitment.Apply") == 0) {
        Pm__Recruitment__ApplyResult *r = pm__recruitment__apply_result__unpack (
            NULL, reply->body.len, reply->body.data);
        if (r && r->application && r->application->id && m->n_jobs) {
            snprintf (subject, PM_ID_MAX, "%s", r->application->id);
            if (m->n_apps == m->cap_apps) {
                m->cap_apps = m->cap_apps ? m->cap_apps * 2 : 64;
                m->apps = realloc (m->apps, m->cap_apps * sizeof *m->apps);
            }
            s_app_t *a = &m->apps[m->n_apps++];
            memset (a, 0, sizeof *a);
            snprintf (a->id, sizeof a->id, "%s", r->application->id);
            a->version = r->application->version;
            a->stage = (int) r->application->stage;
            a->job = m->n_jobs - 1;
            a->plan = m->plan;
            //  Where a rejection or withdrawal comes: 0 (applied) to 5
            //  steps on (an offer declined when it comes to the offer first).
            a->stop = (unsigned) (m->made % 6);
            a->shortcut = m->made % 3 == 0;
            s_job_t *j = &m->jobs[a->job];
            j->apps++;
            j->planned += a->plan == PLAN_HIRE;
        }
        pm__recruitment__apply_result__free_unpacked (r, NULL);
        return;
    }
    Pm__Recruitment__Application *app = pm__recruitment__application__unpack (
        NULL, reply->body.len, reply->body.data);
    if (app && app->id) {
        snprintf (subject, PM_ID_MAX, "%s", app->id);
        if (m->target >= 0) {
            s_app_t *a = &m->apps[m->target];
            a->version = app->version;
            a->stage = (int) app->stage;
            a->steps++;
            a->done = a->stage == STAGE (HIRED) || a->stage == STAGE (REJECTED)
                      || a->stage == STAGE (WITHDRAWN) || a->stage == STAGE (OFFER_DECLINED)
                      || a->stage == STAGE (OFFER_EXPIRED);
        }
    }
    pm__recruitment__application__free_unpacked (app, NULL);
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
//  The record as recruitment answers it: requisition, candidate or
//  application, by the id's type.
static void
s_read (const char *subject, char *type, uint8_t **body, size_t *len)
{
    if (strncmp (subject, "job_", 4) == 0) {
        Pm__Recruitment__GetRequisition get = PM__RECRUITMENT__GET_REQUISITION__INIT;
        get.requisition_id = (char *) subject;
        snprintf (type, 64, "recruitment.GetRequisition");
        *body = s_pack (&get.base, len);
    }
    else if (strncmp (subject, "cand_", 5) == 0) {
        Pm__Recruitment__GetCandidate get = PM__RECRUITMENT__GET_CANDIDATE__INIT;
        get.candidate_id = (char *) subject;
        snprintf (type, 64, "recruitment.GetCandidate");
        *body = s_pack (&get.base, len);
    }
    else {
        Pm__Recruitment__GetApplication get = PM__RECRUITMENT__GET_APPLICATION__INIT;
        get.application_id = (char *) subject;
        snprintf (type, 64, "recruitment.GetApplication");
        *body = s_pack (&get.base, len);
    }
}

//  --------------------------------------------------------------------------
//  The version of a packed requisition, candidate or application: each
//  has it as field 2 (a varint). 0 when there is none.
static uint64_t
s_version (const uint8_t *data, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint64_t key = 0, v = 0;
        for (int shift = 0; i < len && shift < 64; shift += 7) {
            key |= (uint64_t) (data[i] & 0x7f) << shift;
            if (!(data[i++] & 0x80)) {
                break;
            }
        }
        unsigned wire = (unsigned) (key & 7);
        if (wire == 0) {
            for (int shift = 0; i < len && shift < 64; shift += 7) {
                v |= (uint64_t) (data[i] & 0x7f) << shift;
                if (!(data[i++] & 0x80)) {
                    break;
                }
            }
            if (key >> 3 == 2) {
                return v;
            }
        }
        else if (wire == 2) {
            for (int shift = 0; i < len && shift < 64; shift += 7) {
                v |= (uint64_t) (data[i] & 0x7f) << shift;
                if (!(data[i++] & 0x80)) {
                    break;
                }
            }
            i += (size_t) v;
        }
        else if (wire == 1 || wire == 5) {
            i += wire == 1 ? 8 : 4;
        }
        else {
            return 0;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  The events that carry a versioned record.
static bool
s_is_state (const char *type)
{
    return strncmp (type, "recruitment.requisition.", 24) == 0
           || strncmp (type, "recruitment.application.", 24) == 0
           || strcmp (type, "recruitment.candidate.registered") == 0
           || strcmp (type, "recruitment.candidate.updated") == 0;
}

//  --------------------------------------------------------------------------
//  Apply answers with the application and its candidate; the
//  application is the state its events are about.
static uint8_t *
s_reply_state (const char *type, const Pm__Reply *reply, size_t *len)
{
    const uint8_t *data = reply->body.data;
    size_t n = reply->body.len;
    uint8_t *out = NULL;
    if (strcmp (type, "recruitment.Apply") == 0) {
        Pm__Recruitment__ApplyResult *r
            = pm__recruitment__apply_result__unpack (NULL, n, data);
        if (r && r->application) {
            *len = protobuf_c_message_get_packed_size (&r->application->base);
            out = malloc (*len ? *len : 1);
            protobuf_c_message_pack (&r->application->base, out);
        }
        pm__recruitment__apply_result__free_unpacked (r, NULL);
        return out;
    }
    *len = n;
    out = malloc (n ? n : 1);
    memcpy (out, data, n);
    return out;
}

//  --------------------------------------------------------------------------
//  AcceptOffer takes an application through two steps, OFFER_ACCEPTED and
//  HIRED, in one transaction: each counts a version (and a history
//  entry), one event carries both.
static uint64_t
s_version_step (const Pm__Event *ev)
{
    if (!ev->type || strcmp (ev->type, "recruitment.application.moved") != 0) {
        return 1;
    }
    Pm__Recruitment__Application *a
        = pm__recruitment__application__unpack (NULL, ev->data.len, ev->data.data);
    uint64_t step = a && a->stage == STAGE (HIRED) ? 2 : 1;
    pm__recruitment__application__free_unpacked (a, NULL);
    return step;
}

const fault_workload_t fault_recruitment = {
    "recruitment", "pm-recruitment", 0, "recruitment.", false,
    s_model_new, s_model_destroy, s_next, s_acked, s_read, s_version, NULL, NULL,
    s_is_state, s_reply_state, NULL, s_version_step,
};

//  --- the hiring office -----------------------------------------------------------

int
fault_hiring_start (itest_svc_t *staffing, itest_svc_t *recruitment)
{
    itest_svc_init (staffing, "staffing", "pm-staffing");
    itest_svc_init (recruitment, "recruitment", "pm-recruitment");
    if (itest_start (staffing) != 0) {
        return -1;
    }
    pm_client_t *c = itest_client (staffing);
    json_t *r = itest_req (c, 0, NULL, "staffing.CreateSite",
                           "{\"site\": {\"id\": \"north\", \"name\": \"North Clinic\", "
                           "\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}}");
    pm_client_destroy (&c);
    if (!r) {
        return -1;
    }
    json_decref (r);
    //  Each follows the other: recruitment staffing's rosters, staffing
    //  recruitment's hires. Staffing learns recruitment's (kernel-chosen)
    //  endpoints once it runs, and starts again pointed at it.
    itest_point_at (recruitment, staffing);
    if (itest_start (recruitment) != 0) {
        return -1;
    }
    itest_point_at (staffing, recruitment);
    itest_signal (staffing, SIGTERM);
    return itest_start (staffing);
}

//  --- the hire check ----------------------------------------------------------------

//  What one candidate went through, by every account.
typedef struct {
    int hired_events;        //  recruitment.candidate.hired
    int hired_apps;          //  applications that ended HIRED
    int onboarded;           //  staffing.staff.onboarded naming them
    int listed;              //  staff records naming them
} s_cand_t;

//  --------------------------------------------------------------------------
//  Frees an entry (zhashx destructor).
static void
s_cand_free (void **item)
{
    free (*item);
    *item = NULL;
}

//  --------------------------------------------------------------------------
//  The entry of candidate `id`, made when new.
static s_cand_t *
s_cand (zhashx_t *all, const char *id)
{
    s_cand_t *e = zhashx_lookup (all, id);
    if (!e) {
        e = calloc (1, sizeof *e);
        zhashx_insert (all, id, e);
    }
    return e;
}

//  --------------------------------------------------------------------------
//  Every staff record at site north, by candidate.
static int
s_list_staff (pm_client_t *stf, zhashx_t *all, size_t *staff)
{
    char token[256] = "";
    do {
        json_t *r = itest_req (stf, 0, NULL, "staffing.ListStaff",
                               "{\"site_id\": \"north\", \"include_terminated\": true, "
                               "\"page_size\": 1000, \"page_token\": \"%s\"}", token);
        if (!r) {
            return -1;
        }
        size_t i;
        json_t *s;
        json_array_foreach (itest_json_at (r, "staff"), i, s) {
            (*staff)++;
            const char *cand = itest_json_str (s, "candidate_id");
            if (*cand) {
                s_cand (all, cand)->listed++;
            }
        }
        snprintf (token, sizeof token, "%s", itest_json_str (r, "next_page_token"));
        json_decref (r);
    } while (token[0]);
    return 0;
}

int
fault_check_hires (pm_client_t *rec, pm_client_t *stf, const char *drop, bool quiet,
                   fault_hires_t *out)
{
    int problems = 0;
    memset (out, 0, sizeof *out);
    zhashx_t *all = zhashx_new ();
    zhashx_set_destructor (all, s_cand_free);
    zhashx_t *stage = zhashx_new ();      //  application -> its last stage + 1
    zhashx_t *cand_of = zhashx_new ();    //  application -> its candidate
    zhashx_set_destructor (cand_of, s_cand_free);
    drop = drop ? drop : "";

    //  Recruitment's account: the hires it announced, and how each
    //  application ended.
    Pm__Event **events = NULL;
    long n = itest_read_stream (rec, &events);
    out->rec_high_seq = n > 0 ? (uint64_t) n : 0;
    for (long i = 0; i < n; i++) {
        const Pm__Event *ev = events[i];
        const char *t = ev->type ? ev->type : "";
        if (strcmp (t, "recruitment.candidate.hired") == 0 && ev->subject
            && strcmp (ev->subject, drop) != 0) {
            s_cand (all, ev->subject)->hired_events++;
        }
        else if (strncmp (t, "recruitment.application.", 24) == 0) {
            Pm__Recruitment__Application *a = pm__recruitment__application__unpack (
                NULL, ev->data.len, ev->data.data);
            if (a && a->id && a->candidate_id) {
                zhashx_update (stage, a->id, (void *) (intptr_t) (a->stage + 1));
                if (!zhashx_lookup (cand_of, a->id)) {
                    zhashx_insert (cand_of, a->id, strdup (a->candidate_id));
                }
            }
            pm__recruitment__application__free_unpacked (a, NULL);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    if (n <= 0) {
        problems++;
        fprintf (stderr, "    hires: recruitment's stream cannot be read\n");
    }
    for (intptr_t s = (intptr_t) zhashx_first (stage); s; s = (intptr_t) zhashx_next (stage)) {
        const char *cand = zhashx_lookup (cand_of, zhashx_cursor (stage));
        if (s - 1 == STAGE (HIRED) && cand && strcmp (cand, drop) != 0) {
            s_cand (all, cand)->hired_apps++;
        }
    }

    //  Staffing's account: caught up, then whom it onboarded and lists.
    out->stf_cursor = fault_cursor_wait (stf, "recruitment", out->rec_high_seq, 30000);
    if (out->stf_cursor != out->rec_high_seq) {
        problems++;
        fprintf (stderr, "    hires: staffing's cursor on recruitment is %llu, the stream "
                         "ends at %llu\n", (unsigned long long) out->stf_cursor,
                 (unsigned long long) out->rec_high_seq);
    }
    n = itest_read_stream (stf, &events);
    out->stf_high_seq = n > 0 ? (uint64_t) n : 0;
    for (long i = 0; i < n; i++) {
        const Pm__Event *ev = events[i];
        const char *t = ev->type ? ev->type : "";
        if (strcmp (t, "staffing.staff.onboarded") == 0) {
            Pm__Staffing__Staff *s = pm__staffing__staff__unpack (NULL, ev->data.len,
                                                                  ev->data.data);
            if (s && s->candidate_id && *s->candidate_id) {
                s_cand (all, s->candidate_id)->onboarded++;
            }
            pm__staffing__staff__free_unpacked (s, NULL);
        }
        else if (strcmp (t, "staffing.hire.rejected") == 0) {
            problems++;
            out->rejected++;
            if (!quiet) {
                fprintf (stderr, "    hires: staffing rejected the hire of %s\n",
                         ev->subject ? ev->subject : "-");
            }
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    if (n < 0 || s_list_staff (stf, all, &out->staff) != 0) {
        problems++;
        fprintf (stderr, "    hires: staffing's stream or staff list cannot be read\n");
    }
    //  And the other way: recruitment follows staffing's rosters.
    out->rec_cursor = fault_cursor_wait (rec, "staffing", out->stf_high_seq, 30000);
    if (out->rec_cursor != out->stf_high_seq) {
        problems++;
        fprintf (stderr, "    hires: recruitment's cursor on staffing is %llu, the stream "
                         "ends at %llu\n", (unsigned long long) out->rec_cursor,
                 (unsigned long long) out->stf_high_seq);
    }

    //  Each candidate: hired once by every account, or not at all.
    for (s_cand_t *e = zhashx_first (all); e; e = zhashx_next (all)) {
        bool hired = e->hired_events > 0 || e->hired_apps > 0;
        int want = hired ? 1 : 0;
        out->hired += hired;
        if (e->hired_events != want || e->hired_apps != want || e->onboarded != want
            || e->listed != want) {
            problems++;
            if (problems <= 12 && !quiet) {
                fprintf (stderr, "    hires: %s: %d hire events, %d hired applications; "
                                 "staffing onboarded %d, lists %d\n",
                         (const char *) zhashx_cursor (all), e->hired_events,
                         e->hired_apps, e->onboarded, e->listed);
            }
        }
    }
    zhashx_destroy (&cand_of);
    zhashx_destroy (&stage);
    zhashx_destroy (&all);
    return problems;
}
