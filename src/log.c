#include "log.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "progress.h"
#include "util.h"

static enum log_level stderr_level = LOG_WARN;
static enum log_level file_level = LOG_INFO;
static FILE *logfile;
static char *logpath;

void log_journal_send(int prio, const char *msg); /* log_journal.c */

static __thread const char *context; /* the tenant this thread syncs */
static bool json_lines;	/* log_format = json, for the log file */
static bool journal;	/* stderr is systemd's journal: send it there */

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

void
log_set_json(bool on)
{
	json_lines = on;
}

void
log_detect_journal(void)
{
	/* systemd sets JOURNAL_STREAM to the device:inode of the stream it
	 * connected; if stderr is still it, the journal wants our lines. */
	const char *js = getenv("JOURNAL_STREAM");
	struct stat sb;
	unsigned long long dev, ino;
	journal = js && sscanf(js, "%llu:%llu", &dev, &ino) == 2 && fstat(STDERR_FILENO, &sb) == 0 &&
		  (unsigned long long)sb.st_dev == dev && (unsigned long long)sb.st_ino == ino;
}

enum err
log_reopen(void)
{
	return logpath ? log_open_file(logpath, file_level) : ERR_OK;
}

/* One line to the log file, as text or as a JSON object (fields, when
 * given, are merged into it). */
static void
file_line(enum log_level lvl, const char *msg, const json_t *fields)
{
	char ts[32];
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(ts, sizeof(ts), "%Y-%m-%dT%H:%M:%SZ", &tm);
	if (!json_lines) {
		fprintf(logfile, "%s %s: %s\n", ts, level_names[lvl], msg);
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s}", "time", ts, "level", level_names[lvl], "msg", msg);
	if (context)
		json_object_set_new(o, "tenant", json_string(context));
	if (fields)
		json_object_update(o, (json_t *)fields);
	char *t = json_dumps(o, JSON_COMPACT);
	if (t)
		fprintf(logfile, "%s\n", t);
	free(t);
	json_decref(o);
}

void
log_set_context(const char *tenant)
{
	context = tenant;
}

static void
emit(enum log_level lvl, const char *msg, const json_t *fields)
{
	char with[2300];
	if (context) {
		snprintf(with, sizeof(with), "tenant %s: %s", context, msg);
		msg = with;
	}
	static const int prio[] = {3, 4, 6, 7}; /* syslog's err, warning, info, debug */
	if (lvl <= stderr_level) {
		progress_clear();
		if (journal)
			log_journal_send(prio[lvl], msg);
		else
			fprintf(stderr, "iocsync: %s: %s\n", level_names[lvl], msg);
	}
	if (logfile != NULL && lvl <= file_level)
		file_line(lvl, msg, fields);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (lvl > stderr_level && (logfile == NULL || lvl > file_level))
		return;
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(lvl, buf, NULL);
}

static unsigned long long
jint(const json_t *o, const char *k)
{
	return (unsigned long long)json_integer_value(json_object_get(o, k));
}

void
log_run(const json_t *sum)
{
	struct strbuf sb = {0};
	const json_t *done = json_object_get(sum, "done");
	sb_addf(&sb, "%s %s in %.1f s: created %llu, updated %llu, renewed %llu, replaced %llu, deleted %llu, "
		     "failed %llu; feeds failed %llu; MDE holds %llu of iocsync's and %llu others'; calls",
		json_string_value(json_object_get(sum, "verb")), json_string_value(json_object_get(sum, "outcome")),
		json_number_value(json_object_get(sum, "seconds")), jint(done, "create"), jint(done, "update"),
		jint(done, "renew"), jint(done, "replace"), jint(done, "delete"), jint(sum, "failed"),
		jint(sum, "feeds_failed"), jint(sum, "owned"), jint(sum, "others"));
	const char *k;
	json_t *v;
	json_object_foreach(json_object_get(sum, "calls"), k, v)
		sb_addf(&sb, " %s %lld", k, (long long)json_integer_value(v));
	unsigned long long retries = 0;
	json_object_foreach(json_object_get(sum, "retries"), k, v)
		retries += (unsigned long long)json_integer_value(v);
	sb_addf(&sb, "; retries %llu; waited %.0f s", retries, json_number_value(json_object_get(sum, "waited_s")));
	json_t *fields = json_pack("{s:O}", "run", sum);
	emit(LOG_INFO, sb.buf, fields);
	json_decref(fields);
	sb_free(&sb);
}
