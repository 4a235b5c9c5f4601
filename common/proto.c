/* proto.c: encoding and bounds-checked decoding of the inter-process messages. */
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

static uint32_t get_u32(struct reader *r)
{
	if (r->left < 4) {
		r->bad = 1;
		return 0;
	}
	uint32_t v = (uint32_t)r->p[0] | (uint32_t)r->p[1] << 8 | (uint32_t)r->p[2] << 16 |
		     (uint32_t)r->p[3] << 24;
	r->p += 4;
	r->left -= 4;
	return v;
}

static uint64_t get_u64(struct reader *r)
{
	uint64_t lo = get_u32(r);
	uint64_t hi = get_u32(r);
	return lo | hi << 32;
}

static const char *get_bytes(struct reader *r, size_t *n)
{
	uint32_t len = get_u32(r);
	if (r->bad || len > r->left) {
		r->bad = 1;
		*n = 0;
		return "";
	}
	const char *s = (const char *)r->p;
	r->p += len;
	r->left -= len;
	*n = len;
	return s;
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
	if (len < 2 || p[0] != PROTO_VERSION || p[1] < MSG_HELLO || p[1] > MSG_INVALID)
		return -1;
	return p[1];
}

void msg_encode_hello(buf *b, const struct msg_hello *m)
{
	put_head(b, MSG_HELLO);
	put_u32(b, m->slot);
	put_u32(b, m->pid);
}

int msg_decode_hello(const void *frame, size_t len, struct msg_hello *m)
{
	struct reader r;
	start(&r, frame, len, MSG_HELLO);
	m->slot = get_u32(&r);
	m->pid = get_u32(&r);
	return finish(&r);
}

void msg_encode_batch(buf *b, const struct msg_batch *m)
{
	put_head(b, MSG_BATCH);
	put_u32(b, m->batch);
	put_u32(b, m->seq);
	put_u32(b, m->acked);
	put_u32(b, m->est_tokens);
	put_u32(b, m->attempt);
	put_bytes(b, m->chunk_ids, m->chunk_ids_len);
	put_bytes(b, m->body, m->body_len);
}

int msg_decode_batch(const void *frame, size_t len, struct msg_batch *m)
{
	struct reader r;
	start(&r, frame, len, MSG_BATCH);
	m->batch = get_u32(&r);
	m->seq = get_u32(&r);
	m->acked = get_u32(&r);
	m->est_tokens = get_u32(&r);
	m->attempt = get_u32(&r);
	m->chunk_ids = get_bytes(&r, &m->chunk_ids_len);
	m->body = get_bytes(&r, &m->body_len);
	return finish(&r);
}

void msg_encode_result(buf *b, const struct msg_result *m)
{
	put_head(b, MSG_RESULT);
	put_u32(b, m->slot);
	put_u32(b, m->batch);
	put_u32(b, m->seq);
	put_u32(b, m->status);
	put_u32(b, m->http_status);
	put_u32(b, m->requests_sent);
	put_u32(b, m->requests_ok);
	put_u32(b, m->retries);
	put_u32(b, m->http_429);
	put_u32(b, m->errors);
	put_u64(b, m->prompt_tokens);
	put_u64(b, m->completion_tokens);
	put_u64(b, m->latency_us);
	put_u32(b, m->err_server);
	put_u32(b, m->err_transport);
	put_u32(b, m->err_invalid);
	put_u32(b, m->attempt);
	put_u32(b, m->retry_in_ms);
	put_bytes(b, m->payload, m->payload_len);
}

int msg_decode_result(const void *frame, size_t len, struct msg_result *m)
{
	struct reader r;
	start(&r, frame, len, MSG_RESULT);
	m->slot = get_u32(&r);
	m->batch = get_u32(&r);
	m->seq = get_u32(&r);
	m->status = get_u32(&r);
	m->http_status = get_u32(&r);
	m->requests_sent = get_u32(&r);
	m->requests_ok = get_u32(&r);
	m->retries = get_u32(&r);
	m->http_429 = get_u32(&r);
	m->errors = get_u32(&r);
	m->prompt_tokens = get_u64(&r);
	m->completion_tokens = get_u64(&r);
	m->latency_us = get_u64(&r);
	m->err_server = get_u32(&r);
	m->err_transport = get_u32(&r);
	m->err_invalid = get_u32(&r);
	m->attempt = get_u32(&r);
	m->retry_in_ms = get_u32(&r);
	m->payload = get_bytes(&r, &m->payload_len);
	if (m->status > RES_RETRY)
		r.bad = 1;
	return finish(&r);
}

void msg_encode_quit(buf *b, uint32_t acked)
{
	put_head(b, MSG_QUIT);
	put_u32(b, acked);
}

int msg_decode_quit(const void *frame, size_t len, uint32_t *acked)
{
	struct reader r;
	start(&r, frame, len, MSG_QUIT);
	*acked = get_u32(&r);
	return finish(&r);
}

static void put_report(buf *b, const struct msg_report *m)
{
	put_u64(b, m->grant);
	put_u32(b, m->slot);
	put_u32(b, m->est_tokens);
	put_u32(b, m->http_status);
	put_u64(b, m->used_tokens);
	put_u64(b, m->prompt_tokens);
	put_u64(b, (uint64_t)m->retry_after_ms);
	put_u64(b, (uint64_t)m->remaining_requests);
	put_u64(b, (uint64_t)m->remaining_tokens);
	put_u64(b, (uint64_t)m->reset_requests_ms);
	put_u64(b, (uint64_t)m->reset_tokens_ms);
	put_u64(b, (uint64_t)m->limit_requests);
	put_u64(b, (uint64_t)m->limit_tokens);
	put_u64(b, (uint64_t)m->sent_at);
}

static void get_report(struct reader *r, struct msg_report *m)
{
	m->grant = get_u64(r);
	m->slot = get_u32(r);
	m->est_tokens = get_u32(r);
	m->http_status = get_u32(r);
	m->used_tokens = get_u64(r);
	m->prompt_tokens = get_u64(r);
	m->retry_after_ms = (int64_t)get_u64(r);
	m->remaining_requests = (int64_t)get_u64(r);
	m->remaining_tokens = (int64_t)get_u64(r);
	m->reset_requests_ms = (int64_t)get_u64(r);
	m->reset_tokens_ms = (int64_t)get_u64(r);
	m->limit_requests = (int64_t)get_u64(r);
	m->limit_tokens = (int64_t)get_u64(r);
	m->sent_at = (int64_t)get_u64(r);
}

void msg_encode_ask(buf *b, const struct msg_ask *m)
{
	put_head(b, MSG_ASK);
	put_u32(b, m->slot);
	put_u32(b, m->est_tokens);
	put_u64(b, (uint64_t)m->queued_since);
	put_u32(b, m->has_report ? 1 : 0);
	if (m->has_report)
		put_report(b, &m->report);
}

int msg_decode_ask(const void *frame, size_t len, struct msg_ask *m)
{
	struct reader r;
	start(&r, frame, len, MSG_ASK);
	m->slot = get_u32(&r);
	m->est_tokens = get_u32(&r);
	m->queued_since = (int64_t)get_u64(&r);
	m->has_report = get_u32(&r);
	if (m->has_report > 1)
		r.bad = 1;
	memset(&m->report, 0, sizeof m->report);
	if (m->has_report == 1)
		get_report(&r, &m->report);
	return finish(&r);
}

void msg_encode_grant(buf *b, const struct msg_grant *m)
{
	put_head(b, MSG_GRANT);
	put_u32(b, m->verdict);
	put_u64(b, m->seq);
}

int msg_decode_grant(const void *frame, size_t len, struct msg_grant *m)
{
	struct reader r;
	start(&r, frame, len, MSG_GRANT);
	m->verdict = get_u32(&r);
	m->seq = get_u64(&r);
	return finish(&r);
}

void msg_encode_report(buf *b, const struct msg_report *m)
{
	put_head(b, MSG_REPORT);
	put_report(b, m);
}

int msg_decode_report(const void *frame, size_t len, struct msg_report *m)
{
	struct reader r;
	start(&r, frame, len, MSG_REPORT);
	get_report(&r, m);
	return finish(&r);
}

void msg_encode_invalid(buf *b, const struct msg_invalid *m)
{
	put_head(b, MSG_INVALID);
	put_u32(b, m->batch);
	put_bytes(b, m->reason, m->reason_len);
	put_bytes(b, m->content, m->content_len);
}

int msg_decode_invalid(const void *frame, size_t len, struct msg_invalid *m)
{
	struct reader r;
	start(&r, frame, len, MSG_INVALID);
	m->batch = get_u32(&r);
	m->reason = get_bytes(&r, &m->reason_len);
	m->content = get_bytes(&r, &m->content_len);
	return finish(&r);
}
