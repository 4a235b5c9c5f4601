/* main.c: the worker process, `kgsup __worker SLOT STATE_DIR SESSION`: forked by the zygote
 * (zygote.c, which holds no ZeroMQ context, LMDB environment or libcurl handle) or exec'd by
 * the supervisor, so nothing of the supervisor's ZeroMQ, LMDB or libcurl state is here. It
 * reads the run's settings, connects its four sockets, says HELLO and then serves batches one
 * at a time (the next may already wait in its socket) until told to quit, signalled, or
 * orphaned. */
#include "worker.h"
#include "../common/curvekey.h"
#include "../common/endpoint.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/roles.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#define RESULTS_LINGER_MS 2000

static int abort_transfer(void *arg)
{
	/* only a stop aborts a call: an orphan finishes it, the answer is paid for */
	return worker_must_stop(arg);
}

/* How a broker tells this worker's supervisor from others: HOST:STATE_DIR_NAME@HASH, the hash
 * of the state directory's full path (two runs named alike on one host must not share slots;
 * the sessions of one run must, so that a new session's asks settle the old one's grants). */
static void client_name(struct worker *w)
{
	char host[64] = "";
	gethostname(host, sizeof host - 1);
	char *real = realpath(w->state_dir, NULL);
	const char *dir = real ? real : w->state_dir;
	uint32_t h = 2166136261u;
	for (const char *p = dir; *p; p++)
		h = (h ^ (unsigned char)*p) * 16777619u;
	const char *slash = strrchr(dir, '/');
	const char *base = slash && slash[1] ? slash + 1 : dir;
	snprintf(w->client, sizeof w->client, "%.24s:%.30s@%06x", host, base, h & 0xffffff);
	free(real);
}

/* The broker's two sockets: the supervisor's own in its session directory, or a shared one
 * (limits.broker): asks on its PORT, reports on PORT+1 (endpoint.h), as a CURVE client when
 * keys are named. The secret key is read here, from its file, and lives only in the sockets. */
static int connect_broker(struct worker *w, char *err, size_t errlen)
{
	char asks[PATHS_MAX], reports[PATHS_MAX];
	if (!w->cfg.broker) {
		paths_endpoint(asks, sizeof asks, w->state_dir, w->session, "broker", -1);
		paths_endpoint(reports, sizeof reports, w->state_dir, w->session, "reports", -1);
		w->broker = zsock_connect(ZS_REQ, asks);
		w->reports = zsock_connect(ZS_PUSH, reports);
		return 0;
	}
	snprintf(asks, sizeof asks, "%s", w->cfg.broker);
	if (endpoint_reports(reports, sizeof reports, asks)) {
		snprintf(err, errlen, "limits.broker: not tcp://HOST:PORT: %s", asks);
		return -1;
	}
	if (!w->cfg.client_key) {
		w->broker = zsock_connect(ZS_REQ, asks);
		w->reports = zsock_connect(ZS_PUSH, reports);
		return 0;
	}
	char server[ZSOCK_KEY_LEN + 1], secret[ZSOCK_KEY_LEN + 1], public_[ZSOCK_KEY_LEN + 1];
	int rc = -1;
	if (!curvekey_read(w->cfg.broker_public_key, 0, server, err, errlen) &&
	    !curvekey_read(w->cfg.client_key, 1, secret, err, errlen)) {
		if (zsock_curve_public(public_, secret) < 0) {
			snprintf(err, errlen, "%s: not a CURVE secret key", w->cfg.client_key);
		} else {
			w->broker = zsock_connect_curve(ZS_REQ, asks, server, public_, secret);
			w->reports = zsock_connect_curve(ZS_PUSH, reports, server, public_, secret);
			rc = 0;
		}
	}
	explicit_bzero(secret, sizeof secret);
	return rc;
}

static int connect_sockets(struct worker *w, char *err, size_t errlen)
{
	char ep[PATHS_MAX];
	client_name(w);
	paths_endpoint(ep, sizeof ep, w->state_dir, w->session, "w", (int)w->slot);
	w->batches = zsock_connect(ZS_PULL, ep);
	paths_endpoint(ep, sizeof ep, w->state_dir, w->session, "results", -1);
	w->results = zsock_connect(ZS_PUSH, ep);
	if (connect_broker(w, err, errlen))
		return -1;
	if (!w->batches || !w->results || !w->broker || !w->reports) {
		snprintf(err, errlen, "cannot connect sockets: %s", strerror(errno));
		return -1;
	}
	return 0;
}

/* The stages' checks from the run's job; a run without stages has the one KG stage. */
static int load_job(struct worker *w, char *err, size_t errlen)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, w->state_dir, "run/job.json");
	size_t len;
	char *text = read_file(path, 64 << 20, &len);
	w->nstages = 1;
	w->stages[0].graph = 1;
	if (!text)
		return errno == ENOENT ? 0 : (snprintf(err, errlen, "%s: %s", path, strerror(errno)), -1);
	struct job job;
	int rc = job_parse(&job, &w->cfg, text, len, path, err, errlen);
	free(text);
	if (rc)
		return -1;
	w->nstages = job.n;
	for (size_t i = 0; i < job.n && !rc; i++) {
		w->stages[i].graph = job.st[i].graph;
		w->stages[i].embed = job.st[i].endpoint == EP_EMBEDDINGS;
		snprintf(w->stages[i].model, sizeof w->stages[i].model, "%s", job.st[i].model);
		if (job.st[i].schema && !(w->stages[i].schema = schema_parse(
						  job.st[i].schema, strlen(job.st[i].schema), path, err,
						  errlen)))
			rc = -1;
	}
	job_free(&job);
	return rc;
}

int worker_send(struct worker *w, const void *data, size_t len)
{
	if (!w->results_wait)
		return zsock_send(w->results, data, len, 1);
	while (!w->results_gone && zsock_send_timed(w->results, data, len, 1000) < 0)
		if (errno != EAGAIN || sig_stop_requested())
			w->results_gone = 1;
	return w->results_gone ? -1 : 0;
}

int worker_load(struct worker *w, int with_http, char *err, size_t errlen)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, w->state_dir, "run/config.json");
	config_defaults(&w->cfg);
	if (config_load(&w->cfg, path, err, errlen) || load_job(w, err, errlen))
		return -1;
	w->names = names_new(w->cfg.graph_titles, w->cfg.graph_aliases_file, err, errlen);
	if (!w->names)
		return -1;
	if (!with_http)
		return 0;
	char *key = config_api_key(&w->cfg, err, errlen);
	if (!key)
		return -1;
	if (http_global_init(err, errlen)) {
		config_forget_key(key);
		return -1;
	}
	w->http = http_new(&w->cfg, key, abort_transfer, w, err, errlen);
	config_forget_key(key); /* http keeps it only in its header list */
	return w->http ? 0 : -1;
}

/* An entry for a result to keep: a free one, else (cannot happen: the supervisor acks as it
 * sends) the oldest. */
static struct unacked *free_unacked(struct worker *w)
{
	struct unacked *oldest = &w->unacked[0];
	for (int i = 0; i < UNACKED_MAX; i++) {
		if (!w->unacked[i].held)
			return &w->unacked[i];
		if ((int32_t)(w->unacked[i].seq - oldest->seq) < 0)
			oldest = &w->unacked[i];
	}
	return oldest;
}

static void send_result(struct worker *w, struct msg_result *res)
{
	if (res->status == RES_OK) {
		res->payload = w->answer.data ? w->answer.data : "";
		res->payload_len = w->answer.len;
	} else {
		res->payload = w->error;
		res->payload_len = strlen(w->error);
	}
	msg_encode_result(&w->msg, res);
	worker_send(w, w->msg.data, w->msg.len);
	trace_send(w);
	/* every result is kept until acknowledged: spooled, an answer is not bought twice, and a
	 * refusal or a batch never sent is not counted possibly billed by the next session */
	struct unacked *u = free_unacked(w);
	u->held = 1;
	u->seq = res->seq;
	u->batch = res->batch;
	buf_reset(&u->msg);
	buf_put(&u->msg, w->msg.data, w->msg.len);
}

/* The supervisor committed our results up to seq `acked`: forget them. */
static void forget_acked(struct worker *w, uint32_t acked)
{
	for (int i = 0; i < UNACKED_MAX; i++)
		if (w->unacked[i].held && (int32_t)(w->unacked[i].seq - acked) <= 0)
			w->unacked[i].held = 0;
}

/* The supervisor died holding results of ours unread, maybe: save them where the next run of
 * this state directory looks (each written whole or not at all: temp file, fsync, rename; then
 * the directory fsynced, or the renames may not survive a power cut). */
static void spool_unacked(struct worker *w)
{
	char dir[PATHS_MAX], path[PATHS_MAX];
	int renamed = 0;
	paths_file(dir, sizeof dir, w->state_dir, "spool");
	for (int i = 0; i < UNACKED_MAX; i++) {
		struct unacked *u = &w->unacked[i];
		if (!u->held)
			continue;
		u->held = 0;
		mkdir_p(dir, 0700);
		snprintf(path, sizeof path, "%s/%u-%d.res", dir, u->batch, (int)getpid());
		if (write_file_atomic(path, u->msg.data, u->msg.len, 0600) < 0) {
			log_error("cannot spool the answer to batch %u: %s", u->batch, strerror(errno));
			continue;
		}
		log_info("supervisor gone: result for batch %u spooled to %s", u->batch, path);
		renamed++;
	}
	if (renamed && fsync_dir(dir) < 0)
		log_error("%s: cannot fsync: %s", dir, nofollow_strerror(errno));
}

/* The run is stopping or scaled down past this worker (SIGUSR1, SIGTERM), orphaned, or the API
 * refused it: a batch not started yet goes back untouched. */
static void hand_back(struct worker *w, const struct msg_batch *b)
{
	struct msg_result res;
	worker_result_for(w, b, &res);
	res.status = RES_GAVEUP;
	res.attempt = b->attempt;
	snprintf(w->error, sizeof w->error, "not started: handed back");
	send_result(w, &res);
}

/* Stopping or orphaned: the batches still in the socket were never started; each goes back
 * with a result that says so (sent, and spooled when orphaned), so none of them stays in
 * flight in the store. */
static void hand_back_queued(struct worker *w)
{
	char *frame;
	size_t len;
	while (zsock_recv(w->batches, &frame, &len, 0) == 0) {
		struct msg_batch b;
		if (msg_type(frame, len) == MSG_BATCH && !msg_decode_batch(frame, len, &b))
			hand_back(w, &b);
		free(frame);
	}
}

static void serve_batch(struct worker *w, const char *frame, size_t len)
{
	struct msg_batch b;
	if (msg_decode_batch(frame, len, &b)) {
		log_error("malformed batch message (%zu bytes) ignored", len);
		return;
	}
	forget_acked(w, b.acked);
	/* after a refusal that stops the run (a bad key, an unknown model), the batch that waited
	 * in the socket would be refused the same way: the supervisor's stop is on its way */
	if (sig_usr1_seen() || w->refused) {
		hand_back(w, &b);
		return;
	}
	struct msg_result res;
	call_batch(w, &b, &res);
	w->refused |= res.status == RES_ABORT;
	if (res.status == RES_NOCONN) /* the supervisor says it once for the run */
		log_debug("batch %u: cannot connect: %s", b.batch, w->error);
	else if (res.status != RES_OK)
		log_info("batch %u: %s", b.batch, w->error);
	send_result(w, &res);
}

/* Waits for the next message when none is there: sends the last report first (no ask will
 * carry it for a while), then watches the batch socket, the signals and the supervisor's
 * pipe. */
static void wait_idle(struct worker *w, zpoll *p, int sig, int parent)
{
	worker_flush_report(w);
	if (zpoll_wait(p, 1000) <= 0)
		return;
	if (zpoll_ready(p, sig))
		sig_take();
	if (parent >= 0 && zpoll_ready(p, parent))
		w->orphaned = 1;
}

/* Returns 0 on a requested quit, 1 when stopped by a signal or orphaned. A batch already in
 * the socket (sent while the last one was in hand) is taken without a poll: signals set
 * their flags in the handler, and the supervisor's pipe is looked at whenever the worker
 * runs out of batches, which it does within three (the most it is sent ahead) if the
 * supervisor is gone. */
static int serve(struct worker *w)
{
	zpoll p;
	zpoll_init(&p);
	zpoll_add_sock(&p, w->batches);
	int sig = zpoll_add_fd(&p, sig_fd());
	int parent = w->parent_fd >= 0 ? zpoll_add_fd(&p, w->parent_fd) : -1;
	int rc = 1;
	for (;;) {
		if (worker_orphaned(w)) {
			hand_back_queued(w);
			spool_unacked(w);
			break;
		}
		if (worker_must_stop(w)) {
			hand_back_queued(w);
			break;
		}
		char *frame;
		size_t len;
		if (zsock_recv(w->batches, &frame, &len, 0) < 0) {
			wait_idle(w, &p, sig, parent);
			continue; /* the checks at the top of the loop decide */
		}
		int type = msg_type(frame, len);
		struct msg_quit q;
		if (type == MSG_QUIT) {
			if (!msg_decode_quit(frame, len, &q))
				forget_acked(w, q.acked);
			free(frame);
			rc = 0;
			break;
		}
		if (type == MSG_BATCH)
			serve_batch(w, frame, len);
		else
			log_error("unexpected message type %d ignored", type);
		free(frame);
	}
	worker_flush_report(w);
	zpoll_free(&p);
	return rc;
}

int worker_main(int argc, char **argv)
{
	if (argc != 4 || !paths_session_ok(argv[3])) {
		die_msg("__worker is internal: started by the supervisor");
		return EXIT_USAGE;
	}
	static struct worker w;
	w.slot = (uint32_t)strtoul(argv[1], NULL, 10);
	w.state_dir = argv[2];
	w.session = argv[3]; /* its supervisor's sockets: DIR/sock/SESSION */
	w.parent_fd = fcntl_is_open(PARENT_FD) ? PARENT_FD : -1;
	char tag[16];
	snprintf(tag, sizeof tag, "w%u", w.slot);
	log_set_tag(tag);
	log_level_from_env();
	srandom((unsigned)(getpid() ^ now_us()));
	char err[512];
	if (sig_init_child() < 0 || worker_load(&w, 1, err, sizeof err) ||
	    connect_sockets(&w, err, sizeof err)) {
		log_error("%s", err);
		return EXIT_INTERNAL;
	}
	http_response_init(&w.resp);
	buf_init(&w.msg);
	buf_init(&w.answer);
	buf_init(&w.req);
	struct msg_hello hello = { .slot = w.slot, .pid = (uint32_t)getpid() };
	msg_encode_hello(&w.msg, &hello);
	zsock_send(w.results, w.msg.data, w.msg.len, 0);
	/* the time and the CPU it took to get here (since the fork: for an exec'd worker the
	 * exec and the dynamic loader too), for scripts/bench-spawn.sh */
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	log_debug("ready at %lld us, after %.3f ms of CPU", (long long)now_us(),
		  (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
			  (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);

	int rc = serve(&w);
	/* the results of the last moments (batches handed back on a stop) reach a supervisor
	 * that is there; an orphan's are spooled and would only wait for nobody */
	if (!worker_orphaned(&w))
		zsock_linger(w.results, RESULTS_LINGER_MS);

	http_response_free(&w.resp);
	names_free(w.names);
	http_free(w.http);
	http_global_cleanup();
	zsock_close(w.batches);
	zsock_close(w.results);
	zsock_close(w.broker);
	zsock_close(w.reports);
	zsock_term();
	buf_free(&w.msg);
	buf_free(&w.answer);
	for (int i = 0; i < UNACKED_MAX; i++)
		buf_free(&w.unacked[i].msg);
	buf_free(&w.req);
	for (int i = 0; i < TRACE_HELD; i++)
		buf_free(&w.trace_out[i]);
	config_free(&w.cfg);
	for (size_t i = 0; i < w.nstages; i++)
		schema_free(w.stages[i].schema);
	return rc ? EXIT_STOPPED : EXIT_OK;
}
