#include "plan.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "strset.h"
#include "util.h"

static const char *const op_names[OP__COUNT] = {
	"create", "update", "renew", "replace", "delete", "hold", "conflict", "over-budget", "keep",
};

const char *
op_name(enum op_kind k)
{
	return k < OP__COUNT ? op_names[k] : "?";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

uint64_t
plan_attr_hash(int action, int severity, const char *title, const char *description, const char *reco,
	       const char *const *groups, size_t ngroups, bool alert, const char *educate)
{
	struct strbuf sb = {0};
	sb_addf(&sb, "%d\x1f%d\x1f%s\x1f%s\x1f%s\x1f%d\x1f%s\x1f", action, severity, title ? title : "",
		description ? description : "", reco ? reco : "", alert, educate ? educate : "");
	const char **g = xmalloc((ngroups + 1) * sizeof(*g));
	for (size_t i = 0; i < ngroups; i++)
		g[i] = groups[i];
	qsort(g, ngroups, sizeof(*g), cmp_str);
	for (size_t i = 0; i < ngroups; i++)
		sb_addf(&sb, "%s\x1e", g[i]);
	free(g);
	uint64_t h = hash_bytes(sb.buf, sb.len, 0x6d646521);
	sb_free(&sb);
	return h;
}

bool
plan_item_retryable(const char *reason)
{
	/* MDE's reasons are opaque (spec 3.3): what names the input or a
	 * limit will fail again; anything else (internal errors,
	 * timeouts, the unknown) gets another chance. */
	static const char *const final[] = {
		"invalid", "missing", "not supported", "notsupported", "not allowed",    "disallowed", "forbidden",
		"exceed",  "maximum", "tenant cap",    "quota",        "already exists", "conflict"};
	if (reason == NULL)
		return true;
	for (size_t i = 0; i < NELEM(final); i++)
		if (strcasestr(reason, final[i]))
			return false;
	return true;
}

static size_t
tv_key(char *buf, size_t sz, enum ioc_type t, const char *value)
{
	int n = snprintf(buf, sz, "%d:%s", (int)t, value);
	return n < 0 ? 0 : (size_t)n < sz ? (size_t)n : sz - 1;
}

struct rank_ctx {
	const struct want *w;
	const bool *present; /* [nw]: iocsync holds it in MDE now */
};

/* Priority, then severity; among equals what is in MDE keeps its place
 * (a feed that grows, or someone who adds lines to it, never evicts
 * another feed's blocks of the same rank), then the newest. */
static int
cmp_rank(const void *a, const void *b, void *ctx)
{
	const struct rank_ctx *rc = ctx; /* not a global: tenants plan in threads at once */
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	const struct want *x = &rc->w[i], *y = &rc->w[j];
	if (x->priority != y->priority)
		return x->priority > y->priority ? -1 : 1;
	if (x->severity != y->severity)
		return x->severity > y->severity ? -1 : 1;
	if (rc->present[i] != rc->present[j])
		return rc->present[i] ? -1 : 1;
	if (x->first_seen != y->first_seen)
		return x->first_seen > y->first_seen ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return strcmp(x->value, y->value);
}

static void
add_op(struct plan *p, size_t *cap, enum op_kind k, size_t w, size_t h, bool late, const char *why)
{
	xgrow((void **)&p->ops, cap, p->n + 1, sizeof(*p->ops));
	p->ops[p->n++] = (struct op){k, w, h, late, why};
	p->count[k]++;
	if (k == OP_DELETE && !late)
		p->deletes++;
}

/* Is feed one of the comma-separated names in feeds? */
static bool
lists_feed(const char *feeds, const char *feed)
{
	size_t n = strlen(feed);
	for (const char *p = feeds; (p = strstr(p, feed)) != NULL; p += n)
		if ((p == feeds || p[-1] == ',') && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}

/* Why a value that came from feeds must be held (a feed of it is held),
 * or NULL. Unknown provenance (feeds NULL) may be a held feed's. */
static const char *
held_feed(const struct plan_in *in, const char *feeds)
{
	if (in->ndown == 0)
		return NULL;
	if (feeds == NULL)
		return "a feed is held and where it came from is unknown";
	for (size_t i = 0; i < in->ndown; i++)
		if (lists_feed(feeds, in->down[i].feed))
			return in->down[i].why;
	return NULL;
}

/* max_delete: a plan deleting more than that share of what iocsync owns
 * holds those deletions (unless forced), whatever else it does. */
static void
guard_max_delete(const struct plan_in *in, struct plan *p)
{
	long long limit = (long long)p->owned * in->max_delete_pct / 100;
	if (in->force || p->deletes == 0 || (long long)p->deletes <= limit)
		return;
	p->max_delete_held = true;
	for (size_t k = 0; k < p->n; k++) {
		struct op *o = &p->ops[k];
		if (o->kind != OP_DELETE || o->late)
			continue;
		long long gone = 0;
		const struct have *h = &in->h[o->have];
		const char *fs = in->state.feeds ? in->state.feeds(in->state.ctx, h->type, h->value, &gone) : NULL;
		bool forced = false;
		for (size_t f = 0; fs && f < in->nforce; f++)
			forced |= lists_feed(fs, in->force_feeds[f]);
		if (forced)
			continue;
		o->kind = OP_HOLD;
		o->why = "held by max_delete";
		p->count[OP_DELETE]--;
		p->count[OP_HOLD]++;
		p->deletes--;
		p->held++;
	}
}

void
plan_build(const struct plan_in *in, const struct feed_cfg *feeds, size_t nfeeds, struct plan *p)
{
	size_t cap = 0;
	char key[LIMIT_VALUE_BYTES + 16];
	memset(p, 0, sizeof(*p));
	p->over_by_feed = xcalloc(nfeeds ? nfeeds : 1, sizeof(size_t));

	/* Who holds what in MDE, by (type, value). */
	struct strset *others = strset_new();
	for (size_t i = 0; i < in->nh; i++) {
		if (in->h[i].owned) {
			p->owned++;
		} else {
			p->others++;
			strset_add(others, key, tv_key(key, sizeof(key), in->h[i].type, in->h[i].value), (int)i);
		}
	}

	/* Which want each owned have is, by (type, value): the haves are
	 * indexed (a few thousand at most, MDE's cap) and every want is
	 * looked up once, so a feed of millions costs no index of its own. */
	struct strset *hk = strset_new();
	size_t *next_same = xmalloc((in->nh ? in->nh : 1) * sizeof(*next_same));
	size_t *want_of = xmalloc((in->nh ? in->nh : 1) * sizeof(*want_of));
	for (size_t j = 0; j < in->nh; j++) {
		next_same[j] = want_of[j] = SIZE_MAX;
		if (!in->h[j].owned)
			continue;
		size_t kl = tv_key(key, sizeof(key), in->h[j].type, in->h[j].value);
		int at = strset_get(hk, key, kl);
		if (at < 0) {
			strset_add(hk, key, kl, (int)j);
		} else { /* another of the same type and value: chained after the first */
			next_same[j] = next_same[at];
			next_same[at] = j;
		}
	}
	bool *present = xcalloc(in->nw ? in->nw : 1, sizeof(*present));
	for (size_t i = 0; i < in->nw; i++) {
		int at = strset_get(hk, key, tv_key(key, sizeof(key), in->w[i].type, in->w[i].value));
		for (size_t j = at < 0 ? SIZE_MAX : (size_t)at; j != SIZE_MAX; j = next_same[j])
			if (want_of[j] == SIZE_MAX) /* the first want of that key: wants are distinct */
				want_of[j] = i;
		present[i] = at >= 0;
	}
	strset_free(hk);
	free(next_same);

	/* Conflicts out; the rest ranked and cut to the room left and to
	 * each feed's quota. */
	size_t *order = xmalloc((in->nw ? in->nw : 1) * sizeof(*order)), nc = 0;
	enum op_kind *fate = xcalloc(in->nw ? in->nw : 1, sizeof(*fate));
	const char **fate_why = xcalloc(in->nw ? in->nw : 1, sizeof(*fate_why));
	for (size_t i = 0; i < in->nw; i++) {
		if (strset_get(others, key, tv_key(key, sizeof(key), in->w[i].type, in->w[i].value)) >= 0)
			fate[i] = OP_CONFLICT;
		else
			order[nc++] = i, fate[i] = OP_KEEP;
	}
	long long room = in->cap - in->reserve - (in->others_known ? (long long)p->others : 0);
	p->room = room > 0 ? room : 0;
	struct rank_ctx rc = {in->w, present};
	qsort_r(order, nc, sizeof(*order), cmp_rank, &rc);
	long long *held_by = xcalloc(nfeeds ? nfeeds : 1, sizeof(*held_by)), taken = 0;
	for (size_t k = 0; k < nc; k++) {
		const struct feed_cfg *f = in->w[order[k]].feed;
		size_t fi = f ? (size_t)(f - feeds) : nfeeds;
		long long quota = fi >= nfeeds ? -1
			: f->quota > 0         ? f->quota
			: f->quota_pct > 0     ? p->room * f->quota_pct / 100
					       : -1;
		if (quota >= 0 && held_by[fi] >= quota) {
			fate[order[k]] = OP_OVER_BUDGET;
			fate_why[order[k]] = "over its feed's quota";
		} else if (taken >= p->room) {
			fate[order[k]] = OP_OVER_BUDGET;
			fate_why[order[k]] = "no room under the cap";
		} else {
			taken++;
			if (fi < nfeeds)
				held_by[fi]++;
		}
	}
	free(held_by);
	free(order);
	free(present);

	/* Match the owned ones. */
	size_t *match = xmalloc((in->nw ? in->nw : 1) * sizeof(*match));
	size_t *old = xmalloc((in->nw ? in->nw : 1) * sizeof(*old));
	for (size_t i = 0; i < in->nw; i++)
		match[i] = old[i] = SIZE_MAX;
	for (size_t j = 0; j < in->nh; j++) {
		const struct have *h = &in->h[j];
		if (!h->owned)
			continue;
		int wi = want_of[j] == SIZE_MAX ? -1 : (int)want_of[j];
		if (wi < 0) {
			long long gone = 0;
			const char *fs =
				in->state.feeds ? in->state.feeds(in->state.ctx, h->type, h->value, &gone) : NULL;
			const char *held = held_feed(in, fs);
			if (held) {
				add_op(p, &cap, OP_HOLD, SIZE_MAX, j, false, held);
				p->held++;
			} else if (in->grace_s > 0 && (gone == 0 || in->now - gone < in->grace_s))
				add_op(p, &cap, OP_HOLD, SIZE_MAX, j, false, "left its feeds, in the grace period");
			else
				add_op(p, &cap, OP_DELETE, SIZE_MAX, j, false, "left its feeds");
			continue;
		}
		size_t w = (size_t)wi;
		if (fate[w] == OP_OVER_BUDGET) {
			add_op(p, &cap, OP_DELETE, w, j, false,
			       fate_why[w][0] == 'o' ? "over its feed's quota"
						     : "over budget: makes room for a higher rank");
		} else if (h->action == (int)in->w[w].action && match[w] == SIZE_MAX) {
			match[w] = j;
		} else if (h->action == (int)in->w[w].action) {
			add_op(p, &cap, OP_DELETE, w, j, false, "a duplicate of one iocsync owns");
		} else {
			/* Another action: deleted once its replacement exists. */
			if (old[w] == SIZE_MAX)
				old[w] = j;
			add_op(p, &cap, OP_DELETE, w, j, true, "replaced by another action");
		}
	}

	for (size_t i = 0; i < in->nw; i++) {
		const struct want *w = &in->w[i];
		if (fate[i] == OP_CONFLICT) {
			int theirs = strset_get(others, key, tv_key(key, sizeof(key), w->type, w->value));
			add_op(p, &cap, OP_CONFLICT, i, (size_t)theirs, false, "owned by another app or a person");
			continue;
		}
		if (fate[i] == OP_OVER_BUDGET) {
			/* Listed one by one up to LIMIT_PLAN_OVER_LISTED, counted past it:
			 * a feed of millions is mostly over budget. */
			if (p->count[OP_OVER_BUDGET] < LIMIT_PLAN_OVER_LISTED)
				add_op(p, &cap, OP_OVER_BUDGET, i, SIZE_MAX, false, fate_why[i]);
			else
				p->count[OP_OVER_BUDGET]++;
			size_t f = (size_t)(w->feed - feeds);
			if (w->feed && f < nfeeds)
				p->over_by_feed[f]++;
			continue;
		}
		if (match[i] != SIZE_MAX) {
			const struct have *h = &in->h[match[i]];
			long long rb = in->renew_before_s ? in->renew_before_s
				: w->feed                 ? w->feed->expire_after_s / 3
							  : 86400;
			if (h->attrs != w->attrs)
				add_op(p, &cap, OP_UPDATE, i, match[i], false, "its attributes changed");
			else if (h->expire_at && h->expire_at - in->now < rb && w->expire_at > h->expire_at + 60)
				add_op(p, &cap, OP_RENEW, i, match[i], false, "expires soon");
			else
				add_op(p, &cap, OP_KEEP, i, match[i], false, "up to date");
		} else if (old[i] != SIZE_MAX) {
			add_op(p, &cap, OP_REPLACE, i, old[i], false, "its action changed");
		} else {
			add_op(p, &cap, OP_CREATE, i, SIZE_MAX, false, "new");
		}
	}
	/* A late delete whose want got a match (same action already there)
	 * needs no replacement first: it is a plain extra. */
	for (size_t k = 0; k < p->n; k++) {
		struct op *o = &p->ops[k];
		if (o->kind == OP_DELETE && o->late && match[o->want] != SIZE_MAX) {
			o->late = false;
			o->why = "another action of one iocsync owns";
			p->deletes++;
		}
	}
	guard_max_delete(in, p);
	free(match);
	free(old);
	free(fate);
	free(fate_why);
	free(want_of);
	strset_free(others);
}

void
plan_free(struct plan *p)
{
	free(p->ops);
	free(p->over_by_feed);
	memset(p, 0, sizeof(*p));
}
