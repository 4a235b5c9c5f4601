/* control.c: the live supervisor's control socket, DIR/sock/control: a Unix stream socket in
 * the 0700 sockets directory that also checks its peer's uid (SO_PEERCRED), so only the owner
 * is obeyed. One request a connection: "scale N\n", answered "ok N\n" or "error ...\n".
 * The client, `kgsup scale`, is in cmd/stop_scale_cmd.c. */
#include "control.h"
#include "../common/config.h"
#include "../common/paths.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

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

int control_connect(const char *state_dir)
{
	struct sockaddr_un a;
	int fd = -1;
	if (control_addr(state_dir, &a) || (fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0 ||
	    connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
		if (fd >= 0)
			close(fd);
		return -1;
	}
	return fd;
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

/* MSG_NOSIGNAL: a client that left is no reason for a signal, whatever the process does with
 * SIGPIPE. */
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
		if (sscanf(c->line, "scale %d", &n) == 1 && n >= 1 && n <= WORKERS_MAX) {
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
