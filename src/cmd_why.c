/* iocsync why VALUE: why a value is, or is not, blocked. Which feeds
 * list it (from their last good copies, with the line), what policy says
 * of it, what the state and MDE hold for it, and iocsync's last changes
 * to it. Reads only; MDE is asked unless --offline. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cmd.h"
#include "util.h"
#include "why.h"

static const char usage[] =
	"usage: iocsync [-c FILE] [-t NAME] why VALUE [--type TYPE] [--offline] [--json]\n"
	"\n"
	"Says why VALUE is, or is not, blocked: its canonical form; which feeds list\n"
	"it (from their last good copies, file and line) and which refused it and why;\n"
	"what policy says of it (the allowlist entry or special-purpose rule that\n"
	"refuses it); what MDE holds for it now (id, action, owner, expiry, device\n"
	"groups; not with --offline); and iocsync's last changes to it.\n"
	"  --type TYPE  read VALUE as this type (ip, domain, url, md5, sha1, sha256, cert)\n"
	"  --offline    do not ask MDE\n"
	"  --json       one JSON object\n"
	"Exit status: 0 answered, 1 MDE or the state could not be read (what could\n"
	"be is printed), 2 usage, configuration, or VALUE is not an indicator.\n";

static void
print_text(const struct why *w, const char *policy, const char *mde_why, const char *v)
{
	size_t i, j;
	json_t *x, *l;
	printf("%s %s: %s\n", ioc_type_name(w->type), w->value, v);
	printf("policy: %s\n", policy ? policy : "may be sent");
	json_array_foreach(w->feeds, i, x) {
		printf("feed %s (%s, %s%s):", json_string_value(json_object_get(x, "feed")),
		       json_string_value(json_object_get(x, "url")), json_string_value(json_object_get(x, "action")),
		       json_is_true(json_object_get(x, "enabled")) ? "" : ", paused");
		const json_t *lines = json_object_get(x, "lines");
		if (json_object_get(x, "note"))
			printf(" %s\n", json_string_value(json_object_get(x, "note")));
		else if (json_array_size(lines) == 0)
			printf(" does not list it\n");
		else
			putchar('\n');
		json_array_foreach(lines, j, l) {
			printf("  line %lld: %s", (long long)json_integer_value(json_object_get(l, "line")),
			       json_string_value(json_object_get(l, "verdict")));
			if (json_object_get(l, "reason"))
				printf(" (%s: %s)", json_string_value(json_object_get(l, "reason")),
				       json_string_value(json_object_get(l, "why")));
			putchar('\n');
		}
	}
	if (mde_why)
		printf("MDE: %s\n", mde_why);
	json_array_foreach(w->mde, i, x)
		printf("MDE: indicator %s: %s by %s%s, expires %s\n", json_string_value(json_object_get(x, "id")),
		       json_string_value(json_object_get(x, "action")), json_string_value(json_object_get(x, "owner")),
		       json_is_true(json_object_get(x, "iocsync")) ? " (iocsync)" : "",
		       json_is_string(json_object_get(x, "expires")) ? json_string_value(json_object_get(x, "expires"))
								     : "never");
	json_array_foreach(w->state, i, x)
		printf("state: id %s, %s, from %s, first seen %s, expires %s%s\n",
		       json_string_value(json_object_get(x, "id")), json_string_value(json_object_get(x, "action")),
		       json_string_value(json_object_get(x, "feeds")),
		       json_string_value(json_object_get(x, "first_seen")),
		       json_string_value(json_object_get(x, "expires")),
		       json_is_true(json_object_get(x, "left_its_feeds")) ? ", left its feeds" : "");
	json_array_foreach(w->history, i, x)
		printf("history: %s %s %s (%s%s%s)\n", json_string_value(json_object_get(x, "at")),
		       json_string_value(json_object_get(x, "op")), json_string_value(json_object_get(x, "action")),
		       json_string_value(json_object_get(x, "reason")) ? json_string_value(json_object_get(x, "reason"))
								       : "",
		       json_string_value(json_object_get(x, "feed")) && *json_string_value(json_object_get(x, "feed"))
			       ? "; feed "
			       : "",
		       json_string_value(json_object_get(x, "feed")) ? json_string_value(json_object_get(x, "feed"))
								     : "");
}

int
cmd_why(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"type", required_argument, NULL, 't'},
		{"offline", no_argument, NULL, 'o'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *type = NULL;
	bool offline = false, json = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 't': type = optarg; break;
		case 'o': offline = true; break;
		case 'j': json = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	const char *raw = argv[optind];
	struct why w = {0};
	int rc = EXIT_OK;
	struct ioc_opts io = {0};
	const char *bad = NULL;
	if (type && (io.types = ioc_types_parse(type, &bad)) == 0) {
		fprintf(stderr, "iocsync why: --type %s: unknown type %s\n", type, bad);
		return EXIT_USAGE;
	}
	io.cert = io.types & IOC_BIT(IOC_CERT);
	struct ioc *x = xmalloc(sizeof(*x));
	char perr[300];
	enum ioc_reason r = ioc_parse(raw, strlen(raw), &io, x, perr, sizeof(perr));
	if (r != REJ_OK || x->prefix >= 0) {
		char eb[200];
		fprintf(stderr, "iocsync why: %s is not an indicator iocsync would send: %s\n",
			echo_str(raw, strlen(raw), eb, sizeof(eb)), r != REJ_OK ? perr : "a CIDR block");
		free(x);
		return EXIT_USAGE;
	}
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL) {
		free(x);
		return EXIT_USAGE;
	}
	rc = why_gather(c, x, raw, !offline, &w);
	free(x);
	const char *policy = w.policy, *v = w.verdict;
	const char *mwhy = w.mde_error;
	if (json) {
		json_t *doc = json_pack("{s:s, s:s, s:s, s:s?, s:O, s:O, s:O, s:O}", "type", ioc_type_name(w.type),
					"value", w.value, "verdict", v, "policy", policy, "feeds", w.feeds, "mde",
					w.mde, "state", w.state, "history", w.history);
		if (mwhy[0])
			json_object_set_new(doc, "mde_error", json_string(mwhy));
		json_dumpf(doc, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(doc);
	} else {
		print_text(&w, policy, mwhy[0] ? mwhy : offline ? "not asked (--offline)" : NULL, v);
	}
	why_free(&w);
	config_free(c);
	return rc;
}
