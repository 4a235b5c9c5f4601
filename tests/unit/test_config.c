/* test_config.c: the config table: defaults, overrides, and errors that name the key. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/config.h"
#include "../../common/util.h"

static int parse(struct config *c, const char *text, char *err)
{
	config_defaults(c);
	return config_parse(c, text, strlen(text), "k.json", err, 256);
}

static void defaults_match_the_documented_ones(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(parse(&c, "{}", err), 0);
	assert_string_equal(c.base_url, "https://api.openai.com/v1");
	assert_string_equal(c.api_key_env, "OPENAI_API_KEY");
	assert_null(c.ca_file);
	assert_int_equal(c.chunk_tokens, 600);
	assert_int_equal(c.overlap_tokens, 60);
	assert_int_equal(c.chunks_per_batch, 10);
	assert_int_equal(c.requests_per_minute, 500);
	assert_int_equal(c.max_attempts, 6);
	assert_true(c.json_mode);
	config_free(&c);
}

static void values_override_defaults(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(parse(&c, "{\"api\":{\"model\":\"m\",\"ca_file\":\"/x.pem\",\"json_mode\":false,"
				   "\"temperature\":0.5},\"run\":{\"workers\":3}}", err), 0);
	assert_string_equal(c.model, "m");
	assert_string_equal(c.ca_file, "/x.pem");
	assert_false(c.json_mode);
	assert_true(c.temperature == 0.5);
	assert_int_equal(c.workers, 3);
	config_free(&c);
}

static void plain_http_only_to_loopback(void **state)
{
	(void)state;
	struct config c;
	char err[256];
	assert_int_equal(parse(&c, "{\"api\":{\"base_url\":\"http://127.0.0.1:8000/v1\"}}", err), 0);
	config_free(&c);
	assert_int_equal(parse(&c, "{\"api\":{\"base_url\":\"http://localhost:8080/v1\"}}", err), 0);
	config_free(&c);
	assert_int_equal(parse(&c, "{\"api\":{\"base_url\":\"http://localhost.evil.com/v1\"}}", err), -1);
	config_free(&c);
}

/* The host as a URL parser sees it: userinfo, ports and brackets do not fool the check. */
static void plain_http_host_is_parsed(void **state)
{
	(void)state;
	static const struct {
		const char *url;
		int ok;
	} cases[] = {
		{ "http://127.0.0.1:8000/v1", 1 },
		{ "http://127.1.2.3/v1", 1 },
		{ "http://localhost", 1 },
		{ "http://LocalHost:8080", 1 },
		{ "http://localhost/v1", 1 },
		{ "http://[::1]:8000/v1", 1 },
		{ "http://[::1]", 1 },
		{ "http://127.0.0.1:8000?x", 1 },
		{ "http://localhost:x@192.0.2.2:18099/v1", 0 },
		{ "http://127.0.0.1@192.0.2.2/v1", 0 },
		{ "http://user:pw@127.0.0.1:8000/v1", 1 },
		{ "http://a@b@192.0.2.2/v1", 0 },
		{ "http://127.evil.example:8000/v1", 0 },
		{ "http://127.0.0.1.evil.example/v1", 0 },
		{ "http://localhost.evil.com/v1", 0 },
		{ "http://localhost:80x/v1", 0 },
		{ "http://[::1].evil/v1", 0 },
		{ "http://[::2]/v1", 0 },
		{ "http://192.0.2.2/v1", 0 },
		{ "http://127.0.0.1\\@192.0.2.2/v1", 0 },
		{ "http://", 0 },
		{ "https://127.0.0.1/v1", 0 },
	};
	int wrong = 0;
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		if (config_is_loopback_http(cases[i].url) != cases[i].ok) {
			print_message("# %s: want %s\n", cases[i].url, cases[i].ok ? "accepted" : "refused");
			wrong++;
		}
	assert_int_equal(wrong, 0);
}

/* A server on this machine: without limits in the config, the provider defaults do not apply;
 * limits given are kept; a remote server keeps the defaults. */
static int64_t rpm_of(const char *text, int64_t *tpm)
{
	struct config c;
	char err[256];
	config_defaults(&c);
	assert_int_equal(config_parse(&c, text, strlen(text), "t", err, sizeof err), 0);
	int64_t rpm = c.requests_per_minute;
	*tpm = c.tokens_per_minute;
	config_free(&c);
	return rpm;
}

static void local_servers_have_no_default_limits(void **state)
{
	(void)state;
	int64_t tpm;
	assert_int_equal(rpm_of("{\"api\":{\"base_url\":\"http://127.0.0.1:8000/v1\"}}", &tpm), 100000000);
	assert_int_equal(tpm, 1000000000000);
	assert_int_equal(rpm_of("{\"api\":{\"base_url\":\"https://localhost/v1\"}}", &tpm), 100000000);
	assert_int_equal(rpm_of("{\"api\":{\"base_url\":\"http://127.0.0.1/v1\"},"
				"\"limits\":{\"requests_per_minute\":60}}", &tpm), 60);
	assert_int_equal(tpm, 200000);
	assert_int_equal(rpm_of("{\"api\":{\"base_url\":\"https://api.openai.com/v1\"}}", &tpm), 500);
	assert_int_equal(tpm, 200000);
}

static void round_trips_through_json(void **state)
{
	(void)state;
	struct config a, b;
	char err[256];
	assert_int_equal(parse(&a, "{\"api\":{\"model\":\"q\\\"uote\"},\"limits\":{\"max_in_flight\":7}}", err), 0);
	buf j;
	buf_init(&j);
	config_to_json(&a, &j);
	config_defaults(&b);
	assert_int_equal(config_parse(&b, j.data, j.len, "again", err, sizeof err), 0);
	assert_string_equal(b.model, "q\"uote");
	assert_int_equal(b.max_in_flight, 7);
	buf_free(&j);
	config_free(&a);
	config_free(&b);
}

/* etc/kgsup.json is the example users copy: it must name every key, each with its default. */
static void the_example_config_has_every_key_at_its_default(void **state)
{
	(void)state;
	struct config defaults, example;
	config_defaults(&defaults);
	config_defaults(&example);
	char err[512];
	assert_int_equal(config_load(&example, "etc/kgsup.json", err, sizeof err), 0);
	/* the one difference allowed: it names the shipped templates the built-in ones copy */
	assert_string_equal(example.prompt_system, "etc/prompts/kg-system.txt");
	assert_string_equal(example.prompt_user, "etc/prompts/kg-user.txt");
	free(example.prompt_system);
	free(example.prompt_user);
	example.prompt_system = strdup(defaults.prompt_system);
	example.prompt_user = strdup(defaults.prompt_user);
	buf a, b;
	buf_init(&a);
	buf_init(&b);
	config_to_json(&defaults, &a);
	config_to_json(&example, &b);
	assert_string_equal(buf_cstr(&b), buf_cstr(&a));
	/* every "key": of the full dump appears in the example file */
	size_t len;
	char *text = read_file("etc/kgsup.json", 1 << 20, &len);
	assert_non_null(text);
	const char *p = buf_cstr(&a);
	while ((p = strchr(p, '"'))) {
		const char *end = strchr(p + 1, '"');
		assert_non_null(end);
		if (end[1] == ':') {
			char key[80];
			snprintf(key, sizeof key, "%.*s:", (int)(end - p + 1), p);
			if (!strstr(text, key))
				fail_msg("etc/kgsup.json lacks %s", key);
		}
		p = end + 1;
	}
	free(text);
	buf_free(&a);
	buf_free(&b);
	config_free(&defaults);
	config_free(&example);
}

/* limits.models: a model listed has its own limits, a figure it leaves out and a model not
 * listed have the top-level ones; the table survives the trip through run/config.json. */
static void limits_per_model(void **state)
{
	(void)state;
	struct config c, back;
	char err[256];
	int64_t rpm, tpm;
	assert_int_equal(parse(&c, "{\"limits\":{\"requests_per_minute\":70,\"tokens_per_minute\":9000,"
				   "\"models\":{\"gpt-4o-mini\":{\"requests_per_minute\":5000,"
				   "\"tokens_per_minute\":2000000},\"emb\":{\"requests_per_minute\":3000}}}}",
			 err), 0);
	assert_int_equal(c.nmodel_limits, 2);
	assert_int_equal(config_model_limits(&c, "gpt-4o-mini", &rpm, &tpm), 1);
	assert_int_equal(rpm, 5000);
	assert_int_equal(tpm, 2000000);
	assert_int_equal(config_model_limits(&c, "emb", &rpm, &tpm), 1);
	assert_int_equal(rpm, 3000);
	assert_int_equal(tpm, 9000);
	assert_int_equal(config_model_limits(&c, "other", &rpm, &tpm), 0);
	assert_int_equal(rpm, 70);
	assert_int_equal(tpm, 9000);
	buf b;
	buf_init(&b);
	config_to_json(&c, &b);
	config_defaults(&back);
	assert_int_equal(config_parse(&back, b.data, b.len, "run.json", err, sizeof err), 0);
	assert_int_equal(config_model_limits(&back, "emb", &rpm, &tpm), 1);
	assert_int_equal(rpm, 3000);
	buf_free(&b);
	config_free(&back);
	config_free(&c);
	/* without the table, every model has the top-level limits */
	assert_int_equal(parse(&c, "{\"limits\":{\"requests_per_minute\":70}}", err), 0);
	assert_int_equal(c.nmodel_limits, 0);
	assert_int_equal(config_model_limits(&c, "gpt-4o-mini", &rpm, &tpm), 0);
	assert_int_equal(rpm, 70);
	config_free(&c);
}

static void errors_name_the_key(void **state)
{
	(void)state;
	static const struct {
		const char *text;
		const char *want;
	} cases[] = {
		{ "{\"api\":{\"modle\":\"x\"}}", "k.json: api.modle: unknown key" },
		{ "{\"apii\":{}}", "k.json: apii: unknown key" },
		{ "{\"run\":{\"workers\":0}}", "run.workers: 0 is out of range" },
		{ "{\"run\":{\"workers\":2.5}}", "run.workers: expected a whole number" },
		{ "{\"api\":{\"timeout_s\":\"10\"}}", "api.timeout_s: expected a number, got string" },
		{ "{\"api\":{\"json_mode\":1}}", "api.json_mode: expected true or false" },
		{ "{\"api\":{\"model\":\"\"}}", "api.model: must not be empty" },
		{ "{\"chunking\":{\"chunk_tokens\":100,\"overlap_tokens\":60}}", "chunking.overlap_tokens" },
		{ "{\"api\":{\"base_url\":\"ftp://x\"}}", "api.base_url" },
		{ "{\"api\":{\"base_url\":\"http://api.example.com/v1\"}}", "api.base_url: must start with https://" },
		{ "{\"api\":\n{\"model\": }}", "k.json: line 2" },
		{ "[]", "top level must be an object" },
		{ "{\"limits\":{\"models\":[]}}",
		  "k.json: limits.models: expected an object keyed by model name" },
		{ "{\"limits\":{\"models\":{\"m\":5}}}",
		  "k.json: limits.models.m: expected an object, got number" },
		{ "{\"limits\":{\"models\":{\"m\":{\"rpm\":5}}}}",
		  "k.json: limits.models.m.rpm: unknown key" },
		{ "{\"limits\":{\"models\":{\"gpt-4o-mini\":{\"requests_per_minute\":\"5\"}}}}",
		  "k.json: limits.models.gpt-4o-mini.requests_per_minute: expected a whole number from 1 to" },
		{ "{\"limits\":{\"models\":{\"m\":{\"tokens_per_minute\":0}}}}",
		  "limits.models.m.tokens_per_minute: expected a whole number" },
		{ "{\"limits\":{\"models\":{\"m\":{\"requests_per_minute\":1.5}}}}",
		  "limits.models.m.requests_per_minute: expected a whole number" },
		{ "{\"limits\":{\"models\":{\"m\":{},\"m\":{}}}}", "limits.models.m: given twice" },
		{ "{\"limits\":{\"models\":{\"\":{}}}}", "limits.models: a model name must not be empty" },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct config c;
		char err[256] = "";
		assert_int_equal(parse(&c, cases[i].text, err), -1);
		if (!strstr(err, cases[i].want))
			fail_msg("case %zu: got '%s', want '%s'", i, err, cases[i].want);
		config_free(&c);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(defaults_match_the_documented_ones),
		cmocka_unit_test(values_override_defaults),
		cmocka_unit_test(plain_http_only_to_loopback),
		cmocka_unit_test(plain_http_host_is_parsed),
		cmocka_unit_test(round_trips_through_json),
		cmocka_unit_test(local_servers_have_no_default_limits),
		cmocka_unit_test(limits_per_model),
		cmocka_unit_test(errors_name_the_key),
		cmocka_unit_test(the_example_config_has_every_key_at_its_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
