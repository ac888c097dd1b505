/*
 * TAXII 2.1 feeds: discovery, the API root, the collection (by id or
 * title), then its objects with added_after and paging (more/next), with
 * basic authentication or an API key header. What arrives is merged into
 * the last good snapshot, one object per id (the latest "modified" wins,
 * so a revocation replaces what it revokes), and handed on as one STIX
 * bundle to the STIX parser.
 */
#include "taxii.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http.h"
#include "iocsync_limits.h"
#include "util.h"

#define TAXII_ACCEPT "Accept: application/taxii+json;version=2.1"

struct tx {
	struct http *h;
	const char *hdrs[3];
	char *auth;
	long long max;
	long long total; /* bytes of every page so far: bounded by max */
	size_t pages;
	char origins[2][340]; /* where credentials may go: url's, and taxii_api_root's */
};

/* Credentials go only to the origin of the feed's url (and of
 * taxii_api_root when set): discovery naming an API root elsewhere, or a
 * page naming another host, gets none of them. */
static enum err
credentials_may_go(const struct tx *t, const char *url, char *why, size_t whysz)
{
	struct url_parts u;
	if (t->auth == NULL)
		return ERR_OK;
	if (!http_url_parts(url, &u, why, whysz))
		return ERR_PARSE;
	if (strcmp(u.origin, t->origins[0]) == 0 || strcmp(u.origin, t->origins[1]) == 0)
		return ERR_OK;
	set_why(why, whysz,
		"TAXII %.200s: on %s, not the feed's own %s: its credentials are not sent there (set "
		"taxii_api_root if that host is yours)",
		url, u.origin, t->origins[0]);
	return ERR_CONFIG;
}

/* GET url as TAXII JSON. */
static enum err
get_json(struct tx *t, const char *url, json_t **out, char **added_last, char *why, size_t whysz)
{
	struct http_reply r;
	/* With credentials no redirect is followed: it could lead anywhere. */
	struct http_req q = {.method = "GET",
			     .url = url,
			     .headers = t->hdrs,
			     .max_redirects = t->auth ? 0 : 3,
			     .stall_guard = true,
			     .no_private_redirect = true};
	*out = NULL;
	enum err ce = credentials_may_go(t, url, why, whysz);
	if (ce != ERR_OK)
		return ce;
	if (http_do(t->h, &q, &r) != ERR_OK) {
		set_why(why, whysz, "TAXII %s: %s", url, r.error);
		http_reply_free(&r);
		return r.fail == HTTP_FAIL_TOO_LARGE ? ERR_LIMIT : ERR_NET;
	}
	if (r.status != 200) {
		set_why(why, whysz, "TAXII %s: HTTP status %ld%s", url, r.status,
			r.status == 401 || r.status == 403 ? " (check username/password_file or api_key_*)"
				: r.status >= 300 && r.status < 400 && t->auth
				? " (a redirect is not followed with credentials)"
				: "");
		http_reply_free(&r);
		return ERR_HTTP;
	}
	t->total += (long long)r.len;
	if (t->total > t->max) {
		set_why(why, whysz, "TAXII collection: its pages passed max_bytes = %lld together", t->max);
		http_reply_free(&r);
		return ERR_LIMIT;
	}
	json_error_t je;
	*out = json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, &je);
	if (!json_is_object(*out)) {
		set_why(why, whysz, "TAXII %s: not a JSON object (%s at byte %d)", url,
			*out ? "another value" : je.text, je.position);
		json_decref(*out);
		*out = NULL;
		http_reply_free(&r);
		return ERR_PARSE;
	}
	if (added_last && r.taxii_last) {
		free(*added_last);
		*added_last = xstrdup(r.taxii_last);
	}
	http_reply_free(&r);
	return ERR_OK;
}

/* base + "/" + rel, unless rel is already absolute. */
static char *
join(const char *base, const char *rel)
{
	if (strncmp(rel, "https://", 8) == 0 || strncmp(rel, "http://", 7) == 0)
		return xstrdup(rel);
	size_t n = strlen(base);
	if (rel[0] == '/') { /* absolute path: keep the scheme and host of base */
		const char *h = strstr(base, "://");
		const char *p = h ? strchr(h + 3, '/') : NULL;
		return xasprintf("%.*s%s", (int)(p ? (size_t)(p - base) : n), base, rel);
	}
	return xasprintf("%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", rel);
}

static char *
with_slash(const char *u)
{
	size_t n = strlen(u);
	return xasprintf("%s%s", u, n && u[n - 1] == '/' ? "" : "/");
}

/* The API root, with a final slash: the configured one as it is (no
 * discovery, which some servers do not serve to every account), else the
 * discovery's default or first, else the feed URL itself. */
static enum err
api_root(struct tx *t, const struct feed_cfg *f, char **root, char *why, size_t whysz)
{
	if (f->taxii_api_root) {
		*root = with_slash(f->taxii_api_root);
		return ERR_OK;
	}
	json_t *doc;
	enum err e = get_json(t, f->url, &doc, NULL, why, whysz);
	if (e != ERR_OK)
		return e;
	const json_t *roots = json_object_get(doc, "api_roots");
	if (json_is_array(roots)) { /* discovery */
		const char *d = json_string_value(json_object_get(doc, "default"));
		const char *first = json_string_value(json_array_get(roots, 0));
		if (d == NULL && first == NULL) {
			set_why(why, whysz, "TAXII %s: the server lists no API root", f->url);
			json_decref(doc);
			return ERR_PARSE;
		}
		char *j = join(f->url, d ? d : first);
		*root = with_slash(j);
		free(j);
	} else { /* the URL is an API root itself */
		*root = with_slash(f->url);
	}
	json_decref(doc);
	return ERR_OK;
}

/* The collection's objects URL, under the API root. */
static enum err
objects_url(struct tx *t, const struct feed_cfg *f, char **out, char *why, size_t whysz)
{
	json_t *doc;
	char *root;
	enum err e = api_root(t, f, &root, why, whysz);
	if (e != ERR_OK)
		return e;
	char *cu = join(root, "collections/");
	e = get_json(t, cu, &doc, NULL, why, whysz);
	free(cu);
	if (e != ERR_OK) {
		free(root);
		return e;
	}
	const json_t *cols = json_object_get(doc, "collections");
	size_t i;
	json_t *c;
	const char *id = NULL;
	json_array_foreach((json_t *)cols, i, c) {
		const char *cid = json_string_value(json_object_get(c, "id"));
		const char *title = json_string_value(json_object_get(c, "title"));
		if (cid &&
		    (strcmp(cid, f->taxii_collection) == 0 || (title && strcmp(title, f->taxii_collection) == 0))) {
			if (json_is_false(json_object_get(c, "can_read"))) {
				set_why(why, whysz, "TAXII collection %s: the server says this account cannot read it",
					f->taxii_collection);
				json_decref(doc);
				free(root);
				return ERR_HTTP;
			}
			id = cid;
			break;
		}
	}
	if (id == NULL) {
		set_why(why, whysz, "TAXII %s: no collection with the id or title \"%s\" (%zu listed)", root,
			f->taxii_collection, json_array_size(cols));
		json_decref(doc);
		free(root);
		return ERR_PARSE;
	}
	char *esc = http_escape(id);
	*out = xasprintf("%scollections/%s/objects/", root, esc);
	free(esc);
	json_decref(doc);
	free(root);
	return ERR_OK;
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static const char *
modified(const json_t *o)
{
	const char *m = json_string_value(json_object_get(o, "modified"));
	return m ? m : json_string_value(json_object_get(o, "created"));
}

/* Into byid: o, unless a version as new or newer is there. */
static void
keep_latest(json_t *byid, json_t *o)
{
	const char *id = json_string_value(json_object_get(o, "id"));
	if (id == NULL)
		return;
	const json_t *old = json_object_get(byid, id);
	const char *a = old ? modified(old) : NULL, *b = modified(o);
	if (old == NULL || (b && (a == NULL || strcmp(b, a) >= 0))) /* RFC 3339 UTC compares as text */
		json_object_set(byid, id, o);
}

/* The origins credentials may go to, and the credential's header; the
 * secret it comes from is read here and wiped at once. */
static enum err
tx_credentials(struct tx *t, const struct feed_cfg *f, char *why, size_t whysz)
{
	struct url_parts up;
	if (!http_url_parts(f->url, &up, why, whysz))
		return ERR_CONFIG;
	snprintf(t->origins[0], sizeof(t->origins[0]), "%s", up.origin);
	snprintf(t->origins[1], sizeof(t->origins[1]), "%s", up.origin);
	if (f->taxii_api_root) {
		if (!http_url_parts(f->taxii_api_root, &up, why, whysz))
			return ERR_CONFIG;
		snprintf(t->origins[1], sizeof(t->origins[1]), "%s", up.origin);
	}
	if ((f->username || f->api_key_header) && !f->allow_http &&
	    (strncasecmp(f->url, "http://", 7) == 0 ||
	     (f->taxii_api_root && strncasecmp(f->taxii_api_root, "http://", 7) == 0))) {
		set_why(why, whysz,
			"TAXII %s: credentials are never sent over plain http (https, or allow_http = yes "
			"for a server you trust on a network you trust)",
			f->url);
		return ERR_CONFIG;
	}
	if (f->username == NULL && f->api_key_header == NULL)
		return ERR_OK;
	char *secret = f->username
		? file_read_private(f->password_file, "password_file", LIMIT_SECRET_BYTES, why, whysz)
		: file_read_private(f->api_key_file, "api_key_file", LIMIT_SECRET_BYTES, why, whysz);
	if (secret == NULL)
		return ERR_CONFIG;
	secret[strcspn(secret, "\r\n")] = '\0';
	if (f->username) {
		char *pair = xasprintf("%s:%s", f->username, secret);
		size_t n = strlen(pair);
		unsigned char *b64 = xmalloc(4 * ((n + 2) / 3) + 1);
		EVP_EncodeBlock(b64, (const unsigned char *)pair, (int)n);
		t->auth = xasprintf("Authorization: Basic %s", b64);
		explicit_bzero(pair, n);
		explicit_bzero(b64, strlen((char *)b64));
		free(pair);
		free(b64);
	} else {
		t->auth = xasprintf("%s: %s", f->api_key_header, secret);
	}
	explicit_bzero(secret, strlen(secret));
	free(secret);
	return ERR_OK;
}

/* Every page of objs added after o's cursor (all of them without a
 * snapshot), the newest version of each object kept in byid; *fresh
 * counts the objects read; res->cursor gets where the next reading
 * starts. */
static enum err
read_pages(struct tx *t, const char *objs, const struct taxii_opts *o, json_t *byid, size_t *fresh,
	   struct taxii_result *res, char *why, size_t whysz)
{
	enum err e = ERR_OK;
	char *cursor = o->cursor && o->snapshot ? xstrdup(o->cursor) : NULL, *next = NULL;
	for (size_t page = 0;; page++) {
		if (page >= LIMIT_TAXII_PAGES) {
			set_why(why, whysz, "TAXII %s: more than %d pages", objs, LIMIT_TAXII_PAGES);
			e = ERR_LIMIT;
			break;
		}
		struct strbuf u = {0};
		sb_addf(&u, "%s?limit=%d", objs, LIMIT_TAXII_PAGE);
		if (cursor) {
			char *c = http_escape(cursor);
			sb_addf(&u, "&added_after=%s", c);
			free(c);
		}
		if (next) {
			char *n = http_escape(next);
			sb_addf(&u, "&next=%s", n);
			free(n);
		}
		json_t *env;
		char *last = NULL;
		e = get_json(t, u.buf, &env, &last, why, whysz);
		sb_free(&u);
		if (e != ERR_OK) {
			free(last);
			break;
		}
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(env, "objects"), i, x) {
			if (json_is_object(x)) {
				keep_latest(byid, x);
				(*fresh)++;
			}
		}
		if (json_object_size(byid) > LIMIT_TAXII_OBJECTS) {
			set_why(why, whysz, "TAXII %s: more than %d objects in the collection", objs,
				LIMIT_TAXII_OBJECTS);
			json_decref(env);
			free(last);
			e = ERR_LIMIT;
			break;
		}
		t->pages++;
		if (last) { /* the next reading starts after this one */
			free(res->cursor);
			res->cursor = last;
		}
		bool more = json_is_true(json_object_get(env, "more"));
		const char *nx = json_string_value(json_object_get(env, "next"));
		free(next);
		next = nx ? xstrdup(nx) : NULL;
		json_decref(env);
		if (!more)
			break;
		if (next == NULL && last) { /* paging by added_after alone */
			free(cursor);
			cursor = xstrdup(last);
		} else if (next == NULL) {
			set_why(why, whysz, "TAXII %s: \"more\" without \"next\" nor X-TAXII-Date-Added-Last", objs);
			e = ERR_PARSE;
			break;
		}
	}
	free(cursor);
	free(next);
	return e;
}

/* One bundle of every object, in id order so the snapshot is stable:
 * the form the STIX parser reads, and the feed's snapshot. */
static enum err
bundle(json_t *byid, long long max, struct taxii_result *res, char *why, size_t whysz)
{
	json_t *arr = json_array();
	const char **ids = xcalloc(json_object_size(byid) + 1, sizeof(*ids));
	size_t n = 0;
	const char *k;
	json_t *v;
	json_object_foreach(byid, k, v)
		ids[n++] = k;
	qsort(ids, n, sizeof(*ids), cmp_str);
	for (size_t i = 0; i < n; i++)
		json_array_append(arr, json_object_get(byid, ids[i]));
	free(ids);
	json_t *b =
		json_pack("{s:s, s:s, s:o}", "type", "bundle", "id", "bundle--iocsync-taxii-snapshot", "objects", arr);
	res->body = json_dumps(b, JSON_COMPACT);
	res->len = res->body ? strlen(res->body) : 0;
	res->objects = json_incref(arr);
	json_decref(b);
	if ((long long)res->len > max) {
		set_why(why, whysz, "TAXII collection larger than max_bytes = %lld", max);
		return ERR_LIMIT;
	}
	return ERR_OK;
}

enum err
feed_taxii_fetch(const struct feed_cfg *f, const struct taxii_opts *o, struct taxii_result *res, char *why,
		 size_t whysz)
{
	struct http_opts ho = {.ca_file = o->ca_file,
			       .proxy = o->proxy,
			       .user_agent = o->user_agent,
			       .connect_timeout_s = o->connect_timeout_s,
			       .timeout_s = o->timeout_s,
			       .max_body = o->max_bytes};
	struct tx t = {.max = o->max_bytes};
	char *objs = NULL;
	json_t *byid = json_object();
	size_t fresh = 0;

	memset(res, 0, sizeof(*res));
	t.hdrs[0] = TAXII_ACCEPT;
	enum err e = tx_credentials(&t, f, why, whysz);
	t.hdrs[1] = t.auth;
	if (e == ERR_OK && (t.h = http_new(&ho)) == NULL) {
		set_why(why, whysz, "cannot initialise libcurl");
		e = ERR_NET;
	}
	if (e == ERR_OK)
		e = objects_url(&t, f, &objs, why, whysz);
	if (e == ERR_OK && o->snapshot) { /* what we had, then what was added since */
		json_t *old = json_loadb(o->snapshot, o->snapshot_len, 0, NULL);
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(old, "objects"), i, x)
			keep_latest(byid, x);
		json_decref(old);
	}
	if (e == ERR_OK)
		e = read_pages(&t, objs, o, byid, &fresh, res, why, whysz);
	if (e == ERR_OK) {
		res->pages = t.pages;
		res->fresh = fresh;
		res->unchanged = fresh == 0 && o->snapshot != NULL;
		if (res->cursor == NULL && o->cursor)
			res->cursor = xstrdup(o->cursor);
		e = bundle(byid, t.max, res, why, whysz);
	}
	if (t.auth) {
		explicit_bzero(t.auth, strlen(t.auth));
		free(t.auth);
	}
	free(objs);
	json_decref(byid);
	http_free(t.h);
	if (e != ERR_OK)
		feed_taxii_result_free(res);
	return e;
}

void
feed_taxii_result_free(struct taxii_result *r)
{
	free(r->body);
	free(r->cursor);
	json_decref(r->objects);
	memset(r, 0, sizeof(*r));
}
