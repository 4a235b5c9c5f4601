/* shard.h: a run as one shard of several machines' (kgsup start --shard I/N). Every shard plans
 * every input as a single machine would, so that sources, chunks and batches keep the numbers the
 * whole run gives them; a shard keeps the texts and batches of its own documents only (those whose
 * text's SHA-256 falls to it), and records which batch of the whole run each of its batches is,
 * so that export can put several shards' answers back in the whole run's order.
 *
 * An embedding stage over chunks is the exception: its batches run across documents, and which
 * texts they ask depends on what the run (and its cache) has embedded already, so no shard can
 * know the whole run's. A shard packs its own documents' chunks into batches of its own, which
 * have no place in the whole run's order (SHARD_UNPLACED) and are not counted in it: the other
 * batches' numbers are then the same in every shard. Export needs no order of them: vectors are
 * read by chunk, from the shard that holds the chunk's document. */
#ifndef KGSUP_SHARD_H
#define KGSUP_SHARD_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/hash.h"
#include "../common/job.h"
#include "../common/store.h"

#define SHARD_MAX 65536

/* I of N, 0-based (Slurm's array task ids and Kubernetes' completion indexes start at 0);
 * count 0: not a shard, the whole corpus. */
struct shard {
	uint32_t index, count;
};

/* --shard SPEC ("I/N", or "auto": SLURM_ARRAY_TASK_ID less SLURM_ARRAY_TASK_MIN of
 * SLURM_ARRAY_TASK_COUNT, else JOB_COMPLETION_INDEX of shards, the --shards N given; 0: none
 * given) into out: 0, or -1 with err saying what is wrong. */
int shard_parse(const char *spec, int shards, struct shard *out, char *err, size_t errlen);

/* The shard a document of this text belongs to: its SHA-256's first 8 bytes, big-endian,
 * modulo count. */
uint32_t shard_of(const unsigned char text_hash[HASH_LEN], uint32_t count);

/* meta "shard": what a shard recorded when it planned. None: a whole run. */
struct shard_rec {
	uint32_t index, count;
	uint32_t sources;        /* its own documents */
	uint32_t chunks;         /* chunks of its own batches */
	uint32_t global_batches; /* the batches of the whole run's order (not SHARD_UNPLACED) */
	uint32_t pad;
};
#define META_SHARD "shard"
/* u32be per batch of the shard's plan: its number in the whole run's, or SHARD_UNPLACED */
#define META_SHARD_BATCHES "shard.batches"
#define SHARD_UNPLACED UINT32_MAX
/* u32be per source of the whole run: the shard its document belongs to */
#define META_SHARD_OWNERS "shard.owners"

/* What the planner learns of the shard as it goes (everything is owned without a shard). */
struct shard_plan {
	struct shard shard;
	uint32_t *owners;
	size_t nowners, capowners;
	uint32_t *batches;
	size_t nbatches, capbatches;
	uint32_t global_batches;
	uint32_t sources, chunks;
	uint32_t unplaced; /* its batches of embedding stages over chunks */
};

/* Whether a job can run as shards: 0, or -1 with err naming the stage or key that cannot and
 * why (a job over rows; an embedding stage over entities, which needs the whole graph). */
int shard_job_check(const struct job *job, const struct config *cfg, char *err, size_t errlen);
/* A warning for each setting of a job shard_job_check accepts that does nothing in it
 * (graph.resolve without a stage over entities). */
void shard_job_warn(const struct job *job, const struct config *cfg);

/* A new source of this text: 1 if it is the shard's, else 0. */
int shard_plan_source(struct shard_plan *p, const unsigned char text_hash[HASH_LEN]);
/* A batch of the whole run (its number is the count so far): 1 if owned (then the shard keeps it
 * as its next batch), else 0. */
int shard_plan_batch(struct shard_plan *p, int owned);
/* A batch of an embedding stage over chunks: made of the shard's own documents' chunks, kept,
 * with no place in the whole run's order (and none taken from the batches after it). */
void shard_plan_unplaced(struct shard_plan *p);
/* Records p with the plan (nothing without a shard): 0 or a STORE_ code. */
int shard_plan_write(store_txn *t, const struct shard_plan *p);
void shard_plan_free(struct shard_plan *p);

/* The shard recorded in t: 0 (r zeroed, count 0, for a whole run) or a STORE_ code. */
int shard_rec_read(store_txn *t, struct shard_rec *r);
/* The whole run's number of each of the nbatches planned batches of the run in t (malloc'd;
 * a whole run's are its own; SHARD_UNPLACED: a batch of the shard's own, see above). */
uint32_t *shard_batch_numbers(store_txn *t, uint32_t nbatches);
/* The shard each of the nsources documents of the run in t belongs to (malloc'd), or NULL for
 * a whole run (all its own). */
uint32_t *shard_owners(store_txn *t, uint32_t nsources);
/* Which of the stores ts[0..nt-1] (a run, or shards of one) holds each of the nsources
 * documents (malloc'd): the index of the first that owns it, or SHARD_NO_STORE (a shard not
 * given). */
#define SHARD_NO_STORE UINT32_MAX
uint32_t *shard_doc_stores(store_txn *const *ts, size_t nt, uint32_t nsources);
/* "shard 1/4" or "the whole corpus" */
void shard_describe(char *out, size_t n, uint32_t index, uint32_t count);
/* Whether the run in t is the shard want (count 0: a whole run): 0, or -1 with err naming
 * state_dir, what it holds and what was given. */
int shard_check(store_txn *t, const struct shard *want, const char *state_dir, char *err,
		size_t errlen);
/* The same in a read transaction of its own. */
int shard_check_db(store *db, const struct shard *want, const char *state_dir, char *err,
		   size_t errlen);

#endif
