/*
 * STIX 2.0 and 2.1 bundles. Indicator objects whose pattern is one or
 * more "path = 'value'" comparisons joined by OR (or IN lists) become
 * entries; anything else (AND, FOLLOWEDBY, other operators, qualifiers,
 * paths MDE has no type for) is skipped with its reason. valid_until is
 * the expiration; revoked or expired indicators are reported as such.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "feed.h"
#include "iocsync_limits.h"
#include "util.h"

struct term {
	char path[128];
	char *value;
	size_t len;
};

struct pat {
	const char *p, *e;
	const char *fail; /* why the pattern cannot map, or NULL */
	struct term *t;
	size_t nt, cap;
	struct strbuf vals; /* unescaped values, NUL-separated */
	char msg[96];
};

static void
skipws(struct pat *s)
{
	while (s->p < s->e && is_space((unsigned char)*s->p))
		s->p++;
}

static bool
kw(struct pat *s, const char *w)
{
	size_t n = strlen(w);
	skipws(s);
	if ((size_t)(s->e - s->p) >= n && memcmp(s->p, w, n) == 0 &&
	    (s->p + n == s->e || !is_alnum((unsigned char)s->p[n]))) {
		s->p += n;
		return true;
	}
	return false;
}

static bool
punct(struct pat *s, char c)
{
	skipws(s);
	if (s->p < s->e && *s->p == c) {
		s->p++;
		return true;
	}
	return false;
}

/* A quoted string literal; returns its offset in vals, or -1. */
static long
string_lit(struct pat *s, size_t *len)
{
	skipws(s);
	if (s->p >= s->e || *s->p != '\'')
		return -1;
	s->p++;
	size_t off = s->vals.len;
	while (s->p < s->e && *s->p != '\'') {
		if (*s->p == '\\' && s->p + 1 < s->e)
			s->p++;
		sb_addc(&s->vals, *s->p++);
	}
	if (s->p >= s->e) {
		s->fail = "unterminated string in pattern";
		return -1;
	}
	s->p++;
	*len = s->vals.len - off;
	sb_addc(&s->vals, '\0');
	return (long)off;
}

/* object-type:path.with.'quoted'.parts[*] */
static bool
path(struct pat *s, char *out, size_t outsz)
{
	size_t o = 0;
	skipws(s);
	while (s->p < s->e && !is_space((unsigned char)*s->p) && *s->p != '=' && *s->p != '!' && *s->p != '<' &&
	       *s->p != '>' && *s->p != ']' && *s->p != ')') {
		if (*s->p == '\'') {
			s->p++;
			while (s->p < s->e && *s->p != '\'') {
				if (o + 1 < outsz)
					out[o++] = *s->p;
				s->p++;
			}
			if (s->p < s->e)
				s->p++;
			continue;
		}
		if (o + 1 < outsz)
			out[o++] = *s->p;
		s->p++;
	}
	out[o] = '\0';
	return o > 0 && strchr(out, ':') != NULL;
}

static void
add_term(struct pat *s, const char *pth, long off, size_t len)
{
	if (s->nt >= LIMIT_STIX_TERMS) {
		s->fail = "more comparisons than LIMIT_STIX_TERMS";
		return;
	}
	xgrow((void **)&s->t, &s->cap, s->nt + 1, sizeof(*s->t));
	struct term *t = &s->t[s->nt++];
	snprintf(t->path, sizeof(t->path), "%s", pth);
	t->value = (char *)(intptr_t)off; /* fixed up once vals stops moving */
	t->len = len;
}

static void comp_or(struct pat *s, int depth);

static void
comparison(struct pat *s, int depth)
{
	char pth[128];
	size_t len;
	long off;

	if (depth > LIMIT_JSON_DEPTH) {
		s->fail = "pattern nested too deep";
		return;
	}
	if (punct(s, '(')) {
		comp_or(s, depth + 1);
		if (!s->fail && !punct(s, ')'))
			s->fail = "missing ')' in pattern";
		return;
	}
	if (kw(s, "NOT")) {
		s->fail = "NOT comparisons cannot become indicators";
		return;
	}
	if (!path(s, pth, sizeof(pth))) {
		s->fail = "malformed pattern: expected an object path";
		return;
	}
	skipws(s);
	if (punct(s, '=')) {
		off = string_lit(s, &len);
		if (off < 0) {
			if (!s->fail)
				s->fail = "only string comparisons can become indicators";
			return;
		}
		add_term(s, pth, off, len);
		return;
	}
	if (kw(s, "IN")) {
		if (!punct(s, '(')) {
			s->fail = "malformed IN list";
			return;
		}
		do {
			off = string_lit(s, &len);
			if (off < 0) {
				if (!s->fail)
					s->fail = "malformed IN list";
				return;
			}
			add_term(s, pth, off, len);
		} while (punct(s, ','));
		if (!punct(s, ')'))
			s->fail = "malformed IN list";
		return;
	}
	/* MATCHES, LIKE, ISSUBSET, !=, >, ... describe sets, not one value. */
	size_t n = 0;
	while (s->p + n < s->e && n < 16 && !is_space((unsigned char)s->p[n]) && s->p[n] != '\'')
		n++;
	if (n > 0) {
		snprintf(s->msg, sizeof(s->msg), "operator %.*s cannot become an indicator", (int)n, s->p);
		s->fail = s->msg;
		return;
	}
	s->fail = "malformed pattern: expected an operator";
}

static void
comp_or(struct pat *s, int depth)
{
	for (;;) {
		comparison(s, depth);
		if (s->fail)
			return;
		if (kw(s, "AND")) {
			s->fail = "AND joins comparisons that must all hold: no single indicator says that";
			return;
		}
		if (!kw(s, "OR"))
			return;
	}
}

static void
observation(struct pat *s, int depth)
{
	if (depth > LIMIT_JSON_DEPTH) {
		s->fail = "pattern nested too deep";
		return;
	}
	if (punct(s, '(')) {
		for (;;) {
			observation(s, depth + 1);
			if (s->fail)
				return;
			if (!kw(s, "OR"))
				break;
		}
		if (!punct(s, ')'))
			s->fail = "missing ')' in pattern";
	} else if (punct(s, '[')) {
		comp_or(s, depth + 1);
		if (!s->fail && !punct(s, ']'))
			s->fail = "missing ']' in pattern";
	} else {
		s->fail = "malformed pattern: expected '['";
		return;
	}
	if (s->fail)
		return;
	if (kw(s, "WITHIN") || kw(s, "REPEATS") || kw(s, "START"))
		s->fail = "qualifiers (WITHIN, REPEATS, START/STOP) cannot become indicators";
}

/* Parses a STIX pattern into OR-joined terms; s->fail says why not. */
static void
pattern_parse(struct pat *s, const char *text)
{
	s->p = text;
	s->e = text + strlen(text);
	for (;;) {
		observation(s, 0);
		if (s->fail)
			return;
		if (kw(s, "OR"))
			continue;
		if (kw(s, "AND")) {
			s->fail = "AND joins observations that must all be seen: no single indicator says that";
			return;
		}
		if (kw(s, "FOLLOWEDBY")) {
			s->fail = "FOLLOWEDBY describes a sequence: no single indicator says that";
			return;
		}
		skipws(s);
		if (s->p != s->e)
			s->fail = "malformed pattern: junk after the last observation";
		return;
	}
}

/* The MDE types a STIX object path can become; 0 when none. */
static unsigned
path_types(const char *p)
{
	static const struct {
		const char *path;
		unsigned types;
	} map[] = {
		{"ipv4-addr:value", IOC_BIT(IOC_IP)},
		{"ipv6-addr:value", IOC_BIT(IOC_IP)},
		{"domain-name:value", IOC_BIT(IOC_DOMAIN)},
		{"url:value", IOC_BIT(IOC_URL)},
		{"file:hashes.md5", IOC_BIT(IOC_MD5)},
		{"file:hashes.sha-1", IOC_BIT(IOC_SHA1)},
		{"file:hashes.sha1", IOC_BIT(IOC_SHA1)},
		{"file:hashes.sha-256", IOC_BIT(IOC_SHA256)},
		{"file:hashes.sha256", IOC_BIT(IOC_SHA256)},
		{"artifact:hashes.md5", IOC_BIT(IOC_MD5)},
		{"artifact:hashes.sha-1", IOC_BIT(IOC_SHA1)},
		{"artifact:hashes.sha-256", IOC_BIT(IOC_SHA256)},
		{"x509-certificate:hashes.sha-1", IOC_BIT(IOC_CERT)},
		{"x509-certificate:hashes.sha1", IOC_BIT(IOC_CERT)},
		{"network-traffic:dst_ref.value", IOC_BIT(IOC_IP) | IOC_BIT(IOC_DOMAIN)},
		{"network-traffic:src_ref.value", IOC_BIT(IOC_IP) | IOC_BIT(IOC_DOMAIN)},
	};
	for (size_t i = 0; i < NELEM(map); i++)
		if (strcasecmp(p, map[i].path) == 0)
			return map[i].types;
	return 0;
}

/* RFC 3339 timestamp to epoch seconds; -1 when malformed. */
static long long
timestamp(const char *s)
{
	struct tm tm = {0};
	const char *e = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm);
	if (e == NULL)
		return -1;
	if (*e == '.')
		for (e++; is_digit((unsigned char)*e); e++)
			;
	if (*e != 'Z' && *e != 'z')
		return -1;
	return (long long)timegm(&tm);
}

static const char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

static void
indicator(json_t *obj, const struct feed_opts *o, const struct feed_sink *k, struct json_locator *loc)
{
	const char *id = jstr(obj, "id"), *pattern = jstr(obj, "pattern");
	const char *ptype = jstr(obj, "pattern_type"), *vu = jstr(obj, "valid_until");
	/* Objects handed over parsed (TAXII) have no text: they are on the
	 * one line of the compact bundle their snapshot is kept as. */
	unsigned long line = id ? (loc->buf ? feed_json_line(loc, id) : 1) : 0;
	const char *echo = id ? id : "(indicator without id)";
	long long now = o->now ? o->now : (long long)time(NULL), exp = 0;
	char why[256];

	if (ptype && strcmp(ptype, "stix") != 0) {
		snprintf(why, sizeof(why), "pattern_type %s is not a STIX pattern", ptype);
		k->reject(k->ctx, line, REJ_UNSUPPORTED, why, echo, strlen(echo));
		return;
	}
	if (pattern == NULL) {
		k->reject(k->ctx, line, REJ_MALFORMED, "indicator without a pattern string", echo, strlen(echo));
		return;
	}
	if (json_is_true(json_object_get(obj, "revoked"))) {
		k->reject(k->ctx, line, REJ_REVOKED, "revoked: it leaves the desired set", pattern, strlen(pattern));
		return;
	}
	if (vu) {
		exp = timestamp(vu);
		if (exp < 0) {
			snprintf(why, sizeof(why), "valid_until is not an RFC 3339 timestamp: %.40s", vu);
			k->reject(k->ctx, line, REJ_MALFORMED, why, pattern, strlen(pattern));
			return;
		}
		if (exp <= now) {
			snprintf(why, sizeof(why), "valid_until %s has passed", vu);
			k->reject(k->ctx, line, REJ_EXPIRED, why, pattern, strlen(pattern));
			return;
		}
	}
	struct pat s = {0};
	pattern_parse(&s, pattern);
	if (s.fail) {
		k->reject(k->ctx, line, REJ_UNSUPPORTED, s.fail, pattern, strlen(pattern));
	} else {
		for (size_t i = 0; i < s.nt; i++) {
			struct term *t = &s.t[i];
			const char *v = s.vals.buf + (intptr_t)t->value;
			unsigned types = path_types(t->path);
			if (types == 0) {
				snprintf(why, sizeof(why), "%s has no MDE indicator type", t->path);
				k->reject(k->ctx, line, REJ_UNSUPPORTED, why, v, t->len);
				continue;
			}
			struct feed_entry e = {.value = v,
					       .len = t->len,
					       .line = line,
					       .types = types,
					       .title = jstr(obj, "name"),
					       .description = jstr(obj, "description"),
					       .expire_at = exp};
			k->entry(k->ctx, &e);
		}
	}
	free(s.t);
	sb_free(&s.vals);
}

/* The indicators among objs, each to k. */
static void
objects(const json_t *objs, const struct feed_opts *o, const struct feed_sink *k, struct json_locator *loc)
{
	size_t i;
	json_t *obj;
	json_array_foreach(objs, i, obj) {
		const char *t = jstr(obj, "type");
		if (t && strcmp(t, "indicator") == 0)
			indicator(obj, o, k, loc);
	}
}

void
feed_stix_objects(const json_t *objs, const struct feed_opts *o, const struct feed_sink *k)
{
	struct json_locator loc = {0};
	objects(objs, o, k, &loc);
}

enum err
feed_stix_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
		size_t whysz)
{
	json_t *root = feed_json_load(buf, len, why, whysz), *objs;
	struct json_locator loc = {.buf = buf, .len = len};

	if (root == NULL)
		return ERR_PARSE;
	const char *type = jstr(root, "type");
	if (json_is_array(root))
		objs = root;
	else if (type && strcmp(type, "bundle") == 0 && json_is_array(json_object_get(root, "objects")))
		objs = json_object_get(root, "objects");
	else if (type && strcmp(type, "indicator") == 0)
		objs = NULL;
	else {
		snprintf(why, whysz, "not a STIX bundle (no \"type\": \"bundle\" with \"objects\")");
		json_decref(root);
		return ERR_PARSE;
	}
	if (objs == NULL) {
		indicator(root, o, k, &loc);
	} else {
		objects(objs, o, k, &loc);
	}
	json_decref(root);
	return ERR_OK;
}
