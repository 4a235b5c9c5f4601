/* graph.h: the knowledge graph of a run, merged from its stored answers. Entities merge by the
 * normal form of their name (names.h) and type; relations by (source, target, normal type).
 * Each keeps its surface forms, up to graph.max_descriptions distinct descriptions and the set
 * of chunks it was seen in (its provenance: chunk, source file, cue times). Entities and
 * relations are numbered in order of first appearance in the input, so the same run always
 * gives the same graph. */
#ifndef KGSUP_GRAPH_H
#define KGSUP_GRAPH_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/job.h"
#include "../common/store.h"

struct form {
	char *text;
	uint32_t seen;
	/* a name's cosine similarity to the entity it was merged into by entity resolution
	 * (resolve.h): that of the entity it was a name of; 1 for the entity's own names */
	float similarity;
};

struct forms {
	struct form *v;
	size_t n;
};

struct u32s {
	uint32_t *v;
	size_t n, cap;
};

struct gentity {
	char id[17];          /* "e" + 15 hex digits of the hash of the merge key */
	struct forms names;   /* as written, most often first after graph_build */
	struct forms types;
	struct forms descriptions; /* distinct, in order of appearance */
	struct u32s chunks;   /* chunk numbers, ascending and distinct after graph_build */
};

struct grelation {
	char id[17];
	uint32_t source, target; /* entity numbers */
	struct forms types;
	struct forms descriptions;
	struct u32s chunks;
};

/* An entity that entity resolution merged into another (resolve.h). */
struct gmerge {
	uint32_t kept;        /* the entity it is now part of */
	char merged_id[17];   /* its id before the merge */
	char *merged_name;    /* its name before the merge */
	float similarity;     /* cosine of its vector and the kept entity's */
};

struct gchunk {
	char id[17];
	uint32_t source;
	int64_t start_ms, end_ms; /* -1 when the format has no cue times */
};

struct graph {
	struct gentity *entities;
	size_t nentities, capentities;
	struct grelation *relations;
	size_t nrelations, caprelations;
	struct gchunk *chunks;
	size_t nchunks;
	char **sources;
	size_t nsources;
	uint64_t answers;             /* stored answers read */
	uint64_t entity_records, relation_records; /* before merging */
	uint64_t dropped_by_answer;   /* relations the answers' validation left out */
	uint64_t dropped_unresolved;  /* relations whose end names no entity at all */
	int resolved;                 /* entity resolution ran (resolve.h) */
	struct gmerge *merges;        /* what it merged, by kept entity, then similarity */
	size_t nmerges;
	uint64_t dropped_self_loops;  /* relations between two entities it merged */
	void *maps;                   /* graph.c's indexes, of graph_build's numbering only */
};

/* Builds g from the run in t with cfg's graph settings, from the answers of job's stages that
 * have graph true (a run without stages: every answer; the other stages' answers are not
 * knowledge-graph answers). Returns 0, or -1 with err set. */
int graph_build(store_txn *t, const struct config *cfg, const struct job *job, struct graph *g,
		char *err, size_t errlen);
/* The same from the stores of several shards of one run (t[0..nt-1], start --shard), their
 * answers taken in the order of the whole run's batches: the graph one machine running the
 * whole corpus would make. Each shard holds every chunk's and source's record (the whole
 * run's numbers); t[0]'s are used. */
int graph_build_shards(store_txn *const *t, size_t nt, const struct config *cfg,
		       const struct job *job, struct graph *g, char *err, size_t errlen);
void graph_free(struct graph *g);

/* Merging pieces, as graph_build merges (for entity resolution): from's forms added to into's
 * with their counts and similarity (distinct texts, at most max; graph_forms_by_seen orders
 * them by count after); from's chunks added to into's, ascending and distinct. */
#define GRAPH_MAX_FORMS 64
void graph_forms_merge(struct forms *into, const struct forms *from, size_t max);
void graph_forms_by_seen(struct forms *f);
void graph_chunks_merge(struct u32s *into, const struct u32s *from);
void graph_forms_free(struct forms *f);
/* An entity's or relation's id: prefix and the first hex digits of the hash of key. */
void graph_make_id(char prefix, const char *key, size_t n, char id[17]);

/* The path of source number source ("" when the run has no such source). */
const char *graph_source_name(const struct graph *g, uint32_t source);

/* Weight: the number of distinct chunks it was seen in. */
static inline uint64_t graph_weight(const struct u32s *chunks)
{
	return chunks->n;
}

#endif
