/* test_window.c: the broker waits for room in the provider's window exactly as long as a
 * sliding window needs, counting back only what the provider admitted. Clocks are made up:
 * a 10 s window of 50,000 tokens (the token-bound benchmark's), requests of 4,000 tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "../../supervisor/broker/window.h"

#define W 10000  /* the window, ms */
#define RATE 5.0 /* our pace, tokens a ms: only for providers that give no reset */

struct fixture {
	struct grant_log g;
	struct provider_figure f; /* tokens */
	struct provider_figure r; /* requests */
};

static int empty(void **state)
{
	struct fixture *x = calloc(1, sizeof *x);
	figure_init(&x->f);
	figure_init(&x->r);
	*state = x;
	return x ? 0 : -1;
}

/* Three grants of 4,000 tokens at 0, 800 and 1,600 ms, admitted; the provider's answers: the
 * first alone in an empty window (reset = the whole window), the third with 1,000 tokens and
 * 2 requests (of 5) left, the first leaving at 10 s. */
static int filled(void **state)
{
	if (empty(state))
		return -1;
	struct fixture *x = *state;
	for (int i = 0; i < 3; i++)
		grant_log_add(&x->g, 800 * i, 4000);
	for (uint64_t s = 1; s <= 3; s++)
		grant_log_settle(&x->g, s, 1, 0, 0, 0);
	figure_take(&x->g, &x->f, 46000, W, 1, 100);
	figure_take(&x->g, &x->f, 1000, W - 1600, 3, 1700);
	figure_take(&x->g, &x->r, 4, W, 1, 100);
	figure_take(&x->g, &x->r, 2, W - 1600, 3, 1700);
	return 0;
}

static int done(void **state)
{
	free(*state);
	return 0;
}

static void waits_for_the_oldest_grant_to_leave(void **state)
{
	struct fixture *x = *state;
	assert_int_equal(x->f.window, W);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 1000, RATE, 2000), 0); /* fits in what remains */
	/* 4,000 needs the first grant gone: 10 s after it went, plus the 25 ms margin */
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, 2000), W + 25 - 2000);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, W + 25), 0);
	/* 7,000 needs the second one gone too, 800 ms later: not the pace's 600 ms */
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 7000, RATE, W + 25), 800);
}

static void a_refused_grant_gives_nothing_back(void **state)
{
	struct fixture *x = *state;
	grant_log_settle(&x->g, 2, 0, 0, 0, 0); /* the second was a 429 */
	/* 1,000 + 4,000 (first) + 0 (second) + 4,000 (third, at 1,600 + 10,025) */
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 7000, RATE, W + 25), 1600);
	/* and a smaller real prompt gives back only what was counted */
	grant_log_settle(&x->g, 1, 1, 2500, 0, 0);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, W + 25), 1600);
}

static void a_request_that_went_out_late_leaves_late(void **state)
{
	struct fixture *x = *state;
	/* the first request waited 13 ms for a handshake: its room comes back 13 ms later */
	grant_log_settle(&x->g, 1, 1, 0, 13, 1700);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, 2000), W + 13 + 25 - 2000);
	/* when it went out after the second, 7,000 waits for both, so for the first */
	grant_log_settle(&x->g, 1, 1, 0, 900, 1700);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 7000, RATE, W + 25), 900);
	/* a time before the grant or after the report is no time it went out */
	grant_log_settle(&x->g, 2, 1, 0, 5000, 1700);
	grant_log_settle(&x->g, 3, 1, 0, 1000, 1700);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 10000, RATE, W + 25), 1600);
}

static void grants_after_the_figure_are_charged(void **state)
{
	struct fixture *x = *state;
	grant_log_add(&x->g, 2000, 3000); /* not in the figure yet */
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 1000, RATE, 2100), W + 25 - 2100);
	/* requests: one granted since, one left */
	assert_int_equal(figure_wait(&x->g, &x->r, 0, 1, RATE, 2100), 0);
	/* none left: wait for the first grant to leave, counted from its grant, not from now */
	grant_log_add(&x->g, 2200, 4000);
	assert_int_equal(figure_wait(&x->g, &x->r, 0, 1, RATE, 2300), W + 25 - 2300);
}

static void a_short_window_gets_a_short_margin(void **state)
{
	struct fixture *x = *state;
	grant_log_add(&x->g, 0, 1);
	figure_take(&x->g, &x->r, 0, 1000, 1, 50);
	/* 25 ms on a 1 s window would hold us 2.5% under the limit: half the 0.5% pace margin */
	assert_int_equal(figure_wait(&x->g, &x->r, 0, 1, RATE, 100), 1000 + 2 - 100);
}

static void no_reset_no_replay_and_figures_grow_stale(void **state)
{
	struct fixture *x = *state;
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, 0), 0); /* no figure yet */
	grant_log_add(&x->g, 0, 4000);
	figure_take(&x->g, &x->f, 0, -1, 1, 50); /* remaining, no reset (Azure) */
	assert_int_equal(x->f.window, 0);
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, 500), 500);  /* held a second */
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, 1000), 801); /* then our pace */
	assert_int_equal(figure_wait(&x->g, &x->f, 1, 4000, RATE, 3000), 0);   /* forgotten */
}
/* A tier of 6,000 requests a minute, full: 100 grants a second for a minute, all admitted, and
 * the provider saying none remains, its oldest leaving in 10 ms. The broker must remember the
 * whole minute's grants to see the first one leave then; a log shorter than the window (4,096
 * before) had forgotten it, and held every grant until the figure went stale. */
static void a_busy_minute_is_remembered_whole(void **state)
{
	struct fixture *x = *state;
	for (int i = 0; i < 6000; i++) {
		grant_log_add(&x->g, 10 * i, 1);
		grant_log_settle(&x->g, (uint64_t)i + 1, 1, 0, 0, 10 * i);
	}
	figure_take(&x->g, &x->r, 5999, 60000, 1, 10);
	figure_take(&x->g, &x->r, 0, 10, 6000, 59990);
	int64_t wait = figure_wait(&x->g, &x->r, 0, 1, RATE, 59990);
	assert_true(wait >= 10 && wait <= 60);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(waits_for_the_oldest_grant_to_leave, filled, done),
		cmocka_unit_test_setup_teardown(a_refused_grant_gives_nothing_back, filled, done),
		cmocka_unit_test_setup_teardown(a_request_that_went_out_late_leaves_late, filled, done),
		cmocka_unit_test_setup_teardown(grants_after_the_figure_are_charged, filled, done),
		cmocka_unit_test_setup_teardown(a_short_window_gets_a_short_margin, empty, done),
		cmocka_unit_test_setup_teardown(no_reset_no_replay_and_figures_grow_stale, empty, done),
		cmocka_unit_test_setup_teardown(a_busy_minute_is_remembered_whole, empty, done),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
