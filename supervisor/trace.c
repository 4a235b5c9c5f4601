/* trace.c: the writer of DIR/trace.jsonl (trace.h): lines built in memory as requests and cache
 * hits come, appended with one write a round, the file rotated to trace.1.jsonl at its cap. */
#include "trace.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static int open_file(struct trace *tr)
{
	tr->fd = open(tr->path, O_RDWR | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	struct stat st;
	if (tr->fd < 0 || fstat(tr->fd, &st) < 0) {
		log_warn("%s: %s; no trace this session", tr->path, nofollow_strerror(errno));
		if (tr->fd >= 0)
			close(tr->fd);
		tr->fd = -1;
		return -1;
	}
	tr->size = (uint64_t)st.st_size;
	/* a session that died in the middle of a write left half a line: end it, so that the
	 * next line starts on a line of its own */
	char last = '\n';
	if (tr->size && pread(tr->fd, &last, 1, (off_t)tr->size - 1) == 1 && last != '\n' &&
	    write(tr->fd, "\n", 1) == 1)
		tr->size++;
	return 0;
}

void trace_open(struct trace *tr, const char *state_dir, double max_mb)
{
	buf_init(&tr->pending);
	buf_init(&tr->round);
	tr->fd = -1;
	if (max_mb <= 0)
		return;
	paths_file(tr->path, sizeof tr->path, state_dir, "trace.jsonl");
	paths_file(tr->old_path, sizeof tr->old_path, state_dir, "trace.1.jsonl");
	tr->file_max = (uint64_t)(max_mb * 1024 * 1024 / 2);
	open_file(tr);
}

/* "2024-05-01T12:00:00.123Z" */
static void put_time(buf *b, int64_t wall_ms)
{
	time_t sec = (time_t)(wall_ms / 1000);
	struct tm tm;
	char s[32];
	gmtime_r(&sec, &tm);
	strftime(s, sizeof s, "%Y-%m-%dT%H:%M:%S", &tm);
	buf_printf(b, "\"queued\":\"%s.%03dZ\"", s, (int)(wall_ms % 1000));
}

/* ,"KEY":MS (microseconds as milliseconds) or ,"KEY":null for -1 */
static void put_ms(buf *b, const char *key, int64_t us)
{
	if (us < 0)
		buf_printf(b, ",\"%s\":null", key);
	else
		buf_printf(b, ",\"%s\":%.1f", key, (double)us / 1000);
}

/* ,"KEY":"text" or ,"KEY":null when text is empty */
static void put_text(buf *b, const char *key, const char *text, size_t len)
{
	buf_printf(b, ",\"%s\":", key);
	if (len)
		buf_json_str(b, text, len);
	else
		buf_puts(b, "null");
}

static const char *stage_name(const struct job *job, uint32_t stage)
{
	return stage < job->n ? job->st[stage].name : "?";
}

static void put_head(buf *b, int64_t wall_ms, uint32_t batch, const char *stage)
{
	buf_putc(b, '{');
	put_time(b, wall_ms);
	buf_printf(b, ",\"batch\":%u,\"stage\":", batch);
	buf_json_str(b, stage, strlen(stage));
}

void trace_request(struct trace *tr, const struct job *job, const struct config *cfg,
		   const struct msg_trace *m)
{
	if (tr->fd < 0)
		return;
	buf *b = &tr->pending;
	const char *stage = stage_name(job, m->stage);
	put_head(b, m->queued_wall_ms, m->batch, stage);
	buf_printf(b, ",\"worker\":%u,\"attempt\":%u,\"cache_hit\":false", m->slot, m->attempt);
	put_ms(b, "granted_ms", m->granted_us);
	put_ms(b, "sent_ms", m->sent_us);
	put_ms(b, "first_byte_ms", m->first_byte_us);
	put_ms(b, "done_ms", m->done_us);
	if (m->http_status)
		buf_printf(b, ",\"http_status\":%u", m->http_status);
	else
		buf_puts(b, ",\"http_status\":null");
	buf_printf(b, ",\"ok\":%s", m->ok ? "true" : "false");
	put_text(b, "cause", m->cause, m->cause_len);
	put_text(b, "error", m->error, m->error_len);
	if (m->retry_after_ms >= 0)
		buf_printf(b, ",\"retry_after_ms\":%lld", (long long)m->retry_after_ms);
	else
		buf_puts(b, ",\"retry_after_ms\":null");
	double cost = config_cost_model(cfg, m->stage < job->n ? job->st[m->stage].model : NULL,
					m->prompt_tokens, m->completion_tokens);
	buf_printf(b, ",\"tokens_in\":%llu,\"tokens_out\":%llu,\"tokens_estimated\":%s,"
		   "\"cost_usd\":%.9g}\n", (unsigned long long)m->prompt_tokens,
		   (unsigned long long)m->completion_tokens, m->tokens_estimated ? "true" : "false",
		   cost);
}

void trace_cache_hit(struct trace *tr, const struct job *job, uint32_t batch, uint32_t stage,
		     uint64_t in, uint64_t out)
{
	if (tr->fd < 0)
		return;
	buf *b = &tr->round;
	put_head(b, wall_ms(), batch, stage_name(job, stage));
	buf_printf(b, ",\"worker\":null,\"attempt\":null,\"cache_hit\":true,\"granted_ms\":null,"
		   "\"sent_ms\":null,\"first_byte_ms\":null,\"done_ms\":0.0,\"http_status\":null,"
		   "\"ok\":true,\"cause\":null,\"error\":null,\"retry_after_ms\":null,"
		   "\"tokens_in\":%llu,\"tokens_out\":%llu,\"tokens_estimated\":false,"
		   "\"cost_usd\":0}\n", (unsigned long long)in, (unsigned long long)out);
}

void trace_round_begin(struct trace *tr)
{
	buf_reset(&tr->round);
}

/* A write that fails turns the trace off for the session, saying so once. */
static int write_out(struct trace *tr, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(tr->fd, p, n);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			log_warn("%s: cannot write: %s; no more trace this session", tr->path,
				 strerror(errno));
			close(tr->fd);
			tr->fd = -1;
			return -1;
		}
		p += w;
		n -= (size_t)w;
		tr->size += (uint64_t)w;
	}
	return 0;
}

/* trace.jsonl becomes trace.1.jsonl (the one there before goes) and a new one starts. */
static int rotate(struct trace *tr)
{
	close(tr->fd);
	tr->fd = -1;
	if (rename(tr->path, tr->old_path) < 0) {
		log_warn("%s: cannot rename it to %s: %s; no more trace this session", tr->path,
			 tr->old_path, strerror(errno));
		return -1;
	}
	return open_file(tr);
}

/* The end of the whole lines from off that fit in the file's room; a line longer than a whole
 * file goes alone into a fresh one. */
static size_t fitting(const struct trace *tr, size_t off)
{
	const buf *b = &tr->pending;
	uint64_t room = tr->size < tr->file_max ? tr->file_max - tr->size : 0;
	size_t end = off;
	while (end < b->len) {
		const char *nl = memchr(b->data + end, '\n', b->len - end);
		size_t next = nl ? (size_t)(nl - b->data) + 1 : b->len;
		if (next - off > room && (end > off || tr->size > 0))
			break;
		end = next;
	}
	return end;
}

static void flush(struct trace *tr)
{
	size_t off = 0;
	while (tr->fd >= 0 && off < tr->pending.len) {
		size_t end = fitting(tr, off);
		if (end == off) {
			if (rotate(tr))
				break;
			continue;
		}
		if (write_out(tr, tr->pending.data + off, end - off))
			break;
		off = end;
	}
	buf_reset(&tr->pending);
}

void trace_round_end(struct trace *tr, int committed)
{
	if (committed && tr->round.len)
		buf_put(&tr->pending, tr->round.data, tr->round.len);
	buf_reset(&tr->round);
	if (tr->fd >= 0 && tr->pending.len)
		flush(tr);
}

void trace_close(struct trace *tr)
{
	trace_round_end(tr, 0);
	if (tr->fd >= 0)
		close(tr->fd);
	tr->fd = -1;
	buf_free(&tr->pending);
	buf_free(&tr->round);
}
