#include "apiprobe.h"

#include <openssl/rand.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "http.h"
#include "ioc.h"
#include "mde.h"
#include "util.h"

struct probe {
	struct mde *m;
	char value[65]; /* the probe's FileSha256, lower case as sent */
	char title[80]; /* unique: the probe's indicators are found by it */
	char expires[32];
	json_t *found, *evidence;
	json_t *ids; /* every id the probe may have made */
};

static void learned(struct probe *p, const char *key, const char *choice, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));
static void
learned(struct probe *p, const char *key, const char *choice, const char *fmt, ...)
{
	char line[400];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	json_object_set_new(p->found, key, json_string(choice));
	json_object_set_new(p->evidence, key, json_string(line));
}

/* The probe indicator: harmless by construction (Allowed, or Audit on
 * the hash of random bytes nobody has), gone in an hour anyway. */
static json_t *
probe_item(const struct probe *p, const char *action, bool with_reco)
{
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b}", "indicatorValue", p->value, "indicatorType",
			      "FileSha256", "action", action, "title", p->title, "description",
			      "iocsync doctor --api-probe: learns what this tenant's MDE does where the documents are "
			      "silent; the hash of random bytes, deleted within the minute",
			      "application", "iocsync-api-probe", "expirationTime", p->expires, "generateAlert",
			      strcmp(action, "Audit") == 0);
	if (with_reco)
		json_object_set_new(o, "recommendedActions", json_string("none: an iocsync probe"));
	return o;
}

/* An import's body as text (http_body). */
static char *
dump_body(void *ctx, size_t *len)
{
	char *t = json_dumps(ctx, JSON_COMPACT);
	*len = t ? strlen(t) : 0; /* none (no memory): MDE says what is wrong */
	return t;
}

/* One import of items (stolen); the first result's id in id (NULL when
 * it failed), MDE's status in *status. */
static enum err
import(struct probe *p, json_t *items, const char **id, struct mde_import_results *results, long *status, char *why,
       size_t whysz)
{
	size_t n = json_array_size(items);
	json_t *body = json_pack("{s:o}", "Indicators", items);
	struct http_body made = {dump_body, body};
	enum err e = mde_import(p->m, &made, n, results, status, why, whysz);
	json_decref(body);
	*id = NULL;
	if (e == ERR_OK) {
		const struct mde_import_item *x = &results->item[0];
		*id = x->failed ? NULL : x->id;
		if (*id) {
			json_array_append_new(p->ids, json_string(*id));
			*id = json_string_value(json_array_get(p->ids, json_array_size(p->ids) - 1));
		}
	}
	return e;
}

/* The probe's indicators now: GET with a $filter on the unique title. */
static enum err
list_probe(struct probe *p, long *status, json_t **value, char *why, size_t whysz)
{
	char *f = xasprintf("title eq '%s'", p->title);
	char *esc = http_escape(f);
	char *path = xasprintf("/api/indicators?$filter=%s&$top=100", esc);
	json_t *out = NULL;
	enum err e = mde_call(p->m, MDE_EP_LIST, "GET", path, NULL, status, &out, why, whysz);
	*value = json_incref(json_object_get(out, "value"));
	json_decref(out);
	free(path), free(esc), free(f);
	return e;
}

static const json_t *
by_id(const json_t *list, const char *id)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		char idb[32];
		const char *xid = mde_id(x, idb);
		if (xid && id && strcmp(xid, id) == 0)
			return x;
	}
	return NULL;
}

static bool
has_str(const json_t *list, const char *s)
{
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x)
		if (s && json_is_string(x) && strcmp(json_string_value(x), s) == 0)
			return true;
	return false;
}

/* Steps 2 to 5: the readings that need the probe to exist. */
static enum err
probe_steps(struct probe *p, const struct config *c, char *why, size_t whysz)
{
	long status = 0;
	json_t *list = NULL;
	struct mde_import_results res;
	const char *id1, *id2, *id;

	/* One valid and one documented-invalid item (InvalidHashValue, spec
	 * 3.7) in one import: per-item results, or the request refused. */
	json_t *bad = probe_item(p, "Allowed", true);
	json_object_set_new(bad, "indicatorValue", json_string("not-a-sha256"));
	enum err e =
		import(p, json_pack("[o, o]", probe_item(p, "Allowed", true), bad), &id1, &res, &status, why, whysz);
	if (e == ERR_HTTP && status == 400) {
		learned(p, "import_errors", "whole-batch",
			"one valid and one invalid item: the import was refused whole "
			"(HTTP 400)");
		e = import(p, json_pack("[o]", probe_item(p, "Allowed", true)), &id1, &res, &status, why, whysz);
	} else if (e == ERR_OK) {
		bool second = res.item[1].failed;
		learned(p, "import_errors", "per-item", "one valid and one invalid item: 200, %s",
			second ? "the invalid one failed alone" : "yet the invalid one did not fail (?)");
	}
	if (e != ERR_OK || id1 == NULL) {
		if (e == ERR_OK)
			set_why(why, whysz, "the probe indicator was refused: %s",
				res.item[0].reason ? res.item[0].reason : "(no reason given)");
		mde_import_results_free(&res);
		return e == ERR_OK ? ERR_HTTP : e;
	}
	const char *back = res.item[0].indicator;
	bool upper = back && strcmp(back, p->value) != 0 && strcasecmp(back, p->value) == 0;
	mde_import_results_free(&res);

	/* The same key without recommendedActions: updated in place; what
	 * happens to the omitted field shows in the listing. */
	if ((e = import(p, json_pack("[o]", probe_item(p, "Allowed", false)), &id, &res, &status, why, whysz)) !=
	    ERR_OK)
		return e;
	mde_import_results_free(&res);
	/* Another action on the same value: a second indicator, or the same
	 * one changed (the upsert key). */
	if ((e = import(p, json_pack("[o]", probe_item(p, "Audit", false)), &id2, &res, &status, why, whysz)) != ERR_OK)
		return e;
	mde_import_results_free(&res);
	if (id2 && strcmp(id1, id2) == 0)
		learned(p, "upsert_key", "type-value",
			"another action on the probe's value changed indicator %s in place", id1);
	else
		learned(p, "upsert_key", "type-value-action",
			"another action on the probe's value made indicator %s beside %s", id2 ? id2 : "?", id1);

	if ((e = list_probe(p, &status, &list, why, whysz)) != ERR_OK)
		return e;
	const json_t *x = by_id(list, id1);
	const char *by = json_string_value(json_object_get(x, "createdBy"));
	const char *val = json_string_value(json_object_get(x, "indicatorValue"));
	json_t *reco = json_object_get(x, "recommendedActions");
	if (x == NULL) {
		set_why(why, whysz, "the probe indicator %s is not in the listing filtered on its title", id1);
		json_decref(list);
		return ERR_PARSE;
	}
	if (by && strcasecmp(by, c->client_id) == 0)
		learned(p, "created_by", "client-id", "createdBy is the app's client id");
	else
		learned(p, "created_by", "object-id",
			"createdBy is %.60s, not the client id (the service principal's "
			"object id?)",
			by ? by : "empty");
	upper |= val && strcmp(val, p->value) != 0 && strcasecmp(val, p->value) == 0;
	if (upper || (val && strcmp(val, p->value) != 0))
		learned(p, "normalizes", "canonical", "the value came back as %.70s, not as sent", val ? val : "?");
	else
		learned(p, "normalizes", "none", "the value came back as sent (lower-case hex)");
	if (json_is_string(reco))
		learned(p, "omitted_fields", "keep", "an update that left out recommendedActions kept it");
	else
		learned(p, "omitted_fields", "reset", "an update that left out recommendedActions cleared it");
	/* Whatever the listing shows of the probe is deleted too. */
	size_t i;
	json_t *y;
	json_array_foreach(list, i, y) {
		char idb[32];
		const char *yid = mde_id(y, idb);
		if (yid && !has_str(p->ids, yid))
			json_array_append_new(p->ids, json_string(yid));
	}
	json_decref(list);
	return ERR_OK;
}

/* BatchDelete of the ids in list (a JSON array of strings). */
static enum err
delete_all(struct probe *p, const json_t *list, long *status, char *why, size_t whysz)
{
	const char **ids = xcalloc(json_array_size(list) + 1, sizeof(*ids));
	size_t i, n = 0;
	json_t *x;
	json_array_foreach(list, i, x)
		ids[n++] = json_string_value(x);
	enum err e = n ? mde_batch_delete(p->m, ids, n, status, why, whysz) : ERR_OK;
	free(ids);
	return e;
}

/* The ids of the indicators listed under the probe's title. */
static json_t *
listed_ids(const json_t *list)
{
	json_t *ids = json_array(), *x;
	size_t i;
	json_array_foreach(list, i, x) {
		char idb[32];
		const char *id = mde_id(x, idb);
		if (id)
			json_array_append_new(ids, json_string(id));
	}
	return ids;
}

/* Deletes every probe indicator (BatchDelete is all or nothing: after a
 * 404 the ids still listed are deleted), then checks none is left. */
static enum err
cleanup(struct probe *p, char *why, size_t whysz)
{
	json_t *uniq = json_array(), *x, *list = NULL;
	size_t i;
	json_array_foreach(p->ids, i, x)
		if (!has_str(uniq, json_string_value(x)))
			json_array_append(uniq, x);
	long status = 0;
	char w2[300];
	enum err e = delete_all(p, uniq, &status, why, whysz);
	if (e == ERR_HTTP && status == 404 && list_probe(p, &status, &list, w2, sizeof(w2)) == ERR_OK) {
		json_t *again = listed_ids(list);
		e = delete_all(p, again, &status, why, whysz);
		json_decref(again);
		json_decref(list);
		list = NULL;
	}
	enum err le = list_probe(p, &status, &list, w2, sizeof(w2));
	if (le == ERR_HTTP && status == 404)
		le = ERR_OK; /* nothing left, as a 404 says it */
	json_t *left = listed_ids(list), *deleted = json_array();
	json_array_foreach(uniq, i, x)
		if (!by_id(list, json_string_value(x)))
			json_array_append(deleted, x);
	json_object_set_new(p->found, "deleted", deleted);
	json_object_set_new(p->found, "left", left);
	json_decref(list);
	json_decref(uniq);
	if (le != ERR_OK) {
		set_why(why, whysz, "cannot check that the probe left nothing: %s", w2);
		return le;
	}
	if (json_array_size(left)) {
		set_why(why, whysz,
			"%zu probe indicators are left (their title: \"%s\"); delete them in the portal, "
			"or let them expire within the hour",
			json_array_size(left), p->title);
		return ERR_HTTP;
	}
	return ERR_OK;
}

enum err
apiprobe_run(const struct config *c, json_t **found, char *why, size_t whysz)
{
	struct probe p = {.found = json_object(), .evidence = json_object(), .ids = json_array()};
	*found = p.found;
	if ((p.m = mde_new(c, NULL, why, whysz)) == NULL) {
		json_decref(p.evidence);
		json_decref(p.ids);
		return ERR_CONFIG;
	}
	unsigned char rnd[32];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		abort();
	for (size_t i = 0; i < sizeof(rnd); i++)
		snprintf(p.value + 2 * i, 3, "%02x", rnd[i]);
	snprintf(p.title, sizeof(p.title), "iocsync api probe %.8s (harmless, deleted within the minute)", p.value);
	time_t t = time(NULL) + 3600;
	struct tm tm;
	gmtime_r(&t, &tm);
	strftime(p.expires, sizeof(p.expires), "%Y-%m-%dT%H:%M:%SZ", &tm);

	/* A listing that matches nothing: 200 with an empty value, or 404. */
	long status = 0;
	json_t *list = NULL;
	enum err e = list_probe(&p, &status, &list, why, whysz);
	if (e == ERR_OK)
		learned(&p, "empty_list", "200", "a listing that matched nothing answered 200 with an empty value");
	else if (e == ERR_HTTP && status == 404)
		learned(&p, "empty_list", "404", "a listing that matched nothing answered 404");
	json_decref(list);
	if (e == ERR_OK || (e == ERR_HTTP && status == 404))
		e = probe_steps(&p, c, why, whysz);
	char w2[600];
	enum err ce = cleanup(&p, w2, sizeof(w2));
	if (ce != ERR_OK) {
		if (e == ERR_OK)
			set_why(why, whysz, "%s", w2);
		else
			set_why(why + strlen(why), whysz - strlen(why), "; and %s", w2);
		e = e == ERR_OK ? ce : e;
	}
	const struct mde_stats *st = mde_stats(p.m);
	unsigned long calls = 0;
	for (int k = 0; k < MDE_EP__COUNT; k++)
		calls += k == MDE_EP_TOKEN ? 0 : st->calls[k];
	json_object_set_new(p.found, "calls", json_integer((json_int_t)calls));
	json_object_set_new(p.found, "evidence", p.evidence);
	json_decref(p.ids);
	mde_free(p.m);
	return e;
}
