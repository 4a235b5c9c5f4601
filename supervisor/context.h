/* context.h: {{context}}, what a stage reads of the stages it needs. For one document: an
 * object keyed by each needed stage's name (in stage order) holding that stage's answer (a
 * stage over chunks: an array of its answers in chunk order), each answer reduced to the
 * stage's include_keys when given, arrays inside answers cut to top_n items when given, then,
 * while over token_budget (bytes / 4), the last item of the longest array dropped, one at a
 * time. A value is never cut inside: the context is always valid JSON. */
#ifndef KGSUP_CONTEXT_H
#define KGSUP_CONTEXT_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/job.h"
#include "../common/store.h"
#include "deps.h"

struct context_size {
	uint32_t tokens;  /* of the context written */
	uint32_t trimmed; /* tokens dropped to keep within the budget (top_n cuts included) */
};

/* Writes stage s's context for document doc into out (replacing it). With d NULL (a plan
 * before any answer) the needed answers are all missing: "{}" and the like. 0, or -1 when an
 * answer in the store is not JSON. */
int context_build(store_txn *t, const struct job *job, const struct deps *d, uint32_t s,
		  uint32_t doc, buf *out, struct context_size *size);

#endif
