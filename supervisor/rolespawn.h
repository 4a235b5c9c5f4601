/* rolespawn.h: a role of this very binary (`kgsup __check`, `kgsup __embed`) run once by a
 * command that must not load what the role loads (libcurl), with its standard input and output
 * on pipes: signals as a fresh process has them, descriptors of ours closed (O_CLOEXEC). */
#ifndef KGSUP_ROLESPAWN_H
#define KGSUP_ROLESPAWN_H

#include <sys/types.h>

/* Starts this binary with argv; *to writes its standard input, *from reads its standard
 * output. Its pid, or -1 with errno set. */
pid_t role_spawn(char **argv, int *to, int *from);
/* Waits for it: its exit code, or -1 when it did not exit (killed). */
int role_wait(pid_t pid);

#endif
