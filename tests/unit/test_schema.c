/* test_schema.c: the JSON Schema subset: every keyword accepted and refused with the JSON path
 * in the message, schemas kgsup cannot honour refused at parse time, strictness, nesting
 * bounds, and the built-in KG schema. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/schema.h"

static schema *parse(const char *text)
{
	char err[256];
	schema *s = schema_parse(text, strlen(text), "t.json", err, sizeof err);
	if (!s)
		fail_msg("schema refused: %s", err);
	return s;
}

/* The message validating value against s gives, "" when it passes. */
static const char *check(const schema *s, const char *value)
{
	static char err[512];
	char perr[128];
	json *v = json_parse(value, strlen(value), perr, sizeof perr);
	if (!v)
		fail_msg("test value is not JSON: %s", perr);
	err[0] = '\0';
	int rc = schema_validate(s, v, err, sizeof err);
	json_free(v);
	if (rc == 0)
		return "";
	assert_int_equal(rc, -1);
	assert_true(err[0] != '\0');
	return err;
}

static void ok(const char *sch, const char *value)
{
	schema *s = parse(sch);
	const char *err = check(s, value);
	if (*err)
		fail_msg("%s refused %s: %s", sch, value, err);
	schema_free(s);
}

static void bad(const char *sch, const char *value, const char *want)
{
	schema *s = parse(sch);
	assert_string_equal(check(s, value), want);
	schema_free(s);
}

static void parse_error(const char *sch, const char *want)
{
	char err[256] = "";
	assert_null(schema_parse(sch, strlen(sch), "t.json", err, sizeof err));
	assert_string_equal(err, want);
}

static void types_and_integer_versus_number(void **state)
{
	(void)state;
	ok("{\"type\":\"string\"}", "\"x\"");
	ok("{\"type\":\"null\"}", "null");
	ok("{\"type\":\"boolean\"}", "false");
	ok("{\"type\":\"object\"}", "{}");
	ok("{\"type\":\"array\"}", "[]");
	ok("{\"type\":\"integer\"}", "3");
	ok("{\"type\":\"integer\"}", "3.0");
	ok("{\"type\":\"number\"}", "3");
	ok("{\"type\":\"number\"}", "3.5");
	ok("{\"type\":[\"string\",\"null\"]}", "null");
	bad("{\"type\":\"integer\"}", "3.5", "$: expected integer, got number");
	bad("{\"type\":\"string\"}", "true", "$: expected string, got boolean");
	bad("{\"type\":\"boolean\"}", "null", "$: expected boolean, got null");
	bad("{\"type\":\"array\"}", "{}", "$: expected array, got object");
	bad("{\"type\":\"object\"}", "[]", "$: expected object, got array");
	bad("{\"type\":[\"string\",\"null\"]}", "1", "$: expected string or null, got number");
}

static void properties_required_and_additional(void **state)
{
	(void)state;
	const char *s = "{\"type\":\"object\",\"required\":[\"a\"],\"properties\":{\"a\":{\"type\":\"object\","
			"\"properties\":{\"b\":{\"type\":\"string\"}}}},\"additionalProperties\":false}";
	ok(s, "{\"a\":{\"b\":\"x\",\"c\":1}}");
	bad(s, "{\"a\":{\"b\":1}}", "$.a.b: expected string, got number");
	bad(s, "{}", "$.a: required property is missing");
	bad(s, "{\"a\":{},\"z\":1}", "$.z: property is not allowed (additionalProperties is false)");
	bad(s, "{\"a\":{},\"odd key\":1}",
	    "$[\"odd key\"]: property is not allowed (additionalProperties is false)");
	const char *m = "{\"additionalProperties\":{\"type\":\"number\"},\"properties\":{\"s\":{}}}";
	ok(m, "{\"s\":\"free\",\"n\":2}");
	bad(m, "{\"s\":\"free\",\"n\":\"2\"}", "$.n: expected number, got string");
	bad("{\"required\":[\"2x\"]}", "{}", "$[\"2x\"]: required property is missing");
}

static void items_enum_and_const(void **state)
{
	(void)state;
	const char *s = "{\"properties\":{\"risks\":{\"type\":\"array\",\"items\":{\"properties\":{"
			"\"severity\":{\"enum\":[\"low\",\"medium\",\"high\"]}}}}}}";
	ok(s, "{\"risks\":[{\"severity\":\"low\"},{\"severity\":\"high\"}]}");
	bad(s, "{\"risks\":[{},{\"severity\":\"low\"},{\"severity\":\"extreme\"}]}",
	    "$.risks[2].severity: \"extreme\" is not one of \"low\", \"medium\", \"high\"");
	ok("{\"enum\":[1,[1,{\"a\":null}]]}", "[1.0,{\"a\":null}]");
	bad("{\"enum\":[1,[1,{\"a\":null}]]}", "[1,{\"a\":0}]", "$: [1,{\"a\":0}] is not one of 1, [1,{\"a\":null}]");
	ok("{\"const\":{\"k\":\"v\",\"n\":2}}", "{\"n\":2,\"k\":\"v\"}");
	bad("{\"const\":{\"k\":\"v\"}}", "{\"k\":\"v\",\"n\":2}", "$: {\"k\":\"v\",\"n\":2} is not {\"k\":\"v\"}");
	bad("{\"const\":\"v\"}", "\"w\"", "$: \"w\" is not \"v\"");
}

static void item_counts_bounds_and_lengths(void **state)
{
	(void)state;
	const char *a = "{\"minItems\":1,\"maxItems\":2}";
	ok(a, "[1,2]");
	bad(a, "[]", "$: has 0 items, fewer than the minimum 1");
	bad(a, "[1,2,3]", "$: has 3 items, more than the maximum 2");
	const char *n = "{\"minimum\":1,\"maximum\":5}";
	ok(n, "1");
	ok(n, "5");
	bad(n, "0.5", "$: 0.5 is less than the minimum 1");
	bad(n, "6", "$: 6 is more than the maximum 5");
	const char *x = "{\"exclusiveMinimum\":1,\"exclusiveMaximum\":5}";
	ok(x, "1.5");
	bad(x, "1", "$: 1 is not more than the exclusive minimum 1");
	bad(x, "5", "$: 5 is not less than the exclusive maximum 5");
	/* "héllo" is 5 code points in 6 bytes; "日本" 2 in 6 */
	ok("{\"maxLength\":5}", "\"h\\u00e9llo\"");
	ok("{\"minLength\":2,\"maxLength\":2}", "\"\xe6\x97\xa5\xe6\x9c\xac\"");
	bad("{\"minLength\":6}", "\"h\\u00e9llo\"", "$: has 5 characters, fewer than the minimum 6");
	bad("{\"maxLength\":1}", "\"\xe6\x97\xa5\xe6\x9c\xac\"", "$: has 2 characters, more than the maximum 1");
	bad("{\"minLength\":1}", "\"\"", "$: has 0 characters, fewer than the minimum 1");
	ok("{\"minLength\":3}", "12"); /* bounds apply to their own kind only */
}

static void refs_to_defs_and_definitions(void **state)
{
	(void)state;
	const char *s = "{\"$defs\":{\"sev\":{\"enum\":[\"low\",\"high\"]}},\"definitions\":{\"n\":{\"type\":\"integer\"}},"
			"\"properties\":{\"s\":{\"$ref\":\"#/$defs/sev\"},\"n\":{\"$ref\":\"#/definitions/n\"}}}";
	ok(s, "{\"s\":\"low\",\"n\":1}");
	bad(s, "{\"s\":\"mid\"}", "$.s: \"mid\" is not one of \"low\", \"high\"");
	bad(s, "{\"n\":1.5}", "$.n: expected integer, got number");
	const char *tree = "{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}},"
			   "\"v\":{\"type\":\"string\"}}}";
	ok(tree, "{\"kids\":[{\"kids\":[{\"v\":\"x\"}]}]}");
	bad(tree, "{\"kids\":[{\"kids\":[{\"v\":1}]}]}", "$.kids[0].kids[0].v: expected string, got number");
	parse_error("{\"$ref\":\"#/$defs/none\"}", "t.json: /: \"$ref\" must be \"#\", \"#/$defs/NAME\" or "
		    "\"#/definitions/NAME\" naming a schema of this file");
	parse_error("{\"items\":{\"$ref\":\"other.json#/x\"}}", "t.json: /items: \"$ref\" must be \"#\", "
		    "\"#/$defs/NAME\" or \"#/definitions/NAME\" naming a schema of this file");
}

static void any_of_takes_one_alternative(void **state)
{
	(void)state;
	const char *s = "{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"null\"}]}";
	ok(s, "\"x\"");
	ok(s, "null");
	bad(s, "3", "$: matches no alternative of anyOf (the first: expected string, got number)");
	/* the error reported is the one of the alternative the value came closest to */
	const char *o = "{\"properties\":{\"e\":{\"anyOf\":[{\"type\":\"null\"},"
			"{\"type\":\"object\",\"required\":[\"name\"]}]}}}";
	ok(o, "{\"e\":{\"name\":1}}");
	bad(o, "{\"e\":{}}", "$.e.name: required property is missing");
}

static void unsupported_keywords_and_bad_values_are_refused_at_parse(void **state)
{
	(void)state;
	parse_error("{\"properties\":{\"x\":{\"patternProperties\":{}}}}",
		    "t.json: /properties/x: unsupported keyword \"patternProperties\"");
	parse_error("{\"oneOf\":[{}]}", "t.json: /: unsupported keyword \"oneOf\"");
	parse_error("{\"$defs\":{\"a/b\":{\"items\":{\"not\":{}}}}}", "t.json: /$defs/a~1b/items: unsupported keyword \"not\"");
	parse_error("{\"anyOf\":[{},{\"minLength\":-1}]}", "t.json: /anyOf/1: \"minLength\" must be a non-negative integer");
	parse_error("{\"type\":\"text\"}", "t.json: /: unknown type \"text\"");
	parse_error("{\"type\":[\"string\",3]}", "t.json: /: \"type\" must be a type name or an array of them");
	parse_error("{\"required\":\"a\"}", "t.json: /: \"required\" must be an array of strings");
	parse_error("{\"items\":3}", "t.json: /items: a schema must be an object or a boolean");
	parse_error("{\"enum\":[]}", "t.json: /: \"enum\" must be a non-empty array");
	parse_error("{\"type\":\n\"string\",}", "t.json: line 2, column 10: invalid JSON");
	/* annotations are accepted and ignored */
	ok("{\"$schema\":\"x\",\"$id\":\"y\",\"title\":\"t\",\"description\":\"d\",\"default\":1,"
	   "\"format\":\"date\",\"examples\":[1]}", "\"anything\"");
}

static void strictness_is_detected(void **state)
{
	(void)state;
	static const struct {
		const char *schema;
		int strict;
	} cases[] = {
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"],"
		  "\"additionalProperties\":false}", 1 },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},\"required\":[\"a\"]}", 0 },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{},\"b\":{}},\"required\":[\"a\"],"
		  "\"additionalProperties\":false}", 0 },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
		  "\"properties\":{\"x\":{}}}}},\"required\":[\"a\"],\"additionalProperties\":false}", 0 },
		{ "{\"type\":\"object\",\"properties\":{\"a\":{\"$ref\":\"#/$defs/o\"}},\"required\":[\"a\"],"
		  "\"additionalProperties\":false,\"$defs\":{\"o\":{\"type\":[\"object\",\"null\"],"
		  "\"properties\":{}}}}", 0 },
		{ "{\"type\":\"string\"}", 1 },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		schema *s = parse(cases[i].schema);
		if (schema_is_strict(s) != cases[i].strict)
			fail_msg("case %zu: strict is %d", i, schema_is_strict(s));
		schema_free(s);
	}
}

static void deep_nesting_and_ref_loops_are_refused(void **state)
{
	(void)state;
	schema *s = parse("{\"type\":\"array\",\"items\":{\"$ref\":\"#\"}}");
	buf v, want;
	buf_init(&v);
	buf_init(&want);
	for (int i = 0; i < 64; i++)
		buf_putc(&v, '[');
	for (int i = 0; i < 64; i++)
		buf_putc(&v, ']');
	assert_string_equal(check(s, buf_cstr(&v)), "");
	buf_reset(&v);
	buf_putc(&want, '$');
	for (int i = 0; i < 200; i++)
		buf_putc(&v, '[');
	for (int i = 0; i < 200; i++)
		buf_putc(&v, ']');
	for (int i = 0; i < 65; i++)
		buf_puts(&want, "[0]");
	buf_puts(&want, ": nesting too deep");
	assert_string_equal(check(s, buf_cstr(&v)), buf_cstr(&want));
	schema_free(s);
	buf_free(&v);
	buf_free(&want);
	bad("{\"$defs\":{\"a\":{\"$ref\":\"#/$defs/b\"},\"b\":{\"anyOf\":[{\"$ref\":\"#/$defs/a\"}]}},"
	    "\"$ref\":\"#/$defs/a\"}", "1",
	    "$: too many $refs without descending (a $ref loop?)");
}

static void text_is_found_in_fences_and_echoed_compact(void **state)
{
	(void)state;
	schema *s = parse("{\"required\":[\"a\"]}");
	buf out;
	buf_init(&out);
	char err[256] = "";
	const char *t = "Here:\n```json\n{ \"a\" : [1, 2] }\n```\n";
	assert_int_equal(schema_validate_text(s, t, strlen(t), &out, err, sizeof err), 0);
	assert_string_equal(buf_cstr(&out), "{\"a\":[1,2]}");
	assert_int_equal(schema_validate_text(s, "{\"b\":1}", 7, &out, err, sizeof err), -1);
	assert_string_equal(err, "$.a: required property is missing");
	assert_int_equal(schema_validate_text(s, "no json", 7, NULL, err, sizeof err), -1);
	assert_string_equal(err, "answer content has no JSON object");
	size_t len;
	assert_string_equal(schema_text(s, &len), "{\"required\":[\"a\"]}");
	assert_int_equal(len, 18);
	schema_free(s);
	buf_free(&out);
}

static void files_are_loaded_with_their_name_in_errors(void **state)
{
	(void)state;
	char path[] = "/tmp/kgsup-schema-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "{\"maxItems\":\"2\"}", 16), 16);
	close(fd);
	char err[512], want[512];
	assert_null(schema_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s: /: \"maxItems\" must be a non-negative integer", path);
	assert_string_equal(err, want);
	unlink(path);
	assert_null(schema_load(path, err, sizeof err));
	snprintf(want, sizeof want, "%s: No such file or directory", path);
	assert_string_equal(err, want);
}

static void kg_schema_takes_kg_answers(void **state)
{
	(void)state;
	const schema *kg = schema_kg();
	assert_ptr_equal(kg, schema_kg());
	assert_false(schema_is_strict(kg));
	assert_string_equal(check(kg, "{\"entities\":[{\"name\":\"Ada\",\"type\":\"person\",\"description\":null,"
				  "\"chunks\":[\"c1\"],\"extra\":1},{\"name\":\"Bob\",\"type\":\"person\"}],"
				  "\"relations\":[{\"source\":\"Ada\",\"target\":\"Bob\",\"type\":\"knew\","
				  "\"chunks\":null}],\"dropped_relations\":0}"), "");
	assert_string_equal(check(kg, "{\"entities\":[{\"type\":\"person\"}]}"),
			    "$.entities[0].name: required property is missing");
	assert_string_equal(check(kg, "{\"entities\":[],\"relations\":[{\"source\":\"a\",\"target\":\"\",\"type\":\"t\"}]}"),
			    "$.relations[0].target: has 0 characters, fewer than the minimum 1");
	assert_string_equal(check(kg, "{\"entities\":[{\"name\":\"A\",\"type\":\"p\",\"chunks\":[1]}]}"),
			    "$.entities[0].chunks[0]: expected string, got number");
	assert_string_equal(check(kg, "{\"relations\":[]}"), "$.entities: required property is missing");
}

/* One part of a value against the sub-schema at a JSON pointer ($refs resolve in the whole
 * schema; "~1" is '/', "~0" is '~'); errors name the part's place in the whole. */
static void a_part_is_validated_against_a_sub_schema(void **state)
{
	(void)state;
	char err[256];
	const char *text = "{\"$defs\":{\"n\":{\"type\":\"string\"}},\"properties\":{\"a/b~c\":"
			   "{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/n\"}}}}";
	schema *s = schema_parse(text, strlen(text), "p.json", err, sizeof err);
	assert_non_null(s);
	json *five = json_parse("5", 1, NULL, 0), *str = json_parse("\"x\"", 3, NULL, 0);
	assert_int_equal(schema_validate_at(s, "/properties/a~1b~0c/items", str, "$.x[2]", err,
					    sizeof err), 0);
	assert_int_equal(schema_validate_at(s, "/properties/a~1b~0c/items", five, "$.x[2]", err,
					    sizeof err), -1);
	assert_string_equal(err, "$.x[2]: expected string, got number");
	assert_int_equal(schema_validate_at(s, "/properties/nothing", five, "$", err, sizeof err), -1);
	assert_string_equal(err, "$: the schema has nothing at /properties/nothing");
	json_free(five);
	json_free(str);
	schema_free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(types_and_integer_versus_number),
		cmocka_unit_test(properties_required_and_additional),
		cmocka_unit_test(items_enum_and_const),
		cmocka_unit_test(item_counts_bounds_and_lengths),
		cmocka_unit_test(refs_to_defs_and_definitions),
		cmocka_unit_test(any_of_takes_one_alternative),
		cmocka_unit_test(unsupported_keywords_and_bad_values_are_refused_at_parse),
		cmocka_unit_test(strictness_is_detected),
		cmocka_unit_test(deep_nesting_and_ref_loops_are_refused),
		cmocka_unit_test(text_is_found_in_fences_and_echoed_compact),
		cmocka_unit_test(files_are_loaded_with_their_name_in_errors),
		cmocka_unit_test(kg_schema_takes_kg_answers),
		cmocka_unit_test(a_part_is_validated_against_a_sub_schema),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
