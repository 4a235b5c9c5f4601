/* vectors.h: a run's embedding vectors as export (-f vectors, -f npy) and search read them,
 * item by item in a fixed order: for each embedding stage over chunks its chunks in chunk
 * order, then for each one over entities the graph's entities in graph order. An item whose
 * vector is not in the store (the run is not finished) is skipped and counted. */
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
	store_txn *t;
	struct config cfg; /* the run's recorded settings */
	struct job job;
	struct plan_rec plan;
	struct graph g;    /* built when a chosen stage goes over entities */
	int have_graph;
	int order[JOB_MAX_STAGES]; /* the chosen stages, those over chunks first */
	size_t norder;
	uint64_t missing;  /* items walked without a vector */
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

/* Opens the run's vectors in t: the embedding stages, or only the one called stage (non-NULL).
 * 0, or -1 with err set (no embedding stage, or stage is not one); vectors_close either way. */
int vectors_open(struct vectors *v, store_txn *t, const char *stage, char *err, size_t errlen);
void vectors_close(struct vectors *v);
/* Walks the items of stage (a job index) that have a vector (v->keys: that stage's). */
int vectors_walk(struct vectors *v, int stage, vectors_fn *fn, void *arg);
/* The dimensions of stage's first vector, 0 when it has none yet. */
size_t vectors_dims(struct vectors *v, int stage);
/* The path of source number n ("" when none). */
const char *vectors_source(const struct vectors *v, uint32_t n);
/* Chunk n's record and text (valid while t is): 0, or -1 when it is missing. */
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
 * vectors.npy and ids.tsv. stage: the one stage to write, or NULL (all; npy refuses stages of
 * different dimensions). 0, or -1 with err set. (vectors_export.c) */
int vectors_export_jsonl(store_txn *t, const char *stage, const char *output, char *err,
			 size_t errlen);
int vectors_export_npy(store_txn *t, const char *stage, const char *dir, char *err,
		       size_t errlen);

#endif
