/* test_paths.c: a session's socket directory and endpoints; the session name a child is given on
 * its command line never leads out of DIR/sock. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/paths.h"

static void endpoints_are_in_the_session_directory(void **state)
{
	(void)state;
	char ep[PATHS_MAX], dir[PATHS_MAX];
	assert_int_equal(paths_endpoint(ep, sizeof ep, "/tmp/st", "aB3xY9", "w", 12), 0);
	assert_string_equal(ep, "ipc:///tmp/st/sock/aB3xY9/w12");
	assert_int_equal(paths_endpoint(ep, sizeof ep, "/tmp/st", "aB3xY9", "results", -1), 0);
	assert_string_equal(ep, "ipc:///tmp/st/sock/aB3xY9/results");
	paths_session_dir(dir, sizeof dir, "/tmp/st", "aB3xY9");
	assert_string_equal(dir, "/tmp/st/sock/aB3xY9");
}

static void too_long_for_a_unix_socket(void **state)
{
	(void)state;
	char longdir[200], ep[PATHS_MAX];
	memset(longdir, 'd', sizeof longdir - 1);
	longdir[0] = '/';
	longdir[sizeof longdir - 1] = 0;
	assert_int_equal(paths_endpoint(ep, sizeof ep, longdir, "XXXXXX", "w", 9999), -1);
}

static void session_names(void **state)
{
	(void)state;
	assert_true(paths_session_ok("aB3xY9"));
	assert_true(paths_session_ok("XXXXXX"));
	assert_false(paths_session_ok(""));
	assert_false(paths_session_ok(".."));
	assert_false(paths_session_ok("../db"));
	assert_false(paths_session_ok("a/b"));
	assert_false(paths_session_ok("abcdefg")); /* longer than mkdtemp makes */
	assert_false(paths_session_ok("ab-cd"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(endpoints_are_in_the_session_directory),
		cmocka_unit_test(too_long_for_a_unix_socket),
		cmocka_unit_test(session_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
