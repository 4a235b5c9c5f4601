/* test_endpoint.c: a shared broker's endpoints and its keys in the config: tcp://HOST:PORT with
 * reports on PORT+1, loopback told apart, limits.broker checked with its keys. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../common/config.h"
#include "../../common/curvekey.h"
#include "../../common/endpoint.h"

static void reports_go_to_the_next_port(void **state)
{
	(void)state;
	char out[128], host[64];
	int port;
	assert_int_equal(endpoint_reports(out, sizeof out, "tcp://10.0.0.5:7700"), 0);
	assert_string_equal(out, "tcp://10.0.0.5:7701");
	assert_int_equal(endpoint_reports(out, sizeof out, "tcp://[::1]:9"), 0);
	assert_string_equal(out, "tcp://[::1]:10");
	assert_int_equal(endpoint_tcp_split("tcp://broker.example:65534", host, sizeof host, &port), 0);
	assert_string_equal(host, "broker.example");
	assert_int_equal(port, 65534);
	/* no room for PORT+1, no port, not tcp, a bare IPv6 address */
	const char *bad[] = { "tcp://h:65535", "tcp://h:0", "tcp://h", "tcp://h:", "tcp://:7700",
			      "ipc:///tmp/x", "tcp://h:77x", "tcp://::1:7700", "" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
		if (endpoint_reports(out, sizeof out, bad[i]) != -1)
			fail_msg("%s accepted", bad[i]);
}

static void loopback_is_127_8_localhost_and_v6(void **state)
{
	(void)state;
	assert_true(endpoint_is_loopback("tcp://127.0.0.1:7700"));
	assert_true(endpoint_is_loopback("tcp://127.9.8.7:7700"));
	assert_true(endpoint_is_loopback("tcp://localhost:7700"));
	assert_true(endpoint_is_loopback("tcp://[::1]:7700"));
	assert_false(endpoint_is_loopback("tcp://0.0.0.0:7700"));
	assert_false(endpoint_is_loopback("tcp://*:7700"));
	assert_false(endpoint_is_loopback("tcp://128.0.0.1:7700"));
	assert_false(endpoint_is_loopback("tcp://[::]:7700"));
	assert_false(endpoint_is_loopback("tcp://localhost.evil.com:7700"));
}

static int parse(const char *text, char *err)
{
	struct config c;
	config_defaults(&c);
	int rc = config_parse(&c, text, strlen(text), "k.json", err, 256);
	config_free(&c);
	return rc;
}

static void broker_keys_are_checked_together(void **state)
{
	(void)state;
	char err[256];
	assert_int_equal(parse("{\"limits\":{\"broker\":\"tcp://127.0.0.1:7700\"}}", err), 0);
	assert_int_equal(parse("{\"limits\":{\"broker\":\"tcp://10.1.2.3:7700\","
			       "\"broker_public_key\":\"b.pub\",\"client_key\":\"c.key\"}}", err), 0);
	assert_int_equal(parse("{\"limits\":{\"broker\":\"tcp://10.1.2.3:7700\"}}", err), -1);
	assert_non_null(strstr(err, "limits.broker"));
	assert_non_null(strstr(err, "not loopback"));
	assert_int_equal(parse("{\"limits\":{\"broker\":\"tcp://127.0.0.1:7700\","
			       "\"client_key\":\"c.key\"}}", err), -1);
	assert_non_null(strstr(err, "limits.broker_public_key"));
	assert_int_equal(parse("{\"limits\":{\"client_key\":\"c.key\","
			       "\"broker_public_key\":\"b.pub\"}}", err), -1);
	assert_non_null(strstr(err, "without limits.broker"));
	assert_int_equal(parse("{\"limits\":{\"broker\":\"http://127.0.0.1:7700\"}}", err), -1);
	assert_non_null(strstr(err, "tcp://HOST:PORT"));
}

static void z85_keys_only(void **state)
{
	(void)state;
	assert_true(curvekey_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hID"));
	assert_false(curvekey_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI"));
	assert_false(curvekey_valid("Yne@$w-vo<fVvi]a<NY6T1ed:M$fCG*[IaLV{hI\""));
	assert_false(curvekey_valid(""));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(reports_go_to_the_next_port),
		cmocka_unit_test(loopback_is_127_8_localhost_and_v6),
		cmocka_unit_test(broker_keys_are_checked_together),
		cmocka_unit_test(z85_keys_only),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
