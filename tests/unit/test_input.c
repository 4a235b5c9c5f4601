/* test_input.c: the transcript readers: what text and cue times each format yields. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../common/input.h"

static char *unit_text(const struct document *d, size_t i)
{
	static char out[4096];
	snprintf(out, sizeof out, "%.*s", (int)d->units[i].len, d->text.data + d->units[i].off);
	return out;
}

static void vtt_drops_header_timings_and_keeps_speakers(void **state)
{
	(void)state;
	const char *vtt = "WEBVTT - a title\nKind: captions\n\nNOTE a comment\nspanning lines\n\n"
			  "intro\n00:00:01.000 --> 00:00:04.500 align:start\n<v Ada Lovelace>Hello "
			  "<b>there</b> &amp; welcome.</v>\n\n2\n00:01:02.250 --> 00:01:05.000\n"
			  "<v.loud Charles>Thank you.\nGlad to be here.\n";
	struct document d;
	document_init(&d, "x.vtt");
	assert_int_equal(input_parse_vtt(&d, vtt, strlen(vtt), 10000), 0);
	assert_int_equal(d.nunits, 2);
	assert_string_equal(unit_text(&d, 0), "Ada Lovelace: Hello there & welcome.\n");
	assert_int_equal(d.units[0].start_ms, 1000);
	assert_int_equal(d.units[0].end_ms, 4500);
	assert_string_equal(unit_text(&d, 1), "Charles: Thank you. Glad to be here.\n");
	assert_int_equal(d.units[1].start_ms, 62250);
	assert_null(strstr(buf_cstr(&d.text), "-->"));
	assert_null(strstr(buf_cstr(&d.text), "NOTE"));
	document_free(&d);
}

static void vtt_without_header_is_refused(void **state)
{
	(void)state;
	struct document d;
	document_init(&d, "x.vtt");
	assert_int_equal(input_parse_vtt(&d, "00:00:01.000 --> 00:00:02.000\nhi\n", 33, 100), -1);
	document_free(&d);
}

static void srt_drops_numbers_and_timings(void **state)
{
	(void)state;
	const char *srt = "\xef\xbb\xbf" "1\r\n00:00:01,000 --> 00:00:02,000\r\nGrace: <i>Hi</i>\r\n\r\n"
			  "2\r\n01:00:00,500 --> 01:00:03,000\r\n{\\an8}Alan: Second\r\nline\r\n";
	struct document d;
	document_init(&d, "x.srt");
	assert_int_equal(input_parse_srt(&d, srt, strlen(srt), 10000), 0);
	assert_int_equal(d.nunits, 2);
	assert_string_equal(unit_text(&d, 0), "Grace: Hi\n");
	assert_string_equal(unit_text(&d, 1), "Alan: Second line\n");
	assert_int_equal(d.units[1].start_ms, 3600500);
	assert_int_equal(d.units[1].end_ms, 3603000);
	document_free(&d);
}

static void text_units_are_lines_and_long_lines_are_split(void **state)
{
	(void)state;
	struct document d;
	document_init(&d, "x.txt");
	const char *t = "Host: short line\r\nGuest: ok\n";
	input_parse_text(&d, t, strlen(t), 1000);
	assert_int_equal(d.nunits, 2);
	assert_string_equal(unit_text(&d, 0), "Host: short line\n"); /* CRLF normalised */
	char longline[5000];
	memset(longline, 'a', sizeof longline);
	for (size_t i = 7; i < sizeof longline; i += 8)
		longline[i] = ' ';
	input_parse_text(&d, longline, sizeof longline, 100);
	for (size_t i = 0; i < d.nunits; i++)
		assert_true(d.units[i].len <= 100);
	assert_true(d.nunits >= 50);
	document_free(&d);
}

static void times_parse_in_both_notations(void **state)
{
	(void)state;
	assert_int_equal(input_parse_time("00:00:01.000", 12), 1000);
	assert_int_equal(input_parse_time("01:02.003", 9), 62003);
	assert_int_equal(input_parse_time("10:00:00,250", 12), 36000250);
	assert_int_equal(input_parse_time("1.5", 3), -1);
	assert_int_equal(input_parse_time("00:61:00.000", 12), -1);
}

static int count_docs(struct document *doc, void *arg)
{
	(void)doc;
	(*(int *)arg)++;
	return 0;
}

static void jsonl_names_the_broken_line(void **state)
{
	(void)state;
	char path[] = "/tmp/kgsup-test-XXXXXX.jsonl";
	int fd = mkstemps(path, 6);
	const char *data = "{\"id\": \"a\", \"text\": \"one\"}\n\n{\"id\": \"b\", \"text\": \"two\"}\n{broken\n";
	assert_int_equal(write(fd, data, strlen(data)), (ssize_t)strlen(data));
	close(fd);
	char err[256];
	int n = 0;
	assert_int_not_equal(input_read_file(path, FMT_JSONL, 1000, count_docs, &n, err, sizeof err), 0);
	assert_int_equal(n, 2);
	char want[300];
	snprintf(want, sizeof want, "%s:4:", path);
	assert_non_null(strstr(err, want));
	unlink(path);
}

/* found by fuzz_input: an empty text handed over in parts moved a NULL pointer (UBSan) */
static void empty_text_in_parts(void **state)
{
	(void)state;
	const enum input_format fmts[] = { FMT_TEXT, FMT_SRT, FMT_JSONL };
	for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
		char err[128];
		int n = 0;
		assert_int_equal(input_read_mem("e", fmts[f], "", 0, 128, 14, count_docs, &n, err,
						sizeof err), 0);
		assert_int_equal(n, fmts[f] == FMT_JSONL ? 0 : 1); /* one empty document */
	}
}

static void formats_by_extension(void **state)
{
	(void)state;
	assert_int_equal(input_format_of("a/b.TXT"), FMT_TEXT);
	assert_int_equal(input_format_of("a.md"), FMT_TEXT);
	assert_int_equal(input_format_of("a.vtt"), FMT_VTT);
	assert_int_equal(input_format_of("a.srt"), FMT_SRT);
	assert_int_equal(input_format_of("a.jsonl"), FMT_JSONL);
	assert_int_equal(input_format_of("a.pdf"), FMT_NONE);
	assert_int_equal(input_format_of("dir.txt/file"), FMT_NONE);
}

/* the list messages name is the table's: each ending in it reads as a format */
static void endings_come_from_the_table(void **state)
{
	(void)state;
	assert_string_equal(input_endings(), ".txt .md .vtt .srt .jsonl");
	char list[256], path[300];
	snprintf(list, sizeof list, "%s", input_endings());
	for (char *save, *e = strtok_r(list, " ", &save); e; e = strtok_r(NULL, " ", &save)) {
		snprintf(path, sizeof path, "dir/a%s", e);
		assert_int_not_equal(input_format_of(path), FMT_NONE);
	}
	assert_true(input_one_document(FMT_TEXT) && input_one_document(FMT_VTT));
	assert_true(input_one_document(FMT_SRT));
	assert_false(input_one_document(FMT_JSONL) || input_one_document(FMT_NONE));
}

/* a format outside the table is refused, not read as some other format */
static void unknown_format_is_refused(void **state)
{
	(void)state;
	char err[128];
	int n = 0;
	assert_int_equal(input_read_mem("x.pdf", FMT_NONE, "1\n00:00:01,000 --> 00:00:02,000\nhi\n",
					30, 100, 100, count_docs, &n, err, sizeof err), -1);
	assert_int_equal(n, 0);
	assert_string_equal(err, "x.pdf: not a format kgsup reads");
	assert_int_equal(input_read_file("/nonexistent.pdf", (enum input_format)99, 100, count_docs,
					 &n, err, sizeof err), -1);
	assert_string_equal(err, "/nonexistent.pdf: not a format kgsup reads");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(vtt_drops_header_timings_and_keeps_speakers),
		cmocka_unit_test(vtt_without_header_is_refused),
		cmocka_unit_test(srt_drops_numbers_and_timings),
		cmocka_unit_test(text_units_are_lines_and_long_lines_are_split),
		cmocka_unit_test(times_parse_in_both_notations),
		cmocka_unit_test(jsonl_names_the_broken_line),
		cmocka_unit_test(empty_text_in_parts),
		cmocka_unit_test(formats_by_extension),
		cmocka_unit_test(endings_come_from_the_table),
		cmocka_unit_test(unknown_format_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
