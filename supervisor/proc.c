/* proc.c: the supervisor's children: when each is started and what its death means. Each is
 * started in its role by spawn.c (the broker exec'd; a worker forked by the zygote, or exec'd;
 * either way no ZeroMQ context, LMDB environment or libcurl state crosses a fork), gets
 * PR_SET_PDEATHSIG and the read end of a pipe whose EOF means the supervisor died, and is
 * reaped from the main loop with waitpid(WNOHANG). Each is in a process group of its own and
 * ignores the terminal's SIGINT and SIGHUP: the supervisor alone decides on a stop. Restarts
 * are throttled: at least a second between spawns of a slot, doubling for a slot that keeps
 * dying without finishing a batch, given up after a few such deaths in a row. */
#include "sup.h"
#include "nofile.h"
#include "broker/limits_view.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define RESPAWN_MIN_MS 1000
#define RESPAWN_MAX_MS 30000
#define HEALTHY_AFTER_MS 10000 /* a child that lived this long starts its death count afresh */
#define MAX_RAPID_DEATHS 6
/* workers the zygote forks (a few ms of CPU each) starting at once, per CPU */
#define ZYGOTE_STARTS_PER_CPU 4

void proc_slot_sent(struct sup *s, int i, uint32_t n, uint32_t seq)
{
	slot_sent(&s->slots[i], i, n, seq);
}

static int bind_slot(struct sup *s, int i)
{
	char ep[PATHS_MAX];
	paths_endpoint(ep, sizeof ep, s->state_dir, s->session, "w", i);
	s->slots[i].push = zsock_bind(ZS_PUSH, ep);
	return s->slots[i].push ? 0 : -1;
}

/* The session's directory and the pipe the children watch, and the zygote: what the children
 * need that the plan does not change. Done while the server is checked (run.c: the zygote
 * loads meanwhile), or here at the latest. */
int proc_begin(struct sup *s, char *err, size_t errlen)
{
	if (s->session[0])
		return 0;
	if (readlink_self(s->self_exe, sizeof s->self_exe) < 0) {
		snprintf(err, errlen, "cannot find kgsup's own executable: %s", strerror(errno));
		return -1;
	}
	if (pipe2(s->parent_pipe, O_CLOEXEC) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if (session_make(s, err, errlen)) {
		close(s->parent_pipe[0]);
		close(s->parent_pipe[1]);
		return -1;
	}
	spawn_init(s);
	spawn_zygote_due(s);
	return 0;
}

int proc_init(struct sup *s, char *err, size_t errlen)
{
	if (proc_begin(s, err, errlen))
		return -1;
	s->nslots = s->want;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	s->max_starting = ncpu < 2 ? 2 : ncpu > 64 ? 64 : (int)ncpu;
	s->slots = xcalloc((size_t)s->nslots, sizeof *s->slots);
	for (int i = 0; i < s->nslots; i++) {
		rendered_init(&s->slots[i].req);
		if (bind_slot(s, i) < 0) {
			snprintf(err, errlen, "cannot bind worker socket %d: %s", i, strerror(errno));
			return -1;
		}
	}
	return 0;
}

static void unrecall(struct sup *s, struct slot *sl)
{
	s->nrecalled -= sl->recalled;
	sl->recalled = 0;
}

static void start_worker(struct sup *s, int i)
{
	struct slot *sl = &s->slots[i];
	int64_t t0 = now_us();
	int forked;
	sl->proc.pid = spawn_worker(s, i, &forked);
	sl->proc.spawned_at = now_ms();
	sl->nheld = 0;
	sl->acked = 0;
	sl->done_since_spawn = 0;
	unrecall(s, sl); /* (one that died before it could be let go) */
	slot_set(sl, i, sl->proc.pid > 0 ? SLOT_STARTING : SLOT_BACKOFF);
	if (sl->proc.pid <= 0)
		sl->proc.restart_at = now_ms() + RESPAWN_MIN_MS;
	else /* (the time: for scripts/bench-spawn.sh, with the worker's "ready at") */
		log_debug("worker %d: pid %d %s at %lld us", i, (int)sl->proc.pid,
			  forked ? "forked" : "exec'd", (long long)t0);
}

static void start_broker(struct sup *s)
{
	s->broker.pid = spawn_broker(s);
	s->broker.spawned_at = now_ms();
	if (s->broker.pid <= 0)
		s->broker.restart_at = now_ms() + RESPAWN_MIN_MS;
}

void proc_spawn_due(struct sup *s)
{
	int64_t now = now_ms();
	if (s->shutting_down)
		return;
	/* with a shared broker (limits.broker) the workers ask it: none of our own */
	if (!s->cfg.broker && s->broker.pid <= 0 && now >= s->broker.restart_at && !s->stop_now)
		start_broker(s);
	/* once the work ran out, batches that come back (halves of a split, a retry) go to the
	 * workers still there: a worker started for them would mostly be stopped while loading */
	if (s->stopping || s->draining || (s->drained && proc_live_workers(s) > 0))
		return;
	spawn_zygote_due(s); /* (ready before the workers it forks are due) */
	/* An exec'd worker's start is mostly the dynamic loader (libcurl and libzmq bring some
	 * forty libraries): started all at once, 32 workers share the CPUs until all are ready at
	 * the same late moment. A few at a time, the first ones are already sending while the last
	 * ones load. One the zygote forks loads nothing (a few ms of CPU): more start at once for
	 * the same CPU, and the supervisor hands out batches sooner. */
	int most = spawn_alive(s) ? s->max_starting * ZYGOTE_STARTS_PER_CPU : s->max_starting;
	/* No more workers than there are batches to give: one started for nothing is stopped as it
	 * loads (proc_trim), and its start (a fork the supervisor waits for) holds back the first
	 * requests. */
	uint64_t useful = (uint64_t)proc_busy_workers(s) + ledger_to_give(&s->led);
	int starting = 0, live = proc_live_workers(s);
	for (int i = 0; i < s->nslots; i++)
		starting += s->slots[i].state == SLOT_STARTING;
	for (int i = 0; i < s->nslots && i < s->want && starting < most && (uint64_t)live < useful;
	     i++) {
		struct slot *sl = &s->slots[i];
		if (sl->state == SLOT_EMPTY || (sl->state == SLOT_BACKOFF && now >= sl->proc.restart_at)) {
			start_worker(s, i);
			starting += sl->state == SLOT_STARTING;
			live += slot_live(sl);
		}
	}
}

void proc_throttle(struct child *c, int64_t now)
{
	if (now - c->spawned_at >= HEALTHY_AFTER_MS)
		c->rapid_deaths = 0;
	c->rapid_deaths++;
	int64_t delay = RESPAWN_MIN_MS;
	for (int i = 1; i < c->rapid_deaths && delay < RESPAWN_MAX_MS; i++)
		delay *= 2;
	if (delay > RESPAWN_MAX_MS)
		delay = RESPAWN_MAX_MS;
	int64_t earliest = c->spawned_at + RESPAWN_MIN_MS;
	c->restart_at = now + delay > earliest ? now + delay : earliest;
	c->pid = 0;
}

static void describe_exit(char *out, size_t n, int status)
{
	if (WIFSIGNALED(status))
		snprintf(out, n, "killed by signal %d", WTERMSIG(status));
	else
		snprintf(out, n, "exited with status %d", WEXITSTATUS(status));
}

static void worker_died(struct sup *s, int i, int status)
{
	struct slot *sl = &s->slots[i];
	int64_t now = now_ms();
	char how[64];
	describe_exit(how, sizeof how, status);
	/* the batches it held go straight back to the front of the work queue; unless it ended
	 * on its own, the request of the one it was on may have reached the provider, which then
	 * bills it twice */
	uint32_t held[SLOT_DEPTH];
	for (int k = 0; k < sl->nheld; k++)
		held[k] = sl->held[k].batch;
	int own = WIFEXITED(status) && (WEXITSTATUS(status) == EXIT_OK ||
					WEXITSTATUS(status) == EXIT_STOPPED);
	enum lost_how lost = own ? LOST_UNSENT
				 : s->shutting_down || s->stop_now ? LOST_STOPPING : LOST_KILLED;
	ledger_worker_lost(&s->led, held, sl->nheld, lost);
	sl->nheld = 0;
	bwait_slot_gone(&s->bwait, i);
	/* The slot's PUSH socket stays bound: libzmq queued the batch in the dead worker's own
	 * pipe, which died with its connection, so nothing stale reaches the successor. (Closing
	 * and rebinding an ipc endpoint would race with libzmq unlinking the old socket file.) */
	int expected = sl->state == SLOT_QUITTING || s->stopping || s->shutting_down;
	if (expected || i >= s->want) {
		log_debug("worker %d %s", i, how);
		slot_set(sl, i, SLOT_EMPTY);
		sl->proc.pid = 0;
		return;
	}
	/* a worker that finished batches was killed from outside, not broken: no backoff build-up */
	if (sl->done_since_spawn)
		sl->proc.rapid_deaths = 0;
	proc_throttle(&sl->proc, now);
	if (sl->proc.rapid_deaths > MAX_RAPID_DEATHS) {
		log_error("worker %d keeps dying (%s, %d times in a row): slot given up", i, how,
			  sl->proc.rapid_deaths);
		slot_set(sl, i, SLOT_GIVENUP);
		return;
	}
	log_warn("worker %d %s; restarting in %lld ms", i, how,
		 (long long)(sl->proc.restart_at - now));
	slot_set(sl, i, SLOT_BACKOFF);
}

void proc_reap(struct sup *s)
{
	int status;
	pid_t pid;
	while ((pid = waitpid(-1, &status, WNOHANG)) > 0) {
		if (pbatch_reaped(s, pid, status))
			continue;
		if (pid == s->broker.pid) {
			char how[64];
			describe_exit(how, sizeof how, status);
			if (!s->shutting_down)
				log_warn("broker %s; restarting", how);
			proc_throttle(&s->broker, now_ms());
			continue;
		}
		if (spawn_reaped(s, pid, status))
			continue;
		for (int i = 0; i < s->nslots; i++)
			if (s->slots[i].proc.pid == pid) {
				worker_died(s, i, status);
				break;
			}
	}
	store_reader_check(s->db);
}

/* How long a worker may hold its oldest batch without a result: every attempt running to
 * api.timeout_s and every backoff to its cap, twice over, and 10 s for the broker's queue. A
 * provider's Retry-After longer than that may make us kill a worker that was only waiting for
 * its grant: a restart, and a batch counted "possibly billed" that was not sent; better than a
 * run that never ends. The pause for a used-up quota is not counted (quota_pause_end). */
static int64_t hold_deadline_ms(const struct config *c)
{
	return 2 * c->max_attempts * ((int64_t)(c->timeout_s * 1000) + c->backoff_cap_ms) + 10000;
}

/* While the broker pauses the run for a used-up quota, a held batch waits for its grant, not
 * on a stuck worker: its time counts from the pause's end (CLOCK_MONOTONIC ms; 0: no pause). */
static int64_t quota_pause_end(const struct sup *s, int64_t now)
{
	struct limits_view v;
	limits_view_read(&v, s->state_dir, &s->cfg);
	int64_t resume = limits_view_resume(&v); /* any model's */
	return resume > 0 ? now + (resume - wall_ms()) : 0;
}

void proc_watch_held(struct sup *s)
{
	int64_t now = now_ms(), deadline = hold_deadline_ms(&s->cfg);
	/* after a gap in our own loop (Ctrl-Z, SIGSTOP) the results that came meanwhile may not be
	 * read yet: every hold is timed afresh */
	int gap = now - s->held_watched_at > 5000;
	s->held_watched_at = now;
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		/* a worker waiting for a shared broker's grant is not stuck: its time counts
		 * from when the broker answers again */
		int for_broker = i < BWAIT_SLOTS && s->bwait.since[i];
		if (sl->nheld == 0 || sl->proc.pid <= 0 || gap || for_broker) {
			sl->watched_since = 0;
		} else if (!sl->watched_since || sl->held[0].seq != sl->watched_seq) {
			sl->watched_seq = sl->held[0].seq;
			sl->watched_since = now;
		} else if (now - sl->watched_since > deadline &&
			   quota_pause_end(s, now) > sl->watched_since) {
			sl->watched_since = quota_pause_end(s, now);
		} else if (now - sl->watched_since > deadline) {
			log_warn("worker %d has held batch %u for %lld s without a result: killed, its "
				 "batches go back to the queue", i, sl->held[0].batch,
				 (long long)(now - sl->watched_since) / 1000);
			kill(sl->proc.pid, SIGKILL);
			sl->watched_since = now; /* reaped soon; no warning every turn until then */
		}
	}
}

int proc_live_workers(const struct sup *s)
{
	int n = 0;
	for (int i = 0; i < s->nslots; i++)
		n += slot_live(&s->slots[i]);
	return n;
}

int proc_busy_workers(const struct sup *s)
{
	int n = 0;
	for (int i = 0; i < s->nslots; i++)
		n += s->slots[i].nheld > 0;
	return n;
}

int proc_any_alive(const struct sup *s)
{
	if (s->broker.pid > 0 || spawn_alive(s))
		return 1;
	for (int i = 0; i < s->nslots; i++)
		if (s->slots[i].proc.pid > 0)
			return 1;
	return 0;
}

/* Lets slot i's worker go: QUIT (it finishes the batch it holds first), or SIGTERM while it
 * is still loading (not connected yet, so no QUIT can reach it; it holds nothing). */
/* 1 when the slot is quitting now. */
static int quit_slot(struct sup *s, int i)
{
	struct slot *sl = &s->slots[i];
	if (sl->state == SLOT_IDLE || sl->state == SLOT_BUSY) {
		buf_reset(&s->msg);
		msg_encode_quit(&s->msg, &(struct msg_quit){ .acked = sl->acked });
		zsock_send(sl->push, s->msg.data, s->msg.len, 1);
		slot_set(sl, i, SLOT_QUITTING);
		return 1;
	}
	if (sl->state == SLOT_STARTING && sl->proc.pid > 0) {
		kill(sl->proc.pid, SIGTERM);
		slot_set(sl, i, SLOT_QUITTING);
		return 1;
	}
	return 0;
}

void proc_quit_all(struct sup *s)
{
	spawn_stop(s); /* no more workers: the zygote goes */
	for (int i = 0; i < s->nslots; i++)
		quit_slot(s, i);
}

/* Lets go, once nothing they sent waits to be committed (QUIT acknowledges it: a worker drops
 * its last result then), the surplus workers and the recalled ones. */
void proc_trim(struct sup *s)
{
	for (int i = s->nrecalled ? 0 : s->want; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if ((i >= s->want || sl->recalled) && sl->nheld == 0 && sl->state != SLOT_BUSY &&
		    quit_slot(s, i))
			unrecall(s, sl);
	}
}

void proc_drain(struct sup *s, int draining)
{
	s->draining = draining;
	s->drained |= draining;
	for (int i = 0; draining && i < s->nslots; i++)
		if (s->slots[i].state == SLOT_IDLE && s->slots[i].nheld == 0)
			quit_slot(s, i);
}

void proc_scale(struct sup *s, int n)
{
	char err[300];
	if (nofile_fit(n, err, sizeof err)) {
		int most = nofile_max_workers();
		log_warn("scale: %s; %d workers instead", err, most > 0 ? most : 1);
		n = most > 0 ? most : 1;
		nofile_fit(n, err, sizeof err);
	}
	if (n > s->nslots) {
		s->slots = xrealloc(s->slots, (size_t)n * sizeof *s->slots);
		memset(&s->slots[s->nslots], 0, (size_t)(n - s->nslots) * sizeof *s->slots);
		int have = s->nslots;
		for (; have < n; have++) {
			rendered_init(&s->slots[have].req);
			if (bind_slot(s, have) < 0) {
				log_warn("cannot bind worker socket %d: %s", have, strerror(errno));
				rendered_free(&s->slots[have].req);
				break;
			}
		}
		s->nslots = have;
		n = have;
	}
	log_info("scale: %d workers wanted (were %d)", n, s->want);
	/* A surplus worker holding batches goes now rather than after them: SIGUSR1 has it hand
	 * back the one waiting for its grant (in a rate limit, for as long as the limit says) and
	 * those queued in its socket; a call in flight finishes. It gets nothing more, and QUIT
	 * follows once its results are committed (proc_trim). Before its hello its handler is not
	 * in place (SIGUSR1 would kill it): a starting worker is let go by proc_trim. */
	for (int i = n; i < s->want && i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->proc.pid > 0 && sl->nheld > 0 && !sl->recalled &&
		    (sl->state == SLOT_IDLE || sl->state == SLOT_BUSY)) {
			kill(sl->proc.pid, SIGUSR1);
			sl->recalled = 1;
			s->nrecalled++;
		}
	}
	s->want = n;
}

void proc_hand_back(struct sup *s)
{
	/* only workers that said hello: their handlers are in place (SIGUSR1 would kill them
	 * before that) */
	for (int i = 0; i < s->nslots; i++) {
		struct slot *sl = &s->slots[i];
		if (sl->proc.pid > 0 && (sl->state == SLOT_IDLE || sl->state == SLOT_BUSY))
			kill(sl->proc.pid, SIGUSR1);
	}
}

void proc_signal_workers(struct sup *s, int signo)
{
	for (int i = 0; i < s->nslots; i++)
		if (s->slots[i].proc.pid > 0)
			kill(s->slots[i].proc.pid, signo);
}

void proc_signal_all(struct sup *s, int signo)
{
	if (s->broker.pid > 0)
		kill(s->broker.pid, signo);
	spawn_signal(s, signo);
	proc_signal_workers(s, signo);
}

void proc_close(struct sup *s)
{
	for (int i = 0; i < s->nslots; i++) {
		zsock_close(s->slots[i].push);
		rendered_free(&s->slots[i].req);
	}
	free(s->slots);
	s->slots = NULL;
	spawn_close(s);
	close(s->parent_pipe[0]);
	close(s->parent_pipe[1]);
}
