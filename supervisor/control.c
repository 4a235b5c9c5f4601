/* control.c: `kgsup stop`: asks the live supervisor of a state directory to stop (SIGTERM to
 * the pid recorded under its lock; twice with --now, which abandons calls in flight) and waits
 * until it has let go of the lock, i.e. committed and exited. */
#include "cli.h"
#include "lock.h"
#include "../common/log.h"
#include "../common/roles.h"
#include "../common/util.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int stop_main(int argc, char **argv)
{
	struct cli cli;
	int rc = cli_parse(&cli, argc, argv, CLI_STOP);
	if (rc >= 0)
		return rc;
	int fd = -1;
	pid_t pid;
	int live = lock_probe(cli.state_dir, &pid, &fd);
	if (!live || pid <= 0) {
		die_msg("%s: %s", cli.state_dir, live ? "the live run's pid is not recorded yet; try again"
						      : "no live run to stop");
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
