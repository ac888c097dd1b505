#include "store.h"
#include "store_int.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <time.h>
#include <unistd.h>

#include "iocsync_limits.h"
#include "log.h"
#include "util.h"

const char *
store_full_disk(sqlite3 *db)
{
	int e = sqlite3_system_errno(db);
	int code = sqlite3_extended_errcode(db) & 0xff;
	return code == SQLITE_FULL || e == ENOSPC || e == EDQUOT ? " (the disk is full)" : "";
}

/* Notes why a write failed (once a run): the disk full said as such. */
enum err
store_failed(struct store *s)
{
	if (s->trouble[0] == '\0')
		snprintf(s->trouble, sizeof(s->trouble), "the state store cannot be written: %s%s",
			 sqlite3_errmsg(s->db), store_full_disk(s->db));
	return ERR_STORE;
}

/* The result of a write's last step. */
enum err
store_done(struct store *s, int r)
{
	return r == SQLITE_DONE ? ERR_OK : store_failed(s);
}

const char *
store_write_failed(const struct store *s)
{
	return s && s->trouble[0] ? s->trouble : NULL;
}

/*
 * Takes the exclusive lock beside the store, so two runs never write it
 * at once. The holder writes who it is into the lock file; a verb that
 * finds the lock taken reads that back to name the holder.
 */
static int
take_lock(const char *path, const char *holder, char *why, size_t whysz)
{
	char *lp = xasprintf("%s.lock", path);
	int fd = open(lp, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		set_why(why, whysz, "cannot open the lock %s: %s", lp, strerror(errno));
		free(lp);
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
		int e = errno;
		char who[256] = "";
		ssize_t n = e == EWOULDBLOCK ? pread(fd, who, sizeof(who) - 1, 0) : -1;
		while (n > 0 && (who[n - 1] == '\n' || who[n - 1] == '\0'))
			n--;
		who[n > 0 ? n : 0] = '\0';
		for (char *q = who; *q; q++)
			if ((unsigned char)*q < 0x20)
				*q = ' ';
		if (e == EWOULDBLOCK)
			set_why(why, whysz, "the state %s is busy: %s holds %s; try again when it ends", path,
				who[0] ? who : "another iocsync", lp);
		else
			set_why(why, whysz, "cannot lock %s: %s", lp, strerror(e));
		close(fd);
		free(lp);
		return -1;
	}
	char line[256], ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	int n = snprintf(line, sizeof(line), "iocsync %s (pid %ld, since %s)\n", holder, (long)getpid(), ts);
	if (ftruncate(fd, 0) != 0 || pwrite(fd, line, (size_t)n, 0) != n)
		log_debug("lock %s: cannot write the holder's name", lp);
	free(lp);
	return fd;
}

/* Each entry moves the schema one version up; never edit a shipped one. */
static const char *const migrations[] = {
	/* 1: feeds, their validators and last good snapshot */
	"CREATE TABLE feeds ("
	" name TEXT PRIMARY KEY,"
	" url TEXT NOT NULL,"
	" etag TEXT, last_modified TEXT,"
	" snapshot BLOB, entries INTEGER NOT NULL DEFAULT 0,"
	" last_good_at INTEGER, fetched_at INTEGER,"
	" last_error TEXT);",
	/* 2: what iocsync owns in MDE, its runs, and the journal of each run */
	"CREATE TABLE indicators ("
	" type INTEGER NOT NULL, value TEXT NOT NULL, action INTEGER NOT NULL,"
	" mde_id TEXT NOT NULL, feeds TEXT NOT NULL DEFAULT '',"
	" first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL,"
	" expires_at INTEGER NOT NULL DEFAULT 0, gone_since INTEGER NOT NULL DEFAULT 0,"
	" PRIMARY KEY (type, value, action));"
	"CREATE TABLE runs ("
	" id INTEGER PRIMARY KEY, verb TEXT NOT NULL, started INTEGER NOT NULL,"
	" finished INTEGER, outcome TEXT NOT NULL, summary TEXT, message TEXT);"
	"CREATE TABLE journal ("
	" run INTEGER NOT NULL REFERENCES runs(id) ON DELETE CASCADE, seq INTEGER NOT NULL,"
	" step TEXT NOT NULL, items INTEGER NOT NULL, state TEXT NOT NULL, at INTEGER NOT NULL,"
	" detail TEXT, PRIMARY KEY (run, seq));",
	/* 3: each feed's report from the last run that read it (JSON: counts,
	 * rejects by reason with examples), for `report` and the metrics */
	"ALTER TABLE feeds ADD COLUMN report TEXT;",
	/* 4: a TAXII feed's added_after: the X-TAXII-Date-Added-Last of the
	 * last good reading */
	"ALTER TABLE feeds ADD COLUMN cursor TEXT;",
	/* 5: what was learned about the tenant's MDE (what it puts in
	 * createdBy for this app), key -> value */
	"CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
	/* 6: what iocsync did to each value, newest last, a bounded few per
	 * value (iocsync why) */
	"CREATE TABLE history ("
	" id INTEGER PRIMARY KEY, type INTEGER NOT NULL, value TEXT NOT NULL, at INTEGER NOT NULL,"
	" op TEXT NOT NULL, action INTEGER NOT NULL, feed TEXT NOT NULL DEFAULT '', reason TEXT, mde_id TEXT);"
	"CREATE INDEX history_value ON history (type, value, id);",
};

/* SQLite's words, and what they mean when the disk is full ("disk I/O
 * error" is what a WAL write that found no room says). */
enum err
store_exec(struct store *s, const char *sql, char *why, size_t whysz)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(why, whysz, "%s%s", msg ? msg : sqlite3_errmsg(s->db), store_full_disk(s->db));
		sqlite3_free(msg);
		return ERR_STORE;
	}
	return ERR_OK;
}

int
store_schema_version(struct store *s)
{
	sqlite3_stmt *st;
	int v = -1;
	if (sqlite3_prepare_v2(s->db, "PRAGMA user_version", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	return v;
}

/* Before SQLite's first use, for a provider's run (a connection per
 * running tenant, in threads):
 * - no page cache allocated in bulk: by default every connection takes
 *   20 pages at its first transaction, about 84 KB that
 *   sqlite3_db_release_memory cannot give back while it is open (80 MB
 *   at 1,000 tenants); pages are then allocated as they are used;
 * - no memory statistics: they take one process-wide mutex on every
 *   allocation of every connection, the most contended lock of a
 *   1,000-tenant run (perf). Nothing here reads them. */
static void
store_configure(void)
{
	(void)sqlite3_config(SQLITE_CONFIG_PAGECACHE, NULL, 0, 0);
	(void)sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0);
}

struct store *
store_open(const char *path, const char *holder, char *why, size_t whysz)
{
	struct store *s = xcalloc(1, sizeof(*s));
	s->lock_fd = -1;
	if (holder && (s->lock_fd = take_lock(path, holder, why, whysz)) < 0) {
		free(s);
		return NULL;
	}
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	pthread_once(&once, store_configure);
	/* A new store is its owner's alone whatever the umask (SQLite makes
	 * its -wal and -shm files with the database's mode). */
	int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (fd >= 0)
		close(fd);
	if (sqlite3_open_v2(path, &s->db,
			    SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX | SQLITE_OPEN_NOFOLLOW,
			    NULL) != SQLITE_OK) {
		snprintf(why, whysz, "cannot open the state store %s: %s%s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory", s->db ? store_full_disk(s->db) : "");
		store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (store_exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", why, whysz) !=
	    ERR_OK)
		goto fail;
	/* A hand run as root must not leave the service a state it cannot
	 * write: its files go to the owner of their directory. */
	static const char *const ext[] = {"", "-wal", "-shm", ".lock"};
	for (size_t k = 0; k < NELEM(ext); k++) {
		char f[4200];
		snprintf(f, sizeof(f), "%s%s", path, ext[k]);
		file_adopt_dir_owner(f);
	}
	int v = store_schema_version(s);
	if (v < 0 || v > (int)NELEM(migrations)) {
		snprintf(why, whysz, "%s: schema version %d is not one this iocsync knows (newest %zu)", path, v,
			 NELEM(migrations));
		goto fail;
	}
	for (; v < (int)NELEM(migrations); v++) {
		char sql[64];
		if (store_exec(s, "BEGIN IMMEDIATE", why, whysz) != ERR_OK)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (store_exec(s, migrations[v], why, whysz) != ERR_OK || store_exec(s, sql, why, whysz) != ERR_OK ||
		    store_exec(s, "COMMIT", why, whysz) != ERR_OK) {
			char ignore[8];
			store_exec(s, "ROLLBACK", ignore, sizeof(ignore));
			goto fail;
		}
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_release_memory(struct store *s)
{
	if (s && s->db)
		sqlite3_db_release_memory(s->db);
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	if (s->lock_fd >= 0)
		close(s->lock_fd); /* releases the flock */
	free(s);
}

char *
store_col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

/* A feed's row; the snapshot (the feed's whole body) only when asked. */
static enum err
feed_get(struct store *s, const char *name, struct store_feed *f, bool snapshot)
{
	sqlite3_stmt *st;
	enum err rc = ERR_EMPTY;
	memset(f, 0, sizeof(*f));
	if (sqlite3_prepare_v2(s->db,
			       snapshot ? "SELECT url, etag, last_modified, snapshot, entries, last_good_at,"
					  " fetched_at, last_error, report, cursor FROM feeds WHERE name = ?1"
					: "SELECT url, etag, last_modified, NULL, entries, last_good_at,"
					  " fetched_at, last_error, report, cursor FROM feeds WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		f->url = store_col_text(st, 0);
		f->etag = store_col_text(st, 1);
		f->last_modified = store_col_text(st, 2);
		if (sqlite3_column_type(st, 3) != SQLITE_NULL) {
			const void *b = sqlite3_column_blob(st, 3);
			f->snapshot_len = (size_t)sqlite3_column_bytes(st, 3);
			f->snapshot = xmalloc(f->snapshot_len + 1);
			if (f->snapshot_len)
				memcpy(f->snapshot, b, f->snapshot_len);
			f->snapshot[f->snapshot_len] = '\0';
		}
		f->entries = sqlite3_column_int64(st, 4);
		f->last_good_at = sqlite3_column_int64(st, 5);
		f->fetched_at = sqlite3_column_int64(st, 6);
		f->last_error = store_col_text(st, 7);
		f->report = store_col_text(st, 8);
		f->cursor = store_col_text(st, 9);
		rc = ERR_OK;
	} else if (r != SQLITE_DONE) {
		rc = ERR_STORE;
	}
	sqlite3_finalize(st);
	return rc;
}

enum err
store_feed_get(struct store *s, const char *name, struct store_feed *f)
{
	return feed_get(s, name, f, true);
}

enum err
store_feed_info(struct store *s, const char *name, struct store_feed *f)
{
	return feed_get(s, name, f, false);
}

void
store_feed_clear(struct store_feed *f)
{
	free(f->url);
	free(f->etag);
	free(f->last_modified);
	free(f->snapshot);
	free(f->last_error);
	free(f->report);
	free(f->cursor);
	memset(f, 0, sizeof(*f));
}

/* UPDATE feeds SET <col> = value WHERE name = name; sql names the column. */
static enum err
feed_set(struct store *s, const char *sql, const char *name, const char *value)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, sql, -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return store_done(s, r);
}

enum err
store_feed_cursor(struct store *s, const char *name, const char *cursor)
{
	return feed_set(s, "UPDATE feeds SET cursor = ?2 WHERE name = ?1", name, cursor);
}

enum err
store_feed_report(struct store *s, const char *name, const char *report)
{
	return feed_set(s, "UPDATE feeds SET report = ?2 WHERE name = ?1", name, report);
}

enum err
store_feed_good(struct store *s, const char *name, const char *url, const char *etag, const char *last_modified,
		const char *body, size_t len, long long entries, long long now)
{
	sqlite3_stmt *st;
	int r;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO feeds (name, url, etag, last_modified, snapshot, entries,"
			       " last_good_at, fetched_at, last_error) VALUES (?1,?2,?3,?4,?5,?6,?7,?7,NULL)"
			       " ON CONFLICT(name) DO UPDATE SET url=?2, etag=?3, last_modified=?4,"
			       " snapshot=?5, entries=?6, last_good_at=?7, fetched_at=?7, last_error=NULL",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 3, etag, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, last_modified, -1, SQLITE_STATIC);
	sqlite3_bind_blob64(st, 5, body, (sqlite3_uint64)len, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, entries);
	sqlite3_bind_int64(st, 7, now);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return store_done(s, r);
}

enum err
store_feed_seen(struct store *s, const char *name, const char *url, const char *error, long long now)
{
	sqlite3_stmt *st;
	int r;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO feeds (name, url, fetched_at, last_error) VALUES (?1,?2,?3,?4)"
			       " ON CONFLICT(name) DO UPDATE SET fetched_at=?3, last_error=?4",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, url, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 3, now);
	sqlite3_bind_text(st, 4, error, -1, SQLITE_STATIC);
	r = sqlite3_step(st);
	sqlite3_finalize(st);
	return store_done(s, r);
}

/* ---- indicators ---- */

enum err
store_ind_each(struct store *s, void (*cb)(void *ctx, const struct store_ind *r), void *ctx)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT type, value, action, mde_id, feeds, first_seen, last_seen, expires_at,"
			       " gone_since FROM indicators ORDER BY type, value",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_ind x = {
			.type = sqlite3_column_int(st, 0),
			.value = (const char *)sqlite3_column_text(st, 1),
			.action = sqlite3_column_int(st, 2),
			.mde_id = (const char *)sqlite3_column_text(st, 3),
			.feeds = (const char *)sqlite3_column_text(st, 4),
			.first_seen = sqlite3_column_int64(st, 5),
			.last_seen = sqlite3_column_int64(st, 6),
			.expires_at = sqlite3_column_int64(st, 7),
			.gone_since = sqlite3_column_int64(st, 8),
		};
		cb(ctx, &x);
	}
	sqlite3_finalize(st);
	return store_done(s, r);
}

/* How ind_write treats a row whose (type, value, action) is there. */
enum ind_how {
	IND_REFRESH, /* an import's: id, feeds, last seen and expiry; not gone */
	IND_UPDATE,  /* every column, in place, when one differs */
	IND_REPLACE, /* INSERT OR REPLACE */
};

#define IND_INSERT \
	"INTO indicators (type, value, action, mde_id, feeds, first_seen, last_seen, expires_at, gone_since)" \
	" VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9)"

/* Writes v's rows. */
static bool
ind_write(struct store *s, const struct store_ind *v, size_t n, enum ind_how how)
{
	static const char *const sql[] = {
		[IND_REFRESH] = "INSERT " IND_INSERT
				" ON CONFLICT(type, value, action) DO UPDATE SET mde_id=?4,"
				" feeds=?5, last_seen=?7, expires_at=?8, gone_since=0",
		/* last_seen alone is no reason to write a row: it is when the
		 * row last changed (the runs table says when each run was, and
		 * a value not gone was listed by the last), so a daily run that
		 * changes nothing writes no page. */
		[IND_UPDATE] = "INSERT " IND_INSERT
			       " ON CONFLICT(type, value, action) DO UPDATE SET mde_id=?4,"
			       " feeds=?5, first_seen=?6, last_seen=?7, expires_at=?8, gone_since=?9 WHERE"
			       " (mde_id, feeds, first_seen, expires_at, gone_since) IS NOT (?4,?5,?6,?8,?9)",
		[IND_REPLACE] = "INSERT OR REPLACE " IND_INSERT,
	};
	sqlite3_stmt *st = NULL;
	if (sqlite3_prepare_v2(s->db, sql[how], -1, &st, NULL) != SQLITE_OK)
		return false;
	bool ok = true;
	for (size_t i = 0; ok && i < n; i++) {
		sqlite3_reset(st);
		sqlite3_bind_int(st, 1, v[i].type);
		sqlite3_bind_text(st, 2, v[i].value, -1, SQLITE_STATIC);
		sqlite3_bind_int(st, 3, v[i].action);
		sqlite3_bind_text(st, 4, v[i].mde_id, -1, SQLITE_STATIC);
		sqlite3_bind_text(st, 5, v[i].feeds ? v[i].feeds : "", -1, SQLITE_STATIC);
		sqlite3_bind_int64(st, 6, v[i].first_seen);
		sqlite3_bind_int64(st, 7, v[i].last_seen);
		sqlite3_bind_int64(st, 8, v[i].expires_at);
		sqlite3_bind_int64(st, 9, v[i].gone_since);
		ok = sqlite3_step(st) == SQLITE_DONE;
	}
	sqlite3_finalize(st);
	return ok;
}

/*
 * Most runs keep the rows that are there: those this run's batches
 * recorded as they are (kept) are left alone, the others updated in
 * place and only when they differ, not deleted and written again with
 * their index entries (a provider's tenants all do this at their run's
 * end, at once). Every row of v is then in the table, so as many rows as
 * v's means none other; otherwise (values gone, or a kept row missing)
 * the table is written whole.
 */
enum err
store_ind_replace(struct store *s, const struct store_ind *v, size_t n, size_t kept)
{
	char why[256];
	if (store_exec(s, "BEGIN IMMEDIATE", why, sizeof(why)) != ERR_OK)
		return ERR_STORE;
	/* Also the way when an update cannot be (a table that lost its
	 * key: a damaged state is read, reported and written anew). */
	bool ok = kept <= n && ind_write(s, v, n - kept, IND_UPDATE) && store_ind_count(s) == (long long)n;
	if (!ok)
		ok = store_exec(s, "DELETE FROM indicators", why, sizeof(why)) == ERR_OK &&
			ind_write(s, v, n, IND_REPLACE);
	if (ok && store_exec(s, "COMMIT", why, sizeof(why)) == ERR_OK)
		return ERR_OK;
	store_failed(s);
	store_exec(s, "ROLLBACK", why, sizeof(why));
	return ERR_STORE;
}

enum err
store_ind_add(struct store *s, const struct store_ind *v, size_t n, const struct store_change *c, size_t m)
{
	char why[256];
	if (n == 0 && m == 0)
		return ERR_OK;
	if (store_exec(s, "BEGIN IMMEDIATE", why, sizeof(why)) != ERR_OK)
		return ERR_STORE;
	if (ind_write(s, v, n, IND_REFRESH) && store_history_rows(s, c, m) &&
	    store_exec(s, "COMMIT", why, sizeof(why)) == ERR_OK)
		return ERR_OK;
	store_failed(s);
	store_exec(s, "ROLLBACK", why, sizeof(why));
	return ERR_STORE;
}

/* ---- runs and the journal ---- */
