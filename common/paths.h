/* paths.h: where things live inside a state directory.
 *   DIR/db/           the LMDB environment (plan, results, counters, and the cache by default)
 *   DIR/run/          the settings the running processes read (config.json)
 *   DIR/sock/         ipc:// endpoints, mode 0700: results, broker, reports, w<slot>
 *   DIR/spool/        results orphaned workers saved after the supervisor died
 *   DIR/lock          held (flock) by the live supervisor */
#ifndef KGSUP_PATHS_H
#define KGSUP_PATHS_H

#include <stddef.h>

#define PATHS_MAX 4096

/* DIR/name */
void paths_file(char *out, size_t n, const char *state_dir, const char *name);
/* ipc://DIR/sock/<name>[<index>] (index < 0: none). Returns -1 when the socket path would be
 * longer than a Unix socket address allows. */
int paths_endpoint(char *out, size_t n, const char *state_dir, const char *name, int index);

#endif
