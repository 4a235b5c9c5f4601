/* test_window.c: the broker waits for room in the provider's window exactly as long as a
 * sliding window needs, counting back only what the provider admitted. Clocks are made up:
 * a 10 s window of 50,000 tokens (the token-bound benchmark's), requests of 4,000 tokens. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>

#include "../../supervisor/window.h"

#define W 10000  /* the window, ms */
#define RATE 5.0 /* our pace, tokens a ms: only for providers that give no reset */

static struct grant_log *log_new(void)
{
	return calloc(1, sizeof(struct grant_log));
}

/* Three grants of 4,000 tokens at 0, 800 and 1,600 ms, admitted; the provider's answers: the
 * first alone in an empty window (reset = the whole window), the third with 1,000 left and
 * the first leaving at 10 s. */
static void fill(struct grant_log *g, struct provider_figure *f)
{
	*f = (struct provider_figure){ -1, 0, 0, 0, 0 };
	for (int i = 0; i < 3; i++)
		grant_log_add(g, 800 * i, 4000);
	for (uint64_t s = 1; s <= 3; s++)
		grant_log_settle(g, s, 1, 0);
	figure_take(g, f, 46000, W, 1, 100);
	figure_take(g, f, 1000, W - 1600, 3, 1700);
}

static void waits_for_the_oldest_grant_to_leave(void **state)
{
	(void)state;
	struct grant_log *g = log_new();
	struct provider_figure f;
	fill(g, &f);
	assert_int_equal(f.window, W);
	assert_int_equal(figure_wait(g, &f, 1, 1000, RATE, 2000), 0); /* fits in what remains */
	/* 4,000 needs the first grant gone: 10 s after it went, plus the 25 ms margin */
	assert_int_equal(figure_wait(g, &f, 1, 4000, RATE, 2000), W + 25 - 2000);
	assert_int_equal(figure_wait(g, &f, 1, 4000, RATE, W + 25), 0);
	/* 7,000 needs the second one gone too, 800 ms later: not the pace's 600 ms */
	assert_int_equal(figure_wait(g, &f, 1, 7000, RATE, W + 25), 800);
	free(g);
}

static void a_refused_grant_gives_nothing_back(void **state)
{
	(void)state;
	struct grant_log *g = log_new();
	struct provider_figure f;
	fill(g, &f);
	grant_log_settle(g, 2, 0, 0); /* the second was a 429 */
	/* 1,000 + 4,000 (first) + 0 (second) + 4,000 (third, at 1,600 + 10,025) */
	assert_int_equal(figure_wait(g, &f, 1, 7000, RATE, W + 25), 1600);
	/* and a smaller real prompt gives back only what was counted */
	grant_log_settle(g, 1, 1, 2500);
	assert_int_equal(figure_wait(g, &f, 1, 4000, RATE, W + 25), 1600);
	free(g);
}

static void grants_after_the_figure_are_charged(void **state)
{
	(void)state;
	struct grant_log *g = log_new();
	struct provider_figure f;
	fill(g, &f);
	grant_log_add(g, 2000, 3000); /* not in the figure yet */
	assert_int_equal(figure_wait(g, &f, 1, 1000, RATE, 2100), W + 25 - 2100);
	/* requests: one granted since, one left: a second must wait for the first grant */
	struct provider_figure r = { -1, 0, 0, 0, 0 };
	figure_take(g, &r, 2, W, 3, 1700);
	assert_int_equal(figure_wait(g, &r, 0, 1, RATE, 2100), 0);
	grant_log_add(g, 2200, 4000);
	assert_int_equal(figure_wait(g, &r, 0, 1, RATE, 2300), W + 25 - 2300);
	free(g);
}

static void a_short_window_gets_a_short_margin(void **state)
{
	(void)state;
	struct grant_log *g = log_new();
	struct provider_figure f = { -1, 0, 0, 0, 0 };
	grant_log_add(g, 0, 1);
	figure_take(g, &f, 0, 1000, 1, 50);
	/* 25 ms on a 1 s window would hold us 2.5% under the limit: half the 0.5% pace margin */
	assert_int_equal(figure_wait(g, &f, 0, 1, RATE, 100), 1000 + 2 - 100);
	free(g);
}

static void no_reset_no_replay_and_figures_grow_stale(void **state)
{
	(void)state;
	struct grant_log *g = log_new();
	struct provider_figure f = { -1, 0, 0, 0, 0 };
	grant_log_add(g, 0, 4000);
	figure_take(g, &f, 0, -1, 1, 50); /* remaining, no reset (Azure) */
	assert_int_equal(f.window, 0);
	assert_int_equal(figure_wait(g, &f, 1, 4000, RATE, 500), 500); /* held a second */
	assert_int_equal(figure_wait(g, &f, 1, 4000, RATE, 1000), 801); /* then room at our pace */
	assert_int_equal(figure_wait(g, &f, 1, 4000, RATE, 3000), 0);   /* forgotten */
	free(g);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(waits_for_the_oldest_grant_to_leave),
		cmocka_unit_test(a_refused_grant_gives_nothing_back),
		cmocka_unit_test(grants_after_the_figure_are_charged),
		cmocka_unit_test(a_short_window_gets_a_short_margin),
		cmocka_unit_test(no_reset_no_replay_and_figures_grow_stale),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
