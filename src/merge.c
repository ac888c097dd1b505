#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * The arena holds one record per item, 8-byte aligned: a header, then
 * the value and its NUL. A slot holds the high half of the 64-bit hash
 * (the low half picks the slot) and the record's offset / 8 + 1, so a
 * lookup reads one slot and, only when 32 more bits of hash agree, one
 * record.
 */
struct hdr {
	uint32_t idx;		/* item index */
	uint32_t feed;
	int32_t priority;
	uint32_t last_feed;
	uint32_t attrs;		/* index + 1 into attrs; 0: none */
	uint16_t len;
	uint8_t type;
	uint8_t pad_;
	char value[];
};
_Static_assert(LIMIT_VALUE_BYTES + 32 < UINT16_MAX, "value length fits the header");

struct slot {
	uint32_t tag;	/* hash >> 32 */
	uint32_t rec;	/* arena offset / 8 + 1; 0 is empty */
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
	uint32_t *items;	/* item index -> arena offset / 8 */
	size_t nitems, items_cap;
	struct slot *slots;
	size_t cap, slots_cap;	/* cap: power of two; slots_cap: big_grow's */
	struct attrs *attrs;
	size_t nattrs, attrs_cap;
	struct src_flat *srcs;
	size_t nsrcs, srcs_cap;
	/* sources grouped per item, rebuilt when nsrcs moved on */
	struct merge_src *grouped;
	size_t *first;		/* nitems + 1 offsets into grouped */
	size_t grouped_n, grouped_items;
	bool no_sources;
};

#define REC(m, off8) ((struct hdr *)((m)->arena + (size_t)(off8) * 8))

struct merge *
merge_new(void)
{
	struct merge *m = xcalloc(1, sizeof(*m));
	m->cap = 1024;
	big_grow((void **)&m->slots, &m->slots_cap, m->cap, sizeof(*m->slots));
	return m;
}

void
merge_free(struct merge *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nattrs; i++) {
		free(m->attrs[i].title);
		free(m->attrs[i].description);
	}
	free(m->attrs);
	big_free(m->arena, m->arena_cap);
	big_free(m->items, m->items_cap * sizeof(*m->items));
	big_free(m->slots, m->slots_cap * sizeof(*m->slots));
	big_free(m->srcs, m->srcs_cap * sizeof(*m->srcs));
	free(m->grouped);
	free(m->first);
	free(m);
}

uint64_t
merge_hash(enum ioc_type t, const char *value, size_t len)
{
	return hash_bytes(value, len, (uint64_t)t);
}

/* Resizes the table to cap slots, reinserting in item order: the
 * records are read sequentially and their hashes recomputed. */
static void
rehash(struct merge *m, size_t cap)
{
	size_t scap = 0;
	struct slot *s = NULL;
	big_grow((void **)&s, &scap, cap, sizeof(*s));
	for (size_t i = 0; i < m->nitems; i++) {
		const struct hdr *h = REC(m, m->items[i]);
		uint64_t hash = merge_hash((enum ioc_type)h->type, h->value, h->len);
		size_t j = hash & (cap - 1);
		while (s[j].rec != 0)
			j = (j + 1) & (cap - 1);
		s[j] = (struct slot){(uint32_t)(hash >> 32), m->items[i] + 1};
	}
	big_free(m->slots, m->slots_cap * sizeof(*m->slots));
	m->slots = s;
	m->slots_cap = scap;
	m->cap = cap;
}

static void
set_attrs(struct merge *m, struct hdr *h, const char *title, const char *description,
	  long long expire_at)
{
	if (h->attrs == 0) {
		if (title == NULL && description == NULL && expire_at == 0)
			return;
		xgrow((void **)&m->attrs, &m->attrs_cap, m->nattrs + 1, sizeof(*m->attrs));
		m->attrs[m->nattrs] = (struct attrs){0};
		h->attrs = (uint32_t)++m->nattrs;
	}
	struct attrs *a = &m->attrs[h->attrs - 1];
	free(a->title);
	free(a->description);
	a->title = title ? xstrdup(title) : NULL;
	a->description = description ? xstrdup(description) : NULL;
	a->expire_at = expire_at;
}

void
merge_skip_sources(struct merge *m)
{
	m->no_sources = true;
}

static void
add_source(struct merge *m, uint32_t item, uint32_t feed, unsigned long line)
{
	if (m->no_sources)
		return;
	big_grow((void **)&m->srcs, &m->srcs_cap, m->nsrcs + 1, sizeof(*m->srcs));
	m->srcs[m->nsrcs++] = (struct src_flat){item, feed, line > UINT32_MAX ? UINT32_MAX : (uint32_t)line};
}

void
merge_prefetch(const struct merge *m, uint64_t hash, int stage)
{
	size_t j = hash & (m->cap - 1);
	uint32_t tag = (uint32_t)(hash >> 32);

	if (stage == 0) {
		__builtin_prefetch(&m->slots[j]);
		return;
	}
	for (; m->slots[j].rec != 0; j = (j + 1) & (m->cap - 1))
		if (m->slots[j].tag == tag) {
			__builtin_prefetch(REC(m, m->slots[j].rec - 1));
			return;
		}
}

size_t
merge_add_hashed(struct merge *m, uint64_t hash, enum ioc_type t, const char *value, size_t len,
		 uint32_t feed, int32_t priority, unsigned long line, const char *title,
		 const char *description, long long expire_at, bool *new_in_feed)
{
	uint32_t tag = (uint32_t)(hash >> 32);
	size_t j = hash & (m->cap - 1);
	struct hdr *h;

	if (len > LIMIT_VALUE_BYTES + 32)
		abort(); /* ioc_parse never makes longer; cutting would merge distinct values */
	for (;; j = (j + 1) & (m->cap - 1)) {
		const struct slot *s = &m->slots[j];
		if (s->rec == 0)
			break;
		if (s->tag != tag)
			continue;
		h = REC(m, s->rec - 1);
		if (h->type != t || h->len != len || memcmp(h->value, value, len) != 0)
			continue;
		*new_in_feed = h->last_feed != feed;
		h->last_feed = feed;
		add_source(m, h->idx, feed, line);
		if (priority > h->priority) {
			h->feed = feed;
			h->priority = priority;
			set_attrs(m, h, title, description, expire_at);
		}
		return h->idx;
	}
	if ((m->nitems + 1) * 4 > m->cap * 3) {
		rehash(m, m->cap * 2);
		j = hash & (m->cap - 1);
		while (m->slots[j].rec != 0)
			j = (j + 1) & (m->cap - 1);
	}
	size_t size = (sizeof(struct hdr) + len + 1 + 7) & ~(size_t)7;
	if (m->arena_len / 8 + size / 8 >= UINT32_MAX)
		abort(); /* 32 GiB of values: far past every limit upstream */
	big_grow((void **)&m->arena, &m->arena_cap, m->arena_len + size, 1);
	big_grow((void **)&m->items, &m->items_cap, m->nitems + 1, sizeof(*m->items));
	uint32_t off8 = (uint32_t)(m->arena_len / 8);
	h = REC(m, off8);
	m->arena_len += size;
	*h = (struct hdr){.idx = (uint32_t)m->nitems, .feed = feed, .priority = priority,
			  .last_feed = feed, .len = (uint16_t)len, .type = (uint8_t)t};
	memcpy(h->value, value, len);
	h->value[len] = '\0';
	set_attrs(m, h, title, description, expire_at);
	m->items[m->nitems] = off8;
	m->slots[j] = (struct slot){tag, off8 + 1};
	add_source(m, h->idx, feed, line);
	*new_in_feed = true;
	return m->nitems++;
}

size_t
merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed,
	  int32_t priority, unsigned long line, const char *title, const char *description,
	  long long expire_at, bool *new_in_feed)
{
	return merge_add_hashed(m, merge_hash(t, value, len), t, value, len, feed, priority, line, title,
				description, expire_at, new_in_feed);
}

void
merge_reserve(struct merge *m, size_t n)
{
	size_t want = m->nitems + n, cap = m->cap;
	if (want > (size_t)1 << 31)
		return;
	while (want * 4 > cap * 3)
		cap *= 2;
	if (cap > m->cap)
		rehash(m, cap);
}

size_t
merge_count(const struct merge *m)
{
	return m->nitems;
}

void
merge_get(const struct merge *m, size_t i, struct merge_item *out)
{
	const struct hdr *h = REC(m, m->items[i]);
	const struct attrs *a = h->attrs ? &m->attrs[h->attrs - 1] : NULL;
	*out = (struct merge_item){.value = h->value, .len = h->len, .type = (enum ioc_type)h->type,
				   .feed = h->feed, .priority = h->priority,
				   .title = a ? a->title : NULL, .description = a ? a->description : NULL,
				   .expire_at = a ? a->expire_at : 0};
}

/* Counting sort of the flat sources by item; stable, so each item's
 * sources stay in the order they were added. */
static void
group_sources(struct merge *m)
{
	free(m->grouped);
	free(m->first);
	m->first = xcalloc(m->nitems + 1, sizeof(*m->first));
	m->grouped = xmalloc((m->nsrcs ? m->nsrcs : 1) * sizeof(*m->grouped));
	for (size_t k = 0; k < m->nsrcs; k++)
		m->first[m->srcs[k].item + 1]++;
	for (size_t i = 0; i < m->nitems; i++)
		m->first[i + 1] += m->first[i];
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
	if (m->grouped == NULL || m->grouped_n != m->nsrcs || m->grouped_items != m->nitems)
		group_sources(m);
	*n = m->first[i + 1] - m->first[i];
	return m->grouped + m->first[i];
}
