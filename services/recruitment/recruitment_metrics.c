/*  recruitment_metrics.c: recruitment.ExperienceReport.

    Computed when asked from the applications' stamped histories, so it
    can never disagree with them: every measure is a difference of two
    instants the pipeline recorded. The first response is the first step
    a person (not the service's timer) took after the application was
    received. Interview-to-feedback is from a completed interview's end
    to its last scorecard. Surveys give the NPS (promoters 9-10 minus
    detractors 0-6, per 1000 answers); breaches are counted per
    requisition; a recruiter's figures are those of the requisitions
    naming them. Anonymous: counts and durations, no candidate, so an
    erasure (which keeps stages, times, sources and scores) changes none. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_candidates.h"
#include "recruitment_experience.h"
#include "recruitment_interviews.h"
#include "recruitment_metrics.h"
#include "recruitment_pipeline.h"
#include "recruitment_requisitions.h"

#define STAGES (PM__RECRUITMENT__STAGE__OFFER_EXPIRED + 1)
#define SOURCES (PM__RECRUITMENT__SOURCE__OTHER + 1)

//  Sums over applications, turned into one ExperienceMetrics.
typedef struct {
    uint32_t apps, responded, awaiting, offers, accepted, declined, hired;
    int64_t first_sum, first_max, oldest_wait, offer_sum, hire_sum;
    uint32_t stage_n[STAGES];
    int64_t stage_sum[STAGES];
    uint32_t src_apps[SOURCES], src_hired[SOURCES], src_responded[SOURCES],
        src_interview[SOURCES];
    uint32_t surveys, promoters, passives, detractors;
    uint32_t breaches[4];       //  all kinds, then by BreachKind
    uint32_t feedback_n;        //  completed interviews
    int64_t feedback_sum, feedback_max; //  interview end -> last scorecard
} s_acc_t;

//  --------------------------------------------------------------------------
//  Adds one application's history to the sums.
static void
s_add (s_acc_t *a, const rec_app_t *app, int64_t now)
{
    a->apps++;
    int src = app->source < SOURCES ? (int) app->source : 0;
    a->src_apps[src]++;
    int64_t first = -1;
    bool interviewed = false;
    for (size_t i = 1; i < app->n_history; i++) {
        const Pm__Recruitment__StageChange *prev = app->history[i - 1];
        const Pm__Recruitment__StageChange *ch = app->history[i];
        if (prev->to < STAGES) {
            a->stage_n[prev->to]++;
            a->stage_sum[prev->to] += ch->at - prev->at;
        }
        bool by_person = !ch->actor_role || strcmp (ch->actor_role, "service") != 0;
        if (first < 0 && by_person) {
            first = ch->at - app->applied_at;
        }
        interviewed |= ch->to == PM__RECRUITMENT__STAGE__INTERVIEW_SCHEDULED;
        if (ch->to == PM__RECRUITMENT__STAGE__OFFER_ACCEPTED) {
            a->accepted++;
        }
        if (ch->to == PM__RECRUITMENT__STAGE__OFFER_DECLINED
            || ch->to == PM__RECRUITMENT__STAGE__OFFER_EXPIRED) {
            a->declined++;
        }
        if (ch->to == PM__RECRUITMENT__STAGE__OFFER_SENT) {
            a->offers++;
            a->offer_sum += ch->at - app->applied_at;
        }
        if (ch->to == PM__RECRUITMENT__STAGE__HIRED) {
            a->hired++;
            a->src_hired[src]++;
            a->hire_sum += ch->at - app->applied_at;
        }
    }
    a->src_interview[src] += interviewed;
    if (first >= 0) {
        a->src_responded[src]++;
        a->responded++;
        a->first_sum += first;
        a->first_max = first > a->first_max ? first : a->first_max;
    }
    else if (app->stage == PM__RECRUITMENT__STAGE__APPLIED) {
        a->awaiting++;
        int64_t wait = now - app->applied_at;
        a->oldest_wait = wait > a->oldest_wait ? wait : a->oldest_wait;
    }
}

//  Adds one requisition's sums into the site's.
static void
s_merge (s_acc_t *into, const s_acc_t *a)
{
    into->apps += a->apps;
    into->responded += a->responded;
    into->awaiting += a->awaiting;
    into->offers += a->offers;
    into->accepted += a->accepted;
    into->declined += a->declined;
    into->hired += a->hired;
    into->first_sum += a->first_sum;
    into->first_max = a->first_max > into->first_max ? a->first_max : into->first_max;
    into->oldest_wait = a->oldest_wait > into->oldest_wait ? a->oldest_wait
                                                           : into->oldest_wait;
    into->offer_sum += a->offer_sum;
    into->hire_sum += a->hire_sum;
    for (int i = 0; i < STAGES; i++) {
        into->stage_n[i] += a->stage_n[i];
        into->stage_sum[i] += a->stage_sum[i];
    }
    for (int i = 0; i < SOURCES; i++) {
        into->src_apps[i] += a->src_apps[i];
        into->src_hired[i] += a->src_hired[i];
        into->src_responded[i] += a->src_responded[i];
        into->src_interview[i] += a->src_interview[i];
    }
    into->surveys += a->surveys;
    into->promoters += a->promoters;
    into->passives += a->passives;
    into->detractors += a->detractors;
    for (int i = 0; i < 4; i++) {
        into->breaches[i] += a->breaches[i];
    }
    into->feedback_n += a->feedback_n;
    into->feedback_sum += a->feedback_sum;
    into->feedback_max = a->feedback_max > into->feedback_max ? a->feedback_max
                                                              : into->feedback_max;
}

//  The sums as a message (malloc'd; freed by free_unpacked).
static Pm__Recruitment__ExperienceMetrics *
s_metrics (const s_acc_t *a, const char *job_id)
{
    Pm__Recruitment__ExperienceMetrics *m = calloc (1, sizeof *m);
    pm__recruitment__experience_metrics__init (m);
    m->requisition_id = job_id ? strdup (job_id) : NULL;
    m->has_applications = m->has_responded = m->has_awaiting_response = 1;
    m->applications = a->apps;
    m->responded = a->responded;
    m->awaiting_response = a->awaiting;
    m->has_avg_first_response_ms = m->has_max_first_response_ms = a->responded > 0;
    m->avg_first_response_ms = a->responded ? a->first_sum / a->responded : 0;
    m->max_first_response_ms = a->first_max;
    m->has_oldest_waiting_ms = a->awaiting > 0;
    m->oldest_waiting_ms = a->oldest_wait;
    m->stages = calloc (STAGES, sizeof *m->stages);
    for (int i = 1; i < STAGES; i++) {
        if (!a->stage_n[i]) {
            continue;
        }
        Pm__Recruitment__StageTime *t = calloc (1, sizeof *t);
        pm__recruitment__stage_time__init (t);
        t->has_stage = t->has_count = t->has_avg_ms = 1;
        t->stage = (Pm__Recruitment__Stage) i;
        t->count = a->stage_n[i];
        t->avg_ms = a->stage_sum[i] / a->stage_n[i];
        m->stages[m->n_stages++] = t;
    }
    m->has_offers_sent = m->has_offers_accepted = m->has_hired = 1;
    m->offers_sent = a->offers;
    m->offers_accepted = a->accepted;
    uint32_t answered = a->accepted + a->declined;
    m->has_offer_acceptance_permille = answered > 0;
    m->offer_acceptance_permille = answered ? a->accepted * 1000 / answered : 0;
    m->has_avg_time_to_offer_ms = a->offers > 0;
    m->avg_time_to_offer_ms = a->offers ? a->offer_sum / a->offers : 0;
    m->hired = a->hired;
    m->has_avg_time_to_hire_ms = a->hired > 0;
    m->avg_time_to_hire_ms = a->hired ? a->hire_sum / a->hired : 0;
    m->sources = calloc (SOURCES, sizeof *m->sources);
    for (int i = 1; i < SOURCES; i++) {
        if (!a->src_apps[i]) {
            continue;
        }
        Pm__Recruitment__SourceCount *s = calloc (1, sizeof *s);
        pm__recruitment__source_count__init (s);
        s->has_source = s->has_applications = s->has_hired = 1;
        s->source = (Pm__Recruitment__Source) i;
        s->applications = a->src_apps[i];
        s->hired = a->src_hired[i];
        s->has_responded = s->has_reached_interview = s->has_hire_permille = 1;
        s->responded = a->src_responded[i];
        s->reached_interview = a->src_interview[i];
        s->hire_permille = a->src_hired[i] * 1000 / a->src_apps[i];
        m->sources[m->n_sources++] = s;
    }
    m->has_interviews_completed = 1;
    m->interviews_completed = a->feedback_n;
    m->has_avg_interview_to_feedback_ms = m->has_max_interview_to_feedback_ms
        = a->feedback_n > 0;
    m->avg_interview_to_feedback_ms = a->feedback_n ? a->feedback_sum / a->feedback_n : 0;
    m->max_interview_to_feedback_ms = a->feedback_max;
    m->has_surveys = m->has_promoters = m->has_passives = m->has_detractors = 1;
    m->surveys = a->surveys;
    m->promoters = a->promoters;
    m->passives = a->passives;
    m->detractors = a->detractors;
    m->has_nps_permille = a->surveys > 0;
    m->nps_permille = a->surveys ? ((int32_t) a->promoters - (int32_t) a->detractors)
                                       * 1000 / (int32_t) a->surveys
                                 : 0;
    m->has_breaches = m->has_acknowledge_breaches = m->has_decide_breaches
        = m->has_answer_breaches = 1;
    m->breaches = a->breaches[0];
    m->acknowledge_breaches = a->breaches[PM__RECRUITMENT__BREACH_KIND__ACKNOWLEDGE];
    m->decide_breaches = a->breaches[PM__RECRUITMENT__BREACH_KIND__DECIDE];
    m->answer_breaches = a->breaches[PM__RECRUITMENT__BREACH_KIND__ANSWER];
    return m;
}

typedef struct {
    pm_ctx_t *ctx;
    s_acc_t *acc;
} s_walk_t;

//  Adds one application of a requisition.
static int
s_app_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_walk_t *w = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (w->ctx), rec_db.applications, id,
                                  strlen (id), &pm__recruitment__application__descriptor,
                                  &m);
    if (rc != PM_OK) {
        return rc;
    }
    s_add (w->acc, (rec_app_t *) m, pm_ctx_now (w->ctx));
    int score = rec_survey_score (w->ctx, id);
    if (score >= 0) {
        w->acc->surveys++;
        w->acc->promoters += score >= 9;
        w->acc->passives += score == 7 || score == 8;
        w->acc->detractors += score <= 6;
    }
    rc = rec_itv_feedback_times (w->ctx, id, &w->acc->feedback_n, &w->acc->feedback_sum,
                                 &w->acc->feedback_max);
    protobuf_c_message_free_unpacked (m, NULL);
    return rc;
}

//  One recruiter's sums.
typedef struct {
    char name[128];
    s_acc_t acc;
} s_recruiter_t;

typedef struct {
    pm_ctx_t *ctx;
    const char *only;           //  one requisition, or NULL
    s_acc_t total;
    s_recruiter_t *recruiters;  //  REC_LIST_MAX at most
    size_t n_recruiters;
    Pm__Recruitment__ExperienceReport *report;
} s_site_walk_t;

//  Adds one requisition of the site: its own row and into the total.
static int
s_job_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_site_walk_t *w = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    if (w->only && strcmp (w->only, id) != 0) {
        return 0;
    }
    if (w->report->n_requisitions >= REC_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    rec_job_t *j;
    pm_err rc = rec_job_load (w->ctx, id, "requisition_id", &j);
    if (rc != PM_OK) {
        return rc;
    }
    char who[128];
    snprintf (who, sizeof who, "%s",
              j->recruiter && *j->recruiter ? j->recruiter
              : j->created_by              ? j->created_by
                                           : "");
    pm__recruitment__requisition__free_unpacked (j, NULL);
    s_acc_t acc;
    memset (&acc, 0, sizeof acc);
    s_walk_t aw = {w->ctx, &acc};
    pm_key_t k;
    pm_key_init (&k, REC_IX_APP_BY_JOB);
    pm_key_str (&k, id);
    rc = rec_scan (w->ctx, &k, s_app_one, &aw);
    if (rc == PM_OK) {
        rc = rec_breach_counts (w->ctx, id, acc.breaches);
    }
    if (rc != PM_OK) {
        return rc;
    }
    s_merge (&w->total, &acc);
    //  Into the recruiter's sums (a handful per site: a linear search).
    size_t r = 0;
    while (r < w->n_recruiters && strcmp (w->recruiters[r].name, who) != 0) {
        r++;
    }
    if (r == w->n_recruiters && r < REC_LIST_MAX) {
        snprintf (w->recruiters[r].name, sizeof w->recruiters[r].name, "%s", who);
        w->n_recruiters++;
    }
    if (r < w->n_recruiters) {
        s_merge (&w->recruiters[r].acc, &acc);
    }
    w->report->requisitions[w->report->n_requisitions++] = s_metrics (&acc, id);
    return 0;
}

//  Recruiters in name order.
static int
s_by_name (const void *a, const void *b)
{
    return strcmp (((const s_recruiter_t *) a)->name, ((const s_recruiter_t *) b)->name);
}

//  --------------------------------------------------------------------------
//  recruitment.ExperienceReport
static pm_err
s_report (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__GetExperienceReport *req = (const void *) body;
    pm_err rc = rec_token (ctx, "site_id", req->site_id, 64);
    if (rc == PM_OK) {
        rc = rec_access (ctx, req->site_id, "site_id");
    }
    const char *only = req->requisition_id && *req->requisition_id ? req->requisition_id
                                                                     : NULL;
    if (rc == PM_OK && only) {
        rec_job_t *j;
        rc = rec_job_load (ctx, only, "requisition_id", &j);
        if (rc == PM_OK && strcmp (j->site_id, req->site_id) != 0) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition_id",
                              "requisition_id: %s is at site %s, not %s", only,
                              j->site_id, req->site_id);
        }
        pm__recruitment__requisition__free_unpacked (j, NULL);
    }
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Recruitment__ExperienceReport *report = calloc (1, sizeof *report);
    pm__recruitment__experience_report__init (report);
    report->site_id = strdup (req->site_id);
    report->has_generated_at = 1;
    report->generated_at = pm_ctx_now (ctx);
    report->requisitions = calloc (REC_LIST_MAX, sizeof *report->requisitions);
    s_site_walk_t w;
    memset (&w, 0, sizeof w);
    w.ctx = ctx;
    w.only = only;
    w.report = report;
    w.recruiters = calloc (REC_LIST_MAX, sizeof *w.recruiters);
    pm_key_t k;
    pm_key_init (&k, REC_IX_JOB_BY_SITE);
    pm_key_str (&k, req->site_id);
    rc = rec_scan (ctx, &k, s_job_one, &w);
    if (rc == PM_OK) {
        report->total = s_metrics (&w.total, NULL);
        qsort (w.recruiters, w.n_recruiters, sizeof *w.recruiters, s_by_name);
        report->recruiters = calloc (w.n_recruiters + 1, sizeof *report->recruiters);
        for (size_t i = 0; i < w.n_recruiters; i++) {
            Pm__Recruitment__RecruiterMetrics *rm = calloc (1, sizeof *rm);
            pm__recruitment__recruiter_metrics__init (rm);
            rm->recruiter = strdup (w.recruiters[i].name);
            rm->metrics = s_metrics (&w.recruiters[i].acc, NULL);
            report->recruiters[report->n_recruiters++] = rm;
        }
        rc = pm_ctx_reply (ctx, &report->base);
    }
    free (w.recruiters);
    pm__recruitment__experience_report__free_unpacked (report, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_metrics_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.ExperienceReport", s_report);
}
