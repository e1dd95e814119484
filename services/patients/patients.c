/*  patients.c: the patients service's handlers.

    Every write handler: validate, check versions and uniqueness, write the
    record and its index entries, emit the event with the full new state,
    reply with the new state. All in the runtime's transaction; a failure
    anywhere rolls the whole command back.                                */
#include <assert.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "patients.h"
#include "patients_match.h"
#include "patients_schema.h"
#include "patients_store.h"
#include "patients_validate.h"
#include "pm_id.h"

#define KEY_MAX PAT_KEY_MAX
#define NAME_KEY_PART PAT_NAME_PART
#define PAGE_DEFAULT 20
#define PAGE_MAX 200
#define SCAN_MAX 5000        //  index entries looked at per search page
#define MATCH_MAX 10000      //  candidates of a birth date or phone search

pat_store_t pat_db;

//  --- keys and indexes ----------------------------------------------------

//  --------------------------------------------------------------------------
//  Copies `s` and its terminating NUL to `at`; returns the length copied
//  (keys are built on every write: no printf on that path).
size_t
pat_key_put (uint8_t *at, const char *s, size_t max)
{
    size_t n = strnlen (s, max - 1);
    memcpy (at, s, n);
    at[n] = 0;
    return n + 1;
}

//  The name key: folded family, 0, folded given names, 0, id.
static size_t
s_name_key (const patient_t *p, uint8_t *key)
{
    char family[NAME_KEY_PART], given[NAME_KEY_PART] = "";
    pat_fold_name (p->name->family, family, sizeof family);
    size_t at = 0;
    for (size_t i = 0; i < p->name->n_given && at + 1 < sizeof given; i++) {
        pat_fold_name (p->name->given[i], given + at, sizeof given - at);
        at = strlen (given);
    }
    size_t n = pat_key_put (key, family, sizeof family);
    n += pat_key_put (key + n, given, sizeof given);
    return n + pat_key_put (key + n, p->id, PM_ID_MAX) - 1;
}

//  --------------------------------------------------------------------------
//  "a 0 b": the key of an index entry of value a for record b.
size_t
pat_pair_key (uint8_t *key, const char *a, const char *b)
{
    size_t n = pat_key_put (key, a, KEY_MAX / 2);
    return n + pat_key_put (key + n, b, KEY_MAX / 2) - 1;
}

//  --------------------------------------------------------------------------
//  A phone's index key: its digits reversed, so that a search for the
//  number without its country or area code is a prefix scan.
void
pat_phone_key (const char *phone, char *out)
{
    char digits[32];
    pat_phone_digits (phone, digits, sizeof digits);
    size_t n = strlen (digits);
    for (size_t i = 0; i < n; i++) {
        out[i] = digits[n - 1 - i];
    }
    out[n] = 0;
}

//  --------------------------------------------------------------------------
//  An e-mail's index key: trimmed and lower case (the local part is case
//  sensitive in theory, never in a clinic's practice).
void
pat_email_key (const char *email, char *out, size_t outlen)
{
    size_t at = 0;
    for (const char *c = email; c && *c && at + 1 < outlen; c++) {
        if (*c != ' ' && *c != '\t') {
            out[at++] = (char) tolower ((unsigned char) *c);
        }
    }
    out[at] = 0;
}

//  --------------------------------------------------------------------------
//  Adds (add = true) or removes every index entry of `p`.
pm_err
pat_index (MDB_txn *txn, const patient_t *p, bool add)
{
    uint8_t key[KEY_MAX];
    size_t n;
    pm_err rc;
#define INDEX(dbi, k, klen, v, vlen)                                           \
    rc = add ? pm_store_put (txn, dbi, k, klen, v, vlen, 0)                   \
             : pm_store_del (txn, dbi, k, klen);                              \
    if (rc != PM_OK && !(rc == PM_ENOTFOUND && !add)) {                        \
        return rc;                                                             \
    }
    //  The names duplicate detection compares ride along as values, so
    //  candidates are ranked without unpacking their records:
    //  by_name -> folded first given name, by_dob -> folded family 0
    //  folded first given name.
    char names[2 * PAT_MATCH_NAME_MAX] = "";
    size_t family_len = 0, names_len = 0;
    if (p->name && p->name->family && p->name->n_given > 0) {
        pat_fold_name (p->name->family, names, PAT_MATCH_NAME_MAX);
        family_len = strlen (names);
        pat_fold_name (p->name->given[0], names + family_len + 1, PAT_MATCH_NAME_MAX);
        names_len = family_len + 1 + strlen (names + family_len + 1);
    }
    if (p->name && p->name->family) {
        n = s_name_key (p, key);
        INDEX (pat_db.by_name, key, n, names + family_len + 1,
               names_len ? names_len - family_len - 1 : 0);
    }
    if (p->birth_date) {
        n = pat_pair_key (key, p->birth_date, p->id);
        INDEX (pat_db.by_dob, key, n, names, names_len);
    }
    for (size_t i = 0; i < p->n_telecom; i++) {
        const Pm__Patients__ContactPoint *cp = p->telecom[i];
        char value[256];
        if (cp->system == PM__PATIENTS__CONTACT_SYSTEM__EMAIL) {
            pat_email_key (cp->value, value, sizeof value);
            n = pat_pair_key (key, value, p->id);
            INDEX (pat_db.by_email, key, n, "", 0);
            continue;
        }
        pat_phone_key (cp->value, value);
        n = pat_pair_key (key, value, p->id);
        INDEX (pat_db.by_phone, key, n, "", 0);
    }
    for (size_t i = 0; i < p->n_mrns; i++) {
        n = pat_pair_key (key, p->mrns[i]->site_id, p->mrns[i]->mrn);
        INDEX (pat_db.by_mrn, key, n, p->id, strlen (p->id));
    }
#undef INDEX
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  The patient `id` from the store.
pm_err
pat_get (MDB_txn *txn, const char *id, patient_t **out)
{
    *out = NULL;
    return pm_store_get_msg (txn, pat_db.patients, id, strlen (id),
                             &pm__patients__patient__descriptor,
                             (ProtobufCMessage **) out);
}

//  --------------------------------------------------------------------------
//  The patient `id`, or PM_ENOTFOUND (with the reply error set).
pm_err
pat_load (pm_ctx_t *ctx, const char *id, const char *field, patient_t **out)
{
    *out = NULL;
    if (!pm_id_valid (id, "pat")) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                            "\"%.40s\" is not a patient id (pat_...)",
                            id ? id : "");
    }
    pm_err rc = pat_get (pm_ctx_txn (ctx), id, out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, field, "no patient %s", id);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Stores the record under its id.
pm_err
pat_put (MDB_txn *txn, const patient_t *p)
{
    return pm_store_put_msg (txn, pat_db.patients, p->id, strlen (p->id),
                             &p->base, 0);
}

//  --------------------------------------------------------------------------
//  The survivor of the merge this record was folded into, if any.
const char *
pat_merged_into (const patient_t *p)
{
    for (size_t i = 0; i < p->n_links; i++) {
        if (p->links[i]->type == PM__PATIENTS__LINK_TYPE__REPLACED_BY) {
            return p->links[i]->other_id;
        }
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  True for an erased record.
bool
pat_erased (const patient_t *p)
{
    return p->has_erased_at && p->erased_at > 0;
}

//  --------------------------------------------------------------------------
//  Merged and erased records are history: they take no changes.
pm_err
pat_check_changeable (pm_ctx_t *ctx, const patient_t *p, const char *field)
{
    const char *survivor = pat_merged_into (p);
    if (survivor) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, field,
                            "%s was merged into %s: work on the survivor",
                            p->id, survivor);
    }
    if (pat_erased (p)) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, field,
                            "%s was erased: it takes no changes", p->id);
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Who is acting, for the record: the end user named in the request, else
//  the authenticated principal.
const char *
pat_actor (pm_ctx_t *ctx)
{
    const Pm__Request *req = pm_ctx_request (ctx);
    if (req && req->actor && *req->actor) {
        return req->actor;
    }
    const pm_principal_t *who = pm_ctx_principal (ctx);
    return who && who->name[0] ? who->name : "patients";
}

//  --------------------------------------------------------------------------
//  True when the principal may see `p`: a patient belongs to their home
//  site and every site that holds an MRN for them. The principal's own
//  sites are tried before break-glass, so that only an access that needed
//  it is flagged.
static bool
s_visible (pm_ctx_t *ctx, const patient_t *p)
{
    const pm_principal_t *who = pm_ctx_principal (ctx);
    bool ok = p->home_site && pm_principal_has_site (who, p->home_site);
    for (size_t i = 0; !ok && i < p->n_mrns; i++) {
        ok = pm_principal_has_site (who, p->mrns[i]->site_id);
    }
    return ok || (p->home_site && pm_ctx_may_access_site (ctx, p->home_site));
}

//  --------------------------------------------------------------------------
//  Site scope and audit for one patient record.
pm_err
pat_access (pm_ctx_t *ctx, const patient_t *p, const char *field)
{
    if (!s_visible (ctx, p)) {
        pm_ctx_audit (ctx, p->id, p->home_site); //  the attempt is on the record
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field,
                            "%s is not a patient of any of your sites", p->id);
    }
    pm_ctx_audit (ctx, p->id, p->home_site);
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Site scope for site-bound data (worklists, reports, cases).
pm_err
pat_site_access (pm_ctx_t *ctx, const char *site, const char *field)
{
    if (!pm_ctx_may_access_site (ctx, site)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field, "site %.64s is not one of yours",
                            site ? site : "");
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  A free-text field: a reason, a note, a legal basis.
pm_err
pat_check_text (pm_ctx_t *ctx, const char *field, const char *text,
                bool required)
{
    if (!text || !*text) {
        return required ? pm_ctx_fail (ctx, PM_EINVAL, field, "%s is required", field)
                        : PM_OK;
    }
    size_t n = strlen (text);
    if (n > PAT_TEXT_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: at most %d bytes, not %zu",
                            field, PAT_TEXT_MAX, n);
    }
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if ((*c < 0x20 && *c != '\n') || *c == 0x7f) {
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                "%s: no control characters", field);
        }
    }
    return PM_OK;
}

//  The patient holding MRN `mrn` at `site`; PM_ENOTFOUND if none.
static pm_err
s_mrn_owner (MDB_txn *txn, const char *site, const char *mrn, char *id_out)
{
    uint8_t key[KEY_MAX];
    size_t n = pat_pair_key (key, site, mrn);
    MDB_val val;
    pm_err rc = pm_store_get (txn, pat_db.by_mrn, key, n, &val);
    if (rc == PM_OK) {
        size_t len = val.mv_size < PM_ID_MAX - 1 ? val.mv_size : PM_ID_MAX - 1;
        memcpy (id_out, val.mv_data, len);
        id_out[len] = 0;
    }
    return rc;
}

//  Refuses MRNs that belong to another patient.
static pm_err
s_check_mrns (pm_ctx_t *ctx, const patient_t *p)
{
    for (size_t i = 0; i < p->n_mrns; i++) {
        char owner[PM_ID_MAX];
        pm_err rc = s_mrn_owner (pm_ctx_txn (ctx), p->mrns[i]->site_id,
                                 p->mrns[i]->mrn, owner);
        if (rc == PM_OK && (!p->id || strcmp (owner, p->id) != 0)) {
            char field[64];
            snprintf (field, sizeof field, "patient.mrns[%zu].mrn", i);
            return pm_ctx_fail (ctx, PM_ECONFLICT, field,
                                "MRN %s at site %s already belongs to %s",
                                p->mrns[i]->mrn, p->mrns[i]->site_id, owner);
        }
        if (rc != PM_OK && rc != PM_ENOTFOUND) {
            return rc;
        }
    }
    return PM_OK;
}

//  Gives the home site an MRN if it has none: the site's next number,
//  "M0000001" onwards, skipping numbers already taken by hand.
static pm_err
s_assign_mrn (pm_ctx_t *ctx, patient_t *p, Pm__Patients__SiteMrn *slot,
              char *mrn_buf)
{
    for (size_t i = 0; i < p->n_mrns; i++) {
        if (strcmp (p->mrns[i]->site_id, p->home_site) == 0) {
            return PM_OK;
        }
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint64_t next = 0;
    MDB_val val;
    pm_err rc = pm_store_get (txn, pat_db.mrn_seq, p->home_site,
                              strlen (p->home_site), &val);
    if (rc == PM_OK && val.mv_size == 8) {
        next = pm_be64_get (val.mv_data);
    }
    else if (rc != PM_ENOTFOUND && rc != PM_OK) {
        return rc;
    }
    char owner[PM_ID_MAX];
    do {
        snprintf (mrn_buf, 24, "M%07llu", (unsigned long long) ++next);
        rc = s_mrn_owner (txn, p->home_site, mrn_buf, owner);
    } while (rc == PM_OK);
    if (rc != PM_ENOTFOUND) {
        return rc;
    }
    uint8_t seq[8];
    pm_be64_put (seq, next);
    rc = pm_store_put (txn, pat_db.mrn_seq, p->home_site, strlen (p->home_site),
                       seq, 8, 0);
    slot->site_id = p->home_site;
    slot->mrn = mrn_buf;
    return rc;
}

//  Today's date, UTC, for "birth date in the future".
static void
s_today (pm_ctx_t *ctx, char *out)
{
    time_t t = (time_t) (pm_ctx_now (ctx) / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 11, "%Y-%m-%d", &tm);
}

static pm_err
s_validate (pm_ctx_t *ctx, const patient_t *p)
{
    char today[11];
    s_today (ctx, today);
    pat_invalid_t why;
    if (!pat_validate (p, today, &why)) {
        return pm_ctx_fail (ctx, PM_EINVAL, why.field, "%s: %s", why.field,
                            why.message);
    }
    return PM_OK;
}

//  Stores `p` (indexes already maintained by the caller), emits the event
//  and replies with the record.
static pm_err
s_save (pm_ctx_t *ctx, const patient_t *p, const char *event)
{
    return pm_ctx_save_record (ctx, pat_db.patients, p->id, strlen (p->id), &p->base, event,
                               p->home_site, p->id);
}

//  --- commands ------------------------------------------------------------

//  patients.Register
static pm_err
s_register (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Register *req = (const Pm__Patients__Register *) body;
    if (!req->patient) {
        return pm_ctx_fail (ctx, PM_EINVAL, "patient", "patient is required");
    }
    patient_t p = *req->patient; //  shallow: we only set scalars and links
    if (p.id || p.has_version || p.has_created_at || p.has_updated_at
        || p.n_links || p.has_erased_at) {
        const char *field = p.id ? "patient.id"
                            : p.n_links ? "patient.links"
                            : p.has_erased_at ? "patient.erased_at"
                                              : "patient.version";
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                            "%s: id, version, links and timestamps are set by "
                            "the service; leave them out", field);
    }
    pm_err rc = s_validate (ctx, &p);
    if (rc == PM_OK) {
        rc = pat_site_access (ctx, p.home_site, "patient.home_site");
    }
    if (rc == PM_OK) {
        rc = s_check_mrns (ctx, &p);
    }
    if (rc != PM_OK) {
        return rc;
    }
    char id[PM_ID_MAX], mrn[24];
    pm_id_new ("pat", pm_ctx_now (ctx), id);
    pm_ctx_audit (ctx, id, p.home_site);
    p.id = id;
    p.has_version = p.has_active = p.has_created_at = p.has_updated_at = 1;
    p.version = 1;
    p.active = true;
    p.created_at = p.updated_at = pm_ctx_now (ctx);

    //  The home site's MRN, assigned when not given.
    Pm__Patients__SiteMrn assigned = PM__PATIENTS__SITE_MRN__INIT;
    Pm__Patients__SiteMrn *mrns[p.n_mrns + 1];
    if (p.n_mrns > 0) {
        memcpy (mrns, p.mrns, p.n_mrns * sizeof *mrns);
    }
    rc = s_assign_mrn (ctx, &p, &assigned, mrn);
    if (rc != PM_OK) {
        return rc;
    }
    if (assigned.mrn) {
        mrns[p.n_mrns++] = &assigned;
    }
    p.mrns = mrns;
    rc = pat_index (pm_ctx_txn (ctx), &p, true);
    if (rc == PM_OK) {
        rc = pat_dups_refresh (ctx, &p);
    }
    if (rc == PM_OK) {
        rc = s_save (ctx, &p, "patients.patient.registered");
    }
    return rc;
}

//  patients.Get
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Get *req = (const Pm__Patients__Get *) body;
    const char *id = req->id;
    char owner[PM_ID_MAX];
    if (!id) {
        if (!req->site_id || !req->mrn) {
            return pm_ctx_fail (ctx, PM_EINVAL, "id",
                                "give an id, or a site_id and an mrn");
        }
        pm_err rc = s_mrn_owner (pm_ctx_txn (ctx), req->site_id, req->mrn, owner);
        if (rc == PM_ENOTFOUND) {
            return pm_ctx_fail (ctx, rc, "mrn", "no patient has MRN %.32s at %.64s",
                                req->mrn, req->site_id);
        }
        if (rc != PM_OK) {
            return rc;
        }
        id = owner;
    }
    patient_t *p;
    pm_err rc = pat_load (ctx, id, "id", &p);
    if (rc == PM_OK) {
        rc = pat_access (ctx, p, "id");
    }
    if (rc == PM_OK) {
        pm_ctx_reply (ctx, &p->base);
    }
    pm__patients__patient__free_unpacked (p, NULL);
    return rc;
}

//  True when `field` is in the update's mask, or (no mask) set in `patch`.
static bool
s_in_mask (const Pm__Patients__Update *req, const char *field, bool set)
{
    if (req->n_update_mask == 0) {
        return set;
    }
    for (size_t i = 0; i < req->n_update_mask; i++) {
        if (strcmp (req->update_mask[i], field) == 0) {
            return true;
        }
    }
    return false;
}

static const char *s_updatable[] = {
    "name", "birth_date", "sex", "gender_identity", "telecom", "address",
    "preferred_language", "home_site", "mrns", NULL,
};

//  patients.Update
static pm_err
s_update (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Update *req = (const Pm__Patients__Update *) body;
    if (!req->has_expected_version || req->expected_version == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version is required: the version you read");
    }
    if (!req->patient) {
        return pm_ctx_fail (ctx, PM_EINVAL, "patient",
                            "patient holds the new field values");
    }
    for (size_t i = 0; i < req->n_update_mask; i++) {
        bool known = false;
        for (const char **f = s_updatable; *f; f++) {
            known = known || strcmp (*f, req->update_mask[i]) == 0;
        }
        if (!known) {
            char field[48];
            snprintf (field, sizeof field, "update_mask[%zu]", i);
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                "\"%.40s\" cannot be updated; use one of name, "
                                "birth_date, sex, gender_identity, telecom, "
                                "address, preferred_language, home_site, mrns",
                                req->update_mask[i]);
        }
    }
    patient_t *old;
    pm_err rc = pat_load (ctx, req->id, "id", &old);
    if (rc != PM_OK) {
        return rc;
    }
    if (pat_access (ctx, old, "id") != PM_OK) {
        pm__patients__patient__free_unpacked (old, NULL);
        return PM_EFORBIDDEN;
    }
    if (pat_check_changeable (ctx, old, "id") != PM_OK) {
        pm__patients__patient__free_unpacked (old, NULL);
        return PM_ECONFLICT;
    }
    if (old->version != req->expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu, not %llu: read it again",
                          old->id, (unsigned long long) old->version,
                          (unsigned long long) req->expected_version);
        pm__patients__patient__free_unpacked (old, NULL);
        return rc;
    }
    //  The new record: the old one with the masked fields replaced.
    const patient_t *patch = req->patient;
    patient_t p = *old;
    if (s_in_mask (req, "name", patch->name != NULL)) {
        p.name = patch->name;
    }
    if (s_in_mask (req, "birth_date", patch->birth_date != NULL)) {
        p.birth_date = patch->birth_date;
    }
    if (s_in_mask (req, "sex", patch->has_sex)) {
        p.has_sex = patch->has_sex;
        p.sex = patch->sex;
    }
    if (s_in_mask (req, "gender_identity", patch->gender_identity != NULL)) {
        p.gender_identity = patch->gender_identity;
    }
    if (s_in_mask (req, "telecom", patch->n_telecom > 0)) {
        p.n_telecom = patch->n_telecom;
        p.telecom = patch->telecom;
    }
    if (s_in_mask (req, "address", patch->address != NULL)) {
        p.address = patch->address;
    }
    if (s_in_mask (req, "preferred_language", patch->preferred_language != NULL)) {
        p.preferred_language = patch->preferred_language;
    }
    if (s_in_mask (req, "home_site", patch->home_site != NULL)) {
        p.home_site = patch->home_site;
    }
    if (s_in_mask (req, "mrns", patch->n_mrns > 0)) {
        p.n_mrns = patch->n_mrns;
        p.mrns = patch->mrns;
    }
    //  Validation first: a masked field may now be empty (fuzz finding F3:
    //  home_site masked but not given reached the MRN check below as NULL).
    rc = s_validate (ctx, &p);
    //  The home site keeps an MRN; removing it would orphan the chart.
    bool home_has_mrn = false;
    for (size_t i = 0; rc == PM_OK && i < p.n_mrns; i++) {
        home_has_mrn = home_has_mrn || (p.mrns[i]->site_id
                                        && strcmp (p.mrns[i]->site_id, p.home_site) == 0);
    }
    if (rc == PM_OK && !home_has_mrn) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "patient.mrns",
                          "the home site %s must keep an MRN", p.home_site);
    }
    if (rc == PM_OK) {
        rc = s_check_mrns (ctx, &p);
    }
    if (rc == PM_OK) {
        //  Nothing changed: no new version, no event.
        size_t a = pm__patients__patient__get_packed_size (old);
        size_t b = pm__patients__patient__get_packed_size (&p);
        uint8_t *pa = malloc (a + 1), *pb = malloc (b + 1);
        assert (pa && pb);
        pm__patients__patient__pack (old, pa);
        pm__patients__patient__pack (&p, pb);
        bool same = a == b && memcmp (pa, pb, a) == 0;
        free (pa);
        free (pb);
        if (same) {
            pm_ctx_reply (ctx, &old->base);
            pm__patients__patient__free_unpacked (old, NULL);
            return PM_OK;
        }
    }
    if (rc == PM_OK) {
        rc = pat_index (pm_ctx_txn (ctx), old, false);
    }
    if (rc == PM_OK) {
        p.version = old->version + 1;
        p.updated_at = pm_ctx_now (ctx);
        rc = pat_index (pm_ctx_txn (ctx), &p, true);
    }
    if (rc == PM_OK) {
        rc = pat_dups_refresh (ctx, &p);
    }
    if (rc == PM_OK) {
        rc = s_save (ctx, &p, "patients.patient.updated");
    }
    pm__patients__patient__free_unpacked (old, NULL);
    return rc;
}

//  patients.Deactivate and patients.Reactivate.
static pm_err
s_set_active (pm_ctx_t *ctx, const ProtobufCMessage *body, bool active)
{
    const Pm__Patients__SetActive *req = (const Pm__Patients__SetActive *) body;
    if (!req->reason || !*req->reason) {
        return pm_ctx_fail (ctx, PM_EINVAL, "reason",
                            "a reason is required (it goes on the record)");
    }
    if (strlen (req->reason) > 500) {
        return pm_ctx_fail (ctx, PM_EINVAL, "reason", "at most 500 characters");
    }
    patient_t *p;
    pm_err rc = pat_load (ctx, req->id, "id", &p);
    if (rc != PM_OK) {
        return rc;
    }
    if (pat_access (ctx, p, "id") != PM_OK) {
        rc = PM_EFORBIDDEN;
    }
    else if (pat_check_changeable (ctx, p, "id") != PM_OK) {
        rc = PM_ECONFLICT;
    }
    else if (req->has_expected_version && req->expected_version
        && req->expected_version != p->version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu, not %llu", p->id,
                          (unsigned long long) p->version,
                          (unsigned long long) req->expected_version);
    }
    else if (p->active == active) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "id", "%s is already %s", p->id,
                          active ? "active" : "inactive");
    }
    else {
        char *old_reason = p->status_reason;
        p->active = active;
        p->version++;
        p->updated_at = pm_ctx_now (ctx);
        p->status_reason = req->reason;
        rc = s_save (ctx, p, active ? "patients.patient.reactivated"
                                    : "patients.patient.deactivated");
        p->status_reason = old_reason; //  so free_unpacked frees its own
    }
    pm__patients__patient__free_unpacked (p, NULL);
    return rc;
}

static pm_err
s_deactivate (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_set_active (ctx, body, false);
}

static pm_err
s_reactivate (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_set_active (ctx, body, true);
}

//  --- search ---------------------------------------------------------------

typedef struct {
    uint8_t key[KEY_MAX]; //  the name key: the order of results
    size_t klen;
    patient_t *p;
} s_hit_t;

static int
s_hit_cmp (const void *a, const void *b)
{
    const s_hit_t *x = a, *y = b;
    size_t n = x->klen < y->klen ? x->klen : y->klen;
    int c = memcmp (x->key, y->key, n);
    return c ? c : (x->klen > y->klen) - (x->klen < y->klen);
}

//  True when the patient passes every criterion of the search.
static bool
s_matches (const Pm__Patients__Search *q, const patient_t *p,
           const char *given_fold, const char *phone_digits)
{
    if (pat_erased (p)) {
        return false; //  nothing left to match on; found only by id or MRN
    }
    if (!q->include_inactive && !p->active) {
        return false;
    }
    if (q->birth_date && strcmp (q->birth_date, p->birth_date) != 0) {
        return false;
    }
    if (given_fold && *given_fold) {
        bool any = false;
        for (size_t i = 0; i < p->name->n_given && !any; i++) {
            char g[NAME_KEY_PART];
            pat_fold_name (p->name->given[i], g, sizeof g);
            any = strncmp (g, given_fold, strlen (given_fold)) == 0;
        }
        if (!any) {
            return false;
        }
    }
    if (phone_digits && *phone_digits) {
        bool any = false;
        for (size_t i = 0; i < p->n_telecom && !any; i++) {
            char d[32];
            pat_phone_digits (p->telecom[i]->value, d, sizeof d);
            size_t dl = strlen (d), ql = strlen (phone_digits);
            any = p->telecom[i]->system != PM__PATIENTS__CONTACT_SYSTEM__EMAIL
                  && dl >= ql && strcmp (d + dl - ql, phone_digits) == 0;
        }
        if (!any) {
            return false;
        }
    }
    if (q->site_id || q->mrn) {
        bool any = false;
        for (size_t i = 0; i < p->n_mrns && !any; i++) {
            any = (!q->site_id || strcmp (p->mrns[i]->site_id, q->site_id) == 0)
                  && (!q->mrn || strcmp (p->mrns[i]->mrn, q->mrn) == 0);
        }
        if (!any) {
            return false;
        }
    }
    return true;
}

//  --------------------------------------------------------------------------
//  A key as hex, for page tokens.
void
pat_hex (const uint8_t *in, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        sprintf (out + 2 * i, "%02x", in[i]);
    }
}

//  --------------------------------------------------------------------------
//  A page token back into its key; false when it is not one.
bool
pat_unhex (const char *in, uint8_t *out, size_t *n)
{
    size_t len = strlen (in);
    if (len % 2 || len / 2 > KEY_MAX) {
        return false;
    }
    for (size_t i = 0; i < len / 2; i++) {
        unsigned v;
        if (sscanf (in + 2 * i, "%2x", &v) != 1) {
            return false;
        }
        out[i] = (uint8_t) v;
    }
    *n = len / 2;
    return true;
}

//  Collects the ids under `prefix` in an index whose keys are
//  "value 0 id" (birth dates, reversed phone digits). `field` names the
//  criterion when there are too many to sort.
static pm_err
s_collect (pm_ctx_t *ctx, MDB_dbi dbi, const uint8_t *prefix, size_t plen,
           const char *field, s_hit_t **hits, size_t *n)
{
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = {plen, (void *) prefix}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    size_t cap = 0;
    while (mrc == 0 && key.mv_size > plen
           && memcmp (key.mv_data, prefix, plen) == 0) {
        const char *sep = memchr (key.mv_data, 0, key.mv_size);
        if (*n == MATCH_MAX) {
            mdb_cursor_close (cursor);
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                "more than %d patients match: narrow the search",
                                MATCH_MAX);
        }
        if (sep) {
            if (*n == cap) {
                cap = cap ? cap * 2 : 16;
                *hits = realloc (*hits, cap * sizeof **hits);
                assert (*hits);
            }
            s_hit_t *h = &(*hits)[(*n)++];
            h->p = NULL;
            h->klen = key.mv_size - (size_t) (sep + 1 - (char *) key.mv_data);
            memcpy (h->key, sep + 1, h->klen);
            h->key[h->klen] = 0;
        }
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    return PM_OK;
}

//  patients.Search
static pm_err
s_search (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__Search *q = (const Pm__Patients__Search *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint32_t page = q->has_page_size && q->page_size ? q->page_size : PAGE_DEFAULT;
    if (page > PAGE_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_size", "at most %d", PAGE_MAX);
    }
    if (q->birth_date && !pat_valid_date (q->birth_date)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "birth_date",
                            "\"%.20s\" is not a date written YYYY-MM-DD",
                            q->birth_date);
    }
    if (q->mrn && !q->site_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id",
                            "an MRN search needs the site_id it belongs to");
    }
    char family[NAME_KEY_PART] = "", given[NAME_KEY_PART] = "", phone[32] = "";
    pat_fold_name (q->family_prefix ? q->family_prefix : "", family, sizeof family);
    pat_fold_name (q->given_prefix ? q->given_prefix : "", given, sizeof given);
    pat_phone_digits (q->phone, phone, sizeof phone);
    if (q->phone && strlen (phone) < 5) {
        return pm_ctx_fail (ctx, PM_EINVAL, "phone",
                            "give at least 5 digits of the phone number");
    }
    if (!*family && !q->birth_date && !*phone && !q->mrn) {
        return pm_ctx_fail (ctx, PM_EINVAL, "family_prefix",
                            "give a family name prefix, birth_date, phone or mrn");
    }
    uint8_t after[KEY_MAX];
    size_t after_len = 0;
    if (q->page_token && *q->page_token
        && !pat_unhex (q->page_token, after, &after_len)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_token",
                            "not a page token from an earlier SearchResult");
    }

    s_hit_t *hits = NULL;
    size_t n = 0;
    pm_err rc = PM_OK;
    char next_token[2 * KEY_MAX + 1] = "";
    if (*family) {
        //  Walk the name index from the prefix (or past the last page):
        //  its order is the result order, so a page is a range.
        MDB_cursor *cursor;
        rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.by_name, &cursor));
        if (rc != PM_OK) {
            return rc;
        }
        size_t flen = strlen (family);
        MDB_val key, val;
        if (after_len) {
            key = (MDB_val) {after_len, after};
        }
        else {
            key = (MDB_val) {flen, family};
        }
        int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        if (mrc == 0 && after_len && key.mv_size == after_len
            && memcmp (key.mv_data, after, after_len) == 0) {
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
        hits = calloc (page, sizeof *hits);
        assert (hits);
        int scanned = 0;
        while (mrc == 0 && n < page && key.mv_size >= flen
               && memcmp (key.mv_data, family, flen) == 0) {
            if (++scanned > SCAN_MAX) {
                //  Bounded work per page: hand back where we stopped.
                pat_hex (key.mv_data, key.mv_size, next_token);
                break;
            }
            const char *id = memrchr (key.mv_data, 0, key.mv_size);
            patient_t *p = NULL;
            if (id) {
                char idbuf[PM_ID_MAX];
                size_t idlen = key.mv_size - (size_t) (id + 1 - (char *) key.mv_data);
                snprintf (idbuf, sizeof idbuf, "%.*s", (int) idlen, id + 1);
                rc = pm_store_get_msg (txn, pat_db.patients, idbuf, strlen (idbuf),
                                       &pm__patients__patient__descriptor,
                                       (ProtobufCMessage **) &p);
                if (rc != PM_OK) {
                    break;
                }
            }
            if (p && s_matches (q, p, given, phone) && s_visible (ctx, p)) {
                hits[n].p = p;
                hits[n].klen = key.mv_size;
                memcpy (hits[n].key, key.mv_data, key.mv_size);
                n++;
            }
            else {
                pm__patients__patient__free_unpacked (p, NULL);
            }
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
        //  A full page says where the next one starts, if there is more.
        if (n == page && mrc == 0 && key.mv_size >= flen
            && memcmp (key.mv_data, family, flen) == 0 && !next_token[0]) {
            pat_hex (hits[n - 1].key, hits[n - 1].klen, next_token);
        }
        mdb_cursor_close (cursor);
    }
    else {
        //  Birth date, phone or MRN: a small candidate set, sorted by name.
        uint8_t prefix[KEY_MAX];
        size_t plen;
        if (q->mrn) {
            char owner[PM_ID_MAX];
            rc = s_mrn_owner (txn, q->site_id, q->mrn, owner);
            if (rc == PM_OK) {
                hits = calloc (1, sizeof *hits);
                assert (hits);
                snprintf ((char *) hits[0].key, KEY_MAX, "%s", owner);
                n = 1;
            }
            rc = rc == PM_ENOTFOUND ? PM_OK : rc;
        }
        else if (*phone) {
            //  Every number ending in these digits: a prefix of the
            //  reversed keys, up to the separator before the id.
            char reversed[32];
            pat_phone_key (phone, reversed);
            plen = (size_t) sprintf ((char *) prefix, "%s", reversed);
            rc = s_collect (ctx, pat_db.by_phone, prefix, plen, "phone", &hits, &n);
        }
        else {
            plen = pat_pair_key (prefix, q->birth_date, "");
            rc = s_collect (ctx, pat_db.by_dob, prefix, plen, "birth_date", &hits, &n);
        }
        size_t kept = 0;
        for (size_t i = 0; rc == PM_OK && i < n; i++) {
            patient_t *p;
            rc = pm_store_get_msg (txn, pat_db.patients, hits[i].key,
                                   strlen ((char *) hits[i].key),
                                   &pm__patients__patient__descriptor,
                                   (ProtobufCMessage **) &p);
            if (rc != PM_OK) {
                break;
            }
            if (s_matches (q, p, given, phone) && s_visible (ctx, p)) {
                uint8_t key[KEY_MAX];
                size_t klen = s_name_key (p, key);
                bool family_ok = strncmp ((char *) key, family, strlen (family)) == 0;
                int vs_after = 0;
                if (after_len) {
                    size_t m = klen < after_len ? klen : after_len;
                    vs_after = memcmp (key, after, m);
                    vs_after = vs_after ? vs_after : (klen > after_len) - (klen < after_len);
                }
                if (family_ok && (!after_len || vs_after > 0)) {
                    hits[kept].p = p;
                    hits[kept].klen = klen;
                    memcpy (hits[kept].key, key, klen);
                    kept++;
                    continue;
                }
            }
            pm__patients__patient__free_unpacked (p, NULL);
        }
        if (rc != PM_OK) {
            kept = n = 0; //  hits past `kept` hold no patients
        }
        n = kept;
        if (n > 1) { //  qsort's array may not be NULL (fuzz finding F1)
            qsort (hits, n, sizeof *hits, s_hit_cmp);
        }
        if (n > page) {
            pat_hex (hits[page - 1].key, hits[page - 1].klen, next_token);
            for (size_t i = page; i < n; i++) {
                pm__patients__patient__free_unpacked (hits[i].p, NULL);
            }
            n = page;
        }
    }
    if (rc == PM_OK) {
        Pm__Patients__SearchResult result = PM__PATIENTS__SEARCH_RESULT__INIT;
        patient_t *list[n ? n : 1];
        for (size_t i = 0; i < n; i++) {
            list[i] = hits[i].p;
        }
        result.n_patients = n;
        result.patients = list;
        for (size_t i = 0; i < n; i++) {
            pm_ctx_audit (ctx, list[i]->id, list[i]->home_site);
        }
        result.next_page_token = next_token[0] ? next_token : NULL;
        pm_ctx_reply (ctx, &result.base);
    }
    for (size_t i = 0; i < n; i++) {
        pm__patients__patient__free_unpacked (hits[i].p, NULL);
    }
    free (hits);
    return rc;
}

//  Stores made before the e-mail index existed get it once, at start.
static pm_err
s_backfill_email (pm_store_t *store)
{
    MDB_txn *txn;
    pm_err rc = pm_store_begin (store, NULL, true, &txn);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_stat emails, records;
    mdb_stat (txn, pat_db.by_email, &emails);
    mdb_stat (txn, pat_db.patients, &records);
    if (emails.ms_entries > 0 || records.ms_entries == 0) {
        pm_store_abort (txn);
        return PM_OK;
    }
    MDB_cursor *cursor = NULL;
    rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.patients, &cursor));
    MDB_val key, val;
    int mrc = rc == PM_OK ? mdb_cursor_get (cursor, &key, &val, MDB_FIRST) : 0;
    while (rc == PM_OK && mrc == 0) {
        patient_t *p = pm__patients__patient__unpack (NULL, val.mv_size,
                                                      val.mv_data);
        for (size_t i = 0; p && rc == PM_OK && i < p->n_telecom; i++) {
            if (p->telecom[i]->system == PM__PATIENTS__CONTACT_SYSTEM__EMAIL) {
                uint8_t k[KEY_MAX];
                char value[256];
                pat_email_key (p->telecom[i]->value, value, sizeof value);
                size_t n = pat_pair_key (k, value, p->id);
                rc = pm_store_put (txn, pat_db.by_email, k, n, "", 0, 0);
            }
        }
        pm__patients__patient__free_unpacked (p, NULL);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    if (cursor) {
        mdb_cursor_close (cursor);
    }
    if (rc != PM_OK) {
        pm_store_abort (txn);
        return rc;
    }
    return pm_store_commit (txn);
}

//  --------------------------------------------------------------------------
//  Opens the sub-databases and binds the handlers.
int
patients_setup (pm_server_t *server)
{
    pm_store_t *store = pm_server_store (server);
    if (pm_store_dbi (store, "patients", 0, &pat_db.patients) != PM_OK
        || pm_store_dbi (store, "by_name", 0, &pat_db.by_name) != PM_OK
        || pm_store_dbi (store, "by_dob", 0, &pat_db.by_dob) != PM_OK
        || pm_store_dbi (store, "by_phone", 0, &pat_db.by_phone) != PM_OK
        || pm_store_dbi (store, "by_mrn", 0, &pat_db.by_mrn) != PM_OK
        || pm_store_dbi (store, "mrn_seq", 0, &pat_db.mrn_seq) != PM_OK
        || pm_store_dbi (store, "by_email", 0, &pat_db.by_email) != PM_OK
        || pm_store_dbi (store, "dups", 0, &pat_db.dups) != PM_OK
        || pm_store_dbi (store, "merges", 0, &pat_db.merges) != PM_OK
        || pm_store_dbi (store, "consent", 0, &pat_db.consent) != PM_OK
        || pm_store_dbi (store, "surveys", 0, &pat_db.surveys) != PM_OK
        || pm_store_dbi (store, "complaints", 0, &pat_db.complaints) != PM_OK
        || pm_store_dbi (store, "redactions", 0, &pat_db.redactions) != PM_OK
        || s_backfill_email (store) != PM_OK) {
        return -1;
    }
    pm_server_handle (server, "patients.Register", s_register);
    pm_server_handle (server, "patients.Get", s_get);
    pm_server_handle (server, "patients.Update", s_update);
    pm_server_handle (server, "patients.Search", s_search);
    pm_server_handle (server, "patients.Deactivate", s_deactivate);
    pm_server_handle (server, "patients.Reactivate", s_reactivate);
    pat_dups_bind (server);
    pat_merge_bind (server);
    pat_consent_bind (server);
    pat_surveys_bind (server);
    pat_complaints_bind (server);
    pat_erase_bind (server);
    return 0;
}
