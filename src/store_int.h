/* What store.c and store_runs.c share; not for use outside store*.c.
 * All SQL of iocsync lives in these two files. */
#ifndef IOCSYNC_STORE_INT_H
#define IOCSYNC_STORE_INT_H

#include <sqlite3.h>
#include <stdbool.h>
#include <stddef.h>

#include "store.h"

struct store {
	sqlite3 *db;
	int lock_fd;       /* the flock held on PATH.lock, or -1 */
	char trouble[300]; /* the first write that failed, for the run's outcome */
};

/* " (the disk is full)" when that is why the last write failed, else "". */
const char *store_full_disk(sqlite3 *db);
/* Notes why a write failed (once a run): the disk full said as such. */
enum err store_failed(struct store *s);
/* The result of a write's last step. */
enum err store_done(struct store *s, int r);
/* Runs sql; SQLite's words (and a full disk said) into why. */
enum err store_exec(struct store *s, const char *sql, char *why, size_t whysz);
/* store_history_add's rows, inside the caller's transaction; false
 * (the failure noted) when one cannot be written. */
bool store_history_rows(struct store *s, const struct store_change *v, size_t n);
/* Column i of a row as a new string (NULL for NULL). */
char *store_col_text(sqlite3_stmt *st, int i);

#endif
