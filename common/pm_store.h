/*  pm_store.h: one service's LMDB environment.

    Owns the env, its named sub-databases and the map size. Values are
    protobuf-c messages or small fixed records; keys are fixed-width and
    big-endian so that range scans come out ordered. Every LMDB code is
    mapped to pm_err here. A value read from LMDB is valid only until its
    transaction ends: the *_msg getters unpack into owned memory.

    One writer: the service loop thread. Growth (pm_store_grow) must be
    called with no transaction open in this process.                      */
#ifndef PM_STORE_H
#define PM_STORE_H

#include <lmdb.h>
#include <protobuf-c/protobuf-c.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm_err.h"

typedef struct _pm_store_t pm_store_t;

//  Opens (creating if needed) the store in directory `dir` with an initial
//  map of `map_size` bytes, growing up to `map_max`. NULL on failure (the
//  reason is logged).
pm_store_t *pm_store_new (const char *dir, size_t map_size, size_t map_max);

//  Closes the store. Safe twice; NULLs the pointer.
void pm_store_destroy (pm_store_t **self_p);

//  The raw env, for mdb_* calls not wrapped here (cursors).
MDB_env *pm_store_env (pm_store_t *self);

//  Opens (creating) the named sub-database. Call at start, before serving.
pm_err pm_store_dbi (pm_store_t *self, const char *name, unsigned flags,
                     MDB_dbi *dbi_out);

//  Begins a write (write=true) or read transaction, nested in `parent` if
//  given (write only).
pm_err pm_store_begin (pm_store_t *self, MDB_txn *parent, bool write,
                       MDB_txn **txn_out);

//  Commits; the txn is gone whatever the result.
pm_err pm_store_commit (MDB_txn *txn);

//  Aborts; NULL is fine.
void pm_store_abort (MDB_txn *txn);

//  Doubles the map (up to map_max). PM_EFULL when it is at the maximum, or
//  when the last commit failed because the disk is full (growing the map
//  would not help).
pm_err pm_store_grow (pm_store_t *self);

//  A one-time migration of an older store (an index added later, say):
//  returns how many records it changed in *changed, or a pm_err.
typedef pm_err (pm_migrate_fn) (MDB_txn *txn, void *arg, long *changed);

//  Runs `fn` once in the store's life, at start-up: in one write
//  transaction that also writes its marker ('M' name NUL in `marks`), so
//  it runs again only if it did not commit. A full map is grown and the
//  whole migration run again. Logs what it did; 0, or -1 (logged).
int pm_store_migrate (pm_store_t *self, MDB_dbi marks, const char *name, pm_migrate_fn *fn,
                      void *arg);

//  Clears stale reader slots left by crashed processes; returns how many.
int pm_store_reader_check (pm_store_t *self);

//  Map size and bytes in use.
void pm_store_usage (pm_store_t *self, uint64_t *size, uint64_t *used);

//  Raw get: on PM_OK, val points into the map until the txn ends.
pm_err pm_store_get (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                     MDB_val *val);

//  Raw put with mdb_put flags (MDB_NOOVERWRITE, MDB_APPEND, ...).
pm_err pm_store_put (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen,
                     const void *val, size_t vlen, unsigned flags);

//  Deletes the key; PM_ENOTFOUND when absent.
pm_err pm_store_del (MDB_txn *txn, MDB_dbi dbi, const void *key, size_t klen);

//  Reads and unpacks a message of type `desc`. On PM_OK *msg_out is the
//  caller's (protobuf_c_message_free_unpacked). A stored value that does
//  not decode is PM_EINTERNAL (and logged): the store is damaged.
pm_err pm_store_get_msg (MDB_txn *txn, MDB_dbi dbi, const void *key,
                         size_t klen, const ProtobufCMessageDescriptor *desc,
                         ProtobufCMessage **msg_out);

//  Calls `fn` with every value of `dbi` in key order, unpacked as `desc`
//  (freed after the call): for one-time migrations that walk every
//  record. `fn` may write to other sub-databases; it returns PM_OK to go
//  on or an error that ends the walk and is returned. A value that does
//  not decode is PM_EINTERNAL (logged).
typedef pm_err (pm_msg_fn) (const ProtobufCMessage *msg, void *arg);
pm_err pm_store_each_msg (MDB_txn *txn, MDB_dbi dbi, const ProtobufCMessageDescriptor *desc,
                          pm_msg_fn *fn, void *arg);

//  Packs and stores `msg`.
pm_err pm_store_put_msg (MDB_txn *txn, MDB_dbi dbi, const void *key,
                         size_t klen, const ProtobufCMessage *msg,
                         unsigned flags);

//  Self test: asserts on failure.
void pm_store_test (bool verbose);

#endif
