/* What the emulator accepts as an indicator: the rules of section 4 of
 * the spec and the contract of its section 8, under the readings of
 * section 9; then the form it stores (normalisation). Independent of
 * iocsync's own validation on purpose (DESIGN.md, emu/). */
#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

#define BAD(v, c, ...) \
	do { \
		(v)->status = 400; \
		(v)->code = (c); \
		snprintf((v)->msg, sizeof((v)->msg), __VA_ARGS__); \
		return false; \
	} while (0)

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

/* Validates a submitted indicator body. */
bool
emu_validate(struct emu *e, json_t *o, struct verdict *v)
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
void
emu_lenient_forms(json_t *o)
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
bool
emu_groups_check(struct emu *e, json_t *o, struct verdict *v)
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
void
emu_normalize(const struct emu *e, json_t *o)
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
