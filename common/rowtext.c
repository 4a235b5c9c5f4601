/* rowtext.c: the normal form of a row's text (see rowtext.h), through libunistring's
 * case folding, which normalises to NFC as it folds. */
#include "rowtext.h"

#include <stdint.h>
#include <stdlib.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

void rowtext_normalize(const char *s, size_t n, buf *out)
{
	size_t flen = 0;
	uint8_t *folded = u8_casefold((const uint8_t *)s, n, NULL, UNINORM_NFC, NULL, &flen);
	/* libunistring folds invalid bytes to U+FFFD; should it fail (out of memory), the
	 * text is used as it is, ASCII folded */
	const uint8_t *p = folded ? folded : (const uint8_t *)s;
	size_t plen = folded ? flen : n;
	size_t start = out->len;
	int space = 0;
	for (size_t i = 0; i < plen;) {
		ucs4_t c;
		int k = u8_mbtouc(&c, p + i, plen - i);
		if (k <= 0)
			k = 1;
		if (uc_is_property_white_space(c)) {
			space = out->len > start; /* none before the first word: trimmed */
		} else {
			if (space)
				buf_putc(out, ' ');
			space = 0;
			if (!folded && p[i] >= 'A' && p[i] <= 'Z')
				buf_putc(out, (char)(p[i] + 32));
			else
				buf_put(out, p + i, (size_t)k);
		}
		i += (size_t)k;
	}
	free(folded);
}
