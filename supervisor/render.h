/* render.h: the request body of a batch: model settings, the system prompt and the user
 * prompt with each chunk introduced by its own line "[chunk <id>]". The body is also what the
 * cache key hashes: it holds everything that determines the answer and nothing else (never the
 * key, which travels in a header). */
#ifndef KGSUP_RENDER_H
#define KGSUP_RENDER_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/store.h"
#include "plan.h"
#include "runstate.h"

struct rendered {
	buf body;
	buf chunk_ids; /* '\n'-separated */
	unsigned char key[HASH_LEN];
	uint32_t est_tokens;
	buf chunks, text; /* scratch, kept between batches so rendering allocates nothing */
};

void rendered_init(struct rendered *r);
void rendered_free(struct rendered *r);

/* Renders batch b (read through t). Returns 0, or -1 if a chunk is missing from the store. */
int render_batch(store_txn *t, const struct config *cfg, const struct prompts *pr,
		 const struct batch_rec *b, struct rendered *out);

#endif
