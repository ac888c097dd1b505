/* The state store (SQLite, WAL, versioned schema). All SQL lives in
 * store.c: the feeds' validators and last good snapshots; the
 * indicators iocsync owns in MDE; its runs and their journal. */
#ifndef IOCSYNC_STORE_H
#define IOCSYNC_STORE_H

#include <stddef.h>

#include "err.h"

struct store;

/* Opens (creating and migrating) the store at path. A verb that writes
 * names itself as holder: the exclusive lock PATH.lock is taken first,
 * held until store_close, and a busy store fails at once with why naming
 * the holder. holder NULL reads without the lock. NULL with why filled on
 * failure. store_close(NULL) is a no-op. */
struct store *store_open(const char *path, const char *holder, char *why, size_t whysz);
void store_close(struct store *s);
/* Gives back the memory SQLite holds for s that it can read again (its
 * page cache): for a run about to wait long, one of many tenants. */
void store_release_memory(struct store *s);

/* NULL, or why a write to the store failed since it was opened ("... (the
 * disk is full)"): the run must fail and say so. */
const char *store_write_failed(const struct store *s);

/* Schema version the store is at. */
int store_schema_version(struct store *s);

struct store_feed {
	char *url, *etag, *last_modified;
	char *snapshot; /* the last good body, or NULL */
	size_t snapshot_len;
	long long entries; /* accepted indicators in the last good body */
	long long last_good_at, fetched_at;
	char *last_error;
	char *report; /* JSON, from the last run that read it, or NULL */
	char *cursor; /* TAXII: added_after for the next reading, or NULL */
};

/* Reads what is known of feed name. ERR_EMPTY when nothing is; free
 * with store_feed_clear. */
enum err store_feed_get(struct store *s, const char *name, struct store_feed *f);
void store_feed_clear(struct store_feed *f);
/* The same without the snapshot (for reports: a feed's body can be large). */
enum err store_feed_info(struct store *s, const char *name, struct store_feed *f);

/* Records a good fetch: its validators and body become the snapshot. */
enum err store_feed_good(struct store *s, const char *name, const char *url, const char *etag,
			 const char *last_modified, const char *body, size_t len, long long entries, long long now);
/* Keeps a TAXII feed's cursor (after store_feed_good). */
enum err store_feed_cursor(struct store *s, const char *name, const char *cursor);
/* Keeps the report (JSON text) of the feed's last reading. */
enum err store_feed_report(struct store *s, const char *name, const char *report);
/* Records that the feed was current (304) or failed (error != NULL). */
enum err store_feed_seen(struct store *s, const char *name, const char *url, const char *error, long long now);

/* One indicator iocsync owns (or held in its grace period). Strings
 * are borrowed in callbacks. */
struct store_ind {
	int type, action;
	const char *value, *mde_id;
	const char *feeds; /* "feed1,feed2" */
	long long first_seen, last_seen, expires_at;
	long long gone_since; /* left every feed at; 0: still in one */
};
enum err store_ind_each(struct store *s, void (*cb)(void *ctx, const struct store_ind *r), void *ctx);
/* Replaces the whole table with v (one transaction). Its last kept
 * rows are in the table as they are (this run's batches wrote them,
 * store_ind_add, under the state's lock): not written again unless the
 * table must be written whole (rows left over, or one of v missing). */
enum err store_ind_replace(struct store *s, const struct store_ind *v, size_t n, size_t kept);
long long store_ind_count(struct store *s);
struct store_change;
/* Adds (or refreshes) rows at once, with the changes c[0..m) for the
 * history (as store_history_add), in one transaction: the ids MDE gave
 * an import batch, recorded before the next call is sent, so that a run
 * killed later still knows what it created and why. */
enum err store_ind_add(struct store *s, const struct store_ind *v, size_t n, const struct store_change *c, size_t m);

/* One thing iocsync did to a value (or held back from doing). Strings
 * are borrowed. */
struct store_change {
	int type, action;
	const char *value;
	long long at;
	const char *op;   /* create, update, renew, replace, delete, hold, failed */
	const char *feed; /* the feed(s) it came from */
	const char *reason;
	const char *mde_id; /* or NULL */
};
/* Adds changes in one transaction (a hold already the value's last
 * entry is not added again), then keeps the newest
 * LIMIT_HISTORY_PER_VALUE of each value. */
enum err store_history_add(struct store *s, const struct store_change *v, size_t n);
/* A value's history, newest first. */
enum err store_history_each(struct store *s, int type, const char *value,
			    void (*cb)(void *ctx, const struct store_change *c), void *ctx);
/* How many changes of each op since then (report: the last 7 and 30 days). */
enum err store_history_counts(struct store *s, long long since, void (*cb)(void *ctx, const char *op, long long n),
			      void *ctx);
/* Every value's changes since then, newest first, at most limit. */
enum err store_history_recent(struct store *s, long long since, int limit,
			      void (*cb)(void *ctx, const struct store_change *c), void *ctx);

/* What was learned about the tenant, by key (e.g. what MDE puts in
 * createdBy for this app). store_meta_get: malloc'd, or NULL when
 * unknown. */
char *store_meta_get(struct store *s, const char *key);
enum err store_meta_set(struct store *s, const char *key, const char *value);

struct store_run {
	long long id, started, finished, items;
	const char *verb, *outcome, *summary, *message;
	const char *step, *state; /* recover: the last journal step */
};
/* Starts a run ("running" until store_run_end); returns its id or -1. */
long long store_run_begin(struct store *s, const char *verb, long long now);
enum err store_run_end(struct store *s, long long run, long long now, const char *outcome, const char *summary,
		       const char *message);
/* Records a step of run before ("sent") and after ("done", "failed"). */
enum err store_journal(struct store *s, long long run, int seq, const char *step, long long items, const char *state,
		       const char *detail, long long now);
/* Calls cb for each run that never ended (killed), with its last step,
 * then marks them "killed". */
enum err store_runs_recover(struct store *s, void (*cb)(void *ctx, const struct store_run *r), void *ctx);
/* The last limit runs, newest first. */
enum err store_runs_each(struct store *s, int limit, void (*cb)(void *ctx, const struct store_run *r), void *ctx);
/* PRAGMA integrity_check. */
enum err store_integrity(struct store *s, char *why, size_t whysz);

#endif
