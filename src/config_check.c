#include "config_int.h"

#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "iocsync_limits.h"
#include "policy.h"

static void validate_tenants(struct parse *p);

/* Workload identity as Azure's tools set it up (a Kubernetes pod, a
 * GitHub Actions job): with no credential configured, the token file of
 * AZURE_FEDERATED_TOKEN_FILE, and AZURE_TENANT_ID and AZURE_CLIENT_ID
 * where [mde] names no tenant or client. */
static void
from_workload_environment(struct config *c)
{
	const char *file = getenv("AZURE_FEDERATED_TOKEN_FILE");
	if (file == NULL || *file == '\0' || c->client_secret_file || c->client_secret_env ||
	    c->client_secret_credential || c->certificate || c->federated_token_file || c->credential)
		return;
	c->federated_token_file = xstrdup(file);
	const char *tid = getenv("AZURE_TENANT_ID"), *cid = getenv("AZURE_CLIENT_ID");
	if (c->tenant_id == NULL && tid && is_guid(tid))
		c->tenant_id = xstrdup(tid);
	if (c->client_id == NULL && cid && is_guid(cid))
		c->client_id = xstrdup(cid);
}

/* The rules of the [mde] keys, for [mde] and for each tenant's. */
static void
validate_mde(struct parse *p, struct config *c, const char *label, unsigned line)
{
	/* client_secret_credential with client_secret_file is one source:
	 * the credential under the unit, the file (the same secret, root's)
	 * when run by hand. */
	int sources = !!(c->client_secret_file || c->client_secret_credential) + !!c->client_secret_env +
		!!c->certificate + !!c->federated_token_file + !!c->credential;
	if (sources > 1)
		config_err_at(p, line,
			      "%s: client_secret_file (or client_secret_credential), client_secret_env, certificate, "
			      "federated_token_file and credential exclude each other",
			      label);
	if (c->credential && strcmp(c->credential, "managed-identity") != 0)
		config_err_at(p, line, "%s: credential = \"%s\": the only one is managed-identity", label,
			      c->credential);
	if ((c->imds_url || c->imds_key_dir) && c->credential == NULL)
		config_err_at(p, line, "%s: imds_url and imds_key_dir need credential = managed-identity", label);
	c->certificate_rs256 = false;
	if (c->certificate_alg) {
		if (strcmp(c->certificate_alg, "rs256") == 0)
			c->certificate_rs256 = true;
		else if (strcmp(c->certificate_alg, "ps256") != 0)
			config_err_at(p, line, "%s: certificate_alg \"%s\" is not ps256 or rs256", label,
				      c->certificate_alg);
	}
	if (c->region) {
		static const char *const regions[] = {"default", "unified", "us",  "eu", "uk",
						      "au",      "swa",     "ina", "aea"};
		bool ok = false;
		for (size_t i = 0; i < NELEM(regions); i++)
			ok |= strcmp(c->region, regions[i]) == 0;
		if (!ok)
			config_err_at(p, line,
				      "%s: region \"%s\" is not one of default, unified, us, eu, uk, au, swa, ina, aea",
				      label, c->region);
		else if (strcmp(c->cloud, "global") != 0)
			config_err_at(p, line, "%s: region applies to cloud = global only", label);
	}
	if (strcmp(c->cloud, "custom") == 0 && (c->api_url == NULL || c->login_url == NULL))
		config_err_at(p, line, "%s: cloud = custom needs api_url and login_url", label);
}

static void
validate(struct parse *p)
{
	struct config *c = p->c;
	char why[256];

	from_workload_environment(c);
	validate_mde(p, c, "[mde]", 0);
	if (c->reserve >= c->cap)
		config_err_at(p, 0, "[sync]: reserve (%lld) leaves nothing of the cap (%lld)", c->reserve, c->cap);
	if (strcmp(c->fw_protocol, "udp") != 0 && strcmp(c->fw_protocol, "both") != 0)
		config_err_at(p, 0, "[firewall]: protocol \"%s\" is not udp or both", c->fw_protocol);
	char **groups = NULL; /* names or ids */
	size_t ng = 0;
	if (c->fw_assign_groups) { /* (an empty value is refused where it is read) */
		if (!config_split_list(c->fw_assign_groups, &groups, &ng))
			config_err_at(p, 0, "[firewall]: assign_groups: empty item in \"%s\"", c->fw_assign_groups);
		for (size_t i = 0; i < ng; i++)
			if (strlen(groups[i]) > 256)
				config_err_at(p, 0, "[firewall]: assign_groups: a group name over 256 bytes");
		config_free_list(groups, ng);
	}
	if (c->alert_webhook && c->alert_webhook_file)
		config_err_at(p, 0, "[alert]: webhook and webhook_file exclude each other");
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct feed_cfg *f = &c->feeds[i];
		unsigned types = f->types ? f->types : IOC_TYPES_AUTO;
		unsigned line = f->action_line ? f->action_line : f->line;
		if (f->url == NULL)
			config_err_at(p, f->line, "feed \"%s\" has no url", f->name);
		bool taxii = f->format == FEED_TAXII;
		if (!taxii && (f->taxii_collection || f->taxii_api_root || f->username || f->api_key_header))
			config_err_at(p, f->line,
				      "feed \"%s\": taxii_collection, taxii_api_root, username and api_key_header "
				      "need format = taxii",
				      f->name);
		if (taxii && f->taxii_collection == NULL)
			config_err_at(p, f->line,
				      "feed \"%s\": format = taxii needs taxii_collection (its id or title)", f->name);
		if (taxii && f->url && strncasecmp(f->url, "file://", 7) == 0)
			config_err_at(p, f->line, "feed \"%s\": a TAXII url is http(s)://", f->name);
		if (!!f->username != !!f->password_file)
			config_err_at(p, f->line, "feed \"%s\": username and password_file go together", f->name);
		if (!!f->api_key_header != !!f->api_key_file)
			config_err_at(p, f->line, "feed \"%s\": api_key_header and api_key_file go together", f->name);
		if (f->username && f->api_key_header)
			config_err_at(p, f->line, "feed \"%s\": basic authentication or an API key, not both", f->name);
		for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++) {
			if (!(types & IOC_BIT(t)))
				continue;
			if (!policy_action_ok((enum ioc_type)t, f->action, f->generate_alert, why, sizeof(why))) {
				config_err_at(
					p, line, "feed \"%s\": action %s: %s%s", f->name, ioc_action_name(f->action),
					why, f->types ? "" : " (the feed's type is auto: declare type = hash or cert)");
				break;
			}
		}
		if (f->educate_url &&
		    (!(types & IOC_BIT(IOC_URL)) || (f->action != ACT_BLOCK && f->action != ACT_WARN)))
			config_err_at(p, f->educate_line,
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
			config_err_at(p, t->line, "%s needs its own tenant_id", label);
		for (size_t k = 0; k < t->nfeeds; k++) {
			bool found = false;
			for (size_t j = 0; j < c->nfeeds; j++)
				found |= strcmp(c->feeds[j].name, t->feeds[k]) == 0;
			if (!found)
				config_err_at(p, t->line, "%s: feeds: no [feed \"%s\"]", label, t->feeds[k]);
		}
		struct config *d = ds[i] = config_tenant(c, i, false);
		validate_mde(p, d, label, t->line);
		for (size_t j = 0; j < i; j++) {
			const struct config *o = ds[j];
			if (strcmp(o->state, d->state) == 0)
				config_err_at(p, t->line, "%s: state %s is also tenant \"%s\"'s: each needs its own",
					      label, d->state, c->tenants[j].name);
			/* the owner as mde_owned sees it: GUIDs in any case, the
			 * application exactly */
			if (d->tenant_id && o->tenant_id && strcasecmp(d->tenant_id, o->tenant_id) == 0 &&
			    d->client_id && o->client_id && strcasecmp(d->client_id, o->client_id) == 0 &&
			    strcmp(d->application, o->application) == 0)
				config_err_at(p, t->line,
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
	return t == K_STR || t == K_PATH || t == K_CLOUD || t == K_URL || t == K_GUID || t == K_WEBHOOK;
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
	for (size_t k = 0; k < config_nkeys; k++) {
		char **f = (char **)((char *)base + config_keys[k].off);
		if (config_keys[k].sec == sec && is_ptr(config_keys[k].t) && *f)
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
		size_t ki = config_key_index(S_MDE, names[k]);
		char **f = (char **)((char *)d + config_keys[ki].off);
		if (!t->set[ki]) {
			free(*f);
			*f = NULL;
		}
	}
}

bool
config_tenant_takes(const struct tenant_cfg *t, const char *feed)
{
	for (size_t k = 0; k < t->nfeeds; k++)
		if (strcmp(t->feeds[k], feed) == 0)
			return true;
	return t->nfeeds == 0;
}

struct config *
config_tenant(const struct config *c, size_t i, bool lend)
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
	dup_ptrs(S_ALERT, d);
	dup_ptrs(S_FIREWALL, d);
	d->allowlist_files = dup_list(c->allowlist_files, c->nallowlist_files);
	/* The tenant's keys over [mde]'s and [sync]'s. */
	for (size_t k = 0; k < config_nkeys; k++) {
		if (!t->set[k])
			continue;
		char *dst = (char *)d + config_keys[k].off;
		const char *src = (const char *)t->over + config_keys[k].off;
		if (is_ptr(config_keys[k].t)) {
			free(*(char **)dst);
			*(char **)dst = *(char *const *)src ? xstrdup(*(char *const *)src) : NULL;
		} else if (config_keys[k].t == K_BOOL) {
			*(bool *)dst = *(const bool *)src;
		} else { /* K_INT, K_DUR of [mde]: long long */
			*(long long *)dst = *(const long long *)src;
		}
	}
	/* A secret source set by the tenant replaces [mde]'s, whichever; a
	 * tenant in another cloud takes none of [mde]'s cloud's details. */
	static const char *const secrets[] = {"client_secret_file",   "client_secret_env", "client_secret_credential",
					      "federated_token_file", "credential",        "certificate"};
	static const char *const cloudy[] = {"region", "api_url", "login_url", "resource"};
	for (size_t k = 0; k < NELEM(secrets); k++)
		if (t->set[config_key_index(S_MDE, secrets[k])]) {
			drop_inherited(d, t, secrets, NELEM(secrets));
			break;
		}
	if (t->set[config_key_index(S_MDE, "cloud")])
		drop_inherited(d, t, cloudy, NELEM(cloudy));
	if (!t->set[config_key_index(S_SYNC, "state")]) {
		free(d->state);
		d->state = with_name(c->state, ".db", t->name);
	}
	if (c->metrics_file && !t->set[config_key_index(S_SYNC, "metrics_file")]) {
		free(d->metrics_file);
		d->metrics_file = with_name(c->metrics_file, ".prom", t->name);
	}
	/* Its feeds, scoped to its device groups. A tenant that takes every
	 * feed as it is may be lent the configuration's own: tenants whose
	 * feeds are the same objects share one desired set
	 * (desired_share_take). */
	size_t taken = 0;
	for (size_t j = 0; lend && j < c->nfeeds; j++)
		taken += config_tenant_takes(t, c->feeds[j].name);
	if (lend && taken == c->nfeeds && t->ndevice_groups == 0) {
		d->feeds_lent = true;
		return d;
	}
	d->feeds = xcalloc(c->nfeeds ? c->nfeeds : 1, sizeof(*d->feeds));
	d->nfeeds = 0;
	for (size_t j = 0; j < c->nfeeds; j++) {
		if (!config_tenant_takes(t, c->feeds[j].name))
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

void
config_validate(struct parse *p)
{
	validate(p);
	if (p->errors == 0)
		validate_tenants(p);
}
