/* pbatch.c: the Batch API's parts across a session (pbatch.h): loaded at the start, held
 * batches adopted after a crash, and stepped from the loop one op at a time. */
#include "pbatch.h"
#include "pbatch_impl.h"
#include "deps.h"
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/wait.h>
#include <unistd.h>

#define META_BATCH_RUN "batch_run_id"

void part_path(char *out, size_t len, const char *state_dir, uint32_t n, const char *suffix)
{
	char name[64];
	snprintf(name, sizeof name, "batchapi/part-%06u%s", n, suffix);
	paths_file(out, len, state_dir, name);
}

/* metadata.kgsup_run: random, made once per plan (a fresh plan's parts are not these). */
static int run_id_txn(store_txn *t, void *arg)
{
	struct pbatch *pb = arg;
	const void *v;
	size_t len;
	if (!store_get(t, DB_META, META_BATCH_RUN, strlen(META_BATCH_RUN), &v, &len) &&
	    len < sizeof pb->run_id) {
		memcpy(pb->run_id, v, len);
		pb->run_id[len] = '\0';
		return 0;
	}
	unsigned char r[12];
	if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r)
		return STORE_ERROR;
	for (size_t i = 0; i < sizeof r; i++)
		snprintf(pb->run_id + 2 * i, 3, "%02x", r[i]);
	return store_put(t, DB_META, META_BATCH_RUN, strlen(META_BATCH_RUN), pb->run_id,
			 strlen(pb->run_id)) ? STORE_FULL : 0;
}

static int read_held(struct pbatch *pb, store *db);

static void say_route(const struct sup *s)
{
	buf say;
	buf_init(&say);
	pbatch_route_say(&s->job, &s->cfg, &say);
	buf_cstr(&say);
	for (char *l = say.data, *e; (e = strchr(l, '\n')); l = e + 1) {
		*e = '\0';
		log_info("run.mode auto: %s", l);
	}
	buf_free(&say);
}

int pbatch_open(struct sup *s, char *err, size_t errlen)
{
	struct pbatch *pb = &s->pb;
	pb->stages = pbatch_route(&s->job, &s->cfg, NULL);
	pb->on = pb->stages != 0;
	pb->live_too = pb->on && pb->stages != pbatch_route_all(&s->job);
	pb->deps = s->led.deps;
	pb->fallback_live = !strcmp(s->cfg.batch_fallback, "live");
	if (!realpath(s->state_dir, pb->dir)) {
		snprintf(err, errlen, "%s: %s", s->state_dir, strerror(errno));
		return -1;
	}
	pb->op.from = -1;
	for (int e = 0; e < PB_FILLS; e++)
		pb->fill[e].fd = pb->fill[e].idx_fd = -1;
	store_txn *t = store_begin(s->db, 0);
	if (!t) {
		snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return -1;
	}
	struct part_rec r;
	while (part_rec_read(t, (uint32_t)pb->nparts, &r) == 0) {
		pb->parts = xgrow(pb->parts, &pb->capparts, pb->nparts, sizeof *pb->parts, 8);
		pb->parts[pb->nparts++] = (struct part){ .r = r };
	}
	store_abort(t);
	if (!strcmp(s->cfg.run_mode, "auto"))
		say_route(s);
	if (!pb->on && !pbatch_busy(pb))
		return 0;
	if (!pb->on) { /* a run started with the Batch API goes on with it: its parts are out */
		log_info("%zu parts of this run are at the Batch API: picked up again", pbatch_busy(pb));
		pb->stages = UINT32_MAX;
	}
	pb->on = 1;
	if (store_write(s->db, run_id_txn, pb)) {
		snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return -1;
	}
	for (size_t i = 0; i < pb->nparts; i++) {
		struct part *p = &pb->parts[i];
		p->wait_ms = (int64_t)(s->cfg.batch_poll_s * 1000);
		/* a create whose answer was lost (a crash, a stop) may have made a batch */
		if (p->r.state == P_UPLOADED)
			pb->lookup = 1;
	}
	if (pbatch_keys_rebuild(s) || read_held(pb, s->db)) {
		snprintf(err, errlen, "store: %s", store_strerror(s->db));
		return -1;
	}
	return 0;
}

void pbatch_free(struct pbatch *pb)
{
	if (!pb->dir[0]) /* never opened */
		return;
	if (pb->op.pid > 0) {
		kill(pb->op.pid, SIGTERM);
		while (waitpid(pb->op.pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	if (pb->op.from >= 0)
		close(pb->op.from);
	buf_free(&pb->op.out);
	for (int e = 0; e < PB_FILLS; e++) {
		if (pb->fill[e].fd >= 0)
			close(pb->fill[e].fd);
		if (pb->fill[e].idx_fd >= 0)
			close(pb->fill[e].idx_fd);
		buf_free(&pb->fill[e].lines);
		buf_free(&pb->fill[e].idx);
	}
	free(pb->parts);
	free(pb->tally);
	free(pb->tried);
	free(pb->held);
	free(pb->got);
	free(pb->written);
	map_free(&pb->keys);
	map_free(&pb->rkeys);
	if (pb->req) {
		rendered_free(pb->req);
		free(pb->req);
	}
	memset(pb, 0, sizeof *pb);
}

static int bit_get(const unsigned char *bits, size_t cap, uint32_t n)
{
	return n / 8 < cap && (bits[n / 8] >> (n % 8)) & 1;
}

static void bit_set(unsigned char **bits, size_t *cap, uint32_t n)
{
	size_t byte = n / 8;
	if (byte >= *cap) {
		size_t c = *cap ? *cap : 1024;
		while (c <= byte)
			c *= 2;
		*bits = xrealloc(*bits, c);
		memset(*bits + *cap, 0, c - *cap);
		*cap = c;
	}
	(*bits)[byte] |= (unsigned char)(1u << (n % 8));
}

/* The batches on lines of parts not collected, into pb->held. */
static int read_held(struct pbatch *pb, store *db)
{
	store_txn *t = store_begin(db, 0);
	if (!t)
		return -1;
	for (size_t i = 0; i < pb->nparts; i++) {
		const struct part *p = &pb->parts[i];
		if (p->r.state == P_COLLECTED)
			continue;
		unsigned char k[8];
		wr_u32be(k, (uint32_t)i);
		for (uint32_t j = 0; j < p->r.nlines; j++) {
			const void *v;
			size_t len;
			wr_u32be(k + 4, j);
			if (!store_get(t, DB_PARTBATCH, k, 8, &v, &len) && len == 4)
				bit_set(&pb->held, &pb->capheld, rd_u32be(v));
		}
	}
	store_abort(t);
	return 0;
}

int pbatch_holds(const struct pbatch *pb, uint32_t n)
{
	return bit_get(pb->held, pb->capheld, n) ? LEDGER_HELD : 0;
}

int pbatch_adopt(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	if (!pb->held)
		return 0;
	store_txn *t = store_begin(s->db, 0);
	if (!t)
		return -1;
	size_t held = 0;
	for (uint32_t n = 0; n < s->led.nbatches; n++) {
		struct batch_rec b;
		if (pbatch_holds(pb, n) && !batch_read(t, n, &b) && b.state == B_INFLIGHT) {
			ledger_out(&s->led, n);
			held++;
		}
	}
	store_abort(t);
	free(pb->held);
	pb->held = NULL;
	pb->capheld = 0;
	if (held)
		log_info("%zu requests are in provider batches of this run: their answers are awaited, "
			 "not asked again", held);
	return 0;
}

int pbatch_wants(const struct pbatch *pb, uint32_t n)
{
	uint32_t stage = pb->deps ? deps_stage(pb->deps, n) : 0;
	return stage < 32 && (pb->stages >> stage & 1) &&
	       !(pb->fallback_live && bit_get(pb->tried, pb->captried, n));
}

static void set_tried(struct pbatch *pb, uint32_t n)
{
	bit_set(&pb->tried, &pb->captried, n);
}

/* The part being collected: the one DOWNLOADED (one at a time), or -1. */
static int64_t collecting(const struct pbatch *pb)
{
	for (size_t i = 0; i < pb->nparts; i++)
		if (pb->parts[i].r.state == P_DOWNLOADED)
			return (int64_t)i;
	return -1;
}

int pbatch_result_in(struct sup *s, const struct msg_result *m)
{
	struct pbatch *pb = &s->pb;
	int64_t p = collecting(pb);
	if (p < 0 || m->seq != pb->collect_gen)
		return 0;
	pb->parts[p].received++; /* of this collect's: all come, one a line */
	if (m->batch >= s->led.nbatches || !ledger_is_out(&s->led, m->batch) ||
	    bit_get(pb->got, pb->capgot, m->batch))
		return 0;
	ledger_back(&s->led, m->batch);
	bit_set(&pb->got, &pb->capgot, m->batch);
	if (m->status != RES_OK)
		set_tried(pb, m->batch);
	return 1;
}

size_t pbatch_busy(const struct pbatch *pb)
{
	size_t n = 0;
	for (size_t i = 0; i < pb->nparts; i++)
		n += pb->parts[i].r.state != P_COLLECTED;
	return n;
}

int pbatch_reaped(struct sup *s, pid_t pid, int status)
{
	struct pbatch *pb = &s->pb;
	if (pb->op.op == PB_NONE || pid != pb->op.pid)
		return 0;
	pb->op.reaped = 1;
	pb->op.status = status;
	return 1;
}

void pbatch_stop(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	if (pb->op.op == PB_NONE || pb->op.pid <= 0)
		return;
	kill(pb->op.pid, SIGTERM);
}

long pbatch_sleep_ms(const struct pbatch *pb, long max)
{
	return pb->op.op != PB_NONE && max > 50 ? 50 : max;
}

/* The lines of the part collected that got no result (lost on the way): back to be asked. */
static void give_back_rest(struct sup *s, uint32_t part)
{
	store_txn *t = store_begin(s->db, 0);
	if (!t)
		return;
	unsigned char k[8];
	wr_u32be(k, part);
	size_t n = 0;
	for (uint32_t j = 0; j < s->pb.parts[part].r.nlines; j++) {
		const void *v;
		size_t len;
		wr_u32be(k + 4, j);
		if (store_get(t, DB_PARTBATCH, k, 8, &v, &len) || len != 4)
			continue;
		uint32_t b = rd_u32be(v);
		if (ledger_is_out(&s->led, b) && !bit_get(s->pb.got, s->pb.capgot, b)) {
			ledger_back(&s->led, b);
			ledger_give_back(&s->led, b, 0, 0);
			set_tried(&s->pb, b);
			n++;
		}
	}
	store_abort(t);
	if (n)
		log_warn("part %u: %zu lines without a result after collecting: asked again", part, n);
}

/* The part collected: every result committed. */
static int collect_finished(struct sup *s, uint32_t part)
{
	struct part *p = &s->pb.parts[part];
	int64_t now = now_ms();
	if (!s->pb.collect_ok || s->nqueue)
		return 0;
	/* the last results may still be on their way through the socket (on a loaded machine,
	 * seconds after the collect's end: asked again then, a line answered in its batch was
	 * bought again live); only what never comes is asked again */
	if (p->received < p->r.nlines && now - s->pb.collect_ended < COLLECT_WAIT_MS)
		return 0;
	give_back_rest(s, part);
	if (s->pb.got)
		memset(s->pb.got, 0, s->pb.capgot);
	p->r.ended_ms = wall_ms();
	s->pb.collect_ok = 0;
	if (part_move(s, part, P_COLLECTED) || pbatch_keys_rebuild(s)) {
		s->aborted = 1;
		snprintf(s->abort_msg, sizeof s->abort_msg, "cannot record part %u", part);
	}
	return 1;
}

/* Whether part p (UPLOADED) fits in the provider's enqueued-token limit of its model now. */
static int queue_room(const struct sup *s, const struct part *p)
{
	int64_t limit = s->cfg.batch_queue_tokens;
	if (limit <= 0)
		return 1;
	uint64_t queued = 0;
	for (size_t i = 0; i < s->pb.nparts; i++) {
		const struct part *q = &s->pb.parts[i];
		if (q->r.state == P_SUBMITTED && !strcmp(q->r.model, p->r.model))
			queued += q->r.est_tokens;
	}
	return queued == 0 || queued + p->r.est_tokens <= (uint64_t)limit;
}

static int on_disk(const struct sup *s, uint32_t part, const char *suffix)
{
	char path[PATHS_MAX];
	part_path(path, sizeof path, s->pb.dir, part, suffix);
	return access(path, F_OK) == 0;
}

static int start(struct sup *s, enum pb_op op, uint32_t part, buf *args)
{
	int rc = pbatch_op_start(s, op, part, buf_cstr(args));
	buf_free(args);
	return rc;
}

static int next_op(struct sup *s);

/* The next op, by what unblocks most: a lookup of unrecorded batches before any create, then
 * uploads, collecting, creates and polls. Returns 1 when one was started. */
static int next_op(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	int64_t now = now_ms();
	char path[PATHS_MAX];
	buf a;
	buf_init(&a);
	if (pb->lookup) {
		buf_puts(&a, "{\"limit\":100");
		if (pb->list_after[0])
			buf_printf(&a, ",\"after\":\"%s\"", pb->list_after);
		buf_putc(&a, '}');
		return start(s, PB_LIST, 0, &a);
	}
	int64_t c = collecting(pb);
	if (c >= 0) {
		if (collect_finished(s, (uint32_t)c) || pb->collect_ok)
			return 0;
		struct part *p = &pb->parts[c];
		if (p->next_look > now)
			return 0;
		p->received = 0;
		pb->collect_gen++;
		buf_printf(&a, "{\"session\":\"%s\",\"part\":%u,\"gen\":%u,\"status\":", s->session,
			   (unsigned)c, pb->collect_gen);
		buf_json_str(&a, p->r.status, strlen(p->r.status));
		buf_puts(&a, ",\"error\":");
		buf_json_str(&a, p->r.error, strlen(p->r.error));
		static const struct { const char *key, *suffix; } files[] = {
			{ "input", ".jsonl" }, { "index", ".idx" }, { "output", ".out.jsonl" },
			{ "errors", ".err.jsonl" } };
		for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
			part_path(path, sizeof path, s->pb.dir, (uint32_t)c, files[i].suffix);
			buf_printf(&a, ",\"%s\":", files[i].key);
			buf_json_str(&a, path, strlen(path));
		}
		buf_printf(&a, ",\"max_attempts\":%lld}", (long long)s->cfg.max_attempts);
		return start(s, PB_COLLECT, (uint32_t)c, &a);
	}
	for (size_t i = 0; i < pb->nparts; i++) {
		struct part *p = &pb->parts[i];
		if (p->r.state != P_WRITTEN)
			continue;
		part_path(path, sizeof path, s->pb.dir, (uint32_t)i, ".jsonl");
		buf_puts(&a, "{\"path\":");
		buf_json_str(&a, path, strlen(path));
		buf_putc(&a, '}');
		return start(s, PB_UPLOAD, (uint32_t)i, &a);
	}
	for (size_t i = 0; i < pb->nparts; i++) {
		struct part *p = &pb->parts[i];
		if (p->r.state != P_UPLOADED || p->next_look > now || !queue_room(s, p))
			continue;
		char ep[PATHS_MAX];
		pbatch_url(&s->cfg, p->r.endpoint, ep, sizeof ep);
		buf_printf(&a, "{\"input_file_id\":\"%s\",\"endpoint\":\"%s\",\"completion_window\":",
			   p->r.file_id, ep);
		buf_json_str(&a, s->cfg.batch_window, strlen(s->cfg.batch_window));
		buf_printf(&a, ",\"metadata\":{\"kgsup_run\":\"%s\",\"part\":\"%zu\"}}", pb->run_id, i);
		return start(s, PB_CREATE, (uint32_t)i, &a);
	}
	for (size_t i = 0; i < pb->nparts; i++) {
		struct part *p = &pb->parts[i];
		if (p->r.state != P_SUBMITTED || p->next_look > now)
			continue;
		if (pbatch_status_ended(p->r.status)) { /* its files next, then collecting */
			int out = p->r.output_id[0] && !on_disk(s, (uint32_t)i, ".out.jsonl");
			int err = p->r.error_id[0] && !on_disk(s, (uint32_t)i, ".err.jsonl");
			if (!out && !err) {
				buf_free(&a);
				if (part_move(s, (uint32_t)i, P_DOWNLOADED))
					return 0;
				return next_op(s);
			}
			part_path(path, sizeof path, s->pb.dir, (uint32_t)i,
				  out ? ".out.jsonl" : ".err.jsonl");
			buf_printf(&a, "{\"file_id\":\"%s\",\"path\":", out ? p->r.output_id : p->r.error_id);
			buf_json_str(&a, path, strlen(path));
			buf_putc(&a, '}');
			return start(s, PB_DOWNLOAD, (uint32_t)i, &a);
		}
		buf_printf(&a, "{\"id\":\"%s\"}", p->r.batch_id);
		return start(s, PB_GET, (uint32_t)i, &a);
	}
	buf_free(&a);
	return 0;
}

void pbatch_tick(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	if (!pb->on)
		return;
	if (pb->op.op != PB_NONE && !pbatch_op_poll(s))
		return;
	if (s->stopping || s->aborted || now_ms() < pb->next_op)
		return;
	while (pb->op.op == PB_NONE && next_op(s) == 0) {
		/* a part whose files are all on disk moves on without an op */
		int64_t c = collecting(pb);
		if (c < 0 || !collect_finished(s, (uint32_t)c))
			break;
	}
}
