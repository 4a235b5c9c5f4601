/* trace.c: what a worker tells the supervisor of each request it makes, for DIR/trace.jsonl:
 * its times, its status, why it failed and what it cost (MSG_TRACE). The supervisor writes
 * the file; a worker never touches the state directory's files. */
#include "worker.h"
#include "../common/util.h"

#include <string.h>

void trace_queued(struct worker *w)
{
	w->attempt_times.queued_us = now_us();
	w->attempt_times.queued_wall_ms = wall_ms();
	w->attempt_times.granted_us = -1;
}

void trace_granted(struct worker *w)
{
	w->attempt_times.granted_us = now_us();
}

/* The word for what went wrong with a request that got an HTTP answer: the first row whose
 * range holds its status. */
static const struct {
	long lo, hi;
	const char *cause;
} status_causes[] = {
	{ 429, 429, "rate_limited" }, { 401, 401, "refused" },	    { 403, 403, "refused" },
	{ 404, 404, "not_found" },    { 408, 409, "server_error" }, { 500, 599, "server_error" },
	{ 400, 499, "client_error" }, { 200, 200, "invalid_answer" },
};

static const char *cause_of(const struct worker *w, int ok)
{
	if (ok)
		return "";
	if (w->resp.aborted)
		return "stopped";
	if (w->resp.connect_failed)
		return "no_connection";
	if (w->resp.transport_error)
		return "transport";
	for (size_t i = 0; i < sizeof status_causes / sizeof status_causes[0]; i++)
		if (w->resp.status >= status_causes[i].lo && w->resp.status <= status_causes[i].hi)
			return status_causes[i].cause;
	return "http_error";
}

/* t (CLOCK_MONOTONIC us, 0: never) after the attempt was queued, or -1. */
static int64_t since_queued(const struct worker *w, int64_t t)
{
	return t > 0 ? t - w->attempt_times.queued_us : -1;
}

void trace_attempt(struct worker *w, const struct msg_batch *b, uint32_t attempt,
		   const struct msg_result *before, const struct msg_result *after, int ok)
{
	if (w->cfg.trace_max_mb <= 0)
		return;
	const char *cause = cause_of(w, ok);
	const char *error = ok ? "" : w->error;
	struct msg_trace m = {
		.slot = w->slot,
		.batch = b->batch,
		.stage = b->stage,
		.attempt = attempt,
		.queued_wall_ms = w->attempt_times.queued_wall_ms,
		.granted_us = since_queued(w, w->attempt_times.granted_us),
		.sent_us = since_queued(w, w->resp.sent_us),
		.first_byte_us = since_queued(w, w->resp.first_byte_us),
		.done_us = since_queued(w, w->resp.done_us),
		.http_status = (uint32_t)w->resp.status,
		.ok = (uint32_t)ok,
		.retry_after_ms = w->resp.limits.retry_after_ms,
		.prompt_tokens = after->prompt_tokens - before->prompt_tokens,
		.completion_tokens = after->completion_tokens - before->completion_tokens,
		.tokens_estimated = after->tokens_estimated != before->tokens_estimated,
		.cause = cause,
		.cause_len = strlen(cause),
		.error = error,
		.error_len = strlen(error),
	};
	/* kept to go after the result: the supervisor acts on a result as soon as it reads it (an
	 * abort stops the other calls), and a record ahead of it would make it wake for that
	 * first. Past TRACE_HELD records of one result, the last is overwritten. */
	if (w->ntrace < TRACE_HELD)
		w->ntrace++;
	msg_encode_trace(&w->trace_out[w->ntrace - 1], &m);
}

void trace_send(struct worker *w)
{
	/* a record lost to a full socket loses a line of the trace, nothing of the run */
	for (int i = 0; i < w->ntrace; i++)
		worker_send(w, w->trace_out[i].data, w->trace_out[i].len);
	w->ntrace = 0;
}
