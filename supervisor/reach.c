/* reach.c: the pause while the server cannot be reached (see reach.h). */
#include "reach.h"
#include "../common/buf.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void reach_init(struct reach *r)
{
	memset(r, 0, sizeof *r);
	r->dirty = 1;
}

void reach_describe(char *out, size_t n, int64_t since_wall, const char *url, const char *why)
{
	time_t t = (time_t)(since_wall / 1000);
	struct tm tm;
	char when[16] = "?";
	if (localtime_r(&t, &tm))
		strftime(when, sizeof when, "%H:%M:%S", &tm);
	snprintf(out, n, "waiting for the server at %s since %s: %s", url, when, why);
}

void reach_lost(struct reach *r, const struct config *cfg, uint32_t n, const char *why,
		size_t len)
{
	int64_t now = now_ms();
	snprintf(r->reason, sizeof r->reason, "%.*s", (int)len, why);
	if (!r->waiting) {
		r->waiting = 1;
		r->dirty = 1;
		r->since = now;
		r->since_wall = wall_ms();
		r->delay = cfg->backoff_base_ms;
		r->next_probe = now + r->delay;
		r->probe_out = 0;
		char line[1024];
		reach_describe(line, sizeof line, r->since_wall, cfg->base_url, r->reason);
		log_warn("%s; no attempt is counted meanwhile, a batch at a time tries again", line);
		return;
	}
	/* the batches out when the wait began come back too: only the probe's failure backs off */
	if (!r->probe_out || n != r->probe)
		return;
	r->probe_out = 0;
	r->delay = r->delay * 2 > cfg->backoff_cap_ms ? cfg->backoff_cap_ms : r->delay * 2;
	r->next_probe = now + r->delay;
	log_debug("the server at %s still cannot be reached (%s); next try in %lld ms",
		  cfg->base_url, r->reason, (long long)r->delay);
}

void reach_answered(struct reach *r, const struct config *cfg)
{
	if (!r->waiting)
		return;
	log_info("the server at %s answers again after %lld s of waiting; going on", cfg->base_url,
		 (long long)((now_ms() - r->since) / 1000));
	reach_end(r);
}

int reach_quota(const struct reach *r, int busy, int64_t now)
{
	if (!r->waiting)
		return -1;
	/* (a probe whose worker died is out no more: busy says so) */
	return busy == 0 && now >= r->next_probe ? 1 : 0;
}

long reach_sleep_ms(const struct reach *r, int64_t now, long max)
{
	int64_t left = r->next_probe - now;
	return left > 0 && left < max ? (long)left : max;
}

void reach_probe_sent(struct reach *r, uint32_t n)
{
	if (!r->waiting)
		return;
	r->probe = n;
	r->probe_out = 1;
}

void reach_end(struct reach *r)
{
	if (r->waiting)
		r->dirty = 1;
	r->waiting = 0;
	r->probe_out = 0;
}

int reach_record(const struct reach *r, store_txn *t, const char *base_url)
{
	if (!r->dirty)
		return 0;
	buf b;
	buf_init(&b);
	if (r->waiting)
		buf_printf(&b, "%lld\t%s\t%s", (long long)r->since_wall, base_url, r->reason);
	int rc = store_put(t, DB_META, META_SERVER_WAIT, strlen(META_SERVER_WAIT),
			   b.data ? b.data : "", b.len);
	buf_free(&b);
	return rc ? STORE_FULL : 0;
}

void reach_committed(struct reach *r)
{
	r->dirty = 0;
}

int reach_read(store_txn *t, struct reach_view *v)
{
	const void *val;
	size_t len;
	memset(v, 0, sizeof *v);
	if (store_get(t, DB_META, META_SERVER_WAIT, strlen(META_SERVER_WAIT), &val, &len) || !len)
		return 0;
	char text[1024];
	snprintf(text, sizeof text, "%.*s", (int)len, (const char *)val);
	char *url = strchr(text, '\t');
	char *why = url ? strchr(url + 1, '\t') : NULL;
	if (!why)
		return 0;
	*url++ = '\0';
	*why++ = '\0';
	v->since_wall = strtoll(text, NULL, 10);
	snprintf(v->url, sizeof v->url, "%s", url);
	snprintf(v->reason, sizeof v->reason, "%s", why);
	return 1;
}
