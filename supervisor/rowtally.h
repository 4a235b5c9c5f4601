/* rowtally.h: what became of the rows of a run over rows, row by row (not text by text): for
 * each stage, rows answered by a call, from the per-row cache, as the twin of an earlier row
 * with the same text, skipped for an empty text, failed (their batch failed or is blocked) and
 * still to do. Read from the store in one pass over the rows, for status and reports. */
#ifndef KGSUP_ROWTALLY_H
#define KGSUP_ROWTALLY_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/job.h"
#include "../common/store.h"

struct row_tally {
	uint64_t rows, answered, cached, duplicates, skipped, failed, pending;
};

/* The texts more than one row has, sorted by chunk, with how many rows have each: what one
 * answer of such a text settles (a run keeps its counts up to date with it, rows.h). */
struct row_twins {
	struct twin { uint32_t chunk, rows; } *v;
	size_t n, cap;
};

/* out[i] for each stage i over rows (zero for the others); with twins non-NULL its texts more
 * than one row has too (freed with row_twins_free). 0, or a STORE_ code. */
int row_tally(store_txn *t, const struct job *job, struct row_tally *out, struct row_twins *twins);
/* The rows whose text is chunk's (1 for a text no other row has). */
uint32_t row_twins_rows(const struct row_twins *tw, uint32_t chunk);
void row_twins_free(struct row_twins *tw);
/* As JSON: {"STAGE": {"rows": N, "answered": N, ...}, ...}. */
void row_tally_json(buf *b, const struct job *job, const struct row_tally *v);
/* As lines for people: "  STAGE  rows N: A answered, C from the cache, ...\n". */
void row_tally_text(buf *b, const struct job *job, const struct row_tally *v);

#endif
