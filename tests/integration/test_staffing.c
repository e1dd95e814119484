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
#include <unistd.h>

#include "itest.h"
#include "pm_test.pb-c.h"
#include "staffing_schema.h"

//  --- helpers -----------------------------------------------------------------

//  Calls `type` with the JSON body (printf-style; NULL = no body). When the
//  reply's code is `want` (and its field `field`, if given), returns the
//  reply body as JSON (for an error: {"message": ..., "field": ...});
//  otherwise prints what came back and returns NULL. Caller decrefs.
static json_t *
s_req (pm_client_t *client, int want, const char *field, const char *type,
       const char *fmt, ...)
{
    const pm_command_def_t *def = pm_schema_command (&staffing_schema, type);
    if (!def) {
        fprintf (stderr, "    no command %s\n", type);
        return NULL;
    }
    ProtobufCMessage *body = NULL;
    if (fmt) {
        char text[8192], err[256];
        va_list args;
        va_start (args, fmt);
        vsnprintf (text, sizeof text, fmt, args);
        va_end (args);
        if (pm_json_parse (def->request, text, strlen (text), &body, err, sizeof err)
            != PM_OK) {
            fprintf (stderr, "    bad test JSON for %s: %s\n", type, err);
            return NULL;
        }
    }
    Pm__Reply *reply = itest_call (client, type, body);
    protobuf_c_message_free_unpacked (body, NULL);
    if (!reply) {
        fprintf (stderr, "    no reply to %s\n", type);
        return NULL;
    }
    json_t *out = NULL;
    bool ok = (int) reply->code == want
              && (!field || (reply->field && strcmp (reply->field, field) == 0));
    if (!ok) {
        fprintf (stderr, "    %s: code %d field %s message %s (wanted %d %s)\n", type,
                 (int) reply->code, reply->field ? reply->field : "-",
                 reply->message ? reply->message : "-", want, field ? field : "");
    }
    else if (want == 0) {
        out = def->reply ? pm_json_from_pb (def->reply, reply->body.data,
                                            reply->body.len)
                         : json_object ();
    }
    else {
        out = json_pack ("{s:s, s:s}", "message", reply->message ? reply->message : "",
                         "field", reply->field ? reply->field : "");
    }
    pm__reply__free_unpacked (reply, NULL);
    return out;
}

//  The value at a path like "site.opening_hours[1].opens" (borrowed).
static json_t *
s_at (json_t *j, const char *path)
{
    char part[64];
    while (j && *path) {
        size_t n = strcspn (path, ".[");
        snprintf (part, sizeof part, "%.*s", (int) n, path);
        if (n) {
            j = json_object_get (j, part);
        }
        path += n;
        if (*path == '[') {
            j = json_array_get (j, (size_t) atoi (path + 1));
            path = strchr (path, ']') + 1;
        }
        if (*path == '.') {
            path++;
        }
    }
    return j;
}

static const char *
s_str (json_t *j, const char *path)
{
    const char *s = json_string_value (s_at (j, path));
    return s ? s : "";
}

static long long
s_int (json_t *j, const char *path)
{
    return (long long) json_integer_value (s_at (j, path));
}

static size_t
s_len (json_t *j, const char *path)
{
    return json_array_size (s_at (j, path));
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
static int __attribute__ ((unused))
s_count (json_t *stream, const char *type)
{
    int n = 0;
    size_t i;
    json_t *e;
    json_array_foreach (stream, i, e) {
        n += strcmp (s_str (e, "type"), type) == 0;
    }
    return n;
}

//  The last event of `type` (borrowed), or NULL.
static __attribute__ ((unused)) json_t *
s_last (json_t *stream, const char *type)
{
    json_t *found = NULL;
    size_t i;
    json_t *e;
    json_array_foreach (stream, i, e) {
        if (strcmp (s_str (e, "type"), type) == 0) {
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
    json_t *r = s_req (client, 0, NULL, "staffing.CreateSite",
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

    json_t *site = s_req (c, 0, NULL, "staffing.GetSite", "{\"site_id\": \"north\"}");
    CHECK (site);
    CHECK (strcmp (s_str (site, "time_zone"), "America/New_York") == 0);
    CHECK (strcmp (s_str (site, "status"), "SITE_OPEN") == 0);
    CHECK (s_int (site, "version") == 1 && s_len (site, "opening_hours") == 5);
    CHECK (s_int (site, "policy.late_cancel_minutes") == 1440);
    CHECK (s_int (site, "policy.no_show_grace_minutes") == 15);
    CHECK (strcmp (s_str (site, "closures[0].reason"), "Christmas Day") == 0);
    json_decref (site);

    //  The same id twice is refused.
    json_t *r = s_req (c, PM_ECONFLICT, "site.id", "staffing.CreateSite",
                       "{\"site\": {\"id\": \"north\", \"name\": \"Again\", "
                       "\"time_zone\": \"UTC\", \"currency\": \"USD\"}}");
    CHECK (r);
    json_decref (r);

    //  Update: move to Berlin and euros, open Saturdays too.
    r = s_req (c, 0, NULL, "staffing.UpdateSite",
               "{\"expected_version\": 1, \"site\": {\"id\": \"north\", \"name\": "
               "\"Nord\", \"time_zone\": \"Europe/Berlin\", \"currency\": \"EUR\", "
               "\"opening_hours\": [{\"weekday\": 6, \"opens\": \"09:00\", "
               "\"closes\": \"13:00\"}], \"policy\": {\"late_cancel_minutes\": 120}}}");
    CHECK (r && s_int (r, "version") == 2);
    CHECK (strcmp (s_str (r, "time_zone"), "Europe/Berlin") == 0);
    CHECK (strcmp (s_str (r, "currency"), "EUR") == 0 && s_len (r, "closures") == 0);
    json_decref (r);
    //  The same update again is stale.
    r = s_req (c, PM_ECONFLICT, "expected_version", "staffing.UpdateSite",
               "{\"expected_version\": 1, \"site\": {\"id\": \"north\", \"name\": "
               "\"Nord\", \"time_zone\": \"Europe/Berlin\", \"currency\": \"EUR\"}}");
    CHECK (r);
    json_decref (r);

    //  Close and reopen, each with a reason.
    r = s_req (c, PM_EINVAL, "reason", "staffing.CloseSite", "{\"site_id\": \"north\"}");
    CHECK (r);
    json_decref (r);
    r = s_req (c, 0, NULL, "staffing.CloseSite",
               "{\"site_id\": \"north\", \"reason\": \"flood\"}");
    CHECK (r && strcmp (s_str (r, "status"), "SITE_CLOSED") == 0);
    json_decref (r);
    r = s_req (c, PM_ECONFLICT, NULL, "staffing.CloseSite",
               "{\"site_id\": \"north\", \"reason\": \"again\"}");
    CHECK (r);
    json_decref (r);
    r = s_req (c, 0, NULL, "staffing.ReopenSite",
               "{\"site_id\": \"north\", \"reason\": \"dry\"}");
    CHECK (r && strcmp (s_str (r, "status"), "SITE_OPEN") == 0 && s_int (r, "version") == 4);
    json_decref (r);

    //  Resources: two rooms and an ultrasound; list by kind; retire one.
    const char *kinds[] = {"exam-room", "exam-room", "ultrasound"};
    char ids[3][PM_ID_MAX];
    for (int i = 0; i < 3; i++) {
        r = s_req (c, 0, NULL, "staffing.AddResource",
                   "{\"resource\": {\"site_id\": \"north\", \"name\": \"R%d\", "
                   "\"category\": \"%s\", \"kind\": \"%s\"}}",
                   i, i == 2 ? "EQUIPMENT" : "ROOM", kinds[i]);
        CHECK (r && pm_id_valid (s_str (r, "id"), "res"));
        CHECK (json_is_true (s_at (r, "active")));
        snprintf (ids[i], PM_ID_MAX, "%s", s_str (r, "id"));
        json_decref (r);
    }
    r = s_req (c, 0, NULL, "staffing.ListResources",
               "{\"site_id\": \"north\", \"kind\": \"exam-room\"}");
    CHECK (r && s_len (r, "resources") == 2);
    json_decref (r);
    r = s_req (c, 0, NULL, "staffing.UpdateResource",
               "{\"expected_version\": 1, \"resource\": {\"id\": \"%s\", \"name\": "
               "\"R0\", \"category\": \"ROOM\", \"kind\": \"exam-room\", "
               "\"active\": false}}", ids[0]);
    CHECK (r && s_int (r, "version") == 2 && json_is_false (s_at (r, "active")));
    json_decref (r);
    r = s_req (c, 0, NULL, "staffing.ListResources",
               "{\"site_id\": \"north\", \"kind\": \"exam-room\"}");
    CHECK (r && s_len (r, "resources") == 1);
    CHECK (strcmp (s_str (r, "resources[0].id"), ids[1]) == 0);
    json_decref (r);
    r = s_req (c, 0, NULL, "staffing.ListResources",
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
        CHECK (strcmp (s_str (e, "type"), types[i]) == 0);
        CHECK (strcmp (s_str (e, "site_id"), "north") == 0);
    }
    CHECK (strcmp (s_str (json_array_get (events, 2), "data.status_reason"), "flood") == 0);
    CHECK (strcmp (s_str (json_array_get (events, 1), "data.time_zone"), "Europe/Berlin")
           == 0);
    json_decref (events);

    //  A practice manager of another site may read but not change it.
    pm_client_t *south = s_client_as (&svc, "mgr-south", "practice-manager", "south");
    CHECK (south);
    r = s_req (south, 0, NULL, "staffing.GetSite", "{\"site_id\": \"north\"}");
    CHECK (r);
    json_decref (r);
    r = s_req (south, PM_EFORBIDDEN, NULL, "staffing.CloseSite",
               "{\"site_id\": \"north\", \"reason\": \"not mine\"}");
    CHECK (r);
    json_decref (r);
    r = s_req (south, PM_EFORBIDDEN, NULL, "staffing.CreateSite",
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
        json_t *r = s_req (c, PM_EINVAL, cases[i].field, "staffing.CreateSite",
                           "{\"site\": {%s}}", cases[i].site);
        if (!r) {
            fprintf (stderr, "    case %zu\n", i);
        }
        CHECK (r && strstr (s_str (r, "message"), cases[i].field));
        json_decref (r);
    }
    //  Unknown sites and bad resources.
    json_t *r = s_req (c, PM_ENOTFOUND, "site_id", "staffing.GetSite",
                       "{\"site_id\": \"nowhere\"}");
    CHECK (r);
    json_decref (r);
    r = s_req (c, PM_ENOTFOUND, "resource.site_id", "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"nowhere\", \"name\": \"R\", "
               "\"category\": \"ROOM\", \"kind\": \"exam-room\"}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_site (c, "north", "UTC"));
    r = s_req (c, PM_EINVAL, "resource.kind", "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"north\", \"name\": \"R\", "
               "\"category\": \"ROOM\", \"kind\": \"Exam Room\"}}");
    CHECK (r);
    json_decref (r);
    r = s_req (c, PM_EINVAL, "resource.category", "staffing.AddResource",
               "{\"resource\": {\"site_id\": \"north\", \"name\": \"R\", "
               "\"kind\": \"exam-room\"}}");
    CHECK (r);
    json_decref (r);
    CHECK (s_high_seq (c) == 1); //  only the good site
    pm_client_destroy (&c);
    itest_cleanup (&svc);
}

static const itest_case_t s_cases[] = {
    {"sites_and_resources", s_test_sites_and_resources},
    {"site_bad_input", s_test_site_bad_input},
    {NULL, NULL},
};

int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
