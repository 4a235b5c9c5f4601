/* vecstore.h: a run's embedding vectors (DB_VECTORS), as the embedding stages keep them and
 * export, search and entity resolution read them. A vector is found by its key (vec.h): the
 * stage's model and dimensions and the exact text it embedded, which for a chunk is its text
 * cut to the stage's max_input_tokens, and for an entity the text vecstore_entity_text makes. */
#ifndef KGSUP_VECSTORE_H
#define KGSUP_VECSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/job.h"
#include "../common/store.h"
#include "../common/vec.h"
#include "graph.h"

/* The vector under key: 0 with *dims set and, when out is not NULL and cap >= *dims, the values
 * copied to out (aligned); STORE_NOTFOUND or STORE_ERROR. */
int vecstore_get(store_txn *t, const unsigned char key[HASH_LEN], float *out, size_t cap,
		 size_t *dims);
/* Keeps dims float32le bytes under key. 0 or a STORE_ code. */
int vecstore_put(store_txn *t, const unsigned char key[HASH_LEN], const void *f32le, size_t dims);
/* Non-zero when a vector is kept under key. */
int vecstore_has(store_txn *t, const unsigned char key[HASH_LEN]);

/* The text an embedding stage over entities sends for e: its name, its type and its
 * descriptions ("Ada Lovelace (person): mathematician; wrote the first program"). */
void vecstore_entity_text(const struct gentity *e, buf *out);
/* The key of stage st's vector of chunk n (its text, cut as the stage sends it). 0, or -1 when
 * the chunk is missing. */
int vecstore_chunk_key(store_txn *t, const struct stage *st, uint32_t n,
		       unsigned char key[HASH_LEN]);
/* The key of stage st's vector of entity e. */
void vecstore_entity_key(const struct stage *st, const struct gentity *e, buf *scratch,
			 unsigned char key[HASH_LEN]);

#endif
