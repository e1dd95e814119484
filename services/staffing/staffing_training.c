/*  staffing_training.c: training requirements, completions, statuses
    and overdue warnings (see staffing_training.h).

    Overdue means past the due date in the person's primary site's zone:
    the warning is due at local midnight after the due date. The 'o'
    index holds that instant per (person, course); the timer walks it up
    to now. The status remembers the due date it last warned about, so a
    warning is given once per due date however often the timer runs.    */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_store.h"
#include "staffing_training.h"
#include "staffing_tz.h"

#define TICK_MAX 500
#define COURSES_MAX 64

typedef Pm__Staffing__TrainingStatus status_t;
typedef Pm__Staffing__TrainingRequirement req_t;

//  --- statuses -----------------------------------------------------------------

static void
s_status_key (pm_key_t *k, const char *staff_id, const char *course)
{
    pm_key_init (k, 't');
    pm_key_str (k, staff_id);
    pm_key_str (k, course);
}

//  The zone of `site_id` (64 bytes); UTC when the site is gone.
static pm_err
s_zone (MDB_txn *txn, const char *site_id, char *zone)
{
    Pm__Staffing__Site *site;
    pm_err rc = pm_store_get_msg (txn, stf_db.sites, site_id, strlen (site_id),
                                  &pm__staffing__site__descriptor,
                                  (ProtobufCMessage **) &site);
    snprintf (zone, 64, "%s", rc == PM_OK ? site->time_zone : "UTC");
    if (rc == PM_OK) {
        pm__staffing__site__free_unpacked (site, NULL);
    }
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  Adds or removes the status's entry in the due index (none when there
//  is no due date or its warning was given).
static pm_err
s_due_index (MDB_txn *txn, const status_t *st, bool add)
{
    if (!st->due_date || !*st->due_date
        || (add && st->overdue_notified_for
            && strcmp (st->overdue_notified_for, st->due_date) == 0)) {
        return PM_OK;
    }
    char zone[64], after[STF_DATE_LEN];
    pm_err rc = s_zone (txn, st->site_id, zone);
    int64_t at = 0;
    stf_date_add (st->due_date, 1, after);
    if (rc != PM_OK || !stf_tz_instant (zone, after, 0, &at) || at < 0) {
        return rc;
    }
    pm_key_t k;
    pm_key_init (&k, STF_IX_TRN_DUE);
    pm_key_u64 (&k, (uint64_t) at);
    pm_key_str (&k, st->staff_id);
    pm_key_str (&k, st->course);
    return stf_index (txn, stf_db.index, &k, st->staff_id, add);
}

//  A person's statuses, by course.
typedef struct {
    status_t **items;
    size_t n, cap;
} s_statuses_t;

static int
s_status_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_statuses_t *list = arg;
    status_t *st = pm__staffing__training_status__unpack (NULL, val->mv_size,
                                                           val->mv_data);
    if (!st) {
        return PM_EINTERNAL;
    }
    if (list->n == list->cap) {
        list->cap = list->cap ? list->cap * 2 : 8;
        list->items = realloc (list->items, list->cap * sizeof *list->items);
    }
    list->items[list->n++] = st;
    return 0;
}

static pm_err
s_statuses (MDB_txn *txn, const char *staff_id, s_statuses_t *list)
{
    pm_key_t prefix;
    pm_key_init (&prefix, 't');
    pm_key_str (&prefix, staff_id);
    *list = (s_statuses_t) {NULL, 0, 0};
    return pm_key_scan (txn, stf_db.training, prefix.b, prefix.len, NULL, s_status_item,
                        list);
}

static void
s_statuses_free (s_statuses_t *list)
{
    for (size_t i = 0; i < list->n; i++) {
        pm__staffing__training_status__free_unpacked (list->items[i], NULL);
    }
    free (list->items);
}

//  The last completion date of `course` by `staff_id` into out ("" if
//  none): the index sorts completions by date, so it is the last entry.
static int
s_last_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) val;
    //  key: tag staff 0 course 0 date 0 trn 0
    const char *k = (const char *) key->mv_data + 1;
    size_t left = key->mv_size - 1, skip = 0;
    for (int part = 0; part < 2 && skip < left; part++) {
        skip += strnlen (k + skip, left - skip) + 1;
    }
    if (skip + 10 <= left) {
        snprintf (arg, STF_DATE_LEN, "%.10s", k + skip);
    }
    return 0;
}

static pm_err
s_last_completion (MDB_txn *txn, const char *staff_id, const char *course, char *out)
{
    pm_key_t prefix;
    pm_key_init (&prefix, STF_IX_TRN_BY_STAFF);
    pm_key_str (&prefix, staff_id);
    pm_key_str (&prefix, course);
    out[0] = 0;
    return pm_key_scan (txn, stf_db.index, prefix.b, prefix.len, NULL, s_last_item, out);
}

//  The courses `s`'s roles require, the strictest terms where two roles
//  ask for the same course. Caller frees the requirement messages.
typedef struct {
    req_t terms[COURSES_MAX];
    size_t n;
    Pm__Staffing__RoleRequirements *roles[8];
    size_t n_roles;
} s_required_t;

static pm_err
s_required (MDB_txn *txn, const stf_staff_t *s, s_required_t *req)
{
    req->n = req->n_roles = 0;
    if (s->status == PM__STAFFING__STAFF_STATUS__TERMINATED) {
        return PM_OK;
    }
    for (size_t i = 0; i < s->n_roles && i < 8; i++) {
        Pm__Staffing__RoleRequirements *r;
        pm_err rc = pm_store_get_msg (txn, stf_db.roles, s->roles[i],
                                      strlen (s->roles[i]),
                                      &pm__staffing__role_requirements__descriptor,
                                      (ProtobufCMessage **) &r);
        if (rc == PM_ENOTFOUND) {
            continue;
        }
        if (rc != PM_OK) {
            return rc;
        }
        req->roles[req->n_roles++] = r;
        for (size_t t = 0; t < r->n_trainings; t++) {
            const req_t *need = r->trainings[t];
            size_t j = 0;
            while (j < req->n && strcmp (req->terms[j].course, need->course) != 0) {
                j++;
            }
            if (j == req->n && req->n < COURSES_MAX) {
                req->terms[req->n++] = *need;
            }
            else if (j < req->n) {
                req_t *have = &req->terms[j];
                //  Renewal 0 means never again: any renewal is stricter.
                if (need->renewal_days
                    && (!have->renewal_days || need->renewal_days < have->renewal_days)) {
                    have->renewal_days = need->renewal_days;
                }
                if (need->grace_days < have->grace_days) {
                    have->grace_days = need->grace_days;
                }
            }
        }
    }
    return PM_OK;
}

static void
s_required_free (s_required_t *req)
{
    for (size_t i = 0; i < req->n_roles; i++) {
        pm__staffing__role_requirements__free_unpacked (req->roles[i], NULL);
    }
}

//  --------------------------------------------------------------------------
//  Recomputes every status of `s`.
pm_err
stf_training_refresh (pm_ctx_t *ctx, const stf_staff_t *s)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    s_required_t *req = calloc (1, sizeof *req);
    s_statuses_t old;
    pm_err rc = s_required (txn, s, req);
    if (rc == PM_OK) {
        rc = s_statuses (txn, s->id, &old);
    }
    else {
        old = (s_statuses_t) {NULL, 0, 0};
    }
    //  Statuses of courses no longer required go, with their due entries.
    for (size_t i = 0; rc == PM_OK && i < old.n; i++) {
        status_t *st = old.items[i];
        rc = s_due_index (txn, st, false);
        bool still = false;
        for (size_t j = 0; j < req->n && !still; j++) {
            still = strcmp (req->terms[j].course, st->course) == 0;
        }
        if (rc == PM_OK && !still) {
            pm_key_t k;
            s_status_key (&k, s->id, st->course);
            rc = pm_store_del (txn, stf_db.training, k.b, k.len);
        }
    }
    for (size_t j = 0; rc == PM_OK && j < req->n; j++) {
        const req_t *need = &req->terms[j];
        char last[STF_DATE_LEN], due[STF_DATE_LEN] = "";
        rc = s_last_completion (txn, s->id, need->course, last);
        if (last[0] && need->renewal_days) {
            stf_date_add (last, (int) need->renewal_days, due);
        }
        else if (!last[0]) {
            stf_date_add (s->start_date, (int) need->grace_days, due);
        }
        status_t st = PM__STAFFING__TRAINING_STATUS__INIT;
        st.staff_id = s->id;
        st.course = need->course;
        st.title = need->title;
        st.due_date = due;
        st.last_completed_on = last[0] ? last : NULL;
        st.site_id = (char *) stf_staff_primary_site (s);
        for (size_t i = 0; i < old.n; i++) {
            if (strcmp (old.items[i]->course, need->course) == 0) {
                st.overdue_notified_for = old.items[i]->overdue_notified_for;
            }
        }
        pm_key_t k;
        s_status_key (&k, s->id, need->course);
        if (rc == PM_OK) {
            rc = pm_store_put_msg (txn, stf_db.training, k.b, k.len, &st.base, 0);
        }
        if (rc == PM_OK) {
            rc = s_due_index (txn, &st, true);
        }
    }
    s_statuses_free (&old);
    s_required_free (req);
    free (req);
    return rc;
}

//  Everyone with a role, for a change of its requirements.
typedef struct {
    pm_ctx_t *ctx;
    const char *role;
} s_role_scan_t;

static int
s_role_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_role_scan_t *scan = arg;
    stf_staff_t *s = pm__staffing__staff__unpack (NULL, val->mv_size, val->mv_data);
    if (!s) {
        return PM_EINTERNAL;
    }
    pm_err rc = PM_OK;
    if (stf_staff_has_role (s, scan->role)) {
        rc = stf_training_refresh (scan->ctx, s);
    }
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

pm_err
stf_training_role_changed (pm_ctx_t *ctx, const char *role)
{
    s_role_scan_t scan = {ctx, role};
    return pm_key_scan (pm_ctx_txn (ctx), stf_db.staff, "", 0, NULL, s_role_item, &scan);
}

static pm_err
s_on_change (pm_ctx_t *ctx, const stf_staff_t *s)
{
    return stf_training_refresh (ctx, s);
}

//  --- commands ----------------------------------------------------------------

//  staffing.RecordTraining
static pm_err
s_record (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__RecordTraining *req = (const Pm__Staffing__RecordTraining *) body;
    if (!req->completion) {
        return pm_ctx_fail (ctx, PM_EINVAL, "completion", "completion: is required");
    }
    Pm__Staffing__TrainingCompletion c = *req->completion;
    if (c.id || c.has_recorded_at) {
        return pm_ctx_fail (ctx, PM_EINVAL, "completion.id",
                             "completion.id: id and recorded_at are set by the service");
    }
    pm_err rc = stf_token (ctx, "completion.course", c.course, 48);
    if (rc == PM_OK) {
        rc = stf_date (ctx, "completion.completed_on", c.completed_on);
    }
    if (rc == PM_OK) {
        rc = stf_text (ctx, "completion.evidence", c.evidence, false, 100);
    }
    if (rc != PM_OK) {
        return rc;
    }
    stf_staff_t *s;
    if ((rc = stf_staff_load (ctx, c.staff_id, "completion.staff_id", &s)) != PM_OK) {
        return rc;
    }
    rc = stf_staff_access (ctx, s, false, "completion.staff_id");
    char zone[64], today[STF_DATE_LEN];
    if (rc == PM_OK) {
        rc = s_zone (pm_ctx_txn (ctx), stf_staff_primary_site (s), zone);
    }
    if (rc == PM_OK) {
        stf_today (ctx, zone, today);
        if (strcmp (c.completed_on, today) > 0) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "completion.completed_on",
                               "completion.completed_on: %s is in the future",
                               c.completed_on);
        }
    }
    char id[PM_ID_MAX];
    if (rc == PM_OK) {
        pm_id_new ("trn", pm_ctx_now (ctx), id);
        c.id = id;
        c.has_recorded_at = 1;
        c.recorded_at = pm_ctx_now (ctx);
        pm_key_t k;
        pm_key_init (&k, STF_IX_TRN_BY_STAFF);
        pm_key_str (&k, s->id);
        pm_key_str (&k, c.course);
        pm_key_str (&k, c.completed_on);
        pm_key_str (&k, c.id);
        rc = stf_index (pm_ctx_txn (ctx), stf_db.index, &k, c.id, true);
    }
    if (rc == PM_OK) {
        rc = stf_commit (ctx, stf_db.completions, c.id, &c.base,
                         "staffing.training.completed", stf_staff_primary_site (s));
    }
    if (rc == PM_OK) {
        rc = stf_training_refresh (ctx, s);
    }
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  staffing.ListTraining
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__ListTraining *q = (const Pm__Staffing__ListTraining *) body;
    stf_staff_t *s;
    pm_err rc = stf_staff_load (ctx, q->staff_id, "staff_id", &s);
    if (rc != PM_OK) {
        return rc;
    }
    s_statuses_t list = {NULL, 0, 0};
    rc = stf_staff_access (ctx, s, true, "staff_id");
    if (rc == PM_OK) {
        rc = s_statuses (pm_ctx_txn (ctx), s->id, &list);
    }
    if (rc == PM_OK) {
        Pm__Staffing__TrainingStatusList out = PM__STAFFING__TRAINING_STATUS_LIST__INIT;
        out.n_statuses = list.n;
        out.statuses = list.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    s_statuses_free (&list);
    pm__staffing__staff__free_unpacked (s, NULL);
    return rc;
}

//  Overdue statuses of a site's active staff.
typedef struct {
    MDB_txn *txn;
    const char *today;
    status_t **items;
    stf_staff_t **holders;
    size_t n, cap, n_holders, cap_holders;
} s_overdue_t;

static int
s_overdue_staff (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_overdue_t *ov = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    stf_staff_t *s;
    pm_err rc = pm_store_get_msg (ov->txn, stf_db.staff, id, strlen (id),
                                  &pm__staffing__staff__descriptor,
                                  (ProtobufCMessage **) &s);
    if (rc != PM_OK) {
        return rc;
    }
    if (ov->n_holders == ov->cap_holders) {
        ov->cap_holders = ov->cap_holders ? ov->cap_holders * 2 : 16;
        ov->holders = realloc (ov->holders, ov->cap_holders * sizeof *ov->holders);
    }
    ov->holders[ov->n_holders++] = s;
    s_statuses_t list;
    rc = s_statuses (ov->txn, id, &list);
    for (size_t i = 0; i < list.n; i++) {
        status_t *st = list.items[i];
        if (st->due_date && *st->due_date && strcmp (st->due_date, ov->today) < 0
            && ov->n < STF_LIST_MAX) {
            if (ov->n == ov->cap) {
                ov->cap = ov->cap ? ov->cap * 2 : 16;
                ov->items = realloc (ov->items, ov->cap * sizeof *ov->items);
            }
            st->name = s->name; //  borrowed; unset before freeing
            ov->items[ov->n++] = st;
        }
        else {
            pm__staffing__training_status__free_unpacked (st, NULL);
        }
    }
    free (list.items);
    return rc;
}

static int
s_by_due (const void *a, const void *b)
{
    const status_t *x = *(status_t *const *) a, *y = *(status_t *const *) b;
    int c = strcmp (x->due_date, y->due_date);
    return c ? c : strcmp (x->staff_id, y->staff_id);
}

//  staffing.TrainingOverdue
static pm_err
s_overdue (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Staffing__TrainingOverdue *q = (const Pm__Staffing__TrainingOverdue *) body;
    Pm__Staffing__Site *site;
    pm_err rc = stf_site (ctx, q->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    char today[STF_DATE_LEN];
    stf_today (ctx, site->time_zone, today);
    pm__staffing__site__free_unpacked (site, NULL);
    if ((rc = stf_access (ctx, q->site_id, "site_id")) != PM_OK) {
        return rc;
    }
    s_overdue_t ov = {pm_ctx_txn (ctx), today, NULL, NULL, 0, 0, 0, 0};
    pm_key_t prefix;
    pm_key_init (&prefix, STF_IX_STAFF_BY_SITE);
    pm_key_str (&prefix, q->site_id);
    rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, prefix.b, prefix.len, NULL,
                      s_overdue_staff, &ov);
    if (rc == PM_OK) {
        if (ov.n) {
            qsort (ov.items, ov.n, sizeof *ov.items, s_by_due);
        }
        Pm__Staffing__TrainingStatusList out = PM__STAFFING__TRAINING_STATUS_LIST__INIT;
        out.n_statuses = ov.n;
        out.statuses = ov.items;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    for (size_t i = 0; i < ov.n; i++) {
        ov.items[i]->name = NULL;
        pm__staffing__training_status__free_unpacked (ov.items[i], NULL);
    }
    for (size_t i = 0; i < ov.n_holders; i++) {
        pm__staffing__staff__free_unpacked (ov.holders[i], NULL);
    }
    free (ov.items);
    free (ov.holders);
    return rc;
}

//  --- the timer ----------------------------------------------------------------

typedef struct {
    int64_t now;
    pm_key_t keys[TICK_MAX];
    size_t n;
} s_due_t;

static int
s_due_item (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) val;
    s_due_t *due = arg;
    if (key->mv_size < 9
        || (int64_t) pm_be64_get ((uint8_t *) key->mv_data + 1) > due->now
        || due->n == TICK_MAX) {
        return PM_SCAN_STOP;
    }
    pm_key_t *k = &due->keys[due->n++];
    k->len = key->mv_size < PM_KEY_MAX ? key->mv_size : PM_KEY_MAX;
    memcpy (k->b, key->mv_data, k->len);
    return 0;
}

//  Warns about one (person, course) if it is overdue and not yet warned
//  about for this due date.
static pm_err
s_warn (pm_ctx_t *ctx, const pm_key_t *due_key)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    //  due key: tag be64 staff 0 course 0
    const char *staff_id = (const char *) due_key->b + 9;
    size_t left = due_key->len - 9, n = strnlen (staff_id, left);
    if (n + 1 >= left) {
        return PM_OK;
    }
    const char *course = staff_id + n + 1;
    pm_key_t k;
    s_status_key (&k, staff_id, course);
    status_t *st;
    pm_err rc = pm_store_get_msg (txn, stf_db.training, k.b, k.len,
                                  &pm__staffing__training_status__descriptor,
                                  (ProtobufCMessage **) &st);
    if (rc != PM_OK) {
        return rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    char zone[64], today[STF_DATE_LEN];
    rc = s_zone (txn, st->site_id, zone);
    stf_today (ctx, zone, today);
    bool due = st->due_date && *st->due_date
               && (!st->overdue_notified_for
                   || strcmp (st->overdue_notified_for, st->due_date) != 0);
    if (rc == PM_OK && due && strcmp (st->due_date, today) < 0) {
        char *old = st->overdue_notified_for;
        st->overdue_notified_for = st->due_date;
        rc = pm_store_put_msg (txn, stf_db.training, k.b, k.len, &st->base, 0);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "staffing.training.overdue", st->site_id, st->staff_id,
                              &st->base);
        }
        st->overdue_notified_for = old;
    }
    else if (rc == PM_OK && due) {
        rc = s_due_index (txn, st, true); //  an early entry: put it back right
    }
    pm__staffing__training_status__free_unpacked (st, NULL);
    return rc;
}

pm_err
stf_training_tick (pm_ctx_t *ctx)
{
    s_due_t *due = calloc (1, sizeof *due);
    due->now = pm_ctx_now (ctx);
    const char tag = STF_IX_TRN_DUE;
    pm_err rc = pm_key_scan (pm_ctx_txn (ctx), stf_db.index, &tag, 1, NULL, s_due_item, due);
    for (size_t i = 0; rc == PM_OK && i < due->n; i++) {
        rc = pm_store_del (pm_ctx_txn (ctx), stf_db.index, due->keys[i].b,
                           due->keys[i].len);
        if (rc == PM_OK) {
            rc = s_warn (ctx, &due->keys[i]);
        }
    }
    free (due);
    return rc;
}

//  --------------------------------------------------------------------------
void
stf_training_setup (pm_server_t *server)
{
    pm_server_handle (server, "staffing.RecordTraining", s_record);
    pm_server_handle (server, "staffing.ListTraining", s_list);
    pm_server_handle (server, "staffing.TrainingOverdue", s_overdue);
    stf_staff_on_change (s_on_change);
}
