/* report.c: the account of a session, printed when it ends and kept as DIR/report.json: wall
 * time, batches (with the reason of each failure), requests, errors by cause, tokens, dollars
 * spent and saved by the cache, latency percentiles of the calls and throughput. Totals are
 * over the whole run (every session); latency and throughput are this session's. */
#include "sup.h"
#include "pbatch_view.h"
#include "rowreport.h"
#include "stageview.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REPORT_MAX_FAILURES 100

/* Latencies go in buckets of 1 us below 16 us, above that 16 buckets per power of two: a
 * bucket is at most 1/16 of its values wide, so a percentile read from it is off by under
 * 3.2% (its middle is reported), in constant memory whatever the number of calls. */
static size_t latency_bucket(uint64_t us)
{
	if (us < 16)
		return (size_t)us;
	if (us >= (uint64_t)1 << 40)
		us = ((uint64_t)1 << 40) - 1;
	int e = 63 - __builtin_clzll(us); /* 4..39 */
	return 16 + (size_t)(e - 4) * 16 + (size_t)((us >> (e - 4)) - 16);
}

/* The middle of bucket i, in microseconds. */
static double bucket_middle_us(size_t i)
{
	if (i < 16)
		return (double)i;
	int e = (int)((i - 16) / 16) + 4;
	double low = (double)(((i - 16) % 16 + 16) << (e - 4));
	return low + (double)((uint64_t)1 << (e - 4)) / 2 - 0.5;
}

void report_latency(struct sup *s, uint64_t us)
{
	s->latency_hist[latency_bucket(us)]++;
	s->nlatency++;
}

/* The p-th percentile (nearest rank) in milliseconds. */
static double percentile_ms(const struct sup *s, double p)
{
	if (!s->nlatency)
		return 0;
	uint64_t rank = (uint64_t)(p / 100.0 * (double)s->nlatency + 0.999999), seen = 0;
	if (rank < 1)
		rank = 1;
	for (size_t i = 0; i < LATENCY_BUCKETS; i++) {
		seen += s->latency_hist[i];
		if (seen >= rank)
			return bucket_middle_us(i) / 1000.0;
	}
	return bucket_middle_us(LATENCY_BUCKETS - 1) / 1000.0;
}

/* "failures":[{"batch":N,"error":"..."}] of batches failed for good (the first 100). */
static void put_failures(struct sup *s, buf *b)
{
	buf_puts(b, "\"failures\":[");
	store_txn *t = store_begin(s->db, 0);
	int n = 0;
	uint64_t want = s->led.ctr.batches_failed < REPORT_MAX_FAILURES ? s->led.ctr.batches_failed
								    : REPORT_MAX_FAILURES;
	for (uint32_t i = 0; t && i < s->led.nbatches && (uint64_t)n < want; i++) {
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

/* What the Batch API took off: pricing.batch_discount of its tokens' live price. */
static double batch_saved(const struct sup *s)
{
	double full = 0;
	for (size_t i = 0; i < s->pb.nparts; i++)
		full += s->pb.parts[i].r.cost_usd;
	return full * s->cfg.batch_discount;
}

double run_cost(const struct sup *s)
{
	const struct counters *c = &s->led.ctr;
	double saved = batch_saved(s);
	if (s->job.legacy || !s->led.deps)
		return config_cost_usd(&s->cfg, c->prompt_tokens, c->completion_tokens) - saved;
	struct stage_counters sc[JOB_MAX_STAGES];
	ledger_stage_counters(&s->led, sc);
	return stages_cost(&s->job, &s->cfg, sc) - saved;
}

static double run_saved(const struct sup *s)
{
	const struct counters *c = &s->led.ctr;
	if (s->job.legacy || !s->led.deps)
		return config_cost_usd(&s->cfg, c->saved_prompt_tokens, c->saved_completion_tokens);
	struct stage_counters sc[JOB_MAX_STAGES];
	ledger_stage_counters(&s->led, sc);
	return stages_saved(&s->job, &s->cfg, sc);
}

/* ,"stages":{...},"contexts":[{"batch","stage","document","tokens","trimmed"}] of the batches
 * sent with a {{context}} (runs with stages). */
static void put_stages(struct sup *s, buf *b)
{
	if (s->job.legacy || !s->led.deps)
		return;
	struct stage_counters sc[JOB_MAX_STAGES];
	ledger_stage_counters(&s->led, sc);
	stages_json(b, &s->job, &s->cfg, sc);
	buf_puts(b, ",\"contexts\":[");
	store_txn *t = store_begin(s->db, 0);
	int n = 0;
	for (uint32_t i = 0; t && i < s->led.nbatches; i++) {
		struct batch_ext x;
		const void *v;
		size_t len;
		if (batchx_read(t, i, &x) || !x.ctx_tokens || x.stage >= s->job.n)
			continue;
		buf_printf(b, "%s{\"batch\":%u,\"stage\":\"%s\",\"document\":", n++ ? "," : "", i,
			   s->job.st[x.stage].name);
		if (!record_get(t, DB_DOCS, x.doc, &v, &len) && len >= 4 && rd_u32be(v) <= len - 4)
			buf_json_str(b, (const char *)v + 4, rd_u32be(v));
		else
			buf_puts(b, "null");
		buf_printf(b, ",\"tokens\":%u,\"trimmed\":%u}", x.ctx_tokens, x.ctx_trimmed);
	}
	store_abort(t);
	buf_putc(b, ']');
}

/* {"exit_code","state","reason","session_wall_s","elapsed_s","model" */
static void put_head(const struct sup *s, buf *b, int exit_code, double wall)
{
	buf_printf(b, "{\"exit_code\":%d,\"state\":\"%s\",\"reason\":", exit_code,
		   run_state_name(s->run_state));
	if (s->run_state == RUN_ABORTED)
		buf_json_str(b, s->abort_msg, strlen(s->abort_msg));
	else
		buf_puts(b, "null");
	buf_printf(b, ",\"session_wall_s\":%.3f,\"elapsed_s\":%.3f,\"model\":", wall,
		   (double)s->led.ctr.elapsed_ms / 1000.0);
	buf_json_str(b, s->cfg.model, strlen(s->cfg.model));
}

void report_write(struct sup *s, int exit_code)
{
	const struct counters *c = &s->led.ctr;
	double wall = (double)(now_ms() - s->session_start) / 1000.0;
	double cost = run_cost(s);
	double saved = run_saved(s);
	uint64_t other = c->errors - c->http_429 - c->err_server - c->err_transport - c->err_invalid;
	if (other > c->errors)
		other = 0; /* counters from before the causes were counted */
	double p50 = percentile_ms(s, 50);
	double p95 = percentile_ms(s, 95);
	double p99 = percentile_ms(s, 99);
	uint64_t done_now = c->batches_done - s->done_at_start;
	buf b;
	buf_init(&b);
	put_head(s, &b, exit_code, wall);
	buf_printf(&b, ",\"batches\":{\"total\":%llu,\"done\":%llu,\"cached\":%llu,\"failed\":%llu,"
		   "\"blocked\":%llu,\"split\":%llu,",
		   (unsigned long long)ledger_total(&s->led), (unsigned long long)c->batches_done,
		   (unsigned long long)c->batches_cached, (unsigned long long)c->batches_failed,
		   (unsigned long long)c->batches_blocked, (unsigned long long)c->batches_split);
	put_failures(s, &b);
	buf_printf(&b, "},\"requests\":{\"sent\":%llu,\"ok\":%llu,\"retried\":%llu},"
		   "\"errors_by_cause\":{\"http_429\":%llu,\"server\":%llu,\"transport\":%llu,"
		   "\"invalid_answer\":%llu,\"other\":%llu},"
		   "\"items_dropped\":%llu,"
		   "\"tokens\":{\"prompt\":%llu,\"completion\":%llu,\"estimated_requests\":%llu},"
		   "\"cost_usd\":%.6f,\"cache_saved_usd\":%.6f,"
		   "\"latency_ms\":{\"calls\":%llu,\"p50\":%.1f,\"p95\":%.1f,\"p99\":%.1f},"
		   "\"throughput\":{\"batches_per_s\":%.3f,\"requests_per_s\":%.3f}",
		   (unsigned long long)c->requests_sent, (unsigned long long)c->requests_ok,
		   (unsigned long long)c->retried, (unsigned long long)c->http_429,
		   (unsigned long long)c->err_server, (unsigned long long)c->err_transport,
		   (unsigned long long)c->err_invalid, (unsigned long long)other,
		   (unsigned long long)c->items_dropped, (unsigned long long)c->prompt_tokens,
		   (unsigned long long)c->completion_tokens, (unsigned long long)c->tokens_estimated,
		   cost,
		   saved, (unsigned long long)s->nlatency, p50, p95, p99,
		   wall > 0 ? (double)done_now / wall : 0, wall > 0 ? (double)s->nlatency / wall : 0);
	put_stages(s, &b);
	store_txn *t = s->pb.nparts ? store_begin(s->db, 0) : NULL;
	struct pbatch_view pv;
	if (t && !pbatch_view_read(t, &s->cfg, &pv)) {
		pbatch_view_json(&pv, &b);
		pbatch_view_free(&pv);
	}
	store_abort(t);
	rowreport_member(s->db, &s->job, &s->cfg, &b);
	buf_puts(&b, "}\n");
	char path[PATHS_MAX];
	paths_file(path, sizeof path, s->state_dir, "report.json");
	if (write_file_atomic(path, b.data, b.len, 0600))
		log_warn("%s: cannot write the report", path);
	log_info("report: %llu/%llu batches done (%llu cached, %llu failed), %llu requests "
		 "(%llu 429, %llu server, %llu transport, %llu invalid errors), %llu+%llu tokens, "
		 "$%.4f spent (%.4f saved by the Batch API), $%.4f saved by the cache, latency p50 %.0f ms p95 %.0f ms p99 %.0f ms; "
		 "%s", (unsigned long long)c->batches_done,
		 (unsigned long long)ledger_total(&s->led), (unsigned long long)c->batches_cached,
		 (unsigned long long)c->batches_failed, (unsigned long long)c->requests_sent,
		 (unsigned long long)c->http_429, (unsigned long long)c->err_server,
		 (unsigned long long)c->err_transport, (unsigned long long)c->err_invalid,
		 (unsigned long long)c->prompt_tokens, (unsigned long long)c->completion_tokens, cost,
		 batch_saved(s), saved, p50, p95, p99, path);
	buf_free(&b);
}
