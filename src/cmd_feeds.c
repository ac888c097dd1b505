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
#include "fetch.h"
#include "taxii.h"
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

struct verdict {
	const char *fetch;    /* "200", "304", "file", "error" */
	const char *snapshot; /* "fresh", "unchanged", "stale", "none" */
};

static void
stale_note(char *buf, size_t sz, const struct store_feed *old)
{
	if (old->snapshot == NULL) {
		snprintf(buf, sz, "no earlier good copy: the feed contributes nothing this run");
		return;
	}
	char ts[32];
	time_t t = (time_t)old->last_good_at;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	snprintf(buf, sz, "keeping the last good snapshot of %s (%lld indicators)", ts, old->entries);
}

int
feed_collect(const struct config *c, const struct feed_cfg *f, uint32_t idx, struct store *st, struct policy *pol,
	     struct merge *m, struct output *out, bool force, struct feed_use *use)
{
	struct store_feed old;
	struct fetch_result r;
	struct fetch_opts fo = {
		.connect_timeout_s = c->connect_timeout_s,
		.timeout_s = f->timeout_s ? f->timeout_s : c->timeout_s,
		.max_bytes = f->max_bytes ? f->max_bytes : c->max_bytes,
		.max_redirects = c->max_redirects,
		.ca_file = c->ca_file,
		.proxy = c->proxy,
		.user_agent = c->user_agent,
	};
	struct feed_opts po = {.format = f->format,
			       .csv_delim = f->csv_delim,
			       .csv_columns = f->csv_columns,
			       .csv_header = f->csv_header,
			       .misp_ignore_to_ids = f->misp_ignore_to_ids};
	struct pipe_cfg pc = {.name = f->name,
			      .feed = idx,
			      .priority = f->priority,
			      .types = f->types,
			      .cidr = c->cidr,
			      .cidr_max_addrs = c->cidr_expand_max,
			      .policy = pol};
	struct pipe_out pipe = output_pipe(out);
	struct feed_stats stats = {.format = f->format};
	char why[512] = "", note[256] = "";
	long long now = (long long)time(NULL);
	bool failed = false, shrunk = false;
	size_t at = 0;
	struct verdict v = {"error", "none"};

	if (store_feed_get(st, f->name, &old) == ERR_STORE)
		log_warn("feed %s: cannot read its state", f->name);
	if (old.snapshot) {
		fo.etag = old.etag;
		fo.last_modified = old.last_modified;
	}
	enum err e;
	char *cursor = NULL;
	if (f->format == FEED_TAXII) {
		struct taxii_opts to = {.ca_file = fo.ca_file,
					.proxy = fo.proxy,
					.user_agent = fo.user_agent,
					.connect_timeout_s = fo.connect_timeout_s,
					.timeout_s = fo.timeout_s,
					.max_bytes = fo.max_bytes,
					.snapshot = old.snapshot,
					.snapshot_len = old.snapshot_len,
					.cursor = old.cursor};
		struct taxii_result tr;
		memset(&r, 0, sizeof(r));
		e = taxii_fetch(f, &to, &tr, why, sizeof(why));
		if (e == ERR_OK) {
			r.status = 200;
			r.not_modified = tr.unchanged;
			r.body = tr.body;
			r.len = tr.len;
			cursor = tr.cursor;
		} else {
			r.body = xstrdup("");
		}
	} else {
		e = fetch_url(f->url, &fo, &r, why, sizeof(why));
	}
	const char *body = r.body;
	size_t len = r.len;
	if (e == ERR_OK && r.not_modified) {
		v = (struct verdict){"304", "unchanged"};
		body = old.snapshot;
		len = old.snapshot_len;
	} else if (e == ERR_OK) {
		v.fetch = r.status ? "200" : "file";
		if (len == 0) {
			snprintf(why, sizeof(why), "empty body where a list was expected");
			e = ERR_EMPTY;
		} else if (feed_looks_html(body, len)) {
			snprintf(why, sizeof(why), "an HTML page, not a feed (a login wall or an error page?)");
			e = ERR_PARSE;
		} else if (feed_looks_binary(body, len, &at)) {
			snprintf(why, sizeof(why),
				 "binary data, not a text feed (a NUL byte at offset %zu; UTF-16 "
				 "and archives other than gzip are not read)",
				 at);
			e = ERR_PARSE;
		}
	}
	if (e == ERR_OK) {
		/* Parse into a scratch set first: only a good body may count. */
		struct merge *scratch = merge_new();
		struct pipe_out quiet = {0};
		e = pipeline_run(&pc, &po, body, len, scratch, &quiet, &stats, why, sizeof(why));
		merge_free(scratch);
		if (e == ERR_OK && stats.accepted_total == 0 && stats.rejected_total == 0) {
			snprintf(why, sizeof(why), "parsed to nothing where a list was expected");
			e = ERR_EMPTY;
		} else if (e == ERR_OK && !r.not_modified && old.snapshot && old.entries > 0 &&
			   (long long)stats.accepted_total * 100 < old.entries * (100 - f->max_shrink_pct)) {
			/* A guard holds deletions only: the new body's values go out,
			 * what left it stays, and the old body stays the snapshot
			 * (the baseline) until --force or --force-feed. */
			if (force) {
				log_warn(
					"feed %s: shrank from %lld to %lu indicators, more than max_shrink = %d%%; "
					"taken as it is (forced)",
					f->name, old.entries, stats.accepted_total, f->max_shrink_pct);
			} else {
				shrunk = true;
				snprintf(note, sizeof(note),
					 "shrank from %lld to %lu indicators, more than max_shrink = "
					 "%d%%: its new values go out, its deletions are held (sync --force-feed %s "
					 "takes it as it is)",
					 old.entries, stats.accepted_total, f->max_shrink_pct, f->name);
				log_warn("feed %s: %s", f->name, note);
			}
		}
	}
	if (e == ERR_OK && shrunk) {
		v.snapshot = "kept (shrank)";
		store_feed_seen(st, f->name, f->url, NULL, now);
	} else if (e == ERR_OK) {
		if (!r.not_modified) {
			v.snapshot = "fresh";
			if (store_feed_good(st, f->name, f->url, r.etag, r.last_modified, body, len,
					    (long long)stats.accepted_total, now) != ERR_OK ||
			    (cursor && store_feed_cursor(st, f->name, cursor) != ERR_OK))
				log_warn("feed %s: cannot save its snapshot", f->name);
		} else {
			store_feed_seen(st, f->name, f->url, NULL, now);
		}
	} else {
		failed = true;
		store_feed_seen(st, f->name, f->url, why, now);
		stale_note(note, sizeof(note), &old);
		log_error("feed %s: %s; %s", f->name, why, note);
		body = old.snapshot;
		len = old.snapshot_len;
		v.snapshot = old.snapshot ? "stale" : "none";
	}
	/* Report on (and merge) what this run will use. */
	memset(&stats, 0, sizeof(stats));
	stats.format = f->format;
	if (body) {
		char ignore[256];
		pipeline_run(&pc, &po, body, len, m, &pipe, &stats, ignore, sizeof(ignore));
	}
	json_t *extra = json_pack("{s:s, s:s, s:s}", "url", f->url, "fetch", v.fetch, "snapshot", v.snapshot);
	if (shrunk)
		json_object_set_new(extra, "deletions_held", json_string(note));
	char err[800];
	snprintf(err, sizeof(err), "%s; %s", why, note);
	output_feed_summary(out, f->name, &stats, failed ? err : NULL, extra);
	if (!out->json && !failed)
		fprintf(out->fp, "   fetch %s, snapshot %s%s%s\n", v.fetch, v.snapshot, shrunk ? "; " : "",
			shrunk ? note : "");
	json_decref(extra);
	if (use) {
		use->usable = body != NULL;
		use->hold = shrunk     ? "its feed shrank past max_shrink: deletion held"
			: body == NULL ? "its feed is down with no good snapshot"
				       : NULL;
	}
	fetch_result_free(&r);
	free(cursor);
	store_feed_clear(&old);
	return failed;
}

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
		size_t k;
		for (k = 0; k < c->nfeeds && strcmp(c->feeds[k].name, argv[i]) != 0; k++)
			;
		if (k == c->nfeeds) {
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
	if (!app_allowlists(c, pol)) {
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
		failed += (size_t)feed_collect(c, &c->feeds[k], (uint32_t)k, st, pol, m, &out, false, NULL);
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
