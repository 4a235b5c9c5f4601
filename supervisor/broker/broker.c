/* broker.c: the rate-limit broker, a process of its own (`kgsup __broker DIR SESSION`). Every
 * worker asks it (ASK) before every request and reports (REPORT, mostly riding on its next
 * ASK) after; it grants in arrival order when the request and token budgets allow, so all
 * workers together respect the provider's limits.
 *   - The rate is the configured one, capped by the limit the provider announces
 *     (x-ratelimit-limit-*) when its resets say the figure is per minute (announce.h), paced
 *     just under it with almost no burst, slowed after a 429 and climbing back: see pace.h.
 *     A daily quota used up pauses everyone until it resets. Every change is a warning, and
 *     the limits in force are published for status: see limits.h.
 *   - Tokens are charged by estimate (prompt bytes / 4 + max_tokens) and corrected by the real
 *     usage; what the provider says remains caps what we believe is left, and the broker
 *     replays its own grants to know when room comes back in the provider's window (a grant
 *     leaves it the window's length after it went, the length being the reset the provider
 *     gives for a request alone in it): see window.c.
 *   - A 429 sets one "not before" time for everyone (Retry-After, else the reset headers).
 * Providers limit each model apart: every model listed in limits.models has a lane of its own
 * (its pace, limits, grant log, provider figures and queue), and the models not listed share
 * one at the top-level limits, so a 429 on one model holds back only that model's asks. Only
 * max_in_flight is counted over all. An ask finds its lane by the model it names (a hash). */
#include "../../common/config.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/proto.h"
#include "../../common/roles.h"
#include "../../common/sig.h"
#include "../../common/strmap.h"
#include "../../common/util.h"
#include "../../common/zsock.h"
#include "limits.h"
#include "pace.h"
#include "window.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define WAIT_REPLY_MS 1000    /* a waiting ask is answered WAIT after this (proof of life) */
#define MAX_IDENTITY 256

struct waiter {
	char id[MAX_IDENTITY];
	size_t idlen;
	uint32_t slot;
	uint32_t est_tokens;
	int64_t queued_since;
	int64_t asked_at;
};

/* One model's budget (or that of the models not listed in limits.models). */
struct lane {
	struct waiter *q;
	size_t nq, capq;
	struct pace pace;            /* the buckets and the rate */
	struct limits limits;        /* where the rate's limits come from, published */
	/* our grants, and what the provider last said remains of each budget (window.c) */
	struct grant_log grants;
	struct provider_figure prov_requests, prov_tokens;
};

/* The grant a slot holds: its lane and its number there (seq 0: none). */
struct held {
	uint32_t lane;
	uint64_t seq;
};

struct broker {
	struct config cfg;
	zsock *sock;    /* ROUTER: asks, answered by grants */
	zsock *reports; /* PULL: what each request cost */
	struct lane *lanes; /* [0]: the models not listed; then limits.models, in its order */
	size_t nlanes;
	struct strmap lane_of; /* model name -> lane */
	struct limits_board board;
	int64_t in_flight;
	struct held *slot_grant;     /* per slot, the grant it holds not yet reported */
	uint32_t nslots;
	buf msg;
	uint64_t granted, reported;
};

/* The lane of a model named in an ask or a report: its own, or the shared one. */
static uint32_t lane_index(const struct broker *b, const char *model, size_t len)
{
	uint32_t i = map_get(&b->lane_of, model, len);
	return i < b->nlanes ? i : 0;
}

/* Milliseconds until what the provider says remains leaves room for a request of est tokens. */
static int64_t provider_wait(const struct lane *l, uint32_t est, int64_t now)
{
	int64_t wr = figure_wait(&l->grants, &l->prov_requests, 0, 1, pace_req_rate(&l->pace), now);
	int64_t wt = figure_wait(&l->grants, &l->prov_tokens, 1, (double)est,
				 pace_tok_rate(&l->pace), now);
	return wr > wt ? wr : wt;
}

/* Milliseconds until the head of a lane's queue can be granted (0 = now, -1: none waits). */
static int64_t wait_for_lane(const struct broker *b, const struct lane *l, int64_t now)
{
	if (l->nq == 0)
		return -1;
	const struct waiter *w = &l->q[0];
	int64_t wait = pace_wait(&l->pace, w->est_tokens, now);
	if (b->cfg.max_in_flight && b->in_flight >= b->cfg.max_in_flight)
		return wait > 0 ? wait : 1000; /* woken by a report */
	int64_t pw = provider_wait(l, w->est_tokens, now);
	return pw > wait ? pw : wait;
}

/* Milliseconds until some lane's head can be granted (0 = now, -1: none waits). */
static int64_t wait_for_head(const struct broker *b, int64_t now)
{
	int64_t least = -1;
	for (size_t i = 0; i < b->nlanes; i++) {
		int64_t w = wait_for_lane(b, &b->lanes[i], now);
		if (w >= 0 && (least < 0 || w < least))
			least = w;
	}
	return least;
}

static void reply(struct broker *b, const struct lane *l, const struct waiter *w, uint32_t verdict)
{
	struct msg_grant g = { .verdict = verdict, .seq = verdict == GRANT_GO ? l->grants.seq : 0 };
	msg_encode_grant(&b->msg, &g);
	zsock_send_routed(b->sock, w->id, w->idlen, b->msg.data, b->msg.len);
}

static void pop_head(struct lane *l)
{
	memmove(l->q, l->q + 1, (l->nq - 1) * sizeof *l->q);
	l->nq--;
}

static void grant_lane(struct broker *b, uint32_t li, int64_t now)
{
	struct lane *l = &b->lanes[li];
	pace_refill(&l->pace, (double)now_us() / 1000.0);
	while (l->nq && wait_for_lane(b, l, now) == 0) {
		struct waiter *w = &l->q[0];
		pace_take(&l->pace, w->est_tokens);
		b->in_flight++;
		b->granted++;
		uint64_t seq = grant_log_add(&l->grants, now, w->est_tokens);
		if (w->slot < b->nslots)
			b->slot_grant[w->slot] = (struct held){ li, seq };
		reply(b, l, w, GRANT_GO);
		pop_head(l);
	}
	/* proof of life for those still waiting, so their REQ sockets do not time out */
	for (size_t i = 0; i < l->nq; i++) {
		if (now - l->q[i].asked_at < WAIT_REPLY_MS)
			continue;
		reply(b, l, &l->q[i], GRANT_WAIT);
		memmove(l->q + i, l->q + i + 1, (l->nq - i - 1) * sizeof *l->q);
		l->nq--;
		i--;
	}
}

static void grant_what_we_can(struct broker *b)
{
	int64_t now = now_ms();
	for (uint32_t i = 0; i < b->nlanes; i++)
		grant_lane(b, i, now);
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
static void settle_slot(struct broker *b, uint32_t slot, uint32_t lane, uint64_t grant)
{
	grow_slots(b, slot);
	struct held held = b->slot_grant[slot];
	if (held.seq && (grant == 0 || (grant == held.seq && lane == held.lane))) {
		b->slot_grant[slot] = (struct held){ 0, 0 };
		if (b->in_flight > 0)
			b->in_flight--;
	}
}

static void on_ask(struct broker *b, const char *id, size_t idlen, const struct msg_ask *a)
{
	settle_slot(b, a->slot, 0, 0);
	struct lane *l = &b->lanes[lane_index(b, a->model, a->model_len)];
	l->q = xgrow(l->q, &l->capq, l->nq, sizeof *l->q, 64);
	/* keep the queue ordered by when each worker first asked */
	size_t pos = l->nq;
	while (pos > 0 && l->q[pos - 1].queued_since > a->queued_since)
		pos--;
	memmove(l->q + pos + 1, l->q + pos, (l->nq - pos) * sizeof *l->q);
	struct waiter *w = &l->q[pos];
	memcpy(w->id, id, idlen);
	w->idlen = idlen;
	w->slot = a->slot;
	w->est_tokens = a->est_tokens;
	w->queued_since = a->queued_since;
	w->asked_at = now_ms();
	l->nq++;
}

/* A 429: one pause for everyone asking for the model (Retry-After, else the reset headers)
 * and a lower rate. */
static void on_429(struct lane *ln, const struct ratelimit_info *l, int64_t now)
{
	double before = ln->pace.rate_factor;
	int64_t pause = pace_429(&ln->pace, l->retry_after_ms, l->reset_requests_ms,
				 l->reset_tokens_ms, now);
	log_debug("429: pause %lld ms, rate factor %.2f", (long long)pause, ln->pace.rate_factor);
	limits_lowered(&ln->limits, &ln->pace, before);
}

/* What the server said, as the broker heeds it: with limits.trust_announced false, only a
 * 429's Retry-After. */
static struct ratelimit_info heeded(const struct broker *b, const struct msg_report *r)
{
	struct ratelimit_info l = r->limits;
	if (!b->cfg.trust_announced) {
		ratelimit_clear(&l);
		l.retry_after_ms = r->limits.retry_after_ms;
	}
	return l;
}

static void on_report(struct broker *b, const struct msg_report *r)
{
	const struct ratelimit_info heard = heeded(b, r), *l = &heard;
	uint32_t li = lane_index(b, r->model, r->model_len);
	struct lane *ln = &b->lanes[li];
	settle_slot(b, r->slot, li, r->grant);
	b->reported++;
	int64_t now = now_ms();
	/* Correct the part of the charge that was a guess, the prompt (bytes / 4), with the real
	 * prompt usage. max_tokens stays charged: providers count it against the limit when they
	 * admit a request, whatever the completion turns out to use. Refused requests cost
	 * nothing. */
	double est_prompt = (double)r->est_tokens - (double)b->cfg.max_tokens;
	double back = 0;
	if (r->prompt_tokens > 0 && est_prompt > 0)
		back = est_prompt - (double)r->prompt_tokens;
	else if (r->http_status != 200)
		back = (double)r->est_tokens;
	pace_refund(&ln->pace, back);
	if (r->http_status == 0 && r->sent_at == 0) /* never went out: not a request */
		pace_refund_request(&ln->pace);
	/* a 429 of a daily quota used up is no sign of our rate: the pause for it is enough */
	int quota = limits_report(&ln->limits, &ln->pace, l, now);
	if (r->http_status == 429 && !quota)
		on_429(ln, l, now);
	/* what the provider counted: the estimate, or less if the real prompt was smaller;
	 * nothing if it refused the request or never answered */
	uint64_t counted = r->prompt_tokens > 0 ? r->prompt_tokens + (uint64_t)b->cfg.max_tokens : 0;
	grant_log_settle(&ln->grants, r->grant, r->http_status == 200, counted, r->sent_at, now);
	figure_take(&ln->grants, &ln->prov_requests, l->remaining_requests, l->reset_requests_ms,
		    r->grant, now);
	figure_take(&ln->grants, &ln->prov_tokens, l->remaining_tokens, l->reset_tokens_ms, r->grant,
		    now);
	/* No request left: nobody goes until the reset, counted from the report's arrival. This
	 * is later than the replay's own wait by a call's latency, and on a short window that is
	 * what keeps us clear: the replay's margin there is under how late the provider's clock
	 * may run on ours (BENCHMARKS.md has what the request-bound bench showed without it). */
	if (l->remaining_requests == 0 && l->reset_requests_ms > 0)
		pace_hold_until(&ln->pace, now + l->reset_requests_ms);
	if (l->remaining_tokens >= 0)
		pace_cap_tokens(&ln->pace, (double)l->remaining_tokens);
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

/* Config, sockets and buckets; 0, or -1 (logged). */
static int broker_open(struct broker *b, const char *dir, const char *session)
{
	char path[PATHS_MAX], err[512];
	paths_file(path, sizeof path, dir, "run/config.json");
	config_defaults(&b->cfg);
	if (sig_init_child() < 0 || config_load(&b->cfg, path, err, sizeof err)) {
		log_error("%s", err);
		return -1;
	}
	paths_endpoint(path, sizeof path, dir, session, "broker", -1);
	b->sock = zsock_bind(ZS_ROUTER, path);
	paths_endpoint(path, sizeof path, dir, session, "reports", -1);
	b->reports = zsock_bind(ZS_PULL, path);
	if (!b->sock || !b->reports) {
		log_error("cannot bind the broker's sockets in %s/sock/%s", dir, session);
		return -1;
	}
	buf_init(&b->msg);
	/* tests shorten the minute by which announced limits are judged (announce.h), so that a
	 * daily quota may end in seconds */
	const char *minute = getenv("KGSUP_MINUTE_MS");
	limits_board_init(&b->board, dir, b->cfg.trust_announced,
			  minute && atoll(minute) > 0 ? atoll(minute) : ANNOUNCE_MINUTE_MS);
	/* allocated once: the board points at the lanes' limits and paces */
	b->nlanes = 1 + b->cfg.nmodel_limits;
	b->lanes = xcalloc(b->nlanes, sizeof *b->lanes);
	for (size_t i = 0; i < b->nlanes; i++) {
		const char *model = i ? b->cfg.model_limits[i - 1].model : NULL;
		int64_t rpm, tpm;
		config_model_limits(&b->cfg, model, &rpm, &tpm);
		struct lane *l = &b->lanes[i];
		pace_init(&l->pace, (double)rpm, (double)tpm, (double)now_us() / 1000.0);
		limits_init(&l->limits, &b->board, model, &l->pace);
		figure_init(&l->prov_requests);
		figure_init(&l->prov_tokens);
		if (model)
			map_put(&b->lane_of, model, strlen(model), (uint32_t)i);
	}
	return 0;
}

/* Until told to stop, or the supervisor's pipe (fd 3) ends: its EOF means it died. */
static void serve(struct broker *b)
{
	int parent_fd = fcntl_is_open(3) ? 3 : -1;
	zpoll p;
	zpoll_init(&p);
	int asks = zpoll_add_sock(&p, b->sock);
	int reports = zpoll_add_sock(&p, b->reports);
	int sig = zpoll_add_fd(&p, sig_fd());
	int parent = parent_fd >= 0 ? zpoll_add_fd(&p, parent_fd) : -1;
	while (!sig_stop_requested()) {
		int64_t wait = wait_for_head(b, now_ms());
		long timeout = wait < 0 || wait > 200 ? 200 : (long)wait;
		if (zpoll_wait(&p, timeout) > 0) {
			if (parent >= 0 && zpoll_ready(&p, parent))
				break;
			if (zpoll_ready(&p, sig))
				sig_take();
			/* only the sockets that have something: each receive that finds nothing costs
			 * libzmq two system calls */
			if (zpoll_ready(&p, reports))
				on_reports(b); /* first: a report may free a slot or change the budget */
			if (zpoll_ready(&p, asks))
				on_message(b);
		}
		grant_what_we_can(b);
		for (size_t i = 0; i < b->nlanes; i++)
			limits_tick(&b->lanes[i].limits, &b->lanes[i].pace, now_ms());
	}
	zpoll_free(&p);
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
	int rc = broker_open(&b, argv[1], argv[2]) ? EXIT_INTERNAL : EXIT_OK;
	if (rc == EXIT_OK) {
		serve(&b);
		uint64_t throttled = 0;
		for (size_t i = 0; i < b.nlanes; i++)
			throttled += b.lanes[i].pace.throttled;
		log_debug("granted %llu, reported %llu, 429s %llu", (unsigned long long)b.granted,
			  (unsigned long long)b.reported, (unsigned long long)throttled);
	}
	zsock_close(b.sock);
	zsock_close(b.reports);
	zsock_term();
	buf_free(&b.msg);
	for (size_t i = 0; i < b.nlanes; i++)
		free(b.lanes[i].q);
	free(b.lanes);
	map_free(&b.lane_of);
	free(b.slot_grant);
	config_free(&b.cfg);
	return rc;
}
