/* ledger_recover.c: the ledger after a crash (ledger.h, ledger_recover): what was in flight
 * goes back to pending, counted possibly billed unless a spooled answer settles it, and with
 * --retry-failed the failed and blocked batches too (and a stage over entities that embedded
 * the graph before its failed batches were retried gets a new seed, for the entities they
 * add); one write transaction of its own. */
#include "ledger.h"
#include "ledger_impl.h"
#include "../common/buf.h"
#include "../common/util.h"

#include <string.h>

struct recover_arg {
	struct ledger *l;
	int retry_failed;
	ledger_recovered_fn recovered;
	void *arg;
	int graph_retried; /* a batch of a graph stage goes back to pending */
	uint32_t seeded;   /* per stage over entities: a seed of it is still to expand */
};

static int over_entities(const struct deps *d, uint32_t stage)
{
	return stage_embeds_entities(&d->job->st[stage]);
}

/* With --retry-failed, what batch n (before it changes) says about the graph and the seeds. */
static int note_batch(struct recover_arg *ra, store_txn *t, uint32_t n, const struct batch_rec *b)
{
	const struct deps *d = ra->l->deps;
	uint32_t stage = deps_stage(d, n);
	int open = b->state != B_DONE && b->state != B_SPLIT; /* pending once recovered */
	if (d->job->st[stage].graph && (b->state == B_FAILED || b->state == B_BLOCKED))
		ra->graph_retried = 1;
	if (open && over_entities(d, stage)) {
		struct batch_ext x;
		if (batchx_read(t, n, &x))
			return -1;
		if (x.flags & BX_SEED)
			ra->seeded |= 1u << stage;
	}
	return 0;
}

/* A new seed for each stage over entities that has expanded all of its seeds, when the graph
 * is to gain entities. */
static int reseed(struct recover_arg *ra, store_txn *t)
{
	const struct deps *d = ra->l->deps;
	int rc = 0;
	for (uint32_t s = 0; ra->graph_retried && s < d->job->n && !rc; s++)
		if (over_entities(d, s) && !(ra->seeded & (1u << s)) && d->count[s])
			rc = ledger_reseed(ra->l, t, d->first[s]); /* STORE_FULL: grown, run again */
	return rc;
}

static int recover_txn(store_txn *t, void *argp)
{
	struct recover_arg *ra = argp;
	struct counters c;
	counters_read(t, &c);
	ra->l->ntrans = 0; /* (the transaction may be run again) */
	ra->l->rnbatches = ra->l->nbatches;
	ra->graph_retried = 0;
	ra->seeded = 0;
	int notes = ra->retry_failed && ra->l->deps;
	store_iter *it = store_iter_open(t, DB_BATCHES, NULL, 0);
	const void *k, *v;
	size_t kl, vl;
	buf rec;
	buf_init(&rec);
	int rc = 0;
	while (it && !rc && store_iter_next(it, &k, &kl, &v, &vl)) {
		struct batch_rec b;
		uint32_t n = rd_u32be(k);
		if (vl < sizeof b)
			continue;
		memcpy(&b, v, sizeof b);
		if (notes && n < ra->l->nbatches && note_batch(ra, t, n, &b)) {
			rc = -1;
			break;
		}
		if (b.state == B_INFLIGHT) {
			int settled = ra->recovered(ra->arg, n, b.key);
			if (settled == LEDGER_HELD)
				continue;
			ledger_set_state(ra->l, &c, n, &b, B_PENDING);
			if (!settled) {
				b.possibly_billed = 1;
				c.possibly_billed++;
			}
		} else if ((b.state == B_FAILED || b.state == B_BLOCKED) && ra->retry_failed) {
			ledger_set_state(ra->l, &c, n, &b, B_PENDING);
		} else {
			continue;
		}
		/* the error text behind the record is copied before the record is written over */
		buf_reset(&rec);
		buf_put(&rec, (const char *)v + sizeof b, vl - sizeof b);
		rc = ledger_write_rec(t, n, &b, rec.data, rec.len);
	}
	store_iter_close(it);
	buf_free(&rec);
	if (!rc && notes)
		rc = reseed(ra, t);
	ra->l->rctr = c;
	return rc ? rc : counters_write(t, &c);
}

int ledger_recover(struct ledger *l, store *db, int retry_failed, ledger_recovered_fn recovered,
		   void *arg)
{
	struct recover_arg ra = { .l = l, .retry_failed = retry_failed, .recovered = recovered,
				  .arg = arg };
	int rc = store_write(db, recover_txn, &ra);
	if (!rc) {
		l->ctr = l->rctr;
		l->nbatches = l->rnbatches;
		ledger_apply_trans(l);
	}
	l->ntrans = 0;
	return rc;
}
