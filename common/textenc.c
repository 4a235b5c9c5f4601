/* textenc.c: UTF-8 checks of input files (libunistring) and Windows-1252 to UTF-8 through
 * glibc's iconv (see textenc.h). The only file that includes iconv.h. */
#include "textenc.h"

#include <errno.h>
#include <fcntl.h>
#include <iconv.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <unistr.h>

#define BLOCK (64u << 10)

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

int textenc_file_is_utf8(const char *path, uint64_t *bad_line, char *err, size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *b = xmalloc(BLOCK + 4);
	size_t carry = 0;
	uint64_t line = 1;
	int rc = 1;
	for (;;) {
		ssize_t got = read(fd, b + carry, BLOCK);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			rc = -1;
			break;
		}
		size_t n = carry + (size_t)got, bad = 0;
		int ok = check_block(b, n, &bad);
		if (ok == 0 || (ok == 2 && got == 0)) {
			*bad_line = line + count_lines(b, bad);
			rc = 0;
			break;
		}
		if (got == 0)
			break;
		size_t keep = ok == 2 ? n - bad : 0;
		line += count_lines(b, n - keep);
		memmove(b, b + n - keep, keep);
		carry = keep;
	}
	free(b);
	close(fd);
	return rc;
}

struct textenc {
	iconv_t cd;
};

struct textenc *textenc_cp1252_new(char *err, size_t errlen)
{
	iconv_t cd = iconv_open("UTF-8", "WINDOWS-1252");
	if (cd == (iconv_t)-1) {
		snprintf(err, errlen, "no Windows-1252 converter: %s", strerror(errno));
		return NULL;
	}
	struct textenc *c = xmalloc(sizeof *c);
	c->cd = cd;
	return c;
}

void textenc_convert(struct textenc *c, const char *in, size_t n, buf *out)
{
	char *ip = (char *)in;
	size_t left = n;
	while (left) {
		buf_reserve(out, left * 3 + 16); /* one byte is at most three in UTF-8 */
		char *op = out->data + out->len;
		size_t room = out->cap - out->len;
		size_t r = iconv(c->cd, &ip, &left, &op, &room);
		out->len = (size_t)(op - out->data);
		if (r == (size_t)-1 && errno == EILSEQ) { /* a byte Windows-1252 leaves undefined */
			buf_put(out, "\xef\xbf\xbd", 3);
			ip++;
			left--;
		} else if (r == (size_t)-1 && errno != E2BIG) {
			break; /* EINVAL cannot happen for a single-byte encoding */
		}
	}
}

void textenc_free(struct textenc *c)
{
	if (c) {
		iconv_close(c->cd);
		free(c);
	}
}
