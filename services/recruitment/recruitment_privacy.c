/*  recruitment_privacy.c: consent, retention and erasure of candidates.

    Retention: when a candidate's last open process ends, retain_until is
    set to that moment plus their retention period (their own, else their
    site's default from the service levels, else 365 days; at once when
    they withdrew their consent to data processing) and indexed ('r'); a
    new application stops the clock. The timer erases whoever's date has
    passed; EraseCandidate does it on request once no process is open.

    Erasure removes what names or describes the person: names, e-mail,
    phone, CV reference, skills, the duplicate-detection entries (a new
    application with the same e-mail is a new candidate), their talent-pool
    entries (recruitment_pool.c), referrers and reasons on their
    applications, the texts of their messages, their survey comments and
    the notes on their scorecards. Ids, stages, times,
    sources, survey scores, ratings and breaches stay, so every figure of
    the experience report is the same after it. The candidate record
    stays as a tombstone (erased_at) so that reads and audits still
    resolve, and recruitment.candidate.erased says it happened. The same
    erasure starts the rewriting of the older events that carried their
    data (recruitment_redact.c), by the same rules: one function per
    message kind below, for records and events alike.                     */
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_experience.h"
#include "recruitment_pipeline.h"
#include "recruitment_pool.h"
#include "recruitment_privacy.h"
#include "recruitment_redact.h"

#define DAY_MS (86400LL * 1000)
#define RETENTION_DEFAULT_DAYS 365
#define ERASE_PER_TICK 50
#define STAGE(x) PM__RECRUITMENT__STAGE__##x

//  True for the stages a process ends in.
static bool
s_ended (Pm__Recruitment__Stage s)
{
    return s == STAGE (HIRED) || s == STAGE (REJECTED) || s == STAGE (WITHDRAWN)
           || s == STAGE (OFFER_DECLINED) || s == STAGE (OFFER_EXPIRED);
}

//  The retention index key of a candidate.
static void
s_retain_key (pm_key_t *k, const rec_cand_t *c)
{
    pm_key_init (k, REC_IX_RETAIN);
    pm_key_u64 (k, (uint64_t) c->retain_until);
    pm_key_str (k, c->id);
}

typedef struct {
    pm_ctx_t *ctx;
    const rec_app_t *current;   //  in memory, newer than the store
    char open[PM_ID_MAX];       //  an open application, if any
    int64_t last_end;           //  when the latest process ended
    char site[PM_KEY_MAX];     //  the site of that process
} s_procs_t;

//  Looks at one application of the candidate.
static int
s_procs_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_procs_t *p = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *m = NULL;
    const rec_app_t *a = p->current;
    if (!a || strcmp (a->id, id) != 0) {
        pm_err rc = pm_store_get_msg (pm_ctx_txn (p->ctx), rec_db.applications, id,
                                      strlen (id),
                                      &pm__recruitment__application__descriptor, &m);
        if (rc != PM_OK) {
            return rc;
        }
        a = (const rec_app_t *) m;
    }
    if (!s_ended (a->stage)) {
        snprintf (p->open, sizeof p->open, "%s", a->id);
    }
    else if (a->n_history && a->history[a->n_history - 1]->at >= p->last_end) {
        p->last_end = a->history[a->n_history - 1]->at;
        snprintf (p->site, sizeof p->site, "%s", a->site_id);
    }
    protobuf_c_message_free_unpacked (m, NULL);
    return p->open[0] ? PM_SCAN_STOP : 0;
}

//  The candidate's processes: one still open, or when the last ended.
static pm_err
s_procs (pm_ctx_t *ctx, const rec_cand_t *c, const rec_app_t *current, s_procs_t *p)
{
    memset (p, 0, sizeof *p);
    p->ctx = ctx;
    p->current = current;
    pm_key_t k;
    pm_key_init (&k, REC_IX_APP_BY_CAND);
    pm_key_str (&k, c->id);
    return rec_scan (ctx, &k, s_procs_one, p);
}

//  --------------------------------------------------------------------------
//  Sets (or clears) the candidate's retain_until from their processes and
//  their consent; true in *changed when it moved.
static pm_err
s_retention (pm_ctx_t *ctx, rec_cand_t *c, const rec_app_t *current, bool *changed)
{
    *changed = false;
    s_procs_t p;
    pm_err rc = s_procs (ctx, c, current, &p);
    if (rc != PM_OK || c->has_erased_at) {
        return rc;
    }
    bool has = false;
    int64_t until = 0;
    if (!p.open[0] && p.last_end > 0) {
        int64_t days = c->retention_days;
        if (!days) {
            rec_levels_t *l;
            rc = rec_levels_get (ctx, p.site, &l);
            if (rc != PM_OK) {
                return rc;
            }
            days = l->retention_days ? l->retention_days : RETENTION_DEFAULT_DAYS;
            pm__recruitment__service_levels__free_unpacked (l, NULL);
        }
        bool withdrawn = c->consent && c->consent->has_data_processing
                         && !c->consent->data_processing;
        has = true;
        until = withdrawn ? pm_ctx_now (ctx) : p.last_end + days * DAY_MS;
    }
    if (has == (bool) c->has_retain_until && (!has || until == c->retain_until)) {
        return PM_OK;
    }
    pm_key_t k;
    if (c->has_retain_until) {
        s_retain_key (&k, c);
        rc = rec_index (ctx, &k, c->id, false);
    }
    c->has_retain_until = has;
    c->retain_until = until;
    if (rc == PM_OK && has) {
        s_retain_key (&k, c);
        rc = rec_index (ctx, &k, c->id, true);
    }
    *changed = true;
    return rc;
}

pm_err
rec_privacy_ended (pm_ctx_t *ctx, const rec_app_t *app)
{
    rec_cand_t *c;
    pm_err rc = rec_load (ctx, rec_db.candidates, app->candidate_id,
                          &pm__recruitment__candidate__descriptor, "application_id",
                          "candidate", &c);
    if (rc != PM_OK) {
        return rc;
    }
    bool changed;
    rc = s_retention (ctx, c, app, &changed);
    if (rc == PM_OK && changed) {
        c->version++;
        c->updated_at = pm_ctx_now (ctx);
        rc = rec_put (ctx, rec_db.candidates, c->id, &c->base);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "recruitment.candidate.updated", app->site_id, c->id,
                              &c->base);
        }
    }
    pm__recruitment__candidate__free_unpacked (c, NULL);
    return rc;
}

bool
rec_privacy_reopened (pm_ctx_t *ctx, rec_cand_t *c)
{
    if (!c->has_retain_until) {
        return false;
    }
    pm_key_t k;
    s_retain_key (&k, c);
    rec_index (ctx, &k, c->id, false);
    c->has_retain_until = 0;
    c->retain_until = 0;
    return true;
}

Pm__Recruitment__Consent *
rec_consent_stamp (pm_ctx_t *ctx, const Pm__Recruitment__Consent *in)
{
    if (!in) {
        return NULL;
    }
    Pm__Recruitment__Consent *c = calloc (1, sizeof *c);
    pm__recruitment__consent__init (c);
    c->has_data_processing = c->has_talent_pool = c->has_recorded_at = 1;
    c->data_processing = in->has_data_processing && in->data_processing;
    c->talent_pool = in->has_talent_pool && in->talent_pool;
    c->recorded_at = pm_ctx_now (ctx);
    c->recorded_by = strdup (pm_ctx_principal (ctx)->name);
    return c;
}

//  --------------------------------------------------------------------------
//  recruitment.SetCandidatePrivacy
static pm_err
s_set_privacy (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__SetCandidatePrivacy *req = (const void *) body;
    if (!req->consent && !req->has_retention_days) {
        return pm_ctx_fail (ctx, PM_EINVAL, "consent",
                            "consent: consent or retention_days is required");
    }
    if (req->has_retention_days
        && (req->retention_days < 1 || req->retention_days > 3650)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "retention_days",
                            "retention_days: must be 1..3650");
    }
    rec_cand_t *c;
    pm_err rc = rec_cand_open (ctx, req->candidate_id, "candidate_id", &c);
    if (rc != PM_OK) {
        return rc;
    }
    if (c->has_erased_at) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "candidate_id",
                          "candidate_id: %s was erased", c->id);
    }
    if (rc == PM_OK) {
        rc = rec_check_version (ctx, c->id, c->version, req->has_expected_version,
                                req->expected_version, false);
    }
    bool changed;
    if (rc == PM_OK) {
        if (req->consent) {
            pm__recruitment__consent__free_unpacked (c->consent, NULL);
            c->consent = rec_consent_stamp (ctx, req->consent);
        }
        if (req->has_retention_days) {
            c->has_retention_days = 1;
            c->retention_days = req->retention_days;
        }
        rc = s_retention (ctx, c, NULL, &changed);
    }
    if (rc == PM_OK) {
        c->version++;
        c->updated_at = pm_ctx_now (ctx);
        rc = rec_commit (ctx, rec_db.candidates, c->id, &c->base,
                         "recruitment.candidate.updated",
                         c->n_site_ids ? c->site_ids[0] : "");
    }
    //  Consent given or withdrawn, retention moved: in or out of the pool.
    if (rc == PM_OK) {
        rc = rec_pool_sync (pm_ctx_txn (ctx), c, NULL);
    }
    pm__recruitment__candidate__free_unpacked (c, NULL);
    return rc;
}

//  --- the erasure's rules ---------------------------------------------------

//  Frees *field and leaves it unset.
static void
s_drop (char **field)
{
    free (*field);
    *field = NULL;
}

void
rec_erase_candidate_fields (rec_cand_t *c)
{
    s_drop (&c->family_name);
    s_drop (&c->email);
    s_drop (&c->phone);
    s_drop (&c->cv_ref);
    for (size_t i = 0; i < c->n_given_names; i++) {
        free (c->given_names[i]);
    }
    free (c->given_names);
    c->given_names = NULL;
    c->n_given_names = 0;
    for (size_t i = 0; i < c->n_skills; i++) {
        free (c->skills[i]);
    }
    free (c->skills);
    c->skills = NULL;
    c->n_skills = 0;
}

void
rec_erase_application_fields (rec_app_t *a)
{
    s_drop (&a->referrer);
    for (size_t i = 0; i < a->n_history; i++) {
        s_drop (&a->history[i]->reason);
    }
}

void
rec_erase_interview_fields (Pm__Recruitment__Interview *itv)
{
    for (size_t i = 0; i < itv->n_scorecards; i++) {
        Pm__Recruitment__Scorecard *s = itv->scorecards[i];
        s_drop (&s->notes);
        for (size_t r = 0; r < s->n_ratings; r++) {
            s_drop (&s->ratings[r]->notes);
        }
    }
    for (size_t i = 0; i < itv->n_history; i++) {
        s_drop (&itv->history[i]->reason);
    }
}

void
rec_erase_message_fields (Pm__Recruitment__CandidateMessage *m)
{
    s_drop (&m->text);
    m->has_erased = m->erased = 1;
}

void
rec_erase_survey_fields (Pm__Recruitment__Survey *s)
{
    s_drop (&s->comment);
    s->has_erased = s->erased = 1;
}

const char *
rec_erase_whose (const ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pm__recruitment__candidate__descriptor) {
        return ((const rec_cand_t *) m)->id;
    }
    if (d == &pm__recruitment__application__descriptor) {
        return ((const rec_app_t *) m)->candidate_id;
    }
    if (d == &pm__recruitment__interview__descriptor) {
        return ((const Pm__Recruitment__Interview *) m)->candidate_id;
    }
    if (d == &pm__recruitment__candidate_message__descriptor) {
        return ((const Pm__Recruitment__CandidateMessage *) m)->candidate_id;
    }
    if (d == &pm__recruitment__survey__descriptor) {
        return ((const Pm__Recruitment__Survey *) m)->candidate_id;
    }
    return NULL;
}

void
rec_erase_fields (ProtobufCMessage *m)
{
    const ProtobufCMessageDescriptor *d = m->descriptor;
    if (d == &pm__recruitment__candidate__descriptor) {
        rec_erase_candidate_fields ((rec_cand_t *) m);
    }
    else if (d == &pm__recruitment__application__descriptor) {
        rec_erase_application_fields ((rec_app_t *) m);
    }
    else if (d == &pm__recruitment__interview__descriptor) {
        rec_erase_interview_fields ((Pm__Recruitment__Interview *) m);
    }
    else if (d == &pm__recruitment__candidate_message__descriptor) {
        rec_erase_message_fields ((Pm__Recruitment__CandidateMessage *) m);
    }
    else if (d == &pm__recruitment__survey__descriptor) {
        rec_erase_survey_fields ((Pm__Recruitment__Survey *) m);
    }
}

//  --------------------------------------------------------------------------
//  Removes what the interviewers wrote about the person.
static int
s_erase_itv (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    pm_ctx_t *ctx = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), rec_db.interviews, id, strlen (id),
                                  &pm__recruitment__interview__descriptor, &m);
    if (rc != PM_OK) {
        return rc;
    }
    rec_erase_interview_fields ((Pm__Recruitment__Interview *) m);
    rc = rec_put (ctx, rec_db.interviews, id, m);
    protobuf_c_message_free_unpacked (m, NULL);
    return rc;
}

//  Removes the personal parts of one application and what hangs off it.
static int
s_erase_app (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    pm_ctx_t *ctx = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), rec_db.applications, id,
                                  strlen (id), &pm__recruitment__application__descriptor,
                                  &m);
    if (rc != PM_OK) {
        return rc;
    }
    rec_app_t *a = (rec_app_t *) m;
    rec_erase_application_fields (a);
    a->version++;
    rc = rec_put (ctx, rec_db.applications, id, m);
    protobuf_c_message_free_unpacked (m, NULL);
    if (rc == PM_OK) {
        rc = rec_experience_erase (ctx, id);
    }
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_ITV_BY_APP);
        pm_key_str (&k, id);
        rc = rec_scan (ctx, &k, s_erase_itv, ctx);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Erases candidate `c` (loaded, no open process): stores the tombstone,
//  emits recruitment.candidate.erased, replies with it when asked, and
//  starts the rewriting of the older events about them.
static pm_err
s_erase (pm_ctx_t *ctx, rec_cand_t *c, const char *reason)
{
    pm_err rc = rec_cand_forget_contact (ctx, c);
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_APP_BY_CAND);
        pm_key_str (&k, c->id);
        rc = rec_scan (ctx, &k, s_erase_app, ctx);
    }
    if (rc == PM_OK && c->has_retain_until) {
        pm_key_t k;
        s_retain_key (&k, c);
        rc = rec_index (ctx, &k, c->id, false);
        c->has_retain_until = 0;
    }
    if (rc != PM_OK) {
        return rc;
    }
    rec_erase_candidate_fields (c);
    int64_t now = pm_ctx_now (ctx);
    c->has_erased_at = 1;
    c->erased_at = now;
    c->erased_by = strdup (pm_ctx_principal (ctx)->name);
    c->erase_reason = strdup (reason);
    c->version++;
    c->updated_at = now;
    rc = rec_commit (ctx, rec_db.candidates, c->id, &c->base,
                     "recruitment.candidate.erased", c->n_site_ids ? c->site_ids[0] : "");
    if (rc == PM_OK) {
        rc = rec_pool_sync (pm_ctx_txn (ctx), c, NULL); //  out of the pool
    }
    return rc == PM_OK ? rec_redaction_start (ctx, c) : rc;
}

//  --------------------------------------------------------------------------
//  recruitment.EraseCandidate
static pm_err
s_erase_candidate (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__EraseCandidate *req = (const void *) body;
    pm_err rc = rec_text (ctx, "reason", req->reason, true, 500);
    if (rc != PM_OK) {
        return rc;
    }
    rec_cand_t *c;
    rc = rec_cand_open (ctx, req->candidate_id, "candidate_id", &c);
    if (rc != PM_OK) {
        return rc;
    }
    s_procs_t p;
    if (c->has_erased_at) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "candidate_id",
                          "candidate_id: %s was erased already", c->id);
    }
    if (rc == PM_OK) {
        rc = s_procs (ctx, c, NULL, &p);
    }
    if (rc == PM_OK && p.open[0]) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "candidate_id",
                          "candidate_id: application %s is still open; withdraw or "
                          "reject it first", p.open);
    }
    if (rc == PM_OK) {
        rc = s_erase (ctx, c, req->reason);
    }
    pm__recruitment__candidate__free_unpacked (c, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
pm_err
rec_privacy_tick (pm_ctx_t *ctx)
{
    char ids[ERASE_PER_TICK][PM_ID_MAX];
    size_t n = 0;
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.index,
                                                  &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    uint8_t tag = REC_IX_RETAIN;
    MDB_val key = {1, &tag}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < ERASE_PER_TICK && key.mv_size > 9
           && ((uint8_t *) key.mv_data)[0] == REC_IX_RETAIN
           && (int64_t) pm_be64_get ((uint8_t *) key.mv_data + 1) <= pm_ctx_now (ctx)) {
        pm_val_str (&val, ids[n++], PM_ID_MAX);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rec_cand_t *c;
        rc = rec_load (ctx, rec_db.candidates, ids[i],
                       &pm__recruitment__candidate__descriptor, "candidate_id",
                       "candidate", &c);
        if (rc != PM_OK) {
            break;
        }
        pm_ctx_audit (ctx, c->id, c->n_site_ids ? c->site_ids[0] : "");
        s_procs_t p;
        rc = s_procs (ctx, c, NULL, &p);
        if (rc == PM_OK && p.open[0]) {
            //  Applied again: the clock stops (Apply does this too).
            rec_privacy_reopened (ctx, c);
            rc = rec_put (ctx, rec_db.candidates, c->id, &c->base);
            if (rc == PM_OK) {
                rc = rec_pool_sync (pm_ctx_txn (ctx), c, NULL);
            }
        }
        else if (rc == PM_OK) {
            rc = s_erase (ctx, c, "retention ended");
        }
        pm__recruitment__candidate__free_unpacked (c, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_privacy_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.SetCandidatePrivacy", s_set_privacy);
    pm_server_handle (server, "recruitment.EraseCandidate", s_erase_candidate);
}
