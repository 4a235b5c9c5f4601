/* test_pace.c: the broker's pacing on made-up clocks: the steady rate holds just under the
 * limit without a burst, a 429 pauses everyone for its Retry-After and lowers the rate (halved,
 * by a fifth under an announced limit, never under the floor), and the rate climbs back by
 * PACE_RECOVERY_PER_S a second. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>

#include "../../common/log.h"
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
		cmocka_unit_test(tokens_bound_the_rate_and_refunds_cap),
		cmocka_unit_test(a_request_that_never_went_out_comes_back),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
