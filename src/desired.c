#include "desired.h"

#include <jansson.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collect.h"
#include "log.h"
#include "iocsync_limits.h"
#include "merge.h"
#include "output.h"
#include "strset.h"
#include "util.h"

/* Expands {feed} {value} {type} {action} {name} {description} {comment}
 * (the entry's own text: a text or hosts line's inline comment, a STIX
 * description, a MISP comment) and cuts
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
			else if ((n == 11 && memcmp(p + 1, "description", 11) == 0) ||
				 (n == 7 && memcmp(p + 1, "comment", 7) == 0))
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
	/* MDE refuses values with white space at either end (a template
	 * may start or end with a variable that is empty). */
	while (sb.len > 0 && is_space((unsigned char)sb.buf[sb.len - 1]))
		sb.buf[--sb.len] = '\0';
	size_t lead = 0;
	while (lead < sb.len && is_space((unsigned char)sb.buf[lead]))
		lead++;
	memmove(sb.buf, sb.buf + lead, sb.len - lead + 1);
	sb.len -= lead;
	return sb.buf;
}

void
desired_render(const struct want *w, struct rendered *out)
{
	out->title = render(w->feed->title, w->feed, w, LIMIT_TITLE_BYTES);
	out->description = render(w->feed->description, w->feed, w, LIMIT_DESCRIPTION_BYTES);
}

void
desired_rendered_free(struct rendered *r)
{
	free(r->title);
	free(r->description);
	*r = (struct rendered){0};
}

static uint64_t
want_hash(const struct want *w)
{
	const struct feed_cfg *f = w->feed;
	struct rendered r;
	desired_render(w, &r);
	const char *edu =
		w->type == IOC_URL && (w->action == ACT_BLOCK || w->action == ACT_WARN) ? f->educate_url : NULL;
	uint64_t h = plan_attr_hash((int)w->action, (int)w->severity, r.title, r.description, f->recommended_actions,
				    (const char *const *)f->device_groups, f->ndevice_groups, f->generate_alert, edu);
	desired_rendered_free(&r);
	return h;
}

static struct want *
build_wants(const struct config *c, struct merge *m, size_t *nw)
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
		x->item_expire = it.expire_at;
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

long long *
desired_first_seen(const struct want *w, size_t nw, const struct state *s, long long now)
{
	long long *seen = xcalloc(nw ? nw : 1, sizeof(*seen));
	for (size_t i = 0; i < nw; i++) {
		const struct state_row *r = state_get(s, (int)w[i].type, w[i].value);
		seen[i] = r && r->first_seen ? r->first_seen : now;
	}
	return seen;
}

uint64_t *
desired_hash_held(const struct want *w, size_t nw, const struct have *h, size_t nh)
{
	uint64_t *attrs = xcalloc(nw ? nw : 1, sizeof(*attrs));
	struct strset *held = strset_new();
	char key[LIMIT_VALUE_BYTES + 16];
	for (size_t j = 0; j < nh; j++)
		if (h[j].owned)
			strset_add(held, key, ioc_key(key, sizeof(key), (int)h[j].type, h[j].value), 1);
	for (size_t i = 0; nh && i < nw; i++)
		if (strset_get(held, key, ioc_key(key, sizeof(key), (int)w[i].type, w[i].value)) >= 0)
			attrs[i] = want_hash(&w[i]);
	strset_free(held);
	return attrs;
}

void
desired_free(struct want *w, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(w[i].value);
		free(w[i].item_title), free(w[i].item_desc);
		if (w[i].feeds_owned)
			free(w[i].feeds);
	}
	free(w);
}

/* Is feed past max_shrink: named in --force-feed, or everything forced? */
static bool
forced(const struct desired_in *in, const char *feed)
{
	if (in && in->force)
		return true;
	for (size_t i = 0; in && i < in->nforce_feeds; i++)
		if (strcmp(in->force_feeds[i], feed) == 0)
			return true;
	return false;
}

/* A feed's summary of this run into the store, for status and report. */
static void
keep_report(struct store *st, const char *name, const json_t *summary)
{
	char *rep = summary ? json_dumps(summary, JSON_COMPACT) : NULL;
	if (rep == NULL || store_feed_report(st, name, rep) != ERR_OK)
		log_warn("state: cannot keep the report of feed %s", name);
	free(rep);
}

struct desired_feeds {
	const struct config *c;
	struct merge **set; /* [nfeeds] what each enabled feed gave, or NULL */
	const char **hold;  /* [nfeeds] why its deletions are held, or NULL */
	bool *failed;       /* [nfeeds] its fetch or body failed */
};

struct desired_feeds *
desired_read(const struct config *c, struct store *st, struct output *out, const struct desired_in *in)
{
	struct policy *pol = policy_new();
	if (!collect_allowlists(c, pol)) {
		policy_free(pol);
		return NULL;
	}
	struct desired_feeds *df = xcalloc(1, sizeof(*df));
	df->c = c;
	df->set = xcalloc(c->nfeeds + 1, sizeof(*df->set));
	df->hold = xcalloc(c->nfeeds + 1, sizeof(*df->hold));
	df->failed = xcalloc(c->nfeeds + 1, sizeof(*df->failed));
	for (size_t k = 0; k < c->nfeeds; k++) {
		const struct feed_cfg *f = &c->feeds[k];
		if (!f->enabled) {
			df->hold[k] = "its feed is paused (enabled = no)";
			continue;
		}
		struct collect_use use = {0};
		df->set[k] =
			collect_feed(c, f, (uint32_t)k, st, pol, out, forced(in, f->name), in ? in->share : NULL, &use);
		if (in && in->keep_reports)
			keep_report(st, f->name, use.summary);
		json_decref(use.summary);
		df->failed[k] = use.failed;
		df->hold[k] = use.hold;
	}
	policy_free(pol);
	return df;
}

struct want *
desired_wants(struct desired_feeds *df, const bool *skip, size_t *nw, struct plan_down *down, size_t *ndown)
{
	const struct config *c = df->c;
	struct merge *all = NULL;
	for (size_t k = 0; k < c->nfeeds; k++) {
		const char *hold = df->hold[k];
		if (skip && skip[k]) {
			hold = "its feed names a device group MDE does not know";
		} else if (df->set[k] && all == NULL) {
			all = df->set[k]; /* the first set is taken, not copied */
			df->set[k] = NULL;
		} else if (df->set[k]) {
			merge_absorb(all, df->set[k]);
			merge_free(df->set[k]); /* one feed's set at a time beside the whole */
			df->set[k] = NULL;
		}
		if (hold && down)
			down[(*ndown)++] = (struct plan_down){c->feeds[k].name, hold};
	}
	if (all == NULL)
		all = merge_new();
	struct want *w = build_wants(c, all, nw);
	merge_free(all);
	return w;
}

size_t
desired_failed(const struct desired_feeds *df, const bool *skip)
{
	size_t n = 0;
	for (size_t k = 0; k < df->c->nfeeds; k++)
		n += df->failed[k] && !(skip && skip[k]);
	return n;
}

void
desired_feeds_free(struct desired_feeds *df)
{
	if (df == NULL)
		return;
	for (size_t k = 0; k < df->c->nfeeds; k++)
		merge_free(df->set[k]);
	free(df->set);
	free(df->hold);
	free(df->failed);
	free(df);
}

const char **
desired_blocked_ips(const struct want *w, size_t nw, size_t *n)
{
	const char **ips = xcalloc(nw + 1, sizeof(*ips));
	*n = 0;
	for (size_t i = 0; i < nw; i++)
		if (w[i].type == IOC_IP && w[i].action == ACT_BLOCK)
			ips[(*n)++] = w[i].value;
	return ips;
}

struct want *
desired_build(const struct config *c, struct store *st, struct output *out, size_t *nw, size_t *feeds_failed)
{
	*feeds_failed = 0;
	struct desired_feeds *df = desired_read(c, st, out, NULL);
	if (df == NULL)
		return NULL;
	*feeds_failed = desired_failed(df, NULL);
	struct want *w = desired_wants(df, NULL, nw, NULL, NULL);
	desired_feeds_free(df);
	return w;
}

/* ---- desired sets shared by the tenants of one run ---- */

struct shared_set {
	uint64_t hash;
	struct want *w;
	size_t n;
	size_t holders;
};

struct desired_share {
	pthread_mutex_t mu;
	struct shared_set *v;
	size_t n, cap;
};

struct desired_share *
desired_share_new(void)
{
	struct desired_share *sh = xcalloc(1, sizeof(*sh));
	pthread_mutex_init(&sh->mu, NULL);
	return sh;
}

void
desired_share_free(struct desired_share *sh)
{
	if (sh == NULL)
		return;
	for (size_t i = 0; i < sh->n; i++) /* none are left once every tenant dropped its set */
		desired_free(sh->v[i].w, sh->v[i].n);
	free(sh->v);
	pthread_mutex_destroy(&sh->mu);
	free(sh);
}

static uint64_t
hash_str(const char *s, uint64_t h)
{
	return s ? hash_bytes(s, strlen(s) + 1, h) : hash_bytes("", 0, h ^ 1);
}

/* Over everything a want holds; the feed by identity (a tenant that
 * takes the configuration's feeds as they are uses its very objects). */
static uint64_t
set_hash(const struct want *w, size_t n)
{
	uint64_t h = hash_bytes(&n, sizeof(n), 0);
	for (size_t i = 0; i < n; i++) {
		const struct want *x = &w[i];
		long long num[] = {x->type, x->action, x->severity, x->priority, x->item_expire};
		h = hash_bytes(num, sizeof(num), h);
		h = hash_bytes(&x->feed, sizeof(x->feed), h);
		h = hash_str(x->item_desc, hash_str(x->item_title, hash_str(x->feeds, hash_str(x->value, h))));
	}
	return h;
}

static bool
same_str(const char *a, const char *b)
{
	return a == b || (a && b && strcmp(a, b) == 0);
}

static bool
same_set(const struct want *a, const struct want *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i].type != b[i].type || a[i].action != b[i].action || a[i].severity != b[i].severity ||
		    a[i].priority != b[i].priority || a[i].item_expire != b[i].item_expire || a[i].feed != b[i].feed ||
		    !same_str(a[i].value, b[i].value) || !same_str(a[i].feeds, b[i].feeds) ||
		    !same_str(a[i].item_title, b[i].item_title) || !same_str(a[i].item_desc, b[i].item_desc))
			return false;
	return true;
}

struct want *
desired_share_take(struct desired_share *sh, struct want *w, size_t n)
{
	if (sh == NULL)
		return w;
	uint64_t h = set_hash(w, n);
	pthread_mutex_lock(&sh->mu);
	for (size_t i = 0; i < sh->n; i++) {
		struct shared_set *x = &sh->v[i];
		if (x->hash == h && x->n == n && same_set(x->w, w, n)) {
			x->holders++;
			pthread_mutex_unlock(&sh->mu);
			desired_free(w, n);
			return x->w;
		}
	}
	xgrow((void **)&sh->v, &sh->cap, sh->n + 1, sizeof(*sh->v));
	sh->v[sh->n++] = (struct shared_set){h, w, n, 1};
	pthread_mutex_unlock(&sh->mu);
	return w;
}

void
desired_share_drop(struct desired_share *sh, struct want *w, size_t n)
{
	if (sh == NULL) {
		desired_free(w, n);
		return;
	}
	pthread_mutex_lock(&sh->mu);
	size_t i = 0;
	while (i < sh->n && sh->v[i].w != w)
		i++;
	bool last = i == sh->n || --sh->v[i].holders == 0;
	if (i < sh->n && last)
		sh->v[i] = sh->v[--sh->n];
	pthread_mutex_unlock(&sh->mu);
	if (last)
		desired_free(w, n);
}
