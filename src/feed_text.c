/* One entry per line: "#", ";" and "//" comments (whole-line, indented or
 * after white space), extra columns after the value ("IP<TAB>count",
 * "IP # host"), LOKI's "hash;comment". IP:port is classified later. */
#include <stdint.h>
#include <string.h>

#include "feed.h"
#include "limits.h"
#include "util.h"

enum { T_BLANK = 1, T_NUL = 2, T_COLON = 4, T_SEMI = 8 };
static const uint8_t text_class[256] = {
	[' '] = T_BLANK, ['\t'] = T_BLANK, ['\0'] = T_NUL, [':'] = T_COLON, [';'] = T_SEMI,
};

/* Where each byte of w is b: the high bit of that byte, exact for the
 * lowest such byte (above it, a borrow may mark more). */
static inline uint64_t
bytes_eq(uint64_t w, unsigned char b)
{
	const uint64_t ones = 0x0101010101010101ULL;
	uint64_t x = w ^ (ones * b);
	return (x - ones) & ~x & (ones << 7);
}

/* The text_class scan, 8 bytes at a time while 8 remain: moves *t to the
 * first blank or to where fewer than 8 bytes are left, and returns the
 * classes seen before it. A mask's lowest mark is always a real byte,
 * so a mark below the blank means one is there. */
static unsigned
scan_words(const char *s, size_t n, size_t *t)
{
	unsigned seen = 0;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		uint64_t blank = bytes_eq(w, ' ') | bytes_eq(w, '\t'), nul = bytes_eq(w, '\0'),
			 colon = bytes_eq(w, ':'), semi = bytes_eq(w, ';');
		if (blank) {
			uint64_t below = (blank & -blank) - 1; /* the bytes before the first blank */
			nul &= below, colon &= below, semi &= below;
		}
		seen |= (nul ? T_NUL : 0) | (colon ? T_COLON : 0) | (semi ? T_SEMI : 0);
		if (blank) {
			*t = i + (size_t)__builtin_ctzll(blank) / 8;
			return seen;
		}
	}
	*t = i;
#else
	(void)s, (void)n, (void)t;
#endif
	return seen;
}

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
		/* One look at each byte up to the first blank (the value's
		 * end), for a NUL, ':' and ';'. */
		size_t t = 0;
		unsigned seen = scan_words(s, n, &t), c;
		for (; t < n && !((c = text_class[(unsigned char)s[t]]) & T_BLANK); t++)
			seen |= c;
		if (n > LIMIT_LINE_BYTES || (seen & T_NUL) || (t < n && memchr(s + t, '\0', n - t))) {
			feed_line_bad(k, l.no, s, n);
			continue;
		}
		/* "hash;comment" (LOKI): cut at ";" unless a URL,
		 * whose query may hold either. */
		if ((seen & T_SEMI) && !((seen & T_COLON) && memmem(s, t, "://", 3)))
			t = (size_t)((const char *)memchr(s, ';', t) - s);
		struct feed_entry e = {.value = s, .len = t, .line = l.no};
		k->entry(k->ctx, &e);
	}
	feed_lines_done(&l, k);
	return ERR_OK;
}
