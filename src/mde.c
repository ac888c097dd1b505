/*
 * The MDE endpoints iocsync uses, each a typed call over mde_call: the
 * clouds' hosts, then listing, import, delete, machines. The transport
 * (mde_transport.c) keeps the budgets and retries; the credential and
 * the token live in mde_auth.c, which this file asks for a header.
 */
#include "mde.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "iocsync_limits.h"
#include "log.h"
#include "mde_auth.h"
#include "util.h"

struct mde {
	struct mde_transport *t;
	struct mde_auth *auth;
	char *client_id, *application;
	char *api;
	char *created_by;   /* what MDE puts in createdBy for this app, once learned; or NULL */
	long long list_max; /* more indicators than this in a listing: not a real tenant's */
	double deadline_s;
	int list_page;
};

const struct mde_stats *
mde_stats(const struct mde *m)
{
	return mde_transport_stats(m->t);
}

const char *
mde_api_base(const struct mde *m)
{
	return m->api;
}

const char *
mde_client_id(const struct mde *m)
{
	return m->client_id;
}

static const char *
region_host(const char *r)
{
	static const char *const regions[] = {"us", "eu", "uk", "au", "swa", "ina", "aea"};
	for (size_t i = 0; i < NELEM(regions); i++)
		if (strcmp(r, regions[i]) == 0)
			return regions[i];
	return NULL;
}

static char *
strip_slash(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

/* The API host and the login host of c's cloud, and the token's
 * audience: the legacy resource works on every host (spec 1.2); the
 * government clouds use their own API host. */
static void
hosts(const struct config *c, char **api, char **login, char **resource, char **alt)
{
	const char *cloud = c->cloud;
	bool gov = strcmp(cloud, "gcc") == 0 || strcmp(cloud, "gcc-high") == 0 || strcmp(cloud, "dod") == 0;
	*alt = NULL;
	if (strcmp(cloud, "gcc") == 0) {
		*api = xstrdup("https://api-gcc.securitycenter.microsoft.us");
		*login = xstrdup("https://login.microsoftonline.com");
	} else if (gov) {
		*api = xstrdup("https://api-gov.securitycenter.microsoft.us");
		*login = xstrdup("https://login.microsoftonline.us");
	} else {
		const char *r = c->region ? c->region : "";
		if (strcmp(r, "unified") == 0)
			*api = xstrdup("https://api.security.microsoft.com");
		else if (region_host(r))
			*api = xasprintf("https://%s.api.security.microsoft.com", r);
		else
			*api = xstrdup("https://api.securitycenter.microsoft.com");
		*login = xstrdup("https://login.microsoftonline.com");
	}
	if (c->resource) {
		*resource = xstrdup(c->resource);
	} else if (gov) {
		/* The documents name no gov audience: the API host, or the
		 * onmicrosoft.us identifier some clients use; the other is
		 * tried once on AADSTS500011 (spec 9, gov-audience). */
		*resource = xstrdup(*api);
		*alt = xstrdup("https://securitycenter.onmicrosoft.us");
	} else {
		*resource = xstrdup("https://api.securitycenter.microsoft.com");
	}
	if (c->api_url) {
		free(*api);
		*api = strip_slash(xstrdup(c->api_url));
	}
	if (c->login_url) {
		free(*login);
		*login = strip_slash(xstrdup(c->login_url));
	}
}

/* A client of api (NULL: c's MDE API) with tokens for resource (NULL:
 * MDE's, with the gov clouds' other candidate). */
static struct mde *
client_new(const struct config *c, const struct clock *clk, const char *api, const char *resource, char *why,
	   size_t whysz)
{
	if (c->tenant_id == NULL || c->client_id == NULL) {
		set_why(why, whysz, "[mde] needs tenant_id and client_id");
		return NULL;
	}
	struct mde *m = xcalloc(1, sizeof(*m));
	m->client_id = xstrdup(c->client_id);
	m->application = xstrdup(c->application);
	m->deadline_s = (double)c->api_deadline_s;
	m->list_page = c->list_page;
	m->list_max = (c->cap > 15000 ? c->cap : 15000) + LIMIT_MDE_LIST_SLACK;
	char *login, *mde_resource, *alt;
	hosts(c, &m->api, &login, &mde_resource, &alt);
	if (api) {
		free(m->api);
		m->api = strip_slash(xstrdup(api));
	}
	if (http_url_ok(m->api, c->allow_http, why, whysz) && http_url_ok(login, c->allow_http, why, whysz) &&
	    (m->auth = mde_auth_new(c, login, resource ? resource : mde_resource, resource ? NULL : alt, why, whysz)) !=
		    NULL)
		m->t = mde_transport_new(c, clk, why, whysz);
	free(login), free(mde_resource), free(alt);
	if (m->t == NULL) {
		mde_free(m);
		return NULL;
	}
	return m;
}

struct mde *
mde_new(const struct config *c, const struct clock *clk, char *why, size_t whysz)
{
	return client_new(c, clk, NULL, NULL, why, whysz);
}

struct mde *
mde_new_graph(const struct config *c, const char *graph_url, const char *resource, char *why, size_t whysz)
{
	return client_new(c, NULL, graph_url, resource, why, whysz);
}

void
mde_free(struct mde *m)
{
	if (m == NULL)
		return;
	mde_auth_free(m->auth);
	mde_transport_free(m->t);
	free(m->client_id), free(m->application), free(m->api), free(m->created_by);
	free(m);
}

const json_t *
mde_roles(struct mde *m, char *why, size_t whysz)
{
	const json_t *claims;
	if (mde_auth_claims(m->auth, m->t, mde_transport_now(m->t) + m->deadline_s, &claims, why, whysz) != ERR_OK)
		return NULL;
	json_t *roles = json_object_get(claims, "roles");
	if (!json_is_array(roles)) {
		set_why(why, whysz, "the token carries no roles claim");
		return NULL;
	}
	return roles;
}

/* MDE's error code and message from a body, for people. */
static void
api_error(const struct http_reply *r, const char *method, const char *path, char *why, size_t whysz)
{
	json_t *j = r->body ? json_loadb(r->body, r->len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char mb[200], pb[200];
	echo_str(path, strlen(path), pb, sizeof(pb));
	if (code)
		set_why(why, whysz, "%s %s: HTTP %ld %s%s%s", method, pb, r->status, code, msg ? ": " : "",
			msg ? echo_str(msg, strlen(msg), mb, sizeof(mb)) : "");
	else
		set_why(why, whysz, "%s %s: HTTP %ld", method, pb, r->status);
	json_decref(j);
}

/* One call with payload (JSON text, taken: freed here; or NULL), or a
 * JSON body made for each try by made (or NULL). */
static enum err
call(struct mde *m, enum mde_ep ep, const char *method, const char *path, char *payload, const struct http_body *made,
     const struct http_stream *stream, long *status, json_t **out, char *why, size_t whysz)
{
	double deadline = mde_transport_now(m->t) + m->deadline_s;
	char *url = xasprintf("%s%s", m->api, path);
	enum err e = ERR_OK;
	bool refreshed = false;
	*status = 0;
	if (out)
		*out = NULL;
	for (;;) {
		char *auth;
		if ((e = mde_auth_header(m->auth, m->t, deadline, &auth, why, whysz)) != ERR_OK)
			break;
		const char *hdrs[] = {auth, "Accept: application/json",
				      payload || made ? "Content-Type: application/json" : NULL, NULL};
		struct http_reply r;
		enum retry_verdict v;
		e = mde_transport_send_stream(m->t, ep, method, url, hdrs, payload, payload ? strlen(payload) : 0, made,
					      stream, deadline, &r, &v, why, whysz);
		mde_auth_header_free(auth);
		if (e != ERR_OK) {
			http_reply_free(&r);
			break;
		}
		*status = r.status;
		if (v == RETRY_REFRESH && !refreshed) {
			/* Expired early or revoked: one new token, one more try. */
			refreshed = true;
			log_info("%s: 401, getting a new token", mde_ep_name(ep));
			mde_auth_expire(m->auth);
			http_reply_free(&r);
			continue;
		}
		if (r.status >= 200 && r.status < 300) {
			if (r.stream_stopped) {
				set_why(why, whysz, "%s %s: HTTP %ld with a body that was refused", method,
					mde_ep_name(ep), r.status);
				e = ERR_PARSE;
			} else if (out && r.len > 0) {
				json_error_t je;
				*out = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &je);
				if (*out == NULL) {
					set_why(why, whysz, "%s %s: HTTP %ld with a body that is not JSON (%s)", method,
						mde_ep_name(ep), r.status, je.text);
					e = ERR_PARSE;
				}
			}
		} else {
			if (r.status)
				api_error(&r, method, path, why, whysz);
			else
				set_why(why, whysz, "%s %s: %s", method, mde_ep_name(ep), r.error);
			e = r.status ? ERR_HTTP : ERR_NET;
		}
		http_reply_free(&r);
		break;
	}
	free(payload);
	free(url);
	return e;
}

enum err
mde_call(struct mde *m, enum mde_ep ep, const char *method, const char *path, json_t *body, long *status, json_t **out,
	 char *why, size_t whysz)
{
	return call(m, ep, method, path, body ? json_dumps(body, JSON_COMPACT) : NULL, NULL, NULL, status, out, why,
		    whysz);
}

enum err
mde_call_stream(struct mde *m, enum mde_ep ep, const char *path, const struct http_stream *stream, long *status,
		char *why, size_t whysz)
{
	return call(m, ep, "GET", path, NULL, NULL, stream, status, NULL, why, whysz);
}

/* ---- endpoints ---- */

static bool
same_id(const char *a, const char *b)
{
	return a && b && strlen(a) == strlen(b) && mem_ieq(a, b, strlen(a));
}

bool
mde_claims_app(const struct mde *m, const json_t *ind)
{
	const char *app = json_string_value(json_object_get(ind, "application"));
	return app && strcmp(app, m->application) == 0;
}

bool
mde_owned_by(const struct mde *m, const char *by)
{
	return same_id(by, m->client_id) || same_id(by, m->created_by);
}

bool
mde_owned(const struct mde *m, const json_t *ind)
{
	return mde_claims_app(m, ind) && mde_owned_by(m, json_string_value(json_object_get(ind, "createdBy")));
}

void
mde_set_created_by(struct mde *m, const char *by)
{
	free(m->created_by);
	m->created_by = by ? xstrdup(by) : NULL;
}

const char *
mde_created_by(const struct mde *m)
{
	return m->created_by;
}

bool
mde_await(struct mde *m, enum mde_ep ep, char *why, size_t whysz)
{
	return mde_transport_await(m->t, ep, mde_transport_now(m->t) + m->deadline_s, why, whysz);
}

double
mde_budget_wait(struct mde *m, enum mde_ep ep)
{
	return mde_transport_wait(m->t, ep);
}

int
mde_list_page(const struct mde *m)
{
	return m->list_page > 0 ? m->list_page : LIMIT_MDE_PAGE;
}

long long
mde_list_max(const struct mde *m)
{
	return m->list_max;
}

char *
mde_filter_eq(const char *field, const char *value)
{
	struct strbuf f = {0};
	sb_addf(&f, "%s eq '", field);
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			sb_addc(&f, '\''); /* OData doubles a quote in a string */
		sb_addc(&f, *p);
	}
	sb_adds(&f, "'");
	char *esc = http_escape(f.buf);
	sb_free(&f);
	return esc;
}

enum err
mde_find_value(struct mde *m, const char *value, long *status, json_t **out, char *why, size_t whysz)
{
	char *esc = mde_filter_eq("indicatorValue", value);
	char *path = xasprintf("/api/indicators?$filter=%s&$top=100", esc);
	*out = NULL;
	enum err e = mde_call(m, MDE_EP_LIST, "GET", path, NULL, status, out, why, whysz);
	free(path);
	free(esc);
	return e;
}

/* An import's results as they stream: each item's strings appended to
 * text, at offsets (text moves as it grows) made pointers at the end. */
struct import_sink {
	struct value_scan *scan;
	struct strbuf text;
	struct {
		size_t id, indicator, reason; /* offsets into text, or NONE */
		bool failed;
	} * at;
	size_t n, cap;
};

#define NONE ((size_t)-1)

static size_t
keep_text(struct import_sink *k, const char *s)
{
	if (s == NULL)
		return NONE;
	size_t at = k->text.len;
	sb_add(&k->text, s, strlen(s) + 1);
	return at;
}

static bool
import_item(void *ctx, json_t *x, char *why, size_t whysz)
{
	struct import_sink *k = ctx;
	(void)why, (void)whysz;
	char idb[32];
	xgrow((void **)&k->at, &k->cap, k->n + 1, sizeof(*k->at));
	k->at[k->n].id = keep_text(k, mde_id(x, idb));
	k->at[k->n].indicator = keep_text(k, json_string_value(json_object_get(x, "indicator")));
	k->at[k->n].reason = keep_text(k, json_string_value(json_object_get(x, "failureReason")));
	k->at[k->n].failed = json_is_true(json_object_get(x, "isFailed"));
	k->n++;
	return true;
}

static void
import_reset(void *ctx)
{
	struct import_sink *k = ctx;
	value_scan_reset(k->scan);
	k->text.len = 0;
	k->n = 0;
}

static bool
import_feed(void *ctx, const char *b, size_t n)
{
	struct import_sink *k = ctx;
	return value_scan_feed(k->scan, b, n);
}

void
mde_import_results_free(struct mde_import_results *r)
{
	free(r->item);
	free(r->text);
	*r = (struct mde_import_results){0};
}

enum err
mde_import(struct mde *m, const struct http_body *body, size_t n, struct mde_import_results *res, long *status,
	   char *why, size_t whysz)
{
	struct import_sink k = {0};
	k.scan = value_scan_new(import_item, &k, "import results");
	struct http_stream hs = {import_reset, import_feed, &k};
	*res = (struct mde_import_results){0};
	enum err e =
		call(m, MDE_EP_IMPORT, "POST", "/api/indicators/import", NULL, body, &hs, status, NULL, why, whysz);
	if (e == ERR_OK && !value_scan_finish(k.scan))
		e = ERR_PARSE;
	if (e == ERR_PARSE && value_scan_why(k.scan)) /* stopped as it streamed, or at its end */
		set_why(why, whysz, "import: %s", value_scan_why(k.scan));
	else if (e == ERR_OK && k.n != n) {
		set_why(why, whysz, "import: %zu results for %zu indicators", k.n, n);
		e = ERR_PARSE;
	}
	value_scan_free(k.scan);
	if (e != ERR_OK) {
		free(k.at);
		sb_free(&k.text);
		return e;
	}
	res->n = n;
	res->item = xcalloc(n ? n : 1, sizeof(*res->item));
	res->text = k.text.buf;
	for (size_t i = 0; i < n; i++)
		res->item[i] = (struct mde_import_item){
			.id = k.at[i].id == NONE ? NULL : res->text + k.at[i].id,
			.indicator = k.at[i].indicator == NONE ? NULL : res->text + k.at[i].indicator,
			.reason = k.at[i].reason == NONE ? NULL : res->text + k.at[i].reason,
			.failed = k.at[i].failed,
		};
	free(k.at);
	return ERR_OK;
}

enum err
mde_batch_delete(struct mde *m, const char *const *ids, size_t n, long *status, char *why, size_t whysz)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(ids[i]));
	json_t *body = json_pack("{s:o}", "IndicatorIds", arr);
	enum err e =
		mde_call(m, MDE_EP_BATCHDELETE, "POST", "/api/indicators/BatchDelete", body, status, NULL, why, whysz);
	json_decref(body);
	return e;
}

enum err
mde_delete(struct mde *m, const char *id, char *why, size_t whysz)
{
	long status;
	char *idesc = http_escape(id);
	char *path = xasprintf("/api/indicators/%s", idesc);
	enum err e = mde_call(m, MDE_EP_DELETE, "DELETE", path, NULL, &status, NULL, why, whysz);
	free(path);
	free(idesc);
	return e == ERR_HTTP && status == 404 ? ERR_OK : e;
}

enum err
mde_device_groups(struct mde *m, json_t **groups, char *why, size_t whysz)
{
	*groups = json_object();
	for (long long skip = 0;; skip += LIMIT_MDE_PAGE) {
		char path[80];
		long status;
		json_t *out;
		snprintf(path, sizeof(path), "/api/machines?$top=%d&$skip=%lld", LIMIT_MDE_PAGE, skip);
		enum err e = mde_call(m, MDE_EP_MACHINES, "GET", path, NULL, &status, &out, why, whysz);
		if (e == ERR_HTTP && status == 404) /* no (more) machines: DD get-machines.md */
			return ERR_OK;
		if (e != ERR_OK) {
			json_decref(*groups);
			*groups = NULL;
			return e;
		}
		json_t *v = json_object_get(out, "value"), *x;
		size_t i, n = json_array_size(v);
		json_array_foreach(v, i, x) {
			const char *g = json_string_value(json_object_get(x, "rbacGroupName"));
			if (g && *g)
				json_object_set_new(*groups, g,
						    json_integer(json_integer_value(json_object_get(*groups, g)) + 1));
		}
		json_decref(out);
		if (n < LIMIT_MDE_PAGE || skip >= LIMIT_MDE_MACHINES)
			return ERR_OK;
	}
}

const char *
mde_id(const json_t *ind, char buf[32])
{
	const json_t *id = json_object_get(ind, "id");
	if (json_is_integer(id)) {
		snprintf(buf, 32, "%lld", (long long)json_integer_value(id));
		return buf;
	}
	return json_string_value(id);
}
