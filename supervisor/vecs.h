/* vecs.h: the one owner of an embedding stage's inputs and of how its answers are kept. An
 * input (a chunk's text, cut to the stage's max_input_tokens, or an entity's text) is answered
 * once a vector is kept under its key (vec.h) in the run's store; the shared cache (cache.path)
 * answers it too, copied in. Planning puts each distinct input not answered yet in one ask
 * list, of the first stage that has it (stages of one model and dimensions share it); a batch of the stage stands for a range of that list, and asks only the
 * inputs of its range still unanswered when it is taken, so an input is bought once even when
 * another stage, run or batch embedded the same text meanwhile.
 *
 * A stage over entities is planned as one seed batch, which waits until the graph stages are
 * all settled (deps.c); taken, it builds the graph, lists the entities' texts in the ask list
 * and is replaced by the batches that ask them (ledger_expand). */
#ifndef KGSUP_VECS_H
#define KGSUP_VECS_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/job.h"
#include "../common/strmap.h"
#include "cache.h"
#include "runstate.h"

struct vecs {
	const struct job *job;
	const struct config *cfg;
	struct strmap seen; /* planning: keys of the inputs listed so far, by any stage */
	buf text, scratch;
	uint32_t *sizes; /* vecs_expand's batches */
	size_t capsizes;
	uint64_t cut[JOB_MAX_STAGES]; /* planning: inputs cut at max_input_tokens */
};

void vecs_init(struct vecs *v, const struct job *job, const struct config *cfg);
void vecs_free(struct vecs *v);
/* Non-zero when stage is an embedding stage. */
int vecs_stage(const struct job *job, uint32_t stage);

/* Planning: whether chunk is an input stage must ask (0, with its tokens in *tokens: then it is
 * the k-th of its ask list, written now) or not (1: answered already, or listed before).
 * STORE_FULL. */
int vecs_plan_chunk(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage, uint32_t chunk,
		    uint32_t k, uint32_t *tokens);
/* The chunk that input k of stage's ask list is (its batches' first_chunk and nchunks are a
 * range of that list, not of chunks): 0, or -1 when it is no chunk (an entity, or missing). */
int vecs_ask_chunk(store_txn *t, uint32_t stage, uint32_t k, uint32_t *chunk);
/* Batch b of an embedding stage is taken: *left is how many of its inputs are still to ask
 * (those the shared cache answers are copied in). 0 or STORE_FULL. */
int vecs_prepare(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage,
		 const struct batch_rec *b, uint32_t *left);
/* The request body of batch b of embedding stage `stage` (its inputs still to ask) and its
 * token estimate (render.c). 0, or -1 when it has none (a seed) or one is missing from the
 * store. */
int vecs_render(store_txn *t, const struct job *job, const struct config *cfg, uint32_t stage,
		const struct batch_rec *b, buf *body, uint32_t *est_tokens);
/* A worker's answer (vec.h's payload): each vector kept under its key, here and in the shared
 * cache. *missing: inputs of b still without a vector after it; *dims: its vectors' length.
 * 0, -1 (not a payload), VECS_OTHER_DIMS (nothing kept: *dims is not the length of the stage's
 * first vector, for a stage without "dimensions") or STORE_FULL. */
#define VECS_OTHER_DIMS 3
int vecs_answer(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage,
		const struct batch_rec *b, const char *payload, size_t len, uint32_t *missing,
		uint32_t *dims);
/* The seed of a stage over entities: the graph's entities still without a vector, and not
 * listed by an earlier seed of the stage, go in the stage's ask list from *first on, and *sizes
 * / *nbatches say how the batches replacing the seed divide them (0 batches: nothing to ask).
 * 0, -1 (the graph could not be built: err) or STORE_FULL. */
int vecs_expand(struct vecs *v, struct cache *c, store_txn *t, uint32_t stage, uint32_t *first,
		const uint32_t **sizes, uint32_t *nbatches, char *err, size_t errlen);
/* How stage's inputs divide into batches: the k-th input of tokens tokens starts a new batch
 * (returns 1) or joins the current one (0), given the current one's count and tokens. */
int vecs_new_batch(const struct stage *st, uint32_t count, uint64_t batch_tokens,
		   uint32_t tokens);

#endif
