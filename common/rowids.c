/* rowids.c: the duplicate row id check (see rowids.h): an open-addressing set of id hashes
 * with the line each was first seen on, grown at half full. */
#include "rowids.h"
#include "buf.h"
#include "hash.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

uint64_t rowid_hash(const char *id, size_t n)
{
	unsigned char d[HASH_LEN];
	hash_once(id, n, d);
	uint64_t h = 0;
	for (int i = 0; i < 8; i++)
		h = h << 8 | d[i];
	return h ? h : 1;
}

void rowid_dup_error(char *err, size_t errlen, const char *file, const char *id, size_t n,
		     uint64_t line, uint64_t first_line)
{
	int shown = n > 200 ? 200 : (int)n; /* an id is meant to be short */
	snprintf(err, errlen, "%s:%llu: row id \"%.*s%s\" seen before at line %llu", file,
		 (unsigned long long)line, shown, id, (size_t)shown < n ? "..." : "",
		 (unsigned long long)first_line);
}

/* The slot of key: where it is, or the empty one where it would go. */
static size_t slot_of(const struct rowids *s, uint64_t key)
{
	size_t i = (size_t)key & (s->cap - 1);
	while (s->keys[i] && s->keys[i] != key)
		i = (i + 1) & (s->cap - 1);
	return i;
}

static void grow(struct rowids *s)
{
	struct rowids old = *s;
	s->cap = old.cap ? old.cap * 2 : 1024;
	s->keys = xcalloc(s->cap, sizeof *s->keys);
	s->lines = xcalloc(s->cap, sizeof *s->lines);
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i]) {
			size_t j = slot_of(s, old.keys[i]);
			s->keys[j] = old.keys[i];
			s->lines[j] = old.lines[i];
		}
	free(old.keys);
	free(old.lines);
}

int rowids_check(struct rowids *s, const char *file, const char *id, size_t n, uint64_t line,
		 char *err, size_t errlen)
{
	if ((s->n + 1) * 2 > s->cap)
		grow(s);
	uint64_t key = rowid_hash(id, n);
	size_t i = slot_of(s, key);
	if (s->keys[i]) {
		rowid_dup_error(err, errlen, file, id, n, line, s->lines[i]);
		return -1;
	}
	s->keys[i] = key;
	s->lines[i] = line;
	s->n++;
	return 0;
}

void rowids_free(struct rowids *s)
{
	free(s->keys);
	free(s->lines);
	memset(s, 0, sizeof *s);
}
