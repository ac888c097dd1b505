#include "merge.h"

#include <arpa/inet.h>
#include <stdlib.h>
#include <string.h>

#include "limits.h"
#include "util.h"

/*
 * The items live in MERGE_PARTS parts, picked by the top bits of their
 * hash: each part is a whole table of its own (arena, slots, sources),
 * so that different threads may fill different parts at once
 * (merge_batch_parts). Item indices are global and in the order items
 * were first added. A record holds its item index; the map from item
 * index to record is built when first asked for (merge_get), as `check`
 * never asks.
 *
 * A part's arena holds one record per item, 4-byte aligned: a 12-byte
 * header, then the item's key (merge_key: IPs and hashes in binary,
 * other values as text and a NUL). A feed index and a priority take 16
 * bits each, which LIMIT_FEEDS and the configuration's range keep. A
 * slot holds the high half of the 64-bit hash and the record's offset
 * / 4 + 1, so a lookup reads one slot and, only when the halves agree,
 * one record. Titles, descriptions and expiries are rare (STIX, MISP):
 * they live beside, found by item index.
 *
 * An item's home slot is taken from the top of its hash (below the bits
 * that picked its part), which the slot keeps: growing a table moves
 * slots without reading a record or hashing again, so a table grows
 * cheaply as it fills, up to 13/16 full (linear probing over 8-byte
 * slots, eight to a cache line), and never needs sizing up front.
 */
#define PART_BITS 2
#define MERGE_PARTS (1u << PART_BITS)
#define CAP_BITS_MAX (32 - PART_BITS)                 /* the home bits a slot's tag holds */
#define LOCAL_MAX ((uint32_t)1 << (CAP_BITS_MAX - 1)) /* items per part: within 13/16 of that */
#define OFF_MAX ((uint32_t)1 << (32 - PART_BITS))     /* arena offsets / 4 with the part in 32 bits */
#define ITEM_NONE UINT32_MAX                          /* a batch's new record before merge_batch_commit numbers it */
#define HASH_HEX_MAX 64                               /* SHA-256: the longest hash a binary key holds */
#define MERGE_TEXT_MAX 80 /* a binary key's text: an IPv6 address or HASH_HEX_MAX, and a NUL */

struct hdr {
	uint32_t idx; /* item index */
	uint16_t feed, last_feed;
	int16_t priority;
	uint16_t meta; /* len << 4 | type << 1 | has_attrs (an entry in the merge's attrs) */
	char value[];  /* the key */
};
#define META(len, t) ((uint16_t)((len) << 4 | (unsigned)(t) << 1))
#define H_LEN(h) ((size_t)((h)->meta >> 4))
#define H_TYPE(h) ((enum ioc_type)((h)->meta >> 1 & 7))
#define H_ATTRS 1u
_Static_assert(sizeof(struct hdr) == 12, "a record header is 12 bytes");
_Static_assert(LIMIT_VALUE_BYTES + 32 < 4096, "value length fits 12 bits");
_Static_assert(IOC_TYPE_COUNT <= 8, "type fits 3 bits");
_Static_assert(LIMIT_FEEDS <= UINT16_MAX, "feed index fits 16 bits");

struct slot {
	uint32_t tag; /* hash >> 32 */
	uint32_t rec; /* arena offset / 4 + 1; 0 is empty */
};

struct attrs {
	char *title, *description;
	long long expire_at;
};

struct src_flat {
	uint32_t rec, feed, line; /* rec: the item's arena offset / 4 */
};

/* A batch add's result, kept by its part until merge_batch_commit. */
#define RES_FRESH 1u
#define RES_NEW 2u
#define RES_SHIFT 2

struct part {
	char *arena;
	size_t arena_len, arena_cap;
	size_t nitems;
	struct slot *slots;
	size_t cap, slots_cap; /* cap: 1 << cap_bits; slots_cap: big_grow's */
	unsigned cap_bits;
	struct src_flat *srcs;
	size_t nsrcs, srcs_cap;
	size_t ordered; /* arena bytes whose records are in the merge's order */
	/* merge_batch_parts: this part's adds and their results */
	uint32_t *todo, *res;
	size_t ntodo, todo_cap, res_cap, nres;
};

struct merge {
	struct part part[MERGE_PARTS];
	uint32_t *order;                  /* item index -> arena offset / 4 << PART_BITS | part */
	size_t nitems, order_cap, norder; /* norder: items in order */
	/* attributes: attr_of[item] is an index into attrs for the items
	 * whose record says has_attrs (attr_of is no longer than needed) */
	struct attrs *attrs;
	size_t nattrs, attrs_cap;
	uint32_t *attr_of;
	size_t attr_of_cap;
	/* sources grouped per item, rebuilt when the parts' sources or the
	 * items moved on */
	struct merge_src *grouped;
	size_t *first; /* nitems + 1 offsets into grouped */
	size_t grouped_n, grouped_items;
	bool no_sources;
	char text[MERGE_TEXT_MAX]; /* merge_get's text of a binary key */
};

#define REC(pt, off) ((struct hdr *)((pt)->arena + (size_t)(off)*4))

static unsigned
part_of(uint64_t hash)
{
	return (unsigned)(hash >> (64 - PART_BITS));
}

struct merge *
merge_new(void)
{
	struct merge *m = xcalloc(1, sizeof(*m));
	for (unsigned p = 0; p < MERGE_PARTS; p++) {
		struct part *pt = &m->part[p];
		pt->cap_bits = 8;
		pt->cap = (size_t)1 << pt->cap_bits;
		big_grow((void **)&pt->slots, &pt->slots_cap, pt->cap, sizeof(*pt->slots));
	}
	return m;
}

void
merge_free(struct merge *m)
{
	if (m == NULL)
		return;
	for (unsigned p = 0; p < MERGE_PARTS; p++) {
		struct part *pt = &m->part[p];
		big_free(pt->arena, pt->arena_cap);
		big_free(pt->slots, pt->slots_cap * sizeof(*pt->slots));
		big_free(pt->srcs, pt->srcs_cap * sizeof(*pt->srcs));
		free(pt->todo);
		free(pt->res);
	}
	for (size_t i = 0; i < m->nattrs; i++) {
		free(m->attrs[i].title);
		free(m->attrs[i].description);
	}
	free(m->attrs);
	free(m->attr_of);
	free(m->grouped);
	free(m->first);
	big_free(m->order, m->order_cap * sizeof(*m->order));
	free(m);
}

uint64_t
merge_hash(enum ioc_type t, const char *key, size_t keylen)
{
	return hash_bytes(key, keylen, (uint64_t)t);
}

/* Types whose key is binary (no NUL after it). */
static bool
binary_type(enum ioc_type t)
{
	return t == IOC_IP || t == IOC_MD5 || t == IOC_SHA1 || t == IOC_SHA256 || t == IOC_CERT;
}

/* A hex digit's value; 16 for any other byte. */
#define HEXV(c) \
	((c) >= '0' && (c) <= '9' ? (c) - '0' : ((c) | 32) >= 'a' && ((c) | 32) <= 'f' ? ((c) | 32) - 'a' + 10 : 16)
static const uint8_t hex_value[256] = BYTE_TABLE(HEXV);

/* Eight lower-case hex digits at s to the four bytes they spell at out:
 * a digit's value is its low nibble, plus 9 for a letter (bit 6). */
static void
hex8(const char *s, char *out)
{
	uint64_t w;
	memcpy(&w, s, 8);
	w = (w & 0x0f0f0f0f0f0f0f0fULL) + ((w >> 6) & 0x0101010101010101ULL) * 9;
	/* Byte 2k is the high nibble of out[k], byte 2k + 1 its low one. */
	w = (w & 0x000f000f000f000fULL) << 4 | (w & 0x0f000f000f000f00ULL) >> 8;
	w = (w | w >> 8) & 0x0000ffff0000ffffULL;
	w = (w | w >> 16) & 0xffffffffULL;
	uint32_t o = (uint32_t)w;
	memcpy(out, &o, 4);
}

const char *
merge_key(enum ioc_type t, const char *value, size_t len, const struct ioc *io, char *buf, size_t *keylen)
{
	if (t == IOC_IP) {
		unsigned char a[16];
		int family = io ? io->family : memchr(value, ':', len) ? AF_INET6 : AF_INET;
		if (io == NULL) {
			/* merge_add's text: parse it */
			char tmp[48];
			if (len == 0 || len >= sizeof(tmp))
				abort(); /* not an address: IP values come from ioc_parse */
			memcpy(tmp, value, len);
			tmp[len] = '\0';
			if (inet_pton(family, tmp, a) != 1)
				abort(); /* not an address: IP values come from ioc_parse */
		}
		*keylen = family == AF_INET6 ? 16 : 4;
		memcpy(buf, io ? io->addr : a, *keylen);
		return buf;
	}
	if (!binary_type(t)) {
		*keylen = len;
		return value;
	}
	if (len == 0 || len % 2 != 0 || len > HASH_HEX_MAX)
		abort(); /* not a hash: hash values come from ioc_parse */
	*keylen = len / 2;
#if __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	if (io && len % 8 == 0) { /* ioc_parse's lower-case hex: 32, 40 or 64 digits */
		for (size_t i = 0; i < len; i += 8)
			hex8(value + i, buf + i / 2);
		return buf;
	}
#endif
	unsigned bad = 0;
	for (size_t i = 0; i < len; i += 2) {
		unsigned hi = hex_value[(unsigned char)value[i]], lo = hex_value[(unsigned char)value[i + 1]];
		bad |= hi | lo;
		buf[i / 2] = (char)(hi << 4 | lo);
	}
	if (bad & 16)
		abort(); /* not a hash: hash values come from ioc_parse */
	return buf;
}

/* The canonical text of a record's key, into buf (MERGE_TEXT_MAX) when
 * it is binary; returns it and its length. */
static const char *
key_text(const struct hdr *h, char *buf, size_t *len)
{
	static const char hex[] = "0123456789abcdef";
	enum ioc_type t = H_TYPE(h);
	size_t n = H_LEN(h);
	const unsigned char *k = (const unsigned char *)h->value;
	if (!binary_type(t)) {
		*len = n;
		return h->value;
	}
	if (t == IOC_IP) {
		*len = ioc_addr_format(n == 16 ? AF_INET6 : AF_INET, k, buf);
		return buf;
	}
	for (size_t i = 0; i < n; i++) {
		buf[2 * i] = hex[k[i] >> 4];
		buf[2 * i + 1] = hex[k[i] & 15];
	}
	buf[2 * n] = '\0';
	*len = 2 * n;
	return buf;
}

/* The home slot of a hash in a table of 1 << bits slots: the top bits
 * below the part's. Only the tag's bits are used, so a slot's tag alone
 * says where it belongs at any size. */
static size_t
home(uint64_t hash, unsigned bits)
{
	return (size_t)((hash >> 32 << (32 + PART_BITS)) >> (64 - bits));
}

/* Doubles a part's table until n more items fit within 13/16, moving
 * each slot to its home in the new table by its tag. */
static void
room_for(struct part *pt, size_t n)
{
	unsigned bits = pt->cap_bits;
	while ((pt->nitems + n) * 16 > ((size_t)13 << bits))
		bits++;
	if (bits == pt->cap_bits)
		return;
	if (bits > CAP_BITS_MAX)
		abort(); /* a billion items in one part: far past every limit upstream */
	size_t cap = (size_t)1 << bits, scap = 0;
	struct slot *s = NULL;
	big_grow((void **)&s, &scap, cap, sizeof(*s));
	for (size_t i = 0; i < pt->cap; i++) {
		if (pt->slots[i].rec == 0)
			continue;
		size_t j = home((uint64_t)pt->slots[i].tag << 32, bits);
		while (s[j].rec != 0)
			j = (j + 1) & (cap - 1);
		s[j] = pt->slots[i];
	}
	big_free(pt->slots, pt->slots_cap * sizeof(*pt->slots));
	pt->slots = s;
	pt->slots_cap = scap;
	pt->cap = cap;
	pt->cap_bits = bits;
}

/* Sets the attributes of h, a numbered item. Only clearing them (all
 * NULL and 0) is safe on parts' threads: it never allocates. */
static void
set_attrs(struct merge *m, struct hdr *h, const char *title, const char *description, long long expire_at)
{
	if (!(h->meta & H_ATTRS)) {
		if (title == NULL && description == NULL && expire_at == 0)
			return;
		xgrow((void **)&m->attrs, &m->attrs_cap, m->nattrs + 1, sizeof(*m->attrs));
		xgrow((void **)&m->attr_of, &m->attr_of_cap, (size_t)h->idx + 1, sizeof(*m->attr_of));
		m->attrs[m->nattrs] = (struct attrs){0};
		m->attr_of[h->idx] = (uint32_t)m->nattrs++;
		h->meta |= H_ATTRS;
	}
	struct attrs *a = &m->attrs[m->attr_of[h->idx]];
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

/* The arena offset / 4 of a record of the part. */
static uint32_t
off_of(const struct part *pt, const struct hdr *h)
{
	return (uint32_t)(((const char *)h - pt->arena) / 4);
}

static void
add_source(const struct merge *m, struct part *pt, const struct hdr *h, uint32_t feed, unsigned long line)
{
	if (m->no_sources)
		return;
	big_grow((void **)&pt->srcs, &pt->srcs_cap, pt->nsrcs + 1, sizeof(*pt->srcs));
	pt->srcs[pt->nsrcs++] = (struct src_flat){off_of(pt, h), feed, line > UINT32_MAX ? UINT32_MAX : (uint32_t)line};
}

/* The record of (t, value) in its part or NULL; *slot gets the slot
 * that names it, or the empty slot where it would go. The probe starts
 * at slot j: the hash's home, or a slot further on its path when every
 * slot before it is known to be taken by another tag. */
static struct hdr *
find_from(const struct part *pt, size_t j, uint64_t hash, enum ioc_type t, const char *value, size_t len, size_t *slot)
{
	uint32_t tag = (uint32_t)(hash >> 32);

	for (;; j = (j + 1) & (pt->cap - 1)) {
		const struct slot *s = &pt->slots[j];
		if (s->rec == 0)
			break;
		if (s->tag != tag)
			continue;
		struct hdr *h = REC(pt, s->rec - 1);
		if ((h->meta & ~H_ATTRS) == META(len, t) && memcmp(h->value, value, len) == 0) {
			*slot = j;
			return h;
		}
	}
	*slot = j;
	return NULL;
}

static struct hdr *
find(const struct part *pt, uint64_t hash, enum ioc_type t, const char *value, size_t len, size_t *slot)
{
	return find_from(pt, home(hash, pt->cap_bits), hash, t, value, len, slot);
}

/* Another occurrence of h's item: the first from this feed or not, and
 * a feed of higher priority takes the attributes over. */
static void
again(struct merge *m, struct hdr *h, uint32_t feed, int32_t priority, const char *title, const char *description,
      long long expire_at, bool *new_in_feed)
{
	*new_in_feed = h->last_feed != feed;
	h->last_feed = (uint16_t)feed;
	if (priority > h->priority) {
		h->feed = (uint16_t)feed;
		h->priority = (int16_t)priority;
		set_attrs(m, h, title, description, expire_at);
	}
}

/* The size of a record in the arena: a text key has a NUL after it. */
static size_t
rec_size(enum ioc_type t, size_t len)
{
	return (sizeof(struct hdr) + len + !binary_type(t) + 3) & ~(size_t)3;
}

/* Feeds and priorities fit the header's 16 bits: callers hold feeds to
 * LIMIT_FEEDS and priorities to the configuration's range. */
static void
check_source(uint32_t feed, int32_t priority)
{
	if (feed >= LIMIT_FEEDS || priority < INT16_MIN || priority > INT16_MAX)
		abort();
}

/* A new item of the part, named in the empty slot j (room_for first). */
static struct hdr *
make(struct part *pt, size_t j, uint64_t hash, enum ioc_type t, const char *value, size_t len, uint32_t feed,
     int32_t priority)
{
	if (len > MERGE_KEY_MAX)
		abort(); /* merge_key never makes longer; cutting would merge distinct values */
	size_t size = rec_size(t, len);
	if (pt->arena_len / 4 + size / 4 >= OFF_MAX || pt->nitems + 1 >= LOCAL_MAX)
		abort(); /* 4 GiB of values or half a billion items: far past every limit upstream */
	big_grow((void **)&pt->arena, &pt->arena_cap, pt->arena_len + size, 1);
	uint32_t off = (uint32_t)(pt->arena_len / 4);
	struct hdr *h = REC(pt, off);
	pt->arena_len += size;
	*h = (struct hdr){.idx = ITEM_NONE,
			  .feed = (uint16_t)feed,
			  .last_feed = (uint16_t)feed,
			  .priority = (int16_t)priority,
			  .meta = META(len, t)};
	memcpy(h->value, value, len);
	if (!binary_type(t))
		h->value[len] = '\0';
	pt->nitems++;
	pt->slots[j] = (struct slot){(uint32_t)(hash >> 32), off + 1};
	return h;
}

/* Gives h, a new item, the next item index. */
static size_t
number(struct merge *m, struct hdr *h)
{
	if (m->nitems >= UINT32_MAX)
		abort(); /* four billion items: far past every limit upstream */
	h->idx = (uint32_t)m->nitems;
	return m->nitems++;
}

size_t
merge_add_key(struct merge *m, uint64_t hash, enum ioc_type t, const char *value, size_t len, uint32_t feed,
	      int32_t priority, unsigned long line, const char *title, const char *description, long long expire_at,
	      bool *new_in_feed)
{
	unsigned p = part_of(hash);
	struct part *pt = &m->part[p];
	size_t j;

	check_source(feed, priority);
	room_for(pt, 1); /* before find: growing moves the empty slot it gives */
	struct hdr *h = find(pt, hash, t, value, len, &j);
	if (h != NULL) {
		again(m, h, feed, priority, title, description, expire_at, new_in_feed);
		add_source(m, pt, h, feed, line);
		return h->idx;
	}
	h = make(pt, j, hash, t, value, len, feed, priority);
	size_t idx = number(m, h);
	set_attrs(m, h, title, description, expire_at);
	add_source(m, pt, h, feed, line);
	*new_in_feed = true;
	return idx;
}

size_t
merge_add(struct merge *m, enum ioc_type t, const char *value, size_t len, uint32_t feed, int32_t priority,
	  unsigned long line, const char *title, const char *description, long long expire_at, bool *new_in_feed)
{
	char buf[MERGE_KEY_MAX];
	size_t kl;
	const char *key = merge_key(t, value, len, NULL, buf, &kl);
	return merge_add_key(m, merge_hash(t, key, kl), t, key, kl, feed, priority, line, title, description, expire_at,
			     new_in_feed);
}

unsigned
merge_parts(void)
{
	return MERGE_PARTS;
}

#define PREFETCH_DIST 8 /* adds between a slot's prefetch and its record's */

/* The first slot on hash's path that is empty or whose tag agrees, and
 * in the latter case its record, the one find will most likely compare
 * (else NULL). Slots are never emptied and the table does not grow
 * during a part's batch, so find may start there later. */
static size_t
first_tagged(const struct part *pt, uint64_t hash, const struct hdr **rec)
{
	uint32_t tag = (uint32_t)(hash >> 32);
	size_t j = home(hash, pt->cap_bits);
	for (; pt->slots[j].rec != 0; j = (j + 1) & (pt->cap - 1))
		if (pt->slots[j].tag == tag) {
			*rec = REC(pt, pt->slots[j].rec - 1);
			return j;
		}
	*rec = NULL;
	return j;
}

/* The adds of part p listed in its todo, with the slot of each fetched
 * 2 * PREFETCH_DIST adds ahead and its record PREFETCH_DIST ahead: a
 * large table misses the cache (and the TLB) on nearly every add, and
 * the misses overlap. */
static void
take_part(struct merge *m, unsigned p, const struct merge_req *r, uint32_t feed, int32_t priority)
{
	struct part *pt = &m->part[p];
	size_t nt = pt->ntodo, j;
	size_t from[2 * PREFETCH_DIST]; /* where find starts, by add, PREFETCH_DIST ahead */

	room_for(pt, nt);
	for (size_t k = 0; k < nt && k < PREFETCH_DIST; k++)
		from[k] = home(r[pt->todo[k]].hash, pt->cap_bits);
	for (size_t k = 0; k < nt; k++) {
		if (k + 2 * PREFETCH_DIST < nt)
			__builtin_prefetch(&pt->slots[home(r[pt->todo[k + 2 * PREFETCH_DIST]].hash, pt->cap_bits)]);
		if (k + PREFETCH_DIST < nt) {
			const struct hdr *ahead;
			size_t a = (k + PREFETCH_DIST) % (2 * PREFETCH_DIST);
			from[a] = first_tagged(pt, r[pt->todo[k + PREFETCH_DIST]].hash, &ahead);
			if (ahead) { /* the record and, for a long key, its next line */
				__builtin_prefetch(ahead);
				__builtin_prefetch((const char *)ahead + 64);
			}
		}
		const struct merge_req *q = &r[pt->todo[k]];
		struct hdr *h = find_from(pt, from[k % (2 * PREFETCH_DIST)], q->hash, (enum ioc_type)q->type, q->key,
					  q->keylen, &j);
		bool fresh = true;
		uint32_t flags = RES_FRESH;
		if (h != NULL) {
			again(m, h, feed, priority, NULL, NULL, 0, &fresh);
			flags = fresh ? RES_FRESH : 0;
		} else {
			h = make(pt, j, q->hash, (enum ioc_type)q->type, q->key, q->keylen, feed, priority);
			flags |= RES_NEW;
		}
		add_source(m, pt, h, feed, q->line);
		pt->res[k] = off_of(pt, h) << RES_SHIFT | flags;
	}
	pt->nres = nt;
}

void
merge_batch_parts(struct merge *m, unsigned first, unsigned step, const struct merge_req *r, size_t n, uint32_t feed,
		  int32_t priority)
{
	if (step == 0 || first >= MERGE_PARTS)
		return;
	check_source(feed, priority);
	for (unsigned p = first; p < MERGE_PARTS; p += step) {
		struct part *pt = &m->part[p];
		xgrow((void **)&pt->todo, &pt->todo_cap, n ? n : 1, sizeof(*pt->todo));
		xgrow((void **)&pt->res, &pt->res_cap, n ? n : 1, sizeof(*pt->res));
		pt->ntodo = 0;
	}
	/* One pass over the batch for all the parts taken. */
	for (size_t i = 0; i < n; i++) {
		unsigned p = part_of(r[i].hash);
		if (p >= first && (p - first) % step == 0) {
			struct part *pt = &m->part[p];
			pt->todo[pt->ntodo++] = (uint32_t)i;
		}
	}
	for (unsigned p = first; p < MERGE_PARTS; p += step)
		take_part(m, p, r, feed, priority);
}

void
merge_batch_commit(struct merge *m, struct merge_req *r, size_t n)
{
	size_t at[MERGE_PARTS] = {0};
	for (size_t i = 0; i < n; i++) {
		unsigned p = part_of(r[i].hash);
		struct part *pt = &m->part[p];
		if (at[p] >= pt->nres)
			abort(); /* merge_batch_parts did not take part p of this batch */
		uint32_t x = pt->res[at[p]++];
		r[i].fresh = (x & RES_FRESH) != 0;
		if (x & RES_NEW)
			number(m, REC(pt, x >> RES_SHIFT));
	}
	for (unsigned p = 0; p < MERGE_PARTS; p++)
		m->part[p].nres = 0;
}

void
merge_add_batch(struct merge *m, struct merge_req *r, size_t n, uint32_t feed, int32_t priority)
{
	merge_batch_parts(m, 0, 1, r, n, feed, priority);
	merge_batch_commit(m, r, n);
}

size_t
merge_count(const struct merge *m)
{
	return m->nitems;
}

/* Brings the map from item index to record up to date: each part's
 * records added since, in its arena's order. */
static void
order_items(struct merge *m)
{
	if (m->norder == m->nitems)
		return;
	big_grow((void **)&m->order, &m->order_cap, m->nitems, sizeof(*m->order));
	for (unsigned p = 0; p < MERGE_PARTS; p++) {
		struct part *pt = &m->part[p];
		while (pt->ordered < pt->arena_len) {
			const struct hdr *h = (const struct hdr *)(pt->arena + pt->ordered);
			m->order[h->idx] = off_of(pt, h) << PART_BITS | p;
			pt->ordered += rec_size(H_TYPE(h), H_LEN(h));
		}
	}
	m->norder = m->nitems;
}

void
merge_get(struct merge *m, size_t i, struct merge_item *out)
{
	order_items(m);
	const struct hdr *h = REC(&m->part[m->order[i] & (MERGE_PARTS - 1)], m->order[i] >> PART_BITS);
	const struct attrs *a = h->meta & H_ATTRS ? &m->attrs[m->attr_of[h->idx]] : NULL;
	size_t len;
	const char *text = key_text(h, m->text, &len);
	*out = (struct merge_item){.value = text,
				   .len = len,
				   .type = H_TYPE(h),
				   .feed = h->feed,
				   .priority = h->priority,
				   .title = a ? a->title : NULL,
				   .description = a ? a->description : NULL,
				   .expire_at = a ? a->expire_at : 0};
}

/* Counting sort of the parts' flat sources by item; stable, so each
 * item's sources stay in the order they were added (a part's sources
 * are in that order, and an item's are all in its part). */
static void
group_sources(struct merge *m)
{
	size_t total = 0;
	free(m->grouped);
	free(m->first);
	m->first = xcalloc(m->nitems + 1, sizeof(*m->first));
	for (unsigned p = 0; p < MERGE_PARTS; p++) {
		const struct part *pt = &m->part[p];
		for (size_t k = 0; k < pt->nsrcs; k++)
			m->first[REC(pt, pt->srcs[k].rec)->idx + 1]++;
		total += pt->nsrcs;
	}
	m->grouped = xmalloc((total ? total : 1) * sizeof(*m->grouped));
	for (size_t i = 0; i < m->nitems; i++)
		m->first[i + 1] += m->first[i];
	size_t *next = xmalloc((m->nitems ? m->nitems : 1) * sizeof(*next));
	memcpy(next, m->first, m->nitems * sizeof(*next));
	for (unsigned p = 0; p < MERGE_PARTS; p++) {
		const struct part *pt = &m->part[p];
		for (size_t k = 0; k < pt->nsrcs; k++)
			m->grouped[next[REC(pt, pt->srcs[k].rec)->idx]++] =
				(struct merge_src){pt->srcs[k].feed, pt->srcs[k].line};
	}
	free(next);
	m->grouped_n = total;
	m->grouped_items = m->nitems;
}

const struct merge_src *
merge_sources(struct merge *m, size_t i, size_t *n)
{
	size_t total = 0;
	for (unsigned p = 0; p < MERGE_PARTS; p++)
		total += m->part[p].nsrcs;
	if (m->grouped == NULL || m->grouped_n != total || m->grouped_items != m->nitems)
		group_sources(m);
	*n = m->first[i + 1] - m->first[i];
	return m->grouped + m->first[i];
}

void
merge_absorb(struct merge *m, struct merge *from)
{
	size_t n = merge_count(from);
	for (size_t i = 0; i < n; i++) {
		struct merge_item it;
		merge_get(from, i, &it);
		char *v = xstrndup(it.value, it.len);
		size_t ns;
		const struct merge_src *src = merge_sources(from, i, &ns);
		bool fresh;
		merge_add(m, it.type, v, it.len, it.feed, it.priority, ns ? src[0].line : 0, it.title, it.description,
			  it.expire_at, &fresh);
		for (size_t k = 1; k < ns; k++)
			merge_add(m, it.type, v, it.len, src[k].feed, it.priority, src[k].line, NULL, NULL, 0, &fresh);
		free(v);
	}
}
