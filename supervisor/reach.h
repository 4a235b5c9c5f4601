/* reach.h: whether the server can be reached during a run, and the pause while it cannot. A
 * call that could not connect (refused, DNS, TLS, a connect timeout) sends nothing: its batch
 * comes back without an attempt used up (RES_NOCONN), and the run waits. While it waits, one
 * batch at a time probes the server, after a backoff doubling from retry.backoff_base_ms up to
 * retry.backoff_cap_ms, until a call gets any HTTP answer; then dispatching goes on as before.
 * The log says when the wait begins and ends; `kgsup status` says it meanwhile, from the meta
 * record "server_wait" that the supervisor's rounds keep (empty: not waiting). This file owns
 * that state and that record. */
#ifndef KGSUP_REACH_H
#define KGSUP_REACH_H

#include <stddef.h>
#include <stdint.h>

#include "../common/config.h"
#include "../common/store.h"

#define META_SERVER_WAIT "server_wait"

struct reach {
	int waiting;
	int64_t since_wall;  /* wall_ms() when the wait began */
	int64_t since;       /* now_ms() then */
	int64_t next_probe;  /* now_ms() from which the next probe may go */
	int64_t delay;       /* the backoff before it */
	uint32_t probe;      /* the batch out as the probe, */
	int probe_out;       /*   if one is */
	int dirty;           /* the record does not say what the state says (yet) */
	char reason[256];
};

/* Not waiting; the record is rewritten at the first round (a session before may have died
 * waiting). */
void reach_init(struct reach *r);
/* A call of batch n could not connect, for `why`. */
void reach_lost(struct reach *r, const struct config *cfg, uint32_t n, const char *why,
		size_t len);
/* A call got an HTTP answer (any status): the server is there. */
void reach_answered(struct reach *r, const struct config *cfg);
/* How many batches may be handed out now: -1 any number; while waiting, 1 once the backoff is
 * over and no batch is out (busy: workers holding one), else 0. */
int reach_quota(const struct reach *r, int busy, int64_t now);
/* How long the loop may sleep, at most max, while batches are held back (quota 0): until the
 * next probe is due (results wake it anyway). */
long reach_sleep_ms(const struct reach *r, int64_t now, long max);
/* Batch n went out while waiting: it is the probe. */
void reach_probe_sent(struct reach *r, uint32_t n);
/* The run ends: no more waiting, whatever the server does. */
void reach_end(struct reach *r);

/* Inside the round's transaction: the record, when it changed. 0 or STORE_FULL. */
int reach_record(const struct reach *r, store_txn *t, const char *base_url);
/* The round committed. */
void reach_committed(struct reach *r);

/* "waiting for the server at URL since HH:MM:SS: REASON" (local time), into out. */
void reach_describe(char *out, size_t n, int64_t since_wall, const char *url, const char *why);

/* For status: what the record says. Returns 1 with the fields set when the run waits, else 0. */
struct reach_view {
	int64_t since_wall;
	char url[512];
	char reason[256];
};
int reach_read(store_txn *t, struct reach_view *v);

#endif
