/*  pm_client.h: talks to one service's command endpoint.

    A DEALER socket, a stable client_id and time-ordered request_ids. A call
    waits up to the timeout, then sends the same request again (same
    request_id, so a write is never done twice: the service answers a
    retry from its stored reply), up to `tries` times. Replies to earlier
    tries that arrive late are recognised by request_id and dropped.

    Not thread safe: one client per thread.                               */
#ifndef PM_CLIENT_H
#define PM_CLIENT_H

#include <czmq.h>
#include <protobuf-c/protobuf-c.h>

#include "pm.pb-c.h"
#include "pm_err.h"

typedef struct _pm_client_t pm_client_t;

//  Connects to `service` at `endpoint`, authenticated as this process's
//  identity (pm_keys.h). client_id NULL = a random one. NULL on failure
//  (a missing key is logged).
pm_client_t *pm_client_new (const char *service, const char *endpoint,
                            const char *client_id);

void pm_client_destroy (pm_client_t **self_p);

//  Per-try wait and number of tries (defaults from PM_CLIENT_TIMEOUT_MS
//  and PM_CLIENT_RETRIES).
void pm_client_set_timeout (pm_client_t *self, int timeout_ms, int tries);

//  Site and actor stamped on every request (NULL = none).
void pm_client_set_site (pm_client_t *self, const char *site_id);
void pm_client_set_actor (pm_client_t *self, const char *actor);

const char *pm_client_id (pm_client_t *self);

//  The socket, for polling many clients at once.
zsock_t *pm_client_sock (pm_client_t *self);

//  Calls `type` with `body` (NULL = empty). PM_OK when a reply came back:
//  *reply_out is the caller's (pm__reply__free_unpacked) and its code says
//  how the command went. PM_ETIMEDOUT when no try was answered.
pm_err pm_client_call (pm_client_t *self, const char *type,
                       const ProtobufCMessage *body, Pm__Reply **reply_out);

//  The same with an already-packed body.
pm_err pm_client_call_raw (pm_client_t *self, const char *type,
                           const uint8_t *body, size_t len,
                           Pm__Reply **reply_out);

//  Asynchronous use: sends one try of a request and returns its id.
//  request_id 0 = the next id; pass an earlier id to retry it.
uint64_t pm_client_send (pm_client_t *self, uint64_t request_id,
                         const char *type, const uint8_t *body, size_t len);

//  Sends pre-built frames as they are (tests of malformed input).
int pm_client_send_frames (pm_client_t *self, zmsg_t **msg_p);

//  The next reply, waiting up to timeout_ms (0 = do not wait; -1 = for
//  ever). NULL on timeout. A reply that does not decode is returned as
//  code EPROTO with request_id 0.
Pm__Reply *pm_client_recv (pm_client_t *self, int timeout_ms);

#endif
