/* rowreport.c: the summary of a run over rows (rowreport.h): the rows' fates as rowtally.c
 * counts them, then one pass over the rows in input order for the answers' values and the
 * scores. */
#include "rowreport.h"
#include "rowcolumns.h"
#include "../common/log.h"
#include "../common/util.h"

#include <stdlib.h>
#include <string.h>

struct build {
	struct rowreport *r;
	store_txn *t;
	int score; /* the score's index among the kept cells, or -1 */
	buf a, b;
};

/* A cell's score: a whole number from 0 to 10 ("9", " 9 ", "9.0"), or -1. */
static int score_of(const char *s, size_t len)
{
	while (len && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	int v = 0;
	size_t i = 0;
	for (; i < len && i < 3 && s[i] >= '0' && s[i] <= '9'; i++)
		v = v * 10 + (s[i] - '0');
	if (!i)
		return -1;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] == '0'; i++)
			;
	return i == len && v <= 10 ? v : -1;
}

static void count_score(struct build *b, const struct row_view *rv)
{
	struct rowreport *r = b->r;
	int v = b->score >= 0 && (size_t)b->score < rv->ncells ?
			score_of(rv->cell[b->score], rv->cell_len[b->score]) : -1;
	if (v < 0)
		r->unscored++;
	else if (v >= 9)
		r->promoters++;
	else if (v >= 7)
		r->passives++;
	else
		r->detractors++;
}

static void count_value(const struct rowfield *f, struct field_sum *s, const json *v, buf *tmp)
{
	buf_reset(tmp);
	rowfield_text(v, tmp);
	int i = rowfield_value(f, buf_cstr(tmp));
	if (i < 0)
		s->other++;
	else
		s->count[i]++;
}

/* Whether an element of arr before e has e's value (a row counts a value once). */
static int said_before(const json *arr, const json *e, buf *x, buf *y)
{
	buf_reset(y);
	rowfield_text(e, y);
	for (const json *p = json_first(arr); p != e; p = json_next(p)) {
		buf_reset(x);
		rowfield_text(p, x);
		if (x->len == y->len && !memcmp(x->data, y->data, x->len))
			return 1;
	}
	return 0;
}

static void sum_number(struct field_sum *s, const json *v)
{
	enum json_kind k = json_kind(v);
	if (k != J_NUMBER) {
		if (k == J_INVALID || k == J_NULL)
			s->missing++;
		else
			s->other++;
		return;
	}
	double d = json_number(v);
	if (!s->n || d < s->min)
		s->min = d;
	if (!s->n || d > s->max)
		s->max = d;
	s->sum += d;
	s->n++;
}

static void sum_field(struct build *b, const struct rowfield *f, struct field_sum *s,
		      const json *v)
{
	enum json_kind k = json_kind(v);
	if (f->kind == RF_NUMBER && !f->array)
		sum_number(s, v);
	if (f->kind != RF_ENUM && f->kind != RF_BOOL)
		return;
	if (k == J_INVALID || k == J_NULL || (k == J_ARRAY && !json_first(v)))
		s->missing++;
	else if (!f->array || k != J_ARRAY)
		count_value(f, s, v, &b->a);
	else
		for (const json *e = json_first(v); e; e = json_next(e))
			if (!said_before(v, e, &b->a, &b->b))
				count_value(f, s, e, &b->a);
}

static void stage_row(struct build *b, struct stage_sum *ss, uint32_t s, uint32_t chunk)
{
	const char *text;
	size_t len;
	json *item = NULL;
	if (!row_answer_get(b->t, s, chunk, &text, &len))
		item = json_parse(text, len, NULL, 0);
	if (!item)
		return;
	ss->rows_answered++;
	for (size_t i = 0; i < ss->fields.n; i++)
		sum_field(b, &ss->fields.f[i], &ss->sum[i], rowfield_get(&ss->fields.f[i], item));
	json_free(item);
}

static int on_row(const struct row_view *rv, void *arg)
{
	struct build *b = arg;
	struct rowreport *r = b->r;
	count_score(b, rv);
	for (uint32_t s = 0; rv->chunk != ROW_NO_TEXT && s < r->nstages; s++)
		stage_row(b, &r->st[s], s, rv->chunk);
	return 0;
}

/* The stages' fields and counters, and where the score is. */
static int prepare(struct build *b, const struct job *job, const struct config *cfg, char *err,
		   size_t errlen)
{
	struct rowreport *r = b->r;
	struct row_counters ctr[JOB_MAX_STAGES];
	struct row_tally tally[JOB_MAX_STAGES];
	row_counters_read(b->t, ctr, job->n);
	if (row_tally(b->t, job, tally, NULL)) {
		snprintf(err, errlen, "the run's rows or batches cannot be read");
		return -1;
	}
	r->st = xcalloc(job->n ? job->n : 1, sizeof *r->st);
	r->nstages = job->n;
	for (size_t s = 0; s < job->n; s++) {
		struct stage_sum *ss = &r->st[s];
		ss->st = &job->st[s];
		ss->ctr = ctr[s];
		ss->tally = tally[s];
		if (rowfields_load(&ss->fields, ss->st, err, errlen))
			return -1;
		ss->sum = xcalloc(ss->fields.n ? ss->fields.n : 1, sizeof *ss->sum);
		for (size_t i = 0; i < ss->fields.n; i++)
			ss->sum[i].count = xcalloc(ss->fields.f[i].nvalues + 1, sizeof(uint64_t));
	}
	b->score = -1;
	struct row_columns cols;
	if (cfg->report_score_column && !row_columns_read(b->t, &cols, err, errlen)) {
		b->score = row_columns_keep_index(&cols, cfg->report_score_column);
		row_columns_free(&cols);
	}
	r->score_column = cfg->report_score_column ? xstrdup(cfg->report_score_column) : NULL;
	r->score_kept = b->score >= 0;
	err[0] = '\0';
	return 0;
}

int rowreport_build(struct rowreport *r, store_txn *t, const struct job *job,
		    const struct config *cfg, char *err, size_t errlen)
{
	memset(r, 0, sizeof *r);
	if (!job->rows) {
		snprintf(err, errlen, "the run has no stage over rows (its inputs are not tables)");
		return -1;
	}
	r->job = job;
	struct build b = { .r = r, .t = t };
	buf_init(&b.a);
	buf_init(&b.b);
	rows_plan_read(t, &r->plan);
	int rc = prepare(&b, job, cfg, err, errlen);
	if (!rc && rows_each(t, on_row, &b)) {
		snprintf(err, errlen, "a row record of the run does not parse");
		rc = -1;
	}
	buf_free(&b.a);
	buf_free(&b.b);
	return rc;
}

void rowreport_free(struct rowreport *r)
{
	for (size_t s = 0; s < r->nstages; s++) {
		struct stage_sum *ss = &r->st[s];
		for (size_t i = 0; ss->sum && i < ss->fields.n; i++)
			free(ss->sum[i].count);
		free(ss->sum);
		rowfields_free(&ss->fields);
	}
	free(r->st);
	free((char *)r->score_column);
	memset(r, 0, sizeof *r);
}
