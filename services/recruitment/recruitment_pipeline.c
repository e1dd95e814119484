/*  recruitment_pipeline.c: the transition table and recruitment.Move.

    One table says everything about the pipeline; Move, the offer commands
    and the offer timer all go through rec_pipeline_step, so no stage is
    reached any other way. A refused move names the stages allowed from
    where the application is (and, when the role is what is wrong, the
    ones allowed to this caller).                                         */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "recruitment_experience.h"
#include "recruitment_interviews.h"
#include "recruitment_pipeline.h"
#include "recruitment_pool.h"
#include "recruitment_privacy.h"
#include "recruitment_requisitions.h"

#define S(x) PM__RECRUITMENT__STAGE__##x
#define B(x) (1u << PM__RECRUITMENT__STAGE__##x)

//  Who acts in each role of the pipeline.
#define RECRUITER (PM_ROLE_RECRUITER | PM_ROLE_PRACTICE_MANAGER)
#define HIRING_MANAGER PM_ROLE_HIRING_MANAGER
//  Interviewers are the site's clinicians and managers on a panel.
#define INTERVIEWER (PM_ROLE_CLINICIAN | PM_ROLE_PRACTICE_MANAGER)
//  The candidate answers through the careers gateway, or a recruiter
//  records what they said.
#define CANDIDATE (PM_ROLE_GATEWAY | PM_ROLE_RECRUITER | PM_ROLE_PRACTICE_MANAGER)
//  Not a caller: the service itself (the offer timer, the hire after an
//  accepted offer).
#define SERVICE 0

//  Every stage an application may still leave.
#define OPEN_STAGES (B (APPLIED) | B (SCREENING) | B (SHORTLISTED)                    \
                     | B (INTERVIEW_SCHEDULED) | B (INTERVIEW_DONE) | B (OFFER_SENT) \
                     | B (OFFER_ACCEPTED))

typedef struct {
    unsigned from;             //  bits of the stages it leaves
    Pm__Recruitment__Stage to;
    unsigned roles;            //  PM_ROLE_* bits; SERVICE = only the service
    const char *via;           //  the command that makes it
    bool reason;               //  a reason is required
} s_rule_t;

static const s_rule_t s_rules[] = {
    {B (APPLIED), S (SCREENING), RECRUITER, "recruitment.Move", false},
    {B (APPLIED) | B (SCREENING), S (SHORTLISTED), RECRUITER | HIRING_MANAGER,
     "recruitment.Move", false},
    {B (SHORTLISTED), S (INTERVIEW_SCHEDULED), RECRUITER | HIRING_MANAGER,
     "recruitment.Move", false},
    //  The candidate's pick of an interview slot books it and moves them.
    {B (SHORTLISTED) | B (INTERVIEW_DONE), S (INTERVIEW_SCHEDULED), CANDIDATE,
     "recruitment.BookInterview", false},
    {B (INTERVIEW_SCHEDULED), S (INTERVIEW_DONE),
     RECRUITER | HIRING_MANAGER | INTERVIEWER, "recruitment.Move", false},
    //  The next round.
    {B (INTERVIEW_DONE), S (INTERVIEW_SCHEDULED), RECRUITER | HIRING_MANAGER,
     "recruitment.Move", false},
    {B (INTERVIEW_DONE), S (OFFER_SENT), RECRUITER | HIRING_MANAGER,
     "recruitment.MakeOffer", false},
    {B (OFFER_SENT), S (OFFER_ACCEPTED), CANDIDATE, "recruitment.AcceptOffer", false},
    {B (OFFER_ACCEPTED), S (HIRED), SERVICE, "recruitment.AcceptOffer", false},
    {B (OFFER_SENT), S (OFFER_DECLINED), CANDIDATE, "recruitment.DeclineOffer", true},
    {B (OFFER_SENT), S (OFFER_EXPIRED), SERVICE, NULL, false},
    {OPEN_STAGES, S (REJECTED), RECRUITER | HIRING_MANAGER, "recruitment.Move", true},
    {OPEN_STAGES, S (WITHDRAWN), CANDIDATE, "recruitment.Move", true},
    {0, 0, 0, NULL, false},
};

const char *
rec_stage_name (Pm__Recruitment__Stage stage)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
        &pm__recruitment__stage__descriptor, (int) stage);
    return v ? v->name : "?";
}

//  True when the caller acts in one of `roles` (network-admin always).
static bool
s_may (pm_ctx_t *ctx, unsigned roles)
{
    unsigned role = pm_ctx_principal (ctx)->role;
    return role == PM_ROLE_NETWORK_ADMIN || (roles & role);
}

//  Writes the stages reachable from `from` into out ("A, B (via C)"); only
//  those the caller may make when `mine`.
static void
s_allowed (pm_ctx_t *ctx, Pm__Recruitment__Stage from, bool mine, char *out,
           size_t size)
{
    size_t n = 0;
    out[0] = 0;
    for (const s_rule_t *r = s_rules; r->from; r++) {
        if (!(r->from & (1u << from)) || r->roles == SERVICE
            || (mine && !s_may (ctx, r->roles))) {
            continue;
        }
        bool move = strcmp (r->via, "recruitment.Move") == 0;
        n += (size_t) snprintf (out + n, n < size ? size - n : 0, "%s%s%s%s%s",
                                n ? ", " : "", rec_stage_name (r->to), move ? "" : " (",
                                move ? "" : r->via, move ? "" : ")");
    }
    if (!out[0]) {
        snprintf (out, size, "none");
    }
}

//  --------------------------------------------------------------------------
pm_err
rec_pipeline_step (pm_ctx_t *ctx, rec_app_t *app, Pm__Recruitment__Stage to,
                   const char *reason, const char *via)
{
    Pm__Recruitment__Stage from = app->stage;
    char allowed[512];
    //  The rule of this command, else the first for this step (whose
    //  command is then named in the refusal).
    const s_rule_t *r = s_rules;
    while (r->from && !((r->from & (1u << from)) && r->to == to && r->via && via
                        && strcmp (r->via, via) == 0)) {
        r++;
    }
    if (!r->from) {
        r = s_rules;
        while (r->from && !((r->from & (1u << from)) && r->to == to)) {
            r++;
        }
    }
    if (!r->from) {
        s_allowed (ctx, from, false, allowed, sizeof allowed);
        return pm_ctx_fail (ctx, PM_ECONFLICT, "to",
                            "to: %s cannot move from %s to %s; allowed: %s", app->id,
                            rec_stage_name (from), rec_stage_name (to), allowed);
    }
    //  A step is made by its table's commands only (the expiry by none).
    bool same_via = r->via ? via && strcmp (r->via, via) == 0 : !via;
    if (!same_via) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "to", "to: %s is reached by %s, not %s",
                            rec_stage_name (to), r->via ? r->via : "the offer's expiry",
                            via ? via : "the service");
    }
    //  The service's own steps follow a step the caller was allowed.
    bool internal = r->roles == SERVICE;
    if (!internal && !s_may (ctx, r->roles)) {
        s_allowed (ctx, from, true, allowed, sizeof allowed);
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, "to",
                            "to: a %s may not move %s from %s to %s; allowed for you: %s",
                            rec_role_name (ctx), app->id, rec_stage_name (from),
                            rec_stage_name (to), allowed);
    }
    const pm_principal_t *who = pm_ctx_principal (ctx);
    if (!internal && who->role == PM_ROLE_HIRING_MANAGER) {
        //  A hiring manager moves the applications of their own openings.
        rec_job_t *j;
        pm_err rc = rec_job_load (ctx, app->requisition_id, "application_id", &j);
        if (rc != PM_OK) {
            return rc;
        }
        bool theirs = !j->hiring_manager || !*j->hiring_manager
                      || strcmp (j->hiring_manager, who->name) == 0;
        pm__recruitment__requisition__free_unpacked (j, NULL);
        if (!theirs) {
            return pm_ctx_fail (ctx, PM_EFORBIDDEN, "application_id",
                                "application_id: %s is not the hiring manager of %s",
                                who->name, app->requisition_id);
        }
    }
    if (to == PM__RECRUITMENT__STAGE__INTERVIEW_DONE) {
        //  Done means every booked interview has its panel's scorecards.
        pm_err rc = rec_itv_feedback_in (ctx, app);
        if (rc != PM_OK) {
            return rc;
        }
    }
    if (r->reason) {
        pm_err rc = rec_text (ctx, "reason", reason, true, 500);
        if (rc != PM_OK) {
            return rc;
        }
    }
    int64_t from_at = app->n_history ? app->history[app->n_history - 1]->at
                                     : app->applied_at;
    Pm__Recruitment__StageChange *ch = malloc (sizeof *ch);
    pm__recruitment__stage_change__init (ch);
    ch->has_from = ch->has_to = ch->has_at = 1;
    ch->from = from;
    ch->to = to;
    ch->actor = strdup (who->name);
    ch->actor_role = strdup (rec_role_name (ctx));
    ch->at = pm_ctx_now (ctx);
    ch->reason = reason && *reason ? strdup (reason) : NULL;
    app->history = realloc (app->history, (app->n_history + 1) * sizeof *app->history);
    app->history[app->n_history++] = ch;
    app->stage = to;
    app->version++;
    app->updated_at = pm_ctx_now (ctx);
    //  The promises to the candidate run on the steps (service levels) and
    //  a process that ends starts their retention.
    pm_err rc = rec_sla_stepped (ctx, app, from, from_at, !internal);
    if (rc == PM_OK && !(OPEN_STAGES & (1u << to))) {
        rc = rec_privacy_ended (ctx, app);
    }
    //  The talent pool knows their latest step and whether they were hired.
    if (rc == PM_OK) {
        rc = rec_pool_sync_id (pm_ctx_txn (ctx), app->candidate_id, app);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.Move
static pm_err
s_move (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__Move *req = (const void *) body;
    if (!req->has_to || req->to == PM__RECRUITMENT__STAGE__STAGE_UNSET) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: the stage to move to is required");
    }
    rec_app_t *app;
    pm_err rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    rc = rec_check_version (ctx, app->id, app->version, req->has_expected_version,
                            req->expected_version, false);
    if (rc == PM_OK) {
        rc = rec_pipeline_step (ctx, app, req->to, req->reason, "recruitment.Move");
    }
    if (rc == PM_OK) {
        rc = rec_app_commit (ctx, app);
    }
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_pipeline_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.Move", s_move);
}
