/* sup.h: the supervisor's state (one struct for the process) and the pieces of its loop.
 * The supervisor plans, owns the store (the only writer), hands batches to each worker over
 * that worker's own PUSH pipe (the next one while it is busy, see SLOT_DEPTH), collects
 * results over one PULL socket, commits them in groups, and keeps its children (workers and
 * the broker) alive. */
#ifndef KGSUP_SUP_H
#define KGSUP_SUP_H

#include <stdint.h>
#include <sys/types.h>

#include "../common/config.h"
#include "../common/paths.h"
#include "../common/proto.h"
#include "../common/store.h"
#include "../common/zsock.h"
#include "bwait.h"
#include "cache.h"
#include "ledger.h"
#include "pbatch.h"
#include "plan.h"
#include "reach.h"
#include "render.h"
#include "rows.h"
#include "vecs.h"
#include "runstate.h"
#include "slot.h"
#include "spawn.h"
#include "trace.h"

struct child {
	pid_t pid;
	int64_t spawned_at;
	int64_t restart_at;
	int rapid_deaths;
};

/* The zygote (spawn.h): restarted like the broker; only spawn.c changes it. */
struct zygote {
	struct child proc; /* pid 0: not running (to be restarted, or KGSUP_SPAWN=exec) */
	int req, reply;    /* our ends of its pipes; -1: closed */
	int off;           /* KGSUP_SPAWN=exec: every worker is exec'd */
};

/* A worker is sent its next batches while it is still on one, so that it goes on to them at
 * once instead of waiting for the supervisor's commit and dispatch (a commit waits for the
 * disk): SLOT_DEPTH batches at most, SLOT_DEPTH_FIRST until a call of the run has been
 * answered. A run whose every call fails (a base_url without /v1) learns it from the first
 * answers, and each worker makes the calls it holds before the stop reaches it. */
#define SLOT_DEPTH PROTO_HELD_MAX
#define SLOT_DEPTH_FIRST 2

struct held {
	uint32_t batch, seq;
};

struct slot {
	enum slot_state state; /* slot.c's: read it anywhere, set it with slot_set */
	struct child proc;
	zsock *push;
	struct held held[SLOT_DEPTH]; /* sent to it, no result back yet; the oldest first */
	int nheld;
	uint32_t acked;       /* seq of its last result committed (told with the next message) */
	uint32_t done_since_spawn; /* results it sent since it was started */
	int recalled; /* sent SIGUSR1 by a scale down (proc.c): it hands back whatever it is sent
		       * and goes once its results are committed, even if wanted again by then */
	uint32_t watched_seq; /* its oldest held batch when proc_watch_held last looked, */
	int64_t watched_since; /*   held since then (0: nothing held) */
	int assigned;         /* picked in the round being built: */
	uint32_t batch;       /*   that batch, */
	uint32_t attempt;     /*   requests made for it before (a retry handed back), */
	struct rendered req;  /*   and its request */
};

/* report.c's latency histogram: 16 buckets per power of two of microseconds, up to 2^40 */
#define LATENCY_BUCKETS (16 * 38)

struct queued_result {
	struct msg_result m;
	char *frame; /* owns the memory m.payload and m.key point into */
	int spooled; /* from DIR/spool: m.slot is a slot of the session that spooled it */
};

struct frame {
	char *data;
	size_t len;
};

struct sup {
	struct config cfg;
	struct prompts prompts;
	struct job job; /* the stages (one KG stage for a config without them) */
	const char *state_dir;
	char session[PATHS_SESSION_LEN + 1]; /* names DIR/sock/<session>, this session's sockets */
	char self_exe[PATHS_MAX];
	store *db;
	store *cache_db; /* == db unless cache.path names a store shared between runs */
	struct cache cache;
	struct ledger led; /* batch states, counters, the queue of work */
	struct rows rows;  /* a job over rows: per-row answers and their counters */
	struct vecs vecs;  /* embedding stages: their inputs and vectors */
	struct reach reach; /* the server cannot be reached: the run waits (reach.h) */
	struct bwait bwait; /* a shared broker does not answer: the run waits (bwait.h) */
	struct pbatch pb;   /* the Batch API's parts (pbatch.h) */
	buf result_msg;    /* a result's payload rebuilt: why a rows or vectors batch is asked again */
	zsock *results;
	struct slot *slots;
	int nslots; /* allocated */
	int want;   /* workers wanted */
	int nrecalled; /* slots recalled by a scale down, not let go yet (proc.c) */
	int max_starting; /* workers loading at once: one per CPU */
	struct child broker; /* none with a shared broker (limits.broker) */
	struct zygote zygote;
	int64_t held_watched_at; /* proc_watch_held's last look (a gap: we were stopped, not them) */
	int parent_pipe[2]; /* children hold the read end; its EOF tells them we died */
	int lock_fd;
	int pid_file; /* this run wrote DIR/kgsup.pid (--detach), and removes it */
	struct plan_rec plan; /* as read or planned at the start (nbatches: the ledger's count) */
	uint32_t next_seq;
	struct queued_result *queue;
	size_t nqueue, capqueue;
	struct frame *invalid; /* MSG_INVALID frames waiting for the next commit */
	size_t ninvalid, capinvalid;
	char **spooled; /* spool files queued, removed once their results committed */
	size_t nspooled;
	int shared_failures; /* rounds in a row the shared cache refused (round.c) */
	int64_t spool_looked; /* when DIR/spool was last read (orphans may still be writing it) */
	struct delivered before; /* what the session before this one recorded as committed */
	struct delivered now;    /* this session's, as the round being built leaves it */
	buf delivered_rec;       /* its record, put together (reused) */
	uint32_t run_state; /* written with every commit: RUN_RUNNING until the end */
	int stopping, stop_now, aborted;
	int shutting_down; /* children are being let go: deaths are expected */
	int draining;	   /* nothing left to hand out: idle workers go, none start */
	int drained;	   /* that happened once this session */
	int64_t stop_deadline;
	char abort_msg[600];
	char store_error[300]; /* why the store could not be written, when it could not */
	int64_t session_start;
	uint64_t session_id; /* random, this session's: sent with every batch, back in its result */
	uint64_t elapsed_base; /* elapsed_ms of earlier sessions */
	int64_t last_commit, last_progress;
	int bar;              /* a progress bar is drawn on stderr (a terminal) */
	int no_progress;      /* --no-progress */
	int control_fd;       /* the control socket (control.c), -1 without one */
	int ready_fd;         /* --detach: told when the run loop starts, so the parent can go */
	/* this session's successful calls, for the report: a histogram (report.c), so memory
	 * does not grow with the number of calls */
	uint64_t latency_hist[LATENCY_BUCKETS];
	uint64_t nlatency;
	uint64_t done_at_start; /* batches done before this session, for its rate */
	struct trace trace;     /* DIR/trace.jsonl */
	buf msg;
};

/* loop.c: the poll loop of a session and its orderly end; returns the exit code. */
int loop_run(struct sup *s);

/* report.c: what a session did, printed at its end and kept as DIR/report.json */
void report_latency(struct sup *s, uint64_t us);
void report_write(struct sup *s, int exit_code);
/* Dollars spent so far (at each stage's model's prices in a run with stages). */
double run_cost(const struct sup *s);

/* progress.c: a bar on a terminal (at most 4 redraws a second), else a log line every 10 s */
void progress_begin(struct sup *s, int wanted);
void progress_tick(struct sup *s);
void progress_end(struct sup *s);

/* proc.c */
/* Makes this session's socket directory and the children's pipe, and starts the zygote (once;
 * proc_init does it when no one did before). */
int proc_begin(struct sup *s, char *err, size_t errlen);
/* proc_begin if not done, then binds the workers' sockets in the session's directory. */
int proc_init(struct sup *s, char *err, size_t errlen);
void proc_spawn_due(struct sup *s);
void proc_reap(struct sup *s);
/* A worker that has held a batch for longer than any call with all its retries can take is
 * stuck (stopped, wedged): it is killed, and proc_reap puts its batches back. */
void proc_watch_held(struct sup *s);
int proc_live_workers(const struct sup *s);
int proc_busy_workers(const struct sup *s);
void proc_quit_all(struct sup *s);
/* Wants n workers from now on: slots are added as needed; surplus workers hand back the
 * batches they have not started (a call in flight finishes) and are let go once their results
 * are committed (proc_trim). */
void proc_scale(struct sup *s, int n);
void proc_trim(struct sup *s);
/* Nothing is left to hand out: lets idle workers go now, while the last calls are out, rather
 * than all at the end (and starts none); undone as soon as a batch comes back to do. */
void proc_drain(struct sup *s, int draining);
void proc_signal_all(struct sup *s, int signo);
/* The workers only: the broker answers them until they are gone (shutdown_children). */
void proc_signal_workers(struct sup *s, int signo);
/* The run is stopping: workers finish the call they are on and hand back the batches sent to
 * them that they have not started (SIGUSR1). */
void proc_hand_back(struct sup *s);
int proc_any_alive(const struct sup *s);
void proc_close(struct sup *s);
/* When a child that died (c) may be started again: throttled, backing off when it keeps dying. */
void proc_throttle(struct child *c, int64_t now);
/* Slot i was sent batch n as dispatch seq. */
void proc_slot_sent(struct sup *s, int i, uint32_t n, uint32_t seq);

/* session.c: DIR/sock/SESSION */
/* Makes it (mkdtemp), removing those of earlier sessions. */
int session_make(struct sup *s, char *err, size_t errlen);
/* Removes it: after the last socket in it is closed. */
void session_remove(struct sup *s);
/* A session that never reached its loop, or left it early: its children stopped and reaped,
 * its directory removed (nothing when none was made, or session_remove ran). */
void session_abandon(struct sup *s);

/* sink.c: what arrives on the results socket, and what orphaned workers spooled */
void sink_receive(struct sup *s);
/* Queues the results orphaned workers spooled; returns how many. */
size_t sink_ingest_spool(struct sup *s);

/* servercheck.c: before the plan, the server is asked for its models (kgsup __check): 0 go on,
 * or an exit code with err set (the server cannot be reached; it does not list a model of the
 * run; base_url lacks /v1). meanwhile (if not NULL) runs while the check does. */
int servercheck_run(struct sup *s, void (*meanwhile)(struct sup *), char *err, size_t errlen);

/* detach.c: --detach: the parent waits until the child has planned and started its loop (or
 * died) and returns its exit code; the child gets -1, and *ready_fd to say it started. */
int run_detach(const char *state_dir, int *ready_fd);

/* round.c: results in and batches out, in one group transaction */
int round_run(struct sup *s, int dispatch);
/* Non-zero when a batch could be handed out now (a requeued one only once it is due). */
int round_dispatchable(const struct sup *s);
int round_slot_wants(const struct sup *s, int i);
/* How many batches a worker may hold now: SLOT_DEPTH_FIRST until a call was answered. */
int round_slot_depth(const struct sup *s);
/* Milliseconds until a batch live workers may take is due, at most max (ledger_next_due_ms). */
long round_next_due_ms(const struct sup *s, int64_t now, long max);
/* Batch n, taken, made ready to send: answered from the cache (or split, expanded, failed)
 * where it can be, else its request rendered into r. 1: send it; 0: settled; STORE_FULL. */
int round_prepare(store_txn *t, struct sup *s, uint32_t n, struct batch_rec *b,
		  struct rendered *r);

#endif
