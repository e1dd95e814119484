/*  pmctl: the operator's command line for Praxis.

      pmctl call <command> ['<json>' | -]     any command of any service
      pmctl events tail <service> [--from SEQ] [--follow] [--count N]
      pmctl health <service>                  exit 0 only if it is ok
      pmctl commands [<service>]              what each service answers
      pmctl keys init                         the key store and the admin key
      pmctl keys add <name> --role R [--sites a,b] [--staff stf_...]   a new principal
      pmctl keys list | revoke <name>          keys, with each name's history
      pmctl keys rotate <name> [--stopped]    a new key pair, same principal
      pmctl backup <service> DIR              consistent hot copy of its store
      pmctl restore <service> DIR             (service stopped) put a copy back
      pmctl audit tail <service> [--from SEQ] [--break-glass]
      pmctl audit verify <service> [--anchor SEQ:HASH]...
                                              exit 0 only if the chain holds (and
                                              still has the anchored hashes)

    JSON goes in and comes out through the generic bridge (pm_json), using
    the same schema tables the services are built from. Endpoints come from
    the same PM_* variables the services use. Exit codes: 0 ok, 1 the
    service said no, 2 usage, 3 no answer.                                */
#include <czmq.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "patients_schema.h"
#include "staffing_schema.h"
#include "finance_schema.h"
#include "recruitment_schema.h"
#include "scheduling_schema.h"
#include "pm.h"

#define EXIT_REFUSED 1
#define EXIT_USAGE 2
#define EXIT_UNREACHABLE 3
#define TAIL_DEFAULT 10

static const pm_schema_t *s_schemas[] = {&patients_schema, &staffing_schema, &finance_schema, &recruitment_schema, &scheduling_schema, NULL};

static const pm_schema_t *
s_schema_of (const char *service)
{
    for (const pm_schema_t **s = s_schemas; *s; s++) {
        if (strcmp ((*s)->service, service) == 0) {
            return *s;
        }
    }
    return NULL;
}

static int
s_usage (void)
{
    fprintf (stderr,
             "usage: pmctl call <command> ['<json>' | -] [--service S]\n"
             "       pmctl events tail <service> [--from SEQ] [--follow] [--count N]\n"
             "       pmctl health <service>\n"
             "       pmctl commands [<service>]\n"
             "       pmctl keys init | list | revoke <name>\n"
             "       pmctl keys rotate <name>   (svc-*: add --stopped, see README)\n"
             "       pmctl keys add <name> --role ROLE [--sites a,b] [--staff stf_...]\n"
             "       pmctl backup <service> DIR | restore <service> DIR\n"
             "       pmctl audit tail <service> [--from SEQ] [--break-glass]\n"
             "       pmctl audit verify <service> [--anchor SEQ:HASH]...\n"
             "       pmctl --help      (settings: endpoints, timeouts)\n");
    return EXIT_USAGE;
}

//  Prints JSON: indented on a terminal, one line otherwise (for jq, grep).
static void
s_print_json (json_t *value)
{
    size_t flags = isatty (STDOUT_FILENO) ? JSON_INDENT (2) : JSON_COMPACT;
    char *text = json_dumps (value, flags | JSON_PRESERVE_ORDER);
    if (text) {
        puts (text);
        free (text);
    }
    fflush (stdout);
}

static pm_client_t *
s_connect (const char *service)
{
    char endpoint[256];
    pm_cfg_endpoint (service, "ENDPOINT", endpoint, sizeof endpoint);
    pm_client_t *client = pm_client_new (service, endpoint, NULL);
    if (client) {
        pm_client_set_actor (client, getenv ("USER") ? getenv ("USER") : "pmctl");
    }
    return client;
}

//  Sends a command; prints the reply body as JSON, or the error.
static int
s_call (const char *service, const pm_command_def_t *def, const char *json_text,
        json_t **result_out)
{
    uint8_t *body = NULL;
    size_t len = 0;
    char err[512];
    if (def->request) {
        const char *text = json_text && *json_text ? json_text : "{}";
        if (pm_json_to_pb (def->request, text, strlen (text), &body, &len, err,
                           sizeof err)
            != PM_OK) {
            fprintf (stderr, "pmctl: %s: %s\n", def->request->name, err);
            return EXIT_USAGE;
        }
    }
    pm_client_t *client = s_connect (service);
    if (!client) {
        free (body);
        return EXIT_UNREACHABLE;
    }
    Pm__Reply *reply;
    pm_err rc = pm_client_call_raw (client, def->type, body, len, &reply);
    free (body);
    pm_client_destroy (&client);
    if (rc != PM_OK) {
        char endpoint[256];
        pm_cfg_endpoint (service, "ENDPOINT", endpoint, sizeof endpoint);
        fprintf (stderr, "pmctl: no answer from %s at %s\n", service, endpoint);
        return EXIT_UNREACHABLE;
    }
    int status = 0;
    if (reply->code != PM__CODE__OK) {
        fprintf (stderr, "error: %s: %s\n", pm_err_name ((pm_err) reply->code),
                 reply->message ? reply->message : pm_strerror ((pm_err) reply->code));
        status = EXIT_REFUSED;
    }
    else if (def->reply) {
        json_t *out = pm_json_from_pb (def->reply, reply->body.data, reply->body.len);
        if (!out) {
            fprintf (stderr, "pmctl: reply does not decode as %s\n", def->reply->name);
            status = EXIT_REFUSED;
        }
        else if (result_out) {
            *result_out = out;
        }
        else {
            s_print_json (out);
            json_decref (out);
        }
    }
    pm__reply__free_unpacked (reply, NULL);
    return status;
}

//  Reads all of standard input (for `pmctl call X -`).
static char *
s_read_stdin (void)
{
    size_t cap = 4096, len = 0;
    char *buf = malloc (cap);
    size_t n;
    while (buf && (n = fread (buf + len, 1, cap - len - 1, stdin)) > 0) {
        len += n;
        if (cap - len < 2) {
            cap *= 2;
            buf = realloc (buf, cap);
        }
    }
    if (buf) {
        buf[len] = 0;
    }
    return buf;
}

static int
s_cmd_call (int argc, char *argv[])
{
    const char *type = NULL, *json_text = NULL, *service = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp (argv[i], "--service") == 0 && i + 1 < argc) {
            service = argv[++i];
        }
        else if (!type) {
            type = argv[i];
        }
        else if (!json_text) {
            json_text = argv[i];
        }
        else {
            return s_usage ();
        }
    }
    if (!type) {
        return s_usage ();
    }
    //  "patients.Register" goes to patients; pm.* needs --service.
    char svc[64];
    if (!service) {
        const char *dot = strchr (type, '.');
        snprintf (svc, sizeof svc, "%.*s", dot ? (int) (dot - type) : 0, type);
        service = svc;
    }
    const pm_schema_t *schema = s_schema_of (service);
    const pm_command_def_t *def = pm_schema_command (schema, type);
    if (!schema || !def) {
        fprintf (stderr, "pmctl: unknown command \"%s\"%s (see pmctl commands)\n",
                 type, strncmp (type, "pm.", 3) == 0 ? " without --service" : "");
        return EXIT_USAGE;
    }
    char *owned = NULL;
    if (json_text && strcmp (json_text, "-") == 0) {
        json_text = owned = s_read_stdin ();
    }
    int rc = s_call (service, def, json_text, NULL);
    free (owned);
    return rc;
}

static int
s_cmd_health (int argc, char *argv[])
{
    if (argc != 1 || !s_schema_of (argv[0])) {
        return s_usage ();
    }
    //  Exit 0 only when the service says it is ok: compose's healthcheck.
    json_t *health = NULL;
    int rc = s_call (argv[0], pm_schema_command (NULL, "pm.Health"), NULL, &health);
    if (health) {
        s_print_json (health);
        rc = json_is_true (json_object_get (health, "ok")) ? 0 : EXIT_REFUSED;
        json_decref (health);
    }
    return rc;
}

static int
s_cmd_commands (int argc, char *argv[])
{
    for (const pm_schema_t **s = s_schemas; *s; s++) {
        if (argc > 0 && strcmp ((*s)->service, argv[0]) != 0) {
            continue;
        }
        printf ("%s:\n", (*s)->service);
        for (const pm_command_def_t *c = (*s)->commands; c->type; c++) {
            printf ("  %-24s %-5s %-34s %s\n", c->type,
                    c->access == PM_WRITE ? "write" : "read",
                    c->request ? c->request->name : "-", c->summary);
        }
        for (const pm_event_def_t *e = (*s)->events; e->type; e++) {
            printf ("  event %-30s %s\n", e->type, e->data->name);
        }
    }
    printf ("every service:\n");
    for (const pm_command_def_t *c = pm_schema_builtin.commands; c->type; c++) {
        printf ("  %-24s %-5s %-34s %s (--service S)\n", c->type, "read",
                c->request ? c->request->name : "-", c->summary);
    }
    return 0;
}

//  Prints one event as a JSON line, its data decoded by the schema.
static void
s_print_event (const pm_schema_t *schema, const Pm__Event *event)
{
    json_t *obj = pm_json_from_msg (&event->base);
    if (!obj) {
        return;
    }
    const pm_event_def_t *def = pm_schema_event (schema, event->type);
    json_t *data = def ? pm_json_from_pb (def->data, event->data.data, event->data.len)
                       : NULL;
    if (data) {
        json_object_set_new (obj, "data", data);
    }
    char *text = json_dumps (obj, JSON_COMPACT | JSON_PRESERVE_ORDER);
    if (text) {
        puts (text);
        free (text);
    }
    fflush (stdout);
    json_decref (obj);
}

//  One catch-up page from `from`; prints it, advances *cursor.
static int
s_read_page (pm_client_t *client, const pm_schema_t *schema, uint64_t *cursor,
             uint64_t *high, char *stream, long *left)
{
    Pm__EventsRead req = PM__EVENTS_READ__INIT;
    req.has_from_seq = 1;
    req.from_seq = *cursor + 1;
    Pm__Reply *reply;
    if (pm_client_call (client, "pm.EventsRead", &req.base, &reply) != PM_OK) {
        fprintf (stderr, "pmctl: no answer from %s\n", schema->service);
        return EXIT_UNREACHABLE;
    }
    if (reply->code != PM__CODE__OK) {
        fprintf (stderr, "error: %s: %s\n", pm_err_name ((pm_err) reply->code),
                 reply->message ? reply->message : pm_strerror ((pm_err) reply->code));
        pm__reply__free_unpacked (reply, NULL);
        return EXIT_REFUSED;
    }
    Pm__EventBatch *batch = pm__event_batch__unpack (NULL, reply->body.len,
                                                     reply->body.data);
    pm__reply__free_unpacked (reply, NULL);
    if (!batch) {
        fprintf (stderr, "pmctl: the event batch does not decode\n");
        return EXIT_REFUSED;
    }
    snprintf (stream, PM_ID_MAX, "%s", batch->stream_id ? batch->stream_id : "");
    *high = batch->high_seq;
    for (size_t i = 0; i < batch->n_events && *left != 0; i++) {
        s_print_event (schema, batch->events[i]);
        *cursor = batch->events[i]->seq;
        (*left)--;
    }
    if (batch->n_events == 0) {
        *high = *cursor < *high ? *cursor : *high; //  nothing more to read
    }
    pm__event_batch__free_unpacked (batch, NULL);
    return 0;
}

static int
s_cmd_events (int argc, char *argv[])
{
    if (argc < 2 || strcmp (argv[0], "tail") != 0 || !s_schema_of (argv[1])) {
        return s_usage ();
    }
    const pm_schema_t *schema = s_schema_of (argv[1]);
    long long from = -1;
    long left = -1;
    bool follow = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp (argv[i], "--from") == 0 && i + 1 < argc) {
            from = atoll (argv[++i]);
        }
        else if (strcmp (argv[i], "--count") == 0 && i + 1 < argc) {
            left = atol (argv[++i]);
        }
        else if (strcmp (argv[i], "--follow") == 0 || strcmp (argv[i], "-f") == 0) {
            follow = true;
        }
        else {
            return s_usage ();
        }
    }
    pm_client_t *client = s_connect (schema->service);
    if (!client) {
        return EXIT_UNREACHABLE;
    }
    //  Subscribe before catching up, so nothing falls between the two.
    zsock_t *sub = NULL;
    char prefix[64], endpoint[256], stream[PM_ID_MAX] = "";
    if (follow) {
        pm_cfg_endpoint (schema->service, "EVENTS", endpoint, sizeof endpoint);
        snprintf (prefix, sizeof prefix, "%s.", schema->service);
        sub = pm_sock_sub (schema->service, endpoint, prefix, 0);
    }
    uint64_t cursor = 0, high = 0;
    int rc = 0;
    if (from < 0) {
        //  Default: the last few events, like tail(1).
        Pm__Reply *reply;
        if (pm_client_call (client, "pm.Health", NULL, &reply) != PM_OK) {
            fprintf (stderr, "pmctl: no answer from %s\n", schema->service);
            rc = EXIT_UNREACHABLE;
        }
        else {
            Pm__Health *h = pm__health__unpack (NULL, reply->body.len, reply->body.data);
            cursor = h && h->high_seq > TAIL_DEFAULT ? h->high_seq - TAIL_DEFAULT : 0;
            pm__health__free_unpacked (h, NULL);
            pm__reply__free_unpacked (reply, NULL);
        }
    }
    else {
        cursor = from > 0 ? (uint64_t) from - 1 : 0;
    }
    //  Catch up, then (with --follow) apply live events in seq order and
    //  read again on any gap or when a heartbeat shows we are behind.
    do {
        high = cursor + 1;
        while (rc == 0 && cursor < high && left != 0) {
            rc = s_read_page (client, schema, &cursor, &high, stream, &left);
        }
        while (rc == 0 && follow && left != 0 && !zsys_interrupted) {
            zmsg_t *msg = NULL;
            zsock_set_rcvtimeo (sub, 1000);
            msg = zmsg_recv (sub);
            if (!msg) {
                continue;
            }
            char *topic = zmsg_popstr (msg);
            zframe_t *frame = zmsg_pop (msg);
            bool behind = false;
            if (topic && frame && strstr (topic, ".$heartbeat")) {
                Pm__Heartbeat *hb = pm__heartbeat__unpack (NULL, zframe_size (frame),
                                                           zframe_data (frame));
                behind = hb && hb->high_seq > cursor;
                pm__heartbeat__free_unpacked (hb, NULL);
            }
            else if (topic && frame) {
                Pm__Event *ev = pm__event__unpack (NULL, zframe_size (frame),
                                                   zframe_data (frame));
                if (ev && ev->seq == cursor + 1) {
                    s_print_event (schema, ev);
                    cursor = ev->seq;
                    left--;
                }
                else if (ev && ev->seq > cursor + 1) {
                    behind = true;
                }
                pm__event__free_unpacked (ev, NULL);
            }
            zstr_free (&topic);
            zframe_destroy (&frame);
            zmsg_destroy (&msg);
            if (behind) {
                break; //  back to catch-up
            }
        }
    } while (rc == 0 && follow && left != 0 && !zsys_interrupted);
    zsock_destroy (&sub);
    pm_client_destroy (&client);
    return rc;
}

//  Prints one certificate line: name, role, sites, the start of the
//  public key (which key a holder has), state.
static void
s_print_cert (const char *path, const char *state)
{
    zcert_t *cert = zcert_load (path);
    if (cert) {
        const char *name = zcert_meta (cert, "name");
        const char *role = zcert_meta (cert, "role");
        const char *sites = zcert_meta (cert, "sites");
        printf ("%-24s %-18s %-24s %-10.8s %s\n", name ? name : "?",
                role ? role : "?", sites ? sites : "?", zcert_public_txt (cert),
                state);
        zcert_destroy (&cert);
    }
}

//  The state of a file in revoked/: "revoked", or for a key a rotation
//  replaced (<name>@20250102T030405.678Z.cert) "replaced 2025-01-02T03:04:05.678Z".
static void
s_retired_state (const char *path, char *out, size_t outlen)
{
    const char *at = strrchr (path, '@');
    const char *slash = strrchr (path, '/');
    int y, mo, d, h, mi, sec, ms;
    if (at && (!slash || at > slash)
        && sscanf (at + 1, "%4d%2d%2dT%2d%2d%2d.%3dZ.cert", &y, &mo, &d, &h, &mi,
                   &sec, &ms) == 7) {
        snprintf (out, outlen, "replaced %04d-%02d-%02dT%02d:%02d:%02d.%03dZ", y, mo,
                  d, h, mi, sec, ms);
    }
    else {
        snprintf (out, outlen, "revoked");
    }
}

static void
s_list_dir (const char *sub, const char *state)
{
    char dir[700];
    snprintf (dir, sizeof dir, "%s/%s", pm_keys_dir (), sub);
    zdir_t *zdir = zdir_new (dir, "-");
    if (!zdir) {
        return;
    }
    zfile_t **files = zdir_flatten (zdir);
    for (int i = 0; files[i]; i++) {
        const char *path = zfile_filename (files[i], NULL);
        size_t n = strlen (path);
        if (n > 5 && strcmp (path + n - 5, ".cert") == 0) {
            char retired[64];
            if (!state) {
                s_retired_state (path, retired, sizeof retired);
            }
            s_print_cert (path, state ? state : retired);
        }
    }
    zdir_flatten_free (&files);
    zdir_destroy (&zdir);
}

//  pmctl keys rotate <name> [--stopped]: a new key pair for the same
//  principal. A running service holds its own secret key, so an svc-*
//  key is rotated with that service stopped; the services that follow
//  it notice the new public key and connect again by themselves.
static int
s_keys_rotate (const char *name, const char *flag)
{
    bool stopped = flag && strcmp (flag, "--stopped") == 0;
    if (flag && !stopped) {
        return s_usage ();
    }
    if (strncmp (name, "svc-", 4) == 0 && !stopped) {
        fprintf (stderr,
                 "pmctl: %s is the key of service %s, which holds its secret while "
                 "it runs. Stop pm-%s, run `pmctl keys rotate %s --stopped`, then "
                 "start pm-%s: the services that follow it connect again with the "
                 "new key by themselves; long-running clients of it (gateways) "
                 "restart (README, Security: rotating keys)\n",
                 name, name + 4, name + 4, name, name + 4);
        return EXIT_REFUSED;
    }
    char kept[700];
    pm_err rc = pm_keys_rotate (name, kept, sizeof kept);
    if (rc == PM_EINVAL) {
        fprintf (stderr, "pmctl: %s is not a principal name\n", name);
        return EXIT_USAGE;
    }
    if (rc == PM_ENOTFOUND) {
        fprintf (stderr, "pmctl: no principal %s in %s (pmctl keys list)\n", name,
                 pm_keys_dir ());
        return EXIT_REFUSED;
    }
    if (rc == PM_EFORBIDDEN) {
        fprintf (stderr, "pmctl: %s was revoked and stays out of service; add a "
                         "new principal instead\n", name);
        return EXIT_REFUSED;
    }
    if (rc != PM_OK) {
        fprintf (stderr, "pmctl: cannot rotate %s: %s\n", name, pm_strerror (rc));
        return EXIT_REFUSED;
    }
    zcert_t *cert = pm_keys_public (name);
    const char *role = cert ? zcert_meta (cert, "role") : NULL;
    const char *sites = cert ? zcert_meta (cert, "sites") : NULL;
    printf ("rotated %s (%s, sites %s): its new key pair is %s/secret/%s.cert_secret;\n"
            "the old key, kept as %s, is refused from its next connection "
            "(connections open now stay until they close)\n",
            name, role ? role : "?", sites ? sites : "?", pm_keys_dir (), name, kept);
    zcert_destroy (&cert);
    return 0;
}

//  pmctl keys ...: the key store (see common/pm_keys.h).
static int
s_cmd_keys (int argc, char *argv[])
{
    if (argc >= 1 && strcmp (argv[0], "init") == 0 && argc == 1) {
        if (pm_keys_ensure ("admin", "network-admin", "*") != PM_OK) {
            return EXIT_REFUSED;
        }
        printf ("key store %s: principal admin (network-admin, all sites) ready;\n"
                "services make their own keys (svc-<service>) on first start\n",
                pm_keys_dir ());
        return 0;
    }
    if (argc >= 2 && strcmp (argv[0], "add") == 0) {
        const char *role = NULL, *sites = "*", *staff = NULL;
        for (int i = 2; i + 1 < argc; i += 2) {
            if (strcmp (argv[i], "--role") == 0) {
                role = argv[i + 1];
            }
            else if (strcmp (argv[i], "--sites") == 0) {
                sites = argv[i + 1];
            }
            else if (strcmp (argv[i], "--staff") == 0) {
                staff = argv[i + 1];
            }
        }
        if (staff && !pm_id_valid (staff, "stf")) {
            fprintf (stderr, "pmctl: --staff is the person's staff id (stf_...)\n");
            return EXIT_USAGE;
        }
        if (!role || !pm_role_from_name (role)) {
            fprintf (stderr, "pmctl: --role is one of network-admin, practice-manager, "
                             "front-desk, clinician, recruiter, hiring-manager, "
                             "finance, auditor, service, gateway\n");
            return EXIT_USAGE;
        }
        char path[700];
        snprintf (path, sizeof path, "%s/public/%s.cert", pm_keys_dir (), argv[1]);
        if (access (path, F_OK) == 0) {
            fprintf (stderr, "pmctl: principal %s exists\n", argv[1]);
            return EXIT_REFUSED;
        }
        pm_err rc = pm_keys_ensure_person (argv[1], role, sites, staff);
        if (rc != PM_OK) {
            fprintf (stderr, "pmctl: cannot add %s: %s\n", argv[1], pm_strerror (rc));
            return rc == PM_EINVAL ? EXIT_USAGE : EXIT_REFUSED;
        }
        printf ("added %s (%s, sites %s%s%s); its key pair: %s/secret/%s.cert_secret\n",
                argv[1], role, sites, staff ? ", staff " : "", staff ? staff : "",
                pm_keys_dir (), argv[1]);
        return 0;
    }
    if (argc == 1 && strcmp (argv[0], "list") == 0) {
        printf ("%-24s %-18s %-24s %-10s %s\n", "NAME", "ROLE", "SITES", "KEY",
                "STATE");
        s_list_dir ("public", "active");
        s_list_dir ("revoked", NULL);
        return 0;
    }
    if (argc >= 2 && argc <= 3 && strcmp (argv[0], "rotate") == 0) {
        return s_keys_rotate (argv[1], argc == 3 ? argv[2] : NULL);
    }
    if (argc == 2 && strcmp (argv[0], "revoke") == 0) {
        pm_err rc = pm_keys_revoke (argv[1]);
        if (rc != PM_OK) {
            fprintf (stderr, "pmctl: cannot revoke %s: %s\n", argv[1], pm_strerror (rc));
            return EXIT_REFUSED;
        }
        printf ("revoked %s: its next connection is refused\n", argv[1]);
        return 0;
    }
    return s_usage ();
}

//  pmctl audit tail|verify <service>: the access log (auditors).
static int
s_cmd_audit (int argc, char *argv[])
{
    if (argc < 2 || !s_schema_of (argv[1])) {
        return s_usage ();
    }
    const char *service = argv[1];
    if (strcmp (argv[0], "verify") == 0) {
        //  --anchor SEQ:HASH (repeatable): a head kept outside the store,
        //  as pm.audit.anchored carried it or an earlier verify printed it
        //  (entries:head_hash).
        json_t *anchors = json_array ();
        for (int i = 2; i < argc; i++) {
            const char *colon = i + 1 < argc && strcmp (argv[i], "--anchor") == 0
                                    ? strchr (argv[i + 1], ':')
                                    : NULL;
            if (!colon || atoll (argv[i + 1]) <= 0) {
                json_decref (anchors);
                return s_usage ();
            }
            json_array_append_new (anchors,
                                   json_pack ("{s:I,s:s}", "seq", (json_int_t) atoll (argv[i + 1]),
                                              "hash", colon + 1));
            i++;
        }
        json_t *request = json_pack ("{s:o}", "anchors", anchors);
        char *body = json_dumps (request, JSON_COMPACT);
        json_decref (request);
        json_t *verdict = NULL;
        int rc = s_call (service, pm_schema_command (NULL, "pm.AuditVerify"), body,
                         &verdict);
        free (body);
        if (verdict) {
            s_print_json (verdict);
            rc = json_is_true (json_object_get (verdict, "ok")) ? 0 : EXIT_REFUSED;
            json_decref (verdict);
        }
        return rc;
    }
    if (strcmp (argv[0], "tail") != 0) {
        return s_usage ();
    }
    long long from = 1;
    bool break_glass = false;
    for (int i = 2; i < argc; i++) {
        if (strcmp (argv[i], "--from") == 0 && i + 1 < argc) {
            from = atoll (argv[++i]);
        }
        else if (strcmp (argv[i], "--break-glass") == 0) {
            break_glass = true;
        }
        else {
            return s_usage ();
        }
    }
    //  Page through to the end, one JSON line per entry.
    for (int pages = 0; pages < 100000; pages++) {
        char body[128];
        snprintf (body, sizeof body, "{\"from_seq\":%lld,\"max\":500%s}", from,
                  break_glass ? ",\"break_glass_only\":true" : "");
        json_t *batch = NULL;
        int rc = s_call (service, pm_schema_command (NULL, "pm.AuditRead"), body,
                         &batch);
        if (rc != 0 || !batch) {
            return rc;
        }
        json_t *entries = json_object_get (batch, "entries");
        size_t n = json_array_size (entries);
        for (size_t i = 0; i < n; i++) {
            json_t *e = json_array_get (entries, i);
            char *line = json_dumps (e, JSON_COMPACT | JSON_PRESERVE_ORDER);
            if (line) {
                puts (line);
                free (line);
            }
            from = json_integer_value (json_object_get (e, "seq")) + 1;
        }
        long long high = json_integer_value (json_object_get (batch, "high_seq"));
        json_decref (batch);
        if (n == 0 || from > high) {
            break;
        }
    }
    fflush (stdout);
    return 0;
}

//  The service's data directory on this host: $PM_DATA_DIR as the service
//  reads it, else ./var/<service> (make run).
static void
s_data_dir (const char *service, char *out, size_t outlen)
{
    const char *dir = getenv ("PM_DATA_DIR");
    if (dir && *dir) {
        snprintf (out, outlen, "%s", dir);
    }
    else {
        snprintf (out, outlen, "./var/%s", service);
    }
}

//  pmctl backup <service> DIR: a consistent copy while the service serves.
//  LMDB copies from one read transaction, so the copy is exactly one
//  committed state; the service's writers never wait for it.
static int
s_cmd_backup (int argc, char *argv[])
{
    if (argc != 2 || !pm_service_lookup (argv[0])) {
        return s_usage ();
    }
    char data[600];
    s_data_dir (argv[0], data, sizeof data);
    if (mkdir (argv[1], 0700) != 0) {
        fprintf (stderr, "pmctl: %s: %s (give a new directory)\n", argv[1],
                 strerror (errno));
        return EXIT_USAGE;
    }
    MDB_env *env;
    int rc = mdb_env_create (&env);
    if (rc == 0) {
        mdb_env_set_maxdbs (env, 64);
        rc = mdb_env_open (env, data, MDB_RDONLY | MDB_NOTLS, 0600);
    }
    if (rc == 0) {
        rc = mdb_env_copy2 (env, argv[1], MDB_CP_COMPACT);
    }
    mdb_env_close (env);
    if (rc != 0) {
        fprintf (stderr, "pmctl: backup of %s failed: %s\n", data, mdb_strerror (rc));
        rmdir (argv[1]);
        return EXIT_REFUSED;
    }
    struct stat st;
    char file[700];
    snprintf (file, sizeof file, "%s/data.mdb", argv[1]);
    stat (file, &st);
    printf ("backup of %s (%s) in %s: %lld bytes\n", argv[0], data, argv[1],
            (long long) st.st_size);
    return 0;
}

//  pmctl restore <service> DIR: the stopped service's store is set aside
//  (never deleted) and replaced by the copy, which gets a new stream id so
//  that every consumer rebuilds from it.
static int
s_cmd_restore (int argc, char *argv[])
{
    if (argc != 2 || !pm_service_lookup (argv[0])) {
        return s_usage ();
    }
    char data[600], from[700], to[700], aside[700];
    s_data_dir (argv[0], data, sizeof data);
    snprintf (from, sizeof from, "%s/data.mdb", argv[1]);
    if (access (from, R_OK) != 0) {
        fprintf (stderr, "pmctl: %s has no data.mdb\n", argv[1]);
        return EXIT_USAGE;
    }
    //  A running service holds the store: refuse rather than pull it away.
    char endpoint[256];
    pm_cfg_endpoint (argv[0], "ENDPOINT", endpoint, sizeof endpoint);
    pm_client_t *client = pm_client_new (argv[0], endpoint, NULL);
    if (client) {
        pm_client_set_timeout (client, 500, 1);
        Pm__Reply *reply = NULL;
        bool running = pm_client_call (client, "pm.Health", NULL, &reply) == PM_OK;
        pm__reply__free_unpacked (reply, NULL);
        pm_client_destroy (&client);
        if (running) {
            fprintf (stderr, "pmctl: %s is running at %s: stop it first\n",
                     argv[0], endpoint);
            return EXIT_REFUSED;
        }
    }
    snprintf (aside, sizeof aside, "%s.replaced-%lld", data,
              (long long) (pm_clock_wall_ms () / 1000));
    if (access (data, F_OK) == 0 && rename (data, aside) != 0) {
        fprintf (stderr, "pmctl: cannot move %s aside: %s\n", data, strerror (errno));
        return EXIT_REFUSED;
    }
    snprintf (to, sizeof to, "%s/data.mdb", data);
    char cmd[2200];
    snprintf (cmd, sizeof cmd, "mkdir -p '%s' && cp '%s' '%s'", data, from, to);
    char stream[PM_ID_MAX];
    if (system (cmd) != 0 || pm_evlog_new_stream (data, stream) != PM_OK) {
        fprintf (stderr, "pmctl: restore into %s failed; the old store is in %s\n",
                 data, aside);
        return EXIT_REFUSED;
    }
    printf ("restored %s from %s; the replaced store is in %s\n"
            "new stream %s: consumers will rebuild from it\n",
            argv[0], argv[1], access (aside, F_OK) == 0 ? aside : "(none)", stream);
    return 0;
}

int
main (int argc, char *argv[])
{
    const char *level = getenv ("PM_LOG_LEVEL");
    pm_log_init ("pmctl", level && *level ? level : "warn");
    if (argc < 2) {
        return s_usage ();
    }
    const char *cmd = argv[1];
    if (strcmp (cmd, "--help") == 0 || strcmp (cmd, "-h") == 0) {
        s_usage ();
        pm_cfg_print_help (stdout, "pmctl", NULL, NULL);
        return 0;
    }
    if (strcmp (cmd, "call") == 0) {
        return s_cmd_call (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "events") == 0) {
        return s_cmd_events (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "health") == 0) {
        return s_cmd_health (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "backup") == 0) {
        return s_cmd_backup (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "restore") == 0) {
        return s_cmd_restore (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "audit") == 0) {
        return s_cmd_audit (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "keys") == 0) {
        return s_cmd_keys (argc - 2, argv + 2);
    }
    if (strcmp (cmd, "commands") == 0) {
        return s_cmd_commands (argc - 2, argv + 2);
    }
    return s_usage ();
}
