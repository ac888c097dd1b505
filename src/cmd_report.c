/* iocsync report --html FILE: the state store as one page people read at
 * a glance. See report.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "report.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] report --html FILE [--runs N]\n"
	"\n"
	"Writes one self-contained HTML page (inline CSS and SVG, no script, no\n"
	"external resource) from the state store, without calling MDE: cap use,\n"
	"the indicators iocsync owns by feed, type and action, feed health (last\n"
	"fetch, age, stale snapshot in use), rejected entries by reason with\n"
	"examples, conflicts and over-budget indicators of the last sync, and the\n"
	"last N runs (default 30) as a chart and a table. FILE - is stdout.\n"
	"Exit status: 0, 1 the store cannot be read or FILE written, 2 usage.\n";

int
cmd_report(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"html", required_argument, NULL, 'H'},
		{"runs", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	long long nruns = 30;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': out = optarg; break;
		case 'r':
			if (!cmd_status_runs("report", optarg, &nruns))
				return EXIT_USAGE;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || out == NULL) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct config *c;
	long long now;
	int rc;
	json_t *doc = cmd_status_load(a, "report", nruns, &c, &now, &rc);
	if (doc == NULL)
		return rc;
	char *html = report_html(c, doc, now);
	size_t len = strlen(html);
	if (strcmp(out, "-") == 0 ? fwrite(html, 1, len, stdout) != len
				  : file_write_atomic(out, html, len, 0644) != ERR_OK) {
		fprintf(stderr, "iocsync report: %s: %s\n", out, strerror(errno));
		rc = EXIT_FAIL;
	}
	free(html);
	json_decref(doc);
	config_free(c);
	return rc;
}
