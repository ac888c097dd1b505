#include "sync.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "log.h"
#include "merge.h"
#include "metrics.h"
#include "output.h"
#include "strset.h"
#include "progress.h"
#include "signals.h"
#include "util.h"

#define BATCH 500     /* import and BatchDelete, spec 3.3 and 3.5 */
#define TITLE_MAX 100 /* spec section 8: longer is refused */
#define DESCRIPTION_MAX 1000
#define SHOW_PER_KIND 20 /* planned changes shown per kind without -v */

/* ---- the state, by (type, value) ---- */

struct srow {
	int type, action;
	char *value, *feeds;
	long long first_seen, gone_since;
};

struct state {
	struct srow *r;
	size_t n, cap;
	struct strset *idx; /* "type:value" -> row */
	struct strset *ids; /* MDE id iocsync recorded -> row (what it created) */
	size_t corrupt;     /* rows without a value: skipped, and said */
};

static size_t
tv(char *buf, size_t sz, int t, const char *v)
{
	int n = snprintf(buf, sz, "%d:%s", t, v);
	return n < 0 ? 0 : (size_t)n < sz ? (size_t)n : sz - 1;
}

static void
state_row(void *ctx, const struct store_ind *x)
{
	struct state *s = ctx;
	char key[LIMIT_VALUE_BYTES + 16];
	/* A corrupt row (no value) is skipped: the list decides then. */
	if (x->value == NULL) {
		s->corrupt++;
		return;
	}
	size_t kl = tv(key, sizeof(key), x->type, x->value);
	int at = strset_get(s->idx, key, kl);
	if (at >= 0) {
		struct srow *r = &s->r[at];
		if (x->first_seen < r->first_seen)
			r->first_seen = x->first_seen;
	} else {
		xgrow((void **)&s->r, &s->cap, s->n + 1, sizeof(*s->r));
		s->r[s->n] =
			(struct srow){x->type,       x->action,    xstrdup(x->value), xstrdup(x->feeds ? x->feeds : ""),
				      x->first_seen, x->gone_since};
		at = (int)s->n++;
		strset_add(s->idx, key, kl, at);
	}
	if (x->mde_id && *x->mde_id)
		strset_add(s->ids, x->mde_id, strlen(x->mde_id), at);
}

static void
state_load(struct store *st, struct state *s)
{
	*s = (struct state){.idx = strset_new(), .ids = strset_new()};
	if (store_ind_each(st, state_row, s) != ERR_OK)
		log_warn("state: cannot read the indicators table");
	if (s->corrupt)
		log_warn(
			"state: %zu rows of the indicators table have no value: ignored (what MDE lists decides, and "
			"this run records it again)",
			s->corrupt);
}

/* Did iocsync record MDE id `id` for (t, value) when it created it? */
static bool
state_made(const struct state *s, const char *id, int t, const char *value)
{
	int at = id ? strset_get(s->ids, id, strlen(id)) : -1;
	return at >= 0 && s->r[at].type == t && strcmp(s->r[at].value, value) == 0;
}

static const struct srow *
state_get(const struct state *s, int t, const char *v)
{
	char key[LIMIT_VALUE_BYTES + 16];
	int at = strset_get(s->idx, key, tv(key, sizeof(key), t, v));
	return at >= 0 ? &s->r[at] : NULL;
}

static const char *
state_feeds(void *ctx, enum ioc_type t, const char *v, long long *gone)
{
	const struct srow *r = state_get(ctx, (int)t, v);
	*gone = r ? r->gone_since : 0;
	return r ? r->feeds : NULL;
}

static void
state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->r[i].value), free(s->r[i].feeds);
	free(s->r);
	strset_free(s->idx);
	strset_free(s->ids);
}

/* ---- the desired set ---- */

/* Expands {feed} {value} {type} {action} {name} {description} and cuts
 * to max bytes at a character boundary. */
static char *
render(const char *tpl, const struct feed_cfg *f, const struct want *it, size_t max)
{
	struct strbuf sb = {0};
	for (const char *p = tpl; *p; p++) {
		const char *e;
		if (*p == '{' && (e = strchr(p, '}')) != NULL) {
			size_t n = (size_t)(e - p - 1);
			const char *v = NULL;
			if (n == 4 && memcmp(p + 1, "feed", 4) == 0)
				v = f->name;
			else if (n == 5 && memcmp(p + 1, "value", 5) == 0)
				v = it->value;
			else if (n == 4 && memcmp(p + 1, "type", 4) == 0)
				v = ioc_type_name(it->type);
			else if (n == 6 && memcmp(p + 1, "action", 6) == 0)
				v = ioc_action_name(f->action);
			else if (n == 4 && memcmp(p + 1, "name", 4) == 0)
				v = it->item_title ? it->item_title : f->name;
			else if (n == 11 && memcmp(p + 1, "description", 11) == 0)
				v = it->item_desc ? it->item_desc : "";
			if (v) {
				sb_adds(&sb, v);
				p = e;
				continue;
			}
		}
		sb_addc(&sb, *p);
	}
	if (sb.buf == NULL)
		sb_add(&sb, "", 0);
	if (sb.len > max) {
		size_t n = max;
		while (n > 0 && ((unsigned char)sb.buf[n] & 0xc0) == 0x80)
			n--;
		sb.buf[n] = '\0';
		sb.len = n;
	}
	/* MDE refuses values with white space at either end. */
	while (sb.len > 0 && is_space((unsigned char)sb.buf[sb.len - 1]))
		sb.buf[--sb.len] = '\0';
	return sb.buf;
}

void
sync_want_render(struct want *w)
{
	if (w->title == NULL)
		w->title = render(w->feed->title, w->feed, w, TITLE_MAX);
	if (w->description == NULL)
		w->description = render(w->feed->description, w->feed, w, DESCRIPTION_MAX);
}

static uint64_t
want_hash(struct want *w)
{
	const struct feed_cfg *f = w->feed;
	sync_want_render(w);
	const char *edu =
		w->type == IOC_URL && (w->action == ACT_BLOCK || w->action == ACT_WARN) ? f->educate_url : NULL;
	return plan_attr_hash((int)w->action, (int)w->severity, w->title, w->description, f->recommended_actions,
			      (const char *const *)f->device_groups, f->ndevice_groups, f->generate_alert, edu);
}

static struct want *
build_wants(const struct config *c, struct merge *m, const struct state *s, long long now, size_t *nw)
{
	size_t n = merge_count(m);
	struct want *w = xcalloc(n ? n : 1, sizeof(*w));
	for (size_t i = 0; i < n; i++) {
		struct merge_item it;
		merge_get(m, i, &it);
		const struct feed_cfg *f = &c->feeds[it.feed];
		struct want *x = &w[i];
		x->type = it.type;
		x->value = xstrndup(it.value, it.len);
		x->action = f->action;
		x->severity = f->severity;
		x->priority = f->priority;
		x->feed = f;
		/* The title and description are rendered only for what is sent
		 * or compared: most of a big feed never fits under the cap. */
		x->item_title = it.title ? xstrdup(it.title) : NULL;
		x->item_desc = it.description ? xstrdup(it.description) : NULL;
		x->expire_at = now + f->expire_after_s;
		if (it.expire_at > 0 && it.expire_at < x->expire_at)
			x->expire_at = it.expire_at;
		const struct srow *r = state_get(s, (int)x->type, x->value);
		x->first_seen = r && r->first_seen ? r->first_seen : now;
		/* The feeds that list it, each once, in configuration order. */
		size_t ns;
		const struct merge_src *src = merge_sources(m, i, &ns);
		struct strbuf fb = {0};
		uint32_t last = UINT32_MAX;
		for (size_t k = 0; k < ns; k++) {
			if (src[k].feed == last)
				continue;
			last = src[k].feed;
			char needle[300];
			snprintf(needle, sizeof(needle), ",%s,", c->feeds[last].name);
			struct strbuf probe = {0};
			sb_addf(&probe, ",%s,", fb.buf ? fb.buf : "");
			if (strstr(probe.buf, needle) == NULL)
				sb_addf(&fb, "%s%s", fb.len ? "," : "", c->feeds[last].name);
			sb_free(&probe);
		}
		if (fb.buf && strcmp(fb.buf, f->name) != 0) {
			x->feeds = fb.buf;
			x->feeds_owned = true;
		} else {
			sb_free(&fb);
			x->feeds = f->name;
		}
	}
	*nw = n;
	return w;
}

/* The attribute hash of the wants iocsync holds in MDE, the only ones
 * the plan compares (an owned indicator of the same type and value). */
static void
hash_held_wants(struct want *w, size_t nw, const struct have *h, size_t nh)
{
	struct strset *held = strset_new();
	char key[LIMIT_VALUE_BYTES + 16];
	for (size_t j = 0; j < nh; j++)
		if (h[j].owned)
			strset_add(held, key, tv(key, sizeof(key), (int)h[j].type, h[j].value), 1);
	for (size_t i = 0; nh && i < nw; i++)
		if (strset_get(held, key, tv(key, sizeof(key), (int)w[i].type, w[i].value)) >= 0)
			w[i].attrs = want_hash(&w[i]);
	strset_free(held);
}

void
wants_free(struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].value), free(w[i].title), free(w[i].description);
		free(w[i].item_title), free(w[i].item_desc);
		if (w[i].feeds_owned)
			free(w[i].feeds);
	}
	free(w);
}

/* ---- what MDE holds ---- */

static long long
parse_time(const char *s)
{
	struct tm tm = {0};
	if (s == NULL ||
	    sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) !=
		    6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

void
format_time(long long t, char *buf, size_t sz)
{
	time_t tt = (time_t)t;
	struct tm tm;
	gmtime_r(&tt, &tm);
	strftime(buf, sz, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static int
type_from_name(const char *s)
{
	for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
		if (s && strcmp(s, ioc_type_name((enum ioc_type)t)) == 0)
			return t;
	return IOC_NONE;
}

static int
action_from_name(const char *s)
{
	for (int a = 0; a < ACT__COUNT; a++)
		if (s && strcmp(s, ioc_action_name((enum ioc_action)a)) == 0)
			return a;
	return -1;
}

static int
severity_from_name(const char *s)
{
	for (int v = 0; v < SEV__COUNT; v++)
		if (s && strcmp(s, severity_name((enum severity)v)) == 0)
			return v;
	return SEV_INFORMATIONAL;
}

/* What MDE holds, compared as iocsync compares its own: each value in
 * its canonical form (MDE may normalise its own way, spec 9 normalize),
 * and owned when iocsync recorded its id or it says it is iocsync's
 * (mde_owned). */
static struct have *
haves_from_list(const struct mde *m, const json_t *list, const struct state *s, size_t *n)
{
	size_t cnt = json_array_size(list), k = 0;
	struct have *h = xcalloc(cnt ? cnt : 1, sizeof(*h));
	char *canon = xmalloc(LIMIT_VALUE_BYTES + 32);
	for (size_t i = 0; i < cnt; i++) {
		const json_t *x = json_array_get(list, i);
		if (!json_is_object(x))
			continue;
		char idb[32];
		const char *ids = mde_id(x, idb);
		const char *val = json_string_value(json_object_get(x, "indicatorValue"));
		if (ids == NULL || val == NULL)
			continue;
		struct have *y = &h[k++];
		y->id = xstrdup(ids);
		y->type = (enum ioc_type)type_from_name(json_string_value(json_object_get(x, "indicatorType")));
		if (ioc_canon_as(y->type, val, canon, LIMIT_VALUE_BYTES + 32)) {
			y->value = xstrdup(canon);
		} else {
			y->value = xstrdup(val);
			if (y->type >= IOC_MD5) /* hashes compare in lower case, whatever else they hold */
				for (char *p = y->value; *p; p++)
					*p = (char)lc((unsigned char)*p);
		}
		y->action = action_from_name(json_string_value(json_object_get(x, "action")));
		y->owned = state_made(s, y->id, (int)y->type, y->value) || mde_owned(m, x);
		const char *who = json_string_value(json_object_get(x, "createdByDisplayName"));
		if (who == NULL || *who == '\0')
			who = json_string_value(json_object_get(x, "createdBy"));
		y->owner = xstrdup(who ? who : "");
		y->expire_at = parse_time(json_string_value(json_object_get(x, "expirationTime")));
		json_t *g = json_object_get(x, "rbacGroupNames");
		size_t ng = json_array_size(g);
		const char **groups = xcalloc(ng ? ng : 1, sizeof(*groups));
		size_t gi = 0;
		for (size_t j = 0; j < ng; j++)
			if (json_is_string(json_array_get(g, j)))
				groups[gi++] = json_string_value(json_array_get(g, j));
		y->attrs =
			plan_attr_hash(y->action, severity_from_name(json_string_value(json_object_get(x, "severity"))),
				       json_string_value(json_object_get(x, "title")),
				       json_string_value(json_object_get(x, "description")),
				       json_string_value(json_object_get(x, "recommendedActions")), groups, gi,
				       json_is_true(json_object_get(x, "generateAlert")),
				       json_string_value(json_object_get(x, "educateUrl")));
		free(groups);
	}
	free(canon);
	*n = k;
	return h;
}

static void
haves_free(struct have *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].id), free(h[i].value), free(h[i].owner);
	free(h);
}

/* ---- apply ---- */

/* One indicator as sent to MDE. Every field iocsync sets is sent, an
 * unset one as null, so that what MDE does with an omitted field (keep
 * it or reset it, spec 9 omitted-fields) never matters. */
static json_t *
import_item(const struct config *c, struct want *w)
{
	const struct feed_cfg *f = w->feed;
	char exp[32];
	format_time(w->expire_at, exp, sizeof(exp));
	sync_want_render(w);
	json_t *groups = json_array();
	for (size_t g = 0; g < f->ndevice_groups; g++)
		json_array_append_new(groups, json_string(f->device_groups[g]));
	bool edu = f->educate_url && w->type == IOC_URL && (w->action == ACT_BLOCK || w->action == ACT_WARN);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o, s:o, s:o}", "indicatorValue", w->value,
			 "indicatorType", ioc_type_name(w->type), "action", ioc_action_name(w->action), "title",
			 w->title, "description", w->description, "application", c->application, "expirationTime", exp,
			 "severity", severity_name(w->severity), "generateAlert", f->generate_alert, "rbacGroupNames",
			 groups, "recommendedActions",
			 f->recommended_actions ? json_string(f->recommended_actions) : json_null(), "educateUrl",
			 edu ? json_string(f->educate_url) : json_null());
}

struct run {
	const struct config *c;
	struct mde *m;
	struct store *st;
	long long id;
	int seq;
	struct want *w;
	size_t nw;
	struct have *h;
	size_t nh;
	const struct plan *p;
	char **want_id;  /* [nw] the MDE id after an import */
	bool *have_gone; /* [nh] deleted, or updated in place to another action */
	size_t done[OP__COUNT];
	size_t failed;
	json_t *failures;
	json_t *refused;    /* MDE's error code -> values it refused this run */
	size_t split_calls; /* extra imports spent isolating refused items */
	bool learn_owner;   /* createdBy not known yet: read one back after an import */
	bool aborted;
	bool stopped; /* by a signal, between batches */
	char why[512];
};

static void
journal(struct run *r, int seq, const char *step, size_t items, const char *state, const char *detail)
{
	if (store_journal(r->st, r->id, seq, step, (long long)items, state, detail, (long long)time(NULL)) != ERR_OK)
		log_warn("state: cannot record step %s", step);
}

static void
fail_item(struct run *r, const char *op, enum ioc_type t, const char *value, const char *reason)
{
	r->failed++;
	if (json_array_size(r->failures) < 1000)
		json_array_append_new(r->failures,
				      json_pack("{s:s, s:s, s:s, s:s}", "op", op, "type", ioc_type_name(t), "value",
						value, "reason", reason));
	char vb[200], rb[400];
	log_warn("%s %s %s failed: %s", op, ioc_type_name(t), echo_str(value, strlen(value), vb, sizeof(vb)),
		 echo_str(reason, strlen(reason), rb, sizeof(rb)));
}

/* MDE's error code in a reason: "InvalidInput: ..." (an item's
 * failureReason) or "... HTTP 400 InvalidInput: ..." (a refused
 * request). Letters and digits only, at most 40; "unknown" otherwise. */
static void
reason_code(const char *reason, char *out, size_t outsz)
{
	const char *p = reason ? strstr(reason, "HTTP 400 ") : NULL;
	p = p ? p + 9 : reason ? reason : "";
	size_t n = 0;
	while (n + 1 < outsz && n < 40 && is_alnum((unsigned char)p[n]))
		n++;
	if (n == 0 || (p[n] != ':' && p[n] != '\0'))
		snprintf(out, outsz, "unknown");
	else
		snprintf(out, outsz, "%.*s", (int)n, p);
}

/* A value MDE refused (an item failed for a reason that will not pass,
 * or a request of one item refused whole): named with MDE's reason in
 * the output and the log, and counted by code for the metrics. */
static void
refuse_item(struct run *r, const struct op *o, const char *reason)
{
	const struct want *w = &r->w[o->want];
	char code[48];
	reason_code(reason, code, sizeof(code));
	fail_item(r, op_name(o->kind), w->type, w->value, reason);
	json_object_set_new(json_array_get(r->failures, json_array_size(r->failures) - 1), "code", json_string(code));
	json_t *by = json_object_get(r->refused, code);
	if (by == NULL && json_object_size(r->refused) < 20)
		json_object_set_new(r->refused, code, by = json_array());
	if (by && json_array_size(by) < 100)
		json_array_append_new(by,
				      json_pack("{s:s, s:s, s:s}", "type", ioc_type_name(w->type), "value", w->value,
						"feed", w->feed->name));
}

/* A stop was asked for: what was not sent is not a failure; the next run
 * lists MDE again and does the rest. */
static void
stopped(struct run *r)
{
	if (r->stopped)
		return;
	r->stopped = r->aborted = true;
	snprintf(r->why, sizeof(r->why), "stopped on %s after the batch in flight; the next run does the rest",
		 stop_signal_name());
}

size_t
delete_ids(struct mde *m, struct store *st, long long run, int *seq, const char *const *ids, size_t n, bool *gone,
	   char *why, size_t whysz)
{
	size_t left = 0;
	for (size_t b = 0; b < n; b += BATCH) {
		size_t k = n - b < BATCH ? n - b : BATCH;
		if (stop_requested()) {
			set_why(why, whysz, "stopped on %s before this batch", stop_signal_name());
			left += n - b;
			break;
		}
		progress_step("delete batch", b / BATCH + 1, (n + BATCH - 1) / BATCH);
		int s = ++*seq;
		if (st)
			store_journal(st, run, s, "batchdelete", (long long)k, "sent", NULL, (long long)time(NULL));
		long status = 0;
		enum err e = mde_batch_delete(m, ids + b, k, &status, why, whysz);
		if (e == ERR_HTTP && status == 404) {
			/* Some id is gone already and nothing was deleted
			 * (spec 8): list again, retry with those that remain. */
			json_t *all;
			char w2[256];
			if (mde_list_all(m, &all, w2, sizeof(w2)) == ERR_OK) {
				struct strset *live = strset_new();
				size_t i;
				json_t *x;
				json_array_foreach(all, i, x) {
					char idb[32];
					const char *s2 = mde_id(x, idb);
					if (s2)
						strset_add(live, s2, strlen(s2), 1);
				}
				json_decref(all);
				const char **rest = xcalloc(k, sizeof(*rest));
				size_t nr = 0;
				for (size_t i2 = 0; i2 < k; i2++) {
					if (strset_get(live, ids[b + i2], strlen(ids[b + i2])) >= 0)
						rest[nr++] = ids[b + i2];
					else if (gone)
						gone[b + i2] = true;
				}
				e = nr ? mde_batch_delete(m, rest, nr, &status, why, whysz) : ERR_OK;
				if (e == ERR_OK && gone)
					for (size_t i2 = 0; i2 < k; i2++)
						gone[b + i2] = true;
				if (e != ERR_OK)
					left += nr;
				free(rest);
				strset_free(live);
			} else {
				set_why(why, whysz, "%s", w2);
				left += k;
			}
		} else if (e == ERR_OK) {
			if (gone)
				for (size_t i2 = 0; i2 < k; i2++)
					gone[b + i2] = true;
		} else {
			left += k;
		}
		if (st)
			store_journal(st, run, s, "batchdelete", (long long)k, e == ERR_OK ? "done" : "failed",
				      e == ERR_OK ? NULL : why, (long long)time(NULL));
		if (e == ERR_NET)
			break; /* MDE is out of reach: stop here, the next run resumes */
	}
	return left;
}

/* Deletes the have indices in hv. */
static void
apply_deletes(struct run *r, const size_t *hv, size_t n, const char *op)
{
	if (n == 0 || r->aborted)
		return;
	const char **ids = xcalloc(n, sizeof(*ids));
	bool *gone = xcalloc(n, sizeof(*gone));
	for (size_t i = 0; i < n; i++)
		ids[i] = r->h[hv[i]].id;
	char why[512] = "";
	delete_ids(r->m, r->st, r->id, &r->seq, ids, n, gone, why, sizeof(why));
	for (size_t i = 0; i < n; i++) {
		if (gone[i]) {
			r->have_gone[hv[i]] = true;
			r->done[OP_DELETE]++;
		} else if (stop_requested()) {
			stopped(r);
		} else {
			fail_item(r, op, r->h[hv[i]].type, r->h[hv[i]].value, why[0] ? why : "not deleted");
		}
	}
	free(ids);
	free(gone);
}

static char *
owner_key(const struct mde *m)
{
	return xasprintf("created_by:%s", mde_client_id(m));
}

void
sync_load_owner(struct mde *m, struct store *st)
{
	char *okey = owner_key(m), *learned = store_meta_get(st, okey);
	mde_set_created_by(m, learned);
	free(okey);
	free(learned);
}

/* MDE was seen to put `by` in createdBy for an indicator this app
 * created: from now on that marks iocsync's own, in this run and the
 * next (kept in the state). */
static void
owner_learned(struct mde *m, struct store *st, const char *by)
{
	const char *cur = mde_created_by(m);
	if (cur && strcasecmp(cur, by) == 0)
		return;
	char bb[120];
	if (strcasecmp(by, mde_client_id(m)) != 0)
		log_info(
			"ownership: MDE puts %s in createdBy for this app, not its client id; iocsync owns "
			"what carries it",
			echo_str(by, strlen(by), bb, sizeof(bb)));
	mde_set_created_by(m, by);
	char *k = owner_key(m);
	if (store_meta_set(st, k, by) != ERR_OK)
		log_warn("state: cannot keep what MDE puts in createdBy (it is learned again)");
	free(k);
}

/* Learns createdBy from a listed indicator whose id iocsync recorded
 * when it created it; false when none is listed. */
static bool
owner_from_list(struct mde *m, struct store *st, const json_t *list, const struct state *s)
{
	char *canon = xmalloc(LIMIT_VALUE_BYTES + 32);
	bool found = false;
	size_t i;
	json_t *x;
	json_array_foreach(list, i, x) {
		char idb[32];
		const char *id = mde_id(x, idb);
		const char *v = json_string_value(json_object_get(x, "indicatorValue"));
		const char *by = json_string_value(json_object_get(x, "createdBy"));
		int t = type_from_name(json_string_value(json_object_get(x, "indicatorType")));
		if (id == NULL || v == NULL || by == NULL || *by == '\0' || strset_get(s->ids, id, strlen(id)) < 0)
			continue;
		if (!ioc_canon_as((enum ioc_type)t, v, canon, LIMIT_VALUE_BYTES + 32) || !state_made(s, id, t, canon))
			continue;
		owner_learned(m, st, by);
		found = true;
		break;
	}
	free(canon);
	return found;
}

/* What MDE puts in createdBy for this app, read back from an indicator
 * it has just created (spec 9, created-by), and kept in the state. The
 * filter names the value as MDE returned it (its own normalised form). */
static void
learn_owner(struct run *r, const char *value, const char *id)
{
	r->learn_owner = false;
	struct strbuf f = {0};
	sb_adds(&f, "indicatorValue eq '");
	for (const char *p = value; *p; p++) {
		if (*p == '\'')
			sb_addc(&f, '\''); /* OData doubles a quote in a string */
		sb_addc(&f, *p);
	}
	sb_adds(&f, "'");
	char *esc = http_escape(f.buf);
	char *path = xasprintf("/api/indicators?$filter=%s&$top=100", esc);
	long status;
	json_t *out = NULL;
	char why[512];
	if (mde_call(r->m, MDE_EP_LIST, "GET", path, NULL, &status, &out, why, sizeof(why)) != ERR_OK) {
		log_warn("ownership: cannot read back indicator %s to learn what MDE puts in createdBy: %s", id, why);
	} else {
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(out, "value"), i, x) {
			char idb[32];
			const char *xid = mde_id(x, idb);
			const char *by = json_string_value(json_object_get(x, "createdBy"));
			if (xid && by && *by && strcmp(xid, id) == 0) {
				owner_learned(r->m, r->st, by);
				break;
			}
		}
	}
	json_decref(out);
	free(path);
	free(esc);
	sb_free(&f);
}

/* The ids MDE gave, into the state at once (a run killed later still
 * knows what it created). */
static void
record_ids(struct run *r, const size_t *todo, size_t k, long long now)
{
	struct store_ind *rows = xcalloc(k ? k : 1, sizeof(*rows));
	size_t n = 0;
	for (size_t i = 0; i < k; i++) {
		const struct want *w = &r->w[r->p->ops[todo[i]].want];
		const char *id = r->want_id[r->p->ops[todo[i]].want];
		if (id)
			rows[n++] = (struct store_ind){.type = w->type,
						       .action = w->action,
						       .value = w->value,
						       .mde_id = id,
						       .feeds = w->feeds,
						       .first_seen = w->first_seen,
						       .last_seen = now,
						       .expires_at = w->expire_at};
	}
	if (store_ind_add(r->st, rows, n) != ERR_OK)
		log_warn("state: cannot record the ids of an import batch (the run's end records them)");
	free(rows);
}

/*
 * One import call for todo[0..k) (indices into p->ops). A request MDE
 * refuses whole with a 400 may stand for one bad item (spec 9,
 * import-errors): it is split in halves until the refused items stand
 * alone, within LIMIT_IMPORT_SPLIT_CALLS extra calls a run, so the good
 * ones go through in the same run. Items that failed for a reason that
 * may pass go to again[] for the next round.
 */
static void
import_range(struct run *r, const size_t *todo, size_t k, int round, size_t *again, size_t *nagain)
{
	if (k == 0 || r->aborted)
		return;
	if (stop_requested()) {
		stopped(r);
		return;
	}
	json_t *items = json_array();
	for (size_t i = 0; i < k; i++)
		json_array_append_new(items, import_item(r->c, &r->w[r->p->ops[todo[i]].want]));
	int s = ++r->seq;
	journal(r, s, "import", k, "sent", NULL);
	json_t *res;
	long status = 0;
	char why[512];
	enum err e = mde_import(r->m, items, &res, &status, why, sizeof(why));
	json_decref(items);
	if (e == ERR_HTTP && status == 400) {
		journal(r, s, "import", k, "refused", why);
		if (k == 1) {
			refuse_item(r, &r->p->ops[todo[0]], why);
		} else if (r->split_calls + 2 <= LIMIT_IMPORT_SPLIT_CALLS) {
			r->split_calls += 2;
			log_info("import: MDE refused a batch of %zu whole (%s); splitting it to find the refused", k,
				 why);
			import_range(r, todo, k / 2, round, again, nagain);
			import_range(r, todo + k / 2, k - k / 2, round, again, nagain);
		} else {
			char reason[700];
			snprintf(reason, sizeof(reason),
				 "%s (refused with its batch of %zu; not split further: this "
				 "run's %d extra calls for that are spent, the next run goes on)",
				 why, k, LIMIT_IMPORT_SPLIT_CALLS);
			for (size_t i = 0; i < k; i++)
				refuse_item(r, &r->p->ops[todo[i]], reason);
		}
		return;
	}
	if (e != ERR_OK) {
		journal(r, s, "import", k, "failed", why);
		if (stop_requested()) { /* not done: the next run lists and converges */
			stopped(r);
			return;
		}
		if (e == ERR_NET || e == ERR_PARSE) {
			/* Out of reach, or an answer we cannot match to the
			 * items: stop; the next run lists MDE again and finishes
			 * the work. */
			r->aborted = true;
			snprintf(r->why, sizeof(r->why), "%s", why);
		}
		for (size_t i = 0; i < k; i++) {
			const struct op *o = &r->p->ops[todo[i]];
			fail_item(r, op_name(o->kind), r->w[o->want].type, r->w[o->want].value, why);
		}
		return;
	}
	const char *learn_value = NULL, *learn_id = NULL;
	char *canon = xmalloc(LIMIT_VALUE_BYTES + 32);
	for (size_t i = 0; i < k; i++) {
		const struct op *o = &r->p->ops[todo[i]];
		const struct want *w = &r->w[o->want];
		json_t *x = json_array_get(res, i);
		const char *ind = json_string_value(json_object_get(x, "indicator"));
		char idb[32];
		const char *id = mde_id(x, idb);
		/* Results come in input order (spec 8); one that names another
		 * value is not trusted. MDE may return the value in its own
		 * normal form (spec 9, normalize): compared canonically. */
		bool same = ind == NULL || strcasecmp(ind, w->value) == 0 ||
			(ioc_canon_as(w->type, ind, canon, LIMIT_VALUE_BYTES + 32) && strcmp(canon, w->value) == 0);
		if (!same) {
			fail_item(r, op_name(o->kind), w->type, w->value,
				  "the import result does not match the item (the next run lists again)");
		} else if (json_is_true(json_object_get(x, "isFailed")) || id == NULL) {
			const char *reason = json_string_value(json_object_get(x, "failureReason"));
			if (plan_item_retryable(reason) && round < 2)
				again[(*nagain)++] = todo[i];
			else
				refuse_item(r, o, reason ? reason : "failed without a reason");
		} else {
			free(r->want_id[o->want]);
			r->want_id[o->want] = xstrdup(id);
			r->done[o->kind]++;
			if (learn_value == NULL && ind && r->learn_owner) {
				learn_value = ind;
				learn_id = r->want_id[o->want];
			}
		}
	}
	free(canon);
	record_ids(r, todo, k, (long long)time(NULL));
	journal(r, s, "import", k, "done", NULL);
	if (learn_value)
		learn_owner(r, learn_value, learn_id);
	json_decref(res);
}

/* Imports the wants in ops (indices into p->ops) in batches of 500,
 * retrying items that failed for a reason that may pass. */
static void
apply_imports(struct run *r, const size_t *opv, size_t n)
{
	size_t *todo = xmalloc((n ? n : 1) * sizeof(*todo)), ntodo = n;
	memcpy(todo, opv, n * sizeof(*todo));
	for (int round = 0; round < 3 && ntodo > 0 && !r->aborted; round++) {
		size_t *again = xmalloc(ntodo * sizeof(*again)), nagain = 0;
		for (size_t b = 0; b < ntodo && !r->aborted; b += BATCH) {
			size_t k = ntodo - b < BATCH ? ntodo - b : BATCH;
			progress_step(round ? "import (retry) batch" : "import batch", b / BATCH + 1,
				      (ntodo + BATCH - 1) / BATCH);
			import_range(r, todo + b, k, round, again, &nagain);
		}
		if (nagain)
			log_info("import: %zu items failed for a reason that may pass; trying them again", nagain);
		free(todo);
		todo = again;
		ntodo = nagain;
	}
	for (size_t i = 0; i < ntodo && !r->stopped; i++) {
		const struct op *o = &r->p->ops[todo[i]];
		fail_item(r, op_name(o->kind), r->w[o->want].type, r->w[o->want].value, "still failing after retries");
	}
	free(todo);
}

static void
apply(struct run *r)
{
	const struct plan *p = r->p;
	size_t *early = xmalloc((p->n ? p->n : 1) * sizeof(size_t)), ne = 0;
	size_t *imp = xmalloc((p->n ? p->n : 1) * sizeof(size_t)), ni = 0;
	size_t *late = xmalloc((p->n ? p->n : 1) * sizeof(size_t)), nl = 0;
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		if (o->kind == OP_DELETE && !o->late)
			early[ne++] = o->have;
		else if (o->kind == OP_CREATE || o->kind == OP_UPDATE || o->kind == OP_RENEW || o->kind == OP_REPLACE)
			imp[ni++] = k;
	}
	/* Deletes first: they free room under the cap for what comes. */
	apply_deletes(r, early, ne, "delete");
	apply_imports(r, imp, ni);
	/* An old action goes only once its replacement exists, and only
	 * when it is another indicator: under an upsert key of (type,
	 * value), MDE changed the old one's action in place and gave its id
	 * back (spec 9, upsert-key); deleting it would unblock the value. */
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		const char *now_id = o->kind == OP_DELETE && o->late ? r->want_id[o->want] : NULL;
		if (now_id == NULL)
			continue;
		if (strcmp(now_id, r->h[o->have].id) != 0)
			late[nl++] = o->have;
		else
			r->have_gone[o->have] = true; /* it is the new one now */
	}
	size_t before = r->done[OP_DELETE];
	apply_deletes(r, late, nl, "replace");
	r->done[OP_DELETE] = before; /* counted as replacements */
	free(early);
	free(imp);
	free(late);
}

/* What iocsync owns after the run, into the state. */
static enum err
record(struct run *r, const struct state *s, long long now)
{
	struct store_ind *rows = xcalloc(r->nw + r->nh + 1, sizeof(*rows));
	size_t n = 0;
	struct strset *seen = strset_new();
	char key[LIMIT_VALUE_BYTES + 32];
	for (size_t i = 0; i < r->nw; i++) {
		if (r->want_id[i] == NULL)
			continue;
		const struct want *w = &r->w[i];
		int kl = snprintf(key, sizeof(key), "%d:%d:%s", w->type, w->action, w->value);
		strset_add(seen, key, (size_t)kl, 1);
		rows[n++] = (struct store_ind){.type = w->type,
					       .action = w->action,
					       .value = w->value,
					       .mde_id = r->want_id[i],
					       .feeds = w->feeds,
					       .first_seen = w->first_seen,
					       .last_seen = now,
					       .expires_at = w->expire_at};
	}
	/* Wanted (type, value, action) -> want index, for the kept ones. */
	struct strset *wanted = strset_new();
	for (size_t i = 0; i < r->nw; i++) {
		int kl = snprintf(key, sizeof(key), "%d:%d:%s", r->w[i].type, r->w[i].action, r->w[i].value);
		strset_add(wanted, key, (size_t)kl, (int)i);
	}
	for (size_t j = 0; j < r->nh; j++) {
		const struct have *h = &r->h[j];
		if (!h->owned || r->have_gone[j] || h->action < 0 || h->type == IOC_NONE)
			continue;
		int kl = snprintf(key, sizeof(key), "%d:%d:%s", h->type, h->action, h->value);
		if (!strset_add(seen, key, (size_t)kl, 1))
			continue;
		int wi = strset_get(wanted, key, (size_t)kl);
		const struct srow *sr = state_get(s, h->type, h->value);
		struct store_ind x = {.type = h->type,
				      .action = h->action,
				      .value = h->value,
				      .mde_id = h->id,
				      .expires_at = h->expire_at,
				      .last_seen = now};
		if (wi >= 0) {
			x.feeds = r->w[wi].feeds;
			x.first_seen = r->w[wi].first_seen;
		} else {
			x.feeds = sr ? sr->feeds : "";
			x.first_seen = sr && sr->first_seen ? sr->first_seen : now;
			x.gone_since = sr && sr->gone_since ? sr->gone_since : now;
		}
		rows[n++] = x;
	}
	enum err e = store_ind_replace(r->st, rows, n);
	strset_free(seen);
	strset_free(wanted);
	free(rows);
	return e;
}

/* One change, logged per value (a text line, or {"change": ...} in a
 * JSON log) and kept for the value's history. */
static void
change(struct run *r, struct store_change *v, size_t *n, const char *op, enum ioc_type t, const char *value, int action,
       const char *feed, const char *reason, const char *id, long long now)
{
	v[(*n)++] = (struct store_change){.type = (int)t,
					  .value = value,
					  .at = now,
					  .op = op,
					  .action = action,
					  .feed = feed,
					  .reason = reason,
					  .mde_id = id};
	const char *an = action >= 0 ? ioc_action_name((enum ioc_action)action) : "unknown";
	json_t *j = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "change", "op", op, "type", ioc_type_name(t),
			      "value", value, "action", an, "feed", feed ? feed : "", "reason", reason ? reason : "");
	if (j && id)
		json_object_set_new(json_object_get(j, "change"), "id", json_string(id));
	log_fields(LOG_INFO, j, "change: %s %s %s %s (feed %s: %s)%s%s", op, ioc_type_name(t), value, an,
		   feed && *feed ? feed : "-", reason ? reason : "", id ? " id " : "", id ? id : "");
	json_decref(j);
	(void)r;
}

/* What this run did to each value (and held back, and failed), into
 * the log and the history; what MDE refused comes from the failures. */
static void
record_changes(struct run *r, long long now)
{
	const struct plan *p = r->p;
	struct store_change *v = xcalloc(p->n + json_array_size(r->failures) + 1, sizeof(*v));
	size_t n = 0;
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		const struct want *w = o->want != SIZE_MAX ? &r->w[o->want] : NULL;
		const struct have *h = o->have != SIZE_MAX ? &r->h[o->have] : NULL;
		switch (o->kind) {
		case OP_CREATE:
		case OP_UPDATE:
		case OP_RENEW:
		case OP_REPLACE:
			if (r->want_id && r->want_id[o->want])
				change(r, v, &n, op_name(o->kind), w->type, w->value, (int)w->action, w->feeds, o->why,
				       r->want_id[o->want], now);
			break;
		case OP_DELETE:
			if (!o->late && r->have_gone && r->have_gone[o->have])
				change(r, v, &n, "delete", h->type, h->value, h->action, w ? w->feeds : NULL, o->why,
				       h->id, now);
			break;
		case OP_HOLD: change(r, v, &n, "hold", h->type, h->value, h->action, NULL, o->why, h->id, now); break;
		default: break;
		}
	}
	size_t i;
	json_t *f;
	json_array_foreach(r->failures, i, f) {
		int t = type_from_name(json_string_value(json_object_get(f, "type")));
		const char *val = json_string_value(json_object_get(f, "value"));
		if (val)
			change(r, v, &n, "failed", (enum ioc_type)t, val, -1, NULL,
			       json_string_value(json_object_get(f, "reason")), NULL, now);
	}
	if (store_history_add(r->st, v, n) != ERR_OK)
		log_warn("state: cannot keep the history of this run's changes");
	free(v);
}

/* ---- output ---- */

/* A conflict where another owner's Allow (or Audit) stands over a
 * value a feed blocks or warns about: MDE takes Allow over Warn over
 * Block (spec 4), so the feed's block does nothing there. */
static bool
overrides(const struct run *r, const struct op *o)
{
	const struct have *h = &r->h[o->have];
	enum ioc_action ours = r->w[o->want].action;
	return (h->action == ACT_ALLOWED || h->action == ACT_AUDIT) && ours != ACT_ALLOWED && ours != ACT_AUDIT;
}

/* Each override is a warning, in the log and on the terminal (the first
 * 20, then a count). */
static void
warn_overrides(const struct run *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->p->n; i++) {
		const struct op *o = &r->p->ops[i];
		if (o->kind != OP_CONFLICT || o->have == SIZE_MAX || !overrides(r, o))
			continue;
		if (n++ < 20) {
			const struct have *h = &r->h[o->have];
			const struct want *w = &r->w[o->want];
			char vb[200], ob[120];
			log_warn("%s %s: %s by %s overrides feed %s's %s: the value is not blocked (indicator %s)",
				 ioc_type_name(w->type), echo_str(w->value, strlen(w->value), vb, sizeof(vb)),
				 ioc_action_name((enum ioc_action)h->action),
				 echo_str(h->owner, strlen(h->owner), ob, sizeof(ob)), w->feed->name,
				 ioc_action_name(w->action), h->id);
		}
	}
	if (n > 20)
		log_warn("... and %zu more values another owner's Allow or Audit overrides", n - 20);
}

static json_t *
op_json(const struct run *r, const struct op *o)
{
	json_t *j = json_pack("{s:s, s:s}", "op", op_name(o->kind), "why", o->why);
	if (o->want != SIZE_MAX) {
		const struct want *w = &r->w[o->want];
		json_object_set_new(j, "type", json_string(ioc_type_name(w->type)));
		json_object_set_new(j, "value", json_string(w->value));
		json_object_set_new(j, "action", json_string(ioc_action_name(w->action)));
		json_object_set_new(j, "feed", json_string(w->feed->name));
	} else {
		const struct have *h = &r->h[o->have];
		json_object_set_new(j, "type", json_string(h->type ? ioc_type_name(h->type) : "unknown"));
		json_object_set_new(j, "value", json_string(h->value));
		json_object_set_new(
			j, "action",
			json_string(h->action >= 0 ? ioc_action_name((enum ioc_action)h->action) : "unknown"));
	}
	if (o->have != SIZE_MAX)
		json_object_set_new(j, "id", json_string(r->h[o->have].id));
	if (o->kind == OP_CONFLICT && o->have != SIZE_MAX) {
		const struct have *h = &r->h[o->have];
		json_object_set_new(j, "owner", json_string(h->owner));
		json_object_set_new(
			j, "their_action",
			json_string(h->action >= 0 ? ioc_action_name((enum ioc_action)h->action) : "unknown"));
		if (overrides(r, o))
			json_object_set_new(j, "overrides", json_true());
	}
	return j;
}

static json_t *
counts_json(const size_t *count)
{
	json_t *j = json_object();
	for (int k = 0; k < OP__COUNT; k++)
		json_object_set_new(j, op_name((enum op_kind)k), json_integer((json_int_t)count[k]));
	return j;
}

static json_t *
calls_json(const struct mde *m)
{
	const struct mde_stats *s = mde_stats(m);
	json_t *calls = json_object(), *retries = json_object();
	for (int e = 0; e < MDE_EP__COUNT; e++) {
		if (s->calls[e])
			json_object_set_new(calls, mde_ep_name((enum mde_ep)e), json_integer((json_int_t)s->calls[e]));
		if (s->retries[e])
			json_object_set_new(retries, mde_ep_name((enum mde_ep)e),
					    json_integer((json_int_t)s->retries[e]));
	}
	json_t *status = json_object();
	for (int e = 0; e < MDE_EP__COUNT; e++) {
		json_t *byc = json_object();
		for (int k = 0; k < MDE_CLASS__COUNT; k++)
			if (s->by_class[e][k])
				json_object_set_new(byc, mde_class_name((enum mde_class)k),
						    json_integer((json_int_t)s->by_class[e][k]));
		if (json_object_size(byc))
			json_object_set_new(status, mde_ep_name((enum mde_ep)e), byc);
		else
			json_decref(byc);
	}
	return json_pack("{s:o, s:o, s:o, s:f}", "calls", calls, "retries", retries, "status", status, "waited_s",
			 s->waited_s);
}

static void
print_calls(FILE *fp, const struct mde *m)
{
	const struct mde_stats *s = mde_stats(m);
	unsigned long api = 0, retries = 0, throttled = 0;
	fprintf(fp, "calls:");
	for (int e = 0; e < MDE_EP__COUNT; e++) {
		if (s->calls[e])
			fprintf(fp, " %s %lu", mde_ep_name((enum mde_ep)e), s->calls[e]);
		if (e != MDE_EP_TOKEN)
			api += s->calls[e];
		retries += s->retries[e];
		throttled += s->throttled[e];
	}
	fprintf(fp, " (API %lu, retries %lu, 429s %lu, waited %.0f s)\n", api, retries, throttled, s->waited_s);
}

static void
print_plan(FILE *fp, const struct run *r, bool verbose)
{
	const struct plan *p = r->p;
	fprintf(fp, "MDE: %zu indicators: %zu iocsync's, %zu others'; cap %lld, reserve %lld: room for %lld\n",
		p->owned + p->others, p->owned, p->others, r->c->cap, r->c->reserve, p->room);
	fprintf(fp, "plan:");
	for (int k = 0; k < OP__COUNT; k++)
		fprintf(fp, " %s %zu%s", op_name((enum op_kind)k), k == OP_DELETE ? p->deletes : p->count[k],
			k + 1 < OP__COUNT ? "," : "\n");
	for (int k = 0; k < OP_KEEP; k++) {
		size_t shown = 0, total = 0;
		for (size_t i = 0; i < p->n; i++) {
			const struct op *o = &p->ops[i];
			if ((int)o->kind != k)
				continue;
			total++;
			if (!verbose && shown >= SHOW_PER_KIND)
				continue;
			shown++;
			json_t *j = op_json(r, o);
			char why[300];
			if (o->kind == OP_CONFLICT && o->have != SIZE_MAX)
				snprintf(why, sizeof(why), "%s by %s%s",
					 json_string_value(json_object_get(j, "their_action")),
					 json_string_value(json_object_get(j, "owner")),
					 json_object_get(j, "overrides") ? ": it overrides the feed's block" : "");
			else
				snprintf(why, sizeof(why), "%s", o->why);
			fprintf(fp, "  %-11s %-21s %-17s %s%s%s (%s)\n", op_name(o->kind),
				json_string_value(json_object_get(j, "type")),
				json_string_value(json_object_get(j, "action")),
				json_string_value(json_object_get(j, "value")), o->want != SIZE_MAX ? "  feed " : "",
				o->want != SIZE_MAX ? r->w[o->want].feed->name : "", why);
			json_decref(j);
		}
		if (total > shown)
			fprintf(fp, "  ... and %zu more %s (-v shows all)\n", total - shown, op_name((enum op_kind)k));
	}
	if (p->held)
		fprintf(fp,
			"held: %zu deletions, by a guard (listed as hold above); creates, updates and renewals "
			"go out all the same\n",
			p->held);
	for (size_t f = 0; f < r->c->nfeeds; f++)
		if (p->over_by_feed[f])
			fprintf(fp, "over budget: feed %s: %zu indicators did not fit\n", r->c->feeds[f].name,
				p->over_by_feed[f]);
}

/* ---- the run ---- */

static void
report_killed(void *ctx, const struct store_run *r)
{
	(void)ctx;
	char ts[32];
	format_time(r->started, ts, sizeof(ts));
	log_warn("state: run %lld (%s, started %s) was killed%s%s%s%s; this run lists MDE again and converges", r->id,
		 r->verb, ts, r->step ? " during step " : "", r->step ? r->step : "", r->state ? " " : "",
		 r->state ? r->state : "");
}

struct store *
sync_open_store(const struct config *c, const char *who, bool write)
{
	char why[512];
	struct store *st = store_open(c->state, write ? who : NULL, why, sizeof(why));
	if (st == NULL) {
		log_error("%s: %s", who, why);
		return NULL;
	}
	/* A run left 'running' was killed: only the lock's holder can know
	 * that no run is live. */
	if (write && store_runs_recover(st, report_killed, NULL) != ERR_OK)
		log_warn("state: cannot read the runs table");
	return st;
}

static bool
has_role(const json_t *roles, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(roles, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), name) == 0)
			return true;
	return false;
}

/* Is feed named in o's --force-feed (or is everything forced)? */
static bool
forced(const struct sync_opts *o, const char *feed)
{
	if (o && o->force)
		return true;
	for (size_t i = 0; o && i < o->nforce_feeds; i++)
		if (strcmp(o->force_feeds[i], feed) == 0)
			return true;
	return false;
}

/* Feeds -> the desired set. NULL when an allowlist cannot be loaded
 * (printed). down (may be NULL) gets the feeds whose deletions are held,
 * with why: a feed paused (enabled = no), a feed with skip[k] set (its
 * device groups are unknown; unread, nothing of it sent), a feed down with
 * no snapshot, a feed that shrank past max_shrink (unless forced). */
static struct want *
collect(const struct config *c, struct store *st, const struct state *s, struct output *out, long long now,
	const bool *skip, const struct sync_opts *o, size_t *nw, struct plan_down *down, size_t *ndown,
	size_t *feeds_failed)
{
	struct policy *pol = policy_new();
	if (!app_allowlists(c, pol)) {
		policy_free(pol);
		return NULL;
	}
	struct merge *mg = merge_new();
	for (size_t k = 0; k < c->nfeeds; k++) {
		const char *hold = NULL;
		if (!c->feeds[k].enabled) {
			hold = "its feed is paused (enabled = no)";
		} else if (skip && skip[k]) {
			hold = "its feed names a device group MDE does not know";
		} else {
			struct feed_use use = {0};
			*feeds_failed += (size_t)feed_collect(c, &c->feeds[k], (uint32_t)k, st, pol, mg, out,
							      forced(o, c->feeds[k].name), &use);
			hold = use.hold;
		}
		if (hold && down)
			down[(*ndown)++] = (struct plan_down){c->feeds[k].name, hold};
	}
	struct want *w = build_wants(c, mg, s, now, nw);
	merge_free(mg);
	policy_free(pol);
	return w;
}

struct want *
sync_desired(const struct config *c, struct store *st, struct output *out, size_t *nw, size_t *feeds_failed)
{
	struct state s;
	state_load(st, &s);
	*feeds_failed = 0;
	struct want *w = collect(c, st, &s, out, (long long)time(NULL), NULL, NULL, nw, NULL, NULL, feeds_failed);
	state_free(&s);
	return w;
}

/*
 * Every device group the enabled feeds are scoped to, checked against
 * MDE's (spec 9, group-names: a name MDE does not know scopes a block to
 * nothing, or fails every item). Returns per feed whether one of its
 * groups is unknown (NULL: nothing to check, or it cannot be checked,
 * which is said); *nbad counts those feeds; *info gets the JSON for the
 * report: {"verified": bool, "unknown": {feed: [group...]}, "known": [...]}.
 */
static bool *
verify_groups(const struct config *c, struct mde *m, size_t *nbad, json_t **info)
{
	*nbad = 0;
	*info = NULL;
	size_t want = 0;
	for (size_t k = 0; k < c->nfeeds; k++)
		if (c->feeds[k].enabled)
			want += c->feeds[k].ndevice_groups;
	if (want == 0 || !c->verify_device_groups)
		return NULL;
	char why[512];
	const json_t *roles = mde_roles(m, why, sizeof(why));
	if (roles == NULL)
		return NULL; /* no token: the list says so next */
	if (!has_role(roles, "Machine.Read.All") && !has_role(roles, "Machine.ReadWrite.All")) {
		log_warn(
			"device groups are unverified: the token lacks Machine.Read.All, so a misspelt group would "
			"scope its blocks to nothing (grant it, or set verify_device_groups = no)");
		*info = json_pack("{s:b, s:s}", "verified", 0, "why", "the token lacks Machine.Read.All");
		return NULL;
	}
	json_t *groups;
	if (mde_device_groups(m, &groups, why, sizeof(why)) != ERR_OK) {
		log_warn("device groups are unverified: %s", why);
		*info = json_pack("{s:b, s:s}", "verified", 0, "why", why);
		return NULL;
	}
	struct strbuf known = {0};
	json_t *kn = json_array(), *unknown = json_object(), *v;
	const char *g;
	json_object_foreach(groups, g, v) {
		sb_addf(&known, "%s%s", known.len ? ", " : "", g);
		json_array_append_new(kn, json_string(g));
	}
	bool *bad = xcalloc(c->nfeeds, sizeof(*bad));
	for (size_t k = 0; k < c->nfeeds; k++) {
		const struct feed_cfg *f = &c->feeds[k];
		for (size_t i = 0; f->enabled && i < f->ndevice_groups; i++) {
			if (json_object_get(groups, f->device_groups[i]))
				continue;
			if (!bad[k])
				(*nbad)++;
			bad[k] = true;
			json_t *list = json_object_get(unknown, f->name);
			if (list == NULL)
				json_object_set_new(unknown, f->name, list = json_array());
			json_array_append_new(list, json_string(f->device_groups[i]));
			char gb[200];
			log_error(
				"feed %s: device group \"%s\" does not exist in MDE (groups with devices: %s); nothing of "
				"this feed is sent or deleted until device_groups is fixed (a group with no device yet "
				"cannot be seen: verify_device_groups = no)",
				f->name, echo_str(f->device_groups[i], strlen(f->device_groups[i]), gb, sizeof(gb)),
				known.len ? known.buf : "none");
		}
	}
	sb_free(&known);
	json_decref(groups);
	*info = json_pack("{s:b, s:o, s:o}", "verified", 1, "known", kn, "unknown", unknown);
	return bad;
}

/* The deletions a guard held, by why: logged once a run, named in the
 * run's message, and in the summary ({"held": N, "held_by": {why: n}}). */
static json_t *
held_summary(const struct plan *p, const struct config *c, char *msg, size_t msgsz)
{
	json_t *by = json_object();
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		if (o->kind == OP_HOLD && strcmp(o->why, "left its feeds, in the grace period") != 0)
			json_object_set_new(by, o->why,
					    json_integer(json_integer_value(json_object_get(by, o->why)) + 1));
	}
	const char *why;
	json_t *n;
	json_object_foreach(by, why, n) {
		char extra[160] = "";
		if (strcmp(why, "held by max_delete") == 0)
			snprintf(extra, sizeof(extra),
				 " (the plan deletes more than max_delete = %d%% of the %zu iocsync "
				 "owns; sync --force lets them go)",
				 c->max_delete_pct, p->owned);
		log_warn("%lld deletions held: %s%s; creates, updates and renewals went out", json_integer_value(n),
			 why, extra);
	}
	if (p->held)
		snprintf(msg, msgsz, "%zu deletions held by a guard (see the log); everything else was applied",
			 p->held);
	return json_pack("{s:I, s:o}", "held", (json_int_t)p->held, "held_by", by);
}

int
sync_run(const struct config *c, const struct sync_opts *o)
{
	/* A setup error is a usage error, except for plan, whose 2 says
	 * "changes pending": there every error is 1. */
	const int usage_rc = o->dry_run ? EXIT_FAIL : EXIT_USAGE;
	FILE *fp = o->out ? o->out : stdout;
	char why[512];
	int rc = EXIT_OK;
	long long now = (long long)time(NULL);
	struct timespec t0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	progress_start(!o->quiet && o->out == NULL);

	if (c->nfeeds == 0) {
		log_error("%s: %s defines no [feed \"name\"] section", o->verb, c->path);
		return usage_rc;
	}
	struct mde *m = mde_new(c, o->clk, why, sizeof(why));
	if (m == NULL) {
		log_error("%s: %s", o->verb, why);
		return usage_rc;
	}
	struct store *st = sync_open_store(c, o->verb, true);
	if (st == NULL) {
		mde_free(m);
		return EXIT_FAIL;
	}
	struct state s;
	state_load(st, &s);
	sync_load_owner(m, st);

	/* 1. Feeds, those scoped to a device group MDE does not know aside. */
	size_t bad_groups = 0;
	json_t *groups_info = NULL;
	bool *skip = verify_groups(c, m, &bad_groups, &groups_info);
	struct output out = {.fp = fp, .quiet = true, .json = o->json, .collect = true};
	if (o->quiet && !o->json)
		out.fp = fopen("/dev/null", "w");
	struct plan_down *down = xcalloc(c->nfeeds + 1, sizeof(*down));
	size_t nw, ndown = 0, feeds_failed = bad_groups;
	struct want *w = collect(c, st, &s, &out, now, skip, o, &nw, down, &ndown, &feeds_failed);
	free(skip);
	if (out.fp != fp && out.fp)
		fclose(out.fp);
	if (w == NULL) {
		free(down);
		json_decref(groups_info);
		state_free(&s);
		store_close(st);
		mde_free(m);
		return usage_rc;
	}
	long long run_id = store_run_begin(st, o->verb, now);
	size_t fi;
	json_t *fs;
	json_array_foreach((json_t *)out.summaries, fi, fs) {
		char *rep = json_dumps(fs, JSON_COMPACT);
		if (rep == NULL || store_feed_report(st, json_string_value(json_object_get(fs, "name")), rep) != ERR_OK)
			log_warn("state: cannot keep the report of feed %s",
				 json_string_value(json_object_get(fs, "name")));
		free(rep);
	}

	/* 2. What MDE holds. */
	json_t *list = NULL;
	struct have *h = NULL;
	size_t nh = 0;
	struct plan p = {0};
	struct run r = {.c = c,
			.m = m,
			.st = st,
			.id = run_id,
			.w = w,
			.nw = nw,
			.p = &p,
			.failures = json_array(),
			.refused = json_object(),
			.learn_owner = mde_created_by(m) == NULL};
	const char *outcome = "failed";
	char msg[600] = "";
	json_t *held_json = NULL;
	const char *write_error = NULL;
	enum err e = mde_list_all(m, &list, why, sizeof(why));
	if (e != ERR_OK) {
		log_error("%s: cannot list MDE's indicators: %s", o->verb, why);
		snprintf(msg, sizeof(msg), "list: %s", why);
		rc = EXIT_FAIL;
		goto done;
	}
	if (owner_from_list(m, st, list, &s))
		r.learn_owner = false;
	h = haves_from_list(m, list, &s, &nh);
	json_decref(list);
	r.h = h;
	r.nh = nh;
	const json_t *roles = mde_roles(m, why, sizeof(why));
	bool all = roles && has_role(roles, "Ti.ReadWrite.All");
	if (!all)
		log_warn(
			"the token lacks Ti.ReadWrite.All: others' indicators are not visible, so the budget "
			"cannot count them (imports past the cap will fail item by item)");

	/* 3. The plan. */
	struct plan_in in = {.w = w,
			     .nw = nw,
			     .h = h,
			     .nh = nh,
			     .now = now,
			     .cap = c->cap,
			     .reserve = c->reserve,
			     .grace_s = c->grace_s,
			     .renew_before_s = c->renew_before_s,
			     .others_known = all,
			     .down = down,
			     .ndown = ndown,
			     .max_delete_pct = c->max_delete_pct,
			     .force = o->force,
			     .force_feeds = o->force_feeds,
			     .nforce = o->nforce_feeds,
			     .state = {state_feeds, &s}};
	hash_held_wants(w, nw, h, nh);
	plan_build(&in, c->feeds, c->nfeeds, &p);
	size_t changes =
		p.count[OP_CREATE] + p.count[OP_UPDATE] + p.count[OP_RENEW] + p.count[OP_REPLACE] + p.count[OP_DELETE];
	held_json = held_summary(&p, c, msg, sizeof(msg));
	warn_overrides(&r);
	if (!o->json && !o->quiet)
		print_plan(fp, &r, o->verbose);

	if (o->dry_run) {
		outcome = "planned";
		rc = changes || p.held ? 2 : EXIT_OK;
		if ((feeds_failed && rc == EXIT_OK) || bad_groups) /* a misspelt group is an error to fix first */
			rc = EXIT_FAIL;
		goto done;
	}

	/* 4. Apply. */
	r.want_id = xcalloc(nw ? nw : 1, sizeof(char *));
	r.have_gone = xcalloc(nh ? nh : 1, sizeof(bool));
	if (changes)
		apply(&r);
	if (record(&r, &s, now) != ERR_OK)
		log_error("state: cannot record the indicators iocsync owns (the next run lists MDE again)");
	record_changes(&r, now);
	const char *wf = store_write_failed(st) ? store_write_failed(st) : log_write_failed();
	progress_clear();
	if (r.aborted) {
		snprintf(msg, sizeof(msg), "%s%s", r.stopped ? "" : "stopped: ", r.why);
		if (r.stopped)
			log_warn("%s: %s", o->verb, msg);
		else
			log_error("%s: %s", o->verb, msg);
	}
	outcome = r.stopped                      ? "stopped"
		: r.aborted                      ? "aborted"
		: r.failed || feeds_failed || wf ? "partial"
		: p.held                         ? "held"
						 : "ok";
	rc = r.aborted || r.failed || feeds_failed || p.held || wf ? EXIT_FAIL : EXIT_OK;
	if (wf) {
		/* What reached MDE is listed again next run; what was not
		 * recorded here is the next run's to record. */
		log_error("%s: %s", o->verb, wf);
		snprintf(msg, sizeof(msg), "%s", wf);
		write_error = wf;
	}

done:;
	progress_clear();
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	json_t *sum = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:f}", "verb", o->verb, "outcome", outcome,
				"planned", counts_json(p.count), "done", counts_json(r.done), "failed",
				(json_int_t)r.failed, "feeds_failed", (json_int_t)feeds_failed, "owned",
				(json_int_t)p.owned, "others", (json_int_t)p.others, "seconds", secs);
	json_object_set_new(json_object_get(sum, "planned"), "delete", json_integer((json_int_t)p.deletes));
	json_object_set_new(sum, "room", json_integer((json_int_t)p.room));
	/* For the report: the first 50 conflicts, over-budget and held
	 * deletions each, and what did not fit by feed. */
	json_t *conf = json_array(), *over = json_object();
	size_t shown[OP__COUNT] = {0};
	for (size_t i = 0; i < p.n; i++) {
		const struct op *x = &p.ops[i];
		bool guard_hold = x->kind == OP_HOLD && strcmp(x->why, "left its feeds, in the grace period") != 0;
		if ((x->kind == OP_CONFLICT || x->kind == OP_OVER_BUDGET || guard_hold) && shown[x->kind]++ < 50)
			json_array_append_new(conf, op_json(&r, x));
	}
	for (size_t f = 0; p.over_by_feed && f < c->nfeeds; f++)
		if (p.over_by_feed[f])
			json_object_set_new(over, c->feeds[f].name, json_integer((json_int_t)p.over_by_feed[f]));
	json_object_set_new(sum, "conflicts", conf);
	json_object_set_new(sum, "over_by_feed", over);
	json_object_set_new(sum, "refused", json_incref(r.refused)); /* by MDE's code, for the metrics */
	if (write_error)
		json_object_set_new(sum, "write_error", json_string(write_error));
	if (held_json) {
		json_object_update(sum, held_json);
		json_decref(held_json);
	}
	if (o->flags) /* for the daemon: held is not a failure to retry soon */
		__atomic_fetch_or(
			o->flags,
			(p.held ? SYNC_HELD : 0u) |
				(r.aborted || r.failed || feeds_failed || (outcome[0] == 'f') ? SYNC_FAILED : 0u),
			__ATOMIC_RELAXED);
	if (groups_info)
		json_object_set_new(sum, "device_groups", groups_info);
	json_t *cj = calls_json(m);
	json_object_update(sum, cj);
	json_decref(cj);
	char *sumtext = json_dumps(sum, JSON_COMPACT);
	store_run_end(st, run_id, (long long)time(NULL), outcome, sumtext, msg[0] ? msg : NULL);
	log_run(sum);
	if (c->metrics_file && !o->dry_run) {
		char mw[300];
		if (metrics_write(c, st, sum, (json_t *)out.summaries, mw, sizeof(mw)) != ERR_OK)
			log_error("metrics: cannot write %s", mw);
	}
	if (o->json) {
		json_t *doc = json_deep_copy(sum);
		json_t *ops = json_array();
		for (size_t i = 0; i < p.n; i++)
			if (p.ops[i].kind != OP_KEEP)
				json_array_append_new(ops, op_json(&r, &p.ops[i]));
		json_object_set_new(doc, "changes", ops);
		json_object_set_new(doc, "failures", json_incref(r.failures));
		json_object_set_new(doc, "feeds", out.summaries ? (json_t *)out.summaries : json_array());
		out.summaries = NULL;
		if (msg[0])
			json_object_set_new(doc, "message", json_string(msg));
		json_dumpf(doc, fp, JSON_INDENT(1));
		fputc('\n', fp);
		json_decref(doc);
	} else if (!o->dry_run && p.ops && !o->quiet) {
		fprintf(fp, "%s: created %zu, updated %zu, renewed %zu, replaced %zu, deleted %zu, failed %zu (%s)\n",
			o->verb, r.done[OP_CREATE], r.done[OP_UPDATE], r.done[OP_RENEW], r.done[OP_REPLACE],
			r.done[OP_DELETE], r.failed, outcome);
	}
	if (!o->json && !o->quiet)
		print_calls(fp, m);

	free(sumtext);
	json_decref(sum);
	json_decref((json_t *)out.summaries);
	json_decref(r.failures);
	json_decref(r.refused);
	if (r.want_id)
		for (size_t i = 0; i < nw; i++)
			free(r.want_id[i]);
	free(r.want_id);
	free(r.have_gone);
	plan_free(&p);
	haves_free(h, nh);
	wants_free(w, nw);
	free(down);
	state_free(&s);
	store_close(st);
	mde_free(m);
	return rc;
}

struct job {
	struct config *c;
	struct sync_opts o;
	char *buf;
	size_t len;
	int rc;
	pthread_t th;
};

static void *
job_run(void *v)
{
	struct job *j = v;
	log_set_context(j->c->tenant_name);
	j->rc = sync_run(j->c, &j->o);
	log_set_context(NULL);
	return NULL;
}

int
sync_all(const struct config *c, const struct sync_opts *o)
{
	if (c->ntenants == 0)
		return sync_run(c, o);
	FILE *fp = o->out ? o->out : stdout;
	struct job *jobs = xcalloc(c->ntenants, sizeof(*jobs));
	/* A run's stack is the main thread's size (8 MiB), not the default
	 * of a thread under every tool (valgrind gives less). */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 16u << 20);
	for (size_t i = 0; i < c->ntenants; i++) {
		struct job *j = &jobs[i];
		j->c = config_tenant(c, i);
		j->o = *o;
		j->o.out = open_memstream(&j->buf, &j->len);
		if (j->o.out == NULL || pthread_create(&j->th, &attr, job_run, j) != 0) {
			log_error("tenant %s: cannot start its run", c->tenants[i].name);
			if (j->o.out)
				fclose(j->o.out);
			j->o.out = NULL;
			j->rc = EXIT_FAIL;
		}
	}
	pthread_attr_destroy(&attr);
	bool any_fail = false, any_usage = false, any_pending = false;
	json_t *all = o->json ? json_object() : NULL;
	for (size_t i = 0; i < c->ntenants; i++) {
		struct job *j = &jobs[i];
		if (j->o.out) {
			pthread_join(j->th, NULL);
			fclose(j->o.out);
		}
		any_fail |= j->rc == EXIT_FAIL;
		if (o->dry_run) /* plan: 2 is "changes pending", its errors are 1 */
			any_pending |= j->rc == 2;
		else
			any_usage |= j->rc == EXIT_USAGE;
		if (all) {
			json_t *doc = j->buf ? json_loads(j->buf, 0, NULL) : NULL;
			json_object_set_new(all, c->tenants[i].name,
					    doc ? doc : json_pack("{s:s, s:i}", "outcome", "failed", "exit", j->rc));
		} else if (!o->quiet || j->rc != EXIT_OK) {
			fprintf(fp, "%s=== tenant %s (exit %d)\n%s", i ? "\n" : "", c->tenants[i].name, j->rc,
				j->buf ? j->buf : "");
		}
		free(j->buf);
		config_free(j->c);
	}
	if (all) {
		json_t *doc = json_pack("{s:o}", "tenants", all);
		json_dumpf(doc, fp, JSON_INDENT(1));
		fputc('\n', fp);
		json_decref(doc);
	}
	free(jobs);
	if (o->dry_run)
		return any_fail ? EXIT_FAIL : any_pending ? 2 : EXIT_OK;
	return any_usage ? EXIT_USAGE : any_fail ? EXIT_FAIL : EXIT_OK;
}
