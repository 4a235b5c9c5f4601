/* results_export.c: `export -f results` (one line per answer) and `export -f tree` (a file per
 * document and stage, and metadata.json), from the index of results.h. */
#include "results.h"
#include "results_meta.h"
#include "../vecs.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <string.h>

struct lines {
	FILE *out;
	buf line;
	uint32_t doc, stage;
	uint64_t count;
};

/* The ids of batch b's chunks; an embedding stage's batch is a range of its ask list, each
 * input naming its chunk (the first of its text's not embedded before). */
static void chunk_ids(struct results *r, uint32_t stage, const struct batch_rec *b, buf *out)
{
	int asks = vecs_stage(&r->job, stage);
	buf_putc(out, '[');
	for (uint32_t i = 0; i < b->nchunks; i++) {
		char id[CHUNK_ID_LEN + 1];
		uint32_t chunk = b->first_chunk + i;
		if ((asks && vecs_ask_chunk(r->t, stage, b->first_chunk + i, &chunk)) ||
		    chunk_id_read(r->t, chunk, id))
			id[0] = '\0';
		if (i)
			buf_putc(out, ',');
		buf_json_str(out, id, strlen(id));
	}
	buf_putc(out, ']');
}

/* {"stage","document","chunks" (chunk stages),"answer"} of an answered batch. */
static int line_visit(struct results *r, uint32_t n, const struct batch_rec *b, void *arg)
{
	struct lines *l = arg;
	if (b->state != B_DONE)
		return 0;
	const struct stage *st = &r->job.st[l->stage];
	const char *doc = r->names[l->doc];
	buf *o = &l->line;
	buf_reset(o);
	buf_puts(o, "{\"stage\":");
	buf_json_str(o, st->name, strlen(st->name));
	buf_puts(o, ",\"document\":");
	buf_json_str(o, doc, strlen(doc));
	if (st->over == OVER_CHUNKS) {
		buf_puts(o, ",\"chunks\":");
		chunk_ids(r, l->stage, b, o);
	}
	buf_puts(o, ",\"answer\":");
	if (results_answer(r, n, o))
		return 0;
	buf_puts(o, "}\n");
	fwrite(o->data, 1, o->len, l->out);
	l->count++;
	return 0;
}

int results_write_lines(struct results *r, FILE *out, uint64_t *count)
{
	struct lines l = { .out = out };
	buf_init(&l.line);
	for (l.doc = 0; l.doc < r->ndocs; l.doc++)
		for (l.stage = 0; l.stage < r->job.n && results_has_doc(r, l.doc); l.stage++)
			results_walk(r, l.doc, l.stage, line_visit, &l);
	buf_free(&l.line);
	*count = l.count;
	return 0;
}

/* A name that stays inside the tree: not empty, not absolute, no ".." component. */
static int safe_name(const char *name)
{
	size_t meta = strlen("metadata.json");
	if (!name[0] || name[0] == '/' ||
	    (!strncmp(name, "metadata.json", meta) && (!name[meta] || name[meta] == '/')))
		return 0; /* (a directory named metadata.json would stand where that file goes) */
	for (const char *p = name; *p;) {
		size_t len = strcspn(p, "/");
		if (len == 2 && p[0] == '.' && p[1] == '.')
			return 0;
		p += len;
		while (*p == '/')
			p++;
	}
	return 1;
}

struct answers {
	buf *out;
	uint32_t n;
};

/* The answers of a document's stage, in chunk order, comma-separated. */
static int answer_visit(struct results *r, uint32_t n, const struct batch_rec *b, void *arg)
{
	struct answers *a = arg;
	if (b->state != B_DONE)
		return 0;
	size_t mark = a->out->len;
	if (a->n)
		buf_putc(a->out, ',');
	if (results_answer(r, n, a->out))
		a->out->len = mark;
	else
		a->n++;
	return 0;
}

/* DIR/<document>/<stage>.json of a stage that is done: the answer (a documents stage, one
 * batch) or the array of them in chunk order. */
static int write_stage_file(struct results *r, const char *docdir, uint32_t doc, uint32_t s,
			    const struct cell_sum *c, buf *body, char *err, size_t errlen)
{
	char path[PATHS_MAX];
	if ((size_t)snprintf(path, sizeof path, "%s/%s.json", docdir, r->job.st[s].name) >=
	    sizeof path) {
		snprintf(err, errlen, "%s: path too long", docdir);
		return -1;
	}
	int array = r->job.st[s].over == OVER_CHUNKS || c->leaves != 1;
	struct answers a = { body, 0 };
	buf_reset(body);
	if (array)
		buf_putc(body, '[');
	results_walk(r, doc, s, answer_visit, &a);
	if (array)
		buf_putc(body, ']');
	else if (!a.n) /* its answer unreadable (warned): no file rather than an empty one */
		return 0;
	buf_putc(body, '\n');
	if (write_file_atomic(path, body->data, body->len, 0644)) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

/* The stage files of one document, and its entry in the metadata. */
static int write_document(struct results *r, const char *dir, uint32_t doc, struct meta *m,
			  uint64_t *count, char *err, size_t errlen)
{
	char docdir[PATHS_MAX];
	if ((size_t)snprintf(docdir, sizeof docdir, "%s/%s", dir, r->names[doc]) >= sizeof docdir) {
		snprintf(err, errlen, "%s/%s: path too long", dir, r->names[doc]);
		return -1;
	}
	if (mkdir_p(docdir, 0755)) {
		snprintf(err, errlen, "%s: %s", docdir, strerror(errno));
		return -1;
	}
	meta_document_begin(m, r->names[doc]);
	buf body;
	buf_init(&body);
	int rc = 0;
	for (uint32_t s = 0; s < r->job.n && !rc; s++) {
		struct cell_sum c;
		cell_sum_read(r, doc, s, &c);
		meta_stage(m, r, s, &c);
		if (c.leaves && !strcmp(cell_state(&c), "done")) {
			rc = write_stage_file(r, docdir, doc, s, &c, &body, err, errlen);
			*count += !rc;
		}
	}
	meta_document_end(m);
	buf_free(&body);
	return rc;
}

int results_write_tree(struct results *r, const char *dir, uint64_t *count, char *err,
		       size_t errlen)
{
	*count = 0;
	if (!dir) {
		snprintf(err, errlen, "export -f tree writes a directory: give it with -o");
		return -1;
	}
	if (mkdir_p(dir, 0755)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	struct meta m;
	meta_begin(&m, r);
	int rc = 0;
	for (uint32_t d = 0; d < r->ndocs && !rc; d++) {
		if (!results_has_doc(r, d)) /* a shard not given holds it */
			continue;
		if (!safe_name(r->names[d])) {
			log_warn("document \"%s\": not a relative path inside the tree (or it is "
				 "metadata.json); skipped",
				 r->names[d]);
			continue;
		}
		rc = write_document(r, dir, d, &m, count, err, errlen);
	}
	if (!rc) /* last: once it is there, every file it lists is */
		rc = meta_write(&m, dir, err, errlen);
	*count += !rc;
	meta_free(&m);
	return rc;
}
