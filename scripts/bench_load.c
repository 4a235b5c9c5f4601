/* bench_load.c: the load half of `make bench-search`: a run's store with n chunks of about
 * 600 tokens and a vector of dims floats each (written to a temporary directory first), then
 * their vectors read into one normalised matrix as `kgsup search` reads them (vmatrix_load:
 * each chunk's key from its text, the vector under it), timed. */
#include "../supervisor/cmd/results.h"
#include "../supervisor/cmd/vectors.h"
#include "../supervisor/vecsearch.h"
#include "../supervisor/vecstore.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define TEXT_BYTES 2400
#define PER_TXN 2000

int bench_load(size_t n, size_t dims);

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

struct fill {
	struct job *job;
	size_t from, to, dims;
	float *v;
	char *text;
};

static int put_meta(store_txn *t, const struct config *cfg, const struct job *job, size_t n)
{
	buf b;
	buf_init(&b);
	config_to_json(cfg, &b);
	int rc = store_put(t, DB_META, META_CONFIG, strlen(META_CONFIG), b.data, b.len);
	buf_reset(&b);
	job_to_json(job, &b);
	rc = rc || store_put(t, DB_META, META_JOB, strlen(META_JOB), b.data, b.len);
	struct plan_rec p = { .version = RUNSTATE_VERSION, .nsources = 1, .nchunks = (uint32_t)n };
	unsigned char k[4];
	wr_u32be(k, 0);
	rc = rc || store_put(t, DB_META, META_PLAN, strlen(META_PLAN), &p, sizeof p) ||
	     store_put(t, DB_SOURCES, k, 4, "bench.txt", 9);
	buf_free(&b);
	return rc;
}

static int put_chunks(store_txn *t, void *arg)
{
	struct fill *f = arg;
	unsigned char k[4], key[HASH_LEN];
	char rec[sizeof(struct chunk_rec) + TEXT_BYTES];
	for (size_t i = f->from; i < f->to; i++) {
		struct chunk_rec c = { .source = 0, .index = (uint32_t)i, .start_ms = -1, .end_ms = -1 };
		snprintf(f->text, 32, "%015zu", i); /* every text different */
		f->text[15] = ' ';
		memcpy(rec, &c, sizeof c);
		memcpy(rec + sizeof c, f->text, TEXT_BYTES);
		f->v[i % f->dims] += 1; /* and every vector */
		wr_u32be(k, (uint32_t)i);
		int rc = store_put(t, DB_CHUNKS, k, 4, rec, sizeof rec);
		if (!rc && vecstore_chunk_key(t, &f->job->st[0], (uint32_t)i, key))
			rc = STORE_ERROR;
		rc = rc ? rc : vecstore_put(t, key, f->v, f->dims);
		if (rc)
			return rc; /* STORE_FULL: store_write grows the map and runs this again */
	}
	return 0;
}

int bench_load(size_t n, size_t dims)
{
	char dir[] = "/tmp/kgsup-bench-load-XXXXXX", db_dir[64], err[512] = "";
	if (!mkdtemp(dir))
		return 1;
	snprintf(db_dir, sizeof db_dir, "%s/db", dir);
	struct config cfg;
	config_defaults(&cfg);
	buf st;
	buf_init(&st);
	buf_printf(&st, "[{\"name\":\"cv\",\"endpoint\":\"embeddings\",\"over\":\"chunks\","
		   "\"model\":\"bench\",\"dimensions\":%zu}]", dims);
	cfg.stages = xstrdup(buf_cstr(&st));
	buf_free(&st);
	struct job job;
	store *db = store_open(db_dir, 0, err, sizeof err);
	if (!db || job_from_config(&job, &cfg, "", "", err, sizeof err)) {
		fprintf(stderr, "bench_load: %s\n", err);
		return 1;
	}
	struct fill f = { .job = &job, .dims = dims, .v = xcalloc(dims, sizeof(float)),
			  .text = xmalloc(TEXT_BYTES) };
	for (size_t i = 0; i < TEXT_BYTES; i++)
		f.text[i] = "abcdefgh ijklmnop qrstuvwxyz"[i % 28];
	double t0 = now_s();
	store_txn *t = store_begin(db, 1);
	if (!t || put_meta(t, &cfg, &job, n) || store_commit(t))
		return 1;
	for (f.from = 0; f.from < n; f.from = f.to) {
		f.to = f.from + PER_TXN < n ? f.from + PER_TXN : n;
		if (store_write(db, put_chunks, &f)) {
			fprintf(stderr, "bench_load: %s\n", store_strerror(db));
			return 1;
		}
	}
	store_close(db);
	printf("load: a store of %zu chunks with %zu-dimension vectors written in %.1f s\n", n, dims,
	       now_s() - t0);
	/* the first search of a run makes each chunk's key from its text, later ones find them
	 * kept in DIR/search/ */
	unsigned char *keys = xmalloc(n * HASH_LEN);
	for (int round = 0; round < 2; round++) {
		t0 = now_s();
		struct plan_rec plan;
		struct vectors v;
		store_txn *rt;
		memset(&v, 0, sizeof v);
		if (run_open_read(dir, &db, &rt, &plan, err, sizeof err) ||
		    vectors_open(&v, &rt, 1, NULL, err, sizeof err)) {
			fprintf(stderr, "bench_load: %s\n", err);
			return 1;
		}
		v.lean = 1;
		v.keys = keys;
		v.keys_known = round;
		struct vmatrix m;
		if (vmatrix_load(&v, v.order[0], &m, err, sizeof err)) {
			fprintf(stderr, "bench_load: %s\n", err);
			return 1;
		}
		double took = now_s() - t0;
		printf("load: %zu vectors read into the matrix and normalised in %.3f s (%s)\n", m.n,
		       took, round ? "the chunks' keys kept, as a later search" : "the first search");
		vmatrix_free(&m);
		v.keys = NULL;
		vectors_close(&v);
		store_abort(rt);
		store_close(db);
	}
	free(keys);
	free(f.v);
	free(f.text);
	job_free(&job);
	config_free(&cfg);
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return getenv("BENCH_KEEP") ? 0 : system(cmd) ? 1 : 0;
}
