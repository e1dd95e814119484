/*  recruitment_experience.c: service levels, breaches, the message log
    and the candidate survey.

    A service-level clock is an index entry ('w' kind site start subject)
    written when the promise starts to run: an application received
    (acknowledge), an application reaching INTERVIEW_DONE (decide), a
    message from the candidate (answer). What keeps the promise deletes
    it: the first step a person takes or a message to the candidate; any
    step out of INTERVIEW_DONE; a message to the candidate after theirs.
    The timer walks the clocks of each site and kind oldest first and
    stops at the first one still inside the site's limit in force; a
    clock past it is deleted and its Breach stored in the same
    transaction, so each breach is emitted exactly once, also across
    restarts and clocks that moved while the service was down.            */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_experience.h"
#include "recruitment_pipeline.h"
#include "recruitment_privacy.h"
#include "recruitment_requisitions.h"

#define HOUR_MS (3600LL * 1000)
#define BREACHES_PER_TICK 200
#define KIND(x) PM__RECRUITMENT__BREACH_KIND__##x
#define STAGE(x) PM__RECRUITMENT__STAGE__##x

typedef Pm__Recruitment__CandidateMessage rec_msg_t;
typedef Pm__Recruitment__Breach rec_breach_t;

//  --------------------------------------------------------------------------
//  The key of a running clock.
static void
s_clock_key (pm_key_t *k, Pm__Recruitment__BreachKind kind, const char *site,
             int64_t start, const char *subject)
{
    pm_key_init (k, REC_IX_CLOCK);
    k->b[k->len++] = (uint8_t) ('0' + kind);
    pm_key_str (k, site);
    pm_key_u64 (k, (uint64_t) start);
    pm_key_str (k, subject);
}

//  Starts (add) or stops (!add) a clock.
static pm_err
s_clock (pm_ctx_t *ctx, Pm__Recruitment__BreachKind kind, const char *site,
         int64_t start, const char *subject, bool add)
{
    pm_key_t k;
    s_clock_key (&k, kind, site, start, subject);
    return rec_index (ctx, &k, subject, add);
}

pm_err
rec_sla_applied (pm_ctx_t *ctx, const rec_app_t *app)
{
    return s_clock (ctx, KIND (ACKNOWLEDGE), app->site_id, app->applied_at, app->id,
                    true);
}

pm_err
rec_sla_stepped (pm_ctx_t *ctx, const rec_app_t *app, Pm__Recruitment__Stage from,
                 int64_t from_at, bool by_person)
{
    pm_err rc = PM_OK;
    if (by_person) {
        rc = s_clock (ctx, KIND (ACKNOWLEDGE), app->site_id, app->applied_at, app->id,
                      false);
    }
    if (rc == PM_OK && from == STAGE (INTERVIEW_DONE)) {
        rc = s_clock (ctx, KIND (DECIDE), app->site_id, from_at, app->id, false);
    }
    if (rc == PM_OK && app->stage == STAGE (INTERVIEW_DONE)) {
        rc = s_clock (ctx, KIND (DECIDE), app->site_id, pm_ctx_now (ctx), app->id, true);
    }
    return rc;
}

//  --------------------------------------------------------------------------
pm_err
rec_levels_get (pm_ctx_t *ctx, const char *site, rec_levels_t **out)
{
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), rec_db.levels, site, strlen (site),
                                  &pm__recruitment__service_levels__descriptor,
                                  (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        *out = calloc (1, sizeof **out);
        pm__recruitment__service_levels__init (*out);
        (*out)->site_id = strdup (site);
        (*out)->has_version = 1;
        rc = PM_OK;
    }
    return rc;
}

//  The limit of `kind` in ms (0: not measured) and in hours.
static int64_t
s_limit_ms (const rec_levels_t *l, int kind, uint32_t *hours)
{
    *hours = kind == KIND (ACKNOWLEDGE) ? l->acknowledge_hours
             : kind == KIND (DECIDE)    ? l->decide_days * 24
             : kind == KIND (ANSWER)    ? l->answer_hours
                                        : 0;
    return *hours * HOUR_MS;
}

//  --------------------------------------------------------------------------
//  recruitment.SetServiceLevels
static pm_err
s_set_levels (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__SetServiceLevels *req = (const void *) body;
    const rec_levels_t *in = req->levels;
    if (!in) {
        return pm_ctx_fail (ctx, PM_EINVAL, "levels", "levels: is required");
    }
    pm_err rc = rec_token (ctx, "levels.site_id", in->site_id, 64);
    if (rc == PM_OK) {
        rc = rec_access (ctx, in->site_id, "levels.site_id");
    }
    struct {
        const char *field;
        uint32_t value, max;
    } limits[] = {
        {"levels.acknowledge_hours", in->acknowledge_hours, 720},
        {"levels.decide_days", in->decide_days, 90},
        {"levels.answer_hours", in->answer_hours, 720},
        {"levels.retention_days", in->retention_days, 3650},
    };
    for (size_t i = 0; rc == PM_OK && i < 4; i++) {
        if (limits[i].value > limits[i].max) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, limits[i].field,
                              "%s: %u is more than %u (0 or unset: not measured)",
                              limits[i].field, limits[i].value, limits[i].max);
        }
    }
    rec_levels_t *old = NULL;
    if (rc == PM_OK) {
        rc = rec_levels_get (ctx, in->site_id, &old);
    }
    if (rc == PM_OK && old->version > 0) {
        rc = rec_check_version (ctx, in->site_id, old->version,
                                req->has_expected_version, req->expected_version, true);
    }
    if (rc == PM_OK) {
        rec_levels_t l = *in;
        l.has_version = l.has_updated_at = 1;
        l.has_acknowledge_hours = l.has_decide_days = l.has_answer_hours = 1;
        l.version = old->version + 1;
        l.updated_by = (char *) pm_ctx_principal (ctx)->name;
        l.updated_at = pm_ctx_now (ctx);
        rc = rec_commit (ctx, rec_db.levels, l.site_id, &l.base,
                         "recruitment.service_levels.set", l.site_id);
    }
    pm__recruitment__service_levels__free_unpacked (old, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.GetServiceLevels
static pm_err
s_get_levels (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__GetServiceLevels *req = (const void *) body;
    pm_err rc = rec_token (ctx, "site_id", req->site_id, 64);
    if (rc == PM_OK) {
        rc = rec_access (ctx, req->site_id, "site_id");
    }
    if (rc == PM_OK) {
        rec_levels_t *l;
        rc = rec_levels_get (ctx, req->site_id, &l);
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &l->base);
            pm__recruitment__service_levels__free_unpacked (l, NULL);
        }
    }
    return rc;
}

//  --- breaches -------------------------------------------------------------

typedef struct {
    int kind;
    char site[PM_KEY_MAX];
    int64_t start;
    char subject[PM_ID_MAX];
    uint32_t hours;
    int64_t limit;
} s_due_t;

//  --------------------------------------------------------------------------
//  Turns one lapsed clock into a breach: stored, indexed, emitted.
static pm_err
s_breach (pm_ctx_t *ctx, const s_due_t *d)
{
    pm_err rc = s_clock (ctx, (Pm__Recruitment__BreachKind) d->kind, d->site, d->start,
                         d->subject, false);
    rec_msg_t *m = NULL;
    rec_app_t *app = NULL;
    rec_job_t *j = NULL;
    const char *app_id = d->subject;
    if (rc == PM_OK && d->kind == KIND (ANSWER)) {
        rc = rec_load (ctx, rec_db.messages, d->subject,
                       &pm__recruitment__candidate_message__descriptor, "message_id",
                       "message", &m);
        app_id = m ? m->application_id : NULL;
    }
    if (rc == PM_OK) {
        rc = rec_load (ctx, rec_db.applications, app_id,
                       &pm__recruitment__application__descriptor, "application_id",
                       "application", &app);
    }
    if (rc == PM_OK) {
        rc = rec_job_load (ctx, app->requisition_id, "requisition_id", &j);
    }
    if (rc == PM_OK) {
        char id[PM_ID_MAX];
        int64_t now = pm_ctx_now (ctx);
        pm_id_new ("brc", now, id);
        rec_breach_t b = PM__RECRUITMENT__BREACH__INIT;
        b.id = id;
        b.has_kind = b.has_started_at = b.has_due_at = b.has_detected_at = 1;
        b.has_limit_hours = 1;
        b.kind = (Pm__Recruitment__BreachKind) d->kind;
        b.site_id = app->site_id;
        b.requisition_id = app->requisition_id;
        b.application_id = app->id;
        b.message_id = m ? m->id : NULL;
        b.recruiter = j->recruiter && *j->recruiter ? j->recruiter : j->created_by;
        b.started_at = d->start;
        b.due_at = d->start + d->limit;
        b.detected_at = now;
        b.limit_hours = d->hours;
        pm_key_t k;
        pm_key_init (&k, REC_IX_BREACH_BY_SITE);
        pm_key_str (&k, b.site_id);
        pm_key_u64 (&k, (uint64_t) now);
        pm_key_str (&k, id);
        rc = rec_index (ctx, &k, id, true);
        if (rc == PM_OK) {
            pm_key_init (&k, REC_IX_BREACH_BY_JOB);
            pm_key_str (&k, b.requisition_id);
            pm_key_str (&k, id);
            rc = rec_index (ctx, &k, id, true);
        }
        if (rc == PM_OK) {
            rc = rec_commit (ctx, rec_db.breaches, id, &b.base,
                             "recruitment.sla.breached", b.site_id);
        }
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    pm__recruitment__application__free_unpacked (app, NULL);
    pm__recruitment__candidate_message__free_unpacked (m, NULL);
    return rc;
}

pm_err
rec_sla_tick (pm_ctx_t *ctx)
{
    //  Collect first: the cursor must not walk over our own deletes.
    s_due_t *due = calloc (BREACHES_PER_TICK, sizeof *due);
    size_t n = 0;
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.index,
                                                  &cursor));
    if (rc != PM_OK) {
        free (due);
        return rc;
    }
    int64_t now = pm_ctx_now (ctx);
    rec_levels_t *levels = NULL;
    uint8_t tag = REC_IX_CLOCK;
    MDB_val key = {1, &tag}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && n < BREACHES_PER_TICK && key.mv_size > 2
           && ((uint8_t *) key.mv_data)[0] == REC_IX_CLOCK) {
        const uint8_t *b = key.mv_data;
        const uint8_t *nul = memchr (b + 2, 0, key.mv_size - 2);
        if (!nul || (size_t) (nul - b) + 10 > key.mv_size) {
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
            continue;
        }
        s_due_t *d = &due[n];
        d->kind = b[1] - '0';
        size_t site_len = (size_t) (nul - (b + 2));
        memcpy (d->site, b + 2, site_len);
        d->site[site_len] = 0;
        d->start = (int64_t) pm_be64_get (nul + 1);
        if (!levels || strcmp (levels->site_id, d->site) != 0) {
            pm__recruitment__service_levels__free_unpacked (levels, NULL);
            rc = rec_levels_get (ctx, d->site, &levels);
            if (rc != PM_OK) {
                levels = NULL;
                break;
            }
        }
        d->limit = s_limit_ms (levels, d->kind, &d->hours);
        if (d->limit > 0 && d->start + d->limit <= now) {
            pm_val_str (&val, d->subject, PM_ID_MAX);
            n++;
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
            continue;
        }
        //  The oldest of this site and kind is still inside its limit (or
        //  none is set): so are the rest; on to the next site.
        uint8_t next[PM_KEY_MAX];
        size_t len = (size_t) (nul - b) + 1;
        memcpy (next, b, len);
        memset (next + len, 0xff, 8);
        key.mv_size = len + 8;
        key.mv_data = next;
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    }
    mdb_cursor_close (cursor);
    pm__recruitment__service_levels__free_unpacked (levels, NULL);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rc = s_breach (ctx, &due[i]);
    }
    free (due);
    return rc;
}

//  Which breaches a ListBreaches asks for.
typedef struct {
    int kind;                //  0: every kind
    int64_t from, to;        //  detected in [from, to); to 0: open-ended
} s_breach_filter_t;

static bool
s_breach_wanted (pm_ctx_t *ctx, const ProtobufCMessage *m, const void *arg)
{
    (void) ctx;
    const s_breach_filter_t *f = arg;
    const rec_breach_t *b = (const rec_breach_t *) m;
    return !(f->kind && (int) b->kind != f->kind) && b->detected_at >= f->from
           && !(f->to && b->detected_at >= f->to);
}

//  --------------------------------------------------------------------------
//  recruitment.ListBreaches
static pm_err
s_list_breaches (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListBreaches *req = (const void *) body;
    pm_err rc = rec_token (ctx, "site_id", req->site_id, 64);
    if (rc == PM_OK) {
        rc = rec_access (ctx, req->site_id, "site_id");
    }
    if (rc == PM_OK && req->has_kind
        && !protobuf_c_enum_descriptor_get_value (&pm__recruitment__breach_kind__descriptor,
                                                  (int) req->kind)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "kind",
                          "kind: is not ACKNOWLEDGE, DECIDE or ANSWER");
    }
    if (rc == PM_OK && req->to && req->to <= req->from) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to", "to: must be after from");
    }
    if (rc != PM_OK) {
        return rc;
    }
    s_breach_filter_t filter = {req->has_kind ? (int) req->kind : 0, req->from, req->to};
    pm_key_t k;
    pm_key_init (&k, REC_IX_BREACH_BY_SITE);
    pm_key_str (&k, req->site_id);
    rec_listing_t found;
    rc = rec_listing_load (ctx, &k, rec_db.breaches, &pm__recruitment__breach__descriptor,
                           s_breach_wanted, &filter, &found);
    if (rc == PM_OK) {
        Pm__Recruitment__BreachList list = PM__RECRUITMENT__BREACH_LIST__INIT;
        list.breaches = (rec_breach_t **) found.items;
        list.n_breaches = found.n;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    rec_listing_free (&found);
    return rc;
}

typedef struct {
    pm_ctx_t *ctx;
    uint32_t *counts;
} s_bcount_t;

//  Counts one breach of a requisition by kind.
static int
s_bcount_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_bcount_t *c = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (c->ctx), rec_db.breaches, id, strlen (id),
                                  &pm__recruitment__breach__descriptor, &m);
    if (rc != PM_OK) {
        return rc;
    }
    int kind = (int) ((rec_breach_t *) m)->kind;
    c->counts[0]++;
    if (kind >= 1 && kind <= 3) {
        c->counts[kind]++;
    }
    protobuf_c_message_free_unpacked (m, NULL);
    return 0;
}

pm_err
rec_breach_counts (pm_ctx_t *ctx, const char *job_id, uint32_t counts[4])
{
    s_bcount_t c = {ctx, counts};
    pm_key_t k;
    pm_key_init (&k, REC_IX_BREACH_BY_JOB);
    pm_key_str (&k, job_id);
    return rec_scan (ctx, &k, s_bcount_one, &c);
}

//  --- messages -------------------------------------------------------------

//  The key of a message in an application's log ('m') or unanswered ('u').
static void
s_msg_key (pm_key_t *k, char tag, const rec_msg_t *m)
{
    pm_key_init (k, tag);
    pm_key_str (k, m->application_id);
    pm_key_u64 (k, (uint64_t) m->at);
    pm_key_str (k, m->id);
}

//  --------------------------------------------------------------------------
//  The rules of a logged message and who may log it.
static pm_err
s_msg_validate (pm_ctx_t *ctx, const rec_msg_t *m, const rec_app_t *app)
{
    bool in = m->direction == PM__RECRUITMENT__DIRECTION__INBOUND;
    bool out = m->direction == PM__RECRUITMENT__DIRECTION__OUTBOUND;
    if (!m->has_direction || (!in && !out)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "message.direction",
                            "message.direction: is required (INBOUND or OUTBOUND)");
    }
    unsigned role = pm_ctx_principal (ctx)->role;
    if ((role == PM_ROLE_GATEWAY && out) || (role == PM_ROLE_HIRING_MANAGER && in)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, "message.direction",
                            "message.direction: a %s logs %s messages only",
                            rec_role_name (ctx), in ? "OUTBOUND" : "INBOUND");
    }
    pm_err rc = rec_token (ctx, "message.channel", m->channel, 32);
    if (rc == PM_OK && m->template_ && *m->template_) {
        rc = in ? pm_ctx_fail (ctx, PM_EINVAL, "message.template",
                               "message.template: a candidate's message has no template")
                : rec_token (ctx, "message.template", m->template_, 64);
    }
    if (rc == PM_OK) {
        bool need_text = in || !m->template_ || !*m->template_;
        rc = rec_text (ctx, "message.text", m->text, need_text, 4000);
    }
    int64_t now = pm_ctx_now (ctx);
    if (rc == PM_OK && m->has_at && (m->at > now || m->at < app->applied_at)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "message.at",
                          "message.at: must be between the application (%lld) and now",
                          (long long) app->applied_at);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  An outbound message answers every earlier unanswered inbound one.
static pm_err
s_answer_inbound (pm_ctx_t *ctx, const rec_msg_t *out)
{
    char ids[64][PM_ID_MAX];
    size_t n = 0;
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.index,
                                                  &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    pm_key_t prefix;
    pm_key_init (&prefix, REC_IX_UNANSWERED);
    pm_key_str (&prefix, out->application_id);
    MDB_val key = {prefix.len, prefix.b}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < 64 && key.mv_size >= prefix.len + 8
           && memcmp (key.mv_data, prefix.b, prefix.len) == 0
           && (int64_t) pm_be64_get ((uint8_t *) key.mv_data + prefix.len) <= out->at) {
        pm_val_str (&val, ids[n++], PM_ID_MAX);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rec_msg_t *m;
        rc = rec_load (ctx, rec_db.messages, ids[i],
                       &pm__recruitment__candidate_message__descriptor, "message",
                       "message", &m);
        if (rc != PM_OK) {
            break;
        }
        pm_key_t k;
        s_msg_key (&k, REC_IX_UNANSWERED, m);
        rc = rec_index (ctx, &k, m->id, false);
        if (rc == PM_OK) {
            rc = s_clock (ctx, KIND (ANSWER), m->site_id, m->at, m->id, false);
        }
        if (rc == PM_OK) {
            m->has_answered_at = 1;
            m->answered_at = out->at;
            free (m->answered_by);
            m->answered_by = strdup (out->id);
            rc = rec_put (ctx, rec_db.messages, m->id, &m->base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "recruitment.message.answered", m->site_id, m->id,
                              &m->base);
        }
        pm__recruitment__candidate_message__free_unpacked (m, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.LogMessage
static pm_err
s_log_message (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__LogMessage *req = (const void *) body;
    const rec_msg_t *in = req->message;
    if (!in) {
        return pm_ctx_fail (ctx, PM_EINVAL, "message", "message: is required");
    }
    rec_app_t *app;
    pm_err rc = rec_app_open (ctx, in->application_id, "message.application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    rc = s_msg_validate (ctx, in, app);
    if (rc == PM_OK) {
        int64_t now = pm_ctx_now (ctx);
        char id[PM_ID_MAX];
        pm_id_new ("msg", now, id);
        rec_msg_t m = *in;
        m.id = id;
        m.application_id = app->id;
        m.candidate_id = app->candidate_id;
        m.requisition_id = app->requisition_id;
        m.site_id = app->site_id;
        m.has_at = 1;
        m.at = in->has_at ? in->at : now;
        m.recorded_by = (char *) pm_ctx_principal (ctx)->name;
        m.actor_role = (char *) rec_role_name (ctx);
        m.has_answered_at = m.has_erased = 0;
        m.answered_by = NULL;
        if (m.template_ && !*m.template_) {
            m.template_ = NULL;
        }
        bool inbound = m.direction == PM__RECRUITMENT__DIRECTION__INBOUND;
        pm_key_t k;
        s_msg_key (&k, REC_IX_MSG_BY_APP, &m);
        rc = rec_index (ctx, &k, id, true);
        if (rc == PM_OK && inbound) {
            s_msg_key (&k, REC_IX_UNANSWERED, &m);
            rc = rec_index (ctx, &k, id, true);
            if (rc == PM_OK) {
                rc = s_clock (ctx, KIND (ANSWER), m.site_id, m.at, id, true);
            }
        }
        if (rc == PM_OK && !inbound) {
            //  A word to the candidate acknowledges their application.
            rc = s_clock (ctx, KIND (ACKNOWLEDGE), app->site_id, app->applied_at, app->id,
                          false);
            if (rc == PM_OK) {
                rc = s_answer_inbound (ctx, &m);
            }
        }
        if (rc == PM_OK) {
            rc = rec_commit (ctx, rec_db.messages, id, &m.base,
                             "recruitment.message.logged", m.site_id);
        }
    }
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.ListMessages
static pm_err
s_list_messages (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListMessages *req = (const void *) body;
    rec_app_t *app;
    pm_err rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    pm_key_t k;
    pm_key_init (&k, REC_IX_MSG_BY_APP);
    pm_key_str (&k, app->id);
    rec_listing_t found;
    rc = rec_listing_load (ctx, &k, rec_db.messages,
                           &pm__recruitment__candidate_message__descriptor, NULL, NULL, &found);
    if (rc == PM_OK) {
        Pm__Recruitment__MessageList list = PM__RECRUITMENT__MESSAGE_LIST__INIT;
        list.messages = (rec_msg_t **) found.items;
        list.n_messages = found.n;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    rec_listing_free (&found);
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  --- surveys --------------------------------------------------------------

//  True for the stages a process ends in.
static bool
s_ended (Pm__Recruitment__Stage s)
{
    return s == STAGE (HIRED) || s == STAGE (REJECTED) || s == STAGE (WITHDRAWN)
           || s == STAGE (OFFER_DECLINED) || s == STAGE (OFFER_EXPIRED);
}

//  --------------------------------------------------------------------------
//  recruitment.SubmitSurvey
static pm_err
s_submit_survey (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__SubmitSurvey *req = (const void *) body;
    if (!req->has_score || req->score > 10) {
        return pm_ctx_fail (ctx, PM_EINVAL, "score",
                            "score: is required, 0..10 (how likely they would "
                            "recommend us)");
    }
    pm_err rc = rec_text (ctx, "comment", req->comment, false, 2000);
    if (rc != PM_OK) {
        return rc;
    }
    rec_app_t *app;
    rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    if (!s_ended (app->stage)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "application_id",
                          "application_id: %s is %s; the survey follows the end of the "
                          "process", app->id, rec_stage_name (app->stage));
    }
    MDB_val v;
    if (rc == PM_OK && pm_store_get (pm_ctx_txn (ctx), rec_db.surveys, app->id,
                                     strlen (app->id), &v) == PM_OK) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "application_id",
                          "application_id: the survey of %s was answered already",
                          app->id);
    }
    if (rc == PM_OK) {
        Pm__Recruitment__Survey s = PM__RECRUITMENT__SURVEY__INIT;
        s.application_id = app->id;
        s.candidate_id = app->candidate_id;
        s.requisition_id = app->requisition_id;
        s.site_id = app->site_id;
        s.has_score = s.has_outcome = s.has_submitted_at = 1;
        s.score = req->score;
        s.comment = req->comment && *req->comment ? req->comment : NULL;
        s.outcome = app->stage;
        s.submitted_at = pm_ctx_now (ctx);
        rc = rec_commit (ctx, rec_db.surveys, app->id, &s.base,
                         "recruitment.survey.submitted", app->site_id);
    }
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

int
rec_survey_score (pm_ctx_t *ctx, const char *app_id)
{
    ProtobufCMessage *m;
    if (pm_store_get_msg (pm_ctx_txn (ctx), rec_db.surveys, app_id, strlen (app_id),
                          &pm__recruitment__survey__descriptor, &m)
        != PM_OK) {
        return -1;
    }
    int score = (int) ((Pm__Recruitment__Survey *) m)->score;
    protobuf_c_message_free_unpacked (m, NULL);
    return score;
}

//  --- erasure --------------------------------------------------------------

//  Empties one message's text.
static int
s_erase_msg (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    pm_ctx_t *ctx = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *pm;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), rec_db.messages, id, strlen (id),
                                  &pm__recruitment__candidate_message__descriptor, &pm);
    if (rc != PM_OK) {
        return rc;
    }
    rec_erase_message_fields ((rec_msg_t *) pm);
    rc = rec_put (ctx, rec_db.messages, id, pm);
    protobuf_c_message_free_unpacked (pm, NULL);
    return rc;
}

pm_err
rec_experience_erase (pm_ctx_t *ctx, const char *app_id)
{
    //  Rewriting values under a cursor is safe in LMDB (no key changes).
    pm_key_t k;
    pm_key_init (&k, REC_IX_MSG_BY_APP);
    pm_key_str (&k, app_id);
    pm_err rc = rec_scan (ctx, &k, s_erase_msg, ctx);
    ProtobufCMessage *m;
    if (rc == PM_OK
        && pm_store_get_msg (pm_ctx_txn (ctx), rec_db.surveys, app_id, strlen (app_id),
                             &pm__recruitment__survey__descriptor, &m)
               == PM_OK) {
        rec_erase_survey_fields ((Pm__Recruitment__Survey *) m);
        rc = rec_put (ctx, rec_db.surveys, app_id, m);
        protobuf_c_message_free_unpacked (m, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_experience_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.SetServiceLevels", s_set_levels);
    pm_server_handle (server, "recruitment.GetServiceLevels", s_get_levels);
    pm_server_handle (server, "recruitment.ListBreaches", s_list_breaches);
    pm_server_handle (server, "recruitment.LogMessage", s_log_message);
    pm_server_handle (server, "recruitment.ListMessages", s_list_messages);
    pm_server_handle (server, "recruitment.SubmitSurvey", s_submit_survey);
}
