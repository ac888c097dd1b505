#include "config.h"

#include "http.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "policy.h"
#include "strset.h"

static const char *const sev_names[] = {"Informational", "Low", "Medium", "High"};
_Static_assert(NELEM(sev_names) == SEV__COUNT, "severity names");

const char *
severity_name(enum severity s)
{
	return (unsigned)s < SEV__COUNT ? sev_names[s] : "";
}

enum kt {
	K_STR,
	K_PATH,
	K_BOOL,
	K_INT,
	K_DUR,
	K_GUID,
	K_URL,
	K_TYPES,
	K_ACTION,
	K_SEVERITY,
	K_FORMAT,
	K_LIST,
	K_CHAR,
	K_CIDR,
	K_PCT,
	K_CLOUD,
	K_LOGLEVEL,
	K_CSVHDR,
	K_TO_IDS,
	K_FILES,
	K_LOGFMT,
	K_QUOTA,
};

enum sec {
	S_MDE,
	S_SYNC,
	S_FETCH,
	S_ALLOWLIST,
	S_FEED,
	S_TENANT,
	S__COUNT
};
static const char *const sec_names[] = {"mde", "sync", "fetch", "allowlist", "feed", "tenant"};
_Static_assert(NELEM(sec_names) == S__COUNT, "section names");

#define C(f) offsetof(struct config, f)
#define F(f) offsetof(struct feed_cfg, f)

static const struct key {
	enum sec sec;
	const char *name;
	enum kt t;
	size_t off;
	long long min, max;
} keys[] = {
	{S_MDE, "tenant_id", K_GUID, C(tenant_id), 0, 0},
	{S_MDE, "client_id", K_GUID, C(client_id), 0, 0},
	{S_MDE, "client_secret_file", K_PATH, C(client_secret_file), 0, 0},
	{S_MDE, "certificate", K_PATH, C(certificate), 0, 0},
	{S_MDE, "cloud", K_CLOUD, C(cloud), 0, 0},
	{S_MDE, "application", K_STR, C(application), 0, 0},
	{S_MDE, "api_url", K_URL, C(api_url), 0, 0},
	{S_MDE, "login_url", K_URL, C(login_url), 0, 0},
	{S_MDE, "allow_http", K_BOOL, C(allow_http), 0, 0},
	{S_MDE, "client_secret_env", K_STR, C(client_secret_env), 0, 0},
	{S_MDE, "client_secret_credential", K_STR, C(client_secret_credential), 0, 0},
	{S_MDE, "certificate_alg", K_STR, C(certificate_alg), 0, 0},
	{S_MDE, "token_version", K_INT, C(token_version), 1, 2},
	{S_MDE, "region", K_STR, C(region), 0, 0},
	{S_MDE, "resource", K_URL, C(resource), 0, 0},
	{S_MDE, "ca_file", K_PATH, C(mde_ca_file), 0, 0},
	{S_MDE, "proxy", K_URL, C(mde_proxy), 0, 0},
	{S_MDE, "timeout", K_DUR, C(api_timeout_s), 1, 3600},
	{S_MDE, "deadline", K_DUR, C(api_deadline_s), 1, 86400},
	{S_MDE, "rate_limit_percent", K_INT, C(rate_limit_pct), 0, 100000},
	{S_MDE, "list_page", K_INT, C(list_page), 1, 10000},
	{S_SYNC, "state", K_PATH, C(state), 0, 0},
	{S_SYNC, "reserve", K_INT, C(reserve), 0, 15000},
	{S_SYNC, "cap", K_INT, C(cap), 1, 1000000},
	{S_SYNC, "grace", K_DUR, C(grace_s), 0, 365LL * 86400},
	{S_SYNC, "renew_before", K_DUR, C(renew_before_s), 0, 365LL * 86400},
	{S_SYNC, "max_delete", K_PCT, C(max_delete_pct), 0, 100},
	{S_SYNC, "interval", K_DUR, C(interval_s), 60, 30LL * 86400},
	{S_SYNC, "log_file", K_PATH, C(log_file), 0, 0},
	{S_SYNC, "log_level", K_LOGLEVEL, C(log_level), 0, 0},
	{S_SYNC, "log_format", K_LOGFMT, C(log_json), 0, 0},
	{S_SYNC, "metrics_file", K_PATH, C(metrics_file), 0, 0},
	{S_SYNC, "cidr", K_CIDR, C(cidr), 0, 0},
	{S_SYNC, "verify_device_groups", K_BOOL, C(verify_device_groups), 0, 0},
	{S_SYNC, "cidr_expand_max", K_INT, C(cidr_expand_max), 1, 1LL << (32 - LIMIT_CIDR_EXPAND_MIN_PREFIX4)},
	{S_FETCH, "ca_file", K_PATH, C(ca_file), 0, 0},
	{S_FETCH, "proxy", K_URL, C(proxy), 0, 0},
	{S_FETCH, "user_agent", K_STR, C(user_agent), 0, 0},
	{S_FETCH, "connect_timeout", K_DUR, C(connect_timeout_s), 1, 600},
	{S_FETCH, "timeout", K_DUR, C(timeout_s), 1, 3600},
	{S_FETCH, "max_bytes", K_INT, C(max_bytes), 1, LIMIT_FEED_BYTES},
	{S_FETCH, "max_redirects", K_INT, C(max_redirects), 0, 20},
	{S_ALLOWLIST, "file", K_FILES, C(allowlist_files), 0, 0},
	{S_FEED, "url", K_URL, F(url), 0, 0},
	{S_FEED, "format", K_FORMAT, F(format), 0, 0},
	{S_FEED, "type", K_TYPES, F(types), 0, 0},
	{S_FEED, "action", K_ACTION, F(action), 0, 0},
	{S_FEED, "severity", K_SEVERITY, F(severity), 0, 0},
	{S_FEED, "expire_after", K_DUR, F(expire_after_s), 3600, 365LL * 86400},
	{S_FEED, "device_groups", K_LIST, F(device_groups), 0, 0},
	{S_FEED, "generate_alert", K_BOOL, F(generate_alert), 0, 0},
	{S_FEED, "title", K_STR, F(title), 0, 0},
	{S_FEED, "description", K_STR, F(description), 0, 0},
	{S_FEED, "recommended_actions", K_STR, F(recommended_actions), 0, 0},
	{S_FEED, "educate_url", K_URL, F(educate_url), 0, 0},
	{S_FEED, "priority", K_INT, F(priority), -1000, 1000},
	{S_FEED, "csv_delimiter", K_CHAR, F(csv_delim), 0, 0},
	{S_FEED, "csv_columns", K_STR, F(csv_columns), 0, 0},
	{S_FEED, "csv_header", K_CSVHDR, F(csv_header), 0, 0},
	{S_FEED, "misp_to_ids", K_TO_IDS, F(misp_ignore_to_ids), 0, 0},
	{S_FEED, "timeout", K_DUR, F(timeout_s), 1, 3600},
	{S_FEED, "max_bytes", K_INT, F(max_bytes), 1, LIMIT_FEED_BYTES},
	{S_FEED, "max_shrink", K_PCT, F(max_shrink_pct), 1, 100},
	{S_FEED, "quota", K_QUOTA, F(quota), 1, 1000000},
	{S_FEED, "enabled", K_BOOL, F(enabled), 0, 0},
	{S_FEED, "taxii_collection", K_STR, F(taxii_collection), 0, 0},
	{S_FEED, "taxii_api_root", K_URL, F(taxii_api_root), 0, 0},
	{S_FEED, "username", K_STR, F(username), 0, 0},
	{S_FEED, "password_file", K_PATH, F(password_file), 0, 0},
	{S_FEED, "api_key_header", K_STR, F(api_key_header), 0, 0},
	{S_FEED, "api_key_file", K_PATH, F(api_key_file), 0, 0},
	{S_FEED, "allow_http", K_BOOL, F(allow_http), 0, 0},
};

#define NKEYS NELEM(keys)

static size_t
key_index(enum sec sec, const char *name)
{
	for (size_t i = 0; i < NKEYS; i++)
		if (keys[i].sec == sec && strcmp(keys[i].name, name) == 0)
			return i;
	abort(); /* a name of this file's table */
}

struct parse {
	struct config *c;
	const char *name;
	struct strbuf *errs;
	int errors;
	unsigned line;
	enum sec sec; /* current section, or S__COUNT when unknown */
	struct feed_cfg *feed;
	struct tenant_cfg *tenant;
	char cursec[256];
	bool seen[NKEYS]; /* per section instance */
	FILE *fp;
	const char *text; /* string input */
	bool long_line;
	struct strset *feed_names; /* name -> index in c->feeds */
	size_t feeds_cap;          /* xgrow's, for c->feeds */
};

static void err_at(struct parse *p, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void
err_at(struct parse *p, unsigned line, const char *fmt, ...)
{
	va_list ap;
	if (line)
		sb_addf(p->errs, "%s:%u: ", p->name, line);
	else /* a rule across keys: the message names the section */
		sb_addf(p->errs, "%s: ", p->name);
	va_start(ap, fmt);
	char *m;
	if (vasprintf(&m, fmt, ap) >= 0) {
		sb_adds(p->errs, m);
		free(m);
	}
	va_end(ap);
	sb_addc(p->errs, '\n');
	p->errors++;
}

static void
feed_defaults(struct feed_cfg *f)
{
	memset(f, 0, sizeof(*f));
	f->format = FEED_AUTO;
	f->action = ACT_BLOCK;
	f->severity = SEV_MEDIUM;
	f->expire_after_s = 30LL * 86400;
	f->title = xstrdup("{feed}: {value}");
	f->description = xstrdup("Indicator from feed {feed} (iocsync)");
	f->csv_header = -1;
	f->max_shrink_pct = 50;
	f->enabled = true;
}

struct config *
config_defaults(void)
{
	struct config *c = xcalloc(1, sizeof(*c));
	c->cloud = xstrdup("global");
	c->application = xstrdup("iocsync");
	c->state = xstrdup("/var/lib/iocsync/state.db");
	c->reserve = 500;
	c->cap = 15000;
	c->token_version = 2;
	c->api_timeout_s = 120;
	c->api_deadline_s = 900;
	c->rate_limit_pct = 100;
	c->list_page = 10000;
	c->max_delete_pct = 25;
	c->verify_device_groups = true;
	c->interval_s = 86400;
	c->log_level = LOG_INFO;
	c->cidr = CIDR_SKIP;
	c->cidr_expand_max = 256;
	c->user_agent = xstrdup("iocsync/" IOCSYNC_VERSION);
	c->connect_timeout_s = LIMIT_CONNECT_TIMEOUT_S_DEFAULT;
	c->timeout_s = LIMIT_FETCH_TIMEOUT_S_DEFAULT;
	c->max_bytes = LIMIT_FETCH_BYTES_DEFAULT;
	c->max_redirects = LIMIT_REDIRECTS;
	return c;
}

static void
free_list(char **l, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(l[i]);
	free(l);
}

static void
feed_free(struct feed_cfg *f)
{
	free(f->name);
	free(f->url);
	free_list(f->device_groups, f->ndevice_groups);
	free(f->title);
	free(f->description);
	free(f->recommended_actions);
	free(f->educate_url);
	free(f->csv_columns);
	free(f->taxii_collection);
	free(f->taxii_api_root);
	free(f->username);
	free(f->password_file);
	free(f->api_key_header);
	free(f->api_key_file);
}

static void
tenant_free(struct tenant_cfg *t)
{
	free(t->name);
	config_free(t->over);
	free(t->set);
	free_list(t->feeds, t->nfeeds);
	free_list(t->device_groups, t->ndevice_groups);
}

void
config_free(struct config *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->ntenants; i++)
		tenant_free(&c->tenants[i]);
	free(c->tenants);
	free(c->tenant_name);
	free(c->path);
	free(c->tenant_id);
	free(c->client_id);
	free(c->client_secret_file);
	free(c->certificate);
	free(c->cloud);
	free(c->application);
	free(c->api_url);
	free(c->login_url);
	free(c->client_secret_env);
	free(c->client_secret_credential);
	free(c->certificate_alg);
	free(c->region);
	free(c->resource);
	free(c->mde_ca_file);
	free(c->mde_proxy);
	free(c->state);
	free(c->log_file);
	free(c->metrics_file);
	free(c->ca_file);
	free(c->proxy);
	free(c->user_agent);
	free_list(c->allowlist_files, c->nallowlist_files);
	for (size_t i = 0; i < c->nfeeds; i++)
		feed_free(&c->feeds[i]);
	free(c->feeds);
	free(c);
}

static bool
is_guid(const char *s)
{
	if (strlen(s) != 36)
		return false;
	for (int i = 0; i < 36; i++) {
		if (i == 8 || i == 13 || i == 18 || i == 23) {
			if (s[i] != '-')
				return false;
		} else if (!is_xdigit((unsigned char)s[i])) {
			return false;
		}
	}
	return true;
}

/* Splits "a, b, c" into a list (empty items are errors). */
static bool
split_list(const char *v, char ***out, size_t *n)
{
	size_t cap = 0;
	const char *p = v;
	*out = NULL;
	*n = 0;
	for (;;) {
		const char *s = p, *e;
		while (*p && *p != ',')
			p++;
		e = p;
		while (s < e && is_space((unsigned char)*s))
			s++;
		while (e > s && is_space((unsigned char)e[-1]))
			e--;
		if (e == s) {
			free_list(*out, *n);
			*out = NULL;
			*n = 0;
			return false;
		}
		xgrow((void **)out, &cap, *n + 1, sizeof(char *));
		(*out)[(*n)++] = xstrndup(s, (size_t)(e - s));
		if (*p == '\0')
			return true;
		p++;
	}
}

/* csv_delimiter by name. ";" starts a comment after "= " and white space
 * is trimmed, so those must go by name (by_name: the dump writes them
 * so, and the dump loads back); the others may. */
static const struct {
	const char *name;
	char c;
	bool by_name;
} delims[] = {{"tab", '\t', true},  {"\\t", '\t', false},  {"semicolon", ';', true},
	      {"space", ' ', true}, {"comma", ',', false}, {"pipe", '|', false}};

/* Stores value v of key k into base; reports a bad value. */
static void
set_value(struct parse *p, const struct key *k, void *base, const char *v)
{
	char *field = (char *)base + k->off;
	long long n;
	const char *why = NULL, *bad = NULL;
	bool b;
	int i;

	switch (k->t) {
	case K_STR:
	case K_PATH:
	case K_CLOUD:
		if (*v == '\0') {
			err_at(p, p->line, "%s: empty value", k->name);
			return;
		}
		if (k->t == K_CLOUD && strcmp(v, "global") && strcmp(v, "gcc") && strcmp(v, "gcc-high") &&
		    strcmp(v, "dod") && strcmp(v, "custom")) {
			err_at(p, p->line, "cloud: \"%s\" is not one of global, gcc, gcc-high, dod, custom", v);
			return;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return;
	case K_URL: {
		struct url_parts u;
		char uwhy[300];
		if (strncasecmp(v, "https://", 8) && strncasecmp(v, "http://", 7) && strncasecmp(v, "file://", 7)) {
			err_at(p, p->line, "%s: \"%s\" is not an http://, https:// or file:// URL", k->name, v);
			return;
		}
		if (!http_url_parts(v, &u, uwhy, sizeof(uwhy))) {
			err_at(p, p->line, "%s: %s", k->name, uwhy);
			return;
		}
		/* "http://127.0.0.1:1@evil.example/" is evil.example: a user
		 * or password belongs in a proxy URL only. */
		if (u.userinfo && strcmp(k->name, "proxy") != 0) {
			err_at(p, p->line,
			       "%s: \"%s\" holds a user or password before '@': refused (its host is %s; "
			       "credentials go in their own files)",
			       k->name, v, u.host);
			return;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return;
	}
	case K_GUID:
		if (!is_guid(v)) {
			err_at(p, p->line, "%s: \"%s\" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", k->name,
			       v);
			return;
		}
		free(*(char **)field);
		*(char **)field = xstrdup(v);
		return;
	case K_BOOL:
		if (bool_parse(v, &b) != ERR_OK) {
			err_at(p, p->line, "%s: \"%s\" is not yes or no", k->name, v);
			return;
		}
		*(bool *)field = b;
		return;
	case K_INT:
		if (num_parse(v, k->min, k->max, &n, &why) != ERR_OK) {
			err_at(p, p->line, "%s: \"%s\": %s (allowed %lld to %lld)", k->name, v, why, k->min, k->max);
			return;
		}
		if (k->off == C(cidr_expand_max) && k->sec == S_SYNC)
			*(unsigned *)field = (unsigned)n;
		else if (k->sec == S_FEED && k->off == F(priority))
			*(int *)field = (int)n;
		else
			*(long long *)field = n;
		return;
	case K_DUR:
		if (duration_parse(v, &n, &why) != ERR_OK || n < k->min || n > k->max) {
			err_at(p, p->line, "%s: \"%s\": %s (allowed %llds to %llds)", k->name, v,
			       why ? why : "out of range", k->min, k->max);
			return;
		}
		*(long long *)field = n;
		return;
	case K_QUOTA: {
		/* quota = N (indicators) or P% (of the room under the cap) */
		struct feed_cfg *fc = (struct feed_cfg *)((char *)field - offsetof(struct feed_cfg, quota));
		size_t l = strlen(v);
		char tmp[32];
		bool pct = l > 0 && v[l - 1] == '%';
		if (l == 0 || l >= sizeof(tmp)) {
			err_at(p, p->line, "quota: \"%s\" is not N or P%%", v);
			return;
		}
		memcpy(tmp, v, l - pct);
		tmp[l - pct] = '\0';
		if (num_parse(tmp, 1, pct ? 100 : k->max, &n, &why) != ERR_OK) {
			err_at(p, p->line, "quota: \"%s\": %s (N from 1 to %lld, or P%% from 1%% to 100%%)", v, why,
			       k->max);
			return;
		}
		if (pct)
			fc->quota_pct = (int)n, fc->quota = 0;
		else
			fc->quota = n, fc->quota_pct = 0;
		return;
	}
	case K_PCT: {
		char tmp[32];
		size_t l = strlen(v);
		if (l == 0 || l >= sizeof(tmp) || v[l - 1] != '%') {
			err_at(p, p->line, "%s: \"%s\" is not a percentage (e.g. 25%%)", k->name, v);
			return;
		}
		memcpy(tmp, v, l - 1);
		tmp[l - 1] = '\0';
		if (num_parse(tmp, k->min, k->max, &n, &why) != ERR_OK) {
			err_at(p, p->line, "%s: \"%s\": %s (allowed %lld%% to %lld%%)", k->name, v, why, k->min,
			       k->max);
			return;
		}
		*(int *)field = (int)n;
		return;
	}
	case K_TYPES: {
		unsigned m = ioc_types_parse(v, &bad);
		if (m == 0) {
			err_at(p, p->line,
			       "type: \"%s\" is not a type (ip, domain, url, md5, sha1, sha256, hash, cert, auto)",
			       bad ? bad : v);
			return;
		}
		*(unsigned *)field = m;
		p->feed->types_line = p->line;
		return;
	}
	case K_ACTION:
		i = ioc_action_parse(v);
		if (i < 0) {
			err_at(p, p->line,
			       "action: \"%s\" is not one of allow, audit, warn, block, block-and-remediate", v);
			return;
		}
		*(enum ioc_action *)field = (enum ioc_action)i;
		p->feed->action_line = p->line;
		return;
	case K_SEVERITY:
		for (i = 0; i < SEV__COUNT; i++)
			if (strcasecmp(v, sev_names[i]) == 0)
				break;
		if (i == SEV__COUNT) {
			err_at(p, p->line, "severity: \"%s\" is not one of informational, low, medium, high", v);
			return;
		}
		*(enum severity *)field = (enum severity)i;
		return;
	case K_FORMAT:
		i = feed_format_parse(v);
		if (i < 0) {
			err_at(p, p->line,
			       "format: \"%s\" is not one of auto, text, hosts, netset, csv, stix, misp, report, taxii",
			       v);
			return;
		}
		*(enum feed_format *)field = (enum feed_format)i;
		return;
	case K_LIST:
	case K_FILES: {
		char **l;
		size_t ln;
		if (!split_list(v, &l, &ln)) {
			err_at(p, p->line, "%s: empty item in \"%s\"", k->name, v);
			return;
		}
		char ***lp = (char ***)field;
		size_t *np = k->t == K_FILES ? &p->c->nallowlist_files : &p->feed->ndevice_groups;
		for (size_t j = 0; j < ln; j++) {
			*lp = xrealloc(*lp, (*np + 1) * sizeof(char *));
			(*lp)[(*np)++] = l[j];
		}
		free(l);
		return;
	}
	case K_CHAR: {
		for (size_t j = 0; j < NELEM(delims); j++)
			if (strcmp(v, delims[j].name) == 0) {
				*(char *)field = delims[j].c;
				return;
			}
		if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n')
			*(char *)field = v[0];
		else if (v[0] == '\0')
			err_at(p, p->line, "csv_delimiter: empty (for \";\" write semicolon: \";\" starts a comment)");
		else
			err_at(p, p->line,
			       "csv_delimiter: \"%s\" is not one character, nor tab, semicolon, comma, pipe "
			       "or space",
			       v);
		return;
	}
	case K_CIDR:
		if (strcmp(v, "skip") == 0)
			p->c->cidr = CIDR_SKIP;
		else if (strcmp(v, "expand") == 0)
			p->c->cidr = CIDR_EXPAND;
		else
			err_at(p, p->line, "cidr: \"%s\" is not skip or expand", v);
		return;
	case K_LOGLEVEL:
		if (strcmp(v, "error") == 0)
			p->c->log_level = LOG_ERROR;
		else if (strcmp(v, "warning") == 0)
			p->c->log_level = LOG_WARN;
		else if (strcmp(v, "info") == 0)
			p->c->log_level = LOG_INFO;
		else if (strcmp(v, "debug") == 0)
			p->c->log_level = LOG_DEBUG;
		else
			err_at(p, p->line, "log_level: \"%s\" is not error, warning, info or debug", v);
		return;
	case K_CSVHDR:
		if (strcmp(v, "auto") == 0)
			*(int *)field = -1;
		else if (bool_parse(v, &b) == ERR_OK)
			*(int *)field = b;
		else
			err_at(p, p->line, "csv_header: \"%s\" is not auto, yes or no", v);
		return;
	case K_LOGFMT:
		if (strcmp(v, "text") == 0 || strcmp(v, "json") == 0)
			*(bool *)field = strcmp(v, "json") == 0;
		else
			err_at(p, p->line, "log_format: \"%s\" is not text or json", v);
		return;
	case K_TO_IDS:
		if (strcmp(v, "honour") == 0 || strcmp(v, "honor") == 0)
			*(bool *)field = false;
		else if (strcmp(v, "ignore") == 0)
			*(bool *)field = true;
		else
			err_at(p, p->line, "misp_to_ids: \"%s\" is not honour or ignore", v);
		return;
	}
}

/* The quoted name after [feed or [tenant, checked; NULL when bad (said). */
static char *
section_name(struct parse *p, const char *q, const char *kind)
{
	while (*q == ' ' || *q == '\t')
		q++;
	size_t n = strlen(q);
	if (n < 3 || q[0] != '"' || q[n - 1] != '"') {
		err_at(p, p->line, "%s section needs a quoted name: [%s \"name\"]", kind, kind);
		return NULL;
	}
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum((unsigned char)q[i]) && q[i] != '-' && q[i] != '_' && q[i] != '.') {
			err_at(p, p->line, "%s name %s: use letters, digits, '-', '_' and '.'", kind, q);
			return NULL;
		}
	return xstrndup(q + 1, n - 2);
}

/* Starts a section: "mde", "sync", "fetch", "allowlist", feed "name",
 * tenant "name". */
static void
enter_section(struct parse *p, const char *section)
{
	memset(p->seen, 0, sizeof(p->seen));
	p->feed = NULL;
	p->tenant = NULL;
	p->sec = S__COUNT;
	char *name;
	if (strncmp(section, "tenant", 6) == 0 && (section[6] == ' ' || section[6] == '\t')) {
		if ((name = section_name(p, section + 7, "tenant")) == NULL)
			return;
		for (size_t i = 0; i < p->c->ntenants; i++)
			if (strcmp(p->c->tenants[i].name, name) == 0) {
				err_at(p, p->line, "tenant \"%s\" is defined twice (first at line %u)", name,
				       p->c->tenants[i].line);
				free(name);
				return;
			}
		p->c->tenants = xrealloc(p->c->tenants, (p->c->ntenants + 1) * sizeof(*p->c->tenants));
		p->tenant = &p->c->tenants[p->c->ntenants++];
		memset(p->tenant, 0, sizeof(*p->tenant));
		p->tenant->name = name;
		p->tenant->line = p->line;
		p->tenant->over = xcalloc(1, sizeof(struct config));
		p->tenant->set = xcalloc(NKEYS, sizeof(bool));
		p->sec = S_TENANT;
		return;
	}
	if (strncmp(section, "feed", 4) == 0 && (section[4] == ' ' || section[4] == '\t')) {
		if ((name = section_name(p, section + 5, "feed")) == NULL)
			return;
		if (p->feed_names == NULL)
			p->feed_names = strset_new();
		int first = strset_get(p->feed_names, name, strlen(name));
		if (first >= 0) {
			err_at(p, p->line, "feed \"%s\" is defined twice (first at line %u)", name,
			       p->c->feeds[first].line);
			free(name);
			return;
		}
		if (p->c->nfeeds >= LIMIT_FEEDS) {
			err_at(p, p->line, "more than %d feeds (LIMIT_FEEDS)", LIMIT_FEEDS);
			free(name);
			return;
		}
		/* Grown by doubling: one at a time is quadratic in the feeds
		 * (minutes under ASan at LIMIT_FEEDS). */
		xgrow((void **)&p->c->feeds, &p->feeds_cap, p->c->nfeeds + 1, sizeof(*p->c->feeds));
		strset_add(p->feed_names, name, strlen(name), (int)p->c->nfeeds);
		p->feed = &p->c->feeds[p->c->nfeeds++];
		feed_defaults(p->feed);
		p->feed->name = name;
		p->feed->line = p->line;
		p->sec = S_FEED;
		return;
	}
	for (int s = 0; s < S_FEED; s++)
		if (strcmp(section, sec_names[s]) == 0) {
			p->sec = (enum sec)s;
			return;
		}
	err_at(p, p->line, "unknown section [%s] (known: mde, sync, fetch, allowlist, feed \"name\", tenant \"name\")",
	       section);
}

/* A key of a [tenant "name"] section: any [mde] key, state and
 * metrics_file of [sync], and its own feeds and device_groups. */
static int
tenant_key(struct parse *p, const char *section, const char *name, const char *value)
{
	struct tenant_cfg *t = p->tenant;
	if (strcmp(name, "feeds") == 0 || strcmp(name, "device_groups") == 0) {
		bool feeds = name[0] == 'f';
		char ***l = feeds ? &t->feeds : &t->device_groups;
		size_t *n = feeds ? &t->nfeeds : &t->ndevice_groups;
		if (*l) {
			err_at(p, p->line, "%s is given twice in [%s]", name, section);
			return 1;
		}
		if (!split_list(value, l, n))
			err_at(p, p->line, "%s: empty item in \"%s\"", name, value);
		return 1;
	}
	for (size_t i = 0; i < NKEYS; i++) {
		const struct key *k = &keys[i];
		if (strcmp(k->name, name) != 0 ||
		    !(k->sec == S_MDE || (k->sec == S_SYNC && (k->off == C(state) || k->off == C(metrics_file)))))
			continue;
		if (t->set[i]) {
			err_at(p, p->line, "%s is given twice in [%s]", name, section);
			return 1;
		}
		t->set[i] = true;
		set_value(p, k, t->over, value);
		return 1;
	}
	err_at(p, p->line,
	       "unknown key \"%s\" in [%s] (a tenant takes the keys of [mde], state, metrics_file, "
	       "feeds and device_groups)",
	       name, section);
	return 1;
}

static int
handler(void *user, const char *section, const char *name, const char *value)
{
	struct parse *p = user;

	/* Sections are entered by reader(), which sees their header line. */
	if (name == NULL)
		return 1;
	if (*section == '\0') {
		err_at(p, p->line, "%s: key outside any section", name);
		return 1;
	}
	if (p->sec == S__COUNT)
		return 1; /* the section was reported */
	if (p->sec == S_TENANT)
		return tenant_key(p, section, name, value);
	for (size_t i = 0; i < NKEYS; i++) {
		if (keys[i].sec != p->sec || strcmp(keys[i].name, name) != 0)
			continue;
		if (p->seen[i] && keys[i].t != K_FILES) {
			err_at(p, p->line, "%s is given twice in [%s]", name, section);
			return 1;
		}
		p->seen[i] = true;
		if (keys[i].off == F(educate_url) && p->sec == S_FEED)
			p->feed->educate_line = p->line;
		set_value(p, &keys[i], p->sec == S_FEED ? (void *)p->feed : (void *)p->c, value);
		return 1;
	}
	err_at(p, p->line, "unknown key \"%s\" in [%s]", name, section);
	return 1;
}

/* Reads a line for inih, counting lines and catching those too long. */
static char *
reader(char *str, int num, void *stream)
{
	struct parse *p = stream;
	size_t n;
	if (p->fp) {
		if (fgets(str, num, p->fp) == NULL)
			return NULL;
		n = strlen(str);
	} else {
		if (*p->text == '\0')
			return NULL;
		const char *nl = strchr(p->text, '\n');
		size_t len = nl ? (size_t)(nl - p->text) + 1 : strlen(p->text);
		n = len < (size_t)num - 1 ? len : (size_t)num - 1;
		memcpy(str, p->text, n);
		str[n] = '\0';
		p->text += n;
	}
	if (!p->long_line)
		p->line++;
	p->long_line = n == (size_t)num - 1 && str[n - 1] != '\n';
	if (p->long_line) {
		err_at(p, p->line, "line longer than %d characters", num - 2);
		/* Swallow the rest of the line so it is not read as a new one. */
		if (p->fp) {
			int ch;
			while ((ch = fgetc(p->fp)) != EOF && ch != '\n')
				;
		} else {
			const char *nl = strchr(p->text, '\n');
			p->text = nl ? nl + 1 : p->text + strlen(p->text);
		}
		p->long_line = false;
		str[0] = '\0';
		return str;
	}
	/* A section header: entered here, where its own line is known and
	 * even when the section has no key. */
	const char *q = str;
	while (*q == ' ' || *q == '\t')
		q++;
	if (*q == '[') {
		const char *e = strchr(q, ']');
		if (e) {
			const char *b = q + 1;
			while (b < e && is_space((unsigned char)*b))
				b++;
			while (e > b && is_space((unsigned char)e[-1]))
				e--;
			snprintf(p->cursec, sizeof(p->cursec), "%.*s", (int)(e - b), b);
			enter_section(p, p->cursec);
		}
	}
	return str;
}

/* Checks what single keys cannot: the rules that tie keys together. */
/* The rules of the [mde] keys, for [mde] and for each tenant's. */
static void
validate_mde(struct parse *p, struct config *c, const char *label, unsigned line)
{
	int sources =
		!!c->client_secret_file + !!c->client_secret_env + !!c->client_secret_credential + !!c->certificate;
	if (sources > 1)
		err_at(p, line,
		       "%s: client_secret_file, client_secret_env, client_secret_credential and "
		       "certificate exclude each other",
		       label);
	c->certificate_rs256 = false;
	if (c->certificate_alg) {
		if (strcmp(c->certificate_alg, "rs256") == 0)
			c->certificate_rs256 = true;
		else if (strcmp(c->certificate_alg, "ps256") != 0)
			err_at(p, line, "%s: certificate_alg \"%s\" is not ps256 or rs256", label, c->certificate_alg);
	}
	if (c->region) {
		static const char *const regions[] = {"default", "unified", "us",  "eu", "uk",
						      "au",      "swa",     "ina", "aea"};
		bool ok = false;
		for (size_t i = 0; i < NELEM(regions); i++)
			ok |= strcmp(c->region, regions[i]) == 0;
		if (!ok)
			err_at(p, line,
			       "%s: region \"%s\" is not one of default, unified, us, eu, uk, au, swa, ina, aea", label,
			       c->region);
		else if (strcmp(c->cloud, "global") != 0)
			err_at(p, line, "%s: region applies to cloud = global only", label);
	}
	if (strcmp(c->cloud, "custom") == 0 && (c->api_url == NULL || c->login_url == NULL))
		err_at(p, line, "%s: cloud = custom needs api_url and login_url", label);
}

static void validate_tenants(struct parse *p);

static void
validate(struct parse *p)
{
	struct config *c = p->c;
	char why[256];

	validate_mde(p, c, "[mde]", 0);
	if (c->reserve >= c->cap)
		err_at(p, 0, "[sync]: reserve (%lld) leaves nothing of the cap (%lld)", c->reserve, c->cap);
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct feed_cfg *f = &c->feeds[i];
		unsigned types = f->types ? f->types : IOC_TYPES_AUTO;
		unsigned line = f->action_line ? f->action_line : f->line;
		if (f->url == NULL)
			err_at(p, f->line, "feed \"%s\" has no url", f->name);
		bool taxii = f->format == FEED_TAXII;
		if (!taxii && (f->taxii_collection || f->taxii_api_root || f->username || f->api_key_header))
			err_at(p, f->line,
			       "feed \"%s\": taxii_collection, taxii_api_root, username and api_key_header "
			       "need format = taxii",
			       f->name);
		if (taxii && f->taxii_collection == NULL)
			err_at(p, f->line, "feed \"%s\": format = taxii needs taxii_collection (its id or title)",
			       f->name);
		if (taxii && f->url && strncasecmp(f->url, "file://", 7) == 0)
			err_at(p, f->line, "feed \"%s\": a TAXII url is http(s)://", f->name);
		if (!!f->username != !!f->password_file)
			err_at(p, f->line, "feed \"%s\": username and password_file go together", f->name);
		if (!!f->api_key_header != !!f->api_key_file)
			err_at(p, f->line, "feed \"%s\": api_key_header and api_key_file go together", f->name);
		if (f->username && f->api_key_header)
			err_at(p, f->line, "feed \"%s\": basic authentication or an API key, not both", f->name);
		for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++) {
			if (!(types & IOC_BIT(t)))
				continue;
			if (!policy_action_ok((enum ioc_type)t, f->action, f->generate_alert, why, sizeof(why))) {
				err_at(p, line, "feed \"%s\": action %s: %s%s", f->name, ioc_action_name(f->action),
				       why, f->types ? "" : " (the feed's type is auto: declare type = hash or cert)");
				break;
			}
		}
		if (f->educate_url &&
		    (!(types & IOC_BIT(IOC_URL)) || (f->action != ACT_BLOCK && f->action != ACT_WARN)))
			err_at(p, f->educate_line,
			       "feed \"%s\": educate_url applies only to URL indicators "
			       "with action block or warn",
			       f->name);
	}
}

/* Each tenant: its own tenant_id (client_id may come from [mde]: one
 * multi-tenant app consented in every tenant), feeds that exist, the
 * [mde] rules on what it ends up with, a state of its own, and an owner
 * of its own: two sections that are the same app in the same tenant
 * would each delete what the other made. */
static void
validate_tenants(struct parse *p)
{
	struct config *c = p->c;
	struct config **ds = xcalloc(c->ntenants + 1, sizeof(*ds)); /* what each ends up with */
	for (size_t i = 0; i < c->ntenants; i++) {
		struct tenant_cfg *t = &c->tenants[i];
		char label[300];
		snprintf(label, sizeof(label), "[tenant \"%s\"]", t->name);
		if (t->over->tenant_id == NULL)
			err_at(p, t->line, "%s needs its own tenant_id", label);
		for (size_t k = 0; k < t->nfeeds; k++) {
			bool found = false;
			for (size_t j = 0; j < c->nfeeds; j++)
				found |= strcmp(c->feeds[j].name, t->feeds[k]) == 0;
			if (!found)
				err_at(p, t->line, "%s: feeds: no [feed \"%s\"]", label, t->feeds[k]);
		}
		struct config *d = ds[i] = config_tenant(c, i);
		validate_mde(p, d, label, t->line);
		for (size_t j = 0; j < i; j++) {
			const struct config *o = ds[j];
			if (strcmp(o->state, d->state) == 0)
				err_at(p, t->line, "%s: state %s is also tenant \"%s\"'s: each needs its own", label,
				       d->state, c->tenants[j].name);
			/* the owner as mde_owned sees it: GUIDs in any case, the
			 * application exactly */
			if (d->tenant_id && o->tenant_id && strcasecmp(d->tenant_id, o->tenant_id) == 0 &&
			    d->client_id && o->client_id && strcasecmp(d->client_id, o->client_id) == 0 &&
			    strcmp(d->application, o->application) == 0)
				err_at(p, t->line,
				       "%s: same tenant_id, client_id and application as tenant \"%s\": "
				       "each would delete what the other made (give one another application)",
				       label, c->tenants[j].name);
		}
	}
	for (size_t i = 0; i < c->ntenants; i++)
		config_free(ds[i]);
	free(ds);
}

static bool
is_ptr(enum kt t)
{
	return t == K_STR || t == K_PATH || t == K_CLOUD || t == K_URL || t == K_GUID;
}

static char **
dup_list(char *const *l, size_t n)
{
	char **r = xcalloc(n ? n : 1, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		r[i] = xstrdup(l[i]);
	return r;
}

static void
dup_ptrs(enum sec sec, void *base)
{
	for (size_t k = 0; k < NKEYS; k++) {
		char **f = (char **)((char *)base + keys[k].off);
		if (keys[k].sec == sec && is_ptr(keys[k].t) && *f)
			*f = xstrdup(*f);
	}
}

/* path with "-name" before its extension ext (or at its end). */
static char *
with_name(const char *path, const char *ext, const char *name)
{
	size_t n = strlen(path), e = strlen(ext);
	if (n > e && strcmp(path + n - e, ext) == 0)
		return xasprintf("%.*s-%s%s", (int)(n - e), path, name, ext);
	return xasprintf("%s-%s", path, name);
}

/* Drops from d the [mde] keys among names that tenant t did not set. */
static void
drop_inherited(struct config *d, const struct tenant_cfg *t, const char *const *names, size_t n)
{
	for (size_t k = 0; k < n; k++) {
		size_t ki = key_index(S_MDE, names[k]);
		char **f = (char **)((char *)d + keys[ki].off);
		if (!t->set[ki]) {
			free(*f);
			*f = NULL;
		}
	}
}

struct config *
config_tenant(const struct config *c, size_t i)
{
	const struct tenant_cfg *t = &c->tenants[i];
	struct config *d = xmalloc(sizeof(*d));
	memcpy(d, c, sizeof(*d));
	d->path = xstrdup(c->path ? c->path : "");
	d->tenant_name = xstrdup(t->name);
	d->tenants = NULL;
	d->ntenants = 0;
	dup_ptrs(S_MDE, d);
	dup_ptrs(S_SYNC, d);
	dup_ptrs(S_FETCH, d);
	d->allowlist_files = dup_list(c->allowlist_files, c->nallowlist_files);
	/* The tenant's keys over [mde]'s and [sync]'s. */
	for (size_t k = 0; k < NKEYS; k++) {
		if (!t->set[k])
			continue;
		char *dst = (char *)d + keys[k].off;
		const char *src = (const char *)t->over + keys[k].off;
		if (is_ptr(keys[k].t)) {
			free(*(char **)dst);
			*(char **)dst = *(char *const *)src ? xstrdup(*(char *const *)src) : NULL;
		} else if (keys[k].t == K_BOOL) {
			*(bool *)dst = *(const bool *)src;
		} else { /* K_INT, K_DUR of [mde]: long long */
			*(long long *)dst = *(const long long *)src;
		}
	}
	/* A secret source set by the tenant replaces [mde]'s, whichever; a
	 * tenant in another cloud takes none of [mde]'s cloud's details. */
	static const char *const secrets[] = {"client_secret_file", "client_secret_env", "client_secret_credential",
					      "certificate"};
	static const char *const cloudy[] = {"region", "api_url", "login_url", "resource"};
	for (size_t k = 0; k < NELEM(secrets); k++)
		if (t->set[key_index(S_MDE, secrets[k])]) {
			drop_inherited(d, t, secrets, NELEM(secrets));
			break;
		}
	if (t->set[key_index(S_MDE, "cloud")])
		drop_inherited(d, t, cloudy, NELEM(cloudy));
	if (!t->set[key_index(S_SYNC, "state")]) {
		free(d->state);
		d->state = with_name(c->state, ".db", t->name);
	}
	if (c->metrics_file && !t->set[key_index(S_SYNC, "metrics_file")]) {
		free(d->metrics_file);
		d->metrics_file = with_name(c->metrics_file, ".prom", t->name);
	}
	/* Its feeds, scoped to its device groups. */
	d->feeds = xcalloc(c->nfeeds ? c->nfeeds : 1, sizeof(*d->feeds));
	d->nfeeds = 0;
	for (size_t j = 0; j < c->nfeeds; j++) {
		bool take = t->nfeeds == 0;
		for (size_t k = 0; k < t->nfeeds; k++)
			take |= strcmp(t->feeds[k], c->feeds[j].name) == 0;
		if (!take)
			continue;
		struct feed_cfg *f = &d->feeds[d->nfeeds++];
		memcpy(f, &c->feeds[j], sizeof(*f));
		f->name = xstrdup(f->name);
		dup_ptrs(S_FEED, f);
		if (t->ndevice_groups) {
			f->device_groups = dup_list(t->device_groups, t->ndevice_groups);
			f->ndevice_groups = t->ndevice_groups;
		} else {
			f->device_groups = dup_list(c->feeds[j].device_groups, c->feeds[j].ndevice_groups);
		}
	}
	return d;
}

static struct config *
finish(struct parse *p, int ini_rc)
{
	if (ini_rc > 0 && !p->long_line)
		err_at(p, (unsigned)ini_rc, "syntax error (expected [section] or key = value)");
	else if (ini_rc < 0)
		err_at(p, 0, "cannot parse (out of memory)");
	strset_free(p->feed_names);
	p->feed_names = NULL;
	validate(p);
	if (p->errors == 0)
		validate_tenants(p);
	if (p->errors > 0) {
		config_free(p->c);
		return NULL;
	}
	return p->c;
}

struct config *
config_load(const char *path, struct strbuf *errs, enum err *rc)
{
	struct parse p = {.c = config_defaults(), .name = path, .errs = errs, .sec = S__COUNT};
	p.fp = fopen(path, "re");
	if (p.fp == NULL) {
		sb_addf(errs, "%s: cannot open: %s\n", path, strerror(errno));
		config_free(p.c);
		*rc = ERR_IO;
		return NULL;
	}
	p.c->path = xstrdup(path);
	int r = ini_parse_stream(reader, &p, handler, &p);
	fclose(p.fp);
	struct config *c = finish(&p, r);
	*rc = c ? ERR_OK : ERR_CONFIG;
	return c;
}

struct config *
config_load_string(const char *name, const char *text, struct strbuf *errs)
{
	struct parse p = {.c = config_defaults(), .name = name, .errs = errs, .text = text, .sec = S__COUNT};
	p.c->path = xstrdup(name);
	return finish(&p, ini_parse_stream(reader, &p, handler, &p));
}

/* A duration in the largest unit that divides it: 30d, 24h, 90m, 15s. */
static void
dump_duration(struct strbuf *o, long long s)
{
	if (s != 0 && s % 86400 == 0)
		sb_addf(o, "%lldd", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		sb_addf(o, "%lldh", s / 3600);
	else if (s != 0 && s % 60 == 0)
		sb_addf(o, "%lldm", s / 60);
	else
		sb_addf(o, "%llds", s);
}

/* Prints "name = value" for key k of base, or nothing when it is unset. */
static void
dump_key(const struct config *c, const struct key *k, const void *base, struct strbuf *o)
{
	static const char *const cidr[] = {"skip", "expand"};
	static const char *const lvl[] = {"error", "warning", "info", "debug"};
	const char *field = (const char *)base + k->off;
	const struct feed_cfg *f = base;

	switch (k->t) {
	case K_STR:
	case K_PATH:
	case K_CLOUD:
	case K_URL:
	case K_GUID:
		if (*(char *const *)field)
			sb_addf(o, "%s = %s\n", k->name, *(char *const *)field);
		return;
	case K_BOOL: sb_addf(o, "%s = %s\n", k->name, *(const bool *)field ? "yes" : "no"); return;
	case K_INT:
		if (k->sec == S_SYNC && k->off == C(cidr_expand_max))
			sb_addf(o, "%s = %u\n", k->name, *(const unsigned *)field);
		else if (k->sec == S_FEED && k->off == F(priority))
			sb_addf(o, "%s = %d\n", k->name, *(const int *)field);
		else if (*(const long long *)field != 0 || k->sec != S_FEED) /* 0: inherits [fetch] */
			sb_addf(o, "%s = %lld\n", k->name, *(const long long *)field);
		return;
	case K_DUR:
		if (*(const long long *)field == 0 && k->sec == S_FEED)
			return; /* inherits [fetch] */
		sb_addf(o, "%s = ", k->name);
		dump_duration(o, *(const long long *)field);
		sb_addc(o, '\n');
		return;
	case K_PCT: sb_addf(o, "%s = %d%%\n", k->name, *(const int *)field); return;
	case K_QUOTA:
		if (f->quota)
			sb_addf(o, "quota = %lld\n", f->quota);
		else if (f->quota_pct)
			sb_addf(o, "quota = %d%%\n", f->quota_pct);
		return;
	case K_TYPES:
		if (f->types) {
			const char *sep = " = ";
			sb_adds(o, k->name);
			for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
				if (f->types & IOC_BIT(t)) {
					sb_addf(o, "%s%s", sep, ioc_type_name((enum ioc_type)t));
					sep = ", ";
				}
			sb_addc(o, '\n');
		}
		return;
	case K_ACTION: sb_addf(o, "%s = %s\n", k->name, ioc_action_name(f->action)); return;
	case K_SEVERITY: sb_addf(o, "%s = %s\n", k->name, severity_name(f->severity)); return;
	case K_FORMAT: sb_addf(o, "%s = %s\n", k->name, feed_format_name(f->format)); return;
	case K_LIST:
		for (size_t g = 0; g < f->ndevice_groups; g++)
			sb_addf(o, "%s%s", g == 0 ? "device_groups = " : ", ", f->device_groups[g]);
		if (f->ndevice_groups)
			sb_addc(o, '\n');
		return;
	case K_FILES:
		for (size_t i = 0; i < c->nallowlist_files; i++)
			sb_addf(o, "%s = %s\n", k->name, c->allowlist_files[i]);
		return;
	case K_CHAR:
		for (size_t j = 0; j < NELEM(delims); j++)
			if (delims[j].by_name && delims[j].c == f->csv_delim) {
				sb_addf(o, "%s = %s\n", k->name, delims[j].name);
				return;
			}
		if (f->csv_delim)
			sb_addf(o, "%s = %c\n", k->name, f->csv_delim);
		return;
	case K_CIDR: sb_addf(o, "%s = %s\n", k->name, cidr[c->cidr]); return;
	case K_LOGLEVEL: sb_addf(o, "%s = %s\n", k->name, lvl[c->log_level]); return;
	case K_CSVHDR:
		sb_addf(o, "%s = %s\n", k->name, f->csv_header < 0 ? "auto" : f->csv_header ? "yes" : "no");
		return;
	case K_TO_IDS: sb_addf(o, "%s = %s\n", k->name, f->misp_ignore_to_ids ? "ignore" : "honour"); return;
	case K_LOGFMT: sb_addf(o, "%s = %s\n", k->name, *(const bool *)field ? "json" : "text"); return;
	}
}

/* Every key of every section, from the same table the parser reads, so a
 * new key cannot be forgotten here. The output loads back as it is. */
void
config_dump(const struct config *c, struct strbuf *o)
{
	for (int s = 0; s < S_TENANT; s++) {
		size_t n = s == S_FEED ? c->nfeeds : 1;
		for (size_t i = 0; i < n; i++) {
			const void *base = c;
			if (s == S_FEED) {
				sb_addf(o, "%s[feed \"%s\"]\n", o->len ? "\n" : "", c->feeds[i].name);
				base = &c->feeds[i];
			} else if (s == S_ALLOWLIST && c->nallowlist_files == 0) {
				continue;
			} else {
				sb_addf(o, "%s[%s]\n", o->len ? "\n" : "", sec_names[s]);
			}
			for (size_t k = 0; k < NKEYS; k++)
				if (keys[k].sec == (enum sec)s)
					dump_key(c, &keys[k], base, o);
		}
	}
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct tenant_cfg *t = &c->tenants[i];
		sb_addf(o, "\n[tenant \"%s\"]\n", t->name);
		for (size_t k = 0; k < NKEYS; k++)
			if (t->set[k])
				dump_key(t->over, &keys[k], t->over, o);
		for (size_t g = 0; g < t->nfeeds; g++)
			sb_addf(o, "%s%s%s", g == 0 ? "feeds = " : ", ", t->feeds[g], g + 1 == t->nfeeds ? "\n" : "");
		for (size_t g = 0; g < t->ndevice_groups; g++)
			sb_addf(o, "%s%s%s", g == 0 ? "device_groups = " : ", ", t->device_groups[g],
				g + 1 == t->ndevice_groups ? "\n" : "");
	}
}
