#include "fw_push.h"

#include <arpa/inet.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "mde.h"
#include "util.h"

/* docs/graph-firewall.md: the template (the issue, [F]), the group
 * setting with its {firewallrulename} token and the children's ids ([F],
 * field reports, not Microsoft documents), 150 rules a policy ([M1]). */
#define FW_TEMPLATE "19c8aa67-f286-4861-9aa0-f23541d31680_1"
#define G "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}"
#define FW_RULES_PER_POLICY 150
#define POLICIES "/beta/deviceManagement/configurationPolicies"
#define TEMPLATES "/beta/deviceManagement/configurationPolicyTemplates"
#define OWNER "managed by iocsync: "

/* An address as a sortable key: family, then 16 bytes big-endian. */
struct key {
	unsigned char fam;
	unsigned char b[16];
};

static int
cmp_key(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct key));
}

/* k + 1 == next (same family)? */
static bool
follows(const struct key *k, const struct key *next)
{
	struct key x = *k;
	int last = k->fam == 4 ? 3 : 15;
	for (int i = last; i >= 0; i--)
		if (++x.b[i] != 0)
			break;
	return memcmp(&x, next, sizeof(x)) == 0;
}

static void
fmt(const struct key *k, char *out, size_t outsz)
{
	inet_ntop(k->fam == 4 ? AF_INET : AF_INET6, k->b, out, (socklen_t)outsz);
}

/* Sorted, unique, adjacent addresses merged: "a.b.c.d" or "a-b". */
static json_t *
entries(const char *const *addrs, size_t n)
{
	struct key *k = xcalloc(n ? n : 1, sizeof(*k));
	size_t m = 0;
	for (size_t i = 0; i < n; i++) {
		struct key x = {0};
		if (inet_pton(AF_INET, addrs[i], x.b) == 1)
			x.fam = 4;
		else if (inet_pton(AF_INET6, addrs[i], x.b) == 1)
			x.fam = 6;
		else
			continue; /* canonical already (the policy ran): never here */
		k[m++] = x;
	}
	qsort(k, m, sizeof(*k), cmp_key);
	json_t *out = json_array();
	for (size_t i = 0; i < m;) {
		size_t j = i;
		while (j + 1 < m && (memcmp(&k[j], &k[j + 1], sizeof(*k)) == 0 || follows(&k[j], &k[j + 1])))
			j++;
		char a[64], b[64], r[130];
		fmt(&k[i], a, sizeof(a));
		fmt(&k[j], b, sizeof(b));
		if (memcmp(&k[i], &k[j], sizeof(*k)) == 0)
			snprintf(r, sizeof(r), "%s", a);
		else
			snprintf(r, sizeof(r), "%s-%s", a, b);
		json_array_append_new(out, json_string(r));
		i = j + 1;
	}
	free(k);
	return out;
}

static json_t *
simple(const char *id, const char *type, json_t *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:o}}", "@odata.type",
			 "#microsoft.graph.deviceManagementConfigurationSimpleSettingInstance", "settingDefinitionId",
			 id, "simpleSettingValue", "@odata.type", type, "value", value);
}

static json_t *
choice(const char *id, const char *value)
{
	return json_pack("{s:s, s:s, s:{s:s, s:[]}}", "@odata.type",
			 "#microsoft.graph.deviceManagementConfigurationChoiceSettingInstance", "settingDefinitionId",
			 id, "choiceSettingValue", "value", value, "children");
}

/* One rule: block, outbound, protocol, these remote addresses, enabled. */
static json_t *
rule(const char *name, int protocol, const json_t *remote)
{
	json_t *addrs = json_array(), *a;
	size_t i;
	json_array_foreach(remote, i, a) {
		json_array_append_new(addrs,
				      json_pack("{s:s, s:O}", "@odata.type",
						"#microsoft.graph.deviceManagementConfigurationStringSettingValue",
						"value", a));
	}
	json_t *children = json_pack(
		"[o, o, o, o, {s:s, s:s, s:o}, o]",
		simple(G "_name", "#microsoft.graph.deviceManagementConfigurationStringSettingValue",
		       json_string(name)),
		choice(G "_direction", G "_direction_out"), choice(G "_action_type", G "_action_type_0"),
		simple(G "_protocol", "#microsoft.graph.deviceManagementConfigurationIntegerSettingValue",
		       json_integer(protocol)),
		"@odata.type", "#microsoft.graph.deviceManagementConfigurationSimpleSettingCollectionInstance",
		"settingDefinitionId", G "_remoteaddressranges", "simpleSettingCollectionValue", addrs,
		choice(G "_enabled", G "_enabled_1"));
	return json_pack("{s:o}", "children", children);
}

/* The first 16 hex digits of SHA-256 of the compact text of v and s. */
static void
digest(const json_t *v, const char *s, char out[17])
{
	char *text = json_dumps(v, JSON_COMPACT | JSON_SORT_KEYS);
	unsigned char md[32];
	unsigned mdlen = 0;
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
	EVP_DigestUpdate(ctx, text, strlen(text));
	EVP_DigestUpdate(ctx, s ? s : "", s ? strlen(s) : 0);
	EVP_DigestFinal_ex(ctx, md, &mdlen);
	EVP_MD_CTX_free(ctx);
	free(text);
	for (int i = 0; i < 8; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
}

json_t *
fw_push_policies(const struct config *c, const char *const *addrs, size_t n)
{
	json_t *ent = entries(addrs, n), *rules = json_array();
	size_t per = (size_t)c->fw_rule_max_addresses, ne = json_array_size(ent);
	size_t parts = (ne + per - 1) / per;
	bool both = strcmp(c->fw_protocol, "both") == 0;
	for (size_t p = 0; p < parts; p++) {
		json_t *chunk = json_array();
		for (size_t i = p * per; i < ne && i < (p + 1) * per; i++)
			json_array_append(chunk, json_array_get(ent, i));
		for (int k = 0; k < (both ? 2 : 1); k++) {
			char name[160];
			snprintf(name, sizeof(name), "iocsync block %zu/%zu %s", p + 1, parts, k ? "TCP" : "UDP");
			json_array_append_new(rules, rule(name, k ? 6 : 17, chunk));
		}
		json_decref(chunk);
	}
	json_t *out = json_array();
	size_t nr = json_array_size(rules), np = (nr + FW_RULES_PER_POLICY - 1) / FW_RULES_PER_POLICY;
	for (size_t p = 0; p < np; p++) {
		json_t *coll = json_array();
		for (size_t i = p * FW_RULES_PER_POLICY; i < nr && i < (p + 1) * FW_RULES_PER_POLICY; i++)
			json_array_append(coll, json_array_get(rules, i));
		json_t *settings = json_pack(
			"[{s:s, s:{s:s, s:s, s:o}}]", "@odata.type",
			"#microsoft.graph.deviceManagementConfigurationSetting", "settingInstance", "@odata.type",
			"#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstance",
			"settingDefinitionId", G, "groupSettingCollectionValue", coll);
		char name[300], desc[400], d[17];
		digest(settings, c->fw_assign_groups, d);
		snprintf(name, sizeof(name), "%s %zu/%zu", c->fw_policy_prefix, p + 1, np);
		snprintf(desc, sizeof(desc),
			 OWNER
			 "%s sha256:%s. Windows Firewall rules for the blocked IP indicators: network protection "
			 "blocks TCP only. Replaced whole by iocsync firewall push; do not edit.",
			 c->application, d);
		json_array_append_new(out,
				      json_pack("{s:s, s:s, s:s, s:s, s:[s], s:{s:s}, s:o}", "name", name,
						"description", desc, "platforms", "windows10", "technologies",
						"mdm,microsoftSense", "roleScopeTagIds", "0", "templateReference",
						"templateId", FW_TEMPLATE, "settings", settings));
	}
	json_decref(rules);
	json_decref(ent);
	return out;
}

/* iocsync's policy: its name starts with the prefix and its description
 * names iocsync and the application. */
static bool
ours(const struct config *c, const json_t *p)
{
	const char *name = json_string_value(json_object_get(p, "name"));
	const char *desc = json_string_value(json_object_get(p, "description"));
	size_t pl = strlen(c->fw_policy_prefix), ol = strlen(OWNER), al = strlen(c->application);
	return name && desc && strncmp(name, c->fw_policy_prefix, pl) == 0 && strncmp(desc, OWNER, ol) == 0 &&
		strncmp(desc + ol, c->application, al) == 0 && desc[ol + al] == ' ';
}

/* Everything Graph lists at path, following @odata.nextLink. */
static enum err
list_all(struct mde *g, const char *first, json_t **all, char *why, size_t whysz)
{
	*all = json_array();
	char *path = xstrdup(first);
	const char *base = mde_api_base(g);
	enum err e = ERR_OK;
	for (int page = 0; path && page < 1000; page++) {
		long st;
		json_t *body = NULL;
		if ((e = mde_call(g, MDE_EP_GRAPH, "GET", path, NULL, &st, &body, why, whysz)) != ERR_OK)
			break;
		json_array_extend(*all, json_object_get(body, "value"));
		const char *next = json_string_value(json_object_get(body, "@odata.nextLink"));
		free(path);
		path = NULL;
		if (next && strncmp(next, base, strlen(base)) == 0) /* never another origin */
			path = xstrdup(next + strlen(base));
		else if (next)
			log_warn("firewall: a nextLink to another origin is not followed");
		json_decref(body);
	}
	free(path);
	return e;
}

/*
 * The template's references (docs/graph-firewall.md section 3): a policy
 * made from a template carries, on each setting the template defines,
 * that setting's settingInstanceTemplateReference, and on its values the
 * settingValueTemplateReference; field reports say Graph requires them.
 * Their ids are the tenant's template's, read from it (settingTemplates),
 * never written here. refs gets {definition id: {"instance": id,
 * "value": id}} from every instance template at any depth; a value
 * template belongs to the nearest instance template above it.
 */
static void
collect_refs(const json_t *x, const char *def, json_t *refs)
{
	size_t i;
	const char *k;
	json_t *v;
	if (json_is_array(x)) {
		json_array_foreach(x, i, v)
			collect_refs(v, def, refs);
		return;
	}
	if (!json_is_object(x))
		return;
	const char *d = json_string_value(json_object_get(x, "settingDefinitionId"));
	const char *it = json_string_value(json_object_get(x, "settingInstanceTemplateId"));
	const char *vt = json_string_value(json_object_get(x, "settingValueTemplateId"));
	if (d && it) {
		def = d;
		json_object_set_new(refs, d, json_pack("{s:s}", "instance", it));
	}
	json_t *r = def ? json_object_get(refs, def) : NULL;
	if (vt && r && !json_object_get(r, "value"))
		json_object_set_new(r, "value", json_string(vt));
	json_object_foreach((json_t *)x, k, v)
		collect_refs(v, def, refs);
}

/* The references of the firewall rules template, or NULL (said) when it
 * cannot be read: the policies then go without them. */
static json_t *
template_refs(struct mde *g)
{
	char why[512];
	json_t *all = NULL;
	if (list_all(g, TEMPLATES "/" FW_TEMPLATE "/settingTemplates", &all, why, sizeof(why)) != ERR_OK) {
		log_warn("firewall: cannot read template %s (%s): the policies go without its references", FW_TEMPLATE,
			 why);
		json_decref(all);
		return NULL;
	}
	json_t *refs = json_object();
	collect_refs(all, NULL, refs);
	json_decref(all);
	if (json_object_size(refs) == 0)
		log_warn("firewall: template %s defines no setting: the policies go without its references",
			 FW_TEMPLATE);
	return refs;
}

/* A value's reference to its template, unless it has one. */
static void
value_ref(json_t *value, const char *id)
{
	if (json_is_object(value) && !json_object_get(value, "settingValueTemplateReference"))
		json_object_set_new(value, "settingValueTemplateReference",
				    json_pack("{s:s, s:b}", "settingValueTemplateId", id, "useTemplateDefault", 0));
}

/* Puts the template's references on every setting instance of x (a
 * policy's settings) whose definition the template has. */
static void
attach_refs(json_t *x, const json_t *refs)
{
	size_t i;
	const char *k;
	json_t *v;
	if (json_is_array(x)) {
		json_array_foreach(x, i, v)
			attach_refs(v, refs);
		return;
	}
	if (!json_is_object(x))
		return;
	json_object_foreach(x, k, v)
		attach_refs(v, refs);
	const char *d = json_string_value(json_object_get(x, "settingDefinitionId"));
	const json_t *r = d ? json_object_get(refs, d) : NULL;
	if (r == NULL || json_object_get(x, "settingInstanceTemplateReference"))
		return;
	json_object_set_new(x, "settingInstanceTemplateReference",
			    json_pack("{s:O}", "settingInstanceTemplateId", json_object_get(r, "instance")));
	const char *vt = json_string_value(json_object_get(r, "value"));
	if (vt == NULL)
		return;
	value_ref(json_object_get(x, "simpleSettingValue"), vt);
	value_ref(json_object_get(x, "choiceSettingValue"), vt);
	json_array_foreach(json_object_get(x, "groupSettingCollectionValue"), i, v)
		value_ref(v, vt);
	json_array_foreach(json_object_get(x, "simpleSettingCollectionValue"), i, v)
		value_ref(v, vt);
}

/* [firewall] assign_groups as Entra group ids: an id as given, a name
 * looked up (Group.Read.All); a name with no group, or more than one,
 * is an error before anything changes. */
static enum err
group_ids(struct mde *g, const struct config *c, json_t **ids, char *why, size_t whysz)
{
	*ids = json_array();
	char **names = NULL;
	size_t n = 0;
	if (c->fw_assign_groups && !config_split_list(c->fw_assign_groups, &names, &n)) {
		set_why(why, whysz, "assign_groups: empty item in \"%s\"", c->fw_assign_groups);
		return ERR_CONFIG; /* (the configuration's check says so first) */
	}
	enum err e = ERR_OK;
	for (size_t i = 0; e == ERR_OK && i < n; i++) {
		const char *t = names[i];
		if (is_guid(t)) {
			json_array_append_new(*ids, json_string(t));
			continue;
		}
		char *esc = mde_filter_eq("displayName", t);
		char *path = xasprintf("/v1.0/groups?$filter=%s&$select=id,displayName", esc);
		free(esc);
		long st;
		json_t *out = NULL;
		e = mde_call(g, MDE_EP_GRAPH, "GET", path, NULL, &st, &out, why, whysz);
		free(path);
		size_t found = json_array_size(json_object_get(out, "value"));
		if (e == ERR_OK && found != 1) {
			set_why(why, whysz, "assign_groups: %s Entra group named \"%s\"%s",
				found ? "more than one" : "no", t,
				found ? ": give its id instead" : " (check the name, or give its id)");
			e = ERR_CONFIG;
		}
		if (e == ERR_OK)
			json_array_append(*ids,
					  json_object_get(json_array_get(json_object_get(out, "value"), 0), "id"));
		json_decref(out);
	}
	config_free_list(names, n);
	return e;
}

static enum err
assign(struct mde *g, const json_t *ids, const char *id, char *why, size_t whysz)
{
	json_t *as = json_array(), *gid;
	size_t i;
	json_array_foreach(ids, i, gid) {
		json_array_append_new(as,
				      json_pack("{s:{s:s, s:O}}", "target", "@odata.type",
						"#microsoft.graph.groupAssignmentTarget", "groupId", gid));
	}
	char path[200];
	snprintf(path, sizeof(path), POLICIES "/%s/assign", id);
	json_t *body = json_pack("{s:o}", "assignments", as), *out = NULL;
	long st;
	enum err e = mde_call(g, MDE_EP_GRAPH, "POST", path, body, &st, &out, why, whysz);
	json_decref(body);
	json_decref(out);
	return e;
}

enum err
fw_push_status(const struct config *c, json_t **roles, size_t *n_ours, size_t *assigned, char *why, size_t whysz)
{
	*roles = NULL;
	*n_ours = *assigned = 0;
	struct mde *g = mde_new_graph(c, c->fw_graph_url, c->fw_graph_resource, why, whysz);
	const json_t *r = g ? mde_roles(g, why, whysz) : NULL;
	json_t *have = NULL, *p;
	enum err e = r ? list_all(g, POLICIES, &have, why, whysz) : ERR_CONFIG;
	if (r)
		*roles = json_incref((json_t *)r);
	size_t i;
	json_array_foreach(have, i, p) {
		if (!ours(c, p))
			continue;
		(*n_ours)++;
		*assigned += json_is_true(json_object_get(p, "isAssigned"));
	}
	json_decref(have);
	mde_free(g);
	return e;
}

enum err
fw_push(const struct config *c, const char *const *addrs, size_t n, bool dry_run, FILE *out, struct fw_push_result *res,
	char *why, size_t whysz)
{
	*res = (struct fw_push_result){.addresses = n};
	json_t *want = fw_push_policies(c, addrs, n), *have = NULL, *p;
	size_t i;
	json_array_foreach(want, i, p) {
		res->rules += json_array_size(json_object_get(
			json_object_get(json_array_get(json_object_get(p, "settings"), 0), "settingInstance"),
			"groupSettingCollectionValue"));
	}
	res->policies = json_array_size(want);
	struct mde *g = mde_new_graph(c, c->fw_graph_url, c->fw_graph_resource, why, whysz);
	json_t *gids = NULL;
	enum err e = g ? group_ids(g, c, &gids, why, whysz) : ERR_CONFIG;
	if (e == ERR_OK)
		e = list_all(g, POLICIES, &have, why, whysz);
	json_t *keep = json_object(); /* ids of ours that stay */
	json_t *refs = NULL;          /* the template's references */
	bool refs_read = false;
	json_array_foreach(want, i, p) {
		if (e != ERR_OK)
			break;
		const char *name = json_string_value(json_object_get(p, "name"));
		const char *desc = json_string_value(json_object_get(p, "description"));
		const char *found = NULL;
		size_t k;
		json_t *h;
		json_array_foreach(have, k, h) {
			if (ours(c, h) && strcmp(json_string_value(json_object_get(h, "name")), name) == 0 &&
			    strcmp(json_string_value(json_object_get(h, "description")), desc) == 0 &&
			    !json_object_get(keep, json_string_value(json_object_get(h, "id"))))
				found = json_string_value(json_object_get(h, "id"));
		}
		if (found) {
			json_object_set_new(keep, found, json_true());
			res->kept++;
			continue;
		}
		if (out)
			fprintf(out, "firewall: %s %s\n", dry_run ? "would create" : "create", name);
		res->created++;
		if (dry_run)
			continue;
		if (refs == NULL && !refs_read) { /* once, when a policy is to be made */
			refs = template_refs(g);
			refs_read = true;
		}
		if (refs) /* (after the digest: a template's new ids replace no policy) */
			attach_refs(json_object_get(p, "settings"), refs);
		long st;
		json_t *made = NULL;
		if ((e = mde_call(g, MDE_EP_GRAPH, "POST", POLICIES, p, &st, &made, why, whysz)) == ERR_OK) {
			const char *id = json_string_value(json_object_get(made, "id"));
			json_object_set_new(keep, id ? id : "", json_true());
			if (id && json_array_size(gids))
				e = assign(g, gids, id, why, whysz);
		}
		json_decref(made);
	}
	/* Only once every wanted policy is in place: the old ones go. */
	json_array_foreach(have, i, p) {
		const char *id = json_string_value(json_object_get(p, "id"));
		if (e != ERR_OK || !ours(c, p) || id == NULL || json_object_get(keep, id))
			continue;
		if (out)
			fprintf(out, "firewall: %s %s\n", dry_run ? "would delete" : "delete",
				json_string_value(json_object_get(p, "name")));
		res->deleted++;
		if (dry_run)
			continue;
		char path[200];
		long st;
		snprintf(path, sizeof(path), POLICIES "/%s", id);
		e = mde_call(g, MDE_EP_GRAPH, "DELETE", path, NULL, &st, NULL, why, whysz);
	}
	json_decref(keep);
	json_decref(refs);
	json_decref(gids);
	json_decref(have);
	json_decref(want);
	mde_free(g);
	return e;
}
