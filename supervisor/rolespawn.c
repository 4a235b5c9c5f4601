/* rolespawn.c: a role of this binary run once, on pipes (rolespawn.h). */
#include "rolespawn.h"
#include "../common/paths.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

extern char **environ;

pid_t role_spawn(char **argv, int *to, int *from)
{
	/* read once, as spawn.c's self_exe: a binary replaced under a live run (an upgrade, a
	 * rebuild) leaves /proc/self/exe naming "... (deleted)", which no exec finds */
	static char self[PATHS_MAX];
	int in[2], out[2];
	if (!self[0] && readlink_self(self, sizeof self) < 0) {
		self[0] = '\0';
		return -1;
	}
	if (pipe2(in, O_CLOEXEC) < 0)
		return -1;
	if (pipe2(out, O_CLOEXEC) < 0) {
		close(in[0]);
		close(in[1]);
		return -1;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t at;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_adddup2(&fa, in[0], 0);
	posix_spawn_file_actions_adddup2(&fa, out[1], 1);
	posix_spawnattr_init(&at);
	sigset_t none, dfl;
	sigemptyset(&none);
	sigemptyset(&dfl);
	sigaddset(&dfl, SIGPIPE); /* the caller may ignore it; the role need not */
	posix_spawnattr_setsigmask(&at, &none);
	posix_spawnattr_setsigdefault(&at, &dfl);
	posix_spawnattr_setflags(&at, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	pid_t pid;
	fflush(NULL);
	int rc = posix_spawn(&pid, self, &fa, &at, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&at);
	close(in[0]);
	close(out[1]);
	if (rc) {
		close(in[1]);
		close(out[0]);
		errno = rc;
		return -1;
	}
	*to = in[1];
	*from = out[0];
	return pid;
}

int role_wait(pid_t pid)
{
	int st;
	while (waitpid(pid, &st, 0) < 0)
		if (errno != EINTR)
			return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}
