/* plan.h: turning the inputs into the run's plan: sources, chunks and batches, streamed into
 * the store in bounded transactions (memory does not grow with the input), and the
 * fingerprint that tells whether a state directory holds the same run. */
#ifndef KGSUP_PLAN_H
#define KGSUP_PLAN_H

#include <stddef.h>

#include "../common/config.h"
#include "../common/job.h"
#include "../common/store.h"
#include "runstate.h"

struct cache;
struct row_counters;

struct prompts {
	char *system; /* template texts */
	char *user;
};

int prompts_load(struct prompts *p, const struct config *cfg, char *err, size_t errlen);
void prompts_free(struct prompts *p);

/* Reads every input and writes the plan into db; with db NULL only computes the plan summary
 * and fingerprint. A job over rows looks its texts up in cache's per-row cache (cache NULL:
 * none): those it answers are answered in the plan and asked in no batch. Returns 0, or -1
 * with err set (input errors name the file and line). */
/* An input that cannot be read (binary, unreadable, a link that leads nowhere) is skipped with
 * a warning and counted (*skipped), unless strict: then it refuses the plan. An input that
 * fails after part of it was planned refuses the plan either way. */
/* shard (NULL or count 0: the whole corpus): the run is planned whole, as on one machine, and
 * only the shard's documents' texts and batches are kept (shard.h); plan_rec counts its
 * batches, and the sources and chunks of the whole run. Jobs shard_job_check refuses (over
 * rows; an embedding stage over entities) are not sharded. */
struct shard;
int plan_inputs(const struct config *cfg, const struct prompts *pr, const struct job *job,
		char *const *inputs, int ninputs, int strict, const struct shard *shard, store *db,
		struct cache *cache, struct plan_rec *out, uint64_t *skipped, char *err,
		size_t errlen);

/* Hashes into fp what shapes the requests besides the inputs (fingerprint.c). */
struct hash_ctx;
void plan_fingerprint_settings(struct hash_ctx *fp, const struct config *cfg,
			       const struct prompts *pr, const struct job *job);

/* Where each planned document's chunks are, and how long its text is (stages plan batches
 * per document from these, plan_stages.c). */
struct doc_span {
	uint32_t first_chunk, nchunks;
	uint64_t bytes;
	int owned; /* the shard's (always, without one) */
};
struct doc_spans {
	struct doc_span *v;
	size_t n, cap;
};
void doc_spans_add(struct doc_spans *d, uint32_t first_chunk);
/* The batches of every stage, level by level (a stage needing others after them), document by
 * document, written into db (with db NULL only counted into plan->nbatches). Documents cut
 * for a stage are logged. 0, or -1 with err set. */
/* A job over rows: a text the per-row cache (cache, NULL: none) answers is answered now and
 * in no batch; rc_rows (per stage) gets how many. */
/* Only the batches of documents the shard owns are written (numbered from 0); sp learns
 * each one's number in the whole run. An embedding stage over chunks packs the shard's own
 * documents' chunks only, into batches of no place in the whole run's (shard.h). */
struct shard_plan;
int plan_stage_batches(const struct job *job, const struct doc_spans *d, store *db,
		       struct cache *cache, struct plan_rec *plan, struct row_counters *rc_rows,
		       struct shard_plan *sp, char *err, size_t errlen);

#endif
