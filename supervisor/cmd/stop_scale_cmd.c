/* stop_scale_cmd.c: `kgsup stop` and `kgsup scale`, steering a live run from another shell.
 * stop asks the live supervisor of a state directory to stop (SIGTERM to the pid recorded under
 * its lock; twice with --now, which abandons calls in flight) and waits until it has let go of
 * the lock, i.e. committed and exited. scale N sends "scale N" to the run's control socket
 * (control.c) and reads its answer. */
#include "../cli.h"
#include "../control.h"
#include "../lock.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <unistd.h>

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

int scale_cmd(const struct cli *cli)
{
	int rc = EXIT_USAGE;
	char line[160] = "";
	int fd = control_connect(cli->state_dir);
	if (fd < 0) {
		die_msg("%s: no live run to scale", cli->state_dir);
		goto out;
	}
	char req[32];
	snprintf(req, sizeof req, "scale %d\n", cli->scale_to);
	ssize_t w = send(fd, req, strlen(req), MSG_NOSIGNAL);
	(void)w; /* refused at once (another user's), the answer is still there to read */
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
