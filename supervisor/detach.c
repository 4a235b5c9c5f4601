/* detach.c: `start --detach` and `resume --detach`, a run in the background (sup.h:
 * run_detach). */
#include "sup.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* --detach: the parent waits until the child has planned and started its loop (or died, then
 * with the child's exit code), so errors in the config or inputs still reach the terminal
 * as an exit code. The child is a session leader writing to DIR/kgsup.log (opened here, so
 * a log that cannot be opened is a one-line error), its pid in DIR/kgsup.pid once it holds
 * the lock (open_run). Returns -1 in the child (go on), else the parent's exit code. Forks before
 * any ZeroMQ context, LMDB environment or libcurl state exists. */
int run_detach(const char *state_dir, int *ready_fd)
{
	char log_path[PATHS_MAX];
	int p[2];
	if (mkdir_p(state_dir, 0700) || pipe2(p, O_CLOEXEC) < 0) {
		die_msg("%s: %s", state_dir, strerror(errno));
		return EXIT_USAGE;
	}
	paths_file(log_path, sizeof log_path, state_dir, "kgsup.log");
	int log = open(log_path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (log < 0) {
		die_msg("%s: %s", log_path, nofollow_strerror(errno));
		return EXIT_USAGE;
	}
	fflush(NULL);
	pid_t pid = fork();
	if (pid < 0) {
		close(log);
		die_msg("fork: %s", strerror(errno));
		return EXIT_INTERNAL;
	}
	if (pid > 0) {
		close(log);
		close(p[1]);
		char c;
		ssize_t n;
		while ((n = read(p[0], &c, 1)) < 0 && errno == EINTR)
			;
		close(p[0]);
		if (n == 1) {
			fprintf(stderr, "kgsup: running in the background as pid %d (log %s; kgsup status "
				"-s %s; kgsup stop -s %s)\n", (int)pid, log_path, state_dir, state_dir);
			return EXIT_OK;
		}
		int st = 0;
		while (waitpid(pid, &st, 0) < 0 && errno == EINTR)
			;
		die_msg("the run did not start; see %s", log_path);
		return WIFEXITED(st) && WEXITSTATUS(st) ? WEXITSTATUS(st) : EXIT_INTERNAL;
	}
	close(p[0]);
	setsid();
	int null = open("/dev/null", O_RDONLY | O_CLOEXEC);
	if (null < 0 || dup2(null, 0) < 0 || dup2(log, 1) < 0 || dup2(log, 2) < 0)
		_exit(EXIT_INTERNAL);
	close(null);
	close(log);
	*ready_fd = p[1];
	return -1;
}
