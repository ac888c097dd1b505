/*
 * Merge: one item per (type, canonical value) across all feeds. The
 * feed with the highest priority decides the attributes; every source
 * (feed, line) is kept for reports.
 */
#ifndef IOCSYNC_MERGE_H
#define IOCSYNC_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc.h"

struct merge;

struct merge_item {
	const char *value;	/* canonical value, NUL-terminated, owned by the set */
	uint32_t len;
	uint8_t type;		/* enum ioc_type */
	uint32_t feed;		/* the feed that decides the attributes */
	int32_t priority;	/* that feed's priority */
	uint32_t last_feed;	/* the last feed that gave it (for per-feed dedup) */
	uint32_t nsources;
	uint32_t src_head;	/* first source (index into the sources), then ->next */
	uint32_t src_tail;
	uint32_t hash;
	char *title;		/* from the deciding entry (STIX name, MISP info) or NULL */
	char *description;
	long long expire_at;	/* from the deciding entry (STIX valid_until) or 0 */
};

struct merge_src {
	uint32_t feed;
	uint32_t line;
	uint32_t next;		/* index + 1 of the next source; 0 ends the list */
};

/* Never NULL; merge_free(NULL) is a no-op. */
struct merge *merge_new(void);
void merge_free(struct merge *m);

/*
 * Adds one occurrence of (t, value) from feed at line. A feed with a
 * higher priority than the current decider takes over the attributes
 * (title, description, expire_at: may be NULL/0). Returns the item's
 * index; *new_in_feed tells whether this feed gave it for the first time.
 */
size_t merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed,
		 int32_t priority, unsigned long line, const char *title, const char *description,
		 long long expire_at, bool *new_in_feed);

size_t merge_count(const struct merge *m);
/* The item at index i (< merge_count); valid until the next merge_add. */
const struct merge_item *merge_item(const struct merge *m, size_t i);
/* The source at index (src_head or next - 1). */
const struct merge_src *merge_source(const struct merge *m, uint32_t index);

#endif
