/*
 * Merge: one item per (type, canonical value) across all feeds. The
 * feed with the highest priority decides the attributes; every source
 * (feed, line) is kept for reports. One hash table over one arena of
 * records, the value kept as the text ioc_parse made (merge.c tells the
 * layout). Not thread-safe: the pipeline adds from its calling thread.
 */
#ifndef IOCSYNC_MERGE_H
#define IOCSYNC_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc.h"
#include "iocsync_limits.h"

struct merge;

/* A view of one item, valid until the next merge_get or merge_add. */
struct merge_item {
	const char *value; /* canonical value, NUL-terminated */
	size_t len;
	enum ioc_type type;
	uint32_t feed;     /* the feed that decides the attributes */
	int32_t priority;  /* that feed's priority */
	const char *title; /* from the deciding entry (STIX name, MISP info) or NULL */
	const char *description;
	long long expire_at; /* from the deciding entry (STIX valid_until) or 0 */
};

struct merge_src {
	uint32_t feed;
	uint32_t line;
};

/* Never NULL; merge_free(NULL) is a no-op. */
struct merge *merge_new(void);
/* Stops recording sources (merge_sources then gives none): `check`
 * reports first occurrences only and saves 12 bytes per line. Call
 * before the first add. */
void merge_skip_sources(struct merge *m);
void merge_free(struct merge *m);

/*
 * Adds one occurrence of (t, value) from feed at line. value is canonical
 * (ioc_parse's): the merge compares bytes. A feed with a higher priority
 * than the current decider takes over the attributes (title,
 * description, expire_at: may be NULL/0). Returns the item's index
 * (items are numbered in the order first added); *new_in_feed tells
 * whether this feed gave it for the first time (feeds are added one
 * after the other). feed must be below LIMIT_FEEDS, priority within 16
 * bits (the configuration allows +-1000) and len at most
 * LIMIT_VALUE_BYTES: the merge aborts otherwise.
 */
size_t merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed, int32_t priority,
		 unsigned long line, const char *title, const char *description, long long expire_at,
		 bool *new_in_feed);

/* The hash merge_add takes of a value, and merge_add for a caller that
 * has it already (the pipeline's workers compute it in parallel). */
uint64_t merge_hash(enum ioc_type t, const char *value, size_t len);
size_t merge_add_hashed(struct merge *m, uint64_t hash, enum ioc_type t, const char *value, size_t len, uint32_t feed,
			int32_t priority, unsigned long line, const char *title, const char *description,
			long long expire_at, bool *new_in_feed);

/* A hint for an add to come: a large table misses the cache on almost
 * every add, and asking for the memory ahead lets the misses overlap.
 * record false fetches hash's home slot; record true, called later,
 * fetches the record that slot names when it is likely the one. */
void merge_prefetch(const struct merge *m, uint64_t hash, bool record);

/* Adds every item of from (one feed's set) to m, with its sources in
 * order: the same as adding from's occurrences to m directly. */
void merge_absorb(struct merge *m, struct merge *from);

size_t merge_count(const struct merge *m);
/* Item i (< merge_count) into *out. */
void merge_get(struct merge *m, size_t i, struct merge_item *out);
/* The sources of item i in the order they were added; *n gets their
 * count. The first call after adds groups them (linear time). */
const struct merge_src *merge_sources(struct merge *m, size_t i, size_t *n);

#endif
