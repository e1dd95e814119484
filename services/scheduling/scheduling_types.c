/*  scheduling_types.c: appointment types (see scheduling_types.h).      */
#include <stdint.h>
#include <string.h>

#include "scheduling_slots.h"
#include "scheduling_store.h"
#include "scheduling_types.h"

//  --------------------------------------------------------------------------
//  Loads a type, refusing on `field` when there is none.
pm_err
sch_type_load (pm_ctx_t *ctx, const char *id, const char *field,
               Pm__Scheduling__AppointmentType **out)
{
    if (!id || !*id) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s is required", field);
    }
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.types, id,
                          &pm__scheduling__appointment_type__descriptor,
                          (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, field, "%s: no appointment type %.64s",
                            field, id);
    }
    return rc;
}

//  Checks a type's fields; fills in defaults (capacity 1).
static pm_err
s_validate (pm_ctx_t *ctx, Pm__Scheduling__AppointmentType *t)
{
    size_t name_len = t->name ? strlen (t->name) : 0;
    if (name_len == 0 || name_len > 100) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.name", "type.name: 1..100 characters");
    }
    if (t->duration_minutes < 5 || t->duration_minutes > SCH_DURATION_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.duration_minutes",
                            "type.duration_minutes: 5..%d", SCH_DURATION_MAX);
    }
    if (t->buffer_minutes > SCH_BUFFER_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.buffer_minutes",
                            "type.buffer_minutes: 0..%d", SCH_BUFFER_MAX);
    }
    if (!sch_code_valid (t->practitioner_role, 32)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.practitioner_role",
                            "type.practitioner_role: required, 1..32 of a-z 0-9 - _");
    }
    if (t->room_kind && *t->room_kind && !sch_code_valid (t->room_kind, 32)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.room_kind",
                            "type.room_kind: 1..32 of a-z 0-9 - _");
    }
    if (t->telehealth && t->room_kind && *t->room_kind) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.room_kind",
                            "type.room_kind: a telehealth visit needs no room");
    }
    if (t->equipment_kind && *t->equipment_kind && !sch_code_valid (t->equipment_kind, 32)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.equipment_kind",
                            "type.equipment_kind: 1..32 of a-z 0-9 - _");
    }
    if (!t->has_capacity || t->capacity == 0) {
        t->has_capacity = 1;
        t->capacity = 1;
    }
    if (t->capacity > 50) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.capacity", "type.capacity: 1..50");
    }
    if (t->max_per_day > SCH_DAY_LIMIT_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.max_per_day",
                            "type.max_per_day: 0 (no limit) .. %d", SCH_DAY_LIMIT_MAX);
    }
    if (t->site_max_per_day > SCH_DAY_LIMIT_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.site_max_per_day",
                            "type.site_max_per_day: 0 (no limit) .. %d", SCH_DAY_LIMIT_MAX);
    }
    if (t->max_per_day && t->site_max_per_day && t->site_max_per_day < t->max_per_day) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.site_max_per_day",
                            "type.site_max_per_day: not below max_per_day (%u)",
                            t->max_per_day);
    }
    t->has_max_per_day = t->has_site_max_per_day = 1;
    if (t->price_code && *t->price_code && !sch_code_valid (t->price_code, 32)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type.price_code",
                            "type.price_code: 1..32 of a-z 0-9 - _");
    }
    t->has_duration_minutes = t->has_buffer_minutes = t->has_telehealth = 1;
    return PM_OK;
}

//  The site must be known (from staffing) and the caller's.
static pm_err
s_site_check (pm_ctx_t *ctx, const char *site_id, const char *field)
{
    if (!site_id || !*site_id) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s is required", field);
    }
    ProtobufCMessage *site = NULL;
    pm_err rc = sch_load (pm_ctx_txn (ctx), sch_db.sites, site_id,
                          &pm__staffing__site__descriptor, &site);
    protobuf_c_message_free_unpacked (site, NULL);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, PM_ENOTFOUND, field, "%s: no site %.64s known from staffing",
                            field, site_id);
    }
    return rc == PM_OK ? sch_site_access (ctx, site_id, field) : rc;
}

//  Counts the type's days afresh when a daily limit was set where there
//  was none, or removed (see sch_day_rebuild); `had` tells whether the
//  type had one before, `fresh` that it is new (nothing booked yet).
static pm_err
s_day_limits (pm_ctx_t *ctx, const Pm__Scheduling__AppointmentType *t, bool had, bool fresh)
{
    bool has = t->max_per_day > 0 || t->site_max_per_day > 0;
    if (has == had) {
        return PM_OK; //  counted all along, or never
    }
    Pm__Staffing__Site *site = NULL;
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_err rc = sch_load (txn, sch_db.sites, t->site_id, &pm__staffing__site__descriptor,
                          (ProtobufCMessage **) &site);
    if (rc == PM_OK || rc == PM_ENOTFOUND) {
        //  No booking starts in the past: two days back covers today in
        //  any zone. A new type has nothing to count.
        rc = sch_day_rebuild (txn, t, site,
                              fresh ? INT64_MAX : pm_ctx_now (ctx) - 2 * 86400000LL);
    }
    pm__staffing__site__free_unpacked (site, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.DefineType: a new type at a site.
pm_err
sch_define_type (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__DefineType *req = (const Pm__Scheduling__DefineType *) body;
    if (!req || !req->type) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type", "type is required");
    }
    Pm__Scheduling__AppointmentType t = *req->type;
    pm_err rc = s_site_check (ctx, t.site_id, "type.site_id");
    if (rc == PM_OK) {
        rc = s_validate (ctx, &t);
    }
    if (rc != PM_OK) {
        return rc;
    }
    char id[PM_ID_MAX];
    pm_id_new ("atp", pm_ctx_now (ctx), id);
    t.id = id;
    t.has_version = t.has_created_at = t.has_updated_at = t.has_active = 1;
    t.version = 1;
    t.created_at = t.updated_at = pm_ctx_now (ctx);
    t.active = !req->type->has_active || req->type->active;
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 't');
    pm_key_str (&k, t.site_id);
    pm_key_str (&k, id);
    rc = sch_save (txn, sch_db.types, id, &t.base);
    if (rc == PM_OK) {
        rc = pm_store_put (txn, sch_db.index, k.b, k.len, "", 0, 0);
    }
    if (rc == PM_OK) {
        rc = s_day_limits (ctx, &t, false, true);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "scheduling.type.defined", t.site_id, id, &t.base);
    }
    return rc == PM_OK ? pm_ctx_reply (ctx, &t.base) : rc;
}

//  --------------------------------------------------------------------------
//  scheduling.UpdateType: replaces a type's settings (versioned).
pm_err
sch_update_type (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__UpdateType *req = (const Pm__Scheduling__UpdateType *) body;
    if (!req || !req->type) {
        return pm_ctx_fail (ctx, PM_EINVAL, "type", "type is required");
    }
    if (!req->has_expected_version || req->expected_version == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version is required");
    }
    Pm__Scheduling__AppointmentType *old = NULL;
    pm_err rc = sch_type_load (ctx, req->type->id, "type.id", &old);
    if (rc == PM_OK) {
        rc = sch_site_access (ctx, old->site_id, "type.id");
    }
    if (rc == PM_OK && old->version != req->expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu, not %llu: read it again", old->id,
                          (unsigned long long) old->version,
                          (unsigned long long) req->expected_version);
    }
    Pm__Scheduling__AppointmentType t = *req->type;
    if (rc == PM_OK) {
        rc = s_validate (ctx, &t);
    }
    if (rc == PM_OK) {
        t.id = old->id;
        t.site_id = old->site_id;
        t.has_version = t.has_created_at = t.has_updated_at = t.has_active = 1;
        t.version = old->version + 1;
        t.created_at = old->created_at;
        t.updated_at = pm_ctx_now (ctx);
        t.active = !req->type->has_active || req->type->active;
        rc = sch_save (pm_ctx_txn (ctx), sch_db.types, t.id, &t.base);
        if (rc == PM_OK) {
            rc = s_day_limits (ctx, &t, old->max_per_day > 0 || old->site_max_per_day > 0,
                               false);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_emit (ctx, "scheduling.type.updated", t.site_id, t.id, &t.base);
        }
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &t.base);
        }
    }
    pm__scheduling__appointment_type__free_unpacked (old, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.GetType.
pm_err
sch_get_type (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__GetType *req = (const Pm__Scheduling__GetType *) body;
    Pm__Scheduling__AppointmentType *t = NULL;
    pm_err rc = sch_type_load (ctx, req ? req->type_id : NULL, "type_id", &t);
    if (rc == PM_OK) {
        rc = sch_site_access (ctx, t->site_id, "type_id");
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &t->base);
    }
    pm__scheduling__appointment_type__free_unpacked (t, NULL);
    return rc;
}

//  --------------------------------------------------------------------------
//  scheduling.ListTypes: a site's types by id.
pm_err
sch_list_types (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Scheduling__ListTypes *req = (const Pm__Scheduling__ListTypes *) body;
    pm_err rc = s_site_check (ctx, req ? req->site_id : NULL, "site_id");
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    pm_key_t k;
    pm_key_init (&k, 't');
    pm_key_str (&k, req->site_id);
    Pm__Scheduling__TypeList list = PM__SCHEDULING__TYPE_LIST__INIT;
    Pm__Scheduling__AppointmentType *items[1000];
    MDB_cursor *cur;
    int mrc = mdb_cursor_open (txn, sch_db.index, &cur);
    if (mrc != 0) {
        return pm_err_from_mdb (mrc);
    }
    MDB_val key = {k.len, k.b}, val;
    mrc = mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && list.n_types < 1000 && key.mv_size > k.len
           && memcmp (key.mv_data, k.b, k.len) == 0) {
        const char *id = (const char *) key.mv_data + k.len;
        rc = sch_load (txn, sch_db.types, id, &pm__scheduling__appointment_type__descriptor,
                       (ProtobufCMessage **) &items[list.n_types]);
        if (rc == PM_OK) {
            list.n_types++;
        }
        mrc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cur);
    list.types = items;
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &list.base);
    }
    for (size_t i = 0; i < list.n_types; i++) {
        pm__scheduling__appointment_type__free_unpacked (items[i], NULL);
    }
    return rc;
}
