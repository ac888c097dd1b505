/*
 * Sync, end to end: feeds -> desired set -> MDE's list -> plan ->
 * apply (batched, journaled) -> state. `plan` stops before apply. The
 * stages live in desired.c, model.c, plan.c, apply.c and sync_report.c;
 * sync.c runs them in order.
 */
#ifndef IOCSYNC_SYNC_H
#define IOCSYNC_SYNC_H

#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "mde.h"
#include "plan.h"
#include "store.h"

struct collect_share;
struct desired_share;

/* What the runs of a sync_all came to, beyond the exit status. */
enum {
	SYNC_HELD = 1u,
	SYNC_FAILED = 2u
};

struct sync_opts {
	const char *verb;               /* "plan" or "sync" */
	bool dry_run;                   /* plan only */
	bool force;                     /* past max_delete and max_shrink */
	const char *const *force_feeds; /* past max_shrink for these feeds, and their deletions past max_delete */
	size_t nforce_feeds;
	unsigned *flags; /* when set, SYNC_HELD and SYNC_FAILED are or'ed in (tenants at once) */
	bool json;
	bool quiet;
	bool verbose;                      /* every planned change, not the first 20 of each kind */
	FILE *out;                         /* where the report goes (default stdout; no progress line then) */
	const struct clock *clk;           /* for MDE's budgets and retries; NULL: the real one */
	const struct collect_share *share; /* sync_all: the feeds its tenants share, fetched once */
	struct desired_share *wants;       /* sync_all: the desired sets its tenants share */
};

/* Exit codes: plan: 0 nothing to change, 2 changes pending, 1 error;
 * sync: 0 converged, 1 something failed (a feed, an item, MDE) or a
 * guard held deletions (everything else applied). */
int sync_run(const struct config *c, const struct sync_opts *o);

/* sync_run for every tenant of c at once, one thread each (MDE's limits
 * are per tenant), or for c itself when it has none. One tenant's failure
 * never stops another. Reports are printed tenant by tenant when all are
 * done (JSON: {"tenants":{"name":doc}}). Exit: plan 0 when no tenant has
 * changes, 2 when some have and none failed, 1 when one failed; sync 0
 * when every tenant converged, 1 otherwise, 2 a usage error. */
int sync_all(const struct config *c, const struct sync_opts *o);

/* Opens the store named by c. A verb that writes (write) takes the lock
 * (see store_open) and recovers from runs that were killed, each
 * reported once; a reader does neither. Prints and returns NULL on
 * failure (a busy store included). */
struct store *sync_open_store(const struct config *c, const char *who, bool write);

#endif
