/* vecsearch.h: exact nearest-neighbour search over a contiguous matrix of float32 vectors, the
 * kernel of `kgsup search`. Rows and query are normalised first (vecsearch_normalise), so the
 * cosine is a dot product; the scan is one pass over the matrix with a top-k heap, written so
 * the compiler vectorises the dot product. Alone in its file so it can be benchmarked alone
 * (scripts/bench_search.c). */
#ifndef KGSUP_VECSEARCH_H
#define KGSUP_VECSEARCH_H

#include <stddef.h>
#include <stdint.h>

struct vechit {
	float score; /* cosine similarity of normalised vectors: their dot product */
	uint32_t row;
};

/* Scales v (dims floats) to unit length; a zero vector stays zero. */
void vecsearch_normalise(float *v, size_t dims);
/* The k rows of matrix (n rows of dims floats, row-major) nearest to query, best first (ties:
 * the lower row first) into out (room for k). Returns how many: min(k, n). */
size_t vecsearch_topk(const float *matrix, size_t n, size_t dims, const float *query, size_t k,
		      struct vechit *out);

#endif
