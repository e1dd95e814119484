/*  staffing_store.c: sub-databases, keys, record helpers and field rules
    shared by the staffing concept files (see staffing_store.h).          */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "staffing_store.h"
#include "staffing_tz.h"

stf_db_t stf_db;

//  --------------------------------------------------------------------------
//  Opens every sub-database of the layout in staffing_store.h.
pm_err
stf_store_open (pm_store_t *store)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"sites", &stf_db.sites},         {"resources", &stf_db.resources},
        {"staff", &stf_db.staff},         {"hires", &stf_db.hires},
        {"credentials", &stf_db.credentials}, {"roles", &stf_db.roles},
        {"templates", &stf_db.templates}, {"shifts", &stf_db.shifts},
        {"swaps", &stf_db.swaps},         {"coverage", &stf_db.coverage},
        {"leave_types", &stf_db.leave_types}, {"allocations", &stf_db.allocations},
        {"leave", &stf_db.leave},         {"completions", &stf_db.completions},
        {"training", &stf_db.training},   {"index", &stf_db.index},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        pm_err rc = pm_store_dbi (store, dbs[i].name, 0, dbs[i].dbi);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Adds or removes one index entry.
pm_err
stf_index (MDB_txn *txn, MDB_dbi dbi, const pm_key_t *k, const char *id,
           bool add)
{
    if (add) {
        return pm_store_put (txn, dbi, k->b, k->len, id, strlen (id), 0);
    }
    pm_err rc = pm_store_del (txn, dbi, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  --------------------------------------------------------------------------
//  A linked key acts only as its person.
pm_err
stf_acting_as (pm_ctx_t *ctx, const char *staff_id, bool for_others, const char *field)
{
    const char *me = pm_ctx_staff_id (ctx);
    if (!me || (staff_id && strcmp (me, staff_id) == 0)) {
        return PM_OK;
    }
    unsigned managers = PM_ROLE_PRACTICE_MANAGER | PM_ROLE_NETWORK_ADMIN;
    if (for_others && (pm_ctx_principal (ctx)->role & managers)) {
        return PM_OK;
    }
    return pm_ctx_fail (ctx, PM_EFORBIDDEN, field,
                        "%s: your key is %s's: it acts only as them, not as %.64s", field,
                        me, staff_id ? staff_id : "");
}

//  --- records ----------------------------------------------------------------

//  --------------------------------------------------------------------------
//  Loads and unpacks one record.
pm_err
stf_load (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
          const ProtobufCMessageDescriptor *desc, const char *field,
          const char *what, void *out)
{
    ProtobufCMessage **msg = out;
    *msg = NULL;
    if (!id || !*id) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field);
    }
    if (strlen (id) > 64) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is not a %s id", field,
                             what);
    }
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), dbi, id, strlen (id), desc,
                                  msg);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, field, "%s: no %s %s", field, what, id);
    }
    return rc;
}

pm_err
stf_put (pm_ctx_t *ctx, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg)
{
    return pm_store_put_msg (pm_ctx_txn (ctx), dbi, id, strlen (id), msg, 0);
}

//  --------------------------------------------------------------------------
//  Stores, emits the full new state and replies with it.
pm_err
stf_commit (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
            const ProtobufCMessage *msg, const char *event, const char *site_id)
{
    return pm_ctx_save_record (ctx, dbi, id, strlen (id), msg, event, site_id, id);
}

//  --------------------------------------------------------------------------
//  True when both messages pack to the same bytes: an update that changes
//  nothing makes no new version and no event.
bool
stf_same (const ProtobufCMessage *a, const ProtobufCMessage *b)
{
    size_t na = protobuf_c_message_get_packed_size (a);
    size_t nb = protobuf_c_message_get_packed_size (b);
    if (na != nb) {
        return false;
    }
    uint8_t *pa = malloc (na + 1), *pb = malloc (nb + 1);
    protobuf_c_message_pack (a, pa);
    protobuf_c_message_pack (b, pb);
    bool same = memcmp (pa, pb, na) == 0;
    free (pa);
    free (pb);
    return same;
}

pm_err
stf_site (pm_ctx_t *ctx, const char *site_id, const char *field,
          Pm__Staffing__Site **out)
{
    return stf_load (ctx, stf_db.sites, site_id, &pm__staffing__site__descriptor,
                     field, "site", out);
}

pm_err
stf_access (pm_ctx_t *ctx, const char *site, const char *field)
{
    if (!pm_ctx_may_access_site (ctx, site)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field, "%s does not work at site %s",
                             pm_ctx_principal (ctx)->name, site);
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Optimistic concurrency: the caller says which version it changed.
pm_err
stf_check_version (pm_ctx_t *ctx, const char *id, uint64_t actual,
                   bool has_expected, uint64_t expected, bool required)
{
    if (required && (!has_expected || expected == 0)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                             "expected_version: is required (the version you read)");
    }
    if (has_expected && expected != 0 && expected != actual) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                             "%s is at version %llu, not %llu: read it again", id,
                             (unsigned long long) actual,
                             (unsigned long long) expected);
    }
    return PM_OK;
}

//  --- field rules --------------------------------------------------------------

pm_err
stf_text (pm_ctx_t *ctx, const char *field, const char *s, bool required,
          long max)
{
    if (!s || !*s) {
        return required ? pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field)
                        : PM_OK;
    }
    long n = 0;
    for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
        if (*c < 0x20 || *c == 0x7f) {
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                 "%s: must not contain control characters", field);
        }
        n += (*c & 0xc0) != 0x80;
    }
    if (n > max) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                             "%s: is %ld characters; at most %ld", field, n, max);
    }
    return PM_OK;
}

pm_err
stf_token (pm_ctx_t *ctx, const char *field, const char *s, size_t max)
{
    size_t n = s ? strlen (s) : 0;
    bool ok = n > 0 && n <= max;
    for (size_t i = 0; ok && i < n; i++) {
        ok = islower ((unsigned char) s[i]) || isdigit ((unsigned char) s[i])
             || s[i] == '_' || s[i] == '-';
    }
    if (!ok) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                             "%s: \"%.40s\" is not 1 to %zu of a-z, 0-9, '_' or '-'",
                             field, s ? s : "", max);
    }
    return PM_OK;
}

pm_err
stf_date (pm_ctx_t *ctx, const char *field, const char *s)
{
    if (!s || !*s) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required (YYYY-MM-DD)",
                             field);
    }
    if (!stf_date_valid (s)) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                             "%s: \"%.20s\" is not a date written YYYY-MM-DD",
                             field, s);
    }
    return PM_OK;
}

pm_err
stf_currency (pm_ctx_t *ctx, const char *field, const char *s)
{
    if (!s || strlen (s) != 3 || !isupper ((unsigned char) s[0])
        || !isupper ((unsigned char) s[1]) || !isupper ((unsigned char) s[2])) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                             "%s: \"%.10s\" is not an ISO 4217 code (e.g. \"USD\")",
                             field, s ? s : "");
    }
    return PM_OK;
}

pm_err
stf_id (pm_ctx_t *ctx, const char *field, const char *s, const char *prefix)
{
    if (!s || !*s) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field);
    }
    if (!pm_id_valid (s, prefix)) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: \"%.40s\" is not a %s_ id",
                             field, s, prefix);
    }
    return PM_OK;
}

void
stf_today (pm_ctx_t *ctx, const char *zone, char *out)
{
    if (!stf_tz_local (zone, pm_ctx_now (ctx), out, NULL, NULL)) {
        stf_tz_local ("UTC", pm_ctx_now (ctx), out, NULL, NULL);
    }
}
