#include "config.h"
#include "config_int.h"

#include "http.h"

#include <errno.h>
#include <ini.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocsync_limits.h"
#include "policy.h"
#include "strset.h"

const char *const config_severity_names[SEV__COUNT] = {"Informational", "Low", "Medium", "High"};
_Static_assert(NELEM(config_severity_names) == SEV__COUNT, "severity names");

const char *
config_severity_name(enum severity s)
{
	return (unsigned)s < SEV__COUNT ? config_severity_names[s] : "";
}

const char *const config_section_names[S__COUNT] = {"mde",   "sync",     "fetch", "allowlist",
						    "alert", "firewall", "feed",  "tenant"};
_Static_assert(NELEM(config_section_names) == S__COUNT, "section names");

const struct key config_keys[] = {
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
	{S_MDE, "federated_token_file", K_PATH, C(federated_token_file), 0, 0},
	{S_MDE, "credential", K_STR, C(credential), 0, 0},
	{S_MDE, "imds_url", K_URL, C(imds_url), 0, 0},
	{S_MDE, "imds_key_dir", K_PATH, C(imds_key_dir), 0, 0},
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
	{S_SYNC, "max_parallel_tenants", K_INT, C(max_parallel_tenants), 1, 100000},
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
	{S_ALERT, "webhook", K_WEBHOOK, C(alert_webhook), 0, 0},
	{S_ALERT, "webhook_file", K_PATH, C(alert_webhook_file), 0, 0},
	{S_ALERT, "format", K_ALERTFMT, C(alert_format), 0, 0},
	{S_ALERT, "feed_stale_after", K_DUR, C(feed_stale_after_s), 60, 365LL * 86400},
	{S_ALERT, "stale_after", K_DUR, C(stale_after_s), 60, 365LL * 86400},
	{S_ALERT, "timeout", K_DUR, C(alert_timeout_s), 1, 300},
	{S_FIREWALL, "graph_url", K_URL, C(fw_graph_url), 0, 0},
	{S_FIREWALL, "graph_resource", K_URL, C(fw_graph_resource), 0, 0},
	{S_FIREWALL, "protocol", K_STR, C(fw_protocol), 0, 0},
	{S_FIREWALL, "assign_groups", K_STR, C(fw_assign_groups), 0, 0},
	{S_FIREWALL, "policy_prefix", K_STR, C(fw_policy_prefix), 0, 0},
	{S_FIREWALL, "rule_max_addresses", K_INT, C(fw_rule_max_addresses), 1, 10000},
	{S_FIREWALL, "push", K_BOOL, C(fw_push), 0, 0},
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

const size_t config_nkeys = NELEM(config_keys);
_Static_assert(NELEM(config_keys) <= CONFIG_KEYS_MAX, "a section's seen[] holds every key");

size_t
config_key_index(enum sec sec, const char *name)
{
	for (size_t i = 0; i < config_nkeys; i++)
		if (config_keys[i].sec == sec && strcmp(config_keys[i].name, name) == 0)
			return i;
	abort(); /* a name of this file's table */
}

void
config_err_at(struct parse *p, unsigned line, const char *fmt, ...)
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
	f->description = xstrdup("Indicator from feed {feed} (iocsync) {comment}");
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
	c->max_parallel_tenants = 1000;
	c->log_level = LOG_INFO;
	c->cidr = CIDR_SKIP;
	c->cidr_expand_max = 256;
	c->user_agent = xstrdup("iocsync/" IOCSYNC_VERSION);
	c->connect_timeout_s = LIMIT_CONNECT_TIMEOUT_S_DEFAULT;
	c->timeout_s = LIMIT_FETCH_TIMEOUT_S_DEFAULT;
	c->max_bytes = LIMIT_FETCH_BYTES_DEFAULT;
	c->max_redirects = LIMIT_REDIRECTS;
	c->feed_stale_after_s = 2 * 86400;
	c->fw_graph_url = xstrdup("https://graph.microsoft.com");
	c->fw_graph_resource = xstrdup("https://graph.microsoft.com");
	c->fw_protocol = xstrdup("udp");
	c->fw_policy_prefix = xstrdup("iocsync UDP block");
	c->fw_rule_max_addresses = 1000;
	c->alert_timeout_s = 30;
	return c;
}

void
config_free_list(char **l, size_t n)
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
	config_free_list(f->device_groups, f->ndevice_groups);
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
	config_free_list(t->feeds, t->nfeeds);
	config_free_list(t->device_groups, t->ndevice_groups);
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
	free(c->federated_token_file);
	free(c->credential);
	free(c->imds_url);
	free(c->imds_key_dir);
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
	free(c->alert_webhook);
	free(c->alert_webhook_file);
	free(c->fw_graph_url);
	free(c->fw_graph_resource);
	free(c->fw_protocol);
	free(c->fw_assign_groups);
	free(c->fw_policy_prefix);
	config_free_list(c->allowlist_files, c->nallowlist_files);
	for (size_t i = 0; !c->feeds_lent && i < c->nfeeds; i++)
		feed_free(&c->feeds[i]);
	if (!c->feeds_lent)
		free(c->feeds);
	free(c);
}

/* The quoted name after [feed or [tenant, checked; NULL when bad (said). */
static char *
section_name(struct parse *p, const char *q, const char *kind)
{
	while (*q == ' ' || *q == '\t')
		q++;
	size_t n = strlen(q);
	if (n < 3 || q[0] != '"' || q[n - 1] != '"') {
		config_err_at(p, p->line, "%s section needs a quoted name: [%s \"name\"]", kind, kind);
		return NULL;
	}
	for (size_t i = 1; i + 1 < n; i++)
		if (!is_alnum((unsigned char)q[i]) && q[i] != '-' && q[i] != '_' && q[i] != '.') {
			config_err_at(p, p->line, "%s name %s: use letters, digits, '-', '_' and '.'", kind, q);
			return NULL;
		}
	return xstrndup(q + 1, n - 2);
}

/* Starts a section: "mde", "sync", "fetch", "allowlist", "alert", feed "name",
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
				config_err_at(p, p->line, "tenant \"%s\" is defined twice (first at line %u)", name,
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
		p->tenant->set = xcalloc(config_nkeys, sizeof(bool));
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
			config_err_at(p, p->line, "feed \"%s\" is defined twice (first at line %u)", name,
				      p->c->feeds[first].line);
			free(name);
			return;
		}
		if (p->c->nfeeds >= LIMIT_FEEDS) {
			config_err_at(p, p->line, "more than %d feeds (LIMIT_FEEDS)", LIMIT_FEEDS);
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
		if (strcmp(section, config_section_names[s]) == 0) {
			p->sec = (enum sec)s;
			return;
		}
	config_err_at(
		p, p->line,
		"unknown section [%s] (known: mde, sync, fetch, allowlist, alert, firewall, feed \"name\", tenant \"name\")",
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
			config_err_at(p, p->line, "%s is given twice in [%s]", name, section);
			return 1;
		}
		if (!config_split_list(value, l, n))
			config_err_at(p, p->line, "%s: empty item in \"%s\"", name, value);
		return 1;
	}
	for (size_t i = 0; i < config_nkeys; i++) {
		const struct key *k = &config_keys[i];
		if (strcmp(k->name, name) != 0 ||
		    !(k->sec == S_MDE || (k->sec == S_SYNC && (k->off == C(state) || k->off == C(metrics_file)))))
			continue;
		if (t->set[i]) {
			config_err_at(p, p->line, "%s is given twice in [%s]", name, section);
			return 1;
		}
		t->set[i] = true;
		config_set_value(p, k, t->over, value);
		return 1;
	}
	config_err_at(p, p->line,
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
		config_err_at(p, p->line, "%s: key outside any section", name);
		return 1;
	}
	if (p->sec == S__COUNT)
		return 1; /* the section was reported */
	if (p->sec == S_TENANT)
		return tenant_key(p, section, name, value);
	for (size_t i = 0; i < config_nkeys; i++) {
		if (config_keys[i].sec != p->sec || strcmp(config_keys[i].name, name) != 0)
			continue;
		if (p->seen[i] && config_keys[i].t != K_FILES) {
			config_err_at(p, p->line, "%s is given twice in [%s]", name, section);
			return 1;
		}
		p->seen[i] = true;
		if (config_keys[i].off == F(educate_url) && p->sec == S_FEED)
			p->feed->educate_line = p->line;
		config_set_value(p, &config_keys[i], p->sec == S_FEED ? (void *)p->feed : (void *)p->c, value);
		return 1;
	}
	config_err_at(p, p->line, "unknown key \"%s\" in [%s]", name, section);
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
		config_err_at(p, p->line, "line longer than %d characters", num - 2);
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
	/* Titles, descriptions and names go to MDE as JSON strings: UTF-8. */
	if (!utf8_valid(str, n)) {
		config_err_at(p, p->line, "not UTF-8 text");
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

static struct config *
finish(struct parse *p, int ini_rc)
{
	if (ini_rc > 0 && !p->long_line)
		config_err_at(p, (unsigned)ini_rc, "syntax error (expected [section] or key = value)");
	else if (ini_rc < 0)
		config_err_at(p, 0, "cannot parse (out of memory)");
	strset_free(p->feed_names);
	p->feed_names = NULL;
	config_validate(p);
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

const struct feed_cfg *
config_feed(const struct config *c, const char *name)
{
	for (size_t k = 0; k < c->nfeeds; k++)
		if (strcmp(c->feeds[k].name, name) == 0)
			return &c->feeds[k];
	return NULL;
}
