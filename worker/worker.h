/* worker.h: one worker process's state. A worker works on one batch at a time (its next one
 * may already wait in its socket), asks the broker before every request, makes the call and
 * sends back what happened. It never touches the store: the supervisor is the only writer. */
#ifndef KGSUP_WORKER_H
#define KGSUP_WORKER_H

#include <stdint.h>

#include "../common/answer.h"
#include "../common/buf.h"
#include "../common/config.h"
#include "../common/job.h"
#include "../common/schema.h"
#include "../common/names.h"
#include "../common/proto.h"
#include "../common/zsock.h"
#include "http.h"

#define UNACKED_MAX 8
_Static_assert(UNACKED_MAX >= 2 * PROTO_HELD_MAX, "a worker keeps up to 2 x PROTO_HELD_MAX "
	       "results unacked (proto.h): the oldest would be overwritten, not spooled");
#define TRACE_HELD 8

struct worker {
	uint32_t slot;
	int refused; /* the API refused the run (RES_ABORT): no further batch is started */
	const char *state_dir;
	const char *session;   /* its supervisor's socket directory, DIR/sock/SESSION */
	struct config cfg;
	names *names; /* relation ends are checked against entity names in their normal form */
	/* how each stage's answers are checked (run/job.json; none: the one KG stage) */
	struct stage_check {
		schema *schema; /* NULL: the KG schema (graph stages) or any JSON object */
		int graph;      /* normalised as knowledge-graph answers */
		int embed;      /* an embedding stage: POST /embeddings, vectors back */
		char model[128]; /* named when the server does not know it; "": the run's */
	} stages[JOB_MAX_STAGES];
	size_t nstages;
	http_client *http;
	zsock *batches; /* PULL: this slot's own pipe from the supervisor */
	zsock *results; /* PUSH: to the supervisor (worker_send) */
	int results_wait; /* a collect: its socket has RESULTS_HWM and its sends wait for room */
	int results_gone; /* ... and the supervisor stopped taking them: nothing more is sent */
	zsock *broker;  /* REQ: asks */
	zsock *reports; /* PUSH: to the broker, a report no ask carries */
	char client[65]; /* how a broker knows this worker's supervisor (main.c) */
	int64_t broker_silent_since; /* wall ms: a shared broker stopped answering (told to the
				      * supervisor, BWAIT); 0: it answers */
	uint64_t grant; /* number of the broker's last grant to us */
	struct msg_report report; /* the last request's, until it rides on the next ask */
	int has_report;
	int parent_fd;  /* read end of the supervisor's pipe: EOF means it died */
	int orphaned;   /* seen that EOF (in a poll set; no syscall of its own per check) */
	struct http_response resp;
	buf msg;
	buf req; /* asks and reports to the broker, reused: nothing allocated per request */
	/* Results sent, kept until the supervisor says (acked, in its next BATCH or QUIT) that it
	 * committed them. If it dies first, they are spooled for the next run. The entries and
	 * their buffers are reused: nothing is allocated per request once they have grown. */
	struct unacked {
		uint32_t seq, batch;
		int held;
		buf msg;
	} unacked[UNACKED_MAX];
	buf answer;
	struct answer_invalid invalid; /* items left out of the last answer */
	int warned_no_usage; /* said once that the server sends no usage */
	struct { /* trace.c: the request in hand: CLOCK_MONOTONIC us (granted -1: not yet), and
		  * the wall clock (ms) at queued_us */
		int64_t queued_us, queued_wall_ms, granted_us;
	} attempt_times;
	buf trace_out[TRACE_HELD]; /* MSG_TRACE records of requests whose result is not sent yet */
	int ntrace;
	char error[512];
};

/* Asks the broker, makes one attempt at a batch and says what came of it in res: done,
 * failed, split, abort, gave up (the worker is stopping), RES_RETRY with the backoff after
 * which it may be tried again (the supervisor holds the batch meanwhile; the worker takes
 * another), or RES_NOCONN when the call could not connect (no attempt used). Payload in
 * w->answer for RES_OK, in w->error otherwise. */
void call_batch(struct worker *w, const struct msg_batch *b, struct msg_result *res);
/* The answer to batch b is in w->resp already (a line of a provider's batch, the Batch API):
 * checked exactly as a live call's answer, without a broker or a call. A retry comes back as
 * RES_RETRY at once (attempt counted), or RES_FAILED past retry.max_attempts. */
void call_answered(struct worker *w, const struct msg_batch *b, struct msg_result *res);
/* main.c: the run's settings and stages from STATE_DIR/run/ (w->state_dir), the names and,
 * with_http, the key and the HTTP client. 0, or -1 with err set. */
int worker_load(struct worker *w, int with_http, char *err, size_t errlen);
/* Sends one message to the supervisor's results socket. A worker's socket has no high-water
 * mark, so the send never waits (what it sends queues at its end); a collect's (results_wait)
 * waits while the supervisor holds RESULTS_HWM of its messages unread, a second at a time, so
 * that a stop or the supervisor's death ends the wait (results_gone). 0, or -1 when gone. */
int worker_send(struct worker *w, const void *data, size_t len);
/* collect.c: `kgsup __batchop collect`: a provider batch's lines as results (batchop.c) */
int batchop_collect(const char *state_dir, const char *args, size_t len);
/* Starts the result for batch b: the slot, and the batch's number, seq, request key and
 * session, which every result carries back; everything else zero. res->key points where
 * b->key does (into b's frame). */
void worker_result_for(const struct worker *w, const struct msg_batch *b, struct msg_result *res);

/* Sends the last request's report on its own (the worker is going idle: no ask to carry it). */
void worker_flush_report(struct worker *w);
/* trace.c: each request's record for the supervisor's DIR/trace.jsonl. trace_queued before
 * the broker is asked, trace_granted once it said go, trace_attempt after the request (before
 * and after are res around it, for its tokens; ok whether its answer was used) keeps the
 * record, trace_send sends what was kept. */
void trace_queued(struct worker *w);
void trace_granted(struct worker *w);
void trace_attempt(struct worker *w, const struct msg_batch *b, uint32_t attempt,
		   const struct msg_result *before, const struct msg_result *after, int ok);
/* Sends the records trace_attempt kept: after the result of their batch. */
void trace_send(struct worker *w);

/* fd 3 is the read end of the supervisor's pipe; its EOF means the supervisor is gone. */
#define PARENT_FD 3

/* life.c */
/* Non-zero when the worker must stop now, abandoning a call (SIGTERM). */
int worker_must_stop(struct worker *w);
/* Non-zero when the supervisor is gone (SIGHUP from PR_SET_PDEATHSIG, or its pipe's EOF seen in
 * a poll set): finish the call in hand (it is paid for), spool its result, start nothing new. */
int worker_orphaned(struct worker *w);
/* Looks at the supervisor's pipe now (a syscall: for the slow paths). */
void worker_check_parent(struct worker *w);

#endif
