/* ledger_recover.c: the ledger after a crash (ledger.h, ledger_recover): what was in flight
 * goes back to pending, counted possibly billed unless a spooled answer settles it, and with
 * --retry-failed the failed and blocked batches too; one write transaction of its own. */
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
};

static int recover_txn(store_txn *t, void *argp)
{
	struct recover_arg *ra = argp;
	struct counters c;
	counters_read(t, &c);
	ra->l->ntrans = 0; /* (the transaction may be run again) */
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
	ra->l->rctr = c;
	return rc ? rc : counters_write(t, &c);
}

int ledger_recover(struct ledger *l, store *db, int retry_failed, ledger_recovered_fn recovered,
		   void *arg)
{
	struct recover_arg ra = { l, retry_failed, recovered, arg };
	int rc = store_write(db, recover_txn, &ra);
	if (!rc) {
		l->ctr = l->rctr;
		ledger_apply_trans(l);
	}
	l->ntrans = 0;
	return rc;
}
