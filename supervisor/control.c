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

void control_close(int listen_fd, const char *state_dir)
{
	struct sockaddr_un a;
	if (!control_addr(state_dir, &a))
		unlink(a.sun_path);
	close(listen_fd);
}

/* Reads one line within the timeout; 0, or -1. */
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

static void reply(int fd, const char *text)
{
	ssize_t w = write(fd, text, strlen(text));
	(void)w; /* a client that left does not get its answer */
}

void control_serve(int listen_fd, control_scale_fn scale, void *arg)
{
	int fd;
	while ((fd = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC)) >= 0) {
		struct ucred cred;
		socklen_t len = sizeof cred;
		char line[128], answer[160];
		int n;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || cred.uid != geteuid()) {
			reply(fd, "error: only the owner of the run may steer it\n");
		} else if (read_line(fd, line, sizeof line) < 0) {
			reply(fd, "error: no request\n");
		} else if (sscanf(line, "scale %d", &n) == 1 && n >= 1 && n <= 1024) {
			n = scale(arg, n);
			snprintf(answer, sizeof answer, "ok %d\n", n);
			reply(fd, answer);
		} else {
			reply(fd, "error: unknown request\n");
		}
		close(fd);
	}
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
