/*  fuzz_svc.h: one service running in process for a harness (fuzz_cmd.c,
    fuzz_feed.c): its settings and work directory, its server and store,
    requests through pm_server_inject, and the checks made on every
    event it commits.

    The server is never run (no loop): inputs go in through
    pm_server_inject and pm_server_inject_event, so timers and the
    followers' sockets do nothing. The streams it follows point at
    endpoints nobody binds.                                              */
#ifndef FUZZ_SVC_H
#define FUZZ_SVC_H

#include <stddef.h>
#include <stdint.h>

#include "pm_schema.h"
#include "pm_server.h"

#define FUZZ_SUBJECTS 10     //  "$0".."$9"

//  How the subjects of committed events are kept for "$0".."$9".
typedef enum {
    FUZZ_SUBJECTS_RING,      //  the last ten events' subjects, in a ring
    FUZZ_SUBJECTS_FIRST      //  the first ten different ones, in order
} fuzz_subjects_t;

//  The service's own setup (<service>_setup).
typedef int (fuzz_setup_fn) (pm_server_t *server);

//  Makes the work directory and settings (loopback ports, CURVE off, a
//  small map; PM_* variables already set win), starts the service on an
//  empty store with `setup`, and removes it all at exit. Log level from
//  FUZZ_LOG_LEVEL (default "error").
void fuzz_svc_init (const pm_schema_t *schema, fuzz_setup_fn *setup,
                    fuzz_subjects_t subjects);

//  The running server.
pm_server_t *fuzz_svc_server (void);

//  Drops the server and starts another on a fresh, empty store.
void fuzz_svc_restart (void);

//  Empties the service's own sub-databases (every one but the runtime's
//  "$..."): records and projections go, the event log and the followers'
//  cursors stay. For a harness whose inputs each start from nothing.
void fuzz_svc_clear (void);

//  Sends one request for `def`: data is one byte of envelope flags (1
//  retry the previous request id, 2 no client_id, 4 request_id 0, 8
//  deadline passed, 16 site_id, 32 actor, 64 correlation_id) then the
//  body. A body that decodes gets its "$0".."$9" replaced by subjects.
void fuzz_svc_request (const pm_command_def_t *def, const uint8_t *data,
                       size_t size);

//  Checks every event committed since the last look (next seq of one
//  stream, a type of the schema, data that decodes; fuzz_fail if not)
//  and keeps their subjects.
void fuzz_svc_collect (void);

//  The subjects kept (n of them, in the order of the mode), and
//  forgetting them.
char *const *fuzz_svc_subjects (size_t *n);
void fuzz_svc_forget (void);

#endif
