/*  scheduling_slots.h: availability. Whether one slot can be taken (the
    site open that day, the practitioner attached, in the role, working,
    not on leave, with every credential the role requires, and the
    practitioner, a room and equipment all free, buffers included), taking
    and giving back the occupancy entries, and the free-slot search
    (scheduling.FindSlots).

    Occupancy is one ordered index ('o' resource 0 be64 start owner 0 ->
    be64 busy_until, type): an overlap check seeks to the first entry that
    could reach the slot and reads forward to its end, so its cost does
    not grow with the calendar's size. A type's daily limits are kept by
    counters per (type, local day, practitioner) and (type, local day)
    that taking and giving back move in the same transaction, so the
    check is two reads however full the calendar is. All writes run on the service's
    one write loop, so a check and the write of its entries in the same
    transaction cannot interleave with another booking: double booking is
    impossible by construction.                                           */
#ifndef SCHEDULING_SLOTS_H
#define SCHEDULING_SLOTS_H

#include "pm_id.h"
#include "pm_server.h"
#include "scheduling.pb-c.h"
#include "staffing.pb-c.h"

typedef struct {
    const Pm__Scheduling__AppointmentType *type;
    const Pm__Staffing__Site *site;
    const char *practitioner_id;
    int64_t start, end;         //  the visit
    int64_t busy_until;         //  end + the type's buffer
    char room_id[PM_ID_MAX];    //  in: wanted ("" = any); out: taken
    char equipment_id[PM_ID_MAX];
    const char *ignore;         //  an owner whose entries do not count
                                //  (the appointment moved, the hold used)
    char field[32];             //  out, on refusal: the field to blame
    char reason[256];           //  out, on refusal: why
} sch_slot_t;

//  Fills a slot for `type` at `start` with `practitioner_id`; loads the
//  type's site into *site_out (caller frees). PM_OK, or the refusal.
pm_err sch_slot_prepare (pm_ctx_t *ctx, sch_slot_t *slot,
                         const Pm__Scheduling__AppointmentType *type,
                         const char *practitioner_id, int64_t start,
                         Pm__Staffing__Site **site_out);

//  PM_OK when the slot can be taken (room and equipment chosen);
//  PM_ECONFLICT (or PM_EINVAL/PM_ENOTFOUND) with slot->field and
//  slot->reason set; other codes are store errors.
pm_err sch_slot_check (MDB_txn *txn, sch_slot_t *slot);

//  Writes the occupancy entries of a checked slot for `owner`.
pm_err sch_slot_take (MDB_txn *txn, const sch_slot_t *slot, const char *owner);

//  Removes `owner`'s entries for resources at `start`.
pm_err sch_slot_give_back (MDB_txn *txn, const char *owner, int64_t start,
                           const char *practitioner_id, const char *room_id,
                           const char *equipment_id);

//  scheduling.FindSlots.
pm_err sch_find_slots (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  Daily limits. The check and taking keep them for every booking path;
//  these count a type's days afresh when its counters cannot be trusted:
//  a limit newly set (or removed: then the counters go), or the site's
//  zone changed. Every live appointment of the type at `site` starting
//  from `from` and every hold of it is counted on its local day, and the
//  zone is remembered ('N' type).
pm_err sch_day_rebuild (MDB_txn *txn, const Pm__Scheduling__AppointmentType *type,
                        const Pm__Staffing__Site *site, int64_t from);

//  After a site event: recounts the site's limited types whose counters
//  were made in another zone than the site's now.
pm_err sch_day_site_changed (MDB_txn *txn, const Pm__Staffing__Site *site, int64_t from);

#endif
