/*  pm_audit.h: the append-only, hash-chained audit log of a service that
    holds personal data (HIPAA 164.312(b) audit controls, (c) integrity).

    Entries live in the service's own store ("$audit", key: big-endian
    seq) and are written in the same transaction as what they record, so
    an access that is not on the record did not happen. Each entry's hash
    covers the previous entry's hash: pm_audit_verify finds a changed,
    removed or reordered entry, or a flipped byte. Position bookkeeping
    follows the write path, as pm_evlog's does (mark, rewind, commit).   */
#ifndef PM_AUDIT_H
#define PM_AUDIT_H

#include <stdbool.h>
#include <stdint.h>

#include "pm.pb-c.h"
#include "pm_store.h"

#define PM_AUDIT_HASH 32

typedef struct _pm_audit_t pm_audit_t;

//  Where the chain stands: the last seq and its hash.
typedef struct {
    uint64_t seq;
    uint8_t hash[PM_AUDIT_HASH];
} pm_audit_mark_t;

//  Opens the log in `store`. NULL on failure (logged).
pm_audit_t *pm_audit_new (pm_store_t *store);

void pm_audit_destroy (pm_audit_t **self_p);

//  Appends `entry` in `txn`: sets seq, prev_hash and hash.
pm_err pm_audit_append (pm_audit_t *self, MDB_txn *txn, Pm__AuditEntry *entry);

//  The pending position (for a later rewind), and the committed one.
pm_audit_mark_t pm_audit_pending (pm_audit_t *self);
pm_audit_mark_t pm_audit_committed (pm_audit_t *self);

//  Forgets appends after `mark` (their transaction aborted).
void pm_audit_rewind (pm_audit_t *self, pm_audit_mark_t mark);

//  The pending position is durable now.
void pm_audit_commit (pm_audit_t *self);

//  Entries from `from_seq`, at most `max` (only break-glass ones if
//  asked), as a packed pm.AuditBatch in *body_out (malloc'd).
pm_err pm_audit_read (pm_audit_t *self, MDB_txn *txn, uint64_t from_seq,
                      uint32_t max, bool break_glass_only, uint8_t **body_out,
                      size_t *len_out);

//  Walks the whole chain in `txn`, then checks it against `anchors` (hashes
//  kept outside the store; may be NULL); fills `verdict` (problem is a
//  static string or NULL).
pm_err pm_audit_verify (pm_audit_t *self, MDB_txn *txn, Pm__AuditAnchor **anchors,
                        size_t n_anchors, Pm__AuditVerdict *verdict);

//  Self test: asserts on failure.
void pm_audit_test (bool verbose);

#endif
