/*
 * Collecting a feed: fetch (or TAXII) -> gates (empty, HTML, binary) ->
 * parse, classify, canonicalise and policy-check (pipeline.h) -> the
 * feed's values, merged into the run's set. A body is parsed once; a
 * body that fails a gate leaves the last good snapshot standing, and
 * shrinking past max_shrink holds the feed's deletions. Every verb that
 * reads feeds (feeds, plan, sync, export) comes through here.
 */
#ifndef IOCSYNC_COLLECT_H
#define IOCSYNC_COLLECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "config.h"
#include "merge.h"
#include "pipeline.h"
#include "policy.h"
#include "store.h"

struct output;

/* What a feed gave this run. */
struct collect_use {
	bool failed;      /* the fetch or the body failed (the snapshot, if any, stood in) */
	const char *hold; /* its deletions are held, and why (static text), or NULL */
	json_t *summary;  /* its summary, when out keeps summaries (json_decref it), else NULL */
};

/* How feed f of c (index idx) is parsed and checked (pipeline.h). */
struct feed_opts collect_feed_opts(const struct feed_cfg *f);
struct pipe_cfg collect_pipe_cfg(const struct config *c, const struct feed_cfg *f, uint32_t idx,
				 const struct policy *pol);

/* Loads the allowlist files of c into p; prints errors; false on failure. */
bool collect_allowlists(const struct config *c, struct policy *p);

/*
 * A multi-tenant run's feeds, fetched once: every enabled feed (not
 * TAXII) that two tenants or more take is fetched by collect_share_fetch
 * (c: the configuration with the tenants), before any tenant runs, with
 * no validators (the tenants' snapshots differ); each tenant's
 * collect_feed then gates, parses and judges that body against its own
 * state, as if it had fetched it. A feed server sees one request a run,
 * not one a tenant. Free with collect_share_free after the tenants' runs.
 */
struct collect_share;
struct collect_share *collect_share_fetch(const struct config *c);
void collect_share_free(struct collect_share *sh);

/*
 * Fetches feed f (index idx of c->feeds) and returns the set of what
 * this run will use of it (merge.h; merge_free it): the fresh body, or
 * the last good snapshot when the fetch failed or the body was refused
 * (HTML, empty, binary, parsed to nothing); an empty set when there is
 * neither. A body that shrank past max_shrink is used too (its new values
 * go out), but its deletions are held and it does not become the
 * snapshot, unless force. Prints to out; fills *use. With sh (may be
 * NULL) holding the feed, its shared fetch stands for this one.
 */
struct merge *collect_feed(const struct config *c, const struct feed_cfg *f, uint32_t idx, struct store *st,
			   struct policy *pol, struct output *out, bool force, const struct collect_share *sh,
			   struct collect_use *use);

#endif
