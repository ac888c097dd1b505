/* The store's runs, journal, history and what was learned (meta). */
#include "store_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocsync_limits.h"
#include "log.h"
#include "util.h"

/* Binds a change's type and value as ?1 and ?2 of st, reset. */
static void
bind_key(sqlite3_stmt *st, const struct store_change *c)
{
	sqlite3_reset(st);
	sqlite3_bind_int(st, 1, c->type);
	sqlite3_bind_text(st, 2, c->value, -1, SQLITE_STATIC);
}

/* Whether the value's newest entry is a hold (-1 on error). */
static int
last_is_hold(sqlite3_stmt *last, const struct store_change *c)
{
	bind_key(last, c);
	int r = sqlite3_step(last);
	if (r == SQLITE_DONE)
		return 0;
	if (r != SQLITE_ROW)
		return -1;
	const unsigned char *op = sqlite3_column_text(last, 0);
	return op && strcmp((const char *)op, "hold") == 0;
}

/* Keeps the value's newest LIMIT_HISTORY_PER_VALUE entries, by its index
 * range (history_value), not the table: a provider's tenant keeps
 * 15,000 values x 20 entries. Most values have fewer: one read says so. */
static bool
trim_value(sqlite3_stmt *over, sqlite3_stmt *trim, const struct store_change *c)
{
	bind_key(over, c);
	sqlite3_bind_int(over, 3, LIMIT_HISTORY_PER_VALUE);
	int r = sqlite3_step(over);
	if (r == SQLITE_DONE)
		return true;
	if (r != SQLITE_ROW)
		return false;
	bind_key(trim, c);
	sqlite3_bind_int64(trim, 3, sqlite3_column_int64(over, 0));
	return sqlite3_step(trim) == SQLITE_DONE;
}

/*
 * Plain statements, each a read of the index or one row's write: an
 * INSERT ... SELECT that reads the table it writes makes SQLite open a
 * temporary table for every row (two thirds of a provider's history
 * time, which was a third of its CPU, perf).
 */
bool
store_history_rows(struct store *s, const struct store_change *v, size_t n)
{
	sqlite3_stmt *ins = NULL, *last = NULL, *over = NULL, *trim = NULL;
	if (n == 0)
		return true;
	bool ok = sqlite3_prepare_v2(s->db,
				     "INSERT INTO history (type, value, at, op, action, feed, reason, mde_id)"
				     " VALUES (?1,?2,?3,?4,?5,?6,?7,?8)",
				     -1, &ins, NULL) == SQLITE_OK &&
		sqlite3_prepare_v2(s->db,
				   "SELECT op FROM history WHERE type = ?1 AND value = ?2 ORDER BY id DESC LIMIT 1", -1,
				   &last, NULL) == SQLITE_OK &&
		sqlite3_prepare_v2(
			s->db,
			"SELECT id FROM history WHERE type = ?1 AND value = ?2 ORDER BY id DESC LIMIT 1 OFFSET ?3", -1,
			&over, NULL) == SQLITE_OK &&
		sqlite3_prepare_v2(s->db, "DELETE FROM history WHERE type = ?1 AND value = ?2 AND id <= ?3", -1, &trim,
				   NULL) == SQLITE_OK;
	for (size_t i = 0; ok && i < n; i++) {
		/* A hold repeats every run while it lasts: kept once, at its start. */
		int held = strcmp(v[i].op, "hold") == 0 ? last_is_hold(last, &v[i]) : 0;
		if (held != 0) {
			ok = held > 0;
			continue;
		}
		bind_key(ins, &v[i]);
		sqlite3_bind_int64(ins, 3, v[i].at);
		sqlite3_bind_text(ins, 4, v[i].op, -1, SQLITE_STATIC);
		sqlite3_bind_int(ins, 5, v[i].action);
		sqlite3_bind_text(ins, 6, v[i].feed ? v[i].feed : "", -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 7, v[i].reason, -1, SQLITE_STATIC);
		sqlite3_bind_text(ins, 8, v[i].mde_id, -1, SQLITE_STATIC);
		ok = sqlite3_step(ins) == SQLITE_DONE && trim_value(over, trim, &v[i]);
	}
	if (!ok)
		store_failed(s); /* SQLite's words before the statements go */
	sqlite3_stmt *all[] = {ins, last, over, trim};
	for (size_t k = 0; k < NELEM(all); k++)
		sqlite3_finalize(all[k]);
	return ok;
}

enum err
store_history_add(struct store *s, const struct store_change *v, size_t n)
{
	char why[256];
	if (n == 0)
		return ERR_OK;
	if (store_exec(s, "BEGIN IMMEDIATE", why, sizeof(why)) != ERR_OK)
		return store_failed(s);
	if (store_history_rows(s, v, n) && store_exec(s, "COMMIT", why, sizeof(why)) == ERR_OK)
		return ERR_OK;
	store_failed(s);
	store_exec(s, "ROLLBACK", why, sizeof(why));
	return ERR_STORE;
}

/* Steps st, whose columns are at, op, action, feed, reason, mde_id and
 * (when the statement has them) type and value, giving cb each change;
 * type and value otherwise. Finalizes st. */
static enum err
history_rows(sqlite3_stmt *st, int type, const char *value, void (*cb)(void *ctx, const struct store_change *c),
	     void *ctx)
{
	bool named = sqlite3_column_count(st) > 6;
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_change c = {
			.type = named ? sqlite3_column_int(st, 6) : type,
			.value = named ? (const char *)sqlite3_column_text(st, 7) : value,
			.at = sqlite3_column_int64(st, 0),
			.op = (const char *)sqlite3_column_text(st, 1),
			.action = sqlite3_column_int(st, 2),
			.feed = (const char *)sqlite3_column_text(st, 3),
			.reason = (const char *)sqlite3_column_text(st, 4),
			.mde_id = (const char *)sqlite3_column_text(st, 5),
		};
		if (c.op && c.value)
			cb(ctx, &c);
	}
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? ERR_OK : ERR_STORE;
}

enum err
store_history_each(struct store *s, int type, const char *value, void (*cb)(void *ctx, const struct store_change *c),
		   void *ctx)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT at, op, action, feed, reason, mde_id FROM history WHERE type = ?1 AND value = ?2"
			       " ORDER BY id DESC",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_int(st, 1, type);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	return history_rows(st, type, value, cb, ctx);
}

enum err
store_history_counts(struct store *s, long long since, void (*cb)(void *ctx, const char *op, long long n), void *ctx)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "SELECT op, COUNT(*) FROM history WHERE at >= ?1 GROUP BY op ORDER BY op", -1,
			       &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_int64(st, 1, since);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW)
		if (sqlite3_column_text(st, 0))
			cb(ctx, (const char *)sqlite3_column_text(st, 0), sqlite3_column_int64(st, 1));
	sqlite3_finalize(st);
	return r == SQLITE_DONE ? ERR_OK : ERR_STORE;
}

enum err
store_history_recent(struct store *s, long long since, int limit, void (*cb)(void *ctx, const struct store_change *c),
		     void *ctx)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT at, op, action, feed, reason, mde_id, type, value FROM history WHERE at >= ?1"
			       " ORDER BY at DESC, id DESC LIMIT ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_int64(st, 1, since);
	sqlite3_bind_int(st, 2, limit);
	return history_rows(st, 0, NULL, cb, ctx);
}

char *
store_meta_get(struct store *s, const char *key)
{
	sqlite3_stmt *st;
	char *v = NULL;
	if (sqlite3_prepare_v2(s->db, "SELECT value FROM meta WHERE key = ?1", -1, &st, NULL) != SQLITE_OK)
		return NULL;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = store_col_text(st, 0);
	sqlite3_finalize(st);
	return v;
}

enum err
store_meta_set(struct store *s, const char *key, const char *value)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT(key) DO UPDATE"
			       " SET value = ?2",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_text(st, 1, key, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 2, value, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return store_done(s, r);
}

long long
store_ind_count(struct store *s)
{
	sqlite3_stmt *st;
	long long n = -1;
	if (sqlite3_prepare_v2(s->db, "SELECT count(*) FROM indicators", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW)
		n = sqlite3_column_int64(st, 0);
	sqlite3_finalize(st);
	return n;
}

long long
store_run_begin(struct store *s, const char *verb, long long now)
{
	sqlite3_stmt *st;
	long long id = -1;
	if (sqlite3_prepare_v2(s->db, "INSERT INTO runs (verb, started, outcome) VALUES (?1, ?2, 'running')", -1, &st,
			       NULL) != SQLITE_OK)
		return -1;
	sqlite3_bind_text(st, 1, verb, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 2, now);
	if (sqlite3_step(st) == SQLITE_DONE)
		id = sqlite3_last_insert_rowid(s->db);
	sqlite3_finalize(st);
	return id;
}

enum err
store_run_end(struct store *s, long long run, long long now, const char *outcome, const char *summary,
	      const char *message)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db, "UPDATE runs SET finished=?2, outcome=?3, summary=?4, message=?5 WHERE id=?1", -1,
			       &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int64(st, 2, now);
	sqlite3_bind_text(st, 3, outcome, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 4, summary, -1, SQLITE_STATIC);
	sqlite3_bind_text(st, 5, message, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	/* Keep the last LIMIT_RUNS_KEPT runs and their journals. */
	if (sqlite3_prepare_v2(s->db, "DELETE FROM runs WHERE id <= (SELECT max(id) FROM runs) - ?1", -1, &st, NULL) ==
	    SQLITE_OK) {
		sqlite3_bind_int64(st, 1, LIMIT_RUNS_KEPT);
		(void)sqlite3_step(st);
		sqlite3_finalize(st);
	}
	return store_done(s, r);
}

enum err
store_journal(struct store *s, long long run, int seq, const char *step, long long items, const char *state,
	      const char *detail, long long now)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "INSERT INTO journal (run, seq, step, items, state, at, detail)"
			       " VALUES (?1,?2,?3,?4,?5,?6,?7) ON CONFLICT(run, seq) DO UPDATE SET"
			       " state=?5, at=?6, detail=coalesce(?7, detail)",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_int64(st, 1, run);
	sqlite3_bind_int(st, 2, seq);
	sqlite3_bind_text(st, 3, step, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 4, items);
	sqlite3_bind_text(st, 5, state, -1, SQLITE_STATIC);
	sqlite3_bind_int64(st, 6, now);
	sqlite3_bind_text(st, 7, detail, -1, SQLITE_STATIC);
	int r = sqlite3_step(st);
	sqlite3_finalize(st);
	return store_done(s, r);
}

enum err
store_runs_recover(struct store *s, void (*cb)(void *ctx, const struct store_run *r), void *ctx)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT r.id, r.verb, r.started, j.step, j.state, j.items FROM runs r"
			       " LEFT JOIN journal j ON j.run = r.id AND j.seq = (SELECT max(seq) FROM journal"
			       " WHERE run = r.id) WHERE r.outcome = 'running'",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	while (sqlite3_step(st) == SQLITE_ROW) {
		struct store_run r = {
			.id = sqlite3_column_int64(st, 0),
			.verb = (const char *)sqlite3_column_text(st, 1),
			.started = sqlite3_column_int64(st, 2),
			.step = (const char *)sqlite3_column_text(st, 3),
			.state = (const char *)sqlite3_column_text(st, 4),
			.items = sqlite3_column_int64(st, 5),
		};
		cb(ctx, &r);
	}
	sqlite3_finalize(st);
	char why[128];
	return store_exec(s, "UPDATE runs SET outcome = 'killed' WHERE outcome = 'running'", why, sizeof(why));
}

enum err
store_runs_each(struct store *s, int limit, void (*cb)(void *ctx, const struct store_run *r), void *ctx)
{
	sqlite3_stmt *st;
	if (sqlite3_prepare_v2(s->db,
			       "SELECT id, verb, started, finished, outcome, summary, message FROM runs"
			       " ORDER BY id DESC LIMIT ?1",
			       -1, &st, NULL) != SQLITE_OK)
		return ERR_STORE;
	sqlite3_bind_int(st, 1, limit);
	int r;
	while ((r = sqlite3_step(st)) == SQLITE_ROW) {
		struct store_run x = {
			.id = sqlite3_column_int64(st, 0),
			.verb = (const char *)sqlite3_column_text(st, 1),
			.started = sqlite3_column_int64(st, 2),
			.finished = sqlite3_column_int64(st, 3),
			.outcome = (const char *)sqlite3_column_text(st, 4),
			.summary = (const char *)sqlite3_column_text(st, 5),
			.message = (const char *)sqlite3_column_text(st, 6),
		};
		cb(ctx, &x);
	}
	sqlite3_finalize(st);
	return store_done(s, r);
}

enum err
store_integrity(struct store *s, char *why, size_t whysz)
{
	sqlite3_stmt *st;
	enum err e = ERR_STORE;
	if (sqlite3_prepare_v2(s->db, "PRAGMA integrity_check", -1, &st, NULL) == SQLITE_OK &&
	    sqlite3_step(st) == SQLITE_ROW) {
		const char *t = (const char *)sqlite3_column_text(st, 0);
		if (t && strcmp(t, "ok") == 0)
			e = ERR_OK;
		else
			snprintf(why, whysz, "%s", t ? t : "?");
	}
	sqlite3_finalize(st);
	return e;
}
