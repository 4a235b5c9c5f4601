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

/* A Windows-1252 to UTF-8 converter. The five bytes Windows-1252 leaves undefined (0x81,
 * 0x8D, 0x8F, 0x90, 0x9D) become U+FFFD. */
struct textenc;
/* NULL with err when the C library has no Windows-1252 converter. */
struct textenc *textenc_cp1252_new(char *err, size_t errlen);
/* Appends the UTF-8 form of in[0, n) to out. */
void textenc_convert(struct textenc *c, const char *in, size_t n, buf *out);
void textenc_free(struct textenc *c);

#endif
