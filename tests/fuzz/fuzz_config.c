/* libFuzzer target: the configuration parser. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	struct strbuf errs = {0};
	memcpy(s, data, size);
	s[size] = '\0';
	config_free(config_load_string("fuzz.conf", s, &errs));
	sb_free(&errs);
	free(s);
	return 0;
}
