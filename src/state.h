/*
 * The state's view of what iocsync owns: the indicators table of the
 * store, read once a run and indexed by (type, value) and by the MDE id
 * iocsync recorded when it created one. The desired set takes first_seen
 * from it, the MDE model ownership, the plan the feeds a value came from.
 */
#ifndef IOCSYNC_STATE_H
#define IOCSYNC_STATE_H

#include <stdbool.h>
#include <stddef.h>

#include "ioc.h"
#include "store.h"
#include "strset.h"

struct state_row {
	int type, action;
	char *value, *feeds; /* one allocation, freed with value */
	long long first_seen, gone_since;
};

struct state {
	struct state_row *r;
	size_t n, cap;
	struct strset *idx; /* "type:value" -> row */
	struct strset *ids; /* MDE id iocsync recorded -> row (what it created) */
	size_t corrupt;     /* rows without a value: skipped, and said */
};

/* Reads st's indicators into *s (a corrupt row is skipped and said);
 * free with state_free. */
void state_load(struct store *st, struct state *s);
void state_free(struct state *s);
/* Did iocsync record MDE id `id` for (t, value) when it created it? */
bool state_made(const struct state *s, const char *id, int t, const char *value);
/* The row of (t, v), or NULL. */
const struct state_row *state_get(const struct state *s, int t, const char *v);
/* For plan_in.state: the feeds that listed (t, v), and since when it is
 * gone from them (0: listed). ctx is a struct state. */
const char *state_feeds(void *ctx, enum ioc_type t, const char *v, long long *gone);

#endif
