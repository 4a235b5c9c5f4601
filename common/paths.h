/* paths.h: where things live inside a state directory.
 *   DIR/db/           the LMDB environment (plan, results, counters, and the cache by default)
 *   DIR/run/          the settings the running processes read (config.json)
 *   DIR/sock/         mode 0700: the control socket, and a directory per session (below)
 *   DIR/sock/<session>/  that session's ipc:// endpoints: results, broker, reports, w<slot>.
 *                     Made afresh (mkdtemp, 0700) by each supervisor and given to the children
 *                     it starts, so the orphans of a killed session, which keep reconnecting
 *                     to the paths they were given, never reach the next session's sockets.
 *   DIR/spool/        results orphaned workers saved after the supervisor died
 *   DIR/trace.jsonl   a line per request (trace.h); trace.1.jsonl its older part
 *   DIR/lock          held (flock) by the live supervisor */
#ifndef KGSUP_PATHS_H
#define KGSUP_PATHS_H

#include <stddef.h>

#define PATHS_MAX 4096

/* DIR/name */
void paths_file(char *out, size_t n, const char *state_dir, const char *name);
/* A session's name: what mkdtemp makes of "XXXXXX". */
#define PATHS_SESSION_LEN 6
/* DIR/sock/<session> */
void paths_session_dir(char *out, size_t n, const char *state_dir, const char *session);
/* Non-zero when session is a name paths_session_dir may use (letters and digits, not too
 * long: never a path that leads out of DIR/sock). */
int paths_session_ok(const char *session);
/* ipc://DIR/sock/<session>/<name>[<index>] (index < 0: none). Returns -1 when the socket path
 * would be longer than a Unix socket address allows. */
int paths_endpoint(char *out, size_t n, const char *state_dir, const char *session,
		   const char *name, int index);

#endif
