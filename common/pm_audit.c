/*  pm_audit.c: the hash-chained audit log (see pm_audit.h).              */
#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_audit.h"
#include "pm_id.h"
#include "pm_log.h"

struct _pm_audit_t {
    MDB_dbi dbi;               //  be64 seq -> packed pm.AuditEntry
    pm_audit_mark_t committed; //  durable head
    pm_audit_mark_t pending;   //  head including uncommitted appends
};

//  The hash of an entry: BLAKE2b-256 over prev_hash and the entry packed
//  with its hash field left out.
static void
s_hash (const Pm__AuditEntry *entry, uint8_t *out)
{
    Pm__AuditEntry copy = *entry;
    copy.has_hash = 0;
    copy.hash.data = NULL;
    copy.hash.len = 0;
    size_t len = pm__audit_entry__get_packed_size (&copy);
    uint8_t stack[1024];
    uint8_t *buf = len <= sizeof stack ? stack : malloc (len);
    assert (buf);
    pm__audit_entry__pack (&copy, buf);
    crypto_generichash_state state;
    crypto_generichash_init (&state, NULL, 0, PM_AUDIT_HASH);
    crypto_generichash_update (&state, entry->prev_hash.data, entry->prev_hash.len);
    crypto_generichash_update (&state, buf, len);
    crypto_generichash_final (&state, out, PM_AUDIT_HASH);
    if (buf != stack) {
        free (buf);
    }
}

pm_audit_t *
pm_audit_new (pm_store_t *store)
{
    if (sodium_init () < 0) {
        pm_error ("libsodium did not initialise", NULL);
        return NULL;
    }
    pm_audit_t *self = calloc (1, sizeof *self);
    assert (self);
    MDB_txn *txn = NULL;
    if (pm_store_dbi (store, "$audit", 0, &self->dbi) != PM_OK
        || pm_store_begin (store, NULL, false, &txn) != PM_OK) {
        pm_audit_destroy (&self);
        return NULL;
    }
    //  The head: the last entry's seq and hash.
    MDB_cursor *cursor;
    if (mdb_cursor_open (txn, self->dbi, &cursor) == 0) {
        MDB_val key, val;
        if (mdb_cursor_get (cursor, &key, &val, MDB_LAST) == 0) {
            Pm__AuditEntry *last = pm__audit_entry__unpack (NULL, val.mv_size,
                                                            val.mv_data);
            if (last && last->hash.len == PM_AUDIT_HASH) {
                self->committed.seq = last->seq;
                memcpy (self->committed.hash, last->hash.data, PM_AUDIT_HASH);
            }
            else {
                //  Keep serving: verify reports the damage to an auditor.
                pm_error ("last audit entry does not decode", NULL);
                self->committed.seq = pm_be64_get (key.mv_data);
            }
            pm__audit_entry__free_unpacked (last, NULL);
        }
        mdb_cursor_close (cursor);
    }
    pm_store_abort (txn);
    self->pending = self->committed;
    return self;
}

void
pm_audit_destroy (pm_audit_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free (*self_p);
        *self_p = NULL;
    }
}

//  --------------------------------------------------------------------------
//  Appends an entry at the head of the chain.
pm_err
pm_audit_append (pm_audit_t *self, MDB_txn *txn, Pm__AuditEntry *entry)
{
    entry->has_seq = 1;
    entry->seq = self->pending.seq + 1;
    entry->has_prev_hash = 1;
    entry->prev_hash.data = self->pending.hash;
    entry->prev_hash.len = PM_AUDIT_HASH;
    uint8_t hash[PM_AUDIT_HASH];
    s_hash (entry, hash);
    entry->has_hash = 1;
    entry->hash.data = hash;
    entry->hash.len = PM_AUDIT_HASH;
    uint8_t key[8];
    pm_be64_put (key, entry->seq);
    pm_err rc = pm_store_put_msg (txn, self->dbi, key, 8, &entry->base, MDB_APPEND);
    entry->prev_hash.data = entry->hash.data = NULL; //  point at our memory
    if (rc == PM_OK) {
        self->pending.seq = entry->seq;
        memcpy (self->pending.hash, hash, PM_AUDIT_HASH);
    }
    return rc;
}

pm_audit_mark_t
pm_audit_pending (pm_audit_t *self)
{
    return self->pending;
}

pm_audit_mark_t
pm_audit_committed (pm_audit_t *self)
{
    return self->committed;
}

void
pm_audit_rewind (pm_audit_t *self, pm_audit_mark_t mark)
{
    assert (mark.seq >= self->committed.seq && mark.seq <= self->pending.seq);
    self->pending = mark;
}

void
pm_audit_commit (pm_audit_t *self)
{
    self->committed = self->pending;
}

//  --------------------------------------------------------------------------
//  Entries from a seq, as a packed AuditBatch.
pm_err
pm_audit_read (pm_audit_t *self, MDB_txn *txn, uint64_t from_seq, uint32_t max,
               bool break_glass_only, uint8_t **body_out, size_t *len_out)
{
    Pm__AuditBatch batch = PM__AUDIT_BATCH__INIT;
    batch.has_high_seq = 1;
    batch.high_seq = self->committed.seq;
    Pm__AuditEntry **entries = calloc (max ? max : 1, sizeof *entries);
    assert (entries);
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, self->dbi, &cursor));
    if (rc == PM_OK) {
        uint8_t kb[8];
        pm_be64_put (kb, from_seq ? from_seq : 1);
        MDB_val key = {8, kb}, val;
        int mrc = mdb_cursor_get (cursor, &key, &val, MDB_SET_RANGE);
        //  A review list may scan far: bounded by entries looked at.
        for (uint32_t scanned = 0; mrc == 0 && batch.n_entries < max
                                   && scanned < 100000;
             scanned++) {
            Pm__AuditEntry *e = pm__audit_entry__unpack (NULL, val.mv_size, val.mv_data);
            if (e && (!break_glass_only || e->break_glass)) {
                entries[batch.n_entries++] = e;
            }
            else {
                pm__audit_entry__free_unpacked (e, NULL);
            }
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
        mdb_cursor_close (cursor);
    }
    batch.entries = entries;
    if (rc == PM_OK) {
        *len_out = pm__audit_batch__get_packed_size (&batch);
        *body_out = malloc (*len_out ? *len_out : 1);
        assert (*body_out);
        pm__audit_batch__pack (&batch, *body_out);
    }
    for (size_t i = 0; i < batch.n_entries; i++) {
        pm__audit_entry__free_unpacked (entries[i], NULL);
    }
    free (entries);
    return rc;
}

//  --------------------------------------------------------------------------
//  Walks the chain: seqs gap-free and matching their keys, each entry
//  decodes, links to its predecessor and hashes to what it says.
pm_err
pm_audit_verify (pm_audit_t *self, MDB_txn *txn, Pm__AuditAnchor **anchors,
                 size_t n_anchors, Pm__AuditVerdict *verdict)
{
    (void) self;
    uint8_t prev[PM_AUDIT_HASH] = {0};
    uint64_t expect = 1;
    const char *problem = NULL;
    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, self->dbi, &cursor));
    if (rc != PM_OK) {
        return rc;
    }
    MDB_val key, val;
    int mrc = mdb_cursor_get (cursor, &key, &val, MDB_FIRST);
    for (; mrc == 0 && !problem; expect++) {
        Pm__AuditEntry *e = pm__audit_entry__unpack (NULL, val.mv_size, val.mv_data);
        uint8_t hash[PM_AUDIT_HASH];
        if (key.mv_size != 8 || pm_be64_get (key.mv_data) != expect) {
            problem = "an entry is missing: the sequence has a gap";
        }
        else if (!e) {
            problem = "an entry does not decode: it was altered";
        }
        else if (e->seq != expect) {
            problem = "an entry sits at the wrong place: entries were reordered";
        }
        else if (e->prev_hash.len != PM_AUDIT_HASH
                 || memcmp (e->prev_hash.data, prev, PM_AUDIT_HASH) != 0) {
            problem = "an entry does not follow its predecessor: removed or reordered";
        }
        else if (e->hash.len != PM_AUDIT_HASH
                 || (s_hash (e, hash), memcmp (hash, e->hash.data, PM_AUDIT_HASH) != 0)) {
            problem = "an entry's content does not match its hash: it was altered";
        }
        else {
            memcpy (prev, e->hash.data, PM_AUDIT_HASH);
        }
        pm__audit_entry__free_unpacked (e, NULL);
        if (!problem) {
            mrc = mdb_cursor_get (cursor, &key, &val, MDB_NEXT);
        }
    }
    mdb_cursor_close (cursor);
    //  The head this process wrote must still be there: a cut-off tail
    //  shows here (across restarts, anchor head_hash outside the store).
    if (!problem && expect - 1 != self->committed.seq) {
        problem = "entries at the end of the log are missing";
        expect = self->committed.seq + 2;
    }
    uint64_t entries = expect - 1, bad_seq = problem ? expect - 1 : 0;
    //  The chain holds on its own; does it still hold what was anchored?
    uint32_t checked = 0;
    for (size_t a = 0; !problem && a < n_anchors; a++, checked++) {
        const Pm__AuditAnchor *anchor = anchors[a];
        if (!anchor->has_seq || anchor->seq == 0 || anchor->hash.len != PM_AUDIT_HASH) {
            problem = "an anchor needs a seq and a 32-byte hash";
            bad_seq = anchor->seq;
            break;
        }
        if (anchor->seq > entries) {
            problem = "the log ends before an anchored entry: entries were removed";
            bad_seq = anchor->seq;
            break;
        }
        uint8_t k[8];
        pm_be64_put (k, anchor->seq);
        MDB_val stored;
        rc = pm_store_get (txn, self->dbi, k, 8, &stored);
        if (rc != PM_OK) {
            return rc;
        }
        Pm__AuditEntry *e = pm__audit_entry__unpack (NULL, stored.mv_size, stored.mv_data);
        if (!e || e->hash.len != PM_AUDIT_HASH
            || memcmp (e->hash.data, anchor->hash.data, PM_AUDIT_HASH) != 0) {
            problem = "an entry's hash is not the one anchored outside the store: "
                      "the log was rewritten";
            bad_seq = anchor->seq;
        }
        pm__audit_entry__free_unpacked (e, NULL);
    }
    static uint8_t head[PM_AUDIT_HASH];
    memcpy (head, prev, sizeof head);
    verdict->has_ok = verdict->has_entries = verdict->has_first_bad_seq = 1;
    verdict->has_anchors_checked = 1;
    verdict->anchors_checked = checked;
    verdict->ok = problem == NULL;
    verdict->entries = entries;
    verdict->first_bad_seq = bad_seq;
    verdict->problem = (char *) problem;
    verdict->has_head_hash = 1;
    verdict->head_hash.data = head;
    verdict->head_hash.len = PM_AUDIT_HASH;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Self test: a chain of entries verifies; each kind of tampering is found.
static void
s_put_entries (pm_store_t *store, pm_audit_t *log, int n, const char *principal)
{
    MDB_txn *txn;
    assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    for (int i = 0; i < n; i++) {
        Pm__AuditEntry e = PM__AUDIT_ENTRY__INIT;
        e.principal = (char *) principal;
        e.action = "patients.Get";
        e.subject = "pat_01m8e8rx5n3r2py41feft8x8rn";
        e.has_time = 1;
        e.time = 1000 + i;
        assert (pm_audit_append (log, txn, &e) == PM_OK);
    }
    assert (pm_store_commit (txn) == PM_OK);
    pm_audit_commit (log);
}

static Pm__AuditVerdict *
s_verify_anchored (pm_store_t *store, pm_audit_t *log, Pm__AuditAnchor *anchor,
                   Pm__AuditVerdict *v)
{
    MDB_txn *txn;
    pm__audit_verdict__init (v);
    assert (pm_store_begin (store, NULL, false, &txn) == PM_OK);
    assert (pm_audit_verify (log, txn, anchor ? &anchor : NULL, anchor ? 1 : 0, v) == PM_OK);
    pm_store_abort (txn);
    return v;
}

static Pm__AuditVerdict *
s_verify (pm_store_t *store, pm_audit_t *log, Pm__AuditVerdict *v)
{
    return s_verify_anchored (store, log, NULL, v);
}

//  A chain rewritten whole verifies on its own, not against an anchor
//  taken before; a chain cut short after a restart neither.
static void
s_test_anchors (bool verbose)
{
    char dir_a[] = "/tmp/pm_audit_test.XXXXXX", dir_b[] = "/tmp/pm_audit_test.XXXXXX";
    assert (mkdtemp (dir_a) && mkdtemp (dir_b));
    pm_store_t *store_a = pm_store_new (dir_a, 1 << 20, 1 << 24);
    pm_store_t *store_b = pm_store_new (dir_b, 1 << 20, 1 << 24);
    pm_audit_t *a = pm_audit_new (store_a), *b = pm_audit_new (store_b);
    assert (a && b);
    Pm__AuditVerdict v;
    s_put_entries (store_a, a, 3, "alice");
    assert (s_verify (store_a, a, &v)->ok && v.entries == 3);
    uint8_t hash[PM_AUDIT_HASH];
    memcpy (hash, v.head_hash.data, PM_AUDIT_HASH);
    Pm__AuditAnchor anchor = PM__AUDIT_ANCHOR__INIT;
    anchor.has_seq = anchor.has_hash = 1;
    anchor.seq = 3;
    anchor.hash = (ProtobufCBinaryData) {PM_AUDIT_HASH, hash};
    s_put_entries (store_a, a, 2, "alice");
    assert (s_verify_anchored (store_a, a, &anchor, &v)->ok && v.anchors_checked == 1);

    //  The same first two entries, then others in their place: a whole,
    //  consistent chain, not the one anchored.
    s_put_entries (store_b, b, 2, "alice");
    s_put_entries (store_b, b, 3, "mallory");
    assert (s_verify (store_b, b, &v)->ok);
    s_verify_anchored (store_b, b, &anchor, &v);
    if (verbose) {
        printf ("pm_audit: rewritten -> seq %llu: %s\n", (unsigned long long) v.first_bad_seq,
                v.problem);
    }
    assert (!v.ok && v.first_bad_seq == 3 && v.problem);
    anchor.seq = 9;
    s_verify_anchored (store_a, a, &anchor, &v);
    assert (!v.ok && v.first_bad_seq == 9 && strstr (v.problem, "removed"));
    anchor.hash.len = 5;
    assert (!s_verify_anchored (store_a, a, &anchor, &v)->ok);
    pm_audit_destroy (&a);
    pm_audit_destroy (&b);
    pm_store_destroy (&store_a);
    pm_store_destroy (&store_b);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s %s", dir_a, dir_b);
    assert (system (cmd) == 0);
}

//  Rewrites the stored value at `seq` through `fn`.
static void
s_tamper (pm_store_t *store, pm_audit_t *log, uint64_t seq, int how)
{
    MDB_txn *txn;
    assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    uint8_t key[8], key2[8];
    pm_be64_put (key, seq);
    pm_be64_put (key2, seq + 1);
    MDB_val val, val2;
    assert (pm_store_get (txn, log->dbi, key, 8, &val) == PM_OK);
    uint8_t copy[1024], copy2[1024];
    size_t len = val.mv_size, len2 = 0;
    memcpy (copy, val.mv_data, len);
    if (how == 0) { //  flip one byte of the subject
        copy[len / 2] ^= 0x01;
        assert (pm_store_put (txn, log->dbi, key, 8, copy, len, 0) == PM_OK);
    }
    else if (how == 1) { //  remove the entry
        assert (pm_store_del (txn, log->dbi, key, 8) == PM_OK);
    }
    else { //  swap with the next one
        assert (pm_store_get (txn, log->dbi, key2, 8, &val2) == PM_OK);
        len2 = val2.mv_size;
        memcpy (copy2, val2.mv_data, len2);
        assert (pm_store_put (txn, log->dbi, key, 8, copy2, len2, 0) == PM_OK);
        assert (pm_store_put (txn, log->dbi, key2, 8, copy, len, 0) == PM_OK);
    }
    assert (pm_store_commit (txn) == PM_OK);
}

void
pm_audit_test (bool verbose)
{
    s_test_anchors (verbose);
    const char *kinds[] = {"flipped byte", "removed", "reordered"};
    for (int how = 0; how < 3; how++) {
        char dir[] = "/tmp/pm_audit_test.XXXXXX";
        assert (mkdtemp (dir));
        pm_store_t *store = pm_store_new (dir, 1 << 20, 1 << 24);
        pm_audit_t *log = pm_audit_new (store);
        assert (log);
        s_put_entries (store, log, 5, "alice");
        s_put_entries (store, log, 5, "alice");
        Pm__AuditVerdict v;
        s_verify (store, log, &v);
        assert (v.ok && v.entries == 10 && v.first_bad_seq == 0);

        //  Reopen: the head is found again and the chain continues.
        pm_audit_destroy (&log);
        log = pm_audit_new (store);
        assert (pm_audit_committed (log).seq == 10);
        s_put_entries (store, log, 2, "alice");
        assert (s_verify (store, log, &v)->ok && v.entries == 12);

        s_tamper (store, log, 6, how);
        s_verify (store, log, &v);
        if (verbose) {
            printf ("pm_audit: %s -> seq %llu: %s\n", kinds[how],
                    (unsigned long long) v.first_bad_seq, v.problem);
        }
        assert (!v.ok && v.first_bad_seq == 6 && v.problem);

        //  Reading entries, and only the break-glass ones.
        MDB_txn *txn;
        uint8_t *body;
        size_t len;
        assert (pm_store_begin (store, NULL, false, &txn) == PM_OK);
        assert (pm_audit_read (log, txn, 1, 3, false, &body, &len) == PM_OK);
        Pm__AuditBatch *batch = pm__audit_batch__unpack (NULL, len, body);
        assert (batch && batch->n_entries == 3 && batch->high_seq == 12);
        pm__audit_batch__free_unpacked (batch, NULL);
        free (body);
        assert (pm_audit_read (log, txn, 1, 100, true, &body, &len) == PM_OK);
        batch = pm__audit_batch__unpack (NULL, len, body);
        assert (batch && batch->n_entries == 0);
        pm__audit_batch__free_unpacked (batch, NULL);
        free (body);
        pm_store_abort (txn);
        pm_audit_destroy (&log);
        pm_store_destroy (&store);
        char cmd[128];
        snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
        assert (system (cmd) == 0);
    }
}
