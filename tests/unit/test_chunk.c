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

/* Chunk ids of a text, hashed into one running value, and the most text a part held. */
struct id_trail {
	unsigned long long sum;
	size_t n, max_part_text;
};

static int trail_chunk(const struct chunk *c, void *arg)
{
	struct id_trail *t = arg;
	for (size_t i = 0; i < CHUNK_ID_LEN; i++)
		t->sum = t->sum * 131 + (unsigned char)c->id[i];
	t->n++;
	return 0;
}

static int trail_part(struct document *doc, void *arg)
{
	struct id_trail *t = arg;
	if (doc->text.len > t->max_part_text)
		t->max_part_text = doc->text.len;
	return chunk_document(doc, 400, 100, trail_chunk, t);
}

/* A transcript of every kind of unit: short lines, long lines of sentences, lines longer
 * than a chunk with and without spaces, "\r\n" endings, multi-byte characters. */
static char *mixed_text(int vtt)
{
	size_t cap = 1 << 20, len = 0;
	char *t = malloc(cap);
	if (vtt)
		len += (size_t)sprintf(t, "WEBVTT\r\n\r\n");
	for (int i = 0; i < 300; i++) {
		if (vtt)
			len += (size_t)sprintf(t + len, "%d\n00:%02d:%02d.000 --> 00:%02d:%02d.500\n",
					       i, i / 60, i % 60, i / 60, i % 60);
		switch (i % 5) {
		case 0: len += (size_t)sprintf(t + len, "Ada: short line %d.\r\n", i); break;
		case 1:
			for (int k = 0; k < 12; k++)
				len += (size_t)sprintf(t + len, "Sentence %d of a long line, caf\xc3\xa9. ", k);
			t[len++] = '\n';
			break;
		case 2:
			memset(t + len, 'x', 900);
			len += 900;
			t[len++] = '\n';
			break;
		case 3: len += (size_t)sprintf(t + len, "<v Bob>Bob &amp; the line\nwith two rows\n"); break;
		default: len += (size_t)sprintf(t + len, "\n"); break;
		}
		if (vtt)
			t[len++] = '\n';
	}
	t[len] = '\0';
	return t;
}

static void parts_give_the_same_chunks_as_one_piece(void **state)
{
	(void)state;
	const enum input_format fmts[] = { FMT_TEXT, FMT_VTT };
	for (int f = 0; f < 2; f++) {
		char *text = mixed_text(fmts[f] == FMT_VTT);
		size_t len = strlen(text);
		char err[128];
		struct id_trail whole = { 0, 0, 0 };
		assert_int_equal(input_read_mem("t", fmts[f], text, len, 400, len + 1, trail_part,
						&whole, err, sizeof err), 0);
		assert_true(whole.n > 100);
		const size_t parts[] = { 1, 7, 100, 1000, 4096 };
		for (size_t p = 0; p < sizeof parts / sizeof parts[0]; p++) {
			struct id_trail cut = { 0, 0, 0 };
			assert_int_equal(input_read_mem("t", fmts[f], text, len, 400, parts[p],
							trail_part, &cut, err, sizeof err), 0);
			assert_int_equal(cut.n, whole.n);
			assert_true(cut.sum == whole.sum);
			/* a part holds at most two slices of new text, the chunk left over before it
			 * and a line that is not cut yet: nothing near the whole text */
			assert_true(cut.max_part_text <= 2 * parts[p] + 2000);
			assert_true(cut.max_part_text < len / 4);
		}
		free(text);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(chunks_respect_size_and_cut_at_lines),
		cmocka_unit_test(consecutive_chunks_overlap),
		cmocka_unit_test(ids_are_stable_and_distinct),
		cmocka_unit_test(cue_times_span_the_chunk),
		cmocka_unit_test(whitespace_only_makes_no_chunk),
		cmocka_unit_test(parts_give_the_same_chunks_as_one_piece),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
