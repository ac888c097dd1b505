/* iocsync plan and iocsync sync: see sync.h. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cmd.h"
#include "signals.h"
#include "sync.h"

static const char plan_usage[] =
	"usage: iocsync [-c FILE] plan [--json] [-v]\n"
	"\n"
	"Fetches the feeds, lists what MDE holds and prints what sync would do:\n"
	"create, update, renew, replace, delete, hold, conflict, over-budget.\n"
	"Nothing is written to MDE.\n"
	"  --json    one JSON document\n"
	"  -v        every planned change (default: the first 20 of each kind)\n"
	"Exit status: 0 nothing to change, 2 changes pending, 1 an error (a feed\n"
	"failed, MDE out of reach, a bad command line or configuration).\n";

static const char sync_usage[] =
	"usage: iocsync [-c FILE] sync [--dry-run] [--force] [--json] [-v]\n"
	"\n"
	"Makes the indicators iocsync owns in MDE equal to the feeds: imports new\n"
	"and changed ones in batches of 500, renews those about to expire,\n"
	"replaces those whose action changed, deletes those that left every feed\n"
	"(BatchDelete), and never touches what others own.\n"
	"  --dry-run  plan only (same as iocsync plan)\n"
	"  --force    apply even when the plan deletes more than max_delete\n"
	"  --json     one JSON document\n"
	"  -v         every planned change\n"
	"Exit status: 0 converged, 1 something failed (a feed, an item, MDE, or\n"
	"the max_delete stop), 2 usage or configuration error.\n";

static int
run(struct app *a, int argc, char **argv, bool is_plan)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'}, {"dry-run", no_argument, NULL, 'n'},
		{"force", no_argument, NULL, 'f'}, {"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	struct sync_opts o = {.verb = is_plan ? "plan" : "sync", .dry_run = is_plan, .quiet = a->quiet,
			      .verbose = a->verbose};
	const char *usage = is_plan ? plan_usage : sync_usage;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "vh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': o.json = true; break;
		case 'n': if (is_plan) goto bad; o.dry_run = true; break;
		case 'f': if (is_plan) goto bad; o.force = true; break;
		case 'v': o.verbose = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: goto bad;
		}
	}
	if (optind < argc)
		goto bad;
	struct config *c = app_config(a, true);
	if (c == NULL)
		goto fail;
	signals_install(false); /* Ctrl-C: finish the batch in flight, record, stop */
	int rc = sync_all(c, &o);
	config_free(c);
	return rc;
bad:
	fputs(usage, stderr);
fail:
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
