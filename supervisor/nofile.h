/* nofile.h: the supervisor's descriptor limit (RLIMIT_NOFILE), raised to what the run's
 * workers need. */
#ifndef KGSUP_NOFILE_H
#define KGSUP_NOFILE_H

#include <stddef.h>

/* Raises the soft limit (never lowers it) to what `workers` worker slots need: 0, or -1 with
 * err set when the hard limit is too low (the message names RLIMIT_NOFILE, the number needed
 * and the hard limit) or the raise is refused. */
int nofile_fit(int workers, char *err, size_t errlen);
/* The most worker slots the hard limit allows. */
int nofile_max_workers(void);
/* In a child between vfork and exec (only a system call): the soft limit the supervisor was
 * started with, if it raised it. */
void nofile_child(void);

#endif
