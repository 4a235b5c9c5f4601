/* slot.c: the worker slot state machine (slot.h). */
#include "sup.h"
#include "../common/log.h"

#include <assert.h>
#include <string.h>

#define E (1u << SLOT_EMPTY)
#define S (1u << SLOT_STARTING)
#define I (1u << SLOT_IDLE)
#define B (1u << SLOT_BUSY)
#define Q (1u << SLOT_QUITTING)
#define K (1u << SLOT_BACKOFF)
#define G (1u << SLOT_GIVENUP)

/* the states each state may go to (as in slot.h) */
static const unsigned legal[SLOT_NSTATES] = {
	[SLOT_EMPTY] = S | K,
	[SLOT_STARTING] = I | Q | E | K | G,
	[SLOT_IDLE] = B | Q | E | K | G,
	[SLOT_BUSY] = I | B | Q | E | K | G,
	[SLOT_QUITTING] = E,
	[SLOT_BACKOFF] = S | K,
	[SLOT_GIVENUP] = 0,
};

static const char *names[SLOT_NSTATES] = { "EMPTY", "STARTING", "IDLE", "BUSY", "QUITTING",
					   "BACKOFF", "GIVENUP" };

int slot_legal(enum slot_state from, enum slot_state to)
{
	return from < SLOT_NSTATES && to < SLOT_NSTATES && (legal[from] >> to) & 1;
}

const char *slot_state_name(enum slot_state st)
{
	return st < SLOT_NSTATES ? names[st] : "?";
}

void slot_set(struct slot *sl, int i, enum slot_state to)
{
	if (!slot_legal(sl->state, to)) {
		log_error("worker %d: illegal slot change %s -> %s", i, slot_state_name(sl->state),
			  slot_state_name(to));
#ifdef KGSUP_ASSERTS
		assert(!"illegal slot state change");
#endif
		return;
	}
	sl->state = to;
}

void slot_sent(struct slot *sl, int i, uint32_t n, uint32_t seq)
{
	sl->held[sl->nheld].batch = n;
	sl->held[sl->nheld].seq = seq;
	sl->nheld++;
	slot_set(sl, i, SLOT_BUSY);
}

int slot_result(struct slot *sl, int i, uint32_t n, uint32_t seq)
{
	for (int k = 0; k < sl->nheld; k++) {
		if (sl->held[k].batch != n || sl->held[k].seq != seq)
			continue;
		memmove(sl->held + k, sl->held + k + 1, (size_t)(sl->nheld - k - 1) * sizeof *sl->held);
		sl->nheld--;
		sl->done_since_spawn++;
		if (sl->state == SLOT_BUSY && sl->nheld == 0)
			slot_set(sl, i, SLOT_IDLE);
		return 1;
	}
	return 0;
}

int slot_live(const struct slot *sl)
{
	return sl->state == SLOT_IDLE || sl->state == SLOT_BUSY || sl->state == SLOT_QUITTING ||
	       sl->state == SLOT_STARTING;
}
