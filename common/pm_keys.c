/*  pm_keys.c: the CURVE key store (see pm_keys.h).

    czmq's zauth does the ZAP work: it accepts a client whose public
    certificate is in public/ and passes the certificate's metadata to
    every message from that connection (role, name, sites), which is how
    the server learns who is asking. It re-reads public/ when the count,
    total size or newest modification time (in whole seconds) of its files
    changes, so a revoked or rotated key is refused on its next
    connection. */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

#include "pm_id.h"

#include "pm_cfg.h"
#include "pm_keys.h"
#include "pm_str.h"
#include "pm_log.h"

#define ZAP_DOMAIN "praxis"

static char s_dir[512];
static char s_identity[PM_NAME_MAX];
static zactor_t *s_auth;

bool
pm_keys_enabled (void)
{
    const char *v = pm_cfg_get ("PM_CURVE", "on");
    return strcmp (v, "off") != 0;
}

const char *
pm_keys_dir (void)
{
    if (!s_dir[0]) {
        snprintf (s_dir, sizeof s_dir, "%s", pm_cfg_get ("PM_KEYS_DIR", "./var/keys"));
    }
    return s_dir;
}

void
pm_keys_set_identity (const char *name)
{
    snprintf (s_identity, sizeof s_identity, "%s", name);
}

const char *
pm_keys_identity (void)
{
    if (!s_identity[0]) {
        pm_keys_set_identity (pm_cfg_get ("PM_IDENTITY", "admin"));
    }
    return s_identity;
}

//  <dir>/<sub>/<name>.cert into out.
static void
s_path (char *out, size_t outlen, const char *sub, const char *name)
{
    snprintf (out, outlen, "%s/%s/%s.cert", pm_keys_dir (), sub, name);
}

static bool
s_exists (const char *path)
{
    return access (path, F_OK) == 0;
}

//  A principal name is a file name: letters, digits, '-', '_', '.'.
static bool
s_valid_name (const char *name)
{
    size_t n = strlen (name);
    if (n == 0 || n >= PM_NAME_MAX || name[0] == '.') {
        return false;
    }
    return strspn (name, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789-_.") == n;
}

//  --------------------------------------------------------------------------
//  A new key pair's files under temporary names (hidden: zauth skips
//  them), so that renames then put each file in place whole.
typedef struct {
    char secret[720];         //  secret/.<name>.<pid>.tmp (public half)
    char secret_secret[740];  //  ..._secret (the secret key)
    char pub[720];            //  public/.<name>.<pid>.tmp
} s_temp_t;

static int
s_save_temp (zcert_t *cert, const char *name, s_temp_t *tmp)
{
    snprintf (tmp->secret, sizeof tmp->secret, "%s/secret/.%s.%d.tmp", pm_keys_dir (), name,
              getpid ());
    snprintf (tmp->secret_secret, sizeof tmp->secret_secret, "%s_secret", tmp->secret);
    snprintf (tmp->pub, sizeof tmp->pub, "%s/public/.%s.%d.tmp", pm_keys_dir (), name,
              getpid ());
    int rc = zcert_save (cert, tmp->secret);
    if (rc == 0) {
        chmod (tmp->secret_secret, 0600);
        rc = zcert_save_public (cert, tmp->pub);
    }
    return rc;
}

//  Removes what is left of them (nothing, once renamed into place).
static void
s_temp_remove (const s_temp_t *tmp)
{
    unlink (tmp->secret);
    unlink (tmp->secret_secret);
    unlink (tmp->pub);
}

//  --------------------------------------------------------------------------
//  Makes name's key pair unless it exists. Files are written under
//  temporary names and renamed, so a reader never sees half a key.
pm_err
pm_keys_ensure (const char *name, const char *role, const char *sites)
{
    return pm_keys_ensure_person (name, role, sites, NULL);
}

pm_err
pm_keys_ensure_person (const char *name, const char *role, const char *sites,
                       const char *staff)
{
    char pub[700], sec[700], revoked[700];
    if (!s_valid_name (name)) {
        pm_error ("invalid principal name", "name", name, NULL);
        return PM_EINVAL;
    }
    s_path (pub, sizeof pub, "public", name);
    s_path (sec, sizeof sec, "secret", name);
    s_path (revoked, sizeof revoked, "revoked", name);
    char sec_secret[720];
    snprintf (sec_secret, sizeof sec_secret, "%s_secret", sec);
    if (s_exists (pub) && s_exists (sec_secret)) {
        return PM_OK;
    }
    if (s_exists (revoked)) {
        pm_error ("key was revoked: make a new principal", "name", name, NULL);
        return PM_EFORBIDDEN;
    }
    if (s_exists (pub)) {
        //  Someone else's key: we were given its public half only.
        return PM_OK;
    }
    char sub[700];
    const char *subs[] = {"", "/public", "/secret", "/revoked"};
    for (int i = 0; i < 4; i++) {
        snprintf (sub, sizeof sub, "%s%s", pm_keys_dir (), subs[i]);
        if (mkdir (sub, i == 2 ? 0700 : 0755) != 0 && errno != EEXIST) {
            pm_error ("cannot create key directory", "dir", sub, "error",
                      strerror (errno), NULL);
            return PM_EINTERNAL;
        }
    }
    zcert_t *cert = zcert_new ();
    if (!cert) {
        return PM_EINTERNAL;
    }
    zcert_set_meta (cert, "name", "%s", name);
    zcert_set_meta (cert, "role", "%s", role);
    zcert_set_meta (cert, "sites", "%s", sites && *sites ? sites : "*");
    if (staff && *staff) {
        zcert_set_meta (cert, "staff", "%s", staff);
    }
    s_temp_t tmp;
    int rc = s_save_temp (cert, name, &tmp);
    zcert_destroy (&cert);
    if (rc != 0 || rename (tmp.secret, sec) != 0
        || rename (tmp.secret_secret, sec_secret) != 0 || rename (tmp.pub, pub) != 0) {
        pm_error ("cannot write key", "name", name, "error", strerror (errno), NULL);
        s_temp_remove (&tmp);
        return PM_EINTERNAL;
    }
    pm_info ("key pair created", "name", name, "role", role, "sites",
             sites && *sites ? sites : "*", NULL);
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  An exclusive lock on the key store while a name's key changes: a
//  rotation and a revocation of one name must not interleave (the name
//  could end up both revoked and active). The descriptor, -1 on failure.
static int
s_lock (void)
{
    char path[600];
    snprintf (path, sizeof path, "%s/.lock", pm_keys_dir ());
    int fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (fd >= 0 && flock (fd, LOCK_EX) != 0) {
        close (fd);
        fd = -1;
    }
    if (fd < 0) {
        pm_error ("cannot lock the key store", "path", path, "error",
                  strerror (errno), NULL);
    }
    return fd;
}

//  --------------------------------------------------------------------------
//  Moves name's public key to revoked/. The file count of public/ drops,
//  which is what makes zauth reload it.
bool
pm_keys_public_stamp (const char *name, uint64_t stamp[2])
{
    char pub[700];
    s_path (pub, sizeof pub, "public", name);
    struct stat st;
    if (stat (pub, &st) != 0) {
        return false;
    }
    stamp[0] = (uint64_t) st.st_ino;
    stamp[1] = (uint64_t) st.st_mtim.tv_sec * 1000000000ULL + (uint64_t) st.st_mtim.tv_nsec;
    return true;
}

//  --------------------------------------------------------------------------
pm_err
pm_keys_revoke (const char *name)
{
    char pub[700], revoked[700], dir[600];
    if (!s_valid_name (name)) {
        return PM_EINVAL;
    }
    s_path (pub, sizeof pub, "public", name);
    s_path (revoked, sizeof revoked, "revoked", name);
    snprintf (dir, sizeof dir, "%s/revoked", pm_keys_dir ());
    mkdir (dir, 0755);
    if (!s_exists (pub)) {
        return PM_ENOTFOUND;
    }
    int lock = s_lock ();
    if (lock < 0) {
        return PM_EINTERNAL;
    }
    pm_err rc = PM_OK;
    if (!s_exists (pub)) {
        rc = PM_ENOTFOUND; //  revoked while we waited for the lock
    }
    else if (rename (pub, revoked) != 0) {
        rc = pm_err_from_errno (errno);
    }
    close (lock);
    return rc;
}

//  --------------------------------------------------------------------------
//  Dates `path` one second after both now and the newest file in `dir`
//  (as zdir counts them: what zauth compares). A rotation leaves public/
//  with as many files of the same size, so this date is the only change
//  zauth can see; without it a rotation in the same second as its last
//  reload would leave the old key accepted. File times are wall-clock
//  seconds, hence time () here.
static void
s_date_after_all (const char *path, const char *dir)
{
    time_t newest = time (NULL);
    zdir_t *zdir = zdir_new (dir, NULL);
    if (zdir && zdir_modified (zdir) > newest) {
        newest = zdir_modified (zdir);
    }
    zdir_destroy (&zdir);
    struct timeval tv[2] = {{newest + 1, 0}, {newest + 1, 0}};
    utimes (path, tv);
}

//  Links the current public key `pub` into revoked/ as
//  <name>@<UTC time, ISO 8601 basic, ms>.cert; the path in `out`. A
//  hard link, so the bytes kept are exactly the certificate ZAP took.
static pm_err
s_keep_retired (const char *name, const char *pub, char *out, size_t outlen)
{
    int64_t ms = pm_clock_wall_ms ();
    for (int attempt = 0; attempt < 1000; attempt++, ms++) {
        time_t secs = (time_t) (ms / 1000);
        struct tm tm;
        gmtime_r (&secs, &tm);
        char stamp[32];
        strftime (stamp, sizeof stamp, "%Y%m%dT%H%M%S", &tm);
        snprintf (out, outlen, "%s/revoked/%s@%s.%03dZ.cert", pm_keys_dir (), name,
                  stamp, (int) (ms % 1000));
        if (link (pub, out) == 0) {
            return PM_OK;
        }
        if (errno != EEXIST) {
            break; //  EEXIST: rotated twice within one millisecond
        }
    }
    pm_error ("cannot keep the old key", "name", name, "path", out, "error",
              strerror (errno), NULL);
    return PM_EINTERNAL;
}

//  The rotation proper, with the key store locked.
static pm_err
s_rotate (const char *name, char *retired, size_t retired_len)
{
    char pub[700], sec[700], sec_secret[720], revoked[700], dir[600];
    s_path (pub, sizeof pub, "public", name);
    s_path (sec, sizeof sec, "secret", name);
    s_path (revoked, sizeof revoked, "revoked", name);
    snprintf (sec_secret, sizeof sec_secret, "%s_secret", sec);
    if (s_exists (revoked)) {
        return PM_EFORBIDDEN;
    }
    zcert_t *old = s_exists (pub) ? zcert_load (pub) : NULL;
    if (!old) {
        return PM_ENOTFOUND;
    }
    //  The same principal: every metadata field of the old certificate.
    zcert_t *cert = zcert_new ();
    assert (cert);
    zlist_t *keys = zcert_meta_keys (old);
    for (const char *k = zlist_first (keys); k; k = zlist_next (keys)) {
        zcert_set_meta (cert, k, "%s", zcert_meta (old, k));
    }
    zlist_destroy (&keys);
    zcert_destroy (&old);
    snprintf (dir, sizeof dir, "%s/secret", pm_keys_dir ());
    mkdir (dir, 0700);
    snprintf (dir, sizeof dir, "%s/public", pm_keys_dir ());

    //  Everything new is written under temporary (hidden: zauth skips
    //  them) names first; renames then put each file in place whole.
    s_temp_t tmp;
    int rc = s_save_temp (cert, name, &tmp);
    zcert_destroy (&cert);
    char kept[700] = "";
    pm_err err = rc == 0 ? PM_OK : PM_EINTERNAL;
    if (err == PM_OK) {
        s_date_after_all (tmp.pub, dir);
        err = s_keep_retired (name, pub, kept, sizeof kept);
    }
    //  The secret first: the holder has the new pair by the time ZAP
    //  takes the new key, and the old key works until that same moment.
    if (err == PM_OK
        && (rename (tmp.secret_secret, sec_secret) != 0 || rename (tmp.secret, sec) != 0)) {
        pm_error ("cannot write the new key pair", "name", name, "error",
                  strerror (errno), NULL);
        unlink (kept);
        err = PM_EINTERNAL;
    }
    if (err == PM_OK && rename (tmp.pub, pub) != 0) {
        //  Not expected (one directory, one file system): say what is where.
        pm_error ("new key pair written but public/ still holds the old key: "
                  "rotate again", "name", name, "error", strerror (errno), NULL);
        unlink (kept);
        err = PM_EINTERNAL;
    }
    s_temp_remove (&tmp); //  what a failure left behind
    if (err == PM_OK) {
        if (retired) {
            snprintf (retired, retired_len, "%s", kept);
        }
        pm_info ("key rotated", "name", name, "old_key", kept, NULL);
    }
    return err;
}

//  --------------------------------------------------------------------------
//  A new key pair for the same principal; the old public key kept, refused.
pm_err
pm_keys_rotate (const char *name, char *retired, size_t retired_len)
{
    if (!s_valid_name (name)) {
        return PM_EINVAL;
    }
    char pub[700], revoked[700];
    s_path (pub, sizeof pub, "public", name);
    s_path (revoked, sizeof revoked, "revoked", name);
    if (!s_exists (pub)) {
        return s_exists (revoked) ? PM_EFORBIDDEN : PM_ENOTFOUND;
    }
    int lock = s_lock ();
    if (lock < 0) {
        return PM_EINTERNAL;
    }
    pm_err rc = s_rotate (name, retired, retired_len);
    close (lock);
    return rc;
}

zcert_t *
pm_keys_secret (const char *name)
{
    char path[700];
    s_path (path, sizeof path, "secret", name);
    return s_valid_name (name) ? zcert_load (path) : NULL;
}

zcert_t *
pm_keys_public (const char *name)
{
    char path[700];
    s_path (path, sizeof path, "public", name);
    return s_valid_name (name) ? zcert_load (path) : NULL;
}

//  --------------------------------------------------------------------------
//  CURVE client: our key pair, the service's public key.
pm_err
pm_keys_apply_client (zsock_t *sock, const char *service)
{
    if (!pm_keys_enabled ()) {
        return PM_OK;
    }
    char server_name[PM_NAME_MAX];
    snprintf (server_name, sizeof server_name, "svc-%s", service);
    zcert_t *mine = pm_keys_secret (pm_keys_identity ());
    zcert_t *server = pm_keys_public (server_name);
    pm_err rc = PM_OK;
    if (!mine || !server) {
        pm_error ("missing key: see pmctl keys", "identity", pm_keys_identity (),
                  "server", server_name, "keys_dir", pm_keys_dir (), "missing",
                  !mine ? pm_keys_identity () : server_name, NULL);
        rc = PM_ENOTFOUND;
    }
    else {
        zcert_apply (mine, sock);
        zsock_set_curve_serverkey (sock, zcert_public_txt (server));
    }
    zcert_destroy (&mine);
    zcert_destroy (&server);
    return rc;
}

//  --------------------------------------------------------------------------
//  CURVE server with ZAP against public/.
pm_err
pm_keys_apply_server (zsock_t *sock, const char *name)
{
    if (!pm_keys_enabled ()) {
        return PM_OK;
    }
    if (!s_auth) {
        char dir[600];
        snprintf (dir, sizeof dir, "%s/public", pm_keys_dir ());
        s_auth = zactor_new (zauth, NULL);
        if (!s_auth) {
            return PM_EINTERNAL;
        }
        zstr_sendx (s_auth, "CURVE", dir, NULL);
        zsock_wait (s_auth);
    }
    zcert_t *mine = pm_keys_secret (name);
    if (!mine) {
        pm_error ("missing server key", "name", name, "keys_dir", pm_keys_dir (),
                  NULL);
        return PM_ENOTFOUND;
    }
    zcert_apply (mine, sock);
    zcert_destroy (&mine);
    zsock_set_curve_server (sock, 1);
    zsock_set_zap_domain (sock, ZAP_DOMAIN);
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  The principal from a frame's ZAP metadata.
bool
pm_keys_principal (zmq_msg_t *frame, pm_principal_t *out)
{
    const char *name = zmq_msg_gets (frame, "name");
    const char *role = zmq_msg_gets (frame, "role");
    const char *sites = zmq_msg_gets (frame, "sites");
    if (!name || !role) {
        return false;
    }
    pm_str_copy (out->name, sizeof out->name, name);
    out->role = pm_role_from_name (role);
    pm_str_copy (out->sites, sizeof out->sites, sites);
    pm_str_copy (out->staff, sizeof out->staff, zmq_msg_gets (frame, "staff"));
    return true;
}

bool
pm_principal_has_site (const pm_principal_t *principal, const char *site)
{
    if (strcmp (principal->sites, "*") == 0) {
        return true;
    }
    if (!site || !*site) {
        return false;
    }
    size_t n = strlen (site);
    for (const char *s = principal->sites; *s;) {
        const char *end = strchr (s, ',');
        size_t len = end ? (size_t) (end - s) : strlen (s);
        if (len == n && strncmp (s, site, n) == 0) {
            return true;
        }
        s += len + (end ? 1 : 0);
    }
    return false;
}

void
pm_keys_shutdown (void)
{
    zactor_destroy (&s_auth);
}

//  --------------------------------------------------------------------------
//  Self test: a known key gets in with its principal, an unknown key does
//  not, a revoked key is refused on its next connection.
static bool
s_round_trip (zsock_t *server, const char *client_name, pm_principal_t *who)
{
    pm_keys_set_identity (client_name);
    zsock_t *client = zsock_new (ZMQ_DEALER);
    zsock_set_linger (client, 0);
    pm_keys_apply_client (client, "keytest");
    zsock_connect (client, "%s", zsock_endpoint (server));
    zstr_send (client, "hello");
    zpoller_t *poller = zpoller_new (server, NULL);
    bool got = zpoller_wait (poller, 500) == server;
    if (got) {
        zmq_msg_t id, msg;
        zmq_msg_init (&id);
        zmq_msg_init (&msg);
        zmq_msg_recv (&id, zsock_resolve (server), 0);
        zmq_msg_recv (&msg, zsock_resolve (server), 0);
        got = pm_keys_principal (&msg, who);
        zmq_msg_close (&id);
        zmq_msg_close (&msg);
    }
    zpoller_destroy (&poller);
    zsock_destroy (&client);
    return got;
}

void
pm_keys_test (bool verbose)
{
    char dir[] = "/tmp/pm_keys_test.XXXXXX";
    assert (mkdtemp (dir));
    setenv ("PM_KEYS_DIR", dir, 1);
    setenv ("PM_CURVE", "on", 1);
    s_dir[0] = 0;
    assert (pm_keys_ensure ("svc-keytest", "service", "*") == PM_OK);
    assert (pm_keys_ensure ("alice", "front-desk", "north,east") == PM_OK);
    assert (pm_keys_ensure ("alice", "front-desk", "north,east") == PM_OK);
    assert (pm_keys_ensure ("../evil", "service", "*") == PM_EINVAL);

    zsock_t *server = zsock_new (ZMQ_ROUTER);
    assert (pm_keys_apply_server (server, "svc-keytest") == PM_OK);
    assert (zsock_bind (server, "tcp://127.0.0.1:*") > 0);
    pm_principal_t who;
    assert (s_round_trip (server, "alice", &who));
    assert (strcmp (who.name, "alice") == 0 && who.role == PM_ROLE_FRONT_DESK);
    assert (pm_principal_has_site (&who, "east"));
    assert (pm_principal_has_site (&who, "north"));
    assert (!pm_principal_has_site (&who, "nort"));
    assert (!pm_principal_has_site (&who, "west"));

    //  A key pair nobody registered: the handshake fails, nothing arrives.
    zcert_t *stranger = zcert_new ();
    char path[700];
    snprintf (path, sizeof path, "%s/secret", dir);
    snprintf (path, sizeof path, "%s/secret/mallory.cert", dir);
    zcert_save (stranger, path);
    zcert_destroy (&stranger);
    assert (!s_round_trip (server, "mallory", &who));

    //  Rotated (within the second of zauth's last reload): the same
    //  principal under a new key, the old key kept in revoked/ and refused.
    zcert_t *before = pm_keys_secret ("alice");
    assert (before);
    snprintf (path, sizeof path, "%s/secret/alice-old.cert", dir);
    assert (zcert_save (before, path) == 0);
    char kept[700];
    assert (pm_keys_rotate ("alice", kept, sizeof kept) == PM_OK);
    assert (strstr (kept, "/revoked/alice@"));
    zcert_t *old = zcert_load (kept);
    zcert_t *after = pm_keys_secret ("alice");
    assert (old && after);
    assert (streq (zcert_public_txt (old), zcert_public_txt (before)));
    assert (!streq (zcert_public_txt (after), zcert_public_txt (before)));
    zcert_destroy (&old);
    zcert_destroy (&after);
    zcert_destroy (&before);
    assert (!s_round_trip (server, "alice-old", &who));
    assert (s_round_trip (server, "alice", &who));
    assert (streq (who.name, "alice") && who.role == PM_ROLE_FRONT_DESK);
    assert (streq (who.sites, "north,east"));
    assert (pm_keys_ensure ("alice", "front-desk", "north,east") == PM_OK);
    assert (pm_keys_rotate ("nobody", NULL, 0) == PM_ENOTFOUND);
    assert (pm_keys_rotate ("../evil", NULL, 0) == PM_EINVAL);

    //  Revoked: refused on the next connection, and rotates no more.
    assert (pm_keys_revoke ("alice") == PM_OK);
    assert (pm_keys_revoke ("alice") == PM_ENOTFOUND);
    assert (!s_round_trip (server, "alice", &who));
    assert (pm_keys_ensure ("alice", "front-desk", "*") == PM_EFORBIDDEN);
    assert (pm_keys_rotate ("alice", NULL, 0) == PM_EFORBIDDEN);
    if (verbose) {
        printf ("pm_keys: ok in %s\n", dir);
    }
    zsock_destroy (&server);
    pm_keys_shutdown ();
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
}
