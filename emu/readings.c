/* Readings (spec section 9): where MDE's documents are silent, every
 * candidate behaviour is offered under a name; the first choice is the
 * default (the section 8 contract). The table is the one place that
 * names them: the command line, [readings] in --config, the control
 * plane and --list-readings all read it. */
#include <stdio.h>
#include <string.h>

#include "emu.h"

static const struct {
	const char *name;
	const char *choices[READING_CHOICES_MAX + 1]; /* NULL-terminated, default first */
	const char *evidence;
} table[] = {
	[R_UPSERT_KEY] = {"upsert-key",
			  {"type-value-action", "type-value"},
			  "DD post-ti-indicator.md \"Submits or Updates\"; MS staff in microsoft-365-docs#4927 and "
			  "#5890 (cut); demisto: creates when the value does not exist"},
	[R_EMPTY_LIST] = {"empty-list",
			  {"200", "404"},
			  "DD get-machines.md answers 404 when nothing is found; demisto treats 404 on "
			  "GET /api/indicators as an empty list"},
	[R_IMPORT_ERRORS] = {"import-errors",
			     {"per-item", "whole-batch"},
			     "DD import-ti-indicators.md: 200 with per-item results, 400 \"usually incorrect body\"; "
			     "no failure example"},
	[R_CREATED_BY] = {"created-by",
			  {"client-id", "object-id"},
			  "DD ti-indicator.md \"Unique identity of the user/application\"; the example GUID is "
			  "not identified as appId or object id"},
	[R_NORMALIZE] = {"normalize", {"none", "canonical"}, "nothing documented; portal guidance asks for full IPv6"},
	[R_OMITTED_FIELDS] = {"omitted-fields",
			      {"keep", "reset"},
			      "undocumented; only application is documented as not updated"},
	[R_GROUP_NAMES] = {"group-names",
			   {"accept", "validate"},
			   "DD ti-indicator.md: rbacGroupNames/rbacGroupIds are the groups \"where the indicator "
			   "is exposed\""},
	[R_LIST_PERMISSION] = {"list-permission",
			       {"read-all-allowed", "readwrite-only"},
			       "DD get-ti-indicators-collection.md lists only Ti.ReadWrite and Ti.ReadWrite.All"},
	[R_TEXT_LIMITS] = {"text-limits",
			   {"strict", "none"},
			   "undocumented; OpenCTI sends titles up to 4,000 characters"},
	[R_PAST_EXPIRY] = {"past-expiry",
			   {"reject", "accept"},
			   "undocumented; the documents' own examples carry past dates"},
	[R_LEGACY_ACTIONS] = {"legacy-actions",
			      {"accept", "reject"},
			      "DD ti-indicator.md: Alert and AlertAndBlock \"supported until January 2022\""},
	[R_GOV_AUDIENCE] = {"gov-audience",
			    {"api-host", "onmicrosoft-us"},
			    "DD gov.md names hosts, no audience; GCC scripts use the API host, demisto uses "
			    "https://securitycenter.onmicrosoft.us"},
	[R_TEMPLATE_REFS] = {"template-references",
			     {"optional", "required"},
			     "Graph's setting instance shows settingInstanceTemplateReference, not whether a policy "
			     "made from a template must carry it; field reports (iocsync docs/graph-firewall.md [F]) "
			     "say it must"},
};
_Static_assert(NELEM(table) == R__COUNT, "a table row per reading");

const char *
reading_name(enum reading r)
{
	return table[r].name;
}

const char *
reading_choice_name(enum reading r, int choice)
{
	return table[r].choices[choice];
}

static int
find_reading(const char *name)
{
	for (int r = 0; r < R__COUNT; r++)
		if (strcmp(table[r].name, name) == 0)
			return r;
	return -1;
}

static int
find_choice(int r, const char *choice)
{
	for (int k = 0; table[r].choices[k]; k++)
		if (strcmp(table[r].choices[k], choice) == 0)
			return k;
	return -1;
}

bool
reading_set(struct emu *e, const char *name, const char *choice, char *why, size_t whysz)
{
	int r = find_reading(name);
	if (r < 0) {
		struct strbuf sb = {0};
		for (int k = 0; k < R__COUNT; k++)
			sb_addf(&sb, "%s%s", k ? ", " : "", table[k].name);
		snprintf(why, whysz, "unknown reading %.60s (readings: %s)", name, sb.buf);
		sb_free(&sb);
		return false;
	}
	int k = find_choice(r, choice);
	if (k < 0) {
		struct strbuf sb = {0};
		for (int j = 0; table[r].choices[j]; j++)
			sb_addf(&sb, "%s%s", j ? ", " : "", table[r].choices[j]);
		snprintf(why, whysz, "reading %s has no choice %.60s (choices: %s)", name, choice, sb.buf);
		sb_free(&sb);
		return false;
	}
	e->reading[r] = k;
	if (r == R_UPSERT_KEY)
		ind_reindex(e); /* the upsert key changed shape */
	return true;
}

bool
reading_set_arg(struct emu *e, const char *arg, char *why, size_t whysz)
{
	const char *eq = strchr(arg, '=');
	if (eq == NULL) {
		snprintf(why, whysz, "--reading %.60s: NAME=CHOICE expected", arg);
		return false;
	}
	char *name = xstrndup(arg, (size_t)(eq - arg));
	bool ok = reading_set(e, name, eq + 1, why, whysz);
	free(name);
	return ok;
}

json_t *
readings_json(const struct emu *e)
{
	json_t *all = json_object();
	for (int r = 0; r < R__COUNT; r++) {
		json_t *choices = json_array();
		for (int k = 0; table[r].choices[k]; k++)
			json_array_append_new(choices, json_string(table[r].choices[k]));
		json_object_set_new(all, table[r].name,
				    json_pack("{s:o, s:s, s:s, s:s}", "choices", choices, "current",
					      table[r].choices[e->reading[r]], "default", table[r].choices[0],
					      "evidence", table[r].evidence));
	}
	return all;
}

void
readings_print(const struct emu *e, FILE *fp)
{
	fprintf(fp, "%-19s %-18s %-36s %s\n", "READING", "CURRENT", "CHOICES (default first)", "EVIDENCE");
	for (int r = 0; r < R__COUNT; r++) {
		struct strbuf sb = {0};
		for (int k = 0; table[r].choices[k]; k++)
			sb_addf(&sb, "%s%s", k ? ", " : "", table[r].choices[k]);
		fprintf(fp, "%-19s %-18s %-36s %s\n", table[r].name, table[r].choices[e->reading[r]], sb.buf,
			table[r].evidence);
		sb_free(&sb);
	}
}
