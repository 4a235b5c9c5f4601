/* status_cmd.c: `kgsup status`: reads the run's counters in a read-only transaction (which never
 * blocks the live supervisor) and tells whether the run is live from its lock. */
#include "status.h"
#include "../lock.h"
#include "../bwait.h"
#include "../stageview.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static const char *state_name(const struct status *st)
{
	return st->live ? "running" : run_state_name(st->c.state);
}

/* The next step for a run that is over: the failed batches can be sent again once the cause
 * is fixed (start on such a run sends nothing: they stay failed until resume retries them). */
static void make_hint(struct status *st, const char *state_dir)
{
	if (st->live)
		return;
	if (st->c.state == RUN_ABORTED)
		snprintf(st->hint, sizeof st->hint, "once the cause is fixed, kgsup resume -s %s goes "
			 "on", state_dir);
	else if (st->c.batches_failed)
		snprintf(st->hint, sizeof st->hint, "%llu batches failed; kgsup resume --retry-failed "
			 "-s %s retries them", (unsigned long long)st->c.batches_failed, state_dir);
}

/* ,"KEY":"text" or ,"KEY":null when text is "". */
static void put_opt_str(buf *b, const char *key, const char *text)
{
	buf_printf(b, ",\"%s\":", key);
	if (*text)
		buf_json_str(b, text, strlen(text));
	else
		buf_puts(b, "null");
}

/* ,"waiting":{...} while a live run waits for its server, else ,"waiting":null. */
static void put_waiting(buf *b, const struct status *st)
{
	if (!st->waiting) {
		buf_puts(b, ",\"waiting\":null");
		return;
	}
	time_t t = (time_t)(st->wait.since_wall / 1000);
	struct tm tm;
	char since[32] = "";
	if (gmtime_r(&t, &tm))
		strftime(since, sizeof since, "%Y-%m-%dT%H:%M:%SZ", &tm);
	char line[1024];
	reach_describe(line, sizeof line, st->wait.since_wall, st->wait.url, st->wait.reason);
	buf_printf(b, ",\"waiting\":{\"since\":\"%s\",\"server\":", since);
	buf_json_str(b, st->wait.url, strlen(st->wait.url));
	buf_puts(b, ",\"reason\":");
	buf_json_str(b, st->wait.reason, strlen(st->wait.reason));
	buf_puts(b, ",\"message\":");
	buf_json_str(b, line, strlen(line));
	buf_putc(b, '}');
}

/* ,"shard":{"index","count"} for a shard, {"count","given":[...]} for shards summed, or null;
 * the chunks and sources status counts are then the shards' own. */
static void put_shard_json(buf *b, const struct status *st)
{
	if (!st->shard.count) {
		buf_puts(b, ",\"shard\":null");
		return;
	}
	if (!st->ngiven) {
		buf_printf(b, ",\"shard\":{\"index\":%u,\"count\":%u}", st->shard.index,
			   st->shard.count);
		return;
	}
	buf_printf(b, ",\"shard\":{\"count\":%u,\"given\":[", st->shard.count);
	for (size_t i = 0; i < st->ngiven; i++)
		buf_printf(b, "%s%u", i ? "," : "", st->given[i]);
	buf_puts(b, "]}");
}

static void print_shard_text(const struct status *st)
{
	if (!st->shard.count)
		return;
	if (!st->ngiven) {
		printf("shard      %u/%u (its documents only)\n", st->shard.index, st->shard.count);
		return;
	}
	printf("shards     %zu of %u summed:", st->ngiven, st->shard.count);
	for (size_t i = 0; i < st->ngiven; i++)
		printf("%s%u", i ? ", " : " ", st->given[i]);
	putchar('\n');
}

/* ,"broker":ENDPOINT or null (limits.broker), ,"waiting_for_broker":{"broker":...,"since_ms":...,
 * "message":...} or null (bwait.h). */
static void put_broker_wait(buf *b, const struct status *st)
{
	buf_puts(b, ",\"broker\":");
	if (st->cfg.broker)
		buf_json_str(b, st->cfg.broker, strlen(st->cfg.broker));
	else
		buf_puts(b, "null");
	if (!st->broker[0]) {
		buf_puts(b, ",\"waiting_for_broker\":null");
		return;
	}
	char line[1024];
	bwait_describe(line, sizeof line, st->broker_since, st->broker);
	buf_puts(b, ",\"waiting_for_broker\":{\"broker\":");
	buf_json_str(b, st->broker, strlen(st->broker));
	buf_printf(b, ",\"since_ms\":%lld,\"message\":", (long long)st->broker_since);
	buf_json_str(b, line, strlen(line));
	buf_putc(b, '}');
}

static void print_json(const struct status *st)
{
	const struct counters *c = &st->c;
	uint64_t total = batches_total(&st->plan, c);
	uint64_t pending = total - c->batches_done - c->batches_failed - c->batches_blocked;
	buf more;
	buf_init(&more);
	stages_json(&more, &st->job, &st->cfg, st->sc);
	buf_puts(&more, ",\"blocked_by\":[");
	for (int i = 0; i < st->nreasons; i++) {
		buf_puts(&more, i ? ",{\"reason\":" : "{\"reason\":");
		buf_json_str(&more, st->reasons[i].text, strlen(st->reasons[i].text));
		buf_printf(&more, ",\"batches\":%llu}", (unsigned long long)st->reasons[i].n);
	}
	buf_putc(&more, ']');
	if (st->job.rows) {
		buf_puts(&more, ",\"rows\":");
		row_tally_json(&more, &st->job, st->rows);
		buf_printf(&more, ",\"tables\":{\"tables\":%llu,\"rows\":%llu,\"skipped\":%llu,"
			   "\"duplicates\":%llu},\"row_answers\":{",
			   (unsigned long long)st->rows_plan.tables,
			   (unsigned long long)st->rows_plan.rows,
			   (unsigned long long)st->rows_plan.skipped,
			   (unsigned long long)st->rows_plan.duplicates);
		for (size_t i = 0, n = 0; i < st->job.n; i++)
			if (st->job.st[i].over == OVER_ROWS)
				buf_printf(&more, "%s\"%s\":{\"texts\":%llu,\"dropped_items\":%llu,"
					   "\"asked_again\":%llu}", n++ ? "," : "", st->job.st[i].name,
					   (unsigned long long)st->rc[i].texts,
					   (unsigned long long)st->rc[i].dropped,
					   (unsigned long long)st->rc[i].reasked);
		buf_putc(&more, '}');
	}
	put_opt_str(&more, "reason", st->reason);
	put_opt_str(&more, "hint", st->hint);
	put_waiting(&more, st);
	put_shard_json(&more, st);
	put_broker_wait(&more, st);
	buf_puts(&more, ",\"limits\":");
	limits_view_json(&more, &st->limits);
	pbatch_view_json(&st->pb, &more);
	printf("{\"state\":\"%s\",\"chunks\":%u,\"sources\":%u,\"skipped_inputs\":%llu,"
	       "\"batches\":{\"total\":%llu,\"done\":%llu,\"cached\":%llu,\"failed\":%llu,"
	       "\"blocked\":%llu,\"pending\":%llu,\"possibly_billed\":%llu,\"split\":%llu},"
	       "\"requests\":{\"sent\":%llu,\"ok\":%llu,\"retried\":%llu,\"http_429\":%llu,"
	       "\"errors\":%llu,\"invalid_answers\":%llu,\"items_dropped\":%llu},"
	       "\"tokens\":{\"prompt\":%llu,\"completion\":%llu,\"estimated_requests\":%llu},"
	       "\"cache\":{\"hits\":%llu,\"saved_usd\":%.6f},"
	       "\"cost_usd\":%.6f,\"workers\":%u,\"elapsed_s\":%.3f%s}\n",
	       state_name(st), st->plan.nchunks, st->plan.nsources,
	       (unsigned long long)st->skipped, (unsigned long long)total,
	       (unsigned long long)c->batches_done, (unsigned long long)c->batches_cached,
	       (unsigned long long)c->batches_failed, (unsigned long long)c->batches_blocked,
	       (unsigned long long)pending,
	       (unsigned long long)c->possibly_billed, (unsigned long long)c->batches_split,
	       (unsigned long long)c->requests_sent,
	       (unsigned long long)c->requests_ok, (unsigned long long)c->retried,
	       (unsigned long long)c->http_429, (unsigned long long)c->errors,
	       (unsigned long long)st->invalid_kept, (unsigned long long)c->items_dropped,
	       (unsigned long long)c->prompt_tokens, (unsigned long long)c->completion_tokens,
	       (unsigned long long)c->tokens_estimated, (unsigned long long)c->batches_cached, st->saved, st->cost,
	       st->live ? c->workers_live : 0, st->elapsed_s, buf_cstr(&more));
	buf_free(&more);
}

/* Prometheus text exposition format: counters and gauges named kgsup_*. */
static void print_prometheus(const struct status *st)
{
	const struct counters *c = &st->c;
	uint64_t total = batches_total(&st->plan, c);
	static const char *states[] = { "running", "stopped", "done", "failed", "aborted" };
	printf("# HELP kgsup_batches Batches of the run by state.\n# TYPE kgsup_batches gauge\n");
	printf("kgsup_batches{state=\"total\"} %llu\n", (unsigned long long)total);
	printf("kgsup_batches{state=\"done\"} %llu\n", (unsigned long long)c->batches_done);
	printf("kgsup_batches{state=\"cached\"} %llu\n", (unsigned long long)c->batches_cached);
	printf("kgsup_batches{state=\"failed\"} %llu\n", (unsigned long long)c->batches_failed);
	printf("kgsup_batches{state=\"blocked\"} %llu\n", (unsigned long long)c->batches_blocked);
	printf("kgsup_batches{state=\"pending\"} %llu\n",
	       (unsigned long long)(total - c->batches_done - c->batches_failed - c->batches_blocked));
	printf("# HELP kgsup_requests_total API requests by outcome.\n# TYPE kgsup_requests_total counter\n");
	printf("kgsup_requests_total{outcome=\"sent\"} %llu\n", (unsigned long long)c->requests_sent);
	printf("kgsup_requests_total{outcome=\"ok\"} %llu\n", (unsigned long long)c->requests_ok);
	printf("kgsup_requests_total{outcome=\"retried\"} %llu\n", (unsigned long long)c->retried);
	printf("kgsup_requests_total{outcome=\"http_429\"} %llu\n", (unsigned long long)c->http_429);
	printf("kgsup_requests_total{outcome=\"error\"} %llu\n", (unsigned long long)c->errors);
	printf("# HELP kgsup_tokens_total Tokens billed.\n# TYPE kgsup_tokens_total counter\n");
	printf("kgsup_tokens_total{kind=\"prompt\"} %llu\n", (unsigned long long)c->prompt_tokens);
	printf("kgsup_tokens_total{kind=\"completion\"} %llu\n", (unsigned long long)c->completion_tokens);
	printf("# HELP kgsup_cost_usd_total Dollars spent, from pricing.\n# TYPE kgsup_cost_usd_total counter\n");
	printf("kgsup_cost_usd_total %.6f\n", st->cost);
	printf("# HELP kgsup_cache_saved_usd_total Dollars the cache saved.\n# TYPE kgsup_cache_saved_usd_total counter\n");
	printf("kgsup_cache_saved_usd_total %.6f\n", st->saved);
	printf("# HELP kgsup_workers Live worker processes.\n# TYPE kgsup_workers gauge\n");
	printf("kgsup_workers %u\n", st->live ? c->workers_live : 0);
	printf("# HELP kgsup_elapsed_seconds Time the run has run.\n# TYPE kgsup_elapsed_seconds gauge\n");
	printf("kgsup_elapsed_seconds %.3f\n", st->elapsed_s);
	printf("# HELP kgsup_state The run's state (1 for the current one).\n# TYPE kgsup_state gauge\n");
	for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
		printf("kgsup_state{state=\"%s\"} %d\n", states[i], !strcmp(states[i], state_name(st)));
}

static void print_rows(const struct status *st)
{
	const struct rows_plan *p = &st->rows_plan;
	printf("rows       %llu in %llu tables: %llu skipped (empty text), %llu duplicates of "
	       "another row's text\n", (unsigned long long)p->rows, (unsigned long long)p->tables,
	       (unsigned long long)p->skipped, (unsigned long long)p->duplicates);
	buf b;
	buf_init(&b);
	row_tally_text(&b, &st->job, st->rows);
	fputs(buf_cstr(&b), stdout);
	buf_free(&b);
	for (size_t i = 0; i < st->job.n; i++)
		if (st->job.st[i].over == OVER_ROWS && (st->rc[i].dropped || st->rc[i].reasked))
			printf("  %-14s %llu items of answers dropped (an id not asked), %llu rows "
			       "missing from answers asked again\n", st->job.st[i].name,
			       (unsigned long long)st->rc[i].dropped,
			       (unsigned long long)st->rc[i].reasked);
}

static void print_text(const struct status *st)
{
	const struct counters *c = &st->c;
	uint64_t total = batches_total(&st->plan, c);
	double pct = total ? 100.0 * (double)c->batches_done / (double)total : 100.0;
	printf("state      %s\n", state_name(st));
	print_shard_text(st);
	if (st->waiting) {
		char line[1024];
		reach_describe(line, sizeof line, st->wait.since_wall, st->wait.url, st->wait.reason);
		printf("           %s\n", line);
	}
	if (st->broker[0]) {
		char line[1024];
		bwait_describe(line, sizeof line, st->broker_since, st->broker);
		printf("           %s\n", line);
	}
	if (st->reason[0])
		printf("reason     %s\n", st->reason);
	printf("batches    %llu/%llu done (%.1f%%), %llu from cache, %llu failed, %llu pending\n",
	       (unsigned long long)c->batches_done, (unsigned long long)total, pct,
	       (unsigned long long)c->batches_cached, (unsigned long long)c->batches_failed,
	       (unsigned long long)(total - c->batches_done - c->batches_failed - c->batches_blocked));
	for (int i = 0; i < st->nreasons; i++)
		printf("blocked    %llu batches: %s\n", (unsigned long long)st->reasons[i].n,
		       st->reasons[i].text);
	if (c->batches_blocked)
		printf("           (kgsup resume --retry-failed -s DIR retries the failed ones, then "
		       "these)\n");
	printf("input      %u chunks from %u sources", st->plan.nchunks, st->plan.nsources);
	if (st->skipped)
		printf(", %llu inputs skipped (unreadable: see the log)",
		       (unsigned long long)st->skipped);
	putchar('\n');
	printf("requests   %llu sent, %llu ok, %llu retried, %llu answered 429, %llu errors\n",
	       (unsigned long long)c->requests_sent, (unsigned long long)c->requests_ok,
	       (unsigned long long)c->retried, (unsigned long long)c->http_429,
	       (unsigned long long)c->errors);
	if (st->invalid_kept)
		printf("invalid    %llu answers, or items left out of answers, failed validation "
		       "(kgsup export -f invalid)\n", (unsigned long long)st->invalid_kept);
	if (c->items_dropped)
		printf("dropped    %llu invalid entities or relations left out of answers kept\n",
		       (unsigned long long)c->items_dropped);
	printf("tokens     %llu prompt, %llu completion", (unsigned long long)c->prompt_tokens,
	       (unsigned long long)c->completion_tokens);
	if (c->tokens_estimated)
		printf(" (%llu requests estimated: the server sent no usage)",
		       (unsigned long long)c->tokens_estimated);
	putchar('\n');
	printf("cost       $%.4f (cache saved $%.4f)\n", st->cost, st->saved);
	pbatch_view_print(&st->pb, st->pb.n <= 8);
	if (c->possibly_billed)
		printf("note       %llu batches were in flight when a session died (possibly billed "
		       "twice)\n", (unsigned long long)c->possibly_billed);
	printf("workers    %u\n", st->live ? c->workers_live : 0);
	if (st->cfg.broker) /* its limits are the shared broker's, not this config's */
		printf("limits     the shared broker's at %s (kgsup status --broker)\n", st->cfg.broker);
	else
		limits_view_text(stdout, &st->limits, st->live);
	printf("elapsed    %.1f s\n", st->elapsed_s);
	stages_text(stdout, &st->job, &st->cfg, st->sc);
	if (st->job.rows)
		print_rows(st);
	if (st->hint[0])
		printf("hint       %s\n", st->hint);
}

/* Why batches are blocked: their records' reasons, counted (read only when some are). */
static void read_reasons(store_txn *t, struct status *st)
{
	store_iter *it = st->c.batches_blocked ? store_iter_open(t, DB_BATCHES, NULL, 0) : NULL;
	const void *k, *v;
	size_t kl, vl;
	while (it && store_iter_next(it, &k, &kl, &v, &vl)) {
		struct batch_rec b;
		if (vl < sizeof b || (memcpy(&b, v, sizeof b), b.state != B_BLOCKED))
			continue;
		char text[160];
		snprintf(text, sizeof text, "%.*s", (int)(vl - sizeof b), (const char *)v + sizeof b);
		int i = 0;
		while (i < st->nreasons && strcmp(st->reasons[i].text, text))
			i++;
		if (i == MAX_REASONS)
			continue;
		if (i == st->nreasons)
			snprintf(st->reasons[st->nreasons++].text, sizeof text, "%s", text);
		st->reasons[i].n++;
	}
	store_iter_close(it);
}

static int load_status(const char *state_dir, struct status *st, char *err, size_t errlen)
{
	char dbdir[PATHS_MAX];
	paths_file(dbdir, sizeof dbdir, state_dir, "db");
	store *db = store_open(dbdir, 1, err, errlen);
	if (!db)
		return -1;
	store_txn *t = store_begin(db, 0);
	int rc = -1;
	if (!t || plan_read(t, &st->plan)) {
		snprintf(err, errlen, "%s: no planned run here", state_dir);
		goto out;
	}
	counters_read(t, &st->c);
	const void *sk;
	size_t skl;
	if (!store_get(t, DB_META, META_SKIPPED, strlen(META_SKIPPED), &sk, &skl) &&
	    skl == sizeof st->skipped)
		memcpy(&st->skipped, sk, sizeof st->skipped);
	st->invalid_kept = store_count(t, DB_INVALID);
	config_defaults(&st->cfg);
	/* without readable settings the counters still show; only the dollars need them */
	run_settings_read(t, &st->cfg, err, errlen);
	const void *job;
	size_t jl;
	if (store_get(t, DB_META, META_JOB, strlen(META_JOB), &job, &jl) ||
	    job_parse(&st->job, &st->cfg, job, jl, "recorded job", err, errlen))
		job_from_config(&st->job, &st->cfg, "", "", err, errlen);
	stage_counters_read(t, st->sc, st->job.n);
	read_reasons(t, st);
	pbatch_view_read(t, &st->cfg, &st->pb);
	if (!shard_rec_read(t, &st->shard) && st->shard.count) { /* its own, not the whole run's */
		st->plan.nchunks = st->shard.chunks;
		st->plan.nsources = st->shard.sources;
	}
	if (st->job.rows) {
		rows_plan_read(t, &st->rows_plan);
		row_counters_read(t, st->rc, st->job.n);
		row_tally(t, &st->job, st->rows, NULL);
	}
	const void *v;
	size_t vl;
	st->waiting = st->live && reach_read(t, &st->wait);
	if (!st->live || !bwait_read(t, &st->broker_since, st->broker, sizeof st->broker))
		st->broker[0] = '\0';
	if (st->c.state == RUN_ABORTED &&
	    !store_get(t, DB_META, META_ABORT_REASON, strlen(META_ABORT_REASON), &v, &vl))
		snprintf(st->reason, sizeof st->reason, "%.*s", (int)vl, (const char *)v);
	err[0] = '\0';
	rc = 0;
out:
	store_abort(t);
	store_close(db);
	return rc;
}

/* One run's status, its dollars, hint and limits: 0, or -1 with err set. */
int status_one(const char *state_dir, struct status *st, char *err, size_t errlen)
{
	memset(st, 0, sizeof *st);
	pid_t pid;
	st->live = lock_probe(state_dir, &pid, NULL);
	if (load_status(state_dir, st, err, errlen))
		return -1;
	st->cost = st->job.legacy ? config_cost_usd(&st->cfg, st->c.prompt_tokens,
						    st->c.completion_tokens)
				  : stages_cost(&st->job, &st->cfg, st->sc);
	st->saved = st->job.legacy ? config_cost_usd(&st->cfg, st->c.saved_prompt_tokens,
						     st->c.saved_completion_tokens)
				   : stages_saved(&st->job, &st->cfg, st->sc);
	st->cost -= st->pb.saved_usd;
	st->elapsed_s = (double)st->c.elapsed_ms / 1000.0;
	make_hint(st, state_dir);
	limits_view_read(&st->limits, state_dir, &st->cfg);
	return 0;
}

void print_status(const struct cli *cli, const struct status *st)
{
	if (cli->json)
		print_json(st);
	else if (cli->prometheus)
		print_prometheus(st);
	else
		print_text(st);
}

void status_release(struct status *st)
{
	pbatch_view_free(&st->pb);
	job_free(&st->job);
	config_free(&st->cfg);
}

int status_cmd(const struct cli *cli)
{
	if (cli->broker)
		return status_broker(cli);
	if (cli->nstates > 1)
		return status_shards(cli);
	struct status st;
	char err[1024];
	if (status_one(cli->state_dir, &st, err, sizeof err)) {
		die_msg("%s", err);
		status_release(&st);
		return EXIT_USAGE;
	}
	print_status(cli, &st);
	status_release(&st);
	return EXIT_OK;
}
