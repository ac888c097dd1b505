#include "policy_int.h"

#include <string.h>

#include "util.h"

static int
hexval(char c)
{
	return c <= '9' ? c - '0' : (c | 32) - 'a' + 10;
}

/*
 * A URL as it is compared with allowlisted prefixes: percent-encoded
 * unreserved characters decoded (%2e is '.'), runs of '/' made one, and
 * the dot segments removed (RFC 3986 sections 6.2.2.2, 5.2.4), so that
 * http://h/a/./b, http://h/a//b and http://h/a/%2e/b all meet the entry
 * http://h/a/b. Query and fragment stay as they are.
 */
size_t
policy_url_normal(const char *u, size_t n, char *out, size_t outsz)
{
	const char *host = memmem(u, n, "://", 3);
	size_t start = host ? (size_t)(host - u) + 3 : 0, o = 0;
	while (start < n && u[start] != '/' && u[start] != '?' && u[start] != '#')
		start++;
	if (start + 1 > outsz)
		return 0;
	memcpy(out, u, start);
	o = start;
	size_t seg = o; /* where the current segment starts in out */
	for (size_t i = start; i < n && o + 4 < outsz; i++) {
		char c = u[i];
		if (c == '?' || c == '#') {
			size_t rest = n - i < outsz - o - 1 ? n - i : outsz - o - 1;
			memcpy(out + o, u + i, rest);
			o += rest;
			break;
		}
		if (c == '%' && i + 2 < n && is_xdigit((unsigned char)u[i + 1]) && is_xdigit((unsigned char)u[i + 2])) {
			int v = hexval(u[i + 1]) * 16 + hexval(u[i + 2]);
			if (is_alnum((unsigned char)v) || v == '-' || v == '.' || v == '_' || v == '~') {
				c = (char)v;
				i += 2;
			}
		}
		if (c == '/') {
			if (o > start && out[o - 1] == '/')
				continue; /* "//" */
			/* The segment just ended: "." goes, ".." takes its parent too. */
			size_t len = o - seg;
			if (len == 1 && out[seg] == '.') {
				o = seg;
				continue;
			}
			if (len == 2 && out[seg] == '.' && out[seg + 1] == '.') {
				o = seg > start + 1 ? seg - 1 : start + 1;
				while (o > start + 1 && out[o - 1] != '/')
					o--;
				seg = o;
				continue;
			}
			out[o++] = '/';
			seg = o;
			continue;
		}
		out[o++] = c;
	}
	out[o] = '\0';
	return o;
}
