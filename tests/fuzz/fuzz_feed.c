/* libFuzzer target: every feed format through the whole pipeline. The
 * first byte picks the format (FEED_AUTO sniffs). */
#include <stddef.h>
#include <stdint.h>

#include "merge.h"
#include "pipeline.h"
#include "policy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct policy *pol;
	char why[256];
	if (size < 1)
		return 0;
	if (pol == NULL)
		pol = policy_new();
	struct feed_opts fo = {.format = (enum feed_format)(data[0] % FEED_FORMAT_COUNT), .csv_header = -1};
	struct pipe_cfg pc = {.name = "fuzz",
			      .types = 0,
			      .cidr = data[0] & 0x80 ? CIDR_EXPAND : CIDR_SKIP,
			      .cidr_max_addrs = 256,
			      .policy = pol};
	struct feed_stats st = {0};
	struct merge *m = merge_new();
	pipeline_run(&pc, &fo, (const char *)data + 1, size - 1, m, NULL, &st, why, sizeof(why));
	merge_free(m);
	return 0;
}
