/* stageview.c: a run's figures by stage (stageview.h). */
#include "stageview.h"

#include <string.h>

static double stage_cost(const struct stage *st, const struct config *cfg,
			 const struct stage_counters *c)
{
	return config_cost_model(cfg, st->model, c->prompt_tokens, c->completion_tokens);
}

double stages_cost(const struct job *j, const struct config *cfg, const struct stage_counters *sc)
{
	double sum = 0;
	for (size_t i = 0; i < j->n; i++)
		sum += stage_cost(&j->st[i], cfg, &sc[i]);
	return sum;
}

double stages_saved(const struct job *j, const struct config *cfg, const struct stage_counters *sc)
{
	double sum = 0;
	for (size_t i = 0; i < j->n; i++)
		sum += config_cost_model(cfg, j->st[i].model, sc[i].saved_prompt_tokens,
					 sc[i].saved_completion_tokens);
	return sum;
}

static uint64_t pending(const struct stage_counters *c)
{
	uint64_t settled = c->done + c->failed + c->blocked;
	return c->batches > settled ? c->batches - settled : 0;
}

void stages_json(buf *b, const struct job *j, const struct config *cfg,
		 const struct stage_counters *sc)
{
	if (j->legacy)
		return;
	buf_puts(b, ",\"stages\":{");
	for (size_t i = 0; i < j->n; i++) {
		const struct stage_counters *c = &sc[i];
		if (i)
			buf_putc(b, ',');
		buf_json_str(b, j->st[i].name, strlen(j->st[i].name));
		buf_printf(b, ":{\"over\":\"%s\",\"model\":", stage_over_names[j->st[i].over]);
		buf_json_str(b, j->st[i].model, strlen(j->st[i].model));
		buf_printf(b, ",\"batches\":{\"total\":%llu,\"done\":%llu,\"cached\":%llu,"
			   "\"failed\":%llu,\"blocked\":%llu,\"pending\":%llu},\"requests\":%llu,"
			   "\"tokens\":{\"prompt\":%llu,\"completion\":%llu},\"cost_usd\":%.6f,"
			   "\"documents_cut\":%llu,\"context\":{\"tokens\":%llu,\"trimmed\":%llu},"
			   "\"latency_ms\":%llu}",
			   (unsigned long long)c->batches, (unsigned long long)c->done,
			   (unsigned long long)c->cached, (unsigned long long)c->failed,
			   (unsigned long long)c->blocked, (unsigned long long)pending(c),
			   (unsigned long long)c->requests, (unsigned long long)c->prompt_tokens,
			   (unsigned long long)c->completion_tokens, stage_cost(&j->st[i], cfg, c),
			   (unsigned long long)c->cut, (unsigned long long)c->ctx_tokens,
			   (unsigned long long)c->ctx_trimmed, (unsigned long long)c->latency_ms);
	}
	buf_putc(b, '}');
}

void stages_text(FILE *out, const struct job *j, const struct config *cfg,
		 const struct stage_counters *sc)
{
	if (j->legacy)
		return;
	fprintf(out, "stages\n");
	for (size_t i = 0; i < j->n; i++) {
		const struct stage_counters *c = &sc[i];
		fprintf(out, "  %-14s %llu/%llu done, %llu cached, %llu failed, %llu blocked, "
			"%llu requests, %llu+%llu tokens, $%.4f", j->st[i].name,
			(unsigned long long)c->done, (unsigned long long)c->batches,
			(unsigned long long)c->cached, (unsigned long long)c->failed,
			(unsigned long long)c->blocked, (unsigned long long)c->requests,
			(unsigned long long)c->prompt_tokens, (unsigned long long)c->completion_tokens,
			stage_cost(&j->st[i], cfg, c));
		if (c->cut)
			fprintf(out, ", %llu documents cut at max_input_tokens",
				(unsigned long long)c->cut);
		if (c->ctx_trimmed)
			fprintf(out, ", %llu context tokens trimmed", (unsigned long long)c->ctx_trimmed);
		fputc('\n', out);
	}
}

void stages_brief(buf *b, const struct job *j, const struct stage_counters *sc)
{
	if (j->legacy)
		return;
	for (int finished = 0; finished < 2; finished++)
		for (size_t i = 0; i < j->n; i++) {
			const struct stage_counters *c = &sc[i];
			if ((pending(c) == 0) != finished)
				continue;
			buf_printf(b, " %s %llu/%llu", j->st[i].name, (unsigned long long)c->done,
				   (unsigned long long)c->batches);
		}
}
