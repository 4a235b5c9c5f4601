/* lock.h: the state directory's lock (DIR/lock). The live supervisor holds it (flock, with its
 * pid written inside) from start to exit; status and stop probe it to tell a live run. */
#ifndef KGSUP_LOCK_H
#define KGSUP_LOCK_H

#include <stddef.h>
#include <sys/types.h>

/* Takes the lock for this process; -1 with err set when it cannot (a run is live). */
int lock_take(const char *state_dir, int *fd, char *err, size_t errlen);
/* Non-zero when a supervisor holds the lock. Sets *pid to the pid recorded (0 if unreadable)
 * and, when fd is given, leaves the lock file open there (to wait on with flock). */
int lock_probe(const char *state_dir, pid_t *pid, int *fd);

/* DIR/kgsup.pid of a detached run: written once the lock is held, so a refused second start
 * never touches the live run's; removed by the run that wrote it (before its lock goes, so
 * kgsup stop returns when it does). */
int lock_pid_file_write(const char *state_dir);
void lock_pid_file_remove(const char *state_dir);

#endif
