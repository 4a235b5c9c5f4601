/* columns.h: which columns of a table are the row id, the text and the columns kept, from
 * the job's input.id_column, input.text_column and input.keep_columns, or, when unset,
 * chosen from the header and a first pass over the rows: the id column by its name
 * (id, response_id, ...) or else rows numbered, the text column as the one with the longest
 * average text. */
#ifndef KGSUP_COLUMNS_H
#define KGSUP_COLUMNS_H

#include <stddef.h>
#include <stdint.h>

#include "table.h"

/* What the first pass gathers: the header and, per column, the rows with text and their
 * length. A zeroed struct is empty. */
struct column_stats {
	char **names; /* the header's cells */
	size_t ncols;
	uint64_t rows;	     /* data rows seen */
	uint64_t *with_text; /* per column: rows whose cell has more than white space */
	uint64_t *chars;     /* per column: characters in all its cells */
	uint64_t *words;     /* per column: characters in its cells of more than one word */
};

/* A table_row_fn: the first row it is given is the header, the rest are data rows. */
int column_stats_row(const struct table_row *row, void *stats);
void column_stats_free(struct column_stats *st);

/* The job's choices; NULL / 0 for unset. keep_keys (NULL, or one per kept column) name where
 * each kept column was asked for, in messages (NULL: "input.keep_columns"). keep_may_lack: a
 * kept column the table does not have is COLUMN_NONE (its cells empty), not an error. */
struct column_spec {
	const char *id_column, *text_column;
	const char *const *keep_columns;
	size_t nkeep;
	const char *const *keep_keys;
	int keep_may_lack;
};
#define COLUMN_NONE SIZE_MAX
/* input.id_column naming no column: the rows are numbered from 1, whatever the columns (a
 * column called id whose values repeat), unless the table has a column of that name. */
#define COLUMNS_NUMBERED "#"

struct column_choice {
	int id_col;   /* -1: none; a row's id is its data row number (1 for the first) */
	int text_col;
	size_t *keep; /* the kept columns, in keep_columns' order */
	size_t nkeep;
	char desc[1024]; /* "f.csv: id column "response_id" (by its name), text column ..." */
};

/* Fills out; -1 with "FILE: no column "X" (input.text_column); its columns: ..." in err.
 * file names the table in messages. */
int columns_choose(const char *file, const struct column_stats *st, const struct column_spec *spec,
		   struct column_choice *out, char *err, size_t errlen);
void column_choice_free(struct column_choice *c);

#endif
