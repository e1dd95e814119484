/*  pm_evlog.c: the event log in the service's store.                     */
#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pm_evlog.h"
#include "pm_id.h"
#include "pm_log.h"

#define STREAM_ID_KEY "stream_id"

struct _pm_evlog_t {
    char *source;            //  "patients"
    char stream_id[PM_ID_MAX]; //  "str_..."
    MDB_dbi events;          //  be64 seq -> packed pm.Event
    uint64_t high_seq;       //  last committed seq
    uint64_t pending_seq;    //  last appended seq
};

//  --------------------------------------------------------------------------
//  Opens the log, creating the stream on first use.
pm_evlog_t *
pm_evlog_new (pm_store_t *store, const char *source)
{
    MDB_dbi meta;
    pm_evlog_t *self = calloc (1, sizeof *self);
    assert (self);
    self->source = strdup (source);
    if (pm_store_dbi (store, "$events", 0, &self->events) != PM_OK
        || pm_store_dbi (store, "$meta", 0, &meta) != PM_OK) {
        pm_evlog_destroy (&self);
        return NULL;
    }
    MDB_txn *txn;
    pm_err rc = pm_store_begin (store, NULL, true, &txn);
    if (rc != PM_OK) {
        pm_evlog_destroy (&self);
        return NULL;
    }
    MDB_val val;
    rc = pm_store_get (txn, meta, STREAM_ID_KEY, strlen (STREAM_ID_KEY), &val);
    if (rc == PM_OK && val.mv_size < sizeof self->stream_id) {
        memcpy (self->stream_id, val.mv_data, val.mv_size);
    }
    else if (rc == PM_ENOTFOUND) {
        pm_id_new ("str", pm_clock_wall_ms (), self->stream_id);
        rc = pm_store_put (txn, meta, STREAM_ID_KEY, strlen (STREAM_ID_KEY),
                           self->stream_id, strlen (self->stream_id), 0);
    }
    MDB_cursor *cursor;
    if (rc == PM_OK) {
        rc = pm_err_from_mdb (mdb_cursor_open (txn, self->events, &cursor));
    }
    if (rc == PM_OK) {
        MDB_val key, data;
        int mrc = mdb_cursor_get (cursor, &key, &data, MDB_LAST);
        if (mrc == 0 && key.mv_size == 8) {
            self->high_seq = pm_be64_get (key.mv_data);
        }
        mdb_cursor_close (cursor);
    }
    if (rc == PM_OK) {
        rc = pm_store_commit (txn);
    }
    else {
        pm_store_abort (txn);
    }
    if (rc != PM_OK) {
        pm_error ("cannot open event log", "error", pm_strerror (rc), NULL);
        pm_evlog_destroy (&self);
        return NULL;
    }
    self->pending_seq = self->high_seq;
    return self;
}

//  --------------------------------------------------------------------------
//  A new stream id for a restored store.
pm_err
pm_evlog_new_stream (const char *dir, char *out)
{
    pm_store_t *store = pm_store_new (dir, 1 << 20, 1LL << 40);
    if (!store) {
        return PM_EINTERNAL;
    }
    MDB_dbi meta;
    MDB_txn *txn = NULL;
    pm_err rc = pm_store_dbi (store, "$meta", 0, &meta);
    if (rc == PM_OK) {
        rc = pm_store_begin (store, NULL, true, &txn);
    }
    if (rc == PM_OK) {
        pm_id_new ("str", pm_clock_wall_ms (), out);
        rc = pm_store_put (txn, meta, STREAM_ID_KEY, strlen (STREAM_ID_KEY), out,
                           strlen (out), 0);
        rc = rc == PM_OK ? pm_store_commit (txn) : (pm_store_abort (txn), rc);
    }
    pm_store_destroy (&store);
    return rc;
}

void
pm_evlog_destroy (pm_evlog_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->source);
        free (*self_p);
        *self_p = NULL;
    }
}

const char *
pm_evlog_stream_id (pm_evlog_t *self)
{
    return self->stream_id;
}

uint64_t
pm_evlog_high_seq (pm_evlog_t *self)
{
    return self->high_seq;
}

uint64_t
pm_evlog_pending_seq (pm_evlog_t *self)
{
    return self->pending_seq;
}

//  --------------------------------------------------------------------------
//  Appends an event. MDB_APPEND both checks that seqs only grow and makes
//  the insert cheap (no search, pages filled to the brim).
pm_err
pm_evlog_append (pm_evlog_t *self, MDB_txn *txn, Pm__Event *event,
                 uint8_t **packed_out, size_t *len_out)
{
    uint64_t seq = self->pending_seq + 1;
    char id[PM_ID_MAX + 24];
    snprintf (id, sizeof id, "%s.%llu", self->stream_id,
              (unsigned long long) seq);
    event->id = id;
    event->source = self->source;
    event->stream_id = self->stream_id;
    event->has_seq = 1;
    event->seq = seq;
    size_t len = protobuf_c_message_get_packed_size (&event->base);
    uint8_t *packed = malloc (len);
    assert (packed);
    protobuf_c_message_pack (&event->base, packed);
    uint8_t key[8];
    pm_be64_put (key, seq);
    pm_err rc = pm_store_put (txn, self->events, key, 8, packed, len,
                              MDB_APPEND);
    event->id = NULL; //  points at our stack
    if (rc != PM_OK) {
        free (packed);
        return rc;
    }
    self->pending_seq = seq;
    *packed_out = packed;
    *len_out = len;
    return PM_OK;
}

void
pm_evlog_rewind (pm_evlog_t *self, uint64_t seq)
{
    assert (seq >= self->high_seq && seq <= self->pending_seq);
    self->pending_seq = seq;
}

void
pm_evlog_commit (pm_evlog_t *self)
{
    self->high_seq = self->pending_seq;
}

//  Appends a protobuf varint.
static size_t
s_varint (uint8_t *p, uint64_t v)
{
    size_t n = 0;
    while (v >= 0x80) {
        p[n++] = (uint8_t) (v | 0x80);
        v >>= 7;
    }
    p[n++] = (uint8_t) v;
    return n;
}

//  --------------------------------------------------------------------------
//  Reads a range as a packed EventBatch. The stored events are already
//  packed pm.Event messages, and a repeated message field on the wire is
//  just tag + length + bytes, so the batch is assembled without unpacking
//  a single event.
pm_err
pm_evlog_read (pm_evlog_t *self, MDB_txn *txn, uint64_t from_seq, uint32_t max,
               size_t max_bytes, uint8_t **body_out, size_t *len_out)
{
    size_t cap = 256, len = 0;
    uint8_t *buf = malloc (cap);
    assert (buf);
    //  field 1: stream_id (string); field 2: high_seq (varint)
    size_t sid_len = strlen (self->stream_id);
    buf[len++] = (1 << 3) | 2;
    len += s_varint (buf + len, sid_len);
    memcpy (buf + len, self->stream_id, sid_len);
    len += sid_len;
    buf[len++] = (2 << 3) | 0;
    len += s_varint (buf + len, self->high_seq);

    MDB_cursor *cursor;
    pm_err rc = pm_err_from_mdb (mdb_cursor_open (txn, self->events, &cursor));
    if (rc != PM_OK) {
        free (buf);
        return rc;
    }
    uint8_t key_bytes[8];
    pm_be64_put (key_bytes, from_seq < 1 ? 1 : from_seq);
    MDB_val key = {8, key_bytes}, data;
    int mrc = mdb_cursor_get (cursor, &key, &data, MDB_SET_RANGE);
    for (uint32_t n = 0; mrc == 0 && n < max; n++) {
        //  Only what the last commit made durable: a read must never show
        //  an event that could still roll back.
        if (pm_be64_get (key.mv_data) > self->high_seq
            || (n > 0 && len + data.mv_size > max_bytes)) {
            break;
        }
        if (len + data.mv_size + 16 > cap) {
            cap = (len + data.mv_size + 16) * 2;
            buf = realloc (buf, cap);
            assert (buf);
        }
        buf[len++] = (3 << 3) | 2;
        len += s_varint (buf + len, data.mv_size);
        memcpy (buf + len, data.mv_data, data.mv_size);
        len += data.mv_size;
        mrc = mdb_cursor_get (cursor, &key, &data, MDB_NEXT);
    }
    mdb_cursor_close (cursor);
    if (mrc != 0 && mrc != MDB_NOTFOUND) {
        free (buf);
        return pm_err_from_mdb (mrc);
    }
    *body_out = buf;
    *len_out = len;
    return PM_OK;
}

//  --------------------------------------------------------------------------
//  Rewrites committed events' data in place (see the header).
pm_err
pm_evlog_rewrite (pm_evlog_t *self, MDB_txn *txn, uint64_t from_seq, uint32_t max,
                  pm_event_rewrite_fn *fn, void *arg, uint64_t *next_out,
                  uint32_t *rewritten_out)
{
    uint64_t seq = from_seq < 1 ? 1 : from_seq;
    uint32_t seen = 0, rewritten = 0;
    pm_err rc = PM_OK;
    while (rc == PM_OK && seen < max && seq <= self->high_seq) {
        uint8_t key[8];
        pm_be64_put (key, seq);
        MDB_val stored;
        rc = pm_store_get (txn, self->events, key, 8, &stored);
        if (rc != PM_OK) {
            break; //  gap-free up to high_seq: a missing event is damage
        }
        Pm__Event *event = pm__event__unpack (NULL, stored.mv_size, stored.mv_data);
        if (!event) {
            rc = PM_EINTERNAL;
            break;
        }
        uint8_t *data = NULL;
        size_t len = 0;
        rc = fn (event, arg, &data, &len);
        if (rc == PM_OK && data) {
            ProtobufCBinaryData was = event->data;
            event->data = (ProtobufCBinaryData) {len, data};
            event->has_data = 1;
            MDB_val val = {pm__event__get_packed_size (event), NULL};
            int mrc = mdb_put (txn, self->events, &(MDB_val) {8, key}, &val, MDB_RESERVE);
            if (mrc == 0) {
                pm__event__pack (event, val.mv_data);
                rewritten++;
            }
            rc = pm_err_from_mdb (mrc);
            event->data = was; //  free_unpacked frees what unpack made
        }
        free (data);
        pm__event__free_unpacked (event, NULL);
        seen++;
        seq++;
    }
    *next_out = seq;
    if (rewritten_out) {
        *rewritten_out = rewritten;
    }
    return rc;
}

//  For the self test: replaces the data of events about subject `arg`.
static pm_err
s_test_redact (const Pm__Event *event, void *arg, uint8_t **data_out, size_t *len_out)
{
    if (event->subject && strcmp (event->subject, arg) == 0) {
        *data_out = (uint8_t *) strdup ("gone");
        *len_out = 4;
    }
    return PM_OK;
}

//  --------------------------------------------------------------------------
void
pm_evlog_test (bool verbose)
{
    char dir[] = "/tmp/pm_evlog_test.XXXXXX";
    assert (mkdtemp (dir));
    pm_store_t *store = pm_store_new (dir, 1 << 20, 1 << 24);
    assert (store);
    pm_evlog_t *log = pm_evlog_new (store, "test");
    assert (log);
    assert (pm_evlog_high_seq (log) == 0);
    char stream[PM_ID_MAX];
    snprintf (stream, sizeof stream, "%s", pm_evlog_stream_id (log));
    assert (pm_id_valid (stream, "str"));

    //  Three appends, the middle one in a nested txn that aborts: seqs stay
    //  gap-free because the abort rewinds.
    MDB_txn *txn, *child;
    assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    uint8_t *packed;
    size_t len;
    Pm__Event ev = PM__EVENT__INIT;
    ev.type = "test.thing.made";
    assert (pm_evlog_append (log, txn, &ev, &packed, &len) == PM_OK);
    free (packed);
    assert (pm_store_begin (store, txn, true, &child) == PM_OK);
    uint64_t mark = pm_evlog_pending_seq (log);
    assert (pm_evlog_append (log, child, &ev, &packed, &len) == PM_OK);
    free (packed);
    pm_store_abort (child);
    pm_evlog_rewind (log, mark);
    ev.subject = "x1";
    assert (pm_evlog_append (log, txn, &ev, &packed, &len) == PM_OK);
    Pm__Event *back = pm__event__unpack (NULL, len, packed);
    assert (back && back->seq == 2 && strcmp (back->stream_id, stream) == 0);
    pm__event__free_unpacked (back, NULL);
    free (packed);
    //  Uncommitted events are not readable yet.
    uint8_t *body;
    assert (pm_evlog_read (log, txn, 1, 100, 1 << 20, &body, &len) == PM_OK);
    Pm__EventBatch *batch = pm__event_batch__unpack (NULL, len, body);
    assert (batch && batch->n_events == 0 && batch->high_seq == 0);
    pm__event_batch__free_unpacked (batch, NULL);
    free (body);
    assert (pm_store_commit (txn) == PM_OK);
    pm_evlog_commit (log);
    assert (pm_evlog_high_seq (log) == 2);

    //  Reopen: same stream, same high seq; reads come back in order.
    pm_evlog_destroy (&log);
    log = pm_evlog_new (store, "test");
    assert (strcmp (pm_evlog_stream_id (log), stream) == 0);
    assert (pm_evlog_high_seq (log) == 2);
    assert (pm_store_begin (store, NULL, false, &txn) == PM_OK);
    assert (pm_evlog_read (log, txn, 2, 100, 1 << 20, &body, &len) == PM_OK);
    batch = pm__event_batch__unpack (NULL, len, body);
    assert (batch && batch->n_events == 1 && batch->events[0]->seq == 2);
    assert (batch->high_seq == 2 && strcmp (batch->stream_id, stream) == 0);
    assert (strcmp (batch->events[0]->type, "test.thing.made") == 0);
    pm__event_batch__free_unpacked (batch, NULL);
    free (body);
    pm_store_abort (txn);

    //  Rewrite: only the chosen subject's data changes; seq, type and the
    //  stream stay; a bounded pass says where to go on from.
    assert (pm_store_begin (store, NULL, true, &txn) == PM_OK);
    uint64_t next;
    uint32_t rewritten;
    assert (pm_evlog_rewrite (log, txn, 1, 1, s_test_redact, "x1", &next, &rewritten)
            == PM_OK);
    assert (next == 2);
    assert (pm_evlog_rewrite (log, txn, next, 100, s_test_redact, "x1", &next, &rewritten)
            == PM_OK);
    assert (next == 3 && rewritten == 1);
    assert (pm_store_commit (txn) == PM_OK);
    assert (pm_store_begin (store, NULL, false, &txn) == PM_OK);
    assert (pm_evlog_read (log, txn, 1, 100, 1 << 20, &body, &len) == PM_OK);
    batch = pm__event_batch__unpack (NULL, len, body);
    assert (batch && batch->n_events == 2 && batch->events[1]->seq == 2);
    assert (strcmp (batch->events[1]->type, "test.thing.made") == 0);
    assert (batch->events[1]->data.len == 4
            && memcmp (batch->events[1]->data.data, "gone", 4) == 0);
    assert (batch->events[0]->data.len != 4);
    pm__event_batch__free_unpacked (batch, NULL);
    free (body);
    pm_store_abort (txn);
    if (verbose) {
        printf ("pm_evlog: stream %s\n", stream);
    }
    pm_evlog_destroy (&log);
    pm_store_destroy (&store);
    char cmd[128];
    snprintf (cmd, sizeof cmd, "rm -rf %s", dir);
    assert (system (cmd) == 0);
}
