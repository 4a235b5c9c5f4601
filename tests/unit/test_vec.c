/* test_vec.c: embedding answers read into keyed vectors (common/vec_answer.c), and the
 * vector frame (common/vec.c). Each vector must come back under the key of the input it
 * answers, whatever order the server lists them in; an answer that does not answer every
 * input once, with one length for all and finite values, is refused whole, naming where. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../common/buf.h"
#include "../../common/vec.h"
#include "../../common/vec_answer.h"

static const char body[] =
	"{\"model\":\"m\",\"input\":[\"alpha\",\"beta\"],\"encoding_format\":\"base64\"}";

/* base64 of little-endian float32 {1, 2} and {3, 4} */
#define B12 "AACAPwAAAEA="
#define B34 "AABAQAAAgEA="

static int read_answer(const char *answer, buf *payload, char *err, size_t errlen)
{
	int64_t prompt;
	return vec_answer_read(body, strlen(body), answer, strlen(answer), payload, &prompt, err,
			       errlen);
}

/* The vector kept under text's key in payload, into out (2 floats); -1 when none. */
static int vector_of(const buf *payload, const char *text, float out[2])
{
	uint32_t n, dims;
	assert_int_equal(vec_payload_read(payload->data, payload->len, &n, &dims), 0);
	assert_int_equal(dims, 2);
	unsigned char want[HASH_LEN];
	vec_key("m", 0, text, strlen(text), want);
	for (uint32_t i = 0; i < n; i++) {
		const void *f;
		const unsigned char *key = vec_payload_item(payload->data, i, dims, &f);
		if (!memcmp(key, want, HASH_LEN)) {
			memcpy(out, f, 8);
			return 0;
		}
	}
	return -1;
}

static void vectors_under_their_inputs_keys(void **state)
{
	(void)state;
	buf p;
	buf_init(&p);
	char err[200];
	float v[2];
	/* listed out of order, one as numbers and one as base64 */
	assert_int_equal(read_answer("{\"data\":[{\"index\":1,\"embedding\":\"" B34 "\"},"
				     "{\"index\":0,\"embedding\":[1,2]}],\"usage\":{\"prompt_tokens\":3}}",
				     &p, err, sizeof err),
			 0);
	assert_int_equal(vector_of(&p, "alpha", v), 0);
	assert_true(v[0] == 1 && v[1] == 2);
	assert_int_equal(vector_of(&p, "beta", v), 0);
	assert_true(v[0] == 3 && v[1] == 4);
	/* the same values in either encoding */
	buf q;
	buf_init(&q);
	assert_int_equal(read_answer("{\"data\":[{\"index\":0,\"embedding\":\"" B12 "\"},"
				     "{\"index\":1,\"embedding\":[3,4]}]}",
				     &q, err, sizeof err),
			 0);
	assert_int_equal(p.len, q.len);
	float w[2];
	assert_int_equal(vector_of(&q, "alpha", w), 0);
	assert_true(w[0] == 1 && w[1] == 2);
	buf_free(&p);
	buf_free(&q);
}

static void refused(const char *answer, const char *says)
{
	buf p;
	buf_init(&p);
	char err[200] = "";
	assert_int_equal(read_answer(answer, &p, err, sizeof err), -1);
	if (!strstr(err, says))
		fail_msg("\"%s\" does not say \"%s\"", err, says);
	buf_free(&p);
}

static void bad_answers_refused_whole(void **state)
{
	(void)state;
	refused("{\"data\":[{\"index\":0,\"embedding\":[1,2]}]}", "1 vectors for 2 inputs");
	refused("{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":0,\"embedding\":[1,2]}]}",
		"data[1].index: 0 answered twice");
	refused("{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":2,\"embedding\":[1,2]}]}",
		"data[1].index: expected a whole number below 2");
	refused("{\"data\":[{\"index\":0,\"embedding\":[1,2]},{\"index\":1,\"embedding\":[1,2,3]}]}",
		"data[1].embedding: 3 values where the first had 2");
	refused("{\"data\":[{\"index\":0,\"embedding\":[1,\"x\"]},{\"index\":1,\"embedding\":[1,2]}]}",
		"data[0].embedding[1]: not a number");
	refused("{\"data\":[{\"index\":0,\"embedding\":\"not base64!\"},{\"index\":1,\"embedding\":[1,2]}]}",
		"data[0].embedding: not base64");
	refused("{\"data\":[{\"index\":0,\"embedding\":[1e39,2]},{\"index\":1,\"embedding\":[1,2]}]}",
		"not a finite number");
	refused("{\"object\":\"list\"}", "no \"data\" array");
	refused("not json", "not JSON");
}

static void frame_checked(void **state)
{
	(void)state;
	buf p;
	buf_init(&p);
	unsigned char key[HASH_LEN] = { 1 };
	float f[3] = { 1, 2, 3 };
	vec_payload_begin(&p, 2, 3);
	vec_payload_add(&p, key, f, 3);
	uint32_t n, dims;
	assert_int_equal(vec_payload_read(p.data, p.len, &n, &dims), -1); /* one of two */
	vec_payload_add(&p, key, f, 3);
	assert_int_equal(vec_payload_read(p.data, p.len, &n, &dims), 0);
	assert_int_equal(vec_payload_read(p.data, p.len - 1, &n, &dims), -1);
	assert_int_equal(vec_payload_read("{}", 2, &n, &dims), -1);
	buf_free(&p);
	/* the key depends on the model, the dimensions and the text */
	unsigned char a[HASH_LEN], b[HASH_LEN];
	vec_key("m", 0, "t", 1, a);
	vec_key("m", 64, "t", 1, b);
	assert_memory_not_equal(a, b, HASH_LEN);
	vec_key("n", 0, "t", 1, b);
	assert_memory_not_equal(a, b, HASH_LEN);
	/* an input is cut at a character's start */
	assert_int_equal(vec_input_len("abcdéf", 7, 1), 4);
	assert_int_equal(vec_input_len("abcé", 5, 1), 3);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vectors_under_their_inputs_keys),
		cmocka_unit_test(bad_answers_refused_whole),
		cmocka_unit_test(frame_checked),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
