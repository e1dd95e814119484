/*  pm_keys.h: the CURVE key store and the principals it defines.

    $PM_KEYS_DIR (default ./var/keys) holds:
      public/<name>.cert          public key + metadata (name, role, sites):
                                  the certificates ZAP accepts
      secret/<name>.cert[_secret] a principal's key pair, for whoever runs as
                                  that principal (a service, pmctl, a gateway)
      revoked/<name>.cert         public keys taken out of service (the name
                                  with them: pmctl keys revoke)
      revoked/<name>@<time>.cert  keys replaced by a rotation (UTC time of
                                  the rotation, ISO 8601 basic): the name
                                  lives on under a new key
    Every service is the principal "svc-<service>" (role service, all
    sites) and makes its key pair on first start. Clients run as
    $PM_IDENTITY (pmctl: "admin", made by `pmctl keys init`).            */
#ifndef PM_KEYS_H
#define PM_KEYS_H

#include <czmq.h>
#include <stdbool.h>

#include "pm_auth.h"
#include "pm_err.h"

#define PM_NAME_MAX 64
#define PM_SITES_MAX 512

//  Who sent a request: from the certificate's metadata, vouched for by ZAP.
typedef struct {
    char name[PM_NAME_MAX];   //  "svc-patients", "alice"
    unsigned role;            //  one PM_ROLE_* bit; 0 = unknown
    char sites[PM_SITES_MAX]; //  "*" or comma-separated site ids
    char staff[PM_NAME_MAX];  //  the staff record of the person ("stf_..."), or ""
} pm_principal_t;

//  True when CURVE is on (PM_CURVE, default on).
bool pm_keys_enabled (void);

//  The key store directory.
const char *pm_keys_dir (void);

//  The principal this process runs as when it connects to a service:
//  set_identity overrides $PM_IDENTITY (a service sets "svc-<name>").
void pm_keys_set_identity (const char *name);
const char *pm_keys_identity (void);

//  Creates the key pair of principal `name` unless it exists: secret in
//  secret/, public with metadata (role name, sites) in public/. PM_OK if
//  it exists or was made.
pm_err pm_keys_ensure (const char *name, const char *role, const char *sites);

//  The same for a person's key linked to their staff record (`staff`, a
//  "stf_..." id, or NULL): services then let the key act only as that
//  staff member where a command names one (pm_ctx_staff_id).
pm_err pm_keys_ensure_person (const char *name, const char *role, const char *sites,
                              const char *staff);

//  Moves name's public key to revoked/: new connections with it are
//  refused. PM_ENOTFOUND if no such public key.
pm_err pm_keys_revoke (const char *name);

//  What identifies name's public key file now (inode, modification time
//  in ns): a rotation changes it, so a long-lived client of a service can
//  tell that it must connect again with the new key. False if none.
bool pm_keys_public_stamp (const char *name, uint64_t stamp[2]);

//  Gives principal `name` a new key pair with the same certificate
//  metadata (name, role, sites, staff), so it stays the same principal.
//  The new pair replaces secret/<name>.cert[_secret] and the new public
//  key replaces public/<name>.cert in one rename each (the name always
//  has exactly one valid public key, and no reader sees half a file); the
//  old public key is kept as revoked/<name>@<time>.cert, which ZAP
//  refuses from its next connection. Connections already open stay open:
//  ZAP checks a key when a connection is made. A running service holds
//  its secret: rotate an svc-* key with that service stopped. Every client
//  of a service pins its public key when it connects; followers notice a
//  rotation (pm_keys_public_stamp) and connect again, other long-lived
//  clients must be restarted.
//  `retired` (may be NULL) receives the path of the old key's file.
//  PM_ENOTFOUND: no such principal; PM_EFORBIDDEN: its key was revoked
//  (a revoked name stays out of service); PM_EINVAL: not a name.
pm_err pm_keys_rotate (const char *name, char *retired, size_t retired_len);

//  The key pair of `name` (caller destroys), NULL if missing.
zcert_t *pm_keys_secret (const char *name);

//  The public certificate of `name` (caller destroys), NULL if missing.
zcert_t *pm_keys_public (const char *name);

//  Applies this process's CURVE identity (its own key pair) as a client
//  of `service` to `sock`, with the service's public key. PM_ENOTFOUND
//  names the missing key in the log.
pm_err pm_keys_apply_client (zsock_t *sock, const char *service);

//  Makes `sock` a CURVE server with the key pair of `name`, checked by
//  ZAP against public/ (the authenticator starts on first use).
pm_err pm_keys_apply_server (zsock_t *sock, const char *name);

//  Reads a principal from a received frame's ZAP metadata. False when the
//  frame carries none (CURVE off: the caller decides).
bool pm_keys_principal (zmq_msg_t *frame, pm_principal_t *out);

//  True when `principal` may act at `site` ("*" or listed).
bool pm_principal_has_site (const pm_principal_t *principal, const char *site);

//  Stops the authenticator (at exit; safe if never started).
void pm_keys_shutdown (void);

//  Self test: asserts on failure.
void pm_keys_test (bool verbose);

#endif
