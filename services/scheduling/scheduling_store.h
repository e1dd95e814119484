/*  scheduling_store.h: the scheduling service's store layout and the
    helpers every concept file shares (keys, scans, loads, access).

    Store layout (sub-databases; "0" is a NUL byte, "be64" an 8-byte
    big-endian integer, so range scans come out ordered):
      sites      site_id  -> pm.staffing.Site      (projection of staffing)
      resources  res_id   -> pm.staffing.Resource  (projection)
      staff      stf_id   -> pm.staffing.Staff     (projection)
      roles      role     -> pm.staffing.RoleRequirements (projection)
      patients   pat_id   -> pm.scheduling.PatientRef (projection of patients)
      types      atp_id   -> pm.scheduling.AppointmentType
      appts      apt_id   -> pm.scheduling.Appointment
      holds      hld_id   -> pm.scheduling.Hold
      index      every secondary index, told apart by a leading tag byte:
        'r' site 0 kind 0 res_id 0          -> ""   active resources by kind
        's' site 0 stf_id 0                 -> ""   active staff of a site
        'w' stf_id 0 be64 start shf_id 0    -> be64 end, site   working hours
        'l' stf_id 0 be64 start lv_id 0     -> be64 end         approved leave
        'c' stf_id 0 type 0 crd_id 0        -> be64 expires_at, 1 byte
                                               verified           credentials
        'o' res 0 be64 start owner 0        -> be64 busy_until, type_id
              occupancy of a practitioner, room or equipment by an
              appointment (apt_) or a hold (hld_); busy_until includes
              the type's buffer
        'a' site 0 be64 start apt_id 0      -> ""   appointments by start
        'b' be64 start apt_id 0             -> ""   booked, not yet arrived
                                                    (automatic no-show)
        'x' be64 expires_at hld_id 0        -> ""   holds by expiry
        't' site 0 atp_id 0                 -> ""   types of a site
        'n' atp_id 0 date 0 stf_id 0        -> be64 count   a limited type's
              appointments and holds on a local date of its site, per
              practitioner; with stf_id "" for the whole site. The
              practitioner's 'o' value of a counted owner ends in
              0 date (the place it gives back)
        'N' atp_id 0                        -> zone  where 'n' was counted
        'p' pat_id 0 apt_id 0               -> ""   a patient's appointments
        'M' name 0                          -> ""   a store migration done

    A practitioner's, room's or equipment's occupancy entries never span
    more than SCH_SPAN_MAX_MS, so an overlap check reads only the entries
    that start in [start - SCH_SPAN_MAX_MS, end).                        */
#ifndef SCHEDULING_STORE_H
#define SCHEDULING_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "patients.pb-c.h"
#include "pm_id.h"
#include "pm_key.h"
#include "pm_server.h"
#include "scheduling.pb-c.h"
#include "staffing.pb-c.h"

#define SCH_MINUTE_MS 60000LL
#define SCH_DURATION_MAX 480   //  minutes, one appointment
#define SCH_BUFFER_MAX 120     //  minutes after it
#define SCH_SPAN_MAX_MS ((SCH_DURATION_MAX + SCH_BUFFER_MAX) * SCH_MINUTE_MS)
#define SCH_SHIFT_MAX_MS (48 * 3600000LL) //  the longest shift looked back for
#define SCH_RANGE_MAX_MS (31 * 86400000LL) //  list and slot search windows
#define SCH_TIME_MAX 253402300799999LL    //  9999-12-31T23:59:59.999Z: instants
                                          //  past it are refused, so sums of
                                          //  instants and durations fit int64
#define SCH_DAY_LIMIT_MAX 1000 //  a type's appointments per local day
#define SCH_MARK_PATIENT_INDEX "patient-index"   //  'M' markers: 'p' built
#define SCH_MARK_MERGE_CATCH_UP "merge-catch-up" //  older merges re-pointed

typedef struct {
    MDB_dbi sites, resources, staff, roles, patients, types, appts, holds;
    MDB_dbi index;
} sch_db_t;

extern sch_db_t sch_db;

//  Opens the sub-databases.
int sch_store_open (pm_store_t *store);

//  Brings a store written by an older version up to this layout, once
//  each, in a write transaction before serving: the patient index ('p')
//  for appointments booked before it existed, so that a merge re-points
//  every appointment of the merged record. (Merges such a store applied
//  without re-pointing are caught up by the first timed run, which can
//  emit events: scheduling.c.) -1 on failure (logged).
int sch_store_migrate (pm_store_t *store);

//  A message by key from `dbi` (caller frees), or PM_ENOTFOUND.
pm_err sch_load (MDB_txn *txn, MDB_dbi dbi, const char *id,
                 const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out);

//  Stores a message by id.
pm_err sch_save (MDB_txn *txn, MDB_dbi dbi, const char *id,
                 const ProtobufCMessage *msg);

//  Site scope: PM_OK, or the refusal (EFORBIDDEN) on `field`.
pm_err sch_site_access (pm_ctx_t *ctx, const char *site, const char *field);

//  Site scope and audit for one appointment (a patient's data).
pm_err sch_appt_access (pm_ctx_t *ctx, const Pm__Scheduling__Appointment *a,
                        const char *field);

//  The name of who is asking, for history entries.
const char *sch_actor (pm_ctx_t *ctx);

//  Free text: required, at most 500 characters.
pm_err sch_check_reason (pm_ctx_t *ctx, const char *field, const char *text);

//  Lower-case code words: 1..max of a-z 0-9 '-' '_'.
bool sch_code_valid (const char *s, size_t max);

#endif
