/*  pm_server.h: the service runtime. Every Praxis service is a pm_server
    with handlers bound to the commands of its schema.

    One thread, one zloop. Every write takes one path (DESIGN.md s.2):

      ROUTER -> decode + validate envelope (unknown fields dropped)
        -> authorize: the CURVE principal's role for the command, its
           sites for the envelope's site (a gateway as its end user);
           a refusal is audited
        -> idempotency lookup
        -> batch: one LMDB write txn for all requests waiting now, a
           nested txn per request (a failing request rolls back alone)
        -> handler(ctx, body): state changes + pm_ctx_emit (events go to
           the log in the same txn) + pm_ctx_reply
        -> commit (one fsync for the whole batch)
        -> send replies -> publish events on PUB

    Nothing leaves the process before the commit that holds it is durable:
    neither a reply nor an event nor, for a read that touched personal data
    (pm_ctx_audit), its answer before its audit entries commit with the
    next batch. Reads run at once in a short read transaction. The stream
    heartbeat, metrics gauges, reply expiry and stale-reader checks are
    timers on the same loop.
    A service may follow other services' streams (pm_server_follow): their
    events are applied in write transactions that also store the cursor.

    Handlers and followers never touch sockets; they read the runtime's
    clock (pm_ctx_now), never time().                                     */
#ifndef PM_SERVER_H
#define PM_SERVER_H

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stdint.h>

#include "pm.pb-c.h"
#include "pm_err.h"
#include "pm_evlog.h"
#include "pm_keys.h"
#include "pm_schema.h"
#include "pm_store.h"

typedef struct _pm_server_t pm_server_t;
typedef struct _pm_ctx_t pm_ctx_t;

//  A command handler. body is the decoded request (NULL if the command has
//  none); it is borrowed. Return PM_OK after pm_ctx_reply, or the code
//  from pm_ctx_fail. Returning PM_EFULL (from a store call) makes the
//  runtime grow the map and run the whole batch again.
typedef pm_err (pm_handler_fn) (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  Applies one event of a followed stream, in the transaction that also
//  advances the cursor. Must be deterministic: it may run again after a
//  grow-and-retry.
typedef pm_err (pm_apply_fn) (pm_ctx_t *ctx, const Pm__Event *event);

//  Drops everything projected from `source`: its stream was replaced and
//  will be replayed from seq 1.
typedef pm_err (pm_reset_fn) (pm_ctx_t *ctx, const char *source);

//  Time-driven work (automatic no-shows, lapsed holds, expiry warnings):
//  runs in its own write transaction like a command, may change records
//  and emit events, reads pm_ctx_now. A returned error rolls it back and
//  is logged; PM_EFULL grows the map and runs it again.
typedef pm_err (pm_tick_fn) (pm_ctx_t *ctx);

//  Creates the server of schema->service: reads its settings (PM_*),
//  opens its store and event log, binds its sockets. `state` is the
//  service's own, handed back by pm_ctx_state. NULL on failure (logged).
pm_server_t *pm_server_new (const pm_schema_t *schema, void *state);

void pm_server_destroy (pm_server_t **self_p);

//  The service's store, to open its sub-databases before running.
pm_store_t *pm_server_store (pm_server_t *self);

//  Binds `fn` to command `type`, which must be in the schema.
void pm_server_handle (pm_server_t *self, const char *type, pm_handler_fn *fn);

//  Follows `source`'s stream from the stored cursor (endpoints from
//  PM_<SOURCE>_ENDPOINT / _EVENTS). Call before pm_server_run.
void pm_server_follow (pm_server_t *self, const char *source,
                       pm_apply_fn *apply, pm_reset_fn *reset);

//  Runs `fn` every `interval_ms` on the service loop, through the write
//  path. Call before pm_server_run.
void pm_server_every (pm_server_t *self, int interval_ms, pm_tick_fn *fn);

//  Serves until SIGINT/SIGTERM: the batch in hand is finished, committed
//  and answered first. Returns 0.
int pm_server_run (pm_server_t *self);

//  Feeds one request frame through the whole command path (decode,
//  validate, batch, handler, commit) as if a client had sent it; the reply
//  goes to no one. For fuzzers and in-process tests; never on a served
//  server's loop thread from elsewhere.
void pm_server_inject (pm_server_t *self, const uint8_t *frame, size_t len);

//  Feeds one Event frame to the follower of `source` as the next event of
//  its stream (seq set to cursor + 1), through the same apply path and
//  transaction as a live event. For fuzzers, like pm_server_inject.
void pm_server_inject_event (pm_server_t *self, const char *source,
                             const uint8_t *frame, size_t len);

//  Runs every timed work (pm_server_every) once now, each through the
//  write path as its timer would. For fuzzers, like pm_server_inject: they
//  move the clock and then let the timers act (lapsed holds, no-shows...).
void pm_server_inject_tick (pm_server_t *self);

//  The reply stored for the write (client_id, request_id): what a retry of
//  it is answered with, decoded (caller frees), or NULL if none is stored.
//  For fuzzers' traces and tests, like pm_server_inject.
Pm__Reply *pm_server_stored_reply (pm_server_t *self, const char *client_id,
                                   uint64_t request_id);

//  --- inside a handler -----------------------------------------------------

//  The transaction: read-write in a write command or a follower, read-only
//  in a read command.
MDB_txn *pm_ctx_txn (pm_ctx_t *ctx);

//  The runtime's clock, ms UTC, fixed for the whole batch.
int64_t pm_ctx_now (pm_ctx_t *ctx);

//  The service state given to pm_server_new.
void *pm_ctx_state (pm_ctx_t *ctx);

//  The request being served (NULL in a follower).
const Pm__Request *pm_ctx_request (pm_ctx_t *ctx);

//  Who is asking: the authenticated principal, or for a gateway the end
//  user it acts for. In followers and timed work: the service itself.
const pm_principal_t *pm_ctx_principal (pm_ctx_t *ctx);

//  True when the principal may see or change data of `site`: it works
//  there, or it is a clinician breaking the glass (then the access is
//  flagged in the audit log). Handlers call it for every record they
//  touch that belongs to a site.
bool pm_ctx_may_access_site (pm_ctx_t *ctx, const char *site);

//  Puts this access to a person's record on the audit log: the principal,
//  the command, `subject` (the record's id), its `site`, the purpose, the
//  outcome and whether the glass was broken. A write's entries commit
//  with it; a read's reply waits until its entries are durable. Handlers
//  of services that hold personal data call it for every record they
//  read or change.
void pm_ctx_audit (pm_ctx_t *ctx, const char *subject, const char *site);

//  Records an error reply: code, the offending field (NULL if none) and a
//  printf-style message. Returns `code`, so a handler ends with
//  `return pm_ctx_fail (...)`.
pm_err pm_ctx_fail (pm_ctx_t *ctx, pm_err code, const char *field,
                    const char *fmt, ...) __attribute__ ((format (printf, 4, 5)));

//  The message of the last pm_ctx_fail in this unit ("" if none): for a
//  handler or consumer that records why something it tried was refused.
const char *pm_ctx_failure (pm_ctx_t *ctx);

//  The staff record ("stf_...") of the person whose key made the request
//  (through a gateway: of the end user), or NULL when the key is not
//  linked to one (services, admins, keys made without --staff). Handlers
//  let a linked key act only as that staff member where a command names
//  one.
const char *pm_ctx_staff_id (pm_ctx_t *ctx);

//  How far this service has applied the stream of `source` it follows:
//  the stream id (valid until the handler returns) and the seq of the
//  last event applied and committed. False when it does not follow it or
//  has applied nothing yet. A handler that checks against a projection
//  records this, so that a later event can tell whether the check saw it.
bool pm_ctx_follow_position (pm_ctx_t *ctx, const char *source, const char **stream,
                             uint64_t *seq);

//  Sets the reply body. Returns PM_OK.
pm_err pm_ctx_reply (pm_ctx_t *ctx, const ProtobufCMessage *msg);

//  Appends an event to the stream in this transaction; it is published
//  after the commit. `data` is the aggregate's full new state.
pm_err pm_ctx_emit (pm_ctx_t *ctx, const char *type, const char *site_id,
                    const char *subject, const ProtobufCMessage *data);

//  The same with `data` already packed (len bytes; NULL for none).
pm_err pm_ctx_emit_packed (pm_ctx_t *ctx, const char *type, const char *site_id,
                           const char *subject, const uint8_t *data, size_t len);

//  Rewrites the data of this service's committed events in place, at most
//  `max` of them from `from_seq` on (pm_evlog_rewrite: seq, type and
//  subject stay): for erasure. Write units only (commands, timers). On
//  PM_OK *next_out is where the next pass starts and *done_out says the
//  pass reached the end of the stream.
pm_err pm_ctx_events_rewrite (pm_ctx_t *ctx, uint64_t from_seq, uint32_t max,
                              pm_event_rewrite_fn *fn, void *arg, uint64_t *next_out,
                              bool *done_out);

//  The usual end of a write, from one packing of `msg`: stores it under
//  `key` in `dbi`, emits it as event `type` (NULL: none) and, in a
//  command, replies with it. (Packing an aggregate with its history three
//  times was a tenth of a booking's instructions.)
pm_err pm_ctx_save_record (pm_ctx_t *ctx, MDB_dbi dbi, const void *key, size_t klen,
                           const ProtobufCMessage *msg, const char *type,
                           const char *site_id, const char *subject);

#endif
