/* broker_view.c: the broker's view for `kgsup status --broker` (MSG_BVIEW): its clients (each
 * supervisor: workers, last heard from, grants over the last minute, 429s), each model's lane
 * (grants over the last minute against its limit, 429s, asks waiting) and the limits in force
 * as a supervisor's status shows them. */
#include "broker_impl.h"
#include "limits_view.h"
#include "../../common/util.h"

#include <string.h>
#include <time.h>
#include <unistd.h>

static void lanes_json(const struct broker *b, buf *out, int64_t now)
{
	buf_putc(out, '[');
	for (size_t i = 0; i < b->nlanes; i++) {
		const struct lane *l = &b->lanes[i];
		buf_puts(out, i ? ",{\"model\":" : "{\"model\":");
		if (i)
			buf_json_str(out, b->cfg.model_limits[i - 1].model,
				     strlen(b->cfg.model_limits[i - 1].model));
		else
			buf_puts(out, "null");
		buf_printf(out, ",\"grants_last_minute\":%llu,\"requests_per_minute\":%.0f,"
			   "\"tokens_per_minute\":%.0f,\"rate_factor\":%.3f,\"http_429\":%llu,"
			   "\"waiting\":%zu}", (unsigned long long)minute_total(&l->minute, now),
			   l->pace.rpm, l->pace.tpm, l->pace.rate_factor,
			   (unsigned long long)l->pace.throttled, l->nq);
	}
	buf_putc(out, ']');
}

void broker_view(const struct broker *b, buf *out)
{
	int64_t now = now_ms();
	time_t t = (time_t)(b->started_wall / 1000);
	struct tm tm;
	char started[32] = "";
	if (gmtime_r(&t, &tm))
		strftime(started, sizeof started, "%Y-%m-%dT%H:%M:%SZ", &tm);
	buf_reset(out);
	buf_puts(out, "{\"broker\":");
	buf_json_str(out, b->endpoint, strlen(b->endpoint));
	buf_printf(out, ",\"pid\":%d,\"started\":\"%s\",\"curve\":%s,\"allowed_keys\":%zu,"
		   "\"granted\":%llu,\"reported\":%llu,\"in_flight\":%lld,\"clients\":",
		   (int)getpid(), started, b->zap ? "true" : "false", b->allow.nkeys,
		   (unsigned long long)b->granted, (unsigned long long)b->reported,
		   (long long)b->in_flight);
	clients_json(out, &b->clients);
	buf_puts(out, ",\"models\":");
	lanes_json(b, out, now);
	buf_puts(out, ",\"limits\":");
	limits_view_json(out, &b->board.view);
	buf_putc(out, '}');
}
