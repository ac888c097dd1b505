#include "store.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct store {
	sqlite3 *db;
};

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
};

static enum err
exec(struct store *s, const char *sql, char *why, size_t whysz)
{
	char *msg = NULL;
	if (sqlite3_exec(s->db, sql, NULL, NULL, &msg) != SQLITE_OK) {
		snprintf(why, whysz, "%s", msg ? msg : sqlite3_errmsg(s->db));
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

struct store *
store_open(const char *path, char *why, size_t whysz)
{
	struct store *s = xcalloc(1, sizeof(*s));
	if (sqlite3_open_v2(path, &s->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX,
			    NULL) != SQLITE_OK) {
		snprintf(why, whysz, "cannot open the state store %s: %s", path,
			 s->db ? sqlite3_errmsg(s->db) : "out of memory");
		store_close(s);
		return NULL;
	}
	sqlite3_busy_timeout(s->db, 10000);
	if (exec(s, "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;", why,
		 whysz) != ERR_OK)
		goto fail;
	int v = store_schema_version(s);
	if (v < 0 || v > (int)NELEM(migrations)) {
		snprintf(why, whysz, "%s: schema version %d is not one this iocsync knows (newest %zu)", path,
			 v, NELEM(migrations));
		goto fail;
	}
	for (; v < (int)NELEM(migrations); v++) {
		char sql[64];
		if (exec(s, "BEGIN IMMEDIATE", why, whysz) != ERR_OK)
			goto fail;
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d", v + 1);
		if (exec(s, migrations[v], why, whysz) != ERR_OK || exec(s, sql, why, whysz) != ERR_OK ||
		    exec(s, "COMMIT", why, whysz) != ERR_OK) {
			char ignore[8];
			exec(s, "ROLLBACK", ignore, sizeof(ignore));
			goto fail;
		}
	}
	return s;
fail:
	store_close(s);
	return NULL;
}

void
store_close(struct store *s)
{
	if (s == NULL)
		return;
	sqlite3_close(s->db);
	free(s);
}

static char *
col_text(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);
	return t ? xstrdup((const char *)t) : NULL;
}

enum err
store_feed_get(struct store *s, const char *name, struct store_feed *f)
{
	sqlite3_stmt *st;
	enum err rc = ERR_EMPTY;
	memset(f, 0, sizeof(*f));
	if (sqlite3_prepare_v2(s->db,
			       "SELECT url, etag, last_modified, snapshot, entries, last_good_at,"
			       " fetched_at, last_error FROM feeds WHERE name = ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_text(st, 1, name, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	if (r == SQLITE_ROW) {
		f->url = col_text(st, 0);
		f->etag = col_text(st, 1);
		f->last_modified = col_text(st, 2);
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
		f->last_error = col_text(st, 7);
		rc = ERR_OK;
	} else if (r != SQLITE_DONE) {
		rc = ERR_STORE;
	}
	sqlite3_finalize(st);
	return rc;
}

void
store_feed_clear(struct store_feed *f)
{
	free(f->url);
	free(f->etag);
	free(f->last_modified);
	free(f->snapshot);
	free(f->last_error);
	memset(f, 0, sizeof(*f));
}

enum err
store_feed_good(struct store *s, const char *name, const char *url, const char *etag,
		const char *last_modified, const char *body, size_t len, long long entries, long long now)
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
	return r == SQLITE_DONE ? ERR_OK : ERR_STORE;
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
	return r == SQLITE_DONE ? ERR_OK : ERR_STORE;
}
