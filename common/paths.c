/* paths.c: file and endpoint names inside a state directory. */
#include "paths.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <sys/un.h>

void paths_file(char *out, size_t n, const char *state_dir, const char *name)
{
	snprintf(out, n, "%s/%s", state_dir, name);
}

void paths_session_dir(char *out, size_t n, const char *state_dir, const char *session)
{
	snprintf(out, n, "%s/sock/%s", state_dir, session);
}

int paths_session_ok(const char *session)
{
	size_t l = strlen(session);
	if (l == 0 || l > PATHS_SESSION_LEN || session[0] == '.')
		return 0;
	for (size_t i = 0; i < l; i++)
		if (!isalnum((unsigned char)session[i]))
			return 0;
	return 1;
}

int paths_endpoint(char *out, size_t n, const char *state_dir, const char *session,
		   const char *name, int index)
{
	int len;
	if (index >= 0)
		len = snprintf(out, n, "ipc://%s/sock/%s/%s%d", state_dir, session, name, index);
	else
		len = snprintf(out, n, "ipc://%s/sock/%s/%s", state_dir, session, name);
	struct sockaddr_un sun;
	return len < 0 || (size_t)len - 6 >= sizeof sun.sun_path ? -1 : 0;
}
