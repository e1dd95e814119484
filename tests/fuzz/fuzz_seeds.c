/*  fuzz_seeds.c: writes the seed corpora of the fuzz harnesses from
    the files tests/fuzz/seeds/<service>.txt (`make fuzz-seeds`; the output is checked in).

    usage: fuzz_seeds CORPUS_DIR SEEDS.txt...

    Each line of a seeds file is "<command type> <JSON body>" (or the type
    alone). For each, through the JSON bridge and the schemas:
      fuzz_json/           the JSON text (each seed of these two starts
                           with its message type's name and a newline)
      fuzz_decode/         the packed body; the same inside a pm.Request,
                           a pm.Reply, a pm.Event and a pm.EventBatch; and
                           the body cut one byte short (near-valid)
      fuzz_cmd_<service>/  the harness's input for the command (named, as
                           above; for pm.* commands, every service's), a
                           retry of it, a cut-short body, and the whole
                           frame (0xFF mode)
    A file named feed_<consumer>.txt holds scenarios for fuzz_feed_<consumer>
    instead (see fuzz_feed.c), one record per line:
      "<event type> <JSON data>"  an event of a stream the consumer follows
      "<command> <JSON body>"     one of the consumer's commands
      "clock <minutes>"           the clock moved on
      "== <name>"                 starts a scenario (one seed) named so
      "@use <name>"               the records of an earlier scenario
    Each scenario becomes one seed; each event also one seed of its own,
    and its data a fuzz_decode seed.
    Files are named by a hash of their contents: regenerating writes the
    same names, and never removes a seed that libFuzzer minimised in.   */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz_services.h"
#include "fuzz_util.h"
#include "pm.h"

#define BLOCKS_MAX 64

static const char *s_out;
static int s_written;

static void s_seed (const char *harness, const uint8_t *data, size_t len);

//  Writes a seed for a harness that takes "<message name>\n<bytes>".
static void
s_typed (const char *harness, const char *type, const uint8_t *data, size_t len)
{
    size_t tlen = strlen (type);
    uint8_t *buf = malloc (tlen + 1 + len);
    memcpy (buf, type, tlen);
    buf[tlen] = '\n';
    memcpy (buf + tlen + 1, data, len);
    s_seed (harness, buf, tlen + 1 + len);
    free (buf);
}

//  Writes one seed into corpus `harness`.
static void
s_seed (const char *harness, const uint8_t *data, size_t len)
{
    uint64_t h = 1469598103934665603ULL; //  FNV-1a
    for (size_t i = 0; i < len; i++) {
        h = (h ^ data[i]) * 1099511628211ULL;
    }
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", s_out, harness);
    if (mkdir (path, 0755) != 0 && errno != EEXIST) {
        perror (path);
        exit (1);
    }
    snprintf (path, sizeof path, "%s/%s/seed-%016llx", s_out, harness,
              (unsigned long long) h);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (data, 1, len, f) != len || fclose (f) != 0) {
        perror (path);
        exit (1);
    }
    s_written++;
}

//  The seeds of one command for the command harness of `schema`.
static void
s_cmd_seeds (const pm_schema_t *schema, const pm_command_def_t *def,
             const uint8_t *body, size_t len)
{
    const pm_command_def_t *commands[128];
    size_t n = fuzz_commands (schema, commands, 128);
    size_t index = 0;
    while (index < n && commands[index] != def) {
        index++;
    }
    if (index == n) {
        return;
    }
    char harness[64];
    snprintf (harness, sizeof harness, "fuzz_cmd_%s", schema->service);
    uint8_t *input = malloc (len + 1);
    input[0] = 0; //  envelope flags
    memcpy (input + 1, body, len);
    s_typed (harness, def->type, input, len + 1);
    if (def->access == PM_WRITE) {
        input[0] = 1; //  the same request again: answered from the store
        s_typed (harness, def->type, input, len + 1);
    }
    if (len > 1) {
        input[0] = 0;
        s_typed (harness, def->type, input, len);
    }
    free (input);
    //  The whole frame, as a client would send it.
    Pm__Request req = PM__REQUEST__INIT;
    req.client_id = "seed";
    req.has_request_id = 1;
    req.request_id = 1;
    req.type = (char *) def->type;
    req.has_body = 1;
    req.body.data = (uint8_t *) body;
    req.body.len = len;
    size_t flen = pm__request__get_packed_size (&req);
    uint8_t *frame = malloc (flen + 1);
    frame[0] = 0xFF;
    pm__request__pack (&req, frame + 1);
    s_seed (harness, frame, flen + 1);
    free (frame);
}

//  The decoder seeds: the body alone and inside each envelope.
static void
s_decode_seeds (const pm_command_def_t *def, const uint8_t *body, size_t len)
{
    const char *type = def->type;
    if (def->request) {
        s_typed ("fuzz_decode", def->request->name, body, len);
        if (len > 1) {
            s_typed ("fuzz_decode", def->request->name, body, len - 1);
        }
    }
    Pm__Request req = PM__REQUEST__INIT;
    req.client_id = "seed";
    req.has_request_id = 1;
    req.request_id = 7;
    req.type = (char *) type;
    req.has_body = 1;
    req.body.data = (uint8_t *) body;
    req.body.len = len;
    Pm__Reply reply = PM__REPLY__INIT;
    reply.has_request_id = reply.has_code = reply.has_body = 1;
    reply.request_id = 7;
    reply.body = req.body;
    Pm__Event ev = PM__EVENT__INIT;
    ev.id = "str_01jdq9x3m0aaaaaaaaaaaaaaaa.1";
    ev.source = "seed";
    ev.stream_id = "str_01jdq9x3m0aaaaaaaaaaaaaaaa";
    ev.has_seq = ev.has_time = ev.has_data = 1;
    ev.seq = 1;
    ev.time = 1700000000000;
    ev.type = (char *) type;
    ev.subject = "pat_01jdq9x3m0aaaaaaaaaaaaaaaa";
    ev.data = req.body;
    Pm__Event *events[] = {&ev, &ev};
    Pm__EventBatch batch = PM__EVENT_BATCH__INIT;
    batch.stream_id = ev.stream_id;
    batch.has_high_seq = 1;
    batch.high_seq = 2;
    batch.n_events = 2;
    batch.events = events;
    const ProtobufCMessage *wrappers[] = {&req.base, &reply.base, &ev.base,
                                          &batch.base};
    for (size_t i = 0; i < 4; i++) {
        size_t n = protobuf_c_message_get_packed_size (wrappers[i]);
        uint8_t *buf = malloc (n ? n : 1);
        protobuf_c_message_pack (wrappers[i], buf);
        s_typed ("fuzz_decode", wrappers[i]->descriptor->name, buf, n);
        free (buf);
    }
}

//  What streams carry besides events: a heartbeat and a health reply.
static void
s_stream_seeds (void)
{
    Pm__Heartbeat hb = PM__HEARTBEAT__INIT;
    hb.source = "patients";
    hb.stream_id = "str_01jdq9x3m0aaaaaaaaaaaaaaaa";
    hb.has_high_seq = hb.has_time = 1;
    hb.high_seq = 42;
    hb.time = 1700000000000;
    Pm__ConsumerLag lag = PM__CONSUMER_LAG__INIT;
    lag.source = "patients";
    lag.stream_id = hb.stream_id;
    lag.has_cursor = lag.has_high_seq = lag.has_catching_up = 1;
    lag.cursor = 40;
    lag.high_seq = 42;
    lag.catching_up = 1;
    lag.has_gaps = lag.has_catch_ups = lag.has_apply_failures = 1;
    lag.gaps = 2;
    lag.catch_ups = 3;
    Pm__ConsumerLag *lags[] = {&lag};
    Pm__Health health = PM__HEALTH__INIT;
    health.service = "mirror";
    health.has_ok = health.has_high_seq = health.has_map_size = 1;
    health.ok = 1;
    health.stream_id = hb.stream_id;
    health.high_seq = 9;
    health.map_size = 1 << 30;
    health.n_consumers = 1;
    health.consumers = lags;
    const ProtobufCMessage *msgs[] = {&hb.base, &lag.base, &health.base};
    for (size_t i = 0; i < 3; i++) {
        size_t n = protobuf_c_message_get_packed_size (msgs[i]);
        uint8_t *buf = malloc (n);
        protobuf_c_message_pack (msgs[i], buf);
        s_typed ("fuzz_decode", msgs[i]->descriptor->name, buf, n);
        free (buf);
        json_t *json = pm_json_from_msg (msgs[i]);
        char *text = json_dumps (json, JSON_COMPACT);
        s_typed ("fuzz_json", msgs[i]->descriptor->name, (const uint8_t *) text,
                 strlen (text));
        free (text);
        json_decref (json);
    }
}

//  One line of a seeds file.
static int
s_line (const char *file, int lineno, char *line)
{
    line[strcspn (line, "\r\n")] = 0;
    if (!line[0] || line[0] == '#') {
        return 0;
    }
    char *json = strchr (line, ' ');
    if (json) {
        *json++ = 0;
    }
    const pm_schema_t *const *schemas = fuzz_schemas ();
    const pm_command_def_t *def = NULL;
    for (size_t i = 0; schemas[i] && !def; i++) {
        def = pm_schema_command (schemas[i], line);
    }
    if (!def) {
        fprintf (stderr, "%s:%d: no command %s\n", file, lineno, line);
        return -1;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    if (json) {
        if (def->request) {
            s_typed ("fuzz_json", def->request->name, (const uint8_t *) json,
                     strlen (json));
        }
        char err[256];
        if (!def->request
            || pm_json_to_pb (def->request, json, strlen (json), &body, &len,
                              err, sizeof err) != PM_OK) {
            fprintf (stderr, "%s:%d: %s\n", file, lineno,
                     def->request ? err : "this command has no body");
            return -1;
        }
    }
    s_decode_seeds (def, body ? body : (const uint8_t *) "", len);
    for (size_t i = 0; schemas[i]; i++) {
        s_cmd_seeds (schemas[i], def, body ? body : (const uint8_t *) "", len);
    }
    free (body);
    return 0;
}

//  --- feed scenarios ---------------------------------------------------------

//  A growing byte buffer.
typedef struct {
    uint8_t *data;
    size_t len;
} s_buf_t;

static void
s_buf_add (s_buf_t *b, const void *data, size_t len)
{
    b->data = realloc (b->data, b->len + len + 1);
    if (!b->data) {
        abort ();
    }
    memcpy (b->data + b->len, data, len);
    b->len += len;
}

//  Appends one record: "<name>\n", big-endian length, flags byte, bytes.
static void
s_record (s_buf_t *b, const char *name, uint8_t flags, const uint8_t *data, size_t len)
{
    uint8_t head[3] = {(uint8_t) ((len + 1) >> 8), (uint8_t) (len + 1), flags};
    s_buf_add (b, name, strlen (name));
    s_buf_add (b, "\n", 1);
    s_buf_add (b, head, 3);
    s_buf_add (b, data, len);
}

//  The source of `event` if `consumer` follows it, else NULL.
static const char *
s_followed (const char *consumer, const char *event)
{
    static const char *const follows[][2] = {FUZZ_FOLLOWS {NULL, NULL}};
    for (size_t i = 0; follows[i][0]; i++) {
        size_t n = strlen (follows[i][1]);
        if (strcmp (follows[i][0], consumer) == 0 && strncmp (event, follows[i][1], n) == 0
            && event[n] == '.') {
            return follows[i][1];
        }
    }
    return NULL;
}

//  The schema of `service`, or NULL.
static const pm_schema_t *
s_schema_of (const char *service)
{
    const pm_schema_t *const *all = fuzz_schemas ();
    for (size_t i = 0; all[i]; i++) {
        if (strcmp (all[i]->service, service) == 0) {
            return all[i];
        }
    }
    return NULL;
}

//  One line of a feed file into `b`; -1 (said) when it is wrong.
static int
s_feed_line (const char *file, int lineno, const char *consumer, char *line, s_buf_t *b,
             const char *harness)
{
    char *json = strchr (line, ' ');
    if (json) {
        *json++ = 0;
    }
    if (strcmp (line, "clock") == 0) {
        uint32_t minutes = json ? (uint32_t) strtoul (json, NULL, 10) : 1;
        uint8_t be[4] = {(uint8_t) (minutes >> 24), (uint8_t) (minutes >> 16),
                         (uint8_t) (minutes >> 8), (uint8_t) minutes};
        uint8_t head[2] = {0, 4};
        s_buf_add (b, "clock\n", 6);
        s_buf_add (b, head, 2);
        s_buf_add (b, be, 4);
        return 0;
    }
    const pm_schema_t *self = s_schema_of (consumer);
    const pm_command_def_t *def = self ? pm_schema_command (self, line) : NULL;
    if (!def) {
        def = pm_schema_command (&pm_schema_builtin, line);
    }
    const char *source = def ? NULL : s_followed (consumer, line);
    const pm_event_def_t *ev = source ? pm_schema_event (s_schema_of (source), line) : NULL;
    const ProtobufCMessageDescriptor *desc = def ? def->request : ev ? ev->data : NULL;
    if (!def && !ev) {
        fprintf (stderr, "%s:%d: %s is neither a command of %s nor an event it follows\n",
                 file, lineno, line, consumer);
        return -1;
    }
    uint8_t *body = NULL;
    size_t len = 0;
    char err[256];
    if (json && (!desc
                 || pm_json_to_pb (desc, json, strlen (json), &body, &len, err, sizeof err)
                        != PM_OK)) {
        fprintf (stderr, "%s:%d: %s\n", file, lineno, desc ? err : "no body here");
        return -1;
    }
    s_record (b, line, 0, body ? body : (const uint8_t *) "", len);
    if (ev) {
        s_buf_t one = {NULL, 0};
        s_record (&one, line, 0, body ? body : (const uint8_t *) "", len);
        s_seed (harness, one.data, one.len);
        free (one.data);
        if (desc) {
            s_typed ("fuzz_decode", desc->name, body ? body : (const uint8_t *) "", len);
        }
    }
    free (body);
    return 0;
}

//  A feed file: its scenarios, each one seed of fuzz_feed_<consumer>.
static int
s_feed_file (const char *file, const char *consumer)
{
    FILE *f = fopen (file, "r");
    if (!f) {
        perror (file);
        return 1;
    }
    char harness[64];
    snprintf (harness, sizeof harness, "fuzz_feed_%s", consumer);
    struct {
        char name[64];
        s_buf_t buf;
    } blocks[BLOCKS_MAX];
    size_t n_blocks = 0;
    s_buf_t *cur = NULL;
    char line[8192];
    int lineno = 0, rc = 0;
    while (fgets (line, sizeof line, f)) {
        lineno++;
        line[strcspn (line, "\r\n")] = 0;
        if (!line[0] || line[0] == '#') {
            continue;
        }
        if (strncmp (line, "== ", 3) == 0) {
            if (n_blocks == BLOCKS_MAX) {
                fprintf (stderr, "%s:%d: too many scenarios\n", file, lineno);
                rc = 1;
                break;
            }
            snprintf (blocks[n_blocks].name, sizeof blocks[0].name, "%s", line + 3);
            blocks[n_blocks].buf = (s_buf_t) {NULL, 0};
            cur = &blocks[n_blocks++].buf;
            continue;
        }
        if (strncmp (line, "@use ", 5) == 0) {
            size_t i = 0;
            while (i < n_blocks && strcmp (blocks[i].name, line + 5) != 0) {
                i++;
            }
            if (i == n_blocks || !cur || &blocks[i].buf == cur) {
                fprintf (stderr, "%s:%d: no earlier scenario %s\n", file, lineno, line + 5);
                rc = 1;
                continue;
            }
            s_buf_add (cur, blocks[i].buf.data, blocks[i].buf.len);
            continue;
        }
        s_buf_t single = {NULL, 0};
        if (s_feed_line (file, lineno, consumer, line, cur ? cur : &single, harness) != 0) {
            rc = 1;
        }
        if (!cur && single.len) {
            s_seed (harness, single.data, single.len);
        }
        free (single.data);
    }
    fclose (f);
    for (size_t i = 0; i < n_blocks; i++) {
        if (blocks[i].buf.len) {
            s_seed (harness, blocks[i].buf.data, blocks[i].buf.len);
        }
        free (blocks[i].buf.data);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Writes every seed of every seeds file given.
int
main (int argc, char *argv[])
{
    if (argc < 3) {
        fprintf (stderr, "usage: fuzz_seeds CORPUS_DIR SEEDS.txt...\n");
        return 2;
    }
    s_out = argv[1];
    mkdir (s_out, 0755);
    s_stream_seeds ();
    int rc = 0;
    for (int a = 2; a < argc; a++) {
        const char *base = strrchr (argv[a], '/') ? strrchr (argv[a], '/') + 1 : argv[a];
        if (strncmp (base, "feed_", 5) == 0) {
            char consumer[64];
            snprintf (consumer, sizeof consumer, "%.*s", (int) strcspn (base + 5, "."),
                      base + 5);
            if (s_feed_file (argv[a], consumer) != 0) {
                rc = 1;
            }
            continue;
        }
        FILE *f = fopen (argv[a], "r");
        if (!f) {
            perror (argv[a]);
            return 1;
        }
        char line[8192];
        int lineno = 0;
        while (fgets (line, sizeof line, f)) {
            if (s_line (argv[a], ++lineno, line) != 0) {
                rc = 1;
            }
        }
        fclose (f);
    }
    printf ("fuzz_seeds: %d seeds written under %s\n", s_written, s_out);
    return rc;
}
