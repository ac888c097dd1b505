/* iocsync list: the indicators MDE holds now (iocsync's own by default,
 * or all the token may see), filtered, for people, JSON or CSV. */
#include <getopt.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "cmd.h"
#include "mde.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] list [--all] [--type T] [--action A] [--value TEXT]\n"
	"                             [--json | --csv]\n"
	"\n"
	"Lists what MDE holds now: the indicators iocsync owns (created by its app\n"
	"with its application name), or with --all every one the token may see.\n"
	"  --type T     IpAddress, DomainName, Url, FileSha256, ... (or ip, domain...)\n"
	"  --action A   Block, Warn, Audit, Allowed, BlockAndRemediate\n"
	"  --value TEXT those whose value contains TEXT\n"
	"Each shows its action, severity, alert, device groups, expiry and, for\n"
	"iocsync's own, the feeds that list it (from the state).\n"
	"  --json       a JSON array of MDE's objects (with iocsyncFeeds); --csv: one row each\n"
	"Exit status: 0, 1 when MDE cannot be listed, 2 usage.\n";

static void
csv_field(FILE *fp, const char *s)
{
	csv_cell(fp, s, false);
}

static const char *
field(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

/* "A,B" of a JSON array of strings ("all" when empty), into out. */
static const char *
joined(const json_t *a, const char *none, char *out, size_t outsz)
{
	size_t i, o = 0;
	json_t *g;
	out[0] = '\0';
	json_array_foreach(a, i, g) {
		if (json_is_string(g) && o < outsz)
			o += (size_t)snprintf(out + o, outsz - o, "%s%s", o ? "," : "", json_string_value(g));
	}
	return out[0] ? out : none;
}

/* The feeds the state says list each of iocsync's indicators, by MDE id. */
static void
feeds_by_id(void *ctx, const struct store_ind *r)
{
	if (r->mde_id && r->feeds && r->gone_since == 0)
		json_object_set_new(ctx, r->mde_id, json_string(r->feeds));
}

/* Each selected indicator gains iocsyncFeeds (an array) when the state
 * knows it. */
static void
add_feeds(json_t *sel, const json_t *by_id)
{
	size_t i;
	json_t *x;
	json_array_foreach(sel, i, x) {
		const char *id = json_string_value(json_object_get(x, "id"));
		const char *f = id ? json_string_value(json_object_get(by_id, id)) : NULL;
		if (f == NULL)
			continue;
		json_t *a = json_array();
		for (const char *s = f; *s;) {
			size_t n = strcspn(s, ",");
			json_array_append_new(a, json_stringn(s, n));
			s += n + (s[n] == ',');
		}
		json_object_set_new(x, "iocsyncFeeds", a);
	}
}

/* The selected indicators for people (a table; the count on standard
 * error), as JSON, or as CSV. */
static void
print_list(const json_t *sel, const json_t *list, bool json, bool csv, bool all)
{
	size_t i;
	json_t *x;
	static const char *const cols[] = {"id",          "indicatorType", "indicatorValue", "action",
					   "severity",    "generateAlert", "rbacGroupNames", "expirationTime",
					   "application", "createdBy",     "title",          "iocsyncFeeds"};
	if (json) {
		json_dumpf(sel, stdout, JSON_INDENT(1));
		putchar('\n');
	} else if (csv) {
		for (size_t k = 0; k < NELEM(cols); k++)
			printf("%s%s", cols[k], k + 1 < NELEM(cols) ? "," : "\n");
		json_array_foreach(sel, i, x) {
			for (size_t k = 0; k < NELEM(cols); k++) {
				json_t *f = json_object_get(x, cols[k]);
				char num[1024];
				const char *s = json_string_value(f);
				if (json_is_integer(f)) {
					snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(f));
					s = num;
				} else if (json_is_boolean(f)) {
					s = json_is_true(f) ? "true" : "false";
				} else if (json_is_array(f)) {
					s = joined(f, "", num, sizeof(num));
				}
				csv_field(stdout, s);
				putchar(k + 1 < NELEM(cols) ? ',' : '\n');
			}
		}
	} else {
		if (json_array_size(sel))
			printf("%-8s %-21s %-17s %-13s %-5s %-10s %-16s %-16s %s\n", "id", "type", "action", "severity",
			       "alert", "expires", "device groups", "feeds", "value");
		json_array_foreach(sel, i, x) {
			char exp[11], groups[200], feeds[200];
			snprintf(exp, sizeof(exp), "%s",
				 *field(x, "expirationTime") ? field(x, "expirationTime") : "never");
			printf("%-8s %-21s %-17s %-13s %-5s %-10s %-16s %-16s %s\n", field(x, "id"),
			       field(x, "indicatorType"), field(x, "action"), field(x, "severity"),
			       json_is_true(json_object_get(x, "generateAlert")) ? "yes" : "no", exp,
			       joined(json_object_get(x, "rbacGroupNames"), "all", groups, sizeof(groups)),
			       joined(json_object_get(x, "iocsyncFeeds"), "-", feeds, sizeof(feeds)),
			       field(x, "indicatorValue"));
		}
		fprintf(stderr, "%zu of %zu indicators (%s)\n", json_array_size(sel), json_array_size(list),
			all ? "all the token may see" : "iocsync's own");
	}
}

int
cmd_list(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"all", no_argument, NULL, 'a'},          {"type", required_argument, NULL, 't'},
		{"action", required_argument, NULL, 'A'}, {"value", required_argument, NULL, 'V'},
		{"json", no_argument, NULL, 'j'},         {"csv", no_argument, NULL, 'C'},
		{"help", no_argument, NULL, 'h'},         {NULL, 0, NULL, 0},
	};
	bool all = false, json = false, csv = false;
	const char *type = NULL, *action = NULL, *value = NULL;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'a': all = true; break;
		case 't': {
			const char *bad;
			unsigned m = ioc_types_parse(optarg, &bad);
			if (m == 0 || (m & (m - 1))) {
				fprintf(stderr, "iocsync list: --type %s: one type expected\n", optarg);
				return EXIT_USAGE;
			}
			for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
				if (m == IOC_BIT(t))
					type = ioc_type_name((enum ioc_type)t);
			break;
		}
		case 'A': {
			int act = ioc_action_parse(optarg);
			if (act < 0) {
				fprintf(stderr, "iocsync list: --action %s: not an action\n", optarg);
				return EXIT_USAGE;
			}
			action = ioc_action_name((enum ioc_action)act);
			break;
		}
		case 'V': value = optarg; break;
		case 'j': json = true; break;
		case 'C': csv = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || (json && csv)) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	char why[512];
	struct mde *m = mde_new(c, NULL, why, sizeof(why));
	if (m == NULL) {
		fprintf(stderr, "iocsync list: %s\n", why);
		config_free(c);
		return EXIT_USAGE;
	}
	json_t *list;
	if (mde_list_all(m, &list, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "iocsync list: %s\n", why);
		mde_free(m);
		config_free(c);
		return EXIT_FAIL;
	}
	json_t *sel = json_array();
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		const char *t = json_string_value(json_object_get(x, "indicatorType"));
		const char *ac = json_string_value(json_object_get(x, "action"));
		const char *v = json_string_value(json_object_get(x, "indicatorValue"));
		if ((!all && !mde_owned(m, x)) || (type && (!t || strcmp(t, type))) ||
		    (action && (!ac || strcmp(ac, action))) || (value && (!v || !strcasestr(v, value))))
			continue;
		json_array_append(sel, x);
	}
	json_t *by_id = json_object();
	/* (no state yet: none is made here) */
	struct store *st = access(c->state, F_OK) == 0 ? sync_open_store(c, "list", false) : NULL;
	if (st)
		store_ind_each(st, feeds_by_id, by_id);
	store_close(st);
	add_feeds(sel, by_id);
	json_decref(by_id);
	print_list(sel, list, json, csv, all);
	json_decref(sel);
	json_decref(list);
	mde_free(m);
	config_free(c);
	return EXIT_OK;
}
