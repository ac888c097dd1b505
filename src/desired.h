/*
 * The desired set: the feeds, collected (collect.h), merged into one
 * want per (type, value) with the attributes of the feed that decides
 * (priority), its rank, expiry and the feeds that list it.
 */
#ifndef IOCSYNC_DESIRED_H
#define IOCSYNC_DESIRED_H

#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "plan.h"
#include "state.h"
#include "store.h"

struct output;

/* What desired_collect is told and tells. */
struct desired_in {
	const bool *skip;               /* [nfeeds] feeds not to read (unknown device groups), or NULL */
	bool force;                     /* past max_shrink for every feed */
	const char *const *force_feeds; /* past max_shrink for these */
	size_t nforce_feeds;
	bool keep_reports; /* each feed's summary into the store (plan, sync) */
};

/*
 * Feeds -> the desired set, *nw wants. NULL when an allowlist cannot be
 * loaded (printed). down (may be NULL) gets the feeds whose deletions are
 * held, with why: a feed paused (enabled = no), a feed skipped (its device
 * groups are unknown; unread, nothing of it sent), a feed down with no
 * snapshot, a feed that shrank past max_shrink (unless forced). Each
 * feed is reported to out; *feeds_failed counts the feeds that failed.
 * Free with desired_free.
 */
struct want *desired_collect(const struct config *c, struct store *st, const struct state *s, struct output *out,
			     long long now, const struct desired_in *in, size_t *nw, struct plan_down *down,
			     size_t *ndown, size_t *feeds_failed);

/* The desired set as sync would build it now (feeds fetched, or their
 * snapshots), for export. NULL when an allowlist cannot be loaded.
 * Free with desired_free. */
struct want *desired_build(const struct config *c, struct store *st, struct output *out, size_t *nw,
			   size_t *feeds_failed);
void desired_free(struct want *w, size_t n);

/* Renders w's title and description (from its feed's templates) if they
 * are not yet. */
void desired_render(struct want *w);

/* Sets the attribute hash of the wants iocsync holds in MDE, the only
 * ones the plan compares (an owned indicator of the same type and value). */
void desired_hash_held(struct want *w, size_t nw, const struct have *h, size_t nh);

#endif
