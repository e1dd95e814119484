/*  patients_store.h: what the patients service's source files share: the
    sub-databases, key builders and record helpers. Internal to the
    service; the layout itself is documented in patients.h.              */
#ifndef PATIENTS_STORE_H
#define PATIENTS_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patients.pb-c.h"
#include "pm_id.h"
#include "pm_server.h"

typedef Pm__Patients__Patient patient_t;

#define PAT_KEY_MAX 480      //  LMDB keys are at most 511 bytes
#define PAT_NAME_PART 200    //  folded name bytes kept in a key
#define PAT_TEXT_MAX 500     //  reasons, notes, legal bases

typedef struct {
    MDB_dbi patients, by_name, by_dob, by_phone, by_mrn, mrn_seq;
    MDB_dbi by_email;   //  folded e-mail 0 id -> ""
    MDB_dbi dups;       //  duplicate pairs and their worklists
    MDB_dbi merges;     //  merged id -> MergeRecord (pre-merge snapshots)
    MDB_dbi consent;    //  consent records and their history
    MDB_dbi surveys;    //  post-visit surveys and their indexes
    MDB_dbi complaints; //  complaint cases, their indexes and site SLAs
    MDB_dbi redactions; //  erasures whose older events are still to rewrite
} pat_store_t;

extern pat_store_t pat_db;

//  Copies `s` and its NUL to `at` (at most max-1 bytes of s); returns the
//  bytes written, NUL included.
size_t pat_key_put (uint8_t *at, const char *s, size_t max);

//  "a 0 b" (no trailing NUL); returns its length.
size_t pat_pair_key (uint8_t *key, const char *a, const char *b);

//  A phone's index form: its digits reversed (tail search = prefix scan).
void pat_phone_key (const char *phone, char *out);

//  An e-mail's index form: trimmed, lower case.
void pat_email_key (const char *email, char *out, size_t outlen);

//  Adds (add = true) or removes every index entry of `p` (name, birth
//  date, phones, e-mails, MRNs). Records without a name (erased) have
//  no name or birth date entries.
pm_err pat_index (MDB_txn *txn, const patient_t *p, bool add);

//  The patient `id` from the store (caller frees); PM_ENOTFOUND if none.
pm_err pat_get (MDB_txn *txn, const char *id, patient_t **out);

//  The same, setting the reply error (EINVAL for a malformed id,
//  ENOTFOUND) on `field`.
pm_err pat_load (pm_ctx_t *ctx, const char *id, const char *field,
                 patient_t **out);

//  Stores the record (indexes are the caller's).
pm_err pat_put (MDB_txn *txn, const patient_t *p);

//  The survivor a merged record points to, NULL if it is not merged.
const char *pat_merged_into (const patient_t *p);

//  True when the record was erased.
bool pat_erased (const patient_t *p);

//  Refuses (ECONFLICT on `field`) a change to a merged or erased record.
pm_err pat_check_changeable (pm_ctx_t *ctx, const patient_t *p,
                             const char *field);

//  Who is acting: the request's actor, else the principal's name
//  (timed work and followers act as the service).
const char *pat_actor (pm_ctx_t *ctx);

//  Refuses (EFORBIDDEN on `field`) a record of none of the principal's
//  sites (home site or an MRN site); otherwise puts the access on the
//  audit log. Call for every patient record a command reads or changes.
pm_err pat_access (pm_ctx_t *ctx, const patient_t *p, const char *field);

//  Refuses (EFORBIDDEN on `field`) site-bound data of another site.
pm_err pat_site_access (pm_ctx_t *ctx, const char *site, const char *field);

//  A required text of 1..PAT_TEXT_MAX bytes without control characters;
//  fails on `field` otherwise.
pm_err pat_check_text (pm_ctx_t *ctx, const char *field, const char *text,
                       bool required);

//  Hex of a key, for page tokens, and back (false if malformed).
void pat_hex (const uint8_t *in, size_t n, char *out);
bool pat_unhex (const char *in, uint8_t *out, size_t *n);

//  --- duplicates (patients_dups.c) ----------------------------------------

//  Recomputes the worklist pairs of `p` after it was stored: its best
//  likely matches are raised or updated, pairs that no longer match are
//  dropped; dismissed pairs stay.
pm_err pat_dups_refresh (pm_ctx_t *ctx, const patient_t *p);

//  Drops every pair of `id` (open or dismissed): the record left the
//  pool of candidates (merged into another, erased).
pm_err pat_dups_forget (pm_ctx_t *ctx, const char *id);

//  Marks the pair (a, b) dismissed by the acting user with `note`,
//  creating it when absent. Emits patients.duplicate.dismissed.
pm_err pat_dups_dismiss (pm_ctx_t *ctx, const char *a, const char *b,
                         const char *note, Pm__Patients__DuplicatePair **out);

//  --- the commands of each part --------------------------------------------

void pat_dups_bind (pm_server_t *server);
void pat_merge_bind (pm_server_t *server);
void pat_consent_bind (pm_server_t *server);
void pat_surveys_bind (pm_server_t *server);
void pat_complaints_bind (pm_server_t *server);
void pat_erase_bind (pm_server_t *server); //  and the older events' rewriting

//  --- patient experience (patients_surveys.c, patients_complaints.c) -------

//  The survey of appointment `apt` ("svy_" + its id's body); false when
//  `apt` is not an appointment id.
bool pat_survey_id (const char *apt, char *out);

//  The survey `id` (caller frees); PM_ENOTFOUND if none.
pm_err pat_survey_get (MDB_txn *txn, const char *id, Pm__Patients__Survey **out);

//  Stores the survey.
pm_err pat_survey_put (MDB_txn *txn, const Pm__Patients__Survey *s);

//  Checks a report's site (and the principal's access to it) and its
//  window [from, to); fails on the field at fault.
pm_err pat_report_window (pm_ctx_t *ctx, const char *site, bool has_from,
                          int64_t from, bool has_to, int64_t to);

//  The complaint case `id` (caller frees); PM_ENOTFOUND if none.
pm_err pat_complaint_get (MDB_txn *txn, const char *id,
                          Pm__Patients__Complaint **out);

//  Stores the case.
pm_err pat_complaint_put (MDB_txn *txn, const Pm__Patients__Complaint *c);

//  For erasure: removes the free text of every case about `patient`,
//  counting them in *redacted; ECONFLICT while one is not closed.
pm_err pat_complaints_redact (pm_ctx_t *ctx, const char *patient, size_t *redacted);

//  A case as it reads once its patient is erased, packed (malloc'd): only
//  what a person wrote goes (summary, resolution, step notes); the steps
//  keep who and when. For the record and for its older events.
uint8_t *pat_complaint_pack_erased (Pm__Patients__Complaint *c, size_t *len_out);

//  The same for a survey: its comment goes.
uint8_t *pat_survey_pack_erased (Pm__Patients__Survey *s, size_t *len_out);

//  What an erased record keeps of `p`: id, version, state, home site,
//  links and times (fields of `out` point into `p`).
void pat_erased_view (const patient_t *p, patient_t *out);

#endif
