/* pidcache.c: getpid() answered from memory, for libzmq's sake. libzmq checks that the process
 * has not forked (its pid against getpid()) in every send, receive and wait of its internal
 * signalers, on the caller's thread and on its I/O thread, and glibc makes each of those a
 * system call: several a message, in every process. This definition takes the place of libc's
 * for the program and for the libraries it loads (the executable's symbol comes first). The pid
 * is read on first use or at start, whichever comes first, and again in the child of every
 * fork() (pthread_atfork). A vfork or posix_spawn child runs no fork handler but only execs
 * (spawn.c, rolespawn.c), and the exec'd image reads its own pid anew; a process made by a raw
 * clone or fork system call would see its parent's pid here (none is made so). */
#include <pthread.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <unistd.h>

static pid_t cached_pid;

static void read_pid(void)
{
	cached_pid = (pid_t)syscall(SYS_getpid);
}

/* at start, before a vfork child could be the first to ask (it would write its own pid into
 * the parent's memory) */
__attribute__((constructor)) static void pidcache_init(void)
{
	if (!cached_pid)
		read_pid();
	pthread_atfork(NULL, NULL, read_pid);
}

pid_t getpid(void)
{
	if (!cached_pid) /* a library's constructor, before ours */
		read_pid();
	return cached_pid;
}
