/* broker.h: how a broker starts: as a supervisor's own (kgsup __broker DIR SESSION, roles.h)
 * or shared by several supervisors (kgsup broker, cmd/broker_cmd.c). Only the sockets and the
 * start differ; what it does is broker.c's either way. */
#ifndef KGSUP_BROKER_H
#define KGSUP_BROKER_H

struct broker_start {
	const char *config;    /* the settings file: limits.* */
	const char *state_dir; /* the run's (limits.json goes there); NULL: a shared broker */
	const char *asks;      /* the ROUTER's endpoint */
	const char *reports;   /* the PULL's */
	const char *secret;    /* CURVE: the sockets are servers with this key; NULL: plain */
	const char *allow_dir; /* with secret: the clients' *.pub files (allow.h) */
	int parent_fd;         /* its EOF ends the broker (the supervisor died); -1: none */
};

/* Serves until SIGTERM or SIGINT (or the parent's EOF); returns an exit code: EXIT_OK, or
 * EXIT_USAGE when the config, the key or the allow directory is wrong, EXIT_INTERNAL when the
 * sockets cannot be bound. */
int broker_run(const struct broker_start *st);

#endif
