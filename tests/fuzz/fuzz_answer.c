/* fuzz_answer.c: libFuzzer target for what the API sends back: the chat-completions envelope,
 * and the model's content against kgsup's schema (fences, prose, chunk ids). */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../common/answer.h"
#include "../../common/names.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *text = (const char *)data;
	struct envelope env;
	char err[256];
	if (answer_parse_envelope(text, size, &env, err, sizeof err) == 0)
		envelope_free(&env);
	free(answer_error_message(text, size));
	static const char ids[] = "aaaaaaaaaaaaaaaa\nbbbbbbbbbbbbbbbb";
	buf out;
	buf_init(&out);
	static names *nm;
	if (!nm)
		nm = names_new("dr, prof", NULL, err, sizeof err);
	int dropped;
	struct answer_invalid inv = { 0 };
	answer_normalize(NULL, text, size, ids, sizeof ids - 1, nm, &out, &dropped, &inv, err,
			 sizeof err);
	buf_free(&out);
	buf_free(&inv.items);
	return 0;
}
