/* rowtext.c: the normal form of a row's text (see rowtext.h), and the fold it shares with
 * the entity names, through libunistring's case folding, which normalises as it folds. */
#include "rowtext.h"

#include <stdint.h>
#include <stdlib.h>
#include <unicase.h>
#include <unictype.h>
#include <uninorm.h>
#include <unistr.h>

void text_fold(const char *s, size_t n, int compat, int (*sep)(uint32_t c),
	       int (*drop)(uint32_t c), buf *out)
{
	/* texts are mostly short: fold into the stack, libunistring allocates only past it */
	uint8_t stack[512];
	size_t flen = sizeof stack;
	uint8_t *folded = u8_casefold((const uint8_t *)s, n, NULL, compat ? UNINORM_NFKC : UNINORM_NFC,
				      stack, &flen);
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
		if (drop && drop(c)) {
			/* left out */
		} else if (sep(c)) {
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
	if (folded != stack)
		free(folded);
}

static int white(uint32_t c)
{
	return uc_is_property_white_space(c);
}

void rowtext_normalize(const char *s, size_t n, buf *out)
{
	text_fold(s, n, 0, white, NULL, out);
}
