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
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] status [--json] [--runs N]\n"
	"\n"
	"Prints what the state store knows (no call to MDE): the indicators\n"
	"iocsync owns by type, action and feed, those expiring within a day and\n"
	"those held after leaving their feeds; each feed's last fetch and last\n"
	"good snapshot; the last runs (default 10) with their counts and calls.\n"
	"Exit status: 0, or 1 when the store cannot be read, 2 usage.\n";

struct tally {
	json_t *by_type, *by_action, *by_feed;
	long long total, expiring, held, now;
};

static void
bump(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	json_object_set_new(o, k, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void
count_row(void *ctx, const struct store_ind *r)
{
	struct tally *t = ctx;
	t->total++;
	bump(t->by_type, ioc_type_name((enum ioc_type)r->type));
	bump(t->by_action, ioc_action_name((enum ioc_action)r->action));
	const char *f = r->feeds && *r->feeds ? r->feeds : "(unknown)";
	while (*f) {
		size_t n = strcspn(f, ",");
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)n, f);
		bump(t->by_feed, name);
		f += n + (f[n] == ',');
	}
	if (r->expires_at && r->expires_at - t->now < 86400)
		t->expiring++;
	if (r->gone_since)
		t->held++;
}

static void
run_row(void *ctx, const struct store_run *r)
{
	json_t *a = ctx, *sum = r->summary ? json_loads(r->summary, 0, NULL) : NULL;
	char ts[32];
	format_time(r->started, ts, sizeof(ts));
	json_t *x = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)r->id, "verb", r->verb, "started", ts,
			      "outcome", r->outcome);
	if (sum)
		json_object_set_new(x, "summary", sum);
	if (r->message)
		json_object_set_new(x, "message", json_string(r->message));
	json_array_append_new(a, x);
}

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

int
cmd_status(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"json", no_argument, NULL, 'j'}, {"runs", required_argument, NULL, 'r'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	bool json = false;
	long long nruns = 10;
	const char *why;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'j': json = true; break;
		case 'r':
			if (num_parse(optarg, 1, 1000, &nruns, &why) != ERR_OK) {
				fprintf(stderr, "iocsync status: --runs %s: %s\n", optarg, why);
				return EXIT_USAGE;
			}
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	struct store *st = sync_open_store(c, "status", false);
	if (st == NULL) {
		config_free(c);
		return EXIT_FAIL;
	}
	struct tally t = {json_object(), json_object(), json_object(), 0, 0, 0, (long long)time(NULL)};
	json_t *runs = json_array(), *feeds = json_array();
	int rc = EXIT_OK;
	if (store_ind_each(st, count_row, &t) != ERR_OK || store_runs_each(st, (int)nruns, run_row, runs) != ERR_OK) {
		fprintf(stderr, "iocsync status: cannot read the state store %s\n", c->state);
		rc = EXIT_FAIL;
	}
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct store_feed f;
		json_t *x = json_pack("{s:s, s:b}", "name", c->feeds[i].name, "enabled", c->feeds[i].enabled);
		if (store_feed_get(st, c->feeds[i].name, &f) == ERR_OK) {
			char ts[32];
			if (f.fetched_at) {
				format_time(f.fetched_at, ts, sizeof(ts));
				json_object_set_new(x, "fetched", json_string(ts));
			}
			if (f.last_good_at) {
				format_time(f.last_good_at, ts, sizeof(ts));
				json_object_set_new(x, "last_good", json_string(ts));
				json_object_set_new(x, "age_s", json_integer((json_int_t)(t.now - f.last_good_at)));
			}
			json_object_set_new(x, "indicators", json_integer((json_int_t)f.entries));
			if (f.last_error)
				json_object_set_new(x, "error", json_string(f.last_error));
			store_feed_clear(&f);
		}
		json_array_append_new(feeds, x);
	}
	if (json) {
		json_t *doc = json_pack("{s:{s:I, s:o, s:o, s:o, s:I, s:I}, s:O, s:O}", "indicators", "total",
					(json_int_t)t.total, "by_type", t.by_type, "by_action", t.by_action, "by_feed",
					t.by_feed, "expiring_within_a_day", (json_int_t)t.expiring, "held",
					(json_int_t)t.held, "feeds", feeds, "runs", runs);
		json_dumpf(doc, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(doc);
	} else {
		printf("indicators iocsync owns: %lld of the cap of %lld (reserve %lld)\n", t.total, c->cap, c->reserve);
		print_counts("by type", t.by_type);
		print_counts("by action", t.by_action);
		print_counts("by feed", t.by_feed);
		printf("  expiring within a day: %lld; held after leaving their feeds: %lld\n", t.expiring, t.held);
		printf("feeds:\n");
		size_t i;
		json_t *x;
		json_array_foreach(feeds, i, x) {
			printf("  %-20s %s, %lld indicators, last good %s%s%s\n",
			       json_string_value(json_object_get(x, "name")),
			       json_is_true(json_object_get(x, "enabled")) ? "enabled" : "disabled",
			       (long long)json_integer_value(json_object_get(x, "indicators")),
			       json_object_get(x, "last_good") ? json_string_value(json_object_get(x, "last_good")) : "never",
			       json_object_get(x, "error") ? ", last error: " : "",
			       json_object_get(x, "error") ? json_string_value(json_object_get(x, "error")) : "");
		}
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
		json_decref(t.by_type);
		json_decref(t.by_action);
		json_decref(t.by_feed);
	}
	json_decref(runs);
	json_decref(feeds);
	store_close(st);
	config_free(c);
	return rc;
}
