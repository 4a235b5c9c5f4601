/* export.c: `kgsup export`: the results of the run, batch by batch in input order, as one
 * JSON object per line (entities, then relations of each batch). Reads in one read-only
 * transaction, so it works on a live run and sees a consistent snapshot. */
#include "cli.h"
#include "runstate.h"
#include "../common/json.h"
#include "../common/log.h"
#include "../common/paths.h"
#include "../common/roles.h"
#include "../common/hash.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

struct export_counts {
	uint64_t entities, relations;
};

/* Writes each item of arr as {"kind": kind, ...its fields} on its own line. */
static void write_items(FILE *out, const json *arr, const char *kind, buf *line, uint64_t *count)
{
	for (const json *it = json_first(arr); it; it = json_next(it)) {
		buf_reset(line);
		buf_puts(line, "{\"kind\":");
		buf_json_str(line, kind, strlen(kind));
		for (const json *f = json_first(it); f; f = json_next(f)) {
			buf_putc(line, ',');
			buf_json_str(line, json_key(f), strlen(json_key(f)));
			buf_putc(line, ':');
			json_write(f, line);
		}
		buf_puts(line, "}\n");
		fwrite(line->data, 1, line->len, out);
		(*count)++;
	}
}

/* Writes the answer of batch n, or of its halves when it was split, in input order. */
static void export_batch(store_txn *t, uint32_t n, FILE *out, struct export_counts *c, buf *line,
			 int depth)
{
	struct batch_rec b;
	if (depth > 64 || batch_read(t, n, &b))
		return;
	if (b.state == B_SPLIT) {
		export_batch(t, b.child, out, c, line, depth + 1);
		export_batch(t, b.child + 1, out, c, line, depth + 1);
		return;
	}
	unsigned char k[4];
	wr_u32be(k, n);
	const void *v;
	size_t vl;
	if (store_get(t, DB_RESULTS, k, 4, &v, &vl))
		return;
	json *answer = json_parse(v, vl, NULL, 0);
	if (!answer) {
		log_warn("batch %u: stored answer unreadable; skipped", n);
		return;
	}
	write_items(out, json_get(answer, "entities"), "entity", line, &c->entities);
	write_items(out, json_get(answer, "relations"), "relation", line, &c->relations);
	json_free(answer);
}

static int export_jsonl(store_txn *t, FILE *out, struct export_counts *n)
{
	struct plan_rec plan;
	if (plan_read(t, &plan))
		return -1;
	buf line;
	buf_init(&line);
	for (uint32_t i = 0; i < plan.nbatches; i++) {
		struct batch_rec b;
		if (!batch_read(t, i, &b) && !b.is_child)
			export_batch(t, i, out, n, &line, 0);
	}
	buf_free(&line);
	return 0;
}

/* The answers that failed validation: {"batch_key","reason","content"} per line. */
static int export_invalid(store_txn *t, FILE *out, struct export_counts *n)
{
	store_iter *it = store_iter_open(t, DB_INVALID, NULL, 0);
	const void *k, *v;
	size_t kl, vl;
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
		n->entities++;
	}
	store_iter_close(it);
	buf_free(&line);
	return 0;
}

int export_main(int argc, char **argv)
{
	struct cli cli;
	int rc = cli_parse(&cli, argc, argv, CLI_EXPORT);
	if (rc >= 0)
		return rc;
	rc = EXIT_USAGE;
	char err[1024] = "";
	char dbdir[PATHS_MAX];
	store *db = NULL;
	store_txn *t = NULL;
	FILE *out = NULL;
	int invalid = cli.format && !strcmp(cli.format, "invalid");
	if (cli.format && strcmp(cli.format, "jsonl") && !invalid) {
		snprintf(err, sizeof err, "export: unknown format '%s' (jsonl, invalid)", cli.format);
		goto done;
	}
	paths_file(dbdir, sizeof dbdir, cli.state_dir, "db");
	db = store_open(dbdir, 1, err, sizeof err);
	if (!db || !(t = store_begin(db, 0)))
		goto done;
	out = cli.output ? fopen(cli.output, "w") : stdout;
	if (!out) {
		snprintf(err, sizeof err, "%s: %s", cli.output, strerror(errno));
		goto done;
	}
	struct export_counts n = { 0, 0 };
	if (invalid)
		export_invalid(t, out, &n);
	else if (export_jsonl(t, out, &n)) {
		snprintf(err, sizeof err, "%s: no planned run here", cli.state_dir);
		goto done;
	}
	if (fflush(out) != 0 || ferror(out)) {
		snprintf(err, sizeof err, "%s: write failed: %s", cli.output ? cli.output : "stdout",
			 strerror(errno));
		rc = EXIT_INTERNAL;
		goto done;
	}
	if (invalid)
		fprintf(stderr, "kgsup: exported %llu invalid answers\n", (unsigned long long)n.entities);
	else
		fprintf(stderr, "kgsup: exported %llu entities and %llu relations\n",
			(unsigned long long)n.entities, (unsigned long long)n.relations);
	rc = EXIT_OK;
done:
	if (err[0])
		die_msg("%s", err);
	if (out && out != stdout && fclose(out) != 0 && rc == EXIT_OK) {
		die_msg("%s: %s", cli.output, strerror(errno));
		rc = EXIT_INTERNAL;
	}
	store_abort(t);
	store_close(db);
	cli_free(&cli);
	return rc;
}
