/* format = auto: the format is guessed from the content, never from a
 * file name (feeds come from URLs that say nothing). */
#include <string.h>

#include "feed.h"
#include "iocsync_limits.h"
#include "util.h"

static enum feed_format
sniff_json(const char *s, size_t n)
{
	/* Key names near the top tell STIX from MISP. */
	if (memmem(s, n, "\"Event\"", 7) || memmem(s, n, "\"Attribute\"", 11) || memmem(s, n, "\"response\"", 10))
		return FEED_MISP;
	return FEED_STIX;
}

static bool
looks_addr(const char *s, size_t n)
{
	size_t dots = 0, colons = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (s[i] == ':')
			colons++;
		else if (s[i] == '/')
			break;
		else if (!is_xdigit((unsigned char)s[i]))
			return false;
	}
	return dots == 3 || colons >= 2;
}

enum feed_format
feed_sniff(const char *buf, size_t len)
{
	struct feed_lines l;
	const char *s;
	size_t n, lines = 0, hosts = 0, cidr = 0, semi = 0, quoted = 0, words = 0, addrs = 0;
	size_t delims = 0, ranges = 0, markup = 0;
	size_t i = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && is_space((unsigned char)buf[i]))
		i++;
	if (i < len && (buf[i] == '{' || buf[i] == '['))
		return sniff_json(buf + i, len - i < LIMIT_SNIFF_BYTES ? len - i : LIMIT_SNIFF_BYTES);
	feed_lines_init(&l, buf, len < LIMIT_SNIFF_BYTES ? len : LIMIT_SNIFF_BYTES);
	while (lines < LIMIT_SNIFF_LINES && feed_lines_next(&l, &s, &n)) {
		while (n > 0 && is_space((unsigned char)*s)) {
			s++;
			n--;
		}
		if (n == 0 || *s == '#' || (*s == ';' && n > 1 && s[1] == ' '))
			continue;
		lines++;
		size_t t = 0;
		while (t < n && !is_space((unsigned char)s[t]))
			t++;
		if ((t == 7 && memcmp(s, "0.0.0.0", 7) == 0) || (t == 9 && memcmp(s, "127.0.0.1", 9) == 0) ||
		    (t == 3 && memcmp(s, "::1", 3) == 0))
			hosts += t < n;
		if (looks_addr(s, t)) {
			addrs++;
			if (memchr(s, '/', t))
				cidr++;
			if (memchr(s + t, ';', n - t))
				semi++;
		}
		if (*s == '"')
			quoted++;
		/* AsciiDoc and Markdown: a report, not a list. */
		if (has_iprefix(s, n, "= ") || has_iprefix(s, n, "== ") || has_iprefix(s, n, ":toc") ||
		    has_iprefix(s, n, "|===") || has_iprefix(s, n, "```"))
			markup++;
		/* DShield block.txt: "start<TAB>end<TAB>bits<TAB>..." */
		if (looks_addr(s, t) && t < n) {
			size_t u = t + 1, v;
			while (u < n && is_space((unsigned char)s[u]))
				u++;
			v = u;
			while (v < n && !is_space((unsigned char)s[v]))
				v++;
			if (v > u && looks_addr(s + u, v - u))
				ranges++;
		}
		size_t d = 0, sp = 0;
		for (size_t k = 0; k < n; k++) {
			d += s[k] == ',' || s[k] == '\t';
			sp += s[k] == ' ';
		}
		if (d > 0 && !(addrs && t == n))
			delims++;
		if (sp >= 6)
			words++;
	}
	if (lines == 0)
		return FEED_TEXT;
	if (hosts * 2 > lines)
		return FEED_HOSTS;
	if (addrs * 10 >= lines * 9 && (cidr > 0 || semi > 0 || ranges * 2 > lines))
		return FEED_NETSET;
	if (markup > 0)
		return FEED_REPORT;
	if ((delims * 10 >= lines * 9 && lines >= 2) || quoted * 2 > lines)
		return FEED_CSV;
	if (words * 4 > lines)
		return FEED_REPORT;
	return FEED_TEXT;
}
