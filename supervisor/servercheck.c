/* servercheck.c: the look at the server before a run costs anything (start and resume, before
 * the plan). The look needs libcurl, which the supervisor never loads: it forks workers, and
 * libcurl's global state (and OpenSSL's) must not cross a fork. So, like every other process
 * of the run, the look is a role of the one binary exec'd fresh, `kgsup __check MODEL...`
 * (worker/check.c), once: the run's settings on its standard input, the user's one line on its
 * standard output, and its exit code saying what it means (check.c lists them). */
#include "sup.h"
#include "rolespawn.h"
#include "../common/log.h"
#include "../common/roles.h"
#include "../common/sig.h"
#include "../common/util.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* The run's models, each once: every stage's (a stage without one has the run's). */
static int run_models(const struct sup *s, char **argv, int max)
{
	int n = 0;
	for (size_t i = 0; i < s->job.n; i++) {
		const char *m = s->job.st[i].model && *s->job.st[i].model ? s->job.st[i].model
									   : s->cfg.model;
		int seen = 0;
		for (int k = 0; k < n; k++)
			seen |= !strcmp(argv[k], m);
		if (!seen && n < max)
			argv[n++] = (char *)m;
	}
	if (n == 0)
		argv[n++] = s->cfg.model;
	return n;
}

/* Reads the look's line until it exits (its own timeouts end it; a deadline kills it if they
 * do not). Returns 0, or -1 when the run was told to stop meanwhile. */
static int read_line(pid_t pid, int from, char *line, size_t n, int64_t deadline)
{
	size_t len = 0;
	for (;;) {
		if (sig_stop_requested()) {
			kill(pid, SIGTERM);
			return -1;
		}
		int64_t left = deadline - now_ms();
		if (left <= 0) {
			log_warn("the look at the server before the run takes too long; going on without it");
			kill(pid, SIGKILL);
			return 0;
		}
		struct pollfd p = { from, POLLIN, 0 };
		if (poll(&p, 1, (int)(left > 500 ? 500 : left)) <= 0)
			continue;
		ssize_t got = read(from, line + len, n - 1 - len);
		if (got <= 0 && !(got < 0 && errno == EINTR))
			break;
		len += got > 0 ? (size_t)got : 0;
		if (len >= n - 1)
			break;
	}
	line[len] = '\0';
	line[strcspn(line, "\n")] = '\0';
	return 0;
}

int servercheck_run(struct sup *s, void (*meanwhile)(struct sup *), char *err, size_t errlen)
{
	char *argv[JOB_MAX_STAGES + 3] = { "kgsup", "__check" };
	int nmodels = run_models(s, argv + 2, JOB_MAX_STAGES);
	argv[2 + nmodels] = NULL;
	int to = -1, from = -1;
	pid_t pid = role_spawn(argv, &to, &from);
	if (pid < 0) {
		log_warn("cannot look at the server before the run (%s); going on", strerror(errno));
		return 0;
	}
	buf json;
	buf_init(&json);
	config_to_json(&s->cfg, &json);
	/* (a look that died early leaves EPIPE here: its exit code tells) */
	for (size_t off = 0; off < json.len;) {
		ssize_t w = write(to, json.data + off, json.len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			break;
		off += (size_t)w;
	}
	buf_free(&json);
	close(to);
	if (meanwhile)
		meanwhile(s);
	char line[1024];
	/* two GETs at most, each within the connect timeout and CHECK_TIMEOUT_MS, and its start */
	int64_t deadline =
		now_ms() + 2 * ((int64_t)(s->cfg.connect_timeout_s * 1000) + CHECK_TIMEOUT_MS) + 5000;
	int stopped = read_line(pid, from, line, sizeof line, deadline);
	close(from);
	int code = role_wait(pid);
	if (stopped) {
		snprintf(err, errlen, "stopped before the run began");
		return EXIT_STOPPED;
	}
	if ((code == EXIT_USAGE || code == EXIT_ABORTED) && line[0]) {
		snprintf(err, errlen, "%s", line);
		return code;
	}
	if (code != 0)
		log_warn("the look at the server before the run failed (exit %d); going on", code);
	return 0;
}
