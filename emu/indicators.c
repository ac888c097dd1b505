/* The indicators API: validation (section 4 and the contract of section
 * 8 of the spec), upsert, list with OData, import, delete, BatchDelete;
 * each reading of section 9 where the documents are silent. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

/*
 * The first half of an upsert: takes the item o as the documents allow
 * it (lenient forms), validates it under the readings, normalises it in
 * place (o is the request's own, parsed for it: a copy of each of an
 * import's 500 items was a sixth of the emulator's time under its lock),
 * and checks that the app may write the indicator it would update.
 * Returns false with v filled; true with *old, the indicator it updates,
 * or NULL.
 */
static bool
upsert_check(struct emu *e, const struct app *a, json_t *o, struct indicator **old, struct verdict *v)
{
	if (!json_is_object(o)) {
		v->status = 400;
		v->code = "InvalidRequestBody";
		snprintf(v->msg, sizeof(v->msg), "Request body is incorrect");
		return false;
	}
	emu_lenient_forms(o);
	if (!emu_validate(e, o, v) || !emu_groups_check(e, o, v))
		return false;
	emu_normalize(e, o);
	*old = emu_find_key(e, a->tenant, o);
	if (*old && !emu_may_write(a, *old)) {
		v->status = 403;
		v->code = "Forbidden";
		snprintf(v->msg, sizeof(v->msg), "The application may not update indicator %lld", (*old)->id);
		return false;
	}
	return true;
}

static void
cap_reached(const struct emu *e, struct verdict *v)
{
	v->status = 400;
	v->code = "InvalidInput";
	snprintf(v->msg, sizeof(v->msg), "The tenant already has %ld active indicators, the maximum", e->cap);
}

/* The second half: creates, or updates x (upsert_check's *old), with the
 * checked item o. Returns the stored indicator (valid until the next is
 * added) or NULL with v filled (the cap). */
static struct indicator *
upsert_apply(struct emu *e, const struct app *a, const json_t *o, struct indicator *x, struct verdict *v)
{
	char now[40];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	const char *me = reading_alt(e, R_CREATED_BY) ? a->oid : a->client_id;
	bool fresh = x == NULL;
	json_t *obj;
	if (x == NULL) {
		if ((long)emu_active(e, a->tenant) >= e->cap) {
			cap_reached(e, v);
			return NULL;
		}
		xgrow((void **)&e->inds, &e->inds_cap, e->ninds + 1, sizeof(*e->inds));
		x = &e->inds[e->ninds++];
		*x = (struct indicator){.id = e->next_id++, .tenant = emu_intern(e, a->tenant)};
		/* What the service sets, but not its defaults (sourceType,
		 * createdBySource, lastUpdatedBy, the optional fields): the
		 * kept text leaves those out, and ind_obj puts them back. */
		obj = json_object();
		char id[24];
		snprintf(id, sizeof(id), "%lld", x->id);
		json_object_set_new(obj, "id", json_string(id));
		json_t *app = json_object_get(o, "application");
		json_object_set_new(obj, "application", app && json_is_string(app) ? json_copy(app) : json_null());
		json_object_set_new(obj, "createdBy", json_string(me));
		json_object_set_new(obj, "createdByDisplayName", json_string(a->name));
		json_object_set_new(obj, "creationTimeDateTimeUtc", json_string(now));
	} else {
		obj = ind_obj(x);
		json_object_set_new(obj, "lastUpdatedBy", json_string(me));
	}
	json_object_set_new(obj, "lastUpdateTime", json_string(now));
	bool reset = !fresh && reading_alt(e, R_OMITTED_FIELDS);
	for (size_t i = 0; i < EMU_NCOPIED; i++) {
		json_t *f = json_object_get(o, emu_copied[i]);
		if (f)
			json_object_set(obj, emu_copied[i], f);
		else if (reset)
			json_object_set_new(obj, emu_copied[i], emu_field_default(emu_copied[i]));
	}
	json_t *exp = json_object_get(obj, "expirationTime");
	long long ms = 0;
	x->expire_at = 0;
	if (json_is_string(exp) && emu_time_parse(json_string_value(exp), &ms)) {
		char norm[40];
		emu_time_format(ms, norm, sizeof(norm));
		json_object_set_new(obj, "expirationTime", json_string(norm));
		x->expire_at = ms / 1000;
	}
	ind_keep(e, x, obj);
	if (fresh)
		emu_index_at(e, (size_t)(x - e->inds), obj);
	else
		emu_expiry_note(e, x);
	emu_log_change(e, fresh ? "create" : "update", x, obj);
	json_decref(obj);
	return x;
}

/* Both halves on the item o (normalised in place). */
static struct indicator *
upsert(struct emu *e, const struct app *a, json_t *o, struct verdict *v)
{
	struct indicator *old;
	return upsert_check(e, a, o, &old, v) ? upsert_apply(e, a, o, old, v) : NULL;
}

static json_t *
parse_body(const struct request *q, struct reply *r)
{
	json_error_t err;
	if (q->content_type == NULL || strncasecmp(q->content_type, "application/json", 16) != 0) {
		reply_error(r, 400, "InvalidRequestBody", "Content-Type must be application/json");
		return NULL;
	}
	if (q->json)
		return json_incref(q->json);
	json_t *j = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL)
		reply_error(r, 400, "InvalidRequestBody", "Request body is incorrect: line %d, column %d: %s", err.line,
			    err.column, err.text);
	return j;
}

static void
with_context(struct emu *e, json_t *body, const char *what)
{
	char *ctx = xasprintf("%s/api/$metadata#%s", e->base, what);
	json_object_set_new(body, "@odata.context", json_string(ctx));
	free(ctx);
}

/* The same member written as text into sb. */
static void
context_text(struct emu *e, struct strbuf *sb, const char *what)
{
	char *ctx = xasprintf("%s/api/$metadata#%s", e->base, what);
	sb_adds(sb, "\"@odata.context\":");
	sb_json_str(sb, ctx, strlen(ctx));
	free(ctx);
}

/* Reading (list) with Ti.Read.All too, unless list-permission says the
 * documents' list of permissions is the whole truth. */
static bool
may_use_ti(const struct emu *e, const struct app *a, bool write, struct reply *r)
{
	bool read_all = !write && !reading_alt(e, R_LIST_PERMISSION);
	unsigned need = ROLE_TI_RW | ROLE_TI_RW_ALL | (read_all ? ROLE_TI_READ_ALL : 0);
	if (a->roles & need)
		return true;
	reply_error(r, 403, "Forbidden", "The application lacks the permission Ti.ReadWrite(.All)");
	return false;
}

void
ind_submit(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	struct verdict v = {0};
	if (!may_use_ti(e, a, true, r))
		return;
	json_t *in = parse_body(q, r);
	if (in == NULL)
		return;
	struct indicator *x = upsert(e, a, in, &v);
	json_decref(in);
	if (x == NULL) {
		reply_error(r, v.status, v.code, "%s", v.msg);
		return;
	}
	r->status = 200;
	r->body = ind_obj(x);
	with_context(e, r->body, "Indicators/$entity");
	(void)emu_state_save(e, NULL, 0);
}

/* One item's result into sb, as the API writes it (an import's reply is
 * written as text: 500 objects built only to be dumped were a fifth of
 * an import's time): the value as stored (normalised, in item) when it
 * was (x), else as given. */
static void
import_result(struct strbuf *sb, const json_t *item, const json_t *given, const struct indicator *x,
	      const struct verdict *v)
{
	const json_t *val = x ? json_object_get(item, "indicatorValue") : given;
	if (x) {
		sb_adds(sb, "{\"id\":\"");
		sb_add_int(sb, x->id);
		sb_addc(sb, '"');
	} else {
		sb_adds(sb, "{\"id\":null");
	}
	sb_adds(sb, ",\"indicator\":");
	emu_put_json(sb, json_is_string(val) ? val : NULL);
	if (x) {
		sb_adds(sb, ",\"isFailed\":false,\"failureReason\":null}");
		return;
	}
	char *why = xasprintf("%s: %s", v->code, v->msg);
	sb_adds(sb, ",\"isFailed\":true,\"failureReason\":");
	sb_json_str(sb, why, strlen(why));
	sb_addc(sb, '}');
	free(why);
}

/* import-errors=whole-batch: every item is checked before any is
 * written, the tenant cap included; one refused item refuses the request
 * (400 with its code) and nothing is stored. Returns false with v. */
static bool
whole_batch_check(struct emu *e, const struct app *a, json_t *list, struct verdict *v)
{
	json_t *item, *newkeys = json_object();
	size_t i, fresh = 0;
	bool ok = true;
	json_array_foreach(list, i, item) {
		struct indicator *old;
		/* On a copy: the items are checked again as they are written,
		 * and a failure then reports the value as given. */
		json_t *o = json_copy(item);
		if (!upsert_check(e, a, o, &old, v)) {
			json_decref(o);
			ok = false;
			break;
		}
		if (old == NULL) {
			size_t n;
			char *k = emu_key_of(e, a->tenant, o, &n);
			for (size_t j = 0; j < n; j++) /* NULs separate the parts */
				if (k[j] == '\0')
					k[j] = '\x1f';
			if (json_object_get(newkeys, k) == NULL) {
				json_object_set_new(newkeys, k, json_true());
				fresh++;
			}
			free(k);
		}
		json_decref(o);
	}
	json_decref(newkeys);
	if (ok && (long)(emu_active(e, a->tenant) + fresh) > e->cap) {
		cap_reached(e, v);
		ok = false;
	}
	if (!ok)
		v->status = 400; /* the request is refused as a whole, whatever the item's own status */
	return ok;
}

void
ind_import(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	if (!may_use_ti(e, a, true, r))
		return;
	json_t *in = parse_body(q, r);
	if (in == NULL)
		return;
	json_t *list = json_object_get(in, "Indicators");
	if (!json_is_object(in) || list == NULL) {
		reply_error(r, 400, "MissingRequiredParameter", "Parameter Indicators is missing");
		json_decref(in);
		return;
	}
	if (!json_is_array(list) || json_array_size(list) == 0) {
		reply_error(r, 400, "InvalidRequestBody",
			    "Request body is incorrect: Indicators must be a non-empty array");
		json_decref(in);
		return;
	}
	if (json_array_size(list) > 500) {
		reply_error(r, 400, "MaximumBatchSizeExceeded",
			    "Maximum batch size exceeded. Received: %zu, allowed: 500", json_array_size(list));
		json_decref(in);
		return;
	}
	struct verdict wv = {0};
	if (reading_alt(e, R_IMPORT_ERRORS) && !whole_batch_check(e, a, list, &wv)) {
		reply_error(r, wv.status, wv.code, "%s", wv.msg);
		json_decref(in);
		return;
	}
	struct strbuf sb = {0};
	json_t *item;
	size_t i;
	sb_adds(&sb, "{\"value\":[");
	json_array_foreach(list, i, item) {
		struct verdict v = {0};
		struct indicator *x = NULL;
		json_t *given = json_incref(json_is_object(item) ? json_object_get(item, "indicatorValue") : NULL);
		if (e->item_fault && i % 2 == 1) {
			v.status = 500;
			v.code = "InternalServerError";
			snprintf(v.msg, sizeof(v.msg), "Injected transient failure");
		} else {
			x = upsert(e, a, item, &v);
		}
		if (i)
			sb_addc(&sb, ',');
		import_result(&sb, item, given, x, &v);
		json_decref(given);
	}
	json_decref(in);
	sb_adds(&sb, "],");
	context_text(e, &sb, "Collection(microsoft.windowsDefenderATP.api.ImportIndicatorResult)");
	sb_addc(&sb, '}');
	r->status = 200;
	r->text = sb.buf;
	(void)emu_state_save(e, NULL, 0);
}

bool
emu_query_int(const struct request *q, const char *name, long long max, long long *out, struct reply *r)
{
	const char *s = req_query(q, name);
	long long v;
	if (s == NULL)
		return true;
	if (num_parse(s, 0, max, &v, NULL) != ERR_OK) {
		reply_error(r, 400, "ODataError", "%s must be an integer from 0 to %lld", name, max);
		return false;
	}
	*out = v;
	return true;
}

void
ind_list(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	long long top = -1, skip = 0;
	char why[256];
	struct filter *f = NULL;

	if (!may_use_ti(e, a, false, r))
		return;
	if (!emu_query_int(q, "$top", 10000, &top, r) || !emu_query_int(q, "$skip", 1LL << 40, &skip, r))
		return;
	const char *fs = req_query(q, "$filter");
	if (fs && (f = filter_parse(fs, FILTER_INDICATORS, why, sizeof(why))) == NULL) {
		reply_error(r, 400, "ODataError", "Invalid $filter: %s", why);
		return;
	}
	long long limit = top >= 0 ? top : 10000, seen = 0, taken = 0;
	bool more = false;
	/* The page is written as text: an indicator is kept as text, and a
	 * page of 10,000 built as objects only to be dumped cost most of a
	 * listing (a filter still reads each as an object). */
	struct strbuf sb = {0};
	sb_addc(&sb, '{');
	context_text(e, &sb, "Indicators");
	sb_adds(&sb, ",\"value\":[");
	/* A filter on one value (what a client's read-back asks) passes over
	 * the kept texts that cannot hold it, unread: indicatorValue is never
	 * left out of one and is written there as sb_json_str writes it. The
	 * needle stops before the closing quote, so that the filter itself
	 * still decides every text that may match. */
	const char *one = filter_required_eq(f, "indicatorValue");
	struct strbuf needle = {0};
	if (one) {
		sb_adds(&needle, "\"indicatorValue\":");
		sb_json_str(&needle, one, strlen(one));
		needle.buf[--needle.len] = '\0';
	}
	size_t nids, at;
	const long long *ids = emu_tenant_ids(e, a->tenant, &nids); /* only the tenant's: not every indicator */
	for (size_t j = 0; j < nids; j++) {
		const struct indicator *x = emu_find_num(e, ids[j], &at);
		if (x == NULL || !emu_visible(a, x) || (one && strstr(x->text, needle.buf) == NULL))
			continue;
		json_t *o = f ? ind_obj(x) : NULL;
		bool skipped = (f && !filter_match(f, o)) || seen++ < skip;
		if (!skipped && taken == limit)
			more = true;
		if (!skipped && !more) {
			if (taken++)
				sb_addc(&sb, ',');
			if (o)
				json_dump_callback(o, sb_json_cb, &sb, JSON_COMPACT);
			else
				ind_text(x, &sb);
		}
		json_decref(o);
		if (more)
			break;
	}
	filter_free(f);
	sb_free(&needle);
	if (taken == 0 && reading_alt(e, R_EMPTY_LIST)) {
		/* As GET /api/machines does when nothing matches (DD get-machines.md). */
		sb_free(&sb);
		reply_error(r, 404, "NotFound", "No indicators were found");
		return;
	}
	sb_addc(&sb, ']');
	if (more && top < 0) {
		struct strbuf link = {0};
		sb_addf(&link, "%s/api/indicators?$skip=%lld", e->base, skip + taken);
		if (fs) {
			sb_adds(&link, "&$filter=");
			for (const unsigned char *p = (const unsigned char *)fs; *p; p++) {
				if (isalnum(*p) || strchr("-_.~", *p))
					sb_addc(&link, (char)*p);
				else
					sb_addf(&link, "%%%02X", *p);
			}
		}
		sb_adds(&sb, ",\"@odata.nextLink\":");
		sb_json_str(&sb, link.buf, link.len);
		sb_free(&link);
	}
	sb_addc(&sb, '}');
	r->status = 200;
	r->text = sb.buf;
}

/* "007" is not id 7. */
static struct indicator *
find_id(struct emu *e, const char *id, size_t *at)
{
	long long v;
	if (id[0] < '1' || id[0] > '9' || num_parse(id, 1, 1LL << 53, &v, NULL) != ERR_OK)
		return NULL;
	return emu_find_num(e, v, at);
}

void
ind_delete(struct emu *e, const struct app *a, const char *id, struct reply *r)
{
	size_t at;
	if (!may_use_ti(e, a, true, r))
		return;
	struct indicator *x = find_id(e, id, &at);
	if (x == NULL || !emu_visible(a, x)) {
		reply_error(r, 404, "ResourceNotFound", "Indicator %.40s was not found", id);
		return;
	}
	if (!emu_may_write(a, x)) {
		reply_error(r, 403, "Forbidden", "The application may not delete indicator %.40s", id);
		return;
	}
	emu_remove_at(e, at, "delete");
	r->status = 204;
	r->raw_empty = true;
	(void)emu_state_save(e, NULL, 0);
}

void
ind_batch_delete(struct emu *e, const struct app *a, const struct request *q, struct reply *r)
{
	if (!may_use_ti(e, a, true, r))
		return;
	json_t *in = parse_body(q, r), *ids, *el;
	size_t i, *ats = NULL;
	if (in == NULL)
		return;
	ids = json_object_get(in, "IndicatorIds");
	if (!json_is_array(ids) || json_array_size(ids) == 0) {
		reply_error(r, 400, "InvalidRequestBody", "IndicatorIds must be a non-empty array of strings");
		goto out;
	}
	if (json_array_size(ids) > 500) {
		reply_error(r, 400, "MaximumBatchSizeExceeded",
			    "Maximum batch size exceeded. Received: %zu, allowed: 500", json_array_size(ids));
		goto out;
	}
	/* Atomic: check every id before deleting any. */
	json_array_foreach(ids, i, el) {
		long long v;
		if (!json_is_string(el) || num_parse(json_string_value(el), 1, 1LL << 53, &v, NULL) != ERR_OK) {
			reply_error(r, 400, "InvalidInput", "Indicator id at position %zu is invalid", i);
			goto out;
		}
	}
	ats = xcalloc(json_array_size(ids), sizeof(*ats));
	json_array_foreach(ids, i, el) {
		struct indicator *x = find_id(e, json_string_value(el), &ats[i]);
		if (x == NULL || !emu_visible(a, x)) {
			reply_error(r, 404, "ResourceNotFound", "Indicator %s was not found", json_string_value(el));
			goto out;
		}
		if (!emu_may_write(a, x)) {
			reply_error(r, 403, "Forbidden", "The application may not delete indicator %s",
				    json_string_value(el));
			goto out;
		}
	}
	emu_remove_each(e, ats, json_array_size(ids), "delete");
	r->status = 204;
	r->raw_empty = true;
	(void)emu_state_save(e, NULL, 0);
out:
	free(ats);
	json_decref(in);
}

bool
ind_load(struct emu *e, json_t *o, char *why, size_t whysz)
{
	const char *tenant = json_string_value(json_object_get(o, "tenant"));
	json_t *res = json_object_get(o, "indicator");
	const char *fields[] = {"id", "indicatorValue", "indicatorType", "action", "createdBy"};
	if (tenant == NULL || !json_is_object(res)) {
		snprintf(why, whysz, "an indicator needs \"tenant\" and \"indicator\"");
		return false;
	}
	for (size_t i = 0; i < 5; i++)
		if (!json_is_string(json_object_get(res, fields[i]))) {
			snprintf(why, whysz, "indicator.%s must be a string", fields[i]);
			return false;
		}
	long long id;
	if (num_parse(json_string_value(json_object_get(res, "id")), 1, 1LL << 53, &id, NULL) != ERR_OK) {
		snprintf(why, whysz, "indicator.id must be a positive number in a string");
		return false;
	}
	size_t at;
	if (find_id(e, json_string_value(json_object_get(res, "id")), &at)) {
		snprintf(why, whysz, "indicator id %lld exists already", id);
		return false;
	}
	if (emu_find_key(e, tenant, res)) {
		snprintf(why, whysz, "an indicator with this tenant, type, value and action exists already");
		return false;
	}
	xgrow((void **)&e->inds, &e->inds_cap, e->ninds + 1, sizeof(*e->inds));
	size_t pos = emu_lower_bound(e, id);
	memmove(&e->inds[pos + 1], &e->inds[pos], (e->ninds - pos) * sizeof(*e->inds));
	e->ninds++;
	struct indicator *x = &e->inds[pos];
	*x = (struct indicator){.id = id, .tenant = emu_intern(e, tenant)};
	ind_keep(e, x, res);
	long long ms;
	json_t *exp = json_object_get(res, "expirationTime");
	if (json_is_string(exp) && emu_time_parse(json_string_value(exp), &ms))
		x->expire_at = ms / 1000;
	emu_index_at(e, pos, res);
	if (id >= e->next_id)
		e->next_id = id + 1;
	return true;
}
