/*  finance_days.c: daily close and period locks.

    Every payment, refund payout or reversal is booked on a site day, its
    business date: the site's first open day on or after the local date
    it is entered (finance_tz: libical, the site's zone). A closed day
    never changes again, so money entered after the close, even if it
    corrects something of that day, is booked on the next open day as an
    adjustment. Closing compares what was counted per payment mode with
    what the day's payments add up to; a variance needs a note. A day is
    closed at most once, never in the future, never in a locked month.

    A month is locked (finance.LockPeriod) once it is over and every day
    of it that took money is closed; a locked month's days take nothing
    more (money moves on to the first day after it).                    */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finance_days.h"
#include "finance_tz.h"

typedef Pm__Finance__Day day_t;

#define MODES 4
#define SEARCH_DAYS 800 //  more than two years of closed days ahead: a bug

static void
s_day_key (pm_key_t *k, const char *site, const char *date)
{
    pm_key_init (k, 'd');
    pm_key_str (k, site);
    pm_key_str (k, date);
}

static void
s_lock_key (pm_key_t *k, const char *site, const char *month)
{
    pm_key_init (k, 'm');
    pm_key_str (k, site);
    pm_key_str (k, month);
}

//  The day (caller frees); a fresh open one with every mode at zero when
//  nothing was booked on it yet.
static pm_err
s_day_get (MDB_txn *txn, const char *site, const char *currency, const char *date,
           day_t **out)
{
    pm_key_t k;
    s_day_key (&k, site, date);
    *out = NULL;
    pm_err rc = pm_store_get_msg (txn, fin_db.days, k.b, k.len,
                                  &pm__finance__day__descriptor, (ProtobufCMessage **) out);
    if (rc != PM_ENOTFOUND) {
        return rc;
    }
    day_t d = PM__FINANCE__DAY__INIT;
    Pm__Finance__CloseLine lines[MODES], *lp[MODES];
    for (int i = 0; i < MODES; i++) {
        pm__finance__close_line__init (&lines[i]);
        lines[i].has_mode = lines[i].has_expected_minor = 1;
        lines[i].mode = i + 1;
        lp[i] = &lines[i];
    }
    d.site_id = (char *) site;
    d.date = (char *) date;
    d.currency = (char *) currency;
    d.has_closed = d.has_payments = 1;
    d.n_lines = MODES;
    d.lines = lp;
    size_t n = pm__finance__day__get_packed_size (&d);
    uint8_t *buf = malloc (n + 1);
    pm__finance__day__pack (&d, buf);
    *out = pm__finance__day__unpack (NULL, n, buf);
    free (buf);
    return *out ? PM_OK : PM_EINTERNAL;
}

static pm_err
s_day_put (MDB_txn *txn, const day_t *d)
{
    pm_key_t k;
    s_day_key (&k, d->site_id, d->date);
    return pm_store_put_msg (txn, fin_db.days, k.b, k.len, &d->base, 0);
}

//  True when the month of `date` is locked at `site`.
static bool
s_locked (MDB_txn *txn, const char *site, const char *date)
{
    char month[8];
    snprintf (month, sizeof month, "%.7s", date);
    pm_key_t k;
    s_lock_key (&k, site, month);
    MDB_val v;
    return pm_store_get (txn, fin_db.days, k.b, k.len, &v) == PM_OK;
}

//  --------------------------------------------------------------------------
//  Books money on the first open day from today.
pm_err
fin_day_post (pm_ctx_t *ctx, const Pm__Finance__SiteFinance *site, int mode,
              int64_t amount, char *date_out)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    char date[FIN_DATE_LEN];
    fin_local_date (site, pm_ctx_now (ctx), date);
    day_t *d = NULL;
    for (int i = 0; i < SEARCH_DAYS; i++) {
        if (!s_locked (txn, site->site_id, date)) {
            pm_err rc = s_day_get (txn, site->site_id, site->currency, date, &d);
            if (rc != PM_OK) {
                return rc;
            }
            if (!d->closed) {
                break;
            }
            pm__finance__day__free_unpacked (d, NULL);
            d = NULL;
        }
        fin_date_add (date, 1, date);
    }
    if (!d) {
        return pm_ctx_fail (ctx, PM_EINTERNAL, NULL, "no open day at site %s",
                            site->site_id);
    }
    d->lines[mode - 1]->expected_minor += amount;
    d->payments++;
    pm_err rc = s_day_put (txn, d);
    snprintf (date_out, FIN_DATE_LEN, "%s", date);
    pm__finance__day__free_unpacked (d, NULL);
    return rc;
}

//  finance.CloseDay.
static pm_err
s_close (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__CloseDay *req = (const Pm__Finance__CloseDay *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Finance__SiteFinance *site = NULL;
    day_t *d = NULL;
    char today[FIN_DATE_LEN];
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK && !fin_date_valid (req->date)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "date", "date: a date written YYYY-MM-DD");
    }
    if (rc == PM_OK) {
        fin_local_date (site, pm_ctx_now (ctx), today);
        if (strcmp (req->date, today) > 0) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "date", "date: %s has not begun at site %s "
                              "(today is %s)", req->date, site->site_id, today);
        }
    }
    if (rc == PM_OK && s_locked (txn, req->site_id, req->date)) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "date", "date: the month of %s is locked",
                          req->date);
    }
    if (rc == PM_OK) {
        rc = fin_text (ctx, "note", req->note, false, FIN_TEXT_MAX);
    }
    if (rc == PM_OK) {
        rc = s_day_get (txn, site->site_id, site->currency, req->date, &d);
    }
    if (rc == PM_OK && d->closed) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "date", "date: %s is closed already at site %s",
                          req->date, site->site_id);
    }
    bool seen[MODES + 1] = {false};
    bool variance = false;
    for (size_t i = 0; rc == PM_OK && i < req->n_counted; i++) {
        const Pm__Finance__ModeAmount *m = req->counted[i];
        char field[48];
        snprintf (field, sizeof field, "counted[%zu].mode", i);
        rc = fin_mode (ctx, field, m->has_mode, m->mode);
        if (rc == PM_OK && seen[m->mode]) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, field, "%s: named twice", field);
        }
        snprintf (field, sizeof field, "counted[%zu].amount_minor", i);
        if (rc == PM_OK) {
            rc = fin_money (ctx, field, m->has_amount_minor, m->amount_minor, true);
        }
        if (rc == PM_OK) {
            seen[m->mode] = true;
            d->lines[m->mode - 1]->has_counted_minor = 1;
            d->lines[m->mode - 1]->counted_minor = m->amount_minor;
        }
    }
    for (int i = 0; rc == PM_OK && i < MODES; i++) {
        Pm__Finance__CloseLine *l = d->lines[i];
        l->has_counted_minor = l->has_variance_minor = 1;
        l->variance_minor = l->counted_minor - l->expected_minor;
        variance = variance || l->variance_minor != 0;
    }
    if (rc == PM_OK && variance && !(req->note && *req->note)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "note", "note: counted differs from expected; "
                          "say why");
    }
    if (rc == PM_OK) {
        char *old_note = d->note, *old_by = d->closed_by;
        d->closed = 1;
        d->note = req->note;
        d->closed_by = (char *) pm_ctx_principal (ctx)->name;
        d->has_closed_at = 1;
        d->closed_at = pm_ctx_now (ctx);
        rc = s_day_put (txn, d);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.day.closed", d->site_id, d->date, &d->base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &d->base);
        }
        d->note = old_note;
        d->closed_by = old_by;
    }
    pm__finance__day__free_unpacked (d, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  finance.GetDay.
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetDay *req = (const Pm__Finance__GetDay *) body;
    Pm__Finance__SiteFinance *site = NULL;
    day_t *d = NULL;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK && !fin_date_valid (req->date)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "date", "date: a date written YYYY-MM-DD");
    }
    if (rc == PM_OK) {
        rc = s_day_get (pm_ctx_txn (ctx), site->site_id, site->currency, req->date, &d);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &d->base);
    }
    pm__finance__day__free_unpacked (d, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

typedef struct {
    char open[FIN_DATE_LEN];
} s_open_t;

//  Stops at the first day that took money and is not closed.
static int
s_open_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_open_t *s = arg;
    day_t *d = pm__finance__day__unpack (NULL, val->mv_size, val->mv_data);
    if (!d) {
        return PM_EINTERNAL;
    }
    int r = 0;
    if (!d->closed && d->payments > 0) {
        snprintf (s->open, sizeof s->open, "%s", d->date);
        r = 1;
    }
    pm__finance__day__free_unpacked (d, NULL);
    return r;
}

//  finance.LockPeriod.
static pm_err
s_lock (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__LockPeriod *req = (const Pm__Finance__LockPeriod *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Finance__SiteFinance *site = NULL;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK && !fin_month_valid (req->month)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "month", "month: a month written YYYY-MM");
    }
    char today[FIN_DATE_LEN];
    if (rc == PM_OK) {
        fin_local_date (site, pm_ctx_now (ctx), today);
        if (strncmp (req->month, today, 7) >= 0) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "month", "month: %s is not over at site %s",
                              req->month, site->site_id);
        }
    }
    char first[FIN_DATE_LEN];
    if (rc == PM_OK) {
        snprintf (first, sizeof first, "%s-01", req->month);
        if (s_locked (txn, site->site_id, first)) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "month", "month: %s is locked already",
                              req->month);
        }
    }
    if (rc == PM_OK) {
        pm_key_t prefix;
        pm_key_init (&prefix, 'd');
        pm_key_str (&prefix, site->site_id);
        memcpy (prefix.b + prefix.len, req->month, 7);
        prefix.len += 7;
        s_open_t s = {""};
        rc = pm_key_scan (txn, fin_db.days, prefix.b, prefix.len, NULL, s_open_each, &s);
        if (rc == PM_OK && s.open[0]) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "month", "month: %s took payments and is "
                              "not closed", s.open);
        }
    }
    if (rc == PM_OK) {
        Pm__Finance__PeriodLock lock = PM__FINANCE__PERIOD_LOCK__INIT;
        lock.site_id = req->site_id;
        lock.month = req->month;
        lock.locked_by = (char *) pm_ctx_principal (ctx)->name;
        lock.has_locked_at = 1;
        lock.locked_at = pm_ctx_now (ctx);
        pm_key_t k;
        s_lock_key (&k, req->site_id, req->month);
        rc = pm_store_put_msg (txn, fin_db.days, k.b, k.len, &lock.base, 0);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.period.locked", lock.site_id, lock.month,
                              &lock.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &lock.base);
        }
    }
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_days_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.CloseDay", s_close);
    pm_server_handle (server, "finance.GetDay", s_get);
    pm_server_handle (server, "finance.LockPeriod", s_lock);
}
