/*
 * libFuzzer target: every reply the MDE client parses, through a whole
 * sync run. The token endpoint and the API answer from the fuzz input
 * (see replay.h); the feed is fixed. The first byte picks the run:
 * bit 0 plan instead of sync, bit 1 a tiny cap, bit 2 pages of 2,
 * bit 3 the v1 token endpoint, bit 4 --force.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "doctor.h"
#include "config.h"
#include "http.h"
#include "log.h"
#include "replay.h"
#include "sync.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FEED_URL "https://feed.fuzz.test/f.txt"

static char dir[256];
static FILE *devnull;
static bool verbose;
static struct config *conf[32];

static const char feed[] =
	"45.1.2.3\n185.220.101.4\nevil-fuzz.top\nhttp://bad-fuzz.top/x?y=1\n"
	"44d88612fea8a8f36de82e1278abb02f\n"
	"275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f\n";

static void clean_state(void);

static void
remove_dir(void)
{
	clean_state();
	rmdir(dir);
}

static void
setup(void)
{
	replay_tmpdir(dir, sizeof(dir), "fuzz-mde");
	atexit(remove_dir);
	/* FUZZ_VERBOSE=1 ./fuzz_mde FILE shows what one input does. */
	verbose = getenv("FUZZ_VERBOSE") != NULL;
	devnull = verbose ? stderr : fopen("/dev/null", "w");
	setenv("IOCSYNC_FUZZ_SECRET", "fuzz-secret-not-real", 1);
	log_set_level(verbose ? LOG_DEBUG : LOG_SILENT);
	for (int v = 0; v < 32; v++) {
		char *text;
		if (asprintf(&text,
			     "[mde]\ntenant_id = 11111111-1111-1111-1111-111111111111\n"
			     "client_id = 22222222-2222-2222-2222-222222222222\n"
			     "client_secret_env = IOCSYNC_FUZZ_SECRET\n"
			     "api_url = https://api.fuzz.test\nlogin_url = https://login.fuzz.test\n"
			     "token_version = %d\nlist_page = %d\ndeadline = 10m\n"
			     "[sync]\nstate = %s/state.db\ncap = %d\nreserve = %d\n"
			     "[feed \"f\"]\nurl = " FEED_URL "\naction = block\nexpire_after = 7d\n"
			     "device_groups = Servers, Tier 0\n",
			     v & 8 ? 1 : 2, v & 4 ? 2 : 10000, dir, v & 2 ? 3 : 15000, v & 2 ? 1 : 100) < 0)
			abort();
		struct strbuf errs = {0};
		conf[v] = config_load_string("fuzz.conf", text, &errs);
		if (conf[v] == NULL) {
			fprintf(stderr, "fuzz_mde: the built-in configuration is refused: %s\n", errs.buf);
			abort();
		}
		sb_free(&errs);
		free(text);
	}
}

static void
clean_state(void)
{
	static const char *const files[] = {"state.db", "state.db-wal", "state.db-shm", "state.db-journal",
					    "state.db.lock"};
	char p[320];
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		snprintf(p, sizeof(p), "%s/%s", dir, files[i]);
		unlink(p);
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (devnull == NULL)
		setup();
	if (size < 1)
		return 0;
	unsigned v = data[0] & 31;
	struct replay rp;
	replay_init(&rp, data + 1, size - 1);
	rp.fixed_url = FEED_URL;
	rp.fixed_body = feed;
	http_set_stub(replay_stub, &rp);
	clean_state();
	struct sync_opts o = {.verb = v & 1 ? "plan" : "sync",
			      .dry_run = v & 1,
			      .force = (v & 16) != 0,
			      .quiet = !verbose,
			      .out = devnull,
			      .clk = &rp.clk};
	int rc;
	if (data[0] & 32) {
		json_t *checks;
		rc = doctor_run(conf[v], &rp.clk, &checks);
		if (!json_is_array(checks) || json_array_size(checks) == 0)
			abort();
		if (verbose)
			json_dumpf(checks, stderr, JSON_INDENT(1));
		json_decref(checks);
	} else {
		rc = sync_run(conf[v], &o);
	}
	http_set_stub(NULL, NULL);
	if (verbose)
		fprintf(stderr, "fuzz_mde: variant %u, %zu replies served, exit %d\n", v, rp.served, rc);
	if (rc < 0 || rc > 2)
		abort();
	return 0;
}
