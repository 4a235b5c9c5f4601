/* test_share.c: the window's share of the limits (limits.window_s) on made-up clocks: a
 * provider counting 480 requests a minute over 1 s windows gets 8 at once, the 9th the moment
 * the first leaves our count, and no window of a second ever holds 9; tokens are shared the
 * same way, and the broker's wait keeps them to their even pace besides (a request larger than
 * the share); a 429's lower rate shrinks the share; a window too short for one request leaves the
 * even pace in charge; a grant whose report says it went out later is counted again. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "../../supervisor/broker/pace.h"
#include "../../supervisor/broker/share.h"
#include "../../supervisor/broker/window.h"

struct fixture {
	struct grant_log g;
	struct window_share s;
	struct pace p;
	int64_t at[4096]; /* the times of the grants made, in order */
	long n, asks;      /* grants made, asks there are (at most 4096) */
	int lane;          /* wait as the broker does (share_lane_wait: the pace too) */
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof *x);
	*state = x;
	return x ? 0 : -1;
}

static int teardown(void **state)
{
	free(*state);
	return 0;
}

/* rpm and tpm, the window in seconds, from t = 0; the grant log starts where a broker's does
 * (far from 0, see broker.c). */
static void start(struct fixture *x, double rpm, double tpm, double window_s)
{
	x->g.seq = 1764000000000000ULL;
	pace_init(&x->p, rpm, tpm, 0);
	share_init(&x->s, window_s, &x->g);
	if (share_on(&x->s, &x->p))
		pace_no_slow_start(&x->p);
	x->n = 0;
	x->asks = 4096;
	x->lane = 0;
}

static int64_t wait_for(struct fixture *x, uint32_t est, int64_t t)
{
	return x->lane ? share_lane_wait(&x->s, &x->g, &x->p, est, t)
		       : share_wait(&x->s, &x->g, &x->p, est, t);
}

/* What the broker does each millisecond from t0 to t1: asks of est tokens granted while the
 * share allows (as many as wanted: every worker is waiting); with x->lane, while the share and
 * the pace allow, the pace refilled each millisecond and taken by each grant. */
static void run(struct fixture *x, int64_t t0, int64_t t1, uint32_t est)
{
	for (int64_t t = t0; t < t1 && x->n < x->asks; t++) {
		if (x->lane)
			pace_refill(&x->p, (double)t);
		share_advance(&x->s, &x->g, t);
		while (x->n < x->asks && wait_for(x, est, t) == 0) {
			if (x->lane)
				pace_take(&x->p, est);
			share_add(&x->s, &x->g, est);
			grant_log_add(&x->g, t, est);
			x->at[x->n++] = t;
		}
	}
}

/* Whether no `window` ms of the grants hold more than n: sorted times, so the (n+1)th after
 * any grant must come a whole window later. */
static int never_more_than(const struct fixture *x, long n, int64_t window)
{
	for (long i = 0; i + n < x->n; i++)
		if (x->at[i + n] - x->at[i] < window)
			return 0;
	return 1;
}

static void eight_at_once_then_the_ninth_when_the_first_leaves(void **state)
{
	struct fixture *x = *state;
	start(x, 480, 1e9, 1.0);
	assert_true(share_on(&x->s, &x->p));
	run(x, 0, 1, 100);
	assert_int_equal(x->n, 8);
	int64_t leaves = 1000 + x->s.leave_ms; /* the window, its margin's share, SHARE_LEAVE_MS */
	assert_int_equal(x->s.leave_ms, 5 + SHARE_LEAVE_MS);
	assert_int_equal(share_wait(&x->s, &x->g, &x->p, 100, 1), leaves - 1);
	run(x, 1, leaves, 100);
	assert_int_equal(x->n, 8);
	run(x, leaves, leaves + 1, 100);
	assert_int_equal(x->n, 16);
	assert_int_equal(x->at[8], leaves);
	/* a minute of it: never 9 in a second, 8 every time a share leaves, under the limit */
	run(x, leaves + 1, 60000, 100);
	assert_true(never_more_than(x, 8, 1000));
	assert_true(x->n <= 480 && x->n >= 8 * (60000 / leaves));
}

/* 60,000 tokens a minute over 1 s windows: 1,000 a window, so 3 asks of 300 at once and the 4th
 * when the first leaves; one ask larger than the whole share waits for an empty window. */
static void tokens_have_their_share(void **state)
{
	struct fixture *x = *state;
	start(x, 6000, 60000, 1.0);
	run(x, 0, 1, 300);
	assert_int_equal(x->n, 3);
	int64_t leaves = 1000 + x->s.leave_ms;
	run(x, 1, leaves + 1, 300);
	assert_int_equal(x->n, 6);
	assert_int_equal(x->at[3], leaves);
	assert_int_equal(share_wait(&x->s, &x->g, &x->p, 5000, leaves), leaves);
	assert_int_equal(share_wait(&x->s, &x->g, &x->p, 5000, 2 * leaves), 0);
}

/* 120,000 tokens a minute over 1 s windows (2,000 a window) and asks of 5,000 each, larger than
 * the share, as the broker waits for them (share_lane_wait, the pace refilled and taken): over a
 * minute no more tokens go than the limit and the one that may go into debt first. Without the
 * tokens' pace each went alone in an empty window, 55 a minute: 275,000 tokens. */
static void the_tokens_keep_their_pace(void **state)
{
	struct fixture *x = *state;
	start(x, 6000, 120000, 1.0);
	x->lane = 1;
	run(x, 0, 60000, 5000);
	assert_true(x->n >= 20);
	assert_true(x->n * 5000 <= 120000 + 5000);
}

/* After a 429 the share is the rate factor's part of the window's (the pace's AIMD). */
static void a_429_shrinks_the_share(void **state)
{
	struct fixture *x = *state;
	start(x, 480, 1e9, 1.0);
	pace_429(&x->p, 0, -1, -1, 0);
	run(x, 0, 1, 100);
	assert_int_equal(x->n, 4);
}

/* 30 requests a minute counted per second: not a whole request a window, the pace rules, with
 * its slow start; unset, likewise. */
static void a_window_too_short_leaves_the_pace(void **state)
{
	struct fixture *x = *state;
	start(x, 30, 1e9, 1.0);
	assert_false(share_on(&x->s, &x->p));
	assert_true(x->p.rate_factor < 1.0);
	start(x, 480, 1e9, 0);
	assert_false(share_on(&x->s, &x->p));
	assert_true(x->p.rate_factor < 1.0);
}

/* Grants at 0 (8 of them); the first's request went out at 400 (a slow handshake). Told before
 * the count let it go, it holds the window until 1,430; told after (at 1,200, 4 more granted at
 * 1,030), it is counted again, and with it those after it, until it leaves. */
static void a_later_send_counts_again(void **state)
{
	struct fixture *x = *state;
	start(x, 480, 1e9, 1.0);
	run(x, 0, 1, 100);
	uint64_t first = x->g.seq - 7;
	grant_log_settle(&x->g, first, 1, 0, 400, 900);
	share_settled(&x->s, &x->g, first, 900);
	run(x, 1, 1400 + x->s.leave_ms, 100);
	assert_int_equal(x->n, 8);
	run(x, 1400 + x->s.leave_ms, 1401 + x->s.leave_ms, 100);
	assert_int_equal(x->n, 16);

	start(x, 480, 1e9, 1.0);
	x->asks = 12;
	run(x, 0, 1200, 100);
	assert_int_equal(x->n, 12);
	first = x->g.seq - 11;
	assert_int_equal(share_wait(&x->s, &x->g, &x->p, 100, 1200), 0);
	grant_log_settle(&x->g, first, 1, 0, 400, 1200);
	share_settled(&x->s, &x->g, first, 1200);
	assert_int_equal(share_wait(&x->s, &x->g, &x->p, 100, 1200), 400 + 1000 + x->s.leave_ms - 1200);
	/* one that went out at once changes nothing */
	share_settled(&x->s, &x->g, first + 1, 1200);
	assert_int_equal(x->s.first, first);
}

/* The count keeps the oldest grant in the window: at 6,000 a minute over 10 s windows (1,000
 * a window), a minute's grants leave the index at the oldest still in, with the tokens of
 * those after it. */
static void the_index_follows_the_window(void **state)
{
	struct fixture *x = *state;
	start(x, 6000, 1e12, 10.0);
	run(x, 0, 25000, 7);
	assert_int_equal(x->n, 3000);
	share_advance(&x->s, &x->g, 25000);
	uint64_t in = x->g.seq + 1 - x->s.first;
	assert_int_equal(in, 1000);
	assert_true(x->s.tokens == 7.0 * 1000);
	assert_int_equal(grant_log_get(&x->g, x->s.first)->at, x->at[2000]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(eight_at_once_then_the_ninth_when_the_first_leaves, setup,
						teardown),
		cmocka_unit_test_setup_teardown(tokens_have_their_share, setup, teardown),
		cmocka_unit_test_setup_teardown(the_tokens_keep_their_pace, setup, teardown),
		cmocka_unit_test_setup_teardown(a_429_shrinks_the_share, setup, teardown),
		cmocka_unit_test_setup_teardown(a_window_too_short_leaves_the_pace, setup, teardown),
		cmocka_unit_test_setup_teardown(a_later_send_counts_again, setup, teardown),
		cmocka_unit_test_setup_teardown(the_index_follows_the_window, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
