/* textenc.h: the encodings of input text files: whether a file is valid UTF-8, and
 * Windows-1252 to UTF-8 for one that is not (glibc iconv; iconv.h is only in textenc.c). */
#ifndef KGSUP_TEXTENC_H
#define KGSUP_TEXTENC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* 1 when the file is valid UTF-8, 0 when it is not (*bad_line: the line of the first byte
 * that is not), -1 with "FILE: what" in err when it cannot be read. Reads the whole file in
 * blocks; stops at the first invalid byte. */
int textenc_file_is_utf8(const char *path, uint64_t *bad_line, char *err, size_t errlen);

/* A converter to UTF-8, from Windows-1252 or UTF-16. The five bytes Windows-1252 leaves
 * undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) and lone UTF-16 surrogates become U+FFFD; a
 * character cut at the end of one block is finished with the next. */
struct textenc;
enum textenc_from { TEXTENC_CP1252, TEXTENC_UTF16LE, TEXTENC_UTF16BE };
struct textenc *textenc_new(enum textenc_from from, char *err, size_t errlen);
/* NULL with err when the C library has no Windows-1252 converter. */
struct textenc *textenc_cp1252_new(char *err, size_t errlen);
/* Appends the UTF-8 form of in[0, n) to out. */
void textenc_convert(struct textenc *c, const char *in, size_t n, buf *out);
void textenc_free(struct textenc *c);

/* textenc_check_utf8: 1 when b[0, n) is valid UTF-8, 0 when not (*bad: the offset of the
 * first invalid byte), 2 when the last n - *bad bytes begin a character cut by the end. */
int textenc_check_utf8(const char *b, size_t n, size_t *bad);

/* A file's bytes to UTF-8, block by block: UTF-16 when it starts with a byte order mark, else
 * UTF-8 until the first byte that is not, and Windows-1252 from there on (a Windows-1252 file's
 * first byte past ASCII is all but never valid UTF-8). textdec_block appends the UTF-8 of
 * b[0, n) to out; it returns TEXTDEC_UTF16 or TEXTDEC_CP1252 on the block where the file is
 * found to be so (for a warning), 0, or -1 with err. textdec_end after the last block. */
enum { TEXTDEC_UTF16 = 1, TEXTDEC_CP1252 = 2 };
struct textdec;
struct textdec *textdec_new(void);
int textdec_block(struct textdec *d, const char *b, size_t n, buf *out, char *err, size_t errlen);
int textdec_end(struct textdec *d, buf *out, char *err, size_t errlen);
void textdec_free(struct textdec *d);

#endif
