/*  finance_sites.c: finance.SetSite / GetSite (a site's currency, zone and
    missed-appointment fees) and finance.SetPrice / ListPrices (what each
    appointment type or service code costs from when).                  */
#include <stdlib.h>
#include <string.h>

#include "finance_sites.h"
#include "finance_tz.h"
#include "pm_id.h"

typedef Pm__Finance__SiteFinance site_t;

#define LATE_CANCEL_MINUTES_MAX 10080

//  An ISO 4217 code: three upper-case letters.
static bool
s_currency_ok (const char *s)
{
    return s && strlen (s) == 3 && strspn (s, "ABCDEFGHIJKLMNOPQRSTUVWXYZ") == 3;
}

//  Staffing's view of a site (caller frees), or PM_ENOTFOUND.
static pm_err
s_staffing_site (MDB_txn *txn, const char *site_id, Pm__Staffing__Site **out)
{
    pm_key_t k;
    pm_key_init (&k, 'z');
    pm_key_str (&k, site_id);
    return pm_store_get_msg (txn, fin_db.actuals, k.b, k.len,
                             &pm__staffing__site__descriptor, (ProtobufCMessage **) out);
}

//  Fills a SetSite's currency and zone from staffing's site where the
//  request leaves them out, and refuses values that contradict it: the
//  clinic's zone and currency are set once, in staffing.
static pm_err
s_agree_with_staffing (pm_ctx_t *ctx, const Pm__Staffing__Site *st, const char **currency,
                       const char **zone)
{
    if (!st) {
        return PM_OK;
    }
    if (!*currency || !**currency) {
        *currency = st->currency;
    }
    else if (st->currency && strcmp (*currency, st->currency) != 0) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "currency",
                            "currency: staffing keeps site %s in %s (staffing.UpdateSite)",
                            st->id, st->currency);
    }
    if (!*zone || !**zone) {
        *zone = st->time_zone;
    }
    else if (st->time_zone && strcmp (*zone, st->time_zone) != 0) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "time_zone",
                            "time_zone: staffing keeps site %s in %s (staffing.UpdateSite)",
                            st->id, st->time_zone);
    }
    return PM_OK;
}

//  finance.SetSite: creates or replaces a site's settings.
static pm_err
s_set_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__SetSite *req = (const Pm__Finance__SetSite *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    const char *currency = req->currency, *zone = req->time_zone;
    Pm__Staffing__Site *st = NULL;
    pm_err rc = fin_token (ctx, "site_id", req->site_id);
    if (rc == PM_OK) {
        rc = fin_access (ctx, req->site_id, "site_id");
    }
    if (rc == PM_OK) {
        rc = s_staffing_site (txn, req->site_id, &st);
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    if (rc == PM_OK) {
        rc = s_agree_with_staffing (ctx, st, &currency, &zone);
    }
    if (rc == PM_OK && !s_currency_ok (currency)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "currency", "currency: an ISO 4217 code (\"USD\")");
    }
    if (rc == PM_OK && !fin_tz_valid (zone)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "time_zone",
                          "time_zone: an IANA zone the tz database knows");
    }
    if (rc == PM_OK) {
        rc = fin_money (ctx, "no_show_fee_minor", true, req->no_show_fee_minor, true);
    }
    if (rc == PM_OK) {
        rc = fin_money (ctx, "late_cancel_fee_minor", true, req->late_cancel_fee_minor,
                        true);
    }
    if (rc == PM_OK && req->late_cancel_minutes > LATE_CANCEL_MINUTES_MAX) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "late_cancel_minutes",
                          "late_cancel_minutes: at most %d", LATE_CANCEL_MINUTES_MAX);
    }
    if (rc != PM_OK) {
        pm__staffing__site__free_unpacked (st, NULL);
        return rc;
    }
    site_t *old = NULL;
    rc = pm_store_get_msg (txn, fin_db.sites, req->site_id, strlen (req->site_id),
                           &pm__finance__site_finance__descriptor,
                           (ProtobufCMessage **) &old);
    if (rc != PM_OK && rc != PM_ENOTFOUND) {
        pm__staffing__site__free_unpacked (st, NULL);
        return rc;
    }
    rc = PM_OK;
    if (old) {
        rc = fin_check_version (ctx, req->site_id, old->version, req->has_expected_version,
                                req->expected_version, true);
        if (rc == PM_OK && strcmp (old->currency, currency) != 0) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "currency",
                              "currency: site %s keeps its books in %s", req->site_id,
                              old->currency);
        }
    }
    if (rc == PM_OK) {
        int64_t now = pm_ctx_now (ctx);
        site_t s = PM__FINANCE__SITE_FINANCE__INIT;
        s.site_id = req->site_id;
        s.currency = (char *) currency;
        s.time_zone = (char *) zone;
        s.has_version = s.has_no_show_fee_minor = s.has_late_cancel_fee_minor = 1;
        s.has_late_cancel_minutes = s.has_last_invoice_number = 1;
        s.has_last_credit_note_number = 1;
        s.has_created_at = s.has_updated_at = 1;
        s.version = old ? old->version + 1 : 1;
        s.no_show_fee_minor = req->no_show_fee_minor;
        s.late_cancel_fee_minor = req->late_cancel_fee_minor;
        s.late_cancel_minutes = req->late_cancel_minutes;
        s.last_invoice_number = old ? old->last_invoice_number : 0;
        s.last_credit_note_number = old ? old->last_credit_note_number : 0;
        s.created_at = old ? old->created_at : now;
        s.updated_at = now;
        rc = fin_put (ctx, fin_db.sites, s.site_id, &s.base);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.site.set", s.site_id, s.site_id, &s.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &s.base);
        }
    }
    pm__finance__site_finance__free_unpacked (old, NULL);
    pm__staffing__site__free_unpacked (st, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  staffing.site.*: staffing's view of the site is kept; the finance zone
//  follows it (version + 1, finance.site.set) when it differs.
pm_err
fin_sites_apply_staffing (pm_ctx_t *ctx, const Pm__Event *event)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Staffing__Site *st = pm__staffing__site__unpack (NULL, event->data.len,
                                                         event->data.data);
    if (!st || !fin_token_ok (st->id) || !s_currency_ok (st->currency)
        || !fin_tz_valid (st->time_zone)) {
        pm__staffing__site__free_unpacked (st, NULL);
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "%s: not a site with an id, a currency "
                            "and a time zone", event->type);
    }
    pm_key_t k;
    pm_key_init (&k, 'z');
    pm_key_str (&k, st->id);
    pm_err rc = pm_store_put_msg (txn, fin_db.actuals, k.b, k.len, &st->base, 0);
    site_t *s = NULL;
    if (rc == PM_OK) {
        rc = pm_store_get_msg (txn, fin_db.sites, st->id, strlen (st->id),
                               &pm__finance__site_finance__descriptor,
                               (ProtobufCMessage **) &s);
    }
    if (rc == PM_ENOTFOUND) {
        rc = PM_OK; //  no books yet: finance.SetSite takes zone and currency from here
    }
    else if (rc == PM_OK && strcmp (s->currency, st->currency) != 0) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "currency",
                          "site %s keeps its books in %s; staffing now says %s: not followed",
                          st->id, s->currency, st->currency);
    }
    else if (rc == PM_OK && strcmp (s->time_zone, st->time_zone) != 0) {
        char *old_zone = s->time_zone;
        s->time_zone = st->time_zone;
        s->version++;
        s->updated_at = pm_ctx_now (ctx);
        rc = fin_put (ctx, fin_db.sites, s->site_id, &s->base);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.site.set", s->site_id, s->site_id, &s->base);
        }
        s->time_zone = old_zone; //  the unpacked message owns its own string
    }
    pm__finance__site_finance__free_unpacked (s, NULL);
    pm__staffing__site__free_unpacked (st, NULL);
    return rc;
}

//  finance.GetSite.
static pm_err
s_get_site (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetSite *req = (const Pm__Finance__GetSite *) body;
    site_t *s;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &s);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s->base);
    }
    pm__finance__site_finance__free_unpacked (s, NULL);
    return rc;
}

static void
s_price_key (pm_key_t *k, const char *site, const char *code, int64_t from)
{
    pm_key_init (k, 0);
    pm_key_str (k, site);
    if (code) {
        pm_key_str (k, code);
        pm_key_u64 (k, (uint64_t) from);
    }
}

//  finance.SetPrice: one entry of a site's price list.
static pm_err
s_set_price (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__SetPrice *req = (const Pm__Finance__SetPrice *) body;
    const Pm__Finance__Price *p = req->price;
    if (!p) {
        return pm_ctx_fail (ctx, PM_EINVAL, "price", "price: is required");
    }
    site_t *site = NULL;
    pm_err rc = fin_site (ctx, p->site_id, "price.site_id", &site);
    if (rc == PM_OK) {
        rc = fin_token (ctx, "price.code", p->code);
    }
    if (rc == PM_OK) {
        rc = fin_money (ctx, "price.amount_minor", p->has_amount_minor, p->amount_minor,
                        true);
    }
    if (rc == PM_OK && (!p->currency || strcmp (p->currency, site->currency) != 0)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "price.currency",
                          "price.currency: site %s charges in %s", site->site_id,
                          site->currency);
    }
    if (rc == PM_OK && (!p->has_valid_from || p->valid_from < 0)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "price.valid_from",
                          "price.valid_from: an instant (ms UTC) is required");
    }
    if (rc == PM_OK) {
        rc = fin_text (ctx, "price.description", p->description, false, 200);
    }
    if (rc == PM_OK) {
        Pm__Finance__Price out = *p;
        out.has_set_at = 1;
        out.set_at = pm_ctx_now (ctx);
        pm_key_t k;
        s_price_key (&k, p->site_id, p->code, p->valid_from);
        rc = pm_store_put_msg (pm_ctx_txn (ctx), fin_db.prices, k.b, k.len, &out.base, 0);
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "finance.price.set", p->site_id, p->code, &out.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &out.base);
        }
    }
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  The entry of `code` with the latest valid_from not after `at`.
pm_err
fin_price_at (MDB_txn *txn, const char *site, const char *code, int64_t at,
              Pm__Finance__Price **out)
{
    *out = NULL;
    if (at < 0) {
        return PM_ENOTFOUND;
    }
    pm_key_t prefix;
    s_price_key (&prefix, site, code, at);
    prefix.len -= 8; //  the code's entries
    MDB_val val;
    pm_err rc = pm_key_at_or_before (txn, fin_db.prices, &prefix, (uint64_t) at, &val);
    if (rc == PM_OK) {
        *out = pm__finance__price__unpack (NULL, val.mv_size, val.mv_data);
        rc = *out ? PM_OK : PM_EINTERNAL;
    }
    return rc;
}

typedef struct {
    Pm__Finance__PriceList list;
    bool has_at;
    int64_t at;
    pm_err rc;
} s_prices_t;

//  Adds one entry to the list (only those in force at `at`, when given:
//  the entry of a code with the latest valid_from <= at).
static int
s_price_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_prices_t *s = arg;
    if (s->list.n_prices >= FIN_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    Pm__Finance__Price *p = pm__finance__price__unpack (NULL, val->mv_size, val->mv_data);
    if (!p) {
        return PM_EINTERNAL;
    }
    if (s->has_at) {
        if (p->valid_from > s->at) {
            pm__finance__price__free_unpacked (p, NULL);
            return 0;
        }
        size_t n = s->list.n_prices;
        if (n && strcmp (s->list.prices[n - 1]->code, p->code) == 0) {
            pm__finance__price__free_unpacked (s->list.prices[n - 1], NULL);
            s->list.n_prices--;
        }
    }
    s->list.prices[s->list.n_prices++] = p;
    return 0;
}

//  finance.ListPrices.
static pm_err
s_list_prices (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__ListPrices *req = (const Pm__Finance__ListPrices *) body;
    site_t *site;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc != PM_OK) {
        return rc;
    }
    s_prices_t s = {PM__FINANCE__PRICE_LIST__INIT, req->has_at, req->at, PM_OK};
    s.list.prices = calloc (FIN_LIST_MAX, sizeof *s.list.prices);
    pm_key_t prefix;
    s_price_key (&prefix, req->site_id, NULL, 0);
    rc = pm_key_scan (pm_ctx_txn (ctx), fin_db.prices, prefix.b, prefix.len, NULL,
                      s_price_each, &s);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s.list.base);
    }
    for (size_t i = 0; i < s.list.n_prices; i++) {
        pm__finance__price__free_unpacked (s.list.prices[i], NULL);
    }
    free (s.list.prices);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_sites_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.SetSite", s_set_site);
    pm_server_handle (server, "finance.GetSite", s_get_site);
    pm_server_handle (server, "finance.SetPrice", s_set_price);
    pm_server_handle (server, "finance.ListPrices", s_list_prices);
}
