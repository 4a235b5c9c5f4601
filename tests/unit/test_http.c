/* test_http.c: the worker's own check that plain http reaches loopback addresses only, whatever
 * the URL's userinfo says and whatever a name resolves to. The test moves itself into a network
 * and mount namespace of its own (nothing but lo, 192.0.2.2 added to it, an /etc/hosts of its
 * own), so no packet can leave the machine; without the privilege for that it is skipped. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../../common/config.h"
#include "../../common/util.h"
#include "../../worker/http.h"

static char hosts[] = "/tmp/kgsup-test-hosts-XXXXXX";

static int sandbox(void)
{
	if (unshare(CLONE_NEWNET | CLONE_NEWNS) < 0 ||
	    mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
		return -1;
	if (system("ip link set lo up && ip addr add 192.0.2.2/32 dev lo && "
		   "[ \"$(ip -o link | wc -l)\" -eq 1 ]") != 0)
		return -1;
	int fd = mkstemp(hosts);
	const char text[] = "127.0.0.1 localhost\n192.0.2.2 evilname\n";
	if (fd < 0 || write(fd, text, sizeof text - 1) != (ssize_t)sizeof text - 1)
		return -1;
	close(fd);
	return mount(hosts, "/etc/hosts", NULL, MS_BIND, NULL);
}

/* A listener on addr; its port in *port. */
static int listen_on(const char *addr, int *port)
{
	struct sockaddr_in a = { .sin_family = AF_INET };
	socklen_t len = sizeof a;
	int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, addr, &a.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
	assert_int_equal(listen(fd, 8), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
	*port = ntohs(a.sin_port);
	return fd;
}

/* Posts once to url; returns whether the listener got a connection, the error in err. */
static int post_reaches(int lfd, const char *url, char *err, size_t errlen)
{
	struct config cfg;
	config_defaults(&cfg);
	free(cfg.base_url);
	cfg.base_url = xstrdup(url);
	cfg.timeout_s = 1;
	cfg.connect_timeout_s = 1;
	err[0] = '\0';
	http_client *c = http_new(&cfg, "sk-test-secret", NULL, NULL, err, errlen);
	if (c) {
		struct http_response r;
		http_response_init(&r);
		http_post(c, "{}", 2, &r);
		snprintf(err, errlen, "%s", r.error);
		http_response_free(&r);
		http_free(c);
	}
	config_free(&cfg);
	int conn = accept(lfd, NULL, NULL);
	if (conn >= 0)
		close(conn);
	return conn >= 0;
}

static void plain_http_reaches_loopback_only(void **state)
{
	(void)state;
	if (sandbox() < 0)
		skip();
	char err[256], url[128];
	assert_int_equal(http_global_init(err, sizeof err), 0);
	int port, lfd = listen_on("192.0.2.2", &port);
	int lport, loop = listen_on("127.0.0.1", &lport);
	/* a name that resolves to a non-loopback address: no connection at all */
	snprintf(url, sizeof url, "http://evilname:%d/v1", port);
	assert_false(post_reaches(lfd, url, err, sizeof err));
	assert_non_null(strstr(err, "not a loopback address"));
	/* userinfo that looks like localhost: refused before any transfer */
	snprintf(url, sizeof url, "http://localhost:x@192.0.2.2:%d/v1", port);
	assert_false(post_reaches(lfd, url, err, sizeof err));
	assert_non_null(strstr(err, "api.base_url"));
	/* loopback itself still works */
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", lport);
	assert_true(post_reaches(loop, url, err, sizeof err));
	close(lfd);
	close(loop);
	umount("/etc/hosts");
	unlink(hosts);
	http_global_cleanup();
}

/* A call that never connects says so (connect_failed, the system's reason); one whose
 * request went out is a transport error of another kind. Plain http to loopback: no sandbox. */
static void a_call_that_cannot_connect_says_so(void **state)
{
	(void)state;
	char err[256], url[128];
	assert_int_equal(http_global_init(err, sizeof err), 0);
	int port, lfd = listen_on("127.0.0.1", &port);
	close(lfd); /* nothing listens there now */
	struct config cfg;
	config_defaults(&cfg);
	free(cfg.base_url);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
	cfg.base_url = xstrdup(url);
	cfg.timeout_s = 1;
	cfg.connect_timeout_s = 1;
	http_client *c = http_new(&cfg, "sk-test-secret", NULL, NULL, err, sizeof err);
	assert_non_null(c);
	struct http_response r;
	http_response_init(&r);
	assert_int_equal(http_get(c, "/models", 1000, &r), -1);
	assert_true(r.transport_error && r.connect_failed && r.sent_us == 0);
	assert_string_equal(r.error, "Connection refused");
	/* a listener that takes the request and never answers: it went out */
	lfd = listen_on("127.0.0.1", &port);
	http_free(c);
	free(cfg.base_url);
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1", port);
	cfg.base_url = xstrdup(url);
	c = http_new(&cfg, "sk-test-secret", NULL, NULL, err, sizeof err);
	assert_int_equal(http_post(c, "{}", 2, &r), -1);
	assert_true(r.transport_error && !r.connect_failed && r.sent_us > 0);
	close(lfd);
	http_response_free(&r);
	http_free(c);
	config_free(&cfg);
	http_global_cleanup();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(plain_http_reaches_loopback_only),
		cmocka_unit_test(a_call_that_cannot_connect_says_so),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
