/* test_ledger.c: the batch ledger on made-up batches in a scratch store. Whatever results
 * arrive, in whatever order, the counters always add up to what the records say, a batch is
 * never handed out while a worker holds it, and the run ends with every batch done or failed.
 * The transition table is the one ledger.h shows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/log.h"
#include "../../common/util.h"
#include "../../supervisor/ledger.h"
#include "diagram.h"

#define NBATCHES 200

static char dir[64];
static store *db;
static struct plan_rec plan;

static int put_plan(store_txn *t, void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < NBATCHES; i++) {
		struct batch_rec b;
		memset(&b, 0, sizeof b);
		b.first_chunk = i * 4;
		b.nchunks = 4;
		if (batch_write(t, i, &b, NULL, 0))
			return STORE_FULL;
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	char err[256];
	snprintf(dir, sizeof dir, "/tmp/kgsup-ledger-XXXXXX");
	if (!mkdtemp(dir) || !(db = store_open(dir, 0, err, sizeof err)))
		return -1;
	memset(&plan, 0, sizeof plan);
	plan.nbatches = NBATCHES;
	return store_write(db, put_plan, NULL);
}

static int teardown(void **state)
{
	(void)state;
	store_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* What the records say, counted afresh, against the ledger's committed counters. */
static void assert_counters_add_up(struct ledger *l)
{
	store_txn *t = store_begin(db, 0);
	assert_non_null(t);
	uint64_t by[5] = { 0 };
	uint32_t records = 0;
	for (uint32_t i = 0; i < l->nbatches; i++) {
		struct batch_rec b;
		assert_int_equal(batch_read(t, i, &b), 0);
		assert_true(b.state <= B_SPLIT);
		by[b.state]++;
		records++;
	}
	store_abort(t);
	assert_int_equal(records, l->nbatches);
	assert_int_equal(by[B_DONE], l->ctr.batches_done);
	assert_int_equal(by[B_FAILED], l->ctr.batches_failed);
	assert_int_equal(by[B_SPLIT], l->ctr.batches_split);
	assert_int_equal(ledger_total(l), by[B_PENDING] + by[B_INFLIGHT] + by[B_DONE] + by[B_FAILED]);
}

struct out {
	uint32_t batch, nchunks;
	unsigned char key[HASH_LEN];
};

/* A made-up request key for batch n. */
static void key_of(uint32_t n, unsigned char key[HASH_LEN])
{
	memset(key, 0, HASH_LEN);
	memcpy(key, "req", 3);
	wr_u32be(key + 4, n + 1);
}

struct sim {
	struct ledger *l;
	struct out held[16];
	int nheld;
	uint32_t rng;
	uint64_t sent;
};

static uint32_t next_rand(struct sim *s)
{
	s->rng = s->rng * 1103515245u + 12345u;
	return (s->rng >> 16) & 0x7fff;
}

/* A result for a held batch, as a worker would send it: mostly answers, some retries, some
 * failures, splits of batches of more than a chunk, calls that could not connect (nothing
 * sent), and now and then a stale duplicate. */
static void make_result(struct sim *s, const struct out *o, struct msg_result *m)
{
	static const char answer[] = "{\"entities\":[],\"relations\":[]}";
	memset(m, 0, sizeof *m);
	m->batch = o->batch;
	m->key = o->key;
	m->requests_sent = 1;
	uint32_t r = next_rand(s) % 20;
	if (r < 12) {
		m->status = RES_OK;
		m->requests_ok = 1;
		m->payload = answer;
		m->payload_len = sizeof answer - 1;
	} else if (r < 15) {
		m->status = RES_RETRY;
		m->retry_in_ms = 0;
	} else if (r < 17 && o->nchunks > 1) {
		m->status = RES_SPLIT;
	} else if (r < 18) {
		m->status = RES_FAILED;
		m->payload = "HTTP 400";
		m->payload_len = 8;
	} else if (r < 19) {
		m->status = RES_NOCONN;
		m->requests_sent = 0;
		m->payload = "Connection refused";
		m->payload_len = 18;
	} else {
		m->status = RES_GAVEUP;
		m->requests_sent = 0;
	}
}

struct round_arg {
	struct sim *s;
	struct msg_result res[16];
	unsigned char keys[16][HASH_LEN]; /* what res[i].key points at */
	int nres;
	struct out taken[16];
	int ntaken;
	int want;
};

static int round_txn(store_txn *t, void *argp)
{
	struct round_arg *ra = argp;
	struct ledger *l = ra->s->l;
	ledger_round_begin(l);
	for (int i = 0; i < ra->nres; i++) {
		struct batch_rec b;
		if (ledger_result(l, t, &plan, &ra->res[i], 0, &b) == STORE_FULL)
			return STORE_FULL;
	}
	ra->ntaken = 0;
	uint32_t n, attempt;
	struct batch_rec b;
	while (ra->ntaken < ra->want && ledger_take(l, t, 0, &n, &b, &attempt)) {
		assert_false(ledger_is_out(l, n));
		for (int k = 0; k < ra->ntaken; k++)
			assert_int_not_equal(ra->taken[k].batch, n);
		key_of(n, b.key);
		if (ledger_send(l, t, n, &b))
			return STORE_FULL;
		ra->taken[ra->ntaken] = (struct out){ n, b.nchunks, { 0 } };
		memcpy(ra->taken[ra->ntaken++].key, b.key, HASH_LEN);
	}
	return ledger_round_end(l, t, 0, RUN_RUNNING, 0);
}

/* One round: results of some held batches (and a stale one), then new batches out. */
static void one_round(struct sim *s, struct round_arg *ra)
{
	ra->nres = 0;
	int give = s->nheld ? (int)(next_rand(s) % (uint32_t)s->nheld) + 1 : 0;
	for (int k = 0; k < give; k++) {
		struct out o = s->held[0];
		memmove(s->held, s->held + 1, (size_t)(s->nheld - 1) * sizeof *s->held);
		s->nheld--;
		ledger_back(s->l, o.batch);
		memcpy(ra->keys[ra->nres], o.key, HASH_LEN);
		make_result(s, &o, &ra->res[ra->nres]);
		ra->res[ra->nres].key = ra->keys[ra->nres];
		ra->nres++;
		if (ra->res[ra->nres - 1].status == RES_GAVEUP) /* as the supervisor's intake does */
			ledger_give_back(s->l, o.batch, 0, 0);
		if (next_rand(s) % 10 == 0 && ra->nres < 16) { /* the same answer again (a spool) */
			ra->res[ra->nres] = ra->res[ra->nres - 1];
			memcpy(ra->keys[ra->nres], ra->keys[ra->nres - 1], HASH_LEN);
			ra->res[ra->nres].key = ra->keys[ra->nres];
			ra->nres++;
		}
	}
	ra->want = 8 - s->nheld;
	assert_int_equal(store_write(db, round_txn, ra), 0);
	ledger_commit(s->l);
	for (int k = 0; k < ra->ntaken; k++) {
		ledger_out(s->l, ra->taken[k].batch);
		s->held[s->nheld++] = ra->taken[k];
		s->sent++;
	}
}

/* A fresh ledger over the plan, and a simulation of workers around it. */
static void start(struct ledger *l, struct sim *s, struct round_arg *ra, uint32_t seed)
{
	struct counters c;
	memset(&c, 0, sizeof c);
	ledger_init(l, &c, NBATCHES);
	*s = (struct sim){ .l = l, .rng = seed };
	memset(ra, 0, sizeof *ra);
	ra->s = s;
}

static void counters_add_up_whatever_comes_back(void **state)
{
	(void)state;
	struct ledger l;
	struct sim s;
	struct round_arg ra;
	start(&l, &s, &ra, 7);
	int rounds = 0;
	while ((ledger_work_left(&l) || s.nheld) && rounds < 100000) {
		one_round(&s, &ra);
		assert_counters_add_up(&l);
		rounds++;
		if (rounds == 50) { /* a worker dies holding what it has */
			uint32_t lost[16];
			for (int k = 0; k < s.nheld; k++)
				lost[k] = s.held[k].batch;
			ledger_worker_lost(&l, lost, s.nheld, LOST_KILLED);
			s.nheld = 0;
			assert_int_equal(l.ctr.possibly_billed, 1);
		}
	}
	assert_false(ledger_work_left(&l));
	assert_int_equal(l.ctr.batches_done + l.ctr.batches_failed, ledger_total(&l));
	assert_true(l.ctr.batches_split > 0);
	assert_true(l.ctr.batches_failed > 0);
	ledger_free(&l);
}

static int never(void *arg, uint32_t n, const unsigned char key[HASH_LEN])
{
	(void)arg;
	(void)n;
	(void)key;
	return 0;
}

struct foreign_arg {
	struct ledger *l;
	struct msg_result m;
	int rc;
};

static int apply_one(store_txn *t, void *argp)
{
	struct foreign_arg *fa = argp;
	struct batch_rec b;
	ledger_round_begin(fa->l);
	fa->rc = ledger_result(fa->l, t, &plan, &fa->m, 0, &b);
	return fa->rc == STORE_FULL ? STORE_FULL : ledger_round_end(fa->l, t, 0, RUN_RUNNING, 0);
}

/* An answer to another request (a spool of an earlier plan) moves no batch of this one, even
 * one of the same number; one to a batch never sent (no key yet) neither. */
static void an_answer_to_another_request_is_foreign(void **state)
{
	(void)state;
	struct ledger l;
	struct sim s;
	struct round_arg ra;
	start(&l, &s, &ra, 3);
	one_round(&s, &ra); /* batches 0-7 out, with their keys */
	unsigned char other[HASH_LEN];
	key_of(9999, other);
	struct foreign_arg fa = { .l = &l };
	fa.m.batch = 0;
	fa.m.status = RES_OK;
	fa.m.requests_sent = fa.m.requests_ok = 1;
	fa.m.key = other;
	fa.m.payload = "{}";
	fa.m.payload_len = 2;
	assert_int_equal(store_write(db, apply_one, &fa), 0);
	ledger_commit(&l);
	assert_int_equal(fa.rc, LEDGER_FOREIGN);
	fa.m.batch = 100; /* never sent */
	assert_int_equal(store_write(db, apply_one, &fa), 0);
	ledger_commit(&l);
	assert_int_equal(fa.rc, LEDGER_FOREIGN);
	assert_int_equal(l.ctr.batches_done, 0);
	assert_int_equal(l.ctr.requests_ok, 2); /* what was bought is counted all the same */
	assert_counters_add_up(&l);
	ledger_free(&l);
}

static void recovery_after_a_crash(void **state)
{
	(void)state;
	struct ledger l;
	struct sim s;
	struct round_arg ra;
	start(&l, &s, &ra, 11);
	for (int i = 0; i < 40; i++)
		one_round(&s, &ra);
	int inflight = s.nheld;
	assert_true(inflight > 0);
	assert_true(l.ctr.batches_failed > 0);
	/* the session dies: a new ledger from what was committed */
	struct ledger l2;
	ledger_init(&l2, &l.ctr, l.nbatches);
	assert_int_equal(ledger_recover(&l2, db, 1, never, NULL), 0);
	assert_int_equal(l2.ctr.possibly_billed, (uint64_t)inflight);
	assert_int_equal(l2.ctr.batches_failed, 0);
	assert_counters_add_up(&l2);
	ledger_free(&l);
	ledger_free(&l2);
}

/* Which results settle a request: its answer, a 4xx refusal, or no request at all. */
static void a_refusal_settles_a_timeout_does_not(void **state)
{
	(void)state;
	static const struct {
		uint32_t status, http, sent;
		int settled;
	} rows[] = {
		{ RES_OK, 200, 1, 1 },     { RES_ABORT, 401, 1, 1 },   { RES_ABORT, 404, 1, 1 },
		{ RES_RETRY, 429, 1, 1 },  { RES_FAILED, 400, 1, 1 },  { RES_GAVEUP, 0, 0, 1 },
		{ RES_RETRY, 0, 1, 0 },    { RES_RETRY, 500, 1, 0 },   { RES_FAILED, 0, 1, 0 },
		{ RES_FAILED, 503, 1, 0 },
	};
	for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
		struct msg_result m = { .status = rows[i].status, .http_status = rows[i].http,
					.requests_sent = rows[i].sent };
		if (ledger_settled(&m) != rows[i].settled)
			fail_msg("status %u, HTTP %u, %u sent: settled %d", rows[i].status, rows[i].http,
				 rows[i].sent, !rows[i].settled);
	}
}

static enum batch_state state_of(uint32_t n)
{
	store_txn *t = store_begin(db, 0);
	struct batch_rec b;
	assert_int_equal(batch_read(t, n, &b), 0);
	store_abort(t);
	return (enum batch_state)b.state;
}

static int unsent_round(store_txn *t, void *arg)
{
	struct ledger *l = arg;
	ledger_round_begin(l);
	return ledger_unsent(l, t) ? STORE_FULL : ledger_round_end(l, t, 0, RUN_RUNNING, 0);
}

/* A batch refused with a 401 (the run stops on it), and batches whose worker ended on its own
 * holding them, are pending in the store, not in flight: the next session counts none of them
 * possibly billed. Batches of a worker killed as the run stopped stay in flight and are. */
static void refused_or_unsent_is_not_possibly_billed(void **state)
{
	(void)state;
	struct ledger l;
	struct sim s;
	struct round_arg ra;
	start(&l, &s, &ra, 5);
	one_round(&s, &ra); /* batches 0-7 out */
	assert_int_equal(s.nheld, 8);
	struct foreign_arg fa = { .l = &l };
	fa.m.batch = s.held[0].batch;
	fa.m.key = s.held[0].key;
	fa.m.status = RES_ABORT;
	fa.m.http_status = 401;
	fa.m.requests_sent = 1;
	fa.m.payload = "HTTP 401 (the API refused the key)";
	fa.m.payload_len = strlen(fa.m.payload);
	ledger_back(&l, fa.m.batch);
	assert_int_equal(store_write(db, apply_one, &fa), 0);
	ledger_commit(&l);
	assert_int_equal(state_of(s.held[0].batch), B_PENDING);
	uint32_t unsent[2] = { s.held[1].batch, s.held[2].batch };
	ledger_worker_lost(&l, unsent, 2, LOST_UNSENT);
	uint32_t killed[2] = { s.held[3].batch, s.held[4].batch };
	ledger_worker_lost(&l, killed, 2, LOST_STOPPING);
	assert_int_equal(store_write(db, unsent_round, &l), 0);
	ledger_commit(&l);
	assert_int_equal(state_of(unsent[0]), B_PENDING);
	assert_int_equal(state_of(unsent[1]), B_PENDING);
	assert_int_equal(state_of(killed[0]), B_INFLIGHT);
	assert_int_equal(l.ctr.possibly_billed, 0);
	/* the next session: the killed worker's two and the three still held elsewhere */
	struct ledger l2;
	ledger_init(&l2, &l.ctr, l.nbatches);
	assert_int_equal(ledger_recover(&l2, db, 0, never, NULL), 0);
	assert_int_equal(l2.ctr.possibly_billed, 5);
	assert_counters_add_up(&l2);
	ledger_free(&l);
	ledger_free(&l2);
}

static void one_queue_entry_a_batch(void **state)
{
	(void)state;
	struct ledger l;
	struct counters c;
	memset(&c, 0, sizeof c);
	ledger_init(&l, &c, NBATCHES);
	l.cursor = NBATCHES; /* only what is given back can be taken */
	ledger_give_back(&l, 5, 0, 0);
	ledger_give_back(&l, 5, 2, 0);
	ledger_out(&l, 6);
	ledger_give_back(&l, 6, 0, 0); /* held: nothing to queue */
	assert_int_equal(l.nqueue, 1);
	assert_int_equal(l.queue[0].attempt, 2);
	store_txn *t = store_begin(db, 0);
	ledger_round_begin(&l);
	uint32_t n, attempt;
	struct batch_rec b;
	assert_int_equal(ledger_take(&l, t, 0, &n, &b, &attempt), 1);
	assert_int_equal(n, 5);
	assert_int_equal(ledger_take(&l, t, 0, &n, &b, &attempt), 0);
	store_abort(t);
	/* a retry handed back in the round that hands the batch out again: once it is out, the
	 * queue holds nothing of it (work would seem left until the retry's time) */
	ledger_commit(&l);
	ledger_give_back(&l, 5, 1, 60000);
	assert_int_equal(l.nqueue, 1);
	ledger_out(&l, 5);
	assert_int_equal(l.nqueue - l.nqgone, 0); /* (the entry itself goes at the next commit) */
	assert_false(ledger_work_left(&l));
	ledger_free(&l);
}

static void the_header_diagram_is_the_table(void **state)
{
	(void)state;
	static const char *const names[] = { "PENDING", "INFLIGHT", "DONE", "FAILED", "SPLIT",
					     "BLOCKED" };
	int listed[16][16];
	memset(listed, 0, sizeof listed);
	assert_int_equal(diagram_read("supervisor/ledger.h", names, 6, listed), 6);
	for (int a = 0; a < 6; a++)
		for (int b = 0; b < 6; b++) {
			int want = a == b || listed[a][b];
			if (want != ledger_legal((enum batch_state)a, (enum batch_state)b))
				fail_msg("%s -> %s: header says %d, table says %d", names[a], names[b], want,
					 !want);
		}
}

int main(void)
{
	log_set_level(LOG_ERROR); /* splits and failures are logged at info and warn */
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(counters_add_up_whatever_comes_back, setup, teardown),
		cmocka_unit_test_setup_teardown(recovery_after_a_crash, setup, teardown),
		cmocka_unit_test_setup_teardown(one_queue_entry_a_batch, setup, teardown),
		cmocka_unit_test_setup_teardown(an_answer_to_another_request_is_foreign, setup, teardown),
		cmocka_unit_test(a_refusal_settles_a_timeout_does_not),
		cmocka_unit_test_setup_teardown(refused_or_unsent_is_not_possibly_billed, setup, teardown),
		cmocka_unit_test(the_header_diagram_is_the_table),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
