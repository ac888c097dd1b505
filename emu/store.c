/* The emulator's indicators in memory: who may see and change one, the
 * index by upsert key per tenant, expiry, removal, the change log. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

/* In a's tenant and created by a. */
static bool
owns(const struct app *a, const struct indicator *x)
{
	return strcmp(x->tenant, a->tenant) == 0 && app_is(a, x->by);
}

bool
emu_visible(const struct app *a, const struct indicator *x)
{
	if (a->roles & (ROLE_TI_RW_ALL | ROLE_TI_READ_ALL))
		return strcmp(x->tenant, a->tenant) == 0;
	return owns(a, x);
}

bool
emu_may_write(const struct app *a, const struct indicator *x)
{
	if (a->roles & ROLE_TI_RW_ALL)
		return strcmp(x->tenant, a->tenant) == 0;
	return (a->roles & ROLE_TI_RW) && owns(a, x);
}

/* ---- key index ---- */

static char tomb;
#define KMAP_TOMB (&tomb)

/* The upsert key: (tenant, type, value, action), or without the action
 * under upsert-key=type-value. */
char *
emu_key_of(const struct emu *e, const char *tenant, json_t *o, size_t *len)
{
	struct strbuf sb = {0};
	const char *parts[] = {tenant, json_string_value(json_object_get(o, "indicatorType")),
			       json_string_value(json_object_get(o, "indicatorValue")),
			       json_string_value(json_object_get(o, "action"))};
	for (size_t i = 0; i < (reading_alt(e, R_UPSERT_KEY) ? 3u : 4u); i++)
		sb_add(&sb, parts[i] ? parts[i] : "", (parts[i] ? strlen(parts[i]) : 0) + 1); /* with its NUL */
	*len = sb.len;
	return sb.buf;
}

/* The upsert key of a kept indicator. */
static char *
ind_key(const struct emu *e, const struct indicator *x, size_t *len)
{
	json_t *o = ind_obj(x);
	char *k = emu_key_of(e, x->tenant, o, len);
	json_decref(o);
	return k;
}

static struct kslot *
kmap_find(const struct kmap *m, const char *k, size_t n, bool for_insert)
{
	if (m->cap == 0)
		return NULL;
	struct kslot *first_tomb = NULL;
	for (size_t j = hash_bytes(k, n, 7) & (m->cap - 1);; j = (j + 1) & (m->cap - 1)) {
		struct kslot *s = &m->slots[j];
		if (s->key == NULL)
			return for_insert ? (first_tomb ? first_tomb : s) : NULL;
		if (s->key == KMAP_TOMB) {
			if (first_tomb == NULL)
				first_tomb = s;
		} else if (s->len == n && memcmp(s->key, k, n) == 0) {
			return s;
		}
	}
}

static void
kmap_put(struct kmap *m, char *k, size_t n, long long id)
{
	if ((m->used + 1) * 2 > m->cap) {
		struct kmap bigger = {xcalloc(m->cap ? m->cap * 2 : 1024, sizeof(struct kslot)),
				      m->cap ? m->cap * 2 : 1024, 0};
		for (size_t i = 0; i < m->cap; i++)
			if (m->slots[i].key && m->slots[i].key != KMAP_TOMB) {
				*kmap_find(&bigger, m->slots[i].key, m->slots[i].len, true) = m->slots[i];
				bigger.used++;
			}
		free(m->slots);
		*m = bigger;
	}
	struct kslot *s = kmap_find(m, k, n, true);
	if (s->key == NULL)
		m->used++;
	*s = (struct kslot){k, n, id};
}

static void
kmap_del(struct kmap *m, const char *k, size_t n)
{
	struct kslot *s = kmap_find(m, k, n, false);
	if (s) {
		free(s->key);
		s->key = KMAP_TOMB;
	}
}

static void
kmap_free(struct kmap *m)
{
	for (size_t i = 0; i < m->cap; i++)
		if (m->slots[i].key != KMAP_TOMB)
			free(m->slots[i].key);
	free(m->slots);
	*m = (struct kmap){0};
}

static struct interned *
intern(struct emu *e, const char *s)
{
	size_t n = strlen(s);
	struct kslot *k = kmap_find(&e->names, s, n, false);
	if (k)
		return e->interned[k->id];
	struct interned *x = xcalloc(1, sizeof(*x) + n + 1);
	memcpy(x->s, s, n + 1);
	e->interned = xrealloc(e->interned, (e->ninterned + 1) * sizeof(*e->interned));
	e->interned[e->ninterned] = x;
	kmap_put(&e->names, xstrdup(s), n, (long long)e->ninterned++);
	return x;
}

const char *
emu_intern(struct emu *e, const char *s)
{
	return intern(e, s ? s : "")->s;
}

/* The tenant's count of active indicators, kept by index_at and
 * remove_at: the cap check runs for every imported item. */
size_t
emu_active(struct emu *e, const char *tenant)
{
	return intern(e, tenant)->nids;
}

const long long *
emu_tenant_ids(struct emu *e, const char *tenant, size_t *n)
{
	struct interned *t = intern(e, tenant);
	*n = t->nids;
	return t->ids;
}

/* Where id is, or would go, in t's ids. */
static size_t
tenant_at(const struct interned *t, long long id)
{
	size_t lo = 0, hi = t->nids;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (t->ids[mid] < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void
tenant_add(struct emu *e, const char *tenant, long long id)
{
	struct interned *t = intern(e, tenant);
	size_t at = tenant_at(t, id);
	xgrow((void **)&t->ids, &t->ids_cap, t->nids + 1, sizeof(*t->ids));
	memmove(&t->ids[at + 1], &t->ids[at], (t->nids - at) * sizeof(*t->ids));
	t->ids[at] = id;
	t->nids++;
}

static void
tenant_del(struct emu *e, const char *tenant, long long id)
{
	struct interned *t = intern(e, tenant);
	size_t at = tenant_at(t, id);
	if (at < t->nids && t->ids[at] == id) {
		memmove(&t->ids[at], &t->ids[at + 1], (t->nids - at - 1) * sizeof(*t->ids));
		t->nids--;
	}
}

struct indicator *
emu_find_key(struct emu *e, const char *tenant, json_t *in)
{
	size_t n, at;
	char *k = emu_key_of(e, tenant, in, &n);
	struct kslot *s = kmap_find(&e->keys, k, n, false);
	free(k);
	return s ? emu_find_num(e, s->id, &at) : NULL;
}

/* One line of the change log (GET /_emulator/changes): what happened to
 * which indicator, in order, so a test can replay the tenant's state
 * between any two calls. */
#define CHANGES_KEPT 200000

void
emu_log_change(struct emu *e, const char *op, const struct indicator *x, const json_t *obj)
{
	/* Written as text (one per item of an import, under the lock). */
	json_t *o = obj ? json_incref((json_t *)obj) : ind_obj(x);
	struct strbuf *sb = &e->scratch;
	sb->len = 0;
	sb_adds(sb, "{\"op\":\"");
	sb_adds(sb, op);
	sb_adds(sb, "\",\"id\":");
	sb_add_int(sb, x->id);
	sb_adds(sb, ",\"tenant\":");
	sb_json_str(sb, x->tenant, strlen(x->tenant));
	static const char *const from_obj[][2] = {
		{",\"type\":", "indicatorType"}, {",\"value\":", "indicatorValue"}, {",\"action\":", "action"}};
	for (size_t i = 0; i < NELEM(from_obj); i++) {
		sb_adds(sb, from_obj[i][0]);
		emu_put_json(sb, json_object_get(o, from_obj[i][1]));
	}
	sb_adds(sb, ",\"createdBy\":");
	if (x->by)
		sb_json_str(sb, x->by, strlen(x->by));
	else
		sb_adds(sb, "null");
	sb_adds(sb, ",\"at_ms\":");
	sb_add_int(sb, (long long)emu_now_ms(e));
	sb_addc(sb, '}');
	json_decref(o);
	if (e->changes.line == NULL)
		e->changes.line = xcalloc(CHANGES_KEPT, sizeof(*e->changes.line));
	size_t at = (e->changes.head + e->changes.n) % CHANGES_KEPT;
	if (e->changes.n == CHANGES_KEPT) { /* the oldest goes */
		emu_text_drop(e, e->changes.line[e->changes.head]);
		e->changes.head = (e->changes.head + 1) % CHANGES_KEPT;
	} else {
		e->changes.n++;
	}
	e->changes.line[at] = emu_text_keep(e, sb->buf, sb->len);
}

json_t *
emu_changes(const struct emu *e)
{
	json_t *all = json_array();
	for (size_t i = 0; i < e->changes.n; i++)
		json_array_append_new(all, json_loads(e->changes.line[(e->changes.head + i) % CHANGES_KEPT], 0, NULL));
	return all;
}

void
emu_changes_clear(struct emu *e)
{
	for (size_t i = 0; i < e->changes.n; i++)
		emu_text_drop(e, e->changes.line[(e->changes.head + i) % CHANGES_KEPT]);
	free(e->changes.line);
	e->changes.line = NULL;
	e->changes.head = e->changes.n = 0;
}

/* Takes indicator i out of the key and tenant indexes, logged, and
 * marks it gone (id 0, never an indicator's) for sweep. */
static void
unindex(struct emu *e, size_t i, const char *why)
{
	size_t n;
	emu_log_change(e, why, &e->inds[i], NULL);
	char *k = ind_key(e, &e->inds[i], &n);
	kmap_del(&e->keys, k, n);
	free(k);
	tenant_del(e, e->inds[i].tenant, e->inds[i].id);
	emu_text_drop(e, e->inds[i].text);
	e->inds[i].text = NULL;
	e->inds[i].id = 0;
}

/* Closes the gaps unindex left, from index from on, in one pass: a
 * batch of 500 deletes among a provider's 2 million indicators moves the
 * array once, not 500 times. */
static void
sweep(struct emu *e, size_t from)
{
	size_t w = from;
	for (size_t i = from; i < e->ninds; i++)
		if (e->inds[i].id != 0)
			e->inds[w++] = e->inds[i];
	e->ninds = w;
}

void
emu_remove_at(struct emu *e, size_t i, const char *why)
{
	unindex(e, i, why);
	sweep(e, i);
}

void
emu_remove_each(struct emu *e, const size_t *at, size_t n, const char *why)
{
	size_t from = e->ninds;
	for (size_t i = 0; i < n; i++) {
		if (e->inds[at[i]].id == 0) /* named twice: gone already */
			continue;
		unindex(e, at[i], why);
		if (at[i] < from)
			from = at[i];
	}
	sweep(e, from);
}

void
emu_expiry_note(struct emu *e, const struct indicator *x)
{
	if (x->expire_at && (e->expiry_due == 0 || x->expire_at < e->expiry_due))
		e->expiry_due = x->expire_at;
}

/* Removes what has expired. Every call looks only when something may
 * have: a provider's test holds millions, and this runs for every call. */
void
ind_expire(struct emu *e)
{
	long long now = emu_now_ms(e) / 1000;
	if (e->expiry_due == 0 || e->expiry_due > now)
		return;
	e->expiry_due = 0;
	size_t from = e->ninds;
	for (size_t i = e->ninds; i-- > 0;) {
		if (e->inds[i].expire_at && e->inds[i].expire_at <= now) {
			unindex(e, i, "expire");
			from = i;
		} else {
			emu_expiry_note(e, &e->inds[i]);
		}
	}
	sweep(e, from);
}

void
ind_free_all(struct emu *e)
{
	/* All at once, not one by one as a delete goes: a reset and the end
	 * clear the change log after, and 2 million indicators taken out
	 * each with its change line took minutes to stop (perf). */
	for (size_t i = 0; i < e->ninds; i++)
		emu_text_drop(e, e->inds[i].text);
	for (size_t i = 0; i < e->ninterned; i++)
		e->interned[i]->nids = 0;
	e->ninds = 0;
	free(e->inds);
	e->inds = NULL;
	e->inds_cap = 0;
	kmap_free(&e->keys);
}

void
emu_names_free(struct emu *e)
{
	kmap_free(&e->names);
	for (size_t i = 0; i < e->ninterned; i++) {
		free(e->interned[i]->ids);
		free(e->interned[i]);
	}
	free(e->interned);
	e->interned = NULL;
	e->ninterned = 0;
}

/* Indexes the indicator at position i (after it has its fields). */
void
emu_index_at(struct emu *e, size_t i, const json_t *obj)
{
	size_t n;
	char *k = obj ? emu_key_of(e, e->inds[i].tenant, (json_t *)obj, &n) : ind_key(e, &e->inds[i], &n);
	emu_expiry_note(e, &e->inds[i]);
	kmap_put(&e->keys, k, n, e->inds[i].id);
	tenant_add(e, e->inds[i].tenant, e->inds[i].id);
}

void
ind_reindex(struct emu *e)
{
	kmap_free(&e->keys);
	for (size_t i = 0; i < e->ninds; i++) {
		size_t n;
		char *k = ind_key(e, &e->inds[i], &n);
		kmap_put(&e->keys, k, n, e->inds[i].id);
	}
}

/* The indicators stay sorted by id: binary search. */
size_t
emu_lower_bound(const struct emu *e, long long id)
{
	size_t lo = 0, hi = e->ninds;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (e->inds[mid].id < id)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

struct indicator *
emu_find_num(struct emu *e, long long id, size_t *at)
{
	size_t i = emu_lower_bound(e, id);
	if (i == e->ninds || e->inds[i].id != id)
		return NULL;
	*at = i;
	return &e->inds[i];
}
