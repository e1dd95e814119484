/*  test_staffing.c: the staffing service through its protocol: sites and
    resources, staff (and hires from recruitment's stream, exactly once),
    credentials and their escalations as the clock moves, rosters across
    DST, leave, training, bad input, and a consumer catching up on the
    staffing stream.

    Requests are written as JSON and turned into the command's protobuf
    message with the service's own schema (pm_json), so a test reads like
    the request an operator would send; replies and events are read back
    the same way.                                                         */
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "itest.h"
#include "pm_test.pb-c.h"
#include "recruitment.pb-c.h"
#include "staffing_schema.h"

//  --- helpers -----------------------------------------------------------------

static long long
s_int (json_t *j, const char *path)
{
    return (long long) json_integer_value (itest_json_at (j, path));
}

static size_t
s_len (json_t *j, const char *path)
{
    return json_array_size (itest_json_at (j, path));
}

//  The stream as JSON: [{seq, type, subject, site_id, data}], data decoded
//  with the schema's message for the type. Caller decrefs.
static json_t *
s_stream (pm_client_t *client)
{
    Pm__Event **events;
    long n = itest_read_stream (client, &events);
    if (n < 0) {
        return NULL;
    }
    json_t *out = json_array ();
    for (long i = 0; i < n; i++) {
        const pm_event_def_t *def = pm_schema_event (&staffing_schema, events[i]->type);
        json_t *data = def && def->data ? pm_json_from_pb (def->data, events[i]->data.data,
                                                           events[i]->data.len)
                                        : json_object ();
        json_array_append_new (out, json_pack ("{s:I, s:s, s:s?, s:s?, s:o}",
                                               "seq", (json_int_t) events[i]->seq,
                                               "type", events[i]->type, "subject",
                                               events[i]->subject, "site_id",
                                               events[i]->site_id, "data",
                                               data ? data : json_null ()));
        pm__event__free_unpacked (events[i], NULL);
    }
    free (events);
    return out;
}

//  How many events of `type` the stream holds.
static int
s_count (json_t *stream, const char *type)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach (stream, i, e) {
        n += strcmp (itest_json_str (e, "type"), type) == 0;
    }
    return n;
}

//  The last event of `type` (borrowed), or NULL.
static json_t *
s_last (json_t *stream, const char *type)
{
    json_t *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach (stream, i, e) {
        if (strcmp (itest_json_str (e, "type"), type) == 0) {
            found = e;
        }
    }
    return found;
}

static uint64_t
s_high_seq (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t seq = h ? h->high_seq : (uint64_t) -1;
    pm__health__free_unpacked (h, NULL);
    return seq;
}

//  Starts `svc` again. It asks for the ports it had, which the kernel
//  chose from its ephemeral range: another process on the host may have
//  been given one of them since (an outgoing connection). Then it starts
//  on new ports: callers make new clients after any restart.
static int
s_start_again (itest_svc_t *svc)
{
    if (itest_start (svc) == 0) {
        return 0;
    }
    fprintf (stderr, "    (%s: its ports were taken meanwhile: new ones)\n",
             svc->service);
    svc->commands[0] = svc->events[0] = 0;
    return itest_start (svc);
}

//  A client that runs as principal `name` (role, sites), made in the
//  test's key store; the process goes back to being "admin" after.
static pm_client_t *
s_client_as (itest_svc_t *svc, const char *name, const char *role,
             const char *sites)
{
    if (pm_keys_ensure (name, role, sites) != PM_OK) {
        return NULL;
    }
    pm_keys_set_identity (name);
    pm_client_t *client = itest_client (svc);
    pm_keys_set_identity ("admin");
    return client;
}

//  Creates site `id` in `zone` (open Mon-Fri 08:00-18:00, a closure on
//  2026-12-25, USD).
static bool
s_site (pm_client_t *client, const char *id, const char *zone)
{
    json_t *r = itest_req (client, 0, NULL, "staffing.CreateSite",
                       "{\"site\": {\"id\": \"%s\", \"name\": \"Clinic %s\", "
                       "\"time_zone\": \"%s\", \"currency\": \"USD\", "
                       "\"opening_hours\": [{\"weekday\": 1, \"opens\": \"08:00\", "
                       "\"closes\": \"18:00\"}, {\"weekday\": 2, \"opens\": \"08:00\", "
                       "\"closes\": \"18:00\"}, {\"weekday\": 3, \"opens\": \"08:00\", "
                       "\"closes\": \"18:00\"}, {\"weekday\": 4, \"opens\": \"08:00\", "
                       "\"closes\": \"18:00\"}, {\"weekday\": 5, \"opens\": \"08:00\", "
                       "\"closes\": \"18:00\"}], \"closures\": [{\"date\": "
                       "\"2026-12-25\", \"reason\": \"Christmas Day\"}], "
                       "\"policy\": {\"late_cancel_minutes\": 1440, "
                       "\"no_show_grace_minutes\": 15}}}",
                       id, id, zone);
    bool ok = r != NULL;
    json_decref (r);
    return ok;
}

//  --- sites and resources --------------------------------------------------------

//  Create, read, update (versioned), close and reopen a site; add, list
//  and retire resources; each change is one event with the full state.
static void
s_test_sites_and_resources (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));

    json_t *site = itest_req (c, 0, NULL, "staffing.GetSite", "{\"site_id\": \"north\"}");
    CHECK (site);
    CHECK (strcmp (itest_json_str (site, "time_zone"), "America/New_York") == 0);
    CHECK (strcmp (itest_json_str (site, "status"), "SITE_OPEN") == 0);
    CHECK (s_int (site, "version") == 1 && s_len (site, "opening_hours") == 5);
    CHECK (s_int (site, "policy.late_cancel_minutes") == 1440);
    CHECK (s_int (site, "policy.no_show_grace_minutes") == 15);
    CHECK (strcmp (itest_json_str (site, "closures[0].reason"), "Christmas Day") == 0);
    json_decref (site);

    //  The same id twice is refused.
    json_t *r = itest_req (c, PM_ECONFLICT, "site.id", "staffing.CreateSite",
                       "{\"site\": {\"id\": \"north\", \"name\": \"Again\", "
                       "\"time_zone\": \"UTC\", \"currency\": \"USD\"}}");
    CHECK (r);
    json_decref (r);

    //  Update: move to Berlin and euros, open Saturdays too.
    r = itest_req (c, 0, NULL, "staffing.UpdateSite",
               "{\"expected_version\": 1, \"site\": {\"id\": \"north\", \"name\": "
               "\"Nord\", \"time_zone\": \"Europe/Berlin\", \"currency\": \"EUR\", "
               "\"opening_hours\": [{\"weekday\": 6, \"opens\": \"09:00\", "
               "\"closes\": \"13:00\"}], \"policy\": {\"late_cancel_minutes\": 120}}}");
    CHECK (r && s_int (r, "version") == 2);
    CHECK (strcmp (itest_json_str (r, "time_zone"), "Europe/Berlin") == 0);
    CHECK (strcmp (itest_json_str (r, "currency"), "EUR") == 0 && s_len (r, "closures") == 0);
    json_decref (r);
    //  The same update again is stale.
    r = itest_req (c, PM_ECONFLICT, "expected_version", "staffing.UpdateSite",
               "{\"expected_version\": 1, \"site\": {\"id\": \"north\", \"name\": "
               "\"Nord\", \"time_zone\": \"Europe/Berlin\", \"currency\": \"EUR\"}}");
    CHECK (r);
    json_decref (r);

    //  Close and reopen, each with a reason.
    r = itest_req (c, PM_EINVAL, "reason", "staffing.CloseSite", "{\"site_id\": \"north\"}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.CloseSite",
               "{\"site_id\": \"north\", \"reason\": \"flood\"}");
    CHECK (r && strcmp (itest_json_str (r, "status"), "SITE_CLOSED") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, NULL, "staffing.CloseSite",
               "{\"site_id\": \"north\", \"reason\": \"again\"}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ReopenSite",
               "{\"site_id\": \"north\", \"reason\": \"dry\"}");
    CHECK (r && strcmp (itest_json_str (r, "status"), "SITE_OPEN") == 0 && s_int (r, "version") == 4);
    json_decref (r);

    //  Resources: two rooms and an ultrasound; list by kind; retire one.
    const char *kinds[] = {"exam-room", "exam-room", "ultrasound"};
    char ids[3][PM_ID_MAX];
    for (int i = 0; i < 3; i++) {
        r = itest_req (c, 0, NULL, "staffing.AddResource",
                   "{\"resource\": {\"site_id\": \"north\", \"name\": \"R%d\", "
                   "\"category\": \"%s\", \"kind\": \"%s\"}}",
                   i, i == 2 ? "EQUIPMENT" : "ROOM", kinds[i]);
        CHECK (r && pm_id_valid (itest_json_str (r, "id"), "res"));
        CHECK (json_is_true (itest_json_at (r, "active")));
        snprintf (ids[i], PM_ID_MAX, "%s", itest_json_str (r, "id"));
        json_decref (r);
    }
    r = itest_req (c, 0, NULL, "staffing.ListResources",
               "{\"site_id\": \"north\", \"kind\": \"exam-room\"}");
    CHECK (r && s_len (r, "resources") == 2);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.UpdateResource",
               "{\"expected_version\": 1, \"resource\": {\"id\": \"%s\", \"name\": "
               "\"R0\", \"category\": \"ROOM\", \"kind\": \"exam-room\", "
               "\"active\": false}}", ids[0]);
    CHECK (r && s_int (r, "version") == 2 && json_is_false (itest_json_at (r, "active")));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListResources",
               "{\"site_id\": \"north\", \"kind\": \"exam-room\"}");
    CHECK (r && s_len (r, "resources") == 1);
    CHECK (strcmp (itest_json_str (r, "resources[0].id"), ids[1]) == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListResources",
               "{\"site_id\": \"north\", \"include_inactive\": true}");
    CHECK (r && s_len (r, "resources") == 3);
    json_decref (r);

    //  The stream: one event per change, each with the full new state.
    json_t *events = s_stream (c);
    CHECK (events && json_array_size (events) == 8);
    const char *types[] = {"staffing.site.created", "staffing.site.updated",
                           "staffing.site.closed", "staffing.site.reopened",
                           "staffing.resource.added", "staffing.resource.added",
                           "staffing.resource.added", "staffing.resource.updated"};
    for (size_t i = 0; i < 8; i++) {
        json_t *e = json_array_get (events, i);
        CHECK (strcmp (itest_json_str (e, "type"), types[i]) == 0);
        CHECK (strcmp (itest_json_str (e, "site_id"), "north") == 0);
    }
    CHECK (strcmp (itest_json_str (json_array_get (events, 2), "data.status_reason"), "flood") == 0);
    CHECK (strcmp (itest_json_str (json_array_get (events, 1), "data.time_zone"), "Europe/Berlin")
           == 0);
    json_decref (events);

    //  A practice manager of another site may read but not change it.
    pm_client_t *south = s_client_as (&svc, "mgr-south", "practice-manager", "south");
    CHECK (south);
    r = itest_req (south, 0, NULL, "staffing.GetSite", "{\"site_id\": \"north\"}");
    CHECK (r);
    json_decref (r);
    r = itest_req (south, PM_EFORBIDDEN, NULL, "staffing.CloseSite",
               "{\"site_id\": \"north\", \"reason\": \"not mine\"}");
    CHECK (r);
    json_decref (r);
    r = itest_req (south, PM_EFORBIDDEN, NULL, "staffing.CreateSite",
               "{\"site\": {\"id\": \"south\", \"name\": \"S\", \"time_zone\": "
               "\"UTC\", \"currency\": \"USD\"}}");
    CHECK (r);
    json_decref (r);
    pm_client_destroy (&south);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Bad site input is refused with the field named; nothing is written.
static void
s_test_site_bad_input (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    struct {
        const char *site; //  the "site" object
        const char *field;
    } cases[] = {
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"Mars/Olympus_Mons\", "
         "\"currency\": \"USD\"", "site.time_zone"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"Europe/Berln\", "
         "\"currency\": \"USD\"", "site.time_zone"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"../../etc/passwd\", "
         "\"currency\": \"USD\"", "site.time_zone"},
        {"\"id\": \"x\", \"name\": \"X\", \"currency\": \"USD\"", "site.time_zone"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"usd\"",
         "site.currency"},
        {"\"id\": \"North Site\", \"name\": \"X\", \"time_zone\": \"UTC\", "
         "\"currency\": \"USD\"", "site.id"},
        {"\"id\": \"x\", \"time_zone\": \"UTC\", \"currency\": \"USD\"", "site.name"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"opening_hours\": [{\"weekday\": 1, \"opens\": \"18:00\", \"closes\": "
         "\"08:00\"}]", "site.opening_hours[0].closes"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"opening_hours\": [{\"weekday\": 8, \"opens\": \"08:00\", \"closes\": "
         "\"12:00\"}]", "site.opening_hours[0].weekday"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"opening_hours\": [{\"weekday\": 1, \"opens\": \"08:00\", \"closes\": "
         "\"12:00\"}, {\"weekday\": 1, \"opens\": \"11:00\", \"closes\": \"14:00\"}]",
         "site.opening_hours[1]"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"opening_hours\": [{\"weekday\": 1, \"opens\": \"8am\", \"closes\": "
         "\"12:00\"}]", "site.opening_hours[0].opens"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"closures\": [{\"date\": \"2026-02-30\"}]", "site.closures[0].date"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"policy\": {\"no_show_grace_minutes\": 5000}",
         "site.policy.no_show_grace_minutes"},
        {"\"id\": \"x\", \"name\": \"X\", \"time_zone\": \"UTC\", \"currency\": \"USD\", "
         "\"version\": 3", "site.version"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = itest_req (c, PM_EINVAL, cases[i].field, "staffing.CreateSite",
                           "{\"site\": {%s}}", cases[i].site);
        if (!r) {
            fprintf (stderr, "    case %zu\n", i);
        }
        CHECK (r && strstr (itest_json_str (r, "message"), cases[i].field));
        json_decref (r);
    }
    //  Unknown sites and bad resources.
    json_t *r = itest_req (c, PM_ENOTFOUND, "site_id", "staffing.GetSite",
                       "{\"site_id\": \"nowhere\"}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "resource.site_id", "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"nowhere\", \"name\": \"R\", "
               "\"category\": \"ROOM\", \"kind\": \"exam-room\"}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_site (c, "north", "UTC"));
    r = itest_req (c, PM_EINVAL, "resource.kind", "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"north\", \"name\": \"R\", "
               "\"category\": \"ROOM\", \"kind\": \"Exam Room\"}}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "resource.category", "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"north\", \"name\": \"R\", "
               "\"kind\": \"exam-room\"}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_high_seq (c) == 1); //  only the good site
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- staff ------------------------------------------------------------------

//  Onboards a staff member from JSON fields of Staff (without braces);
//  returns their id in `id` (PM_ID_MAX) or false.
static bool
s_onboard (pm_client_t *c, char *id, const char *fields)
{
    json_t *r = itest_req (c, 0, NULL, "staffing.Onboard",
                       "{\"staff\": {\"name\": {\"family\": \"Doe\", \"given\": "
                       "[\"Jo\"]}, \"employment_type\": \"FULL_TIME\", "
                       "\"pay_rate_minor\": 5000, \"currency\": \"USD\", %s}}",
                       fields);
    if (r) {
        snprintf (id, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    json_decref (r);
    return r != NULL && pm_id_valid (id, "stf");
}

//  Onboard, read, list (by site, role, in pages), update (versioned) and
//  terminate; each change one event with the full state.
static void
s_test_staff_lifecycle (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    CHECK (s_site (c, "south", "America/Chicago"));

    char ana[PM_ID_MAX], ids[5][PM_ID_MAX];
    json_t *r = itest_req (c, 0, NULL, "staffing.Onboard",
                       "{\"staff\": {\"name\": {\"family\": \"Silva\", \"given\": "
                       "[\"Ana\"], \"prefix\": \"Dr\"}, \"email\": \"ana@example.org\", "
                       "\"phone\": \"+1 555 0100\", \"roles\": [\"physician\", "
                       "\"practice-manager\"], \"sites\": [{\"site_id\": \"north\", "
                       "\"fte_permille\": 800}, {\"site_id\": \"south\", "
                       "\"fte_permille\": 200}], \"employment_type\": \"FULL_TIME\", "
                       "\"pay_rate_minor\": 12000, \"currency\": \"USD\", "
                       "\"start_date\": \"2026-01-05\"}}");
    CHECK (r && pm_id_valid (itest_json_str (r, "id"), "stf"));
    CHECK (s_int (r, "version") == 1 && strcmp (itest_json_str (r, "status"), "ACTIVE") == 0);
    CHECK (s_int (r, "sites[1].fte_permille") == 200 && s_int (r, "pay_rate_minor") == 12000);
    snprintf (ana, sizeof ana, "%s", itest_json_str (r, "id"));
    json_decref (r);
    for (int i = 0; i < 5; i++) {
        char fields[256];
        snprintf (fields, sizeof fields,
                  "\"roles\": [\"%s\"], \"sites\": [{\"site_id\": \"north\", "
                  "\"fte_permille\": 1000}], \"start_date\": \"2026-02-0%d\"",
                  i % 2 ? "nurse" : "front-desk", i + 1);
        CHECK (s_onboard (c, ids[i], fields));
    }
    //  By site and role; south has only Ana.
    r = itest_req (c, 0, NULL, "staffing.ListStaff",
               "{\"site_id\": \"north\", \"role\": \"nurse\"}");
    CHECK (r && s_len (r, "staff") == 2);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListStaff", "{\"site_id\": \"south\"}");
    CHECK (r && s_len (r, "staff") == 1 && strcmp (itest_json_str (r, "staff[0].id"), ana) == 0);
    json_decref (r);
    //  Pages of two over north's six, each person once.
    char token[PM_ID_MAX] = "";
    int seen = 0, pages = 0;
    do {
        r = itest_req (c, 0, NULL, "staffing.ListStaff",
                   "{\"site_id\": \"north\", \"page_size\": 2%s%s%s}",
                   token[0] ? ", \"page_token\": \"" : "", token, token[0] ? "\"" : "");
        CHECK (r);
        seen += (int) s_len (r, "staff");
        snprintf (token, sizeof token, "%s", itest_json_str (r, "next_page_token"));
        json_decref (r);
        pages++;
    } while (token[0] && pages < 10);
    CHECK (seen == 6 && pages == 3);

    //  Update: a raise and a new phone; stale versions are refused.
    const char *update = "{\"expected_version\": %d, \"staff\": {\"id\": \"%s\", "
                         "\"name\": {\"family\": \"Silva\", \"given\": [\"Ana\"]}, "
                         "\"roles\": [\"physician\"], \"sites\": [{\"site_id\": "
                         "\"north\", \"fte_permille\": 1000}], \"employment_type\": "
                         "\"FULL_TIME\", \"pay_rate_minor\": 13000, \"currency\": "
                         "\"USD\", \"start_date\": \"2026-01-05\"}}";
    r = itest_req (c, 0, NULL, "staffing.UpdateStaff", update, 1, ana);
    CHECK (r && s_int (r, "version") == 2 && s_int (r, "pay_rate_minor") == 13000);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "expected_version", "staffing.UpdateStaff", update, 1, ana);
    CHECK (r);
    json_decref (r);
    //  She left south: south lists nobody now.
    r = itest_req (c, 0, NULL, "staffing.ListStaff", "{\"site_id\": \"south\"}");
    CHECK (r && s_len (r, "staff") == 0);
    json_decref (r);

    //  Terminate: not before the start date; then the record is final.
    r = itest_req (c, PM_EINVAL, "end_date", "staffing.Terminate",
               "{\"staff_id\": \"%s\", \"end_date\": \"2025-12-31\", "
               "\"reason\": \"moved\"}", ana);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.Terminate",
               "{\"staff_id\": \"%s\", \"end_date\": \"2026-06-30\", "
               "\"reason\": \"moved\"}", ana);
    CHECK (r && strcmp (itest_json_str (r, "status"), "TERMINATED") == 0);
    CHECK (strcmp (itest_json_str (r, "end_date"), "2026-06-30") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, NULL, "staffing.Terminate",
               "{\"staff_id\": \"%s\", \"end_date\": \"2026-06-30\", "
               "\"reason\": \"again\"}", ana);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, NULL, "staffing.UpdateStaff", update, 3, ana);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListStaff",
               "{\"site_id\": \"north\", \"role\": \"physician\"}");
    CHECK (r && s_len (r, "staff") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListStaff",
               "{\"site_id\": \"north\", \"role\": \"physician\", "
               "\"include_terminated\": true}");
    CHECK (r && s_len (r, "staff") == 1);
    json_decref (r);

    json_t *events = s_stream (c);
    CHECK (events && s_count (events, "staffing.staff.onboarded") == 6);
    CHECK (s_count (events, "staffing.staff.updated") == 1);
    CHECK (s_count (events, "staffing.staff.terminated") == 1);
    json_t *e = s_last (events, "staffing.staff.terminated");
    CHECK (strcmp (itest_json_str (e, "subject"), ana) == 0 && strcmp (itest_json_str (e, "site_id"), "north") == 0);
    CHECK (strcmp (itest_json_str (e, "data.termination_reason"), "moved") == 0);
    json_decref (events);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Bad staff input is refused with the field named; nothing is written.
static void
s_test_staff_bad_input (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "UTC"));
    const char *ok_name = "\"name\": {\"family\": \"Doe\", \"given\": [\"Jo\"]}";
    const char *ok_rest = "\"employment_type\": \"FULL_TIME\", \"pay_rate_minor\": 5000, "
                          "\"currency\": \"USD\", \"start_date\": \"2026-01-01\"";
    const char *ok_site = "\"sites\": [{\"site_id\": \"north\", \"fte_permille\": 1000}]";
    struct {
        const char *name, *roles, *sites, *rest;
        int code;
        const char *field;
    } cases[] = {
        {ok_name, "[\"nurse\"]", "\"sites\": [{\"site_id\": \"nowhere\", "
         "\"fte_permille\": 1000}]", ok_rest, PM_ENOTFOUND, "staff.sites[0].site_id"},
        {ok_name, "[]", ok_site, ok_rest, PM_EINVAL, "staff.roles"},
        {ok_name, "[\"Head Nurse\"]", ok_site, ok_rest, PM_EINVAL, "staff.roles[0]"},
        {ok_name, "[\"nurse\"]", "\"sites\": []", ok_rest, PM_EINVAL, "staff.sites"},
        {ok_name, "[\"nurse\"]", "\"sites\": [{\"site_id\": \"north\", "
         "\"fte_permille\": 1200}]", ok_rest, PM_EINVAL, "staff.sites[0].fte_permille"},
        {"\"name\": {\"family\": \"Doe\"}", "[\"nurse\"]", ok_site, ok_rest, PM_EINVAL,
         "staff.name.given"},
        {ok_name, "[\"nurse\"]", ok_site,
         "\"pay_rate_minor\": 5000, \"currency\": \"USD\", \"start_date\": \"2026-01-01\"",
         PM_EINVAL, "staff.employment_type"},
        {ok_name, "[\"nurse\"]", ok_site,
         "\"employment_type\": \"LOCUM\", \"pay_rate_minor\": -1, \"currency\": \"USD\", "
         "\"start_date\": \"2026-01-01\"", PM_EINVAL, "staff.pay_rate_minor"},
        {ok_name, "[\"nurse\"]", ok_site,
         "\"employment_type\": \"LOCUM\", \"pay_rate_minor\": 1, \"currency\": \"USD\", "
         "\"start_date\": \"2026-13-01\"", PM_EINVAL, "staff.start_date"},
        {ok_name, "[\"nurse\"]", ok_site,
         "\"employment_type\": \"LOCUM\", \"pay_rate_minor\": 1, \"currency\": \"USD\", "
         "\"start_date\": \"2026-01-01\", \"email\": \"jo@\"", PM_EINVAL, "staff.email"},
        {ok_name, "[\"nurse\"]", ok_site,
         "\"employment_type\": \"LOCUM\", \"pay_rate_minor\": 1, \"currency\": \"USD\", "
         "\"start_date\": \"2026-01-01\", \"status\": \"ACTIVE\"", PM_EINVAL, "staff.id"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        json_t *r = itest_req (c, cases[i].code, cases[i].field, "staffing.Onboard",
                           "{\"staff\": {%s, \"roles\": %s, %s, %s}}", cases[i].name,
                           cases[i].roles, cases[i].sites, cases[i].rest);
        if (!r) {
            fprintf (stderr, "    case %zu\n", i);
        }
        CHECK (r && strstr (itest_json_str (r, "message"), cases[i].field));
        json_decref (r);
    }
    json_t *r = itest_req (c, PM_ENOTFOUND, "staff_id", "staffing.GetStaff",
                       "{\"staff_id\": \"stf_01m8e8rx5n3r2py41feft8x8rn\"}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "site_id", "staffing.ListStaff", "{\"site_id\": \"nowhere\"}");
    CHECK (r);
    json_decref (r);
    CHECK (s_high_seq (c) == 1); //  only the site
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- hires from recruitment ---------------------------------------------------

//  Appends recruitment.candidate.hired for `candidate` at `site` to the
//  emitter's stream (or any other type with no data).
static bool
s_emit_post (pm_client_t *emitter, const char *type, const char *candidate,
             const char *site, const char *requisition, const char *start, uint32_t fte)
{
    Pm__Recruitment__CandidateHired h = PM__RECRUITMENT__CANDIDATE_HIRED__INIT;
    char *given[] = {"Lee"};
    h.candidate_id = (char *) candidate;
    h.family_name = "Park";
    h.n_given_names = 1;
    h.given_names = given;
    h.email = "lee.park@example.org";
    h.role = "nurse";
    h.site_id = (char *) site;
    h.start_date = (char *) start;
    h.has_pay_rate_minor = h.has_fte_permille = 1;
    h.pay_rate_minor = 4200;
    h.currency = "USD";
    h.employment_type = "PART_TIME";
    h.fte_permille = fte;
    h.requisition_id = (char *) requisition;
    uint8_t data[512];
    Pm__Test__Emit emit = PM__TEST__EMIT__INIT;
    emit.type = (char *) type;
    emit.subject = (char *) candidate;
    emit.site_id = (char *) site;
    if (strcmp (type, "recruitment.candidate.hired") == 0) {
        emit.has_data = 1;
        emit.data.data = data;
        emit.data.len = pm__recruitment__candidate_hired__pack (&h, data);
    }
    Pm__Reply *reply = itest_call (emitter, "emitter.Emit", &emit.base);
    bool ok = reply && reply->code == PM__CODE__OK;
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return ok;
}

static bool
s_emit_hire (pm_client_t *emitter, const char *type, const char *candidate,
             const char *site)
{
    return s_emit_post (emitter, type, candidate, site, "job_01m8e8rx5n3r2py41feft8x8rn",
                        "2026-03-02", 600);
}

//  Starts an emitter standing in for recruitment and staffing following
//  it. False when either did not start.
static bool
s_start_with_hires (itest_svc_t *rec, itest_svc_t *svc)
{
    itest_svc_init (rec, "recruitment", "pm_emitter");
    rec->env[0] = "PM_EMITTER_SERVICE=recruitment";
    itest_svc_init (svc, "staffing", "pm-staffing");
    if (itest_start (rec) != 0) {
        return false;
    }
    itest_point_at (svc, rec);
    return itest_start (svc) == 0;
}

//  Waits until staffing's cursor on recruitment's stream reaches `seq`.
static bool
s_wait_cursor (pm_client_t *c, uint64_t seq)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until) {
        Pm__Health *h = itest_health (c);
        bool done = h && h->n_consumers == 1 && h->consumers[0]->cursor >= seq
                    && !h->consumers[0]->catching_up;
        pm__health__free_unpacked (h, NULL);
        if (done) {
            return true;
        }
        zclock_sleep (10);
    }
    return false;
}

//  Staff at `site` made from candidate `cand` (count).
static int
s_hired (pm_client_t *c, const char *site, const char *cand)
{
    json_t *r = itest_req (c, 0, NULL, "staffing.ListStaff",
                       "{\"site_id\": \"%s\", \"page_size\": 1000}", site);
    int n = 0;
    size_t i;
    json_t *s;
    json_array_foreach (itest_json_at (r, "staff"), i, s) {
        n += strcmp (itest_json_str (s, "candidate_id"), cand) == 0;
    }
    json_decref (r);
    return r ? n : -1;
}

//  recruitment.candidate.hired makes one staff member per candidate,
//  however often it is delivered: twice on the stream, after a restart,
//  and when recruitment's stream is replaced and replayed from seq 1. A
//  hire that cannot be onboarded is recorded as rejected, with the reason.
static void
s_test_hire_exactly_once (void)
{
    itest_svc_t rec, svc;
    CHECK (s_start_with_hires (&rec, &svc));
    pm_client_t *ec = itest_client (&rec);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));

    const char *a = "cand_01m8e8rx5n3r2py41feft8x8aa", *b = "cand_01m8e8rx5n3r2py41feft8x8bb";
    CHECK (s_emit_hire (ec, "recruitment.candidate.hired", a, "north"));
    CHECK (s_emit_hire (ec, "recruitment.candidate.interviewed", a, "north"));
    CHECK (s_emit_hire (ec, "recruitment.candidate.hired", a, "north")); //  again
    CHECK (s_emit_hire (ec, "recruitment.candidate.hired", b, "nowhere"));
    CHECK (s_wait_cursor (c, 4));
    CHECK (s_hired (c, "north", a) == 1);
    json_t *r = itest_req (c, 0, NULL, "staffing.GetHire", "{\"candidate_id\": \"%s\"}", a);
    CHECK (r && pm_id_valid (itest_json_str (r, "staff_id"), "stf") && s_int (r, "seq") == 1);
    char staff_id[PM_ID_MAX];
    snprintf (staff_id, sizeof staff_id, "%s", itest_json_str (r, "staff_id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.GetStaff", "{\"staff_id\": \"%s\"}", staff_id);
    CHECK (r && strcmp (itest_json_str (r, "employment_type"), "PART_TIME") == 0);
    CHECK (s_int (r, "sites[0].fte_permille") == 600 && s_int (r, "pay_rate_minor") == 4200);
    CHECK (strcmp (itest_json_str (r, "roles[0]"), "nurse") == 0);
    CHECK (strcmp (itest_json_str (r, "requisition_id"), "job_01m8e8rx5n3r2py41feft8x8rn") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.GetHire", "{\"candidate_id\": \"%s\"}", b);
    CHECK (r && strstr (itest_json_str (r, "rejected_reason"), "nowhere") && !*itest_json_str (r, "staff_id"));
    json_decref (r);

    //  Restarted (killed, even): the cursor is durable; one more replay.
    itest_signal (&svc, SIGKILL);
    CHECK (s_emit_hire (ec, "recruitment.candidate.hired", a, "north"));
    CHECK (s_start_again (&svc) == 0);
    pm_client_destroy (&c);
    c = itest_client (&svc);
    CHECK (s_wait_cursor (c, 5));
    CHECK (s_hired (c, "north", a) == 1);

    //  Recruitment's store is replaced: its new stream starts at seq 1 and
    //  holds the same hire again, and a new one.
    itest_signal (&rec, SIGKILL);
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", rec.dir);
    CHECK (system (cmd) == 0);
    char was[sizeof rec.commands];
    snprintf (was, sizeof was, "%s", rec.commands);
    CHECK (s_start_again (&rec) == 0);
    pm_client_destroy (&ec);
    ec = itest_client (&rec);
    if (strcmp (was, rec.commands) != 0) {
        //  Recruitment moved: staffing follows it at its new address.
        itest_point_at (&svc, &rec);
        itest_signal (&svc, SIGTERM);
        CHECK (s_start_again (&svc) == 0);
        pm_client_destroy (&c);
        c = itest_client (&svc);
    }
    const char *d = "cand_01m8e8rx5n3r2py41feft8x8dd";
    CHECK (s_emit_hire (ec, "recruitment.candidate.hired", a, "north"));
    CHECK (s_emit_hire (ec, "recruitment.candidate.hired", d, "north"));
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until && s_hired (c, "north", d) != 1) {
        zclock_sleep (10);
    }
    CHECK (s_hired (c, "north", d) == 1);
    CHECK (s_hired (c, "north", a) == 1);

    json_t *events = s_stream (c);
    CHECK (events && s_count (events, "staffing.staff.onboarded") == 2);
    CHECK (s_count (events, "staffing.hire.rejected") == 1);
    json_decref (events);
    pm_client_destroy (&ec);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
    itest_cleanup (&rec);
}

//  The same person hired into another opening is one staff member: a
//  second post adds its site, someone who had left is active again at the
//  new post, a post they hold already is rejected with the reason; each
//  hire once however often it is delivered.
static void
s_test_further_hires (void)
{
    itest_svc_t rec, svc;
    CHECK (s_start_with_hires (&rec, &svc));
    pm_client_t *ec = itest_client (&rec);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    CHECK (s_site (c, "south", "America/Chicago"));
    const char *hired = "recruitment.candidate.hired";
    const char *a = "cand_01m8e8rx5n3r2py41feft8x8aa";
    const char *j1 = "job_01m8e8rx5n3r2py41feft8x801", *j2 = "job_01m8e8rx5n3r2py41feft8x802";
    const char *j3 = "job_01m8e8rx5n3r2py41feft8x803", *j4 = "job_01m8e8rx5n3r2py41feft8x804";
    CHECK (s_emit_post (ec, hired, a, "north", j1, "2026-03-02", 600));
    CHECK (s_emit_post (ec, hired, a, "south", j2, "2026-04-01", 400)); //  a second post
    CHECK (s_emit_post (ec, hired, a, "south", j2, "2026-04-01", 400)); //  delivered again
    CHECK (s_wait_cursor (c, 3));
    json_t *r = itest_req (c, 0, NULL, "staffing.GetHire", "{\"candidate_id\": \"%s\", "
                           "\"requisition_id\": \"%s\"}", a, j2);
    CHECK (r && s_int (r, "seq") == 2);
    char staff_id[PM_ID_MAX];
    snprintf (staff_id, sizeof staff_id, "%s", r ? itest_json_str (r, "staff_id") : "");
    json_decref (r);
    CHECK (s_hired (c, "north", a) == 1 && s_hired (c, "south", a) == 1);
    r = itest_req (c, 0, NULL, "staffing.GetStaff", "{\"staff_id\": \"%s\"}", staff_id);
    CHECK (r && s_int (r, "version") == 2 && strcmp (itest_json_str (r, "sites[0].site_id"),
                                                     "north") == 0);
    CHECK (r && strcmp (itest_json_str (r, "sites[1].site_id"), "south") == 0);
    CHECK (r && strcmp (itest_json_str (r, "start_date"), "2026-03-02") == 0);
    json_decref (r);
    //  They leave; hired again later at north: active again, there only.
    r = itest_req (c, 0, NULL, "staffing.Terminate", "{\"staff_id\": \"%s\", \"end_date\": "
                   "\"2026-06-30\", \"reason\": \"moved away\"}", staff_id);
    CHECK (r);
    json_decref (r);
    CHECK (s_emit_post (ec, hired, a, "north", j3, "2027-01-04", 1000));
    //  And once more for a post they hold: rejected, with the reason.
    CHECK (s_emit_post (ec, hired, a, "north", j4, "2027-02-01", 1000));
    CHECK (s_wait_cursor (c, 5));
    r = itest_req (c, 0, NULL, "staffing.GetStaff", "{\"staff_id\": \"%s\"}", staff_id);
    CHECK (r && strcmp (itest_json_str (r, "status"), "ACTIVE") == 0);
    CHECK (r && strcmp (itest_json_str (r, "start_date"), "2027-01-04") == 0);
    CHECK (r && json_array_size (itest_json_at (r, "sites")) == 1 && !*itest_json_str (r, "end_date"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.GetHire", "{\"candidate_id\": \"%s\", "
                   "\"requisition_id\": \"%s\"}", a, j4);
    CHECK (r && strstr (itest_json_str (r, "rejected_reason"), "already works at site north"));
    json_decref (r);
    json_t *events = s_stream (c);
    CHECK (events && s_count (events, "staffing.staff.onboarded") == 1);
    CHECK (s_count (events, "staffing.hire.rejected") == 1);
    json_decref (events);
    pm_client_destroy (&ec);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
    itest_cleanup (&rec);
}

//  --- credentials ----------------------------------------------------------------

//  The UTC date `days` from today (wall clock) into out (11 bytes).
static void
s_date (int days, char *out)
{
    time_t t = time (NULL) + (time_t) days * 86400;
    struct tm tm;
    gmtime_r (&t, &tm);
    strftime (out, 11, "%Y-%m-%d", &tm);
}

//  `date` moved by `days` into out (11 bytes).
static void
s_date_add (const char *date, int days, char *out)
{
    struct tm tm = {0};
    tm.tm_year = atoi (date) - 1900;
    tm.tm_mon = atoi (date + 5) - 1;
    tm.tm_mday = atoi (date + 8) + days;
    tm.tm_hour = 12;
    time_t t = timegm (&tm);
    gmtime_r (&t, &tm);
    strftime (out, 11, "%Y-%m-%d", &tm);
}

//  Restarts `svc` with its clock at `date` `hour`:00 UTC (the setting in
//  env slot `slot`, kept in `buf`) and gives *client a new connection.
static int
s_restart_at (itest_svc_t *svc, pm_client_t **client, int slot, char *buf, size_t len,
              const char *date, int hour)
{
    struct tm tm = {0};
    tm.tm_year = atoi (date) - 1900;
    tm.tm_mon = atoi (date + 5) - 1;
    tm.tm_mday = atoi (date + 8);
    tm.tm_hour = hour;
    int64_t target = (int64_t) timegm (&tm) * 1000;
    snprintf (buf, len, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (target - pm_clock_wall_ms ()));
    svc->env[slot] = buf;
    itest_signal (svc, SIGTERM);
    int rc = s_start_again (svc);
    pm_client_destroy (client);
    *client = itest_client (svc);
    if (rc != 0) {
        //  Say why: the log goes with the test's temporary files.
        char cmd[400];
        snprintf (cmd, sizeof cmd, "tail -n 5 '%s' >&2", svc->log);
        if (system (cmd) != 0) {
            fprintf (stderr, "    no log at %s\n", svc->log);
        }
    }
    return rc;
}

//  Alerts of `type` about credential `id` (count), and the last one's
//  threshold in *threshold.
static int
s_alerts (json_t *events, const char *type, const char *id, int *threshold)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach (events, i, e) {
        if (strcmp (itest_json_str (e, "type"), type) == 0 && strcmp (itest_json_str (e, "subject"), id) == 0) {
            n++;
            if (threshold) {
                *threshold = (int) s_int (e, "data.threshold_days");
            }
        }
    }
    return n;
}

//  Waits until the stream holds `count` alerts of `type` about `id`.
static json_t *
s_wait_alerts (pm_client_t *c, const char *type, const char *id, int count)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    json_t *events = NULL;
    do {
        json_decref (events);
        events = s_stream (c);
        if (events && s_alerts (events, type, id, NULL) >= count) {
            return events;
        }
        zclock_sleep (20);
    } while (itest_now () < until);
    fprintf (stderr, "    waited for %d %s of %s\n", count, type, id);
    return events;
}

//  Adds a credential; its id into `id`.
static bool
s_credential (pm_client_t *c, const char *staff, const char *type, const char *valid_to,
              char *id)
{
    json_t *r = itest_req (c, 0, NULL, "staffing.AddCredential",
                       "{\"credential\": {\"staff_id\": \"%s\", \"type\": \"%s\", "
                       "\"number\": \"RN-1234\", \"issuer\": \"State Board\", "
                       "\"valid_from\": \"2020-01-01\", \"valid_to\": \"%s\", "
                       "\"verified_by\": \"hr-officer\"}}", staff, type, valid_to);
    if (r) {
        snprintf (id, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    json_decref (r);
    return r && pm_id_valid (id, "crd");
}

//  Warnings at 90, 30 and 7 days before expiry and at expiry, each once,
//  from the timer, as the runtime clock moves over restarts; due at
//  local midnight in the site's zone (Honolulu, UTC-10), not UTC's. A
//  credential added 20 days before expiry gets the 30-day warning only.
static void
s_test_credential_escalations (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    svc.env[0] = "PM_STAFFING_TICK_MS=50";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "hono", "Pacific/Honolulu"));
    CHECK (s_site (c, "zulu", "UTC"));
    char nurse[PM_ID_MAX], witness[PM_ID_MAX];
    CHECK (s_onboard (c, nurse, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                                "\"hono\", \"fte_permille\": 1000}], \"start_date\": "
                                "\"2020-01-01\""));
    CHECK (s_onboard (c, witness, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                                  "\"zulu\", \"fte_permille\": 1000}], \"start_date\": "
                                  "\"2020-01-01\""));
    char v[11], d[11], c1[PM_ID_MAX], c2[PM_ID_MAX], w1[PM_ID_MAX];
    s_date (100, v);
    CHECK (s_credential (c, nurse, "nursing-registration", v, c1));
    CHECK (s_credential (c, witness, "nursing-registration", v, w1));

    //  Bad input: the end before the start, an unknown holder.
    json_t *r = itest_req (c, PM_EINVAL, "credential.valid_to", "staffing.AddCredential",
                       "{\"credential\": {\"staff_id\": \"%s\", \"type\": \"bls\", "
                       "\"number\": \"1\", \"valid_from\": \"2026-05-01\", "
                       "\"valid_to\": \"2026-04-30\"}}", nurse);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "credential.staff_id", "staffing.AddCredential",
               "{\"credential\": {\"staff_id\": \"stf_01m8e8rx5n3r2py41feft8x8rn\", "
               "\"type\": \"bls\", \"number\": \"1\", \"valid_to\": \"2030-01-01\"}}");
    CHECK (r);
    json_decref (r);

    //  What expires at the site: nothing within 30 days, C1 within 120.
    r = itest_req (c, 0, NULL, "staffing.ExpiringCredentials",
               "{\"site_id\": \"hono\", \"days\": 30}");
    CHECK (r && s_len (r, "items") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ExpiringCredentials",
               "{\"site_id\": \"hono\", \"days\": 120}");
    CHECK (r && s_len (r, "items") == 1 && strcmp (itest_json_str (r, "items[0].credential.id"), c1) == 0);
    CHECK (s_int (r, "items[0].days_left") >= 99 && s_int (r, "items[0].days_left") <= 101);
    CHECK (strcmp (itest_json_str (r, "items[0].holder.family"), "Doe") == 0);
    json_decref (r);

    //  89 days before the last valid day, 01:00 in Honolulu: the 90-day
    //  warning (expiry is midnight after V, local).
    char off[64];
    s_date_add (v, -89, d);
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, d, 11) == 0);
    json_t *events = s_wait_alerts (c, "staffing.credential.expiring", c1, 1);
    int threshold = -1;
    CHECK (events && s_alerts (events, "staffing.credential.expiring", c1, &threshold) == 1);
    CHECK (threshold == 90);
    json_t *e = s_last (events, "staffing.credential.expiring");
    CHECK (strcmp (itest_json_str (e, "site_id"), "hono") == 0 || strcmp (itest_json_str (e, "site_id"), "zulu") == 0);
    json_decref (events);

    //  30 days, then 7: one new warning each, none repeated.
    s_date_add (v, -29, d);
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, d, 11) == 0);
    events = s_wait_alerts (c, "staffing.credential.expiring", c1, 2);
    CHECK (events && s_alerts (events, "staffing.credential.expiring", c1, &threshold) == 2);
    CHECK (threshold == 30);
    json_decref (events);
    s_date_add (v, -6, d);
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, d, 11) == 0);
    events = s_wait_alerts (c, "staffing.credential.expiring", c1, 3);
    CHECK (events && s_alerts (events, "staffing.credential.expiring", c1, &threshold) == 3);
    CHECK (threshold == 7);
    json_decref (events);

    //  Added 20 days before it expires: the 30-day warning only.
    char v2[11];
    s_date_add (d, 19, v2);
    CHECK (s_credential (c, nurse, "bls", v2, c2));
    events = s_wait_alerts (c, "staffing.credential.expiring", c2, 1);
    CHECK (events && s_alerts (events, "staffing.credential.expiring", c2, &threshold) == 1);
    CHECK (threshold == 30);
    json_decref (events);
    r = itest_req (c, 0, NULL, "staffing.ExpiringCredentials",
               "{\"site_id\": \"hono\", \"days\": 30}");
    CHECK (r && s_len (r, "items") == 2);
    CHECK (strcmp (itest_json_str (r, "items[0].credential.id"), c1) == 0);
    CHECK (s_int (r, "items[0].days_left") == 6 && s_int (r, "items[1].days_left") == 19);
    json_decref (r);

    //  The day after V, 05:00 UTC: expired in UTC (the witness at zulu),
    //  still 19:00 on V in Honolulu: C1 is not expired yet.
    s_date_add (v, 1, d);
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, d, 5) == 0);
    events = s_wait_alerts (c, "staffing.credential.expired", w1, 1);
    CHECK (events && s_alerts (events, "staffing.credential.expired", w1, NULL) == 1);
    CHECK (s_alerts (events, "staffing.credential.expired", c1, NULL) == 0);
    json_decref (events);
    //  11:00 UTC is 01:00 in Honolulu: expired there too.
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, d, 11) == 0);
    events = s_wait_alerts (c, "staffing.credential.expired", c1, 1);
    CHECK (events && s_alerts (events, "staffing.credential.expired", c1, &threshold) == 1);
    CHECK (threshold == 0);
    //  Each warning once, in all: C1 three and the expiry, C2 one, W1 the
    //  same as C1.
    CHECK (s_alerts (events, "staffing.credential.expiring", c1, NULL) == 3);
    CHECK (s_alerts (events, "staffing.credential.expiring", c2, NULL) == 1);
    CHECK (s_alerts (events, "staffing.credential.expiring", w1, NULL) == 3);
    CHECK (s_alerts (events, "staffing.credential.expired", w1, NULL) == 1);
    json_decref (events);

    //  Renewed: the warnings are given again for the new dates, not now.
    s_date_add (v, 365, d);
    r = itest_req (c, 0, NULL, "staffing.UpdateCredential",
               "{\"expected_version\": 1, \"credential\": {\"id\": \"%s\", "
               "\"number\": \"RN-1234\", \"valid_from\": \"2020-01-01\", "
               "\"valid_to\": \"%s\"}}", c1, d);
    CHECK (r && s_int (r, "version") == 2 && s_len (r, "escalations") == 0);
    CHECK (!itest_json_at (r, "verified_at")); //  a renewal is checked again
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.VerifyCredential",
               "{\"credential_id\": \"%s\", \"verified_by\": \"hr\"}", c1);
    CHECK (r && s_int (r, "verified_at") > 0);
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- rosters ----------------------------------------------------------------------

//  Creates a shift template; its id into `id`.
static bool
s_template (pm_client_t *c, const char *site, const char *role, const char *starts,
            const char *ends, char *id)
{
    json_t *r = itest_req (c, 0, NULL, "staffing.CreateShiftTemplate",
                       "{\"template\": {\"site_id\": \"%s\", \"role\": \"%s\", "
                       "\"name\": \"%s-%s\", \"starts\": \"%s\", \"ends\": \"%s\"}}",
                       site, role, starts, ends, starts, ends);
    if (r) {
        snprintf (id, PM_ID_MAX, "%s", itest_json_str (r, "id"));
    }
    json_decref (r);
    return r && pm_id_valid (id, "sht");
}

//  staffing.AddShifts; the reply (or error) as s_req gives it.
static json_t *
s_shifts (pm_client_t *c, int want, const char *field, const char *tpl,
          const char *from, const char *to, const char *staff)
{
    return itest_req (c, want, field, "staffing.AddShifts",
                  "{\"template_id\": \"%s\", \"from_date\": \"%s\", \"to_date\": "
                  "\"%s\"%s%s%s}", tpl, from, to, staff ? ", \"staff_id\": \"" : "",
                  staff ? staff : "", staff ? "\"" : "");
}

//  Milliseconds UTC of "YYYY-MM-DDTHH:MM" UTC.
static int64_t
s_utc (const char *when)
{
    struct tm tm = {0};
    tm.tm_year = atoi (when) - 1900;
    tm.tm_mon = atoi (when + 5) - 1;
    tm.tm_mday = atoi (when + 8);
    tm.tm_hour = atoi (when + 11);
    tm.tm_min = atoi (when + 14);
    return (int64_t) timegm (&tm) * 1000;
}

#define HOUR_MS 3600000LL

//  Night shifts 22:00-06:00 in New York and Berlin: the nights of the
//  DST changes are 9 hours (autumn) and 7 hours (spring) long in UTC; the
//  working hours are published with UTC instants.
static void
s_test_night_shift_dst (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "nyc", "America/New_York"));
    CHECK (s_site (c, "ber", "Europe/Berlin"));
    char nurse[PM_ID_MAX], nyc[PM_ID_MAX], ber[PM_ID_MAX];
    CHECK (s_onboard (c, nurse, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                                "\"nyc\", \"fte_permille\": 500}, {\"site_id\": \"ber\", "
                                "\"fte_permille\": 500}], \"start_date\": \"2026-01-01\""));
    CHECK (s_template (c, "nyc", "nurse", "22:00", "06:00", nyc));
    CHECK (s_template (c, "ber", "nurse", "22:00", "06:00", ber));

    //  New York falls back at 02:00 on 2026-11-01.
    json_t *r = s_shifts (c, 0, NULL, nyc, "2026-10-30", "2026-11-01", nurse);
    CHECK (r && s_len (r, "shifts") == 3);
    int64_t lengths[3] = {8, 9, 8};
    for (int i = 0; i < 3; i++) {
        char path[32];
        snprintf (path, sizeof path, "shifts[%d]", i);
        json_t *sh = itest_json_at (r, path);
        CHECK (s_int (sh, "end") - s_int (sh, "start") == lengths[i] * HOUR_MS);
        CHECK (strcmp (itest_json_str (sh, "status"), "SHIFT_ASSIGNED") == 0);
    }
    //  22:00 EDT is 02:00Z; 06:00 EST is 11:00Z.
    CHECK (strcmp (itest_json_str (r, "shifts[1].date"), "2026-10-31") == 0);
    CHECK (s_int (r, "shifts[1].start") == s_utc ("2026-11-01T02:00"));
    CHECK (s_int (r, "shifts[1].end") == s_utc ("2026-11-01T11:00"));
    json_decref (r);
    //  ... and springs forward at 02:00 on 2026-03-08.
    r = s_shifts (c, 0, NULL, nyc, "2026-03-07", "2026-03-07", nurse);
    CHECK (r && s_int (r, "shifts[0].end") - s_int (r, "shifts[0].start") == 7 * HOUR_MS);
    json_decref (r);
    //  Berlin: back at 03:00 on 2026-10-25, forward at 02:00 on 2026-03-29.
    r = s_shifts (c, 0, NULL, ber, "2026-10-24", "2026-10-24", nurse);
    CHECK (r && s_int (r, "shifts[0].end") - s_int (r, "shifts[0].start") == 9 * HOUR_MS);
    CHECK (s_int (r, "shifts[0].start") == s_utc ("2026-10-24T20:00"));
    json_decref (r);
    r = s_shifts (c, 0, NULL, ber, "2026-03-28", "2026-03-28", nurse);
    CHECK (r && s_int (r, "shifts[0].end") - s_int (r, "shifts[0].start") == 7 * HOUR_MS);
    json_decref (r);

    //  Working hours as events: UTC start and end, site, staff, role.
    json_t *events = s_stream (c);
    CHECK (events && s_count (events, "staffing.shift.assigned") == 6);
    json_t *e = json_array_get (events, json_array_size (events) - 6 + 1);
    CHECK (strcmp (itest_json_str (e, "type"), "staffing.shift.assigned") == 0);
    CHECK (strcmp (itest_json_str (e, "site_id"), "nyc") == 0);
    CHECK (strcmp (itest_json_str (e, "data.staff_id"), nurse) == 0);
    CHECK (strcmp (itest_json_str (e, "data.role"), "nurse") == 0);
    CHECK (s_int (e, "data.start") == s_utc ("2026-11-01T02:00"));
    CHECK (s_int (e, "data.end") == s_utc ("2026-11-01T11:00"));
    json_decref (events);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Assignments that must be refused, each with its reason: overlap, not
//  attached to the site, not in the role, terminated, missing or
//  unverified credential, the site closed; a recurring assignment is all
//  or nothing; bad input. Termination opens the shifts after the last day.
static void
s_test_roster_conflicts (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    CHECK (s_site (c, "south", "America/New_York"));
    char a[PM_ID_MAX], b[PM_ID_MAX], doc[PM_ID_MAX], day[PM_ID_MAX], eve[PM_ID_MAX],
        phys[PM_ID_MAX];
    const char *at_north = "\"roles\": [\"%s\"], \"sites\": [{\"site_id\": \"%s\", "
                           "\"fte_permille\": 1000}], \"start_date\": \"2026-01-01\"";
    char fields[256];
    snprintf (fields, sizeof fields, at_north, "nurse", "north");
    CHECK (s_onboard (c, a, fields));
    snprintf (fields, sizeof fields, at_north, "nurse", "south");
    CHECK (s_onboard (c, b, fields));
    snprintf (fields, sizeof fields, at_north, "physician", "north");
    CHECK (s_onboard (c, doc, fields));
    CHECK (s_template (c, "north", "nurse", "08:00", "16:00", day));
    CHECK (s_template (c, "north", "nurse", "12:00", "20:00", eve));
    CHECK (s_template (c, "north", "physician", "09:00", "17:00", phys));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetRoleRequirements",
                       "{\"requirements\": {\"role\": \"physician\", "
                       "\"credential_types\": [\"medical-licence\"]}}");
    CHECK (r && s_int (r, "version") == 1);
    json_decref (r);

    r = s_shifts (c, 0, NULL, day, "2026-06-01", "2026-06-01", a);
    CHECK (r);
    json_decref (r);
    struct {
        const char *tpl, *date, *staff, *reason;
    } refused[] = {
        {eve, "2026-06-01", a, "overlaps"},
        {day, "2026-06-02", b, "not attached to site north"},
        {phys, "2026-06-02", a, "does not have role physician"},
        {phys, "2026-06-02", doc, "lacks a valid medical-licence"},
        {day, "2026-12-25", a, "closed on 2026-12-25 (Christmas Day)"},
        {day, "2025-12-31", a, "starts work on 2026-01-01"},
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        r = s_shifts (c, PM_ECONFLICT, NULL, refused[i].tpl, refused[i].date,
                      refused[i].date, refused[i].staff);
        if (!r || !strstr (itest_json_str (r, "message"), refused[i].reason)) {
            fprintf (stderr, "    case %zu: %s\n", i, r ? itest_json_str (r, "message") : "-");
        }
        CHECK (r && strstr (itest_json_str (r, "message"), refused[i].reason));
        json_decref (r);
    }
    //  A licence not yet verified is not enough; verified, it is.
    char lic[PM_ID_MAX];
    r = itest_req (c, 0, NULL, "staffing.AddCredential",
               "{\"credential\": {\"staff_id\": \"%s\", \"type\": "
               "\"medical-licence\", \"number\": \"MD-1\", \"valid_from\": "
               "\"2025-01-01\", \"valid_to\": \"2027-12-31\"}}", doc);
    CHECK (r);
    snprintf (lic, sizeof lic, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = s_shifts (c, PM_ECONFLICT, "staff_id", phys, "2026-06-02", "2026-06-02", doc);
    CHECK (r && strstr (itest_json_str (r, "message"), "verified medical-licence"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.VerifyCredential",
               "{\"credential_id\": \"%s\", \"verified_by\": \"board lookup\"}", lic);
    CHECK (r);
    json_decref (r);
    r = s_shifts (c, 0, NULL, phys, "2026-06-02", "2026-06-02", doc);
    CHECK (r);
    json_decref (r);

    //  Recurring, weekdays only: two weeks of day shifts, then evenings
    //  over the same range are refused whole, naming the first clash.
    r = itest_req (c, 0, NULL, "staffing.AddShifts",
               "{\"template_id\": \"%s\", \"from_date\": \"2026-06-08\", "
               "\"to_date\": \"2026-06-21\", \"weekdays\": [1, 2, 3, 4, 5], "
               "\"staff_id\": \"%s\"}", day, a);
    CHECK (r && s_len (r, "shifts") == 10);
    CHECK (strcmp (itest_json_str (r, "shifts[9].date"), "2026-06-19") == 0);
    json_decref (r);
    uint64_t before = s_high_seq (c);
    r = itest_req (c, PM_ECONFLICT, "staff_id", "staffing.AddShifts",
               "{\"template_id\": \"%s\", \"from_date\": \"2026-06-06\", "
               "\"to_date\": \"2026-06-21\", \"staff_id\": \"%s\"}", eve, a);
    CHECK (r && strstr (itest_json_str (r, "message"), "on 2026-06-08"));
    json_decref (r);
    CHECK (s_high_seq (c) == before); //  06-06 and 06-07 were not kept either

    //  Bad input.
    r = s_shifts (c, PM_EINVAL, "to_date", day, "2026-06-10", "2026-06-09", a);
    CHECK (r && strstr (itest_json_str (r, "message"), "before from_date"));
    json_decref (r);
    r = s_shifts (c, PM_ENOTFOUND, "template_id", "sht_01m8e8rx5n3r2py41feft8x8rn",
                  "2026-06-10", "2026-06-10", a);
    CHECK (r);
    json_decref (r);
    r = s_shifts (c, PM_ENOTFOUND, "staff_id", day, "2026-06-27", "2026-06-27",
                  "stf_01m8e8rx5n3r2py41feft8x8rn");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "template.site_id", "staffing.CreateShiftTemplate",
               "{\"template\": {\"site_id\": \"nowhere\", \"role\": \"nurse\", "
               "\"name\": \"X\", \"starts\": \"08:00\", \"ends\": \"16:00\"}}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "template.starts", "staffing.CreateShiftTemplate",
               "{\"template\": {\"site_id\": \"north\", \"role\": \"nurse\", "
               "\"name\": \"X\", \"starts\": \"25:00\", \"ends\": \"16:00\"}}");
    CHECK (r);
    json_decref (r);

    //  Terminated with last day 2026-06-12: the shifts after it open
    //  again (hours withdrawn), and no new ones after it are taken.
    r = itest_req (c, 0, NULL, "staffing.Terminate",
               "{\"staff_id\": \"%s\", \"end_date\": \"2026-06-12\", "
               "\"reason\": \"resigned\"}", a);
    CHECK (r && strcmp (itest_json_str (r, "id"), a) == 0); //  the reply is the staff record
    json_decref (r);
    json_t *events = s_stream (c);
    CHECK (events && s_count (events, "staffing.shift.unassigned") == 5);
    json_t *e = s_last (events, "staffing.shift.unassigned");
    CHECK (strcmp (itest_json_str (e, "data.released_staff_id"), a) == 0);
    CHECK (strcmp (itest_json_str (e, "data.status"), "SHIFT_OPEN") == 0);
    CHECK (strcmp (itest_json_str (e, "data.date"), "2026-06-19") == 0);
    json_decref (events);
    r = s_shifts (c, PM_ECONFLICT, "staff_id", day, "2026-06-13", "2026-06-13", a);
    CHECK (r && strstr (itest_json_str (r, "message"), "terminated"));
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Open shifts claimed by a qualified person, swaps asked and decided,
//  unassign and cancel, and the coverage-gap report as the roster fills.
static void
s_test_open_shifts_swaps_coverage (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "zulu", "UTC"));
    char a[PM_ID_MAX], b[PM_ID_MAX], d[PM_ID_MAX], day[PM_ID_MAX], late[PM_ID_MAX];
    const char *nurse = "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"zulu\", "
                        "\"fte_permille\": 1000}], \"start_date\": \"2026-01-01\"";
    CHECK (s_onboard (c, a, nurse) && s_onboard (c, b, nurse) && s_onboard (c, d, nurse));
    CHECK (s_template (c, "zulu", "nurse", "08:00", "16:00", day));
    CHECK (s_template (c, "zulu", "nurse", "12:00", "20:00", late));
    json_t *r = itest_req (c, 0, NULL, "staffing.AddCoverageRule",
                       "{\"rule\": {\"site_id\": \"zulu\", \"role\": \"nurse\", "
                       "\"from\": \"08:00\", \"to\": \"20:00\", \"min_headcount\": 2}}");
    CHECK (r && pm_id_valid (itest_json_str (r, "id"), "cov"));
    json_decref (r);
    r = s_shifts (c, 0, NULL, day, "2026-06-01", "2026-06-01", a);
    CHECK (r);
    char day_shift[PM_ID_MAX], late_shift[PM_ID_MAX];
    snprintf (day_shift, sizeof day_shift, "%s", itest_json_str (r, "shifts[0].id"));
    json_decref (r);
    r = s_shifts (c, 0, NULL, late, "2026-06-01", "2026-06-01", NULL);
    CHECK (r && strcmp (itest_json_str (r, "shifts[0].status"), "SHIFT_OPEN") == 0);
    snprintf (late_shift, sizeof late_shift, "%s", itest_json_str (r, "shifts[0].id"));
    json_decref (r);

    //  One nurse 08-16, nobody 16-20: two gaps (an open shift counts for
    //  nothing).
    const char *gaps = "{\"site_id\": \"zulu\", \"from_date\": \"2026-06-01\", "
                       "\"to_date\": \"2026-06-01\"}";
    r = itest_req (c, 0, NULL, "staffing.CoverageGaps", gaps);
    CHECK (r && s_len (r, "gaps") == 2);
    CHECK (s_int (r, "gaps[0].start") == s_utc ("2026-06-01T08:00"));
    CHECK (s_int (r, "gaps[0].end") == s_utc ("2026-06-01T16:00"));
    CHECK (s_int (r, "gaps[0].rostered") == 1 && s_int (r, "gaps[0].required") == 2);
    CHECK (s_int (r, "gaps[1].start") == s_utc ("2026-06-01T16:00"));
    CHECK (s_int (r, "gaps[1].rostered") == 0);
    json_decref (r);

    //  The open shift: listed as open, claimed by B, then not claimable.
    int64_t from = s_utc ("2026-06-01T00:00"), to = s_utc ("2026-06-02T00:00");
    r = itest_req (c, 0, NULL, "staffing.ListShifts",
               "{\"site_id\": \"zulu\", \"from\": %lld, \"to\": %lld, "
               "\"open_only\": true}", (long long) from, (long long) to);
    CHECK (r && s_len (r, "shifts") == 1 && strcmp (itest_json_str (r, "shifts[0].id"), late_shift) == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ClaimShift",
               "{\"shift_id\": \"%s\", \"staff_id\": \"%s\"}", late_shift, b);
    CHECK (r && strcmp (itest_json_str (r, "staff_id"), b) == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "shift_id", "staffing.ClaimShift",
               "{\"shift_id\": \"%s\", \"staff_id\": \"%s\"}", late_shift, d);
    CHECK (r && strstr (itest_json_str (r, "message"), "already assigned"));
    json_decref (r);
    //  Now 08-12 and 16-20 are one short each; 12-16 is covered.
    r = itest_req (c, 0, NULL, "staffing.CoverageGaps", gaps);
    CHECK (r && s_len (r, "gaps") == 2);
    CHECK (s_int (r, "gaps[0].end") == s_utc ("2026-06-01T12:00"));
    CHECK (s_int (r, "gaps[1].start") == s_utc ("2026-06-01T16:00"));
    CHECK (s_int (r, "gaps[1].rostered") == 1);
    json_decref (r);

    //  Swap: B hands the late shift to D; approved, the hours move.
    r = itest_req (c, 0, NULL, "staffing.RequestSwap",
               "{\"shift_id\": \"%s\", \"to_staff_id\": \"%s\", \"reason\": "
               "\"exam\"}", late_shift, d);
    CHECK (r && strcmp (itest_json_str (r, "status"), "SWAP_REQUESTED") == 0);
    char swap[PM_ID_MAX];
    snprintf (swap, sizeof swap, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ApproveSwap", "{\"swap_id\": \"%s\"}", swap);
    CHECK (r && strcmp (itest_json_str (r, "status"), "SWAP_APPROVED") == 0);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "swap_id", "staffing.ApproveSwap",
               "{\"swap_id\": \"%s\"}", swap);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListShifts",
               "{\"site_id\": \"zulu\", \"from\": %lld, \"to\": %lld, "
               "\"staff_id\": \"%s\"}", (long long) from, (long long) to, d);
    CHECK (r && s_len (r, "shifts") == 1 && strcmp (itest_json_str (r, "shifts[0].id"), late_shift) == 0);
    json_decref (r);
    json_t *events = s_stream (c);
    json_t *un = s_last (events, "staffing.shift.unassigned");
    CHECK (un && strcmp (itest_json_str (un, "data.released_staff_id"), b) == 0);
    json_t *as = s_last (events, "staffing.shift.assigned");
    CHECK (as && strcmp (itest_json_str (as, "data.staff_id"), d) == 0);
    CHECK (s_int (as, "seq") == s_int (un, "seq") + 1);
    json_decref (events);
    //  D now works 12-20: taking A's 08-16 too would overlap; to B it may
    //  go, but the manager denies it.
    r = itest_req (c, PM_ECONFLICT, "to_staff_id", "staffing.RequestSwap",
               "{\"shift_id\": \"%s\", \"to_staff_id\": \"%s\"}", day_shift, d);
    CHECK (r && strstr (itest_json_str (r, "message"), "overlaps"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.RequestSwap",
               "{\"shift_id\": \"%s\", \"to_staff_id\": \"%s\"}", day_shift, b);
    CHECK (r);
    snprintf (swap, sizeof swap, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "reason", "staffing.DenySwap", "{\"swap_id\": \"%s\"}", swap);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.DenySwap",
               "{\"swap_id\": \"%s\", \"reason\": \"short staffed\"}", swap);
    CHECK (r && strcmp (itest_json_str (r, "status"), "SWAP_DENIED") == 0);
    json_decref (r);

    //  Unassign A (the shift opens), cancel it (no hours to withdraw).
    r = itest_req (c, 0, NULL, "staffing.UnassignShift",
               "{\"shift_id\": \"%s\", \"reason\": \"sick\"}", day_shift);
    CHECK (r && strcmp (itest_json_str (r, "status"), "SHIFT_OPEN") == 0);
    CHECK (strcmp (itest_json_str (r, "released_staff_id"), a) == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.CancelShift",
               "{\"shift_id\": \"%s\", \"reason\": \"merged\"}", day_shift);
    CHECK (r && strcmp (itest_json_str (r, "status"), "SHIFT_CANCELLED") == 0);
    json_decref (r);
    events = s_stream (c);
    CHECK (events && s_count (events, "staffing.shift.cancelled") == 1);
    CHECK (s_count (events, "staffing.shift.unassigned") == 2);
    json_decref (events);
    //  Only D's late shift is left: 08-12 empty, 12-20 one short.
    r = itest_req (c, 0, NULL, "staffing.CoverageGaps", gaps);
    CHECK (r && s_len (r, "gaps") == 2);
    CHECK (s_int (r, "gaps[0].rostered") == 0 && s_int (r, "gaps[1].rostered") == 1);
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- leave ---------------------------------------------------------------------

//  Request, overlap refused, balance, approval by a practice manager of
//  the site (not by the requester, not by another site's), the UTC range
//  on staffing.leave.approved, rostered shifts released, shifts refused
//  during approved leave; deny, cancel; bad input.
static void
s_test_leave (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York")); //  Mon-Fri, closed 12-25
    CHECK (s_site (c, "south", "America/New_York"));
    char n[PM_ID_MAX], m[PM_ID_MAX], ms[PM_ID_MAX], day[PM_ID_MAX];
    CHECK (s_onboard (c, n, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2026-01-01\""));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2026-01-01\""));
    CHECK (s_onboard (c, ms, "\"roles\": [\"practice-manager\"], \"sites\": "
                             "[{\"site_id\": \"south\", \"fte_permille\": 1000}], "
                             "\"start_date\": \"2026-01-01\""));
    CHECK (s_template (c, "north", "nurse", "08:00", "16:00", day));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                       "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual "
                       "leave\", \"yearly_days\": 20}}");
    CHECK (r && s_int (r, "version") == 1);
    json_decref (r);
    r = s_shifts (c, 0, NULL, day, "2026-06-03", "2026-06-03", n);
    CHECK (r);
    json_decref (r);

    //  Monday to Friday: five working days.
    const char *ask = "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
                      "\"start_date\": \"%s\", \"end_date\": \"%s\"}";
    r = itest_req (c, 0, NULL, "staffing.RequestLeave", ask, n, "2026-06-01", "2026-06-05");
    CHECK (r && s_int (r, "days") == 5 && strcmp (itest_json_str (r, "status"), "LEAVE_REQUESTED") == 0);
    char lv[PM_ID_MAX];
    snprintf (lv, sizeof lv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "start_date", "staffing.RequestLeave", ask, n,
               "2026-06-04", "2026-06-08");
    CHECK (r && strstr (itest_json_str (r, "message"), lv));
    json_decref (r);
    const char *bal = "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
                      "\"year\": 2026}";
    r = itest_req (c, 0, NULL, "staffing.LeaveBalance", bal, n);
    CHECK (r && s_int (r, "allocated") == 20 && s_int (r, "requested") == 5);
    CHECK (s_int (r, "remaining") == 15);
    json_decref (r);

    //  Who may approve: not the nurse herself, not south's manager, not a
    //  principal working elsewhere; north's manager may.
    const char *decide = "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}";
    r = itest_req (c, PM_EFORBIDDEN, "approver_id", "staffing.ApproveLeave", decide, lv, n);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EFORBIDDEN, "approver_id", "staffing.ApproveLeave", decide, lv, ms);
    CHECK (r && strstr (itest_json_str (r, "message"), "practice-manager of site north"));
    json_decref (r);
    pm_client_t *south = s_client_as (&svc, "mgr-south", "practice-manager", "south");
    r = itest_req (south, PM_EFORBIDDEN, NULL, "staffing.ApproveLeave", decide, lv, m);
    CHECK (r);
    json_decref (r);
    pm_client_destroy (&south);
    r = itest_req (c, 0, NULL, "staffing.ApproveLeave", decide, lv, m);
    CHECK (r && strcmp (itest_json_str (r, "status"), "LEAVE_APPROVED") == 0);
    CHECK (strcmp (itest_json_str (r, "decided_by"), m) == 0);
    json_decref (r);

    //  The approval carries the UTC range (EDT: local midnight is 04:00Z)
    //  and took her off the shift on 06-03.
    json_t *events = s_stream (c);
    json_t *e = s_last (events, "staffing.leave.approved");
    CHECK (e && strcmp (itest_json_str (e, "site_id"), "north") == 0);
    CHECK (s_int (e, "data.start") == s_utc ("2026-06-01T04:00"));
    CHECK (s_int (e, "data.end") == s_utc ("2026-06-06T04:00"));
    e = s_last (events, "staffing.shift.unassigned");
    CHECK (e && strcmp (itest_json_str (e, "data.released_staff_id"), n) == 0);
    CHECK (strstr (itest_json_str (e, "data.reason"), lv) != NULL);
    json_decref (events);
    r = s_shifts (c, PM_ECONFLICT, "staff_id", day, "2026-06-02", "2026-06-02", n);
    CHECK (r && strstr (itest_json_str (r, "message"), "on approved leave"));
    json_decref (r);

    //  Balance: a smaller allocation for her; 12-21..12-31 is eight working
    //  days (Christmas is a closure), more than is left.
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation",
               "{\"allocation\": {\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
               "\"year\": 2026, \"days\": 10}}", n);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ECONFLICT, "leave_type", "staffing.RequestLeave", ask, n,
               "2026-12-21", "2026-12-31");
    CHECK (r && strstr (itest_json_str (r, "message"), "this asks 8"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.RequestLeave", ask, n, "2026-12-21", "2026-12-25");
    CHECK (r && s_int (r, "days") == 4);
    snprintf (lv, sizeof lv, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "reason", "staffing.DenyLeave", decide, lv, m);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.DenyLeave",
               "{\"leave_id\": \"%s\", \"approver_id\": \"%s\", \"reason\": "
               "\"year-end rush\"}", lv, m);
    CHECK (r && strcmp (itest_json_str (r, "status"), "LEAVE_DENIED") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.LeaveBalance", bal, n);
    CHECK (r && s_int (r, "allocated") == 10 && s_int (r, "approved") == 5);
    CHECK (s_int (r, "requested") == 0 && s_int (r, "remaining") == 5);
    json_decref (r);

    //  Cancelling the approved leave gives the time back: the shift may be
    //  rostered again.
    r = itest_req (c, 0, NULL, "staffing.ListLeave", "{\"staff_id\": \"%s\"}", n);
    CHECK (r && s_len (r, "leave") == 2);
    CHECK (strcmp (itest_json_str (r, "leave[0].status"), "LEAVE_APPROVED") == 0);
    snprintf (lv, sizeof lv, "%s", itest_json_str (r, "leave[0].id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.CancelLeave",
               "{\"leave_id\": \"%s\", \"reason\": \"trip off\"}", lv);
    CHECK (r && strcmp (itest_json_str (r, "status"), "LEAVE_CANCELLED") == 0);
    json_decref (r);
    events = s_stream (c);
    e = s_last (events, "staffing.leave.cancelled");
    CHECK (e && s_int (e, "data.start") == s_utc ("2026-06-01T04:00"));
    json_decref (events);
    r = s_shifts (c, 0, NULL, day, "2026-06-02", "2026-06-02", n);
    CHECK (r);
    json_decref (r);

    //  Bad input.
    r = itest_req (c, PM_EINVAL, "end_date", "staffing.RequestLeave", ask, n, "2026-07-10",
               "2026-07-09");
    CHECK (r);
    json_decref (r);
    //  Leave may cross one year end (test leave_year_end), not two.
    r = itest_req (c, PM_EINVAL, "end_date", "staffing.RequestLeave", ask, n, "2026-12-30",
               "2028-01-02");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "leave_type", "staffing.RequestLeave",
               "{\"staff_id\": \"%s\", \"leave_type\": \"sabbatical\", "
               "\"start_date\": \"2026-07-01\", \"end_date\": \"2026-07-01\"}", n);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "staff_id", "staffing.RequestLeave", ask,
               "stf_01m8e8rx5n3r2py41feft8x8rn", "2026-07-01", "2026-07-01");
    CHECK (r);
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- partial-day leave and accrual ------------------------------------------------

//  True when the error's message contains `text` (says what it was
//  otherwise); takes `err`.
static bool
s_says (json_t *err, const char *text)
{
    bool ok = err && strstr (itest_json_str (err, "message"), text) != NULL;
    if (err && !ok) {
        fprintf (stderr, "    message \"%s\" lacks \"%s\"\n", itest_json_str (err, "message"),
                 text);
    }
    json_decref (err);
    return ok;
}

//  staffing.RequestLeave of `type` for `staff`: whole days when `from` is
//  NULL, else the window from..to on `start`; the reply or error as
//  itest_req gives it.
static json_t *
s_ask_leave (pm_client_t *c, int want, const char *field, const char *staff,
             const char *type, const char *start, const char *end, const char *from,
             const char *to)
{
    char times[96] = "";
    if (from) {
        snprintf (times, sizeof times, ", \"start_time\": \"%s\", \"end_time\": \"%s\"", from,
                  to);
    }
    return itest_req (c, want, field, "staffing.RequestLeave",
                      "{\"staff_id\": \"%s\", \"leave_type\": \"%s\", \"start_date\": \"%s\", "
                      "\"end_date\": \"%s\"%s}", staff, type, start, end, times);
}

//  Asks leave as s_ask_leave and, when `approver` is given, approves it;
//  its id into `id`. False when either is refused.
static bool
s_leave_ok (pm_client_t *c, const char *approver, const char *staff, const char *type,
            const char *start, const char *end, const char *from, const char *to, char *id)
{
    json_t *r = s_ask_leave (c, 0, NULL, staff, type, start, end, from, to);
    snprintf (id, PM_ID_MAX, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    if (!r || !approver) {
        return r != NULL;
    }
    r = itest_req (c, 0, NULL, "staffing.ApproveLeave",
                   "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}", id, approver);
    json_decref (r);
    return r != NULL;
}

//  The balance of `staff` in `type` for 2026 (as of `as_of` when given).
static json_t *
s_balance (pm_client_t *c, const char *staff, const char *type, const char *as_of)
{
    char extra[64] = "";
    if (as_of) {
        snprintf (extra, sizeof extra, ", \"as_of\": \"%s\"", as_of);
    }
    return itest_req (c, 0, NULL, "staffing.LeaveBalance",
                      "{\"staff_id\": \"%s\", \"leave_type\": \"%s\", \"year\": 2026%s}", staff,
                      type, extra);
}

//  True when balance `b` holds these days and minutes (approved,
//  requested, remaining); says what it held otherwise.
static bool
s_holds (json_t *b, long long approved, long long requested, long long remaining,
         long long approved_min, long long requested_min, long long remaining_min)
{
    bool ok = b && s_int (b, "approved") == approved && s_int (b, "requested") == requested
              && s_int (b, "remaining") == remaining
              && s_int (b, "approved_minutes") == approved_min
              && s_int (b, "requested_minutes") == requested_min
              && s_int (b, "remaining_minutes") == remaining_min;
    if (b && !ok) {
        char *text = json_dumps (b, JSON_COMPACT);
        fprintf (stderr, "    balance %s\n", text);
        free (text);
    }
    json_decref (b);
    return ok;
}

//  A morning off (09:00-13:00 New York) on the Friday before the 2026
//  spring DST change and on the Monday after: the events carry exactly
//  those instants (14:00-18:00 and 13:00-17:00 UTC), 240 minutes each.
//  Approval keeps a longer shift of theirs (they work the rest of it) and
//  releases only one lying inside the window; a shift inside approved
//  partial leave is refused, a longer one allowed; the coverage report
//  counts them absent only for the window.
static void
s_test_partial_leave_dst (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    char n[PM_ID_MAX], m[PM_ID_MAX], day[PM_ID_MAX], mid[PM_ID_MAX];
    CHECK (s_onboard (c, n, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2026-01-01\""));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2026-01-01\""));
    CHECK (s_template (c, "north", "nurse", "08:00", "16:00", day));
    CHECK (s_template (c, "north", "nurse", "10:00", "12:00", mid));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                           "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                           "\"yearly_days\": 20}}");
    CHECK (r && s_int (r, "hours_per_day") == 8);
    CHECK (strcmp (itest_json_str (r, "accrual"), "ACCRUAL_YEARLY") == 0);
    json_decref (r);
    //  Rostered: the whole day on Monday 03-09, 10:00-12:00 on Friday 03-06.
    r = s_shifts (c, 0, NULL, day, "2026-03-09", "2026-03-09", n);
    CHECK (r);
    json_decref (r);
    r = s_shifts (c, 0, NULL, mid, "2026-03-06", "2026-03-06", n);
    CHECK (r);
    json_decref (r);

    //  Friday in EST (UTC-5), Monday in EDT (UTC-4).
    char fri[PM_ID_MAX], mon[PM_ID_MAX];
    r = s_ask_leave (c, 0, NULL, n, "annual", "2026-03-06", "2026-03-06", "09:00", "13:00");
    CHECK (r && s_int (r, "start") == s_utc ("2026-03-06T14:00"));
    CHECK (s_int (r, "end") == s_utc ("2026-03-06T18:00"));
    CHECK (s_int (r, "minutes") == 240 && s_int (r, "days") == 0);
    snprintf (fri, sizeof fri, "%s", itest_json_str (r, "id"));
    json_decref (r);
    r = s_ask_leave (c, 0, NULL, n, "annual", "2026-03-09", "2026-03-09", "09:00", "13:00");
    CHECK (r && s_int (r, "start") == s_utc ("2026-03-09T13:00"));
    CHECK (s_int (r, "end") == s_utc ("2026-03-09T17:00") && s_int (r, "minutes") == 240);
    snprintf (mon, sizeof mon, "%s", itest_json_str (r, "id"));
    json_decref (r);
    const char *decide = "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}";
    r = itest_req (c, 0, NULL, "staffing.ApproveLeave", decide, mon, m);
    CHECK (r);
    json_decref (r);
    json_t *events = s_stream (c);
    json_t *e = s_last (events, "staffing.leave.approved");
    CHECK (e && strcmp (itest_json_str (e, "data.id"), mon) == 0);
    CHECK (s_int (e, "data.start") == s_utc ("2026-03-09T13:00"));
    CHECK (s_int (e, "data.end") == s_utc ("2026-03-09T17:00"));
    CHECK (strcmp (itest_json_str (e, "data.start_time"), "09:00") == 0);
    CHECK (strcmp (itest_json_str (e, "data.end_time"), "13:00") == 0);
    //  Monday's 08:00-16:00 stays hers: she works the afternoon.
    CHECK (s_count (events, "staffing.shift.unassigned") == 0);
    json_decref (events);
    r = itest_req (c, 0, NULL, "staffing.ApproveLeave", decide, fri, m);
    CHECK (r);
    json_decref (r);
    events = s_stream (c);
    e = s_last (events, "staffing.leave.approved");
    CHECK (e && s_int (e, "data.start") == s_utc ("2026-03-06T14:00"));
    CHECK (s_int (e, "data.end") == s_utc ("2026-03-06T18:00"));
    //  Friday's 10:00-12:00 lies inside the window: released.
    CHECK (s_count (events, "staffing.shift.unassigned") == 1);
    e = s_last (events, "staffing.shift.unassigned");
    CHECK (e && s_int (e, "data.start") == s_utc ("2026-03-06T15:00"));
    CHECK (strstr (itest_json_str (e, "data.reason"), fri) != NULL);
    json_decref (events);

    //  On the next Tuesday with an approved 09:00-13:00: a 10:00-12:00
    //  shift cannot be worked at all; 08:00-16:00 can, around it.
    char tue[PM_ID_MAX];
    CHECK (s_leave_ok (c, m, n, "annual", "2026-03-10", "2026-03-10", "09:00", "13:00", tue));
    CHECK (s_says (s_shifts (c, PM_ECONFLICT, "staff_id", mid, "2026-03-10", "2026-03-10", n),
                   "09:00-13:00"));
    r = s_shifts (c, 0, NULL, day, "2026-03-10", "2026-03-10", n);
    CHECK (r);
    json_decref (r);

    //  Coverage: one nurse 08:00-16:00 on Monday and Tuesday; she is away
    //  09:00-13:00 (13:00-17:00 UTC) each day, and only then.
    r = itest_req (c, 0, NULL, "staffing.AddCoverageRule",
                   "{\"rule\": {\"site_id\": \"north\", \"role\": \"nurse\", "
                   "\"min_headcount\": 1, \"weekdays\": [1, 2], \"from\": \"08:00\", "
                   "\"to\": \"16:00\"}}");
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.CoverageGaps",
                   "{\"site_id\": \"north\", \"from_date\": \"2026-03-09\", \"to_date\": "
                   "\"2026-03-10\"}");
    CHECK (r && s_len (r, "gaps") == 2);
    CHECK (s_int (r, "gaps[0].start") == s_utc ("2026-03-09T13:00"));
    CHECK (s_int (r, "gaps[0].end") == s_utc ("2026-03-09T17:00"));
    CHECK (s_int (r, "gaps[0].rostered") == 0);
    CHECK (s_int (r, "gaps[1].start") == s_utc ("2026-03-10T13:00"));
    CHECK (s_int (r, "gaps[1].end") == s_utc ("2026-03-10T17:00"));
    json_decref (r);
    //  Cancelled, the window is given back (same instants) and covered.
    r = itest_req (c, 0, NULL, "staffing.CancelLeave",
                   "{\"leave_id\": \"%s\", \"reason\": \"appointment moved\"}", mon);
    CHECK (r);
    json_decref (r);
    events = s_stream (c);
    e = s_last (events, "staffing.leave.cancelled");
    CHECK (e && s_int (e, "data.start") == s_utc ("2026-03-09T13:00"));
    CHECK (s_int (e, "data.end") == s_utc ("2026-03-09T17:00"));
    json_decref (events);
    r = itest_req (c, 0, NULL, "staffing.CoverageGaps",
                   "{\"site_id\": \"north\", \"from_date\": \"2026-03-09\", \"to_date\": "
                   "\"2026-03-09\"}");
    CHECK (r && s_len (r, "gaps") == 0);
    json_decref (r);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Balances in days and minutes through whole and partial requests,
//  approvals, a denial and a cancellation; a long window costs one day at
//  most; the refusals: bad times, times over two dates, a closed weekday
//  and a closure, overlaps either way, more than is left (named).
static void
s_test_leave_minutes (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York")); //  Mon-Fri, closed 12-25
    char n[PM_ID_MAX], m[PM_ID_MAX];
    CHECK (s_onboard (c, n, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2026-01-01\""));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2026-01-01\""));
    const char *bad_hours[] = {"0", "25"};
    for (int i = 0; i < 2; i++) {
        CHECK (s_says (itest_req (c, PM_EINVAL, "leave_type.hours_per_day",
                                  "staffing.SetLeaveType",
                                  "{\"leave_type\": {\"id\": \"annual\", \"name\": \"A\", "
                                  "\"yearly_days\": 10, \"hours_per_day\": %s}}",
                                  bad_hours[i]),
                       "1 to 24"));
    }
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                           "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                           "\"yearly_days\": 10, \"hours_per_day\": 8}}");
    CHECK (r);
    json_decref (r);
    json_t *b = s_balance (c, n, "annual", NULL);
    CHECK (b && s_int (b, "allocated") == 10 && s_int (b, "allocated_minutes") == 4800);
    CHECK (s_int (b, "hours_per_day") == 8);
    CHECK (s_holds (b, 0, 0, 10, 0, 0, 4800));

    //  Two whole days, then a morning: 7.5 days left, 7 whole ones.
    char whole[PM_ID_MAX], morning[PM_ID_MAX], late[PM_ID_MAX], early[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-06-01", "2026-06-02", NULL, NULL, whole));
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 2, 8, 0, 960, 3840));
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-06-03", "2026-06-03", "09:00", "13:00",
                       morning));
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 2, 7, 0, 1200, 3600));
    const char *decide = "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}";
    r = itest_req (c, 0, NULL, "staffing.ApproveLeave", decide, whole, m);
    CHECK (r);
    json_decref (r);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 2, 0, 7, 960, 240, 3600));
    r = itest_req (c, 0, NULL, "staffing.DenyLeave",
                   "{\"leave_id\": \"%s\", \"approver_id\": \"%s\", \"reason\": \"audit "
                   "week\"}", morning, m);
    CHECK (r);
    json_decref (r);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 2, 0, 8, 960, 0, 3840));
    //  14:00-17:30, approved: 3h30 more.
    CHECK (s_leave_ok (c, m, n, "annual", "2026-06-04", "2026-06-04", "14:00", "17:30", late));
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 2, 0, 7, 1170, 0, 3630));
    r = itest_req (c, 0, NULL, "staffing.CancelLeave",
                   "{\"leave_id\": \"%s\", \"reason\": \"plans changed\"}", whole);
    CHECK (r);
    json_decref (r);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 0, 9, 210, 0, 4590));
    //  A twelve-hour window costs one day, no more.
    r = s_ask_leave (c, 0, NULL, n, "annual", "2026-06-05", "2026-06-05", "07:00", "19:00");
    CHECK (r && s_int (r, "minutes") == 480);
    char big[PM_ID_MAX];
    snprintf (big, sizeof big, "%s", itest_json_str (r, "id"));
    json_decref (r);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 0, 8, 210, 480, 4110));
    r = itest_req (c, 0, NULL, "staffing.CancelLeave",
                   "{\"leave_id\": \"%s\", \"reason\": \"not needed\"}", big);
    CHECK (r);
    json_decref (r);

    //  Bad times.
    CHECK (s_says (s_ask_leave (c, PM_EINVAL, "end_time", n, "annual", "2026-06-10",
                                "2026-06-10", "13:00", "09:00"),
                   "09:00 is not after start_time 13:00"));
    CHECK (s_says (s_ask_leave (c, PM_EINVAL, "end_date", n, "annual", "2026-06-10",
                                "2026-06-11", "09:00", "13:00"),
                   "covers one date"));
    CHECK (s_says (itest_req (c, PM_EINVAL, "end_time", "staffing.RequestLeave",
                              "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
                              "\"start_date\": \"2026-06-10\", \"end_date\": \"2026-06-10\", "
                              "\"start_time\": \"09:00\"}", n),
                   "both start_time and end_time"));
    CHECK (s_says (s_ask_leave (c, PM_EINVAL, "start_time", n, "annual", "2026-06-10",
                                "2026-06-10", "9am", "13:00"),
                   "HH:MM"));
    //  A Saturday, and Christmas Day.
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "start_date", n, "annual", "2026-06-06",
                                "2026-06-06", "09:00", "13:00"),
                   "does not open on Saturdays"));
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "start_date", n, "annual", "2026-12-25",
                                "2026-12-25", "09:00", "13:00"),
                   "closed on 2026-12-25 (Christmas Day)"));
    //  Overlaps: a window meeting 14:00-17:30; a whole day over it. A
    //  window beside it, the same day, is fine.
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "start_date", n, "annual", "2026-06-04",
                                "2026-06-04", "17:00", "18:00"),
                   late));
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "start_date", n, "annual", "2026-06-03",
                                "2026-06-05", NULL, NULL),
                   late));
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-06-04", "2026-06-04", "08:00", "14:00",
                       early));
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 0, 8, 210, 360, 4230));
    //  A whole day then refuses a window inside it.
    char fri[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-06-12", "2026-06-12", NULL, NULL, fri));
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "start_date", n, "annual", "2026-06-12",
                                "2026-06-12", "09:00", "10:00"),
                   fri));

    //  Over the balance: three days allocated (1440 minutes), 1050 taken
    //  or asked.
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation",
                   "{\"allocation\": {\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
                   "\"year\": 2026, \"days\": 3}}", n);
    CHECK (r);
    json_decref (r);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 1, 0, 210, 840, 390));
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", n, "annual", "2026-06-15",
                                "2026-06-15", "09:00", "16:00"),
                   "0 day(s) 6h30 (390 minutes) of annual left in 2026"));
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", n, "annual", "2026-06-15",
                                "2026-06-15", NULL, NULL),
                   "this asks 1 day(s) (480 minutes)"));
    char last[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-06-15", "2026-06-15", "09:00", "15:30",
                       last));
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 1, 0, 210, 1230, 0));
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Monthly accrual: 12 days a year earn one a month. A December holiday
//  may be booked in May; leave in March may use only what has accrued by
//  its start, and none of what a June week already counts on; the
//  refusals name the date. Someone hired in July earns from July. The
//  balance shows the accrual as of a date, today by default (the
//  service's clock set to 2026-05-20).
static void
s_test_leave_accrual (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    char clock[64];
    snprintf (clock, sizeof clock, "PM_CLOCK_OFFSET_MS=%lld",
              (long long) (s_utc ("2026-05-20T16:00") - pm_clock_wall_ms ()));
    svc.env[0] = clock;
    svc.env[1] = NULL;
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    char a[PM_ID_MAX], h[PM_ID_MAX];
    CHECK (s_onboard (c, a, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2025-06-01\""));
    CHECK (s_onboard (c, h, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2026-07-15\""));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                           "{\"leave_type\": {\"id\": \"pto\", \"name\": \"Paid time off\", "
                           "\"yearly_days\": 12, \"accrual\": \"ACCRUAL_MONTHLY\"}}");
    CHECK (r && strcmp (itest_json_str (r, "accrual"), "ACCRUAL_MONTHLY") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                   "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                   "\"yearly_days\": 20}}");
    CHECK (r);
    json_decref (r);

    //  Today (2026-05-20): five months earned of twelve.
    json_t *b = s_balance (c, a, "pto", NULL);
    CHECK (b && strcmp (itest_json_str (b, "as_of"), "2026-05-20") == 0);
    CHECK (s_int (b, "accrued_minutes") == 5 * 480 && s_int (b, "allocated_minutes") == 5760);
    CHECK (s_int (b, "available_minutes") == 5 * 480);
    CHECK (strcmp (itest_json_str (b, "accrual"), "ACCRUAL_MONTHLY") == 0);
    json_decref (b);
    b = s_balance (c, a, "pto", "2026-03-15");
    CHECK (b && s_int (b, "accrued_minutes") == 3 * 480);
    json_decref (b);
    CHECK (s_says (itest_req (c, PM_EINVAL, "as_of", "staffing.LeaveBalance",
                              "{\"staff_id\": \"%s\", \"leave_type\": \"pto\", \"year\": "
                              "2026, \"as_of\": \"2027-01-04\"}", a),
                   "not in 2026"));
    //  A later year's balance, asked today, is as of its first day.
    b = itest_req (c, 0, NULL, "staffing.LeaveBalance",
                   "{\"staff_id\": \"%s\", \"leave_type\": \"pto\", \"year\": 2027}", a);
    CHECK (b && strcmp (itest_json_str (b, "as_of"), "2027-01-01") == 0);
    CHECK (s_int (b, "accrued_minutes") == 480);
    json_decref (b);

    //  December booked in May: twelve days earned by then.
    char dec[PM_ID_MAX], jun[PM_ID_MAX], mar[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, a, "pto", "2026-12-14", "2026-12-15", NULL, NULL, dec));
    //  Five days from 03-09: only three earned by then.
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", a, "pto", "2026-03-09",
                                "2026-03-13", NULL, NULL),
                   "3 day(s) (1440 minutes) of pto will have accrued by 2026-03-09"));
    //  A week in June (six earned by 06-22).
    CHECK (s_leave_ok (c, NULL, a, "pto", "2026-06-22", "2026-06-26", NULL, NULL, jun));
    //  Three days in March fit March (three earned) and the year (seven
    //  left), but would take what June's week counts on: refused, naming
    //  06-22 and that leave. One day fits.
    json_t *err = s_ask_leave (c, PM_ECONFLICT, "leave_type", a, "pto", "2026-03-10",
                               "2026-03-12", NULL, NULL);
    CHECK (err && strstr (itest_json_str (err, "message"), jun));
    CHECK (s_says (err, "6 day(s) (2880 minutes) of pto will have accrued by 2026-06-22"));
    CHECK (s_leave_ok (c, NULL, a, "pto", "2026-03-10", "2026-03-10", NULL, NULL, mar));
    //  Partial leave counts its minutes against the accrual too.
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", a, "pto", "2026-06-19",
                                "2026-06-19", "09:00", "10:00"),
                   "by 2026-06-22"));
    //  Today: five days earned, four remain in the year, none can go now
    //  (June needs all six earned by then); from July one can.
    b = s_balance (c, a, "pto", NULL);
    CHECK (b && s_int (b, "accrued_minutes") == 5 * 480);
    CHECK (s_int (b, "remaining_minutes") == 4 * 480 && s_int (b, "requested") == 8);
    CHECK (s_int (b, "available_minutes") == 0);
    json_decref (b);
    b = s_balance (c, a, "pto", "2026-07-01");
    CHECK (b && s_int (b, "accrued_minutes") == 7 * 480 && s_int (b, "available_minutes") == 480);
    json_decref (b);

    //  Hired 2026-07-15: July to December, six days, not twelve.
    b = s_balance (c, h, "pto", "2026-12-31");
    CHECK (b && s_int (b, "accrued_minutes") == 6 * 480 && s_int (b, "allocated") == 12);
    json_decref (b);
    b = s_balance (c, h, "pto", "2026-07-20");
    CHECK (b && s_int (b, "accrued_minutes") == 480 && s_int (b, "available_minutes") == 480);
    json_decref (b);
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", h, "pto", "2026-08-03",
                                "2026-08-05", NULL, NULL),
                   "2 day(s) (960 minutes) of pto will have accrued by 2026-08-03 (1 day(s) "
                   "(480 minutes) a month from 2026-07)"));
    char aug[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, h, "pto", "2026-08-03", "2026-08-04", NULL, NULL, aug));
    //  A yearly type gives them the whole allocation at once, as before.
    b = s_balance (c, h, "annual", "2026-07-20");
    CHECK (b && s_int (b, "accrued_minutes") == 20 * 480);
    CHECK (strcmp (itest_json_str (b, "accrual"), "ACCRUAL_YEARLY") == 0);
    json_decref (b);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- carry-over, pro-rating, leave across a year end ----------------------------

//  The balance of `staff` in `type` for `year` as of `as_of` (NULL: today).
static json_t *
s_balance_in (pm_client_t *c, const char *staff, const char *type, int year,
              const char *as_of)
{
    char extra[64] = "";
    if (as_of) {
        snprintf (extra, sizeof extra, ", \"as_of\": \"%s\"", as_of);
    }
    return itest_req (c, 0, NULL, "staffing.LeaveBalance",
                      "{\"staff_id\": \"%s\", \"leave_type\": \"%s\", \"year\": %d%s}", staff,
                      type, year, extra);
}

//  True when balance `b` holds these carried minutes (in, used, expired)
//  and remaining and available minutes; says what it held otherwise.
//  Takes `b`.
static bool
s_carries (json_t *b, long long in, long long used, long long expired, long long remaining,
           long long available)
{
    bool ok = b && s_int (b, "carried_in_minutes") == in
              && s_int (b, "carried_used_minutes") == used
              && s_int (b, "carried_expired_minutes") == expired
              && s_int (b, "remaining_minutes") == remaining
              && s_int (b, "available_minutes") == available;
    if (b && !ok) {
        char *text = json_dumps (b, JSON_COMPACT);
        fprintf (stderr, "    balance %s\n", text);
        free (text);
    }
    json_decref (b);
    return ok;
}

//  Carry-over: 10 days a year, at most 5 carried, usable until the end of
//  March. 2026 leaves 8 unused: 5 carry. Leave waiting for a decision
//  counts as taken (a denial gives it back to the carry); a past year's
//  allocation changed changes what carries. 2027's March leave takes the
//  carried days first, so only what is left of them expires; a request
//  after the expiry cannot use them (the refusal names the date) while
//  the same request in March can. A 2026 request that would carry less
//  than 2027's booked leave needs is refused, naming 2027.
static void
s_test_leave_carry_over (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York")); //  Mon-Fri
    char n[PM_ID_MAX], m[PM_ID_MAX];
    CHECK (s_onboard (c, n, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2026-01-01\""));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2026-01-01\""));
    const char *type = "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                       "\"yearly_days\": 10%s}}";
    CHECK (s_says (itest_req (c, PM_EINVAL, "leave_type.carry_over_expiry_months",
                              "staffing.SetLeaveType", type,
                              ", \"carry_over_expiry_months\": 3"),
                   "nothing carries over"));
    CHECK (s_says (itest_req (c, PM_EINVAL, "leave_type.carry_over_expiry_months",
                              "staffing.SetLeaveType", type,
                              ", \"carry_over_days\": 5, \"carry_over_expiry_months\": 13"),
                   "0 to 12"));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType", type,
                           ", \"carry_over_days\": 5, \"carry_over_expiry_months\": 3");
    CHECK (r && s_int (r, "carry_over_days") == 5 && s_int (r, "carry_over_expiry_months") == 3);
    json_decref (r);

    //  2026: two days taken, eight unused, five carry (the cap).
    char jun[PM_ID_MAX], dec[PM_ID_MAX];
    CHECK (s_leave_ok (c, m, n, "annual", "2026-06-01", "2026-06-02", NULL, NULL, jun));
    json_t *b = s_balance_in (c, n, "annual", 2027, "2027-01-15");
    CHECK (b && s_int (b, "allocated_minutes") == 4800);
    CHECK (strcmp (itest_json_str (b, "carried_until"), "2027-03-31") == 0);
    CHECK (s_carries (b, 2400, 0, 0, 7200, 7200));
    //  Four days asked in December: until decided they count as taken.
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-12-07", "2026-12-10", NULL, NULL, dec));
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-01-15"), 1920, 0, 0, 6720,
                      6720));
    r = itest_req (c, 0, NULL, "staffing.DenyLeave",
                   "{\"leave_id\": \"%s\", \"approver_id\": \"%s\", \"reason\": \"audit\"}",
                   dec, m);
    CHECK (r);
    json_decref (r);
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-01-15"), 2400, 0, 0, 7200,
                      7200));
    //  2026's allocation corrected afterwards to 6: four unused, four carry.
    const char *alloc = "{\"allocation\": {\"staff_id\": \"%s\", \"leave_type\": "
                        "\"annual\", \"year\": %d, \"days\": %d}}";
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation", alloc, n, 2026, 6);
    CHECK (r);
    json_decref (r);
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-01-15"), 1920, 0, 0, 6720,
                      6720));
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation", alloc, n, 2026, 10);
    CHECK (r);
    json_decref (r);

    //  2027: three days in March come out of the carried five; two expire
    //  after March; the year's own ten stay whole.
    char mar[PM_ID_MAX], late[PM_ID_MAX];
    CHECK (s_leave_ok (c, m, n, "annual", "2027-03-01", "2027-03-03", NULL, NULL, mar));
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-03-31"), 2400, 1440, 0, 5760,
                      5760));
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-04-01"), 2400, 1440, 960, 4800,
                      4800));
    //  Eleven working days from April 5: the expired two cannot pay.
    json_t *err = s_ask_leave (c, PM_ECONFLICT, "leave_type", n, "annual", "2027-04-05",
                               "2027-04-19", NULL, NULL);
    CHECK (err && strstr (itest_json_str (err, "message"),
                          "10 day(s) (4800 minutes) of annual left in 2027"));
    CHECK (s_says (err, "5 day(s) (2400 minutes) carried over from 2026 usable until "
                        "2027-03-31: 2 day(s) (960 minutes) of it expired unused"));
    //  The same eleven days from March 15 may use them.
    CHECK (s_leave_ok (c, NULL, n, "annual", "2027-03-15", "2027-03-29", NULL, NULL, late));
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-04-01"), 2400, 2400, 0, 480,
                      480));

    //  2027's leave now needs all five carried days but one. Five more
    //  days in 2026 would carry three: refused, naming 2027; four fit.
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", n, "annual", "2026-11-02",
                                "2026-11-06", NULL, NULL),
                   "it would carry 2 day(s) (960 minutes) less of annual into 2027, where "
                   "the leave taken or asked would then be 1 day(s) (480 minutes) short"));
    char nov[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, n, "annual", "2026-11-02", "2026-11-05", NULL, NULL, nov));
    CHECK (s_carries (s_balance_in (c, n, "annual", 2027, "2027-04-01"), 1920, 1920, 0, 0, 0));
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Pro-rating: 20 days a year, pro-rated. Hired 2026-07-15: July to
//  December, 10 days (a type that does not pro-rate gives all 20), and
//  20 in 2027; hired 2026-03-02: ten months, 16 days 5h20 in exact
//  minutes. Someone who leaves on 2026-09-10 keeps nine months, 15 days:
//  the 16 they took show one day overdrawn; a monthly type stops
//  accruing after September.
static void
s_test_leave_pro_rating (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    char h[PM_ID_MAX], mh[PM_ID_MAX], e[PM_ID_MAX], m[PM_ID_MAX];
    const char *post = "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"north\", "
                       "\"fte_permille\": 1000}], \"start_date\": ";
    char fields[256];
    snprintf (fields, sizeof fields, "%s\"2026-07-15\"", post);
    CHECK (s_onboard (c, h, fields));
    snprintf (fields, sizeof fields, "%s\"2026-03-02\"", post);
    CHECK (s_onboard (c, mh, fields));
    snprintf (fields, sizeof fields, "%s\"2025-03-01\"", post);
    CHECK (s_onboard (c, e, fields));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2025-01-01\""));
    CHECK (s_says (itest_req (c, PM_EINVAL, "leave_type.pro_rate_yearly",
                              "staffing.SetLeaveType",
                              "{\"leave_type\": {\"id\": \"pto\", \"name\": \"PTO\", "
                              "\"yearly_days\": 12, \"accrual\": \"ACCRUAL_MONTHLY\", "
                              "\"pro_rate_yearly\": true}}"),
                   "only for ACCRUAL_YEARLY"));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                           "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                           "\"yearly_days\": 20, \"pro_rate_yearly\": true}}");
    CHECK (r && json_is_true (itest_json_at (r, "pro_rate_yearly")));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                   "{\"leave_type\": {\"id\": \"flat\", \"name\": \"Flat\", "
                   "\"yearly_days\": 20}}");
    CHECK (r);
    json_decref (r);

    //  Hired in July: six months of twenty days.
    json_t *b = s_balance_in (c, h, "annual", 2026, NULL);
    CHECK (b && s_int (b, "allocated") == 20 && s_int (b, "prorated_months") == 6);
    CHECK (s_int (b, "allocated_minutes") == 4800 && s_int (b, "remaining") == 10);
    json_decref (b);
    b = s_balance_in (c, h, "annual", 2027, NULL);
    CHECK (b && s_int (b, "allocated_minutes") == 9600);
    CHECK (itest_json_at (b, "prorated_months") == NULL);
    json_decref (b);
    b = s_balance_in (c, h, "flat", 2026, NULL);
    CHECK (b && s_int (b, "allocated_minutes") == 9600);
    json_decref (b);
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", h, "annual", "2026-08-03",
                                "2026-08-17", NULL, NULL),
                   "10 day(s) (4800 minutes) of annual left in 2026 (20 day(s) allocated at "
                   "8 hour(s) a day, pro-rated for 6 month(s) to 10 day(s) (4800 minutes)"));
    char aug[PM_ID_MAX];
    CHECK (s_leave_ok (c, NULL, h, "annual", "2026-08-03", "2026-08-14", NULL, NULL, aug));
    //  Hired in March: ten twelfths, exact to the minute.
    b = s_balance_in (c, mh, "annual", 2026, NULL);
    CHECK (b && s_int (b, "prorated_months") == 10 && s_int (b, "allocated_minutes") == 8000);
    CHECK (s_int (b, "remaining") == 16);
    json_decref (b);

    //  16 days taken in February; leaving on 2026-09-10 cuts the year to
    //  January..September.
    char feb[PM_ID_MAX];
    CHECK (s_leave_ok (c, m, e, "annual", "2026-02-02", "2026-02-23", NULL, NULL, feb));
    b = s_balance_in (c, e, "annual", 2026, NULL);
    CHECK (b && s_int (b, "allocated_minutes") == 9600 && s_int (b, "remaining") == 4);
    json_decref (b);
    r = itest_req (c, 0, NULL, "staffing.Terminate",
                   "{\"staff_id\": \"%s\", \"end_date\": \"2026-09-10\", \"reason\": "
                   "\"moved away\"}", e);
    CHECK (r);
    json_decref (r);
    b = s_balance_in (c, e, "annual", 2026, NULL);
    CHECK (b && s_int (b, "prorated_months") == 9 && s_int (b, "allocated_minutes") == 7200);
    CHECK (s_int (b, "remaining_minutes") == -480 && s_int (b, "remaining") == -1);
    json_decref (b);
    //  Monthly accrual stops after the month they leave.
    r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                   "{\"leave_type\": {\"id\": \"pto\", \"name\": \"PTO\", "
                   "\"yearly_days\": 12, \"accrual\": \"ACCRUAL_MONTHLY\"}}");
    CHECK (r);
    json_decref (r);
    b = s_balance_in (c, e, "pto", 2026, "2026-12-31");
    CHECK (b && s_int (b, "accrued_minutes") == 9 * 480);
    json_decref (b);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Whole days from Monday 2026-12-28 to Sunday 2027-01-03: one leave, one
//  UTC range (New York midnights), four working days counted in 2026 and
//  one (New Year's Day, a Friday) in 2027. Refused when either year is
//  short, naming it; a window may not cross dates.
static void
s_test_leave_year_end (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    char n[PM_ID_MAX], m[PM_ID_MAX];
    CHECK (s_onboard (c, n, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                            "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                            "\"2026-01-01\""));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2026-01-01\""));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                           "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                           "\"yearly_days\": 20}}");
    CHECK (r);
    json_decref (r);
    const char *alloc = "{\"allocation\": {\"staff_id\": \"%s\", \"leave_type\": "
                        "\"annual\", \"year\": %d, \"days\": %d}}";

    //  2026 short (three days for four), then 2027 (none for one).
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation", alloc, n, 2026, 3);
    json_decref (r);
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", n, "annual", "2026-12-28",
                                "2027-01-03", NULL, NULL),
                   "3 day(s) (1440 minutes) of annual left in 2026 (3 day(s) allocated at 8 "
                   "hour(s) a day, 0 day(s) (0 minutes) approved, 0 day(s) (0 minutes) "
                   "requested); this asks 4 day(s) (1920 minutes) in 2026 (of 5 day(s) from "
                   "2026-12-28 to 2027-01-03)"));
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation", alloc, n, 2026, 20);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation", alloc, n, 2027, 0);
    json_decref (r);
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "leave_type", n, "annual", "2026-12-28",
                                "2027-01-03", NULL, NULL),
                   "0 day(s) (0 minutes) of annual left in 2027"));
    r = itest_req (c, 0, NULL, "staffing.SetLeaveAllocation", alloc, n, 2027, 1);
    CHECK (r);
    json_decref (r);

    //  Accepted: one leave over both years.
    r = s_ask_leave (c, 0, NULL, n, "annual", "2026-12-28", "2027-01-03", NULL, NULL);
    CHECK (r && s_int (r, "days") == 5 && s_int (r, "minutes") == 2400);
    CHECK (s_int (r, "year_days[0].year") == 2026 && s_int (r, "year_days[0].days") == 4);
    CHECK (s_int (r, "year_days[1].year") == 2027 && s_int (r, "year_days[1].days") == 1);
    char lv[PM_ID_MAX];
    snprintf (lv, sizeof lv, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 0, 4, 16, 0, 1920, 7680));
    CHECK (s_holds (s_balance_in (c, n, "annual", 2027, NULL), 0, 1, 0, 0, 480, 0));
    r = itest_req (c, 0, NULL, "staffing.ApproveLeave",
                   "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}", lv, m);
    CHECK (r);
    json_decref (r);
    json_t *events = s_stream (c);
    CHECK (s_count (events, "staffing.leave.requested") == 1);
    json_t *e = s_last (events, "staffing.leave.approved");
    CHECK (e && strcmp (itest_json_str (e, "data.id"), lv) == 0);
    CHECK (s_int (e, "data.start") == s_utc ("2026-12-28T05:00"));
    CHECK (s_int (e, "data.end") == s_utc ("2027-01-04T05:00"));
    json_decref (events);
    CHECK (s_holds (s_balance (c, n, "annual", NULL), 4, 0, 16, 1920, 0, 7680));
    CHECK (s_holds (s_balance_in (c, n, "annual", 2027, NULL), 1, 0, 0, 480, 0, 0));
    //  Its dates are held in both years; a window still covers one date.
    CHECK (s_says (s_ask_leave (c, PM_ECONFLICT, "start_date", n, "annual", "2027-01-01",
                                "2027-01-01", "09:00", "10:00"),
                   lv));
    CHECK (s_says (s_ask_leave (c, PM_EINVAL, "end_date", n, "annual", "2027-12-31",
                                "2028-01-01", "09:00", "10:00"),
                   "covers one date"));
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  Waits until scheduling (`sched`) has applied all that staffing and
//  patients have published.
static bool
s_followed (pm_client_t *sched, pm_client_t *staffing, pm_client_t *patients)
{
    uint64_t want_s = s_high_seq (staffing), want_p = s_high_seq (patients);
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until) {
        Pm__Health *h = itest_health (sched);
        int done = 0;
        for (size_t i = 0; h && i < h->n_consumers; i++) {
            const Pm__ConsumerLag *lag = h->consumers[i];
            uint64_t want = strcmp (lag->source, "staffing") == 0 ? want_s : want_p;
            done += lag->cursor >= want && !lag->catching_up;
        }
        pm__health__free_unpacked (h, NULL);
        if (done == 2) {
            return true;
        }
        zclock_sleep (10);
    }
    return false;
}

//  The real scheduling following the real staffing (and patients): a
//  physician rostered 08:00-18:00 with the afternoon off (13:00-18:00
//  New York, approved) is offered the morning only, and a booking in the
//  afternoon is refused because of the leave; the morning books.
static void
s_test_partial_leave_slots (void)
{
    itest_svc_t stf, pat, sch;
    itest_svc_init (&stf, "staffing", "pm-staffing");
    itest_svc_init (&pat, "patients", "pm-patients");
    itest_svc_init (&sch, "scheduling", "pm-scheduling");
    CHECK (itest_start (&stf) == 0 && itest_start (&pat) == 0);
    itest_point_at (&sch, &stf);
    itest_point_at (&sch, &pat);
    CHECK (itest_start (&sch) == 0);
    pm_client_t *c = itest_client (&stf), *p = itest_client (&pat), *s = itest_client (&sch);
    CHECK (s_site (c, "north", "America/New_York"));
    json_t *r = itest_req (c, 0, NULL, "staffing.AddResource",
                           "{\"resource\": {\"site_id\": \"north\", \"name\": \"Room 1\", "
                           "\"category\": \"ROOM\", \"kind\": \"exam-room\"}}");
    CHECK (r);
    json_decref (r);
    char doc[PM_ID_MAX], m[PM_ID_MAX], day[PM_ID_MAX], lv[PM_ID_MAX], patient[PM_ID_MAX];
    CHECK (s_onboard (c, doc, "\"roles\": [\"physician\"], \"sites\": [{\"site_id\": "
                              "\"north\", \"fte_permille\": 1000}], \"start_date\": "
                              "\"2029-01-01\""));
    CHECK (s_onboard (c, m, "\"roles\": [\"practice-manager\"], \"sites\": "
                            "[{\"site_id\": \"north\", \"fte_permille\": 1000}], "
                            "\"start_date\": \"2029-01-01\""));
    CHECK (s_template (c, "north", "physician", "08:00", "18:00", day));
    r = s_shifts (c, 0, NULL, day, "2030-03-06", "2030-03-06", doc);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.SetLeaveType",
                   "{\"leave_type\": {\"id\": \"annual\", \"name\": \"Annual\", "
                   "\"yearly_days\": 20}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_leave_ok (c, m, doc, "annual", "2030-03-06", "2030-03-06", "13:00", "18:00", lv));
    r = itest_req (p, 0, NULL, "patients.Register",
                   "{\"patient\": {\"name\": {\"family\": \"Alvarez\", \"given\": [\"Ana\"]}, "
                   "\"birth_date\": \"1980-02-03\", \"home_site\": \"north\"}}");
    snprintf (patient, sizeof patient, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    CHECK (pm_id_valid (patient, "pat"));
    CHECK (s_followed (s, c, p));
    r = itest_req (s, 0, NULL, "scheduling.DefineType",
                   "{\"type\": {\"site_id\": \"north\", \"name\": \"Consultation\", "
                   "\"duration_minutes\": 30, \"practitioner_role\": \"physician\", "
                   "\"room_kind\": \"exam-room\", \"price_code\": \"cons-30\"}}");
    char type[PM_ID_MAX];
    snprintf (type, sizeof type, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    CHECK (pm_id_valid (type, "atp"));

    //  Wednesday in EST: the shift is 13:00-23:00 UTC, the leave from 18:00.
    r = itest_req (s, 0, NULL, "scheduling.FindSlots",
                   "{\"type_id\": \"%s\", \"practitioner_id\": \"%s\", \"from\": %lld, "
                   "\"to\": %lld, \"limit\": 100}", type, doc,
                   (long long) s_utc ("2030-03-06T00:00"), (long long) s_utc ("2030-03-07T00:00"));
    CHECK (r && s_len (r, "slots") == 10);
    CHECK (s_int (r, "slots[0].start") == s_utc ("2030-03-06T13:00"));
    CHECK (s_int (r, "slots[9].end") == s_utc ("2030-03-06T18:00"));
    json_decref (r);
    const char *book = "{\"patient_id\": \"%s\", \"type_id\": \"%s\", \"practitioner_id\": "
                       "\"%s\", \"start\": %lld}";
    CHECK (s_says (itest_req (s, PM_ECONFLICT, "practitioner_id", "scheduling.Book", book,
                              patient, type, doc, (long long) s_utc ("2030-03-06T19:00")),
                   "on approved leave"));
    CHECK (s_says (itest_req (s, PM_ECONFLICT, "practitioner_id", "scheduling.Book", book,
                              patient, type, doc, (long long) s_utc ("2030-03-06T17:45")),
                   "on approved leave"));
    r = itest_req (s, 0, NULL, "scheduling.Book", book, patient, type, doc,
                   (long long) s_utc ("2030-03-06T17:30"));
    CHECK (r && s_int (r, "end") == s_utc ("2030-03-06T18:00"));
    json_decref (r);
    pm_client_destroy (&c);
    pm_client_destroy (&p);
    pm_client_destroy (&s);
    itest_cleanup (&sch);
    itest_cleanup (&pat);
    itest_cleanup (&stf);
}

//  --- training ------------------------------------------------------------------

//  staffing.training.overdue events about `staff` and `course`.
static int
s_overdue_events (json_t *events, const char *staff, const char *course)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach (events, i, e) {
        n += strcmp (itest_json_str (e, "type"), "staffing.training.overdue") == 0
             && strcmp (itest_json_str (e, "subject"), staff) == 0
             && strcmp (itest_json_str (e, "data.course"), course) == 0;
    }
    return n;
}

//  Waits until the stream holds `count` overdue events for the pair.
static json_t *
s_wait_overdue (pm_client_t *c, const char *staff, const char *course, int count)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    json_t *events = NULL;
    do {
        json_decref (events);
        events = s_stream (c);
        if (events && s_overdue_events (events, staff, course) >= count) {
            return events;
        }
        zclock_sleep (20);
    } while (itest_now () < until);
    fprintf (stderr, "    waited for %d overdue %s of %s\n", count, course, staff);
    return events;
}

//  Courses per role with renewal and grace periods; completions; the
//  overdue list; staffing.training.overdue once per due date, across
//  restarts and as the clock moves a renewal period on.
static void
s_test_training (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    svc.env[0] = "PM_STAFFING_TICK_MS=50";
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "zulu", "UTC"));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetRoleRequirements",
                       "{\"requirements\": {\"role\": \"nurse\", \"trainings\": "
                       "[{\"course\": \"bls\", \"title\": \"Basic life support\", "
                       "\"renewal_days\": 365, \"grace_days\": 30}, {\"course\": "
                       "\"hipaa\", \"grace_days\": 14}]}}");
    CHECK (r && s_len (r, "trainings") == 2);
    json_decref (r);
    char veteran[PM_ID_MAX], rookie[PM_ID_MAX], start[11], today[11], fields[256];
    s_date (-60, start);
    s_date (0, today);
    const char *nurse = "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"zulu\", "
                        "\"fte_permille\": 1000}], \"start_date\": \"%s\"";
    snprintf (fields, sizeof fields, nurse, start);
    CHECK (s_onboard (c, veteran, fields));
    snprintf (fields, sizeof fields, nurse, today);
    CHECK (s_onboard (c, rookie, fields));

    //  Sixty days in, both grace periods are over: two warnings.
    json_t *events = s_wait_overdue (c, veteran, "hipaa", 1);
    json_decref (events);
    events = s_wait_overdue (c, veteran, "bls", 1);
    CHECK (events && s_overdue_events (events, veteran, "bls") == 1);
    CHECK (s_overdue_events (events, veteran, "hipaa") == 1);
    CHECK (s_overdue_events (events, rookie, "bls") == 0);
    json_decref (events);
    r = itest_req (c, 0, NULL, "staffing.TrainingOverdue", "{\"site_id\": \"zulu\"}");
    CHECK (r && s_len (r, "statuses") == 2);
    CHECK (strcmp (itest_json_str (r, "statuses[0].course"), "hipaa") == 0); //  due first
    CHECK (strcmp (itest_json_str (r, "statuses[0].staff_id"), veteran) == 0);
    CHECK (strcmp (itest_json_str (r, "statuses[0].name.family"), "Doe") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListTraining", "{\"staff_id\": \"%s\"}", rookie);
    CHECK (r && s_len (r, "statuses") == 2);
    char due[11];
    s_date_add (today, 30, due);
    CHECK (strcmp (itest_json_str (r, "statuses[0].course"), "bls") == 0);
    CHECK (strcmp (itest_json_str (r, "statuses[0].due_date"), due) == 0);
    json_decref (r);

    //  Completed yesterday: nobody overdue; BLS due again in 364 days.
    char yesterday[11];
    s_date_add (today, -1, yesterday);
    const char *record = "{\"completion\": {\"staff_id\": \"%s\", \"course\": \"%s\", "
                         "\"completed_on\": \"%s\"}}";
    r = itest_req (c, 0, NULL, "staffing.RecordTraining", record, veteran, "bls", yesterday);
    CHECK (r && pm_id_valid (itest_json_str (r, "id"), "trn"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.RecordTraining", record, veteran, "hipaa", yesterday);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.TrainingOverdue", "{\"site_id\": \"zulu\"}");
    CHECK (r && s_len (r, "statuses") == 0);
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.ListTraining", "{\"staff_id\": \"%s\"}", veteran);
    s_date_add (yesterday, 365, due);
    CHECK (r && strcmp (itest_json_str (r, "statuses[0].due_date"), due) == 0);
    CHECK (!*itest_json_str (r, "statuses[1].due_date")); //  HIPAA: once is enough
    json_decref (r);

    //  Bad input.
    char tomorrow[11];
    s_date_add (today, 2, tomorrow);
    r = itest_req (c, PM_EINVAL, "completion.completed_on", "staffing.RecordTraining", record,
               veteran, "bls", tomorrow);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_EINVAL, "completion.course", "staffing.RecordTraining", record,
               veteran, "First Aid", yesterday);
    CHECK (r);
    json_decref (r);
    r = itest_req (c, PM_ENOTFOUND, "completion.staff_id", "staffing.RecordTraining", record,
               "stf_01m8e8rx5n3r2py41feft8x8rn", "bls", yesterday);
    CHECK (r);
    json_decref (r);

    //  400 days on: the veteran's BLS is due again (a new due date, a new
    //  warning); HIPAA is not; the rookie's grace periods are over.
    char off[64], later[11];
    s_date_add (today, 400, later);
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, later, 12) == 0);
    events = s_wait_overdue (c, veteran, "bls", 2);
    json_decref (events);
    events = s_wait_overdue (c, rookie, "hipaa", 1);
    json_decref (events);
    events = s_wait_overdue (c, rookie, "bls", 1);
    json_decref (events);
    //  Restarted again, and a new course for nurses: its warnings come,
    //  the earlier ones do not come again.
    CHECK (s_restart_at (&svc, &c, 1, off, sizeof off, later, 13) == 0);
    r = itest_req (c, 0, NULL, "staffing.SetRoleRequirements",
               "{\"requirements\": {\"role\": \"nurse\", \"trainings\": "
               "[{\"course\": \"bls\", \"renewal_days\": 365, \"grace_days\": 30}, "
               "{\"course\": \"hipaa\", \"grace_days\": 14}, {\"course\": "
               "\"fire-safety\"}]}}");
    CHECK (r && s_int (r, "version") == 2);
    json_decref (r);
    events = s_wait_overdue (c, rookie, "fire-safety", 1);
    json_decref (events);
    events = s_wait_overdue (c, veteran, "fire-safety", 1);
    CHECK (events && s_overdue_events (events, veteran, "bls") == 2);
    CHECK (s_overdue_events (events, veteran, "hipaa") == 1);
    CHECK (s_overdue_events (events, rookie, "bls") == 1);
    CHECK (s_overdue_events (events, rookie, "hipaa") == 1);
    CHECK (s_overdue_events (events, rookie, "fire-safety") == 1);
    json_decref (events);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

//  --- a consumer of the staffing stream -----------------------------------------

//  The consumer's stats (caller frees), NULL on no answer.
static Pm__Test__MirrorStats *
s_hours_stats (pm_client_t *hc)
{
    Pm__Reply *reply = itest_call (hc, "hours.Stats", NULL);
    Pm__Test__MirrorStats *stats = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        stats = pm__test__mirror_stats__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return stats;
}

//  Waits until the consumer has applied `applied` events.
static Pm__Test__MirrorStats *
s_hours_wait (pm_client_t *hc, uint64_t applied)
{
    int64_t until = itest_now () + ITEST_WAIT_MS;
    Pm__Test__MirrorStats *stats = NULL;
    do {
        pm__test__mirror_stats__free_unpacked (stats, NULL);
        stats = s_hours_stats (hc);
        if (stats && stats->applied >= applied) {
            return stats;
        }
        zclock_sleep (10);
    } while (itest_now () < until);
    return stats;
}

//  A person's rostered minutes as the consumer sees them; -1 if none.
static long long
s_hours_of (pm_client_t *hc, const char *staff)
{
    Pm__Test__MirrorGet get = PM__TEST__MIRROR_GET__INIT;
    get.id = (char *) staff;
    Pm__Reply *reply = itest_call (hc, "hours.Get", &get.base);
    long long minutes = -1;
    if (reply && reply->code == PM__CODE__OK) {
        Pm__Test__MirrorEntry *e = pm__test__mirror_entry__unpack (NULL, reply->body.len,
                                                                    reply->body.data);
        minutes = e ? (long long) e->version : -1;
        pm__test__mirror_entry__free_unpacked (e, NULL);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return minutes;
}

//  A consumer that follows the staffing stream builds working hours from
//  the shift events; offline while the roster changes, it catches up from
//  its durable cursor and applies every event once.
static void
s_test_consumer_catches_up (void)
{
    itest_svc_t svc, hrs;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    itest_svc_init (&hrs, "hours", "pm_hours");
    CHECK (itest_start (&svc) == 0);
    itest_point_at (&hrs, &svc);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "nyc", "America/New_York"));
    char nurse[PM_ID_MAX], night[PM_ID_MAX];
    CHECK (s_onboard (c, nurse, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                                "\"nyc\", \"fte_permille\": 1000}], \"start_date\": "
                                "\"2026-01-01\""));
    CHECK (s_template (c, "nyc", "nurse", "22:00", "06:00", night));
    json_t *r = s_shifts (c, 0, NULL, night, "2026-10-26", "2026-10-30", nurse);
    CHECK (r && s_len (r, "shifts") == 5);
    json_decref (r);

    CHECK (itest_start (&hrs) == 0);
    pm_client_t *hc = itest_client (&hrs);
    uint64_t high = s_high_seq (c);
    Pm__Test__MirrorStats *stats = s_hours_wait (hc, high);
    CHECK (stats && stats->applied == high && stats->patients == 5);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    CHECK (s_hours_of (hc, nurse) == 5 * 8 * 60);

    //  Offline while the roster changes: two more nights (one across the
    //  DST change, 9 hours) and one taken off again.
    itest_signal (&hrs, SIGTERM);
    r = s_shifts (c, 0, NULL, night, "2026-10-31", "2026-11-01", nurse);
    CHECK (r && s_len (r, "shifts") == 2);
    json_decref (r);
    r = s_shifts (c, 0, NULL, night, "2026-10-24", "2026-10-24", nurse);
    CHECK (r);
    char taken_off[PM_ID_MAX];
    snprintf (taken_off, sizeof taken_off, "%s", itest_json_str (r, "shifts[0].id"));
    json_decref (r);
    r = itest_req (c, 0, NULL, "staffing.UnassignShift",
               "{\"shift_id\": \"%s\", \"reason\": \"sick\"}", taken_off);
    CHECK (r);
    json_decref (r);
    uint64_t high2 = s_high_seq (c);
    CHECK (high2 == high + 4);

    CHECK (s_start_again (&hrs) == 0);
    pm_client_destroy (&hc);
    hc = itest_client (&hrs);
    stats = s_hours_wait (hc, high2);
    CHECK (stats && stats->applied == high2);
    CHECK (stats->applied_this_run == 4); //  from the cursor, not from 1
    CHECK (stats->duplicates == 0 && stats->patients == 8);
    pm__test__mirror_stats__free_unpacked (stats, NULL);
    //  Six 8-hour nights and the 9-hour one.
    CHECK (s_hours_of (hc, nurse) == (6 * 8 + 9) * 60);
    Pm__Health *h = itest_health (hc);
    CHECK (h && h->n_consumers == 1 && h->consumers[0]->cursor == high2);
    CHECK (strcmp (h->consumers[0]->source, "staffing") == 0);
    pm__health__free_unpacked (h, NULL);
    pm_client_destroy (&hc);
    pm_client_destroy (&c);
    itest_cleanup (&hrs);
    itest_cleanup (&svc);
}

//  --------------------------------------------------------------------------
//  A staff record is a person's record: onboarding, reading and listing it
//  are on the audit log with the record's id; a read from another site
//  is refused and recorded too.
static void
s_test_staff_records_audited (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    itest_principal ("pm-east", "practice-manager", "east");
    itest_principal ("audrey", "auditor", "*");
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    char id[PM_ID_MAX];
    CHECK (s_onboard (c, id, "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": "
                             "\"north\", \"fte_permille\": 1000}], "
                             "\"start_date\": \"2026-01-05\""));
    json_t *r = itest_req (c, 0, NULL, "staffing.GetStaff", "{\"staff_id\": \"%s\"}", id);
    CHECK (r);
    json_decref (r);
    pm_client_t *east = itest_client_as (&svc, "pm-east");
    r = itest_req (east, PM_EFORBIDDEN, NULL, "staffing.GetStaff", "{\"staff_id\": \"%s\"}",
               id);
    CHECK (r);
    json_decref (r);
    pm_client_t *auditor = itest_client_as (&svc, "audrey");
    r = itest_req (auditor, 0, NULL, "pm.AuditRead", "{}");
    CHECK (r);
    json_t *entries = json_object_get (r, "entries");
    int onboarded = 0, read = 0, refused = 0;
    for (size_t i = 0; i < json_array_size (entries); i++) {
        json_t *e = json_array_get (entries, i);
        const char *subject = json_string_value (json_object_get (e, "subject"));
        const char *action = json_string_value (json_object_get (e, "action"));
        const char *outcome = json_string_value (json_object_get (e, "outcome"));
        if (!subject || strcmp (subject, id) != 0) {
            continue;
        }
        onboarded += strcmp (action, "staffing.Onboard") == 0;
        read += strcmp (action, "staffing.GetStaff") == 0 && strcmp (outcome, "OK") == 0;
        refused += strcmp (action, "staffing.GetStaff") == 0
                   && strcmp (outcome, "EFORBIDDEN") == 0;
    }
    json_decref (r);
    CHECK (onboarded == 1 && read == 1 && refused == 1);
    pm_client_destroy (&c);
    pm_client_destroy (&east);
    pm_client_destroy (&auditor);
    itest_cleanup (&svc);
}

//  A key linked to a staff record (pmctl keys add --staff) acts only as
//  that person: a nurse asks leave and claims shifts for herself, not for
//  a colleague; a manager approves as herself, not as another manager,
//  and may still ask leave for the people of her site.
static void
s_test_keys_act_as_their_person (void)
{
    itest_svc_t svc;
    itest_svc_init (&svc, "staffing", "pm-staffing");
    CHECK (itest_start (&svc) == 0);
    pm_client_t *c = itest_client (&svc);
    CHECK (s_site (c, "north", "America/New_York"));
    char ana[PM_ID_MAX], ben[PM_ID_MAX], m1[PM_ID_MAX], m2[PM_ID_MAX], day[PM_ID_MAX];
    const char *nurse = "\"roles\": [\"nurse\"], \"sites\": [{\"site_id\": \"north\", "
                        "\"fte_permille\": 1000}], \"start_date\": \"2026-01-01\"";
    const char *manager = "\"roles\": [\"practice-manager\"], \"sites\": [{\"site_id\": "
                          "\"north\", \"fte_permille\": 1000}], \"start_date\": \"2026-01-01\"";
    CHECK (s_onboard (c, ana, nurse) && s_onboard (c, ben, nurse));
    CHECK (s_onboard (c, m1, manager) && s_onboard (c, m2, manager));
    CHECK (s_template (c, "north", "nurse", "08:00", "16:00", day));
    json_t *r = itest_req (c, 0, NULL, "staffing.SetLeaveType", "{\"leave_type\": {\"id\": "
                           "\"annual\", \"name\": \"Annual\", \"yearly_days\": 20}}");
    CHECK (r);
    json_decref (r);
    r = s_shifts (c, 0, NULL, day, "2026-06-10", "2026-06-10", NULL); //  an open shift
    CHECK (r);
    char shift[PM_ID_MAX];
    snprintf (shift, sizeof shift, "%s", r ? itest_json_str (r, "shifts[0].id") : "");
    json_decref (r);
    itest_person ("ana", "clinician", "north", ana);
    itest_person ("mia", "practice-manager", "north", m1);
    pm_client_t *ac = itest_client_as (&svc, "ana");
    pm_client_t *mc = itest_client_as (&svc, "mia");
    const char *ask = "{\"staff_id\": \"%s\", \"leave_type\": \"annual\", "
                      "\"start_date\": \"2026-06-01\", \"end_date\": \"2026-06-02\"}";
    r = itest_req (ac, PM_EFORBIDDEN, "staff_id", "staffing.RequestLeave", ask, ben);
    CHECK (r && strstr (itest_json_str (r, "message"), "acts only as them"));
    json_decref (r);
    r = itest_req (ac, PM_EFORBIDDEN, "staff_id", "staffing.ClaimShift",
                   "{\"shift_id\": \"%s\", \"staff_id\": \"%s\"}", shift, ben);
    CHECK (r);
    json_decref (r);
    r = itest_req (ac, 0, NULL, "staffing.ClaimShift", "{\"shift_id\": \"%s\", "
                   "\"staff_id\": \"%s\"}", shift, ana);
    CHECK (r && strcmp (itest_json_str (r, "staff_id"), ana) == 0);
    json_decref (r);
    r = itest_req (ac, 0, NULL, "staffing.RequestLeave", ask, ana);
    CHECK (r);
    char lv[PM_ID_MAX];
    snprintf (lv, sizeof lv, "%s", r ? itest_json_str (r, "id") : "");
    json_decref (r);
    //  The manager asks for Ben (for others: allowed), approves as herself.
    r = itest_req (mc, 0, NULL, "staffing.RequestLeave", ask, ben);
    CHECK (r);
    json_decref (r);
    const char *decide = "{\"leave_id\": \"%s\", \"approver_id\": \"%s\"}";
    r = itest_req (mc, PM_EFORBIDDEN, "approver_id", "staffing.ApproveLeave", decide, lv, m2);
    CHECK (r);
    json_decref (r);
    r = itest_req (mc, 0, NULL, "staffing.ApproveLeave", decide, lv, m1);
    CHECK (r && strcmp (itest_json_str (r, "decided_by"), m1) == 0);
    json_decref (r);
    pm_client_destroy (&mc);
    pm_client_destroy (&ac);
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

static const itest_case_t s_cases[] = {
    {"staff_records_audited", s_test_staff_records_audited},
    {"sites_and_resources", s_test_sites_and_resources},
    {"site_bad_input", s_test_site_bad_input},
    {"staff_lifecycle", s_test_staff_lifecycle},
    {"staff_bad_input", s_test_staff_bad_input},
    {"hire_exactly_once", s_test_hire_exactly_once},
    {"further_hires", s_test_further_hires},
    {"keys_act_as_their_person", s_test_keys_act_as_their_person},
    {"credential_escalations", s_test_credential_escalations},
    {"night_shift_dst", s_test_night_shift_dst},
    {"roster_conflicts", s_test_roster_conflicts},
    {"open_shifts_swaps_coverage", s_test_open_shifts_swaps_coverage},
    {"leave", s_test_leave},
    {"partial_leave_dst", s_test_partial_leave_dst},
    {"leave_minutes", s_test_leave_minutes},
    {"leave_accrual", s_test_leave_accrual},
    {"leave_carry_over", s_test_leave_carry_over},
    {"leave_pro_rating", s_test_leave_pro_rating},
    {"leave_year_end", s_test_leave_year_end},
    {"partial_leave_slots", s_test_partial_leave_slots},
    {"training", s_test_training},
    {"consumer_catches_up", s_test_consumer_catches_up},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
