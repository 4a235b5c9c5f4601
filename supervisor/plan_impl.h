/* plan_impl.h: what plan.c and plan_rows.c share; nothing else includes it. */
#ifndef KGSUP_PLAN_IMPL_H
#define KGSUP_PLAN_IMPL_H

#include <sys/types.h>

#include "plan.h"
#include "shard.h"
#include "rowstore.h"
#include "../common/hash.h"
#include "../common/strmap.h"

/* Commit the plan every so many chunks or bytes of chunk text (whichever comes first, at the
 * end of a batch), so a huge input never makes one huge transaction: LMDB holds the pages a
 * transaction writes in memory until it commits. */
#define PLAN_TXN_CHUNKS 4096
#define PLAN_TXN_BYTES ((size_t)16 << 20)

struct planner {
	const struct config *cfg;
	const struct job *job; /* stages: batches are made per document once all is read */
	struct doc_spans spans;
	size_t doc_max;  /* bytes of a document documents stages read (0: none reads any) */
	buf doc;         /* the name and text of the document being read, up to doc_max */
	size_t doc_head; /* bytes of doc before the text */
	int doc_full;    /* the document's text reached doc_max */
	store *db;
	store_txn *txn;
	hash_ctx *fp;
	struct plan_rec plan;
	uint32_t batch_first, batch_n; /* the batch being filled */
	uint32_t txn_chunks;
	size_t txn_bytes;
	buf rec;
	char *err;
	size_t errlen;
	int failed;
	size_t root_len; /* the part of every path below the current -i argument to leave out */
	/* directories already walked, against symlink loops */
	struct { dev_t dev; ino_t ino; } *seen;
	size_t nseen, capseen;
	struct strmap texts; /* without a store (kgsup plan): SHA-256 of the texts planned so far */
	/* the document being read: the hash of its whole text when it comes in parts (read
	 * ahead, since it is needed before the first part), and whether it is a copy to skip */
	unsigned char text_hash[HASH_LEN];
	int have_text_hash;
	int skipping;
	int strict;
	uint64_t skipped;      /* inputs left out because they could not be read */
	uint64_t file_docs;    /* documents (or parts hashed) of the file being read */
	struct rows_plan rows; /* tables: what their rows came to */
	int have_columns;      /* the first table's columns are recorded */
	/* without input.keep_columns, the first table's kept columns, which later tables keep
	 * too: their cells go under its headers */
	char **first_keep;
	size_t nfirst_keep;
	/* --shard: the whole run is planned, its numbers kept; the texts and batches kept are
	 * those of the shard's documents (a run without stages: of the batches whose first
	 * chunk is of one, as its batches run across documents) */
	struct shard_plan shard;
	int doc_owned;   /* the document being read is the shard's */
	int batch_owned; /* the batch being filled (no stages) is the shard's */
};

/* The plan's write transaction, begun when there is none (room made for a group first). */
int planner_txn(struct planner *pl);
int planner_commit(struct planner *pl);
/* An input that cannot be read is skipped and counted, unless strict (err says why). */
int skip_input(struct planner *pl, const char *why);
/* One file read and planned (plan.c); a path, file or directory, walked (plan_walk.c):
 * explicit when given to -i (then a path that cannot be read is an error, not a skip). */
int plan_file(struct planner *pl, const char *path);
int plan_path(struct planner *pl, const char *path, int explicit);
/* A table's rows (plan_rows.c): each row recorded, each distinct text a chunk. 0, or -1 with
 * pl->err set. */
int plan_table(struct planner *pl, const char *path);

#endif
