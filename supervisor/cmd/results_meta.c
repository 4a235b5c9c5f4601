/* results_meta.c: DIR/metadata.json of export -f tree (results_meta.h). */
#include "results_meta.h"
#include "../../common/hash.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <string.h>

static int sum_visit(struct results *r, uint32_t n, const struct batch_rec *b, void *arg)
{
	struct cell_sum *c = arg;
	c->attempts += b->attempts;
	if (b->state != B_SPLIT) {
		c->leaves++;
		c->states |= 1u << b->state;
	}
	struct batch_ext x;
	if (r->job.legacy || batchx_read(r->t, n, &x))
		return 0;
	c->prompt_tokens += x.prompt_tokens;
	c->completion_tokens += x.completion_tokens;
	c->latency_ms += x.latency_ms;
	c->ctx_tokens += x.ctx_tokens;
	c->ctx_trimmed += x.ctx_trimmed;
	if (x.flags & BX_CUT)
		c->cut = 1;
	return 0;
}

void cell_sum_read(struct results *r, uint32_t doc, uint32_t s, struct cell_sum *c)
{
	memset(c, 0, sizeof *c);
	results_walk(r, doc, s, sum_visit, c);
}

const char *cell_state(const struct cell_sum *c)
{
	static const struct {
		enum batch_state s;
		const char *name;
	} worst[] = { { B_FAILED, "failed" }, { B_BLOCKED, "blocked" },
		      { B_INFLIGHT, "in_flight" }, { B_PENDING, "pending" } };
	for (size_t i = 0; i < sizeof worst / sizeof worst[0]; i++)
		if (c->states & (1u << worst[i].s))
			return worst[i].name;
	return "done";
}

/* SHA-256 of what the run was started with: its recorded settings, then its job (the stages;
 * empty when it has none) and the KG prompt texts, each followed by a NUL byte. */
static void config_digest(store_txn *t, char hex[2 * HASH_LEN + 1])
{
	static const char *const keys[] = { META_CONFIG, META_JOB, "prompt.system", "prompt.user" };
	hash_ctx *h = hash_new();
	for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
		const void *v;
		size_t n;
		if (!store_get(t, DB_META, keys[i], strlen(keys[i]), &v, &n))
			hash_update(h, v, n);
		hash_update(h, "", 1);
	}
	unsigned char d[HASH_LEN];
	hash_final(h, d);
	hash_hex(d, HASH_LEN, hex);
}

static void stages_json(buf *b, const struct job *job)
{
	buf_puts(b, "\"stages\":[");
	for (size_t s = 0; s < job->n; s++) {
		const struct stage *st = &job->st[s];
		buf_puts(b, s ? ",\n{\"name\":" : "\n{\"name\":");
		buf_json_str(b, st->name, strlen(st->name));
		buf_printf(b, ",\"over\":\"%s\",\"model\":", stage_over_names[st->over]);
		buf_json_str(b, st->model, strlen(st->model));
		buf_puts(b, ",\"needs\":[");
		int k = 0;
		for (size_t i = 0; i < job->n; i++)
			if (st->needs & (1u << i)) {
				if (k++)
					buf_putc(b, ',');
				buf_json_str(b, job->st[i].name, strlen(job->st[i].name));
			}
		buf_puts(b, "]}");
	}
	buf_puts(b, "],\n");
}

void meta_begin(struct meta *m, struct results *r)
{
	memset(m, 0, sizeof *m);
	buf_init(&m->b);
	char id[2 * HASH_LEN + 1], digest[2 * HASH_LEN + 1];
	hash_hex(r->plan.fingerprint, HASH_LEN, id);
	config_digest(r->t, digest);
	buf_printf(&m->b, "{\"run_id\":\"%s\",\"config_digest\":\"%s\",\n", id, digest);
	stages_json(&m->b, &r->job);
	buf_puts(&m->b, "\"documents\":[");
}

void meta_document_begin(struct meta *m, const char *name)
{
	buf_puts(&m->b, m->ndocs++ ? ",\n{\"document\":" : "\n{\"document\":");
	buf_json_str(&m->b, name, strlen(name));
	buf_puts(&m->b, ",\"stages\":{");
	m->nstages = 0;
}

/* ,"key":value; null when the run does not record it (known: 0 or 1). */
static void meta_num(buf *b, const char *key, double v, const char *fmt, int known)
{
	buf_printf(b, ",\"%s\":", key);
	if (known)
		buf_printf(b, fmt, v);
	else
		buf_puts(b, "null");
}

void meta_stage(struct meta *m, struct results *r, uint32_t s, const struct cell_sum *c)
{
	const struct stage *st = &r->job.st[s];
	buf *b = &m->b;
	/* a run without stages keeps no tokens, latency or context per batch */
	int k = !r->job.legacy;
	if (m->nstages++)
		buf_putc(b, ',');
	buf_json_str(b, st->name, strlen(st->name));
	buf_printf(b, ":{\"state\":\"%s\",\"batches\":%u", cell_state(c), c->leaves);
	meta_num(b, "prompt_tokens", (double)c->prompt_tokens, "%.0f", k);
	meta_num(b, "completion_tokens", (double)c->completion_tokens, "%.0f", k);
	meta_num(b, "cost_usd", config_cost_model(&r->cfg, st->model, c->prompt_tokens,
						  c->completion_tokens), "%.6f", k);
	meta_num(b, "latency_ms", (double)c->latency_ms, "%.0f", k);
	meta_num(b, "attempts", (double)c->attempts, "%.0f", 1);
	meta_num(b, "context_tokens", (double)c->ctx_tokens, "%.0f", k);
	meta_num(b, "context_trimmed", (double)c->ctx_trimmed, "%.0f", k);
	buf_printf(b, ",\"cut\":%s}", c->cut ? "true" : "false");
}

void meta_document_end(struct meta *m)
{
	buf_puts(&m->b, "}}");
}

int meta_write(struct meta *m, const char *dir, char *err, size_t errlen)
{
	buf_puts(&m->b, "\n]}\n");
	char path[PATHS_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/metadata.json", dir) >= sizeof path) {
		snprintf(err, errlen, "%s: path too long", dir);
		return -1;
	}
	if (write_file_atomic(path, m->b.data, m->b.len, 0644)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

void meta_free(struct meta *m)
{
	buf_free(&m->b);
}
