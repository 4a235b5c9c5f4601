/* test_columns.c: the choice of the id, text and kept columns, and the duplicate row id
 * check. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/columns.h"

/* The statistics of a table written to a file and read as the planner reads it. */
static void stats_of(const char *csv, struct column_stats *st)
{
	char path[] = "/tmp/kgsup-columns-XXXXXX.csv", err[256];
	int fd = mkstemps(path, 4);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, csv, strlen(csv)), (ssize_t)strlen(csv));
	close(fd);
	memset(st, 0, sizeof *st);
	assert_int_equal(table_read(path, NULL, column_stats_row, st, err, sizeof err), 0);
	unlink(path);
}

static const char *feedback = "Channel,Response ID,score,comment\n"
			      "email,r1,9,\"Great service, quick reply\"\n"
			      "web,r2,3,Slow\n"
			      "sms,r3,7,\n";

static void id_by_name_text_by_length(void **state)
{
	(void)state;
	struct column_stats st;
	struct column_choice c;
	char err[512];
	stats_of(feedback, &st);
	struct column_spec none = { 0 };
	assert_int_equal(columns_choose("f.csv", &st, &none, &c, err, sizeof err), 0);
	assert_int_equal(c.id_col, 1);
	assert_int_equal(c.text_col, 3);
	/* (26 + 4 + 0) characters over 3 rows */
	assert_string_equal(c.desc, "f.csv: id column \"Response ID\" (by its name), text column "
				    "\"comment\" (longest average text, 10 characters)");
	column_choice_free(&c);
	column_stats_free(&st);
	/* no id-like header: rows are numbered; the longest text is not the first column */
	stats_of("a,b\nxx,a long answer\nyy,another one\n", &st);
	assert_int_equal(columns_choose("g.csv", &st, &none, &c, err, sizeof err), 0);
	assert_int_equal(c.id_col, -1);
	assert_int_equal(c.text_col, 1);
	assert_non_null(strstr(c.desc, "g.csv: rows numbered from 1"));
	column_choice_free(&c);
	column_stats_free(&st);
	/* the id column is never the text column, even with the longest cells */
	stats_of("note,id\nok,2f1c0a9e-5b7d-4c1e-9a3b-8d6f0e2c4a1b\n", &st);
	assert_int_equal(columns_choose("h.csv", &st, &none, &c, err, sizeof err), 0);
	assert_int_equal(c.id_col, 1);
	assert_int_equal(c.text_col, 0);
	column_choice_free(&c);
	column_stats_free(&st);
}

/* Most respondents leave the comment blank: a date or an e-mail address on every row is still
 * not the text; cells of words are. */
static void sparse_comments_are_the_text(void **state)
{
	(void)state;
	struct column_stats st;
	struct column_choice c;
	char err[512];
	stats_of("id,submitted_at,email,comment\n"
		 "r1,2024-03-01T10:00:00Z,jane.doe@example.com,\n"
		 "r2,2024-03-02T11:00:00Z,john.roe@example.com,Delivery was late\n"
		 "r3,2024-03-03T12:00:00Z,anna.poe@example.com,\n"
		 "r4,2024-03-04T13:00:00Z,mark.moe@example.com,\n",
		 &st);
	struct column_spec none = { 0 };
	assert_int_equal(columns_choose("f.csv", &st, &none, &c, err, sizeof err), 0);
	assert_int_equal(c.text_col, 3);
	column_choice_free(&c);
	column_stats_free(&st);
	/* single words everywhere: the longest still */
	stats_of("id,channel,answer\nr1,email,Good\nr2,web,Terrible\n", &st);
	assert_int_equal(columns_choose("f.csv", &st, &none, &c, err, sizeof err), 0);
	assert_int_equal(c.text_col, 2);
	column_choice_free(&c);
	column_stats_free(&st);
}

/* A column named ID that some rows leave empty is no id: rows are numbered, saying why (there
 * is no other way to number them than renaming the column). */
static void an_id_column_with_empty_cells_numbers_rows(void **state)
{
	(void)state;
	struct column_stats st;
	struct column_choice c;
	char err[512];
	stats_of("ID,comment\n1001,great service here\n,nice staff overall\n", &st);
	struct column_spec none = { 0 };
	assert_int_equal(columns_choose("f.csv", &st, &none, &c, err, sizeof err), 0);
	assert_int_equal(c.id_col, -1);
	assert_int_equal(c.text_col, 1);
	assert_non_null(strstr(c.desc, "rows numbered from 1 (column \"ID\" has empty cells"));
	column_choice_free(&c);
	/* named by input.id_column, it is the id, and an empty one an error when planned */
	struct column_spec named = { .id_column = "ID" };
	assert_int_equal(columns_choose("f.csv", &st, &named, &c, err, sizeof err), 0);
	assert_int_equal(c.id_col, 0);
	column_choice_free(&c);
	column_stats_free(&st);
}

static void explicit_columns_and_kept(void **state)
{
	(void)state;
	struct column_stats st;
	struct column_choice c;
	char err[512];
	stats_of(feedback, &st);
	const char *keep[] = { "score", "CHANNEL" };
	struct column_spec spec = { "channel", "Response ID", keep, 2, NULL, 0 };
	assert_int_equal(columns_choose("f.csv", &st, &spec, &c, err, sizeof err), 0);
	assert_int_equal(c.id_col, 0);
	assert_int_equal(c.text_col, 1);
	assert_int_equal(c.nkeep, 2);
	assert_int_equal(c.keep[0], 2);
	assert_int_equal(c.keep[1], 0);
	assert_string_equal(c.desc, "f.csv: id column \"Channel\" (input.id_column), text column "
				    "\"Response ID\" (input.text_column), kept \"score\", \"Channel\"");
	column_choice_free(&c);
	column_stats_free(&st);
}

/* A header that names two columns keeps both, each once, and not the text column of that name. */
static void same_name_twice(void **state)
{
	(void)state;
	struct column_stats st;
	struct column_choice c;
	char err[512];
	stats_of("id,note,comment,note,comment\nr1,x,a long comment here,y,z\n", &st);
	const char *keep[] = { "note", "note", "comment" };
	struct column_spec spec = { .text_column = "comment", .keep_columns = keep, .nkeep = 3 };
	assert_int_equal(columns_choose("f.csv", &st, &spec, &c, err, sizeof err), 0);
	assert_int_equal(c.text_col, 2);
	assert_int_equal(c.nkeep, 3);
	assert_int_equal(c.keep[0], 1);
	assert_int_equal(c.keep[1], 3);
	assert_int_equal(c.keep[2], 4);
	column_choice_free(&c);
	/* the text column is kept when it is the one of that name */
	const char *text[] = { "comment", "comment", "id" };
	struct column_spec again = { .text_column = "comment", .keep_columns = text, .nkeep = 3 };
	assert_int_equal(columns_choose("f.csv", &st, &again, &c, err, sizeof err), 0);
	assert_int_equal(c.keep[0], 4);
	assert_int_equal(c.keep[1], 2);
	assert_int_equal(c.keep[2], 0);
	column_choice_free(&c);
	column_stats_free(&st);
}

static void unknown_column_names_the_columns(void **state)
{
	(void)state;
	struct column_stats st;
	struct column_choice c;
	char err[512];
	stats_of(feedback, &st);
	struct column_spec text = { .text_column = "feedback" };
	assert_int_equal(columns_choose("f.csv", &st, &text, &c, err, sizeof err), -1);
	assert_string_equal(err, "f.csv: no column \"feedback\" (input.text_column); its columns: "
				 "\"Channel\", \"Response ID\", \"score\", \"comment\"");
	struct column_spec id = { .id_column = "nope" };
	assert_int_equal(columns_choose("f.csv", &st, &id, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "no column \"nope\" (input.id_column)"));
	const char *keep[] = { "score", "region" };
	struct column_spec kept = { .keep_columns = keep, .nkeep = 2 };
	assert_int_equal(columns_choose("f.csv", &st, &kept, &c, err, sizeof err), -1);
	assert_non_null(strstr(err, "no column \"region\" (input.keep_columns)"));
	column_stats_free(&st);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(id_by_name_text_by_length),
		cmocka_unit_test(sparse_comments_are_the_text),
		cmocka_unit_test(an_id_column_with_empty_cells_numbers_rows),
		cmocka_unit_test(explicit_columns_and_kept),
		cmocka_unit_test(same_name_twice),
		cmocka_unit_test(unknown_column_names_the_columns),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
