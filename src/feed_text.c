/* One entry per line: "#", ";" and "//" comments (whole-line, indented or
 * after white space), extra columns after the value ("IP<TAB>count",
 * "IP # host"), LOKI's "hash;comment". IP:port is classified later. */
#include <stdint.h>
#include <string.h>

#include "feed.h"
#include "iocsync_limits.h"
#include "util.h"

enum {
	T_BLANK = 1,
	T_NUL = 2,
	T_COLON = 4,
	T_SEMI = 8
};
static const uint8_t text_class[256] = {
	[' '] = T_BLANK, ['\t'] = T_BLANK, ['\0'] = T_NUL, [':'] = T_COLON, [';'] = T_SEMI,
};

static bool
is_comment(const char *s, size_t n)
{
	return n > 0 && (s[0] == '#' || s[0] == ';' || s[0] == '!' || (n > 1 && s[0] == '/' && s[1] == '/'));
}

/* "VALUE # comment", "VALUE // comment", "VALUE ; comment" (LOKI's
 * "hash;comment" too): the comment after its marker, for {comment}.
 * Other columns ("IP<TAB>count") are not a comment. */
static void
inline_comment(const char *s, size_t n, struct feed_entry *e)
{
	while (n > 0 && (*s == ' ' || *s == '\t'))
		s++, n--;
	size_t m = n >= 2 && s[0] == '/' && s[1] == '/' ? 2 : n >= 1 && (s[0] == '#' || s[0] == ';') ? 1 : 0;
	if (m == 0)
		return;
	e->comment = s + m;
	e->comment_len = n - m;
}

enum err
feed_text_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
		size_t whysz)
{
	struct feed_lines l;
	const char *s;
	size_t n;

	(void)o;
	(void)why;
	(void)whysz;
	feed_lines_init(&l, buf, len);
	while (feed_lines_next(&l, &s, &n)) {
		while (n > 0 && (*s == ' ' || *s == '\t')) {
			s++;
			n--;
		}
		if (n == 0 || is_comment(s, n))
			continue;
		/* One look at each byte up to the first blank (the value's
		 * end), for a NUL, ':' and ';'. */
		const unsigned char *u = (const unsigned char *)s;
		size_t t = 0;
		unsigned seen = 0, c;
		for (; t + 8 <= n; t += 8) { /* eight bytes a turn up to the blank's */
			c = text_class[u[t]] | text_class[u[t + 1]] | text_class[u[t + 2]] | text_class[u[t + 3]] |
				text_class[u[t + 4]] | text_class[u[t + 5]] | text_class[u[t + 6]] |
				text_class[u[t + 7]];
			if (c & T_BLANK)
				break;
			seen |= c;
		}
		for (; t < n && !((c = text_class[u[t]]) & T_BLANK); t++)
			seen |= c;
		/* The scan saw what feed_line_bad looks for; it gives the verdict. */
		if ((n > LIMIT_LINE_BYTES || (seen & T_NUL) || (t < n && memchr(s + t, '\0', n - t))) &&
		    feed_line_bad(k, l.no, s, n))
			continue;
		/* "hash;comment" (LOKI): cut at ";" unless a URL,
		 * whose query may hold either. */
		size_t rest = t; /* where a comment may start */
		if ((seen & T_SEMI) && !((seen & T_COLON) && memmem(s, t, "://", 3))) {
			t = (size_t)((const char *)memchr(s, ';', t) - s);
			rest = t;
		}
		struct feed_entry e = {.value = s, .len = t, .line = l.no};
		inline_comment(s + rest, n - rest, &e);
		k->entry(k->ctx, &e);
	}
	feed_lines_done(&l, k);
	return ERR_OK;
}
