/* zsock.c: libzmq sockets with the project's rules (LINGER 0, EINTR-safe, REQ reopen). */
#include "zsock.h"
#include "buf.h"
#include "log.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

enum curve_role { CURVE_NONE, CURVE_SERVER, CURVE_CLIENT };

struct zsock {
	void *sock;
	int type;
	char *endpoint;
	int bound;
	int hwm; /* messages per peer each way; 0: no limit */
	enum curve_role curve;
	char server_public[ZSOCK_KEY_LEN + 1], public_[ZSOCK_KEY_LEN + 1],
		secret[ZSOCK_KEY_LEN + 1];
};

static void *zctx;
static int zmax_sockets; /* zsock_size; 0: libzmq's default */

static int recv_frame(void *sock, zmq_msg_t *msg, int flags);

static int zmq_type(enum zsock_type t)
{
	switch (t) {
	case ZS_PUSH: return ZMQ_PUSH;
	case ZS_PULL: return ZMQ_PULL;
	case ZS_REQ: return ZMQ_REQ;
	case ZS_ROUTER: return ZMQ_ROUTER;
	}
	return -1;
}

static void *open_raw(int type, int hwm)
{
	if (!zctx) {
		zctx = zmq_ctx_new();
		if (!zctx)
			return NULL;
		/* one I/O thread is plenty for ipc:// and keeps every process small */
		zmq_ctx_set(zctx, ZMQ_IO_THREADS, 1);
		if (zmax_sockets)
			zmq_ctx_set(zctx, ZMQ_MAX_SOCKETS, zmax_sockets);
	}
	void *s = zmq_socket(zctx, type);
	if (!s)
		return NULL;
	int zero = 0;
	zmq_setsockopt(s, ZMQ_LINGER, &zero, sizeof zero);
	/* no high-water-mark drops: every message here carries work or money. A socket with a
	 * mark (zsock_bind_hwm) makes a blocking sender wait instead; its other senders send
	 * without waiting from sockets of their own without one, so theirs queue at their end */
	zmq_setsockopt(s, ZMQ_SNDHWM, &hwm, sizeof hwm);
	zmq_setsockopt(s, ZMQ_RCVHWM, &hwm, sizeof hwm);
	return s;
}

/* The socket's CURVE keys, set before it binds or connects (libzmq reads them then). */
static int apply_curve(void *raw, const zsock *s)
{
	int one = 1;
	switch (s->curve) {
	case CURVE_NONE: return 0;
	case CURVE_SERVER:
		return zmq_setsockopt(raw, ZMQ_CURVE_SERVER, &one, sizeof one) ||
		       zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, s->secret, ZSOCK_KEY_LEN) ? -1 : 0;
	case CURVE_CLIENT:
		return zmq_setsockopt(raw, ZMQ_CURVE_SERVERKEY, s->server_public, ZSOCK_KEY_LEN) ||
		       zmq_setsockopt(raw, ZMQ_CURVE_PUBLICKEY, s->public_, ZSOCK_KEY_LEN) ||
		       zmq_setsockopt(raw, ZMQ_CURVE_SECRETKEY, s->secret, ZSOCK_KEY_LEN) ? -1 : 0;
	}
	return -1;
}

/* Binds or connects. A connecting socket retries a peer that is still starting (the broker,
 * also after a restart) every 10 ms, not libzmq's default 100 ms, which every worker's first
 * request would otherwise wait out. */
static int attach(void *raw, const char *endpoint, int bind)
{
	/* a tcp endpoint may be an IPv6 address in brackets: libzmq speaks IPv4 only by default */
	if (!strncmp(endpoint, "tcp://[", 7)) {
		int one = 1;
		zmq_setsockopt(raw, ZMQ_IPV6, &one, sizeof one);
	}
	if (bind)
		return zmq_bind(raw, endpoint);
	int ivl = 10, max = 500;
	zmq_setsockopt(raw, ZMQ_RECONNECT_IVL, &ivl, sizeof ivl);
	zmq_setsockopt(raw, ZMQ_RECONNECT_IVL_MAX, &max, sizeof max);
	return zmq_connect(raw, endpoint);
}

static void zsock_free(zsock *s)
{
	free(s->endpoint);
	explicit_bzero(s, sizeof *s);
	free(s);
}

static zsock *zsock_open(zsock *s)
{
	void *raw = open_raw(zmq_type(s->type), s->hwm);
	if (!raw || apply_curve(raw, s) < 0 || attach(raw, s->endpoint, s->bound) < 0) {
		int e = errno;
		if (raw)
			zmq_close(raw);
		zsock_free(s);
		errno = e;
		return NULL;
	}
	s->sock = raw;
	return s;
}

static zsock *zsock_new(enum zsock_type type, const char *endpoint, int bind)
{
	zsock *s = xcalloc(1, sizeof *s);
	s->type = type;
	s->endpoint = xstrdup(endpoint);
	s->bound = bind;
	return s;
}

/* Copies a key, which must be ZSOCK_KEY_LEN characters: 0, or -1 (EINVAL). */
static int take_key(char *out, const char *key)
{
	if (!key || strlen(key) != ZSOCK_KEY_LEN) {
		errno = EINVAL;
		return -1;
	}
	memcpy(out, key, ZSOCK_KEY_LEN + 1);
	return 0;
}

zsock *zsock_bind_curve(enum zsock_type type, const char *endpoint, const char *secret)
{
	zsock *s = zsock_new(type, endpoint, 1);
	s->curve = CURVE_SERVER;
	if (take_key(s->secret, secret) < 0) {
		zsock_free(s);
		return NULL;
	}
	return zsock_open(s);
}

zsock *zsock_connect_curve(enum zsock_type type, const char *endpoint, const char *server_public,
			   const char *public_, const char *secret)
{
	zsock *s = zsock_new(type, endpoint, 0);
	s->curve = CURVE_CLIENT;
	if (take_key(s->server_public, server_public) < 0 || take_key(s->public_, public_) < 0 ||
	    take_key(s->secret, secret) < 0) {
		zsock_free(s);
		return NULL;
	}
	return zsock_open(s);
}

int zsock_curve_keypair(char public_[ZSOCK_KEY_LEN + 1], char secret[ZSOCK_KEY_LEN + 1])
{
	return zmq_curve_keypair(public_, secret) == 0 ? 0 : -1;
}

int zsock_curve_public(char public_[ZSOCK_KEY_LEN + 1], const char *secret)
{
	uint8_t raw[32];
	if (!secret || strlen(secret) != ZSOCK_KEY_LEN || !zmq_z85_decode(raw, secret))
		return -1;
	explicit_bzero(raw, sizeof raw);
	return zmq_curve_public(public_, secret) == 0 ? 0 : -1;
}

zsock *zsock_zap_bind(void)
{
	/* a REP, which enum zsock_type does not offer to others: its type here is never used
	 * (the handler is bound once, never reopened) */
	zsock *s = zsock_new(ZS_ROUTER, "inproc://zeromq.zap.01", 1);
	void *raw = open_raw(ZMQ_REP, 0);
	if (!raw || zmq_bind(raw, s->endpoint) < 0) {
		int e = errno;
		if (raw)
			zmq_close(raw);
		zsock_free(s);
		errno = e;
		return NULL;
	}
	s->sock = raw;
	return s;
}

#define ZAP_PARTS 7 /* version, request id, domain, address, identity, mechanism, a credential */

static void zap_reply(void *sock, const zmq_msg_t *id, const char *code)
{
	zmq_send(sock, "1.0", 3, ZMQ_SNDMORE);
	zmq_send(sock, zmq_msg_data((zmq_msg_t *)id), zmq_msg_size((zmq_msg_t *)id), ZMQ_SNDMORE);
	zmq_send(sock, code, 3, ZMQ_SNDMORE);
	zmq_send(sock, "", 0, ZMQ_SNDMORE); /* status text */
	zmq_send(sock, "", 0, ZMQ_SNDMORE); /* user id */
	zmq_send(sock, "", 0, 0);           /* metadata */
}

void zsock_zap_answer(zsock *zap, int (*admit)(const char *public_, void *arg), void *arg)
{
	for (;;) {
		zmq_msg_t part[ZAP_PARTS + 1];
		int n = 0;
		for (;;) {
			zmq_msg_t m;
			zmq_msg_init(&m);
			if (recv_frame(zap->sock, &m, ZMQ_DONTWAIT) < 0) {
				zmq_msg_close(&m);
				break;
			}
			int more = zmq_msg_more(&m);
			if (n < ZAP_PARTS + 1)
				part[n++] = m;
			else
				zmq_msg_close(&m);
			if (!more)
				break;
		}
		if (n == 0)
			return;
		/* only CURVE asks come here (the broker's sockets are CURVE servers): the key is
		 * the seventh part, 32 bytes */
		char key[ZSOCK_KEY_LEN + 1] = "";
		int ok = n == ZAP_PARTS && zmq_msg_size(&part[5]) == 5 &&
			 !memcmp(zmq_msg_data(&part[5]), "CURVE", 5) && zmq_msg_size(&part[6]) == 32 &&
			 zmq_z85_encode(key, zmq_msg_data(&part[6]), 32);
		zap_reply(zap->sock, &part[n > 1 ? 1 : 0], ok && admit(key, arg) ? "200" : "400");
		for (int i = 0; i < n; i++)
			zmq_msg_close(&part[i]);
	}
}

void zsock_size(int sockets)
{
	zmax_sockets = sockets;
}

zsock *zsock_bind(enum zsock_type type, const char *endpoint)
{
	return zsock_bind_hwm(type, endpoint, 0);
}

zsock *zsock_connect(enum zsock_type type, const char *endpoint)
{
	return zsock_connect_hwm(type, endpoint, 0);
}

zsock *zsock_bind_hwm(enum zsock_type type, const char *endpoint, int hwm)
{
	zsock *s = zsock_new(type, endpoint, 1);
	s->hwm = hwm;
	return zsock_open(s);
}

zsock *zsock_connect_hwm(enum zsock_type type, const char *endpoint, int hwm)
{
	zsock *s = zsock_new(type, endpoint, 0);
	s->hwm = hwm;
	return zsock_open(s);
}

void zsock_close(zsock *s)
{
	if (!s)
		return;
	zmq_close(s->sock);
	zsock_free(s);
}

void zsock_linger(zsock *s, int ms)
{
	if (s)
		zmq_setsockopt(s->sock, ZMQ_LINGER, &ms, sizeof ms);
}

int zsock_reopen(zsock *s)
{
	zmq_close(s->sock);
	s->sock = open_raw(zmq_type(s->type), s->hwm);
	if (!s->sock)
		return -1;
	if (apply_curve(s->sock, s) < 0)
		return -1;
	return attach(s->sock, s->endpoint, s->bound);
}

void zsock_term(void)
{
	if (zctx) {
		zmq_ctx_term(zctx);
		zctx = NULL;
	}
}

int zsock_send(zsock *s, const void *data, size_t len, int dontwait)
{
	for (;;) {
		if (zmq_send(s->sock, data, len, dontwait ? ZMQ_DONTWAIT : 0) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int zsock_send_timed(zsock *s, const void *data, size_t len, int timeout_ms)
{
	zmq_setsockopt(s->sock, ZMQ_SNDTIMEO, &timeout_ms, sizeof timeout_ms);
	int rc = zmq_send(s->sock, data, len, 0);
	if (rc < 0 && errno == EINTR)
		errno = EAGAIN;
	return rc < 0 ? -1 : 0;
}

static int send_part(void *sock, const void *data, size_t len, int flags)
{
	for (;;) {
		if (zmq_send(sock, data, len, flags) >= 0)
			return 0;
		if (errno != EINTR)
			return -1;
	}
}

int zsock_send_routed(zsock *s, const void *id, size_t idlen, const void *data, size_t len)
{
	if (send_part(s->sock, id, idlen, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	if (send_part(s->sock, "", 0, ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0)
		return -1;
	return send_part(s->sock, data, len, ZMQ_DONTWAIT);
}

/* Receives one frame into msg; returns its size or -1. */
static int recv_frame(void *sock, zmq_msg_t *msg, int flags)
{
	for (;;) {
		int n = zmq_msg_recv(msg, sock, flags);
		if (n >= 0)
			return n;
		if (errno != EINTR)
			return -1;
	}
}

static void copy_out(zmq_msg_t *msg, char **data, size_t *len)
{
	size_t n = zmq_msg_size(msg);
	*data = xmalloc(n + 1);
	memcpy(*data, zmq_msg_data(msg), n);
	(*data)[n] = '\0';
	*len = n;
}

int zsock_recv(zsock *s, char **data, size_t *len, int timeout_ms)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	int rc;
	if (timeout_ms == 0) {
		rc = recv_frame(s->sock, &msg, ZMQ_DONTWAIT);
	} else {
		/* one blocking receive with a timeout (poll + receive would be two calls); a signal
		 * ends it early, as a timeout, so the caller can look at why */
		zmq_setsockopt(s->sock, ZMQ_RCVTIMEO, &timeout_ms, sizeof timeout_ms);
		rc = zmq_msg_recv(&msg, s->sock, 0);
		if (rc < 0 && errno == EINTR)
			errno = EAGAIN;
	}
	if (rc < 0) {
		int e = errno;
		zmq_msg_close(&msg);
		errno = e;
		return -1;
	}
	copy_out(&msg, data, len);
	/* swallow unexpected extra parts so the next receive starts on a message boundary */
	while (zmq_msg_more(&msg))
		if (recv_frame(s->sock, &msg, 0) < 0)
			break;
	zmq_msg_close(&msg);
	return 0;
}

int zsock_recv_routed(zsock *s, char *id, size_t *idlen, char **data, size_t *len)
{
	zmq_msg_t msg;
	zmq_msg_init(&msg);
	int parts = 0;
	*data = NULL;
	for (;;) {
		if (recv_frame(s->sock, &msg, ZMQ_DONTWAIT) < 0) {
			int e = errno;
			zmq_msg_close(&msg);
			free(*data);
			*data = NULL;
			errno = e;
			return -1;
		}
		size_t n = zmq_msg_size(&msg);
		if (parts == 0) {
			if (n > *idlen)
				n = *idlen;
			memcpy(id, zmq_msg_data(&msg), n);
			*idlen = n;
		} else if (n > 0 || !zmq_msg_more(&msg)) {
			free(*data);
			copy_out(&msg, data, len);
		}
		parts++;
		if (!zmq_msg_more(&msg))
			break;
	}
	zmq_msg_close(&msg);
	if (!*data) {
		errno = EPROTO;
		return -1;
	}
	return 0;
}

void zpoll_init(zpoll *p)
{
	p->items = NULL;
	p->n = 0;
	p->cap = 0;
}

void zpoll_free(zpoll *p)
{
	free(p->items);
	zpoll_init(p);
}

static int zpoll_add(zpoll *p, void *sock, int fd)
{
	p->items = xgrow(p->items, &p->cap, (size_t)p->n, sizeof(zmq_pollitem_t), 8);
	zmq_pollitem_t *it = (zmq_pollitem_t *)p->items + p->n;
	it->socket = sock;
	it->fd = fd;
	it->events = ZMQ_POLLIN;
	it->revents = 0;
	return p->n++;
}

int zpoll_add_sock(zpoll *p, zsock *s)
{
	return zpoll_add(p, s->sock, -1);
}

int zpoll_add_fd(zpoll *p, int fd)
{
	return zpoll_add(p, NULL, fd);
}

int zpoll_wait(zpoll *p, long timeout_ms)
{
	int r = zmq_poll(p->items, p->n, timeout_ms);
	if (r < 0 && errno == EINTR)
		return 0;
	return r;
}

int zpoll_ready(const zpoll *p, int index)
{
	const zmq_pollitem_t *it = (const zmq_pollitem_t *)p->items + index;
	return (it->revents & (ZMQ_POLLIN | ZMQ_POLLERR)) != 0;
}
