/* rowcolumns.h: the names of a run's row cells, as the planner recorded them in META
 * "row_columns" (rowstore.h): the id column (none when rows are numbered), the text column and
 * the kept columns, whose order the cells of every row follow. */
#ifndef KGSUP_ROWCOLUMNS_H
#define KGSUP_ROWCOLUMNS_H

#include <stddef.h>

#include "../common/store.h"

struct row_columns {
	char *id;   /* NULL: rows are numbered */
	char *text;
	char **keep;
	size_t nkeep;
};

/* 0, or -1 with err set (the record is missing or not what the planner writes). */
int row_columns_read(store_txn *t, struct row_columns *c, char *err, size_t errlen);
void row_columns_free(struct row_columns *c);
/* The index of the kept column called name, or -1. */
int row_columns_keep_index(const struct row_columns *c, const char *name);

#endif
