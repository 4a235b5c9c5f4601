/* vmatrix.c: one stage's vectors as one contiguous matrix of normalised float32 rows, as
 * search scans it (vecsearch.h). Allocated at once for every item the stage may have, in huge
 * pages where the kernel gives them: a page fault per 2 MiB rather than per 4 KiB, and fewer
 * TLB misses in the scan. */
#include "vectors.h"
#include "../vecsearch.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static int add_row(const struct vitem *it, const float *vec, size_t dims, void *arg)
{
	struct vmatrix *m = arg;
	if (!m->rows) {
		m->dims = dims;
		m->bytes = m->cap * dims * sizeof(float);
		m->rows = mmap(NULL, m->bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
			       -1, 0);
		if (m->rows == MAP_FAILED) {
			m->rows = NULL;
			return -1;
		}
		madvise(m->rows, m->bytes, MADV_HUGEPAGE);
		m->item = xmalloc(m->cap * sizeof *m->item);
	}
	if (dims != m->dims || m->n >= m->cap) {
		m->other++;
		return 0;
	}
	float *row = m->rows + m->n * dims;
	memcpy(row, vec, dims * sizeof(float));
	vecsearch_normalise(row, dims);
	m->item[m->n++] = it->n;
	return 0;
}

int vmatrix_load(struct vectors *v, int stage, struct vmatrix *m, char *err, size_t errlen)
{
	memset(m, 0, sizeof *m);
	m->stage = stage;
	m->cap = v->job.st[stage].over == OVER_ENTITIES ? v->g.nentities : v->plan.nchunks;
	int64_t t0 = now_ms();
	if (m->cap && vectors_walk(v, stage, add_row, m)) {
		snprintf(err, errlen, "out of memory for the vectors of stage %s", v->job.st[stage].name);
		return -1;
	}
	log_debug("stage %s: %zu vectors of %zu dimensions read in %lld ms", v->job.st[stage].name,
		 m->n, m->dims, (long long)(now_ms() - t0));
	if (m->other)
		log_warn("stage %s: %llu vectors of other dimensions than %zu left out",
			 v->job.st[stage].name, (unsigned long long)m->other, m->dims);
	return 0;
}

void vmatrix_free(struct vmatrix *m)
{
	if (m->rows)
		munmap(m->rows, m->bytes);
	free(m->item);
}
