/* rowgrid.c: the table export writes of a run over rows (rowgrid.h). Every line is put
 * together in one buffer, so memory does not grow with the table. */
#include "rowgrid.h"
#include "results.h"
#include "../rowstore.h"
#include "../../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void add_name(struct rowgrid *g, const char *prefix, const char *name)
{
	buf b;
	buf_init(&b);
	if (prefix)
		buf_printf(&b, "%s.", prefix);
	buf_puts(&b, name);
	g->name = xrealloc(g->name, (g->ncols + 1) * sizeof *g->name);
	g->name[g->ncols++] = xstrdup(buf_cstr(&b));
	buf_free(&b);
}

int rowgrid_open(struct rowgrid *g, store_txn *t, char *err, size_t errlen)
{
	memset(g, 0, sizeof *g);
	g->t = t;
	buf_init(&g->cells);
	config_defaults(&g->cfg);
	if (run_job_read(t, &g->cfg, &g->job, err, errlen))
		return -1;
	if (!g->job.rows) {
		snprintf(err, errlen, "the run has no stage over rows (-f xlsx, and -f csv of rows, are for tables in)");
		return -1;
	}
	if (row_columns_read(t, &g->cols, err, errlen))
		return -1;
	add_name(g, NULL, g->cols.id ? g->cols.id : "row");
	for (size_t i = 0; i < g->cols.nkeep; i++)
		add_name(g, NULL, g->cols.keep[i]);
	for (size_t s = 0; s < g->job.n; s++) {
		if (rowfields_load(&g->fields[s], &g->job.st[s], err, errlen))
			return -1;
		for (size_t i = 0; i < g->fields[s].n; i++)
			add_name(g, g->job.n > 1 ? g->job.st[s].name : NULL, g->fields[s].f[i].name);
	}
	g->off = xcalloc(g->ncols, sizeof *g->off);
	g->len = xcalloc(g->ncols, sizeof *g->len);
	g->cell = xcalloc(g->ncols, sizeof *g->cell);
	return 0;
}

/* Ends cell col, begun at mark in the line's buffer. */
static void end_cell(struct rowgrid *g, size_t col, size_t mark)
{
	g->off[col] = mark;
	g->len[col] = g->cells.len - mark;
	buf_putc(&g->cells, '\0');
}

static void put_cell(struct rowgrid *g, size_t col, const char *s, size_t n)
{
	size_t mark = g->cells.len;
	buf_put(&g->cells, s, n);
	end_cell(g, col, mark);
}

/* Stage s's cells from col on, of the answer of the text chunk; the next column. */
static size_t stage_cells(struct rowgrid *g, uint32_t s, uint32_t chunk, size_t col)
{
	const struct rowfields *fs = &g->fields[s];
	const char *text;
	size_t len;
	json *item = NULL;
	if (chunk != ROW_NO_TEXT && !row_answer_get(g->t, s, chunk, &text, &len) &&
	    !(item = json_parse(text, len, NULL, 0)))
		g->bad_answers++;
	for (size_t i = 0; i < fs->n; i++) {
		size_t mark = g->cells.len;
		if (item)
			rowfield_text(rowfield_get(&fs->f[i], item), &g->cells);
		end_cell(g, col++, mark);
	}
	json_free(item);
	return col;
}

struct walk {
	struct rowgrid *g;
	rowgrid_fn *fn;
	void *arg;
};

static int hand_out(struct walk *w)
{
	struct rowgrid *g = w->g;
	for (size_t i = 0; i < g->ncols; i++)
		g->cell[i] = g->cells.data + g->off[i];
	return w->fn(g->cell, g->len, g->ncols, w->arg);
}

static int on_row(const struct row_view *r, void *arg)
{
	struct walk *w = arg;
	struct rowgrid *g = w->g;
	buf_reset(&g->cells);
	put_cell(g, 0, r->id, r->idlen);
	size_t col = 1;
	for (size_t i = 0; i < g->cols.nkeep; i++, col++)
		put_cell(g, col, i < r->ncells ? r->cell[i] : "", i < r->ncells ? r->cell_len[i] : 0);
	for (uint32_t s = 0; s < g->job.n; s++)
		col = stage_cells(g, s, r->chunk, col);
	g->rows++;
	return hand_out(w);
}

int rowgrid_each(struct rowgrid *g, rowgrid_fn *fn, void *arg)
{
	struct walk w = { g, fn, arg };
	buf_reset(&g->cells);
	for (size_t i = 0; i < g->ncols; i++)
		put_cell(g, i, g->name[i], strlen(g->name[i]));
	int rc = hand_out(&w);
	return rc ? rc : rows_each(g->t, on_row, &w);
}

void rowgrid_close(struct rowgrid *g)
{
	for (size_t s = 0; s < JOB_MAX_STAGES; s++)
		rowfields_free(&g->fields[s]);
	for (size_t i = 0; i < g->ncols; i++)
		free(g->name[i]);
	free(g->name);
	free(g->off);
	free(g->len);
	free(g->cell);
	buf_free(&g->cells);
	row_columns_free(&g->cols);
	job_free(&g->job);
	config_free(&g->cfg);
}
