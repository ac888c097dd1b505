/*
 * MISP events in their three wrappings ({"response":[{"Event":..}]},
 * {"Event":..}, a bare event; also a list of those). Attributes at the
 * event level and inside MISP objects; composites ("domain|ip",
 * "filename|sha256") give their indicator parts. to_ids is honoured
 * unless the feed says otherwise.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "feed.h"
#include "util.h"

/* For each MISP type: the MDE types of its parts ("a|b" composites have
 * two; 0 means "not an indicator part"). */
static const struct {
	const char *type;
	unsigned part[2];
} types[] = {
	{"ip-src", {IOC_BIT(IOC_IP), 0}},
	{"ip-dst", {IOC_BIT(IOC_IP), 0}},
	{"ip-src|port", {IOC_BIT(IOC_IP), 0}},
	{"ip-dst|port", {IOC_BIT(IOC_IP), 0}},
	{"domain", {IOC_BIT(IOC_DOMAIN), 0}},
	{"hostname", {IOC_BIT(IOC_DOMAIN), 0}},
	{"domain|ip", {IOC_BIT(IOC_DOMAIN), IOC_BIT(IOC_IP)}},
	{"hostname|port", {IOC_BIT(IOC_DOMAIN), 0}},
	{"url", {IOC_BIT(IOC_URL), 0}},
	{"md5", {IOC_BIT(IOC_MD5), 0}},
	{"sha1", {IOC_BIT(IOC_SHA1), 0}},
	{"sha256", {IOC_BIT(IOC_SHA256), 0}},
	{"filename|md5", {0, IOC_BIT(IOC_MD5)}},
	{"filename|sha1", {0, IOC_BIT(IOC_SHA1)}},
	{"filename|sha256", {0, IOC_BIT(IOC_SHA256)}},
	{"malware-sample", {0, IOC_BIT(IOC_MD5)}},
	{"x509-fingerprint-sha1", {IOC_BIT(IOC_CERT), 0}},
};

static const char *
jstr(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	return json_is_string(v) ? json_string_value(v) : NULL;
}

/* MISP writes booleans as true/false, "1"/"0", or 1/0. */
static bool
jbool(json_t *o, const char *k, bool dflt)
{
	json_t *v = json_object_get(o, k);
	if (json_is_boolean(v))
		return json_is_true(v);
	if (json_is_integer(v))
		return json_integer_value(v) != 0;
	if (json_is_string(v))
		return strcmp(json_string_value(v), "0") != 0 && strcasecmp(json_string_value(v), "false") != 0;
	return dflt;
}

struct ctx {
	const struct feed_opts *o;
	const struct feed_sink *k;
	struct json_locator loc;
	const char *info;
};

static void
attribute(struct ctx *c, json_t *a)
{
	const char *type = jstr(a, "type"), *value = jstr(a, "value"), *uuid = jstr(a, "uuid");
	unsigned long line = uuid ? feed_json_line(&c->loc, uuid) : 0;
	char why[160];
	size_t i;

	if (type == NULL || value == NULL) {
		c->k->reject(c->k->ctx, line, REJ_MALFORMED, "attribute without a type or value string", "", 0);
		return;
	}
	if (jbool(a, "deleted", false)) {
		c->k->reject(c->k->ctx, line, REJ_REVOKED, "deleted attribute", value, strlen(value));
		return;
	}
	for (i = 0; i < NELEM(types); i++)
		if (strcmp(type, types[i].type) == 0)
			break;
	if (i == NELEM(types)) {
		snprintf(why, sizeof(why), "MISP type %.40s has no MDE indicator type", type);
		c->k->reject(c->k->ctx, line, REJ_UNSUPPORTED, why, value, strlen(value));
		return;
	}
	if (!c->o->misp_ignore_to_ids && !jbool(a, "to_ids", false)) {
		c->k->reject(c->k->ctx, line, REJ_NOT_TO_IDS,
			     "to_ids is false: the publisher does not mean it for detection", value, strlen(value));
		return;
	}
	const char *bar = strchr(type, '|') ? strchr(value, '|') : NULL;
	for (int part = 0; part < 2; part++) {
		const char *v = part == 0 ? value : (bar ? bar + 1 : NULL);
		size_t n = part == 0 ? (bar ? (size_t)(bar - value) : strlen(value)) : (v ? strlen(v) : 0);
		if (types[i].part[part] == 0 || v == NULL)
			continue;
		struct feed_entry e = {.value = v,
				       .len = n,
				       .line = line,
				       .types = types[i].part[part],
				       .title = c->info,
				       .description = jstr(a, "comment")};
		c->k->entry(c->k->ctx, &e);
	}
}

static void
event(struct ctx *c, json_t *ev)
{
	json_t *a, *obj, *attrs = json_object_get(ev, "Attribute");
	size_t i, j;

	c->info = jstr(ev, "info");
	json_array_foreach(attrs, i, a) {
		if (json_is_object(a))
			attribute(c, a);
	}
	json_array_foreach(json_object_get(ev, "Object"), i, obj) {
		if (!json_is_object(obj) || jbool(obj, "deleted", false))
			continue;
		json_array_foreach(json_object_get(obj, "Attribute"), j, a) {
			if (json_is_object(a))
				attribute(c, a);
		}
	}
}

static bool
is_event(json_t *j)
{
	return json_is_object(j) &&
		(json_object_get(j, "Attribute") || json_object_get(j, "Object") || json_object_get(j, "info"));
}

/* Unwraps one element: {"Event": ev} or a bare event. */
static bool
one(struct ctx *c, json_t *j)
{
	json_t *ev = json_object_get(j, "Event");
	if (json_is_object(ev)) {
		event(c, ev);
		return true;
	}
	if (is_event(j)) {
		event(c, j);
		return true;
	}
	return false;
}

enum err
feed_misp_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *k, char *why,
		size_t whysz)
{
	json_t *root = feed_json_load(buf, len, why, whysz), *list, *el;
	struct ctx c = {.o = o, .k = k, .loc = {.buf = buf, .len = len}};
	size_t i, found = 0;

	if (root == NULL)
		return ERR_PARSE;
	list = json_is_array(root) ? root : json_object_get(root, "response");
	if (json_is_array(list)) {
		json_array_foreach(list, i, el)
			found += one(&c, el);
	} else {
		found = one(&c, root);
	}
	json_decref(root);
	if (!found) {
		snprintf(why, whysz, "not a MISP event (no \"Event\", \"response\" or event object)");
		return ERR_PARSE;
	}
	return ERR_OK;
}
