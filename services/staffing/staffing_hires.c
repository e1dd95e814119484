/*  staffing_hires.c: the recruitment follower and staffing.GetHire.

    Exactly once: the hires db holds one HireRecord per hire - the first
    of a candidate under the candidate id, a further one (the same person
    hired into another opening) under "candidate/requisition" - written
    in the transaction that onboards the staff member (and that advances
    the cursor). A second delivery of the same hire - a replay after a
    restart, a re-sent event, the producer's stream rebuilt from seq 1 -
    finds the record and changes nothing. A further hire does not make a
    second person: the staff record of the first gains the post, or is
    active again for someone who had left (stf_staff_rehire). A hire that
    cannot be onboarded (unknown site, bad data) is recorded as rejected
    with the reason and announced as staffing.hire.rejected, so that a
    person fixes it rather than a log line nobody reads.                */
#include <stdio.h>
#include <string.h>

#include "pm_id.h"
#include "pm_keys.h"
#include "pm_log.h"
#include "recruitment.pb-c.h"
#include "staffing_hires.h"
#include "staffing_staff.h"
#include "staffing_store.h"

typedef Pm__Recruitment__CandidateHired hired_t;

//  The staff record a hire describes (borrowing the hire's strings).
static void
s_staff_from (const hired_t *h, stf_staff_t *s, Pm__Staffing__PersonName *name,
              Pm__Staffing__SiteAssignment *site, Pm__Staffing__SiteAssignment **sites,
              char **roles)
{
    pm__staffing__person_name__init (name);
    name->family = h->family_name;
    name->n_given = h->n_given_names;
    name->given = h->given_names;
    pm__staffing__site_assignment__init (site);
    site->site_id = h->site_id;
    site->has_fte_permille = 1;
    site->fte_permille = h->has_fte_permille ? h->fte_permille : 1000;
    sites[0] = site;
    roles[0] = h->role;
    s->name = name;
    s->email = h->email;
    s->phone = h->phone;
    s->n_roles = h->role ? 1 : 0;
    s->roles = roles;
    s->n_sites = 1;
    s->sites = sites;
    s->has_pay_rate_minor = h->has_pay_rate_minor;
    s->pay_rate_minor = h->pay_rate_minor;
    s->currency = h->currency;
    s->start_date = h->start_date;
    s->candidate_id = h->candidate_id;
    s->requisition_id = h->requisition_id;
}

//  True when a hire record is of requisition `req` (records from before
//  requisitions were kept match any).
static bool
s_of_requisition (const Pm__Staffing__HireRecord *rec, const char *req)
{
    return !rec->requisition_id || !*rec->requisition_id || !req || !*req
           || strcmp (rec->requisition_id, req) == 0;
}

//  Where the record of hire `h` lives (key, NUL-terminated): PM_OK when it
//  is there already, PM_ENOTFOUND when the hire is new - then staff_of
//  holds the staff id of the candidate's first hire, if any (a further
//  hire of the same person).
static pm_err
s_hire_key (MDB_txn *txn, const hired_t *h, char *key, char *staff_of)
{
    snprintf (key, 2 * 64 + 2, "%s", h->candidate_id);
    Pm__Staffing__HireRecord *first = NULL;
    pm_err rc = pm_store_get_msg (txn, stf_db.hires, key, strlen (key),
                                  &pm__staffing__hire_record__descriptor,
                                  (ProtobufCMessage **) &first);
    if (rc != PM_OK) {
        return rc; //  PM_ENOTFOUND: the candidate's first hire
    }
    if (s_of_requisition (first, h->requisition_id)) {
        pm__staffing__hire_record__free_unpacked (first, NULL);
        return PM_OK;
    }
    snprintf (staff_of, PM_ID_MAX, "%s", first->staff_id ? first->staff_id : "");
    pm__staffing__hire_record__free_unpacked (first, NULL);
    snprintf (key, 2 * 64 + 2, "%s/%.64s", h->candidate_id, h->requisition_id);
    MDB_val val;
    return pm_store_get (txn, stf_db.hires, key, strlen (key), &val);
}

//  --------------------------------------------------------------------------
//  Applies one event of the recruitment stream.
static pm_err
s_apply (pm_ctx_t *ctx, const Pm__Event *event)
{
    if (!event->type || strcmp (event->type, "recruitment.candidate.hired") != 0) {
        return PM_OK; //  not ours; the cursor still moves past it
    }
    hired_t *h = pm__recruitment__candidate_hired__unpack (NULL, event->data.len,
                                                          event->data.data);
    if (!h || !h->candidate_id || !*h->candidate_id
        || strlen (h->candidate_id) > 64) {
        pm__recruitment__candidate_hired__free_unpacked (h, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data",
                             "recruitment.candidate.hired without a candidate_id");
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    char key[2 * 64 + 2], staff_of[PM_ID_MAX] = "";
    pm_err rc = s_hire_key (txn, h, key, staff_of);
    if (rc != PM_ENOTFOUND) {
        //  Seen before (PM_OK): nothing to do, whatever became of it.
        pm__recruitment__candidate_hired__free_unpacked (h, NULL);
        return rc;
    }
    stf_staff_t s = PM__STAFFING__STAFF__INIT;
    Pm__Staffing__PersonName name;
    Pm__Staffing__SiteAssignment site, *sites[1];
    char *roles[1];
    s_staff_from (h, &s, &name, &site, sites, roles);
    char staff_id[PM_ID_MAX] = "";
    const ProtobufCEnumValue *type = h->employment_type
        ? protobuf_c_enum_descriptor_get_value_by_name (
              &pm__staffing__employment_type__descriptor, h->employment_type)
        : NULL;
    if (!type || type->value == PM__STAFFING__EMPLOYMENT_TYPE__EMPLOYMENT_UNSET) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "employment_type",
                           "employment_type: \"%.32s\" is not FULL_TIME, PART_TIME, "
                           "CONTRACTOR, LOCUM or TEMPORARY",
                           h->employment_type ? h->employment_type : "");
    }
    else if (!h->role || !h->site_id) {
        //  A further hire compares them with the post held (fuzz finding F11).
        rc = pm_ctx_fail (ctx, PM_EINVAL, h->role ? "site_id" : "role", "%s: is required",
                          h->role ? "site_id" : "role");
    }
    else {
        s.has_employment_type = 1;
        s.employment_type = (Pm__Staffing__EmploymentType) type->value;
        if (staff_of[0]) {
            snprintf (staff_id, sizeof staff_id, "%s", staff_of);
            rc = stf_staff_rehire (ctx, staff_of, &s);
        }
        else {
            rc = stf_staff_onboard (ctx, &s, staff_id);
        }
    }
    Pm__Staffing__HireRecord rec = PM__STAFFING__HIRE_RECORD__INIT;
    rec.candidate_id = h->candidate_id;
    rec.requisition_id = h->requisition_id;
    rec.stream_id = event->stream_id;
    rec.has_seq = rec.has_applied_at = 1;
    rec.seq = event->seq;
    rec.applied_at = pm_ctx_now (ctx);
    if (rc == PM_OK) {
        rec.staff_id = staff_id;
    }
    else if (rc == PM_EINVAL || rc == PM_ENOTFOUND || rc == PM_ECONFLICT
             || rc == PM_EFORBIDDEN) {
        //  Refused by the rules: nothing was written; keep why.
        rec.rejected_reason = (char *) pm_ctx_failure (ctx);
        pm_warn ("hire rejected", "candidate", h->candidate_id, "reason",
                 pm_ctx_failure (ctx), NULL);
        rc = pm_ctx_emit (ctx, "staffing.hire.rejected", h->site_id, h->candidate_id,
                          &rec.base);
    }
    if (rc == PM_OK) {
        rc = stf_put (ctx, stf_db.hires, key, &rec.base);
    }
    pm__recruitment__candidate_hired__free_unpacked (h, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Recruitment's stream was replaced and will be replayed from seq 1. The
//  staff made from it are staffing's own records, not a projection: they
//  stay, and so do the hire records that keep the replay from onboarding
//  anyone twice.
static pm_err
s_reset (pm_ctx_t *ctx, const char *source)
{
    (void) ctx;
    pm_warn ("recruitment stream replaced: hires are kept, replay onboards only "
             "new candidates", "source", source, NULL);
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  staffing.GetHire
static pm_err
s_get_hire (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__GetHire *req = (const Pm__Staffing__GetHire *) body;
    Pm__Staffing__HireRecord *rec;
    pm_err rc = stf_load (ctx, stf_db.hires, req->candidate_id,
                          &pm__staffing__hire_record__descriptor, "candidate_id",
                          "hire of candidate", &rec);
    if (rc == PM_OK && !s_of_requisition (rec, req->requisition_id)) {
        //  A further hire of the candidate: its own record.
        char key[2 * 64 + 2];
        snprintf (key, sizeof key, "%s/%.64s", req->candidate_id, req->requisition_id);
        pm__staffing__hire_record__free_unpacked (rec, NULL);
        rc = stf_load (ctx, stf_db.hires, key, &pm__staffing__hire_record__descriptor,
                       "requisition_id", "hire of candidate and requisition", &rec);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &rec->base);
        pm__staffing__hire_record__free_unpacked (rec, NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_hires_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.GetHire", s_get_hire);
    //  Recruitment may start after staffing (they follow each other): the
    //  runtime's follower waits for its key and connects when it appears.
    pm_server_follow (server, "recruitment", s_apply, s_reset);
}
