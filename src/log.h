#ifndef IOCSYNC_LOG_H
#define IOCSYNC_LOG_H

#include <stdbool.h>

#include "err.h"

/* LOG_SILENT: nothing (fuzzers, whose output is the findings). */
enum log_level {
	LOG_SILENT = -1,
	LOG_ERROR,
	LOG_WARN,
	LOG_INFO,
	LOG_DEBUG
};

/* Sets the threshold for stderr (default LOG_WARN: -v raises it,
 * -q lowers it to LOG_ERROR). */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Also appends every line at or below lvl to path (with a timestamp),
 * each whole or not at all. The file is created 0640, never opened
 * through a symlink, and must be a regular file. Returns ERR_IO when it
 * cannot be opened (errno set). A second call replaces the file; NULL
 * closes it. Every line is made printable first (control bytes and
 * non-UTF-8 as \xNN). */
enum err log_open_file(const char *path, enum log_level lvl);

/* log_format = json: the log file gets one JSON object a line. */
void log_set_json(bool on);
/* Sends stderr's lines to the journal when systemd connected stderr to
 * it (JOURNAL_STREAM), with their priority. */
void log_detect_journal(void);

/* The one summary line of a run (sync.c's summary object): counts and
 * calls by endpoint as text; in a JSON log, the whole object under
 * "run". */
#include <jansson.h>
void log_run(const json_t *sum);

/* Lines of this thread name the tenant it syncs (NULL: none). */
void log_set_context(const char *tenant);

/* NULL, or what went wrong when a line could not be written whole to the
 * log file (a full disk): the line was taken back, and the run fails. */
const char *log_write_failed(void);

/* Opens the log file again, by its path (after logrotate moved it). */
enum err log_reopen(void);

/* Lines read "context: what: why". No secret is ever passed here. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Whether a message at lvl goes anywhere (to skip building one that would not). */
bool log_enabled(enum log_level lvl);
/* log_msg with fields: in a JSON log they are merged into the line's
 * object (fields may be NULL). */
void log_fields(enum log_level lvl, const json_t *fields, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
