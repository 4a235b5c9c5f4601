/* vec_answer.h: an embeddings answer read into vectors. */
#ifndef KGSUP_VEC_ANSWER_H
#define KGSUP_VEC_ANSWER_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

/* The request body sent (its "model", "input" and "dimensions") and the server's answer (its
 * "data": an "embedding" per input, as base64 float32 or as numbers, by "index"; "usage")
 * into a vec.h payload: each input's vector under its key. *prompt_tokens: the usage's, or -1
 * when the server sent none. 0, or -1 with err set ("data[3].embedding: ..."). */
int vec_answer_read(const char *body, size_t blen, const char *answer, size_t alen, buf *payload,
		    int64_t *prompt_tokens, char *err, size_t errlen);

#endif
