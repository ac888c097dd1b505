#include "config_int.h"

#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http.h"
#include "iocsync_limits.h"
#include "log.h"

/* Splits "a, b, c" into a list (empty items are errors). */
bool
config_split_list(const char *v, char ***out, size_t *n)
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
			config_free_list(*out, *n);
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

const char *
config_delimiter_name(char c)
{
	for (size_t j = 0; j < NELEM(delims); j++)
		if (delims[j].by_name && delims[j].c == c)
			return delims[j].name;
	return NULL;
}

static void
set_text(struct parse *p, const struct key *k, char *field, const char *v)
{
	if (*v == '\0') {
		config_err_at(p, p->line, "%s: empty value", k->name);
		return;
	}
	if (k->t == K_CLOUD && strcmp(v, "global") && strcmp(v, "gcc") && strcmp(v, "gcc-high") && strcmp(v, "dod") &&
	    strcmp(v, "custom")) {
		config_err_at(p, p->line, "cloud: \"%s\" is not one of global, gcc, gcc-high, dod, custom", v);
		return;
	}
	free(*(char **)field);
	*(char **)field = xstrdup(v);
}

static void
set_url(struct parse *p, const struct key *k, char *field, const char *v)
{
	struct url_parts u;
	char uwhy[300];
	if (strncasecmp(v, "https://", 8) && strncasecmp(v, "http://", 7) && strncasecmp(v, "file://", 7)) {
		config_err_at(p, p->line, "%s: \"%s\" is not an http://, https:// or file:// URL", k->name, v);
		return;
	}
	if (!http_url_parts(v, &u, uwhy, sizeof(uwhy))) {
		config_err_at(p, p->line, "%s: %s", k->name, uwhy);
		return;
	}
	/* "http://127.0.0.1:1@evil.example/" is evil.example: a user
	 * or password belongs in a proxy URL only. */
	if (u.userinfo && strcmp(k->name, "proxy") != 0) {
		config_err_at(p, p->line,
			      "%s: \"%s\" holds a user or password before '@': refused (its host is %s; "
			      "credentials go in their own files)",
			      k->name, v, u.host);
		return;
	}
	free(*(char **)field);
	*(char **)field = xstrdup(v);
}

static void
set_guid(struct parse *p, const struct key *k, char *field, const char *v)
{
	if (!is_guid(v)) {
		config_err_at(p, p->line, "%s: \"%s\" is not a GUID (xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx)", k->name,
			      v);
		return;
	}
	free(*(char **)field);
	*(char **)field = xstrdup(v);
}

static void
set_bool(struct parse *p, const struct key *k, char *field, const char *v)
{
	bool b;
	if (bool_parse(v, &b) != ERR_OK) {
		config_err_at(p, p->line, "%s: \"%s\" is not yes or no", k->name, v);
		return;
	}
	*(bool *)field = b;
}

static void
set_int(struct parse *p, const struct key *k, char *field, const char *v)
{
	long long n;
	const char *why = NULL;
	if (num_parse(v, k->min, k->max, &n, &why) != ERR_OK) {
		config_err_at(p, p->line, "%s: \"%s\": %s (allowed %lld to %lld)", k->name, v, why, k->min, k->max);
		return;
	}
	if (k->off == C(cidr_expand_max) && k->sec == S_SYNC)
		*(unsigned *)field = (unsigned)n;
	else if (k->sec == S_FEED && k->off == F(priority))
		*(int *)field = (int)n;
	else
		*(long long *)field = n;
}

static void
set_duration(struct parse *p, const struct key *k, char *field, const char *v)
{
	long long n;
	const char *why = NULL;
	if (duration_parse(v, &n, &why) != ERR_OK || n < k->min || n > k->max) {
		config_err_at(p, p->line, "%s: \"%s\": %s (allowed %llds to %llds)", k->name, v,
			      why ? why : "out of range", k->min, k->max);
		return;
	}
	*(long long *)field = n;
}

static void
set_quota(struct parse *p, const struct key *k, char *field, const char *v)
{
	long long n;
	const char *why = NULL;
	/* quota = N (indicators) or P% (of the room under the cap) */
	struct feed_cfg *fc = (struct feed_cfg *)((char *)field - offsetof(struct feed_cfg, quota));
	size_t l = strlen(v);
	char tmp[32];
	bool pct = l > 0 && v[l - 1] == '%';
	if (l == 0 || l >= sizeof(tmp)) {
		config_err_at(p, p->line, "quota: \"%s\" is not N or P%%", v);
		return;
	}
	memcpy(tmp, v, l - pct);
	tmp[l - pct] = '\0';
	if (num_parse(tmp, 1, pct ? 100 : k->max, &n, &why) != ERR_OK) {
		config_err_at(p, p->line, "quota: \"%s\": %s (N from 1 to %lld, or P%% from 1%% to 100%%)", v, why,
			      k->max);
		return;
	}
	if (pct)
		fc->quota_pct = (int)n, fc->quota = 0;
	else
		fc->quota = n, fc->quota_pct = 0;
}

static void
set_percent(struct parse *p, const struct key *k, char *field, const char *v)
{
	long long n;
	const char *why = NULL;
	char tmp[32];
	size_t l = strlen(v);
	if (l == 0 || l >= sizeof(tmp) || v[l - 1] != '%') {
		config_err_at(p, p->line, "%s: \"%s\" is not a percentage (e.g. 25%%)", k->name, v);
		return;
	}
	memcpy(tmp, v, l - 1);
	tmp[l - 1] = '\0';
	if (num_parse(tmp, k->min, k->max, &n, &why) != ERR_OK) {
		config_err_at(p, p->line, "%s: \"%s\": %s (allowed %lld%% to %lld%%)", k->name, v, why, k->min, k->max);
		return;
	}
	*(int *)field = (int)n;
}

static void
set_types(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	const char *bad = NULL;
	unsigned m = ioc_types_parse(v, &bad);
	if (m == 0) {
		config_err_at(p, p->line,
			      "type: \"%s\" is not a type (ip, domain, url, md5, sha1, sha256, hash, cert, auto)",
			      bad ? bad : v);
		return;
	}
	*(unsigned *)field = m;
	p->feed->types_line = p->line;
}

static void
set_action(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	int i = ioc_action_parse(v);
	if (i < 0) {
		config_err_at(p, p->line, "action: \"%s\" is not one of allow, audit, warn, block, block-and-remediate",
			      v);
		return;
	}
	*(enum ioc_action *)field = (enum ioc_action)i;
	p->feed->action_line = p->line;
}

static void
set_severity(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	int i;
	for (i = 0; i < SEV__COUNT; i++)
		if (strcasecmp(v, config_severity_names[i]) == 0)
			break;
	if (i == SEV__COUNT) {
		config_err_at(p, p->line, "severity: \"%s\" is not one of informational, low, medium, high", v);
		return;
	}
	*(enum severity *)field = (enum severity)i;
}

static void
set_format(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	int i = feed_format_parse(v);
	if (i < 0) {
		config_err_at(p, p->line,
			      "format: \"%s\" is not one of auto, text, hosts, netset, csv, stix, misp, report, taxii",
			      v);
		return;
	}
	*(enum feed_format *)field = (enum feed_format)i;
}

static void
set_list(struct parse *p, const struct key *k, char *field, const char *v)
{
	char **l;
	size_t ln;
	if (!config_split_list(v, &l, &ln)) {
		config_err_at(p, p->line, "%s: empty item in \"%s\"", k->name, v);
		return;
	}
	char ***lp = (char ***)field;
	size_t *np = k->t == K_FILES ? &p->c->nallowlist_files : &p->feed->ndevice_groups;
	for (size_t j = 0; j < ln; j++) {
		*lp = xrealloc(*lp, (*np + 1) * sizeof(char *));
		(*lp)[(*np)++] = l[j];
	}
	free(l);
}

static void
set_delimiter(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	for (size_t j = 0; j < NELEM(delims); j++)
		if (strcmp(v, delims[j].name) == 0) {
			*(char *)field = delims[j].c;
			return;
		}
	if (strlen(v) == 1 && v[0] != '"' && v[0] != '\n')
		*(char *)field = v[0];
	else if (v[0] == '\0')
		config_err_at(p, p->line, "csv_delimiter: empty (for \";\" write semicolon: \";\" starts a comment)");
	else
		config_err_at(p, p->line,
			      "csv_delimiter: \"%s\" is not one character, nor tab, semicolon, comma, pipe "
			      "or space",
			      v);
}

static void
set_cidr(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	(void)field;
	if (strcmp(v, "skip") == 0)
		p->c->cidr = CIDR_SKIP;
	else if (strcmp(v, "expand") == 0)
		p->c->cidr = CIDR_EXPAND;
	else
		config_err_at(p, p->line, "cidr: \"%s\" is not skip or expand", v);
}

static void
set_log_level(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	(void)field;
	if (strcmp(v, "error") == 0)
		p->c->log_level = LOG_ERROR;
	else if (strcmp(v, "warning") == 0)
		p->c->log_level = LOG_WARN;
	else if (strcmp(v, "info") == 0)
		p->c->log_level = LOG_INFO;
	else if (strcmp(v, "debug") == 0)
		p->c->log_level = LOG_DEBUG;
	else
		config_err_at(p, p->line, "log_level: \"%s\" is not error, warning, info or debug", v);
}

static void
set_csv_header(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	bool b;
	if (strcmp(v, "auto") == 0)
		*(int *)field = -1;
	else if (bool_parse(v, &b) == ERR_OK)
		*(int *)field = b;
	else
		config_err_at(p, p->line, "csv_header: \"%s\" is not auto, yes or no", v);
}

static void
set_log_format(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	if (strcmp(v, "text") == 0 || strcmp(v, "json") == 0)
		*(bool *)field = strcmp(v, "json") == 0;
	else
		config_err_at(p, p->line, "log_format: \"%s\" is not text or json", v);
}

static void
set_to_ids(struct parse *p, const struct key *k, char *field, const char *v)
{
	(void)k;
	if (strcmp(v, "honour") == 0 || strcmp(v, "honor") == 0)
		*(bool *)field = false;
	else if (strcmp(v, "ignore") == 0)
		*(bool *)field = true;
	else
		config_err_at(p, p->line, "misp_to_ids: \"%s\" is not honour or ignore", v);
}

/* A webhook URL: Teams' and Slack's carry their token in the path, so
 * no error here repeats it (only its scheme and host, when it has one). */
static void
set_webhook(struct parse *p, const struct key *k, char *field, const char *v)
{
	struct url_parts u;
	char why[300];
	if (!http_url_parts(v, &u, why, sizeof(why)) || u.userinfo ||
	    !(strcmp(u.scheme, "https") == 0 || (strcmp(u.scheme, "http") == 0 && u.loopback))) {
		config_err_at(p, p->line,
			      "%s: not an https:// URL (http:// only to a loopback address; no user or password "
			      "before '@'); the value is not shown: it may hold a token",
			      k->name);
		return;
	}
	free(*(char **)field);
	*(char **)field = xstrdup(v);
}

const char *const config_alert_format_names[3] = {"generic", "teams", "slack"};

static void
set_alert_format(struct parse *p, const struct key *k, char *field, const char *v)
{
	for (int i = 0; i < 3; i++)
		if (strcmp(v, config_alert_format_names[i]) == 0) {
			*(enum alert_format *)field = (enum alert_format)i;
			return;
		}
	config_err_at(p, p->line, "%s: \"%s\" is not generic, teams or slack", k->name, v);
}

void
config_set_value(struct parse *p, const struct key *k, void *base, const char *v)
{
	char *field = (char *)base + k->off;
	switch (k->t) {
	case K_STR:
	case K_PATH:
	case K_CLOUD: set_text(p, k, field, v); return;
	case K_URL: set_url(p, k, field, v); return;
	case K_GUID: set_guid(p, k, field, v); return;
	case K_BOOL: set_bool(p, k, field, v); return;
	case K_INT: set_int(p, k, field, v); return;
	case K_DUR: set_duration(p, k, field, v); return;
	case K_QUOTA: set_quota(p, k, field, v); return;
	case K_PCT: set_percent(p, k, field, v); return;
	case K_TYPES: set_types(p, k, field, v); return;
	case K_ACTION: set_action(p, k, field, v); return;
	case K_SEVERITY: set_severity(p, k, field, v); return;
	case K_FORMAT: set_format(p, k, field, v); return;
	case K_LIST:
	case K_FILES: set_list(p, k, field, v); return;
	case K_CHAR: set_delimiter(p, k, field, v); return;
	case K_CIDR: set_cidr(p, k, field, v); return;
	case K_LOGLEVEL: set_log_level(p, k, field, v); return;
	case K_CSVHDR: set_csv_header(p, k, field, v); return;
	case K_LOGFMT: set_log_format(p, k, field, v); return;
	case K_TO_IDS: set_to_ids(p, k, field, v); return;
	case K_WEBHOOK: set_webhook(p, k, field, v); return;
	case K_ALERTFMT: set_alert_format(p, k, field, v); return;
	}
}
