/* bwait.c: a shared broker that does not answer, as the run waits for it (bwait.h). */
#include "bwait.h"
#include "../common/buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void bwait_init(struct bwait *w)
{
	memset(w, 0, sizeof *w);
	w->dirty = 1;
}

void bwait_take(struct bwait *w, const struct msg_bwait *m)
{
	if (m->slot >= BWAIT_SLOTS)
		return;
	w->since[m->slot] = m->waiting ? (m->since > 0 ? m->since : 1) : 0;
	w->dirty = 1;
}

void bwait_slot_gone(struct bwait *w, int slot)
{
	if (slot >= 0 && slot < BWAIT_SLOTS && w->since[slot]) {
		w->since[slot] = 0;
		w->dirty = 1;
	}
}

/* The earliest since of the workers waiting; 0: none waits. */
static int64_t earliest(const struct bwait *w)
{
	int64_t e = 0;
	for (int i = 0; i < BWAIT_SLOTS; i++)
		if (w->since[i] && (!e || w->since[i] < e))
			e = w->since[i];
	return e;
}

int bwait_record(struct bwait *w, store_txn *t, const char *endpoint)
{
	if (!w->dirty)
		return 0;
	int64_t since = earliest(w);
	if (since == w->recorded && w->recorded) {
		w->dirty = 0;
		return 0;
	}
	char text[1024] = "";
	if (since)
		snprintf(text, sizeof text, "%lld\t%s", (long long)since, endpoint ? endpoint : "");
	w->recorded = since;
	return store_put(t, DB_META, META_BROKER_WAIT, strlen(META_BROKER_WAIT), text,
			 strlen(text)) ? STORE_FULL : 0;
}

void bwait_committed(struct bwait *w)
{
	w->dirty = 0;
}

int bwait_read(store_txn *t, int64_t *since, char *endpoint, size_t n)
{
	const void *val;
	size_t len;
	if (store_get(t, DB_META, META_BROKER_WAIT, strlen(META_BROKER_WAIT), &val, &len) || !len)
		return 0;
	char text[1024];
	snprintf(text, sizeof text, "%.*s", (int)len, (const char *)val);
	char *tab = strchr(text, '\t');
	if (!tab)
		return 0;
	*tab = '\0';
	*since = strtoll(text, NULL, 10);
	snprintf(endpoint, n, "%s", tab + 1);
	return 1;
}

void bwait_describe(char *out, size_t n, int64_t since, const char *endpoint)
{
	time_t t = (time_t)(since / 1000);
	struct tm tm;
	char at[16] = "?";
	if (localtime_r(&t, &tm))
		strftime(at, sizeof at, "%H:%M:%S", &tm);
	snprintf(out, n, "waiting for broker %s since %s", endpoint, at);
}
