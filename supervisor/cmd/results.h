/* results.h: a run's answers by document and stage, as `export -f results` and `-f tree`
 * present them. One index, read in one read-only transaction: every document of the run (its
 * name below -i, from the store), and per document and stage the batches planned for it in
 * chunk order; walking a batch reaches the halves of a split one in its place.
 *
 * A run without stages is the one stage "kg", and each of its batches belongs to the document
 * of its first chunk (a batch may run on into the next document's chunks: its answer is listed
 * once, under the first). */
#ifndef KGSUP_RESULTS_H
#define KGSUP_RESULTS_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "../runstate.h"
#include "../shard.h"
#include "../../common/config.h"
#include "../../common/job.h"

struct u32list {
	uint32_t *v;
	size_t n, cap;
};

struct results {
	store_txn *t;          /* the store of the document being walked (results_walk) */
	store_txn *const *ts;  /* every store read: one run, or shards of one (start --shard) */
	size_t nt;
	store_txn *one;        /* ts of a single store (results_load) */
	uint32_t *doc_store;   /* per document: the store holding its batches (NO_STORE: none
				* given holds it, a shard not given) */
	struct config cfg; /* the run's recorded settings */
	struct job job;
	struct plan_rec plan;
	uint32_t ndocs;
	char **names;          /* per document: its path below -i */
	struct u32list *cells; /* per document and stage (doc * job.n + stage): planned batches */
};

/* The run in state_dir, opened read-only with a read transaction (which never blocks a live
 * run) and its plan read: 0, or -1 with err set ("DIR: no planned run here"); *db and *t are
 * set (maybe NULL) either way, for store_abort and store_close. */
int run_open_read(const char *state_dir, store **db, store_txn **t, struct plan_rec *plan,
		  char *err, size_t errlen);

/* The run's settings over the defaults, and its job (the recorded stages, or the one KG
 * stage). 0, or -1 with err set. */
int run_job_read(store_txn *t, struct config *cfg, struct job *job, char *err, size_t errlen);

/* Reads the index of the run in t (which must stay open while r is used). 0, or -1 with err
 * set. */
int results_load(struct results *r, store_txn *t, char *err, size_t errlen);
/* The same from several shards of one run (start --shard), each document's from the shard it
 * belongs to: ts must stay open while r is used. */
int results_load_shards(struct results *r, store_txn *const *ts, size_t nt, char *err,
			size_t errlen);
#define NO_STORE SHARD_NO_STORE
/* Whether document doc is in the stores given (a shard's own export lists its documents). */
static inline int results_has_doc(const struct results *r, uint32_t doc)
{
	return r->doc_store[doc] != NO_STORE;
}
void results_free(struct results *r);

/* Called for every batch reached from a planned one: a split batch, then (depth one more) its
 * halves. Non-zero stops the walk and is returned. */
typedef int results_visit(struct results *r, uint32_t n, const struct batch_rec *b, void *arg);
/* Walks the batches of document doc and stage s in chunk order. */
int results_walk(struct results *r, uint32_t doc, uint32_t s, results_visit *fn, void *arg);

/* Appends the compact JSON of batch n's stored answer to out; -1 (with a warning) when it is
 * missing or not JSON. */
int results_answer(struct results *r, uint32_t n, buf *out);

/* The writers of export's formats "results" (a file, or standard output: out) and "tree" (a
 * directory: dir). Each returns 0, or -1 with err set; *count: lines or files written. */
int results_write_lines(struct results *r, FILE *out, uint64_t *count);
int results_write_tree(struct results *r, const char *dir, uint64_t *count, char *err,
		       size_t errlen);

#endif
