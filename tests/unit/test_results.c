/* test_results.c: export -f tree on a made-up run in a scratch store. A document whose name
 * would lead out of the tree (absolute, or with a ".." component) is skipped with a warning:
 * nothing is written outside DIR, and metadata.json lists only the documents written. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../common/log.h"
#include "../../common/util.h"
#include "../../supervisor/cmd/results.h"

static const char *const sources[] = { "in/../evil.txt", "in/ok.txt", "/abs.txt", "in/x/../../up.txt" };
#define NDOCS (sizeof sources / sizeof sources[0])
static char dir[64];

/* A run without stages: a source, one chunk and one answered batch per document. */
static int put_run(store_txn *t, void *arg)
{
	(void)arg;
	struct config cfg;
	config_defaults(&cfg);
	buf b;
	buf_init(&b);
	config_to_json(&cfg, &b);
	int rc = store_put(t, DB_META, META_CONFIG, strlen(META_CONFIG), b.data, b.len);
	buf_free(&b);
	config_free(&cfg);
	struct plan_rec p = { .version = RUNSTATE_VERSION, .nsources = NDOCS, .nchunks = NDOCS,
			      .nbatches = NDOCS };
	rc = rc || store_put(t, DB_META, META_PLAN, strlen(META_PLAN), &p, sizeof p);
	for (uint32_t i = 0; i < NDOCS && !rc; i++) {
		unsigned char k[4];
		wr_u32be(k, i);
		struct chunk_rec c = { .source = i };
		snprintf(c.id, sizeof c.id, "%015u", i);
		struct batch_rec br = { .first_chunk = i, .nchunks = 1, .state = B_DONE, .attempts = 1 };
		const char *answer = "{\"entities\":[],\"relations\":[]}";
		rc = store_put(t, DB_SOURCES, k, 4, sources[i], strlen(sources[i])) ||
		     store_put(t, DB_CHUNKS, k, 4, &c, sizeof c) || batch_write(t, i, &br, NULL, 0) ||
		     store_put(t, DB_RESULTS, k, 4, answer, strlen(answer));
	}
	return rc ? STORE_FULL : 0;
}

static int exists(const char *rel)
{
	char path[256];
	struct stat st;
	snprintf(path, sizeof path, "%s/%s", dir, rel);
	return stat(path, &st) == 0;
}

static void test_unsafe_names_skipped(void **state)
{
	(void)state;
	char err[256] = "", db_dir[128], tree[128];
	snprintf(dir, sizeof dir, "/tmp/kgsup-results-XXXXXX");
	assert_non_null(mkdtemp(dir));
	snprintf(db_dir, sizeof db_dir, "%s/db", dir);
	snprintf(tree, sizeof tree, "%s/out/tree", dir);
	store *db = store_open(db_dir, 0, err, sizeof err);
	assert_non_null(db);
	assert_int_equal(store_write(db, put_run, NULL), 0);
	store_txn *t = store_begin(db, 0);
	struct results r;
	assert_int_equal(results_load(&r, t, err, sizeof err), 0);
	uint64_t files = 0;
	assert_int_equal(results_write_tree(&r, tree, &files, err, sizeof err), 0);
	assert_int_equal(files, 2); /* in/ok.txt/kg.json and metadata.json */
	assert_true(exists("out/tree/in/ok.txt/kg.json"));
	assert_false(exists("out/evil.txt"));
	assert_false(exists("out/tree/evil.txt"));
	assert_false(exists("out/tree/up.txt"));
	assert_false(exists("out/tree/abs.txt"));
	size_t len;
	snprintf(db_dir, sizeof db_dir, "%s/metadata.json", tree);
	char *meta = read_file(db_dir, 1 << 20, &len);
	assert_non_null(meta);
	assert_non_null(strstr(meta, "\"document\":\"in/ok.txt\""));
	assert_null(strstr(meta, "evil"));
	assert_null(strstr(meta, "abs.txt"));
	free(meta);
	results_free(&r);
	store_abort(t);
	store_close(db);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_unsafe_names_skipped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
