/* iocsync report --html FILE: the state store as one page people read at
 * a glance. See report.h. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "iocsync_limits.h"
#include "report.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] report --html FILE [--runs N]\n"
	"       iocsync [-c FILE] report --tenants [--json]\n"
	"\n"
	"Writes one self-contained HTML page (inline CSS and SVG, no script, no\n"
	"external resource) from the state store, without calling MDE: cap use,\n"
	"the indicators iocsync owns by feed, type and action, feed health (last\n"
	"fetch, age, stale snapshot in use), rejected entries by reason with\n"
	"examples, conflicts and over-budget indicators of the last sync, and the\n"
	"last N runs (default 30) as a chart and a table; for a lead, enforcement\n"
	"per device group (as iocsync doctor last saw it) and the changes of the\n"
	"last 7 and 30 days. FILE - is stdout.\n"
	"With [tenant] sections and no -t, one page with a row per tenant: owned,\n"
	"drift (what the last plan or sync left to do, held deletions included),\n"
	"last run and success, conflicts, overrides, feeds down. --tenants prints\n"
	"the same rows (--json: a JSON array).\n"
	"Exit status: 0, 1 a store cannot be read or FILE written, 2 usage; with\n"
	"--tenants, 2 when a tenant has drift.\n";

/* Every tenant's row (one row for a configuration without tenants);
 * *unreadable counts the states that could not be read. */
static json_t *
tenant_rows(const struct config *c, long long now, size_t *unreadable)
{
	json_t *rows = json_array();
	size_t n = c->ntenants ? c->ntenants : 1;
	*unreadable = 0;
	for (size_t i = 0; i < n; i++) {
		struct config *t = c->ntenants ? config_tenant(c, i, false) : NULL;
		const struct config *tc = t ? t : c;
		/* (no state yet: none is made here) */
		struct store *st = access(tc->state, F_OK) == 0 ? sync_open_store(tc, "report", false) : NULL;
		json_t *doc = st ? report_status_doc(tc, st, LIMIT_STATUS_RUNS, now) : NULL;
		*unreadable += doc == NULL;
		json_array_append_new(rows, report_tenant_row(tc, doc));
		json_decref(doc);
		store_close(st);
		config_free(t);
	}
	return rows;
}

/* report --tenants, and --html of a configuration with tenants. */
static int
tenants_report(struct app *a, const char *out, bool json)
{
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	long long now = (long long)time(NULL);
	size_t unreadable;
	json_t *rows = tenant_rows(c, now, &unreadable);
	int rc = EXIT_OK;
	if (out) {
		rc = app_write_out("report", out, report_tenants_html(rows, now), 0644);
	} else if (json) {
		json_dumpf(rows, stdout, JSON_INDENT(1));
		putchar('\n');
	} else {
		report_tenants_print(stdout, rows);
	}
	size_t i, drifting = 0;
	json_t *r;
	json_array_foreach(rows, i, r)
		drifting += json_integer_value(json_object_get(r, "drift")) > 0;
	if (rc == EXIT_OK && !out)
		rc = unreadable ? EXIT_FAIL : drifting ? 2 : EXIT_OK;
	json_decref(rows);
	config_free(c);
	return rc;
}

int
cmd_report(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"html", required_argument, NULL, 'H'}, {"runs", required_argument, NULL, 'r'},
		{"tenants", no_argument, NULL, 'T'},    {"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},       {NULL, 0, NULL, 0},
	};
	const char *out = NULL;
	long long nruns = 30;
	bool tenants = false, json = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'H': out = optarg; break;
		case 'T': tenants = true; break;
		case 'j': json = true; break;
		case 'r':
			if (!cmd_status_runs("report", optarg, &nruns))
				return EXIT_USAGE;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || (out == NULL) == !tenants || (json && !tenants)) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (tenants)
		return tenants_report(a, NULL, json);
	if (a->tenant == NULL) {
		/* a configuration with tenants and no -t: the page of them all */
		struct config *c = app_config(a, true);
		bool many = c && c->ntenants > 0;
		config_free(c);
		if (many)
			return tenants_report(a, out, false);
	}
	struct config *c;
	long long now;
	int rc;
	json_t *doc = cmd_status_load(a, "report", nruns, &c, &now, &rc);
	if (doc == NULL)
		return rc;
	rc = app_write_out("report", out, report_html(c, doc, now), 0644);
	json_decref(doc);
	config_free(c);
	return rc;
}
