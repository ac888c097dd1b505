/*
 * Listing MDE's indicators as the pages stream in. A page is
 * {"@odata.context": ..., "value": [{...}, {...}], ...}: the scanner
 * below follows the top object byte by byte, and each element of "value"
 * is parsed alone (duplicate keys refused) and handed over, so no page
 * and no tenant's listing is ever one JSON tree (a provider's thousand
 * tenants list at once: bench/tenants.py). The scanner checks the shape
 * it relies on (an object, one "value" array of objects, nothing after
 * it, no key twice); what is inside an element is jansson's to judge.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocsync_limits.h"
#include "log.h"
#include "mde.h"
#include "strset.h"
#include "util.h"

enum mode {
	M_START, /* before the top object */
	M_TOP,   /* in the top object, between its members */
	M_KEY,   /* reading a member's name */
	M_STR,   /* reading a member's string value */
	M_SKIP,  /* in a member's object or array value, not "value"'s */
	M_ARRAY, /* in "value"'s array, between elements */
	M_ITEM,  /* in an element, keeping its bytes */
	M_END,   /* after the top object */
};

struct scan {
	enum mode mode;
	int depth;          /* nesting inside M_SKIP or M_ITEM */
	bool in_str, esc;   /* in a string (and after its backslash) */
	bool want_key;      /* in M_TOP: the next string names a member */
	bool want_array;    /* in M_TOP: "value": was read, its array comes */
	bool seen_value;    /* the "value" array was read */
	struct strbuf key;  /* the member name being read */
	struct strbuf keys; /* the names read, each with its NUL: none twice */
	struct strbuf item; /* the element being read */
	bool (*on_item)(void *ctx, json_t *ind, char *why, size_t whysz);
	void *ctx;
	const char *of; /* what the elements are, for a failure's words */
	bool bad;
	char why[300];
};

static void
scan_reset(struct scan *s)
{
	sb_free(&s->key);
	sb_free(&s->keys);
	sb_free(&s->item);
	*s = (struct scan){.on_item = s->on_item, .ctx = s->ctx, .of = s->of};
}

static bool
scan_fail(struct scan *s, const char *what)
{
	s->bad = true;
	snprintf(s->why, sizeof(s->why), "the answer is not a list of %s: %s", s->of, what);
	return false;
}

/* Follows a string's bytes; true at its closing quote. */
static bool
string_ends(struct scan *s, char c)
{
	if (s->esc)
		s->esc = false;
	else if (c == '\\')
		s->esc = true;
	else if (c == '"')
		return true;
	return false;
}

/* A member's name is read: it must be new; "value" says its array comes. */
static bool
key_done(struct scan *s)
{
	sb_add(&s->key, "", 0);
	for (size_t at = 0; at < s->keys.len; at += strlen(s->keys.buf + at) + 1)
		if (strcmp(s->keys.buf + at, s->key.buf) == 0)
			return scan_fail(s, "a member of the page is given twice");
	sb_add(&s->keys, s->key.buf, s->key.len + 1);
	s->want_array = strcmp(s->key.buf, "value") == 0;
	s->key.len = 0;
	return true;
}

static bool
item_done(struct scan *s)
{
	json_error_t je;
	json_t *ind = json_loadb(s->item.buf, s->item.len, JSON_REJECT_DUPLICATES, &je);
	s->item.len = 0;
	if (ind == NULL) {
		char what[200];
		snprintf(what, sizeof(what), "an element is not JSON (%s)", je.text);
		return scan_fail(s, what);
	}
	bool ok = s->on_item(s->ctx, ind, s->why, sizeof(s->why));
	json_decref(ind);
	if (!ok)
		s->bad = true;
	return ok;
}

static bool
scan_top(struct scan *s, char c)
{
	if (is_space((unsigned char)c))
		return true;
	if (s->want_array && c != '[' && c != ':')
		return scan_fail(s, "\"value\" is not an array");
	switch (c) {
	case '"':
		s->mode = s->want_key ? M_KEY : M_STR;
		s->want_key = false;
		return true;
	case ',': s->want_key = true; return true;
	case ':': return true;
	case '}': s->mode = M_END; return true;
	case '[':
	case '{':
		if (s->want_array) { /* '[': what the first line let through */
			s->want_array = false;
			s->seen_value = true;
			s->mode = M_ARRAY;
		} else { /* another member's object or array */
			s->mode = M_SKIP;
			s->depth = 1;
		}
		return true;
	default: return true; /* a number, true, false or null of another member */
	}
}

/* In another member's value (skipped) or in an element (kept): follows
 * its bytes to its end or the chunk's, whichever comes first, and says
 * how many it took; depth is 0 after the last. */
static size_t
nested_run(struct scan *s, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		char c = b[i];
		if (s->in_str)
			s->in_str = !string_ends(s, c);
		else if (c == '"')
			s->in_str = true;
		else if (c == '{' || c == '[')
			s->depth++;
		else if ((c == '}' || c == ']') && --s->depth == 0)
			return i + 1;
	}
	return n;
}

static bool
scan_byte(struct scan *s, char c)
{
	switch (s->mode) {
	case M_START:
		if (is_space((unsigned char)c))
			return true;
		if (c != '{')
			return scan_fail(s, "not a JSON object");
		s->mode = M_TOP;
		s->want_key = true;
		return true;
	case M_TOP: return scan_top(s, c);
	case M_KEY:
		if (string_ends(s, c)) {
			s->mode = M_TOP;
			return key_done(s);
		}
		if (s->key.len >= 256)
			return scan_fail(s, "a member's name is too long");
		sb_addc(&s->key, c);
		return true;
	case M_STR:
		if (string_ends(s, c))
			s->mode = M_TOP;
		return true;
	case M_SKIP:
	case M_ITEM: break; /* scan_feed takes them a run at a time */
	case M_ARRAY:
		if (is_space((unsigned char)c) || c == ',')
			return true;
		if (c == ']') {
			s->mode = M_TOP;
			return true;
		}
		if (c != '{')
			return scan_fail(s, "an element of \"value\" is not an object");
		s->mode = M_ITEM;
		s->depth = 1;
		sb_addc(&s->item, c);
		return true;
	case M_END: return is_space((unsigned char)c) ? true : scan_fail(s, "text after the page");
	}
	return scan_fail(s, "the scanner lost its place");
}

/* The bytes of a body as they come; false once the scan stopped. A
 * listing is mostly its elements: their bytes are taken a run at a time,
 * the page around them a byte at a time. */
static bool
scan_feed(struct scan *s, const char *b, size_t n)
{
	for (size_t i = 0; i < n;) {
		if (s->mode != M_SKIP && s->mode != M_ITEM) {
			if (!scan_byte(s, b[i++]))
				return false;
			continue;
		}
		size_t k = nested_run(s, b + i, n - i);
		bool item = s->mode == M_ITEM;
		if (item) {
			if (s->item.len + k > LIMIT_MDE_ITEM_BYTES)
				return scan_fail(s, "an element is too long");
			sb_add(&s->item, b + i, k);
		}
		i += k;
		if (s->depth == 0) {
			s->mode = item ? M_ARRAY : M_TOP;
			if (item && !item_done(s))
				return false;
		}
	}
	return true;
}

/* After the last byte: the page must be whole. */
static bool
scan_finish(struct scan *s)
{
	if (s->bad)
		return false;
	if (s->mode != M_END)
		return scan_fail(s, "it ends early");
	if (!s->seen_value)
		return scan_fail(s, "it has no \"value\" array");
	return true;
}

/* ---- any answer that is {"value": [...]} (an import's results) ---- */

struct value_scan {
	struct scan sc;
};

struct value_scan *
value_scan_new(mde_list_fn fn, void *ctx, const char *of)
{
	struct value_scan *v = xcalloc(1, sizeof(*v));
	v->sc = (struct scan){.on_item = fn, .ctx = ctx, .of = of};
	return v;
}

void
value_scan_reset(struct value_scan *v)
{
	scan_reset(&v->sc);
}

bool
value_scan_feed(struct value_scan *v, const char *b, size_t n)
{
	return scan_feed(&v->sc, b, n);
}

bool
value_scan_finish(struct value_scan *v)
{
	return scan_finish(&v->sc);
}

const char *
value_scan_why(const struct value_scan *v)
{
	return v->sc.bad ? v->sc.why : NULL;
}

void
value_scan_free(struct value_scan *v)
{
	if (v == NULL)
		return;
	scan_reset(&v->sc);
	free(v);
}

/* One page of the listing, read as it streams. */
struct page {
	struct scan sc;
	long long no;        /* the page's number: what seen maps an id to */
	size_t n, fresh;     /* its elements, and those first seen in it */
	size_t total;        /* indicators handed over so far */
	long long max;       /* more is refused */
	struct strset *seen; /* id -> the page it was first seen in */
	mde_list_fn fn;
	void *ctx;
};

static bool
page_item(void *ctx, json_t *ind, char *why, size_t whysz)
{
	struct page *p = ctx;
	p->n++;
	char idb[32];
	const char *ids = mde_id(ind, idb);
	if (ids == NULL)
		return true;
	size_t len = strlen(ids);
	int first = strset_get(p->seen, ids, len);
	if (first >= 0) {
		/* A list that shifts under paging may repeat one; a page tried
		 * again hands over what its first try did. */
		p->fresh += first == (int)p->no;
		return true;
	}
	strset_add(p->seen, ids, len, (int)p->no);
	p->fresh++;
	if ((long long)++p->total > p->max) {
		snprintf(why, whysz,
			 "list: MDE listed more than %lld indicators, past any tenant's cap; not paging further",
			 p->max);
		return false;
	}
	if (ids == idb) /* every id comes out as text */
		json_object_set_new(ind, "id", json_string(idb));
	return p->fn(p->ctx, ind, why, whysz);
}

static void
page_reset(void *ctx)
{
	struct page *p = ctx;
	scan_reset(&p->sc);
	p->n = p->fresh = 0;
}

static bool
page_feed(void *ctx, const char *b, size_t n)
{
	struct page *p = ctx;
	return scan_feed(&p->sc, b, n);
}

enum err
mde_list_each(struct mde *m, mde_list_fn fn, void *ctx, char *why, size_t whysz)
{
	struct page p = {.sc = {.on_item = page_item, .of = "indicators"},
			 .max = mde_list_max(m),
			 .seen = strset_new(),
			 .fn = fn,
			 .ctx = ctx};
	p.sc.ctx = &p;
	struct http_stream hs = {page_reset, page_feed, &p};
	int size = mde_list_page(m);
	enum err e = ERR_OK;
	for (long long skip = 0;; skip += size, p.no++) {
		char path[96];
		long status;
		snprintf(path, sizeof(path), "/api/indicators?$top=%d&$skip=%lld", size, skip);
		e = mde_call_stream(m, MDE_EP_LIST, path, &hs, &status, why, whysz);
		if (e == ERR_HTTP && status == 404) {
			/* Nothing (more) to list: some tenants answer an empty
			 * page so (spec 9, empty-list). */
			e = ERR_OK;
			break;
		}
		if (e == ERR_OK && !scan_finish(&p.sc))
			e = ERR_PARSE;
		if (e == ERR_PARSE && p.sc.bad)
			snprintf(why, whysz, "GET %s: %s", path, p.sc.why);
		if (e != ERR_OK)
			break;
		if (p.n < (size_t)size)
			break;
		if (p.fresh == 0) {
			/* A full page of what we have: $skip is not honoured. */
			log_warn("list: the page at $skip=%lld repeats the last one; taking the %zu listed as all",
				 skip, p.total);
			break;
		}
	}
	page_reset(&p);
	strset_free(p.seen);
	return e;
}

static bool
append(void *ctx, json_t *ind, char *why, size_t whysz)
{
	(void)why, (void)whysz;
	json_array_append(ctx, ind);
	return true;
}

enum err
mde_list_all(struct mde *m, json_t **all, char *why, size_t whysz)
{
	*all = json_array();
	enum err e = mde_list_each(m, append, *all, why, whysz);
	if (e != ERR_OK) {
		json_decref(*all);
		*all = NULL;
	}
	return e;
}
