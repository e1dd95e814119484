/*  scheduling_slots.c: availability checks, occupancy and the free-slot
    search (see scheduling_slots.h and the store layout in
    scheduling_store.h).                                                  */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"
#include "scheduling_tz.h"

#define STEP_MS (5 * SCH_MINUTE_MS) //  slot starts fall on a 5-minute grid
#define SLOTS_MAX 500

//  Refuses a slot: code, field and reason kept for the caller.
static pm_err
s_refuse (sch_slot_t *slot, pm_err code, const char *field, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static pm_err
s_refuse (sch_slot_t *slot, pm_err code, const char *field, const char *fmt, ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (slot->reason, sizeof slot->reason, fmt, args);
    va_end (args);
    snprintf (slot->field, sizeof slot->field, "%s", field);
    return code;
}

//  The 'o' prefix of a resource.
static void
s_occ_prefix (sch_key_t *k, const char *res)
{
    sch_key_init (k, 'o');
    sch_key_str (k, res);
}

//  --------------------------------------------------------------------------
//  PM_OK when `res` is free over [start, until) for `type_id` (a group
//  session of the same type at the same start counts against capacity);
//  PM_ECONFLICT otherwise, with *free_at the end of the latest blocker.
static pm_err
s_busy (MDB_txn *txn, const char *res, int64_t start, int64_t until, const char *type_id,
        uint32_t capacity, const char *ignore, int64_t *free_at)
{
    sch_key_t k;
    s_occ_prefix (&k, res);
    size_t plen = k.n;
    sch_key_u64 (&k, (uint64_t) (start > SCH_SPAN_MAX_MS ? start - SCH_SPAN_MAX_MS : 0));
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (rc != 0) {
        return pm_err_from_mdb (rc);
    }
    MDB_val key = {k.n, k.b}, val;
    uint32_t peers = 0;
    bool busy = false;
    int64_t latest = 0;
    rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key.mv_size > plen + 8 && memcmp (key.mv_data, k.b, plen) == 0) {
        const uint8_t *kb = key.mv_data;
        int64_t es = (int64_t) pm_be64_get (kb + plen);
        if (es >= until) {
            break;
        }
        const char *owner = (const char *) kb + plen + 8;
        int64_t eu = val.mv_size >= 8 ? (int64_t) pm_be64_get (val.mv_data) : es;
        if (eu > start && !(ignore && strcmp (owner, ignore) == 0)) {
            size_t tlen = val.mv_size - 8;
            bool same_type = type_id && tlen == strlen (type_id)
                             && memcmp ((const uint8_t *) val.mv_data + 8, type_id, tlen) == 0;
            if (capacity > 1 && es == start && same_type) {
                peers++;
            }
            else {
                busy = true;
            }
            if (eu > latest) {
                latest = eu;
            }
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    if (rc != 0 && rc != MDB_NOTFOUND) {
        return pm_err_from_mdb (rc);
    }
    if (busy || (capacity > 0 && peers >= capacity)) {
        *free_at = latest;
        return PM_ECONFLICT;
    }
    return PM_OK;
}

//  True when a shift of `staff` at `site` covers [start, end).
static bool
s_working (MDB_txn *txn, const char *staff, const char *site, int64_t start, int64_t end)
{
    sch_key_t k;
    sch_key_init (&k, 'w');
    sch_key_str (&k, staff);
    size_t plen = k.n;
    sch_key_u64 (&k, (uint64_t) (start > SCH_SHIFT_MAX_MS ? start - SCH_SHIFT_MAX_MS : 0));
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    MDB_val key = {k.n, k.b}, val;
    bool found = false;
    size_t slen = strlen (site);
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (!found && rc == 0 && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        int64_t ss = (int64_t) pm_be64_get ((const uint8_t *) key.mv_data + plen);
        if (ss > start) {
            break;
        }
        int64_t se = (int64_t) pm_be64_get (val.mv_data);
        found = se >= end && val.mv_size - 8 == slen
                && memcmp ((const uint8_t *) val.mv_data + 8, site, slen) == 0;
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return found;
}

//  True when `staff` has approved leave overlapping [start, end); *until
//  is where it ends.
static bool
s_on_leave (MDB_txn *txn, const char *staff, int64_t start, int64_t end, int64_t *until)
{
    sch_key_t k;
    sch_key_init (&k, 'l');
    sch_key_str (&k, staff);
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    MDB_val key = {k.n, k.b}, val;
    bool found = false;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (!found && rc == 0 && key.mv_size > k.n + 8 && memcmp (key.mv_data, k.b, k.n) == 0) {
        int64_t ls = (int64_t) pm_be64_get ((const uint8_t *) key.mv_data + k.n);
        if (ls >= end) {
            break;
        }
        int64_t le = (int64_t) pm_be64_get (val.mv_data);
        if (le > start) {
            found = true;
            *until = le;
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return found;
}

//  True when `staff` holds a verified `type` credential valid until `end`.
static bool
s_credential_ok (MDB_txn *txn, const char *staff, const char *type, int64_t end)
{
    sch_key_t k;
    sch_key_init (&k, 'c');
    sch_key_str (&k, staff);
    sch_key_str (&k, type);
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    MDB_val key = {k.n, k.b}, val;
    bool ok = false;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (!ok && rc == 0 && key.mv_size > k.n && memcmp (key.mv_data, k.b, k.n) == 0) {
        if (val.mv_size == 9) {
            int64_t exp = (int64_t) pm_be64_get (val.mv_data);
            ok = ((const uint8_t *) val.mv_data)[8] && (exp == 0 || exp >= end);
        }
        rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    return ok;
}

//  The closure of the site on the local date of `at`, or NULL.
static const Pm__Staffing__Closure *
s_closure (const Pm__Staffing__Site *site, int64_t at)
{
    char date[SCH_DATE_LEN];
    if (site->n_closures == 0 || !sch_tz_date (site->time_zone, at, date)) {
        return NULL;
    }
    for (size_t i = 0; i < site->n_closures; i++) {
        if (site->closures[i]->date && strcmp (site->closures[i]->date, date) == 0) {
            return site->closures[i];
        }
    }
    return NULL;
}

//  Site-level and practitioner-level checks (not tied to free time).
static pm_err
s_check_fixed (MDB_txn *txn, sch_slot_t *slot)
{
    const Pm__Staffing__Site *site = slot->site;
    if (site->status == PM__STAFFING__SITE_STATUS__SITE_CLOSED) {
        return s_refuse (slot, PM_ECONFLICT, "type_id", "site %s is closed (%s)", site->id,
                         site->status_reason ? site->status_reason : "no reason given");
    }
    Pm__Staffing__Staff *st = NULL;
    pm_err rc = sch_load (txn, sch_db.staff, slot->practitioner_id,
                          &pm__staffing__staff__descriptor, (ProtobufCMessage **) &st);
    if (rc == PM_ENOTFOUND) {
        return s_refuse (slot, PM_ENOTFOUND, "practitioner_id",
                         "practitioner_id: no staff member %.64s known from staffing",
                         slot->practitioner_id);
    }
    if (rc != PM_OK) {
        return rc;
    }
    bool role = false, attached = false;
    for (size_t i = 0; i < st->n_roles; i++) {
        role = role || strcmp (st->roles[i], slot->type->practitioner_role) == 0;
    }
    for (size_t i = 0; i < st->n_sites; i++) {
        attached = attached || strcmp (st->sites[i]->site_id, site->id) == 0;
    }
    if (st->status == PM__STAFFING__STAFF_STATUS__TERMINATED) {
        rc = s_refuse (slot, PM_ECONFLICT, "practitioner_id", "%s has left (terminated)",
                       st->id);
    }
    else if (!role) {
        rc = s_refuse (slot, PM_ECONFLICT, "practitioner_id",
                       "%s is not a %s, which this type requires", st->id,
                       slot->type->practitioner_role);
    }
    else if (!attached) {
        rc = s_refuse (slot, PM_ECONFLICT, "practitioner_id", "%s does not work at site %s",
                       st->id, site->id);
    }
    pm__staffing__staff__free_unpacked (st, NULL);
    return rc;
}

//  A room or equipment of `kind`: the wanted one if free, else any free.
static pm_err
s_pick (MDB_txn *txn, sch_slot_t *slot, const char *kind, char *chosen, const char *what,
        const char *field)
{
    if (!kind || !*kind) {
        chosen[0] = 0;
        return PM_OK;
    }
    int64_t free_at;
    const Pm__Scheduling__AppointmentType *t = slot->type;
    if (chosen[0]) {
        Pm__Staffing__Resource *r = NULL;
        pm_err rc = sch_load (txn, sch_db.resources, chosen,
                              &pm__staffing__resource__descriptor, (ProtobufCMessage **) &r);
        if (rc == PM_ENOTFOUND) {
            return s_refuse (slot, PM_ENOTFOUND, field, "%s: no resource %.64s", field,
                             chosen);
        }
        if (rc != PM_OK) {
            return rc;
        }
        bool fits = strcmp (r->site_id, slot->site->id) == 0 && strcmp (r->kind, kind) == 0
                    && (!r->has_active || r->active);
        pm__staffing__resource__free_unpacked (r, NULL);
        if (!fits) {
            return s_refuse (slot, PM_ECONFLICT, field,
                             "%s: %s is not an active %s at site %s", field, chosen, kind,
                             slot->site->id);
        }
        rc = s_busy (txn, chosen, slot->start, slot->busy_until, t->id, t->capacity,
                     slot->ignore, &free_at);
        if (rc == PM_ECONFLICT) {
            return s_refuse (slot, PM_ECONFLICT, field, "%s %s is taken then", what, chosen);
        }
        return rc;
    }
    sch_key_t k;
    sch_key_init (&k, 'r');
    sch_key_str (&k, slot->site->id);
    sch_key_str (&k, kind);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    MDB_val key = {k.n, k.b}, val;
    pm_err rc = PM_ECONFLICT;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_ECONFLICT && mrc == 0 && key.mv_size > k.n
           && memcmp (key.mv_data, k.b, k.n) == 0) {
        const char *id = (const char *) key.mv_data + k.n;
        rc = s_busy (txn, id, slot->start, slot->busy_until, t->id, t->capacity,
                     slot->ignore, &free_at);
        if (rc == PM_OK) {
            snprintf (chosen, PM_ID_MAX, "%s", id);
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    if (rc == PM_ECONFLICT) {
        return s_refuse (slot, PM_ECONFLICT, field, "no %s of kind %s is free then", what,
                         kind);
    }
    return rc;
}

//  The checks that depend on the time; *retry_at is the earliest start
//  worth trying next (0 = the next step).
static pm_err
s_check_time (MDB_txn *txn, sch_slot_t *slot, int64_t *retry_at)
{
    const Pm__Scheduling__AppointmentType *t = slot->type;
    const Pm__Staffing__Closure *cl = s_closure (slot->site, slot->start);
    if (!cl) {
        cl = s_closure (slot->site, slot->end - 1);
    }
    *retry_at = 0;
    if (cl) {
        return s_refuse (slot, PM_ECONFLICT, "start", "site %s is closed on %s (%s)",
                         slot->site->id, cl->date, cl->reason ? cl->reason : "closure");
    }
    //  Leave first: approving it also takes the shifts away, and "on
    //  leave" is the reason the front desk needs to hear.
    int64_t until;
    if (s_on_leave (txn, slot->practitioner_id, slot->start, slot->end, &until)) {
        *retry_at = until;
        return s_refuse (slot, PM_ECONFLICT, "practitioner_id",
                         "%s is on approved leave then", slot->practitioner_id);
    }
    if (!s_working (txn, slot->practitioner_id, slot->site->id, slot->start, slot->end)) {
        return s_refuse (slot, PM_ECONFLICT, "start",
                         "%s is outside working hours then (no rostered shift at %s covers it)",
                         slot->practitioner_id, slot->site->id);
    }
    Pm__Staffing__RoleRequirements *req = NULL;
    pm_err rc = sch_load (txn, sch_db.roles, t->practitioner_role,
                          &pm__staffing__role_requirements__descriptor,
                          (ProtobufCMessage **) &req);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        return rc;
    }
    rc = PM_OK;
    for (size_t i = 0; req && rc == PM_OK && i < req->n_credential_types; i++) {
        if (!s_credential_ok (txn, slot->practitioner_id, req->credential_types[i], slot->end)) {
            rc = s_refuse (slot, PM_ECONFLICT, "practitioner_id",
                           "%s has no valid verified %s, which a %s needs",
                           slot->practitioner_id, req->credential_types[i],
                           t->practitioner_role);
        }
    }
    pm__staffing__role_requirements__free_unpacked (req, NULL);
    if (rc != PM_OK) {
        return rc;
    }
    int64_t free_at;
    rc = s_busy (txn, slot->practitioner_id, slot->start, slot->busy_until, t->id, t->capacity,
                 slot->ignore, &free_at);
    if (rc == PM_ECONFLICT) {
        *retry_at = free_at;
        return s_refuse (slot, PM_ECONFLICT, "start",
                         "%s is already booked or held then", slot->practitioner_id);
    }
    if (rc == PM_OK) {
        rc = s_pick (txn, slot, t->telehealth ? NULL : t->room_kind, slot->room_id, "room",
                     "room_id");
    }
    if (rc == PM_OK) {
        rc = s_pick (txn, slot, t->equipment_kind, slot->equipment_id, "equipment",
                     "equipment_id");
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Fills a slot and loads the type's site.
pm_err
sch_slot_prepare (pm_ctx_t *ctx, sch_slot_t *slot, const Pm__Scheduling__AppointmentType *type,
                  const char *practitioner_id, int64_t start, Pm__Staffing__Site **site_out)
{
    *site_out = NULL;
    if (!practitioner_id || !pm_id_valid (practitioner_id, "stf")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "practitioner_id",
                            "practitioner_id: a staff id (stf_...) is required");
    }
    if (start <= 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "start", "start: required, ms UTC");
    }
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.sites, type->site_id,
                          &pm__staffing__site__descriptor, (ProtobufCMessage **) site_out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, "type_id", "site %s is not known",
                            type->site_id);
    }
    if (rc != PM_OK) {
        return rc;
    }
    slot->type = type;
    slot->site = *site_out;
    slot->practitioner_id = practitioner_id;
    slot->start = start;
    slot->end = start + (int64_t) type->duration_minutes * SCH_MINUTE_MS;
    slot->busy_until = slot->end + (int64_t) type->buffer_minutes * SCH_MINUTE_MS;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Every check of one slot.
pm_err
sch_slot_check (MDB_txn *txn, sch_slot_t *slot)
{
    int64_t retry_at;
    pm_err rc = s_check_fixed (txn, slot);
    return rc == PM_OK ? s_check_time (txn, slot, &retry_at) : rc;
}

//  One occupancy entry.
static pm_err
s_occupy (MDB_txn *txn, const char *res, const sch_slot_t *slot, const char *owner)
{
    sch_key_t k;
    s_occ_prefix (&k, res);
    sch_key_u64 (&k, (uint64_t) slot->start);
    sch_key_str (&k, owner);
    uint8_t val[8 + PM_ID_MAX];
    size_t tlen = strlen (slot->type->id);
    pm_be64_put (val, (uint64_t) slot->busy_until);
    memcpy (val + 8, slot->type->id, tlen < PM_ID_MAX ? tlen : PM_ID_MAX);
    return pm_store_put (txn, sch_db.index, k.b, k.n, val, 8 + (tlen < PM_ID_MAX ? tlen : PM_ID_MAX),
                         0);
}

//  --------------------------------------------------------------------------
//  Takes the practitioner, room and equipment.
pm_err
sch_slot_take (MDB_txn *txn, const sch_slot_t *slot, const char *owner)
{
    pm_err rc = s_occupy (txn, slot->practitioner_id, slot, owner);
    if (rc == PM_OK && slot->room_id[0]) {
        rc = s_occupy (txn, slot->room_id, slot, owner);
    }
    if (rc == PM_OK && slot->equipment_id[0]) {
        rc = s_occupy (txn, slot->equipment_id, slot, owner);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Gives back what `owner` took at `start`.
pm_err
sch_slot_give_back (MDB_txn *txn, const char *owner, int64_t start, const char *practitioner_id,
                    const char *room_id, const char *equipment_id)
{
    const char *res[] = {practitioner_id, room_id, equipment_id};
    for (int i = 0; i < 3; i++) {
        if (!res[i] || !*res[i]) {
            continue;
        }
        sch_key_t k;
        s_occ_prefix (&k, res[i]);
        sch_key_u64 (&k, (uint64_t) start);
        sch_key_str (&k, owner);
        pm_err rc = pm_store_del (txn, sch_db.index, k.b, k.n);
        if (rc != PM_OK && rc != PM_ENOTFOUND) {
            return rc;
        }
    }
    return PM_OK;
}

//  Free slots of one practitioner over [from, to), appended to `out`.
static pm_err
s_search_one (MDB_txn *txn, sch_slot_t *slot, int64_t from, int64_t to, uint32_t limit,
              Pm__Scheduling__Slot **out, size_t *n_out)
{
    if (s_check_fixed (txn, slot) != PM_OK) {
        return PM_OK; //  not bookable at all: no slots
    }
    const Pm__Scheduling__AppointmentType *t = slot->type;
    int64_t dur = (int64_t) t->duration_minutes * SCH_MINUTE_MS;
    int64_t gap = (int64_t) t->buffer_minutes * SCH_MINUTE_MS;
    sch_key_t k;
    sch_key_init (&k, 'w');
    sch_key_str (&k, slot->practitioner_id);
    size_t plen = k.n;
    sch_key_u64 (&k, (uint64_t) (from > SCH_SHIFT_MAX_MS ? from - SCH_SHIFT_MAX_MS : 0));
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    //  Shifts are read first (the cursor is not kept across the checks).
    int64_t shifts[64][2];
    size_t n_shifts = 0;
    size_t slen = strlen (slot->site->id);
    MDB_val key = {k.n, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n_shifts < 64 && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        int64_t ss = (int64_t) pm_be64_get ((const uint8_t *) key.mv_data + plen);
        int64_t se = (int64_t) pm_be64_get (val.mv_data);
        if (ss >= to) {
            break;
        }
        if (se > from && val.mv_size - 8 == slen
            && memcmp ((const uint8_t *) val.mv_data + 8, slot->site->id, slen) == 0) {
            shifts[n_shifts][0] = ss;
            shifts[n_shifts][1] = se;
            n_shifts++;
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    uint32_t found = 0;
    char room[PM_ID_MAX], equipment[PM_ID_MAX];
    snprintf (room, sizeof room, "%s", slot->room_id);
    snprintf (equipment, sizeof equipment, "%s", slot->equipment_id);
    for (size_t s = 0; s < n_shifts && found < limit; s++) {
        int64_t t0 = shifts[s][0];
        if (from > t0) {
            t0 += ((from - t0 + STEP_MS - 1) / STEP_MS) * STEP_MS;
        }
        while (found < limit && t0 < to && t0 + dur <= shifts[s][1]) {
            slot->start = t0;
            slot->end = t0 + dur;
            slot->busy_until = t0 + dur + gap;
            snprintf (slot->room_id, PM_ID_MAX, "%s", room);
            snprintf (slot->equipment_id, PM_ID_MAX, "%s", equipment);
            int64_t retry_at = 0;
            pm_err rc = s_check_time (txn, slot, &retry_at);
            if (rc == PM_OK) {
                Pm__Scheduling__Slot *o = malloc (sizeof *o);
                pm__scheduling__slot__init (o);
                o->has_start = o->has_end = 1;
                o->start = slot->start;
                o->end = slot->end;
                o->practitioner_id = strdup (slot->practitioner_id);
                o->room_id = slot->room_id[0] ? strdup (slot->room_id) : NULL;
                o->equipment_id = slot->equipment_id[0] ? strdup (slot->equipment_id) : NULL;
                out[(*n_out)++] = o;
                found++;
                t0 += dur + gap;
            }
            else if (rc == PM_ECONFLICT || rc == PM_ENOTFOUND || rc == PM_EINVAL) {
                int64_t next = t0 + STEP_MS;
                if (retry_at > next) {
                    next = shifts[s][0]
                           + ((retry_at - shifts[s][0] + STEP_MS - 1) / STEP_MS) * STEP_MS;
                }
                t0 = next;
            }
            else {
                return rc;
            }
        }
    }
    return PM_OK;
}

//  Orders slots by start, then practitioner.
static int
s_slot_cmp (const void *a, const void *b)
{
    const Pm__Scheduling__Slot *x = *(Pm__Scheduling__Slot *const *) a;
    const Pm__Scheduling__Slot *y = *(Pm__Scheduling__Slot *const *) b;
    if (x->start != y->start) {
        return x->start < y->start ? -1 : 1;
    }
    return strcmp (x->practitioner_id, y->practitioner_id);
}

//  --------------------------------------------------------------------------
//  scheduling.FindSlots: free starts for a type, one or every qualified
//  practitioner of its site.
pm_err
sch_find_slots (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__FindSlots *req = (const Pm__Scheduling__FindSlots *) body;
    if (!req) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type_id", "type_id is required");
    }
    if (req->to <= req->from || req->from <= 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: must be after from (ms UTC)");
    }
    if (req->to - req->from > SCH_RANGE_MAX_MS) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: at most 31 days after from");
    }
    if (req->has_limit && req->limit > SLOTS_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "limit", "limit: at most %d", SLOTS_MAX);
    }
    uint32_t limit = req->limit ? req->limit : 50;
    if (req->practitioner_id && *req->practitioner_id
        && !pm_id_valid (req->practitioner_id, "stf")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "practitioner_id",
                            "practitioner_id: a staff id (stf_...)");
    }
    Pm__Scheduling__AppointmentType *type = NULL;
    pm_err rc = sch_type_load (ctx, req->type_id, "type_id", &type);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Site *site = NULL;
    rc = sch_site_access (ctx, type->site_id, "type_id");
    if (rc == PM_OK) {
        rc = sch_load (txn, sch_db.sites, type->site_id, &pm__staffing__site__descriptor,
                       (ProtobufCMessage **) &site);
    }
    //  The practitioners to search: the one named, or the site's staff.
    char (*who)[PM_ID_MAX] = calloc (256, PM_ID_MAX);
    size_t n_who = 0;
    if (rc == PM_OK && req->practitioner_id && *req->practitioner_id) {
        snprintf (who[n_who++], PM_ID_MAX, "%s", req->practitioner_id);
    }
    else if (rc == PM_OK) {
        sch_key_t k;
        sch_key_init (&k, 's');
        sch_key_str (&k, type->site_id);
        MDB_cursor *cur;
        if (mdb_cursor_open (txn, sch_db.index, &cur) == 0) {
            MDB_val key = {k.n, k.b}, val;
            int mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
            while (mrc == 0 && n_who < 256 && key.mv_size > k.n
                   && memcmp (key.mv_data, k.b, k.n) == 0) {
                snprintf (who[n_who++], PM_ID_MAX, "%s", (const char *) key.mv_data + k.n);
                mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
            }
            mdb_cursor_close (cur);
        }
    }
    Pm__Scheduling__Slot **slots = calloc ((size_t) limit * (n_who ? n_who : 1), sizeof *slots);
    size_t n_slots = 0;
    //  Once `limit` slots are in hand, a later practitioner (ids come in
    //  the reply's tie order) can only add a slot that starts before the
    //  last of them: the search window shrinks as it goes, so "any
    //  practitioner" costs little more than one.
    int64_t to = req->to;
    for (size_t i = 0; rc == PM_OK && i < n_who && to > req->from; i++) {
        sch_slot_t slot = {.type = type, .site = site, .practitioner_id = who[i]};
        rc = s_search_one (txn, &slot, req->from, to, limit, slots, &n_slots);
        if (rc == PM_OK && n_slots >= limit) {
            qsort (slots, n_slots, sizeof *slots, s_slot_cmp);
            while (n_slots > limit) {
                pm__scheduling__slot__free_unpacked (slots[--n_slots], NULL);
            }
            to = slots[limit - 1]->start;
        }
    }
    if (rc == PM_OK) {
        if (n_slots > 1) {
            qsort (slots, n_slots, sizeof *slots, s_slot_cmp);
        }
        Pm__Scheduling__SlotList list = PM__SCHEDULING__SLOT_LIST__INIT;
        list.n_slots = n_slots < limit ? n_slots : limit;
        list.slots = slots;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    for (size_t i = 0; i < n_slots; i++) {
        pm__scheduling__slot__free_unpacked (slots[i], NULL);
    }
    free (slots);
    free (who);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}
