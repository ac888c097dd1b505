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

/*
 * The fields left out of a kept text while they hold their default, each
 * with that default as JSON text: the optional fields an upsert copies
 * (what a fresh indicator has, and what omitted-fields=reset gives) and
 * three the service sets. The only place the defaults are written; a
 * default is a string, [], false or null.
 */
static const struct {
	const char *name, *text;
} defaults[] = {
	{"title", "null"},
	{"description", "null"},
	{"expirationTime", "null"},
	{"severity", "\"Informational\""},
	{"recommendedActions", "null"},
	{"rbacGroupNames", "[]"},
	{"rbacGroupIds", "[]"},
	{"generateAlert", "false"},
	{"educateUrl", "null"},
	{"externalId", "null"},
	{"category", "null"},
	{"mitreTechniques", "null"},
	{"bypassDurationHours", "null"},
	{"sourceType", "\"AadApp\""},
	{"createdBySource", "\"PublicApi\""},
	{"lastUpdatedBy", "null"},
};

/* Field name's default as JSON text, or NULL: it is always kept. */
static const char *
default_text(const char *name)
{
	for (size_t i = 0; i < NELEM(defaults); i++)
		if (strcmp(name, defaults[i].name) == 0)
			return defaults[i].text;
	return NULL;
}

/* A default's text as a value (a new reference). */
static json_t *
default_value(const char *t)
{
	if (*t == '"')
		return json_stringn(t + 1, strlen(t) - 2);
	if (strcmp(t, "[]") == 0)
		return json_array();
	if (strcmp(t, "false") == 0)
		return json_false();
	return json_null();
}

void
emu_put_json(struct strbuf *sb, const json_t *v)
{
	if (json_is_string(v)) /* the common case, written without jansson's dump */
		sb_json_str(sb, json_string_value(v), json_string_length(v));
	else if (v == NULL || json_dump_callback(v, sb_json_cb, sb, JSON_COMPACT | JSON_ENCODE_ANY) != 0)
		sb_adds(sb, "null");
}

json_t *
emu_field_default(const char *name)
{
	const char *t = default_text(name);
	return default_value(t ? t : "null");
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

json_t *
ind_obj(const struct indicator *x)
{
	json_t *kept = json_loads(x->text, 0, NULL), *o = json_object(), *v;
	const char *t;
	for (size_t i = 0; i < NELEM(shown); i++) {
		if ((v = json_object_get(kept, shown[i])) != NULL)
			json_object_set(o, shown[i], v);
		else if ((t = default_text(shown[i])) != NULL)
			json_object_set_new(o, shown[i], default_value(t));
	}
	const char *k;
	json_object_foreach(kept, k, v) /* a field of a loaded state not in the list */
		if (json_object_get(o, k) == NULL)
			json_object_set(o, k, v);
	json_decref(kept);
	return o;
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
		const char *lit = k < n ? NULL : default_text(shown[i]);
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

/* Does field k hold its default (what ind_obj would give it when left
 * out)? Compared in place, nothing made: an import asks 500 x 25 times
 * under the lock. */
static bool
holds_default(const char *k, const json_t *v)
{
	const char *t = default_text(k);
	if (t == NULL)
		return false;
	if (*t == '"') {
		size_t n = strlen(t) - 2;
		return json_is_string(v) && json_string_length(v) == n && memcmp(json_string_value(v), t + 1, n) == 0;
	}
	if (strcmp(t, "[]") == 0)
		return json_is_array(v) && json_array_size(v) == 0;
	if (strcmp(t, "false") == 0)
		return json_is_false(v);
	return json_is_null(v);
}

void
ind_keep(struct emu *e, struct indicator *x, const json_t *obj)
{
	/* Written member by member: no second object is built (an import
	 * keeps 500 of these under the emulator's lock). */
	struct strbuf *sb = &e->scratch;
	json_t *v;
	const char *k;
	sb->len = 0;
	sb_addc(sb, '{');
	json_object_foreach((json_t *)obj, k, v) {
		if (holds_default(k, v))
			continue;
		if (sb->len > 1)
			sb_addc(sb, ',');
		sb_json_str(sb, k, strlen(k));
		sb_addc(sb, ':');
		emu_put_json(sb, v);
	}
	sb_addc(sb, '}');
	emu_text_drop(e, x->text);
	x->text = emu_text_keep(e, sb->buf, sb->len);
	x->by = emu_intern(e, json_string_value(json_object_get(obj, "createdBy")));
}
