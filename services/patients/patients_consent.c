/*  patients_consent.c: consent and contact preferences, with history.

    Sub-database `consent`:
      'C' patient id                  -> Consent (the current state)
      'H' patient id 0 be64 version   -> ConsentChange (each change)
    Every change is an event, patients.consent.changed, with the full new
    Consent: reminder, research and sharing senders follow it and never
    act on a patient who did not say yes.                                 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_store.h"

#define HISTORY_DEFAULT 50
#define HISTORY_MAX 200

typedef Pm__Patients__Consent consent_t;

static const char *s_fields[] = {"channels", "reminders", "research",
                                 "data_sharing", NULL};

static size_t
s_key (uint8_t *key, const char *id)
{
    key[0] = 'C';
    return 1 + pat_key_put (key + 1, id, PM_ID_MAX) - 1;
}

static size_t
s_history_key (uint8_t *key, const char *id, uint64_t version)
{
    key[0] = 'H';
    size_t n = 1 + pat_key_put (key + 1, id, PM_ID_MAX);
    pm_be64_put (key + n, version);
    return n + 8;
}

//  The stored consent of `id`, or an empty one (version 0): caller frees.
static pm_err
s_get (MDB_txn *txn, const char *id, consent_t **out)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_key (key, id);
    pm_err rc = pm_store_get_msg (txn, pat_db.consent, key, n,
                                  &pm__patients__consent__descriptor,
                                  (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        //  A packed empty message unpacks to an owned, freeable one.
        *out = pm__patients__consent__unpack (NULL, 0, (const uint8_t *) "");
        if (!*out) {
            return PM_EINTERNAL;
        }
        (*out)->patient_id = strdup (id);
        (*out)->has_version = 1;
        rc = (*out)->patient_id ? PM_OK : PM_EINTERNAL;
    }
    return rc;
}

//  True when `field` is in the mask, or (no mask) set in the patch.
static bool
s_in_mask (const Pm__Patients__SetConsent *req, const char *field, bool set)
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

//  The request's own checks, before anything is read.
static pm_err
s_check_request (pm_ctx_t *ctx, const Pm__Patients__SetConsent *req)
{
    if (!req->has_expected_version) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version is required: the version you read "
                            "(0 when nothing was recorded)");
    }
    if (!req->consent) {
        return pm_ctx_fail (ctx, PM_EINVAL, "consent", "consent holds the new values");
    }
    pm_err rc = pat_check_text (ctx, "source", req->source, true);
    if (rc != PM_OK) {
        return rc;
    }
    for (size_t i = 0; i < req->n_update_mask; i++) {
        bool known = false;
        for (const char **f = s_fields; *f; f++) {
            known = known || strcmp (*f, req->update_mask[i]) == 0;
        }
        if (!known) {
            char field[40];
            snprintf (field, sizeof field, "update_mask[%zu]", i);
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                "\"%.40s\" is not one of channels, reminders, "
                                "research, data_sharing", req->update_mask[i]);
        }
    }
    const consent_t *c = req->consent;
    for (size_t i = 0; i < c->n_channels; i++) {
        char field[40];
        snprintf (field, sizeof field, "consent.channels[%zu]", i);
        if (c->channels[i] != PM__PATIENTS__CONTACT_SYSTEM__PHONE
            && c->channels[i] != PM__PATIENTS__CONTACT_SYSTEM__EMAIL
            && c->channels[i] != PM__PATIENTS__CONTACT_SYSTEM__SMS) {
            return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: PHONE, EMAIL or SMS", field);
        }
        for (size_t j = 0; j < i; j++) {
            if (c->channels[j] == c->channels[i]) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: listed twice", field);
            }
        }
    }
    return PM_OK;
}

//  patients.SetConsent
static pm_err
s_set (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__SetConsent *req = (const Pm__Patients__SetConsent *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = s_check_request (ctx, req);
    if (rc != PM_OK) {
        return rc;
    }
    patient_t *p;
    rc = pat_load (ctx, req->patient_id, "patient_id", &p);
    if (rc != PM_OK) {
        return rc;
    }
    consent_t *old = NULL;
    rc = pat_access (ctx, p, "patient_id");
    if (rc == PM_OK) {
        rc = pat_check_changeable (ctx, p, "patient_id");
    }
    if (rc == PM_OK) {
        rc = s_get (txn, p->id, &old);
    }
    if (rc == PM_OK && old->version != req->expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "the consent of %s is at version %llu, not %llu: read "
                          "it again", p->id, (unsigned long long) old->version,
                          (unsigned long long) req->expected_version);
    }
    if (rc != PM_OK) {
        pm__patients__consent__free_unpacked (old, NULL);
        pm__patients__patient__free_unpacked (p, NULL);
        return rc;
    }
    //  The new state, and which fields it changes.
    const consent_t *patch = req->consent;
    consent_t c = *old;
    char *changed[4];
    size_t n_changed = 0;
    if (s_in_mask (req, "channels", patch->n_channels > 0)) {
        bool same = c.n_channels == patch->n_channels
                    && (c.n_channels == 0
                        || memcmp (c.channels, patch->channels,
                                   c.n_channels * sizeof *c.channels) == 0);
        if (!same) {
            changed[n_changed++] = "channels";
        }
        c.n_channels = patch->n_channels;
        c.channels = patch->channels;
    }
#define FLAG(name)                                                             \
    if (s_in_mask (req, #name, patch->has_##name)) {                           \
        if (c.has_##name != patch->has_##name                                  \
            || (c.has_##name && c.name != patch->name)) {                      \
            changed[n_changed++] = #name;                                      \
        }                                                                      \
        c.has_##name = patch->has_##name;                                      \
        c.name = patch->name;                                                  \
    }
    FLAG (reminders)
    FLAG (research)
    FLAG (data_sharing)
#undef FLAG
    if (n_changed == 0) {
        rc = pm_ctx_reply (ctx, &old->base);
    }
    else {
        c.version = old->version + 1;
        c.has_updated_at = 1;
        c.updated_at = pm_ctx_now (ctx);
        c.updated_by = (char *) pat_actor (ctx);
        c.source = req->source;
        uint8_t key[PAT_KEY_MAX];
        size_t n = s_key (key, p->id);
        rc = pm_store_put_msg (txn, pat_db.consent, key, n, &c.base, 0);
        if (rc == PM_OK) {
            Pm__Patients__ConsentChange change = PM__PATIENTS__CONSENT_CHANGE__INIT;
            change.consent = &c;
            change.n_changed = n_changed;
            change.changed = changed;
            change.has_at = 1;
            change.at = c.updated_at;
            change.actor = c.updated_by;
            n = s_history_key (key, p->id, c.version);
            rc = pm_store_put_msg (txn, pat_db.consent, key, n, &change.base, 0);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "patients.consent.changed", p->home_site, p->id,
                              &c.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &c.base);
        }
    }
    pm__patients__consent__free_unpacked (old, NULL);
    pm__patients__patient__free_unpacked (p, NULL);
    return rc;
}

//  patients.GetConsent
static pm_err
s_get_consent (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__GetConsent *req = (const Pm__Patients__GetConsent *) body;
    patient_t *p;
    pm_err rc = pat_load (ctx, req->patient_id, "patient_id", &p);
    if (rc != PM_OK) {
        return rc;
    }
    consent_t *c = NULL;
    rc = pat_access (ctx, p, "patient_id");
    if (rc == PM_OK) {
        rc = s_get (pm_ctx_txn (ctx), p->id, &c);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &c->base);
        pm__patients__consent__free_unpacked (c, NULL);
    }
    pm__patients__patient__free_unpacked (p, NULL);
    return rc;
}

//  patients.ConsentHistory
static pm_err
s_history (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__ConsentHistory *req = (const Pm__Patients__ConsentHistory *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint32_t page = req->has_page_size && req->page_size ? req->page_size
                                                         : HISTORY_DEFAULT;
    if (page > HISTORY_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "page_size", "at most %d", HISTORY_MAX);
    }
    patient_t *p;
    pm_err rc = pat_load (ctx, req->patient_id, "patient_id", &p);
    if (rc != PM_OK) {
        return rc;
    }
    rc = pat_access (ctx, p, "patient_id");
    if (rc != PM_OK) {
        pm__patients__patient__free_unpacked (p, NULL);
        return rc;
    }
    uint8_t from[PAT_KEY_MAX];
    size_t flen = s_history_key (from, p->id, req->after_version + 1);
    size_t plen = flen - 8;
    MDB_cursor *cursor;
    rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.consent, &cursor));
    Pm__Patients__ConsentChange **changes = calloc (page, sizeof *changes);
    size_t n = 0;
    bool more = false;
    if (rc == PM_OK) {
        MDB_val key = {flen, from}, val;
        int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        while (rc == PM_OK && mrc == 0 && key.mv_size == flen
               && memcmp (key.mv_data, from, plen) == 0) {
            if (n == page) {
                more = true;
                break;
            }
            changes[n] = pm__patients__consent_change__unpack (NULL, val.mv_size,
                                                               val.mv_data);
            rc = changes[n] ? PM_OK : PM_EINTERNAL;
            n += changes[n] != NULL;
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close (cursor);
    }
    if (rc == PM_OK) {
        Pm__Patients__ConsentHistoryPage out = PM__PATIENTS__CONSENT_HISTORY_PAGE__INIT;
        out.n_changes = n;
        out.changes = changes;
        out.has_more = 1;
        out.more = more;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < n; i++) {
        pm__patients__consent_change__free_unpacked (changes[i], NULL);
    }
    free (changes);
    pm__patients__patient__free_unpacked (p, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Binds the consent commands.
void
pat_consent_bind (pm_server_t *server)
{
    pm_server_handle (server, "patients.SetConsent", s_set);
    pm_server_handle (server, "patients.GetConsent", s_get_consent);
    pm_server_handle (server, "patients.ConsentHistory", s_history);
}
