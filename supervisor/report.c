/* report.c: the account of a session, printed when it ends and kept as DIR/report.json: wall
 * time, batches (with the reason of each failure), requests, errors by cause, tokens, dollars
 * spent and saved by the cache, latency percentiles of the calls and throughput. Totals are
 * over the whole run (every session); latency and throughput are this session's. */
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_FAILURES 100

void report_latency(struct sup *s, uint64_t us)
{
	s->latency_us = xgrow(s->latency_us, &s->caplatency, s->nlatency, sizeof *s->latency_us, 1024);
	s->latency_us[s->nlatency++] = us > UINT32_MAX ? UINT32_MAX : (uint32_t)us;
}

static int u32_cmp(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
	return x < y ? -1 : x > y;
}

/* The p-th percentile (nearest rank) in milliseconds, of sorted v. */
static double percentile_ms(const uint32_t *v, size_t n, double p)
{
	if (!n)
		return 0;
	size_t rank = (size_t)(p / 100.0 * (double)n + 0.999999);
	if (rank < 1)
		rank = 1;
	if (rank > n)
		rank = n;
	return v[rank - 1] / 1000.0;
}

/* "failures":[{"batch":N,"error":"..."}] of batches failed for good (the first 100). */
static void put_failures(struct sup *s, buf *b)
{
	buf_puts(b, "\"failures\":[");
	store_txn *t = store_begin(s->db, 0);
	int n = 0;
	uint64_t want = s->ctr.batches_failed < REPORT_MAX_FAILURES ? s->ctr.batches_failed
								    : REPORT_MAX_FAILURES;
	for (uint32_t i = 0; t && i < s->plan.nbatches && (uint64_t)n < want; i++) {
		const void *v;
		size_t len;
		struct batch_rec r;
		if (record_get(t, DB_BATCHES, i, &v, &len) || len < sizeof r)
			continue;
		memcpy(&r, v, sizeof r);
		if (r.state != B_FAILED)
			continue;
		buf_printf(b, "%s{\"batch\":%u,\"error\":", n++ ? "," : "", i);
		buf_json_str(b, (const char *)v + sizeof r, len - sizeof r);
		buf_putc(b, '}');
	}
	store_abort(t);
	buf_putc(b, ']');
}

void report_write(struct sup *s, int exit_code)
{
	const struct counters *c = &s->ctr;
	double wall = (double)(now_ms() - s->session_start) / 1000.0;
	if (s->nlatency) /* (qsort of NULL, even for 0 items, is undefined) */
		qsort(s->latency_us, s->nlatency, sizeof *s->latency_us, u32_cmp);
	double cost = config_cost_usd(&s->cfg, c->prompt_tokens, c->completion_tokens);
	double saved = config_cost_usd(&s->cfg, c->saved_prompt_tokens, c->saved_completion_tokens);
	uint64_t other = c->errors - c->http_429 - c->err_server - c->err_transport - c->err_invalid;
	if (other > c->errors)
		other = 0; /* counters from before the causes were counted */
	double p50 = percentile_ms(s->latency_us, s->nlatency, 50);
	double p95 = percentile_ms(s->latency_us, s->nlatency, 95);
	double p99 = percentile_ms(s->latency_us, s->nlatency, 99);
	uint64_t done_now = c->batches_done - s->done_at_start;
	buf b;
	buf_init(&b);
	buf_printf(&b, "{\"exit_code\":%d,\"session_wall_s\":%.3f,\"elapsed_s\":%.3f,\"model\":",
		   exit_code, wall, (double)c->elapsed_ms / 1000.0);
	buf_json_str(&b, s->cfg.model, strlen(s->cfg.model));
	buf_printf(&b, ",\"batches\":{\"total\":%llu,\"done\":%llu,\"cached\":%llu,\"failed\":%llu,"
		   "\"split\":%llu,",
		   (unsigned long long)batches_total(&s->plan, c), (unsigned long long)c->batches_done,
		   (unsigned long long)c->batches_cached, (unsigned long long)c->batches_failed,
		   (unsigned long long)c->batches_split);
	put_failures(s, &b);
	buf_printf(&b, "},\"requests\":{\"sent\":%llu,\"ok\":%llu,\"retried\":%llu},"
		   "\"errors_by_cause\":{\"http_429\":%llu,\"server\":%llu,\"transport\":%llu,"
		   "\"invalid_answer\":%llu,\"other\":%llu},"
		   "\"tokens\":{\"prompt\":%llu,\"completion\":%llu},"
		   "\"cost_usd\":%.6f,\"cache_saved_usd\":%.6f,"
		   "\"latency_ms\":{\"calls\":%zu,\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f},"
		   "\"throughput\":{\"batches_per_s\":%.3f,\"requests_per_s\":%.3f}}\n",
		   (unsigned long long)c->requests_sent, (unsigned long long)c->requests_ok,
		   (unsigned long long)c->retried, (unsigned long long)c->http_429,
		   (unsigned long long)c->err_server, (unsigned long long)c->err_transport,
		   (unsigned long long)c->err_invalid, (unsigned long long)other,
		   (unsigned long long)c->prompt_tokens, (unsigned long long)c->completion_tokens, cost,
		   saved, s->nlatency, p50, p95, p99, wall > 0 ? (double)done_now / wall : 0,
		   wall > 0 ? (double)s->nlatency / wall : 0);
	char path[PATHS_MAX];
	paths_file(path, sizeof path, s->state_dir, "report.json");
	if (write_file_atomic(path, b.data, b.len, 0600))
		log_warn("%s: cannot write the report", path);
	log_info("report: %llu/%llu batches done (%llu cached, %llu failed), %llu requests "
		 "(%llu 429, %llu server, %llu transport, %llu invalid errors), %llu+%llu tokens, "
		 "$%.4f spent, $%.4f saved by the cache, latency p50 %.0f ms p95 %.0f ms p99 %.0f ms; "
		 "%s", (unsigned long long)c->batches_done,
		 (unsigned long long)batches_total(&s->plan, c), (unsigned long long)c->batches_cached,
		 (unsigned long long)c->batches_failed, (unsigned long long)c->requests_sent,
		 (unsigned long long)c->http_429, (unsigned long long)c->err_server,
		 (unsigned long long)c->err_transport, (unsigned long long)c->err_invalid,
		 (unsigned long long)c->prompt_tokens, (unsigned long long)c->completion_tokens, cost,
		 saved, p50, p95, p99, path);
	buf_free(&b);
}
