/*  scheduling_waitlist.c: the waitlist (see scheduling_waitlist.h).

    Store: entries live in the `appts` sub-database under their wle_ id
    (typed ids never collide with apt_), with two index entries:
      'v' site 0 type 0 be64 priority be64 created_at wle 0   waiting,
                                                              best first
      'V' site 0 wle 0                                        open (waiting
                                                              or offered)
    An offer is an ordinary hold carrying waitlist_entry_id; it lapses by
    the hold timer, and only AcceptOffer may book it.                     */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduling_appts.h"
#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"
#include "scheduling_tz.h"
#include "scheduling_waitlist.h"

typedef Pm__Scheduling__WaitlistEntry entry_t;

#define WL(x) PM__SCHEDULING__WAITLIST_STATUS__WAITLIST_##x

int64_t sch_offer_ms = 900000;

//  The waiting-order key of an entry.
static void
s_vkey (pm_key_t *k, const entry_t *e)
{
    pm_key_init (k, 'v');
    pm_key_str (k, e->site_id);
    pm_key_str (k, e->type_id);
    pm_key_u64 (k, e->priority);
    pm_key_u64 (k, (uint64_t) e->created_at);
    pm_key_str (k, e->id);
}

//  The open-entries key of an entry.
static void
s_okey (pm_key_t *k, const entry_t *e)
{
    pm_key_init (k, 'V');
    pm_key_str (k, e->site_id);
    pm_key_str (k, e->id);
}

//  Puts or deletes an index key.
static pm_err
s_index (MDB_txn *txn, const pm_key_t *k, bool put)
{
    if (put) {
        return pm_store_put (txn, sch_db.index, k->b, k->len, "", 0, 0);
    }
    pm_err rc = pm_store_del (txn, sch_db.index, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  Saves an entry (version +1) and emits `event`.
static pm_err
s_save (pm_ctx_t *ctx, entry_t *e, const char *event)
{
    e->has_version = e->has_updated_at = true;
    e->version++;
    e->updated_at = pm_ctx_now (ctx);
    pm_ctx_audit (ctx, e->id, e->site_id);
    pm_err rc = sch_save (pm_ctx_txn (ctx), sch_db.appts, e->id, &e->base);
    return rc == PM_OK ? pm_ctx_emit (ctx, event, e->site_id, e->id, &e->base) : rc;
}

//  "HH:MM" valid.
static bool
s_hhmm_valid (const char *s)
{
    return s && strlen (s) == 5 && s[2] == ':' && s[0] >= '0' && s[0] <= '2' && s[1] >= '0'
           && s[1] <= '9' && s[3] >= '0' && s[3] <= '5' && s[4] >= '0' && s[4] <= '9'
           && strcmp (s, "24:00") <= 0;
}

//  The passed-slot mark of a practitioner and start.
static void
s_mark (char *out, size_t len, const char *practitioner, int64_t start)
{
    snprintf (out, len, "%s@%lld", practitioner, (long long) start);
}

//  True when `e` wants the slot of `practitioner` at `start`.
static bool
s_matches (const entry_t *e, const char *zone, const char *practitioner, int64_t start)
{
    if (e->practitioner_id && *e->practitioner_id
        && strcmp (e->practitioner_id, practitioner) != 0) {
        return false;
    }
    if (start < e->earliest || start > e->latest) {
        return false;
    }
    if (e->day_from && *e->day_from) {
        char date[SCH_DATE_LEN], hhmm[8];
        int64_t midnight;
        if (!sch_tz_date (zone, start, date) || !sch_tz_midnight (zone, date, &midnight)) {
            return false;
        }
        //  Wall-clock minutes since local midnight (DST days included).
        int64_t secs = 0;
        sch_tz_local_delta (zone, midnight, start, &secs);
        snprintf (hhmm, sizeof hhmm, "%02lld:%02lld", (long long) (secs / 3600),
                  (long long) (secs / 60 % 60));
        if (strcmp (hhmm, e->day_from) < 0 || strcmp (hhmm, e->day_to) >= 0) {
            return false;
        }
    }
    char mark[PM_ID_MAX + 32];
    s_mark (mark, sizeof mark, practitioner, start);
    for (size_t i = 0; i < e->n_passed; i++) {
        if (strcmp (e->passed[i], mark) == 0) {
            return false;
        }
    }
    return true;
}

//  Offers the slot to `e`: a hold for it, the entry offered. PM_ECONFLICT
//  (quietly) when the slot is not free for the type.
static pm_err
s_offer_to (pm_ctx_t *ctx, entry_t *e, const Pm__Scheduling__AppointmentType *type,
            const char *practitioner, int64_t start)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Site *site = NULL;
    sch_slot_t slot = {0};
    pm_err rc = sch_slot_prepare (ctx, &slot, type, practitioner, start, &site);
    if (rc == PM_OK) {
        rc = sch_slot_check (txn, &slot);
    }
    if (rc != PM_OK) {
        pm__staffing__site__free_unpacked (site, NULL);
        return rc == PM_ECONFLICT || rc == PM_EINVAL || rc == PM_ENOTFOUND ? PM_ECONFLICT : rc;
    }
    char id[PM_ID_MAX];
    pm_id_new ("hld", pm_ctx_now (ctx), id);
    Pm__Scheduling__Hold h = PM__SCHEDULING__HOLD__INIT;
    h.id = id;
    h.type_id = type->id;
    h.site_id = type->site_id;
    h.practitioner_id = (char *) practitioner;
    h.room_id = slot.room_id[0] ? slot.room_id : NULL;
    h.equipment_id = slot.equipment_id[0] ? slot.equipment_id : NULL;
    h.has_start = h.has_end = h.has_expires_at = 1;
    h.start = slot.start;
    h.end = slot.end;
    h.expires_at = pm_ctx_now (ctx) + sch_offer_ms;
    h.patient_id = e->patient_id;
    h.created_by = "scheduling";
    h.waitlist_entry_id = e->id;
    pm_key_t k;
    pm_key_init (&k, 'x');
    pm_key_u64 (&k, (uint64_t) h.expires_at);
    pm_key_str (&k, id);
    rc = sch_slot_take (txn, &slot, id);
    //  The slot points at the site until it is taken (its day counted).
    pm__staffing__site__free_unpacked (site, NULL);
    slot.site = NULL;
    if (rc == PM_OK) {
        rc = s_index (txn, &k, true);
    }
    if (rc == PM_OK) {
        rc = sch_save (txn, sch_db.holds, id, &h.base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "scheduling.hold.placed", h.site_id, id, &h.base);
    }
    if (rc == PM_OK) {
        s_vkey (&k, e);
        rc = s_index (txn, &k, false);
    }
    if (rc == PM_OK) {
        e->status = WL (OFFERED);
        e->offer_hold_id = id;
        e->has_offer_start = e->has_offer_expires_at = true;
        e->offer_start = h.start;
        e->offer_practitioner_id = (char *) practitioner;
        e->offer_expires_at = h.expires_at;
        rc = s_save (ctx, e, "scheduling.waitlist.offered");
        //  Fields pointing at this function's memory are cleared before
        //  the caller frees the entry.
        e->offer_hold_id = NULL;
        e->offer_practitioner_id = NULL;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  A freed slot to the best matching waiting entry.
pm_err
sch_waitlist_offer (pm_ctx_t *ctx, const char *type_id, const char *practitioner,
                    int64_t start)
{
    if (start <= pm_ctx_now (ctx)) {
        return PM_OK; //  a slot in the past helps nobody
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Scheduling__AppointmentType *type = NULL;
    if (sch_load (txn, sch_db.types, type_id, &pm__scheduling__appointment_type__descriptor,
                  (ProtobufCMessage **) &type) != PM_OK) {
        return PM_OK;
    }
    Pm__Staffing__Site *site = NULL;
    sch_load (txn, sch_db.sites, type->site_id, &pm__staffing__site__descriptor,
              (ProtobufCMessage **) &site);
    const char *zone = site && site->time_zone ? site->time_zone : "UTC";
    pm_key_t k;
    pm_key_init (&k, 'v');
    pm_key_str (&k, type->site_id);
    pm_key_str (&k, type->id);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    pm_err rc = mrc ? pm_err_from_mdb (mrc) : PM_OK;
    //  Candidates are collected first: offering writes to the index.
    char (*ids)[PM_ID_MAX] = NULL;
    size_t n = 0;
    if (rc == PM_OK) {
        MDB_val key = {k.len, k.b}, val;
        mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
        while (mrc == 0 && n < 1000 && key.mv_size > k.len + 16
               && memcmp (key.mv_data, k.b, k.len) == 0) {
            ids = realloc (ids, (n + 1) * sizeof *ids);
            snprintf (ids[n++], PM_ID_MAX, "%s", (const char *) key.mv_data + k.len + 16);
            mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close (cur);
    }
    bool offered = false;
    for (size_t i = 0; rc == PM_OK && !offered && i < n; i++) {
        entry_t *e = NULL;
        rc = sch_load (txn, sch_db.appts, ids[i], &pm__scheduling__waitlist_entry__descriptor,
                       (ProtobufCMessage **) &e);
        if (rc == PM_OK && e->status == WL (WAITING) && s_matches (e, zone, practitioner, start)) {
            rc = s_offer_to (ctx, e, type, practitioner, start);
            offered = rc == PM_OK;
            rc = rc == PM_ECONFLICT ? PM_OK : rc;
            //  The slot does not fit this type now: nobody else can have it.
            if (!offered) {
                i = n;
            }
        }
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
        if (e) {
            pm__scheduling__waitlist_entry__free_unpacked (e, NULL);
        }
    }
    free (ids);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  An offer ended unbooked: back to waiting, the slot to the next.
pm_err
sch_waitlist_hold_ended (pm_ctx_t *ctx, const Pm__Scheduling__Hold *h, const char *why)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    entry_t *e = NULL;
    pm_err rc = sch_load (txn, sch_db.appts, h->waitlist_entry_id,
                          &pm__scheduling__waitlist_entry__descriptor, (ProtobufCMessage **) &e);
    rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    if (rc == PM_OK && e && e->status == WL (OFFERED) && e->offer_hold_id
        && strcmp (e->offer_hold_id, h->id) == 0) {
        char mark[PM_ID_MAX + 32];
        s_mark (mark, sizeof mark, h->practitioner_id, h->start);
        e->passed = realloc (e->passed, (e->n_passed + 1) * sizeof *e->passed);
        e->passed[e->n_passed++] = strdup (mark);
        free (e->offer_hold_id);
        free (e->offer_practitioner_id);
        e->offer_hold_id = e->offer_practitioner_id = NULL;
        e->has_offer_start = e->has_offer_expires_at = false;
        bool removing = strcmp (why, "scheduling.waitlist.removed") == 0;
        e->status = removing ? WL (REMOVED) : WL (WAITING);
        pm_key_t k;
        if (!removing) {
            s_vkey (&k, e);
            rc = s_index (txn, &k, true);
            if (rc == PM_OK) {
                rc = s_save (ctx, e, why);
            }
        }
    }
    //  The slot is free now whatever became of the entry: one removed
    //  after its offer's time was up (but before the timer ended the
    //  hold) must not take the slot from the next in line.
    if (rc == PM_OK) {
        rc = sch_waitlist_offer (ctx, h->type_id, h->practitioner_id, h->start);
    }
    pm__scheduling__waitlist_entry__free_unpacked (e, NULL);
    return rc;
}

//  Loads an open entry for a command, with scope.
static pm_err
s_load (pm_ctx_t *ctx, const char *id, entry_t **out)
{
    *out = NULL;
    if (!id || !pm_id_valid (id, "wle")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "entry_id", "entry_id: a waitlist entry id (wle_...)");
    }
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.appts, id,
                          &pm__scheduling__waitlist_entry__descriptor, (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, "entry_id", "entry_id: no entry %s", id);
    }
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, id, (*out)->site_id);
        rc = sch_site_access (ctx, (*out)->site_id, "entry_id");
    }
    if (rc != PM_OK && *out) {
        pm__scheduling__waitlist_entry__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.AddToWaitlist.
pm_err
sch_waitlist_add (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__AddToWaitlist *req = (const Pm__Scheduling__AddToWaitlist *) body;
    const entry_t *in = req ? req->entry : NULL;
    if (!in) {
        return pm_ctx_fail (ctx, PM_EINVAL, "entry", "entry is required");
    }
    char patient[PM_ID_MAX];
    Pm__Scheduling__AppointmentType *type = NULL;
    pm_err rc = sch_type_load (ctx, in->type_id, "entry.type_id", &type);
    if (rc == PM_OK) {
        rc = sch_site_access (ctx, type->site_id, "entry.type_id");
    }
    if (rc == PM_OK) {
        rc = sch_appt_patient (ctx, in->patient_id, "entry.patient_id", patient);
    }
    int64_t earliest = in->earliest > pm_ctx_now (ctx) ? in->earliest : pm_ctx_now (ctx);
    bool from = in->day_from && *in->day_from, to = in->day_to && *in->day_to;
    MDB_val found;
    if (rc != PM_OK) {
        ;
    }
    else if (in->practitioner_id && *in->practitioner_id
             && pm_store_get (pm_ctx_txn (ctx), sch_db.staff, in->practitioner_id,
                              strlen (in->practitioner_id), &found) == PM_ENOTFOUND) {
        rc = pm_ctx_fail (ctx, PM_ENOTFOUND, "entry.practitioner_id",
                          "entry.practitioner_id: no practitioner %.64s", in->practitioner_id);
    }
    else if (in->latest <= earliest) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "entry.latest",
                          "entry.latest: after earliest (and now)");
    }
    else if (from != to || (from && (!s_hhmm_valid (in->day_from) || !s_hhmm_valid (in->day_to)
                                     || strcmp (in->day_from, in->day_to) >= 0))) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "entry.day_from",
                          "entry.day_from: with day_to, both HH:MM, day_from before day_to");
    }
    else if (in->has_priority && (in->priority < 1 || in->priority > 9)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "entry.priority", "entry.priority: 1..9");
    }
    if (rc == PM_OK) {
        char id[PM_ID_MAX];
        pm_id_new ("wle", pm_ctx_now (ctx), id);
        entry_t e = PM__SCHEDULING__WAITLIST_ENTRY__INIT;
        e.id = id;
        e.patient_id = patient;
        e.type_id = type->id;
        e.site_id = type->site_id;
        e.practitioner_id = in->practitioner_id && *in->practitioner_id ? in->practitioner_id
                                                                        : NULL;
        e.has_earliest = e.has_latest = e.has_priority = e.has_status = e.has_created_at = 1;
        e.earliest = earliest;
        e.latest = in->latest;
        e.day_from = from ? in->day_from : NULL;
        e.day_to = to ? in->day_to : NULL;
        e.priority = in->has_priority ? in->priority : 5;
        e.status = WL (WAITING);
        e.created_at = pm_ctx_now (ctx);
        e.created_by = (char *) sch_actor (ctx);
        pm_key_t k;
        s_vkey (&k, &e);
        rc = s_index (pm_ctx_txn (ctx), &k, true);
        s_okey (&k, &e);
        rc = rc == PM_OK ? s_index (pm_ctx_txn (ctx), &k, true) : rc;
        rc = rc == PM_OK ? s_save (ctx, &e, "scheduling.waitlist.added") : rc;
        rc = rc == PM_OK ? pm_ctx_reply (ctx, &e.base) : rc;
    }
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  Ends the entry's offer hold (released), for accept, decline, remove.
static pm_err
s_end_offer (pm_ctx_t *ctx, entry_t *e, Pm__Scheduling__Hold **out)
{
    *out = NULL;
    if (e->status != WL (OFFERED)) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "entry_id", "%s has no open offer", e->id);
    }
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.holds, e->offer_hold_id,
                          &pm__scheduling__hold__descriptor, (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND || (rc == PM_OK && (*out)->expires_at <= pm_ctx_now (ctx))) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "entry_id", "%s: the offer has lapsed", e->id);
    }
    return rc == PM_OK ? sch_hold_end (ctx, *out, "scheduling.hold.released") : rc;
}

//  --------------------------------------------------------------------------
//  scheduling.AcceptOffer: books the offered slot for the entry's patient.
pm_err
sch_waitlist_accept (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__WaitlistAction *req = (const Pm__Scheduling__WaitlistAction *) body;
    entry_t *e = NULL;
    pm_err rc = s_load (ctx, req ? req->entry_id : NULL, &e);
    Pm__Scheduling__Hold *h = NULL;
    if (rc == PM_OK) {
        rc = s_end_offer (ctx, e, &h);
    }
    if (rc == PM_OK) {
        //  The hold is gone in this transaction, so its slot is free for
        //  exactly this booking (nothing else runs in between).
        Pm__Scheduling__Book book = PM__SCHEDULING__BOOK__INIT;
        book.patient_id = e->patient_id;
        book.type_id = h->type_id;
        book.practitioner_id = h->practitioner_id;
        book.has_start = 1;
        book.start = h->start;
        book.room_id = h->room_id;
        book.equipment_id = h->equipment_id;
        rc = sch_book (ctx, &book.base);
    }
    if (rc == PM_OK) {
        pm_key_t k;
        s_okey (&k, e);
        rc = s_index (pm_ctx_txn (ctx), &k, false);
        e->status = WL (BOOKED);
        rc = rc == PM_OK ? s_save (ctx, e, "scheduling.waitlist.booked") : rc;
    }
    pm__scheduling__hold__free_unpacked (h, NULL);
    pm__scheduling__waitlist_entry__free_unpacked (e, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.DeclineOffer: back to waiting; the slot to the next.
pm_err
sch_waitlist_decline (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__WaitlistAction *req = (const Pm__Scheduling__WaitlistAction *) body;
    entry_t *e = NULL;
    pm_err rc = s_load (ctx, req ? req->entry_id : NULL, &e);
    Pm__Scheduling__Hold *h = NULL;
    if (rc == PM_OK) {
        rc = s_end_offer (ctx, e, &h);
    }
    if (rc == PM_OK) {
        rc = sch_waitlist_hold_ended (ctx, h, "scheduling.waitlist.declined");
    }
    pm__scheduling__waitlist_entry__free_unpacked (e, NULL);
    e = NULL;
    if (rc == PM_OK) {
        rc = s_load (ctx, req->entry_id, &e);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &e->base);
    }
    pm__scheduling__hold__free_unpacked (h, NULL);
    pm__scheduling__waitlist_entry__free_unpacked (e, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.RemoveFromWaitlist: off the list (an open offer passed on).
pm_err
sch_waitlist_remove (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__WaitlistAction *req = (const Pm__Scheduling__WaitlistAction *) body;
    entry_t *e = NULL;
    pm_err rc = s_load (ctx, req ? req->entry_id : NULL, &e);
    if (rc == PM_OK) {
        rc = sch_check_reason (ctx, "reason", req->reason);
    }
    if (rc == PM_OK && e->status != WL (WAITING) && e->status != WL (OFFERED)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "entry_id", "%s is no longer on the list", e->id);
    }
    Pm__Scheduling__Hold *h = NULL;
    pm_key_t k;
    if (rc == PM_OK && e->status == WL (OFFERED)) {
        rc = s_end_offer (ctx, e, &h);
        //  A lapsed offer is simply dropped.
        rc = rc == PM_ECONFLICT ? PM_OK : rc;
    }
    if (rc == PM_OK) {
        s_vkey (&k, e);
        rc = s_index (pm_ctx_txn (ctx), &k, false);
        s_okey (&k, e);
        rc = rc == PM_OK ? s_index (pm_ctx_txn (ctx), &k, false) : rc;
    }
    if (rc == PM_OK) {
        e->status = WL (REMOVED);
        e->reason = strdup (req->reason);
        free (e->offer_hold_id);
        e->offer_hold_id = NULL;
        rc = s_save (ctx, e, "scheduling.waitlist.removed");
    }
    if (rc == PM_OK && h) {
        rc = sch_waitlist_offer (ctx, h->type_id, h->practitioner_id, h->start);
    }
    rc = rc == PM_OK ? pm_ctx_reply (ctx, &e->base) : rc;
    pm__scheduling__hold__free_unpacked (h, NULL);
    pm__scheduling__waitlist_entry__free_unpacked (e, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.ListWaitlist: a site's open entries.
pm_err
sch_waitlist_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ListWaitlist *req = (const Pm__Scheduling__ListWaitlist *) body;
    if (!req || !req->site_id || !*req->site_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id", "site_id is required");
    }
    pm_err rc = sch_site_access (ctx, req->site_id, "site_id");
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 'V');
    pm_key_str (&k, req->site_id);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    entry_t **items = NULL;
    size_t n = 0;
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && n < 1000 && key.mv_size > k.len
           && memcmp (key.mv_data, k.b, k.len) == 0) {
        entry_t *e = NULL;
        rc = sch_load (txn, sch_db.appts, (const char *) key.mv_data + k.len,
                       &pm__scheduling__waitlist_entry__descriptor, (ProtobufCMessage **) &e);
        if (rc == PM_OK) {
            pm_ctx_audit (ctx, e->id, e->site_id);
            items = realloc (items, (n + 1) * sizeof *items);
            items[n++] = e;
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    if (rc == PM_OK) {
        Pm__Scheduling__Waitlist out = PM__SCHEDULING__WAITLIST__INIT;
        out.n_entries = n;
        out.entries = items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < n; i++) {
        pm__scheduling__waitlist_entry__free_unpacked (items[i], NULL);
    }
    free (items);
    return rc;
}
