/* control.c: `kgsup stop`: asks the live supervisor of a state directory to stop (SIGTERM to
 * the pid recorded under its lock; twice with --now, which abandons calls in flight) and waits
 * until it has let go of the lock, i.e. committed and exited. */
#include "cli.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/roles.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

/* The pid of the supervisor holding DIR/lock, or 0 when no run is live. */
static pid_t live_supervisor(const char *state_dir, int *lock_fd)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, "lock");
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	if (flock(fd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(fd);
		return 0;
	}
	char text[32] = "";
	ssize_t n = pread(fd, text, sizeof text - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	*lock_fd = fd;
	return (pid_t)strtol(text, NULL, 10);
}

int stop_main(int argc, char **argv)
{
	struct cli cli;
	int rc = cli_parse(&cli, argc, argv, CLI_STOP);
	if (rc >= 0)
		return rc;
	int fd = -1;
	pid_t pid = live_supervisor(cli.state_dir, &fd);
	if (pid <= 0) {
		die_msg("%s: no live run to stop", cli.state_dir);
		cli_free(&cli);
		if (fd >= 0)
			close(fd);
		return EXIT_USAGE;
	}
	kill(pid, SIGTERM);
	if (cli.now) {
		usleep(100 * 1000);
		kill(pid, SIGTERM);
	}
	/* the supervisor releases the lock only when it exits, after its last commit */
	while (flock(fd, LOCK_SH) < 0 && errno == EINTR)
		;
	close(fd);
	fprintf(stderr, "kgsup: stopped the run in %s (resume with: kgsup resume -s %s)\n",
		cli.state_dir, cli.state_dir);
	cli_free(&cli);
	return EXIT_OK;
}
