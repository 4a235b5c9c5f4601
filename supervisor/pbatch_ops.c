/* pbatch_ops.c: the one op of the Batch API in hand (pbatch.h): `kgsup __batchop OP DIR` started
 * with its arguments on standard input, its answer read from standard output without blocking
 * the loop, its end seen by proc_reap or here. */
#include "pbatch.h"
#include "pbatch_impl.h"
#include "rolespawn.h"
#include "sup.h"
#include "../common/log.h"
#include "../common/util.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define OP_OUT_MAX (16 << 20)

static const char *const op_names[] = { [PB_UPLOAD] = "upload", [PB_CREATE] = "create",
					[PB_GET] = "get",       [PB_LIST] = "list",
					[PB_DOWNLOAD] = "download", [PB_COLLECT] = "collect",
					[PB_CANCEL] = "cancel" };

int pbatch_id_ok(const char *id)
{
	if (!*id || strlen(id) >= PART_ID_LEN)
		return 0;
	for (const char *p = id; *p; p++)
		if (!(*p >= 'a' && *p <= 'z') && !(*p >= 'A' && *p <= 'Z') && !(*p >= '0' && *p <= '9') &&
		    *p != '-' && *p != '_')
			return 0;
	return 1;
}

int pbatch_op_start(struct sup *s, enum pb_op op, uint32_t part, const char *args)
{
	struct pbatch *pb = &s->pb;
	char *argv[] = { "kgsup", "__batchop", (char *)op_names[op], s->pb.dir, NULL };
	int to, from;
	pid_t pid = role_spawn(argv, &to, &from);
	if (pid < 0) {
		log_error("cannot start kgsup __batchop %s: %s", op_names[op], strerror(errno));
		pb->next_op = now_ms() + 1000;
		return 0;
	}
	size_t len = strlen(args), off = 0;
	while (off < len) {
		ssize_t w = write(to, args + off, len - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0)
			break; /* it died: its end says so */
		off += (size_t)w;
	}
	close(to);
	fcntl(from, F_SETFL, fcntl(from, F_GETFL) | O_NONBLOCK);
	pb->op.op = op;
	pb->op.part = part;
	pb->op.pid = pid;
	pb->op.from = from;
	pb->op.eof = pb->op.reaped = 0;
	pb->op.started = now_ms();
	buf_reset(&pb->op.out);
	log_debug("part %u: %s", part, op_names[op]);
	return 1;
}

int pbatch_op_poll(struct sup *s)
{
	struct pbatch *pb = &s->pb;
	char chunk[65536];
	while (!pb->op.eof) {
		ssize_t n = read(pb->op.from, chunk, sizeof chunk);
		if (n > 0 && pb->op.out.len < OP_OUT_MAX)
			buf_put(&pb->op.out, chunk, (size_t)n);
		else if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN))
			pb->op.eof = 1;
		else if (n < 0 && errno == EAGAIN)
			return 0;
	}
	if (!pb->op.reaped) {
		int st;
		pid_t r = waitpid(pb->op.pid, &st, WNOHANG);
		if (r != pb->op.pid)
			return 0;
		pb->op.reaped = 1;
		pb->op.status = st;
	}
	close(pb->op.from);
	pb->op.from = -1;
	enum pb_op op = pb->op.op;
	int code = WIFEXITED(pb->op.status) ? WEXITSTATUS(pb->op.status) : -1;
	pb->op.op = PB_NONE;
	pb->op.pid = 0;
	pbatch_step_done(s, op, pb->op.part, code, pb->op.out.data ? pb->op.out.data : "",
			 pb->op.out.len);
	return 1;
}

const char *pbatch_op_name(enum pb_op op)
{
	return op > PB_NONE && op <= PB_CANCEL ? op_names[op] : "?";
}
