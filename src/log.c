#include "log.h"

#include <errno.h>
#include <fcntl.h>
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
static int logfd = -1;
static char *logpath;
static char log_trouble[200]; /* the first failed write, for the run's outcome */

void log_journal_send(int prio, const char *msg); /* log_journal.c */

static __thread const char *context; /* the tenant this thread syncs */
static bool json_lines;              /* log_format = json, for the log file */
static bool journal;                 /* stderr is systemd's journal: send it there */

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
	if (logfd >= 0) {
		close(logfd);
		logfd = -1;
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
	/* Never through a symlink (a local user's trap), never readable by
	 * others whatever the umask. */
	logfd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0640);
	if (logfd < 0)
		return ERR_IO;
	struct stat sb;
	if (fstat(logfd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
		close(logfd);
		logfd = -1;
		errno = EINVAL;
		return ERR_IO;
	}
	file_level = lvl;
	file_adopt_dir_owner(path); /* a hand run as root: still the service's log */
	return ERR_OK;
}

const char *
log_write_failed(void)
{
	return log_trouble[0] ? log_trouble : NULL;
}

/* Appends one whole line, or nothing: a write cut short (the disk is
 * full) is taken back, and the failure remembered for the run. */
static void
write_line(const char *line, size_t n)
{
	struct stat sb;
	off_t before = fstat(logfd, &sb) == 0 ? sb.st_size : -1;
	ssize_t w = write(logfd, line, n);
	if (w == (ssize_t)n)
		return;
	int e = w < 0 ? errno : ENOSPC;
	if (w > 0 && before >= 0 && ftruncate(logfd, before) != 0)
		e = errno;
	if (log_trouble[0] == '\0') {
		snprintf(log_trouble, sizeof(log_trouble), "the log file %s cannot be written: %s%s", logpath,
			 strerror(e), e == ENOSPC || e == EDQUOT ? " (the disk is full)" : "");
		fprintf(stderr, "iocsync: error: %s\n", log_trouble);
	}
}

/* The message as a line may hold it: control bytes (ESC, BEL, a C1
 * control) and bytes that are not UTF-8 become \xNN, so that text
 * quoted from a feed or from MDE cannot drive a terminal or forge a
 * line. */
static void
printable(const char *in, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	const unsigned char *p = (const unsigned char *)in;
	while (*p && o + 5 < outsz) {
		size_t n = 1;
		if (*p >= 0xc2 && *p <= 0xf4) {
			n = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : 2;
			if (!utf8_valid((const char *)p, strnlen((const char *)p, n)) ||
			    strnlen((const char *)p, n) < n || (*p == 0xc2 && p[1] < 0xa0))
				n = 0; /* invalid, or a C1 control (U+0080..U+009F) */
		} else if (*p < 0x20 || *p >= 0x7f) {
			n = 0;
		}
		if (n == 0) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[*p >> 4];
			out[o++] = hex[*p & 15];
			p++;
			continue;
		}
		if (o + n >= outsz)
			break;
		memcpy(out + o, p, n);
		o += n;
		p += n;
	}
	out[o] = '\0';
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
		char *line = xasprintf("%s %s: %s\n", ts, level_names[lvl], msg);
		write_line(line, strlen(line));
		free(line);
		return;
	}
	json_t *o = json_pack("{s:s, s:s, s:s}", "time", ts, "level", level_names[lvl], "msg", msg);
	if (context)
		json_object_set_new(o, "tenant", json_string(context));
	if (fields)
		json_object_update(o, (json_t *)fields);
	char *t = json_dumps(o, JSON_COMPACT);
	if (t) {
		char *line = xasprintf("%s\n", t);
		write_line(line, strlen(line));
		free(line);
	}
	free(t);
	json_decref(o);
}

void
log_set_context(const char *tenant)
{
	context = tenant;
}

static void
emit(enum log_level lvl, const char *raw, const json_t *fields)
{
	char with[2300], msg[4 * sizeof(with) + 8];
	if (context) {
		snprintf(with, sizeof(with), "tenant %s: %s", context, raw);
		raw = with;
	}
	printable(raw, msg, sizeof(msg));
	static const int prio[] = {3, 4, 6, 7}; /* syslog's err, warning, info, debug */
	if (lvl <= stderr_level) {
		progress_clear();
		if (journal)
			log_journal_send(prio[lvl], msg);
		else
			fprintf(stderr, "iocsync: %s: %s\n", level_names[lvl], msg);
	}
	if (logfd >= 0 && lvl <= file_level)
		file_line(lvl, msg, fields);
}

bool
log_enabled(enum log_level lvl)
{
	return lvl <= stderr_level || (logfd >= 0 && lvl <= file_level);
}

void
log_msg(enum log_level lvl, const char *fmt, ...)
{
	if (!log_enabled(lvl))
		return;
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(lvl, buf, NULL);
}

void
log_fields(enum log_level lvl, const json_t *fields, const char *fmt, ...)
{
	if (!log_enabled(lvl))
		return;
	char buf[2048];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	emit(lvl, buf, fields);
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
	sb_addf(&sb,
		"%s %s in %.1f s: created %llu, updated %llu, renewed %llu, replaced %llu, deleted %llu, "
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
