/* sig.h: the self-pipe. Signal handlers only record the signal and write one byte to a pipe
 * that every process keeps in its poll set; the main loop does the real work. */
#ifndef KGSUP_SIG_H
#define KGSUP_SIG_H

#include <signal.h>

/* The supervisor: installs handlers for SIGINT, SIGTERM, SIGCHLD, SIGHUP, SIGUSR1 and ignores
 * SIGPIPE. */
int sig_init(void);
/* A worker or the broker: installs handlers for SIGTERM, SIGUSR1 and SIGUSR2, ignores SIGINT,
 * SIGHUP and SIGPIPE. A terminal's Ctrl-C or hangup reaches the whole foreground process group;
 * only the supervisor decides what it means (one Ctrl-C: calls in flight finish; SIGHUP: stop
 * gracefully), so a child acting on it too would abandon calls the provider bills. */
int sig_init_child(void);
/* A child of the supervisor, started (vfork and exec, or forked by the zygote): the signals the
 * supervisor catches back to their default, SIGINT, SIGHUP and SIGTTOU ignored (sig_init_child
 * says why; SIGTTOU: a log line to the terminal from a background group must not stop it). Only
 * system calls: safe between vfork and exec. */
void sig_child_defaults(void);
/* The read end to poll. */
int sig_fd(void);
/* Drains the pipe; returns a bit set of the signals seen since the last call (1 << signo). */
unsigned long sig_take(void);
/* Non-zero once SIGTERM or SIGINT has arrived (safe to read anywhere, e.g. in a curl callback). */
int sig_stop_requested(void);
/* Non-zero once SIGUSR2 has arrived: for a worker, its supervisor died (PR_SET_PDEATHSIG).
 * Not SIGHUP, which a terminal sends while the supervisor lives, nor SIGTERM, which means
 * "abandon the call now": an orphan finishes its paid call and spools the answer. */
int sig_orphaned(void);
/* Non-zero once SIGUSR1 has arrived (for a worker: the run is stopping; start no batch, hand
 * back those sent). */
int sig_usr1_seen(void);
/* How many SIGINT/SIGTERM have arrived (a second Ctrl-C means "now"). */
int sig_stop_count(void);

#endif
