/* table.c: the table of the formats kgsup reads feedback tables from, the open table, and
 * the row builder the format readers share (see table.h). A format is one row of the table
 * at the end of this file; its reader lives in a file of its own. */
#include "table_impl.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

void rowbuf_init(struct rowbuf *rb)
{
	memset(rb, 0, sizeof *rb);
	buf_init(&rb->data);
}

void rowbuf_free(struct rowbuf *rb)
{
	buf_free(&rb->data);
	free(rb->offs);
	free(rb->lens);
	free(rb->ptrs);
	memset(rb, 0, sizeof *rb);
}

void rowbuf_reset(struct rowbuf *rb)
{
	buf_reset(&rb->data);
	rb->n = 0;
}

/* Makes room for cells [0, n), the new ones empty. */
static void grow_to(struct rowbuf *rb, size_t n)
{
	if (n > rb->cap) {
		size_t cap = rb->cap ? rb->cap : 16;
		while (cap < n)
			cap *= 2;
		rb->offs = xrealloc(rb->offs, cap * sizeof *rb->offs);
		rb->lens = xrealloc(rb->lens, cap * sizeof *rb->lens);
		rb->ptrs = xrealloc(rb->ptrs, cap * sizeof *rb->ptrs);
		rb->cap = cap;
	}
	for (; rb->n < n; rb->n++) {
		rb->offs[rb->n] = SIZE_MAX;
		rb->lens[rb->n] = 0;
	}
}

int rowbuf_set(struct rowbuf *rb, size_t col, const char *s, size_t n)
{
	if (rb->data.len + n + 1 > TABLE_MAX_ROW || col >= TABLE_MAX_COLS)
		return -1;
	grow_to(rb, col + 1);
	rb->offs[col] = rb->data.len;
	rb->lens[col] = n;
	buf_put(&rb->data, s, n);
	buf_putc(&rb->data, '\0');
	return 0;
}

int rowbuf_emit(struct rowbuf *rb, uint64_t line, table_row_fn fn, void *arg)
{
	grow_to(rb, rb->min_cells);
	for (size_t i = 0; i < rb->n; i++)
		rb->ptrs[i] = rb->offs[i] == SIZE_MAX ? "" : rb->data.data + rb->offs[i];
	struct table_row row = { line, rb->n, rb->ptrs, rb->lens };
	if (!rb->nrows++)
		rb->min_cells = rb->n; /* the header */
	int rc = fn(&row, arg);
	rowbuf_reset(rb);
	return rc;
}

/* ---- the formats: to read another, add its enum value in table.h, a row here and its
 * reader in a file of its own, declared in table_impl.h ---- */

static const struct table_fmt formats[] = {
	[TABLE_CSV] = { .endings = { ".csv" }, .delim = ',', .open = csv_table_open,
			.rows = csv_table_rows },
	[TABLE_TSV] = { .endings = { ".tsv" }, .delim = '\t', .open = csv_table_open,
			.rows = csv_table_rows },
	[TABLE_XLSX] = { .endings = { ".xlsx" }, .open = xlsx_table_open, .rows = xlsx_table_rows,
			 .close = xlsx_table_close },
};
static const size_t nformats = sizeof formats / sizeof formats[0];

struct table *table_open(const char *path, const char *sheet, char *err, size_t errlen)
{
	int f = table_format_of(path);
	if (f < 0) {
		snprintf(err, errlen, "%s: not a table (kgsup reads %s)", path, table_endings());
		return NULL;
	}
	struct table *t = xcalloc(1, sizeof *t);
	t->path = xstrdup(path);
	t->form = &formats[f];
	if (t->form->open && t->form->open(t, sheet, err, errlen)) {
		table_close(t);
		return NULL;
	}
	return t;
}

int table_rows(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen)
{
	return t->form->rows(t, fn, arg, err, errlen);
}

void table_close(struct table *t)
{
	if (!t)
		return;
	if (t->form->close)
		t->form->close(t);
	free(t->path);
	free(t);
}

int table_read(const char *path, const char *sheet, table_row_fn fn, void *arg, char *err,
	       size_t errlen)
{
	struct table *t = table_open(path, sheet, err, errlen);
	if (!t)
		return -1;
	int rc = table_rows(t, fn, arg, err, errlen);
	table_close(t);
	return rc;
}

int table_format_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return -1;
	for (size_t f = 0; f < nformats; f++)
		for (const char *const *e = formats[f].endings; *e; e++)
			if (!strcasecmp(dot, *e))
				return (int)f;
	return -1;
}

const char *table_endings(void)
{
	static char list[128]; /* built once: the table does not change */
	if (!list[0]) {
		size_t n = 0;
		for (size_t f = 0; f < nformats; f++)
			for (const char *const *e = formats[f].endings; *e && n < sizeof list; e++)
				n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? ", " : "", *e);
	}
	return list;
}
