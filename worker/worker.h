/* worker.h: one worker process's state. A worker holds at most one batch, asks the broker
 * before every request, makes the call and sends back what happened. It never touches the
 * store: the supervisor is the only writer. */
#ifndef KGSUP_WORKER_H
#define KGSUP_WORKER_H

#include <stdint.h>

#include "../common/buf.h"
#include "../common/config.h"
#include "../common/proto.h"
#include "../common/zsock.h"
#include "http.h"

struct worker {
	uint32_t slot;
	const char *state_dir;
	struct config cfg;
	http_client *http;
	zsock *batches; /* PULL: this slot's own pipe from the supervisor */
	zsock *results; /* PUSH: to the supervisor */
	zsock *broker;  /* REQ */
	int parent_fd;  /* read end of the supervisor's pipe: EOF means it died */
	struct http_response resp;
	buf msg;
	buf answer;
	char error[512];
};

/* Runs one batch to its end: retries, backoff and broker grants included. Fills res (payload
 * in w->answer for RES_OK, in w->error otherwise). */
void call_batch(struct worker *w, const struct msg_batch *b, struct msg_result *res);

/* Non-zero when the worker must stop now (SIGTERM, or the supervisor is gone). */
int worker_must_stop(struct worker *w);
/* Sleeps up to ms, waking early to stop; returns -1 if the worker must stop. */
int worker_sleep(struct worker *w, int64_t ms);

#endif
