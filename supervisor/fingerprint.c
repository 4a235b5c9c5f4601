/* fingerprint.c: what a run's fingerprint hashes besides its inputs: the settings and
 * templates that shape its requests, so that a state directory of another run is told apart. */
#include "plan.h"
#include "../common/hash.h"

#include <string.h>

/* What shapes the requests besides the chunks: model and sampling settings, chunking and the
 * prompt templates. */
void plan_fingerprint_settings(hash_ctx *fp, const struct config *cfg, const struct prompts *pr,
				 const struct job *job)
{
	buf s;
	buf_init(&s);
	buf_printf(&s, "v%d\n%s\n%.17g\n%lld\n%d\n%lld\n%lld\n%lld\n%s\n", RUNSTATE_VERSION,
		   cfg->model, cfg->temperature, (long long)cfg->max_tokens, cfg->json_mode,
		   (long long)cfg->chunk_tokens, (long long)cfg->overlap_tokens,
		   (long long)cfg->chunks_per_batch, cfg->entity_types);
	hash_update(fp, s.data, s.len);
	hash_update(fp, pr->system, strlen(pr->system) + 1);
	hash_update(fp, pr->user, strlen(pr->user) + 1);
	if (!job->legacy) { /* the stages, with their templates and schemas */
		buf_reset(&s);
		job_to_json(job, &s);
		buf_printf(&s, "\n%d\n%lld", cfg->structured_outputs, (long long)cfg->chunk_tokens);
		hash_update(fp, s.data, s.len);
	}
	buf_free(&s);
}

