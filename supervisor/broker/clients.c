/* clients.c: who asks the broker (clients.h). */
#include "clients.h"
#include "../../common/util.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

void minute_add(struct minute_count *m, int64_t now_ms)
{
	int64_t s = now_ms / 1000;
	size_t i = (size_t)(s % 60);
	if (m->sec[i] != s) {
		m->sec[i] = s;
		m->n[i] = 0;
	}
	m->n[i]++;
}

uint64_t minute_total(const struct minute_count *m, int64_t now_ms)
{
	int64_t s = now_ms / 1000;
	uint64_t t = 0;
	for (size_t i = 0; i < 60; i++)
		if (m->sec[i] > s - 60 && m->sec[i] <= s)
			t += m->n[i];
	return t;
}

static uint32_t client_index(struct clients *cl, const char *name, size_t len)
{
	if (len > CLIENT_NAME_MAX)
		len = CLIENT_NAME_MAX;
	uint32_t i = map_get(&cl->by_name, name, len);
	if (i != UINT32_MAX)
		return i;
	cl->c = xgrow(cl->c, &cl->cap, cl->n, sizeof *cl->c, 8);
	struct client *c = &cl->c[cl->n];
	memset(c, 0, sizeof *c);
	memcpy(c->name, name, len);
	c->name[len] = '\0';
	return map_put(&cl->by_name, name, len, (uint32_t)cl->n++);
}

uint32_t clients_worker(struct clients *cl, const char *name, size_t len, uint32_t slot,
			uint32_t *client)
{
	uint32_t ci = client_index(cl, name, len);
	struct client *c = &cl->c[ci];
	c->last_seen = now_ms();
	c->last_seen_wall = wall_ms();
	char key[CLIENT_NAME_MAX + 5];
	size_t klen = strlen(c->name);
	memcpy(key, c->name, klen);
	key[klen++] = '\0';
	memcpy(key + klen, &slot, 4);
	klen += 4;
	uint32_t w = map_get(&cl->by_slot, key, klen);
	if (w == UINT32_MAX) {
		cl->held = xgrow(cl->held, &cl->capheld, cl->nheld, sizeof *cl->held, 64);
		cl->held[cl->nheld] = (struct held){ 0, 0, ci };
		w = map_put(&cl->by_slot, key, klen, (uint32_t)cl->nheld++);
		c->workers++;
	}
	*client = ci;
	return w;
}

void clients_free(struct clients *cl)
{
	free(cl->c);
	free(cl->held);
	map_free(&cl->by_name);
	map_free(&cl->by_slot);
	memset(cl, 0, sizeof *cl);
}

void clients_json(buf *b, const struct clients *cl)
{
	int64_t now = now_ms();
	buf_putc(b, '[');
	for (size_t i = 0; i < cl->n; i++) {
		const struct client *c = &cl->c[i];
		time_t t = (time_t)(c->last_seen_wall / 1000);
		struct tm tm;
		char seen[32] = "";
		if (gmtime_r(&t, &tm))
			strftime(seen, sizeof seen, "%Y-%m-%dT%H:%M:%SZ", &tm);
		buf_puts(b, i ? ",{\"client\":" : "{\"client\":");
		buf_json_str(b, c->name, strlen(c->name));
		buf_printf(b, ",\"workers\":%u,\"last_seen\":\"%s\",\"seen_s_ago\":%.1f,"
			   "\"grants_last_minute\":%llu,\"granted\":%llu,\"reports\":%llu,"
			   "\"http_429\":%llu}", c->workers, seen, (double)(now - c->last_seen) / 1000.0,
			   (unsigned long long)minute_total(&c->grants, now),
			   (unsigned long long)c->granted, (unsigned long long)c->reports,
			   (unsigned long long)c->http_429);
	}
	buf_putc(b, ']');
}
