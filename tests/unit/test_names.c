/* test_names.c: variants of one name share one normal form; different names do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>

#include "../../common/names.h"

static names *nm;

/* Two results live at once (one per argument of a comparison), then the first is reused. */
static const char *norm(const char *s)
{
	static buf out[2];
	static int next;
	buf *b = &out[next++ % 2];
	buf_reset(b);
	names_entity(nm, s, strlen(s), b);
	return buf_cstr(b);
}

static void variants_merge(void **state)
{
	(void)state;
	assert_string_equal(norm("Ada Lovelace"), "ada lovelace");
	assert_string_equal(norm("Dr. Ada Lovelace"), "ada lovelace");
	assert_string_equal(norm("  ADA\tLOVELACE  "), "ada lovelace");
	assert_string_equal(norm("ada lovelace."), "ada lovelace");
	assert_string_equal(norm("Prof. Dr. Ada Lovelace"), "ada lovelace");
	assert_string_equal(norm("O'Brien"), norm("OBrien"));
	assert_string_equal(norm("Jean-Luc Picard"), "jean luc picard");
}

static void unicode_folding(void **state)
{
	(void)state;
	/* German sharp s folds to "ss"; full-width letters are compatibility forms */
	assert_string_equal(norm("Stra\xc3\x9f" "e"), "strasse");
	assert_string_equal(norm("\xef\xbc\xa1\xef\xbc\xa2\xef\xbc\xa3"), "abc");
	/* Greek capital and small sigma */
	assert_string_equal(norm("\xce\xa3\xcf\x89\xce\xba\xcf\x81\xce\xac\xcf\x84\xce\xb7\xcf\x82"),
			    norm("\xcf\x83\xcf\x89\xce\xba\xcf\x81\xce\xac\xcf\x84\xce\xb7\xcf\x82"));
	/* a precomposed and a decomposed e-acute are one name */
	assert_string_equal(norm("Caf\xc3\xa9"), norm("Cafe\xcc\x81"));
	/* a name longer than the fold's stack buffer */
	char upper[2001], lower[2001];
	memset(upper, 'Q', 2000);
	memset(lower, 'q', 2000);
	upper[2000] = lower[2000] = '\0';
	assert_string_equal(norm(upper), lower);
}

static void distinct_names_stay_distinct(void **state)
{
	(void)state;
	assert_string_not_equal(norm("Ada Lovelace"), norm("Ada"));
	/* a title alone is a name, not nothing */
	assert_string_equal(norm("Dr."), "dr");
	assert_string_equal(norm("Dr Who"), "who"); /* titles are words, configurable */
	assert_string_equal(norm("!!!"), "");
	/* found by fuzz_answer: a name of punctuation only into a buffer never written to */
	buf fresh;
	buf_init(&fresh);
	names_entity(nm, "?!", 2, &fresh);
	assert_int_equal(fresh.len, 0);
	buf_free(&fresh);
}

static void aliases_from_a_file(void **state)
{
	(void)state;
	char path[] = "/tmp/kgsup-aliases-XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char *text = "# people\nAda King = Ada Lovelace\n\n  Countess of Lovelace=Ada Lovelace  \n";
	assert_int_equal(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
	char err[256];
	names *a = names_new("dr", path, err, sizeof err);
	assert_non_null(a);
	buf out;
	buf_init(&out);
	names_entity(a, "ADA KING", 8, &out);
	assert_string_equal(buf_cstr(&out), "ada lovelace");
	buf_reset(&out);
	names_entity(a, "the Countess of Lovelace", 24, &out);
	assert_string_equal(buf_cstr(&out), "the countess of lovelace"); /* whole names only */
	buf_free(&out);
	names_free(a);

	fd = open(path, O_WRONLY | O_TRUNC);
	assert_int_equal(write(fd, "ok = fine\nno equals sign\n", 25), 25);
	close(fd);
	assert_null(names_new("dr", path, err, sizeof err));
	char want[300];
	snprintf(want, sizeof want, "%s:2:", path);
	assert_non_null(strstr(err, want));
	unlink(path);
}

int main(void)
{
	char err[128];
	nm = names_new("dr, prof", NULL, err, sizeof err);
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(variants_merge),
		cmocka_unit_test(unicode_folding),
		cmocka_unit_test(distinct_names_stay_distinct),
		cmocka_unit_test(aliases_from_a_file),
	};
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	names_free(nm);
	return rc;
}
