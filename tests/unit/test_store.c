/* test_store.c: the LMDB wrapper: records survive reopening, iteration is in key order,
 * and a map too small for the data grows by itself. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "../../common/store.h"
#include "../../common/util.h"

static char dir[64];

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kgsup-store-XXXXXX");
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

static int put_many(store_txn *t, void *arg)
{
	int n = *(int *)arg;
	char val[1000];
	memset(val, 'x', sizeof val);
	for (int i = 0; i < n; i++) {
		unsigned char k[4];
		wr_u32be(k, (uint32_t)i);
		int rc = store_put(t, DB_CHUNKS, k, 4, val, sizeof val);
		if (rc)
			return rc;
	}
	return 0;
}

static void records_survive_reopen_in_key_order(void **state)
{
	(void)state;
	char err[256];
	store *s = store_open(dir, 0, err, sizeof err);
	assert_non_null(s);
	int n = 300;
	assert_int_equal(store_write(s, put_many, &n), 0);
	store_close(s);
	s = store_open(dir, 1, err, sizeof err);
	assert_non_null(s);
	store_txn *t = store_begin(s, 0);
	assert_int_equal(store_count(t, DB_CHUNKS), 300);
	unsigned char start[4];
	wr_u32be(start, 250);
	store_iter *it = store_iter_open(t, DB_CHUNKS, start, 4);
	const void *k, *v;
	size_t kl, vl;
	uint32_t expect = 250;
	while (store_iter_next(it, &k, &kl, &v, &vl))
		assert_int_equal(rd_u32be(k), expect++);
	assert_int_equal(expect, 300);
	store_iter_close(it);
	const void *val;
	size_t len;
	assert_int_equal(store_get(t, DB_RESULTS, "nope", 4, &val, &len), STORE_NOTFOUND);
	store_abort(t);
	store_close(s);
}

static void map_grows_when_full(void **state)
{
	(void)state;
	char err[256];
	store *s = store_open(dir, 0, err, sizeof err);
	assert_non_null(s);
	/* ~200 MB in one transaction: far beyond the 64 MiB initial map */
	int n = 200000;
	assert_int_equal(store_write(s, put_many, &n), 0);
	store_txn *t = store_begin(s, 0);
	assert_int_equal(store_count(t, DB_CHUNKS), 200000);
	store_abort(t);
	struct stat st;
	char path[128];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	assert_int_equal(stat(path, &st), 0);
	assert_true((uint64_t)st.st_blocks * 512 > (uint64_t)150 << 20);
	store_close(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(records_survive_reopen_in_key_order, setup, teardown),
		cmocka_unit_test_setup_teardown(map_grows_when_full, setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
