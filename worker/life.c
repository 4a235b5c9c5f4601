/* life.c: whether this worker must stop or is orphaned. Read by the loop (main.c) and during a
 * call (call.c), so neither needs the other for it. */
#include "worker.h"
#include "../common/sig.h"

#include <poll.h>

static int parent_gone(int fd)
{
	if (fd < 0)
		return 0;
	struct pollfd p = { fd, POLLIN, 0 };
	return poll(&p, 1, 0) > 0 && (p.revents & (POLLIN | POLLHUP | POLLERR));
}

int worker_must_stop(struct worker *w)
{
	(void)w;
	return sig_stop_requested();
}

int worker_orphaned(struct worker *w)
{
	return w->orphaned || sig_orphaned();
}

void worker_check_parent(struct worker *w)
{
	if (parent_gone(w->parent_fd))
		w->orphaned = 1;
}

