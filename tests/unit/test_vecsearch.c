/* test_vecsearch.c: the exact search kernel against a plain reference: the same k rows in the
 * same order (best first, ties to the lower row) for random data at dimensions that are and
 * are not a multiple of its lanes, k above n, and normalised rows scoring their own cosine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../../supervisor/vecsearch.h"
#include "../../common/vec.h"

static uint64_t rng = 12345;
static float rnd(void)
{
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (float)(rng >> 40) / (float)(1 << 24) - 0.5f;
}

/* The reference: every score, then selection of the best k one by one. */
static size_t reference(const float *m, size_t n, size_t dims, const float *q, size_t k,
			struct vechit *out)
{
	char *taken = calloc(n, 1);
	size_t got = 0;
	for (; got < k && got < n; got++) {
		int best = -1;
		double bs = 0;
		for (size_t r = 0; r < n; r++) {
			double s = 0;
			for (size_t i = 0; i < dims; i++)
				s += (double)m[r * dims + i] * q[i];
			if (!taken[r] && (best < 0 || s > bs)) {
				best = (int)r;
				bs = s;
			}
		}
		taken[best] = 1;
		out[got] = (struct vechit){ (float)bs, (uint32_t)best };
	}
	free(taken);
	return got;
}

static void one(size_t n, size_t dims, size_t k)
{
	float *m = malloc(n * dims * sizeof(float)), *q = malloc(dims * sizeof(float));
	for (size_t i = 0; i < n * dims; i++)
		m[i] = rnd();
	for (size_t r = 0; r < n; r++)
		vecsearch_normalise(m + r * dims, dims);
	for (size_t i = 0; i < dims; i++)
		q[i] = rnd();
	vecsearch_normalise(q, dims);
	struct vechit *a = calloc(k, sizeof *a), *b = calloc(k, sizeof *b);
	size_t na = vecsearch_topk(m, n, dims, q, k, a);
	size_t nb = reference(m, n, dims, q, k, b);
	assert_int_equal(na, nb);
	for (size_t i = 0; i < na; i++) {
		/* the same rank's score; the same row unless a neighbour's score is as near as
		 * float32 sums in another order can tell apart */
		int clear = (i == 0 || b[i - 1].score - b[i].score > 1e-4f) &&
			    (i + 1 >= nb || b[i].score - b[i + 1].score > 1e-4f);
		if (clear)
			assert_int_equal(a[i].row, b[i].row);
		assert_true(fabsf(a[i].score - b[i].score) < 1e-5f);
		assert_true(fabsf(a[i].score - vec_cosine(m + a[i].row * dims, q, dims)) < 1e-5f);
		assert_true(i == 0 || a[i - 1].score >= a[i].score);
	}
	free(m);
	free(q);
	free(a);
	free(b);
}

static void test_topk_matches_reference(void **state)
{
	(void)state;
	one(1000, 64, 10);
	one(777, 1536, 25);
	one(500, 13, 7);   /* dimensions that leave a tail past the lanes */
	one(5, 8, 10);     /* k above n: all of them */
	one(3000, 3, 1);
}

static void test_ties_and_zero(void **state)
{
	(void)state;
	float m[4 * 4] = { 0, 0, 0, 0, /* a zero vector stays zero and scores 0 */
			   1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0 };
	float q[4] = { 2, 0, 0, 0 };
	for (int r = 0; r < 4; r++)
		vecsearch_normalise(m + r * 4, 4);
	vecsearch_normalise(q, 4);
	assert_true(m[0] == 0 && q[0] == 1.0f);
	struct vechit h[4];
	assert_int_equal(vecsearch_topk(m, 4, 4, q, 4, h), 4);
	assert_int_equal(h[0].row, 1); /* rows 1 and 3 tie: the lower first */
	assert_int_equal(h[1].row, 3);
	assert_true(h[0].score == 1.0f && h[2].score == 0.0f && h[3].score == 0.0f);
	assert_int_equal(h[2].row, 0);
	assert_int_equal(vecsearch_topk(m, 4, 4, q, 0, h), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_topk_matches_reference),
		cmocka_unit_test(test_ties_and_zero),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
