/* rowstore.h: the rows of feedback tables as a run keeps them (0.4.0). The planner writes every
 * input row, in input order, with its id, its line, the cells of the kept columns and the chunk
 * that holds its text: rows whose texts are the same once normalised (rowtext.h) share one
 * chunk, so a text is asked about once however often it occurs. Each answered text's answer is
 * kept per stage and chunk. Export and report read rows and answers through the verbs here;
 * the planner and the sink write them. */
#ifndef KGSUP_ROWSTORE_H
#define KGSUP_ROWSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/buf.h"
#include "../common/store.h"

#define ROW_NO_TEXT UINT32_MAX /* a row whose text is empty: skipped, never asked */

/* meta "rows": what the planner found in the tables. */
struct rows_plan {
	uint64_t tables;
	uint64_t rows;       /* data rows read, skipped ones included */
	uint64_t skipped;    /* of them, rows whose text is empty */
	uint64_t duplicates; /* of them, rows whose text an earlier row has already */
};
#define META_ROWS "rows"

/* meta "row_columns": {"id": NAME or null (rows numbered), "text": NAME, "keep": [NAMES]} as
 * chosen for the first table; the kept cells of every row follow "keep". */
#define META_ROW_COLUMNS "row_columns"

/* meta "row_counters": per stage (an array as long as the job's stages; zero for stages not
 * over rows). Texts are counted, not rows: rows sharing a text share its answer. */
struct row_counters {
	uint64_t texts;    /* distinct texts to answer */
	uint64_t answered; /* answered by a call of this run */
	uint64_t cached;   /* answered from the per-row cache */
	uint64_t dropped;  /* answer items whose id the call did not ask about */
	uint64_t reasked;  /* texts missing from an answer, asked again */
};
#define META_ROW_COUNTERS "row_counters"

/* One row as read back. Pointers are valid until the transaction ends. */
struct row_view {
	uint32_t n;      /* its number: input order, from 0 */
	uint32_t source; /* the table's source number */
	uint32_t chunk;  /* the chunk of its text, or ROW_NO_TEXT */
	uint64_t line;   /* in its table: csv/tsv the first physical line, xlsx the row number */
	const char *id;
	size_t idlen;
	size_t ncells; /* the kept cells, in META_ROW_COLUMNS "keep" order */
	const char *cell[64];
	size_t cell_len[64];
};
#define ROW_MAX_KEEP 64

/* Writes row n (ncells <= ROW_MAX_KEEP), putting the record together in scratch. */
int row_write(store_txn *t, const struct row_view *r, buf *scratch);
/* 0, STORE_NOTFOUND, or STORE_ERROR for a record that does not parse. */
int row_read(store_txn *t, uint32_t n, struct row_view *r);
/* Calls fn for every row in input order; fn's non-zero value stops and is returned. */
int rows_each(store_txn *t, int (*fn)(const struct row_view *r, void *arg), void *arg);

/* The answer (one item of an answer: compact JSON, its item_key included) of a stage for a
 * text: 0 with *json and *len set, or STORE_NOTFOUND. */
int row_answer_get(store_txn *t, uint32_t stage, uint32_t chunk, const char **json, size_t *len);
/* The same, and where it came from (ROW_BY_CALL or ROW_BY_CACHE). */
enum { ROW_BY_CALL = 'a', ROW_BY_CACHE = 'c' };
int row_answer_from(store_txn *t, uint32_t stage, uint32_t chunk, const char **json, size_t *len,
		    int *from);
int row_answer_put(store_txn *t, uint32_t stage, uint32_t chunk, int from, const char *json,
		   size_t len);

/* The texts a rows stage asks, in order: a rows batch's first_chunk and nchunks are a range
 * of this list (k), not of chunk numbers, so that texts the cache answered before the plan
 * was made are in no batch. */
int row_ask_put(store_txn *t, uint32_t stage, uint32_t k, uint32_t chunk);
int row_ask_get(store_txn *t, uint32_t stage, uint32_t k, uint32_t *chunk);

int rows_plan_read(store_txn *t, struct rows_plan *p); /* zeroed and STORE_NOTFOUND: no rows */
int row_counters_read(store_txn *t, struct row_counters *v, size_t n);
int row_counters_write(store_txn *t, const struct row_counters *v, size_t n);

#endif
