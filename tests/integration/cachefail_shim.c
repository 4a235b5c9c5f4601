/* cachefail_shim.c: an LD_PRELOAD shim for recovery.t. The first mdb_put into the LMDB
 * environment named by KGSUP_FAIL_PUT_ENV fails with MDB_TXN_FULL, as a shared cache whose
 * transaction cannot take another record would. Built by the test; never part of kgsup. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <lmdb.h>
#include <stdlib.h>
#include <string.h>

int mdb_put(MDB_txn *txn, MDB_dbi dbi, MDB_val *key, MDB_val *data, unsigned int flags)
{
	static int (*real)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned int);
	static int failed;
	if (!real)
		real = (int (*)(MDB_txn *, MDB_dbi, MDB_val *, MDB_val *, unsigned int))dlsym(RTLD_NEXT, "mdb_put");
	const char *want = getenv("KGSUP_FAIL_PUT_ENV"), *path = NULL;
	if (!failed && want && !mdb_env_get_path(mdb_txn_env(txn), &path) && path &&
	    !strcmp(path, want)) {
		failed = 1;
		return MDB_TXN_FULL;
	}
	return real(txn, dbi, key, data, flags);
}
