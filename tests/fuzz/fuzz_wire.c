/* fuzz_wire.c: libFuzzer target for bytes from other processes and from HTTP headers: every
 * inter-process message decoder, and the rate-limit header and duration parsers. A message
 * that decodes must re-encode to the same bytes. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../common/proto.h"
#include "../../common/ratehdr.h"

#define ROUND_TRIP(type, decode, encode)                                      \
	do {                                                                  \
		struct type m;                                                \
		if (decode(data, size, &m) == 0) {                            \
			buf b;                                                \
			buf_init(&b);                                         \
			encode(&b, &m);                                       \
			if (b.len != size || memcmp(b.data, data, size))      \
				abort();                                      \
			buf_free(&b);                                         \
		}                                                             \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	ROUND_TRIP(msg_hello, msg_decode_hello, msg_encode_hello);
	ROUND_TRIP(msg_batch, msg_decode_batch, msg_encode_batch);
	ROUND_TRIP(msg_result, msg_decode_result, msg_encode_result);
	ROUND_TRIP(msg_ask, msg_decode_ask, msg_encode_ask);
	ROUND_TRIP(msg_grant, msg_decode_grant, msg_encode_grant);
	ROUND_TRIP(msg_report, msg_decode_report, msg_encode_report);
	ROUND_TRIP(msg_invalid, msg_decode_invalid, msg_encode_invalid);
	struct ratelimit_info r;
	ratelimit_clear(&r);
	ratelimit_header(&r, (const char *)data, size, 1445412480000LL);
	ratelimit_parse_duration((const char *)data, size);
	return 0;
}
