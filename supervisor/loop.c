/* loop.c: the supervisor's poll loop, from the first spawn until the run is done, stopped or
 * aborted, and its orderly end:
 *   stop dispatching -> let calls in flight finish (deadline) -> SIGTERM -> SIGKILL ->
 *   commit what came back -> record the final state -> exit code.
 * Each turn: signals (children reaped), results in, the spool looked at, children reaped again,
 * the control socket, spawns due, one group transaction (round.c) when there is anything to
 * commit or hand out. A batch whose worker died is handed out once, whichever of its death and
 * its result is seen first (ledger.h). */
#include "sup.h"
#include "control.h"
#include "../common/log.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <unistd.h>

#define POLL_MS 200
#define HEARTBEAT_MS 1000 /* counters are committed at least this often (status reads them) */
#define LAST_RESULTS_WAIT_MS 30 /* after the last child is gone, while results still come */
#define LAST_RESULTS_POLLS 10
#define QUIT_GRACE_MS 3000 /* after QUIT, before SIGTERM; then as long again before SIGKILL */

static int scale_to(void *arg, int workers)
{
	struct sup *s = arg;
	proc_scale(s, workers);
	return s->want;
}

static int any_slot_wants(const struct sup *s)
{
	for (int i = 0; i < s->nslots && i < s->want; i++)
		if (round_slot_wants(s, i))
			return 1;
	return 0;
}

static int all_given_up(const struct sup *s)
{
	for (int i = 0; i < s->nslots && i < s->want; i++)
		if (s->slots[i].state != SLOT_GIVENUP)
			return 0;
	return 1;
}

static void begin_stop(struct sup *s, int now)
{
	if (!s->stopping) {
		s->stopping = 1;
		proc_hand_back(s);
		pbatch_stop(s); /* the provider keeps its batches: the next session picks them up */
		s->stop_deadline = now_ms() + s->cfg.stop_deadline_s * 1000;
		if (!now)
			log_info("stopping: no new batches; waiting up to %lld s for %d calls in flight "
				 "(Ctrl-C again to abandon them)",
				 (long long)s->cfg.stop_deadline_s, proc_busy_workers(s));
	}
	if (now && !s->stop_now) {
		s->stop_now = 1;
		/* not the broker: a worker between two asks would take its going for a fault; it
		 * goes after them, when the children are let go */
		proc_signal_workers(s, SIGTERM);
	}
}

static void handle_signals(struct sup *s)
{
	unsigned long sigs = sig_take();
	if (sigs & (1UL << SIGCHLD))
		proc_reap(s);
	if (sigs & ((1UL << SIGINT) | (1UL << SIGTERM) | (1UL << SIGHUP)))
		begin_stop(s, sig_stop_count() >= 2);
}

/* Orphans of an earlier session spool the answers to calls that were out when this session
 * began: they are committed as they come (once a second, and at the end), not left behind. */
static void look_at_spool(struct sup *s, int now)
{
	if (s->nspooled || (!now && now_ms() - s->spool_looked < HEARTBEAT_MS))
		return;
	s->spool_looked = now_ms();
	size_t n = sink_ingest_spool(s);
	if (n)
		log_info("%zu answers spooled by workers of an earlier session recovered", n);
}

/* Returns 1 when the loop is over. */
static int loop_once(struct sup *s, zpoll *p)
{
	/* batches due while the run waits for its server are not sent, nor while no worker wants
	 * one, nor those only the Batch API takes (its fill runs in the rounds that results and the
	 * heartbeat make): no reason to wake for them */
	int64_t t = now_ms();
	long due = !any_slot_wants(s) ? POLL_MS
		   : reach_quota(&s->reach, proc_busy_workers(s), t) ? round_next_due_ms(s, t, POLL_MS)
								      : reach_sleep_ms(&s->reach, t, POLL_MS);
	zpoll_wait(p, pbatch_sleep_ms(&s->pb, due));
	handle_signals(s);
	sink_receive(s);
	look_at_spool(s, 0);
	proc_reap(s);
	proc_watch_held(s);
	if (s->control_fd >= 0)
		control_serve(s->control_fd, scale_to, s);
	if (s->aborted && !s->stop_now) {
		log_error("%s", s->abort_msg);
		begin_stop(s, 1);
	}
	proc_spawn_due(s);
	pbatch_tick(s);
	int dispatch = !s->stopping;
	int64_t now = now_ms();
	if (s->nqueue || s->ninvalid || (dispatch && any_slot_wants(s) && round_dispatchable(s)) ||
	    now - s->last_commit >= HEARTBEAT_MS) {
		if (round_run(s, dispatch) < 0) {
			begin_stop(s, 1);
			return 1;
		}
	}
	/* workers are let go only when all they sent is committed (QUIT acknowledges it) */
	if (s->nqueue == 0) {
		proc_trim(s);
		proc_drain(s, !s->stopping && !ledger_work_left(&s->led));
	}
	progress_tick(s);
	int busy = proc_busy_workers(s);
	if (!ledger_work_left(&s->led) && busy == 0 && s->nqueue == 0 && !pbatch_busy(&s->pb))
		return 1;
	if (s->stopping) {
		if (busy == 0)
			return 1;
		if (!s->stop_now && now >= s->stop_deadline) {
			log_warn("stop deadline passed; abandoning %d calls in flight", busy);
			begin_stop(s, 1);
		}
	}
	if (!s->stopping && all_given_up(s)) {
		log_error("every worker slot has been given up; stopping");
		begin_stop(s, 1);
	}
	return 0;
}

/* Lets the children go: QUIT, then SIGTERM, then SIGKILL, collecting what they send back. */
static void shutdown_children(struct sup *s, zpoll *p)
{
	s->shutting_down = 1;
	/* commit first: a worker drops its last result when it sees QUIT */
	round_run(s, 0);
	proc_quit_all(s);
	int64_t t0 = now_ms();
	int termed = 0, killed = 0;
	while (proc_any_alive(s)) {
		zpoll_wait(p, 100);
		sig_take();
		sink_receive(s);
		proc_reap(s);
		int64_t waited = now_ms() - t0;
		if (!termed && (waited > QUIT_GRACE_MS || proc_live_workers(s) == 0)) {
			proc_signal_all(s, SIGTERM);
			termed = 1;
		} else if (!killed && waited > 2 * QUIT_GRACE_MS) {
			proc_signal_all(s, SIGKILL);
			killed = 1;
		}
	}
	/* a worker's last results (the batches it handed back as it stopped) may still be on
	 * their way through our I/O thread when its death is seen */
	for (int i = 0; i < LAST_RESULTS_POLLS && zpoll_wait(p, LAST_RESULTS_WAIT_MS) > 0; i++) {
		sig_take();
		sink_receive(s);
	}
}

static int finish(struct sup *s, int loop_failed)
{
	int finished = !ledger_work_left(&s->led) && proc_busy_workers(s) == 0 &&
		       !pbatch_busy(&s->pb);
	int code;
	if (s->aborted) {
		s->run_state = RUN_ABORTED;
		code = EXIT_ABORTED;
	} else if (finished && !loop_failed) {
		int failed = s->led.ctr.batches_failed || s->led.ctr.batches_blocked;
		s->run_state = failed ? RUN_FAILED : RUN_DONE;
		code = failed ? EXIT_FAILED : EXIT_OK;
	} else {
		s->run_state = RUN_STOPPED;
		code = EXIT_STOPPED;
	}
	reach_end(&s->reach);
	bwait_init(&s->bwait); /* the run is over: it waits for nothing */
	if (round_run(s, 0) < 0)
		code = EXIT_STOPPED;
	progress_end(s);
	report_write(s, code);
	if (s->store_error[0])
		die_msg("cannot write to the store in %s (%s): stopped; what was committed is safe; "
			"make room and resume with: kgsup resume -s %s",
			s->state_dir, s->store_error, s->state_dir);
	else if (s->aborted)
		die_msg("aborted: %s", s->abort_msg);
	else if (code == EXIT_FAILED && s->led.ctr.batches_blocked)
		die_msg("finished with %llu failed batches and %llu blocked by them (kgsup status -s "
			"%s; kgsup resume --retry-failed -s %s retries them)",
			(unsigned long long)s->led.ctr.batches_failed,
			(unsigned long long)s->led.ctr.batches_blocked, s->state_dir, s->state_dir);
	else if (code == EXIT_FAILED) /* start on such a run ends here too, having sent nothing */
		die_msg("%llu batches failed; kgsup resume --retry-failed -s %s retries them "
			"(kgsup status -s %s)", (unsigned long long)s->led.ctr.batches_failed,
			s->state_dir, s->state_dir);
	else if (code == EXIT_STOPPED)
		die_msg("stopped before done; resume with: kgsup resume -s %s", s->state_dir);
	return code;
}

int loop_run(struct sup *s)
{
	char err[512];
	char ep[PATHS_MAX];
	/* a socket a worker slot, more than libzmq's default of 1,023 (scale may add slots) */
	zsock_size(WORKERS_MAX + 64);
	if (proc_init(s, err, sizeof err)) { /* first: it makes the session's socket directory */
		die_msg("%s", err);
		return EXIT_INTERNAL;
	}
	paths_endpoint(ep, sizeof ep, s->state_dir, s->session, "results", -1);
	s->results = zsock_bind_hwm(ZS_PULL, ep, RESULTS_HWM);
	if (!s->results) {
		die_msg("cannot bind the results socket %s: %s", ep, strerror(errno));
		return EXIT_INTERNAL;
	}
	buf_init(&s->msg);
	zpoll p;
	zpoll_init(&p);
	zpoll_add_sock(&p, s->results);
	zpoll_add_fd(&p, sig_fd());
	s->control_fd = control_open(s->state_dir);
	if (s->control_fd < 0)
		log_warn("no control socket (kgsup scale will not reach this run): %s", strerror(errno));
	else
		zpoll_add_fd(&p, s->control_fd);
	s->session_start = now_ms();
	trace_open(&s->trace, s->state_dir, s->cfg.trace_max_mb);
	if (getrandom(&s->session_id, sizeof s->session_id, 0) != (ssize_t)sizeof s->session_id)
		s->session_id = (uint64_t)now_us() << 16 ^ (uint64_t)getpid();
	s->elapsed_base = s->led.ctr.elapsed_ms;
	s->last_progress = s->session_start;
	s->run_state = RUN_RUNNING;
	reach_init(&s->reach);
	bwait_init(&s->bwait);
	log_info("run: %u batches (%u chunks from %u sources), %llu done already, %d workers",
		 (uint32_t)ledger_total(&s->led), s->plan.nchunks, s->plan.nsources,
		 (unsigned long long)s->led.ctr.batches_done, s->want);
	progress_begin(s, !s->no_progress); /* before the children: they inherit the bar's flag */
	if (s->ready_fd > 0) {
		ssize_t w = write(s->ready_fd, "r", 1);
		(void)w; /* a parent that is gone needs no word */
		close(s->ready_fd);
		s->ready_fd = -1;
	}
	int loop_failed = 0;
	proc_spawn_due(s); /* before the first wait: the loop polls before it spawns */
	while (!loop_once(s, &p))
		;
	loop_failed = s->stop_now && !s->aborted && !s->stopping;
	shutdown_children(s, &p);
	look_at_spool(s, 1);
	int code = finish(s, loop_failed);
	trace_close(&s->trace);
	if (s->control_fd >= 0)
		control_close(s->control_fd, s->state_dir);
	zpoll_free(&p);
	proc_close(s);
	zsock_close(s->results);
	zsock_term();
	session_remove(s);
	buf_free(&s->msg);
	return code;
}

