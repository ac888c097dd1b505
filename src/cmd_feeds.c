/* iocsync feeds: fetch every configured feed and report on each, as
 * check does for files. A feed that fails, answers an HTML page or an
 * empty body, parses to nothing or shrinks past max_shrink is an error
 * for that feed, never an empty feed: its last good snapshot stands. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "collect.h"
#include "merge.h"
#include "output.h"
#include "store.h"

static const char usage[] =
	"usage: iocsync [-c FILE] feeds [--json] [--summary] [NAME...]\n"
	"\n"
	"Fetches the configured feeds (or those named) and prints, for each, what\n"
	"check prints for a file. Validators (ETag, Last-Modified) and the last good\n"
	"copy are kept in the state store, so an unchanged feed costs one 304.\n"
	"  --json       JSON Lines, as check --json\n"
	"  -s, --summary  the summaries only\n"
	"Exit status: 0 every feed fresh, 1 a feed failed (its last good snapshot is\n"
	"kept), 2 usage or configuration error.\n";

int
cmd_feeds(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"summary", no_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct output out = {.fp = stdout, .quiet = a->quiet};
	int ch, rc = EXIT_OK;
	char why[512];

	optind = 1;
	while ((ch = getopt_long(argc, argv, "sh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': out.json = true; break;
		case 's': out.quiet = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	for (int i = optind; i < argc; i++) {
		if (config_feed(c, argv[i]) == NULL) {
			fprintf(stderr, "iocsync feeds: no feed named \"%s\" in %s\n", argv[i], c->path);
			config_free(c);
			return EXIT_USAGE;
		}
	}
	if (c->nfeeds == 0) {
		fprintf(stderr, "iocsync feeds: %s defines no [feed \"name\"] section\n", c->path);
		config_free(c);
		return EXIT_USAGE;
	}
	struct policy *pol = policy_new();
	struct store *st = NULL;
	struct merge *m = merge_new();
	if (!collect_allowlists(c, pol)) {
		rc = EXIT_USAGE;
		goto done;
	}
	st = store_open(c->state, "feeds", why, sizeof(why));
	if (st == NULL) {
		fprintf(stderr, "iocsync feeds: %s\n", why);
		rc = EXIT_FAIL;
		goto done;
	}
	output_stdout(&out);
	size_t nfeeds = 0, failed = 0;
	for (size_t k = 0; k < c->nfeeds; k++) {
		bool wanted = optind >= argc;
		for (int i = optind; i < argc; i++)
			wanted |= strcmp(c->feeds[k].name, argv[i]) == 0;
		if (!wanted || !c->feeds[k].enabled)
			continue;
		nfeeds++;
		struct collect_use use = {0};
		struct merge *mine = collect_feed(c, &c->feeds[k], (uint32_t)k, st, pol, &out, false, NULL, &use);
		merge_absorb(m, mine);
		merge_free(mine);
		json_decref(use.summary);
		failed += use.failed;
	}
	output_total(&out, merge_count(m), nfeeds, failed);
	rc = failed ? EXIT_FAIL : EXIT_OK;
done:
	merge_free(m);
	store_close(st);
	policy_free(pol);
	config_free(c);
	return rc;
}
