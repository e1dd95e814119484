/*  patients_merge.c: merge two records of one person, and undo it.

    A merge keeps both records: the merged one turns inactive and points
    to the survivor (FHIR Patient.link replaced-by / replaces), so every
    id anyone holds still resolves. Both records as they were before the
    merge are stored under the merged id (sub-database `merges`) until the
    merge is undone: unmerge puts them back byte for byte, but for the
    version (which must keep growing, or consumers would drop the change)
    and updated_at.

    MRNs: the merged record's MRN at a site where the survivor has none
    moves to the survivor, so that site's lookups land on the survivor; an
    MRN at a site where the survivor has its own stays with the merged
    record (a site holds one MRN per patient) and resolves to it, whose
    link leads to the survivor. Unmerge gives every MRN back.

    Events patients.patient.merged / .unmerged carry both records' full
    new states (MergeResult); subject is the survivor, so scheduling and
    finance re-point what they hold from merged to survivor and back.   */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_store.h"

typedef Pm__Patients__MergeRecord merge_rec_t;

//  Both expected versions are required and must be the stored ones.
static pm_err
s_check_versions (pm_ctx_t *ctx, const patient_t *survivor, bool has_sv,
                  uint64_t sv, const patient_t *merged, bool has_mv, uint64_t mv)
{
    if (!has_sv || sv == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "survivor_expected_version",
                            "survivor_expected_version is required: the version you read");
    }
    if (!has_mv || mv == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "merged_expected_version",
                            "merged_expected_version is required: the version you read");
    }
    if (survivor->version != sv) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "survivor_expected_version",
                            "%s is at version %llu, not %llu: read it again",
                            survivor->id, (unsigned long long) survivor->version,
                            (unsigned long long) sv);
    }
    if (merged->version != mv) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "merged_expected_version",
                            "%s is at version %llu, not %llu: read it again",
                            merged->id, (unsigned long long) merged->version,
                            (unsigned long long) mv);
    }
    return PM_OK;
}

//  True when `p` has an MRN at `site`.
static bool
s_has_site (const patient_t *p, const char *site)
{
    for (size_t i = 0; i < p->n_mrns; i++) {
        if (strcmp (p->mrns[i]->site_id, site) == 0) {
            return true;
        }
    }
    return false;
}

//  Replaces both records: old index entries out, new ones in, stored.
static pm_err
s_replace (MDB_txn *txn, const patient_t *s_old, const patient_t *m_old,
           const patient_t *s_new, const patient_t *m_new)
{
    pm_err rc = pat_index (txn, s_old, false);
    if (rc == PM_OK) {
        rc = pat_index (txn, m_old, false);
    }
    if (rc == PM_OK) {
        rc = pat_index (txn, s_new, true);
    }
    if (rc == PM_OK) {
        rc = pat_index (txn, m_new, true);
    }
    if (rc == PM_OK) {
        rc = pat_put (txn, s_new);
    }
    if (rc == PM_OK) {
        rc = pat_put (txn, m_new);
    }
    return rc;
}

//  Emits the event and replies with both records.
static pm_err
s_announce (pm_ctx_t *ctx, const char *event, patient_t *survivor,
            patient_t *merged, const char *reason)
{
    Pm__Patients__MergeResult out = PM__PATIENTS__MERGE_RESULT__INIT;
    out.survivor = survivor;
    out.merged = merged;
    out.reason = (char *) reason;
    out.has_at = 1;
    out.at = pm_ctx_now (ctx);
    out.actor = (char *) pat_actor (ctx);
    pm_err rc = pm_ctx_emit (ctx, event, survivor->home_site, survivor->id, &out.base);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &out.base);
    }
    return rc;
}

//  patients.Merge
static pm_err
s_merge (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Merge *req = (const Pm__Patients__Merge *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = pat_check_text (ctx, "reason", req->reason, true);
    if (rc != PM_OK) {
        return rc;
    }
    if (req->survivor_id && req->merged_id
        && strcmp (req->survivor_id, req->merged_id) == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "merged_id",
                            "a record cannot be merged into itself");
    }
    patient_t *s = NULL, *m = NULL;
    rc = pat_load (ctx, req->survivor_id, "survivor_id", &s);
    if (rc == PM_OK) {
        rc = pat_load (ctx, req->merged_id, "merged_id", &m);
    }
    if (rc == PM_OK) {
        rc = pat_access (ctx, s, "survivor_id");
    }
    if (rc == PM_OK) {
        rc = pat_access (ctx, m, "merged_id");
    }
    if (rc == PM_OK) {
        rc = pat_check_changeable (ctx, s, "survivor_id");
    }
    if (rc == PM_OK) {
        rc = pat_check_changeable (ctx, m, "merged_id");
    }
    if (rc == PM_OK) {
        rc = s_check_versions (ctx, s, req->has_survivor_expected_version,
                               req->survivor_expected_version, m,
                               req->has_merged_expected_version,
                               req->merged_expected_version);
    }
    if (rc != PM_OK) {
        pm__patients__patient__free_unpacked (s, NULL);
        pm__patients__patient__free_unpacked (m, NULL);
        return rc;
    }
    int64_t now = pm_ctx_now (ctx);

    //  The links, both ways.
    Pm__Patients__PatientLink to_m = PM__PATIENTS__PATIENT_LINK__INIT,
                              to_s = PM__PATIENTS__PATIENT_LINK__INIT;
    to_m.other_id = m->id;
    to_m.has_type = to_m.has_at = 1;
    to_m.type = PM__PATIENTS__LINK_TYPE__REPLACES;
    to_m.at = now;
    to_s.other_id = s->id;
    to_s.has_type = to_s.has_at = 1;
    to_s.type = PM__PATIENTS__LINK_TYPE__REPLACED_BY;
    to_s.at = now;
    Pm__Patients__PatientLink *s_links[s->n_links + 1], *m_links[m->n_links + 1];
    for (size_t i = 0; i < s->n_links; i++) {
        s_links[i] = s->links[i];
    }
    for (size_t i = 0; i < m->n_links; i++) {
        m_links[i] = m->links[i];
    }
    s_links[s->n_links] = &to_m;
    m_links[m->n_links] = &to_s;

    //  MRNs at sites the survivor is not known at move over.
    Pm__Patients__SiteMrn *s_mrns[s->n_mrns + m->n_mrns + 1], *m_mrns[m->n_mrns + 1];
    size_t ns = s->n_mrns, nm = 0;
    for (size_t i = 0; i < s->n_mrns; i++) {
        s_mrns[i] = s->mrns[i];
    }
    for (size_t i = 0; i < m->n_mrns; i++) {
        if (s_has_site (s, m->mrns[i]->site_id)) {
            m_mrns[nm++] = m->mrns[i];
        }
        else {
            s_mrns[ns++] = m->mrns[i];
        }
    }

    patient_t s_new = *s, m_new = *m;
    s_new.version++;
    s_new.updated_at = now;
    s_new.n_links = s->n_links + 1;
    s_new.links = s_links;
    s_new.n_mrns = ns;
    s_new.mrns = s_mrns;
    char why[PAT_TEXT_MAX + 64];
    snprintf (why, sizeof why, "merged into %s: %s", s->id, req->reason);
    m_new.version++;
    m_new.updated_at = now;
    m_new.has_active = 1;
    m_new.active = false;
    m_new.status_reason = why;
    m_new.n_links = m->n_links + 1;
    m_new.links = m_links;
    m_new.n_mrns = nm;
    m_new.mrns = m_mrns;

    rc = s_replace (txn, s, m, &s_new, &m_new);
    if (rc == PM_OK) {
        merge_rec_t rec = PM__PATIENTS__MERGE_RECORD__INIT;
        rec.survivor_before = s;
        rec.merged_before = m;
        rec.has_survivor_version = rec.has_merged_version = rec.has_at = 1;
        rec.survivor_version = s_new.version;
        rec.merged_version = m_new.version;
        rec.at = now;
        rec.actor = (char *) pat_actor (ctx);
        rec.reason = req->reason;
        rc = pm_store_put_msg (txn, pat_db.merges, m->id, strlen (m->id), &rec.base, 0);
    }
    //  The merged record leaves the duplicate pool; the survivor is
    //  scored again (it may have new MRNs).
    if (rc == PM_OK) {
        rc = pat_dups_forget (ctx, m->id);
    }
    if (rc == PM_OK) {
        rc = pat_dups_refresh (ctx, &s_new);
    }
    if (rc == PM_OK) {
        rc = s_announce (ctx, "patients.patient.merged", &s_new, &m_new, req->reason);
    }
    pm__patients__patient__free_unpacked (s, NULL);
    pm__patients__patient__free_unpacked (m, NULL);
    return rc;
}

//  Refuses restoring an MRN that someone other than the two now holds.
static pm_err
s_check_owners (pm_ctx_t *ctx, const patient_t *p, const char *a, const char *b)
{
    for (size_t i = 0; i < p->n_mrns; i++) {
        uint8_t key[PAT_KEY_MAX];
        size_t n = pat_pair_key (key, p->mrns[i]->site_id, p->mrns[i]->mrn);
        MDB_val val;
        pm_err rc = pm_store_get (pm_ctx_txn (ctx), pat_db.by_mrn, key, n, &val);
        if (rc == PM_ENOTFOUND) {
            continue;
        }
        if (rc != PM_OK) {
            return rc;
        }
        bool ours = (val.mv_size == strlen (a) && memcmp (val.mv_data, a, val.mv_size) == 0)
                    || (val.mv_size == strlen (b) && memcmp (val.mv_data, b, val.mv_size) == 0);
        if (!ours) {
            return pm_ctx_fail (ctx, PM_ECONFLICT, "merged_id",
                                "MRN %s at %s now belongs to %.*s: cannot restore it",
                                p->mrns[i]->mrn, p->mrns[i]->site_id,
                                (int) val.mv_size, (const char *) val.mv_data);
        }
    }
    return PM_OK;
}

//  patients.Unmerge
static pm_err
s_unmerge (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Unmerge *req = (const Pm__Patients__Unmerge *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = pat_check_text (ctx, "reason", req->reason, true);
    if (rc != PM_OK) {
        return rc;
    }
    patient_t *m = NULL, *s = NULL;
    merge_rec_t *rec = NULL;
    rc = pat_load (ctx, req->merged_id, "merged_id", &m);
    if (rc == PM_OK) {
        rc = pat_access (ctx, m, "merged_id");
    }
    if (rc == PM_OK) {
        rc = pm_store_get_msg (txn, pat_db.merges, m->id, strlen (m->id),
                               &pm__patients__merge_record__descriptor,
                               (ProtobufCMessage **) &rec);
        if (rc == PM_ENOTFOUND) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "merged_id",
                              "%s is not merged into another record", m->id);
        }
    }
    if (rc == PM_OK && (!rec->survivor_before || !rec->merged_before)) {
        rc = pm_ctx_fail (ctx, PM_EINTERNAL, NULL, "merge record of %s is damaged", m->id);
    }
    if (rc == PM_OK) {
        rc = pat_get (txn, rec->survivor_before->id, &s);
    }
    if (rc == PM_OK) {
        rc = pat_access (ctx, s, "merged_id");
    }
    if (rc == PM_OK) {
        rc = s_check_versions (ctx, s, req->has_survivor_expected_version,
                               req->survivor_expected_version, m,
                               req->has_merged_expected_version,
                               req->merged_expected_version);
    }
    if (rc == PM_OK && (s->version != rec->survivor_version
                        || m->version != rec->merged_version)) {
        const patient_t *changed = s->version != rec->survivor_version ? s : m;
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "merged_id",
                          "%s changed since the merge (version %llu then, %llu "
                          "now): unmerging would undo that; undo it first",
                          changed->id,
                          (unsigned long long) (changed == s ? rec->survivor_version
                                                             : rec->merged_version),
                          (unsigned long long) changed->version);
    }
    patient_t s_new, m_new;
    if (rc == PM_OK) {
        s_new = *rec->survivor_before;
        m_new = *rec->merged_before;
        s_new.version = s->version + 1;
        m_new.version = m->version + 1;
        s_new.updated_at = m_new.updated_at = pm_ctx_now (ctx);
        rc = s_check_owners (ctx, &s_new, s->id, m->id);
    }
    if (rc == PM_OK) {
        rc = s_check_owners (ctx, &m_new, s->id, m->id);
    }
    if (rc == PM_OK) {
        rc = s_replace (txn, s, m, &s_new, &m_new);
    }
    if (rc == PM_OK) {
        rc = pm_store_del (txn, pat_db.merges, m->id, strlen (m->id));
    }
    //  Both back in the duplicate pool; the pair itself was reviewed: it
    //  is two people.
    if (rc == PM_OK) {
        rc = pat_dups_refresh (ctx, &s_new);
    }
    if (rc == PM_OK) {
        rc = pat_dups_refresh (ctx, &m_new);
    }
    if (rc == PM_OK) {
        char note[PAT_TEXT_MAX + 16];
        snprintf (note, sizeof note, "unmerged: %s", req->reason);
        Pm__Patients__DuplicatePair *pair = NULL;
        rc = pat_dups_dismiss (ctx, s_new.id, m_new.id, note, &pair);
        pm__patients__duplicate_pair__free_unpacked (pair, NULL);
    }
    if (rc == PM_OK) {
        rc = s_announce (ctx, "patients.patient.unmerged", &s_new, &m_new, req->reason);
    }
    pm__patients__merge_record__free_unpacked (rec, NULL);
    pm__patients__patient__free_unpacked (s, NULL);
    pm__patients__patient__free_unpacked (m, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Binds the merge commands.
void
pat_merge_bind (pm_server_t *server)
{
    pm_server_handle (server, "patients.Merge", s_merge);
    pm_server_handle (server, "patients.Unmerge", s_unmerge);
}
