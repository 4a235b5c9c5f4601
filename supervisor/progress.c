/* progress.c: what the run is doing, for the person watching it. On a terminal one line
 * redrawn at most four times a second (batches, percent, rate, ETA, tokens, dollars, 429s,
 * workers), which log lines erase before they print (log.h); otherwise, or with
 * --no-progress, a plain log line every 10 s, so piped output holds no control characters. */
#include "sup.h"
#include "stageview.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <unistd.h>

#define BAR_MS 250
#define LINE_MS 10000
#define BAR_WIDTH 20

void progress_begin(struct sup *s, int wanted)
{
	s->bar = wanted && log_get_level() >= LOG_INFO && isatty(STDERR_FILENO);
	s->done_at_start = s->led.ctr.batches_done;
	s->last_progress = now_ms();
	log_progress_bar(s->bar);
}

static void log_line(struct sup *s, const char *prefix)
{
	const struct counters *c = &s->led.ctr;
	double secs = (double)(now_ms() - s->session_start) / 1000.0;
	log_info("%s%llu/%llu batches done (%llu cached, %llu failed), %llu requests, %llu 429s, "
		 "%llu+%llu tokens, $%.4f, %d workers, %.1f s",
		 prefix, (unsigned long long)c->batches_done,
		 (unsigned long long)ledger_total(&s->led), (unsigned long long)c->batches_cached,
		 (unsigned long long)c->batches_failed, (unsigned long long)c->requests_sent,
		 (unsigned long long)c->http_429, (unsigned long long)c->prompt_tokens,
		 (unsigned long long)c->completion_tokens,
		 run_cost(s), proc_live_workers(s), secs);
	if (!s->job.legacy && s->led.deps) {
		struct stage_counters sc[JOB_MAX_STAGES];
		buf b;
		buf_init(&b);
		ledger_stage_counters(&s->led, sc);
		if (s->job.rows)
			rows_brief(&b, &s->rows, 1);
		else
			stages_brief(&b, &s->job, sc);
		log_info("%s%s:%s", prefix, s->job.rows ? "rows" : "stages", buf_cstr(&b));
		buf_free(&b);
	}
}

static void human(char *out, size_t n, double v)
{
	if (v >= 1e9)
		snprintf(out, n, "%.1fG", v / 1e9);
	else if (v >= 1e6)
		snprintf(out, n, "%.1fM", v / 1e6);
	else if (v >= 1e3)
		snprintf(out, n, "%.1fk", v / 1e3);
	else
		snprintf(out, n, "%.0f", v);
}

static void draw_bar(struct sup *s)
{
	const struct counters *c = &s->led.ctr;
	uint64_t total = ledger_total(&s->led), done = c->batches_done;
	double frac = total ? (double)done / (double)total : 1;
	double secs = (double)(now_ms() - s->session_start) / 1000.0;
	double rate = secs > 0 ? (double)(done - s->done_at_start) / secs : 0;
	char eta[32] = "--:--";
	if (rate > 0 && total >= done) {
		long left = (long)((double)(total - done) / rate + 0.5);
		snprintf(eta, sizeof eta, "%ld:%02ld:%02ld", left / 3600, left / 60 % 60, left % 60);
	}
	char bar[BAR_WIDTH + 1], tok[16];
	int filled = (int)(frac * BAR_WIDTH);
	for (int i = 0; i < BAR_WIDTH; i++)
		bar[i] = i < filled ? '#' : '.';
	bar[BAR_WIDTH] = '\0';
	human(tok, sizeof tok, (double)(c->prompt_tokens + c->completion_tokens));
	buf st;
	buf_init(&st);
	if (!s->job.legacy && s->led.deps) { /* the stages still going first: they fit the width */
		struct stage_counters sc[JOB_MAX_STAGES];
		ledger_stage_counters(&s->led, sc);
		if (s->job.rows)
			rows_brief(&st, &s->rows, 0);
		else
			stages_brief(&st, &s->job, sc);
		if (st.len > 60) { /* a bar that wraps is no longer redrawn in place */
			st.len = 57;
			buf_puts(&st, "...");
		}
	}
	fprintf(stderr, "\r[%s] %llu/%llu %3.0f%% %.1f b/s ETA %s %s tok $%.2f 429s %llu %dw%s\033[K",
		bar, (unsigned long long)done, (unsigned long long)total, frac * 100, rate, eta, tok,
		run_cost(s), (unsigned long long)c->http_429, proc_live_workers(s), buf_cstr(&st));
	buf_free(&st);
	fflush(stderr);
}

void progress_tick(struct sup *s)
{
	int64_t now = now_ms();
	if (now - s->last_progress < (s->bar ? BAR_MS : LINE_MS))
		return;
	s->last_progress = now;
	if (s->bar)
		draw_bar(s);
	else
		log_line(s, "");
}

void progress_end(struct sup *s)
{
	if (s->bar) {
		fputs("\r\033[K", stderr);
		fflush(stderr);
		s->bar = 0;
		log_progress_bar(0);
	}
	log_line(s, "finished: ");
}
