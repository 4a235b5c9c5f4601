/* util.h: exit codes, clocks and small file helpers shared by every process.
 *
 * How kgsup reports errors (every file follows this):
 * - A function that can fail returns 0 on success and -1 on failure, with the reason written
 *   into a caller's (char *err, size_t errlen) when it has one, naming the file, line or key
 *   the user must look at. Store functions return a STORE_ code instead (store.h), and a
 *   store_write callback returns 0 or the non-zero code that aborts the whole transaction.
 *   Lookups that may find nothing return a found/not-found value, never -1 for "absent".
 * - Macros: FAIL(...) writes err and returns -1; FAIL_OUT(...) writes err and jumps to the
 *   function's `out:` label, where it frees what it holds.
 * - A failure becomes an exit code only on a command's own path (the *_cmd handlers of the
 *   command table in cli_commands.c, and what they call to run the command): one of the enum
 *   below, never a bare number. The user's one line is printed with die_msg ("kgsup: ..."), which
 *   does not exit: the code is returned up to main, so everything is freed and every store
 *   closed on the way out. Library code (common/) never exits.
 * - Running processes log (log.h) what the user may want to know later; die_msg is only for
 *   the line that explains an exit. */
#ifndef KGSUP_UTIL_H
#define KGSUP_UTIL_H

#include <stddef.h>
#include <stdint.h>

/* A macro's value as a string literal (a limit in a usage line). */
#define STR_(x) #x
#define STR(x) STR_(x)

/* Documented exit codes (README, kgsup(1)). */
enum {
	EXIT_OK = 0,
	EXIT_INTERNAL = 1, /* a bug or an unexpected system failure */
	EXIT_USAGE = 2,    /* usage, config or input error */
	EXIT_FAILED = 3,   /* finished, but some batches failed for good */
	EXIT_ABORTED = 4,  /* the API refused us: bad key, no access, unknown model */
	EXIT_STOPPED = 75, /* stopped before done; resumable (EX_TEMPFAIL) */
};

/* Milliseconds on CLOCK_MONOTONIC: comparable between processes of one boot. */
int64_t now_ms(void);
/* Microseconds on CLOCK_MONOTONIC. */
int64_t now_us(void);
/* Milliseconds since the epoch. */
int64_t wall_ms(void);

/* Reads a whole file; returns NULL with errno set on failure. Refuses files over max bytes
 * (errno EFBIG). */
char *read_file(const char *path, size_t max, size_t *len);
/* The same for a file in the state directory: a symbolic link is refused (ELOOP). */
char *read_file_nofollow(const char *path, size_t max, size_t *len);
/* Writes data to path atomically (temp file, fsync, rename) with the given mode. */
int write_file_atomic(const char *path, const void *data, size_t len, int mode);
/* strerror(e), except that ELOOP from an O_NOFOLLOW open says what it means here. */
const char *nofollow_strerror(int e);
/* chmod of a directory that must not be a symbolic link (opened O_DIRECTORY|O_NOFOLLOW). */
int chmod_dir_nofollow(const char *path, int mode);
/* fsync of a directory, so the renames in it survive a power cut. */
int fsync_dir(const char *path);
/* mkdir -p with mode for the last component. */
int mkdir_p(const char *path, int mode);

uint32_t rd_u32be(const void *p);
void wr_u32be(void *p, uint32_t v);



/* Non-zero when both paths exist and are the same file or directory (device and inode, so
 * symlinks and relative spellings count as the same). */
int same_file(const char *a, const char *b);
/* Non-zero when fd is an open descriptor. */
int fcntl_is_open(int fd);
/* The path of the running executable (for re-exec); -1 on failure. */
int readlink_self(char *out, size_t n);

#endif
