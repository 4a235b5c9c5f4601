/* proto.h: every message between kgsup's processes, in one place.
 *
 * Wire format: byte 0 is PROTO_VERSION, byte 1 the message type, then the fields of that
 * type in order: integers little-endian of fixed width, byte strings as a u32 length then
 * the bytes. Decoding checks every length against the frame, so a short, long or garbled
 * frame is rejected, never read past.
 *
 *   worker  -> supervisor (PUSH -> PULL "results")   HELLO, RESULT, INVALID
 *   supervisor -> worker  (PUSH per slot -> PULL)    BATCH, QUIT
 *   worker  -> broker     (REQ -> ROUTER "broker")   ASK (with the last REPORT, mostly)
 *   broker  -> worker                                GRANT
 *   worker  -> broker     (PUSH -> PULL "reports")   REPORT (when no ask follows at once;
 *                                                    nothing waits for an answer)
 */
#ifndef KGSUP_PROTO_H
#define KGSUP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

#define PROTO_VERSION 6

enum msg_type {
	MSG_HELLO = 1,
	MSG_BATCH = 2,
	MSG_RESULT = 3,
	MSG_QUIT = 4,
	MSG_ASK = 5,
	MSG_GRANT = 6,
	MSG_REPORT = 7,
	MSG_INVALID = 8,
};

/* A worker announces itself after it connected; the supervisor then treats the slot as idle. */
struct msg_hello {
	uint32_t slot;
	uint32_t pid;
};

/* One batch = one API call. seq tells apart two dispatches of the same batch. A worker may
 * get its next batch while it is still busy with one; acked says up to which seq (of the
 * batches it was sent) the supervisor has committed its results, so it can forget them. */
struct msg_batch {
	uint32_t batch;
	uint32_t seq;
	uint32_t acked;
	uint32_t est_tokens;   /* prompt bytes / 4 + max_tokens */
	uint32_t attempt;      /* requests already made for it this session (a deferred retry) */
	const char *chunk_ids; /* the batch's chunk ids, '\n'-separated */
	size_t chunk_ids_len;
	const char *body; /* the complete JSON request body */
	size_t body_len;
};

enum result_status {
	RES_OK = 0,     /* payload: the validated, normalised answer JSON */
	RES_FAILED = 1, /* payload: the last error; the batch failed for good */
	RES_ABORT = 2,  /* payload: why; the API refused us and the run must stop */
	RES_GAVEUP = 3, /* payload: why; the worker is shutting down, batch not done */
	RES_SPLIT = 4,  /* payload: why; the answer was cut off: split the batch in two */
	RES_RETRY = 5,  /* payload: the error; try again in retry_in_ms (on any worker) */
};

/* What a worker did for one batch: its outcome and the requests it took. */
struct msg_result {
	uint32_t slot;
	uint32_t batch;
	uint32_t seq;
	uint32_t status;
	uint32_t http_status;
	uint32_t requests_sent;
	uint32_t requests_ok;
	uint32_t retries;
	uint32_t http_429;
	uint32_t errors;
	uint64_t prompt_tokens;
	uint64_t completion_tokens;
	uint64_t latency_us; /* of the successful call */
	uint32_t err_server;    /* of errors: 5xx, 408, 409 */
	uint32_t err_transport; /* of errors: timeouts, connections, TLS, oversized answers */
	uint32_t err_invalid;   /* of errors: answers that were not the expected JSON */
	uint32_t attempt;     /* RES_RETRY: requests made for the batch so far this session */
	uint32_t retry_in_ms; /* RES_RETRY: its backoff */
	const char *payload;
	size_t payload_len;
};

enum grant_verdict { GRANT_GO = 0, GRANT_WAIT = 1 };

struct msg_grant {
	uint32_t verdict;
	uint64_t seq; /* GO: the grant's number, echoed by the REPORT of its request */
};

/* What one request cost and what the provider said; -1 means "not given". */
struct msg_report {
	uint64_t grant; /* the number of the grant this request went out under */
	uint32_t slot;
	uint32_t est_tokens;
	uint32_t http_status;
	uint64_t used_tokens;   /* prompt + completion, from usage */
	uint64_t prompt_tokens; /* the part the estimate guessed (bytes / 4) */
	int64_t retry_after_ms;
	int64_t remaining_requests;
	int64_t remaining_tokens;
	int64_t reset_requests_ms;
	int64_t reset_tokens_ms;
	int64_t limit_requests; /* per minute, as the provider announces it */
	int64_t limit_tokens;
	int64_t sent_at; /* when the request went out (CLOCK_MONOTONIC ms), 0: it never did */
};

/* "May I send a request of about est_tokens?" queued_since keeps the worker's place in the
 * broker's queue across re-asks and broker restarts (CLOCK_MONOTONIC ms). The report of the
 * worker's previous request rides on its next ask (has_report), which saves a message and
 * two wake-ups per request; a worker with no next ask sends it alone on its way to idle. Only
 * the first send of an ask carries it, so a re-ask never counts a report twice. */
struct msg_ask {
	uint32_t slot;
	uint32_t est_tokens;
	int64_t queued_since;
	uint32_t has_report; /* 0 or 1 */
	struct msg_report report;
};

/* An answer that failed validation (it is retried): kept apart for inspection, never served. */
struct msg_invalid {
	uint32_t batch;
	const char *reason;
	size_t reason_len;
	const char *content;
	size_t content_len;
};

void msg_encode_hello(buf *b, const struct msg_hello *m);
void msg_encode_batch(buf *b, const struct msg_batch *m);
void msg_encode_result(buf *b, const struct msg_result *m);
/* QUIT: finish the batches sent, then exit; acked as in msg_batch. */
void msg_encode_quit(buf *b, uint32_t acked);
void msg_encode_ask(buf *b, const struct msg_ask *m);
void msg_encode_grant(buf *b, const struct msg_grant *m);
void msg_encode_report(buf *b, const struct msg_report *m);
void msg_encode_invalid(buf *b, const struct msg_invalid *m);

/* Returns the message type, or -1 when the frame is not a message of this version. */
int msg_type(const void *frame, size_t len);
/* Each returns 0, or -1 if the frame is malformed. Strings point into the frame. */
int msg_decode_hello(const void *frame, size_t len, struct msg_hello *m);
int msg_decode_batch(const void *frame, size_t len, struct msg_batch *m);
int msg_decode_quit(const void *frame, size_t len, uint32_t *acked);
int msg_decode_result(const void *frame, size_t len, struct msg_result *m);
int msg_decode_ask(const void *frame, size_t len, struct msg_ask *m);
int msg_decode_grant(const void *frame, size_t len, struct msg_grant *m);
int msg_decode_report(const void *frame, size_t len, struct msg_report *m);
int msg_decode_invalid(const void *frame, size_t len, struct msg_invalid *m);

#endif
