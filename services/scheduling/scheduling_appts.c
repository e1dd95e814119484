/*  scheduling_appts.c: booking, the lifecycle, reschedule, lists, holds
    and the timed work (see scheduling_appts.h; store layout in
    scheduling_store.h; availability in scheduling_slots.c).

    Transitions (FHIR Appointment, features.md s.4.1):
      booked     -> arrived, checked-in, cancelled, noshow, entered-in-error
      arrived    -> checked-in, fulfilled, cancelled, entered-in-error
      checked-in -> fulfilled, cancelled, entered-in-error
      fulfilled, cancelled, noshow -> entered-in-error
      entered-in-error: final
    A practice manager's Reset takes noshow back to booked or arrived and
    fulfilled or cancelled back to booked. Cancelled, noshow and
    entered-in-error give the practitioner, room and equipment back; a
    reset that takes them again checks them again.                        */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scheduling_appts.h"
#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"
#include "scheduling_tz.h"
#include "scheduling_waitlist.h"

typedef Pm__Scheduling__Appointment appt_t;
typedef Pm__Scheduling__AppointmentStatus status_t;

#define ST(x) PM__SCHEDULING__APPOINTMENT_STATUS__APPOINTMENT_##x
#define TICK_BATCH 500 //  records the timer handles per run at most

//  The FHIR code of a status.
static const char *
s_name (status_t s)
{
    switch (s) {
    case ST (PROPOSED): return "proposed";
    case ST (PENDING): return "pending";
    case ST (BOOKED): return "booked";
    case ST (ARRIVED): return "arrived";
    case ST (FULFILLED): return "fulfilled";
    case ST (CANCELLED): return "cancelled";
    case ST (NOSHOW): return "noshow";
    case ST (ENTERED_IN_ERROR): return "entered-in-error";
    case ST (CHECKED_IN): return "checked-in";
    case ST (WAITLIST): return "waitlist";
    default: return "unset";
    }
}

//  The statuses reachable from `from` by an ordinary transition.
static const status_t *
s_next (status_t from, size_t *n)
{
    static const status_t booked[] = {ST (ARRIVED), ST (CHECKED_IN), ST (CANCELLED),
                                      ST (NOSHOW), ST (ENTERED_IN_ERROR)};
    static const status_t arrived[] = {ST (CHECKED_IN), ST (FULFILLED), ST (CANCELLED),
                                       ST (ENTERED_IN_ERROR)};
    static const status_t checked_in[] = {ST (FULFILLED), ST (CANCELLED),
                                          ST (ENTERED_IN_ERROR)};
    static const status_t done[] = {ST (ENTERED_IN_ERROR)};
    switch (from) {
    case ST (BOOKED): *n = 5; return booked;
    case ST (ARRIVED): *n = 4; return arrived;
    case ST (CHECKED_IN): *n = 3; return checked_in;
    case ST (FULFILLED):
    case ST (CANCELLED):
    case ST (NOSHOW): *n = 1; return done;
    default: *n = 0; return NULL;
    }
}

//  True while the appointment keeps its practitioner, room and equipment.
static bool
s_holds_resources (status_t s)
{
    return s == ST (BOOKED) || s == ST (ARRIVED) || s == ST (CHECKED_IN)
           || s == ST (FULFILLED);
}

//  The 'a' (site, start) or 'b' (booked, by start) key of an appointment.
static void
s_key (pm_key_t *k, char tag, const appt_t *a)
{
    pm_key_init (k, tag);
    if (tag == 'a') {
        pm_key_str (k, a->site_id);
    }
    pm_key_u64 (k, (uint64_t) a->start);
    pm_key_str (k, a->id);
}

//  Puts or deletes an empty-valued index key.
static pm_err
s_index (MDB_txn *txn, const pm_key_t *k, bool put)
{
    if (put) {
        return pm_store_put (txn, sch_db.index, k->b, k->len, "", 0, 0);
    }
    pm_err rc = pm_store_del (txn, sch_db.index, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  Follows a patient id through merges to the living record; refuses an
//  unknown or inactive patient on `field`.
static pm_err
s_patient (pm_ctx_t *ctx, const char *id, const char *field, char *out)
{
    if (!id || !pm_id_valid (id, "pat")) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: a patient id (pat_...) is required",
                            field);
    }
    char cur[PM_ID_MAX];
    snprintf (cur, sizeof cur, "%s", id);
    for (int hop = 0; hop < 8; hop++) {
        Pm__Scheduling__PatientRef *p = NULL;
        pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.patients, cur,
                              &pm__scheduling__patient_ref__descriptor,
                              (ProtobufCMessage **) &p);
        if (rc == PM_ENOTFOUND) {
            return pm_ctx_fail (ctx, PM_ENOTFOUND, field,
                                "%s: no patient %s known from the patients service", field,
                                cur);
        }
        if (rc != PM_OK) {
            return rc;
        }
        if (p->replaced_by && *p->replaced_by) {
            snprintf (cur, sizeof cur, "%s", p->replaced_by);
            pm__scheduling__patient_ref__free_unpacked (p, NULL);
            continue;
        }
        bool active = p->active;
        pm__scheduling__patient_ref__free_unpacked (p, NULL);
        if (!active) {
            return pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: patient %s is inactive", field,
                                cur);
        }
        snprintf (out, PM_ID_MAX, "%s", cur);
        return PM_OK;
    }
    return pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: merge links of %s go on too long",
                        field, id);
}

//  Refuses on the slot's field with its reason.
static pm_err
s_slot_fail (pm_ctx_t *ctx, sch_slot_t *slot, pm_err rc)
{
    if (slot->reason[0]) {
        return pm_ctx_fail (ctx, rc, slot->field, "%s", slot->reason);
    }
    return rc;
}

//  True while an appointment is still to happen or under way.
static bool
s_live (status_t s)
{
    return s == ST (BOOKED) || s == ST (ARRIVED) || s == ST (CHECKED_IN);
}

//  Saves `a` one version on, keeps its patient ('p' patient 0 apt) and
//  at-risk ('k' site 0 apt -> be64 start) entries, emits `event` with the
//  full new state and replies with it when a request asked.
static pm_err
s_store_emit (pm_ctx_t *ctx, appt_t *a, const char *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    a->has_version = a->has_updated_at = 1;
    a->version++;
    a->updated_at = pm_ctx_now (ctx);
    pm_key_t k;
    pm_key_init (&k, 'p');
    pm_key_str (&k, a->patient_id);
    pm_key_str (&k, a->id);
    pm_err rc = s_index (txn, &k, true);
    pm_key_init (&k, 'k');
    pm_key_str (&k, a->site_id);
    pm_key_str (&k, a->id);
    if (rc == PM_OK && s_live (a->status) && a->n_risks > 0) {
        uint8_t val[8];
        pm_be64_put (val, (uint64_t) a->start);
        rc = pm_store_put (txn, sch_db.index, k.b, k.len, val, 8, 0);
    }
    else if (rc == PM_OK && a->version > 1) {
        rc = s_index (txn, &k, false); //  a new appointment has no entry
    }
    if (rc == PM_OK) {
        rc = pm_ctx_save_record (ctx, sch_db.appts, a->id, strlen (a->id), &a->base, event,
                                 a->site_id, a->id);
    }
    return rc;
}

//  Saves `a` with one more history entry (status `to`), emits `event`
//  with the full new state and replies with it.
static pm_err
s_commit (pm_ctx_t *ctx, appt_t *a, status_t to, const char *reason, const char *event)
{
    int64_t now = pm_ctx_now (ctx);
    Pm__Scheduling__StatusChange change = PM__SCHEDULING__STATUS_CHANGE__INIT;
    a->has_updated_at = 1;
    change.has_status = change.has_at = change.has_start = change.has_end = 1;
    change.status = to;
    change.at = now;
    change.actor = (char *) sch_actor (ctx);
    change.reason = (char *) reason;
    change.start = a->start;
    change.end = a->end;
    change.practitioner_id = a->practitioner_id;
    Pm__Scheduling__StatusChange **old = a->history;
    char *old_reason = a->status_reason;
    Pm__Scheduling__StatusChange **hist = malloc ((a->n_history + 1) * sizeof *hist);
    if (!hist) {
        return PM_EINTERNAL;
    }
    if (a->n_history) {
        memcpy (hist, old, a->n_history * sizeof *hist);
    }
    hist[a->n_history] = &change;
    a->history = hist;
    a->n_history++;
    a->has_status = 1;
    a->status = to;
    if (reason) {
        a->status_reason = (char *) reason;
    }
    size_t n_risks = a->n_risks;
    if (strcmp (event, "scheduling.appointment.rescheduled") == 0) {
        a->n_risks = 0; //  checked again in full: its old risks are gone
    }
    char *old_stream = a->checked_stream;
    const char *stream;
    uint64_t seq;
    if (to == ST (BOOKED) && pm_ctx_follow_position (ctx, "staffing", &stream, &seq)) {
        //  What this booking check saw of staffing (see s_saw_event).
        a->checked_stream = (char *) stream;
        a->has_checked_seq = 1;
        a->checked_seq = seq;
    }
    pm_err rc = s_store_emit (ctx, a, event);
    a->checked_stream = old_stream;
    a->n_risks = n_risks;
    //  The unpacked message owns its own array and strings: put them back.
    a->n_history--;
    a->history = old;
    free (hist);
    a->status_reason = old_reason;
    return rc;
}

//  Loads an appointment for `field` with access check and audit.
static pm_err
s_load (pm_ctx_t *ctx, const char *id, const char *field, appt_t **out)
{
    *out = NULL;
    if (!id || !pm_id_valid (id, "apt")) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: an appointment id (apt_...) is required",
                            field);
    }
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.appts, id,
                          &pm__scheduling__appointment__descriptor, (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, field, "%s: no appointment %s", field, id);
    }
    if (rc == PM_OK) {
        rc = sch_appt_access (ctx, *out, field);
    }
    if (rc != PM_OK) {
        pm__scheduling__appointment__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

//  Frees an appointment whose status_reason may have been borrowed.
static void
s_free (appt_t *a)
{
    pm__scheduling__appointment__free_unpacked (a, NULL);
}

//  Takes a hold's place: checks it fits the booking and gives its
//  resources back (the booking takes them again in the same txn).
static pm_err
s_use_hold (pm_ctx_t *ctx, const char *hold_id, const Pm__Scheduling__Book *req,
            sch_slot_t *slot)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Scheduling__Hold *h = NULL;
    pm_err rc = sch_load (txn, sch_db.holds, hold_id, &pm__scheduling__hold__descriptor,
                          (ProtobufCMessage **) &h);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, "hold_id",
                            "hold_id: no hold %.64s (it lapsed or was used)", hold_id);
    }
    if (rc != PM_OK) {
        return rc;
    }
    if (h->expires_at <= pm_ctx_now (ctx)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "hold_id", "hold_id: %s has lapsed", h->id);
    }
    else if (h->waitlist_entry_id && *h->waitlist_entry_id) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "hold_id",
                          "hold_id: %s is offered to waitlist entry %s (scheduling.AcceptOffer)",
                          h->id, h->waitlist_entry_id);
    }
    else if (strcmp (h->type_id, req->type_id) != 0
             || strcmp (h->practitioner_id, req->practitioner_id) != 0
             || h->start != req->start) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "hold_id",
                          "hold_id: %s holds another slot (type, practitioner or start differ)",
                          h->id);
    }
    if (rc == PM_OK) {
        snprintf (slot->room_id, PM_ID_MAX, "%s", h->room_id ? h->room_id : "");
        snprintf (slot->equipment_id, PM_ID_MAX, "%s", h->equipment_id ? h->equipment_id : "");
        rc = sch_slot_give_back (txn, h->id, h->start, h->practitioner_id, h->room_id,
                                 h->equipment_id);
    }
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, 'x');
        pm_key_u64 (&k, (uint64_t) h->expires_at);
        pm_key_str (&k, h->id);
        rc = s_index (txn, &k, false);
    }
    if (rc == PM_OK) {
        rc = pm_store_del (txn, sch_db.holds, h->id, strlen (h->id));
    }
    pm__scheduling__hold__free_unpacked (h, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.Book: practitioner, room and equipment in one transaction.
pm_err
sch_book (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__Book *req = (const Pm__Scheduling__Book *) body;
    if (!req) {
        return pm_ctx_fail (ctx, PM_EINVAL, "patient_id", "patient_id is required");
    }
    char patient[PM_ID_MAX];
    pm_err rc = s_patient (ctx, req->patient_id, "patient_id", patient);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Scheduling__AppointmentType *type = NULL;
    rc = sch_type_load (ctx, req->type_id, "type_id", &type);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Staffing__Site *site = NULL;
    sch_slot_t slot = {0};
    rc = sch_site_access (ctx, type->site_id, "type_id");
    if (rc == PM_OK && type->has_active && !type->active) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "type_id", "type_id: %s is retired", type->id);
    }
    if (rc == PM_OK && req->start < pm_ctx_now (ctx)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: in the past");
    }
    if (rc == PM_OK) {
        rc = sch_slot_prepare (ctx, &slot, type, req->practitioner_id, req->start, &site);
    }
    if (rc == PM_OK) {
        snprintf (slot.room_id, PM_ID_MAX, "%s", req->room_id ? req->room_id : "");
        snprintf (slot.equipment_id, PM_ID_MAX, "%s", req->equipment_id ? req->equipment_id : "");
        if (req->hold_id && *req->hold_id) {
            rc = s_use_hold (ctx, req->hold_id, req, &slot);
        }
    }
    if (rc == PM_OK) {
        rc = sch_slot_check (pm_ctx_txn (ctx), &slot);
        rc = rc == PM_OK ? rc : s_slot_fail (ctx, &slot, rc);
    }
    char id[PM_ID_MAX];
    pm_id_new ("apt", pm_ctx_now (ctx), id);
    if (rc == PM_OK) {
        rc = sch_slot_take (pm_ctx_txn (ctx), &slot, id);
    }
    if (rc == PM_OK) {
        appt_t a = PM__SCHEDULING__APPOINTMENT__INIT;
        a.id = id;
        a.patient_id = patient;
        a.practitioner_id = (char *) req->practitioner_id;
        a.site_id = type->site_id;
        a.type_id = type->id;
        a.has_start = a.has_end = a.has_created_at = a.has_telehealth = 1;
        a.has_buffer_minutes = 1;
        a.start = slot.start;
        a.end = slot.end;
        a.room_id = slot.room_id[0] ? slot.room_id : NULL;
        a.equipment_id = slot.equipment_id[0] ? slot.equipment_id : NULL;
        a.price_code = type->price_code;
        a.telehealth = type->telehealth;
        a.buffer_minutes = type->buffer_minutes;
        a.created_at = pm_ctx_now (ctx);
        a.created_by = (char *) sch_actor (ctx);
        a.hold_id = req->hold_id && *req->hold_id ? req->hold_id : NULL;
        if (strcmp (patient, req->patient_id) != 0) {
            a.requested_patient_id = req->patient_id;
        }
        pm_key_t k;
        s_key (&k, 'a', &a);
        rc = s_index (pm_ctx_txn (ctx), &k, true);
        s_key (&k, 'b', &a);
        if (rc == PM_OK) {
            rc = s_index (pm_ctx_txn (ctx), &k, true);
        }
        pm_ctx_audit (ctx, id, a.site_id);
        if (rc == PM_OK) {
            rc = s_commit (ctx, &a, ST (BOOKED), NULL, "scheduling.appointment.booked");
        }
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.Get.
pm_err
sch_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__GetAppointment *req = (const Pm__Scheduling__GetAppointment *) body;
    appt_t *a;
    pm_err rc = s_load (ctx, req ? req->appointment_id : NULL, "appointment_id", &a);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &a->base);
    }
    s_free (a);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.List: a site's appointments in a window, by start.
pm_err
sch_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ListAppointments *req
        = (const Pm__Scheduling__ListAppointments *) body;
    if (!req || !req->site_id || !*req->site_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id", "site_id is required");
    }
    if (req->from < 0 || req->from > SCH_TIME_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "from", "from: ms UTC, 0 to year 9999");
    }
    if (req->to <= req->from || req->to - req->from > SCH_RANGE_MAX_MS) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: after from, at most 31 days on");
    }
    pm_err rc = sch_site_access (ctx, req->site_id, "site_id");
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 'a');
    pm_key_str (&k, req->site_id);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) req->from);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    size_t cap = 64, n = 0;
    appt_t **items = malloc (cap * sizeof *items);
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && n < 1000 && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        const uint8_t *kb = key.mv_data;
        if ((int64_t) pm_be64_get (kb + plen) >= req->to) {
            break;
        }
        appt_t *a = NULL;
        rc = sch_load (txn, sch_db.appts, (const char *) kb + plen + 8,
                       &pm__scheduling__appointment__descriptor, (ProtobufCMessage **) &a);
        if (rc == PM_OK && req->practitioner_id && *req->practitioner_id
            && strcmp (a->practitioner_id, req->practitioner_id) != 0) {
            s_free (a);
        }
        else if (rc == PM_OK) {
            pm_ctx_audit (ctx, a->id, a->site_id);
            if (n == cap) {
                cap *= 2;
                items = realloc (items, cap * sizeof *items);
            }
            items[n++] = a;
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    if (rc == PM_OK) {
        Pm__Scheduling__AppointmentList list = PM__SCHEDULING__APPOINTMENT_LIST__INIT;
        list.n_appointments = n;
        list.appointments = items;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    for (size_t i = 0; i < n; i++) {
        s_free (items[i]);
    }
    free (items);
    return rc;
}

//  Takes the appointment's resources again (a reset of a freed one).
static pm_err
s_retake (pm_ctx_t *ctx, appt_t *a)
{
    Pm__Scheduling__AppointmentType *type = NULL;
    pm_err rc = sch_type_load (ctx, a->type_id, "appointment_id", &type);
    Pm__Staffing__Site *site = NULL;
    sch_slot_t slot = {0};
    if (rc == PM_OK) {
        rc = sch_slot_prepare (ctx, &slot, type, a->practitioner_id, a->start, &site);
    }
    if (rc == PM_OK) {
        snprintf (slot.room_id, PM_ID_MAX, "%s", a->room_id ? a->room_id : "");
        snprintf (slot.equipment_id, PM_ID_MAX, "%s", a->equipment_id ? a->equipment_id : "");
        slot.ignore = a->id;
        rc = sch_slot_check (pm_ctx_txn (ctx), &slot);
        rc = rc == PM_OK ? sch_slot_take (pm_ctx_txn (ctx), &slot, a->id)
                         : s_slot_fail (ctx, &slot, rc);
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  Moves `a` to `to` (already allowed): resources, indexes, history.
static pm_err
s_move (pm_ctx_t *ctx, appt_t *a, status_t to, const char *reason, const char *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    status_t from = a->status;
    pm_err rc = PM_OK;
    pm_key_t k;
    if (s_holds_resources (from) && !s_holds_resources (to)) {
        rc = sch_slot_give_back (txn, a->id, a->start, a->practitioner_id, a->room_id,
                                 a->equipment_id);
    }
    else if (!s_holds_resources (from) && s_holds_resources (to)) {
        rc = s_retake (ctx, a);
    }
    if (rc == PM_OK && (from == ST (BOOKED)) != (to == ST (BOOKED))) {
        s_key (&k, 'b', a);
        rc = s_index (txn, &k, to == ST (BOOKED));
    }
    if (rc == PM_OK && to == ST (CANCELLED)) {
        Pm__Staffing__Site *site = NULL;
        rc = sch_load (txn, sch_db.sites, a->site_id, &pm__staffing__site__descriptor,
                       (ProtobufCMessage **) &site);
        int64_t window = site && site->policy
                             ? (int64_t) site->policy->late_cancel_minutes * SCH_MINUTE_MS
                             : 0;
        a->has_late_cancel = 1;
        a->late_cancel = a->start - pm_ctx_now (ctx) < window;
        pm__staffing__site__free_unpacked (site, NULL);
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    else if (rc == PM_OK) {
        a->has_late_cancel = a->late_cancel = 0;
    }
    rc = rc == PM_OK ? s_commit (ctx, a, to, reason, event) : rc;
    //  A slot given back by a cancel or no-show goes to the waitlist.
    if (rc == PM_OK && s_holds_resources (from) && (to == ST (CANCELLED) || to == ST (NOSHOW))) {
        rc = sch_waitlist_offer (ctx, a->type_id, a->practitioner_id, a->start);
    }
    return rc;
}

//  The allowed next statuses, for a refusal ("arrived, cancelled").
static void
s_allowed_text (status_t from, char *out, size_t len)
{
    size_t n;
    const status_t *next = s_next (from, &n);
    out[0] = 0;
    for (size_t i = 0; i < n; i++) {
        size_t used = strlen (out);
        snprintf (out + used, len - used, "%s%s", i ? ", " : "", s_name (next[i]));
    }
    if (n == 0) {
        snprintf (out, len, "nothing (final)");
    }
}

int64_t sch_early_arrival_ms = 120 * SCH_MINUTE_MS;

//  Refuses arrival or check-in earlier than the early-arrival window
//  before the start, and fulfilment before the start: a visit days away
//  has not happened, and finance charges every fulfilled one.
static pm_err
s_not_too_early (pm_ctx_t *ctx, const appt_t *a, status_t to)
{
    int64_t now = pm_ctx_now (ctx);
    if ((to == ST (ARRIVED) || to == ST (CHECKED_IN)) && now < a->start - sch_early_arrival_ms) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                            "%s starts in %lld minutes: %s is possible from %lld minutes "
                            "before the start", a->id,
                            (long long) ((a->start - now) / SCH_MINUTE_MS), s_name (to),
                            (long long) (sch_early_arrival_ms / SCH_MINUTE_MS));
    }
    if (to == ST (FULFILLED) && now < a->start) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                            "%s has not started yet: it can be fulfilled from its start on",
                            a->id);
    }
    return PM_OK;
}

//  One ordinary transition.
static pm_err
s_transition (pm_ctx_t *ctx, const ProtobufCMessage *body, status_t to, const char *event)
{
    const Pm__Scheduling__Transition *req = (const Pm__Scheduling__Transition *) body;
    appt_t *a;
    pm_err rc = s_load (ctx, req ? req->appointment_id : NULL, "appointment_id", &a);
    if (rc != PM_OK) {
        return rc;
    }
    size_t n;
    const status_t *next = s_next (a->status, &n);
    bool ok = false;
    for (size_t i = 0; i < n; i++) {
        ok = ok || next[i] == to;
    }
    if (req->expected_version && req->expected_version != a->version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu, not %llu: read it again", a->id,
                          (unsigned long long) a->version,
                          (unsigned long long) req->expected_version);
    }
    else if (!ok) {
        char allowed[160];
        s_allowed_text (a->status, allowed, sizeof allowed);
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                          "%s is %s: it cannot become %s (allowed: %s)", a->id,
                          s_name (a->status), s_name (to), allowed);
    }
    else if (to == ST (CANCELLED) || to == ST (NOSHOW) || to == ST (ENTERED_IN_ERROR)) {
        rc = sch_check_reason (ctx, "reason", req->reason);
    }
    if (rc == PM_OK && to == ST (NOSHOW) && pm_ctx_now (ctx) < a->start) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                          "%s has not started yet: no-show only after its start", a->id);
    }
    if (rc == PM_OK) {
        rc = s_not_too_early (ctx, a, to);
    }
    if (rc == PM_OK) {
        rc = s_move (ctx, a, to, req->reason && *req->reason ? req->reason : NULL, event);
    }
    s_free (a);
    return rc;
}

pm_err
sch_arrive (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_transition (ctx, body, ST (ARRIVED), "scheduling.appointment.arrived");
}

pm_err
sch_check_in (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_transition (ctx, body, ST (CHECKED_IN), "scheduling.appointment.checked_in");
}

pm_err
sch_fulfil (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_transition (ctx, body, ST (FULFILLED), "scheduling.appointment.fulfilled");
}

pm_err
sch_cancel (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_transition (ctx, body, ST (CANCELLED), "scheduling.appointment.cancelled");
}

pm_err
sch_noshow (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_transition (ctx, body, ST (NOSHOW), "scheduling.appointment.noshow");
}

pm_err
sch_entered_in_error (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_transition (ctx, body, ST (ENTERED_IN_ERROR),
                         "scheduling.appointment.entered_in_error");
}

//  --------------------------------------------------------------------------
//  scheduling.Reset (practice manager): noshow back to booked or arrived,
//  fulfilled or cancelled back to booked.
pm_err
sch_reset (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__Transition *req = (const Pm__Scheduling__Transition *) body;
    appt_t *a;
    pm_err rc = s_load (ctx, req ? req->appointment_id : NULL, "appointment_id", &a);
    if (rc != PM_OK) {
        return rc;
    }
    status_t to = req->has_status && req->status ? req->status : ST (BOOKED);
    bool ok = (a->status == ST (NOSHOW) && (to == ST (BOOKED) || to == ST (ARRIVED)))
              || ((a->status == ST (FULFILLED) || a->status == ST (CANCELLED))
                  && to == ST (BOOKED));
    if (!ok) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "status",
                          "%s is %s: a reset takes noshow back to booked or arrived, and "
                          "fulfilled or cancelled back to booked", a->id, s_name (a->status));
    }
    else {
        rc = sch_check_reason (ctx, "reason", req->reason);
    }
    if (rc == PM_OK && req->expected_version && req->expected_version != a->version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu: read it again", a->id,
                          (unsigned long long) a->version);
    }
    if (rc == PM_OK) {
        rc = s_move (ctx, a, to, req->reason, "scheduling.appointment.reset");
    }
    s_free (a);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.Reschedule: same appointment, new time (and practitioner);
//  everything checked again, the old resources given back, in one txn.
pm_err
sch_reschedule (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__Reschedule *req = (const Pm__Scheduling__Reschedule *) body;
    appt_t *a;
    pm_err rc = s_load (ctx, req ? req->appointment_id : NULL, "appointment_id", &a);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Scheduling__AppointmentType *type = NULL;
    Pm__Staffing__Site *site = NULL;
    sch_slot_t slot = {0};
    const char *prac = req->practitioner_id && *req->practitioner_id ? req->practitioner_id
                                                                     : a->practitioner_id;
    if (a->status != ST (BOOKED)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                          "%s is %s: only a booked appointment can be moved", a->id,
                          s_name (a->status));
    }
    else if (req->expected_version && req->expected_version != a->version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu: read it again", a->id,
                          (unsigned long long) a->version);
    }
    else if (req->start < pm_ctx_now (ctx)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: in the past");
    }
    else if (req->reason && strlen (req->reason) > 500) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "reason", "reason: at most 500 characters");
    }
    if (rc == PM_OK) {
        rc = sch_type_load (ctx, a->type_id, "appointment_id", &type);
    }
    if (rc == PM_OK) {
        rc = sch_slot_prepare (ctx, &slot, type, prac, req->start, &site);
    }
    if (rc == PM_OK) {
        slot.ignore = a->id; //  its own time does not stand in its way
        rc = sch_slot_check (txn, &slot);
        rc = rc == PM_OK ? rc : s_slot_fail (ctx, &slot, rc);
    }
    pm_key_t ka, kb;
    int64_t old_start = a->start;
    char old_doc[PM_ID_MAX];
    snprintf (old_doc, sizeof old_doc, "%s", a->practitioner_id);
    if (rc == PM_OK) {
        s_key (&ka, 'a', a);
        s_key (&kb, 'b', a);
        rc = sch_slot_give_back (txn, a->id, a->start, a->practitioner_id, a->room_id,
                                 a->equipment_id);
    }
    if (rc == PM_OK) {
        rc = s_index (txn, &ka, false);
    }
    if (rc == PM_OK) {
        rc = s_index (txn, &kb, false);
    }
    if (rc == PM_OK) {
        rc = sch_slot_take (txn, &slot, a->id);
    }
    if (rc == PM_OK) {
        //  Fields point at memory of this function until the commit is done.
        char *old_prac = a->practitioner_id, *old_room = a->room_id, *old_eq = a->equipment_id;
        a->practitioner_id = (char *) prac;
        a->room_id = slot.room_id[0] ? slot.room_id : NULL;
        a->equipment_id = slot.equipment_id[0] ? slot.equipment_id : NULL;
        a->start = slot.start;
        a->end = slot.end;
        s_key (&ka, 'a', a);
        s_key (&kb, 'b', a);
        rc = s_index (txn, &ka, true);
        if (rc == PM_OK) {
            rc = s_index (txn, &kb, true);
        }
        if (rc == PM_OK) {
            rc = s_commit (ctx, a, ST (BOOKED),
                           req->reason && *req->reason ? req->reason : "rescheduled",
                           "scheduling.appointment.rescheduled");
        }
        a->practitioner_id = old_prac;
        a->room_id = old_room;
        a->equipment_id = old_eq;
    }
    if (rc == PM_OK && (old_start != a->start || strcmp (old_doc, a->practitioner_id) != 0)) {
        rc = sch_waitlist_offer (ctx, a->type_id, old_doc, old_start);
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    s_free (a);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.HoldSlot: keeps a slot for N seconds, checked as a booking.
pm_err
sch_hold (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__HoldSlot *req = (const Pm__Scheduling__HoldSlot *) body;
    if (!req || req->seconds < 1 || req->seconds > 3600) {
        return pm_ctx_fail (ctx, PM_EINVAL, "seconds", "seconds: 1..3600");
    }
    char patient[PM_ID_MAX] = "";
    pm_err rc = PM_OK;
    if (req->patient_id && *req->patient_id) {
        rc = s_patient (ctx, req->patient_id, "patient_id", patient);
    }
    Pm__Scheduling__AppointmentType *type = NULL;
    if (rc == PM_OK) {
        rc = sch_type_load (ctx, req->type_id, "type_id", &type);
    }
    Pm__Staffing__Site *site = NULL;
    sch_slot_t slot = {0};
    if (rc == PM_OK) {
        rc = sch_site_access (ctx, type->site_id, "type_id");
    }
    if (rc == PM_OK && req->start < pm_ctx_now (ctx)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: in the past");
    }
    if (rc == PM_OK) {
        rc = sch_slot_prepare (ctx, &slot, type, req->practitioner_id, req->start, &site);
    }
    if (rc == PM_OK) {
        snprintf (slot.room_id, PM_ID_MAX, "%s", req->room_id ? req->room_id : "");
        snprintf (slot.equipment_id, PM_ID_MAX, "%s", req->equipment_id ? req->equipment_id : "");
        rc = sch_slot_check (pm_ctx_txn (ctx), &slot);
        rc = rc == PM_OK ? rc : s_slot_fail (ctx, &slot, rc);
    }
    char id[PM_ID_MAX];
    pm_id_new ("hld", pm_ctx_now (ctx), id);
    if (rc == PM_OK) {
        rc = sch_slot_take (pm_ctx_txn (ctx), &slot, id);
    }
    if (rc == PM_OK) {
        Pm__Scheduling__Hold h = PM__SCHEDULING__HOLD__INIT;
        h.id = id;
        h.type_id = type->id;
        h.site_id = type->site_id;
        h.practitioner_id = (char *) req->practitioner_id;
        h.room_id = slot.room_id[0] ? slot.room_id : NULL;
        h.equipment_id = slot.equipment_id[0] ? slot.equipment_id : NULL;
        h.has_start = h.has_end = h.has_expires_at = 1;
        h.start = slot.start;
        h.end = slot.end;
        h.expires_at = pm_ctx_now (ctx) + (int64_t) req->seconds * 1000;
        h.patient_id = patient[0] ? patient : NULL;
        h.created_by = (char *) sch_actor (ctx);
        pm_key_t k;
        pm_key_init (&k, 'x');
        pm_key_u64 (&k, (uint64_t) h.expires_at);
        pm_key_str (&k, id);
        rc = s_index (pm_ctx_txn (ctx), &k, true);
        if (rc == PM_OK) {
            rc = sch_save (pm_ctx_txn (ctx), sch_db.holds, id, &h.base);
        }
        if (h.patient_id) {
            pm_ctx_audit (ctx, id, h.site_id);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "scheduling.hold.placed", h.site_id, id, &h.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &h.base);
        }
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  Ends a hold: resources back, record and expiry entry gone, event.
static pm_err
s_end_hold (pm_ctx_t *ctx, Pm__Scheduling__Hold *h, const char *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = sch_slot_give_back (txn, h->id, h->start, h->practitioner_id, h->room_id,
                                    h->equipment_id);
    pm_key_t k;
    pm_key_init (&k, 'x');
    pm_key_u64 (&k, (uint64_t) h->expires_at);
    pm_key_str (&k, h->id);
    if (rc == PM_OK) {
        rc = s_index (txn, &k, false);
    }
    if (rc == PM_OK) {
        rc = pm_store_del (txn, sch_db.holds, h->id, strlen (h->id));
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, event, h->site_id, h->id, &h->base);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.ReleaseHold.
pm_err
sch_release_hold (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ReleaseHold *req = (const Pm__Scheduling__ReleaseHold *) body;
    if (!req || !req->hold_id || !pm_id_valid (req->hold_id, "hld")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "hold_id", "hold_id: a hold id (hld_...)");
    }
    Pm__Scheduling__Hold *h = NULL;
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.holds, req->hold_id,
                          &pm__scheduling__hold__descriptor, (ProtobufCMessage **) &h);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, "hold_id", "hold_id: no hold %s", req->hold_id);
    }
    if (rc == PM_OK) {
        rc = sch_site_access (ctx, h->site_id, "hold_id");
    }
    if (rc == PM_OK) {
        rc = s_end_hold (ctx, h, "scheduling.hold.released");
    }
    if (rc == PM_OK && h->waitlist_entry_id && *h->waitlist_entry_id) {
        rc = sch_waitlist_hold_ended (ctx, h, "scheduling.waitlist.declined");
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &h->base);
    }
    pm__scheduling__hold__free_unpacked (h, NULL);
    return rc;
}

//  The first index key with one-byte tag `tag` (copied into k), or false.
static bool
s_first (MDB_txn *txn, char tag, pm_key_t *k)
{
    MDB_cursor *cur;
    if (mdb_cursor_open (txn, sch_db.index, &cur) != 0) {
        return false;
    }
    uint8_t t = (uint8_t) tag;
    MDB_val key = {1, &t}, val;
    int rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    bool found = rc == 0 && key.mv_size > 9 && key.mv_size <= PM_KEY_MAX
                 && ((const uint8_t *) key.mv_data)[0] == t;
    if (found) {
        memcpy (k->b, key.mv_data, key.mv_size);
        k->len = key.mv_size;
    }
    mdb_cursor_close (cur);
    return found;
}

//  Lapses holds whose time is up.
static pm_err
s_lapse_holds (pm_ctx_t *ctx)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    for (int i = 0; i < TICK_BATCH && s_first (txn, 'x', &k); i++) {
        if ((int64_t) pm_be64_get (k.b + 1) > pm_ctx_now (ctx)) {
            break;
        }
        const char *id = (const char *) k.b + 9;
        Pm__Scheduling__Hold *h = NULL;
        pm_err rc = sch_load (txn, sch_db.holds, id, &pm__scheduling__hold__descriptor,
                              (ProtobufCMessage **) &h);
        if (rc == PM_OK) {
            rc = s_end_hold (ctx, h, "scheduling.hold.lapsed");
        }
        if (rc == PM_OK && h->waitlist_entry_id && *h->waitlist_entry_id) {
            rc = sch_waitlist_hold_ended (ctx, h, "scheduling.waitlist.lapsed");
        }
        else if (rc == PM_ENOTFOUND) {
            rc = s_index (txn, &k, false); //  an orphan entry: drop it
        }
        pm__scheduling__hold__free_unpacked (h, NULL);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

//  Marks booked appointments no-show once the site's grace has passed.
static pm_err
s_auto_noshow (pm_ctx_t *ctx)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    int64_t now = pm_ctx_now (ctx);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    //  Collect first: the moves below change the index under the cursor.
    char (*due)[PM_ID_MAX] = calloc (TICK_BATCH, PM_ID_MAX);
    size_t n = 0;
    uint8_t t = 'b';
    MDB_val key = {1, &t}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < TICK_BATCH && key.mv_size > 9
           && ((const uint8_t *) key.mv_data)[0] == 'b') {
        if ((int64_t) pm_be64_get ((const uint8_t *) key.mv_data + 1) > now) {
            break;
        }
        snprintf (due[n++], PM_ID_MAX, "%s", (const char *) key.mv_data + 9);
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        appt_t *a = NULL;
        rc = sch_load (txn, sch_db.appts, due[i], &pm__scheduling__appointment__descriptor,
                       (ProtobufCMessage **) &a);
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
            continue;
        }
        Pm__Staffing__Site *site = NULL;
        if (rc == PM_OK) {
            rc = sch_load (txn, sch_db.sites, a->site_id, &pm__staffing__site__descriptor,
                           (ProtobufCMessage **) &site);
            rc = rc == PM_ENOTFOUND ? PM_OK : rc;
        }
        uint32_t grace = site && site->policy ? site->policy->no_show_grace_minutes : 0;
        if (rc == PM_OK && a->status == ST (BOOKED)
            && now >= a->start + (int64_t) grace * SCH_MINUTE_MS) {
            char reason[96];
            snprintf (reason, sizeof reason, "no arrival within %u minutes of the start",
                      grace);
            pm_ctx_audit (ctx, a->id, a->site_id);
            rc = s_move (ctx, a, ST (NOSHOW), reason, "scheduling.appointment.noshow");
        }
        pm__staffing__site__free_unpacked (site, NULL);
        s_free (a);
    }
    free (due);
    return rc;
}

//  --------------------------------------------------------------------------
//  Timed work through the write path.
pm_err
sch_tick (pm_ctx_t *ctx)
{
    pm_err rc = s_lapse_holds (ctx);
    return rc == PM_OK ? s_auto_noshow (ctx) : rc;
}

//  --- recurring series ------------------------------------------------------
//
//  A series is its appointments, each with series_id and occurrence, and
//  one index key per occurrence: 'q' series 0 be64 occurrence apt 0. An
//  occurrence is an ordinary appointment: Cancel, Reschedule and the
//  lifecycle work on it alone; CancelSeries and RescheduleSeries take it
//  and every following booked occurrence.

#define SERIES_MAX 100

//  The 'q' key of a series occurrence.
static void
s_series_key (pm_key_t *k, const char *series, uint32_t occ, const char *apt)
{
    pm_key_init (k, 'q');
    pm_key_str (k, series);
    pm_key_u64 (k, occ);
    if (apt) {
        pm_key_str (k, apt);
    }
}

//  Appends "#n (local date): reason" to a refusal text.
static void
s_note (char *buf, size_t len, uint32_t occ, const char *zone, int64_t start,
        const char *reason)
{
    char date[SCH_DATE_LEN] = "?";
    sch_tz_date (zone, start, date);
    size_t used = strlen (buf);
    if (used + 1 < len) {
        snprintf (buf + used, len - used, "%s#%u (%s): %s", used ? "; " : "", occ, date,
                  reason);
    }
}

//  Replies with the appointments `ids` as a Series.
static pm_err
s_series_reply (pm_ctx_t *ctx, const char *series, char (*ids)[PM_ID_MAX], size_t n)
{
    Pm__Scheduling__Series out = PM__SCHEDULING__SERIES__INIT;
    out.series_id = (char *) series;
    out.appointments = calloc (n ? n : 1, sizeof *out.appointments);
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rc = sch_load (pm_ctx_txn (ctx), sch_db.appts, ids[i],
                       &pm__scheduling__appointment__descriptor,
                       (ProtobufCMessage **) &out.appointments[i]);
        out.n_appointments += rc == PM_OK;
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < out.n_appointments; i++) {
        s_free (out.appointments[i]);
    }
    free (out.appointments);
    return rc;
}

//  Checks a series rule; fills the occurrence starts (at most
//  SERIES_MAX + 1, to tell "too many").
static pm_err
s_rule_expand (pm_ctx_t *ctx, const Pm__Scheduling__Recurrence *r, const char *zone,
               int64_t first, int64_t *starts, int *n_out)
{
    if (!r || !r->frequency) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.frequency",
                            "rule.frequency: daily, weekly or monthly is required");
    }
    if (r->interval > 12) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.interval", "rule.interval: 1..12");
    }
    if ((r->count > 0) == (r->until > 0)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.count",
                            "rule.count: give either count (1..%d) or until", SERIES_MAX);
    }
    if (r->count > SERIES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.count", "rule.count: at most %d",
                            SERIES_MAX);
    }
    if (r->until > 0 && r->until < first) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.until", "rule.until: before the first start");
    }
    int n = sch_tz_expand (zone, first, r->frequency, r->interval, r->count, r->until, starts,
                           SERIES_MAX + 1);
    if (n < 0 && strcmp (r->frequency, "daily") && strcmp (r->frequency, "weekly")
        && strcmp (r->frequency, "monthly")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.frequency",
                            "rule.frequency: daily, weekly or monthly, not %.32s",
                            r->frequency);
    }
    if (n < 0) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "first.type_id",
                            "the site's time zone %s is not known", zone ? zone : "(none)");
    }
    if (n > SERIES_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.until",
                            "rule.until: more than %d occurrences", SERIES_MAX);
    }
    *n_out = n;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  scheduling.BookSeries: every occurrence or none, with reasons.
pm_err
sch_book_series (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__BookSeries *req = (const Pm__Scheduling__BookSeries *) body;
    const Pm__Scheduling__Book *first = req ? req->first : NULL;
    if (!first) {
        return pm_ctx_fail (ctx, PM_EINVAL, "first", "first: the first occurrence is required");
    }
    if (first->hold_id && *first->hold_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "first.hold_id",
                            "first.hold_id: a series is not booked from a hold");
    }
    char patient[PM_ID_MAX];
    pm_err rc = s_patient (ctx, first->patient_id, "first.patient_id", patient);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Scheduling__AppointmentType *type = NULL;
    rc = sch_type_load (ctx, first->type_id, "first.type_id", &type);
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Staffing__Site *site = NULL;
    rc = sch_site_access (ctx, type->site_id, "first.type_id");
    if (rc == PM_OK && type->has_active && !type->active) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "first.type_id", "first.type_id: %s is retired",
                          type->id);
    }
    if (rc == PM_OK && first->start < pm_ctx_now (ctx)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "first.start", "first.start: in the past");
    }
    if (rc == PM_OK) {
        rc = sch_load (pm_ctx_txn (ctx), sch_db.sites, type->site_id,
                       &pm__staffing__site__descriptor, (ProtobufCMessage **) &site);
        if (rc == PM_ENOTFOUND) {
            rc = pm_ctx_fail (ctx, PM_ENOTFOUND, "first.type_id", "site %s is not known",
                              type->site_id);
        }
    }
    int64_t starts[SERIES_MAX + 1];
    int n = 0;
    if (rc == PM_OK) {
        rc = s_rule_expand (ctx, req->rule, site->time_zone, first->start, starts, &n);
    }
    char series[PM_ID_MAX];
    pm_id_new ("ser", pm_ctx_now (ctx), series);
    char (*ids)[PM_ID_MAX] = calloc (SERIES_MAX + 1, PM_ID_MAX);
    char *why = calloc (1, 4096);
    int bad = 0;
    for (int i = 0; rc == PM_OK && i < n; i++) {
        sch_slot_t slot = {0};
        Pm__Staffing__Site *s2 = NULL;
        rc = sch_slot_prepare (ctx, &slot, type, first->practitioner_id, starts[i], &s2);
        if (rc != PM_OK) {
            break;
        }
        snprintf (slot.room_id, PM_ID_MAX, "%s", first->room_id ? first->room_id : "");
        snprintf (slot.equipment_id, PM_ID_MAX, "%s",
                  first->equipment_id ? first->equipment_id : "");
        pm_err crc = sch_slot_check (pm_ctx_txn (ctx), &slot);
        if (crc == PM_ECONFLICT || crc == PM_ENOTFOUND || crc == PM_EINVAL) {
            //  Noted and checked on: the booker hears about every one.
            s_note (why, 4096, (uint32_t) i + 1, site->time_zone, starts[i], slot.reason);
            bad++;
            pm__staffing__site__free_unpacked (s2, NULL);
            continue;
        }
        rc = crc;
        pm_id_new ("apt", pm_ctx_now (ctx), ids[i]);
        if (rc == PM_OK) {
            rc = sch_slot_take (pm_ctx_txn (ctx), &slot, ids[i]);
        }
        if (rc == PM_OK) {
            appt_t a = PM__SCHEDULING__APPOINTMENT__INIT;
            a.id = ids[i];
            a.patient_id = patient;
            a.practitioner_id = (char *) first->practitioner_id;
            a.site_id = type->site_id;
            a.type_id = type->id;
            a.has_start = a.has_end = a.has_created_at = a.has_telehealth = 1;
            a.has_buffer_minutes = a.has_occurrence = 1;
            a.start = slot.start;
            a.end = slot.end;
            a.room_id = slot.room_id[0] ? slot.room_id : NULL;
            a.equipment_id = slot.equipment_id[0] ? slot.equipment_id : NULL;
            a.price_code = type->price_code;
            a.telehealth = type->telehealth;
            a.buffer_minutes = type->buffer_minutes;
            a.created_at = pm_ctx_now (ctx);
            a.created_by = (char *) sch_actor (ctx);
            a.series_id = series;
            a.occurrence = (uint32_t) i + 1;
            if (strcmp (patient, first->patient_id) != 0) {
                a.requested_patient_id = first->patient_id;
            }
            pm_key_t k;
            s_key (&k, 'a', &a);
            rc = s_index (pm_ctx_txn (ctx), &k, true);
            s_key (&k, 'b', &a);
            if (rc == PM_OK) {
                rc = s_index (pm_ctx_txn (ctx), &k, true);
            }
            s_series_key (&k, series, a.occurrence, a.id);
            if (rc == PM_OK) {
                rc = s_index (pm_ctx_txn (ctx), &k, true);
            }
            pm_ctx_audit (ctx, a.id, a.site_id);
            if (rc == PM_OK) {
                rc = s_commit (ctx, &a, ST (BOOKED), NULL, "scheduling.appointment.booked");
            }
        }
        pm__staffing__site__free_unpacked (s2, NULL);
    }
    if (rc == PM_OK && bad) {
        //  All or nothing: the refusal rolls back what was taken above.
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "rule",
                          "%d of %d occurrences cannot be booked, none was: %s", bad, n, why);
    }
    if (rc == PM_OK) {
        rc = s_series_reply (ctx, series, ids, (size_t) n);
    }
    free (why);
    free (ids);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  The appointment named and, with `following`, every later occurrence
//  of its series in one of `wanted` statuses (ids by occurrence).
static pm_err
s_series_targets (pm_ctx_t *ctx, const appt_t *a, bool following,
                  char (*ids)[PM_ID_MAX], size_t *n_out)
{
    size_t n = 0;
    snprintf (ids[n++], PM_ID_MAX, "%s", a->id);
    if (!following) {
        *n_out = n;
        return PM_OK;
    }
    if (!a->series_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "following",
                            "following: %s is not part of a series", a->id);
    }
    pm_key_t k, from;
    s_series_key (&k, a->series_id, 0, NULL);
    size_t plen = k.len - 8;
    s_series_key (&from, a->series_id, a->occurrence + 1, NULL);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (pm_ctx_txn (ctx), sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    MDB_val key = {from.len, from.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n <= SERIES_MAX && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        snprintf (ids[n++], PM_ID_MAX, "%s", (const char *) key.mv_data + plen + 8);
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    *n_out = n;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  scheduling.CancelSeries: one occurrence or it and the following ones
//  (those still booked, arrived or checked in).
pm_err
sch_cancel_series (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ChangeSeries *req = (const Pm__Scheduling__ChangeSeries *) body;
    appt_t *a;
    pm_err rc = s_load (ctx, req ? req->appointment_id : NULL, "appointment_id", &a);
    if (rc != PM_OK) {
        return rc;
    }
    rc = sch_check_reason (ctx, "reason", req->reason);
    char (*ids)[PM_ID_MAX] = calloc (SERIES_MAX + 2, PM_ID_MAX);
    char (*done)[PM_ID_MAX] = calloc (SERIES_MAX + 2, PM_ID_MAX);
    size_t n = 0, n_done = 0;
    if (rc == PM_OK) {
        rc = s_series_targets (ctx, a, req->following, ids, &n);
    }
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        appt_t *x;
        rc = s_load (ctx, ids[i], "appointment_id", &x);
        if (rc != PM_OK) {
            break;
        }
        bool live = x->status == ST (BOOKED) || x->status == ST (ARRIVED)
                    || x->status == ST (CHECKED_IN);
        if (!live && i == 0) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                              "%s is %s: it cannot become cancelled", x->id,
                              s_name (x->status));
        }
        else if (live) {
            rc = s_move (ctx, x, ST (CANCELLED), req->reason, "scheduling.appointment.cancelled");
            snprintf (done[n_done++], PM_ID_MAX, "%s", x->id);
        }
        s_free (x);
    }
    if (rc == PM_OK) {
        rc = s_series_reply (ctx, a->series_id, done, n_done);
    }
    free (ids);
    free (done);
    s_free (a);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.RescheduleSeries: one occurrence or it and the following
//  booked ones, moved by the same local wall-clock difference; every new
//  slot checked again; all or nothing.
pm_err
sch_reschedule_series (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ChangeSeries *req = (const Pm__Scheduling__ChangeSeries *) body;
    appt_t *a;
    pm_err rc = s_load (ctx, req ? req->appointment_id : NULL, "appointment_id", &a);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (a->status != ST (BOOKED)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                          "%s is %s: only a booked appointment can be moved", a->id,
                          s_name (a->status));
    }
    else if (req->start < pm_ctx_now (ctx)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: in the past");
    }
    else if (req->reason && strlen (req->reason) > 500) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "reason", "reason: at most 500 characters");
    }
    else if (req->practitioner_id && *req->practitioner_id
             && !pm_id_valid (req->practitioner_id, "stf")) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "practitioner_id",
                          "practitioner_id: a staff id (stf_...)");
    }
    Pm__Staffing__Site *site = NULL;
    if (rc == PM_OK) {
        rc = sch_load (txn, sch_db.sites, a->site_id, &pm__staffing__site__descriptor,
                       (ProtobufCMessage **) &site);
    }
    int64_t delta = 0;
    if (rc == PM_OK && !sch_tz_local_delta (site->time_zone, a->start, req->start, &delta)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "appointment_id",
                          "the site's time zone %s is not known", site->time_zone);
    }
    char (*ids)[PM_ID_MAX] = calloc (SERIES_MAX + 2, PM_ID_MAX);
    size_t n = 0;
    if (rc == PM_OK) {
        rc = s_series_targets (ctx, a, req->following, ids, &n);
    }
    appt_t **xs = calloc (n ? n : 1, sizeof *xs);
    size_t n_x = 0;
    //  First every target gives its time back, so that occurrences of the
    //  same series do not stand in each other's way.
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        appt_t *x;
        rc = s_load (ctx, ids[i], "appointment_id", &x);
        if (rc != PM_OK) {
            break;
        }
        if (x->status != ST (BOOKED)) {
            s_free (x);
            continue;
        }
        xs[n_x++] = x;
        pm_key_t ka, kb;
        s_key (&ka, 'a', x);
        s_key (&kb, 'b', x);
        rc = sch_slot_give_back (txn, x->id, x->start, x->practitioner_id, x->room_id,
                                 x->equipment_id);
        if (rc == PM_OK) {
            rc = s_index (txn, &ka, false);
        }
        if (rc == PM_OK) {
            rc = s_index (txn, &kb, false);
        }
    }
    Pm__Scheduling__AppointmentType *type = NULL;
    if (rc == PM_OK) {
        rc = sch_type_load (ctx, a->type_id, "appointment_id", &type);
    }
    char *why = calloc (1, 4096);
    int bad = 0;
    for (size_t i = 0; rc == PM_OK && i < n_x; i++) {
        appt_t *x = xs[i];
        int64_t start = req->start;
        if (i > 0 || strcmp (x->id, a->id) != 0) {
            sch_tz_local_shift (site->time_zone, x->start, delta, &start);
        }
        const char *prac = req->practitioner_id && *req->practitioner_id
                               ? req->practitioner_id : x->practitioner_id;
        sch_slot_t slot = {0};
        Pm__Staffing__Site *s2 = NULL;
        rc = sch_slot_prepare (ctx, &slot, type, prac, start, &s2);
        pm_err crc = rc == PM_OK ? sch_slot_check (txn, &slot) : rc;
        if (rc == PM_OK && (crc == PM_ECONFLICT || crc == PM_ENOTFOUND || crc == PM_EINVAL)) {
            s_note (why, 4096, x->occurrence, site->time_zone, start, slot.reason);
            bad++;
        }
        else if (rc == PM_OK) {
            rc = crc;
            if (rc == PM_OK) {
                rc = sch_slot_take (txn, &slot, x->id);
            }
            if (rc == PM_OK) {
                char *old_prac = x->practitioner_id, *old_room = x->room_id;
                char *old_eq = x->equipment_id;
                x->practitioner_id = (char *) prac;
                x->room_id = slot.room_id[0] ? slot.room_id : NULL;
                x->equipment_id = slot.equipment_id[0] ? slot.equipment_id : NULL;
                x->start = slot.start;
                x->end = slot.end;
                pm_key_t ka, kb;
                s_key (&ka, 'a', x);
                s_key (&kb, 'b', x);
                rc = s_index (txn, &ka, true);
                if (rc == PM_OK) {
                    rc = s_index (txn, &kb, true);
                }
                if (rc == PM_OK) {
                    rc = s_commit (ctx, x, ST (BOOKED),
                                   req->reason && *req->reason ? req->reason : "rescheduled",
                                   "scheduling.appointment.rescheduled");
                }
                x->practitioner_id = old_prac;
                x->room_id = old_room;
                x->equipment_id = old_eq;
            }
        }
        pm__staffing__site__free_unpacked (s2, NULL);
    }
    if (rc == PM_OK && bad) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start",
                          "%d of %zu occurrences cannot be moved, none was: %s", bad, n_x, why);
    }
    if (rc == PM_OK) {
        for (size_t i = 0; i < n_x; i++) {
            snprintf (ids[i], PM_ID_MAX, "%s", xs[i]->id);
        }
        rc = s_series_reply (ctx, a->series_id, ids, n_x);
    }
    for (size_t i = 0; i < n_x; i++) {
        s_free (xs[i]);
    }
    free (xs);
    free (why);
    free (ids);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    pm__staffing__site__free_unpacked (site, NULL);
    s_free (a);
    return rc;
}

//  --- re-validation and merges -------------------------------------------
//
//  Staffing's leave, credential expiry and removed shifts may make a
//  booked appointment impossible: each one it reaches is checked again as
//  a booking (its own resources ignored) and, when that fails, flagged.
//  A patient merge moves the merged record's appointments to the
//  survivor; an unmerge moves back those the merge moved.

//  When `a` was last checked as a booking (booked, moved or reset).
static int64_t
s_checked_at (const appt_t *a)
{
    int64_t at = a->created_at;
    for (size_t i = 0; i < a->n_history; i++) {
        if (a->history[i]->status == ST (BOOKED) && a->history[i]->at > at) {
            at = a->history[i]->at;
        }
    }
    return at;
}

//  True when the last booking check of `a` already saw staffing event
//  `ev`: on the same stream, its recorded position is at or past it. An
//  appointment from before positions were recorded, or a replaced stream
//  being replayed, falls back to time: checked after the event, it saw it.
static bool
s_saw_event (const appt_t *a, const Pm__Event *ev)
{
    if (a->checked_stream && a->has_checked_seq && ev->stream_id
        && strcmp (a->checked_stream, ev->stream_id) == 0) {
        return a->checked_seq >= ev->seq;
    }
    return s_checked_at (a) > ev->time;
}

//  Adds a risk to `a` (not twice for a cause or a reason) and emits it.
static pm_err
s_flag (pm_ctx_t *ctx, appt_t *a, const char *cause, const char *reason)
{
    for (size_t i = 0; i < a->n_risks; i++) {
        if ((a->risks[i]->cause && strcmp (a->risks[i]->cause, cause) == 0)
            || (a->risks[i]->reason && strcmp (a->risks[i]->reason, reason) == 0)) {
            return PM_OK;
        }
    }
    Pm__Scheduling__RiskFlag flag = PM__SCHEDULING__RISK_FLAG__INIT;
    flag.cause = (char *) cause;
    flag.reason = (char *) reason;
    flag.has_at = 1;
    flag.at = pm_ctx_now (ctx);
    Pm__Scheduling__RiskFlag **old = a->risks;
    Pm__Scheduling__RiskFlag **risks = malloc ((a->n_risks + 1) * sizeof *risks);
    if (!risks) {
        return PM_EINTERNAL;
    }
    if (a->n_risks) {
        memcpy (risks, old, a->n_risks * sizeof *risks);
    }
    risks[a->n_risks] = &flag;
    a->risks = risks;
    a->n_risks++;
    pm_ctx_audit (ctx, a->id, a->site_id);
    pm_err rc = s_store_emit (ctx, a, "scheduling.appointment.at_risk");
    a->n_risks--;
    a->risks = old;
    free (risks);
    return rc;
}

//  Checks one appointment again; flags it when the check fails.
static pm_err
s_recheck (pm_ctx_t *ctx, appt_t *a, const char *cause)
{
    Pm__Scheduling__AppointmentType *type = NULL;
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.types, a->type_id,
                          &pm__scheduling__appointment_type__descriptor,
                          (ProtobufCMessage **) &type);
    if (rc != PM_OK) {
        return rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    Pm__Staffing__Site *site = NULL;
    sch_slot_t slot = {0};
    rc = sch_slot_prepare (ctx, &slot, type, a->practitioner_id, a->start, &site);
    if (rc == PM_OK) {
        slot.end = a->end;
        slot.busy_until = a->end + (int64_t) a->buffer_minutes * SCH_MINUTE_MS;
        snprintf (slot.room_id, PM_ID_MAX, "%s", a->room_id ? a->room_id : "");
        snprintf (slot.equipment_id, PM_ID_MAX, "%s", a->equipment_id ? a->equipment_id : "");
        slot.ignore = a->id;
        pm_err crc = sch_slot_check (pm_ctx_txn (ctx), &slot);
        if (crc == PM_ECONFLICT || crc == PM_ENOTFOUND || crc == PM_EINVAL) {
            rc = s_flag (ctx, a, cause, slot.reason[0] ? slot.reason : "no longer bookable");
        }
        else {
            rc = crc;
        }
    }
    else if (rc == PM_ENOTFOUND || rc == PM_EINVAL) {
        rc = PM_OK; //  its site or practitioner unknown now: nothing to check
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__scheduling__appointment_type__free_unpacked (type, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Re-validates a practitioner's live appointments overlapping [from, to).
pm_err
sch_revalidate (pm_ctx_t *ctx, const char *staff, int64_t from, int64_t to,
                const char *cause, const Pm__Event *ev)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 'o');
    pm_key_str (&k, staff);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) (from > SCH_SPAN_MAX_MS ? from - SCH_SPAN_MAX_MS : 0));
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    //  Collect first (all of them: a credential expiry reaches every
    //  future appointment): flagging writes to the index under the cursor.
    size_t cap = 64, n = 0;
    char (*ids)[PM_ID_MAX] = malloc (cap * PM_ID_MAX);
    pm_err rc = ids ? PM_OK : PM_EINTERNAL;
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        const uint8_t *kb = key.mv_data;
        if ((int64_t) pm_be64_get (kb + plen) >= to) {
            break;
        }
        const char *owner = (const char *) kb + plen + 8;
        if (n == cap) {
            void *more = realloc (ids, 2 * cap * PM_ID_MAX);
            rc = more ? PM_OK : PM_EINTERNAL;
            ids = more ? more : ids;
            cap *= more ? 2 : 1;
        }
        if (rc == PM_OK && strncmp (owner, "apt_", 4) == 0) {
            snprintf (ids[n++], PM_ID_MAX, "%s", owner);
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        appt_t *a = NULL;
        rc = sch_load (txn, sch_db.appts, ids[i], &pm__scheduling__appointment__descriptor,
                       (ProtobufCMessage **) &a);
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
            continue;
        }
        //  One whose booking check already saw the event is left alone.
        if (rc == PM_OK && s_live (a->status) && a->start < to && a->end > from
            && strcmp (a->practitioner_id, staff) == 0 && !s_saw_event (a, ev)) {
            rc = s_recheck (ctx, a, cause);
        }
        s_free (a);
    }
    free (ids);
    return rc;
}

//  --------------------------------------------------------------------------
//  Moves appointments between patient records on a merge or unmerge.
pm_err
sch_repoint (pm_ctx_t *ctx, const char *from, const char *to, bool back)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 'p');
    pm_key_str (&k, from);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    size_t cap = 64, n = 0;
    char (*ids)[PM_ID_MAX] = malloc (cap * PM_ID_MAX);
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size > k.len && memcmp (key.mv_data, k.b, k.len) == 0) {
        if (n == cap) {
            cap *= 2;
            ids = realloc (ids, cap * PM_ID_MAX);
        }
        snprintf (ids[n++], PM_ID_MAX, "%s", (const char *) key.mv_data + k.len);
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        appt_t *a = NULL;
        rc = sch_load (txn, sch_db.appts, ids[i], &pm__scheduling__appointment__descriptor,
                       (ProtobufCMessage **) &a);
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
            continue;
        }
        if (rc != PM_OK) {
            break;
        }
        bool ours = strcmp (a->patient_id, from) == 0;
        if (back) {
            //  Only those this record's merge moved away from it go back.
            ours = ours && a->n_repointed_from > 0
                   && strcmp (a->repointed_from[a->n_repointed_from - 1], to) == 0;
        }
        pm_key_t pk;
        pm_key_init (&pk, 'p');
        pm_key_str (&pk, from);
        pm_key_str (&pk, a->id);
        if (strcmp (a->patient_id, from) != 0) {
            rc = s_index (txn, &pk, false); //  stale entry
        }
        else if (ours) {
            rc = s_index (txn, &pk, false);
            char *old_patient = a->patient_id;
            char **old_from = a->repointed_from;
            size_t old_n = a->n_repointed_from;
            char **pushed = NULL;
            a->patient_id = (char *) to;
            if (back) {
                a->n_repointed_from--;
            }
            else {
                pushed = malloc ((old_n + 1) * sizeof *pushed);
                if (old_n) {
                    memcpy (pushed, old_from, old_n * sizeof *pushed);
                }
                pushed[old_n] = (char *) from;
                a->repointed_from = pushed;
                a->n_repointed_from = old_n + 1;
            }
            pm_ctx_audit (ctx, a->id, a->site_id);
            if (rc == PM_OK) {
                rc = s_store_emit (ctx, a, "scheduling.appointment.repointed");
            }
            a->patient_id = old_patient;
            a->repointed_from = old_from;
            a->n_repointed_from = old_n;
            free (pushed);
        }
        s_free (a);
    }
    free (ids);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.ListAtRisk: a site's appointments at risk, by start.
pm_err
sch_list_at_risk (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ListAtRisk *req = (const Pm__Scheduling__ListAtRisk *) body;
    if (!req || !req->site_id || !*req->site_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id", "site_id is required");
    }
    pm_err rc = sch_site_access (ctx, req->site_id, "site_id");
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 'k');
    pm_key_str (&k, req->site_id);
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    size_t cap = 64, n = 0;
    appt_t **items = malloc (cap * sizeof *items);
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && n < 1000 && key.mv_size > k.len
           && memcmp (key.mv_data, k.b, k.len) == 0) {
        appt_t *a = NULL;
        rc = sch_load (txn, sch_db.appts, (const char *) key.mv_data + k.len,
                       &pm__scheduling__appointment__descriptor, (ProtobufCMessage **) &a);
        if (rc == PM_OK) {
            pm_ctx_audit (ctx, a->id, a->site_id);
            if (n == cap) {
                cap *= 2;
                items = realloc (items, cap * sizeof *items);
            }
            items[n++] = a;
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    //  By start: the key orders by id, the desk reads by time.
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && items[j - 1]->start > items[j]->start; j--) {
            appt_t *t = items[j];
            items[j] = items[j - 1];
            items[j - 1] = t;
        }
    }
    if (rc == PM_OK) {
        Pm__Scheduling__AppointmentList list = PM__SCHEDULING__APPOINTMENT_LIST__INIT;
        list.n_appointments = n;
        list.appointments = items;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    for (size_t i = 0; i < n; i++) {
        s_free (items[i]);
    }
    free (items);
    return rc;
}

//  --------------------------------------------------------------------------
//  A patient id resolved as a booking would (for the waitlist).
pm_err
sch_appt_patient (pm_ctx_t *ctx, const char *id, const char *field, char *out)
{
    return s_patient (ctx, id, field, out);
}

//  --------------------------------------------------------------------------
//  Ends a hold (for the waitlist's offers).
pm_err
sch_hold_end (pm_ctx_t *ctx, Pm__Scheduling__Hold *h, const char *event)
{
    return s_end_hold (ctx, h, event);
}
