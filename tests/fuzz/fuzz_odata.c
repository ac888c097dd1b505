/* libFuzzer: mde-emulator's OData $filter parser and evaluator. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../emu/emu.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static json_t *obj;
	char why[256];
	if (obj == NULL)
		obj = json_pack("{s:s, s:s, s:s, s:b, s:s, s:n, s:[s]}", "indicatorValue", "45.1.2.3", "indicatorType",
				"IpAddress", "title", "t'x", "generateAlert", 1, "creationTimeDateTimeUtc",
				"2026-01-01T00:00:00.0000000Z", "expirationTime", "rbacGroupNames", "g");
	char *s = malloc(size + 1);
	memcpy(s, data, size);
	s[size] = '\0';
	struct filter *f = filter_parse(s, size & 1 ? FILTER_MACHINES : FILTER_INDICATORS, why, sizeof(why));
	if (f) {
		(void)filter_match(f, obj);
		filter_free(f);
	}
	free(s);
	return 0;
}
