/* test_wire.c: the inter-process messages and the rate-limit header parser: round trips,
 * and garbage that must be refused rather than read past. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../common/proto.h"
#include "../../common/ratehdr.h"

static void result_round_trips(void **state)
{
	(void)state;
	struct msg_result r = { 3, 77, 9, RES_RETRY, 200, 2, 1, 1, 1, 1, 1234, 56, 7890, 5, 6, 7, 4,
				1500, "{\"a\":1}", 7 };
	buf b;
	buf_init(&b);
	msg_encode_result(&b, &r);
	struct msg_result d;
	assert_int_equal(msg_type(b.data, b.len), MSG_RESULT);
	assert_int_equal(msg_decode_result(b.data, b.len, &d), 0);
	assert_int_equal(d.batch, 77);
	assert_int_equal(d.seq, 9);
	assert_int_equal(d.prompt_tokens, 1234);
	assert_int_equal(d.status, RES_RETRY);
	assert_int_equal(d.err_server, 5);
	assert_int_equal(d.err_transport, 6);
	assert_int_equal(d.err_invalid, 7);
	assert_int_equal(d.attempt, 4);
	assert_int_equal(d.retry_in_ms, 1500);
	assert_int_equal(d.payload_len, 7);
	assert_memory_equal(d.payload, "{\"a\":1}", 7);
	/* every truncation is refused */
	for (size_t n = 0; n < b.len; n++)
		assert_int_equal(msg_decode_result(b.data, n, &d), -1);
	/* a trailing byte is refused, and so is a wrong type */
	buf_putc(&b, 0);
	assert_int_equal(msg_decode_result(b.data, b.len, &d), -1);
	struct msg_hello h;
	assert_int_equal(msg_decode_hello(b.data, b.len - 1, &h), -1);
	buf_free(&b);
}

static void batch_with_lying_length_is_refused(void **state)
{
	(void)state;
	struct msg_batch m = { 1, 2, 9, 3, 6, "id1\nid2", 7, "{}", 2 };
	buf b;
	buf_init(&b);
	msg_encode_batch(&b, &m);
	struct msg_batch d;
	assert_int_equal(msg_decode_batch(b.data, b.len, &d), 0);
	assert_int_equal(d.body_len, 2);
	assert_int_equal(d.attempt, 6);
	assert_int_equal(d.acked, 9);
	b.data[2 + 20] = (char)0xff; /* chunk_ids length now claims far more than the frame */
	assert_int_equal(msg_decode_batch(b.data, b.len, &d), -1);
	b.data[0] = 9; /* another protocol version */
	assert_int_equal(msg_type(b.data, b.len), -1);
	buf_free(&b);
}

static void ask_and_report_round_trip(void **state)
{
	(void)state;
	buf b;
	buf_init(&b);
	struct msg_ask a = { 5, 4000, 123456789, 0, { 0 } }, da;
	msg_encode_ask(&b, &a);
	assert_int_equal(msg_decode_ask(b.data, b.len, &da), 0);
	assert_int_equal(da.queued_since, 123456789);
	assert_int_equal(da.has_report, 0);
	struct msg_report r = { 77, 5, 4000, 429, 0, 0, 2000, -1, 10, 1500, -1, 3000, -1, 98765 }, dr;
	/* the last request's report riding on the next ask arrives whole */
	a.has_report = 1;
	a.report = r;
	msg_encode_ask(&b, &a);
	assert_int_equal(msg_decode_ask(b.data, b.len, &da), 0);
	assert_int_equal(da.has_report, 1);
	assert_int_equal(da.report.grant, 77);
	assert_int_equal(da.report.http_status, 429);
	assert_int_equal(da.report.retry_after_ms, 2000);
	assert_int_equal(da.report.limit_requests, 3000);
	assert_int_equal(da.report.limit_tokens, -1);
	assert_int_equal(da.report.sent_at, 98765);
	assert_int_equal(msg_decode_ask(b.data, b.len - 1, &da), -1); /* a report cut short */
	b.data[2 + 16] = 2; /* neither with nor without a report */
	assert_int_equal(msg_decode_ask(b.data, b.len, &da), -1);
	msg_encode_report(&b, &r);
	assert_int_equal(msg_decode_report(b.data, b.len, &dr), 0);
	assert_int_equal(dr.grant, 77);
	assert_int_equal(dr.retry_after_ms, 2000);
	assert_int_equal(dr.remaining_requests, -1);
	assert_int_equal(dr.reset_requests_ms, 1500);
	assert_int_equal(dr.limit_requests, 3000);
	assert_int_equal(dr.sent_at, 98765);
	buf_free(&b);
}

static void durations_parse(void **state)
{
	(void)state;
	assert_int_equal(ratelimit_parse_duration("12ms", 4), 12);
	assert_int_equal(ratelimit_parse_duration("1.5s", 4), 1500);
	assert_int_equal(ratelimit_parse_duration("6m0s", 4), 360000);
	assert_int_equal(ratelimit_parse_duration("1h2m3s", 6), 3723000);
	assert_int_equal(ratelimit_parse_duration("7", 1), 7000);
	assert_int_equal(ratelimit_parse_duration("", 0), -1);
	assert_int_equal(ratelimit_parse_duration("s", 1), -1);
	assert_int_equal(ratelimit_parse_duration("3x", 2), -1);
}

static void headers_fill_the_info(void **state)
{
	(void)state;
	struct ratelimit_info r;
	ratelimit_clear(&r);
	const char *lines[] = { "Retry-After: 3\r\n", "x-ratelimit-remaining-requests: 0\r\n",
				"X-RateLimit-Remaining-Tokens: 1500\r\n", "x-ratelimit-reset-requests: 1.5s\r\n",
				"x-ratelimit-reset-tokens: 6m0s\r\n", "content-type: text/plain\r\n",
				"x-ratelimit-limit-requests: 3000\r\n" };
	for (size_t i = 0; i < sizeof lines / sizeof lines[0]; i++)
		ratelimit_header(&r, lines[i], strlen(lines[i]), 0);
	assert_int_equal(r.retry_after_ms, 3000);
	assert_int_equal(r.remaining_requests, 0);
	assert_int_equal(r.remaining_tokens, 1500);
	assert_int_equal(r.reset_requests_ms, 1500);
	assert_int_equal(r.reset_tokens_ms, 360000);
	assert_int_equal(r.limit_requests, 3000);
	assert_int_equal(r.limit_tokens, -1);
	/* an HTTP date 10 s after "now" */
	const char *date = "Retry-After: Wed, 21 Oct 2015 07:28:10 GMT\r\n";
	ratelimit_header(&r, date, strlen(date), 1445412480000LL);
	assert_int_equal(r.retry_after_ms, 10000);
}

/* found by fuzz_wire: Retry-After * 1000 overflowed */
static void huge_retry_after_is_capped(void **state)
{
	(void)state;
	struct ratelimit_info r;
	ratelimit_clear(&r);
	const char *h = "Retry-After: 999999999999999999\r\n";
	ratelimit_header(&r, h, strlen(h), 0);
	assert_int_equal(r.retry_after_ms, 86400000);
	h = "retry-after-ms: 999999999999999999\r\n";
	ratelimit_header(&r, h, strlen(h), 0);
	assert_int_equal(r.retry_after_ms, 86400000);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(result_round_trips),
		cmocka_unit_test(batch_with_lying_length_is_refused),
		cmocka_unit_test(ask_and_report_round_trip),
		cmocka_unit_test(durations_parse),
		cmocka_unit_test(headers_fill_the_info),
		cmocka_unit_test(huge_retry_after_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
