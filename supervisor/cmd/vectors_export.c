/* vectors_export.c: `kgsup export -f vectors` (a JSON line per vector) and `-f npy` (a NumPy
 * matrix and its row labels), both streamed: a vector is written as it is read, so a run's
 * vectors never have to fit in memory. */
#include "vectors.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *kind_name(char kind)
{
	return kind == 'e' ? "entity" : "chunk";
}

struct jsonl {
	struct vectors *v;
	FILE *out;
	buf line;
	uint64_t n;
};

/* {"id","kind","stage","document","text"|"name"(,"type"),"model","vector"}; a float as %.9g,
 * which reads back as the same float32. */
static int jsonl_item(const struct vitem *it, const float *vec, size_t dims, void *arg)
{
	struct jsonl *j = arg;
	const struct stage *st = &j->v->job.st[it->stage];
	buf *b = &j->line;
	buf_reset(b);
	buf_puts(b, "{\"id\":");
	buf_json_str(b, it->id, strlen(it->id));
	buf_printf(b, ",\"kind\":\"%s\",\"stage\":", kind_name(it->kind));
	buf_json_str(b, st->name, strlen(st->name));
	buf_puts(b, ",\"document\":");
	buf_json_str(b, it->document, strlen(it->document));
	buf_puts(b, it->kind == 'e' ? ",\"name\":" : ",\"text\":");
	buf_json_str(b, it->text, it->len);
	if (it->kind == 'e') {
		buf_puts(b, ",\"type\":");
		buf_json_str(b, it->type, strlen(it->type));
	}
	buf_puts(b, ",\"model\":");
	buf_json_str(b, st->model, strlen(st->model));
	buf_puts(b, ",\"vector\":[");
	for (size_t i = 0; i < dims; i++) {
		if (isfinite(vec[i]))
			buf_printf(b, "%s%.9g", i ? "," : "", (double)vec[i]);
		else
			buf_puts(b, i ? ",null" : "null");
	}
	buf_puts(b, "]}\n");
	j->n++;
	return fwrite(b->data, 1, b->len, j->out) == b->len ? 0 : -1;
}

/* Why items have no vector, as the run's state tells (of shards: one not finished is enough):
 * a finished run will not give them (resumed it has nothing left to do), so "not finished"
 * would send the user the wrong way. */
static const char *missing_why(const struct vectors *v)
{
	int done = 1;
	for (size_t i = 0; i < v->nt; i++) {
		struct counters c;
		if (counters_read(v->ts[i], &c) || c.state == RUN_RUNNING || c.state == RUN_STOPPED)
			return v->nt > 1 ? "a shard is not finished" : "the run is not finished";
		done &= c.state == RUN_DONE;
	}
	if (done)
		return "the run is done: entities its graph gained by a resume --retry-failed of a "
		       "kgsup before 0.6.0, after its entities were embedded; a new run embeds them "
		       "(sharing its cache.path, buying only those)";
	return v->nt > 1 ? "a shard did not finish: kgsup status -s of each lists its failed batches"
			 : "the run did not finish: kgsup status lists its failed batches";
}

/* Another embedding stage over the same items (chunks or entities) of stage s's model and
 * dimensions with batches failed or blocked (-1: none): the two share vectors, a text is listed
 * by one of them only, and a batch of that one that failed leaves s without the vector too,
 * though s is done and none of its own failed. */
static int failed_sharer(const struct vectors *v, const struct stage_counters *sc, int s)
{
	const struct stage *a = &v->job.st[s];
	if (sc[s].failed + sc[s].blocked || sc[s].done < sc[s].batches)
		return -1; /* (its own failed, or it is not finished) */
	for (size_t i = 0; i < v->job.n; i++) {
		const struct stage *b = &v->job.st[i];
		if ((int)i != s && b->endpoint == EP_EMBEDDINGS && b->over == a->over &&
		    !strcmp(a->model, b->model) && a->dimensions == b->dimensions &&
		    sc[i].failed + sc[i].blocked)
			return (int)i;
	}
	return -1;
}

/* Which stages lack how many, into b: "stage a 2, stage b 1 (...)". */
static void missing_stages(const struct vectors *v, buf *b)
{
	struct stage_counters sc[JOB_MAX_STAGES], one[JOB_MAX_STAGES];
	memset(sc, 0, sizeof sc);
	for (size_t t = 0; t < v->nt; t++)
		if (!stage_counters_read(v->ts[t], one, v->job.n))
			for (size_t i = 0; i < v->job.n; i++) {
				sc[i].batches += one[i].batches;
				sc[i].done += one[i].done;
				sc[i].failed += one[i].failed;
				sc[i].blocked += one[i].blocked;
			}
	for (size_t i = 0; i < v->norder; i++) {
		int s = v->order[i], other = failed_sharer(v, sc, s);
		if (!v->missing_in[s])
			continue;
		buf_printf(b, "%sstage %s %llu", b->len ? ", " : "", v->job.st[s].name,
			   (unsigned long long)v->missing_in[s]);
		if (other >= 0)
			buf_printf(b, " (texts it shares with stage %s, of one model and dimensions, "
				      "whose failed batches held them)", v->job.st[other].name);
	}
}

static void note_missing(const struct vectors *v, uint64_t written, const char *what)
{
	fprintf(stderr, "kgsup: exported %llu vectors%s\n", (unsigned long long)written, what);
	if (!v->missing)
		return;
	buf b;
	buf_init(&b);
	missing_stages(v, &b);
	fprintf(stderr, "kgsup: %llu item%s no vector (%s; %s): left out\n",
		(unsigned long long)v->missing, v->missing == 1 ? " has" : "s have", buf_cstr(&b),
		missing_why(v));
	buf_free(&b);
}

/* Flushes and closes out (unless stdout): 0, or -1 with err set. */
static int finish(FILE *out, const char *path, char *err, size_t errlen)
{
	int bad = fflush(out) != 0 || ferror(out);
	if (out != stdout && fclose(out) != 0)
		bad = 1;
	if (bad)
		snprintf(err, errlen, "%s: write failed: %s", path ? path : "stdout", strerror(errno));
	return bad ? -1 : 0;
}

int vectors_export_jsonl(store_txn *const *ts, size_t nt, const char *stage, const char *output,
			 char *err, size_t errlen)
{
	struct vectors v;
	struct jsonl j = { .v = &v };
	buf_init(&j.line);
	int rc = vectors_open(&v, ts, nt, stage, err, errlen);
	if (!rc && !(j.out = output ? fopen(output, "w") : stdout)) {
		snprintf(err, errlen, "%s: %s", output, strerror(errno));
		rc = -1;
	}
	for (size_t i = 0; !rc && i < v.norder; i++)
		rc = vectors_walk(&v, v.order[i], jsonl_item, &j);
	if (j.out && finish(j.out, output, err, errlen))
		rc = -1;
	else if (rc && !err[0])
		snprintf(err, errlen, "%s: write failed: %s", output ? output : "stdout", strerror(errno));
	if (!rc)
		note_missing(&v, j.n, "");
	vectors_close(&v);
	buf_free(&j.line);
	return rc;
}

/* The .npy format, version 1.0: "\x93NUMPY", 1, 0, a u16le header length, then a Python dict
 * literal padded with spaces and ended by '\n' so the data starts aligned. The header is
 * written first with the shape unknown and again at the end at the same length (padding
 * absorbs the digits), so rows are written as they come. */
#define NPY_HEAD 128

static int npy_header(FILE *f, uint64_t rows, size_t dims)
{
	char h[NPY_HEAD + 1];
	int n = snprintf(h, sizeof h, "\x93NUMPY\x01%c%c%c{'descr': '<f4', 'fortran_order': False, "
			 "'shape': (%llu, %zu), }", 0, NPY_HEAD - 10, 0, (unsigned long long)rows, dims);
	memset(h + n, ' ', NPY_HEAD - 1 - (size_t)n);
	h[NPY_HEAD - 1] = '\n';
	return fseek(f, 0, SEEK_SET) || fwrite(h, 1, NPY_HEAD, f) != NPY_HEAD ? -1 : 0;
}

struct npy {
	struct vectors *v;
	FILE *mat, *ids;
	size_t dims;
	uint64_t rows, other; /* written; and left out for another number of dimensions */
};

/* A TSV cell: tabs and line ends in a path would start a new cell or row. */
static void tsv_cell(FILE *f, const char *s)
{
	for (; *s; s++)
		fputc(*s == '\t' || *s == '\n' || *s == '\r' ? ' ' : *s, f);
}

static int npy_item(const struct vitem *it, const float *vec, size_t dims, void *arg)
{
	struct npy *p = arg;
	if (dims != p->dims) {
		p->other++;
		return 0;
	}
	fprintf(p->ids, "%llu\t%s\t%s\t", (unsigned long long)p->rows, it->id, kind_name(it->kind));
	tsv_cell(p->ids, it->document);
	fputc('\n', p->ids);
	p->rows++;
	return fwrite(vec, sizeof(float), dims, p->mat) == dims ? 0 : -1;
}

/* The one number of dimensions of the chosen stages' vectors, or 0 with err set when they
 * differ. */
static size_t npy_dims(struct vectors *v, char *err, size_t errlen)
{
	size_t dims = 0;
	buf all;
	buf_init(&all);
	int differ = 0;
	for (size_t i = 0; i < v->norder; i++) {
		size_t d = vectors_dims(v, v->order[i]);
		if (!d)
			continue;
		buf_printf(&all, "%s%s: %zu", all.len ? ", " : "", v->job.st[v->order[i]].name, d);
		differ |= dims && d != dims;
		if (!dims)
			dims = d;
	}
	if (differ) {
		snprintf(err, errlen, "export -f npy: the embedding stages' vectors differ in dimensions "
			 "(%s): pick one with --stage NAME", buf_cstr(&all));
		dims = 0;
	} else if (!dims) {
		dims = 1; /* nothing yet: an empty matrix */
	}
	buf_free(&all);
	return dims;
}

int vectors_export_npy(store_txn *const *ts, size_t nt, const char *stage, const char *dir,
		       char *err, size_t errlen)
{
	if (!dir) {
		snprintf(err, errlen, "export -f npy writes vectors.npy and ids.tsv into a directory: "
			 "give it with -o");
		return -1;
	}
	struct vectors v;
	struct npy p = { .v = &v };
	char mat[PATHS_MAX], ids[PATHS_MAX];
	snprintf(mat, sizeof mat, "%s/vectors.npy", dir);
	snprintf(ids, sizeof ids, "%s/ids.tsv", dir);
	int rc = vectors_open(&v, ts, nt, stage, err, errlen);
	if (!rc && !(p.dims = npy_dims(&v, err, errlen)))
		rc = -1;
	if (!rc && mkdir_p(dir, 0755)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		rc = -1;
	}
	if (!rc && (!(p.mat = fopen(mat, "w")) || !(p.ids = fopen(ids, "w")))) {
		snprintf(err, errlen, "%s: %s", p.mat ? ids : mat, strerror(errno));
		rc = -1;
	}
	if (!rc && npy_header(p.mat, 0, p.dims))
		rc = -1;
	if (!rc)
		fputs("row\tid\tkind\tdocument\n", p.ids);
	for (size_t i = 0; !rc && i < v.norder; i++)
		rc = vectors_walk(&v, v.order[i], npy_item, &p);
	if (!rc && npy_header(p.mat, p.rows, p.dims))
		rc = -1;
	if (rc && !err[0])
		snprintf(err, errlen, "%s: write failed: %s", mat, strerror(errno));
	if (p.mat && finish(p.mat, mat, err, errlen))
		rc = -1;
	if (p.ids && finish(p.ids, ids, err, errlen))
		rc = -1;
	if (!rc) {
		note_missing(&v, p.rows, " (vectors.npy, ids.tsv)");
		if (p.other)
			fprintf(stderr, "kgsup: %llu vectors of other dimensions than %zu left out\n",
				(unsigned long long)p.other, p.dims);
	}
	vectors_close(&v);
	return rc;
}
