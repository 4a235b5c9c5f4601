/* rows_export.c: the csv and xlsx exports of a run over rows (rows_export.h). */
#include "rows_export.h"
#include "rowgrid.h"
#include "xlsx_out.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/table.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct csv_out {
	FILE *f;
	buf line, cell;
};

/* Whether a spreadsheet opening the csv would take the cell for a formula: =, +, -, @, a tab or
 * a carriage return first, and not a number. The texts are anyone's (a survey's comments), and
 * "=HYPERLINK(...)" in one must open as text, so such a cell is written after a quote, Excel's
 * mark of a text cell (OWASP's advice on CSV injection). The xlsx export writes strings as
 * strings and needs none. */
static int formula_like(const char *s, size_t len)
{
	if (!len || !strchr("=+-@\t\r", s[0]))
		return 0;
	char num[64];
	if (len >= sizeof num)
		return 1;
	memcpy(num, s, len);
	num[len] = '\0';
	char *end;
	strtod(num, &end);
	return end != num + len; /* (a NUL inside ends strtod: not a number either) */
}

static int csv_line(const char *const *cell, const size_t *len, size_t n, void *arg)
{
	struct csv_out *o = arg;
	buf_reset(&o->line);
	for (size_t i = 0; i < n; i++) {
		if (i)
			buf_putc(&o->line, ',');
		if (formula_like(cell[i], len[i])) {
			buf_reset(&o->cell);
			buf_putc(&o->cell, '\'');
			buf_put(&o->cell, cell[i], len[i]);
			table_csv_field(&o->line, o->cell.data, o->cell.len);
		} else {
			table_csv_field(&o->line, cell[i], len[i]);
		}
	}
	buf_puts(&o->line, "\r\n");
	return fwrite(o->line.data, 1, o->line.len, o->f) == o->line.len ? 0 : 1;
}

/* Ends the writing to f (a temporary file tmp standing for output, or standard output): on
 * success it is synced and renamed into place, else removed. */
static int csv_finish(FILE *f, const char *output, const char *tmp, int rc, char *err,
		      size_t errlen)
{
	int bad = rc || fflush(f) != 0 || ferror(f);
	if (output) {
		bad |= fsync(fileno(f)) != 0;
		bad |= fclose(f) != 0;
		bad = bad || rename(tmp, output) != 0;
		if (bad)
			unlink(tmp);
	}
	if (bad && !err[0])
		snprintf(err, errlen, "%s: write failed: %s", output ? output : "stdout",
			 strerror(errno));
	return bad ? -1 : 0;
}

/* What was written, and the answers that could not be read (their cells left empty). */
static void said(const struct rowgrid *g, const char *what)
{
	if (g->bad_answers)
		log_warn("%llu stored answers are not JSON: their cells are left empty",
			 (unsigned long long)g->bad_answers);
	fprintf(stderr, "kgsup: exported %llu rows, %zu columns, as %s\n",
		(unsigned long long)g->rows, g->ncols, what);
}

int rows_export_csv(store_txn *t, const char *output, char *err, size_t errlen)
{
	struct rowgrid g;
	char tmp[PATHS_MAX];
	struct csv_out o = { stdout, { 0 }, { 0 } };
	buf_init(&o.line);
	buf_init(&o.cell);
	int rc = rowgrid_open(&g, t, err, errlen);
	if (!rc && output) {
		snprintf(tmp, sizeof tmp, "%s.tmp.%d", output, (int)getpid());
		if (!(o.f = fopen(tmp, "w"))) {
			snprintf(err, errlen, "%s: %s", output, strerror(errno));
			rc = -1;
		}
	}
	if (!rc) {
		rc = rowgrid_each(&g, csv_line, &o);
		if (rc < 0) /* (a write that failed is 1, said with errno below) */
			snprintf(err, errlen, "a row record of the run does not parse");
		rc = csv_finish(o.f, output, tmp, rc, err, errlen);
	}
	if (!rc)
		said(&g, "csv");
	buf_free(&o.line);
	buf_free(&o.cell);
	rowgrid_close(&g);
	return rc;
}

struct xlsx_lines {
	xlsx_out *x;
	char *err;
	size_t errlen;
};

static int xlsx_line(const char *const *cell, const size_t *len, size_t n, void *arg)
{
	struct xlsx_lines *l = arg;
	return xlsx_out_line(l->x, cell, len, n, l->err, l->errlen);
}

int rows_export_xlsx(store_txn *t, const char *output, char *err, size_t errlen)
{
	struct rowgrid g;
	if (!output) {
		snprintf(err, errlen, "export -f xlsx writes a file: give it with -o");
		return -1;
	}
	int rc = rowgrid_open(&g, t, err, errlen);
	struct xlsx_lines l = { NULL, err, errlen };
	if (!rc && !(l.x = xlsx_out_open(output, "rows", err, errlen)))
		rc = -1;
	if (!rc) {
		rc = rowgrid_each(&g, xlsx_line, &l);
		if (rc && !err[0])
			snprintf(err, errlen, "a row record of the run does not parse");
		rc = xlsx_out_close(l.x, !rc, err, errlen) || rc ? -1 : 0;
	}
	if (!rc)
		said(&g, "xlsx");
	rowgrid_close(&g);
	return rc;
}
