/* fuzz_wire.c: libFuzzer target for bytes from other processes and from HTTP headers: every
 * inter-process message decoder, and the rate-limit header and duration parsers. A message
 * that decodes must re-encode to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/proto.h"
#include "../../common/ratehdr.h"

/* every message type of proto.h's list */
#define ROUND_TRIP(NAME, name)                                                         \
	do {                                                                           \
		struct msg_##name m;                                                   \
		if (msg_decode_##name(data, size, &m) == 0) {                          \
			buf b;                                                         \
			buf_init(&b);                                                  \
			msg_encode_##name(&b, &m);                                     \
			if (b.len != size || memcmp(b.data, data, size))               \
				abort();                                               \
			buf_free(&b);                                                  \
		}                                                                      \
	} while (0);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	PROTO_MESSAGES(ROUND_TRIP)
	struct ratelimit_info r;
	ratelimit_clear(&r);
	ratelimit_header(&r, (const char *)data, size, 1445412480000LL);
	ratelimit_parse_duration((const char *)data, size);
	return 0;
}
