/*
 * The desired set: the feeds, collected (collect.h), merged into one
 * want per (type, value) with the attributes of the feed that decides
 * (priority), its rank, expiry and the feeds that list it.
 */
#ifndef IOCSYNC_DESIRED_H
#define IOCSYNC_DESIRED_H

#include <stdbool.h>
#include <stddef.h>

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
 * join). Free with desired_free.
 */
struct want *desired_wants(struct desired_feeds *df, const bool *skip, const struct state *s, long long now, size_t *nw,
			   struct plan_down *down, size_t *ndown);

/* The values of w that are IP addresses with action Block (pointers into
 * w, n of them; free the array). */
const char **desired_blocked_ips(const struct want *w, size_t nw, size_t *n);

/* The desired set as sync would build it now (feeds fetched, or their
 * snapshots), for export. NULL when an allowlist cannot be loaded.
 * Free with desired_free. */
struct want *desired_build(const struct config *c, struct store *st, struct output *out, size_t *nw,
			   size_t *feeds_failed);
void desired_free(struct want *w, size_t n);

/* Renders w's title and description (from its feed's templates) if they
 * are not yet; desired_unrender frees them once used (they are made
 * again when needed: a provider's tenants each hold thousands). */
void desired_render(struct want *w);
void desired_unrender(struct want *w);

/* Sets the attribute hash of the wants iocsync holds in MDE, the only
 * ones the plan compares (an owned indicator of the same type and value). */
void desired_hash_held(struct want *w, size_t nw, const struct have *h, size_t nh);

#endif
