/* proto.h: every message between kgsup's processes, in one place.
 *
 * Wire format: byte 0 is PROTO_VERSION, byte 1 the message type, then the fields of that
 * type in order: integers little-endian of fixed width, byte strings as a u32 length then
 * the bytes. Decoding checks every length against the frame, so a short, long or garbled
 * frame is rejected, never read past.
 *
 *   worker  -> supervisor (PUSH -> PULL "results")   HELLO, RESULT, INVALID, TRACE
 *   supervisor -> worker  (PUSH per slot -> PULL)    BATCH, QUIT
 *   worker  -> broker     (REQ -> ROUTER "broker")   ASK (with the last REPORT, mostly)
 *   broker  -> worker                                GRANT
 *   worker  -> broker     (PUSH -> PULL "reports")   REPORT (when no ask follows at once;
 *                                                    nothing waits for an answer)
 *   worker  -> supervisor (PUSH -> PULL "results")   BWAIT (a shared broker does not answer)
 *   kgsup status --broker -> broker (REQ -> ROUTER)  BSTATUS, answered BVIEW
 *   supervisor -> zygote  (a pipe: the zygote's fd 4) ZFORK
 *   zygote -> supervisor  (a pipe: the zygote's fd 5) ZREADY, ZFORKED (written by the worker
 *                                                    it forked, or on failure by the zygote)
 * A shared broker (kgsup broker --listen tcp://HOST:PORT) takes asks on PORT and reports on
 * PORT+1, the same sockets as the supervisor's own broker over ipc://.
 *
 * Each message's fields are listed once, in MSG_<NAME>_FIELDS below: its struct, its encoder
 * and its decoder (proto.c) and the unit test's round trip (tests/unit/test_wire.c) are all
 * made from that list, so a field cannot be written and not read, or read in another order.
 * A field is F(kind, name); the kinds, as held in the struct and as written on the wire:
 *   u32, u64, i64  uint32_t, uint64_t, int64_t: 4, 8, 8 bytes little-endian (i64 as its
 *                  two's complement)
 *   status         uint32_t holding an enum result_status: a u32; decoding refuses others
 *   verdict        uint32_t holding an enum grant_verdict: a u32; decoding refuses others
 *   bytes          const char *NAME and size_t NAME_len: a u32 length, then the bytes
 *   key            const unsigned char *NAME: HASH_LEN bytes as they are (NULL is written
 *                  as zeros, which no request's hash is)
 *   limits         struct ratelimit_info NAME: its RATELIMIT_FIELDS (ratehdr.h) as i64s
 *   report         uint32_t has_NAME and struct msg_report NAME: a u32 that is 0 or 1, then
 *                  the report's fields only when it is 1
 * A new kind needs its PROTO_MEMBER_ here, PUT_ and GET_ in proto.c and FILL_ and CMP_ in the
 * test (a missing one does not compile). Decoded byte strings and keys point into the frame.
 * Change a message: bump PROTO_VERSION.
 */
#ifndef KGSUP_PROTO_H
#define KGSUP_PROTO_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "hash.h"
#include "ratehdr.h"

#define PROTO_VERSION 13

/* Every message, in the order of its type number (from 1). */
#define PROTO_MESSAGES(M)                                                              \
	M(HELLO, hello)                                                                \
	M(BATCH, batch)                                                                \
	M(RESULT, result)                                                              \
	M(QUIT, quit)                                                                  \
	M(ASK, ask)                                                                    \
	M(GRANT, grant)                                                                \
	M(REPORT, report)                                                              \
	M(INVALID, invalid)                                                            \
	M(TRACE, trace)                                                                \
	M(BWAIT, bwait)                                                                \
	M(BSTATUS, bstatus)                                                            \
	M(BVIEW, bview)                                                                \
	M(ZFORK, zfork)                                                                \
	M(ZFORKED, zforked)                                                            \
	M(ZREADY, zready)

#define PROTO_TYPE_ENUM(NAME, name) MSG_##NAME,
enum msg_type {
	MSG_NONE = 0,
	PROTO_MESSAGES(PROTO_TYPE_ENUM)
	MSG_TYPES /* one past the last */
};

enum result_status {
	RES_OK = 0,     /* payload: the validated, normalised answer JSON */
	RES_FAILED = 1, /* payload: the last error; the batch failed for good */
	RES_ABORT = 2,  /* payload: why; the API refused us and the run must stop */
	RES_GAVEUP = 3, /* payload: why; the worker is shutting down, batch not done */
	RES_SPLIT = 4,  /* payload: why; the answer was cut off: split the batch in two */
	RES_RETRY = 5,  /* payload: the error; try again in retry_in_ms (on any worker) */
	RES_NOCONN = 6, /* payload: why; the call could not connect, nothing went out: the batch
			 * goes back with no attempt counted, and the run waits for the server */
};
#define RES_MAX RES_NOCONN /* the last status: decoding refuses any above */

enum grant_verdict { GRANT_GO = 0, GRANT_WAIT = 1 };

/* RESULT.slot of the answers of a provider's batch (the Batch API), which no worker slot has. */
#define SLOT_BATCH_API 0xfffffff0u

/* The results socket's high-water mark, per sender: the supervisor holds at most this many
 * unread messages of one. Workers send without waiting from sockets without a mark (what they
 * send, a few messages a batch, queues at their end); a Batch API collect, the results of a
 * whole part, sends waiting from a socket with it, so the part never sits in memory. */
#define RESULTS_HWM 1000

/* The most batches a worker holds at once (sent, no result back yet). Its results wait for
 * their ack: each BATCH or QUIT acks every result the supervisor had when it built it, and
 * it sends one only for a result it had, so a worker keeps at most twice this many. */
#define PROTO_HELD_MAX 3

/* The struct members of each kind. */
#define PROTO_MEMBER(kind, name) PROTO_MEMBER_##kind(name)
#define PROTO_MEMBER_u32(name) uint32_t name;
#define PROTO_MEMBER_u64(name) uint64_t name;
#define PROTO_MEMBER_i64(name) int64_t name;
#define PROTO_MEMBER_status(name) uint32_t name;
#define PROTO_MEMBER_verdict(name) uint32_t name;
#define PROTO_MEMBER_bytes(name) const char *name; size_t name##_len;
#define PROTO_MEMBER_key(name) const unsigned char *name;
#define PROTO_MEMBER_limits(name) struct ratelimit_info name;
#define PROTO_MEMBER_report(name) uint32_t has_##name; struct msg_report name;
#define PROTO_STRUCT(name, FIELDS) struct msg_##name { FIELDS(PROTO_MEMBER) }

/* A worker announces itself after it connected; the supervisor then treats the slot as idle. */
#define MSG_HELLO_FIELDS(F)                                                            \
	F(u32, slot)                                                                   \
	F(u32, pid)
PROTO_STRUCT(hello, MSG_HELLO_FIELDS);

/* One batch = one API call. seq tells apart two dispatches of the same batch. A worker may
 * get its next batch while it is still busy with one; acked says up to which seq (of the
 * batches it was sent) the supervisor has committed its results, so it can forget them.
 * key and session come back in every RESULT for it (and so in spool files), so that an
 * answer can be matched to the request it answers and to the session that asked. */
#define MSG_BATCH_FIELDS(F)                                                            \
	F(u32, batch)                                                                  \
	F(u32, seq)                                                                    \
	F(u32, acked)                                                                  \
	F(u32, est_tokens) /* prompt bytes / 4 + max_tokens */                          \
	F(u32, attempt)    /* requests already made for it this session (a retry) */    \
	F(u32, stage)      /* the job's stage it is of: how its answer is checked */    \
	F(key, key)        /* SHA-256 of body: the request's cache key */               \
	F(u64, session)    /* the supervisor session that sent it */                    \
	F(bytes, chunk_ids) /* the batch's chunk ids, '\n'-separated */                 \
	F(bytes, body)     /* the complete JSON request body */
PROTO_STRUCT(batch, MSG_BATCH_FIELDS);

/* What a worker did for one batch: its outcome and the requests it took. batch, seq, key and
 * session are the BATCH's, copied. */
#define MSG_RESULT_FIELDS(F)                                                           \
	F(u32, slot)                                                                   \
	F(u32, batch)                                                                  \
	F(u32, seq)                                                                    \
	F(key, key)                                                                    \
	F(u64, session)                                                                \
	F(status, status)                                                              \
	F(u32, http_status)                                                            \
	F(u32, requests_sent)                                                          \
	F(u32, requests_ok)                                                            \
	F(u32, retries)                                                                \
	F(u32, http_429)                                                               \
	F(u32, errors)                                                                 \
	F(u64, prompt_tokens)                                                          \
	F(u64, completion_tokens)                                                      \
	F(u64, latency_us)     /* of the successful call */                             \
	F(u32, err_server)     /* of errors: 5xx, 408, 409 */                           \
	F(u32, err_transport)  /* of errors: timeouts, connections, TLS, oversized */   \
	F(u32, err_invalid)    /* of errors: answers that were not the expected JSON */ \
	F(u32, attempt)        /* RES_RETRY: requests made for the batch this session */ \
	F(u32, retry_in_ms)    /* RES_RETRY: its backoff */                             \
	F(u32, items_dropped)  /* entities, relations left out of answers (answer.h) */ \
	F(u32, tokens_estimated) /* requests whose usage was missing: tokens guessed */ \
	F(bytes, payload)      /* see enum result_status */
PROTO_STRUCT(result, MSG_RESULT_FIELDS);

/* QUIT: finish the batches sent, then exit; acked as in BATCH. */
#define MSG_QUIT_FIELDS(F) F(u32, acked)
PROTO_STRUCT(quit, MSG_QUIT_FIELDS);

/* What one request cost and what the provider said. client names the supervisor whose worker
 * `slot` made it (a shared broker serves several: "HOST:STATE_DIR_NAME@HASH"). */
#define MSG_REPORT_FIELDS(F)                                                           \
	F(u64, grant)         /* the number of the grant this request went out under */ \
	F(bytes, client)                                                               \
	F(u32, slot)                                                                   \
	F(u32, est_tokens)                                                             \
	F(u32, http_status)                                                            \
	F(u64, prompt_tokens) /* the part the estimate guessed (bytes / 4), from usage */ \
	F(limits, limits)     /* the provider's headers; -1: not given */              \
	F(i64, sent_at)       /* when it went out (CLOCK_MONOTONIC ms), 0: it never did */ \
	F(bytes, model)       /* the ASK's: the budget it is charged to */
PROTO_STRUCT(report, MSG_REPORT_FIELDS);

/* "May I send a request of about est_tokens to model?" Providers limit each model apart, so
 * the broker keeps a budget per model (limits.models). waited_ms (how long the worker has
 * waited for this grant, re-asks and broker restarts included) keeps its place in the broker's
 * queue: an age, not a time, since a shared broker's clients are machines whose clocks need not
 * agree. client and slot name the worker (see REPORT). The report of the
 * worker's previous request rides on its next ask (has_report), which saves a message and
 * two wake-ups per request; a worker with no next ask sends it alone on its way to idle. Only
 * the first send of an ask carries it, so a re-ask never counts a report twice. */
#define MSG_ASK_FIELDS(F)                                                              \
	F(bytes, client)                                                               \
	F(u32, slot)                                                                   \
	F(u32, est_tokens)                                                             \
	F(i64, waited_ms)                                                              \
	F(bytes, model)                                                                \
	F(report, report)
PROTO_STRUCT(ask, MSG_ASK_FIELDS);

#define MSG_GRANT_FIELDS(F)                                                            \
	F(verdict, verdict)                                                            \
	F(u64, seq) /* GO: the grant's number, echoed by the REPORT of its request */
PROTO_STRUCT(grant, MSG_GRANT_FIELDS);

/* An answer that failed validation (it is retried), or the items left out of an answer that
 * is kept (reason says how many, content lists them): kept apart for inspection, never
 * served. */
#define MSG_INVALID_FIELDS(F)                                                          \
	F(u32, batch)                                                                  \
	F(bytes, reason)                                                               \
	F(bytes, content)
PROTO_STRUCT(invalid, MSG_INVALID_FIELDS);

/* One request a worker made (sent or not: a connection refused is one too), for DIR/trace.jsonl,
 * which the supervisor writes. Times are microseconds after queued_wall_ms, the wall clock when
 * the worker began to wait for the broker's grant (measured on CLOCK_MONOTONIC); -1: the
 * request never got that far. */
#define MSG_TRACE_FIELDS(F)                                                            \
	F(u32, slot)                                                                   \
	F(u32, batch)                                                                  \
	F(u32, stage)                                                                  \
	F(u32, attempt)          /* 1: the batch's first request this session */       \
	F(i64, queued_wall_ms)   /* ms since the epoch */                              \
	F(i64, granted_us)                                                             \
	F(i64, sent_us)          /* the request left, after connecting */              \
	F(i64, first_byte_us)                                                          \
	F(i64, done_us)                                                                \
	F(u32, http_status)      /* 0: no HTTP answer */                               \
	F(u32, ok)               /* 1: the answer was used */                          \
	F(i64, retry_after_ms)   /* the server's Retry-After; -1: none */              \
	F(u64, prompt_tokens)                                                          \
	F(u64, completion_tokens)                                                      \
	F(u32, tokens_estimated) /* 1: the server sent no usage */                     \
	F(bytes, cause)          /* a word for what went wrong; empty when ok */       \
	F(bytes, error)          /* the error as logged, the server's message in it */
PROTO_STRUCT(trace, MSG_TRACE_FIELDS);

/* A worker's asks to a shared broker go unanswered (waiting 1, since: the wall clock in ms
 * when it began), or are answered again (waiting 0): the supervisor shows it in status. */
#define MSG_BWAIT_FIELDS(F)                                                            \
	F(u32, slot)                                                                   \
	F(u32, waiting)                                                                \
	F(i64, since)
PROTO_STRUCT(bwait, MSG_BWAIT_FIELDS);

/* `kgsup status --broker`: the broker's view, asked (BSTATUS; detail reserved, 0) and given
 * (BVIEW: one JSON object, the document `status --broker --json` prints). */
#define MSG_BSTATUS_FIELDS(F) F(u32, detail)
PROTO_STRUCT(bstatus, MSG_BSTATUS_FIELDS);

#define MSG_BVIEW_FIELDS(F) F(bytes, json)
PROTO_STRUCT(bview, MSG_BVIEW_FIELDS);

/* The zygote (kgsup __zygote, worker/zygote.c) forks workers on the supervisor's request over
 * two pipes, not ZeroMQ: it must stay free of threads to fork. Each message is one write of a
 * few bytes (atomic on a pipe), and there is at most one request out at a time. */
#define ZYGOTE_REQUEST_FD 4 /* the zygote reads ZFORK here */
#define ZYGOTE_REPLY_FD 5   /* and ZREADY, ZFORKED are written here */

/* The zygote has loaded and initialised what its children share, and waits for requests. */
#define MSG_ZREADY_FIELDS(F) F(u32, pid)
PROTO_STRUCT(zready, MSG_ZREADY_FIELDS);

/* "Start the worker of slot `slot`." */
#define MSG_ZFORK_FIELDS(F) F(u32, slot)
PROTO_STRUCT(zfork, MSG_ZFORK_FIELDS);

/* The worker of `slot` runs as `pid` (written by the worker itself, first thing, so that no
 * worker exists that the supervisor was not told of), or pid 0: it could not be forked (errno
 * `err`). */
#define MSG_ZFORKED_FIELDS(F)                                                          \
	F(u32, slot)                                                                   \
	F(u32, pid)                                                                    \
	F(u32, err)
PROTO_STRUCT(zforked, MSG_ZFORKED_FIELDS);

/* Returns the message type, or -1 when the frame is not a message of this version. */
int msg_type(const void *frame, size_t len);

/* msg_encode_NAME(b, m) replaces b's contents with the frame of m. msg_decode_NAME(frame,
 * len, m) returns 0, or -1 if the frame is not a well-formed message of that type. */
#define PROTO_CODEC_DECL(NAME, name)                                                   \
	void msg_encode_##name(buf *b, const struct msg_##name *m);                    \
	int msg_decode_##name(const void *frame, size_t len, struct msg_##name *m);
PROTO_MESSAGES(PROTO_CODEC_DECL)

#endif
