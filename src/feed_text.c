/* One entry per line: "#", ";" and "//" comments (whole-line, indented or
 * after white space), extra columns after the value ("IP<TAB>count",
 * "IP # host"), LOKI's "hash;comment". IP:port is classified later. */
#include <string.h>

#include "feed.h"
#include "util.h"

static bool
is_comment(const char *s, size_t n)
{
	return n > 0 && (s[0] == '#' || s[0] == ';' || s[0] == '!' || (n > 1 && s[0] == '/' && s[1] == '/'));
}

enum err
feed_text_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k,
		char *why, size_t whysz)
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
		if (feed_line_bad(k, l.no, s, n))
			continue;
		size_t t = 0;
		while (t < n && s[t] != ' ' && s[t] != '\t')
			t++;
		/* "hash;comment" (LOKI): cut at ";" unless a URL,
		 * whose query may hold either. */
		if (memchr(s, ':', t) == NULL || memmem(s, t, "://", 3) == NULL) {
			const char *c = memchr(s, ';', t);
			if (c)
				t = (size_t)(c - s);
		}
		struct feed_entry e = {.value = s, .len = t, .line = l.no};
		k->entry(k->ctx, &e);
	}
	feed_lines_done(&l, k);
	return ERR_OK;
}
