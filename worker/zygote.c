/* zygote.c: `kgsup __zygote DIR SESSION PAD`, the process that forks workers. The supervisor
 * execs it once (like the broker: its own process group, PR_SET_PDEATHSIG, the supervisor's
 * pipe on fd 3); it loads the libraries once, initialises what its children can share, says
 * ZREADY and then, for each ZFORK on fd 4, starts the worker of that slot, which says ZFORKED
 * with its pid on fd 5 (proto.h). A worker so started skips the exec and the dynamic loader
 * (libcurl and libzmq bring some forty libraries) and goes straight to worker_main.
 *
 * Nothing that must not cross a fork exists here: no ZeroMQ context, no libcurl handle, no
 * LMDB environment, no thread (so the requests come over plain pipes, not ZeroMQ). libcurl's
 * global state is initialised (curl_global_init: OpenSSL's tables, its error strings and
 * algorithms, the default config file read): with no handle and no thread it is plain memory,
 * and every child takes a copy-on-write copy of it instead of building its own. OpenSSL's
 * random generator is not drawn from here; where it is (in the worker), OpenSSL reseeds it
 * when it sees a new pid, so no two workers share a stream. glibc's name service switch is
 * warmed up too (nss.h): plain memory once done, no descriptor kept.
 *
 * Who is a worker's parent: the supervisor, as with exec. It must reap its workers, get SIGCHLD
 * at once when one dies, and be the process whose death the worker's PR_SET_PDEATHSIG watches.
 * So the zygote double-forks: the middle process forks the worker and exits at once, and the
 * worker, orphaned, goes to the supervisor, which made itself a child subreaper
 * (PR_SET_CHILD_SUBREAPER). The alternatives were worse: the zygote reporting deaths would
 * make the zygote every worker's parent (its own death would kill them all through their
 * PDEATHSIG) and delay the supervisor's news of a death by a message; clone(CLONE_PARENT)
 * would skip glibc's fork (its pid cache, its atfork handlers, OpenSSL's among them). The cost
 * is a second fork of a small process and a short wait for the reparenting.
 *
 * The worker writes its own ZFORKED before anything else, so that no worker runs that the
 * supervisor was not told of: if the supervisor gave up waiting (and closed the pipe), the
 * write fails and the worker exits. Then it is a worker as an exec'd one is: the signals as
 * after exec (sig_child_defaults), none blocked, its own process group, only fds 0-3 open, the
 * PDEATHSIG set once the supervisor is its parent (and it exits if the supervisor is gone by
 * then), the original RLIMIT_NOFILE (the zygote was exec'd with it), and the same command line:
 * `kgsup __worker SLOT DIR SESSION`, written over the zygote's own (PAD makes room for SLOT),
 * so that ps and pgrep -f see a worker the same way, however it started. */
#include "../common/buf.h"
#include "../common/log.h"
#include "../common/nss.h"
#include "../common/paths.h"
#include "../common/proto.h"
#include "../common/roles.h"
#include "../common/sig.h"
#include "../common/util.h"
#include "http.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#define REPARENT_WAIT_S 5

/* One frame, in one write (a few bytes: atomic on a pipe). */
static int send_frame(const buf *b)
{
	ssize_t n;
	while ((n = write(ZYGOTE_REPLY_FD, b->data, b->len)) < 0 && errno == EINTR)
		;
	return n == (ssize_t)b->len ? 0 : -1;
}

static int send_forked(uint32_t slot, pid_t pid, int err)
{
	buf b;
	buf_init(&b);
	msg_encode_zforked(&b, &(struct msg_zforked){ .slot = slot, .pid = (uint32_t)pid,
						     .err = (uint32_t)err });
	int rc = send_frame(&b);
	buf_free(&b);
	return rc;
}

/* The command line `kgsup __worker SLOT DIR SESSION` over the zygote's (zargv: __zygote DIR
 * SESSION PAD, contiguous in memory as exec left them); out gets the worker's argv. Where the
 * zygote's line is not as expected, out gets the strings as they are and ps shows the zygote's
 * line. */
static void worker_argv(char **zargv, uint32_t slot, char *out[5])
{
	static char slot_text[16];
	snprintf(slot_text, sizeof slot_text, "%u", slot);
	char *start = zargv[0], *end = zargv[3] + strlen(zargv[3]) + 1;
	int contiguous = 1;
	for (int i = 0; i < 3; i++)
		contiguous &= zargv[i] + strlen(zargv[i]) + 1 == zargv[i + 1];
	size_t dir = strlen(zargv[1]) + 1, session = strlen(zargv[2]) + 1;
	size_t len = sizeof "__worker" + strlen(slot_text) + 1 + dir + session;
	out[0] = "__worker";
	out[1] = slot_text;
	out[2] = zargv[1];
	out[3] = zargv[2];
	out[4] = NULL;
	if (!contiguous || len > (size_t)(end - start))
		return;
	char *line = xmalloc(len), *p = line;
	char *parts[4] = { "__worker", slot_text, zargv[1], zargv[2] };
	size_t at[4];
	for (int i = 0; i < 4; i++) {
		at[i] = (size_t)(p - line);
		size_t n = strlen(parts[i]) + 1;
		memcpy(p, parts[i], n);
		p += n;
	}
	memset(start, 0, (size_t)(end - start));
	memcpy(start, line, len);
	free(line);
	for (int i = 0; i < 4; i++)
		out[i] = start + at[i];
}

/* In the worker, the middle process's child. Never returns. */
static void become_worker(char **zargv, uint32_t slot, pid_t supervisor, pid_t middle)
{
	if (send_forked(slot, getpid(), 0) < 0)
		_exit(EXIT_STOPPED); /* the supervisor no longer waits for us */
	/* the zygote's pipes: the request's read end, the replies' write end (whose EOF tells the
	 * supervisor that nobody will answer any more) */
	close_range(ZYGOTE_REQUEST_FD, ~0U, 0);
	/* As an exec'd worker's, the PDEATHSIG is SIGUSR2 (finish the paid call, spool, exit). Set
	 * while the middle process is still our parent, it also says when that one has exited and
	 * we are the supervisor's: the kernel sends it as it reparents us. Blocked until then. */
	sigset_t usr2;
	sigemptyset(&usr2);
	sigaddset(&usr2, SIGUSR2);
	sigprocmask(SIG_BLOCK, &usr2, NULL);
	prctl(PR_SET_PDEATHSIG, SIGUSR2);
	if (getppid() == middle &&
	    sigtimedwait(&usr2, NULL, &(struct timespec){ REPARENT_WAIT_S, 0 }) < 0)
		_exit(EXIT_INTERNAL); /* the middle process was not even scheduled to exit */
	/* It may have exited between the prctl and the getppid: its signal is pending, and once
	 * unblocked it would kill us as if the supervisor had died. Taken here; from now on the
	 * signal tells only the supervisor's death, which the getppid below sees if it came
	 * already. */
	sigtimedwait(&usr2, NULL, &(struct timespec){ 0, 0 });
	if (getppid() != supervisor)
		_exit(EXIT_STOPPED); /* the supervisor died meanwhile (or is no subreaper) */
	setpgid(0, 0);
	sig_child_defaults();
	sigset_t none;
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	char *argv[5];
	worker_argv(zargv, slot, argv);
	exit(worker_main(4, argv));
}

/* Forks the worker of `slot` through a middle process (see the top). */
static void fork_worker(char **zargv, uint32_t slot, pid_t supervisor)
{
	fflush(NULL);
	pid_t mid = fork();
	if (mid < 0) {
		int err = errno;
		log_warn("cannot fork the worker of slot %u: %s", slot, strerror(err));
		send_forked(slot, 0, err);
		return;
	}
	if (mid == 0) {
		pid_t middle = getpid();
		pid_t pid = fork();
		if (pid == 0)
			become_worker(zargv, slot, supervisor, middle);
		if (pid < 0)
			send_forked(slot, 0, errno);
		_exit(0);
	}
	int st;
	while (waitpid(mid, &st, 0) < 0 && errno == EINTR)
		;
}

int zygote_main(int argc, char **argv)
{
	if (argc != 4 || !paths_session_ok(argv[2]) || strlen(argv[3]) < strlen(ZYGOTE_PAD) ||
	    !fcntl_is_open(ZYGOTE_REQUEST_FD) || !fcntl_is_open(ZYGOTE_REPLY_FD)) {
		die_msg("__zygote is internal: started by the supervisor");
		return EXIT_USAGE;
	}
	log_set_tag("zygote");
	log_level_from_env();
	pid_t supervisor = getppid();
	char err[256];
	if (http_global_init(err, sizeof err)) {
		log_error("%s", err);
		return EXIT_INTERNAL;
	}
	nss_warm();
	buf b;
	buf_init(&b);
	msg_encode_zready(&b, &(struct msg_zready){ .pid = (uint32_t)getpid() });
	int rc = send_frame(&b);
	buf_free(&b);
	if (rc < 0)
		return EXIT_STOPPED;
	struct rusage ru; /* (its own start, for scripts/bench-spawn.sh) */
	getrusage(RUSAGE_SELF, &ru);
	log_debug("ready after %.3f ms of CPU", (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
							(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3);
	for (;;) {
		char frame[64];
		ssize_t n = read(ZYGOTE_REQUEST_FD, frame, sizeof frame);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) /* the supervisor closed its end: it stops, or died */
			break;
		struct msg_zfork req;
		if (msg_decode_zfork(frame, (size_t)n, &req)) {
			log_error("malformed request (%zd bytes)", n);
			return EXIT_INTERNAL;
		}
		fork_worker(argv, req.slot, supervisor);
	}
	http_global_cleanup();
	return EXIT_OK;
}
