/* test_answer.c: reading API answers: envelope, tolerated wrappings, schema violations. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/answer.h"
#include "../../common/names.h"

static const char *IDS = "aaaa\nbbbb";
static int last_dropped;
static struct answer_invalid last_invalid; /* freed by the last test */

static int norm(const char *content, buf *out, char *err)
{
	buf_reset(out);
	char nerr[128];
	names *nm = names_new("dr, prof", NULL, nerr, sizeof nerr);
	int rc = answer_normalize(NULL, content, strlen(content), IDS, strlen(IDS), nm, out, &last_dropped,
				  &last_invalid, err, 256);
	names_free(nm);
	return rc;
}

static void envelope_gives_content_usage_and_finish_reason(void **state)
{
	(void)state;
	const char *body = "{\"choices\":[{\"finish_reason\":\"length\",\"message\":{\"content\":\"hi\"}}],"
			   "\"usage\":{\"prompt_tokens\":12,\"completion_tokens\":3}}";
	struct envelope e;
	char err[256];
	assert_int_equal(answer_parse_envelope(body, strlen(body), &e, err, sizeof err), 0);
	assert_string_equal(e.content, "hi");
	assert_string_equal(e.finish_reason, "length");
	assert_int_equal(e.prompt_tokens, 12);
	assert_int_equal(e.completion_tokens, 3);
	envelope_free(&e);
	assert_int_equal(answer_parse_envelope("{\"choices\":[]}", 14, &e, err, sizeof err), -1);
	assert_int_equal(answer_parse_envelope("{\"choices\":[{\"message\"", 22, &e, err, sizeof err), -1);
	assert_non_null(strstr(err, "not JSON"));
}

static void missing_chunks_means_all_and_unknown_ids_are_dropped(void **state)
{
	(void)state;
	buf out;
	buf_init(&out);
	char err[256];
	assert_int_equal(norm("{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\"},"
			      "{\"name\":\"Bob\",\"type\":\"person\",\"description\":\"d\",\"chunks\":[\"bbbb\",\"zzzz\"]}],"
			      "\"relations\":[],\"dropped_relations\":0}", &out, err), 0);
	assert_string_equal(buf_cstr(&out),
			    "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\",\"description\":\"\",\"chunks\":[\"aaaa\",\"bbbb\"]},"
			    "{\"name\":\"Bob\",\"type\":\"person\",\"description\":\"d\",\"chunks\":[\"bbbb\"]}],"
			    "\"relations\":[],\"dropped_relations\":0}");
	buf_free(&out);
}

static void fences_and_prose_are_tolerated(void **state)
{
	(void)state;
	buf out;
	buf_init(&out);
	char err[256];
	const char *want = "{\"entities\":[],\"relations\":[],\"dropped_relations\":0}";
	assert_int_equal(norm("```json\n{\"entities\":[],\"relations\":[]}\n```", &out, err), 0);
	assert_string_equal(buf_cstr(&out), want);
	assert_int_equal(norm("Here you go: {\"entities\":[]} Hope it helps!", &out, err), 0);
	assert_string_equal(buf_cstr(&out), want);
	buf_free(&out);
}

/* Each invalid answer is refused with the JSON path of what is wrong (the KG schema), and
 * nothing is written. */
static void schema_violations_are_invalid(void **state)
{
	(void)state;
	static const char *bad[][2] = {
		{ "Sure! The entities are Ada and Bob.", "answer content has no JSON object" },
		{ "{\"relations\":[],\"dropped_relations\":0}", "$.entities: required property is missing" },
		{ "{\"entities\":{}}", "$.entities: expected array, got object" },
		{ "{\"entities\":[{\"type\":\"person\"}]}", "$.entities[0].name: required property is missing" },
		{ "{\"entities\":[{\"name\":\"\",\"type\":\"person\"}]}",
		  "$.entities[0].name: has 0 characters, fewer than the minimum 1" },
		{ "{\"entities\":[{\"name\":\"A\",\"type\":\"p\",\"chunks\":\"aaaa\"}]}",
		  "$.entities[0].chunks: expected array or null, got string" },
		{ "{\"entities\":[{\"name\":\"A\",\"type\":\"p\",\"description\":7}]}",
		  "$.entities[0].description: expected string or null, got number" },
		{ "{\"entities\":[],\"relations\":[{\"source\":\"A\",\"type\":\"x\"}]}",
		  "$.relations[0].target: required property is missing" },
		{ "{\"entities\":[\"Ada\"]}", "$.entities[0]: expected object, got string" },
		{ "{\"entities\":[], \"relations\": 3}", "$.relations: expected array, got number" },
	};
	buf out;
	buf_init(&out);
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		char err[256] = "";
		if (norm(bad[i][0], &out, err) != -1)
			fail_msg("accepted invalid answer %zu: %s", i, bad[i][0]);
		assert_string_equal(err, bad[i][1]);
		assert_int_equal(out.len, 0);
	}
	buf_free(&out);
}

/* A stage's own schema is applied, and so is the KG schema: the answers make the graph. */
static void a_stage_schema_is_applied_with_the_kg_schema(void **state)
{
	(void)state;
	char err[256];
	const char *text = "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\"}]}";
	const char *stricter = "{\"required\":[\"entities\",\"relations\"]}";
	schema *s = schema_parse(stricter, strlen(stricter), "s.json", err, sizeof err);
	assert_non_null(s);
	buf out;
	buf_init(&out);
	int dropped;
	struct answer_invalid inv = { 0 };
	assert_int_equal(answer_normalize(s, text, strlen(text), IDS, strlen(IDS), NULL, &out,
					  &dropped, &inv, err, sizeof err), -1);
	assert_string_equal(err, "$.relations: required property is missing");
	schema_free(s);
	s = schema_parse("{}", 2, "loose.json", err, sizeof err);
	const char *nameless = "{\"entities\":[{\"type\":\"person\"}]}";
	assert_int_equal(answer_normalize(s, nameless, strlen(nameless), IDS, strlen(IDS), NULL,
					  &out, &dropped, &inv, err, sizeof err), -1);
	assert_string_equal(err, "$.entities[0].name: required property is missing");
	assert_int_equal(out.len, 0);
	schema_free(s);
	/* the stage's own schema is the whole-answer rule: one bad entity refuses the answer */
	const char *typed = "{\"properties\":{\"entities\":{\"items\":{\"properties\":{\"type\":"
			    "{\"enum\":[\"person\"]}}}}}}";
	s = schema_parse(typed, strlen(typed), "typed.json", err, sizeof err);
	assert_non_null(s);
	const char *mixed = "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\"},"
			    "{\"name\":\"Bob\",\"type\":\"robot\"}]}";
	assert_int_equal(answer_normalize(s, mixed, strlen(mixed), IDS, strlen(IDS), NULL, &out,
					  &dropped, &inv, err, sizeof err), -1);
	assert_string_equal(err, "$.entities[1].type: \"robot\" is not one of \"person\"");
	assert_int_equal(inv.n, 0);
	schema_free(s);
	buf_free(&out);
	buf_free(&inv.items);
}

/* Relation ends are matched in normal form ("Dr. Ada Lovelace" is "ada lovelace"); a relation
 * to a name that is not an entity of the answer is left out and counted. */
static void dangling_relations_are_dropped_and_counted(void **state)
{
	(void)state;
	buf out;
	buf_init(&out);
	char err[256];
	const char *a = "{\"entities\":[{\"name\":\"Ada Lovelace\",\"type\":\"person\"},"
			"{\"name\":\"Analytical Engine\",\"type\":\"product\"}],"
			"\"relations\":[{\"source\":\"Dr. ADA  lovelace\",\"target\":\"analytical engine\","
			"\"type\":\"designed\"},{\"source\":\"Ada Lovelace\",\"target\":\"Charles Babbage\","
			"\"type\":\"knew\"}]}";
	assert_int_equal(norm(a, &out, err), 0);
	assert_int_equal(last_dropped, 1);
	assert_non_null(strstr(buf_cstr(&out), "\"designed\""));
	assert_null(strstr(buf_cstr(&out), "Charles Babbage"));
	assert_non_null(strstr(buf_cstr(&out), "\"dropped_relations\":1"));
	buf_free(&out);
}

/* An answer nearly right keeps what is valid: items that fail the KG schema's item rules are
 * left out and listed with the JSON path and the reason; the rest makes the normal form. */
static void invalid_items_are_left_out_and_listed(void **state)
{
	(void)state;
	buf out;
	buf_init(&out);
	char err[256];
	const char *a = "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\"},"
			"{\"name\":\"Bob\",\"type\":\"\"},{\"name\":\"Cy\",\"type\":\"person\"}],"
			"\"relations\":[{\"source\":\"Ada\",\"target\":\"Cy\",\"type\":\"knows\"},"
			"{\"source\":\"Ada\",\"target\":\"Cy\"}]}";
	assert_int_equal(norm(a, &out, err), 0);
	assert_string_equal(buf_cstr(&out),
			    "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\",\"description\":\"\","
			    "\"chunks\":[\"aaaa\",\"bbbb\"]},{\"name\":\"Cy\",\"type\":\"person\","
			    "\"description\":\"\",\"chunks\":[\"aaaa\",\"bbbb\"]}],\"relations\":[{\"source\":"
			    "\"Ada\",\"target\":\"Cy\",\"type\":\"knows\",\"description\":\"\",\"chunks\":"
			    "[\"aaaa\",\"bbbb\"]}],\"dropped_relations\":0}");
	assert_int_equal(last_invalid.n, 2);
	assert_string_equal(buf_cstr(&last_invalid.items),
			    "[{\"path\":\"$.entities[1]\",\"reason\":\"$.entities[1].type: has 0 "
			    "characters, fewer than the minimum 1\",\"item\":{\"name\":\"Bob\",\"type\":\"\"}},"
			    "{\"path\":\"$.relations[1]\",\"reason\":\"$.relations[1].type: required "
			    "property is missing\",\"item\":{\"source\":\"Ada\",\"target\":\"Cy\"}}]");
	/* nothing usable: no entity is valid, so the answer is invalid as a whole, as before */
	const char *none = "{\"entities\":[{\"name\":\"Bob\",\"type\":\"\"}],"
			   "\"relations\":[{\"source\":\"Bob\",\"target\":\"Bob\",\"type\":\"is\"}]}";
	assert_int_equal(norm(none, &out, err), -1);
	assert_string_equal(err, "$.entities[0].type: has 0 characters, fewer than the minimum 1");
	assert_int_equal(last_invalid.n, 0);
	assert_int_equal(out.len, 0);
	/* an error outside the items still refuses the answer, naming its first error */
	const char *other = "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\"},{\"name\":\"B\","
			    "\"type\":\"\"}],\"relations\":7}";
	assert_int_equal(norm(other, &out, err), -1);
	assert_string_equal(err, "$.entities[1].type: has 0 characters, fewer than the minimum 1");
	assert_int_equal(last_invalid.n, 0);
	buf_free(&out);
}

/* The server's own message, whatever the shape of its error body. */
static void api_error_message_is_extracted(void **state)
{
	(void)state;
	static const struct { const char *body, *want; } cases[] = {
		{ "{\"error\":{\"message\":\"Incorrect API key\",\"code\":\"x\"}}", "Incorrect API key" },
		{ "{\"error\":\"Bad Request\",\"message\":\"model is required\"}",
		  "Bad Request: model is required" },
		{ "{\"detail\":\"Not authenticated\"}", "Not authenticated" },
		{ "{\"detail\":[{\"loc\":[\"body\",\"messages\",0],\"msg\":\"field required\"},"
		  "{\"loc\":[\"body\",\"model\"],\"msg\":\"str type expected\"}]}",
		  "body.messages.0: field required; body.model: str type expected" },
		{ "{\"object\":\"error\",\"message\":\"The model `m` does not exist.\",\"code\":404}",
		  "The model `m` does not exist." },
		{ "{\"error\":\"model \\\"m\\\" not found, try pulling it first\"}",
		  "model \"m\" not found, try pulling it first" },
		{ "  <html>\r\n<body>Bad\tGateway</body>\n</html>\n", "<html> <body>Bad Gateway</body> </html>" },
		{ "{\"unexpected\":1}", "{\"unexpected\":1}" },
		{ "\"upstream connect error\\nor reset\"", "upstream connect error or reset" },
		{ "{\"error\":{\"message\":\"line one\\nline two \"}}", "line one line two" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		char *m = answer_error_message(cases[i].body, strlen(cases[i].body));
		assert_non_null(m);
		assert_string_equal(m, cases[i].want);
		free(m);
	}
	assert_null(answer_error_message("", 0));
	assert_null(answer_error_message(" \n", 2));
}

/* A text body is kept to its first 200 bytes, cut between UTF-8 characters. */
static void long_text_error_is_cut_between_characters(void **state)
{
	(void)state;
	char body[600];
	memset(body, 'a', 199);
	strcpy(body + 199, "\xc3\xa9 and more after it");
	char *m = answer_error_message(body, strlen(body));
	assert_int_equal(strlen(m), 199);
	free(m);
	memset(body, 'b', sizeof body - 1);
	body[sizeof body - 1] = '\0';
	m = answer_error_message(body, strlen(body));
	assert_int_equal(strlen(m), 200);
	free(m);
}

/* found by fuzz_answer: a usage figure beyond int64 was cast anyway */
static void absurd_usage_is_ignored(void **state)
{
	(void)state;
	const char *b = "{\"choices\":[{\"message\":{\"content\":\"{}\"}}],"
			"\"usage\":{\"prompt_tokens\":1e300,\"completion_tokens\":-5}}";
	struct envelope e;
	char err[256];
	assert_int_equal(answer_parse_envelope(b, strlen(b), &e, err, sizeof err), 0);
	assert_int_equal(e.prompt_tokens, -1);
	assert_int_equal(e.completion_tokens, -1);
	envelope_free(&e);
	buf_free(&last_invalid.items);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(envelope_gives_content_usage_and_finish_reason),
		cmocka_unit_test(missing_chunks_means_all_and_unknown_ids_are_dropped),
		cmocka_unit_test(fences_and_prose_are_tolerated),
		cmocka_unit_test(schema_violations_are_invalid),
		cmocka_unit_test(a_stage_schema_is_applied_with_the_kg_schema),
		cmocka_unit_test(dangling_relations_are_dropped_and_counted),
		cmocka_unit_test(invalid_items_are_left_out_and_listed),
		cmocka_unit_test(api_error_message_is_extracted),
		cmocka_unit_test(long_text_error_is_cut_between_characters),
		cmocka_unit_test(absurd_usage_is_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
