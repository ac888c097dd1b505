/* iocsync plan and iocsync sync: see sync.h. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "util.h"
#include "signals.h"
#include "sync.h"

static const char plan_usage[] =
	"usage: iocsync [-c FILE] plan [--force] [--force-feed NAME ...] [--json] [-v]\n"
	"\n"
	"Fetches the feeds, lists what MDE holds and prints what sync would do:\n"
	"create, update, renew, replace, delete, hold, conflict, over-budget, and\n"
	"the deletions a guard holds (max_delete, max_shrink, a feed down or paused).\n"
	"Nothing is written to MDE.\n"
	"  --force, --force-feed NAME   as sync's, to see what they would do\n"
	"  --json    one JSON document\n"
	"  -v        every planned change (default: the first 20 of each kind)\n"
	"Exit status: 0 nothing to change, 2 changes pending (held deletions too),\n"
	"1 an error (a feed failed, MDE out of reach, a bad command line or\n"
	"configuration).\n";

static const char sync_usage[] =
	"usage: iocsync [-c FILE] sync [--dry-run] [--force] [--force-feed NAME ...] [--json] [-v]\n"
	"\n"
	"Makes the indicators iocsync owns in MDE equal to the feeds: imports new\n"
	"and changed ones in batches of 500, renews those about to expire,\n"
	"replaces those whose action changed, deletes those that left every feed\n"
	"(BatchDelete), and never touches what others own. The guards (max_delete,\n"
	"max_shrink, a feed down or paused) hold deletions only: every create,\n"
	"update and renewal goes out in the same run.\n"
	"  --dry-run           plan only (same as iocsync plan)\n"
	"  --force             let the deletions max_delete and max_shrink hold go\n"
	"  --force-feed NAME   the same for one feed (repeatable): its new body is\n"
	"                      taken past max_shrink, its deletions past max_delete\n"
	"  --json              one JSON document\n"
	"  -v                  every planned change\n"
	"Exit status: 0 converged, 1 something failed (a feed, an item, MDE) or a\n"
	"guard held deletions (the rest applied), 2 usage or configuration error.\n";

static int
run(struct app *a, int argc, char **argv, bool is_plan)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"dry-run", no_argument, NULL, 'n'},
		{"force", no_argument, NULL, 'f'},
		{"verbose", no_argument, NULL, 'v'},
		{"force-feed", required_argument, NULL, 'F'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sync_opts o = {
		.verb = is_plan ? "plan" : "sync", .dry_run = is_plan, .quiet = a->quiet, .verbose = a->verbose};
	const char **ff = xcalloc((size_t)argc + 1, sizeof(*ff));
	const char *usage = is_plan ? plan_usage : sync_usage;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': o.json = true; break;
		case 'n':
			if (is_plan)
				goto bad;
			o.dry_run = true;
			break;
		case 'f': o.force = true; break;
		case 'F': ff[o.nforce_feeds++] = optarg; break;
		case 'v': o.verbose = true; break;
		case 'h':
			fputs(usage, stdout);
			free(ff);
			return EXIT_OK;
		default: goto bad;
		}
	}
	o.force_feeds = ff;
	if (optind < argc)
		goto bad;
	struct config *c = app_config(a, true);
	if (c == NULL)
		goto fail;
	for (size_t i = 0; i < o.nforce_feeds; i++) {
		if (config_feed(c, ff[i]) == NULL) {
			fprintf(stderr, "iocsync: %s: --force-feed %s: no such feed in %s\n", o.verb, ff[i], c->path);
			config_free(c);
			goto fail;
		}
	}
	signals_install(false); /* Ctrl-C: finish the batch in flight, record, stop */
	int rc = sync_all(c, &o);
	config_free(c);
	free(ff);
	return rc;
bad:
	fputs(usage, stderr);
fail:
	free(ff);
	/* plan's 2 means "changes pending": a script acting on it must never
	 * take a broken command line for it. */
	return is_plan ? EXIT_FAIL : EXIT_USAGE;
}

int
cmd_plan(struct app *a, int argc, char **argv)
{
	return run(a, argc, argv, true);
}

int
cmd_sync(struct app *a, int argc, char **argv)
{
	return run(a, argc, argv, false);
}
