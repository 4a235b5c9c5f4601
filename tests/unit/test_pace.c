/* test_pace.c: the broker's pacing on made-up clocks: the steady rate holds just under the
 * limit without a burst, a 429 pauses everyone for its Retry-After and lowers the rate (halved,
 * by a fifth under an announced limit, never under the floor), and the rate climbs back by
 * PACE_RECOVERY_PER_S a second; an announced figure caps the rate only when its resets say it
 * is per minute (announce.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "../../common/log.h"
#include "../../supervisor/broker/announce.h"
#include "../../supervisor/broker/pace.h"
#include "../../supervisor/broker/window.h"

/* Grants what the pacer allows at each millisecond from t0 to t1; returns how many. */
static long run(struct pace *p, int64_t t0, int64_t t1, uint32_t est)
{
	long n = 0;
	for (int64_t t = t0; t < t1; t++) {
		pace_refill(p, (double)t);
		while (pace_wait(p, est, t) == 0) {
			pace_take(p, est);
			n++;
		}
	}
	return n;
}

static void holds_just_under_the_limit_without_a_burst(void **state)
{
	(void)state;
	struct pace p;
	pace_init(&p, 3000, 1e9, 0); /* 50 requests a second */
	assert_int_equal(run(&p, 0, 1, 10), 1); /* one request's worth at the start, no bucket */
	long n = run(&p, 1, 60000, 10);
	/* the slow start (0.9, climbing 5% a second for 2 s) costs about 5 requests */
	double want = 3000 * PACE_MARGIN;
	assert_true(n > want - 12 && n < want);
	/* after an idle minute, no more than the margin's burst in the next second */
	pace_refill(&p, 120000);
	long burst = run(&p, 120000, 121000, 10);
	assert_true(burst <= 50);
}

/* Grants as run() does, noting each grant's time in at[] (from *n on). */
static void run_log(struct pace *p, int64_t t0, int64_t t1, int64_t *at, long *n, long max)
{
	for (int64_t t = t0; t < t1; t++) {
		pace_refill(p, (double)t);
		while (pace_wait(p, 10, t) == 0 && *n < max) {
			pace_take(p, 10);
			at[(*n)++] = t;
		}
	}
}

/* The most grants in any `window` ms of at[0..n) (in order). */
static long most_in(const int64_t *at, long n, int64_t window)
{
	long best = 0;
	for (long i = 0, j = 0; i < n; i++) {
		while (at[i] - at[j] >= window)
			j++;
		if (i - j + 1 > best)
			best = i - j + 1;
	}
	return best;
}

/* A broker killed and started again (a shared one, or a supervisor's own) knows nothing of the
 * grants it made before: its new pace must not burst for that. Across the restart, no second
 * and no minute holds more than the limit, and its own first minute grants less than it. */
static void a_restarted_broker_does_not_burst(void **state)
{
	(void)state;
	static int64_t at[20000];
	long n = 0;
	struct pace p;
	pace_init(&p, 3000, 1e9, 0); /* 50 requests a second */
	run_log(&p, 0, 30000, at, &n, 20000);
	long before = n;
	pace_init(&p, 3000, 1e9, 30200); /* killed at 30 s, back 200 ms later */
	run_log(&p, 30200, 90200, at, &n, 20000);
	assert_true(n - before < 3000);
	assert_true(most_in(at, n, 1000) <= 50);
	assert_true(most_in(at, n, 60000) <= 3000);
}

static void a_429_pauses_everyone_and_halves_the_rate(void **state)
{
	(void)state;
	struct pace p;
	pace_init(&p, 3000, 1e9, 0);
	run(&p, 0, 10000, 10);
	assert_true(fabs(p.rate_factor - 1.0) < 1e-9);
	assert_int_equal(pace_429(&p, 2000, -1, -1, 10000), 2000);
	assert_true(fabs(p.rate_factor - 0.5) < 1e-9);
	/* nothing before the Retry-After is over */
	assert_int_equal(run(&p, 10000, 12000, 10), 0);
	assert_int_equal(pace_wait(&p, 10, 11999), 1);
	/* the rate climbs back 5% a second from 0.5, during the pause too: 0.6-0.65 of 50 in the
	 * first second after it, and 1.0 ten seconds after the 429 */
	long first = run(&p, 12000, 13000, 10);
	assert_true(first >= 29 && first <= 34);
	run(&p, 13000, 22000, 10);
	assert_true(fabs(p.rate_factor - 1.0) < 1e-9);
	assert_int_equal(p.throttled, 1);
}

static void the_pause_comes_from_the_headers_in_order(void **state)
{
	(void)state;
	struct pace p;
	pace_init(&p, 600, 1e9, 0);
	assert_int_equal(pace_429(&p, -1, 700, 300, 0), 700);
	assert_int_equal(pace_429(&p, -1, -1, 300, 0), 300);
	assert_int_equal(pace_429(&p, -1, -1, -1, 0), PACE_DEFAULT_429_MS);
	assert_int_equal(p.not_before, 1000); /* the latest pause holds */
}

static void an_announced_limit_caps_and_softens(void **state)
{
	(void)state;
	struct pace p;
	pace_init(&p, 6000, 1e9, 0);
	pace_limits(&p, 3000, -1); /* the provider says 3,000 */
	assert_true(fabs(p.rpm - 3000) < 1e-9);
	pace_limits(&p, 9000, -1); /* more than configured: the configured rate stays */
	assert_true(fabs(p.rpm - 6000) < 1e-9);
	pace_refill(&p, 10000);
	pace_429(&p, 0, -1, -1, 10000);
	assert_true(fabs(p.rate_factor - 0.8) < 1e-9); /* by a fifth under an announced limit */
	for (int i = 0; i < 40; i++)
		pace_429(&p, 0, -1, -1, 10000);
	assert_true(fabs(p.rate_factor - PACE_MIN_FACTOR) < 1e-9);
}

/* The broker's path from the headers to the pace: the unit judged from the resets, the figure a
 * cap only when it is per minute. */
static int64_t announce(struct pace *p, struct announced *a, int64_t limit, int64_t remaining,
			int64_t reset_ms, int64_t minute_ms)
{
	announced_take(a, limit, remaining, reset_ms, minute_ms);
	pace_limits(p, announced_cap(a), -1);
	return (int64_t)p->rpm;
}

static void only_a_per_minute_figure_caps(void **state)
{
	(void)state;
	struct pace p;
	struct announced a;
	pace_init(&p, 1200, 1e9, 0);
	announced_init(&a);
	/* 40 with resets under a second, 39 left after our first: per second, not 40 a minute */
	assert_int_equal(announce(&p, &a, 40, 39, 950, ANNOUNCE_MINUTE_MS), 1200);
	assert_int_equal(a.unit, UNIT_SECOND);
	assert_false(p.announced);
	/* the same figure with a reset of 12 s: per minute, a cap, and a softer 429 under it */
	assert_int_equal(announce(&p, &a, 40, 30, 12000, ANNOUNCE_MINUTE_MS), 40);
	assert_int_equal(a.unit, UNIT_MINUTE);
	assert_true(p.announced);
	/* a shorter reset later does not take it back to a second */
	assert_int_equal(announce(&p, &a, 40, 39, 200, ANNOUNCE_MINUTE_MS), 40);
	/* resets hours away: a daily quota, no cap; the configured rate again */
	assert_int_equal(announce(&p, &a, 40, 12, 3 * 3600000, ANNOUNCE_MINUTE_MS), 1200);
	assert_int_equal(a.unit, UNIT_DAY);
	assert_false(p.announced);
	assert_int_equal(announced_cap(&a), -1);
}

/* OpenAI may count a minute's limit over slices of a second: resets under a second, and never
 * more than a second's share left (the mock's --window-s 1). That is a minute's figure. */
static void a_minute_counted_per_second_caps(void **state)
{
	(void)state;
	struct pace p;
	struct announced a;
	pace_init(&p, 6000, 1e9, 0);
	announced_init(&a);
	assert_int_equal(announce(&p, &a, 3000, 49, 1000, ANNOUNCE_MINUTE_MS), 3000);
	assert_int_equal(a.unit, UNIT_MINUTE);
	assert_true(a.sliced);
	assert_int_equal(announce(&p, &a, 3000, 0, 300, ANNOUNCE_MINUTE_MS), 3000);
	/* without a figure of what remains, short resets are a second's */
	announced_init(&a);
	assert_int_equal(announce(&p, &a, 3000, -1, 1000, ANNOUNCE_MINUTE_MS), 6000);
	assert_int_equal(a.unit, UNIT_SECOND);
}

static void the_unit_needs_a_reset_and_follows_the_minute(void **state)
{
	(void)state;
	struct announced a;
	announced_init(&a);
	/* a figure without a reset has no unit to go by: no cap */
	assert_int_equal(announced_take(&a, 500, 499, -1, ANNOUNCE_MINUTE_MS), 1);
	assert_int_equal(a.unit, UNIT_NONE);
	assert_int_equal(announced_cap(&a), -1);
	/* the same again is no change; a reset just over a minute is still a minute's */
	assert_int_equal(announced_take(&a, 500, 498, -1, ANNOUNCE_MINUTE_MS), 0);
	assert_int_equal(announced_take(&a, 500, 497, 61000, ANNOUNCE_MINUTE_MS), 1);
	assert_int_equal(announced_cap(&a), 500);
	/* a reset without the figure still counts for the judgement */
	announced_init(&a);
	assert_int_equal(announced_take(&a, -1, -1, 90000, ANNOUNCE_MINUTE_MS), 0);
	announced_take(&a, 500, 499, 100, ANNOUNCE_MINUTE_MS);
	assert_int_equal(a.unit, UNIT_DAY);
	/* a minute shortened to 1 s (the integration test's): a reset of 5 s is past it */
	announced_init(&a);
	announced_take(&a, 8, 7, 5000, 1000);
	assert_int_equal(a.unit, UNIT_DAY);
	announced_init(&a);
	announced_take(&a, 8, 7, 15, 1000);
	assert_int_equal(a.unit, UNIT_SECOND);
}

static void tokens_bound_the_rate_and_refunds_cap(void **state)
{
	(void)state;
	struct pace p;
	pace_init(&p, 1e6, 60000, 0); /* 1,000 tokens a second */
	run(&p, 0, 3000, 100);        /* past the slow start */
	long n = run(&p, 3000, 13000, 100);
	assert_true(n >= 97 && n <= 100); /* ten a second */
	pace_refund(&p, 1e9);
	assert_true(p.tok_level <= p.tok_cap);
	pace_cap_tokens(&p, 0);
	assert_true(p.tok_level == 0);
	assert_true(pace_wait(&p, 100, 13000) > 0);
}

static void a_request_that_never_went_out_comes_back(void **state)
{
	(void)state;
	struct pace p;
	pace_init(&p, 60, 1e9, 0); /* one a second */
	pace_refill(&p, 0);
	assert_int_equal(pace_wait(&p, 1, 0), 0);
	pace_take(&p, 1);
	assert_true(pace_wait(&p, 1, 0) > 0);
	pace_refund_request(&p); /* it could not connect */
	assert_int_equal(pace_wait(&p, 1, 0), 0);
	pace_refund_request(&p);
	assert_true(p.req_level <= p.req_cap);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(holds_just_under_the_limit_without_a_burst),
		cmocka_unit_test(a_429_pauses_everyone_and_halves_the_rate),
		cmocka_unit_test(the_pause_comes_from_the_headers_in_order),
		cmocka_unit_test(an_announced_limit_caps_and_softens),
		cmocka_unit_test(only_a_per_minute_figure_caps),
		cmocka_unit_test(a_minute_counted_per_second_caps),
		cmocka_unit_test(the_unit_needs_a_reset_and_follows_the_minute),
		cmocka_unit_test(tokens_bound_the_rate_and_refunds_cap),
		cmocka_unit_test(a_request_that_never_went_out_comes_back),
		cmocka_unit_test(a_restarted_broker_does_not_burst),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
