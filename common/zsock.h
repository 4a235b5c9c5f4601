/* zsock.h: the one wrapper around libzmq. Every socket gets LINGER 0 (so closing never
 * blocks), sends and receives retry on EINTR, and a REQ socket that timed out is closed and
 * reopened (the Lazy Pirate rule: a REQ that missed its reply is stuck for good).
 * One context per process, created after exec. */
#ifndef KGSUP_ZSOCK_H
#define KGSUP_ZSOCK_H

#include <stddef.h>

typedef struct zsock zsock;

enum zsock_type { ZS_PUSH, ZS_PULL, ZS_REQ, ZS_ROUTER };

/* Before the process's first socket: the most sockets its context may hold (a supervisor has
 * one per worker slot); libzmq's default of 1,023 otherwise, as each slot of the cap costs
 * every process's context memory. */
void zsock_size(int sockets);
/* Creates the process's context on first use. */
zsock *zsock_bind(enum zsock_type type, const char *endpoint);
zsock *zsock_connect(enum zsock_type type, const char *endpoint);
/* The same with a high-water mark of hwm messages per peer each way instead of none: a
 * blocking send on it waits for the other side rather than queueing without bound (a peer
 * without one queues what it sends at its own end). For PUSH and PULL only: a ROUTER at its
 * mark drops what it would send. */
zsock *zsock_bind_hwm(enum zsock_type type, const char *endpoint, int hwm);
zsock *zsock_connect_hwm(enum zsock_type type, const char *endpoint, int hwm);

/* CURVE (a shared broker over tcp): keys are Z85 text, ZSOCK_KEY_LEN characters. A server
 * socket is bound with its secret key; a client connects with the server's public key and its
 * own pair. The keys are kept with the socket (a reopen needs them) and wiped when it closes. */
#define ZSOCK_KEY_LEN 40
zsock *zsock_bind_curve(enum zsock_type type, const char *endpoint, const char *secret);
zsock *zsock_connect_curve(enum zsock_type type, const char *endpoint, const char *server_public,
			   const char *public_, const char *secret);
/* A new key pair; 0, or -1 (libzmq built without CURVE). */
int zsock_curve_keypair(char public_[ZSOCK_KEY_LEN + 1], char secret[ZSOCK_KEY_LEN + 1]);
/* The public key of a secret one; 0, or -1 when secret is not a key. */
int zsock_curve_public(char public_[ZSOCK_KEY_LEN + 1], const char *secret);
/* The ZAP handler (RFC 27) of this process's context: a REP socket on inproc://zeromq.zap.01,
 * bound before any CURVE server socket, polled by the caller's loop (no thread). Each request
 * waiting is answered 200 when admit(the client's public key in Z85, arg) says non-zero, else
 * 400 (the connection is refused: the client gets nothing). */
zsock *zsock_zap_bind(void);
void zsock_zap_answer(zsock *zap, int (*admit)(const char *public_, void *arg), void *arg);
void zsock_close(zsock *s);
/* Lets the context's end (zsock_term) wait up to ms for what s has not sent yet (a peer that
 * is alive gets a process's last messages; LINGER 0 would drop them). */
void zsock_linger(zsock *s, int ms);
/* Closes and reopens a connected socket to the same endpoint. */
int zsock_reopen(zsock *s);
/* Terminates the context (after every socket is closed). */
void zsock_term(void);

/* Returns 0, or -1 with errno (EAGAIN when flags ask not to wait and nothing could be sent). */
int zsock_send(zsock *s, const void *data, size_t len, int dontwait);
/* Sends, waiting up to timeout_ms for a peer to take it (a REQ with none connected blocks);
 * -1 with errno EAGAIN on timeout or when a signal ends the wait. */
int zsock_send_timed(zsock *s, const void *data, size_t len, int timeout_ms);
/* Multi-part send for ROUTER: identity frame, empty delimiter, body. */
int zsock_send_routed(zsock *s, const void *id, size_t idlen, const void *data, size_t len);
/* Receives one message into a malloc'd buffer; -1 with errno EAGAIN on timeout or nothing
 * waiting (dontwait). For ROUTER, the identity is copied into id (up to *idlen bytes). */
int zsock_recv(zsock *s, char **data, size_t *len, int timeout_ms);
int zsock_recv_routed(zsock *s, char *id, size_t *idlen, char **data, size_t *len);

/* Polling: a set of sockets and plain fds. */
typedef struct zpoll {
	void *items; /* zmq_pollitem_t[], hidden so zmq.h stays in zsock.c */
	int n;
	size_t cap;
} zpoll;

void zpoll_init(zpoll *p);
void zpoll_free(zpoll *p);
int zpoll_add_sock(zpoll *p, zsock *s);
int zpoll_add_fd(zpoll *p, int fd);
/* Waits up to timeout_ms (-1 forever); returns the number ready, 0 on timeout or EINTR. */
int zpoll_wait(zpoll *p, long timeout_ms);
int zpoll_ready(const zpoll *p, int index);

#endif
