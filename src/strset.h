#ifndef IOCSYNC_STRSET_H
#define IOCSYNC_STRSET_H

#include <stdbool.h>
#include <stddef.h>

/* A set of byte strings with a small value each (open addressing). */
struct strset;

struct strset *strset_new(void);
/* strset_free(NULL) is a no-op. */
void strset_free(struct strset *s);
/* Adds a copy of [k, k+n) with value v; an existing key keeps its value.
 * Returns true when the key was new. */
bool strset_add(struct strset *s, const char *k, size_t n, int v);
/* Returns the key's value, or -1 when absent. */
int strset_get(const struct strset *s, const char *k, size_t n);
/* Adds [k, k+n) with value v, or ORs v into the value it has. */
void strset_or(struct strset *s, const char *k, size_t n, int v);
size_t strset_count(const struct strset *s);

#endif
