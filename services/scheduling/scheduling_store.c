/*  scheduling_store.c: keys, loads, saves and access checks shared by the
    scheduling service's concept files (see scheduling_store.h).          */
#include <stdio.h>
#include <string.h>

#include "pm_keys.h"
#include "pm_log.h"
#include "scheduling_store.h"

sch_db_t sch_db;

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

//  Writes the 'p' entry of every stored appointment (a store from before
//  the patient index); *n_out is how many were written.
static pm_err
s_backfill_patients (MDB_txn *txn, void *arg, long *n_out)
{
    (void) arg;
    *n_out = 0;
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.appts, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    pm_err rc = PM_OK;
    MDB_val key = {4, "apt_"}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    //  Waitlist entries share the sub-database (wle_): only apt_ count.
    while (rc == PM_OK && mrc == 0 && key.mv_size > 4 && memcmp (key.mv_data, "apt_", 4) == 0) {
        Pm__Scheduling__Appointment *a
            = pm__scheduling__appointment__unpack (NULL, val.mv_size, val.mv_data);
        if (!a) {
            rc = PM_EINTERNAL;
            break;
        }
        if (a->id && a->patient_id && *a->patient_id) {
            pm_key_t k;
            pm_key_init (&k, 'p');
            pm_key_str (&k, a->patient_id);
            pm_key_str (&k, a->id);
            rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
            (*n_out)++;
        }
        pm__scheduling__appointment__free_unpacked (a, NULL);
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    if (rc == PM_OK && mrc != 0 && mrc != MDB_NOTFOUND) {
        rc = pm_err_from_mdb (mrc);
    }
    if (rc == PM_OK && *n_out == 0) {
        //  No appointments: no merge can have left any behind either.
        pm_key_t k;
        pm_key_init (&k, 'M');
        pm_key_str (&k, SCH_MARK_MERGE_CATCH_UP);
        rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  One-time migrations of an older store.
int
sch_store_migrate (pm_store_t *store)
{
    return pm_store_migrate (store, sch_db.index, SCH_MARK_PATIENT_INDEX,
                             s_backfill_patients, NULL);
}

//  --------------------------------------------------------------------------
//  A message by id.
pm_err
sch_load (MDB_txn *txn, MDB_dbi dbi, const char *id,
          const ProtobufCMessageDescriptor *desc, ProtobufCMessage **out)
{
    *out = NULL;
    if (!id || !*id || strlen (id) > PM_KEY_MAX) {
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
