/* trace.h: DIR/trace.jsonl, one JSON line per request a worker made (retries included) and per
 * batch answered from the cache. The supervisor is its only writer: workers send a MSG_TRACE
 * per request, the rounds add their cache hits, and what gathered is appended once a round
 * has committed. trace.max_mb bounds trace.jsonl and trace.1.jsonl together: a file at half
 * of it becomes trace.1.jsonl (the one before is dropped) and a new one starts. */
#ifndef KGSUP_TRACE_H
#define KGSUP_TRACE_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/job.h"
#include "../common/paths.h"
#include "../common/proto.h"

struct trace {
	int fd; /* DIR/trace.jsonl, opened to append; -1: no trace */
	char path[PATHS_MAX], old_path[PATHS_MAX];
	uint64_t file_max; /* bytes a file may hold before it is rotated */
	uint64_t size;	   /* of the open file */
	buf pending;	   /* lines to write at the next round's end */
	buf round;	   /* lines of the round being built: kept only if it commits */
};

/* Opens DIR/trace.jsonl to append, or leaves the trace off (max_mb 0; a file that cannot be
 * opened is a warning: the trace is never why a run stops). */
void trace_open(struct trace *tr, const char *state_dir, double max_mb);
/* A worker's request: its stage named and its cost priced from the run's job and config. */
void trace_request(struct trace *tr, const struct job *job, const struct config *cfg,
		   const struct msg_trace *m);
/* A batch answered from the cache in the round being built: in and out are the tokens the
 * answer cost when it was bought (nothing is spent now). */
void trace_cache_hit(struct trace *tr, const struct job *job, uint32_t batch, uint32_t stage,
		     uint64_t in, uint64_t out);
/* A round's transaction starts (again): what an earlier try of it added is dropped. */
void trace_round_begin(struct trace *tr);
/* The round is over: its lines are kept if it committed; what is pending is written. */
void trace_round_end(struct trace *tr, int committed);
void trace_close(struct trace *tr);

#endif
