/*  test_recruitment.c: the recruitment service through its protocol:
    requisitions and their approval, postings, applications with duplicate
    detection across the network, the role-scoped pipeline, offers that
    lapse as the clock moves, hires that the real staffing service turns
    into exactly one staff member each, and interviews booked from the
    real staffing service's rosters and leave. Bad input throughout.

    Requests are written as JSON and turned into messages with the
    service's own schema (pm_json); replies are read back the same way.  */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "itest.h"
#include "recruitment_schema.h"
#include "staffing_schema.h"

//  --- helpers -----------------------------------------------------------------

static long long
s_int (json_t *j, const char *path)
{
    return (long long) json_integer_value (itest_json_at (j, path));
}

//  Expects the error `code` on `field` whose message contains `text`.
static bool
s_refused (pm_client_t *c, int code, const char *field, const char *text,
           const char *type, const char *body)
{
    json_t *r = itest_req (c, code, field, type, "%s", body);
    bool ok = r && strstr (itest_json_str (r, "message"), text);
    if (r && !ok) {
        fprintf (stderr, "    %s: message \"%s\" lacks \"%s\"\n", type,
                 itest_json_str (r, "message"), text);
    }
    json_decref (r);
    return ok;
}

//  Events of `type` in the service's stream.
static int
s_count (pm_client_t *c, const char *type)
{
    Pm__Event **events;
    long n = itest_read_stream (c, &events);
    int count = 0;
    for (long i = 0; i < n; i++) {
        count += strcmp (events[i]->type, type) == 0;
        pm__event__free_unpacked (events[i], NULL);
    }
    free (n >= 0 ? events : NULL);
    return n < 0 ? -1 : count;
}

//  Starts again on the same ports, or on new ones if they were taken.
static int
s_start_again (itest_svc_t *svc)
{
    if (itest_start (svc) == 0) {
        return 0;
    }
    svc->commands[0] = svc->events[0] = 0;
    return itest_start (svc);
}

#define JOB_BODY                                                                    \
    "{\"requisition\": {\"site_id\": \"%s\", \"role\": \"nurse\", \"headcount\": %d, " \
    "\"title\": \"Practice nurse\", \"description\": \"Clinics, vaccinations.\", "     \
    "\"requirements\": [\"RN licence\"], \"salary\": {\"min_minor\": 3000, "           \
    "\"max_minor\": 5000, \"currency\": \"USD\"}, \"hiring_manager\": \"hana\", "      \
    "\"target_start\": \"2026-09-01\", \"employment_type\": \"PART_TIME\", "           \
    "\"fte_permille\": 600}}"

//  Creates, submits and (as the admin) approves a requisition at `site`
//  and posts it: its id and the posting's into job and pst.
static bool
s_open_job (pm_client_t *c, const char *site, int headcount, char *job, char *pst)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.CreateRequisition", JOB_BODY, site,
                       headcount);
    if (!r) {
        return false;
    }
    snprintf (job, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    json_decref (r);
    const char *steps[] = {"recruitment.SubmitRequisition",
                           "recruitment.ApproveRequisition"};
    for (int i = 0; i < 2; i++) {
        r = itest_req (c, 0, NULL, steps[i], "{\"requisition_id\": \"%s\"}", job);
        if (!r) {
            return false;
        }
        json_decref (r);
    }
    r = itest_req (c, 0, NULL, "recruitment.PublishPosting", "{\"requisition_id\": \"%s\"}",
               job);
    if (!r) {
        return false;
    }
    snprintf (pst, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    json_decref (r);
    return true;
}

//  Applies to `pst` as `family` with e-mail and phone: the application id
//  and candidate id.
static bool
s_apply (pm_client_t *c, const char *pst, const char *family, const char *email,
         const char *phone, char *app, char *cand)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.Apply",
                       "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"%s\", "
                       "\"given_names\": [\"Lee\"], \"email\": \"%s\", \"phone\": \"%s\", "
                       "\"cv_ref\": \"doc://cv/1\"}, \"source\": \"JOB_BOARD\"}",
                       pst, family, email, phone);
    if (!r) {
        return false;
    }
    snprintf (app, PM_ID_MAX, "%s", itest_json_str (r, "application.id"));
    snprintf (cand, PM_ID_MAX, "%s", itest_json_str (r, "candidate.id"));
    json_decref (r);
    return true;
}

//  Moves `app` to `to` (reason optional); true when it is there.
static bool
s_move (pm_client_t *c, const char *app, const char *to, const char *reason)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.Move",
                       "{\"application_id\": \"%s\", \"to\": \"%s\"%s%s%s}", app, to,
                       reason ? ", \"reason\": \"" : "", reason ? reason : "",
                       reason ? "\"" : "");
    bool ok = r && strcmp (itest_json_str (r, "stage"), to) == 0;
    json_decref (r);
    return ok;
}

//  --- requisitions and postings -------------------------------------------------

//  A requisition is a draft until submitted, opens only when a practice
//  manager of its site approves it, is posted only while open; the
//  careers page shows live postings of open requisitions only.
static void
s_test_requisitions (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("pm-north", "practice-manager", "north");
    itest_principal ("pm-east", "practice-manager", "east");
    pm_client_t *c = itest_client (&svc);
    pm_client_t *rita = itest_client_as (&svc, "rita");
    pm_client_t *pmn = itest_client_as (&svc, "pm-north");
    pm_client_t *pme = itest_client_as (&svc, "pm-east");

    //  Bad input, each refused with its field.
    const char *base = "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                       "\"title\": \"Nurse\", \"description\": \"d\", \"salary\": "
                       "{\"min_minor\": 3000, \"max_minor\": 5000, \"currency\": \"USD\"}, "
                       "\"target_start\": \"2026-09-01\", \"employment_type\": "
                       "\"FULL_TIME\", \"headcount\": ";
    char body[1024];
    snprintf (body, sizeof body, "%s0}}", base);
    CHECK (s_refused (c, PM_EINVAL, "requisition.headcount", "1..100",
                      "recruitment.CreateRequisition", body));
    CHECK (s_refused (c, PM_EINVAL, "requisition.salary.max_minor", "min_minor",
                      "recruitment.CreateRequisition",
                      "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                      "\"headcount\": 1, \"title\": \"Nurse\", \"description\": \"d\", "
                      "\"salary\": {\"min_minor\": 5000, \"max_minor\": 3000, "
                      "\"currency\": \"USD\"}}}"));
    CHECK (s_refused (c, PM_EINVAL, "requisition.target_start", "2026-02-30",
                      "recruitment.CreateRequisition",
                      "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                      "\"headcount\": 1, \"title\": \"Nurse\", \"description\": \"d\", "
                      "\"salary\": {\"min_minor\": 1, \"max_minor\": 3, "
                      "\"currency\": \"USD\"}, \"target_start\": \"2026-02-30\"}}"));
    CHECK (s_refused (c, PM_EINVAL, "requisition.salary.currency", "ISO 4217",
                      "recruitment.CreateRequisition",
                      "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                      "\"headcount\": 1, \"title\": \"Nurse\", \"description\": \"d\", "
                      "\"salary\": {\"min_minor\": 1, \"max_minor\": 3, "
                      "\"currency\": \"usd\"}}}"));
    CHECK (s_refused (c, PM_EINVAL, "requisition.employment_type", "SOMETIMES",
                      "recruitment.CreateRequisition",
                      "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                      "\"headcount\": 1, \"title\": \"Nurse\", \"description\": \"d\", "
                      "\"salary\": {\"min_minor\": 1, \"max_minor\": 3, "
                      "\"currency\": \"USD\"}, \"target_start\": \"2026-09-01\", "
                      "\"employment_type\": \"SOMETIMES\"}}"));
    CHECK (s_refused (c, PM_EINVAL, "requisition.title", "required",
                      "recruitment.CreateRequisition",
                      "{\"requisition\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                      "\"headcount\": 1}}"));
    //  A recruiter of north writes one; not at east.
    json_t *r = itest_req (rita, 0, NULL, "recruitment.CreateRequisition", JOB_BODY, "east", 1);
    CHECK (!r);
    r = itest_req (rita, 0, NULL, "recruitment.CreateRequisition", JOB_BODY, "north", 2);
    CHECK (r && strcmp (itest_json_str (r, "status"), "DRAFT") == 0 && s_int (r, "version") == 1);
    CHECK (strcmp (itest_json_str (r, "created_by"), "rita") == 0);
    char job[PM_ID_MAX];
    snprintf (job, sizeof job, "%s", itest_json_str (r, "id"));
    json_decref (r);
    char q[200];
    snprintf (q, sizeof q, "{\"requisition_id\": \"%s\"}", job);
    //  Not posted, not approved while a draft.
    CHECK (s_refused (rita, PM_ECONFLICT, "requisition_id", "is DRAFT",
                      "recruitment.PublishPosting", q));
    CHECK (s_refused (pmn, PM_ECONFLICT, "requisition_id", "needs it PENDING_APPROVAL",
                      "recruitment.ApproveRequisition", q));
    //  Updated while a draft (versioned).
    snprintf (body, sizeof body,
              "{\"expected_version\": 1, \"requisition\": {\"id\": \"%s\", \"site_id\": "
              "\"north\", \"role\": \"nurse\", \"headcount\": 1, \"title\": \"Senior "
              "nurse\", \"description\": \"d\", \"salary\": {\"min_minor\": 3000, "
              "\"max_minor\": 5000, \"currency\": \"USD\"}, \"target_start\": "
              "\"2026-09-01\", \"employment_type\": \"FULL_TIME\"}}", job);
    r = itest_req (rita, 0, NULL, "recruitment.UpdateRequisition", "%s", body);
    CHECK (r && s_int (r, "version") == 2 && s_int (r, "headcount") == 1);
    json_decref (r);
    CHECK (s_refused (rita, PM_ECONFLICT, "expected_version", "version 2, not 1",
                      "recruitment.UpdateRequisition", body));
    r = itest_req (rita, 0, NULL, "recruitment.SubmitRequisition", "%s", q);
    CHECK (r && strcmp (itest_json_str (r, "status"), "PENDING_APPROVAL") == 0);
    json_decref (r);
    //  Approval: not a recruiter (the door), not another site's manager.
    r = itest_req (rita, PM_EFORBIDDEN, NULL, "recruitment.ApproveRequisition", "%s", q);
    CHECK (r);
    json_decref (r);
    CHECK (s_refused (pme, PM_EFORBIDDEN, "requisition_id", "site north",
                      "recruitment.ApproveRequisition", q));
    r = itest_req (pmn, 0, NULL, "recruitment.ApproveRequisition", "%s", q);
    CHECK (r && strcmp (itest_json_str (r, "status"), "OPEN") == 0);
    CHECK (strcmp (itest_json_str (r, "approved_by"), "pm-north") == 0 && s_int (r, "approved_at") > 0);
    json_decref (r);
    //  Posted; the careers page shows it, anyone may look.
    r = itest_req (rita, 0, NULL, "recruitment.PublishPosting", "%s", q);
    CHECK (r && strcmp (itest_json_str (r, "title"), "Senior nurse") == 0);
    CHECK (strcmp (itest_json_str (r, "channel"), "careers-page") == 0);
    json_decref (r);
    r = itest_req (pme, 0, NULL, "recruitment.ListPostings", "{}");
    CHECK (r && json_array_size (itest_json_at (r, "postings")) == 1);
    json_decref (r);
    //  On hold (reason required): hidden; resumed: shown again.
    CHECK (s_refused (rita, PM_EINVAL, "reason", "required",
                      "recruitment.HoldRequisition", q));
    snprintf (body, sizeof body, "{\"requisition_id\": \"%s\", \"reason\": \"budget\"}",
              job);
    r = itest_req (rita, 0, NULL, "recruitment.HoldRequisition", "%s", body);
    CHECK (r && strcmp (itest_json_str (r, "status"), "ON_HOLD") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.ListPostings", "{\"site_id\": \"north\"}");
    CHECK (r && json_array_size (itest_json_at (r, "postings")) == 0);
    json_decref (r);
    r = itest_req (rita, 0, NULL, "recruitment.ResumeRequisition", "%s", q);
    CHECK (r && strcmp (itest_json_str (r, "status"), "OPEN") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.ListPostings", "{\"site_id\": \"north\"}");
    CHECK (r && json_array_size (itest_json_at (r, "postings")) == 1);
    json_decref (r);
    //  Cancelled: the posting closes for good.
    snprintf (body, sizeof body, "{\"requisition_id\": \"%s\", \"reason\": \"reorg\"}",
              job);
    r = itest_req (rita, 0, NULL, "recruitment.CancelRequisition", "%s", body);
    CHECK (r && strcmp (itest_json_str (r, "status"), "CANCELLED") == 0);
    json_decref (r);
    CHECK (s_refused (rita, PM_ECONFLICT, "requisition_id", "is CANCELLED",
                      "recruitment.ResumeRequisition", q));
    r = itest_req (rita, 0, NULL, "recruitment.ListRequisitions", "{\"site_id\": \"north\"}");
    CHECK (r && json_array_size (itest_json_at (r, "requisitions")) == 1);
    json_decref (r);
    //  By status: the cancelled one, and no open one.
    r = itest_req (rita, 0, NULL, "recruitment.ListRequisitions",
                   "{\"site_id\": \"north\", \"status\": \"CANCELLED\"}");
    CHECK (r && json_array_size (itest_json_at (r, "requisitions")) == 1);
    json_decref (r);
    r = itest_req (rita, 0, NULL, "recruitment.ListRequisitions",
                   "{\"site_id\": \"north\", \"status\": \"OPEN\"}");
    CHECK (r && json_array_size (itest_json_at (r, "requisitions")) == 0);
    json_decref (r);
    CHECK (s_refused (pme, PM_EFORBIDDEN, "site_id", "site north",
                      "recruitment.ListRequisitions", "{\"site_id\": \"north\"}"));
    //  Every change is one event with the full state.
    CHECK (s_count (c, "recruitment.requisition.created") == 1);
    CHECK (s_count (c, "recruitment.requisition.approved") == 1);
    CHECK (s_count (c, "recruitment.posting.published") == 1);
    CHECK (s_count (c, "recruitment.posting.closed") == 1);
    CHECK (s_count (c, "recruitment.requisition.cancelled") == 1);
    pm_client_destroy (&c);
    pm_client_destroy (&rita);
    pm_client_destroy (&pmn);
    pm_client_destroy (&pme);
    itest_cleanup (&svc);
}

//  --- candidates ----------------------------------------------------------------

//  Applying with an e-mail (any case, spaces around) or a phone (any
//  punctuation) already on file anywhere in the network links to that
//  candidate; one application per requisition; reads are audited and
//  other sites' candidates refused.
static void
s_test_candidates (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("eve", "recruiter", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *c = itest_client (&svc);
    char job_n[PM_ID_MAX], pst_n[PM_ID_MAX], job_e[PM_ID_MAX], pst_e[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 1, job_n, pst_n));
    CHECK (s_open_job (c, "east", 1, job_e, pst_e));
    char app1[PM_ID_MAX], cand1[PM_ID_MAX], app3[PM_ID_MAX], cand3[PM_ID_MAX];
    CHECK (s_apply (c, pst_n, "Park", "Lee.Park@Example.org", "+1 (555) 010-2000", app1,
                    cand1));
    CHECK (pm_id_valid (cand1, "cand") && pm_id_valid (app1, "app"));
    //  Same person at another site, e-mail in another case: linked.
    json_t *r = itest_req (c, 0, NULL, "recruitment.Apply",
                       "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Park\", "
                       "\"given_names\": [\"Lee\"], \"email\": \"  lee.park@EXAMPLE.org \"},"
                       " \"source\": \"REFERRAL\", \"referrer\": \"Dr Ng\"}", pst_e);
    CHECK (r && itest_json_at (r, "duplicate") == json_true ());
    CHECK (strcmp (itest_json_str (r, "matched_on"), "email") == 0);
    CHECK (strcmp (itest_json_str (r, "candidate.id"), cand1) == 0);
    CHECK (json_array_size (itest_json_at (r, "candidate.site_ids")) == 2);
    json_decref (r);
    //  Same phone written differently, no e-mail: linked by phone, and
    //  one candidate applies once per requisition.
    char body[1024];
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Park\", "
              "\"given_names\": [\"Lee\"], \"phone\": \"1-555-010-2000\"}, "
              "\"source\": \"WALK_IN\"}", pst_e);
    CHECK (s_refused (c, PM_ECONFLICT, "candidate", "applied to", "recruitment.Apply",
                      body));
    //  Someone else entirely is a new candidate.
    CHECK (s_apply (c, pst_n, "Kim", "kim@example.org", "555 010 3000", app3, cand3));
    CHECK (strcmp (cand3, cand1) != 0);
    //  Bad input.
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"A\", "
              "\"given_names\": [\"B\"], \"email\": \"not-an-email\"}, "
              "\"source\": \"JOB_BOARD\"}", pst_n);
    CHECK (s_refused (c, PM_EINVAL, "candidate.email", "not an e-mail",
                      "recruitment.Apply", body));
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"A\", "
              "\"given_names\": [\"B\"], \"phone\": \"call me\"}, "
              "\"source\": \"JOB_BOARD\"}", pst_n);
    CHECK (s_refused (c, PM_EINVAL, "candidate.phone", "not a phone",
                      "recruitment.Apply", body));
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"A\", "
              "\"given_names\": [\"B\"]}, \"source\": \"JOB_BOARD\"}", pst_n);
    CHECK (s_refused (c, PM_EINVAL, "candidate.email", "or a phone",
                      "recruitment.Apply", body));
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"A\", "
              "\"given_names\": [\"B\"], \"email\": \"a@b.example\"}, "
              "\"source\": \"REFERRAL\"}", pst_n);
    CHECK (s_refused (c, PM_EINVAL, "referrer", "required", "recruitment.Apply", body));
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"A\", "
              "\"given_names\": [\"B\"], \"email\": \"a@b.example\"}}", pst_n);
    CHECK (s_refused (c, PM_EINVAL, "source", "required", "recruitment.Apply", body));
    CHECK (s_refused (c, PM_ENOTFOUND, "posting_id", "no posting", "recruitment.Apply",
                      "{\"posting_id\": \"pst_nope\", \"candidate\": {\"family_name\": "
                      "\"A\", \"given_names\": [\"B\"], \"email\": \"a@b.example\"}, "
                      "\"source\": \"WALK_IN\"}"));
    //  Site checks: north's recruiter sees Kim (north), east's does not;
    //  both see Park, who applied at both.
    pm_client_t *rita = itest_client_as (&svc, "rita");
    pm_client_t *eve = itest_client_as (&svc, "eve");
    r = itest_req (rita, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}",
               cand3);
    CHECK (r && strcmp (itest_json_str (r, "family_name"), "Kim") == 0);
    json_decref (r);
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\"}", cand3);
    CHECK (s_refused (eve, PM_EFORBIDDEN, "candidate_id", "applied at none",
                      "recruitment.GetCandidate", body));
    r = itest_req (eve, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}",
               cand1);
    CHECK (r && strcmp (itest_json_str (r, "email"), "Lee.Park@Example.org") == 0);
    json_decref (r);
    snprintf (body, sizeof body, "{\"application_id\": \"%s\"}", app3);
    CHECK (s_refused (eve, PM_EFORBIDDEN, "application_id", "site north",
                      "recruitment.GetApplication", body));
    //  Every read and change of Kim's record is on the audit log.
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    r = itest_req (auditor, 0, NULL, "pm.AuditRead", "{\"max\": 1000}");
    CHECK (r);
    int applied = 0, read = 0, refused = 0;
    json_t *entries = itest_json_at (r, "entries");
    for (size_t i = 0; i < json_array_size (entries); i++) {
        json_t *e = json_array_get (entries, i);
        if (strcmp (itest_json_str (e, "subject"), cand3) != 0) {
            continue;
        }
        const char *action = itest_json_str (e, "action"), *outcome = itest_json_str (e, "outcome");
        applied += strcmp (action, "recruitment.Apply") == 0;
        read += strcmp (action, "recruitment.GetCandidate") == 0
                && strcmp (outcome, "OK") == 0;
        refused += strcmp (outcome, "EFORBIDDEN") == 0;
    }
    json_decref (r);
    CHECK (applied == 1 && read == 1 && refused == 2);
    CHECK (s_count (c, "recruitment.candidate.registered") == 2);
    CHECK (s_count (c, "recruitment.application.received") == 3);
    pm_client_destroy (&auditor);
    pm_client_destroy (&rita);
    pm_client_destroy (&eve);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- pipeline ------------------------------------------------------------------

//  The table: legal moves go, illegal ones are refused naming what is
//  allowed, roles are held to their moves, reasons are required for the
//  exits, every move is stamped with who and when.
static void
s_test_pipeline (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("hana", "hiring-manager", "north");
    itest_principal ("hugo", "hiring-manager", "north");
    itest_principal ("dr-ivy", "clinician", "north");
    itest_principal ("careers", "gateway", "*");
    pm_client_t *c = itest_client (&svc);
    pm_client_t *rita = itest_client_as (&svc, "rita");
    pm_client_t *hana = itest_client_as (&svc, "hana");
    pm_client_t *hugo = itest_client_as (&svc, "hugo");
    pm_client_t *ivy = itest_client_as (&svc, "dr-ivy");
    char job[PM_ID_MAX], pst[PM_ID_MAX], app[PM_ID_MAX], cand[PM_ID_MAX];
    char app2[PM_ID_MAX], cand2[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 1, job, pst));
    CHECK (s_apply (c, pst, "Park", "lee@example.org", "5550102000", app, cand));
    CHECK (s_apply (c, pst, "Kim", "kim@example.org", "5550103000", app2, cand2));
    char body[512];
    //  Illegal: named with what is allowed.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"HIRED\"}", app);
    CHECK (s_refused (rita, PM_ECONFLICT, "to",
                      "cannot move from APPLIED to HIRED; allowed: SCREENING, "
                      "SHORTLISTED, REJECTED, WITHDRAWN", "recruitment.Move", body));
    //  A hiring manager may not screen; an interviewer may not shortlist.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"SCREENING\"}",
              app);
    CHECK (s_refused (hana, PM_EFORBIDDEN, "to",
                      "a hiring-manager may not move", "recruitment.Move", body));
    CHECK (s_refused (hana, PM_EFORBIDDEN, "to", "allowed for you: SHORTLISTED, REJECTED",
                      "recruitment.Move", body));
    CHECK (s_move (rita, app, "SCREENING", NULL));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"SHORTLISTED\"}",
              app);
    CHECK (s_refused (ivy, PM_EFORBIDDEN, "to", "a clinician may not move",
                      "recruitment.Move", body));
    //  Only the requisition's own hiring manager.
    CHECK (s_refused (hugo, PM_EFORBIDDEN, "application_id", "not the hiring manager",
                      "recruitment.Move", body));
    CHECK (s_move (hana, app, "SHORTLISTED", NULL));
    CHECK (s_move (hana, app, "INTERVIEW_SCHEDULED", NULL));
    //  The interviewer marks it held.
    CHECK (s_move (ivy, app, "INTERVIEW_DONE", NULL));
    //  Offers only through MakeOffer.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"OFFER_SENT\"}",
              app);
    CHECK (s_refused (rita, PM_ECONFLICT, "to", "reached by recruitment.MakeOffer",
                      "recruitment.Move", body));
    //  Next round, then back.
    CHECK (s_move (hana, app, "INTERVIEW_SCHEDULED", NULL));
    CHECK (s_move (ivy, app, "INTERVIEW_DONE", NULL));
    //  Exits need reasons; final stages go nowhere.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"REJECTED\"}",
              app2);
    CHECK (s_refused (rita, PM_EINVAL, "reason", "required", "recruitment.Move", body));
    CHECK (s_move (rita, app2, "REJECTED", "not enough experience"));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"SCREENING\"}",
              app2);
    CHECK (s_refused (rita, PM_ECONFLICT, "to", "allowed: none", "recruitment.Move", body));
    //  Bad input.
    CHECK (s_refused (rita, PM_EINVAL, "to", "required", "recruitment.Move",
                      "{\"application_id\": \"app_x\"}"));
    CHECK (s_refused (rita, PM_ENOTFOUND, "application_id", "no application",
                      "recruitment.Move", "{\"application_id\": \"app_x\", \"to\": "
                      "\"SCREENING\"}"));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": \"WITHDRAWN\", "
              "\"reason\": \"moved\", \"expected_version\": 1}", app);
    CHECK (s_refused (rita, PM_ECONFLICT, "expected_version", "not 1", "recruitment.Move",
                      body));
    //  The history: every move with actor, role and time.
    json_t *r = itest_req (rita, 0, NULL, "recruitment.GetApplication",
                       "{\"application_id\": \"%s\"}", app);
    CHECK (r && json_array_size (itest_json_at (r, "history")) == 7);
    CHECK (strcmp (itest_json_str (r, "history[1].to"), "SCREENING") == 0);
    CHECK (strcmp (itest_json_str (r, "history[1].actor"), "rita") == 0);
    CHECK (strcmp (itest_json_str (r, "history[1].actor_role"), "recruiter") == 0);
    CHECK (strcmp (itest_json_str (r, "history[4].actor"), "dr-ivy") == 0);
    CHECK (s_int (r, "history[4].at") >= s_int (r, "history[3].at")
           && s_int (r, "history[4].at") > 0);
    json_decref (r);
    r = itest_req (rita, 0, NULL, "recruitment.GetApplication", "{\"application_id\": \"%s\"}",
               app2);
    CHECK (r && strcmp (itest_json_str (r, "history[1].reason"), "not enough experience") == 0);
    json_decref (r);
    //  The candidate withdraws through the careers gateway.
    pm_client_t *careers = itest_client_as (&svc, "careers");
    CHECK (s_move (careers, app, "WITHDRAWN", "took another job"));
    pm_client_destroy (&careers);
    CHECK (s_count (c, "recruitment.application.moved") == 8);
    pm_client_destroy (&c);
    pm_client_destroy (&rita);
    pm_client_destroy (&hana);
    pm_client_destroy (&hugo);
    pm_client_destroy (&ivy);
    itest_cleanup (&svc);
}

//  --- offers --------------------------------------------------------------------

//  Moves a fresh application to INTERVIEW_DONE.
static bool
s_to_interviewed (pm_client_t *c, const char *app)
{
    return s_move (c, app, "SHORTLISTED", NULL) && s_move (c, app, "INTERVIEW_SCHEDULED", NULL)
           && s_move (c, app, "INTERVIEW_DONE", NULL);
}

//  Offers the job (expiring `in_ms` after now); true when sent.
static bool
s_offer (pm_client_t *c, const char *app, long long in_ms, long long pay)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.MakeOffer",
                       "{\"application_id\": \"%s\", \"offer\": {\"pay_rate_minor\": %lld, "
                       "\"currency\": \"USD\", \"start_date\": \"2026-09-01\", "
                       "\"expires_at\": %lld}}", app, pay,
                       (long long) pm_clock_wall_ms () + in_ms);
    bool ok = r && strcmp (itest_json_str (r, "stage"), "OFFER_SENT") == 0;
    json_decref (r);
    return ok;
}

//  An offer nobody answers lapses at its expiry, also when the service was
//  down at the time: restarted with its clock two hours on, it expires the
//  offer once; an answered offer does not lapse. Bad offers are refused.
static void
s_test_offer_expiry (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    svc.env[0] = "PM_RECRUITMENT_TICK_MS=50";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    char job[PM_ID_MAX], pst[PM_ID_MAX], app[PM_ID_MAX], cand[PM_ID_MAX];
    char app2[PM_ID_MAX], cand2[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 2, job, pst));
    CHECK (s_apply (c, pst, "Park", "lee@example.org", "5550102000", app, cand));
    CHECK (s_apply (c, pst, "Kim", "kim@example.org", "5550103000", app2, cand2));
    //  Not before the interview.
    char body[512];
    snprintf (body, sizeof body,
              "{\"application_id\": \"%s\", \"offer\": {\"pay_rate_minor\": 4000, "
              "\"currency\": \"USD\", \"start_date\": \"2026-09-01\", \"expires_at\": "
              "%lld}}", app, (long long) pm_clock_wall_ms () + 3600000);
    CHECK (s_refused (c, PM_ECONFLICT, "to", "cannot move from APPLIED to OFFER_SENT",
                      "recruitment.MakeOffer", body));
    CHECK (s_to_interviewed (c, app) && s_to_interviewed (c, app2));
    //  Bad offers: pay outside the range, another currency, expiry past.
    snprintf (body, sizeof body,
              "{\"application_id\": \"%s\", \"offer\": {\"pay_rate_minor\": 9000, "
              "\"currency\": \"USD\", \"start_date\": \"2026-09-01\", \"expires_at\": "
              "%lld}}", app, (long long) pm_clock_wall_ms () + 3600000);
    CHECK (s_refused (c, PM_EINVAL, "offer.pay_rate_minor", "range 3000..5000",
                      "recruitment.MakeOffer", body));
    snprintf (body, sizeof body,
              "{\"application_id\": \"%s\", \"offer\": {\"pay_rate_minor\": 4000, "
              "\"currency\": \"EUR\", \"start_date\": \"2026-09-01\", \"expires_at\": "
              "%lld}}", app, (long long) pm_clock_wall_ms () + 3600000);
    CHECK (s_refused (c, PM_EINVAL, "offer.currency", "pays in USD",
                      "recruitment.MakeOffer", body));
    CHECK (!s_offer (c, app, -1000, 4000));
    CHECK (s_offer (c, app, 3600000, 4000));
    CHECK (s_offer (c, app2, 3600000, 4000));
    //  Kim declines (reason required): no lapse for that one.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\"}", app2);
    CHECK (s_refused (c, PM_EINVAL, "reason", "required", "recruitment.DeclineOffer",
                      body));
    json_t *r = itest_req (c, 0, NULL, "recruitment.DeclineOffer",
                       "{\"application_id\": \"%s\", \"reason\": \"salary\"}", app2);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "OFFER_DECLINED") == 0);
    CHECK (s_int (r, "offer.answered_at") > 0);
    json_decref (r);
    //  Two hours later (the service restarted with its clock moved on).
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    svc.env[1] = "PM_CLOCK_OFFSET_MS=7200000";
    CHECK (s_start_again (&svc) == 0);
    c = itest_client (&svc);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    bool expired = false;
    while (!expired && itest_now () < until) {
        r = itest_req (c, 0, NULL, "recruitment.GetApplication", "{\"application_id\": \"%s\"}",
                   app);
        expired = r && strcmp (itest_json_str (r, "stage"), "OFFER_EXPIRED") == 0;
        if (expired) {
            CHECK (strcmp (itest_json_str (r, "history[5].actor_role"), "service") == 0);
        }
        json_decref (r);
        zclock_sleep (20);
    }
    CHECK (expired);
    //  Accepting a lapsed offer is refused, naming the stage.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\"}", app);
    CHECK (s_refused (c, PM_ECONFLICT, "to", "cannot move from OFFER_EXPIRED",
                      "recruitment.AcceptOffer", body));
    r = itest_req (c, 0, NULL, "recruitment.GetApplication", "{\"application_id\": \"%s\"}",
               app2);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "OFFER_DECLINED") == 0);
    json_decref (r);
    //  Once: more ticks change nothing.
    zclock_sleep (200);
    CHECK (s_count (c, "recruitment.application.moved") == 2 * 3 + 2 + 1 + 1);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- hires into staffing ----------------------------------------------------------

//  Staff at `site` made from candidate `cand` (count), -1 on no answer.
static int
s_hired (pm_client_t *c, const char *site, const char *cand)
{
    json_t *r = itest_req (c, 0, NULL, "staffing.ListStaff",
                       "{\"site_id\": \"%s\", \"page_size\": 1000}", site);
    if (!r) {
        return -1;
    }
    int n = 0;
    size_t i;
    json_t *s;
    json_array_foreach (itest_json_at (r, "staff"), i, s) {
        n += strcmp (itest_json_str (s, "candidate_id"), cand) == 0;
    }
    json_decref (r);
    return n;
}

//  End to end with the real staffing service: the accepted offer hires,
//  recruitment.candidate.hired reaches staffing, which makes exactly one
//  staff member with the role, site, start date and pay of the offer -
//  also after staffing restarts and replays, and after recruitment
//  restarts. The requisition of headcount 1 is filled and its posting
//  closed.
static void
s_test_hire_into_staffing (void)
{
    itest_svc_t stf, rec;
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&rec, "recruitment", "pm-recruitment");
    CHECK (itest_start (&stf) == 0);
    itest_point_at (&rec, &stf);
    CHECK (itest_start (&rec) == 0);
    //  Staffing learns recruitment's (test-chosen) endpoints: start it
    //  again, pointed at recruitment.
    itest_point_at (&stf, &rec);
    itest_signal (&stf, SIGTERM);
    CHECK (s_start_again (&stf) == 0);
    pm_client_t *sc = itest_client (&stf);
    pm_client_t *c = itest_client (&rec);
    json_t *r = itest_req (sc, 0, NULL, "staffing.CreateSite",
                       "{\"site\": {\"id\": \"north\", \"name\": \"Clinic north\", "
                       "\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}}");
    CHECK (r);
    json_decref (r);
    char job[PM_ID_MAX], pst[PM_ID_MAX], app[PM_ID_MAX], cand[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 1, job, pst));
    CHECK (s_apply (c, pst, "Park", "lee@example.org", "5550102000", app, cand));
    CHECK (s_to_interviewed (c, app));
    CHECK (s_offer (c, app, 86400000, 4200));
    r = itest_req (c, 0, NULL, "recruitment.AcceptOffer", "{\"application_id\": \"%s\"}", app);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "HIRED") == 0);
    CHECK (strcmp (itest_json_str (r, "history[5].to"), "OFFER_ACCEPTED") == 0);
    CHECK (strcmp (itest_json_str (r, "history[6].to"), "HIRED") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.GetRequisition", "{\"requisition_id\": \"%s\"}",
               job);
    CHECK (r && strcmp (itest_json_str (r, "status"), "FILLED") == 0 && s_int (r, "hired") == 1);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.ListPostings", "{}");
    CHECK (r && json_array_size (itest_json_at (r, "postings")) == 0);
    json_decref (r);
    CHECK (s_count (c, "recruitment.candidate.hired") == 1);
    //  Staffing onboards them, once.
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until && s_hired (sc, "north", cand) != 1) {
        zclock_sleep (20);
    }
    CHECK (s_hired (sc, "north", cand) == 1);
    r = itest_req (sc, 0, NULL, "staffing.GetHire", "{\"candidate_id\": \"%s\"}", cand);
    CHECK (r && pm_id_valid (itest_json_str (r, "staff_id"), "stf"));
    char staff[PM_ID_MAX];
    snprintf (staff, sizeof staff, "%s", itest_json_str (r, "staff_id"));
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.GetStaff", "{\"staff_id\": \"%s\"}", staff);
    CHECK (r && strcmp (itest_json_str (r, "roles[0]"), "nurse") == 0);
    CHECK (s_int (r, "pay_rate_minor") == 4200 && strcmp (itest_json_str (r, "currency"), "USD") == 0);
    CHECK (strcmp (itest_json_str (r, "start_date"), "2026-09-01") == 0);
    CHECK (strcmp (itest_json_str (r, "employment_type"), "PART_TIME") == 0);
    CHECK (s_int (r, "sites[0].fte_permille") == 600);
    CHECK (strcmp (itest_json_str (r, "requisition_id"), job) == 0);
    json_decref (r);
    //  A second acceptance is refused; restarts replay nothing twice.
    char body[200];
    snprintf (body, sizeof body, "{\"application_id\": \"%s\"}", app);
    CHECK (s_refused (c, PM_ECONFLICT, "to", "cannot move from HIRED",
                      "recruitment.AcceptOffer", body));
    pm_client_destroy (&sc);
    pm_client_destroy (&c);
    itest_signal (&stf, SIGKILL);
    itest_signal (&rec, SIGTERM);
    CHECK (s_start_again (&rec) == 0);
    itest_point_at (&stf, &rec);
    CHECK (s_start_again (&stf) == 0);
    sc = itest_client (&stf);
    c = itest_client (&rec);
    until = itest_now () + ITEST_WAIT_MS;
    bool caught_up = false;
    while (!caught_up && itest_now () < until) {
        Pm__Health *h = itest_health (sc);
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            caught_up |= strcmp (h->consumers[i]->source, "recruitment") == 0
                         && !h->consumers[i]->catching_up && h->consumers[i]->cursor > 0
                         && h->consumers[i]->cursor >= h->consumers[i]->high_seq;
        }
        pm__health__free_unpacked (h, NULL);
        zclock_sleep (20);
    }
    CHECK (caught_up);
    CHECK (s_hired (sc, "north", cand) == 1);
    CHECK (s_count (sc, "staffing.staff.onboarded") == 1);
    CHECK (s_count (sc, "staffing.hire.rejected") == 0);
    pm_client_destroy (&sc);
    pm_client_destroy (&c);
    itest_cleanup (&rec);
    itest_cleanup (&stf);
}

//  --- candidate experience ---------------------------------------------------------

//  The report measures what candidates lived through, from the stamped
//  history: one candidate answered an hour after applying (the service
//  restarted with its clock an hour on), one still waiting; per source
//  and per requisition; other sites refused.
static void
s_test_experience_report (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("eve", "recruiter", "east");
    pm_client_t *c = itest_client (&svc);
    char job[PM_ID_MAX], pst[PM_ID_MAX], job2[PM_ID_MAX], pst2[PM_ID_MAX];
    char app[PM_ID_MAX], cand[PM_ID_MAX], app2[PM_ID_MAX], cand2[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 1, job, pst));
    CHECK (s_open_job (c, "north", 1, job2, pst2));
    CHECK (s_apply (c, pst, "Park", "lee@example.org", "5550102000", app, cand));
    json_t *r = itest_req (c, 0, NULL, "recruitment.Apply",
                       "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Kim\", "
                       "\"given_names\": [\"Jo\"], \"email\": \"jo@example.org\"}, "
                       "\"source\": \"REFERRAL\", \"referrer\": \"Dr Ng\"}", pst);
    CHECK (r);
    snprintf (app2, sizeof app2, "%s", itest_json_str (r, "application.id"));
    json_decref (r);
    (void) cand2;
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    svc.env[0] = "PM_CLOCK_OFFSET_MS=3600000";
    CHECK (s_start_again (&svc) == 0);
    c = itest_client (&svc);
    CHECK (s_move (c, app, "SCREENING", NULL));
    r = itest_req (c, 0, NULL, "recruitment.ExperienceReport", "{\"site_id\": \"north\"}");
    CHECK (r && json_array_size (itest_json_at (r, "requisitions")) == 2);
    json_t *t = itest_json_at (r, "total");
    CHECK (s_int (t, "applications") == 2 && s_int (t, "responded") == 1);
    CHECK (s_int (t, "awaiting_response") == 1);
    CHECK (s_int (t, "avg_first_response_ms") >= 3600000
           && s_int (t, "avg_first_response_ms") < 3600000 + ITEST_WAIT_MS);
    CHECK (s_int (t, "oldest_waiting_ms") >= 3600000);
    CHECK (strcmp (itest_json_str (t, "stages[0].stage"), "APPLIED") == 0);
    CHECK (s_int (t, "stages[0].count") == 1 && s_int (t, "stages[0].avg_ms") >= 3600000);
    CHECK (json_array_size (itest_json_at (t, "sources")) == 2);
    CHECK (strcmp (itest_json_str (t, "sources[0].source"), "JOB_BOARD") == 0);
    CHECK (strcmp (itest_json_str (t, "sources[1].source"), "REFERRAL") == 0);
    CHECK (strcmp (itest_json_str (r, "requisitions[1].requisition_id"), job2) == 0);
    CHECK (s_int (r, "requisitions[1].applications") == 0);
    json_decref (r);
    //  Offers and hires: time to offer, acceptance.
    CHECK (s_move (c, app, "SHORTLISTED", NULL) && s_move (c, app, "INTERVIEW_SCHEDULED", NULL)
           && s_move (c, app, "INTERVIEW_DONE", NULL));
    CHECK (s_offer (c, app, 86400000, 4000));
    r = itest_req (c, 0, NULL, "recruitment.AcceptOffer", "{\"application_id\": \"%s\"}", app);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.ExperienceReport",
               "{\"site_id\": \"north\", \"requisition_id\": \"%s\"}", job);
    CHECK (r && json_array_size (itest_json_at (r, "requisitions")) == 1);
    t = itest_json_at (r, "total");
    CHECK (s_int (t, "offers_sent") == 1 && s_int (t, "offers_accepted") == 1);
    CHECK (s_int (t, "offer_acceptance_permille") == 1000 && s_int (t, "hired") == 1);
    CHECK (s_int (t, "avg_time_to_offer_ms") >= 3600000);
    CHECK (s_int (t, "avg_time_to_hire_ms") >= s_int (t, "avg_time_to_offer_ms"));
    CHECK (s_int (t, "sources[0].hired") == 1);
    json_decref (r);
    //  Bad input and other sites.
    char body[200];
    snprintf (body, sizeof body, "{\"site_id\": \"east\", \"requisition_id\": \"%s\"}",
              job);
    CHECK (s_refused (c, PM_EINVAL, "requisition_id", "at site north",
                      "recruitment.ExperienceReport", body));
    CHECK (s_refused (c, PM_EINVAL, "site_id", "is not 1 to 64",
                      "recruitment.ExperienceReport", "{\"site_id\": \"No Such\"}"));
    pm_client_t *eve = itest_client_as (&svc, "eve");
    CHECK (s_refused (eve, PM_EFORBIDDEN, "site_id", "site north",
                      "recruitment.ExperienceReport", "{\"site_id\": \"north\"}"));
    pm_client_destroy (&eve);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- interviews ------------------------------------------------------------------

//  The UTC date `days` from today into out (11 bytes).
static void
s_day (int days, char *out)
{
    time_t t = time (NULL) + (time_t) days * 86400;
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 11, "%Y-%m-%d", &tm);
}

//  The next date (within a year) whose New York day is 23 hours long.
static bool
s_next_dst_day (char *out)
{
    char *old = getenv ("TZ") ? strdup (getenv ("TZ")) : NULL;
    setenv ("TZ", "America/New_York", 1);
    tzset ();
    bool found = false;
    for (int d = 2; d < 370 && !found; d++) {
        time_t t = time (NULL) + (time_t) d * 86400;
        struct tm a;
        localtime_r (&t, &a);
        a.tm_hour = a.tm_min = a.tm_sec = 0;
        a.tm_isdst = -1;
        struct tm b = a;
        b.tm_mday++;
        b.tm_isdst = -1;
        time_t ta = mktime (&a);
        if (mktime (&b) - ta == 23 * 3600) {
            strftime (out, 11, "%Y-%m-%d", &a);
            found = true;
        }
    }
    if (old) {
        setenv ("TZ", old, 1);
        free (old);
    }
    else {
        unsetenv ("TZ");
    }
    tzset ();
    return found;
}

#define PANEL2                                                                      \
    "[{\"staff_id\": \"%s\", \"principal\": \"dr-ivy\"}, {\"staff_id\": \"%s\", "     \
    "\"principal\": \"oscar\"}]"

//  Slot proposals for a panel: count, and the first slot's start, local
//  date and time into the outs (any may be NULL).
static int
s_slots (pm_client_t *c, const char *app, const char *panel, const char *from,
         const char *to, long long *start, char *date, char *hhmm)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.ProposeInterviewSlots",
                       "{\"application_id\": \"%s\", \"panel\": %s, \"duration_minutes\": "
                       "60, \"from_date\": \"%s\", \"to_date\": \"%s\"}", app, panel, from,
                       to);
    if (!r) {
        return -1;
    }
    int n = (int) json_array_size (itest_json_at (r, "slots"));
    if (start) {
        *start = s_int (r, "slots[0].start");
    }
    if (date) {
        snprintf (date, 11, "%s", itest_json_str (r, "slots[0].local_date"));
    }
    if (hhmm) {
        snprintf (hhmm, 6, "%s", itest_json_str (r, "slots[0].local_start"));
    }
    json_decref (r);
    return n;
}

//  Books `app` with the two-person panel at `start`: the reply's code,
//  the interview id into itv.
static int
s_book (pm_client_t *c, const char *app, const char *panel, long long start, char *itv)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.BookInterview",
                       "{\"application_id\": \"%s\", \"panel\": %s, \"start\": %lld, "
                       "\"duration_minutes\": 60}", app, panel, start);
    if (r && itv) {
        snprintf (itv, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    bool ok = r && strcmp (itest_json_str (r, "status"), "INTERVIEW_BOOKED") == 0;
    json_decref (r);
    return ok;
}

//  BookInterview packed for an asynchronous send.
static size_t
s_book_body (const char *app, const char *panel, long long start, uint8_t **out)
{
    char text[1024];
    snprintf (text, sizeof text,
              "{\"application_id\": \"%s\", \"panel\": %s, \"start\": %lld, "
              "\"duration_minutes\": 60}", app, panel, start);
    const pm_command_def_t *def = pm_schema_command (&recruitment_schema,
                                                     "recruitment.BookInterview");
    ProtobufCMessage *m = NULL;
    char err[128];
    if (pm_json_parse (def->request, text, strlen (text), &m, err, sizeof err) != PM_OK) {
        return 0;
    }
    size_t len = protobuf_c_message_get_packed_size (m);
    *out = malloc (len ? len : 1);
    protobuf_c_message_pack (m, *out);
    protobuf_c_message_free_unpacked (m, NULL);
    return len;
}

//  Interviews end to end with the real staffing service: availability
//  from its rosters and leave, slots inside every panel member's hours on
//  the site's local days (a DST day too), two overlapping picks of which
//  exactly one is booked, reschedule and cancel with history, scorecards
//  by the panel members themselves (once, amended by version) after the
//  interview, interview done only with every scorecard in, and the
//  interview-to-feedback time in the experience report. Bad input.
static void
s_test_interviews (void)
{
    itest_svc_t stf, rec;
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&rec, "recruitment", "pm-recruitment");
    CHECK (itest_start (&stf) == 0);
    itest_point_at (&rec, &stf);
    CHECK (itest_start (&rec) == 0);
    itest_principal ("dr-ivy", "clinician", "north");
    itest_principal ("oscar", "clinician", "north");
    itest_principal ("dr-zed", "clinician", "north");
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("careers", "gateway", "*");
    pm_client_t *sc = itest_client (&stf);
    pm_client_t *c = itest_client (&rec);
    char d1[11], d2[11], dst[11], pre[11];
    s_day (3, d1);
    s_day (4, d2);
    //  The site (open every day), two interviewers and their manager.
    char hours[600] = "";
    for (int wd = 1; wd <= 7; wd++) {
        snprintf (hours + strlen (hours), sizeof hours - strlen (hours),
                  "%s{\"weekday\": %d, \"opens\": \"07:00\", \"closes\": \"21:00\"}",
                  wd > 1 ? ", " : "", wd);
    }
    json_t *r = itest_req (sc, 0, NULL, "staffing.CreateSite",
                       "{\"site\": {\"id\": \"north\", \"name\": \"Clinic north\", "
                       "\"time_zone\": \"America/New_York\", \"currency\": \"USD\", "
                       "\"opening_hours\": [%s]}}", hours);
    CHECK (r);
    json_decref (r);
    char ivy[PM_ID_MAX], oscar[PM_ID_MAX], mgr[PM_ID_MAX], tpl8[PM_ID_MAX],
        tpl12[PM_ID_MAX];
    const char *who[] = {"physician", "nurse", "practice-manager"};
    char *ids[] = {ivy, oscar, mgr};
    for (int i = 0; i < 3; i++) {
        r = itest_req (sc, 0, NULL, "staffing.Onboard",
                   "{\"staff\": {\"name\": {\"family\": \"P%d\", \"given\": [\"Jo\"]}, "
                   "\"roles\": [\"%s\"], \"sites\": [{\"site_id\": \"north\", "
                   "\"fte_permille\": 1000}], \"employment_type\": \"FULL_TIME\", "
                   "\"pay_rate_minor\": 5000, \"currency\": \"USD\", \"start_date\": "
                   "\"2026-01-01\"}}", i, who[i]);
        CHECK (r);
        snprintf (ids[i], PM_ID_MAX, "%s", itest_json_str (r, "id"));
        json_decref (r);
    }
    const char *tpl_body = "{\"template\": {\"site_id\": \"north\", \"role\": \"%s\", "
                           "\"name\": \"%s\", \"starts\": \"%s\", \"ends\": \"%s\"}}";
    r = itest_req (sc, 0, NULL, "staffing.CreateShiftTemplate", tpl_body, "physician", "day",
               "08:00", "16:00");
    CHECK (r);
    snprintf (tpl8, sizeof tpl8, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.CreateShiftTemplate", tpl_body, "nurse", "late",
               "12:00", "20:00");
    CHECK (r);
    snprintf (tpl12, sizeof tpl12, "%s", itest_json_str (r, "id"));
    json_decref (r);
    const char *add = "{\"template_id\": \"%s\", \"from_date\": \"%s\", \"to_date\": "
                      "\"%s\", \"staff_id\": \"%s\"}";
    r = itest_req (sc, 0, NULL, "staffing.AddShifts", add, tpl8, d1, d2, ivy);
    CHECK (r);
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.AddShifts", add, tpl12, d1, d2, oscar);
    CHECK (r);
    json_decref (r);
    //  Oscar's approved leave on d2 (it also takes him off that shift).
    r = itest_req (sc, 0, NULL, "staffing.SetLeaveType",
               "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
               "\"yearly_days\": 20}}");
    CHECK (r);
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.RequestLeave",
               "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", \"start_date\": "
               "\"%s\", \"end_date\": \"%s\"}", oscar, d2, d2);
    CHECK (r);
    char lv[PM_ID_MAX];
    snprintf (lv, sizeof lv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.ApproveLeave",
               "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}", lv, mgr);
    CHECK (r);
    json_decref (r);
    //  A DST day: Ivy works 08:00-16:00 local the day before it and on it.
    bool have_dst = s_next_dst_day (dst);
    if (have_dst) {
        char dst_ok[11];
        snprintf (dst_ok, sizeof dst_ok, "%s", dst);
        //  the day before
        int y, m, d;
        sscanf (dst_ok, "%d-%d-%d", &y, &m, &d);
        struct tm tm = {.tm_year = y - 1900, .tm_mon = m - 1, .tm_mday = d - 1,
                        .tm_hour = 12};
        time_t t = timegm (&tm);
        gmtime_r (&t, &tm);
        strftime (pre, sizeof pre, "%Y-%m-%d", &tm);
        r = itest_req (sc, 0, NULL, "staffing.AddShifts", add, tpl8, pre, dst, ivy);
        CHECK (r);
        json_decref (r);
    }

    char job[PM_ID_MAX], pst[PM_ID_MAX], app[PM_ID_MAX], cand[PM_ID_MAX];
    char app2[PM_ID_MAX], cand2[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 2, job, pst));
    CHECK (s_apply (c, pst, "Park", "lee@example.org", "5550102000", app, cand));
    CHECK (s_apply (c, pst, "Kim", "kim@example.org", "5550103000", app2, cand2));
    char panel[300], ivy_only[200], oscar_only[200];
    snprintf (panel, sizeof panel, PANEL2, ivy, oscar);
    snprintf (ivy_only, sizeof ivy_only, "[{\"staff_id\": \"%s\", \"principal\": "
              "\"dr-ivy\"}]", ivy);
    snprintf (oscar_only, sizeof oscar_only, "[{\"staff_id\": \"%s\", \"principal\": "
              "\"oscar\"}]", oscar);

    //  Slots once staffing's events are in: both rostered 12:00-16:00 on
    //  d1 (hour slots every 30 minutes: 7), Oscar on leave on d2.
    int64_t until = itest_now () + ITEST_WAIT_MS;
    long long first = 0;
    char date[11] = "", hhmm[6] = "";
    int n = -1;
    while (itest_now () < until
           && (n = s_slots (c, app, panel, d1, d2, &first, date, hhmm)) != 7) {
        zclock_sleep (20);
    }
    CHECK (n == 7 && strcmp (date, d1) == 0 && strcmp (hhmm, "12:00") == 0);
    CHECK (s_slots (c, app, oscar_only, d2, d2, NULL, NULL, NULL) == 0);
    CHECK (s_slots (c, app, ivy_only, d2, d2, NULL, NULL, hhmm) == 15
           && strcmp (hhmm, "08:00") == 0);
    if (have_dst) {
        //  The same local 08:00 on both days: 23 hours apart in UTC.
        long long a = 0, b = 0;
        char ha[6] = "", hb[6] = "";
        CHECK (s_slots (c, app, ivy_only, pre, pre, &a, NULL, ha) == 15);
        CHECK (s_slots (c, app, ivy_only, dst, dst, &b, NULL, hb) == 15);
        CHECK (strcmp (ha, "08:00") == 0 && strcmp (hb, "08:00") == 0);
        CHECK (b - a == 23LL * 3600 * 1000);
    }
    //  Bad input.
    char body[1024];
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": [], "
              "\"duration_minutes\": 60, \"from_date\": \"%s\", \"to_date\": \"%s\"}",
              app, d1, d1);
    CHECK (s_refused (c, PM_EINVAL, "panel", "1 to 8", "recruitment.ProposeInterviewSlots",
                      body));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": [{\"staff_id\": "
              "\"bob\", \"principal\": \"bob\"}], \"duration_minutes\": 60, "
              "\"from_date\": \"%s\", \"to_date\": \"%s\"}", app, d1, d1);
    CHECK (s_refused (c, PM_EINVAL, "panel[0].staff_id", "not a staff id",
                      "recruitment.ProposeInterviewSlots", body));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": %s, "
              "\"duration_minutes\": 5, \"from_date\": \"%s\", \"to_date\": \"%s\"}",
              app, ivy_only, d1, d1);
    CHECK (s_refused (c, PM_EINVAL, "duration_minutes", "15..480",
                      "recruitment.ProposeInterviewSlots", body));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": %s, "
              "\"duration_minutes\": 60, \"from_date\": \"%s\", \"to_date\": \"%s\"}",
              app, ivy_only, d2, d1);
    CHECK (s_refused (c, PM_EINVAL, "to_date", "from_date",
                      "recruitment.ProposeInterviewSlots", body));
    //  Not before the shortlist.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": %s, \"start\": "
              "%lld, \"duration_minutes\": 60}", app, panel, first);
    CHECK (s_refused (c, PM_ECONFLICT, "to", "cannot move from APPLIED",
                      "recruitment.BookInterview", body));
    CHECK (s_move (c, app, "SHORTLISTED", NULL) && s_move (c, app2, "SHORTLISTED", NULL));
    //  An instant out of range is refused, not wrapped (fuzz finding F9).
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": %s, \"start\": "
              "%lld, \"duration_minutes\": 60}", app, panel, (long long) (INT64_MAX - 1000));
    CHECK (s_refused (c, PM_EINVAL, "start", "year 10000", "recruitment.BookInterview", body));

    //  Two candidates pick overlapping slots at once: exactly one booked.
    pm_client_t *careers = itest_client_as (&rec, "careers");
    pm_client_t *rita = itest_client_as (&rec, "rita");
    uint8_t *b1 = NULL, *b2 = NULL;
    size_t l1 = s_book_body (app, panel, first, &b1);
    size_t l2 = s_book_body (app2, panel, first + 1800000, &b2);
    CHECK (l1 && l2);
    pm_client_send (careers, 0, "recruitment.BookInterview", b1, l1);
    pm_client_send (rita, 0, "recruitment.BookInterview", b2, l2);
    free (b1);
    free (b2);
    Pm__Reply *r1 = pm_client_recv (careers, ITEST_WAIT_MS);
    Pm__Reply *r2 = pm_client_recv (rita, ITEST_WAIT_MS);
    CHECK (r1 && r2);
    int ok = (r1 && r1->code == 0) + (r2 && r2->code == 0);
    CHECK (ok == 1);
    Pm__Reply *lost = r1 && r1->code != 0 ? r1 : r2;
    CHECK (lost && (int) lost->code == PM_ECONFLICT
           && strstr (lost->message, "has another interview"));
    const char *win = r1 && r1->code == 0 ? app : app2;
    const char *lose = win == app ? app2 : app;
    if (r1) {
        pm__reply__free_unpacked (r1, NULL);
    }
    if (r2) {
        pm__reply__free_unpacked (r2, NULL);
    }
    r = itest_req (c, 0, NULL, "recruitment.GetApplication", "{\"application_id\": \"%s\"}",
               win);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "INTERVIEW_SCHEDULED") == 0);
    json_decref (r);
    char itv_win[PM_ID_MAX], itv_lose[PM_ID_MAX];
    r = itest_req (c, 0, NULL, "recruitment.ListInterviews", "{\"application_id\": \"%s\"}",
               win);
    CHECK (r && json_array_size (itest_json_at (r, "interviews")) == 1);
    snprintf (itv_win, sizeof itv_win, "%s", itest_json_str (r, "interviews[0].id"));
    json_decref (r);
    //  The other takes 14:00; a second booking of one application refused.
    CHECK (s_book (careers, lose, panel, first + 2 * 3600000, itv_lose));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"panel\": %s, \"start\": "
              "%lld, \"duration_minutes\": 60}", lose, panel, first + 3 * 3600000);
    CHECK (s_refused (c, PM_ECONFLICT, "application_id", "reschedule or cancel",
                      "recruitment.BookInterview", body));
    //  Rescheduling: outside rostered hours, onto leave, no reason: refused.
    snprintf (body, sizeof body, "{\"interview_id\": \"%s\", \"start\": %lld, "
              "\"reason\": \"r\"}", itv_lose, first + 5 * 3600000);
    CHECK (s_refused (c, PM_ECONFLICT, "start", "is not rostered",
                      "recruitment.RescheduleInterview", body));
    snprintf (body, sizeof body, "{\"interview_id\": \"%s\", \"start\": %lld, "
              "\"reason\": \"r\"}", itv_lose, first + 86400000);
    CHECK (s_refused (c, PM_ECONFLICT, "start", "on leave",
                      "recruitment.RescheduleInterview", body));
    snprintf (body, sizeof body, "{\"interview_id\": \"%s\", \"start\": %lld}", itv_lose,
              first + 3 * 3600000);
    CHECK (s_refused (c, PM_EINVAL, "reason", "required", "recruitment.RescheduleInterview",
                      body));
    r = itest_req (careers, 0, NULL, "recruitment.RescheduleInterview",
               "{\"interview_id\": \"%s\", \"start\": %lld, \"reason\": \"a clash\"}",
               itv_lose, first + 3 * 3600000);
    CHECK (r && s_int (r, "start") == first + 3 * 3600000);
    CHECK (json_array_size (itest_json_at (r, "history")) == 2);
    CHECK (strcmp (itest_json_str (r, "history[1].reason"), "a clash") == 0);
    CHECK (s_int (r, "history[0].start") == first + 2 * 3600000);
    json_decref (r);
    //  Cancelled: the time is free again and booked anew.
    r = itest_req (c, 0, NULL, "recruitment.CancelInterview",
               "{\"interview_id\": \"%s\", \"reason\": \"panel changed\"}", itv_win);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INTERVIEW_CANCELLED") == 0);
    json_decref (r);
    snprintf (body, sizeof body, "{\"interview_id\": \"%s\", \"reason\": \"again\"}",
              itv_win);
    CHECK (s_refused (c, PM_ECONFLICT, "interview_id", "is INTERVIEW_CANCELLED",
                      "recruitment.CancelInterview", body));
    CHECK (s_book (careers, win, panel, first, itv_win));
    //  Not done before the scorecards; none before the interview.
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": "
              "\"INTERVIEW_DONE\"}", win);
    CHECK (s_refused (c, PM_ECONFLICT, "to", "waits for scorecards", "recruitment.Move",
                      body));
    pm_client_t *ivyc = itest_client_as (&rec, "dr-ivy");
    const char *card = "{\"interview_id\": \"%s\", \"scorecard\": {\"ratings\": "
                       "[{\"criterion\": \"clinical skills\", \"rating\": %d}, "
                       "{\"criterion\": \"communication\", \"rating\": 4}], "
                       "\"recommendation\": \"YES\", \"notes\": \"solid\"}%s}";
    snprintf (body, sizeof body, card, itv_win, 4, "");
    CHECK (s_refused (ivyc, PM_ECONFLICT, "interview_id", "has not begun",
                      "recruitment.SubmitScorecard", body));
    pm_client_destroy (&ivyc);
    pm_client_destroy (&careers);
    pm_client_destroy (&rita);
    pm_client_destroy (&c);

    //  Four days on (the service restarted with its clock moved).
    itest_signal (&rec, SIGTERM);
    rec.env[0] = "PM_CLOCK_OFFSET_MS=345600000";
    CHECK (s_start_again (&rec) == 0);
    c = itest_client (&rec);
    ivyc = itest_client_as (&rec, "dr-ivy");
    pm_client_t *osc = itest_client_as (&rec, "oscar");
    pm_client_t *zed = itest_client_as (&rec, "dr-zed");
    rita = itest_client_as (&rec, "rita");
    snprintf (body, sizeof body, card, itv_win, 6, "");
    CHECK (s_refused (ivyc, PM_EINVAL, "scorecard.ratings[0].rating", "1..5",
                      "recruitment.SubmitScorecard", body));
    snprintf (body, sizeof body, card, itv_win, 4, "");
    CHECK (s_refused (zed, PM_EFORBIDDEN, "interview_id", "not on the panel",
                      "recruitment.SubmitScorecard", body));
    r = itest_req (rita, PM_EFORBIDDEN, NULL, "recruitment.SubmitScorecard", "%s", body);
    CHECK (r);
    json_decref (r);
    r = itest_req (ivyc, 0, NULL, "recruitment.SubmitScorecard", "%s", body);
    CHECK (r && strcmp (itest_json_str (r, "scorecards[0].staff_id"), ivy) == 0);
    CHECK (s_int (r, "scorecards[0].version") == 1 && s_int (r, "scorecards[0].submitted_at") > 0);
    CHECK (strcmp (itest_json_str (r, "status"), "INTERVIEW_BOOKED") == 0);
    json_decref (r);
    CHECK (s_refused (ivyc, PM_ECONFLICT, "expected_version", "amend it",
                      "recruitment.SubmitScorecard", body));
    snprintf (body, sizeof body, card, itv_win, 5, ", \"expected_version\": 1");
    r = itest_req (ivyc, 0, NULL, "recruitment.SubmitScorecard", "%s", body);
    CHECK (r && s_int (r, "scorecards[0].version") == 2);
    CHECK (s_int (r, "scorecards[0].ratings[0].rating") == 5
           && s_int (r, "scorecards[0].amended_at") > 0);
    json_decref (r);
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"to\": "
              "\"INTERVIEW_DONE\"}", win);
    CHECK (s_refused (c, PM_ECONFLICT, "to", oscar, "recruitment.Move", body));
    snprintf (body, sizeof body, card, itv_win, 3, "");
    r = itest_req (osc, 0, NULL, "recruitment.SubmitScorecard", "%s", body);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INTERVIEW_COMPLETED") == 0);
    CHECK (s_int (r, "feedback_complete_at") > s_int (r, "end"));
    json_decref (r);
    CHECK (s_move (c, win, "INTERVIEW_DONE", NULL));
    //  The report: one interview completed, its feedback days after it.
    r = itest_req (c, 0, NULL, "recruitment.ExperienceReport", "{\"site_id\": \"north\"}");
    CHECK (r && s_int (r, "total.interviews_completed") == 1);
    CHECK (s_int (r, "total.avg_interview_to_feedback_ms") > 0
           && s_int (r, "total.avg_interview_to_feedback_ms")
                  == s_int (r, "total.max_interview_to_feedback_ms"));
    json_decref (r);
    CHECK (s_count (c, "recruitment.interview.scheduled") == 3);
    CHECK (s_count (c, "recruitment.interview.rescheduled") == 1);
    CHECK (s_count (c, "recruitment.interview.cancelled") == 1);
    CHECK (s_count (c, "recruitment.scorecard.submitted") == 3);
    //  Every scorecard is on the audit log under the candidate.
    r = itest_req (c, 0, NULL, "pm.AuditRead", "{\"max\": 1000}");
    int audited = 0;
    json_t *entries = itest_json_at (r, "entries");
    for (size_t i = 0; i < json_array_size (entries); i++) {
        json_t *e = json_array_get (entries, i);
        audited += strcmp (itest_json_str (e, "action"), "recruitment.SubmitScorecard") == 0
                   && strcmp (itest_json_str (e, "subject"), win == app ? cand : cand2) == 0;
    }
    json_decref (r);
    CHECK (audited >= 5);
    pm_client_destroy (&ivyc);
    pm_client_destroy (&osc);
    pm_client_destroy (&zed);
    pm_client_destroy (&rita);
    pm_client_destroy (&sc);
    pm_client_destroy (&c);
    itest_cleanup (&rec);
    itest_cleanup (&stf);
}

//  --- service levels, messages, surveys, privacy -------------------------------

//  Logs a message on `app` (direction, channel, template or text); its id
//  into out (may be NULL). True when logged.
static bool
s_msg (pm_client_t *c, const char *app, const char *dir, const char *tmpl,
       const char *text, char *out)
{
    char body[1024];
    snprintf (body, sizeof body,
              "{\"message\": {\"application_id\": \"%s\", \"direction\": \"%s\", "
              "\"channel\": \"email\"%s%s%s%s%s%s}}", app, dir,
              tmpl ? ", \"template\": \"" : "", tmpl ? tmpl : "", tmpl ? "\"" : "",
              text ? ", \"text\": \"" : "", text ? text : "", text ? "\"" : "");
    json_t *r = itest_req (c, 0, NULL, "recruitment.LogMessage", "%s", body);
    if (r && out) {
        snprintf (out, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    bool ok = r && pm_id_valid (itest_json_str (r, "id"), "msg");
    json_decref (r);
    return ok;
}

//  Waits (bounded) until the site has `want` breaches; their list.
static json_t *
s_breaches (pm_client_t *c, const char *site, size_t want)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    json_t *r = NULL;
    while (itest_now () < until) {
        json_decref (r);
        r = itest_req (c, 0, NULL, "recruitment.ListBreaches", "{\"site_id\": \"%s\"}", site);
        if (r && json_array_size (itest_json_at (r, "breaches")) >= want) {
            break;
        }
        zclock_sleep (20);
    }
    return r;
}

//  A practice manager of the site sets its promises; the timer finds each
//  broken one once, also after the clock moved while the service was
//  down: an application nobody answered (acknowledge), a candidate's
//  message nobody answered (answer), no decision after the interview
//  (decide). A message to the candidate acknowledges them and answers
//  theirs. Breaches are listed per site and counted in the report, per
//  requisition and recruiter. Bad input and other sites refused.
static void
s_test_service_levels (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    svc.env[0] = "PM_RECRUITMENT_TICK_MS=50";
    CHECK (itest_start (&svc) == 0);
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("hana", "hiring-manager", "north");
    itest_principal ("pm-north", "practice-manager", "north");
    itest_principal ("pm-east", "practice-manager", "east");
    itest_principal ("eve", "recruiter", "east");
    pm_client_t *c = itest_client (&svc);
    pm_client_t *rita = itest_client_as (&svc, "rita");
    pm_client_t *hana = itest_client_as (&svc, "hana");
    pm_client_t *pmn = itest_client_as (&svc, "pm-north");
    pm_client_t *pme = itest_client_as (&svc, "pm-east");
    const char *levels = "{\"levels\": {\"site_id\": \"north\", \"acknowledge_hours\": 1, "
                         "\"decide_days\": 1, \"answer_hours\": 2}}";
    //  Only a practice manager of the site; limits bounded.
    json_t *r = itest_req (rita, PM_EFORBIDDEN, NULL, "recruitment.SetServiceLevels", "%s",
                       levels);
    CHECK (r);
    json_decref (r);
    CHECK (s_refused (pme, PM_EFORBIDDEN, "levels.site_id", "site north",
                      "recruitment.SetServiceLevels", levels));
    CHECK (s_refused (pmn, PM_EINVAL, "levels.acknowledge_hours", "more than 720",
                      "recruitment.SetServiceLevels",
                      "{\"levels\": {\"site_id\": \"north\", \"acknowledge_hours\": 721}}"));
    r = itest_req (pmn, 0, NULL, "recruitment.SetServiceLevels", "%s", levels);
    CHECK (r && s_int (r, "version") == 1 && strcmp (itest_json_str (r, "updated_by"), "pm-north") == 0);
    json_decref (r);
    CHECK (s_refused (pmn, PM_EINVAL, "expected_version", "required",
                      "recruitment.SetServiceLevels", levels));
    r = itest_req (rita, 0, NULL, "recruitment.GetServiceLevels", "{\"site_id\": \"north\"}");
    CHECK (r && s_int (r, "acknowledge_hours") == 1 && s_int (r, "decide_days") == 1);
    json_decref (r);
    //  Three applications: one left waiting with an unanswered message,
    //  one acknowledged by a message whose reply answers theirs, one
    //  interviewed and left undecided.
    char job[PM_ID_MAX], pst[PM_ID_MAX], cand[PM_ID_MAX];
    char app1[PM_ID_MAX], app2[PM_ID_MAX], app3[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 2, job, pst));
    CHECK (s_apply (c, pst, "Park", "lee@example.org", "5550102000", app1, cand));
    CHECK (s_apply (c, pst, "Kim", "kim@example.org", "5550103000", app2, cand));
    CHECK (s_apply (c, pst, "Ng", "ng@example.org", "5550104000", app3, cand));
    char in1[PM_ID_MAX], in2[PM_ID_MAX], out2[PM_ID_MAX];
    CHECK (s_msg (rita, app1, "INBOUND", NULL, "Any news?", in1));
    CHECK (s_msg (rita, app2, "INBOUND", NULL, "Is the post part time?", in2));
    CHECK (s_msg (hana, app2, "OUTBOUND", "ack-application", "Yes, 60%.", out2));
    CHECK (s_to_interviewed (c, app3));
    //  Bad messages.
    char body[1024];
    snprintf (body, sizeof body, "{\"message\": {\"application_id\": \"%s\", \"direction\": "
              "\"INBOUND\", \"channel\": \"email\", \"template\": \"x\", \"text\": \"t\"}}",
              app1);
    CHECK (s_refused (rita, PM_EINVAL, "message.template", "no template",
                      "recruitment.LogMessage", body));
    snprintf (body, sizeof body, "{\"message\": {\"application_id\": \"%s\", \"direction\": "
              "\"OUTBOUND\", \"channel\": \"email\"}}", app1);
    CHECK (s_refused (rita, PM_EINVAL, "message.text", "required", "recruitment.LogMessage",
                      body));
    snprintf (body, sizeof body, "{\"message\": {\"application_id\": \"%s\", \"direction\": "
              "\"OUTBOUND\", \"channel\": \"E Mail\", \"text\": \"t\"}}", app1);
    CHECK (s_refused (rita, PM_EINVAL, "message.channel", "is not 1 to 32",
                      "recruitment.LogMessage", body));
    snprintf (body, sizeof body, "{\"message\": {\"application_id\": \"%s\", \"direction\": "
              "\"OUTBOUND\", \"channel\": \"email\", \"text\": \"t\", \"at\": %lld}}", app1,
              (long long) pm_clock_wall_ms () + 3600000);
    CHECK (s_refused (rita, PM_EINVAL, "message.at", "and now", "recruitment.LogMessage",
                      body));
    snprintf (body, sizeof body, "{\"message\": {\"application_id\": \"%s\", \"direction\": "
              "\"INBOUND\", \"channel\": \"email\", \"text\": \"t\"}}", app1);
    CHECK (s_refused (hana, PM_EFORBIDDEN, "message.direction", "OUTBOUND messages only",
                      "recruitment.LogMessage", body));
    pm_client_t *eve = itest_client_as (&svc, "eve");
    CHECK (s_refused (eve, PM_EFORBIDDEN, "message.application_id", "site north",
                      "recruitment.LogMessage", body));
    //  The reply answered theirs.
    r = itest_req (rita, 0, NULL, "recruitment.ListMessages", "{\"application_id\": \"%s\"}",
               app2);
    CHECK (r && json_array_size (itest_json_at (r, "messages")) == 2);
    CHECK (strcmp (itest_json_str (r, "messages[0].answered_by"), out2) == 0);
    CHECK (s_int (r, "messages[0].answered_at") > 0);
    CHECK (strcmp (itest_json_str (r, "messages[1].template"), "ack-application") == 0);
    CHECK (strcmp (itest_json_str (r, "messages[1].recorded_by"), "hana") == 0);
    json_decref (r);
    CHECK (s_count (c, "recruitment.message.answered") == 1);
    //  Nothing is late yet.
    zclock_sleep (150);
    CHECK (s_count (c, "recruitment.sla.breached") == 0);
    //  Three hours on: the waiting application and its message.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    svc.env[1] = "PM_CLOCK_OFFSET_MS=10800000";
    CHECK (s_start_again (&svc) == 0);
    c = itest_client (&svc);
    r = s_breaches (c, "north", 2);
    CHECK (r && json_array_size (itest_json_at (r, "breaches")) == 2);
    bool ack = false, answer = false;
    for (size_t i = 0; r && i < json_array_size (itest_json_at (r, "breaches")); i++) {
        json_t *b = json_array_get (itest_json_at (r, "breaches"), i);
        ack |= strcmp (itest_json_str (b, "kind"), "ACKNOWLEDGE") == 0
               && strcmp (itest_json_str (b, "application_id"), app1) == 0
               && s_int (b, "due_at") == s_int (b, "started_at") + 3600000
               && s_int (b, "limit_hours") == 1;
        answer |= strcmp (itest_json_str (b, "kind"), "ANSWER") == 0
                  && strcmp (itest_json_str (b, "message_id"), in1) == 0
                  && strcmp (itest_json_str (b, "recruiter"), "admin") == 0;
    }
    CHECK (ack && answer);
    json_decref (r);
    //  Twenty-six hours on: no decision after the interview; nothing twice.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    svc.env[1] = "PM_CLOCK_OFFSET_MS=93600000";
    CHECK (s_start_again (&svc) == 0);
    c = itest_client (&svc);
    r = s_breaches (c, "north", 3);
    CHECK (r && json_array_size (itest_json_at (r, "breaches")) == 3);
    CHECK (strcmp (itest_json_str (r, "breaches[2].kind"), "DECIDE") == 0);
    CHECK (strcmp (itest_json_str (r, "breaches[2].application_id"), app3) == 0);
    json_decref (r);
    zclock_sleep (200);
    CHECK (s_count (c, "recruitment.sla.breached") == 3);
    r = itest_req (c, 0, NULL, "recruitment.ListBreaches",
               "{\"site_id\": \"north\", \"kind\": \"DECIDE\"}");
    CHECK (r && json_array_size (itest_json_at (r, "breaches")) == 1);
    json_decref (r);
    CHECK (s_refused (c, PM_EINVAL, "to", "after from", "recruitment.ListBreaches",
                      "{\"site_id\": \"north\", \"from\": 10, \"to\": 5}"));
    CHECK (s_refused (eve, PM_EFORBIDDEN, "site_id", "site north",
                      "recruitment.ListBreaches", "{\"site_id\": \"north\"}"));
    //  In the report: per requisition, in total, per recruiter.
    r = itest_req (c, 0, NULL, "recruitment.ExperienceReport", "{\"site_id\": \"north\"}");
    CHECK (r && s_int (r, "total.breaches") == 3);
    CHECK (s_int (r, "total.acknowledge_breaches") == 1 && s_int (r, "total.decide_breaches") == 1
           && s_int (r, "total.answer_breaches") == 1);
    CHECK (s_int (r, "requisitions[0].breaches") == 3);
    CHECK (strcmp (itest_json_str (r, "recruiters[0].recruiter"), "admin") == 0);
    CHECK (s_int (r, "recruiters[0].metrics.breaches") == 3);
    CHECK (s_int (r, "recruiters[0].metrics.applications") == 3);
    CHECK (s_int (r, "total.sources[0].applications") == 3
           && s_int (r, "total.sources[0].reached_interview") == 1);
    json_decref (r);
    pm_client_destroy (&eve);
    pm_client_destroy (&c);
    pm_client_destroy (&rita);
    pm_client_destroy (&hana);
    pm_client_destroy (&pmn);
    pm_client_destroy (&pme);
    itest_cleanup (&svc);
}

//  The report's figures without the moment it was made.
static char *
s_figures (pm_client_t *c)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.ExperienceReport", "{\"site_id\": \"north\"}");
    if (!r) {
        return NULL;
    }
    json_object_del (r, "generated_at");
    char *text = json_dumps (r, JSON_SORT_KEYS | JSON_COMPACT);
    json_decref (r);
    return text;
}

//  After each process the candidate answers a survey once (NPS in the
//  report, per requisition and recruiter). Consent and retention are kept
//  per candidate. Erasure on request (no open process) removes names,
//  contact, CV, referrer, reasons, message texts and survey comments,
//  leaves every figure of the report as it was, is an event, and a new
//  application with the same e-mail is a new person. When a candidate's
//  retention ends (the site's default, the clock moved on) the timer
//  erases them; one with an open process is kept.
static void
s_test_surveys_and_privacy (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    svc.env[0] = "PM_RECRUITMENT_TICK_MS=50";
    CHECK (itest_start (&svc) == 0);
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("eve", "recruiter", "east");
    itest_principal ("pm-north", "practice-manager", "north");
    pm_client_t *c = itest_client (&svc);
    pm_client_t *rita = itest_client_as (&svc, "rita");
    pm_client_t *eve = itest_client_as (&svc, "eve");
    pm_client_t *pmn = itest_client_as (&svc, "pm-north");
    json_t *r = itest_req (pmn, 0, NULL, "recruitment.SetServiceLevels",
                       "{\"levels\": {\"site_id\": \"north\", \"retention_days\": 2}}");
    CHECK (r);
    json_decref (r);
    char job[PM_ID_MAX], pst[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 3, job, pst));
    //  Park applies with consent, referred by someone.
    r = itest_req (c, 0, NULL, "recruitment.Apply",
               "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Park\", "
               "\"given_names\": [\"Lee\"], \"email\": \"lee@example.org\", \"phone\": "
               "\"5550102000\", \"cv_ref\": \"doc://cv/9\"}, \"source\": \"REFERRAL\", "
               "\"referrer\": \"Dr Ng\", \"consent\": {\"data_processing\": true, "
               "\"talent_pool\": true}}", pst);
    CHECK (r && itest_json_at (r, "candidate.consent.talent_pool") == json_true ());
    CHECK (strcmp (itest_json_str (r, "candidate.consent.recorded_by"), "admin") == 0);
    char app[PM_ID_MAX], cand[PM_ID_MAX], app2[PM_ID_MAX], cand2[PM_ID_MAX];
    char app3[PM_ID_MAX], cand3[PM_ID_MAX];
    snprintf (app, sizeof app, "%s", itest_json_str (r, "application.id"));
    snprintf (cand, sizeof cand, "%s", itest_json_str (r, "candidate.id"));
    json_decref (r);
    CHECK (s_apply (c, pst, "Kim", "kim@example.org", "5550103000", app2, cand2));
    CHECK (s_apply (c, pst, "Ng", "ng@example.org", "5550104000", app3, cand3));
    CHECK (s_msg (rita, app, "INBOUND", NULL, "My new number is 555 0199", NULL));
    //  No survey while the process runs; bad scores.
    char body[512];
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"score\": 9}", app);
    CHECK (s_refused (c, PM_ECONFLICT, "application_id", "follows the end",
                      "recruitment.SubmitSurvey", body));
    CHECK (s_move (c, app, "REJECTED", "not enough experience"));
    CHECK (s_move (c, app2, "WITHDRAWN", "took another job"));
    CHECK (s_move (c, app3, "SCREENING", NULL));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"score\": 11}", app);
    CHECK (s_refused (c, PM_EINVAL, "score", "0..10", "recruitment.SubmitSurvey", body));
    snprintf (body, sizeof body, "{\"application_id\": \"%s\"}", app);
    CHECK (s_refused (c, PM_EINVAL, "score", "required", "recruitment.SubmitSurvey", body));
    r = itest_req (c, 0, NULL, "recruitment.SubmitSurvey",
               "{\"application_id\": \"%s\", \"score\": 10, \"comment\": \"Kind and "
               "quick, thank you Lee Park\"}", app);
    CHECK (r && strcmp (itest_json_str (r, "outcome"), "REJECTED") == 0 && s_int (r, "score") == 10);
    json_decref (r);
    snprintf (body, sizeof body, "{\"application_id\": \"%s\", \"score\": 1}", app);
    CHECK (s_refused (c, PM_ECONFLICT, "application_id", "answered already",
                      "recruitment.SubmitSurvey", body));
    r = itest_req (c, 0, NULL, "recruitment.SubmitSurvey",
               "{\"application_id\": \"%s\", \"score\": 3}", app2);
    CHECK (r);
    json_decref (r);
    //  NPS: one promoter, one detractor of two.
    r = itest_req (c, 0, NULL, "recruitment.ExperienceReport", "{\"site_id\": \"north\"}");
    CHECK (r && s_int (r, "total.surveys") == 2 && s_int (r, "total.promoters") == 1);
    CHECK (s_int (r, "total.detractors") == 1 && s_int (r, "total.nps_permille") == 0);
    CHECK (s_int (r, "requisitions[0].surveys") == 2);
    CHECK (s_int (r, "recruiters[0].metrics.surveys") == 2);
    json_decref (r);
    CHECK (s_count (c, "recruitment.survey.submitted") == 2);
    //  Retention: the ended processes count from their end (2 days, the
    //  site's default); Ng's is open.
    r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}", cand2);
    CHECK (r && s_int (r, "retain_until") > (long long) pm_clock_wall_ms () + 86400000LL);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}", cand3);
    CHECK (r && s_int (r, "retain_until") == 0);
    json_decref (r);
    //  Privacy settings: bad input, other sites.
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\", \"retention_days\": 0}", cand2);
    CHECK (s_refused (rita, PM_EINVAL, "retention_days", "1..3650",
                      "recruitment.SetCandidatePrivacy", body));
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\"}", cand2);
    CHECK (s_refused (rita, PM_EINVAL, "consent", "is required",
                      "recruitment.SetCandidatePrivacy", body));
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\", \"retention_days\": 30}", cand3);
    CHECK (s_refused (eve, PM_EFORBIDDEN, "candidate_id", "none of the sites",
                      "recruitment.SetCandidatePrivacy", body));
    r = itest_req (rita, 0, NULL, "recruitment.SetCandidatePrivacy", "%s", body);
    CHECK (r && s_int (r, "retention_days") == 30);
    json_decref (r);
    //  Erasure on request: not with a process open, not without a reason.
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\", \"reason\": \"asked\"}", cand3);
    CHECK (s_refused (rita, PM_ECONFLICT, "candidate_id", "still open",
                      "recruitment.EraseCandidate", body));
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\"}", cand);
    CHECK (s_refused (rita, PM_EINVAL, "reason", "required", "recruitment.EraseCandidate",
                      body));
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\", \"reason\": \"asked by "
              "e-mail\"}", cand);
    CHECK (s_refused (eve, PM_EFORBIDDEN, "candidate_id", "none of the sites",
                      "recruitment.EraseCandidate", body));
    char *before = s_figures (c);
    r = itest_req (rita, 0, NULL, "recruitment.EraseCandidate", "%s", body);
    CHECK (r && s_int (r, "erased_at") > 0 && strcmp (itest_json_str (r, "erased_by"), "rita") == 0);
    CHECK (!itest_json_at (r, "family_name") && !itest_json_at (r, "email") && !itest_json_at (r, "cv_ref"));
    CHECK (json_array_size (itest_json_at (r, "given_names")) == 0);
    json_decref (r);
    char *after = s_figures (c);
    CHECK (before && after && strcmp (before, after) == 0);
    free (before);
    free (after);
    CHECK (s_refused (rita, PM_ECONFLICT, "candidate_id", "erased already",
                      "recruitment.EraseCandidate", body));
    CHECK (s_count (c, "recruitment.candidate.erased") == 1);
    r = itest_req (c, 0, NULL, "recruitment.GetApplication", "{\"application_id\": \"%s\"}", app);
    CHECK (r && !itest_json_at (r, "referrer") && !itest_json_at (r, "history[1].reason"));
    CHECK (strcmp (itest_json_str (r, "history[1].to"), "REJECTED") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.ListMessages", "{\"application_id\": \"%s\"}", app);
    CHECK (r && !itest_json_at (r, "messages[0].text") && itest_json_at (r, "messages[0].erased") == json_true ());
    CHECK (strcmp (itest_json_str (r, "messages[0].direction"), "INBOUND") == 0);
    json_decref (r);
    //  The same e-mail again is a new person.
    char app4[PM_ID_MAX], cand4[PM_ID_MAX];
    r = itest_req (c, 0, NULL, "recruitment.Apply",
               "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Park\", "
               "\"given_names\": [\"Lee\"], \"email\": \"LEE@example.org\"}, \"source\": "
               "\"WALK_IN\"}", pst);
    CHECK (r && itest_json_at (r, "duplicate") != json_true ());
    snprintf (app4, sizeof app4, "%s", itest_json_str (r, "application.id"));
    snprintf (cand4, sizeof cand4, "%s", itest_json_str (r, "candidate.id"));
    CHECK (strcmp (cand4, cand) != 0);
    json_decref (r);
    //  Three days on: Kim's retention (2 days after withdrawing) ended; Ng
    //  and the new Park have open processes.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    svc.env[1] = "PM_CLOCK_OFFSET_MS=259200000";
    CHECK (s_start_again (&svc) == 0);
    c = itest_client (&svc);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    bool erased = false;
    while (!erased && itest_now () < until) {
        r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}",
                   cand2);
        erased = r && s_int (r, "erased_at") > 0;
        if (erased) {
            CHECK (strcmp (itest_json_str (r, "erase_reason"), "retention ended") == 0);
            CHECK (!itest_json_at (r, "family_name") && !itest_json_at (r, "phone"));
        }
        json_decref (r);
        zclock_sleep (20);
    }
    CHECK (erased);
    zclock_sleep (150);
    r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}", cand3);
    CHECK (r && s_int (r, "erased_at") == 0 && strcmp (itest_json_str (r, "family_name"), "Ng") == 0);
    json_decref (r);
    CHECK (s_count (c, "recruitment.candidate.erased") == 2);
    //  Kim's survey score still counts; her phone matches no one now.
    r = itest_req (c, 0, NULL, "recruitment.ExperienceReport", "{\"site_id\": \"north\"}");
    CHECK (r && s_int (r, "total.surveys") == 2 && s_int (r, "total.detractors") == 1);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.Apply",
               "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Kim\", "
               "\"given_names\": [\"Jo\"], \"phone\": \"555 010 3000\"}, \"source\": "
               "\"WALK_IN\"}", pst);
    CHECK (r && itest_json_at (r, "duplicate") != json_true ());
    json_decref (r);
    (void) app4;
    pm_client_destroy (&c);
    pm_client_destroy (&rita);
    pm_client_destroy (&eve);
    pm_client_destroy (&pmn);
    itest_cleanup (&svc);
}

//  --- the older events of an erased candidate ----------------------------------

//  The stream as read now: its events and how many (free with s_events_free).
typedef struct {
    Pm__Event **ev;
    long n;
} s_events_t;

static s_events_t
s_events (pm_client_t *c)
{
    s_events_t e = {NULL, 0};
    e.n = itest_read_stream (c, &e.ev);
    return e;
}

static void
s_events_free (s_events_t *e)
{
    for (long i = 0; i < e->n; i++) {
        pm__event__free_unpacked (e->ev[i], NULL);
    }
    free (e->n >= 0 ? e->ev : NULL);
    e->ev = NULL;
    e->n = 0;
}

//  True when event i's data holds `needle`.
static bool
s_says (const s_events_t *e, long i, const char *needle)
{
    return e->ev[i]->data.len
           && memmem (e->ev[i]->data.data, e->ev[i]->data.len, needle, strlen (needle));
}

//  The first of `needles` (NULL-terminated) that an event's data from seq
//  `from` on still holds, or NULL.
static const char *
s_stream_says (pm_client_t *c, uint64_t from, const char *const *needles)
{
    s_events_t e = s_events (c);
    const char *found = e.n < 0 ? "(no stream)" : NULL;
    for (long i = 0; i < e.n && !found; i++) {
        for (size_t k = 0; e.ev[i]->seq >= from && needles[k] && !found; k++) {
            found = s_says (&e, i, needles[k]) ? needles[k] : NULL;
        }
    }
    s_events_free (&e);
    return found;
}

//  The service's high seq.
static uint64_t
s_high_seq (pm_client_t *c)
{
    Pm__Health *h = itest_health (c);
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  Waits (bounded) until the stream has `want` events of `type`.
static bool
s_wait_count (pm_client_t *c, const char *type, int want)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (s_count (c, type) < want && itest_now () < until) {
        zclock_sleep (20);
    }
    return s_count (c, type) == want;
}

//  The completion event of `cand`'s rewriting among e's events, unpacked
//  (caller frees), its index into *at.
static Pm__Recruitment__CandidateEventRedaction *
s_redaction_of (const s_events_t *e, const char *cand, long *at)
{
    for (long i = 0; i < e->n; i++) {
        if (strcmp (e->ev[i]->type, "recruitment.candidate.events_redacted") == 0
            && strcmp (e->ev[i]->subject, cand) == 0) {
            *at = i;
            return pm__recruitment__candidate_event_redaction__unpack (
                NULL, e->ev[i]->data.len, e->ev[i]->data.data);
        }
    }
    return NULL;
}

//  A candidate erased on request (an application with a referrer and
//  reasons, a rescheduled interview with scorecard and rating notes, a
//  message, a survey comment) and one erased by the retention timer: each
//  erasure starts a job that rewrites the older events carrying their
//  data. With PM_RECRUITMENT_REDACT_EVERY_MS an hour no pass runs: the old
//  events still name them, the new ones do not. Restarted with passes of
//  3 events every 20 ms, the stored jobs go on and end with
//  recruitment.candidate.events_redacted each: nothing in the stream
//  names either person, every seq, type and subject is where it was, the
//  jobs counted exactly the events they changed, and every event of a
//  third candidate (and all the rest) is byte for byte as it was.
static void
s_test_erasure_rewrites_events (void)
{
    itest_svc_t stf, rec;
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&rec, "recruitment", "pm-recruitment");
    rec.env[0] = "PM_RECRUITMENT_TICK_MS=50";
    rec.env[1] = "PM_RECRUITMENT_REDACT_EVERY_MS=3600000"; //  no pass yet
    CHECK (itest_start (&stf) == 0);
    itest_point_at (&rec, &stf);
    CHECK (itest_start (&rec) == 0);
    itest_principal ("dr-ivy", "clinician", "north");
    pm_client_t *sc = itest_client (&stf);
    pm_client_t *c = itest_client (&rec);
    //  One interviewer rostered 08:00-16:00 (New York) three days on.
    char d1[11], hours[600] = "";
    s_day (3, d1);
    for (int wd = 1; wd <= 7; wd++) {
        snprintf (hours + strlen (hours), sizeof hours - strlen (hours),
                  "%s{\"weekday\": %d, \"opens\": \"07:00\", \"closes\": \"21:00\"}",
                  wd > 1 ? ", " : "", wd);
    }
    json_t *r = itest_req (sc, 0, NULL, "staffing.CreateSite",
                           "{\"site\": {\"id\": \"north\", \"name\": \"Clinic north\", "
                           "\"time_zone\": \"America/New_York\", \"currency\": \"USD\", "
                           "\"opening_hours\": [%s]}}", hours);
    CHECK (r);
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.Onboard",
                   "{\"staff\": {\"name\": {\"family\": \"Ivy\", \"given\": [\"Jo\"]}, "
                   "\"roles\": [\"physician\"], \"sites\": [{\"site_id\": \"north\", "
                   "\"fte_permille\": 1000}], \"employment_type\": \"FULL_TIME\", "
                   "\"pay_rate_minor\": 5000, \"currency\": \"USD\", \"start_date\": "
                   "\"2026-01-01\"}}");
    CHECK (r);
    char ivy[PM_ID_MAX], tpl[PM_ID_MAX];
    snprintf (ivy, sizeof ivy, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.CreateShiftTemplate",
                   "{\"template\": {\"site_id\": \"north\", \"role\": \"physician\", "
                   "\"name\": \"day\", \"starts\": \"08:00\", \"ends\": \"16:00\"}}");
    CHECK (r);
    snprintf (tpl, sizeof tpl, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (sc, 0, NULL, "staffing.AddShifts",
                   "{\"template_id\": \"%s\", \"from_date\": \"%s\", \"to_date\": \"%s\", "
                   "\"staff_id\": \"%s\"}", tpl, d1, d1, ivy);
    CHECK (r);
    json_decref (r);

    //  Zubrowski (referred), Kimura and Okonkwo apply.
    char job[PM_ID_MAX], pst[PM_ID_MAX];
    char zapp[PM_ID_MAX], zub[PM_ID_MAX], kapp[PM_ID_MAX], kim[PM_ID_MAX];
    char oapp[PM_ID_MAX], oko[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 3, job, pst));
    r = itest_req (c, 0, NULL, "recruitment.Apply",
                   "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": "
                   "\"Zubrowski\", \"given_names\": [\"Lee\"], \"email\": "
                   "\"zub@example.org\", \"phone\": \"5550102999\", \"cv_ref\": "
                   "\"doc://cv/zub\"}, \"source\": \"REFERRAL\", \"referrer\": "
                   "\"Dr Quillfeather\", \"consent\": {\"data_processing\": true}}", pst);
    CHECK (r);
    snprintf (zapp, sizeof zapp, "%s", itest_json_str (r, "application.id"));
    snprintf (zub, sizeof zub, "%s", itest_json_str (r, "candidate.id"));
    json_decref (r);
    CHECK (s_apply (c, pst, "Kimura", "kimura@example.org", "5550103999", kapp, kim));
    CHECK (s_apply (c, pst, "Okonkwo", "okonkwo@example.org", "5550104999", oapp, oko));
    CHECK (s_msg (c, zapp, "INBOUND", NULL, "zb-msg: call me after six", NULL));
    CHECK (s_msg (c, kapp, "INBOUND", NULL, "km-msg: is there parking", NULL));
    CHECK (s_msg (c, oapp, "INBOUND", NULL, "ok-msg: what are the hours", NULL));
    CHECK (s_move (c, oapp, "SCREENING", NULL));
    //  Kimura keeps their data one day after withdrawing.
    r = itest_req (c, 0, NULL, "recruitment.SetCandidatePrivacy",
                   "{\"candidate_id\": \"%s\", \"retention_days\": 1}", kim);
    CHECK (r);
    json_decref (r);
    CHECK (s_move (c, kapp, "WITHDRAWN", "km-reason: took another job"));
    //  Zubrowski's interview, booked once staffing's roster is in, then moved.
    CHECK (s_move (c, zapp, "SHORTLISTED", NULL));
    char panel[200], itv[PM_ID_MAX];
    snprintf (panel, sizeof panel, "[{\"staff_id\": \"%s\", \"principal\": \"dr-ivy\"}]",
              ivy);
    long long first = 0;
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until && s_slots (c, zapp, panel, d1, d1, &first, NULL, NULL) < 2) {
        zclock_sleep (20);
    }
    CHECK (first > 0 && s_book (c, zapp, panel, first, itv));
    r = itest_req (c, 0, NULL, "recruitment.RescheduleInterview",
                   "{\"interview_id\": \"%s\", \"start\": %lld, \"reason\": \"zb-reason: "
                   "train late\"}", itv, first + 3600000);
    CHECK (r);
    json_decref (r);
    pm_client_destroy (&c);

    //  Four days on: Kimura's retention ended (the timer erases them), the
    //  interview took place.
    itest_signal (&rec, SIGTERM);
    rec.env[2] = "PM_CLOCK_OFFSET_MS=345600000";
    CHECK (s_start_again (&rec) == 0);
    c = itest_client (&rec);
    until = itest_now () + ITEST_WAIT_MS;
    bool erased = false;
    while (!erased && itest_now () < until) {
        r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}",
                       kim);
        erased = r && s_int (r, "erased_at") > 0;
        json_decref (r);
        zclock_sleep (20);
    }
    CHECK (erased);
    pm_client_t *ivyc = itest_client_as (&rec, "dr-ivy");
    r = itest_req (ivyc, 0, NULL, "recruitment.SubmitScorecard",
                   "{\"interview_id\": \"%s\", \"scorecard\": {\"ratings\": "
                   "[{\"criterion\": \"triage\", \"rating\": 4, \"notes\": \"zb-rating: "
                   "calm\"}], \"recommendation\": \"NO\", \"notes\": \"zb-card: not yet\"}}",
                   itv);
    CHECK (r && strcmp (itest_json_str (r, "status"), "INTERVIEW_COMPLETED") == 0);
    json_decref (r);
    pm_client_destroy (&ivyc);
    CHECK (s_move (c, zapp, "INTERVIEW_DONE", NULL));
    CHECK (s_move (c, zapp, "REJECTED", "zb-reason: needs ICU years"));
    r = itest_req (c, 0, NULL, "recruitment.SubmitSurvey",
                   "{\"application_id\": \"%s\", \"score\": 8, \"comment\": \"zb-survey: "
                   "fair\"}", zapp);
    CHECK (r);
    json_decref (r);
    uint64_t seq_before = s_high_seq (c);
    r = itest_req (c, 0, NULL, "recruitment.EraseCandidate",
                   "{\"candidate_id\": \"%s\", \"reason\": \"asked\"}", zub);
    CHECK (r && s_int (r, "erased_at") > 0);
    json_decref (r);
    const char *zb[] = {"Zubrowski", "zub@example", "5550102999", "doc://cv/zub",
                        "Quillfeather", "zb-", NULL};
    const char *km[] = {"Kimura", "kimura@example", "5550103999", "km-", NULL};
    const char *ok[] = {"Okonkwo", "okonkwo@example", "5550104999", "ok-msg", NULL};
    //  No pass yet: what came after the erasure carries nothing of theirs,
    //  the older events still do.
    CHECK (!s_stream_says (c, seq_before + 1, zb));
    CHECK (s_stream_says (c, 1, zb) && s_stream_says (c, 1, km));
    CHECK (s_count (c, "recruitment.candidate.erased") == 2);
    CHECK (s_count (c, "recruitment.candidate.events_redacted") == 0);
    s_events_t was = s_events (c);
    CHECK (was.n > 20);
    pm_client_destroy (&c);

    //  Restarted with passes of 3 events every 20 ms.
    itest_signal (&rec, SIGTERM);
    rec.env[1] = "PM_RECRUITMENT_REDACT_EVERY_MS=20";
    rec.env[3] = "PM_RECRUITMENT_REDACT_PER_PASS=3";
    CHECK (s_start_again (&rec) == 0);
    c = itest_client (&rec);
    CHECK (s_wait_count (c, "recruitment.candidate.events_redacted", 2));
    const char *left = s_stream_says (c, 1, zb);
    left = left ? left : s_stream_says (c, 1, km);
    if (left) {
        fprintf (stderr, "    the stream still says \"%s\"\n", left);
    }
    CHECK (!left);
    CHECK (s_stream_says (c, 1, ok)); //  the third candidate's stay
    s_events_t now = s_events (c);
    CHECK (now.n == was.n + 2);
    long zat = -1, kat = -1;
    Pm__Recruitment__CandidateEventRedaction *zj = s_redaction_of (&now, zub, &zat);
    Pm__Recruitment__CandidateEventRedaction *kj = s_redaction_of (&now, kim, &kat);
    CHECK (zj && kj && zat >= was.n && kat >= was.n);
    CHECK (zj && strcmp (now.ev[zat]->site_id, "north") == 0 && zj->completed_at >= zj->erased_at);
    //  Every event before them looked at; the changed ones are theirs.
    uint64_t changed_z = 0, changed_k = 0;
    for (long i = 0; i < was.n && i < now.n; i++) {
        Pm__Event *a = was.ev[i], *b = now.ev[i];
        CHECK (a->seq == b->seq && strcmp (a->type, b->type) == 0);
        CHECK (strcmp (a->subject ? a->subject : "", b->subject ? b->subject : "") == 0);
        bool same = a->data.len == b->data.len
                    && memcmp (a->data.data, b->data.data, a->data.len) == 0;
        if (!same && s_says (&was, i, zub)) {
            changed_z++;
        }
        else if (!same && s_says (&was, i, kim)) {
            changed_k++;
        }
        else if (!same) {
            fprintf (stderr, "    event %llu (%s) changed\n", (unsigned long long) a->seq,
                     a->type);
            CHECK (false);
        }
    }
    //  Zubrowski: registered, updated, received and 4 moves (the referrer),
    //  message, the interview rescheduled and scored, survey (its booking
    //  carried nothing of theirs); Kimura: registered, updated twice
    //  (retention set, clock started), withdrawn, message (received
    //  carried no referrer).
    CHECK (changed_z == 11 && changed_k == 5);
    CHECK (zj && zj->events_redacted == changed_z && kj && kj->events_redacted == changed_k);
    CHECK (zj && zj->events_seen == (uint64_t) was.n && zj->next_seq == (uint64_t) was.n + 1);
    CHECK (kj && kj->events_seen == (uint64_t) was.n);
    pm__recruitment__candidate_event_redaction__free_unpacked (zj, NULL);
    pm__recruitment__candidate_event_redaction__free_unpacked (kj, NULL);
    //  Rewritten events still read: the application keeps its stages.
    r = itest_req (c, 0, NULL, "recruitment.GetApplication", "{\"application_id\": \"%s\"}",
                   zapp);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "REJECTED") == 0);
    json_decref (r);
    //  Done: more passes change nothing and announce nothing more.
    zclock_sleep (100);
    CHECK (s_count (c, "recruitment.candidate.events_redacted") == 2);
    s_events_free (&now);
    s_events_free (&was);
    pm_client_destroy (&sc);
    pm_client_destroy (&c);
    itest_cleanup (&rec);
    itest_cleanup (&stf);
}

//  A hired candidate becomes staff: erasing them (here on request) rewrites
//  their candidate and application events, but recruitment.candidate.hired,
//  which staffing onboards the employee from, stays byte for byte, so a
//  replay or rebuild of staffing makes the same staff member.
static void
s_test_erasure_keeps_hire (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    svc.env[0] = "PM_RECRUITMENT_REDACT_EVERY_MS=20";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    char job[PM_ID_MAX], pst[PM_ID_MAX], app[PM_ID_MAX], cand[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 1, job, pst));
    CHECK (s_apply (c, pst, "Hirschfeld", "hirsch@example.org", "5550105999", app, cand));
    CHECK (s_to_interviewed (c, app));
    CHECK (s_offer (c, app, 86400000, 4200));
    json_t *r = itest_req (c, 0, NULL, "recruitment.AcceptOffer",
                           "{\"application_id\": \"%s\"}", app);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "HIRED") == 0);
    json_decref (r);
    s_events_t was = s_events (c);
    r = itest_req (c, 0, NULL, "recruitment.EraseCandidate",
                   "{\"candidate_id\": \"%s\", \"reason\": \"asked\"}", cand);
    CHECK (r);
    json_decref (r);
    CHECK (s_wait_count (c, "recruitment.candidate.events_redacted", 1));
    s_events_t now = s_events (c);
    int hired = 0, named = 0;
    for (long i = 0; i < was.n && i < now.n; i++) {
        bool same = was.ev[i]->data.len == now.ev[i]->data.len
                    && memcmp (was.ev[i]->data.data, now.ev[i]->data.data,
                               was.ev[i]->data.len) == 0;
        if (strcmp (was.ev[i]->type, "recruitment.candidate.hired") == 0) {
            hired++;
            CHECK (same && s_says (&now, i, "Hirschfeld") && s_says (&now, i, "hirsch@"));
        }
        else {
            named += s_says (&now, i, "Hirschfeld") || s_says (&now, i, "hirsch@");
        }
    }
    CHECK (hired == 1 && named == 0);
    s_events_free (&now);
    s_events_free (&was);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  What a requisition cost besides salary: recorded with its kind, amount
//  and local date, listed with a total, announced for finance's actuals;
//  bad input and other sites refused.
static void
s_test_costs (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("pm-east", "practice-manager", "east");
    pm_client_t *c = itest_client (&svc);
    pm_client_t *pme = itest_client_as (&svc, "pm-east");
    char job[PM_ID_MAX], pst[PM_ID_MAX];
    CHECK (s_open_job (c, "north", 1, job, pst));
    const char *fmt = "{\"cost\": {\"requisition_id\": \"%s\", \"kind\": \"%s\", "
                      "\"amount_minor\": %s, \"currency\": \"USD\", "
                      "\"incurred_on\": \"%s\", \"note\": \"job board\"}}";
    json_t *r = itest_req (c, 0, NULL, "recruitment.RecordCost", fmt, job,
                           "COST_ADVERTISING", "25000", "2026-06-03");
    CHECK (r && strcmp (json_string_value (json_object_get (r, "site_id")), "north") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.RecordCost", fmt, job, "COST_AGENCY",
                   "120000", "2026-06-20");
    CHECK (r);
    json_decref (r);
    //  Bad input, each by field; another site's manager is refused.
    r = itest_req (c, PM_EINVAL, "cost.amount_minor", "recruitment.RecordCost", fmt, job,
                   "COST_AGENCY", "0", "2026-06-20");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "cost.incurred_on", "recruitment.RecordCost", fmt, job,
                   "COST_AGENCY", "10", "2026-02-30");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "cost.kind", "recruitment.RecordCost", fmt, job,
                   "COST_KIND_UNSET", "10", "2026-06-20");
    CHECK (r);
    json_decref (r);
    r = itest_req (pme, PM_EFORBIDDEN, NULL, "recruitment.RecordCost", fmt, job,
                   "COST_AGENCY", "10", "2026-06-20");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "recruitment.ListCosts", "{\"requisition_id\": \"%s\"}",
                   job);
    CHECK (r && json_array_size (json_object_get (r, "costs")) == 2);
    CHECK (json_integer_value (json_object_get (r, "total_minor")) == 145000);
    json_decref (r);
    //  Announced: finance follows recruitment.cost.recorded.
    Pm__Event **events;
    long n = itest_read_stream (c, &events);
    int announced = 0;
    for (long i = 0; i < n; i++) {
        announced += strcmp (events[i]->type, "recruitment.cost.recorded") == 0;
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    CHECK (announced == 2);
    pm_client_destroy (&c);
    pm_client_destroy (&pme);
    itest_cleanup (&svc);
}

//  --- the talent pool -------------------------------------------------------------

//  Creates, approves and posts a requisition for `role` at `site`.
static bool
s_open_role (pm_client_t *c, const char *site, const char *role, char *job, char *pst)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.CreateRequisition",
                           "{\"requisition\": {\"site_id\": \"%s\", \"role\": \"%s\", "
                           "\"headcount\": 5, \"title\": \"Opening\", \"description\": "
                           "\"d\", \"salary\": {\"min_minor\": 3000, \"max_minor\": 5000, "
                           "\"currency\": \"USD\"}, \"target_start\": \"2026-09-01\", "
                           "\"employment_type\": \"PART_TIME\", \"fte_permille\": 600}}",
                           site, role);
    if (!r) {
        return false;
    }
    snprintf (job, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    json_decref (r);
    const char *steps[] = {"recruitment.SubmitRequisition", "recruitment.ApproveRequisition",
                           "recruitment.PublishPosting"};
    for (int i = 0; i < 3; i++) {
        r = itest_req (c, 0, NULL, steps[i], "{\"requisition_id\": \"%s\"}", job);
        if (!r) {
            return false;
        }
        if (i == 2) {
            snprintf (pst, PM_ID_MAX, "%s", itest_json_str (r, "id"));
        }
        json_decref (r);
    }
    return true;
}

//  Applies to `pst` as `family` (e-mail family@example.org) with the
//  skills (a JSON array) and consent (a JSON object, or "null"): the
//  application and candidate ids.
static bool
s_pool_apply (pm_client_t *c, const char *pst, const char *family, const char *skills,
              const char *consent, char *app, char *cand)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.Apply",
                           "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": "
                           "\"%s\", \"given_names\": [\"Sam\"], \"email\": "
                           "\"%s@example.org\", \"skills\": %s}, \"source\": \"CAREERS_PAGE\", "
                           "\"consent\": %s}", pst, family, family, skills, consent);
    if (!r) {
        return false;
    }
    snprintf (app, PM_ID_MAX, "%s", itest_json_str (r, "application.id"));
    snprintf (cand, PM_ID_MAX, "%s", itest_json_str (r, "candidate.id"));
    json_decref (r);
    return true;
}

#define POOL_YES "{\"data_processing\": true, \"talent_pool\": true}"

//  Searches the pool as `c` with the body; true when the matches are
//  exactly `want` (candidate ids, NULL-terminated) in that order. The
//  reply into *out when out is given (caller decrefs).
static bool
s_pool_is (pm_client_t *c, const char *body, const char *const *want, json_t **out)
{
    json_t *r = itest_req (c, 0, NULL, "recruitment.SearchTalentPool", "%s", body);
    json_t *m = itest_json_at (r, "matches");
    size_t n = 0;
    while (want[n]) {
        n++;
    }
    bool ok = r && json_array_size (m) == n;
    for (size_t i = 0; ok && i < n; i++) {
        ok = strcmp (itest_json_str (json_array_get (m, i), "candidate.id"), want[i]) == 0;
    }
    if (r && !ok) {
        char *text = json_dumps (r, JSON_COMPACT);
        fprintf (stderr, "    SearchTalentPool %s: got %s\n", body, text);
        free (text);
    }
    if (out) {
        *out = r;
    }
    else {
        json_decref (r);
    }
    return ok;
}

//  Who may be found: Ash, Bo and Fa (hired) applied at north as nurses and
//  Gu at east as a physician, each with both consents; never Cy (no
//  talent-pool consent), Hu (no consent to data processing), Di (withdrew
//  it) or Ed (erased; his skills go with his other data, in the records
//  and the older events). Filters: keywords (skills, case and spaces
//  ignored; relevance = how many matched), sites, roles, not hired, last
//  activity after an instant; order relevance, then the latest activity;
//  pages of page_size with a cursor; recruiters see their sites' members
//  only; every candidate returned is audited. Bad input refused by field.
static void
s_test_talent_pool_search (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    svc.env[0] = "PM_RECRUITMENT_REDACT_EVERY_MS=20";
    CHECK (itest_start (&svc) == 0);
    itest_principal ("rita", "recruiter", "north");
    itest_principal ("eve", "recruiter", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *c = itest_client (&svc);
    pm_client_t *rita = itest_client_as (&svc, "rita");
    pm_client_t *eve = itest_client_as (&svc, "eve");
    pm_client_t *audrey = itest_client_as (&svc, "audrey");
    char job_n[PM_ID_MAX], pst_n[PM_ID_MAX], job_e[PM_ID_MAX], pst_e[PM_ID_MAX];
    CHECK (s_open_role (c, "north", "nurse", job_n, pst_n));
    CHECK (s_open_role (c, "east", "physician", job_e, pst_e));
    char app[8][PM_ID_MAX], cand[8][PM_ID_MAX];
    enum { ASH, BO, CY, DI, ED, FA, GU, HU };
    CHECK (s_pool_apply (c, pst_n, "Ash", "[\"IV therapy\", \"BLS\", \"Wound care\"]",
                         POOL_YES, app[ASH], cand[ASH]));
    CHECK (s_pool_apply (c, pst_n, "Bo", "[\"  bls \"]", POOL_YES, app[BO], cand[BO]));
    CHECK (s_pool_apply (c, pst_n, "Cy", "[\"BLS\", \"IV therapy\"]",
                         "{\"data_processing\": true, \"talent_pool\": false}", app[CY],
                         cand[CY]));
    CHECK (s_pool_apply (c, pst_n, "Di", "[\"BLS\"]", POOL_YES, app[DI], cand[DI]));
    CHECK (s_pool_apply (c, pst_n, "Ed", "[\"BLS\", \"Hyperbaric\"]", POOL_YES, app[ED],
                         cand[ED]));
    CHECK (s_pool_apply (c, pst_n, "Fa", "[\"IV  Therapy\"]", POOL_YES, app[FA], cand[FA]));
    CHECK (s_pool_apply (c, pst_e, "Gu", "[\"BLS\"]", POOL_YES, app[GU], cand[GU]));
    CHECK (s_pool_apply (c, pst_n, "Hu", "[\"BLS\"]", "{\"talent_pool\": true}", app[HU],
                         cand[HU]));
    //  Skills are checked like any field.
    char body[2048];
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Xi\", "
              "\"given_names\": [\"A\"], \"email\": \"xi@example.org\", \"skills\": "
              "[\"BLS\", \"bls \"]}, \"source\": \"WALK_IN\"}", pst_n);
    CHECK (s_refused (c, PM_EINVAL, "candidate.skills[1]", "again", "recruitment.Apply",
                      body));
    char many[1024] = "";
    for (int i = 0; i < 31; i++) {
        snprintf (many + strlen (many), sizeof many - strlen (many), "%s\"s%d\"",
                  i ? ", " : "", i);
    }
    snprintf (body, sizeof body,
              "{\"posting_id\": \"%s\", \"candidate\": {\"family_name\": \"Xi\", "
              "\"given_names\": [\"A\"], \"email\": \"xi@example.org\", \"skills\": "
              "[%s]}, \"source\": \"WALK_IN\"}", pst_n, many);
    CHECK (s_refused (c, PM_EINVAL, "candidate.skills", "at most 30", "recruitment.Apply",
                      body));
    //  Di withdraws her talent-pool consent; Ed is erased on request.
    json_t *r = itest_req (c, 0, NULL, "recruitment.SetCandidatePrivacy",
                           "{\"candidate_id\": \"%s\", \"consent\": {\"data_processing\": "
                           "true, \"talent_pool\": false}}", cand[DI]);
    CHECK (r);
    json_decref (r);
    CHECK (s_move (c, app[ED], "REJECTED", "not now"));
    r = itest_req (c, 0, NULL, "recruitment.EraseCandidate",
                   "{\"candidate_id\": \"%s\", \"reason\": \"asked\"}", cand[ED]);
    CHECK (r && json_array_size (itest_json_at (r, "skills")) == 0);
    json_decref (r);
    //  Last steps a few ms apart, so that activity orders them: Ash, Bo, Fa.
    zclock_sleep (3);
    CHECK (s_move (c, app[ASH], "REJECTED", "not now"));
    zclock_sleep (3);
    CHECK (s_move (c, app[BO], "WITHDRAWN", "moved away"));
    zclock_sleep (3);
    CHECK (s_to_interviewed (c, app[FA]) && s_offer (c, app[FA], 86400000, 4000));
    r = itest_req (c, 0, NULL, "recruitment.AcceptOffer", "{\"application_id\": \"%s\"}",
                   app[FA]);
    CHECK (r && strcmp (itest_json_str (r, "stage"), "HIRED") == 0);
    json_decref (r);
    //  Everyone the admin may see: most recent activity first.
    const char *all[] = {cand[FA], cand[BO], cand[ASH], cand[GU], NULL};
    CHECK (s_pool_is (c, "{}", all, &r));
    CHECK (s_int (r, "total") == 4 && !itest_json_at (r, "next_after"));
    CHECK (itest_json_at (r, "matches[0].hired") == json_true ());
    CHECK (itest_json_at (r, "matches[1].hired") == json_false ());
    CHECK (strcmp (itest_json_str (r, "matches[0].roles[0]"), "nurse") == 0);
    CHECK (strcmp (itest_json_str (r, "matches[0].candidate.family_name"), "Fa") == 0);
    long long act_ash = s_int (r, "matches[2].last_activity_at");
    CHECK (s_int (r, "matches[0].last_activity_at") > s_int (r, "matches[1].last_activity_at"));
    CHECK (s_int (r, "matches[1].last_activity_at") > act_ash && act_ash > 0);
    json_decref (r);
    //  Keywords: Ash has both; then the latest activity among one match.
    const char *kw[] = {cand[ASH], cand[FA], cand[BO], cand[GU], NULL};
    CHECK (s_pool_is (c, "{\"keywords\": [\"bls\", \" IV THERAPY\"]}", kw, &r));
    CHECK (s_int (r, "matches[0].relevance") == 2 && s_int (r, "matches[1].relevance") == 1);
    CHECK (json_array_size (itest_json_at (r, "matches[0].matched")) == 2);
    CHECK (strcmp (itest_json_str (r, "matches[1].matched[0]"), "iv therapy") == 0);
    json_decref (r);
    const char *hyper[] = {NULL};
    CHECK (s_pool_is (c, "{\"keywords\": [\"hyperbaric\"]}", hyper, NULL));
    //  Sites, roles, not hired, activity.
    const char *north_bls[] = {cand[BO], cand[ASH], NULL};
    CHECK (s_pool_is (c, "{\"keywords\": [\"BLS\"], \"site_ids\": [\"north\"]}", north_bls,
                      NULL));
    const char *physicians[] = {cand[GU], NULL};
    CHECK (s_pool_is (c, "{\"roles\": [\"physician\", \"midwife\"]}", physicians, NULL));
    const char *nurses_north[] = {cand[FA], cand[BO], cand[ASH], NULL};
    CHECK (s_pool_is (c, "{\"roles\": [\"nurse\"], \"site_ids\": [\"north\", \"east\"]}",
                      nurses_north, NULL));
    const char *not_hired[] = {cand[BO], cand[ASH], cand[GU], NULL};
    CHECK (s_pool_is (c, "{\"not_hired\": true}", not_hired, NULL));
    const char *recent[] = {cand[FA], cand[BO], NULL};
    snprintf (body, sizeof body, "{\"active_after\": %lld}", act_ash);
    CHECK (s_pool_is (c, body, recent, NULL));
    //  Pages of one, each after the last one's cursor.
    char after[256] = "";
    for (int i = 0; all[i]; i++) {
        snprintf (body, sizeof body, "{\"page_size\": 1%s%s%s}", after[0] ? ", \"after\": \"" : "",
                  after, after[0] ? "\"" : "");
        const char *one[] = {all[i], NULL};
        CHECK (s_pool_is (c, body, one, &r));
        CHECK (s_int (r, "total") == 4);
        snprintf (after, sizeof after, "%s", itest_json_str (r, "next_after"));
        CHECK ((after[0] != 0) == (all[i + 1] != NULL));
        json_decref (r);
    }
    //  Site scope: a recruiter finds their sites' members only.
    const char *rita_sees[] = {cand[FA], cand[BO], cand[ASH], NULL};
    CHECK (s_pool_is (rita, "{}", rita_sees, NULL));
    const char *eve_sees[] = {cand[GU], NULL};
    CHECK (s_pool_is (eve, "{\"keywords\": [\"bls\"]}", eve_sees, NULL));
    CHECK (s_refused (rita, PM_EFORBIDDEN, "site_ids[0]", "site east",
                      "recruitment.SearchTalentPool", "{\"site_ids\": [\"east\"]}"));
    //  Bad input.
    CHECK (s_refused (c, PM_EINVAL, "page_size", "at most 1000",
                      "recruitment.SearchTalentPool", "{\"page_size\": 1001}"));
    CHECK (s_refused (c, PM_EINVAL, "after", "next_after", "recruitment.SearchTalentPool",
                      "{\"after\": \"2.x.cand_1\"}"));
    CHECK (s_refused (c, PM_EINVAL, "keywords[1]", "again", "recruitment.SearchTalentPool",
                      "{\"keywords\": [\"BLS\", \"bls\"]}"));
    CHECK (s_refused (c, PM_EINVAL, "keywords[0]", "control", "recruitment.SearchTalentPool",
                      "{\"keywords\": [\"a\\tb\"]}"));
    CHECK (s_refused (c, PM_EINVAL, "roles[0]", "is not 1 to 64",
                      "recruitment.SearchTalentPool", "{\"roles\": [\"Nurse!\"]}"));
    //  Every candidate a search returned is on the audit log; no one else.
    r = itest_req (audrey, 0, NULL, "pm.AuditRead", "{\"max\": 5000}");
    CHECK (r);
    int seen[8] = {0};
    json_t *entries = itest_json_at (r, "entries");
    for (size_t i = 0; i < json_array_size (entries); i++) {
        json_t *e = json_array_get (entries, i);
        if (strcmp (itest_json_str (e, "action"), "recruitment.SearchTalentPool") != 0) {
            continue;
        }
        for (int k = 0; k < 8; k++) {
            seen[k] += strcmp (itest_json_str (e, "subject"), cand[k]) == 0;
        }
    }
    json_decref (r);
    CHECK (seen[ASH] >= 5 && seen[BO] >= 5 && seen[FA] >= 5 && seen[GU] >= 4);
    CHECK (seen[CY] == 0 && seen[DI] == 0 && seen[ED] == 0 && seen[HU] == 0);
    //  Ed's skills are gone from the older events too.
    CHECK (s_wait_count (c, "recruitment.candidate.events_redacted", 1));
    const char *needles[] = {"Hyperbaric", NULL};
    CHECK (s_stream_says (c, 1, needles) == NULL);
    pm_client_destroy (&audrey);
    pm_client_destroy (&eve);
    pm_client_destroy (&rita);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  The pool index follows every change in the same transaction: skills
//  replaced (SetCandidateSkills) and added by a later application, a held
//  requisition's new role, the hire. A store from before the index gets
//  it at start (its entries and marker removed here, as an older version
//  left it), and a member whose retention ended is out of the pool at
//  once, before the retention timer erases them.
static void
s_test_talent_pool_kept (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "recruitment", "pm-recruitment");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    char job1[PM_ID_MAX], pst1[PM_ID_MAX], job2[PM_ID_MAX], pst2[PM_ID_MAX];
    CHECK (s_open_role (c, "north", "nurse", job1, pst1));
    CHECK (s_open_role (c, "north", "nurse", job2, pst2));
    char app_x[PM_ID_MAX], x[PM_ID_MAX], app_x2[PM_ID_MAX], x2[PM_ID_MAX];
    char app_y[PM_ID_MAX], y[PM_ID_MAX];
    CHECK (s_pool_apply (c, pst1, "Xu", "[\"Triage\"]", POOL_YES, app_x, x));
    const char *only_x[] = {x, NULL}, *nobody[] = {NULL};
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"]}", only_x, NULL));
    //  Skills replaced: the old one finds nothing, the new one finds Xu.
    char body[2048];
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\", \"skills\": [\"a\\nb\"]}", x);
    CHECK (s_refused (c, PM_EINVAL, "skills[0]", "control",
                      "recruitment.SetCandidateSkills", body));
    snprintf (body, sizeof body, "{\"candidate_id\": \"%s\", \"skills\": [\"Phlebotomy\"], "
              "\"expected_version\": 9}", x);
    CHECK (s_refused (c, PM_ECONFLICT, "expected_version", "not 9",
                      "recruitment.SetCandidateSkills", body));
    json_t *r = itest_req (c, 0, NULL, "recruitment.SetCandidateSkills",
                           "{\"candidate_id\": \"%s\", \"skills\": [\"Phlebotomy\"]}", x);
    CHECK (r && json_array_size (itest_json_at (r, "skills")) == 1);
    json_decref (r);
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"]}", nobody, NULL));
    CHECK (s_pool_is (c, "{\"keywords\": [\"phlebotomy\"]}", only_x, NULL));
    //  Applying again adds the skills not on file.
    CHECK (s_pool_apply (c, pst2, "Xu", "[\"TRIAGE\", \"phlebotomy\"]", "null", app_x2, x2));
    CHECK (strcmp (x2, x) == 0);
    r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}", x);
    CHECK (r && json_array_size (itest_json_at (r, "skills")) == 2);
    json_decref (r);
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"]}", only_x, NULL));
    //  The second opening is held and becomes a midwife's.
    r = itest_req (c, 0, NULL, "recruitment.HoldRequisition",
                   "{\"requisition_id\": \"%s\", \"reason\": \"rethink\"}", job2);
    CHECK (r);
    long long version = s_int (r, "version");
    json_decref (r);
    CHECK (s_pool_is (c, "{\"roles\": [\"midwife\"]}", nobody, NULL));
    r = itest_req (c, 0, NULL, "recruitment.UpdateRequisition",
                   "{\"requisition\": {\"id\": \"%s\", \"site_id\": \"north\", \"role\": "
                   "\"midwife\", \"headcount\": 1, \"title\": \"Midwife\", \"description\": "
                   "\"d\", \"salary\": {\"min_minor\": 3000, \"max_minor\": 5000, "
                   "\"currency\": \"USD\"}, \"target_start\": \"2026-09-01\", "
                   "\"employment_type\": \"PART_TIME\"}, \"expected_version\": %lld}", job2,
                   version);
    CHECK (r);
    json_decref (r);
    CHECK (s_pool_is (c, "{\"roles\": [\"midwife\"]}", only_x, NULL));
    //  Xu is hired through the first opening.
    CHECK (s_to_interviewed (c, app_x) && s_offer (c, app_x, 86400000, 4000));
    r = itest_req (c, 0, NULL, "recruitment.AcceptOffer", "{\"application_id\": \"%s\"}",
                   app_x);
    CHECK (r);
    json_decref (r);
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"], \"not_hired\": true}", nobody, NULL));
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"]}", only_x, &r));
    CHECK (itest_json_at (r, "matches[0].hired") == json_true ());
    json_decref (r);
    //  Yi, kept one day after her process ends.
    CHECK (s_pool_apply (c, pst1, "Yi", "[\"Triage\"]", POOL_YES, app_y, y));
    r = itest_req (c, 0, NULL, "recruitment.SetCandidatePrivacy",
                   "{\"candidate_id\": \"%s\", \"retention_days\": 1}", y);
    CHECK (r);
    json_decref (r);
    CHECK (s_move (c, app_y, "REJECTED", "not now"));
    const char *both[] = {y, x, NULL};
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"]}", both, NULL));
    //  As an older version left the store: no pool index, no marker.
    pm_client_destroy (&c);
    itest_signal (&svc, SIGTERM);
    CHECK (itest_store_forget (&svc, "index", "PGJKM") >= 11);
    //  Two days on (the retention timer has not run yet): Yi is out, Xu in.
    svc.env[0] = "PM_CLOCK_OFFSET_MS=172800000";
    CHECK (s_start_again (&svc) == 0);
    c = itest_client (&svc);
    CHECK (s_pool_is (c, "{\"keywords\": [\"triage\"]}", only_x, NULL));
    CHECK (s_pool_is (c, "{\"roles\": [\"midwife\"], \"site_ids\": [\"north\"]}", only_x,
                      NULL));
    CHECK (s_pool_is (c, "{}", only_x, NULL));
    r = itest_req (c, 0, NULL, "recruitment.GetCandidate", "{\"candidate_id\": \"%s\"}", y);
    CHECK (r && s_int (r, "erased_at") == 0);
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

int
main (int argc, char *argv[])
{
    static const itest_case_t cases[] = {
        {"requisitions", s_test_requisitions},
        {"candidates", s_test_candidates},
        {"pipeline", s_test_pipeline},
        {"offer_expiry", s_test_offer_expiry},
        {"hire_into_staffing", s_test_hire_into_staffing},
        {"experience_report", s_test_experience_report},
        {"interviews", s_test_interviews},
        {"service_levels", s_test_service_levels},
        {"surveys_and_privacy", s_test_surveys_and_privacy},
        {"costs", s_test_costs},
        {"erasure_rewrites_events", s_test_erasure_rewrites_events},
        {"erasure_keeps_hire", s_test_erasure_keeps_hire},
        {"talent_pool_search", s_test_talent_pool_search},
        {"talent_pool_kept", s_test_talent_pool_kept},
        {NULL, NULL},
    };
    return itest_main (argc, argv, cases);
}
