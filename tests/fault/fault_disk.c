/*  fault_disk.c: the disk fills up under pm-patients (make test-fault).

    run-fault.sh mounts a tmpfs of a few MB and passes its path in
    FAULT_TMPFS (this needs root; elsewhere the suite is skipped). The
    service's store lives there. Registrations go on until writes fail;
    then:
    - a failed write gets a clear error reply (EFULL, or EINTERNAL with a
      message), never a crash, a hang or silence;
    - every acknowledged write is still there, and the service keeps
      answering reads and health;
    - when the tmpfs grows (mount -o remount,size=...), writes succeed
      again without a restart;
    - the history checker finds every acknowledged write exactly once in
      a gap-free stream, before and after a kill -9 and restart.        */
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fault.h"
#include "patients.pb-c.h"

#define WRITES_MAX 50000     //  the tmpfs is full long before this

//  Records an acknowledged write in the history, as the load driver does.
static void
s_ack (fault_history_t *h, pm_client_t *client, const char *type,
       const Pm__Reply *reply)
{
    if (h->n == h->cap) {
        h->cap = h->cap ? h->cap * 2 : 1024;
        h->acks = realloc (h->acks, h->cap * sizeof *h->acks);
    }
    fault_ack_t *ack = &h->acks[h->n++];
    memset (ack, 0, sizeof *ack);
    snprintf (ack->causation, sizeof ack->causation, "%s/%llu",
              pm_client_id (client), (unsigned long long) reply->request_id);
    snprintf (ack->type, sizeof ack->type, "%s", type);
    Pm__Patients__Patient *p = pm__patients__patient__unpack (NULL, reply->body.len,
                                                              reply->body.data);
    if (p) {
        snprintf (ack->subject, sizeof ack->subject, "%s", p->id);
    }
    pm__patients__patient__free_unpacked (p, NULL);
    ack->reply = malloc (reply->body.len ? reply->body.len : 1);
    memcpy (ack->reply, reply->body.data, reply->body.len);
    ack->reply_len = reply->body.len;
}

//  Registers patient number `i`; the reply (NULL: no answer at all).
static Pm__Reply *
s_register (pm_client_t *client, int i)
{
    char family[32], phone[32];
    snprintf (family, sizeof family, "Full%05d", i);
    snprintf (phone, sizeof phone, "+1 555 %07d", i);
    char *given[] = {"Dana"};
    Pm__Patients__HumanName name = PM__PATIENTS__HUMAN_NAME__INIT;
    name.family = family;
    name.n_given = 1;
    name.given = given;
    Pm__Patients__ContactPoint tel = PM__PATIENTS__CONTACT_POINT__INIT;
    tel.has_system = 1;
    tel.system = PM__PATIENTS__CONTACT_SYSTEM__PHONE;
    tel.value = phone;
    Pm__Patients__ContactPoint *telecom[] = {&tel};
    //  Some bulk, so that a few MB fill in a few thousand writes.
    char line[200];
    memset (line, 'x', sizeof line - 1);
    line[sizeof line - 1] = 0;
    char *lines[] = {line, line};
    Pm__Patients__Address addr = PM__PATIENTS__ADDRESS__INIT;
    addr.n_lines = 2;
    addr.lines = lines;
    addr.city = "Leeds";
    Pm__Patients__Patient p = PM__PATIENTS__PATIENT__INIT;
    p.name = &name;
    p.birth_date = "1980-05-05";
    p.home_site = "north";
    p.n_telecom = 1;
    p.telecom = telecom;
    p.address = &addr;
    Pm__Patients__Register reg = PM__PATIENTS__REGISTER__INIT;
    reg.patient = &p;
    return itest_call (client, "patients.Register", &reg.base);
}

//  --------------------------------------------------------------------------
//  True for the refusal a full disk must give: EFULL, with a message.
static bool
s_clear_error (const Pm__Reply *reply)
{
    return reply && reply->code == PM__CODE__EFULL && reply->message && *reply->message;
}

//  --------------------------------------------------------------------------
//  The store's map size, from pm.Health.
static uint64_t
s_map_size (pm_client_t *client)
{
    Pm__Health *h = itest_health (client);
    uint64_t size = h ? h->map_size : 0;
    pm__health__free_unpacked (h, NULL);
    return size;
}

//  Fills what is left of the file system at `mnt` with a file.
static int
s_fill_up (const char *mnt)
{
    char path[300];
    snprintf (path, sizeof path, "%s/filler", mnt);
    FILE *f = fopen (path, "wb");
    if (!f) {
        return -1;
    }
    static char chunk[4096];
    while (fwrite (chunk, 1, sizeof chunk, f) == sizeof chunk) {
    }
    fclose (f); //  fails too (ENOSPC on the last flush): expected
    return 0;
}

//  How many patients.Get the audit log records as served.
static int
s_audited_reads (pm_client_t *client)
{
    int n = 0;
    uint64_t from = 1;
    for (;;) {
        Pm__AuditRead ar = PM__AUDIT_READ__INIT;
        ar.has_from_seq = 1;
        ar.from_seq = from;
        Pm__Reply *reply = itest_call (client, "pm.AuditRead", &ar.base);
        Pm__AuditBatch *batch = reply && reply->code == PM__CODE__OK
                                    ? pm__audit_batch__unpack (NULL, reply->body.len,
                                                               reply->body.data)
                                    : NULL;
        if (!batch) {
            fprintf (stderr, "    pm.AuditRead: %s: %s\n",
                     reply ? pm_err_name ((pm_err) reply->code) : "no answer",
                     reply && reply->message ? reply->message : "");
            pm__reply__free_unpacked (reply, NULL);
            return -1;
        }
        pm__reply__free_unpacked (reply, NULL);
        size_t got = batch->n_entries;
        for (size_t i = 0; i < got; i++) {
            Pm__AuditEntry *e = batch->entries[i];
            n += e->action && strcmp (e->action, "patients.Get") == 0
                 && e->outcome == PM__CODE__OK;
            from = e->seq + 1;
        }
        pm__audit_batch__free_unpacked (batch, NULL);
        if (got == 0) {
            return n;
        }
    }
}

//  --------------------------------------------------------------------------
static void
s_test_disk_full (void)
{
    const char *mnt = getenv ("FAULT_TMPFS");
    if (!mnt) {
        fprintf (stderr, "    FAULT_TMPFS is not set: run through tests/fault/run-fault.sh\n");
    }
    CHECK (mnt);
    itest_svc_t svc;
    itest_svc_init (&svc, "patients", "pm-patients");
    //  The store on the tmpfs; the log stays where itest put it.
    CHECK (rmdir (svc.dir) == 0);
    snprintf (svc.dir, sizeof svc.dir, "%s/patients", mnt);
    CHECK (mkdir (svc.dir, 0700) == 0);
    CHECK (itest_start (&svc) == 0);
    pm_client_t *client = itest_client (&svc);
    uint64_t map_before = s_map_size (client);

    //  Does this service audit reads of a record? One read, then look.
    Pm__Reply *first = s_register (client, -1);
    CHECK (first && first->code == PM__CODE__OK);
    fault_history_t h = {0};
    s_ack (&h, client, "patients.Register", first);
    pm__reply__free_unpacked (first, NULL);
    Pm__Patients__Get get1 = PM__PATIENTS__GET__INIT;
    get1.id = h.acks[0].subject;
    first = itest_call (client, "patients.Get", &get1.base);
    CHECK (first && first->code == PM__CODE__OK);
    pm__reply__free_unpacked (first, NULL);
    int audited_before = s_audited_reads (client);
    CHECK (audited_before >= 0);

    //  Fill it.
    Pm__Reply *refusal = NULL;
    int i = 0;
    int64_t started = itest_now ();
    for (; i < WRITES_MAX && !refusal; i++) {
        Pm__Reply *reply = s_register (client, i);
        CHECK (reply); //  an answer, always: no hang
        if (reply->code == PM__CODE__OK) {
            s_ack (&h, client, "patients.Register", reply);
            pm__reply__free_unpacked (reply, NULL);
        }
        else {
            refusal = reply;
        }
    }
    CHECK (refusal);
    printf ("    disk full after %zu registrations (%.1f s): %s: %s\n", h.n,
            (double) (itest_now () - started) / 1000.0,
            pm_err_name ((pm_err) refusal->code),
            refusal->message ? refusal->message : "(no message)");
    fflush (stdout);
    fault_show_log (&svc, 4);
    CHECK (s_clear_error (refusal));
    pm__reply__free_unpacked (refusal, NULL);
    CHECK (h.n > 100);

    //  Not one byte left (another file takes the rest): still a clear
    //  refusal, whatever error the kernel gives now (ENOSPC rather than
    //  a short write).
    CHECK (s_fill_up (mnt) == 0);

    //  Still full: every write is refused clearly, updates too.
    for (int k = 0; k < 3; k++) {
        Pm__Reply *reply = s_register (client, WRITES_MAX + k);
        if (k == 0 && reply) {
            printf ("    with no byte left: %s: %s\n", pm_err_name ((pm_err) reply->code),
                    reply->message ? reply->message : "(no message)");
            fflush (stdout);
        }
        CHECK (s_clear_error (reply));
        pm__reply__free_unpacked (reply, NULL);
    }
    Pm__Patients__Patient patch = PM__PATIENTS__PATIENT__INIT;
    patch.preferred_language = "fr";
    Pm__Patients__Update upd = PM__PATIENTS__UPDATE__INIT;
    upd.id = h.acks[0].subject;
    upd.has_expected_version = 1;
    upd.expected_version = 1;
    upd.patient = &patch;
    Pm__Reply *upd_reply = itest_call (client, "patients.Update", &upd.base);
    CHECK (s_clear_error (upd_reply));
    pm__reply__free_unpacked (upd_reply, NULL);

    //  Reads go on: health and the stream always; a patient record (an
    //  audited read) is served once its access is on the record, or
    //  refused clearly when even that cannot be written.
    Pm__Health *health = itest_health (client);
    CHECK (health && health->high_seq == h.n);
    pm__health__free_unpacked (health, NULL);
    Pm__EventsRead er = PM__EVENTS_READ__INIT;
    er.has_from_seq = er.has_max = 1;
    er.from_seq = 1;
    er.max = 10;
    Pm__Reply *reply = itest_call (client, "pm.EventsRead", &er.base);
    CHECK (reply && reply->code == PM__CODE__OK);
    pm__reply__free_unpacked (reply, NULL);
    int served = 0, refused = 0;
    for (size_t k = 0; k < h.n; k += h.n / 50 + 1) {
        Pm__Patients__Get get = PM__PATIENTS__GET__INIT;
        get.id = h.acks[k].subject;
        reply = itest_call (client, "patients.Get", &get.base);
        CHECK (reply);
        if (reply->code == PM__CODE__OK) {
            CHECK (reply->body.len == h.acks[k].reply_len
                   && memcmp (reply->body.data, h.acks[k].reply, h.acks[k].reply_len) == 0);
            served++;
        }
        else {
            CHECK (s_clear_error (reply));
            refused++;
        }
        pm__reply__free_unpacked (reply, NULL);
    }
    Pm__Patients__Search q = PM__PATIENTS__SEARCH__INIT;
    q.family_prefix = "full0000";
    reply = itest_call (client, "patients.Search", &q.base);
    CHECK (reply && (reply->code == PM__CODE__OK || s_clear_error (reply)));
    pm__reply__free_unpacked (reply, NULL);
    printf ("    reads while full: %d records served, %d refused clearly; "
            "health and stream reads served\n", served, refused);
    fflush (stdout);

    //  Space comes back (the other file goes, the file system grows):
    //  writes succeed, no restart.
    char cmd[400];
    snprintf (cmd, sizeof cmd, "rm -f '%s/filler' && mount -o remount,size=64M '%s'",
              mnt, mnt);
    CHECK (system (cmd) == 0);
    pid_t pid = svc.pid;
    for (int k = 0; k < 200; k++) {
        reply = s_register (client, WRITES_MAX + 100 + k);
        if (!reply || reply->code != PM__CODE__OK) {
            fprintf (stderr, "    write %d after space returned: %s: %s\n", k,
                     reply ? pm_err_name ((pm_err) reply->code) : "no answer",
                     reply && reply->message ? reply->message : "");
        }
        CHECK (reply && reply->code == PM__CODE__OK);
        s_ack (&h, client, "patients.Register", reply);
        pm__reply__free_unpacked (reply, NULL);
    }
    CHECK (svc.pid == pid && kill (pid, 0) == 0);
    uint64_t map_after = s_map_size (client);
    printf ("    writes succeed again without a restart; map size %llu -> %llu bytes\n",
            (unsigned long long) map_before, (unsigned long long) map_after);
    fflush (stdout);

    //  Where reads of a record are audited, every record served while the
    //  disk was full is on the audit record: no access went unrecorded.
    if (audited_before > 0) {
        CHECK (s_audited_reads (client) >= audited_before + served);
    }
    else {
        printf ("    (reads of a patient are not audited yet: no audit check)\n");
    }

    //  Nothing acknowledged was lost, nothing was done twice, before and
    //  after a kill -9.
    fault_stream_t stream;
    CHECK (fault_check_history (&fault_patients, client, &h, &stream) == 0);
    CHECK (stream.high_seq == h.n);
    fault_stream_free (&stream);
    itest_signal (&svc, SIGKILL);
    CHECK (itest_start (&svc) == 0);
    pm_client_destroy (&client);
    client = itest_client (&svc);
    CHECK (fault_check_history (&fault_patients, client, &h, &stream) == 0);
    CHECK (stream.high_seq == h.n);
    fault_stream_free (&stream);

    for (size_t k = 0; k < h.n; k++) {
        free (h.acks[k].reply);
    }
    free (h.acks);
    pm_client_destroy (&client);
    itest_cleanup (&svc);
}

static const itest_case_t s_cases[] = {
    {"disk_full_then_space_returns", s_test_disk_full},
    {NULL, NULL},
};

//  --------------------------------------------------------------------------
//  Runs the case through the itest runner.
int
main (int argc, char *argv[])
{
    return itest_main (argc, argv, s_cases);
}
