/* config_impl.h: private to config.c and config_limits.c: the reader of limits.models, which
 * config.c's settings table names. Not for use outside them. */
#ifndef KGSUP_CONFIG_IMPL_H
#define KGSUP_CONFIG_IMPL_H

#include <stddef.h>

#include "config.h"
#include "json.h"

/* limits.models: {"MODEL": {"requests_per_minute": N, "tokens_per_minute": N}, ...}, each
 * figure a whole number from 1 to the top-level key's bound, a missing one that key's (-1).
 * Replaces what c held; 0, or -1 with "NAME: limits.models...: what is wrong" in err. */
int config_set_model_limits(struct config *c, const json *v, const char *name, double rpm_max,
			    double tpm_max, char *err, size_t errlen);
void config_model_limits_free(struct config *c);
/* *path, when relative, made relative to the directory of the config file `file`, and
 * absolute. */
void config_absolute_path(char **path, const char *file);

#endif
