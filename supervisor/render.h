/* render.h: the request body of a batch: model settings, the system prompt and the user
 * prompt, the stage's templates with their placeholders filled (job.h): the chunks each
 * introduced by its own line "[chunk <id>]", the document, the context of the stages it
 * needs. The body is also what the cache key hashes: it holds everything that determines the
 * answer and nothing else (never the key, which travels in a header). */
#ifndef KGSUP_RENDER_H
#define KGSUP_RENDER_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/job.h"
#include "../common/store.h"
#include "context.h"
#include "deps.h"
#include "plan.h"
#include "runstate.h"

struct rendered {
	buf body;
	buf chunk_ids; /* '\n'-separated */
	unsigned char key[HASH_LEN];
	uint32_t est_tokens;
	uint32_t stage;
	struct context_size ctx; /* of its {{context}}, if it has one */
	buf chunks, text, doc, context; /* scratch, kept so rendering allocates little */
};

void rendered_init(struct rendered *r);
void rendered_free(struct rendered *r);

/* What rendering reads besides the store: deps (for {{context}}) may be NULL. */
struct render_src {
	const struct config *cfg;
	const struct job *job;
	const struct deps *deps;
};

/* Renders batch n, b (read through t). Returns 0, or -1 if what it needs is missing from
 * the store. */
int render_batch(store_txn *t, const struct render_src *src, uint32_t n,
		 const struct batch_rec *b, struct rendered *out);

#endif
