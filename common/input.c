/* input.c: the transcript reader and the table of formats it reads. A file is read in blocks
 * and handed over in parts of about INPUT_PART_BYTES of text, so a transcript of any size is
 * never held whole; the units a part ends with that the chunker has not used yet stay for the
 * next part, and the chunks come out the same as if the document had been read in one go.
 * Each format's handlers live in a file of their own (text.c, cue.c, jsonl.c); a format is
 * one row of the table at the end of this file. */
#include "log.h"
#include "reader.h"
#include "textenc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* A line of a .vtt, .srt or .jsonl file is held whole; longer ones are refused. */
#define INPUT_MAX_LINE ((size_t)64 << 20)
#define READ_BLOCK (64u << 10)

/* A format kgsup reads: one row of the table below. A format is read either in text blocks
 * (blocks set) or line by line (lines set); finish then ends the last document. */
struct format {
	const char *endings[4]; /* file name endings, NULL-terminated */
	void (*init)(struct reader *rd);		       /* may be NULL */
	void (*blocks)(struct reader *rd, const char *p, size_t n);
	int (*lines)(struct reader *rd, const struct line *l); /* 0, or non-zero to stop */
	int (*finish)(struct reader *rd);		       /* 0 or -1; may be NULL */
	int bom;	    /* a UTF-8 byte order mark before the first line is dropped */
	int many_documents; /* each line is a document the line handler hands over whole; else
			     * the file is one document the reader hands over in parts */
};

static const struct format *format_row(enum input_format fmt);

void document_init(struct document *doc, const char *source)
{
	memset(doc, 0, sizeof *doc);
	doc->source = source;
	buf_init(&doc->text);
}

void document_free(struct document *doc)
{
	buf_free(&doc->text);
	free(doc->units);
	doc->units = NULL;
	doc->nunits = doc->capunits = 0;
}

static void add_unit(struct document *doc, size_t off, size_t len, int64_t start, int64_t end)
{
	doc->units = xgrow(doc->units, &doc->capunits, doc->nunits, sizeof *doc->units, 64);
	doc->units[doc->nunits++] = (struct unit){ off, len, start, end };
}

/* Steps back from p to the start of a UTF-8 character. */
static size_t char_boundary(const char *s, size_t p)
{
	while (p > 0 && ((unsigned char)s[p] & 0xc0) == 0x80)
		p--;
	return p;
}

/* Cuts the open text [open, upto) into units of at most max_unit bytes, at the last white
 * space before the limit where there is one. With whole = 0 the unit is still growing: only
 * the pieces that are certain whatever follows (while more than max_unit remain) are cut. */
void reader_cut_units(struct reader *rd, size_t upto, int64_t start, int64_t end, int whole)
{
	const char *t = rd->doc->text.data;
	size_t off = rd->open, len = upto - off, max_unit = rd->max_unit;
	while (len > max_unit) {
		size_t cut = max_unit;
		while (cut > max_unit / 2 && !isspace((unsigned char)t[off + cut - 1]))
			cut--;
		if (cut <= max_unit / 2)
			cut = char_boundary(t + off, max_unit);
		if (cut == 0)
			cut = max_unit;
		add_unit(rd->doc, off, cut, start, end);
		off += cut;
		len -= cut;
	}
	if (whole && len) {
		add_unit(rd->doc, off, len, start, end);
		off += len;
	}
	rd->open = off;
}

/* Starts a new document in rd->doc. */
void reader_begin_document(struct reader *rd, const char *source)
{
	struct document *d = rd->doc;
	d->source = source;
	buf_reset(&d->text);
	d->nunits = 0;
	d->part = 0;
	d->more = 0;
	d->fresh = 0;
	d->next_index = 0;
	rd->open = rd->scan = 0;
	rd->ustart = 0;
	rd->held_cr = 0;
}

/* Drops what the callee has used up: the units before doc->keep and the text before the
 * first unit kept (or before the open text). */
static void compact(struct reader *rd)
{
	struct document *d = rd->doc;
	size_t keep = d->keep < d->nunits ? d->keep : d->nunits;
	size_t drop = keep < d->nunits ? d->units[keep].off : rd->open;
	if (keep) {
		memmove(d->units, d->units + keep, (d->nunits - keep) * sizeof *d->units);
		d->nunits -= keep;
	}
	for (size_t k = 0; k < d->nunits; k++)
		d->units[k].off -= drop;
	if (drop) {
		memmove(d->text.data, d->text.data + drop, d->text.len - drop);
		d->text.len -= drop;
	}
	rd->open -= drop;
	rd->scan -= drop;
	rd->ustart -= (int64_t)drop;
	d->fresh = d->text.len;
}

/* Hands the document (or its part so far) to fn. */
int reader_deliver(struct reader *rd, int more)
{
	struct document *d = rd->doc;
	if (!rd->fn || rd->stopped)
		return rd->stopped;
	d->more = more;
	d->keep = d->nunits;
	if (rd->fn(d, rd->arg)) {
		rd->stopped = 1;
		return 1;
	}
	d->part++;
	compact(rd);
	return 0;
}

static int maybe_deliver(struct reader *rd)
{
	if (rd->fn && rd->doc->text.len - rd->doc->fresh >= rd->part_bytes)
		return reader_deliver(rd, 1);
	return rd->stopped;
}

/* ---- driving a reader over bytes ---- */

static int on_line(struct reader *rd, const char *p, size_t n)
{
	if (n && p[n - 1] == '\r')
		n--;
	rd->lineno++;
	if (rd->lineno == 1 && rd->form->bom && n >= 3 && !memcmp(p, "\xef\xbb\xbf", 3))
		p += 3, n -= 3;
	struct line l = { p, n };
	int rc = rd->form->lines(rd, &l);
	if (rc)
		rd->stopped = 1;
	return rc;
}

/* Splits bytes into lines; a line cut by the end of a block waits in rd->line. */
static int lines_feed(struct reader *rd, const char *p, size_t n)
{
	while (n) {
		const char *nl = memchr(p, '\n', n);
		size_t run = nl ? (size_t)(nl - p) : n;
		if (rd->line.len + run > INPUT_MAX_LINE) {
			snprintf(rd->err, rd->errlen, "%s:%u: a line longer than %zu MiB", rd->name,
				 rd->lineno + 1, INPUT_MAX_LINE >> 20);
			rd->stopped = 1;
			return -1;
		}
		if (!nl) {
			buf_put(&rd->line, p, run);
			return 0;
		}
		int rc;
		if (rd->line.len) {
			buf_put(&rd->line, p, run);
			rc = on_line(rd, rd->line.data, rd->line.len);
			buf_reset(&rd->line);
		} else {
			rc = on_line(rd, p, run);
		}
		if (rc)
			return rc;
		p += run + 1;
		n -= run + 1;
	}
	return 0;
}

static int feed(struct reader *rd, const char *p, size_t n)
{
	if (rd->form->blocks)
		rd->form->blocks(rd, p, n);
	else if (lines_feed(rd, p, n))
		return -1;
	return rd->form->many_documents ? 0 : maybe_deliver(rd);
}

static int finish(struct reader *rd)
{
	if (rd->line.len && on_line(rd, rd->line.data, rd->line.len))
		return -1;
	if (rd->form->finish && rd->form->finish(rd))
		return -1;
	return rd->form->many_documents ? 0 : reader_deliver(rd, 0);
}

/* Returns -1 with a message in err for a format that is not a row of the table. */
static int reader_init(struct reader *rd, struct document *doc, const char *name,
		       enum input_format fmt, size_t max_unit, document_fn fn, void *arg, char *err,
		       size_t errlen)
{
	memset(rd, 0, sizeof *rd);
	buf_init(&rd->line);
	buf_init(&rd->source);
	rd->form = format_row(fmt);
	if (!rd->form) {
		snprintf(err, errlen, "%s: not a format kgsup reads", name);
		return -1;
	}
	rd->doc = doc;
	rd->name = name;
	rd->max_unit = max_unit ? max_unit : 1;
	rd->part_bytes = INPUT_PART_BYTES;
	rd->fn = fn;
	rd->arg = arg;
	rd->err = err;
	rd->errlen = errlen;
	if (rd->form->init)
		rd->form->init(rd);
	reader_begin_document(rd, name);
	return 0;
}

static void reader_free(struct reader *rd)
{
	buf_free(&rd->line);
	buf_free(&rd->source);
}

/* What a reading that ended with rc (0 or not) returns: 0 done, 1 stopped by the callee,
 * -1 an error (its message in err). */
static int outcome(const struct reader *rd, int rc)
{
	if (!rc)
		return 0;
	return rd->stopped && !rd->err[0] ? 1 : -1;
}

int input_read_mem(const char *name, enum input_format fmt, const char *text, size_t len,
		   size_t max_unit, size_t part_bytes, document_fn fn, void *arg, char *err,
		   size_t errlen)
{
	struct document doc;
	struct reader rd;
	err[0] = '\0';
	document_init(&doc, name);
	int rc = reader_init(&rd, &doc, name, fmt, max_unit, fn, arg, err, errlen);
	rd.part_bytes = part_bytes ? part_bytes : 1;
	/* in slices of part_bytes, so small parts also cut lines and "\r\n" across blocks */
	for (size_t off = 0; off < len && !rc; off += rd.part_bytes)
		rc = feed(&rd, text + off, len - off < rd.part_bytes ? len - off : rd.part_bytes);
	if (!rc)
		rc = finish(&rd);
	rc = outcome(&rd, rc);
	reader_free(&rd);
	document_free(&doc);
	return rc;
}

static int looks_binary(const char *b, size_t n)
{
	const unsigned char *u = (const unsigned char *)b;
	int bom16 = n >= 2 && ((u[0] == 0xff && u[1] == 0xfe) || (u[0] == 0xfe && u[1] == 0xff));
	return !bom16 && memchr(b, '\0', n < 8192 ? n : 8192) != NULL;
}

/* Reads fd to its end in blocks, decoded to UTF-8 (common/textenc.h); rc as feed and finish
 * return it. */
static int read_blocks(struct reader *rd, int fd)
{
	char *block = xmalloc(READ_BLOCK);
	struct textdec *dec = textdec_new(rd->name);
	buf text;
	buf_init(&text);
	int rc = 0, first = 1, found;
	for (;;) {
		ssize_t n = read(fd, block, READ_BLOCK);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			snprintf(rd->err, rd->errlen, "%s: cannot read: %s", rd->name, strerror(errno));
			rc = -1;
			break;
		}
		buf_reset(&text);
		if (n == 0) {
			found = textdec_end(dec, &text, rd->err, rd->errlen);
			rc = found < 0 ? -1 : text.len ? feed(rd, text.data, text.len) : 0;
			rc = rc ? rc : finish(rd);
			break;
		}
		if (first && looks_binary(block, (size_t)n)) {
			snprintf(rd->err, rd->errlen, "%s: looks binary (NUL bytes), not a transcript",
				 rd->name);
			rc = -1;
			break;
		}
		first = 0;
		found = textdec_block(dec, block, (size_t)n, &text, rd->err, rd->errlen);
		if (found < 0 || (text.len && (rc = feed(rd, text.data, text.len)))) {
			rc = rc ? rc : -1;
			break;
		}
	}
	buf_free(&text);
	textdec_free(dec);
	free(block);
	return rc;
}

int input_read_file(const char *path, enum input_format fmt, size_t max_unit, document_fn fn,
		    void *arg, char *err, size_t errlen)
{
	struct document doc;
	struct reader rd;
	err[0] = '\0';
	document_init(&doc, path);
	int rc = reader_init(&rd, &doc, path, fmt, max_unit, fn, arg, err, errlen);
	if (!rc) {
		int fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
			rc = -1;
		} else {
			rc = read_blocks(&rd, fd);
			close(fd);
		}
	}
	rc = outcome(&rd, rc);
	reader_free(&rd);
	document_free(&doc);
	return rc;
}

/* The in-memory parsers fill doc whole (no parts): for the tests and the fuzzers. */
static int parse_whole(struct document *doc, enum input_format fmt, const char *text, size_t len,
		       size_t max_unit)
{
	struct reader rd;
	char err[160];
	int rc = reader_init(&rd, doc, doc->source, fmt, max_unit, NULL, NULL, err, sizeof err);
	if (!rc)
		rc = feed(&rd, text, len);
	if (!rc)
		rc = finish(&rd);
	reader_free(&rd);
	return rc ? -1 : 0;
}

void input_parse_text(struct document *doc, const char *text, size_t len, size_t max_unit)
{
	parse_whole(doc, FMT_TEXT, text, len, max_unit);
}

int input_parse_vtt(struct document *doc, const char *text, size_t len, size_t max_unit)
{
	return parse_whole(doc, FMT_VTT, text, len, max_unit);
}

int input_parse_srt(struct document *doc, const char *text, size_t len, size_t max_unit)
{
	return parse_whole(doc, FMT_SRT, text, len, max_unit);
}

/* ---- the formats: to read another, add its enum value in input.h, a row here and its
 * handlers in a file of their own, declared in reader.h ---- */

static const struct format formats[] = {
	[FMT_TEXT] = { .endings = { ".txt", ".md" }, .blocks = text_blocks,
		       .finish = text_finish },
	[FMT_VTT] = { .endings = { ".vtt" }, .init = vtt_init, .lines = cue_line,
		      .finish = cue_finish, .bom = 1 },
	[FMT_SRT] = { .endings = { ".srt" }, .lines = cue_line, .finish = cue_finish, .bom = 1 },
	[FMT_JSONL] = { .endings = { ".jsonl" }, .lines = jsonl_line, .many_documents = 1 },
};
#define NFORMATS (sizeof formats / sizeof formats[0])

static const struct format *format_row(enum input_format fmt)
{
	return fmt > FMT_NONE && (size_t)fmt < NFORMATS ? &formats[fmt] : NULL;
}

enum input_format input_format_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return FMT_NONE;
	for (size_t f = 0; f < NFORMATS; f++)
		for (const char *const *e = formats[f].endings; *e; e++)
			if (!strcasecmp(dot, *e))
				return (enum input_format)f;
	return FMT_NONE;
}

const char *input_endings(void)
{
	static char list[256]; /* built once: the table does not change */
	if (!list[0]) {
		size_t n = 0;
		for (size_t f = 0; f < NFORMATS; f++)
			for (const char *const *e = formats[f].endings; *e && n < sizeof list; e++)
				n += (size_t)snprintf(list + n, sizeof list - n, "%s%s", n ? " " : "", *e);
	}
	return list;
}

int input_one_document(enum input_format fmt)
{
	const struct format *form = format_row(fmt);
	return form && !form->many_documents;
}

