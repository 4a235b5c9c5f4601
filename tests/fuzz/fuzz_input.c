/* fuzz_input.c: libFuzzer target for the transcript readers (.txt, .vtt, .srt, .jsonl) and
 * the chunker behind them. The first byte picks the format and a small unit size, the second
 * a small part size: the text read in parts must give the very chunks it gives read whole. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/chunk.h"
#include "../../common/input.h"

struct trail {
	size_t unit, n;
	uint64_t sum;
};

static int count_chunk(const struct chunk *c, void *arg)
{
	/* touch every byte of the chunk so ASan sees any slice that is out of bounds */
	struct trail *t = arg;
	for (size_t i = 0; i < c->len; i++)
		t->sum += (unsigned char)c->text[i];
	for (size_t i = 0; i < CHUNK_ID_LEN; i++)
		t->sum = t->sum * 131 + (unsigned char)c->id[i];
	t->n++;
	return 0;
}

static int chunk_part(struct document *doc, void *arg)
{
	struct trail *t = arg;
	return chunk_document(doc, t->unit, t->unit / 4, count_chunk, t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const enum input_format fmts[] = { FMT_TEXT, FMT_VTT, FMT_SRT, FMT_JSONL };
	if (size < 2)
		return 0;
	size_t unit = 16 + (data[0] >> 2) * 8;
	size_t part = 1 + data[1];
	const char *text = (const char *)data + 2;
	size_t len = size - 2;
	enum input_format fmt = fmts[data[0] & 3];
	char err[256], err2[256];
	struct trail whole = { unit, 0, 0 }, parts = { unit, 0, 0 };
	int rc = input_read_mem("fuzz", fmt, text, len, unit, len + 1, chunk_part, &whole, err,
				sizeof err);
	int rc2 = input_read_mem("fuzz", fmt, text, len, unit, part, chunk_part, &parts, err2,
				 sizeof err2);
	if (rc != rc2 || whole.n != parts.n || whole.sum != parts.sum || strcmp(err, err2))
		abort();
	return 0;
}
