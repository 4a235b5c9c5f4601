/* rows.h: the one owner of per-row answers in a run over rows, and of the counters that follow
 * them. A text (the chunk its rows share) of a stage is unanswered until an answer of that
 * stage carries an item with its row id, or the per-row cache holds an answer for its normal
 * form: then its answer is kept (rowstore.h) and never asked for again. A batch of a rows stage
 * stands for a range of texts; what it asks is only the texts of its range still unanswered,
 * so a batch handed back because some rows were missing from its answer asks those alone.
 *
 * The per-row cache key is the SHA-256 of what shapes a row's answer (the stage's model,
 * temperature, templates, schema and item_key) and the row's normal text, so an identical
 * text in a later run, or another table, is answered without a call.
 *
 * The rows themselves are counted as status counts them (rowtally.h): once from the store as a
 * run starts, then kept up to date here as texts are answered and batches fail or go back, so
 * the progress line costs no look at the store.
 *
 * Like the ledger, what a round decides is tentative until rows_commit. */
#ifndef KGSUP_ROWS_H
#define KGSUP_ROWS_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/job.h"
#include "cache.h"
#include "rowstore.h"
#include "rowtally.h"
#include "runstate.h"

struct rows {
	const struct job *job;
	struct row_counters ctr[JOB_MAX_STAGES];  /* as committed */
	struct row_counters rctr[JOB_MAX_STAGES]; /* the round being built */
	unsigned char settings[JOB_MAX_STAGES][HASH_LEN];
	struct rows_plan plan; /* what the tables held */
	struct row_tally tally[JOB_MAX_STAGES];  /* rows, as committed (counted: since rows_count) */
	struct row_tally rtally[JOB_MAX_STAGES]; /* the round being built */
	struct row_twins twins;
	int counted;
	buf norm, item, ids;
	struct asked { const char *id; size_t idlen; uint32_t chunk; int got; } *asked;
	size_t nasked, capasked;
};

void rows_init(struct rows *r, const struct job *job, const struct row_counters *c);
void rows_free(struct rows *r);
/* The rows counted from the store: once, when the run is about to start (after its
 * recovery), as status would count them; rows.c keeps them up to date from there. */
void rows_count(struct rows *r, store *db);

/* ---- inside a group transaction ---- */
void rows_round_begin(struct rows *r);
/* At plan time (no round): 1 when the per-row cache answers the text (kept now, counted in
 * r's round counters), 0 when it must be asked, STORE_FULL. */
int rows_plan_text(struct rows *r, struct cache *c, store_txn *t, uint32_t stage, uint32_t chunk);
/* Before batch b of a rows stage is rendered: its texts the per-row cache answers are
 * answered now; *left says how many remain to be asked. 0 or STORE_FULL. */
int rows_prepare(struct rows *r, struct cache *c, store_txn *t, uint32_t stage,
		 const struct batch_rec *b, uint32_t *left);
/* An answer to batch b: each item whose id is a text the batch asked is that text's answer
 * (kept, and put in the per-row cache); other items are dropped and counted. *missing: texts
 * asked that it does not answer; why (reset) names some of their ids. 0 or STORE_FULL. */
int rows_answer(struct rows *r, struct cache *c, store_txn *t, uint32_t stage,
		const struct batch_rec *b, const char *answer, size_t len, uint32_t *missing,
		buf *why);
/* Texts missing from an answer are asked again (counted). */
void rows_reasked(struct rows *r, uint32_t stage, uint32_t n);
/* Batch b of a rows stage went from state from to state to in the round (called once the
 * round's answers are kept): its rows still unanswered are failed while it is failed or
 * blocked, to do otherwise. 0, or a STORE_ code. */
int rows_moved(struct rows *r, store_txn *t, uint32_t stage, const struct batch_rec *b,
	       unsigned from, unsigned to);
int rows_round_end(struct rows *r, store_txn *t);
void rows_commit(struct rows *r);
/* The rows of each rows stage, as committed: every count with wide (the log line), else
 * " STAGE settled/rows rows, F failed, C cached, S skipped" (the bar). */
void rows_brief(buf *b, const struct rows *r, int wide);

#endif
