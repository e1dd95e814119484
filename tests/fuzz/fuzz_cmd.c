/*  fuzz_cmd.c: libFuzzer harness for every command of one service,
    through the real command path.

    Built once per service (fuzz.mk: -DFUZZ_SVC=<service>): an in-process
    server of that service, set up by its own <service>_setup with a
    temporary store and loopback ports, is fed each input as one request
    frame with pm_server_inject: envelope decode and checks, idempotency
    lookup, batch, the handler with its validation, event log, commit.

    Input:  "<command>\n" the command's name (seeds are written so); or
                     else one byte, an index into the service's commands
                     then the pm.* ones (modulo their count); or 0xFF:
                     the rest of the input is a whole frame, sent as is
            1 byte   envelope flags: 1 retry the previous request id,
                     2 no client_id, 4 request_id 0, 8 deadline passed,
                     16 site_id, 32 actor, 64 correlation_id
            rest     the command's body (protobuf). When it decodes, any
                     string "$0".."$9" in it becomes the subject of an
                     event seen earlier in this run (a record id), so that
                     a corpus can update what it registered.

    The store lives for many inputs (that is what reaches conflicts and
    versions) and is replaced every FUZZ_RECYCLE inputs so it stays small.
    FUZZ_WARMUP=<dir> runs the files there first: a reproducer that needs
    records made by earlier inputs gets them from the corpus.            */
#include <czmq.h>
#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_util.h"
#include "pm.h"

#define S_STR(x) #x
#define S_XSTR(x) S_STR (x)
#define S_CAT(a, b) a##b
#define S_XCAT(a, b) S_CAT (a, b)

#include S_XSTR (FUZZ_SVC.h)
#include S_XSTR (S_XCAT (FUZZ_SVC, _schema).h)

#define SUBJECTS 10          //  "$0".."$9"
#define FUZZ_RECYCLE 20000   //  inputs per store
#define COMMANDS_MAX 128

static pm_server_t *s_server;
static const pm_command_def_t *s_commands[COMMANDS_MAX];
static size_t s_n_commands;
static char s_dir[256];                //  this run's work directory
static MDB_dbi s_events;               //  the server's event log
static uint64_t s_seen_seq;            //  last event looked at
static char *s_subjects[SUBJECTS];     //  subjects of recent events
static size_t s_n_subjects;
static size_t s_next_subject;
static uint64_t s_request_id;
static unsigned s_inputs;
static char s_stream[PM_ID_MAX];       //  the store's stream id

//  --------------------------------------------------------------------------
//  Forgets the subjects and the stream seen in the store being dropped.
static void
s_forget_subjects (void)
{
    for (size_t i = 0; i < SUBJECTS; i++) {
        free (s_subjects[i]);
        s_subjects[i] = NULL;
    }
    s_n_subjects = s_next_subject = 0;
    s_seen_seq = 0;
    s_stream[0] = 0;
}

//  A fresh, empty store and a server on it.
static void
s_server_start (void)
{
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", s_dir);
    if (system (cmd) != 0) {
        fuzz_fail ("cannot clear the store", s_dir);
    }
    s_server = pm_server_new (&S_XCAT (FUZZ_SVC, _schema), NULL);
    if (!s_server || S_XCAT (FUZZ_SVC, _setup) (s_server) != 0) {
        fuzz_fail ("cannot start the service in process", S_XSTR (FUZZ_SVC));
    }
    //  The event log, read after each input for the records it made.
    if (pm_store_dbi (pm_server_store (s_server), "$events", 0, &s_events) != PM_OK) {
        fuzz_fail ("cannot open the event log", NULL);
    }
    s_forget_subjects ();
}

//  --------------------------------------------------------------------------
//  Stops the server and removes the work directory when libFuzzer exits.
static void
s_at_exit (void)
{
    pm_server_destroy (&s_server);
    s_forget_subjects ();
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system (cmd) != 0) {
        fprintf (stderr, "fuzz: could not remove %s\n", s_dir);
    }
}

//  What every event in the log must be: the next seq of one stream, a
//  type the schema declares, data that decodes as that type's message.
static void
s_check_event (const MDB_val *key, const Pm__Event *ev)
{
    if (pm_be64_get (key->mv_data) != s_seen_seq + 1 || ev->seq != s_seen_seq + 1) {
        fuzz_fail ("the event log has a gap or a seq that does not match its key",
                   ev->type);
    }
    if (!ev->stream_id || (s_stream[0] && strcmp (ev->stream_id, s_stream) != 0)) {
        fuzz_fail ("an event of another stream in the log", ev->stream_id);
    }
    snprintf (s_stream, sizeof s_stream, "%s", ev->stream_id);
    const pm_event_def_t *def = pm_schema_event (&S_XCAT (FUZZ_SVC, _schema),
                                                 ev->type);
    if (!def) {
        fuzz_fail ("an event type the schema does not declare", ev->type);
    }
    if (def->data && ev->has_data) {
        ProtobufCMessage *data = protobuf_c_message_unpack (def->data, NULL,
                                                            ev->data.len,
                                                            ev->data.data);
        if (!data) {
            fuzz_fail ("an event's data does not decode as its type's message "
                       "(consumers cannot apply it)",
                       ev->type);
        }
        protobuf_c_message_free_unpacked (data, NULL);
    }
}

//  Remembers the subjects of events committed since the last look.
static void
s_collect_subjects (void)
{
    MDB_txn *txn;
    MDB_cursor *cursor;
    if (pm_store_begin (pm_server_store (s_server), NULL, false, &txn) != PM_OK) {
        fuzz_fail ("cannot read the store", NULL);
    }
    if (mdb_cursor_open (txn, s_events, &cursor) == 0) {
        uint8_t from[8];
        pm_be64_put (from, s_seen_seq + 1);
        MDB_val key = {8, from}, val;
        int rc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        while (rc == 0 && key.mv_size == 8) {
            Pm__Event *ev = pm__event__unpack (NULL, val.mv_size, val.mv_data);
            if (!ev) {
                fuzz_fail ("an event in the log does not decode", NULL);
            }
            s_check_event (&key, ev);
            s_seen_seq = ev->seq;
            if (ev->subject && *ev->subject) {
                free (s_subjects[s_next_subject]);
                s_subjects[s_next_subject] = strdup (ev->subject);
                s_next_subject = (s_next_subject + 1) % SUBJECTS;
                if (s_n_subjects < SUBJECTS) {
                    s_n_subjects++;
                }
            }
            pm__event__free_unpacked (ev, NULL);
            rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close (cursor);
    }
    pm_store_abort (txn);
}

//  The body to send: decoded, placeholders filled in, packed again; or
//  the bytes as they are when they do not decode (the service must refuse
//  them cleanly).
static uint8_t *
s_body (const pm_command_def_t *def, const uint8_t *data, size_t size,
        size_t *len_out)
{
    ProtobufCMessage *msg = def->request
                                ? protobuf_c_message_unpack (def->request, NULL,
                                                             size, data)
                                : NULL;
    uint8_t *body;
    if (msg && s_n_subjects > 0) {
        fuzz_substitute (msg, s_subjects, s_n_subjects);
        *len_out = protobuf_c_message_get_packed_size (msg);
        body = malloc (*len_out ? *len_out : 1);
        protobuf_c_message_pack (msg, body);
    }
    else {
        *len_out = size;
        body = malloc (size ? size : 1);
        memcpy (body, data, size);
    }
    protobuf_c_message_free_unpacked (msg, NULL);
    return body;
}

static void s_inject (const uint8_t *data, size_t size);

//  The command an input names ("<type>\n"), or the one its first byte
//  picks. Advances *data and *size past it.
static const pm_command_def_t *
s_pick_command (const uint8_t **data, size_t *size)
{
    const uint8_t *nl = memchr (*data, '\n', *size < 64 ? *size : 64);
    for (size_t i = 0; nl && i < s_n_commands; i++) {
        size_t len = (size_t) (nl - *data);
        if (strlen (s_commands[i]->type) == len
            && memcmp (s_commands[i]->type, *data, len) == 0) {
            *size -= len + 1;
            *data = nl + 1;
            return s_commands[i];
        }
    }
    const pm_command_def_t *def = s_commands[**data % s_n_commands];
    (*data)++;
    (*size)--;
    return def;
}

//  Runs every file of `dir` (sorted by name) as an input.
static void
s_warm_up (const char *dir)
{
    struct dirent **names;
    int n = scandir (dir, &names, NULL, alphasort);
    for (int i = 0; i < n; i++) {
        char path[1024];
        snprintf (path, sizeof path, "%s/%s", dir, names[i]->d_name);
        FILE *f = names[i]->d_name[0] != '.' ? fopen (path, "rb") : NULL;
        if (f) {
            static uint8_t buf[1 << 16];
            size_t len = fread (buf, 1, sizeof buf, f);
            fclose (f);
            s_inject (buf, len);
        }
        free (names[i]);
    }
    free (names);
}

//  --------------------------------------------------------------------------
//  Makes the work directory and settings, starts the server, warms up.
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void) argc;
    (void) argv;
    //  libFuzzer handles SIGINT and friends; czmq must not take them.
    zsys_handler_set (NULL);
    const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/praxis-fuzz.XXXXXX", base);
    if (!mkdtemp (s_dir)) {
        fuzz_fail ("cannot make a work directory", s_dir);
    }
    char var[64], value[300], up[32];
    const char *svc = S_XSTR (FUZZ_SVC);
    size_t i = 0;
    for (; svc[i] && i < sizeof up - 1; i++) {
        up[i] = (char) toupper ((unsigned char) svc[i]);
    }
    up[i] = 0;
    snprintf (value, sizeof value, "%s/store", s_dir);
    setenv ("PM_DATA_DIR", value, 1);
    snprintf (value, sizeof value, "%s/keys", s_dir);
    setenv ("PM_KEYS_DIR", value, 1);
    snprintf (var, sizeof var, "PM_%s_ENDPOINT", up);
    setenv (var, "tcp://127.0.0.1:*", 1);
    snprintf (var, sizeof var, "PM_%s_EVENTS", up);
    setenv (var, "tcp://127.0.0.1:*", 1);
    snprintf (var, sizeof var, "PM_%s_METRICS", up);
    setenv (var, "127.0.0.1:0", 1);
    //  A small map, so that growing it (abort, grow, run the batch again)
    //  happens while fuzzing too.
    setenv ("PM_MAP_SIZE", "256K", 1);
    setenv ("PM_MAP_MAX", "512M", 1);
    setenv ("PM_CURVE", "off", 1);
    pm_log_init (svc, getenv ("FUZZ_LOG_LEVEL") ? getenv ("FUZZ_LOG_LEVEL") : "error");
    s_n_commands = fuzz_commands (&S_XCAT (FUZZ_SVC, _schema), s_commands,
                                  COMMANDS_MAX);
    s_server_start ();
    atexit (s_at_exit);
    if (getenv ("FUZZ_WARMUP")) {
        s_warm_up (getenv ("FUZZ_WARMUP"));
    }
    return 0;
}

//  One input: one request through the command path.
static void
s_inject (const uint8_t *data, size_t size)
{
    if (size < 2) {
        return;
    }
    if (++s_inputs % FUZZ_RECYCLE == 0) {
        pm_server_destroy (&s_server);
        s_server_start ();
    }
    if (data[0] == 0xFF) {
        pm_server_inject (s_server, data + 1, size - 1);
    }
    else {
        const pm_command_def_t *def = s_pick_command (&data, &size);
        if (size < 1) {
            return;
        }
        uint8_t flags = data[0];
        size_t body_len;
        uint8_t *body = s_body (def, data + 1, size - 1, &body_len);
        Pm__Request req = PM__REQUEST__INIT;
        req.client_id = flags & 2 ? NULL : "fuzz";
        req.has_request_id = 1;
        req.request_id = flags & 1 && s_request_id ? s_request_id : ++s_request_id;
        if (flags & 4) {
            req.request_id = 0;
        }
        req.type = (char *) def->type;
        req.has_deadline = (flags & 8) != 0;
        req.deadline = 1;
        req.site_id = flags & 16 ? "north" : NULL;
        req.actor = flags & 32 ? "fuzz-user" : NULL;
        req.correlation_id = flags & 64 ? "fuzz-correlation" : NULL;
        req.has_body = 1;
        req.body.data = body;
        req.body.len = body_len;
        size_t len = pm__request__get_packed_size (&req);
        uint8_t *frame = malloc (len ? len : 1);
        pm__request__pack (&req, frame);
        pm_server_inject (s_server, frame, len);
        free (frame);
        free (body);
    }
    s_collect_subjects ();
}

//  --------------------------------------------------------------------------
//  libFuzzer: one input, one request.
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_inject (data, size);
    return 0;
}
