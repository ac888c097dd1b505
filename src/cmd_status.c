/* iocsync status: what the state store knows, without a network call:
 * the indicators iocsync owns by type, action and feed, the feeds'
 * health, and the last runs. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "iocsync_limits.h"
#include "report.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] status [--json] [--runs N]\n"
	"\n"
	"Prints what the state store knows (no call to MDE): the indicators\n"
	"iocsync owns by type, action and feed, those expiring within a day and\n"
	"those held after leaving their feeds; each feed's last fetch and last\n"
	"good snapshot; the last runs (default 10) with their counts and calls.\n"
	"Exit status: 0, or 1 when the store cannot be read, 2 usage.\n";

static void
print_counts(const char *label, json_t *o)
{
	const char *k;
	json_t *v;
	const char *sep = "";
	printf("  %-10s", label);
	json_object_foreach(o, k, v) {
		printf("%s %s %lld", sep, k, (long long)json_integer_value(v));
		sep = ",";
	}
	printf("%s\n", *sep ? "" : " none");
}

/* A feed's line: what its indicators are sent with, and its health. */
static void
print_feed(const json_t *x)
{
	char groups[300] = "";
	size_t g, o = 0;
	json_t *gn;
	json_array_foreach(json_object_get(x, "device_groups"), g, gn) {
		if (o < sizeof(groups))
			o += (size_t)snprintf(groups + o, sizeof(groups) - o, "%s%s", g ? "," : "",
					      json_string_value(gn));
	}
	long long ea = (long long)json_integer_value(json_object_get(x, "expire_after_s"));
	char after[32];
	snprintf(after, sizeof(after), ea % 86400 ? "%lldh" : "%lldd", ea % 86400 ? ea / 3600 : ea / 86400);
	printf("  %-20s %s, %lld indicators, %s, alert %s, groups %s, expire after %s, last good %s%s%s\n",
	       json_string_value(json_object_get(x, "name")),
	       json_is_true(json_object_get(x, "enabled")) ? "enabled" : "disabled",
	       (long long)json_integer_value(json_object_get(x, "indicators")),
	       json_string_value(json_object_get(x, "action")),
	       json_is_true(json_object_get(x, "generate_alert")) ? "yes" : "no", o ? groups : "all", after,
	       json_object_get(x, "last_good") ? json_string_value(json_object_get(x, "last_good")) : "never",
	       json_object_get(x, "error") ? ", last error: " : "",
	       json_object_get(x, "error") ? json_string_value(json_object_get(x, "error")) : "");
}

json_t *
cmd_status_load(struct app *a, const char *verb, long long nruns, struct config **cp, long long *now, int *rc)
{
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	*cp = NULL;
	if (c == NULL) {
		*rc = EXIT_USAGE;
		return NULL;
	}
	struct store *st = sync_open_store(c, verb, false);
	json_t *doc = NULL;
	*now = (long long)time(NULL);
	if (st && (doc = report_status_doc(c, st, (int)nruns, *now)) == NULL)
		fprintf(stderr, "iocsync %s: cannot read the state store %s\n", verb, c->state);
	store_close(st);
	if (doc == NULL) {
		config_free(c);
		*rc = EXIT_FAIL;
		return NULL;
	}
	*cp = c;
	*rc = EXIT_OK;
	return doc;
}

bool
cmd_status_runs(const char *verb, const char *arg, long long *n)
{
	const char *why;
	if (num_parse(arg, 1, LIMIT_STATUS_RUNS, n, &why) == ERR_OK)
		return true;
	fprintf(stderr, "iocsync %s: --runs %s: %s\n", verb, arg, why);
	return false;
}

int
cmd_status(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'},
		{"runs", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false;
	long long nruns = 10;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = true; break;
		case 'r':
			if (!cmd_status_runs("status", optarg, &nruns))
				return EXIT_USAGE;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct config *c;
	long long now;
	int rc;
	json_t *doc = cmd_status_load(a, "status", nruns, &c, &now, &rc);
	if (doc == NULL)
		return rc;
	json_t *ind = json_object_get(doc, "indicators"), *feeds = json_object_get(doc, "feeds");
	json_t *runs = json_object_get(doc, "runs");
	if (json) {
		json_dumpf(doc, stdout, JSON_INDENT(1));
		putchar('\n');
	} else {
		printf("indicators iocsync owns: %lld of the cap of %lld (reserve %lld)\n",
		       (long long)json_integer_value(json_object_get(ind, "total")), c->cap, c->reserve);
		print_counts("by type", json_object_get(ind, "by_type"));
		print_counts("by action", json_object_get(ind, "by_action"));
		print_counts("by feed", json_object_get(ind, "by_feed"));
		printf("  expiring within a day: %lld; held after leaving their feeds: %lld\n",
		       (long long)json_integer_value(json_object_get(ind, "expiring_within_a_day")),
		       (long long)json_integer_value(json_object_get(ind, "held")));
		printf("feeds:\n");
		size_t i;
		json_t *x;
		json_array_foreach(feeds, i, x)
			print_feed(x);
		printf("last runs:\n");
		json_array_foreach(runs, i, x) {
			json_t *sum = json_object_get(x, "summary"), *done = json_object_get(sum, "done");
			json_t *calls = json_object_get(sum, "calls");
			printf("  #%-5lld %s %-5s %-8s", (long long)json_integer_value(json_object_get(x, "id")),
			       json_string_value(json_object_get(x, "started")),
			       json_string_value(json_object_get(x, "verb")),
			       json_string_value(json_object_get(x, "outcome")));
			if (done)
				printf(" +%lld ~%lld r%lld x%lld -%lld",
				       (long long)json_integer_value(json_object_get(done, "create")),
				       (long long)json_integer_value(json_object_get(done, "update")),
				       (long long)json_integer_value(json_object_get(done, "renew")),
				       (long long)json_integer_value(json_object_get(done, "replace")),
				       (long long)json_integer_value(json_object_get(done, "delete")));
			const char *k;
			json_t *v;
			if (calls && json_object_size(calls)) {
				printf("  calls");
				json_object_foreach(calls, k, v)
					printf(" %s %lld", k, (long long)json_integer_value(v));
			}
			if (json_object_get(x, "message"))
				printf("  (%s)", json_string_value(json_object_get(x, "message")));
			putchar('\n');
		}
	}
	json_decref(doc);
	config_free(c);
	return rc;
}
