/*  finance_charges.c: charges, from scheduling's stream and by hand.

    Exactly once per appointment: a charge raised from an appointment
    event has the id "chg_" + the appointment id's body, and is raised in
    the transaction that moves finance's cursor on scheduling's stream. A
    re-delivered event, a restart, or a replaced scheduling store read
    again from seq 1 finds the charge and raises nothing. The first event
    that raises a charge for an appointment wins: a fulfilled appointment
    later marked no-show does not get a second charge.

    Stream reset: charges are financial records, not a projection, so
    reset drops nothing. A charge already invoiced (or voided, or paid)
    stays as it is; replayed events only meet existing ids. Rebuilding
    from a new stream therefore never double charges, and never undoes a
    charge either: a correction is a void with a reason.

    Fees: scheduling.appointment.noshow raises the site's no-show fee,
    scheduling.appointment.cancelled the late-cancel fee when the
    cancellation was late. Late is read from a boolean field named
    "late_cancel" of the Appointment if scheduling's message has one (it
    is looked up by name in the descriptor, so finance builds with and
    without it); until it exists, a cancellation is late when the event's
    time is less than the site's late_cancel_minutes before the start. A
    zero fee raises nothing. A visit is priced by its type's price code
    (scheduling copies it onto the appointment), or by the type's id when
    no price is kept under the code. An appointment of a type with no price, or at
    a site without finance settings, raises a not-billable charge with
    the reason, so that it is seen, and still only once.                */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "finance_charges.h"
#include "finance_sites.h"
#include "pm_id.h"
#include "scheduling.pb-c.h"

typedef Pm__Finance__Charge charge_t;

#define QUANTITY_MAX 1000

//  --------------------------------------------------------------------------
//  Charge `id` (caller frees).
pm_err
fin_charge_get (MDB_txn *txn, const char *id, charge_t **out)
{
    *out = NULL;
    return pm_store_get_msg (txn, fin_db.charges, id, strlen (id),
                             &pm__finance__charge__descriptor, (ProtobufCMessage **) out);
}

//  Stores a new charge with its index entry and announces it.
static pm_err
s_raise (pm_ctx_t *ctx, charge_t *c)
{
    pm_err rc = fin_put (ctx, fin_db.charges, c->id, &c->base);
    if (rc == PM_OK) {
        pm_key_t k;
        fin_ix_key (&k, FIN_IX_CHARGE, c->patient_id, c->site_id, c->id);
        rc = fin_index (pm_ctx_txn (ctx), &k, c->id, true);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "finance.charge.raised", c->site_id, c->id, &c->base);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Stores a changed charge and announces it.
pm_err
fin_charge_save (pm_ctx_t *ctx, charge_t *c, const char *old_patient, const char *event)
{
    c->version++;
    c->has_updated_at = 1;
    c->updated_at = pm_ctx_now (ctx);
    pm_err rc = fin_put (ctx, fin_db.charges, c->id, &c->base);
    if (rc == PM_OK && old_patient) {
        pm_key_t k;
        fin_ix_key (&k, FIN_IX_CHARGE, old_patient, c->site_id, c->id);
        rc = fin_index (pm_ctx_txn (ctx), &k, c->id, false);
        if (rc == PM_OK) {
            fin_ix_key (&k, FIN_IX_CHARGE, c->patient_id, c->site_id, c->id);
            rc = fin_index (pm_ctx_txn (ctx), &k, c->id, true);
        }
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, event, c->site_id, c->id, &c->base);
    }
    return rc;
}

//  True when scheduling says (or, failing a field for it, the clock and
//  the site's policy say) that a cancellation was late.
static bool
s_late_cancel (const Pm__Scheduling__Appointment *apt, const Pm__Event *event,
               const Pm__Finance__SiteFinance *site)
{
    const ProtobufCFieldDescriptor *fd = protobuf_c_message_descriptor_get_field_by_name (
        apt->base.descriptor, "late_cancel");
    if (fd && fd->type == PROTOBUF_C_TYPE_BOOL && fd->label == PROTOBUF_C_LABEL_OPTIONAL) {
        const char *base = (const char *) apt;
        protobuf_c_boolean has = *(const protobuf_c_boolean *) (base + fd->quantifier_offset);
        protobuf_c_boolean value = *(const protobuf_c_boolean *) (base + fd->offset);
        return has && value;
    }
    if (!site || !site->late_cancel_minutes || !apt->has_start || !event->has_time) {
        return false;
    }
    return event->time > apt->start - (int64_t) site->late_cancel_minutes * 60000;
}

//  A scheduling.appointment.* event -> at most one charge.
static pm_err
s_apply (pm_ctx_t *ctx, const Pm__Event *event)
{
    int kind = 0;
    if (!event->type) {
        return PM_OK;
    }
    if (strcmp (event->type, "scheduling.appointment.fulfilled") == 0) {
        kind = PM__FINANCE__CHARGE_KIND__CHARGE_VISIT;
    }
    else if (strcmp (event->type, "scheduling.appointment.noshow") == 0) {
        kind = PM__FINANCE__CHARGE_KIND__CHARGE_NO_SHOW_FEE;
    }
    else if (strcmp (event->type, "scheduling.appointment.cancelled") == 0) {
        kind = PM__FINANCE__CHARGE_KIND__CHARGE_LATE_CANCEL_FEE;
    }
    else {
        return PM_OK; //  the cursor moves past what finance does not charge
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Scheduling__Appointment *apt = pm__scheduling__appointment__unpack (
        NULL, event->data.len, event->data.data);
    if (!apt) {
        return pm_ctx_fail (ctx, PM_EINVAL, "data", "not a scheduling.Appointment");
    }
    pm_err rc = PM_OK;
    if (!pm_id_valid (apt->id, "apt")) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.id", "not an appointment id");
    }
    else if (!pm_id_valid (apt->patient_id, "pat")) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.patient_id", "not a patient id");
    }
    else if (!fin_token_ok (apt->site_id)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.site_id", "not a site id");
    }
    else if ((apt->type_id && !fin_token_ok (apt->type_id))
             || (apt->practitioner_id && strlen (apt->practitioner_id) > 64)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "data.type_id", "not a type id");
    }
    char id[PM_ID_MAX];
    charge_t *old = NULL;
    Pm__Finance__SiteFinance *site = NULL;
    Pm__Finance__Price *price = NULL;
    if (rc == PM_OK) {
        snprintf (id, sizeof id, "chg_%s", apt->id + 4);
        rc = fin_charge_get (txn, id, &old);
        if (rc == PM_OK) {
            //  Seen before (re-delivered, replayed, rebuilt): charged once.
            pm__finance__charge__free_unpacked (old, NULL);
            pm__scheduling__appointment__free_unpacked (apt, NULL);
            return PM_OK;
        }
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    if (rc == PM_OK) {
        rc = pm_store_get_msg (txn, fin_db.sites, apt->site_id, strlen (apt->site_id),
                               &pm__finance__site_finance__descriptor,
                               (ProtobufCMessage **) &site);
        rc = rc == PM_ENOTFOUND ? PM_OK : rc;
    }
    if (rc != PM_OK) {
        pm__scheduling__appointment__free_unpacked (apt, NULL);
        return rc;
    }
    int64_t now = pm_ctx_now (ctx);
    charge_t c = PM__FINANCE__CHARGE__INIT;
    char reason[200] = "";
    c.id = id;
    c.has_version = c.has_kind = c.has_quantity = c.has_unit_minor = 1;
    c.has_amount_minor = c.has_service_at = c.has_status = 1;
    c.has_created_at = c.has_updated_at = 1;
    c.version = 1;
    c.kind = kind;
    c.quantity = 1;
    c.site_id = apt->site_id;
    c.patient_id = apt->patient_id;
    c.practitioner_id = apt->practitioner_id;
    c.appointment_id = apt->id;
    c.code = apt->type_id;
    c.service_at = apt->has_start ? apt->start : event->time;
    c.created_at = c.updated_at = now;
    c.currency = site ? site->currency : NULL;
    c.status = PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE;
    bool raise = true;
    if (!site) {
        snprintf (reason, sizeof reason, "site %s has no finance settings", apt->site_id);
    }
    else if (kind == PM__FINANCE__CHARGE_KIND__CHARGE_VISIT) {
        //  Priced by the type's price code (what a price list is kept by),
        //  else by the type's id.
        char *codes[2] = {apt->price_code, apt->type_id};
        rc = PM_ENOTFOUND;
        for (int i = 0; i < 2 && rc == PM_ENOTFOUND; i++) {
            if (codes[i] && fin_token_ok (codes[i])) {
                rc = fin_price_at (txn, site->site_id, codes[i], c.service_at, &price);
                c.code = codes[i];
            }
        }
        if (rc == PM_OK) {
            c.unit_minor = c.amount_minor = price->amount_minor;
            c.description = price->description;
        }
        else if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
            if (!apt->type_id) {
                snprintf (reason, sizeof reason, "the appointment has no type");
            }
            else {
                snprintf (reason, sizeof reason, "no price for %s%s%s at site %s then",
                          apt->price_code ? apt->price_code : "",
                          apt->price_code ? " or " : "", apt->type_id, site->site_id);
            }
        }
    }
    else if (kind == PM__FINANCE__CHARGE_KIND__CHARGE_NO_SHOW_FEE) {
        c.unit_minor = c.amount_minor = site->no_show_fee_minor;
        c.description = "no-show fee";
        raise = site->no_show_fee_minor > 0;
    }
    else {
        c.unit_minor = c.amount_minor = site->late_cancel_fee_minor;
        c.description = "late-cancellation fee";
        raise = site->late_cancel_fee_minor > 0 && s_late_cancel (apt, event, site);
    }
    if (reason[0]) {
        c.status = PM__FINANCE__CHARGE_STATUS__CHARGE_NOT_BILLABLE;
        c.reason = reason;
    }
    if (rc == PM_OK && raise) {
        rc = s_raise (ctx, &c);
    }
    pm__finance__price__free_unpacked (price, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    pm__scheduling__appointment__free_unpacked (apt, NULL);
    return rc;
}

//  Scheduling's store was replaced: charges are kept (see the header).
static pm_err
s_reset (pm_ctx_t *ctx, const char *source)
{
    (void) ctx;
    (void) source;
    return PM_OK;
}

//  finance.AddCharge: a charge entered by hand.
static pm_err
s_add (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__AddCharge *req = (const Pm__Finance__AddCharge *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    Pm__Finance__SiteFinance *site = NULL;
    Pm__Finance__Price *price = NULL;
    int64_t now = pm_ctx_now (ctx);
    int64_t at = req->has_service_at ? req->service_at : now;
    uint32_t qty = req->has_quantity ? req->quantity : 1;
    pm_err rc = fin_site (ctx, req->site_id, "site_id", &site);
    if (rc == PM_OK) {
        rc = fin_id (ctx, "patient_id", req->patient_id, "pat");
    }
    if (rc == PM_OK) {
        rc = fin_token (ctx, "code", req->code);
    }
    if (rc == PM_OK && (qty < 1 || qty > QUANTITY_MAX)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "quantity", "quantity: 1..%d", QUANTITY_MAX);
    }
    if (rc == PM_OK && at < 0) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "service_at", "service_at: an instant, ms UTC");
    }
    if (rc == PM_OK) {
        rc = fin_text (ctx, "description", req->description, false, 200);
    }
    if (rc == PM_OK && req->has_unit_minor) {
        rc = fin_money (ctx, "unit_minor", true, req->unit_minor, true);
    }
    else if (rc == PM_OK) {
        rc = fin_price_at (txn, req->site_id, req->code, at, &price);
        if (rc == PM_ENOTFOUND) {
            rc = pm_ctx_fail (ctx, PM_EINVAL, "code", "code: site %s has no price for %s "
                              "then; give unit_minor", req->site_id, req->code);
        }
    }
    int64_t unit = price ? price->amount_minor : req->unit_minor;
    if (rc == PM_OK && unit * (int64_t) qty > FIN_MONEY_MAX) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "quantity", "quantity: the amount would pass "
                          "10^13 minor units");
    }
    if (rc == PM_OK) {
        char id[PM_ID_MAX];
        pm_id_new ("chg", now, id);
        charge_t c = PM__FINANCE__CHARGE__INIT;
        c.id = id;
        c.has_version = c.has_kind = c.has_quantity = c.has_unit_minor = 1;
        c.has_amount_minor = c.has_service_at = c.has_status = 1;
        c.has_created_at = c.has_updated_at = 1;
        c.version = 1;
        c.kind = PM__FINANCE__CHARGE_KIND__CHARGE_MANUAL;
        c.status = PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE;
        c.site_id = req->site_id;
        c.patient_id = req->patient_id;
        c.code = req->code;
        c.quantity = qty;
        c.unit_minor = unit;
        c.amount_minor = unit * (int64_t) qty;
        c.currency = site->currency;
        c.service_at = at;
        c.description = req->description ? req->description
                                         : price ? price->description : NULL;
        c.created_at = c.updated_at = now;
        pm_ctx_audit (ctx, id, c.site_id);
        rc = s_raise (ctx, &c);
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &c.base);
        }
    }
    pm__finance__price__free_unpacked (price, NULL);
    pm__finance__site_finance__free_unpacked (site, NULL);
    return rc;
}

//  Loads a charge in the caller's scope and puts the access on the audit
//  log.
static pm_err
s_load (pm_ctx_t *ctx, const char *id, const char *field, charge_t **out)
{
    pm_err rc = fin_load (ctx, fin_db.charges, id, "chg", &pm__finance__charge__descriptor,
                          field, "charge", out);
    if (rc == PM_OK) {
        pm_ctx_audit (ctx, (*out)->id, (*out)->site_id);
        rc = fin_access (ctx, (*out)->site_id, field);
    }
    if (rc != PM_OK) {
        pm__finance__charge__free_unpacked (*out, NULL);
        *out = NULL;
    }
    return rc;
}

//  finance.VoidCharge.
static pm_err
s_void (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__VoidCharge *req = (const Pm__Finance__VoidCharge *) body;
    charge_t *c = NULL;
    pm_err rc = fin_text (ctx, "reason", req->reason, true, FIN_TEXT_MAX);
    if (rc == PM_OK) {
        rc = s_load (ctx, req->charge_id, "charge_id", &c);
    }
    if (rc == PM_OK) {
        rc = fin_check_version (ctx, c->id, c->version, req->has_expected_version,
                                req->expected_version, false);
    }
    if (rc == PM_OK && c->invoice_id && *c->invoice_id) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "charge_id", "charge_id: %s is on invoice %s; "
                          "cancel the invoice or credit it", c->id, c->invoice_id);
    }
    if (rc == PM_OK && c->status != PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE
        && c->status != PM__FINANCE__CHARGE_STATUS__CHARGE_NOT_BILLABLE) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "charge_id", "charge_id: %s is already %s",
                          c->id, c->status == PM__FINANCE__CHARGE_STATUS__CHARGE_VOIDED
                                     ? "voided" : "billed");
    }
    if (rc == PM_OK) {
        char *old_reason = c->reason;
        c->status = PM__FINANCE__CHARGE_STATUS__CHARGE_VOIDED;
        c->reason = req->reason; //  borrowed from the request until the free
        rc = fin_charge_save (ctx, c, NULL, "finance.charge.voided");
        if (rc == PM_OK) {
            rc = pm_ctx_reply (ctx, &c->base);
        }
        c->reason = old_reason;
    }
    pm__finance__charge__free_unpacked (c, NULL);
    return rc;
}

//  finance.GetCharge: by id or by appointment.
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__GetCharge *req = (const Pm__Finance__GetCharge *) body;
    char id[PM_ID_MAX];
    const char *field = "charge_id";
    if (!req->charge_id && req->appointment_id) {
        field = "appointment_id";
        if (!pm_id_valid (req->appointment_id, "apt")) {
            return pm_ctx_fail (ctx, PM_EINVAL, field, "appointment_id: not an apt_ id");
        }
        snprintf (id, sizeof id, "chg_%s", req->appointment_id + 4);
    }
    else {
        snprintf (id, sizeof id, "%s", req->charge_id ? req->charge_id : "");
    }
    charge_t *c;
    pm_err rc = s_load (ctx, id, field, &c);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &c->base);
    }
    pm__finance__charge__free_unpacked (c, NULL);
    return rc;
}

typedef struct {
    Pm__Finance__ChargeList list;
    MDB_txn *txn;
} s_list_t;

static int
s_list_each (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_list_t *s = arg;
    if (s->list.n_charges >= FIN_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    char id[PM_ID_MAX];
    pm_val_str (val, id, sizeof id);
    charge_t *c;
    pm_err rc = fin_charge_get (s->txn, id, &c);
    if (rc != PM_OK) {
        return rc == PM_ENOTFOUND ? PM_EINTERNAL : rc;
    }
    s->list.charges[s->list.n_charges++] = c;
    return 0;
}

//  finance.ListCharges: a patient's charges at a site, oldest first.
static pm_err
s_list (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Finance__ListCharges *req = (const Pm__Finance__ListCharges *) body;
    pm_err rc = fin_token (ctx, "site_id", req->site_id);
    if (rc == PM_OK) {
        rc = fin_access (ctx, req->site_id, "site_id");
    }
    if (rc == PM_OK) {
        rc = fin_id (ctx, "patient_id", req->patient_id, "pat");
    }
    if (rc != PM_OK) {
        return rc;
    }
    s_list_t s = {PM__FINANCE__CHARGE_LIST__INIT, pm_ctx_txn (ctx)};
    s.list.charges = calloc (FIN_LIST_MAX, sizeof *s.list.charges);
    pm_key_t prefix;
    fin_ix_key (&prefix, FIN_IX_CHARGE, req->patient_id, req->site_id, NULL);
    rc = pm_key_scan (s.txn, fin_db.index, prefix.b, prefix.len, NULL, s_list_each, &s);
    for (size_t i = 0; rc == PM_OK && i < s.list.n_charges; i++) {
        pm_ctx_audit (ctx, s.list.charges[i]->id, req->site_id);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &s.list.base);
    }
    for (size_t i = 0; i < s.list.n_charges; i++) {
        pm__finance__charge__free_unpacked (s.list.charges[i], NULL);
    }
    free (s.list.charges);
    return rc;
}

//  Collects the ids under an index prefix (at most FIN_LIST_MAX).
typedef struct {
    char (*ids)[PM_ID_MAX];
    size_t n;
} s_ids_t;

static int
s_collect (const MDB_val *key, const MDB_val *val, void *arg)
{
    (void) key;
    s_ids_t *s = arg;
    if (s->n >= FIN_LIST_MAX) {
        return PM_SCAN_STOP;
    }
    pm_val_str (val, s->ids[s->n++], PM_ID_MAX);
    return 0;
}

//  --------------------------------------------------------------------------
//  Re-points the merged patient's open charges at the survivor.
pm_err
fin_charges_repoint (pm_ctx_t *ctx, const char *from, const char *to)
{
    s_ids_t s = {calloc (FIN_LIST_MAX, PM_ID_MAX), 0};
    pm_key_t prefix;
    pm_key_init (&prefix, FIN_IX_CHARGE);
    pm_key_str (&prefix, from);
    pm_err rc = pm_key_scan (pm_ctx_txn (ctx), fin_db.index, prefix.b, prefix.len, NULL,
                             s_collect, &s);
    for (size_t i = 0; rc == PM_OK && i < s.n; i++) {
        charge_t *c;
        rc = fin_charge_get (pm_ctx_txn (ctx), s.ids[i], &c);
        if (rc != PM_OK) {
            break;
        }
        bool open = !(c->invoice_id && *c->invoice_id)
                    && (c->status == PM__FINANCE__CHARGE_STATUS__CHARGE_BILLABLE
                        || c->status == PM__FINANCE__CHARGE_STATUS__CHARGE_NOT_BILLABLE);
        if (open) {
            char *old = c->patient_id, *old_from = c->merged_from;
            c->patient_id = (char *) to;
            c->merged_from = (char *) from;
            rc = fin_charge_save (ctx, c, from, "finance.charge.updated");
            c->patient_id = old;
            c->merged_from = old_from;
        }
        pm__finance__charge__free_unpacked (c, NULL);
    }
    free (s.ids);
    return rc;
}

//  --------------------------------------------------------------------------
void
fin_charges_setup (pm_server_t *server)
{
    pm_server_handle (server, "finance.AddCharge", s_add);
    pm_server_handle (server, "finance.VoidCharge", s_void);
    pm_server_handle (server, "finance.GetCharge", s_get);
    pm_server_handle (server, "finance.ListCharges", s_list);
    pm_server_follow (server, "scheduling", s_apply, s_reset);
}
