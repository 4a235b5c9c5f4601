/* plan_cmd.c: `kgsup plan`: what a run would send, before anyone spends money. Plans the inputs
 * into a temporary store exactly as `start` would, renders every request, and prints the
 * counts, the prompt tokens (request bytes / 4, the broker's estimate too) and the cost range;
 * with -o FILE it writes each request body as one line (what `start` would POST). */
#include "../cli.h"
#include "../pbatch.h"
#include "../plan.h"
#include "../render.h"
#include "../rowstore.h"
#include "../../common/log.h"
#include "../../common/paths.h"
#include "../../common/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct estimate {
	struct plan_rec plan;
	uint64_t prompt_tokens;
	uint64_t max_completion;
	double cost_in, cost_out;
	uint64_t skipped; /* inputs that could not be read */
	struct rows_plan rows; /* a job over rows: what the tables hold */
	uint32_t seeds; /* embedding stages over entities: planned once the graph is made */
	uint32_t via;   /* run.mode auto: the stages sent through the Batch API (pbatch_route) */
	double via_in, via_out; /* their share of cost_in and cost_out */
};

/* The scratch directory the plan was made in, with its store. */
static void remove_tree(const char *dir)
{
	char path[PATHS_MAX];
	paths_file(path, sizeof path, dir, "db");
	if (store_remove(path) < 0 || (rmdir(dir) < 0 && errno != ENOENT))
		log_warn("%s: %s", dir, strerror(errno));
}

static int render_all(store *db, const struct config *cfg, const struct job *job, FILE *out,
		      struct estimate *e)
{
	store_txn *t = store_begin(db, 0);
	if (!t)
		return -1;
	rows_plan_read(t, &e->rows);
	struct rendered r;
	rendered_init(&r);
	int rc = 0;
	for (uint32_t i = 0; i < e->plan.nbatches && !rc; i++) {
		struct batch_rec b;
		/* a context is not known before its needs are answered: counted at its budget */
		struct render_src src = { cfg, job, NULL };
		struct batch_ext x;
		if (!job->legacy && !batchx_read(t, i, &x) && (x.flags & BX_SEED)) {
			e->seeds++; /* the graph's entities are not known before it is made */
			continue;
		}
		rc = batch_read(t, i, &b) || render_batch(t, &src, i, &b, &r) ? -1 : 0;
		if (rc)
			break;
		const struct stage *st = &job->st[r.stage];
		e->prompt_tokens += r.body.len / BYTES_PER_TOKEN + (uint64_t)st->token_budget;
		e->max_completion += (uint64_t)st->max_tokens;
		double cin = config_cost_model(cfg, st->model, r.body.len / BYTES_PER_TOKEN +
								   (uint64_t)st->token_budget, 0);
		double cout = config_cost_model(cfg, st->model, 0, (uint64_t)st->max_tokens);
		e->cost_in += cin;
		e->cost_out += cout;
		if (e->via >> r.stage & 1) {
			e->via_in += cin;
			e->via_out += cout;
		}
		if (out) {
			fwrite(r.body.data, 1, r.body.len, out);
			fputc('\n', out);
		}
	}
	rendered_free(&r);
	store_abort(t);
	return rc;
}

static void print_estimate(const struct estimate *e, const struct config *cfg,
			   const struct job *job, int json, int batch_api)
{
	double in = e->cost_in, out = e->cost_out, keep = 1 - cfg->batch_discount;
	if (json) {
		char batch[160] = "";
		if (batch_api)
			snprintf(batch, sizeof batch, ",\"batch_api_cost_usd\":{\"prompt\":%.6f,"
				 "\"completion_at_most\":%.6f}", in * keep, out * keep);
		else if (!strcmp(cfg->run_mode, "auto"))
			snprintf(batch, sizeof batch, ",\"auto_cost_usd\":{\"prompt\":%.6f,"
				 "\"completion_at_most\":%.6f,\"batch_api_stages\":%u}",
				 in - e->via_in * cfg->batch_discount,
				 out - e->via_out * cfg->batch_discount, (unsigned)__builtin_popcount(e->via));
		printf("{\"sources\":%u,\"skipped_inputs\":%llu,\"chunks\":%u,\"batches\":%u,"
		       "\"prompt_tokens\":%llu,\"max_completion_tokens\":%llu,\"cost_usd\":{\"prompt\":%.6f,"
		       "\"completion_at_most\":%.6f}%s,\"rows\":%llu,\"rows_skipped\":%llu,"
		       "\"rows_duplicates\":%llu}\n",
		       e->plan.nsources, (unsigned long long)e->skipped, e->plan.nchunks, e->plan.nbatches,
		       (unsigned long long)e->prompt_tokens, (unsigned long long)e->max_completion, in, out,
		       batch, (unsigned long long)e->rows.rows, (unsigned long long)e->rows.skipped,
		       (unsigned long long)e->rows.duplicates);
		return;
	}
	printf("sources      %u\nchunks       %u\nbatches      %u (one request each)\n",
	       e->plan.nsources, e->plan.nchunks, e->plan.nbatches);
	if (e->seeds)
		printf("entities     embedded once the graph is made: not in the estimate (%u stage%s)\n",
		       e->seeds, e->seeds == 1 ? "" : "s");
	if (e->skipped)
		printf("skipped      %llu inputs that could not be read\n",
		       (unsigned long long)e->skipped);
	if (e->rows.tables)
		printf("rows         %llu in %llu tables: %llu distinct texts to ask (chunks), %llu "
		       "skipped (empty text), %llu duplicates (before the per-row cache)\n",
		       (unsigned long long)e->rows.rows, (unsigned long long)e->rows.tables,
		       (unsigned long long)e->plan.nchunks, (unsigned long long)e->rows.skipped,
		       (unsigned long long)e->rows.duplicates);
	printf("prompt       about %llu tokens (request bytes / 4)\n", (unsigned long long)e->prompt_tokens);
	printf("completion   at most %llu tokens (api.max_tokens per request)\n",
	       (unsigned long long)e->max_completion);
	printf("cost         $%.4f for prompts + at most $%.4f for completions (model %s)\n", in, out,
	       cfg->model);
	if (batch_api)
		printf("batch api    $%.4f for prompts + at most $%.4f for completions (%.0f%% off, "
		       "pricing.batch_discount; answers within %s)\n", in * keep, out * keep,
		       cfg->batch_discount * 100, cfg->batch_window);
	else if (!strcmp(cfg->run_mode, "auto")) {
		printf("run.mode auto $%.4f for prompts + at most $%.4f for completions (the stages "
		       "below through the Batch API at %.0f%% off)\n",
		       in - e->via_in * cfg->batch_discount, out - e->via_out * cfg->batch_discount,
		       cfg->batch_discount * 100);
		buf say;
		buf_init(&say);
		pbatch_route_say(job, cfg, &say);
		fwrite(say.data, 1, say.len, stdout);
		buf_free(&say);
	}
}

int plan_cmd(const struct cli *cli)
{
	struct config cfg;
	struct prompts pr = { NULL, NULL };
	struct job job;
	memset(&job, 0, sizeof job);
	struct estimate e;
	memset(&e, 0, sizeof e);
	char err[1024] = "", dir[] = "/tmp/kgsup-plan-XXXXXX", dbdir[PATHS_MAX];
	store *db = NULL;
	FILE *out = NULL;
	int made = 0;
	config_defaults(&cfg);
	int rc = EXIT_USAGE;
	if (cli_load_config(cli, &cfg, err, sizeof err) || prompts_load(&pr, &cfg, err, sizeof err) ||
	    job_from_config(&job, &cfg, pr.system, pr.user, err, sizeof err))
		goto done;
	if (cli->ninputs == 0) {
		snprintf(err, sizeof err, "plan needs at least one input (-i PATH)");
		goto done;
	}
	if (cli->output && !(out = fopen(cli->output, "w"))) {
		snprintf(err, sizeof err, "%s: %s", cli->output, strerror(errno));
		goto done;
	}
	if (!mkdtemp(dir)) {
		snprintf(err, sizeof err, "cannot make a temporary directory: %s", strerror(errno));
		rc = EXIT_INTERNAL;
		goto done;
	}
	made = 1;
	snprintf(dbdir, sizeof dbdir, "%s/db", dir);
	if (!(db = store_open(dbdir, 0, err, sizeof err)) ||
	    plan_inputs(&cfg, &pr, &job, cli->inputs, cli->ninputs, cli->strict, NULL, db, NULL, &e.plan,
			&e.skipped, err, sizeof err))
		goto done;
	if (!cli->batch_api && !strcmp(cfg.run_mode, "auto"))
		e.via = pbatch_route(&job, &cfg, NULL);
	if (render_all(db, &cfg, &job, out, &e)) {
		snprintf(err, sizeof err, "cannot render the requests");
		rc = EXIT_INTERNAL;
		goto done;
	}
	print_estimate(&e, &cfg, &job, cli->json, cli->batch_api);
	rc = EXIT_OK;
done:
	if (err[0])
		die_msg("%s", err);
	if (out && fclose(out) != 0 && rc == EXIT_OK) {
		die_msg("%s: %s", cli->output, strerror(errno));
		rc = EXIT_INTERNAL;
	}
	store_close(db);
	if (made)
		remove_tree(dir);
	prompts_free(&pr);
	job_free(&job);
	config_free(&cfg);
	return rc;
}
