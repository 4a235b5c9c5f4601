/* status.h: what `kgsup status` knows of a run (status_cmd.c), shared with the sum of the
 * shards of one run (status_shards.c); nothing else includes it. */
#ifndef KGSUP_STATUS_H
#define KGSUP_STATUS_H

#include "../cli.h"
#include "../reach.h"
#include "../rowstore.h"
#include "../rowtally.h"
#include "../runstate.h"
#include "../pbatch_view.h"
#include "../shard.h"
#include "../broker/limits_view.h"
#include "../../common/job.h"
#include "../../common/paths.h"

#define MAX_REASONS 8

struct status {
	struct counters c;
	struct plan_rec plan;
	struct config cfg;
	struct job job;
	uint64_t skipped; /* inputs that could not be read */
	struct stage_counters sc[JOB_MAX_STAGES];
	struct row_tally rows[JOB_MAX_STAGES]; /* a job over rows */
	struct rows_plan rows_plan;
	struct row_counters rc[JOB_MAX_STAGES];
	struct { char text[160]; uint64_t n; } reasons[MAX_REASONS]; /* of blocked batches */
	int nreasons;
	int live;
	char reason[600]; /* why the run was aborted; "" otherwise */
	char hint[PATHS_MAX + 128]; /* what to do next, or "" */
	struct reach_view wait; /* a live run waiting for the server (reach.h) */
	int waiting;
	int64_t broker_since;   /* a live run waiting for its shared broker (bwait.h), */
	char broker[512];       /*   that broker; "": not waiting */
	uint64_t invalid_kept;
	double cost, saved;
	double elapsed_s;
	struct limits_view limits; /* as the broker last published them */
	struct shard_rec shard;    /* start --shard: which (count 0: a whole run) */
	struct pbatch_view pb;     /* its Batch API parts */
	uint32_t *given;           /* status -s A -s B: the shards summed (ngiven) */
	size_t ngiven;
};

/* One run's status, its dollars, hint and limits: 0, or -1 with err set (release st either
 * way). */
int status_one(const char *state_dir, struct status *st, char *err, size_t errlen);
void status_release(struct status *st);
/* As --json, --prometheus or text. */
void print_status(const struct cli *cli, const struct status *st);
/* status -s A -s B ...: the shards of one run, summed (status_shards.c). */
int status_shards(const struct cli *cli);

#endif
