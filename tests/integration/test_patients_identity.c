/*  test_patients_identity.c: the patients service's network identity
    features through its protocol: duplicate detection and the site
    worklists, merge and unmerge, consent, patient experience (surveys
    from scheduling's stream, complaints with service levels) and
    erasure. Bad input included; every case starts its own service.     */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "itest.h"
#include "patients.pb-c.h"
#include "pm_test.pb-c.h"
#include "scheduling.pb-c.h"

#define DAY_MS 86400000LL

typedef Pm__Patients__Patient patient_t;

//  A valid patient; the caller may change fields before registering.
typedef struct {
    Pm__Patients__Register reg;
    patient_t p;
    Pm__Patients__HumanName name;
    char *given[1];
    Pm__Patients__ContactPoint contact[2];
    Pm__Patients__ContactPoint *telecom[2];
    char family[64], first[64], dob[16], phone[32], email[64], site[16];
} s_form_t;

//  phone and email may be NULL (none).
static void
s_form (s_form_t *f, const char *family, const char *given, const char *dob,
        const char *phone, const char *email)
{
    memset (f, 0, sizeof *f);
    pm__patients__register__init (&f->reg);
    pm__patients__patient__init (&f->p);
    pm__patients__human_name__init (&f->name);
    snprintf (f->family, sizeof f->family, "%s", family);
    snprintf (f->first, sizeof f->first, "%s", given);
    snprintf (f->dob, sizeof f->dob, "%s", dob);
    snprintf (f->site, sizeof f->site, "north");
    f->given[0] = f->first;
    f->name.family = f->family;
    f->name.n_given = 1;
    f->name.given = f->given;
    if (phone) {
        snprintf (f->phone, sizeof f->phone, "%s", phone);
        Pm__Patients__ContactPoint *cp = &f->contact[f->p.n_telecom];
        pm__patients__contact_point__init (cp);
        cp->has_system = 1;
        cp->system = PM__PATIENTS__CONTACT_SYSTEM__PHONE;
        cp->value = f->phone;
        f->telecom[f->p.n_telecom++] = cp;
    }
    if (email) {
        snprintf (f->email, sizeof f->email, "%s", email);
        Pm__Patients__ContactPoint *cp = &f->contact[f->p.n_telecom];
        pm__patients__contact_point__init (cp);
        cp->has_system = 1;
        cp->system = PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
        cp->value = f->email;
        f->telecom[f->p.n_telecom++] = cp;
    }
    f->p.telecom = f->telecom;
    f->p.name = &f->name;
    f->p.birth_date = f->dob;
    f->p.home_site = f->site;
    f->reg.patient = &f->p;
}

//  The first start of a service, on ports of its own: a random pair
//  below the kernel's ephemeral range (32768 on) and czmq's wildcard
//  ports (49152 on, handed out lowest first), so that neither a service
//  of a suite running side by side nor a client still reconnecting takes
//  them while this one restarts. Later starts reuse them.
static int
s_start (itest_svc_t *svc)
{
    for (int tries = 0; tries < 20; tries++) {
        uint32_t r;
        pm_random (&r, sizeof r);
        int port = 20000 + (int) (r % 6000) * 2;
        snprintf (svc->commands, sizeof svc->commands, "tcp://127.0.0.1:%d", port);
        snprintf (svc->events, sizeof svc->events, "tcp://127.0.0.1:%d", port + 1);
        if (itest_start (svc) == 0) {
            return 0;
        }
    }
    return -1;
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

//  Calls and checks the code (and field); the reply is freed. True when
//  it matched.
static bool
s_expect (pm_client_t *client, const char *type, const ProtobufCMessage *body,
          int code, const char *field)
{
    Pm__Reply *reply = itest_call (client, type, body);
    bool ok = s_ok (reply, code, field);
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return ok;
}

//  Calls; on OK unpacks the reply body as `desc` (caller frees), else
//  NULL (and says why).
static void *
s_fetch (pm_client_t *client, const char *type, const ProtobufCMessage *body,
         const ProtobufCMessageDescriptor *desc)
{
    Pm__Reply *reply = itest_call (client, type, body);
    void *out = NULL;
    if (s_ok (reply, 0, NULL)) {
        out = protobuf_c_message_unpack (desc, NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return out;
}

static patient_t *
s_register (pm_client_t *client, s_form_t *f)
{
    return s_fetch (client, "patients.Register", &f->reg.base,
                    &pm__patients__patient__descriptor);
}

static patient_t *
s_get (pm_client_t *client, const char *id)
{
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.id = (char *) id;
    return s_fetch (client, "patients.Get", &get.base, &pm__patients__patient__descriptor);
}

static patient_t *
s_get_mrn (pm_client_t *client, const char *site, const char *mrn)
{
    Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
    get.site_id = (char *) site;
    get.mrn = (char *) mrn;
    return s_fetch (client, "patients.Get", &get.base, &pm__patients__patient__descriptor);
}

//  True when the two records are the same but for version and
//  updated_at (what an unmerge is allowed to move on).
static bool
s_same_but_version (const patient_t *a, const patient_t *b)
{
    patient_t x = *a, y = *b;
    x.version = y.version = 0;
    x.updated_at = y.updated_at = 0;
    size_t lx = pm__patients__patient__get_packed_size (&x);
    size_t ly = pm__patients__patient__get_packed_size (&y);
    if (lx != ly) {
        return false;
    }
    uint8_t *px = malloc (lx + 1), *py = malloc (ly + 1);
    pm__patients__patient__pack (&x, px);
    pm__patients__patient__pack (&y, py);
    bool same = memcmp (px, py, lx) == 0;
    free (px);
    free (py);
    return same;
}

//  The link of `p` of `type`, NULL if none.
static const char *
s_link (const patient_t *p, Pm__Patients__LinkType type)
{
    for (size_t i = 0; p && i < p->n_links; i++) {
        if (p->links[i]->type == type) {
            return p->links[i]->other_id;
        }
    }
    return NULL;
}

//  The MRN of `p` at `site`, NULL if none.
static const char *
s_mrn_at (const patient_t *p, const char *site)
{
    for (size_t i = 0; p && i < p->n_mrns; i++) {
        if (strcmp (p->mrns[i]->site_id, site) == 0) {
            return p->mrns[i]->mrn;
        }
    }
    return NULL;
}

//  The last event of `type` in the stream, unpacked as MergeResult.
static Pm__Patients__MergeResult *
s_last_merge_event (pm_client_t *client, const char *type)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    Pm__Patients__MergeResult *out = NULL;
    for (long i = 0; i < n; i++) {
        if (strcmp (events[i]->type, type) == 0) {
            pm__patients__merge_result__free_unpacked (out, NULL);
            out = pm__patients__merge_result__unpack (NULL, events[i]->data.len,
                                                      events[i]->data.data);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return out;
}

static Pm__Patients__Duplicates *
s_find (pm_client_t *client, const char *id)
{
    Pm__Patients__FindDuplicates q = PM__PATIENTS__FIND_DUPLICATES__INIT;
    q.patient_id = (char *) id;
    return s_fetch (client, "patients.FindDuplicates", &q.base,
                    &pm__patients__duplicates__descriptor);
}

static Pm__Patients__DuplicateWorklistPage *
s_worklist (pm_client_t *client, const char *site)
{
    Pm__Patients__DuplicateWorklist q = PM__PATIENTS__DUPLICATE_WORKLIST__INIT;
    q.site_id = (char *) site;
    return s_fetch (client, "patients.DuplicateWorklist", &q.base,
                    &pm__patients__duplicate_worklist_page__descriptor);
}

//  The candidate for `id` in `d`, NULL if absent.
static Pm__Patients__DuplicateCandidate *
s_candidate (Pm__Patients__Duplicates *d, const char *id)
{
    for (size_t i = 0; d && i < d->n_candidates; i++) {
        if (strcmp (d->candidates[i]->patient_id, id) == 0) {
            return d->candidates[i];
        }
    }
    return NULL;
}

//  True when the candidate's reasons include `field`.
static bool
s_has_reason (const Pm__Patients__DuplicateCandidate *c, const char *field)
{
    for (size_t i = 0; c && i < c->n_reasons; i++) {
        if (strcmp (c->reasons[i]->field, field) == 0) {
            return true;
        }
    }
    return false;
}

//  True when the site's worklist holds the pair (x, y).
static bool
s_listed (pm_client_t *client, const char *site, const char *x, const char *y)
{
    Pm__Patients__DuplicateWorklistPage *page = s_worklist (client, site);
    bool found = false;
    for (size_t i = 0; page && i < page->n_pairs && !found; i++) {
        const Pm__Patients__DuplicatePair *pair = page->pairs[i];
        found = (strcmp (pair->a_id, x) == 0 && strcmp (pair->b_id, y) == 0)
                || (strcmp (pair->a_id, y) == 0 && strcmp (pair->b_id, x) == 0);
    }
    pm__patients__duplicate_worklist_page__free_unpacked (page, NULL);
    return found;
}

//  The events of the stream of type `type` (count).
static int
s_count_events (pm_client_t *client, const char *type)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    int count = 0;
    for (long i = 0; i < n; i++) {
        count += strcmp (events[i]->type, type) == 0;
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return n < 0 ? -1 : count;
}

//  --------------------------------------------------------------------------
//  A second registration of the same person (accents and case aside) is
//  accepted and scored as a likely duplicate with its reasons; twins who
//  share a family name, birth date and phone are not; the pair is on the
//  home sites' worklists.
static void
s_test_duplicates_scored (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (s_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);

    s_form_t f;
    s_form (&f, "Müller", "Anna", "1980-02-29", "+49 30 1234567", NULL);
    patient_t *anna = s_register (client, &f);
    CHECK (anna);
    s_form (&f, "MULLER", "anna", "1980-02-29", "030 1234567", "anna@example.org");
    snprintf (f.site, sizeof f.site, "south");
    patient_t *anna2 = s_register (client, &f); //  registering is never refused
    CHECK (anna2);
    s_form (&f, "Okafor", "Chidi", "1975-06-01", "+1 555 0100 200", NULL);
    patient_t *chidi = s_register (client, &f);
    s_form (&f, "Okafor", "Ngozi", "1975-06-01", "+1 555 0100 200", NULL);
    patient_t *ngozi = s_register (client, &f); //  Chidi's twin
    CHECK (chidi && ngozi);

    Pm__Patients__Duplicates *d = s_find (client, anna2->id);
    CHECK (d);
    Pm__Patients__DuplicateCandidate *c = s_candidate (d, anna->id);
    CHECK (c && c->likely && c->score >= 80 && !c->dismissed);
    CHECK (s_has_reason (c, "name") && s_has_reason (c, "birth_date"));
    CHECK (s_has_reason (c, "phone") && !s_has_reason (c, "email"));
    CHECK (c->patient && strcmp (c->patient->id, anna->id) == 0);
    CHECK (!s_candidate (d, anna2->id)); //  never itself
    pm__patients__duplicates__free_unpacked (d, NULL);

    d = s_find (client, ngozi->id);
    c = s_candidate (d, chidi->id);
    CHECK (c && !c->likely && c->score < 60); //  shown, but not raised
    pm__patients__duplicates__free_unpacked (d, NULL);

    //  The likely pair is on both home sites' worklists; the twins are not.
    CHECK (s_listed (client, "north", anna->id, anna2->id));
    CHECK (s_listed (client, "south", anna->id, anna2->id));
    CHECK (!s_listed (client, "north", chidi->id, ngozi->id));
    Pm__Patients__DuplicateWorklistPage *page = s_worklist (client, "north");
    CHECK (page && page->n_pairs == 1 && page->n_patients == 2);
    CHECK (page->pairs[0]->status == PM__PATIENTS__PAIR_STATUS__PAIR_OPEN);
    CHECK (page->pairs[0]->n_sites == 2 && page->pairs[0]->n_reasons >= 3);
    pm__patients__duplicate_worklist_page__free_unpacked (page, NULL);

    //  A front desk checks before registering: a probe with the birth
    //  date typed day-first and the same e-mail finds the record.
    Pm__Patients__FindDuplicates q = PM__PATIENTS__FIND_DUPLICATES__INIT;
    s_form (&f, "Muller", "Ana", "1980-02-29", NULL, "ANNA@example.org");
    q.probe = &f.p;
    d = s_fetch (client, "patients.FindDuplicates", &q.base,
                 &pm__patients__duplicates__descriptor);
    c = s_candidate (d, anna2->id);
    CHECK (c && c->likely && s_has_reason (c, "email"));
    pm__patients__duplicates__free_unpacked (d, NULL);
    s_form (&f, "Okafor", "Chidi", "1975-01-06", NULL, NULL); //  06/01 vs 01/06
    d = s_fetch (client, "patients.FindDuplicates", &q.base,
                 &pm__patients__duplicates__descriptor);
    c = s_candidate (d, chidi->id);
    CHECK (c && s_has_reason (c, "birth_date") && c->score == 55);
    pm__patients__duplicates__free_unpacked (d, NULL);

    //  Correcting a record so that it no longer matches takes the pair
    //  off the worklists.
    Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
    patient_t patch = PM__PATIENTS__PATIENT__INIT;
    patch.birth_date = "1990-07-14";
    Pm__Patients__ContactPoint email = PM__PATIENTS__CONTACT_POINT__INIT;
    Pm__Patients__ContactPoint *tel[] = {&email};
    email.has_system = 1;
    email.system = PM__PATIENTS__CONTACT_SYSTEM__EMAIL;
    email.value = "a.mueller@example.org";
    patch.n_telecom = 1;
    patch.telecom = tel;
    upd.id = anna2->id;
    upd.has_expected_version = 1;
    upd.expected_version = 1;
    upd.patient = &patch;
    CHECK (s_expect (client, "patients.Update", &upd.base, 0, NULL));
    CHECK (!s_listed (client, "north", anna->id, anna2->id));
    CHECK (!s_listed (client, "south", anna->id, anna2->id));

    pm__patients__patient__free_unpacked (anna, NULL);
    pm__patients__patient__free_unpacked (anna2, NULL);
    pm__patients__patient__free_unpacked (chidi, NULL);
    pm__patients__patient__free_unpacked (ngozi, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A pair reviewed as two people leaves the worklists for good, with who
//  and why on the record and in the stream; bad input names its field.
static void
s_test_duplicates_dismissed (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (s_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);

    s_form_t f;
    s_form (&f, "García López", "José", "1962-11-03", "+34 91 555 0101", NULL);
    patient_t *a = s_register (client, &f);
    s_form (&f, "Garcia-Lopez", "Jose", "1962-11-03", NULL, NULL);
    patient_t *b = s_register (client, &f);
    CHECK (a && b);
    CHECK (s_listed (client, "north", a->id, b->id));

    Pm__Patients__DismissDuplicate dis = PM__PATIENTS__DISMISS_DUPLICATE__INIT;
    dis.patient_id = b->id;
    dis.other_id = a->id;
    CHECK (s_expect (client, "patients.DismissDuplicate", &dis.base, PM_EINVAL, "note"));
    dis.other_id = b->id;
    dis.note = "father and son";
    CHECK (s_expect (client, "patients.DismissDuplicate", &dis.base, PM_EINVAL, "other_id"));
    dis.other_id = "pat_nope";
    CHECK (s_expect (client, "patients.DismissDuplicate", &dis.base, PM_EINVAL, "other_id"));
    dis.other_id = "pat_01m8e8rx5n3r2py41feft8x8rn";
    CHECK (s_expect (client, "patients.DismissDuplicate", &dis.base, PM_ENOTFOUND, "other_id"));
    dis.other_id = a->id;
    Pm__Patients__DuplicatePair *pair = s_fetch (client, "patients.DismissDuplicate",
                                                 &dis.base,
                                                 &pm__patients__duplicate_pair__descriptor);
    CHECK (pair && pair->status == PM__PATIENTS__PAIR_STATUS__PAIR_DISMISSED);
    CHECK (pair->review_note && strcmp (pair->review_note, "father and son") == 0);
    CHECK (pair->reviewed_by && pair->reviewed_at > 0);
    pm__patients__duplicate_pair__free_unpacked (pair, NULL);
    CHECK (!s_listed (client, "north", a->id, b->id));
    CHECK (s_expect (client, "patients.DismissDuplicate", &dis.base, PM_ECONFLICT, NULL));
    CHECK (s_count_events (client, "patients.duplicate.dismissed") == 1);

    //  Still scored on demand, marked dismissed; an update does not raise
    //  it again.
    Pm__Patients__Duplicates *d = s_find (client, a->id);
    Pm__Patients__DuplicateCandidate *c = s_candidate (d, b->id);
    CHECK (c && c->likely && c->dismissed);
    pm__patients__duplicates__free_unpacked (d, NULL);
    Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
    patient_t patch = PM__PATIENTS__PATIENT__INIT;
    patch.preferred_language = "es";
    upd.id = b->id;
    upd.has_expected_version = 1;
    upd.expected_version = 1;
    upd.patient = &patch;
    CHECK (s_expect (client, "patients.Update", &upd.base, 0, NULL));
    CHECK (!s_listed (client, "north", a->id, b->id));

    //  Bad reads.
    Pm__Patients__FindDuplicates q = PM__PATIENTS__FIND_DUPLICATES__INIT;
    CHECK (s_expect (client, "patients.FindDuplicates", &q.base, PM_EINVAL, "patient_id"));
    q.patient_id = a->id;
    q.has_min_score = 1;
    q.min_score = 101;
    CHECK (s_expect (client, "patients.FindDuplicates", &q.base, PM_EINVAL, "min_score"));
    q.min_score = 0;
    q.has_max = 1;
    q.max = 51;
    CHECK (s_expect (client, "patients.FindDuplicates", &q.base, PM_EINVAL, "max"));
    q.patient_id = NULL;
    patient_t probe = PM__PATIENTS__PATIENT__INIT;
    q.probe = &probe;
    q.max = 5;
    CHECK (s_expect (client, "patients.FindDuplicates", &q.base, PM_EINVAL, "probe"));
    probe.birth_date = "1962-13-03";
    CHECK (s_expect (client, "patients.FindDuplicates", &q.base, PM_EINVAL,
                     "probe.birth_date"));
    Pm__Patients__DuplicateWorklist w = PM__PATIENTS__DUPLICATE_WORKLIST__INIT;
    CHECK (s_expect (client, "patients.DuplicateWorklist", &w.base, PM_EINVAL, "site_id"));
    w.site_id = "north";
    w.page_token = "zz";
    CHECK (s_expect (client, "patients.DuplicateWorklist", &w.base, PM_EINVAL,
                     "page_token"));

    pm__patients__patient__free_unpacked (a, NULL);
    pm__patients__patient__free_unpacked (b, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A busy site's worklist pages best first, every pair once.
static void
s_test_worklist_pages (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (s_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    //  Nine people registered twice each: the second time with a phone
    //  for a third of them (higher score).
    const char *families[] = {"Adeyemi", "Brennan", "Castillo", "Dubois", "Eriksen",
                              "Fischer", "Gonzaga", "Haddad", "Ivanova"};
    for (int i = 0; i < 9; i++) {
        s_form_t f;
        char phone[32];
        snprintf (phone, sizeof phone, "+44 20 7946 00%02d", i);
        s_form (&f, families[i], "Sam", "1970-01-01", phone, NULL);
        patient_t *p = s_register (client, &f);
        s_form (&f, families[i], "Sam", "1970-01-01", i % 3 == 0 ? phone : NULL, NULL);
        patient_t *q = s_register (client, &f);
        CHECK (p && q);
        pm__patients__patient__free_unpacked (p, NULL);
        pm__patients__patient__free_unpacked (q, NULL);
    }
    Pm__Patients__DuplicateWorklist w = PM__PATIENTS__DUPLICATE_WORKLIST__INIT;
    w.site_id = "north";
    w.has_page_size = 1;
    w.page_size = 4;
    int seen = 0;
    uint32_t last_score = 100;
    char token[1024] = "";
    for (int pages = 0; pages < 5; pages++) {
        w.page_token = token[0] ? token : NULL;
        Pm__Patients__DuplicateWorklistPage *page = s_fetch (
            client, "patients.DuplicateWorklist", &w.base,
            &pm__patients__duplicate_worklist_page__descriptor);
        CHECK (page);
        for (size_t i = 0; i < page->n_pairs; i++) {
            CHECK (page->pairs[i]->score <= last_score);
            last_score = page->pairs[i]->score;
            seen++;
        }
        snprintf (token, sizeof token, "%s",
                  page->next_page_token ? page->next_page_token : "");
        pm__patients__duplicate_worklist_page__free_unpacked (page, NULL);
        if (!token[0]) {
            break;
        }
    }
    //  Same family, given name and birth date: 9 pairs, no more (the
    //  families differ too much to pair across people).
    CHECK (seen == 9 && !token[0]);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Merge folds a duplicate into its survivor (links both ways, MRNs where
//  the survivor had none move over, the merged record inactive and still
//  readable); unmerge, even after a restart, gives back both records
//  exactly as they were, MRNs included. Both publish both full states.
static void
s_test_merge_unmerge_round_trip (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (s_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);

    s_form_t f;
    s_form (&f, "Nakamura", "Hiro", "1958-04-12", "+81 3 5555 0123", "hiro@example.jp");
    patient_t *a = s_register (client, &f); //  north M0000001
    Pm__Patients__SiteMrn legacy = PM__PATIENTS__SITE_MRN__INIT;
    Pm__Patients__SiteMrn *mrns[] = {&legacy};
    legacy.site_id = "north";
    legacy.mrn = "LEGACY-9";
    s_form (&f, "Nakamura", "Hiroshi", "1958-04-12", "03 5555 0123", NULL);
    snprintf (f.site, sizeof f.site, "south");
    f.p.n_mrns = 1;
    f.p.mrns = mrns;
    patient_t *b = s_register (client, &f); //  north LEGACY-9, south M0000001
    CHECK (a && b && b->n_mrns == 2);
    CHECK (s_listed (client, "north", a->id, b->id));

    Pm__Patients__Merge merge = PM__PATIENTS__MERGE__INIT;
    merge.survivor_id = a->id;
    merge.merged_id = b->id;
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_EINVAL, "reason"));
    merge.reason = "same passport";
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_EINVAL,
                     "survivor_expected_version"));
    merge.has_survivor_expected_version = merge.has_merged_expected_version = 1;
    merge.survivor_expected_version = 1;
    merge.merged_expected_version = 2;
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_ECONFLICT,
                     "merged_expected_version"));
    merge.merged_expected_version = 1;
    merge.merged_id = a->id;
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_EINVAL, "merged_id"));
    merge.merged_id = "pat_01m8e8rx5n3r2py41feft8x8rn";
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_ENOTFOUND, "merged_id"));
    merge.merged_id = b->id;
    Pm__Patients__MergeResult *res = s_fetch (client, "patients.Merge", &merge.base,
                                              &pm__patients__merge_result__descriptor);
    CHECK (res && res->survivor && res->merged);
    CHECK (res->survivor->version == 2 && res->merged->version == 2);
    CHECK (!res->merged->active && res->survivor->active);
    CHECK (s_link (res->survivor, PM__PATIENTS__LINK_TYPE__REPLACES)
           && strcmp (s_link (res->survivor, PM__PATIENTS__LINK_TYPE__REPLACES), b->id) == 0);
    CHECK (s_link (res->merged, PM__PATIENTS__LINK_TYPE__REPLACED_BY)
           && strcmp (s_link (res->merged, PM__PATIENTS__LINK_TYPE__REPLACED_BY), a->id) == 0);
    //  south's MRN moved; north's stays with the merged record.
    CHECK (s_mrn_at (res->survivor, "south")
           && strcmp (s_mrn_at (res->survivor, "south"), "M0000001") == 0);
    CHECK (res->merged->n_mrns == 1 && strcmp (s_mrn_at (res->merged, "north"), "LEGACY-9") == 0);
    CHECK (strcmp (res->survivor->name->given[0], "Hiro") == 0); //  survivor's data kept
    pm__patients__merge_result__free_unpacked (res, NULL);

    //  The event carries both full states.
    res = s_last_merge_event (client, "patients.patient.merged");
    CHECK (res && res->survivor && res->merged && strcmp (res->merged->id, b->id) == 0);
    CHECK (res->merged->version == 2 && res->reason && res->at > 0);
    pm__patients__merge_result__free_unpacked (res, NULL);

    //  Every id and MRN still resolves; clients follow the link.
    patient_t *got = s_get (client, b->id);
    CHECK (got && !got->active && s_link (got, PM__PATIENTS__LINK_TYPE__REPLACED_BY));
    pm__patients__patient__free_unpacked (got, NULL);
    got = s_get_mrn (client, "south", "M0000001");
    CHECK (got && strcmp (got->id, a->id) == 0);
    pm__patients__patient__free_unpacked (got, NULL);
    got = s_get_mrn (client, "north", "LEGACY-9");
    CHECK (got && strcmp (got->id, b->id) == 0);
    pm__patients__patient__free_unpacked (got, NULL);
    CHECK (!s_listed (client, "north", a->id, b->id));

    //  A merged record is history: no updates, no second merge either way.
    Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
    patient_t patch = PM__PATIENTS__PATIENT__INIT;
    patch.preferred_language = "ja";
    upd.id = b->id;
    upd.has_expected_version = 1;
    upd.expected_version = 2;
    upd.patient = &patch;
    CHECK (s_expect (client, "patients.Update", &upd.base, PM_ECONFLICT, "id"));
    merge.survivor_expected_version = merge.merged_expected_version = 2;
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_ECONFLICT, "merged_id"));
    merge.survivor_id = b->id;
    merge.merged_id = a->id;
    CHECK (s_expect (client, "patients.Merge", &merge.base, PM_ECONFLICT, "survivor_id"));

    //  The snapshots are durable. (Clients go before a restart: one still
    //  reconnecting may take the port the service binds again.)
    pm_client_destroy (&client);
    itest_signal (&svc, SIGTERM);
    CHECK (itest_start (&svc) == 0);
    client = itest_client (&svc);

    Pm__Patients__Unmerge un = PM__PATIENTS__UNMERGE__INIT;
    un.merged_id = a->id;
    un.reason = "different people: checked passports";
    un.has_survivor_expected_version = un.has_merged_expected_version = 1;
    un.survivor_expected_version = un.merged_expected_version = 2;
    CHECK (s_expect (client, "patients.Unmerge", &un.base, PM_ECONFLICT, "merged_id"));
    un.merged_id = b->id;
    un.survivor_expected_version = 1;
    CHECK (s_expect (client, "patients.Unmerge", &un.base, PM_ECONFLICT,
                     "survivor_expected_version"));
    un.survivor_expected_version = 2;
    res = s_fetch (client, "patients.Unmerge", &un.base,
                   &pm__patients__merge_result__descriptor);
    CHECK (res && res->survivor && res->merged);
    CHECK (res->survivor->version == 3 && res->merged->version == 3);
    CHECK (s_same_but_version (res->survivor, a));
    CHECK (s_same_but_version (res->merged, b));
    pm__patients__merge_result__free_unpacked (res, NULL);
    res = s_last_merge_event (client, "patients.patient.unmerged");
    CHECK (res && s_same_but_version (res->survivor, a) && s_same_but_version (res->merged, b));
    pm__patients__merge_result__free_unpacked (res, NULL);
    got = s_get_mrn (client, "south", "M0000001");
    CHECK (got && strcmp (got->id, b->id) == 0 && got->active);
    pm__patients__patient__free_unpacked (got, NULL);
    CHECK (s_expect (client, "patients.Unmerge", &un.base, PM_ECONFLICT, "merged_id"));

    //  Unmerging says they are two people: the pair is not raised again.
    CHECK (!s_listed (client, "north", a->id, b->id));
    Pm__Patients__Duplicates *d = s_find (client, a->id);
    Pm__Patients__DuplicateCandidate *c = s_candidate (d, b->id);
    CHECK (c && c->dismissed);
    pm__patients__duplicates__free_unpacked (d, NULL);

    //  Merge again, change the survivor: unmerge would lose that change,
    //  so it is refused until the change is undone.
    merge.survivor_id = a->id;
    merge.merged_id = b->id;
    merge.survivor_expected_version = merge.merged_expected_version = 3;
    CHECK (s_expect (client, "patients.Merge", &merge.base, 0, NULL));
    upd.id = a->id;
    upd.expected_version = 4;
    CHECK (s_expect (client, "patients.Update", &upd.base, 0, NULL));
    un.survivor_expected_version = 5;
    un.merged_expected_version = 4;
    CHECK (s_expect (client, "patients.Unmerge", &un.base, PM_ECONFLICT, "merged_id"));
    CHECK (s_count_events (client, "patients.patient.merged") == 2);
    CHECK (s_count_events (client, "patients.patient.unmerged") == 1);

    pm__patients__patient__free_unpacked (a, NULL);
    pm__patients__patient__free_unpacked (b, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  Consent and contact preferences: each change a new version with who,
//  when and what changed, an event with the full state for the senders,
//  the whole history readable; stale writes and bad values refused.
static void
s_test_consent_history (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (s_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    pm_client_set_actor (client, "desk-anna");
    s_form_t f;
    s_form (&f, "Osei", "Kwame", "1990-09-30", "+233 30 255 0101", NULL);
    patient_t *p = s_register (client, &f);
    CHECK (p);

    //  Nothing recorded: version 0, every answer "not asked".
    Pm__Patients__GetConsent get = PM__PATIENTS__GET_CONSENT__INIT;
    get.patient_id = p->id;
    Pm__Patients__Consent *c = s_fetch (client, "patients.GetConsent", &get.base,
                                        &pm__patients__consent__descriptor);
    CHECK (c && c->version == 0 && !c->has_reminders && c->n_channels == 0);
    pm__patients__consent__free_unpacked (c, NULL);

    Pm__Patients__SetConsent set = PM__PATIENTS__SET_CONSENT__INIT;
    Pm__Patients__Consent want = PM__PATIENTS__CONSENT__INIT;
    Pm__Patients__ContactSystem channels[] = {PM__PATIENTS__CONTACT_SYSTEM__SMS,
                                              PM__PATIENTS__CONTACT_SYSTEM__EMAIL};
    set.patient_id = p->id;
    set.consent = &want;
    want.n_channels = 2;
    want.channels = channels;
    want.has_reminders = 1;
    want.reminders = true;
    CHECK (s_expect (client, "patients.SetConsent", &set.base, PM_EINVAL,
                     "expected_version"));
    set.has_expected_version = 1;
    CHECK (s_expect (client, "patients.SetConsent", &set.base, PM_EINVAL, "source"));
    set.source = "paper form";
    char *bad_mask[] = {"marketing"};
    set.n_update_mask = 1;
    set.update_mask = bad_mask;
    CHECK (s_expect (client, "patients.SetConsent", &set.base, PM_EINVAL, "update_mask[0]"));
    set.n_update_mask = 0;
    Pm__Patients__ContactSystem twice[] = {PM__PATIENTS__CONTACT_SYSTEM__SMS,
                                           PM__PATIENTS__CONTACT_SYSTEM__SMS};
    want.channels = twice;
    CHECK (s_expect (client, "patients.SetConsent", &set.base, PM_EINVAL,
                     "consent.channels[1]"));
    want.channels = channels;
    set.patient_id = "pat_01m8e8rx5n3r2py41feft8x8rn";
    CHECK (s_expect (client, "patients.SetConsent", &set.base, PM_ENOTFOUND,
                     "patient_id"));
    set.patient_id = p->id;

    c = s_fetch (client, "patients.SetConsent", &set.base,
                 &pm__patients__consent__descriptor);
    CHECK (c && c->version == 1 && c->reminders && c->n_channels == 2);
    CHECK (c->updated_by && strcmp (c->updated_by, "desk-anna") == 0 && c->updated_at > 0);
    pm__patients__consent__free_unpacked (c, NULL);
    CHECK (s_expect (client, "patients.SetConsent", &set.base, PM_ECONFLICT,
                     "expected_version"));

    //  One answer changed, the rest kept.
    Pm__Patients__Consent research = PM__PATIENTS__CONSENT__INIT;
    research.has_research = 1;
    research.research = false;
    set.consent = &research;
    set.expected_version = 1;
    set.source = "phone call";
    c = s_fetch (client, "patients.SetConsent", &set.base,
                 &pm__patients__consent__descriptor);
    CHECK (c && c->version == 2 && c->has_research && !c->research);
    CHECK (c->reminders && c->n_channels == 2);
    pm__patients__consent__free_unpacked (c, NULL);
    //  Saying the same again changes nothing: no version, no event.
    set.expected_version = 2;
    c = s_fetch (client, "patients.SetConsent", &set.base,
                 &pm__patients__consent__descriptor);
    CHECK (c && c->version == 2);
    pm__patients__consent__free_unpacked (c, NULL);

    //  Withdrawn: no reminders, no channels (masked fields left unset).
    Pm__Patients__Consent none = PM__PATIENTS__CONSENT__INIT;
    none.has_reminders = 1;
    none.reminders = false;
    char *mask[] = {"reminders", "channels"};
    set.consent = &none;
    set.n_update_mask = 2;
    set.update_mask = mask;
    set.source = "portal";
    c = s_fetch (client, "patients.SetConsent", &set.base,
                 &pm__patients__consent__descriptor);
    CHECK (c && c->version == 3 && !c->reminders && c->n_channels == 0);
    pm__patients__consent__free_unpacked (c, NULL);

    //  The history, oldest first, paged.
    Pm__Patients__ConsentHistory hq = PM__PATIENTS__CONSENT_HISTORY__INIT;
    hq.patient_id = p->id;
    hq.has_page_size = 1;
    hq.page_size = 2;
    Pm__Patients__ConsentHistoryPage *h = s_fetch (
        client, "patients.ConsentHistory", &hq.base,
        &pm__patients__consent_history_page__descriptor);
    CHECK (h && h->n_changes == 2 && h->more);
    CHECK (h->changes[0]->consent->version == 1 && h->changes[0]->n_changed == 2);
    CHECK (strcmp (h->changes[1]->changed[0], "research") == 0 && h->changes[1]->n_changed == 1);
    CHECK (strcmp (h->changes[1]->consent->source, "phone call") == 0);
    CHECK (h->changes[0]->at > 0 && strcmp (h->changes[0]->actor, "desk-anna") == 0);
    pm__patients__consent_history_page__free_unpacked (h, NULL);
    hq.has_after_version = 1;
    hq.after_version = 2;
    h = s_fetch (client, "patients.ConsentHistory", &hq.base,
                 &pm__patients__consent_history_page__descriptor);
    CHECK (h && h->n_changes == 1 && !h->more && h->changes[0]->consent->version == 3);
    pm__patients__consent_history_page__free_unpacked (h, NULL);
    hq.page_size = 500;
    CHECK (s_expect (client, "patients.ConsentHistory", &hq.base, PM_EINVAL, "page_size"));

    //  Senders see each change with the full state.
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    int seen = 0;
    for (long i = 0; i < n; i++) {
        if (strcmp (events[i]->type, "patients.consent.changed") == 0) {
            Pm__Patients__Consent *e = pm__patients__consent__unpack (
                NULL, events[i]->data.len, events[i]->data.data);
            seen++;
            CHECK (e && strcmp (e->patient_id, p->id) == 0 && e->version == (uint64_t) seen);
            CHECK (strcmp (events[i]->subject, p->id) == 0);
            CHECK (seen != 3 || (!e->reminders && e->has_research && e->n_channels == 0));
            pm__patients__consent__free_unpacked (e, NULL);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    CHECK (seen == 3);
    pm__patients__patient__free_unpacked (p, NULL);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  The new commands are declared for their roles and check sites: a front
//  desk may not merge, a practice manager may not merge or read the
//  worklist of another site's patients, an auditor reads but never sets.
static void
s_test_roles_and_sites (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    CHECK (s_start (&svc) == 0);
    itest_principal ("desk-north", "front-desk", "north");
    itest_principal ("pm-north", "practice-manager", "north");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *admin = itest_client (&svc);
    pm_client_t *desk = itest_client_as (&svc, "desk-north");
    pm_client_t *mgr = itest_client_as (&svc, "pm-north");
    pm_client_t *aud = itest_client_as (&svc, "audrey");
    s_form_t f;
    s_form (&f, "Rossi", "Luca", "1977-07-07", "+39 06 5555 0199", NULL);
    snprintf (f.site, sizeof f.site, "south");
    patient_t *a = s_register (admin, &f);
    patient_t *b = s_register (admin, &f);
    CHECK (a && b);

    Pm__Patients__Merge merge = PM__PATIENTS__MERGE__INIT;
    merge.survivor_id = a->id;
    merge.merged_id = b->id;
    merge.reason = "same person";
    merge.has_survivor_expected_version = merge.has_merged_expected_version = 1;
    merge.survivor_expected_version = merge.merged_expected_version = 1;
    CHECK (s_expect (desk, "patients.Merge", &merge.base, PM_EFORBIDDEN, NULL));
    CHECK (s_expect (mgr, "patients.Merge", &merge.base, PM_EFORBIDDEN, "survivor_id"));
    Pm__Patients__DuplicateWorklist w = PM__PATIENTS__DUPLICATE_WORKLIST__INIT;
    w.site_id = "south";
    CHECK (s_expect (mgr, "patients.DuplicateWorklist", &w.base, PM_EFORBIDDEN, "site_id"));
    w.site_id = "north";
    CHECK (s_expect (mgr, "patients.DuplicateWorklist", &w.base, 0, NULL));
    Pm__Patients__GetConsent get = PM__PATIENTS__GET_CONSENT__INIT;
    get.patient_id = a->id;
    CHECK (s_expect (aud, "patients.GetConsent", &get.base, 0, NULL));
    CHECK (s_expect (desk, "patients.GetConsent", &get.base, PM_EFORBIDDEN, "patient_id"));
    Pm__Patients__SetConsent set = PM__PATIENTS__SET_CONSENT__INIT;
    Pm__Patients__Consent want = PM__PATIENTS__CONSENT__INIT;
    set.patient_id = a->id;
    set.has_expected_version = 1;
    set.consent = &want;
    set.source = "portal";
    want.has_reminders = 1;
    CHECK (s_expect (aud, "patients.SetConsent", &set.base, PM_EFORBIDDEN, NULL));
    //  Nothing above changed anything.
    CHECK (s_count_events (admin, "patients.patient.merged") == 0);
    CHECK (s_count_events (admin, "patients.consent.changed") == 0);

    pm__patients__patient__free_unpacked (a, NULL);
    pm__patients__patient__free_unpacked (b, NULL);
    pm_client_destroy (&admin);
    pm_client_destroy (&desk);
    pm_client_destroy (&mgr);
    pm_client_destroy (&aud);
    itest_cleanup (&svc);
}

//  --- patient experience ----------------------------------------------------

//  Appends an appointment event to the stand-in scheduling stream. `apt`
//  NULL: data that is not an appointment at all.
static bool
s_emit_apt (pm_client_t *ec, const char *type, const char *apt, const char *patient,
            const char *practitioner, const char *site, int64_t end)
{
    Pm__Scheduling__Appointment a = PM__SCHEDULING__APPOINTMENT__INIT;
    a.id = (char *) apt;
    a.patient_id = (char *) patient;
    a.practitioner_id = (char *) practitioner;
    a.site_id = (char *) site;
    a.type_id = "checkup";
    a.has_start = a.has_end = a.has_status = 1;
    a.start = end - 1800000;
    a.end = end;
    a.status = PM__SCHEDULING__APPOINTMENT_STATUS__APPOINTMENT_FULFILLED;
    uint8_t data[512];
    Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
    emit.type = (char *) type;
    emit.site_id = (char *) site;
    emit.subject = (char *) apt;
    emit.has_data = 1;
    emit.data.data = data;
    if (apt) {
        emit.data.len = pm__scheduling__appointment__pack (&a, data);
    }
    else {
        memcpy (data, "\x08\xff", 2); //  field 1 as a varint: not an Appointment
        emit.data.len = 2;
    }
    return s_expect (ec, "emitter.Emit", &emit.base, 0, NULL);
}

//  Waits until patients has applied scheduling's stream `stream` (any if
//  NULL) up to `seq`; the consumer's record then, or NULL (caller frees
//  the Health it came from through *health).
static Pm__ConsumerLag *
s_wait_applied (pm_client_t *pc, const char *stream, uint64_t seq, Pm__Health **health)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    *health = NULL;
    while (itest_now () < until) {
        pm__health__free_unpacked (*health, NULL);
        *health = itest_health (pc);
        for (size_t i = 0; *health && i < (*health)->n_consumers; i++) {
            Pm__ConsumerLag *c = (*health)->consumers[i];
            if (strcmp (c->source, "scheduling") == 0 && c->cursor >= seq
                && (!stream || strcmp (c->stream_id, stream) == 0)) {
                return c;
            }
        }
        zclock_sleep (10);
    }
    return NULL;
}

static char *
s_stream_id (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    char *id = h && h->stream_id ? strdup (h->stream_id) : NULL;
    pm__health__free_unpacked (h, NULL);
    return id;
}

static Pm__Patients__Survey *
s_survey_of (pm_client_t *pc, const char *apt)
{
    Pm__Patients__GetSurvey q = PM__PATIENTS__GET_SURVEY__INIT;
    q.appointment_id = (char *) apt;
    return s_fetch (pc, "patients.GetSurvey", &q.base, &pm__patients__survey__descriptor);
}

//  --------------------------------------------------------------------------
//  Every fulfilled appointment on scheduling's stream makes one survey,
//  whatever is re-sent or replayed (a restart, a replaced scheduling
//  store read again from seq 1); answers are scored per site and per
//  practitioner.
static void
s_test_surveys_from_fulfilled (void)
{
    itest_svc_t emi, pat;
    itest_svc_init (&emi, "scheduling", "pm_emitter");
    emi.env[0] = "PM_EMITTER_SERVICE=scheduling";
    itest_svc_init (&pat, "patients", "pm-patients");
    CHECK (s_start (&emi) == 0);
    itest_point_at (&pat, &emi);
    CHECK (s_start (&pat) == 0);
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *pc = itest_client (&pat);
    s_form_t f;
    s_form (&f, "Haddad", "Layla", "1984-03-15", NULL, NULL);
    patient_t *p = s_register (pc, &f);
    CHECK (p);
    char apt[5][PM_ID_MAX];
    for (int i = 0; i < 5; i++) {
        pm_id_new ("apt", pm_clock_wall_ms (), apt[i]);
    }
    int64_t t = pm_clock_wall_ms () - DAY_MS;
    const char *ful = "scheduling.appointment.fulfilled";
    CHECK (s_emit_apt (ec, "scheduling.appointment.booked", apt[0], p->id, "stf_x", "north", t));
    CHECK (s_emit_apt (ec, ful, apt[0], p->id, "stf_x", "north", t));
    CHECK (s_emit_apt (ec, ful, apt[0], p->id, "stf_x", "north", t)); //  re-sent
    CHECK (s_emit_apt (ec, ful, apt[1], p->id, "stf_y", "north", t + 3600000));
    CHECK (s_emit_apt (ec, ful, NULL, p->id, "stf_y", "north", t));   //  garbage
    CHECK (s_emit_apt (ec, ful, apt[2], p->id, "stf_x", "south", t));
    Pm__Health *h;
    Pm__ConsumerLag *lag = s_wait_applied (pc, NULL, 6, &h);
    CHECK (lag && lag->apply_failures == 1); //  logged and passed, not stuck
    pm__health__free_unpacked (h, NULL);
    CHECK (s_count_events (pc, "patients.survey.created") == 3);

    Pm__Patients__Survey *sv = s_survey_of (pc, apt[0]);
    CHECK (sv && sv->status == PM__PATIENTS__SURVEY_STATUS__SURVEY_OPEN && sv->version == 1);
    CHECK (strcmp (sv->patient_id, p->id) == 0 && strcmp (sv->practitioner_id, "stf_x") == 0);
    CHECK (sv->visit_end == t && strcmp (sv->site_id, "north") == 0);
    char survey0[PM_ID_MAX];
    snprintf (survey0, sizeof survey0, "%s", sv->id);
    pm__patients__survey__free_unpacked (sv, NULL);

    //  Answers: bad ones refused, one answer per survey.
    Pm__Patients__AnswerSurvey ans = PM__PATIENTS__ANSWER_SURVEY__INIT;
    ans.survey_id = survey0;
    ans.has_overall = ans.has_recommend = 1;
    ans.overall = 0;
    CHECK (s_expect (pc, "patients.AnswerSurvey", &ans.base, PM_EINVAL, "overall"));
    ans.overall = 5;
    ans.recommend = 11;
    CHECK (s_expect (pc, "patients.AnswerSurvey", &ans.base, PM_EINVAL, "recommend"));
    ans.recommend = 10;
    ans.survey_id = "svy_nope";
    CHECK (s_expect (pc, "patients.AnswerSurvey", &ans.base, PM_EINVAL, "survey_id"));
    ans.survey_id = survey0;
    ans.comment = "Kind staff, short wait.";
    sv = s_fetch (pc, "patients.AnswerSurvey", &ans.base, &pm__patients__survey__descriptor);
    CHECK (sv && sv->status == PM__PATIENTS__SURVEY_STATUS__SURVEY_ANSWERED);
    CHECK (sv->version == 2 && sv->overall == 5 && sv->answered_at > 0);
    pm__patients__survey__free_unpacked (sv, NULL);
    CHECK (s_expect (pc, "patients.AnswerSurvey", &ans.base, PM_ECONFLICT, "survey_id"));
    sv = s_survey_of (pc, apt[1]);
    CHECK (sv);
    ans.survey_id = sv->id;
    ans.overall = 2;
    ans.recommend = 3;
    ans.comment = NULL;
    CHECK (s_expect (pc, "patients.AnswerSurvey", &ans.base, 0, NULL));
    pm__patients__survey__free_unpacked (sv, NULL);

    //  The site's report: in all and per practitioner.
    Pm__Patients__SurveyReport rq = PM__PATIENTS__SURVEY_REPORT__INIT;
    rq.site_id = "north";
    rq.has_from = rq.has_to = 1;
    rq.from = t - DAY_MS;
    rq.to = t + DAY_MS;
    Pm__Patients__SurveyReportResult *r = s_fetch (
        pc, "patients.SurveyReport", &rq.base, &pm__patients__survey_report_result__descriptor);
    CHECK (r && r->total && r->total->surveys == 2 && r->total->responses == 2);
    CHECK (r->total->overall_avg_x100 == 350 && r->total->promoters == 1);
    CHECK (r->total->detractors == 1 && r->total->nps == 0);
    CHECK (r->n_by_practitioner == 2);
    CHECK (strcmp (r->by_practitioner[0]->practitioner_id, "stf_x") == 0);
    CHECK (r->by_practitioner[0]->nps == 100 && r->by_practitioner[0]->overall_avg_x100 == 500);
    CHECK (r->by_practitioner[1]->nps == -100 && r->by_practitioner[1]->overall_avg_x100 == 200);
    pm__patients__survey_report_result__free_unpacked (r, NULL);
    rq.from = t + 1; //  only the later visit
    r = s_fetch (pc, "patients.SurveyReport", &rq.base,
                 &pm__patients__survey_report_result__descriptor);
    CHECK (r && r->total->surveys == 1 && r->n_by_practitioner == 1);
    pm__patients__survey_report_result__free_unpacked (r, NULL);
    rq.to = rq.from;
    CHECK (s_expect (pc, "patients.SurveyReport", &rq.base, PM_EINVAL, "to"));
    rq.site_id = NULL;
    CHECK (s_expect (pc, "patients.SurveyReport", &rq.base, PM_EINVAL, "site_id"));

    //  Restart: the cursor is durable, nothing is made twice.
    pm_client_destroy (&pc);
    itest_signal (&pat, SIGTERM);
    CHECK (itest_start (&pat) == 0);
    pc = itest_client (&pat);
    CHECK (s_emit_apt (ec, ful, apt[3], p->id, "stf_y", "north", t));
    lag = s_wait_applied (pc, NULL, 7, &h);
    CHECK (lag);
    pm__health__free_unpacked (h, NULL);
    CHECK (s_count_events (pc, "patients.survey.created") == 4);

    //  Scheduling's store replaced: its new stream is read from seq 1 and
    //  an appointment seen before makes no second survey.
    //  (patients is down meanwhile: its follower, reconnecting, could take
    //  the port scheduling binds again.)
    char *old_stream = s_stream_id (ec);
    pm_client_destroy (&ec);
    pm_client_destroy (&pc);
    itest_signal (&pat, SIGTERM);
    itest_signal (&emi, SIGTERM);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", emi.dir);
    CHECK (system (cmd) == 0);
    CHECK (itest_start (&emi) == 0);
    CHECK (itest_start (&pat) == 0);
    ec = itest_client (&emi);
    pc = itest_client (&pat);
    char *new_stream = s_stream_id (ec);
    CHECK (old_stream && new_stream && strcmp (old_stream, new_stream) != 0);
    CHECK (s_emit_apt (ec, ful, apt[0], p->id, "stf_x", "north", t));
    CHECK (s_emit_apt (ec, ful, apt[4], p->id, "stf_x", "north", t));
    lag = s_wait_applied (pc, new_stream, 2, &h);
    CHECK (lag);
    pm__health__free_unpacked (h, NULL);
    CHECK (s_count_events (pc, "patients.survey.created") == 5);
    sv = s_survey_of (pc, apt[0]);
    CHECK (sv && sv->status == PM__PATIENTS__SURVEY_STATUS__SURVEY_ANSWERED);
    pm__patients__survey__free_unpacked (sv, NULL);
    free (old_stream);
    free (new_stream);

    pm__patients__patient__free_unpacked (p, NULL);
    pm_client_destroy (&ec);
    pm_client_destroy (&pc);
    itest_cleanup (&pat);
    itest_cleanup (&emi);
}

//  Restarts the service with its clock `days` ahead (the store persists)
//  and the service-level check every `check_ms`.
static int
s_restart_at (itest_svc_t *svc, pm_client_t **client, int days, int check_ms)
{
    static char offset[64], check[64];
    snprintf (offset, sizeof offset, "PM_CLOCK_OFFSET_MS=%lld", days * DAY_MS);
    snprintf (check, sizeof check, "PM_PATIENTS_SLA_CHECK_MS=%d", check_ms);
    svc->env[0] = check;
    svc->env[1] = offset;
    svc->env[2] = NULL;
    pm_client_destroy (client);
    itest_signal (svc, SIGTERM);
    if (itest_start (svc) != 0) {
        return -1;
    }
    *client = itest_client (svc);
    return 0;
}

//  Breach events in the stream: all, and of complaint `id` of `kind`.
static int
s_breaches (pm_client_t *client, const char *id, Pm__Patients__SlaKind kind)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    int count = 0;
    for (long i = 0; i < n; i++) {
        if (strcmp (events[i]->type, "patients.complaint.breached") == 0) {
            Pm__Patients__ComplaintBreach *b = pm__patients__complaint_breach__unpack (
                NULL, events[i]->data.len, events[i]->data.data);
            count += b && b->complaint
                     && (!id || (strcmp (b->complaint->id, id) == 0 && b->kind == kind));
            pm__patients__complaint_breach__free_unpacked (b, NULL);
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return n < 0 ? -1 : count;
}

//  Polls until the stream holds `want` breach events (bounded).
static bool
s_wait_breaches (pm_client_t *client, int want)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    int have;
    while ((have = s_breaches (client, NULL, 0)) < want && itest_now () < until) {
        zclock_sleep (10);
    }
    if (have != want) {
        fprintf (stderr, "    %d breach events, wanted %d\n", have, want);
    }
    return have == want;
}

static Pm__Patients__Complaint *
s_file_complaint (pm_client_t *pc, const char *patient, const char *summary)
{
    Pm__Patients__FileComplaint fc = PM__PATIENTS__FILE_COMPLAINT__INIT;
    fc.site_id = "north";
    fc.patient_id = (char *) patient;
    fc.summary = (char *) summary;
    return s_fetch (pc, "patients.FileComplaint", &fc.base,
                    &pm__patients__complaint__descriptor);
}

//  Moves a case on; the new state or NULL (and says why).
static Pm__Patients__Complaint *
s_advance (pm_client_t *pc, const char *id, uint64_t version,
           Pm__Patients__ComplaintStatus to, const char *note, const char *resolution)
{
    Pm__Patients__AdvanceComplaint a = PM__PATIENTS__ADVANCE_COMPLAINT__INIT;
    a.id = (char *) id;
    a.has_expected_version = a.has_to = 1;
    a.expected_version = version;
    a.to = to;
    a.note = (char *) note;
    a.resolution = (char *) resolution;
    return s_fetch (pc, "patients.AdvanceComplaint", &a.base,
                    &pm__patients__complaint__descriptor);
}

#define CS(x) PM__PATIENTS__COMPLAINT_STATUS__##x
#define ACK PM__PATIENTS__SLA_KIND__SLA_ACKNOWLEDGE
#define RES PM__PATIENTS__SLA_KIND__SLA_RESOLVE

//  --------------------------------------------------------------------------
//  Complaint cases: guarded transitions stamped with actor and time; the
//  site's service levels checked by the timer as days pass (the service
//  restarted with its clock moved on), each breach told once, also when
//  met late between two checks; the site's report.
static void
s_test_complaints_sla (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    svc.env[0] = "PM_PATIENTS_SLA_CHECK_MS=20";
    CHECK (s_start (&svc) == 0);
    pm_client_t *pc = itest_client (&svc);
    pm_client_set_actor (pc, "manager-maria");
    s_form_t f;
    s_form (&f, "Kowalski", "Piotr", "1969-12-24", NULL, NULL);
    patient_t *p = s_register (pc, &f);
    CHECK (p);

    //  Service levels: north 2 and 10 days; others the defaults.
    Pm__Patients__SetComplaintSla sla = PM__PATIENTS__SET_COMPLAINT_SLA__INIT;
    sla.site_id = "north";
    sla.has_acknowledge_days = sla.has_resolve_days = 1;
    sla.resolve_days = 10;
    CHECK (s_expect (pc, "patients.SetComplaintSla", &sla.base, PM_EINVAL, "acknowledge_days"));
    sla.acknowledge_days = 2;
    sla.resolve_days = 1;
    CHECK (s_expect (pc, "patients.SetComplaintSla", &sla.base, PM_EINVAL, "resolve_days"));
    sla.resolve_days = 10;
    CHECK (s_expect (pc, "patients.SetComplaintSla", &sla.base, 0, NULL));
    Pm__Patients__GetComplaintSla gs = PM__PATIENTS__GET_COMPLAINT_SLA__INIT;
    gs.site_id = "south";
    Pm__Patients__ComplaintSla *got = s_fetch (pc, "patients.GetComplaintSla", &gs.base,
                                               &pm__patients__complaint_sla__descriptor);
    CHECK (got && got->acknowledge_days == 3 && got->resolve_days == 30);
    pm__patients__complaint_sla__free_unpacked (got, NULL);

    //  Filing: bad input refused.
    Pm__Patients__FileComplaint fc = PM__PATIENTS__FILE_COMPLAINT__INIT;
    fc.site_id = "north";
    CHECK (s_expect (pc, "patients.FileComplaint", &fc.base, PM_EINVAL, "summary"));
    fc.summary = "Waited two hours";
    fc.patient_id = "pat_01m8e8rx5n3r2py41feft8x8rn";
    CHECK (s_expect (pc, "patients.FileComplaint", &fc.base, PM_ENOTFOUND, "patient_id"));
    fc.site_id = "no such site!";
    CHECK (s_expect (pc, "patients.FileComplaint", &fc.base, PM_EINVAL, "site_id"));

    Pm__Patients__Complaint *c1 = s_file_complaint (pc, p->id, "Rude on the phone");
    Pm__Patients__Complaint *c2 = s_file_complaint (pc, NULL, "Parking fee charged twice");
    Pm__Patients__Complaint *c3 = s_file_complaint (pc, p->id, "Results sent late");
    CHECK (c1 && c2 && c3 && c1->status == CS (RECEIVED) && c1->version == 1);
    CHECK (c1->acknowledge_due == c1->received_at + 2 * DAY_MS);
    CHECK (c1->resolve_due == c1->received_at + 10 * DAY_MS);
    CHECK (c1->n_history == 1 && strcmp (c1->history[0]->actor, "manager-maria") == 0);

    //  Guarded transitions.
    Pm__Patients__Complaint *c;
    Pm__Patients__AdvanceComplaint bad = PM__PATIENTS__ADVANCE_COMPLAINT__INIT;
    bad.id = c1->id;
    bad.has_to = 1;
    bad.to = CS (INVESTIGATING);
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_EINVAL, "expected_version"));
    bad.has_expected_version = 1;
    bad.expected_version = 1;
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_ECONFLICT, "to"));
    bad.to = CS (RECEIVED);
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_EINVAL, "to"));
    c = s_advance (pc, c1->id, 1, CS (ACKNOWLEDGED), "called back", NULL);
    CHECK (c && c->version == 2 && c->status == CS (ACKNOWLEDGED) && c->acknowledged_at > 0);
    CHECK (c->n_history == 2 && c->history[1]->from == CS (RECEIVED) && c->history[1]->at > 0);
    pm__patients__complaint__free_unpacked (c, NULL);
    bad.to = CS (RESOLVED);
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_ECONFLICT,
                     "expected_version"));
    bad.expected_version = 2;
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_EINVAL, "resolution"));
    c = s_advance (pc, c1->id, 2, CS (INVESTIGATING), NULL, NULL);
    CHECK (c && c->version == 3);
    pm__patients__complaint__free_unpacked (c, NULL);
    c = s_advance (pc, c3->id, 1, CS (ACKNOWLEDGED), NULL, NULL);
    pm__patients__complaint__free_unpacked (c, NULL);
    c = s_advance (pc, c3->id, 2, CS (RESOLVED), NULL, "Apologised; process fixed");
    CHECK (c && c->resolved_at > 0 && strcmp (c->resolution, "Apologised; process fixed") == 0);
    pm__patients__complaint__free_unpacked (c, NULL);
    bad.id = c3->id;
    bad.to = CS (INVESTIGATING);
    bad.expected_version = 3;
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_EINVAL, "note"));
    c = s_advance (pc, c3->id, 3, CS (CLOSED), NULL, NULL);
    CHECK (c && c->status == CS (CLOSED) && c->closed_at > 0);
    pm__patients__complaint__free_unpacked (c, NULL);
    bad.expected_version = 4;
    bad.to = CS (ACKNOWLEDGED);
    CHECK (s_expect (pc, "patients.AdvanceComplaint", &bad.base, PM_ECONFLICT, "to"));
    CHECK (s_breaches (pc, NULL, 0) == 0);

    //  Three days on: c2 was never acknowledged.
    CHECK (s_restart_at (&svc, &pc, 3, 20) == 0);
    CHECK (s_wait_breaches (pc, 1));
    CHECK (s_breaches (pc, c2->id, ACK) == 1);
    Pm__Patients__GetComplaint gc = PM__PATIENTS__GET_COMPLAINT__INIT;
    gc.id = c2->id;
    c = s_fetch (pc, "patients.GetComplaint", &gc.base, &pm__patients__complaint__descriptor);
    CHECK (c && c->acknowledge_breached && !c->resolve_breached && c->version == 2);
    pm__patients__complaint__free_unpacked (c, NULL);
    c = s_advance (pc, c2->id, 2, CS (ACKNOWLEDGED), NULL, NULL); //  late, told already
    CHECK (c && c->acknowledge_breached);
    pm__patients__complaint__free_unpacked (c, NULL);

    //  Eleven days on: c1 and c2 are not resolved. A sentinel is filed.
    CHECK (s_restart_at (&svc, &pc, 11, 20) == 0);
    CHECK (s_wait_breaches (pc, 3));
    CHECK (s_breaches (pc, c1->id, RES) == 1 && s_breaches (pc, c2->id, RES) == 1);
    Pm__Patients__Complaint *c5 = s_file_complaint (pc, NULL, "Sentinel");
    CHECK (c5);

    //  Fourteen days on: the sentinel's acknowledgement breaches; the
    //  timer passed every older due on the way and told nothing again.
    CHECK (s_restart_at (&svc, &pc, 14, 20) == 0);
    CHECK (s_wait_breaches (pc, 4));
    CHECK (s_breaches (pc, c5->id, ACK) == 1);
    CHECK (s_breaches (pc, c2->id, ACK) == 1 && s_breaches (pc, c1->id, RES) == 1);

    //  A case met late between two checks is told at that move, once.
    CHECK (s_restart_at (&svc, &pc, 14, 3600000) == 0);
    Pm__Patients__Complaint *c6 = s_file_complaint (pc, NULL, "Between two checks");
    CHECK (c6);
    CHECK (s_restart_at (&svc, &pc, 17, 3600000) == 0);
    c = s_advance (pc, c6->id, 1, CS (ACKNOWLEDGED), NULL, NULL);
    CHECK (c && c->acknowledge_breached);
    pm__patients__complaint__free_unpacked (c, NULL);
    CHECK (s_breaches (pc, c6->id, ACK) == 1 && s_breaches (pc, NULL, 0) == 5);
    c = s_advance (pc, c1->id, 4, CS (RESOLVED), NULL, "Retrained"); //  v4: the breach
    CHECK (c && c->resolve_breached);
    pm__patients__complaint__free_unpacked (c, NULL);
    CHECK (s_breaches (pc, NULL, 0) == 5);

    //  The site's report.
    Pm__Patients__ComplaintReport rq = PM__PATIENTS__COMPLAINT_REPORT__INIT;
    rq.site_id = "north";
    rq.has_from = rq.has_to = 1;
    rq.from = c1->received_at - 1000;
    rq.to = c1->received_at + 30 * DAY_MS;
    Pm__Patients__ComplaintReportResult *r = s_fetch (
        pc, "patients.ComplaintReport", &rq.base,
        &pm__patients__complaint_report_result__descriptor);
    CHECK (r && r->received == 5 && r->open == 3 && r->resolved == 2 && r->closed == 1);
    CHECK (r->acknowledged_in_time == 2 && r->acknowledge_breached == 3);
    CHECK (r->resolved_in_time == 1 && r->resolve_breached == 2);
    CHECK (r->avg_ms_to_acknowledge > 0 && r->avg_ms_to_resolve > 0);
    CHECK (r->sla && r->sla->acknowledge_days == 2 && r->sla->resolve_days == 10);
    pm__patients__complaint_report_result__free_unpacked (r, NULL);

    pm__patients__complaint__free_unpacked (c1, NULL);
    pm__patients__complaint__free_unpacked (c2, NULL);
    pm__patients__complaint__free_unpacked (c3, NULL);
    pm__patients__complaint__free_unpacked (c5, NULL);
    pm__patients__complaint__free_unpacked (c6, NULL);
    pm__patients__patient__free_unpacked (p, NULL);
    pm_client_destroy (&pc);
    itest_cleanup (&svc);
}

//  True when any event after `after` carries `needle` in its data.
static bool
s_stream_mentions (pm_client_t *client, uint64_t after, const char *needle, long *count)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    bool found = false;
    *count = 0;
    for (long i = 0; i < n; i++) {
        if (events[i]->seq > after) {
            (*count)++;
            found = found || memmem (events[i]->data.data, events[i]->data.len, needle,
                                     strlen (needle));
        }
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return found;
}

//  The stream's events as "seq type subject" lines, to compare.
static char *
s_stream_outline (pm_client_t *client)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    size_t cap = 64 + (size_t) (n > 0 ? n : 0) * 128, len = 0;
    char *out = calloc (1, cap);
    for (long i = 0; out && i < n; i++) {
        len += (size_t) snprintf (out + len, cap - len, "%llu %s %s\n",
                                  (unsigned long long) events[i]->seq, events[i]->type,
                                  events[i]->subject ? events[i]->subject : "-");
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    return out;
}

//  --------------------------------------------------------------------------
//  Erasure removes a patient's identifying data from the record, the
//  records it replaced, every index, their survey comments and complaint
//  texts; it waits for open complaints; scores, counts, consent and the
//  audit chain stay valid; new events and reads carry nothing identifying.
//  The older events are rewritten in place in bounded passes that go on
//  after a restart: then nothing in the stream names her, and every seq,
//  type and subject is where it was.
static void
s_test_erasure (void)
{
    itest_svc_t emi, pat;
    itest_svc_init (&emi, "scheduling", "pm_emitter");
    emi.env[0] = "PM_EMITTER_SERVICE=scheduling";
    itest_svc_init (&pat, "patients", "pm-patients");
    pat.env[0] = "PM_PATIENTS_REDACT_EVERY_MS=3600000"; //  no pass before the restart
    CHECK (s_start (&emi) == 0);
    itest_point_at (&pat, &emi);
    CHECK (s_start (&pat) == 0);
    pm_client_t *ec = itest_client (&emi);
    pm_client_t *pc = itest_client (&pat);

    s_form_t f;
    s_form (&f, "Lindqvist", "Greta", "1948-05-17", "+46 8 555 01234", "greta@example.se");
    patient_t *s = s_register (pc, &f);
    s_form (&f, "Lindqvist", "Greta", "1948-05-17", NULL, NULL);
    snprintf (f.site, sizeof f.site, "south");
    patient_t *m = s_register (pc, &f);
    CHECK (s && m);
    Pm__Patients__SetConsent sc = PM__PATIENTS__SET_CONSENT__INIT;
    Pm__Patients__Consent want = PM__PATIENTS__CONSENT__INIT;
    want.has_research = 1;
    want.research = true;
    sc.patient_id = s->id;
    sc.has_expected_version = 1;
    sc.consent = &want;
    sc.source = "portal";
    CHECK (s_expect (pc, "patients.SetConsent", &sc.base, 0, NULL));

    //  A visit with a survey answered in her words, and a complaint.
    char apt[PM_ID_MAX];
    pm_id_new ("apt", pm_clock_wall_ms (), apt);
    int64_t t = pm_clock_wall_ms () - DAY_MS;
    CHECK (s_emit_apt (ec, "scheduling.appointment.fulfilled", apt, s->id, "stf_x", "north",
                       t));
    Pm__Health *h;
    CHECK (s_wait_applied (pc, NULL, 1, &h));
    pm__health__free_unpacked (h, NULL);
    Pm__Patients__Survey *sv = s_survey_of (pc, apt);
    CHECK (sv);
    Pm__Patients__AnswerSurvey ans = PM__PATIENTS__ANSWER_SURVEY__INIT;
    ans.survey_id = sv->id;
    ans.has_overall = ans.has_recommend = 1;
    ans.overall = 4;
    ans.recommend = 9;
    ans.comment = "Greta Lindqvist here: the nurse was lovely";
    CHECK (s_expect (pc, "patients.AnswerSurvey", &ans.base, 0, NULL));
    pm__patients__survey__free_unpacked (sv, NULL);
    Pm__Patients__Complaint *cmp = s_file_complaint (pc, s->id, "Greta Lindqvist: lost letter");
    CHECK (cmp);

    Pm__Patients__Merge merge = PM__PATIENTS__MERGE__INIT;
    merge.survivor_id = s->id;
    merge.merged_id = m->id;
    merge.reason = "same person";
    merge.has_survivor_expected_version = merge.has_merged_expected_version = 1;
    merge.survivor_expected_version = merge.merged_expected_version = 1;
    CHECK (s_expect (pc, "patients.Merge", &merge.base, 0, NULL));

    //  Refusals change nothing.
    Pm__Patients__Erase er = PM__PATIENTS__ERASE__INIT;
    er.id = s->id;
    CHECK (s_expect (pc, "patients.Erase", &er.base, PM_EINVAL, "expected_version"));
    er.has_expected_version = 1;
    er.expected_version = 1;
    CHECK (s_expect (pc, "patients.Erase", &er.base, PM_EINVAL, "legal_basis"));
    er.legal_basis = "GDPR art. 17 request of 2026-11-20; no retention duty applies";
    CHECK (s_expect (pc, "patients.Erase", &er.base, PM_ECONFLICT, "expected_version"));
    er.expected_version = 2;
    er.id = m->id;
    CHECK (s_expect (pc, "patients.Erase", &er.base, PM_ECONFLICT, "id"));
    er.id = s->id;
    CHECK (s_expect (pc, "patients.Erase", &er.base, PM_ECONFLICT, "id")); //  open case
    patient_t *got = s_get (pc, s->id);
    CHECK (got && got->name && got->version == 2);
    pm__patients__patient__free_unpacked (got, NULL);
    Pm__Patients__Complaint *c = s_advance (pc, cmp->id, 1, CS (ACKNOWLEDGED), NULL, NULL);
    pm__patients__complaint__free_unpacked (c, NULL);
    c = s_advance (pc, cmp->id, 2, CS (RESOLVED), "called Greta", "Letter resent");
    pm__patients__complaint__free_unpacked (c, NULL);
    c = s_advance (pc, cmp->id, 3, CS (CLOSED), NULL, NULL);
    CHECK (c);
    pm__patients__complaint__free_unpacked (c, NULL);

    Pm__Patients__SurveyReport rq = PM__PATIENTS__SURVEY_REPORT__INIT;
    rq.site_id = "north";
    rq.has_from = rq.has_to = 1;
    rq.from = t - DAY_MS;
    rq.to = t + DAY_MS;
    Pm__Patients__SurveyReportResult *before = s_fetch (
        pc, "patients.SurveyReport", &rq.base, &pm__patients__survey_report_result__descriptor);
    CHECK (before && before->total->responses == 1);
    uint64_t seq_before;
    {
        Pm__Health *hh = itest_health (pc);
        CHECK (hh);
        seq_before = hh->high_seq;
        pm__health__free_unpacked (hh, NULL);
    }

    Pm__Patients__ErasureResult *res = s_fetch (pc, "patients.Erase", &er.base,
                                                &pm__patients__erasure_result__descriptor);
    CHECK (res && res->patient && res->patient->erased_at > 0);
    CHECK (!res->patient->name && !res->patient->birth_date && res->patient->n_telecom == 0);
    CHECK (res->patient->n_mrns == 0 && !res->patient->active && res->patient->version == 3);
    CHECK (strcmp (res->patient->home_site, "north") == 0);
    CHECK (res->n_also_erased == 1 && strcmp (res->also_erased[0], m->id) == 0);
    CHECK (res->surveys_redacted == 1 && res->complaints_redacted == 1);
    pm__patients__erasure_result__free_unpacked (res, NULL);
    CHECK (s_expect (pc, "patients.Erase", &er.base, PM_ECONFLICT, "id"));

    //  Reads show nothing identifying; ids and MRNs still resolve.
    got = s_get (pc, m->id);
    CHECK (got && got->erased_at > 0 && !got->name
           && s_link (got, PM__PATIENTS__LINK_TYPE__REPLACED_BY));
    pm__patients__patient__free_unpacked (got, NULL);
    got = s_get_mrn (pc, "north", "M0000001");
    CHECK (got && strcmp (got->id, s->id) == 0 && !got->name);
    pm__patients__patient__free_unpacked (got, NULL);
    Pm__Patients__Search q = PM__PATIENTS__SEARCH__INIT;
    q.family_prefix = "Lindq";
    q.has_include_inactive = q.include_inactive = 1;
    Pm__Patients__SearchResult *found = s_fetch (pc, "patients.Search", &q.base,
                                                 &pm__patients__search_result__descriptor);
    CHECK (found && found->n_patients == 0);
    pm__patients__search_result__free_unpacked (found, NULL);
    q.family_prefix = NULL;
    q.site_id = "north";
    q.mrn = "M0000001";
    found = s_fetch (pc, "patients.Search", &q.base, &pm__patients__search_result__descriptor);
    CHECK (found && found->n_patients == 0);
    pm__patients__search_result__free_unpacked (found, NULL);
    Pm__Patients__FindDuplicates fd = PM__PATIENTS__FIND_DUPLICATES__INIT;
    s_form (&f, "Lindqvist", "Greta", "1948-05-17", "+46 8 555 01234", "greta@example.se");
    fd.probe = &f.p;
    Pm__Patients__Duplicates *d = s_fetch (pc, "patients.FindDuplicates", &fd.base,
                                           &pm__patients__duplicates__descriptor);
    CHECK (d && d->n_candidates == 0);
    pm__patients__duplicates__free_unpacked (d, NULL);
    //  Her old chart number is never given to someone else.
    Pm__Patients__SiteMrn old = PM__PATIENTS__SITE_MRN__INIT;
    Pm__Patients__SiteMrn *olds[] = {&old};
    old.site_id = "north";
    old.mrn = "M0000001";
    s_form (&f, "Berg", "Ola", "1990-01-01", NULL, NULL);
    f.p.n_mrns = 1;
    f.p.mrns = olds;
    CHECK (s_expect (pc, "patients.Register", &f.reg.base, PM_ECONFLICT, "patient.mrns[0].mrn"));
    //  Erased and merged records take no changes; the merge is permanent.
    Pm__Patients__Unmerge un = PM__PATIENTS__UNMERGE__INIT;
    un.merged_id = m->id;
    un.reason = "undo";
    un.has_survivor_expected_version = un.has_merged_expected_version = 1;
    un.survivor_expected_version = un.merged_expected_version = 3;
    CHECK (s_expect (pc, "patients.Unmerge", &un.base, PM_ECONFLICT, "merged_id"));
    sc.expected_version = 1;
    CHECK (s_expect (pc, "patients.SetConsent", &sc.base, PM_ECONFLICT, "patient_id"));
    Pm__Patients__FileComplaint fc = PM__PATIENTS__FILE_COMPLAINT__INIT;
    fc.site_id = "north";
    fc.patient_id = s->id;
    fc.summary = "about an erased record";
    CHECK (s_expect (pc, "patients.FileComplaint", &fc.base, PM_ECONFLICT, "patient_id"));

    //  Scores and counts stay; her words are gone.
    sv = s_survey_of (pc, apt);
    CHECK (sv && !sv->comment && sv->overall == 4 && strcmp (sv->patient_id, s->id) == 0);
    pm__patients__survey__free_unpacked (sv, NULL);
    Pm__Patients__SurveyReportResult *after = s_fetch (
        pc, "patients.SurveyReport", &rq.base, &pm__patients__survey_report_result__descriptor);
    CHECK (after && after->total->responses == before->total->responses);
    CHECK (after->total->overall_avg_x100 == before->total->overall_avg_x100);
    pm__patients__survey_report_result__free_unpacked (before, NULL);
    pm__patients__survey_report_result__free_unpacked (after, NULL);
    Pm__Patients__GetComplaint gc = PM__PATIENTS__GET_COMPLAINT__INIT;
    gc.id = cmp->id;
    c = s_fetch (pc, "patients.GetComplaint", &gc.base, &pm__patients__complaint__descriptor);
    CHECK (c && strcmp (c->summary, "[erased]") == 0 && c->status == CS (CLOSED));
    CHECK (c->n_history == 4 && !c->history[2]->note && c->acknowledged_at > 0);
    pm__patients__complaint__free_unpacked (c, NULL);
    Pm__Patients__GetConsent gcs = PM__PATIENTS__GET_CONSENT__INIT;
    gcs.patient_id = s->id;
    Pm__Patients__Consent *cs = s_fetch (pc, "patients.GetConsent", &gcs.base,
                                         &pm__patients__consent__descriptor);
    CHECK (cs && cs->version == 1 && cs->research);
    pm__patients__consent__free_unpacked (cs, NULL);

    //  The stream: what was appended since carries nothing of hers; the
    //  older events still do until their rewriting has run.
    long fresh;
    CHECK (!s_stream_mentions (pc, seq_before, "Lindqvist", &fresh));
    CHECK (!s_stream_mentions (pc, seq_before, "Greta", &fresh));
    CHECK (!s_stream_mentions (pc, seq_before, "01234", &fresh));
    CHECK (fresh == 4); //  erased x2, survey.redacted, complaint.redacted
    CHECK (s_count_events (pc, "patients.patient.erased") == 2);
    CHECK (s_stream_mentions (pc, 0, "Lindqvist", &fresh));
    char *outline = s_stream_outline (pc);
    CHECK (outline);

    //  Restarted with passes of 3 events every 20 ms: the job kept in the
    //  store goes on, and ends with patients.patient.events_redacted.
    itest_signal (&pat, SIGTERM);
    pat.env[0] = "PM_PATIENTS_REDACT_EVERY_MS=20";
    pat.env[1] = "PM_PATIENTS_REDACT_PER_PASS=3";
    CHECK (itest_start (&pat) == 0);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (s_count_events (pc, "patients.patient.events_redacted") < 1 && itest_now () < until) {
        zclock_sleep (20);
    }
    CHECK (s_count_events (pc, "patients.patient.events_redacted") == 1);
    const char *her[] = {"Lindqvist", "Greta", "01234", "greta@example", "1948-05-17",
                         "nurse was lovely", "lost letter", "Letter resent", "same person"};
    for (size_t i = 0; i < sizeof her / sizeof her[0]; i++) {
        if (s_stream_mentions (pc, 0, her[i], &fresh)) {
            fprintf (stderr, "    the stream still says \"%s\"\n", her[i]);
            CHECK (false);
        }
    }
    char *redacted = s_stream_outline (pc);
    size_t kept = outline ? strlen (outline) : 0;
    CHECK (redacted && strncmp (redacted, outline, kept) == 0);
    //  ...and one more line: the completion, naming the survivor, with
    //  what it did (every event before it seen, the ones about her changed).
    Pm__Event **events;
    long n = itest_read_stream (pc, &events);
    CHECK (n == (long) seq_before + 5);
    Pm__Patients__EventRedaction *job = NULL;
    if (n > 0) {
        Pm__Event *last = events[n - 1];
        CHECK (strcmp (last->type, "patients.patient.events_redacted") == 0
               && strcmp (last->subject, s->id) == 0);
        job = pm__patients__event_redaction__unpack (NULL, last->data.len, last->data.data);
    }
    CHECK (job && job->n_patient_ids == 2 && job->completed_at >= job->erased_at);
    CHECK (job && job->events_seen == (uint64_t) n - 1 && job->next_seq == (uint64_t) n);
    //  registered x2, merged, answered, received, acknowledged, resolved,
    //  closed: 8 carried her data (consent and the created survey did not)
    CHECK (job && job->events_redacted == 8);
    pm__patients__event_redaction__free_unpacked (job, NULL);
    for (long i = 0; i < n; i++) {
        pm__event__free_unpacked (events[i], NULL);
    }
    if (n >= 0) {
        free (events);
    }
    free (outline);
    free (redacted);
    Pm__Reply *reply = itest_call (pc, "pm.AuditVerify", NULL);
    CHECK (s_ok (reply, 0, NULL));
    Pm__AuditVerdict *v = pm__audit_verdict__unpack (NULL, reply->body.len, reply->body.data);
    CHECK (v && v->ok && v->entries > 10);
    pm__audit_verdict__free_unpacked (v, NULL);
    pm__reply__free_unpacked (reply, NULL);

    pm__patients__complaint__free_unpacked (cmp, NULL);
    pm__patients__patient__free_unpacked (s, NULL);
    pm__patients__patient__free_unpacked (m, NULL);
    pm_client_destroy (&ec);
    pm_client_destroy (&pc);
    itest_cleanup (&pat);
    itest_cleanup (&emi);
}

static const itest_case_t s_cases[] = {
    {"erasure", s_test_erasure},
    {"surveys_from_fulfilled", s_test_surveys_from_fulfilled},
    {"complaints_sla", s_test_complaints_sla},
    {"consent_history", s_test_consent_history},
    {"roles_and_sites", s_test_roles_and_sites},
    {"merge_unmerge_round_trip", s_test_merge_unmerge_round_trip},
    {"duplicates_scored_and_listed", s_test_duplicates_scored},
    {"duplicates_dismissed", s_test_duplicates_dismissed},
    {"worklist_pages", s_test_worklist_pages},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
