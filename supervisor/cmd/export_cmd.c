/* export_cmd.c: `kgsup export`: the run's merged graph (graph.h; entities resolved by their
 * vectors when the run asks, resolve.h) as jsonl, Neo4j bulk-import csv, Cypher, GraphML or
 * kuzu's COPY FROM files, or what resolution merged; the stages' answers (results.h) as lines
 * or a tree of files, the answers that failed validation, or of a run over rows its table with
 * the answers' fields (rows_export.h) as csv or xlsx. Reads in one read-only transaction, so
 * it works on a live run and sees a consistent snapshot; the same run always gives the same
 * bytes. */
#include "results.h"
#include "rows_export.h"
#include "shard_set.h"
#include "vectors.h"
#include "../cli.h"
#include "../graph_write.h"
#include "../resolve.h"
#include "../runstate.h"
#include "../../common/hash.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>


/* The answers that failed validation: {"request_key","reason","content"} per line. Returns
 * how many. */
static uint64_t write_invalid(store_txn *t, FILE *out)
{
	store_iter *it = store_iter_open(t, DB_INVALID, NULL, 0);
	const void *k, *v;
	size_t kl, vl;
	uint64_t n = 0;
	buf line;
	buf_init(&line);
	while (it && store_iter_next(it, &k, &kl, &v, &vl)) {
		const char *nl = memchr(v, '\n', vl);
		size_t rlen = nl ? (size_t)(nl - (const char *)v) : vl;
		char key[2 * HASH_LEN + 1];
		hash_hex(k, kl < HASH_LEN ? kl : HASH_LEN, key);
		buf_reset(&line);
		buf_puts(&line, "{\"request_key\":");
		buf_json_str(&line, key, strlen(key));
		buf_puts(&line, ",\"reason\":");
		buf_json_str(&line, v, rlen);
		buf_puts(&line, ",\"content\":");
		buf_json_str(&line, nl ? nl + 1 : "", nl ? vl - rlen - 1 : 0);
		buf_puts(&line, "}\n");
		fwrite(line.data, 1, line.len, out);
		n++;
	}
	store_iter_close(it);
	buf_free(&line);
	return n;
}

struct format;
/* Writes the format to output (a file, a directory, or NULL: standard output). */
typedef int format_run(store_txn *t, const struct format *fm, const char *output, char *err,
		       size_t errlen);
static format_run export_invalid;
/* The same from the stores of several shards of one run (one -s: a set of one). */
typedef int format_runs(const struct shard_set *set, const struct format *fm, const char *output,
			char *err, size_t errlen);
static format_runs export_graph, export_answers, export_vectors, export_npy;
/* Writes the answers by document and stage to output; *count: what it wrote. */
typedef int answers_writer(struct results *r, const char *output, uint64_t *count, char *err,
			   size_t errlen);
static answers_writer write_lines;
/* A run over rows: its table to output. */
typedef int rows_writer(store_txn *t, const char *output, char *err, size_t errlen);

/* A file of a graph format written to a directory (-o DIR). */
struct dir_file {
	const char *name;
	graph_writer *write;
};

static const struct dir_file csv_files[] = {
	{ "nodes.csv", graph_write_csv_nodes },
	{ "relationships.csv", graph_write_csv_relationships },
	{ NULL, NULL },
};

static const struct dir_file kuzu_files[] = {
	{ GRAPH_KUZU_NODES, graph_write_kuzu_nodes },
	{ GRAPH_KUZU_RELATIONSHIPS, graph_write_kuzu_relationships },
	{ "load.cypher", graph_write_kuzu_load },
	{ NULL, NULL },
};

/* The formats: a graph written to one file (or standard output) or to files in a directory
 * (-o DIR), the answers as lines or a tree, or the invalid answers; csv and xlsx write a run
 * over rows as its table (xlsx only that). */
static const struct format {
	const char *name;
	format_run *run;
	format_runs *runs;             /* or a format that merges shards (export -s A -s B) */
	graph_writer *write;           /* a graph: to -o FILE or standard output */
	const struct dir_file *files;  /* or a graph's files in a directory */
	answers_writer *answers; /* the answers (export_answers) */
	const char *unit;        /* what answers counts */
	rows_writer *rows;       /* what it writes of a run over rows */
} formats[] = {
	{ "jsonl", .runs = export_graph, .write = graph_write_jsonl },
	{ "csv", .runs = export_graph, .files = csv_files, .rows = rows_export_csv },
	{ "cypher", .runs = export_graph, .write = graph_write_cypher },
	{ "graphml", .runs = export_graph, .write = graph_write_graphml },
	{ "kuzu", .runs = export_graph, .files = kuzu_files },
	{ "invalid", export_invalid, .write = NULL },
	{ "results", .runs = export_answers, .answers = write_lines, .unit = "answers" },
	{ "tree", .runs = export_answers, .answers = results_write_tree, .unit = "files" },
	{ "merges", .runs = export_graph, .write = resolve_write_merges },
	{ "xlsx", NULL, .rows = rows_export_xlsx },
	{ "vectors", .runs = export_vectors },
	{ "npy", .runs = export_npy },
};
#define NFORMATS (sizeof formats / sizeof formats[0])

static const struct format *format_named(const char *name)
{
	for (size_t i = 0; i < NFORMATS; i++)
		if (!strcmp(name ? name : "jsonl", formats[i].name))
			return &formats[i];
	return NULL;
}

static FILE *open_out(const char *path, char *err, size_t errlen)
{
	FILE *f = path ? fopen(path, "w") : stdout;
	if (!f)
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
	return f;
}

/* Flushes and closes (unless stdout); 0, or -1 with err set. */
static int close_out(FILE *f, const char *path, char *err, size_t errlen)
{
	int bad = fflush(f) != 0 || ferror(f);
	if (f != stdout && fclose(f) != 0)
		bad = 1;
	if (bad)
		snprintf(err, errlen, "%s: write failed: %s", path ? path : "stdout", strerror(errno));
	return bad ? -1 : 0;
}

/* Writes g with one writer to path (NULL: standard output); dir: as graph_writer's. */
static int write_one(const struct graph *g, graph_writer *w, const char *dir, const char *path,
		     buf *b, char *err, size_t errlen)
{
	FILE *f = open_out(path, err, errlen);
	if (!f)
		return -1;
	w(g, dir, f, b);
	return close_out(f, path, err, errlen);
}

/* The files of a directory format, in dir (made if missing); their writers get its absolute
 * path, so a file that names the others (kuzu's load.cypher) works from any directory. */
static int write_dir(const struct graph *g, const struct format *fm, const char *dir, buf *b,
		     char *err, size_t errlen)
{
	if (!dir) {
		snprintf(err, errlen, "export -f %s writes files into a directory: give it with -o",
			 fm->name);
		return -1;
	}
	char abs[PATH_MAX];
	if (mkdir_p(dir, 0755) || !realpath(dir, abs)) {
		snprintf(err, errlen, "%s: %s", dir, strerror(errno));
		return -1;
	}
	char path[PATHS_MAX];
	for (const struct dir_file *f = fm->files; f->name; f++) {
		snprintf(path, sizeof path, "%s/%s", dir, f->name);
		if (write_one(g, f->write, abs, path, b, err, errlen))
			return -1;
	}
	return 0;
}

static int export_graph(const struct shard_set *set, const struct format *fm, const char *output,
			char *err, size_t errlen)
{
	store_txn *t = set->t[0];
	struct config cfg;
	config_defaults(&cfg);
	struct job job;
	struct graph g;
	memset(&g, 0, sizeof g);
	buf b;
	buf_init(&b);
	int rc = -1;
	struct resolve_stats rs;
	/* resolution reads the entity stage's vectors: a sharded run has no stage over entities
	 * (shard_job_check), so only a whole run resolves, from its one store (shards with
	 * graph.resolve set resolve nothing, as a whole run without that stage) */
	if (run_job_read(t, &cfg, &job, err, errlen) ||
	    graph_build_shards(set->t, set->n, &cfg, &job, &g, err, errlen) ||
	    graph_resolve(t, &cfg, &job, &g, &rs, err, errlen))
		goto out;
	if (fm->write == resolve_write_merges && !cfg.graph_resolve)
		log_warn("export -f merges: the run's graph.resolve is false: no merges");
	if (fm->files)
		rc = write_dir(&g, fm, output, &b, err, errlen);
	else
		rc = write_one(&g, fm->write, NULL, output, &b, err, errlen);
	if (!rc) {
		fprintf(stderr, "kgsup: exported %zu entities and %zu relations (merged from %llu and "
			"%llu records in %llu answers)\n", g.nentities, g.nrelations,
			(unsigned long long)g.entity_records, (unsigned long long)g.relation_records,
			(unsigned long long)g.answers);
		if (g.resolved)
			fprintf(stderr, "kgsup: resolved at cosine %.2f: %llu entities merged into others "
				"(%llu similarities computed; %llu entities without a vector; %llu "
				"relations between merged entities left out)\n",
				cfg.graph_resolve_threshold, (unsigned long long)rs.merged,
				(unsigned long long)rs.pairs, (unsigned long long)rs.unvectored,
				(unsigned long long)g.dropped_self_loops);
		if (g.dropped_by_answer || g.dropped_unresolved)
			fprintf(stderr, "kgsup: %llu relations left out: an end is not an entity\n",
				(unsigned long long)(g.dropped_by_answer + g.dropped_unresolved));
	}
out:
	graph_free(&g);
	job_free(&job);
	config_free(&cfg);
	buf_free(&b);
	return rc;
}

static int export_invalid(store_txn *t, const struct format *fm, const char *output, char *err,
			  size_t errlen)
{
	(void)fm;
	FILE *out = open_out(output, err, errlen);
	if (!out)
		return -1;
	uint64_t n = write_invalid(t, out);
	if (close_out(out, output, err, errlen))
		return -1;
	fprintf(stderr, "kgsup: exported %llu invalid answers\n", (unsigned long long)n);
	return 0;
}

/* -f results: to -o FILE or standard output. */
static int write_lines(struct results *r, const char *output, uint64_t *count, char *err,
		       size_t errlen)
{
	FILE *out = open_out(output, err, errlen);
	if (!out)
		return -1;
	results_write_lines(r, out, count);
	return close_out(out, output, err, errlen);
}

static int export_answers(const struct shard_set *set, const struct format *fm,
			  const char *output, char *err, size_t errlen)
{
	struct results r;
	uint64_t n = 0;
	int rc = results_load_shards(&r, set->t, set->n, err, errlen);
	if (!rc)
		rc = fm->answers(&r, output, &n, err, errlen);
	if (!rc)
		fprintf(stderr, "kgsup: exported %llu %s\n", (unsigned long long)n, fm->unit);
	results_free(&r);
	return rc;
}

/* --stage NAME: the one embedding stage whose vectors -f vectors and -f npy write (NULL: all) */
static const char *vector_stage;

static int export_vectors(const struct shard_set *set, const struct format *fm,
			  const char *output, char *err, size_t errlen)
{
	(void)fm;
	return vectors_export_jsonl(set->t, set->n, vector_stage, output, err, errlen);
}

static int export_npy(const struct shard_set *set, const struct format *fm, const char *output,
		      char *err, size_t errlen)
{
	(void)fm;
	return vectors_export_npy(set->t, set->n, vector_stage, output, err, errlen);
}

/* Whether the run's stages go over rows (0 when its job cannot be read: the graph's export
 * says why). */
static int over_rows(store_txn *t)
{
	struct config cfg;
	struct job job;
	char err[256];
	config_defaults(&cfg);
	int rows = !run_job_read(t, &cfg, &job, err, sizeof err) && job.rows;
	job_free(&job);
	config_free(&cfg);
	return rows;
}

/* Every failure is exit 2 with one line naming what to look at: the state directory, the
 * format, or the output path that could not be written. */
int export_cmd(const struct cli *cli)
{
	char err[1024] = "";
	struct shard_set set = { 0 };
	const struct format *fm = format_named(cli->format);
	if (!fm) {
		buf names;
		buf_init(&names);
		for (size_t i = 0; i < NFORMATS; i++)
			buf_printf(&names, "%s%s", i ? ", " : "", formats[i].name);
		snprintf(err, sizeof err, "export: unknown format '%s' (%s)", cli->format, buf_cstr(&names));
		buf_free(&names);
		goto done;
	}
	vector_stage = cli->stage;
	if (cli->stage && fm->runs != export_vectors && fm->runs != export_npy) {
		snprintf(err, sizeof err, "export: --stage picks the embedding stage of -f vectors or "
			 "-f npy, not of -f %s", fm->name);
		goto done;
	}
	int ndirs;
	char *const *dirs = cli_states(cli, &ndirs);
	if (shard_set_open(&set, dirs, ndirs, err, sizeof err))
		goto done;
	store_txn *t = set.t[0];
	int rows = fm->rows && ((!fm->run && !fm->runs) || over_rows(t));
	if (set.n > 1 && (rows || !fm->runs)) /* what does not merge reads one run */
		snprintf(err, sizeof err, "export -f %s reads one state directory (-s), not the %zu "
			 "shards given", fm->name, set.n);
	else if (rows)
		fm->rows(t, cli->output, err, sizeof err);
	else if (fm->runs)
		fm->runs(&set, fm, cli->output, err, sizeof err);
	else
		fm->run(t, fm, cli->output, err, sizeof err);
done:
	if (err[0])
		die_msg("%s", err);
	shard_set_close(&set);
	return err[0] ? EXIT_USAGE : EXIT_OK;
}
