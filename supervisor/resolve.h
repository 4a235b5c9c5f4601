/* resolve.h: entity resolution. After graph_build merged entities by normal name and type,
 * entities of the same type whose embedding vectors are at least a threshold alike (cosine)
 * are merged too: the components of the graph "alike enough" (union-find, so A~B and B~C put
 * A, B and C together even when A and C are less alike). The result depends on the vectors
 * and the entities' contents only, never on their order (see resolve.c for the rules).
 *
 * Comparing all pairs is quadratic: a type with few entities is compared pair by pair (exact);
 * a larger one is cut into buckets by random-hyperplane signatures of the vectors (several
 * tables) and only pairs sharing a bucket are compared, which may miss a pair (BENCHMARKS.md
 * measures how often). Every merge is confirmed by its exact cosine. */
#ifndef KGSUP_RESOLVE_H
#define KGSUP_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/job.h"
#include "../common/store.h"
#include "graph.h"
#include "graph_write.h"

/* The entities' vectors: row row_of[e] of rows (dims floats each) is entity e's, or none when
 * row_of[e] is UINT32_MAX. resolve_entities scales the rows it uses to unit length. */
struct resolve_vectors {
	float *rows;
	size_t dims;
	const uint32_t *row_of; /* g->nentities of them */
};

struct resolve_opts {
	double threshold;         /* cosine at least this merges */
	size_t exact_below;       /* a type with fewer entities than this: all pairs (0: default) */
	size_t max_descriptions;  /* distinct descriptions kept when merging */
	/* the buckets: tables, signature bits, hyperplanes the bits are drawn from (0: defaults) */
	size_t lsh_tables, lsh_bits, lsh_planes;
};

struct resolve_stats {
	uint64_t pairs;      /* cosines computed */
	uint64_t exact_blocks, lsh_blocks;
	uint64_t merged;     /* entities merged into another */
	uint64_t unvectored; /* graph_resolve: entities without a vector (left as they are) */
};

/* Merges g's entities as above; relations are re-pointed to the merged entities, and those
 * that become alike merge as graph_build merges relations; a relation between two entities
 * that merged (a loop the merge made) is left out and counted in g->dropped_self_loops.
 * g->merges lists each merged entity. */
void resolve_entities(struct graph *g, const struct resolve_vectors *vecs,
		      const struct resolve_opts *opts, struct resolve_stats *stats);

/* The run's step: when cfg has graph.resolve and job an embedding stage over entities, reads
 * the entities' vectors that stage stored in t and resolves g. Call it where the graph is
 * exported or read, after graph_build: never where the entities to embed are listed (they are
 * the entities graph_build makes). 0 (also when there is nothing to do), or -1 with err set. */
int graph_resolve(store_txn *t, const struct config *cfg, const struct job *job, struct graph *g,
		  struct resolve_stats *stats, char *err, size_t errlen);

/* `export -f merges`: a TSV header then one line per merged entity (tabs and newlines in names
 * become spaces): kept_id, kept_name, merged_id, merged_name, type, similarity. */
graph_writer resolve_write_merges;

#endif
