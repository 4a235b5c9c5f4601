/* plan_stages.c: a job's batches, once every input is read. Batches come level by level (the
 * stages a later stage needs first), and within a level document by document, so that the
 * cursor hands out what unblocks others first and a document's needs complete early. */
#include "plan.h"
#include "shard.h"
#include "cache.h"
#include "rows.h"
#include "vecs.h"
#include "../common/chunk.h"
#include "../common/log.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PLAN_TXN_BATCHES 8192

void doc_spans_add(struct doc_spans *d, uint32_t first_chunk)
{
	d->v = xgrow(d->v, &d->cap, d->n, sizeof *d->v, 64);
	d->v[d->n++] = (struct doc_span){ first_chunk, 0, 0, 1 };
}

struct emit {
	store *db;
	store_txn *txn;
	uint32_t in_txn;
	struct plan_rec *plan;
	struct stage_counters sc[JOB_MAX_STAGES];
	struct cache *cache; /* rows: texts it answers are asked in no batch (NULL: no lookups) */
	struct rows rows;
	uint32_t ask[JOB_MAX_STAGES]; /* each rows stage's texts to ask so far */
	struct vecs vecs;
	/* each embedding stage's batch being filled: its first input, count, tokens, document */
	struct { uint32_t k0, n, doc; uint64_t tokens; } vp[JOB_MAX_STAGES];
	struct shard_plan *shard; /* its batches numbered in the whole run */
	int owned;                /* the document at hand is the shard's */
};

/* The plan's transaction, with room for a group of writes made first. */
static int emit_txn(struct emit *e)
{
	if (e->txn)
		return 0;
	return store_ensure_room(e->db, (size_t)64 << 20) || !(e->txn = store_begin(e->db, 1)) ?
		       -1 : 0;
}

static int emit_grouped(struct emit *e)
{
	if (++e->in_txn < PLAN_TXN_BATCHES)
		return 0;
	e->in_txn = 0;
	if (sig_stop_requested())
		return -1;
	int rc = store_commit(e->txn);
	e->txn = NULL;
	return rc ? -1 : 0;
}

static int emit_batch(struct emit *e, uint32_t stage, uint32_t doc, uint32_t first, uint32_t n,
		      uint32_t flags)
{
	const struct stage *st = &e->vecs.job->st[stage];
	/* an embedding stage's batch over chunks holds the shard's own chunks only (emit_vectors),
	 * and has no place in the whole run's order */
	if (st->endpoint == EP_EMBEDDINGS && st->over == OVER_CHUNKS)
		shard_plan_unplaced(e->shard);
	else if (!shard_plan_batch(e->shard, e->owned))
		return 0; /* another shard's: counted in the whole run's numbers only */
	uint32_t num = e->plan->nbatches++;
	e->sc[stage].batches++;
	if (!e->db)
		return 0;
	if (emit_txn(e))
		return -1;
	struct batch_rec b;
	memset(&b, 0, sizeof b);
	b.first_chunk = first;
	b.nchunks = n;
	struct batch_ext x;
	memset(&x, 0, sizeof x);
	x.stage = stage;
	x.doc = doc;
	x.flags = flags;
	if (batch_write(e->txn, num, &b, NULL, 0) || batchx_write(e->txn, num, &x))
		return -1;
	return emit_grouped(e);
}

/* A table's texts for a rows stage: those the per-row cache answers now are answered, the
 * others go in its ask list, and its batches are ranges of that list. */
static int emit_rows(struct emit *e, uint32_t s, uint32_t d, const struct doc_span *sp,
		     uint32_t per_call)
{
	uint32_t k0 = e->ask[s];
	for (uint32_t i = 0; e->db && i < sp->nchunks; i++) {
		uint32_t chunk = sp->first_chunk + i;
		if (emit_txn(e))
			return -1;
		int got = e->cache ? rows_plan_text(&e->rows, e->cache, e->txn, s, chunk) : 0;
		if (got == STORE_FULL ||
		    (!got && row_ask_put(e->txn, s, e->ask[s]++, chunk)) || emit_grouped(e))
			return -1;
	}
	if (!e->db)
		e->ask[s] += sp->nchunks;
	for (uint32_t k = k0; k < e->ask[s]; k += per_call)
		if (emit_batch(e, s, d, k, e->ask[s] - k < per_call ? e->ask[s] - k : per_call, 0))
			return -1;
	return 0;
}

/* The batch of embedding stage s being filled is complete. */
static int emit_vectors_flush(struct emit *e, uint32_t s)
{
	if (!e->vp[s].n)
		return 0;
	int rc = emit_batch(e, s, e->vp[s].doc, e->vp[s].k0, e->vp[s].n, 0);
	e->vp[s].k0 += e->vp[s].n;
	e->vp[s].n = 0;
	e->vp[s].tokens = 0;
	return rc;
}

/* A document's chunks for an embedding stage: those without a vector yet (here or in the
 * shared cache) and not listed before go in its ask list, in batches of per_call inputs and
 * at most max_input_tokens_per_call tokens that run across documents (nothing needs them by
 * document). A shard lists its own documents' chunks only: it holds no other's text, and the
 * shard that owns one embeds it. */
static int emit_vectors(struct emit *e, uint32_t s, uint32_t d, const struct doc_span *sp)
{
	const struct stage *st = &e->vecs.job->st[s];
	if (!e->owned)
		return 0;
	for (uint32_t i = 0; i < sp->nchunks; i++) {
		uint32_t tokens = 1;
		if (e->db) {
			if (emit_txn(e))
				return -1;
			int got = vecs_plan_chunk(&e->vecs, e->cache, e->txn, s, sp->first_chunk + i,
						  e->vp[s].k0 + e->vp[s].n, &tokens);
			if (got == STORE_FULL)
				return -1;
			if (got)
				continue;
		}
		if (vecs_new_batch(st, e->vp[s].n, e->vp[s].tokens, tokens) && emit_vectors_flush(e, s))
			return -1;
		if (!e->vp[s].n)
			e->vp[s].doc = d;
		e->vp[s].n++;
		e->vp[s].tokens += tokens;
		if (e->db && emit_grouped(e))
			return -1;
	}
	return 0;
}

static int emit_stage_doc(struct emit *e, const struct job *job, uint32_t s, uint32_t d,
			  const struct doc_span *sp, const char *name)
{
	const struct stage *st = &job->st[s];
	if (stage_embeds_entities(st))
		return d == 0 ? emit_batch(e, s, 0, 0, 0, BX_SEED) : 0;
	if (sp->nchunks == 0)
		return 0; /* no text (empty, blank, a subtitle file without cues): nothing to ask */
	if (st->endpoint == EP_EMBEDDINGS)
		return emit_vectors(e, s, d, sp);
	if (st->over == OVER_ROWS)
		return emit_rows(e, s, d, sp, (uint32_t)st->per_call);
	if (st->over == OVER_DOCUMENTS) {
		uint32_t flags = 0;
		if (e->owned && sp->bytes > (uint64_t)st->max_input_tokens * BYTES_PER_TOKEN) {
			flags = BX_CUT;
			e->sc[s].cut++;
			log_warn("%s: cut at %lld tokens of its about %llu for stage %s "
				 "(max_input_tokens)", name ? name : "a document",
				 (long long)st->max_input_tokens,
				 (unsigned long long)(sp->bytes / BYTES_PER_TOKEN), st->name);
		}
		return emit_batch(e, s, d, sp->first_chunk, 0, flags);
	}
	for (uint32_t c = 0; c < sp->nchunks; c += (uint32_t)st->per_call) {
		uint32_t n = sp->nchunks - c;
		if (n > (uint32_t)st->per_call)
			n = (uint32_t)st->per_call;
		if (emit_batch(e, s, d, sp->first_chunk + c, n, 0))
			return -1;
	}
	return 0;
}

/* The document's name for a warning (from the store, when there is one), read in the
 * transaction being written (one transaction at a time in a thread). */
static char *doc_name(struct emit *e, uint32_t d)
{
	if (e->db && !e->txn)
		e->txn = store_begin(e->db, 1);
	const void *v;
	size_t n;
	return e->txn && !record_get(e->txn, DB_SOURCES, d, &v, &n) ? xstrndup(v, n) : NULL;
}

int plan_stage_batches(const struct job *job, const struct doc_spans *d, store *db,
		       struct cache *cache, struct plan_rec *plan, struct row_counters *rc_rows,
		       struct shard_plan *sp, char *err, size_t errlen)
{
	struct emit e;
	memset(&e, 0, sizeof e);
	e.db = db;
	e.shard = sp;
	e.plan = plan;
	e.cache = (job->rows || job_embeds(job)) && db ? cache : NULL;
	vecs_init(&e.vecs, job, NULL);
	struct row_counters zero[JOB_MAX_STAGES];
	memset(zero, 0, sizeof zero);
	rows_init(&e.rows, job, zero);
	rows_round_begin(&e.rows);
	if (e.cache)
		cache_plan_begin(e.cache);
	int maxlevel = 0, rc = 0;
	for (size_t s = 0; s < job->n; s++)
		if (job->st[s].level > maxlevel)
			maxlevel = job->st[s].level;
	for (int level = 0; level <= maxlevel && !rc; level++)
		for (uint32_t doc = 0; doc < d->n && !rc; doc++) {
			char *name = NULL;
			e.owned = d->v[doc].owned;
			for (uint32_t s = 0; s < job->n && !rc; s++) {
				const struct stage *st = &job->st[s];
				if (st->level != level)
					continue;
				if (!name && e.owned && st->over == OVER_DOCUMENTS &&
				    d->v[doc].bytes > (uint64_t)st->max_input_tokens * BYTES_PER_TOKEN)
					name = doc_name(&e, doc);
				rc = emit_stage_doc(&e, job, s, doc, &d->v[doc], name);
			}
			free(name);
		}
	for (uint32_t s = 0; s < job->n && !rc; s++) {
		rc = emit_vectors_flush(&e, s);
		if (e.vecs.cut[s])
			log_warn("stage %s: %llu inputs cut at max_input_tokens (%lld tokens)",
				 job->st[s].name, (unsigned long long)e.vecs.cut[s],
				 (long long)job->st[s].max_input_tokens);
	}
	if (!rc && db) {
		if (!e.txn && !(e.txn = store_begin(db, 1)))
			rc = -1;
		else if (stage_counters_write(e.txn, e.sc, job->n))
			rc = -1;
		if (!rc)
			rc = store_commit(e.txn) ? -1 : 0;
		e.txn = NULL;
	}
	store_abort(e.txn);
	if (e.cache)
		cache_plan_end(e.cache);
	for (size_t s = 0; s < job->n; s++)
		rc_rows[s].cached = e.rows.rctr[s].cached;
	rows_free(&e.rows);
	vecs_free(&e.vecs);
	if (rc && sig_stop_requested())
		snprintf(err, errlen, "stopped while planning (nothing of this plan is kept; kgsup "
			 "start plans afresh)");
	else if (rc)
		snprintf(err, errlen, "store: %s", store_strerror(db));
	return rc;
}
