/* test_chunk.c: chunk sizes, overlap, boundaries and stable ids. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/chunk.h"

struct collected {
	struct chunk c[512];
	char *text[512];
	size_t n;
};

static int collect(const struct chunk *c, void *arg)
{
	struct collected *col = arg;
	col->c[col->n] = *c;
	col->text[col->n] = strndup(c->text, c->len);
	col->n++;
	return 0;
}

static void free_collected(struct collected *col)
{
	for (size_t i = 0; i < col->n; i++)
		free(col->text[i]);
}

/* 200 numbered lines of 50 bytes each */
static void make_doc(struct document *d)
{
	char text[200 * 51 + 1], *p = text;
	for (int i = 0; i < 200; i++)
		p += sprintf(p, "Line %03d: %-39s\n", i, "words words words words words");
	document_init(d, "doc.txt");
	input_parse_text(d, text, strlen(text), 400);
}

static void chunks_respect_size_and_cut_at_lines(void **state)
{
	(void)state;
	struct document d;
	make_doc(&d);
	struct collected col = { .n = 0 };
	assert_int_equal(chunk_document(&d, 400, 100, collect, &col), 0);
	assert_true(col.n > 20);
	for (size_t i = 0; i < col.n; i++) {
		assert_true(col.c[i].len <= 400);
		assert_int_equal(strncmp(col.text[i], "Line ", 5), 0); /* starts at a line */
		assert_int_equal(col.c[i].index, i);
	}
	/* the last chunk ends with the last line */
	assert_non_null(strstr(col.text[col.n - 1], "Line 199"));
	free_collected(&col);
	document_free(&d);
}

static void consecutive_chunks_overlap(void **state)
{
	(void)state;
	struct document d;
	make_doc(&d);
	struct collected col = { .n = 0 };
	chunk_document(&d, 400, 100, collect, &col);
	for (size_t i = 1; i < col.n; i++) {
		/* the first line of a chunk is within the previous chunk */
		char first[10];
		memcpy(first, col.text[i], 8);
		first[8] = '\0';
		assert_non_null(strstr(col.text[i - 1], first));
	}
	struct collected none = { .n = 0 };
	chunk_document(&d, 400, 0, collect, &none);
	assert_true(none.n < col.n);
	free_collected(&col);
	free_collected(&none);
	document_free(&d);
}

static void ids_are_stable_and_distinct(void **state)
{
	(void)state;
	struct document d;
	make_doc(&d);
	struct collected a = { .n = 0 }, b = { .n = 0 };
	chunk_document(&d, 400, 100, collect, &a);
	chunk_document(&d, 400, 100, collect, &b);
	assert_int_equal(a.n, b.n);
	for (size_t i = 0; i < a.n; i++) {
		assert_string_equal(a.c[i].id, b.c[i].id);
		assert_int_equal(strlen(a.c[i].id), CHUNK_ID_LEN);
		for (size_t j = 0; j < i; j++)
			assert_string_not_equal(a.c[i].id, a.c[j].id);
	}
	char other[CHUNK_ID_LEN + 1];
	chunk_make_id("other.txt", 0, a.c[0].text, a.c[0].len, other);
	assert_string_not_equal(other, a.c[0].id);
	free_collected(&a);
	free_collected(&b);
	document_free(&d);
}

static void cue_times_span_the_chunk(void **state)
{
	(void)state;
	const char *vtt = "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nOne.\n\n"
			  "00:00:03.000 --> 00:00:04.000\nTwo.\n\n00:00:05.000 --> 00:00:06.000\nThree.\n";
	struct document d;
	document_init(&d, "a.vtt");
	input_parse_vtt(&d, vtt, strlen(vtt), 1000);
	struct collected col = { .n = 0 };
	chunk_document(&d, 12, 0, collect, &col);
	assert_int_equal(col.n, 2);
	assert_int_equal(col.c[0].start_ms, 1000);
	assert_int_equal(col.c[0].end_ms, 4000);
	assert_int_equal(col.c[1].start_ms, 5000);
	free_collected(&col);
	document_free(&d);
}

static void whitespace_only_makes_no_chunk(void **state)
{
	(void)state;
	struct document d;
	document_init(&d, "e.txt");
	input_parse_text(&d, "\n\n   \n", 6, 100);
	struct collected col = { .n = 0 };
	chunk_document(&d, 400, 100, collect, &col);
	assert_int_equal(col.n, 0);
	document_free(&d);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chunks_respect_size_and_cut_at_lines),
		cmocka_unit_test(consecutive_chunks_overlap),
		cmocka_unit_test(ids_are_stable_and_distinct),
		cmocka_unit_test(cue_times_span_the_chunk),
		cmocka_unit_test(whitespace_only_makes_no_chunk),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
