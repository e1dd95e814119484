/*  recruitment_requisitions.c: requisitions and postings.

    A requisition is written as a DRAFT, submitted for approval, approved
    by a practice manager of its site (then OPEN: it may be posted and
    applied to), held and resumed, cancelled; it is FILLED by the hire that
    reaches its headcount. Postings copy an OPEN requisition's public
    fields; a careers page lists the live postings of OPEN requisitions. */
#include <string.h>

#include "pm_id.h"
#include "recruitment_requisitions.h"
#include "recruitment_pool.h"

#define MAX_REQUIREMENTS 30
#define MAX_POSTINGS 64 //  per requisition: all are closed in one step

//  --------------------------------------------------------------------------
pm_err
rec_job_load (pm_ctx_t *ctx, const char *id, const char *field, rec_job_t **out)
{
    return rec_load (ctx, rec_db.requisitions, id,
                     &pm__recruitment__requisition__descriptor, field, "requisition",
                     out);
}

//  The status's name ("OPEN").
static const char *
s_status_name (Pm__Recruitment__RequisitionStatus status)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
        &pm__recruitment__requisition_status__descriptor, (int) status);
    return v ? v->name : "?";
}

//  --------------------------------------------------------------------------
//  The rules of a requisition's editable fields.
static pm_err
s_validate (pm_ctx_t *ctx, const rec_job_t *j)
{
    pm_err rc = rec_token (ctx, "requisition.site_id", j->site_id, 64);
    if (rc == PM_OK) {
        rc = rec_token (ctx, "requisition.role", j->role, 64);
    }
    if (rc == PM_OK && (!j->has_headcount || j->headcount < 1 || j->headcount > 100)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.headcount",
                          "requisition.headcount: must be 1..100");
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "requisition.title", j->title, true, 100);
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "requisition.description", j->description, true, 8000);
    }
    if (rc == PM_OK && j->n_requirements > MAX_REQUIREMENTS) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.requirements",
                          "requisition.requirements: at most %d", MAX_REQUIREMENTS);
    }
    for (size_t i = 0; rc == PM_OK && i < j->n_requirements; i++) {
        char field[64];
        snprintf (field, sizeof field, "requisition.requirements[%zu]", i);
        rc = rec_text (ctx, field, j->requirements[i], true, 300);
    }
    const Pm__Recruitment__SalaryRange *s = j->salary;
    if (rc == PM_OK && !s) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.salary",
                          "requisition.salary: is required (min, max, currency)");
    }
    if (rc == PM_OK && (!s->has_min_minor || s->min_minor < 0)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.salary.min_minor",
                          "requisition.salary.min_minor: is required, at least 0");
    }
    if (rc == PM_OK && (!s->has_max_minor || s->max_minor < s->min_minor)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.salary.max_minor",
                          "requisition.salary.max_minor: is required, at least min_minor");
    }
    if (rc == PM_OK) {
        rc = rec_currency (ctx, "requisition.salary.currency", s->currency);
    }
    if (rc == PM_OK && j->recruiter) {
        rc = rec_text (ctx, "requisition.recruiter", j->recruiter, false, 64);
    }
    if (rc == PM_OK && j->hiring_manager) {
        rc = rec_text (ctx, "requisition.hiring_manager", j->hiring_manager, false, 64);
    }
    if (rc == PM_OK) {
        rc = rec_date (ctx, "requisition.target_start", j->target_start);
    }
    if (rc == PM_OK) {
        rc = rec_employment_type (ctx, "requisition.employment_type", j->employment_type);
    }
    if (rc == PM_OK && j->has_fte_permille
        && (j->fte_permille < 1 || j->fte_permille > 1000)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.fte_permille",
                          "requisition.fte_permille: must be 1..1000");
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.CreateRequisition
static pm_err
s_create (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__CreateRequisition *req = (const void *) body;
    rec_job_t *in = req->requisition;
    if (!in) {
        return pm_ctx_fail (ctx, PM_EINVAL, "requisition", "requisition: is required");
    }
    pm_err rc = s_validate (ctx, in);
    if (rc == PM_OK) {
        rc = rec_access (ctx, in->site_id, "requisition.site_id");
    }
    if (rc != PM_OK) {
        return rc;
    }
    char id[PM_ID_MAX];
    pm_id_new ("job", pm_ctx_now (ctx), id);
    rec_job_t j = *in;
    j.id = id;
    j.has_version = j.has_status = j.has_hired = j.has_created_at = j.has_updated_at = 1;
    j.version = 1;
    j.status = PM__RECRUITMENT__REQUISITION_STATUS__DRAFT;
    j.hired = 0;
    j.status_reason = j.approved_by = NULL;
    j.has_approved_at = 0;
    j.created_by = (char *) pm_ctx_principal (ctx)->name;
    if (!j.recruiter || !*j.recruiter) {
        //  Whoever wrote it answers for its candidates until named otherwise.
        j.recruiter = j.created_by;
    }
    j.created_at = j.updated_at = pm_ctx_now (ctx);
    if (!j.has_fte_permille) {
        j.has_fte_permille = 1;
        j.fte_permille = 1000;
    }
    pm_key_t k;
    pm_key_init (&k, REC_IX_JOB_BY_SITE);
    pm_key_str (&k, j.site_id);
    pm_key_str (&k, id);
    rc = rec_index (ctx, &k, id, true);
    if (rc == PM_OK) {
        rc = rec_commit (ctx, rec_db.requisitions, id, &j.base,
                         "recruitment.requisition.created", j.site_id);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Loads a requisition for a change and checks the caller may make it.
static pm_err
s_load_for_change (pm_ctx_t *ctx, const char *id, bool has_expected,
                   uint64_t expected, bool required, rec_job_t **out)
{
    pm_err rc = rec_job_load (ctx, id, "requisition_id", out);
    if (rc == PM_OK) {
        rc = rec_access (ctx, (*out)->site_id, "requisition_id");
    }
    if (rc == PM_OK) {
        rc = rec_check_version (ctx, id, (*out)->version, has_expected, expected,
                                required);
    }
    if (rc != PM_OK) {
        pm__recruitment__requisition__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.UpdateRequisition
static pm_err
s_update (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__UpdateRequisition *req = (const void *) body;
    rec_job_t *in = req->requisition;
    if (!in) {
        return pm_ctx_fail (ctx, PM_EINVAL, "requisition", "requisition: is required");
    }
    rec_job_t *old;
    pm_err rc = s_load_for_change (ctx, in->id, req->has_expected_version,
                                   req->expected_version, true, &old);
    if (rc != PM_OK) {
        return rc;
    }
    if (old->status != PM__RECRUITMENT__REQUISITION_STATUS__DRAFT
        && old->status != PM__RECRUITMENT__REQUISITION_STATUS__ON_HOLD) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "requisition.id",
                          "requisition.id: %s is %s; only a DRAFT or ON_HOLD "
                          "requisition is changed", old->id, s_status_name (old->status));
    }
    if (rc == PM_OK) {
        rc = s_validate (ctx, in);
    }
    if (rc == PM_OK && strcmp (in->site_id, old->site_id) != 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "requisition.site_id",
                          "requisition.site_id: a requisition stays at its site (%s)",
                          old->site_id);
    }
    if (rc == PM_OK) {
        rec_job_t j = *old;
        j.role = in->role;
        j.headcount = in->headcount;
        j.title = in->title;
        j.description = in->description;
        j.n_requirements = in->n_requirements;
        j.requirements = in->requirements;
        j.salary = in->salary;
        j.hiring_manager = in->hiring_manager;
        if (in->recruiter && *in->recruiter) {
            j.recruiter = in->recruiter;
        }
        j.target_start = in->target_start;
        j.employment_type = in->employment_type;
        j.has_fte_permille = 1;
        j.fte_permille = in->has_fte_permille ? in->fte_permille : 1000;
        j.version++;
        j.updated_at = pm_ctx_now (ctx);
        rc = rec_commit (ctx, rec_db.requisitions, j.id, &j.base,
                         "recruitment.requisition.updated", j.site_id);
    }
    //  A held opening's new role is the role its applicants applied for.
    if (rc == PM_OK && strcmp (in->role, old->role ? old->role : "") != 0) {
        rc = rec_pool_sync_job (pm_ctx_txn (ctx), old->id);
    }
    pm__recruitment__requisition__free_unpacked (old, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Closes every live posting of a requisition (it left OPEN for good).
static pm_err
s_close_postings (pm_ctx_t *ctx, const char *job_id)
{
    //  Collect first: the scan's cursor must not see our own writes.
    char ids[MAX_POSTINGS][PM_ID_MAX];
    size_t n = 0;
    pm_key_t k;
    pm_key_init (&k, REC_IX_PST_BY_JOB);
    pm_key_str (&k, job_id);
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.index,
                                                  &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = {k.len, k.b}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < MAX_POSTINGS && key.mv_size >= k.len
           && memcmp (key.mv_data, k.b, k.len) == 0) {
        pm_val_str (&val, ids[n++], PM_ID_MAX);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        Pm__Recruitment__Posting *p;
        rc = rec_load (ctx, rec_db.postings, ids[i], &pm__recruitment__posting__descriptor,
                       "posting_id", "posting", &p);
        if (rc == PM_OK && p->status == PM__RECRUITMENT__POSTING_STATUS__POSTING_LIVE) {
            p->status = PM__RECRUITMENT__POSTING_STATUS__POSTING_CLOSED;
            p->has_closed_at = 1;
            p->closed_at = pm_ctx_now (ctx);
            p->version++;
            rc = rec_put (ctx, rec_db.postings, p->id, &p->base);
            if (rc == PM_OK) {
                rc = pm_ctx_emit (ctx, "recruitment.posting.closed", p->site_id, p->id,
                                  &p->base);
            }
        }
        pm__recruitment__posting__free_unpacked (p, NULL);
    }
    return rc;
}

//  One status change of the requisition's life: from which statuses, to
//  which, who may make it, whether it needs a reason, its event.
typedef struct {
    const char *command;
    unsigned from;          //  bits of RequisitionStatus values
    Pm__Recruitment__RequisitionStatus to;
    bool reason;
    const char *event;
} s_action_t;

#define ST(x) (1u << PM__RECRUITMENT__REQUISITION_STATUS__##x)

static const s_action_t s_actions[] = {
    {"recruitment.SubmitRequisition", ST (DRAFT),
     PM__RECRUITMENT__REQUISITION_STATUS__PENDING_APPROVAL, false,
     "recruitment.requisition.submitted"},
    {"recruitment.ApproveRequisition", ST (PENDING_APPROVAL),
     PM__RECRUITMENT__REQUISITION_STATUS__OPEN, false, "recruitment.requisition.approved"},
    {"recruitment.SendBackRequisition", ST (PENDING_APPROVAL),
     PM__RECRUITMENT__REQUISITION_STATUS__DRAFT, true, "recruitment.requisition.sent_back"},
    {"recruitment.HoldRequisition", ST (OPEN), PM__RECRUITMENT__REQUISITION_STATUS__ON_HOLD,
     true, "recruitment.requisition.held"},
    {"recruitment.ResumeRequisition", ST (ON_HOLD),
     PM__RECRUITMENT__REQUISITION_STATUS__OPEN, false, "recruitment.requisition.resumed"},
    {"recruitment.CancelRequisition",
     ST (DRAFT) | ST (PENDING_APPROVAL) | ST (OPEN) | ST (ON_HOLD),
     PM__RECRUITMENT__REQUISITION_STATUS__CANCELLED, true,
     "recruitment.requisition.cancelled"},
    {NULL, 0, 0, false, NULL},
};

//  --------------------------------------------------------------------------
//  The status commands, one table.
static pm_err
s_action (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__RequisitionAction *req = (const void *) body;
    const char *type = pm_ctx_request (ctx)->type;
    const s_action_t *a = s_actions;
    while (a->command && strcmp (a->command, type) != 0) {
        a++;
    }
    if (!a->command) {
        return pm_ctx_fail (ctx, PM_EINTERNAL, NULL, "no action for %s", type);
    }
    pm_err rc = rec_text (ctx, "reason", req->reason, a->reason, 500);
    rec_job_t *j = NULL;
    if (rc == PM_OK) {
        rc = s_load_for_change (ctx, req->requisition_id, req->has_expected_version,
                                req->expected_version, false, &j);
    }
    if (rc != PM_OK) {
        return rc;
    }
    if (!(a->from & (1u << j->status))) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "requisition_id",
                          "requisition_id: %s is %s; %s needs it %s", j->id,
                          s_status_name (j->status), type + strlen ("recruitment."),
                          a->from == ST (DRAFT)              ? "DRAFT"
                          : a->from == ST (PENDING_APPROVAL) ? "PENDING_APPROVAL"
                          : a->from == ST (OPEN)             ? "OPEN"
                          : a->from == ST (ON_HOLD)          ? "ON_HOLD"
                                                             : "not FILLED or CANCELLED");
    }
    const pm_principal_t *who = pm_ctx_principal (ctx);
    if (rc == PM_OK && a->to == PM__RECRUITMENT__REQUISITION_STATUS__OPEN
        && j->status == PM__RECRUITMENT__REQUISITION_STATUS__PENDING_APPROVAL
        && who->role != PM_ROLE_PRACTICE_MANAGER && who->role != PM_ROLE_NETWORK_ADMIN) {
        //  The schema lets only practice managers in; say so even if that
        //  table is ever widened.
        rc = pm_ctx_fail (ctx, PM_EFORBIDDEN, "requisition_id",
                          "requisition_id: only a practice manager of %s approves",
                          j->site_id);
    }
    if (rc == PM_OK) {
        bool approving = a->to == PM__RECRUITMENT__REQUISITION_STATUS__OPEN
                         && j->status == PM__RECRUITMENT__REQUISITION_STATUS__PENDING_APPROVAL;
        //  The record's own strings, put back before it is freed.
        char *old_reason = j->status_reason, *old_by = j->approved_by;
        j->status = a->to;
        j->status_reason = req->reason && *req->reason ? req->reason : j->status_reason;
        if (approving) {
            j->approved_by = (char *) who->name;
            j->has_approved_at = 1;
            j->approved_at = pm_ctx_now (ctx);
        }
        j->version++;
        j->updated_at = pm_ctx_now (ctx);
        if (a->to == PM__RECRUITMENT__REQUISITION_STATUS__CANCELLED) {
            rc = s_close_postings (ctx, j->id);
        }
        if (rc == PM_OK) {
            rc = rec_commit (ctx, rec_db.requisitions, j->id, &j->base, a->event,
                             j->site_id);
        }
        j->status_reason = old_reason;
        j->approved_by = old_by;
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
pm_err
rec_job_hired (pm_ctx_t *ctx, const char *job_id)
{
    rec_job_t *j;
    pm_err rc = rec_job_load (ctx, job_id, "requisition_id", &j);
    if (rc != PM_OK) {
        return rc;
    }
    j->hired++;
    j->version++;
    j->updated_at = pm_ctx_now (ctx);
    const char *event = "recruitment.requisition.updated";
    if (j->hired >= j->headcount) {
        j->status = PM__RECRUITMENT__REQUISITION_STATUS__FILLED;
        event = "recruitment.requisition.filled";
        rc = s_close_postings (ctx, j->id);
    }
    if (rc == PM_OK) {
        rc = rec_put (ctx, rec_db.requisitions, j->id, &j->base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, event, j->site_id, j->id, &j->base);
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.GetRequisition
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__GetRequisition *req = (const void *) body;
    rec_job_t *j;
    pm_err rc = rec_job_load (ctx, req->requisition_id, "requisition_id", &j);
    if (rc == PM_OK) {
        rc = rec_access (ctx, j->site_id, "requisition_id");
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &j->base);
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.RecordCost: what a requisition cost besides salary, for
//  finance's recruitment actuals (recruitment.cost.recorded).
static pm_err
s_record_cost (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__RecordCost *req = (const void *) body;
    const Pm__Recruitment__RecruitmentCost *in = req->cost;
    if (!in) {
        return pm_ctx_fail (ctx, PM_EINVAL, "cost", "cost: is required");
    }
    if (in->id || in->site_id || in->has_recorded_at || in->recorded_by) {
        return pm_ctx_fail (ctx, PM_EINVAL, "cost.id",
                            "cost.id: id, site and recorded_* are set by the service");
    }
    if (!in->has_kind || in->kind < PM__RECRUITMENT__COST_KIND__COST_ADVERTISING
        || in->kind > PM__RECRUITMENT__COST_KIND__COST_OTHER) {
        return pm_ctx_fail (ctx, PM_EINVAL, "cost.kind",
                            "cost.kind: COST_ADVERTISING, COST_AGENCY, COST_ASSESSMENT, "
                            "COST_RELOCATION or COST_OTHER");
    }
    if (!in->has_amount_minor || in->amount_minor <= 0
        || in->amount_minor > 100000000000LL) {
        return pm_ctx_fail (ctx, PM_EINVAL, "cost.amount_minor",
                            "cost.amount_minor: more than 0 and at most 10^11");
    }
    pm_err rc = rec_currency (ctx, "cost.currency", in->currency);
    if (rc == PM_OK) {
        rc = rec_date (ctx, "cost.incurred_on", in->incurred_on);
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "cost.note", in->note, false, 500);
    }
    rec_job_t *j = NULL;
    if (rc == PM_OK) {
        rc = rec_job_load (ctx, in->requisition_id, "cost.requisition_id", &j);
    }
    if (rc == PM_OK) {
        rc = rec_access (ctx, j->site_id, "cost.requisition_id");
    }
    char id[PM_ID_MAX];
    if (rc == PM_OK) {
        Pm__Recruitment__RecruitmentCost c = *in;
        pm_id_new ("rcost", pm_ctx_now (ctx), id);
        c.id = id;
        c.site_id = j->site_id;
        c.has_recorded_at = 1;
        c.recorded_at = pm_ctx_now (ctx);
        c.recorded_by = (char *) pm_ctx_principal (ctx)->name;
        pm_key_t k;
        pm_key_init (&k, REC_IX_COST_BY_JOB);
        pm_key_str (&k, j->id);
        pm_key_str (&k, id);
        rc = rec_index (ctx, &k, id, true);
        if (rc == PM_OK) {
            rc = rec_commit (ctx, rec_db.costs, id, &c.base, "recruitment.cost.recorded",
                             j->site_id);
        }
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    return rc;
}

//  recruitment.ListCosts
static pm_err
s_list_costs (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListCosts *req = (const void *) body;
    rec_job_t *j = NULL;
    pm_err rc = rec_job_load (ctx, req->requisition_id, "requisition_id", &j);
    if (rc == PM_OK) {
        rc = rec_access (ctx, j->site_id, "requisition_id");
    }
    rec_listing_t found = {NULL, 0};
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_COST_BY_JOB);
        pm_key_str (&k, j->id);
        rc = rec_listing_load (ctx, &k, rec_db.costs,
                               &pm__recruitment__recruitment_cost__descriptor, NULL, NULL,
                               &found);
    }
    Pm__Recruitment__CostList list = PM__RECRUITMENT__COST_LIST__INIT;
    list.costs = (Pm__Recruitment__RecruitmentCost **) found.items;
    list.n_costs = found.n;
    if (rc == PM_OK) {
        bool one_currency = true;
        for (size_t i = 0; i < list.n_costs; i++) {
            list.total_minor += list.costs[i]->amount_minor;
            one_currency = one_currency
                           && strcmp (list.costs[i]->currency, list.costs[0]->currency) == 0;
        }
        list.has_total_minor = one_currency;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    rec_listing_free (&found);
    if (j) {
        pm__recruitment__requisition__free_unpacked (j, NULL);
    }
    return rc;
}

//  Keeps a requisition of the status asked (any when none is).
static bool
s_of_status (pm_ctx_t *ctx, const ProtobufCMessage *m, const void *arg)
{
    (void) ctx;
    const Pm__Recruitment__ListRequisitions *q = arg;
    return !(q->has_status && q->status) || ((const rec_job_t *) m)->status == q->status;
}

//  --------------------------------------------------------------------------
//  recruitment.ListRequisitions
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListRequisitions *req = (const void *) body;
    pm_err rc = rec_token (ctx, "site_id", req->site_id, 64);
    if (rc == PM_OK) {
        rc = rec_access (ctx, req->site_id, "site_id");
    }
    if (rc != PM_OK) {
        return rc;
    }
    pm_key_t k;
    pm_key_init (&k, REC_IX_JOB_BY_SITE);
    pm_key_str (&k, req->site_id);
    rec_listing_t found;
    rc = rec_listing_load (ctx, &k, rec_db.requisitions,
                           &pm__recruitment__requisition__descriptor, s_of_status, req, &found);
    if (rc == PM_OK) {
        Pm__Recruitment__RequisitionList list = PM__RECRUITMENT__REQUISITION_LIST__INIT;
        list.requisitions = (rec_job_t **) found.items;
        list.n_requisitions = found.n;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    rec_listing_free (&found);
    return rc;
}

//  --- postings ---------------------------------------------------------------

//  Counts index entries.
static int
s_count_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    (void) val;
    (*(size_t *) arg)++;
    return 0;
}

//  --------------------------------------------------------------------------
//  recruitment.PublishPosting
static pm_err
s_publish (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__PublishPosting *req = (const void *) body;
    const char *channel = req->channel && *req->channel ? req->channel : "careers-page";
    pm_err rc = rec_token (ctx, "channel", channel, 40);
    rec_job_t *j = NULL;
    if (rc == PM_OK) {
        rc = s_load_for_change (ctx, req->requisition_id, false, 0, false, &j);
    }
    if (rc != PM_OK) {
        return rc;
    }
    if (j->status != PM__RECRUITMENT__REQUISITION_STATUS__OPEN) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "requisition_id",
                          "requisition_id: %s is %s; only an OPEN requisition is posted",
                          j->id, s_status_name (j->status));
    }
    size_t posted = 0;
    pm_key_t prefix;
    pm_key_init (&prefix, REC_IX_PST_BY_JOB);
    pm_key_str (&prefix, j->id);
    if (rc == PM_OK) {
        rc = rec_scan (ctx, &prefix, s_count_one, &posted);
    }
    if (rc == PM_OK && posted >= MAX_POSTINGS) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "requisition_id",
                          "requisition_id: %s has %d postings, the most there may be",
                          j->id, MAX_POSTINGS);
    }
    if (rc == PM_OK) {
        char id[PM_ID_MAX];
        pm_id_new ("pst", pm_ctx_now (ctx), id);
        Pm__Recruitment__Posting p = PM__RECRUITMENT__POSTING__INIT;
        p.id = id;
        p.has_version = p.has_status = p.has_published_at = 1;
        p.version = 1;
        p.requisition_id = j->id;
        p.site_id = j->site_id;
        p.title = j->title;
        p.description = j->description;
        p.n_requirements = j->n_requirements;
        p.requirements = j->requirements;
        p.salary = j->salary;
        p.employment_type = j->employment_type;
        p.target_start = j->target_start;
        p.channel = (char *) channel;
        p.status = PM__RECRUITMENT__POSTING_STATUS__POSTING_LIVE;
        p.published_at = pm_ctx_now (ctx);
        pm_key_t k;
        pm_key_init (&k, REC_IX_PST_BY_JOB);
        pm_key_str (&k, j->id);
        pm_key_str (&k, id);
        rc = rec_index (ctx, &k, id, true);
        if (rc == PM_OK) {
            rc = rec_commit (ctx, rec_db.postings, id, &p.base,
                             "recruitment.posting.published", p.site_id);
        }
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.ClosePosting
static pm_err
s_close (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ClosePosting *req = (const void *) body;
    Pm__Recruitment__Posting *p;
    pm_err rc = rec_load (ctx, rec_db.postings, req->posting_id,
                          &pm__recruitment__posting__descriptor, "posting_id", "posting",
                          &p);
    if (rc == PM_OK) {
        rc = rec_access (ctx, p->site_id, "posting_id");
    }
    if (rc == PM_OK && p->status != PM__RECRUITMENT__POSTING_STATUS__POSTING_LIVE) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "posting_id",
                          "posting_id: %s is closed already", p->id);
    }
    if (rc == PM_OK) {
        p->status = PM__RECRUITMENT__POSTING_STATUS__POSTING_CLOSED;
        p->has_closed_at = 1;
        p->closed_at = pm_ctx_now (ctx);
        p->version++;
        rc = rec_commit (ctx, rec_db.postings, p->id, &p->base,
                         "recruitment.posting.closed", p->site_id);
    }
    pm__recruitment__posting__free_unpacked (p, NULL);
    return rc;
}

typedef struct {
    pm_ctx_t *ctx;
    const char *site;                 //  NULL: every site
    Pm__Recruitment__PostingList *list;
} s_plist_t;

//  Adds one posting if it is live and its requisition OPEN.
static int
s_plist_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_plist_t *l = arg;
    MDB_txn *txn = pm_ctx_txn (l->ctx);
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *pm, *jm;
    pm_err rc = pm_store_get_msg (txn, rec_db.postings, id, strlen (id),
                                  &pm__recruitment__posting__descriptor, &pm);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Recruitment__Posting *p = (void *) pm;
    bool show = p->status == PM__RECRUITMENT__POSTING_STATUS__POSTING_LIVE
                && (!l->site || strcmp (l->site, p->site_id) == 0);
    if (show) {
        rc = pm_store_get_msg (txn, rec_db.requisitions, p->requisition_id,
                               strlen (p->requisition_id),
                               &pm__recruitment__requisition__descriptor, &jm);
        if (rc != PM_OK) {
            pm__recruitment__posting__free_unpacked (p, NULL);
            return rc;
        }
        show = ((rec_job_t *) jm)->status == PM__RECRUITMENT__REQUISITION_STATUS__OPEN;
        protobuf_c_message_free_unpacked (jm, NULL);
    }
    if (!show) {
        pm__recruitment__posting__free_unpacked (p, NULL);
        return 0;
    }
    l->list->postings[l->list->n_postings++] = p;
    return l->list->n_postings >= REC_LIST_MAX ? PM_SCAN_STOP : 0;
}

//  --------------------------------------------------------------------------
//  recruitment.ListPostings: public, like a careers page.
static pm_err
s_list_postings (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListPostings *req = (const void *) body;
    const char *site = req && req->site_id && *req->site_id ? req->site_id : NULL;
    if (site) {
        pm_err rc = rec_token (ctx, "site_id", site, 64);
        if (rc != PM_OK) {
            return rc;
        }
    }
    Pm__Recruitment__PostingList list = PM__RECRUITMENT__POSTING_LIST__INIT;
    list.postings = calloc (REC_LIST_MAX, sizeof *list.postings);
    s_plist_t l = {ctx, site, &list};
    pm_key_t k;
    pm_key_init (&k, REC_IX_PST_BY_JOB);
    pm_err rc = rec_scan (ctx, &k, s_plist_one, &l);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &list.base);
    }
    for (size_t i = 0; i < list.n_postings; i++) {
        pm__recruitment__posting__free_unpacked (list.postings[i], NULL);
    }
    free (list.postings);
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_requisitions_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.CreateRequisition", s_create);
    pm_server_handle (server, "recruitment.UpdateRequisition", s_update);
    for (const s_action_t *a = s_actions; a->command; a++) {
        pm_server_handle (server, a->command, s_action);
    }
    pm_server_handle (server, "recruitment.RecordCost", s_record_cost);
    pm_server_handle (server, "recruitment.ListCosts", s_list_costs);
    pm_server_handle (server, "recruitment.GetRequisition", s_get);
    pm_server_handle (server, "recruitment.ListRequisitions", s_list);
    pm_server_handle (server, "recruitment.PublishPosting", s_publish);
    pm_server_handle (server, "recruitment.ClosePosting", s_close);
    pm_server_handle (server, "recruitment.ListPostings", s_list_postings);
}
