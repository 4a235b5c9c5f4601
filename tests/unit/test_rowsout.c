/* test_rowsout.c: what comes out of a run over rows, on a small made-up run in a scratch store
 * (rows, columns, a job and answers written as the planner and the sink write them). The csv
 * export is checked byte by byte (every quoting case, the flattened fields, empty cells for a
 * skipped and an unanswered row, input order) and read back; the xlsx export is read back and
 * equals the csv, with its numbers stored as numbers, a bold header and frozen panes; the
 * report's counts, shares, min/mean/max and NPS are the ones worked out by hand below; a run
 * not over rows is refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <dirent.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/json.h"
#include "../../common/table.h"
#include "../../common/util.h"
#include "../../common/zipfile.h"
#include "../../supervisor/cli.h"
#include "../../supervisor/cmd/results.h"
#include "../../supervisor/cmd/rows_export.h"
#include "../../supervisor/rowreport.h"
#include "../../supervisor/rowstore.h"

static char dir[64];

/* An item: its id, a sentiment, topics (an array of an enum), a nested object by $ref (a
 * boolean and a number), a nullable enum through anyOf, and free text. */
static const char schema_json[] =
	"{\"type\":\"object\",\"$defs\":{\"detail\":{\"type\":\"object\",\"properties\":{"
	"\"urgent\":{\"type\":\"boolean\"},\"rating\":{\"type\":\"number\"}}}},"
	"\"properties\":{\"rows\":{\"type\":\"array\",\"items\":{\"type\":\"object\","
	"\"properties\":{\"id\":{\"type\":\"string\"},"
	"\"sentiment\":{\"type\":\"string\",\"enum\":[\"positive\",\"neutral\",\"negative\"]},"
	"\"topics\":{\"type\":\"array\",\"items\":{\"type\":\"string\","
	"\"enum\":[\"price\",\"support\",\"speed\"]}},"
	"\"detail\":{\"$ref\":\"#/$defs/detail\"},"
	"\"priority\":{\"anyOf\":[{\"type\":\"string\",\"enum\":[\"low\",\"high\"]},"
	"{\"type\":\"null\"}]},"
	"\"summary\":{\"type\":\"string\"}}}}}}";

#define STAGE(name)                                                                          \
	"{\"name\":\"" name "\",\"over\":\"rows\",\"per_call\":120,\"schema\":\"schema.json\","  \
	"\"prompt\":{\"system\":\"sys.txt\",\"user\":\"rows.txt\"}}"

/* The table: id, text chunk (ROW_NO_TEXT: empty text), then the kept cells score, channel.
 * r4's text is r1's (chunk 0); r3's is empty; r5's was never answered (chunk 2). */
static const struct {
	const char *id;
	uint32_t chunk;
	const char *score, *channel;
} table[] = {
	{ "r1", 0, "10", "web" },
	{ "r2", 1, "9", "a,b" },
	{ "r3", ROW_NO_TEXT, "6", "say \"hi\"" },
	{ "r4", 0, "9", "line1\nline2" },
	{ "r5", 2, "9.5", "email" },
	{ "r6", 3, "0", "x" },
	{ "r7", 4, "7", "" },
};
#define NROWS (sizeof table / sizeof table[0])

/* chunk 1's answer came from the per-row cache, the others from calls */
static const struct {
	uint32_t chunk;
	int from;
	const char *item;
} answers[] = {
	{ 0, ROW_BY_CALL, "{\"id\":\"r1\",\"sentiment\":\"positive\",\"topics\":[\"price\",\"speed\"],"
	     "\"detail\":{\"urgent\":false,\"rating\":5},\"priority\":\"high\","
	     "\"summary\":\"Great, \\\"fast\\\"\"}" },
	{ 1, ROW_BY_CACHE, "{\"id\":\"r2\",\"sentiment\":\"neutral\",\"topics\":[],"
	     "\"detail\":{\"urgent\":true,\"rating\":3},\"priority\":null,\"summary\":\"ok\"}" },
	{ 3, ROW_BY_CALL, "{\"id\":\"r6\",\"sentiment\":\"negative\",\"topics\":[\"support\",\"price\",\"price\"],"
	     "\"detail\":{\"urgent\":true,\"rating\":1},\"priority\":\"low\","
	     "\"summary\":\"bad\\nreally\"}" },
	{ 4, ROW_BY_CALL, "{\"id\":7,\"sentiment\":\"mixed\",\"topics\":[\"support\"],\"detail\":{\"rating\":2.5},"
	     "\"summary\":\"meh\"}" },
};

/* What export -f csv writes of it: every field quoted, CRLF line ends. */
static const char expected_csv[] =
	"\"resp_id\",\"score\",\"channel\",\"sentiment\",\"topics\",\"detail.urgent\","
	"\"detail.rating\",\"priority\",\"summary\"\r\n"
	"\"r1\",\"10\",\"web\",\"positive\",\"price; speed\",\"false\",\"5\",\"high\","
	"\"Great, \"\"fast\"\"\"\r\n"
	"\"r2\",\"9\",\"a,b\",\"neutral\",\"\",\"true\",\"3\",\"\",\"ok\"\r\n"
	"\"r3\",\"6\",\"say \"\"hi\"\"\",\"\",\"\",\"\",\"\",\"\",\"\"\r\n"
	"\"r4\",\"9\",\"line1\nline2\",\"positive\",\"price; speed\",\"false\",\"5\",\"high\","
	"\"Great, \"\"fast\"\"\"\r\n"
	"\"r5\",\"9.5\",\"email\",\"\",\"\",\"\",\"\",\"\",\"\"\r\n"
	"\"r6\",\"0\",\"x\",\"negative\",\"support; price; price\",\"true\",\"1\",\"low\","
	"\"bad\nreally\"\r\n"
	"\"r7\",\"7\",\"\",\"mixed\",\"support\",\"\",\"2.5\",\"\",\"meh\"\r\n";

static void put_file(const char *name, const char *text)
{
	char path[128];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

struct run {
	struct config cfg;
	struct job job;
	int rows; /* write the rows, their columns and answers */
};

static int put_meta(store_txn *t, const char *key, const void *v, size_t n)
{
	return store_put(t, DB_META, key, strlen(key), v, n);
}

static int put_rows(store_txn *t)
{
	static const char columns[] = "{\"id\":\"resp_id\",\"text\":\"comment\","
				      "\"keep\":[\"score\",\"channel\"]}";
	struct rows_plan rp = { .tables = 1, .rows = NROWS, .skipped = 1, .duplicates = 1 };
	struct row_counters ctr = { .texts = 5, .answered = 3, .cached = 1 };
	int rc = put_meta(t, META_ROW_COLUMNS, columns, strlen(columns)) ||
		 put_meta(t, META_ROWS, &rp, sizeof rp) || row_counters_write(t, &ctr, 1);
	buf scratch;
	buf_init(&scratch);
	for (uint32_t i = 0; i < NROWS && !rc; i++) {
		struct row_view r = { .n = i, .chunk = table[i].chunk, .line = i + 2,
				      .id = table[i].id, .idlen = 2, .ncells = 2 };
		r.cell[0] = table[i].score;
		r.cell_len[0] = strlen(table[i].score);
		r.cell[1] = table[i].channel;
		r.cell_len[1] = strlen(table[i].channel);
		rc = row_write(t, &r, &scratch);
	}
	buf_free(&scratch);
	for (size_t i = 0; i < sizeof answers / sizeof answers[0] && !rc; i++)
		rc = row_answer_put(t, 0, answers[i].chunk, answers[i].from, answers[i].item,
				    strlen(answers[i].item));
	return rc;
}

static int put_run(store_txn *t, void *arg)
{
	struct run *run = arg;
	buf b;
	buf_init(&b);
	config_to_json(&run->cfg, &b);
	int rc = put_meta(t, META_CONFIG, b.data, b.len);
	buf_reset(&b);
	job_to_json(&run->job, &b);
	struct plan_rec p = { .version = RUNSTATE_VERSION, .nsources = 1, .nchunks = 5 };
	rc = rc || put_meta(t, META_PLAN, &p, sizeof p) ||
	     (!run->job.legacy && put_meta(t, META_JOB, b.data, b.len)) ||
	     (run->rows && put_rows(t));
	buf_free(&b);
	return rc ? STORE_FULL : 0;
}

/* A run in dir/NAME from a config's text (stages and settings). */
static void make_run(const char *name, const char *config, int rows)
{
	char err[512] = "", path[128];
	struct run run = { .rows = rows };
	config_defaults(&run.cfg);
	put_file("config.json", config);
	snprintf(path, sizeof path, "%s/config.json", dir);
	if (config_load(&run.cfg, path, err, sizeof err) ||
	    job_from_config(&run.job, &run.cfg, "", "", err, sizeof err))
		fail_msg("%s", err);
	snprintf(path, sizeof path, "%s/%s/db", dir, name);
	assert_int_equal(mkdir_p(path, 0755), 0);
	store *db = store_open(path, 0, err, sizeof err);
	assert_non_null(db);
	assert_int_equal(store_write(db, put_run, &run), 0);
	store_close(db);
	job_free(&run.job);
	config_free(&run.cfg);
}

static int setup(void **state)
{
	(void)state;
	snprintf(dir, sizeof dir, "/tmp/kgsup-rowsout-XXXXXX");
	if (!mkdtemp(dir))
		return -1;
	put_file("schema.json", schema_json);
	put_file("sys.txt", "You classify feedback.\n");
	put_file("rows.txt", "Classify each row:\n{{rows}}\n");
	make_run("one", "{\"report\":{\"score_column\":\"score\"},\"stages\":[" STAGE("classify")
			"]}", 1);
	make_run("two", "{\"stages\":[" STAGE("classify") "," STAGE("again") "]}", 1);
	make_run("kg", "{}", 0);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[128];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	return system(cmd);
}

/* The run dir/NAME opened for reading. */
struct opened {
	store *db;
	store_txn *t;
};

static struct opened open_run(const char *name)
{
	char path[128], err[256];
	struct opened o;
	struct plan_rec p;
	snprintf(path, sizeof path, "%s/%s", dir, name);
	if (run_open_read(path, &o.db, &o.t, &p, err, sizeof err))
		fail_msg("%s", err);
	return o;
}

static void close_run(struct opened *o)
{
	store_abort(o->t);
	store_close(o->db);
}

/* A table read back: its cells as text, the header first. */
#define GRID_ROWS 16
#define GRID_COLS 16
struct grid {
	size_t nrows, ncols[GRID_ROWS];
	char *cell[GRID_ROWS][GRID_COLS];
};

static int grid_row(const struct table_row *row, void *arg)
{
	struct grid *g = arg;
	assert_true(g->nrows < GRID_ROWS && row->ncells <= GRID_COLS);
	g->ncols[g->nrows] = row->ncells;
	for (size_t i = 0; i < row->ncells; i++)
		g->cell[g->nrows][i] = xstrndup(row->cells[i], row->lens[i]);
	g->nrows++;
	return 0;
}

static void grid_read(const char *path, struct grid *g)
{
	char err[256];
	memset(g, 0, sizeof *g);
	if (table_read(path, NULL, grid_row, g, err, sizeof err))
		fail_msg("%s", err);
}

static void grid_free(struct grid *g)
{
	for (size_t r = 0; r < g->nrows; r++)
		for (size_t c = 0; c < g->ncols[r]; c++)
			free(g->cell[r][c]);
}

/* No temporary file is left next to the outputs. */
static void no_temporaries(void)
{
	DIR *d = opendir(dir);
	assert_non_null(d);
	for (struct dirent *e; (e = readdir(d));)
		if (strstr(e->d_name, ".tmp."))
			fail_msg("left behind: %s", e->d_name);
	closedir(d);
}

static void csv_is_every_row_in_order(void **state)
{
	(void)state;
	char err[256] = "", path[128];
	snprintf(path, sizeof path, "%s/out.csv", dir);
	struct opened o = open_run("one");
	assert_int_equal(rows_export_csv(o.t, path, err, sizeof err), 0);
	close_run(&o);
	size_t len;
	char *text = read_file(path, 1 << 20, &len);
	assert_non_null(text);
	assert_string_equal(text, expected_csv);
	free(text);
	no_temporaries();
	/* read back by an RFC 4180 reader: the cells as they were */
	struct grid g;
	grid_read(path, &g);
	assert_int_equal(g.nrows, NROWS + 1);
	assert_string_equal(g.cell[0][0], "resp_id");
	assert_string_equal(g.cell[2][2], "a,b");
	assert_string_equal(g.cell[3][2], "say \"hi\"");
	assert_string_equal(g.cell[4][2], "line1\nline2");
	assert_string_equal(g.cell[1][8], "Great, \"fast\"");
	assert_string_equal(g.cell[6][8], "bad\nreally");
	for (size_t r = 1; r <= NROWS; r++)
		assert_string_equal(g.cell[r][0], table[r - 1].id);
	grid_free(&g);
}

static void csv_to_standard_output(void **state)
{
	(void)state;
	char err[256] = "", path[128];
	snprintf(path, sizeof path, "%s/stdout.csv", dir);
	fflush(stdout);
	FILE *saved = fdopen(dup(fileno(stdout)), "w");
	assert_non_null(freopen(path, "w", stdout));
	struct opened o = open_run("one");
	int rc = rows_export_csv(o.t, NULL, err, sizeof err);
	close_run(&o);
	fflush(stdout);
	dup2(fileno(saved), fileno(stdout));
	fclose(saved);
	assert_int_equal(rc, 0);
	size_t len;
	char *text = read_file(path, 1 << 20, &len);
	assert_non_null(text);
	assert_string_equal(text, expected_csv);
	free(text);
}

static int sheet_has(const char *p, size_t n, void *arg)
{
	buf_put(arg, p, n);
	return 0;
}

/* The text of a member of the xlsx file. */
static char *member(const char *path, const char *name, buf *b)
{
	char err[256];
	struct zipfile *z = zipfile_open(path, err, sizeof err);
	if (!z)
		fail_msg("%s", err);
	buf_reset(b);
	if (zipfile_read(z, name, sheet_has, b, err, sizeof err))
		fail_msg("%s", err);
	zipfile_close(z);
	return (char *)buf_cstr(b);
}

static void xlsx_equals_csv(void **state)
{
	(void)state;
	char err[256] = "", xlsx[128], csv[128];
	snprintf(xlsx, sizeof xlsx, "%s/out.xlsx", dir);
	snprintf(csv, sizeof csv, "%s/same.csv", dir);
	struct opened o = open_run("one");
	assert_int_equal(rows_export_xlsx(o.t, xlsx, err, sizeof err), 0);
	assert_int_equal(rows_export_csv(o.t, csv, err, sizeof err), 0);
	close_run(&o);
	no_temporaries();
	struct grid x, c;
	grid_read(xlsx, &x);
	grid_read(csv, &c);
	assert_int_equal(x.nrows, c.nrows);
	for (size_t r = 0; r < c.nrows; r++)
		for (size_t k = 0; k < c.ncols[r]; k++)
			if (strcmp(k < x.ncols[r] ? x.cell[r][k] : "", c.cell[r][k]))
				fail_msg("line %zu cell %zu: xlsx \"%s\", csv \"%s\"", r, k,
					 k < x.ncols[r] ? x.cell[r][k] : "", c.cell[r][k]);
	grid_free(&x);
	grid_free(&c);
	buf b;
	buf_init(&b);
	const char *sheet = member(xlsx, "xl/worksheets/sheet1.xml", &b);
	assert_non_null(strstr(sheet, "xSplit=\"1\" ySplit=\"1\""));  /* panes frozen */
	assert_non_null(strstr(sheet, "<cols>"));                    /* widths set */
	assert_non_null(strstr(sheet, "<c r=\"B2\"><v>10</v></c>")); /* a score is a number */
	assert_non_null(strstr(sheet, "<c r=\"G8\"><v>2.5</v></c>"));
	assert_null(strstr(sheet, "<c r=\"A2\"><v>")); /* an id is text */
	assert_non_null(strstr(member(xlsx, "xl/styles.xml", &b), "<b/>")); /* a bold header */
	buf_free(&b);
}

static void report_figures(void **state)
{
	(void)state;
	char err[256] = "";
	struct opened o = open_run("one");
	struct config cfg;
	struct job job;
	config_defaults(&cfg);
	assert_int_equal(run_job_read(o.t, &cfg, &job, err, sizeof err), 0);
	struct rowreport r;
	if (rowreport_build(&r, o.t, &job, &cfg, err, sizeof err))
		fail_msg("%s", err);
	close_run(&o);
	assert_int_equal(r.plan.rows, 7);
	const struct stage_sum *ss = &r.st[0];
	/* by call r1 r6 r7, from the cache r2, r4 r1's twin, r3 skipped, r5 not yet asked */
	assert_int_equal(ss->tally.rows, 7);
	assert_int_equal(ss->tally.answered, 3);
	assert_int_equal(ss->tally.cached, 1);
	assert_int_equal(ss->tally.duplicates, 1);
	assert_int_equal(ss->tally.skipped, 1);
	assert_int_equal(ss->tally.pending, 1);
	assert_int_equal(ss->rows_answered, 5); /* what the shares are of */
	assert_int_equal(ss->ctr.cached, 1);
	/* fields: sentiment, topics, detail.urgent, detail.rating, priority, summary */
	assert_int_equal(ss->fields.n, 6);
	const struct field_sum *sent = &ss->sum[0], *top = &ss->sum[1], *urg = &ss->sum[2],
			       *rat = &ss->sum[3], *pri = &ss->sum[4];
	/* positive r1 r4, neutral r2, negative r6; r7's "mixed" is none of them */
	assert_int_equal(sent->count[0], 2);
	assert_int_equal(sent->count[1], 1);
	assert_int_equal(sent->count[2], 1);
	assert_int_equal(sent->other, 1);
	/* price r1 r4 r6 (r6 names it twice: once), support r6 r7, speed r1 r4; r2 none */
	assert_int_equal(top->count[0], 3);
	assert_int_equal(top->count[1], 2);
	assert_int_equal(top->count[2], 2);
	assert_int_equal(top->missing, 1);
	/* true r2 r6, false r1 r4, r7 none */
	assert_int_equal(urg->count[0], 2);
	assert_int_equal(urg->count[1], 2);
	assert_int_equal(urg->missing, 1);
	/* 5 3 5 1 2.5 */
	assert_int_equal(rat->n, 5);
	assert_true(rat->min == 1 && rat->max == 5);
	assert_true(fabs(rat->sum / (double)rat->n - 16.5 / 5) < 1e-9);
	/* low r6, high r1 r4, r2 null and r7 none */
	assert_int_equal(pri->count[0], 1);
	assert_int_equal(pri->count[1], 2);
	assert_int_equal(pri->missing, 2);
	/* scores 10 9 6 9 (9.5 not whole) 0 7: 6 is a detractor, 7 a passive */
	assert_int_equal(r.promoters, 3);
	assert_int_equal(r.passives, 1);
	assert_int_equal(r.detractors, 2);
	assert_int_equal(r.unscored, 1);
	buf b;
	buf_init(&b);
	rowreport_json(&r, &b);
	json *root = json_parse(b.data, b.len, err, sizeof err);
	if (!root)
		fail_msg("%s: %s", err, buf_cstr(&b));
	const json *nps = json_get(root, "nps");
	/* 100 * (3 - 2) / 6, and (that + 100) / 2 */
	assert_true(fabs(json_number(json_get(nps, "nps")) - 100.0 / 6) < 1e-6);
	assert_true(fabs(json_number(json_get(nps, "nps_0_100")) - (100.0 / 6 + 100) / 2) < 1e-6);
	const json *st = json_first(json_get(root, "stages"));
	const json *f = json_first(json_get(st, "fields"));
	assert_string_equal(json_string(json_get(f, "field")), "sentiment");
	const json *v = json_first(json_get(f, "values"));
	assert_string_equal(json_string(json_get(v, "value")), "positive");
	assert_true(fabs(json_number(json_get(v, "share")) - 2.0 / 5) < 1e-9);
	const json *last = f;
	for (const json *e = f; e; e = json_next(e))
		last = e;
	assert_string_equal(json_string(json_get(last, "field")), "priority"); /* text: not here */
	/* the run counted 5 texts, 3 answered by calls and 1 from the cache */
	assert_int_equal((int)json_number(json_get(json_get(st, "texts"), "unanswered")), 1);
	assert_int_equal((int)json_number(json_get(json_get(st, "rows"), "pending")), 1);
	json_free(root);
	buf_free(&b);
	rowreport_free(&r);
	job_free(&job);
	config_free(&cfg);
}

static void several_stages_are_prefixed(void **state)
{
	(void)state;
	char err[256] = "", path[128];
	snprintf(path, sizeof path, "%s/two.csv", dir);
	struct opened o = open_run("two");
	assert_int_equal(rows_export_csv(o.t, path, err, sizeof err), 0);
	close_run(&o);
	struct grid g;
	grid_read(path, &g);
	assert_int_equal(g.ncols[0], 3 + 2 * 6);
	assert_string_equal(g.cell[0][3], "classify.sentiment");
	assert_string_equal(g.cell[0][9], "again.sentiment");
	assert_string_equal(g.cell[1][3], "positive");
	assert_string_equal(g.cell[1][9], ""); /* the second stage has no answers */
	grid_free(&g);
}

static void a_run_not_over_rows_is_refused(void **state)
{
	(void)state;
	char err[256] = "", path[128], state_dir[128];
	snprintf(path, sizeof path, "%s/kg.xlsx", dir);
	struct opened o = open_run("kg");
	assert_int_equal(rows_export_xlsx(o.t, path, err, sizeof err), -1);
	assert_non_null(strstr(err, "no stage over rows"));
	struct config cfg;
	struct job job;
	struct rowreport r;
	config_defaults(&cfg);
	assert_int_equal(run_job_read(o.t, &cfg, &job, err, sizeof err), 0);
	assert_int_equal(rowreport_build(&r, o.t, &job, &cfg, err, sizeof err), -1);
	assert_non_null(strstr(err, "no stage over rows"));
	rowreport_free(&r);
	job_free(&job);
	config_free(&cfg);
	close_run(&o);
	/* through the commands: exit 2, and no file */
	snprintf(state_dir, sizeof state_dir, "%s/kg", dir);
	struct cli cli = { .cmd = cli_find("export"), .state_dir = state_dir, .format = "xlsx",
			   .output = path };
	assert_int_equal(export_cmd(&cli), EXIT_USAGE);
	cli.cmd = cli_find("report");
	assert_int_equal(report_cmd(&cli), EXIT_USAGE);
	assert_null(fopen(path, "r"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_is_every_row_in_order),
		cmocka_unit_test(csv_to_standard_output),
		cmocka_unit_test(xlsx_equals_csv),
		cmocka_unit_test(report_figures),
		cmocka_unit_test(several_stages_are_prefixed),
		cmocka_unit_test(a_run_not_over_rows_is_refused),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
