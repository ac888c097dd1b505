/* An indicator as the emulator keeps it: compact JSON text without the
 * fields that hold their default (ind_keep), shown in the API's order
 * with the defaults filled in, as an object (ind_obj) or straight as
 * text (ind_text, a listing's page). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

const char *const emu_copied[EMU_NCOPIED] = {
	"indicatorValue", "indicatorType",  "action",          "title",
	"description",    "expirationTime", "severity",        "recommendedActions",
	"rbacGroupNames", "rbacGroupIds",   "generateAlert",   "educateUrl",
	"externalId",     "category",       "mitreTechniques", "bypassDurationHours",
};

/* What an optional field becomes when an update omits it under
 * omitted-fields=reset: its value on a fresh indicator. */
json_t *
emu_field_default(const char *name)
{
	if (strcmp(name, "severity") == 0)
		return json_string("Informational");
	if (strcmp(name, "rbacGroupNames") == 0 || strcmp(name, "rbacGroupIds") == 0)
		return json_array();
	if (strcmp(name, "generateAlert") == 0)
		return json_false();
	return json_null();
}

/* Every field of an indicator in the order the API shows them; those
 * with a default are left out of what is kept when they hold it. */
static const char *const shown[] = {
	"id",
	"application",
	"sourceType",
	"createdBy",
	"createdByDisplayName",
	"createdBySource",
	"creationTimeDateTimeUtc",
	"lastUpdatedBy",
	"title",
	"description",
	"expirationTime",
	"severity",
	"recommendedActions",
	"rbacGroupNames",
	"rbacGroupIds",
	"generateAlert",
	"educateUrl",
	"externalId",
	"category",
	"mitreTechniques",
	"bypassDurationHours",
	"lastUpdateTime",
	"indicatorValue",
	"indicatorType",
	"action",
};

/* A kept field's value when it is left out (NULL: it is always kept). */
static json_t *
kept_default(const char *name)
{
	if (strcmp(name, "sourceType") == 0)
		return json_string("AadApp");
	if (strcmp(name, "createdBySource") == 0)
		return json_string("PublicApi");
	if (strcmp(name, "lastUpdatedBy") == 0)
		return json_null();
	for (size_t i = 3; i < EMU_NCOPIED; i++)
		if (strcmp(name, emu_copied[i]) == 0)
			return emu_field_default(name);
	return NULL;
}

json_t *
ind_obj(const struct indicator *x)
{
	json_t *kept = json_loads(x->text, 0, NULL), *o = json_object(), *v;
	for (size_t i = 0; i < NELEM(shown); i++) {
		if ((v = json_object_get(kept, shown[i])) != NULL)
			json_object_set(o, shown[i], v);
		else if ((v = kept_default(shown[i])) != NULL)
			json_object_set_new(o, shown[i], v);
	}
	const char *k;
	json_object_foreach(kept, k, v) /* a field of a loaded state not in the list */
		if (json_object_get(o, k) == NULL)
			json_object_set(o, k, v);
	json_decref(kept);
	return o;
}

static bool
is_text(const json_t *v, const char *s)
{
	return json_is_string(v) && json_string_length(v) == strlen(s) && strcmp(json_string_value(v), s) == 0;
}

/* kept_default's value as text (NULL: the field is always kept). */
static const char *
kept_default_text(const char *name)
{
	if (strcmp(name, "sourceType") == 0)
		return "\"AadApp\"";
	if (strcmp(name, "createdBySource") == 0)
		return "\"PublicApi\"";
	if (strcmp(name, "lastUpdatedBy") == 0)
		return "null";
	for (size_t i = 3; i < EMU_NCOPIED; i++) {
		if (strcmp(name, emu_copied[i]) != 0)
			continue;
		if (strcmp(name, "severity") == 0)
			return "\"Informational\"";
		if (strcmp(name, "rbacGroupNames") == 0 || strcmp(name, "rbacGroupIds") == 0)
			return "[]";
		if (strcmp(name, "generateAlert") == 0)
			return "false";
		return "null";
	}
	return NULL;
}

/* One member of a kept text: its key (inside the quotes) and its value's
 * text. */
struct member {
	const char *key, *val;
	size_t klen, vlen;
};

/* p at a string's opening quote: past its closing one. */
static const char *
skip_string(const char *p)
{
	for (p++; *p && *p != '"'; p++)
		if (*p == '\\' && p[1])
			p++;
	return *p ? p + 1 : p;
}

static const char *
skip_value(const char *p)
{
	if (*p == '"')
		return skip_string(p);
	if (*p != '{' && *p != '[') {
		while (*p && *p != ',' && *p != '}' && *p != ']')
			p++;
		return p;
	}
	int depth = 0;
	do {
		if (*p == '"') {
			p = skip_string(p);
			continue;
		}
		depth += *p == '{' || *p == '[';
		depth -= *p == '}' || *p == ']';
		p++;
	} while (*p && depth > 0);
	return p;
}

/* The members of a kept text (compact JSON that ind_keep wrote), at most
 * max; max when there may be more. */
static size_t
kept_members(const char *t, struct member *m, size_t max)
{
	size_t n = 0;
	const char *p = t + 1;
	while (*p == '"' && n < max) {
		const char *ke = skip_string(p);
		m[n].key = p + 1;
		m[n].klen = (size_t)(ke - p - 2);
		if (*ke != ':')
			return max; /* not what ind_keep writes: the slow way */
		m[n].val = ke + 1;
		p = skip_value(m[n].val);
		m[n].vlen = (size_t)(p - m[n].val);
		n++;
		if (*p == ',')
			p++;
	}
	return n;
}

void
ind_text(const struct indicator *x, struct strbuf *sb)
{
	struct member m[48];
	bool used[48] = {0};
	size_t n = kept_members(x->text, m, NELEM(m)), out = 0;
	if (n == NELEM(m)) {
		json_t *o = ind_obj(x);
		json_dump_callback(o, sb_json_cb, sb, JSON_COMPACT);
		json_decref(o);
		return;
	}
	sb_addc(sb, '{');
	for (size_t i = 0; i < NELEM(shown); i++) { /* as ind_obj: the API's order, defaults filled */
		size_t k = 0, len = strlen(shown[i]);
		while (k < n && (m[k].klen != len || memcmp(m[k].key, shown[i], len) != 0))
			k++;
		const char *lit = k < n ? NULL : kept_default_text(shown[i]);
		if (k == n && lit == NULL)
			continue;
		if (out++)
			sb_addc(sb, ',');
		sb_addc(sb, '"');
		sb_add(sb, shown[i], len);
		sb_add(sb, "\":", 2);
		if (k < n) {
			used[k] = true;
			sb_add(sb, m[k].val, m[k].vlen);
		} else {
			sb_adds(sb, lit);
		}
	}
	for (size_t k = 0; k < n; k++) { /* then the fields of a loaded state not in the list */
		if (used[k])
			continue;
		if (out++)
			sb_addc(sb, ',');
		sb_add(sb, m[k].key - 1, m[k].klen + 2);
		sb_addc(sb, ':');
		sb_add(sb, m[k].val, m[k].vlen);
	}
	sb_addc(sb, '}');
}

/* Does field k hold the value ind_obj would give it when left out (as
 * kept_default says, without making it: an import asks 500 x 25 times
 * under the lock)? */
static bool
holds_default(const char *k, const json_t *v)
{
	if (strcmp(k, "sourceType") == 0)
		return is_text(v, "AadApp");
	if (strcmp(k, "createdBySource") == 0)
		return is_text(v, "PublicApi");
	if (strcmp(k, "lastUpdatedBy") == 0)
		return json_is_null(v);
	for (size_t i = 3; i < EMU_NCOPIED; i++) {
		if (strcmp(k, emu_copied[i]) != 0)
			continue;
		if (strcmp(k, "severity") == 0)
			return is_text(v, "Informational");
		if (strcmp(k, "rbacGroupNames") == 0 || strcmp(k, "rbacGroupIds") == 0)
			return json_is_array(v) && json_array_size(v) == 0;
		if (strcmp(k, "generateAlert") == 0)
			return json_is_false(v);
		return json_is_null(v);
	}
	return false;
}

void
ind_keep(struct emu *e, struct indicator *x, const json_t *obj)
{
	/* Written member by member: no second object is built (an import
	 * keeps 500 of these under the emulator's lock). */
	struct strbuf sb = {0};
	json_t *v;
	const char *k;
	xgrow((void **)&sb.buf, &sb.cap, 512, 1); /* most fit: one allocation, not six */
	sb_addc(&sb, '{');
	json_object_foreach((json_t *)obj, k, v) {
		if (holds_default(k, v))
			continue;
		if (sb.len > 1)
			sb_addc(&sb, ',');
		sb_json_str(&sb, k, strlen(k));
		sb_addc(&sb, ':');
		json_dump_callback(v, sb_json_cb, &sb, JSON_COMPACT | JSON_ENCODE_ANY);
	}
	sb_addc(&sb, '}');
	free(x->text);
	x->text = sb.buf;
	x->by = emu_intern(e, json_string_value(json_object_get(obj, "createdBy")));
}
