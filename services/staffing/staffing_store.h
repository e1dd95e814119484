/*  staffing_store.h: the staffing service's store layout and the helpers
    every concept file shares (keys, loads, saves, field rules).

    Store layout (sub-databases of the service's LMDB environment; "0" is
    a NUL byte, "be64" an 8-byte big-endian integer, so scans are ordered):
      sites          site_id            -> pm.staffing.Site
      resources      res_id             -> pm.staffing.Resource
      staff          stf_id             -> pm.staffing.Staff
      hires          candidate_id       -> pm.staffing.HireRecord
      credentials    crd_id             -> pm.staffing.Credential
      roles          role               -> pm.staffing.RoleRequirements
      templates      sht_id             -> pm.staffing.ShiftTemplate
      shifts         shf_id             -> pm.staffing.Shift
      swaps          swp_id             -> pm.staffing.SwapRequest
      coverage       cov_id             -> pm.staffing.CoverageRule
      leave_types    type               -> pm.staffing.LeaveType
      allocations    'a' stf_id 0 type 0 be64 year -> pm.staffing.LeaveAllocation
      leave          lv_id              -> pm.staffing.Leave
      completions    trn_id             -> pm.staffing.TrainingCompletion
      training       't' stf_id 0 course 0 -> pm.staffing.TrainingStatus
      index          every secondary index, told apart by a leading tag
                     byte (LMDB sub-databases are a scarce, per-transaction
                     cost; one ordered index serves all):
        'r' site_id 0 res_id 0              -> res_id   resources of a site
        's' site_id 0 stf_id 0              -> stf_id   staff of a site
        'c' stf_id 0 crd_id 0               -> crd_id   credentials of a person
        'd' be64 due_ms crd_id 0            -> crd_id   next expiry warning
        't' site_id 0 sht_id 0              -> sht_id   shift templates
        'h' site_id 0 be64 start shf_id 0   -> shf_id   open and assigned shifts
        'w' stf_id 0 be64 start shf_id 0    -> shf_id   a person's assigned shifts
        'v' site_id 0 cov_id 0              -> cov_id   coverage rules
        'l' stf_id 0 start_date 0 lv_id 0   -> lv_id    requested, approved leave
        'L' stf_id 0 lv_id 0                -> lv_id    all of a person's leave
        'k' stf_id 0 course 0 date 0 trn_id 0 -> trn_id completions, oldest first
        'o' be64 overdue_ms stf_id 0 course 0 -> stf_id  next training due

    Ids are made by pm_id_new ("res_", "stf_", ...) except a site's, which
    its creator chooses ("north") because other services already key by it.
    A value read from LMDB is valid only until the txn ends: the loaders
    here unpack into memory the caller frees.                             */
#ifndef STAFFING_STORE_H
#define STAFFING_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm_key.h"
#include "pm_server.h"
#include "staffing.pb-c.h"

#define STF_LIST_MAX 1000 //  records one list reply carries at most

typedef struct {
    MDB_dbi sites, resources, staff, hires, credentials, roles;
    MDB_dbi templates, shifts, swaps, coverage;
    MDB_dbi leave_types, allocations, leave, completions, training;
    MDB_dbi index;
} stf_db_t;

//  The service's sub-databases, opened by stf_store_open.
extern stf_db_t stf_db;

//  Opens (creating) every sub-database. PM_OK or the store's error.
pm_err stf_store_open (pm_store_t *store);

//  --- keys -------------------------------------------------------------------

//  Index tags (see the layout above).
#define STF_IX_RES_BY_SITE 'r'
#define STF_IX_STAFF_BY_SITE 's'
#define STF_IX_CRD_BY_STAFF 'c'
#define STF_IX_CRD_DUE 'd'
#define STF_IX_TPL_BY_SITE 't'
#define STF_IX_SHF_BY_SITE 'h'
#define STF_IX_SHF_BY_STAFF 'w'
#define STF_IX_COV_BY_SITE 'v'
#define STF_IX_LV_BY_STAFF 'l'
#define STF_IX_LV_ALL 'L'
#define STF_IX_TRN_BY_STAFF 'k'
#define STF_IX_TRN_DUE 'o'

//  Puts (add) or deletes (!add) index entry `k` -> `id`. Deleting an
//  absent entry is not an error.
pm_err stf_index (MDB_txn *txn, MDB_dbi dbi, const pm_key_t *k,
                  const char *id, bool add);

//  --- who acts --------------------------------------------------------------

//  A key linked to a staff record (pm_ctx_staff_id) acts only as that
//  person: `staff_id`, named by a command as the one who asks, decides or
//  takes, must be theirs (EFORBIDDEN on `field`), except that a practice
//  manager (or admin) may act for the people of their sites where
//  `for_others`. Keys not linked to anyone are not restricted here.
pm_err stf_acting_as (pm_ctx_t *ctx, const char *staff_id, bool for_others,
                      const char *field);

//  --- records ------------------------------------------------------------

//  Loads record `id` of type `desc` into *out (caller frees with
//  protobuf_c_message_free_unpacked). A missing id is PM_EINVAL, an
//  unknown one PM_ENOTFOUND ("no <what> <id>"), both naming `field`.
pm_err stf_load (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                 const ProtobufCMessageDescriptor *desc, const char *field,
                 const char *what, void *out);

//  Stores `msg` under `id`.
pm_err stf_put (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                const ProtobufCMessage *msg);

//  Stores `msg` under `id`, emits `event` with it as data (site and
//  subject as given) and replies with it.
pm_err stf_commit (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
                   const ProtobufCMessage *msg, const char *event,
                   const char *site_id);

//  True when two messages of the same type pack to the same bytes: an
//  update that changes nothing makes no new version and no event.
bool stf_same (const ProtobufCMessage *a, const ProtobufCMessage *b);

//  Loads site `site_id` (caller frees), failing as stf_load does.
pm_err stf_site (pm_ctx_t *ctx, const char *site_id, const char *field,
                 Pm__Staffing__Site **out);

//  Refuses (EFORBIDDEN, naming `field`) when the caller does not work at
//  `site`: a practice manager changes only their own sites' records.
pm_err stf_access (pm_ctx_t *ctx, const char *site, const char *field);

//  Refuses (ECONFLICT) when `expected` is not `actual`; `required` makes
//  a missing or zero expected version an EINVAL.
pm_err stf_check_version (pm_ctx_t *ctx, const char *id, uint64_t actual,
                          bool has_expected, uint64_t expected, bool required);

//  --- field rules ------------------------------------------------------------
//  Each checker returns PM_OK, or fails the command with PM_EINVAL, the
//  field path and a message that starts with the field path.

//  Text of at most `max` characters, without control characters.
pm_err stf_text (pm_ctx_t *ctx, const char *field, const char *s,
                 bool required, long max);

//  A token: 1..max of a-z, 0-9, '_' and '-' (site ids, roles, kinds).
pm_err stf_token (pm_ctx_t *ctx, const char *field, const char *s, size_t max);

//  A date written YYYY-MM-DD.
pm_err stf_date (pm_ctx_t *ctx, const char *field, const char *s);

//  An ISO 4217 code: three upper-case letters.
pm_err stf_currency (pm_ctx_t *ctx, const char *field, const char *s);

//  An id of type `prefix` ("stf"), required.
pm_err stf_id (pm_ctx_t *ctx, const char *field, const char *s,
               const char *prefix);

//  The site-local date of the runtime clock's now (STF_DATE_LEN bytes).
void stf_today (pm_ctx_t *ctx, const char *zone, char *out);

#endif
