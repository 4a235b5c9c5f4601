/* nfs_shim.c: an LD_PRELOAD shim for shards.t. statfs of a path under KGSUP_NFS_PREFIX answers
 * as NFS would (f_type NFS_SUPER_MAGIC), so that the refusal of a cache.path on a network file
 * system can be tested without mounting one. Built by the test; never part of kgsup. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/vfs.h>

#define NFS_SUPER_MAGIC 0x6969

static int under(const char *path)
{
	const char *p = getenv("KGSUP_NFS_PREFIX");
	return p && *p && path && !strncmp(path, p, strlen(p));
}

int statfs(const char *path, struct statfs *buf)
{
	static int (*real)(const char *, struct statfs *);
	if (!real)
		real = (int (*)(const char *, struct statfs *))dlsym(RTLD_NEXT, "statfs");
	int rc = real(path, buf);
	if (!rc && under(path))
		buf->f_type = NFS_SUPER_MAGIC;
	return rc;
}

int statfs64(const char *path, struct statfs64 *buf)
{
	static int (*real)(const char *, struct statfs64 *);
	if (!real)
		real = (int (*)(const char *, struct statfs64 *))dlsym(RTLD_NEXT, "statfs64");
	int rc = real(path, buf);
	if (!rc && under(path))
		buf->f_type = NFS_SUPER_MAGIC;
	return rc;
}
