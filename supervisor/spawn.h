/* spawn.h: how the supervisor's children start. A worker is forked by the zygote
 * (`kgsup __zygote`, exec'd once; worker/zygote.c says how and why) or, while the zygote is
 * down and with KGSUP_SPAWN=exec, vforked and exec'd as `kgsup __worker`; the broker is always
 * exec'd. Either way the child is the supervisor's: it reaps it, and its death is the child's
 * PR_SET_PDEATHSIG. proc.c decides when; this file only starts them, and keeps the zygote. */
#ifndef KGSUP_SPAWN_H
#define KGSUP_SPAWN_H

#include <stdint.h>
#include <sys/types.h>

struct sup; /* (sup.h holds struct zygote, the zygote's state, which only spawn.c changes) */

/* KGSUP_SPAWN from the environment ("zygote", the default, or "exec"): 0, or -1 with err set
 * (a usage error). */
int spawn_choose(struct sup *s, char *err, size_t errlen);
/* Before the first child: the supervisor becomes the subreaper of the workers the zygote
 * forks. */
void spawn_init(struct sup *s);
/* Starts the worker of slot i; returns its pid (-1 on failure). *forked says which way. */
pid_t spawn_worker(struct sup *s, int i, int *forked);
/* Starts the broker (exec'd). */
pid_t spawn_broker(struct sup *s);
/* Starts the zygote when it is not running and may be (proc_spawn_due, throttled). */
void spawn_zygote_due(struct sup *s);
/* proc_reap's: 1 when pid was the zygote (its restart is then throttled), else 0. */
int spawn_reaped(struct sup *s, pid_t pid, int status);
/* Closes the zygote's request pipe: it exits (the run is ending). */
void spawn_stop(struct sup *s);
void spawn_signal(struct sup *s, int signo);
int spawn_alive(const struct sup *s);
void spawn_close(struct sup *s);

#endif
