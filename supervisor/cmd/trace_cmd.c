/* trace_cmd.c: `kgsup trace`: reads DIR/trace.1.jsonl then DIR/trace.jsonl (oldest first; the
 * live run's supervisor appends to the second, whole lines at a time) and prints what a user
 * looks for first: a summary, the slowest requests (--slowest N), the failed ones (--errors);
 * --json gives the chosen lines as they are. It only reads. */
#include "../cli.h"
#include "../../common/json.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_CAUSES 16

/* One line, as much of it as is printed. Times in ms; NAN: not reached. */
struct rec {
	char when[32], stage[64], cause[32], error[512];
	long long batch, worker, attempt, http, retry_after; /* -1: null */
	int cache_hit, ok;
	double granted, sent, first_byte, done, cost;
	unsigned long long in, out;
	char *raw; /* the line itself (kept for --slowest) */
};

struct tally {
	const struct cli *cli;
	int header_done; /* --errors printed its header */
	uint64_t lines, requests, failed, cache_hits, bad;
	char first_bad[PATHS_MAX + 32];
	struct { char cause[32]; uint64_t n; } causes[MAX_CAUSES];
	int ncauses;
	struct rec *slow; /* the slowest, slowest first */
	size_t nslow;
	double *done; /* every request's total, for the summary's percentiles */
	size_t ndone, capdone;
	double cost;
	unsigned long long in, out;
};

static long long int_or_null(const json *o, const char *key)
{
	const json *v = json_get(o, key);
	return json_kind(v) == J_NUMBER ? (long long)json_number(v) : -1;
}

static double ms_or_nan(const json *o, const char *key)
{
	const json *v = json_get(o, key);
	return json_kind(v) == J_NUMBER ? json_number(v) : NAN;
}

static void str_of(const json *o, const char *key, char *out, size_t n)
{
	const char *s = json_string(json_get(o, key));
	snprintf(out, n, "%s", s ? s : "");
}

/* A trace line into r; -1 when it is not an object of the trace. */
static int rec_read(struct rec *r, const char *line, size_t len)
{
	json *o = json_parse(line, len, NULL, 0);
	if (json_kind(o) != J_OBJECT || json_kind(json_get(o, "batch")) != J_NUMBER) {
		json_free(o);
		return -1;
	}
	memset(r, 0, sizeof *r);
	str_of(o, "queued", r->when, sizeof r->when);
	str_of(o, "stage", r->stage, sizeof r->stage);
	str_of(o, "cause", r->cause, sizeof r->cause);
	str_of(o, "error", r->error, sizeof r->error);
	r->batch = int_or_null(o, "batch");
	r->worker = int_or_null(o, "worker");
	r->attempt = int_or_null(o, "attempt");
	r->http = int_or_null(o, "http_status");
	r->retry_after = int_or_null(o, "retry_after_ms");
	r->cache_hit = json_kind(json_get(o, "cache_hit")) == J_TRUE;
	r->ok = json_kind(json_get(o, "ok")) == J_TRUE;
	r->granted = ms_or_nan(o, "granted_ms");
	r->sent = ms_or_nan(o, "sent_ms");
	r->first_byte = ms_or_nan(o, "first_byte_ms");
	r->done = ms_or_nan(o, "done_ms");
	r->cost = ms_or_nan(o, "cost_usd");
	long long in = int_or_null(o, "tokens_in"), out = int_or_null(o, "tokens_out");
	r->in = in > 0 ? (unsigned long long)in : 0;
	r->out = out > 0 ? (unsigned long long)out : 0;
	json_free(o);
	return 0;
}

/* "  12.3" for a time, "     -" for one never reached */
static void put_ms(double ms, int width)
{
	if (isnan(ms))
		printf(" %*s", width, "-");
	else
		printf(" %*.1f", width, ms);
}

static double diff(double later, double earlier)
{
	return isnan(later) || isnan(earlier) ? NAN : later - earlier;
}

/* when, batch, stage, worker, attempt, status: the columns both listings start with */
static void put_who(const struct rec *r)
{
	char worker[24] = "-", attempt[24] = "-", status[24] = "-";
	if (r->worker >= 0)
		snprintf(worker, sizeof worker, "%lld", r->worker);
	if (r->attempt >= 0)
		snprintf(attempt, sizeof attempt, "%lld", r->attempt);
	if (r->cache_hit)
		snprintf(status, sizeof status, "cache");
	else if (r->http >= 0)
		snprintf(status, sizeof status, "%lld", r->http);
	printf("%-24s %6lld %-12.12s %6s %4s %6s", r->when, r->batch, r->stage, worker, attempt,
	       status);
}

static void who_header(void)
{
	printf("%-24s %6s %-12s %6s %4s %6s", "queued", "batch", "stage", "worker", "try", "status");
}

static void slow_header(void)
{
	who_header();
	printf(" %8s %8s %8s %8s %15s  %s\n", "wait", "connect", "server", "total", "tokens in/out",
	       "error");
}

static void slow_line(const struct rec *r)
{
	put_who(r);
	put_ms(r->granted, 8);
	put_ms(diff(r->sent, r->granted), 8);
	put_ms(diff(r->first_byte, r->sent), 8);
	put_ms(r->done, 8);
	char tokens[48];
	snprintf(tokens, sizeof tokens, "%llu/%llu", r->in, r->out);
	printf(" %15s%s%s\n", tokens, r->error[0] ? "  " : "", r->error);
}

static void error_line(const struct tally *ty, const struct rec *r)
{
	if (!ty->header_done) {
		who_header();
		printf(" %-14s %11s  %s\n", "cause", "retry-after", "error");
	}
	put_who(r);
	char ra[32] = "-";
	if (r->retry_after >= 0)
		snprintf(ra, sizeof ra, "%lld ms", r->retry_after);
	printf(" %-14s %11s  %s\n", r->cause[0] ? r->cause : "-", ra, r->error);
}

static void count_cause(struct tally *ty, const char *cause)
{
	const char *c = *cause ? cause : "other";
	int i = 0;
	while (i < ty->ncauses && strcmp(ty->causes[i].cause, c))
		i++;
	if (i == ty->ncauses) {
		if (i == MAX_CAUSES)
			i = MAX_CAUSES - 1; /* an unknown cause past the table shares its last row */
		else
			ty->ncauses++;
		snprintf(ty->causes[i].cause, sizeof ty->causes[i].cause, "%s", c);
	}
	ty->causes[i].n++;
}

/* Keeps r among the slowest (by total time), slowest first. */
static void keep_slow(struct tally *ty, const struct rec *r, const char *line, size_t len)
{
	size_t max = (size_t)ty->cli->slowest;
	if (isnan(r->done) || (ty->nslow == max && r->done <= ty->slow[max - 1].done))
		return;
	if (ty->nslow == max)
		free(ty->slow[--ty->nslow].raw);
	size_t i = ty->nslow++;
	while (i > 0 && ty->slow[i - 1].done < r->done) {
		ty->slow[i] = ty->slow[i - 1];
		i--;
	}
	ty->slow[i] = *r;
	ty->slow[i].raw = xstrndup(line, len);
}

static void take_line(struct tally *ty, const char *line, size_t len, const char *path,
		      size_t lineno)
{
	const struct cli *cli = ty->cli;
	struct rec r;
	ty->lines++;
	if (rec_read(&r, line, len)) {
		if (!ty->bad++)
			snprintf(ty->first_bad, sizeof ty->first_bad, "%s:%zu", path, lineno);
		return;
	}
	if (r.cache_hit) {
		ty->cache_hits++;
	} else {
		ty->requests++;
		ty->in += r.in;
		ty->out += r.out;
		ty->cost += isnan(r.cost) ? 0 : r.cost;
		ty->done = xgrow(ty->done, &ty->capdone, ty->ndone, sizeof *ty->done, 1024);
		ty->done[ty->ndone++] = isnan(r.done) ? 0 : r.done;
		if (cli->slowest)
			keep_slow(ty, &r, line, len);
	}
	if (!r.ok) {
		ty->failed++;
		count_cause(ty, r.cause);
		if (cli->errors && !cli->json)
			error_line(ty, &r);
		ty->header_done |= cli->errors;
	}
	if (cli->json && ((!cli->slowest && !cli->errors) || (cli->errors && !r.ok)))
		printf("%.*s\n", (int)len, line);
}

/* Feeds every line of path to take_line: 1, 0 when there is no such file, -1 (said) when it
 * cannot be read. */
static int read_lines(struct tally *ty, const char *path)
{
	int fd = open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
	FILE *f = fd >= 0 ? fdopen(fd, "r") : NULL;
	if (!f) {
		if (fd >= 0)
			close(fd);
		if (errno == ENOENT)
			return 0;
		die_msg("%s: %s", path, nofollow_strerror(errno));
		return -1;
	}
	char *line = NULL;
	size_t cap = 0, lineno = 0;
	ssize_t n;
	while ((n = getline(&line, &cap, f)) > 0) {
		lineno++;
		/* a line without its newline is being written by the live run: not there yet */
		if (line[n - 1] != '\n')
			break;
		if (n > 1)
			take_line(ty, line, (size_t)n - 1, path, lineno);
	}
	free(line);
	fclose(f);
	return 1;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* "8 rate_limited, 4 server_error" */
static void put_causes(const struct tally *ty)
{
	for (int i = 0; i < ty->ncauses; i++)
		printf("%s%llu %s", i ? ", " : "", (unsigned long long)ty->causes[i].n,
		       ty->causes[i].cause);
}

static void summary(struct tally *ty, const char *dir)
{
	printf("requests     %llu (%llu failed", (unsigned long long)ty->requests,
	       (unsigned long long)ty->failed);
	if (ty->failed) {
		printf(": ");
		put_causes(ty);
	}
	printf(")\nfrom cache   %llu batches\n", (unsigned long long)ty->cache_hits);
	printf("tokens       %llu in, %llu out; $%.4f\n", ty->in, ty->out, ty->cost);
	if (ty->ndone) {
		qsort(ty->done, ty->ndone, sizeof *ty->done, by_value);
		printf("request ms   median %.1f, p95 %.1f, max %.1f (queued to done)\n",
		       ty->done[(ty->ndone - 1) / 2], ty->done[(ty->ndone - 1) * 95 / 100],
		       ty->done[ty->ndone - 1]);
	}
	printf("more         kgsup trace -s %s --slowest 10; kgsup trace -s %s --errors\n", dir, dir);
}

/* What was asked for, once every line is read. */
static void report(struct tally *ty, const char *dir)
{
	const struct cli *cli = ty->cli;
	if (cli->errors && !cli->json) {
		printf("%s%llu of %llu requests failed", ty->header_done ? "\n" : "",
		       (unsigned long long)ty->failed, (unsigned long long)ty->requests);
		if (ty->failed) {
			printf(": ");
			put_causes(ty);
		}
		printf("\n");
	}
	if (cli->slowest && !cli->json) {
		printf("%sthe %zu slowest of %llu requests (ms; wait: for the broker's grant, "
		       "connect: until sent, server: to its first byte, total: queued to done)\n",
		       cli->errors ? "\n" : "", ty->nslow, (unsigned long long)ty->requests);
		slow_header();
	}
	for (size_t i = 0; i < ty->nslow; i++) {
		if (cli->json)
			printf("%s\n", ty->slow[i].raw);
		else
			slow_line(&ty->slow[i]);
	}
	if (!cli->slowest && !cli->errors && !cli->json)
		summary(ty, dir);
}

int trace_cmd(const struct cli *cli)
{
	char path[PATHS_MAX], old[PATHS_MAX];
	paths_file(path, sizeof path, cli->state_dir, "trace.jsonl");
	paths_file(old, sizeof old, cli->state_dir, "trace.1.jsonl");
	struct tally ty = { .cli = cli };
	if (cli->slowest)
		ty.slow = xcalloc((size_t)cli->slowest, sizeof *ty.slow);
	int a = read_lines(&ty, old);
	int b = a < 0 ? -1 : read_lines(&ty, path);
	int rc = EXIT_OK;
	if (a < 0 || b < 0) {
		rc = EXIT_USAGE;
	} else if (!a && !b) {
		die_msg("%s: no trace here (a run writes trace.jsonl unless trace.max_mb is 0)",
			cli->state_dir);
		rc = EXIT_USAGE;
	} else {
		report(&ty, cli->state_dir);
		if (ty.bad)
			log_warn("%llu line%s not a trace record (the first at %s): left out",
				 (unsigned long long)ty.bad, ty.bad == 1 ? " is" : "s are", ty.first_bad);
	}
	for (size_t i = 0; i < ty.nslow; i++)
		free(ty.slow[i].raw);
	free(ty.slow);
	free(ty.done);
	return rc;
}
