/* proto.c: encoding and bounds-checked decoding of the inter-process messages, made from the
 * field lists of proto.h: PUT_<kind> writes a field, GET_<kind> reads it back. */
#include "proto.h"

#include <string.h>

static void put_u32(buf *b, uint32_t v)
{
	unsigned char p[4] = { (unsigned char)v, (unsigned char)(v >> 8), (unsigned char)(v >> 16),
			       (unsigned char)(v >> 24) };
	buf_put(b, p, 4);
}

static void put_u64(buf *b, uint64_t v)
{
	put_u32(b, (uint32_t)v);
	put_u32(b, (uint32_t)(v >> 32));
}

static void put_bytes(buf *b, const char *s, size_t n)
{
	put_u32(b, (uint32_t)n);
	buf_put(b, s, n);
}

static const unsigned char no_key[HASH_LEN];

static void put_key(buf *b, const unsigned char *key)
{
	buf_put(b, key ? key : no_key, HASH_LEN);
}

static void put_head(buf *b, int type)
{
	buf_reset(b);
	buf_putc(b, PROTO_VERSION);
	buf_putc(b, (char)type);
}

struct reader {
	const unsigned char *p;
	size_t left;
	int bad;
};

/* n bytes of the frame, or NULL (and the frame marked bad) when fewer are left. */
static const unsigned char *get_raw(struct reader *r, size_t n)
{
	if (r->bad || n > r->left) {
		r->bad = 1;
		return NULL;
	}
	const unsigned char *p = r->p;
	r->p += n;
	r->left -= n;
	return p;
}

static uint32_t get_u32(struct reader *r)
{
	const unsigned char *p = get_raw(r, 4);
	if (!p)
		return 0;
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);
	uint64_t hi = get_u32(r);
	return lo | hi << 32;
}

/* A u32 that must be at most max. */
static uint32_t get_upto(struct reader *r, uint32_t max)
{
	uint32_t v = get_u32(r);
	if (v > max)
		r->bad = 1;
	return v;
}

static const char *get_bytes(struct reader *r, size_t *n)
{
	uint32_t len = get_u32(r);
	const char *s = (const char *)get_raw(r, len);
	*n = s ? len : 0;
	return s ? s : "";
}

static const unsigned char *get_key(struct reader *r)
{
	const unsigned char *k = get_raw(r, HASH_LEN);
	return k ? k : no_key;
}

/* Starts reading a frame that must be of the given type. */
static void start(struct reader *r, const void *frame, size_t len, int type)
{
	r->p = frame;
	r->left = len;
	r->bad = msg_type(frame, len) != type;
	if (!r->bad) {
		r->p += 2;
		r->left -= 2;
	}
}

/* A message must be consumed exactly: trailing bytes mean a different layout. */
static int finish(const struct reader *r)
{
	return r->bad || r->left != 0 ? -1 : 0;
}

int msg_type(const void *frame, size_t len)
{
	const unsigned char *p = frame;
	if (len < 2 || p[0] != PROTO_VERSION || p[1] <= MSG_NONE || p[1] >= MSG_TYPES)
		return -1;
	return p[1];
}

/* the fields of a ratelimit_info, all i64, in their list's order */
#define PUT_LIMIT(name) put_u64(b, (uint64_t)m->name);
#define GET_LIMIT(name) m->name = (int64_t)get_u64(r);

static void put_limits(buf *b, const struct ratelimit_info *m)
{
	RATELIMIT_FIELDS(PUT_LIMIT)
}

static void get_limits(struct reader *r, struct ratelimit_info *m)
{
	RATELIMIT_FIELDS(GET_LIMIT)
}

/* put_NAME/get_NAME write and read a message's fields (no header): REPORT's are also ASK's */
#define PROTO_FIELDS_DECL(NAME, name)                                                  \
	static void put_##name(buf *b, const struct msg_##name *m);                    \
	static void get_##name(struct reader *r, struct msg_##name *m);
PROTO_MESSAGES(PROTO_FIELDS_DECL)

#define PUT(kind, name) PUT_##kind(name)
#define PUT_u32(name) put_u32(b, m->name);
#define PUT_u64(name) put_u64(b, m->name);
#define PUT_i64(name) put_u64(b, (uint64_t)m->name);
#define PUT_status(name) put_u32(b, m->name);
#define PUT_verdict(name) put_u32(b, m->name);
#define PUT_bytes(name) put_bytes(b, m->name, m->name##_len);
#define PUT_key(name) put_key(b, m->name);
#define PUT_limits(name) put_limits(b, &m->name);
#define PUT_report(name)                                                               \
	put_u32(b, m->has_##name ? 1 : 0);                                             \
	if (m->has_##name)                                                             \
		put_report(b, &m->name);

#define GET(kind, name) GET_##kind(name)
#define GET_u32(name) m->name = get_u32(r);
#define GET_u64(name) m->name = get_u64(r);
#define GET_i64(name) m->name = (int64_t)get_u64(r);
#define GET_status(name) m->name = get_upto(r, RES_MAX);
#define GET_verdict(name) m->name = get_upto(r, GRANT_WAIT);
#define GET_bytes(name) m->name = get_bytes(r, &m->name##_len);
#define GET_key(name) m->name = get_key(r);
#define GET_limits(name) get_limits(r, &m->name);
#define GET_report(name)                                                               \
	m->has_##name = get_upto(r, 1);                                                \
	memset(&m->name, 0, sizeof m->name);                                           \
	if (m->has_##name)                                                             \
		get_report(r, &m->name);

#define PROTO_CODEC(NAME, name)                                                        \
	static void put_##name(buf *b, const struct msg_##name *m)                     \
	{                                                                              \
		MSG_##NAME##_FIELDS(PUT)                                               \
	}                                                                              \
	static void get_##name(struct reader *r, struct msg_##name *m)                 \
	{                                                                              \
		MSG_##NAME##_FIELDS(GET)                                               \
	}                                                                              \
	void msg_encode_##name(buf *b, const struct msg_##name *m)                     \
	{                                                                              \
		put_head(b, MSG_##NAME);                                               \
		put_##name(b, m);                                                      \
	}                                                                              \
	int msg_decode_##name(const void *frame, size_t len, struct msg_##name *m)     \
	{                                                                              \
		struct reader r;                                                       \
		start(&r, frame, len, MSG_##NAME);                                     \
		get_##name(&r, m);                                                     \
		return finish(&r);                                                     \
	}
PROTO_MESSAGES(PROTO_CODEC)
