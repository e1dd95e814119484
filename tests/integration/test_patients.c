/*  test_patients.c: the patients service through its protocol: the
    commands and their events, idempotent retries, bad input, crash
    recovery, and consumers that were offline or too slow.              */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "patients.pb-c.h"
#include "pm_test.pb-c.h"

typedef Pm__Patients__Patient patient_t;

//  A valid patient; the caller may change fields before registering.
typedef struct {
    Pm__Patients__Register reg;
    patient_t p;
    Pm__Patients__HumanName name;
    char *given[1];
    Pm__Patients__ContactPoint phone;
    Pm__Patients__ContactPoint *telecom[1];
    char family[64], first[64], dob[16], number[32];
} s_form_t;

static void
s_form (s_form_t *f, const char *family, const char *given, const char *dob)
{
    memset (f, 0, sizeof *f);
    pm__patients__register__init (&f->reg);
    pm__patients__patient__init (&f->p);
    pm__patients__human_name__init (&f->name);
    pm__patients__contact_point__init (&f->phone);
    snprintf (f->family, sizeof f->family, "%s", family);
    snprintf (f->first, sizeof f->first, "%s", given);
    snprintf (f->dob, sizeof f->dob, "%s", dob);
    snprintf (f->number, sizeof f->number, "+1 555 010 %04d", rand () % 10000);
    f->given[0] = f->first;
    f->name.family = f->family;
    f->name.n_given = 1;
    f->name.given = f->given;
    f->phone.has_system = 1;
    f->phone.system = PM__PATIENTS__CONTACT_SYSTEM__PHONE;
    f->phone.value = f->number;
    f->telecom[0] = &f->phone;
    f->p.name = &f->name;
    f->p.birth_date = f->dob;
    f->p.home_site = "north";
    f->p.n_telecom = 1;
    f->p.telecom = f->telecom;
    f->reg.patient = &f->p;
}

//  Calls and returns the reply (asserting that one came back).
static Pm__Reply *
s_call (pm_client_t *client, const char *type, const ProtobufCMessage *body)
{
    Pm__Reply *reply = itest_call (client, type, body);
    if (!reply) {
        fprintf (stderr, "    no reply to %s\n", type);
    }
    return reply;
}

//  Registers; the stored patient or NULL (reply code in *code).
static patient_t *
s_register (pm_client_t *client, s_form_t *f, int *code)
{
    Pm__Reply *reply = s_call (client, "patients.Register", &f->reg.base);
    *code = reply ? (int) reply->code : -1;
    patient_t *p = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        p = pm__patients__patient__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return p;
}

static uint64_t
s_high_seq (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t seq = h ? h->high_seq : (uint64_t) -1;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

static bool
s_ok (Pm__Reply *reply, int code, const char *field)
{
    bool ok = reply && (int) reply->code == code
              && (!field || (reply->field && strcmp (reply->field, field) == 0));
    if (!ok) {
        fprintf (stderr, "    reply: code %d field %s message %s (wanted %d %s)\n",
                 reply ? (int) reply->code : -1,
                 reply && reply->field ? reply->field : "-",
                 reply && reply->message ? reply->message : "-", code,
                 field ? field : "");
    }
    return ok;
}

//  --------------------------------------------------------------------------
//  Register, get, update, search, deactivate, reactivate, and the events
//  each one publishes with the full new state.
static void
s_test_lifecycle (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);

    s_form_t f;
    s_form (&f, "Müller", "Anna", "1980-02-29");
    int code;
    patient_t *p = s_register (client, &f, &code);
    CHECK (p && code == 0);
    CHECK (pm_id_valid (p->id, "pat") && p->version == 1 && p->active);
    CHECK (p->n_mrns == 1 && strcmp (p->mrns[0]->site_id, "north") == 0);
    CHECK (strcmp (p->mrns[0]->mrn, "M0000001") == 0);
    char id[PM_ID_MAX];
    snprintf (id, sizeof id, "%s", p->id);

    //  Get by id and by MRN.
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = id;
    Pm__Reply *reply = s_call (client, "patients.Get", &get.base);
    CHECK (s_ok (reply, 0, NULL));
    patient_t *got = pm__patients__patient__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (got && strcmp (got->name->family, "Müller") == 0);
    pm__reply__free_unpacked (reply, NULL);
    pm__patients__patient__free_unpacked (got, NULL);
    get.id = NULL;
    get.site_id = "north";
    get.mrn = "M0000001";
    reply = s_call (client, "patients.Get", &get.base);
    CHECK (s_ok (reply, 0, NULL));
    pm__reply__free_unpacked (reply, NULL);

    //  Update the phone with expected_version; version goes to 2.
    Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
    patient_t patch = PM__PATIENTS__PATIENT__INIT;
    Pm__Patients__ContactPoint email = PM__PATIENTS__CONTACT_POINT__INIT;
    Pm__Patients__ContactPoint *tel[] = {&email};
    email.has_system = 1;
    email.system = PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
    email.value = "anna@example.org";
    patch.n_telecom = 1;
    patch.telecom = tel;
    upd.id = id;
    upd.has_expected_version = 1;
    upd.expected_version = 1;
    upd.patient = &patch;
    reply = s_call (client, "patients.Update", &upd.base);
    CHECK (s_ok (reply, 0, NULL));
    got = pm__patients__patient__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (got && got->version == 2 && got->n_telecom == 1);
    CHECK (strcmp (got->name->family, "Müller") == 0); //  untouched fields kept
    pm__patients__patient__free_unpacked (got, NULL);
    pm__reply__free_unpacked (reply, NULL);

    //  A stale update is refused and changes nothing.
    reply = s_call (client, "patients.Update", &upd.base);
    CHECK (s_ok (reply, PM_ECONFLICT, "expected_version"));
    pm__reply__free_unpacked (reply, NULL);

    //  A field named in the mask but not given is cleared, and a required
    //  one is refused by name (it once crashed the service: fuzz F3).
    Pm__Patients__Update clear = PM__PATIENTS__UPDATE__INIT;
    patient_t empty = PM__PATIENTS__PATIENT__INIT;
    char *mask[] = {"home_site"};
    clear.id = id;
    clear.has_expected_version = 1;
    clear.expected_version = 2;
    clear.patient = &empty;
    clear.n_update_mask = 1;
    clear.update_mask = mask;
    reply = s_call (client, "patients.Update", &clear.base);
    CHECK (s_ok (reply, PM_EINVAL, "patient.home_site"));
    pm__reply__free_unpacked (reply, NULL);

    //  An update that changes nothing makes no version and no event.
    upd.expected_version = 2;
    uint64_t before = s_high_seq (client);
    reply = s_call (client, "patients.Update", &upd.base);
    CHECK (s_ok (reply, 0, NULL));
    pm__reply__free_unpacked (reply, NULL);
    CHECK (s_high_seq (client) == before);

    //  Search: accent- and case-insensitive name prefix.
    Pm__Patients__Search search = PM__PATIENTS__SEARCH__INIT;
    search.family_prefix = "MUL";
    reply = s_call (client, "patients.Search", &search.base);
    CHECK (s_ok (reply, 0, NULL));
    Pm__Patients__SearchResult *res = pm__patients__search_result__unpack (
        NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 1 && strcmp (res->patients[0]->id, id) == 0);
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);

    //  Deactivate needs a reason; then the patient leaves default searches.
    Pm__Patients__SetActive set = PM__PATIENTS__SET_ACTIVE__INIT;
    set.id = id;
    reply = s_call (client, "patients.Deactivate", &set.base);
    CHECK (s_ok (reply, PM_EINVAL, "reason"));
    pm__reply__free_unpacked (reply, NULL);
    set.reason = "moved away";
    reply = s_call (client, "patients.Deactivate", &set.base);
    CHECK (s_ok (reply, 0, NULL));
    pm__reply__free_unpacked (reply, NULL);
    reply = s_call (client, "patients.Deactivate", &set.base);
    CHECK (s_ok (reply, PM_ECONFLICT, NULL));
    pm__reply__free_unpacked (reply, NULL);
    reply = s_call (client, "patients.Search", &search.base);
    res = pm__patients__search_result__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 0);
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);
    search.has_include_inactive = search.include_inactive = 1;
    reply = s_call (client, "patients.Search", &search.base);
    res = pm__patients__search_result__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 1 && !res->patients[0]->active);
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);
    set.reason = "came back";
    reply = s_call (client, "patients.Reactivate", &set.base);
    CHECK (s_ok (reply, 0, NULL));
    pm__reply__free_unpacked (reply, NULL);

    //  The stream: one event per change, in order, each the full state.
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    CHECK (n == 4);
    const char *types[] = {"patients.patient.registered", "patients.patient.updated",
                           "patients.patient.deactivated",
                           "patients.patient.reactivated"};
    for (long i = 0; i < n; i++) {
        CHECK (events[i]->seq == (uint64_t) i + 1);
        CHECK (strcmp (events[i]->type, types[i]) == 0);
        CHECK (strcmp (events[i]->subject, id) == 0);
        CHECK (strcmp (events[i]->site_id, "north") == 0);
        patient_t *state = pm__patients__patient__unpack (NULL, events[i]->data.len,
                                                          events[i]->data.data);
        CHECK (state && state->version == (uint64_t) i + 1);
        CHECK (strcmp (state->name->family, "Müller") == 0);
        CHECK (state->active == (i != 2));
        pm__patients__patient__free_unpacked (state, NULL);
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    pm__patients__patient__free_unpacked (p, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Each invalid field is named; nothing is written.
static void
s_test_validation (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    struct {
        const char *what;
        const char *field;
    } cases[] = {
        {"family", "patient.name.family"},  {"given", "patient.name.given"},
        {"dob", "patient.birth_date"},      {"future", "patient.birth_date"},
        {"phone", "patient.telecom[0].value"}, {"email", "patient.telecom[0].value"},
        {"site", "patient.home_site"},       {"lang", "patient.preferred_language"},
        {"country", "patient.address.country"}, {"id", "patient.id"},
        {"mrn", "patient.mrns[0].mrn"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        s_form_t f;
        s_form (&f, "Okafor", "Chidi", "1975-06-01");
        Pm__Patients__Address addr = PM__PATIENTS__ADDRESS__INIT;
        Pm__Patients__SiteMrn mrn = PM__PATIENTS__SITE_MRN__INIT;
        Pm__Patients__SiteMrn *mrns[] = {&mrn};
        const char *w = cases[i].what;
        if (!strcmp (w, "family")) {
            f.name.family = "";
        }
        else if (!strcmp (w, "given")) {
            f.name.n_given = 0;
        }
        else if (!strcmp (w, "dob")) {
            f.p.birth_date = "1975-02-30";
        }
        else if (!strcmp (w, "future")) {
            f.p.birth_date = "2999-01-01";
        }
        else if (!strcmp (w, "phone")) {
            f.phone.value = "call me maybe";
        }
        else if (!strcmp (w, "email")) {
            f.phone.system = PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
            f.phone.value = "chidi@";
        }
        else if (!strcmp (w, "site")) {
            f.p.home_site = "north site!";
        }
        else if (!strcmp (w, "lang")) {
            f.p.preferred_language = "english";
        }
        else if (!strcmp (w, "country")) {
            addr.country = "Nigeria";
            f.p.address = &addr;
        }
        else if (!strcmp (w, "id")) {
            f.p.id = "pat_01m8e8rx5n3r2py41feft8x8rn";
        }
        else if (!strcmp (w, "mrn")) {
            mrn.site_id = "north";
            mrn.mrn = "has spaces";
            f.p.n_mrns = 1;
            f.p.mrns = mrns;
        }
        Pm__Reply *reply = s_call (client, "patients.Register", &f.reg.base);
        if (!s_ok (reply, PM_EINVAL, cases[i].field)) {
            fprintf (stderr, "    case %s\n", w);
        }
        CHECK (reply && reply->code == PM__CODE__EINVAL);
        if (!reply->message || !strstr (reply->message, cases[i].field)) {
            fprintf (stderr, "    case %s: message \"%s\"\n", w, reply->message);
        }
        CHECK (reply->message && strstr (reply->message, cases[i].field));
        pm__reply__free_unpacked (reply, NULL);
    }
    CHECK (s_high_seq (client) == 0);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A retried request (same client_id and request_id) gets the same reply
//  and writes once; MRNs stay unique.
static void
s_test_idempotent_retry (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    s_form_t f;
    s_form (&f, "Tanaka", "Yuki", "1990-01-01");
    uint8_t body[1024];
    size_t len = pm__patients__register__pack (&f.reg, body);

    //  Three sends of request 7 (two before any reply: both in one batch
    //  or in two), all answered with the same bytes.
    uint64_t id = pm_client_send (client, 7, "patients.Register", body, len);
    pm_client_send (client, id, "patients.Register", body, len);
    Pm__Reply *a = pm_client_recv (client, 5000);
    Pm__Reply *b = pm_client_recv (client, 5000);
    pm_client_send (client, id, "patients.Register", body, len);
    Pm__Reply *c = pm_client_recv (client, 5000);
    CHECK (a && b && c && a->code == 0 && b->code == 0 && c->code == 0);
    CHECK (a->request_id == 7 && b->request_id == 7 && c->request_id == 7);
    CHECK (a->body.len == b->body.len && a->body.len == c->body.len);
    CHECK (memcmp (a->body.data, b->body.data, a->body.len) == 0);
    CHECK (memcmp (a->body.data, c->body.data, a->body.len) == 0);
    CHECK (s_high_seq (client) == 1);

    //  The same request id from another client is another request.
    pm_client_t *other = itest_client (&svc);
    pm_client_send (other, 7, "patients.Register", body, len);
    Pm__Reply *d = pm_client_recv (other, 5000);
    CHECK (d && d->code == 0 && s_high_seq (client) == 2);

    //  A refused request is answered the same way when retried, too.
    Pm__Patients__SiteMrn mrn = {PROTOBUF_C_MESSAGE_INIT (&pm__patients__site_mrn__descriptor),
                                 "north", "M0000001"};
    Pm__Patients__SiteMrn *mrns[] = {&mrn};
    f.p.n_mrns = 1;
    f.p.mrns = mrns;
    int code;
    patient_t *dup = s_register (client, &f, &code);
    CHECK (!dup && code == PM_ECONFLICT);
    CHECK (s_high_seq (client) == 2);
    pm__reply__free_unpacked (a, NULL);
    pm__reply__free_unpacked (b, NULL);
    pm__reply__free_unpacked (c, NULL);
    pm__reply__free_unpacked (d, NULL);
    pm_client_destroy (&other);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  Rewrites a stopped service's stored replies into the layout of stores
//  written before replies were keyed by request id first: "$replies"
//  (client_id NUL be64 request_id -> be64 time + Reply) and "$reply_times"
//  (be64 time, that key). Returns how many replies it moved, or -1.
static long
s_store_old_reply_layout (itest_svc_t *svc)
{
    char path[300];
    snprintf (path, sizeof path, "%s/store", svc->dir);
    pm_store_t *store = pm_store_new (path, 1 << 26, 1ULL << 32);
    MDB_dbi now, expiry, old, old_times;
    MDB_txn *txn = NULL;
    if (!store || pm_store_dbi (store, "$stored_replies", 0, &now) != PM_OK
        || pm_store_dbi (store, "$reply_expiry", 0, &expiry) != PM_OK
        || pm_store_dbi (store, "$replies", 0, &old) != PM_OK
        || pm_store_dbi (store, "$reply_times", 0, &old_times) != PM_OK
        || pm_store_begin (store, NULL, true, &txn) != PM_OK) {
        pm_store_destroy (&store);
        return -1;
    }
    long moved = 0;
    MDB_cursor *cur;
    MDB_val key, val;
    int rc = mdb_cursor_open (txn, now, &cur);
    for (rc = rc ? rc : mdb_cursor_get (cur, &key, &val, MDB_FIRST); rc == 0;
         rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT)) {
        uint8_t old_key[128], old_time[136];
        size_t id_len = key.mv_size - 8;
        memcpy (old_key, (uint8_t *) key.mv_data + 8, id_len);
        old_key[id_len] = 0;
        memcpy (old_key + id_len + 1, key.mv_data, 8);
        memcpy (old_time, val.mv_data, 8);
        memcpy (old_time + 8, old_key, id_len + 9);
        if (mdb_put (txn, old, &(MDB_val) {id_len + 9, old_key}, &val, 0) != 0
            || mdb_put (txn, old_times, &(MDB_val) {id_len + 17, old_time},
                        &(MDB_val) {0, ""}, 0) != 0) {
            break;
        }
        moved++;
    }
    mdb_cursor_close (cur);
    if (rc != MDB_NOTFOUND || mdb_drop (txn, now, 0) != 0 || mdb_drop (txn, expiry, 0) != 0
        || pm_store_commit (txn) != PM_OK) {
        moved = -1;
    }
    pm_store_destroy (&store);
    return moved;
}

//  1 if a stopped service's store has sub-database `name`, 0 if not.
static int
s_store_has_dbi (itest_svc_t *svc, const char *name)
{
    char path[300];
    snprintf (path, sizeof path, "%s/store", svc->dir);
    pm_store_t *store = pm_store_new (path, 1 << 26, 1ULL << 32);
    MDB_txn *txn;
    MDB_dbi dbi;
    int found = -1;
    if (store && pm_store_begin (store, NULL, false, &txn) == PM_OK) {
        found = mdb_dbi_open (txn, name, 0, &dbi) == 0;
        pm_store_abort (txn);
    }
    pm_store_destroy (&store);
    return found;
}

//  Stored replies: a store written before replies were keyed by request
//  id first is moved to the current layout at start, so a retry of a
//  request answered before the upgrade is still answered from the store
//  and not run again. Replies older than PM_REPLY_TTL_S are dropped, after
//  which the same request id is a new request.
static void
s_test_stored_replies_upgrade_and_expiry (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    s_form_t f;
    s_form (&f, "Okafor", "Adaeze", "1984-03-02");
    uint8_t body[1024];
    size_t len = pm__patients__register__pack (&f.reg, body);
    uint64_t id = pm_client_send (client, 0, "patients.Register", body, len);
    Pm__Reply *first = pm_client_recv (client, 5000);
    CHECK (first && first->code == 0);
    //  pm_client's request ids carry the wall clock's milliseconds.
    int64_t id_ms = (int64_t) (id >> 16);
    CHECK (id_ms > pm_clock_wall_ms () - 60000 && id_ms <= pm_clock_wall_ms ());

    itest_signal (&svc, SIGTERM);
    CHECK (s_store_old_reply_layout (&svc) == 1);
    CHECK (itest_start (&svc) == 0);
    pm_client_send (client, id, "patients.Register", body, len);
    Pm__Reply *retry = pm_client_recv (client, 5000);
    CHECK (retry && retry->code == 0 && retry->body.len == first->body.len
           && memcmp (retry->body.data, first->body.data, first->body.len) == 0);
    CHECK (s_high_seq (client) == 1);

    //  Two days on, the reply (kept a day) is gone at start; the retry is
    //  a new request: here, a second registration of the same person.
    itest_signal (&svc, SIGTERM);
    CHECK (s_store_has_dbi (&svc, "$replies") == 0);
    CHECK (s_store_has_dbi (&svc, "$reply_times") == 0);
    svc.env[0] = "PM_CLOCK_OFFSET_MS=172800000";
    CHECK (itest_start (&svc) == 0);
    pm_client_send (client, id, "patients.Register", body, len);
    Pm__Reply *late = pm_client_recv (client, 5000);
    CHECK (late && !(late->code == 0 && late->body.len == first->body.len
                     && memcmp (late->body.data, first->body.data, first->body.len) == 0));
    pm__reply__free_unpacked (first, NULL);
    pm__reply__free_unpacked (retry, NULL);
    pm__reply__free_unpacked (late, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  pm.AuditVerify with `anchor` (NULL: the chain alone).
static Pm__AuditVerdict *
s_audit_verify (pm_client_t *client, Pm__AuditAnchor *anchor)
{
    Pm__AuditVerify req = PM__AUDIT_VERIFY__INIT;
    req.n_anchors = anchor ? 1 : 0;
    req.anchors = anchor ? &anchor : NULL;
    Pm__Reply *reply = itest_call (client, "pm.AuditVerify", &req.base);
    Pm__AuditVerdict *v = reply && reply->code == 0
                              ? pm__audit_verdict__unpack (NULL, reply->body.len,
                                                           reply->body.data)
                              : NULL;
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return v;
}

//  The last pm.audit.anchored event of the stream (caller frees), or NULL.
static Pm__AuditAnchor *
s_last_anchor (pm_client_t *client)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    Pm__AuditAnchor *anchor = NULL;
    for (long i = 0; i < n; i++) {
        if (strcmp (events[i]->type, "pm.audit.anchored") == 0) {
            pm__audit_anchor__free_unpacked (anchor, NULL);
            anchor = pm__audit_anchor__unpack (NULL, events[i]->data.len,
                                               events[i]->data.data);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return anchor;
}

//  Audit anchors: the chain's head goes out on the stream as
//  pm.audit.anchored. After a restart, a log cut short at the end (the
//  record of someone's own accesses removed) still verifies on its own,
//  but not against the anchor that left the store before.
static void
s_test_audit_anchors (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    svc.env[0] = "PM_AUDIT_ANCHOR_S=1";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    s_form_t f;
    int code;
    s_form (&f, "Haddad", "Rami", "1971-06-30");
    patient_t *p = s_register (client, &f, &code);
    CHECK (p);
    pm__patients__patient__free_unpacked (p, NULL);
    Pm__AuditAnchor *anchor = NULL;
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (!(anchor = s_last_anchor (client)) && itest_now () < until) {
        zclock_sleep (50);
    }
    CHECK (anchor && anchor->seq >= 1 && anchor->hash.len == 32 && anchor->at > 0);
    Pm__AuditVerdict *v = s_audit_verify (client, anchor);
    CHECK (v && v->ok && v->anchors_checked == 1 && v->entries >= anchor->seq);
    pm__audit_verdict__free_unpacked (v, NULL);

    //  Later accesses; then, service stopped, the log is cut back to
    //  before the anchored entry.
    s_form (&f, "Haddad", "Lina", "1975-02-11");
    p = s_register (client, &f, &code);
    CHECK (p);
    pm__patients__patient__free_unpacked (p, NULL);
    itest_signal (&svc, SIGTERM);
    char path[300];
    snprintf (path, sizeof path, "%s/store", svc.dir);
    pm_store_t *store = pm_store_new (path, 1 << 26, 1ULL << 32);
    MDB_dbi audit;
    MDB_txn *txn = NULL;
    long cut = 0;
    if (store && pm_store_dbi (store, "$audit", 0, &audit) == PM_OK
        && pm_store_begin (store, NULL, true, &txn) == PM_OK) {
        for (uint64_t seq = anchor ? anchor->seq : 1; seq < 1000; seq++) {
            uint8_t key[8];
            pm_be64_put (key, seq);
            cut += pm_store_del (txn, audit, key, 8) == PM_OK;
        }
        CHECK (pm_store_commit (txn) == PM_OK);
    }
    pm_store_destroy (&store);
    CHECK (cut >= 2);
    svc.env[0] = "PM_AUDIT_ANCHOR_S=3600";
    CHECK (itest_start (&svc) == 0);
    v = s_audit_verify (client, NULL);
    CHECK (v && v->ok); //  on its own, nothing shows
    pm__audit_verdict__free_unpacked (v, NULL);
    v = s_audit_verify (client, anchor);
    CHECK (v && !v->ok && anchor && v->first_bad_seq == anchor->seq && v->problem
           && strstr (v->problem, "removed"));
    pm__audit_verdict__free_unpacked (v, NULL);
    pm__audit_anchor__free_unpacked (anchor, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Malformed frames, undecodable bodies, unknown commands, oversize
//  messages, missing envelope fields, passed deadlines: each gets an error
//  reply, nothing is written, and the service keeps serving.
static void
s_test_bad_input (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    svc.env[0] = "PM_MAX_REQUEST=64K";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);

    //  Two frames instead of one.
    zmsg_t *msg = zmsg_new ();
    zmsg_addstr (msg, "hello");
    zmsg_addstr (msg, "world");
    pm_client_send_frames (client, &msg);
    Pm__Reply *reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, PM_EPROTO, NULL));
    pm__reply__free_unpacked (reply, NULL);

    //  A frame that is not a Request.
    msg = zmsg_new ();
    zmsg_addmem (msg, "\xff\xff\xff\xff\x0f garbage", 14);
    pm_client_send_frames (client, &msg);
    reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, PM_EPROTO, NULL));
    pm__reply__free_unpacked (reply, NULL);

    //  A body that does not decode as the command's message.
    uint64_t id = pm_client_send (client, 0, "patients.Register",
                                  (const uint8_t *) "\x0a\xff\x01", 3);
    reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, PM_EPROTO, "body") && reply->request_id == id);
    pm__reply__free_unpacked (reply, NULL);

    //  An unknown command.
    reply = itest_call (client, "patients.Frobnicate", NULL);
    CHECK (s_ok (reply, PM_EUNKNOWN, "type"));
    pm__reply__free_unpacked (reply, NULL);

    //  An oversize request: refused with its request id, so the client can
    //  match the answer.
    size_t big = 200 * 1024;
    uint8_t *blob = calloc (1, big);
    id = pm_client_send (client, 0, "patients.Register", blob, big);
    free (blob);
    reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, PM_ETOOBIG, NULL) && reply->request_id == id);
    pm__reply__free_unpacked (reply, NULL);

    //  A write without request_id, and a passed deadline.
    s_form_t f;
    s_form (&f, "Silva", "Ana", "1985-05-05");
    uint8_t body[512];
    size_t len = pm__patients__register__pack (&f.reg, body);
    Pm__Request req = PM__REQUEST__INIT;
    req.client_id = "raw";
    req.type = "patients.Register";
    req.has_body = 1;
    req.body.data = body;
    req.body.len = len;
    uint8_t frame[1024];
    msg = zmsg_new ();
    zmsg_addmem (msg, frame, pm__request__pack (&req, frame));
    pm_client_send_frames (client, &msg);
    reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, PM_EINVAL, "request_id"));
    pm__reply__free_unpacked (reply, NULL);
    req.has_request_id = 1;
    req.request_id = 99;
    req.has_deadline = 1;
    req.deadline = 1000; //  1970
    msg = zmsg_new ();
    zmsg_addmem (msg, frame, pm__request__pack (&req, frame));
    pm_client_send_frames (client, &msg);
    reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, PM_ETIMEDOUT, "deadline") && reply->request_id == 99);
    pm__reply__free_unpacked (reply, NULL);

    //  Nothing was written, and a good request still works.
    CHECK (s_high_seq (client) == 0);
    int code;
    patient_t *p = s_register (client, &f, &code);
    CHECK (p && code == 0);
    CHECK (s_high_seq (client) == 1);
    pm__patients__patient__free_unpacked (p, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Search pages through a name range in order; birth date, phone tail and
//  MRN searches find the right people.
static void
s_test_search (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    const char *families[] = {"Nguyen", "Ngata", "Ng", "Nguyễn", "Smith"};
    char phone_of_first[32] = "";
    for (int i = 0; i < 30; i++) {
        s_form_t f;
        char given[16];
        snprintf (given, sizeof given, "G%02d", 29 - i);
        s_form (&f, families[i % 5], given, i % 2 ? "1970-01-01" : "1971-07-04");
        int code;
        patient_t *p = s_register (client, &f, &code);
        CHECK (p && code == 0);
        if (i == 0) {
            snprintf (phone_of_first, sizeof phone_of_first, "%s", f.number);
        }
        pm__patients__patient__free_unpacked (p, NULL);
    }
    //  "ng" matches 24 of them (not Smith); pages of 7, ordered, no repeats.
    Pm__Patients__Search q = PM__PATIENTS__SEARCH__INIT;
    q.family_prefix = "ng";
    q.has_page_size = 1;
    q.page_size = 7;
    char token[2048] = "", last_key[512] = "";
    int total = 0, pages = 0;
    do {
        q.page_token = token[0] ? token : NULL;
        Pm__Reply *reply = s_call (client, "patients.Search", &q.base);
        CHECK (s_ok (reply, 0, NULL));
        Pm__Patients__SearchResult *res = pm__patients__search_result__unpack (
            NULL, reply->body.len, reply->body.data);
        CHECK (res && res->n_patients <= 7);
        for (size_t i = 0; i < res->n_patients; i++) {
            char key[512];
            snprintf (key, sizeof key, "%s|%s|%s", res->patients[i]->name->family,
                      res->patients[i]->name->given[0], res->patients[i]->id);
            CHECK (strncmp (res->patients[i]->name->family, "Smith", 5) != 0);
            total++;
        }
        snprintf (token, sizeof token, "%s",
                  res->next_page_token ? res->next_page_token : "");
        pm__patients__search_result__free_unpacked (res, NULL);
        pm__reply__free_unpacked (reply, NULL);
        pages++;
    } while (token[0] && pages < 10);
    (void) last_key;
    CHECK (total == 24 && pages == 4);

    //  Given name prefix narrows; birth date alone works.
    q.given_prefix = "g0";
    q.page_token = NULL;
    q.page_size = 100;
    Pm__Reply *reply = s_call (client, "patients.Search", &q.base);
    Pm__Patients__SearchResult *res = pm__patients__search_result__unpack (
        NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 8); //  G00..G09 minus the two Smiths
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);
    Pm__Patients__Search byday = PM__PATIENTS__SEARCH__INIT;
    byday.birth_date = "1970-01-01";
    byday.has_page_size = 1;
    byday.page_size = 100;
    reply = s_call (client, "patients.Search", &byday.base);
    res = pm__patients__search_result__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 15);
    for (size_t i = 1; i < res->n_patients; i++) {
        //  Sorted by family name as the name index folds it.
        CHECK (strcasecmp (res->patients[i - 1]->name->family,
                           res->patients[i]->name->family) <= 0
               || strcmp (res->patients[i]->name->family, "Nguyễn") == 0
               || strcmp (res->patients[i - 1]->name->family, "Nguyễn") == 0);
    }
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);

    //  The last 7 digits of a phone, without country or area code.
    Pm__Patients__Search byphone = PM__PATIENTS__SEARCH__INIT;
    byphone.phone = phone_of_first + strlen (phone_of_first) - 8; //  "010 1234"
    reply = s_call (client, "patients.Search", &byphone.base);
    res = pm__patients__search_result__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients >= 1);
    bool found = false;
    for (size_t i = 0; i < res->n_patients; i++) {
        found = found || strcmp (res->patients[i]->telecom[0]->value, phone_of_first) == 0;
    }
    CHECK (found);
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);

    //  By MRN at a site; and a search with no criterion is refused.
    Pm__Patients__Search bymrn = PM__PATIENTS__SEARCH__INIT;
    bymrn.site_id = "north";
    bymrn.mrn = "M0000030";
    reply = s_call (client, "patients.Search", &bymrn.base);
    res = pm__patients__search_result__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 1);
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);
    Pm__Patients__Search none = PM__PATIENTS__SEARCH__INIT;
    reply = s_call (client, "patients.Search", &none.base);
    CHECK (s_ok (reply, PM_EINVAL, "family_prefix"));
    pm__reply__free_unpacked (reply, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  kill -9 in the middle of a stream of writes from several clients, then
//  restart: every acknowledged registration is there, the stream has no
//  gap and no duplicate, and unacknowledged retries are applied once.
#define CRASH_CLIENTS 8
#define CRASH_ACKED_BEFORE_KILL 400

static void
s_test_crash_recovery (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *clients[CRASH_CLIENTS];
    s_form_t forms[CRASH_CLIENTS];
    uint8_t bodies[CRASH_CLIENTS][1024];
    size_t lens[CRASH_CLIENTS];
    uint64_t inflight[CRASH_CLIENTS];
    char (*acked)[PM_ID_MAX] = calloc (20000, PM_ID_MAX);
    int n_acked = 0;
    zpoller_t *poller = zpoller_new (NULL);
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        clients[c] = itest_client (&svc);
        zpoller_add (poller, pm_client_sock (clients[c]));
    }
    //  Each client keeps one registration in flight.
    int next = 0;
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        char fam[32];
        snprintf (fam, sizeof fam, "Crash%05d", next++);
        s_form (&forms[c], fam, "Ada", "1960-03-03");
        lens[c] = pm__patients__register__pack (&forms[c].reg, bodies[c]);
        inflight[c] = pm_client_send (clients[c], 0, "patients.Register", bodies[c], lens[c]);
    }
    bool killed = false;
    int64_t until = itest_now () + 60000;
    int after_restart = 0;
    while (itest_now () < until && after_restart < 200) {
        zsock_t *which = zpoller_wait (poller, 200);
        if (!which) {
            if (killed && svc.pid == 0) {
                CHECK (itest_start (&svc) == 0);
            }
            //  Unanswered: resend the same request (same id).
            for (int c = 0; c < CRASH_CLIENTS; c++) {
                pm_client_send (clients[c], inflight[c], "patients.Register",
                                bodies[c], lens[c]);
            }
            continue;
        }
        int c = 0;
        while (pm_client_sock (clients[c]) != which) {
            c++;
        }
        Pm__Reply *reply = pm_client_recv (clients[c], 0);
        if (!reply || reply->request_id != inflight[c]) {
            if (reply) {
                pm__reply__free_unpacked (reply, NULL);
            }
            continue; //  a late answer to an earlier send of the same id
        }
        CHECK (reply->code == PM__CODE__OK);
        patient_t *p = pm__patients__patient__unpack (NULL, reply->body.len,
                                                      reply->body.data);
        CHECK (p);
        snprintf (acked[n_acked++], PM_ID_MAX, "%s", p->id);
        pm__patients__patient__free_unpacked (p, NULL);
        pm__reply__free_unpacked (reply, NULL);
        if (killed) {
            after_restart++;
        }
        if (!killed && n_acked >= CRASH_ACKED_BEFORE_KILL) {
            itest_signal (&svc, SIGKILL); //  mid-stream, requests in flight
            killed = true;
        }
        char fam[32];
        snprintf (fam, sizeof fam, "Crash%05d", next++);
        s_form (&forms[c], fam, "Ada", "1960-03-03");
        lens[c] = pm__patients__register__pack (&forms[c].reg, bodies[c]);
        inflight[c] = pm_client_send (clients[c], 0, "patients.Register",
                                      bodies[c], lens[c]);
    }
    CHECK (killed && after_restart >= 200);
    //  Drain: every request still in flight is answered (resent with its
    //  own request id, as a client that retries would).
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        bool answered = false;
        for (int tries = 0; tries < 10 && !answered; tries++) {
            pm_client_send (clients[c], inflight[c], "patients.Register",
                            bodies[c], lens[c]);
            Pm__Reply *reply;
            while (!answered && (reply = pm_client_recv (clients[c], 1000))) {
                answered = reply->request_id == inflight[c]
                           && reply->code == PM__CODE__OK;
                pm__reply__free_unpacked (reply, NULL);
            }
        }
        CHECK (answered);
    }
    pm_client_t *client = itest_client (&svc);
    //  Every acknowledged id is stored.
    for (int i = 0; i < n_acked; i++) {
        Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
        get.id = acked[i];
        Pm__Reply *reply = s_call (client, "patients.Get", &get.base);
        CHECK (s_ok (reply, 0, NULL));
        pm__reply__free_unpacked (reply, NULL);
    }
    //  The stream is gap-free, and each family name was registered once:
    //  no retry was applied twice.
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    CHECK (n >= n_acked);
    zhashx_t *seen = zhashx_new ();
    for (long i = 0; i < n; i++) {
        CHECK (events[i]->seq == (uint64_t) i + 1);
        patient_t *p = pm__patients__patient__unpack (NULL, events[i]->data.len,
                                                      events[i]->data.data);
        CHECK (p);
        CHECK (zhashx_insert (seen, p->name->family, (void *) 1) == 0);
        pm__patients__patient__free_unpacked (p, NULL);
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    zhashx_destroy (&seen);
    zpoller_destroy (&poller);
    for (int c = 0; c < CRASH_CLIENTS; c++) {
        pm_client_destroy (&clients[c]);
    }
    pm_client_destroy (&client);
    free (acked);
    itest_cleanup (&svc);
}

//  --- consumers -------------------------------------------------------------

static Pm__Test__MirrorStats *
s_mirror_stats (pm_client_t *mirror)
{
    Pm__Reply *reply = itest_call (mirror, "mirror.Stats", NULL);
    Pm__Test__MirrorStats *stats = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        stats = pm__test__mirror_stats__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return stats;
}

//  Waits until the mirror has applied `applied` events in all; returns
//  its stats then (or the last seen, on timeout).
static Pm__Test__MirrorStats *
s_mirror_wait (pm_client_t *mirror, uint64_t applied, int timeout_ms)
{
    int64_t until = itest_now () + timeout_ms;
    Pm__Test__MirrorStats *stats = NULL;
    do {
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        stats = s_mirror_stats (mirror);
        if (stats && stats->applied >= applied) {
            break;
        }
        zclock_sleep (20);
    } while (itest_now () < until);
    return stats;
}

//  Registers `n` patients (and updates every fifth) from one client.
//  Returns the number of events that made.
static int
s_load (pm_client_t *client, int n, const char *tag)
{
    int events = 0;
    for (int i = 0; i < n; i++) {
        s_form_t f;
        char fam[48];
        snprintf (fam, sizeof fam, "%s%05d", tag, i);
        s_form (&f, fam, "Lin", "1999-09-09");
        int code;
        patient_t *p = s_register (client, &f, &code);
        if (!p) {
            return -1;
        }
        events++;
        if (i % 5 == 0) {
            Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
            patient_t patch = PM__PATIENTS__PATIENT__INIT;
            patch.preferred_language = "es-MX";
            upd.id = p->id;
            upd.has_expected_version = 1;
            upd.expected_version = 1;
            upd.patient = &patch;
            Pm__Reply *reply = itest_call (client, "patients.Update", &upd.base);
            if (!reply || reply->code != PM__CODE__OK) {
                return -1;
            }
            pm__reply__free_unpacked (reply, NULL);
            events++;
        }
        pm__patients__patient__free_unpacked (p, NULL);
    }
    return events;
}

//  A consumer that was offline catches up from its durable cursor, and
//  applies each event exactly once.
static void
s_test_consumer_offline_catch_up (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);

    int first = s_load (pc, 50, "Before");
    CHECK (first == 60);
    Pm__Test__MirrorStats *stats = s_mirror_wait (mc, 60, ITEST_WAIT_MS);
    CHECK (stats && stats->applied == 60 && stats->patients == 50);
    pm__test__mirror_stats__free_unpacked (stats, NULL);

    //  Offline while 100 more patients arrive.
    itest_signal (&mir, SIGTERM);
    int second = s_load (pc, 100, "During");
    CHECK (second == 120);
    pm_client_destroy (&mc);
    CHECK (itest_start (&mir) == 0);
    mc = itest_client (&mir);
    stats = s_mirror_wait (mc, 180, ITEST_WAIT_MS);
    CHECK (stats && stats->applied == 180 && stats->patients == 150);
    CHECK (stats->applied_this_run == 120); //  from the cursor, not from 1
    CHECK (stats->duplicates == 0);
    CHECK (stats->version_sum == 150 + 30); //  every update seen once

    //  And its health shows no lag against the producer.
    Pm__Health *h = itest_health (mc);
    CHECK (h && h->n_consumers == 1 && h->consumers[0]->cursor == 180);
    CHECK (strcmp (h->consumers[0]->source, "patients") == 0);
    pm__health__free_unpacked (h, NULL);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

//  A consumer too slow for the PUB high-water mark loses live events and
//  recovers them by catch-up: in the end it has applied every event once.
static void
s_test_consumer_slow_recovers (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    pat.env[0] = "PM_PUB_HWM=20";
    itest_svc_init (&mir, "mirror", "pm_mirror");
    mir.env[0] = "PM_FOLLOW_HWM=20";
    mir.env[1] = "PM_MIRROR_APPLY_DELAY_US=300";
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);

    //  First, live delivery works: the subscription is in place (a frozen
    //  process could not even finish subscribing).
    CHECK (s_load (pc, 10, "Warm") == 12);
    Pm__Test__MirrorStats *stats = s_mirror_wait (mc, 12, ITEST_WAIT_MS);
    CHECK (stats && stats->applied == 12);
    pm__test__mirror_stats__free_unpacked (stats, NULL);

    //  Freeze the consumer while a burst is published: its queues fill
    //  and PUB drops the rest.
    kill (mir.pid, SIGSTOP);
    int burst = s_load (pc, 1480, "Burst");
    CHECK (burst == 1776);
    kill (mir.pid, SIGCONT);
    //  Live events after the thaw arrive past the hole the drops left.
    CHECK (s_load (pc, 10, "After") == 12);
    stats = s_mirror_wait (mc, 1800, 60000);
    if (!stats || stats->applied != 1800) {
        //  Which side counted wrong: the producer's stream or the mirror.
        fprintf (stderr, "    producer high_seq %llu; mirror: %s applied %llu "
                         "patients %llu duplicates %llu rebuilds %llu\n",
                 (unsigned long long) s_high_seq (pc), stats ? "" : "(no answer)",
                 (unsigned long long) (stats ? stats->applied : 0),
                 (unsigned long long) (stats ? stats->patients : 0),
                 (unsigned long long) (stats ? stats->duplicates : 0),
                 (unsigned long long) (stats ? stats->rebuilds : 0));
    }
    CHECK (stats && stats->applied == 1800);
    CHECK (stats->patients == 1500 && stats->duplicates == 0);
    CHECK (stats->version_sum == 1500 + 300);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    //  It really lost live events and caught up: not a test that passes
    //  because nothing was dropped.
    Pm__Health *h = itest_health (mc);
    CHECK (h && h->n_consumers == 1);
    CHECK (h->consumers[0]->gaps >= 1 && h->consumers[0]->catch_ups >= 2);
    CHECK (h->consumers[0]->cursor == 1800 && h->consumers[0]->apply_failures == 0);
    pm__health__free_unpacked (h, NULL);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

//  The producer's store is replaced (new stream id): the consumer notices
//  and rebuilds its projection from seq 1 of the new stream.
static void
s_test_consumer_rebuilds_on_new_stream (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);
    CHECK (s_load (pc, 20, "Old") == 24);
    Pm__Test__MirrorStats *stats = s_mirror_wait (mc, 24, ITEST_WAIT_MS);
    CHECK (stats && stats->applied == 24);
    pm__test__mirror_stats__free_unpacked (stats, NULL);

    //  A new, empty store on the same endpoints.
    itest_signal (&pat, SIGKILL);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", pat.dir);
    CHECK (system (cmd) == 0);
    CHECK (itest_start (&pat) == 0);
    pm_client_destroy (&pc);
    pc = itest_client (&pat);
    CHECK (s_load (pc, 7, "New") == 9);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    stats = NULL;
    do {
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        stats = s_mirror_stats (mc);
        zclock_sleep (20);
    } while (itest_now () < until
             && !(stats && stats->rebuilds == 1 && stats->applied == 9));
    CHECK (stats && stats->rebuilds == 1);
    CHECK (stats->applied == 9 && stats->patients == 7 && stats->duplicates == 0);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

//  --------------------------------------------------------------------------
//  A store that starts tiny fills up under load: the write path grows the
//  map and runs the batch again; nothing acknowledged is lost or doubled.
static void
s_test_map_grows (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    svc.env[0] = "PM_MAP_SIZE=128K";
    svc.env[1] = "PM_MAP_MAX=256M";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    Pm__Health *h = itest_health (client);
    CHECK (h);
    uint64_t first_size = h->map_size;
    pm__health__free_unpacked (h, NULL);
    CHECK (s_load (client, 1000, "Grow") == 1200);
    h = itest_health (client);
    CHECK (h && h->map_size >= 4 * first_size && h->high_seq == 1200);
    CHECK (h->map_used <= h->map_size && h->ok);
    pm__health__free_unpacked (h, NULL);
    //  Restart: the grown store opens at its size and has everything.
    itest_signal (&svc, SIGTERM);
    CHECK (itest_start (&svc) == 0);
    pm_client_destroy (&client);
    client = itest_client (&svc);
    Pm__Patients__Search q = PM__PATIENTS__SEARCH__INIT;
    q.family_prefix = "grow0099";
    q.has_page_size = 1;
    q.page_size = 200;
    Pm__Reply *reply = s_call (client, "patients.Search", &q.base);
    CHECK (s_ok (reply, 0, NULL));
    Pm__Patients__SearchResult *res = pm__patients__search_result__unpack (
        NULL, reply->body.len, reply->body.data);
    CHECK (res && res->n_patients == 10); //  Grow00990 .. Grow00999
    pm__patients__search_result__free_unpacked (res, NULL);
    pm__reply__free_unpacked (reply, NULL);
    CHECK (s_high_seq (client) == 1200);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Timed work goes through the write path: its changes are durable and its
//  events reach the stream in order, with the runtime's clock.
static void
s_test_timed_work (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    mir.env[0] = "PM_MIRROR_TICK_MS=20";
    mir.env[1] = "PM_CLOCK_OFFSET_MS=86400000"; //  tomorrow
    CHECK (itest_start (&pat) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *mc = itest_client (&mir);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    Pm__Test__MirrorStats *stats = NULL;
    do {
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        stats = s_mirror_stats (mc);
        zclock_sleep (10);
    } while (itest_now () < until && !(stats && stats->ticks >= 5));
    CHECK (stats && stats->ticks >= 5);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    Pm__Event **events;
    long n = itest_read_stream (mc, &events);
    CHECK (n >= 5);
    for (long i = 0; i < n; i++) {
        CHECK (strcmp (events[i]->type, "mirror.clock.ticked") == 0);
        CHECK (events[i]->seq == (uint64_t) i + 1);
        //  The runtime's clock, shifted a day ahead: never time().
        CHECK (events[i]->time > pm_clock_wall_ms () + 86000000);
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

//  --------------------------------------------------------------------------
//  Requests that commit together fail alone: in one batch, refused
//  requests (an MRN taken earlier in the same batch, an invalid field)
//  roll back only themselves; the others are stored with their events.
static void
s_test_batch_isolates_failures (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    Pm__Health *h = itest_health (client); //  connected before the freeze
    CHECK (h);
    uint64_t batches_before = h->batches;
    pm__health__free_unpacked (h, NULL);

    //  12 requests queued while the service is frozen, so they are read
    //  in one drain: even ones claim MRN Z1 (the first wins), every third
    //  has an impossible birth date, the rest are plain.
    kill (svc.pid, SIGSTOP);
    Pm__Patients__SiteMrn mrn = {PROTOBUF_C_MESSAGE_INIT (&pm__patients__site_mrn__descriptor),
                                 "north", "Z1"};
    Pm__Patients__SiteMrn *mrns[] = {&mrn};
    int expect[12];
    uint64_t ids[12];
    bool first_claim = true;
    for (int i = 0; i < 12; i++) {
        s_form_t f;
        char fam[16];
        snprintf (fam, sizeof fam, "Batch%02d", i);
        s_form (&f, fam, "Kim", i % 3 == 1 ? "1999-02-30" : "1999-02-28");
        if (i % 2 == 0) {
            f.p.n_mrns = 1;
            f.p.mrns = mrns;
        }
        expect[i] = i % 3 == 1 ? PM_EINVAL
                    : i % 2 == 0 && !first_claim ? PM_ECONFLICT
                                                 : PM_OK;
        if (i % 2 == 0 && i % 3 != 1) {
            first_claim = false;
        }
        uint8_t body[1024];
        size_t len = pm__patients__register__pack (&f.reg, body);
        ids[i] = pm_client_send (client, 0, "patients.Register", body, len);
    }
    zclock_sleep (50); //  let the kernel deliver them all before the thaw
    kill (svc.pid, SIGCONT);
    int ok = 0;
    for (int got = 0; got < 12; got++) {
        Pm__Reply *reply = pm_client_recv (client, 5000);
        CHECK (reply);
        int i = 0;
        while (i < 12 && ids[i] != reply->request_id) {
            i++;
        }
        CHECK (i < 12);
        if ((int) reply->code != expect[i]) {
            fprintf (stderr, "    request %d: code %d, wanted %d (%s)\n", i,
                     (int) reply->code, expect[i], reply->message);
        }
        CHECK ((int) reply->code == expect[i]);
        ok += reply->code == PM__CODE__OK;
        pm__reply__free_unpacked (reply, NULL);
    }
    CHECK (ok == 5); //  Z1's winner and the four plain ones
    h = itest_health (client);
    CHECK (h && h->high_seq == 5);
    //  One drain, at most two commits (the thaw may split it once): the
    //  interleaving puts winners and losers in every batch either way.
    CHECK (h->batches - batches_before <= 2);
    pm__health__free_unpacked (h, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  The stand-in producer (pm_emitter) feeds a follower exactly the events a
//  test chooses, on a real stream: consumers of services that are not
//  built yet are tested this way.
static void
s_test_emitter_stands_in (void)
{
    itest_svc_t emi, mir;
    itest_svc_init (&emi, "patients", "pm_emitter");
    emi.env[0] = "PM_EMITTER_SERVICE=patients";
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&emi) == 0);
    itest_point_at (&mir, &emi);
    CHECK (itest_start (&mir) == 0);
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *mc = itest_client (&mir);
    for (int v = 1; v <= 3; v++) {
        patient_t p = PM__PATIENTS__PATIENT__INIT;
        p.id = "pat_01m8e8rx5n3r2py41feft8x8rn";
        p.has_version = 1;
        p.version = (uint64_t) v;
        uint8_t data[256];
        Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
        emit.type = v == 1 ? "patients.patient.registered" : "patients.patient.updated";
        emit.subject = p.id;
        emit.has_data = 1;
        emit.data.data = data;
        emit.data.len = pm__patients__patient__pack (&p, data);
        Pm__Reply *reply = s_call (ec, "emitter.Emit", &emit.base);
        CHECK (s_ok (reply, 0, NULL));
        pm__reply__free_unpacked (reply, NULL);
    }
    Pm__Test__MirrorStats *stats = s_mirror_wait (mc, 3, ITEST_WAIT_MS);
    CHECK (stats && stats->applied == 3 && stats->patients == 1);
    CHECK (stats->version_sum == 3 && stats->duplicates == 0);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    pm_client_destroy (&ec);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&emi);
}

//  --------------------------------------------------------------------------
//  Unknown fields in a body are not carried into records: a patient sent
//  with a field this version does not know (here field 0 in a two-byte
//  tag, which protobuf-c 1.4 would re-pack into bytes it cannot read) is
//  stored and published in a form every reader decodes (fuzz finding F2).
static void
s_test_unknown_fields_dropped (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    s_form_t f;
    s_form (&f, "Quirk", "Zed", "1966-06-06");
    uint8_t patient[512], body[600];
    size_t plen = pm__patients__patient__pack (&f.p, patient);
    memcpy (patient + plen, "\x80\x00\x01\xf8\x07\x05", 6); //  fields 0 and 127
    plen += 6;
    size_t blen = 0;
    body[blen++] = (1 << 3) | 2; //  Register.patient
    body[blen++] = (uint8_t) plen;
    memcpy (body + blen, patient, plen);
    blen += plen;
    uint64_t id = pm_client_send (client, 0, "patients.Register", body, blen);
    Pm__Reply *reply = pm_client_recv (client, 5000);
    CHECK (s_ok (reply, 0, NULL) && reply->request_id == id);
    patient_t *p = pm__patients__patient__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (p && p->base.n_unknown_fields == 0);
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = p->id;
    Pm__Reply *got = s_call (client, "patients.Get", &get.base);
    CHECK (s_ok (got, 0, NULL));
    pm__reply__free_unpacked (got, NULL);
    Pm__Event **events;
    CHECK (itest_read_stream (client, &events) == 1);
    patient_t *state = pm__patients__patient__unpack (NULL, events[0]->data.len,
                                                      events[0]->data.data);
    CHECK (state && strcmp (state->name->family, "Quirk") == 0);
    pm__patients__patient__free_unpacked (state, NULL);
    pm__event__free_unpacked (events[0], NULL);
    free (events);
    pm__patients__patient__free_unpacked (p, NULL);
    pm__reply__free_unpacked (reply, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A consumer that starts before its producer has ever run (no key for it
//  yet) waits for it, then follows it from seq 1.
static void
s_test_consumer_before_producer (void)
{
    itest_svc_t pat, mir;
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&mir, "mirror", "pm_mirror");
    CHECK (itest_start (&pat) == 0); //  only to pick its ports
    itest_signal (&pat, SIGKILL);
    char cmd[700];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store' %s/public/svc-patients.cert %s/secret/svc-patients.cert*",
              pat.dir, pm_keys_dir (), pm_keys_dir ());
    CHECK (system (cmd) == 0);
    itest_point_at (&mir, &pat);
    CHECK (itest_start (&mir) == 0); //  serves while its producer is absent
    CHECK (itest_start (&pat) == 0);
    pm_client_t *pc = itest_client (&pat);
    pm_client_t *mc = itest_client (&mir);
    CHECK (s_load (pc, 5, "Late") == 6);
    Pm__Test__MirrorStats *stats = s_mirror_wait (mc, 6, ITEST_WAIT_MS);
    CHECK (stats && stats->applied == 6 && stats->duplicates == 0);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    pm_client_destroy (&pc);
    pm_client_destroy (&mc);
    itest_cleanup (&mir);
    itest_cleanup (&pat);
}

static const itest_case_t s_cases[] = {
    {"consumer_started_before_producer", s_test_consumer_before_producer},
    {"unknown_fields_not_stored", s_test_unknown_fields_dropped},
    {"emitter_stands_in_for_a_producer", s_test_emitter_stands_in},
    {"batch_isolates_failures", s_test_batch_isolates_failures},
    {"timed_work_through_write_path", s_test_timed_work},
    {"map_grows_when_full", s_test_map_grows},
    {"lifecycle_with_events", s_test_lifecycle},
    {"validation_names_the_field", s_test_validation},
    {"idempotent_retry", s_test_idempotent_retry},
    {"stored_replies_upgrade_and_expiry", s_test_stored_replies_upgrade_and_expiry},
    {"audit_anchors", s_test_audit_anchors},
    {"bad_input_keeps_serving", s_test_bad_input},
    {"search_paging_and_indexes", s_test_search},
    {"kill9_recovery", s_test_crash_recovery},
    {"consumer_offline_catch_up", s_test_consumer_offline_catch_up},
    {"consumer_slow_recovers", s_test_consumer_slow_recovers},
    {"consumer_rebuilds_on_new_stream", s_test_consumer_rebuilds_on_new_stream},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
