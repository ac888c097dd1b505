/* The indicators API: validation (section 4 and the contract of section
 * 8 of the spec), upsert, list with OData, import, delete, BatchDelete;
 * each reading of section 9 where the documents are silent. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

static const char *const types[] = {
	"FileSha1", "FileSha256", "FileMd5", "CertificateThumbprint", "IpAddress", "DomainName", "Url",
};
static const char *const actions[] = {
	"Allowed", "Audit", "Warn", "Block", "BlockAndRemediate", "Alert", "AlertAndBlock",
};
static const char *const severities[] = {"Informational", "Low", "Medium", "High"};

static bool
in_list(const char *s, const char *const *list, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s, list[i]) == 0)
			return true;
	return false;
}

static bool
hexlen(const char *s, size_t want)
{
	size_t n = 0;
	for (; s[n]; n++)
		if (!isxdigit((unsigned char)s[n]))
			return false;
	return n == want;
}

/* IPv4 strict dotted quad; IPv6 only as 8 groups of 1-4 hex digits, or
 * any RFC 4291 text form when lenient (normalize=canonical). */
static bool
ip_parse(const char *s, int *family, unsigned char a[16], bool lenient)
{
	if (strchr(s, ':') && lenient) {
		*family = 6;
		return inet_pton(AF_INET6, s, a) == 1;
	}
	if (strchr(s, ':')) {
		const char *p = s;
		for (int g = 0; g < 8; g++) {
			unsigned v = 0;
			int d = 0;
			while (isxdigit((unsigned char)*p) && d < 5) {
				v = v * 16 +
					(unsigned)(isdigit((unsigned char)*p)
							   ? *p - '0'
							   : (tolower((unsigned char)*p) - 'a' + 10));
				p++, d++;
			}
			if (d == 0 || d > 4)
				return false;
			a[2 * g] = (unsigned char)(v >> 8);
			a[2 * g + 1] = (unsigned char)v;
			if (g < 7 && *p++ != ':')
				return false;
		}
		*family = 6;
		return *p == '\0';
	}
	const char *p = s;
	for (int k = 0; k < 4; k++) {
		unsigned v = 0;
		int d = 0;
		if (*p == '0' && isdigit((unsigned char)p[1]))
			return false; /* leading zero: octal in some parsers */
		while (isdigit((unsigned char)*p) && d < 4)
			v = v * 10 + (unsigned)(*p++ - '0'), d++;
		if (d == 0 || v > 255)
			return false;
		a[k] = (unsigned char)v;
		if (k < 3 && *p++ != '.')
			return false;
	}
	*family = 4;
	return *p == '\0';
}

static bool
in_net(const unsigned char *a, const unsigned char *net, int bits)
{
	for (int i = 0; bits > 0; i++, bits -= 8) {
		unsigned m = bits >= 8 ? 0xff : (0xff << (8 - bits)) & 0xff;
		if ((a[i] & m) != (net[i] & m))
			return false;
	}
	return true;
}

/* Not external: the IANA special-purpose blocks, by our own table. */
static bool
ip_special(int family, const unsigned char *a)
{
	static const struct {
		unsigned char n[4];
		int bits;
	} v4[] = {
		{{0, 0, 0, 0}, 8},      {{10, 0, 0, 0}, 8},     {{100, 64, 0, 0}, 10}, {{127, 0, 0, 0}, 8},
		{{169, 254, 0, 0}, 16}, {{172, 16, 0, 0}, 12},  {{192, 0, 0, 0}, 24},  {{192, 0, 2, 0}, 24},
		{{192, 88, 99, 0}, 24}, {{192, 168, 0, 0}, 16}, {{198, 18, 0, 0}, 15}, {{198, 51, 100, 0}, 24},
		{{203, 0, 113, 0}, 24}, {{224, 0, 0, 0}, 4},    {{240, 0, 0, 0}, 4},
	};
	static const struct {
		unsigned char n[16];
		int bits;
	} v6[] = {
		{{0x20, 0x01, 0x0d, 0xb8}, 32},
		{{0x20, 0x01, 0, 0}, 23},
		{{0x20, 0x02}, 16},
		{{0x3f, 0xff, 0xf0, 0}, 20},
	};
	if (family == 4) {
		for (size_t i = 0; i < sizeof(v4) / sizeof(v4[0]); i++)
			if (in_net(a, v4[i].n, v4[i].bits))
				return true;
		return false;
	}
	if ((a[0] & 0xe0) != 0x20) /* outside global unicast 2000::/3 */
		return true;
	for (size_t i = 0; i < sizeof(v6) / sizeof(v6[0]); i++)
		if (in_net(a, v6[i].n, v6[i].bits))
			return true;
	return false;
}

static bool
domain_ok(const char *s, size_t n)
{
	size_t label = 0, labels = 0;
	const char *last = s;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i == n || s[i] == '.') {
			if (label == 0 || label > 63 || s[i - 1] == '-' || s[i - label] == '-')
				return false;
			last = s + i - label;
			labels++;
			label = 0;
			continue;
		}
		unsigned char c = (unsigned char)s[i];
		if (!isalnum(c) && c != '-' && c != '_')
			return false;
		label++;
	}
	if (labels < 2)
		return false;
	for (const char *p = last; p < s + n; p++)
		if (!isdigit((unsigned char)*p))
			return true;
	return false; /* an all-digit top label: an address, not a name */
}

static bool
url_ok(const char *s)
{
	const char *h;
	if (strncasecmp(s, "http://", 7) == 0)
		h = s + 7;
	else if (strncasecmp(s, "https://", 8) == 0)
		h = s + 8;
	else
		return false;
	size_t hn = strcspn(h, "/?#:");
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f || *p == '*')
			return false;
	if (hn == 0)
		return false;
	char host[256];
	if (hn >= sizeof(host))
		return false;
	memcpy(host, h, hn);
	host[hn] = '\0';
	int fam;
	unsigned char a[16];
	if (ip_parse(host, &fam, a, false))
		return !ip_special(fam, a);
	return domain_ok(host, hn);
}

/* The action × type matrix of section 4. Legacy actions: as the
 * legacy-actions reading says. */
static bool
action_allowed(const struct emu *e, const char *type, const char *action)
{
	bool file = strncmp(type, "File", 4) == 0, cert = strcmp(type, "CertificateThumbprint") == 0;
	if (strcmp(action, "Alert") == 0 || strcmp(action, "AlertAndBlock") == 0)
		return !reading_alt(e, R_LEGACY_ACTIONS);
	if (cert)
		return strcmp(action, "Allowed") == 0 || strcmp(action, "BlockAndRemediate") == 0;
	if (!file && strcmp(action, "BlockAndRemediate") == 0)
		return false;
	return true;
}

static bool
has_edge_space(const char *s)
{
	size_t n = strlen(s);
	return n > 0 && (isspace((unsigned char)s[0]) || isspace((unsigned char)s[n - 1]));
}

struct verdict {
	int status;
	const char *code;
	char msg[256];
};

#define BAD(v, c, ...) \
	do { \
		(v)->status = 400; \
		(v)->code = (c); \
		snprintf((v)->msg, sizeof((v)->msg), __VA_ARGS__); \
		return false; \
	} while (0)

/* Validates a submitted indicator body. */
static bool
validate(struct emu *e, json_t *o, struct verdict *v)
{
	static const char *const required[] = {"indicatorValue", "indicatorType", "action", "title", "description"};
	static const char *const strings[] = {"indicatorValue",     "indicatorType", "action",         "title",
					      "description",        "application",   "expirationTime", "severity",
					      "recommendedActions", "educateUrl",    "externalId"};
	if (!json_is_object(o))
		BAD(v, "InvalidRequestBody", "Request body is incorrect");
	for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
		if (json_object_get(o, required[i]) == NULL || json_is_null(json_object_get(o, required[i])))
			BAD(v, "MissingRequiredParameter", "Parameter %s is missing", required[i]);
	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++) {
		json_t *x = json_object_get(o, strings[i]);
		bool optional = i >= sizeof(required) / sizeof(required[0]); /* strings[] lists those first */
		if (x && !json_is_string(x) && !(json_is_null(x) && optional))
			BAD(v, "InvalidRequestBody", "Request body is incorrect: %s must be a string", strings[i]);
		if (x && json_is_string(x) && !utf8_valid(json_string_value(x), json_string_length(x)))
			BAD(v, "InvalidRequestBody", "Request body is incorrect: %s is not UTF-8", strings[i]);
		if (x && json_is_string(x) && strlen(json_string_value(x)) != json_string_length(x))
			BAD(v, "InvalidInput", "%s contains a NUL character", strings[i]);
	}
	json_t *ga = json_object_get(o, "generateAlert");
	if (ga && !json_is_boolean(ga) && !json_is_null(ga))
		BAD(v, "InvalidRequestBody", "Request body is incorrect: generateAlert must be a boolean");
	const char *names[] = {"rbacGroupNames", "rbacGroupIds", "mitreTechniques"};
	for (size_t i = 0; i < 3; i++) {
		json_t *x = json_object_get(o, names[i]), *el;
		size_t k;
		if (x == NULL || json_is_null(x))
			continue;
		if (!json_is_array(x))
			BAD(v, "InvalidRequestBody", "Request body is incorrect: %s must be an array", names[i]);
		json_array_foreach(x, k, el)
			if (!json_is_string(el))
				BAD(v, "InvalidRequestBody", "Request body is incorrect: %s holds strings", names[i]);
	}
	const char *value = json_string_value(json_object_get(o, "indicatorValue"));
	const char *type = json_string_value(json_object_get(o, "indicatorType"));
	const char *action = json_string_value(json_object_get(o, "action"));
	const char *title = json_string_value(json_object_get(o, "title"));
	const char *desc = json_string_value(json_object_get(o, "description"));
	if (!in_list(type, types, sizeof(types) / sizeof(types[0])))
		BAD(v, "InvalidInput", "Indicator type %.64s is invalid", type);
	if (!in_list(action, actions, sizeof(actions) / sizeof(actions[0])))
		BAD(v, "InvalidInput", "Action %.64s is invalid", action);
	json_t *sev = json_object_get(o, "severity");
	if (sev && json_is_string(sev) && !in_list(json_string_value(sev), severities, 4))
		BAD(v, "InvalidInput", "Severity %.64s is invalid", json_string_value(sev));
	if (has_edge_space(value) || has_edge_space(title))
		BAD(v, "InvalidInput", "Leading or trailing white space is not allowed");
	if (*value == '\0')
		BAD(v, "InvalidInput", "Indicator value is empty");
	if (*title == '\0' || *desc == '\0')
		BAD(v, "InvalidInput", "Title and description must not be empty");
	if (strlen(title) > 100 && !reading_alt(e, R_TEXT_LIMITS))
		BAD(v, "InvalidInput", "Title is longer than 100 characters");
	if (strlen(desc) > 1000 && !reading_alt(e, R_TEXT_LIMITS))
		BAD(v, "InvalidInput", "Description is longer than 1000 characters");
	if (strcmp(type, "IpAddress") == 0) {
		int fam;
		unsigned char a[16];
		if (!ip_parse(value, &fam, a, reading_alt(e, R_NORMALIZE)) || ip_special(fam, a))
			BAD(v, "InvalidIpAddress", "Ip address %.80s is invalid", value);
	} else if (strcmp(type, "DomainName") == 0) {
		if (!domain_ok(value, strlen(value)))
			BAD(v, "InvalidDomainName", "Domain name %.80s is invalid", value);
	} else if (strcmp(type, "Url") == 0) {
		if (!url_ok(value))
			BAD(v, "InvalidUrl", "Url %.80s is invalid", value);
	} else {
		size_t want = strcmp(type, "FileSha256") == 0 ? 64 : strcmp(type, "FileMd5") == 0 ? 32 : 40;
		if (!hexlen(value, want))
			BAD(v, "InvalidHashValue", "Hash value %.80s is invalid", value);
	}
	if (!action_allowed(e, type, action))
		BAD(v, "InvalidInput", "Action %s is not supported for indicator type %s", action, type);
	if (strcmp(action, "Audit") == 0 && !json_is_true(ga))
		BAD(v, "InvalidInput", "Audit requires generateAlert to be true");
	json_t *eu = json_object_get(o, "educateUrl");
	if (eu && json_is_string(eu) && *json_string_value(eu) &&
	    !(strcmp(type, "Url") == 0 && (strcmp(action, "Block") == 0 || strcmp(action, "Warn") == 0)))
		BAD(v, "InvalidInput", "educateUrl applies only to Url indicators with Block or Warn");
	json_t *exp = json_object_get(o, "expirationTime");
	if (exp && json_is_string(exp)) {
		long long ms;
		if (!emu_time_parse(json_string_value(exp), &ms))
			BAD(v, "InvalidInput", "expirationTime %.40s is not an ISO-8601 UTC time",
			    json_string_value(exp));
		if (ms <= emu_now_ms(e) && !reading_alt(e, R_PAST_EXPIRY))
			BAD(v, "InvalidInput", "expirationTime is in the past");
	}
	if (json_object_get(e->rejected, value))
		BAD(v, "InvalidInput", "Indicator value %.80s is not allowed", value);
	return true;
}

/* The documents' lenient forms (section 9): generateAlert as "True" or
 * "False" (documented as an Enum), rbacGroupNames as a comma-separated
 * string (documented as String). Rewritten in o before validation. */
static void
lenient_forms(json_t *o)
{
	json_t *ga = json_object_get(o, "generateAlert");
	if (json_is_string(ga)) {
		const char *t = json_string_value(ga);
		if (strcasecmp(t, "true") == 0 || strcasecmp(t, "false") == 0)
			json_object_set_new(o, "generateAlert", json_boolean(strcasecmp(t, "true") == 0));
	}
	json_t *g = json_object_get(o, "rbacGroupNames");
	if (json_is_string(g)) {
		json_t *arr = json_array();
		const char *p = json_string_value(g);
		while (*p) {
			size_t n = strcspn(p, ",");
			const char *a = p, *b = p + n;
			while (a < b && isspace((unsigned char)*a))
				a++;
			while (b > a && isspace((unsigned char)b[-1]))
				b--;
			if (b > a)
				json_array_append_new(arr, json_stringn(a, (size_t)(b - a)));
			p += n + (p[n] == ',');
		}
		json_object_set_new(o, "rbacGroupNames", arr);
	}
}

/* group-names=validate: every name must be a device group of the tenant
 * (known from the machines); the ids are filled in. */
static bool
groups_check(struct emu *e, json_t *o, struct verdict *v)
{
	json_t *names = json_object_get(o, "rbacGroupNames"), *el;
	size_t i;
	if (!reading_alt(e, R_GROUP_NAMES) || !json_is_array(names))
		return true;
	json_t *ids = json_array();
	json_array_foreach(names, i, el) {
		int id = emu_group_id(e, json_string_value(el));
		if (id < 0) {
			json_decref(ids);
			BAD(v, "InvalidInput", "Device group %.80s was not found", json_string_value(el));
		}
		char num[16];
		snprintf(num, sizeof(num), "%d", id);
		json_array_append_new(ids, json_string(num));
	}
	json_object_set_new(o, "rbacGroupIds", ids);
	return true;
}

/* normalize=canonical: the value in the service's own form (hashes and
 * thumbprints upper case, IPv6 as RFC 5952 text, domains lower case, a
 * URL's scheme and host lower case), which is what is stored, matched
 * and returned. Our own rules, written apart from iocsync's. */
static void
normalize(const struct emu *e, json_t *o)
{
	if (!reading_alt(e, R_NORMALIZE))
		return;
	const char *type = json_string_value(json_object_get(o, "indicatorType"));
	char *v = xstrdup(json_string_value(json_object_get(o, "indicatorValue")));
	if (strncmp(type, "File", 4) == 0 || strcmp(type, "CertificateThumbprint") == 0) {
		for (char *p = v; *p; p++)
			*p = (char)toupper((unsigned char)*p);
	} else if (strcmp(type, "DomainName") == 0) {
		for (char *p = v; *p; p++)
			*p = (char)tolower((unsigned char)*p);
	} else if (strcmp(type, "IpAddress") == 0 && strchr(v, ':')) {
		unsigned char a[16];
		char out[INET6_ADDRSTRLEN];
		if (inet_pton(AF_INET6, v, a) == 1 && inet_ntop(AF_INET6, a, out, sizeof(out))) {
			free(v);
			v = xstrdup(out);
		}
	} else if (strcmp(type, "Url") == 0) {
		char *host = strstr(v, "://");
		char *end = host ? host + 3 + strcspn(host + 3, "/?#") : v;
		for (char *p = v; p < end; p++)
			*p = (char)tolower((unsigned char)*p);
	}
	json_object_set_new(o, "indicatorValue", json_string(v));
	free(v);
}

/* ---- the store ---- */

/* In a's tenant and created by a. */
static bool
owns(const struct app *a, const struct indicator *x)
{
	const char *by = json_string_value(json_object_get(x->obj, "createdBy"));
	return strcmp(x->tenant, a->tenant) == 0 && app_is(a, by);
}

static bool
visible(const struct app *a, const struct indicator *x)
{
	if (a->roles & (ROLE_TI_RW_ALL | ROLE_TI_READ_ALL))
		return strcmp(x->tenant, a->tenant) == 0;
	return owns(a, x);
}

static bool
may_write(const struct app *a, const struct indicator *x)
{
	if (a->roles & ROLE_TI_RW_ALL)
		return strcmp(x->tenant, a->tenant) == 0;
	return (a->roles & ROLE_TI_RW) && owns(a, x);
}

/* ---- key index ---- */

static char tomb;
#define KMAP_TOMB (&tomb)

/* The upsert key: (tenant, type, value, action), or without the action
 * under upsert-key=type-value. */
static char *
key_of(const struct emu *e, const char *tenant, json_t *o, size_t *len)
{
	struct strbuf sb = {0};
	const char *parts[] = {tenant, json_string_value(json_object_get(o, "indicatorType")),
			       json_string_value(json_object_get(o, "indicatorValue")),
			       json_string_value(json_object_get(o, "action"))};
	for (size_t i = 0; i < (reading_alt(e, R_UPSERT_KEY) ? 3u : 4u); i++)
		sb_add(&sb, parts[i] ? parts[i] : "", (parts[i] ? strlen(parts[i]) : 0) + 1); /* with its NUL */
	*len = sb.len;
	return sb.buf;
}

static struct kslot *
kmap_find(const struct kmap *m, const char *k, size_t n, bool for_insert)
{
	if (m->cap == 0)
		return NULL;
	struct kslot *first_tomb = NULL;
	for (size_t j = hash_bytes(k, n, 7) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		struct kslot *s = &m->slots[j];
		if (s->key == NULL)
			return for_insert ? (first_tomb ? first_tomb : s) : NULL;
		if (s->key == KMAP_TOMB) {
			if (first_tomb == NULL)
				first_tomb = s;
		} else if (s->len == n && memcmp(s->key, k, n) == 0) {
			return s;
		}
	}
}

static void
kmap_put(struct kmap *m, char *k, size_t n, long long id)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct kmap bigger = {xcalloc(m->cap ? m->cap * 2 : 1024, sizeof(struct kslot)),
				      m->cap ? m->cap * 2 : 1024, 0};
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key && m->slots[i].key != KMAP_TOMB) {
				*kmap_find(&bigger, m->slots[i].key, m->slots[i].len, true) = m->slots[i];
				bigger.used++;
			}
		free(m->slots);
		*m = bigger;
	}
	struct kslot *s = kmap_find(m, k, n, true);
	if (s->key == NULL)
		m->used++;
	*s = (struct kslot){k, n, id};
}

static void
kmap_del(struct kmap *m, const char *k, size_t n)
{
	struct kslot *s = kmap_find(m, k, n, false);
	if (s) {
		free(s->key);
		s->key = KMAP_TOMB;
	}
}

static void
kmap_free(struct kmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != KMAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	*m = (struct kmap){0};
}

/* The tenant's count of active indicators, kept by index_at and
 * remove_at: the cap check runs for every imported item. */
static size_t *
active(struct emu *e, const char *tenant)
{
	for (size_t i = 0; i < e->ntcounts; i++)
		if (strcmp(e->tcounts[i].tenant, tenant) == 0)
			return &e->tcounts[i].n;
	e->tcounts = xrealloc(e->tcounts, (e->ntcounts + 1) * sizeof(*e->tcounts));
	e->tcounts[e->ntcounts] = (struct tcount){xstrdup(tenant), 0};
	return &e->tcounts[e->ntcounts++].n;
}

static struct indicator *find_num(struct emu *e, long long id, size_t *at);

static struct indicator *
find_key(struct emu *e, const char *tenant, json_t *in)
{
	size_t n, at;
	char *k = key_of(e, tenant, in, &n);
	struct kslot *s = kmap_find(&e->keys, k, n, false);
	free(k);
	return s ? find_num(e, s->id, &at) : NULL;
}

/* One line of the change log (GET /_emulator/changes): what happened to
 * which indicator, in order, so a test can replay the tenant's state
 * between any two calls. */
static void
log_change(struct emu *e, const char *op, const struct indicator *x)
{
	if (json_array_size(e->changes) >= 200000)
		json_array_remove(e->changes, 0);
	json_t *o = x->obj;
	json_array_append_new(e->changes,
			      json_pack("{s:s, s:I, s:s, s:O, s:O, s:O, s:O, s:I}", "op", op, "id", (json_int_t)x->id,
					"tenant", x->tenant, "type", json_object_get(o, "indicatorType"), "value",
					json_object_get(o, "indicatorValue"), "action", json_object_get(o, "action"),
					"createdBy", json_object_get(o, "createdBy"), "at_ms",
					(json_int_t)emu_now_ms(e)));
}

static void
remove_at(struct emu *e, size_t i, const char *why)
{
	size_t n;
	log_change(e, why, &e->inds[i]);
	char *k = key_of(e, e->inds[i].tenant, e->inds[i].obj, &n);
	kmap_del(&e->keys, k, n);
	free(k);
	(*active(e, e->inds[i].tenant))--;
	free(e->inds[i].tenant);
	json_decref(e->inds[i].obj);
	memmove(&e->inds[i], &e->inds[i + 1], (e->ninds - i - 1) * sizeof(*e->inds));
	e->ninds--;
}

void
ind_expire(struct emu *e)
{
	long long now = emu_now_ms(e) / 1000;
	for (size_t i = e->ninds; i-- > 0;)
		if (e->inds[i].expire_at && e->inds[i].expire_at <= now)
			remove_at(e, i, "expire");
}

void
ind_free_all(struct emu *e)
{
	while (e->ninds)
		remove_at(e, e->ninds - 1, "reset");
	free(e->inds);
	e->inds = NULL;
	e->inds_cap = 0;
	kmap_free(&e->keys);
	for (size_t i = 0; i < e->ntcounts; i++)
		free(e->tcounts[i].tenant);
	free(e->tcounts);
	e->tcounts = NULL;
	e->ntcounts = 0;
}

/* Indexes the indicator at position i (after it has its fields). */
static void
index_at(struct emu *e, size_t i)
{
	size_t n;
	char *k = key_of(e, e->inds[i].tenant, e->inds[i].obj, &n);
	kmap_put(&e->keys, k, n, e->inds[i].id);
	(*active(e, e->inds[i].tenant))++;
}

void
ind_reindex(struct emu *e)
{
	kmap_free(&e->keys);
	for (size_t i = 0; i < e->ninds; i++) {
		size_t n;
		char *k = key_of(e, e->inds[i].tenant, e->inds[i].obj, &n);
		kmap_put(&e->keys, k, n, e->inds[i].id);
	}
}

static const char *const copied[] = {
	"indicatorValue", "indicatorType",  "action",          "title",
	"description",    "expirationTime", "severity",        "recommendedActions",
	"rbacGroupNames", "rbacGroupIds",   "generateAlert",   "educateUrl",
	"externalId",     "category",       "mitreTechniques", "bypassDurationHours",
};

/* What an optional field becomes when an update omits it under
 * omitted-fields=reset: its value on a fresh indicator. */
static json_t *
field_default(const char *name)
{
	if (strcmp(name, "severity") == 0)
		return json_string("Informational");
	if (strcmp(name, "rbacGroupNames") == 0 || strcmp(name, "rbacGroupIds") == 0)
		return json_array();
	if (strcmp(name, "generateAlert") == 0)
		return json_false();
	return json_null();
}

/*
 * The first half of an upsert: takes the body as the documents allow it
 * (lenient forms), validates it under the readings, normalises it, and
 * checks that the app may write the indicator it would update. Returns
 * the item as it would be stored (a new reference) and *old, the
 * indicator it updates or NULL; or NULL with v filled.
 */
static json_t *
upsert_check(struct emu *e, const struct app *a, json_t *in, struct indicator **old, struct verdict *v)
{
	if (!json_is_object(in)) {
		v->status = 400;
		v->code = "InvalidRequestBody";
		snprintf(v->msg, sizeof(v->msg), "Request body is incorrect");
		return NULL;
	}
	json_t *o = json_deep_copy(in);
	lenient_forms(o);
	if (!validate(e, o, v) || !groups_check(e, o, v)) {
		json_decref(o);
		return NULL;
	}
	normalize(e, o);
	*old = find_key(e, a->tenant, o);
	if (*old && !may_write(a, *old)) {
		v->status = 403;
		v->code = "Forbidden";
		snprintf(v->msg, sizeof(v->msg), "The application may not update indicator %lld", (*old)->id);
		json_decref(o);
		return NULL;
	}
	return o;
}

static void
cap_reached(const struct emu *e, struct verdict *v)
{
	v->status = 400;
	v->code = "InvalidInput";
	snprintf(v->msg, sizeof(v->msg), "The tenant already has %ld active indicators, the maximum", e->cap);
}

/* The second half: creates or updates with the checked item o (upsert
 * key per the reading). Returns the stored resource (borrowed) or NULL
 * with v filled (the cap). */
static json_t *
upsert_apply(struct emu *e, const struct app *a, json_t *o, struct verdict *v)
{
	char now[40], oid[37];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	app_object_id(a, oid);
	const char *me = reading_alt(e, R_CREATED_BY) ? oid : a->client_id;
	struct indicator *x = find_key(e, a->tenant, o);
	bool fresh = x == NULL;
	if (x == NULL) {
		if ((long)*active(e, a->tenant) >= e->cap) {
			cap_reached(e, v);
			return NULL;
		}
		xgrow((void **)&e->inds, &e->inds_cap, e->ninds + 1, sizeof(*e->inds));
		x = &e->inds[e->ninds++];
		x->id = e->next_id++;
		x->tenant = xstrdup(a->tenant);
		x->obj = json_object();
		char id[24];
		snprintf(id, sizeof(id), "%lld", x->id);
		json_object_set_new(x->obj, "id", json_string(id));
		json_t *app = json_object_get(o, "application");
		json_object_set_new(x->obj, "application", app && json_is_string(app) ? json_copy(app) : json_null());
		json_object_set_new(x->obj, "sourceType", json_string("AadApp"));
		json_object_set_new(x->obj, "createdBy", json_string(me));
		json_object_set_new(x->obj, "createdByDisplayName", json_string(a->name));
		json_object_set_new(x->obj, "createdBySource", json_string("PublicApi"));
		json_object_set_new(x->obj, "creationTimeDateTimeUtc", json_string(now));
		json_object_set_new(x->obj, "lastUpdatedBy", json_null());
		for (size_t i = 3; i < NELEM(copied); i++) /* the optional ones */
			json_object_set_new(x->obj, copied[i], field_default(copied[i]));
	} else {
		json_object_set_new(x->obj, "lastUpdatedBy", json_string(me));
	}
	json_object_set_new(x->obj, "lastUpdateTime", json_string(now));
	bool reset = !fresh && reading_alt(e, R_OMITTED_FIELDS);
	for (size_t i = 0; i < NELEM(copied); i++) {
		json_t *f = json_object_get(o, copied[i]);
		if (f)
			json_object_set(x->obj, copied[i], f);
		else if (reset)
			json_object_set_new(x->obj, copied[i], field_default(copied[i]));
	}
	json_t *exp = json_object_get(x->obj, "expirationTime");
	long long ms = 0;
	x->expire_at = 0;
	if (json_is_string(exp) && emu_time_parse(json_string_value(exp), &ms)) {
		char norm[40];
		emu_time_format(ms, norm, sizeof(norm));
		json_object_set_new(x->obj, "expirationTime", json_string(norm));
		x->expire_at = ms / 1000;
	}
	if (fresh)
		index_at(e, (size_t)(x - e->inds));
	log_change(e, fresh ? "create" : "update", x);
	return x->obj;
}

static json_t *
upsert(struct emu *e, const struct app *a, json_t *in, struct verdict *v)
{
	struct indicator *old;
	json_t *o = upsert_check(e, a, in, &old, v);
	json_t *out = o ? upsert_apply(e, a, o, v) : NULL;
	json_decref(o);
	return out;
}

static json_t *
parse_body(const struct request *q, struct reply *r)
{
	json_error_t err;
	if (q->content_type == NULL || strncasecmp(q->content_type, "application/json", 16) != 0) {
		reply_error(r, 400, "InvalidRequestBody", "Content-Type must be application/json");
		return NULL;
	}
	json_t *j = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		reply_error(r, 400, "InvalidRequestBody", "Request body is incorrect: line %d, column %d: %s", err.line,
			    err.column, err.text);
	return j;
}

static void
with_context(struct emu *e, json_t *body, const char *what)
{
	char *ctx = xasprintf("%s/api/$metadata#%s", e->base, what);
	json_object_set_new(body, "@odata.context", json_string(ctx));
	free(ctx);
}

/* Reading (list) with Ti.Read.All too, unless list-permission says the
 * documents' list of permissions is the whole truth. */
static bool
may_use_ti(const struct emu *e, const struct app *a, bool write, struct reply *r)
{
	bool read_all = !write && !reading_alt(e, R_LIST_PERMISSION);
	unsigned need = ROLE_TI_RW | ROLE_TI_RW_ALL | (read_all ? ROLE_TI_READ_ALL : 0);
	if (a->roles & need)
		return true;
	reply_error(r, 403, "Forbidden", "The application lacks the permission Ti.ReadWrite(.All)");
	return false;
}

void
ind_submit(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	struct verdict v = {0};
	if (!may_use_ti(e, a, true, r))
		return;
	json_t *in = parse_body(q, r);
	if (in == NULL)
		return;
	json_t *out = upsert(e, a, in, &v);
	json_decref(in);
	if (out == NULL) {
		reply_error(r, v.status, v.code, "%s", v.msg);
		return;
	}
	r->status = 200;
	r->body = json_copy(out);
	with_context(e, r->body, "Indicators/$entity");
	(void)emu_state_save(e, NULL, 0);
}

static json_t *
import_result(json_t *item, json_t *out, const struct verdict *v)
{
	/* The value as stored (normalised) when it was, else as given. */
	json_t *val = out              ? json_object_get(out, "indicatorValue")
		: json_is_object(item) ? json_object_get(item, "indicatorValue")
				       : NULL;
	json_t *res = json_object();
	json_object_set_new(res, "id", out ? json_copy(json_object_get(out, "id")) : json_null());
	json_object_set_new(res, "indicator", json_is_string(val) ? json_copy(val) : json_null());
	json_object_set_new(res, "isFailed", json_boolean(out == NULL));
	if (out) {
		json_object_set_new(res, "failureReason", json_null());
	} else {
		char *why = xasprintf("%s: %s", v->code, v->msg);
		json_object_set_new(res, "failureReason", json_string(why));
		free(why);
	}
	return res;
}

/* import-errors=whole-batch: every item is checked before any is
 * written, the tenant cap included; one refused item refuses the request
 * (400 with its code) and nothing is stored. Returns false with v. */
static bool
whole_batch_check(struct emu *e, const struct app *a, json_t *list, struct verdict *v)
{
	json_t *item, *newkeys = json_object();
	size_t i, fresh = 0;
	bool ok = true;
	json_array_foreach(list, i, item) {
		struct indicator *old;
		json_t *o = upsert_check(e, a, item, &old, v);
		if (o == NULL) {
			ok = false;
			break;
		}
		if (old == NULL) {
			size_t n;
			char *k = key_of(e, a->tenant, o, &n);
			for (size_t j = 0; j < n; j++) /* NULs separate the parts */
				if (k[j] == '\0')
					k[j] = '\x1f';
			if (json_object_get(newkeys, k) == NULL) {
				json_object_set_new(newkeys, k, json_true());
				fresh++;
			}
			free(k);
		}
		json_decref(o);
	}
	json_decref(newkeys);
	if (ok && (long)(*active(e, a->tenant) + fresh) > e->cap) {
		cap_reached(e, v);
		ok = false;
	}
	if (!ok)
		v->status = 400; /* the request is refused as a whole, whatever the item's own status */
	return ok;
}

void
ind_import(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	if (!may_use_ti(e, a, true, r))
		return;
	json_t *in = parse_body(q, r);
	if (in == NULL)
		return;
	json_t *list = json_object_get(in, "Indicators");
	if (!json_is_object(in) || list == NULL) {
		reply_error(r, 400, "MissingRequiredParameter", "Parameter Indicators is missing");
		json_decref(in);
		return;
	}
	if (!json_is_array(list) || json_array_size(list) == 0) {
		reply_error(r, 400, "InvalidRequestBody",
			    "Request body is incorrect: Indicators must be a non-empty array");
		json_decref(in);
		return;
	}
	if (json_array_size(list) > 500) {
		reply_error(r, 400, "MaximumBatchSizeExceeded",
			    "Maximum batch size exceeded. Received: %zu, allowed: 500", json_array_size(list));
		json_decref(in);
		return;
	}
	struct verdict wv = {0};
	if (reading_alt(e, R_IMPORT_ERRORS) && !whole_batch_check(e, a, list, &wv)) {
		reply_error(r, wv.status, wv.code, "%s", wv.msg);
		json_decref(in);
		return;
	}
	json_t *results = json_array(), *item;
	size_t i;
	json_array_foreach(list, i, item) {
		struct verdict v = {0};
		json_t *out = NULL;
		if (e->item_fault && i % 2 == 1) {
			v.status = 500;
			v.code = "InternalServerError";
			snprintf(v.msg, sizeof(v.msg), "Injected transient failure");
		} else {
			out = upsert(e, a, item, &v);
		}
		json_array_append_new(results, import_result(item, out, &v));
	}
	json_decref(in);
	r->status = 200;
	r->body = json_pack("{s:o}", "value", results);
	with_context(e, r->body, "Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)");
	(void)emu_state_save(e, NULL, 0);
}

bool
emu_query_int(const struct request *q, const char *name, long long max, long long *out, struct reply *r)
{
	const char *s = req_query(q, name);
	long long v;
	if (s == NULL)
		return true;
	if (num_parse(s, 0, max, &v, NULL) != ERR_OK) {
		reply_error(r, 400, "ODataError", "%s must be an integer from 0 to %lld", name, max);
		return false;
	}
	*out = v;
	return true;
}

void
ind_list(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	long long top = -1, skip = 0;
	char why[256];
	struct filter *f = NULL;

	if (!may_use_ti(e, a, false, r))
		return;
	if (!emu_query_int(q, "$top", 10000, &top, r) || !emu_query_int(q, "$skip", 1LL << 40, &skip, r))
		return;
	const char *fs = req_query(q, "$filter");
	if (fs && (f = filter_parse(fs, FILTER_INDICATORS, why, sizeof(why))) == NULL) {
		reply_error(r, 400, "ODataError", "Invalid $filter: %s", why);
		return;
	}
	long long limit = top >= 0 ? top : 10000, seen = 0, taken = 0;
	bool more = false;
	json_t *value = json_array();
	for (size_t i = 0; i < e->ninds; i++) {
		if (!visible(a, &e->inds[i]) || (f && !filter_match(f, e->inds[i].obj)))
			continue;
		if (seen++ < skip)
			continue;
		if (taken == limit) {
			more = true;
			break;
		}
		json_array_append(value, e->inds[i].obj);
		taken++;
	}
	filter_free(f);
	if (taken == 0 && reading_alt(e, R_EMPTY_LIST)) {
		/* As GET /api/machines does when nothing matches (DD get-machines.md). */
		json_decref(value);
		reply_error(r, 404, "NotFound", "No indicators were found");
		return;
	}
	r->status = 200;
	r->body = json_object();
	with_context(e, r->body, "Indicators");
	json_object_set_new(r->body, "value", value);
	if (more && top < 0) {
		struct strbuf sb = {0};
		sb_addf(&sb, "%s/api/indicators?$skip=%lld", e->base, skip + taken);
		if (fs) {
			sb_adds(&sb, "&$filter=");
			for (const unsigned char *p = (const unsigned char *)fs; *p; p++) {
				if (isalnum(*p) || strchr("-_.~", *p))
					sb_addc(&sb, (char)*p);
				else
					sb_addf(&sb, "%%%02X", *p);
			}
		}
		json_object_set_new(r->body, "@odata.nextLink", json_string(sb.buf));
		sb_free(&sb);
	}
}

/* The indicators stay sorted by id: binary search. */
static size_t
lower_bound(const struct emu *e, long long id)
{
	size_t lo = 0, hi = e->ninds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->inds[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static struct indicator *
find_num(struct emu *e, long long id, size_t *at)
{
	size_t i = lower_bound(e, id);
	if (i == e->ninds || e->inds[i].id != id)
		return NULL;
	*at = i;
	return &e->inds[i];
}

/* "007" is not id 7. */
static struct indicator *
find_id(struct emu *e, const char *id, size_t *at)
{
	long long v;
	if (id[0] < '1' || id[0] > '9' || num_parse(id, 1, 1LL << 53, &v, NULL) != ERR_OK)
		return NULL;
	return find_num(e, v, at);
}

void
ind_delete(struct emu *e, const struct app *a, const char *id, struct reply *r)
{
	size_t at;
	if (!may_use_ti(e, a, true, r))
		return;
	struct indicator *x = find_id(e, id, &at);
	if (x == NULL || !visible(a, x)) {
		reply_error(r, 404, "ResourceNotFound", "Indicator %.40s was not found", id);
		return;
	}
	if (!may_write(a, x)) {
		reply_error(r, 403, "Forbidden", "The application may not delete indicator %.40s", id);
		return;
	}
	remove_at(e, at, "delete");
	r->status = 204;
	r->raw_empty = true;
	(void)emu_state_save(e, NULL, 0);
}

void
ind_batch_delete(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	if (!may_use_ti(e, a, true, r))
		return;
	json_t *in = parse_body(q, r), *ids, *el;
	size_t i, at;
	if (in == NULL)
		return;
	ids = json_object_get(in, "IndicatorIds");
	if (!json_is_array(ids) || json_array_size(ids) == 0) {
		reply_error(r, 400, "InvalidRequestBody", "IndicatorIds must be a non-empty array of strings");
		goto out;
	}
	if (json_array_size(ids) > 500) {
		reply_error(r, 400, "MaximumBatchSizeExceeded",
			    "Maximum batch size exceeded. Received: %zu, allowed: 500", json_array_size(ids));
		goto out;
	}
	/* Atomic: check every id before deleting any. */
	json_array_foreach(ids, i, el) {
		long long v;
		if (!json_is_string(el) || num_parse(json_string_value(el), 1, 1LL << 53, &v, NULL) != ERR_OK) {
			reply_error(r, 400, "InvalidInput", "Indicator id at position %zu is invalid", i);
			goto out;
		}
	}
	json_array_foreach(ids, i, el) {
		struct indicator *x = find_id(e, json_string_value(el), &at);
		if (x == NULL || !visible(a, x)) {
			reply_error(r, 404, "ResourceNotFound", "Indicator %s was not found", json_string_value(el));
			goto out;
		}
		if (!may_write(a, x)) {
			reply_error(r, 403, "Forbidden", "The application may not delete indicator %s",
				    json_string_value(el));
			goto out;
		}
	}
	json_array_foreach(ids, i, el) {
		if (find_id(e, json_string_value(el), &at)) /* a repeated id is gone already */
			remove_at(e, at, "delete");
	}
	r->status = 204;
	r->raw_empty = true;
	(void)emu_state_save(e, NULL, 0);
out:
	json_decref(in);
}

bool
ind_load(struct emu *e, json_t *o, char *why, size_t whysz)
{
	const char *tenant = json_string_value(json_object_get(o, "tenant"));
	json_t *res = json_object_get(o, "indicator");
	const char *fields[] = {"id", "indicatorValue", "indicatorType", "action", "createdBy"};
	if (tenant == NULL || !json_is_object(res)) {
		snprintf(why, whysz, "an indicator needs \"tenant\" and \"indicator\"");
		return false;
	}
	for (size_t i = 0; i < 5; i++)
		if (!json_is_string(json_object_get(res, fields[i]))) {
			snprintf(why, whysz, "indicator.%s must be a string", fields[i]);
			return false;
		}
	long long id;
	if (num_parse(json_string_value(json_object_get(res, "id")), 1, 1LL << 53, &id, NULL) != ERR_OK) {
		snprintf(why, whysz, "indicator.id must be a positive number in a string");
		return false;
	}
	size_t at;
	if (find_id(e, json_string_value(json_object_get(res, "id")), &at)) {
		snprintf(why, whysz, "indicator id %lld exists already", id);
		return false;
	}
	if (find_key(e, tenant, res)) {
		snprintf(why, whysz, "an indicator with this tenant, type, value and action exists already");
		return false;
	}
	xgrow((void **)&e->inds, &e->inds_cap, e->ninds + 1, sizeof(*e->inds));
	size_t pos = lower_bound(e, id);
	memmove(&e->inds[pos + 1], &e->inds[pos], (e->ninds - pos) * sizeof(*e->inds));
	e->ninds++;
	struct indicator *x = &e->inds[pos];
	x->id = id;
	x->tenant = xstrdup(tenant);
	x->obj = json_deep_copy(res);
	index_at(e, pos);
	x->expire_at = 0;
	long long ms;
	json_t *exp = json_object_get(res, "expirationTime");
	if (json_is_string(exp) && emu_time_parse(json_string_value(exp), &ms))
		x->expire_at = ms / 1000;
	if (id >= e->next_id)
		e->next_id = id + 1;
	return true;
}
