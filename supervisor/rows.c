/* rows.c: per-row answers and their counters (rows.h). */
#include "rows.h"
#include "../common/hash.h"
#include "../common/items.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/rowtext.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

/* What shapes one row's answer besides its text. */
static void row_settings(const struct stage *st, unsigned char out[HASH_LEN])
{
	buf s;
	buf_init(&s);
	buf_printf(&s, "kgsup row v1\n%s\n%.17g\n", st->model, st->temperature);
	buf_put(&s, st->system, strlen(st->system) + 1);
	buf_put(&s, st->user, strlen(st->user) + 1);
	buf_put(&s, st->schema, strlen(st->schema) + 1);
	buf_put(&s, st->item_key, strlen(st->item_key) + 1);
	hash_once(s.data, s.len, out);
	buf_free(&s);
}

void rows_init(struct rows *r, const struct job *job, const struct row_counters *c)
{
	memset(r, 0, sizeof *r);
	r->job = job;
	memcpy(r->ctr, c, job->n * sizeof *c);
	for (size_t i = 0; i < job->n; i++)
		if (job->st[i].over == OVER_ROWS)
			row_settings(&job->st[i], r->settings[i]);
	buf_init(&r->norm);
	buf_init(&r->item);
	buf_init(&r->ids);
}

void rows_free(struct rows *r)
{
	buf_free(&r->norm);
	buf_free(&r->item);
	buf_free(&r->ids);
	free(r->asked);
	row_twins_free(&r->twins);
}

void rows_count(struct rows *r, store *db)
{
	if (!r->job->rows)
		return;
	store_txn *t = store_begin(db, 0);
	int rc = t ? row_tally(t, r->job, r->tally, &r->twins) : -1;
	store_abort(t);
	memcpy(r->rtally, r->tally, sizeof r->tally);
	r->counted = !rc;
	if (rc) /* only the progress lines need them: a store not read is the run's to find */
		log_warn("cannot read the rows back from the store to count them: the progress "
			 "lines leave them out");
}

void rows_round_begin(struct rows *r)
{
	memcpy(r->rctr, r->ctr, sizeof r->ctr);
	memcpy(r->rtally, r->tally, sizeof r->tally);
}

void rows_commit(struct rows *r)
{
	memcpy(r->ctr, r->rctr, sizeof r->ctr);
	memcpy(r->tally, r->rtally, sizeof r->tally);
}

static int failed_state(unsigned s)
{
	return s == B_FAILED || s == B_BLOCKED;
}

/* A text of a stage answered now, by a call or the cache, in a batch of state bstate: its rows
 * leave the failed or the to do (status counts its rows but the first as duplicates). */
static void settled(struct rows *r, uint32_t stage, uint32_t chunk, int from, unsigned bstate)
{
	if (!r->counted)
		return;
	struct row_tally *o = &r->rtally[stage];
	uint32_t n = row_twins_rows(&r->twins, chunk);
	*(from == ROW_BY_CACHE ? &o->cached : &o->answered) += 1;
	o->duplicates += n - 1;
	*(failed_state(bstate) ? &o->failed : &o->pending) -= n;
}

int rows_moved(struct rows *r, store_txn *t, uint32_t stage, const struct batch_rec *b,
	       unsigned from, unsigned to)
{
	if (!r->counted || failed_state(from) == failed_state(to))
		return 0;
	uint64_t n = 0;
	for (uint32_t i = 0; i < b->nchunks; i++) {
		uint32_t chunk;
		const char *a;
		size_t len;
		if (row_ask_get(t, stage, b->first_chunk + i, &chunk))
			return STORE_ERROR;
		if (row_answer_get(t, stage, chunk, &a, &len))
			n += row_twins_rows(&r->twins, chunk);
	}
	struct row_tally *o = &r->rtally[stage];
	if (failed_state(to))
		o->failed += n, o->pending -= n;
	else
		o->failed -= n, o->pending += n;
	return 0;
}

int rows_round_end(struct rows *r, store_txn *t)
{
	if (!memcmp(r->rctr, r->ctr, sizeof r->ctr))
		return 0;
	return row_counters_write(t, r->rctr, r->job->n) ? STORE_FULL : 0;
}

void rows_reasked(struct rows *r, uint32_t stage, uint32_t n)
{
	r->rctr[stage].reasked += n;
}

/* The per-row cache key of a text (chunk) for a stage; its record's row id in *row. */
static int text_key(struct rows *r, store_txn *t, uint32_t stage, uint32_t chunk,
		    unsigned char key[HASH_LEN], uint32_t *row)
{
	const void *v;
	size_t n;
	struct chunk_rec c;
	if (record_get(t, DB_CHUNKS, chunk, &v, &n) || n < sizeof c)
		return -1;
	memcpy(&c, v, sizeof c);
	*row = c.index;
	buf_reset(&r->norm);
	buf_put(&r->norm, r->settings[stage], HASH_LEN);
	rowtext_normalize((const char *)v + sizeof c, n - sizeof c, &r->norm);
	hash_once(r->norm.data, r->norm.len, key);
	return 0;
}

/* 1 when the per-row cache answers the text (its answer is kept now), 0 when it does not,
 * STORE_FULL. */
static int from_cache(struct rows *r, struct cache *c, store_txn *t, uint32_t stage,
		      uint32_t chunk, unsigned bstate)
{
	const char *a;
	size_t len;
	unsigned char key[HASH_LEN];
	uint32_t row;
	if (text_key(r, t, stage, chunk, key, &row) || cache_row_find(c, t, key, &a, &len))
		return 0;
	buf_reset(&r->item);
	buf_put(&r->item, a, len); /* (a is the shared cache's: copy before writing) */
	if (row_answer_put(t, stage, chunk, ROW_BY_CACHE, r->item.data, r->item.len))
		return STORE_FULL;
	r->rctr[stage].cached++;
	settled(r, stage, chunk, ROW_BY_CACHE, bstate);
	return 1;
}

int rows_plan_text(struct rows *r, struct cache *c, store_txn *t, uint32_t stage, uint32_t chunk)
{
	return from_cache(r, c, t, stage, chunk, B_PENDING);
}

int rows_prepare(struct rows *r, struct cache *c, store_txn *t, uint32_t stage,
		 const struct batch_rec *b, uint32_t *left)
{
	*left = 0;
	for (uint32_t i = 0; i < b->nchunks; i++) {
		uint32_t chunk;
		const char *a;
		size_t len;
		if (row_ask_get(t, stage, b->first_chunk + i, &chunk) ||
		    !row_answer_get(t, stage, chunk, &a, &len))
			continue;
		int got = from_cache(r, c, t, stage, chunk, b->state);
		if (got == STORE_FULL)
			return STORE_FULL;
		*left += !got;
	}
	return 0;
}

/* The texts of batch b still unanswered, with the ids they go by. */
static int asked_texts(struct rows *r, store_txn *t, uint32_t stage, const struct batch_rec *b)
{
	r->nasked = 0;
	for (uint32_t i = 0; i < b->nchunks; i++) {
		uint32_t chunk;
		const char *a;
		size_t len;
		if (row_ask_get(t, stage, b->first_chunk + i, &chunk))
			return -1;
		if (!row_answer_get(t, stage, chunk, &a, &len))
			continue;
		const void *v;
		size_t n;
		struct chunk_rec c;
		struct row_view rv;
		if (record_get(t, DB_CHUNKS, chunk, &v, &n) || n < sizeof c)
			return -1;
		memcpy(&c, v, sizeof c);
		if (row_read(t, c.index, &rv))
			return -1;
		r->asked = xgrow(r->asked, &r->capasked, r->nasked, sizeof *r->asked, 64);
		r->asked[r->nasked++] = (struct asked){ rv.id, rv.idlen, chunk, 0 };
	}
	return 0;
}

/* Whether asked id a reads as the number d ("007" as 7). */
static int reads_as(const struct asked *a, double d)
{
	char tmp[64], *end;
	if (a->idlen >= sizeof tmp)
		return 0;
	memcpy(tmp, a->id, a->idlen);
	tmp[a->idlen] = '\0';
	return strtod(tmp, &end) == d && end != tmp && !*end;
}

/* The text an item answers: the one asked under its id; an id given as a number (a schema
 * that says ids are integers) is the first unanswered one that reads as that number, as its
 * text may have lost leading zeros or digits a double does not hold. NULL: none. */
static struct asked *find_asked(struct rows *r, const json *item, const char *key)
{
	const json *v = json_get(item, key);
	const char *id = json_string(v);
	struct asked *first = NULL;
	for (size_t i = 0; i < r->nasked; i++) {
		struct asked *a = &r->asked[i];
		int same = id ? a->idlen == strlen(id) && !memcmp(a->id, id, a->idlen) :
				json_kind(v) == J_NUMBER && reads_as(a, json_number(v));
		if (same && (!a->got || id))
			return a;
		if (same && !first)
			first = a;
	}
	return first;
}

/* Keeps item as the answer of text a, and in the per-row cache. */
static int keep_item(struct rows *r, struct cache *c, store_txn *t, uint32_t stage,
		     unsigned bstate, struct asked *a, const json *item)
{
	unsigned char key[HASH_LEN];
	uint32_t row;
	buf_reset(&r->item);
	json_write(item, &r->item);
	if (row_answer_put(t, stage, a->chunk, ROW_BY_CALL, r->item.data, r->item.len))
		return STORE_FULL;
	a->got = 1;
	r->rctr[stage].answered++;
	settled(r, stage, a->chunk, ROW_BY_CALL, bstate);
	if (text_key(r, t, stage, a->chunk, key, &row))
		return 0;
	return cache_row_put(c, t, key, r->item.data, r->item.len);
}

int rows_answer(struct rows *r, struct cache *c, store_txn *t, uint32_t stage,
		const struct batch_rec *b, const char *answer, size_t len, uint32_t *missing,
		buf *why)
{
	*missing = 0;
	buf_reset(why);
	if (asked_texts(r, t, stage, b))
		return 0; /* the store lacks what was asked: the batch is answered as it is */
	const char *key = r->job->st[stage].item_key;
	json *root = json_parse(answer, len, NULL, 0);
	const json *items = root ? items_in_answer(root, key) : NULL;
	int rc = 0;
	for (const json *it = json_first(items); it && !rc; it = json_next(it)) {
		struct asked *a = json_kind(it) == J_OBJECT ? find_asked(r, it, key) : NULL;
		if (!a || a->got)
			r->rctr[stage].dropped++;
		else
			rc = keep_item(r, c, t, stage, b->state, a, it);
	}
	json_free(root);
	for (size_t i = 0; i < r->nasked && !rc; i++) {
		if (r->asked[i].got)
			continue;
		if ((*missing)++ < 5)
			buf_printf(why, "%s%.*s", *missing > 1 ? ", " : "", (int)r->asked[i].idlen,
				   r->asked[i].id);
	}
	return rc;
}

void rows_brief(buf *b, const struct rows *r, int wide)
{
	for (size_t i = 0; r->counted && i < r->job->n; i++) {
		const struct row_tally *o = &r->tally[i];
		const char *name = r->job->st[i].name;
		if (r->job->st[i].over != OVER_ROWS)
			continue;
		if (wide)
			buf_printf(b, " %s %llu rows: %llu answered, %llu from the cache, %llu duplicates, "
				   "%llu skipped, %llu failed, %llu to do", name,
				   (unsigned long long)o->rows, (unsigned long long)o->answered,
				   (unsigned long long)o->cached, (unsigned long long)o->duplicates,
				   (unsigned long long)o->skipped, (unsigned long long)o->failed,
				   (unsigned long long)o->pending);
		else
			buf_printf(b, " %s %llu/%llu rows, %llu failed, %llu cached, %llu skipped", name,
				   (unsigned long long)(o->answered + o->cached + o->duplicates +
							o->skipped),
				   (unsigned long long)o->rows, (unsigned long long)o->failed,
				   (unsigned long long)o->cached, (unsigned long long)o->skipped);
	}
}
