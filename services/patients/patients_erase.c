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

    The stream: events already appended keep the full states they
    carried. Rewriting them would break every consumer's cursor, the
    gap-free seq and a standby's rebuild; so the log is not touched.
    patients.patient.erased (and .survey.redacted, .complaint.redacted)
    tell every consumer to drop what it holds; new events and reads carry
    nothing identifying. Removing the old events' contents needs
    per-patient keys for event data (crypto-shredding) or log compaction
    in the runtime: neither exists yet.                                   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_store.h"

#define CHAIN_MAX 64             //  records erased together, at most

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
    patient_t e = PM__PATIENTS__PATIENT__INIT;
    e.id = p->id;
    e.has_version = e.has_active = e.has_created_at = e.has_updated_at = 1;
    e.has_erased_at = 1;
    e.version = p->version + 1;
    e.active = false;
    e.home_site = p->home_site;
    e.n_links = p->n_links;
    e.links = p->links;
    e.created_at = p->created_at;
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
}
