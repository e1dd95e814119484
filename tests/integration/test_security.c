/*  test_security.c: only known principals get in, each does only what its
    role allows at its own sites, and every refusal and break-glass access
    is on a hash-chained audit log that detects tampering.               */
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "itest.h"
#include "patients.pb-c.h"
#include "pm_test.pb-c.h"

//  Calls with an envelope the test controls (site, gateway, break-glass).
static Pm__Reply *
s_raw_call (pm_client_t *client, const char *type, const ProtobufCMessage *body,
            const char *site, const char *on_behalf_of, bool break_glass,
            const char *purpose)
{
    static uint64_t next_id = 1000;
    uint8_t buf[2048], frame[4096];
    Pm__Request req = PM__REQUEST__INIT;
    req.client_id = (char *) pm_client_id (client);
    req.has_request_id = 1;
    req.request_id = next_id++;
    req.type = (char *) type;
    req.site_id = (char *) site;
    req.on_behalf_of = (char *) on_behalf_of;
    req.has_break_glass = break_glass;
    req.break_glass = break_glass;
    req.purpose = (char *) purpose;
    if (body) {
        req.has_body = 1;
        req.body.data = buf;
        req.body.len = protobuf_c_message_pack (body, buf);
    }
    zmsg_t *msg = zmsg_new ();
    zmsg_addmem (msg, frame, pm__request__pack (&req, frame));
    pm_client_send_frames (client, &msg);
    int64_t until = itest_now () + 5000;
    while (itest_now () < until) {
        Pm__Reply *reply = pm_client_recv (client, 1000);
        if (reply && reply->request_id == req.request_id) {
            return reply;
        }
        if (reply) {
            pm__reply__free_unpacked (reply, NULL);
        }
    }
    return NULL;
}

//  A registration at `site`.
static void
s_patient (Pm__Patients__Register *reg, Pm__Patients__Patient *p,
           Pm__Patients__HumanName *name, char **given, const char *site)
{
    pm__patients__register__init (reg);
    pm__patients__patient__init (p);
    pm__patients__human_name__init (name);
    name->family = "Adeyemi";
    given[0] = "Tunde";
    name->n_given = 1;
    name->given = given;
    p->name = name;
    p->birth_date = "1970-05-05";
    p->home_site = (char *) site;
    reg->patient = p;
}

static Pm__AuditVerdict *s_verify (pm_client_t *auditor);

static Pm__AuditBatch *
s_audit (pm_client_t *auditor, bool break_glass_only)
{
    Pm__AuditRead req = PM__AUDIT_READ__INIT;
    req.has_break_glass_only = break_glass_only;
    req.break_glass_only = break_glass_only;
    Pm__Reply *reply = itest_call (auditor, "pm.AuditRead", &req.base);
    Pm__AuditBatch *batch = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        batch = pm__audit_batch__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return batch;
}

//  --------------------------------------------------------------------------
//  A key the store does not hold cannot connect; a revoked key is refused
//  on its next connection (the open one was authenticated before).
static void
s_test_unknown_and_revoked_keys (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    pm_client_t *desk = itest_client_as (&svc, "desk");
    Pm__Health *h = itest_health (desk);
    CHECK (h != NULL);
    pm__health__free_unpacked (h, NULL);

    //  A stranger: a key pair of its own, not in the store.
    zcert_t *stranger = zcert_new ();
    char path[600];
    snprintf (path, sizeof path, "%s/secret/stranger.cert", pm_keys_dir ());
    CHECK (zcert_save (stranger, path) == 0);
    zcert_destroy (&stranger);
    pm_client_t *who = itest_client_as (&svc, "stranger");
    pm_client_set_timeout (who, 300, 1);
    Pm__Reply *reply = NULL;
    CHECK (pm_client_call (who, "pm.Health", NULL, &reply) == PM_ETIMEDOUT);
    pm_client_destroy (&who);

    //  Revoked: the next connection with that key is refused.
    CHECK (pm_keys_revoke ("desk") == PM_OK);
    pm_client_t *again = itest_client_as (&svc, "desk");
    pm_client_set_timeout (again, 300, 1);
    CHECK (pm_client_call (again, "pm.Health", NULL, &reply) == PM_ETIMEDOUT);
    pm_client_destroy (&again);
    pm_client_destroy (&desk);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Roles and sites: a command outside the role, or a site outside the
//  principal's, is EFORBIDDEN and on the audit log; a gateway is checked
//  as the end user it names.
static void
s_test_roles_sites_gateway (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("audrey", "auditor", "*");
    itest_principal ("portal", "gateway", "*");
    pm_client_t *desk = itest_client_as (&svc, "desk");
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    pm_client_t *portal = itest_client_as (&svc, "portal");
    Pm__Patients__Register reg;
    Pm__Patients__Patient p;
    Pm__Patients__HumanName name;
    char *given[1];
    s_patient (&reg, &p, &name, given, "north");

    //  The front desk registers at its own site...
    Pm__Reply *reply = s_raw_call (desk, "patients.Register", &reg.base, "north",
                                   NULL, false, NULL);
    CHECK (reply && reply->code == PM__CODE__OK);
    pm__reply__free_unpacked (reply, NULL);
    //  ...not at another site, whether the request or the record names it...
    reply = s_raw_call (desk, "patients.Register", &reg.base, "south", NULL, false,
                        NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    CHECK (reply->message && strstr (reply->message, "south"));
    pm__reply__free_unpacked (reply, NULL);
    p.home_site = "south";
    reply = s_raw_call (desk, "patients.Register", &reg.base, "north", NULL, false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    p.home_site = "north";
    //  ...and may not read the raw event stream (a service's job).
    Pm__EventsRead er = PM__EVENTS_READ__INIT;
    reply = s_raw_call (desk, "pm.EventsRead", &er.base, NULL, NULL, false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    //  An auditor reads the record but registers no one.
    reply = s_raw_call (auditor, "patients.Register", &reg.base, "north", NULL,
                        false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    //  Only a clinician breaks the glass.
    reply = s_raw_call (desk, "patients.Register", &reg.base, "south", NULL, true,
                        "emergency");
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);

    //  The gateway acts for the front desk: allowed where the desk is.
    reply = s_raw_call (portal, "patients.Register", &reg.base, "north", "desk",
                        false, NULL);
    CHECK (reply && reply->code == PM__CODE__OK);
    pm__reply__free_unpacked (reply, NULL);
    reply = s_raw_call (portal, "patients.Register", &reg.base, "south", "desk",
                        false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    reply = s_raw_call (portal, "patients.Register", &reg.base, "north", "nobody",
                        false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    //  On its own, the gateway may call only what gateways may.
    reply = s_raw_call (portal, "patients.Deactivate", NULL, "north", NULL, false,
                        NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);

    //  Every refusal is on the record, with who and (for the gateway) via.
    Pm__AuditBatch *log = s_audit (auditor, false);
    CHECK (log);
    int refused = 0, via_portal = 0;
    for (size_t i = 0; i < log->n_entries; i++) {
        Pm__AuditEntry *e = log->entries[i];
        refused += e->outcome == PM__CODE__EFORBIDDEN;
        via_portal += e->via && strcmp (e->via, "portal") == 0
                      && e->outcome == PM__CODE__EFORBIDDEN;
        CHECK (e->seq == i + 1);
    }
    CHECK (refused == 8);
    CHECK (via_portal == 2); //  south for desk; "nobody" is refused as itself
    pm__audit_batch__free_unpacked (log, NULL);
    pm_client_destroy (&desk);
    pm_client_destroy (&auditor);
    pm_client_destroy (&portal);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Break-glass: a clinician opens another site's data with a purpose; it
//  is allowed, flagged, and on the auditor's review list.
static void
s_test_break_glass (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("dr-north", "clinician", "north");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *doc = itest_client_as (&svc, "dr-north");
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    Pm__Patients__Search q = PM__PATIENTS__SEARCH__INIT;
    q.family_prefix = "x";
    Pm__Reply *reply = s_raw_call (doc, "patients.Search", &q.base, "south", NULL,
                                   false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    reply = s_raw_call (doc, "patients.Search", &q.base, "south", NULL, true, NULL);
    CHECK (reply && reply->code == PM__CODE__EINVAL); //  no purpose given
    pm__reply__free_unpacked (reply, NULL);
    reply = s_raw_call (doc, "patients.Search", &q.base, "south", NULL, true,
                        "unconscious patient brought in from the south clinic");
    CHECK (reply && reply->code == PM__CODE__OK);
    pm__reply__free_unpacked (reply, NULL);
    Pm__AuditBatch *review = s_audit (auditor, true);
    CHECK (review && review->n_entries == 1);
    Pm__AuditEntry *e = review->entries[0];
    CHECK (e->break_glass && strcmp (e->principal, "dr-north") == 0);
    CHECK (strcmp (e->site_id, "south") == 0 && strstr (e->purpose, "unconscious"));
    CHECK (strcmp (e->action, "patients.Search") == 0);
    pm__audit_batch__free_unpacked (review, NULL);
    pm_client_destroy (&doc);
    pm_client_destroy (&auditor);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  pmctl audit verify's check: the chain holds, then a flipped byte in the
//  store (service stopped, file edited, service restarted) is found.
static Pm__AuditVerdict *
s_verify (pm_client_t *auditor)
{
    Pm__Reply *reply = itest_call (auditor, "pm.AuditVerify", NULL);
    Pm__AuditVerdict *v = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        v = pm__audit_verdict__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return v;
}

static void
s_test_audit_detects_tampering (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *desk = itest_client_as (&svc, "desk");
    for (int i = 0; i < 5; i++) {
        Pm__EventsRead er = PM__EVENTS_READ__INIT;
        Pm__Reply *reply = s_raw_call (desk, "pm.EventsRead", &er.base, NULL, NULL,
                                       false, NULL);
        CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
        pm__reply__free_unpacked (reply, NULL);
    }
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    Pm__AuditVerdict *v = s_verify (auditor);
    CHECK (v && v->ok && v->entries == 5);
    pm__audit_verdict__free_unpacked (v, NULL);
    pm_client_destroy (&auditor);
    pm_client_destroy (&desk);

    //  Flip one byte of entry 3 in the store file itself.
    itest_signal (&svc, SIGTERM);
    char dir[300];
    snprintf (dir, sizeof dir, "%s/store", svc.dir);
    pm_store_t *store = pm_store_new (dir, 1 << 20, 1LL << 30);
    CHECK (store);
    MDB_dbi dbi;
    CHECK (pm_store_dbi (store, "$audit", 0, &dbi) == PM_OK);
    MDB_txn *txn;
    CHECK (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    uint8_t key[8], copy[1024];
    pm_be64_put (key, 3);
    MDB_val val;
    CHECK (pm_store_get (txn, dbi, key, 8, &val) == PM_OK && val.mv_size < sizeof copy);
    memcpy (copy, val.mv_data, val.mv_size);
    copy[val.mv_size - 40] ^= 0x20; //  inside the entry, before its hashes
    CHECK (pm_store_put (txn, dbi, key, 8, copy, val.mv_size, 0) == PM_OK);
    CHECK (pm_store_commit (txn) == PM_OK);
    pm_store_destroy (&store);

    CHECK (itest_start (&svc) == 0);
    auditor = itest_client_as (&svc, "audrey");
    v = s_verify (auditor);
    CHECK (v && !v->ok && v->first_bad_seq == 3 && v->problem);
    pm__audit_verdict__free_unpacked (v, NULL);
    pm_client_destroy (&auditor);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Patient records: every read and change is on the record with the
//  record's id; another site's patients are invisible to search and
//  refused to get (the attempt recorded); a clinician breaking the glass
//  sees them, flagged.
static void
s_test_patient_records_scoped_and_audited (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    itest_principal ("dr-north", "clinician", "north");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *admin = itest_client (&svc);
    pm_client_t *desk = itest_client_as (&svc, "desk");
    pm_client_t *doc = itest_client_as (&svc, "dr-north");
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    Pm__Patients__Register reg;
    Pm__Patients__Patient p;
    Pm__Patients__HumanName name;
    char *given[1];
    char north_id[PM_ID_MAX], south_id[PM_ID_MAX];
    const char *sites[] = {"north", "south"};
    char *ids[] = {north_id, south_id};
    for (int i = 0; i < 2; i++) {
        s_patient (&reg, &p, &name, given, sites[i]);
        Pm__Reply *reply = s_raw_call (admin, "patients.Register", &reg.base,
                                       NULL, NULL, false, NULL);
        CHECK (reply && reply->code == PM__CODE__OK);
        Pm__Patients__Patient *made = pm__patients__patient__unpack (
            NULL, reply->body.len, reply->body.data);
        snprintf (ids[i], PM_ID_MAX, "%s", made->id);
        pm__patients__patient__free_unpacked (made, NULL);
        pm__reply__free_unpacked (reply, NULL);
    }
    //  The desk reads its own site's patient; the other is refused.
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = north_id;
    Pm__Reply *reply = s_raw_call (desk, "patients.Get", &get.base, "north", NULL,
                                   false, "check-in");
    CHECK (reply && reply->code == PM__CODE__OK);
    pm__reply__free_unpacked (reply, NULL);
    get.id = south_id;
    reply = s_raw_call (desk, "patients.Get", &get.base, NULL, NULL, false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);
    //  Search shows only what the principal may see.
    Pm__Patients__Search q = PM__PATIENTS__SEARCH__INIT;
    q.family_prefix = "adey";
    reply = s_raw_call (desk, "patients.Search", &q.base, NULL, NULL, false, NULL);
    CHECK (reply && reply->code == PM__CODE__OK);
    Pm__Patients__SearchResult *res = pm__patients__search_result__unpack (
        NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 1 && strcmp (res->patients[0]->id, north_id) == 0);
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);
    //  Break-glass: the clinician opens the south patient, with a purpose.
    reply = s_raw_call (doc, "patients.Get", &get.base, NULL, NULL, true,
                        "unconscious, brought to north");
    CHECK (reply && reply->code == PM__CODE__OK);
    pm__reply__free_unpacked (reply, NULL);

    //  The record: who read which patient, how it ended, break-glass flagged.
    Pm__AuditBatch *log = s_audit (auditor, false);
    CHECK (log);
    int desk_read_north = 0, desk_refused_south = 0, desk_searched = 0, glass = 0;
    for (size_t i = 0; i < log->n_entries; i++) {
        Pm__AuditEntry *e = log->entries[i];
        bool is_desk = strcmp (e->principal, "desk") == 0;
        const char *subject = e->subject ? e->subject : "";
        desk_read_north += is_desk && strcmp (e->action, "patients.Get") == 0
                           && strcmp (subject, north_id) == 0
                           && e->outcome == PM__CODE__OK && e->purpose
                           && strcmp (e->purpose, "check-in") == 0;
        desk_refused_south += is_desk && strcmp (subject, south_id) == 0
                              && e->outcome == PM__CODE__EFORBIDDEN;
        desk_searched += is_desk && strcmp (e->action, "patients.Search") == 0;
        glass += e->break_glass && strcmp (subject, south_id) == 0;
    }
    CHECK (desk_read_north == 1 && desk_refused_south == 1);
    CHECK (desk_searched == 1); //  one patient returned, one entry
    CHECK (glass == 1);
    pm__audit_batch__free_unpacked (log, NULL);
    Pm__AuditVerdict *v = s_verify (auditor);
    CHECK (v && v->ok);
    pm__audit_verdict__free_unpacked (v, NULL);
    pm_client_destroy (&admin);
    pm_client_destroy (&desk);
    pm_client_destroy (&doc);
    pm_client_destroy (&auditor);
    itest_cleanup (&svc);
}

//  --- key rotation ------------------------------------------------------------

//  Saves the key pair `from` holds now as principal file `to`'s: a client
//  running as `to` then uses the key a lost laptop still has.
static bool
s_keep_key_pair (const char *from, const char *to)
{
    zcert_t *cert = pm_keys_secret (from);
    char path[600];
    snprintf (path, sizeof path, "%s/secret/%s.cert", pm_keys_dir (), to);
    bool ok = cert && zcert_save (cert, path) == 0;
    zcert_destroy (&cert);
    return ok;
}

//  True when a new connection with the key pair of `name` gets no answer
//  within 500 ms: the handshake was refused (CURVE tells the client
//  nothing; a served pm.Health takes a few milliseconds).
static bool
s_refused (itest_svc_t *svc, const char *name)
{
    pm_client_t *client = itest_client_as (svc, name);
    if (!client) {
        return false;
    }
    pm_client_set_timeout (client, 500, 1);
    Pm__Reply *reply = NULL;
    pm_err rc = pm_client_call (client, "pm.Health", NULL, &reply);
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    pm_client_destroy (&client);
    return rc == PM_ETIMEDOUT;
}

//  Registers a patient at `site` as `client` (envelope site `site`); the
//  new id in `id` (PM_ID_MAX), true when it was registered.
static bool
s_register_at (pm_client_t *client, const char *site, char *id)
{
    Pm__Patients__Register reg;
    Pm__Patients__Patient p;
    Pm__Patients__HumanName name;
    char *given[1];
    s_patient (&reg, &p, &name, given, site);
    Pm__Reply *reply = s_raw_call (client, "patients.Register", &reg.base, site,
                                   NULL, false, NULL);
    bool ok = reply && reply->code == PM__CODE__OK;
    if (ok && id) {
        Pm__Patients__Patient *made = pm__patients__patient__unpack (
            NULL, reply->body.len, reply->body.data);
        ok = made != NULL;
        if (made) {
            snprintf (id, PM_ID_MAX, "%s", made->id);
            pm__patients__patient__free_unpacked (made, NULL);
        }
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return ok;
}

//  The reply code of patients.Get of `id` for `client`, -1 on no answer.
static int
s_get_code (pm_client_t *client, const char *id)
{
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = (char *) id;
    Pm__Reply *reply = s_raw_call (client, "patients.Get", &get.base, NULL, NULL,
                                   false, NULL);
    int code = reply ? (int) reply->code : -1;
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return code;
}

//  True when certificate metadata field `key` is the same in both.
static bool
s_same_meta (zcert_t *a, zcert_t *b, const char *key)
{
    const char *x = zcert_meta (a, key), *y = zcert_meta (b, key);
    return x && y && strcmp (x, y) == 0;
}

//  --------------------------------------------------------------------------
//  pmctl keys rotate: the principal keeps its name, role, sites and staff
//  link under a new key. A connection open before the rotation stays
//  served (ZAP checks at connect); the old key pair on a new connection
//  is refused; the new key is served as the same principal (its sites
//  and role still bound it), and the audit log names it as before.
static void
s_test_rotated_key_same_principal (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_person ("desk", "front-desk", "north", "stf_01m8e8rx5n3r2py41feft8x8rn");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *admin = itest_client (&svc);
    char north_id[PM_ID_MAX], south_id[PM_ID_MAX];
    CHECK (s_register_at (admin, "north", north_id));
    CHECK (s_register_at (admin, "south", south_id));
    pm_client_t *open = itest_client_as (&svc, "desk");
    CHECK (s_get_code (open, north_id) == PM__CODE__OK);

    CHECK (s_keep_key_pair ("desk", "desk-old"));
    zcert_t *before = pm_keys_public ("desk");
    char kept[700];
    CHECK (pm_keys_rotate ("desk", kept, sizeof kept) == PM_OK);
    zcert_t *after = pm_keys_public ("desk");
    zcert_t *old = zcert_load (kept);
    CHECK (before && after && old);
    CHECK (strcmp (zcert_public_txt (old), zcert_public_txt (before)) == 0);
    CHECK (strcmp (zcert_public_txt (after), zcert_public_txt (before)) != 0);
    CHECK (s_same_meta (after, before, "name") && s_same_meta (after, before, "role"));
    CHECK (s_same_meta (after, before, "sites") && s_same_meta (after, before, "staff"));
    zcert_destroy (&before);
    zcert_destroy (&after);
    zcert_destroy (&old);

    //  Authenticated before the rotation: still served.
    CHECK (s_get_code (open, north_id) == PM__CODE__OK);
    //  The old key pair, new connection: refused.
    CHECK (s_refused (&svc, "desk-old"));
    //  The new key: the same front desk of north.
    pm_client_t *desk = itest_client_as (&svc, "desk");
    CHECK (s_get_code (desk, north_id) == PM__CODE__OK);
    CHECK (s_get_code (desk, south_id) == PM__CODE__EFORBIDDEN);
    CHECK (s_register_at (desk, "north", NULL));
    CHECK (!s_register_at (desk, "south", NULL));
    Pm__EventsRead er = PM__EVENTS_READ__INIT;
    Pm__Reply *reply = s_raw_call (desk, "pm.EventsRead", &er.base, NULL, NULL,
                                   false, NULL);
    CHECK (reply && reply->code == PM__CODE__EFORBIDDEN);
    pm__reply__free_unpacked (reply, NULL);

    //  The audit log: one principal "desk" before and after.
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    Pm__AuditBatch *log = s_audit (auditor, false);
    CHECK (log);
    int reads_north = 0, refused_south = 0, others = 0;
    for (size_t i = 0; i < log->n_entries; i++) {
        Pm__AuditEntry *e = log->entries[i];
        const char *subject = e->subject ? e->subject : "";
        if (strcmp (e->principal, "desk") == 0) {
            reads_north += strcmp (e->action, "patients.Get") == 0
                           && strcmp (subject, north_id) == 0
                           && e->outcome == PM__CODE__OK;
            refused_south += strcmp (subject, south_id) == 0
                             && e->outcome == PM__CODE__EFORBIDDEN;
        }
        else {
            others += strcmp (e->principal, "admin") != 0;
        }
    }
    pm__audit_batch__free_unpacked (log, NULL);
    CHECK (reads_north == 3); //  before, on the open connection, new key
    CHECK (refused_south >= 1);
    CHECK (others == 0);
    pm_client_destroy (&auditor);
    pm_client_destroy (&desk);
    pm_client_destroy (&open);
    pm_client_destroy (&admin);
    itest_cleanup (&svc);
}

//  Counts revoked/<name>@*.cert: the keys rotations replaced.
static int
s_replaced_keys (const char *name)
{
    char dir[600], prefix[PM_NAME_MAX + 2];
    snprintf (dir, sizeof dir, "%s/revoked", pm_keys_dir ());
    snprintf (prefix, sizeof prefix, "%s@", name);
    zdir_t *zdir = zdir_new (dir, "-");
    if (!zdir) {
        return -1;
    }
    zfile_t **files = zdir_flatten (zdir);
    int n = 0;
    for (int i = 0; files[i]; i++) {
        const char *path = zfile_filename (files[i], dir);
        n += strncmp (path, prefix, strlen (prefix)) == 0;
    }
    zdir_flatten_free (&files);
    zdir_destroy (&zdir);
    return n;
}

//  --------------------------------------------------------------------------
//  Revoking after rotations takes the current key out: every key the name
//  ever had is then refused, the history stays, and the name can neither
//  be rotated nor made again.
static void
s_test_revoke_after_rotations (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("desk", "front-desk", "north");
    CHECK (s_keep_key_pair ("desk", "desk-1"));
    CHECK (pm_keys_rotate ("desk", NULL, 0) == PM_OK);
    CHECK (s_keep_key_pair ("desk", "desk-2"));
    CHECK (pm_keys_rotate ("desk", NULL, 0) == PM_OK);
    CHECK (s_replaced_keys ("desk") == 2);
    pm_client_t *desk = itest_client_as (&svc, "desk");
    Pm__Health *h = itest_health (desk);
    CHECK (h != NULL);
    pm__health__free_unpacked (h, NULL);
    pm_client_destroy (&desk);

    CHECK (pm_keys_revoke ("desk") == PM_OK);
    CHECK (s_refused (&svc, "desk"));
    CHECK (s_refused (&svc, "desk-1"));
    CHECK (s_refused (&svc, "desk-2"));
    CHECK (s_replaced_keys ("desk") == 2);
    CHECK (pm_keys_rotate ("desk", NULL, 0) == PM_EFORBIDDEN);
    CHECK (pm_keys_ensure ("desk", "front-desk", "north") == PM_EFORBIDDEN);
    CHECK (pm_keys_rotate ("nobody", NULL, 0) == PM_ENOTFOUND);
    itest_cleanup (&svc);
}

//  The mirror's count of applied events, waiting (bounded) until it
//  reaches `applied`; -1 on no answer.
static long
s_mirror_applied (pm_client_t *mirror, uint64_t applied)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    long seen = -1;
    do {
        Pm__Reply *reply = itest_call (mirror, "mirror.Stats", NULL);
        if (reply && reply->code == PM__CODE__OK) {
            Pm__Test__MirrorStats *stats = pm__test__mirror_stats__unpack (
                NULL, reply->body.len, reply->body.data);
            seen = stats ? (long) stats->applied : -1;
            pm__test__mirror_stats__free_unpacked (stats, NULL);
        }
        if (reply) {
            pm__reply__free_unpacked (reply, NULL);
        }
        if (seen >= (long) applied) {
            break;
        }
        zclock_sleep (20);
    } while (itest_now () < until);
    return seen;
}

//  --------------------------------------------------------------------------
//  A service's key (svc-*): every client pins it when it connects, and a
//  client made before the rotation is not served by the restarted
//  service. With the followers stopped too and started after it, a
//  follower keeps following; the old service key connects nowhere.
static void
s_test_service_key_rotated_while_stopped (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);
    for (int i = 0; i < 3; i++) {
        CHECK (s_register_at (pc, "north", NULL));
    }
    CHECK (s_mirror_applied (mc, 3) == 3);

    CHECK (s_keep_key_pair ("svc-patients", "svc-patients-old"));
    itest_signal (&mir, SIGTERM);
    itest_signal (&pat, SIGTERM);
    CHECK (pm_keys_rotate ("svc-patients", NULL, 0) == PM_OK);
    CHECK (itest_start (&pat) == 0);
    CHECK (itest_start (&mir) == 0);

    //  Pinned the old key: the restarted service does not answer it.
    pm_client_set_timeout (pc, 500, 1);
    Pm__Reply *reply = NULL;
    CHECK (pm_client_call (pc, "pm.Health", NULL, &reply) == PM_ETIMEDOUT);
    pm_client_destroy (&pc);
    //  The old service key, as a client of another service: refused.
    CHECK (s_refused (&mir, "svc-patients-old"));
    //  Clients and followers started after the rotation: served, following.
    pc = itest_client (&pat);
    for (int i = 0; i < 3; i++) {
        CHECK (s_register_at (pc, "north", NULL));
    }
    CHECK (s_mirror_applied (mc, 6) == 6);
    CHECK (s_register_at (pc, "north", NULL));
    CHECK (s_mirror_applied (mc, 7) == 7);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

//  Only the rotated service stops: its followers, still running, see the
//  new public key in the key store, connect again with it and catch up
//  from their cursor (nothing lost, nothing applied twice).
static void
s_test_service_key_rotated_followers_reconnect (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);
    for (int i = 0; i < 3; i++) {
        CHECK (s_register_at (pc, "north", NULL));
    }
    CHECK (s_mirror_applied (mc, 3) == 3);
    pm_client_destroy (&pc);

    itest_signal (&pat, SIGTERM);
    CHECK (pm_keys_rotate ("svc-patients", NULL, 0) == PM_OK);
    CHECK (itest_start (&pat) == 0);
    pc = itest_client (&pat);
    for (int i = 0; i < 3; i++) {
        CHECK (s_register_at (pc, "north", NULL));
    }
    CHECK (s_mirror_applied (mc, 6) == 6);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

static const itest_case_t s_cases[] = {
    {"patient_records_scoped_and_audited", s_test_patient_records_scoped_and_audited},
    {"unknown_and_revoked_keys_refused", s_test_unknown_and_revoked_keys},
    {"roles_sites_and_gateway", s_test_roles_sites_gateway},
    {"break_glass_allowed_flagged_listed", s_test_break_glass},
    {"audit_verify_detects_tampering", s_test_audit_detects_tampering},
    {"rotated_key_same_principal_old_refused", s_test_rotated_key_same_principal},
    {"revoke_after_rotations_refuses_every_key", s_test_revoke_after_rotations},
    {"service_key_rotated_while_stopped", s_test_service_key_rotated_while_stopped},
    {"service_key_rotated_followers_reconnect",
     s_test_service_key_rotated_followers_reconnect},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
