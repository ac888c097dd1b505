#ifndef IOCSYNC_UTIL_H
#define IOCSYNC_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "err.h"

/* A 256-entry table of F(byte), worked out by the compiler. */
#define BYTES4(F, c) F(c), F((c) + 1), F((c) + 2), F((c) + 3)
#define BYTES16(F, c) BYTES4(F, c), BYTES4(F, (c) + 4), BYTES4(F, (c) + 8), BYTES4(F, (c) + 12)
#define BYTES64(F, c) BYTES16(F, c), BYTES16(F, (c) + 16), BYTES16(F, (c) + 32), BYTES16(F, (c) + 48)
#define BYTE_TABLE(F) \
	{ \
		BYTES64(F, 0), BYTES64(F, 64), BYTES64(F, 128), BYTES64(F, 192) \
	}

/* Allocation: out of memory aborts with a message; never returns NULL. */
void *xmalloc(size_t n);
void *xcalloc(size_t nmemb, size_t size);
void *xrealloc(void *p, size_t n);
/* Grows *p (holding *cap elements of size sz) to hold at least need.
 * The test for room is inline (most calls: one per item added, with
 * room); the *_realloc and *_map halves are called only to grow. */
void xgrow_realloc(void **p, size_t *cap, size_t need, size_t sz);
static inline void
xgrow(void **p, size_t *cap, size_t need, size_t sz)
{
	if (need > *cap)
		xgrow_realloc(p, cap, need, sz);
}
/* Like xgrow for arrays that reach hundreds of MB (the merge): mapped
 * memory, zero-filled, grown in place by mremap where it can, with
 * transparent huge pages asked for (fewer page faults and TLB misses).
 * Free with big_free(p, cap * sz). */
void big_grow_map(void **p, size_t *cap, size_t need, size_t sz);
static inline void
big_grow(void **p, size_t *cap, size_t need, size_t sz)
{
	if (need > *cap)
		big_grow_map(p, cap, need, sz);
}
void big_free(void *p, size_t bytes);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A growable byte buffer, always NUL-terminated after len. */
struct strbuf {
	char *buf;
	size_t len, cap;
};
void sb_add(struct strbuf *sb, const void *p, size_t n);
/* Room for n bytes in all (and the NUL) without growing again. */
void sb_reserve(struct strbuf *sb, size_t n);
void sb_adds(struct strbuf *sb, const char *s);
/* s (UTF-8, n bytes) as a JSON string literal, quotes and escapes as
 * jansson writes them. */
void sb_json_str(struct strbuf *sb, const char *s, size_t n);
/* A json_dump_callback writing into the strbuf given as its data. */
int sb_json_cb(const char *p, size_t n, void *sb);
void sb_addc(struct strbuf *sb, char c);
/* v in decimal, as "%lld" writes it (without printf's cost: the
 * emulator writes two for each item it keeps). */
void sb_add_int(struct strbuf *sb, long long v);
void sb_addf(struct strbuf *sb, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void sb_free(struct strbuf *sb);

/* Parses a decimal integer in [min, max] (strtonum semantics: the whole
 * string must be a number). Returns ERR_OK and sets *out, or ERR_PARSE
 * with *why set to a static reason. */
enum err num_parse(const char *s, long long min, long long max, long long *out, const char **why);

/* Parses a duration: a number followed by s, m, h, d or w ("30d"); a
 * bare number is seconds. Same contract as num_parse. */
enum err duration_parse(const char *s, long long *out_s, const char **why);

/* Parses "yes/no/true/false/on/off/1/0". */
enum err bool_parse(const char *s, bool *out);

/* Reads a whole file of at most max bytes into a malloc'd, NUL-terminated
 * buffer the caller frees. "-" reads standard input. On ERR_IO errno
 * is set; ERR_LIMIT means the file is larger than max. */
enum err file_read(const char *path, long long max, char **buf, size_t *len);
/*
 * A whole file to read: a large regular file is mapped (no copy, no
 * page zeroing), anything else (small files, pipes, "-") is read. If a
 * mapped file is truncated while it is read, the process stops with a
 * clear message and exit status 1 (SIGBUS), never reads garbage.
 */
struct file_view {
	const char *buf;
	size_t len;
	void *map; /* mapping, or NULL when buf is heap memory */
};
enum err file_view_open(const char *path, long long max, struct file_view *v);
void file_view_close(struct file_view *v);

/* Writes len bytes to path atomically (temporary name, fsync, rename). */
enum err file_write_atomic(const char *path, const void *buf, size_t len, unsigned mode);
/* Run as root in a directory another user owns (a hand run of a verb on a
 * host where the service keeps its state and log as iocsync): path, when
 * root owns it, is given to the directory's owner and group, so that the
 * service can still write it. Does nothing otherwise. */
void file_adopt_dir_owner(const char *path);

/* Raises the soft limit of open files to the hard one (systemd gives
 * 1024 of 524288: a program that uses poll, not select, is to raise it
 * itself) and returns how many more than reserve it allows. */
size_t fd_room(size_t reserve);

/* Writes s (NULL: empty) as one CSV cell (RFC 4180), quoted when it
 * must be or always_quote; a cell a spreadsheet would take for a
 * formula (it starts with = + - @ TAB or CR) is quoted with a ' before
 * it. */
void csv_cell(FILE *fp, const char *s, bool always_quote);

/* Copies at most LIMIT_ECHO_BYTES of s into out (size outsz) with every
 * byte that is not printable ASCII escaped as \xHH, and "..." when cut.
 * For putting untrusted input into diagnostics. Returns out. */
char *echo_str(const char *s, size_t len, char *out, size_t outsz);

/* Formats a diagnostic into why (size whysz) when why is not NULL: for
 * functions whose callers may not want the text. */
/* Reads a secret or key file that only its owner may read: refused when
 * group or others may read it, when another user owns it (a systemd
 * "credential" may be root's), or past max bytes; what names it in why. */
char *file_read_private(const char *path, const char *what, size_t max, char *why, size_t whysz);
/* The checks of file_read_private without the reading: true when path
 * could be read as a private file now; why says what is wrong. */
bool file_check_private(const char *path, const char *what, size_t max, char *why, size_t whysz);

void set_why(char *why, size_t whysz, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Number of line ends in [s, s+n), counted eight bytes at a time (one
 * memchr per line costs far more on short lines). */
unsigned long count_newlines(const char *s, size_t n);

/* 64-bit hash of a byte string (not cryptographic). */
uint64_t hash_bytes(const void *p, size_t n, uint64_t seed);

/* ASCII-only case folding and classes; never locale-dependent. */
static inline int
lc(int c)
{
	return c + (int)(((unsigned)(c - 'A') < 26u) << 5);
}
/* Branch-free: feed bytes are unpredictable, mispredictions cost more
 * than the tests. */
static inline bool
is_digit(int c)
{
	return (unsigned)(c - '0') < 10u;
}
static inline bool
is_alpha(int c)
{
	return (unsigned)((c | 32) - 'a') < 26u;
}
static inline bool
is_alnum(int c)
{
	return (int)is_digit(c) | (int)is_alpha(c);
}
static inline bool
is_xdigit(int c)
{
	return (int)is_digit(c) | (int)((unsigned)((c | 32) - 'a') < 6u);
}
static inline bool
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Is s a GUID (8-4-4-4-12 hex digits, either case)? */
bool is_guid(const char *s);

/* Case-insensitive ASCII comparison of n bytes. */
bool mem_ieq(const char *a, const char *b, size_t n);
/* Does [s, s+len) start with the NUL-terminated p, ignoring ASCII case? */
bool has_iprefix(const char *s, size_t len, const char *p);

/* Is [s, s+len) valid UTF-8 (no overlongs, no surrogates)? */
bool utf8_valid(const char *s, size_t len);

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

/* t (seconds since the epoch) as "2026-11-23T12:00:00Z" into buf. */
void format_time(long long t, char *buf, size_t sz);

#endif
