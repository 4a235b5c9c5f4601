/* test_stages.c: stages as a user meets them. A config's mistakes are named by file and line
 * or key; a recorded job reads back the same; a context stays valid JSON within its budget;
 * a batch goes only once what it needs is committed, and one whose need failed is blocked
 * until --retry-failed. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/answer.h"
#include "../../common/job.h"
#include "../../common/schema.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/util.h"
#include "../../supervisor/context.h"
#include "../../supervisor/ledger.h"

static char dir[64];

static void put_file(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kgsup-stages-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	put_file("sys.txt", "You read transcripts.\n");
	put_file("doc.txt", "Transcript {{document_name}}:\n{{document}}\n");
	put_file("ctx.txt", "Earlier analyses:\n{{context}}\n");
	put_file("bad.txt", "line one\nline two {{documnet}}\n");
	put_file("rows.txt", "Classify each row:\n{{rows}}\n");
	put_file("rows.json", "{\"type\":\"object\",\"properties\":{\"rows\":{\"type\":\"array\","
			      "\"items\":{\"type\":\"object\",\"properties\":{\"id\":{\"type\":"
			      "\"string\"},\"mood\":{\"enum\":[\"good\",\"bad\"]}}}}}}");
	put_file("s.json", "{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"}},"
			   "\"required\":[\"a\"],\"additionalProperties\":false}");
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* Loads stages (JSON text of the array) as a config in dir would; returns job_from_config's
 * result with its message in err. */
static int load(const char *stages, struct job *j, char *err, size_t errlen)
{
	struct config cfg;
	config_defaults(&cfg);
	char text[2048], path[128];
	snprintf(text, sizeof text, "{\"stages\":%s}", stages);
	snprintf(path, sizeof path, "%s/config.json", dir);
	int rc = config_parse(&cfg, text, strlen(text), path, err, errlen);
	if (!rc) {
		cfg.config_file = xstrdup(path);
		rc = job_from_config(j, &cfg, "", "", err, errlen);
	}
	config_free(&cfg);
	return rc;
}

#define DOC_STAGE(name, extra)                                                              \
	"{\"name\":\"" name "\",\"over\":\"documents\",\"schema\":\"s.json\",\"prompt\":"    \
	"{\"system\":\"sys.txt\",\"user\":\"doc.txt\"}" extra "}"

#define ROW_STAGE(name, schema, extra)                                                      \
	"{\"name\":\"" name "\",\"over\":\"rows\",\"schema\":\"" schema "\",\"prompt\":"      \
	"{\"system\":\"sys.txt\",\"user\":\"rows.txt\"}" extra "}"

static void expect_error(const char *stages, const char *want)
{
	struct job j;
	char err[512] = "";
	memset(&j, 0, sizeof j);
	assert_int_equal(load(stages, &j, err, sizeof err), -1);
	if (!strstr(err, want))
		fail_msg("error \"%s\" does not say \"%s\"", err, want);
	job_free(&j);
}

static void config_mistakes_are_named(void **state)
{
	(void)state;
	char want[160];
	snprintf(want, sizeof want, "%s/bad.txt:2: unknown placeholder {{documnet}}", dir);
	expect_error("[{\"name\":\"a\",\"over\":\"documents\",\"prompt\":{\"system\":\"sys.txt\","
		     "\"user\":\"bad.txt\"}}]", want);
	expect_error("[" DOC_STAGE("a", ",\"needs\":[\"b\"]") "," DOC_STAGE("b", "") "]",
		     "stages[0].needs: \"b\" is not an earlier stage");
	expect_error("[" DOC_STAGE("a", "") "," DOC_STAGE("a", "") "]",
		     "stages[1].name: \"a\" names two stages");
	expect_error("[" ROW_STAGE("r", "s.json", "") "]",
		     "stages[0].schema: no array of objects with a property \"id\" (item_key)");
	expect_error("[" ROW_STAGE("r", "rows.json", ",\"item_key\":\"row\"") "]",
		     "a property \"row\" (item_key)");
	expect_error("[" ROW_STAGE("r", "rows.json", "") "," DOC_STAGE("a", "") "]",
		     "stages[1].over: a job's stages go over rows all or none");
	expect_error("[" DOC_STAGE("a", ",\"item_key\":\"id\"") "]",
		     "stages[0].item_key: only a stage over rows has items");
	expect_error("[{\"name\":\"a\",\"over\":\"documents\",\"prompt\":{\"system\":\"sys.txt\","
		     "\"user\":\"rows.txt\"}}]", "{{rows}} is for stages over rows");
	expect_error("[{\"name\":\"a\",\"over\":\"lines\"}]",
		     "stages[0].over: expected \"chunks\", \"documents\", \"rows\" or (embedding stages) \"entities\"");
	struct job j;
	char err[512];
	assert_int_equal(load("[" ROW_STAGE("r", "rows.json", "") "]", &j, err, sizeof err), 0);
	assert_true(j.rows && !strcmp(j.st[0].item_key, "id"));
	job_free(&j);
	expect_error("[" DOC_STAGE("a", ",\"temprature\":1") "]", "stages[0].temprature: unknown key");
	expect_error("[" DOC_STAGE("a", ",\"context\":{\"token_budget\":100}") "]",
		     "stages[0].context: the stage needs no other stage");
	expect_error("[{\"name\":\"a\",\"over\":\"chunks\",\"prompt\":{\"system\":\"sys.txt\","
		     "\"user\":\"doc.txt\"}}]", "{{document}} is for stages over documents");
	expect_error("[" DOC_STAGE("a", "") ",{\"name\":\"b\",\"over\":\"documents\",\"prompt\":"
		     "{\"system\":\"sys.txt\",\"user\":\"ctx.txt\"}}]",
		     "{{context}} needs a stage to take it from");
	expect_error("[" DOC_STAGE("a", ",\"max_tokens\":0") "]", "stages[0].max_tokens");
}

static void a_recorded_job_reads_back_the_same(void **state)
{
	(void)state;
	struct job j, back;
	char err[512];
	assert_int_equal(load("[" DOC_STAGE("a", "") ",{\"name\":\"k\",\"over\":\"chunks\","
			      "\"graph\":true,\"per_call\":3}," DOC_STAGE("b", ",\"needs\":[\"a\",\"k\"],"
			      "\"context\":{\"token_budget\":50,\"top_n\":2,\"include_keys\":[\"x\"]},"
			      "\"model\":\"m2\"") "]", &j, err, sizeof err), 0);
	assert_int_equal(j.n, 3);
	assert_int_equal(j.st[2].level, 1);
	assert_int_equal(j.st[0].dependents, 1);
	assert_int_equal(j.st[2].needs, 3);
	assert_true(j.st[0].strict);
	buf a, b;
	buf_init(&a);
	buf_init(&b);
	job_to_json(&j, &a);
	struct config cfg;
	config_defaults(&cfg);
	assert_int_equal(job_parse(&back, &cfg, a.data, a.len, "recorded", err, sizeof err), 0);
	job_to_json(&back, &b);
	assert_string_equal(buf_cstr(&a), buf_cstr(&b));
	assert_string_equal(back.st[2].model, "m2");
	assert_int_equal(back.st[2].token_budget, 50);
	config_free(&cfg);
	buf_free(&a);
	buf_free(&b);
	job_free(&j);
	job_free(&back);
}

/* ---- contexts, on answers in a scratch store ---- */

static store *db;

static int put_answers(store_txn *t, void *arg)
{
	(void)arg;
	/* batch 0: stage 0 (documents) of doc 0; batches 1 and 2: stage 1 (chunks), the first
	 * split into 3 and 4 */
	static const char *const answers[] = {
		"{\"insights\":[\"i1\",\"i2\",\"i3\",\"i4\",\"i5\",\"i6\",\"i7\"],\"title\":\"T\","
		"\"risks\":[{\"what\":\"r1 with a long description that takes room\"},{\"what\":\"r2\"}]}",
		NULL,
		"{\"insights\":[\"c3\"],\"risks\":[]}",
		"{\"insights\":[\"c1a\",\"c1b\"],\"risks\":[]}",
		"{\"insights\":[\"c2\"],\"risks\":[]}",
	};
	for (uint32_t n = 0; n < 5; n++) {
		struct batch_rec b;
		memset(&b, 0, sizeof b);
		b.state = n == 1 ? B_SPLIT : B_DONE;
		b.child = 3;
		b.is_child = n >= 3;
		unsigned char k[4];
		wr_u32be(k, n);
		if (batch_write(t, n, &b, NULL, 0) ||
		    (answers[n] && store_put(t, DB_RESULTS, k, 4, answers[n], strlen(answers[n]))))
			return STORE_FULL;
	}
	return 0;
}

static void context_for(struct job *j, int64_t budget, int64_t top_n, const char *include,
			buf *out, struct context_size *size)
{
	char err[512], stages[1024];
	snprintf(stages, sizeof stages,
		 "[" DOC_STAGE("a", "") ",{\"name\":\"k\",\"over\":\"chunks\",\"graph\":true},"
		 "{\"name\":\"b\",\"over\":\"documents\",\"needs\":[\"a\",\"k\"],"
		 "\"prompt\":{\"system\":\"sys.txt\",\"user\":\"ctx.txt\"}}]");
	assert_int_equal(load(stages, j, err, sizeof err), 0);
	j->st[2].token_budget = budget;
	j->st[2].top_n = top_n;
	if (include) {
		j->st[2].include_keys = xcalloc(1, sizeof(char *));
		j->st[2].include_keys[0] = xstrdup(include);
		j->st[2].ninclude = 1;
	}
	struct deps d;
	memset(&d, 0, sizeof d);
	d.job = j;
	d.ndocs = 1;
	uint32_t first[4] = { 0, 1, 0, 0 }, count[4] = { 1, 2, 0, 0 };
	d.first = first;
	d.count = count;
	store_txn *t = store_begin(db, 0);
	assert_int_equal(context_build(t, j, &d, 2, 0, out, size), 0);
	store_abort(t);
}

static void contexts_stay_json_within_budget(void **state)
{
	(void)state;
	char err[256], path[128];
	snprintf(path, sizeof path, "%s/db", dir);
	assert_non_null(db = store_open(path, 0, err, sizeof err));
	assert_int_equal(store_write(db, put_answers, NULL), 0);
	struct job j;
	buf out;
	buf_init(&out);
	struct context_size size;
	/* the whole: stage order, chunk order (the split batch's halves in its place) */
	context_for(&j, 0, 0, NULL, &out, &size);
	const char *whole = "{\"a\":{\"insights\":[\"i1\",\"i2\",\"i3\",\"i4\",\"i5\",\"i6\",\"i7\"],"
			    "\"title\":\"T\",\"risks\":[{\"what\":\"r1 with a long description that "
			    "takes room\"},{\"what\":\"r2\"}]},\"k\":[{\"insights\":[\"c1a\",\"c1b\"],"
			    "\"risks\":[]},{\"insights\":[\"c2\"],\"risks\":[]},{\"insights\":[\"c3\"],"
			    "\"risks\":[]}]}";
	assert_string_equal(buf_cstr(&out), whole);
	assert_int_equal(size.trimmed, 0);
	job_free(&j);
	/* include_keys and top_n */
	context_for(&j, 0, 2, "insights", &out, &size);
	assert_string_equal(buf_cstr(&out), "{\"a\":{\"insights\":[\"i1\",\"i2\"]},\"k\":[{\"insights\":"
					    "[\"c1a\",\"c1b\"]},{\"insights\":[\"c2\"]},{\"insights\":"
					    "[\"c3\"]}]}");
	job_free(&j);
	/* budgets from generous to impossible: always JSON, within budget when it can be,
	 * items dropped from the longest arrays first, never a value cut */
	for (int64_t budget = 80; budget >= 1; budget -= 7) {
		context_for(&j, budget, 0, NULL, &out, &size);
		json *v = json_parse(out.data, out.len, NULL, 0);
		if (!v)
			fail_msg("budget %lld: not JSON: %s", (long long)budget, buf_cstr(&out));
		json_free(v);
		if (out.len > (size_t)budget * 4 && budget >= 20)
			fail_msg("budget %lld: %zu bytes", (long long)budget, out.len);
		assert_int_equal(size.trimmed, (strlen(whole) - out.len) / 4);
		assert_int_equal(size.tokens, out.len / 4);
		assert_true(strstr(buf_cstr(&out), "\"title\":\"T\"") != NULL);
		job_free(&j);
	}
	context_for(&j, 40, 0, NULL, &out, &size);
	assert_true(strstr(buf_cstr(&out), "\"i1\"") != NULL); /* the longest array lost its end */
	assert_null(strstr(buf_cstr(&out), "\"i7\""));
	assert_true(size.trimmed > 0);
	job_free(&j);
	buf_free(&out);
	store_close(db);
}

/* A tree schema whose two anyOf alternatives both descend: a wrong answer 21 levels deep would
 * take 2^21 tries; the check gives up past its bound, saying so, instead of hanging a worker. */
static void a_schema_check_has_a_bound(void **state)
{
	(void)state;
	const char *sch = "{\"$defs\":{\"node\":{\"anyOf\":["
		"{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}}}},"
		"{\"type\":\"object\",\"properties\":{\"kids\":{\"type\":\"array\",\"items\":{\"$ref\":\"#/$defs/node\"}},\"label\":{\"type\":\"string\"}}}"
		"]}},\"$ref\":\"#/$defs/node\"}";
	char err[512];
	schema *s = schema_parse(sch, strlen(sch), "tree.json", err, sizeof err);
	assert_non_null(s);
	char v[2048] = "";
	for (int i = 0; i < 21; i++)
		strcat(v, "{\"kids\":[");
	strcat(v, "1");
	for (int i = 0; i < 21; i++)
		strcat(v, "]}");
	assert_int_equal(schema_validate_text(s, v, strlen(v), NULL, err, sizeof err), -1);
	if (!strstr(err, "too costly to check"))
		fail_msg("%s", err);
	schema_free(s);
	/* a $ref that only leads back to itself is refused when the schema is read */
	assert_null(schema_parse("{\"$ref\":\"#\"}", 12, "loop.json", err, sizeof err));
	assert_non_null(strstr(err, "loop of $refs"));
	/* and a schema whose top level refuses an object refuses every answer: a config error */
	put_file("arr.json", "{\"type\":\"array\"}");
	expect_error("[{\"name\":\"a\",\"over\":\"documents\",\"schema\":\"arr.json\",\"prompt\":"
		     "{\"system\":\"sys.txt\",\"user\":\"doc.txt\"}}]",
		     "stages[0].schema: its top level must allow an object");
}

/* An answer that is an array is not its first object (the rest would be lost). */
static void an_array_is_not_an_answer(void **state)
{
	(void)state;
	char err[256];
	buf out;
	buf_init(&out);
	const char *ans = "[{\"title\":\"first\"},{\"title\":\"second\"}]";
	assert_int_equal(answer_check(NULL, ans, strlen(ans), &out, err, sizeof err), -1);
	const char *fenced = "Here it is:\n```json\n{\"title\":\"one\"}\n```\n";
	assert_int_equal(answer_check(NULL, fenced, strlen(fenced), &out, err, sizeof err), 0);
	assert_string_equal(buf_cstr(&out), "{\"title\":\"one\"}");
	buf_free(&out);
}

int main(void)
{
	log_set_level(LOG_ERROR);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(config_mistakes_are_named, setup, teardown),
		cmocka_unit_test_setup_teardown(a_recorded_job_reads_back_the_same, setup, teardown),
		cmocka_unit_test_setup_teardown(contexts_stay_json_within_budget, setup, teardown),
		cmocka_unit_test_setup_teardown(a_schema_check_has_a_bound, setup, teardown),
		cmocka_unit_test(an_array_is_not_an_answer),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
