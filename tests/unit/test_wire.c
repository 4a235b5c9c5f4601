/* test_wire.c: the inter-process messages and the rate-limit header parser.
 *
 * The message tests are made from proto.h's field lists, as the codec is: every field of every
 * message gets a value of its own, goes through encode and decode, and is compared; a field
 * added to a list is covered without a change here. Then every type's frame, cut short,
 * lengthened, mislabelled or garbled, must be refused rather than read past. A few frames are
 * also spelled out byte by byte, so the layout itself (not only encoder against decoder) is
 * checked. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <stdio.h>
#include <string.h>

#include "../../common/proto.h"
#include "../../common/ratehdr.h"

/* ---- values: each field its own ---- */

#define MAX_STRINGS 16
#define MAX_KEYS 4

struct filler {
	uint32_t n; /* fields filled so far */
	char strings[MAX_STRINGS][48];
	int nstrings;
	unsigned char keys[MAX_KEYS][HASH_LEN];
	int nkeys;
};

/* Distinct values with every byte in use (the top bit set, so a sign or a lost upper half
 * shows). */
static uint32_t next_u32(struct filler *f)
{
	f->n++;
	return 0x80000000u | f->n << 16 | f->n;
}

static uint64_t next_u64(struct filler *f)
{
	f->n++;
	return 0x8000000000000000ull | (uint64_t)f->n << 40 | (uint64_t)f->n << 20 | f->n;
}

static int64_t next_i64(struct filler *f)
{
	f->n++;
	return -(int64_t)f->n * 1000003 - ((int64_t)f->n << 36);
}

/* A string found nowhere else in the frame, of a length of its own. */
static const char *next_string(struct filler *f, const char *name, size_t *len)
{
	assert_true(f->nstrings < MAX_STRINGS);
	char *s = f->strings[f->nstrings++];
	f->n++;
	*len = (size_t)snprintf(s, sizeof f->strings[0], "<%s %u%.*s>", name, f->n, (int)(f->n % 7),
				"xxxxxxx");
	return s;
}

static const unsigned char *next_key(struct filler *f)
{
	assert_true(f->nkeys < MAX_KEYS);
	unsigned char *k = f->keys[f->nkeys++];
	f->n++;
	for (int i = 0; i < HASH_LEN; i++)
		k[i] = (unsigned char)(f->n * 31 + (uint32_t)i * 7 + 1);
	return k;
}

#define FILL_LIMIT(name) m->name = next_i64(f);
static void fill_limits(struct filler *f, struct ratelimit_info *m)
{
	RATELIMIT_FIELDS(FILL_LIMIT)
}

#define PROTO_FILL_DECL(NAME, name) static void fill_##name(struct filler *f, struct msg_##name *m);
PROTO_MESSAGES(PROTO_FILL_DECL)

#define FILL(kind, name) FILL_##kind(name)
#define FILL_u32(name) m->name = next_u32(f);
#define FILL_u64(name) m->name = next_u64(f);
#define FILL_i64(name) m->name = next_i64(f);
#define FILL_status(name) m->name = 1 + ++f->n % RES_MAX; /* 1..RES_MAX: not the zero default */
#define FILL_verdict(name) m->name = GRANT_WAIT;
#define FILL_bytes(name) m->name = next_string(f, #name, &m->name##_len);
#define FILL_key(name) m->name = next_key(f);
#define FILL_limits(name) fill_limits(f, &m->name);
#define FILL_report(name) m->has_##name = 1, fill_report(f, &m->name);

/* ---- comparing: every field, named when it differs ---- */

static void same_int(const char *field, uint64_t got, uint64_t sent)
{
	if (got != sent)
		fail_msg("%s: decoded %#llx, sent %#llx", field, (unsigned long long)got,
			 (unsigned long long)sent);
}

static void same_bytes(const char *field, const void *got, size_t got_len, const void *sent,
		       size_t sent_len)
{
	same_int(field, got_len, sent_len);
	if (memcmp(got, sent, sent_len))
		fail_msg("%s: decoded bytes differ from those sent", field);
}

#define CMP_LIMIT(name) same_int("limits." #name, (uint64_t)m->name, (uint64_t)e->name);
static void cmp_limits(const struct ratelimit_info *m, const struct ratelimit_info *e)
{
	RATELIMIT_FIELDS(CMP_LIMIT)
}

#define PROTO_CMP_DECL(NAME, name)                                                     \
	static void cmp_##name(const struct msg_##name *m, const struct msg_##name *e);
PROTO_MESSAGES(PROTO_CMP_DECL)

#define CMP(kind, name) CMP_##kind(name)
#define CMP_INT(name) same_int(#name, (uint64_t)m->name, (uint64_t)e->name);
#define CMP_u32(name) CMP_INT(name)
#define CMP_u64(name) CMP_INT(name)
#define CMP_i64(name) CMP_INT(name)
#define CMP_status(name) CMP_INT(name)
#define CMP_verdict(name) CMP_INT(name)
#define CMP_bytes(name) same_bytes(#name, m->name, m->name##_len, e->name, e->name##_len);
#define CMP_key(name) same_bytes(#name, m->name, HASH_LEN, e->name, HASH_LEN);
#define CMP_limits(name) cmp_limits(&m->name, &e->name);
#define CMP_report(name)                                                               \
	CMP_INT(has_##name)                                                            \
	cmp_report(&m->name, &e->name);

/* ---- one row per message: its fill, compare and codec behind void pointers ---- */

struct codec {
	const char *name;
	int type;
	size_t size;
	void (*fill)(struct filler *, void *);
	void (*cmp)(const void *, const void *);
	void (*encode)(buf *, const void *);
	int (*decode)(const void *, size_t, void *);
};

#define PROTO_TEST_FUNCS(NAME, name)                                                   \
	static void fill_##name(struct filler *f, struct msg_##name *m)                \
	{                                                                              \
		MSG_##NAME##_FIELDS(FILL)                                              \
	}                                                                              \
	static void cmp_##name(const struct msg_##name *m, const struct msg_##name *e) \
	{                                                                              \
		MSG_##NAME##_FIELDS(CMP)                                               \
	}                                                                              \
	static void fill_any_##name(struct filler *f, void *m) { fill_##name(f, m); } \
	static void cmp_any_##name(const void *m, const void *e) { cmp_##name(m, e); } \
	static void encode_any_##name(buf *b, const void *m) { msg_encode_##name(b, m); } \
	static int decode_any_##name(const void *frame, size_t len, void *m)           \
	{                                                                              \
		return msg_decode_##name(frame, len, m);                               \
	}
PROTO_MESSAGES(PROTO_TEST_FUNCS)

#define PROTO_CODEC_ROW(NAME, name)                                                    \
	{ #name, MSG_##NAME, sizeof(struct msg_##name), fill_any_##name, cmp_any_##name, \
	  encode_any_##name, decode_any_##name },
static const struct codec codecs[] = { PROTO_MESSAGES(PROTO_CODEC_ROW) };
#define NCODECS (sizeof codecs / sizeof codecs[0])

/* A filled message of codec c in *m (room for any message), and its frame in b. */
union any_msg {
#define PROTO_UNION_MEMBER(NAME, name) struct msg_##name name;
	PROTO_MESSAGES(PROTO_UNION_MEMBER)
};

static void make_frame(const struct codec *c, struct filler *f, union any_msg *m, buf *b)
{
	memset(f, 0, sizeof *f);
	memset(m, 0, sizeof *m);
	c->fill(f, m);
	c->encode(b, m);
}

/* Runs check on every message type: its message filled, and its frame. */
typedef void check_fn(const struct codec *c, const struct filler *f, const union any_msg *m, buf *b);
static void for_every_message(check_fn *check)
{
	assert_int_equal(NCODECS, MSG_TYPES - 1);
	buf b;
	buf_init(&b);
	for (size_t i = 0; i < NCODECS; i++) {
		struct filler f;
		union any_msg m;
		assert_int_equal(codecs[i].type, (int)i + 1);
		make_frame(&codecs[i], &f, &m, &b);
		check(&codecs[i], &f, &m, &b);
	}
	buf_free(&b);
}

/* m encodes to exactly the bytes of frame. */
static void encodes_to(const struct codec *c, const void *m, const buf *frame)
{
	buf again;
	buf_init(&again);
	c->encode(&again, m);
	assert_int_equal(again.len, frame->len);
	assert_memory_equal(again.data, frame->data, frame->len);
	buf_free(&again);
}

/* ---- the tests ---- */

static void round_trip(const struct codec *c, const struct filler *f, const union any_msg *m, buf *b)
{
	(void)f;
	assert_int_equal(msg_type(b->data, b->len), c->type);
	assert_int_equal((unsigned char)b->data[0], PROTO_VERSION);
	union any_msg got;
	memset(&got, 0xa5, sizeof got); /* a field the decoder skips keeps this, not 0 */
	if (c->decode(b->data, b->len, &got))
		fail_msg("%s: its own frame is refused", c->name);
	c->cmp(&got, m);
	encodes_to(c, &got, b); /* and the decoded message encodes to the same bytes */
}

static void every_field_of_every_message_round_trips(void **state)
{
	(void)state;
	for_every_message(round_trip);
}

/* An ask without a report carries no report's bytes, and decodes with a zeroed one. */
static void ask_without_report_round_trips(void **state)
{
	(void)state;
	struct filler f;
	union any_msg sent, got;
	buf with, without;
	buf_init(&with);
	buf_init(&without);
	make_frame(&codecs[MSG_ASK - 1], &f, &sent, &with);
	sent.ask.has_report = 0;
	msg_encode_ask(&without, &sent.ask);
	memset(&got, 0xa5, sizeof got);
	assert_int_equal(msg_decode_ask(without.data, without.len, &got.ask), 0);
	assert_int_equal(got.ask.has_report, 0);
	assert_int_equal(got.ask.slot, sent.ask.slot);
	assert_int_equal(got.ask.waited_ms, sent.ask.waited_ms);
	assert_int_equal(got.ask.model_len, sent.ask.model_len);
	assert_memory_equal(got.ask.model, sent.ask.model, sent.ask.model_len);
	struct msg_report zero;
	memset(&zero, 0, sizeof zero);
	assert_memory_equal(&got.ask.report, &zero, sizeof zero);
	assert_true(without.len < with.len);
	/* a flag of 1 with the report missing is short; 2 is neither */
	without.data[without.len - 4] = 1;
	assert_int_equal(msg_decode_ask(without.data, without.len, &got.ask), -1);
	without.data[without.len - 4] = 2;
	assert_int_equal(msg_decode_ask(without.data, without.len, &got.ask), -1);
	buf_free(&with);
	buf_free(&without);
}

static void refuse_misshapen(const struct codec *c, const struct filler *f, const union any_msg *m,
			     buf *b)
{
	(void)f, (void)m;
	union any_msg d;
	for (size_t n = 0; n < b->len; n++)
		if (c->decode(b->data, n, &d) != -1)
			fail_msg("%s cut to %zu of %zu bytes is accepted", c->name, n, b->len);
	for (size_t other = 0; other < NCODECS; other++)
		if (codecs[other].type != c->type && codecs[other].decode(b->data, b->len, &d) != -1)
			fail_msg("a %s frame is accepted as %s", c->name, codecs[other].name);
	buf_putc(b, 0);
	if (c->decode(b->data, b->len, &d) != -1)
		fail_msg("%s with a trailing byte is accepted", c->name);
	b->len--;
	b->data[0] = PROTO_VERSION - 1; /* another protocol version */
	assert_int_equal(msg_type(b->data, b->len), -1);
	if (c->decode(b->data, b->len, &d) != -1)
		fail_msg("%s of version %d is accepted", c->name, PROTO_VERSION - 1);
	b->data[0] = PROTO_VERSION;
	b->data[1] = (char)MSG_TYPES; /* no such type */
	assert_int_equal(msg_type(b->data, b->len), -1);
	b->data[1] = 0;
	assert_int_equal(msg_type(b->data, b->len), -1);
}

static void short_long_and_mislabelled_frames_are_refused(void **state)
{
	(void)state;
	for_every_message(refuse_misshapen);
}

/* How many byte strings the messages hold, counted from the lists (a report inside an ask
 * holds the report's). */
#define COUNT_BYTES(kind, name)                                                        \
	n += !strcmp(#kind, "bytes") + (!strcmp(#kind, "report") ? in_report : 0);
#define COUNT_BYTES_MSG(NAME, name) MSG_##NAME##_FIELDS(COUNT_BYTES)
static int bytes_fields(void)
{
	int n = 0, in_report = 0;
	MSG_REPORT_FIELDS(COUNT_BYTES)
	in_report = n;
	n = 0;
	PROTO_MESSAGES(COUNT_BYTES_MSG)
	return n;
}
static int lengths_checked;

/* Every byte string's length is checked against what is left of the frame: one past its end,
 * and lengths with the top bit set, are refused. */
static void refuse_lying_lengths(const struct codec *c, const struct filler *f,
				 const union any_msg *m, buf *b)
{
	union any_msg d;
	for (int s = 0; s < f->nstrings; s++) {
		size_t len = strlen(f->strings[s]);
		char *at = memmem(b->data, b->len, f->strings[s], len);
		assert_non_null(at);
		size_t lenpos = (size_t)(at - b->data) - 4;
		unsigned char *p = (unsigned char *)b->data + lenpos;
		assert_int_equal(p[0] | p[1] << 8 | p[2] << 16 | (uint32_t)p[3] << 24, len);
		uint32_t lies[] = { (uint32_t)(b->len - lenpos - 4 + 1), UINT32_MAX, 0x80000000u };
		for (size_t l = 0; l < sizeof lies / sizeof lies[0]; l++) {
			for (int k = 0; k < 4; k++)
				p[k] = (unsigned char)(lies[l] >> (8 * k));
			if (c->decode(b->data, b->len, &d) != -1)
				fail_msg("%s with a length of %u for %s is accepted", c->name, lies[l],
					 f->strings[s]);
		}
		c->encode(b, m);
		lengths_checked++;
	}
}

static void lying_lengths_are_refused(void **state)
{
	(void)state;
	lengths_checked = 0;
	for_every_message(refuse_lying_lengths);
	assert_int_equal(lengths_checked, bytes_fields());
}

/* Values a field's kind does not allow are refused. */
static void unknown_status_and_verdict_are_refused(void **state)
{
	(void)state;
	buf b;
	buf_init(&b);
	struct filler f;
	union any_msg m, d;
	make_frame(&codecs[MSG_RESULT - 1], &f, &m, &b);
	for (uint32_t s = RES_OK; s <= RES_MAX; s++) {
		m.result.status = s;
		msg_encode_result(&b, &m.result);
		assert_int_equal(msg_decode_result(b.data, b.len, &d.result), 0);
	}
	m.result.status = RES_MAX + 1;
	msg_encode_result(&b, &m.result);
	assert_int_equal(msg_decode_result(b.data, b.len, &d.result), -1);
	make_frame(&codecs[MSG_GRANT - 1], &f, &m, &b);
	m.grant.verdict = GRANT_WAIT + 1;
	msg_encode_grant(&b, &m.grant);
	assert_int_equal(msg_decode_grant(b.data, b.len, &d.grant), -1);
	buf_free(&b);
}

/* Any byte of any frame garbled: refused, or read as a message that encodes to exactly the
 * garbled bytes (nothing read past the frame or skipped; the sanitizer build watches reads). */
static void refuse_or_read_whole(const struct codec *c, const struct filler *f,
				 const union any_msg *m, buf *b)
{
	(void)f, (void)m;
	union any_msg d;
	for (size_t pos = 0; pos < b->len; pos++) {
		unsigned char was = (unsigned char)b->data[pos];
		const unsigned char to[] = { 0, 0xff, (unsigned char)(was ^ 0x80), 2 };
		for (size_t k = 0; k < sizeof to; k++) {
			b->data[pos] = (char)to[k];
			if (c->decode(b->data, b->len, &d) == 0)
				encodes_to(c, &d, b);
		}
		b->data[pos] = (char)was;
	}
}

static void garbled_frames_are_refused_or_read_whole(void **state)
{
	(void)state;
	for_every_message(refuse_or_read_whole);
}

/* The layout spelled out: version, type, little-endian integers, length-prefixed strings,
 * keys as they are. */
static void frames_are_laid_out_as_documented(void **state)
{
	(void)state;
	buf b;
	buf_init(&b);
	msg_encode_hello(&b, &(struct msg_hello){ .slot = 0x01020304, .pid = 0xa0b0c0d0 });
	const unsigned char hello[] = { PROTO_VERSION, MSG_HELLO, 4, 3, 2, 1, 0xd0, 0xc0, 0xb0, 0xa0 };
	assert_int_equal(b.len, sizeof hello);
	assert_memory_equal(b.data, hello, sizeof hello);

	msg_encode_invalid(&b, &(struct msg_invalid){ .batch = 7, .reason = "ab", .reason_len = 2,
						       .content = "", .content_len = 0 });
	const unsigned char inv[] = { PROTO_VERSION, MSG_INVALID, 7, 0, 0, 0, 2, 0, 0, 0, 'a', 'b',
				      0, 0, 0, 0 };
	assert_int_equal(b.len, sizeof inv);
	assert_memory_equal(b.data, inv, sizeof inv);

	msg_encode_grant(&b, &(struct msg_grant){ .verdict = GRANT_WAIT, .seq = 0x1122334455667788ull });
	const unsigned char grant[] = { PROTO_VERSION, MSG_GRANT, 1, 0, 0, 0,
					0x88, 0x77, 0x66, 0x55, 0x44, 0x33, 0x22, 0x11 };
	assert_int_equal(b.len, sizeof grant);
	assert_memory_equal(b.data, grant, sizeof grant);

	/* a batch: six u32s, the key's 32 bytes, the session, two strings */
	unsigned char key[HASH_LEN];
	for (int i = 0; i < HASH_LEN; i++)
		key[i] = (unsigned char)(0xe0 + i);
	msg_encode_batch(&b, &(struct msg_batch){ .batch = 1, .seq = 2, .acked = 3, .est_tokens = 4,
						   .attempt = 5, .stage = 6, .key = key,
						   .session = 0x0102030405060708ull,
						   .chunk_ids = "c", .chunk_ids_len = 1,
						   .body = "{}", .body_len = 2 });
	assert_int_equal(b.len, 2 + 6 * 4 + HASH_LEN + 8 + 4 + 1 + 4 + 2);
	assert_memory_equal(b.data + 2 + 24, key, HASH_LEN);
	const unsigned char session[] = { 8, 7, 6, 5, 4, 3, 2, 1 };
	assert_memory_equal(b.data + 2 + 24 + HASH_LEN, session, 8);
	/* a message built without a key says so with zeros, which no request body hashes to */
	msg_encode_batch(&b, &(struct msg_batch){ .batch = 1 });
	unsigned char zero[HASH_LEN] = { 0 };
	assert_memory_equal(b.data + 2 + 24, zero, HASH_LEN);
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
		cmocka_unit_test(every_field_of_every_message_round_trips),
		cmocka_unit_test(ask_without_report_round_trips),
		cmocka_unit_test(short_long_and_mislabelled_frames_are_refused),
		cmocka_unit_test(lying_lengths_are_refused),
		cmocka_unit_test(unknown_status_and_verdict_are_refused),
		cmocka_unit_test(garbled_frames_are_refused_or_read_whole),
		cmocka_unit_test(frames_are_laid_out_as_documented),
		cmocka_unit_test(durations_parse),
		cmocka_unit_test(headers_fill_the_info),
		cmocka_unit_test(huge_retry_after_is_capped),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
