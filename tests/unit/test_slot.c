/* test_slot.c: the worker slot state machine: the table in slot.c is the one slot.h shows,
 * and a slot moves through a life the supervisor gives it without an illegal step; how many
 * batches a worker is given to hold (round_slot_wants). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <cmocka.h>
#include <string.h>

#include "../../supervisor/sup.h"
#include "diagram.h"

static void the_header_diagram_is_the_table(void **state)
{
	(void)state;
	const char *names[SLOT_NSTATES];
	for (int i = 0; i < SLOT_NSTATES; i++)
		names[i] = slot_state_name((enum slot_state)i);
	int listed[16][16];
	memset(listed, 0, sizeof listed);
	assert_int_equal(diagram_read("supervisor/slot.h", names, SLOT_NSTATES, listed), SLOT_NSTATES);
	for (int a = 0; a < SLOT_NSTATES; a++)
		for (int b = 0; b < SLOT_NSTATES; b++) {
			if (listed[a][b] != slot_legal((enum slot_state)a, (enum slot_state)b))
				fail_msg("%s -> %s: header says %d, table says %d", names[a], names[b],
					 listed[a][b], !listed[a][b]);
		}
}

static void a_life_of_a_slot(void **state)
{
	(void)state;
	struct slot sl;
	memset(&sl, 0, sizeof sl);
	slot_set(&sl, 0, SLOT_STARTING);
	slot_set(&sl, 0, SLOT_IDLE);
	slot_sent(&sl, 0, 7, 1);
	assert_int_equal(sl.state, SLOT_BUSY);
	slot_sent(&sl, 0, 8, 2);
	assert_int_equal(sl.nheld, 2);
	assert_int_equal(slot_result(&sl, 0, 7, 99), 0); /* another dispatch of batch 7 */
	assert_int_equal(slot_result(&sl, 0, 7, 1), 1);
	assert_int_equal(sl.state, SLOT_BUSY);
	assert_int_equal(slot_result(&sl, 0, 8, 2), 1);
	assert_int_equal(sl.state, SLOT_IDLE);
	assert_int_equal(sl.done_since_spawn, 2);
	slot_set(&sl, 0, SLOT_QUITTING);
	slot_set(&sl, 0, SLOT_EMPTY);
	/* died while loading, too often */
	slot_set(&sl, 0, SLOT_STARTING);
	slot_set(&sl, 0, SLOT_BACKOFF);
	slot_set(&sl, 0, SLOT_STARTING);
	slot_set(&sl, 0, SLOT_GIVENUP);
	assert_int_equal(sl.state, SLOT_GIVENUP);
	assert_false(slot_legal(SLOT_GIVENUP, SLOT_STARTING));
	assert_false(slot_legal(SLOT_QUITTING, SLOT_IDLE));
	assert_true(slot_live(&(struct slot){ .state = SLOT_QUITTING }));
	assert_false(slot_live(&(struct slot){ .state = SLOT_BACKOFF }));
}

/* A busy worker is given batches up to SLOT_DEPTH_FIRST (2) until a call of the run was
 * answered, then up to SLOT_DEPTH (3); a second one only while more are left than every worker
 * could hold. */
static void how_many_a_worker_holds(void **state)
{
	(void)state;
	static struct sup s;
	struct slot sl = { .state = SLOT_BUSY };
	s.slots = &sl;
	s.nslots = s.want = 1;
	s.led.nbatches = 100;
	int wants[4];
	for (int n = 0; n < 4; n++) {
		sl.nheld = n;
		wants[n] = round_slot_wants(&s, 0);
	}
	assert_true(wants[0] && wants[1] && !wants[2] && !wants[3]);
	s.led.ctr.requests_ok = 1;
	for (int n = 0; n < 4; n++) {
		sl.nheld = n;
		wants[n] = round_slot_wants(&s, 0);
	}
	assert_true(wants[0] && wants[1] && wants[2] && !wants[3]);
	s.led.nbatches = 3; /* no more left than the one worker could hold */
	sl.nheld = 1;
	assert_false(round_slot_wants(&s, 0));
	sl.nheld = 0;
	assert_true(round_slot_wants(&s, 0));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(the_header_diagram_is_the_table),
		cmocka_unit_test(a_life_of_a_slot),
		cmocka_unit_test(how_many_a_worker_holds),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
