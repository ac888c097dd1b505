#include "pipeline.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

struct run {
	const struct pipe_cfg *c;
	struct merge *m;
	const struct pipe_out *out;
	struct feed_stats *st;
};

static void
reject(struct run *r, unsigned long line, enum ioc_reason why_code, const char *why, const char *in,
       size_t n)
{
	r->st->rejected[why_code]++;
	r->st->rejected_total++;
	if (r->out && r->out->rejected)
		r->out->rejected(r->out->ctx, r->c, line, why_code, why, in, n);
}

static void
sink_reject(void *ctx, unsigned long line, enum ioc_reason code, const char *why, const char *in,
	    size_t n)
{
	reject(ctx, line, code, why, in, n);
}

static void
take(struct run *r, const struct feed_entry *e, const struct ioc *i)
{
	bool fresh;
	merge_add(r->m, i->type, i->value, i->len, r->c->feed, r->c->priority, e->line, e->title,
		  e->description, e->expire_at, &fresh);
	if (!fresh) {
		r->st->duplicates++;
		return;
	}
	r->st->accepted[i->type]++;
	r->st->accepted_total++;
	if (r->out && r->out->accepted)
		r->out->accepted(r->out->ctx, r->c, e->line, i);
}

/* A syntax verdict on a word of prose: the word just was no indicator. */
static bool
prose_noise(enum ioc_reason code)
{
	switch (code) {
	case REJ_EMPTY: case REJ_TOO_LONG: case REJ_BAD_UTF8: case REJ_NOT_INDICATOR: case REJ_BAD_IPV4:
	case REJ_BAD_IPV6: case REJ_BAD_DOMAIN: case REJ_BAD_URL: case REJ_URL_SCHEME: case REJ_NO_SCHEME:
	case REJ_BAD_HASH: case REJ_TYPE_NOT_WANTED:
		return true;
	default:
		return false;
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
		snprintf(why, sizeof(why), "/%d holds %llu addresses, more than cidr_expand_max = %u",
			 block->prefix, count, r->c->cidr_max_addrs);
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

static void
sink_entry(void *ctx, const struct feed_entry *e)
{
	struct run *r = ctx;
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

enum err
pipeline_run(const struct pipe_cfg *c, const struct feed_opts *fo, const char *buf, size_t len,
	     struct merge *m, const struct pipe_out *out, struct feed_stats *st, char *why, size_t whysz)
{
	struct run r = {c, m, out, st};
	struct feed_sink k = {&r, sink_entry, sink_reject};
	return feed_parse(buf, len, fo, &k, &st->format, why, whysz);
}
