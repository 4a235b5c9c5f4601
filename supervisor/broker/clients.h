/* clients.h: who asks the broker. A supervisor's own broker has one client; a shared one
 * (kgsup broker) serves several supervisors, whose workers' slot numbers overlap: a worker is
 * known by its client's name and its slot. For each worker, the grant it holds not yet
 * reported; for each client, when it was last heard from, its grants over the last minute and
 * its 429s: what `kgsup status --broker` shows. */
#ifndef KGSUP_CLIENTS_H
#define KGSUP_CLIENTS_H

#include <stddef.h>
#include <stdint.h>

#include "../../common/buf.h"
#include "../../common/strmap.h"

#define CLIENT_NAME_MAX 64

/* Events per second over the last minute. */
struct minute_count {
	uint32_t n[60];
	int64_t sec[60]; /* the second each count is of */
};

void minute_add(struct minute_count *m, int64_t now_ms);
uint64_t minute_total(const struct minute_count *m, int64_t now_ms);

/* The grant a worker holds: its lane and its number there (seq 0: none); and its client. */
struct held {
	uint32_t lane;
	uint64_t seq;
	uint32_t client;
};

struct client {
	char name[CLIENT_NAME_MAX + 1];
	int64_t last_seen, last_seen_wall; /* ms: now_ms(), wall_ms() */
	uint32_t workers;                  /* slots heard from */
	struct minute_count grants;
	uint64_t granted, reports, http_429;
};

struct clients {
	struct client *c;
	size_t n, cap;
	struct strmap by_name;  /* name -> index in c */
	struct strmap by_slot;  /* name, '\0', slot (4 bytes) -> index in held */
	struct held *held;
	size_t nheld, capheld;
};

/* The worker's index (made on first sight) and its client's, marked seen now. */
uint32_t clients_worker(struct clients *cl, const char *name, size_t len, uint32_t slot,
			uint32_t *client);
void clients_free(struct clients *cl);
/* {"client":...,"workers":N,"last_seen":"ISO","seen_s_ago":S,"grants_last_minute":N,
 * "granted":N,"reports":N,"http_429":N}, the clients in order of their first ask. */
void clients_json(buf *b, const struct clients *cl);

#endif
