/*  recruitment_store.h: the recruitment service's store layout and the
    helpers every concept file shares (keys, loads, saves, field rules).

    Store layout (sub-databases; "0" is a NUL byte, "be64" an 8-byte
    big-endian integer, so that scans come out ordered):
      requisitions   job_id             -> pm.recruitment.Requisition
      postings       pst_id             -> pm.recruitment.Posting
      candidates     cand_id            -> pm.recruitment.Candidate
      applications   app_id             -> pm.recruitment.Application
      interviews     itv_id             -> pm.recruitment.Interview
      levels         site_id            -> pm.recruitment.ServiceLevels
      breaches       brc_id             -> pm.recruitment.Breach
      messages       msg_id             -> pm.recruitment.CandidateMessage
      surveys        app_id             -> pm.recruitment.Survey
      redactions     cand_id            -> pm.recruitment.CandidateEventRedaction
                                           the rewriting of an erased
                                           candidate's older events, until
                                           it reaches the stream's end
      index          every secondary index, told apart by a leading tag:
        'q' site_id 0 job_id 0          -> job_id   requisitions of a site
        'p' job_id 0 pst_id 0           -> pst_id   postings of a requisition
        'e' normalized e-mail 0         -> cand_id  duplicate detection
        'f' phone digits 0              -> cand_id  duplicate detection
        'a' job_id 0 app_id 0           -> app_id   applications of a requisition
        'c' cand_id 0 job_id 0          -> app_id   a candidate's applications
        'x' be64 expires_at app_id 0    -> app_id   offers waiting to lapse
        'i' app_id 0 itv_id 0           -> itv_id   interviews of an application
        'I' staff_id 0 be64 start itv_id 0 -> be64 end   booked interviews of
                                                    an interviewer
        'w' kind site_id 0 be64 start subject 0 -> subject   running service-
                                                    level clocks (kind '1'
                                                    acknowledge, '2' decide:
                                                    subject app_id; '3'
                                                    answer: subject msg_id)
        'b' site_id 0 be64 detected brc_id 0 -> brc_id  a site's breaches
        'B' job_id 0 brc_id 0           -> brc_id   a requisition's breaches
        'm' app_id 0 be64 at msg_id 0   -> msg_id   an application's messages
        'u' app_id 0 be64 at msg_id 0   -> msg_id   its unanswered inbound ones
        'k' job_id 0 rcost_id 0         -> rcost_id a requisition's costs
        'r' be64 retain_until cand_id 0 -> cand_id  candidates to erase when
                                                    their retention ends
      the talent pool (recruitment_pool.c; members only, rewritten with
      every change to a candidate or their applications):
        'P' cand_id 0                   -> pm.recruitment.TalentPoolEntry
        'G' site_id 0 cand_id 0         -> cand_id  members who applied there
        'J' role 0 cand_id 0            -> cand_id  members who applied to a
                                                    requisition of that role
        'K' skill as matched 0 cand_id 0 -> cand_id members with that skill
        'M' name 0                      -> ""       one-time migrations done
                                                    (pm_store_migrate)
      and what is followed from staffing (dropped when its stream is new):
        'W' staff_id 0 be64 start shf_id 0 -> be64 end + site  rostered hours
        'L' staff_id 0 be64 start lv_id 0  -> be64 end         approved leave
        'Z' site_id 0                   -> the site's IANA zone

    A value read from LMDB is valid only until the txn ends: the loaders
    here unpack into memory the caller frees.                             */
#ifndef RECRUITMENT_STORE_H
#define RECRUITMENT_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm_key.h"
#include "pm_server.h"
#include "recruitment.pb-c.h"

#define REC_LIST_MAX 1000 //  records one list reply carries at most

typedef struct {
    MDB_dbi requisitions, postings, candidates, applications, interviews, index;
    MDB_dbi levels, breaches, messages, surveys;
    MDB_dbi costs;       //  rcost_id -> pm.recruitment.RecruitmentCost
    MDB_dbi redactions;  //  cand_id -> pm.recruitment.CandidateEventRedaction
} rec_db_t;

extern rec_db_t rec_db;

//  Opens (creating) every sub-database.
pm_err rec_store_open (pm_store_t *store);

//  --- keys -------------------------------------------------------------------

#define REC_IX_JOB_BY_SITE 'q'
#define REC_IX_PST_BY_JOB 'p'
#define REC_IX_COST_BY_JOB 'k'
#define REC_IX_EMAIL 'e'
#define REC_IX_PHONE 'f'
#define REC_IX_APP_BY_JOB 'a'
#define REC_IX_APP_BY_CAND 'c'
#define REC_IX_OFFER_DUE 'x'
#define REC_IX_ITV_BY_APP 'i'
#define REC_IX_ITV_BY_STAFF 'I'
#define REC_IX_CLOCK 'w'
#define REC_IX_BREACH_BY_SITE 'b'
#define REC_IX_BREACH_BY_JOB 'B'
#define REC_IX_MSG_BY_APP 'm'
#define REC_IX_UNANSWERED 'u'
#define REC_IX_RETAIN 'r'
#define REC_IX_POOL 'P'
#define REC_IX_POOL_SITE 'G'
#define REC_IX_POOL_ROLE 'J'
#define REC_IX_POOL_SKILL 'K'
#define REC_IX_SHIFT 'W'
#define REC_IX_LEAVE 'L'
#define REC_IX_ZONE 'Z'

//  Adds (add) or removes (!add) index entry k -> id; removing an absent
//  entry is fine.
pm_err rec_index (pm_ctx_t *ctx, const pm_key_t *k, const char *id, bool add);

//  The id stored under index key k into out (PM_ID_MAX bytes); PM_ENOTFOUND
//  when there is none.
pm_err rec_index_get (pm_ctx_t *ctx, const pm_key_t *k, char *out);

//  pm_key_scan over the index entries under `prefix`, in the unit's txn.
pm_err rec_scan (pm_ctx_t *ctx, const pm_key_t *prefix, pm_scan_fn *fn, void *arg);

//  The records a list reply carries: loaded from the ids under an index
//  prefix, at most REC_LIST_MAX, in key order.
typedef struct {
    ProtobufCMessage **items;
    size_t n;
} rec_listing_t;

//  Keeps (true) or drops one loaded record of a listing; may audit it.
typedef bool (rec_keep_fn) (pm_ctx_t *ctx, const ProtobufCMessage *m, const void *arg);

//  Loads into `out` the records of `dbi` (of `desc`) whose ids are the
//  values of the index entries under `prefix`, those `keep` (NULL: all)
//  keeps. `out` is always set: free it with rec_listing_free.
pm_err rec_listing_load (pm_ctx_t *ctx, const pm_key_t *prefix, MDB_dbi dbi,
                         const ProtobufCMessageDescriptor *desc, rec_keep_fn *keep,
                         const void *arg, rec_listing_t *out);
void rec_listing_free (rec_listing_t *listing);

//  --- records ----------------------------------------------------------------

//  Loads record `id` of `desc` into *out (caller frees). Missing id is
//  EINVAL, unknown ENOTFOUND ("<field>: no <what> <id>").
pm_err rec_load (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                 const ProtobufCMessageDescriptor *desc, const char *field,
                 const char *what, void *out);

//  Stores msg under id.
pm_err rec_put (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                const ProtobufCMessage *msg);

//  Stores, emits `event` (site, subject id) and replies with msg (when
//  serving a request).
pm_err rec_commit (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                   const ProtobufCMessage *msg, const char *event,
                   const char *site_id);

//  Refuses (EFORBIDDEN naming field) when the caller does not work at site.
pm_err rec_access (pm_ctx_t *ctx, const char *site, const char *field);

//  Refuses (ECONFLICT) a stale expected version, when one is given.
pm_err rec_check_version (pm_ctx_t *ctx, const char *id, uint64_t actual,
                          bool has_expected, uint64_t expected, bool required);

//  --- field rules --------------------------------------------------------------
//  PM_OK, or the command fails with EINVAL, the field path and a message
//  starting with the field path.

pm_err rec_text (pm_ctx_t *ctx, const char *field, const char *s, bool required,
                 long max);
pm_err rec_token (pm_ctx_t *ctx, const char *field, const char *s, size_t max);
pm_err rec_date (pm_ctx_t *ctx, const char *field, const char *s);
pm_err rec_currency (pm_ctx_t *ctx, const char *field, const char *s);
pm_err rec_employment_type (pm_ctx_t *ctx, const char *field, const char *s);

//  The principal's role name ("recruiter").
const char *rec_role_name (pm_ctx_t *ctx);

#endif
