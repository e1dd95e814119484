/*  recruitment_offers.c: offers, their expiry and the hire.

    An offer is made after an interview (INTERVIEW_DONE -> OFFER_SENT) with
    pay inside the requisition's range and an expiry at most 90 days on.
    Accepting it moves the application to OFFER_ACCEPTED and on to HIRED in
    the same transaction, counts the hire into the requisition and emits
    recruitment.candidate.hired (a CandidateHired) for staffing, which
    makes exactly one staff member of it. An offer nobody answered lapses
    at its expiry (the 'x' index, walked by the timer): OFFER_EXPIRED.    */
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_offers.h"
#include "recruitment_pipeline.h"
#include "recruitment_requisitions.h"

#define OFFER_MAX_MS (90LL * 86400 * 1000)
#define EXPIRE_PER_TICK 100

//  The index key of an offer's expiry.
static void
s_due_key (pm_key_t *k, const rec_app_t *app)
{
    pm_key_init (k, REC_IX_OFFER_DUE);
    pm_key_u64 (k, (uint64_t) app->offer->expires_at);
    pm_key_str (k, app->id);
}

//  --------------------------------------------------------------------------
//  The rules of an offer against its requisition.
static pm_err
s_validate (pm_ctx_t *ctx, const Pm__Recruitment__Offer *o, const rec_job_t *j)
{
    if (!o) {
        return pm_ctx_fail (ctx, PM_EINVAL, "offer", "offer: is required");
    }
    pm_err rc = PM_OK;
    if (!o->has_pay_rate_minor || o->pay_rate_minor <= 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "offer.pay_rate_minor",
                          "offer.pay_rate_minor: is required, more than 0");
    }
    if (rc == PM_OK) {
        rc = rec_currency (ctx, "offer.currency", o->currency);
    }
    if (rc == PM_OK && strcmp (o->currency, j->salary->currency) != 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "offer.currency",
                          "offer.currency: the requisition pays in %s",
                          j->salary->currency);
    }
    if (rc == PM_OK && (o->pay_rate_minor < j->salary->min_minor
                        || o->pay_rate_minor > j->salary->max_minor)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "offer.pay_rate_minor",
                          "offer.pay_rate_minor: %lld is outside the requisition's "
                          "range %lld..%lld", (long long) o->pay_rate_minor,
                          (long long) j->salary->min_minor,
                          (long long) j->salary->max_minor);
    }
    if (rc == PM_OK) {
        rc = rec_date (ctx, "offer.start_date", o->start_date);
    }
    if (rc == PM_OK && o->employment_type) {
        rc = rec_employment_type (ctx, "offer.employment_type", o->employment_type);
    }
    if (rc == PM_OK && o->has_fte_permille
        && (o->fte_permille < 1 || o->fte_permille > 1000)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "offer.fte_permille",
                          "offer.fte_permille: must be 1..1000");
    }
    int64_t now = pm_ctx_now (ctx);
    if (rc == PM_OK && (!o->has_expires_at || o->expires_at <= now
                        || o->expires_at > now + OFFER_MAX_MS)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "offer.expires_at",
                          "offer.expires_at: is required, after now and at most 90 days "
                          "on");
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.MakeOffer
static pm_err
s_make (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__MakeOffer *req = (const void *) body;
    rec_app_t *app;
    pm_err rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    rec_job_t *j = NULL;
    rc = rec_check_version (ctx, app->id, app->version, req->has_expected_version,
                            req->expected_version, false);
    if (rc == PM_OK) {
        rc = rec_job_load (ctx, app->requisition_id, "application_id", &j);
    }
    if (rc == PM_OK) {
        rc = s_validate (ctx, req->offer, j);
    }
    if (rc == PM_OK) {
        rc = rec_pipeline_step (ctx, app, PM__RECRUITMENT__STAGE__OFFER_SENT, NULL,
                                "recruitment.MakeOffer");
    }
    if (rc == PM_OK) {
        //  The offer is the request's, copied so the record owns it.
        Pm__Recruitment__Offer *o = req->offer;
        size_t len = protobuf_c_message_get_packed_size (&o->base);
        uint8_t *buf = malloc (len + 1);
        protobuf_c_message_pack (&o->base, buf);
        pm__recruitment__offer__free_unpacked (app->offer, NULL);
        app->offer = pm__recruitment__offer__unpack (NULL, len, buf);
        free (buf);
        Pm__Recruitment__Offer *mine = app->offer;
        if (!mine->employment_type) {
            mine->employment_type = strdup (j->employment_type);
        }
        if (!mine->has_fte_permille) {
            mine->has_fte_permille = 1;
            mine->fte_permille = j->has_fte_permille ? j->fte_permille : 1000;
        }
        mine->has_sent_at = 1;
        mine->sent_at = pm_ctx_now (ctx);
        mine->has_answered_at = 0;
        pm_key_t k;
        s_due_key (&k, app);
        rc = rec_index (ctx, &k, app->id, true);
    }
    if (rc == PM_OK) {
        rc = rec_app_commit (ctx, app);
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Announces the hire for staffing: who, what, where, from when, for how
//  much.
static pm_err
s_announce (pm_ctx_t *ctx, const rec_app_t *app, const rec_job_t *j)
{
    Pm__Recruitment__Candidate *c;
    pm_err rc = rec_load (ctx, rec_db.candidates, app->candidate_id,
                          &pm__recruitment__candidate__descriptor, "application_id",
                          "candidate", &c);
    if (rc != PM_OK) {
        return rc;
    }
    const Pm__Recruitment__Offer *o = app->offer;
    Pm__Recruitment__CandidateHired h = PM__RECRUITMENT__CANDIDATE_HIRED__INIT;
    h.candidate_id = c->id;
    h.family_name = c->family_name;
    h.n_given_names = c->n_given_names;
    h.given_names = c->given_names;
    h.email = c->email;
    h.phone = c->phone;
    h.role = j->role;
    h.site_id = j->site_id;
    h.start_date = o->start_date;
    h.has_pay_rate_minor = h.has_fte_permille = 1;
    h.pay_rate_minor = o->pay_rate_minor;
    h.currency = o->currency;
    h.employment_type = o->employment_type;
    h.fte_permille = o->fte_permille;
    h.requisition_id = j->id;
    rc = pm_ctx_emit (ctx, "recruitment.candidate.hired", j->site_id, c->id, &h.base);
    pm__recruitment__candidate__free_unpacked (c, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.AcceptOffer and recruitment.DeclineOffer
static pm_err
s_answer (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__AnswerOffer *req = (const void *) body;
    const char *type = pm_ctx_request (ctx)->type;
    bool accept = strcmp (type, "recruitment.AcceptOffer") == 0;
    rec_app_t *app;
    pm_err rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    rec_job_t *j = NULL;
    pm_key_t due;
    pm_key_init (&due, REC_IX_OFFER_DUE);
    if (app->offer) {
        s_due_key (&due, app);
    }
    rc = rec_pipeline_step (ctx, app,
                            accept ? PM__RECRUITMENT__STAGE__OFFER_ACCEPTED
                                   : PM__RECRUITMENT__STAGE__OFFER_DECLINED,
                            req->reason, type);
    if (rc == PM_OK && accept) {
        rc = rec_job_load (ctx, app->requisition_id, "application_id", &j);
        if (rc == PM_OK && j->status != PM__RECRUITMENT__REQUISITION_STATUS__OPEN
            && j->status != PM__RECRUITMENT__REQUISITION_STATUS__ON_HOLD) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "application_id",
                              "application_id: requisition %s is no longer hiring "
                              "(filled or cancelled)", j->id);
        }
        if (rc == PM_OK) {
            rc = rec_pipeline_step (ctx, app, PM__RECRUITMENT__STAGE__HIRED, NULL, type);
        }
        if (rc == PM_OK) {
            rc = s_announce (ctx, app, j);
        }
        if (rc == PM_OK) {
            rc = rec_job_hired (ctx, j->id);
        }
    }
    if (rc == PM_OK) {
        app->offer->has_answered_at = 1;
        app->offer->answered_at = pm_ctx_now (ctx);
        rc = rec_index (ctx, &due, app->id, false);
    }
    if (rc == PM_OK) {
        rc = rec_app_commit (ctx, app);
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
pm_err
rec_offers_tick (pm_ctx_t *ctx)
{
    //  Collect first: the cursor must not walk over our own deletes.
    char ids[EXPIRE_PER_TICK][PM_ID_MAX];
    size_t n = 0;
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.index,
                                                  &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    uint8_t tag = REC_IX_OFFER_DUE;
    MDB_val key = {1, &tag}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < EXPIRE_PER_TICK && key.mv_size > 9
           && ((uint8_t *) key.mv_data)[0] == REC_IX_OFFER_DUE
           && (int64_t) pm_be64_get ((uint8_t *) key.mv_data + 1) <= pm_ctx_now (ctx)) {
        pm_val_str (&val, ids[n++], PM_ID_MAX);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rec_app_t *app;
        rc = rec_load (ctx, rec_db.applications, ids[i],
                       &pm__recruitment__application__descriptor, "application_id",
                       "application", &app);
        if (rc != PM_OK) {
            break;
        }
        pm_key_t due;
        s_due_key (&due, app);
        rc = rec_index (ctx, &due, app->id, false);
        if (rc == PM_OK && app->stage == PM__RECRUITMENT__STAGE__OFFER_SENT) {
            rc = rec_pipeline_step (ctx, app, PM__RECRUITMENT__STAGE__OFFER_EXPIRED, NULL,
                                    NULL);
            if (rc == PM_OK) {
                rc = rec_app_commit (ctx, app);
            }
        }
        pm__recruitment__application__free_unpacked (app, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_offers_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.MakeOffer", s_make);
    pm_server_handle (server, "recruitment.AcceptOffer", s_answer);
    pm_server_handle (server, "recruitment.DeclineOffer", s_answer);
}
