/* call.c: one batch from grant to validated answer, with the retry policy:
 *   retried:  429, 408, 409, 5xx, timeouts, connection errors, malformed bodies, answers that
 *             are not the expected JSON (exponential backoff, full jitter, Retry-After honoured)
 *   failed:   400, 404 and other 4xx (the batch fails, the run goes on)
 *   aborted:  401, 403, an unknown model (the run stops: every batch would fail the same way)
 *   split:    an answer cut off at max_tokens (finish_reason "length"): resending the same
 *             request would be cut off again, so the supervisor splits the batch in two
 *   no connection: refused, DNS, TLS, a connect timeout: nothing went out, so no attempt is
 *             used up; the batch goes back and the supervisor waits for the server */
#include "worker.h"
#include "../common/answer.h"
#include "../common/chunk.h"
#include "../common/log.h"
#include "../common/sig.h"
#include "../common/util.h"
#include "../common/vec_answer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* How long a REQ to the broker may go unanswered before we assume it died and reconnect.
 * The broker answers a waiting ask with WAIT well before this. */
#define BROKER_TIMEOUT_MS 3000

enum outcome { OUT_OK, OUT_RETRY, OUT_FAILED, OUT_ABORT, OUT_SPLIT, OUT_NOCONN };

/* Tells the supervisor whether the broker answers (a shared one may be down, or refuse this
 * machine's key): it says so in status. Only a change is told. */
static void broker_silent(struct worker *w, int silent)
{
	if (!silent == !w->broker_silent_since)
		return;
	w->broker_silent_since = silent ? wall_ms() : 0;
	struct msg_bwait m = { .slot = w->slot, .waiting = (uint32_t)silent,
			       .since = w->broker_silent_since };
	buf b;
	buf_init(&b);
	msg_encode_bwait(&b, &m);
	worker_send(w, b.data, b.len);
	buf_free(&b);
	if (silent)
		log_warn("broker %s does not answer: waiting for it", w->cfg.broker);
	else
		log_info("broker %s answers again", w->cfg.broker);
}

/* The broker did not take our ask or did not answer it within BROKER_TIMEOUT_MS of `asked`, or
 * a signal cut the wait short. Returns -1 if the worker must stop, else 0 to ask again. */
static int broker_missed(struct worker *w, int64_t asked)
{
	worker_check_parent(w); /* a silent broker may mean a dead supervisor */
	if (worker_orphaned(w) || worker_must_stop(w))
		return -1;
	/* a signal ends the wait early (SIGUSR1: the run is stopping): the broker is not to
	 * blame, but the REQ lost its turn all the same */
	if (!sig_usr1_seen() && now_ms() - asked >= BROKER_TIMEOUT_MS) {
		/* a shared broker's silence is the run's news (status); our own broker is
		 * restarted by the supervisor within a second or two */
		if (w->cfg.broker)
			broker_silent(w, 1);
		else
			log_warn("broker did not answer in %d ms; reconnecting", BROKER_TIMEOUT_MS);
	}
	zsock_reopen(w->broker);
	return 0;
}

/* One REQ/REP exchange with the broker, reopening the socket after a timeout (a REQ that missed
 * its reply is stuck). The send is timed too: a REQ with no peer connected (a shared broker
 * down, or one whose ZAP handler refused our key) blocks in it, and a signal would not end it.
 * Only the first send carries the pending report: if that send reached a broker that then
 * died, or was answered WAIT, a copy must not be counted again. Returns the verdict, or -1 if
 * the worker must stop. */
static int broker_exchange(struct worker *w, struct msg_ask *ask, int64_t queued, uint64_t *seq)
{
	for (;;) {
		/* the run is stopping, or scaled down past this worker (SIGUSR1): a batch still
		 * waiting for its grant has not started and goes back, however long the broker
		 * would have held it (a quota's pause, a low limit) */
		if (worker_must_stop(w) || worker_orphaned(w) || sig_usr1_seen())
			return -1;
		ask->waited_ms = now_ms() - queued;
		msg_encode_ask(&w->req, ask);
		ask->has_report = 0;
		char *rep;
		size_t len;
		int64_t asked = now_ms();
		if (zsock_send_timed(w->broker, w->req.data, w->req.len, BROKER_TIMEOUT_MS) < 0 ||
		    zsock_recv(w->broker, &rep, &len, BROKER_TIMEOUT_MS) < 0) {
			if (broker_missed(w, asked) < 0)
				return -1;
			continue;
		}
		struct msg_grant g;
		int ok = msg_decode_grant(rep, len, &g);
		free(rep);
		if (ok == 0) {
			broker_silent(w, 0);
			if (seq)
				*seq = g.seq;
			return (int)g.verdict;
		}
		log_warn("broker sent a malformed reply; reconnecting");
		zsock_reopen(w->broker);
	}
}

/* The model a batch's request names, whose budget at the broker it is charged to: its stage's,
 * or the run's. */
static const char *batch_model(const struct worker *w, const struct msg_batch *b)
{
	return b->stage < w->nstages && w->stages[b->stage].model[0] ? w->stages[b->stage].model
								      : w->cfg.model;
}

/* Blocks until the broker grants a request of the batch's est_tokens to its model; the last
 * request's report goes with the ask. */
static int broker_ask(struct worker *w, const struct msg_batch *b)
{
	const char *model = batch_model(w, b);
	struct msg_ask ask = { .client = w->client, .client_len = strlen(w->client),
			       .slot = w->slot, .est_tokens = b->est_tokens,
			       .model = model, .model_len = strlen(model),
			       .has_report = (uint32_t)w->has_report, .report = w->report };
	w->has_report = 0;
	int v;
	int64_t queued = now_ms();
	while ((v = broker_exchange(w, &ask, queued, &w->grant)) == GRANT_WAIT)
		;
	return v == GRANT_GO ? 0 : -1;
}

/* Keeps what the request cost and what the provider said for the next ask. The model's name
 * lives as long as the worker's stages, so the report may point at it until it is sent. */
static void keep_report(struct worker *w, const struct msg_batch *b, uint64_t prompt)
{
	const char *model = batch_model(w, b);
	w->report = (struct msg_report){ .grant = w->grant,
					 .client = w->client,
					 .client_len = strlen(w->client),
					 .slot = w->slot,
					 .est_tokens = b->est_tokens,
					 .http_status = (uint32_t)w->resp.status,
					 .prompt_tokens = prompt,
					 .limits = w->resp.limits,
					 .sent_at = w->resp.sent_us / 1000,
					 .model = model,
					 .model_len = strlen(model) };
	w->has_report = 1;
}

void worker_flush_report(struct worker *w)
{
	if (!w->has_report)
		return;
	w->has_report = 0;
	msg_encode_report(&w->req, &w->report);
	/* nothing waits for an answer: a report lost with a dying broker only loses a correction */
	zsock_send(w->reports, w->req.data, w->req.len, 1);
}

/* A 404 that says the model is unknown, in any server's words: OpenAI's code and "The model
 * `x` does not exist" (vLLM's too), Ollama's `model "x" not found, try pulling it first`, or
 * any message naming a model that is not found or does not exist. */
static int is_model_error(const char *body, size_t len, const char *msg)
{
	if (memmem(body, len, "model_not_found", 15))
		return 1;
	return msg && strcasestr(msg, "model") &&
	       (strcasestr(msg, "not found") || strcasestr(msg, "does not exist"));
}

/* A server's trouble, worth a retry: 408, 409 and 5xx. (429 is retried too, counted apart.) */
static int is_server_error(long status)
{
	return status == 408 || status == 409 || status >= 500;
}

/* "HTTP 400: the server's message", with what it means in between when given. */
static void http_error(struct worker *w, const char *what, const char *msg)
{
	snprintf(w->error, sizeof w->error, "HTTP %ld%s%s%s%s", w->resp.status, *what ? " " : "",
		 what, msg ? ": " : "", msg ? msg : "");
}

static enum outcome classify_status(struct worker *w, const struct msg_batch *b)
{
	long s = w->resp.status;
	const char *body = w->resp.body.data ? w->resp.body.data : "";
	char *msg = answer_error_message(body, w->resp.body.len);
	enum outcome o = OUT_FAILED;
	if (s == 401 || s == 403) {
		http_error(w, "(the API refused the key)", msg);
		o = OUT_ABORT;
	} else if (s == 404 && is_model_error(body, w->resp.body.len, msg)) {
		const char *model = b->stage < w->nstages && w->stages[b->stage].model[0]
					    ? w->stages[b->stage].model
					    : w->cfg.model;
		char what[300];
		snprintf(what, sizeof what, "(unknown model \"%.100s\" at %.150s)", model,
			 w->cfg.base_url);
		http_error(w, what, msg);
		o = OUT_ABORT;
	} else {
		http_error(w, "", msg);
		if (s == 429 || is_server_error(s))
			o = OUT_RETRY;
	}
	free(msg);
	return o;
}

/* Sends an answer that failed validation to the supervisor, which keeps it for inspection. */
static void report_invalid(struct worker *w, uint32_t batch, const char *content)
{
	struct msg_invalid m = { .batch = batch,
				 .reason = w->error,
				 .reason_len = strlen(w->error),
				 .content = content,
				 .content_len = strlen(content) };
	msg_encode_invalid(&w->req, &m);
	worker_send(w, w->req.data, w->req.len);
}

/* Sends the items left out of an answer that is kept (w->invalid) to the supervisor, which
 * keeps them with the invalid answers: one message, so that they share one record. */
static void report_dropped(struct worker *w, uint32_t batch)
{
	char reason[128];
	snprintf(reason, sizeof reason, "%d item%s left out of an answer kept: %s", w->invalid.n,
		 w->invalid.n == 1 ? "" : "s", "they fail the KG schema (content lists them)");
	struct msg_invalid m = { .batch = batch,
				 .reason = reason,
				 .reason_len = strlen(reason),
				 .content = w->invalid.items.data,
				 .content_len = w->invalid.items.len };
	msg_encode_invalid(&w->req, &m);
	worker_send(w, w->req.data, w->req.len);
}

/* The request's tokens: the server's usage, or where it sent none (many local servers) a
 * guess as `kgsup plan` makes (bytes / BYTES_PER_TOKEN of the request body and of the
 * answer), counted as estimated so that status does not pass it off as billed. */
static void count_tokens(struct worker *w, const struct msg_batch *b, const struct envelope *env,
			 struct msg_result *res)
{
	int64_t prompt = env->prompt_tokens, completion = env->completion_tokens;
	if (prompt < 0 || completion < 0) {
		res->tokens_estimated++;
		if (!w->warned_no_usage)
			log_warn("the server sends no usage with its answers: tokens and cost are "
				 "estimated (%d bytes a token)", BYTES_PER_TOKEN);
		w->warned_no_usage = 1;
	}
	if (prompt < 0)
		prompt = (int64_t)(b->body_len / BYTES_PER_TOKEN);
	if (completion < 0)
		completion = (int64_t)(strlen(env->content) / BYTES_PER_TOKEN);
	res->prompt_tokens += (uint64_t)prompt;
	res->completion_tokens += (uint64_t)completion;
}

/* Reads a 200 answer to an embedding batch: its vectors, each under its input's key. */
static enum outcome read_vectors(struct worker *w, const struct msg_batch *b,
				 struct msg_result *res)
{
	char err[256];
	int64_t prompt;
	if (vec_answer_read(b->body, b->body_len, w->resp.body.data, w->resp.body.len, &w->answer,
			    &prompt, err, sizeof err)) {
		snprintf(w->error, sizeof w->error, "invalid embeddings answer: %s", err);
		report_invalid(w, b->batch, w->error);
		return OUT_RETRY;
	}
	if (prompt < 0) {
		res->tokens_estimated++;
		prompt = (int64_t)(b->body_len / BYTES_PER_TOKEN);
	}
	res->prompt_tokens += (uint64_t)prompt;
	return OUT_OK;
}

/* Reads a 200 answer: envelope, usage, content. */
static enum outcome read_answer(struct worker *w, const struct msg_batch *b, struct msg_result *res)
{
	if (b->stage < w->nstages && w->stages[b->stage].embed)
		return read_vectors(w, b, res);
	struct envelope env;
	char err[256];
	if (answer_parse_envelope(w->resp.body.data, w->resp.body.len, &env, err, sizeof err)) {
		snprintf(w->error, sizeof w->error, "malformed response: %s", err);
		return OUT_RETRY;
	}
	count_tokens(w, b, &env, res);
	buf_reset(&w->answer);
	enum outcome o = OUT_OK;
	int dropped = 0;
	const struct stage_check *sc = &w->stages[b->stage < w->nstages ? b->stage : 0];
	int bad = sc->graph ? answer_normalize(sc->schema, env.content, strlen(env.content),
					       b->chunk_ids, b->chunk_ids_len, w->names, &w->answer,
					       &dropped, &w->invalid, err, sizeof err)
			    : answer_check(sc->schema, env.content, strlen(env.content), &w->answer,
					   err, sizeof err);
	if (bad) {
		int cut = !strcmp(env.finish_reason, "length");
		snprintf(w->error, sizeof w->error, "invalid answer%s: %s",
			 cut ? " (cut off at max_tokens)" : "", err);
		report_invalid(w, b->batch, env.content);
		o = OUT_RETRY;
		if (cut && memchr(b->chunk_ids, '\n', b->chunk_ids_len)) {
			o = OUT_SPLIT; /* the supervisor logs this as the split's reason */
			snprintf(w->error, sizeof w->error, "answer cut off at max_tokens");
		} else if (cut) {
			snprintf(w->error, sizeof w->error,
				 "the answer for %s is cut off at max_tokens; raise it (api.max_tokens, "
				 "or the stage's)", b->chunk_ids_len ? "a single chunk" : "a document");
			o = OUT_FAILED;
		}
	} else {
		if (dropped)
			log_debug("batch %u: %d relations left out (an end is not an entity of the "
				  "answer)", b->batch, dropped);
		if (sc->graph && w->invalid.n) {
			log_info("batch %u: %d invalid items left out of its answer (kgsup export -f "
				 "invalid lists them)", b->batch, w->invalid.n);
			res->items_dropped += (uint32_t)w->invalid.n;
			report_dropped(w, b->batch);
		}
	}
	envelope_free(&env);
	return o;
}

/* Full-jitter exponential backoff, never shorter than what the server asked for. */
static int64_t backoff_ms(const struct worker *w, uint32_t attempt)
{
	int64_t cap = w->cfg.backoff_cap_ms;
	int64_t ceil = w->cfg.backoff_base_ms;
	for (uint32_t i = 1; i < attempt && ceil < cap; i++)
		ceil *= 2;
	if (ceil > cap)
		ceil = cap;
	int64_t d = (int64_t)((double)random() / ((double)RAND_MAX + 1) * (double)ceil);
	if (w->resp.limits.retry_after_ms > d)
		d = w->resp.limits.retry_after_ms;
	return d;
}

/* What the response in w->resp comes to, the request having gone out: counted in res. */
static enum outcome judge(struct worker *w, const struct msg_batch *b, struct msg_result *res,
			  int embed, uint64_t *prompt)
{
	enum outcome o;
	res->requests_sent++;
	if (w->resp.aborted) {
		snprintf(w->error, sizeof w->error, "stopped during the call");
		o = OUT_RETRY;
	} else if (w->resp.transport_error && w->resp.too_large && embed) {
		/* answered (and billed) but not read: its prompt tokens are the request's guess */
		res->prompt_tokens += b->body_len / BYTES_PER_TOKEN;
		res->tokens_estimated++;
		/* an embedding answer's size follows from its inputs: asked again whole it is as
		 * large again (and billed again); in halves it fits */
		snprintf(w->error, sizeof w->error, "its answer is larger than "
			 "api.max_response_bytes (%lld)", (long long)w->cfg.max_response_bytes);
		o = OUT_SPLIT;
	} else if (w->resp.transport_error) {
		snprintf(w->error, sizeof w->error, "%s", w->resp.error);
		o = OUT_RETRY;
	} else if (w->resp.status != 200) {
		o = classify_status(w, b);
		if (w->resp.status == 429)
			res->http_429++;
	} else {
		uint64_t prompt_before = res->prompt_tokens;
		o = read_answer(w, b, res);
		*prompt = res->prompt_tokens - prompt_before;
		res->http_status = 200;
		if (o == OUT_OK) {
			res->requests_ok++;
			res->latency_us = (uint64_t)w->resp.latency_us;
		}
	}
	if (w->resp.status)
		res->http_status = (uint32_t)w->resp.status;
	if (o != OUT_OK) {
		res->errors++;
		if (w->resp.transport_error)
			res->err_transport++;
		else if (is_server_error(w->resp.status))
			res->err_server++;
		else if (w->resp.status == 200)
			res->err_invalid++;
	}
	return o;
}

static enum outcome attempt_once(struct worker *w, const struct msg_batch *b, struct msg_result *res)
{
	int embed = b->stage < w->nstages && w->stages[b->stage].embed;
	if (embed)
		http_post_to(w->http, "/embeddings", b->body, b->body_len, &w->resp);
	else
		http_post(w->http, b->body, b->body_len, &w->resp);
	if (w->resp.connect_failed) {
		/* not a request: nothing is counted, and the broker's report says it never went
		 * out (sent_at 0), so it gives the grant back */
		snprintf(w->error, sizeof w->error, "%s", w->resp.error);
		keep_report(w, b, 0);
		return OUT_NOCONN;
	}
	uint64_t prompt = 0;
	enum outcome o = judge(w, b, res, embed, &prompt);
	keep_report(w, b, prompt);
	return o;
}

/* A final outcome's status in res; 0 when the outcome is a retry (res untouched). */
static int settle(struct worker *w, const struct msg_batch *b, enum outcome o, uint32_t attempt,
		  struct msg_result *res)
{
	if (o == OUT_OK) {
		res->status = RES_OK;
		return 1;
	}
	if (o == OUT_NOCONN) { /* back as it came: its attempts as they were */
		res->status = RES_NOCONN;
		res->attempt = b->attempt;
		return 1;
	}
	if (o == OUT_ABORT || o == OUT_FAILED || o == OUT_SPLIT) {
		res->status = o == OUT_ABORT ? RES_ABORT : o == OUT_SPLIT ? RES_SPLIT : RES_FAILED;
		return 1;
	}
	if (attempt >= (uint32_t)w->cfg.max_attempts) {
		res->status = RES_FAILED;
		char last[sizeof w->error];
		snprintf(last, sizeof last, "%s", w->error);
		snprintf(w->error, sizeof w->error, "gave up after %u attempts; last: %s", attempt, last);
		return 1;
	}
	return 0;
}

void call_answered(struct worker *w, const struct msg_batch *b, struct msg_result *res)
{
	worker_result_for(w, b, res);
	w->error[0] = '\0';
	int embed = b->stage < w->nstages && w->stages[b->stage].embed;
	uint64_t prompt = 0;
	uint32_t attempt = b->attempt + 1;
	enum outcome o = judge(w, b, res, embed, &prompt);
	if (settle(w, b, o, attempt, res))
		return;
	res->status = RES_RETRY;
	res->attempt = attempt;
	res->retry_in_ms = 0;
}

void worker_result_for(const struct worker *w, const struct msg_batch *b, struct msg_result *res)
{
	*res = (struct msg_result){
		.slot = w->slot, .batch = b->batch, .seq = b->seq, .key = b->key, .session = b->session
	};
}

void call_batch(struct worker *w, const struct msg_batch *b, struct msg_result *res)
{
	worker_result_for(w, b, res);
	w->error[0] = '\0';
	for (uint32_t attempt = b->attempt + 1;; attempt++) {
		trace_queued(w);
		if (broker_ask(w, b) < 0)
			break;
		trace_granted(w);
		struct msg_result before = *res;
		enum outcome o = attempt_once(w, b, res);
		trace_attempt(w, b, attempt, &before, res, o == OUT_OK);
		if (settle(w, b, o, attempt, res))
			return;
		log_debug("batch %u attempt %u: %s", b->batch, attempt, w->error);
		res->retries++;
		/* the backoff is this batch's, not this worker's: hand the batch back with its delay
		 * and take another meanwhile (a worker sleeping out a 60 s backoff would be a slot
		 * lost; a 429's wait is everyone's anyway, kept by the broker) */
		int64_t delay = backoff_ms(w, attempt);
		res->status = RES_RETRY;
		res->attempt = attempt;
		res->retry_in_ms = (uint32_t)(delay < 0 ? 0 : delay > 86400000 ? 86400000 : delay);
		return;
	}
	res->status = RES_GAVEUP;
	snprintf(w->error, sizeof w->error, "worker stopping");
}
