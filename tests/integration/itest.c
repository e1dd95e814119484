/*  itest.c: the integration test harness (see itest.h).                  */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "finance_schema.h"
#include "itest.h"
#include "patients_schema.h"
#include "recruitment_schema.h"
#include "scheduling_schema.h"
#include "staffing_schema.h"

#define CASE_LIMIT_S 120 //  a case that runs longer has hung: it fails

static bool s_failed;

int64_t
itest_now (void)
{
    return zclock_mono ();
}

void
itest_fail (const char *file, int line, const char *what)
{
    fprintf (stderr, "    %s:%d: check failed: %s\n", file, line, what);
    s_failed = true;
}

//  The directory of this test binary: the services are built beside it.
static void
s_bin_dir (char *out, size_t outlen)
{
    char self[512];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    self[n > 0 ? n : 0] = 0;
    snprintf (out, outlen, "%s", dirname (self));
}

//  A key store for this test process (services inherit PM_KEYS_DIR) with
//  the network-admin principal "admin" that test clients run as.
static char s_keys[64];

static void
s_keys_remove (void)
{
    if (s_keys[0]) {
        char cmd[128];
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_keys);
        if (system (cmd) != 0) {
            fprintf (stderr, "    could not remove %s\n", s_keys);
        }
        s_keys[0] = 0;
    }
}

static void
s_keys_create (void)
{
    snprintf (s_keys, sizeof s_keys, "/tmp/praxis-keys.XXXXXX");
    if (!mkdtemp (s_keys)) {
        perror ("mkdtemp");
        abort ();
    }
    setenv ("PM_KEYS_DIR", s_keys, 1);
    if (pm_keys_ensure ("admin", "network-admin", "*") != PM_OK) {
        abort ();
    }
}

void
itest_svc_init (itest_svc_t *svc, const char *service, const char *binary)
{
    if (!getenv ("PM_KEYS_DIR")) {
        s_keys_create (); //  outside itest_main (the benchmark)
        atexit (s_keys_remove);
    }
    memset (svc, 0, sizeof *svc);
    snprintf (svc->service, sizeof svc->service, "%s", service);
    char bin[400];
    s_bin_dir (bin, sizeof bin);
    snprintf (svc->binary, sizeof svc->binary, "%s/%s", bin, binary);
    snprintf (svc->dir, sizeof svc->dir, "/tmp/praxis-itest.XXXXXX");
    if (!mkdtemp (svc->dir)) {
        perror ("mkdtemp");
        abort ();
    }
    snprintf (svc->log, sizeof svc->log, "%s.log", svc->dir);
}

static void
s_upper (char *out, const char *in)
{
    while (*in) {
        *out++ = (char) toupper ((unsigned char) *in++);
    }
    *out = 0;
}

//  Reads "commands=..." and "events=..." written by the service.
static bool
s_read_endpoints (itest_svc_t *svc)
{
    char path[300], line[256];
    snprintf (path, sizeof path, "%s/store/endpoints", svc->dir);
    FILE *f = fopen (path, "r");
    if (!f) {
        return false;
    }
    while (fgets (line, sizeof line, f)) {
        line[strcspn (line, "\n")] = 0;
        if (strncmp (line, "commands=", 9) == 0) {
            snprintf (svc->commands, sizeof svc->commands, "%s", line + 9);
        }
        else if (strncmp (line, "events=", 7) == 0) {
            snprintf (svc->events, sizeof svc->events, "%s", line + 7);
        }
        else if (strncmp (line, "metrics=", 8) == 0) {
            snprintf (svc->metrics, sizeof svc->metrics, "%s", line + 8);
        }
    }
    fclose (f);
    return svc->commands[0] && svc->events[0];
}

static int s_start_once (itest_svc_t *svc);

//  --------------------------------------------------------------------------
//  Starts the service. The first start picks random ports below the
//  kernel's ephemeral range (32768 up), so that no outgoing connection can
//  take them while the service is restarted on them; a port someone else
//  holds makes the service exit at once, and another pair is tried.
int
itest_start (itest_svc_t *svc)
{
    if (svc->commands[0]) {
        //  A restart on the same ports: the dead process's sockets may
        //  still hold them for a moment (the service then exits at once).
        int rc = -1;
        for (int attempt = 0; attempt < 40; attempt++) {
            rc = s_start_once (svc);
            if (rc == 0 || svc->pid != 0) {
                break;
            }
            zclock_sleep (50);
        }
        return rc;
    }
    for (int attempt = 0; attempt < 10; attempt++) {
        uint32_t r;
        pm_random (&r, sizeof r);
        int port = 20000 + (int) (r % 6000) * 2;
        snprintf (svc->commands, sizeof svc->commands, "tcp://127.0.0.1:%d", port);
        snprintf (svc->events, sizeof svc->events, "tcp://127.0.0.1:%d", port + 1);
        int rc = s_start_once (svc);
        if (rc != -1 || svc->pid != 0) {
            return rc;
        }
    }
    svc->commands[0] = svc->events[0] = 0;
    return -1;
}

static int
s_start_once (itest_svc_t *svc)
{
    char store[300], endpoints[300];
    snprintf (store, sizeof store, "%s/store", svc->dir);
    snprintf (endpoints, sizeof endpoints, "%s/endpoints", store);
    unlink (endpoints);
    pid_t pid = fork ();
    if (pid == 0) {
        char up[32], var[64];
        s_upper (up, svc->service);
        setenv ("PM_DATA_DIR", store, 1);
        snprintf (var, sizeof var, "PM_%s_ENDPOINT", up);
        setenv (var, svc->commands[0] ? svc->commands : "tcp://127.0.0.1:*", 1);
        snprintf (var, sizeof var, "PM_%s_EVENTS", up);
        setenv (var, svc->events[0] ? svc->events : "tcp://127.0.0.1:*", 1);
        snprintf (var, sizeof var, "PM_%s_METRICS", up);
        setenv (var, "127.0.0.1:0", 1); //  any free port: tests run side by side
        for (int i = 0; svc->env[i]; i++) {
            putenv ((char *) svc->env[i]);
        }
        int fd = open (svc->log, O_WRONLY | O_CREAT | O_APPEND, 0600);
        if (fd >= 0) {
            dup2 (fd, STDERR_FILENO);
            close (fd);
        }
        //  ITEST_WRAP_<SERVICE>="valgrind --tool=callgrind ..." runs the
        //  service under a tool (make profile-book).
        snprintf (var, sizeof var, "ITEST_WRAP_%s", up);
        const char *wrap = getenv (var);
        if (wrap && *wrap) {
            char line[1024];
            snprintf (line, sizeof line, "exec %s %s", wrap, svc->binary);
            execl ("/bin/sh", "sh", "-c", line, (char *) NULL);
        }
        else {
            execl (svc->binary, svc->binary, (char *) NULL);
        }
        perror ("exec");
        _exit (127);
    }
    svc->pid = pid;
    //  Poll for the endpoints file, then for an answer to pm.Health.
    int64_t until = itest_now () + ITEST_WAIT_MS;
    while (itest_now () < until) {
        int status;
        if (waitpid (pid, &status, WNOHANG) == pid) {
            fprintf (stderr, "    %s exited at start (log: %s)\n", svc->service,
                     svc->log);
            svc->pid = 0;
            return -1;
        }
        if (s_read_endpoints (svc)) {
            pm_client_t *client = itest_client (svc);
            Pm__Health *health = itest_health (client);
            pm_client_destroy (&client);
            if (health) {
                pm__health__free_unpacked (health, NULL);
                return 0;
            }
        }
        zclock_sleep (5);
    }
    fprintf (stderr, "    %s did not come up (log: %s)\n", svc->service, svc->log);
    return -1;
}

void
itest_signal (itest_svc_t *svc, int sig)
{
    if (svc->pid > 0) {
        kill (svc->pid, sig);
        int status;
        int64_t until = itest_now () + ITEST_WAIT_MS;
        while (waitpid (svc->pid, &status, WNOHANG) == 0) {
            if (itest_now () > until) {
                kill (svc->pid, SIGKILL);
                waitpid (svc->pid, &status, 0);
                break;
            }
            zclock_sleep (2);
        }
        svc->pid = 0;
    }
}

void
itest_cleanup (itest_svc_t *svc)
{
    itest_signal (svc, SIGTERM);
    char cmd[700];
    snprintf (cmd, sizeof cmd, "rm -rf '%s' '%s'", svc->dir, svc->log);
    if (system (cmd) != 0) {
        fprintf (stderr, "    could not remove %s\n", svc->dir);
    }
}

pm_client_t *
itest_client (itest_svc_t *svc)
{
    pm_client_t *client = pm_client_new (svc->service, svc->commands, NULL);
    pm_client_set_timeout (client, 2000, 3);
    return client;
}

void
itest_bin_path (const char *name, char *out, size_t outlen)
{
    char bin[400];
    s_bin_dir (bin, sizeof bin);
    snprintf (out, outlen, "%s/%s", bin, name);
}

void
itest_principal (const char *name, const char *role, const char *sites)
{
    itest_person (name, role, sites, NULL);
}

void
itest_person (const char *name, const char *role, const char *sites, const char *staff)
{
    if (pm_keys_ensure_person (name, role, sites, staff) != PM_OK) {
        fprintf (stderr, "    cannot make principal %s\n", name);
        abort ();
    }
}

pm_client_t *
itest_client_as (itest_svc_t *svc, const char *name)
{
    pm_keys_set_identity (name);
    pm_client_t *client = itest_client (svc);
    pm_keys_set_identity ("admin");
    return client;
}

void
itest_point_at (itest_svc_t *svc, itest_svc_t *other)
{
    char up[32];
    s_upper (up, other->service);
    int n = 0;
    while (svc->env[n]) {
        n++;
    }
    char *a = malloc (256), *b = malloc (256);
    snprintf (a, 256, "PM_%s_ENDPOINT=%s", up, other->commands);
    snprintf (b, 256, "PM_%s_EVENTS=%s", up, other->events);
    svc->env[n] = a;
    svc->env[n + 1] = b;
    svc->env[n + 2] = NULL;
}

//  A command of any service, or of every service (pm.*).
static const pm_command_def_t *
s_command (const char *type)
{
    const pm_schema_t *all[] = {&patients_schema, &staffing_schema,
                                &scheduling_schema, &recruitment_schema,
                                &finance_schema};
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        const pm_command_def_t *def = pm_schema_command (all[i], type);
        if (def) {
            return def;
        }
    }
    return NULL;
}

json_t *
itest_req (pm_client_t *client, int want, const char *field, const char *type,
           const char *fmt, ...)
{
    const pm_command_def_t *def = s_command (type);
    if (!def) {
        fprintf (stderr, "    no command %s\n", type);
        return NULL;
    }
    ProtobufCMessage *body = NULL;
    if (fmt && def->request) {
        char text[16384], err[256];
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
        out = def->reply ? pm_json_from_pb (def->reply, reply->body.data, reply->body.len)
                         : json_object ();
    }
    else {
        out = json_pack ("{s:s, s:s}", "message", reply->message ? reply->message : "",
                         "field", reply->field ? reply->field : "");
    }
    pm__reply__free_unpacked (reply, NULL);
    return out;
}

json_t *
itest_json_at (json_t *j, const char *path)
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
            const char *close = strchr (path, ']');
            path = close ? close + 1 : path + strlen (path);
        }
        if (*path == '.') {
            path++;
        }
    }
    return j;
}

const char *
itest_json_str (json_t *j, const char *path)
{
    const char *s = json_string_value (itest_json_at (j, path));
    return s ? s : "";
}

Pm__Reply *
itest_call (pm_client_t *client, const char *type, const ProtobufCMessage *body)
{
    Pm__Reply *reply = NULL;
    if (pm_client_call (client, type, body, &reply) != PM_OK) {
        return NULL;
    }
    return reply;
}

Pm__Health *
itest_health (pm_client_t *client)
{
    Pm__Reply *reply = itest_call (client, "pm.Health", NULL);
    Pm__Health *health = NULL;
    if (reply && reply->code == PM__CODE__OK) {
        health = pm__health__unpack (NULL, reply->body.len, reply->body.data);
    }
    if (reply) {
        pm__reply__free_unpacked (reply, NULL);
    }
    return health;
}

long
itest_read_stream (pm_client_t *client, Pm__Event ***events_out)
{
    size_t n = 0, cap = 0;
    Pm__Event **events = NULL;
    uint64_t from = 1;
    for (;;) {
        Pm__EventsRead req = PM__EVENTS_READ__INIT;
        req.has_from_seq = 1;
        req.from_seq = from;
        Pm__Reply *reply = itest_call (client, "pm.EventsRead", &req.base);
        if (!reply || reply->code != PM__CODE__OK) {
            if (reply) {
                pm__reply__free_unpacked (reply, NULL);
            }
            return -1;
        }
        Pm__EventBatch *batch = pm__event_batch__unpack (NULL, reply->body.len,
                                                         reply->body.data);
        pm__reply__free_unpacked (reply, NULL);
        if (!batch) {
            return -1;
        }
        size_t got = batch->n_events;
        for (size_t i = 0; i < got; i++) {
            if (n == cap) {
                cap = cap ? cap * 2 : 256;
                events = realloc (events, cap * sizeof *events);
            }
            //  Keep a copy that outlives the batch.
            uint8_t *buf = malloc (pm__event__get_packed_size (batch->events[i]));
            size_t len = pm__event__pack (batch->events[i], buf);
            events[n++] = pm__event__unpack (NULL, len, buf);
            free (buf);
            from = batch->events[i]->seq + 1;
        }
        uint64_t high = batch->high_seq;
        pm__event_batch__free_unpacked (batch, NULL);
        if (got == 0 || from > high) {
            break;
        }
    }
    *events_out = events;
    return (long) n;
}

int
itest_main (int argc, char *argv[], const itest_case_t *cases)
{
    int passed = 0, failed = 0;
    pm_log_init ("itest", "error");
    for (const itest_case_t *c = cases; c->name; c++) {
        bool wanted = argc <= 1;
        for (int a = 1; a < argc; a++) {
            wanted = wanted || strcmp (argv[a], c->name) == 0;
        }
        if (!wanted) {
            continue;
        }
        int64_t started = itest_now ();
        fflush (stdout);
        pid_t pid = fork ();
        if (pid == 0) {
            alarm (CASE_LIMIT_S);
            setpgid (0, 0);
            s_failed = false;
            s_keys_create ();
            c->fn ();
            zsys_shutdown ();
            s_keys_remove ();
            _exit (s_failed ? 1 : 0);
        }
        int status = 0;
        waitpid (pid, &status, 0);
        //  Nothing a case started may outlive it.
        kill (-pid, SIGKILL);
        bool ok = WIFEXITED (status) && WEXITSTATUS (status) == 0;
        printf ("  %-40s %s (%.1f s)\n", c->name,
                ok ? "ok" : WIFSIGNALED (status) ? "FAILED (killed)" : "FAILED",
                (double) (itest_now () - started) / 1000.0);
        ok ? passed++ : failed++;
    }
    printf ("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}

//  --------------------------------------------------------------------------
//  Makes a stopped service's store look older: entries of `dbi` whose key
//  starts with one of `tags` deleted.
long
itest_store_forget (itest_svc_t *svc, const char *dbi, const char *tags)
{
    char path[300];
    snprintf (path, sizeof path, "%s/store", svc->dir);
    pm_store_t *store = pm_store_new (path, 1 << 26, 1ULL << 32);
    MDB_dbi handle;
    MDB_txn *txn = NULL;
    if (!store || pm_store_dbi (store, dbi, 0, &handle) != PM_OK
        || pm_store_begin (store, NULL, true, &txn) != PM_OK) {
        pm_store_destroy (&store);
        return -1;
    }
    long n = 0;
    MDB_cursor *cur;
    int rc = mdb_cursor_open (txn, handle, &cur);
    MDB_val key, val;
    rc = rc ? rc : mdb_cursor_get (cur, &key, &val, MDB_FIRST);
    while (rc == 0) {
        if (key.mv_size > 0 && strchr (tags, ((const char *) key.mv_data)[0])) {
            //  Placed afresh after the delete: what a cursor points at
            //  after deleting the last entry differs between LMDB versions.
            uint8_t deleted[512];
            size_t len = key.mv_size < sizeof deleted ? key.mv_size : sizeof deleted;
            memcpy (deleted, key.mv_data, len);
            rc = mdb_cursor_del (cur, 0);
            n++;
            key = (MDB_val) {len, deleted};
            rc = rc ? rc : mdb_cursor_get (cur, &key, &val, MDB_SET_RANGE);
        }
        else {
            rc = mdb_cursor_get (cur, &key, &val, MDB_NEXT);
        }
    }
    mdb_cursor_close (cur);
    bool ok = rc == MDB_NOTFOUND && pm_store_commit (txn) == PM_OK;
    if (!ok && rc != MDB_NOTFOUND) {
        pm_store_abort (txn);
    }
    pm_store_destroy (&store);
    return ok ? n : -1;
}
