/* test_rowtext.c: texts a reader would call the same have one normal form (the per-row cache
 * key); different texts do not. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../common/rowtext.h"

/* Two results live at once (one per argument of a comparison), then the first is reused. */
static const char *norm(const char *s)
{
	static buf out[2];
	static int next;
	buf *b = &out[next++ % 2];
	buf_reset(b);
	rowtext_normalize(s, strlen(s), b);
	return buf_cstr(b);
}

static void nfc_and_nfd_are_one_text(void **state)
{
	(void)state;
	assert_string_equal(norm("Caf\xc3\xa9 au lait"), norm("Cafe\xcc\x81 au lait"));
	assert_string_equal(norm("Cafe\xcc\x81"), "caf\xc3\xa9"); /* NFC: precomposed */
}

static void case_is_folded(void **state)
{
	(void)state;
	assert_string_equal(norm("GREAT Service"), "great service");
	assert_string_equal(norm("Stra\xc3\x9f" "e"), "strasse");
	assert_string_equal(norm("\xc3\x89t\xc3\xa9"), "\xc3\xa9t\xc3\xa9");
}

static void white_space_is_trimmed_and_collapsed(void **state)
{
	(void)state;
	assert_string_equal(norm("  too \t slow\r\n\n and   late \n"), "too slow and late");
	/* a no-break space and an ideographic space are white space too */
	assert_string_equal(norm("a\xc2\xa0\xc2\xa0" "b\xe3\x80\x80" "c"), "a b c");
	assert_string_equal(norm(" \t\n"), "");
}

static void different_texts_stay_different(void **state)
{
	(void)state;
	assert_string_not_equal(norm("great service"), norm("great services"));
	assert_string_not_equal(norm("great, service"), norm("great service"));
	/* an invalid byte is U+FFFD */
	assert_string_equal(norm("A\xff  B"), "a\xef\xbf\xbd b");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(nfc_and_nfd_are_one_text),
		cmocka_unit_test(case_is_folded),
		cmocka_unit_test(white_space_is_trimmed_and_collapsed),
		cmocka_unit_test(different_texts_stay_different),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
