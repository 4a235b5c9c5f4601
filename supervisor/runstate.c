/* runstate.c: reading and writing the small fixed records of a run. */
#include "runstate.h"
#include "../common/util.h"

#include <string.h>

void key_u32(unsigned char k[4], uint32_t v)
{
	wr_u32be(k, v);
}

int counters_read(store_txn *t, struct counters *c)
{
	const void *v;
	size_t n;
	memset(c, 0, sizeof *c);
	int rc = store_get(t, DB_META, META_COUNTERS, strlen(META_COUNTERS), &v, &n);
	if (rc)
		return rc;
	memcpy(c, v, n < sizeof *c ? n : sizeof *c);
	return 0;
}

int counters_write(store_txn *t, const struct counters *c)
{
	return store_put(t, DB_META, META_COUNTERS, strlen(META_COUNTERS), c, sizeof *c);
}

int plan_read(store_txn *t, struct plan_rec *p)
{
	const void *v;
	size_t n;
	memset(p, 0, sizeof *p);
	int rc = store_get(t, DB_META, META_PLAN, strlen(META_PLAN), &v, &n);
	if (rc)
		return rc;
	if (n != sizeof *p)
		return STORE_ERROR;
	memcpy(p, v, sizeof *p);
	return p->version == RUNSTATE_VERSION ? 0 : STORE_ERROR;
}
