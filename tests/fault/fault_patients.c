/*  fault_patients.c: the patients workload of the fault suites.

    Each user registers patients of its own (names no other user makes),
    updates them with the version it was last told, and deactivates or
    reactivates them: a front desk's mix. Because a user only touches its
    own records and always sends the version it holds, every command is
    valid when it is first sent; a refusal can only mean a retry was not
    recognised or an acknowledged change was lost.

    fault_patients_new is the front desk beside the clinic's scheduling
    load: it only registers new patients (at site north), whom the
    scheduling users then book.                                           */
#include <stdlib.h>
#include <string.h>

#include "fault.h"
#include "patients.pb-c.h"

typedef struct {
    char id[PM_ID_MAX];
    uint64_t version;
    bool active;
} s_record_t;

typedef struct {
    int user;
    unsigned made;        //  commands made, for names and changes
    s_record_t *records;
    size_t n, cap;
} s_model_t;

static const char *s_sites[] = {"north", "south", "east"};
static const char *s_given[] = {"Ada", "Ngozi", "Li", "Mateo", "Aroha", "Sven"};

//  --------------------------------------------------------------------------
//  A user's empty model.
static void *
s_model_new (int user)
{
    s_model_t *m = calloc (1, sizeof *m);
    m->user = user;
    return m;
}

//  --------------------------------------------------------------------------
//  Frees a user's model.
static void
s_model_destroy (void *model)
{
    s_model_t *m = model;
    if (m) {
        free (m->records);
        free (m);
    }
}

//  --------------------------------------------------------------------------
//  Packs `msg` into a new buffer.
static uint8_t *
s_pack (const ProtobufCMessage *msg, size_t *len)
{
    *len = protobuf_c_message_get_packed_size (msg);
    uint8_t *buf = malloc (*len ? *len : 1);
    protobuf_c_message_pack (msg, buf);
    return buf;
}

//  A new patient of `site` (NULL: one of three): a family name only this
//  user makes.
static uint8_t *
s_register (s_model_t *m, fault_rng_t *rng, const char *site, size_t *len)
{
    char family[48], dob[16], phone[32];
    char *given[1] = {(char *) s_given[fault_rand (rng, 6)]};
    snprintf (family, sizeof family, "Fault%02dx%05u", m->user, m->made);
    snprintf (dob, sizeof dob, "19%02u-%02u-%02u", 30 + (unsigned) fault_rand (rng, 60),
              1 + (unsigned) fault_rand (rng, 12), 1 + (unsigned) fault_rand (rng, 28));
    snprintf (phone, sizeof phone, "+1 555 %03u %04u", (unsigned) fault_rand (rng, 1000),
              (unsigned) fault_rand (rng, 10000));
    Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
    name.family = family;
    name.n_given = 1;
    name.given = given;
    Pm__Patients__ContactPoint tel = PM__PATIENTS__CONTACT_POINT__INIT;
    tel.has_system = 1;
    tel.system = PM__PATIENTS__CONTACT_SYSTEM__PHONE;
    tel.value = phone;
    Pm__Patients__ContactPoint *telecom[] = {&tel};
    Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
    p.name = &name;
    p.birth_date = dob;
    p.home_site = (char *) (site ? site : s_sites[fault_rand (rng, 3)]);
    p.n_telecom = 1;
    p.telecom = telecom;
    Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
    reg.patient = &p;
    return s_pack (&reg.base, len);
}

//  --------------------------------------------------------------------------
//  The user's next command: register (45%), update (35%), (de)activate (20%).
static void
s_next (void *model, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    s_model_t *m = model;
    m->made++;
    uint64_t roll = fault_rand (rng, 100);
    if (m->n == 0 || roll < 45) {
        snprintf (type, 64, "patients.Register");
        *body = s_register (m, rng, NULL, len);
        return;
    }
    s_record_t *r = &m->records[fault_rand (rng, m->n)];
    if (roll < 80) {
        //  A change that always changes something: a new version.
        char said[32];
        snprintf (said, sizeof said, "as of change %u", m->made);
        Pm__Patients__Patient patch = PM__PATIENTS__PATIENT__INIT;
        patch.gender_identity = said;
        Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
        upd.id = r->id;
        upd.has_expected_version = 1;
        upd.expected_version = r->version;
        upd.patient = &patch;
        snprintf (type, 64, "patients.Update");
        *body = s_pack (&upd.base, len);
        return;
    }
    Pm__Patients__SetActive set = PM__PATIENTS__SET_ACTIVE__INIT;
    set.id = r->id;
    set.reason = r->active ? "moved away (fault drill)" : "came back (fault drill)";
    set.has_expected_version = 1;
    set.expected_version = r->version;
    snprintf (type, 64, r->active ? "patients.Deactivate" : "patients.Reactivate");
    *body = s_pack (&set.base, len);
}

//  --------------------------------------------------------------------------
//  Learns the new version and state of the record an acknowledgement names.
static void
s_acked (void *model, const char *type, const Pm__Reply *reply, char *subject)
{
    (void) type;
    s_model_t *m = model;
    Pm__Patients__Patient *p = pm__patients__patient__unpack (NULL, reply->body.len,
                                                              reply->body.data);
    if (!p || !p->id) {
        pm__patients__patient__free_unpacked (p, NULL);
        return;
    }
    snprintf (subject, PM_ID_MAX, "%s", p->id);
    s_record_t *r = NULL;
    for (size_t i = 0; i < m->n && !r; i++) {
        r = strcmp (m->records[i].id, p->id) == 0 ? &m->records[i] : NULL;
    }
    if (!r) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->records = realloc (m->records, m->cap * sizeof *m->records);
        }
        r = &m->records[m->n++];
        snprintf (r->id, sizeof r->id, "%s", p->id);
    }
    r->version = p->version;
    r->active = p->active;
    pm__patients__patient__free_unpacked (p, NULL);
}

//  --------------------------------------------------------------------------
//  The record as patients.Get answers it.
static void
s_read (const char *subject, char *type, uint8_t **body, size_t *len)
{
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = (char *) subject;
    snprintf (type, 64, "patients.Get");
    *body = s_pack (&get.base, len);
}

//  --------------------------------------------------------------------------
//  The version of a packed patient (0 if it does not decode).
static uint64_t
s_version (const uint8_t *data, size_t len)
{
    Pm__Patients__Patient *p = pm__patients__patient__unpack (NULL, len, data);
    uint64_t v = p ? p->version : 0;
    pm__patients__patient__free_unpacked (p, NULL);
    return v;
}

const fault_workload_t fault_patients = {
    "patients", "pm-patients", 1, "patients.patient.", true,
    s_model_new, s_model_destroy, s_next, s_acked, s_read, s_version, NULL, NULL,
};

//  --------------------------------------------------------------------------
//  A front desk's empty model: numbered from 50 on, so that its names are
//  its own.
static void *
s_model_new_desk (int user)
{
    return s_model_new (50 + user);
}

//  --------------------------------------------------------------------------
//  The front desk's next command: a new patient at site north.
static void
s_next_new (void *model, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    s_model_t *m = model;
    m->made++;
    snprintf (type, 64, "patients.Register");
    *body = s_register (m, rng, "north", len);
}

const fault_workload_t fault_patients_new = {
    "patients", "pm-patients", 1, "patients.patient.", false,
    s_model_new_desk, s_model_destroy, s_next_new, s_acked, s_read, s_version, NULL, NULL,
};
