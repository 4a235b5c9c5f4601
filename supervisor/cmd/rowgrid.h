/* rowgrid.h: a run over rows as one table, what export -f csv and -f xlsx write: a header,
 * then a line per input row in input order (rows skipped for empty text too): its id (the
 * column named as the input's id column, or "row" when rows are numbered), its kept cells,
 * then each rows stage's fields (rowfields.h) from the answer its text has, empty cells when
 * it has none. With several stages over rows, a field's column is "stage.field". */
#ifndef KGSUP_ROWGRID_H
#define KGSUP_ROWGRID_H

#include <stddef.h>
#include <stdint.h>

#include "../rowcolumns.h"
#include "../rowfields.h"
#include "../../common/config.h"
#include "../../common/job.h"

struct rowgrid {
	store_txn *t;
	struct config cfg; /* the run's recorded settings */
	struct job job;
	struct row_columns cols;
	struct rowfields fields[JOB_MAX_STAGES];
	size_t ncols;
	char **name;   /* the header */
	buf cells;     /* the line being handed out, each cell NUL-terminated */
	size_t *off, *len;
	const char **cell;
	uint64_t rows;        /* lines handed out, the header left out */
	uint64_t bad_answers; /* answers that did not parse: their cells left empty */
};

/* The table of the run in t (which stays open while g is used). 0, or -1 with err set; a run
 * without a stage over rows is refused. */
int rowgrid_open(struct rowgrid *g, store_txn *t, char *err, size_t errlen);
/* Called with the header, then with each line: n cells, each NUL-terminated with its length;
 * non-zero stops the walk and is returned. */
typedef int rowgrid_fn(const char *const *cell, const size_t *len, size_t n, void *arg);
int rowgrid_each(struct rowgrid *g, rowgrid_fn *fn, void *arg);
void rowgrid_close(struct rowgrid *g);

#endif
