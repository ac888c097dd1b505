/*
 * The texts the emulator keeps (each indicator's, each change line), in
 * blocks of their own. Kept among a request's short-lived parse trees
 * in the same malloc arenas, two million of them fragmented the heap
 * until every malloc searched long free lists (perf under
 * bench/tenants.py 1000: glibc's allocator was a third of the
 * emulator's CPU, and its cost per item grew with the store). Here a
 * text takes a slot of its size rounded up to POOL_GRAIN, reused by
 * the next text of that size; longer texts are malloc'd. Under the
 * emulator's lock, like everything kept.
 */
#include <stdlib.h>
#include <string.h>

#include "emu.h"

/* Under ASan a slot not in use is poisoned, so that a text read after
 * it was dropped is still caught as with malloc's own chunks. */
#ifdef __SANITIZE_ADDRESS__
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION(p, n)
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION(p, n)
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define POOL_GRAIN 64
#define POOL_CLASSES 64 /* slots up to 4 KB */
#define POOL_BLOCK ((size_t)1 << 20)

static size_t
slot_class(size_t bytes)
{
	return (bytes + POOL_GRAIN - 1) / POOL_GRAIN - 1;
}

char *
emu_text_keep(struct emu *e, const char *s, size_t n)
{
	struct text_pool *p = &e->texts;
	size_t c = slot_class(n + 1);
	char *t;
	if (c >= POOL_CLASSES) {
		t = xmalloc(n + 1);
	} else if (p->free[c]) {
		t = p->free[c];
		UNPOISON(t, (c + 1) * POOL_GRAIN);
		memcpy(&p->free[c], t, sizeof(char *)); /* the next free slot, kept in the slot */
	} else {
		size_t size = (c + 1) * POOL_GRAIN;
		if (p->left < size) {
			xgrow((void **)&p->blocks, &p->blocks_cap, p->nblocks + 1, sizeof(*p->blocks));
			p->cur = p->blocks[p->nblocks++] = xmalloc(POOL_BLOCK);
			p->left = POOL_BLOCK;
			POISON(p->cur, POOL_BLOCK);
		}
		t = p->cur;
		UNPOISON(t, size);
		p->cur += size;
		p->left -= size;
	}
	memcpy(t, s, n);
	t[n] = '\0';
	return t;
}

void
emu_text_drop(struct emu *e, char *t)
{
	if (t == NULL)
		return;
	size_t c = slot_class(strlen(t) + 1);
	if (c >= POOL_CLASSES) {
		free(t);
		return;
	}
	memcpy(t, &e->texts.free[c], sizeof(char *));
	e->texts.free[c] = t;
	POISON(t, (c + 1) * POOL_GRAIN);
}

void
emu_text_pool_free(struct emu *e)
{
	for (size_t i = 0; i < e->texts.nblocks; i++) {
		UNPOISON(e->texts.blocks[i], POOL_BLOCK);
		free(e->texts.blocks[i]);
	}
	free(e->texts.blocks);
	memset(&e->texts, 0, sizeof(e->texts));
}
