/* paths.c: file and endpoint names inside a state directory. */
#include "paths.h"

#include <stdio.h>
#include <sys/un.h>

void paths_file(char *out, size_t n, const char *state_dir, const char *name)
{
	snprintf(out, n, "%s/%s", state_dir, name);
}

int paths_endpoint(char *out, size_t n, const char *state_dir, const char *name, int index)
{
	int len;
	if (index >= 0)
		len = snprintf(out, n, "ipc://%s/sock/%s%d", state_dir, name, index);
	else
		len = snprintf(out, n, "ipc://%s/sock/%s", state_dir, name);
	struct sockaddr_un sun;
	return len < 0 || (size_t)len - 6 >= sizeof sun.sun_path ? -1 : 0;
}
