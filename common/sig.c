/* sig.c: self-pipe signal handling. The supervisor takes the terminal's signals (SIGINT,
 * SIGHUP) as a stop; its children ignore them and hear only from the supervisor (SIGUSR1 hand
 * back, SIGTERM stop now) or of its death (SIGUSR2, their PR_SET_PDEATHSIG). */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

static int sig_pipe[2] = { -1, -1 };
static volatile sig_atomic_t sig_stops;
static volatile sig_atomic_t sig_orphans;
static volatile sig_atomic_t sig_usr1s;

static void on_signal(int signo)
{
	int saved = errno;
	if (signo == SIGINT || signo == SIGTERM)
		sig_stops++;
	if (signo == SIGUSR2)
		sig_orphans++;
	if (signo == SIGUSR1)
		sig_usr1s++;
	char c = (char)signo;
	ssize_t r = write(sig_pipe[1], &c, 1);
	(void)r; /* a full pipe already wakes the loop */
	errno = saved;
}

/* Catches the signals of `caught` (n of them) through the self-pipe; SIGPIPE is ignored. */
static int install(const int *caught, size_t n)
{
	if (sig_pipe[0] < 0 && pipe2(sig_pipe, O_NONBLOCK | O_CLOEXEC) < 0)
		return -1;
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	sa.sa_flags = SA_RESTART;
	for (size_t i = 0; i < n; i++)
		if (sigaction(caught[i], &sa, NULL) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

int sig_init(void)
{
	static const int caught[] = { SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGUSR1 };
	return install(caught, sizeof caught / sizeof caught[0]);
}

int sig_init_child(void)
{
	static const int caught[] = { SIGTERM, SIGUSR1, SIGUSR2 };
	/* already ignored since the exec (proc.c), so a Ctrl-C while loading kills nothing; said
	 * again here so that a child started by hand behaves the same */
	signal(SIGINT, SIG_IGN);
	signal(SIGHUP, SIG_IGN);
	return install(caught, sizeof caught / sizeof caught[0]);
}

void sig_child_defaults(void)
{
	static const int dfl[] = { SIGTERM, SIGCHLD, SIGUSR1, SIGUSR2, SIGPIPE };
	static const int ign[] = { SIGINT, SIGHUP, SIGTTOU };
	for (size_t i = 0; i < sizeof dfl / sizeof dfl[0]; i++)
		signal(dfl[i], SIG_DFL);
	for (size_t i = 0; i < sizeof ign / sizeof ign[0]; i++)
		signal(ign[i], SIG_IGN);
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

int sig_orphaned(void)
{
	return sig_orphans > 0;
}

int sig_usr1_seen(void)
{
	return sig_usr1s > 0;
}
