/* context.c: a stage's {{context}} from the answers it needs (context.h). */
#include "context.h"
#include "../common/chunk.h"
#include "../common/json.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

/* The answers of one needed stage for the document, in chunk order. */
struct needed {
	uint32_t stage;
	json **answers;
	size_t n, cap;
};

struct ctx {
	const struct stage *st;
	struct needed *need;
	size_t nneed;
	/* every array met, in the order the writer meets them: how many items it has and how many
	 * are written */
	uint32_t *items, *limit;
	unsigned char *cut; /* top_n applies to it (not to the array of a chunk stage's answers) */
	size_t narrays, caparrays;
	size_t next; /* the writer's array counter */
	int first;   /* the first pass registers the arrays */
};

static int keep_key(const struct stage *st, const char *key)
{
	if (!st->ninclude)
		return 1;
	for (size_t i = 0; i < st->ninclude; i++)
		if (!strcmp(st->include_keys[i], key))
			return 1;
	return 0;
}

static uint32_t array_id(struct ctx *c, uint32_t items, int cut)
{
	if (c->first) {
		c->items = xgrow(c->items, &c->caparrays, c->narrays, sizeof *c->items, 64);
		c->limit = xrealloc(c->limit, c->caparrays * sizeof *c->limit);
		c->cut = xrealloc(c->cut, c->caparrays);
		c->items[c->narrays] = c->limit[c->narrays] = items;
		c->cut[c->narrays] = (unsigned char)cut;
		c->narrays++;
	}
	return (uint32_t)c->next++;
}

/* Writes v (out NULL: only walks it, so that arrays keep their numbers). root: an answer's
 * top level, where include_keys applies. */
static void write_value(struct ctx *c, const json *v, buf *out, int root)
{
	enum json_kind k = json_kind(v);
	if (k == J_OBJECT) {
		if (out)
			buf_putc(out, '{');
		int n = 0;
		for (const json *m = json_first(v); m; m = json_next(m)) {
			if (root && !keep_key(c->st, json_key(m)))
				continue;
			if (out) {
				if (n++)
					buf_putc(out, ',');
				buf_json_str(out, json_key(m), strlen(json_key(m)));
				buf_putc(out, ':');
			}
			write_value(c, m, out, 0);
		}
		if (out)
			buf_putc(out, '}');
	} else if (k == J_ARRAY) {
		uint32_t items = 0;
		for (const json *e = json_first(v); e; e = json_next(e))
			items++;
		uint32_t id = array_id(c, items, 1);
		if (out)
			buf_putc(out, '[');
		uint32_t i = 0;
		for (const json *e = json_first(v); e; e = json_next(e), i++) {
			int shown = out && i < c->limit[id];
			if (shown && i)
				buf_putc(out, ',');
			write_value(c, e, shown ? out : NULL, 0);
		}
		if (out)
			buf_putc(out, ']');
	} else if (out) {
		json_write(v, out);
	}
}

static void write_context(struct ctx *c, const struct job *job, buf *out)
{
	c->next = 0;
	buf_reset(out);
	buf_putc(out, '{');
	for (size_t i = 0; i < c->nneed; i++) {
		const struct needed *nd = &c->need[i];
		const char *name = job->st[nd->stage].name;
		if (i)
			buf_putc(out, ',');
		buf_json_str(out, name, strlen(name));
		buf_putc(out, ':');
		if (job->st[nd->stage].over != OVER_CHUNKS) {
			if (nd->n)
				write_value(c, nd->answers[0], out, 1);
			else
				buf_puts(out, "null");
			continue;
		}
		uint32_t id = array_id(c, (uint32_t)nd->n, 0);
		buf_putc(out, '[');
		for (size_t a = 0; a < nd->n; a++) {
			int shown = a < c->limit[id];
			if (shown && a)
				buf_putc(out, ',');
			write_value(c, nd->answers[a], shown ? out : NULL, 1);
		}
		buf_putc(out, ']');
	}
	buf_putc(out, '}');
}

/* The answers of batch n, the halves of a split one in their place. */
static int collect(store_txn *t, uint32_t n, struct needed *nd, int depth)
{
	struct batch_rec b;
	if (depth > 64 || batch_read(t, n, &b))
		return 0;
	if (b.state == B_SPLIT)
		return collect(t, b.child, nd, depth + 1) || collect(t, b.child + 1, nd, depth + 1);
	const void *v;
	size_t len;
	if (b.state != B_DONE || record_get(t, DB_RESULTS, n, &v, &len))
		return 0;
	json *a = json_parse(v, len, NULL, 0);
	if (!a)
		return -1;
	nd->answers = xgrow(nd->answers, &nd->cap, nd->n, sizeof *nd->answers, 8);
	nd->answers[nd->n++] = a;
	return 0;
}

/* The limits after k drops, each of the last item of the longest array (the first of equals):
 * every array longer than some level L is cut to L, and the drops left over take one more
 * from the arrays at L, first first. Worked out, not replayed: O(arrays x log items). */
static uint64_t excess(const uint32_t *start, size_t n, uint32_t level)
{
	uint64_t e = 0;
	for (size_t i = 0; i < n; i++)
		e += start[i] > level ? start[i] - level : 0;
	return e;
}

static void limits_after(struct ctx *c, const uint32_t *start, uint64_t k)
{
	uint32_t lo = 0, hi = 0; /* the lowest level whose excess is at most k */
	for (size_t i = 0; i < c->narrays; i++)
		hi = start[i] > hi ? start[i] : hi;
	while (lo < hi) {
		uint32_t mid = lo + (hi - lo) / 2;
		if (excess(start, c->narrays, mid) <= k)
			hi = mid;
		else
			lo = mid + 1;
	}
	uint64_t left = k - excess(start, c->narrays, lo);
	for (size_t i = 0; i < c->narrays; i++) {
		c->limit[i] = start[i] < lo ? start[i] : lo;
		if (left && lo && c->limit[i] == lo) {
			c->limit[i]--;
			left--;
		}
	}
}

/* The fewest drops that bring the context within budget bytes (the size only falls as items
 * go, so a binary search over the number of drops finds it in a few writes). */
static void trim_to(struct ctx *c, const struct job *job, buf *out, uint64_t budget)
{
	uint32_t *start = xmalloc(c->narrays * sizeof *start + 1);
	memcpy(start, c->limit, c->narrays * sizeof *start);
	uint64_t lo = 1, hi = 0;
	for (size_t i = 0; i < c->narrays; i++)
		hi += start[i];
	while (lo < hi) {
		uint64_t mid = lo + (hi - lo) / 2;
		limits_after(c, start, mid);
		write_context(c, job, out);
		if (out->len <= budget)
			hi = mid;
		else
			lo = mid + 1;
	}
	limits_after(c, start, hi);
	write_context(c, job, out);
	free(start);
}

int context_build(store_txn *t, const struct job *job, const struct deps *d, uint32_t s,
		  uint32_t doc, buf *out, struct context_size *size)
{
	struct ctx c;
	memset(&c, 0, sizeof c);
	c.st = &job->st[s];
	c.need = xcalloc(job->n, sizeof *c.need);
	int rc = 0;
	for (uint32_t k = 0; k < job->n && !rc; k++) {
		if (!(c.st->needs & (1u << k)))
			continue;
		struct needed *nd = &c.need[c.nneed++];
		nd->stage = k;
		size_t cell = (size_t)doc * job->n + k;
		for (uint32_t i = 0; d && doc < d->ndocs && i < d->count[cell] && !rc; i++)
			rc = collect(t, d->first[cell] + i, nd, 0);
	}
	/* the whole, then with top_n, then trimmed to the budget */
	c.first = 1;
	write_context(&c, job, out);
	size_t full = out->len;
	c.first = 0;
	for (size_t i = 0; i < c.narrays; i++)
		if (c.cut[i] && c.st->top_n && c.items[i] > (uint64_t)c.st->top_n)
			c.limit[i] = (uint32_t)c.st->top_n;
	write_context(&c, job, out);
	uint64_t budget = (uint64_t)c.st->token_budget * BYTES_PER_TOKEN;
	if (budget && out->len > budget)
		trim_to(&c, job, out, budget);
	size->tokens = (uint32_t)(out->len / BYTES_PER_TOKEN);
	size->trimmed = (uint32_t)((full - out->len) / BYTES_PER_TOKEN);
	for (size_t i = 0; i < c.nneed; i++) {
		for (size_t a = 0; a < c.need[i].n; a++)
			json_free(c.need[i].answers[a]);
		free(c.need[i].answers);
	}
	free(c.need);
	free(c.items);
	free(c.limit);
	free(c.cut);
	return rc;
}
