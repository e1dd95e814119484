/*  recruitment_interviews.c: interviews, their slots and scorecards.

    Availability: staffing's stream gives each person's rostered hours
    (staffing.shift.assigned adds [start, end) at a site, .unassigned
    takes them away), approved leave (a UTC range) and each site's zone.
    A panel member is free when rostered at the application's site, not on
    leave and in no other booked interview. Slots lie where the whole
    panel is free, inside one local day of the site, on a grid from local
    midnight (libical: DST days are 23 or 25 hours long).

    Booking is the candidate's pick: the command checks every interviewer
    again in its own transaction and writes their 'I' entries there, and
    write transactions run one after another, so of two picks that
    overlap for anyone exactly one is booked. The application moves to
    INTERVIEW_SCHEDULED through the pipeline table.

    Scorecards: each panel member (known by the principal name the panel
    gives) submits their own once the interview began, once; amending
    needs the scorecard's version. The last one completes the interview;
    only then may the application move to INTERVIEW_DONE.               */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_interviews.h"
#include "recruitment_pipeline.h"
#include "recruitment_tz.h"
#include "staffing.pb-c.h"

#define PANEL_MAX 8
#define DAY_MS (86400LL * 1000)
#define MIN_MS (60LL * 1000)
#define TIME_MAX 253402300799999LL //  9999-12-31T23:59:59.999Z: sums with
                                   //  durations stay inside int64 (F9)
//  How far back a scan starts so that a record that began earlier but
//  still covers the window is seen: shifts are at most a (DST) day and a
//  bit, interviews at most 8 hours, leave at most a year.
#define SHIFT_BACK (2 * DAY_MS)
#define ITV_BACK DAY_MS
#define LEAVE_BACK (370 * DAY_MS)
#define RANGE_DAYS_MAX 31
#define SLOTS_DEFAULT 100
#define SLOTS_MAX 500

#define ST(x) PM__RECRUITMENT__INTERVIEW_STATUS__INTERVIEW_##x

typedef Pm__Recruitment__Interview rec_itv_t;

//  --- intervals -----------------------------------------------------------------

typedef struct {
    int64_t s, e;
} s_iv_t;

typedef struct {
    s_iv_t *v;
    size_t n, cap;
} s_ivs_t;

static void
s_ivs_add (s_ivs_t *l, int64_t s, int64_t e)
{
    if (e <= s) {
        return;
    }
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 16;
        l->v = realloc (l->v, l->cap * sizeof *l->v);
    }
    l->v[l->n++] = (s_iv_t) {s, e};
}

static int
s_iv_cmp (const void *a, const void *b)
{
    const s_iv_t *x = a, *y = b;
    return x->s < y->s ? -1 : x->s > y->s;
}

//  Sorts and joins touching or overlapping intervals.
static void
s_ivs_merge (s_ivs_t *l)
{
    if (l->n < 2) {
        return;
    }
    qsort (l->v, l->n, sizeof *l->v, s_iv_cmp);
    size_t out = 0;
    for (size_t i = 1; i < l->n; i++) {
        if (l->v[i].s <= l->v[out].e) {
            l->v[out].e = l->v[i].e > l->v[out].e ? l->v[i].e : l->v[out].e;
        }
        else {
            l->v[++out] = l->v[i];
        }
    }
    l->n = out + 1;
}

//  a minus [s, e), into a (a is merged).
static void
s_ivs_cut (s_ivs_t *a, int64_t s, int64_t e)
{
    s_ivs_t r = {NULL, 0, 0};
    for (size_t i = 0; i < a->n; i++) {
        s_iv_t x = a->v[i];
        if (e <= x.s || s >= x.e) {
            s_ivs_add (&r, x.s, x.e);
            continue;
        }
        s_ivs_add (&r, x.s, s);
        s_ivs_add (&r, e, x.e);
    }
    free (a->v);
    *a = r;
}

//  a intersected with b, into a (both merged).
static void
s_ivs_and (s_ivs_t *a, const s_ivs_t *b)
{
    s_ivs_t r = {NULL, 0, 0};
    for (size_t i = 0, j = 0; i < a->n && j < b->n;) {
        int64_t s = a->v[i].s > b->v[j].s ? a->v[i].s : b->v[j].s;
        int64_t e = a->v[i].e < b->v[j].e ? a->v[i].e : b->v[j].e;
        s_ivs_add (&r, s, e);
        if (a->v[i].e < b->v[j].e) {
            i++;
        }
        else {
            j++;
        }
    }
    free (a->v);
    *a = r;
}

//  --- the availability projection ------------------------------------------------

//  Calls fn for each entry tag staff 0 be64 start ... with start in
//  [lo - back, hi): its start, the value and the id after the start.
typedef pm_err (s_entry_fn) (int64_t start, const MDB_val *val, const char *id,
                             void *arg);

static pm_err
s_walk (pm_ctx_t *ctx, char tag, const char *staff, int64_t lo, int64_t hi,
        s_entry_fn *fn, void *arg)
{
    pm_key_t k;
    pm_key_init (&k, tag);
    pm_key_str (&k, staff);
    size_t plen = k.len;
    pm_key_u64 (&k, (uint64_t) (lo > 0 ? lo : 0));
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (pm_ctx_txn (ctx), rec_db.index,
                                                  &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key = {k.len, k.b}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && rc == PM_OK && key.mv_size > plen + 8
           && memcmp (key.mv_data, k.b, plen) == 0) {
        const uint8_t *p = key.mv_data;
        int64_t start = (int64_t) pm_be64_get (p + plen);
        if (start >= hi) {
            break;
        }
        char id[PM_ID_MAX];
        size_t n = key.mv_size - plen - 8;
        n = n > PM_ID_MAX ? PM_ID_MAX : n;
        memcpy (id, p + plen + 8, n);
        id[n - 1] = 0;
        rc = fn (start, &val, id, arg);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    if (rc == PM_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = pm_err_from_mdb (mrc);
    }
    mdb_cursor_close (cursor);
    return rc;
}

//  What one person's time looks like in a window.
typedef struct {
    const char *site;          //  shifts count at this site only
    const char *skip;          //  an interview not to count (rescheduling)
    s_ivs_t shifts, leave, busy;
    char busy_id[PM_ID_MAX];   //  one interview in the way, for messages
} s_person_t;

static pm_err
s_shift_one (int64_t start, const MDB_val *val, const char *id, void *arg)
{
    (void) id;
    s_person_t *p = arg;
    if (val->mv_size < 8) {
        return PM_OK;
    }
    const uint8_t *v = val->mv_data;
    size_t slen = val->mv_size - 8;
    if (slen == strlen (p->site) && memcmp (v + 8, p->site, slen) == 0) {
        s_ivs_add (&p->shifts, start, (int64_t) pm_be64_get (v));
    }
    return PM_OK;
}

static pm_err
s_leave_one (int64_t start, const MDB_val *val, const char *id, void *arg)
{
    (void) id;
    s_person_t *p = arg;
    if (val->mv_size >= 8) {
        s_ivs_add (&p->leave, start, (int64_t) pm_be64_get (val->mv_data));
    }
    return PM_OK;
}

static pm_err
s_busy_one (int64_t start, const MDB_val *val, const char *id, void *arg)
{
    s_person_t *p = arg;
    if (val->mv_size >= 8 && !(p->skip && strcmp (p->skip, id) == 0)) {
        int64_t end = (int64_t) pm_be64_get (val->mv_data);
        size_t before = p->busy.n;
        s_ivs_add (&p->busy, start, end);
        if (p->busy.n > before) {
            snprintf (p->busy_id, sizeof p->busy_id, "%s", id);
        }
    }
    return PM_OK;
}

//  Loads staff's rostered hours (at site), leave and interviews that
//  touch [lo, hi).
static pm_err
s_person (pm_ctx_t *ctx, const char *staff, const char *site, const char *skip,
          int64_t lo, int64_t hi, s_person_t *p)
{
    memset (p, 0, sizeof *p);
    p->site = site;
    p->skip = skip;
    pm_err rc = s_walk (ctx, REC_IX_SHIFT, staff, lo - SHIFT_BACK, hi, s_shift_one, p);
    if (rc == PM_OK) {
        rc = s_walk (ctx, REC_IX_LEAVE, staff, lo - LEAVE_BACK, hi, s_leave_one, p);
    }
    if (rc == PM_OK) {
        rc = s_walk (ctx, REC_IX_ITV_BY_STAFF, staff, lo - ITV_BACK, hi, s_busy_one, p);
    }
    s_ivs_merge (&p->shifts);
    return rc;
}

static void
s_person_free (s_person_t *p)
{
    free (p->shifts.v);
    free (p->leave.v);
    free (p->busy.v);
}

//  Their free time inside [lo, hi) (merged).
static void
s_person_free_time (const s_person_t *p, int64_t lo, int64_t hi, s_ivs_t *out)
{
    *out = (s_ivs_t) {NULL, 0, 0};
    for (size_t i = 0; i < p->shifts.n; i++) {
        int64_t s = p->shifts.v[i].s > lo ? p->shifts.v[i].s : lo;
        int64_t e = p->shifts.v[i].e < hi ? p->shifts.v[i].e : hi;
        s_ivs_add (out, s, e);
    }
    for (size_t i = 0; i < p->leave.n; i++) {
        s_ivs_cut (out, p->leave.v[i].s, p->leave.v[i].e);
    }
    for (size_t i = 0; i < p->busy.n; i++) {
        s_ivs_cut (out, p->busy.v[i].s, p->busy.v[i].e);
    }
}

//  The zone of `site` as followed from staffing into zone (64+1 bytes).
static pm_err
s_zone (pm_ctx_t *ctx, const char *site, char *zone, const char *field)
{
    pm_key_t k;
    pm_key_init (&k, REC_IX_ZONE);
    pm_key_str (&k, site);
    MDB_val val;
    pm_err rc = pm_store_get (pm_ctx_txn (ctx), rec_db.index, k.b, k.len, &val);
    if (rc == PM_ENOTFOUND || (rc == PM_OK && (val.mv_size == 0 || val.mv_size > 64))) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, field,
                            "%s: site %s is not known from staffing (yet): no time zone",
                            field, site);
    }
    if (rc == PM_OK) {
        memcpy (zone, val.mv_data, val.mv_size);
        zone[val.mv_size] = 0;
    }
    return rc;
}

//  --- following staffing -----------------------------------------------------------

static pm_err
s_put (pm_ctx_t *ctx, const pm_key_t *k, const void *val, size_t len)
{
    return pm_store_put (pm_ctx_txn (ctx), rec_db.index, k->b, k->len, val, len, 0);
}

static pm_err
s_del (pm_ctx_t *ctx, const pm_key_t *k)
{
    pm_err rc = pm_store_del (pm_ctx_txn (ctx), rec_db.index, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  --------------------------------------------------------------------------
//  A site's zone.
static pm_err
s_feed_site (pm_ctx_t *ctx, const Pm__Event *ev)
{
    Pm__Staffing__Site *s = pm__staffing__site__unpack (NULL, ev->data.len, ev->data.data);
    pm_err rc;
    if (!s || !s->id || !*s->id || !s->time_zone || !*s->time_zone
        || strlen (s->time_zone) > 64) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a site with a time zone");
    }
    else {
        pm_key_t k;
        pm_key_init (&k, REC_IX_ZONE);
        pm_key_str (&k, s->id);
        rc = s_put (ctx, &k, s->time_zone, strlen (s->time_zone));
    }
    pm__staffing__site__free_unpacked (s, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Rostered hours: assigned adds them for staff_id, unassigned withdraws
//  them for released_staff_id.
static pm_err
s_feed_shift (pm_ctx_t *ctx, const Pm__Event *ev, bool assigned)
{
    Pm__Staffing__Shift *sh = pm__staffing__shift__unpack (NULL, ev->data.len,
                                                           ev->data.data);
    const char *who = sh ? (assigned ? sh->staff_id : sh->released_staff_id) : NULL;
    pm_err rc;
    if (!sh || !sh->id || !sh->site_id || !who || !*who || sh->end <= sh->start
        || strlen (sh->site_id) > 64) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not an assigned shift");
    }
    else {
        pm_key_t k;
        pm_key_init (&k, REC_IX_SHIFT);
        pm_key_str (&k, who);
        pm_key_u64 (&k, (uint64_t) sh->start);
        pm_key_str (&k, sh->id);
        if (assigned) {
            uint8_t val[8 + 64];
            size_t slen = strlen (sh->site_id);
            pm_be64_put (val, (uint64_t) sh->end);
            memcpy (val + 8, sh->site_id, slen);
            rc = s_put (ctx, &k, val, 8 + slen);
        }
        else {
            rc = s_del (ctx, &k);
        }
    }
    pm__staffing__shift__free_unpacked (sh, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  Approved leave adds its UTC range; cancelled leave removes it.
static pm_err
s_feed_leave (pm_ctx_t *ctx, const Pm__Event *ev, bool approved)
{
    Pm__Staffing__Leave *lv = pm__staffing__leave__unpack (NULL, ev->data.len,
                                                           ev->data.data);
    pm_err rc;
    if (!lv || !lv->id || !lv->staff_id || !*lv->staff_id || lv->end <= lv->start) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data", "not a leave with a range");
    }
    else {
        pm_key_t k;
        pm_key_init (&k, REC_IX_LEAVE);
        pm_key_str (&k, lv->staff_id);
        pm_key_u64 (&k, (uint64_t) lv->start);
        pm_key_str (&k, lv->id);
        uint8_t val[8];
        pm_be64_put (val, (uint64_t) lv->end);
        rc = approved ? s_put (ctx, &k, val, 8) : s_del (ctx, &k);
    }
    pm__staffing__leave__free_unpacked (lv, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
pm_err
rec_itv_feed_staffing (pm_ctx_t *ctx, const Pm__Event *event)
{
    const char *t = event->type ? event->type : "";
    if (strncmp (t, "staffing.site.", 14) == 0) {
        return s_feed_site (ctx, event);
    }
    if (strcmp (t, "staffing.shift.assigned") == 0) {
        return s_feed_shift (ctx, event, true);
    }
    if (strcmp (t, "staffing.shift.unassigned") == 0) {
        return s_feed_shift (ctx, event, false);
    }
    if (strcmp (t, "staffing.leave.approved") == 0) {
        return s_feed_leave (ctx, event, true);
    }
    if (strcmp (t, "staffing.leave.cancelled") == 0) {
        return s_feed_leave (ctx, event, false);
    }
    return PM_OK; //  nothing interviews need
}

//  --------------------------------------------------------------------------
pm_err
rec_itv_reset_staffing (pm_ctx_t *ctx, const char *source)
{
    (void) source;
    const char tags[] = {REC_IX_SHIFT, REC_IX_LEAVE, REC_IX_ZONE};
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < sizeof tags; i++) {
        rc = pm_key_drop (pm_ctx_txn (ctx), rec_db.index, &tags[i], 1);
    }
    return rc;
}

//  --- validation --------------------------------------------------------------------

//  The panel: 1..8 distinct staff ids, each with a principal name.
static pm_err
s_check_panel (pm_ctx_t *ctx, Pm__Recruitment__PanelMember *const *panel, size_t n)
{
    if (n < 1 || n > PANEL_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "panel", "panel: 1 to %d interviewers",
                            PANEL_MAX);
    }
    char field[48];
    for (size_t i = 0; i < n; i++) {
        snprintf (field, sizeof field, "panel[%zu].staff_id", i);
        if (!panel[i]->staff_id || !pm_id_valid (panel[i]->staff_id, "stf")) {
            return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: \"%.40s\" is not a staff id",
                                field, panel[i]->staff_id ? panel[i]->staff_id : "");
        }
        for (size_t j = 0; j < i; j++) {
            if (strcmp (panel[j]->staff_id, panel[i]->staff_id) == 0) {
                return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s is on the panel twice",
                                    field, panel[i]->staff_id);
            }
        }
        snprintf (field, sizeof field, "panel[%zu].principal", i);
        pm_err rc = rec_text (ctx, field, panel[i]->principal, true, PM_NAME_MAX - 1);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

static pm_err
s_check_duration (pm_ctx_t *ctx, bool has, uint32_t minutes)
{
    if (!has || minutes < 15 || minutes > 480) {
        return pm_ctx_fail (ctx, PM_EINVAL, "duration_minutes",
                            "duration_minutes: is required, 15..480");
    }
    return PM_OK;
}

//  --- proposing slots ------------------------------------------------------------------

//  --------------------------------------------------------------------------
//  recruitment.ProposeInterviewSlots
static pm_err
s_propose (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ProposeInterviewSlots *req = (const void *) body;
    pm_err rc = s_check_panel (ctx, req->panel, req->n_panel);
    if (rc == PM_OK) {
        rc = s_check_duration (ctx, req->has_duration_minutes, req->duration_minutes);
    }
    if (rc == PM_OK) {
        rc = rec_date (ctx, "from_date", req->from_date);
    }
    if (rc == PM_OK) {
        rc = rec_date (ctx, "to_date", req->to_date);
    }
    long days = rc == PM_OK ? rec_date_diff (req->from_date, req->to_date) : 0;
    if (rc == PM_OK && (days < 0 || days >= RANGE_DAYS_MAX)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "to_date",
                          "to_date: must be from_date or up to %d days after it",
                          RANGE_DAYS_MAX - 1);
    }
    uint32_t step = req->has_step_minutes ? req->step_minutes : 30;
    if (rc == PM_OK && (step < 5 || step > 240)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "step_minutes", "step_minutes: must be 5..240");
    }
    uint32_t max = req->has_max_slots && req->max_slots ? req->max_slots : SLOTS_DEFAULT;
    if (rc == PM_OK && max > SLOTS_MAX) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "max_slots", "max_slots: at most %d", SLOTS_MAX);
    }
    if (rc != PM_OK) {
        return rc;
    }
    rec_app_t *app;
    rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    char zone[65];
    rc = s_zone (ctx, app->site_id, zone, "application_id");
    Pm__Recruitment__SlotList list = PM__RECRUITMENT__SLOT_LIST__INIT;
    list.time_zone = zone;
    list.slots = calloc (max, sizeof *list.slots);
    int64_t dur = (int64_t) req->duration_minutes * MIN_MS, grid = (int64_t) step * MIN_MS;
    int64_t now = pm_ctx_now (ctx);
    char date[REC_DATE_LEN], next[REC_DATE_LEN];
    snprintf (date, sizeof date, "%s", req->from_date);
    for (long d = 0; rc == PM_OK && d <= days && list.n_slots < max; d++) {
        int64_t lo, hi;
        rec_date_add (date, 1, next);
        if (!rec_tz_midnight (zone, date, &lo) || !rec_tz_midnight (zone, next, &hi)) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "application_id",
                              "application_id: the site's zone %s is unknown here", zone);
            break;
        }
        //  Free where the whole panel is free this local day.
        s_ivs_t common = {NULL, 0, 0};
        for (size_t i = 0; rc == PM_OK && i < req->n_panel; i++) {
            s_person_t p;
            s_ivs_t mine;
            rc = s_person (ctx, req->panel[i]->staff_id, app->site_id, NULL, lo, hi, &p);
            s_person_free_time (&p, lo > now ? lo : now, hi, &mine);
            s_person_free (&p);
            if (i == 0) {
                common = mine;
            }
            else {
                s_ivs_and (&common, &mine);
                free (mine.v);
            }
        }
        for (size_t i = 0; rc == PM_OK && i < common.n && list.n_slots < max; i++) {
            int64_t t = lo + ((common.v[i].s - lo + grid - 1) / grid) * grid;
            for (; t + dur <= common.v[i].e && list.n_slots < max; t += grid) {
                Pm__Recruitment__Slot *s = malloc (sizeof *s);
                pm__recruitment__slot__init (s);
                s->has_start = s->has_end = 1;
                s->start = t;
                s->end = t + dur;
                s->local_date = strdup (date);
                int minute = 0;
                rec_tz_local (zone, t, NULL, &minute);
                s->local_start = malloc (6);
                snprintf (s->local_start, 6, "%02d:%02d", minute / 60, minute % 60);
                list.slots[list.n_slots++] = s;
            }
        }
        free (common.v);
        snprintf (date, sizeof date, "%s", next);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &list.base);
    }
    for (size_t i = 0; i < list.n_slots; i++) {
        pm__recruitment__slot__free_unpacked (list.slots[i], NULL);
    }
    free (list.slots);
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  --- booking ------------------------------------------------------------------------

//  Refuses [start, end) when it is not inside one local day of the site,
//  or when any panel member is not free all of it (naming who and why).
static pm_err
s_check_free (pm_ctx_t *ctx, const char *site, Pm__Recruitment__PanelMember *const *panel,
              size_t n, int64_t start, int64_t end, const char *skip)
{
    char zone[65];
    pm_err rc = s_zone (ctx, site, zone, "start");
    if (rc != PM_OK) {
        return rc;
    }
    if (start <= pm_ctx_now (ctx)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "start", "start: must be after now");
    }
    char d1[REC_DATE_LEN], d2[REC_DATE_LEN];
    if (!rec_tz_local (zone, start, d1, NULL) || !rec_tz_local (zone, end - 1, d2, NULL)
        || strcmp (d1, d2) != 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "start",
                            "start: an interview lies inside one local day at %s (%s)",
                            site, zone);
    }
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        s_person_t p;
        rc = s_person (ctx, panel[i]->staff_id, site, skip, start, end, &p);
        const char *why = NULL;
        bool covered = false;
        for (size_t j = 0; j < p.shifts.n; j++) {
            covered |= p.shifts.v[j].s <= start && p.shifts.v[j].e >= end;
        }
        for (size_t j = 0; !why && j < p.leave.n; j++) {
            if (p.leave.v[j].s < end && p.leave.v[j].e > start) {
                why = "is on leave then";
            }
        }
        bool busy = false;
        for (size_t j = 0; j < p.busy.n; j++) {
            busy |= p.busy.v[j].s < end && p.busy.v[j].e > start;
        }
        if (rc == PM_OK && why) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start", "start: %s %s",
                              panel[i]->staff_id, why);
        }
        else if (rc == PM_OK && busy) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start",
                              "start: %s has another interview then (%s)",
                              panel[i]->staff_id, p.busy_id);
        }
        else if (rc == PM_OK && !covered) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "start",
                              "start: %s is not rostered at %s for all of it",
                              panel[i]->staff_id, site);
        }
        s_person_free (&p);
    }
    return rc;
}

//  Adds or removes the interviewers' 'I' entries of an interview.
static pm_err
s_occupy (pm_ctx_t *ctx, const rec_itv_t *itv, bool add)
{
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < itv->n_panel; i++) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_ITV_BY_STAFF);
        pm_key_str (&k, itv->panel[i]->staff_id);
        pm_key_u64 (&k, (uint64_t) itv->start);
        pm_key_str (&k, itv->id);
        uint8_t val[8];
        pm_be64_put (val, (uint64_t) itv->end);
        rc = add ? s_put (ctx, &k, val, 8) : s_del (ctx, &k);
    }
    return rc;
}

//  Appends a stamped change to the interview's history.
static void
s_history (pm_ctx_t *ctx, rec_itv_t *itv, const char *reason)
{
    Pm__Recruitment__InterviewChange *ch = malloc (sizeof *ch);
    pm__recruitment__interview_change__init (ch);
    ch->has_status = ch->has_start = ch->has_end = ch->has_at = 1;
    ch->status = itv->status;
    ch->start = itv->start;
    ch->end = itv->end;
    ch->actor = strdup (pm_ctx_principal (ctx)->name);
    ch->actor_role = strdup (rec_role_name (ctx));
    ch->at = pm_ctx_now (ctx);
    ch->reason = reason && *reason ? strdup (reason) : NULL;
    itv->history = realloc (itv->history, (itv->n_history + 1) * sizeof *itv->history);
    itv->history[itv->n_history++] = ch;
}

typedef struct {
    pm_ctx_t *ctx;
    char booked[PM_ID_MAX];    //  an interview still waiting, if any
    int64_t end;               //  its end
    size_t missing;            //  its panel members without a scorecard
    char who[256];             //  their staff ids
} s_open_t;

//  Notes an interview of the application that is booked, not completed.
static int
s_open_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_open_t *o = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    rec_itv_t *itv;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (o->ctx), rec_db.interviews, id, strlen (id),
                                  &pm__recruitment__interview__descriptor,
                                  (ProtobufCMessage **) &itv);
    if (rc != PM_OK) {
        return rc;
    }
    if (itv->status == ST (BOOKED)) {
        snprintf (o->booked, sizeof o->booked, "%s", itv->id);
        o->end = itv->end;
        size_t n = 0;
        o->who[0] = 0;
        for (size_t i = 0; i < itv->n_panel; i++) {
            bool in = false;
            for (size_t j = 0; j < itv->n_scorecards; j++) {
                in |= strcmp (itv->scorecards[j]->staff_id, itv->panel[i]->staff_id) == 0;
            }
            if (!in) {
                n += (size_t) snprintf (o->who + n, n < sizeof o->who ? sizeof o->who - n : 0,
                                        "%s%s", o->missing++ ? ", " : "",
                                        itv->panel[i]->staff_id);
            }
        }
    }
    pm__recruitment__interview__free_unpacked (itv, NULL);
    return 0;
}

//  Finds the application's booked interview, if any.
static pm_err
s_open_interview (pm_ctx_t *ctx, const char *app_id, s_open_t *o)
{
    memset (o, 0, sizeof *o);
    o->ctx = ctx;
    pm_key_t k;
    pm_key_init (&k, REC_IX_ITV_BY_APP);
    pm_key_str (&k, app_id);
    return rec_scan (ctx, &k, s_open_one, o);
}

//  --------------------------------------------------------------------------
pm_err
rec_itv_feedback_in (pm_ctx_t *ctx, const rec_app_t *app)
{
    s_open_t o;
    pm_err rc = s_open_interview (ctx, app->id, &o);
    if (rc == PM_OK && o.booked[0]) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "to",
                          "to: interview %s waits for scorecards from %s", o.booked, o.who);
    }
    return rc;
}

//  Stores the interview, emits `event` with it, replies with it.
static pm_err
s_itv_commit (pm_ctx_t *ctx, rec_itv_t *itv, const char *event)
{
    itv->version++;
    itv->has_version = itv->has_updated_at = 1;
    itv->updated_at = pm_ctx_now (ctx);
    return rec_commit (ctx, rec_db.interviews, itv->id, &itv->base, event, itv->site_id);
}

//  --------------------------------------------------------------------------
//  recruitment.BookInterview
static pm_err
s_book (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__BookInterview *req = (const void *) body;
    pm_err rc = s_check_panel (ctx, req->panel, req->n_panel);
    if (rc == PM_OK) {
        rc = s_check_duration (ctx, req->has_duration_minutes, req->duration_minutes);
    }
    if (rc == PM_OK && (!req->has_start || req->start <= 0 || req->start > TIME_MAX)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: is required (a slot's start, "
                          "ms UTC before the year 10000)");
    }
    if (rc != PM_OK) {
        return rc;
    }
    rec_app_t *app;
    rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    s_open_t o;
    rc = s_open_interview (ctx, app->id, &o);
    if (rc == PM_OK && o.booked[0]) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "application_id",
                          "application_id: %s has interview %s booked; reschedule or "
                          "cancel it", app->id, o.booked);
    }
    //  From SHORTLISTED or INTERVIEW_DONE the pick moves the application
    //  (the table says who may); an application moved to
    //  INTERVIEW_SCHEDULED by hand takes its interview where it is.
    bool moved = false;
    if (rc == PM_OK && app->stage != PM__RECRUITMENT__STAGE__INTERVIEW_SCHEDULED) {
        rc = rec_pipeline_step (ctx, app, PM__RECRUITMENT__STAGE__INTERVIEW_SCHEDULED,
                                NULL, "recruitment.BookInterview");
        moved = rc == PM_OK;
    }
    int64_t end = rc == PM_OK ? req->start + (int64_t) req->duration_minutes * MIN_MS : 0;
    if (rc == PM_OK) {
        rc = s_check_free (ctx, app->site_id, req->panel, req->n_panel, req->start, end,
                           NULL);
    }
    rec_itv_t *itv = NULL;
    if (rc == PM_OK) {
        int64_t now = pm_ctx_now (ctx);
        char id[PM_ID_MAX];
        pm_id_new ("itv", now, id);
        itv = calloc (1, sizeof *itv);
        pm__recruitment__interview__init (itv);
        itv->id = strdup (id);
        itv->application_id = strdup (app->id);
        itv->candidate_id = strdup (app->candidate_id);
        itv->requisition_id = strdup (app->requisition_id);
        itv->site_id = strdup (app->site_id);
        itv->panel = calloc (req->n_panel, sizeof *itv->panel);
        for (size_t i = 0; i < req->n_panel; i++) {
            Pm__Recruitment__PanelMember *m = malloc (sizeof *m);
            pm__recruitment__panel_member__init (m);
            m->staff_id = strdup (req->panel[i]->staff_id);
            m->principal = strdup (req->panel[i]->principal);
            itv->panel[itv->n_panel++] = m;
        }
        itv->has_start = itv->has_end = itv->has_status = itv->has_created_at = 1;
        itv->start = req->start;
        itv->end = end;
        itv->status = ST (BOOKED);
        itv->created_at = now;
        s_history (ctx, itv, NULL);
        rc = s_occupy (ctx, itv, true);
    }
    if (rc == PM_OK) {
        pm_key_t k;
        pm_key_init (&k, REC_IX_ITV_BY_APP);
        pm_key_str (&k, app->id);
        pm_key_str (&k, itv->id);
        rc = rec_index (ctx, &k, itv->id, true);
    }
    if (rc == PM_OK && moved) {
        rc = rec_put (ctx, rec_db.applications, app->id, &app->base);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "recruitment.application.moved", app->site_id, app->id,
                              &app->base);
        }
    }
    if (rc == PM_OK) {
        rc = s_itv_commit (ctx, itv, "recruitment.interview.scheduled");
    }
    pm__recruitment__interview__free_unpacked (itv, NULL);
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

//  Loads interview `id` (caller frees), audits the access to its
//  candidate and checks the caller works at its site.
static pm_err
s_itv_open (pm_ctx_t *ctx, const char *id, rec_itv_t **out)
{
    pm_err rc = rec_load (ctx, rec_db.interviews, id,
                          &pm__recruitment__interview__descriptor, "interview_id",
                          "interview", out);
    if (rc != PM_OK) {
        return rc;
    }
    pm_ctx_audit (ctx, (*out)->candidate_id, (*out)->site_id);
    rc = rec_access (ctx, (*out)->site_id, "interview_id");
    if (rc != PM_OK) {
        pm__recruitment__interview__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

//  Refuses changing an interview that is not booked.
static pm_err
s_must_be_booked (pm_ctx_t *ctx, const rec_itv_t *itv)
{
    if (itv->status != ST (BOOKED)) {
        const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
            &pm__recruitment__interview_status__descriptor, (int) itv->status);
        return pm_ctx_fail (ctx, PM_ECONFLICT, "interview_id",
                            "interview_id: %s is %s; only a booked interview changes",
                            itv->id, v ? v->name : "?");
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  recruitment.RescheduleInterview
static pm_err
s_reschedule (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__RescheduleInterview *req = (const void *) body;
    rec_itv_t *itv;
    pm_err rc = s_itv_open (ctx, req->interview_id, &itv);
    if (rc != PM_OK) {
        return rc;
    }
    rc = rec_check_version (ctx, itv->id, itv->version, req->has_expected_version,
                            req->expected_version, false);
    if (rc == PM_OK) {
        rc = s_must_be_booked (ctx, itv);
    }
    if (rc == PM_OK && (!req->has_start || req->start <= 0 || req->start > TIME_MAX)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: is required (a slot's start, "
                          "ms UTC before the year 10000)");
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "reason", req->reason, true, 500);
    }
    int64_t end = rc == PM_OK ? req->start + (itv->end - itv->start) : 0;
    if (rc == PM_OK && req->start == itv->start) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "start", "start: is the time it has now");
    }
    if (rc == PM_OK) {
        rc = s_check_free (ctx, itv->site_id, itv->panel, itv->n_panel, req->start, end,
                           itv->id);
    }
    if (rc == PM_OK) {
        rc = s_occupy (ctx, itv, false);
    }
    if (rc == PM_OK) {
        itv->start = req->start;
        itv->end = end;
        s_history (ctx, itv, req->reason);
        rc = s_occupy (ctx, itv, true);
    }
    if (rc == PM_OK) {
        rc = s_itv_commit (ctx, itv, "recruitment.interview.rescheduled");
    }
    pm__recruitment__interview__free_unpacked (itv, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  recruitment.CancelInterview
static pm_err
s_cancel (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__CancelInterview *req = (const void *) body;
    rec_itv_t *itv;
    pm_err rc = s_itv_open (ctx, req->interview_id, &itv);
    if (rc != PM_OK) {
        return rc;
    }
    rc = rec_check_version (ctx, itv->id, itv->version, req->has_expected_version,
                            req->expected_version, false);
    if (rc == PM_OK) {
        rc = s_must_be_booked (ctx, itv);
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "reason", req->reason, true, 500);
    }
    if (rc == PM_OK) {
        rc = s_occupy (ctx, itv, false);
    }
    if (rc == PM_OK) {
        itv->status = ST (CANCELLED);
        s_history (ctx, itv, req->reason);
        rc = s_itv_commit (ctx, itv, "recruitment.interview.cancelled");
    }
    pm__recruitment__interview__free_unpacked (itv, NULL);
    return rc;
}

//  --- scorecards ------------------------------------------------------------------------

//  The rules of a scorecard.
static pm_err
s_check_scorecard (pm_ctx_t *ctx, const Pm__Recruitment__Scorecard *sc)
{
    if (!sc) {
        return pm_ctx_fail (ctx, PM_EINVAL, "scorecard", "scorecard: is required");
    }
    if (sc->n_ratings < 1 || sc->n_ratings > 20) {
        return pm_ctx_fail (ctx, PM_EINVAL, "scorecard.ratings",
                            "scorecard.ratings: 1 to 20 criteria");
    }
    char field[64];
    pm_err rc = PM_OK;
    for (size_t i = 0; rc == PM_OK && i < sc->n_ratings; i++) {
        const Pm__Recruitment__Rating *r = sc->ratings[i];
        snprintf (field, sizeof field, "scorecard.ratings[%zu].criterion", i);
        rc = rec_text (ctx, field, r->criterion, true, 100);
        for (size_t j = 0; rc == PM_OK && j < i; j++) {
            if (strcmp (sc->ratings[j]->criterion, r->criterion) == 0) {
                rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: \"%s\" is rated twice",
                                  field, r->criterion);
            }
        }
        snprintf (field, sizeof field, "scorecard.ratings[%zu].rating", i);
        if (rc == PM_OK && (!r->has_rating || r->rating < 1 || r->rating > 5)) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required, 1..5", field);
        }
        snprintf (field, sizeof field, "scorecard.ratings[%zu].notes", i);
        if (rc == PM_OK) {
            rc = rec_text (ctx, field, r->notes, false, 2000);
        }
    }
    if (rc == PM_OK
        && (!sc->has_recommendation
            || sc->recommendation < PM__RECRUITMENT__RECOMMENDATION__STRONG_NO
            || sc->recommendation > PM__RECRUITMENT__RECOMMENDATION__STRONG_YES)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "scorecard.recommendation",
                          "scorecard.recommendation: is required (STRONG_NO, NO, YES, "
                          "STRONG_YES)");
    }
    if (rc == PM_OK) {
        rc = rec_text (ctx, "scorecard.notes", sc->notes, false, 4000);
    }
    return rc;
}

//  A deep copy of a scorecard (freed by free_unpacked).
static Pm__Recruitment__Scorecard *
s_scorecard_copy (const Pm__Recruitment__Scorecard *sc)
{
    size_t len = pm__recruitment__scorecard__get_packed_size (sc);
    uint8_t *buf = malloc (len ? len : 1);
    pm__recruitment__scorecard__pack (sc, buf);
    Pm__Recruitment__Scorecard *copy = pm__recruitment__scorecard__unpack (NULL, len, buf);
    free (buf);
    return copy;
}

//  --------------------------------------------------------------------------
//  recruitment.SubmitScorecard
static pm_err
s_submit (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__SubmitScorecard *req = (const void *) body;
    pm_err rc = s_check_scorecard (ctx, req->scorecard);
    if (rc != PM_OK) {
        return rc;
    }
    rec_itv_t *itv;
    rc = s_itv_open (ctx, req->interview_id, &itv);
    if (rc != PM_OK) {
        return rc;
    }
    const char *me = pm_ctx_principal (ctx)->name;
    int64_t now = pm_ctx_now (ctx);
    Pm__Recruitment__PanelMember *member = NULL;
    for (size_t i = 0; i < itv->n_panel; i++) {
        if (strcmp (itv->panel[i]->principal, me) == 0) {
            member = itv->panel[i];
        }
    }
    if (itv->status == ST (CANCELLED)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "interview_id",
                          "interview_id: %s was cancelled", itv->id);
    }
    else if (!member) {
        rc = pm_ctx_fail (ctx, PM_EFORBIDDEN, "interview_id",
                          "interview_id: %s is not on the panel of %s; interviewers "
                          "submit their own scorecards", me, itv->id);
    }
    else if (now < itv->start) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "interview_id",
                          "interview_id: %s has not begun; scorecards come after it "
                          "starts", itv->id);
    }
    size_t at = itv->n_scorecards;
    for (size_t i = 0; rc == PM_OK && i < itv->n_scorecards; i++) {
        if (strcmp (itv->scorecards[i]->staff_id, member->staff_id) == 0) {
            at = i;
        }
    }
    bool amend = at < itv->n_scorecards;
    if (rc == PM_OK && amend && !req->has_expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "expected_version: %s submitted a scorecard for %s already "
                          "(version %llu); amend it with expected_version", me, itv->id,
                          (unsigned long long) itv->scorecards[at]->version);
    }
    else if (rc == PM_OK && amend) {
        rc = rec_check_version (ctx, itv->id, itv->scorecards[at]->version, true,
                                req->expected_version, true);
    }
    else if (rc == PM_OK && req->has_expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "expected_version: %s has no scorecard of %s to amend", itv->id,
                          me);
    }
    if (rc == PM_OK) {
        Pm__Recruitment__Scorecard *sc = s_scorecard_copy (req->scorecard);
        free (sc->staff_id);
        free (sc->principal);
        sc->staff_id = strdup (member->staff_id);
        sc->principal = strdup (me);
        sc->has_version = sc->has_submitted_at = 1;
        if (amend) {
            Pm__Recruitment__Scorecard *old = itv->scorecards[at];
            sc->version = old->version + 1;
            sc->submitted_at = old->submitted_at;
            sc->has_amended_at = 1;
            sc->amended_at = now;
            pm__recruitment__scorecard__free_unpacked (old, NULL);
            itv->scorecards[at] = sc;
        }
        else {
            sc->version = 1;
            sc->submitted_at = now;
            sc->has_amended_at = 0;
            itv->scorecards = realloc (itv->scorecards,
                                       (itv->n_scorecards + 1) * sizeof *itv->scorecards);
            itv->scorecards[itv->n_scorecards++] = sc;
        }
        //  The last panel member's scorecard completes the interview.
        if (itv->status == ST (BOOKED) && itv->n_scorecards == itv->n_panel) {
            itv->status = ST (COMPLETED);
            itv->has_feedback_complete_at = 1;
            itv->feedback_complete_at = now;
            s_history (ctx, itv, NULL);
        }
        rc = s_itv_commit (ctx, itv, "recruitment.scorecard.submitted");
    }
    pm__recruitment__interview__free_unpacked (itv, NULL);
    return rc;
}

//  --- reads ------------------------------------------------------------------------------

//  --------------------------------------------------------------------------
//  recruitment.ListInterviews
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Recruitment__ListInterviews *req = (const void *) body;
    rec_app_t *app;
    pm_err rc = rec_app_open (ctx, req->application_id, "application_id", &app);
    if (rc != PM_OK) {
        return rc;
    }
    pm_key_t k;
    pm_key_init (&k, REC_IX_ITV_BY_APP);
    pm_key_str (&k, app->id);
    rec_listing_t found;
    rc = rec_listing_load (ctx, &k, rec_db.interviews, &pm__recruitment__interview__descriptor,
                           NULL, NULL, &found);
    if (rc == PM_OK) {
        Pm__Recruitment__InterviewList list = PM__RECRUITMENT__INTERVIEW_LIST__INIT;
        list.interviews = (rec_itv_t **) found.items;
        list.n_interviews = found.n;
        rc = pm_ctx_reply (ctx, &list.base);
    }
    rec_listing_free (&found);
    pm__recruitment__application__free_unpacked (app, NULL);
    return rc;
}

typedef struct {
    pm_ctx_t *ctx;
    uint32_t *count;
    int64_t *sum, *max;
} s_fb_t;

static int
s_fb_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_fb_t *f = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    rec_itv_t *itv;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (f->ctx), rec_db.interviews, id, strlen (id),
                                  &pm__recruitment__interview__descriptor,
                                  (ProtobufCMessage **) &itv);
    if (rc != PM_OK) {
        return rc;
    }
    if (itv->status == ST (COMPLETED)) {
        int64_t ms = itv->feedback_complete_at - itv->end;
        ms = ms > 0 ? ms : 0;
        (*f->count)++;
        *f->sum += ms;
        *f->max = ms > *f->max ? ms : *f->max;
    }
    pm__recruitment__interview__free_unpacked (itv, NULL);
    return 0;
}

//  --------------------------------------------------------------------------
pm_err
rec_itv_feedback_times (pm_ctx_t *ctx, const char *app_id, uint32_t *count, int64_t *sum,
                        int64_t *max)
{
    s_fb_t f = {ctx, count, sum, max};
    pm_key_t k;
    pm_key_init (&k, REC_IX_ITV_BY_APP);
    pm_key_str (&k, app_id);
    return rec_scan (ctx, &k, s_fb_one, &f);
}

//  --------------------------------------------------------------------------
void
rec_interviews_setup (pm_server_t *server)
{
    pm_server_handle (server, "recruitment.ProposeInterviewSlots", s_propose);
    pm_server_handle (server, "recruitment.BookInterview", s_book);
    pm_server_handle (server, "recruitment.RescheduleInterview", s_reschedule);
    pm_server_handle (server, "recruitment.CancelInterview", s_cancel);
    pm_server_handle (server, "recruitment.SubmitScorecard", s_submit);
    pm_server_handle (server, "recruitment.ListInterviews", s_list);
    pm_server_follow (server, "staffing", rec_itv_feed_staffing, rec_itv_reset_staffing);
}
