/* deps.h: which stage and document each batch is for, and whether a batch's needs are met.
 * Part of the ledger (loaded by run.c, changed only by the ledger from state changes it
 * committed, in ledger_stages.c): per
 * document and stage it counts the batches not yet answered and those failed or blocked, so
 * that deciding whether a batch may go is a few lookups, not a scan. Runs with stages only. */
#ifndef KGSUP_DEPS_H
#define KGSUP_DEPS_H

#include <stddef.h>
#include <stdint.h>

#include "../common/job.h"
#include "../common/store.h"
#include "runstate.h"

struct deps {
	const struct job *job;
	uint32_t nbatches, capbatches;
	uint8_t *stage;  /* per batch */
	uint32_t *doc;   /* per batch */
	uint32_t ndocs;
	/* per document and stage (doc * job->n + stage) */
	uint32_t *first, *count; /* its planned batches (halves of splits are reached by child) */
	int32_t *left;           /* batches not done (nor replaced by halves) */
	int32_t *failed;         /* of those, failed or blocked */
	/* per stage, from the states: batches (less split ones), done, failed, blocked */
	struct stage_counters sc[JOB_MAX_STAGES];
};

/* Reads every batch's stage record and state. 0 or -1 (the store failed). */
int deps_load(struct deps *d, const struct job *job, store_txn *t, uint32_t nbatches,
	      uint32_t ndocs);
void deps_free(struct deps *d);

enum dep_status { DEP_READY, DEP_WAIT, DEP_BLOCKED };
/* Whether batch n may go: its needs all answered, some still to come, or some failed (why
 * names the stage). */
enum dep_status deps_status(const struct deps *d, uint32_t n, char *why, size_t whylen);
/* A committed state change of batch n. */
void deps_change(struct deps *d, uint32_t n, enum batch_state from, enum batch_state to);
/* A new pending batch (a half of a split one) of the same stage and document as parent. */
void deps_add(struct deps *d, uint32_t n, uint32_t parent);
/* Non-zero when stage of batch n is needed by another stage. */
int deps_unblocks(const struct deps *d, uint32_t n);
uint32_t deps_stage(const struct deps *d, uint32_t n);
/* What a batch in state s adds (sign +1) to or takes (-1) from a stage's state counts. */
void deps_count_state(struct stage_counters *sc, enum batch_state s, int sign);

#endif
