#include "util.h"
#include "iocsync_limits.h"

#define LIMIT_ECHO_BYTES_INTERNAL (LIMIT_ECHO_BYTES * 4)

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

static void
oom(size_t n)
{
	fprintf(stderr, "iocsync: out of memory allocating %zu bytes\n", n);
	abort();
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void *
xcalloc(size_t nmemb, size_t size)
{
	void *p = calloc(nmemb ? nmemb : 1, size ? size : 1);
	if (p == NULL)
		oom(nmemb * size);
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	p = realloc(p, n ? n : 1);
	if (p == NULL)
		oom(n);
	return p;
}

void
xgrow_realloc(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap ? *cap : 16;
	while (c < need) {
		if (c > SIZE_MAX / 2 / sz)
			oom(SIZE_MAX);
		c *= 2;
	}
	*p = xrealloc(*p, c * sz);
	*cap = c;
}

#define BIG_ALIGN ((size_t)2 << 20)

/* Below 1 MiB the memory is plain heap (small merges, tests, fuzzing: no
 * 2 MiB page to zero per run); from there on it is mapped in multiples of
 * 2 MiB, so a mapped array's cap * sz never falls back below 1 MiB. */
static bool
big_is_mapped(size_t bytes)
{
	return bytes >= BIG_ALIGN / 2;
}

void
big_grow_map(void **p, size_t *cap, size_t need, size_t sz)
{
	size_t c = *cap ? *cap : (4096 + sz - 1) / sz;
	while (c < need) {
		if (c > SIZE_MAX / 4 / sz)
			oom(SIZE_MAX);
		c *= 2;
	}
	size_t old = *cap * sz, bytes = c * sz;
	void *q;
	if (!big_is_mapped(bytes)) {
		q = xrealloc(*p, bytes);
		memset((char *)q + old, 0, bytes - old);
	} else {
		size_t mold = (old + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1);
		bytes = (bytes + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1);
		if (*p && big_is_mapped(old)) {
			q = mremap(*p, mold, bytes, MREMAP_MAYMOVE);
		} else {
			q = mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (q != MAP_FAILED && *p) {
				memcpy(q, *p, old);
				free(*p);
			}
		}
		if (q == MAP_FAILED)
			oom(bytes);
		(void)madvise(q, bytes, MADV_HUGEPAGE); /* advice only: fine if refused */
	}
	*p = q;
	*cap = bytes / sz;
}

void
big_free(void *p, size_t bytes)
{
	if (p == NULL)
		return;
	if (big_is_mapped(bytes))
		munmap(p, (bytes + BIG_ALIGN - 1) & ~(BIG_ALIGN - 1));
	else
		free(p);
}

char *
xstrdup(const char *s)
{
	return xstrndup(s, strlen(s));
}

char *
xstrndup(const char *s, size_t n)
{
	char *p = xmalloc(n + 1);
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

char *
xasprintf(const char *fmt, ...)
{
	va_list ap;
	char *p;
	va_start(ap, fmt);
	if (vasprintf(&p, fmt, ap) < 0)
		oom(0);
	va_end(ap);
	return p;
}

void
sb_reserve(struct strbuf *sb, size_t n)
{
	xgrow((void **)&sb->buf, &sb->cap, n + 1, 1);
}

void
sb_add(struct strbuf *sb, const void *p, size_t n)
{
	xgrow((void **)&sb->buf, &sb->cap, sb->len + n + 1, 1);
	memcpy(sb->buf + sb->len, p, n);
	sb->len += n;
	sb->buf[sb->len] = '\0';
}

void
sb_adds(struct strbuf *sb, const char *s)
{
	sb_add(sb, s, strlen(s));
}

void
sb_json_str(struct strbuf *sb, const char *s, size_t n)
{
	sb_addc(sb, '"');
	size_t run = 0; /* bytes written as they are, not yet added */
	for (size_t i = 0; i < n; i++) {
		unsigned char ch = (unsigned char)s[i];
		if (ch >= 0x20 && ch != '"' && ch != '\\') {
			run++;
			continue;
		}
		sb_add(sb, s + i - run, run);
		run = 0;
		switch (ch) {
		case '"': sb_add(sb, "\\\"", 2); break;
		case '\\': sb_add(sb, "\\\\", 2); break;
		case '\b': sb_add(sb, "\\b", 2); break;
		case '\f': sb_add(sb, "\\f", 2); break;
		case '\n': sb_add(sb, "\\n", 2); break;
		case '\r': sb_add(sb, "\\r", 2); break;
		case '\t': sb_add(sb, "\\t", 2); break;
		default: sb_addf(sb, "\\u%04X", ch); break;
		}
	}
	sb_add(sb, s + n - run, run);
	sb_addc(sb, '"');
}

int
sb_json_cb(const char *p, size_t n, void *sb)
{
	sb_add(sb, p, n);
	return 0;
}

void
sb_addc(struct strbuf *sb, char c)
{
	sb_add(sb, &c, 1);
}

void
sb_add_int(struct strbuf *sb, long long v)
{
	char d[24];
	size_t n = sizeof(d);
	unsigned long long u = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
	do
		d[--n] = (char)('0' + u % 10);
	while ((u /= 10) != 0);
	if (v < 0)
		d[--n] = '-';
	sb_add(sb, d + n, sizeof(d) - n);
}

void
sb_addf(struct strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	xgrow((void **)&sb->buf, &sb->cap, sb->len + (size_t)n + 1, 1);
	va_start(ap, fmt);
	vsnprintf(sb->buf + sb->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
}

void
sb_free(struct strbuf *sb)
{
	free(sb->buf);
	sb->buf = NULL;
	sb->len = sb->cap = 0;
}

enum err
num_parse(const char *s, long long min, long long max, long long *out, const char **why)
{
	char *end;
	long long v;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (s == NULL || *s == '\0' || is_space((unsigned char)*s)) {
		*why = "not a number";
		return ERR_PARSE;
	}
	errno = 0;
	v = strtoll(s, &end, 10);
	if (*end != '\0') {
		*why = "not a number";
		return ERR_PARSE;
	}
	if (errno == ERANGE || v < min) {
		*why = v < 0 || errno == ERANGE ? "too small" : "too small";
		if (errno == ERANGE && v > 0)
			*why = "too large";
		return ERR_PARSE;
	}
	if (v > max) {
		*why = "too large";
		return ERR_PARSE;
	}
	*out = v;
	return ERR_OK;
}

enum err
duration_parse(const char *s, long long *out_s, const char **why)
{
	char num[32];
	size_t n = s ? strlen(s) : 0;
	long long mult = 1, v;
	const char *dummy;

	if (why == NULL)
		why = &dummy;
	if (n == 0 || n >= sizeof(num)) {
		*why = "not a duration";
		return ERR_PARSE;
	}
	memcpy(num, s, n + 1);
	switch (num[n - 1]) {
	case 's': mult = 1; break;
	case 'm': mult = 60; break;
	case 'h': mult = 3600; break;
	case 'd': mult = 86400; break;
	case 'w': mult = 7 * 86400; break;
	default: mult = 0; break;
	}
	if (mult != 0)
		num[n - 1] = '\0';
	else
		mult = 1;
	if (num_parse(num, 0, LLONG_MAX / (7 * 86400), &v, why) != ERR_OK) {
		*why = "not a duration (use a number and s, m, h, d or w, e.g. 30d)";
		return ERR_PARSE;
	}
	*out_s = v * mult;
	return ERR_OK;
}

enum err
bool_parse(const char *s, bool *out)
{
	static const char *const yes[] = {"yes", "true", "on", "1"};
	static const char *const no[] = {"no", "false", "off", "0"};
	for (size_t i = 0; i < NELEM(yes); i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return ERR_OK;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return ERR_OK;
		}
	}
	return ERR_PARSE;
}

char *
echo_str(const char *s, size_t len, char *out, size_t outsz)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, i;
	size_t cap = outsz > 4 ? outsz - 4 : 0; /* room for "..." and NUL */

	for (i = 0; i < len && o < LIMIT_ECHO_BYTES_INTERNAL; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c < 0x7f && c != '\\') {
			if (o + 1 > cap)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 > cap)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (i < len && outsz >= 4) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	if (outsz > 0)
		out[o < outsz ? o : outsz - 1] = '\0';
	return out;
}

uint64_t
hash_bytes(const void *p, size_t n, uint64_t seed)
{
	/* A multiply-xorshift over 8-byte words; good spread, fast. */
	const unsigned char *s = p;
	const size_t total = n;
	uint64_t h = seed ^ (n * 0x9e3779b97f4a7c15ULL);
	while (n >= 8) {
		uint64_t w;
		memcpy(&w, s, 8);
		h ^= w * 0xbf58476d1ce4e5b9ULL;
		h = (h << 27 | h >> 37) * 0x94d049bb133111ebULL;
		s += 8;
		n -= 8;
	}
	if (n > 0) {
		/* The tail: one 8-byte load ending at the last byte where the
		 * value is that long (no variable-length memcpy call). */
		uint64_t w = 0;
		if (total >= 8) {
			memcpy(&w, s + n - 8, 8);
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
			w >>= 8 * (8 - n); /* the tail is the high bytes */
#else
			w &= ~0ULL >> 8 * (8 - n); /* the tail is the low bytes */
#endif
		} else {
			for (size_t i = 0; i < n; i++)
				w |= (uint64_t)s[i] << (8 * i);
		}
		h ^= w * 0xbf58476d1ce4e5b9ULL;
		h = (h << 27 | h >> 37) * 0x94d049bb133111ebULL;
	}
	h ^= h >> 31;
	h *= 0xd6e8feb86659fd93ULL;
	h ^= h >> 32;
	return h;
}

unsigned long
count_newlines(const char *s, size_t n)
{
	const uint64_t ones = 0x0101010101010101ULL, high = 0x8080808080808080ULL;
	unsigned long count = 0;
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		w ^= ones * '\n';
		/* A zero byte of w is a newline: its high bit survives here,
		 * and no other byte's does (exact, unlike the quick test). */
		uint64_t z = ~(((w & ~high) + ~high) | w) & high;
		count += (unsigned long)(((z >> 7) * ones) >> 56); /* the bytes' sum */
	}
	for (; i < n; i++)
		count += s[i] == '\n';
	return count;
}

bool
mem_ieq(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (lc((unsigned char)a[i]) != lc((unsigned char)b[i]))
			return false;
	return true;
}

bool
has_iprefix(const char *s, size_t len, const char *p)
{
	size_t n = strlen(p);
	return len >= n && mem_ieq(s, p, n);
}

bool
utf8_valid(const char *str, size_t len)
{
	const unsigned char *s = (const unsigned char *)str, *e = s + len;
	while (s < e) {
		unsigned c = *s;
		size_t n;
		unsigned cp;
		if (c < 0x80) {
			/* ASCII, most text: eight bytes at a time. */
			for (s++; e - s >= 8; s += 8) {
				uint64_t w;
				memcpy(&w, s, 8);
				if (w & 0x8080808080808080ULL)
					break;
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			n = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if ((size_t)(e - s) <= n)
			return false;
		for (size_t i = 1; i <= n; i++) {
			if ((s[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i] & 0x3f);
		}
		if ((n == 2 && cp < 0x800) || (n == 3 && (cp < 0x10000 || cp > 0x10ffff)) ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		s += n + 1;
	}
	return true;
}

void
set_why(char *why, size_t whysz, const char *fmt, ...)
{
	va_list ap;
	if (why == NULL || whysz == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(why, whysz, fmt, ap);
	va_end(ap);
}

/* Reads a secret or key file that only its owner may read. */

void
csv_cell(FILE *fp, const char *s, bool always_quote)
{
	if (s == NULL)
		s = "";
	/* A spreadsheet takes a cell that starts with one of these for a
	 * formula (CSV injection): a feed's title can carry one. */
	bool formula = strchr("=+-@\t\r", s[0]) != NULL && s[0] != '\0';
	if (!always_quote && !formula && strpbrk(s, ",\"\r\n") == NULL) {
		fputs(s, fp);
		return;
	}
	fputc('"', fp);
	if (formula)
		fputc('\'', fp);
	for (; *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

void
format_time(long long t, char *buf, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

bool
is_guid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++)
		if ((i == 8 || i == 13 || i == 18 || i == 23) ? s[i] != '-' : !is_xdigit((unsigned char)s[i]))
			return false;
	return true;
}
