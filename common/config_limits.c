/* config_limits.c: limits.models, the limits of each model listed (config.h), read apart from
 * the settings table: a table keyed by model name, each entry checked as the top-level limits
 * are; and limits.broker with its keys, checked together. */
#include "config.h"
#include "config_impl.h"
#include "endpoint.h"
#include "util.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FAIL(...)                                          \
	do {                                               \
		snprintf(err, errlen, __VA_ARGS__);        \
		return -1;                                 \
	} while (0)

void config_model_limits_free(struct config *c)
{
	for (size_t i = 0; i < c->nmodel_limits; i++)
		free(c->model_limits[i].model);
	free(c->model_limits);
	c->model_limits = NULL;
	c->nmodel_limits = 0;
}

int config_set_model_limits(struct config *c, const json *v, const char *name, double rpm_max,
			    double tpm_max, char *err, size_t errlen)
{
	config_model_limits_free(c);
	if (json_kind(v) != J_OBJECT)
		FAIL("%s: limits.models: expected an object keyed by model name", name);
	for (const json *m = json_first(v); m; m = json_next(m)) {
		if (!*json_key(m))
			FAIL("%s: limits.models: a model name must not be empty", name);
		if (json_kind(m) != J_OBJECT)
			FAIL("%s: limits.models.%s: expected an object, got %s", name, json_key(m),
			     json_kind_name(json_kind(m)));
		if (c->nmodel_limits == CONFIG_MAX_MODEL_LIMITS)
			FAIL("%s: limits.models: at most %d models", name, CONFIG_MAX_MODEL_LIMITS);
		if (strlen(json_key(m)) >= 128)
			FAIL("%s: limits.models: a model name of at most 127 bytes", name);
		int64_t r, t;
		if (config_model_limits(c, json_key(m), &r, &t))
			FAIL("%s: limits.models.%s: given twice", name, json_key(m));
		c->model_limits = xrealloc(c->model_limits,
					   (c->nmodel_limits + 1) * sizeof *c->model_limits);
		struct model_limit *l = &c->model_limits[c->nmodel_limits++];
		*l = (struct model_limit){ .model = xstrdup(json_key(m)), .requests_per_minute = -1,
					   .tokens_per_minute = -1 };
		for (const json *f = json_first(m); f; f = json_next(f)) {
			int req = !strcmp(json_key(f), "requests_per_minute");
			if (!req && strcmp(json_key(f), "tokens_per_minute"))
				FAIL("%s: limits.models.%s.%s: unknown key (requests_per_minute, "
				     "tokens_per_minute)", name, l->model, json_key(f));
			double d = json_number(f), max = req ? rpm_max : tpm_max;
			if (json_kind(f) != J_NUMBER || d != floor(d) || d < 1 || d > max)
				FAIL("%s: limits.models.%s.%s: expected a whole number from 1 to %g",
				     name, l->model, json_key(f), max);
			*(req ? &l->requests_per_minute : &l->tokens_per_minute) = (int64_t)d;
		}
	}
	return 0;
}

int config_model_limits(const struct config *c, const char *model, int64_t *rpm, int64_t *tpm)
{
	*rpm = c->requests_per_minute;
	*tpm = c->tokens_per_minute;
	for (size_t i = 0; model && i < c->nmodel_limits; i++)
		if (!strcmp(c->model_limits[i].model, model)) {
			const struct model_limit *l = &c->model_limits[i];
			if (l->requests_per_minute > 0)
				*rpm = l->requests_per_minute;
			if (l->tokens_per_minute > 0)
				*tpm = l->tokens_per_minute;
			return 1;
		}
	return 0;
}

int config_check_broker(const struct config *c, const char *name, char *err, size_t errlen)
{
	int keys = (c->broker_public_key != NULL) + (c->client_key != NULL);
	if (!c->broker && keys)
		FAIL("%s: limits.%s: given without limits.broker", name,
		     c->client_key ? "client_key" : "broker_public_key");
	if (!c->broker)
		return 0;
	char host[256];
	int port;
	if (endpoint_tcp_split(c->broker, host, sizeof host, &port))
		FAIL("%s: limits.broker: expected tcp://HOST:PORT (PORT 1-65534: the broker takes "
		     "reports on PORT+1), got \"%s\"", name, c->broker);
	if (keys == 1)
		FAIL("%s: limits.%s: needed with limits.%s (CURVE needs both)", name,
		     c->client_key ? "broker_public_key" : "client_key",
		     c->client_key ? "client_key" : "broker_public_key");
	if (!keys && !endpoint_is_loopback(c->broker))
		FAIL("%s: limits.broker: %s is not loopback: name limits.broker_public_key and "
		     "limits.client_key (kgsup keygen)", name, c->broker);
	return 0;
}

void config_absolute_path(char **path, const char *file)
{
	if (!*path || (*path)[0] == '/')
		return;
	char dir[4096];
	const char *slash = strrchr(file, '/');
	if (slash)
		snprintf(dir, sizeof dir, "%.*s", (int)(slash - file), file);
	else
		snprintf(dir, sizeof dir, ".");
	char *real = realpath(dir, NULL); /* NULL: left as it is, the error comes on reading */
	char full[8192];
	snprintf(full, sizeof full, "%s/%s", real ? real : dir, *path);
	free(real);
	free(*path);
	*path = xstrdup(full);
}
