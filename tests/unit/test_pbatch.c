/* test_pbatch.c: the Batch API's parts: the header's state diagram is the code's table, the
 * line's url follows api.base_url, ids that may go into a URL, the provider's final statuses. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "../../common/job.h"
#include "../../supervisor/pbatch.h"
#include "../../supervisor/pbatch_impl.h"
#include "diagram.h"

static void the_header_diagram_is_the_table(void **state)
{
	(void)state;
	static const char *const names[] = { "WRITTEN", "UPLOADED", "SUBMITTED", "DOWNLOADED",
					     "COLLECTED" };
	int listed[16][16];
	memset(listed, 0, sizeof listed);
	assert_int_equal(diagram_read("supervisor/pbatch.h", names, 5, listed), 5);
	for (int a = 0; a < 5; a++)
		for (int b = 0; b < 5; b++) {
			int want = a == b || listed[a][b];
			if (want != part_legal((enum part_state)a, (enum part_state)b))
				fail_msg("%s -> %s: header says %d, table says %d", names[a], names[b], want,
					 !want);
		}
}

static void the_url_is_base_urls_path(void **state)
{
	(void)state;
	struct config c;
	config_defaults(&c);
	char url[256];
	pbatch_url(&c, EP_CHAT, url, sizeof url);
	assert_string_equal(url, "/v1/chat/completions");
	pbatch_url(&c, EP_EMBEDDINGS, url, sizeof url);
	assert_string_equal(url, "/v1/embeddings");
	free(c.base_url);
	c.base_url = strdup("http://127.0.0.1:8080/");
	pbatch_url(&c, EP_CHAT, url, sizeof url);
	assert_string_equal(url, "/chat/completions");
	free(c.base_url);
	c.base_url = strdup("https://example.test/openai/v1/");
	pbatch_url(&c, EP_EMBEDDINGS, url, sizeof url);
	assert_string_equal(url, "/openai/v1/embeddings");
	config_free(&c);
}

static void ids_and_statuses(void **state)
{
	(void)state;
	assert_true(pbatch_id_ok("batch_abc-123"));
	assert_true(pbatch_id_ok("file-XyZ"));
	assert_false(pbatch_id_ok(""));
	assert_false(pbatch_id_ok("batch/../x"));
	assert_false(pbatch_id_ok("a b"));
	assert_false(pbatch_id_ok("batch?x=1"));
	char longid[80];
	memset(longid, 'a', sizeof longid - 1);
	longid[sizeof longid - 1] = '\0';
	assert_false(pbatch_id_ok(longid));
	assert_true(pbatch_status_ended("completed"));
	assert_true(pbatch_status_ended("expired"));
	assert_true(pbatch_status_ended("cancelled"));
	assert_true(pbatch_status_ended("failed"));
	assert_false(pbatch_status_ended("cancelling"));
	assert_false(pbatch_status_ended("in_progress"));
	assert_false(pbatch_status_ended("finalizing"));
	assert_false(pbatch_status_ended("validating"));
}

/* run.mode auto: chunks (0) and a summary per document (1) read nothing; a synthesis (2) reads
 * both; an embedding stage over entities (3) waits for the graph stages (0 and 2). */
static void auto_routes_by_the_wait(void **state)
{
	(void)state;
	struct stage st[4];
	memset(st, 0, sizeof st);
	st[0].graph = 1;
	st[2].needs = 1u << 0 | 1u << 1;
	st[2].graph = 1;
	st[3].over = OVER_ENTITIES;
	struct job j = { .n = 4, .st = st };
	struct config c;
	config_defaults(&c);
	free(c.run_mode);
	c.run_mode = strdup("auto");
	c.batch_expected_h = 24;
	double wait[JOB_MAX_STAGES];
	c.batch_max_wait_h = 24; /* one round: what reads nothing */
	assert_int_equal(pbatch_route(&j, &c, wait), 0x3);
	assert_true(wait[2] == 24 && wait[3] == 24);
	c.batch_max_wait_h = 47.9; /* the entities wait for the synthesis, itself 24 h late */
	assert_int_equal(pbatch_route(&j, &c, NULL), 0x3);
	c.batch_max_wait_h = 48; /* two rounds: the synthesis too, then the entities wait 72 h */
	assert_int_equal(pbatch_route(&j, &c, wait), 0x7);
	assert_true(wait[2] == 48 && wait[3] == 48);
	c.batch_max_wait_h = 72;
	assert_int_equal(pbatch_route(&j, &c, wait), 0xf);
	assert_true(wait[3] == 72);
	c.batch_max_wait_h = 23;
	assert_int_equal(pbatch_route(&j, &c, NULL), 0);
	free(c.run_mode);
	c.run_mode = strdup("batch");
	assert_int_equal(pbatch_route(&j, &c, NULL), 0xf);
	assert_int_equal(pbatch_route_all(&j), 0xf);
	/* a graph stage listed after the entities' one: they still wait for it */
	struct stage late[3];
	memset(late, 0, sizeof late);
	late[0].graph = late[2].graph = 1;
	late[1].over = OVER_ENTITIES;
	late[2].needs = 1u << 0;
	struct job lj = { .n = 3, .st = late };
	free(c.run_mode);
	c.run_mode = strdup("auto");
	c.batch_max_wait_h = 48; /* g1 24 h, g2 48 h: the entities would be 72 h */
	assert_int_equal(pbatch_route(&lj, &c, wait), 0x5);
	assert_true(wait[1] == 48);
	free(c.run_mode);
	c.run_mode = strdup("live");
	c.batch_max_wait_h = 1000;
	assert_int_equal(pbatch_route(&j, &c, NULL), 0);
	config_free(&c);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_header_diagram_is_the_table),
		cmocka_unit_test(the_url_is_base_urls_path),
		cmocka_unit_test(ids_and_statuses),
		cmocka_unit_test(auto_routes_by_the_wait),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
