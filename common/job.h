/* job.h: what a run asks, as stages. A job is a small graph of stages; each stage makes one
 * kind of request (its prompt templates, schema, model and sampling settings) over chunks or
 * documents, and may need the answers of earlier stages for the same document. A config
 * without "stages" is the one knowledge-graph stage built from its other keys, which renders
 * the very requests kgsup made before stages existed (so their cached answers still answer).
 *
 * A job is read from the config (templates and schemas are files relative to it) and written
 * as one self-contained JSON document (texts inline) that the run records and its workers and
 * later sessions read back, so that changing a file after start changes nothing in the run. */
#ifndef KGSUP_JOB_H
#define KGSUP_JOB_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "config.h"

#define JOB_MAX_STAGES 32

/* What a stage runs over: one request per group of per_call chunks, per document, or per
 * group of per_call rows of a table (their texts that are still unanswered), or (embedding
 * stages only) per group of per_call entities of the graph the graph stages made. */
#define STAGE_OVER(X)                                                                     \
	X(OVER_CHUNKS, "chunks") X(OVER_DOCUMENTS, "documents") X(OVER_ROWS, "rows")      \
	X(OVER_ENTITIES, "entities")
#define STAGE_OVER_ENUM(e, s) e,
enum stage_over { STAGE_OVER(STAGE_OVER_ENUM) OVER_COUNT };

/* The placeholders a template may hold; render.c fills them, job.c checks templates. */
#define PLACEHOLDERS(X)                                                                   \
	X(PH_CHUNKS, "chunks")                                                            \
	X(PH_DOCUMENT, "document")                                                        \
	X(PH_DOCUMENT_NAME, "document_name")                                              \
	X(PH_CONTEXT, "context")                                                          \
	X(PH_SCHEMA, "schema")                                                            \
	X(PH_ENTITY_TYPES, "entity_types")                                                \
	X(PH_ROWS, "rows")
#define PLACEHOLDER_ENUM(e, s) e,
enum placeholder { PLACEHOLDERS(PLACEHOLDER_ENUM) PH_COUNT };

/* The API a stage calls: chat completions (answers checked against a schema) or embeddings
 * (one vector per input text, job_embed.c). */
#define STAGE_ENDPOINTS(X) X(EP_CHAT, "chat") X(EP_EMBEDDINGS, "embeddings")
#define STAGE_ENDPOINT_ENUM(e, s) e,
enum stage_endpoint { STAGE_ENDPOINTS(STAGE_ENDPOINT_ENUM) EP_COUNT };

struct stage {
	char *name;
	enum stage_over over;
	enum stage_endpoint endpoint;
	int64_t dimensions;       /* embeddings: passed through when set; 0: the model's */
	int64_t max_call_tokens;  /* embeddings: a call's inputs, in tokens, at most */
	int graph;  /* its answers make the knowledge graph */
	char *model;
	int64_t max_tokens, per_call, max_input_tokens;
	double temperature;
	char *system, *user;    /* the templates' texts */
	char *schema;           /* the schema's compact JSON, or NULL (graph stages: the KG one) */
	int strict;             /* it is fit for strict structured outputs */
	uint32_t needs;         /* bit i: the stage needs stage i's answers for its document */
	int64_t token_budget;   /* of {{context}}; 0: no budget */
	int64_t top_n;          /* arrays in the context cut to this many items; 0: not cut */
	char **include_keys;    /* the context keeps only these keys of each answer, if any */
	size_t ninclude;
	int level;              /* 0 when it needs nothing, else one more than its needs' highest */
	int dependents;         /* how many stages need it */
	char *item_key;         /* rows: the field of an answer's items holding the row id */
};

struct job {
	int legacy;     /* the config has no stages: one KG stage, requests as before stages */
	int rows;       /* its stages go over the rows of tables (then all of them do) */
	size_t n;
	struct stage *st;
};

/* The job of a config: its stages (files read relative to cfg->config_dir), or else the one KG
 * stage with the templates given. -1 with a one-line message naming the file, the line or the
 * key ("CONFIG: stages[2].needs: \"x\" is not an earlier stage"). */
int job_from_config(struct job *j, const struct config *cfg, const char *system,
		    const char *user, char *err, size_t errlen);
/* The job as one self-contained JSON document, and back. */
void job_to_json(const struct job *j, buf *b);
int job_parse(struct job *j, const struct config *cfg, const char *text, size_t len,
	      const char *name, char *err, size_t errlen);
void job_free(struct job *j);
/* The stage's index, or -1. */
int job_stage(const struct job *j, const char *name);
/* Non-zero when some stage needs another (the ledger then tracks readiness). */
int job_has_needs(const struct job *j);

/* The placeholder "{{name}}" that text starts with: its number, and its length in *len; -1
 * when text does not start with a known one. */
int placeholder_at(const char *text, size_t *len);
extern const char *const placeholder_names[PH_COUNT];
extern const char *const stage_over_names[OVER_COUNT];
extern const char *const stage_endpoint_names[EP_COUNT];

/* An embedding stage (job_embed.c): its settings from v (the stage's object in the config or
 * the run's record), checked; -1 with a one-line message naming the key. */
struct json;
int job_embed_stage(struct job *j, struct stage *st, const struct json *v, const char *where,
		    char *err, size_t errlen);
/* Its part of the job's JSON record. */
void job_embed_to_json(const struct stage *st, buf *b);
/* An embedding stage over the graph's entities (job.c lets only embedding stages go over
 * entities; the endpoint is checked too so that the test stays true if that changes). */
static inline int stage_embeds_entities(const struct stage *st)
{
	return st->endpoint == EP_EMBEDDINGS && st->over == OVER_ENTITIES;
}
/* Non-zero when some stage is an embedding stage / one over entities (it waits for the
 * graph); the first stage over entities, or NULL. */
int job_embeds(const struct job *j);
int job_embeds_entities(const struct job *j);
const struct stage *job_entity_stage(const struct job *j);

#endif
