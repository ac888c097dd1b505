/*
 * The state's view of what iocsync owns: the indicators table of the
 * store, read once a run and searched by (type, value) and by the MDE id
 * iocsync recorded when it created one. The desired set takes first_seen
 * from it, the MDE model ownership, the plan the feeds a value came from.
 */
#ifndef IOCSYNC_STATE_H
#define IOCSYNC_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "ioc.h"
#include "store.h"

struct state_row {
	int type, action;
	char *value, *feeds, *id; /* one allocation, freed with value; id "" when none */
	long long first_seen, gone_since;
};

/* Sorted arrays, not hash tables: a provider's run holds a state of
 * 2,000 rows per running tenant, and two tables of slots were more than
 * the rows. */
struct state {
	struct state_row *r; /* one per row of the table, in (type, value) order */
	size_t n, cap;
	struct state_row **ids; /* the rows with an MDE id, in id order */
	size_t nids;
	size_t corrupt; /* rows without a value: skipped, and said */
};

/* Reads st's indicators into *s (a corrupt row is skipped and said);
 * free with state_free. */
void state_load(struct store *st, struct state *s);
void state_free(struct state *s);
/* Did iocsync record MDE id `id` for (t, value) when it created it? */
bool state_made(const struct state *s, const char *id, int t, const char *value);
/* The row of (t, v), or NULL. A value under two actions (a replacement
 * under way) answers with its first, which has the earliest first_seen
 * of the two. */
const struct state_row *state_get(const struct state *s, int t, const char *v);
/* For plan_in.state: the feeds that listed (t, v), and since when it is
 * gone from them (0: listed). ctx is a struct state. */
const char *state_feeds(void *ctx, enum ioc_type t, const char *v, long long *gone);

#endif
