/* test_table.c: the table readers: what rows and cells each format yields, with their lines,
 * and the errors a bad table gets. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/buf.h"
#include "../../common/table.h"

/* The fixture is found from this file's path: the tests run from the top of the tree. */
#define XLSX "tests/fixtures/feedback.xlsx"

static int count_row(const struct table_row *row, void *arg)
{
	(void)row;
	(*(size_t *)arg)++;
	return 0;
}

static char dir[] = "/tmp/kgsup-table-XXXXXX";

struct got {
	buf text; /* "LINE|cell|cell\n" per row */
	int stop_after;
	int rows;
};

static int collect(const struct table_row *row, void *arg)
{
	struct got *g = arg;
	buf_printf(&g->text, "%llu", (unsigned long long)row->line);
	for (size_t i = 0; i < row->ncells; i++) {
		assert_int_equal(strlen(row->cells[i]), row->lens[i]);
		buf_putc(&g->text, '|');
		buf_put(&g->text, row->cells[i], row->lens[i]);
	}
	buf_putc(&g->text, '\n');
	return ++g->rows == g->stop_after;
}

static const char *write_tmp(const char *name, const char *data, size_t n)
{
	static char path[256];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	assert_non_null(f);
	assert_int_equal(fwrite(data, 1, n, f), n);
	fclose(f);
	return path;
}

/* Reads the table; returns its rows as text, or the error prefixed by "ERR ". */
static const char *read_table(const char *path, const char *sheet)
{
	static struct got g;
	char err[512] = "";
	buf_free(&g.text);
	memset(&g, 0, sizeof g);
	if (table_read(path, sheet, collect, &g, err, sizeof err) < 0) {
		buf_reset(&g.text);
		buf_printf(&g.text, "ERR %s", err);
	}
	return g.text.len ? buf_cstr(&g.text) : "";
}

static const char *read_data(const char *name, const char *data)
{
	return read_table(write_tmp(name, data, strlen(data)), NULL);
}

static void csv_every_quoting_case(void **state)
{
	(void)state;
	const char *csv = "\xef\xbb\xbfid,comment,channel\r\n"
			  "1,\"Hello, world\",email\r\n"
			  "2,\"She said \"\"hi\"\"\",\r\n"
			  "3,\"two\r\nlines\",web\r\n"
			  "\r\n"
			  "4,, sms \r\n"
			  "5,last,x";
	assert_string_equal(read_data("q.csv", csv), "1|id|comment|channel\n"
						    "2|1|Hello, world|email\n"
						    "3|2|She said \"hi\"|\n"
						    "4|3|two\r\nlines|web\n"
						    "7|4|| sms \n"
						    "8|5|last|x\n");
	/* short rows are padded to the header's width; a longer one keeps its cells */
	assert_string_equal(read_data("w.csv", "a,b,c\nx\n1,2,3,4\n"), "1|a|b|c\n2|x||\n3|1|2|3|4\n");
}

static void tsv_reads_tabs(void **state)
{
	(void)state;
	const char *tsv = "id\tcomment\n1\tcomma, kept\n2\t\"a\ttab and \"\"quotes\"\"\"\n3\t\n";
	assert_string_equal(read_data("t.tsv", tsv), "1|id|comment\n2|1|comma, kept\n"
						     "3|2|a\ttab and \"quotes\"\n4|3|\n");
}

/* Quotes inside a TSV field that is not quoted are the text's own (IANA's TSV has no quoting;
 * psql, paste and hand-made files write them so). */
static void tsv_keeps_quotes_of_unquoted_fields(void **state)
{
	(void)state;
	const char *tsv = "id\tcomment\n1\tthe 27\" screen\n2\tshe said \"wow\" twice\n"
			  "3\t\"Great\" app\n4\t\"quoted\ttab\"\n";
	assert_string_equal(read_data("q.tsv", tsv), "1|id|comment\n2|1|the 27\" screen\n"
						     "3|2|she said \"wow\" twice\n4|3|\"Great\" app\n"
						     "5|4|\"quoted|tab\"\n");
}

/* Reads the file at path as read_table does, its warnings into log (the text of stderr). */
static const char *read_logged(const char *path, char *log, size_t loglen)
{
	char name[256];
	snprintf(name, sizeof name, "%s/stderr", dir);
	int saved = dup(2), fd = open(name, O_CREAT | O_TRUNC | O_RDWR, 0600);
	assert_true(saved >= 0 && fd >= 0);
	dup2(fd, 2);
	const char *rows = read_table(path, NULL);
	dup2(saved, 2);
	close(saved);
	ssize_t n = pread(fd, log, loglen - 1, 0);
	close(fd);
	log[n > 0 ? n : 0] = '\0';
	return rows;
}

/* A quote in a .tsv never closed is text, as psql and paste mean it, with a warning naming its
 * line; a quoted field holding a tab and a line break, or a line break alone, is still quoting
 * (pandas, spreadsheets). */
static void tsv_quotes_that_swallow_lines_are_text(void **state)
{
	(void)state;
	char log[1024];
	/* a quoted field holding a tab and a line break, as Python's csv and pandas write it */
	const char *tsv = "id\tcomment\n1\t\"x\ty\nz\"\n2\t\"say \"\"hi\"\"\"\n";
	assert_string_equal(read_logged(write_tmp("pandas.tsv", tsv, strlen(tsv)), log, sizeof log),
			    "1|id|comment\n2|1|x\ty\nz\n4|2|say \"hi\"\n");
	assert_null(strstr(log, "without quoting"));
	tsv = "id\tcomment\n1\tok\n2\t\"never closed\n3\tx\n";
	assert_string_equal(read_logged(write_tmp("open.tsv", tsv, strlen(tsv)), log, sizeof log),
			    "1|id|comment\n2|1|ok\n3|2|\"never closed\n4|3|x\n");
	assert_non_null(strstr(log, "open.tsv:3: a quote never closed: the table is read without"));
	assert_string_equal(read_data("two.tsv", "id\tc\n1\t\"two\nlines\"\n2\tx\n"),
			    "1|id|c\n2|1|two\nlines\n4|2|x\n");
}

/* Excel's first line "sep=;" names the separator and is no row (line numbers stay the
 * file's); without it a .csv is sniffed for semicolons in its decoded text, so UTF-16's
 * U+012C (bytes 2C 01, a comma's byte) counts as no comma. */
static void sep_line_and_semicolons(void **state)
{
	(void)state;
	assert_string_equal(read_data("s1.csv", "sep=;\r\nid;comment\r\n1;a, b, c\r\n"),
			    "2|id|comment\n3|1|a, b, c\n");
	assert_string_equal(read_data("s2.csv", "\xef\xbb\xbfsep=,\nid,a;b;c\n1,x;y\n"),
			    "2|id|a;b;c\n3|1|x;y\n");
	assert_string_equal(read_data("s3.tsv", "sep=|\nid|c\n1|\"x\"\n"), "2|id|c\n3|1|x\n");
	assert_string_equal(read_data("s4.csv", "sep=ab\n1\n"), "1|sep=ab\n2|1\n");
	/* "\u012c\u012c\u012c;x;y\n1;2;3\n" in UTF-16LE with its mark */
	const char u16[] = "\xff\xfe\x2c\x01\x2c\x01\x2c\x01;\0x\0;\0y\0\n\0" "1\0;\0" "2\0;\0" "3\0\n\0";
	assert_string_equal(read_table(write_tmp("u16.csv", u16, sizeof u16 - 1), NULL),
			    "1|\xc4\xac\xc4\xac\xc4\xac|x|y\n2|1|2|3\n");
}

static void windows_1252_is_converted_with_a_warning(void **state)
{
	(void)state;
	/* 0x81 is one of the five bytes Windows-1252 leaves undefined */
	const char *cp = "id,comment\n1,plain\n2,caf\xe9 \x93ok\x94 \x80" "5\x81\n";
	const char *path = write_tmp("cp.csv", cp, strlen(cp));
	char log[256], text[1024];
	snprintf(log, sizeof log, "%s/stderr", dir);
	assert_string_equal(read_logged(path, text, sizeof text), "1|id|comment\n2|1|plain\n"
				  "3|2|caf\xc3\xa9 \xe2\x80\x9cok\xe2\x80\x9d \xe2\x82\xac" "5\xef\xbf\xbd\n");
	size_t n;
	FILE *f;
	assert_non_null(strstr(text, "cp.csv: not valid UTF-8 (line 3): read as Windows-1252"));
	assert_null(strchr(strchr(text, '\n') + 1, '\n')); /* once */
	/* and once for a table read twice (a planner's two passes) */
	int fd = open(log, O_CREAT | O_TRUNC | O_WRONLY, 0600), saved = dup(2);
	dup2(fd, 2);
	char err[256];
	struct table *t = table_open(path, NULL, err, sizeof err);
	assert_non_null(t);
	assert_int_equal(table_rows(t, count_row, &n, err, sizeof err), 0);
	assert_int_equal(table_rows(t, count_row, &n, err, sizeof err), 0);
	table_close(t);
	dup2(saved, 2);
	close(saved);
	close(fd);
	f = fopen(log, "r");
	n = fread(text, 1, sizeof text - 1, f);
	fclose(f);
	text[n] = '\0';
	assert_non_null(strstr(text, "cp.csv: not valid UTF-8"));
	assert_null(strchr(strchr(text, '\n') + 1, '\n'));
	/* valid UTF-8 is left alone, with no warning, also where a character spans the end
	 * of one 64 KiB block read and the start of the next */
	assert_string_equal(read_data("u.csv", "c\ncaf\xc3\xa9\n"), "1|c\n2|caf\xc3\xa9\n");
	buf big, want;
	buf_init(&big);
	buf_init(&want);
	buf_puts(&big, "c\n");
	for (int i = 0; i < 65533; i++)
		buf_putc(&big, 'a');
	buf_puts(&want, "1|c\n2|");
	buf_put(&want, big.data + 2, big.len - 2);
	buf_puts(&big, "\xc3\xa9\n"); /* bytes 65535 and 65536 */
	buf_puts(&want, "\xc3\xa9\n");
	assert_string_equal(read_data("edge.csv", buf_cstr(&big)), buf_cstr(&want));
	buf_free(&big);
	buf_free(&want);
}

static void bad_quotes_are_named_by_line(void **state)
{
	(void)state;
	const char *r = read_data("open.csv", "id,comment\n1,ok\n2,\"never closed\n3,x\n");
	assert_non_null(strstr(r, "ERR /tmp/kgsup-table-"));
	assert_non_null(strstr(r, "/open.csv:3: unterminated quoted field"));
}

static void stray_quote_is_named_by_line(void **state)
{
	(void)state;
	const char *r = read_data("stray.csv", "id,comment\n1,ok\n2,a \"b\" c\n");
	assert_non_null(strstr(r, "stray.csv:3: a stray quote"));
}

static void xlsx_first_sheet(void **state)
{
	(void)state;
	assert_string_equal(read_table(XLSX, NULL),
			    "1|response_id|score|comment|channel|day|at|ok\n"
			    "2|17|7|Great service, \"really\"|email|2024-03-05|2024-03-05T14:30:15|true\n"
			    "3|18|9.5|Slow\nand late||||false\n"
			    "5|19||inline & rich||1970-01-01||0.1\n");
}

static void xlsx_sheet_by_name(void **state)
{
	(void)state;
	assert_string_equal(read_table(XLSX, "Second"), "1|a|b\n2|x|y\n");
	char *first = strdup(read_table(XLSX, NULL));
	assert_string_equal(read_table(XLSX, "Responses"), first);
	free(first);
	assert_string_equal(read_table(XLSX, "Nope"),
			    "ERR " XLSX ": no sheet \"Nope\" (its sheets: \"Responses\", \"Second\")");
	const char *r = read_data("not.xlsx", "id,comment\n");
	assert_non_null(strstr(r, "not.xlsx: not a readable .xlsx (zip) file"));
}

static void callback_stops_the_reading(void **state)
{
	(void)state;
	struct got g = { .stop_after = 1 };
	buf_init(&g.text);
	char err[256];
	const char *path = write_tmp("s.csv", "a\n1\n2\n", 6);
	assert_int_equal(table_read(path, NULL, collect, &g, err, sizeof err), 1);
	assert_string_equal(buf_cstr(&g.text), "1|a\n");
	buf_reset(&g.text);
	g.rows = 0;
	assert_int_equal(table_read(XLSX, NULL, collect, &g, err, sizeof err), 1);
	assert_int_equal(g.rows, 1);
	buf_free(&g.text);
}

static void formats_by_ending(void **state)
{
	(void)state;
	assert_int_equal(table_format_of("a/b.CSV"), TABLE_CSV);
	assert_int_equal(table_format_of("b.tsv"), TABLE_TSV);
	assert_int_equal(table_format_of("b.xlsx"), TABLE_XLSX);
	assert_int_equal(table_format_of("b.txt"), -1);
	assert_int_equal(table_format_of("dir.csv/b"), -1);
	assert_string_equal(table_endings(), ".csv, .tsv, .xlsx");
	assert_string_equal(read_table("x.txt", NULL),
			    "ERR x.txt: not a table (kgsup reads .csv, .tsv, .xlsx)");
}

static int setup(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	return system(cmd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(csv_every_quoting_case),
		cmocka_unit_test(tsv_reads_tabs),
		cmocka_unit_test(tsv_keeps_quotes_of_unquoted_fields),
		cmocka_unit_test(tsv_quotes_that_swallow_lines_are_text),
		cmocka_unit_test(sep_line_and_semicolons),
		cmocka_unit_test(windows_1252_is_converted_with_a_warning),
		cmocka_unit_test(bad_quotes_are_named_by_line),
		cmocka_unit_test(stray_quote_is_named_by_line),
		cmocka_unit_test(xlsx_first_sheet),
		cmocka_unit_test(xlsx_sheet_by_name),
		cmocka_unit_test(callback_stops_the_reading),
		cmocka_unit_test(formats_by_ending),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
