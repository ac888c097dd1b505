#include "feed.h"

#include <stdio.h>
#include <string.h>

#include "iocsync_limits.h"
#include "util.h"

static const struct {
	const char *name;
	feed_parse_fn parse;
} formats[] = {
	[FEED_AUTO] = {"auto", NULL},
	[FEED_TEXT] = {"text", feed_text_parse},
	[FEED_HOSTS] = {"hosts", feed_hosts_parse},
	[FEED_NETSET] = {"netset", feed_netset_parse},
	[FEED_CSV] = {"csv", feed_csv_parse},
	[FEED_STIX] = {"stix", feed_stix_parse},
	[FEED_MISP] = {"misp", feed_misp_parse},
	[FEED_REPORT] = {"report", feed_report_parse},
	[FEED_TAXII] = {"taxii", feed_stix_parse},
};
_Static_assert(NELEM(formats) == FEED_FORMAT_COUNT, "feed format table");

const char *
feed_format_name(enum feed_format f)
{
	return (unsigned)f < FEED_FORMAT_COUNT ? formats[f].name : "?";
}

int
feed_format_parse(const char *s)
{
	for (int i = 0; i < FEED_FORMAT_COUNT; i++)
		if (strcasecmp(s, formats[i].name) == 0)
			return i;
	return -1;
}

enum err
feed_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *sink, enum feed_format *used,
	   char *why, size_t whysz)
{
	enum feed_format f = o->format;
	if ((unsigned)f >= FEED_FORMAT_COUNT)
		f = FEED_AUTO;
	if (f == FEED_AUTO)
		f = feed_sniff(buf, len);
	if (used)
		*used = f;
	if (why && whysz)
		why[0] = '\0';
	return formats[f].parse(buf, len, o, sink, why, whysz);
}

void
feed_lines_init(struct feed_lines *l, const char *buf, size_t len)
{
	l->p = buf;
	l->end = buf + len;
	l->no = 0;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		l->p += 3;
}

bool
feed_lines_next(struct feed_lines *l, const char **s, size_t *n)
{
	const char *p = l->p, *nl, *e;
	if (p >= l->end)
		return false;
	nl = memchr(p, '\n', (size_t)(l->end - p));
	e = nl ? nl : l->end;
	l->p = nl ? nl + 1 : l->end;
	l->no++;
	while (e > p && (e[-1] == '\r' || e[-1] == ' ' || e[-1] == '\t'))
		e--;
	*s = p;
	*n = (size_t)(e - p);
	return true;
}

void
feed_lines_done(const struct feed_lines *l, const struct feed_sink *k)
{
	if (k->lines)
		k->lines(k->ctx, l->no);
}

bool
feed_line_bad(const struct feed_sink *k, unsigned long no, const char *s, size_t n)
{
	if (n > LIMIT_LINE_BYTES) {
		char why[96];
		snprintf(why, sizeof(why), "line longer than %d bytes", LIMIT_LINE_BYTES);
		k->reject(k->ctx, no, REJ_LINE_TOO_LONG, why, s, n);
		return true;
	}
	if (memchr(s, '\0', n)) {
		k->reject(k->ctx, no, REJ_BINARY, "line contains a NUL byte (binary data)", s, n);
		return true;
	}
	return false;
}

bool
feed_looks_binary(const char *buf, size_t len, size_t *at)
{
	const char *z = memchr(buf, '\0', len < LIMIT_SNIFF_HEAD_BYTES ? len : LIMIT_SNIFF_HEAD_BYTES);
	if (z && at)
		*at = (size_t)(z - buf);
	return z != NULL;
}

bool
feed_looks_html(const char *buf, size_t len)
{
	size_t i = 0;
	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && is_space((unsigned char)buf[i]))
		i++;
	return has_iprefix(buf + i, len - i, "<!doctype html") || has_iprefix(buf + i, len - i, "<html") ||
		has_iprefix(buf + i, len - i, "<head") || has_iprefix(buf + i, len - i, "<body") ||
		(has_iprefix(buf + i, len - i, "<?xml") &&
		 memmem(buf, len < LIMIT_SNIFF_HEAD_BYTES ? len : LIMIT_SNIFF_HEAD_BYTES, "<html", 5));
}
