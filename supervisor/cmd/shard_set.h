/* shard_set.h: the state directories a client command reads together: one run, or the shards
 * of one run (start --shard), each opened read-only with a read transaction, checked to be of
 * one run (the same plan fingerprint), of one count of shards, none twice. */
#ifndef KGSUP_SHARD_SET_H
#define KGSUP_SHARD_SET_H

#include <stddef.h>

#include "../runstate.h"
#include "../shard.h"

struct shard_set {
	size_t n;
	char *const *dirs;
	store **db;
	store_txn **t;
	struct shard_rec *shard; /* each one's (count 0: a whole run) */
	struct plan_rec plan;    /* the first one's */
};

/* 0, or -1 with err naming the directory and what is wrong; close it either way. A set of
 * shards that lacks some is read with a warning naming them (the export holds the others'
 * documents). */
int shard_set_open(struct shard_set *s, char *const *dirs, int n, char *err, size_t errlen);
void shard_set_close(struct shard_set *s);
/* Whether s is one or more shards owning no document at all (a document goes to the shard its
 * text's hash falls to: with few documents, some shards have none): 1, with what naming them
 * ("DIR: shard 2/8 owns no documents of its run"); else 0. */
int shard_set_owns_none(const struct shard_set *s, char *what, size_t n);

#endif
