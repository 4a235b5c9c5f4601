/* vecsearch.c: the exact search kernel (vecsearch.h). */
#include "vecsearch.h"

#include <math.h>

/* Lanes of independent partial sums: the inner loop over them has no dependency between
 * iterations, so the compiler turns it into SIMD multiply-adds without being allowed to
 * reassociate floating-point sums (no -ffast-math), and 16 lanes keep several vector
 * registers busy at once. */
#define LANES 16

/* The scan is built twice on x86-64, for the baseline (SSE2) and for AVX2 with FMA, and the
 * loader picks the one the CPU runs (an ifunc): one binary for every machine, and on most of
 * them twice the width per instruction. */
#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SCAN_CLONES __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define SCAN_CLONES
#endif

static inline __attribute__((always_inline)) float dot(const float *restrict a, const float *restrict b, size_t dims)
{
	float acc[LANES] = { 0 };
	size_t i = 0;
	for (; i + LANES <= dims; i += LANES)
		for (size_t j = 0; j < LANES; j++)
			acc[j] += a[i + j] * b[i + j];
	float s = 0;
	for (size_t j = 0; j < LANES; j++)
		s += acc[j];
	for (; i < dims; i++)
		s += a[i] * b[i];
	return s;
}

void vecsearch_normalise(float *v, size_t dims)
{
	float n = sqrtf(dot(v, v, dims));
	if (n > 0)
		for (size_t i = 0; i < dims; i++)
			v[i] /= n;
}

/* a ranks below b: lower score, or the same score and a later row. */
static int worse(const struct vechit *a, const struct vechit *b)
{
	return a->score < b->score || (a->score == b->score && a->row > b->row);
}

/* The heap keeps the k best so far with the worst at the root. */
static void sift_down(struct vechit *h, size_t n, size_t i)
{
	for (;;) {
		size_t l = 2 * i + 1, r = l + 1, m = i;
		if (l < n && worse(&h[l], &h[m]))
			m = l;
		if (r < n && worse(&h[r], &h[m]))
			m = r;
		if (m == i)
			return;
		struct vechit t = h[i];
		h[i] = h[m];
		h[m] = t;
		i = m;
	}
}

static void sift_up(struct vechit *h, size_t i)
{
	while (i) {
		size_t p = (i - 1) / 2;
		if (!worse(&h[i], &h[p]))
			return;
		struct vechit t = h[i];
		h[i] = h[p];
		h[p] = t;
		i = p;
	}
}

/* One pass over the matrix keeping the k best in the heap out; returns how many it holds. */
SCAN_CLONES
static size_t scan(const float *matrix, size_t n, size_t dims, const float *query, size_t k,
		   struct vechit *out)
{
	size_t have = 0;
	for (size_t r = 0; r < n; r++) {
		struct vechit h = { dot(matrix + r * dims, query, dims), (uint32_t)r };
		if (have < k) {
			out[have] = h;
			sift_up(out, have++);
		} else if (worse(&out[0], &h)) {
			out[0] = h;
			sift_down(out, have, 0);
		}
	}
	return have;
}

size_t vecsearch_topk(const float *matrix, size_t n, size_t dims, const float *query, size_t k,
		      struct vechit *out)
{
	size_t have = k ? scan(matrix, n, dims, query, k, out) : 0;
	/* heap order to best first: take the worst off the end each time */
	for (size_t m = have; m > 1; m--) {
		struct vechit t = out[0];
		out[0] = out[m - 1];
		out[m - 1] = t;
		sift_down(out, m - 1, 0);
	}
	return have;
}
