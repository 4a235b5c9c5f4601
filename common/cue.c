/* cue.c: the subtitle readers (.vtt, .srt): a cue is a timing line followed by text lines up
 * to a blank line; anything before a timing line in a block (a .vtt header, cue identifiers,
 * srt numbers) is dropped, markup stripped and <v Speaker> kept as "Speaker: ", each unit
 * carrying its cue's time. Also input_parse_time. */
#include "reader.h"

#include <stdio.h>
#include <string.h>

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

static void end_cue(struct reader *rd)
{
	if (rd->cue.bytes) {
		buf_putc(&rd->doc->text, '\n');
		reader_cut_units(rd, rd->doc->text.len, rd->cue.start, rd->cue.end, 1);
	}
	rd->cue.state = CUE_SEEK;
}

int cue_line(struct reader *rd, const struct line *l)
{
	buf *t = &rd->doc->text;
	switch (rd->cue.state) {
	case CUE_FIRST:
		if (!starts(l, "WEBVTT")) {
			snprintf(rd->err, rd->errlen, "%s:1: not a WebVTT file (no WEBVTT header)",
				 rd->name);
			return -1;
		}
		rd->cue.state = CUE_HEADER;
		break;
	case CUE_HEADER: /* the header block runs to the first blank line */
	case CUE_SKIP:
		if (line_blank(l))
			rd->cue.state = CUE_SEEK;
		break;
	case CUE_SEEK:
		if (!line_blank(l) && !parse_timing(l, &rd->cue.start, &rd->cue.end)) {
			rd->cue.state = CUE_TEXT;
			rd->cue.bytes = rd->cue.lines = 0;
			rd->cue.speaker_done = 0;
		} else if (starts(l, "NOTE") || starts(l, "STYLE") || starts(l, "REGION")) {
			rd->cue.state = CUE_SKIP;
		}
		break;
	case CUE_TEXT: {
		if (line_blank(l)) {
			end_cue(rd);
			break;
		}
		size_t before = t->len;
		if (rd->cue.lines++)
			buf_putc(t, ' ');
		put_cue_text(t, l->p, l->len, &rd->cue.speaker_done);
		rd->cue.bytes += t->len - before;
		reader_cut_units(rd, t->len, rd->cue.start, rd->cue.end, 0);
		break;
	}
	}
	return 0;
}

void vtt_init(struct reader *rd)
{
	rd->cue.state = CUE_FIRST;
}

/* The end of a .vtt or .srt file ends its last cue; a .vtt file with no line at all has no
 * header either. */
int cue_finish(struct reader *rd)
{
	if (rd->cue.state == CUE_FIRST) {
		struct line none = { "", 0 };
		return cue_line(rd, &none);
	}
	if (rd->cue.state == CUE_TEXT)
		end_cue(rd);
	return 0;
}
