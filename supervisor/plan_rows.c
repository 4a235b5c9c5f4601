/* plan_rows.c: a table's rows into the plan. A first reading chooses the columns (columns.h),
 * a second records every row (rowstore.h) and makes each distinct text a chunk, which the
 * stages over rows then group per_call at a time like chunks. Texts are told apart by their
 * normal form (rowtext.h), and row ids and texts seen are looked up in the store (DB_TEXTS,
 * under keys of their own), so memory does not grow with the table. */
#include "plan_impl.h"
#include "../common/chunk.h"
#include "../common/columns.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/rowtext.h"
#include "../common/sig.h"
#include "../common/table.h"
#include "../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ROW_ID_KEY_MAX 400 /* LMDB keys are at most 511 bytes */

struct table_plan {
	struct planner *pl;
	const char *path;
	uint32_t source;
	struct column_stats stats;
	struct column_choice ch;
	const char *id_name; /* the id column's name, NULL when rows are numbered */
	int header_seen;
	uint64_t rownum; /* data rows of this table so far */
	size_t text_max; /* bytes of a text a call can hold (a stage's max_input_tokens / per_call) */
	uint64_t cut, first_cut; /* texts cut to text_max, and the line of the first */
	buf norm, rec;
};

static int store_failed(struct planner *pl)
{
	snprintf(pl->err, pl->errlen, "store: %s", store_strerror(pl->db));
	return -1;
}

/* -1 with "FILE:LINE: row id "ID" seen before at line FIRST" when the table has had this id
 * before. (Without a store the plan only makes the fingerprint of a run planned before: its
 * ids were checked then.) */
static int check_id(struct table_plan *tp, const struct row_view *r)
{
	struct planner *pl = tp->pl;
	if (!pl->db)
		return 0;
	/* keyed by the id itself where it fits (ids mostly come in order: their keys go in at one
	 * end of the tree, where random keys would each dirty a page of their own), else by its
	 * hash; either way apart from the texts' 32-byte keys */
	unsigned char k[5 + ROW_ID_KEY_MAX];
	size_t klen = 5;
	k[0] = 'i';
	wr_u32be(k + 1, tp->source);
	if (r->idlen <= ROW_ID_KEY_MAX && r->idlen + 5 != HASH_LEN) {
		memcpy(k + 5, r->id, r->idlen);
		klen += r->idlen;
	} else {
		k[0] = 'h';
		hash_once(r->id, r->idlen, k + 5);
		klen += HASH_LEN;
	}
	const void *v;
	size_t n;
	if (!store_get(pl->txn, DB_TEXTS, k, klen, &v, &n) && n == sizeof(uint64_t)) {
		uint64_t first;
		memcpy(&first, v, sizeof first);
		int shown = r->idlen > 200 ? 200 : (int)r->idlen; /* an id is meant to be short */
		snprintf(pl->err, pl->errlen, "%s:%llu: row id \"%.*s%s\" seen before at line %llu "
			 "(input.id_column \"#\" numbers the rows instead)",
			 tp->path, (unsigned long long)r->line, shown, r->id,
			 (size_t)shown < r->idlen ? "..." : "", (unsigned long long)first);
		return -1;
	}
	return store_put(pl->txn, DB_TEXTS, k, klen, &r->line, sizeof r->line) ?
		       store_failed(pl) : 0;
}

/* The chunk of the row's text: the one an earlier row with the same normal form made, or a
 * new one. */
static int text_chunk(struct table_plan *tp, const char *text, size_t len, struct row_view *r)
{
	struct planner *pl = tp->pl;
	unsigned char h[HASH_LEN];
	hash_ctx *hc = hash_new();
	hash_update(hc, "row text\n", 9);
	hash_update(hc, tp->norm.data, tp->norm.len);
	hash_final(hc, h);
	hash_update(pl->fp, h, HASH_LEN);
	uint32_t next = pl->plan.nchunks;
	const void *v;
	size_t n;
	if (!pl->db)
		r->chunk = next; /* (only the fingerprint: see check_id) */
	else if (!store_get(pl->txn, DB_TEXTS, h, HASH_LEN, &v, &n) && n == 4)
		r->chunk = rd_u32be(v);
	else
		r->chunk = next;
	if (r->chunk != next) {
		pl->rows.duplicates++;
		return 0;
	}
	pl->plan.nchunks++;
	struct doc_span *sp = &pl->spans.v[pl->spans.n - 1];
	sp->nchunks++;
	sp->bytes += len;
	pl->txn_bytes += len;
	if (!pl->db)
		return 0;
	struct chunk_rec c;
	memset(&c, 0, sizeof c);
	c.source = tp->source;
	c.index = r->n; /* the row whose id the text goes by */
	char hex[HASH_LEN * 2 + 1];
	hash_hex(h, CHUNK_ID_LEN / 2, hex);
	memcpy(c.id, hex, CHUNK_ID_LEN);
	buf_reset(&tp->rec);
	buf_put(&tp->rec, &c, sizeof c);
	buf_put(&tp->rec, text, len);
	unsigned char k[4];
	wr_u32be(k, next);
	if (store_put(pl->txn, DB_TEXTS, h, HASH_LEN, k, 4) ||
	    store_put(pl->txn, DB_CHUNKS, k, 4, tp->rec.data, tp->rec.len))
		return store_failed(pl);
	return 0;
}

static int row_id(struct table_plan *tp, const struct table_row *row, struct row_view *r,
		  char *num, size_t numlen)
{
	if (tp->ch.id_col < 0) {
		snprintf(num, numlen, "%llu", (unsigned long long)tp->rownum);
		r->id = num;
		r->idlen = strlen(num);
		return 0;
	}
	r->id = row->cells[tp->ch.id_col];
	r->idlen = row->lens[tp->ch.id_col];
	while (r->idlen && (r->id[0] == ' ' || r->id[0] == '\t'))
		r->id++, r->idlen--;
	while (r->idlen && (r->id[r->idlen - 1] == ' ' || r->id[r->idlen - 1] == '\t'))
		r->idlen--;
	if (r->idlen && !memchr(r->id, '\n', r->idlen) && !memchr(r->id, ']', r->idlen))
		return 0;
	snprintf(tp->pl->err, tp->pl->errlen, "%s:%llu: %s row id (column \"%s\")", tp->path,
		 (unsigned long long)r->line, r->idlen ? "a line break or ']' in the" : "an empty",
		 tp->id_name);
	return -1;
}

/* The bytes of a text that are asked: all, or as much as a call holds beside the others, cut
 * at a character's start, so one pasted-in log cannot make its whole batch too long to ask. */
static size_t cut_text(struct table_plan *tp, const char *text, size_t len, uint64_t line)
{
	if (len <= tp->text_max)
		return len;
	if (!tp->cut++)
		tp->first_cut = line;
	size_t n = tp->text_max;
	while (n && ((unsigned char)text[n] & 0xc0) == 0x80)
		n--;
	return n;
}

/* The least of the rows stages' max_input_tokens / per_call, in bytes. */
static size_t text_max(const struct job *job)
{
	size_t max = SIZE_MAX;
	for (size_t s = 0; s < job->n; s++) {
		const struct stage *st = &job->st[s];
		size_t n = (size_t)st->max_input_tokens * BYTES_PER_TOKEN / (size_t)st->per_call;
		if (st->over == OVER_ROWS && n < max)
			max = n;
	}
	return max;
}

/* A stop while a huge table is read ends the plan at once (nothing of it is kept). */
static int stopped(struct planner *pl)
{
	if (!sig_stop_requested())
		return 0;
	snprintf(pl->err, pl->errlen, "stopped while planning (nothing of this plan is kept; "
		 "kgsup start plans afresh)");
	return 1;
}

/* The first reading: column statistics (columns.h). */
static int stats_row(const struct table_row *row, void *arg)
{
	struct table_plan *tp = arg;
	return stopped(tp->pl) ? -1 : column_stats_row(row, &tp->stats);
}

static int on_row(const struct table_row *row, void *arg)
{
	struct table_plan *tp = arg;
	struct planner *pl = tp->pl;
	if (!tp->header_seen++)
		return 0;
	if (stopped(pl))
		return -1;
	tp->rownum++;
	if (planner_txn(pl))
		return -1;
	struct row_view r;
	char num[24];
	r.n = (uint32_t)pl->rows.rows++;
	r.source = tp->source;
	r.line = row->line;
	if (row_id(tp, row, &r, num, sizeof num) || check_id(tp, &r))
		return -1;
	hash_update(pl->fp, r.id, r.idlen);
	hash_update(pl->fp, "\n", 1);
	size_t tc = (size_t)tp->ch.text_col;
	buf_reset(&tp->norm);
	rowtext_normalize(row->cells[tc], row->lens[tc], &tp->norm);
	if (!tp->norm.len) {
		r.chunk = ROW_NO_TEXT;
		pl->rows.skipped++;
	} else if (text_chunk(tp, row->cells[tc], cut_text(tp, row->cells[tc], row->lens[tc], r.line),
			      &r)) {
		return -1;
	}
	r.ncells = tp->ch.nkeep;
	for (size_t i = 0; i < r.ncells; i++) {
		size_t c = tp->ch.keep[i];
		r.cell[i] = c == COLUMN_NONE ? "" : row->cells[c];
		r.cell_len[i] = c == COLUMN_NONE ? 0 : row->lens[c];
		hash_update(pl->fp, r.cell[i], r.cell_len[i] + 1);
	}
	if (pl->db && row_write(pl->txn, &r, &tp->rec))
		return store_failed(pl);
	if (++pl->txn_chunks >= PLAN_TXN_CHUNKS || pl->txn_bytes >= PLAN_TXN_BYTES)
		return planner_commit(pl);
	return 0;
}

static int in_list(const json *list, const char *name)
{
	for (const json *e = json_first(list); e; e = json_next(e))
		if (json_string(e) && !strcmp(json_string(e), name))
			return 1;
	return 0;
}

/* The job's column settings; with no input.keep_columns every column of the first table but
 * the id and the text is kept (at most ROW_MAX_KEEP), and the same ones of later tables (empty
 * where one has none), and a report's score column always is. */
static int choose(struct table_plan *tp, const struct column_stats *st)
{
	struct planner *pl = tp->pl;
	const struct config *cfg = pl->cfg;
	const char *keep[ROW_MAX_KEEP + 1], *keys[ROW_MAX_KEEP + 1] = { 0 };
	struct column_spec spec = { cfg->input_id_column, cfg->input_text_column, keep, 0, keys, 0 };
	json *list = cfg->input_keep_columns ?
			     json_parse(cfg->input_keep_columns, strlen(cfg->input_keep_columns), NULL, 0) :
			     NULL;
	size_t listed = 0, left_out = 0;
	for (const json *e = json_first(list); e; e = json_next(e), listed++)
		if (spec.nkeep < ROW_MAX_KEEP)
			keep[spec.nkeep++] = json_string(e);
	const char *score = cfg->report_score_column;
	if (listed + (score && !in_list(list, score)) > ROW_MAX_KEEP) {
		snprintf(pl->err, pl->errlen, "%s: input.keep_columns: %zu columns%s; at most %d are "
			 "kept", cfg->config_file ? cfg->config_file : "config", listed, score && !in_list(list, score) ? " and report.score_column" : "",
			 ROW_MAX_KEEP);
		json_free(list);
		return -1;
	}
	int rc = columns_choose(tp->path, st, &spec, &tp->ch, pl->err, pl->errlen);
	if (!rc && !list && pl->have_columns) {
		spec.keep_may_lack = 1; /* tables of other shapes: empty cells */
		for (size_t i = 0; i < pl->nfirst_keep; i++)
			keep[spec.nkeep++] = pl->first_keep[i];
	} else if (!rc && !list) {
		for (size_t i = 0; i < st->ncols; i++)
			if ((int)i != tp->ch.id_col && (int)i != tp->ch.text_col && *st->names[i]) {
				if (spec.nkeep < ROW_MAX_KEEP)
					keep[spec.nkeep++] = st->names[i];
				else
					left_out += !score || strcmp(st->names[i], score);
			}
	}
	int has_score = !score;
	for (size_t i = 0; i < spec.nkeep; i++)
		has_score |= !strcmp(keep[i], score ? score : "");
	if (!has_score && spec.nkeep == ROW_MAX_KEEP) { /* (picked: the list was checked above) */
		spec.nkeep--;
		left_out++;
	}
	if (!has_score) {
		keys[spec.nkeep] = "report.score_column";
		keep[spec.nkeep++] = score;
	}
	if (!rc && left_out)
		log_warn("%s: %zu columns past the first %d kept are left out of the exports "
			 "(input.keep_columns names the ones to keep)", tp->path, left_out, ROW_MAX_KEEP);
	if (!rc) {
		column_choice_free(&tp->ch);
		rc = columns_choose(tp->path, st, &spec, &tp->ch, tp->pl->err, tp->pl->errlen);
	}
	json_free(list);
	return rc;
}

/* meta row_columns, from the first table: the names its rows' cells go by. */
static int put_columns(struct table_plan *tp, const struct column_stats *st)
{
	struct planner *pl = tp->pl;
	buf b;
	buf_init(&b);
	buf_puts(&b, "{\"id\":");
	if (tp->ch.id_col < 0)
		buf_puts(&b, "null");
	else
		buf_json_str(&b, st->names[tp->ch.id_col], strlen(st->names[tp->ch.id_col]));
	buf_puts(&b, ",\"text\":");
	buf_json_str(&b, st->names[tp->ch.text_col], strlen(st->names[tp->ch.text_col]));
	buf_puts(&b, ",\"keep\":[");
	for (size_t i = 0; i < tp->ch.nkeep; i++) {
		size_t c = tp->ch.keep[i];
		const char *n = c == COLUMN_NONE ? pl->first_keep[i] : st->names[c];
		if (i)
			buf_putc(&b, ',');
		buf_json_str(&b, n, strlen(n));
	}
	buf_puts(&b, "]}");
	hash_update(pl->fp, b.data, b.len);
	tp->id_name = tp->ch.id_col < 0 ? NULL : st->names[tp->ch.id_col];
	int rc = 0;
	if (!pl->have_columns && !pl->cfg->input_keep_columns) {
		pl->first_keep = xcalloc(tp->ch.nkeep + 1, sizeof *pl->first_keep);
		for (size_t i = 0; i < tp->ch.nkeep; i++)
			pl->first_keep[pl->nfirst_keep++] = xstrdup(st->names[tp->ch.keep[i]]);
	}
	if (!pl->have_columns++ && pl->db)
		rc = planner_txn(pl) || store_put(pl->txn, DB_META, META_ROW_COLUMNS,
						  strlen(META_ROW_COLUMNS), b.data, b.len) ?
			     store_failed(pl) : 0;
	buf_free(&b);
	return rc;
}

/* The table as a source: its path, and its name below the input (what {{document_name}} and
 * exports call it), as documents are kept. */
static int begin_table(struct table_plan *tp)
{
	struct planner *pl = tp->pl;
	const char *name = strlen(tp->path) >= pl->root_len ? tp->path + pl->root_len : tp->path;
	tp->source = pl->plan.nsources++;
	pl->rows.tables++;
	doc_spans_add(&pl->spans, pl->plan.nchunks);
	hash_update(pl->fp, name, strlen(name) + 1);
	if (!pl->db)
		return 0;
	unsigned char k[4], len[4];
	wr_u32be(k, tp->source);
	wr_u32be(len, (uint32_t)strlen(name));
	buf_reset(&tp->rec);
	buf_put(&tp->rec, len, 4);
	buf_puts(&tp->rec, name);
	if (planner_txn(pl) ||
	    store_put(pl->txn, DB_SOURCES, k, 4, tp->path, strlen(tp->path)) ||
	    store_put(pl->txn, DB_DOCS, k, 4, tp->rec.data, tp->rec.len))
		return store_failed(pl);
	return 0;
}

int plan_table(struct planner *pl, const char *path)
{
	struct table *t = table_open(path, pl->cfg->input_sheet, pl->err, pl->errlen);
	if (!t)
		return skip_input(pl, pl->err);
	struct table_plan tp;
	memset(&tp, 0, sizeof tp);
	struct column_stats *st = &tp.stats;
	tp.pl = pl;
	tp.path = path;
	tp.text_max = text_max(pl->job);
	buf_init(&tp.norm);
	buf_init(&tp.rec);
	int rc = table_rows(t, stats_row, &tp, pl->err, pl->errlen);
	if (!rc && !st->rows)
		log_warn("%s: no rows under its header", path);
	if (!rc && st->rows && !(rc = choose(&tp, st))) {
		log_info("%s", tp.ch.desc);
		rc = put_columns(&tp, st);
		if (!rc)
			rc = begin_table(&tp);
		if (!rc)
			rc = table_rows(t, on_row, &tp, pl->err, pl->errlen);
		if (!rc && tp.cut)
			log_warn("%s: %llu texts cut to %zu bytes, the first at line %llu (a call holds "
				 "max_input_tokens / per_call of each)", path,
				 (unsigned long long)tp.cut, tp.text_max,
				 (unsigned long long)tp.first_cut);
	}
	if (rc > 0 && !pl->err[0])
		snprintf(pl->err, pl->errlen, "%s: cannot plan", path);
	column_choice_free(&tp.ch);
	column_stats_free(st);
	buf_free(&tp.norm);
	buf_free(&tp.rec);
	table_close(t);
	return rc ? -1 : 0;
}
