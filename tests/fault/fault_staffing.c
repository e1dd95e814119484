/*  fault_staffing.c: the staffing workload of the fault suites.

    Before the load: a site in New York and a day-shift template. Each
    user then onboards staff of its own (names no other user makes),
    updates them with the version it was last told (always a new pay
    rate: an update that changes nothing makes no event), and
    rosters them a week of day shifts at a time, each week one nobody of
    theirs worked before: a practice manager's mix. Every command is valid
    when first sent, so a refusal can only mean a retry was not recognised
    or an acknowledged change was lost. A roster command emits one event
    per shift, so the events per command vary (the checker still finds
    each command's events once, together).                               */
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fault.h"
#include "staffing.pb-c.h"

#define DAY_S 86400

typedef struct {
    char id[PM_ID_MAX];
    uint64_t version;
    unsigned n;         //  the staff member's number, for the name
    unsigned weeks;     //  weeks rostered
} s_person_t;

typedef struct {
    int user;
    unsigned made;
    s_person_t *people;
    size_t n, cap;
} s_model_t;

static char s_template[PM_ID_MAX];   //  the day-shift template (setup)

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
        free (m->people);
        free (m);
    }
}

//  --------------------------------------------------------------------------
//  Packs the JSON `text` as a `desc` message (the workload's own text: it
//  always parses).
static uint8_t *
s_body (const ProtobufCMessageDescriptor *desc, const char *text, size_t *len)
{
    uint8_t *buf = NULL;
    char err[256];
    if (pm_json_to_pb (desc, text, strlen (text), &buf, len, err, sizeof err) != PM_OK) {
        fprintf (stderr, "    staffing workload: %s: %s\n", err, text);
        abort ();
    }
    return buf;
}

//  --------------------------------------------------------------------------
//  The staff record of person `n` of user `user` paid `pay` (JSON).
static void
s_staff_json (char *out, size_t size, int user, unsigned n, unsigned pay, const char *id)
{
    snprintf (out, size,
              "{%s%s%s\"name\": {\"family\": \"Shift%02dx%05u\", \"given\": [\"Jo\"]}, "
              "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"north\", "
              "\"fte_permille\": 800}], \"employment_type\": \"FULL_TIME\", "
              "\"pay_rate_minor\": %u, \"currency\": \"USD\", \"start_date\": "
              "\"2030-01-01\"}",
              id ? "\"id\": \"" : "", id ? id : "", id ? "\", " : "", user, n, pay);
}

//  --------------------------------------------------------------------------
//  The user's next command: onboard (40%), update (35%), a week of shifts.
static void
s_next (void *model, fault_rng_t *rng, char *type, uint8_t **body, size_t *len)
{
    s_model_t *m = model;
    m->made++;
    uint64_t roll = fault_rand (rng, 100);
    char staff[1024], text[1536];
    if (m->n == 0 || roll < 40) {
        s_staff_json (staff, sizeof staff, m->user, m->made, 4000, NULL);
        snprintf (text, sizeof text, "{\"staff\": %s}", staff);
        snprintf (type, 64, "staffing.Onboard");
        *body = s_body (&pm__staffing__onboard__descriptor, text, len);
        return;
    }
    s_person_t *p = &m->people[fault_rand (rng, m->n)];
    if (roll < 75) {
        //  A new rate each time: an update that changes nothing is
        //  answered without a new version or event.
        s_staff_json (staff, sizeof staff, m->user, p->n, 4000 + m->made, p->id);
        snprintf (text, sizeof text, "{\"expected_version\": %llu, \"staff\": %s}",
                  (unsigned long long) p->version, staff);
        snprintf (type, 64, "staffing.UpdateStaff");
        *body = s_body (&pm__staffing__update_staff__descriptor, text, len);
        return;
    }
    //  Monday to Friday of the person's next week, from 2030-03-04 on.
    char from[16], to[16];
    time_t monday = (time_t) 1898812800 + (time_t) p->weeks++ * 7 * DAY_S;
    time_t friday = monday + 4 * DAY_S;
    struct tm tm;
    strftime (from, sizeof from, "%Y-%m-%d", gmtime_r (&monday, &tm));
    strftime (to, sizeof to, "%Y-%m-%d", gmtime_r (&friday, &tm));
    snprintf (text, sizeof text,
              "{\"template_id\": \"%s\", \"from_date\": \"%s\", \"to_date\": \"%s\", "
              "\"staff_id\": \"%s\"}", s_template, from, to, p->id);
    snprintf (type, 64, "staffing.AddShifts");
    *body = s_body (&pm__staffing__add_shifts__descriptor, text, len);
}

//  --------------------------------------------------------------------------
//  Learns the version of the person an acknowledgement names (shifts:
//  no record of the person changes, and no subject is checked).
static void
s_acked (void *model, const char *type, const Pm__Reply *reply, char *subject)
{
    s_model_t *m = model;
    if (strcmp (type, "staffing.AddShifts") == 0) {
        return;
    }
    Pm__Staffing__Staff *s = pm__staffing__staff__unpack (NULL, reply->body.len,
                                                          reply->body.data);
    if (!s || !s->id) {
        pm__staffing__staff__free_unpacked (s, NULL);
        return;
    }
    snprintf (subject, PM_ID_MAX, "%s", s->id);
    s_person_t *r = NULL;
    for (size_t i = 0; i < m->n && !r; i++) {
        r = strcmp (m->people[i].id, s->id) == 0 ? &m->people[i] : NULL;
    }
    if (!r) {
        if (m->n == m->cap) {
            m->cap = m->cap ? m->cap * 2 : 64;
            m->people = realloc (m->people, m->cap * sizeof *m->people);
        }
        r = &m->people[m->n++];
        memset (r, 0, sizeof *r);
        snprintf (r->id, sizeof r->id, "%s", s->id);
        r->n = m->made;
    }
    r->version = s->version;
    pm__staffing__staff__free_unpacked (s, NULL);
}

//  --------------------------------------------------------------------------
//  The person as staffing.GetStaff answers it.
static void
s_read (const char *subject, char *type, uint8_t **body, size_t *len)
{
    Pm__Staffing__GetStaff get = PM__STAFFING__GET_STAFF__INIT;
    get.staff_id = (char *) subject;
    snprintf (type, 64, "staffing.GetStaff");
    *len = protobuf_c_message_get_packed_size (&get.base);
    *body = malloc (*len ? *len : 1);
    protobuf_c_message_pack (&get.base, *body);
}

//  --------------------------------------------------------------------------
//  The version of a packed staff record (0 if it does not decode).
static uint64_t
s_version (const uint8_t *data, size_t len)
{
    Pm__Staffing__Staff *s = pm__staffing__staff__unpack (NULL, len, data);
    uint64_t v = s ? s->version : 0;
    pm__staffing__staff__free_unpacked (s, NULL);
    return v;
}

//  --------------------------------------------------------------------------
//  Before the load: the site and the template. The events it made.
static uint64_t
s_setup (pm_client_t *client)
{
    json_t *r = itest_req (client, 0, NULL, "staffing.CreateSite",
                           "{\"site\": {\"id\": \"north\", \"name\": \"North Clinic\", "
                           "\"time_zone\": \"America/New_York\", \"currency\": \"USD\"}}");
    bool ok = r != NULL;
    json_decref (r);
    r = ok ? itest_req (client, 0, NULL, "staffing.CreateShiftTemplate",
                        "{\"template\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                        "\"name\": \"Day\", \"starts\": \"08:00\", \"ends\": \"16:00\"}}")
           : NULL;
    const char *id = r ? json_string_value (json_object_get (r, "id")) : NULL;
    snprintf (s_template, sizeof s_template, "%s", id ? id : "");
    json_decref (r);
    Pm__Health *h = s_template[0] ? itest_health (client) : NULL;
    uint64_t seq = h ? h->high_seq : 0;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

const fault_workload_t fault_staffing = {
    "staffing", "pm-staffing", 0, "staffing.staff.", false,
    s_model_new, s_model_destroy, s_next, s_acked, s_read, s_version, NULL, s_setup,
};
