/* Machines (list, find by tag) and the one advanced query iocsync sends:
 * network protection state per device (ConfigurationId scid-96). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

static bool
may_read_machines(const struct app *a, struct reply *r)
{
	if (a->roles & (ROLE_MACHINE_READ_ALL | ROLE_MACHINE_RW_ALL))
		return true;
	reply_error(r, 403, "Forbidden", "The application lacks the permission Machine.Read.All");
	return false;
}

static json_t *
machine_json(const struct machine *m)
{
	json_t *tags = json_array();
	const char *p = m->tags;
	while (p && *p) {
		size_t n = strcspn(p, ",");
		json_array_append_new(tags, json_stringn(p, n));
		p += n + (p[n] == ',');
	}
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:i, s:o}", "id", m->id, "computerDnsName", m->name,
			 "osPlatform", "Windows11", "healthStatus", "Active", "rbacGroupName", m->group,
			 "rbacGroupId", m->group_id, "machineTags", tags);
}

static void
answer(struct emu *e, json_t *value, struct reply *r)
{
	if (json_array_size(value) == 0) { /* MDE answers 404 when no machine matches */
		json_decref(value);
		reply_error(r, 404, "NotFound", "No machines were found");
		return;
	}
	r->status = 200;
	char *ctx = xasprintf("%s/api/$metadata#Machines", e->base);
	r->body = json_pack("{s:s, s:o}", "@odata.context", ctx, "value", value);
	free(ctx);
}

void
machines_list(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	(void)q;
	if (!may_read_machines(a, r))
		return;
	json_t *v = json_array();
	for (size_t i = 0; i < e->nmachines; i++)
		json_array_append_new(v, machine_json(&e->machines[i]));
	answer(e, v, r);
}

void
machines_findbytag(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	if (!may_read_machines(a, r))
		return;
	const char *tag = req_query(q, "tag"), *sw = req_query(q, "useStartsWithFilter");
	if (tag == NULL || *tag == '\0') {
		reply_error(r, 400, "MissingRequiredParameter", "Parameter tag is missing");
		return;
	}
	bool prefix = sw && strcasecmp(sw, "true") == 0;
	json_t *v = json_array();
	for (size_t i = 0; i < e->nmachines; i++) {
		const char *p = e->machines[i].tags;
		while (p && *p) {
			size_t n = strcspn(p, ",");
			if ((prefix ? n >= strlen(tag) : n == strlen(tag)) && strncmp(p, tag, strlen(tag)) == 0) {
				json_array_append_new(v, machine_json(&e->machines[i]));
				break;
			}
			p += n + (p[n] == ',');
		}
	}
	answer(e, v, r);
}

void
aq_run(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	if (!(a->roles & ROLE_AQ_READ_ALL)) {
		reply_error(r, 403, "Forbidden", "The application lacks the permission AdvancedQuery.Read.All");
		return;
	}
	json_t *in = q->body ? json_loadb(q->body, q->body_len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *kql = json_string_value(json_object_get(in, "Query"));
	if (kql == NULL) {
		json_decref(in);
		reply_error(r, 400, "InvalidRequestBody", "Request body is incorrect: {\"Query\": \"...\"} expected");
		return;
	}
	/* The emulator knows one query: the secure-configuration table for
	 * network protection. Anything else is a 400, never a guess. */
	if (strstr(kql, "DeviceTvmSecureConfigurationAssessment") == NULL || strstr(kql, "scid-96") == NULL) {
		json_decref(in);
		reply_error(r, 400, "BadRequest",
			    "mde-emulator answers only the network protection query "
			    "(DeviceTvmSecureConfigurationAssessment, ConfigurationId scid-96)");
		return;
	}
	json_decref(in);
	json_t *rows = json_array();
	char now[40];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	for (size_t i = 0; i < e->nmachines; i++) {
		const struct machine *m = &e->machines[i];
		json_array_append_new(rows, json_pack("{s:s, s:s, s:s, s:s, s:b, s:b, s:s}", "DeviceId", m->id,
						      "DeviceName", m->name, "Timestamp", now,
						      "ConfigurationId", "scid-96", "IsCompliant",
						      strcmp(m->np_mode, "Block") == 0, "IsApplicable", 1,
						      "NetworkProtectionMode", m->np_mode));
	}
	r->status = 200;
	r->body = json_pack("{s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}], s:o}",
			    "Schema", "Name", "DeviceId", "Type", "String", "Name", "DeviceName", "Type", "String",
			    "Name", "Timestamp", "Type", "DateTime", "Name", "ConfigurationId", "Type", "String",
			    "Name", "IsCompliant", "Type", "Boolean", "Name", "IsApplicable", "Type", "Boolean",
			    "Name", "NetworkProtectionMode", "Type", "String", "Results", rows);
}
