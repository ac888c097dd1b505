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
plan_op_name(enum op_kind k)
{
	return k < OP__COUNT ? op_names[k] : "?";
}

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

long long
want_expiry(const struct want *w, long long now)
{
	long long at = now + w->feed->expire_after_s;
	return w->item_expire > 0 && w->item_expire < at ? w->item_expire : at;
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

struct rank_ctx {
	const struct want *w;
	const long long *first_seen; /* [nw] */
	const bool *present;         /* [nw]: iocsync holds it in MDE now */
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
	if (rc->first_seen[i] != rc->first_seen[j])
		return rc->first_seen[i] > rc->first_seen[j] ? -1 : 1;
	if (x->type != y->type)
		return x->type < y->type ? -1 : 1;
	return strcmp(x->value, y->value);
}

static void
add_op(struct plan *p, size_t *cap, enum op_kind k, size_t w, size_t h, bool late, const char *why)
{
	xgrow((void **)&p->ops, cap, p->n + 1, sizeof(*p->ops));
	p->ops[p->n++] = (struct op){.why = why,
				     .want = w == SIZE_MAX ? OP_NONE : (uint32_t)w,
				     .have = h == SIZE_MAX ? OP_NONE : (uint32_t)h,
				     .kind = k,
				     .late = late};
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

/* One plan_build, stage by stage. */
struct build {
	const struct plan_in *in;
	const struct feed_cfg *feeds;
	size_t nfeeds;
	struct plan *p;
	size_t cap;            /* of p->ops */
	struct strset *others; /* (type, value) -> a have another owner holds */
	size_t *want_of;       /* [nh] the want an owned have is, or SIZE_MAX */
	bool *present;         /* [nw] iocsync holds it in MDE already */
	enum op_kind *fate;    /* [nw] OP_CONFLICT, OP_OVER_BUDGET or OP_KEEP (it fits) */
	const char **fate_why; /* [nw] why over budget */
	size_t *match;         /* [nw] the owned have with the same action, or SIZE_MAX */
	size_t *old;           /* [nw] an owned have with another action, or SIZE_MAX */
	char key[LIMIT_VALUE_BYTES + 16];
};

/* Who holds what in MDE, by (type, value); which want each owned have
 * is: the haves are indexed (a few thousand at most, MDE's cap) and
 * every want is looked up once, so a feed of millions costs no index of
 * its own. */
static void
index_haves(struct build *b)
{
	const struct plan_in *in = b->in;
	char *key = b->key;
	size_t ks = sizeof(b->key);
	b->others = strset_new();
	struct strset *hk = strset_new();
	size_t *next_same = xmalloc((in->nh ? in->nh : 1) * sizeof(*next_same));
	b->want_of = xmalloc((in->nh ? in->nh : 1) * sizeof(*b->want_of));
	for (size_t j = 0; j < in->nh; j++) {
		next_same[j] = b->want_of[j] = SIZE_MAX;
		size_t kl = ioc_key(key, ks, in->h[j].type, in->h[j].value);
		if (!in->h[j].owned) {
			b->p->others++;
			strset_add(b->others, key, kl, (int)j);
			continue;
		}
		b->p->owned++;
		int at = strset_get(hk, key, kl);
		if (at < 0) {
			strset_add(hk, key, kl, (int)j);
		} else { /* another of the same type and value: chained after the first */
			next_same[j] = next_same[at];
			next_same[at] = j;
		}
	}
	b->present = xcalloc(in->nw ? in->nw : 1, sizeof(*b->present));
	for (size_t i = 0; i < in->nw; i++) {
		int at = strset_get(hk, key, ioc_key(key, ks, in->w[i].type, in->w[i].value));
		for (size_t j = at < 0 ? SIZE_MAX : (size_t)at; j != SIZE_MAX; j = next_same[j])
			if (b->want_of[j] == SIZE_MAX) /* the first want of that key: wants are distinct */
				b->want_of[j] = i;
		b->present[i] = at >= 0;
	}
	strset_free(hk);
	free(next_same);
}

/* Conflicts out; the rest ranked and cut to the room left and to each
 * feed's quota. */
static void
rank(struct build *b)
{
	const struct plan_in *in = b->in;
	struct plan *p = b->p;
	size_t *order = xmalloc((in->nw ? in->nw : 1) * sizeof(*order)), nc = 0;
	b->fate = xcalloc(in->nw ? in->nw : 1, sizeof(*b->fate));
	b->fate_why = xcalloc(in->nw ? in->nw : 1, sizeof(*b->fate_why));
	for (size_t i = 0; i < in->nw; i++) {
		if (strset_get(b->others, b->key, ioc_key(b->key, sizeof(b->key), in->w[i].type, in->w[i].value)) >= 0)
			b->fate[i] = OP_CONFLICT;
		else
			order[nc++] = i, b->fate[i] = OP_KEEP;
	}
	long long room = in->cap - in->reserve - (in->others_known ? (long long)p->others : 0);
	p->room = room > 0 ? room : 0;
	struct rank_ctx rc = {in->w, in->first_seen, b->present};
	qsort_r(order, nc, sizeof(*order), cmp_rank, &rc);
	long long *held_by = xcalloc(b->nfeeds ? b->nfeeds : 1, sizeof(*held_by)), taken = 0;
	for (size_t k = 0; k < nc; k++) {
		const struct feed_cfg *f = in->w[order[k]].feed;
		size_t fi = f ? (size_t)(f - b->feeds) : b->nfeeds;
		long long quota = fi >= b->nfeeds ? -1
			: f->quota > 0            ? f->quota
			: f->quota_pct > 0        ? p->room * f->quota_pct / 100
						  : -1;
		if (quota >= 0 && held_by[fi] >= quota) {
			b->fate[order[k]] = OP_OVER_BUDGET;
			b->fate_why[order[k]] = "over its feed's quota";
		} else if (taken >= p->room) {
			b->fate[order[k]] = OP_OVER_BUDGET;
			b->fate_why[order[k]] = "no room under the cap";
		} else {
			taken++;
			if (fi < b->nfeeds)
				held_by[fi]++;
		}
	}
	free(held_by);
	free(order);
}

/* An owned have no feed lists: held by a guard, kept in the grace
 * period, or deleted. */
static void
left_feeds(struct build *b, size_t j)
{
	const struct plan_in *in = b->in;
	const struct have *h = &in->h[j];
	long long gone = 0;
	const char *fs = in->state.feeds ? in->state.feeds(in->state.ctx, h->type, h->value, &gone) : NULL;
	const char *held = held_feed(in, fs);
	if (held) {
		add_op(b->p, &b->cap, OP_HOLD, SIZE_MAX, j, false, held);
		b->p->held++;
	} else if (in->grace_s > 0 && (gone == 0 || in->now - gone < in->grace_s)) {
		add_op(b->p, &b->cap, OP_HOLD, SIZE_MAX, j, false, "left its feeds, in the grace period");
	} else {
		add_op(b->p, &b->cap, OP_DELETE, SIZE_MAX, j, false, "left its feeds");
	}
}

/* Each owned have: matched to its want, or deleted (over budget, a
 * duplicate, an old action once its replacement exists). */
static void
match_owned(struct build *b)
{
	const struct plan_in *in = b->in;
	b->match = xmalloc((in->nw ? in->nw : 1) * sizeof(*b->match));
	b->old = xmalloc((in->nw ? in->nw : 1) * sizeof(*b->old));
	for (size_t i = 0; i < in->nw; i++)
		b->match[i] = b->old[i] = SIZE_MAX;
	for (size_t j = 0; j < in->nh; j++) {
		const struct have *h = &in->h[j];
		if (!h->owned)
			continue;
		size_t w = b->want_of[j];
		if (w == SIZE_MAX) {
			left_feeds(b, j);
		} else if (b->fate[w] == OP_OVER_BUDGET) {
			add_op(b->p, &b->cap, OP_DELETE, w, j, false,
			       b->fate_why[w][0] == 'o' ? "over its feed's quota"
							: "over budget: makes room for a higher rank");
		} else if (h->action == (int)in->w[w].action && b->match[w] == SIZE_MAX) {
			b->match[w] = j;
		} else if (h->action == (int)in->w[w].action) {
			add_op(b->p, &b->cap, OP_DELETE, w, j, false, "a duplicate of one iocsync owns");
		} else {
			/* Another action: deleted once its replacement exists. */
			if (b->old[w] == SIZE_MAX)
				b->old[w] = j;
			add_op(b->p, &b->cap, OP_DELETE, w, j, true, "replaced by another action");
		}
	}
}

/* What becomes of want i. */
static void
plan_want(struct build *b, size_t i)
{
	const struct plan_in *in = b->in;
	struct plan *p = b->p;
	const struct want *w = &in->w[i];
	if (b->fate[i] == OP_CONFLICT) {
		int theirs = strset_get(b->others, b->key, ioc_key(b->key, sizeof(b->key), w->type, w->value));
		add_op(p, &b->cap, OP_CONFLICT, i, (size_t)theirs, false, "owned by another app or a person");
	} else if (b->fate[i] == OP_OVER_BUDGET) {
		/* Listed one by one up to LIMIT_PLAN_OVER_LISTED, counted past it:
		 * a feed of millions is mostly over budget. */
		if (p->count[OP_OVER_BUDGET] < LIMIT_PLAN_OVER_LISTED)
			add_op(p, &b->cap, OP_OVER_BUDGET, i, SIZE_MAX, false, b->fate_why[i]);
		else
			p->count[OP_OVER_BUDGET]++;
		size_t f = (size_t)(w->feed - b->feeds);
		if (w->feed && f < b->nfeeds)
			p->over_by_feed[f]++;
	} else if (b->match[i] != SIZE_MAX) {
		const struct have *h = &in->h[b->match[i]];
		long long rb = in->renew_before_s ? in->renew_before_s : w->feed->expire_after_s / 3;
		if (h->attrs != in->attrs[i])
			add_op(p, &b->cap, OP_UPDATE, i, b->match[i], false, "its attributes changed");
		else if (h->expire_at && h->expire_at - in->now < rb && want_expiry(w, in->now) > h->expire_at + 60)
			add_op(p, &b->cap, OP_RENEW, i, b->match[i], false, "expires soon");
		else
			add_op(p, &b->cap, OP_KEEP, i, b->match[i], false, "up to date");
	} else if (b->old[i] != SIZE_MAX) {
		add_op(p, &b->cap, OP_REPLACE, i, b->old[i], false, "its action changed");
	} else {
		add_op(p, &b->cap, OP_CREATE, i, SIZE_MAX, false, "new");
	}
}

void
plan_build(const struct plan_in *in, const struct feed_cfg *feeds, size_t nfeeds, struct plan *p)
{
	memset(p, 0, sizeof(*p));
	p->over_by_feed = xcalloc(nfeeds ? nfeeds : 1, sizeof(size_t));
	struct build b = {.in = in, .feeds = feeds, .nfeeds = nfeeds, .p = p};
	index_haves(&b);
	rank(&b);
	free(b.present);
	match_owned(&b);
	for (size_t i = 0; i < in->nw; i++)
		plan_want(&b, i);
	/* A late delete whose want got a match (same action already there)
	 * needs no replacement first: it is a plain extra. */
	for (size_t k = 0; k < p->n; k++) {
		struct op *o = &p->ops[k];
		if (o->kind == OP_DELETE && o->late && b.match[o->want] != SIZE_MAX) {
			o->late = false;
			o->why = "another action of one iocsync owns";
			p->deletes++;
		}
	}
	guard_max_delete(in, p);
	if (p->n) /* held while the run waits on MDE's budget: no slack */
		p->ops = xrealloc(p->ops, p->n * sizeof(*p->ops));
	free(b.match);
	free(b.old);
	free(b.fate);
	free(b.fate_why);
	free(b.want_of);
	strset_free(b.others);
}

void
plan_free(struct plan *p)
{
	free(p->ops);
	free(p->over_by_feed);
	memset(p, 0, sizeof(*p));
}
