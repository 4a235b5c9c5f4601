/* round.c: the supervisor's group transaction. One write transaction takes every result that
 * arrived since the last one, marks the batches handed out next as in flight (before their
 * requests leave), answers batches from the cache where it can, and records the counters.
 * Only after it committed are batches sent to workers: a crash can lose a send, never a
 * record of what was sent. A round that fails is thrown away whole: its results stay
 * unacknowledged (their workers keep them) and nothing it decided is kept. */
#include "round_impl.h"
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounds on one transaction, so that a resume over a cached run still commits often. */
#define ROUND_MAX_CACHE_HITS 512

/* The stage batch n is of (a run without stages has the one). */
static uint32_t batch_stage(const struct sup *s, uint32_t n)
{
	return s->led.deps ? deps_stage(s->led.deps, n) : 0;
}

/* Answers batch n from the cache where it can: 1 when it did (or split it into pieces each
 * all answered or all new), 0 when it must be asked for, STORE_FULL. */
static int try_cache(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b)
{
	struct cache_answer a;
	int found = cache_find(&s->cache, t, b, &a);
	if (found == CACHE_HIT) {
		trace_cache_hit(&s->trace, &s->job, n, batch_stage(s, n), a.prompt_tokens,
				a.completion_tokens);
		return ledger_cache_hit(&s->led, t, n, b, a.data, a.len, a.prompt_tokens,
					a.completion_tokens) ? STORE_FULL : 1;
	}
	if (found == CACHE_PARTIAL) {
		char why[96];
		snprintf(why, sizeof why, "%u of its %u chunks are answered already", a.known,
			 b->nchunks);
		return ledger_split(&s->led, t, &s->plan, n, b, why) ? STORE_FULL : 1;
	}
	return 0;
}

/* Batch n of an embedding stage, taken: a seed is replaced by the batches of its stage's
 * inputs; a batch whose inputs all have vectors now is done without a call; else its request
 * is rendered into r. 1 when it is to be sent, 0 when it was settled here, STORE_FULL. */
static int take_vectors(store_txn *t, struct sup *s, struct rendered *r, uint32_t n,
			struct batch_rec *b)
{
	uint32_t stage = deps_stage(s->led.deps, n), left = 0, nb;
	struct batch_ext x;
	if (batchx_read(t, n, &x))
		return STORE_FULL;
	if (x.flags & BX_SEED) {
		const uint32_t *sizes;
		uint32_t first;
		char err[256];
		int rc = vecs_expand(&s->vecs, &s->cache, t, stage, &first, &sizes, &nb, err,
				     sizeof err);
		if (rc == STORE_FULL)
			return STORE_FULL;
		if (rc)
			return ledger_fail(&s->led, t, n, b, err) ? STORE_FULL : 0;
		if (nb)
			return ledger_expand(&s->led, t, &s->plan, n, b, first, sizes, nb) ? STORE_FULL
											  : 0;
	} else if (vecs_prepare(&s->vecs, &s->cache, t, stage, b, &left)) {
		return STORE_FULL;
	}
	if (!left) { /* every input has its vector (another batch, run or the shared cache) */
		trace_cache_hit(&s->trace, &s->job, n, stage, 0, 0);
		return ledger_cache_hit(&s->led, t, n, b, "{}", 2, 0, 0) ? STORE_FULL : 0;
	}
	struct render_src src = { &s->cfg, &s->job, s->led.deps };
	if (render_batch(t, &src, n, b, r))
		return ledger_fail(&s->led, t, n, b, "an input is missing from the store") ? STORE_FULL
											    : 0;
	memcpy(b->key, r->key, HASH_LEN);
	return 1;
}

int round_prepare(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b,
		  struct rendered *r)
{
	uint32_t left = 1;
	if (s->led.deps && vecs_stage(&s->job, deps_stage(s->led.deps, n)))
		return take_vectors(t, s, r, n, b);
	if (s->job.rows && rows_prepare(&s->rows, &s->cache, t, deps_stage(s->led.deps, n), b, &left))
		return STORE_FULL;
	if (!left) { /* every text of it is answered (the per-row cache) */
		trace_cache_hit(&s->trace, &s->job, n, batch_stage(s, n), 0, 0);
		return ledger_cache_hit(&s->led, t, n, b, "{}", 2, 0, 0) ? STORE_FULL : 0;
	}
	struct render_src src = { &s->cfg, &s->job, s->led.deps };
	if (render_batch(t, &src, n, b, r))
		return ledger_fail(&s->led, t, n, b, "what it is asked about is missing from the store")
			       ? STORE_FULL : 0;
	memcpy(b->key, r->key, HASH_LEN);
	int hit = try_cache(t, s, n, b);
	return hit == STORE_FULL ? STORE_FULL : !hit;
}

/* With the Batch API on, live workers take the batches it does not want: those it gave back
 * (batch.fallback "live"), and in run.mode auto those of the stages routed live. */
static int live_wants(void *arg, uint32_t n)
{
	return !pbatch_wants(arg, n);
}

/* The live workers' take filter, or NULL when every batch is theirs. */
static const struct take_filter *live_filter(const struct sup *s, struct take_filter *f)
{
	/* with every stage through the Batch API, they take only what it gave back */
	*f = (struct take_filter){ live_wants, (void *)&s->pb, !s->pb.live_too };
	return s->pb.on ? f : NULL;
}

/* Picks the batch slot i will get in this round (or none left). */
static int pick_for_slot(store_txn *t, struct sup *s, int i, int *cache_hits)
{
	struct slot *sl = &s->slots[i];
	uint32_t n, attempt;
	struct batch_rec b;
	struct take_filter live;
	const struct take_filter *f = live_filter(s, &live);
	/* at the bound the round ends its picking: a batch taken now would be sent unlooked-up */
	while (*cache_hits < ROUND_MAX_CACHE_HITS &&
	       ledger_take_where(&s->led, t, now_ms(), &n, &b, &attempt, f)) {
		int go = round_prepare(t, s, n, &b, &sl->req);
		if (go == STORE_FULL)
			return STORE_FULL;
		if (!go) {
			(*cache_hits)++;
			continue;
		}
		if (ledger_send(&s->led, t, n, &b) ||
		    (sl->req.ctx.tokens &&
		     ledger_context(&s->led, t, n, sl->req.ctx.tokens, sl->req.ctx.trimmed)))
			return STORE_FULL;
		sl->assigned = 1;
		sl->batch = n;
		sl->attempt = attempt;
		return 0;
	}
	return 0;
}

/* What this session will have committed from each slot once the round commits (so that a
 * session after a crash knows which spooled answers are in already). */
static int record_delivered(store_txn *t, struct sup *s)
{
	struct delivered *d = &s->now;
	if (d->nslots < (uint32_t)s->nslots) {
		d->acked = xrealloc(d->acked, (size_t)s->nslots * sizeof *d->acked);
		d->nslots = (uint32_t)s->nslots;
	}
	d->session = s->session_id;
	for (int i = 0; i < s->nslots; i++)
		d->acked[i] = s->slots[i].acked;
	for (size_t i = 0; i < s->nqueue; i++) {
		const struct queued_result *q = &s->queue[i];
		if (!q->spooled && q->m.slot < d->nslots && (int32_t)(q->m.seq - d->acked[q->m.slot]) > 0)
			d->acked[q->m.slot] = q->m.seq;
	}
	return delivered_write(t, d, &s->delivered_rec) ? STORE_FULL : 0;
}

struct round_arg {
	struct sup *s;
	int dispatch;
};

struct moved_arg {
	store_txn *t;
	struct sup *s;
};

/* A batch's state change of the round, for the rows it asks (rows_moved). */
static int rows_batch_moved(uint32_t n, unsigned from, unsigned to, void *arg)
{
	struct moved_arg *ma = arg;
	struct sup *s = ma->s;
	struct batch_ext x; /* (the stage of a half made this round is not in deps yet) */
	struct batch_rec b;
	if (batchx_read(ma->t, n, &x) || x.stage >= s->job.n ||
	    s->job.st[x.stage].over != OVER_ROWS || batch_read(ma->t, n, &b))
		return 0;
	return rows_moved(&s->rows, ma->t, x.stage, &b, from, to) ? STORE_FULL : 0;
}

static int round_txn(store_txn *t, void *arg)
{
	struct round_arg *ra = arg;
	struct sup *s = ra->s;
	/* everything decided here is tentative: a retried transaction starts from scratch */
	ledger_round_begin(&s->led);
	rows_round_begin(&s->rows);
	pbatch_round_begin(&s->pb);
	trace_round_begin(&s->trace);
	for (int i = 0; i < s->nslots; i++)
		s->slots[i].assigned = 0;
	for (size_t i = 0; i < s->nqueue; i++)
		if (round_apply_result(t, s, &s->queue[i]))
			return STORE_FULL;
	if (s->nqueue && record_delivered(t, s))
		return STORE_FULL;
	if (ledger_unsent(&s->led, t))
		return STORE_FULL;
	for (size_t i = 0; i < s->ninvalid; i++)
		if (round_apply_invalid(t, s, &s->invalid[i]))
			return STORE_FULL;
	/* idle workers first; then a next batch for busy ones (while the server cannot be
	 * reached, one batch at a time) */
	if (ra->dispatch && pbatch_fill(t, s))
		return STORE_FULL;
	int cache_hits = 0;
	int quota = reach_quota(&s->reach, proc_busy_workers(s), now_ms());
	for (int depth = 0; depth < round_slot_depth(s); depth++)
		for (int i = 0; ra->dispatch && quota && i < s->nslots && i < s->want; i++) {
			struct slot *sl = &s->slots[i];
			if (sl->nheld == depth && !sl->assigned && round_slot_wants(s, i)) {
				if (pick_for_slot(t, s, i, &cache_hits))
					return STORE_FULL;
				quota -= quota > 0 && sl->assigned;
			}
		}
	if (reach_record(&s->reach, t, s->cfg.base_url))
		return STORE_FULL;
	if (bwait_record(&s->bwait, t, s->cfg.broker))
		return STORE_FULL;
	/* status reads why a run was aborted from the store (only when its state says aborted) */
	if (s->run_state == RUN_ABORTED &&
	    store_put(t, DB_META, META_ABORT_REASON, strlen(META_ABORT_REASON), s->abort_msg,
		      strlen(s->abort_msg)))
		return STORE_FULL;
	if (pbatch_round_end(t, s))
		return STORE_FULL;
	struct moved_arg ma = { t, s };
	if (s->job.rows && (ledger_round_moves(&s->led, rows_batch_moved, &ma) ||
			    rows_round_end(&s->rows, t)))
		return STORE_FULL;
	return ledger_round_end(&s->led, t, (uint32_t)proc_live_workers(s), s->run_state,
				s->elapsed_base + (uint64_t)(now_ms() - s->session_start));
}

static void send_assigned(struct sup *s)
{
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (!sl->assigned)
			continue;
		sl->assigned = 0;
		struct msg_batch m = { .batch = sl->batch,
				       .seq = ++s->next_seq,
				       .acked = sl->acked,
				       .est_tokens = sl->req.est_tokens,
				       .attempt = sl->attempt,
				       .stage = sl->req.stage,
				       .key = sl->req.key,
				       .session = s->session_id,
				       .chunk_ids = sl->req.chunk_ids.data,
				       .chunk_ids_len = sl->req.chunk_ids.len,
				       .body = sl->req.body.data,
				       .body_len = sl->req.body.len };
		msg_encode_batch(&s->msg, &m);
		if (zsock_send(sl->push, s->msg.data, s->msg.len, 1) < 0) {
			/* EAGAIN: the worker's HELLO came over the results socket before its batch
			 * socket finished connecting; the next round tries again */
			if (errno == EAGAIN)
				log_debug("worker %d not connected yet; batch %u requeued", i, sl->batch);
			else
				log_warn("worker %d cannot take batch %u (%s); requeued", i, sl->batch,
					 strerror(errno));
			ledger_give_back(&s->led, sl->batch, sl->attempt, 0);
			continue;
		}
		ledger_out(&s->led, sl->batch);
		proc_slot_sent(s, i, sl->batch, m.seq);
		reach_probe_sent(&s->reach, sl->batch);
	}
}

/* A worker gets a batch when it has none, or its next one while it is busy if plenty is left
 * (near the end that batch would wait behind a call while another worker idles). */
int round_slot_depth(const struct sup *s)
{
	return s->led.ctr.requests_ok ? SLOT_DEPTH : SLOT_DEPTH_FIRST;
}

int round_slot_wants(const struct sup *s, int i)
{
	const struct slot *sl = &s->slots[i];
	int depth = round_slot_depth(s);
	if ((sl->state != SLOT_IDLE && sl->state != SLOT_BUSY) || sl->nheld >= depth ||
	    sl->recalled) /* (it would hand back whatever it got) */
		return 0;
	return sl->nheld == 0 || ledger_unstarted(&s->led) > (uint32_t)s->nslots * (uint32_t)depth;
}

int round_dispatchable(const struct sup *s)
{
	if (!reach_quota(&s->reach, proc_busy_workers(s), now_ms()))
		return 0;
	return ledger_unstarted(&s->led) > 0 || round_next_due_ms(s, now_ms(), 1) == 0;
}

long round_next_due_ms(const struct sup *s, int64_t now, long max)
{
	struct take_filter live;
	return ledger_next_due_ms(&s->led, now, max, live_filter(s, &live));
}

/* Room for what the round may write: the results' answers, twice (results and cache), and a
 * reference per chunk. */
static size_t round_need(const struct sup *s)
{
	size_t need = 1 << 20;
	for (size_t i = 0; i < s->nqueue; i++)
		need += s->queue[i].m.payload_len * 2 + 256 +
			(size_t)s->cfg.chunks_per_batch * (HASH_LEN + sizeof(struct chunk_ref) + 64);
	for (size_t i = 0; i < s->ninvalid; i++)
		need += s->invalid[i].len + 256;
	return need;
}

/* One try of the round's transaction, with or without the shared cache's. */
static int round_try(struct sup *s, int dispatch, int use_shared)
{
	struct round_arg ra = { s, dispatch };
	if (cache_round_begin(&s->cache, round_need(s), use_shared))
		return STORE_ERROR;
	int rc = store_write(s->db, round_txn, &ra);
	cache_round_end(&s->cache, rc == 0);
	return rc;
}

/* The results committed: their workers may forget them (told with the next message), and
 * spooled files are done with. */
static void settle_results(struct sup *s)
{
	/* what record_delivered worked out for the round is now so */
	for (int i = 0; s->nqueue && i < s->nslots && (uint32_t)i < s->now.nslots; i++)
		s->slots[i].acked = s->now.acked[i];
	for (size_t i = 0; i < s->nqueue; i++)
		free(s->queue[i].frame);
	s->nqueue = 0;
	for (size_t i = 0; i < s->ninvalid; i++)
		free(s->invalid[i].data);
	s->ninvalid = 0;
	for (size_t i = 0; i < s->nspooled; i++) {
		unlink(s->spooled[i]);
		free(s->spooled[i]);
	}
	s->nspooled = 0;
}

/* Rounds in a row whose writes the shared cache refused before the run stops, saying so. */
#define SHARED_CACHE_TRIES 3

int round_run(struct sup *s, int dispatch)
{
	int rc = round_try(s, dispatch, 1);
	if (rc && s->cache.shared_failed) {
		/* the shared cache refused a write: the results must not wait for it. Nothing is handed
		 * out in this round: its lookups would not see the shared cache, and could buy an
		 * answer it holds */
		log_warn("cannot write to the shared cache (%s); this round's answers are kept in "
			 "the run's own store", store_strerror(s->cache.shared));
		rc = round_try(s, 0, 0);
		s->shared_failures += !rc;
	} else if (!rc) {
		s->shared_failures = 0;
	}
	trace_round_end(&s->trace, rc == 0);
	if (rc) {
		if (!s->store_error[0])
			snprintf(s->store_error, sizeof s->store_error, "%s", store_strerror(s->db));
		log_error("cannot commit to the store: %s", store_strerror(s->db));
		return -1;
	}
	ledger_commit(&s->led);
	rows_commit(&s->rows);
	pbatch_commit(s);
	reach_committed(&s->reach);
	bwait_committed(&s->bwait);
	settle_results(s);
	s->last_commit = now_ms();
	send_assigned(s);
	if (s->shared_failures >= SHARED_CACHE_TRIES) {
		/* committed, and the run stops here: resume once the shared cache takes writes */
		snprintf(s->store_error, sizeof s->store_error,
			 "the shared cache (cache.path) refused %d rounds in a row: %s",
			 SHARED_CACHE_TRIES, store_strerror(s->cache.shared));
		log_error("%s", s->store_error);
		return -1;
	}
	return 0;
}
