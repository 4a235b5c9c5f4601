/* fuzz_input.c: libFuzzer target for the transcript readers (.txt, .vtt, .srt, .jsonl) and
 * the chunker behind them. The first byte picks the format and a small unit size. */
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "../../common/chunk.h"
#include "../../common/input.h"

static int count_chunk(const struct chunk *c, void *arg)
{
	/* touch every byte of the chunk so ASan sees any slice that is out of bounds */
	size_t *sum = arg;
	for (size_t i = 0; i < c->len; i++)
		*sum += (unsigned char)c->text[i];
	return 0;
}

static int chunk_doc(struct document *doc, void *arg)
{
	size_t unit = *(size_t *)arg;
	size_t sum = 0;
	chunk_document(doc, unit, unit / 4, count_chunk, &sum);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	size_t unit = 16 + (data[0] >> 2) * 8;
	const char *text = (const char *)data + 1;
	size_t len = size - 1;
	struct document doc;
	document_init(&doc, "fuzz");
	switch (data[0] & 3) {
	case 0: input_parse_text(&doc, text, len, unit); chunk_doc(&doc, &unit); break;
	case 1: if (!input_parse_vtt(&doc, text, len, unit)) chunk_doc(&doc, &unit); break;
	case 2: if (!input_parse_srt(&doc, text, len, unit)) chunk_doc(&doc, &unit); break;
	case 3: {
		char err[256];
		input_parse_jsonl("fuzz.jsonl", text, len, unit, chunk_doc, &unit, err, sizeof err);
		break;
	}
	}
	document_free(&doc);
	return 0;
}
