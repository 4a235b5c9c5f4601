/* prompts.c: the templates of a run without stages: files named by prompt.system and
 * prompt.user, or the built-in ones. */
#include "plan.h"
#include "../common/util.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const char kgsup_prompt_system[];
extern const char kgsup_prompt_user[];

static char *load_template(const char *path, const char *builtin, char *err, size_t errlen)
{
	if (!path || !*path)
		return xstrdup(builtin);
	char *t = read_file(path, 1 << 20, NULL);
	if (!t)
		snprintf(err, errlen, "%s: cannot read prompt template: %s", path, strerror(errno));
	return t;
}

int prompts_load(struct prompts *p, const struct config *cfg, char *err, size_t errlen)
{
	p->system = load_template(cfg->prompt_system, kgsup_prompt_system, err, errlen);
	p->user = p->system ? load_template(cfg->prompt_user, kgsup_prompt_user, err, errlen) : NULL;
	if (p->user && !strstr(p->user, "{{chunks}}")) {
		snprintf(err, errlen, "%s: the user prompt template has no {{chunks}}",
			 cfg->prompt_user);
		prompts_free(p);
		return -1;
	}
	return p->user ? 0 : -1;
}

void prompts_free(struct prompts *p)
{
	free(p->system);
	free(p->user);
	p->system = p->user = NULL;
}

