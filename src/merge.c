#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * One hash table over one arena, single-threaded.
 *
 * The arena holds one record per item, in the order items were first
 * added: a small header (struct rec) and the canonical value as text
 * with a NUL, each record starting at a multiple of 4 bytes. items[i]
 * is where item i's record starts (offset / 4).
 *
 * The table is open addressing with linear probing. A slot holds the
 * high 32 bits of the value's hash (its tag) and where the item's record
 * starts (offset / 4 + 1; 0: empty), and the record holds the item's
 * index. An item's home slot is its tag modulo the table's size, so the
 * table doubles (at 3/4 full) from the slots alone, and a lookup reads a
 * record only when a tag agrees: two cache misses at most on a big set.
 *
 * Sources (feed, line) are appended flat and grouped per item when
 * merge_sources first asks after adds. Titles, descriptions and
 * expiries are rare (STIX, MISP): they live beside, found by item.
 */

struct rec {
	uint32_t item; /* its index */
	uint16_t len;  /* value bytes, without the NUL */
	uint8_t type;  /* enum ioc_type */
	uint8_t has_attrs;
	uint16_t feed;      /* the feed that decides the attributes */
	uint16_t last_feed; /* the last feed that gave it: new_in_feed */
	int16_t priority;   /* the deciding feed's */
	char value[];
};
_Static_assert(LIMIT_VALUE_BYTES <= UINT16_MAX, "a value's length fits the record");
_Static_assert(LIMIT_FEEDS <= UINT16_MAX, "a feed index fits the record");

struct slot {
	uint32_t tag; /* hash >> 32 */
	uint32_t rec; /* the record's arena offset / 4 + 1; 0 is empty */
};

struct attrs {
	char *title, *description;
	long long expire_at;
};

struct src_flat {
	uint32_t item, feed, line;
};

struct merge {
	char *arena;
	size_t arena_len, arena_cap;
	uint32_t *items; /* item -> arena offset / 4 */
	size_t nitems, items_cap;
	struct slot *slots;
	size_t nslots, slots_cap; /* nslots: a power of two */
	struct src_flat *srcs;
	size_t nsrcs, srcs_cap;
	bool no_sources;
	struct attrs *attrs; /* attrs[attr_of[item] - 1] for items with has_attrs */
	size_t nattrs, attrs_cap;
	uint32_t *attr_of;
	size_t attr_of_cap;
	/* merge_sources: the sources grouped per item, as of grouped_n */
	struct merge_src *grouped;
	size_t *first; /* nitems + 1 offsets into grouped */
	size_t grouped_n, grouped_items;
};

#define AT(m, off) ((struct rec *)((m)->arena + (size_t)(off)*4))
#define REC(m, item) AT(m, (m)->items[item])

struct merge *
merge_new(void)
{
	struct merge *m = xcalloc(1, sizeof(*m));
	m->nslots = 1024;
	big_grow((void **)&m->slots, &m->slots_cap, m->nslots, sizeof(*m->slots));
	return m;
}

void
merge_skip_sources(struct merge *m)
{
	m->no_sources = true;
}

void
merge_free(struct merge *m)
{
	if (m == NULL)
		return;
	big_free(m->arena, m->arena_cap);
	big_free(m->items, m->items_cap * sizeof(*m->items));
	big_free(m->slots, m->slots_cap * sizeof(*m->slots));
	big_free(m->srcs, m->srcs_cap * sizeof(*m->srcs));
	for (size_t i = 0; i < m->nattrs; i++) {
		free(m->attrs[i].title);
		free(m->attrs[i].description);
	}
	free(m->attrs);
	free(m->attr_of);
	free(m->grouped);
	free(m->first);
	free(m);
}

uint64_t
merge_hash(enum ioc_type t, const char *value, size_t len)
{
	return hash_bytes(value, len, 0x9e3779b97f4a7c15ull * ((uint64_t)t + 1));
}

/* Doubles the table, placing each slot by its tag alone. */
static void
grow_table(struct merge *m)
{
	size_t n = m->nslots * 2, cap = 0;
	struct slot *s = NULL;
	big_grow((void **)&s, &cap, n, sizeof(*s));
	for (size_t i = 0; i < m->nslots; i++) {
		if (m->slots[i].rec == 0)
			continue;
		size_t j = m->slots[i].tag & (n - 1);
		while (s[j].rec != 0)
			j = (j + 1) & (n - 1);
		s[j] = m->slots[i];
	}
	big_free(m->slots, m->slots_cap * sizeof(*m->slots));
	m->slots = s;
	m->slots_cap = cap;
	m->nslots = n;
}

/* The slot holding (t, value), or the empty slot where it would go. */
static struct slot *
lookup(const struct merge *m, uint64_t hash, enum ioc_type t, const char *value, size_t len)
{
	uint32_t tag = (uint32_t)(hash >> 32);
	size_t mask = m->nslots - 1;
	for (size_t j = tag & mask;; j = (j + 1) & mask) {
		struct slot *s = &m->slots[j];
		if (s->rec == 0)
			return s;
		if (s->tag != tag)
			continue;
		const struct rec *r = AT(m, s->rec - 1);
		if (r->type == t && r->len == len && memcmp(r->value, value, len) == 0)
			return s;
	}
}

/* A new item's record, numbered next. */
static uint32_t
make(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed, int32_t priority)
{
	size_t size = (sizeof(struct rec) + len + 1 + 3) & ~(size_t)3;
	if (m->arena_len / 4 + size / 4 >= UINT32_MAX || m->nitems >= UINT32_MAX - 1)
		abort(); /* 16 GiB of values or 4 billion items: far past every limit upstream */
	big_grow((void **)&m->arena, &m->arena_cap, m->arena_len + size, 1);
	big_grow((void **)&m->items, &m->items_cap, m->nitems + 1, sizeof(*m->items));
	struct rec *r = (struct rec *)(m->arena + m->arena_len);
	*r = (struct rec){.item = (uint32_t)m->nitems,
			  .len = (uint16_t)len,
			  .type = (uint8_t)t,
			  .feed = (uint16_t)feed,
			  .last_feed = (uint16_t)feed,
			  .priority = (int16_t)priority};
	memcpy(r->value, value, len);
	r->value[len] = '\0';
	m->items[m->nitems] = (uint32_t)(m->arena_len / 4);
	m->arena_len += size;
	return (uint32_t)m->nitems++;
}

/* Sets item i's attributes (all NULL and 0: none). */
static void
set_attrs(struct merge *m, uint32_t i, const char *title, const char *description, long long expire_at)
{
	struct rec *r = REC(m, i);
	if (!r->has_attrs) {
		if (title == NULL && description == NULL && expire_at == 0)
			return;
		xgrow((void **)&m->attrs, &m->attrs_cap, m->nattrs + 1, sizeof(*m->attrs));
		xgrow((void **)&m->attr_of, &m->attr_of_cap, (size_t)i + 1, sizeof(*m->attr_of));
		m->attrs[m->nattrs++] = (struct attrs){0};
		m->attr_of[i] = (uint32_t)m->nattrs;
		r->has_attrs = 1;
	}
	struct attrs *a = &m->attrs[m->attr_of[i] - 1];
	free(a->title);
	free(a->description);
	a->title = title ? xstrdup(title) : NULL;
	a->description = description ? xstrdup(description) : NULL;
	a->expire_at = expire_at;
}

static void
add_source(struct merge *m, uint32_t item, uint32_t feed, unsigned long line)
{
	if (m->no_sources)
		return;
	big_grow((void **)&m->srcs, &m->srcs_cap, m->nsrcs + 1, sizeof(*m->srcs));
	m->srcs[m->nsrcs++] = (struct src_flat){item, feed, line > UINT32_MAX ? UINT32_MAX : (uint32_t)line};
}

size_t
merge_add_hashed(struct merge *m, uint64_t hash, enum ioc_type t, const char *value, size_t len, uint32_t feed,
		 int32_t priority, unsigned long line, const char *title, const char *description, long long expire_at,
		 bool *new_in_feed)
{
	/* The record keeps feeds and priorities in 16 bits: callers hold
	 * feeds to LIMIT_FEEDS and priorities to the configuration's range;
	 * a value is ioc_parse's, within LIMIT_VALUE_BYTES. */
	if (feed >= LIMIT_FEEDS || priority < INT16_MIN || priority > INT16_MAX || len > LIMIT_VALUE_BYTES)
		abort();
	if ((m->nitems + 1) * 4 > m->nslots * 3)
		grow_table(m);
	struct slot *s = lookup(m, hash, t, value, len);
	uint32_t i;
	if (s->rec == 0) {
		i = make(m, t, value, len, feed, priority);
		*s = (struct slot){(uint32_t)(hash >> 32), m->items[i] + 1};
		set_attrs(m, i, title, description, expire_at);
		*new_in_feed = true;
	} else {
		struct rec *r = AT(m, s->rec - 1);
		i = r->item;
		*new_in_feed = r->last_feed != feed;
		r->last_feed = (uint16_t)feed;
		if (priority > r->priority) {
			r->feed = (uint16_t)feed;
			r->priority = (int16_t)priority;
			set_attrs(m, i, title, description, expire_at);
		}
	}
	add_source(m, i, feed, line);
	return i;
}

void
merge_prefetch(const struct merge *m, uint64_t hash, bool record)
{
	uint32_t tag = (uint32_t)(hash >> 32);
	const struct slot *s = &m->slots[tag & (m->nslots - 1)];
	if (!record) {
		__builtin_prefetch(s);
		return;
	}
	/* The slot came in with the first call: fetch the record it names
	 * when its tag agrees (a repeat, most likely). */
	if (s->rec != 0 && s->tag == tag)
		__builtin_prefetch(AT(m, s->rec - 1));
}

size_t
merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed, int32_t priority,
	  unsigned long line, const char *title, const char *description, long long expire_at, bool *new_in_feed)
{
	return merge_add_hashed(m, merge_hash(t, value, len), t, value, len, feed, priority, line, title, description,
				expire_at, new_in_feed);
}

void
merge_absorb(struct merge *m, struct merge *from)
{
	size_t n = merge_count(from);
	for (size_t i = 0; i < n; i++) {
		struct merge_item it;
		merge_get(from, i, &it);
		size_t ns;
		const struct merge_src *src = merge_sources(from, i, &ns);
		uint64_t h = merge_hash(it.type, it.value, it.len);
		bool fresh;
		merge_add_hashed(m, h, it.type, it.value, it.len, it.feed, it.priority, ns ? src[0].line : 0, it.title,
				 it.description, it.expire_at, &fresh);
		for (size_t k = 1; k < ns; k++)
			merge_add_hashed(m, h, it.type, it.value, it.len, src[k].feed, it.priority, src[k].line, NULL,
					 NULL, 0, &fresh);
	}
}

size_t
merge_count(const struct merge *m)
{
	return m->nitems;
}

void
merge_get(struct merge *m, size_t i, struct merge_item *out)
{
	const struct rec *r = REC(m, i);
	const struct attrs *a = r->has_attrs ? &m->attrs[m->attr_of[i] - 1] : NULL;
	*out = (struct merge_item){.value = r->value,
				   .len = r->len,
				   .type = (enum ioc_type)r->type,
				   .feed = r->feed,
				   .priority = r->priority,
				   .title = a ? a->title : NULL,
				   .description = a ? a->description : NULL,
				   .expire_at = a ? a->expire_at : 0};
}

/* Counting sort of the flat sources by item: stable, so each item's
 * sources stay in the order they were added. */
static void
group_sources(struct merge *m)
{
	free(m->grouped);
	free(m->first);
	m->first = xcalloc(m->nitems + 1, sizeof(*m->first));
	for (size_t k = 0; k < m->nsrcs; k++)
		m->first[m->srcs[k].item + 1]++;
	for (size_t i = 0; i < m->nitems; i++)
		m->first[i + 1] += m->first[i];
	m->grouped = xmalloc((m->nsrcs ? m->nsrcs : 1) * sizeof(*m->grouped));
	size_t *next = xmalloc((m->nitems ? m->nitems : 1) * sizeof(*next));
	memcpy(next, m->first, m->nitems * sizeof(*next));
	for (size_t k = 0; k < m->nsrcs; k++)
		m->grouped[next[m->srcs[k].item]++] = (struct merge_src){m->srcs[k].feed, m->srcs[k].line};
	free(next);
	m->grouped_n = m->nsrcs;
	m->grouped_items = m->nitems;
}

const struct merge_src *
merge_sources(struct merge *m, size_t i, size_t *n)
{
	if (m->first == NULL || m->grouped_n != m->nsrcs || m->grouped_items != m->nitems)
		group_sources(m);
	*n = m->first[i + 1] - m->first[i];
	return m->grouped + m->first[i];
}
