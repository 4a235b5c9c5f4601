/* nofile.c: the supervisor's descriptor limit (nofile.h). Each worker slot costs the
 * supervisor NOFILE_PER_SLOT descriptors while its worker is connected (the slot's PUSH socket:
 * its mailbox, its listener and the worker's connection; the worker's connection to the results
 * socket); the rest (the store, the cache, the trace, ZeroMQ's own, the control socket, the
 * pipes to the zygote and the children) is about constant, NOFILE_BASE with room for what is
 * open only for a moment (a spool file, a directory read, a worker's connection that is being
 * replaced). Both measured on runs with -w 16 and -w 64 (BENCHMARKS.md). The broker holds
 * fewer (two a worker) and inherits the raised limit.
 *
 * A worker, and the zygote that forks them, get the soft limit the supervisor was started with
 * back: FD_SET on a descriptor at or above FD_SETSIZE (1024) aborts (glibc checks it), and a
 * worker loads libraries with select() code (libcurl's curl_multi_fdset, libcrypto, libsasl2)
 * even though libcurl itself waits with poll(). A worker holds a couple of dozen descriptors,
 * so it never comes near; with the usual soft limit of 1024, a leak in one would end in EMFILE,
 * an error, rather than in an abort. */
#include "nofile.h"

#include <stdio.h>
#include <sys/resource.h>

#define NOFILE_BASE 64
#define NOFILE_PER_SLOT 4

static struct rlimit started_with; /* the supervisor's limits before it raised them */
static int raised;

static rlim_t needed(int workers)
{
	return NOFILE_BASE + (rlim_t)NOFILE_PER_SLOT * (rlim_t)(workers > 0 ? workers : 0);
}

int nofile_fit(int workers, char *err, size_t errlen)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0)
		return 0; /* cannot tell: the sockets will say if they run short */
	rlim_t need = needed(workers);
	if (rl.rlim_cur == RLIM_INFINITY || rl.rlim_cur >= need)
		return 0;
	if (rl.rlim_max != RLIM_INFINITY && rl.rlim_max < need) {
		snprintf(err, errlen,
			 "%d workers need %llu open files (RLIMIT_NOFILE) but the hard limit is %llu: "
			 "raise it (ulimit -Hn, LimitNOFILE=) or run fewer workers (-w)",
			 workers, (unsigned long long)need, (unsigned long long)rl.rlim_max);
		return -1;
	}
	if (!raised)
		started_with = rl;
	rl.rlim_cur = need;
	if (setrlimit(RLIMIT_NOFILE, &rl) < 0) {
		snprintf(err, errlen, "%d workers need %llu open files: cannot raise RLIMIT_NOFILE "
			 "from %llu: %m", workers, (unsigned long long)need,
			 (unsigned long long)started_with.rlim_cur);
		return -1;
	}
	raised = 1;
	return 0;
}

int nofile_max_workers(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_max == RLIM_INFINITY ||
	    rl.rlim_max >= needed(1 << 30))
		return 1 << 30;
	return rl.rlim_max <= NOFILE_BASE ? 0 : (int)((rl.rlim_max - NOFILE_BASE) / NOFILE_PER_SLOT);
}

void nofile_child(void)
{
	if (raised)
		setrlimit(RLIMIT_NOFILE, &started_with);
}
