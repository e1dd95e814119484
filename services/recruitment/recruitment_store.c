/*  recruitment_store.c: sub-databases, keys, record helpers and field
    rules shared by the recruitment concept files (recruitment_store.h).  */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_id.h"
#include "recruitment_store.h"
#include "staffing.pb-c.h"

rec_db_t rec_db;

//  --------------------------------------------------------------------------
//  Opens every sub-database of the layout.
pm_err
rec_store_open (pm_store_t *store)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"requisitions", &rec_db.requisitions}, {"postings", &rec_db.postings},
        {"candidates", &rec_db.candidates},     {"applications", &rec_db.applications},
        {"interviews", &rec_db.interviews}, {"index", &rec_db.index},
        {"levels", &rec_db.levels},         {"breaches", &rec_db.breaches},
        {"messages", &rec_db.messages},     {"surveys", &rec_db.surveys},
        {"costs", &rec_db.costs},           {"redactions", &rec_db.redactions},
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
rec_index (pm_ctx_t *ctx, const pm_key_t *k, const char *id, bool add)
{
    if (add) {
        return pm_store_put (pm_ctx_txn (ctx), rec_db.index, k->b, k->len, id,
                             strlen (id), 0);
    }
    pm_err rc = pm_store_del (pm_ctx_txn (ctx), rec_db.index, k->b, k->len);
    return rc == PM_ENOTFOUND ? PM_OK : rc;
}

//  --------------------------------------------------------------------------
//  Reads one index entry's id.
pm_err
rec_index_get (pm_ctx_t *ctx, const pm_key_t *k, char *out)
{
    MDB_val val;
    pm_err rc = pm_store_get (pm_ctx_txn (ctx), rec_db.index, k->b, k->len, &val);
    if (rc == PM_OK) {
        pm_val_str (&val, out, PM_ID_MAX);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Walks the index entries under a prefix in key order.
pm_err
rec_scan (pm_ctx_t *ctx, const pm_key_t *prefix, pm_scan_fn *fn, void *arg)
{
    return pm_key_scan (pm_ctx_txn (ctx), rec_db.index, prefix->b, prefix->len, NULL, fn,
                        arg);
}

//  --------------------------------------------------------------------------
//  Listings: index ids to loaded records.
typedef struct {
    pm_ctx_t *ctx;
    MDB_dbi dbi;
    const ProtobufCMessageDescriptor *desc;
    rec_keep_fn *keep;
    const void *arg;
    rec_listing_t *out;
} s_listing_t;

static int
s_listing_one (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_listing_t *l = arg;
    char id[PM_ID_MAX];
    pm_val_str (val, id, PM_ID_MAX);
    ProtobufCMessage *m;
    pm_err rc = pm_store_get_msg (pm_ctx_txn (l->ctx), l->dbi, id, strlen (id), l->desc, &m);
    if (rc != PM_OK) {
        return rc;
    }
    if (l->keep && !l->keep (l->ctx, m, l->arg)) {
        protobuf_c_message_free_unpacked (m, NULL);
        return 0;
    }
    l->out->items[l->out->n++] = m;
    return l->out->n >= REC_LIST_MAX ? PM_SCAN_STOP : 0;
}

pm_err
rec_listing_load (pm_ctx_t *ctx, const pm_key_t *prefix, MDB_dbi dbi,
                  const ProtobufCMessageDescriptor *desc, rec_keep_fn *keep, const void *arg,
                  rec_listing_t *out)
{
    out->n = 0;
    out->items = calloc (REC_LIST_MAX, sizeof *out->items);
    if (!out->items) {
        return PM_EINTERNAL;
    }
    s_listing_t l = {ctx, dbi, desc, keep, arg, out};
    return rec_scan (ctx, prefix, s_listing_one, &l);
}

void
rec_listing_free (rec_listing_t *listing)
{
    for (size_t i = 0; i < listing->n; i++) {
        protobuf_c_message_free_unpacked (listing->items[i], NULL);
    }
    free (listing->items);
    listing->items = NULL;
    listing->n = 0;
}

//  --- records ----------------------------------------------------------------

//  --------------------------------------------------------------------------
//  Loads and unpacks one record.
pm_err
rec_load (pm_ctx_t *ctx, MDB_dbi dbi, const char *id,
          const ProtobufCMessageDescriptor *desc, const char *field,
          const char *what, void *out)
{
    ProtobufCMessage **msg = out;
    *msg = NULL;
    if (!id || !*id) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field);
    }
    if (strlen (id) > 64) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is not a %s id", field, what);
    }
    pm_err rc = pm_store_get_msg (pm_ctx_txn (ctx), dbi, id, strlen (id), desc, msg);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, field, "%s: no %s %s", field, what, id);
    }
    return rc;
}

pm_err
rec_put (pm_ctx_t *ctx, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg)
{
    return pm_store_put_msg (pm_ctx_txn (ctx), dbi, id, strlen (id), msg, 0);
}

//  --------------------------------------------------------------------------
//  Stores, emits the full new state and replies with it.
pm_err
rec_commit (pm_ctx_t *ctx, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg,
            const char *event, const char *site_id)
{
    return pm_ctx_save_record (ctx, dbi, id, strlen (id), msg, event, site_id, id);
}

pm_err
rec_access (pm_ctx_t *ctx, const char *site, const char *field)
{
    if (!pm_ctx_may_access_site (ctx, site)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field, "%s does not work at site %s",
                            pm_ctx_principal (ctx)->name, site ? site : "");
    }
    return PM_OK;
}

pm_err
rec_check_version (pm_ctx_t *ctx, const char *id, uint64_t actual,
                   bool has_expected, uint64_t expected, bool required)
{
    if (required && (!has_expected || expected == 0)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version: is required (the version you read)");
    }
    if (has_expected && expected != actual) {
        return pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                            "expected_version: %s is at version %llu, not %llu", id,
                            (unsigned long long) actual, (unsigned long long) expected);
    }
    return PM_OK;
}

//  --- field rules --------------------------------------------------------------

pm_err
rec_text (pm_ctx_t *ctx, const char *field, const char *s, bool required, long max)
{
    if (!s || !*s) {
        return required ? pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required", field)
                        : PM_OK;
    }
    long n = 0;
    for (const unsigned char *c = (const unsigned char *) s; *c; c++) {
        //  Descriptions keep their line breaks; nothing else below 0x20.
        if ((*c < 0x20 && *c != '\n') || *c == 0x7f) {
            return pm_ctx_fail (ctx, PM_EINVAL, field,
                                "%s: must not contain control characters", field);
        }
        n += (*c & 0xc0) != 0x80;
    }
    if (n > max) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is %ld characters; at most %ld",
                            field, n, max);
    }
    return PM_OK;
}

pm_err
rec_token (pm_ctx_t *ctx, const char *field, const char *s, size_t max)
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

//  True for a real calendar date written YYYY-MM-DD.
static bool
s_date_valid (const char *s)
{
    if (strlen (s) != 10 || s[4] != '-' || s[7] != '-') {
        return false;
    }
    for (int i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && !isdigit ((unsigned char) s[i])) {
            return false;
        }
    }
    int y = atoi (s), m = atoi (s + 5), d = atoi (s + 8);
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (y < 1900 || m < 1 || m > 12 || d < 1) {
        return false;
    }
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return d <= mdays[m - 1] + (m == 2 && leap);
}

pm_err
rec_date (pm_ctx_t *ctx, const char *field, const char *s)
{
    if (!s || !*s) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: is required (YYYY-MM-DD)", field);
    }
    if (!s_date_valid (s)) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                            "%s: \"%.20s\" is not a date written YYYY-MM-DD", field, s);
    }
    return PM_OK;
}

pm_err
rec_currency (pm_ctx_t *ctx, const char *field, const char *s)
{
    if (!s || strlen (s) != 3 || !isupper ((unsigned char) s[0])
        || !isupper ((unsigned char) s[1]) || !isupper ((unsigned char) s[2])) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                            "%s: \"%.10s\" is not an ISO 4217 code (e.g. \"USD\")", field,
                            s ? s : "");
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  A staffing EmploymentType name: staffing refuses a hire without one.
pm_err
rec_employment_type (pm_ctx_t *ctx, const char *field, const char *s)
{
    const ProtobufCEnumValue *v = s ? protobuf_c_enum_descriptor_get_value_by_name (
                                          &pm__staffing__employment_type__descriptor, s)
                                    : NULL;
    if (!v || v->value == PM__STAFFING__EMPLOYMENT_TYPE__EMPLOYMENT_UNSET) {
        return pm_ctx_fail (ctx, PM_EINVAL, field,
                            "%s: \"%.32s\" is not FULL_TIME, PART_TIME, CONTRACTOR, "
                            "LOCUM or TEMPORARY", field, s ? s : "");
    }
    return PM_OK;
}

const char *
rec_role_name (pm_ctx_t *ctx)
{
    const char *name = pm_role_name (pm_ctx_principal (ctx)->role);
    return name ? name : "unknown";
}
