/* ledger_stages.c: the ledger's part for runs with stages (ledger.h): whether a batch may go
 * (its needs answered), the batches parked meanwhile, and the counters per stage. */
#include "ledger.h"
#include "ledger_impl.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <string.h>

/* A state change (or a new batch, from ADDED) of the round, for deps once it commits. */
void ledger_note(struct ledger *l, uint32_t n, uint32_t parent, unsigned from, unsigned to)
{
	if (!l || !l->deps)
		return;
	l->trans = xgrow(l->trans, &l->captrans, l->ntrans, sizeof *l->trans, 64);
	l->trans[l->ntrans].n = n;
	l->trans[l->ntrans].parent = parent;
	l->trans[l->ntrans].from = (uint8_t)from;
	l->trans[l->ntrans++].to = (uint8_t)to;
}

int ledger_round_moves(const struct ledger *l,
		       int (*fn)(uint32_t n, unsigned from, unsigned to, void *arg), void *arg)
{
	int rc = 0;
	for (size_t i = 0; i < l->ntrans && !rc; i++)
		if (l->trans[i].from != ADDED)
			rc = fn(l->trans[i].n, l->trans[i].from, l->trans[i].to, arg);
	return rc;
}

void ledger_set_stages(struct ledger *l, struct deps *d, const struct stage_counters *sc,
		       size_t nstages)
{
	l->deps = d;
	l->nstages = nstages;
	memcpy(l->sc, sc, nstages * sizeof *sc);
	memcpy(l->rsc, sc, nstages * sizeof *sc);
}

/* Whether pending batch n may go now: its needs answered (1); else 0, and it is parked
 * (park) while they are still to come or blocked when one failed. A failed write is the
 * transaction's (it will not commit). */
int ledger_ready(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b, int park)
{
	char why[160];
	enum dep_status st = l->deps ? deps_status(l->deps, n, why, sizeof why) : DEP_READY;
	if (st == DEP_READY)
		return 1;
	if (st == DEP_BLOCKED && b->state == B_PENDING) {
		ledger_set_state(l, &l->rctr, n, b, B_BLOCKED);
		log_warn("batch %u blocked: %s", n, why);
		ledger_write_rec(t, n, b, why, strlen(why));
	} else if (st == DEP_WAIT && park) {
		l->wait = xgrow(l->wait, &l->capwait, l->nwait, sizeof *l->wait, 64);
		l->wait[l->nwait++] = (struct requeued){ n, 0, 0, 0, 0 };
	}
	return 0;
}

/* From the cursor on: the first pending batch that may go (only of stages others need, with
 * unblocking set). */
int ledger_take_cursor(struct ledger *l, store_txn *t, uint32_t *n, struct batch_rec *b,
		       int unblocking)
{
	while (l->rcursor < l->nbatches) {
		if (unblocking && l->deps && !deps_unblocks(l->deps, l->rcursor))
			return 0;
		*n = l->rcursor++;
		if (!ledger_is_out(l, *n) && !batch_read(t, *n, b) && b->state == B_PENDING &&
		    ledger_ready(l, t, *n, b, 1))
			return 1;
	}
	return 0;
}

/* A parked batch whose needs are answered now. */
int ledger_take_waiting(struct ledger *l, store_txn *t, uint32_t *n, struct batch_rec *b)
{
	for (size_t i = 0; i < l->nwait; i++) {
		struct requeued *w = &l->wait[i];
		if (w->taken)
			continue;
		if (ledger_is_out(l, w->batch) || batch_read(t, w->batch, b) || b->state != B_PENDING) {
			w->taken = 1; /* gone another way */
			continue;
		}
		char why[8];
		if (deps_status(l->deps, w->batch, why, sizeof why) == DEP_WAIT)
			continue;
		w->taken = 1;
		if (ledger_ready(l, t, w->batch, b, 0)) {
			*n = w->batch;
			return 1;
		}
	}
	return 0;
}

/* A result of a batch of a stage: what it cost counts for the stage, and, answered, for the
 * batch (its stage record). */
int ledger_stage_result(struct ledger *l, store_txn *t, const struct msg_result *m)
{
	struct stage_counters *sc = &l->rsc[deps_stage(l->deps, m->batch)];
	sc->requests += m->requests_sent;
	sc->prompt_tokens += m->prompt_tokens;
	sc->completion_tokens += m->completion_tokens;
	if (m->status != RES_OK)
		return 0;
	struct batch_ext x;
	batchx_read(t, m->batch, &x);
	x.prompt_tokens += m->prompt_tokens;
	x.completion_tokens += m->completion_tokens;
	x.latency_ms = (uint32_t)(m->latency_us / 1000);
	sc->latency_ms += x.latency_ms;
	return batchx_write(t, m->batch, &x) ? STORE_FULL : 0;
}

int ledger_context(struct ledger *l, store_txn *t, uint32_t n, uint32_t ctx_tokens,
		   uint32_t trimmed)
{
	if (!l->deps)
		return 0;
	struct batch_ext x;
	batchx_read(t, n, &x);
	x.ctx_tokens = ctx_tokens;
	x.ctx_trimmed = trimmed;
	l->rsc[x.stage < l->nstages ? x.stage : 0].ctx_tokens += ctx_tokens;
	l->rsc[x.stage < l->nstages ? x.stage : 0].ctx_trimmed += trimmed;
	return batchx_write(t, n, &x) ? STORE_FULL : 0;
}

void ledger_stage_counters(const struct ledger *l, struct stage_counters *out)
{
	for (size_t s = 0; s < l->nstages; s++) {
		out[s] = l->rsc[s];
		if (!l->deps)
			continue;
		out[s].batches = l->deps->sc[s].batches;
		out[s].done = l->deps->sc[s].done;
		out[s].failed = l->deps->sc[s].failed;
		out[s].blocked = l->deps->sc[s].blocked;
	}
	for (size_t i = 0; l->deps && i < l->ntrans; i++) {
		uint32_t st = deps_stage(l->deps, l->trans[i].from == ADDED ? l->trans[i].parent
									  : l->trans[i].n);
		if (l->trans[i].from != ADDED)
			deps_count_state(&out[st], (enum batch_state)l->trans[i].from, -1);
		deps_count_state(&out[st], (enum batch_state)l->trans[i].to, +1);
	}
}

/* The round's state changes, committed: deps follows them. */
void ledger_apply_trans(struct ledger *l)
{
	for (size_t i = 0; l->deps && i < l->ntrans; i++) {
		if (l->trans[i].from == ADDED)
			deps_add(l->deps, l->trans[i].n, l->trans[i].parent);
		else
			deps_change(l->deps, l->trans[i].n, (enum batch_state)l->trans[i].from,
				    (enum batch_state)l->trans[i].to);
	}
	l->ntrans = 0;
}

int ledger_reseed(struct ledger *l, store_txn *t, uint32_t seed)
{
	uint32_t n = l->rnbatches;
	struct batch_ext x;
	struct batch_rec b;
	struct plan_rec p;
	if (batchx_read(t, seed, &x) || plan_read(t, &p))
		return STORE_FULL;
	x.flags |= BX_SEED;
	x.latency_ms = x.ctx_tokens = x.ctx_trimmed = 0;
	x.prompt_tokens = x.completion_tokens = 0;
	memset(&b, 0, sizeof b);
	b.is_child = 1; /* of the first seed: its stage and document */
	if (ledger_write_rec(t, n, &b, NULL, 0) || batchx_write(t, n, &x))
		return STORE_FULL;
	ledger_note(l, n, seed, ADDED, B_PENDING);
	l->rnbatches = p.nbatches = n + 1;
	log_info("batch %u: stage %s embeds again, once the graph is settled, the entities it gains",
		 n, l->deps->job->st[x.stage].name);
	return store_put(t, DB_META, META_PLAN, strlen(META_PLAN), &p, sizeof p) ? STORE_FULL : 0;
}

int ledger_expand(struct ledger *l, store_txn *t, const struct plan_rec *plan, uint32_t n,
		  struct batch_rec *b, uint32_t item, const uint32_t *sizes, uint32_t nsizes)
{
	uint32_t first = l->rnbatches, k = item;
	struct batch_ext x;
	if (batchx_read(t, n, &x))
		return STORE_FULL;
	x.flags &= ~BX_SEED;
	for (uint32_t i = 0; i < nsizes; i++) {
		struct batch_rec child;
		memset(&child, 0, sizeof child);
		child.is_child = 1;
		child.first_chunk = k;
		child.nchunks = sizes[i];
		k += sizes[i];
		if (ledger_write_rec(t, first + i, &child, NULL, 0) || batchx_write(t, first + i, &x))
			return STORE_FULL;
		ledger_note(l, first + i, n, ADDED, B_PENDING);
		ledger_added(l, first + i);
	}
	l->rnbatches += nsizes;
	ledger_set_state(l, &l->rctr, n, b, B_SPLIT);
	b->child = first;
	log_info("batch %u: replaced by batches %u to %u", n, first, first + nsizes - 1);
	struct plan_rec p = *plan;
	p.nbatches = l->rnbatches;
	if (store_put(t, DB_META, META_PLAN, strlen(META_PLAN), &p, sizeof p))
		return STORE_FULL;
	return ledger_write_rec(t, n, b, NULL, 0) ? STORE_FULL : 0;
}
