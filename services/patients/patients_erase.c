/*  patients_erase.c: erasure of a patient's identifying data.

    What goes: every identifying field of the record (and of the records
    it replaced in merges: the same person), their name, birth date,
    phone and e-mail index entries, their duplicate pairs, the merge
    snapshots holding their old states, the comments of their surveys and
    the free text of their (closed) complaints.

    What stays, and why: the record's id, home site, links and times, so
    that counts per site, survey scores, complaint service-level figures
    and the hash-chained audit log (which names records by id only) stay
    valid; consent (flags, times and staff names: nothing identifying the
    patient); the MRN index entries, pointing at the erased record, so a
    site never issues a number of someone's old chart to someone else.

    The stream: patients.patient.erased (and .survey.redacted,
    .complaint.redacted) tell every consumer to drop what it holds; new
    events and reads carry nothing identifying. The events appended before
    carried the full states; they are rewritten in place (same seq, type
    and subject, so cursors and the gap-free stream stay valid; data as it
    reads once erased) by a timer, in bounded passes from the start of the
    stream to its end (PM_PATIENTS_REDACT_PER_PASS events every
    PM_PATIENTS_REDACT_EVERY_MS), the job kept in "redactions" so a
    restart goes on where it was. The erasure's request and reply are not
    rewritten: stored replies expire after PM_REPLY_TTL_S, and the audit
    log names records by id only. When the pass reaches the end of the
    stream, patients.patient.events_redacted tells systems that copied the
    raw stream to read it again.                                          */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_store.h"
#include "pm_cfg.h"

#define CHAIN_MAX 64             //  records erased together, at most

typedef Pm__Patients__EventRedaction redaction_t;

typedef Pm__Patients__Survey survey_t;

//  Removes the comments of every survey of `patient`.
static pm_err
s_redact_surveys (pm_ctx_t *ctx, const char *patient, size_t *redacted)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint8_t prefix[PAT_KEY_MAX];
    prefix[0] = 'P';
    size_t plen = 1 + pat_pair_key (prefix + 1, patient, "");
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.surveys, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    char (*ids)[PM_ID_MAX] = NULL;
    size_t n = 0;
    MDB_val key = {plen, prefix}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size > plen && memcmp (key.mv_data, prefix, plen) == 0) {
        ids = realloc (ids, (n + 1) * sizeof *ids);
        if (!ids) {
            abort ();
        }
        size_t idlen = key.mv_size - plen;
        snprintf (ids[n++], PM_ID_MAX, "%.*s",
                  (int) (idlen < PM_ID_MAX ? idlen : PM_ID_MAX - 1),
                  (char *) key.mv_data + plen);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        survey_t *s;
        rc = pat_survey_get (txn, ids[i], &s);
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
            continue;
        }
        if (rc == PM_OK && s->comment) {
            char *comment = s->comment;
            s->comment = NULL;
            s->version++;
            rc = pat_survey_put (txn, s);
            if (rc == PM_OK) {
                rc = pm_ctx_emit (ctx, "patients.survey.redacted", s->site_id, s->id,
                                  &s->base);
            }
            s->comment = comment;
            (*redacted)++;
        }
        pm__patients__survey__free_unpacked (s, NULL);
    }
    free (ids);
    return rc;
}

//  Erases one record (already loaded as `p`) and what hangs off it.
static pm_err
s_erase_one (pm_ctx_t *ctx, const patient_t *p, const char *basis,
             Pm__Patients__ErasureResult *result, patient_t **erased_out)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    size_t complaints = 0, surveys = 0;
    pm_err rc = pat_complaints_redact (ctx, p->id, &complaints);
    if (rc == PM_OK) {
        rc = s_redact_surveys (ctx, p->id, &surveys);
    }
    if (rc == PM_OK) {
        rc = pat_dups_forget (ctx, p->id);
    }
    if (rc == PM_OK) {
        rc = pm_store_del (txn, pat_db.merges, p->id, strlen (p->id));
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    if (rc == PM_OK) {
        rc = pat_index (txn, p, false);
    }
    //  The MRNs stay reserved for the erased record.
    for (size_t i = 0; rc == PM_OK && i < p->n_mrns; i++) {
        uint8_t key[PAT_KEY_MAX];
        size_t n = pat_pair_key (key, p->mrns[i]->site_id, p->mrns[i]->mrn);
        rc = pm_store_put (txn, pat_db.by_mrn, key, n, p->id, strlen (p->id), 0);
    }
    if (rc != PM_OK) {
        return rc;
    }
    char reason[PAT_TEXT_MAX + 16];
    snprintf (reason, sizeof reason, "erased: %s", basis);
    patient_t e;
    pat_erased_view (p, &e);
    e.has_version = e.has_active = e.has_updated_at = e.has_erased_at = 1;
    e.version = p->version + 1;
    e.active = false;
    e.updated_at = e.erased_at = pm_ctx_now (ctx);
    e.status_reason = reason;
    rc = pat_put (txn, &e);
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "patients.patient.erased", e.home_site, e.id, &e.base);
    }
    if (rc == PM_OK && erased_out) {
        size_t len = pm__patients__patient__get_packed_size (&e);
        uint8_t *buf = malloc (len + 1);
        if (!buf) {
            abort ();
        }
        pm__patients__patient__pack (&e, buf);
        *erased_out = pm__patients__patient__unpack (NULL, len, buf);
        free (buf);
        rc = *erased_out ? PM_OK : PM_EINTERNAL;
    }
    result->surveys_redacted += (uint32_t) surveys;
    result->complaints_redacted += (uint32_t) complaints;
    return rc;
}

//  --------------------------------------------------------------------------
//  What an erased record keeps of `p` (see the header).
void
pat_erased_view (const patient_t *p, patient_t *out)
{
    pm__patients__patient__init (out);
    out->id = p->id;
    out->has_version = p->has_version;
    out->version = p->version;
    out->has_active = p->has_active;
    out->active = p->active;
    out->home_site = p->home_site;
    out->n_links = p->n_links;
    out->links = p->links;
    out->has_created_at = p->has_created_at;
    out->created_at = p->created_at;
    out->has_updated_at = p->has_updated_at;
    out->updated_at = p->updated_at;
    out->has_erased_at = p->has_erased_at;
    out->erased_at = p->erased_at;
}

//  --- the older events ------------------------------------------------------

//  Starts rewriting the stream's older events about the records erased
//  together (chain[0] and the records it replaced), from its first event.
static pm_err
s_redaction_start (pm_ctx_t *ctx, patient_t **chain, size_t n)
{
    char *ids[CHAIN_MAX];
    for (size_t i = 0; i < n; i++) {
        ids[i] = chain[i]->id;
    }
    redaction_t job = PM__PATIENTS__EVENT_REDACTION__INIT;
    job.n_patient_ids = n;
    job.patient_ids = ids;
    job.has_erased_at = job.has_next_seq = job.has_events_seen = 1;
    job.has_events_redacted = 1;
    job.erased_at = pm_ctx_now (ctx);
    job.next_seq = 1;
    const char *id = chain[0]->id;
    return pm_store_put_msg (pm_ctx_txn (ctx), pat_db.redactions, id, strlen (id),
                             &job.base, 0);
}

//  True if `id` is one of the job's erased records.
static bool
s_erased_by (const redaction_t *job, const char *id)
{
    for (size_t i = 0; id && i < job->n_patient_ids; i++) {
        if (strcmp (job->patient_ids[i], id) == 0) {
            return true;
        }
    }
    return false;
}

//  Packs a message (malloc'd).
static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *len_out)
{
    *len_out = protobuf_c_message_get_packed_size (msg);
    uint8_t *packed = malloc (*len_out + 1);
    if (!packed) {
        abort ();
    }
    protobuf_c_message_pack (msg, packed);
    return packed;
}

//  A complaint's erased form as a message (caller frees).
static Pm__Patients__Complaint *
s_complaint_erased (Pm__Patients__Complaint *c)
{
    size_t len;
    uint8_t *packed = pat_complaint_pack_erased (c, &len);
    Pm__Patients__Complaint *e = pm__patients__complaint__unpack (NULL, len, packed);
    free (packed);
    if (!e) {
        abort (); //  we packed it
    }
    return e;
}

//  One older event's data as it reads once the job's records are erased,
//  or NULL to keep it: the records' states (registered, updated, merged
//  with...), their surveys' comments and their complaints' free text.
static uint8_t *
s_redacted (const Pm__Event *event, const redaction_t *job, size_t *len)
{
    const char *type = event->type ? event->type : "";
    size_t dlen = event->data.len;
    const uint8_t *data = event->data.data;
    uint8_t *out = NULL;
    if (strcmp (type, "patients.patient.merged") == 0
        || strcmp (type, "patients.patient.unmerged") == 0) {
        Pm__Patients__MergeResult *m = pm__patients__merge_result__unpack (NULL, dlen, data);
        bool survivor = m && m->survivor && s_erased_by (job, m->survivor->id);
        bool merged = m && m->merged && s_erased_by (job, m->merged->id);
        if (survivor || merged) {
            patient_t sv, mv;
            patient_t *was_survivor = m->survivor, *was_merged = m->merged;
            char *reason = m->reason;
            if (survivor) {
                pat_erased_view (was_survivor, &sv);
                m->survivor = &sv;
            }
            if (merged) {
                pat_erased_view (was_merged, &mv);
                m->merged = &mv;
            }
            m->reason = NULL; //  staff's words about the person
            out = s_pack (&m->base, len);
            m->survivor = was_survivor;
            m->merged = was_merged;
            m->reason = reason;
        }
        pm__patients__merge_result__free_unpacked (m, NULL);
    }
    else if (strcmp (type, "patients.patient.registered") == 0
             || strcmp (type, "patients.patient.updated") == 0
             || strcmp (type, "patients.patient.deactivated") == 0
             || strcmp (type, "patients.patient.reactivated") == 0) {
        patient_t *p = pm__patients__patient__unpack (NULL, dlen, data);
        if (p && s_erased_by (job, p->id)) {
            patient_t view;
            pat_erased_view (p, &view);
            out = s_pack (&view.base, len);
        }
        pm__patients__patient__free_unpacked (p, NULL);
    }
    else if (strncmp (type, "patients.survey.", 16) == 0) {
        survey_t *sv = pm__patients__survey__unpack (NULL, dlen, data);
        if (sv && sv->comment && s_erased_by (job, sv->patient_id)) {
            out = pat_survey_pack_erased (sv, len);
        }
        pm__patients__survey__free_unpacked (sv, NULL);
    }
    else if (strcmp (type, "patients.complaint.breached") == 0) {
        Pm__Patients__ComplaintBreach *b =
            pm__patients__complaint_breach__unpack (NULL, dlen, data);
        if (b && b->complaint && s_erased_by (job, b->complaint->patient_id)) {
            Pm__Patients__Complaint *was = b->complaint;
            b->complaint = s_complaint_erased (was);
            out = s_pack (&b->base, len);
            pm__patients__complaint__free_unpacked (b->complaint, NULL);
            b->complaint = was;
        }
        pm__patients__complaint_breach__free_unpacked (b, NULL);
    }
    else if (strncmp (type, "patients.complaint.", 19) == 0) {
        Pm__Patients__Complaint *c = pm__patients__complaint__unpack (NULL, dlen, data);
        if (c && s_erased_by (job, c->patient_id)) {
            out = pat_complaint_pack_erased (c, len);
        }
        pm__patients__complaint__free_unpacked (c, NULL);
    }
    return out;
}

typedef struct {
    const redaction_t *job;
    uint64_t redacted;
} s_pass_t;

static pm_err
s_rewrite_one (const Pm__Event *event, void *arg, uint8_t **data_out, size_t *len_out)
{
    s_pass_t *pass = arg;
    *data_out = s_redacted (event, pass->job, len_out);
    if (*data_out && *len_out == event->data.len
        && memcmp (*data_out, event->data.data, *len_out) == 0) {
        free (*data_out); //  erased already (a .redacted event): keep it
        *data_out = NULL;
    }
    pass->redacted += *data_out != NULL;
    return PM_OK;
}

//  Timed: one bounded pass of the oldest erasure's rewriting; at the end
//  of the stream the job is done and patients.patient.events_redacted
//  says so.
static pm_err
s_redact_tick (pm_ctx_t *ctx)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.redactions, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    redaction_t *job = mrc == 0 ? pm__patients__event_redaction__unpack (NULL, val.mv_size,
                                                                         val.mv_data)
                                : NULL;
    mdb_cursor_close (cursor);
    if (mrc == MDB_NOTFOUND) {
        return PM_OK;
    }
    if (!job || job->n_patient_ids == 0) {
        pm__patients__event_redaction__free_unpacked (job, NULL);
        return mrc ? pm_err_from_mdb (mrc) : PM_EINTERNAL;
    }
    uint32_t per_pass = (uint32_t) pm_cfg_int ("PM_PATIENTS_REDACT_PER_PASS", 5000);
    s_pass_t pass = {job, 0};
    uint64_t next;
    bool done;
    rc = pm_ctx_events_rewrite (ctx, job->next_seq, per_pass ? per_pass : 1, s_rewrite_one,
                                &pass, &next, &done);
    const char *id = job->patient_ids[0];
    if (rc == PM_OK) {
        job->events_seen += next - job->next_seq;
        job->events_redacted += pass.redacted;
        job->next_seq = next;
        if (done) {
            patient_t *p = NULL;
            rc = pat_get (txn, id, &p);
            job->has_completed_at = 1;
            job->completed_at = pm_ctx_now (ctx);
            if (rc == PM_OK) {
                rc = pm_store_del (txn, pat_db.redactions, id, strlen (id));
            }
            if (rc == PM_OK) {
                rc = pm_ctx_emit (ctx, "patients.patient.events_redacted", p->home_site, id,
                                  &job->base);
            }
            pm__patients__patient__free_unpacked (p, NULL);
        }
        else {
            rc = pm_store_put_msg (txn, pat_db.redactions, id, strlen (id), &job->base, 0);
        }
    }
    pm__patients__event_redaction__free_unpacked (job, NULL);
    return rc;
}

//  patients.Erase
static pm_err
s_erase (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Erase *req = (const Pm__Patients__Erase *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (!req->has_expected_version || req->expected_version == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version is required: the version you read");
    }
    pm_err rc = pat_check_text (ctx, "legal_basis", req->legal_basis, true);
    if (rc != PM_OK) {
        return rc;
    }
    //  The record and every record it replaced, depth first.
    patient_t *chain[CHAIN_MAX] = {NULL};
    size_t n = 0;
    rc = pat_load (ctx, req->id, "id", &chain[0]);
    if (rc == PM_OK) {
        n = 1;
        rc = pat_access (ctx, chain[0], "id");
    }
    if (rc == PM_OK) {
        rc = pat_check_changeable (ctx, chain[0], "id");
    }
    if (rc == PM_OK && chain[0]->version != req->expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu, not %llu: read it again",
                          chain[0]->id, (unsigned long long) chain[0]->version,
                          (unsigned long long) req->expected_version);
    }
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        for (size_t j = 0; rc == PM_OK && j < chain[i]->n_links; j++) {
            const Pm__Patients__PatientLink *link = chain[i]->links[j];
            if (link->type != PM__PATIENTS__LINK_TYPE__REPLACES) {
                continue;
            }
            if (n == CHAIN_MAX) {
                rc = pm_ctx_fail (ctx, PM_ECONFLICT, "id",
                                  "more than %d merged records: erase them in parts",
                                  CHAIN_MAX);
                break;
            }
            rc = pat_get (txn, link->other_id, &chain[n]);
            if (rc == PM_ENOTFOUND) {
                rc = PM_OK; //  a link to nothing: nothing more to erase
                continue;
            }
            if (rc == PM_OK && !pat_erased (chain[n])) {
                pm_ctx_audit (ctx, chain[n]->id, chain[n]->home_site);
                n++;
            }
            else if (rc == PM_OK) {
                pm__patients__patient__free_unpacked (chain[n], NULL);
                chain[n] = NULL;
            }
        }
    }
    Pm__Patients__ErasureResult result = PM__PATIENTS__ERASURE_RESULT__INIT;
    result.has_surveys_redacted = result.has_complaints_redacted = 1;
    char *also[CHAIN_MAX];
    patient_t *erased = NULL;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rc = s_erase_one (ctx, chain[i], req->legal_basis, &result, i == 0 ? &erased : NULL);
        if (i > 0) {
            also[result.n_also_erased++] = chain[i]->id;
        }
    }
    if (rc == PM_OK) {
        rc = s_redaction_start (ctx, chain, n);
    }
    if (rc == PM_OK) {
        result.patient = erased;
        result.also_erased = also;
        rc = pm_ctx_reply (ctx, &result.base);
    }
    pm__patients__patient__free_unpacked (erased, NULL);
    for (size_t i = 0; i < n; i++) {
        pm__patients__patient__free_unpacked (chain[i], NULL);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Binds the erasure command.
void
pat_erase_bind (pm_server_t *server)
{
    pm_server_handle (server, "patients.Erase", s_erase);
    pm_server_every (server, (int) pm_cfg_int ("PM_PATIENTS_REDACT_EVERY_MS", 250),
                     s_redact_tick);
}
