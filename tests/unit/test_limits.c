/* test_limits.c: the broker's effective limits as it publishes them (DIR/run/limits.json):
 * where each comes from (the config, the server's per-minute figure, a 429), a daily quota used
 * up pausing everyone until its reset, the file read back as written (the config's limits
 * without one), and the time a pause ends as a user reads it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "../../common/log.h"
#include "../../common/util.h"
#include "../../supervisor/broker/limits.h"
#include "../../supervisor/broker/limits_view.h"

struct fixture {
	char dir[64];
	struct config cfg;
	struct pace pace;
	struct limits lim;
	struct limits_board board;
};

static int setup(void **state)
{
	struct fixture *x = calloc(1, sizeof *x);
	snprintf(x->dir, sizeof x->dir, "/tmp/kgsup-test-limits-XXXXXX");
	if (!mkdtemp(x->dir))
		return -1;
	char run[96];
	snprintf(run, sizeof run, "%s/run", x->dir);
	mkdir(run, 0700);
	config_defaults(&x->cfg);
	x->cfg.requests_per_minute = 1200;
	pace_init(&x->pace, 1200, 100000, 0);
	limits_board_init(&x->board, x->dir, 1, ANNOUNCE_MINUTE_MS);
	limits_init(&x->lim, &x->board, NULL, &x->pace);
	*state = x;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *x = *state;
	char path[128];
	snprintf(path, sizeof path, "%s/%s", x->dir, LIMITS_FILE);
	unlink(path);
	snprintf(path, sizeof path, "%s/run", x->dir);
	rmdir(path);
	rmdir(x->dir);
	config_free(&x->cfg);
	free(x);
	return 0;
}

static struct ratelimit_info headers(int64_t limit, int64_t remaining, int64_t reset_ms)
{
	struct ratelimit_info l;
	ratelimit_clear(&l);
	l.limit_requests = limit;
	l.remaining_requests = remaining;
	l.reset_requests_ms = reset_ms;
	return l;
}

static struct limits_view published(const struct fixture *x)
{
	struct limits_view v;
	limits_view_read(&v, x->dir, &x->cfg);
	return v;
}

static void the_source_follows_the_server_and_429s(void **state)
{
	struct fixture *x = *state;
	struct limits_view v = published(x);
	assert_string_equal(v.req.source, "config");
	assert_true(v.req.effective == 1200 && v.req.announced == -1);
	/* 40 with a reset under a second: no cap, published as a per-second figure */
	struct ratelimit_info l = headers(40, 39, 900);
	assert_int_equal(limits_report(&x->lim, &x->pace, &l, 10), 0);
	v = published(x);
	assert_string_equal(v.req.source, "config");
	assert_string_equal(v.req.unit, "second");
	assert_int_equal(v.req.announced, 40);
	/* 120 with resets of a minute: the cap */
	l = headers(120, 100, 58000);
	limits_report(&x->lim, &x->pace, &l, 20);
	v = published(x);
	assert_string_equal(v.req.source, "announced");
	assert_true(v.req.effective == 120 && v.req.configured == 1200);
	/* a 429 lowers it; back at the limit, the source is the server's again */
	double before = x->pace.rate_factor;
	pace_429(&x->pace, 1000, -1, -1, 30);
	limits_lowered(&x->lim, &x->pace, before);
	v = published(x);
	assert_string_equal(v.req.source, "after_429");
	assert_true(v.req.effective < 120 && v.req.limit == 120);
	pace_refill(&x->pace, 30000);
	limits_tick(&x->lim, &x->pace, 30000);
	v = published(x);
	assert_string_equal(v.req.source, "announced");
	assert_true(v.req.effective == 120);
}

static void a_daily_quota_used_up_pauses_until_its_reset(void **state)
{
	struct fixture *x = *state;
	struct ratelimit_info l = headers(1000, 3, 5 * 3600000);
	assert_int_equal(limits_report(&x->lim, &x->pace, &l, 100), 0);
	assert_int_equal(pace_wait(&x->pace, 1, 100000), 0); /* 3 left: no pause */
	int64_t before = wall_ms();
	l = headers(1000, 0, 2 * 3600000);
	assert_int_equal(limits_report(&x->lim, &x->pace, &l, 1000), 1);
	assert_int_equal(x->pace.not_before, 1000 + 2 * 3600000);
	struct limits_view v = published(x);
	assert_string_equal(v.pause, "daily request quota exhausted");
	assert_true(v.resume_wall >= before + 2 * 3600000 && v.resume_wall <= wall_ms() + 2 * 3600000);
	assert_string_equal(v.req.source, "config"); /* a quota is no cap on the rate */
	/* over at its reset: published without the pause */
	limits_tick(&x->lim, &x->pace, 1000 + 2 * 3600000);
	v = published(x);
	assert_int_equal(v.resume_wall, 0);
	/* nothing left of a per-minute budget is no quota: the broker's window replay waits */
	l = headers(120, 0, 30000);
	struct fixture y = *x;
	pace_init(&y.pace, 1200, 100000, 0);
	limits_board_init(&y.board, y.dir, 1, ANNOUNCE_MINUTE_MS);
	limits_init(&y.lim, &y.board, NULL, &y.pace);
	assert_int_equal(limits_report(&y.lim, &y.pace, &l, 100), 0);
	assert_int_equal(published(&y).resume_wall, 0);
}

static void the_file_reads_back_and_is_the_config_without_one(void **state)
{
	struct fixture *x = *state;
	struct limits_view v, back;
	limits_view_config(&v, &x->cfg);
	v.trust = 0;
	v.req.announced = 14400;
	snprintf(v.req.unit, sizeof v.req.unit, "day");
	v.req.remaining = 12;
	v.resume_wall = 1796297046929;
	snprintf(v.pause, sizeof v.pause, "daily request quota exhausted");
	assert_int_equal(limits_view_write(x->dir, &v), 0);
	limits_view_read(&back, x->dir, &x->cfg);
	assert_int_equal(back.trust, 0);
	assert_true(back.req.effective == 1200 && back.req.limit == 1200 && back.req.configured == 1200);
	assert_string_equal(back.req.source, "config");
	assert_int_equal(back.req.announced, 14400);
	assert_string_equal(back.req.unit, "day");
	assert_int_equal(back.req.remaining, 12);
	assert_int_equal(back.tok.announced, -1);
	assert_string_equal(back.tok.unit, "");
	assert_int_equal(back.resume_wall, v.resume_wall);
	assert_string_equal(back.pause, v.pause);
	char path[128];
	snprintf(path, sizeof path, "%s/%s", x->dir, LIMITS_FILE);
	unlink(path);
	limits_view_read(&back, x->dir, &x->cfg);
	assert_true(back.req.effective == 1200 && back.tok.effective == 200000);
	assert_string_equal(back.req.source, "config");
	assert_int_equal(back.resume_wall, 0);
	assert_int_equal(back.trust, 1);
}

/* With limits.models, each model's limits are published apart: a 429 and a quota on one show on
 * it alone, and status's text names it. Without the table the file has no "models". */
static void each_model_is_published_apart(void **state)
{
	struct fixture *x = *state;
	assert_int_equal(published(x).nmodels, 0);
	struct pace pa, pb;
	struct limits la, lb;
	pace_init(&pa, 60, 5000, 0);
	pace_init(&pb, 600, 50000, 0);
	limits_init(&la, &x->board, "model-a", &pa);
	limits_init(&lb, &x->board, "model-b", &pb);
	double before = pa.rate_factor;
	pace_429(&pa, 1000, -1, -1, 30);
	limits_lowered(&la, &pa, before);
	struct ratelimit_info l = headers(14400, 0, 2 * 3600000);
	assert_int_equal(limits_report(&lb, &pb, &l, 40), 1);
	struct limits_view v = published(x);
	assert_int_equal(v.nmodels, 2);
	assert_string_equal(v.req.source, "config");
	assert_int_equal(v.resume_wall, 0);
	assert_string_equal(v.models[0].model, "model-a");
	assert_string_equal(v.models[0].req.source, "after_429");
	assert_true(v.models[0].req.limit == 60 && v.models[0].req.configured == 60);
	assert_int_equal(v.models[0].resume_wall, 0);
	assert_string_equal(v.models[1].model, "model-b");
	assert_string_equal(v.models[1].req.source, "config");
	assert_true(v.models[1].req.effective == 600 && v.models[1].tok.effective == 50000);
	assert_true(v.models[1].resume_wall > 0);
	assert_int_equal(limits_view_resume(&v), v.models[1].resume_wall);
	char text[4096] = "";
	FILE *f = fmemopen(text, sizeof text - 1, "w");
	limits_view_text(f, &v, 1);
	fclose(f);
	assert_non_null(strstr(text, "limits     other models: requests 1200 a minute: configured"));
	assert_non_null(strstr(text, "model-a: requests"));
	assert_non_null(strstr(text, "lowered after 429s, climbing back to 60"));
	assert_non_null(strstr(text, "model-b: requests 600 a minute: configured"));
	assert_non_null(strstr(text, "paused     model-b: daily request quota exhausted"));
}

static void the_pause_ends_at_a_clock_time(void **state)
{
	(void)state;
	char at[48];
	int64_t now = 1796212800000; /* 2026-12-02 12:00:00 UTC */
	limits_clock(at, sizeof at, now + 2 * 3600000, now);
	assert_string_equal(at, "14:00 UTC");
	limits_clock(at, sizeof at, now + 2 * 3600000 + 1, now); /* rounded up, never earlier */
	assert_string_equal(at, "14:01 UTC");
	limits_clock(at, sizeof at, now + 6500, now); /* a short pause to the second */
	assert_string_equal(at, "12:00:07 UTC");
	limits_clock(at, sizeof at, now + 13 * 3600000, now); /* tomorrow's */
	assert_string_equal(at, "2026-12-03 01:00 UTC");
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(the_source_follows_the_server_and_429s, setup, teardown),
		cmocka_unit_test_setup_teardown(a_daily_quota_used_up_pauses_until_its_reset, setup,
						teardown),
		cmocka_unit_test_setup_teardown(the_file_reads_back_and_is_the_config_without_one, setup,
						teardown),
		cmocka_unit_test_setup_teardown(each_model_is_published_apart, setup, teardown),
		cmocka_unit_test(the_pause_ends_at_a_clock_time),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
