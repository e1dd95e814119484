/*  patients_complaints.c: complaints as cases with per-site service levels.

    A case moves by a table of guarded transitions (below); each one is
    stamped with actor and time in the case's history and published as
    patients.complaint.<what happened>. When filed it gets its dues from
    the site's service levels then in force: acknowledge within N days,
    resolve within M (24-hour periods from receipt).

    Breaches: a timer (pm_server_every, PM_PATIENTS_SLA_CHECK_MS) walks the
    pending dues in time order and marks each case whose due passed still
    unmet, emitting patients.complaint.breached once per case and kind; a
    case acknowledged or resolved late between two ticks is marked at that
    transition instead. Either way the due leaves the index in the same
    transaction as the mark, so no breach is ever emitted twice.

    Sub-database `complaints`:
      'R' id                              -> Complaint
      'S' site 0 be64 received_at 0 id    -> ""  (reports)
      'P' patient id 0 id                 -> ""  (erasure)
      'D' be64 due kind id                -> ""  (pending dues; kind 'A' or 'R')
      'L' site                            -> ComplaintSla                  */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "patients_store.h"
#include "pm_cfg.h"

#define DAY_MS 86400000LL
#define ACK_DAYS_DEFAULT 3
#define RESOLVE_DAYS_DEFAULT 30
#define SUMMARY_MAX 2000
#define TICK_MAX 500             //  dues handled per tick: bounded work

typedef Pm__Patients__Complaint complaint_t;
typedef Pm__Patients__ComplaintSla sla_t;

#define ST(x) PM__PATIENTS__COMPLAINT_STATUS__##x

//  The transitions a case may take, and the event each one publishes.
static const struct {
    Pm__Patients__ComplaintStatus from, to;
    const char *event;
} s_moves[] = {
    {ST (RECEIVED), ST (ACKNOWLEDGED), "patients.complaint.acknowledged"},
    {ST (ACKNOWLEDGED), ST (INVESTIGATING), "patients.complaint.investigating"},
    {ST (ACKNOWLEDGED), ST (RESOLVED), "patients.complaint.resolved"},
    {ST (INVESTIGATING), ST (RESOLVED), "patients.complaint.resolved"},
    {ST (RESOLVED), ST (INVESTIGATING), "patients.complaint.reopened"},
    {ST (RESOLVED), ST (CLOSED), "patients.complaint.closed"},
};

static const char *
s_status_name (Pm__Patients__ComplaintStatus st)
{
    const ProtobufCEnumValue *v = protobuf_c_enum_descriptor_get_value (
        &pm__patients__complaint_status__descriptor, (int) st);
    return v ? v->name : "?";
}

static size_t
s_rec_key (uint8_t *key, const char *id)
{
    key[0] = 'R';
    return 1 + pat_key_put (key + 1, id, PM_ID_MAX) - 1;
}

static size_t
s_site_key (uint8_t *key, const char *site, int64_t at, const char *id)
{
    key[0] = 'S';
    size_t n = 1 + pat_key_put (key + 1, site, 65);
    pm_be64_put (key + n, (uint64_t) at);
    n += 8;
    key[n++] = 0;
    return n + pat_key_put (key + n, id, PM_ID_MAX) - 1;
}

static size_t
s_patient_key (uint8_t *key, const char *patient, const char *id)
{
    key[0] = 'P';
    return 1 + pat_pair_key (key + 1, patient, id);
}

static size_t
s_due_key (uint8_t *key, int64_t due, char kind, const char *id)
{
    key[0] = 'D';
    pm_be64_put (key + 1, (uint64_t) due);
    key[9] = (uint8_t) kind;
    return 10 + pat_key_put (key + 10, id, PM_ID_MAX) - 1;
}

static size_t
s_sla_key (uint8_t *key, const char *site)
{
    key[0] = 'L';
    return 1 + pat_key_put (key + 1, site, 65) - 1;
}

static pm_err
s_due (MDB_txn *txn, int64_t due, char kind, const char *id, bool add)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_due_key (key, due, kind, id);
    pm_err rc = add ? pm_store_put (txn, pat_db.complaints, key, n, "", 0, 0)
                    : pm_store_del (txn, pat_db.complaints, key, n);
    return rc == PM_ENOTFOUND && !add ? PM_OK : rc;
}

static bool
s_token_ok (const char *s)
{
    size_t n = s ? strlen (s) : 0;
    return n > 0 && n <= 64
           && strspn (s, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789_-") == n;
}

//  A long text (summary, resolution): 1..SUMMARY_MAX bytes, no control
//  characters but newlines.
static pm_err
s_long_text (pm_ctx_t *ctx, const char *field, const char *text)
{
    if (!text || !*text) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s is required", field);
    }
    size_t n = strlen (text);
    if (n > SUMMARY_MAX) {
        return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: at most %d bytes, not %zu",
                            field, SUMMARY_MAX, n);
    }
    for (const unsigned char *c = (const unsigned char *) text; *c; c++) {
        if ((*c < 0x20 && *c != '\n') || *c == 0x7f) {
            return pm_ctx_fail (ctx, PM_EINVAL, field, "%s: no control characters", field);
        }
    }
    return PM_OK;
}

//  The site's service levels (the defaults if none were set); caller
//  frees.
static pm_err
s_sla_get (MDB_txn *txn, const char *site, sla_t **out)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_sla_key (key, site);
    pm_err rc = pm_store_get_msg (txn, pat_db.complaints, key, n,
                                  &pm__patients__complaint_sla__descriptor,
                                  (ProtobufCMessage **) out);
    if (rc == PM_ENOTFOUND) {
        *out = pm__patients__complaint_sla__unpack (NULL, 0, (const uint8_t *) "");
        if (!*out || !((*out)->site_id = strdup (site))) {
            return PM_EINTERNAL;
        }
        (*out)->has_acknowledge_days = (*out)->has_resolve_days = 1;
        (*out)->acknowledge_days = ACK_DAYS_DEFAULT;
        (*out)->resolve_days = RESOLVE_DAYS_DEFAULT;
        rc = PM_OK;
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  The case `id` (caller frees), PM_ENOTFOUND if none.
pm_err
pat_complaint_get (MDB_txn *txn, const char *id, complaint_t **out)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_rec_key (key, id);
    *out = NULL;
    return pm_store_get_msg (txn, pat_db.complaints, key, n,
                             &pm__patients__complaint__descriptor,
                             (ProtobufCMessage **) out);
}

//  --------------------------------------------------------------------------
//  Stores the case (its index entries are the caller's).
pm_err
pat_complaint_put (MDB_txn *txn, const complaint_t *c)
{
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_rec_key (key, c->id);
    return pm_store_put_msg (txn, pat_db.complaints, key, n, &c->base, 0);
}

//  Marks the breach on the case (the caller stores it) and emits it.
static pm_err
s_breach (pm_ctx_t *ctx, complaint_t *c, Pm__Patients__SlaKind kind)
{
    bool ack = kind == PM__PATIENTS__SLA_KIND__SLA_ACKNOWLEDGE;
    if (ack) {
        c->has_acknowledge_breached = c->acknowledge_breached = 1;
    }
    else {
        c->has_resolve_breached = c->resolve_breached = 1;
    }
    Pm__Patients__ComplaintBreach b = PM__PATIENTS__COMPLAINT_BREACH__INIT;
    b.has_kind = b.has_due_at = b.has_detected_at = 1;
    b.kind = kind;
    b.due_at = ack ? c->acknowledge_due : c->resolve_due;
    b.detected_at = pm_ctx_now (ctx);
    b.complaint = c;
    return pm_ctx_emit (ctx, "patients.complaint.breached", c->site_id, c->id, &b.base);
}

//  Appends a step to the case's history (steps[] outlives the call).
static void
s_step (pm_ctx_t *ctx, complaint_t *c, Pm__Patients__ComplaintStep *step,
        Pm__Patients__ComplaintStep **steps, Pm__Patients__ComplaintStatus to,
        const char *note)
{
    pm__patients__complaint_step__init (step);
    step->has_from = c->has_status;
    step->from = c->status;
    step->has_to = step->has_at = 1;
    step->to = to;
    step->at = pm_ctx_now (ctx);
    step->actor = (char *) pat_actor (ctx);
    step->note = (char *) note;
    for (size_t i = 0; i < c->n_history; i++) {
        steps[i] = c->history[i];
    }
    steps[c->n_history] = step;
    c->history = steps;
    c->n_history++;
    c->has_status = 1;
    c->status = to;
}

//  patients.FileComplaint
static pm_err
s_file (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__FileComplaint *req = (const Pm__Patients__FileComplaint *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (!s_token_ok (req->site_id)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id",
                            "a site id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (pat_site_access (ctx, req->site_id, "site_id") != PM_OK) {
        return PM_EFORBIDDEN;
    }
    pm_err rc = s_long_text (ctx, "summary", req->summary);
    if (rc != PM_OK) {
        return rc;
    }
    if (req->appointment_id && !pm_id_valid (req->appointment_id, "apt")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "appointment_id",
                            "\"%.40s\" is not an appointment id (apt_...)",
                            req->appointment_id);
    }
    if (req->practitioner_id && !s_token_ok (req->practitioner_id)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "practitioner_id",
                            "a practitioner id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (req->patient_id) {
        patient_t *p;
        rc = pat_load (ctx, req->patient_id, "patient_id", &p);
        if (rc == PM_OK) {
            //  A case names the record that lives on: the survivor.
            rc = pat_check_changeable (ctx, p, "patient_id");
        }
        if (rc != PM_OK) {
            pm__patients__patient__free_unpacked (p, NULL);
            return rc;
        }
        pm_ctx_audit (ctx, p->id, req->site_id);
        pm__patients__patient__free_unpacked (p, NULL);
    }
    sla_t *sla;
    rc = s_sla_get (txn, req->site_id, &sla);
    if (rc != PM_OK) {
        return rc;
    }
    int64_t now = pm_ctx_now (ctx);
    char id[PM_ID_MAX];
    pm_id_new ("cmp", now, id);
    complaint_t c = PM__PATIENTS__COMPLAINT__INIT;
    c.id = id;
    c.has_version = c.has_received_at = c.has_acknowledge_due = c.has_resolve_due = 1;
    c.version = 1;
    c.site_id = req->site_id;
    c.patient_id = req->patient_id;
    c.appointment_id = req->appointment_id;
    c.practitioner_id = req->practitioner_id;
    c.summary = req->summary;
    c.received_at = now;
    c.acknowledge_due = now + sla->acknowledge_days * DAY_MS;
    c.resolve_due = now + sla->resolve_days * DAY_MS;
    pm__patients__complaint_sla__free_unpacked (sla, NULL);
    Pm__Patients__ComplaintStep step, *steps[1];
    s_step (ctx, &c, &step, steps, ST (RECEIVED), NULL);
    uint8_t key[PAT_KEY_MAX];
    rc = pat_complaint_put (txn, &c);
    if (rc == PM_OK) {
        size_t n = s_site_key (key, c.site_id, c.received_at, c.id);
        rc = pm_store_put (txn, pat_db.complaints, key, n, "", 0, 0);
    }
    if (rc == PM_OK && c.patient_id) {
        size_t n = s_patient_key (key, c.patient_id, c.id);
        rc = pm_store_put (txn, pat_db.complaints, key, n, "", 0, 0);
    }
    if (rc == PM_OK) {
        rc = s_due (txn, c.acknowledge_due, 'A', c.id, true);
    }
    if (rc == PM_OK) {
        rc = s_due (txn, c.resolve_due, 'R', c.id, true);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "patients.complaint.received", c.site_id, c.id, &c.base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &c.base);
    }
    return rc;
}

//  The case `id` with site scope and audit.
static pm_err
s_load (pm_ctx_t *ctx, const char *id, complaint_t **out)
{
    *out = NULL;
    if (!pm_id_valid (id, "cmp")) {
        return pm_ctx_fail (ctx, PM_EINVAL, "id", "\"%.40s\" is not a complaint id (cmp_...)",
                            id ? id : "");
    }
    pm_err rc = pat_complaint_get (pm_ctx_txn (ctx), id, out);
    if (rc == PM_ENOTFOUND) {
        return pm_ctx_fail (ctx, rc, "id", "no complaint %s", id);
    }
    if (rc == PM_OK && pat_site_access (ctx, (*out)->site_id, "id") != PM_OK) {
        pm__patients__complaint__free_unpacked (*out, NULL);
        *out = NULL;
        return PM_EFORBIDDEN;
    }
    if (rc == PM_OK && (*out)->patient_id) {
        pm_ctx_audit (ctx, (*out)->patient_id, (*out)->site_id);
    }
    return rc;
}

//  patients.AdvanceComplaint
static pm_err
s_advance (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__AdvanceComplaint *req = (const Pm__Patients__AdvanceComplaint *) body;
    MDB_txn *txn = pm_ctx_txn (ctx);
    if (!req->has_expected_version || req->expected_version == 0) {
        return pm_ctx_fail (ctx, PM_EINVAL, "expected_version",
                            "expected_version is required: the version you read");
    }
    if (!req->has_to || req->to <= ST (RECEIVED) || req->to > ST (CLOSED)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "to",
                            "to is one of ACKNOWLEDGED, INVESTIGATING, RESOLVED, CLOSED");
    }
    pm_err rc = pat_check_text (ctx, "note", req->note, false);
    if (rc != PM_OK) {
        return rc;
    }
    complaint_t *c;
    rc = s_load (ctx, req->id, &c);
    if (rc != PM_OK) {
        return rc;
    }
    const char *event = NULL;
    for (size_t i = 0; i < sizeof s_moves / sizeof *s_moves; i++) {
        if (s_moves[i].from == c->status && s_moves[i].to == req->to) {
            event = s_moves[i].event;
        }
    }
    bool reopen = c->status == ST (RESOLVED) && req->to == ST (INVESTIGATING);
    if (c->version != req->expected_version) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "expected_version",
                          "%s is at version %llu, not %llu: read it again", c->id,
                          (unsigned long long) c->version,
                          (unsigned long long) req->expected_version);
    }
    else if (!event) {
        rc = pm_ctx_fail (ctx, PM_ECONFLICT, "to", "%s is %s: it cannot become %s", c->id,
                          s_status_name (c->status), s_status_name (req->to));
    }
    else if (req->to == ST (RESOLVED)) {
        rc = s_long_text (ctx, "resolution", req->resolution);
    }
    else if (reopen && (!req->note || !*req->note)) {
        rc = pm_ctx_fail (ctx, PM_EINVAL, "note", "say why the case is reopened");
    }
    if (rc != PM_OK) {
        pm__patients__complaint__free_unpacked (c, NULL);
        return rc;
    }
    //  The move: the new state, its dues, and any breach it reveals.
    int64_t now = pm_ctx_now (ctx);
    Pm__Patients__ComplaintStep step, *steps[c->n_history + 1];
    Pm__Patients__ComplaintStep **old_history = c->history;
    size_t old_n = c->n_history;
    char *old_resolution = c->resolution;
    Pm__Patients__SlaKind breach = PM__PATIENTS__SLA_KIND__SLA_KIND_UNSET;
    s_step (ctx, c, &step, steps, req->to, req->note);
    c->version++;
    if (req->to == ST (ACKNOWLEDGED)) {
        c->has_acknowledged_at = 1;
        c->acknowledged_at = now;
        rc = s_due (txn, c->acknowledge_due, 'A', c->id, false);
        if (now > c->acknowledge_due && !c->acknowledge_breached) {
            breach = PM__PATIENTS__SLA_KIND__SLA_ACKNOWLEDGE;
        }
    }
    else if (req->to == ST (RESOLVED)) {
        c->has_resolved_at = 1;
        c->resolved_at = now;
        c->resolution = req->resolution;
        rc = s_due (txn, c->resolve_due, 'R', c->id, false);
        if (now > c->resolve_due && !c->resolve_breached) {
            breach = PM__PATIENTS__SLA_KIND__SLA_RESOLVE;
        }
    }
    else if (reopen) {
        c->has_resolved_at = 0;
        c->resolved_at = 0;
        if (!c->resolve_breached) {
            rc = s_due (txn, c->resolve_due, 'R', c->id, true);
        }
    }
    else if (req->to == ST (CLOSED)) {
        c->has_closed_at = 1;
        c->closed_at = now;
    }
    if (breach == PM__PATIENTS__SLA_KIND__SLA_ACKNOWLEDGE) {
        c->has_acknowledge_breached = c->acknowledge_breached = 1;
    }
    else if (breach == PM__PATIENTS__SLA_KIND__SLA_RESOLVE) {
        c->has_resolve_breached = c->resolve_breached = 1;
    }
    if (rc == PM_OK) {
        rc = pat_complaint_put (txn, c);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, event, c->site_id, c->id, &c->base);
    }
    //  Met late, between two ticks: the breach is told here, once.
    if (rc == PM_OK && breach) {
        rc = s_breach (ctx, c, breach);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &c->base);
    }
    //  Give back what free_unpacked owns.
    c->history = old_history;
    c->n_history = old_n;
    c->resolution = old_resolution;
    pm__patients__complaint__free_unpacked (c, NULL);
    return rc;
}

//  patients.GetComplaint
static pm_err
s_get (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__GetComplaint *req = (const Pm__Patients__GetComplaint *) body;
    complaint_t *c;
    pm_err rc = s_load (ctx, req->id, &c);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &c->base);
        pm__patients__complaint__free_unpacked (c, NULL);
    }
    return rc;
}

//  patients.SetComplaintSla
static pm_err
s_set_sla (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__SetComplaintSla *req = (const Pm__Patients__SetComplaintSla *) body;
    if (!s_token_ok (req->site_id)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id",
                            "a site id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (pat_site_access (ctx, req->site_id, "site_id") != PM_OK) {
        return PM_EFORBIDDEN;
    }
    if (!req->has_acknowledge_days || req->acknowledge_days < 1
        || req->acknowledge_days > 30) {
        return pm_ctx_fail (ctx, PM_EINVAL, "acknowledge_days",
                            "acknowledge_days is required: 1 to 30");
    }
    if (!req->has_resolve_days || req->resolve_days < req->acknowledge_days
        || req->resolve_days > 365) {
        return pm_ctx_fail (ctx, PM_EINVAL, "resolve_days",
                            "resolve_days is required: acknowledge_days to 365");
    }
    sla_t sla = PM__PATIENTS__COMPLAINT_SLA__INIT;
    sla.site_id = req->site_id;
    sla.has_acknowledge_days = sla.has_resolve_days = sla.has_updated_at = 1;
    sla.acknowledge_days = req->acknowledge_days;
    sla.resolve_days = req->resolve_days;
    sla.updated_at = pm_ctx_now (ctx);
    sla.updated_by = (char *) pat_actor (ctx);
    uint8_t key[PAT_KEY_MAX];
    size_t n = s_sla_key (key, sla.site_id);
    pm_err rc = pm_store_put_msg (pm_ctx_txn (ctx), pat_db.complaints, key, n,
                                  &sla.base, 0);
    if (rc == PM_OK) {
        rc = pm_ctx_emit (ctx, "patients.complaint_sla.changed", sla.site_id,
                          sla.site_id, &sla.base);
    }
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &sla.base);
    }
    return rc;
}

//  patients.GetComplaintSla
static pm_err
s_get_sla (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__GetComplaintSla *req = (const Pm__Patients__GetComplaintSla *) body;
    if (!s_token_ok (req->site_id)) {
        return pm_ctx_fail (ctx, PM_EINVAL, "site_id",
                            "a site id is 1 to 64 letters, digits, '_' or '-'");
    }
    if (pat_site_access (ctx, req->site_id, "site_id") != PM_OK) {
        return PM_EFORBIDDEN;
    }
    sla_t *sla;
    pm_err rc = s_sla_get (pm_ctx_txn (ctx), req->site_id, &sla);
    if (rc == PM_OK) {
        rc = pm_ctx_reply (ctx, &sla->base);
        pm__patients__complaint_sla__free_unpacked (sla, NULL);
    }
    return rc;
}

//  patients.ComplaintReport
static pm_err
s_report (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__Patients__ComplaintReport *req = (const Pm__Patients__ComplaintReport *) body;
    pm_err rc = pat_report_window (ctx, req->site_id, req->has_from, req->from,
                                   req->has_to, req->to);
    if (rc != PM_OK) {
        return rc;
    }
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint8_t from[PAT_KEY_MAX];
    s_site_key (from, req->site_id, req->from, "");
    size_t plen = 1 + strlen (req->site_id) + 1; //  'S' site 0
    size_t flen = plen + 8;                       //  and the time received
    MDB_cursor *cursor;
    rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.complaints, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    Pm__Patients__ComplaintReportResult out = PM__PATIENTS__COMPLAINT_REPORT_RESULT__INIT;
    int64_t ack_ms = 0, resolve_ms = 0;
    uint32_t acked = 0, resolved_ever = 0;
    MDB_val key = {flen, from}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (rc == PM_OK && mrc == 0 && key.mv_size > flen + 1
           && memcmp (key.mv_data, from, plen) == 0
           && (int64_t) pm_be64_get ((uint8_t *) key.mv_data + plen) < req->to) {
        char id[PM_ID_MAX];
        size_t idlen = key.mv_size - flen - 1;
        snprintf (id, sizeof id, "%.*s", (int) (idlen < PM_ID_MAX ? idlen : PM_ID_MAX - 1),
                  (char *) key.mv_data + flen + 1);
        complaint_t *c;
        rc = pat_complaint_get (txn, id, &c);
        if (rc != PM_OK) {
            break;
        }
        out.received++;
        out.open += c->status <= ST (INVESTIGATING);
        out.resolved += c->status >= ST (RESOLVED);
        out.closed += c->status == ST (CLOSED);
        out.acknowledge_breached += c->acknowledge_breached;
        out.resolve_breached += c->resolve_breached;
        if (c->has_acknowledged_at) {
            acked++;
            ack_ms += c->acknowledged_at - c->received_at;
            out.acknowledged_in_time += c->acknowledged_at <= c->acknowledge_due;
        }
        if (c->has_resolved_at) {
            resolved_ever++;
            resolve_ms += c->resolved_at - c->received_at;
            out.resolved_in_time += c->resolved_at <= c->resolve_due && !c->resolve_breached;
        }
        pm__patients__complaint__free_unpacked (c, NULL);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    sla_t *sla = NULL;
    if (rc == PM_OK) {
        rc = s_sla_get (txn, req->site_id, &sla);
    }
    if (rc == PM_OK) {
        out.site_id = req->site_id;
        out.has_from = out.has_to = out.has_received = out.has_open = 1;
        out.has_resolved = out.has_closed = out.has_acknowledged_in_time = 1;
        out.has_acknowledge_breached = out.has_resolved_in_time = 1;
        out.has_resolve_breached = out.has_avg_ms_to_acknowledge = 1;
        out.has_avg_ms_to_resolve = 1;
        out.from = req->from;
        out.to = req->to;
        out.avg_ms_to_acknowledge = acked ? ack_ms / acked : 0;
        out.avg_ms_to_resolve = resolved_ever ? resolve_ms / resolved_ever : 0;
        out.sla = sla;
        rc = pm_ctx_reply (ctx, &out.base);
    }
    pm__patients__complaint_sla__free_unpacked (sla, NULL);
    return rc;
}

//  The timer: every due that passed, in time order, checked once.
static pm_err
s_tick (pm_ctx_t *ctx)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    int64_t now = pm_ctx_now (ctx);
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.complaints, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    //  Collected first: the cursor is not walked while the tree changes.
    struct {
        int64_t due;
        char kind;
        char id[PM_ID_MAX];
    } *dues = NULL;
    size_t n = 0;
    MDB_val key = {1, "D"}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && n < TICK_MAX && key.mv_size > 10
           && ((uint8_t *) key.mv_data)[0] == 'D'
           && (int64_t) pm_be64_get ((uint8_t *) key.mv_data + 1) < now) {
        dues = realloc (dues, (n + 1) * sizeof *dues);
        if (!dues) {
            abort ();
        }
        dues[n].due = (int64_t) pm_be64_get ((uint8_t *) key.mv_data + 1);
        dues[n].kind = ((char *) key.mv_data)[9];
        size_t idlen = key.mv_size - 10;
        snprintf (dues[n].id, PM_ID_MAX, "%.*s",
                  (int) (idlen < PM_ID_MAX ? idlen : PM_ID_MAX - 1),
                  (char *) key.mv_data + 10);
        n++;
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        rc = s_due (txn, dues[i].due, dues[i].kind, dues[i].id, false);
        complaint_t *c = NULL;
        if (rc == PM_OK) {
            rc = pat_complaint_get (txn, dues[i].id, &c);
        }
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK; //  a due of a case gone: nothing to mark
            continue;
        }
        bool ack = dues[i].kind == 'A';
        bool missed = ack ? c->status == ST (RECEIVED) && !c->acknowledge_breached
                          : c->status <= ST (INVESTIGATING) && !c->resolve_breached;
        if (rc == PM_OK && missed) {
            c->version++;
            rc = s_breach (ctx, c, ack ? PM__PATIENTS__SLA_KIND__SLA_ACKNOWLEDGE
                                       : PM__PATIENTS__SLA_KIND__SLA_RESOLVE);
            if (rc == PM_OK) {
                rc = pat_complaint_put (txn, c);
            }
        }
        pm__patients__complaint__free_unpacked (c, NULL);
    }
    free (dues);
    return rc;
}

//  --------------------------------------------------------------------------
//  Drops the free text of every case about `patient` (erasure): the
//  cases, their dates, statuses and service-level figures stay. Refuses
//  (ECONFLICT) while a case about them is not closed.
pm_err
pat_complaints_redact (pm_ctx_t *ctx, const char *patient, size_t *redacted)
{
    MDB_txn *txn = pm_ctx_txn (ctx);
    uint8_t prefix[PAT_KEY_MAX];
    size_t plen = s_patient_key (prefix, patient, "");
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, pat_db.complaints, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    char (*ids)[PM_ID_MAX] = NULL;
    size_t n = 0;
    MDB_val key = {plen, prefix}, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
    while (mrc == 0 && key.mv_size > plen && memcmp (key.mv_data, prefix, plen) == 0) {
        ids = realloc (ids, (n + 1) * sizeof *ids);
        if (!ids) {
            abort ();
        }
        size_t idlen = key.mv_size - plen;
        snprintf (ids[n++], PM_ID_MAX, "%.*s",
                  (int) (idlen < PM_ID_MAX ? idlen : PM_ID_MAX - 1),
                  (char *) key.mv_data + plen);
        mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    *redacted = 0;
    for (size_t i = 0; rc == PM_OK && i < n; i++) {
        complaint_t *c;
        rc = pat_complaint_get (txn, ids[i], &c);
        if (rc == PM_ENOTFOUND) {
            rc = PM_OK;
            continue;
        }
        if (rc == PM_OK && c->status != ST (CLOSED)) {
            rc = pm_ctx_fail (ctx, PM_ECONFLICT, "id",
                              "complaint %s about this patient is %s: a case that "
                              "may still become a legal claim holds the record until "
                              "it is closed", c->id, s_status_name (c->status));
        }
        if (rc == PM_OK) {
            c->version++;
            size_t len;
            uint8_t *packed = pat_complaint_pack_erased (c, &len);
            uint8_t rec_key[PAT_KEY_MAX];
            size_t klen = s_rec_key (rec_key, c->id);
            rc = pm_store_put (txn, pat_db.complaints, rec_key, klen, packed, len, 0);
            if (rc == PM_OK) {
                rc = pm_ctx_emit_packed (ctx, "patients.complaint.redacted", c->site_id,
                                         c->id, packed, len);
            }
            free (packed);
            (*redacted)++;
        }
        pm__patients__complaint__free_unpacked (c, NULL);
    }
    free (ids);
    return rc;
}

//  --------------------------------------------------------------------------
//  A case as it reads once its patient is erased (see the header).
uint8_t *
pat_complaint_pack_erased (complaint_t *c, size_t *len_out)
{
    char *summary = c->summary, *resolution = c->resolution;
    char **notes = calloc (c->n_history + 1, sizeof *notes);
    if (!notes) {
        abort ();
    }
    c->summary = "[erased]";
    c->resolution = resolution ? "[erased]" : NULL;
    for (size_t j = 0; j < c->n_history; j++) {
        notes[j] = c->history[j]->note;
        c->history[j]->note = NULL;
    }
    *len_out = pm__patients__complaint__get_packed_size (c);
    uint8_t *packed = malloc (*len_out + 1);
    if (!packed) {
        abort ();
    }
    pm__patients__complaint__pack (c, packed);
    c->summary = summary;
    c->resolution = resolution;
    for (size_t j = 0; j < c->n_history; j++) {
        c->history[j]->note = notes[j];
    }
    free (notes);
    return packed;
}

//  --------------------------------------------------------------------------
//  Binds the complaint commands and the service-level timer.
void
pat_complaints_bind (pm_server_t *server)
{
    pm_server_handle (server, "patients.FileComplaint", s_file);
    pm_server_handle (server, "patients.AdvanceComplaint", s_advance);
    pm_server_handle (server, "patients.GetComplaint", s_get);
    pm_server_handle (server, "patients.SetComplaintSla", s_set_sla);
    pm_server_handle (server, "patients.GetComplaintSla", s_get_sla);
    pm_server_handle (server, "patients.ComplaintReport", s_report);
    pm_server_every (server, (int) pm_cfg_int ("PM_PATIENTS_SLA_CHECK_MS", 60000), s_tick);
}
