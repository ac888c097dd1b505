/* The state store (SQLite, WAL, versioned schema). All SQL lives in
 * store.c. Today: the feeds' validators and last good snapshots; the
 * indicators, runs and journal come with sync. */
#ifndef IOCSYNC_STORE_H
#define IOCSYNC_STORE_H

#include <stddef.h>

#include "err.h"

struct store;

/* Opens (creating and migrating) the store at path. NULL with why filled
 * on failure. store_close(NULL) is a no-op. */
struct store *store_open(const char *path, char *why, size_t whysz);
void store_close(struct store *s);

/* Schema version the store is at. */
int store_schema_version(struct store *s);

struct store_feed {
	char *url, *etag, *last_modified;
	char *snapshot;		/* the last good body, or NULL */
	size_t snapshot_len;
	long long entries;	/* accepted indicators in the last good body */
	long long last_good_at, fetched_at;
	char *last_error;
};

/* Reads what is known of feed name. ERR_EMPTY when nothing is; free
 * with store_feed_clear. */
enum err store_feed_get(struct store *s, const char *name, struct store_feed *f);
void store_feed_clear(struct store_feed *f);

/* Records a good fetch: its validators and body become the snapshot. */
enum err store_feed_good(struct store *s, const char *name, const char *url, const char *etag,
			 const char *last_modified, const char *body, size_t len, long long entries,
			 long long now);
/* Records that the feed was current (304) or failed (error != NULL). */
enum err store_feed_seen(struct store *s, const char *name, const char *url, const char *error,
			 long long now);

#endif
