#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"

static enum log_level stderr_level = LOG_WARN;
static enum log_level file_level = LOG_INFO;
static FILE *logfile;
static char *logpath;

static const char *const level_names[] = {"error", "warning", "info", "debug"};
_Static_assert(sizeof(level_names) / sizeof(level_names[0]) == LOG_DEBUG + 1, "levels");

void
log_set_level(enum log_level lvl)
{
	stderr_level = lvl;
}

enum log_level
log_get_level(void)
{
	return stderr_level;
}

enum err
log_open_file(const char *path, enum log_level lvl)
{
	if (logfile != NULL) {
		fclose(logfile);
		logfile = NULL;
	}
	if (path == NULL) {
		free(logpath);
		logpath = NULL;
		return ERR_OK;
	}
	if (path != logpath) {
		free(logpath);
		logpath = strdup(path);
	}
	logfile = fopen(path, "ae");
	if (logfile == NULL)
		return ERR_IO;
	setvbuf(logfile, NULL, _IOLBF, 0);
	file_level = lvl;
	return ERR_OK;
}

enum err
log_reopen(void)
{
	return logpath ? log_open_file(logpath, file_level) : ERR_OK;
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	va_list ap;

	if (lvl <= stderr_level) {
		progress_clear();
		fprintf(stderr, "iocsync: %s: ", level_names[lvl]);
		va_start(ap, fmt);
		vfprintf(stderr, fmt, ap);
		va_end(ap);
		fputc('\n', stderr);
	}
	if (logfile != NULL && lvl <= file_level) {
		char ts[32];
		time_t now = time(NULL);
		struct tm tm;
		gmtime_r(&now, &tm);
		strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
		fprintf(logfile, "%s %s: ", ts, level_names[lvl]);
		va_start(ap, fmt);
		vfprintf(logfile, fmt, ap);
		va_end(ap);
		fputc('\n', logfile);
	}
}
