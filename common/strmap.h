/* strmap.h: a map from byte strings (copied in) to 32-bit numbers, open addressing with FNV-1a,
 * grown at half full. For indexes built in memory: the graph's merge keys, the dry-run plan's
 * texts. A zeroed struct strmap is an empty map. */
#ifndef KGSUP_STRMAP_H
#define KGSUP_STRMAP_H

#include <stddef.h>
#include <stdint.h>

struct strmap {
	char **keys;
	size_t *klens;
	uint32_t *vals;
	size_t cap, n;
};

/* The number stored under key, or UINT32_MAX. */
uint32_t map_get(const struct strmap *m, const void *key, size_t n);
/* Stores v under key unless key is there; returns what key maps to afterwards. */
uint32_t map_put(struct strmap *m, const void *key, size_t n, uint32_t v);
void map_free(struct strmap *m);

#endif
