/* store.h: the one wrapper around LMDB. A store is an environment directory with a fixed set
 * of named databases; the map grows by itself when full, and readers adopt a map grown by
 * another process. Write transactions are meant to be short and grouped: see store_write. */
#ifndef KGSUP_STORE_H
#define KGSUP_STORE_H

#include <stddef.h>
#include <stdint.h>

enum store_db {
	DB_META,    /* run settings, plan summary, counters */
	DB_SOURCES, /* u32be source number -> path */
	DB_CHUNKS,  /* u32be chunk number -> chunk record + text */
	DB_BATCHES, /* u32be batch number -> batch record */
	DB_RESULTS, /* u32be batch number -> validated answer JSON */
	DB_CACHE,   /* request hash -> cache record + answer JSON */
	DB_INVALID, /* request hash + time: answers that failed validation, for inspection */
	DB_TEXTS,   /* SHA-256 of a document's text -> u32be number of the source planned with it */
	DB_DOCS,    /* u32be source number -> its text, as documents stages read it (0.3.0) */
	DB_BATCHX,  /* u32be batch number -> what stages add to a batch record (0.3.0) */
	DB_ROWS,    /* u32be row number -> a table's row: id, line, kept cells (0.4.0) */
	DB_ROWANS,  /* u32be stage + u32be chunk -> that text's answer item (0.4.0) */
	DB_ROWCACHE, /* per-row cache key -> cache record + answer item (0.4.0) */
	DB_ROWASK,  /* u32be stage + u32be k -> u32be chunk: the texts a rows stage asks (0.4.0) */
	DB_VECTORS, /* vector key (vec.h) -> dims float32le: embedding vectors (0.5.0) */
	DB_VECASK,  /* u32be stage + u32be k -> an input an embedding stage asks: 'c' + u32be
		     * chunk, or 'e' + the entity's text (0.5.0); since 0.6.0 'C' and 'E', the
		     * input's vector key (32 bytes) before the same (supervisor/vecs.c) */
	DB_PARTS,   /* u32be part number -> a Batch API part's record (pbatch.h) (0.6.0) */
	DB_PARTBATCH, /* u32be part + u32be line -> u32be batch number: a part's lines (0.6.0) */
	DB_COUNT
};

enum { STORE_OK = 0, STORE_NOTFOUND = 1, STORE_FULL = 2, STORE_ERROR = -1 };

typedef struct store store;
typedef struct store_txn store_txn;
typedef struct store_iter store_iter;

/* Opens (creating when writable) the environment in dir. */
store *store_open(const char *dir, int readonly, char *err, size_t errlen);
void store_close(store *s);
/* Last error as text (for messages). */
const char *store_strerror(const store *s);

store_txn *store_begin(store *s, int write);
/* 0, STORE_FULL (map full: the caller should abort, grow and retry) or STORE_ERROR. */
int store_commit(store_txn *t);
void store_abort(store_txn *t);

int store_put(store_txn *t, enum store_db db, const void *key, size_t klen, const void *val,
	      size_t vlen);
/* 0 and *val, *vlen set (valid until the transaction ends), STORE_NOTFOUND, or STORE_ERROR. */
int store_get(store_txn *t, enum store_db db, const void *key, size_t klen, const void **val,
	      size_t *vlen);
/* Empties a database. */
int store_clear(store_txn *t, enum store_db db);
/* Number of records in a database. */
size_t store_count(store_txn *t, enum store_db db);

/* Iterates keys >= start (all keys when start is NULL) in key order: store_iter_next returns
 * 1 with the next record, 0 at the end. */
store_iter *store_iter_open(store_txn *t, enum store_db db, const void *start, size_t slen);
int store_iter_next(store_iter *it, const void **key, size_t *klen, const void **val, size_t *vlen);
void store_iter_close(store_iter *it);

/* Runs fn inside one write transaction and commits it only when fn returned 0: a failure
 * anywhere in fn (in this store or elsewhere) throws the whole transaction away. When this
 * store's map is full the transaction is thrown away, the map doubled and fn run again, so fn
 * must only depend on its arguments. Returns fn's non-zero value (transaction aborted),
 * STORE_ERROR, or 0. */
int store_write(store *s, int (*fn)(store_txn *t, void *arg), void *arg);

/* Grows the map ahead of need, so that a write of up to need bytes cannot find it full
 * (call between transactions). */
int store_ensure_room(store *s, size_t need);
/* Clears reader slots left by processes that died (after reaping a killed child). */
void store_reader_check(store *s);
/* Non-zero when dir holds a store. */
int store_exists(const char *dir);
/* Removes the store in dir and dir itself (a store nothing has open); 0 or -1 (errno). */
int store_remove(const char *dir);

#endif
