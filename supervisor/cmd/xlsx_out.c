/* xlsx_out.c: an .xlsx sheet through libxlsxwriter (xlsx_out.h), the only file that includes
 * xlsxwriter.h. */
#include "xlsx_out.h"
#include "../../common/buf.h"
#include "../../common/log.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#define CELL_MAX 32767   /* characters in a cell: Excel's limit */
#define WIDTH_MAX 60.0   /* a column wider than this is read by wrapping, not scrolling */
#define WIDTH_PAD 2.0
#define NUMBER_DIGITS 15 /* what a double holds exactly, and Excel shows */

struct xlsx_out {
	lxw_workbook *wb;
	lxw_worksheet *ws;
	lxw_format *bold;
	char *path, *tmp;
	lxw_row_t line;
	size_t ncols;
	double *width;
	unsigned long long cut; /* cells cut to CELL_MAX */
	buf scratch;
};

xlsx_out *xlsx_out_open(const char *path, const char *sheet, char *err, size_t errlen)
{
	xlsx_out *x = xcalloc(1, sizeof *x);
	buf_init(&x->scratch);
	x->path = xstrdup(path);
	buf_printf(&x->scratch, "%s.tmp.%d", path, (int)getpid());
	x->tmp = xstrdup(buf_cstr(&x->scratch));
	/* the workbook opens its file only when closed: try the place now, to fail before work */
	int fd = open(x->tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	lxw_workbook_options opt = { .constant_memory = LXW_TRUE };
	if (fd < 0 || close(fd) || !(x->wb = workbook_new_opt(x->tmp, &opt)) ||
	    !(x->ws = workbook_add_worksheet(x->wb, sheet)) || !(x->bold = workbook_add_format(x->wb))) {
		snprintf(err, errlen, "%s: %s", path, fd < 0 ? strerror(errno) : "cannot start a workbook");
		xlsx_out_close(x, 0, NULL, 0);
		return NULL;
	}
	format_set_bold(x->bold);
	return x;
}

/* Text that reads back as written once stored as a number: an optional minus, no leading
 * zero, no trailing zero after a point, no exponent, at most NUMBER_DIGITS digits. */
static int plain_number(const char *s, size_t len)
{
	size_t i = s[0] == '-', digits = 0, frac = 0;
	if (i < len && s[i] == '0')
		i++, digits++;
	else
		while (i < len && s[i] >= '0' && s[i] <= '9')
			i++, digits++;
	if (i < len && s[i] == '.') {
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			frac++;
		if (!frac || s[i - 1] == '0')
			return 0;
	}
	if (!digits || i != len || digits + frac > NUMBER_DIGITS)
		return 0;
	double v = strtod(s, NULL);
	/* -0 and tiny values would be written back as "0" or in exponent form */
	return v != 0 ? fabs(v) >= 1e-4 : s[0] != '-';
}

/* The characters of the longest line in s. */
static double text_width(const char *s, size_t len)
{
	size_t best = 0, now = 0;
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\n') {
			now = 0;
			continue;
		}
		if (((unsigned char)s[i] & 0xC0) != 0x80 && ++now > best)
			best = now;
	}
	return (double)best;
}

/* s cut to CELL_MAX characters (at a character's start), in x->scratch. */
static const char *cut_cell(xlsx_out *x, const char *s, size_t len)
{
	size_t chars = 0, i = 0;
	for (; i < len; i++)
		if (((unsigned char)s[i] & 0xC0) != 0x80 && ++chars > CELL_MAX)
			break;
	if (i == len)
		return s;
	x->cut++;
	buf_reset(&x->scratch);
	buf_put(&x->scratch, s, i);
	return buf_cstr(&x->scratch);
}

static lxw_error put_cell(xlsx_out *x, lxw_col_t c, const char *s, size_t len)
{
	if (x->line && plain_number(s, len))
		return worksheet_write_number(x->ws, x->line, c, strtod(s, NULL), NULL);
	if (!len)
		return LXW_NO_ERROR; /* an empty cell is no cell */
	return worksheet_write_string(x->ws, x->line, c, cut_cell(x, s, len),
				      x->line ? NULL : x->bold);
}

int xlsx_out_line(xlsx_out *x, const char *const *cell, const size_t *len, size_t n, char *err,
		  size_t errlen)
{
	if (x->line >= LXW_ROW_MAX || n > LXW_COL_MAX) {
		snprintf(err, errlen, "%s: more than %u lines or %u columns, a sheet's limit (export "
			 "-f csv has none)", x->path, (unsigned)LXW_ROW_MAX, (unsigned)LXW_COL_MAX);
		return -1;
	}
	if (!x->line) {
		x->ncols = n;
		x->width = calloc(n ? n : 1, sizeof *x->width);
		worksheet_freeze_panes(x->ws, 1, 1);
	}
	for (size_t c = 0; c < n && c < x->ncols; c++) {
		lxw_error e = put_cell(x, (lxw_col_t)c, cell[c], len[c]);
		if (e != LXW_NO_ERROR) {
			snprintf(err, errlen, "%s: line %u: %s", x->path, (unsigned)x->line + 1,
				 lxw_strerror(e));
			return -1;
		}
		double w = text_width(cell[c], len[c]);
		if (w > x->width[c])
			x->width[c] = w;
	}
	x->line++;
	return 0;
}

/* Writes the workbook and syncs it: 0, or the error. */
static int finish(xlsx_out *x, char *err, size_t errlen)
{
	for (size_t c = 0; c < x->ncols; c++)
		worksheet_set_column(x->ws, (lxw_col_t)c, (lxw_col_t)c,
				     fmin(x->width[c] + WIDTH_PAD, WIDTH_MAX), NULL);
	lxw_error e = workbook_close(x->wb);
	x->wb = NULL;
	int fd = e == LXW_NO_ERROR ? open(x->tmp, O_RDONLY | O_CLOEXEC) : -1;
	int bad = fd < 0 || fsync(fd) != 0;
	if (fd >= 0)
		close(fd);
	if (!bad && rename(x->tmp, x->path) == 0)
		return 0;
	snprintf(err, errlen, "%s: %s", x->path, e != LXW_NO_ERROR ? lxw_strerror(e) : strerror(errno));
	return -1;
}

int xlsx_out_close(xlsx_out *x, int keep, char *err, size_t errlen)
{
	int rc = keep ? finish(x, err, errlen) : 0;
	if (x->wb)
		lxw_workbook_free(x->wb);
	if (!keep || rc)
		unlink(x->tmp);
	if (!rc && keep && x->cut)
		log_warn("%s: %llu cells cut to %d characters, the most a cell holds", x->path,
			 x->cut, CELL_MAX);
	free(x->width);
	free(x->path);
	free(x->tmp);
	buf_free(&x->scratch);
	free(x);
	return rc;
}
