/* pbatch_route.c: which stages go through the Batch API (pbatch.h). run.mode "live": none;
 * "batch": all; "auto": each stage whose answers would come back within batch.max_wait_h of the
 * start, counting batch.expected_h for each round through the Batch API on its way (its own
 * and those of the stages it reads), and live time as none. Stages are taken in their order
 * (stages over entities last), which puts the stages read first (the bulk of a run: chunks)
 * ahead of those that read them, so the earlier a stage the likelier it goes at the discount. */
#include "pbatch.h"

#include <string.h>

/* The stages stage i reads: its needs, and for an embedding stage over entities every graph
 * stage (it waits for the graph to settle: deps.c). */
static uint32_t reads(const struct job *j, size_t i)
{
	uint32_t m = j->st[i].needs;
	if (j->st[i].over == OVER_ENTITIES)
		for (size_t k = 0; k < j->n; k++)
			if (j->st[k].graph && k != i)
				m |= 1u << k;
	return m;
}

uint32_t pbatch_route_all(const struct job *j)
{
	return j->n >= 32 ? UINT32_MAX : (1u << j->n) - 1;
}

uint32_t pbatch_route(const struct job *j, const struct config *cfg, double *wait_h)
{
	size_t n = j->n < JOB_MAX_STAGES ? j->n : JOB_MAX_STAGES;
	uint32_t all = pbatch_route_all(j);
	int mode_batch = !strcmp(cfg->run_mode, "batch"), mode_auto = !strcmp(cfg->run_mode, "auto");
	uint32_t via = 0;
	double after[JOB_MAX_STAGES]; /* hours from the start until stage i's answers are in */
	/* in the order the stages can go: a stage over entities after every graph stage, even one
	 * listed after it (deps.c holds it back until the graph is made) */
	size_t order[JOB_MAX_STAGES], k = 0;
	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < n; i++)
			if ((j->st[i].over == OVER_ENTITIES) == pass)
				order[k++] = i;
	for (size_t o = 0; o < n; o++) {
		size_t i = order[o];
		double before = 0; /* until what it reads is in (all of it placed before it) */
		for (size_t r = 0; r < o; r++)
			if (reads(j, i) >> order[r] & 1 && after[order[r]] > before)
				before = after[order[r]];
		int batch = mode_batch ||
			    (mode_auto && before + cfg->batch_expected_h <= cfg->batch_max_wait_h);
		after[i] = before + (batch ? cfg->batch_expected_h : 0);
		if (wait_h)
			wait_h[i] = after[i];
		if (batch)
			via |= 1u << i;
	}
	return via & all;
}

void pbatch_route_say(const struct job *j, const struct config *cfg, buf *out)
{
	double wait[JOB_MAX_STAGES];
	uint32_t via = pbatch_route(j, cfg, wait);
	for (size_t i = 0; i < j->n && i < JOB_MAX_STAGES; i++) {
		const char *name = j->st[i].name ? j->st[i].name : "kg";
		if (via >> i & 1)
			buf_printf(out, "stage %s: through the Batch API, answers expected %.4g h after "
				   "the start (batch.max_wait_h %.4g)\n", name, wait[i],
				   cfg->batch_max_wait_h);
		else
			buf_printf(out, "stage %s: live, as another round through the Batch API would "
				   "make it %.4g h (batch.expected_h %.4g, batch.max_wait_h %.4g)\n", name,
				   wait[i] + cfg->batch_expected_h, cfg->batch_expected_h,
				   cfg->batch_max_wait_h);
	}
}
