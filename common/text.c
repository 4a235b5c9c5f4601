/* text.c: the plain text reader (.txt, .md): the text as it is, "\r\n" read as "\n", cut into
 * units at lines and at the sentence ends of long lines. Also what .jsonl's texts go through. */
#include "reader.h"

#include <string.h>

/* Appends text, turning "\r\n" into "\n" (so chunk texts and ids do not depend on the
 * writer's line endings); a '\r' at the end of a block waits for the next one. */
void text_feed(struct reader *rd, const char *p, size_t n)
{
	buf *t = &rd->doc->text;
	if (rd->held_cr && n) {
		rd->held_cr = 0;
		if (p[0] != '\n')
			buf_putc(t, '\r');
	}
	while (n) {
		const char *cr = memchr(p, '\r', n);
		size_t run = cr ? (size_t)(cr - p) : n;
		buf_put(t, p, run);
		p += run;
		n -= run;
		if (!n)
			break;
		if (n == 1) {
			rd->held_cr = 1;
			break;
		}
		if (p[1] != '\n')
			buf_putc(t, '\r');
		p++;
		n--;
	}
}

/* Cuts the units the text seen so far makes certain; with final, all of them. */
static void text_scan(struct reader *rd, int final)
{
	const char *t = rd->doc->text.data;
	size_t n = rd->doc->text.len, i;
	for (i = rd->scan; i < n; i++) {
		int cut = t[i] == '\n';
		if (!cut && (t[i] == '.' || t[i] == '?' || t[i] == '!')) {
			if (i + 1 >= n && !final)
				break; /* a sentence end or not: the next byte will tell */
			if (i + 1 < n && t[i + 1] == ' ' && (int64_t)(i + 2) - rd->ustart > 80) {
				i++; /* keep the space with the sentence */
				cut = 1;
			}
		}
		if (cut) {
			reader_cut_units(rd, i + 1, -1, -1, 1);
			rd->ustart = (int64_t)(i + 1);
		}
	}
	rd->scan = i;
	reader_cut_units(rd, final ? n : i, -1, -1, final);
}

void text_blocks(struct reader *rd, const char *p, size_t n)
{
	text_feed(rd, p, n);
	text_scan(rd, 0);
}

int text_finish(struct reader *rd)
{
	if (rd->held_cr) {
		buf_putc(&rd->doc->text, '\r');
		rd->held_cr = 0;
	}
	text_scan(rd, 1);
	return 0;
}
