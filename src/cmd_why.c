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
#include "collect.h"
#include "http.h"
#include "merge.h"
#include "mde.h"
#include "pipeline.h"
#include "store.h"
#include "sync.h"
#include "apply.h"
#include "desired.h"
#include "model.h"

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

struct why {
	enum ioc_type type;
	char value[LIMIT_VALUE_BYTES + 32];
	const char *raw;
	json_t *feeds, *mde, *state, *history;
};

struct feed_scan {
	struct why *w;
	const struct feed_cfg *f;
	json_t *hits;
};

static void
scan_accepted(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_type t, const char *value, size_t len)
{
	struct feed_scan *fs = ctx;
	(void)c;
	if (t == fs->w->type && len == strlen(fs->w->value) && memcmp(value, fs->w->value, len) == 0)
		json_array_append_new(fs->hits, json_pack("{s:s, s:I}", "verdict", "listed", "line", (json_int_t)line));
}

/* A rejected line that is this value, in any of its forms. */
static void
scan_rejected(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_reason r, const char *why,
	      const char *input, size_t inlen)
{
	struct feed_scan *fs = ctx;
	(void)c;
	struct ioc *x = xmalloc(sizeof(*x));
	struct ioc_opts o = {.types = IOC_BIT(fs->w->type), .cert = fs->w->type == IOC_CERT};
	bool same = ioc_parse(input, inlen, &o, x, NULL, 0) == REJ_OK && strcmp(x->value, fs->w->value) == 0;
	free(x);
	if (!same && !(inlen == strlen(fs->w->raw) && strncasecmp(input, fs->w->raw, inlen) == 0))
		return;
	char buf[600];
	json_array_append_new(fs->hits,
			      json_pack("{s:s, s:I, s:s, s:s}", "verdict", "refused", "line", (json_int_t)line,
					"reason", ioc_reason_code(r), "why",
					echo_str(why ? why : "", why ? strlen(why) : 0, buf, sizeof(buf))));
}

/* Every feed's last good copy, parsed again, looking for the value. */
static void
scan_feeds(struct why *w, const struct config *c, struct store *st, struct policy *pol)
{
	for (size_t k = 0; k < c->nfeeds; k++) {
		const struct feed_cfg *f = &c->feeds[k];
		struct store_feed sf;
		json_t *entry = json_pack("{s:s, s:s, s:s, s:b}", "feed", f->name, "url", f->url, "action",
					  ioc_action_name(f->action), "enabled", f->enabled);
		json_array_append_new(w->feeds, entry);
		if (store_feed_get(st, f->name, &sf) != ERR_OK || sf.snapshot == NULL) {
			json_object_set_new(entry, "note", json_string("no good copy in the state yet"));
			store_feed_clear(&sf);
			continue;
		}
		struct feed_scan fs = {w, f, json_array()};
		struct feed_opts po = {.format = f->format,
				       .csv_delim = f->csv_delim,
				       .csv_columns = f->csv_columns,
				       .csv_header = f->csv_header,
				       .misp_ignore_to_ids = f->misp_ignore_to_ids};
		struct pipe_cfg pc = {.name = f->name,
				      .feed = (uint32_t)k,
				      .priority = f->priority,
				      .types = f->types,
				      .cidr = c->cidr,
				      .cidr_max_addrs = c->cidr_expand_max,
				      .policy = pol};
		struct pipe_out out = {&fs, scan_accepted, scan_rejected};
		struct feed_stats stats = {.format = f->format};
		struct merge *m = merge_new();
		char why[256];
		(void)pipeline_run(&pc, &po, sf.snapshot, sf.snapshot_len, m, &out, &stats, why, sizeof(why));
		merge_free(m);
		json_object_set_new(entry, "lines", fs.hits);
		char ts[32];
		format_time(sf.last_good_at, ts, sizeof(ts));
		json_object_set_new(entry, "copy_of", json_string(ts));
		store_feed_clear(&sf);
	}
}

static void
state_row(void *ctx, const struct store_ind *r)
{
	struct why *w = ctx;
	if (r->value && r->type == (int)w->type && strcmp(r->value, w->value) == 0) {
		char first[32], exp[32];
		format_time(r->first_seen, first, sizeof(first));
		format_time(r->expires_at, exp, sizeof(exp));
		json_array_append_new(w->state,
				      json_pack("{s:s?, s:s, s:s, s:s, s:s, s:b}", "id", r->mde_id, "action",
						ioc_action_name((enum ioc_action)r->action), "feeds",
						r->feeds ? r->feeds : "", "first_seen", first, "expires", exp,
						"left_its_feeds", r->gone_since != 0));
	}
}

static void
history_row(void *ctx, const struct store_change *ch)
{
	struct why *w = ctx;
	char at[32];
	format_time(ch->at, at, sizeof(at));
	json_array_append_new(w->history,
			      json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?}", "at", at, "op", ch->op, "action",
					ch->action >= 0 ? ioc_action_name((enum ioc_action)ch->action) : "", "feed",
					ch->feed, "reason", ch->reason, "id", ch->mde_id));
}

/* What MDE holds for the value: a listing filtered on it, in its form
 * and (hashes) in upper case, as some tenants normalise (spec 9). */
static enum err
ask_mde(struct why *w, const struct config *c, struct store *st, char *why, size_t whysz)
{
	struct mde *m = mde_new(c, NULL, why, whysz);
	if (m == NULL)
		return ERR_CONFIG;
	model_load_owner(m, st);
	enum err e = ERR_OK;
	for (int upper = 0; upper < 2 && e == ERR_OK; upper++) {
		char v[sizeof(w->value)];
		snprintf(v, sizeof(v), "%s", w->value);
		if (upper) {
			if (w->type < IOC_MD5)
				break;
			for (char *p = v; *p; p++)
				*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
		}
		struct strbuf f = {0};
		sb_adds(&f, "indicatorValue eq '");
		for (const char *p = v; *p; p++) {
			if (*p == '\'')
				sb_addc(&f, '\'');
			sb_addc(&f, *p);
		}
		sb_adds(&f, "'");
		char *esc = http_escape(f.buf), *path = xasprintf("/api/indicators?$filter=%s&$top=100", esc);
		long status;
		json_t *out = NULL;
		e = mde_call(m, MDE_EP_LIST, "GET", path, NULL, &status, &out, why, whysz);
		if (e == ERR_HTTP && status == 404)
			e = ERR_OK; /* nothing, said as some tenants say it */
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(out, "value"), i, x) {
			char idb[32];
			const char *by = json_string_value(json_object_get(x, "createdByDisplayName"));
			json_array_append_new(
				w->mde,
				json_pack("{s:s?, s:O?, s:O?, s:s?, s:b, s:O?, s:O?}", "id", mde_id(x, idb), "action",
					  json_object_get(x, "action"), "value", json_object_get(x, "indicatorValue"),
					  "owner", by ? by : json_string_value(json_object_get(x, "createdBy")),
					  "iocsync", mde_owned(m, x), "expires", json_object_get(x, "expirationTime"),
					  "groups", json_object_get(x, "rbacGroupNames")));
		}
		json_decref(out);
		free(path), free(esc);
		sb_free(&f);
	}
	mde_free(m);
	return e;
}

/* One line that says it all, from what was found. */
static const char *
verdict(const struct why *w, const char *policy, bool asked)
{
	size_t i;
	json_t *x;
	bool listed = false, ours = false, blocking_other = false, allowed_other = false;
	json_array_foreach(w->feeds, i, x) {
		size_t j;
		json_t *l;
		json_array_foreach(json_object_get(x, "lines"), j, l)
			listed |= strcmp(json_string_value(json_object_get(l, "verdict")), "listed") == 0;
	}
	json_array_foreach(w->mde, i, x) {
		const char *a = json_string_value(json_object_get(x, "action"));
		bool allow = a && (strcmp(a, "Allowed") == 0 || strcmp(a, "Audit") == 0);
		if (json_is_true(json_object_get(x, "iocsync")))
			ours = true;
		else if (allow)
			allowed_other = true;
		else
			blocking_other = true;
	}
	if (policy)
		return "never sent: policy refuses it";
	if (allowed_other)
		return "not blocked: another owner's Allow or Audit is in MDE (Allow wins)";
	if (ours)
		return listed ? "in MDE by iocsync, as a feed lists it"
			      : "in MDE by iocsync, though no feed lists it now "
				"(held, or removed at the next sync)";
	if (blocking_other)
		return "in MDE by another owner";
	if (!asked)
		return listed ? "listed by a feed (MDE not asked)" : "no feed lists it (MDE not asked)";
	return listed ? "listed by a feed, not in MDE yet (the next sync sends it, or it did not fit)"
		      : "not in any feed, not in MDE";
}

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
	struct why w = {.raw = argv[optind],
			.feeds = json_array(),
			.mde = json_array(),
			.state = json_array(),
			.history = json_array()};
	int rc = EXIT_OK;
	struct ioc_opts io = {0};
	const char *bad = NULL;
	if (type && (io.types = ioc_types_parse(type, &bad)) == 0) {
		fprintf(stderr, "iocsync why: --type %s: unknown type %s\n", type, bad);
		rc = EXIT_USAGE;
		goto out;
	}
	io.cert = io.types & IOC_BIT(IOC_CERT);
	struct ioc *x = xmalloc(sizeof(*x));
	char perr[300];
	enum ioc_reason r = ioc_parse(w.raw, strlen(w.raw), &io, x, perr, sizeof(perr));
	if (r != REJ_OK || x->prefix >= 0) {
		char eb[200];
		fprintf(stderr, "iocsync why: %s is not an indicator iocsync would send: %s\n",
			echo_str(w.raw, strlen(w.raw), eb, sizeof(eb)), r != REJ_OK ? perr : "a CIDR block");
		free(x);
		rc = EXIT_USAGE;
		goto out;
	}
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL) {
		free(x);
		rc = EXIT_USAGE;
		goto out;
	}
	w.type = x->type;
	snprintf(w.value, sizeof(w.value), "%s", x->value);
	struct policy *pol = policy_new();
	char pwhy[400] = "";
	const char *policy = NULL;
	if (!collect_allowlists(c, pol))
		rc = EXIT_FAIL;
	enum ioc_reason pr = policy_check(pol, x, pwhy, sizeof(pwhy));
	if (pr != REJ_OK)
		policy = pwhy;
	free(x);
	char mwhy[600] = "";
	struct store *st = sync_open_store(c, "why", false);
	if (st) {
		scan_feeds(&w, c, st, pol);
		store_ind_each(st, state_row, &w);
		store_history_each(st, (int)w.type, w.value, history_row, &w);
	} else {
		rc = EXIT_FAIL;
	}
	if (!offline && st && ask_mde(&w, c, st, mwhy, sizeof(mwhy)) != ERR_OK)
		rc = EXIT_FAIL;
	const char *v = verdict(&w, policy, !offline && !mwhy[0]);
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
	store_close(st);
	policy_free(pol);
	config_free(c);
out:
	json_decref(w.feeds), json_decref(w.mde), json_decref(w.state), json_decref(w.history);
	return rc;
}
