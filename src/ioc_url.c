/*
 * URLs: http and https only; scheme and host lower case (the host as a
 * domain, an IPv4 address or an IPv6 literal in canonical form), the
 * scheme's own port dropped, user, path and query kept byte for byte,
 * the fragment dropped.
 */
#include "ioc_int.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/* Appends n bytes of s to the value at *o, or says the URL is too long:
 * every part goes through here, so the value can never pass its limit,
 * whatever a part grows to (the host in punycode, IPv6 written out). */
static bool
url_put(char *v, size_t *o, const char *s, size_t n)
{
	if (*o + n > LIMIT_VALUE_BYTES)
		return false;
	memcpy(v + *o, s, n);
	*o += n;
	return true;
}

/* A user name or a path and query, kept byte for byte: no space nor
 * control byte, valid UTF-8. */
static enum ioc_reason
url_verbatim(const char *s, size_t n, const char *what, char *why, size_t whysz)
{
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c <= 0x20 || c == 0x7f) {
			set_why(why, whysz, "space or control character in URL");
			return REJ_BAD_URL;
		}
	}
	if (!utf8_valid(s, n)) {
		set_why(why, whysz, "URL %s is not valid UTF-8", what);
		return REJ_BAD_UTF8;
	}
	return REJ_OK;
}

/* The scheme before s's first ':' (which classify found): true for
 * http and https, with *https set; false with why filled. */
static enum ioc_reason
url_scheme(const char *s, size_t sl, bool *https, char *why, size_t whysz)
{
	for (size_t i = 0; i < sl; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!is_alnum(c) && c != '+' && c != '-' && c != '.') {
			set_why(why, whysz, "bad URL scheme");
			return REJ_BAD_URL;
		}
	}
	if (!((sl == 4 && mem_ieq(s, "http", 4)) || (sl == 5 && mem_ieq(s, "https", 5)))) {
		set_why(why, whysz, "scheme '%.*s' is not http or https", (int)(sl > 16 ? 16 : sl), s);
		return REJ_URL_SCHEME;
	}
	*https = sl == 5;
	return REJ_OK;
}

/* The authority [hs, ae) split into the host [hs, *he) and the port
 * after ':' (*port, NULL when there is none). */
static enum ioc_reason
url_host_port(const char *hs, const char *ae, const char **he, const char **port, char *why, size_t whysz)
{
	*he = ae;
	*port = NULL;
	if (hs < ae && *hs == '[') {
		const char *rb = memchr(hs, ']', (size_t)(ae - hs));
		if (rb == NULL) {
			set_why(why, whysz, "unclosed '[' in host");
			return REJ_BAD_URL;
		}
		*he = rb + 1;
		if (*he < ae) {
			if (**he != ':') {
				set_why(why, whysz, "junk after IPv6 host");
				return REJ_BAD_URL;
			}
			*port = *he + 1;
		}
	} else {
		for (const char *q = hs; q < ae; q++)
			if (*q == ':') {
				*he = q;
				*port = q + 1;
				break;
			}
	}
	if (*he == hs) {
		set_why(why, whysz, "URL without a host");
		return REJ_BAD_URL;
	}
	return REJ_OK;
}

/* The host [hs, he) in canonical form into out's value at *o: an IPv6
 * literal written out in brackets, an IPv4 address, or a domain. */
static enum ioc_reason
url_host(const char *hs, const char *he, struct ioc *out, size_t *o, char *why, size_t whysz)
{
	char t[LIMIT_DOMAIN_BYTES + 3];
	size_t tn;
	if (*hs == '[') {
		unsigned char a[16];
		if (!ioc_ip6_parse(hs + 1, (size_t)(he - hs - 2), a)) {
			set_why(why, whysz, "bad IPv6 literal in URL host");
			return REJ_BAD_URL;
		}
		out->family = AF_INET6;
		memcpy(out->addr, a, 16);
		t[0] = '[';
		tn = 1 + ioc_addr_format(AF_INET6, a, t + 1);
		t[tn++] = ']';
	} else if (ioc_looks_ipv4(hs, (size_t)(he - hs))) {
		unsigned char a[4];
		bool lz;
		if (!ioc_ip4_parse(hs, (size_t)(he - hs), a, &lz) || lz) {
			set_why(why, whysz, "bad IPv4 address in URL host");
			return REJ_BAD_URL;
		}
		out->family = AF_INET;
		memcpy(out->addr, a, 4);
		tn = ioc_addr_format(AF_INET, a, t);
	} else {
		enum ioc_reason r = ioc_domain_canon(hs, (size_t)(he - hs), t, &tn, why, whysz);
		if (r != REJ_OK)
			return r == REJ_BAD_UTF8 ? r : REJ_BAD_URL;
		out->family = 0;
	}
	return url_put(out->value, o, t, tn) ? REJ_OK : REJ_TOO_LONG;
}

/* The port [port, ae) into out's value at *o, unless it is the scheme's
 * own (an empty port is none). */
static enum ioc_reason
url_port(const char *port, const char *ae, bool https, struct ioc *out, size_t *o, char *why, size_t whysz)
{
	char num[8];
	long long pv;
	size_t pn = (size_t)(ae - port);
	if (pn == 0)
		return REJ_OK;
	if (pn >= sizeof(num)) {
		set_why(why, whysz, "bad port");
		return REJ_BAD_URL;
	}
	memcpy(num, port, pn);
	num[pn] = '\0';
	if (num_parse(num, 1, 65535, &pv, NULL) != ERR_OK) {
		set_why(why, whysz, "bad port '%s'", num);
		return REJ_BAD_URL;
	}
	char t[8];
	if (pv != (https ? 443 : 80) && !url_put(out->value, o, t, (size_t)snprintf(t, sizeof(t), ":%lld", pv)))
		return REJ_TOO_LONG;
	return REJ_OK;
}

enum ioc_reason
ioc_parse_url(const char *s, size_t n, struct ioc *out, char *why, size_t whysz)
{
	const char *colon = memchr(s, ':', n);
	char *v = out->value;
	size_t o = 0;
	bool https = false;
	enum ioc_reason r = url_scheme(s, (size_t)(colon - s), &https, why, whysz);
	if (r != REJ_OK)
		return r;
	const char *p = colon + 3, *e = s + n;
	/* Authority ends at the first '/', '?' or '#'. */
	const char *ae = p;
	while (ae < e && *ae != '/' && *ae != '?' && *ae != '#')
		ae++;
	const char *hs = p, *he, *port;
	for (const char *q = p; q < ae; q++)
		if (*q == '@')
			hs = q + 1;
	url_put(v, &o, https ? "https://" : "http://", https ? 8 : 7);
	/* userinfo: kept as given, it is part of what is matched */
	if (hs > p && (r = url_verbatim(p, (size_t)(hs - p), "user name", why, whysz)) != REJ_OK)
		return r;
	if (!url_put(v, &o, p, (size_t)(hs - p)))
		goto too_long;
	if ((r = url_host_port(hs, ae, &he, &port, why, whysz)) != REJ_OK)
		return r;
	out->host_off = o;
	if ((r = url_host(hs, he, out, &o, why, whysz)) != REJ_OK)
		goto failed;
	out->host_len = o - out->host_off;
	if (port != NULL && (r = url_port(port, ae, https, out, &o, why, whysz)) != REJ_OK)
		goto failed;
	/* Path and query byte for byte; the fragment never reaches a server. */
	const char *fe = memchr(ae, '#', (size_t)(e - ae));
	if (fe == NULL)
		fe = e;
	if ((r = url_verbatim(ae, (size_t)(fe - ae), "path", why, whysz)) != REJ_OK)
		return r;
	if (!url_put(v, &o, ae, (size_t)(fe - ae)))
		goto too_long;
	v[o] = '\0';
	out->len = o;
	out->type = IOC_URL;
	return REJ_OK;
failed:
	if (r != REJ_TOO_LONG)
		return r;
too_long:
	set_why(why, whysz, "URL longer than %d bytes", LIMIT_VALUE_BYTES);
	return REJ_TOO_LONG;
}
