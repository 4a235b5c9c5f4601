/* status_shards.c: `kgsup status -s A -s B ...`: the shards of one run (start --shard), their
 * statuses summed into one. */
#include "status.h"
#include "shard_set.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <stddef.h>
#include <stdlib.h>
#include <string.h>

/* The state of shards together: live while one is; else the one that most needs doing
 * something (aborted, then stopped: resume it, then failed), else done. */
static uint32_t shards_state(const struct status *v, size_t n, int *live)
{
	static const uint32_t worst[] = { RUN_ABORTED, RUN_STOPPED, RUN_FAILED };
	*live = 0;
	for (size_t i = 0; i < n; i++)
		*live |= v[i].live;
	for (size_t w = 0; w < sizeof worst / sizeof worst[0]; w++)
		for (size_t i = 0; i < n; i++)
			if (!strcmp(run_state_name(v[i].c.state), run_state_name(worst[w])))
				return worst[w];
	return RUN_DONE;
}

/* The counters shards add up. */
#define SUMMED(f) offsetof(struct counters, f)
static const size_t summed[] = {
	SUMMED(requests_sent), SUMMED(requests_ok), SUMMED(retried), SUMMED(http_429),
	SUMMED(errors), SUMMED(prompt_tokens), SUMMED(completion_tokens), SUMMED(batches_done),
	SUMMED(batches_cached), SUMMED(batches_failed), SUMMED(possibly_billed),
	SUMMED(saved_prompt_tokens), SUMMED(saved_completion_tokens), SUMMED(batches_split),
	SUMMED(err_server), SUMMED(err_transport), SUMMED(err_invalid), SUMMED(batches_blocked),
	SUMMED(items_dropped), SUMMED(tokens_estimated),
};

/* Adds what counts in b to a (a's reasons, hint and limits are kept, else b's). */
static void status_add(struct status *a, const struct status *b)
{
	struct counters *x = &a->c;
	const struct counters *y = &b->c;
	for (size_t i = 0; i < sizeof summed / sizeof summed[0]; i++)
		*(uint64_t *)((char *)x + summed[i]) += *(const uint64_t *)((const char *)y + summed[i]);
	x->workers_live += b->live ? y->workers_live : 0;
	if (y->elapsed_ms > x->elapsed_ms) /* the shards ran side by side */
		x->elapsed_ms = y->elapsed_ms;
	a->plan.nchunks += b->plan.nchunks;
	a->plan.nsources += b->plan.nsources;
	a->plan.nbatches += b->plan.nbatches;
	for (size_t s = 0; s < a->job.n && s < JOB_MAX_STAGES; s++) {
		uint64_t *to = (uint64_t *)&a->sc[s];
		const uint64_t *from = (const uint64_t *)&b->sc[s];
		for (size_t k = 0; k < sizeof a->sc[s] / sizeof(uint64_t); k++)
			to[k] += from[k];
	}
	a->invalid_kept += b->invalid_kept;
	a->cost += b->cost;
	a->saved += b->saved;
	for (int i = 0; i < b->nreasons; i++) {
		int j = 0;
		while (j < a->nreasons && strcmp(a->reasons[j].text, b->reasons[i].text))
			j++;
		if (j == MAX_REASONS)
			continue;
		if (j == a->nreasons)
			a->reasons[a->nreasons++] = b->reasons[i];
		else
			a->reasons[j].n += b->reasons[i].n;
	}
	if (!a->reason[0])
		memcpy(a->reason, b->reason, sizeof a->reason);
	if (!a->hint[0])
		memcpy(a->hint, b->hint, sizeof a->hint);
	if (!a->waiting && b->waiting) {
		a->waiting = 1;
		a->wait = b->wait;
	}
}

/* status -s A -s B ...: the shards of one run, summed (the inputs skipped are every shard's
 * alike: counted once). */
int status_shards(const struct cli *cli)
{
	char err[1024] = "";
	struct shard_set set;
	int rc = shard_set_open(&set, cli->state_dirs, cli->nstates, err, sizeof err);
	if (!rc && !set.shard[0].count)
		snprintf(err, sizeof err, "%s is not a shard (start --shard): several -s sum the "
			 "shards of one run", cli->state_dirs[0]), rc = -1;
	shard_set_close(&set);
	struct status *v = xcalloc((size_t)cli->nstates, sizeof *v);
	int n = 0;
	for (; !rc && n < cli->nstates; n++)
		if (status_one(cli->state_dirs[n], &v[n], err, sizeof err))
			rc = -1;
	if (!rc) {
		uint32_t *given = xcalloc((size_t)n, sizeof *given);
		for (int i = 0; i < n; i++) {
			given[i] = v[i].shard.index;
			if (i)
				status_add(&v[0], &v[i]);
		}
		v[0].c.state = shards_state(v, (size_t)n, &v[0].live);
		v[0].elapsed_s = (double)v[0].c.elapsed_ms / 1000.0;
		v[0].given = given;
		v[0].ngiven = (size_t)n;
		print_status(cli, &v[0]);
		free(given);
	}
	for (int i = 0; i < cli->nstates; i++)
		status_release(&v[i]);
	free(v);
	if (rc)
		die_msg("%s", err);
	return rc ? EXIT_USAGE : EXIT_OK;
}

