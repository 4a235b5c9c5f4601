/* cache.h: the request cache. An answer is kept under its request's key (the SHA-256 of the
 * exact request body, never the API key) and served to any later request with the same body,
 * in this run or any run sharing cache.path. Each chunk also points at the answer that holds
 * it, so a batch grouping already answered chunks differently is put together from their
 * parts instead of bought again. Answers that failed validation are kept apart, never served.
 * Reads and writes go to the shared store's own transaction when cache.path names one: it
 * commits after the run's store, so a crash between the two loses a cache entry for other
 * runs, never a result of this one. */
#ifndef KGSUP_CACHE_H
#define KGSUP_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/proto.h"
#include "../common/store.h"
#include "plan.h"
#include "runstate.h"

struct cache {
	store *db;     /* the run's own store */
	store *shared; /* == db unless cache.path names a store shared between runs */
	store_txn *txn; /* the shared store's transaction in the round being built, or NULL */
	int shared_failed; /* a write to it failed in this round */
	long ttl_days;
	unsigned char chunk_settings[HASH_LEN];
	int chunk_reuse; /* chunks point at answers (the one KG stage of a run without stages) */
	buf rec, part, rels; /* records being put together, reused */
};

/* The cache key of a request body. */
void cache_request_key(const char *body, size_t len, unsigned char out[HASH_LEN]);

/* chunk_reuse: answers are also found chunk by chunk (a run without stages; with stages a
 * request is answered whole or not at all). */
void cache_init(struct cache *c, store *db, store *shared, const struct config *cfg,
		const struct prompts *pr, int chunk_reuse);
void cache_free(struct cache *c);
/* cache.path must be on a file system whose locks and shared memory maps LMDB can trust
 * (shards on several machines share it only through such a one): a network file system
 * (NFS, SMB/CIFS, and the like) is refused. 0, or -1 with err naming the path and the file
 * system. */
int cache_path_check(const char *path, char *err, size_t errlen);

/* A round begins: room for need bytes, and the shared store's transaction (use_shared 0 keeps
 * this round's records in the run's own store). 0, or -1 when the run's store has no room. */
int cache_round_begin(struct cache *c, size_t need, int use_shared);
/* The round committed (ok) or was thrown away: the same for the shared store's part. */
void cache_round_end(struct cache *c, int ok);

enum cache_found { CACHE_MISS = 0, CACHE_HIT = 1, CACHE_PARTIAL = 2 };
struct cache_answer {
	const char *data; /* valid until the transaction ends or the next cache call */
	size_t len;
	uint64_t prompt_tokens, completion_tokens; /* what it cost when it was bought */
	uint32_t known;   /* CACHE_PARTIAL: chunks answered already, of the batch's */
};
/* Looks batch b (its key set) up: its whole request, else its chunks one by one. */
int cache_find(struct cache *c, store_txn *t, const struct batch_rec *b, struct cache_answer *a);
/* Keeps the answer m brought under its request's key. 0 or STORE_FULL. */
int cache_store_answer(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		       const struct msg_result *m);
/* Keeps the answer m brought for batch b, and points b's chunks at it. 0 or STORE_FULL. */
int cache_store(struct cache *c, store_txn *t, const struct batch_rec *b,
		const struct msg_result *m);
/* The planner's look at the per-row cache, outside any round: a read transaction of the
 * shared store when cache.path names one. */
void cache_plan_begin(struct cache *c);
void cache_plan_end(struct cache *c);
/* The per-row cache (rows.h): an answer item under a row's key, within cache.ttl_days. 0 with
 * *data and *len set (valid until the transaction ends), or STORE_NOTFOUND. */
int cache_row_find(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		   const char **data, size_t *len);
/* Keeps an answer item under a row's key. 0 or STORE_FULL. */
int cache_row_put(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		  const char *data, size_t len);
/* Embedding vectors in the shared store (cache.path), where other runs find them: with no
 * shared store apart from the run's, find finds nothing and put keeps nothing (the run's own
 * vectors are vecstore.h's). 0 with *f32le and *dims set (valid until the transaction ends),
 * STORE_NOTFOUND; put: 0 or STORE_FULL. */
int cache_vec_find(struct cache *c, const unsigned char key[HASH_LEN], const void **f32le,
		   size_t *dims);
int cache_vec_put(struct cache *c, const unsigned char key[HASH_LEN], const void *f32le,
		  size_t dims);
/* Keeps an answer that failed validation under its request's key and the time. 0 or STORE_FULL. */
int cache_put_invalid(struct cache *c, store_txn *t, const unsigned char key[HASH_LEN],
		      const struct msg_invalid *m);

#endif
