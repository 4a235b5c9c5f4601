/* sig.c: self-pipe signal handling. */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t sig_stops;
static volatile sig_atomic_t sig_hups;
static volatile sig_atomic_t sig_usr1s;

static void on_signal(int signo)
{
	int saved = errno;
	if (signo == SIGINT || signo == SIGTERM)
		sig_stops++;
	if (signo == SIGHUP)
		sig_hups++;
	if (signo == SIGUSR1)
		sig_usr1s++;
	char c = (char)signo;
	ssize_t r = write(sig_pipe[1], &c, 1);
	(void)r; /* a full pipe already wakes the loop */
	errno = saved;
}

int sig_init(void)
{
	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	int sigs[] = { SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGUSR1 };
	for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int sig_fd(void)
{
	return sig_pipe[0];
}

unsigned long sig_take(void)
{
	/* the bytes themselves say which signals came: no shared mask to race on */
	unsigned char drain[64];
	unsigned long seen = 0;
	ssize_t n;
	while ((n = read(sig_pipe[0], drain, sizeof drain)) > 0)
		for (ssize_t i = 0; i < n; i++)
			seen |= 1UL << (drain[i] & 63);
	return seen;
}

int sig_stop_requested(void)
{
	return sig_stops > 0;
}

int sig_stop_count(void)
{
	return sig_stops;
}

int sig_hup_seen(void)
{
	return sig_hups > 0;
}

int sig_usr1_seen(void)
{
	return sig_usr1s > 0;
}
