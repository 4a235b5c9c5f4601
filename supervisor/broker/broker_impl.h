/* broker_impl.h: the broker's state, private to broker.c and broker_view.c (which renders it
 * for `kgsup status --broker`). */
#ifndef KGSUP_BROKER_IMPL_H
#define KGSUP_BROKER_IMPL_H

#include "../../common/buf.h"
#include "../../common/config.h"
#include "../../common/strmap.h"
#include "../../common/zsock.h"
#include "allow.h"
#include "clients.h"
#include "limits.h"
#include "pace.h"
#include "share.h"
#include "window.h"

#define WAIT_REPLY_MS 1000    /* a waiting ask is answered WAIT after this (proof of life) */
#define MAX_IDENTITY 256

struct waiter {
	char id[MAX_IDENTITY];
	size_t idlen;
	uint32_t worker; /* clients.h's index: its client and slot */
	uint32_t est_tokens;
	int64_t queued_since; /* on our clock: now less how long it says it waited */
	int64_t asked_at;
};

/* One model's budget (or that of the models not listed in limits.models). */
struct lane {
	struct waiter *q;
	size_t nq, capq;
	struct pace pace;            /* the buckets and the rate */
	struct limits limits;        /* where the rate's limits come from, published */
	/* our grants, and what the provider last said remains of each budget (window.c) */
	struct grant_log grants;
	struct provider_figure prov_requests, prov_tokens;
	struct window_share share;   /* the window's share, when limits.window_s is set */
	struct minute_count minute;  /* grants over the last minute, for status */
};

struct broker {
	struct config cfg;
	const char *endpoint; /* the asks' */
	zsock *sock;    /* ROUTER: asks, answered by grants */
	zsock *reports; /* PULL: what each request cost */
	zsock *zap;     /* a shared broker with CURVE: its ZAP handler; NULL otherwise */
	struct allow allow;
	struct lane *lanes; /* [0]: the models not listed; then limits.models, in its order */
	size_t nlanes;
	struct strmap lane_of; /* model name -> lane */
	struct limits_board board;
	struct clients clients; /* each worker's grant not yet reported; each client's figures */
	int64_t in_flight;
	buf msg;
	uint64_t granted, reported;
	int64_t started_wall;
	int told_version; /* an ask of another protocol version was logged */
};

/* The view for `kgsup status --broker`: one JSON object into out. */
void broker_view(const struct broker *b, buf *out);

#endif
