/*  pm_server.c: the service runtime (see pm_server.h for the shape).

    Memory: a request's frames are copied once into its pending slot; the
    Request and its body are unpacked with protobuf-c's default allocator
    and freed after the reply is sent. Events are packed once, stored, and
    the same bytes are published after the commit.                       */
#include <assert.h>
#include <czmq.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pm_audit.h"
#include "pm_cfg.h"
#include "pm_client.h"
#include "pm_evlog.h"
#include "pm_id.h"
#include "pm_keys.h"
#include "pm_log.h"
#include "pm_metrics.h"
#include "pm_server.h"
#include "pm_str.h"
#include "pm_sock.h"

#define IDENTITY_MAX 256      //  libzmq routing ids are at most 255 bytes
#define CLIENT_ID_MAX 64
#define REPLY_KEY_MAX (8 + CLIENT_ID_MAX)
#define EXPIRE_EVERY_MS 60000 //  reply expiry and stale-reader checks
#define EXPIRE_PER_PASS 10000 //  bounded work per pass keeps batches prompt
#define FOLLOW_TICK_MS 250
#define FOLLOW_RETRY_MS 2000  //  an unanswered catch-up read is resent
#define FOLLOW_PAGE 500       //  events asked for per catch-up read
#define FOLLOW_DRAIN 1000     //  live events taken per wake-up

typedef struct {
    const pm_command_def_t *def; //  from the schema
    pm_handler_fn *fn;           //  the service's handler
} s_binding_t;

//  An event waiting for its commit before it is published.
typedef struct {
    char *topic;   //  the event type
    uint8_t *data; //  the packed pm.Event, as stored
    size_t len;
} s_outbound_t;

//  One audit record waiting for its transaction (strings owned).
typedef struct {
    char principal[PM_NAME_MAX];
    char role[24];
    char via[PM_NAME_MAX];
    char action[64];
    char subject[PM_ID_MAX + 8];
    char site[72];
    char purpose[256];
    char request[PM_ID_MAX + 32];
    pm_err outcome;
    bool break_glass;
    int64_t time;
} s_audit_rec_t;

//  A read reply that waits for its audit records to be durable.
typedef struct {
    uint8_t identity[IDENTITY_MAX];
    size_t identity_len;
    uint64_t request_id;
    uint8_t *reply;
    size_t reply_len;
} s_held_t;

//  A write request waiting for its batch.
typedef struct {
    uint8_t identity[IDENTITY_MAX]; //  ROUTER routing id of the client
    size_t identity_len;
    Pm__Request *request;           //  unpacked envelope (owned)
    ProtobufCMessage *body;         //  unpacked body (owned), may be NULL
    const s_binding_t *binding;
    pm_principal_t principal;       //  who asks (effective)
    int64_t received_us;            //  when its drain began (latency)
    char via[PM_NAME_MAX];          //  the gateway acting for them, or ""
    uint8_t *reply;                 //  packed pm.Reply, after the batch ran
    size_t reply_len;
    pm_err code;                    //  its result code
} s_pending_t;

//  Time-driven work registered with pm_server_every.
typedef struct {
    pm_server_t *server;
    int interval_ms;
    pm_tick_fn *fn;
} s_ticker_t;

//  A stream this service follows.
typedef struct {
    pm_server_t *server;
    char source[32];              //  the producer, e.g. "staffing"
    pm_apply_fn *apply;
    pm_reset_fn *reset;
    pm_client_t *client;          //  catch-up reads
    zsock_t *sub;                 //  live events
    char stream_id[PM_ID_MAX];    //  the stream the cursor belongs to
    uint64_t cursor;              //  last seq applied (durable)
    uint64_t known_high;          //  highest seq the producer announced
    uint64_t inflight;            //  request id of the catch-up read, or 0
    int64_t inflight_at;          //  when it was sent (mono ms)
    uint64_t applied;             //  events applied since start
    uint64_t failed;              //  events whose apply failed (logged)
    uint64_t catch_ups;           //  catch-up reads sent
    bool warned;                  //  told the log it cannot connect yet
    uint64_t gaps;                //  live events lost in transit (PUB drops)
    uint64_t last_live;           //  seq of the last live event received
    uint64_t key_stamp[2];        //  the producer's public key file when we
                                  //  connected (pm_keys_public_stamp)
} s_follower_t;

struct _pm_ctx_t {
    pm_server_t *server;
    MDB_txn *txn;
    const Pm__Request *request; //  NULL in a follower
    const pm_principal_t *principal; //  effective principal; NULL = the service
    const char *via;            //  gateway acting for the principal, or NULL
    bool broke_glass;           //  a site check passed only by break-glass
    char (*audits)[2][80];      //  (subject, site) pairs to put on the record
    size_t n_audits;
    size_t cap_audits;
    int64_t now;
    bool writable;
    uint64_t mark_seq;          //  event log position when the unit began
    size_t mark_outbox;         //  outbox length when the unit began
    char field[128];            //  error: offending field
    char message[512];          //  error: human text
    uint8_t *body;              //  reply body (malloc'd), may be NULL
    size_t body_len;
};

struct _pm_server_t {
    const pm_schema_t *schema;
    void *state;                //  the service's, for handlers
    char *data_dir;
    pm_store_t *store;
    pm_evlog_t *evlog;
    pm_audit_t *audit;          //  hash-chained access log
    pm_metrics_t *metrics;      //  Prometheus counters and gauges
    int64_t drain_us;           //  when the current drain began
    s_audit_rec_t *audit_queue; //  records of reads and refusals, for the next commit
    size_t audit_len;
    size_t audit_cap;
    s_held_t *held;             //  read replies waiting for their records
    size_t held_len;
    size_t held_cap;
    MDB_dbi replies;            //  be64 request_id client_id -> be64 time + Reply
    MDB_dbi reply_times;        //  be64 time + reply key -> ""   (expiry)
    MDB_dbi cursors;            //  source -> pm.ConsumerLag (stream_id, cursor)
    zhashx_t *bindings;         //  type -> s_binding_t
    zsock_t *router;
    zsock_t *pub;
    void *router_handle;        //  raw libzmq sockets for the hot path
    void *pub_handle;
    zloop_t *loop;
    s_pending_t *batch;
    size_t batch_len;
    size_t batch_max;
    s_outbound_t *outbox;
    size_t outbox_len;
    size_t outbox_cap;
    zlistx_t *followers;        //  s_follower_t
    zlistx_t *tickers;          //  s_ticker_t
    size_t max_request;
    int64_t reply_ttl_ms;
    int64_t anchor_every_ms;    //  audit anchors on the stream; 0 = none
    uint64_t anchored_seq;      //  the audit seq last anchored
    uint32_t events_read_max;
    int heartbeat_ms;
    int64_t clock_offset_ms;
    int64_t started_at;
    uint64_t requests;
    uint64_t batches;
    bool write_failing;         //  the last batch could not commit
    char commands_endpoint[256];
    char events_endpoint[256];
};

static void s_follower_destroy (void **item);

//  --------------------------------------------------------------------------
//  The runtime's clock. PM_CLOCK_OFFSET_MS shifts it, for drills and
//  tests of what happens days from now.
static int64_t
s_now (pm_server_t *self)
{
    return pm_clock_wall_ms () + self->clock_offset_ms;
}

//  Writes the bound endpoints to <data dir>/endpoints (atomically), so a
//  supervisor or a test that bound to port '*' knows where to connect.
static void
s_write_endpoints (pm_server_t *self)
{
    char path[1024], tmp[1100];
    snprintf (path, sizeof path, "%s/endpoints", self->data_dir);
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen (tmp, "w");
    if (f) {
        fprintf (f, "commands=%s\nevents=%s\n", self->commands_endpoint,
                 self->events_endpoint);
        if (self->metrics && pm_metrics_port (self->metrics)) {
            fprintf (f, "metrics=http://127.0.0.1:%d/metrics\n",
                     pm_metrics_port (self->metrics));
        }
        fclose (f);
        rename (tmp, path);
    }
}

static void
s_binding_free (void **item)
{
    free (*item);
    *item = NULL;
}

static pm_err s_replies_migrate (pm_server_t *self);
static pm_err s_tick_fn (pm_server_t *self, MDB_txn *txn, void *arg);
static pm_err s_handle_events_read (pm_ctx_t *ctx, const ProtobufCMessage *body);
static pm_err s_handle_health (pm_ctx_t *ctx, const ProtobufCMessage *body);
static pm_err s_handle_audit_read (pm_ctx_t *ctx, const ProtobufCMessage *body);
static pm_err s_handle_audit_verify (pm_ctx_t *ctx, const ProtobufCMessage *body);

//  --------------------------------------------------------------------------
//  Creates the server: settings, store, event log, sockets.
pm_server_t *
pm_server_new (const pm_schema_t *schema, void *state)
{
    assert (schema && schema->service);
    pm_server_t *self = calloc (1, sizeof *self);
    assert (self);
    self->schema = schema;
    self->state = state;
    self->started_at = pm_clock_wall_ms ();

    char dir[1024];
    const char *data_dir = pm_cfg_get ("PM_DATA_DIR", NULL);
    if (!data_dir || strstr (data_dir, "<service>")) {
        mkdir ("./var", 0700);
        snprintf (dir, sizeof dir, "./var/%s", schema->service);
    }
    else {
        snprintf (dir, sizeof dir, "%s", data_dir);
    }
    self->data_dir = strdup (dir);
    self->batch_max = (size_t) pm_cfg_int ("PM_BATCH_MAX", 256);
    if (self->batch_max < 1) {
        self->batch_max = 1;
    }
    self->max_request = (size_t) pm_cfg_int ("PM_MAX_REQUEST", 1 << 20);
    self->reply_ttl_ms = pm_cfg_int ("PM_REPLY_TTL_S", 86400) * 1000;
    self->anchor_every_ms = pm_cfg_int ("PM_AUDIT_ANCHOR_S", 3600) * 1000;
    self->events_read_max = (uint32_t) pm_cfg_int ("PM_EVENTS_READ_MAX", 1000);
    self->heartbeat_ms = (int) pm_cfg_int ("PM_HEARTBEAT_MS", 1000);
    self->clock_offset_ms = pm_cfg_int ("PM_CLOCK_OFFSET_MS", 0);
    self->batch = calloc (self->batch_max, sizeof *self->batch);
    self->bindings = zhashx_new ();
    zhashx_set_destructor (self->bindings, s_binding_free);
    self->followers = zlistx_new ();
    zlistx_set_destructor (self->followers, s_follower_destroy);
    self->tickers = zlistx_new ();
    zlistx_set_destructor (self->tickers, s_binding_free);

    self->store = pm_store_new (self->data_dir,
                                (size_t) pm_cfg_int ("PM_MAP_SIZE", 1LL << 30),
                                (size_t) pm_cfg_int ("PM_MAP_MAX", 64LL << 30));
    if (!self->store
        || !(self->evlog = pm_evlog_new (self->store, schema->service))
        || !(self->audit = pm_audit_new (self->store))
        || pm_store_dbi (self->store, "$stored_replies", 0, &self->replies) != PM_OK
        || pm_store_dbi (self->store, "$reply_expiry", 0, &self->reply_times)
               != PM_OK
        || pm_store_dbi (self->store, "$cursors", 0, &self->cursors) != PM_OK
        || s_replies_migrate (self) != PM_OK) {
        pm_server_destroy (&self);
        return NULL;
    }

    //  The service is principal svc-<name>: its key pair serves its
    //  sockets and identifies it to the services it follows.
    char bind[256], principal[PM_NAME_MAX];
    snprintf (principal, sizeof principal, "svc-%s", schema->service);
    pm_keys_set_identity (principal);
    if (pm_keys_enabled () && pm_keys_ensure (principal, "service", "*") != PM_OK) {
        pm_server_destroy (&self);
        return NULL;
    }
    pm_cfg_bind (schema->service, "ENDPOINT", bind, sizeof bind);
    self->router = pm_sock_router (bind, principal);
    pm_cfg_bind (schema->service, "EVENTS", bind, sizeof bind);
    self->pub = pm_sock_pub (bind, principal,
                             (int) pm_cfg_int ("PM_PUB_HWM", 100000));
    if (!self->router || !self->pub) {
        pm_server_destroy (&self);
        return NULL;
    }
    char listen[128];
    pm_cfg_metrics (schema->service, listen, sizeof listen);
    self->metrics = pm_metrics_new (schema->service, listen);
    if (!self->metrics) {
        pm_server_destroy (&self);
        return NULL;
    }
    self->router_handle = zsock_resolve (self->router);
    self->pub_handle = zsock_resolve (self->pub);
    pm_sock_last_endpoint (self->router, self->commands_endpoint,
                           sizeof self->commands_endpoint);
    pm_sock_last_endpoint (self->pub, self->events_endpoint,
                           sizeof self->events_endpoint);
    pm_server_handle (self, "pm.EventsRead", s_handle_events_read);
    pm_server_handle (self, "pm.Health", s_handle_health);
    pm_server_handle (self, "pm.AuditRead", s_handle_audit_read);
    pm_server_handle (self, "pm.AuditVerify", s_handle_audit_verify);
    return self;
}

//  --------------------------------------------------------------------------
void
pm_server_destroy (pm_server_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pm_server_t *self = *self_p;
        zloop_destroy (&self->loop);
        zlistx_destroy (&self->followers);
        zlistx_destroy (&self->tickers);
        zsock_destroy (&self->router);
        zsock_destroy (&self->pub);
        zhashx_destroy (&self->bindings);
        pm_evlog_destroy (&self->evlog);
        pm_audit_destroy (&self->audit);
        pm_metrics_destroy (&self->metrics);
        free (self->audit_queue);
        for (size_t i = 0; i < self->held_len; i++) {
            free (self->held[i].reply);
        }
        free (self->held);
        pm_store_destroy (&self->store);
        pm_keys_shutdown (); //  the authenticator served this server
        free (self->batch);
        free (self->outbox);
        free (self->data_dir);
        free (self);
        *self_p = NULL;
    }
}

pm_store_t *
pm_server_store (pm_server_t *self)
{
    return self->store;
}

//  --------------------------------------------------------------------------
//  Binds a handler to a command of the schema.
void
pm_server_handle (pm_server_t *self, const char *type, pm_handler_fn *fn)
{
    const pm_command_def_t *def = pm_schema_command (self->schema, type);
    assert (def); //  a handler for a command the schema does not declare
    s_binding_t *binding = calloc (1, sizeof *binding);
    assert (binding);
    binding->def = def;
    binding->fn = fn;
    zhashx_update (self->bindings, def->type, binding);
}

//  --- handler context ----------------------------------------------------

MDB_txn *
pm_ctx_txn (pm_ctx_t *ctx)
{
    return ctx->txn;
}

int64_t
pm_ctx_now (pm_ctx_t *ctx)
{
    return ctx->now;
}

void *
pm_ctx_state (pm_ctx_t *ctx)
{
    return ctx->server->state;
}

const Pm__Request *
pm_ctx_request (pm_ctx_t *ctx)
{
    return ctx->request;
}

//  The service acting on its own (followers, timed work).
static const pm_principal_t s_self_principal = {"service", PM_ROLE_SERVICE, "*"};

const pm_principal_t *
pm_ctx_principal (pm_ctx_t *ctx)
{
    return ctx->principal ? ctx->principal : &s_self_principal;
}

bool
pm_ctx_may_access_site (pm_ctx_t *ctx, const char *site)
{
    const pm_principal_t *who = pm_ctx_principal (ctx);
    if (pm_principal_has_site (who, site)) {
        return true;
    }
    //  Break-glass: checked at the door (a clinician, with a purpose).
    if (ctx->request && ctx->request->break_glass) {
        ctx->broke_glass = true;
        return true;
    }
    return false;
}

void
pm_ctx_audit (pm_ctx_t *ctx, const char *subject, const char *site)
{
    if (ctx->n_audits == ctx->cap_audits) {
        ctx->cap_audits = ctx->cap_audits ? ctx->cap_audits * 2 : 8;
        ctx->audits = realloc (ctx->audits, ctx->cap_audits * sizeof *ctx->audits);
        assert (ctx->audits);
    }
    pm_str_copy (ctx->audits[ctx->n_audits][0], 80, subject);
    pm_str_copy (ctx->audits[ctx->n_audits][1], 80, site);
    ctx->n_audits++;
}

//  A request its handler refused on access grounds (EFORBIDDEN) is on the
//  record even when the refusal came before a record was named (a patient
//  of a site the caller may not act for): one entry without a subject, at
//  the site the request named.
static void
s_audit_refusal (pm_ctx_t *ctx, pm_err outcome)
{
    if (outcome == PM_EFORBIDDEN && ctx->n_audits == 0 && ctx->request) {
        pm_ctx_audit (ctx, "", ctx->request->site_id);
    }
}

//  Fills an audit record for a request.
static void
s_audit_fill (s_audit_rec_t *rec, const pm_principal_t *who, const char *via,
              const Pm__Request *request, const char *subject, const char *site,
              pm_err outcome, bool break_glass, int64_t now)
{
    const char *role = pm_role_name (who->role);
    pm_str_copy (rec->principal, sizeof rec->principal, who->name);
    pm_str_copy (rec->role, sizeof rec->role, role);
    pm_str_copy (rec->via, sizeof rec->via, via);
    pm_str_copy (rec->action, sizeof rec->action, request ? request->type : NULL);
    pm_str_copy (rec->subject, sizeof rec->subject, subject);
    pm_str_copy (rec->site, sizeof rec->site, site);
    pm_str_copy (rec->purpose, sizeof rec->purpose, request ? request->purpose : NULL);
    snprintf (rec->request, sizeof rec->request, "%s/%llu",
              request && request->client_id ? request->client_id : "",
              request ? (unsigned long long) request->request_id : 0ULL);
    rec->outcome = outcome;
    rec->break_glass = break_glass;
    rec->time = now;
}

//  Appends a record to the log in `txn`.
static pm_err
s_audit_append (pm_server_t *self, MDB_txn *txn, const s_audit_rec_t *rec)
{
    Pm__AuditEntry e = PM__AUDIT_ENTRY__INIT;
    e.has_time = e.has_outcome = e.has_break_glass = 1;
    e.time = rec->time;
    e.principal = (char *) rec->principal;
    e.role = (char *) rec->role;
    e.via = rec->via[0] ? (char *) rec->via : NULL;
    e.action = (char *) rec->action;
    e.subject = rec->subject[0] ? (char *) rec->subject : NULL;
    e.site_id = rec->site[0] ? (char *) rec->site : NULL;
    e.purpose = rec->purpose[0] ? (char *) rec->purpose : NULL;
    e.outcome = (Pm__Code) rec->outcome;
    e.break_glass = rec->break_glass;
    e.request = (char *) rec->request;
    return pm_audit_append (self->audit, txn, &e);
}

//  Keeps a packed reply until the next commit has made its audit records
//  durable (takes `reply`).
static void
s_hold_reply (pm_server_t *self, const uint8_t *identity, size_t identity_len,
              uint64_t request_id, uint8_t *reply, size_t len)
{
    if (self->held_len == self->held_cap) {
        self->held_cap = self->held_cap ? self->held_cap * 2 : 64;
        self->held = realloc (self->held, self->held_cap * sizeof *self->held);
        assert (self->held);
    }
    s_held_t *h = &self->held[self->held_len++];
    memcpy (h->identity, identity, identity_len);
    h->identity_len = identity_len;
    h->request_id = request_id;
    h->reply = reply;
    h->reply_len = len;
}

//  Queues a record for the next commit (reads, refusals).
static void
s_audit_queue (pm_server_t *self, const s_audit_rec_t *rec)
{
    if (self->audit_len == self->audit_cap) {
        self->audit_cap = self->audit_cap ? self->audit_cap * 2 : 64;
        self->audit_queue = realloc (self->audit_queue,
                                     self->audit_cap * sizeof *self->audit_queue);
        assert (self->audit_queue);
    }
    self->audit_queue[self->audit_len++] = *rec;
}

pm_err
pm_ctx_fail (pm_ctx_t *ctx, pm_err code, const char *field, const char *fmt,
             ...)
{
    va_list args;
    va_start (args, fmt);
    vsnprintf (ctx->message, sizeof ctx->message, fmt, args);
    va_end (args);
    snprintf (ctx->field, sizeof ctx->field, "%s", field ? field : "");
    return code;
}

const char *
pm_ctx_failure (pm_ctx_t *ctx)
{
    return ctx->message;
}

pm_err
pm_ctx_reply (pm_ctx_t *ctx, const ProtobufCMessage *msg)
{
    free (ctx->body);
    ctx->body_len = protobuf_c_message_get_packed_size (msg);
    ctx->body = malloc (ctx->body_len ? ctx->body_len : 1);
    assert (ctx->body);
    protobuf_c_message_pack (msg, ctx->body);
    return PM_OK;
}

//  The follower of `source`'s stream, or NULL.
static s_follower_t *
s_follower_find (pm_server_t *self, const char *source)
{
    for (s_follower_t *f = zlistx_first (self->followers); f;
         f = zlistx_next (self->followers)) {
        if (streq (f->source, source)) {
            return f;
        }
    }
    return NULL;
}

//  --------------------------------------------------------------------------
//  The caller's staff record, when its key is linked to one.
const char *
pm_ctx_staff_id (pm_ctx_t *ctx)
{
    return ctx->principal && ctx->principal->staff[0] ? ctx->principal->staff : NULL;
}

//  --------------------------------------------------------------------------
//  Rewrites this service's committed events in the unit's transaction.
pm_err
pm_ctx_events_rewrite (pm_ctx_t *ctx, uint64_t from_seq, uint32_t max,
                       pm_event_rewrite_fn *fn, void *arg, uint64_t *next_out,
                       bool *done_out)
{
    assert (ctx->writable);
    pm_evlog_t *log = ctx->server->evlog;
    pm_err rc = pm_evlog_rewrite (log, ctx->txn, from_seq, max, fn, arg, next_out, NULL);
    *done_out = rc == PM_OK && *next_out > pm_evlog_high_seq (log);
    return rc;
}

//  --------------------------------------------------------------------------
//  A followed stream's committed position.
bool
pm_ctx_follow_position (pm_ctx_t *ctx, const char *source, const char **stream,
                        uint64_t *seq)
{
    s_follower_t *f = s_follower_find (ctx->server, source);
    if (!f || !f->stream_id[0]) {
        return false;
    }
    *stream = f->stream_id;
    *seq = f->cursor;
    return true;
}

//  --------------------------------------------------------------------------
//  Store, event and reply from one packing.
pm_err
pm_ctx_save_record (pm_ctx_t *ctx, MDB_dbi dbi, const void *key, size_t klen,
                    const ProtobufCMessage *msg, const char *type, const char *site_id,
                    const char *subject)
{
    size_t size = protobuf_c_message_get_packed_size (msg);
    uint8_t stack[4096];
    uint8_t *packed = size <= sizeof stack ? stack : malloc (size);
    assert (packed);
    protobuf_c_message_pack (msg, packed);
    pm_err rc = pm_store_put (ctx->txn, dbi, key, klen, packed, size, 0);
    if (rc == PM_OK && type) {
        rc = pm_ctx_emit_packed (ctx, type, site_id, subject, packed, size);
    }
    if (rc == PM_OK && ctx->request) {
        free (ctx->body);
        ctx->body = malloc (size ? size : 1);
        assert (ctx->body);
        memcpy (ctx->body, packed, size);
        ctx->body_len = size;
    }
    if (packed != stack) {
        free (packed);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Appends an event in the current transaction; published after commit.
pm_err
pm_ctx_emit (pm_ctx_t *ctx, const char *type, const char *site_id,
             const char *subject, const ProtobufCMessage *data)
{
    size_t size = protobuf_c_message_get_packed_size (data);
    uint8_t stack[2048];
    uint8_t *packed = size <= sizeof stack ? stack : malloc (size);
    assert (packed);
    protobuf_c_message_pack (data, packed);
    pm_err rc = pm_ctx_emit_packed (ctx, type, site_id, subject, packed, size);
    if (packed != stack) {
        free (packed);
    }
    return rc;
}

//  --------------------------------------------------------------------------
//  Appends an already-packed event.
pm_err
pm_ctx_emit_packed (pm_ctx_t *ctx, const char *type, const char *site_id,
                    const char *subject, const uint8_t *data, size_t len)
{
    assert (ctx->writable); //  a read handler emitting is a bug
    pm_server_t *self = ctx->server;
    char causation[CLIENT_ID_MAX + 24] = "";
    Pm__Event event = PM__EVENT__INIT;
    event.type = (char *) type;
    event.has_time = 1;
    event.time = ctx->now;
    event.site_id = (char *) site_id;
    event.subject = (char *) subject;
    if (ctx->request) {
        snprintf (causation, sizeof causation, "%s/%llu",
                  ctx->request->client_id,
                  (unsigned long long) ctx->request->request_id);
        event.causation_id = causation;
        event.correlation_id = ctx->request->correlation_id
                                   ? ctx->request->correlation_id
                                   : causation;
        event.actor = ctx->request->actor;
    }
    event.has_data = data != NULL;
    event.data.data = (uint8_t *) data;
    event.data.len = data ? len : 0;

    uint8_t *packed;
    size_t packed_len;
    pm_err rc = pm_evlog_append (self->evlog, ctx->txn, &event, &packed,
                                 &packed_len);
    if (rc != PM_OK) {
        return rc;
    }
    if (self->outbox_len == self->outbox_cap) {
        self->outbox_cap = self->outbox_cap ? self->outbox_cap * 2 : 64;
        self->outbox = realloc (self->outbox,
                                self->outbox_cap * sizeof *self->outbox);
        assert (self->outbox);
    }
    s_outbound_t *out = &self->outbox[self->outbox_len++];
    out->topic = strdup (type);
    out->data = packed;
    out->len = packed_len;
    return PM_OK;
}

//  --- the write path ------------------------------------------------------

//  Drops outbox entries from `from` on (their transaction rolled back).
static void
s_outbox_truncate (pm_server_t *self, size_t from)
{
    for (size_t i = from; i < self->outbox_len; i++) {
        free (self->outbox[i].topic);
        free (self->outbox[i].data);
    }
    self->outbox_len = from;
}

//  Publishes what the last commit made durable.
static void
s_outbox_publish (pm_server_t *self)
{
    if (self->outbox_len > 0) {
        pm_metrics_events (self->metrics, self->outbox_len);
    }
    for (size_t i = 0; i < self->outbox_len; i++) {
        s_outbound_t *out = &self->outbox[i];
        zmq_send (self->pub_handle, out->topic, strlen (out->topic),
                  ZMQ_SNDMORE);
        zmq_send (self->pub_handle, out->data, out->len, 0);
    }
    s_outbox_truncate (self, 0);
}

//  Starts one unit of work (a request, an event) nested in `parent`, so
//  that its failure rolls back only its own writes and events.
static pm_err
s_unit_begin (pm_server_t *self, MDB_txn *parent, pm_ctx_t *ctx)
{
    ctx->server = self;
    ctx->writable = true;
    ctx->mark_seq = pm_evlog_pending_seq (self->evlog);
    ctx->mark_outbox = self->outbox_len;
    return pm_store_begin (self->store, parent, true, &ctx->txn);
}

//  Ends the unit: keeps it on PM_OK, rolls it back otherwise. Returns the
//  unit's final code (a failed nested commit turns OK into its error).
static pm_err
s_unit_end (pm_server_t *self, pm_ctx_t *ctx, pm_err rc)
{
    if (rc == PM_OK) {
        rc = pm_store_commit (ctx->txn);
    }
    else {
        pm_store_abort (ctx->txn);
    }
    ctx->txn = NULL;
    if (rc != PM_OK) {
        pm_evlog_rewind (self->evlog, ctx->mark_seq);
        s_outbox_truncate (self, ctx->mark_outbox);
    }
    return rc;
}

typedef pm_err (s_write_fn) (pm_server_t *self, MDB_txn *txn, void *arg);

//  Runs `fn` in one write transaction and commits it (one fsync). When the
//  map is full, everything is rolled back, the map grown and `fn` run
//  again. Events are published only after a successful commit.
static pm_err
s_write (pm_server_t *self, s_write_fn *fn, void *arg)
{
    for (;;) {
        MDB_txn *txn;
        pm_err rc = pm_store_begin (self->store, NULL, true, &txn);
        if (rc == PM_OK) {
            rc = fn (self, txn, arg);
            if (rc == PM_OK) {
                rc = pm_store_commit (txn);
            }
            else {
                pm_store_abort (txn);
            }
        }
        if (rc == PM_OK) {
            self->batches++; //  every durable commit: batches, timers, followers
            pm_evlog_commit (self->evlog);
            pm_audit_commit (self->audit);
            s_outbox_publish (self);
            self->write_failing = false;
            return PM_OK;
        }
        pm_evlog_rewind (self->evlog, pm_evlog_high_seq (self->evlog));
        pm_audit_rewind (self->audit, pm_audit_committed (self->audit));
        s_outbox_truncate (self, 0);
        if (rc == PM_EFULL && pm_store_grow (self->store) == PM_OK) {
            continue;
        }
        self->write_failing = true;
        pm_error ("write transaction failed", "error", pm_strerror (rc), NULL);
        return rc;
    }
}

//  Stores written before replies were keyed by request id first kept them
//  in "$replies" (client_id NUL be64 request_id) and "$reply_times". Moves
//  every stored reply into the current layout, so that a retry of a
//  request answered before the upgrade is still answered from the store,
//  rebuilds its expiry entry from the time stored with it, and drops the
//  old databases; all in one transaction, so a crash leaves either layout.
static pm_err
s_replies_migrate_fn (pm_server_t *self, MDB_txn *txn, void *arg)
{
    long *moved = arg;
    *moved = 0;
    MDB_dbi old_replies, old_times;
    int mrc = mdb_dbi_open (txn, "$replies", 0, &old_replies);
    if (mrc == MDB_NOTFOUND) {
        return PM_OK; //  a store of this layout
    }
    MDB_cursor *cursor = NULL;
    if (mrc == 0) {
        mrc = mdb_cursor_open (txn, old_replies, &cursor);
    }
    MDB_val key, val;
    int get = mrc == 0 ? mdb_cursor_get (cursor, &key, &val, MDB_FIRST) : mrc;
    for (; get == 0 && mrc == 0; get = mdb_cursor_get (cursor, &key, &val, MDB_NEXT)) {
        const uint8_t *old_key = key.mv_data;
        size_t id_len = key.mv_size - 9;
        if (key.mv_size < 10 || key.mv_size - 9 > CLIENT_ID_MAX
            || old_key[id_len] != 0 || val.mv_size < 8) {
            continue; //  not a stored reply
        }
        uint8_t expiry[8 + REPLY_KEY_MAX];
        uint8_t *new_key = expiry + 8;
        pm_be64_put (new_key, pm_be64_get (old_key + id_len + 1));
        memcpy (new_key + 8, old_key, id_len);
        memcpy (expiry, val.mv_data, 8);
        //  Values read in a write transaction last until the next write.
        void *copy = malloc (val.mv_size);
        assert (copy);
        memcpy (copy, val.mv_data, val.mv_size);
        mrc = mdb_put (txn, self->replies, &(MDB_val) {8 + id_len, new_key},
                       &(MDB_val) {val.mv_size, copy}, 0);
        free (copy);
        if (mrc == 0) {
            mrc = mdb_put (txn, self->reply_times, &(MDB_val) {16 + id_len, expiry},
                           &(MDB_val) {0, ""}, 0);
        }
        (*moved)++;
    }
    if (cursor) {
        mdb_cursor_close (cursor);
    }
    if (mrc == 0 && get != MDB_NOTFOUND) {
        mrc = get;
    }
    if (mrc == 0) {
        mrc = mdb_drop (txn, old_replies, 1);
    }
    if (mrc == 0 && mdb_dbi_open (txn, "$reply_times", 0, &old_times) == 0) {
        mrc = mdb_drop (txn, old_times, 1);
    }
    return pm_err_from_mdb (mrc);
}

static pm_err
s_replies_migrate (pm_server_t *self)
{
    long moved = 0;
    pm_err rc = s_write (self, s_replies_migrate_fn, &moved);
    if (rc == PM_OK && moved > 0) {
        char count[24];
        snprintf (count, sizeof count, "%ld", moved);
        pm_info ("stored replies moved to the request-id-first layout", "replies",
                 count, NULL);
    }
    return rc;
}

//  Packs a reply.
static uint8_t *
s_pack_reply (uint64_t request_id, pm_err code, const char *field,
              const char *message, const uint8_t *body, size_t body_len,
              size_t *len_out)
{
    Pm__Reply reply = PM__REPLY__INIT;
    reply.has_request_id = 1;
    reply.request_id = request_id;
    reply.has_code = 1;
    reply.code = (Pm__Code) code;
    reply.field = field && *field ? (char *) field : NULL;
    reply.message = message && *message ? (char *) message : NULL;
    if (body) {
        reply.has_body = 1;
        reply.body.data = (uint8_t *) body;
        reply.body.len = body_len;
    }
    *len_out = pm__reply__get_packed_size (&reply);
    uint8_t *buf = malloc (*len_out ? *len_out : 1);
    assert (buf);
    pm__reply__pack (&reply, buf);
    return buf;
}

//  Sends a packed reply to the client behind `identity`.
static void
s_send_reply (pm_server_t *self, const uint8_t *identity, size_t identity_len,
              const uint8_t *reply, size_t len)
{
    zmq_send (self->router_handle, identity, identity_len, ZMQ_SNDMORE);
    zmq_send (self->router_handle, reply, len, 0);
}

static void
s_send_error (pm_server_t *self, const uint8_t *identity, size_t identity_len,
              uint64_t request_id, pm_err code, const char *field,
              const char *fmt, ...) __attribute__ ((format (printf, 7, 8)));

//  Answers a request that never reached a handler.
static void
s_send_error (pm_server_t *self, const uint8_t *identity, size_t identity_len,
              uint64_t request_id, pm_err code, const char *field,
              const char *fmt, ...)
{
    //  Refusals before a handler ran count under "refused"; a failed
    //  batch's requests are counted by s_run_batch.
    if (self->drain_us) {
        pm_metrics_request (self->metrics, "refused", code, false,
                            zclock_usecs () - self->drain_us);
    }
    char message[512];
    va_list args;
    va_start (args, fmt);
    vsnprintf (message, sizeof message, fmt, args);
    va_end (args);
    size_t len;
    uint8_t *reply = s_pack_reply (request_id, code, field, message, NULL, 0,
                                   &len);
    s_send_reply (self, identity, identity_len, reply, len);
    free (reply);
    if (pm_log_enabled (PM_LOG_DEBUG)) {
        pm_debug ("request refused", "code", pm_err_name (code), "message",
                  message, NULL);
    }
}

//  The idempotency key: big-endian request_id, then client_id. Request
//  ids grow with time (pm_client.c), so one batch's replies from many
//  clients share a page or two of the store; keyed by client first they
//  took a page each, about a third of a booking commit's writes.
static size_t
s_reply_key (uint8_t *key, const char *client_id, uint64_t request_id)
{
    size_t n = strlen (client_id);
    pm_be64_put (key, request_id);
    memcpy (key + 8, client_id, n);
    return 8 + n;
}

//  Errors worth answering again from the store; the others (store full,
//  internal, unavailable) may go away, so a retry runs the command again.
static bool
s_reply_is_final (pm_err code)
{
    return code != PM_EFULL && code != PM_EINTERNAL && code != PM_EUNAVAILABLE
           && code != PM_ETIMEDOUT;
}

//  Appends the accesses a unit declared (pm_ctx_audit) with its outcome.
static pm_err
s_unit_audit (pm_server_t *self, MDB_txn *txn, pm_ctx_t *ctx, pm_err outcome)
{
    s_audit_refusal (ctx, outcome);
    pm_err rc = PM_OK;
    for (size_t a = 0; a < ctx->n_audits && rc == PM_OK; a++) {
        s_audit_rec_t rec;
        s_audit_fill (&rec, pm_ctx_principal (ctx), ctx->via, ctx->request,
                      ctx->audits[a][0], ctx->audits[a][1], outcome,
                      ctx->broke_glass, ctx->now);
        rc = s_audit_append (self, txn, &rec);
    }
    free (ctx->audits);
    ctx->audits = NULL;
    ctx->n_audits = ctx->cap_audits = 0;
    return rc;
}

//  Runs every pending request of the batch in `txn`.
static pm_err
s_batch_fn (pm_server_t *self, MDB_txn *txn, void *arg)
{
    (void) arg;
    int64_t now = s_now (self);
    for (size_t i = 0; i < self->batch_len; i++) {
        s_pending_t *p = &self->batch[i];
        free (p->reply); //  from an attempt that was rolled back
        p->reply = NULL;

        //  A retry: answer from the stored reply, write nothing.
        uint8_t key[REPLY_KEY_MAX + 8];
        size_t klen = s_reply_key (key + 8, p->request->client_id,
                                   p->request->request_id);
        MDB_val stored;
        pm_err rc = pm_store_get (txn, self->replies, key + 8, klen, &stored);
        if (rc == PM_OK && stored.mv_size >= 8) {
            p->reply_len = stored.mv_size - 8;
            p->reply = malloc (p->reply_len ? p->reply_len : 1);
            assert (p->reply);
            memcpy (p->reply, (uint8_t *) stored.mv_data + 8, p->reply_len);
            Pm__Reply *r = pm__reply__unpack (NULL, p->reply_len, p->reply);
            p->code = r ? (pm_err) r->code : PM_EINTERNAL;
            pm__reply__free_unpacked (r, NULL);
            continue;
        }
        if (rc != PM_ENOTFOUND && rc != PM_OK) {
            return rc;
        }

        pm_ctx_t ctx = {.request = p->request, .now = now,
                        .principal = &p->principal,
                        .via = p->via[0] ? p->via : NULL};
        rc = s_unit_begin (self, txn, &ctx);
        if (rc != PM_OK) {
            return rc;
        }
        rc = p->binding->fn (&ctx, p->body);
        rc = s_unit_end (self, &ctx, rc);
        if (rc == PM_EFULL) {
            free (ctx.body);
            free (ctx.audits);
            return rc; //  grow and run the whole batch again
        }
        //  The accesses it declared go on the record with its outcome,
        //  in this transaction (after a rollback too: an attempt counts).
        pm_err arc = s_unit_audit (self, txn, &ctx, rc);
        if (arc != PM_OK) {
            free (ctx.body);
            return arc;
        }
        const char *message = rc == PM_OK ? NULL
                              : ctx.message[0] ? ctx.message
                                               : pm_strerror (rc);
        p->reply = s_pack_reply (p->request->request_id, rc, ctx.field,
                                 message, rc == PM_OK ? ctx.body : NULL,
                                 ctx.body_len, &p->reply_len);
        p->code = rc;
        free (ctx.body);
        if (rc == PM_EINTERNAL) {
            pm_error ("command failed", "type", p->request->type, "error",
                      message, NULL);
        }
        if (!s_reply_is_final (rc)) {
            continue;
        }
        //  Store the reply with its time, and index it by time for expiry.
        MDB_val val = {8 + p->reply_len, NULL};
        MDB_val k = {klen, key + 8};
        int mrc = mdb_put (txn, self->replies, &k, &val, MDB_RESERVE);
        if (mrc == 0) {
            pm_be64_put (val.mv_data, (uint64_t) now);
            memcpy ((uint8_t *) val.mv_data + 8, p->reply, p->reply_len);
            pm_be64_put (key, (uint64_t) now);
            mrc = mdb_put (txn, self->reply_times,
                           &(MDB_val) {klen + 8, key}, &(MDB_val) {0, ""}, 0);
        }
        if (mrc != 0) {
            return pm_err_from_mdb (mrc);
        }
    }
    //  Reads and refusals since the last commit.
    for (size_t i = 0; i < self->audit_len; i++) {
        pm_err rc = s_audit_append (self, txn, &self->audit_queue[i]);
        if (rc != PM_OK) {
            return rc;
        }
    }
    return PM_OK;
}

//  Commits the batch, then answers it. If the commit fails for good, every
//  request in it gets the error (nothing of the batch was written).
static void
s_run_batch (pm_server_t *self)
{
    pm_err rc = s_write (self, s_batch_fn, NULL);
    if (self->batch_len > 0) {
        pm_metrics_batch (self->metrics, self->batch_len);
    }
    int64_t now_us = zclock_usecs ();
    for (size_t i = 0; i < self->batch_len; i++) {
        s_pending_t *p = &self->batch[i];
        pm_metrics_request (self->metrics, p->binding->def->type,
                            rc == PM_OK ? p->code : rc, true,
                            now_us - p->received_us);
        if (rc == PM_OK) {
            s_send_reply (self, p->identity, p->identity_len, p->reply,
                          p->reply_len);
        }
        else {
            int64_t drain = self->drain_us;
            self->drain_us = 0; //  counted above, not again as refused
            const char *why = rc == PM_EFULL ? "the disk or the map (PM_MAP_MAX) is full; "
                                               "nothing was written"
                                             : pm_strerror (rc);
            s_send_error (self, p->identity, p->identity_len,
                          p->request->request_id, rc, NULL,
                          "the store could not commit: %s", why);
            self->drain_us = drain;
        }
        free (p->reply);
        p->reply = NULL;
        pm__request__free_unpacked (p->request, NULL);
        protobuf_c_message_free_unpacked (p->body, NULL);
        p->request = NULL;
        p->body = NULL;
    }
    self->batch_len = 0;
    //  Reads whose accesses are now on the record; if they could not be
    //  recorded, they are not served.
    for (size_t i = 0; i < self->held_len; i++) {
        s_held_t *h = &self->held[i];
        if (rc == PM_OK) {
            s_send_reply (self, h->identity, h->identity_len, h->reply, h->reply_len);
        }
        else {
            s_send_error (self, h->identity, h->identity_len, h->request_id, rc,
                          NULL, "the access could not be recorded: %s",
                          pm_strerror (rc));
        }
        free (h->reply);
    }
    self->held_len = 0;
    self->audit_len = 0;
}

//  --- reads ---------------------------------------------------------------

//  Serves a read command at once in a short read transaction.
static void
s_serve_read (pm_server_t *self, const uint8_t *identity, size_t identity_len,
              const Pm__Request *request, const s_binding_t *binding,
              const ProtobufCMessage *body, const pm_principal_t *who,
              const char *via)
{
    pm_ctx_t ctx = {.server = self, .request = request, .now = s_now (self),
                    .principal = who, .via = via};
    pm_err rc = pm_store_begin (self->store, NULL, false, &ctx.txn);
    if (rc == PM_OK) {
        rc = binding->fn (&ctx, body);
        pm_store_abort (ctx.txn);
    }
    s_audit_refusal (&ctx, rc);
    for (size_t a = 0; a < ctx.n_audits; a++) {
        s_audit_rec_t rec;
        s_audit_fill (&rec, who, via, request, ctx.audits[a][0], ctx.audits[a][1],
                      rc, ctx.broke_glass, ctx.now);
        s_audit_queue (self, &rec);
    }
    const char *message = rc == PM_OK ? NULL
                          : ctx.message[0] ? ctx.message
                                           : pm_strerror (rc);
    size_t len;
    uint8_t *reply = s_pack_reply (request->request_id, rc, ctx.field, message,
                                   rc == PM_OK ? ctx.body : NULL, ctx.body_len,
                                   &len);
    free (ctx.body);
    pm_metrics_request (self->metrics, binding->def->type, rc, false,
                        zclock_usecs () - self->drain_us);
    if (ctx.n_audits == 0 && !request->break_glass) {
        s_send_reply (self, identity, identity_len, reply, len);
        free (reply);
        return;
    }
    //  Personal data: the reply leaves after its audit records commit.
    free (ctx.audits);
    s_hold_reply (self, identity, identity_len, request->request_id, reply, len);
}

//  pm.EventsRead: a page of the stream from a seq.
static pm_err
s_handle_events_read (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__EventsRead *req = (const Pm__EventsRead *) body;
    pm_server_t *self = ctx->server;
    uint32_t max = req->has_max && req->max > 0 ? req->max : self->events_read_max;
    if (max > self->events_read_max) {
        max = self->events_read_max;
    }
    uint64_t from = req->has_from_seq && req->from_seq > 0 ? req->from_seq : 1;
    uint8_t *batch;
    size_t len;
    //  Stay well inside the transport limit, whatever the events weigh.
    pm_err rc = pm_evlog_read (self->evlog, ctx->txn, from, max, 4 << 20,
                               &batch, &len);
    if (rc != PM_OK) {
        return pm_ctx_fail (ctx, rc, NULL, "cannot read the event log");
    }
    free (ctx->body);
    ctx->body = batch;
    ctx->body_len = len;
    return PM_OK;
}

//  pm.AuditRead: entries from a seq (auditors).
static pm_err
s_handle_audit_read (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__AuditRead *req = (const Pm__AuditRead *) body;
    uint32_t max = req->has_max && req->max > 0 && req->max <= 1000 ? req->max : 1000;
    uint8_t *batch;
    size_t len;
    pm_err rc = pm_audit_read (ctx->server->audit, ctx->txn,
                               req->has_from_seq ? req->from_seq : 1, max,
                               req->break_glass_only, &batch, &len);
    if (rc != PM_OK) {
        return pm_ctx_fail (ctx, rc, NULL, "cannot read the audit log");
    }
    free (ctx->body);
    ctx->body = batch;
    ctx->body_len = len;
    return PM_OK;
}

//  pm.AuditVerify: walks the chain, checks the anchors given.
static pm_err
s_handle_audit_verify (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    const Pm__AuditVerify *req = (const Pm__AuditVerify *) body;
    Pm__AuditVerdict verdict = PM__AUDIT_VERDICT__INIT;
    pm_err rc = pm_audit_verify (ctx->server->audit, ctx->txn, req ? req->anchors : NULL,
                                 req ? req->n_anchors : 0, &verdict);
    if (rc != PM_OK) {
        return pm_ctx_fail (ctx, rc, NULL, "cannot read the audit log");
    }
    return pm_ctx_reply (ctx, &verdict.base);
}

static void *s_follower_first (pm_server_t *self);

//  pm.Health: store, stream and followers at a glance.
static pm_err
s_handle_health (pm_ctx_t *ctx, const ProtobufCMessage *body)
{
    (void) body;
    pm_server_t *self = ctx->server;
    Pm__Health health = PM__HEALTH__INIT;
    health.service = (char *) self->schema->service;
    health.has_ok = 1;
    health.ok = !self->write_failing;
    health.stream_id = (char *) pm_evlog_stream_id (self->evlog);
    health.has_high_seq = 1;
    health.high_seq = pm_evlog_high_seq (self->evlog);
    health.has_map_size = health.has_map_used = 1;
    pm_store_usage (self->store, &health.map_size, &health.map_used);
    health.has_started_at = health.has_requests = health.has_batches = 1;
    health.started_at = self->started_at;
    pm_audit_mark_t head = pm_audit_committed (self->audit);
    health.has_audit_seq = health.has_audit_head = 1;
    health.audit_seq = head.seq;
    health.audit_head.data = head.hash;
    health.audit_head.len = head.seq ? PM_AUDIT_HASH : 0;
    health.requests = self->requests;
    health.batches = self->batches;

    size_t n = zlistx_size (self->followers);
    Pm__ConsumerLag *lags = calloc (n ? n : 1, sizeof *lags);
    Pm__ConsumerLag **lagp = calloc (n ? n : 1, sizeof *lagp);
    assert (lags && lagp);
    size_t i = 0;
    for (s_follower_t *f = s_follower_first (self); f;
         f = zlistx_next (self->followers), i++) {
        pm__consumer_lag__init (&lags[i]);
        lags[i].source = f->source;
        lags[i].stream_id = f->stream_id;
        lags[i].has_cursor = lags[i].has_high_seq = lags[i].has_catching_up = 1;
        lags[i].cursor = f->cursor;
        lags[i].high_seq = f->known_high > f->cursor ? f->known_high : f->cursor;
        lags[i].catching_up = f->inflight != 0;
        lags[i].has_catch_ups = lags[i].has_gaps = lags[i].has_apply_failures = 1;
        lags[i].catch_ups = f->catch_ups;
        lags[i].gaps = f->gaps;
        lags[i].apply_failures = f->failed;
        lagp[i] = &lags[i];
    }
    health.n_consumers = n;
    health.consumers = lagp;
    pm_ctx_reply (ctx, &health.base);
    free (lags);
    free (lagp);
    return PM_OK;
}

//  --- the command socket -------------------------------------------------

//  Finds request_id in a Request that does not fully decode, so that even
//  a refusal can be matched by the client. Walks the wire format only as
//  far as field 2; 0 if it is not there.
static uint64_t
s_peek_request_id (const uint8_t *data, size_t len)
{
    size_t at = 0;
    while (at < len) {
        uint64_t tag = 0, value = 0;
        for (int shift = 0; at < len && shift < 64; shift += 7) {
            tag |= (uint64_t) (data[at] & 0x7f) << shift;
            if (!(data[at++] & 0x80)) {
                break;
            }
        }
        unsigned wire = tag & 7;
        if (wire != 0 && wire != 2) {
            return 0;
        }
        for (int shift = 0; at < len && shift < 64; shift += 7) {
            value |= (uint64_t) (data[at] & 0x7f) << shift;
            if (!(data[at++] & 0x80)) {
                break;
            }
        }
        if ((tag >> 3) == 2 && wire == 0) {
            return value;
        }
        if (wire == 2) {
            if (value > len - at) {
                return 0;
            }
            at += value;
        }
    }
    return 0;
}

//  Takes one request off the wire: refuses it, serves it (reads) or adds
//  it to the batch (writes). External input never asserts.
//  Drops the unknown fields of a decoded body, at every depth. Handlers
//  store and emit what they build from bodies, so anything kept here would
//  end up in records: bytes a client made up, and (protobuf-c 1.4 packs a
//  two-byte tag for field 0 back as one byte it then refuses) records that
//  no longer decode. Fields this version does not know are ignored, as
//  protobuf intends; they are just not carried along.
static void
s_strip_unknown (ProtobufCMessage *msg)
{
    if (!msg) {
        return;
    }
    for (unsigned i = 0; i < msg->n_unknown_fields; i++) {
        free (msg->unknown_fields[i].data);
    }
    free (msg->unknown_fields);
    msg->unknown_fields = NULL;
    msg->n_unknown_fields = 0;
    const ProtobufCMessageDescriptor *desc = msg->descriptor;
    for (unsigned f = 0; f < desc->n_fields; f++) {
        const ProtobufCFieldDescriptor *field = &desc->fields[f];
        if (field->type != PROTOBUF_C_TYPE_MESSAGE) {
            continue;
        }
        char *at = (char *) msg + field->offset;
        if (field->label == PROTOBUF_C_LABEL_REPEATED) {
            size_t n = *(size_t *) ((char *) msg + field->quantifier_offset);
            ProtobufCMessage **items = *(ProtobufCMessage ***) at;
            for (size_t k = 0; k < n; k++) {
                s_strip_unknown (items[k]);
            }
        }
        else {
            s_strip_unknown (*(ProtobufCMessage **) at);
        }
    }
}

//  Decides whether `who` may send `request`: the role must be allowed
//  for the command, the envelope's site must be one of the principal's.
//  A gateway is checked as the end user it names. On PM_OK `effective`
//  is the principal the handler sees.
static pm_err
s_authorize (const pm_principal_t *who, const Pm__Request *request,
             const pm_command_def_t *def, pm_principal_t *effective,
             char *why, size_t whylen)
{
    *effective = *who;
    if (who->role == PM_ROLE_GATEWAY && request->on_behalf_of
        && *request->on_behalf_of) {
        zcert_t *cert = pm_keys_public (request->on_behalf_of);
        const char *role = cert ? zcert_meta (cert, "role") : NULL;
        const char *sites = cert ? zcert_meta (cert, "sites") : NULL;
        pm_str_copy (effective->staff, sizeof effective->staff,
                     cert ? zcert_meta (cert, "staff") : NULL);
        snprintf (effective->name, sizeof effective->name, "%s",
                  request->on_behalf_of);
        effective->role = role ? pm_role_from_name (role) : 0;
        snprintf (effective->sites, sizeof effective->sites, "%s",
                  sites ? sites : "");
        zcert_destroy (&cert);
        if (!effective->role || effective->role == PM_ROLE_GATEWAY
            || effective->role == PM_ROLE_SERVICE) {
            snprintf (why, whylen, "on_behalf_of \"%.64s\" is not an end user "
                                   "known to this network", request->on_behalf_of);
            return PM_EFORBIDDEN;
        }
    }
    unsigned role = effective->role;
    bool allowed = role == PM_ROLE_NETWORK_ADMIN || (def->roles & role)
                   || (def->roles == 0 && role == PM_ROLE_SERVICE);
    if (!allowed) {
        const char *name = pm_role_name (role);
        snprintf (why, whylen, "%s (%s) may not call %s", effective->name,
                  name ? name : "no role", def->type);
        return PM_EFORBIDDEN;
    }
    if (request->break_glass) {
        if (role != PM_ROLE_CLINICIAN) {
            snprintf (why, whylen, "only a clinician may break the glass");
            return PM_EFORBIDDEN;
        }
        if (!request->purpose || !*request->purpose) {
            snprintf (why, whylen, "break_glass needs a purpose: why this record");
            return PM_EINVAL;
        }
    }
    if (request->site_id && *request->site_id
        && !pm_principal_has_site (effective, request->site_id)
        && !request->break_glass) {
        snprintf (why, whylen, "%s does not work at site %.64s", effective->name,
                  request->site_id);
        return PM_EFORBIDDEN;
    }
    return PM_OK;
}

static void
s_accept (pm_server_t *self, const uint8_t *identity, size_t identity_len,
          const uint8_t *data, size_t len, int frames,
          const pm_principal_t *who)
{
    self->requests++;
    if (frames != 1) {
        s_send_error (self, identity, identity_len, 0, PM_EPROTO, NULL,
                      "expected one frame holding a pm.Request, got %d", frames);
        return;
    }
    if (len > self->max_request) {
        s_send_error (self, identity, identity_len,
                      s_peek_request_id (data, len), PM_ETOOBIG, NULL,
                      "request of %zu bytes is larger than the %zu accepted",
                      len, self->max_request);
        return;
    }
    Pm__Request *request = pm__request__unpack (NULL, len, data);
    if (!request) {
        s_send_error (self, identity, identity_len,
                      s_peek_request_id (data, len), PM_EPROTO, NULL,
                      "frame is not a pm.Request");
        return;
    }
    uint64_t id = request->request_id;
    const s_binding_t *binding = request->type
                                     ? zhashx_lookup (self->bindings, request->type)
                                     : NULL;
    if (!binding) {
        s_send_error (self, identity, identity_len, id, PM_EUNKNOWN, "type",
                      "%s has no command \"%.100s\"", self->schema->service,
                      request->type ? request->type : "");
        goto done;
    }
    pm_principal_t effective;
    char why[256];
    pm_err auth = s_authorize (who, request, binding->def, &effective, why,
                               sizeof why);
    const char *via = who->role == PM_ROLE_GATEWAY
                              && strcmp (who->name, effective.name) != 0
                          ? who->name
                          : NULL;
    if (auth != PM_OK) {
        pm_warn ("request refused", "principal", who->name, "type",
                 binding->def->type, "why", why, NULL);
        pm_metrics_request (self->metrics, "refused", auth, false,
                            zclock_usecs () - self->drain_us);
        //  A refusal is on the record too, before its answer leaves.
        s_audit_rec_t rec;
        s_audit_fill (&rec, &effective, via, request, NULL, request->site_id,
                      auth, false, s_now (self));
        s_audit_queue (self, &rec);
        size_t reply_len;
        uint8_t *reply = s_pack_reply (id, auth, auth == PM_EINVAL ? "purpose" : NULL,
                                       why, NULL, 0, &reply_len);
        s_hold_reply (self, identity, identity_len, id, reply, reply_len);
        goto done;
    }
    //  Breaking the glass is on the record from the door, whatever the
    //  handler then touches (its own records are flagged as well).
    if (request->break_glass) {
        s_audit_rec_t rec;
        s_audit_fill (&rec, &effective, via, request, NULL, request->site_id,
                      PM_OK, true, s_now (self));
        s_audit_queue (self, &rec);
    }
    if (request->deadline > 0 && s_now (self) > request->deadline) {
        s_send_error (self, identity, identity_len, id, PM_ETIMEDOUT,
                      "deadline", "the request's deadline passed before it ran");
        goto done;
    }
    ProtobufCMessage *body = NULL;
    if (binding->def->request) {
        body = protobuf_c_message_unpack (binding->def->request, NULL,
                                          request->has_body ? request->body.len : 0,
                                          request->body.data);
        if (!body) {
            s_send_error (self, identity, identity_len, id, PM_EPROTO, "body",
                          "body does not decode as %s",
                          binding->def->request->name);
            goto done;
        }
        s_strip_unknown (body);
    }
    if (binding->def->access == PM_READ) {
        s_serve_read (self, identity, identity_len, request, binding, body,
                      &effective, via);
        protobuf_c_message_free_unpacked (body, NULL);
        goto done;
    }
    //  Writes are idempotent by (client_id, request_id): both must be there.
    if (!request->client_id || !*request->client_id
        || strlen (request->client_id) > CLIENT_ID_MAX) {
        s_send_error (self, identity, identity_len, id, PM_EINVAL, "client_id",
                      "a write needs a client_id of 1 to %d characters",
                      CLIENT_ID_MAX);
        protobuf_c_message_free_unpacked (body, NULL);
        goto done;
    }
    if (!request->has_request_id || request->request_id == 0) {
        s_send_error (self, identity, identity_len, id, PM_EINVAL, "request_id",
                      "a write needs a request_id other than 0");
        protobuf_c_message_free_unpacked (body, NULL);
        goto done;
    }
    s_pending_t *p = &self->batch[self->batch_len++];
    memcpy (p->identity, identity, identity_len);
    p->identity_len = identity_len;
    p->request = request;
    p->body = body;
    p->binding = binding;
    p->principal = effective;
    p->received_us = self->drain_us;
    pm_str_copy (p->via, sizeof p->via, via);
    return;
done:
    pm__request__free_unpacked (request, NULL);
}

//  Drains the command socket: every request waiting now (up to the batch
//  size, reads included, so that timers still get their turn) is read,
//  then the writes among them commit together.
static int
s_on_router (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    pm_server_t *self = arg;
    self->drain_us = zclock_usecs ();
    for (size_t taken = 0; taken < self->batch_max; taken++) {
        zmq_msg_t identity, frame;
        zmq_msg_init (&identity);
        if (zmq_msg_recv (&identity, self->router_handle, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&identity);
            break;
        }
        //  Read every frame of the message; only a lone payload is valid.
        int frames = 0;
        bool more = zmq_msg_more (&identity);
        zmq_msg_init (&frame);
        while (more) {
            zmq_msg_t next;
            zmq_msg_init (&next);
            if (zmq_msg_recv (&next, self->router_handle, 0) < 0) {
                zmq_msg_close (&next);
                break;
            }
            more = zmq_msg_more (&next);
            if (++frames == 1) {
                zmq_msg_move (&frame, &next);
            }
            zmq_msg_close (&next);
        }
        //  Who sent it: ZAP vouched for the key and attached its
        //  certificate's metadata. Without CURVE (PM_CURVE=off, local
        //  debugging only) everyone is network-admin.
        pm_principal_t who = {"anonymous", PM_ROLE_NETWORK_ADMIN, "*"};
        if (pm_keys_enabled () && !pm_keys_principal (&frame, &who)) {
            who = (pm_principal_t) {"unknown", 0, ""};
        }
        if (zmq_msg_size (&identity) <= IDENTITY_MAX) {
            s_accept (self, zmq_msg_data (&identity), zmq_msg_size (&identity),
                      zmq_msg_data (&frame), zmq_msg_size (&frame), frames, &who);
        }
        zmq_msg_close (&frame);
        zmq_msg_close (&identity);
    }
    if (self->batch_len > 0 || self->audit_len > 0) {
        s_run_batch (self);
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  One frame through the command path, replies to an identity nobody has
//  (ROUTER drops them).
void
pm_server_inject (pm_server_t *self, const uint8_t *frame, size_t len)
{
    static const uint8_t nobody[] = "\0injected";
    static const pm_principal_t injected = {"injected", PM_ROLE_NETWORK_ADMIN, "*"};
    s_accept (self, nobody, sizeof nobody, frame, len, 1, &injected);
    if (self->batch_len > 0 || self->audit_len > 0) {
        s_run_batch (self);
    }
}

void
pm_server_inject_tick (pm_server_t *self)
{
    for (s_ticker_t *t = zlistx_first (self->tickers); t; t = zlistx_next (self->tickers)) {
        s_write (self, s_tick_fn, t);
    }
}

Pm__Reply *
pm_server_stored_reply (pm_server_t *self, const char *client_id, uint64_t request_id)
{
    if (strlen (client_id) > CLIENT_ID_MAX) {
        return NULL;
    }
    uint8_t key[REPLY_KEY_MAX];
    size_t klen = s_reply_key (key, client_id, request_id);
    MDB_txn *txn;
    MDB_val val;
    Pm__Reply *reply = NULL;
    if (pm_store_begin (self->store, NULL, false, &txn) != PM_OK) {
        return NULL;
    }
    if (pm_store_get (txn, self->replies, key, klen, &val) == PM_OK && val.mv_size >= 8) {
        reply = pm__reply__unpack (NULL, val.mv_size - 8, (const uint8_t *) val.mv_data + 8);
    }
    pm_store_abort (txn);
    return reply;
}

//  --- timers ---------------------------------------------------------------

static int
s_on_heartbeat (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    pm_server_t *self = arg;
    Pm__Heartbeat hb = PM__HEARTBEAT__INIT;
    hb.source = (char *) self->schema->service;
    hb.stream_id = (char *) pm_evlog_stream_id (self->evlog);
    hb.has_high_seq = hb.has_time = 1;
    hb.high_seq = pm_evlog_high_seq (self->evlog);
    hb.time = s_now (self);
    uint8_t buf[256];
    size_t len = pm__heartbeat__pack (&hb, buf);
    char topic[64];
    snprintf (topic, sizeof topic, "%s.$heartbeat", self->schema->service);
    zmq_send (self->pub_handle, topic, strlen (topic), ZMQ_SNDMORE);
    zmq_send (self->pub_handle, buf, len, 0);

    //  Gauges, refreshed with the heartbeat.
    uint64_t size, used;
    pm_store_usage (self->store, &size, &used);
    pm_metrics_gauge (self->metrics, "pm_stream_high_seq",
                      "Last event seq of this service's stream.", "",
                      (double) hb.high_seq);
    pm_metrics_gauge (self->metrics, "pm_lmdb_map_size_bytes",
                      "LMDB map size (grows when full).", "", (double) size);
    pm_metrics_gauge (self->metrics, "pm_lmdb_map_used_bytes",
                      "LMDB pages in use.", "", (double) used);
    pm_metrics_gauge (self->metrics, "pm_audit_entries",
                      "Entries in the audit log.", "",
                      (double) pm_audit_committed (self->audit).seq);
    for (s_follower_t *f = zlistx_first (self->followers); f;
         f = zlistx_next (self->followers)) {
        char labels[64];
        snprintf (labels, sizeof labels, "source=\"%s\"", f->source);
        pm_metrics_gauge (self->metrics, "pm_consumer_lag_events",
                          "Events of a followed stream not applied yet.", labels,
                          f->known_high > f->cursor ? (double) (f->known_high - f->cursor)
                                                    : 0.0);
        pm_metrics_gauge (self->metrics, "pm_consumer_cursor",
                          "Last seq applied of a followed stream.", labels,
                          (double) f->cursor);
    }
    return 0;
}

//  Deletes stored replies older than the TTL, a bounded number per pass.
static pm_err
s_expire_fn (pm_server_t *self, MDB_txn *txn, void *arg)
{
    (void) arg;
    uint64_t cutoff = (uint64_t) (s_now (self) - self->reply_ttl_ms);
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, self->reply_times, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key, val;
    int n = 0;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    while (mrc == 0 && n < EXPIRE_PER_PASS && key.mv_size > 8
           && pm_be64_get (key.mv_data) < cutoff) {
        pm_store_del (txn, self->replies, (uint8_t *) key.mv_data + 8,
                      key.mv_size - 8);
        mrc = mdb_cursor_del (cursor, 0);
        if (mrc == 0) {
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_GET_CURRENT);
        }
        n++;
    }
    mdb_cursor_close (cursor);
    return mrc == 0 || mrc == MDB_NOTFOUND || mrc == EINVAL
               ? PM_OK
               : pm_err_from_mdb (mrc);
}

//  Emits the audit chain's committed head as the event "pm.audit.anchored"
//  when it moved since the last anchor: whoever follows the stream keeps
//  it outside this store, and pm.AuditVerify checks the chain against it
//  (a chain rewritten whole, or cut short, verifies on its own).
static pm_err
s_anchor_fn (pm_server_t *self, MDB_txn *txn, void *arg)
{
    pm_audit_mark_t *head = arg;
    Pm__AuditAnchor anchor = PM__AUDIT_ANCHOR__INIT;
    anchor.has_seq = anchor.has_hash = anchor.has_at = 1;
    anchor.seq = head->seq;
    anchor.hash = (ProtobufCBinaryData) {PM_AUDIT_HASH, head->hash};
    anchor.at = s_now (self);
    pm_ctx_t ctx = {.now = anchor.at};
    pm_err rc = s_unit_begin (self, txn, &ctx);
    if (rc == PM_OK) {
        rc = s_unit_end (self, &ctx, pm_ctx_emit (&ctx, "pm.audit.anchored", NULL, NULL,
                                                  &anchor.base));
    }
    return rc;
}

static int
s_on_anchor (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    pm_server_t *self = arg;
    pm_audit_mark_t head = pm_audit_committed (self->audit);
    if (head.seq > 0 && head.seq != self->anchored_seq
        && s_write (self, s_anchor_fn, &head) == PM_OK) {
        self->anchored_seq = head.seq;
    }
    return 0;
}

static int
s_on_housekeeping (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    pm_server_t *self = arg;
    pm_store_reader_check (self->store);
    s_write (self, s_expire_fn, NULL);
    return 0;
}

//  Runs one ticker's work as a unit of a write transaction.
static pm_err
s_tick_fn (pm_server_t *self, MDB_txn *txn, void *arg)
{
    s_ticker_t *ticker = arg;
    pm_ctx_t ctx = {.now = s_now (self)};
    pm_err rc = s_unit_begin (self, txn, &ctx);
    if (rc != PM_OK) {
        return rc;
    }
    rc = s_unit_end (self, &ctx, ticker->fn (&ctx));
    if (rc != PM_EFULL) {
        pm_err arc = s_unit_audit (self, txn, &ctx, rc);
        if (arc != PM_OK) {
            return arc;
        }
    }
    else {
        free (ctx.audits);
    }
    if (rc != PM_OK && rc != PM_EFULL) {
        pm_error ("timed work failed", "error",
                  ctx.message[0] ? ctx.message : pm_strerror (rc), NULL);
        rc = PM_OK; //  rolled back alone; the empty transaction commits
    }
    return rc;
}

static int
s_on_ticker (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    s_ticker_t *ticker = arg;
    s_write (ticker->server, s_tick_fn, ticker);
    return 0;
}

void
pm_server_every (pm_server_t *self, int interval_ms, pm_tick_fn *fn)
{
    assert (interval_ms > 0 && fn);
    s_ticker_t *ticker = calloc (1, sizeof *ticker);
    assert (ticker);
    ticker->server = self;
    ticker->interval_ms = interval_ms;
    ticker->fn = fn;
    zlistx_add_end (self->tickers, ticker);
}

//  --- following other streams -------------------------------------------

static void
s_follower_destroy (void **item)
{
    s_follower_t *f = *item;
    if (f) {
        pm_client_destroy (&f->client);
        zsock_destroy (&f->sub);
        free (f);
        *item = NULL;
    }
}

static void *
s_follower_first (pm_server_t *self)
{
    return zlistx_first (self->followers);
}

//  What one follower transaction does.
typedef struct {
    s_follower_t *f;
    Pm__Event **events;      //  in seq order, from cursor + 1
    size_t n;
    const char *new_stream;  //  non-NULL: reset, then follow this stream
    uint64_t cursor;         //  out: the cursor after the transaction
} s_apply_job_t;

static pm_err
s_apply_fn (pm_server_t *self, MDB_txn *txn, void *arg)
{
    s_apply_job_t *job = arg;
    s_follower_t *f = job->f;
    const char *stream = job->new_stream ? job->new_stream : f->stream_id;
    uint64_t cursor = job->new_stream ? 0 : f->cursor;
    int64_t now = s_now (self);
    if (job->new_stream && f->stream_id[0] && f->reset) {
        pm_ctx_t ctx = {.now = now};
        pm_err rc = s_unit_begin (self, txn, &ctx);
        if (rc == PM_OK) {
            rc = s_unit_end (self, &ctx, f->reset (&ctx, f->source));
        }
        if (rc != PM_OK) {
            return rc;
        }
    }
    for (size_t i = 0; i < job->n; i++) {
        const Pm__Event *ev = job->events[i];
        if (ev->seq != cursor + 1) {
            break; //  callers pass a gap-free run; stop at anything else
        }
        pm_ctx_t ctx = {.now = now};
        pm_err rc = s_unit_begin (self, txn, &ctx);
        //  The runtime's own events (audit anchors) are for archives, not
        //  for the consumer's projections.
        bool runtime_event = ev->type && strncmp (ev->type, "pm.", 3) == 0;
        if (rc == PM_OK) {
            rc = s_unit_end (self, &ctx, runtime_event ? PM_OK : f->apply (&ctx, ev));
        }
        if (rc == PM_EFULL) {
            free (ctx.audits);
            return rc;
        }
        pm_err arc = s_unit_audit (self, txn, &ctx, rc);
        if (arc != PM_OK) {
            return arc;
        }
        if (rc != PM_OK) {
            //  A consumer must not stall on one event: the failure is
            //  logged and counted, the cursor moves on.
            char seq[24];
            snprintf (seq, sizeof seq, "%llu", (unsigned long long) ev->seq);
            pm_error ("event could not be applied", "source", f->source,
                      "seq", seq, "type", ev->type, "error",
                      ctx.message[0] ? ctx.message : pm_strerror (rc), NULL);
            f->failed++;
        }
        cursor = ev->seq;
    }
    Pm__ConsumerLag rec = PM__CONSUMER_LAG__INIT;
    rec.source = f->source;
    rec.stream_id = (char *) stream;
    rec.has_cursor = 1;
    rec.cursor = cursor;
    job->cursor = cursor;
    return pm_store_put_msg (txn, self->cursors, f->source, strlen (f->source),
                             &rec.base, 0);
}

//  Applies a gap-free run of events (and/or a stream reset) durably.
static void
s_follower_apply (s_follower_t *f, Pm__Event **events, size_t n,
                  const char *new_stream)
{
    s_apply_job_t job = {f, events, n, new_stream, f->cursor};
    if (s_write (f->server, s_apply_fn, &job) != PM_OK) {
        return; //  logged; the cursor did not move, catch-up will retry
    }
    if (new_stream) {
        snprintf (f->stream_id, sizeof f->stream_id, "%s", new_stream);
    }
    f->applied += job.cursor - (new_stream ? 0 : f->cursor);
    f->cursor = job.cursor;
}

//  --------------------------------------------------------------------------
//  One event frame through a follower's apply path, as the next event of
//  its stream. For fuzzers: a producer's event is input from another
//  process, so a consumer must survive any bytes in it.
void
pm_server_inject_event (pm_server_t *self, const char *source,
                        const uint8_t *frame, size_t len)
{
    s_follower_t *f = s_follower_find (self, source);
    assert (f);
    Pm__Event *ev = pm__event__unpack (NULL, len, frame);
    if (!ev) {
        return; //  the live path drops undecodable frames the same way
    }
    if (!f->stream_id[0]) {
        snprintf (f->stream_id, sizeof f->stream_id, "injected");
    }
    ev->seq = f->cursor + 1;
    s_follower_apply (f, &ev, 1, NULL);
    pm__event__free_unpacked (ev, NULL);
}

//  Asks the producer for the events after the cursor.
static void
s_follower_request (s_follower_t *f)
{
    Pm__EventsRead req = PM__EVENTS_READ__INIT;
    req.has_from_seq = req.has_max = 1;
    req.from_seq = f->cursor + 1;
    req.max = FOLLOW_PAGE;
    uint8_t buf[32];
    size_t len = pm__events_read__pack (&req, buf);
    f->inflight = pm_client_send (f->client, 0, "pm.EventsRead", buf, len);
    f->inflight_at = zclock_mono ();
    f->catch_ups++;
}

//  A catch-up page arrived.
static void
s_follower_on_batch (s_follower_t *f, const Pm__EventBatch *batch)
{
    if (!batch->stream_id) {
        return;
    }
    bool replaced = f->stream_id[0] && strcmp (batch->stream_id, f->stream_id) != 0;
    //  Same stream id but fewer events than we applied: the producer's
    //  store was restored from an older copy. Rebuild as for a new stream.
    bool rewound = !replaced && batch->high_seq < f->cursor;
    if (replaced || rewound || !f->stream_id[0]) {
        if (f->stream_id[0]) {
            pm_warn ("followed stream was replaced: rebuilding", "source",
                     f->source, "old", f->stream_id, "new", batch->stream_id,
                     NULL);
        }
        s_follower_apply (f, NULL, 0, batch->stream_id);
        if (f->cursor != 0 || strcmp (f->stream_id, batch->stream_id) != 0) {
            return; //  the write failed; the next tick retries
        }
        if (replaced || rewound) {
            f->known_high = batch->high_seq;
            s_follower_request (f);
            return;
        }
    }
    if (batch->high_seq > f->known_high) {
        f->known_high = batch->high_seq;
    }
    //  Skip what we already have, apply the rest as one transaction.
    size_t first = 0;
    while (first < batch->n_events && batch->events[first]->seq <= f->cursor) {
        first++;
    }
    if (first < batch->n_events) {
        s_follower_apply (f, batch->events + first, batch->n_events - first,
                          NULL);
    }
    if (f->cursor < f->known_high && batch->n_events > 0) {
        s_follower_request (f);
    }
}

//  Replies to catch-up reads.
static int
s_on_follower_reply (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    s_follower_t *f = arg;
    Pm__Reply *reply;
    while ((reply = pm_client_recv (f->client, 0)) != NULL) {
        if (reply->request_id == f->inflight && f->inflight) {
            f->inflight = 0;
            if (reply->code != PM__CODE__OK) {
                pm_warn ("catch-up read refused", "source", f->source,
                         "error", reply->message, NULL);
            }
            else {
                Pm__EventBatch *batch = pm__event_batch__unpack (
                    NULL, reply->body.len, reply->body.data);
                if (batch) {
                    s_follower_on_batch (f, batch);
                    pm__event_batch__free_unpacked (batch, NULL);
                }
            }
        }
        pm__reply__free_unpacked (reply, NULL);
    }
    return 0;
}

//  Live events: apply the ones that continue the cursor; on a gap, a
//  foreign stream or a heartbeat ahead of us, catch up instead.
static int
s_on_follower_live (zloop_t *loop, zsock_t *reader, void *arg)
{
    (void) loop;
    (void) reader;
    s_follower_t *f = arg;
    Pm__Event *run[FOLLOW_DRAIN];
    size_t n = 0;
    bool catch_up = false;
    for (int taken = 0; taken < FOLLOW_DRAIN; taken++) {
        zmsg_t *msg = zmsg_recv_nowait (f->sub);
        if (!msg) {
            break;
        }
        char *topic = zmsg_popstr (msg);
        zframe_t *payload = zmsg_pop (msg);
        if (topic && payload && strstr (topic, ".$heartbeat")) {
            Pm__Heartbeat *hb = pm__heartbeat__unpack (
                NULL, zframe_size (payload), zframe_data (payload));
            if (hb && hb->stream_id) {
                bool ours = strcmp (hb->stream_id, f->stream_id) == 0;
                if (!ours || hb->high_seq > f->cursor + n) {
                    catch_up = true;
                }
                if (ours && hb->high_seq > f->known_high) {
                    f->known_high = hb->high_seq;
                }
            }
            pm__heartbeat__free_unpacked (hb, NULL);
        }
        else if (topic && payload) {
            Pm__Event *ev = pm__event__unpack (NULL, zframe_size (payload),
                                               zframe_data (payload));
            uint64_t expected = f->cursor + n + 1;
            bool ours = ev && ev->stream_id && strcmp (ev->stream_id, f->stream_id) == 0;
            if (ours && ev->seq > f->known_high) {
                f->known_high = ev->seq;
            }
            //  One PUB connection delivers in order: a jump between two
            //  live events means the ones between were dropped.
            if (ours && f->last_live && ev->seq > f->last_live + 1) {
                f->gaps += ev->seq - f->last_live - 1;
            }
            if (ours) {
                f->last_live = ev->seq;
            }
            if (!ev || !ev->stream_id) {
                pm_warn ("live event does not decode", "source", f->source,
                         "topic", topic, NULL);
            }
            else if (!f->inflight && !catch_up && ev->seq == expected
                     && strcmp (ev->stream_id, f->stream_id) == 0) {
                run[n++] = ev;
                ev = NULL;
            }
            else if (ev->seq >= expected
                     || strcmp (ev->stream_id, f->stream_id) != 0) {
                catch_up = true;
            }
            pm__event__free_unpacked (ev, NULL);
        }
        zstr_free (&topic);
        zframe_destroy (&payload);
        zmsg_destroy (&msg);
    }
    if (n > 0) {
        s_follower_apply (f, run, n, NULL);
        for (size_t i = 0; i < n; i++) {
            pm__event__free_unpacked (run[i], NULL);
        }
    }
    if (catch_up && !f->inflight) {
        s_follower_request (f);
    }
    return 0;
}

//  Opens the follower's sockets, once the producer's public key is in the
//  key store (a consumer may well start before its producer ever has);
//  with the loop running, also starts reading and catching up. False
//  while it cannot connect yet: the tick tries again.
static bool
s_follower_connect (s_follower_t *f)
{
    if (f->client && f->sub) {
        return true;
    }
    char endpoint[256], prefix[48];
    pm_cfg_endpoint (f->source, "ENDPOINT", endpoint, sizeof endpoint);
    pm_client_destroy (&f->client);
    zsock_destroy (&f->sub);
    f->client = pm_client_new (f->source, endpoint, NULL);
    pm_cfg_endpoint (f->source, "EVENTS", endpoint, sizeof endpoint);
    //  The whole prefix, heartbeats included: gaps must be visible.
    snprintf (prefix, sizeof prefix, "%s.", f->source);
    f->sub = f->client ? pm_sock_sub (f->source, endpoint, prefix,
                                      (int) pm_cfg_int ("PM_FOLLOW_HWM", 0))
                       : NULL;
    if (!f->client || !f->sub) {
        pm_client_destroy (&f->client);
        zsock_destroy (&f->sub);
        if (!f->warned) {
            pm_warn ("cannot follow yet (no key for it?); retrying", "source",
                     f->source, NULL);
            f->warned = true;
        }
        return false;
    }
    char principal[PM_NAME_MAX];
    snprintf (principal, sizeof principal, "svc-%s", f->source);
    if (!pm_keys_public_stamp (principal, f->key_stamp)) {
        memset (f->key_stamp, 0, sizeof f->key_stamp);
    }
    if (f->server->loop) {
        zloop_reader (f->server->loop, f->sub, s_on_follower_live, f);
        zloop_reader (f->server->loop, pm_client_sock (f->client),
                      s_on_follower_reply, f);
        s_follower_request (f);
    }
    if (f->warned) {
        pm_info ("following", "source", f->source, NULL);
    }
    return true;
}

//  Connects again when the producer's key was rotated: the sockets pinned
//  its old public key when they were made, and the restarted producer
//  refuses them. Nothing is lost: the cursor is durable and the new
//  connection catches up from it.
static void
s_follower_rekey (s_follower_t *f)
{
    char principal[PM_NAME_MAX];
    snprintf (principal, sizeof principal, "svc-%s", f->source);
    uint64_t stamp[2];
    if (!pm_keys_enabled () || !pm_keys_public_stamp (principal, stamp)
        || (stamp[0] == f->key_stamp[0] && stamp[1] == f->key_stamp[1])) {
        return;
    }
    pm_info ("the producer's key changed: connecting again", "source", f->source, NULL);
    zloop_reader_end (f->server->loop, f->sub);
    zloop_reader_end (f->server->loop, pm_client_sock (f->client));
    pm_client_destroy (&f->client);
    zsock_destroy (&f->sub);
    f->inflight = 0;
    s_follower_connect (f);
}

//  Resends catch-up reads nobody answered; catches up when behind.
static int
s_on_follower_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void) loop;
    (void) timer_id;
    pm_server_t *self = arg;
    for (s_follower_t *f = zlistx_first (self->followers); f;
         f = zlistx_next (self->followers)) {
        if (!s_follower_connect (f)) {
            continue;
        }
        s_follower_rekey (f);
        if (!f->client || !f->sub) {
            continue; //  connects again on the next tick
        }
        bool stale = f->inflight && zclock_mono () - f->inflight_at > FOLLOW_RETRY_MS;
        if (stale || (!f->inflight && f->known_high > f->cursor)) {
            s_follower_request (f);
        }
    }
    return 0;
}

//  --------------------------------------------------------------------------
//  Follows another service's stream.
void
pm_server_follow (pm_server_t *self, const char *source, pm_apply_fn *apply,
                  pm_reset_fn *reset)
{
    s_follower_t *f = calloc (1, sizeof *f);
    assert (f);
    f->server = self;
    snprintf (f->source, sizeof f->source, "%s", source);
    f->apply = apply;
    f->reset = reset;
    s_follower_connect (f);

    //  The durable cursor.
    MDB_txn *txn;
    if (pm_store_begin (self->store, NULL, false, &txn) == PM_OK) {
        ProtobufCMessage *msg;
        if (pm_store_get_msg (txn, self->cursors, source, strlen (source),
                              &pm__consumer_lag__descriptor, &msg)
            == PM_OK) {
            Pm__ConsumerLag *rec = (Pm__ConsumerLag *) msg;
            snprintf (f->stream_id, sizeof f->stream_id, "%s",
                      rec->stream_id ? rec->stream_id : "");
            f->cursor = rec->cursor;
            protobuf_c_message_free_unpacked (msg, NULL);
        }
        pm_store_abort (txn);
    }
    zlistx_add_end (self->followers, f);
}

//  --------------------------------------------------------------------------
//  Serves until interrupted.
int
pm_server_run (pm_server_t *self)
{
    self->loop = zloop_new ();
    zloop_reader (self->loop, self->router, s_on_router, self);
    zloop_timer (self->loop, (size_t) self->heartbeat_ms, 0, s_on_heartbeat,
                 self);
    zloop_timer (self->loop, EXPIRE_EVERY_MS, 0, s_on_housekeeping, self);
    if (self->anchor_every_ms > 0) {
        zloop_timer (self->loop, (size_t) self->anchor_every_ms, 0, s_on_anchor, self);
    }
    s_write (self, s_expire_fn, NULL); //  also at start: a service may not
                                       //  stay up for a whole period
    for (s_ticker_t *t = zlistx_first (self->tickers); t;
         t = zlistx_next (self->tickers)) {
        zloop_timer (self->loop, (size_t) t->interval_ms, 0, s_on_ticker, t);
    }
    if (zlistx_size (self->followers) > 0) {
        zloop_timer (self->loop, FOLLOW_TICK_MS, 0, s_on_follower_tick, self);
    }
    for (s_follower_t *f = zlistx_first (self->followers); f;
         f = zlistx_next (self->followers)) {
        if (f->client && f->sub) {
            zloop_reader (self->loop, f->sub, s_on_follower_live, f);
            zloop_reader (self->loop, pm_client_sock (f->client),
                          s_on_follower_reply, f);
            s_follower_request (f);
        }
    }
    s_write_endpoints (self);
    char seq[24];
    snprintf (seq, sizeof seq, "%llu",
              (unsigned long long) pm_evlog_high_seq (self->evlog));
    pm_info ("serving", "commands", self->commands_endpoint, "events",
             self->events_endpoint, "data_dir", self->data_dir, "stream_id",
             pm_evlog_stream_id (self->evlog), "high_seq", seq, NULL);
    zloop_start (self->loop);
    pm_info ("stopped", NULL);
    return 0;
}
