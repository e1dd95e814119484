/*  scheduling_store.c: keys, loads, saves and access checks shared by the
    scheduling service's concept files (see scheduling_store.h).          */
#include <string.h>

#include "pm_keys.h"
#include "scheduling_store.h"

sch_db_t sch_db;

//  --------------------------------------------------------------------------
//  Starts a key with its tag byte.
void
sch_key_init (sch_key_t *k, char tag)
{
    k->b[0] = (uint8_t) tag;
    k->n = 1;
}

//  --------------------------------------------------------------------------
//  Appends a string and its NUL (cut to fit: ids and codes are short).
void
sch_key_str (sch_key_t *k, const char *s)
{
    size_t len = s ? strlen (s) : 0;
    if (k->n + len + 1 > SCH_KEY_MAX) {
        len = SCH_KEY_MAX - k->n - 1;
    }
    memcpy (k->b + k->n, s ? s : "", len);
    k->n += len;
    k->b[k->n++] = 0;
}

//  --------------------------------------------------------------------------
//  Appends a big-endian 64-bit number.
void
sch_key_u64 (sch_key_t *k, uint64_t v)
{
    if (k->n + 8 <= SCH_KEY_MAX) {
        pm_be64_put (k->b + k->n, v);
        k->n += 8;
    }
}

//  --------------------------------------------------------------------------
//  Opens the service's sub-databases.
int
sch_store_open (pm_store_t *store)
{
    struct {
        const char *name;
        MDB_dbi *dbi;
    } dbs[] = {
        {"sites", &sch_db.sites},       {"resources", &sch_db.resources},
        {"staff", &sch_db.staff},       {"roles", &sch_db.roles},
        {"patients", &sch_db.patients}, {"types", &sch_db.types},
        {"appts", &sch_db.appts},       {"holds", &sch_db.holds},
        {"index", &sch_db.index},
    };
    for (size_t i = 0; i < sizeof dbs / sizeof dbs[0]; i++) {
        if (pm_store_dbi (store, dbs[i].name, MDB_CREATE, dbs[i].dbi) != PM_OK) {
            return -1;
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  A message by id.
pm_err
sch_load (MDB_txn *txn, MDB_dbi dbi, const char *id,
          const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = NULL;
    if (!id || !*id || strlen (id) > SCH_KEY_MAX) {
        return PM_ENOTFOUND;
    }
    return pm_store_get_msg (txn, dbi, id, strlen (id), desc, out);
}

//  --------------------------------------------------------------------------
//  Stores a message by id.
pm_err
sch_save (MDB_txn *txn, MDB_dbi dbi, const char *id, const ProtobufCMessage *msg)
{
    return pm_store_put_msg (txn, dbi, id, strlen (id), msg, 0);
}

//  --------------------------------------------------------------------------
//  Deletes every index key with the prefix.
pm_err
sch_drop_prefix (MDB_txn *txn, const uint8_t *prefix, size_t len)
{
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (rc != 0) {
        return pm_err_from_mdb (rc);
    }
    MDB_val key = {len, (void *) prefix}, val;
    rc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0 && key.mv_size >= len && memcmp (key.mv_data, prefix, len) == 0) {
        rc = mdb_cursor_del (cur, 0);
        if (rc == 0) {
            rc = mdb_cursor_get (cur, &key, &val, MDB_GET_CURRENT);
        }
    }
    mdb_cursor_close (cur);
    return rc == 0 || rc == MDB_NOTFOUND ? PM_OK : pm_err_from_mdb (rc);
}

//  --------------------------------------------------------------------------
//  Site scope.
pm_err
sch_site_access (pm_ctx_t *ctx, const char *site, const char *field)
{
    if (!pm_ctx_may_access_site (ctx, site)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field, "site %.64s is not one of yours",
                            site ? site : "");
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Site scope and audit for one appointment: the attempt is audited too.
pm_err
sch_appt_access (pm_ctx_t *ctx, const Pm__Scheduling__Appointment *a, const char *field)
{
    pm_ctx_audit (ctx, a->id, a->site_id);
    if (!pm_ctx_may_access_site (ctx, a->site_id)) {
        return pm_ctx_fail (ctx, PM_EFORBIDDEN, field,
                            "%s is an appointment at site %.64s, not one of yours",
                            a->id, a->site_id ? a->site_id : "");
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Who is asking, by name.
const char *
sch_actor (pm_ctx_t *ctx)
{
    const pm_principal_t *who = pm_ctx_principal (ctx);
    return who && who->name[0] ? who->name : "scheduling";
}

//  --------------------------------------------------------------------------
//  A required reason.
pm_err
sch_check_reason (pm_ctx_t *ctx, const char *field, const char *text)
{
    if (!text || !*text) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: a reason is required", field);
    }
    if (strlen (text) > 500) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: at most 500 characters", field);
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  A code word (role, kind, price code).
bool
sch_code_valid (const char *s, size_t max)
{
    size_t n = s ? strlen (s) : 0;
    if (n == 0 || n > max) {
        return false;
    }
    for (const char *c = s; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '-'
              || *c == '_')) {
            return false;
        }
    }
    return true;
}
