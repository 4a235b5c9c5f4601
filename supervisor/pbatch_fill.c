/* pbatch_fill.c: the round's side of the Batch API (pbatch.h). Ready batches become lines of
 * new parts, each line {"custom_id": the request's cache key, "method": "POST", "url", "body":
 * the very body a live call would send}; the part's record, its lines and its batches' move
 * to in flight are one commit, and the file is on disk (fsynced) before it. A request already
 * in a part not collected is not written again (it waits for that answer, then is a cache hit).
 * The results of collected lines are tallied per part here (what was bought through it). */
#include "pbatch.h"
#include "pbatch_impl.h"
#include "render.h"
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define FLUSH_BYTES (1 << 20)

void pbatch_url(const struct config *cfg, unsigned endpoint, char *out, size_t len)
{
	const char *p = strstr(cfg->base_url, "://");
	p = p ? strchr(p + 3, '/') : NULL;
	size_t n = p ? strlen(p) : 0;
	while (n && p[n - 1] == '/')
		n--;
	snprintf(out, len, "%.*s/%s", (int)n, p ? p : "",
		 endpoint == EP_EMBEDDINGS ? "embeddings" : "chat/completions");
}

static int provider_wants(void *arg, uint32_t n)
{
	return pbatch_wants(arg, n);
}

static void close_fill(struct fill *f, buf *lines, buf *idx)
{
	if (!f->open)
		return;
	if (f->fd >= 0)
		close(f->fd);
	if (f->idx_fd >= 0)
		close(f->idx_fd);
	f->fd = f->idx_fd = -1;
	f->open = 0;
	buf_reset(lines);
	buf_reset(idx);
}

void pbatch_round_begin(struct pbatch *pb)
{
	for (int e = 0; e < PB_FILLS; e++)
		close_fill(&pb->fill[e], &pb->fill[e].lines, &pb->fill[e].idx);
	pb->nround_parts = 0;
	pb->nwritten = 0;
	pb->ntally = 0;
	map_free(&pb->rkeys);
	memset(&pb->rkeys, 0, sizeof pb->rkeys);
}

static int write_all(int fd, buf *b)
{
	size_t off = 0;
	while (off < b->len) {
		ssize_t w = write(fd, b->data + off, b->len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			return -1;
		off += (size_t)w;
	}
	buf_reset(b);
	return 0;
}

static int open_fill(struct sup *s, struct fill *f, unsigned endpoint, const char *model)
{
	struct pbatch *pb = &s->pb;
	char path[PATHS_MAX], dir[PATHS_MAX];
	paths_file(dir, sizeof dir, s->pb.dir, "batchapi");
	if (mkdir_p(dir, 0700) < 0)
		return -1;
	f->part = (uint32_t)(pb->nparts + pb->nround_parts++);
	f->open = 1;
	f->fd = f->idx_fd = -1;
	static const char *const stale[] = { ".out.jsonl", ".err.jsonl" };
	for (size_t i = 0; i < 2; i++) { /* an earlier plan's, of the same number */
		part_path(path, sizeof path, s->pb.dir, f->part, stale[i]);
		unlink(path);
	}
	part_path(path, sizeof path, s->pb.dir, f->part, ".jsonl");
	f->fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	part_path(path, sizeof path, s->pb.dir, f->part, ".idx");
	f->idx_fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (f->fd < 0 || f->idx_fd < 0)
		return -1;
	memset(&f->r, 0, sizeof f->r);
	f->r.version = PART_VERSION;
	f->r.state = P_WRITTEN;
	f->r.endpoint = endpoint;
	f->r.written_ms = wall_ms();
	snprintf(f->r.model, sizeof f->r.model, "%s", model);
	f->open = 1;
	return 0;
}

/* One line of the part and of its index: custom_id, batch, stage, attempt, where the body
 * is in the part's file and its length, the chunk ids (0x1f between). */
static int add_line(store_txn *t, struct sup *s, struct fill *f, uint32_t n, uint32_t attempt,
		    const struct rendered *r)
{
	char hex[2 * HASH_LEN + 1], url[PATHS_MAX];
	hash_hex(r->key, HASH_LEN, hex);
	pbatch_url(&s->cfg, f->r.endpoint, url, sizeof url);
	size_t before = f->lines.len;
	buf_printf(&f->lines, "{\"custom_id\":\"%s\",\"method\":\"POST\",\"url\":", hex);
	buf_json_str(&f->lines, url, strlen(url));
	buf_puts(&f->lines, ",\"body\":");
	/* r.bytes counts the lines still in the buffer too */
	uint64_t body_off = f->r.bytes - before + f->lines.len;
	buf_put(&f->lines, r->body.data, r->body.len);
	buf_puts(&f->lines, "}\n");
	buf_printf(&f->idx, "%s\t%u\t%u\t%u\t%llu\t%zu\t", hex, n, r->stage, attempt,
		   (unsigned long long)body_off, r->body.len);
	for (size_t i = 0; i < r->chunk_ids.len; i++)
		buf_putc(&f->idx, r->chunk_ids.data[i] == '\n' ? '\x1f' : r->chunk_ids.data[i]);
	buf_putc(&f->idx, '\n');
	unsigned char k[8];
	wr_u32be(k, f->part);
	wr_u32be(k + 4, f->r.nlines);
	unsigned char v[4];
	wr_u32be(v, n);
	if (store_put(t, DB_PARTBATCH, k, 8, v, 4))
		return STORE_FULL;
	f->r.nlines++;
	f->r.bytes += f->lines.len - before;
	f->r.est_tokens += r->est_tokens;
	if (f->lines.len >= FLUSH_BYTES && (write_all(f->fd, &f->lines) || write_all(f->idx_fd, &f->idx)))
		return STORE_ERROR;
	return 0;
}

static int full(const struct sup *s, const struct fill *f, size_t more)
{
	return f->r.nlines >= (uint64_t)s->cfg.batch_max_requests ||
	       (double)(f->r.bytes + more) > s->cfg.batch_max_file_mb * 1e6;
}

static const char *stage_model(const struct sup *s, uint32_t stage)
{
	if (stage < s->job.n && s->job.st[stage].model && s->job.st[stage].model[0])
		return s->job.st[stage].model;
	return s->cfg.model;
}

/* The round's part for the endpoint and model (a provider batch holds one model's requests,
 * and its queue limit is the model's): the open one, else one to open, else NULL. */
static struct fill *fill_for(struct pbatch *pb, unsigned ep, const char *model)
{
	struct fill *unused = NULL;
	for (int e = 0; e < PB_FILLS; e++) {
		struct fill *f = &pb->fill[e];
		if (!f->open)
			unused = unused ? unused : f;
		else if (f->r.endpoint == ep && !strncmp(f->r.model, model, sizeof f->r.model - 1))
			return f;
	}
	return unused;
}

/* Whether the fills may take more: not while a part is being collected (its answers make the
 * next stages' batches ready: they go in one part after it, not in a trickle of small ones). */
static int may_fill(const struct sup *s)
{
	for (size_t i = 0; i < s->pb.nparts; i++)
		if (s->pb.parts[i].r.state == P_DOWNLOADED)
			return 0;
	return !s->stopping && !s->aborted;
}

int pbatch_fill(store_txn *t, struct sup *s)
{
	struct pbatch *pb = &s->pb;
	if (!pb->on || !may_fill(s))
		return 0;
	if (!pb->req) {
		pb->req = xmalloc(sizeof *pb->req);
		rendered_init(pb->req);
	}
	struct take_filter f = { provider_wants, pb, 0 };
	uint32_t n, attempt;
	struct batch_rec b;
	int64_t now = now_ms();
	int rc = 0;
	while (!rc && ledger_take_where(&s->led, t, now, &n, &b, &attempt, &f)) {
		int go = round_prepare(t, s, n, &b, pb->req);
		if (go == STORE_FULL)
			return STORE_FULL;
		if (!go)
			continue;
		const struct rendered *r = pb->req;
		unsigned ep = s->led.deps && vecs_stage(&s->job, r->stage) ? EP_EMBEDDINGS : EP_CHAT;
		uint32_t holder = map_get(&pb->keys, r->key, HASH_LEN);
		if (holder == UINT32_MAX)
			holder = map_get(&pb->rkeys, r->key, HASH_LEN);
		const char *model = stage_model(s, r->stage);
		struct fill *fl = fill_for(pb, ep, model);
		if (holder != UINT32_MAX || !fl || (fl->open && full(s, fl, r->body.len + 200))) {
			/* asked already (it waits for that answer), a model past the round's parts,
			 * or no room: a later part's */
			int wait = holder != UINT32_MAX || !fl;
			ledger_defer(&s->led, n, attempt, wait ? now + 1000 : now);
			if (!wait)
				break;
			continue;
		}
		if (!fl->open && open_fill(s, fl, ep, model)) {
			log_error("cannot write the Batch API's file in %s/batchapi: %s", s->state_dir,
				  strerror(errno));
			return STORE_ERROR;
		}
		map_put(&pb->rkeys, r->key, HASH_LEN, fl->part);
		rc = add_line(t, s, fl, n, attempt, r);
		if (!rc && (ledger_send(&s->led, t, n, &b) ||
			    (r->ctx.tokens && ledger_context(&s->led, t, n, r->ctx.tokens, r->ctx.trimmed))))
			rc = STORE_FULL;
		pb->written = xgrow(pb->written, &pb->capwritten, pb->nwritten, sizeof *pb->written, 64);
		pb->written[pb->nwritten++] = n;
	}
	for (int e = 0; !rc && e < PB_FILLS; e++) {
		struct fill *fl = &pb->fill[e];
		if (!fl->open)
			continue;
		if (write_all(fl->fd, &fl->lines) || write_all(fl->idx_fd, &fl->idx) ||
		    fdatasync(fl->fd) || fdatasync(fl->idx_fd)) {
			log_error("cannot write the Batch API's file in %s/batchapi: %s", s->state_dir,
				  strerror(errno));
			return STORE_ERROR;
		}
		rc = part_rec_put(t, fl->part, &fl->r);
	}
	return rc;
}

void pbatch_round_result(struct sup *s, const struct msg_result *m)
{
	struct pbatch *pb = &s->pb;
	int64_t part = -1;
	for (size_t i = 0; i < pb->nparts; i++)
		if (pb->parts[i].r.state == P_DOWNLOADED)
			part = (int64_t)i;
	if (part < 0)
		return;
	if (!pb->ntally || pb->tally[pb->ntally - 1].part != (uint32_t)part) {
		pb->tally = xgrow(pb->tally, &pb->captally, pb->ntally, sizeof *pb->tally, 4);
		memset(&pb->tally[pb->ntally], 0, sizeof *pb->tally);
		pb->tally[pb->ntally++].part = (uint32_t)part;
	}
	uint32_t stage = s->led.deps ? deps_stage(s->led.deps, m->batch) : 0;
	typeof(*pb->tally) *y = &pb->tally[pb->ntally - 1];
	y->prompt += m->prompt_tokens;
	y->completion += m->completion_tokens;
	y->cost += config_cost_model(&s->cfg, stage_model(s, stage), m->prompt_tokens,
				     m->completion_tokens);
	y->n++;
}

int pbatch_round_end(store_txn *t, struct sup *s)
{
	struct pbatch *pb = &s->pb;
	for (size_t i = 0; i < pb->ntally; i++) {
		struct part_rec r = pb->parts[pb->tally[i].part].r;
		r.prompt_tokens += pb->tally[i].prompt;
		r.completion_tokens += pb->tally[i].completion;
		r.cost_usd += pb->tally[i].cost;
		r.collected += pb->tally[i].n;
		if (part_rec_put(t, pb->tally[i].part, &r))
			return STORE_FULL;
	}
	return 0;
}

void pbatch_commit(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	for (size_t i = 0; i < pb->ntally; i++) {
		struct part_rec *r = &pb->parts[pb->tally[i].part].r;
		r->prompt_tokens += pb->tally[i].prompt;
		r->completion_tokens += pb->tally[i].completion;
		r->cost_usd += pb->tally[i].cost;
		r->collected += pb->tally[i].n;
	}
	pb->ntally = 0;
	for (int e = 0; e < PB_FILLS; e++) {
		struct fill *fl = &pb->fill[e];
		if (!fl->open)
			continue;
		while (pb->nparts <= fl->part) {
			pb->parts = xgrow(pb->parts, &pb->capparts, pb->nparts, sizeof *pb->parts, 8);
			pb->parts[pb->nparts++] = (struct part){ .wait_ms = 0 };
		}
		pb->parts[fl->part] = (struct part){ .r = fl->r,
						     .wait_ms = (int64_t)(s->cfg.batch_poll_s * 1000) };
		log_info("part %u: %u requests written (%.1f MB)", fl->part, fl->r.nlines,
			 (double)fl->r.bytes / 1e6);
		close_fill(fl, &fl->lines, &fl->idx);
	}
	for (size_t i = 0; i < pb->nwritten; i++)
		ledger_out(&s->led, pb->written[i]);
	if (pb->nwritten)
		pbatch_keys_rebuild(s);
	pb->nwritten = 0;
	pb->nround_parts = 0;
}

/* The keys of the requests in parts not collected, from their lines' batch records. */
int pbatch_keys_rebuild(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	map_free(&pb->keys);
	memset(&pb->keys, 0, sizeof pb->keys);
	if (!pbatch_busy(pb))
		return 0;
	store_txn *t = store_begin(s->db, 0);
	if (!t)
		return -1;
	for (size_t i = 0; i < pb->nparts; i++) {
		if (pb->parts[i].r.state == P_COLLECTED)
			continue;
		unsigned char k[8];
		wr_u32be(k, (uint32_t)i);
		for (uint32_t j = 0; j < pb->parts[i].r.nlines; j++) {
			const void *v;
			size_t len;
			struct batch_rec b;
			wr_u32be(k + 4, j);
			if (!store_get(t, DB_PARTBATCH, k, 8, &v, &len) && len == 4 &&
			    !batch_read(t, rd_u32be(v), &b))
				map_put(&pb->keys, b.key, HASH_LEN, (uint32_t)i);
		}
	}
	store_abort(t);
	return 0;
}
