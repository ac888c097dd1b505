#include "ioc.h"
#include "ioc_int.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

/*
 * What one pass over a value learns for classify: the OR of the classes
 * of its bytes. Most values take one look at each byte, then one parser.
 */
enum {
	C_NUL = 1 << 0,
	C_MARK = 1 << 1,   /* [ ( { or a backslash: defanging may be present */
	C_NONHEX = 1 << 2, /* not 0-9 a-f A-F */
	C_NONIP4 = 1 << 3, /* not 0-9 or '.' */
	C_COLON = 1 << 4,
	C_SLASH = 1 << 5,
	C_AT = 1 << 6,
	C_DOT = 1 << 7,
};
#define CLS_HEX(c) (((c) >= '0' && (c) <= '9') || ((c) >= 'a' && (c) <= 'f') || ((c) >= 'A' && (c) <= 'F'))
#define CLS(c) \
	(((c) == 0 ? C_NUL : 0) | ((c) == '[' || (c) == '(' || (c) == '{' || (c) == '\\' ? C_MARK : 0) | \
	 (CLS_HEX(c) ? 0 : C_NONHEX) | (((c) >= '0' && (c) <= '9') || (c) == '.' ? 0 : C_NONIP4) | \
	 ((c) == ':' ? C_COLON : 0) | ((c) == '/' ? C_SLASH : 0) | ((c) == '@' ? C_AT : 0) | ((c) == '.' ? C_DOT : 0))
static const uint8_t byte_class[256] = BYTE_TABLE(CLS);

static unsigned
classes(const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	unsigned c = 0, d = 0;
	size_t i = 0;
	/* Eight bytes a turn: a third of the loop's instructions. */
	for (; i + 8 <= n; i += 8) {
		c |= byte_class[u[i]] | byte_class[u[i + 1]] | byte_class[u[i + 2]] | byte_class[u[i + 3]];
		d |= byte_class[u[i + 4]] | byte_class[u[i + 5]] | byte_class[u[i + 6]] | byte_class[u[i + 7]];
	}
	for (; i < n; i++)
		c |= byte_class[u[i]];
	return c | d;
}

static const char *const type_names[] = {
	[IOC_NONE] = "",
	[IOC_IP] = "IpAddress",
	[IOC_DOMAIN] = "DomainName",
	[IOC_URL] = "Url",
	[IOC_MD5] = "FileMd5",
	[IOC_SHA1] = "FileSha1",
	[IOC_SHA256] = "FileSha256",
	[IOC_CERT] = "CertificateThumbprint",
};
_Static_assert(NELEM(type_names) == IOC_TYPE_COUNT, "type names");

static const char *const reason_codes[] = {
	[REJ_OK] = "ok",
	[REJ_EMPTY] = "empty",
	[REJ_TOO_LONG] = "too-long",
	[REJ_BAD_UTF8] = "invalid-utf8",
	[REJ_BINARY] = "binary-data",
	[REJ_NOT_INDICATOR] = "not-an-indicator",
	[REJ_BAD_IPV4] = "invalid-ipv4",
	[REJ_BAD_IPV6] = "invalid-ipv6",
	[REJ_BAD_DOMAIN] = "invalid-domain",
	[REJ_BAD_URL] = "invalid-url",
	[REJ_URL_SCHEME] = "unsupported-scheme",
	[REJ_NO_SCHEME] = "url-without-scheme",
	[REJ_BAD_HASH] = "invalid-hash",
	[REJ_CIDR] = "cidr",
	[REJ_CIDR_TOO_WIDE] = "cidr-too-wide",
	[REJ_TYPE_NOT_WANTED] = "type-not-wanted",
	[REJ_SPECIAL] = "special-purpose",
	[REJ_ALLOWLIST] = "allowlisted-builtin",
	[REJ_USER_ALLOWLIST] = "allowlisted",
	[REJ_PUBLIC_SUFFIX] = "public-suffix",
	[REJ_UNSUPPORTED] = "unsupported",
	[REJ_EXPIRED] = "expired",
	[REJ_REVOKED] = "revoked",
	[REJ_NOT_TO_IDS] = "not-to-ids",
	[REJ_MALFORMED] = "malformed",
	[REJ_LINE_TOO_LONG] = "line-too-long",
};
_Static_assert(NELEM(reason_codes) == REJ__COUNT, "reason codes");

const char *
ioc_type_name(enum ioc_type t)
{
	return (unsigned)t < IOC_TYPE_COUNT ? type_names[t] : "";
}

const char *
ioc_reason_code(enum ioc_reason r)
{
	return (unsigned)r < REJ__COUNT ? reason_codes[r] : "unknown";
}

unsigned
ioc_types_parse(const char *list, const char **bad)
{
	static const struct {
		const char *name;
		unsigned mask;
	} words[] = {
		{"auto", IOC_TYPES_AUTO},        {"ip", IOC_BIT(IOC_IP)},   {"domain", IOC_BIT(IOC_DOMAIN)},
		{"url", IOC_BIT(IOC_URL)},       {"md5", IOC_BIT(IOC_MD5)}, {"sha1", IOC_BIT(IOC_SHA1)},
		{"sha256", IOC_BIT(IOC_SHA256)}, {"hash", IOC_HASHES},      {"cert", IOC_BIT(IOC_CERT)},
	};
	static char badword[64];
	unsigned mask = 0;
	const char *p = list;

	while (*p) {
		while (*p == ',' || is_space((unsigned char)*p))
			p++;
		const char *s = p;
		while (*p && *p != ',' && !is_space((unsigned char)*p))
			p++;
		size_t n = (size_t)(p - s), i;
		if (n == 0)
			continue;
		unsigned m = 0;
		for (i = 0; i < NELEM(words) && m == 0; i++)
			if (strlen(words[i].name) == n && mem_ieq(s, words[i].name, n))
				m = words[i].mask;
		for (i = IOC_IP; i < IOC_TYPE_COUNT && m == 0; i++)
			if (strlen(type_names[i]) == n && mem_ieq(s, type_names[i], n))
				m = IOC_BIT(i);
		if (m == 0) {
			snprintf(badword, sizeof(badword), "%.*s", (int)(n > 60 ? 60 : n), s);
			if (bad)
				*bad = badword;
			return 0;
		}
		mask |= m;
	}
	if (mask == 0 && bad)
		*bad = "(empty)";
	return mask;
}

/* ---- refanging ---- */

struct fang {
	const char *from;
	const char *to;
};

/* Bracketed forms, matched case-insensitively wherever they stand. */
static const struct fang fangs[] = {
	{"[://]", "://"}, {"[:]//", "://"}, {"[.]", "."}, {"(.)", "."}, {"{.}", "."},  {"[dot]", "."}, {"(dot)", "."},
	{"{dot}", "."},   {"[:]", ":"},     {"[/]", "/"}, {"[@]", "@"}, {"[at]", "@"}, {"(at)", "@"},  {"\\.", "."},
};

size_t
ioc_refang(const char *in, size_t len, char *out, size_t outsz, bool *changed)
{
	size_t i = 0, o = 0;

	*changed = false;
	if (outsz == 0)
		return 0;
	/* The scheme: hxxp, hXXp, hxxps, and "meow"-free variants only. */
	if (len >= 4 && (in[0] | 32) == 'h' && (in[1] | 32) == 'x' && (in[2] | 32) == 'x' && (in[3] | 32) == 'p') {
		if (outsz > 4) {
			memcpy(out, "http", 4);
			o = 4;
		}
		i = 4;
		*changed = true;
	}
	while (i < len && o + 1 < outsz) {
		char c = in[i];
		if (c == '[' || c == '(' || c == '{' || c == '\\') {
			size_t k;
			for (k = 0; k < NELEM(fangs); k++) {
				size_t fl = strlen(fangs[k].from);
				if (len - i >= fl && mem_ieq(in + i, fangs[k].from, fl))
					break;
			}
			if (k < NELEM(fangs)) {
				size_t tl = strlen(fangs[k].to);
				if (o + tl + 1 > outsz)
					break;
				memcpy(out + o, fangs[k].to, tl);
				o += tl;
				i += strlen(fangs[k].from);
				*changed = true;
				continue;
			}
		}
		out[o++] = c;
		i++;
	}
	out[o] = '\0';
	return o;
}

/* ---- addresses ---- */

/* Strict dotted quad: four decimal octets, no leading zeros (an octet
 * like 010 is octal to inet_aton and decimal to people). */
bool
ioc_ip4_parse(const char *s, size_t n, unsigned char a[4], bool *leading_zero)
{
	size_t i = 0;
	*leading_zero = false;
	for (int part = 0; part < 4; part++) {
		unsigned v = 0, digits = 0;
		if (part > 0) {
			if (i >= n || s[i] != '.')
				return false;
			i++;
		}
		size_t start = i;
		while (i < n && is_digit((unsigned char)s[i]) && digits < 4) {
			v = v * 10 + (unsigned)(s[i] - '0');
			i++;
			digits++;
		}
		if (digits == 0 || digits > 3 || v > 255)
			return false;
		if (digits > 1 && s[start] == '0')
			*leading_zero = true;
		a[part] = (unsigned char)v;
	}
	return i == n;
}

bool
ioc_ip6_parse(const char *s, size_t n, unsigned char a[16])
{
	char tmp[64];
	if (n == 0 || n >= sizeof(tmp) || memchr(s, '%', n) != NULL)
		return false;
	memcpy(tmp, s, n);
	tmp[n] = '\0';
	return inet_pton(AF_INET6, tmp, a) == 1;
}

size_t
ioc_addr_format(int family, const unsigned char *a, char *out)
{
	/* By hand: this runs for every address of every feed. */
	static const char hex[] = "0123456789abcdef";
	char *w = out;
	if (family == AF_INET) {
		for (int i = 0; i < 4; i++) {
			unsigned v = a[i];
			if (v >= 100)
				*w++ = (char)('0' + v / 100);
			if (v >= 10)
				*w++ = (char)('0' + v / 10 % 10);
			*w++ = (char)('0' + v % 10);
			*w++ = '.';
		}
	} else {
		for (int i = 0; i < 16; i += 2) {
			unsigned v = (unsigned)a[i] << 8 | a[i + 1];
			int sh = 12; /* no leading zeros */
			while (sh > 0 && (v >> sh) == 0)
				sh -= 4;
			for (; sh >= 0; sh -= 4)
				*w++ = hex[(v >> sh) & 15];
			*w++ = ':';
		}
	}
	*--w = '\0';
	return (size_t)(w - out);
}

/* text: the canonical form when the input already is it, or NULL. */
static enum ioc_reason
set_ip(struct ioc *out, int family, const unsigned char *a, int prefix, const char *text, size_t tn)
{
	out->type = IOC_IP;
	out->family = family;
	memcpy(out->addr, a, family == AF_INET ? 4 : 16);
	out->prefix = prefix;
	if (text) {
		memcpy(out->value, text, tn);
		out->value[tn] = '\0';
		out->len = tn;
	} else {
		out->len = ioc_addr_format(family, a, out->value);
	}
	if (prefix >= 0)
		out->len += (size_t)sprintf(out->value + out->len, "/%d", prefix);
	return REJ_OK;
}

/* Parses an address, with or without "/prefix". */
static enum ioc_reason
parse_ip(const char *s, size_t n, struct ioc *out, char *why, size_t whysz)
{
	unsigned char a[16];
	bool lz;
	int prefix = -1;
	const char *slash = memchr(s, '/', n);
	size_t an = slash ? (size_t)(slash - s) : n;
	bool v6 = memchr(s, ':', an) != NULL;

	if (slash) {
		long long p;
		char num[8];
		size_t pn = n - an - 1;
		if (pn == 0 || pn >= sizeof(num)) {
			set_why(why, whysz, "bad prefix length");
			return v6 ? REJ_BAD_IPV6 : REJ_BAD_IPV4;
		}
		memcpy(num, slash + 1, pn);
		num[pn] = '\0';
		if (num_parse(num, 0, v6 ? 128 : 32, &p, NULL) != ERR_OK) {
			set_why(why, whysz, "bad prefix length /%s", num);
			return v6 ? REJ_BAD_IPV6 : REJ_BAD_IPV4;
		}
		prefix = (int)p;
	}
	if (v6) {
		if (!ioc_ip6_parse(s, an, a)) {
			set_why(why, whysz, "not an IPv6 address");
			return REJ_BAD_IPV6;
		}
		if (prefix == 128)
			prefix = -1;
		if (prefix >= 0) {
			/* Zero the host bits: 2001:db8::1/64 means its /64. */
			for (int b = prefix; b < 128; b++)
				a[b / 8] &= (unsigned char)~(0x80 >> (b % 8));
		}
		return set_ip(out, AF_INET6, a, prefix, NULL, 0);
	}
	if (!ioc_ip4_parse(s, an, a, &lz)) {
		set_why(why, whysz, "not an IPv4 address");
		return REJ_BAD_IPV4;
	}
	if (lz) {
		set_why(why, whysz, "an octet has a leading zero (octal or decimal?)");
		return REJ_BAD_IPV4;
	}
	if (prefix == 32)
		prefix = -1;
	if (prefix >= 0) {
		uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];
		v &= prefix == 0 ? 0 : ~0u << (32 - prefix);
		a[0] = (unsigned char)(v >> 24);
		a[1] = (unsigned char)(v >> 16);
		a[2] = (unsigned char)(v >> 8);
		a[3] = (unsigned char)v;
	}
	/* A strict dotted quad without a prefix is its own canonical form. */
	return set_ip(out, AF_INET, a, prefix, slash ? NULL : s, n);
}

bool
ioc_looks_ipv4(const char *s, size_t n)
{
	size_t dots = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '.')
			dots++;
		else if (!is_digit((unsigned char)s[i]))
			return false;
	}
	return dots >= 1 && n > 0;
}

/* ---- classification ---- */

static enum ioc_reason
parse_hash(const char *s, size_t n, const struct ioc_opts *o, struct ioc *out, char *why, size_t whysz)
{
	switch (n) {
	case 32: out->type = IOC_MD5; break;
	case 40: out->type = o->cert ? IOC_CERT : IOC_SHA1; break;
	case 64: out->type = IOC_SHA256; break;
	default:
		set_why(why, whysz, "%zu hex digits: not an MD5 (32), SHA-1 (40) or SHA-256 (64)", n);
		return REJ_BAD_HASH;
	}
	/* s holds hex digits only (classify saw to it), and n is a multiple
	 * of 8: setting bit 5 lowercases A-F and keeps the digits. */
	for (size_t i = 0; i < n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		w |= 0x2020202020202020ULL;
		memcpy(out->value + i, &w, 8);
	}
	out->value[n] = '\0';
	out->len = n;
	return REJ_OK;
}

static enum ioc_reason
parse_domain(const char *s, size_t n, struct ioc *out, char *why, size_t whysz)
{
	enum ioc_reason r = ioc_domain_canon(s, n, out->value, &out->len, why, whysz);
	if (r == REJ_OK)
		out->type = IOC_DOMAIN;
	return r;
}

/* "host:port" where host is an IPv4 address or a domain: the host is the
 * indicator (a port cannot be expressed in MDE). */
static enum ioc_reason
parse_hostport(const char *s, size_t n, const char *colon, struct ioc *out, char *why, size_t whysz)
{
	long long pv;
	char num[8];
	size_t pn = (size_t)(s + n - colon - 1), hn = (size_t)(colon - s);
	if (pn == 0 || pn >= sizeof(num)) {
		set_why(why, whysz, "not host:port");
		return REJ_NOT_INDICATOR;
	}
	memcpy(num, colon + 1, pn);
	num[pn] = '\0';
	if (num_parse(num, 1, 65535, &pv, NULL) != ERR_OK) {
		set_why(why, whysz, "bad port '%s'", num);
		return REJ_NOT_INDICATOR;
	}
	if (ioc_looks_ipv4(s, hn))
		return parse_ip(s, hn, out, why, whysz);
	return parse_domain(s, hn, out, why, whysz);
}

static enum ioc_reason
classify(const char *s, size_t n, unsigned cls, const struct ioc_opts *o, struct ioc *out, char *why, size_t whysz)
{
	const char *colon = cls & C_COLON ? memchr(s, ':', n) : NULL;
	const char *slash = cls & C_SLASH ? memchr(s, '/', n) : NULL;
	bool hex = !(cls & C_NONHEX);

	if (colon && n - (size_t)(colon - s) >= 3 && colon[1] == '/' && colon[2] == '/')
		return ioc_parse_url(s, n, out, why, whysz);
	if (hex && n >= 24)
		return parse_hash(s, n, o, out, why, whysz);
	if (slash) {
		size_t hn = (size_t)(slash - s);
		bool cidr = hn > 0 && n - hn - 1 > 0 && n - hn - 1 <= 3;
		for (size_t i = hn + 1; cidr && i < n; i++)
			cidr = is_digit((unsigned char)s[i]);
		if (cidr && (ioc_looks_ipv4(s, hn) || memchr(s, ':', hn)))
			return parse_ip(s, n, out, why, whysz);
		if (hn == 0) {
			set_why(why, whysz, "a path without a host");
			return REJ_NOT_INDICATOR;
		}
		if (o->url_feed) {
			char tmp[LIMIT_VALUE_BYTES + 8];
			if (n + 7 >= sizeof(tmp)) {
				set_why(why, whysz, "longer than %d bytes", LIMIT_VALUE_BYTES);
				return REJ_TOO_LONG;
			}
			memcpy(tmp, "http://", 7);
			memcpy(tmp + 7, s, n);
			return ioc_parse_url(tmp, n + 7, out, why, whysz);
		}
		struct ioc h;
		const char *hc = memchr(s, ':', hn);
		enum ioc_reason r = hc          ? parse_hostport(s, hn, hc, &h, NULL, 0)
			: ioc_looks_ipv4(s, hn) ? parse_ip(s, hn, &h, NULL, 0)
						: parse_domain(s, hn, &h, NULL, 0);
		if (r == REJ_OK) {
			set_why(why, whysz,
				"a URL without a scheme (set type = url on the feed to take it as http://)");
			return REJ_NO_SCHEME;
		}
		set_why(why, whysz, "not an IP, domain, URL or hash");
		return REJ_NOT_INDICATOR;
	}
	if (s[0] == '[') { /* [v6] or [v6]:port */
		const char *rb = memchr(s, ']', n);
		if (rb == NULL || (rb + 1 < s + n && rb[1] != ':')) {
			set_why(why, whysz, "bad bracketed address");
			return REJ_BAD_IPV6;
		}
		return parse_ip(s + 1, (size_t)(rb - s - 1), out, why, whysz);
	}
	if (colon) {
		if (memchr(colon + 1, ':', n - (size_t)(colon - s) - 1))
			return parse_ip(s, n, out, why, whysz);
		return parse_hostport(s, n, colon, out, why, whysz);
	}
	if (!(cls & C_NONIP4) && (cls & C_DOT)) /* looks_ipv4 */
		return parse_ip(s, n, out, why, whysz);
	if (cls & C_AT) {
		set_why(why, whysz, "an e-mail address is not an MDE indicator");
		return REJ_NOT_INDICATOR;
	}
	if (cls & C_DOT)
		return parse_domain(s, n, out, why, whysz);
	if (hex && n >= 16)
		return parse_hash(s, n, o, out, why, whysz);
	set_why(why, whysz, "not an IP, domain, URL or hash");
	return REJ_NOT_INDICATOR;
}

enum ioc_reason
ioc_parse(const char *in, size_t len, const struct ioc_opts *o, struct ioc *out, char *why, size_t whysz)
{
	char buf[LIMIT_VALUE_BYTES + 1];
	unsigned types = o->types ? o->types : IOC_TYPES_AUTO;
	enum ioc_reason r;

	if (o->cert)
		types |= IOC_BIT(IOC_CERT);
	while (len > 0 && is_space((unsigned char)*in)) {
		in++;
		len--;
	}
	while (len > 0 && is_space((unsigned char)in[len - 1]))
		len--;
	out->type = IOC_NONE;
	out->prefix = -1;
	out->family = 0;
	out->defanged = false;
	out->host_off = out->host_len = 0;
	out->len = 0;
	out->value[0] = '\0';
	if (len == 0) {
		set_why(why, whysz, "empty value");
		return REJ_EMPTY;
	}
	if (len > LIMIT_VALUE_BYTES) {
		set_why(why, whysz, "longer than %d bytes", LIMIT_VALUE_BYTES);
		return REJ_TOO_LONG;
	}
	/* One pass for a NUL, the markers of defanging (refang only when
	 * one may be present, as most values have none) and classify. */
	unsigned cls = classes(in, len);
	if (cls & C_NUL) {
		set_why(why, whysz, "contains a NUL byte");
		return REJ_BINARY;
	}
	if ((cls & C_MARK) || (len >= 4 && (in[0] | 32) == 'h' && (in[1] | 32) == 'x')) {
		bool changed;
		size_t n = ioc_refang(in, len, buf, sizeof(buf), &changed);
		if (changed) {
			in = buf;
			len = n;
			out->defanged = true;
			cls = classes(in, len);
		}
	}
	r = classify(in, len, cls, o, out, why, whysz);
	if (r != REJ_OK)
		return r;
	if (!(types & IOC_BIT(out->type))) {
		set_why(why, whysz, "a %s where the feed declares other types", ioc_type_name(out->type));
		return REJ_TYPE_NOT_WANTED;
	}
	return REJ_OK;
}

/* ---- actions ---- */

static const char *const action_names[] = {
	[ACT_ALLOWED] = "Allowed",
	[ACT_AUDIT] = "Audit",
	[ACT_WARN] = "Warn",
	[ACT_BLOCK] = "Block",
	[ACT_BLOCK_AND_REMEDIATE] = "BlockAndRemediate",
};
_Static_assert(NELEM(action_names) == ACT__COUNT, "action names");

const char *
ioc_action_name(enum ioc_action a)
{
	return (unsigned)a < ACT__COUNT ? action_names[a] : "";
}

int
ioc_action_parse(const char *s)
{
	static const char *const alias[] = {
		[ACT_ALLOWED] = "allow",
		[ACT_AUDIT] = "audit",
		[ACT_WARN] = "warn",
		[ACT_BLOCK] = "block",
		[ACT_BLOCK_AND_REMEDIATE] = "block-and-remediate",
	};
	_Static_assert(NELEM(alias) == ACT__COUNT, "action aliases");
	for (int i = 0; i < ACT__COUNT; i++)
		if (strcasecmp(s, action_names[i]) == 0 || strcasecmp(s, alias[i]) == 0)
			return i;
	return -1;
}

bool
ioc_canon_as(enum ioc_type t, const char *value, char *out, size_t outsz)
{
	if (t <= IOC_NONE || t >= IOC_TYPE_COUNT)
		return false;
	struct ioc_opts o = {.types = IOC_BIT(t), .cert = t == IOC_CERT};
	struct ioc *x = xmalloc(sizeof(*x));
	bool ok = ioc_parse(value, strlen(value), &o, x, NULL, 0) == REJ_OK && x->type == t && x->prefix < 0 &&
		!x->defanged && x->len < outsz;
	if (ok)
		memcpy(out, x->value, x->len + 1);
	free(x);
	return ok;
}

size_t
ioc_key(char *buf, size_t sz, int type, const char *value)
{
	int n = snprintf(buf, sz, "%d:%s", type, value);
	return n < 0 ? 0 : (size_t)n < sz ? (size_t)n : sz - 1;
}
