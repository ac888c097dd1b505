/* Machines (list with $top, $skip and $filter; find by tag), the device
 * groups they belong to (exposure score by group), and the one advanced
 * query iocsync sends: network protection state per device
 * (ConfigurationId scid-96). */
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
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:o}", "id", m->id, "computerDnsName", m->name,
			 "osPlatform", "Windows11", "healthStatus", "Active", "onboardingStatus", "Onboarded",
			 "rbacGroupName", m->group, "rbacGroupId", m->group_id, "machineTags", tags);
}

int
emu_group_id(const struct emu *e, const char *name)
{
	for (size_t i = 0; name && i < e->nmachines; i++)
		if (e->machines[i].group[0] && strcmp(e->machines[i].group, name) == 0)
			return e->machines[i].group_id;
	return -1;
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

/* $top (at most 10,000), $skip and $filter on the fields of spec 5.1. */
void
machines_list(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	long long top = 10000, skip = 0;
	char why[256];
	struct filter *f = NULL;
	if (!may_read_machines(a, r))
		return;
	if (!emu_query_int(q, "$top", 10000, &top, r) || !emu_query_int(q, "$skip", 1LL << 40, &skip, r))
		return;
	const char *fs = req_query(q, "$filter");
	if (fs && (f = filter_parse(fs, FILTER_MACHINES, why, sizeof(why))) == NULL) {
		reply_error(r, 400, "ODataError", "Invalid $filter: %s", why);
		return;
	}
	json_t *v = json_array();
	long long seen = 0;
	for (size_t i = 0; i < e->nmachines && (long long)json_array_size(v) < top; i++) {
		json_t *m = machine_json(&e->machines[i]);
		if ((f == NULL || filter_match(f, m)) && seen++ >= skip)
			json_array_append(v, m);
		json_decref(m);
	}
	filter_free(f);
	answer(e, v, r);
}

/* GET /api/exposureScore/ByMachineGroups (DD get-machine-group-exposure-
 * score.md, Score.Read.All): one row per device group. The score is the
 * emulator's own: the share of the group's devices not in block mode. */
void
exposure_by_group(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	(void)q;
	if (!(a->roles & ROLE_SCORE_READ_ALL)) {
		reply_error(r, 403, "Forbidden", "The application lacks the permission Score.Read.All");
		return;
	}
	json_t *groups = json_object(), *v = json_array(), *g;
	const char *name;
	for (size_t i = 0; i < e->nmachines; i++) {
		const struct machine *m = &e->machines[i];
		if (!m->group[0])
			continue;
		json_t *x = json_object_get(groups, m->group);
		if (x == NULL)
			json_object_set_new(groups, m->group, x = json_pack("{s:i, s:i}", "n", 0, "open", 0));
		json_object_set_new(x, "n", json_integer(json_integer_value(json_object_get(x, "n")) + 1));
		if (strcmp(m->np_mode, "Block") != 0)
			json_object_set_new(x, "open",
					    json_integer(json_integer_value(json_object_get(x, "open")) + 1));
	}
	char now[40];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	json_object_foreach(groups, name, g) {
		double score = 100.0 * (double)json_integer_value(json_object_get(g, "open")) /
			(double)json_integer_value(json_object_get(g, "n"));
		json_array_append_new(v,
				      json_pack("{s:s, s:f, s:s}", "time", now, "score", score, "rbacGroupName", name));
	}
	json_decref(groups);
	r->status = 200;
	char *ctx = xasprintf("%s/api/$metadata#ExposureScore", e->base);
	r->body = json_pack("{s:s, s:o}", "@odata.context", ctx, "value", v);
	free(ctx);
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
	/* The table's documented columns (M365 advanced-hunting-
	 * devicetvmsecureconfigurationassessment-table.md), nothing more:
	 * the mode (Block, Audit, Off) shows only as IsCompliant. */
	static const char *const cols[][2] = {
		{"DeviceId", "String"},
		{"DeviceName", "String"},
		{"OSPlatform", "String"},
		{"Timestamp", "DateTime"},
		{"ConfigurationId", "String"},
		{"ConfigurationCategory", "String"},
		{"ConfigurationSubcategory", "String"},
		{"ConfigurationImpact", "Double"},
		{"IsCompliant", "Boolean"},
		{"IsApplicable", "Boolean"},
		{"Context", "Dynamic"},
		{"IsExpectedUserImpact", "Boolean"},
	};
	json_t *schema = json_array(), *rows = json_array();
	for (size_t i = 0; i < NELEM(cols); i++)
		json_array_append_new(schema, json_pack("{s:s, s:s}", "Name", cols[i][0], "Type", cols[i][1]));
	char now[40];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	for (size_t i = 0; i < e->nmachines; i++) {
		const struct machine *m = &e->machines[i];
		json_array_append_new(rows,
				      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:f, s:b, s:b, s:s, s:b}",
						"DeviceId", m->id, "DeviceName", m->name, "OSPlatform", "Windows11",
						"Timestamp", now, "ConfigurationId", "scid-96", "ConfigurationCategory",
						"Security controls", "ConfigurationSubcategory", "Network Protection",
						"ConfigurationImpact", 8.0, "IsCompliant",
						strcmp(m->np_mode, "Block") == 0, "IsApplicable", 1, "Context", "[]",
						"IsExpectedUserImpact", 1));
	}
	r->status = 200;
	r->body = json_pack("{s:o, s:o}", "Schema", schema, "Results", rows);
}
