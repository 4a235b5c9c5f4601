/* pbatch_steps.c: what the end of a Batch API op means for its part (pbatch.h): the provider's
 * answer read and recorded, the part moved on, or the op tried again after a backoff. */
#include "pbatch.h"
#include "pbatch_impl.h"
#include "sup.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The statuses after which a batch changes no more (OpenAI's batch object). */
static const char *const ended[] = { "completed", "failed", "expired", "cancelled" };

int pbatch_status_ended(const char *status)
{
	for (size_t i = 0; i < sizeof ended / sizeof ended[0]; i++)
		if (!strcmp(status, ended[i]))
			return 1;
	return 0;
}

static void copy_str(char *dst, size_t len, const json *obj, const char *key)
{
	const char *v = json_string(json_get(obj, key));
	snprintf(dst, len, "%s", v ? v : "");
}

/* An id of the provider's, checked before it is put in a URL or a record. */
static int copy_id(char *dst, const json *obj, const char *key)
{
	const char *v = json_string(json_get(obj, key));
	if (!v) {
		dst[0] = '\0';
		return 0;
	}
	if (!pbatch_id_ok(v))
		return -1;
	snprintf(dst, PART_ID_LEN, "%s", v);
	return 0;
}

static uint32_t count(const json *counts, const char *key)
{
	const json *v = json_get(counts, key);
	double d = v && json_kind(v) == J_NUMBER ? json_number(v) : 0;
	return d > 0 && d < 4e9 ? (uint32_t)d : 0;
}

/* The batch object's status, counts, files and first error, into p. */
static int read_batch(struct part *p, const json *o)
{
	copy_str(p->r.status, sizeof p->r.status, o, "status");
	const json *c = json_get(o, "request_counts");
	p->r.total = count(c, "total");
	p->r.completed = count(c, "completed");
	p->r.failed = count(c, "failed");
	const json *errs = json_get(json_get(o, "errors"), "data");
	const json *e = errs ? json_first(errs) : NULL;
	if (e) {
		char code[64], msg[120];
		copy_str(code, sizeof code, e, "code");
		copy_str(msg, sizeof msg, e, "message");
		snprintf(p->r.error, sizeof p->r.error, "%s: %s", code, msg);
	}
	return copy_id(p->r.output_id, o, "output_file_id") ||
	       copy_id(p->r.error_id, o, "error_file_id") ? -1 : 0;
}

static void grow_wait(struct sup *s, struct part *p)
{
	int64_t first = (int64_t)(s->cfg.batch_poll_s * 1000);
	if (p->wait_ms < first)
		p->wait_ms = first;
	p->next_look = now_ms() + p->wait_ms;
	p->wait_ms = p->wait_ms * 3 / 2 > PBATCH_POLL_MAX_MS ? PBATCH_POLL_MAX_MS : p->wait_ms * 3 / 2;
}

static void refused_for_queue(struct sup *s, uint32_t n, struct part *p)
{
	p->r.refusals++;
	p->r.batch_id[0] = '\0';
	log_info("part %u: the provider refused it for its enqueued-token limit (%s); submitted "
		 "again when room frees", n, p->r.error);
	grow_wait(s, p);
	part_move(s, n, P_UPLOADED);
}

static void got_batch(struct sup *s, uint32_t n, const json *o)
{
	struct part *p = &s->pb.parts[n];
	if (read_batch(p, o)) {
		log_warn("part %u: the provider's answer has an id kgsup will not use", n);
		grow_wait(s, p);
		return;
	}
	if (!strcmp(p->r.status, "failed") && strstr(p->r.error, "token_limit_exceeded")) {
		refused_for_queue(s, n, p);
		return;
	}
	if (pbatch_status_ended(p->r.status)) {
		log_info("part %u: batch %s %s (%u of %u lines answered, %u failed)", n, p->r.batch_id,
			 p->r.status, p->r.completed, p->r.total, p->r.failed);
		p->next_look = 0;
	} else {
		grow_wait(s, p);
	}
	part_move(s, n, P_SUBMITTED);
}

/* A page of the provider's batches: those of this run made for a part whose create was never
 * recorded are adopted, so that its requests are not submitted twice. */
static void got_list(struct sup *s, const json *o)
{
	struct pbatch *pb = &s->pb;
	const json *data = json_get(o, "data");
	for (const json *b = data ? json_first(data) : NULL; b; b = json_next(b)) {
		const json *md = json_get(b, "metadata");
		const char *run = json_string(json_get(md, "kgsup_run"));
		const char *part = json_string(json_get(md, "part"));
		const char *file = json_string(json_get(b, "input_file_id"));
		const char *status = json_string(json_get(b, "status"));
		char id[PART_ID_LEN];
		if (!run || strcmp(run, pb->run_id) || !part || !file || !status ||
		    copy_id(id, b, "id") || !id[0])
			continue;
		unsigned long n = strtoul(part, NULL, 10);
		if (n >= pb->nparts || pb->parts[n].r.state != P_UPLOADED ||
		    strcmp(pb->parts[n].r.file_id, file) || !strcmp(status, "failed"))
			continue;
		struct part *p = &pb->parts[n];
		snprintf(p->r.batch_id, sizeof p->r.batch_id, "%s", id);
		p->r.submitted_ms = wall_ms();
		p->next_look = 0;
		log_info("part %lu: found its batch %s at the provider (made before a crash or stop): "
			 "picked up, not submitted again", n, id);
		part_move(s, (uint32_t)n, P_SUBMITTED);
	}
	const char *last = json_string(json_get(o, "last_id"));
	const json *more = json_get(o, "has_more");
	if (more && json_kind(more) == J_TRUE && last && pbatch_id_ok(last) && ++pb->list_pages < 50) {
		snprintf(pb->list_after, sizeof pb->list_after, "%s", last);
		return;
	}
	pb->lookup = 0;
	pb->list_after[0] = '\0';
	pb->list_pages = 0;
}

static void failed(struct sup *s, enum pb_op op, uint32_t n, int code)
{
	struct pbatch *pb = &s->pb;
	if (code == EXIT_USAGE) { /* kgsup asked its own role wrongly: trying again cannot help */
		s->aborted = 1;
		snprintf(s->abort_msg, sizeof s->abort_msg,
			 "the %s of part %u was refused by kgsup's own Batch API role (the log above "
			 "says why)", pbatch_op_name(op), n);
		return;
	}
	if (code == EXIT_ABORTED && op != PB_COLLECT) {
		s->aborted = 1;
		snprintf(s->abort_msg, sizeof s->abort_msg,
			 "the Batch API refused the %s of part %u (its message is in the log above)",
			 pbatch_op_name(op), n);
		return;
	}
	if (op == PB_CREATE) /* it may have been made all the same: look before making another */
		pb->lookup = 1;
	pb->backoff_ms = pb->backoff_ms ? pb->backoff_ms * 2 : 1000;
	if (pb->backoff_ms > PBATCH_BACKOFF_MAX_MS)
		pb->backoff_ms = PBATCH_BACKOFF_MAX_MS;
	pb->next_op = now_ms() + pb->backoff_ms;
	log_warn("part %u: %s did not succeed (exit %d); trying again in %lld ms", n,
		 pbatch_op_name(op), code, (long long)pb->backoff_ms);
}

void pbatch_step_done(struct sup *s, enum pb_op op, uint32_t n, int code, const char *out,
		      size_t len)
{
	struct pbatch *pb = &s->pb;
	if (code != EXIT_OK) {
		failed(s, op, n, code);
		return;
	}
	if (op == PB_COLLECT) {
		pb->collect_ok = 1;
		pb->collect_ended = now_ms();
		pb->backoff_ms = 0;
		return;
	}
	char err[200];
	json *o = json_parse(out, len, err, sizeof err);
	if (!o || json_kind(o) != J_OBJECT) {
		log_warn("part %u: %s: the answer is not a JSON object: %s", n, pbatch_op_name(op),
			 o ? "another value" : err);
		json_free(o);
		failed(s, PB_GET, n, EXIT_FAILED);
		return;
	}
	pb->backoff_ms = 0;
	struct part *p = n < pb->nparts ? &pb->parts[n] : NULL;
	switch (op) {
	case PB_UPLOAD:
		if (copy_id(p->r.file_id, o, "id") || !p->r.file_id[0]) {
			failed(s, op, n, EXIT_FAILED);
			break;
		}
		part_move(s, n, P_UPLOADED);
		break;
	case PB_CREATE:
		if (copy_id(p->r.batch_id, o, "id") || !p->r.batch_id[0]) {
			failed(s, op, n, EXIT_FAILED);
			break;
		}
		p->r.submitted_ms = wall_ms();
		p->r.error[0] = '\0';
		log_info("part %u: submitted as batch %s (%u requests)", n, p->r.batch_id, p->r.nlines);
		got_batch(s, n, o);
		break;
	case PB_GET: got_batch(s, n, o); break;
	case PB_LIST: got_list(s, o); break;
	case PB_DOWNLOAD: p->next_look = 0; break;
	default: break;
	}
	json_free(o);
}
