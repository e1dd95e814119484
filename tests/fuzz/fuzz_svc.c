/*  fuzz_svc.c: one service running in process for a harness (see
    fuzz_svc.h).                                                          */
#include <czmq.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_svc.h"
#include "fuzz_util.h"
#include "pm.h"

static const pm_schema_t *s_schema;
static fuzz_setup_fn *s_setup;
static fuzz_subjects_t s_mode;
static pm_server_t *s_server;
static char s_dir[256];                //  this run's work directory
static MDB_dbi s_events;               //  the server's event log
static uint64_t s_seen_seq;            //  last event looked at
static char *s_subjects[FUZZ_SUBJECTS];
static size_t s_n_subjects;
static size_t s_next_subject;          //  the ring's next slot
static uint64_t s_request_id;
static char s_stream[PM_ID_MAX];       //  the store's stream id
static bool s_trace;                   //  FUZZ_TRACE: say what happens

//  --------------------------------------------------------------------------
//  Forgets the subjects seen.
void
fuzz_svc_forget (void)
{
    for (size_t i = 0; i < FUZZ_SUBJECTS; i++) {
        free (s_subjects[i]);
        s_subjects[i] = NULL;
    }
    s_n_subjects = s_next_subject = 0;
}

//  --------------------------------------------------------------------------
//  The subjects kept.
char *const *
fuzz_svc_subjects (size_t *n)
{
    *n = s_n_subjects;
    return s_subjects;
}

//  A fresh, empty store and a server on it.
static void
s_start (void)
{
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s/store'", s_dir);
    if (system (cmd) != 0) {
        fuzz_fail ("cannot clear the store", s_dir);
    }
    s_server = pm_server_new (s_schema, NULL);
    if (!s_server || s_setup (s_server) != 0) {
        fuzz_fail ("cannot start the service in process", s_schema->service);
    }
    //  The event log, read after each input for the records it made.
    if (pm_store_dbi (pm_server_store (s_server), "$events", 0, &s_events) != PM_OK) {
        fuzz_fail ("cannot open the event log", NULL);
    }
    fuzz_svc_forget ();
    s_seen_seq = 0;
    s_stream[0] = 0;
}

//  --------------------------------------------------------------------------
//  A new server on a new store.
void
fuzz_svc_restart (void)
{
    pm_server_destroy (&s_server);
    s_start ();
}

//  --------------------------------------------------------------------------
//  The running server.
pm_server_t *
fuzz_svc_server (void)
{
    return s_server;
}

//  Stops the server and removes the work directory when libFuzzer exits.
static void
s_at_exit (void)
{
    pm_server_destroy (&s_server);
    fuzz_svc_forget ();
    char cmd[300];
    snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_dir);
    if (system (cmd) != 0) {
        fprintf (stderr, "fuzz: could not remove %s\n", s_dir);
    }
}

//  PM_<SERVICE>_<KIND> for `service`.
static void
s_var (char *out, size_t outlen, const char *service, const char *kind)
{
    char up[32];
    size_t i = 0;
    for (; service[i] && i < sizeof up - 1; i++) {
        up[i] = (char) toupper ((unsigned char) service[i]);
    }
    up[i] = 0;
    snprintf (out, outlen, "PM_%s_%s", up, kind);
}

//  --------------------------------------------------------------------------
//  Settings, work directory, the server.
void
fuzz_svc_init (const pm_schema_t *schema, fuzz_setup_fn *setup,
               fuzz_subjects_t subjects)
{
    s_schema = schema;
    s_setup = setup;
    s_mode = subjects;
    s_trace = getenv ("FUZZ_TRACE") && strcmp (getenv ("FUZZ_TRACE"), "0") != 0;
    //  libFuzzer handles SIGINT and friends; czmq must not take them.
    zsys_handler_set (NULL);
    const char *base = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf (s_dir, sizeof s_dir, "%s/praxis-fuzz.XXXXXX", base);
    if (!mkdtemp (s_dir)) {
        fuzz_fail ("cannot make a work directory", s_dir);
    }
    char var[64], value[300];
    const char *svc = schema->service;
    snprintf (value, sizeof value, "%s/store", s_dir);
    setenv ("PM_DATA_DIR", value, 1);
    snprintf (value, sizeof value, "%s/keys", s_dir);
    setenv ("PM_KEYS_DIR", value, 1);
    s_var (var, sizeof var, svc, "ENDPOINT");
    setenv (var, "tcp://127.0.0.1:*", 1);
    s_var (var, sizeof var, svc, "EVENTS");
    setenv (var, "tcp://127.0.0.1:*", 1);
    s_var (var, sizeof var, svc, "METRICS");
    setenv (var, "127.0.0.1:0", 1);
    //  The streams it follows: nowhere (the harness feeds them), so that a
    //  service running on this machine is not followed by accident.
    const pm_schema_t *const *all = fuzz_schemas ();
    for (size_t i = 0; all[i]; i++) {
        if (strcmp (all[i]->service, svc) == 0) {
            continue;
        }
        const char *kinds[] = {"ENDPOINT", "EVENTS"};
        for (size_t k = 0; k < 2; k++) {
            s_var (var, sizeof var, all[i]->service, kinds[k]);
            snprintf (value, sizeof value, "ipc://%s/%s-%s", s_dir, all[i]->service,
                      kinds[k]);
            setenv (var, value, 0);
        }
    }
    //  A small map, so that growing it (abort, grow, run the batch again)
    //  happens while fuzzing too.
    setenv ("PM_MAP_SIZE", "256K", 1);
    setenv ("PM_MAP_MAX", "512M", 1);
    setenv ("PM_CURVE", "off", 1);
    pm_log_init (svc, getenv ("FUZZ_LOG_LEVEL") ? getenv ("FUZZ_LOG_LEVEL") : "error");
    s_start ();
    atexit (s_at_exit);
}

//  --------------------------------------------------------------------------
//  Empties every sub-database of the service's own.
void
fuzz_svc_clear (void)
{
    MDB_txn *txn;
    MDB_dbi main_db;
    MDB_cursor *cursor;
    if (pm_store_begin (pm_server_store (s_server), NULL, true, &txn) != PM_OK
        || mdb_dbi_open (txn, NULL, 0, &main_db) != 0
        || mdb_cursor_open (txn, main_db, &cursor) != 0) {
        fuzz_fail ("cannot clear the store", NULL);
    }
    //  The main database names the sub-databases.
    char names[64][128];
    size_t n = 0;
    MDB_val key, val;
    int rc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    while (rc == 0 && n < 64) {
        if (key.mv_size > 0 && key.mv_size < sizeof names[0]
            && ((const char *) key.mv_data)[0] != '$') {
            memcpy (names[n], key.mv_data, key.mv_size);
            names[n++][key.mv_size] = 0;
        }
        rc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    for (size_t i = 0; i < n; i++) {
        MDB_dbi dbi;
        if (mdb_dbi_open (txn, names[i], 0, &dbi) != 0 || mdb_drop (txn, dbi, 0) != 0) {
            fuzz_fail ("cannot empty a sub-database", names[i]);
        }
    }
    if (pm_store_commit (txn) != PM_OK) {
        fuzz_fail ("cannot clear the store", NULL);
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
    const pm_event_def_t *def = pm_schema_event (s_schema, ev->type);
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

//  Keeps one event's subject, as the mode says.
static void
s_keep_subject (const char *subject)
{
    if (s_mode == FUZZ_SUBJECTS_RING) {
        free (s_subjects[s_next_subject]);
        s_subjects[s_next_subject] = strdup (subject);
        s_next_subject = (s_next_subject + 1) % FUZZ_SUBJECTS;
        if (s_n_subjects < FUZZ_SUBJECTS) {
            s_n_subjects++;
        }
        return;
    }
    for (size_t i = 0; i < s_n_subjects; i++) {
        if (strcmp (s_subjects[i], subject) == 0) {
            return;
        }
    }
    if (s_n_subjects < FUZZ_SUBJECTS) {
        s_subjects[s_n_subjects++] = strdup (subject);
    }
}

//  --------------------------------------------------------------------------
//  Checks the events committed since the last look, keeps their subjects.
void
fuzz_svc_collect (void)
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
            if (s_trace) {
                fprintf (stderr, "fuzz:   -> %s %s\n", ev->type,
                         ev->subject ? ev->subject : "");
            }
            if (ev->subject && *ev->subject) {
                s_keep_subject (ev->subject);
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

//  Prints the stored reply to request `id` (writes' replies are kept for
//  retries; reads' are not).
static void
s_trace_reply (uint64_t id)
{
    Pm__Reply *reply = pm_server_stored_reply (s_server, "fuzz", id);
    if (reply) {
        fprintf (stderr, "fuzz:   <- %s %s\n", pm_err_name ((pm_err) reply->code),
                 reply->message ? reply->message : "");
        pm__reply__free_unpacked (reply, NULL);
    }
    else {
        fprintf (stderr, "fuzz:   <- (a read, or refused before the handler)\n");
    }
}

//  --------------------------------------------------------------------------
//  One request through the command path.
void
fuzz_svc_request (const pm_command_def_t *def, const uint8_t *data, size_t size)
{
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
    if (s_trace && req.client_id && req.request_id) {
        s_trace_reply (req.request_id);
    }
}
