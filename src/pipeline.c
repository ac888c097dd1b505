#include "pipeline.h"

#include <arpa/inet.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "iocsync_limits.h"
#include "util.h"

/*
 * What a worker thread found in one chunk, replayed in order on the
 * calling thread: an accepted indicator (with its merge hash, computed
 * in parallel) or a rejection.
 */
enum {
	REC_ACCEPTED,
	REC_REJECTED
};
struct rec {
	uint64_t hash;     /* accepted: merge_hash of the value */
	uint32_t line;     /* within the chunk, 1-based */
	uint32_t off, len; /* value (accepted) or input (rejected) in text */
	uint32_t why;      /* rejected: offset of the reason in text */
	uint32_t desc;     /* accepted: offset of its description ({comment}) in text, or NO_DESC */
	uint8_t kind;
	uint8_t code; /* accepted: enum ioc_type; rejected: enum ioc_reason */
};

#define NO_DESC UINT32_MAX

struct chunk {
	const char *buf;
	size_t len;
	unsigned long lines; /* lines in the chunk (sink_lines) */
	struct rec *recs;
	size_t nrecs, recs_cap;
	struct strbuf text;
	struct feed_stats st; /* entries, prose_skipped, cidr_expanded */
	bool done;
};

struct run {
	const struct pipe_cfg *c;
	struct merge *m;
	const struct pipe_out *out;
	struct feed_stats *st;
	struct chunk *col; /* worker: collect into this chunk instead */
};

static uint32_t
col_text(struct chunk *k, const char *s, size_t n)
{
	uint32_t off = (uint32_t)k->text.len;
	sb_add(&k->text, s, n);
	return off;
}

static struct rec *
col_rec(struct chunk *k)
{
	xgrow((void **)&k->recs, &k->recs_cap, k->nrecs + 1, sizeof(*k->recs));
	return &k->recs[k->nrecs++];
}

static void
reject(struct run *r, unsigned long line, enum ioc_reason why_code, const char *why, const char *in, size_t n)
{
	if (r->col) {
		struct rec *x = col_rec(r->col);
		x->kind = REC_REJECTED;
		x->code = (uint8_t)why_code;
		x->line = (uint32_t)line;
		x->why = col_text(r->col, why ? why : "", why ? strlen(why) + 1 : 1);
		x->off = col_text(r->col, in, n);
		x->len = (uint32_t)n;
		return;
	}
	r->st->rejected[why_code]++;
	r->st->rejected_total++;
	if (r->out && r->out->rejected)
		r->out->rejected(r->out->ctx, r->c, line, why_code, why, in, n);
}

static void
sink_reject(void *ctx, unsigned long line, enum ioc_reason code, const char *why, const char *in, size_t n)
{
	reject(ctx, line, code, why, in, n);
}

/* The statistics and output of an indicator the merge has taken. */
static void
merged(struct run *r, bool fresh, enum ioc_type t, const char *value, size_t len, unsigned long line)
{
	if (!fresh) {
		r->st->duplicates++;
		return;
	}
	r->st->accepted[t]++;
	r->st->accepted_total++;
	if (r->out && r->out->accepted)
		r->out->accepted(r->out->ctx, r->c, line, t, value, len);
}

static void
take(struct run *r, const struct feed_entry *e, const struct ioc *i)
{
	uint64_t hash = merge_hash(i->type, i->value, i->len);
	if (r->col) {
		struct rec *x = col_rec(r->col);
		x->kind = REC_ACCEPTED;
		x->code = (uint8_t)i->type;
		x->line = (uint32_t)e->line;
		x->hash = hash;
		x->off = col_text(r->col, i->value, i->len);
		x->len = (uint32_t)i->len;
		x->desc = e->description ? col_text(r->col, e->description, strlen(e->description) + 1) : NO_DESC;
		return;
	}
	bool fresh;
	merge_add_hashed(r->m, hash, i->type, i->value, i->len, r->c->feed, r->c->priority, e->line, e->title,
			 e->description, e->expire_at, &fresh);
	merged(r, fresh, i->type, i->value, i->len, e->line);
}

/* A syntax verdict on a word of prose: the word just was no indicator. */
static bool
prose_noise(enum ioc_reason code)
{
	switch (code) {
	case REJ_EMPTY:
	case REJ_TOO_LONG:
	case REJ_BAD_UTF8:
	case REJ_NOT_INDICATOR:
	case REJ_BAD_IPV4:
	case REJ_BAD_IPV6:
	case REJ_BAD_DOMAIN:
	case REJ_BAD_URL:
	case REJ_URL_SCHEME:
	case REJ_NO_SCHEME:
	case REJ_BAD_HASH:
	case REJ_TYPE_NOT_WANTED: return true;
	default: return false;
	}
}

static void
expand(struct run *r, const struct feed_entry *e, struct ioc *block)
{
	char why[256];
	unsigned host_bits = (block->family == AF_INET ? 32u : 128u) - (unsigned)block->prefix;
	unsigned long long count = host_bits >= 63 ? ~0ULL : 1ULL << host_bits;
	const char *mode = r->c->cidr == CIDR_SKIP ? "skip" : "expand";

	if (r->c->cidr == CIDR_SKIP) {
		snprintf(why, sizeof(why), "MDE takes single addresses only (cidr = %s)", mode);
		reject(r, e->line, REJ_CIDR, why, e->value, e->len);
		return;
	}
	if (count > r->c->cidr_max_addrs) {
		snprintf(why, sizeof(why), "/%d holds %llu addresses, more than cidr_expand_max = %u", block->prefix,
			 count, r->c->cidr_max_addrs);
		reject(r, e->line, REJ_CIDR_TOO_WIDE, why, e->value, e->len);
		return;
	}
	/* A block inside a special-purpose range is refused as a whole. */
	struct ioc first = *block;
	first.prefix = -1;
	first.len = ioc_addr_format(first.family, first.addr, first.value);
	enum ioc_reason pr = policy_check(r->c->policy, &first, why, sizeof(why));
	if (pr == REJ_SPECIAL) {
		reject(r, e->line, pr, why, e->value, e->len);
		return;
	}
	size_t last = block->family == AF_INET ? 3 : 15;
	for (unsigned long long k = 0; k < count; k++) {
		struct ioc a = first;
		/* Network and broadcast addresses of an IPv4 block are not hosts. */
		if (block->family == AF_INET && host_bits >= 2 && (k == 0 || k == count - 1))
			continue;
		unsigned long long carry = k;
		for (size_t b = last + 1; b-- > 0 && carry;) {
			unsigned v = a.addr[b] + (unsigned)(carry & 0xff);
			a.addr[b] = (unsigned char)v;
			carry = (carry >> 8) + (v >> 8);
		}
		a.len = ioc_addr_format(a.family, a.addr, a.value);
		r->st->cidr_expanded++;
		pr = policy_check(r->c->policy, &a, why, sizeof(why));
		if (pr != REJ_OK)
			reject(r, e->line, pr, why, a.value, a.len);
		else
			take(r, e, &a);
	}
}

/* An inline comment as it may reach MDE: trimmed, control characters as
 * spaces, cut at LIMIT_COMMENT_BYTES at a character; 0 (none) when it is
 * empty or not UTF-8. */
static size_t
clean_comment(const char *s, size_t n, char *out, size_t outsz)
{
	size_t lead = 0;
	while (lead < n && ((unsigned char)s[lead] <= 0x20 || s[lead] == 0x7f))
		lead++;
	s += lead, n -= lead;
	if (n > outsz - 1) {
		n = outsz - 1;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
	}
	if (n == 0 || !utf8_valid(s, n))
		return 0;
	for (size_t i = 0; i < n; i++)
		out[i] = (unsigned char)s[i] < 0x20 || s[i] == 0x7f ? ' ' : s[i];
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
	return n;
}

static void
sink_entry(void *ctx, const struct feed_entry *e)
{
	struct run *r = ctx;
	char comment[LIMIT_COMMENT_BYTES + 1];
	struct feed_entry with;
	if (e->comment_len && e->description == NULL &&
	    clean_comment(e->comment, e->comment_len, comment, sizeof(comment))) {
		with = *e;
		with.description = comment;
		e = &with;
	}
	struct ioc i;
	char why[256];
	struct ioc_opts o = {.types = r->c->types};
	enum ioc_reason code;

	r->st->entries++;
	if (o.types == 0)
		o.types = IOC_TYPES_AUTO;
	o.url_feed = r->c->types != 0 && (r->c->types & IOC_BIT(IOC_URL));
	o.cert = (r->c->types & IOC_BIT(IOC_CERT)) != 0;
	if (e->types) {
		/* The source names the type (a STIX path, a MISP type): it
		 * narrows what the feed allows; a certificate it names counts
		 * even where the feed did not declare one. */
		unsigned allowed = o.types | (e->types & IOC_BIT(IOC_CERT));
		o.types = e->types & allowed;
		o.cert = (e->types & IOC_BIT(IOC_CERT)) != 0;
		if (o.types == 0) {
			snprintf(why, sizeof(why), "the source's type is not one the feed declares");
			reject(r, e->line, REJ_TYPE_NOT_WANTED, why, e->value, e->len);
			return;
		}
	}
	code = ioc_parse(e->value, e->len, &o, &i, why, sizeof(why));
	if (code == REJ_OK && i.prefix >= 0) {
		expand(r, e, &i);
		return;
	}
	if (code == REJ_OK)
		code = policy_check(r->c->policy, &i, why, sizeof(why));
	if (code == REJ_OK) {
		take(r, e, &i);
		return;
	}
	if (e->prose && !i.defanged && (prose_noise(code))) {
		r->st->prose_skipped++;
		return;
	}
	reject(r, e->line, code, why, e->value, e->len);
}

/* ---- chunked, multi-threaded path ---- */

/* The line parser counted the chunk's lines as it read them. */
static void
sink_lines(void *ctx, unsigned long n)
{
	struct run *r = ctx;
	r->col->lines = n;
}

#define PAR_MIN_BYTES ((size_t)4 << 20) /* smaller feeds: one pass */
#define PAR_CHUNK_BYTES ((size_t)1 << 20)
#define PAR_MAX_THREADS 8
#define PAR_AHEAD 4 /* chunks in flight per worker: bounds memory */

/* Record and text buffers, reused by chunk i and i + window: fresh
 * memory for each chunk would cost a page fault per 4 KiB. */
struct bufs {
	struct rec *recs;
	size_t recs_cap;
	struct strbuf text;
};

struct par {
	const struct pipe_cfg *c;
	const struct feed_opts *fo;
	struct bufs *ring; /* window entries */
	struct chunk *chunks;
	size_t nchunks, next, merged, window;
	pthread_mutex_t mu;
	pthread_cond_t ready, space;
};

static void
classify_chunk(struct par *p, struct chunk *k)
{
	struct run r = {.c = p->c, .st = &k->st, .col = k};
	struct feed_sink sink = {&r, sink_entry, sink_reject, sink_lines, NULL};
	struct bufs *b = &p->ring[(size_t)(k - p->chunks) % p->window];
	char why[8];

	k->recs = b->recs;
	k->recs_cap = b->recs_cap;
	k->text = b->text;
	k->text.len = 0;

	/* Line formats never fail as a whole (feed_parse returns ERR_OK),
	 * and each counts its lines for sink_lines as it reads them. */
	k->lines = 0;
	(void)feed_parse(k->buf, k->len, p->fo, &sink, NULL, why, sizeof(why));
}

static void *
worker(void *arg)
{
	struct par *p = arg;
	/* No setpriority here: the units forbid @resources, and a forbidden
	 * call kills the daemon (tests/seccomp runs it under their filter). */
	pthread_mutex_lock(&p->mu);
	for (;;) {
		while (p->next < p->nchunks && p->next >= p->merged + p->window)
			pthread_cond_wait(&p->space, &p->mu);
		if (p->next >= p->nchunks)
			break;
		struct chunk *k = &p->chunks[p->next++];
		pthread_mutex_unlock(&p->mu);
		classify_chunk(p, k);
		pthread_mutex_lock(&p->mu);
		k->done = true;
		pthread_cond_broadcast(&p->ready);
	}
	pthread_mutex_unlock(&p->mu);
	return NULL;
}

#define PREFETCH_AHEAD 16 /* records between a slot's prefetch and its add */

/* Replays a chunk in input order on the calling thread: each accepted
 * indicator into the merge, each rejection to the output. The merge is
 * told of an add PREFETCH_AHEAD records ahead (its slot) and half that
 * ahead (its record), so that its cache misses overlap. base: the lines
 * before the chunk. */
static void
replay(struct run *r, struct chunk *k, unsigned long base)
{
	const char *text = k->text.buf;
	const struct rec *v = k->recs;
	for (size_t i = 0; i < k->nrecs; i++) {
		if (i + PREFETCH_AHEAD < k->nrecs && v[i + PREFETCH_AHEAD].kind == REC_ACCEPTED)
			merge_prefetch(r->m, v[i + PREFETCH_AHEAD].hash, false);
		if (i + PREFETCH_AHEAD / 2 < k->nrecs && v[i + PREFETCH_AHEAD / 2].kind == REC_ACCEPTED)
			merge_prefetch(r->m, v[i + PREFETCH_AHEAD / 2].hash, true);
		const struct rec *x = &v[i];
		unsigned long line = base + x->line;
		if (x->kind == REC_REJECTED) {
			reject(r, line, (enum ioc_reason)x->code, text + x->why, text + x->off, x->len);
			continue;
		}
		bool fresh;
		merge_add_hashed(r->m, x->hash, (enum ioc_type)x->code, text + x->off, x->len, r->c->feed,
				 r->c->priority, line, NULL, x->desc != NO_DESC ? text + x->desc : NULL, 0, &fresh);
		merged(r, fresh, (enum ioc_type)x->code, text + x->off, x->len, line);
	}
	r->st->entries += k->st.entries;
	r->st->prose_skipped += k->st.prose_skipped;
	r->st->cidr_expanded += k->st.cidr_expanded;
}

static size_t
split(const char *buf, size_t len, size_t chunk_bytes, struct chunk **out)
{
	static const char bom[] = "\xef\xbb\xbf";
	struct chunk *v = NULL;
	size_t n = 0, cap = 0, at = 0;
	while (at < len) {
		size_t end = at + chunk_bytes;
		if (end >= len) {
			end = len;
		} else {
			/* Cut after a line end; never where the next chunk would
			 * start with bytes the line reader takes for a BOM. */
			for (;;) {
				const char *nl = memchr(buf + end, '\n', len - end);
				end = nl ? (size_t)(nl - buf) + 1 : len;
				if (end == len || len - end < 3 || memcmp(buf + end, bom, 3) != 0)
					break;
			}
		}
		xgrow((void **)&v, &cap, n + 1, sizeof(*v));
		v[n++] = (struct chunk){.buf = buf + at, .len = end - at};
		at = end;
	}
	*out = v;
	return n;
}

static void
chunk_release(struct par *p, struct chunk *k)
{
	struct bufs *b = &p->ring[(size_t)(k - p->chunks) % p->window];
	b->recs = k->recs;
	b->recs_cap = k->recs_cap;
	b->text = k->text;
	k->recs = NULL;
	k->nrecs = k->recs_cap = 0;
	k->text = (struct strbuf){0};
}

/* Gives back the pages of buf below end that are not given back yet
 * (*from on): a read-only file mapping reads them again if touched. */
static void
drop_input(const char *buf, size_t end, size_t *from)
{
	uintptr_t page = (uintptr_t)sysconf(_SC_PAGESIZE);
	uintptr_t lo = ((uintptr_t)buf + *from + page - 1) & ~(page - 1);
	uintptr_t hi = ((uintptr_t)buf + end) & ~(page - 1);
	if (hi > lo && madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0)
		*from = hi - (uintptr_t)buf;
}

static unsigned
cpus(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > PAR_MAX_THREADS ? PAR_MAX_THREADS : (unsigned)n;
}

static void
run_parallel(struct run *r, const struct feed_opts *fo, const char *buf, size_t len)
{
	struct par p = {.c = r->c, .fo = fo};
	pthread_t tid[PAR_MAX_THREADS];
	/* The calling thread is one of the threads that parse: it replays
	 * each chunk in order into the merge, and while the next one is not
	 * ready, parses a chunk nobody took yet. So threads - 1 workers. */
	unsigned nthreads = r->c->threads ? r->c->threads : cpus(), started = 0;
	unsigned long base = 0;
	size_t dropped = 0; /* bytes of buf given back (drop_merged_input) */

	if (nthreads > PAR_MAX_THREADS)
		nthreads = PAR_MAX_THREADS;
	p.nchunks = split(buf, len, r->c->chunk_bytes ? r->c->chunk_bytes : PAR_CHUNK_BYTES, &p.chunks);
	p.window = (size_t)nthreads * PAR_AHEAD;
	p.ring = xcalloc(p.window, sizeof(*p.ring));
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.ready, NULL);
	pthread_cond_init(&p.space, NULL);
	for (unsigned t = 0; t + 1 < nthreads; t++)
		if (pthread_create(&tid[t], NULL, worker, &p) == 0)
			started++;
	for (size_t i = 0; i < p.nchunks; i++) {
		struct chunk *k = &p.chunks[i];
		if (started == 0) {
			classify_chunk(&p, k); /* one CPU, or no thread could start */
		} else {
			pthread_mutex_lock(&p.mu);
			while (!k->done) {
				if (p.next < p.nchunks && p.next < p.merged + p.window) {
					struct chunk *o = &p.chunks[p.next++];
					pthread_mutex_unlock(&p.mu);
					classify_chunk(&p, o);
					pthread_mutex_lock(&p.mu);
					o->done = true;
					continue;
				}
				pthread_cond_wait(&p.ready, &p.mu);
			}
			pthread_mutex_unlock(&p.mu);
		}
		replay(r, k, base);
		base += k->lines;
		if (r->c->drop_merged_input)
			drop_input(buf, (size_t)(k->buf + k->len - buf), &dropped);
		chunk_release(&p, k);
		pthread_mutex_lock(&p.mu);
		p.merged = i + 1;
		pthread_cond_broadcast(&p.space);
		pthread_mutex_unlock(&p.mu);
	}
	for (unsigned t = 0; t < started; t++)
		pthread_join(tid[t], NULL);
	pthread_cond_destroy(&p.space);
	pthread_cond_destroy(&p.ready);
	pthread_mutex_destroy(&p.mu);
	for (size_t i = 0; i < p.window; i++) {
		free(p.ring[i].recs);
		sb_free(&p.ring[i].text);
	}
	free(p.ring);
	free(p.chunks);
}

static void
sink_columns(void *ctx, const char *desc)
{
	struct run *r = ctx;
	snprintf(r->st->columns, sizeof(r->st->columns), "%s", desc);
}

static enum err
run(const struct pipe_cfg *c, const struct feed_opts *fo, const char *buf, size_t len, struct merge *m,
    const struct pipe_out *out, struct feed_stats *st, char *why, size_t whysz)
{
	struct run r = {c, m, out, st, NULL};
	struct feed_sink k = {&r, sink_entry, sink_reject, NULL, sink_columns};
	enum feed_format f = fo->format;

	bool par = c->threads == 0 ? len >= PAR_MIN_BYTES && cpus() > 1 : c->threads > 1;
	if (!par || c->cidr != CIDR_SKIP)
		return feed_parse(buf, len, fo, &k, &st->format, why, whysz);
	/* Sniff once here, and hand the verdict on either way. */
	struct feed_opts one = *fo;
	if (f == FEED_AUTO || (unsigned)f >= FEED_FORMAT_COUNT)
		one.format = f = feed_sniff(buf, len);
	if (f != FEED_TEXT && f != FEED_HOSTS && f != FEED_NETSET)
		return feed_parse(buf, len, &one, &k, &st->format, why, whysz);
	st->format = f;
	if (why && whysz)
		why[0] = '\0';
	run_parallel(&r, &one, buf, len);
	return ERR_OK;
}

/* The bound every feed is held to, however it came. */
static enum err
entries_limit(const struct pipe_cfg *c, const struct feed_stats *st, char *why, size_t whysz)
{
	unsigned long max = c->max_entries ? c->max_entries : (unsigned long)LIMIT_ENTRIES_PER_FEED;
	if (st->entries <= max)
		return ERR_OK;
	set_why(why, whysz, "%lu entries, more than LIMIT_ENTRIES_PER_FEED (%lu): refused whole", st->entries, max);
	return ERR_LIMIT;
}

enum err
pipeline_run_objects(const struct pipe_cfg *c, const struct feed_opts *fo, const json_t *objs, struct merge *m,
		     const struct pipe_out *out, struct feed_stats *st, char *why, size_t whysz)
{
	struct run r = {c, m, out, st, NULL};
	struct feed_sink k = {&r, sink_entry, sink_reject, NULL, sink_columns};
	st->format = fo->format;
	feed_stix_objects(objs, fo, &k);
	return entries_limit(c, st, why, whysz);
}

enum err
pipeline_run(const struct pipe_cfg *c, const struct feed_opts *fo, const char *buf, size_t len, struct merge *m,
	     const struct pipe_out *out, struct feed_stats *st, char *why, size_t whysz)
{
	enum err e = run(c, fo, buf, len, m, out, st, why, whysz);
	return e == ERR_OK ? entries_limit(c, st, why, whysz) : e;
}
