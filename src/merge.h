/*
 * Merge: one item per (type, canonical value) across all feeds. The
 * feed with the highest priority decides the attributes; every source
 * (feed, line) is kept for reports.
 *
 * Built for tens of millions of adds: an item lives in one arena record
 * (header and value together), the table holds (hash tag, record) pairs,
 * and sources are appended flat and grouped per item only when asked.
 * A duplicate costs two cache misses, a new item one. The items are
 * split into parts by hash, which batches fill with prefetching, and
 * different threads at once (merge_batch_parts).
 */
#ifndef IOCSYNC_MERGE_H
#define IOCSYNC_MERGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "ioc.h"
#include "limits.h"

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
 * Adds one occurrence of (t, value) from feed at line. A feed with a
 * higher priority than the current decider takes over the attributes
 * (title, description, expire_at: may be NULL/0). Returns the item's
 * index; *new_in_feed tells whether this feed gave it for the first time
 * (feeds are added one after the other). feed must be below LIMIT_FEEDS
 * and priority within 16 bits (the configuration allows +-1000): the
 * merge aborts otherwise.
 */
size_t merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed, int32_t priority,
		 unsigned long line, const char *title, const char *description, long long expire_at,
		 bool *new_in_feed);

/*
 * The form the merge keeps a value in (its key): returns the key and
 * sets *keylen. IPs are kept as their 4 or 16 bytes and hashes as the
 * bytes their hex spells (a third of the memory, on feeds of millions),
 * written to buf (MERGE_KEY_MAX bytes); other types are their value
 * itself (returned as is, no copy). merge_get gives the canonical text
 * back. io, when not NULL, is what ioc_parse made of the value: its
 * address and lower-case hex are taken as they are. Without it, an IP
 * or hash value that is no address or no hex of even length (up to 64
 * digits) aborts: IP and hash values come from ioc_parse.
 */
#define MERGE_KEY_MAX (LIMIT_VALUE_BYTES + 32)
const char *merge_key(enum ioc_type t, const char *value, size_t len, const struct ioc *io, char *buf, size_t *keylen);

/* The same as merge_add, for callers that have the key and its hash
 * already (the pipeline's workers make them): key is merge_key's form of
 * the value and hash is merge_hash(t, key, keylen). */
uint64_t merge_hash(enum ioc_type t, const char *key, size_t keylen);
size_t merge_add_key(struct merge *m, uint64_t hash, enum ioc_type t, const char *key, size_t keylen, uint32_t feed,
		     int32_t priority, unsigned long line, const char *title, const char *description,
		     long long expire_at, bool *new_in_feed);

/* One add of a batch: the key must stay valid until every part has
 * taken the batch (a new item's key is copied then). */
struct merge_req {
	uint64_t hash;   /* merge_hash(type, key, keylen) */
	const char *key; /* merge_key's form of the value */
	uint32_t keylen;
	uint32_t line;
	uint8_t type; /* enum ioc_type */
	bool fresh;   /* out, after merge_batch_commit: *new_in_feed of merge_add */
};

/*
 * A batch of adds r[0..n) from one feed, with no title, description or
 * expiry: the same items, indices, sources and r[i].fresh as n calls of
 * merge_add_key in that order. merge_batch_parts(first, step) takes
 * the adds of parts first, first + step, ... below merge_parts(), with
 * one pass over r; calls with no part in common may run at once on
 * different threads, and nothing else may run on m meanwhile. Once
 * every part has taken the batch, merge_batch_commit numbers the new
 * items and fills r[i].fresh. merge_add_batch does all of it on the
 * calling thread.
 */
unsigned merge_parts(void);
void merge_batch_parts(struct merge *m, unsigned first, unsigned step, const struct merge_req *r, size_t n,
		       uint32_t feed, int32_t priority);
void merge_batch_commit(struct merge *m, struct merge_req *r, size_t n);
void merge_add_batch(struct merge *m, struct merge_req *r, size_t n, uint32_t feed, int32_t priority);

/* Adds every item of from (one feed's set) to m, with its sources in
 * order: the same as adding from's occurrences to m directly. */
void merge_absorb(struct merge *m, struct merge *from);

size_t merge_count(const struct merge *m);
/* Item i (< merge_count) into *out. The first call after adds maps the
 * new items to their records (linear time in the new items). */
void merge_get(struct merge *m, size_t i, struct merge_item *out);
/* The sources of item i in the order they were added; *n gets their
 * count. The first call after adds groups them (linear time). */
const struct merge_src *merge_sources(struct merge *m, size_t i, size_t *n);

#endif
