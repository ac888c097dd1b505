#include "strset.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

struct slot {
	char *key;
	size_t len;
	uint64_t hash;
	int val;
};

struct strset {
	struct slot *slots;
	size_t cap, count; /* cap is a power of two */
};

struct strset *
strset_new(void)
{
	struct strset *s = xcalloc(1, sizeof(*s));
	s->cap = 64;
	s->slots = xcalloc(s->cap, sizeof(*s->slots));
	return s;
}

void
strset_free(struct strset *s)
{
	if (s == NULL)
		return;
	for (size_t i = 0; i < s->cap; i++)
		free(s->slots[i].key);
	free(s->slots);
	free(s);
}

static struct slot *
find(const struct strset *s, const char *k, size_t n, uint64_t h)
{
	size_t i = (size_t)h & (s->cap - 1);
	for (;;) {
		struct slot *sl = &s->slots[i];
		if (sl->key == NULL || (sl->hash == h && sl->len == n && memcmp(sl->key, k, n) == 0))
			return sl;
		i = (i + 1) & (s->cap - 1);
	}
}

bool
strset_add(struct strset *s, const char *k, size_t n, int v)
{
	uint64_t h = hash_bytes(k, n, 0);
	struct slot *sl;

	if ((s->count + 1) * 4 > s->cap * 3) {
		struct strset bigger = {xcalloc(s->cap * 2, sizeof(struct slot)), s->cap * 2, 0};
		for (size_t i = 0; i < s->cap; i++)
			if (s->slots[i].key)
				*find(&bigger, s->slots[i].key, s->slots[i].len, s->slots[i].hash) = s->slots[i];
		free(s->slots);
		s->slots = bigger.slots;
		s->cap = bigger.cap;
	}
	sl = find(s, k, n, h);
	if (sl->key != NULL)
		return false;
	sl->key = xstrndup(k, n);
	sl->len = n;
	sl->hash = h;
	sl->val = v;
	s->count++;
	return true;
}

int
strset_get(const struct strset *s, const char *k, size_t n)
{
	struct slot *sl = find(s, k, n, hash_bytes(k, n, 0));
	return sl->key ? sl->val : -1;
}

size_t
strset_count(const struct strset *s)
{
	return s->count;
}
