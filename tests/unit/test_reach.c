/* test_reach.c: the pause while the server cannot be reached: nothing is held until a call
 * cannot connect; then one batch at a time goes, once the backoff is over and nothing is out;
 * only the probe's own failure doubles the backoff (up to the cap), and any answer ends the
 * wait. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../common/log.h"
#include "../../common/util.h"
#include "../../supervisor/reach.h"

static void one_probe_at_a_time_with_backoff(void **state)
{
	(void)state;
	struct config cfg;
	config_defaults(&cfg);
	cfg.backoff_base_ms = 100000; /* far beyond the test's own run time */
	cfg.backoff_cap_ms = 300000;
	struct reach r;
	reach_init(&r);
	int64_t now = now_ms();
	assert_int_equal(reach_quota(&r, 3, now), -1); /* not waiting: no limit */
	reach_lost(&r, &cfg, 7, "Connection refused", 18);
	assert_true(r.waiting && r.dirty);
	assert_string_equal(r.reason, "Connection refused");
	assert_int_equal(reach_quota(&r, 0, now), 0); /* the backoff first */
	int64_t due = r.next_probe;
	assert_int_equal(reach_quota(&r, 1, due), 0); /* a batch still out */
	assert_int_equal(reach_quota(&r, 0, due), 1);
	/* batches out when the wait began come back: no more backoff for them */
	reach_lost(&r, &cfg, 8, "Connection refused", 18);
	assert_int_equal(r.next_probe, due);
	reach_probe_sent(&r, 9);
	reach_lost(&r, &cfg, 9, "Connection refused", 18);
	assert_int_equal(r.delay, 200000);
	assert_true(r.next_probe > due);
	reach_probe_sent(&r, 9);
	reach_lost(&r, &cfg, 9, "Connection refused", 18);
	assert_int_equal(r.delay, 300000); /* the cap */
	reach_answered(&r, &cfg);
	assert_false(r.waiting);
	assert_int_equal(reach_quota(&r, 5, now_ms()), -1);
	config_free(&cfg);
}

static void the_line_says_server_time_and_reason(void **state)
{
	(void)state;
	char line[256];
	reach_describe(line, sizeof line, 0, "https://h:1/v1", "Connection refused");
	assert_int_equal(strncmp(line, "waiting for the server at https://h:1/v1 since ", 47), 0);
	assert_non_null(strstr(line, ": Connection refused"));
	assert_int_equal(strlen(line), strlen("waiting for the server at https://h:1/v1 since "
					      "HH:MM:SS: Connection refused"));
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(one_probe_at_a_time_with_backoff),
		cmocka_unit_test(the_line_says_server_time_and_reason),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
