/* strmap.c: an open-addressing hash map from byte strings to numbers (see strmap.h). */
#include "strmap.h"
#include "buf.h"

#include <stdlib.h>
#include <string.h>

static uint64_t fnv1a(const void *key, size_t n)
{
	uint64_t h = 1469598103934665603ULL;
	for (size_t i = 0; i < n; i++)
		h = (h ^ ((const unsigned char *)key)[i]) * 1099511628211ULL;
	return h;
}

static size_t slot_of(const struct strmap *m, const void *key, size_t n)
{
	size_t i = (size_t)fnv1a(key, n) & (m->cap - 1);
	while (m->keys[i] && (m->klens[i] != n || memcmp(m->keys[i], key, n)))
		i = (i + 1) & (m->cap - 1);
	return i;
}

static void map_grow(struct strmap *m)
{
	struct strmap old = *m;
	m->cap = old.cap ? old.cap * 2 : 1024;
	m->keys = xcalloc(m->cap, sizeof *m->keys);
	m->klens = xcalloc(m->cap, sizeof *m->klens);
	m->vals = xcalloc(m->cap, sizeof *m->vals);
	for (size_t i = 0; i < old.cap; i++)
		if (old.keys[i]) {
			size_t j = slot_of(m, old.keys[i], old.klens[i]);
			m->keys[j] = old.keys[i];
			m->klens[j] = old.klens[i];
			m->vals[j] = old.vals[i];
		}
	free(old.keys);
	free(old.klens);
	free(old.vals);
}

uint32_t map_get(const struct strmap *m, const void *key, size_t n)
{
	if (!m->cap)
		return UINT32_MAX;
	size_t i = slot_of(m, key, n);
	return m->keys[i] ? m->vals[i] : UINT32_MAX;
}

uint32_t map_put(struct strmap *m, const void *key, size_t n, uint32_t v)
{
	if ((m->n + 1) * 2 > m->cap)
		map_grow(m);
	size_t i = slot_of(m, key, n);
	if (m->keys[i])
		return m->vals[i];
	m->keys[i] = xmalloc(n + 1);
	memcpy(m->keys[i], key, n);
	m->keys[i][n] = '\0';
	m->klens[i] = n;
	m->vals[i] = v;
	m->n++;
	return v;
}

void map_free(struct strmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		free(m->keys[i]);
	free(m->keys);
	free(m->klens);
	free(m->vals);
	memset(m, 0, sizeof *m);
}
