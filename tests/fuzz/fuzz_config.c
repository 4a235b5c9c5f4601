/* fuzz_config.c: libFuzzer target for the config reader; a config that parses must also
 * survive a round trip through config_to_json. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "../../common/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config c;
	char err[512];
	config_defaults(&c);
	if (config_parse(&c, (const char *)data, size, "fuzz.json", err, sizeof err) == 0) {
		buf j;
		buf_init(&j);
		config_to_json(&c, &j);
		struct config again;
		config_defaults(&again);
		if (config_parse(&again, j.data, j.len, "again", err, sizeof err) != 0)
			abort(); /* what we write we must read back */
		config_free(&again);
		buf_free(&j);
	}
	config_free(&c);
	return 0;
}
