/* textenc.c: input files' bytes to UTF-8 (see textenc.h): UTF-8 checks (libunistring), and
 * UTF-16 or Windows-1252 through glibc's iconv. The only file that includes iconv.h. */
#include "textenc.h"
#include "log.h"

#include <errno.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistr.h>

static uint64_t count_lines(const char *p, size_t n)
{
	uint64_t k = 0;
	for (const char *e = p + n; (p = memchr(p, '\n', (size_t)(e - p))); p++)
		k++;
	return k;
}

/* Checks b[0, n): 1 valid, 0 invalid (*bad: its offset), or 2 when all is valid but the
 * last *bad.. bytes begin a character the next block completes. */
static int check_block(const char *b, size_t n, size_t *bad)
{
	const uint8_t *s = (const uint8_t *)b;
	const uint8_t *q = u8_check(s, n);
	if (!q)
		return 1;
	*bad = (size_t)(q - s);
	ucs4_t c;
	if (n - *bad < 4 && u8_mbtoucr(&c, q, n - *bad) == -2)
		return 2;
	return 0;
}

struct textenc {
	iconv_t cd;
	unsigned char carry[4]; /* the start of a character the last block cut (UTF-16) */
	size_t ncarry;
	buf joined;
	enum textenc_from from;
};

static const char *const from_names[] = { [TEXTENC_CP1252] = "WINDOWS-1252",
					  [TEXTENC_UTF16LE] = "UTF-16LE",
					  [TEXTENC_UTF16BE] = "UTF-16BE" };

/* Bytes to skip past an invalid unit: a code unit of UTF-16, a byte of Windows-1252. */
static size_t unit_of(const struct textenc *c)
{
	return c->from == TEXTENC_CP1252 ? 1 : 2;
}

struct textenc *textenc_new(enum textenc_from from, char *err, size_t errlen)
{
	iconv_t cd = iconv_open("UTF-8", from_names[from]);
	if (cd == (iconv_t)-1) {
		snprintf(err, errlen, "no %s converter: %s", from_names[from], strerror(errno));
		return NULL;
	}
	struct textenc *c = xcalloc(1, sizeof *c);
	c->cd = cd;
	c->from = from;
	buf_init(&c->joined);
	return c;
}

void textenc_convert(struct textenc *c, const char *in, size_t n, buf *out)
{
	if (c->ncarry) { /* the cut character first, with the rest of this block */
		buf_reset(&c->joined);
		buf_put(&c->joined, c->carry, c->ncarry);
		buf_put(&c->joined, in, n);
		in = c->joined.data;
		n = c->joined.len;
		c->ncarry = 0;
	}
	char *ip = (char *)in;
	size_t left = n;
	while (left) {
		buf_reserve(out, left * 3 + 16); /* a byte or a UTF-16 unit is at most three in UTF-8 */
		char *op = out->data + out->len;
		size_t room = out->cap - out->len;
		size_t r = iconv(c->cd, &ip, &left, &op, &room);
		out->len = (size_t)(op - out->data);
		if (r == (size_t)-1 && errno == EILSEQ) { /* undefined, or a lone surrogate */
			buf_put(out, "\xef\xbf\xbd", 3);
			size_t skip = left >= unit_of(c) ? unit_of(c) : left;
			ip += skip;
			left -= skip;
		} else if (r == (size_t)-1 && errno == EINVAL) { /* cut: kept for the next block */
			c->ncarry = left < sizeof c->carry ? left : sizeof c->carry;
			memcpy(c->carry, ip, c->ncarry);
			break;
		} else if (r == (size_t)-1 && errno != E2BIG) {
			break;
		}
	}
}

void textenc_free(struct textenc *c)
{
	if (c) {
		iconv_close(c->cd);
		buf_free(&c->joined);
		free(c);
	}
}

struct textdec {
	const char *name;     /* the file's, for the warning */
	uint64_t lines;       /* newlines passed as UTF-8 so far */
	struct textenc *conv; /* NULL: UTF-8 so far */
	char carry[4];        /* a UTF-8 character the last block cut */
	size_t ncarry;
	int started;
	buf joined;
};

struct textdec *textdec_new(const char *name)
{
	struct textdec *d = xcalloc(1, sizeof *d);
	d->name = name;
	buf_init(&d->joined);
	return d;
}

void textdec_free(struct textdec *d)
{
	if (d) {
		textenc_free(d->conv);
		buf_free(&d->joined);
		free(d);
	}
}

static void say_cp1252(const struct textdec *d)
{
	if (d->name)
		log_warn("%s: not valid UTF-8 (line %llu): read as Windows-1252", d->name,
			 (unsigned long long)d->lines + 1);
}

/* The first block: UTF-16 by its byte order mark (which goes), else UTF-8 to begin with. */
static int textdec_start(struct textdec *d, const char **b, size_t *n, char *err, size_t errlen)
{
	d->started = 1;
	const unsigned char *u = (const unsigned char *)*b;
	int le = *n >= 2 && u[0] == 0xff && u[1] == 0xfe, be = *n >= 2 && u[0] == 0xfe && u[1] == 0xff;
	if (!le && !be)
		return 0;
	if (!(d->conv = textenc_new(le ? TEXTENC_UTF16LE : TEXTENC_UTF16BE, err, errlen)))
		return -1;
	*b += 2;
	*n -= 2;
	if (d->name)
		log_info("%s: UTF-16 (by its byte order mark): read as such", d->name);
	return TEXTDEC_UTF16;
}

int textdec_block(struct textdec *d, const char *b, size_t n, buf *out, char *err, size_t errlen)
{
	int rc = 0;
	if (!d->started && (rc = textdec_start(d, &b, &n, err, errlen)) < 0)
		return -1;
	if (d->ncarry) {
		buf_reset(&d->joined);
		buf_put(&d->joined, d->carry, d->ncarry);
		buf_put(&d->joined, b, n);
		b = d->joined.data;
		n = d->joined.len;
		d->ncarry = 0;
	}
	if (d->conv) {
		textenc_convert(d->conv, b, n, out);
		return rc;
	}
	size_t bad = n;
	int ok = n ? check_block(b, n, &bad) : 1;
	if (ok == 2) {
		d->lines += count_lines(b, bad);
		buf_put(out, b, bad); /* the cut character waits for the next block */
		memcpy(d->carry, b + bad, n - bad);
		d->ncarry = n - bad;
		return 0;
	}
	if (ok == 1) {
		d->lines += count_lines(b, n);
		buf_put(out, b, n);
		return 0;
	}
	buf_put(out, b, bad); /* UTF-8 up to here; the rest is Windows-1252 */
	d->lines += count_lines(b, bad);
	if (!(d->conv = textenc_new(TEXTENC_CP1252, err, errlen)))
		return -1;
	say_cp1252(d);
	textenc_convert(d->conv, b + bad, n - bad, out);
	return TEXTDEC_CP1252;
}

int textdec_end(struct textdec *d, buf *out, char *err, size_t errlen)
{
	if (!d->ncarry)
		return 0;
	/* the file ended inside a character: it was not UTF-8 after all */
	size_t k = d->ncarry;
	d->ncarry = 0;
	if (!d->conv) {
		if (!(d->conv = textenc_new(TEXTENC_CP1252, err, errlen)))
			return -1;
		say_cp1252(d);
	}
	textenc_convert(d->conv, d->carry, k, out);
	return TEXTDEC_CP1252;
}
