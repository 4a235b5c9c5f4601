/* textenc.h: the encodings of input text files, decoded to UTF-8 (glibc iconv; iconv.h is only
 * in textenc.c). */
#ifndef KGSUP_TEXTENC_H
#define KGSUP_TEXTENC_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* A converter to UTF-8, from Windows-1252 or UTF-16. The five bytes Windows-1252 leaves
 * undefined (0x81, 0x8D, 0x8F, 0x90, 0x9D) and lone UTF-16 surrogates become U+FFFD; a
 * character cut at the end of one block is finished with the next. */
struct textenc;
enum textenc_from { TEXTENC_CP1252, TEXTENC_UTF16LE, TEXTENC_UTF16BE };
/* NULL with err when the C library has no such converter. */
struct textenc *textenc_new(enum textenc_from from, char *err, size_t errlen);
/* Appends the UTF-8 form of in[0, n) to out. */
void textenc_convert(struct textenc *c, const char *in, size_t n, buf *out);
void textenc_free(struct textenc *c);

/* A file's bytes to UTF-8, block by block, in one reading: UTF-16 when it starts with a byte
 * order mark, else UTF-8 until the first byte that is not, and Windows-1252 from there on (a
 * Windows-1252 file's first byte past ASCII is all but never valid UTF-8), which is logged once
 * as a warning naming the file (name; NULL: say nothing) and the line. Every reader of text files (transcripts,
 * tables) decodes through it. textdec_block appends the UTF-8 of b[0, n) to out; it returns
 * TEXTDEC_UTF16 or TEXTDEC_CP1252 on the block where the file is found to be so, 0, or -1
 * with err. textdec_end after the last block. */
enum { TEXTDEC_UTF16 = 1, TEXTDEC_CP1252 = 2 };
struct textdec;
struct textdec *textdec_new(const char *name);
int textdec_block(struct textdec *d, const char *b, size_t n, buf *out, char *err, size_t errlen);
int textdec_end(struct textdec *d, buf *out, char *err, size_t errlen);
void textdec_free(struct textdec *d);

#endif
