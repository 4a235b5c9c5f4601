/* lock.c: taking and probing the state directory's lock. */
#include "lock.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

int lock_take(const char *state_dir, int *fd, char *err, size_t errlen)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, "lock");
	*fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (*fd < 0) {
		snprintf(err, errlen, "%s: %s", path, nofollow_strerror(errno));
		return -1;
	}
	if (flock(*fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "%s: a run is already live in this state directory "
				      "(see kgsup status -s %s)", state_dir, state_dir);
		return -1;
	}
	char pid[32];
	int n = snprintf(pid, sizeof pid, "%d\n", (int)getpid());
	if (ftruncate(*fd, 0) != 0 || pwrite(*fd, pid, (size_t)n, 0) != n)
		log_warn("%s: cannot record the pid", path);
	return 0;
}

int lock_probe(const char *state_dir, pid_t *pid, int *fd)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, "lock");
	*pid = 0;
	int lfd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (lfd < 0)
		return 0;
	/* a shared lock we can take means nobody holds the exclusive one */
	if (flock(lfd, LOCK_SH | LOCK_NB) == 0 || errno != EWOULDBLOCK) {
		close(lfd);
		return 0;
	}
	char text[32] = "";
	ssize_t n = pread(lfd, text, sizeof text - 1, 0);
	text[n > 0 ? n : 0] = '\0';
	*pid = (pid_t)strtol(text, NULL, 10);
	if (fd)
		*fd = lfd;
	else
		close(lfd);
	return 1;
}

int lock_pid_file_write(const char *state_dir)
{
	char path[PATHS_MAX], text[32];
	paths_file(path, sizeof path, state_dir, "kgsup.pid");
	int len = snprintf(text, sizeof text, "%d\n", (int)getpid());
	if (write_file_atomic(path, text, (size_t)len, 0644) == 0)
		return 0;
	log_warn("%s: cannot write the pid file: %s", path, nofollow_strerror(errno));
	return -1;
}

void lock_pid_file_remove(const char *state_dir)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, "kgsup.pid");
	unlink(path);
}
