/* xlsx_sheet.c: the rows of an .xlsx sheet, streamed from its XML (xlsx.c has loaded the
 * shared strings and styles). A cell's column comes from its reference ("C7"), so missing
 * cells are empty; a row keeps its number (the "r" attribute) across gaps. Rows with no
 * value in any cell are left out: formatting alone leaves such rows behind. */
#include "table_impl.h"
#include "xml.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

enum cell_type { CELL_NUMBER, CELL_SHARED, CELL_INLINE, CELL_BOOL, CELL_TEXT };

struct sheet {
	struct table *t;
	struct xml *x;
	struct rowbuf rb;
	table_row_fn fn;
	void *arg;
	uint64_t row; /* the row being read, 1-based */
	size_t col;   /* the cell being read, 0-based */
	int any;      /* the row has a value */
	enum cell_type type;
	int date;		    /* the cell's style is a date format */
	int in_v, in_t, in_rph;	    /* inside <v>, <t>, <rPh> */
	buf text;		    /* the cell's <v> or inline <t> text */
	int stop;		    /* 1: fn stopped it; -1: an error, in err */
	char *err;
	size_t errlen;
};

/* "AB12" -> 27 (0-based column); SIZE_MAX when it has no letters. */
static size_t ref_column(const char *ref)
{
	size_t c = 0;
	const char *p = ref;
	for (; *p >= 'A' && *p <= 'Z' && c < ((size_t)1 << 40); p++)
		c = c * 26 + (size_t)(*p - 'A' + 1);
	return p == ref ? SIZE_MAX : c - 1;
}

static void fail(struct sheet *s, const char *fmt, const char *what)
{
	char msg[200];
	snprintf(msg, sizeof msg, fmt, what);
	snprintf(s->err, s->errlen, "%s:%llu: %s", s->t->path, (unsigned long long)s->row, msg);
	s->stop = -1;
	xml_stop(s->x);
}

static void cell_start(struct sheet *s, const char **attrs)
{
	const char *ref = xml_attr(attrs, "r"), *type = xml_attr(attrs, "t");
	const char *style = xml_attr(attrs, "s");
	size_t c = ref ? ref_column(ref) : SIZE_MAX;
	s->col = c != SIZE_MAX ? c : s->col + 1;
	if (s->col >= TABLE_MAX_COLS) { /* (a sheet's last column is XFD) */
		fail(s, "a cell beyond column XFD (%.20s), the last a sheet has", ref ? ref : "");
		return;
	}
	s->type = !type || !strcmp(type, "n") ? CELL_NUMBER
		  : !strcmp(type, "s")	       ? CELL_SHARED
		  : !strcmp(type, "inlineStr") ? CELL_INLINE
		  : !strcmp(type, "b")	       ? CELL_BOOL
					       : CELL_TEXT; /* str (a formula's text), e, d */
	unsigned long xf = style ? strtoul(style, NULL, 10) : 0;
	s->date = style && xf < s->t->xlsx->nxf && s->t->xlsx->xf_date[xf];
	buf_reset(&s->text);
}

static void sh_start(void *arg, const char *name, const char **attrs)
{
	struct sheet *s = arg;
	if (!strcmp(name, "row")) {
		const char *r = xml_attr(attrs, "r");
		uint64_t n = r ? strtoull(r, NULL, 10) : 0;
		s->row = n ? n : s->row + 1;
		s->col = SIZE_MAX; /* the next cell without a reference is column A */
		s->any = 0;
		rowbuf_reset(&s->rb);
	} else if (!strcmp(name, "c")) {
		cell_start(s, attrs);
	} else if (!strcmp(name, "v")) {
		s->in_v = 1;
	} else if (!strcmp(name, "t")) {
		s->in_t = 1;
	} else if (!strcmp(name, "rPh")) {
		s->in_rph++;
	}
}

static void sh_text(void *arg, const char *p, size_t n)
{
	struct sheet *s = arg;
	if ((s->in_v && s->type != CELL_INLINE) || (s->in_t && !s->in_rph && s->type == CELL_INLINE))
		buf_put(&s->text, p, n);
}

/* An Excel date serial as ISO 8601: a date, a date and time when it has a fraction of a
 * day, a time alone when it has no day. 0 when it is no date (negative, not a number). */
static int serial_date(double v, int date1904, char *out, size_t outlen)
{
	if (!isfinite(v) || v < 0 || v > 2958466) /* 9999-12-31 */
		return 0;
	int64_t secs = llround(v * 86400.0), days = secs / 86400, rem = secs % 86400;
	/* the 1900 system counts a 29 February 1900 that never was: serials up to 60 are a
	 * day later than the rest; serial 25569 is 1970-01-01 */
	int64_t epoch_day = date1904 ? days - 24107 : days - (days < 61 ? 25568 : 25569);
	time_t tt = (time_t)(epoch_day * 86400 + rem);
	struct tm tm;
	if (!gmtime_r(&tt, &tm))
		return 0;
	if (!days && rem)
		snprintf(out, outlen, "%02d:%02d:%02d", tm.tm_hour, tm.tm_min, tm.tm_sec);
	else if (rem)
		snprintf(out, outlen, "%04d-%02d-%02dT%02d:%02d:%02d", tm.tm_year + 1900,
			 tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec);
	else
		snprintf(out, outlen, "%04d-%02d-%02d", tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday);
	return 1;
}

/* The cell's value as the user sees it. */
static int cell_value(struct sheet *s, const char **p, size_t *n, char *tmp, size_t tmplen)
{
	const char *v = buf_cstr(&s->text);
	struct xlsx *xl = s->t->xlsx;
	*p = v;
	*n = s->text.len;
	if (s->type == CELL_SHARED) {
		char *end;
		unsigned long long i = strtoull(v, &end, 10);
		if (end == v || i >= xl->nsst) {
			fail(s, "a shared string (%s) the workbook does not have", v);
			return -1;
		}
		*p = xl->sst.data + xl->sst_off[i];
		*n = xl->sst_len[i];
	} else if (s->type == CELL_BOOL) {
		*p = !strcmp(v, "1") ? "true" : !strcmp(v, "0") ? "false" : v;
		*n = strlen(*p);
	} else if (s->type == CELL_NUMBER && s->date && *n) {
		char *end;
		double d = strtod(v, &end);
		if (!*end && serial_date(d, xl->date1904, tmp, tmplen)) {
			*p = tmp;
			*n = strlen(tmp);
		}
	}
	return 0;
}

static void cell_end(struct sheet *s)
{
	char tmp[64];
	const char *p;
	size_t n;
	if (cell_value(s, &p, &n, tmp, sizeof tmp))
		return;
	if (!n)
		return;
	if (rowbuf_set(&s->rb, s->col, p, n)) {
		fail(s, "a row longer than %s", "64 MiB");
		return;
	}
	s->any = 1;
}

static void sh_end(void *arg, const char *name)
{
	struct sheet *s = arg;
	if (s->stop)
		return;
	if (!strcmp(name, "c")) {
		cell_end(s);
	} else if (!strcmp(name, "v")) {
		s->in_v = 0;
	} else if (!strcmp(name, "t")) {
		s->in_t = 0;
	} else if (!strcmp(name, "rPh")) {
		s->in_rph--;
	} else if (!strcmp(name, "row") && s->any) {
		if (rowbuf_emit(&s->rb, s->row, s->fn, s->arg)) {
			s->stop = 1;
			xml_stop(s->x);
		}
	}
}

int xlsx_table_rows(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen)
{
	static const struct xml_handlers h = { .start = sh_start, .end = sh_end, .text = sh_text };
	struct sheet s = { .t = t, .fn = fn, .arg = arg, .err = err, .errlen = errlen };
	rowbuf_init(&s.rb);
	buf_init(&s.text);
	int rc = xlsx_parse_part(t, t->xlsx->part, &h, &s, &s.x, err, errlen);
	rowbuf_free(&s.rb);
	buf_free(&s.text);
	return s.stop ? s.stop : rc;
}
