/* vec_answer.c: an embeddings answer read into vectors (vec_answer.h). The answer is checked
 * whole before anything is kept: as many vectors as inputs, each index once, one length for
 * all (the dimensions asked for, when asked), finite values. */
#include "vec_answer.h"
#include "hash.h"
#include "json.h"
#include "util.h"
#include "vec.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                   \
	do {                                        \
		snprintf(err, errlen, __VA_ARGS__); \
		goto out;                           \
	} while (0)

/* Vector i's values into out (dims floats; *dims set by the first vector read). */
static int read_vector(const json *e, uint32_t *dims, float **vals, size_t *cap, size_t i,
		       char *err, size_t errlen)
{
	const char *b64 = json_string(e);
	size_t n = 0;
	if (b64) {
		size_t len = strlen(b64);
		unsigned char *raw = xmalloc(len / 4 * 3 + 4);
		long got = base64_decode(b64, len, raw);
		if (got < 0 || got % 4 || !got) {
			free(raw);
			snprintf(err, errlen, "data[%zu].embedding: not base64 of float32 values", i);
			return -1;
		}
		n = (size_t)got / 4;
		if (!*dims)
			*dims = (uint32_t)(n <= VEC_MAX_DIMS ? n : 0);
		if (n == *dims) {
			if (*cap < (i + 1) * n)
				*vals = xrealloc(*vals, (*cap = (i + 1) * n * 2) * sizeof **vals);
			memcpy(*vals + i * n, raw, n * 4);
		}
		free(raw);
	} else if (json_kind(e) == J_ARRAY) {
		for (const json *x = json_first(e); x; x = json_next(x))
			n++;
		if (!*dims)
			*dims = (uint32_t)(n <= VEC_MAX_DIMS ? n : 0);
		if (n == *dims) {
			if (*cap < (i + 1) * n)
				*vals = xrealloc(*vals, (*cap = (i + 1) * n * 2) * sizeof **vals);
			size_t k = 0;
			for (const json *x = json_first(e); x; x = json_next(x), k++) {
				if (json_kind(x) != J_NUMBER) {
					snprintf(err, errlen, "data[%zu].embedding[%zu]: not a number", i, k);
					return -1;
				}
				(*vals)[i * n + k] = (float)json_number(x);
			}
		}
	} else {
		snprintf(err, errlen, "data[%zu].embedding: expected a base64 string or an array", i);
		return -1;
	}
	if (!n || n != *dims) {
		snprintf(err, errlen, "data[%zu].embedding: %zu values where the first had %u", i, n,
			 *dims);
		return -1;
	}
	for (size_t k = 0; k < n; k++)
		if (!isfinite((*vals)[i * n + k])) {
			snprintf(err, errlen, "data[%zu].embedding[%zu]: not a finite number", i, k);
			return -1;
		}
	return 0;
}

int vec_answer_read(const char *body, size_t blen, const char *answer, size_t alen, buf *payload,
		    int64_t *prompt_tokens, char *err, size_t errlen)
{
	int rc = -1;
	float *vals = NULL;
	size_t cap = 0;
	unsigned char *seen = NULL;
	char perr[128];
	json *req = json_parse(body, blen, perr, sizeof perr), *ans = NULL;
	if (!req)
		FAIL("the request sent is not JSON: %s", perr);
	ans = json_parse(answer, alen, perr, sizeof perr);
	if (!ans)
		FAIL("not JSON: %s", perr);
	const char *model = json_string(json_get(req, "model"));
	const json *input = json_get(req, "input"), *dims_j = json_get(req, "dimensions");
	int64_t asked_dims = dims_j ? (int64_t)json_number(dims_j) : 0;
	size_t ninput = 0;
	for (const json *x = json_first(input); x; x = json_next(x))
		ninput++;
	if (!model || !ninput)
		FAIL("the request sent has no model or no input");
	const json *data = json_get(ans, "data");
	if (json_kind(data) != J_ARRAY)
		FAIL("no \"data\" array");
	seen = xcalloc(ninput, 1);
	uint32_t dims = asked_dims > 0 && asked_dims <= VEC_MAX_DIMS ? (uint32_t)asked_dims : 0;
	size_t got = 0;
	for (const json *d = json_first(data); d; d = json_next(d), got++) {
		const json *ix = json_get(d, "index");
		double di = json_number(ix);
		if (json_kind(ix) != J_NUMBER || di < 0 || di >= (double)ninput || di != (size_t)di)
			FAIL("data[%zu].index: expected a whole number below %zu (the inputs sent)", got,
			     ninput);
		size_t i = (size_t)di;
		if (seen[i]++)
			FAIL("data[%zu].index: %zu answered twice", got, i);
		if (read_vector(json_get(d, "embedding"), &dims, &vals, &cap, i, err, errlen))
			goto out;
	}
	if (got != ninput)
		FAIL("%zu vectors for %zu inputs", got, ninput);
	const json *usage = json_get(json_get(ans, "usage"), "prompt_tokens");
	*prompt_tokens = json_kind(usage) == J_NUMBER ? (int64_t)json_number(usage) : -1;
	buf_reset(payload);
	vec_payload_begin(payload, (uint32_t)ninput, dims);
	size_t i = 0;
	for (const json *x = json_first(input); x; x = json_next(x), i++) {
		const char *text = json_string(x);
		if (!text)
			FAIL("the request sent has an input that is not a string");
		unsigned char key[HASH_LEN];
		vec_key(model, asked_dims, text, strlen(text), key);
		vec_payload_add(payload, key, vals + i * dims, dims);
	}
	rc = 0;
out:
	free(vals);
	free(seen);
	json_free(req);
	json_free(ans);
	return rc;
}
