/* spawn.c: how the supervisor's children start (spawn.h): vfork and exec of this binary in a
 * role, or a fork by the zygote, which this file starts, asks and restarts.
 *
 * The zygote is asked one worker at a time and answers within a fork or two, so the request
 * waits for its answer here instead of adding the zygote to the poll loop: the slot goes to
 * STARTING (slot.c) with its pid at once, as with exec. While the zygote is down (it died, or it
 * is being restarted, throttled like the broker), workers are exec'd: the run never waits for
 * it. A zygote that does not answer in time is killed with its process group, and any worker
 * it did start is killed too (each writes its pid to the reply pipe before it leaves that
 * group), so that no worker runs for a slot without the supervisor knowing its pid. */
#include "sup.h"
#include "nofile.h"
#include "../common/log.h"
#include "../common/roles.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#define ZYGOTE_READY_MS 5000 /* its exec and loading, on busy cores */
#define ZYGOTE_REPLY_MS 5000 /* two forks */
#define CHILD_FD_MIN 10      /* pipe ends a child inherits are moved up here first (not 3-5) */

int spawn_choose(struct sup *s, char *err, size_t errlen)
{
	const char *v = getenv("KGSUP_SPAWN");
	if (!v || !*v || !strcmp(v, "zygote"))
		s->zygote.off = 0;
	else if (!strcmp(v, "exec"))
		s->zygote.off = 1;
	else {
		snprintf(err, errlen, "KGSUP_SPAWN: '%s' is neither zygote nor exec", v);
		return -1;
	}
	return 0;
}

void spawn_init(struct sup *s)
{
	struct zygote *z = &s->zygote;
	z->req = z->reply = -1;
	/* the zygote's workers are orphaned at birth (worker/zygote.c): they must come to us */
	if (!z->off && prctl(PR_SET_CHILD_SUBREAPER, 1) < 0) {
		log_warn("cannot become a child subreaper (%s): workers are exec'd", strerror(errno));
		z->off = 1;
	}
}

/* dup2 that also clears close-on-exec when the descriptor is already in place. */
static int inherit(int fd, int to)
{
	return fd == to ? fcntl(to, F_SETFD, 0) : dup2(fd, to);
}

/* In the child between vfork and exec, sharing the supervisor's memory: only system calls,
 * no stdio, no malloc, nothing that writes a variable. The signals the supervisor catches go
 * back to their default first, so a signal before exec cannot run the supervisor's handler
 * here.
 * A terminal signals its whole foreground process group (Ctrl-C, Ctrl-\, hangup): the child
 * leaves it for a group of its own, and ignores SIGINT and SIGHUP besides (a `kill -INT -PGID`
 * by hand, or a signal before the setpgid): only the supervisor decides, and tells the children
 * (SIGUSR1 hand back, SIGTERM abandon the call). SIGTTOU is ignored so that a log line written
 * to the terminal from this background group cannot stop the child (`stty tostop`).
 * The supervisor's death is told by `deathsig` (and the pipe on fd 3): SIGUSR2 for a worker
 * (finish the paid call, spool its answer, exit), SIGTERM for the broker and the zygote (nothing
 * to save). fds[k] becomes fd 4 + k. A worker (and the zygote, whose children are workers) gets
 * the descriptor limit the supervisor was started with back (nofile.h). */
static void exec_child(const struct sup *s, char *const argv[], pid_t parent, int deathsig,
		       const int *fds, int nfds, int worker)
{
	sig_child_defaults();
	setpgid(0, 0); /* cannot fail here: not a session leader, a child of its own */
	prctl(PR_SET_PDEATHSIG, deathsig);
	if (getppid() != parent)
		_exit(EXIT_STOPPED); /* the supervisor died before we could watch it */
	if (inherit(s->parent_pipe[0], 3) < 0)
		_exit(EXIT_INTERNAL);
	for (int k = 0; k < nfds; k++)
		if (inherit(fds[k], 4 + k) < 0)
			_exit(EXIT_INTERNAL);
	if (worker)
		nofile_child();
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	execv(s->self_exe, argv);
	_exit(127);
}

/* vfork, not fork: the supervisor has a ZeroMQ I/O thread and a heap; copying its page tables
 * and then taking copy-on-write faults (with TLB shootdowns to the other thread's CPU) cost
 * more than the exec that follows. Signals stay blocked until the child has reset them. */
static pid_t spawn(struct sup *s, char *const argv[], int deathsig, const int *fds, int nfds,
		   int worker)
{
	pid_t parent = getpid();
	sigset_t all, old;
	sigfillset(&all);
	fflush(NULL);
	sigprocmask(SIG_SETMASK, &all, &old);
	pid_t pid = vfork();
	if (pid == 0)
		exec_child(s, argv, parent, deathsig, fds, nfds, worker);
	int err = errno;
	sigprocmask(SIG_SETMASK, &old, NULL);
	if (pid < 0)
		log_error("vfork: %s", strerror(err));
	return pid;
}

pid_t spawn_broker(struct sup *s)
{
	char *argv[] = { "kgsup", "__broker", (char *)s->state_dir, s->session, NULL };
	return spawn(s, argv, SIGTERM, NULL, 0, 0);
}

static void close_pipes(struct zygote *z)
{
	if (z->req >= 0)
		close(z->req);
	if (z->reply >= 0)
		close(z->reply);
	z->req = z->reply = -1;
}

/* Reads one frame from the zygote's reply pipe within timeout_ms: its length, 0 at EOF, -1
 * when none came in time. */
static ssize_t read_reply(int fd, char *frame, size_t cap, int timeout_ms)
{
	int64_t deadline = now_ms() + timeout_ms;
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int64_t left = deadline - now_ms();
		int rc = poll(&p, 1, left > 0 ? (int)left : 0);
		if (rc < 0 && errno == EINTR)
			continue;
		if (rc <= 0)
			return -1;
		ssize_t n = read(fd, frame, cap);
		if (n < 0 && errno == EINTR)
			continue;
		return n;
	}
}

/* The zygote is of no more use (no answer in time, a garbled one): it is killed with its
 * process group, then any worker whose pid is in the pipe (see the top); proc_reap sees it
 * die and its restart is throttled. */
static void zygote_lost(struct sup *s, const char *why)
{
	struct zygote *z = &s->zygote;
	log_warn("zygote (pid %d) %s: killed; workers are exec'd until it is restarted",
		 (int)z->proc.pid, why);
	kill(-z->proc.pid, SIGKILL);
	kill(z->proc.pid, SIGKILL);
	buf b;
	buf_init(&b);
	msg_encode_zforked(&b, &(struct msg_zforked){ 0 });
	size_t one = b.len;
	buf_free(&b);
	char frame[256];
	ssize_t n;
	fcntl(z->reply, F_SETFL, O_NONBLOCK);
	while ((n = read(z->reply, frame, sizeof frame - sizeof frame % one)) > 0)
		for (size_t at = 0; at + one <= (size_t)n; at += one) {
			struct msg_zforked m;
			if (!msg_decode_zforked(frame + at, one, &m) && m.pid > 0)
				kill((pid_t)m.pid, SIGKILL);
		}
	close_pipes(z);
}

/* Moves fd above the descriptors a child gets (3 and up), keeping it close-on-exec. */
static int fd_up(int fd)
{
	int up = fcntl(fd, F_DUPFD_CLOEXEC, CHILD_FD_MIN);
	close(fd);
	return up;
}

static void zygote_start(struct sup *s)
{
	struct zygote *z = &s->zygote;
	int req[2] = { -1, -1 }, rep[2] = { -1, -1 };
	z->proc.spawned_at = now_ms();
	if (pipe2(req, O_CLOEXEC) < 0 || pipe2(rep, O_CLOEXEC) < 0 ||
	    (req[0] = fd_up(req[0])) < 0 || (rep[1] = fd_up(rep[1])) < 0) {
		log_warn("cannot make the zygote's pipes: %s", strerror(errno));
		for (int i = 0; i < 2; i++) {
			if (req[i] >= 0)
				close(req[i]);
			if (rep[i] >= 0)
				close(rep[i]);
		}
		proc_throttle(&z->proc, now_ms());
		return;
	}
	char *argv[] = { "kgsup", "__zygote", (char *)s->state_dir, s->session, ZYGOTE_PAD, NULL };
	int fds[2] = { req[0], rep[1] };
	z->proc.pid = spawn(s, argv, SIGTERM, fds, 2, 1);
	close(req[0]);
	close(rep[1]);
	z->req = req[1];
	z->reply = rep[0];
	if (z->proc.pid <= 0) {
		close_pipes(z);
		proc_throttle(&z->proc, now_ms());
		return;
	}
	char frame[64];
	struct msg_zready r;
	ssize_t n = read_reply(z->reply, frame, sizeof frame, ZYGOTE_READY_MS);
	if (n <= 0 || msg_decode_zready(frame, (size_t)n, &r) || (pid_t)r.pid != z->proc.pid) {
		zygote_lost(s, n < 0 ? "did not say it was ready in time" : "failed to start");
		return;
	}
	log_debug("zygote ready: pid %d", (int)z->proc.pid);
}

void spawn_zygote_due(struct sup *s)
{
	struct zygote *z = &s->zygote;
	if (!z->off && z->proc.pid <= 0 && now_ms() >= z->proc.restart_at)
		zygote_start(s);
}

/* The worker of slot i, forked by the zygote: its pid, or -1 (then it is exec'd). */
static pid_t zygote_fork(struct sup *s, int i)
{
	struct zygote *z = &s->zygote;
	buf b;
	buf_init(&b);
	msg_encode_zfork(&b, &(struct msg_zfork){ .slot = (uint32_t)i });
	ssize_t w;
	while ((w = write(z->req, b.data, b.len)) < 0 && errno == EINTR)
		;
	int sent = w == (ssize_t)b.len;
	buf_free(&b);
	if (!sent) {
		zygote_lost(s, "does not take requests");
		return -1;
	}
	char frame[64];
	struct msg_zforked m;
	ssize_t n = read_reply(z->reply, frame, sizeof frame, ZYGOTE_REPLY_MS);
	if (n <= 0 || msg_decode_zforked(frame, (size_t)n, &m) || m.slot != (uint32_t)i) {
		zygote_lost(s, n < 0   ? "did not answer in time"
			       : n == 0 ? "closed its pipe"
					: "sent a malformed reply");
		return -1;
	}
	if (!m.pid) {
		log_warn("the zygote cannot fork worker %d (%s): exec'd instead", i,
			 strerror((int)m.err));
		return -1;
	}
	return (pid_t)m.pid;
}

pid_t spawn_worker(struct sup *s, int i, int *forked)
{
	pid_t pid = s->zygote.req >= 0 ? zygote_fork(s, i) : -1;
	*forked = pid > 0;
	if (pid > 0)
		return pid;
	char slot[16];
	snprintf(slot, sizeof slot, "%d", i);
	char *argv[] = { "kgsup", "__worker", slot, (char *)s->state_dir, s->session, NULL };
	return spawn(s, argv, SIGUSR2, NULL, 0, 1);
}

int spawn_reaped(struct sup *s, pid_t pid, int status)
{
	struct zygote *z = &s->zygote;
	if (pid <= 0 || pid != z->proc.pid)
		return 0;
	if (z->req >= 0 && !s->shutting_down) { /* else we stopped it, or zygote_lost said why */
		if (WIFSIGNALED(status))
			log_warn("zygote killed by signal %d; workers are exec'd until it is restarted",
				 WTERMSIG(status));
		else
			log_warn("zygote exited with status %d; workers are exec'd until it is "
				 "restarted", WEXITSTATUS(status));
	}
	close_pipes(z);
	proc_throttle(&z->proc, now_ms());
	return 1;
}

void spawn_stop(struct sup *s)
{
	close_pipes(&s->zygote); /* it reads EOF and exits */
}

void spawn_signal(struct sup *s, int signo)
{
	if (s->zygote.proc.pid > 0)
		kill(s->zygote.proc.pid, signo);
}

int spawn_alive(const struct sup *s)
{
	return s->zygote.proc.pid > 0;
}

void spawn_close(struct sup *s)
{
	close_pipes(&s->zygote);
}
