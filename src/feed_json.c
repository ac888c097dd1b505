/* What the JSON feeds (STIX, MISP) share: strict loading, and finding
 * the line of an object for diagnostics (Jansson keeps no positions). */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "feed.h"
#include "util.h"

struct json_t *
feed_json_load(const char *buf, size_t len, char *why, size_t whysz)
{
	json_error_t e;
	json_t *j = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (j == NULL)
		snprintf(why, whysz, "not valid JSON: line %d, column %d: %s", e.line, e.column, e.text);
	return j;
}

unsigned long
feed_json_line(struct json_locator *l, const char *needle)
{
	char q[256];
	int n = snprintf(q, sizeof(q), "\"%s\"", needle);
	const char *hit;

	if (n <= 2 || (size_t)n >= sizeof(q))
		return 0;
	if (l->line == 0)
		l->line = 1;
	hit = memmem(l->buf + l->off, l->len - l->off, q, (size_t)n);
	if (hit == NULL) {
		hit = memmem(l->buf, l->len, q, (size_t)n);
		if (hit == NULL)
			return 0;
		l->off = 0;
		l->line = 1;
	}
	l->line += count_newlines(l->buf + l->off, (size_t)(hit - (l->buf + l->off)));
	l->off = (size_t)(hit - l->buf);
	return l->line;
}
