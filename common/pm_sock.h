/*  pm_sock.h: every ZeroMQ socket Praxis opens is made here, so that the
    transport policy (size limits, heartbeats, reconnect back-off, CURVE
    with ZAP, see pm_keys.h) is one piece of code.                        */
#ifndef PM_SOCK_H
#define PM_SOCK_H

#include <czmq.h>

//  Hard transport ceiling: a peer sending more is disconnected by libzmq.
//  The application limit (PM_MAX_REQUEST) is lower and answered politely.
#define PM_SOCK_MAXMSGSIZE (64 * 1024 * 1024)

//  A service's command socket, bound at `endpoint`, a CURVE server with
//  the key pair of principal `name`. NULL if the bind fails.
zsock_t *pm_sock_router (const char *endpoint, const char *name);

//  A service's event socket, bound at `endpoint`. sndhwm: events queued
//  per subscriber before libzmq drops (consumers recover by catch-up).
//  The kernel send buffer is capped at about 1 KiB per queued event, so
//  the limit holds: otherwise the kernel alone can hide megabytes of
//  backlog from it. NULL if the bind fails.
zsock_t *pm_sock_pub (const char *endpoint, const char *name, int sndhwm);

//  A client's command socket, connected to `service` at `endpoint` as
//  this process's identity (pm_keys_identity). NULL without keys.
zsock_t *pm_sock_dealer (const char *service, const char *endpoint);

//  A subscriber of `service`'s events at `endpoint`, filtering on `prefix`
//  ("" = all).
//  rcvhwm: how many events may wait before libzmq drops (0 = default; a
//  set value also shrinks the kernel buffer, for tests of slow consumers).
zsock_t *pm_sock_sub (const char *service, const char *endpoint,
                      const char *prefix, int rcvhwm);

//  The endpoint a bound socket really listens on (after "tcp://...:*"),
//  into out. Empty string if unknown.
void pm_sock_last_endpoint (zsock_t *sock, char *out, size_t outlen);

#endif
