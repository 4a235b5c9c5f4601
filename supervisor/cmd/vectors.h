/* vectors.h: a run's embedding vectors as export (-f vectors, -f npy) and search read them,
 * item by item in a fixed order: for each embedding stage over chunks its chunks in chunk
 * order, then for each one over entities the graph's entities in graph order. An item whose
 * vector is not in the store (the run is not finished) is skipped and counted.
 *
 * The shards of one run (start --shard) are read as the run: every shard numbers the chunks as
 * the whole run does, and a chunk's text and vector are in the store of the shard that owns its
 * document, so the walk takes each chunk from there and gives what one machine's run gives
 * (vectors keyed by text: the same text has the same vector whoever embedded it, for a server
 * that answers a text always alike). A shard not given: its chunks are left out (the shard set
 * warned). Shards have no stage over entities (shard.h). */
#ifndef KGSUP_VECTORS_H
#define KGSUP_VECTORS_H

#include <stddef.h>
#include <stdint.h>

#include "../graph.h"
#include "../runstate.h"
#include "../../common/job.h"

struct vitem {
	char kind;        /* 'c': a chunk, 'e': an entity */
	uint32_t n;       /* the chunk's number, or the entity's */
	int stage;        /* its stage's index in the job */
	const char *id;
	const char *document; /* the chunk's source; an entity's: where it was first seen */
	const char *text; /* the chunk's text, or the entity's name */
	size_t len;
	const char *type; /* an entity's type ("" for chunks) */
	int64_t start_ms, end_ms; /* a chunk's cue times, -1 when none */
};

/* The vector of it (dims floats, aligned, valid until the next item). Non-zero stops the walk
 * and is returned. */
typedef int vectors_fn(const struct vitem *it, const float *v, size_t dims, void *arg);

struct vectors {
	store_txn *t;         /* the first store: the run's settings, plan and sources */
	store_txn *const *ts; /* every store read: the run, or shards of one (ts[0] is t) */
	size_t nt;
	/* shards: per source, the index in ts of the store holding its chunks' texts and vectors
	 * (SHARD_NO_STORE: a shard not given); NULL for a whole run, whose t holds them all */
	uint32_t *doc_store;
	store_txn *at;        /* the store of the item walked */
	struct config cfg; /* the run's recorded settings */
	struct job job;
	struct plan_rec plan;
	struct graph g;    /* built when a chosen stage goes over entities */
	int have_graph;
	int order[JOB_MAX_STAGES]; /* the chosen stages, those over chunks first */
	size_t norder;
	uint64_t missing;  /* items walked without a vector */
	uint64_t missing_in[JOB_MAX_STAGES]; /* of them, per stage */
	char **sources;    /* per source number: its path */
	float *vec;        /* the current item's vector */
	size_t cap;
	int lean;          /* a walk over chunks gives only their numbers (search's load) */
	/* Each chunk's key in the stage walked, plan.nchunks x HASH_LEN (malloc'd), when the
	 * caller keeps them (search, in DIR/search/): making a key hashes the chunk's text, which
	 * is most of the cost of a walk. keys_known: they are, else the walk fills them in. */
	unsigned char *keys;
	int keys_known;
};

/* Opens the run's vectors in ts[0..nt-1] (a run, or shards of one: shard_set.h checks them):
 * the embedding stages, or only the one called stage (non-NULL). 0, or -1 with err set (no
 * embedding stage, or stage is not one); vectors_close either way. */
int vectors_open(struct vectors *v, store_txn *const *ts, size_t nt, const char *stage, char *err,
		 size_t errlen);
void vectors_close(struct vectors *v);
/* Walks the items of stage (a job index) that have a vector (v->keys: that stage's). */
int vectors_walk(struct vectors *v, int stage, vectors_fn *fn, void *arg);
/* The dimensions of stage's first vector, 0 when it has none yet. */
size_t vectors_dims(struct vectors *v, int stage);
/* The path of source number n ("" when none). */
const char *vectors_source(const struct vectors *v, uint32_t n);
/* Chunk n's record and text, from the store that holds it (valid while that is open): 0, or -1
 * when it is missing. */
int vectors_chunk(struct vectors *v, uint32_t n, struct chunk_rec *rec, const char **text,
		  size_t *len);

/* One stage's vectors as a matrix (vmatrix.c), and what each row is. */
struct vmatrix {
	int stage;
	float *rows;     /* n x dims, normalised */
	size_t n, cap, dims, bytes;
	uint32_t *item;  /* per row: the chunk's or the entity's number */
	uint64_t other;  /* vectors of other dimensions than the first's, left out */
};

/* Reads stage's vectors into m: 0, or -1 with err set (out of memory). */
int vmatrix_load(struct vectors *v, int stage, struct vmatrix *m, char *err, size_t errlen);
void vmatrix_free(struct vmatrix *m);

/* export -f vectors: a JSON line per vector to output (NULL: standard output); -f npy: dir's
 * vectors.npy and ids.tsv; of a run, or of shards of one (as vectors_open). stage: the one stage to write, or NULL (all; npy refuses stages of
 * different dimensions). 0, or -1 with err set. (vectors_export.c) */
int vectors_export_jsonl(store_txn *const *ts, size_t nt, const char *stage, const char *output,
			 char *err, size_t errlen);
int vectors_export_npy(store_txn *const *ts, size_t nt, const char *stage, const char *dir,
		       char *err, size_t errlen);

#endif
