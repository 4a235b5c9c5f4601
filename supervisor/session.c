/* session.c: this session's directory of sockets, DIR/sock/SESSION (mode 0700, made by
 * mkdtemp): made before the first child starts, removed with those of earlier sessions, and,
 * for a session that never reached its loop (the server's check failed, the plan was refused),
 * undone with the children started early (proc_begin). */
#include "sup.h"
#include "spawn.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Removes the session directory `name` in DIR/sock (open as sockfd) and the socket files in
 * it, following no link. */
static void remove_session_dir(int sockfd, const char *name)
{
	int fd = openat(sockfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	DIR *d = fd >= 0 ? fdopendir(fd) : NULL;
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)))
			if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
				unlinkat(fd, e->d_name, 0);
		closedir(d); /* closes fd */
	} else if (fd >= 0) {
		close(fd);
	}
	unlinkat(sockfd, name, AT_REMOVEDIR);
}

/* Removes the session directories in DIR/sock but `keep`. Their supervisors are gone (we hold
 * the lock), so nothing listens in them any more; once they are removed, an orphaned worker of
 * theirs cannot even find a socket to reconnect to. Files (the control socket) stay. */
static void remove_sessions(const char *state_dir, const char *keep)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, state_dir, "sock");
	DIR *d = opendir(path);
	if (!d)
		return;
	struct dirent *e;
	struct stat st;
	while ((e = readdir(d)))
		if (paths_session_ok(e->d_name) && (!keep || strcmp(e->d_name, keep)) &&
		    fstatat(dirfd(d), e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(st.st_mode))
			remove_session_dir(dirfd(d), e->d_name);
	closedir(d);
}

/* A directory of its own for this session's sockets (mode 0700, made by mkdtemp). */
int session_make(struct sup *s, char *err, size_t errlen)
{
	char dir[PATHS_MAX];
	paths_session_dir(dir, sizeof dir, s->state_dir, "XXXXXX");
	if (!mkdtemp(dir)) {
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		return -1;
	}
	snprintf(s->session, sizeof s->session, "%s", strrchr(dir, '/') + 1);
	remove_sessions(s->state_dir, s->session);
	return 0;
}

void session_remove(struct sup *s)
{
	if (s->session[0])
		remove_sessions(s->state_dir, NULL);
	s->session[0] = '\0';
}


/* What proc_begin started for a session whose loop never ran (or ended early) is stopped and
 * reaped, and its directory removed: a failed check or a refused plan leaves nothing behind. */
void session_abandon(struct sup *s)
{
	if (!s->session[0])
		return;
	spawn_close(s); /* (the zygote's end is ours: no warning of its death) */
	proc_signal_all(s, SIGTERM);
	int64_t t0 = now_ms();
	int killed = 0;
	while (proc_any_alive(s)) {
		if (!killed && now_ms() - t0 > 2000) {
			proc_signal_all(s, SIGKILL);
			killed = 1;
		}
		struct pollfd p = { sig_fd(), POLLIN, 0 };
		poll(&p, 1, 100);
		sig_take();
		proc_reap(s);
	}
	close(s->parent_pipe[0]);
	close(s->parent_pipe[1]);
	session_remove(s);
}
