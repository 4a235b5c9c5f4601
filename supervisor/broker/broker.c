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
 *   - With limits.window_s (the user says how long the provider's window is), the window's
 *     share of the limits goes at once, and no window of that length holds more: share.h.
 * Providers limit each model apart: every model listed in limits.models has a lane of its own
 * (its pace, limits, grant log, provider figures and queue), and the models not listed share
 * one at the top-level limits, so a 429 on one model holds back only that model's asks. Only
 * max_in_flight is counted over all. An ask finds its lane by the model it names (a hash).
 * The same code runs as a supervisor's own broker (`kgsup __broker DIR SESSION`, ipc:// in the
 * session's directory, limits published in DIR/run/limits.json) and as a shared one (`kgsup
 * broker --listen tcp://HOST:PORT`, broker_cmd.c: asks on PORT, reports on PORT+1, CURVE with
 * a ZAP handler polled here, its view in memory for `kgsup status --broker`). A worker is
 * known by its client (its supervisor) and its slot: see clients.h.
 * A broker restarted (killed, then started again) knows nothing of the grants its previous
 * life made. It does not burst for that: its buckets start all but empty (one request, and
 * a second's tokens under the margin) and its rate at PACE_START_FACTOR, so across the restart
 * the grants keep to the pace, and within its first window it grants less than the limit.
 * With limits.window_s the share goes at once instead, so a restarted broker (and a shared
 * one's every start, which cannot tell) first lets one window go by, granting nothing.
 * What it forgets: the grants still in flight (max_in_flight may be passed by as many, once),
 * a 429's pause (the next report of a 429 sets it again) and the provider's remaining figures
 * (the next reports bring them). Its grant numbers start from the wall clock, so that a report
 * of a grant of its previous life never settles one of its own. */
#include "../../common/config.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/proto.h"
#include "../../common/roles.h"
#include "../../common/sig.h"
#include "../../common/strmap.h"
#include "../../common/util.h"
#include "../../common/zsock.h"
#include "broker.h"
#include "broker_impl.h"
#include "limits.h"
#include "pace.h"
#include "window.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

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
	if (share_on(&l->share, &l->pace))
		wait = share_lane_wait(&l->share, &l->grants, &l->pace, w->est_tokens, now);
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
	share_advance(&l->share, &l->grants, now);
	while (l->nq && wait_for_lane(b, l, now) == 0) {
		struct waiter *w = &l->q[0];
		pace_take(&l->pace, w->est_tokens);
		if (l->share.window_ms)
			share_add(&l->share, &l->grants, w->est_tokens);
		b->in_flight++;
		b->granted++;
		uint64_t seq = grant_log_add(&l->grants, now, w->est_tokens);
		struct held *h = &b->clients.held[w->worker];
		*h = (struct held){ li, seq, h->client };
		struct client *c = &b->clients.c[h->client];
		c->granted++;
		minute_add(&c->grants, now);
		minute_add(&l->minute, now);
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

/* The grant a worker holds is over: when its report comes (grant = its number), or when the slot
 * asks again (grant = 0: a worker holds one request at a time, so whatever it held is over;
 * this also frees the grants of workers that died before reporting). Reports travel on their
 * own socket and may overtake or trail the next ask, hence the number. */
static void settle_worker(struct broker *b, uint32_t worker, uint32_t lane, uint64_t grant)
{
	struct held *held = &b->clients.held[worker];
	if (held->seq && (grant == 0 || (grant == held->seq && lane == held->lane))) {
		held->seq = 0;
		if (b->in_flight > 0)
			b->in_flight--;
	}
}

static void on_ask(struct broker *b, const char *id, size_t idlen, const struct msg_ask *a)
{
	uint32_t client;
	uint32_t worker = clients_worker(&b->clients, a->client, a->client_len, a->slot, &client);
	settle_worker(b, worker, 0, 0);
	int64_t since = now_ms() - (a->waited_ms > 0 ? a->waited_ms : 0);
	struct lane *l = &b->lanes[lane_index(b, a->model, a->model_len)];
	l->q = xgrow(l->q, &l->capq, l->nq, sizeof *l->q, 64);
	/* keep the queue ordered by when each worker first asked */
	size_t pos = l->nq;
	while (pos > 0 && l->q[pos - 1].queued_since > since)
		pos--;
	memmove(l->q + pos + 1, l->q + pos, (l->nq - pos) * sizeof *l->q);
	struct waiter *w = &l->q[pos];
	memcpy(w->id, id, idlen);
	w->idlen = idlen;
	w->worker = worker;
	w->est_tokens = a->est_tokens;
	w->queued_since = since;
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
	uint32_t client;
	settle_worker(b, clients_worker(&b->clients, r->client, r->client_len, r->slot, &client), li,
		      r->grant);
	b->clients.c[client].reports++;
	b->clients.c[client].http_429 += r->http_status == 429;
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
	share_settled(&ln->share, &ln->grants, r->grant, now);
	figure_take(&ln->grants, &ln->prov_requests, l->remaining_requests, l->reset_requests_ms,
		    r->grant, now);
	figure_take(&ln->grants, &ln->prov_tokens, l->remaining_tokens, l->reset_tokens_ms, r->grant,
		    now);
	/* No request left: nobody goes until the reset, counted from the report's arrival (with
	 * limits.window_s, see share_hold_from). This is later than the replay's own wait by a
	 * call's latency, and on a short window that is what keeps us clear: the replay's margin
	 * there is under how late the provider's clock may run on ours (BENCHMARKS.md has what
	 * the request-bound bench showed without it). */
	if (l->remaining_requests == 0 && l->reset_requests_ms > 0)
		pace_hold_until(&ln->pace, share_hold_from(&ln->share, &ln->grants, &ln->pace,
							   r->grant, r->sent_at, now) +
						   l->reset_requests_ms);
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
		if (msg_type(frame, len) == MSG_BSTATUS) {
			buf view;
			buf_init(&view);
			broker_view(b, &view);
			struct msg_bview v = { .json = view.data, .json_len = view.len };
			msg_encode_bview(&b->msg, &v);
			zsock_send_routed(b->sock, id, idlen, b->msg.data, b->msg.len);
			buf_free(&view);
		} else if (!msg_decode_ask(frame, len, &a)) {
			if (a.has_report)
				on_report(b, &a.report);
			on_ask(b, id, idlen, &a);
		} else if (len >= 2 && (unsigned char)frame[0] != PROTO_VERSION) {
			/* a shared broker's clients may run another kgsup: told once, not per ask
			 * (they wait, and their status says they wait for the broker) */
			if (!b->told_version)
				log_error("asks of protocol version %d ignored (this broker speaks %d): "
					  "run the same kgsup version here and on the clients",
					  (unsigned char)frame[0], PROTO_VERSION);
			b->told_version = 1;
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

/* The sockets: plain, or CURVE servers behind the ZAP handler, which must be bound before
 * them (libzmq asks it for every connection they take). EXIT_OK, or an exit code (logged). */
static int open_sockets(struct broker *b, const struct broker_start *st)
{
	char err[512];
	if (st->secret) {
		if (allow_load(&b->allow, st->allow_dir, err, sizeof err)) {
			log_error("%s", err);
			return EXIT_USAGE;
		}
		b->zap = zsock_zap_bind();
		b->sock = b->zap ? zsock_bind_curve(ZS_ROUTER, st->asks, st->secret) : NULL;
		b->reports = b->sock ? zsock_bind_curve(ZS_PULL, st->reports, st->secret) : NULL;
	} else {
		b->sock = zsock_bind(ZS_ROUTER, st->asks);
		b->reports = b->sock ? zsock_bind(ZS_PULL, st->reports) : NULL;
	}
	if (!b->sock || !b->reports) {
		log_error("cannot bind the broker's sockets (%s, %s): %s", st->asks, st->reports,
			  strerror(errno));
		/* a shared broker's address is the user's (in use, not this machine's) */
		return st->state_dir ? EXIT_INTERNAL : EXIT_USAGE;
	}
	return EXIT_OK;
}

/* Config, sockets and buckets; EXIT_OK, or an exit code (logged). */
static int broker_open(struct broker *b, const struct broker_start *st)
{
	char err[512];
	config_defaults(&b->cfg);
	if (config_load(&b->cfg, st->config, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_USAGE;
	}
	b->endpoint = st->asks;
	b->started_wall = wall_ms();
	/* a life of this broker before this one, whose grants it does not know: a supervisor's
	 * own broker restarted finds its session's socket file there (a new session has a
	 * directory of its own); a shared one cannot tell, so it takes every start for one */
	int earlier = !st->state_dir ||
		      (!strncmp(st->asks, "ipc://", 6) && !access(st->asks + 6, F_OK));
	int rc = open_sockets(b, st);
	if (rc != EXIT_OK)
		return rc;
	buf_init(&b->msg);
	/* tests shorten the minute by which announced limits are judged (announce.h), so that a
	 * daily quota may end in seconds */
	const char *minute = getenv("KGSUP_MINUTE_MS");
	limits_board_init(&b->board, st->state_dir, b->cfg.trust_announced,
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
		/* numbers no earlier life of this broker gave (see the top of this file) */
		l->grants.seq = (uint64_t)wall_ms() * 1000;
		share_init(&l->share, b->cfg.window_s, &l->grants);
		if (share_on(&l->share, &l->pace)) {
			pace_no_slow_start(&l->pace);
			if (earlier) /* its grants may fill the window still: one goes by first */
				pace_hold_until(&l->pace, now_ms() + l->share.window_ms +
								  l->share.leave_ms);
		}
		if (model)
			map_put(&b->lane_of, model, strlen(model), (uint32_t)i);
	}
	return EXIT_OK;
}

/* Until told to stop, or the parent's pipe ends (its EOF: the supervisor died). SIGHUP
 * rereads the allow directory. */
static void serve(struct broker *b, int parent_fd)
{
	zpoll p;
	zpoll_init(&p);
	int asks = zpoll_add_sock(&p, b->sock);
	int reports = zpoll_add_sock(&p, b->reports);
	int sig = zpoll_add_fd(&p, sig_fd());
	int parent = parent_fd >= 0 ? zpoll_add_fd(&p, parent_fd) : -1;
	int zap = b->zap ? zpoll_add_sock(&p, b->zap) : -1;
	while (!sig_stop_requested()) {
		int64_t wait = wait_for_head(b, now_ms());
		long timeout = wait < 0 || wait > 200 ? 200 : (long)wait;
		if (zpoll_wait(&p, timeout) > 0) {
			if (parent >= 0 && zpoll_ready(&p, parent))
				break;
			if (zpoll_ready(&p, sig) && (sig_take() & (1ul << SIGHUP)) && b->zap) {
				char err[512];
				if (allow_load(&b->allow, b->allow.dir, err, sizeof err))
					log_error("%s (the keys read before stay)", err);
			}
			if (zap >= 0 && zpoll_ready(&p, zap))
				zsock_zap_answer(b->zap, allow_admit, &b->allow);
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

int broker_run(const struct broker_start *st)
{
	static struct broker b;
	int rc = broker_open(&b, st);
	if (rc == EXIT_OK) {
		if (!st->state_dir) /* a supervisor's own broker says nothing of itself */
			log_info("pid %d serving %s (reports on %s)%s", (int)getpid(), st->asks,
				 st->reports, st->secret ? ", CURVE" : "");
		serve(&b, st->parent_fd);
		uint64_t throttled = 0;
		for (size_t i = 0; i < b.nlanes; i++)
			throttled += b.lanes[i].pace.throttled;
		log_debug("granted %llu, reported %llu, 429s %llu", (unsigned long long)b.granted,
			  (unsigned long long)b.reported, (unsigned long long)throttled);
	}
	zsock_close(b.sock);
	zsock_close(b.reports);
	zsock_close(b.zap);
	zsock_term();
	buf_free(&b.msg);
	for (size_t i = 0; i < b.nlanes; i++)
		free(b.lanes[i].q);
	free(b.lanes);
	map_free(&b.lane_of);
	clients_free(&b.clients);
	allow_free(&b.allow);
	config_free(&b.cfg);
	return rc;
}

/* kgsup __broker DIR SESSION: the supervisor's own, on ipc:// in the session's directory. */
int broker_main(int argc, char **argv)
{
	if (argc != 3 || !paths_session_ok(argv[2])) {
		die_msg("__broker is internal: started by the supervisor");
		return EXIT_USAGE;
	}
	log_set_tag("broker");
	log_level_from_env();
	if (sig_init_child() < 0) {
		log_error("cannot install signal handlers");
		return EXIT_INTERNAL;
	}
	char config[PATHS_MAX], asks[PATHS_MAX], reports[PATHS_MAX];
	paths_file(config, sizeof config, argv[1], "run/config.json");
	paths_endpoint(asks, sizeof asks, argv[1], argv[2], "broker", -1);
	paths_endpoint(reports, sizeof reports, argv[1], argv[2], "reports", -1);
	struct broker_start st = { .config = config, .state_dir = argv[1], .asks = asks,
				   .reports = reports, .parent_fd = fcntl_is_open(3) ? 3 : -1 };
	int rc = broker_run(&st);
	return rc == EXIT_OK ? EXIT_OK : EXIT_INTERNAL;
}
