/*  patients_surveys.c: post-visit surveys, made from scheduling's stream.

    The service follows scheduling (durable cursor in the same transaction
    as the survey it makes). Every scheduling.appointment.fulfilled makes
    one survey whose id is "svy_" + the appointment id's body, so a
    re-delivered or replayed event (a replaced scheduling store is read
    again from seq 1) finds its survey and makes nothing: exactly one
    survey per appointment, and no reset is needed (surveys hold patients'
    answers; they are not a projection to rebuild).

    Sub-database `surveys`:
      'R' survey id                      -> Survey
      'S' site 0 be64 visit_end 0 id     -> ""  (reports)
      'P' patient id 0 survey id         -> ""  (erasure)                */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_store.h"
#include "pm_keys.h"
#include "pm_log.h"
#include "scheduling.pb-c.h"

#define COMMENT_MAX 1000
#define REPORT_SPAN_MAX (400LL * 86400000)
#define PRACTITIONERS_MAX 1000

typedef Pm__Patients__Survey survey_t;

static size_t
s_rec_key (uint8_t *key, const char *id)
{
    key[0] = 'R';
    return 1 + pat_key_put (key + 1, id, PM_ID_MAX) - 1;
}

static size_t
s_site_key (uint8_t *key, const char *site, int64_t at, const char *id)
{
    key[0] = 'S';
    size_t n = 1 + pat_key_put (key + 1, site, 65);
    pm_be64_put (key + n, (uint64_t) at);
    n += 8;
    key[n++] = 0;
    return n + pat_key_put (key + n, id, PM_ID_MAX) - 1;
}

static size_t
s_patient_key (uint8_t *key, const char *patient, const char *id)
{
    key[0] = 'P';
    return 1 + pat_pair_key (key + 1, patient, id);
}

//  A site, practitioner or type id: 1..64 letters, digits, '_' or '-'.
static bool
s_token_ok (const char *s)
{
    size_t n = s ? strlen (s) : 0;
    return n > 0 && n <= 64
           && strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-") == n;
}

//  --------------------------------------------------------------------------
//  The survey of appointment `apt`: "svy_" + the appointment id's body.
bool
pat_survey_id (const char *apt, char *out)
{
    if (!pm_id_valid (apt, "apt")) {
        return false;
    }
    snprintf (out, PM_ID_MAX, "svy_%s", apt + 4);
    return true;
}

//  --------------------------------------------------------------------------
//  The survey `id` (caller frees), PM_ENOTFOUND if none.
pm_err
pat_survey_get (MDB_txn *txn, const char *id, survey_t **out)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_rec_key (key, id);
    *out = NULL;
    return pm_store_get_msg (txn, pat_db.surveys, key, n,
                             &pm__patients__survey__descriptor,
                             (ProtobufCMessage **) out);
}

//  --------------------------------------------------------------------------
//  Stores the survey (its index entries are fixed when it is made).
pm_err
pat_survey_put (MDB_txn *txn, const survey_t *s)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_rec_key (key, s->id);
    return pm_store_put_msg (txn, pat_db.surveys, key, n, &s->base, 0);
}

//  A survey as it reads once its patient is erased (see the header).
uint8_t *
pat_survey_pack_erased (survey_t *s, size_t *len_out)
{
    char *comment = s->comment;
    s->comment = NULL;
    *len_out = pm__patients__survey__get_packed_size (s);
    uint8_t *packed = malloc (*len_out + 1);
    if (!packed) {
        abort ();
    }
    pm__patients__survey__pack (s, packed);
    s->comment = comment;
    return packed;
}

//  scheduling.appointment.fulfilled -> one survey.
static pm_err
s_apply (pm_ctx_t *ctx, const Pm__Event *event)
{
    if (!event->type || strcmp (event->type, "scheduling.appointment.fulfilled") != 0) {
        return PM_OK; //  the cursor moves past what surveys do not need
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Scheduling__Appointment *apt = pm__scheduling__appointment__unpack (
        NULL, event->data.len, event->data.data);
    char id[PM_ID_MAX];
    pm_err rc = PM_OK;
    if (!apt) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a scheduling.Appointment");
    }
    else if (!pat_survey_id (apt->id, id)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.id", "\"%.40s\" is not an appointment id",
                          apt->id ? apt->id : "");
    }
    else if (!pm_id_valid (apt->patient_id, "pat")) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.patient_id", "not a patient id");
    }
    else if (!s_token_ok (apt->site_id)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.site_id", "not a site id");
    }
    else if ((apt->practitioner_id && !s_token_ok (apt->practitioner_id))
             || (apt->type_id && !s_token_ok (apt->type_id))) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.practitioner_id",
                          "practitioner and type ids are 1..64 letters, digits, '_' or '-'");
    }
    survey_t *old = NULL;
    if (rc == PM_OK) {
        rc = pat_survey_get (txn, id, &old);
        if (rc == PM_OK) {
            //  Seen before (re-delivered, replayed): nothing more to make.
            pm__patients__survey__free_unpacked (old, NULL);
            pm__scheduling__appointment__free_unpacked (apt, NULL);
            return PM_OK;
        }
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    if (rc == PM_OK) {
        survey_t s = PM__PATIENTS__SURVEY__INIT;
        s.id = id;
        s.has_version = s.has_status = s.has_created_at = 1;
        s.version = 1;
        s.status = PM__PATIENTS__SURVEY_STATUS__SURVEY_OPEN;
        s.created_at = pm_ctx_now (ctx);
        s.appointment_id = apt->id;
        s.patient_id = apt->patient_id;
        s.practitioner_id = apt->practitioner_id;
        s.site_id = apt->site_id;
        s.type_id = apt->type_id;
        s.has_visit_start = apt->has_start;
        s.visit_start = apt->start;
        s.has_visit_end = 1;
        s.visit_end = apt->has_end ? apt->end : event->time;
        uint8_t key[PAT_KEY_MAX];
        rc = pat_survey_put (txn, &s);
        if (rc == PM_OK) {
            size_t n = s_site_key (key, s.site_id, s.visit_end, s.id);
            rc = pm_store_put (txn, pat_db.surveys, key, n, "", 0, 0);
        }
        if (rc == PM_OK) {
            size_t n = s_patient_key (key, s.patient_id, s.id);
            rc = pm_store_put (txn, pat_db.surveys, key, n, "", 0, 0);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "patients.survey.created", s.site_id, s.id, &s.base);
        }
    }
    pm__scheduling__appointment__free_unpacked (apt, NULL);
    return rc;
}

//  The survey named by id (the request's field `id_field`) or
//  appointment_id, with site scope and audit.
static pm_err
s_load (pm_ctx_t *ctx, const char *id, const char *id_field, const char *apt,
        survey_t **out)
{
    char from_apt[PM_ID_MAX];
    *out = NULL;
    if (!id == !apt) {
        return pm_ctx_fail (ctx, PM_EINVAL, id_field,
                            "give a survey id or an appointment_id");
    }
    if (apt && !pat_survey_id (apt, from_apt)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "appointment_id",
                            "\"%.40s\" is not an appointment id (apt_...)", apt);
    }
    const char *field = id ? id_field : "appointment_id";
    if (id && !pm_id_valid (id, "svy")) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "\"%.40s\" is not a survey id (svy_...)",
                            id);
    }
    pm_err rc = pat_survey_get (pm_ctx_txn (ctx), id ? id : from_apt, out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, field, "no survey %s", id ? id : from_apt);
    }
    if (rc == PM_OK && pat_site_access (ctx, (*out)->site_id, field) != PM_OK) {
        rc = PM_EFORBIDDEN;
    }
    if (rc != PM_OK) {
        pm__patients__survey__free_unpacked (*out, NULL);
        *out = NULL;
        return rc;
    }
    pm_ctx_audit (ctx, (*out)->patient_id, (*out)->site_id);
    return PM_OK;
}

//  patients.GetSurvey
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__GetSurvey *req = (const Pm__Patients__GetSurvey *) body;
    survey_t *s;
    pm_err rc = s_load (ctx, req->id, "id", req->appointment_id, &s);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s->base);
        pm__patients__survey__free_unpacked (s, NULL);
    }
    return rc;
}

//  patients.AnswerSurvey
static pm_err
s_answer (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__AnswerSurvey *req = (const Pm__Patients__AnswerSurvey *) body;
    if (!req->has_overall || req->overall < 1 || req->overall > 5) {
        return pm_ctx_fail (ctx, PM_EINVAL, "overall", "overall is required: 1 to 5");
    }
    if (!req->has_recommend || req->recommend > 10) {
        return pm_ctx_fail (ctx, PM_EINVAL, "recommend", "recommend is required: 0 to 10");
    }
    if (req->comment) {
        size_t n = strlen (req->comment);
        if (n > COMMENT_MAX) {
            return pm_ctx_fail (ctx, PM_EINVAL, "comment", "at most %d bytes, not %zu",
                                COMMENT_MAX, n);
        }
        for (const unsigned char *c = (const unsigned char *) req->comment; *c; c++) {
            if ((*c < 0x20 && *c != '\n') || *c == 0x7f) {
                return pm_ctx_fail (ctx, PM_EINVAL, "comment", "no control characters");
            }
        }
    }
    survey_t *s;
    pm_err rc = s_load (ctx, req->survey_id ? req->survey_id : "", "survey_id", NULL, &s);
    if (rc != PM_OK) {
        return rc;
    }
    if (s->status == PM__PATIENTS__SURVEY_STATUS__SURVEY_ANSWERED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "survey_id", "%s was already answered", s->id);
    }
    else {
        char *old_comment = s->comment;
        s->version++;
        s->status = PM__PATIENTS__SURVEY_STATUS__SURVEY_ANSWERED;
        s->has_overall = s->has_recommend = s->has_answered_at = 1;
        s->overall = req->overall;
        s->recommend = req->recommend;
        s->comment = req->comment;
        s->answered_at = pm_ctx_now (ctx);
        rc = pat_survey_put (pm_ctx_txn (ctx), s);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "patients.survey.answered", s->site_id, s->id, &s->base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &s->base);
        }
        s->comment = old_comment; //  so free_unpacked frees its own
    }
    pm__patients__survey__free_unpacked (s, NULL);
    return rc;
}

//  Running totals of one practitioner (or the site).
typedef struct {
    char practitioner[65];
    uint32_t surveys, responses, promoters, passives, detractors;
    uint64_t overall_sum;
} s_tally_t;

static void
s_count (s_tally_t *t, const survey_t *s)
{
    t->surveys++;
    if (s->status == PM__PATIENTS__SURVEY_STATUS__SURVEY_ANSWERED) {
        t->responses++;
        t->overall_sum += s->overall;
        if (s->recommend >= 9) {
            t->promoters++;
        }
        else if (s->recommend >= 7) {
            t->passives++;
        }
        else {
            t->detractors++;
        }
    }
}

//  Integer division rounded half away from zero.
static int64_t
s_round_div (int64_t num, int64_t den)
{
    return num >= 0 ? (num + den / 2) / den : -((-num + den / 2) / den);
}

static void
s_stats (const s_tally_t *t, Pm__Patients__SurveyStats *out)
{
    pm__patients__survey_stats__init (out);
    out->practitioner_id = t->practitioner[0] ? (char *) t->practitioner : NULL;
    out->has_surveys = out->has_responses = out->has_overall_avg_x100 = 1;
    out->has_promoters = out->has_passives = out->has_detractors = out->has_nps = 1;
    out->surveys = t->surveys;
    out->responses = t->responses;
    out->promoters = t->promoters;
    out->passives = t->passives;
    out->detractors = t->detractors;
    if (t->responses) {
        out->overall_avg_x100 = (uint32_t) s_round_div ((int64_t) t->overall_sum * 100,
                                                        t->responses);
        out->nps = (int32_t) s_round_div (100 * ((int64_t) t->promoters - t->detractors),
                                          t->responses);
    }
}

static int
s_tally_cmp (const void *a, const void *b)
{
    return strcmp (((const s_tally_t *) a)->practitioner,
                   ((const s_tally_t *) b)->practitioner);
}

//  --------------------------------------------------------------------------
//  Checks a report's site and window; fails on the field at fault.
pm_err
pat_report_window (pm_ctx_t *ctx, const char *site, bool has_from, int64_t from,
                   bool has_to, int64_t to)
{
    if (!s_token_ok (site)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id",
                            "a site id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (!has_from || from < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "from", "from is required (ms UTC)");
    }
    if (!has_to || to <= from) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to is required and after from");
    }
    if (to - from > REPORT_SPAN_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "a report spans at most 400 days");
    }
    return pat_site_access (ctx, site, "site_id");
}

//  patients.SurveyReport
static pm_err
s_report (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__SurveyReport *req = (const Pm__Patients__SurveyReport *) body;
    pm_err rc = pat_report_window (ctx, req->site_id, req->has_from, req->from,
                                   req->has_to, req->to);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint8_t from[PAT_KEY_MAX];
    s_site_key (from, req->site_id, req->from, "");
    size_t plen = 1 + strlen (req->site_id) + 1; //  'S' site 0
    size_t flen = plen + 8;                       //  and the visit's end
    MDB_cursor *cursor;
    rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.surveys, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    s_tally_t total = {""};
    s_tally_t *by = NULL;
    size_t n_by = 0;
    MDB_val key = {flen, from}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && key.mv_size > flen + 1
           && memcmp (key.mv_data, from, plen) == 0
           && (int64_t) pm_be64_get ((uint8_t *) key.mv_data + plen) < req->to) {
        char id[PM_ID_MAX];
        size_t idlen = key.mv_size - flen - 1;
        snprintf (id, sizeof id, "%.*s", (int) (idlen < PM_ID_MAX ? idlen : PM_ID_MAX - 1),
                  (char *) key.mv_data + flen + 1);
        survey_t *s;
        rc = pat_survey_get (txn, id, &s);
        if (rc != PM_OK) {
            break;
        }
        s_count (&total, s);
        const char *who = s->practitioner_id ? s->practitioner_id : "";
        size_t i = 0;
        while (i < n_by && strcmp (by[i].practitioner, who) != 0) {
            i++;
        }
        if (i == n_by && n_by < PRACTITIONERS_MAX) {
            by = realloc (by, (n_by + 1) * sizeof *by);
            if (!by) {
                abort ();
            }
            memset (&by[n_by], 0, sizeof *by);
            snprintf (by[n_by].practitioner, sizeof by->practitioner, "%s", who);
            n_by++;
        }
        if (i < n_by) {
            s_count (&by[i], s);
        }
        pm__patients__survey__free_unpacked (s, NULL);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    if (rc == PM_OK) {
        if (n_by > 1) {
            qsort (by, n_by, sizeof *by, s_tally_cmp);
        }
        Pm__Patients__SurveyStats t, *rows = calloc (n_by ? n_by : 1, sizeof *rows);
        Pm__Patients__SurveyStats **ptrs = calloc (n_by ? n_by : 1, sizeof *ptrs);
        if (!rows || !ptrs) {
            abort ();
        }
        s_stats (&total, &t);
        for (size_t i = 0; i < n_by; i++) {
            s_stats (&by[i], &rows[i]);
            ptrs[i] = &rows[i];
        }
        Pm__Patients__SurveyReportResult out = PM__PATIENTS__SURVEY_REPORT_RESULT__INIT;
        out.site_id = req->site_id;
        out.has_from = out.has_to = 1;
        out.from = req->from;
        out.to = req->to;
        out.total = &t;
        out.n_by_practitioner = n_by;
        out.by_practitioner = ptrs;
        rc = pm_ctx_reply (ctx, &out.base);
        free (rows);
        free (ptrs);
    }
    free (by);
    return rc;
}

//  --------------------------------------------------------------------------
//  Binds the survey commands and follows scheduling.
void
pat_surveys_bind (pm_server_t *server)
{
    pm_server_handle (server, "patients.GetSurvey", s_get);
    pm_server_handle (server, "patients.AnswerSurvey", s_answer);
    pm_server_handle (server, "patients.SurveyReport", s_report);
    //  The runtime cannot connect to a service whose public key is not in
    //  the key store yet (it would stop at start): say so and serve
    //  without surveys until a restart finds the key.
    zcert_t *key = pm_keys_enabled () ? pm_keys_public ("svc-scheduling") : NULL;
    if (pm_keys_enabled () && !key) {
        pm_error ("scheduling's public key is missing: post-visit surveys are "
                  "not made until it is in the key store and patients restarts",
                  "keys_dir", pm_keys_dir (), NULL);
        return;
    }
    zcert_destroy (&key);
    pm_server_follow (server, "scheduling", s_apply, NULL);
}
