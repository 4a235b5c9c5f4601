/* store.c: LMDB environment, transactions and map growth (the only file with lmdb.h). */
#include "store.h"
#include "buf.h"
#include "log.h"
#include "util.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <unistd.h>

#define STORE_INITIAL_MAP ((size_t)64 << 20)

static const char *db_names[DB_COUNT] = { "meta",    "sources", "chunks", "batches",
					  "results", "cache",   "invalid", "texts",
					  "docs",    "batchx",  "rows",   "rowans",
					  "rowcache", "rowask", "vectors", "vecask",
					  "parts", "partbatch" };

struct store {
	MDB_env *env;
	MDB_dbi dbi[DB_COUNT];
	unsigned char absent[DB_COUNT]; /* read-only, and made by a version before it existed */
	int readonly;
	char dir[4096];
	char err[256];
};

struct store_txn {
	store *s;
	MDB_txn *txn;
	int rc; /* first failure inside the transaction: STORE_FULL or STORE_ERROR */
};

struct store_iter {
	MDB_cursor *cur;
	int first;
	MDB_val start;
};

/* LMDB reports a full disk as ENOSPC or EIO depending on which write failed: ask the file
 * system, so the message can say what the user has to do. */
static int disk_nearly_full(const char *dir)
{
	struct statvfs v;
	return statvfs(dir, &v) == 0 && (uint64_t)v.f_bavail * v.f_frsize < (4u << 20);
}

static int failed(store *s, const char *what, int rc)
{
	int full = (rc == ENOSPC || rc == EIO) && disk_nearly_full(s->dir);
	snprintf(s->err, sizeof s->err, "%s: %s%s", what, mdb_strerror(rc),
		 full ? "; the disk is full" : "");
	return rc == MDB_MAP_FULL ? STORE_FULL : STORE_ERROR;
}

const char *store_strerror(const store *s)
{
	return s->err;
}

static int open_dbis(store *s)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, s->readonly ? MDB_RDONLY : 0, &txn);
	if (rc)
		return failed(s, "begin", rc);
	for (int i = 0; i < DB_COUNT; i++) {
		rc = mdb_dbi_open(txn, db_names[i], s->readonly ? 0 : MDB_CREATE, &s->dbi[i]);
		if (rc == MDB_NOTFOUND && s->readonly) { /* reads find nothing there */
			s->absent[i] = 1;
			continue;
		}
		if (rc) {
			mdb_txn_abort(txn);
			return failed(s, db_names[i], rc);
		}
	}
	rc = mdb_txn_commit(txn);
	return rc ? failed(s, "commit", rc) : 0;
}

/* LMDB opens data.mdb and lock.mdb without close-on-exec: every worker and the broker (forked
 * and exec'd by the supervisor) would hold them open. Marks every descriptor of this process
 * on either file close-on-exec (lock.mdb's descriptor is not given out by LMDB, so by identity:
 * device and inode). */
static void cloexec_env_files(const char *dir)
{
	struct stat want[2], st;
	char path[4200];
	int n = 0;
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	n += stat(path, &want[n]) == 0;
	snprintf(path, sizeof path, "%s/lock.mdb", dir);
	n += stat(path, &want[n]) == 0;
	DIR *d = opendir("/proc/self/fd");
	if (!d)
		return;
	for (struct dirent *e; (e = readdir(d));) {
		int fd = atoi(e->d_name);
		if (e->d_name[0] == '.' || fd == dirfd(d) || fstat(fd, &st) < 0)
			continue;
		for (int i = 0; i < n; i++)
			if (st.st_dev == want[i].st_dev && st.st_ino == want[i].st_ino)
				fcntl(fd, F_SETFD, fcntl(fd, F_GETFD) | FD_CLOEXEC);
	}
	closedir(d);
}

store *store_open(const char *dir, int readonly, char *err, size_t errlen)
{
	store *s = xcalloc(1, sizeof *s);
	snprintf(s->dir, sizeof s->dir, "%s", dir);
	s->readonly = readonly;
	if (!readonly && mkdir_p(dir, 0700) < 0) {
		snprintf(err, errlen, "%s: cannot create: %s", dir, strerror(errno));
		free(s);
		return NULL;
	}
	int rc = mdb_env_create(&s->env);
	if (!rc)
		rc = mdb_env_set_maxdbs(s->env, DB_COUNT);
	if (!rc && !readonly)
		rc = mdb_env_set_mapsize(s->env, STORE_INITIAL_MAP);
	/* NOTLS: a read transaction is not tied to a thread; kgsup has one thread per process */
	if (!rc)
		rc = mdb_env_open(s->env, dir, (readonly ? MDB_RDONLY : 0) | MDB_NOTLS, 0600);
	if (!rc)
		cloexec_env_files(dir);
	if (!rc && !readonly) {
		/* an existing environment may already be larger than the initial map */
		MDB_envinfo info;
		mdb_env_info(s->env, &info);
		if (info.me_mapsize < STORE_INITIAL_MAP)
			mdb_env_set_mapsize(s->env, STORE_INITIAL_MAP);
	}
	if (!rc)
		rc = open_dbis(s) ? MDB_INVALID : 0;
	if (rc) {
		snprintf(err, errlen, "%s: cannot open the store: %s", dir,
			 s->err[0] ? s->err : mdb_strerror(rc));
		mdb_env_close(s->env);
		free(s);
		return NULL;
	}
	return s;
}

void store_close(store *s)
{
	if (!s)
		return;
	mdb_env_close(s->env);
	free(s);
}

store_txn *store_begin(store *s, int write)
{
	MDB_txn *txn;
	int rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	if (rc == MDB_MAP_RESIZED) {
		/* another process grew the map: adopt its size and try once more */
		mdb_env_set_mapsize(s->env, 0);
		rc = mdb_txn_begin(s->env, NULL, write ? 0 : MDB_RDONLY, &txn);
	}
	if (rc) {
		failed(s, "begin", rc);
		return NULL;
	}
	store_txn *t = xcalloc(1, sizeof *t);
	t->s = s;
	t->txn = txn;
	return t;
}

int store_commit(store_txn *t)
{
	int rc = t->rc;
	if (rc) {
		mdb_txn_abort(t->txn);
	} else {
		int mrc = mdb_txn_commit(t->txn);
		rc = mrc ? failed(t->s, "commit", mrc) : 0;
	}
	free(t);
	return rc;
}

void store_abort(store_txn *t)
{
	if (!t)
		return;
	mdb_txn_abort(t->txn);
	free(t);
}

static MDB_val val_of(const void *p, size_t n)
{
	MDB_val v = { n, (void *)p };
	return v;
}

int store_put(store_txn *t, enum store_db db, const void *key, size_t klen, const void *val,
	      size_t vlen)
{
	if (t->rc)
		return t->rc;
	MDB_val k = val_of(key, klen), v = val_of(val, vlen);
	int rc = mdb_put(t->txn, t->s->dbi[db], &k, &v, 0);
	if (rc)
		t->rc = failed(t->s, db_names[db], rc);
	return t->rc;
}

int store_get(store_txn *t, enum store_db db, const void *key, size_t klen, const void **val,
	      size_t *vlen)
{
	MDB_val k = val_of(key, klen), v;
	if (t->s->absent[db])
		return STORE_NOTFOUND;
	int rc = mdb_get(t->txn, t->s->dbi[db], &k, &v);
	if (rc == MDB_NOTFOUND)
		return STORE_NOTFOUND;
	if (rc)
		return failed(t->s, db_names[db], rc);
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 0;
}

int store_clear(store_txn *t, enum store_db db)
{
	int rc = mdb_drop(t->txn, t->s->dbi[db], 0);
	if (rc)
		t->rc = failed(t->s, db_names[db], rc);
	return rc ? t->rc : 0;
}

size_t store_count(store_txn *t, enum store_db db)
{
	MDB_stat st;
	if (t->s->absent[db] || mdb_stat(t->txn, t->s->dbi[db], &st))
		return 0;
	return st.ms_entries;
}

store_iter *store_iter_open(store_txn *t, enum store_db db, const void *start, size_t slen)
{
	if (t->s->absent[db])
		return NULL;
	store_iter *it = xcalloc(1, sizeof *it);
	if (mdb_cursor_open(t->txn, t->s->dbi[db], &it->cur)) {
		free(it);
		return NULL;
	}
	it->first = 1;
	it->start = val_of(start, slen);
	return it;
}

int store_iter_next(store_iter *it, const void **key, size_t *klen, const void **val, size_t *vlen)
{
	MDB_val k = it->start, v;
	int rc;
	if (it->first && it->start.mv_data)
		rc = mdb_cursor_get(it->cur, &k, &v, MDB_SET_RANGE);
	else
		rc = mdb_cursor_get(it->cur, &k, &v, it->first ? MDB_FIRST : MDB_NEXT);
	it->first = 0;
	if (rc)
		return 0;
	*key = k.mv_data;
	*klen = k.mv_size;
	*val = v.mv_data;
	*vlen = v.mv_size;
	return 1;
}

void store_iter_close(store_iter *it)
{
	if (!it)
		return;
	mdb_cursor_close(it->cur);
	free(it);
}

static int store_grow(store *s)
{
	MDB_envinfo info;
	mdb_env_info(s->env, &info);
	size_t next = info.me_mapsize * 2;
	int rc = mdb_env_set_mapsize(s->env, next);
	if (rc)
		return failed(s, "grow map", rc);
	log_debug("store %s: map grown to %zu MiB", s->dir, next >> 20);
	return 0;
}

int store_ensure_room(store *s, size_t need)
{
	MDB_envinfo info;
	MDB_stat st;
	if (mdb_env_info(s->env, &info) || mdb_env_stat(s->env, &st))
		return STORE_ERROR;
	size_t used = (info.me_last_pgno + 1) * (size_t)st.ms_psize;
	if (need < info.me_mapsize / 4)
		need = info.me_mapsize / 4;
	while (info.me_mapsize - used < need * 2) {
		if (store_grow(s))
			return STORE_ERROR;
		mdb_env_info(s->env, &info);
	}
	return 0;
}

int store_write(store *s, int (*fn)(store_txn *t, void *arg), void *arg)
{
	for (;;) {
		store_txn *t = store_begin(s, 1);
		if (!t)
			return STORE_ERROR;
		int rc = fn(t, arg);
		if (rc) {
			/* never commit part of what fn meant to write: grow and run it again only when
			 * this transaction's own map is what filled */
			int full = rc == STORE_FULL && t->rc == STORE_FULL;
			store_abort(t);
			if (!full)
				return rc;
			if (store_grow(s))
				return STORE_ERROR;
			continue;
		}
		rc = store_commit(t);
		if (rc != STORE_FULL)
			return rc;
		if (store_grow(s))
			return STORE_ERROR;
	}
}

void store_reader_check(store *s)
{
	int dead = 0;
	mdb_reader_check(s->env, &dead);
}

int store_exists(const char *dir)
{
	char path[4200];
	snprintf(path, sizeof path, "%s/data.mdb", dir);
	return access(path, F_OK) == 0;
}

int store_remove(const char *dir)
{
	static const char *const files[] = { "data.mdb", "lock.mdb" };
	char path[4200];
	for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
		snprintf(path, sizeof path, "%s/%s", dir, files[i]);
		if (unlink(path) < 0 && errno != ENOENT)
			return -1;
	}
	return rmdir(dir) < 0 && errno != ENOENT ? -1 : 0;
}
