/* deps.c: the batches' stages and documents, and their needs (deps.h). */
#include "deps.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void grow_batches(struct deps *d, uint32_t n)
{
	if (n < d->capbatches)
		return;
	uint32_t cap = d->capbatches ? d->capbatches : 1024;
	while (cap <= n)
		cap *= 2;
	d->stage = xrealloc(d->stage, cap);
	d->doc = xrealloc(d->doc, (size_t)cap * sizeof *d->doc);
	d->capbatches = cap;
}

static int settled(enum batch_state s)
{
	return s == B_DONE || s == B_SPLIT;
}

static int stuck(enum batch_state s)
{
	return s == B_FAILED || s == B_BLOCKED;
}

void deps_count_state(struct stage_counters *sc, enum batch_state s, int sign)
{
	if (s != B_SPLIT)
		sc->batches += (uint64_t)(int64_t)sign;
	if (s == B_DONE)
		sc->done += (uint64_t)(int64_t)sign;
	else if (s == B_FAILED)
		sc->failed += (uint64_t)(int64_t)sign;
	else if (s == B_BLOCKED)
		sc->blocked += (uint64_t)(int64_t)sign;
}

/* What a batch in state s adds to its document's and stage's counts (sign: +1 or -1). */
static void count(struct deps *d, uint32_t n, enum batch_state s, int sign)
{
	size_t k = (size_t)d->doc[n] * d->job->n + d->stage[n];
	deps_count_state(&d->sc[d->stage[n]], s, sign);
	if (d->doc[n] >= d->ndocs)
		return;
	if (!settled(s))
		d->left[k] += sign;
	if (stuck(s))
		d->failed[k] += sign;
}

int deps_load(struct deps *d, const struct job *job, store_txn *t, uint32_t nbatches,
	      uint32_t ndocs)
{
	memset(d, 0, sizeof *d);
	d->job = job;
	d->ndocs = ndocs;
	size_t cells = (size_t)ndocs * job->n + 1;
	d->first = xcalloc(cells, sizeof *d->first);
	d->count = xcalloc(cells, sizeof *d->count);
	d->left = xcalloc(cells, sizeof *d->left);
	d->failed = xcalloc(cells, sizeof *d->failed);
	grow_batches(d, nbatches);
	for (uint32_t n = 0; n < nbatches; n++) {
		struct batch_ext x;
		struct batch_rec b;
		if (batchx_read(t, n, &x) || batch_read(t, n, &b) || x.stage >= job->n)
			return -1;
		d->stage[n] = (uint8_t)x.stage;
		d->doc[n] = x.doc;
		d->nbatches = n + 1;
		count(d, n, (enum batch_state)b.state, +1);
		size_t k = (size_t)x.doc * job->n + x.stage;
		if (!b.is_child && x.doc < ndocs && !d->count[k]++)
			d->first[k] = n;
	}
	return 0;
}

void deps_free(struct deps *d)
{
	free(d->stage);
	free(d->doc);
	free(d->first);
	free(d->count);
	free(d->left);
	free(d->failed);
	memset(d, 0, sizeof *d);
}

/* An embedding stage over entities embeds the graph: it waits until every graph stage's
 * batches are settled one way or another (the graph is then what it will be). */
static enum dep_status graph_status(const struct deps *d)
{
	for (size_t k = 0; k < d->job->n; k++) {
		const struct stage_counters *c = &d->sc[k];
		if (d->job->st[k].graph && c->done + c->failed + c->blocked < c->batches)
			return DEP_WAIT;
	}
	return DEP_READY;
}

enum dep_status deps_status(const struct deps *d, uint32_t n, char *why, size_t whylen)
{
	if (n < d->nbatches && d->job->st[d->stage[n]].over == OVER_ENTITIES)
		return graph_status(d);
	if (n >= d->nbatches || d->doc[n] >= d->ndocs)
		return DEP_READY;
	const struct stage *st = &d->job->st[d->stage[n]];
	enum dep_status s = DEP_READY;
	for (size_t k = 0; k < d->job->n; k++) {
		if (!(st->needs & (1u << k)))
			continue;
		size_t cell = (size_t)d->doc[n] * d->job->n + k;
		if (d->failed[cell]) {
			snprintf(why, whylen, "needs stage %s of its document, which failed",
				 d->job->st[k].name);
			return DEP_BLOCKED;
		}
		if (d->left[cell])
			s = DEP_WAIT;
	}
	return s;
}

void deps_change(struct deps *d, uint32_t n, enum batch_state from, enum batch_state to)
{
	if (n >= d->nbatches || from == to)
		return;
	count(d, n, from, -1);
	count(d, n, to, +1);
}

void deps_add(struct deps *d, uint32_t n, uint32_t parent)
{
	grow_batches(d, n);
	for (uint32_t i = d->nbatches; i < n; i++) { /* not expected: halves come in order */
		d->stage[i] = 0;
		d->doc[i] = UINT32_MAX;
	}
	d->stage[n] = parent < d->nbatches ? d->stage[parent] : 0;
	d->doc[n] = parent < d->nbatches ? d->doc[parent] : UINT32_MAX;
	if (n >= d->nbatches)
		d->nbatches = n + 1;
	count(d, n, B_PENDING, +1);
}

int deps_unblocks(const struct deps *d, uint32_t n)
{
	return n < d->nbatches && d->job->st[d->stage[n]].dependents > 0;
}

uint32_t deps_stage(const struct deps *d, uint32_t n)
{
	return n < d->nbatches ? d->stage[n] : 0;
}
