#include "sync.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "merge.h"
#include "metrics.h"
#include "output.h"
#include "strset.h"
#include "progress.h"
#include "signals.h"
#include "util.h"

#define BATCH 500		/* import and BatchDelete, spec 3.3 and 3.5 */
#define TITLE_MAX 100		/* spec section 8: longer is refused */
#define DESCRIPTION_MAX 1000
#define SHOW_PER_KIND 20	/* planned changes shown per kind without -v */

/* ---- the state, by (type, value) ---- */

struct srow {
	int type, action;
	char *value, *feeds;
	long long first_seen, gone_since;
};

struct state {
	struct srow *r;
	size_t n, cap;
	struct strset *idx;
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
	size_t kl = tv(key, sizeof(key), x->type, x->value);
	int at = strset_get(s->idx, key, kl);
	if (at >= 0) {
		struct srow *r = &s->r[at];
		if (x->first_seen < r->first_seen)
			r->first_seen = x->first_seen;
		return;
	}
	xgrow((void **)&s->r, &s->cap, s->n + 1, sizeof(*s->r));
	s->r[s->n] = (struct srow){x->type, x->action, xstrdup(x->value), xstrdup(x->feeds ? x->feeds : ""),
				   x->first_seen, x->gone_since};
	strset_add(s->idx, key, kl, (int)s->n++);
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
}

/* ---- the desired set ---- */

/* Expands {feed} {value} {type} {action} {name} {description} and cuts
 * to max bytes at a character boundary. */
static char *
render(const char *tpl, const struct feed_cfg *f, const struct merge_item *it, size_t max)
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
				v = it->title ? it->title : f->name;
			else if (n == 11 && memcmp(p + 1, "description", 11) == 0)
				v = it->description ? it->description : "";
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

static uint64_t
want_hash(const struct want *w)
{
	const struct feed_cfg *f = w->feed;
	const char *edu = w->type == IOC_URL && (w->action == ACT_BLOCK || w->action == ACT_WARN) ? f->educate_url : NULL;
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
		x->title = render(f->title, f, &it, TITLE_MAX);
		x->description = render(f->description, f, &it, DESCRIPTION_MAX);
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
		x->feeds = fb.buf ? fb.buf : xstrdup(f->name);
		x->attrs = want_hash(x);
	}
	*nw = n;
	return w;
}

void
wants_free(struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(w[i].value), free(w[i].title), free(w[i].description), free(w[i].feeds);
	free(w);
}

/* ---- what MDE holds ---- */

static long long
parse_time(const char *s)
{
	struct tm tm = {0};
	if (s == NULL || sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour,
				&tm.tm_min, &tm.tm_sec) != 6)
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

struct have *
haves_from_list(const struct mde *m, const json_t *list, size_t *n)
{
	size_t cnt = json_array_size(list), k = 0;
	struct have *h = xcalloc(cnt ? cnt : 1, sizeof(*h));
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
		y->value = xstrdup(val);
		y->type = (enum ioc_type)type_from_name(json_string_value(json_object_get(x, "indicatorType")));
		/* Hashes: MDE may answer in upper case; compare canonically. */
		if (y->type >= IOC_MD5)
			for (char *p = y->value; *p; p++)
				*p = (char)lc((unsigned char)*p);
		y->action = action_from_name(json_string_value(json_object_get(x, "action")));
		y->owned = mde_owned(m, x);
		y->expire_at = parse_time(json_string_value(json_object_get(x, "expirationTime")));
		json_t *g = json_object_get(x, "rbacGroupNames");
		size_t ng = json_array_size(g);
		const char **groups = xcalloc(ng ? ng : 1, sizeof(*groups));
		size_t gi = 0;
		for (size_t j = 0; j < ng; j++)
			if (json_is_string(json_array_get(g, j)))
				groups[gi++] = json_string_value(json_array_get(g, j));
		y->attrs = plan_attr_hash(y->action,
					  severity_from_name(json_string_value(json_object_get(x, "severity"))),
					  json_string_value(json_object_get(x, "title")),
					  json_string_value(json_object_get(x, "description")),
					  json_string_value(json_object_get(x, "recommendedActions")), groups, gi,
					  json_is_true(json_object_get(x, "generateAlert")),
					  json_string_value(json_object_get(x, "educateUrl")));
		free(groups);
	}
	*n = k;
	return h;
}

void
haves_free(struct have *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].id), free(h[i].value);
	free(h);
}

/* ---- apply ---- */

static json_t *
import_item(const struct config *c, const struct want *w)
{
	const struct feed_cfg *f = w->feed;
	char exp[32];
	format_time(w->expire_at, exp, sizeof(exp));
	json_t *groups = json_array();
	for (size_t g = 0; g < f->ndevice_groups; g++)
		json_array_append_new(groups, json_string(f->device_groups[g]));
	json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:s, s:b, s:o}", "indicatorValue", w->value,
			      "indicatorType", ioc_type_name(w->type), "action", ioc_action_name(w->action),
			      "title", w->title, "description", w->description, "application", c->application,
			      "expirationTime", exp, "severity", severity_name(w->severity), "generateAlert",
			      f->generate_alert, "rbacGroupNames", groups);
	if (f->recommended_actions)
		json_object_set_new(o, "recommendedActions", json_string(f->recommended_actions));
	if (f->educate_url && w->type == IOC_URL && (w->action == ACT_BLOCK || w->action == ACT_WARN))
		json_object_set_new(o, "educateUrl", json_string(f->educate_url));
	return o;
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
	char **want_id;		/* [nw] the MDE id after an import */
	bool *have_gone;	/* [nh] deleted */
	size_t done[OP__COUNT];
	size_t failed;
	json_t *failures;
	bool aborted;
	bool stopped;		/* by a signal, between batches */
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
		json_array_append_new(r->failures, json_pack("{s:s, s:s, s:s, s:s}", "op", op, "type",
							     ioc_type_name(t), "value", value, "reason", reason));
	char vb[200];
	log_warn("%s %s %s failed: %s", op, ioc_type_name(t), echo_str(value, strlen(value), vb, sizeof(vb)), reason);
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

/* Imports the wants in ops (indices into p->ops), retrying items that
 * failed for a reason that may pass. */
static void
apply_imports(struct run *r, const size_t *opv, size_t n)
{
	size_t *todo = xmalloc((n ? n : 1) * sizeof(*todo)), ntodo = n;
	memcpy(todo, opv, n * sizeof(*todo));
	for (int round = 0; round < 3 && ntodo > 0 && !r->aborted; round++) {
		size_t *again = xmalloc(ntodo * sizeof(*again)), nagain = 0;
		for (size_t b = 0; b < ntodo && !r->aborted; b += BATCH) {
			size_t k = ntodo - b < BATCH ? ntodo - b : BATCH;
			if (stop_requested()) {
				stopped(r);
				break;
			}
			progress_step(round ? "import (retry) batch" : "import batch", b / BATCH + 1,
				      (ntodo + BATCH - 1) / BATCH);
			json_t *items = json_array();
			for (size_t i = 0; i < k; i++)
				json_array_append_new(items, import_item(r->c, &r->w[r->p->ops[todo[b + i]].want]));
			int s = ++r->seq;
			journal(r, s, "import", k, "sent", NULL);
			json_t *res;
			char why[512];
			enum err e = mde_import(r->m, items, &res, why, sizeof(why));
			json_decref(items);
			if (e != ERR_OK) {
				journal(r, s, "import", k, "failed", why);
				if (stop_requested()) { /* not done: the next run lists and converges */
					stopped(r);
					break;
				}
				if (e == ERR_NET || e == ERR_PARSE) {
					/* Out of reach, or an answer we cannot match
					 * to the items: stop; the next run lists
					 * MDE again and finishes the work. */
					r->aborted = true;
					snprintf(r->why, sizeof(r->why), "%s", why);
				}
				for (size_t i = 0; i < k; i++) {
					const struct op *o = &r->p->ops[todo[b + i]];
					fail_item(r, op_name(o->kind), r->w[o->want].type, r->w[o->want].value, why);
				}
				continue;
			}
			for (size_t i = 0; i < k; i++) {
				const struct op *o = &r->p->ops[todo[b + i]];
				const struct want *w = &r->w[o->want];
				json_t *x = json_array_get(res, i);
				const char *ind = json_string_value(json_object_get(x, "indicator"));
				char idb[32];
				const char *id = mde_id(x, idb);
				/* Results come in input order (spec 8); one that
				 * names another value is not trusted. */
				bool same = ind == NULL || strcasecmp(ind, w->value) == 0;
				if (!same) {
					fail_item(r, op_name(o->kind), w->type, w->value,
						  "the import result does not match the item (the next run lists again)");
				} else if (json_is_true(json_object_get(x, "isFailed")) || id == NULL) {
					const char *reason = json_string_value(json_object_get(x, "failureReason"));
					if (plan_item_retryable(reason) && round < 2)
						again[nagain++] = todo[b + i];
					else
						fail_item(r, op_name(o->kind), w->type, w->value,
							  reason ? reason : "failed without a reason");
				} else {
					free(r->want_id[o->want]);
					r->want_id[o->want] = xstrdup(id);
					r->done[o->kind]++;
				}
			}
			json_decref(res);
			journal(r, s, "import", k, "done", NULL);
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
	/* An old action goes only once its replacement exists. */
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		if (o->kind == OP_DELETE && o->late && r->want_id[o->want])
			late[nl++] = o->have;
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
		rows[n++] = (struct store_ind){.type = w->type, .action = w->action, .value = w->value,
					       .mde_id = r->want_id[i], .feeds = w->feeds, .first_seen = w->first_seen,
					       .last_seen = now, .expires_at = w->expire_at};
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
		struct store_ind x = {.type = h->type, .action = h->action, .value = h->value, .mde_id = h->id,
				      .expires_at = h->expire_at, .last_seen = now};
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

/* ---- output ---- */

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
		json_object_set_new(j, "action", json_string(h->action >= 0 ? ioc_action_name((enum ioc_action)h->action)
								      : "unknown"));
	}
	if (o->have != SIZE_MAX)
		json_object_set_new(j, "id", json_string(r->h[o->have].id));
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
			json_object_set_new(retries, mde_ep_name((enum mde_ep)e), json_integer((json_int_t)s->retries[e]));
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
			fprintf(fp, "  %-11s %-21s %-17s %s%s%s (%s)\n", op_name(o->kind),
				json_string_value(json_object_get(j, "type")),
				json_string_value(json_object_get(j, "action")),
				json_string_value(json_object_get(j, "value")), o->want != SIZE_MAX ? "  feed " : "",
				o->want != SIZE_MAX ? r->w[o->want].feed->name : "", o->why);
			json_decref(j);
		}
		if (total > shown)
			fprintf(fp, "  ... and %zu more %s (-v shows all)\n", total - shown, op_name((enum op_kind)k));
	}
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
	log_warn("state: run %lld (%s, started %s) was killed%s%s%s%s; this run lists MDE again and converges",
		 r->id, r->verb, ts, r->step ? " during step " : "", r->step ? r->step : "",
		 r->state ? " " : "", r->state ? r->state : "");
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

/* Feeds -> the desired set. NULL when an allowlist cannot be loaded
 * (printed). down gets the feeds that gave nothing to use. */
static struct want *
collect(const struct config *c, struct store *st, const struct state *s, struct output *out, long long now,
	size_t *nw, const char **down, size_t *ndown, size_t *feeds_failed)
{
	struct policy *pol = policy_new();
	if (!app_allowlists(c, pol)) {
		policy_free(pol);
		return NULL;
	}
	struct merge *mg = merge_new();
	for (size_t k = 0; k < c->nfeeds; k++) {
		if (!c->feeds[k].enabled)
			continue;
		bool usable = false;
		*feeds_failed += (size_t)feed_collect(c, &c->feeds[k], (uint32_t)k, st, pol, mg, out, &usable);
		if (!usable && down)
			down[(*ndown)++] = c->feeds[k].name;
	}
	struct want *w = build_wants(c, mg, s, now, nw);
	merge_free(mg);
	policy_free(pol);
	return w;
}

struct want *
sync_desired(const struct config *c, struct store *st, struct output *out, size_t *nw, size_t *feeds_failed)
{
	struct state s = {.idx = strset_new()};
	store_ind_each(st, state_row, &s);
	*feeds_failed = 0;
	struct want *w = collect(c, st, &s, out, (long long)time(NULL), nw, NULL, NULL, feeds_failed);
	state_free(&s);
	return w;
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
	struct state s = {.idx = strset_new()};
	if (store_ind_each(st, state_row, &s) != ERR_OK)
		log_warn("state: cannot read the indicators table");

	/* 1. Feeds. */
	struct output out = {.fp = fp, .quiet = true, .json = o->json, .collect = true};
	if (o->quiet && !o->json)
		out.fp = fopen("/dev/null", "w");
	const char **down = xcalloc(c->nfeeds + 1, sizeof(*down));
	size_t nw, ndown = 0, feeds_failed = 0;
	struct want *w = collect(c, st, &s, &out, now, &nw, down, &ndown, &feeds_failed);
	if (out.fp != fp && out.fp)
		fclose(out.fp);
	if (w == NULL) {
		free(down);
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
			log_warn("state: cannot keep the report of feed %s", json_string_value(json_object_get(fs, "name")));
		free(rep);
	}

	/* 2. What MDE holds. */
	json_t *list = NULL;
	struct have *h = NULL;
	size_t nh = 0;
	struct plan p = {0};
	struct run r = {.c = c, .m = m, .st = st, .id = run_id, .w = w, .nw = nw, .p = &p,
			.failures = json_array()};
	const char *outcome = "failed";
	char msg[600] = "";
	enum err e = mde_list_all(m, &list, why, sizeof(why));
	if (e != ERR_OK) {
		log_error("%s: cannot list MDE's indicators: %s", o->verb, why);
		snprintf(msg, sizeof(msg), "list: %s", why);
		rc = EXIT_FAIL;
		goto done;
	}
	h = haves_from_list(m, list, &nh);
	json_decref(list);
	r.h = h;
	r.nh = nh;
	const json_t *roles = mde_roles(m, why, sizeof(why));
	bool all = roles && has_role(roles, "Ti.ReadWrite.All");
	if (!all)
		log_warn("the token lacks Ti.ReadWrite.All: others' indicators are not visible, so the budget "
			 "cannot count them (imports past the cap will fail item by item)");

	/* 3. The plan. */
	struct plan_in in = {.w = w, .nw = nw, .h = h, .nh = nh, .now = now, .cap = c->cap, .reserve = c->reserve,
			     .grace_s = c->grace_s, .renew_before_s = c->renew_before_s, .others_known = all,
			     .down = down, .ndown = ndown, .state = {state_feeds, &s}};
	plan_build(&in, c->feeds, c->nfeeds, &p);
	size_t changes = p.count[OP_CREATE] + p.count[OP_UPDATE] + p.count[OP_RENEW] + p.count[OP_REPLACE] +
			 p.count[OP_DELETE];
	for (size_t i = 0; i < ndown; i++)
		log_warn("feed %s is down with no good snapshot: nothing of it is deleted this run", down[i]);
	if (!o->json && !o->quiet)
		print_plan(fp, &r, o->verbose);

	if (o->dry_run) {
		outcome = "planned";
		rc = changes ? 2 : EXIT_OK;
		if (feeds_failed && rc == EXIT_OK)
			rc = EXIT_FAIL;
		goto done;
	}
	long long limit = (long long)p.owned * c->max_delete_pct / 100;
	if (p.deletes > 0 && (long long)p.deletes > limit && !o->force) {
		snprintf(msg, sizeof(msg), "the plan deletes %zu of the %zu indicators iocsync owns, more than "
					   "max_delete = %d%%; nothing was changed (check the feeds, or run again with --force)",
			 p.deletes, p.owned, c->max_delete_pct);
		log_error("%s: %s", o->verb, msg);
		outcome = "stopped";
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
	progress_clear();
	if (r.aborted) {
		snprintf(msg, sizeof(msg), "%s%s", r.stopped ? "" : "stopped: ", r.why);
		if (r.stopped)
			log_warn("%s: %s", o->verb, msg);
		else
			log_error("%s: %s", o->verb, msg);
	}
	outcome = r.stopped ? "stopped" : r.aborted ? "aborted" : r.failed || feeds_failed ? "partial" : "ok";
	rc = r.aborted || r.failed || feeds_failed ? EXIT_FAIL : EXIT_OK;

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
	json_t *conf = json_array();
	for (size_t i = 0; i < p.n && json_array_size(conf) < 50; i++)
		if (p.ops[i].kind == OP_CONFLICT || p.ops[i].kind == OP_OVER_BUDGET)
			json_array_append_new(conf, op_json(&r, &p.ops[i]));
	json_object_set_new(sum, "conflicts", conf); /* and over-budget: the first 50, for the report */
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
