/*
 * libFuzzer target: TAXII 2.1 replies (discovery, API root, collections,
 * envelopes with more/next and X-TAXII-Date-Added-Last), served from the
 * fuzz input (see replay.h) to taxii_fetch; the bundle it builds then goes
 * through the STIX parser as a sync would send it. The first byte picks:
 * bit 0 the first record is the last good snapshot, bit 1 with a cursor,
 * bit 2 an API root in the configuration, bit 3 basic authentication,
 * bit 4 an API key header.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config.h"
#include "http.h"
#include "log.h"
#include "merge.h"
#include "pipeline.h"
#include "policy.h"
#include "replay.h"
#include "taxii.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static char secret_path[300];
static struct policy *pol;
static bool verbose;

static char dir[256];

static void
remove_dir(void)
{
	unlink(secret_path);
	rmdir(dir);
}

static void
setup(void)
{
	replay_tmpdir(dir, sizeof(dir), "fuzz-taxii");
	atexit(remove_dir);
	snprintf(secret_path, sizeof(secret_path), "%s/secret", dir);
	FILE *f = fopen(secret_path, "w");
	if (f == NULL)
		abort();
	fputs("fuzz-password-not-real\n", f);
	fclose(f);
	chmod(secret_path, 0600);
	pol = policy_new();
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	log_set_level(verbose ? LOG_DEBUG : LOG_SILENT);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (pol == NULL)
		setup();
	if (size < 1)
		return 0;
	unsigned v = data[0];
	struct replay rp;
	replay_init(&rp, data + 1, size - 1);
	struct feed_cfg f = {.name = "fuzz",
			     .url = "https://taxii.fuzz.test/taxii2/",
			     .format = FEED_TAXII,
			     .taxii_collection = "indicators",
			     .csv_header = -1};
	if (v & 4)
		f.taxii_api_root = "https://taxii.fuzz.test/api1/";
	if (v & 8) {
		f.username = "fuzz";
		f.password_file = secret_path;
	} else if (v & 16) {
		f.api_key_header = "X-Api-Key";
		f.api_key_file = secret_path;
	}
	struct taxii_opts o = {.max_bytes = 1 << 20, .cursor = v & 2 ? "2026-01-01T00:00:00.000Z" : NULL};
	if (v & 1)
		o.snapshot = replay_take_raw(&rp, &o.snapshot_len);
	struct taxii_result res;
	char why[512];
	http_set_stub(replay_stub, &rp);
	enum err e = feed_taxii_fetch(&f, &o, &res, why, sizeof(why));
	http_set_stub(NULL, NULL);
	if (verbose)
		fprintf(stderr, "fuzz_taxii: flags %u, %zu replies, %s%s, %zu bytes\n", v, rp.served,
			e == ERR_OK ? "ok" : "failed: ", e == ERR_OK ? "" : why, e == ERR_OK ? res.len : 0);
	if (e != ERR_OK) {
		if (res.body != NULL || why[0] == '\0')
			abort(); /* a failure says why and hands nothing on */
		return 0;
	}
	struct feed_opts fo = {.format = FEED_STIX, .csv_header = -1};
	struct pipe_cfg pc = {.name = "fuzz", .cidr = CIDR_SKIP, .cidr_max_addrs = 256, .policy = pol};
	struct feed_stats st = {0};
	struct merge *m = merge_new();
	pipeline_run(&pc, &fo, res.body, res.len, m, NULL, &st, why, sizeof(why));
	merge_free(m);
	feed_taxii_result_free(&res);
	return 0;
}
