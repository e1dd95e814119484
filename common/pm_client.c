/*  pm_client.c: the request-reply client (Lazy Pirate over DEALER).      */
#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "pm_cfg.h"
#include "pm_client.h"
#include "pm_id.h"
#include "pm_sock.h"

struct _pm_client_t {
    zsock_t *sock;        //  DEALER to the service
    char client_id[48];   //  stable for this client's life
    uint64_t last_id;     //  the last request id given out
    int timeout_ms;       //  wait per try
    int tries;            //  tries per call
    char *site_id;        //  stamped on requests, may be NULL
    char *actor;          //  stamped on requests, may be NULL
};

pm_client_t *
pm_client_new (const char *service, const char *endpoint, const char *client_id)
{
    zsock_t *sock = pm_sock_dealer (service, endpoint);
    if (!sock) {
        return NULL;
    }
    pm_client_t *self = calloc (1, sizeof *self);
    assert (self);
    self->sock = sock;
    if (client_id) {
        snprintf (self->client_id, sizeof self->client_id, "%s", client_id);
    }
    else {
        pm_id_new ("cli", pm_clock_wall_ms (), self->client_id);
    }
    self->timeout_ms = (int) pm_cfg_int ("PM_CLIENT_TIMEOUT_MS", 3000);
    self->tries = (int) pm_cfg_int ("PM_CLIENT_RETRIES", 3);
    return self;
}

void
pm_client_destroy (pm_client_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pm_client_t *self = *self_p;
        zsock_destroy (&self->sock);
        free (self->site_id);
        free (self->actor);
        free (self);
        *self_p = NULL;
    }
}

void
pm_client_set_timeout (pm_client_t *self, int timeout_ms, int tries)
{
    self->timeout_ms = timeout_ms;
    self->tries = tries < 1 ? 1 : tries;
}

void
pm_client_set_site (pm_client_t *self, const char *site_id)
{
    free (self->site_id);
    self->site_id = site_id ? strdup (site_id) : NULL;
}

void
pm_client_set_actor (pm_client_t *self, const char *actor)
{
    free (self->actor);
    self->actor = actor ? strdup (actor) : NULL;
}

const char *
pm_client_id (pm_client_t *self)
{
    return self->client_id;
}

zsock_t *
pm_client_sock (pm_client_t *self)
{
    return self->sock;
}

//  --------------------------------------------------------------------------
//  Request ids grow with time: the wall clock's milliseconds in the high
//  48 bits, a count within the millisecond below. Services key stored
//  replies by request id first, so the replies of a batch from many
//  clients land side by side in the store (a page or two per commit
//  rather than one page per client), and a client that starts again under
//  the same id never reuses an id of its earlier life.
static uint64_t
s_next_request_id (pm_client_t *self)
{
    uint64_t now = (uint64_t) pm_clock_wall_ms () << 16;
    self->last_id = now > self->last_id ? now : self->last_id + 1;
    return self->last_id;
}

//  Sends one try of a request.
uint64_t
pm_client_send (pm_client_t *self, uint64_t request_id, const char *type,
                const uint8_t *body, size_t len)
{
    if (request_id == 0) {
        request_id = s_next_request_id (self);
    }
    Pm__Request req = PM__REQUEST__INIT;
    req.client_id = self->client_id;
    req.has_request_id = 1;
    req.request_id = request_id;
    req.type = (char *) type;
    req.site_id = self->site_id;
    req.actor = self->actor;
    if (body) {
        req.has_body = 1;
        req.body.data = (uint8_t *) body;
        req.body.len = len;
    }
    size_t size = pm__request__get_packed_size (&req);
    zframe_t *frame = zframe_new (NULL, size);
    pm__request__pack (&req, zframe_data (frame));
    zframe_send (&frame, self->sock, 0);
    return request_id;
}

int
pm_client_send_frames (pm_client_t *self, zmsg_t **msg_p)
{
    return zmsg_send (msg_p, self->sock);
}

//  --------------------------------------------------------------------------
//  The next reply, or NULL on timeout.
Pm__Reply *
pm_client_recv (pm_client_t *self, int timeout_ms)
{
    zsock_set_rcvtimeo (self->sock, timeout_ms);
    zmsg_t *msg = zmsg_recv (self->sock);
    if (!msg) {
        return NULL;
    }
    Pm__Reply *reply = NULL;
    zframe_t *frame = zmsg_first (msg);
    if (zmsg_size (msg) == 1) {
        reply = pm__reply__unpack (NULL, zframe_size (frame),
                                   zframe_data (frame));
    }
    zmsg_destroy (&msg);
    if (!reply) {
        reply = calloc (1, sizeof *reply);
        assert (reply);
        pm__reply__init (reply);
        reply->has_code = 1;
        reply->code = PM__CODE__EPROTO;
        reply->message = strdup ("reply does not decode");
    }
    return reply;
}

//  --------------------------------------------------------------------------
//  Calls with retries; see the header.
pm_err
pm_client_call_raw (pm_client_t *self, const char *type, const uint8_t *body,
                    size_t len, Pm__Reply **reply_out)
{
    *reply_out = NULL;
    uint64_t id = 0;
    for (int attempt = 0; attempt < self->tries; attempt++) {
        id = pm_client_send (self, id, type, body, len);
        int64_t until = zclock_mono () + self->timeout_ms;
        int64_t left;
        while ((left = until - zclock_mono ()) > 0) {
            Pm__Reply *reply = pm_client_recv (self, (int) left);
            if (!reply) {
                break;
            }
            if (reply->request_id == id) {
                *reply_out = reply;
                return PM_OK;
            }
            pm__reply__free_unpacked (reply, NULL); //  a late earlier try
        }
    }
    return PM_ETIMEDOUT;
}

pm_err
pm_client_call (pm_client_t *self, const char *type,
                const ProtobufCMessage *body, Pm__Reply **reply_out)
{
    uint8_t stack[4096];
    uint8_t *buf = NULL;
    size_t len = 0;
    if (body) {
        len = protobuf_c_message_get_packed_size (body);
        buf = len <= sizeof stack ? stack : malloc (len);
        assert (buf);
        protobuf_c_message_pack (body, buf);
    }
    pm_err rc = pm_client_call_raw (self, type, buf, len, reply_out);
    if (buf != stack) {
        free (buf);
    }
    return rc;
}
