/* buf.h: a growable byte buffer, and JSON string escaping into it.
 * Used to build request bodies, messages and export lines without a JSON library on the hot
 * path. Allocation failure aborts: kgsup cannot do anything useful without memory. */
#ifndef KGSUP_BUF_H
#define KGSUP_BUF_H

#include <stddef.h>
#include <stdarg.h>

typedef struct buf {
	char *data;
	size_t len;
	size_t cap;
} buf;

void buf_init(buf *b);
void buf_free(buf *b);
void buf_reset(buf *b);
void buf_reserve(buf *b, size_t extra);
void buf_put(buf *b, const void *p, size_t n);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_printf(buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Appends s (n bytes) as a quoted JSON string; invalid UTF-8 bytes become U+FFFD so the
 * result is always valid JSON. */
void buf_json_str(buf *b, const char *s, size_t n);
/* Length of the valid UTF-8 sequence at s (at most n bytes, n > 0), or 0 if it is not valid. */
size_t utf8_seq_len(const unsigned char *s, size_t n);
/* NUL-terminates without counting the NUL in len. */
const char *buf_cstr(buf *b);

void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* Room for item n (0-based) in array p of *cap items of size bytes: doubles *cap (from first)
 * when full. Returns the array, perhaps moved. */
void *xgrow(void *p, size_t *cap, size_t n, size_t size, size_t first);

#endif
