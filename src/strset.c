#include "strset.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

/*
 * Open addressing with linear probing, at most half full. A lookup
 * probes a compact array of 32-bit tags (the high half of the hash, never
 * 0) and reads an entry only where the tag agrees: most lookups are for
 * absent keys (a name on no allowlist), and they stay in the tags. The
 * keys' bytes are one buffer, not an allocation each (a provider's run
 * holds a state of 2,000 values, indexed twice, per running tenant).
 */
struct entry {
	size_t at;    /* into keys */
	uint32_t len; /* a key is less than 4 GB */
	int val;
};

struct strset {
	uint32_t *tags; /* 0: empty */
	struct entry *e;
	size_t cap, count; /* cap is a power of two */
	struct strbuf keys;
};

static const char *
key_of(const struct strset *s, const struct entry *e)
{
	return s->keys.buf + e->at;
}

static uint32_t
tag_of(uint64_t h)
{
	uint32_t t = (uint32_t)(h >> 32);
	return t ? t : 1;
}

static void
alloc_slots(struct strset *s, size_t cap)
{
	s->cap = cap;
	s->tags = xcalloc(cap, sizeof(*s->tags));
	s->e = xcalloc(cap, sizeof(*s->e));
}

struct strset *
strset_new(void)
{
	struct strset *s = xcalloc(1, sizeof(*s));
	alloc_slots(s, 64);
	return s;
}

void
strset_free(struct strset *s)
{
	if (s == NULL)
		return;
	sb_free(&s->keys);
	free(s->tags);
	free(s->e);
	free(s);
}

/* The slot holding [k, k+n) (hash h), or the empty slot where it goes. */
static size_t
find(const struct strset *s, const char *k, size_t n, uint64_t h)
{
	uint32_t t = tag_of(h);
	for (size_t i = (size_t)h & (s->cap - 1);; i = (i + 1) & (s->cap - 1)) {
		if (s->tags[i] == 0)
			return i;
		if (s->tags[i] == t && s->e[i].len == n && memcmp(key_of(s, &s->e[i]), k, n) == 0)
			return i;
	}
}

/* The slot of [k, k+n) (hash *h), made room for: free when the key is
 * new. */
static size_t
slot_for(struct strset *s, const char *k, size_t n, uint64_t *h)
{
	*h = hash_bytes(k, n, 0);

	if ((s->count + 1) * 2 > s->cap) {
		struct strset old = *s;
		alloc_slots(s, old.cap * 2);
		for (size_t i = 0; i < old.cap; i++) {
			if (old.tags[i] == 0)
				continue;
			uint64_t oh = hash_bytes(key_of(s, &old.e[i]), old.e[i].len, 0);
			size_t j = find(s, key_of(s, &old.e[i]), old.e[i].len, oh);
			s->tags[j] = old.tags[i];
			s->e[j] = old.e[i];
		}
		free(old.tags);
		free(old.e);
	}
	return find(s, k, n, *h);
}

static void
put(struct strset *s, size_t i, uint64_t h, const char *k, size_t n, int v)
{
	if (n > UINT32_MAX)
		abort(); /* no caller has a key near 4 GB */
	s->tags[i] = tag_of(h);
	s->e[i] = (struct entry){s->keys.len, (uint32_t)n, v};
	sb_add(&s->keys, k, n);
	s->count++;
}

bool
strset_add(struct strset *s, const char *k, size_t n, int v)
{
	uint64_t h;
	size_t i = slot_for(s, k, n, &h);
	if (s->tags[i] != 0)
		return false;
	put(s, i, h, k, n, v);
	return true;
}

void
strset_or(struct strset *s, const char *k, size_t n, int v)
{
	uint64_t h;
	size_t i = slot_for(s, k, n, &h);
	if (s->tags[i] != 0)
		s->e[i].val |= v;
	else
		put(s, i, h, k, n, v);
}

int
strset_get(const struct strset *s, const char *k, size_t n)
{
	size_t i = find(s, k, n, hash_bytes(k, n, 0));
	return s->tags[i] ? s->e[i].val : -1;
}

size_t
strset_count(const struct strset *s)
{
	return s->count;
}
