/* ledger_queue.c: the ledger's work to hand out (ledger.h): the set of batches out with workers,
 * the queue of batches handed back or deferred, and the takes from it and from the cursor. */
#include "ledger.h"
#include "ledger_impl.h"
#include "../common/util.h"

#include <string.h>

/* ---- the queue's index ---- */

/* Its entry, found in one look (a run may queue a whole stage's batches: ledger_take_where). */
static struct requeued *queued(const struct ledger *l, uint32_t n)
{
	uint32_t at = n < l->capqpos ? l->qpos[n] : 0;
	return at ? &l->queue[at - 1] : NULL;
}

static void qpos_set(struct ledger *l, uint32_t n, uint32_t at)
{
	if (n >= l->capqpos) {
		size_t cap = l->capqpos ? l->capqpos : 1024;
		while (cap <= n)
			cap *= 2;
		l->qpos = xrealloc(l->qpos, cap * sizeof *l->qpos);
		memset(l->qpos + l->capqpos, 0, (cap - l->capqpos) * sizeof *l->qpos);
		l->capqpos = cap;
	}
	l->qpos[n] = at;
}

void ledger_queue_compact(struct ledger *l)
{
	size_t w = 0;
	for (size_t i = 0; i < l->nqueue; i++) {
		struct requeued *q = &l->queue[i];
		if (!q->taken && !q->gone) {
			l->queue[w] = *q;
			qpos_set(l, q->batch, (uint32_t)++w);
		} else if (queued(l, q->batch) == q) {
			l->qpos[q->batch] = 0;
		}
	}
	l->nqueue = w;
	l->nqgone = 0;
}

/* ---- the out set ---- */

void ledger_out(struct ledger *l, uint32_t n)
{
	size_t byte = n / 8;
	if (byte >= l->capout) {
		size_t cap = l->capout ? l->capout : 1024;
		while (cap <= byte)
			cap *= 2;
		l->out = xrealloc(l->out, cap);
		memset(l->out + l->capout, 0, cap - l->capout);
		l->capout = cap;
	}
	l->out[byte] |= (unsigned char)(1u << (n % 8));
	/* a retry handed back in the round that also handed the batch out again is over */
	struct requeued *q = queued(l, n);
	if (q) {
		q->gone = 1;
		l->nqgone++;
		l->qpos[n] = 0;
	}
}

void ledger_back(struct ledger *l, uint32_t n)
{
	if (n / 8 < l->capout)
		l->out[n / 8] &= (unsigned char)~(1u << (n % 8));
}

int ledger_is_out(const struct ledger *l, uint32_t n)
{
	return n / 8 < l->capout && (l->out[n / 8] >> (n % 8)) & 1;
}

/* ---- the queue ---- */


void ledger_give_back(struct ledger *l, uint32_t n, uint32_t attempt, int64_t due)
{
	if (ledger_is_out(l, n))
		return; /* a worker has it: it is being asked for already */
	struct requeued *q = queued(l, n);
	if (q) { /* one entry a batch: the later attempt count, the earlier time */
		if (attempt > q->attempt)
			q->attempt = attempt;
		if (due < q->due)
			q->due = due;
		return;
	}
	l->queue = xgrow(l->queue, &l->capqueue, l->nqueue, sizeof *l->queue, 64);
	l->queue[l->nqueue++] = (struct requeued){ n, attempt, due, 0, 0 };
	qpos_set(l, n, (uint32_t)l->nqueue);
}

void ledger_worker_lost(struct ledger *l, const uint32_t *batches, int n, enum lost_how how)
{
	for (int k = 0; k < n; k++) {
		ledger_back(l, batches[k]);
		ledger_give_back(l, batches[k], 0, 0);
		if (how == LOST_UNSENT) {
			l->unsent = xgrow(l->unsent, &l->capunsent, l->nunsent, sizeof *l->unsent, 16);
			l->unsent[l->nunsent++] = batches[k];
		}
	}
	/* the request of the batch it was on may have reached the provider */
	if (n && how == LOST_KILLED)
		l->ctr.possibly_billed++;
}

int ledger_work_left(const struct ledger *l)
{
	return l->cursor < l->nbatches || l->nqueue > l->nqgone || l->nwait > 0;
}

uint64_t ledger_total(const struct ledger *l)
{
	return l->nbatches - l->ctr.batches_split;
}

uint32_t ledger_unstarted(const struct ledger *l)
{
	return l->nbatches - l->cursor;
}

uint64_t ledger_to_give(const struct ledger *l)
{
	return (uint64_t)(l->nbatches - l->cursor) + (l->nqueue - l->nqgone) + l->nwait;
}

long ledger_next_due_ms(const struct ledger *l, int64_t now, long max, const struct take_filter *f)
{
	char why[8];
	for (size_t i = 0; i < l->nwait && !(f && f->queue_only); i++) /* its needs answered (or
									   failed) since it was parked */
		if ((!f || f->ok(f->arg, l->wait[i].batch)) &&
		    deps_status(l->deps, l->wait[i].batch, why, sizeof why) != DEP_WAIT)
			return 0;
	long best = max;
	for (size_t i = 0; i < l->nqueue; i++) {
		int64_t in = l->queue[i].due - now;
		if (in < best && !l->queue[i].gone && (!f || f->ok(f->arg, l->queue[i].batch)))
			best = in < 0 ? 0 : (long)in;
	}
	return best;
}

int ledger_take(struct ledger *l, store_txn *t, int64_t now, uint32_t *n, struct batch_rec *b,
		uint32_t *attempt)
{
	return ledger_take_where(l, t, now, n, b, attempt, NULL);
}

int ledger_take_where(struct ledger *l, store_txn *t, int64_t now, uint32_t *n,
		      struct batch_rec *b, uint32_t *attempt, const struct take_filter *f)
{
	*attempt = 0;
	for (size_t i = 0; i < l->nqueue; i++) {
		struct requeued *q = &l->queue[i];
		if (q->taken || q->gone || q->due > now)
			continue;
		if (f && !f->ok(f->arg, q->batch))
			continue; /* the other taker's */
		if (ledger_is_out(l, q->batch) || batch_read(t, q->batch, b) ||
		    (b->state != B_PENDING && b->state != B_INFLIGHT)) {
			q->taken = 1;
			continue;
		}
		if (!ledger_ready(l, t, q->batch, b, 0)) {
			q->taken = b->state == B_BLOCKED;
			continue;
		}
		q->taken = 1;
		*n = q->batch;
		*attempt = q->attempt;
		return 1;
	}
	if (f && f->queue_only)
		return 0;
	/* a new batch the filter leaves to the other taker goes in the queue, for it to find there
	 * from the next round on (run.mode auto: stages live and through the Batch API) */
	while (ledger_take_cursor(l, t, n, b, 1) || (l->deps && ledger_take_waiting(l, t, n, b)) ||
	       ledger_take_cursor(l, t, n, b, 0)) {
		if (!f || f->ok(f->arg, *n))
			return 1;
		ledger_defer(l, *n, 0, now);
	}
	return 0;
}

