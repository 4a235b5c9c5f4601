/* collect.c: `kgsup __batchop collect STATE_DIR`: the lines of a provider batch's output and
 * error files become results, exactly as a live call's answer would (call_answered: the same
 * envelope, schema and normalisation checks, the same invalid answers kept, the same splits
 * on finish_reason "length"), sent over the supervisor's results socket as slot SLOT_BATCH_API.
 * Standard input: {"session", "part", "gen", "status", "error", "input", "index", "output",
 * "errors"}: the supervisor's socket directory, the part, the collect's number (each result's
 * seq: the supervisor counts only this collect's), the batch's final status and first error, and
 * the part's files (pbatch.h). The index holds what a BATCH message would carry for each line
 * (batch, stage, attempt, where the body is in the input file, chunk ids). A line the provider
 * did not answer (expired, cancelled, failed, missing) comes back RES_RETRY (RES_FAILED past
 * retry.max_attempts) with what the provider said. The files are streamed, a line at a time;
 * sends wait for the supervisor (its socket's high-water mark, worker_send), so neither side
 * holds a whole file. */
#include "worker.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/sig.h"
#include "../common/strmap.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define COLLECT_LINGER_MS 30000

struct line {
	uint32_t batch, stage, attempt;
	uint64_t off;
	size_t len;
	char *chunks; /* '\n'-separated */
	unsigned char key[HASH_LEN];
	int seen;
};

struct collect {
	struct worker *w;
	struct line *lines;
	size_t n, cap;
	struct strmap ids; /* custom_id -> line */
	int input_fd;
	buf body, msg, tmp;
	const char *status, *error;
	size_t sent, answered;
	uint32_t gen; /* this collect's number, in each result's seq (the supervisor's count) */
};

static int unhex(const char *hex, unsigned char *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		unsigned v;
		if (sscanf(hex + 2 * i, "%2x", &v) != 1)
			return -1;
		out[i] = (unsigned char)v;
	}
	return hex[2 * n] == '\0' || hex[2 * n] == '\t' ? 0 : -1;
}

/* The index: custom_id, batch, stage, attempt, offset, length, the chunk ids (0x1f between),
 * tab-separated, a line each. */
static int load_index(struct collect *c, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	if (!f) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0;
	ssize_t len;
	int rc = 0;
	while (!rc && (len = getline(&line, &cap, f)) > 0) {
		if (line[len - 1] == '\n')
			line[--len] = '\0';
		struct line l = { 0 };
		char id[2 * HASH_LEN + 1];
		unsigned long long off;
		int used = 0;
		if (sscanf(line, "%64[0-9a-f]\t%u\t%u\t%u\t%llu\t%zu\t%n", id, &l.batch, &l.stage,
			   &l.attempt, &off, &l.len, &used) != 6 || !used || unhex(id, l.key, HASH_LEN)) {
			snprintf(err, errlen, "%s: line %zu is not an index line", path, c->n + 1);
			rc = -1;
			break;
		}
		l.off = off;
		l.chunks = xstrdup(line + used);
		for (char *p = l.chunks; *p; p++)
			if (*p == '\x1f')
				*p = '\n';
		c->lines = xgrow(c->lines, &c->cap, c->n, sizeof *c->lines, 1024);
		c->lines[c->n] = l;
		map_put(&c->ids, id, strlen(id), (uint32_t)c->n);
		c->n++;
	}
	free(line);
	fclose(f);
	return rc;
}

static void send_result(struct collect *c, struct msg_result *res)
{
	struct worker *w = c->w;
	if (res->status == RES_OK) {
		res->payload = w->answer.data ? w->answer.data : "";
		res->payload_len = w->answer.len;
	} else {
		res->payload = w->error;
		res->payload_len = strlen(w->error);
	}
	msg_encode_result(&c->msg, res);
	if (worker_send(w, c->msg.data, c->msg.len) == 0)
		c->sent++;
}

/* The BATCH message line l would have been sent as, its body read from the input file. */
static int batch_of(struct collect *c, struct line *l, struct msg_batch *b)
{
	buf_reset(&c->body);
	buf_reserve(&c->body, l->len + 1);
	ssize_t r = pread(c->input_fd, c->body.data, l->len, (off_t)l->off);
	if (r != (ssize_t)l->len)
		return -1;
	c->body.len = l->len;
	*b = (struct msg_batch){ .batch = l->batch, .seq = c->gen, .attempt = l->attempt, .stage = l->stage,
				 .key = l->key, .chunk_ids = l->chunks, .chunk_ids_len = strlen(l->chunks),
				 .body = c->body.data, .body_len = c->body.len };
	return 0;
}

/* Not answered by the provider: asked again (or failed past the attempts allowed). */
static void unanswered(struct collect *c, struct line *l, const char *why)
{
	struct worker *w = c->w;
	struct msg_batch b = { .batch = l->batch, .seq = c->gen, .key = l->key, .attempt = l->attempt };
	struct msg_result res;
	worker_result_for(w, &b, &res);
	uint32_t attempt = l->attempt + 1;
	res.attempt = attempt;
	if (attempt >= (uint32_t)w->cfg.max_attempts) {
		res.status = RES_FAILED;
		snprintf(w->error, sizeof w->error, "gave up after %u attempts; last: the Batch API: %s",
			 attempt, why);
	} else {
		res.status = RES_RETRY;
		snprintf(w->error, sizeof w->error, "the Batch API: %s", why);
	}
	send_result(c, &res);
}

static void one_line(struct collect *c, const char *text, size_t len, const char *file, size_t no)
{
	struct worker *w = c->w;
	json *o = json_parse(text, len, NULL, 0);
	const char *id = o ? json_string(json_get(o, "custom_id")) : NULL;
	uint32_t k = id ? map_get(&c->ids, id, strlen(id)) : UINT32_MAX;
	if (k == UINT32_MAX || c->lines[k].seen) {
		log_warn("%s: line %zu: %s", file, no,
			 !o ? "not JSON" : !id ? "no custom_id" : k == UINT32_MAX
				 ? "a custom_id this part never sent: ignored" : "a custom_id seen twice: ignored");
		json_free(o);
		return;
	}
	struct line *l = &c->lines[k];
	l->seen = 1;
	const json *resp = json_get(o, "response");
	const json *code = resp ? json_get(resp, "status_code") : NULL;
	if (!code || json_kind(code) != J_NUMBER) {
		const json *e = json_get(o, "error");
		const char *ec = e ? json_string(json_get(e, "code")) : NULL;
		const char *em = e ? json_string(json_get(e, "message")) : NULL;
		buf_reset(&c->tmp);
		buf_printf(&c->tmp, "%s%s%s", ec ? ec : "no response", em ? ": " : "", em ? em : "");
		unanswered(c, l, buf_cstr(&c->tmp));
		json_free(o);
		return;
	}
	struct msg_batch b;
	if (batch_of(c, l, &b)) {
		unanswered(c, l, "its request is missing from the part's file");
		json_free(o);
		return;
	}
	http_response_free(&w->resp);
	http_response_init(&w->resp);
	w->resp.status = (long)json_number(code);
	const json *body = json_get(resp, "body");
	if (body)
		json_write(body, &w->resp.body);
	struct msg_result res;
	call_answered(w, &b, &res);
	c->answered += res.status == RES_OK;
	send_result(c, &res);
	json_free(o);
}

static int read_lines(struct collect *c, const char *path)
{
	if (!path || !*path)
		return 0;
	FILE *f = fopen(path, "re");
	if (!f)
		return errno == ENOENT ? 0 : (log_error("%s: %s", path, strerror(errno)), -1);
	char *line = NULL;
	size_t cap = 0, no = 0;
	ssize_t len;
	while (!c->w->results_gone && !sig_stop_requested() && (len = getline(&line, &cap, f)) > 0) {
		no++;
		while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
			len--;
		if (len)
			one_line(c, line, (size_t)len, path, no);
	}
	int bad = ferror(f);
	free(line);
	fclose(f);
	return bad ? -1 : 0;
}

static const char *arg(const json *a, const char *key)
{
	const char *v = json_string(json_get(a, key));
	return v ? v : "";
}

int batchop_collect(const char *state_dir, const char *args, size_t len)
{
	static struct worker w;
	struct collect c = { .w = &w, .input_fd = -1 };
	char err[512] = "";
	json *a = json_parse(args, len, err, sizeof err);
	const char *session = a ? arg(a, "session") : "";
	int rc = EXIT_USAGE;
	if (!a || !paths_session_ok(session)) {
		log_error("collect: the arguments are not {\"session\": ...}: %s", err);
		json_free(a);
		return EXIT_USAGE;
	}
	w.slot = SLOT_BATCH_API;
	w.state_dir = state_dir;
	w.session = session;
	w.results_wait = 1;
	c.gen = (uint32_t)json_number(json_get(a, "gen"));
	http_response_init(&w.resp);
	buf_init(&w.answer);
	buf_init(&c.body);
	buf_init(&c.msg);
	buf_init(&c.tmp);
	char ep[PATHS_MAX];
	paths_endpoint(ep, sizeof ep, state_dir, session, "results", -1);
	if (worker_load(&w, 0, err, sizeof err) || load_index(&c, arg(a, "index"), err, sizeof err)) {
		log_error("collect: %s", err);
	} else if ((c.input_fd = open(arg(a, "input"), O_RDONLY | O_CLOEXEC)) < 0) {
		log_error("collect: %s: %s", arg(a, "input"), strerror(errno));
	} else if (!(w.results = zsock_connect_hwm(ZS_PUSH, ep, RESULTS_HWM))) {
		log_error("collect: cannot connect to %s: %s", ep, strerror(errno));
		rc = EXIT_INTERNAL;
	} else if (read_lines(&c, arg(a, "output")) || read_lines(&c, arg(a, "errors"))) {
		rc = EXIT_INTERNAL;
	} else {
		const char *status = arg(a, "status"), *error = arg(a, "error");
		buf_reset(&c.tmp);
		buf_printf(&c.tmp, "no answer in its batch (%s%s%s)", *status ? status : "ended",
			   *error ? "; " : "", error);
		for (size_t i = 0; i < c.n; i++)
			if (!c.lines[i].seen)
				unanswered(&c, &c.lines[i], buf_cstr(&c.tmp));
		log_info("part %.0f: %zu lines, %zu answered", json_number(json_get(a, "part")), c.n,
			 c.answered);
		rc = EXIT_OK;
		if (w.results_gone || sig_stop_requested()) {
			log_warn("collect: the supervisor takes no more results (%zu sent); the part is "
				 "collected again", c.sent);
			rc = EXIT_STOPPED;
		}
	}
	if (w.results) {
		/* what it sent leaves before it exits; unless nobody takes it any more */
		zsock_linger(w.results, rc == EXIT_STOPPED ? 0 : COLLECT_LINGER_MS);
		zsock_close(w.results);
		zsock_term();
	}
	if (c.input_fd >= 0)
		close(c.input_fd);
	for (size_t i = 0; i < c.n; i++)
		free(c.lines[i].chunks);
	free(c.lines);
	map_free(&c.ids);
	buf_free(&c.body);
	buf_free(&c.msg);
	buf_free(&c.tmp);
	buf_free(&w.answer);
	http_response_free(&w.resp);
	names_free(w.names);
	config_free(&w.cfg);
	for (size_t i = 0; i < w.nstages; i++)
		schema_free(w.stages[i].schema);
	json_free(a);
	return rc;
}
