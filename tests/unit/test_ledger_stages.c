/* test_ledger_stages.c: the ledger with stages. Stage b of a document goes only once stage a's
 * answer for it is committed; one whose need failed is blocked, and --retry-failed makes both
 * pending again; a round built twice or thrown away leaves parked batches parked and the
 * counters (blocked, per stage) as they were. (First written in the review of issue 18.) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "../../common/job.h"
#include "../../supervisor/ledger.h"

static char dir[64];
static store *db;
static struct config cfg;
static struct job job;

/* stage a (0) over documents, stage b (1) needing a; 2 documents: batches 0,1 of a, 2,3 of b */
static int put_plan(store_txn *t, void *arg)
{
	(void)arg;
	for (uint32_t i = 0; i < 4; i++) {
		struct batch_rec b;
		memset(&b, 0, sizeof b);
		struct batch_ext x;
		memset(&x, 0, sizeof x);
		x.stage = i / 2;
		x.doc = i % 2;
		if (batch_write(t, i, &b, NULL, 0) || batchx_write(t, i, &x))
			return STORE_FULL;
	}
	return 0;
}

static int setup(void **state)
{
	(void)state;
	char err[256];
	snprintf(dir, sizeof dir, "/tmp/kgsup-lstages-XXXXXX");
	if (!mkdtemp(dir) || !(db = store_open(dir, 0, err, sizeof err)))
		return -1;
	config_defaults(&cfg);
	const char *j = "[{\"name\":\"a\",\"over\":\"documents\",\"prompt\":{\"system\":\"s\",\"user\":\"{{document}}\"}},"
			"{\"name\":\"b\",\"over\":\"documents\",\"needs\":[\"a\"],\"prompt\":{\"system\":\"s\",\"user\":\"{{context}}\"}}]";
	if (job_parse(&job, &cfg, j, strlen(j), "job", err, sizeof err)) {
		fprintf(stderr, "%s\n", err);
		return -1;
	}
	return store_write(db, put_plan, NULL);
}

static int teardown(void **state)
{
	(void)state;
	store_close(db);
	job_free(&job);
	config_free(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static void load(struct ledger *l)
{
	struct counters c;
	memset(&c, 0, sizeof c);
	ledger_init(l, &c, 4);
	store_txn *t = store_begin(db, 0);
	struct deps *d = calloc(1, sizeof *d);
	assert_int_equal(deps_load(d, &job, t, 4, 2), 0);
	struct stage_counters sc[JOB_MAX_STAGES];
	memset(sc, 0, sizeof sc);
	ledger_set_stages(l, d, sc, job.n);
	store_abort(t);
}

static int not_recovered(void *arg, uint32_t n, const unsigned char key[HASH_LEN])
{
	(void)arg;
	(void)n;
	(void)key;
	return 0;
}

struct arg {
	struct ledger *l;
	int takes, taken[8], ntaken;
	int result; /* with a result: batch 0 done, batch 1 failed */
};

static int round_txn(store_txn *t, void *argp)
{
	struct arg *a = argp;
	ledger_round_begin(a->l);
	a->ntaken = 0;
	for (int k = 0; k < a->takes; k++) {
		uint32_t n, attempt;
		struct batch_rec b;
		if (!ledger_take(a->l, t, 0, &n, &b, &attempt))
			break;
		a->taken[a->ntaken++] = (int)n;
		memset(b.key, 1, HASH_LEN);
		b.key[0] = (unsigned char)n;
		if (ledger_send(a->l, t, n, &b))
			return STORE_FULL;
	}
	return ledger_round_end(a->l, t, 1, 0, 0);
}

static int results_txn(store_txn *t, void *argp)
{
	struct arg *a = argp;
	ledger_round_begin(a->l);
	for (uint32_t n = 0; n < 2; n++) {
		unsigned char key[HASH_LEN];
		memset(key, 1, HASH_LEN);
		key[0] = (unsigned char)n;
		struct msg_result m;
		memset(&m, 0, sizeof m);
		m.batch = n;
		m.key = key;
		m.requests_sent = 1;
		m.status = n == 0 ? RES_OK : RES_FAILED;
		m.payload = n == 0 ? "{}" : "no";
		m.payload_len = 2;
		struct batch_rec b;
		if (ledger_result(a->l, t, NULL, &m, 0, &b) == STORE_FULL)
			return STORE_FULL;
	}
	return ledger_round_end(a->l, t, 1, 0, 0);
}

/* A round run twice (as store_write does when the map filled) counts once; a round thrown away
 * leaves the parked batches parked and the counters as they were. */
static void rounds_thrown_away_leave_nothing(void **state)
{
	(void)state;
	struct ledger l;
	load(&l);
	struct arg a = { .l = &l, .takes = 8 };
	/* round 1, built twice: a's two batches go, b's two are parked */
	assert_int_equal(store_write(db, round_txn, &a), 0);
	assert_int_equal(store_write(db, round_txn, &a), 0); /* not committed to the ledger: rebuild */
	/* (the second build ran on the first's committed store: nothing pending left to take) */
	ledger_commit(&l);
	assert_int_equal(l.nwait, 2);
	assert_int_equal(l.ctr.batches_blocked, 0);
	/* the answers: 0 done, 1 failed */
	assert_int_equal(store_write(db, results_txn, &a), 0);
	ledger_commit(&l);
	/* a round that takes b's batch 2 and blocks 3, thrown away */
	store_txn *t = store_begin(db, 1);
	assert_non_null(t);
	a.takes = 8;
	assert_int_equal(round_txn(t, &a), 0);
	assert_int_equal(a.ntaken, 1);
	assert_int_equal(l.rctr.batches_blocked, 1);
	store_abort(t);
	assert_int_equal(l.ctr.batches_blocked, 0);
	struct stage_counters sc[JOB_MAX_STAGES];
	ledger_round_begin(&l);
	ledger_stage_counters(&l, sc);
	assert_int_equal(sc[1].blocked, 0);
	/* the round again, committed: 2 goes, 3 is blocked */
	assert_int_equal(store_write(db, round_txn, &a), 0);
	ledger_commit(&l);
	assert_int_equal(a.ntaken, 1);
	assert_int_equal(a.taken[0], 2);
	assert_int_equal(l.ctr.batches_blocked, 1);
	ledger_round_begin(&l);
	ledger_stage_counters(&l, sc);
	assert_int_equal(sc[1].blocked, 1);
	assert_int_equal(sc[0].failed, 1);
	assert_int_equal(sc[0].done, 1);
	assert_int_equal(l.nwait, 0);
	/* resume --retry-failed: the failed batch and the one it blocked are pending again */
	assert_int_equal(ledger_recover(&l, db, 1, not_recovered, NULL), 0);
	assert_int_equal(l.ctr.batches_blocked, 0);
	assert_int_equal(l.ctr.batches_failed, 0);
	t = store_begin(db, 0);
	struct batch_rec b;
	assert_int_equal(batch_read(t, 1, &b), 0);
	assert_int_equal(b.state, B_PENDING);
	assert_int_equal(batch_read(t, 3, &b), 0);
	assert_int_equal(b.state, B_PENDING);
	store_abort(t);
	char why[64];
	assert_int_equal(deps_status(l.deps, 3, why, sizeof why), DEP_WAIT);
	ledger_free(&l);
}

/* Stage b's batches are never handed out before stage a's answers for their document. */
static void needs_come_first(void **state)
{
	(void)state;
	struct ledger l;
	load(&l);
	struct arg a = { .l = &l, .takes = 8 };
	assert_int_equal(store_write(db, round_txn, &a), 0);
	ledger_commit(&l);
	assert_int_equal(a.ntaken, 2);
	assert_int_equal(a.taken[0], 0);
	assert_int_equal(a.taken[1], 1);
	/* nothing more while a's answers are out */
	assert_int_equal(store_write(db, round_txn, &a), 0);
	ledger_commit(&l);
	assert_int_equal(a.ntaken, 0);
	assert_true(ledger_work_left(&l));
	ledger_free(&l);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(rounds_thrown_away_leave_nothing, setup, teardown),
		cmocka_unit_test_setup_teardown(needs_come_first, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
