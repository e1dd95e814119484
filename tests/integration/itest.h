/*  itest.h: the integration test harness. Starts real service binaries
    on loopback, each with its own temporary store and kernel-chosen
    ports, and drives them only through the public protocol.

    Every wait is bounded; nothing sleeps for a fixed time to "let things
    settle": waits poll a condition until a deadline.                     */
#ifndef ITEST_H
#define ITEST_H

#include <stdbool.h>
#include <stdio.h>
#include <sys/types.h>

#include "pm.h"

#define ITEST_WAIT_MS 10000 //  the longest any single wait may take

typedef struct {
    char service[32];        //  "patients", "mirror", ...
    char binary[512];        //  full path
    char dir[256];           //  its data directory (temporary)
    char commands[128];      //  where clients connect
    char events[128];        //  where subscribers connect
    char metrics[128];       //  its Prometheus URL, if it serves one
    const char *env[16];     //  extra "K=V" settings, NULL-terminated
    pid_t pid;               //  0 when not running
    char log[300];           //  its stderr
} itest_svc_t;

//  Prepares `svc` for `service`, run by `binary` (a name in the build's
//  bin directory, e.g. "pm-patients"), with a fresh data directory.
void itest_svc_init (itest_svc_t *svc, const char *service, const char *binary);

//  Starts the service and waits until it answers pm.Health. The first
//  start binds kernel-chosen ports; later starts reuse them. 0 or -1.
int itest_start (itest_svc_t *svc);

//  Sends `sig`, waits for the process to end. SIGTERM = clean stop.
void itest_signal (itest_svc_t *svc, int sig);

//  Stops it (if running) and removes its data directory.
void itest_cleanup (itest_svc_t *svc);

//  A client of the service's command endpoint (short timeouts).
pm_client_t *itest_client (itest_svc_t *svc);

//  The path of a program built beside the tests (pmctl, pm-patients, ...).
void itest_bin_path (const char *name, char *out, size_t outlen);

//  A principal in this test's key store (role name, sites "*" or "a,b").
void itest_principal (const char *name, const char *role, const char *sites);

//  Makes a stopped service's store look like an older version's: every
//  entry of sub-database `dbi` whose key starts with one of the bytes in
//  `tags` is deleted. The count, or -1. For tests of start-up migrations.
long itest_store_forget (itest_svc_t *svc, const char *dbi, const char *tags);

//  The same for a person's key linked to their staff record ("stf_...").
void itest_person (const char *name, const char *role, const char *sites,
                   const char *staff);

//  A client of the service running as principal `name` (see
//  itest_principal); itest_client runs as "admin" (network-admin).
pm_client_t *itest_client_as (itest_svc_t *svc, const char *name);

//  Environment for the service about another one (it follows `other`):
//  sets PM_<OTHER>_ENDPOINT / _EVENTS in svc's extra settings.
void itest_point_at (itest_svc_t *svc, itest_svc_t *other);

//  Calls `type` (any service's command, or pm.*) with a JSON body
//  (printf-style; NULL = none). When the reply's code is `want` (and its
//  field is `field`, if given) returns the reply body as JSON (for an
//  error: {"message", "field"}); otherwise prints what came back and
//  returns NULL. Caller decrefs.
json_t *itest_req (pm_client_t *client, int want, const char *field,
                   const char *type, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));

//  The value at a path like "history[1].actor" in `j` (borrowed), NULL
//  when there is none.
json_t *itest_json_at (json_t *j, const char *path);

//  The string at `path`, "" when there is none.
const char *itest_json_str (json_t *j, const char *path);

//  Calls `type` with `body`; the reply, or NULL on no answer.
Pm__Reply *itest_call (pm_client_t *client, const char *type,
                       const ProtobufCMessage *body);

//  The service's health (caller frees), NULL on no answer.
Pm__Health *itest_health (pm_client_t *client);

//  Reads the whole stream from seq 1 (caller frees each event and the
//  array). Returns the count, -1 on failure.
long itest_read_stream (pm_client_t *client, Pm__Event ***events_out);

//  --- the runner -----------------------------------------------------------

//  A failed check: prints where and why, marks the case failed, and
//  returns from the test function.
#define CHECK(cond)                                                            \
    do {                                                                       \
        if (!(cond)) {                                                         \
            itest_fail (__FILE__, __LINE__, #cond);                            \
            return;                                                            \
        }                                                                      \
    } while (0)

void itest_fail (const char *file, int line, const char *what);

typedef struct {
    const char *name;
    void (*fn) (void);
} itest_case_t;

//  Runs the cases named on the command line (all if none), each in its own
//  process with a time limit; prints "N passed, N failed". Exit 0 if all
//  passed.
int itest_main (int argc, char *argv[], const itest_case_t *cases);

//  Milliseconds on the monotonic clock.
int64_t itest_now (void);

#endif
