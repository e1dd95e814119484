/*  staffing_rosters.c: templates, shifts, swaps and coverage (see
    staffing_rosters.h).

    A shift is made from a template on a local date: its instants are
    computed once, in the site's zone, and stored. Everything after that
    (overlap, leave, coverage) compares instants, so a night shift across
    midnight or a DST change needs no special case.                       */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_credentials.h"
#include "staffing_leave.h"
#include "staffing_rosters.h"
#include "staffing_sites.h"
#include "staffing_staff.h"
#include "staffing_store.h"
#include "staffing_tz.h"

#define SHIFT_MAX_MS (26LL * 3600 * 1000) //  24 h + a DST hour, and slack
#define RANGE_DAYS_MAX 366
#define LIST_DAYS_MAX 62
#define DAY_MS 86400000LL

typedef Pm__Staffing__Shift shift_t;
typedef Pm__Staffing__ShiftTemplate tpl_t;
typedef Pm__Staffing__Site site_t;

//  --- shifts in the store ------------------------------------------------------

//  Adds or removes a shift's index entries: every live shift by site, an
//  assigned one also by its staff member.
static pm_err
s_index (MDB_txn *txn, const shift_t *sh, bool add)
{
    if (sh->status == PM__STAFFING__SHIFT_STATUS__SHIFT_CANCELLED) {
        return PM_OK;
    }
    pm_key_t k;
    pm_key_init (&k, STF_IX_SHF_BY_SITE);
    pm_key_str (&k, sh->site_id);
    pm_key_u64 (&k, (uint64_t) sh->start);
    pm_key_str (&k, sh->id);
    pm_err rc = stf_index (txn, stf_db.index, &k, sh->id, add);
    if (rc == PM_OK && sh->status == PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED) {
        pm_key_init (&k, STF_IX_SHF_BY_STAFF);
        pm_key_str (&k, sh->staff_id);
        pm_key_u64 (&k, (uint64_t) sh->start);
        pm_key_str (&k, sh->id);
        rc = stf_index (txn, stf_db.index, &k, sh->id, add);
    }
    return rc;
}

//  Stores the new state of a shift (`old` as stored, NULL if new): moves
//  its index entries, stores it and emits `event`.
static pm_err
s_save (pm_ctx_t *ctx, const shift_t *old, shift_t *sh, const char *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = old ? s_index (txn, old, false) : PM_OK;
    if (rc == PM_OK) {
        rc = s_index (txn, sh, true);
    }
    if (rc == PM_OK) {
        rc = stf_put (ctx, stf_db.shifts, sh->id, &sh->base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, event, sh->site_id, sh->id, &sh->base);
    }
    return rc;
}

static pm_err
s_load_shift (pm_ctx_t *ctx, const char *id, const char *field, shift_t **out)
{
    return stf_load (ctx, stf_db.shifts, id, &pm__staffing__shift__descriptor, field,
                     "shift", out);
}

//  Collects the shifts of an index range [from, to) by start.
typedef struct {
    MDB_txn *txn;
    size_t skip;             //  bytes before the be64 start in a key
    int64_t to;
    shift_t **items;
    size_t n, cap;
} s_shifts_t;

static int
s_shift_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    s_shifts_t *list = arg;
    if (key->mv_size < list->skip + 8) {
        return 0;
    }
    int64_t start = (int64_t) pm_be64_get ((uint8_t *) key->mv_data + list->skip);
    if (start >= list->to || list->n == STF_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    shift_t *sh;
    pm_err rc = pm_store_get_msg (list->txn, stf_db.shifts, id, strlen (id),
                                  &pm__staffing__shift__descriptor,
                                  (ProtobufCMessage **) &sh);
    if (rc != PM_OK) {
        return rc;
    }
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items = realloc (list->items, list->cap * sizeof *list->items);
    }
    list->items[list->n++] = sh;
    return 0;
}

//  The shifts indexed under `tag` `owner` (a site or a staff member)
//  starting in [from, to).
static pm_err
s_shifts (MDB_txn *txn, char tag, const char *owner, int64_t from, int64_t to,
          s_shifts_t *list)
{
    pm_key_t prefix, start;
    pm_key_init (&prefix, tag);
    pm_key_str (&prefix, owner);
    start = prefix;
    pm_key_u64 (&start, (uint64_t) (from > 0 ? from : 0));
    *list = (s_shifts_t) {txn, prefix.len, to, NULL, 0, 0};
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, &start, s_shift_item,
                        list);
}

static void
s_shifts_free (s_shifts_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        pm__staffing__shift__free_unpacked (list->items[i], NULL);
    }
    free (list->items);
}

//  --- the rules a rostered shift must pass ---------------------------------------

//  Refuses a shift on a day the site does not operate.
static pm_err
s_check_site (pm_ctx_t *ctx, const site_t *site, const char *date, const char *field)
{
    if (site->status == PM__STAFFING__SITE_STATUS__SITE_CLOSED) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: site %s is closed (%s)", field,
                             site->id, site->status_reason ? site->status_reason : "");
    }
    const char *closure = stf_site_closure (site, date);
    if (closure) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: site %s is closed on %s (%s)",
                             field, site->id, date, closure);
    }
    return PM_OK;
}

//  PM_OK when staff member `staff_id` may work `sh` at `site`; otherwise
//  the command fails with the reason, naming `field`. `ignore` is a shift
//  of theirs that does not count as an overlap (the one being swapped).
static pm_err
s_check (pm_ctx_t *ctx, const site_t *site, const shift_t *sh, const char *staff_id,
         const char *field, const char *ignore)
{
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, staff_id, field, &s);
    if (rc != PM_OK) {
        return rc;
    }
    char end_date[STF_DATE_LEN], when[64];
    stf_tz_local (site->time_zone, sh->end - 1, end_date, NULL, NULL);
    snprintf (when, sizeof when, "%s %s", sh->date, sh->role);
    if (s->status == PM__STAFFING__STAFF_STATUS__TERMINATED
        && strcmp (sh->date, s->end_date) > 0) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, field,
                           "%s: %s is terminated: last working day %s, shift on %s", field,
                           s->id, s->end_date, sh->date);
    }
    else if (strcmp (end_date, s->start_date) < 0) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, field,
                           "%s: %s starts work on %s, shift on %s", field, s->id,
                           s->start_date, sh->date);
    }
    else if (!stf_staff_at_site (s, sh->site_id)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: %s is not attached to site %s",
                           field, s->id, sh->site_id);
    }
    else if (!stf_staff_has_role (s, sh->role)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: %s does not have role %s", field,
                           s->id, sh->role);
    }
    if (rc == PM_OK) {
        rc = s_check_site (ctx, site, sh->date, field);
    }
    if (rc == PM_OK) {
        //  Overlap: any of their shifts that starts before this one ends
        //  and ends after it starts (shifts are at most SHIFT_MAX_MS long).
        s_shifts_t mine;
        rc = s_shifts (pm_ctx_txn (ctx), STF_IX_SHF_BY_STAFF, s->id,
                       sh->start - SHIFT_MAX_MS, sh->end, &mine);
        for (size_t i = 0; rc == PM_OK && i < mine.n; i++) {
            const shift_t *o = mine.items[i];
            if (o->end > sh->start && strcmp (o->id, sh->id) != 0
                && (!ignore || strcmp (o->id, ignore) != 0)) {
                rc = pm_ctx_fail (ctx, PM_ECONFLICT, field,
                                   "%s: %s already works shift %s at %s on %s, which "
                                   "overlaps", field, s->id, o->id, o->site_id, o->date);
            }
        }
        s_shifts_free (&mine);
    }
    if (rc == PM_OK) {
        char why[160];
        rc = stf_leave_during (ctx, s->id, sh->start, sh->end, why, sizeof why);
        if (rc == PM_OK && why[0]) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: %s is on %s", field, s->id,
                               why);
        }
    }
    if (rc == PM_OK) {
        char missing[200];
        rc = stf_credentials_cover (ctx, s, sh->role, sh->date, end_date, missing,
                                    sizeof missing);
        if (rc == PM_OK && missing[0]) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, field, "%s: %s lacks %s", field, s->id,
                               missing);
        }
    }
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  --- templates ---------------------------------------------------------------

//  The length in minutes of a shift from `starts` to `ends` (local).
static int
s_minutes (const char *starts, const char *ends)
{
    int a = stf_hhmm (starts), b = stf_hhmm (ends);
    return b > a ? b - a : b + 1440 - a;
}

//  staffing.CreateShiftTemplate
static pm_err
s_create_template (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__CreateShiftTemplate *req
        = (const Pm__Staffing__CreateShiftTemplate *) body;
    if (!req->template_) {
        return pm_ctx_fail (ctx, PM_EINVAL, "template", "template: is required");
    }
    tpl_t t = *req->template_;
    if (t.id || t.has_version || t.has_created_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "template.id",
                             "template.id: id, version and created_at are set by the "
                             "service; leave them out");
    }
    site_t *site;
    pm_err rc = stf_site (ctx, t.site_id, "template.site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, t.site_id, "template.site_id")) != PM_OK
        || (rc = stf_token (ctx, "template.role", t.role, 32)) != PM_OK
        || (rc = stf_text (ctx, "template.name", t.name, true, 60)) != PM_OK) {
        return rc;
    }
    int starts = stf_hhmm (t.starts), ends = stf_hhmm (t.ends);
    if (starts < 0 || starts == 1440) {
        return pm_ctx_fail (ctx, PM_EINVAL, "template.starts",
                             "template.starts: \"%.10s\" is not a time written HH:MM",
                             t.starts ? t.starts : "");
    }
    if (ends < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "template.ends",
                             "template.ends: \"%.10s\" is not a time written HH:MM",
                             t.ends ? t.ends : "");
    }
    char id[PM_ID_MAX];
    pm_id_new ("sht", pm_ctx_now (ctx), id);
    t.id = id;
    t.has_version = t.has_created_at = 1;
    t.version = 1;
    t.created_at = pm_ctx_now (ctx);
    pm_key_t k;
    pm_key_init (&k, STF_IX_TPL_BY_SITE);
    pm_key_str (&k, t.site_id);
    pm_key_str (&k, t.id);
    rc = stf_index (pm_ctx_txn (ctx), stf_db.index, &k, t.id, true);
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.templates, t.id, &t.base,
                         "staffing.shift_template.created", t.site_id);
    }
    return rc;
}

//  A list of records named by the entries of one index prefix.
typedef struct {
    MDB_txn *txn;
    MDB_dbi records;
    const ProtobufCMessageDescriptor *desc;
    ProtobufCMessage **items;
    size_t n, cap;
} s_named_t;

static int
s_named_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_named_t *list = arg;
    if (list->n == STF_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (list->txn, list->records, id, strlen (id),
                                  list->desc, &m);
    if (rc != PM_OK) {
        return rc;
    }
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->items = realloc (list->items, list->cap * sizeof *list->items);
    }
    list->items[list->n++] = m;
    return 0;
}

static pm_err
s_named (MDB_txn *txn, char tag, const char *site, MDB_dbi records,
         const ProtobufCMessageDescriptor *desc, s_named_t *list)
{
    pm_key_t prefix;
    pm_key_init (&prefix, tag);
    pm_key_str (&prefix, site);
    *list = (s_named_t) {txn, records, desc, NULL, 0, 0};
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, NULL, s_named_item,
                        list);
}

static void
s_named_free (s_named_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        protobuf_c_message_free_unpacked (list->items[i], NULL);
    }
    free (list->items);
}

//  staffing.ListShiftTemplates
static pm_err
s_list_templates (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListShiftTemplates *q
        = (const Pm__Staffing__ListShiftTemplates *) body;
    site_t *site;
    pm_err rc = stf_site (ctx, q->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    s_named_t list;
    rc = s_named (pm_ctx_txn (ctx), STF_IX_TPL_BY_SITE, q->site_id, stf_db.templates,
                  &pm__staffing__shift_template__descriptor, &list);
    if (rc == PM_OK) {
        Pm__Staffing__ShiftTemplateList out = PM__STAFFING__SHIFT_TEMPLATE_LIST__INIT;
        out.n_templates = list.n;
        out.templates = (tpl_t **) list.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    s_named_free (&list);
    return rc;
}

//  --- making and assigning shifts --------------------------------------------------

//  staffing.AddShifts
static pm_err
s_add_shifts (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__AddShifts *req = (const Pm__Staffing__AddShifts *) body;
    pm_err rc = stf_date (ctx, "from_date", req->from_date);
    if (rc == PM_OK) {
        rc = stf_date (ctx, "to_date", req->to_date);
    }
    if (rc != PM_OK) {
        return rc;
    }
    long days = stf_date_diff (req->from_date, req->to_date);
    if (days < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to_date", "to_date: %s is before from_date %s",
                             req->to_date, req->from_date);
    }
    if (days >= RANGE_DAYS_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to_date",
                             "to_date: at most %d days from from_date", RANGE_DAYS_MAX);
    }
    bool weekday[8] = {false};
    for (size_t i = 0; i < req->n_weekdays; i++) {
        if (req->weekdays[i] < 1 || req->weekdays[i] > 7) {
            return pm_ctx_fail (ctx, PM_EINVAL, "weekdays",
                                 "weekdays: 1 (Monday) to 7 (Sunday)");
        }
        weekday[req->weekdays[i]] = true;
    }
    if (req->staff_id && *req->staff_id
        && (rc = stf_id (ctx, "staff_id", req->staff_id, "stf")) != PM_OK) {
        return rc;
    }
    tpl_t *t;
    rc = stf_load (ctx, stf_db.templates, req->template_id,
                   &pm__staffing__shift_template__descriptor, "template_id",
                   "shift template", &t);
    if (rc != PM_OK) {
        return rc;
    }
    site_t *site = NULL;
    rc = stf_site (ctx, t->site_id, "template_id", &site);
    if (rc == PM_OK) {
        rc = stf_access (ctx, t->site_id, "template_id");
    }
    bool assigned = req->staff_id && *req->staff_id;
    int starts = stf_hhmm (t->starts), length = s_minutes (t->starts, t->ends);
    size_t cap = (size_t) days + 1, n = 0;
    shift_t *made = calloc (cap, sizeof *made);
    shift_t **ptrs = calloc (cap, sizeof *ptrs);
    char (*ids)[PM_ID_MAX] = calloc (cap, PM_ID_MAX);
    char (*dates)[STF_DATE_LEN] = calloc (cap, STF_DATE_LEN);
    for (long d = 0; rc == PM_OK && d <= days; d++) {
        char *date = dates[n];
        stf_date_add (req->from_date, (int) d, date);
        if (req->n_weekdays && !weekday[stf_date_weekday (date)]) {
            continue;
        }
        shift_t *sh = &made[n];
        pm__staffing__shift__init (sh);
        pm_id_new ("shf", pm_ctx_now (ctx), ids[n]);
        sh->id = ids[n];
        sh->site_id = t->site_id;
        sh->role = t->role;
        sh->template_id = t->id;
        sh->date = date;
        sh->has_start = sh->has_end = sh->has_status = sh->has_version = 1;
        sh->has_created_at = sh->has_updated_at = 1;
        stf_tz_instant (site->time_zone, date, starts, &sh->start);
        stf_tz_instant (site->time_zone, date, starts + length, &sh->end);
        sh->version = 1;
        sh->created_at = sh->updated_at = pm_ctx_now (ctx);
        sh->status = assigned ? PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED
                              : PM__STAFFING__SHIFT_STATUS__SHIFT_OPEN;
        sh->staff_id = assigned ? req->staff_id : NULL;
        rc = assigned ? s_check (ctx, site, sh, req->staff_id, "staff_id", NULL)
                      : s_check_site (ctx, site, date, "from_date");
        if (rc == PM_OK) {
            rc = s_save (ctx, NULL, sh, assigned ? "staffing.shift.assigned"
                                                 : "staffing.shift.opened");
        }
        ptrs[n] = sh;
        n++;
    }
    if (rc == PM_OK) {
        Pm__Staffing__ShiftList out = PM__STAFFING__SHIFT_LIST__INIT;
        out.n_shifts = n;
        out.shifts = ptrs;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    free (made);
    free (ptrs);
    free (ids);
    free (dates);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__shift_template__free_unpacked (t, NULL);
    return rc;
}

//  Loads a shift, its site, and checks the caller works there.
static pm_err
s_load_with_site (pm_ctx_t *ctx, const char *id, const char *field, shift_t **sh,
                  site_t **site)
{
    *site = NULL;
    pm_err rc = s_load_shift (ctx, id, field, sh);
    if (rc == PM_OK) {
        rc = stf_site (ctx, (*sh)->site_id, field, site);
    }
    if (rc == PM_OK) {
        rc = stf_access (ctx, (*sh)->site_id, field);
    }
    return rc;
}

//  staffing.AssignShift and staffing.ClaimShift
static pm_err
s_assign (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__AssignShift *req = (const Pm__Staffing__AssignShift *) body;
    shift_t *sh = NULL;
    site_t *site = NULL;
    pm_err rc = stf_id (ctx, "staff_id", req->staff_id, "stf");
    if (rc == PM_OK) {
        rc = stf_acting_as (ctx, req->staff_id, true, "staff_id"); //  claims: their own
    }
    if (rc == PM_OK) {
        rc = s_load_with_site (ctx, req->shift_id, "shift_id", &sh, &site);
    }
    if (rc == PM_OK && sh->status != PM__STAFFING__SHIFT_STATUS__SHIFT_OPEN) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "shift_id", "shift_id: %s is %s", sh->id,
                           sh->status == PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED
                           ? "already assigned"
                           : "cancelled");
    }
    if (rc == PM_OK) {
        rc = s_check (ctx, site, sh, req->staff_id, "staff_id", NULL);
    }
    if (rc == PM_OK) {
        shift_t old = *sh;
        shift_t next = *sh;
        next.status = PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED;
        next.staff_id = req->staff_id;
        next.version++;
        next.updated_at = pm_ctx_now (ctx);
        rc = s_save (ctx, &old, &next, "staffing.shift.assigned");
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &next.base);
        }
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

//  Takes the assignee off `sh` (stored as `sh`): open again, or
//  cancelled. Emits staffing.shift.unassigned when someone's hours go;
//  replies with the shift when `reply`.
static pm_err
s_release (pm_ctx_t *ctx, shift_t *sh, const char *reason, bool cancel, bool reply)
{
    shift_t next = *sh;
    bool was_assigned = sh->status == PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED;
    next.status = cancel ? PM__STAFFING__SHIFT_STATUS__SHIFT_CANCELLED
                         : PM__STAFFING__SHIFT_STATUS__SHIFT_OPEN;
    if (was_assigned) {
        next.released_staff_id = sh->staff_id;
    }
    next.staff_id = NULL;
    next.reason = (char *) reason;
    next.version++;
    next.updated_at = pm_ctx_now (ctx);
    pm_err rc = s_save (ctx, sh, &next, was_assigned ? "staffing.shift.unassigned"
                                                     : "staffing.shift.cancelled");
    if (rc == PM_OK && reply) {
        rc = pm_ctx_reply (ctx, &next.base);
    }
    return rc;
}

//  staffing.UnassignShift and staffing.CancelShift
static pm_err
s_release_cmd (pm_ctx_t *ctx, const ProtobufCMessage *body, bool cancel)
{
    const Pm__Staffing__ReleaseShift *req = (const Pm__Staffing__ReleaseShift *) body;
    pm_err rc = stf_text (ctx, "reason", req->reason, true, 500);
    shift_t *sh = NULL;
    site_t *site = NULL;
    if (rc == PM_OK) {
        rc = s_load_with_site (ctx, req->shift_id, "shift_id", &sh, &site);
    }
    if (rc == PM_OK && sh->status == PM__STAFFING__SHIFT_STATUS__SHIFT_CANCELLED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "shift_id", "shift_id: %s is cancelled",
                           sh->id);
    }
    if (rc == PM_OK && !cancel
        && sh->status != PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "shift_id",
                           "shift_id: %s is open: nobody to unassign", sh->id);
    }
    if (rc == PM_OK) {
        rc = s_release (ctx, sh, req->reason, cancel, true);
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

static pm_err
s_unassign (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_release_cmd (ctx, body, false);
}

static pm_err
s_cancel (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_release_cmd (ctx, body, true);
}

//  --------------------------------------------------------------------------
pm_err
stf_rosters_release (pm_ctx_t *ctx, const char *staff_id, int64_t from, int64_t to,
                     bool within, const char *after_date, const char *reason)
{
    s_shifts_t mine;
    pm_err rc = s_shifts (pm_ctx_txn (ctx), STF_IX_SHF_BY_STAFF, staff_id,
                          from - SHIFT_MAX_MS, to, &mine);
    for (size_t i = 0; rc == PM_OK && i < mine.n; i++) {
        shift_t *sh = mine.items[i];
        bool hit = within ? sh->start >= from && sh->end <= to : sh->end > from;
        if (hit && (!after_date || strcmp (sh->date, after_date) > 0)) {
            rc = s_release (ctx, sh, reason, false, false);
        }
    }
    s_shifts_free (&mine);
    return rc;
}

//  Termination: shifts after the last working day go back to open.
static pm_err
s_on_terminate (pm_ctx_t *ctx, const stf_staff_t *s)
{
    return stf_rosters_release (ctx, s->id, 0, INT64_MAX, false, s->end_date,
                                "staff member terminated");
}

//  --------------------------------------------------------------------------
//  staffing.ListShifts
static pm_err
s_list_shifts (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListShifts *q = (const Pm__Staffing__ListShifts *) body;
    site_t *site;
    pm_err rc = stf_site (ctx, q->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, q->site_id, "site_id")) != PM_OK) {
        return rc;
    }
    if (!q->has_from || !q->has_to || q->from < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, q->has_from ? "to" : "from",
                             "from and to are required (ms UTC)");
    }
    if (q->to <= q->from) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: is not after from");
    }
    if (q->to - q->from > LIST_DAYS_MAX * DAY_MS) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to", "to: at most %d days after from",
                             LIST_DAYS_MAX);
    }
    bool by_staff = q->staff_id && *q->staff_id;
    if (by_staff && (rc = stf_id (ctx, "staff_id", q->staff_id, "stf")) != PM_OK) {
        return rc;
    }
    s_shifts_t list;
    rc = s_shifts (pm_ctx_txn (ctx), by_staff ? STF_IX_SHF_BY_STAFF : STF_IX_SHF_BY_SITE,
                   by_staff ? q->staff_id : q->site_id, q->from, q->to, &list);
    shift_t **kept = calloc (list.n + 1, sizeof *kept);
    size_t n = 0;
    for (size_t i = 0; i < list.n; i++) {
        const shift_t *sh = list.items[i];
        if (strcmp (sh->site_id, q->site_id) == 0
            && (!q->open_only || sh->status == PM__STAFFING__SHIFT_STATUS__SHIFT_OPEN)) {
            kept[n++] = list.items[i];
        }
    }
    if (rc == PM_OK) {
        Pm__Staffing__ShiftList out = PM__STAFFING__SHIFT_LIST__INIT;
        out.n_shifts = n;
        out.shifts = kept;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    free (kept);
    s_shifts_free (&list);
    return rc;
}

//  --- swaps ---------------------------------------------------------------------

typedef Pm__Staffing__SwapRequest swap_t;

//  staffing.RequestSwap
static pm_err
s_request_swap (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__RequestSwap *req = (const Pm__Staffing__RequestSwap *) body;
    pm_err rc = stf_id (ctx, "to_staff_id", req->to_staff_id, "stf");
    if (rc == PM_OK) {
        rc = stf_text (ctx, "reason", req->reason, false, 500);
    }
    shift_t *sh = NULL;
    site_t *site = NULL;
    if (rc == PM_OK) {
        rc = s_load_with_site (ctx, req->shift_id, "shift_id", &sh, &site);
    }
    if (rc == PM_OK && sh->status != PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "shift_id",
                           "shift_id: %s is not assigned: claim it instead", sh->id);
    }
    if (rc == PM_OK) {
        rc = stf_acting_as (ctx, sh->staff_id, true, "shift_id"); //  one's own shift
    }
    if (rc == PM_OK && strcmp (sh->staff_id, req->to_staff_id) == 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to_staff_id",
                           "to_staff_id: %s already works this shift", sh->staff_id);
    }
    if (rc == PM_OK) {
        rc = s_check (ctx, site, sh, req->to_staff_id, "to_staff_id", NULL);
    }
    if (rc == PM_OK) {
        char id[PM_ID_MAX];
        pm_id_new ("swp", pm_ctx_now (ctx), id);
        swap_t w = PM__STAFFING__SWAP_REQUEST__INIT;
        w.id = id;
        w.has_version = w.has_status = w.has_requested_at = 1;
        w.version = 1;
        w.shift_id = sh->id;
        w.from_staff_id = sh->staff_id;
        w.to_staff_id = req->to_staff_id;
        w.status = PM__STAFFING__SWAP_STATUS__SWAP_REQUESTED;
        w.reason = req->reason;
        w.requested_at = pm_ctx_now (ctx);
        rc = stf_commit (ctx, stf_db.swaps, w.id, &w.base, "staffing.swap.requested",
                         sh->site_id);
    }
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

//  staffing.ApproveSwap and staffing.DenySwap
static pm_err
s_decide_swap (pm_ctx_t *ctx, const ProtobufCMessage *body, bool approve)
{
    const Pm__Staffing__DecideSwap *req = (const Pm__Staffing__DecideSwap *) body;
    pm_err rc = stf_text (ctx, "reason", req->reason, !approve, 500);
    swap_t *w = NULL;
    shift_t *sh = NULL;
    site_t *site = NULL;
    if (rc == PM_OK) {
        rc = stf_load (ctx, stf_db.swaps, req->swap_id,
                       &pm__staffing__swap_request__descriptor, "swap_id", "swap request",
                       &w);
    }
    if (rc == PM_OK) {
        rc = s_load_with_site (ctx, w->shift_id, "swap_id", &sh, &site);
    }
    if (rc == PM_OK && w->status != PM__STAFFING__SWAP_STATUS__SWAP_REQUESTED) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "swap_id", "swap_id: %s was already decided",
                           w->id);
    }
    //  The shift may have moved on since the request.
    if (rc == PM_OK && approve
        && (sh->status != PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED
            || strcmp (sh->staff_id, w->from_staff_id) != 0)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "swap_id",
                           "swap_id: shift %s is no longer worked by %s", sh->id,
                           w->from_staff_id);
    }
    if (rc == PM_OK && approve) {
        rc = s_check (ctx, site, sh, w->to_staff_id, "swap_id", NULL);
    }
    if (rc == PM_OK && approve) {
        //  Hours leave one person and go to the other: two events.
        shift_t open = *sh;
        open.status = PM__STAFFING__SHIFT_STATUS__SHIFT_OPEN;
        open.released_staff_id = sh->staff_id;
        open.staff_id = NULL;
        open.reason = "swapped";
        open.version++;
        open.updated_at = pm_ctx_now (ctx);
        rc = s_save (ctx, sh, &open, "staffing.shift.unassigned");
        shift_t taken = open;
        taken.status = PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED;
        taken.staff_id = w->to_staff_id;
        taken.version++;
        if (rc == PM_OK) {
            rc = s_save (ctx, &open, &taken, "staffing.shift.assigned");
        }
    }
    if (rc == PM_OK) {
        char *old_reason = w->decision_reason;
        w->status = approve ? PM__STAFFING__SWAP_STATUS__SWAP_APPROVED
                            : PM__STAFFING__SWAP_STATUS__SWAP_DENIED;
        w->decision_reason = req->reason;
        w->has_decided_at = 1;
        w->decided_at = pm_ctx_now (ctx);
        w->version++;
        rc = stf_commit (ctx, stf_db.swaps, w->id, &w->base,
                         approve ? "staffing.swap.approved" : "staffing.swap.denied",
                         sh->site_id);
        w->decision_reason = old_reason;
    }
    pm__staffing__swap_request__free_unpacked (w, NULL);
    pm__staffing__site__free_unpacked (site, NULL);
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

static pm_err
s_approve_swap (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_decide_swap (ctx, body, true);
}

static pm_err
s_deny_swap (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    return s_decide_swap (ctx, body, false);
}

//  --- coverage ------------------------------------------------------------------

typedef Pm__Staffing__CoverageRule rule_t;

static pm_err
s_cov_index (MDB_txn *txn, const rule_t *r, bool add)
{
    pm_key_t k;
    pm_key_init (&k, STF_IX_COV_BY_SITE);
    pm_key_str (&k, r->site_id);
    pm_key_str (&k, r->id);
    return stf_index (txn, stf_db.index, &k, r->id, add);
}

//  staffing.AddCoverageRule
static pm_err
s_add_rule (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__AddCoverageRule *req
        = (const Pm__Staffing__AddCoverageRule *) body;
    if (!req->rule) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule", "rule: is required");
    }
    rule_t r = *req->rule;
    if (r.id || r.has_created_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.id",
                             "rule.id: id and created_at are set by the service");
    }
    site_t *site;
    pm_err rc = stf_site (ctx, r.site_id, "rule.site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, r.site_id, "rule.site_id")) != PM_OK
        || (rc = stf_token (ctx, "rule.role", r.role, 32)) != PM_OK) {
        return rc;
    }
    for (size_t i = 0; i < r.n_weekdays; i++) {
        if (r.weekdays[i] < 1 || r.weekdays[i] > 7) {
            return pm_ctx_fail (ctx, PM_EINVAL, "rule.weekdays",
                                 "rule.weekdays: 1 (Monday) to 7 (Sunday)");
        }
    }
    int from = stf_hhmm (r.from), to = stf_hhmm (r.to);
    if (from < 0 || from == 1440) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.from",
                             "rule.from: \"%.10s\" is not a time written HH:MM",
                             r.from ? r.from : "");
    }
    if (to < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.to",
                             "rule.to: \"%.10s\" is not a time written HH:MM",
                             r.to ? r.to : "");
    }
    if (!r.has_min_headcount || r.min_headcount < 1 || r.min_headcount > 100) {
        return pm_ctx_fail (ctx, PM_EINVAL, "rule.min_headcount",
                             "rule.min_headcount: 1 to 100");
    }
    char id[PM_ID_MAX];
    pm_id_new ("cov", pm_ctx_now (ctx), id);
    r.id = id;
    r.has_created_at = 1;
    r.created_at = pm_ctx_now (ctx);
    rc = s_cov_index (pm_ctx_txn (ctx), &r, true);
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.coverage, r.id, &r.base, "staffing.coverage.added",
                         r.site_id);
    }
    return rc;
}

//  staffing.RemoveCoverageRule
static pm_err
s_remove_rule (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__RemoveCoverageRule *req
        = (const Pm__Staffing__RemoveCoverageRule *) body;
    rule_t *r;
    pm_err rc = stf_load (ctx, stf_db.coverage, req->rule_id,
                          &pm__staffing__coverage_rule__descriptor, "rule_id",
                          "coverage rule", &r);
    if (rc != PM_OK) {
        return rc;
    }
    rc = stf_access (ctx, r->site_id, "rule_id");
    if (rc == PM_OK) {
        rc = s_cov_index (pm_ctx_txn (ctx), r, false);
    }
    if (rc == PM_OK) {
        rc = pm_store_del (pm_ctx_txn (ctx), stf_db.coverage, r->id, strlen (r->id));
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "staffing.coverage.removed", r->site_id, r->id, &r->base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &r->base);
    }
    pm__staffing__coverage_rule__free_unpacked (r, NULL);
    return rc;
}

static int
s_cmp_i64 (const void *a, const void *b)
{
    int64_t x = *(const int64_t *) a, y = *(const int64_t *) b;
    return (x > y) - (x < y);
}

//  A growing list of spans.
typedef struct {
    stf_span_t *v;
    size_t n, cap;
} s_spans_t;

static void
s_spans_add (s_spans_t *list, int64_t start, int64_t end)
{
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 16;
        list->v = realloc (list->v, list->cap * sizeof *list->v);
    }
    list->v[list->n++] = (stf_span_t) {start, end};
}

static int
s_cmp_span (const void *a, const void *b)
{
    return s_cmp_i64 (&((const stf_span_t *) a)->start, &((const stf_span_t *) b)->start);
}

//  The stretches of [ws, we) people are there in `role`, from `shifts`
//  (the site's, by start): each assigned shift less its person's
//  approved partial leave (whole-day leave has taken them off already).
static pm_err
s_worked (MDB_txn *txn, const char *role, int64_t ws, int64_t we,
          const s_shifts_t *shifts, s_spans_t *out)
{
    enum { HOLES_MAX = 16 };
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < shifts->n; i++) {
        const shift_t *sh = shifts->items[i];
        if (sh->status != PM__STAFFING__SHIFT_STATUS__SHIFT_ASSIGNED
            || strcmp (sh->role, role) != 0 || sh->end <= ws || sh->start >= we) {
            continue;
        }
        stf_span_t holes[HOLES_MAX];
        size_t nh;
        rc = stf_leave_partial (txn, sh->staff_id, sh->start, sh->end, holes, HOLES_MAX, &nh);
        if (nh > 1) {
            qsort (holes, nh, sizeof *holes, s_cmp_span);
        }
        int64_t from = sh->start;
        for (size_t h = 0; rc == PM_OK && h < nh; h++) {
            if (holes[h].start > from) {
                s_spans_add (out, from, holes[h].start);
            }
            from = holes[h].end > from ? holes[h].end : from;
        }
        if (rc == PM_OK && from < sh->end) {
            s_spans_add (out, from, sh->end);
        }
    }
    return rc;
}

//  Appends the stretches of [ws, we) where fewer than the rule's minimum
//  are there (`worked`, in its role).
static void
s_gaps (const rule_t *r, const char *date, int64_t ws, int64_t we,
        const s_spans_t *worked, Pm__Staffing__CoverageGap **gaps, size_t *n,
        size_t *cap, char (**dates)[STF_DATE_LEN])
{
    //  Cut points: the window's ends and every worked edge inside.
    size_t m = 0;
    int64_t *cuts = malloc ((2 * worked->n + 2) * sizeof *cuts);
    cuts[m++] = ws;
    cuts[m++] = we;
    for (size_t i = 0; i < worked->n; i++) {
        const stf_span_t *w = &worked->v[i];
        if (w->start > ws && w->start < we) {
            cuts[m++] = w->start;
        }
        if (w->end > ws && w->end < we) {
            cuts[m++] = w->end;
        }
    }
    qsort (cuts, m, sizeof *cuts, s_cmp_i64);
    Pm__Staffing__CoverageGap *open = NULL;
    for (size_t c = 0; c + 1 < m; c++) {
        int64_t a = cuts[c], b = cuts[c + 1];
        if (a == b) {
            continue;
        }
        uint32_t count = 0;
        for (size_t i = 0; i < worked->n; i++) {
            count += worked->v[i].start <= a && worked->v[i].end >= b;
        }
        if (count >= r->min_headcount) {
            open = NULL;
            continue;
        }
        if (open && open->rostered == count && open->end == a) {
            open->end = b; //  the same shortfall goes on
            continue;
        }
        if (*n == STF_LIST_MAX) {
            break;
        }
        if (*n == *cap) {
            *cap = *cap ? *cap * 2 : 16;
            *gaps = realloc (*gaps, *cap * sizeof **gaps);
            *dates = realloc (*dates, *cap * STF_DATE_LEN);
        }
        open = &(*gaps)[(*n)++];
        pm__staffing__coverage_gap__init (open);
        open->rule_id = r->id;
        open->role = r->role;
        open->has_start = open->has_end = open->has_required = open->has_rostered = 1;
        open->start = a;
        open->end = b;
        open->required = r->min_headcount;
        open->rostered = count;
        snprintf ((*dates)[*n - 1], STF_DATE_LEN, "%s", date);
    }
    free (cuts);
}

//  staffing.CoverageGaps
static pm_err
s_coverage_gaps (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__CoverageGaps *q = (const Pm__Staffing__CoverageGaps *) body;
    pm_err rc = stf_date (ctx, "from_date", q->from_date);
    if (rc == PM_OK) {
        rc = stf_date (ctx, "to_date", q->to_date);
    }
    if (rc != PM_OK) {
        return rc;
    }
    long days = stf_date_diff (q->from_date, q->to_date);
    if (days < 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to_date", "to_date: %s is before from_date %s",
                             q->to_date, q->from_date);
    }
    if (days >= LIST_DAYS_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to_date",
                             "to_date: at most %d days from from_date", LIST_DAYS_MAX);
    }
    site_t *site;
    if ((rc = stf_site (ctx, q->site_id, "site_id", &site)) != PM_OK) {
        return rc;
    }
    if ((rc = stf_access (ctx, q->site_id, "site_id")) != PM_OK) {
        pm__staffing__site__free_unpacked (site, NULL);
        return rc;
    }
    s_named_t rules;
    rc = s_named (pm_ctx_txn (ctx), STF_IX_COV_BY_SITE, q->site_id, stf_db.coverage,
                  &pm__staffing__coverage_rule__descriptor, &rules);
    Pm__Staffing__CoverageGap *gaps = NULL;
    char (*dates)[STF_DATE_LEN] = NULL;
    size_t n = 0, cap = 0;
    for (long d = 0; rc == PM_OK && d <= days; d++) {
        char date[STF_DATE_LEN];
        stf_date_add (q->from_date, (int) d, date);
        int weekday = stf_date_weekday (date);
        for (size_t i = 0; rc == PM_OK && i < rules.n; i++) {
            const rule_t *r = (const rule_t *) rules.items[i];
            bool today = r->n_weekdays == 0;
            for (size_t w = 0; w < r->n_weekdays; w++) {
                today = today || r->weekdays[w] == (uint32_t) weekday;
            }
            if (!today) {
                continue;
            }
            int from = stf_hhmm (r->from), to = stf_hhmm (r->to);
            int64_t ws, we;
            stf_tz_instant (site->time_zone, date, from, &ws);
            stf_tz_instant (site->time_zone, date, to > from ? to : to + 1440, &we);
            s_shifts_t shifts;
            rc = s_shifts (pm_ctx_txn (ctx), STF_IX_SHF_BY_SITE, q->site_id,
                           ws - SHIFT_MAX_MS, we, &shifts);
            s_spans_t worked = {NULL, 0, 0};
            if (rc == PM_OK) {
                rc = s_worked (pm_ctx_txn (ctx), r->role, ws, we, &shifts, &worked);
            }
            if (rc == PM_OK) {
                s_gaps (r, date, ws, we, &worked, &gaps, &n, &cap, &dates);
            }
            free (worked.v);
            s_shifts_free (&shifts);
        }
    }
    if (rc == PM_OK) {
        Pm__Staffing__CoverageGap **ptrs = calloc (n + 1, sizeof *ptrs);
        for (size_t i = 0; i < n; i++) {
            gaps[i].date = dates[i];
            ptrs[i] = &gaps[i];
        }
        Pm__Staffing__CoverageReport out = PM__STAFFING__COVERAGE_REPORT__INIT;
        out.n_gaps = n;
        out.gaps = ptrs;
        out.n_rules = rules.n;
        out.rules = (rule_t **) rules.items;
        rc = pm_ctx_reply (ctx, &out.base);
        free (ptrs);
    }
    free (gaps);
    free (dates);
    s_named_free (&rules);
    pm__staffing__site__free_unpacked (site, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_rosters_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.CreateShiftTemplate", s_create_template);
    pm_server_handle (server, "staffing.ListShiftTemplates", s_list_templates);
    pm_server_handle (server, "staffing.AddShifts", s_add_shifts);
    pm_server_handle (server, "staffing.AssignShift", s_assign);
    pm_server_handle (server, "staffing.ClaimShift", s_assign);
    pm_server_handle (server, "staffing.UnassignShift", s_unassign);
    pm_server_handle (server, "staffing.CancelShift", s_cancel);
    pm_server_handle (server, "staffing.ListShifts", s_list_shifts);
    pm_server_handle (server, "staffing.RequestSwap", s_request_swap);
    pm_server_handle (server, "staffing.ApproveSwap", s_approve_swap);
    pm_server_handle (server, "staffing.DenySwap", s_deny_swap);
    pm_server_handle (server, "staffing.AddCoverageRule", s_add_rule);
    pm_server_handle (server, "staffing.RemoveCoverageRule", s_remove_rule);
    pm_server_handle (server, "staffing.CoverageGaps", s_coverage_gaps);
    stf_staff_on_terminate (s_on_terminate);
}
