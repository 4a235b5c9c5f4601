/* control.c: steering a live run from another shell.
 * `kgsup stop` asks the live supervisor of a state directory to stop (SIGTERM to the pid
 * recorded under its lock; twice with --now, which abandons calls in flight) and waits until
 * it has let go of the lock, i.e. committed and exited.
 * `kgsup scale N` talks to the supervisor's control socket, DIR/sock/control: a Unix stream
 * socket in the 0700 sockets directory that also checks its peer's uid (SO_PEERCRED), so only
 * the owner is obeyed. One request a connection: "scale N\n", answered "ok N\n" or
 * "error ...\n". */
#include "cli.h"
#include "control.h"
#include "lock.h"
#include "../common/paths.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <poll.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#define CONTROL_TIMEOUT_MS 2000

/* The control socket's address; -1 if the path does not fit. */
static int control_addr(const char *state_dir, struct sockaddr_un *a)
{
	memset(a, 0, sizeof *a);
	a->sun_family = AF_UNIX;
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, "sock/control");
	if (strlen(path) >= sizeof a->sun_path)
		return -1;
	memcpy(a->sun_path, path, strlen(path) + 1);
	return 0;
}

int control_open(const char *state_dir)
{
	struct sockaddr_un a;
	if (control_addr(state_dir, &a))
		return -1;
	unlink(a.sun_path); /* a stale one from a run that died: we hold the lock */
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 8) < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/* The connections accepted and not yet answered. Served a little each turn of the supervisor's
 * loop, never waited on: a client that connects and says nothing cannot hold up commits or
 * dispatch; it is dropped at its deadline. One supervisor has one control socket, so this is
 * the module's own. */
#define PENDING_MAX 8

static struct pending {
	int fd; /* -1: free */
	int64_t deadline;
	size_t got;
	char line[128];
} pending[PENDING_MAX] = { [0 ... PENDING_MAX - 1] = { .fd = -1 } };

/* No SIGPIPE: the supervisor ignores it, and a `kgsup scale` refused at once (another user)
 * still reads the answer waiting after its request could not be written. */
static void reply(int fd, const char *text)
{
	ssize_t w = send(fd, text, strlen(text), MSG_NOSIGNAL);
	(void)w; /* a peer that left does not get its text */
}

static void pending_end(struct pending *c, const char *answer)
{
	if (answer)
		reply(c->fd, answer);
	close(c->fd);
	c->fd = -1;
}

void control_close(int listen_fd, const char *state_dir)
{
	struct sockaddr_un a;
	if (!control_addr(state_dir, &a))
		unlink(a.sun_path);
	close(listen_fd);
	for (int i = 0; i < PENDING_MAX; i++)
		if (pending[i].fd >= 0)
			pending_end(&pending[i], NULL);
}

/* Takes the connections waiting: another user's is answered at once, and so is one beyond
 * PENDING_MAX (left in the backlog, it would wake every poll of the loop until it is taken). */
static void accept_waiting(int listen_fd)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) >= 0) {
		struct pending *c = NULL;
		for (int i = 0; !c && i < PENDING_MAX; i++)
			if (pending[i].fd < 0)
				c = &pending[i];
		struct ucred cred;
		socklen_t len = sizeof cred;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid())
			reply(fd, "error: only the owner of the run may steer it\n");
		else if (!c)
			reply(fd, "error: busy, try again\n");
		else {
			*c = (struct pending){ fd, now_ms() + CONTROL_TIMEOUT_MS, 0, "" };
			continue;
		}
		close(fd);
	}
}

/* Reads what a connection has sent without waiting; answers it once its line is complete. */
static void serve_one(struct pending *c, control_scale_fn scale, void *arg, int64_t now)
{
	ssize_t r = read(c->fd, c->line + c->got, sizeof c->line - 1 - c->got);
	if (r > 0) {
		c->got += (size_t)r;
		c->line[c->got] = '\0';
	}
	int n;
	char answer[160];
	if (memchr(c->line, '\n', c->got)) {
		if (sscanf(c->line, "scale %d", &n) == 1 && n >= 1 && n <= 1024) {
			snprintf(answer, sizeof answer, "ok %d\n", scale(arg, n));
			pending_end(c, answer);
		} else {
			pending_end(c, "error: unknown request\n");
		}
	} else if (r == 0 || (r < 0 && errno != EAGAIN && errno != EINTR)) {
		pending_end(c, NULL); /* gone */
	} else if (c->got + 1 >= sizeof c->line || now >= c->deadline) {
		pending_end(c, "error: no request\n");
	}
}

void control_serve(int listen_fd, control_scale_fn scale, void *arg)
{
	accept_waiting(listen_fd);
	int64_t now = now_ms();
	for (int i = 0; i < PENDING_MAX; i++)
		if (pending[i].fd >= 0)
			serve_one(&pending[i], scale, arg, now);
}

/* The client's side: reads one line within the timeout; 0, or -1. */
static int read_line(int fd, char *line, size_t n)
{
	size_t got = 0;
	while (got + 1 < n) {
		struct pollfd p = { fd, POLLIN, 0 };
		if (poll(&p, 1, CONTROL_TIMEOUT_MS) <= 0)
			return -1;
		ssize_t r = read(fd, line + got, n - 1 - got);
		if (r <= 0)
			return -1;
		got += (size_t)r;
		line[got] = '\0';
		if (memchr(line, '\n', got))
			return 0;
	}
	return -1;
}

int scale_cmd(const struct cli *cli)
{
	int rc = EXIT_USAGE;
	struct sockaddr_un a;
	char line[160] = "";
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (control_addr(cli->state_dir, &a) || fd < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		die_msg("%s: no live run to scale", cli->state_dir);
		goto out;
	}
	char req[32];
	snprintf(req, sizeof req, "scale %d\n", cli->scale_to);
	reply(fd, req);
	if (read_line(fd, line, sizeof line) < 0 || strncmp(line, "ok ", 3)) {
		line[strcspn(line, "\n")] = '\0';
		die_msg("%s: the run did not take it (%s)", cli->state_dir, line[0] ? line : "no answer");
		goto out;
	}
	fprintf(stderr, "kgsup: the run in %s now wants %d workers\n", cli->state_dir, cli->scale_to);
	rc = EXIT_OK;
out:
	if (fd >= 0)
		close(fd);
	return rc;
}

int stop_cmd(const struct cli *cli)
{
	int fd = -1;
	pid_t pid;
	int live = lock_probe(cli->state_dir, &pid, &fd);
	if (!live || pid <= 0) {
		die_msg("%s: %s", cli->state_dir, live ? "the live run's pid is not recorded yet; try again"
						      : "no live run to stop");
		if (fd >= 0)
			close(fd);
		return EXIT_USAGE;
	}
	kill(pid, SIGTERM);
	if (cli->now) {
		usleep(100 * 1000);
		kill(pid, SIGTERM);
	}
	/* the supervisor releases the lock only when it exits, after its last commit */
	while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
		;
	close(fd);
	fprintf(stderr, "kgsup: stopped the run in %s (resume with: kgsup resume -s %s)\n",
		cli->state_dir, cli->state_dir);
	return EXIT_OK;
}
