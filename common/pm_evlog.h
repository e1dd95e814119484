/*  pm_evlog.h: a service's durable event stream.

    The log is the "$events" sub-database of the service's own store, keyed
    by big-endian seq, so an event is written in the same transaction as
    the change it describes (transactional outbox). The stream has a random
    stream_id, made with the store and kept in "$meta"; seq is gap-free
    from 1. A new stream_id tells consumers the store was replaced.

    Seq bookkeeping follows the write path: appends advance a pending seq;
    the caller rewinds it when a (nested) transaction aborts and confirms
    it when the batch commits.                                            */
#ifndef PM_EVLOG_H
#define PM_EVLOG_H

#include <stdbool.h>
#include <stdint.h>

#include "pm.pb-c.h"
#include "pm_store.h"

typedef struct _pm_evlog_t pm_evlog_t;

//  Opens the log of `source` in `store`, creating the stream on first use.
//  NULL on failure (logged).
pm_evlog_t *pm_evlog_new (pm_store_t *store, const char *source);

void pm_evlog_destroy (pm_evlog_t **self_p);

const char *pm_evlog_stream_id (pm_evlog_t *self);

//  The last committed seq (0 for an empty stream).
uint64_t pm_evlog_high_seq (pm_evlog_t *self);

//  The last seq appended, committed or not.
uint64_t pm_evlog_pending_seq (pm_evlog_t *self);

//  Appends `event` in `txn`: sets its id, source, stream_id and seq, then
//  stores it. On PM_OK *packed_out / *len_out hold a malloc'd copy of the
//  stored bytes, for publishing after commit (caller frees).
pm_err pm_evlog_append (pm_evlog_t *self, MDB_txn *txn, Pm__Event *event,
                        uint8_t **packed_out, size_t *len_out);

//  Forgets appends after `seq` (their transaction aborted).
void pm_evlog_rewind (pm_evlog_t *self, uint64_t seq);

//  The pending seq is durable now.
void pm_evlog_commit (pm_evlog_t *self);

//  Reads events from `from_seq` on, at most `max` of them and about
//  `max_bytes`, as a packed pm.EventBatch in *body_out (malloc'd).
pm_err pm_evlog_read (pm_evlog_t *self, MDB_txn *txn, uint64_t from_seq,
                      uint32_t max, size_t max_bytes, uint8_t **body_out,
                      size_t *len_out);

//  Decides one stored event's fate in pm_evlog_rewrite: PM_OK with
//  *data_out NULL keeps it; PM_OK with *data_out set (malloc'd, taken over)
//  replaces its data; anything else stops the rewrite with that error.
typedef pm_err (pm_event_rewrite_fn) (const Pm__Event *event, void *arg,
                                      uint8_t **data_out, size_t *len_out);

//  Rewrites the data of committed events in place, for erasure: seq, id,
//  type, subject and time stay, so the stream stays gap-free and every
//  consumer's cursor stays valid; whoever reads the range again gets the
//  new data. `fn` sees the events from `from_seq` on, at most `max` of
//  them. On PM_OK *next_out is the seq after the last one seen (high seq
//  + 1 at the end of the stream); *rewritten_out (may be NULL) counts
//  replacements. On an error the caller's transaction must roll back.
pm_err pm_evlog_rewrite (pm_evlog_t *self, MDB_txn *txn, uint64_t from_seq,
                         uint32_t max, pm_event_rewrite_fn *fn, void *arg,
                         uint64_t *next_out, uint32_t *rewritten_out);

//  Gives the (closed) store in `dir` a new stream id, after a restore from
//  a backup: its events may be re-issued with other content, so consumers
//  must see a new stream and rebuild. Writes the new id to out.
pm_err pm_evlog_new_stream (const char *dir, char *out);

//  Self test: asserts on failure.
void pm_evlog_test (bool verbose);

#endif
