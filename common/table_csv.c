/* table_csv.c: .csv and .tsv tables through libcsv, in strict mode, so a stray quote is an
 * error naming its line rather than a silently shifted row. The only file that includes
 * csv.h, so exports write their fields through libcsv's writer here too. libcsv does not count lines, so the input is fed to it one physical line at a time:
 * a row's line is the first line since the last row's end that holds anything. */
#include "log.h"
#include "table_impl.h"
#include "textenc.h"

#include <csv.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define BLOCK (64u << 10)

struct csvread {
	struct csv_parser p;
	struct rowbuf rb;
	table_row_fn fn;
	void *arg;
	const char *path;
	uint64_t line;	    /* the physical line being fed, 1-based */
	uint64_t row_start; /* the first line of the row being read; 0 between rows */
	int skip;	    /* the line being fed is Excel's "sep=;" line */
	int stop;	    /* 1: fn stopped the reading; -1: an error, in err */
	int sniff;	    /* a .tsv read to see whether its quotes are text (tsv_sniff) */
	uint64_t stray;	    /* sniff: the line of a quote that is text, the error */
	char why[96];	    /* sniff: what says so */
	char *err;
	size_t errlen;
};

static void on_field(void *s, size_t n, void *data)
{
	struct csvread *r = data;
	if (r->stop)
		return;
	if (rowbuf_set(&r->rb, r->rb.n, s ? s : "", s ? n : 0)) {
		if (r->rb.n >= TABLE_MAX_COLS)
			snprintf(r->err, r->errlen, "%s:%llu: a row of more than %d columns", r->path,
				 (unsigned long long)r->row_start, TABLE_MAX_COLS);
		else
			snprintf(r->err, r->errlen, "%s:%llu: a row longer than %zu MiB", r->path,
				 (unsigned long long)r->row_start, TABLE_MAX_ROW >> 20);
		r->stop = -1;
	}
}

/* A line of empty cells (",,," where a spreadsheet had formatting alone) is no row, as in an
 * .xlsx sheet. */
static int no_value(const struct rowbuf *rb)
{
	for (size_t i = 0; i < rb->n; i++)
		if (rb->lens[i])
			return 0;
	return 1;
}

static void on_row(int c, void *data)
{
	(void)c;
	struct csvread *r = data;
	if (!r->stop && !no_value(&r->rb) && rowbuf_emit(&r->rb, r->row_start, r->fn, r->arg))
		r->stop = 1;
	rowbuf_reset(&r->rb);
	r->row_start = 0;
}

/* Nothing but line ends: libcsv skips such a line between rows. */
static int blank(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i] != '\r' && p[i] != '\n')
			return 0;
	return 1;
}

static int fail(struct csvread *r, uint64_t line, const char *what)
{
	snprintf(r->err, r->errlen, "%s:%llu: %s", r->path, (unsigned long long)line, what);
	r->stop = -1;
	return -1;
}

/* An open quote to the end (or past 64 MiB): to a sniff, a quote that is text. */
static int unclosed(struct csvread *r, const char *what)
{
	if (r->sniff) {
		r->stray = r->row_start;
		snprintf(r->why, sizeof r->why, "a quote never closed");
	}
	return fail(r, r->row_start, what);
}

/* Feeds p[0, n) line by line; 0, or the reading's stop code. */
static int feed(struct csvread *r, const char *p, size_t n)
{
	while (n && !r->stop) {
		const char *nl = memchr(p, '\n', n);
		size_t seg = nl ? (size_t)(nl - p) + 1 : n;
		if (r->skip) { /* "sep=;": read at open */
			r->skip = !nl;
			r->line += nl != NULL;
			p += seg;
			n -= seg;
			continue;
		}
		if (!r->row_start && !blank(p, seg))
			r->row_start = r->line;
		if (csv_parse(&r->p, p, seg, on_field, on_row, r) != seg && !r->stop) {
			int stray = csv_error(&r->p) == CSV_EPARSE;
			r->stray = stray ? r->line : 0;
			snprintf(r->why, sizeof r->why, "a quote in a field not in quotes");
			return fail(r, r->line,
				    stray ? "a stray quote: a field with quotes in it must be in "
					    "quotes, each of its quotes doubled"
					  : csv_strerror(csv_error(&r->p)));
		}
		if (csv_get_buffer_size(&r->p) > TABLE_MAX_ROW)
			return unclosed(r, "a field over 64 MiB (a quote not closed?)");
		r->line += nl != NULL;
		p += seg;
		n -= seg;
	}
	return r->stop;
}

static int never(unsigned char c)
{
	(void)c;
	return 0;
}

/* Reads fd to its end, decoded to UTF-8 (textenc.h: UTF-16 by its mark, Windows-1252 from a
 * byte that is not UTF-8), a UTF-8 byte order mark left out; say names the file in the
 * warning (NULL: the file was read before, and said so). */
static int read_all(struct csvread *r, int fd, const char *say)
{
	char *block = xmalloc(BLOCK);
	struct textdec *dec = textdec_new(say);
	buf utf8;
	buf_init(&utf8);
	int first = 1, rc = 0;
	for (;;) {
		ssize_t got = read(fd, block, BLOCK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(r->err, r->errlen, "%s: %s", r->path, strerror(errno));
			rc = -1;
			break;
		}
		buf_reset(&utf8);
		if ((got ? textdec_block(dec, block, (size_t)got, &utf8, r->err, r->errlen)
			 : textdec_end(dec, &utf8, r->err, r->errlen)) < 0) {
			rc = -1;
			break;
		}
		const char *p = utf8.data;
		size_t n = utf8.len;
		if (first && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3)) {
			p += 3;
			n -= 3;
		}
		first = first && n == 0;
		if ((n && (rc = feed(r, p, n))) || got == 0)
			break;
	}
	buf_free(&utf8);
	textdec_free(dec);
	free(block);
	return rc;
}

/* Reads the table; with sniff (a .tsv), *stray is set to the line of a quote that failed
 * the reading and may be text, why to what says so (else 0). */
static int read_table(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen,
		      int sniff, uint64_t *stray, char *why, size_t whylen)
{
	struct csvread r = { .fn = fn, .arg = arg, .path = t->path, .line = 1, .err = err,
			     .errlen = errlen, .skip = t->sep_line, .sniff = sniff };
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		return -1;
	}
	csv_init(&r.p, CSV_STRICT | CSV_STRICT_FINI);
	csv_set_delim(&r.p, (unsigned char)t->delim);
	if (t->unquoted) /* a byte that UTF-8, all the parser sees, never holds */
		csv_set_quote(&r.p, 0xff);
	csv_set_space_func(&r.p, never); /* RFC 4180: spaces are part of a field */
	rowbuf_init(&r.rb);
	int rc = read_all(&r, fd, t->readings++ ? NULL : t->path);
	if (!rc && csv_fini(&r.p, on_field, on_row, &r) && !r.stop)
		rc = unclosed(&r, "unterminated quoted field");
	if (!rc)
		rc = r.stop;
	csv_free(&r.p);
	rowbuf_free(&r.rb);
	close(fd);
	if (sniff) {
		*stray = r.stray;
		snprintf(why, whylen, "%s", r.why);
	}
	return rc;
}

int csv_table_rows(struct table *t, table_row_fn fn, void *arg, char *err, size_t errlen)
{
	return read_table(t, fn, arg, err, errlen, 0, NULL, NULL, 0);
}

static int any_row(const struct table_row *row, void *arg)
{
	(void)row, (void)arg;
	return 0;
}

/* A .tsv is read as RFC 4180 has CSV (quoted fields may hold tabs and line breaks, as
 * spreadsheets and pandas write them) unless its quotes read so cannot be quoting (psql,
 * paste, a hand-made file: IANA's TSV has no quoting); then its quotes are all text. They
 * cannot be when a quote stands in a field that is not quoted, or is never closed. (A quote
 * that opens a field and is closed by a text quote lines later reads as quoting: a quoted
 * field holding tabs and line breaks is what pandas writes.) Known only by reading it
 * through, once, at open. */
static int tsv_sniff(struct table *t, char *err, size_t errlen)
{
	uint64_t stray = 0;
	char why[96];
	t->readings = 1; /* its encoding is said at the first reading of its rows, not here */
	int rc = read_table(t, any_row, NULL, err, errlen, 1, &stray, why, sizeof why);
	t->readings = 0;
	if (!rc || !stray)
		return rc;
	t->unquoted = 1;
	err[0] = '\0';
	log_warn("%s:%llu: %s: the table is read without quoting (its quotes are text, as in "
		 "IANA's TSV)", t->path, (unsigned long long)stray, why);
	return 0;
}

/* The start of the file (64 KiB of it) as UTF-8, a byte order mark left out: decoded first,
 * as UTF-16's characters hold the bytes of ',', ';', '"' and a line end among others. */
static int head_utf8(struct table *t, buf *out, char *err, size_t errlen)
{
	int fd = open(t->path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", t->path, strerror(errno));
		return -1;
	}
	char *head = xmalloc(BLOCK);
	ssize_t n;
	while ((n = read(fd, head, BLOCK)) < 0 && errno == EINTR)
		;
	close(fd);
	struct textdec *dec = textdec_new(NULL); /* (the reading of its rows says the encoding) */
	int rc = n > 0 ? textdec_block(dec, head, (size_t)n, out, err, errlen) : 0;
	textdec_free(dec);
	free(head);
	if (rc >= 0 && out->len >= 3 && !memcmp(out->data, "\xef\xbb\xbf", 3)) {
		memmove(out->data, out->data + 3, out->len - 3);
		out->len -= 3;
	}
	return rc < 0 ? -1 : 0;
}

/* Excel's first line "sep=;" (any one character for ';'): its field separator, else 0. */
static char sep_line(const buf *head)
{
	const char *p = head->data;
	size_t n = head->len;
	if (n < 5 || memcmp(p, "sep=", 4) || p[4] == '"' ||
	    (p[4] != '\t' && (p[4] < ' ' || p[4] > '~')))
		return 0;
	if (n == 5 || p[5] == '\n' || (p[5] == '\r' && (n == 6 || p[6] == '\n')))
		return p[4];
	return 0;
}

/* Whether the first record holds more semicolons than commas, outside quotes. */
static int more_semicolons(const buf *head)
{
	size_t commas = 0, semis = 0;
	int quoted = 0;
	for (size_t i = 0; i < head->len && (quoted || head->data[i] != '\n'); i++) {
		quoted ^= head->data[i] == '"';
		commas += !quoted && head->data[i] == ',';
		semis += !quoted && head->data[i] == ';';
	}
	return semis > commas;
}

/* The field separator: the one Excel's "sep=;" first line names; else a .csv whose first line
 * holds more semicolons than commas, outside quotes, is read with semicolons (Excel writes its
 * CSV so where the decimal mark is a comma); else the format's. */
int csv_table_open(struct table *t, const char *sheet, char *err, size_t errlen)
{
	(void)sheet; /* a sheet is an .xlsx file's; a csv's is ignored */
	t->delim = t->form->delim;
	buf head;
	buf_init(&head);
	int rc = head_utf8(t, &head, err, errlen);
	char sep = rc ? 0 : sep_line(&head);
	if (sep) {
		t->delim = sep;
		t->sep_line = 1;
		if (!t->readings)
			log_info("%s: fields separated by '%s' (its first line, \"sep=\", says so)",
				 t->path, sep == '\t' ? "\\t" : (char[]){ sep, '\0' });
	} else if (!rc && t->delim == ',' && more_semicolons(&head)) {
		t->delim = ';';
		if (!t->readings)
			log_info("%s: fields separated by semicolons (a spreadsheet's CSV where the decimal "
				 "mark is a comma)", t->path);
	}
	buf_free(&head);
	if (!rc && t->form->delim == '\t')
		rc = tsv_sniff(t, err, errlen);
	return rc;
}

void table_csv_field(buf *out, const char *s, size_t len)
{
	size_t room = 2 * len + 2; /* every byte a doubled quote, and the two around */
	buf_reserve(out, room);
	out->len += csv_write(out->data + out->len, room, s, len);
}
