/* rowtext.h: the normal form of a row's text, the one the per-row cache keys on, so that
 * texts a reader would call the same ("Great  service" and "great service\n", a precomposed
 * and a decomposed é) are answered once. */
#ifndef KGSUP_ROWTEXT_H
#define KGSUP_ROWTEXT_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* Appends to out the text s[0, n) in Unicode NFC, case-folded, trimmed, with each run of
 * white space one space. Invalid UTF-8 (which the
 * table readers never hand over) becomes U+FFFD. */
void rowtext_normalize(const char *s, size_t n, buf *out);

/* The fold the row texts' and the entity names' normal forms share (names.c): s case-folded
 * into NFC (compat 0) or NFKC (compat 1), characters drop says 1 for left out, each run of
 * characters sep says 1 for made one space (none at either end); appended to out. */
void text_fold(const char *s, size_t n, int compat, int (*sep)(uint32_t c),
	       int (*drop)(uint32_t c), buf *out);

#endif
