/* round_apply.c: what the results a round takes do to the store (round.c): an answer kept
 * (rows' items, an embedding stage's vectors, or the answer whole), the ledger told, and the
 * invalid answers kept for inspection. */
#include "round_impl.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* An answer to a batch of a rows stage: its items are the answers of the texts it asked
 * (rows.h); texts it leaves out make the batch go back to ask them alone, once its attempts
 * allow, else fail. m (a copy) then says so to the ledger. */
static int apply_rows(store_txn *t, struct sup *s, struct msg_result *m)
{
	struct batch_rec b;
	if (m->status != RES_OK || m->batch >= s->led.nbatches || batch_read(t, m->batch, &b) ||
	    !m->key || memcmp(b.key, m->key, HASH_LEN) || b.state == B_DONE || b.state == B_SPLIT)
		return 0;
	uint32_t stage = deps_stage(s->led.deps, m->batch), missing;
	buf ids;
	buf_init(&ids);
	int rc = rows_answer(&s->rows, &s->cache, t, stage, &b, m->payload, m->payload_len,
			     &missing, &ids);
	if (!rc && missing) {
		int last = b.attempts + m->requests_sent >= (uint64_t)s->cfg.max_attempts;
		buf_reset(&s->result_msg);
		buf_printf(&s->result_msg, "%u row%s missing from its answer (%s%s)%s", missing,
			   missing == 1 ? "" : "s", buf_cstr(&ids), missing > 5 ? ", ..." : "",
			   last ? " after retry.max_attempts requests" : "; asked again");
		m->status = last ? RES_FAILED : RES_RETRY;
		m->retry_in_ms = 0;
		m->payload = s->result_msg.data;
		m->payload_len = s->result_msg.len;
		if (!last) {
			rows_reasked(&s->rows, stage, missing);
			log_info("batch %u: %.*s", m->batch, (int)m->payload_len, m->payload);
		}
	}
	buf_free(&ids);
	return rc;
}

/* An answer to a batch of an embedding stage: its vectors are kept (vecs.h), and what the
 * ledger and the request cache keep of it is an empty object (the vectors are found by their
 * texts). Inputs it leaves without a vector make the batch go back to ask them, once its
 * attempts allow, else fail; m (a copy) then says so to the ledger. An answer too large
 * (RES_SPLIT) splits the batch, unless it has one input. */
static int apply_vectors(store_txn *t, struct sup *s, struct msg_result *m)
{
	struct batch_rec b;
	if (m->status == RES_SPLIT && m->batch < s->led.nbatches && !batch_read(t, m->batch, &b) &&
	    b.nchunks < 2) {
		/* an answer too large for a single input: halves would not help */
		buf_reset(&s->result_msg);
		buf_printf(&s->result_msg, "the answer for a single input is larger than "
			   "api.max_response_bytes (%lld); raise it", (long long)s->cfg.max_response_bytes);
		m->status = RES_FAILED;
		m->payload = s->result_msg.data;
		m->payload_len = s->result_msg.len;
		return 0;
	}
	if (m->status == RES_FAILED && m->http_status == 400) {
		/* most often a text longer than the model takes: say which key cuts them */
		const struct stage *st = &s->job.st[deps_stage(s->led.deps, m->batch)];
		buf_reset(&s->result_msg);
		buf_printf(&s->result_msg, "%.*s (a text over the model's input limit? stage %s cuts "
			   "texts at max_input_tokens, %lld tokens counted as bytes / %d)",
			   (int)m->payload_len, m->payload, st->name, (long long)st->max_input_tokens,
			   BYTES_PER_TOKEN);
		m->payload = s->result_msg.data;
		m->payload_len = s->result_msg.len;
		return 0;
	}
	if (m->status != RES_OK || m->batch >= s->led.nbatches || batch_read(t, m->batch, &b) ||
	    !m->key || memcmp(b.key, m->key, HASH_LEN) || b.state == B_DONE || b.state == B_SPLIT)
		return 0;
	uint32_t missing, dims;
	int rc = vecs_answer(&s->vecs, &s->cache, t, deps_stage(s->led.deps, m->batch), &b,
			     m->payload, m->payload_len, &missing, &dims);
	if (rc == STORE_FULL)
		return rc;
	buf_reset(&s->result_msg);
	if (rc || missing) {
		int last = b.attempts + m->requests_sent >= (uint64_t)s->cfg.max_attempts;
		if (rc == VECS_OTHER_DIMS)
			buf_printf(&s->result_msg, "its vectors have %u dimensions, unlike the stage's "
				   "first (the server picks them: set the stage's dimensions)", dims);
		else if (rc)
			buf_puts(&s->result_msg, "its answer is not a list of vectors");
		else
			buf_printf(&s->result_msg, "%u input%s without a vector after its answer", missing,
				   missing == 1 ? "" : "s");
		buf_puts(&s->result_msg, last ? " after retry.max_attempts requests" : "; asked again");
		m->status = last ? RES_FAILED : RES_RETRY;
		m->retry_in_ms = 0;
		log_info("batch %u: %s", m->batch, buf_cstr(&s->result_msg));
	} else {
		buf_puts(&s->result_msg, "{}");
	}
	m->payload = s->result_msg.data;
	m->payload_len = s->result_msg.len;
	return 0;
}

int round_apply_result(store_txn *t, struct sup *s, const struct queued_result *q)
{
	struct msg_result rows_m;
	const struct msg_result *m = &q->m;
	if (q->spooled && delivered_already(&s->before, m->session, m->slot, m->seq)) {
		/* committed by the session that died before it could say so to the worker */
		log_info("batch %u: a spooled answer that was committed already; not counted again",
			 m->batch);
		return 0;
	}
	if (s->job.rows) {
		rows_m = *m;
		if (apply_rows(t, s, &rows_m))
			return STORE_FULL;
		m = &rows_m;
	} else if (s->led.deps && vecs_stage(&s->job, deps_stage(s->led.deps, m->batch))) {
		rows_m = *m;
		if (apply_vectors(t, s, &rows_m))
			return STORE_FULL;
		m = &rows_m;
	}
	if (m->slot == SLOT_BATCH_API)
		pbatch_round_result(s, m);
	struct batch_rec b;
	int rc = ledger_result(&s->led, t, &s->plan, m, now_ms(), &b);
	if (rc == LEDGER_DONE)
		return cache_store(&s->cache, t, &b, m);
	if (rc == LEDGER_FOREIGN && m->status == RES_OK && m->key) {
		/* an answer bought for another plan's request: it answers that request, nothing here */
		log_info("an answer to a request of another plan (batch %u then) kept in the cache only",
			 m->batch);
		return cache_store_answer(&s->cache, t, m->key, m);
	}
	return rc == LEDGER_FOREIGN ? 0 : rc;
}

int round_apply_invalid(store_txn *t, struct sup *s, const struct frame *f)
{
	struct msg_invalid m;
	struct batch_rec b;
	if (msg_decode_invalid(f->data, f->len, &m) || m.batch >= s->led.nbatches ||
	    batch_read(t, m.batch, &b))
		return 0;
	return cache_put_invalid(&s->cache, t, b.key, &m);
}

