/* slot.h: a worker slot's state machine. Only slot.c assigns a slot's state, through slot_set,
 * checked against its table; the lines below are that table (tests/unit/test_slot.c reads them
 * and compares):
 *
 *   EMPTY -> STARTING BACKOFF
 *   STARTING -> IDLE QUITTING EMPTY BACKOFF GIVENUP
 *   IDLE -> BUSY QUITTING EMPTY BACKOFF GIVENUP
 *   BUSY -> IDLE BUSY QUITTING EMPTY BACKOFF GIVENUP
 *   QUITTING -> EMPTY
 *   BACKOFF -> STARTING BACKOFF
 *   GIVENUP ->
 *
 * STARTING: spawned, loading; IDLE: said hello, holds nothing; BUSY: holds one batch or two;
 * QUITTING: told to go after its batch; EMPTY: no process (let go, or never started);
 * BACKOFF: died, to be restarted after a throttled delay (or failed to spawn); GIVENUP: died
 * too often in a row, straight from a live state. */
#ifndef KGSUP_SLOT_H
#define KGSUP_SLOT_H

#include <stdint.h>

enum slot_state { SLOT_EMPTY, SLOT_STARTING, SLOT_IDLE, SLOT_BUSY, SLOT_QUITTING, SLOT_BACKOFF,
		  SLOT_GIVENUP, SLOT_NSTATES };

struct slot;

/* Non-zero when from -> to is in the table. */
int slot_legal(enum slot_state from, enum slot_state to);
const char *slot_state_name(enum slot_state st);
/* Moves slot i; an illegal move is a bug: logged and refused (an assertion in the sanitizer
 * build, KGSUP_ASSERTS). */
void slot_set(struct slot *sl, int i, enum slot_state to);
/* Slot i was sent batch n as dispatch seq. */
void slot_sent(struct slot *sl, int i, uint32_t n, uint32_t seq);
/* A result for (n, seq) arrived: 1 when slot held it (it no longer does), else 0. */
int slot_result(struct slot *sl, int i, uint32_t n, uint32_t seq);
/* Live: a process is there or being started. */
int slot_live(const struct slot *sl);

#endif
