/* bench_search.c: `make bench-search`. Times the exact search kernel (supervisor/vecsearch.c)
 * on one core over N random vectors of D dimensions held in memory (default 1,000,000 x 1,536:
 * 6 GB of float32), and the load of a run's vectors from LMDB as `kgsup search` does it
 * (supervisor/cmd/vectors_walk.c) for a store of L chunks with their vectors.
 *   bench_search [N [D [QUERIES [L]]]]   (L 0: no load benchmark) */
#include "../supervisor/vecsearch.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>

int bench_load(size_t n, size_t dims); /* bench_load.c */

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* xorshift: fast enough that filling 6 GB takes seconds, not minutes */
static uint64_t rng = 88172645463325252ull;
static float rnd(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
}

int main(int argc, char **argv)
{
	size_t n = argc > 1 ? strtoull(argv[1], NULL, 10) : 1000000;
	size_t dims = argc > 2 ? strtoull(argv[2], NULL, 10) : 1536;
	int queries = argc > 3 ? atoi(argv[3]) : 5;
	size_t load = argc > 4 ? strtoull(argv[4], NULL, 10) : 100000;
	size_t k = 10;
	double t0 = now_s();
	/* huge pages, as kgsup search asks for its matrix: fewer faults to fill it, fewer TLB
	 * misses to scan it */
	size_t bytes = n * dims * sizeof(float);
	float *m = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	float *q = malloc(dims * sizeof(float));
	if (m == MAP_FAILED || !q) {
		fprintf(stderr, "bench_search: cannot allocate %zu x %zu floats\n", n, dims);
		return 1;
	}
	madvise(m, bytes, MADV_HUGEPAGE);
	for (size_t r = 0; r < n; r++) {
		for (size_t i = 0; i < dims; i++)
			m[r * dims + i] = rnd();
		vecsearch_normalise(m + r * dims, dims);
	}
	printf("search: %zu vectors x %zu dims (%.2f GB float32) made and normalised in %.1f s\n", n,
	       dims, (double)n * dims * 4 / 1e9, now_s() - t0);
	struct vechit hits[10];
	double best = 1e9, sum = 0;
	vecsearch_topk(m, n, dims, m, k, hits); /* one untimed pass: the pages settle */
	for (int i = 0; i < queries; i++) {
		/* a query near a known row, so the answer can be checked */
		size_t want = (size_t)(i * 7919) % n;
		for (size_t d = 0; d < dims; d++)
			q[d] = m[want * dims + d] + rnd() * 0.01f;
		vecsearch_normalise(q, dims);
		double t = now_s();
		size_t got = vecsearch_topk(m, n, dims, q, k, hits);
		t = now_s() - t;
		sum += t;
		best = t < best ? t : best;
		if (!got || hits[0].row != want) {
			fprintf(stderr, "bench_search: query %d found row %u first, not %zu\n", i,
				got ? hits[0].row : 0, want);
			return 1;
		}
	}
	printf("search: %d queries, top-%zu, one core: %.3f s per query on average, %.3f s best "
	       "(%.1f GB/s)\n", queries, k, sum / queries, best, (double)n * dims * 4 / 1e9 / best);
	munmap(m, bytes);
	free(q);
	return load ? bench_load(load, dims) : 0;
}
