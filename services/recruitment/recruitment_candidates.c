/*  recruitment_candidates.c: recruitment.Apply and the candidate and
    application reads.

    Duplicates: a person is known by their e-mail (trimmed, lower case) and
    their phone (its digits only), across the whole network. Applying with
    either one already on file links the application to that candidate
    rather than making a second one; the reply says so and on what it
    matched. One candidate applies once per requisition. The skills given
    with an application are added to those on file (SetCandidateSkills,
    recruitment_pool.c, replaces them); every application updates the
    talent-pool index of its candidate.

    Every read and change of a candidate is on the audit log; a caller
    sees candidates who applied at one of their sites only.              */
#include <ctype.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_candidates.h"
#include "recruitment_experience.h"
#include "recruitment_pool.h"
#include "recruitment_privacy.h"
#include "recruitment_requisitions.h"

#define NORM_MAX 256

//  --------------------------------------------------------------------------
//  The e-mail as matched: trimmed, lower case. False when it is not one.
static bool
s_norm_email (const char *in, char *out)
{
    while (*in == ' ') {
        in++;
    }
    size_t n = strlen (in);
    while (n && in[n - 1] == ' ') {
        n--;
    }
    if (n < 3 || n > 254) {
        return false;
    }
    int at = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char) in[i];
        if (c <= ' ' || c == 0x7f) {
            return false;
        }
        at += c == '@';
        out[i] = (char) tolower (c);
    }
    out[n] = 0;
    const char *a = strchr (out, '@');
    return at == 1 && a != out && a[1] && strchr (a, '.') && a[strlen (a) - 1] != '.';
}

//  The phone as matched: its digits (7..15, E.164's most). False when it
//  is not one: only digits, spaces, "+-()./" are written in phone numbers.
static bool
s_norm_phone (const char *in, char *out)
{
    size_t n = 0;
    for (const char *c = in; *c; c++) {
        if (isdigit ((unsigned char) *c)) {
            if (n == 15) {
                return false;
            }
            out[n++] = *c;
        }
        else if (!strchr (" +-()./", *c)) {
            return false;
        }
    }
    out[n] = 0;
    return n >= 7;
}

//  --------------------------------------------------------------------------
//  True when the caller works at one of the candidate's sites.
static bool
s_cand_visible (pm_ctx_t *ctx, const rec_cand_t *c, const char **site)
{
    *site = c->n_site_ids ? c->site_ids[0] : "";
    for (size_t i = 0; i < c->n_site_ids; i++) {
        if (pm_principal_has_site (pm_ctx_principal (ctx), c->site_ids[i])) {
            *site = c->site_ids[i];
            return true;
        }
    }
    return pm_ctx_may_access_site (ctx, *site);
}

pm_err
rec_cand_open (pm_ctx_t *ctx, const char *id, const char *field, rec_cand_t **out)
{
    pm_err rc = rec_load (ctx, rec_db.candidates, id,
                          &pm__recruitment__candidate__descriptor, field, "candidate",
                          out);
    if (rc != PM_OK) {
        return rc;
    }
    const char *site;
    bool ok = s_cand_visible (ctx, *out, &site);
    pm_ctx_audit (ctx, (*out)->id, site);
    if (!ok) {
        rc = pm_ctx_fail (ctx, PM_EFORBIDDEN, field,
                          "%s: %s applied at none of the sites %s works at", field, id,
                          pm_ctx_principal (ctx)->name);
        pm__recruitment__candidate__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

pm_err
rec_app_open (pm_ctx_t *ctx, const char *id, const char *field, rec_app_t **out)
{
    pm_err rc = rec_load (ctx, rec_db.applications, id,
                          &pm__recruitment__application__descriptor, field,
                          "application", out);
    if (rc != PM_OK) {
        return rc;
    }
    pm_ctx_audit (ctx, (*out)->candidate_id, (*out)->site_id);
    rc = rec_access (ctx, (*out)->site_id, field);
    if (rc != PM_OK) {
        pm__recruitment__application__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

pm_err
rec_cand_forget_contact (pm_ctx_t *ctx, const rec_cand_t *c)
{
    char norm[NORM_MAX], held[PM_ID_MAX];
    struct {
        char tag;
        const char *given;
        bool (*norm) (const char *, char *);
    } contacts[] = {{REC_IX_EMAIL, c->email, s_norm_email},
                    {REC_IX_PHONE, c->phone, s_norm_phone}};
    pm_err rc = PM_OK;
    for (int i = 0; rc == PM_OK && i < 2; i++) {
        if (!contacts[i].given || !*contacts[i].given
            || !contacts[i].norm (contacts[i].given, norm)) {
            continue;
        }
        pm_key_t k;
        pm_key_init (&k, contacts[i].tag);
        pm_key_str (&k, norm);
        //  Only the entry that leads to this candidate is theirs to drop.
        if (rec_index_get (ctx, &k, held) == PM_OK && strcmp (held, c->id) == 0) {
            rc = rec_index (ctx, &k, c->id, false);
        }
    }
    return rc;
}

pm_err
rec_app_commit (pm_ctx_t *ctx, rec_app_t *app)
{
    return rec_commit (ctx, rec_db.applications, app->id, &app->base,
                       "recruitment.application.moved", app->site_id);
}

//  --------------------------------------------------------------------------
//  The rules of the applicant's data.
static pm_err
s_validate (pm_ctx_t *ctx, const Pm__Recruitment__Apply *req, char *email, char *phone)
{
    const rec_cand_t *c = req->candidate;
    email[0] = phone[0] = 0;
    if (!c) {
        return pm_ctx_fail (ctx, PM_EINVAL, "candidate", "candidate: is required");
    }
    pm_err rc = rec_text (ctx, "candidate.family_name", c->family_name, true, 100);
    if (rc == PM_OK && (c->n_given_names < 1 || c->n_given_names > 5)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "candidate.given_names",
                          "candidate.given_names: 1 to 5 names");
    }
    for (size_t i = 0; rc == PM_OK && i < c->n_given_names; i++) {
        char field[48];
        snprintf (field, sizeof field, "candidate.given_names[%zu]", i);
        rc = rec_text (ctx, field, c->given_names[i], true, 100);
    }
    if (rc == PM_OK && (!c->email || !*c->email) && (!c->phone || !*c->phone)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "candidate.email",
                          "candidate.email: an e-mail or a phone is required");
    }
    if (rc == PM_OK && c->email && *c->email && !s_norm_email (c->email, email)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "candidate.email",
                          "candidate.email: \"%.60s\" is not an e-mail address", c->email);
    }
    if (rc == PM_OK && c->phone && *c->phone && !s_norm_phone (c->phone, phone)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "candidate.phone",
                          "candidate.phone: \"%.40s\" is not a phone number (7 to 15 "
                          "digits)", c->phone);
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "candidate.cv_ref", c->cv_ref, false, 500);
    }
    if (rc == PM_OK) {
        rc = rec_skills_check (ctx, "candidate.skills", c->skills, c->n_skills,
                               REC_SKILLS_MAX);
    }
    if (rc == PM_OK && c->has_retention_days
        && (c->retention_days < 1 || c->retention_days > 3650)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "candidate.retention_days",
                          "candidate.retention_days: must be 1..3650");
    }
    if (rc == PM_OK && (!req->has_source || req->source == 0
                        || !protobuf_c_enum_descriptor_get_value (
                            &pm__recruitment__source__descriptor, (int) req->source))) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "source",
                          "source: is required (CAREERS_PAGE, JOB_BOARD, REFERRAL, "
                          "WALK_IN, AGENCY, OTHER)");
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "referrer", req->referrer,
                       req->source == PM__RECRUITMENT__SOURCE__REFERRAL, 100);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  The candidate already on file with this e-mail or phone, if any.
static pm_err
s_find_duplicate (pm_ctx_t *ctx, const char *email, const char *phone, char *cand_id,
                  const char **matched_on)
{
    pm_key_t k;
    pm_err rc = PM_ENOTFOUND;
    if (*email) {
        pm_key_init (&k, REC_IX_EMAIL);
        pm_key_str (&k, email);
        rc = rec_index_get (ctx, &k, cand_id);
        *matched_on = "email";
    }
    if (rc == PM_ENOTFOUND && *phone) {
        pm_key_init (&k, REC_IX_PHONE);
        pm_key_str (&k, phone);
        rc = rec_index_get (ctx, &k, cand_id);
        *matched_on = "phone";
    }
    return rc;
}

//  Indexes the candidate's e-mail or phone unless someone holds it.
static pm_err
s_index_contact (pm_ctx_t *ctx, char tag, const char *norm, const char *cand_id)
{
    if (!*norm) {
        return PM_OK;
    }
    pm_key_t k;
    pm_key_init (&k, tag);
    pm_key_str (&k, norm);
    char held[PM_ID_MAX];
    pm_err rc = rec_index_get (ctx, &k, held);
    return rc == PM_ENOTFOUND ? rec_index (ctx, &k, cand_id, true) : rc;
}

//  --------------------------------------------------------------------------
//  Adds to candidate `c` the skills of `given` (checked) not on file yet;
//  true in *changed when any was. Refused beyond REC_SKILLS_MAX in all.
static pm_err
s_add_skills (pm_ctx_t *ctx, rec_cand_t *c, const rec_cand_t *given, bool *changed)
{
    char norm[REC_SKILL_BYTES], held[REC_SKILL_BYTES];
    for (size_t i = 0; i < given->n_skills; i++) {
        rec_skill_norm (given->skills[i], norm);
        bool known = false;
        for (size_t j = 0; !known && j < c->n_skills; j++) {
            known = rec_skill_norm (c->skills[j], held) && strcmp (norm, held) == 0;
        }
        if (known) {
            continue;
        }
        if (c->n_skills == REC_SKILLS_MAX) {
            return pm_ctx_fail (ctx, PM_EINVAL, "candidate.skills",
                                "candidate.skills: %s has %d skills on file; at most %d "
                                "in all", c->id, REC_SKILLS_MAX, REC_SKILLS_MAX);
        }
        c->skills = realloc (c->skills, (c->n_skills + 1) * sizeof *c->skills);
        if (!c->skills) {
            abort ();
        }
        c->skills[c->n_skills++] = strdup (given->skills[i]);
        *changed = true;
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  The candidate of an application: the one on file (with the site added,
//  and a contact detail they did not have yet), or a new one.
static pm_err
s_candidate (pm_ctx_t *ctx, const Pm__Recruitment__Apply *req, const char *site,
             const char *email, const char *phone, rec_cand_t **out,
             Pm__Recruitment__ApplyResult *result)
{
    char cand_id[PM_ID_MAX];
    const char *matched_on = NULL;
    pm_err rc = s_find_duplicate (ctx, email, phone, cand_id, &matched_on);
    int64_t now = pm_ctx_now (ctx);
    if (rc == PM_OK) {
        rc = rec_load (ctx, rec_db.candidates, cand_id,
                       &pm__recruitment__candidate__descriptor, "candidate", "candidate",
                       out);
        if (rc != PM_OK) {
            return rc;
        }
        rec_cand_t *c = *out;
        result->has_duplicate = 1;
        result->duplicate = 1;
        result->matched_on = (char *) matched_on;
        bool changed = false;
        bool known = false;
        for (size_t i = 0; i < c->n_site_ids; i++) {
            known |= strcmp (c->site_ids[i], site) == 0;
        }
        if (!known) {
            c->site_ids = realloc (c->site_ids, (c->n_site_ids + 1) * sizeof (char *));
            c->site_ids[c->n_site_ids++] = strdup (site);
            changed = true;
        }
        if ((!c->email || !*c->email) && *email) {
            free (c->email);
            c->email = strdup (req->candidate->email);
            rc = s_index_contact (ctx, REC_IX_EMAIL, email, c->id);
            changed = true;
        }
        if (rc == PM_OK && (!c->phone || !*c->phone) && *phone) {
            free (c->phone);
            c->phone = strdup (req->candidate->phone);
            rc = s_index_contact (ctx, REC_IX_PHONE, phone, c->id);
            changed = true;
        }
        if (req->consent) {
            pm__recruitment__consent__free_unpacked (c->consent, NULL);
            c->consent = rec_consent_stamp (ctx, req->consent);
            changed = true;
        }
        if (rc == PM_OK) {
            rc = s_add_skills (ctx, c, req->candidate, &changed);
        }
        //  A new process: the retention clock stops until it ends.
        changed |= rec_privacy_reopened (ctx, c);
        if (rc == PM_OK && changed) {
            c->version++;
            c->updated_at = now;
            rc = rec_put (ctx, rec_db.candidates, c->id, &c->base);
            if (rc == PM_OK) {
                rc = pm_ctx_emit (ctx, "recruitment.candidate.updated", site, c->id,
                                  &c->base);
            }
        }
        return rc;
    }
    if (rc != PM_ENOTFOUND) {
        return rc;
    }
    //  A new person: copied from the request into owned memory, so that
    //  both paths hand back a record the caller frees the same way.
    rec_cand_t c = *req->candidate;
    pm_id_new ("cand", now, cand_id);
    c.id = cand_id;
    c.has_version = c.has_created_at = c.has_updated_at = 1;
    c.version = 1;
    c.created_at = c.updated_at = now;
    c.n_site_ids = 1;
    c.site_ids = (char **) &site;
    //  What the service keeps for itself is never taken from the request.
    c.consent = rec_consent_stamp (ctx, req->consent);
    c.has_retain_until = c.has_erased_at = 0;
    c.erased_by = c.erase_reason = NULL;
    rc = s_index_contact (ctx, REC_IX_EMAIL, email, cand_id);
    if (rc == PM_OK) {
        rc = s_index_contact (ctx, REC_IX_PHONE, phone, cand_id);
    }
    if (rc == PM_OK) {
        rc = rec_put (ctx, rec_db.candidates, cand_id, &c.base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "recruitment.candidate.registered", site, cand_id, &c.base);
    }
    pm__recruitment__consent__free_unpacked (c.consent, NULL);
    if (rc == PM_OK) {
        rc = pm_store_get_msg (pm_ctx_txn (ctx), rec_db.candidates, cand_id,
                               strlen (cand_id), &pm__recruitment__candidate__descriptor,
                               (ProtobufCMessage **) out);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.Apply
static pm_err
s_apply (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__Apply *req = (const void *) body;
    char email[NORM_MAX], phone[NORM_MAX];
    pm_err rc = s_validate (ctx, req, email, phone);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Recruitment__Posting *p;
    rc = rec_load (ctx, rec_db.postings, req->posting_id,
                   &pm__recruitment__posting__descriptor, "posting_id", "posting", &p);
    if (rc != PM_OK) {
        return rc;
    }
    rec_job_t *j = NULL;
    rc = rec_access (ctx, p->site_id, "posting_id");
    if (rc == PM_OK) {
        rc = rec_job_load (ctx, p->requisition_id, "posting_id", &j);
    }
    if (rc == PM_OK && (p->status != PM__RECRUITMENT__POSTING_STATUS__POSTING_LIVE
                        || j->status != PM__RECRUITMENT__REQUISITION_STATUS__OPEN)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "posting_id",
                          "posting_id: %s is not taking applications (closed, or its "
                          "requisition is not open)", p->id);
    }
    rec_cand_t *c = NULL;
    Pm__Recruitment__ApplyResult result = PM__RECRUITMENT__APPLY_RESULT__INIT;
    if (rc == PM_OK) {
        rc = s_candidate (ctx, req, p->site_id, email, phone, &c, &result);
    }
    char app_id[PM_ID_MAX];
    pm_key_t by_cand;
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, c->id, p->site_id);
        pm_key_init (&by_cand, REC_IX_APP_BY_CAND);
        pm_key_str (&by_cand, c->id);
        pm_key_str (&by_cand, j->id);
        rc = rec_index_get (ctx, &by_cand, app_id);
        if (rc == PM_OK) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "candidate",
                              "candidate: %s applied to %s already (%s)", c->id, j->id,
                              app_id);
        }
        else if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
        }
    }
    if (rc == PM_OK) {
        int64_t now = pm_ctx_now (ctx);
        pm_id_new ("app", now, app_id);
        Pm__Recruitment__StageChange first = PM__RECRUITMENT__STAGE_CHANGE__INIT,
                                     *history[1] = {&first};
        first.has_from = first.has_to = first.has_at = 1;
        first.from = PM__RECRUITMENT__STAGE__STAGE_UNSET;
        first.to = PM__RECRUITMENT__STAGE__APPLIED;
        first.actor = (char *) pm_ctx_principal (ctx)->name;
        first.actor_role = (char *) rec_role_name (ctx);
        first.at = now;
        rec_app_t a = PM__RECRUITMENT__APPLICATION__INIT;
        a.id = app_id;
        a.has_version = a.has_source = a.has_stage = a.has_applied_at = a.has_updated_at = 1;
        a.version = 1;
        a.candidate_id = c->id;
        a.requisition_id = j->id;
        a.posting_id = p->id;
        a.site_id = p->site_id;
        a.source = req->source;
        a.referrer = req->referrer && *req->referrer ? req->referrer : NULL;
        a.stage = PM__RECRUITMENT__STAGE__APPLIED;
        a.n_history = 1;
        a.history = history;
        a.applied_at = a.updated_at = now;
        pm_key_t by_job;
        pm_key_init (&by_job, REC_IX_APP_BY_JOB);
        pm_key_str (&by_job, j->id);
        pm_key_str (&by_job, app_id);
        rc = rec_index (ctx, &by_job, app_id, true);
        if (rc == PM_OK) {
            rc = rec_index (ctx, &by_cand, app_id, true);
        }
        if (rc == PM_OK) {
            rc = rec_put (ctx, rec_db.applications, app_id, &a.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "recruitment.application.received", a.site_id, app_id,
                              &a.base);
        }
        if (rc == PM_OK) {
            rc = rec_sla_applied (ctx, &a);
        }
        if (rc == PM_OK) {
            rc = rec_pool_sync (pm_ctx_txn (ctx), c, &a);
        }
        if (rc == PM_OK) {
            result.application = &a;
            result.candidate = c;
            rc = pm_ctx_reply (ctx, &result.base);
        }
    }
    pm__recruitment__candidate__free_unpacked (c, NULL);
    pm__recruitment__requisition__free_unpacked (j, NULL);
    pm__recruitment__posting__free_unpacked (p, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.GetCandidate
static pm_err
s_get_candidate (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__GetCandidate *req = (const void *) body;
    rec_cand_t *c;
    pm_err rc = rec_cand_open (ctx, req->candidate_id, "candidate_id", &c);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &c->base);
        pm__recruitment__candidate__free_unpacked (c, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.GetApplication
static pm_err
s_get_application (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__GetApplication *req = (const void *) body;
    rec_app_t *a;
    pm_err rc = rec_app_open (ctx, req->application_id, "application_id", &a);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &a->base);
        pm__recruitment__application__free_unpacked (a, NULL);
    }
    return rc;
}

//  Every application listed is a candidate's data: audited.
static bool
s_audit_application (pm_ctx_t *ctx, const ProtobufCMessage *m, const void *arg)
{
    (void) arg;
    const rec_app_t *a = (const rec_app_t *) m;
    pm_ctx_audit (ctx, a->candidate_id, a->site_id);
    return true;
}

//  --------------------------------------------------------------------------
//  recruitment.ListApplications
static pm_err
s_list_applications (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListApplications *req = (const void *) body;
    rec_job_t *j;
    pm_err rc = rec_job_load (ctx, req->requisition_id, "requisition_id", &j);
    if (rc == PM_OK) {
        rc = rec_access (ctx, j->site_id, "requisition_id");
    }
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_APP_BY_JOB);
        pm_key_str (&k, j->id);
        rec_listing_t found;
        rc = rec_listing_load (ctx, &k, rec_db.applications,
                               &pm__recruitment__application__descriptor, s_audit_application,
                               NULL, &found);
        if (rc == PM_OK) {
            Pm__Recruitment__ApplicationList list = PM__RECRUITMENT__APPLICATION_LIST__INIT;
            list.applications = (rec_app_t **) found.items;
            list.n_applications = found.n;
            rc = pm_ctx_reply (ctx, &list.base);
        }
        rec_listing_free (&found);
    }
    pm__recruitment__requisition__free_unpacked (j, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
rec_candidates_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.Apply", s_apply);
    pm_server_handle (server, "recruitment.GetCandidate", s_get_candidate);
    pm_server_handle (server, "recruitment.GetApplication", s_get_application);
    pm_server_handle (server, "recruitment.ListApplications", s_list_applications);
}
