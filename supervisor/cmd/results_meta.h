/* results_meta.h: what export -f tree says of each document and stage in DIR/metadata.json:
 * the run (id, config digest, stages) and per document and stage its state, batches, tokens,
 * cost, latency, attempts and context. */
#ifndef KGSUP_RESULTS_META_H
#define KGSUP_RESULTS_META_H

#include "results.h"

/* A document's stage, summed over its batches (split ones and their halves included: what a
 * cut-off answer cost was spent too); batches counts those that need an answer. */
struct cell_sum {
	uint32_t leaves;   /* batches, less split ones, plus their halves */
	unsigned states;   /* bit s: some of them is in state s */
	uint64_t attempts, prompt_tokens, completion_tokens, latency_ms, ctx_tokens, ctx_trimmed;
	int cut;           /* its document was cut at max_input_tokens */
};

void cell_sum_read(struct results *r, uint32_t doc, uint32_t s, struct cell_sum *c);
/* done, failed, blocked, pending or in_flight: the worst of its batches' states. */
const char *cell_state(const struct cell_sum *c);

struct meta {
	buf b;
	uint32_t ndocs;   /* documents written so far */
	uint32_t nstages; /* stages written of the document being written */
};

void meta_begin(struct meta *m, struct results *r);
void meta_document_begin(struct meta *m, const char *name);
void meta_stage(struct meta *m, struct results *r, uint32_t s, const struct cell_sum *c);
void meta_document_end(struct meta *m);
/* Writes DIR/metadata.json (a temporary name, then renamed). 0, or -1 with err set. */
int meta_write(struct meta *m, const char *dir, char *err, size_t errlen);
void meta_free(struct meta *m);

#endif
