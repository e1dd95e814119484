/*  pm_sock.c: socket creation and the options every socket gets.         */
#include "pm_keys.h"
#include "pm_log.h"
#include "pm_sock.h"

//  Options common to every socket: bounded messages, ZMTP heartbeats so a
//  dead peer is noticed in seconds rather than TCP's minutes, and backed
//  off reconnects.
static void
s_common_options (zsock_t *sock)
{
    zsock_set_maxmsgsize (sock, PM_SOCK_MAXMSGSIZE);
    zsock_set_heartbeat_ivl (sock, 2000);
    zsock_set_heartbeat_timeout (sock, 6000);
    zsock_set_reconnect_ivl (sock, 100);
    zsock_set_reconnect_ivl_max (sock, 5000);
    zsock_set_linger (sock, 0);
}

static zsock_t *
s_bind (zsock_t *sock, const char *endpoint, const char *name)
{
    if (!sock) {
        return NULL;
    }
    if (pm_keys_apply_server (sock, name) != PM_OK) {
        zsock_destroy (&sock);
        return NULL;
    }
    if (zsock_bind (sock, "%s", endpoint) < 0) {
        pm_error ("cannot bind", "endpoint", endpoint, "error",
                  zmq_strerror (zmq_errno ()), NULL);
        zsock_destroy (&sock);
    }
    return sock;
}

zsock_t *
pm_sock_router (const char *endpoint, const char *name)
{
    zsock_t *sock = zsock_new (ZMQ_ROUTER);
    s_common_options (sock);
    //  Replies wait for slow clients rather than being dropped at 1000.
    zsock_set_sndhwm (sock, 100000);
    zsock_set_rcvhwm (sock, 100000);
    //  A reply to a client that has gone is dropped, not an error.
    zsock_set_router_mandatory (sock, 0);
    return s_bind (sock, endpoint, name);
}

zsock_t *
pm_sock_pub (const char *endpoint, const char *name, int sndhwm)
{
    zsock_t *sock = zsock_new (ZMQ_PUB);
    s_common_options (sock);
    zsock_set_sndhwm (sock, sndhwm);
    if (sndhwm < 4096) {
        zsock_set_sndbuf (sock, sndhwm * 1024);
    }
    return s_bind (sock, endpoint, name);
}

//  Connects a client socket as this process's identity.
static zsock_t *
s_connect (zsock_t *sock, const char *service, const char *endpoint)
{
    if (pm_keys_apply_client (sock, service) != PM_OK) {
        zsock_destroy (&sock);
        return NULL;
    }
    if (zsock_connect (sock, "%s", endpoint) < 0) {
        pm_error ("cannot connect", "endpoint", endpoint, NULL);
        zsock_destroy (&sock);
    }
    return sock;
}

zsock_t *
pm_sock_dealer (const char *service, const char *endpoint)
{
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    s_common_options (sock);
    zsock_set_sndhwm (sock, 100000);
    zsock_set_rcvhwm (sock, 100000);
    return s_connect (sock, service, endpoint);
}

zsock_t *
pm_sock_sub (const char *service, const char *endpoint, const char *prefix,
             int rcvhwm)
{
    zsock_t *sock = zsock_new (ZMQ_SUB);
    s_common_options (sock);
    if (rcvhwm > 0) {
        zsock_set_rcvhwm (sock, rcvhwm);
        zsock_set_rcvbuf (sock, 4096);
    }
    zsock_set_subscribe (sock, prefix ? prefix : "");
    return s_connect (sock, service, endpoint);
}

void
pm_sock_last_endpoint (zsock_t *sock, char *out, size_t outlen)
{
    char *ep = zsock_last_endpoint (sock);
    snprintf (out, outlen, "%s", ep ? ep : "");
    zstr_free (&ep);
}
