/*
 * The desired set: the feeds, collected (collect.h), merged into one
 * want per (type, value) with the attributes of the feed that decides
 * (priority), its rank, expiry and the feeds that list it.
 */
#ifndef IOCSYNC_DESIRED_H
#define IOCSYNC_DESIRED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "collect.h"
#include "config.h"
#include "plan.h"
#include "state.h"
#include "store.h"

struct output;

/* How the feeds are read. */
struct desired_in {
	bool force;                     /* past max_shrink for every feed */
	const char *const *force_feeds; /* past max_shrink for these */
	size_t nforce_feeds;
	bool keep_reports;                 /* each feed's summary into the store (plan, sync) */
	const struct collect_share *share; /* a multi-tenant run's shared fetches (collect.h), or NULL */
};

/* The enabled feeds of a configuration, each read into its own set. */
struct desired_feeds;

/* Reads every enabled feed (collect.h), reporting each to out
 * (desired_failed counts those that failed). NULL when an allowlist
 * cannot be loaded (printed). Free with desired_feeds_free. */
struct desired_feeds *desired_read(const struct config *c, struct store *st, struct output *out,
				   const struct desired_in *in);
void desired_feeds_free(struct desired_feeds *df);
/* The feeds that failed, those with skip[k] set aside (skip may be NULL). */
size_t desired_failed(const struct desired_feeds *df, const bool *skip);

/*
 * The feeds' sets -> the desired set, *nw wants, leaving out the feeds
 * with skip[k] set (their device groups are unknown: nothing of them is
 * sent or deleted). down (may be NULL) gets the feeds whose deletions are
 * held, with why: a feed paused (enabled = no), a feed skipped, a feed
 * down with no snapshot, a feed that shrank past max_shrink (unless
 * forced). Once: the feeds' sets are used up (taken or freed as they
 * join). Free with desired_free (or desired_share_drop).
 */
struct want *desired_wants(struct desired_feeds *df, const bool *skip, size_t *nw, struct plan_down *down,
			   size_t *ndown);

/* When each want was first seen, from the state s (now for a value it
 * does not know): [nw], free it. */
long long *desired_first_seen(const struct want *w, size_t nw, const struct state *s, long long now);

/*
 * The desired sets of a provider's run, shared: a tenant's set is
 * exchanged for an equal one another tenant built (the same wants of
 * the same feed objects: config_tenant lends a tenant that takes every
 * feed as it is the configuration's own), so 1,000 tenants that take
 * the same feeds hold one set. A tenant whose feeds read differently (a
 * snapshot, max_shrink) or that names its own device groups or feeds
 * keeps its own. Thread-safe; free after the tenants' runs.
 */
struct desired_share;
struct desired_share *desired_share_new(void);
void desired_share_free(struct desired_share *sh);
/* w (n wants, from desired_wants; taken) or the equal set sh already
 * holds: the one to use, read only, until desired_share_drop. With sh
 * NULL, w itself. */
struct want *desired_share_take(struct desired_share *sh, struct want *w, size_t n);
/* Done with a set from desired_share_take: freed with its last holder
 * (at once when sh is NULL). */
void desired_share_drop(struct desired_share *sh, struct want *w, size_t n);

/* The values of w that are IP addresses with action Block (pointers into
 * w, n of them; free the array). */
const char **desired_blocked_ips(const struct want *w, size_t nw, size_t *n);

/* The desired set as sync would build it now (feeds fetched, or their
 * snapshots), for export. NULL when an allowlist cannot be loaded.
 * Free with desired_free. */
struct want *desired_build(const struct config *c, struct store *st, struct output *out, size_t *nw,
			   size_t *feeds_failed);
void desired_free(struct want *w, size_t n);

/* A want's title and description, from its feed's templates: made when
 * sent or compared, never kept (a provider's tenants hold thousands). */
struct rendered {
	char *title, *description;
};
void desired_render(const struct want *w, struct rendered *out);
void desired_rendered_free(struct rendered *r);

/* The attribute hash of the wants iocsync holds in MDE, the only ones
 * the plan compares (an owned indicator of the same type and value); 0
 * for the others. [nw], free it. */
uint64_t *desired_hash_held(const struct want *w, size_t nw, const struct have *h, size_t nh);

#endif
