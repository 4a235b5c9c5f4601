/* sink.c: the supervisor's group transaction. One write transaction takes every result that
 * arrived since the last one, marks the batches handed out next as in flight (before their
 * requests leave), answers batches from the cache where it can, and updates the counters.
 * Only after it committed are batches sent to workers: a crash can lose a send, never a
 * record of what was sent. */
#include "sup.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Bounds on one transaction, so that a resume over a cached run still commits often. */
#define ROUND_MAX_CACHE_HITS 512

static void queue_result(struct sup *s, const struct msg_result *m, char *frame)
{
	s->queue = xgrow(s->queue, &s->capqueue, s->nqueue, sizeof *s->queue, 64);
	s->queue[s->nqueue].m = *m;
	s->queue[s->nqueue].frame = frame;
	s->nqueue++;
}

static void on_hello(struct sup *s, const char *frame, size_t len)
{
	struct msg_hello h;
	if (msg_decode_hello(frame, len, &h) || h.slot >= (uint32_t)s->nslots)
		return;
	struct slot *sl = &s->slots[h.slot];
	if (sl->state == SLOT_STARTING && (pid_t)h.pid == sl->proc.pid)
		sl->state = SLOT_IDLE;
}

/* Returns 1 if the frame was kept (queued), 0 if the caller frees it. */
static int on_result(struct sup *s, char *frame, size_t len)
{
	struct msg_result m;
	if (msg_decode_result(frame, len, &m)) {
		log_error("malformed result message (%zu bytes) ignored", len);
		return 0;
	}
	if (m.slot < (uint32_t)s->nslots) {
		struct slot *sl = &s->slots[m.slot];
		for (int k = 0; k < sl->nheld; k++) {
			if (sl->held[k].batch != m.batch || sl->held[k].seq != m.seq)
				continue;
			memmove(sl->held + k, sl->held + k + 1, (size_t)(sl->nheld - k - 1) * sizeof *sl->held);
			sl->nheld--;
			sl->done_since_spawn++;
			if (sl->state == SLOT_BUSY && sl->nheld == 0)
				sl->state = SLOT_IDLE;
			break;
		}
	}
	if (m.status == RES_OK && m.latency_us)
		report_latency(s, m.latency_us);
	if (m.status == RES_ABORT && !s->aborted) {
		s->aborted = 1;
		snprintf(s->abort_msg, sizeof s->abort_msg, "%.*s", (int)m.payload_len, m.payload);
	}
	if (m.status == RES_ABORT || m.status == RES_GAVEUP)
		sup_requeue(s, m.batch);
	queue_result(s, &m, frame);
	return 1;
}

static int on_invalid(struct sup *s, char *frame, size_t len)
{
	struct msg_invalid m;
	if (msg_decode_invalid(frame, len, &m))
		return 0;
	s->invalid = xgrow(s->invalid, &s->capinvalid, s->ninvalid, sizeof *s->invalid, 16);
	s->invalid[s->ninvalid].data = frame;
	s->invalid[s->ninvalid].len = len;
	s->ninvalid++;
	return 1;
}

void sink_receive(struct sup *s)
{
	for (;;) {
		char *frame;
		size_t len;
		if (zsock_recv(s->results, &frame, &len, 0) < 0)
			return;
		int type = msg_type(frame, len);
		int kept = 0;
		if (type == MSG_HELLO)
			on_hello(s, frame, len);
		else if (type == MSG_RESULT)
			kept = on_result(s, frame, len);
		else if (type == MSG_INVALID)
			kept = on_invalid(s, frame, len);
		else
			log_error("unexpected message type %d on the results socket", type);
		if (!kept)
			free(frame);
	}
}

size_t sink_ingest_spool(struct sup *s)
{
	char dir[PATHS_MAX];
	paths_file(dir, sizeof dir, s->state_dir, "spool");
	DIR *d = opendir(dir);
	if (!d)
		return 0;
	size_t n = 0;
	struct dirent *e;
	while ((e = readdir(d))) {
		size_t l = strlen(e->d_name);
		if (l < 5 || strcmp(e->d_name + l - 4, ".res"))
			continue;
		char path[PATHS_MAX];
		snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
		size_t len;
		char *frame = read_file(path, (size_t)1 << 30, &len);
		struct msg_result m;
		if (!frame || msg_decode_result(frame, len, &m)) {
			log_warn("%s: not a spooled result; left alone", path);
			free(frame);
			continue;
		}
		m.slot = UINT32_MAX; /* held by no slot of this session */
		queue_result(s, &m, frame);
		s->spooled = xrealloc(s->spooled, (s->nspooled + 1) * sizeof *s->spooled);
		s->spooled[s->nspooled++] = xstrdup(path);
		n++;
	}
	closedir(d);
	return n;
}

static int put_result(store_txn *t, uint32_t n, const char *answer, size_t len)
{
	unsigned char k[4];
	wr_u32be(k, n);
	return store_put(t, DB_RESULTS, k, 4, answer, len);
}

/* Cache reads and writes go to the shared cache's transaction when there is one. */
static store_txn *cache_txn(struct sup *s, store_txn *t)
{
	return s->round.cache_txn ? s->round.cache_txn : t;
}

static int put_cache(store_txn *t, buf *v, const unsigned char key[HASH_LEN],
		     const struct msg_result *m)
{
	struct cache_rec c = { wall_ms(), m->prompt_tokens, m->completion_tokens };
	buf_reset(v);
	buf_put(v, &c, sizeof c);
	buf_put(v, m->payload, m->payload_len);
	return store_put(t, DB_CACHE, key, HASH_LEN, v->data, v->len);
}

/* Replaces batch b (number n) by two halves, numbered after every batch so far. */
static int split_batch(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b,
		       const char *why)
{
	struct round *r = &s->round;
	uint32_t first = r->nbatches;
	r->nbatches += 2;
	r->split_children = xgrow(r->split_children, &r->capsplit, r->nsplit_children,
				  sizeof *r->split_children, 16);
	r->split_children[r->nsplit_children++] = first;
	struct batch_rec half;
	memset(&half, 0, sizeof half);
	half.is_child = 1;
	half.state = B_PENDING;
	half.first_chunk = b->first_chunk;
	half.nchunks = b->nchunks / 2;
	if (batch_write(t, first, &half, NULL, 0))
		return STORE_FULL;
	half.first_chunk += half.nchunks;
	half.nchunks = b->nchunks - half.nchunks;
	if (batch_write(t, first + 1, &half, NULL, 0))
		return STORE_FULL;
	b->state = B_SPLIT;
	b->child = first;
	r->ctr.batches_split++;
	log_info("batch %u: %s; split into batches %u and %u", n, why, first, first + 1);
	struct plan_rec plan = s->plan;
	plan.nbatches = r->nbatches;
	return store_put(t, DB_META, META_PLAN, strlen(META_PLAN), &plan, sizeof plan);
}

static int has_id(const json *ids, const char *id)
{
	for (const json *c = json_first(ids); c; c = json_next(c)) {
		const char *s = json_string(c);
		if (s && !strcmp(s, id))
			return 1;
	}
	return 0;
}

/* Appends the items of arr seen in chunk id to out (n items there so far), each with
 * "chunks":[id]. */
static void part_items(buf *out, int *n, const json *arr, const char *id)
{
	for (const json *it = json_first(arr); it; it = json_next(it)) {
		if (!has_id(json_get(it, "chunks"), id))
			continue;
		buf_puts(out, (*n)++ ? ",{" : "{");
		for (const json *f = json_first(it); f; f = json_next(f)) {
			if (!strcmp(json_key(f), "chunks"))
				continue;
			buf_json_str(out, json_key(f), strlen(json_key(f)));
			buf_putc(out, ':');
			json_write(f, out);
			buf_putc(out, ',');
		}
		buf_printf(out, "\"chunks\":[\"%s\"]}", id);
	}
}

/* Points each chunk of a batch at the batch's cached answer (render.h), so another grouping of
 * the same chunks buys none of them again. Only a reference per chunk: the answer is stored
 * once and read apart only when a regrouped batch needs it. */
static int put_chunk_refs(store_txn *t, struct sup *s, const struct batch_rec *b)
{
	struct chunk_ref ref;
	memcpy(ref.batch_key, b->key, HASH_LEN);
	ref.nchunks = b->nchunks;
	for (uint32_t i = 0; i < b->nchunks; i++) {
		char id[CHUNK_ID_LEN + 1];
		unsigned char key[HASH_LEN];
		if (render_chunk_id(t, b->first_chunk + i, id))
			continue;
		render_chunk_key(s->chunk_settings, id, key);
		if (store_put(cache_txn(s, t), DB_CACHE, key, HASH_LEN, &ref, sizeof ref))
			return STORE_FULL;
	}
	return 0;
}

static void defer_batch(struct sup *s, const struct msg_result *m)
{
	struct round *r = &s->round;
	r->new_requeue = xgrow(r->new_requeue, &r->capnew_requeue, r->nnew_requeue,
			       sizeof *r->new_requeue, 16);
	r->new_requeue[r->nnew_requeue++] =
		(struct requeued){ m->batch, m->attempt, now_ms() + m->retry_in_ms, 0 };
}

static int apply_result(store_txn *t, struct sup *s, const struct msg_result *m)
{
	struct counters *c = &s->round.ctr;
	c->requests_sent += m->requests_sent;
	c->requests_ok += m->requests_ok;
	c->retried += m->retries;
	c->http_429 += m->http_429;
	c->errors += m->errors;
	c->err_server += m->err_server;
	c->err_transport += m->err_transport;
	c->err_invalid += m->err_invalid;
	c->prompt_tokens += m->prompt_tokens;
	c->completion_tokens += m->completion_tokens;
	struct batch_rec b;
	if (m->batch >= s->plan.nbatches || batch_read(t, m->batch, &b))
		return 0; /* not ours: counted, nothing else */
	b.attempts += m->requests_sent;
	if (m->http_status)
		b.last_http = m->http_status;
	const char *err = NULL;
	size_t errlen = 0;
	int open = b.state != B_DONE && b.state != B_SPLIT && b.state != B_FAILED;
	if (m->status == RES_OK && b.state != B_DONE && b.state != B_SPLIT) {
		if (b.state == B_FAILED)
			c->batches_failed--;
		b.state = B_DONE;
		b.cached = 0;
		c->batches_done++;
		if (put_result(t, m->batch, m->payload, m->payload_len) ||
		    put_cache(cache_txn(s, t), &s->scratch, b.key, m) || put_chunk_refs(t, s, &b))
			return STORE_FULL;
	} else if (m->status == RES_SPLIT && open) {
		if (split_batch(t, s, m->batch, &b, "answer cut off at max_tokens"))
			return STORE_FULL;
	} else if (m->status == RES_RETRY && open) {
		b.state = B_PENDING;
		defer_batch(s, m);
		err = m->payload;
		errlen = m->payload_len;
	} else if (m->status == RES_GAVEUP && open && m->requests_sent == 0) {
		b.state = B_PENDING; /* never sent: nothing to bill, nothing to doubt on resume */
	} else if (m->status == RES_FAILED && open) {
		b.state = B_FAILED;
		c->batches_failed++;
		err = m->payload;
		errlen = m->payload_len;
		log_warn("batch %u failed: %.*s", m->batch, (int)m->payload_len, m->payload);
	}
	return batch_write(t, m->batch, &b, err, errlen) ? STORE_FULL : 0;
}

/* An invalid answer goes under its request's key and the time (never where the cache looks),
 * as "reason\ncontent". */
static int put_invalid(store_txn *t, struct sup *s, const struct frame *f)
{
	struct msg_invalid m;
	struct batch_rec b;
	if (msg_decode_invalid(f->data, f->len, &m) || m.batch >= s->plan.nbatches ||
	    batch_read(t, m.batch, &b))
		return 0;
	unsigned char key[HASH_LEN + 8];
	memcpy(key, b.key, HASH_LEN);
	uint64_t when = (uint64_t)wall_ms();
	for (int i = 0; i < 8; i++)
		key[HASH_LEN + i] = (unsigned char)(when >> (56 - 8 * i));
	buf *v = &s->scratch;
	buf_reset(v);
	buf_put(v, m.reason, m.reason_len);
	buf_putc(v, '\n');
	buf_put(v, m.content, m.content_len);
	return store_put(t, DB_INVALID, key, sizeof key, v->data, v->len);
}

/* The next batch that needs a request: first those handed back (once due), then onward
 * from the cursor. */
static int next_batch(store_txn *t, struct sup *s, uint32_t *n, struct batch_rec *b,
		      uint32_t *attempt)
{
	struct round *r = &s->round;
	int64_t now = now_ms();
	*attempt = 0;
	for (size_t i = 0; i < s->nrequeue; i++) {
		struct requeued *q = &s->requeue[i];
		if (q->taken || q->due > now)
			continue;
		q->taken = 1;
		if (!batch_read(t, q->batch, b) && (b->state == B_PENDING || b->state == B_INFLIGHT)) {
			*n = q->batch;
			*attempt = q->attempt;
			return 1;
		}
	}
	while (r->cursor < s->plan.nbatches) {
		*n = r->cursor++;
		if (!batch_read(t, *n, b) && b->state == B_PENDING)
			return 1;
	}
	return 0;
}

/* A cache record still within cache.ttl_days (copied out: LMDB values are not aligned). */
static int cache_fresh(const struct sup *s, const void *v, size_t len, struct cache_rec *c)
{
	if (len < sizeof *c)
		return 0;
	memcpy(c, v, sizeof *c);
	return s->cfg.cache_ttl_days <= 0 ||
	       c->stored_wall_ms + s->cfg.cache_ttl_days * 86400000LL >= wall_ms();
}

static int answered_from_cache(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b,
			       const char *answer, size_t len, uint64_t prompt, uint64_t completion)
{
	struct counters *ctr = &s->round.ctr;
	b->state = B_DONE;
	b->cached = 1;
	ctr->batches_done++;
	ctr->batches_cached++;
	ctr->saved_prompt_tokens += prompt;
	ctr->saved_completion_tokens += completion;
	return put_result(t, n, answer, len) || batch_write(t, n, b, NULL, 0) ? -1 : 1;
}

/* Answers a batch from the cache; returns 1 when it was. */
static int from_cache(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b,
		      const unsigned char *key)
{
	const void *v;
	size_t len;
	struct cache_rec c;
	if (store_get(cache_txn(s, t), DB_CACHE, key, HASH_LEN, &v, &len) ||
	    !cache_fresh(s, v, len, &c))
		return 0;
	return answered_from_cache(t, s, n, b, (const char *)v + sizeof c, len - sizeof c,
				   c.prompt_tokens, c.completion_tokens);
}

/* Chunk i of batch b: its id, and the cached answer that holds it (with that answer's record
 * and reference). Returns the answer JSON, or NULL when the chunk is not answered (or too old). */
static const char *chunk_answer(store_txn *t, struct sup *s, const struct batch_rec *b, uint32_t i,
				char id[CHUNK_ID_LEN + 1], struct chunk_ref *ref, struct cache_rec *c,
				size_t *len)
{
	unsigned char key[HASH_LEN];
	const void *v;
	size_t n;
	if (render_chunk_id(t, b->first_chunk + i, id))
		return NULL;
	render_chunk_key(s->chunk_settings, id, key);
	if (store_get(cache_txn(s, t), DB_CACHE, key, HASH_LEN, &v, &n) || n != sizeof *ref)
		return NULL;
	memcpy(ref, v, sizeof *ref);
	if (store_get(cache_txn(s, t), DB_CACHE, ref->batch_key, HASH_LEN, &v, &n) ||
	    !cache_fresh(s, v, n, c))
		return NULL;
	*len = n - sizeof *c;
	return (const char *)v + sizeof *c;
}

/* A batch none of whose request is cached may still have every chunk answered in another
 * grouping: its answer is then put together from the items the earlier answers gave each chunk,
 * with each chunk's share of their tokens (returns 1). When only some chunks are answered, the
 * batch is split until each piece is all answered or all new (returns 2). Returns 0 when no
 * chunk is answered, -1 when the store is full. */
static int from_chunk_parts(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b)
{
	char id[CHUNK_ID_LEN + 1];
	struct chunk_ref ref;
	struct cache_rec c;
	size_t len;
	uint32_t known = 0;
	for (uint32_t i = 0; i < b->nchunks; i++)
		known += chunk_answer(t, s, b, i, id, &ref, &c, &len) != NULL;
	if (known == 0)
		return 0;
	if (known < b->nchunks) {
		char why[96];
		snprintf(why, sizeof why, "%u of its %u chunks are answered already", known, b->nchunks);
		if (split_batch(t, s, n, b, why) || batch_write(t, n, b, NULL, 0))
			return -1;
		return 2;
	}
	buf *ents = &s->part, *rels = &s->scratch;
	buf_reset(ents);
	buf_reset(rels);
	buf_puts(ents, "{\"entities\":[");
	int ne = 0, nr = 0;
	uint64_t prompt = 0, completion = 0;
	json *answer = NULL;
	unsigned char parsed[HASH_LEN] = { 0 };
	for (uint32_t i = 0; i < b->nchunks; i++) {
		const char *v = chunk_answer(t, s, b, i, id, &ref, &c, &len);
		if (!v)
			continue; /* (known a moment ago, in this same transaction) */
		/* chunks of one earlier batch share its answer: parse it once for them */
		if (!answer || memcmp(parsed, ref.batch_key, HASH_LEN)) {
			json_free(answer);
			answer = json_parse(v, len, NULL, 0);
			memcpy(parsed, ref.batch_key, HASH_LEN);
		}
		part_items(ents, &ne, json_get(answer, "entities"), id);
		part_items(rels, &nr, json_get(answer, "relations"), id);
		prompt += c.prompt_tokens / (ref.nchunks ? ref.nchunks : 1);
		completion += c.completion_tokens / (ref.nchunks ? ref.nchunks : 1);
	}
	json_free(answer);
	buf_puts(ents, "],\"relations\":[");
	buf_put(ents, rels->data, rels->len);
	buf_puts(ents, "],\"dropped_relations\":0}");
	return answered_from_cache(t, s, n, b, ents->data, ents->len, prompt, completion);
}

/* Picks the batch slot i will get in this round (or none left). */
static int pick_for_slot(store_txn *t, struct sup *s, int i)
{
	struct slot *sl = &s->slots[i];
	uint32_t n, attempt;
	struct batch_rec b;
	while (next_batch(t, s, &n, &b, &attempt)) {
		if (render_batch(t, &s->cfg, &s->prompts, &b, &sl->req)) {
			log_error("batch %u: its chunks are missing from the store", n);
			continue;
		}
		memcpy(b.key, sl->req.key, HASH_LEN);
		int hit = 0;
		if (s->round.cache_hits < ROUND_MAX_CACHE_HITS) {
			hit = from_cache(t, s, n, &b, b.key);
			if (hit == 0)
				hit = from_chunk_parts(t, s, n, &b);
		}
		if (hit < 0)
			return STORE_FULL;
		if (hit) {
			s->round.cache_hits++;
			continue;
		}
		b.state = B_INFLIGHT;
		if (batch_write(t, n, &b, NULL, 0))
			return STORE_FULL;
		sl->assigned = 1;
		sl->batch = n;
		sl->attempt = attempt;
		return 0;
	}
	return 0;
}

struct round_arg {
	struct sup *s;
	int dispatch;
};

static int round_txn(store_txn *t, void *arg)
{
	struct round_arg *ra = arg;
	struct sup *s = ra->s;
	struct round *r = &s->round;
	/* everything decided here is tentative: a retried transaction starts from scratch */
	r->ctr = s->ctr;
	r->cursor = s->cursor;
	r->cache_hits = 0;
	r->nbatches = s->plan.nbatches;
	r->nsplit_children = 0;
	r->nnew_requeue = 0;
	for (size_t i = 0; i < s->nrequeue; i++)
		s->requeue[i].taken = 0;
	for (int i = 0; i < s->nslots; i++)
		s->slots[i].assigned = 0;
	for (size_t i = 0; i < s->nqueue; i++)
		if (apply_result(t, s, &s->queue[i].m))
			return STORE_FULL;
	for (size_t i = 0; i < s->ninvalid; i++)
		if (put_invalid(t, s, &s->invalid[i]))
			return STORE_FULL;
	/* idle workers first; then a next batch for busy ones */
	for (int depth = 0; depth < SLOT_DEPTH; depth++)
		for (int i = 0; ra->dispatch && i < s->nslots && i < s->want; i++) {
			struct slot *sl = &s->slots[i];
			if (sl->nheld == depth && !sl->assigned && sink_slot_wants(s, i) &&
			    pick_for_slot(t, s, i))
				return STORE_FULL;
		}
	r->ctr.workers_live = (uint32_t)proc_live_workers(s);
	r->ctr.state = s->run_state;
	r->ctr.supervisor_pid = (uint32_t)getpid();
	r->ctr.elapsed_ms = s->elapsed_base + (uint64_t)(now_ms() - s->session_start);
	return counters_write(t, &r->ctr) ? STORE_FULL : 0;
}

static void send_assigned(struct sup *s)
{
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (!sl->assigned)
			continue;
		sl->assigned = 0;
		struct msg_batch m = { .batch = sl->batch,
				       .seq = ++s->next_seq,
				       .acked = sl->acked,
				       .est_tokens = sl->req.est_tokens,
				       .attempt = sl->attempt,
				       .key = sl->req.key,
				       .session = s->session_id,
				       .chunk_ids = sl->req.chunk_ids.data,
				       .chunk_ids_len = sl->req.chunk_ids.len,
				       .body = sl->req.body.data,
				       .body_len = sl->req.body.len };
		msg_encode_batch(&s->msg, &m);
		if (zsock_send(sl->push, s->msg.data, s->msg.len, 1) < 0) {
			/* EAGAIN: the worker's HELLO came over the results socket before its batch
			 * socket finished connecting; the next round tries again */
			if (errno == EAGAIN)
				log_debug("worker %d not connected yet; batch %u requeued", i, sl->batch);
			else
				log_warn("worker %d cannot take batch %u (%s); requeued", i, sl->batch,
					 strerror(errno));
			sup_requeue(s, sl->batch);
			continue;
		}
		sl->held[sl->nheld].batch = sl->batch;
		sl->held[sl->nheld].seq = m.seq;
		sl->nheld++;
		sl->state = SLOT_BUSY;
	}
}

int sink_work_left(const struct sup *s)
{
	return s->cursor < s->plan.nbatches || s->nrequeue > 0;
}

/* A worker gets a batch when it has none, or its next one while it is busy if plenty is left
 * (near the end that batch would wait behind a call while another worker idles). */
int sink_slot_wants(const struct sup *s, int i)
{
	const struct slot *sl = &s->slots[i];
	if ((sl->state != SLOT_IDLE && sl->state != SLOT_BUSY) || sl->nheld >= SLOT_DEPTH)
		return 0;
	return sl->nheld == 0 || s->plan.nbatches - s->cursor > (uint32_t)s->nslots * SLOT_DEPTH;
}

int sink_dispatchable(const struct sup *s)
{
	return s->cursor < s->plan.nbatches || sink_next_due_ms(s, 1) == 0;
}

long sink_next_due_ms(const struct sup *s, long max)
{
	int64_t now = now_ms();
	long best = max;
	for (size_t i = 0; i < s->nrequeue; i++) {
		int64_t in = s->requeue[i].due - now;
		if (in < best)
			best = in < 0 ? 0 : (long)in;
	}
	return best;
}

/* After a commit: batches handed out leave the list, those handed back in the round join it. */
static void settle_requeue(struct sup *s)
{
	struct round *r = &s->round;
	size_t w = 0;
	for (size_t i = 0; i < s->nrequeue; i++)
		if (!s->requeue[i].taken)
			s->requeue[w++] = s->requeue[i];
	s->nrequeue = w;
	for (size_t i = 0; i < r->nnew_requeue; i++) {
		s->requeue = xgrow(s->requeue, &s->caprequeue, s->nrequeue, sizeof *s->requeue, 64);
		s->requeue[s->nrequeue++] = r->new_requeue[i];
	}
	r->nnew_requeue = 0;
}

int sink_round(struct sup *s, int dispatch)
{
	struct round_arg ra = { s, dispatch };
	size_t need = 1 << 20;
	for (size_t i = 0; i < s->nqueue; i++)
		need += s->queue[i].m.payload_len * 2 + 256 +
			(size_t)s->cfg.chunks_per_batch * (HASH_LEN + sizeof(struct chunk_ref) + 64);
	for (size_t i = 0; i < s->ninvalid; i++)
		need += s->invalid[i].len + 256;
	if (store_ensure_room(s->db, need))
		return -1;
	s->round.cache_txn = NULL;
	if (s->cache != s->db) {
		/* the shared cache commits after the run's own store: a crash between the two loses a
		 * cache entry for other runs, never a result of this one */
		if (store_ensure_room(s->cache, need) || !(s->round.cache_txn = store_begin(s->cache, 1)))
			log_warn("shared cache unavailable this round: %s", store_strerror(s->cache));
	}
	int rc = store_write(s->db, round_txn, &ra);
	if (s->round.cache_txn) {
		if (rc)
			store_abort(s->round.cache_txn);
		else if (store_commit(s->round.cache_txn))
			log_warn("cannot commit to the shared cache: %s", store_strerror(s->cache));
		s->round.cache_txn = NULL;
	}
	if (rc) {
		if (!s->store_error[0])
			snprintf(s->store_error, sizeof s->store_error, "%s", store_strerror(s->db));
		log_error("cannot commit to the store: %s", store_strerror(s->db));
		return -1;
	}
	s->ctr = s->round.ctr;
	s->cursor = s->round.cursor;
	/* the results committed: their workers may forget them (told with the next message) */
	for (size_t i = 0; i < s->nqueue; i++) {
		const struct msg_result *m = &s->queue[i].m;
		if (m->slot < (uint32_t)s->nslots && (int32_t)(m->seq - s->slots[m->slot].acked) > 0)
			s->slots[m->slot].acked = m->seq;
	}
	s->plan.nbatches = s->round.nbatches;
	settle_requeue(s);
	for (size_t i = 0; i < s->nqueue; i++)
		free(s->queue[i].frame);
	s->nqueue = 0;
	for (size_t i = 0; i < s->ninvalid; i++)
		free(s->invalid[i].data);
	s->ninvalid = 0;
	for (size_t i = 0; i < s->nspooled; i++) {
		unlink(s->spooled[i]);
		free(s->spooled[i]);
	}
	s->nspooled = 0;
	s->last_commit = now_ms();
	/* the halves of split batches go first in the next round; the cursor never looks back */
	for (size_t i = 0; i < s->round.nsplit_children; i++) {
		sup_requeue(s, s->round.split_children[i]);
		sup_requeue(s, s->round.split_children[i] + 1);
	}
	send_assigned(s);
	return 0;
}

