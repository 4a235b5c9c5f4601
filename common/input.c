/* input.c: readers for .txt/.md, .vtt, .srt and .jsonl transcripts. */
#include "input.h"
#include "json.h"
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Transcripts larger than this are refused rather than read into memory. */
#define INPUT_MAX_FILE ((size_t)1 << 30)

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

/* Adds the slice [off, off+len) of the document text as units no longer than max_unit,
 * cutting at the last white space before the limit where there is one. */
static void add_units_bounded(struct document *doc, size_t off, size_t len, int64_t start,
			      int64_t end, size_t max_unit)
{
	const char *t = doc->text.data;
	while (len > max_unit) {
		size_t cut = max_unit;
		while (cut > max_unit / 2 && !isspace((unsigned char)t[off + cut - 1]))
			cut--;
		if (cut <= max_unit / 2)
			cut = char_boundary(t + off, max_unit);
		if (cut == 0)
			cut = max_unit;
		add_unit(doc, off, cut, start, end);
		off += cut;
		len -= cut;
	}
	if (len)
		add_unit(doc, off, len, start, end);
}

static int is_sentence_end(const char *t, size_t i, size_t end)
{
	return (t[i] == '.' || t[i] == '?' || t[i] == '!') && i + 1 < end && t[i + 1] == ' ';
}

/* Units of plain text: each line, and each sentence of a long line. */
static void split_text_units(struct document *doc, size_t from, size_t max_unit)
{
	const char *t = doc->text.data;
	size_t n = doc->text.len;
	size_t start = from;
	for (size_t i = from; i < n; i++) {
		int cut = t[i] == '\n';
		if (!cut && is_sentence_end(t, i, n) && i + 2 - start > 80) {
			i++; /* keep the space with the sentence */
			cut = 1;
		}
		if (cut) {
			add_units_bounded(doc, start, i + 1 - start, -1, -1, max_unit);
			start = i + 1;
		}
	}
	if (start < n)
		add_units_bounded(doc, start, n - start, -1, -1, max_unit);
}

void input_parse_text(struct document *doc, const char *text, size_t len, size_t max_unit)
{
	buf_reset(&doc->text);
	/* normalise CRLF so chunk texts and ids do not depend on the writer's line endings */
	for (size_t i = 0; i < len; i++)
		if (!(text[i] == '\r' && i + 1 < len && text[i + 1] == '\n'))
			buf_putc(&doc->text, text[i]);
	split_text_units(doc, 0, max_unit);
}

int64_t input_parse_time(const char *s, size_t len)
{
	int64_t parts[3] = { 0, 0, 0 };
	int nparts = 0;
	size_t i = 0;
	for (;;) {
		if (i >= len || !isdigit((unsigned char)s[i]))
			return -1;
		int64_t v = 0;
		size_t digits = 0;
		while (i < len && isdigit((unsigned char)s[i]) && digits < 9)
			v = v * 10 + (s[i++] - '0'), digits++;
		if (nparts == 3)
			return -1;
		parts[nparts++] = v;
		if (i < len && s[i] == ':') {
			i++;
			continue;
		}
		break;
	}
	if (nparts < 2 || i >= len || (s[i] != '.' && s[i] != ','))
		return -1;
	i++;
	int64_t ms = 0;
	size_t digits = 0;
	while (i < len && isdigit((unsigned char)s[i]) && digits < 3)
		ms = ms * 10 + (s[i++] - '0'), digits++;
	if (digits != 3)
		return -1;
	int64_t h = nparts == 3 ? parts[0] : 0;
	int64_t m = parts[nparts - 2], sec = parts[nparts - 1];
	if (m > 59 || sec > 59)
		return -1;
	return ((h * 60 + m) * 60 + sec) * 1000 + ms;
}

/* A line of the input, without its line ending. */
struct line {
	const char *p;
	size_t len;
};

static int next_line(const char *text, size_t len, size_t *pos, struct line *l)
{
	if (*pos >= len)
		return 0;
	size_t s = *pos, e = s;
	while (e < len && text[e] != '\n')
		e++;
	*pos = e < len ? e + 1 : e;
	if (e > s && text[e - 1] == '\r')
		e--;
	l->p = text + s;
	l->len = e - s;
	return 1;
}

static int blank(const struct line *l)
{
	for (size_t i = 0; i < l->len; i++)
		if (!isspace((unsigned char)l->p[i]))
			return 0;
	return 1;
}

static int starts(const struct line *l, const char *prefix)
{
	size_t n = strlen(prefix);
	return l->len >= n && !memcmp(l->p, prefix, n);
}

/* Parses "START --> END ..." into ms; returns 0 when the line is a timing line. */
static int parse_timing(const struct line *l, int64_t *start, int64_t *end)
{
	const char *arrow = memmem(l->p, l->len, "-->", 3);
	if (!arrow)
		return -1;
	size_t a = 0;
	while (a < l->len && isspace((unsigned char)l->p[a]))
		a++;
	*start = input_parse_time(l->p + a, (size_t)(arrow - l->p) - a);
	const char *b = arrow + 3;
	while (b < l->p + l->len && *b == ' ')
		b++;
	*end = input_parse_time(b, (size_t)(l->p + l->len - b));
	return *start >= 0 && *end >= 0 ? 0 : -1;
}

static void put_entity_decoded(buf *out, const char *p, size_t n, size_t *i)
{
	static const struct {
		const char *name;
		const char *text;
	} ents[] = { { "&amp;", "&" }, { "&lt;", "<" }, { "&gt;", ">" }, { "&nbsp;", " " },
		     { "&quot;", "\"" }, { "&#39;", "'" } };
	for (size_t k = 0; k < sizeof ents / sizeof ents[0]; k++) {
		size_t l = strlen(ents[k].name);
		if (*i + l <= n && !memcmp(p + *i, ents[k].name, l)) {
			buf_puts(out, ents[k].text);
			*i += l;
			return;
		}
	}
	buf_putc(out, '&');
	(*i)++;
}

/* Appends cue text without markup: <v Name> becomes "Name: " (once per cue), other tags and
 * srt's {\...} overrides are dropped, entities decoded. */
static void put_cue_text(buf *out, const char *p, size_t n, int *speaker_done)
{
	size_t i = 0;
	while (i < n) {
		if (p[i] == '<') {
			const char *close = memchr(p + i, '>', n - i);
			if (!close) {
				buf_put(out, p + i, n - i);
				return;
			}
			size_t tl = (size_t)(close - (p + i)) + 1;
			if (tl > 3 && p[i + 1] == 'v' && (p[i + 2] == ' ' || p[i + 2] == '.') && !*speaker_done) {
				const char *name = memchr(p + i + 2, ' ', tl - 2);
				if (name) {
					name++;
					size_t nl = (size_t)(close - name);
					if (nl) {
						buf_put(out, name, nl);
						buf_puts(out, ": ");
						*speaker_done = 1;
					}
				}
			}
			i += tl;
		} else if (p[i] == '{' && i + 1 < n && p[i + 1] == '\\') {
			const char *close = memchr(p + i, '}', n - i);
			i = close ? (size_t)(close - p) + 1 : n;
		} else if (p[i] == '&') {
			put_entity_decoded(out, p, n, &i);
		} else {
			buf_putc(out, p[i++]);
		}
	}
}

/* Shared by .vtt and .srt: a cue is a timing line followed by text lines up to a blank line.
 * Anything before a timing line in a block (cue identifiers, srt numbers) is dropped. */
static int parse_cues(struct document *doc, const char *text, size_t len, size_t pos, size_t max_unit)
{
	struct line l;
	while (next_line(text, len, &pos, &l)) {
		int64_t start, end;
		if (blank(&l) || parse_timing(&l, &start, &end) < 0) {
			if (starts(&l, "NOTE") || starts(&l, "STYLE") || starts(&l, "REGION"))
				while (next_line(text, len, &pos, &l) && !blank(&l))
					; /* skip the whole block */
			continue;
		}
		size_t off = doc->text.len;
		int speaker_done = 0, first = 1;
		while (next_line(text, len, &pos, &l) && !blank(&l)) {
			if (!first)
				buf_putc(&doc->text, ' ');
			put_cue_text(&doc->text, l.p, l.len, &speaker_done);
			first = 0;
		}
		if (doc->text.len == off)
			continue;
		buf_putc(&doc->text, '\n');
		add_units_bounded(doc, off, doc->text.len - off, start, end, max_unit);
	}
	return 0;
}

int input_parse_vtt(struct document *doc, const char *text, size_t len, size_t max_unit)
{
	size_t pos = 0;
	struct line l;
	if (len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3))
		pos = 3;
	size_t hdr = pos;
	if (!next_line(text, len, &hdr, &l) || !starts(&l, "WEBVTT"))
		return -1;
	/* the header block runs to the first blank line */
	while (next_line(text, len, &hdr, &l) && !blank(&l))
		;
	buf_reset(&doc->text);
	return parse_cues(doc, text, len, hdr, max_unit);
}

int input_parse_srt(struct document *doc, const char *text, size_t len, size_t max_unit)
{
	size_t pos = len >= 3 && !memcmp(text, "\xef\xbb\xbf", 3) ? 3 : 0;
	buf_reset(&doc->text);
	return parse_cues(doc, text, len, pos, max_unit);
}

enum input_format input_format_of(const char *path)
{
	const char *dot = strrchr(path, '.');
	const char *slash = strrchr(path, '/');
	if (!dot || (slash && dot < slash))
		return FMT_NONE;
	if (!strcasecmp(dot, ".txt") || !strcasecmp(dot, ".md"))
		return FMT_TEXT;
	if (!strcasecmp(dot, ".vtt"))
		return FMT_VTT;
	if (!strcasecmp(dot, ".srt"))
		return FMT_SRT;
	if (!strcasecmp(dot, ".jsonl"))
		return FMT_JSONL;
	return FMT_NONE;
}

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		goto out;                           \
	} while (0)

int input_parse_jsonl(const char *path, const char *text, size_t len, size_t max_unit,
		      document_fn fn, void *arg, char *err, size_t errlen)
{
	size_t pos = 0;
	int lineno = 0, rc = -1;
	struct line l;
	buf source;
	buf_init(&source);
	struct document doc;
	document_init(&doc, NULL);
	while (next_line(text, len, &pos, &l)) {
		lineno++;
		if (blank(&l))
			continue;
		char perr[96];
		json *obj = json_parse(l.p, l.len, perr, sizeof perr);
		if (!obj)
			FAIL("%s:%d: not valid JSON (%s)", path, lineno, perr);
		const char *id = json_string(json_get(obj, "id"));
		const char *body = json_string(json_get(obj, "text"));
		if (!id || !*id || !body) {
			json_free(obj);
			FAIL("%s:%d: expected an object with string members \"id\" and \"text\"", path,
			     lineno);
		}
		buf_reset(&source);
		buf_printf(&source, "%s#%s", path, id);
		doc.source = buf_cstr(&source);
		doc.nunits = 0;
		input_parse_text(&doc, body, strlen(body), max_unit);
		json_free(obj);
		if (fn(&doc, arg)) {
			rc = 1;
			goto out;
		}
	}
	rc = 0;
out:
	document_free(&doc);
	buf_free(&source);
	return rc;
}

int input_read_file(const char *path, enum input_format fmt, size_t max_unit, document_fn fn,
		    void *arg, char *err, size_t errlen)
{
	size_t len;
	char *text = read_file(path, INPUT_MAX_FILE, &len);
	if (!text) {
		snprintf(err, errlen, "%s: cannot read: %s", path, strerror(errno));
		return -1;
	}
	int rc = -1;
	if (memchr(text, '\0', len < 8192 ? len : 8192)) {
		snprintf(err, errlen, "%s: looks binary (NUL bytes), not a transcript", path);
		goto out;
	}
	if (fmt == FMT_JSONL) {
		rc = input_parse_jsonl(path, text, len, max_unit, fn, arg, err, errlen);
		goto out;
	}
	struct document doc;
	document_init(&doc, path);
	if (fmt == FMT_TEXT) {
		input_parse_text(&doc, text, len, max_unit);
		rc = 0;
	} else if (fmt == FMT_VTT) {
		rc = input_parse_vtt(&doc, text, len, max_unit);
		if (rc)
			snprintf(err, errlen, "%s:1: not a WebVTT file (no WEBVTT header)", path);
	} else {
		rc = input_parse_srt(&doc, text, len, max_unit);
	}
	if (!rc)
		rc = fn(&doc, arg) ? 1 : 0;
	document_free(&doc);
out:
	free(text);
	return rc;
}
