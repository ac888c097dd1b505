/*
 * Applying a plan to MDE: deletions first (they free room under the
 * cap), imports in batches of LIMIT_MDE_BATCH with retries and the
 * bisection of a batch MDE refuses whole (spec 9, import-errors), an old
 * action deleted only once its replacement exists and is another
 * indicator (spec 9, upsert-key); every step journaled, every id MDE
 * gives recorded at once, and what iocsync owns after the run recorded.
 */
#ifndef IOCSYNC_APPLY_H
#define IOCSYNC_APPLY_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "mde.h"
#include "plan.h"
#include "state.h"
#include "store.h"
#include "util.h"

/* The MDE ids imports gave, by want, in one buffer of texts (a
 * provider's thousand tenants held 2,000 small allocations each). */
struct want_ids {
	uint32_t *at; /* [nw] offset + 1 into text; 0: none yet */
	struct strbuf text;
};

/* One run's applying, and what it came to. */
struct run {
	const struct config *c;
	struct mde *m;
	struct store *st;
	long long id;
	int seq;
	long long now; /* the run's clock: what the plan and the expiries sent are reckoned from */
	const struct want *w;
	size_t nw;
	const long long *first_seen; /* [nw] (desired_first_seen) */
	struct have *h;
	size_t nh;
	const struct plan *p;
	struct want_ids ids; /* the MDE id of each want after its import (want_id) */
	bool *recorded;      /* [nw] that id and its change are in the state (after its batch) */
	bool *have_gone;     /* [nh] deleted, or updated in place to another action */
	size_t done[OP__COUNT];
	size_t failed;
	json_t *failures;
	json_t *refused;    /* MDE's error code -> values it refused this run */
	size_t split_calls; /* extra imports spent isolating refused items */
	bool learn_owner;   /* createdBy not known yet: read one back after an import */
	bool aborted;
	bool stopped; /* by a signal, between batches */
	char why[512];
};

/* The id of want i once its import gave one, else NULL; valid until the
 * next is set. */
const char *want_id(const struct run *r, size_t i);
void want_ids_free(struct want_ids *ids);

/* Applies r->p: r->ids.at, r->recorded and r->have_gone must be
 * allocated. */
void apply_run(struct run *r);

/* What iocsync owns after the run, into the state. */
enum err apply_record(struct run *r, const struct state *s);

/* What this run did to each value (and held back, and failed), into
 * the log and the history; what MDE refused comes from the failures. */
void apply_record_changes(struct run *r);

/* Deletes ids in batches of LIMIT_MDE_BATCH with BatchDelete; on a 404
 * (an id already gone) lists again and retries with the ids that remain.
 * gone[i] (may be NULL) is set for each id deleted or already absent.
 * st (may be NULL) gets the journal of run. Returns the number that could
 * not be deleted; why tells the last reason. */
size_t apply_delete_ids(struct mde *m, struct store *st, long long run, int *seq, const char *const *ids, size_t n,
			bool *gone, char *why, size_t whysz);

#endif
