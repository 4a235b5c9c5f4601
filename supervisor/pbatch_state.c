/* pbatch_state.c: a part's states (pbatch.h's table) and its records in the store. */
#include "pbatch.h"
#include "pbatch_impl.h"
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <assert.h>
#include <string.h>

/* legal[from][to]; a state to itself changes the record's other fields only */
static const unsigned char legal[P_NSTATES][P_NSTATES] = {
	/*                WRITTEN UPLOADED SUBMITTED DOWNLOADED COLLECTED */
	[P_WRITTEN] = { 1, 1, 0, 0, 0 },
	[P_UPLOADED] = { 0, 1, 1, 0, 0 },
	[P_SUBMITTED] = { 0, 1, 1, 1, 0 },
	[P_DOWNLOADED] = { 0, 0, 0, 1, 1 },
	[P_COLLECTED] = { 0, 0, 0, 0, 1 },
};

static const char *const names[P_NSTATES] = { "written", "uploaded", "submitted", "downloaded",
					      "collected" };

int part_legal(enum part_state from, enum part_state to)
{
	return from < P_NSTATES && to < P_NSTATES && legal[from][to];
}

const char *part_state_name(enum part_state s)
{
	return s < P_NSTATES ? names[s] : "?";
}

int part_rec_put(store_txn *t, uint32_t n, const struct part_rec *r)
{
	unsigned char k[4];
	wr_u32be(k, n);
	return store_put(t, DB_PARTS, k, 4, r, sizeof *r) ? STORE_FULL : 0;
}

int part_rec_read(store_txn *t, uint32_t n, struct part_rec *r)
{
	unsigned char k[4];
	const void *v;
	size_t len;
	wr_u32be(k, n);
	if (store_get(t, DB_PARTS, k, 4, &v, &len) || len != sizeof *r)
		return -1;
	memcpy(r, v, sizeof *r);
	return r->version == PART_VERSION ? 0 : -1;
}

struct save_arg {
	const struct part_rec *r;
	uint32_t n;
};

static int save_txn(store_txn *t, void *arg)
{
	struct save_arg *a = arg;
	return part_rec_put(t, a->n, a->r);
}

int part_move(struct sup *s, uint32_t n, enum part_state to)
{
	struct part *p = &s->pb.parts[n];
	if (!part_legal(p->r.state, to)) {
		log_error("part %u: illegal state change %s -> %s", n, part_state_name(p->r.state),
			  part_state_name(to));
#ifdef KGSUP_ASSERTS
		assert(!"illegal part state change");
#endif
		return -1;
	}
	struct part_rec r = p->r;
	r.state = to;
	struct save_arg a = { &r, n };
	if (store_write(s->db, save_txn, &a)) {
		log_error("cannot record part %u: %s", n, store_strerror(s->db));
		return -1;
	}
	if (to != p->r.state)
		log_info("part %u: %s", n, part_state_name(to));
	p->r = r;
	return 0;
}
