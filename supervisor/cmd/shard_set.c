/* shard_set.c: several state directories read as one run (shard_set.h). */
#include "shard_set.h"
#include "results.h"
#include "../../common/buf.h"
#include "../../common/log.h"
#include "../../common/util.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The shards of s: each of one count, none twice; those missing are warned of. */
static int check_shards(struct shard_set *s, char *err, size_t errlen)
{
	uint32_t count = s->shard[0].count;
	for (size_t i = 0; i < s->n; i++) {
		if (!s->shard[i].count || s->shard[i].count != count) {
			char a[48], b[48];
			shard_describe(a, sizeof a, s->shard[0].index, s->shard[0].count);
			shard_describe(b, sizeof b, s->shard[i].index, s->shard[i].count);
			snprintf(err, errlen, "%s holds %s, %s %s: only the shards of one run (start "
				 "--shard I/N, one N) are read together", s->dirs[i], b, s->dirs[0], a);
			return -1;
		}
		for (size_t j = 0; j < i; j++)
			if (s->shard[j].index == s->shard[i].index) {
				snprintf(err, errlen, "%s and %s are both shard %u/%u", s->dirs[j],
					 s->dirs[i], s->shard[i].index, count);
				return -1;
			}
	}
	if (s->n < count) {
		buf missing;
		buf_init(&missing);
		for (uint32_t k = 0, m = 0; k < count; k++) {
			size_t i = 0;
			while (i < s->n && s->shard[i].index != k)
				i++;
			if (i == s->n)
				buf_printf(&missing, "%s%u", m++ ? ", " : "", k);
		}
		log_warn("shards %s of %u not given (-s): only the documents of the others are read",
			 buf_cstr(&missing), count);
		buf_free(&missing);
	}
	return 0;
}

int shard_set_open(struct shard_set *s, char *const *dirs, int n, char *err, size_t errlen)
{
	memset(s, 0, sizeof *s);
	s->dirs = dirs;
	s->db = xcalloc((size_t)n, sizeof *s->db);
	s->t = xcalloc((size_t)n, sizeof *s->t);
	s->shard = xcalloc((size_t)n, sizeof *s->shard);
	for (int i = 0; i < n; i++) {
		struct plan_rec p;
		s->n++;
		if (run_open_read(dirs[i], &s->db[i], &s->t[i], &p, err, errlen))
			return -1;
		if (shard_rec_read(s->t[i], &s->shard[i])) {
			snprintf(err, errlen, "%s: its shard record cannot be read", dirs[i]);
			return -1;
		}
		if (i == 0)
			s->plan = p;
		else if (memcmp(p.fingerprint, s->plan.fingerprint, HASH_LEN)) {
			snprintf(err, errlen, "%s is not a shard of the run in %s (its inputs or "
				 "settings differ)", dirs[i], dirs[0]);
			return -1;
		}
	}
	return n > 1 || s->shard[0].count ? check_shards(s, err, errlen) : 0;
}

int shard_set_owns_none(const struct shard_set *s, char *what, size_t n)
{
	if (!s->n || !s->shard[0].count)
		return 0;
	for (size_t i = 0; i < s->n; i++)
		if (s->shard[i].sources)
			return 0;
	if (s->n == 1) {
		snprintf(what, n, "%s: shard %u/%u owns no documents of its run", s->dirs[0],
			 s->shard[0].index, s->shard[0].count);
		return 1;
	}
	buf b;
	buf_init(&b);
	for (size_t i = 0; i < s->n; i++)
		buf_printf(&b, "%s%u", i ? ", " : "", s->shard[i].index);
	snprintf(what, n, "the shards given (%s of %u) own no documents of their run", buf_cstr(&b),
		 s->shard[0].count);
	buf_free(&b);
	return 1;
}

void shard_set_close(struct shard_set *s)
{
	for (size_t i = 0; i < s->n; i++) {
		store_abort(s->t[i]);
		store_close(s->db[i]);
	}
	free(s->db);
	free(s->t);
	free(s->shard);
	memset(s, 0, sizeof *s);
}
