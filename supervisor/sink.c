/* sink.c: what comes back to the supervisor. Results, hellos and invalid answers from the
 * results socket, and the results orphaned workers spooled, are queued here for the next
 * group transaction (round.c); a slot forgets the batch whose result arrived. */
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static void queue_result(struct sup *s, const struct msg_result *m, char *frame, int spooled)
{
	s->queue = xgrow(s->queue, &s->capqueue, s->nqueue, sizeof *s->queue, 64);
	s->queue[s->nqueue] = (struct queued_result){ *m, frame, spooled };
	s->nqueue++;
}

static void on_hello(struct sup *s, const char *frame, size_t len)
{
	struct msg_hello h;
	if (msg_decode_hello(frame, len, &h) || h.slot >= (uint32_t)s->nslots)
		return;
	struct slot *sl = &s->slots[h.slot];
	if (sl->state == SLOT_STARTING && (pid_t)h.pid == sl->proc.pid)
		slot_set(sl, (int)h.slot, SLOT_IDLE);
}

/* Whether any call of the run has been answered (committed, or queued to be). */
static int any_answered(const struct sup *s)
{
	if (s->led.ctr.requests_ok)
		return 1;
	for (size_t i = 0; i < s->nqueue; i++)
		if (s->queue[i].m.status == RES_OK)
			return 1;
	return 0;
}

/* A 404 before any call of the run was answered is the endpoint's, not the batch's: every
 * batch would fail the same way, so the run stops with a hint instead. */
static void first_404(struct sup *s, const struct msg_result *m)
{
	if (s->aborted)
		return;
	const char *base = s->cfg.base_url;
	size_t n = strlen(base);
	while (n && base[n - 1] == '/')
		n--;
	int v1 = n >= 3 && !memcmp(base + n - 3, "/v1", 3);
	s->aborted = 1;
	snprintf(s->abort_msg, sizeof s->abort_msg,
		 "the server answered 404 for %.*s/chat/completions; %s (%.*s)", (int)(n > 200 ? 200 : n),
		 base, v1 ? "is api.base_url right?" : "does api.base_url need /v1?",
		 (int)(m->payload_len > 300 ? 300 : m->payload_len), m->payload);
}

/* Returns 1 if the frame was kept (queued), 0 if the caller frees it. */
static int on_result(struct sup *s, char *frame, size_t len)
{
	struct msg_result m;
	if (msg_decode_result(frame, len, &m)) {
		log_error("malformed result message (%zu bytes) ignored", len);
		return 0;
	}
	if (m.slot == SLOT_BATCH_API && !pbatch_result_in(s, &m))
		return 0; /* a line committed already, collected again after a crash */
	if (m.slot < (uint32_t)s->nslots && slot_result(&s->slots[m.slot], (int)m.slot, m.batch, m.seq))
		ledger_back(&s->led, m.batch);
	if (m.status == RES_OK && m.latency_us)
		report_latency(s, m.latency_us);
	if (m.status == RES_NOCONN)
		reach_lost(&s->reach, &s->cfg, m.batch, m.payload, m.payload_len);
	else if (m.http_status)
		reach_answered(&s->reach, &s->cfg);
	if (m.status == RES_FAILED && m.http_status == 404 && !any_answered(s)) {
		m.status = RES_ABORT; /* the batch stays pending: it is not its fault */
		first_404(s, &m);
	}
	if (m.status == RES_ABORT && !s->aborted) {
		s->aborted = 1;
		snprintf(s->abort_msg, sizeof s->abort_msg, "%.*s", (int)m.payload_len, m.payload);
	}
	if (m.status == RES_ABORT || m.status == RES_GAVEUP)
		ledger_give_back(&s->led, m.batch, m.attempt, 0);
	queue_result(s, &m, frame, 0);
	return 1;
}

/* A worker's record of one request, for DIR/trace.jsonl. */
static void on_trace(struct sup *s, const char *frame, size_t len)
{
	struct msg_trace m;
	if (!msg_decode_trace(frame, len, &m))
		trace_request(&s->trace, &s->job, &s->cfg, &m);
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

/* A worker's asks to the shared broker go unanswered, or are answered again (bwait.h). */
static void on_bwait(struct sup *s, const char *frame, size_t len)
{
	struct msg_bwait m;
	if (!msg_decode_bwait(frame, len, &m))
		bwait_take(&s->bwait, &m);
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
		else if (type == MSG_TRACE)
			on_trace(s, frame, len);
		else if (type == MSG_BWAIT)
			on_bwait(s, frame, len);
		else
			log_error("unexpected message type %d on the results socket", type);
		if (!kept)
			free(frame);
	}
}

/* A spool file that cannot be read is renamed NAME.unread, so it is said once and kept for a
 * look, not read again every second. */
static void set_aside(const char *path, const char *why)
{
	char to[PATHS_MAX];
	snprintf(to, sizeof to, "%s.unread", path);
	if (rename(path, to) == 0)
		log_warn("%s: %s; kept as %s, its batch is asked for again", path, why, to);
	else
		log_warn("%s: %s; left alone", path, why);
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
		char *frame = read_file_nofollow(path, (size_t)1 << 30, &len);
		struct msg_result m;
		if (!frame || msg_decode_result(frame, len, &m)) {
			set_aside(path, frame ? "not a result of this version" : nofollow_strerror(errno));
			free(frame);
			continue;
		}
		queue_result(s, &m, frame, 1);
		s->spooled = xrealloc(s->spooled, (s->nspooled + 1) * sizeof *s->spooled);
		s->spooled[s->nspooled++] = xstrdup(path);
		n++;
	}
	closedir(d);
	return n;
}
