/* rowreport_write.c: the summary of a run over rows (rowreport.h) as JSON and as text. Shares
 * are of the rows answered, as fractions in JSON and percentages in text; rows may hold
 * several values of an array field, so its shares may add up to more than one. */
#include "rowreport.h"
#include "../common/log.h"

#include <string.h>

/* ,"key":v, or null when there is no figure. */
static void put_num(buf *b, const char *key, double v, int known)
{
	buf_printf(b, ",\"%s\":", key);
	if (known)
		buf_printf(b, "%.10g", v);
	else
		buf_puts(b, "null");
}

static double share(uint64_t n, uint64_t of)
{
	return of ? (double)n / (double)of : 0;
}

static const char *kind_name(const struct rowfield *f)
{
	static const char *const names[] = { "text", "enum", "boolean", "number" };
	return names[f->kind];
}

static void field_json(const struct rowfield *f, const struct field_sum *s, uint64_t answered,
		       buf *b)
{
	buf_puts(b, "{\"field\":");
	buf_json_str(b, f->name, strlen(f->name));
	buf_printf(b, ",\"kind\":\"%s\",\"array\":%s", kind_name(f), f->array ? "true" : "false");
	if (f->kind == RF_NUMBER) {
		buf_printf(b, ",\"count\":%llu", (unsigned long long)s->n);
		put_num(b, "min", s->min, s->n > 0);
		put_num(b, "mean", s->n ? s->sum / (double)s->n : 0, s->n > 0);
		put_num(b, "max", s->max, s->n > 0);
	} else {
		buf_puts(b, ",\"values\":[");
		for (size_t i = 0; i < f->nvalues; i++) {
			buf_puts(b, i ? ",{\"value\":" : "{\"value\":");
			buf_json_str(b, f->values[i], strlen(f->values[i]));
			buf_printf(b, ",\"count\":%llu", (unsigned long long)s->count[i]);
			put_num(b, "share", share(s->count[i], answered), 1);
			buf_putc(b, '}');
		}
		buf_putc(b, ']');
	}
	buf_printf(b, ",\"other\":%llu,\"missing\":%llu}", (unsigned long long)s->other,
		   (unsigned long long)s->missing);
}

/* Fields with a set of values or numbers: the ones summarised. */
static int summarised(const struct rowfield *f)
{
	return f->kind == RF_ENUM || f->kind == RF_BOOL || (f->kind == RF_NUMBER && !f->array);
}

/* Texts not answered yet (or failed): what the run counted less what it answered. */
static uint64_t texts_left(const struct row_counters *c)
{
	uint64_t done = c->answered + c->cached;
	return done < c->texts ? c->texts - done : 0;
}

static void stage_json(const struct stage_sum *ss, buf *b)
{
	const struct row_tally *y = &ss->tally;
	const struct row_counters *c = &ss->ctr;
	buf_puts(b, "{\"name\":");
	buf_json_str(b, ss->st->name, strlen(ss->st->name));
	buf_printf(b, ",\"rows\":{\"rows\":%llu,\"answered\":%llu,\"from_cache\":%llu,"
		   "\"duplicates\":%llu,\"skipped\":%llu,\"failed\":%llu,\"pending\":%llu},"
		   "\"texts\":{\"texts\":%llu,\"answered\":%llu,\"from_cache\":%llu,"
		   "\"unanswered\":%llu,\"items_dropped\":%llu,\"asked_again\":%llu},"
		   "\"rows_answered\":%llu,\"fields\":[",
		   (unsigned long long)y->rows, (unsigned long long)y->answered,
		   (unsigned long long)y->cached, (unsigned long long)y->duplicates,
		   (unsigned long long)y->skipped, (unsigned long long)y->failed,
		   (unsigned long long)y->pending, (unsigned long long)c->texts,
		   (unsigned long long)c->answered, (unsigned long long)c->cached,
		   (unsigned long long)texts_left(c), (unsigned long long)c->dropped,
		   (unsigned long long)c->reasked, (unsigned long long)ss->rows_answered);
	int n = 0;
	for (size_t i = 0; i < ss->fields.n; i++)
		if (summarised(&ss->fields.f[i])) {
			if (n++)
				buf_putc(b, ',');
			field_json(&ss->fields.f[i], &ss->sum[i], ss->rows_answered, b);
		}
	buf_puts(b, "]}");
}

static double nps(const struct rowreport *r)
{
	uint64_t scored = r->promoters + r->passives + r->detractors;
	return 100.0 * ((double)r->promoters - (double)r->detractors) / (double)scored;
}

static void nps_json(const struct rowreport *r, buf *b)
{
	buf_puts(b, ",\"nps\":");
	if (!r->score_column) {
		buf_puts(b, "null");
		return;
	}
	uint64_t scored = r->promoters + r->passives + r->detractors;
	buf_puts(b, "{\"column\":");
	buf_json_str(b, r->score_column, strlen(r->score_column));
	buf_printf(b, ",\"kept\":%s,\"scored\":%llu,\"promoters\":%llu,\"passives\":%llu,"
		   "\"detractors\":%llu,\"unscored\":%llu", r->score_kept ? "true" : "false",
		   (unsigned long long)scored, (unsigned long long)r->promoters,
		   (unsigned long long)r->passives, (unsigned long long)r->detractors,
		   (unsigned long long)r->unscored);
	put_num(b, "nps", scored ? nps(r) : 0, scored > 0);
	put_num(b, "nps_0_100", scored ? (nps(r) + 100) / 2 : 0, scored > 0);
	buf_putc(b, '}');
}

void rowreport_json(const struct rowreport *r, buf *b)
{
	buf_printf(b, "{\"tables\":%llu,\"rows\":%llu,\"skipped\":%llu,\"duplicates\":%llu,"
		   "\"stages\":[", (unsigned long long)r->plan.tables,
		   (unsigned long long)r->plan.rows, (unsigned long long)r->plan.skipped,
		   (unsigned long long)r->plan.duplicates);
	for (size_t s = 0; s < r->nstages; s++) {
		if (s)
			buf_putc(b, ',');
		stage_json(&r->st[s], b);
	}
	buf_putc(b, ']');
	nps_json(r, b);
	buf_putc(b, '}');
}

static void field_text(const struct rowfield *f, const struct field_sum *s, uint64_t answered,
		       FILE *out)
{
	fprintf(out, "  %-18s", f->name);
	if (f->kind == RF_NUMBER) {
		if (s->n)
			fprintf(out, "min %g, mean %g, max %g over %llu rows", s->min,
				s->sum / (double)s->n, s->max, (unsigned long long)s->n);
		else
			fprintf(out, "no numbers");
	}
	for (size_t i = 0; f->kind != RF_NUMBER && i < f->nvalues; i++)
		fprintf(out, "%s%s %llu (%.1f%%)", i ? ", " : "", f->values[i],
			(unsigned long long)s->count[i], 100 * share(s->count[i], answered));
	if (s->other)
		fprintf(out, "; %llu other", (unsigned long long)s->other);
	if (s->missing)
		fprintf(out, "; %llu with none", (unsigned long long)s->missing);
	fputc('\n', out);
}

static void stage_text(const struct stage_sum *ss, FILE *out)
{
	const struct row_counters *c = &ss->ctr;
	fprintf(out, "stage      %s: %llu texts: %llu answered by calls, %llu from the cache, %llu "
		"not\n", ss->st->name, (unsigned long long)c->texts,
		(unsigned long long)c->answered, (unsigned long long)c->cached,
		(unsigned long long)texts_left(c));
	for (size_t i = 0; i < ss->fields.n; i++)
		if (summarised(&ss->fields.f[i]))
			field_text(&ss->fields.f[i], &ss->sum[i], ss->rows_answered, out);
}

void rowreport_text(const struct rowreport *r, FILE *out)
{
	fprintf(out, "rows       %llu in %llu tables: %llu skipped (empty text), %llu duplicates "
		"of an earlier row's text\n", (unsigned long long)r->plan.rows,
		(unsigned long long)r->plan.tables, (unsigned long long)r->plan.skipped,
		(unsigned long long)r->plan.duplicates);
	struct row_tally tally[JOB_MAX_STAGES];
	buf b;
	buf_init(&b);
	for (size_t s = 0; s < r->nstages; s++)
		tally[s] = r->st[s].tally;
	row_tally_text(&b, r->job, tally);
	fputs(buf_cstr(&b), out);
	buf_free(&b);
	for (size_t s = 0; s < r->nstages; s++)
		stage_text(&r->st[s], out);
	uint64_t scored = r->promoters + r->passives + r->detractors;
	if (!r->score_column)
		return;
	if (!scored)
		fprintf(out, "nps        none: no row has a score from 0 to 10 in column \"%s\"%s\n",
			r->score_column, r->score_kept ? "" : " (not a kept column)");
	else
		fprintf(out, "nps        %+.1f (%.1f on 0-100) from column \"%s\": %llu promoters "
			"(9-10), %llu passives (7-8), %llu detractors (0-6); %llu rows without a "
			"score\n", nps(r), (nps(r) + 100) / 2, r->score_column,
			(unsigned long long)r->promoters, (unsigned long long)r->passives,
			(unsigned long long)r->detractors, (unsigned long long)r->unscored);
}

int rowreport_write_json(store_txn *t, const struct job *job, const struct config *cfg,
			 buf *out, char *err, size_t errlen)
{
	struct rowreport r;
	int rc = rowreport_build(&r, t, job, cfg, err, errlen);
	if (!rc)
		rowreport_json(&r, out);
	rowreport_free(&r);
	return rc;
}

void rowreport_member(store *db, const struct job *job, const struct config *cfg, buf *out)
{
	if (!job->rows)
		return;
	char err[512] = "";
	buf obj;
	buf_init(&obj);
	store_txn *t = store_begin(db, 0);
	if (!t || rowreport_write_json(t, job, cfg, &obj, err, sizeof err))
		log_warn("report: the rows' summary left out: %s", t ? err : store_strerror(db));
	else
		buf_printf(out, ",\"rows\":%s", buf_cstr(&obj));
	store_abort(t);
	buf_free(&obj);
}
