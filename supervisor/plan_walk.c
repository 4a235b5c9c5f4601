/* plan_walk.c: the inputs given to -i as the planner walks them: a file, or a directory read
 * in name order (hidden names left out), each directory once (a loop of symbolic links is
 * read once), files that are not regular skipped with a warning. */
#include "plan_impl.h"
#include "../common/log.h"
#include "../common/util.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static int plan_dir(struct planner *pl, const char *path, const struct stat *st);

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

static int plan_dir(struct planner *pl, const char *path, const struct stat *st)
{
	for (size_t i = 0; i < pl->nseen; i++)
		if (pl->seen[i].dev == st->st_dev && pl->seen[i].ino == st->st_ino) {
			log_warn("%s: skipped (directory already read: a symbolic link loop?)", path);
			return 0;
		}
	pl->seen = xgrow(pl->seen, &pl->capseen, pl->nseen, sizeof *pl->seen, 16);
	pl->seen[pl->nseen].dev = st->st_dev;
	pl->seen[pl->nseen].ino = st->st_ino;
	pl->nseen++;
	struct dirent **names;
	int n = scandir(path, &names, NULL, by_name);
	if (n < 0) {
		snprintf(pl->err, pl->errlen, "%s: cannot read directory: %s", path, strerror(errno));
		return -1;
	}
	int rc = 0;
	buf child;
	buf_init(&child);
	for (int i = 0; i < n; i++) {
		const char *name = names[i]->d_name;
		if (!rc && name[0] != '.') {
			buf_reset(&child);
			buf_puts(&child, path);
			if (child.len && child.data[child.len - 1] != '/')
				buf_putc(&child, '/');
			buf_puts(&child, name);
			rc = plan_path(pl, buf_cstr(&child), 0);
		}
		free(names[i]);
	}
	free(names);
	buf_free(&child);
	return rc;
}

int plan_path(struct planner *pl, const char *path, int explicit)
{
	struct stat st;
	if (stat(path, &st) < 0) {
		if (!explicit && errno == ENOENT) {
			log_warn("%s: skipped (dangling symbolic link)", path);
			return 0;
		}
		snprintf(pl->err, pl->errlen, "%s: %s", path,
			 errno == ELOOP ? "a loop of symbolic links" : strerror(errno));
		return explicit ? -1 : skip_input(pl, pl->err);
	}
	if (S_ISDIR(st.st_mode))
		return plan_dir(pl, path, &st);
	if (!S_ISREG(st.st_mode)) {
		log_warn("%s: skipped (not a regular file)", path);
		return 0;
	}
	return plan_file(pl, path);
}
