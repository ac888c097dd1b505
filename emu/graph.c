/* The Microsoft Graph subset iocsync's Intune firewall push uses (issue 22;
 * docs/graph-firewall.md gives each rule's source and the choices made
 * where the documents are silent):
 *
 *   GET    /beta/deviceManagement/configurationPolicies        list, paged
 *   POST   /beta/deviceManagement/configurationPolicies        create (201)
 *   GET    /beta/deviceManagement/configurationPolicies/{id}   get ($expand=settings)
 *   PATCH  /beta/deviceManagement/configurationPolicies/{id}   name, description (200)
 *   DELETE /beta/deviceManagement/configurationPolicies/{id}   (204)
 *   GET    .../{id}/settings, .../{id}/assignments
 *   POST   .../{id}/assign                                     replace assignments (200)
 *   GET    /beta/deviceManagement/configurationPolicyTemplates/{id}/settingTemplates
 *          the firewall rules template's setting templates (its ids are
 *          the emulator's: the service's are not in the pages read)
 *
 * A firewall rules policy's group setting may carry the template's
 * settingInstanceTemplateReference (a wrong id is a 400); under the
 * reading template-references=required it must.
 *
 * Tokens for https://graph.microsoft.com only; reads need
 * DeviceManagementConfiguration.Read.All or .ReadWrite.All, writes
 * .ReadWrite.All (403 otherwise). Errors in Graph's shape. Policies are
 * per tenant. A firewall rules policy holds at most 150 rules (memdocs).
 * Writes are limited to GRAPH_WRITES_PER_MIN a minute per app (the
 * emulator's own choice: Intune's limits are not in the pages read). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/rand.h>

#include "emu.h"

#define GRAPH_PAGE 25 /* policies a page (the emulator's choice) */
#define GRAPH_WRITES_PER_MIN 100
#define FIREWALL_TEMPLATE "19c8aa67-f286-4861-9aa0-f23541d31680_1"
#define FIREWALL_RULES_MAX 150
#define RULE_GROUP "vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}"
#define BASE "/beta/deviceManagement/configurationPolicies"
#define TEMPLATES "/beta/deviceManagement/configurationPolicyTemplates"
/* The emulator's own id for the template's rules setting: a client reads
 * it from settingTemplates, never knows it beforehand. */
#define RULE_GROUP_TEMPLATE "0e3c1a5e-0000-4000-8000-00000000f1e1"

static void
emu_guid(char out[37])
{
	unsigned char b[16];
	if (RAND_bytes(b, sizeof(b)) != 1)
		abort();
	b[6] = (unsigned char)((b[6] & 0x0f) | 0x40);
	b[8] = (unsigned char)((b[8] & 0x3f) | 0x80);
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", b[0], b[1], b[2],
		 b[3], b[4], b[5], b[6], b[7], b[8], b[9], b[10], b[11], b[12], b[13], b[14], b[15]);
}

void
graph_error(struct emu *e, struct reply *r, int status, const char *code, const char *msg)
{
	char id[37], now[40];
	emu_guid(id);
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	json_decref(r->body);
	r->status = status;
	r->body = json_pack("{s:{s:s, s:s, s:{s:s, s:s}}}", "error", "code", code, "message", msg, "innerError",
			    "request-id", id, "date", now);
}

/* The policy of the caller's tenant with that id, or NULL. */
static json_t *
find(struct emu *e, const struct app *a, const char *id, size_t *at)
{
	size_t i;
	json_t *p;
	json_array_foreach(e->policies, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "_tenant")), a->tenant) == 0 &&
		    strcmp(json_string_value(json_object_get(p, "id")), id) == 0) {
			if (at)
				*at = i;
			return p;
		}
	}
	return NULL;
}

/* A copy without the emulator's own keys, and without settings unless asked. */
static json_t *
shown(const json_t *p, bool settings)
{
	json_t *o = json_deep_copy(p);
	json_object_del(o, "_tenant");
	json_object_del(o, "assignments");
	if (!settings)
		json_object_del(o, "settings");
	return o;
}

/* The rule count of a firewall rules policy's settings; -1 with why when
 * they are not that template's shape (docs/graph-firewall.md section 3). */
static int
count_rules(const json_t *settings, bool refs_required, char *why, size_t whysz)
{
	size_t i, rules = 0;
	json_t *s;
	if (!json_is_array(settings)) {
		snprintf(why, whysz, "settings must be an array");
		return -1;
	}
	json_array_foreach(settings, i, s) {
		const json_t *inst = json_object_get(s, "settingInstance");
		const char *def = json_string_value(json_object_get(inst, "settingDefinitionId"));
		if (def == NULL || strcmp(def, RULE_GROUP) != 0) {
			snprintf(why, whysz, "setting %zu: settingDefinitionId must be %s", i, RULE_GROUP);
			return -1;
		}
		const json_t *ref = json_object_get(inst, "settingInstanceTemplateReference");
		const char *tid = json_string_value(json_object_get(ref, "settingInstanceTemplateId"));
		if (ref && !json_is_null(ref) && (tid == NULL || strcmp(tid, RULE_GROUP_TEMPLATE) != 0)) {
			snprintf(why, whysz, "setting %zu: settingInstanceTemplateReference is not the template's", i);
			return -1;
		}
		if (refs_required && tid == NULL) {
			snprintf(why, whysz,
				 "setting %zu: a policy from a template needs the settingInstanceTemplateReference of "
				 "each of its settings",
				 i);
			return -1;
		}
		const json_t *v = json_object_get(inst, "groupSettingCollectionValue");
		if (!json_is_array(v)) {
			snprintf(why, whysz, "setting %zu: groupSettingCollectionValue must be an array", i);
			return -1;
		}
		rules += json_array_size(v);
	}
	return (int)rules;
}

static bool
allowed(struct emu *e, const struct app *a, bool write, struct reply *r)
{
	if (a->roles & ROLE_DMC_RW_ALL || (!write && a->roles & ROLE_DMC_READ_ALL))
		return true;
	graph_error(e, r, 403, "Forbidden",
		    write ? "Application is not authorized to perform this operation. Application must have one of "
			    "the following scopes: DeviceManagementConfiguration.ReadWrite.All"
			  : "Application is not authorized to perform this operation. Application must have one of "
			    "the following scopes: DeviceManagementConfiguration.Read.All, "
			    "DeviceManagementConfiguration.ReadWrite.All");
	return false;
}

/* GRAPH_WRITES_PER_MIN writes a minute per app, then 429. */
static bool
write_budget(struct emu *e, const struct app *a, struct reply *r)
{
	if (!e->rate_limits)
		return true;
	char key[256];
	snprintf(key, sizeof(key), "%s|%s|graph-write", a->tenant, a->client_id);
	long long wait_ms = emu_window_take(e, key, GRAPH_WRITES_PER_MIN, 0);
	if (wait_ms > 0) {
		graph_error(e, r, 429, "TooManyRequests", "Too many requests.");
		snprintf(r->retry_after, sizeof(r->retry_after), "%lld", (wait_ms + 999) / 1000);
		return false;
	}
	return true;
}

static void
list(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	const char *skip = req_query(q, "$skiptoken");
	long long from = skip ? atoll(skip) : 0, seen = 0;
	json_t *value = json_array(), *p;
	size_t i;
	bool more = false;
	json_array_foreach(e->policies, i, p) {
		if (strcmp(json_string_value(json_object_get(p, "_tenant")), a->tenant) != 0)
			continue;
		if (seen++ < from)
			continue;
		if (json_array_size(value) == GRAPH_PAGE) {
			more = true;
			break;
		}
		json_array_append_new(value, shown(p, false));
	}
	r->status = 200;
	r->body = json_pack("{s:s, s:o}", "@odata.context",
			    "https://graph.microsoft.com/beta/$metadata#deviceManagement/configurationPolicies",
			    "value", value);
	if (more) {
		char link[600];
		snprintf(link, sizeof(link), "%s%s?$skiptoken=%lld", e->base, BASE, from + GRAPH_PAGE);
		json_object_set_new(r->body, "@odata.nextLink", json_string(link));
	}
}

static void
create(struct emu *e, const struct app *a, const json_t *in, struct reply *r)
{
	const char *name = json_string_value(json_object_get(in, "name"));
	const char *platforms = json_string_value(json_object_get(in, "platforms"));
	const char *tech = json_string_value(json_object_get(in, "technologies"));
	const char *tmpl = json_string_value(json_object_get(json_object_get(in, "templateReference"), "templateId"));
	char why[300];
	int rules;
	if (!json_is_object(in) || name == NULL || !*name || platforms == NULL || tech == NULL) {
		graph_error(e, r, 400, "BadRequest", "name, platforms and technologies are required");
		return;
	}
	if (tmpl && strcmp(tmpl, FIREWALL_TEMPLATE) == 0) {
		if ((rules = count_rules(json_object_get(in, "settings"), reading_alt(e, R_TEMPLATE_REFS), why,
					 sizeof(why))) < 0) {
			graph_error(e, r, 400, "BadRequest", why);
			return;
		}
		if (rules > FIREWALL_RULES_MAX) {
			snprintf(why, sizeof(why), "A firewall rules policy holds at most %d rules (%d given)",
				 FIREWALL_RULES_MAX, rules);
			graph_error(e, r, 400, "BadRequest", why);
			return;
		}
	}
	char id[37], now[40];
	emu_guid(id);
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	json_t *p = json_deep_copy(in);
	json_object_del(p, "@odata.type");
	json_object_set_new(p, "id", json_string(id));
	json_object_set_new(p, "_tenant", json_string(a->tenant));
	json_object_set_new(p, "createdDateTime", json_string(now));
	json_object_set_new(p, "lastModifiedDateTime", json_string(now));
	json_object_set_new(p, "settingCount",
			    json_integer((json_int_t)json_array_size(json_object_get(in, "settings"))));
	json_object_set_new(p, "isAssigned", json_false());
	json_object_set_new(p, "assignments", json_array());
	if (!json_object_get(p, "settings"))
		json_object_set_new(p, "settings", json_array());
	json_array_append_new(e->policies, p);
	r->status = 201;
	r->body = shown(p, false);
}

static void
patch(struct emu *e, json_t *p, const json_t *in, struct reply *r)
{
	if (!json_is_object(in) || json_object_get(in, "settings")) {
		/* docs/graph-firewall.md section 4: PATCH is documented for the
		 * policy's properties; its settings are not changed this way. */
		graph_error(e, r, 400, "BadRequest", "settings cannot be changed with PATCH");
		return;
	}
	static const char *const keys[] = {"name", "description"};
	for (size_t k = 0; k < NELEM(keys); k++) {
		json_t *v = json_object_get(in, keys[k]);
		if (v && !json_is_string(v)) {
			graph_error(e, r, 400, "BadRequest", "name and description are strings");
			return;
		}
		if (v)
			json_object_set(p, keys[k], v);
	}
	char now[40];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	json_object_set_new(p, "lastModifiedDateTime", json_string(now));
	r->status = 200;
	r->body = shown(p, false);
}

static void
assign(struct emu *e, json_t *p, const json_t *in, struct reply *r)
{
	const json_t *as = json_object_get(in, "assignments");
	size_t i;
	json_t *x, *out = json_array();
	if (!json_is_array(as)) {
		json_decref(out);
		graph_error(e, r, 400, "BadRequest", "assignments must be an array");
		return;
	}
	json_array_foreach(as, i, x) {
		const json_t *t = json_object_get(x, "target");
		const char *type = json_string_value(json_object_get(t, "@odata.type"));
		const char *gid = json_string_value(json_object_get(t, "groupId"));
		if (type == NULL || (strcmp(type, "#microsoft.graph.groupAssignmentTarget") == 0 && gid == NULL)) {
			json_decref(out);
			graph_error(e, r, 400, "BadRequest",
				    "each assignment needs a target with its @odata.type (and groupId)");
			return;
		}
		char id[37];
		emu_guid(id);
		json_array_append_new(out, json_pack("{s:s, s:O}", "id", id, "target", t));
	}
	json_object_set(p, "assignments", out);
	json_object_set_new(p, "isAssigned", json_boolean(json_array_size(out) > 0));
	r->status = 200;
	r->body = json_pack("{s:o}", "value", out);
}

static void
policy_request(struct emu *e, const struct app *a, const struct request *q, const char *path, struct reply *r)
{
	const char *rest = path + strlen(BASE);
	bool write = strcmp(q->method, "GET") != 0;
	if (!allowed(e, a, write, r) || (write && !write_budget(e, a, r)))
		return;
	json_t *in = q->body && q->body_len ? json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	if (*rest == '\0') {
		if (strcmp(q->method, "GET") == 0)
			list(e, a, q, r);
		else if (strcmp(q->method, "POST") == 0)
			create(e, a, in, r);
		else
			graph_error(e, r, 405, "BadRequest", "method not allowed");
		json_decref(in);
		return;
	}
	char id[64] = "", sub[32] = "";
	if (sscanf(rest, "/%63[^/]/%31s", id, sub) < 1 || strchr(sub, '/')) {
		json_decref(in);
		graph_error(e, r, 404, "ResourceNotFound", "Resource not found");
		return;
	}
	size_t at;
	json_t *p = find(e, a, id, &at);
	if (p == NULL) {
		graph_error(e, r, 404, "ResourceNotFound", "The policy does not exist");
	} else if (!*sub && strcmp(q->method, "GET") == 0) {
		const char *expand = req_query(q, "$expand");
		r->status = 200;
		r->body = shown(p, expand && strcmp(expand, "settings") == 0);
	} else if (!*sub && strcmp(q->method, "PATCH") == 0) {
		patch(e, p, in, r);
	} else if (!*sub && strcmp(q->method, "DELETE") == 0) {
		json_array_remove(e->policies, at);
		r->status = 204;
		r->raw_empty = true;
	} else if (strcmp(sub, "settings") == 0 && strcmp(q->method, "GET") == 0) {
		r->status = 200;
		r->body = json_pack("{s:O}", "value", json_object_get(p, "settings"));
	} else if (strcmp(sub, "assignments") == 0 && strcmp(q->method, "GET") == 0) {
		r->status = 200;
		r->body = json_pack("{s:O}", "value", json_object_get(p, "assignments"));
	} else if (strcmp(sub, "assign") == 0 && strcmp(q->method, "POST") == 0) {
		assign(e, p, in, r);
	} else {
		graph_error(e, r, 405, "BadRequest", "method not allowed");
	}
	json_decref(in);
}

/* A request for the policies; what a write that succeeded made is kept
 * (--state) before the answer goes. */
static void
graph_handle(struct emu *e, const struct app *a, const struct request *q, const char *path, struct reply *r)
{
	policy_request(e, a, q, path, r);
	if (strcmp(q->method, "GET") != 0 && r->status >= 200 && r->status < 300)
		(void)emu_state_save(e, NULL, 0);
}

/* GET /v1.0/groups?$filter=displayName eq 'NAME' (Group.Read.All): the
 * tenant's groups of that name (only that filter form is served). */
static void
groups(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	const char *f = req_query(q, "$filter");
	char name[300];
	if (!(a->roles & ROLE_GROUP_READ_ALL)) {
		graph_error(e, r, 403, "Authorization_RequestDenied",
			    "Insufficient privileges to complete the operation.");
		return;
	}
	if (f == NULL || sscanf(f, "displayName eq '%299[^']'", name) != 1) {
		graph_error(e, r, 400, "Request_UnsupportedQuery", "Only $filter=displayName eq '...' is served here");
		return;
	}
	json_t *value = json_array(), *g;
	size_t i;
	json_array_foreach(e->groups, i, g) {
		if (strcmp(json_string_value(json_object_get(g, "_tenant")), a->tenant) == 0 &&
		    strcmp(json_string_value(json_object_get(g, "displayName")), name) == 0)
			json_array_append_new(value,
					      json_pack("{s:O, s:O}", "id", json_object_get(g, "id"), "displayName",
							json_object_get(g, "displayName")));
	}
	r->status = 200;
	r->body = json_pack("{s:o}", "value", value);
}

/* GET TEMPLATES/{id}/settingTemplates: the firewall rules template's one
 * setting, the rules group, with the emulator's instance template id. */
static void
setting_templates(struct emu *e, const struct app *a, const struct request *q, const char *path, struct reply *r)
{
	if (!allowed(e, a, false, r))
		return;
	if (strcmp(q->method, "GET") != 0) {
		graph_error(e, r, 405, "BadRequest", "method not allowed");
		return;
	}
	if (strcmp(path, TEMPLATES "/" FIREWALL_TEMPLATE "/settingTemplates") != 0) {
		graph_error(e, r, 404, "ResourceNotFound", "Resource not found");
		return;
	}
	r->status = 200;
	r->body = json_pack("{s:[{s:s, s:s, s:{s:s, s:s, s:s, s:b, s:[]}}]}", "value", "@odata.type",
			    "#microsoft.graph.deviceManagementConfigurationSettingTemplate", "id", "0",
			    "settingInstanceTemplate", "@odata.type",
			    "#microsoft.graph.deviceManagementConfigurationGroupSettingCollectionInstanceTemplate",
			    "settingInstanceTemplateId", RULE_GROUP_TEMPLATE, "settingDefinitionId", RULE_GROUP,
			    "isRequired", 0, "groupSettingCollectionValueTemplate");
}

bool
graph_route(struct emu *e, const struct request *q, const char *path, struct reply *r)
{
	size_t n = strlen(BASE), tn = strlen(TEMPLATES);
	bool is_groups = strcmp(path, "/v1.0/groups") == 0;
	bool is_templates = strncmp(path, TEMPLATES, tn) == 0 && path[tn] == '/';
	if (!is_groups && !is_templates && (strncmp(path, BASE, n) != 0 || (path[n] != '\0' && path[n] != '/')))
		return false;
	struct app a;
	if (!auth_bearer(e, q, &a, r)) {
		char msg[300]; /* the reason, in Graph's shape */
		snprintf(msg, sizeof(msg), "Access token validation failure: %s",
			 json_string_value(json_object_get(json_object_get(r->body, "error"), "message")));
		graph_error(e, r, 401, "InvalidAuthenticationToken", msg);
	} else if (!a.graph) {
		graph_error(e, r, 401, "InvalidAuthenticationToken",
			    "Access token validation failure. Invalid audience.");
	} else if (is_groups) {
		groups(e, &a, q, r);
	} else if (is_templates) {
		setting_templates(e, &a, q, path, r);
	} else {
		graph_handle(e, &a, q, path, r);
	}
	return true;
}
