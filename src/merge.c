#include "merge.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

#define ARENA_CHUNK (4u << 20)

struct slot {
	uint32_t idx;	/* item index + 1; 0 is empty */
	uint32_t hash;
};

struct merge {
	struct merge_item *items;
	size_t nitems, items_cap;
	struct merge_src *srcs;
	size_t nsrcs, srcs_cap;
	struct slot *slots;
	size_t cap;	/* power of two */
	char **chunks;
	size_t nchunks, chunks_cap;
	size_t chunk_used;
};

struct merge *
merge_new(void)
{
	struct merge *m = xcalloc(1, sizeof(*m));
	m->cap = 1024;
	m->slots = xcalloc(m->cap, sizeof(*m->slots));
	m->chunk_used = ARENA_CHUNK;
	return m;
}

void
merge_free(struct merge *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nitems; i++) {
		free(m->items[i].title);
		free(m->items[i].description);
	}
	for (size_t i = 0; i < m->nchunks; i++)
		free(m->chunks[i]);
	free(m->chunks);
	free(m->items);
	free(m->srcs);
	free(m->slots);
	free(m);
}

static const char *
store(struct merge *m, const char *v, size_t n)
{
	if (m->chunk_used + n + 1 > ARENA_CHUNK) {
		size_t sz = n + 1 > ARENA_CHUNK ? n + 1 : ARENA_CHUNK;
		xgrow((void **)&m->chunks, &m->chunks_cap, m->nchunks + 1, sizeof(char *));
		m->chunks[m->nchunks++] = xmalloc(sz);
		m->chunk_used = 0;
	}
	char *p = m->chunks[m->nchunks - 1] + m->chunk_used;
	memcpy(p, v, n);
	p[n] = '\0';
	m->chunk_used += n + 1;
	return p;
}

static void
rehash(struct merge *m)
{
	size_t cap = m->cap * 2;
	struct slot *s = xcalloc(cap, sizeof(*s));
	for (size_t i = 0; i < m->cap; i++) {
		if (m->slots[i].idx == 0)
			continue;
		size_t j = m->slots[i].hash & (cap - 1);
		while (s[j].idx != 0)
			j = (j + 1) & (cap - 1);
		s[j] = m->slots[i];
	}
	free(m->slots);
	m->slots = s;
	m->cap = cap;
}

static void
add_source(struct merge *m, struct merge_item *it, uint32_t feed, unsigned long line)
{
	xgrow((void **)&m->srcs, &m->srcs_cap, m->nsrcs + 1, sizeof(*m->srcs));
	m->srcs[m->nsrcs] = (struct merge_src){feed, (uint32_t)line, 0};
	if (it->nsources == 0)
		it->src_head = (uint32_t)m->nsrcs;
	else
		m->srcs[it->src_tail].next = (uint32_t)m->nsrcs + 1;
	it->src_tail = (uint32_t)m->nsrcs;
	it->nsources++;
	m->nsrcs++;
}

static void
set_attrs(struct merge_item *it, const char *title, const char *description, long long expire_at)
{
	free(it->title);
	free(it->description);
	it->title = title ? xstrdup(title) : NULL;
	it->description = description ? xstrdup(description) : NULL;
	it->expire_at = expire_at;
}

size_t
merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed,
	  int32_t priority, unsigned long line, const char *title, const char *description,
	  long long expire_at, bool *new_in_feed)
{
	uint32_t h = (uint32_t)hash_bytes(value, len, (uint64_t)t);
	size_t j = h & (m->cap - 1);
	struct merge_item *it;

	for (;; j = (j + 1) & (m->cap - 1)) {
		struct slot *s = &m->slots[j];
		if (s->idx == 0)
			break;
		if (s->hash != h)
			continue;
		it = &m->items[s->idx - 1];
		if (it->type != t || it->len != len || memcmp(it->value, value, len) != 0)
			continue;
		*new_in_feed = it->last_feed != feed;
		it->last_feed = feed;
		add_source(m, it, feed, line);
		if (priority > it->priority) {
			it->feed = feed;
			it->priority = priority;
			set_attrs(it, title, description, expire_at);
		}
		return s->idx - 1;
	}
	if ((m->nitems + 1) * 4 > m->cap * 3) {
		rehash(m);
		j = h & (m->cap - 1);
		while (m->slots[j].idx != 0)
			j = (j + 1) & (m->cap - 1);
	}
	xgrow((void **)&m->items, &m->items_cap, m->nitems + 1, sizeof(*m->items));
	it = &m->items[m->nitems];
	memset(it, 0, sizeof(*it));
	it->value = store(m, value, len);
	it->len = (uint32_t)len;
	it->type = (uint8_t)t;
	it->feed = feed;
	it->priority = priority;
	it->last_feed = feed;
	it->hash = h;
	if (title || description || expire_at)
		set_attrs(it, title, description, expire_at);
	add_source(m, it, feed, line);
	m->slots[j] = (struct slot){(uint32_t)m->nitems + 1, h};
	*new_in_feed = true;
	return m->nitems++;
}

size_t
merge_count(const struct merge *m)
{
	return m->nitems;
}

const struct merge_item *
merge_item(const struct merge *m, size_t i)
{
	return &m->items[i];
}

const struct merge_src *
merge_source(const struct merge *m, uint32_t index)
{
	return &m->srcs[index];
}
