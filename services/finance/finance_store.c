/*  finance_store.c: the store layout's sub-databases, keys and the field
    rules shared by every finance concept (see finance_store.h).          */
#include <stdio.h>
#include <string.h>

#include "finance_store.h"
#include "finance_tz.h"
#include "pm_id.h"

fin_db_t fin_db;

//  --------------------------------------------------------------------------
//  Opens every sub-database of the layout.
pm_err
fin_store_open (pm_store_t *store)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"sites", &fin_db.sites},       {"prices", &fin_db.prices},
        {"charges", &fin_db.charges},   {"invoices", &fin_db.invoices},
        {"payments", &fin_db.payments}, {"notes", &fin_db.notes},
        {"accounts", &fin_db.accounts}, {"ledger", &fin_db.ledger},
        {"days", &fin_db.days},         {"index", &fin_db.index},
        {"budgets", &fin_db.budgets},   {"actuals", &fin_db.actuals},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        pm_err rc = pm_store_dbi (store, dbs[i].name, 0, dbs[i].dbi);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

//  --- keys -------------------------------------------------------------------

//  --------------------------------------------------------------------------
//  Puts or deletes an index entry; deleting an absent one is fine.
pm_err
fin_index (MDB_txn *txn, const pm_key_t *k, const char *id, bool add)
{
    if (add) {
        return pm_store_put (txn, fin_db.index, k->b, k->len, id, strlen (id), 0);
    }
    pm_err rc = pm_store_del (txn, fin_db.index, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

void
fin_ix_key (pm_key_t *k, char tag, const char *patient, const char *site,
            const char *id)
{
    pm_key_init (k, tag);
    pm_key_str (k, patient);
    pm_key_str (k, site);
    if (id) {
        pm_key_str (k, id);
    }
}

//  --- records ------------------------------------------------------------

//  --------------------------------------------------------------------------
//  Loads a record by its typed id.
pm_err
fin_load (pm_ctx_t *ctx, MDB_dbi dbi, const char *id, const char *prefix,
          const ProtobufCMessageDescriptor *desc, const char *field, const char *what,
          void *out)
{
    ProtobufCMessage **msg = out;
    *msg = NULL;
    pm_err rc = fin_id (ctx, field, id, prefix);
    if (rc != PM_OK) {
        return rc;
    }
    rc = pm_store_get_msg (pm_ctx_txn (ctx), dbi, id, strlen (id), desc, msg);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, field, "%s: no %s %s", field, what, id);
    }
    return rc;
}

pm_err
fin_put (pm_ctx_t *ctx, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg)
{
    return pm_store_put_msg (pm_ctx_txn (ctx), dbi, id, strlen (id), msg, 0);
}

//  --------------------------------------------------------------------------
//  A site's finance settings, in the caller's scope.
pm_err
fin_site (pm_ctx_t *ctx, const char *site_id, const char *field,
          Pm__Finance__SiteFinance **out)
{
    *out = NULL;
    pm_err rc = fin_token (ctx, field, site_id);
    if (rc == PM_OK) {
        rc = fin_access (ctx, site_id, field);
    }
    if (rc != PM_OK) {
        return rc;
    }
    rc = pm_store_get_msg (pm_ctx_txn (ctx), fin_db.sites, site_id, strlen (site_id),
                           &pm__finance__site_finance__descriptor,
                           (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, field, "%s: site %s has no finance settings "
                            "(finance.SetSite)", field, site_id);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Site scope: the caller works there (or breaks the glass).
pm_err
fin_access (pm_ctx_t *ctx, const char *site, const char *field)
{
    if (!pm_ctx_may_access_site (ctx, site)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field, "%s: site %.64s is not one of yours",
                            field, site ? site : "");
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Optimistic concurrency: the caller says which version it changed.
pm_err
fin_check_version (pm_ctx_t *ctx, const char *id, uint64_t actual, bool has_expected,
                   uint64_t expected, bool required)
{
    if (required && (!has_expected || expected == 0)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version: is required (the version you read)");
    }
    if (has_expected && expected != 0 && expected != actual) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                            "%s is at version %llu, not %llu: read it again", id,
                            (unsigned long long) actual, (unsigned long long) expected);
    }
    return PM_OK;
}

//  --- field rules --------------------------------------------------------------

pm_err
fin_text (pm_ctx_t *ctx, const char *field, const char *s, bool required, size_t max)
{
    if (!s || !*s) {
        return required ? pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field)
                        : PM_OK;
    }
    if (strlen (s) > max) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: at most %zu characters", field,
                            max);
    }
    for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: control characters are not "
                                "allowed", field);
        }
    }
    return PM_OK;
}

bool
fin_token_ok (const char *s)
{
    size_t n = s ? strlen (s) : 0;
    return n > 0 && n <= 64
           && strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-.") == n;
}

pm_err
fin_token (pm_ctx_t *ctx, const char *field, const char *s)
{
    if (!s || !*s) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field);
    }
    if (!fin_token_ok (s)) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: 1..64 of letters, digits, "
                            "'_', '-' or '.'", field);
    }
    return PM_OK;
}

pm_err
fin_id (pm_ctx_t *ctx, const char *field, const char *s, const char *prefix)
{
    if (!s || !*s) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field);
    }
    if (!pm_id_valid (s, prefix)) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: \"%.40s\" is not a %s_ id", field,
                            s, prefix);
    }
    return PM_OK;
}

pm_err
fin_money (pm_ctx_t *ctx, const char *field, bool has, int64_t v, bool zero_ok)
{
    if (!has) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field);
    }
    if (v < (zero_ok ? 0 : 1) || v > FIN_MONEY_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: %s..10^13 minor units", field,
                            zero_ok ? "0" : "1");
    }
    return PM_OK;
}

pm_err
fin_mode (pm_ctx_t *ctx, const char *field, bool has, int mode)
{
    if (!has || mode < PM__FINANCE__PAYMENT_MODE__CASH
        || mode > PM__FINANCE__PAYMENT_MODE__INSURANCE) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: CASH, CARD, BANK_TRANSFER or "
                            "INSURANCE", field);
    }
    return PM_OK;
}

//  --- small helpers ---------------------------------------------------------

void
fin_local_date (const Pm__Finance__SiteFinance *site, int64_t at, char *out)
{
    if (!fin_tz_date (site->time_zone, at, out)) {
        fin_tz_date ("UTC", at, out); //  zones are checked when set
    }
}

int64_t
fin_local_day_end (const Pm__Finance__SiteFinance *site, const char *date)
{
    int64_t end = 0;
    if (!fin_tz_day_end (site->time_zone, date, &end)) {
        fin_tz_day_end ("UTC", date, &end); //  zones are checked when set
    }
    return end;
}

void
fin_local_month (const Pm__Finance__SiteFinance *site, const char *month, int64_t *from,
                 int64_t *to)
{
    if (!fin_tz_month_span (site->time_zone, month, from, to)
        && !fin_tz_month_span ("UTC", month, from, to)) {
        *from = *to = 0; //  not a month: none of its instants
    }
}
