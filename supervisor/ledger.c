/* ledger.c: batch states, the counters that follow them, and the round (ledger.h); the queue of
 * work is ledger_queue.c's. */
#include "ledger.h"
#include "ledger_impl.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../common/util.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define NSTATES (B_BLOCKED + 1)

/* legal[from][to]; a state to itself updates attempts or the error only */
static const unsigned char legal[NSTATES][NSTATES] = {
	/*               PENDING INFLIGHT DONE FAILED SPLIT BLOCKED */
	[B_PENDING] = { 1, 1, 1, 1, 1, 1 },
	[B_INFLIGHT] = { 1, 1, 1, 1, 1, 0 },
	[B_DONE] = { 0, 0, 1, 0, 0, 0 },
	[B_FAILED] = { 1, 0, 1, 1, 0, 0 },
	[B_SPLIT] = { 0, 0, 0, 0, 1, 0 },
	[B_BLOCKED] = { 1, 0, 0, 0, 0, 1 },
};

int ledger_legal(enum batch_state from, enum batch_state to)
{
	return from < NSTATES && to < NSTATES && legal[from][to];
}


/* The one place a batch changes state; the counters that follow states follow it here (those
 * per stage through the round's notes). */
void ledger_set_state(struct ledger *l, struct counters *c, uint32_t n, struct batch_rec *b,
		      enum batch_state to)
{
	if (!ledger_legal(b->state, to)) {
		log_error("batch %u: illegal state change %u -> %u", n, b->state, to);
#ifdef KGSUP_ASSERTS
		assert(!"illegal batch state change");
#endif
		return;
	}
	if (b->state == to)
		return;
	ledger_note(l, n, n, b->state, to);
	if (b->state == B_FAILED)
		c->batches_failed--;
	else if (b->state == B_BLOCKED)
		c->batches_blocked--;
	if (to == B_FAILED)
		c->batches_failed++;
	else if (to == B_BLOCKED)
		c->batches_blocked++;
	else if (to == B_DONE)
		c->batches_done++;
	else if (to == B_SPLIT)
		c->batches_split++;
	b->state = (uint8_t)to;
}

void ledger_init(struct ledger *l, const struct counters *c, uint32_t nbatches)
{
	memset(l, 0, sizeof *l);
	l->ctr = *c;
	l->nbatches = nbatches;
}


void ledger_free(struct ledger *l)
{
	if (l->deps)
		deps_free(l->deps);
	free(l->deps);
	free(l->trans);
	free(l->wait);
	free(l->queue);
	free(l->qpos);
	free(l->out);
	free(l->split);
	free(l->given);
	free(l->unsent);
	memset(l, 0, sizeof *l);
}

/* ---- the round ---- */

void ledger_round_begin(struct ledger *l)
{
	l->rctr = l->ctr;
	l->rcursor = l->cursor;
	l->rnbatches = l->nbatches;
	l->nsplit = 0;
	l->ngiven = 0;
	l->ntrans = 0;
	memcpy(l->rsc, l->sc, l->nstages * sizeof *l->sc);
	for (size_t i = 0; i < l->nqueue; i++)
		l->queue[i].taken = 0;
	l->nwait = l->nwait_kept;
	for (size_t i = 0; i < l->nwait; i++)
		l->wait[i].taken = 0;
}

int ledger_write_rec(store_txn *t, uint32_t n, const struct batch_rec *b, const char *err,
		     size_t errlen)
{
	return batch_write(t, n, b, err, errlen) ? STORE_FULL : 0;
}

int ledger_send(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b)
{
	ledger_set_state(l, &l->rctr, n, b, B_INFLIGHT);
	return ledger_write_rec(t, n, b, NULL, 0);
}

static int put_result(store_txn *t, uint32_t n, const char *answer, size_t len)
{
	unsigned char k[4];
	wr_u32be(k, n);
	return store_put(t, DB_RESULTS, k, 4, answer, len) ? STORE_FULL : 0;
}

int ledger_cache_hit(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b,
		     const char *answer, size_t len, uint64_t prompt, uint64_t completion)
{
	struct counters *c = &l->rctr;
	ledger_set_state(l, c, n, b, B_DONE);
	b->cached = 1;
	c->batches_cached++;
	if (l->deps) {
		struct stage_counters *sc = &l->rsc[deps_stage(l->deps, n)];
		sc->cached++;
		sc->saved_prompt_tokens += prompt;
		sc->saved_completion_tokens += completion;
	}
	c->saved_prompt_tokens += prompt;
	c->saved_completion_tokens += completion;
	return put_result(t, n, answer, len) || ledger_write_rec(t, n, b, NULL, 0) ? STORE_FULL : 0;
}

void ledger_added(struct ledger *l, uint32_t n)
{
	l->split = xgrow(l->split, &l->capsplit, l->nsplit, sizeof *l->split, 16);
	l->split[l->nsplit++] = n;
}

int ledger_split(struct ledger *l, store_txn *t, const struct plan_rec *plan, uint32_t n,
		 struct batch_rec *b, const char *why)
{
	uint32_t first = l->rnbatches;
	l->rnbatches += 2;
	ledger_added(l, first);
	ledger_added(l, first + 1);
	struct batch_rec half;
	memset(&half, 0, sizeof half);
	half.is_child = 1;
	half.first_chunk = b->first_chunk;
	half.nchunks = b->nchunks / 2;
	if (ledger_write_rec(t, first, &half, NULL, 0))
		return STORE_FULL;
	half.first_chunk += half.nchunks;
	half.nchunks = b->nchunks - half.nchunks;
	if (ledger_write_rec(t, first + 1, &half, NULL, 0))
		return STORE_FULL;
	if (l->deps) { /* the halves are of the stage and document of the whole */
		struct batch_ext x;
		batchx_read(t, n, &x);
		x.latency_ms = x.ctx_tokens = x.ctx_trimmed = 0;
		x.prompt_tokens = x.completion_tokens = 0;
		if (batchx_write(t, first, &x) || batchx_write(t, first + 1, &x))
			return STORE_FULL;
		ledger_note(l, first, n, ADDED, B_PENDING);
		ledger_note(l, first + 1, n, ADDED, B_PENDING);
	}
	ledger_set_state(l, &l->rctr, n, b, B_SPLIT);
	b->child = first;
	log_info("batch %u: %s; split into batches %u and %u", n, why, first, first + 1);
	struct plan_rec p = *plan;
	p.nbatches = l->rnbatches;
	if (store_put(t, DB_META, META_PLAN, strlen(META_PLAN), &p, sizeof p))
		return STORE_FULL;
	return ledger_write_rec(t, n, b, NULL, 0);
}

int ledger_fail(struct ledger *l, store_txn *t, uint32_t n, struct batch_rec *b, const char *why)
{
	ledger_set_state(l, &l->rctr, n, b, B_FAILED);
	log_warn("batch %u failed: %s", n, why);
	return ledger_write_rec(t, n, b, why, strlen(why));
}

static void count_requests(struct counters *c, const struct msg_result *m)
{
	c->requests_sent += m->requests_sent;
	c->requests_ok += m->requests_ok;
	c->retried += m->retries;
	c->http_429 += m->http_429;
	c->errors += m->errors;
	c->err_server += m->err_server;
	c->err_transport += m->err_transport;
	c->err_invalid += m->err_invalid;
	c->prompt_tokens += m->prompt_tokens;
	c->completion_tokens += m->completion_tokens;
	c->items_dropped += m->items_dropped;
	c->tokens_estimated += m->tokens_estimated;
}





int ledger_settled(const struct msg_result *m)
{
	return m->status == RES_OK || m->requests_sent == 0 ||
	       (m->http_status >= 400 && m->http_status < 500);
}

/* The result answers the request batch b was sent as (a batch never sent has no key yet). */
static int answers(const struct batch_rec *b, const struct msg_result *m)
{
	static const unsigned char none[HASH_LEN];
	return m->key && memcmp(b->key, none, HASH_LEN) && !memcmp(b->key, m->key, HASH_LEN);
}

static void give_back_later(struct ledger *l, const struct msg_result *m, int64_t now)
{
	l->given = xgrow(l->given, &l->capgiven, l->ngiven, sizeof *l->given, 16);
	l->given[l->ngiven++] = (struct requeued){ m->batch, m->attempt, now + m->retry_in_ms, 0, 0 };
}

void ledger_defer(struct ledger *l, uint32_t n, uint32_t attempt, int64_t due)
{
	struct msg_result m = { .batch = n, .attempt = attempt };
	give_back_later(l, &m, due);
}

int ledger_result(struct ledger *l, store_txn *t, const struct plan_rec *plan,
		  const struct msg_result *m, int64_t now, struct batch_rec *b)
{
	struct counters *c = &l->rctr;
	count_requests(c, m);
	if (m->batch >= l->nbatches || batch_read(t, m->batch, b))
		return LEDGER_FOREIGN; /* not ours: counted, nothing else */
	if (!answers(b, m))
		return LEDGER_FOREIGN;
	if (l->deps && ledger_stage_result(l, t, m))
		return STORE_FULL;
	b->attempts += m->requests_sent;
	if (m->http_status)
		b->last_http = m->http_status;
	const char *err = NULL;
	size_t errlen = 0;
	int open = b->state != B_DONE && b->state != B_SPLIT && b->state != B_FAILED;
	int done = 0;
	if (m->status == RES_OK && b->state != B_DONE && b->state != B_SPLIT) {
		ledger_set_state(l, c, m->batch, b, B_DONE);
		b->cached = 0;
		done = 1;
		if (put_result(t, m->batch, m->payload, m->payload_len))
			return STORE_FULL;
	} else if (m->status == RES_SPLIT && open) {
		char why[200] = "answer cut off at max_tokens"; /* else the worker's reason */
		if (m->payload_len)
			snprintf(why, sizeof why, "%.*s",
				 (int)(m->payload_len < sizeof why ? m->payload_len : sizeof why - 1),
				 m->payload);
		return ledger_split(l, t, plan, m->batch, b, why);
	} else if ((m->status == RES_RETRY || m->status == RES_NOCONN) && open) {
		/* (a call that could not connect sent nothing: requests_sent 0, no attempt used) */
		ledger_set_state(l, c, m->batch, b, B_PENDING);
		give_back_later(l, m, now);
		err = m->payload;
		errlen = m->payload_len;
	} else if ((m->status == RES_GAVEUP || m->status == RES_ABORT) && open && ledger_settled(m)) {
		/* never sent, or refused (the run stopped on it): nothing to bill or doubt; it waits
		 * for the cause's fix */
		ledger_set_state(l, c, m->batch, b, B_PENDING);
		if (m->status == RES_ABORT) {
			err = m->payload;
			errlen = m->payload_len;
		}
	} else if (m->status == RES_FAILED && open) {
		ledger_set_state(l, c, m->batch, b, B_FAILED);
		err = m->payload;
		errlen = m->payload_len;
		log_warn("batch %u failed: %.*s", m->batch, (int)m->payload_len, m->payload);
	}
	if (ledger_write_rec(t, m->batch, b, err, errlen))
		return STORE_FULL;
	return done ? LEDGER_DONE : 0;
}

int ledger_unsent(struct ledger *l, store_txn *t)
{
	for (size_t i = 0; i < l->nunsent; i++) {
		uint32_t n = l->unsent[i];
		struct batch_rec b;
		/* one out again is another worker's now (the store says so since that round) */
		if (n >= l->nbatches || ledger_is_out(l, n) || batch_read(t, n, &b) ||
		    b.state != B_INFLIGHT)
			continue;
		ledger_set_state(l, &l->rctr, n, &b, B_PENDING);
		if (ledger_write_rec(t, n, &b, NULL, 0))
			return STORE_FULL;
	}
	return 0;
}

int ledger_round_end(struct ledger *l, store_txn *t, uint32_t workers_live, uint32_t run_state,
		     uint64_t elapsed_ms)
{
	l->rctr.workers_live = workers_live;
	l->rctr.state = run_state;
	l->rctr.elapsed_ms = elapsed_ms;
	if (l->deps) {
		struct stage_counters sc[JOB_MAX_STAGES];
		ledger_stage_counters(l, sc);
		if (stage_counters_write(t, sc, l->nstages))
			return STORE_FULL;
	}
	return counters_write(t, &l->rctr) ? STORE_FULL : 0;
}

void ledger_commit(struct ledger *l)
{
	ledger_apply_trans(l);
	l->nunsent = 0;
	memcpy(l->sc, l->rsc, l->nstages * sizeof *l->sc);
	size_t kept = 0;
	for (size_t i = 0; i < l->nwait; i++)
		if (!l->wait[i].taken)
			l->wait[kept++] = l->wait[i];
	l->nwait = l->nwait_kept = kept;
	l->ctr = l->rctr;
	l->cursor = l->rcursor;
	l->nbatches = l->rnbatches;
	ledger_queue_compact(l);
	for (size_t i = 0; i < l->ngiven; i++)
		ledger_give_back(l, l->given[i].batch, l->given[i].attempt, l->given[i].due);
	l->ngiven = 0;
	/* the halves of split batches go first in the next round; the cursor never looks back */
	for (size_t i = 0; i < l->nsplit; i++)
		ledger_give_back(l, l->split[i], 0, 0);
	l->nsplit = 0;
}
