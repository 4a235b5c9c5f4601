/* test_cadir.c: when the system's hashed directory of CAs serves for its bundle file (the
 * worker then reads the directory, a CA at a time): only with OpenSSL, only a directory with a
 * link named by hash, and not when the bundle is newer (a CA appended to it by hand). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "../../worker/cadir.h"

static void touch(const char *dir, const char *name)
{
	char path[512];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_WRONLY, 0600);
	assert_true(fd >= 0);
	close(fd);
}

/* sets path's modification time to now + delta seconds */
static void age(const char *path, long delta)
{
	struct timespec t[2];
	clock_gettime(CLOCK_REALTIME, &t[0]);
	t[0].tv_sec += delta;
	t[1] = t[0];
	assert_int_equal(utimensat(AT_FDCWD, path, t, 0), 0);
}

static void a_hashed_directory_serves_with_openssl_only(void **state)
{
	(void)state;
	char dir[] = "/tmp/kgsup-test-cadir-XXXXXX";
	assert_non_null(mkdtemp(dir));
	touch(dir, "ca-certificates.crt");
	touch(dir, "abcdef0.0");   /* seven digits */
	touch(dir, "abcdef01.r0"); /* a CRL's link */
	touch(dir, "abcdef01.");
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", dir, NULL), 0);
	touch(dir, "5ad8a5d6.0");
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", dir, NULL), 1);
	assert_int_equal(cadir_serves("GnuTLS/3.7.9", dir, NULL), 0);
	assert_int_equal(cadir_serves(NULL, dir, NULL), 0);
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", NULL, NULL), 0);
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", "/nonexistent-kgsup", NULL), 0);
	char cmd[600];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

static void a_bundle_newer_than_the_directory_is_kept(void **state)
{
	(void)state;
	char dir[] = "/tmp/kgsup-test-cadir-XXXXXX";
	assert_non_null(mkdtemp(dir));
	touch(dir, "5ad8a5d6.0");
	char bundle[600];
	snprintf(bundle, sizeof bundle, "%s/ca-certificates.crt", dir);
	touch(dir, "ca-certificates.crt");
	age(dir, 0);
	age(bundle, -60); /* written, then linked: update-ca-certificates */
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", dir, bundle), 1);
	age(bundle, 60); /* appended to later */
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", dir, bundle), 0);
	assert_int_equal(cadir_serves("OpenSSL/3.0.19", dir, "/nonexistent-kgsup/b.crt"), 0);
	char cmd[700];
	snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
	assert_int_equal(system(cmd), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(a_hashed_directory_serves_with_openssl_only),
		cmocka_unit_test(a_bundle_newer_than_the_directory_is_kept),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
