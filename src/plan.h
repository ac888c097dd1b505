/*
 * The plan: what sync must do to make the indicators iocsync owns in
 * MDE equal to the desired set. A pure function of the desired set, of
 * what MDE holds and of what the state remembers; unit-tested without
 * a network.
 */
#ifndef IOCSYNC_PLAN_H
#define IOCSYNC_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config.h"
#include "ioc.h"

/* One desired indicator: what the feeds ask for a value, the same for
 * every tenant that takes the same feeds. Read only once built, since
 * those tenants share one desired set (desired_share_take); what is a
 * tenant's own (when it first saw the value, the hash of what it holds,
 * the expiry from its run's clock) is kept beside the set: plan_in's
 * first_seen and attrs, want_expiry. */
struct want {
	enum ioc_type type;
	enum ioc_action action;
	enum severity severity;
	int priority;
	const struct feed_cfg *feed; /* the feed that decides the attributes */
	char *value;
	char *item_title, *item_desc; /* the feed item's own name and text (STIX, MISP), or NULL */
	long long item_expire;        /* the feed item's own expiry (STIX valid_until), or 0 */
	char *feeds;                  /* every feed that lists it: "a,b" (its feed's name when
					 alone: then not owned, feeds_owned false) */
	bool feeds_owned;
};

/* When w expires if sent at now: its feed's expire_after from now, or
 * the item's own expiry when that is sooner. */
long long want_expiry(const struct want *w, long long now);

/* One indicator MDE holds. */
struct have {
	char *id;           /* id, value and owner are one allocation, freed with id (model_haves_free) */
	enum ioc_type type; /* IOC_NONE: a type iocsync does not know */
	char *value;
	int action; /* enum ioc_action, or -1 (legacy or unknown) */
	bool owned;
	long long expire_at; /* 0: never */
	uint64_t attrs;
	char *owner; /* createdByDisplayName, else createdBy, else "" */
};

enum op_kind {
	OP_CREATE,      /* import a new one */
	OP_UPDATE,      /* import: its attributes changed */
	OP_RENEW,       /* import: it would expire soon */
	OP_REPLACE,     /* import with the new action, then delete the old */
	OP_DELETE,      /* BatchDelete */
	OP_HOLD,        /* left its feeds, kept for now (grace, a feed down) */
	OP_CONFLICT,    /* somebody else owns the same type and value (have: theirs) */
	OP_OVER_BUDGET, /* does not fit under the cap */
	OP_KEEP,        /* nothing to do */
	OP__COUNT
};
/* "create", "update", ... (stable: JSON, logs). */
const char *plan_op_name(enum op_kind k);

/* No want, or no have, in an op. */
#define OP_NONE UINT32_MAX

/* 24 bytes: a provider's run holds one per value per running tenant. */
struct op {
	const char *why; /* static text */
	uint32_t want;   /* index in the desired set, or OP_NONE */
	uint32_t have;   /* index in MDE's list, or OP_NONE */
	enum op_kind kind;
	bool late; /* a delete that waits for its replacement */
};

struct plan_state {
	/* From the store, by (type, value): the feeds an owned indicator
	 * came from and since when it left them (0: it did not). NULL
	 * feeds: the state does not know it. */
	const char *(*feeds)(void *ctx, enum ioc_type t, const char *value, long long *gone_since);
	void *ctx;
};

/* A feed whose deletions are held this run, and why: it is down with no
 * snapshot, it shrank past max_shrink, it is paused (enabled = no), or
 * it names a device group MDE does not know. */
struct plan_down {
	const char *feed;
	const char *why; /* static text: "its feed is down" ... */
};

struct plan_in {
	const struct want *w;
	size_t nw;
	const long long *first_seen; /* [nw] recency, from the state (now when new) */
	const uint64_t *attrs;       /* [nw] plan_attr_hash of what would be sent, for the
					wants iocsync holds in MDE (desired_hash_held) */
	struct have *h;
	size_t nh;
	long long now;
	long long cap, reserve;
	long long grace_s;
	long long renew_before_s; /* 0: a third of each feed's expire_after */
	bool others_known;        /* the list showed every creator's indicators */
	/* Feeds whose deletions are held: what came from them and left the
	 * desired set is held, never deleted. */
	const struct plan_down *down;
	size_t ndown;
	/* The max_delete guard: a plan deleting more than this share of
	 * what iocsync owns holds its deletions (none when force), except
	 * those of values that came from a feed of force_feeds. Creates,
	 * updates and renewals are never held. */
	int max_delete_pct;
	bool force;
	const char *const *force_feeds;
	size_t nforce;
	struct plan_state state;
};

struct plan {
	struct op *ops;
	size_t n;
	size_t count[OP__COUNT];
	size_t deletes;       /* OP_DELETE that are not late (replacements) */
	size_t held;          /* deletions a guard held (OP_HOLD that is not a grace period) */
	bool max_delete_held; /* the max_delete guard tripped */
	size_t owned, others; /* in MDE now */
	long long room;       /* what iocsync may hold */
	size_t *over_by_feed; /* [nfeeds]: desired that did not fit */
};

/* Builds the plan; free with plan_free. nfeeds sizes over_by_feed,
 * indexed by feed_cfg position in feeds. */
void plan_build(const struct plan_in *in, const struct feed_cfg *feeds, size_t nfeeds, struct plan *out);
void plan_free(struct plan *p);

/* The hash of the attributes iocsync sets, from either side. groups
 * need not be sorted. */
uint64_t plan_attr_hash(int action, int severity, const char *title, const char *description, const char *reco,
			const char *const *groups, size_t ngroups, bool alert, const char *educate);

/* Would MDE's failureReason for an import item pass on a retry? */
bool plan_item_retryable(const char *reason);

#endif
