#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocsync_limits.h"
#include "log.h"
#include "util.h"

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
	size_t kl = ioc_key(key, sizeof(key), x->type, x->value);
	int at = strset_get(s->idx, key, kl);
	if (at >= 0) {
		struct state_row *r = &s->r[at];
		if (x->first_seen < r->first_seen)
			r->first_seen = x->first_seen;
	} else {
		xgrow((void **)&s->r, &s->cap, s->n + 1, sizeof(*s->r));
		/* value and feeds in one allocation: a provider's run holds a
		 * state per running tenant */
		const char *feeds = x->feeds ? x->feeds : "";
		size_t nv = strlen(x->value) + 1, nf = strlen(feeds) + 1;
		char *v = xmalloc(nv + nf);
		memcpy(v, x->value, nv);
		memcpy(v + nv, feeds, nf);
		s->r[s->n] = (struct state_row){x->type, x->action, v, v + nv, x->first_seen, x->gone_since};
		at = (int)s->n++;
		strset_add(s->idx, key, kl, at);
	}
	if (x->mde_id && *x->mde_id)
		strset_add(s->ids, x->mde_id, strlen(x->mde_id), at);
}

void
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

bool
state_made(const struct state *s, const char *id, int t, const char *value)
{
	int at = id ? strset_get(s->ids, id, strlen(id)) : -1;
	return at >= 0 && s->r[at].type == t && strcmp(s->r[at].value, value) == 0;
}

const struct state_row *
state_get(const struct state *s, int t, const char *v)
{
	char key[LIMIT_VALUE_BYTES + 16];
	int at = strset_get(s->idx, key, ioc_key(key, sizeof(key), t, v));
	return at >= 0 ? &s->r[at] : NULL;
}

const char *
state_feeds(void *ctx, enum ioc_type t, const char *v, long long *gone)
{
	const struct state_row *r = state_get(ctx, (int)t, v);
	*gone = r ? r->gone_since : 0;
	return r ? r->feeds : NULL;
}

void
state_free(struct state *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->r[i].value); /* feeds shares its allocation */
	free(s->r);
	strset_free(s->idx);
	strset_free(s->ids);
}
