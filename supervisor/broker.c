/* broker.c: the rate-limit broker, a process of its own (`kgsup __broker DIR SESSION`). Every
 * worker asks it (ASK) before every request and reports (REPORT, mostly riding on its next
 * ASK) after; it grants in arrival order when the request and token budgets allow, so all
 * workers together respect the provider's limits.
 *   - The rate is the configured one, capped by the limit the provider announces
 *     (x-ratelimit-limit-*), paced 0.5% under it, with a burst of only that 0.5% (5 ms worth):
 *     providers may count over windows as short as a second, where a larger bucket, or one
 *     that starts full, would overshoot.
 *   - Tokens are charged by estimate (prompt bytes / 4 + max_tokens) and corrected by the real
 *     usage; what the provider says remains caps what we believe is left, and the broker
 *     replays its own grants to know when room comes back in the provider's window (a grant
 *     leaves it the window's length after it went, the length being the reset the provider
 *     gives for a request alone in it): see window.c.
 *   - A 429 sets one "not before" time for everyone (Retry-After, else the reset headers) and
 *     lowers the rate (halves it; only by a fifth when the provider announced its limit, as a
 *     429 under an announced limit is jitter or another client, not a wrong limit), which then
 *     climbs back by 5% of the limit a second (AIMD): a limit set too high converges instead of
 *     storming. */
#include "../common/config.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/proto.h"
#include "../common/roles.h"
#include "../common/sig.h"
#include "../common/util.h"
#include "../common/zsock.h"
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLACK_MS 1.5          /* lateness a grant may make up for (poll granularity) */
/* Bucket capacity in seconds of the rate. A bucket of capacity C refilled at r admits C + r in
 * any second, so C must stay within the margin for a 1 s window not to see more than the limit. */
#define BURST_S (1.0 - PACE_MARGIN)
#define WAIT_REPLY_MS 1000    /* a waiting ask is answered WAIT after this (proof of life) */
#define DEFAULT_429_PAUSE_MS 1000
#define MIN_RATE_FACTOR 0.05
#define RATE_RECOVERY_PER_S 0.05 /* additive increase of the rate factor per second */
#define MAX_IDENTITY 256

struct waiter {
	char id[MAX_IDENTITY];
	size_t idlen;
	uint32_t slot;
	uint32_t est_tokens;
	int64_t queued_since;
	int64_t asked_at;
};

struct broker {
	struct config cfg;
	zsock *sock;    /* ROUTER: asks, answered by grants */
	zsock *reports; /* PULL: what each request cost */
	struct waiter *q;
	size_t nq, capq;
	double req_level, tok_level; /* bucket contents */
	double req_cap, tok_cap;
	double rate_factor;          /* 1.0 = the limits; lowered after 429s (AIMD) */
	double rpm, tpm;             /* the limits: configured, capped by the provider's */
	int announced;               /* the provider told us its limits */
	double last_refill; /* ms, with microseconds */
	int64_t not_before;          /* nobody is granted before this (after a 429) */
	int64_t in_flight;
	uint64_t *slot_grant;        /* per slot, the grant it holds not yet reported (0: none) */
	uint32_t nslots;
	buf msg;
	uint64_t granted, reported, throttled;
	/* our grants, and what the provider last said remains of each budget (window.c) */
	struct grant_log grants;
	struct provider_figure prov_requests, prov_tokens;
};

static double req_rate_per_ms(const struct broker *b)
{
	return b->rpm / 60000.0 * b->rate_factor * PACE_MARGIN;
}

static double tok_rate_per_ms(const struct broker *b)
{
	return b->tpm / 60000.0 * b->rate_factor * PACE_MARGIN;
}

/* Sets the limits and the bucket sizes that follow from them. */
static void set_limits(struct broker *b, double rpm, double tpm)
{
	b->rpm = rpm;
	b->tpm = tpm;
	b->req_cap = rpm / 60.0 * BURST_S;
	if (b->req_cap < 1.0)
		b->req_cap = 1.0;
	b->tok_cap = tpm / 60.0 * BURST_S;
	if (b->tok_cap < 1.0)
		b->tok_cap = 1.0;
	if (b->req_level > b->req_cap)
		b->req_level = b->req_cap;
	if (b->tok_level > b->tok_cap)
		b->tok_level = b->tok_cap;
}

/* The provider announced its limits: never plan for more than that. */
static void provider_limits(struct broker *b, int64_t rpm, int64_t tpm)
{
	double r = (double)b->cfg.requests_per_minute, t = (double)b->cfg.tokens_per_minute;
	if (rpm > 0 || tpm > 0)
		b->announced = 1;
	if (rpm > 0 && rpm < r)
		r = (double)rpm;
	if (tpm > 0 && tpm < t)
		t = (double)tpm;
	if (r != b->rpm || t != b->tpm) {
		log_info("limits now %.0f requests and %.0f tokens a minute (provider announced %lld/%lld)",
			 r, t, (long long)rpm, (long long)tpm);
		set_limits(b, r, t);
	}
}

static double now_fine_ms(void)
{
	return (double)now_us() / 1000.0;
}

/* The cap stops a burst after an idle spell or a pause. It sits SLACK_MS of rate above the
 * capacity: the poll wakes to the millisecond, so a grant comes up to a millisecond late, and
 * that much credit must survive or the average rate falls short (5% at 50 requests/s). */
static void refill(struct broker *b)
{
	double now = now_fine_ms();
	double dt = now - b->last_refill;
	b->last_refill = now;
	if (dt <= 0)
		return;
	b->rate_factor += RATE_RECOVERY_PER_S * dt / 1000.0;
	if (b->rate_factor > 1.0)
		b->rate_factor = 1.0;
	b->req_level += dt * req_rate_per_ms(b);
	b->tok_level += dt * tok_rate_per_ms(b);
	double req_max = b->req_cap + SLACK_MS * req_rate_per_ms(b);
	double tok_max = b->tok_cap + SLACK_MS * tok_rate_per_ms(b);
	if (b->req_level > req_max)
		b->req_level = req_max;
	if (b->tok_level > tok_max)
		b->tok_level = tok_max;
}

/* Tokens a request needs in the bucket: its estimate, but never more than the bucket holds,
 * so one request larger than a second's budget still goes (and leaves the bucket in debt). */
static double tok_need(const struct broker *b, const struct waiter *w)
{
	double need = (double)w->est_tokens;
	return need < b->tok_cap ? need : b->tok_cap;
}

/* Milliseconds until what the provider says remains leaves room for a request of est tokens. */
static int64_t provider_wait(const struct broker *b, uint32_t est, int64_t now)
{
	int64_t wr = figure_wait(&b->grants, &b->prov_requests, 0, 1, req_rate_per_ms(b), now);
	int64_t wt = figure_wait(&b->grants, &b->prov_tokens, 1, (double)est, tok_rate_per_ms(b), now);
	return wr > wt ? wr : wt;
}

/* Milliseconds until the head of the queue can be granted (0 = now). */
static int64_t wait_for_head(const struct broker *b, int64_t now)
{
	if (b->nq == 0)
		return -1;
	const struct waiter *w = &b->q[0];
	int64_t wait = b->not_before > now ? b->not_before - now : 0;
	if (b->cfg.max_in_flight && b->in_flight >= b->cfg.max_in_flight)
		return wait > 0 ? wait : 1000; /* woken by a report */
	int64_t pw = provider_wait(b, w->est_tokens, now);
	if (pw > wait)
		wait = pw;
	double fine = 0;
	if (b->req_level < 1.0)
		fine = (1.0 - b->req_level) / req_rate_per_ms(b);
	double need = tok_need(b, w);
	if (b->tok_level < need && (need - b->tok_level) / tok_rate_per_ms(b) > fine)
		fine = (need - b->tok_level) / tok_rate_per_ms(b);
	/* whole milliseconds for zmq_poll, rounded up; the bucket keeps the remainder */
	int64_t t = fine > 0 ? (int64_t)fine + 1 : 0;
	return t > wait ? t : wait;
}

static void reply(struct broker *b, const struct waiter *w, uint32_t verdict)
{
	struct msg_grant g = { verdict, verdict == GRANT_GO ? b->grants.seq : 0 };
	msg_encode_grant(&b->msg, &g);
	zsock_send_routed(b->sock, w->id, w->idlen, b->msg.data, b->msg.len);
}

static void pop_head(struct broker *b)
{
	memmove(b->q, b->q + 1, (b->nq - 1) * sizeof *b->q);
	b->nq--;
}

static void grant_what_we_can(struct broker *b)
{
	int64_t now = now_ms();
	refill(b);
	while (b->nq && wait_for_head(b, now) == 0) {
		struct waiter *w = &b->q[0];
		b->req_level -= 1.0;
		b->tok_level -= (double)w->est_tokens;
		b->in_flight++;
		b->granted++;
		uint64_t seq = grant_log_add(&b->grants, now, w->est_tokens);
		if (w->slot < b->nslots)
			b->slot_grant[w->slot] = seq;
		reply(b, w, GRANT_GO);
		pop_head(b);
	}
	/* proof of life for those still waiting, so their REQ sockets do not time out */
	for (size_t i = 0; i < b->nq; i++) {
		if (now - b->q[i].asked_at < WAIT_REPLY_MS)
			continue;
		reply(b, &b->q[i], GRANT_WAIT);
		memmove(b->q + i, b->q + i + 1, (b->nq - i - 1) * sizeof *b->q);
		b->nq--;
		i--;
	}
}

static void grow_slots(struct broker *b, uint32_t slot)
{
	if (slot < b->nslots)
		return;
	uint32_t n = slot + 64;
	b->slot_grant = xrealloc(b->slot_grant, n * sizeof *b->slot_grant);
	memset(b->slot_grant + b->nslots, 0, (n - b->nslots) * sizeof *b->slot_grant);
	b->nslots = n;
}

/* The grant a slot holds is over: when its report comes (grant = its number), or when the slot
 * asks again (grant = 0: a worker holds one request at a time, so whatever it held is over;
 * this also frees the grants of workers that died before reporting). Reports travel on their
 * own socket and may overtake or trail the next ask, hence the number. */
static void settle_slot(struct broker *b, uint32_t slot, uint64_t grant)
{
	grow_slots(b, slot);
	uint64_t held = b->slot_grant[slot];
	if (held && (grant == 0 || grant == held)) {
		b->slot_grant[slot] = 0;
		if (b->in_flight > 0)
			b->in_flight--;
	}
}

static void on_ask(struct broker *b, const char *id, size_t idlen, const struct msg_ask *a)
{
	settle_slot(b, a->slot, 0);
	b->q = xgrow(b->q, &b->capq, b->nq, sizeof *b->q, 64);
	/* keep the queue ordered by when each worker first asked */
	size_t pos = b->nq;
	while (pos > 0 && b->q[pos - 1].queued_since > a->queued_since)
		pos--;
	memmove(b->q + pos + 1, b->q + pos, (b->nq - pos) * sizeof *b->q);
	struct waiter *w = &b->q[pos];
	memcpy(w->id, id, idlen);
	w->idlen = idlen;
	w->slot = a->slot;
	w->est_tokens = a->est_tokens;
	w->queued_since = a->queued_since;
	w->asked_at = now_ms();
	b->nq++;
}

static void on_report(struct broker *b, const struct msg_report *r)
{
	settle_slot(b, r->slot, r->grant);
	b->reported++;
	int64_t now = now_ms();
	/* Correct the part of the charge that was a guess, the prompt (bytes / 4), with the real
	 * prompt usage. max_tokens stays charged: providers count it against the limit when they
	 * admit a request, whatever the completion turns out to use. Refused requests cost
	 * nothing. */
	double est_prompt = (double)r->est_tokens - (double)b->cfg.max_tokens;
	if (r->prompt_tokens > 0 && est_prompt > 0)
		b->tok_level += est_prompt - (double)r->prompt_tokens;
	else if (r->http_status != 200)
		b->tok_level += (double)r->est_tokens;
	if (b->tok_level > b->tok_cap)
		b->tok_level = b->tok_cap;
	if (r->http_status == 429) {
		int64_t pause = r->retry_after_ms >= 0 ? r->retry_after_ms : -1;
		if (pause < 0 && r->reset_requests_ms >= 0)
			pause = r->reset_requests_ms;
		if (pause < 0 && r->reset_tokens_ms >= 0)
			pause = r->reset_tokens_ms;
		if (pause < 0)
			pause = DEFAULT_429_PAUSE_MS;
		if (now + pause > b->not_before)
			b->not_before = now + pause;
		b->rate_factor *= b->announced ? 0.8 : 0.5;
		if (b->rate_factor < MIN_RATE_FACTOR)
			b->rate_factor = MIN_RATE_FACTOR;
		b->req_level = b->req_level > 0 ? 0 : b->req_level;
		b->throttled++;
		log_debug("429: pause %lld ms, rate factor %.2f", (long long)pause, b->rate_factor);
	}
	provider_limits(b, r->limit_requests, r->limit_tokens);
	/* what the provider counted: the estimate, or less if the real prompt was smaller;
	 * nothing if it refused the request or never answered */
	uint64_t counted = r->prompt_tokens > 0 ? r->prompt_tokens + (uint64_t)b->cfg.max_tokens : 0;
	grant_log_settle(&b->grants, r->grant, r->http_status == 200, counted, r->sent_at, now);
	figure_take(&b->grants, &b->prov_requests, r->remaining_requests, r->reset_requests_ms, r->grant, now);
	figure_take(&b->grants, &b->prov_tokens, r->remaining_tokens, r->reset_tokens_ms, r->grant, now);
	/* No request left: nobody goes until the reset, counted from the report's arrival. This
	 * is later than the replay's own wait by a call's latency, and on a short window that is
	 * what keeps us clear: the replay's margin there (2 ms on 1 s) is under the 1.6-18 ms the
	 * provider's clock runs late on ours. Without this rule the request-bound bench had a 429
	 * in 4 runs of 5 (92.3-92.7%), with it none in 5 (97.1-97.4%). */
	if (r->remaining_requests == 0 && r->reset_requests_ms > 0 && now + r->reset_requests_ms > b->not_before)
		b->not_before = now + r->reset_requests_ms;
	if (r->remaining_tokens >= 0 && (double)r->remaining_tokens < b->tok_level)
		b->tok_level = (double)r->remaining_tokens;
}

static void on_message(struct broker *b)
{
	for (;;) {
		char id[MAX_IDENTITY];
		size_t idlen = sizeof id;
		char *frame;
		size_t len;
		if (zsock_recv_routed(b->sock, id, &idlen, &frame, &len) < 0)
			return;
		struct msg_ask a;
		if (!msg_decode_ask(frame, len, &a)) {
			if (a.has_report)
				on_report(b, &a.report);
			on_ask(b, id, idlen, &a);
		} else {
			log_error("malformed ask (%zu bytes) ignored", len);
		}
		free(frame);
	}
}

static void on_reports(struct broker *b)
{
	char *frame;
	size_t len;
	while (zsock_recv(b->reports, &frame, &len, 0) == 0) {
		struct msg_report r;
		if (!msg_decode_report(frame, len, &r))
			on_report(b, &r);
		else
			log_error("malformed report (%zu bytes) ignored", len);
		free(frame);
	}
}

int broker_main(int argc, char **argv)
{
	if (argc != 3 || !paths_session_ok(argv[2])) {
		die_msg("__broker is internal: started by the supervisor");
		return EXIT_USAGE;
	}
	log_set_tag("broker");
	log_level_from_env();
	static struct broker b;
	char path[PATHS_MAX], err[512];
	paths_file(path, sizeof path, argv[1], "run/config.json");
	config_defaults(&b.cfg);
	if (sig_init_child() < 0 || config_load(&b.cfg, path, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_INTERNAL;
	}
	paths_endpoint(path, sizeof path, argv[1], argv[2], "broker", -1);
	b.sock = zsock_bind(ZS_ROUTER, path);
	paths_endpoint(path, sizeof path, argv[1], argv[2], "reports", -1);
	b.reports = zsock_bind(ZS_PULL, path);
	if (!b.sock || !b.reports) {
		log_error("cannot bind the broker's sockets in %s/sock/%s", argv[1], argv[2]);
		return EXIT_INTERNAL;
	}
	buf_init(&b.msg);
	/* a slow start: each worker's first call carries a TLS handshake and the later ones do
	 * not, so the first requests reach the server closer together than they were granted */
	b.rate_factor = 0.9;
	set_limits(&b, (double)b.cfg.requests_per_minute, (double)b.cfg.tokens_per_minute);
	/* one request's worth to start with, not a full bucket: see the top of the file */
	b.req_level = 1.0;
	b.tok_level = b.tok_cap;
	figure_init(&b.prov_requests);
	figure_init(&b.prov_tokens);
	b.last_refill = now_fine_ms();
	int parent_fd = fcntl_is_open(3) ? 3 : -1;
	zpoll p;
	zpoll_init(&p);
	int asks = zpoll_add_sock(&p, b.sock);
	int reports = zpoll_add_sock(&p, b.reports);
	int sig = zpoll_add_fd(&p, sig_fd());
	/* the supervisor's pipe is in the poll set: its EOF means the supervisor died */
	int parent = parent_fd >= 0 ? zpoll_add_fd(&p, parent_fd) : -1;
	while (!sig_stop_requested()) {
		int64_t wait = wait_for_head(&b, now_ms());
		long timeout = wait < 0 || wait > 200 ? 200 : (long)wait;
		if (zpoll_wait(&p, timeout) > 0) {
			if (parent >= 0 && zpoll_ready(&p, parent))
				break;
			if (zpoll_ready(&p, sig))
				sig_take();
			/* only the sockets that have something: each receive that finds nothing costs
			 * libzmq two system calls, about 2 us each on a virtual machine */
			if (zpoll_ready(&p, reports))
				on_reports(&b); /* first: a report may free a slot or change the budget */
			if (zpoll_ready(&p, asks))
				on_message(&b);
		}
		grant_what_we_can(&b);
	}
	log_debug("granted %llu, reported %llu, 429s %llu", (unsigned long long)b.granted,
		  (unsigned long long)b.reported, (unsigned long long)b.throttled);
	zpoll_free(&p);
	zsock_close(b.sock);
	zsock_close(b.reports);
	zsock_term();
	buf_free(&b.msg);
	free(b.q);
	free(b.slot_grant);
	config_free(&b.cfg);
	return EXIT_OK;
}
