#ifndef IOCSYNC_LOG_H
#define IOCSYNC_LOG_H

#include <stdbool.h>

#include "err.h"

/* LOG_SILENT: nothing (fuzzers, whose output is the findings). */
enum log_level { LOG_SILENT = -1, LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG };

/* Sets the threshold for stderr (default LOG_WARN: -v raises it,
 * -q lowers it to LOG_ERROR). */
void log_set_level(enum log_level lvl);
enum log_level log_get_level(void);

/* Also appends every line at or below lvl to path (with a timestamp).
 * Returns ERR_IO when the file cannot be opened (errno set). A second
 * call replaces the file; NULL closes it. */
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

/* Opens the log file again, by its path (after logrotate moved it). */
enum err log_reopen(void);

/* Lines read "context: what: why". No secret is ever passed here. */
void log_msg(enum log_level lvl, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_error(...) log_msg(LOG_ERROR, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_WARN, __VA_ARGS__)
#define log_info(...) log_msg(LOG_INFO, __VA_ARGS__)
#define log_debug(...) log_msg(LOG_DEBUG, __VA_ARGS__)

#endif
