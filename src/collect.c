#include "collect.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fetch.h"
#include "iocsync_limits.h"
#include "log.h"
#include "output.h"
#include "pipeline.h"
#include "taxii.h"
#include "util.h"

bool
collect_allowlists(const struct config *c, struct policy *p)
{
	bool ok = true;
	for (size_t i = 0; i < c->nallowlist_files; i++) {
		char *buf;
		size_t len;
		struct strbuf errs = {0};
		enum err e = file_read(c->allowlist_files[i], LIMIT_ALLOWLIST_BYTES, &buf, &len);
		if (e != ERR_OK) {
			fprintf(stderr, "iocsync: allowlist %s: cannot read: %s\n", c->allowlist_files[i],
				e == ERR_LIMIT ? "too large" : strerror(errno));
			ok = false;
			continue;
		}
		if (policy_allowlist_add(p, c->allowlist_files[i], buf, len, &errs) != ERR_OK) {
			fputs(errs.buf, stderr);
			ok = false;
		}
		sb_free(&errs);
		free(buf);
	}
	return ok;
}

/* One feed's collection, as it goes. */
struct job {
	const struct config *c;
	const struct feed_cfg *f;
	struct store *st;
	struct store_feed old; /* the last good snapshot and validators */
	struct fetch_result r;
	char *cursor;     /* TAXII: where the next fetch starts */
	json_t *objects;  /* TAXII: the collection's objects, parsed */
	const char *body; /* what this run uses: r's body or old's snapshot */
	size_t len;
	const char *fetch;    /* "200", "304", "file", "error" */
	const char *snapshot; /* "fresh", "unchanged", "stale", "none", "kept (shrank)" */
	bool shrunk;
	bool shared; /* r is the run's shared fetch (collect_share): read, never freed here */
	char why[512], note[256];
};

static void
stale_note(char *buf, size_t sz, const struct store_feed *old)
{
	if (old->snapshot == NULL) {
		snprintf(buf, sz, "no earlier good copy: the feed contributes nothing this run");
		return;
	}
	char ts[32];
	format_time(old->last_good_at, ts, sizeof(ts));
	snprintf(buf, sz, "keeping the last good snapshot of %s (%lld indicators)", ts, old->entries);
}

/* How feed f of c is fetched: [fetch]'s settings, the feed's own timeout
 * and size over them. */
static struct fetch_opts
fetch_opts_for(const struct config *c, const struct feed_cfg *f)
{
	return (struct fetch_opts){
		.connect_timeout_s = c->connect_timeout_s,
		.timeout_s = f->timeout_s ? f->timeout_s : c->timeout_s,
		.max_bytes = f->max_bytes ? f->max_bytes : c->max_bytes,
		.max_redirects = c->max_redirects,
		.ca_file = c->ca_file,
		.proxy = c->proxy,
		.user_agent = c->user_agent,
	};
}

/* The feed's body into j->r: a TAXII collection, or a URL or file. */
static enum err
fetch_body(struct job *j)
{
	const struct feed_cfg *f = j->f;
	struct fetch_opts fo = fetch_opts_for(j->c, f);
	if (j->old.snapshot) {
		fo.etag = j->old.etag;
		fo.last_modified = j->old.last_modified;
	}
	if (f->format != FEED_TAXII)
		return feed_fetch_url(f->url, &fo, &j->r, j->why, sizeof(j->why));
	struct taxii_opts to = {.ca_file = fo.ca_file,
				.proxy = fo.proxy,
				.user_agent = fo.user_agent,
				.connect_timeout_s = fo.connect_timeout_s,
				.timeout_s = fo.timeout_s,
				.max_bytes = fo.max_bytes,
				.snapshot = j->old.snapshot,
				.snapshot_len = j->old.snapshot_len,
				.cursor = j->old.cursor};
	struct taxii_result tr;
	memset(&j->r, 0, sizeof(j->r));
	enum err e = feed_taxii_fetch(f, &to, &tr, j->why, sizeof(j->why));
	if (e != ERR_OK) {
		j->r.body = xstrdup("");
		return e;
	}
	j->r.status = 200;
	j->r.not_modified = tr.unchanged;
	j->r.body = tr.body;
	j->r.len = tr.len;
	j->cursor = tr.cursor;
	j->objects = tr.objects;
	return ERR_OK;
}

/* One feed's fetch, shared by the tenants that take it. */
struct shared_fetch {
	const char *name; /* the feed's, in the configuration the share was made from */
	enum err e;
	struct fetch_result r;
	char why[512];
};

struct collect_share {
	struct shared_fetch *v;
	size_t n;
};

/* How many tenants of c take feed f (a tenant without feeds = takes all). */
static size_t
takers(const struct config *c, const struct feed_cfg *f)
{
	size_t n = 0;
	for (size_t i = 0; i < c->ntenants; i++)
		n += config_tenant_takes(&c->tenants[i], f->name);
	return n;
}

struct collect_share *
collect_share_fetch(const struct config *c)
{
	struct collect_share *sh = xcalloc(1, sizeof(*sh));
	sh->v = xcalloc(c->nfeeds + 1, sizeof(*sh->v));
	for (size_t k = 0; k < c->nfeeds; k++) {
		const struct feed_cfg *f = &c->feeds[k];
		size_t n = takers(c, f);
		if (!f->enabled || f->format == FEED_TAXII || n < 2)
			continue;
		struct shared_fetch *x = &sh->v[sh->n++];
		struct fetch_opts fo = fetch_opts_for(c, f);
		x->name = f->name;
		x->e = feed_fetch_url(f->url, &fo, &x->r, x->why, sizeof(x->why));
		if (x->e == ERR_OK)
			log_info("feed %s: fetched once for its %zu tenants (%zu bytes)", f->name, n, x->r.len);
		else
			log_warn("feed %s: %s (each of its %zu tenants falls back on its own snapshot)", f->name,
				 x->why, n);
	}
	return sh;
}

void
collect_share_free(struct collect_share *sh)
{
	if (sh == NULL)
		return;
	for (size_t i = 0; i < sh->n; i++)
		feed_fetch_result_free(&sh->v[i].r);
	free(sh->v);
	free(sh);
}

/* The run's shared fetch of the feed into j->r, when there is one: the
 * body as fetched, judged against this tenant's own snapshot (the same
 * bytes are its "unchanged", as a 304 would be). */
static bool
share_take(struct job *j, const struct collect_share *sh, enum err *e)
{
	for (size_t i = 0; sh && i < sh->n; i++) {
		const struct shared_fetch *x = &sh->v[i];
		if (strcmp(x->name, j->f->name) != 0)
			continue;
		j->r = x->r;
		j->shared = true;
		snprintf(j->why, sizeof(j->why), "%s", x->why);
		*e = x->e;
		if (x->e == ERR_OK && j->old.snapshot && j->old.snapshot_len == x->r.len &&
		    memcmp(j->old.snapshot, x->r.body, x->r.len) == 0)
			j->r.not_modified = true;
		return true;
	}
	return false;
}

/* The gates a fetched body passes before it is parsed. */
static enum err
gate(struct job *j)
{
	size_t at = 0;
	if (j->len == 0) {
		snprintf(j->why, sizeof(j->why), "empty body where a list was expected");
		return ERR_EMPTY;
	}
	if (feed_looks_html(j->body, j->len)) {
		snprintf(j->why, sizeof(j->why), "an HTML page, not a feed (a login wall or an error page?)");
		return ERR_PARSE;
	}
	if (feed_looks_binary(j->body, j->len, &at)) {
		snprintf(j->why, sizeof(j->why),
			 "binary data, not a text feed (a NUL byte at offset %zu; UTF-16 and archives other than "
			 "gzip are not read)",
			 at);
		return ERR_PARSE;
	}
	return ERR_OK;
}

/* What a parsed fresh body says of itself: nothing where a list was
 * expected fails it; shrinking past max_shrink holds its deletions (the
 * new body's values go out, what left it stays, and the old body stays
 * the snapshot, the baseline, until --force or --force-feed). */
static enum err
judge(struct job *j, const struct feed_stats *stats, bool force)
{
	const struct feed_cfg *f = j->f;
	if (stats->accepted_total == 0 && stats->rejected_total == 0) {
		snprintf(j->why, sizeof(j->why), "parsed to nothing where a list was expected");
		return ERR_EMPTY;
	}
	if (j->r.not_modified || j->old.snapshot == NULL || j->old.entries <= 0 ||
	    (long long)stats->accepted_total * 100 >= j->old.entries * (100 - f->max_shrink_pct))
		return ERR_OK;
	if (force) {
		log_warn(
			"feed %s: shrank from %lld to %lu indicators, more than max_shrink = %d%%; taken as it is "
			"(forced)",
			f->name, j->old.entries, stats->accepted_total, f->max_shrink_pct);
		return ERR_OK;
	}
	j->shrunk = true;
	snprintf(j->note, sizeof(j->note),
		 "shrank from %lld to %lu indicators, more than max_shrink = %d%%: its new values go out, its "
		 "deletions are held (sync --force-feed %s takes it as it is)",
		 j->old.entries, stats->accepted_total, f->max_shrink_pct, f->name);
	log_warn("feed %s: %s", f->name, j->note);
	return ERR_OK;
}

/* The store learns how the fetch went, and keeps a good body. */
static void
remember(struct job *j, enum err e, long long entries, long long now)
{
	const struct feed_cfg *f = j->f;
	if (e != ERR_OK) {
		store_feed_seen(j->st, f->name, f->url, j->why, now);
	} else if (j->shrunk || j->r.not_modified) {
		store_feed_seen(j->st, f->name, f->url, NULL, now);
	} else if (store_feed_good(j->st, f->name, f->url, j->r.etag, j->r.last_modified, j->body, j->len, entries,
				   now) != ERR_OK ||
		   (j->cursor && store_feed_cursor(j->st, f->name, j->cursor) != ERR_OK)) {
		log_warn("feed %s: cannot save its snapshot", f->name);
	}
}

/* The summary of what this run used, to out (and to use). */
static void
summarise(struct job *j, struct output *out, const struct feed_stats *stats, bool failed, struct collect_use *use)
{
	json_t *extra = json_pack("{s:s, s:s, s:s}", "url", j->f->url, "fetch", j->fetch, "snapshot", j->snapshot);
	if (j->shrunk)
		json_object_set_new(extra, "deletions_held", json_string(j->note));
	char err[800];
	snprintf(err, sizeof(err), "%s; %s", j->why, j->note);
	json_t *summary = output_feed_summary(out, j->f->name, stats, failed ? err : NULL, extra);
	if (!out->json && !failed)
		fprintf(out->fp, "   fetch %s, snapshot %s%s%s\n", j->fetch, j->snapshot, j->shrunk ? "; " : "",
			j->shrunk ? j->note : "");
	json_decref(extra);
	use->failed = failed;
	use->hold = j->shrunk     ? "its feed shrank past max_shrink: deletion held"
		: j->body == NULL ? "its feed is down with no good snapshot"
				  : NULL;
	use->summary = summary;
}

struct feed_opts
collect_feed_opts(const struct feed_cfg *f)
{
	return (struct feed_opts){.format = f->format,
				  .csv_delim = f->csv_delim,
				  .csv_columns = f->csv_columns,
				  .csv_header = f->csv_header,
				  .misp_ignore_to_ids = f->misp_ignore_to_ids};
}

struct pipe_cfg
collect_pipe_cfg(const struct config *c, const struct feed_cfg *f, uint32_t idx, const struct policy *pol)
{
	return (struct pipe_cfg){.name = f->name,
				 .feed = idx,
				 .priority = f->priority,
				 .types = f->types,
				 .cidr = c->cidr,
				 .cidr_max_addrs = c->cidr_expand_max,
				 .policy = pol};
}

struct merge *
collect_feed(const struct config *c, const struct feed_cfg *f, uint32_t idx, struct store *st, struct policy *pol,
	     struct output *out, bool force, const struct collect_share *sh, struct collect_use *use)
{
	struct job j = {.c = c, .f = f, .st = st, .fetch = "error", .snapshot = "none"};
	struct feed_opts po = collect_feed_opts(f);
	struct pipe_cfg pc = collect_pipe_cfg(c, f, idx, pol);
	struct pipe_out pipe = output_pipe(out);
	struct feed_stats stats = {.format = f->format};
	long long now = (long long)time(NULL);

	if (store_feed_get(st, f->name, &j.old) == ERR_STORE)
		log_warn("feed %s: cannot read its state", f->name);
	enum err e;
	if (!share_take(&j, sh, &e))
		e = fetch_body(&j);
	j.body = j.r.body;
	j.len = j.r.len;
	if (e == ERR_OK && j.r.not_modified) {
		j.fetch = !j.shared ? "304" : j.r.status ? "200" : "file"; /* shared: the same bytes */
		j.snapshot = "unchanged";
		j.body = j.old.snapshot;
		j.len = j.old.snapshot_len;
	} else if (e == ERR_OK) {
		j.fetch = j.r.status ? "200" : "file";
		e = gate(&j);
	}
	/* A body is parsed once, into the feed's own set: a refused body's
	 * values count for nothing, and its snapshot's stand in. */
	struct merge *mine = merge_new();
	if (e == ERR_OK && j.objects && !j.r.not_modified) /* TAXII: its objects, not their text */
		e = pipeline_run_objects(&pc, &po, j.objects, mine, &pipe, &stats, j.why, sizeof(j.why));
	else if (e == ERR_OK)
		e = pipeline_run(&pc, &po, j.body, j.len, mine, &pipe, &stats, j.why, sizeof(j.why));
	if (e == ERR_OK)
		e = judge(&j, &stats, force);
	remember(&j, e, (long long)stats.accepted_total, now);
	if (e == ERR_OK) {
		if (!j.r.not_modified)
			j.snapshot = j.shrunk ? "kept (shrank)" : "fresh";
	} else {
		/* The last good snapshot stands in, parsed as the body was. */
		output_forget_examples(out);
		stale_note(j.note, sizeof(j.note), &j.old);
		log_error("feed %s: %s; %s", f->name, j.why, j.note);
		j.body = j.old.snapshot;
		j.len = j.old.snapshot_len;
		j.snapshot = j.old.snapshot ? "stale" : "none";
		memset(&stats, 0, sizeof(stats));
		stats.format = f->format;
		char ignore[256];
		merge_free(mine);
		mine = merge_new();
		if (j.body)
			pipeline_run(&pc, &po, j.body, j.len, mine, &pipe, &stats, ignore, sizeof(ignore));
	}
	summarise(&j, out, &stats, e != ERR_OK, use);
	if (!j.shared)
		feed_fetch_result_free(&j.r);
	free(j.cursor);
	json_decref(j.objects);
	store_feed_clear(&j.old);
	return mine;
}
