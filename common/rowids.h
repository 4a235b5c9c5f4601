/* rowids.h: a row id seen twice in one table is an error naming both lines. The set keeps a
 * 64-bit hash of each id (the first 8 bytes of its SHA-256) and the id's line, not the id:
 * 16 bytes a slot, at most half the slots full, so at most 32 bytes a row (3,000 rows: 96
 * KiB; 10 million rows: 320 MiB). Two different ids share a hash with a chance of about
 * n^2 / 2^65 (10 million rows: 3 in a million). A caller that stores its rows anyway (the
 * plan in LMDB) can key them by rowid_hash and report with rowid_dup_error instead, and
 * then needs no set in memory. */
#ifndef KGSUP_ROWIDS_H
#define KGSUP_ROWIDS_H

#include <stddef.h>
#include <stdint.h>

struct rowids { /* a zeroed struct is an empty set */
	uint64_t *keys; /* 0: an empty slot */
	uint64_t *lines;
	size_t cap, n;
};

/* 0 when id is new (it is remembered with its line), or -1 with
 * "FILE:LINE: row id "ID" seen before at line FIRST" in err. */
int rowids_check(struct rowids *s, const char *file, const char *id, size_t n, uint64_t line,
		 char *err, size_t errlen);
void rowids_free(struct rowids *s);

/* The id's 64-bit key, never 0. */
uint64_t rowid_hash(const char *id, size_t n);
/* The error line rowids_check writes. */
void rowid_dup_error(char *err, size_t errlen, const char *file, const char *id, size_t n,
		     uint64_t line, uint64_t first_line);

#endif
