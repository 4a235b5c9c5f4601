/* control.h: the live supervisor's control socket (control.c): `kgsup scale`
 * (cmd/stop_scale_cmd.c) reaches the run through it, and only its owner is obeyed. */
#ifndef KGSUP_CONTROL_H
#define KGSUP_CONTROL_H

/* How long either side waits for the other's line. */
#define CONTROL_TIMEOUT_MS 2000

/* Sets the wanted worker count; returns the count it could set. */
typedef int (*control_scale_fn)(void *arg, int workers);

/* A connection to the live run's control socket (the client's side), or -1. */
int control_connect(const char *state_dir);
/* Listens on DIR/sock/control; the socket's fd (non-blocking), or -1 with errno set. */
int control_open(const char *state_dir);
/* Closes the listening socket and the connections not yet answered, and removes its file. */
void control_close(int listen_fd, const char *state_dir);
/* Takes the connections waiting on the listening socket and answers those whose request has
 * come; never waits: a connection that has said nothing yet is looked at again next call, and
 * dropped 2 s after it came. */
void control_serve(int listen_fd, control_scale_fn scale, void *arg);

#endif
