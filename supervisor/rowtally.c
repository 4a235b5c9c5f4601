/* rowtally.c: rows counted by what became of them (rowtally.h). */
#include "rowtally.h"
#include "rowstore.h"
#include "runstate.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

/* The texts of failed and blocked batches, as stage << 32 | chunk, sorted. */
struct failed {
	uint64_t *v;
	size_t n, cap;
};

static int by_value(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return x < y ? -1 : x > y;
}

static int failed_texts(store_txn *t, struct failed *f)
{
	store_iter *it = store_iter_open(t, DB_BATCHES, NULL, 0);
	if (!it)
		return STORE_ERROR;
	const void *k, *v;
	size_t kl, vl;
	struct batch_rec b;
	while (store_iter_next(it, &k, &kl, &v, &vl)) {
		if (kl != 4 || vl < sizeof b)
			continue;
		memcpy(&b, v, sizeof b);
		if (b.state != B_FAILED && b.state != B_BLOCKED)
			continue;
		struct batch_ext x;
		batchx_read(t, rd_u32be(k), &x);
		for (uint32_t i = 0; i < b.nchunks; i++) {
			uint32_t chunk;
			if (row_ask_get(t, x.stage, b.first_chunk + i, &chunk))
				continue;
			f->v = xgrow(f->v, &f->cap, f->n, sizeof *f->v, 64);
			f->v[f->n++] = (uint64_t)x.stage << 32 | chunk;
		}
	}
	store_iter_close(it);
	if (f->n)
		qsort(f->v, f->n, sizeof *f->v, by_value);
	return 0;
}

static int in_failed(const struct failed *f, uint32_t stage, uint32_t chunk)
{
	uint64_t key = (uint64_t)stage << 32 | chunk;
	return f->n && bsearch(&key, f->v, f->n, sizeof *f->v, by_value) != NULL;
}

struct tally_arg {
	store_txn *t;
	const struct job *job;
	struct row_tally *out;
	struct failed failed;
	unsigned char *seen; /* bit per chunk: an earlier row has its text */
	size_t capseen;
	struct row_twins *twins; /* NULL, or the chunks of rows an earlier row has the text of */
};

static int tally_row(const struct row_view *r, void *arg)
{
	struct tally_arg *a = arg;
	int twin = 0;
	if (r->chunk != ROW_NO_TEXT) {
		size_t byte = r->chunk / 8;
		if (byte >= a->capseen) {
			size_t cap = byte * 2 + 64;
			a->seen = xrealloc(a->seen, cap);
			memset(a->seen + a->capseen, 0, cap - a->capseen);
			a->capseen = cap;
		}
		twin = a->seen[byte] >> (r->chunk % 8) & 1;
		a->seen[byte] |= (unsigned char)(1u << (r->chunk % 8));
	}
	if (twin && a->twins) {
		struct row_twins *tw = a->twins;
		tw->v = xgrow(tw->v, &tw->cap, tw->n, sizeof *tw->v, 64);
		tw->v[tw->n++] = (struct twin){ r->chunk, 1 };
	}
	for (uint32_t s = 0; s < a->job->n; s++) {
		struct row_tally *o = &a->out[s];
		if (a->job->st[s].over != OVER_ROWS)
			continue;
		o->rows++;
		const char *json;
		size_t len;
		int from;
		if (r->chunk == ROW_NO_TEXT)
			o->skipped++;
		else if (!row_answer_from(a->t, s, r->chunk, &json, &len, &from))
			*(twin ? &o->duplicates : from == ROW_BY_CACHE ? &o->cached : &o->answered) += 1;
		else if (in_failed(&a->failed, s, r->chunk))
			o->failed++;
		else
			o->pending++;
	}
	return 0;
}

static int by_chunk(const void *a, const void *b)
{
	uint32_t x = ((const struct twin *)a)->chunk, y = ((const struct twin *)b)->chunk;
	return x < y ? -1 : x > y;
}

/* One entry a chunk (the rows an earlier row had the text of, one each, become its count). */
static void twins_merge(struct row_twins *tw)
{
	if (!tw->n)
		return;
	qsort(tw->v, tw->n, sizeof *tw->v, by_chunk);
	size_t k = 0;
	for (size_t i = 0; i < tw->n; i++) {
		if (k && tw->v[k - 1].chunk == tw->v[i].chunk)
			tw->v[k - 1].rows++;
		else
			tw->v[k++] = (struct twin){ tw->v[i].chunk, 2 }; /* and the first row */
	}
	tw->n = k;
}

int row_tally(store_txn *t, const struct job *job, struct row_tally *out, struct row_twins *twins)
{
	memset(out, 0, job->n * sizeof *out);
	if (twins)
		twins->n = 0;
	if (!job->rows)
		return 0;
	struct tally_arg a = { t, job, out, { NULL, 0, 0 }, NULL, 0, twins };
	int rc = failed_texts(t, &a.failed);
	if (!rc)
		rc = rows_each(t, tally_row, &a);
	if (twins)
		twins_merge(twins);
	free(a.failed.v);
	free(a.seen);
	return rc;
}

uint32_t row_twins_rows(const struct row_twins *tw, uint32_t chunk)
{
	struct twin key = { chunk, 0 };
	const struct twin *e = tw->n ? bsearch(&key, tw->v, tw->n, sizeof *tw->v, by_chunk) : NULL;
	return e ? e->rows : 1;
}

void row_twins_free(struct row_twins *tw)
{
	free(tw->v);
	memset(tw, 0, sizeof *tw);
}

#define TALLY_FIELDS(X)                                                                   \
	X(rows, "rows") X(answered, "answered") X(cached, "from_cache")                   \
	X(duplicates, "duplicates") X(skipped, "skipped") X(failed, "failed")             \
	X(pending, "pending")

void row_tally_json(buf *b, const struct job *job, const struct row_tally *v)
{
	buf_putc(b, '{');
	int first = 1;
	for (size_t s = 0; s < job->n; s++) {
		if (job->st[s].over != OVER_ROWS)
			continue;
		buf_puts(b, first ? "" : ",");
		first = 0;
		buf_json_str(b, job->st[s].name, strlen(job->st[s].name));
		const char *sep = ":{";
#define TALLY_JSON(f, name)                                                               \
		buf_printf(b, "%s\"" name "\":%llu", sep, (unsigned long long)v[s].f);    \
		sep = ",";
		TALLY_FIELDS(TALLY_JSON)
#undef TALLY_JSON
		buf_putc(b, '}');
	}
	buf_putc(b, '}');
}

void row_tally_text(buf *b, const struct job *job, const struct row_tally *v)
{
	for (size_t s = 0; s < job->n; s++) {
		const struct row_tally *o = &v[s];
		if (job->st[s].over != OVER_ROWS)
			continue;
		buf_printf(b, "  %-14s %llu rows: %llu answered, %llu from the cache, %llu duplicates "
			   "of another row, %llu skipped (empty text), %llu failed, %llu to do\n",
			   job->st[s].name, (unsigned long long)o->rows,
			   (unsigned long long)o->answered, (unsigned long long)o->cached,
			   (unsigned long long)o->duplicates, (unsigned long long)o->skipped,
			   (unsigned long long)o->failed, (unsigned long long)o->pending);
	}
}
