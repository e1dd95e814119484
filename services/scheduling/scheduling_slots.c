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
s_occ_prefix (pm_key_t *k, const char *res)
{
    pm_key_init (k, 'o');
    pm_key_str (k, res);
}

//  --------------------------------------------------------------------------
//  PM_OK when `res` is free over [start, until) for `type_id` (a group
//  session of the same type at the same start counts against capacity);
//  PM_ECONFLICT otherwise, with *free_at the end of the latest blocker.
static pm_err
s_busy (MDB_txn *txn, const char *res, int64_t start, int64_t until, const char *type_id,
        uint32_t capacity, const char *ignore, int64_t *free_at)
{
    pm_key_t k;
    s_occ_prefix (&k, res);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) (start > SCH_SPAN_MAX_MS ? start - SCH_SPAN_MAX_MS : 0));
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (rc != 0) {
        return pm_err_from_mdb (rc);
    }
    MDB_val key = {k.len, k.b}, val;
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
            //  The type id runs to the value's end or to the NUL before a
            //  counted day (see s_occupy).
            size_t rest = val.mv_size > 8 ? val.mv_size - 8 : 0;
            const uint8_t *tv = (const uint8_t *) val.mv_data + 8;
            const uint8_t *nul = rest ? memchr (tv, 0, rest) : NULL;
            size_t tlen = nul ? (size_t) (nul - tv) : rest;
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
    pm_key_t k;
    pm_key_init (&k, 'w');
    pm_key_str (&k, staff);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) (start > SCH_SHIFT_MAX_MS ? start - SCH_SHIFT_MAX_MS : 0));
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    MDB_val key = {k.len, k.b}, val;
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
    pm_key_t k;
    pm_key_init (&k, 'l');
    pm_key_str (&k, staff);
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    MDB_val key = {k.len, k.b}, val;
    bool found = false;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (!found && rc == 0 && key.mv_size > k.len + 8 && memcmp (key.mv_data, k.b, k.len) == 0) {
        int64_t ls = (int64_t) pm_be64_get ((const uint8_t *) key.mv_data + k.len);
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
    pm_key_t k;
    pm_key_init (&k, 'c');
    pm_key_str (&k, staff);
    pm_key_str (&k, type);
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    MDB_val key = {k.len, k.b}, val;
    bool ok = false;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (!ok && rc == 0 && key.mv_size > k.len && memcmp (key.mv_data, k.b, k.len) == 0) {
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
    pm_key_t k;
    pm_key_init (&k, 'r');
    pm_key_str (&k, slot->site->id);
    pm_key_str (&k, kind);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    MDB_val key = {k.len, k.b}, val;
    pm_err rc = PM_ECONFLICT;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_ECONFLICT && mrc == 0 && key.mv_size > k.len
           && memcmp (key.mv_data, k.b, k.len) == 0) {
        const char *id = (const char *) key.mv_data + k.len;
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

//  --- daily limits ------------------------------------------------------------
//
//  A type with a daily limit counts, per local day of its site, what it
//  has booked or held: 'n' type 0 date 0 practitioner 0 -> be64 count, and
//  'n' type 0 date 0 0 (no practitioner) for the site's total. The
//  practitioner's occupancy entry of a counted appointment or hold carries
//  that day after its type id, so giving it back takes off exactly what
//  taking it added, whatever changed in between (the site's zone, the
//  limit). 'N' type 0 -> the zone the counters were made in.

//  True when the type has a daily limit.
static bool
s_limited (const Pm__Scheduling__AppointmentType *t)
{
    return t && (t->max_per_day > 0 || t->site_max_per_day > 0);
}

//  The counter key of a type's day for a practitioner ("" = the site).
static void
s_day_key (pm_key_t *k, const char *type, const char *date, const char *who)
{
    pm_key_init (k, 'n');
    pm_key_str (k, type);
    pm_key_str (k, date);
    pm_key_str (k, who);
}

//  The count of a type's day for a practitioner ("" = the site).
static pm_err
s_day_count (MDB_txn *txn, const char *type, const char *date, const char *who,
             uint64_t *n)
{
    pm_key_t k;
    s_day_key (&k, type, date, who);
    MDB_val val;
    pm_err rc = pm_store_get (txn, sch_db.index, k.b, k.len, &val);
    *n = rc == PM_OK && val.mv_size == 8 ? pm_be64_get (val.mv_data) : 0;
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  One more (up) or one less on a counter; a count of 0 is no key.
static pm_err
s_day_add (MDB_txn *txn, const char *type, const char *date, const char *who, bool up)
{
    uint64_t n;
    pm_err rc = s_day_count (txn, type, date, who, &n);
    if (rc != PM_OK) {
        return rc;
    }
    n = up ? n + 1 : (n > 0 ? n - 1 : 0);
    pm_key_t k;
    s_day_key (&k, type, date, who);
    if (n == 0) {
        rc = pm_store_del (txn, sch_db.index, k.b, k.len);
        return rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    uint8_t val[8];
    pm_be64_put (val, n);
    return pm_store_put (txn, sch_db.index, k.b, k.len, val, 8, 0);
}

//  The practitioner's and the site's counters of a day, both.
static pm_err
s_day_bump (MDB_txn *txn, const char *type, const char *date, const char *practitioner,
            bool up)
{
    pm_err rc = s_day_add (txn, type, date, practitioner, up);
    return rc == PM_OK ? s_day_add (txn, type, date, "", up) : rc;
}

//  The type and counted day an occupancy value carries (type 0 date
//  after the be64), or false when it was not counted.
static bool
s_occ_day (const MDB_val *val, char *type, char *date)
{
    if (val->mv_size <= 8) {
        return false;
    }
    const char *tv = (const char *) val->mv_data + 8;
    size_t rest = val->mv_size - 8;
    const char *nul = memchr (tv, 0, rest);
    size_t tlen = nul ? (size_t) (nul - tv) : rest;
    if (!nul || tlen == 0 || tlen >= PM_ID_MAX || rest - tlen - 1 != SCH_DATE_LEN - 1) {
        return false;
    }
    memcpy (type, tv, tlen);
    type[tlen] = 0;
    memcpy (date, nul + 1, SCH_DATE_LEN - 1);
    date[SCH_DATE_LEN - 1] = 0;
    return true;
}

//  The practitioner's occupancy key of an owner at `start`.
static void
s_occ_key (pm_key_t *k, const char *practitioner, int64_t start, const char *owner)
{
    s_occ_prefix (k, practitioner);
    pm_key_u64 (k, (uint64_t) start);
    pm_key_str (k, owner);
}

//  True when `owner` (an appointment or a hold) counts on `date` for
//  `type`; its practitioner into who (PM_ID_MAX).
static bool
s_counted_on (MDB_txn *txn, const char *owner, const char *type, const char *date, char *who)
{
    bool apt = strncmp (owner, "apt_", 4) == 0;
    ProtobufCMessage *m = NULL;
    if (sch_load (txn, apt ? sch_db.appts : sch_db.holds, owner,
                  apt ? &pm__scheduling__appointment__descriptor
                      : &pm__scheduling__hold__descriptor, &m) != PM_OK) {
        return false;
    }
    const char *prac = apt ? ((Pm__Scheduling__Appointment *) m)->practitioner_id
                           : ((Pm__Scheduling__Hold *) m)->practitioner_id;
    int64_t start = apt ? ((Pm__Scheduling__Appointment *) m)->start
                        : ((Pm__Scheduling__Hold *) m)->start;
    snprintf (who, PM_ID_MAX, "%s", prac ? prac : "");
    protobuf_c_message_free_unpacked (m, NULL);
    pm_key_t k;
    s_occ_key (&k, who, start, owner);
    MDB_val val;
    char t[PM_ID_MAX], d[SCH_DATE_LEN];
    return pm_store_get (txn, sch_db.index, k.b, k.len, &val) == PM_OK && s_occ_day (&val, t, d)
           && strcmp (t, type) == 0 && strcmp (d, date) == 0;
}

//  The type's daily limits on the slot's local day: PM_OK or the refusal,
//  with *retry_at the next local midnight. An owner being moved (ignore)
//  that already counts on that day keeps its place there.
static pm_err
s_check_day (MDB_txn *txn, sch_slot_t *slot, int64_t *retry_at)
{
    const Pm__Scheduling__AppointmentType *t = slot->type;
    if (!s_limited (t)) {
        return PM_OK;
    }
    char date[SCH_DATE_LEN], who[PM_ID_MAX] = "";
    int64_t end;
    if (!sch_tz_day (slot->site->time_zone, slot->start, date, &end)) {
        return s_refuse (slot, PM_ECONFLICT, "type_id",
                         "site %s has no known time zone: the daily limits of %s cannot "
                         "be kept", slot->site->id, t->id);
    }
    bool mine = slot->ignore && s_counted_on (txn, slot->ignore, t->id, date, who);
    uint64_t n = 0;
    pm_err rc = PM_OK;
    if (t->max_per_day && !(mine && strcmp (who, slot->practitioner_id) == 0)) {
        rc = s_day_count (txn, t->id, date, slot->practitioner_id, &n);
        if (rc == PM_OK && n >= t->max_per_day) {
            *retry_at = end;
            return s_refuse (slot, PM_ECONFLICT, "start",
                             "%s already has %llu %s visits booked or held on %s: the type "
                             "allows %u a day per practitioner", slot->practitioner_id,
                             (unsigned long long) n, t->name, date, t->max_per_day);
        }
    }
    if (rc == PM_OK && t->site_max_per_day && !mine) {
        rc = s_day_count (txn, t->id, date, "", &n);
        if (rc == PM_OK && n >= t->site_max_per_day) {
            *retry_at = end;
            return s_refuse (slot, PM_ECONFLICT, "start",
                             "site %s already has %llu %s visits booked or held on %s: the "
                             "type allows %u a day at the site", slot->site->id,
                             (unsigned long long) n, t->name, date, t->site_max_per_day);
        }
    }
    return rc;
}

//  Counts an owner's existing occupancy (if it has one) on its local day
//  and marks its entry with that day.
static pm_err
s_count_existing (MDB_txn *txn, const char *zone, const char *practitioner, int64_t start,
                  const char *owner)
{
    pm_key_t k;
    s_occ_key (&k, practitioner, start, owner);
    MDB_val val;
    pm_err rc = pm_store_get (txn, sch_db.index, k.b, k.len, &val);
    if (rc == PM_ENOTFOUND) {
        return PM_OK; //  given back: it does not count
    }
    char date[SCH_DATE_LEN];
    if (rc != PM_OK || val.mv_size < 8 || !sch_tz_date (zone, start, date)) {
        return rc;
    }
    //  Copied out: the value is only valid until the next write.
    uint8_t out[8 + PM_ID_MAX + SCH_DATE_LEN];
    const uint8_t *tv = (const uint8_t *) val.mv_data + 8;
    const uint8_t *nul = memchr (tv, 0, val.mv_size - 8);
    size_t tlen = nul ? (size_t) (nul - tv) : val.mv_size - 8;
    if (tlen == 0 || tlen >= PM_ID_MAX) {
        return PM_OK;
    }
    char type[PM_ID_MAX];
    memcpy (type, tv, tlen);
    type[tlen] = 0;
    memcpy (out, val.mv_data, 8 + tlen);
    out[8 + tlen] = 0;
    memcpy (out + 9 + tlen, date, SCH_DATE_LEN - 1);
    rc = pm_store_put (txn, sch_db.index, k.b, k.len, out, 8 + tlen + SCH_DATE_LEN, 0);
    return rc == PM_OK ? s_day_bump (txn, type, date, practitioner, true) : rc;
}

//  --------------------------------------------------------------------------
//  Counts a type's days afresh (see scheduling_slots.h).
pm_err
sch_day_rebuild (MDB_txn *txn, const Pm__Scheduling__AppointmentType *t,
                 const Pm__Staffing__Site *site, int64_t from)
{
    pm_key_t k;
    pm_key_init (&k, 'n');
    pm_key_str (&k, t->id);
    pm_err rc = pm_key_drop (txn, sch_db.index, k.b, k.len);
    pm_key_init (&k, 'N');
    pm_key_str (&k, t->id);
    if (rc == PM_OK) {
        rc = pm_store_del (txn, sch_db.index, k.b, k.len);
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    if (rc != PM_OK || !s_limited (t) || !site || !site->time_zone) {
        return rc;
    }
    //  The owners that may count: the site's appointments from `from` on
    //  and every hold (few, short-lived). Collected first: counting
    //  writes to the index being read.
    size_t cap = 256, n = 0;
    char (*ids)[PM_ID_MAX] = malloc (cap * PM_ID_MAX);
    pm_key_t a;
    pm_key_init (&a, 'a');
    pm_key_str (&a, site->id);
    size_t plen = a.len;
    pm_key_u64 (&a, (uint64_t) (from > 0 ? from : 0));
    const uint8_t *prefixes[2] = {a.b, (const uint8_t *) "x"};
    size_t lens[2] = {plen, 1}, starts[2] = {a.len, 1};
    for (int p = 0; rc == PM_OK && p < 2; p++) {
        MDB_cursor *cur;
        int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
        if (mrc != 0) {
            rc = pm_err_from_mdb (mrc);
            break;
        }
        MDB_val key = {starts[p], (void *) prefixes[p]}, val;
        mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
        while (ids && mrc == 0 && key.mv_size > lens[p] + 8
               && memcmp (key.mv_data, prefixes[p], lens[p]) == 0) {
            if (n == cap) {
                cap *= 2;
                ids = realloc (ids, cap * PM_ID_MAX);
            }
            if (ids) {
                snprintf (ids[n++], PM_ID_MAX, "%s", (const char *) key.mv_data + lens[p] + 8);
            }
            mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close (cur);
    }
    if (!ids) {
        return PM_EINTERNAL;
    }
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        bool apt = strncmp (ids[i], "apt_", 4) == 0;
        ProtobufCMessage *m = NULL;
        if (sch_load (txn, apt ? sch_db.appts : sch_db.holds, ids[i],
                      apt ? &pm__scheduling__appointment__descriptor
                          : &pm__scheduling__hold__descriptor, &m) != PM_OK) {
            continue;
        }
        const char *type = apt ? ((Pm__Scheduling__Appointment *) m)->type_id
                               : ((Pm__Scheduling__Hold *) m)->type_id;
        const char *prac = apt ? ((Pm__Scheduling__Appointment *) m)->practitioner_id
                               : ((Pm__Scheduling__Hold *) m)->practitioner_id;
        int64_t start = apt ? ((Pm__Scheduling__Appointment *) m)->start
                            : ((Pm__Scheduling__Hold *) m)->start;
        if (type && prac && strcmp (type, t->id) == 0 && start >= from) {
            rc = s_count_existing (txn, site->time_zone, prac, start, ids[i]);
        }
        protobuf_c_message_free_unpacked (m, NULL);
    }
    free (ids);
    if (rc == PM_OK) {
        rc = pm_store_put (txn, sch_db.index, k.b, k.len, site->time_zone,
                           strlen (site->time_zone), 0);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Recounts the limited types of a site whose counters were made in
//  another zone (or not at all).
pm_err
sch_day_site_changed (MDB_txn *txn, const Pm__Staffing__Site *site, int64_t from)
{
    pm_key_t k;
    pm_key_init (&k, 't');
    pm_key_str (&k, site->id);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    char (*ids)[PM_ID_MAX] = NULL;
    size_t n = 0;
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < 1000 && key.mv_size > k.len && memcmp (key.mv_data, k.b, k.len) == 0) {
        char (*more)[PM_ID_MAX] = realloc (ids, (n + 1) * PM_ID_MAX);
        if (!more) {
            break;
        }
        ids = more;
        snprintf (ids[n++], PM_ID_MAX, "%s", (const char *) key.mv_data + k.len);
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        Pm__Scheduling__AppointmentType *t = NULL;
        if (sch_load (txn, sch_db.types, ids[i], &pm__scheduling__appointment_type__descriptor,
                      (ProtobufCMessage **) &t) != PM_OK) {
            continue;
        }
        if (s_limited (t)) {
            pm_key_init (&k, 'N');
            pm_key_str (&k, t->id);
            rc = pm_store_get (txn, sch_db.index, k.b, k.len, &val);
            bool same = rc == PM_OK && site->time_zone
                        && val.mv_size == strlen (site->time_zone)
                        && memcmp (val.mv_data, site->time_zone, val.mv_size) == 0;
            rc = rc == PM_ENOTFOUND ? PM_OK : rc;
            if (rc == PM_OK && !same) {
                rc = sch_day_rebuild (txn, t, site, from);
            }
        }
        pm__scheduling__appointment_type__free_unpacked (t, NULL);
    }
    free (ids);
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
        rc = s_check_day (txn, slot, retry_at);
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
    if (start <= 0 || start > SCH_TIME_MAX) {
        //  Bounded so that start + duration + buffer cannot overflow (F7).
        return pm_ctx_fail (ctx, PM_EINVAL, "start", "start: required, ms UTC before 10000");
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

//  One occupancy entry: be64 busy_until, the type id and, when `day` is
//  given (the practitioner's entry of a type with a daily limit), a NUL
//  and the local date it counts on.
static pm_err
s_occupy (MDB_txn *txn, const char *res, const sch_slot_t *slot, const char *owner,
          const char *day)
{
    pm_key_t k;
    s_occ_key (&k, res, slot->start, owner);
    uint8_t val[8 + PM_ID_MAX + SCH_DATE_LEN];
    size_t tlen = strlen (slot->type->id);
    tlen = tlen < PM_ID_MAX ? tlen : PM_ID_MAX - 1;
    pm_be64_put (val, (uint64_t) slot->busy_until);
    memcpy (val + 8, slot->type->id, tlen);
    size_t len = 8 + tlen;
    if (day && *day) {
        val[len++] = 0;
        memcpy (val + len, day, SCH_DATE_LEN - 1);
        len += SCH_DATE_LEN - 1;
    }
    return pm_store_put (txn, sch_db.index, k.b, k.len, val, len, 0);
}

//  --------------------------------------------------------------------------
//  Takes the practitioner, room and equipment, and a place on the day of
//  a type with a daily limit.
pm_err
sch_slot_take (MDB_txn *txn, const sch_slot_t *slot, const char *owner)
{
    char day[SCH_DATE_LEN] = "";
    if (slot->site && s_limited (slot->type)
        && !sch_tz_date (slot->site->time_zone, slot->start, day)) {
        day[0] = 0; //  an unknown zone was refused by the check
    }
    pm_err rc = s_occupy (txn, slot->practitioner_id, slot, owner, day);
    if (rc == PM_OK && day[0]) {
        rc = s_day_bump (txn, slot->type->id, day, slot->practitioner_id, true);
    }
    if (rc == PM_OK && slot->room_id[0]) {
        rc = s_occupy (txn, slot->room_id, slot, owner, NULL);
    }
    if (rc == PM_OK && slot->equipment_id[0]) {
        rc = s_occupy (txn, slot->equipment_id, slot, owner, NULL);
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
        pm_key_t k;
        s_occ_key (&k, res[i], start, owner);
        //  The practitioner's entry says which day's place to give back.
        char type[PM_ID_MAX], day[SCH_DATE_LEN];
        MDB_val val;
        bool counted = i == 0 && pm_store_get (txn, sch_db.index, k.b, k.len, &val) == PM_OK
                       && s_occ_day (&val, type, day);
        pm_err rc = pm_store_del (txn, sch_db.index, k.b, k.len);
        if (rc == PM_OK && counted) {
            rc = s_day_bump (txn, type, day, res[i], false);
        }
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
    pm_key_t k;
    pm_key_init (&k, 'w');
    pm_key_str (&k, slot->practitioner_id);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) (from > SCH_SHIFT_MAX_MS ? from - SCH_SHIFT_MAX_MS : 0));
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    //  Shifts are read first (the cursor is not kept across the checks).
    int64_t shifts[64][2];
    size_t n_shifts = 0;
    size_t slen = strlen (slot->site->id);
    MDB_val key = {k.len, k.b}, val;
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
        pm_key_t k;
        pm_key_init (&k, 's');
        pm_key_str (&k, type->site_id);
        MDB_cursor *cur;
        if (mdb_cursor_open (txn, sch_db.index, &cur) == 0) {
            MDB_val key = {k.len, k.b}, val;
            int mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
            while (mrc == 0 && n_who < 256 && key.mv_size > k.len
                   && memcmp (key.mv_data, k.b, k.len) == 0) {
                snprintf (who[n_who++], PM_ID_MAX, "%s", (const char *) key.mv_data + k.len);
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
