#include "state.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"

static void
state_row(void *ctx, const struct store_ind *x)
{
	struct state *s = ctx;
	/* A corrupt row (no value) is skipped: the list decides then. */
	if (x->value == NULL) {
		s->corrupt++;
		return;
	}
	xgrow((void **)&s->r, &s->cap, s->n + 1, sizeof(*s->r));
	const char *feeds = x->feeds ? x->feeds : "", *id = x->mde_id ? x->mde_id : "";
	size_t nv = strlen(x->value) + 1, nf = strlen(feeds) + 1, ni = strlen(id) + 1;
	char *v = xmalloc(nv + nf + ni);
	memcpy(v, x->value, nv);
	memcpy(v + nv, feeds, nf);
	memcpy(v + nv + nf, id, ni);
	s->r[s->n++] = (struct state_row){x->type, x->action, v, v + nv, v + nv + nf, x->first_seen, x->gone_since};
}

static int
key_cmp(int t, const char *v, const struct state_row *r)
{
	return t != r->type ? (t < r->type ? -1 : 1) : strcmp(v, r->value);
}

static int
row_cmp(const void *a, const void *b)
{
	const struct state_row *x = a;
	return key_cmp(x->type, x->value, b);
}

static int
id_cmp(const void *a, const void *b)
{
	return strcmp((*(struct state_row *const *)a)->id, (*(struct state_row *const *)b)->id);
}

void
state_load(struct store *st, struct state *s)
{
	*s = (struct state){0};
	if (store_ind_each(st, state_row, s) != ERR_OK)
		log_warn("state: cannot read the indicators table");
	if (s->corrupt)
		log_warn(
			"state: %zu rows of the indicators table have no value: ignored (what MDE lists decides, and "
			"this run records it again)",
			s->corrupt);
	/* The table reads in (type, value) order; a damaged one may not. */
	for (size_t i = 1; i < s->n; i++)
		if (row_cmp(&s->r[i - 1], &s->r[i]) > 0) {
			qsort(s->r, s->n, sizeof(*s->r), row_cmp);
			break;
		}
	if (s->n && s->n < s->cap) /* a run holds it to its end */
		s->r = xrealloc(s->r, s->n * sizeof(*s->r));
	s->cap = s->n;
	s->ids = xcalloc(s->n ? s->n : 1, sizeof(*s->ids));
	for (size_t i = 0; i < s->n; i++) {
		struct state_row *r = &s->r[i];
		if (*r->id)
			s->ids[s->nids++] = r;
		/* A value under two actions: its first row answers for it, seen
		 * since the earlier of the two. */
		for (size_t j = i + 1; j < s->n && row_cmp(r, &s->r[j]) == 0; j++)
			if (s->r[j].first_seen < r->first_seen)
				r->first_seen = s->r[j].first_seen;
	}
	qsort(s->ids, s->nids, sizeof(*s->ids), id_cmp);
}

bool
state_made(const struct state *s, const char *id, int t, const char *value)
{
	if (id == NULL || *id == '\0')
		return false;
	size_t lo = 0, hi = s->nids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (strcmp(s->ids[mid]->id, id) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	/* A damaged table may give one id twice. */
	for (; lo < s->nids && strcmp(s->ids[lo]->id, id) == 0; lo++)
		if (s->ids[lo]->type == t && strcmp(s->ids[lo]->value, value) == 0)
			return true;
	return false;
}

const struct state_row *
state_get(const struct state *s, int t, const char *v)
{
	size_t lo = 0, hi = s->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (key_cmp(t, v, &s->r[mid]) > 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < s->n && key_cmp(t, v, &s->r[lo]) == 0 ? &s->r[lo] : NULL;
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
		free(s->r[i].value); /* feeds and id share its allocation */
	free(s->r);
	free(s->ids);
}
