#include "policy.h"

#include <arpa/inet.h>
#include <libpsl.h>
#include <pthread.h>
#include <sys/stat.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "strset.h"

struct range {
	int family;
	unsigned char addr[16];
	int prefix;
	const char *what;
};

enum {
	V_BUILTIN = 1,
	V_BUILTIN_STRICT = 2,
	V_USER = 4,
	V_ANCESTOR = 8
};

struct policy {
	const psl_ctx_t *psl;
	bool psl_owned;
	unsigned long gen; /* unique per policy: keys the per-thread TLD memo */
	struct range *ranges;
	size_t nranges;
	/* First bytes some special range covers, per family: most addresses
	 * skip the range scan. */
	unsigned char first4[32], first6[32];
	struct strset *domains;  /* V_BUILTIN[_STRICT] | V_USER | V_ANCESTOR */
	struct strset *exact;    /* IPs and hashes, builtin (1) or user (4) */
	uint64_t exact_may[64];  /* a bit per value shape in exact: most values skip it */
	struct range *user_nets; /* user CIDRs */
	size_t nuser_nets, user_nets_cap;
	char **url_prefixes;
	size_t nurl_prefixes, url_prefixes_cap;
	size_t user_count;
};

static bool
in_range(const struct range *r, int family, const unsigned char *a)
{
	int bits = r->prefix, i;
	if (r->family != family)
		return false;
	for (i = 0; bits >= 8; i++, bits -= 8)
		if (a[i] != r->addr[i])
			return false;
	if (bits > 0) {
		unsigned char m = (unsigned char)(0xff << (8 - bits));
		if ((a[i] & m) != (r->addr[i] & m))
			return false;
	}
	return true;
}

static bool
parse_range(const char *cidr, struct range *r)
{
	struct ioc i;
	struct ioc_opts o = {.types = IOC_BIT(IOC_IP)};
	if (ioc_parse(cidr, strlen(cidr), &o, &i, NULL, 0) != REJ_OK || i.type != IOC_IP)
		return false;
	r->family = i.family;
	memcpy(r->addr, i.addr, 16);
	r->prefix = i.prefix < 0 ? (i.family == AF_INET ? 32 : 128) : i.prefix;
	return true;
}

/* The key of an IP or hash: its type as one byte, then the value. */
static size_t
exact_key(char *key, int type, const char *v, size_t n)
{
	if (n > LIMIT_VALUE_BYTES)
		n = LIMIT_VALUE_BYTES;
	key[0] = (char)('0' + type);
	memcpy(key + 1, v, n);
	return n + 1;
}

/* A value's bit in exact_may, from its length and three of its bytes:
 * a Bloom filter of one cheap hash, in front of the set's full hash. */
static unsigned
may_bit(const char *v, size_t n)
{
	if (n == 0)
		return 0;
	return (unsigned)(n * 131 + (unsigned char)v[0] * 31 + (unsigned char)v[n / 2] * 7 + (unsigned char)v[n - 1]) &
		4095;
}

static void
add_exact(struct policy *p, int type, const char *v, size_t n, int flag)
{
	char key[LIMIT_VALUE_BYTES + 2];
	unsigned b = may_bit(v, n);
	p->exact_may[b / 64] |= (uint64_t)1 << (b % 64);
	strset_or(p->exact, key, exact_key(key, type, v, n), flag);
}

static int
get_exact(const struct policy *p, int type, const char *v, size_t n)
{
	char key[LIMIT_VALUE_BYTES + 2];
	unsigned b = may_bit(v, n);
	if (!(p->exact_may[b / 64] >> (b % 64) & 1))
		return -1;
	return strset_get(p->exact, key, exact_key(key, type, v, n));
}

/* Records d and marks its parents as ancestors of an allowlisted name;
 * a name both listed and an ancestor has both flags, whatever the order. */
static void
add_domain(struct policy *p, const char *d, size_t n, int flag)
{
	strset_or(p->domains, d, n, flag);
	for (size_t i = 0; i < n; i++)
		if (d[i] == '.')
			strset_or(p->domains, d + i + 1, n - i - 1, V_ANCESTOR);
}

/*
 * A name with a parent (label.parent) is a public suffix only when the
 * list has a rule for it, or a wildcard over its parent; libpsl takes
 * about 400 ns to say it is not, and a feed has millions of names. An
 * index of the rules proves most of those answers without a lookup, and
 * libpsl still gives every answer the index cannot rule out.
 *
 * The index is read from the publicsuffix package's text list, and used
 * only when libpsl loaded that package's compiled list (the .dafsa made
 * from the same text and installed with it): both then hold the same
 * rules. It holds the rules written in ASCII; a name with a punycode
 * label always goes to libpsl, so an IDN rule (compiled in punycode) is
 * never missed. Any rule libpsl does not confirm disables the index.
 * Built once per process, on the first name, and kept (it is the
 * system's list, the same for every policy).
 */
static struct {
	struct strset *named; /* rules and exceptions */
	struct strset *wild;  /* parents of "*." rules */
} psl_index;
static pthread_once_t psl_index_once = PTHREAD_ONCE_INIT;
/* The list of the policy whose name builds the index: pthread_once runs
 * psl_index_build on the asking thread, which sets this first. */
static _Thread_local const psl_ctx_t *psl_index_from;

/* Adds one rule (a line's first word) to the index; false for a rule
 * the index cannot hold, or one that libpsl does not confirm. */
static bool
psl_index_rule(const psl_ctx_t *psl, char *r, size_t rn)
{
	for (size_t k = 0; k < rn; k++)
		if ((unsigned char)r[k] >= 0x80)
			return true; /* IDN: names in punycode always ask libpsl */
	bool except = r[0] == '!';
	if (except) {
		r++;
		rn--;
	}
	if (rn >= 2 && r[0] == '*' && r[1] == '.') {
		/* libpsl takes the parent of a wildcard for a rule too. */
		strset_add(psl_index.wild, r + 2, rn - 2, 1);
		strset_add(psl_index.named, r + 2, rn - 2, 1);
		return true;
	}
	if (rn == 0 || memchr(r, '*', rn) != NULL)
		return false;
	/* Names are looked up in canonical lower case: a rule in another
	 * case would be missed by the index, never by libpsl. */
	for (size_t k = 0; k < rn; k++)
		if (lc(r[k]) != r[k])
			return false;
	strset_add(psl_index.named, r, rn, 1);
	r[rn] = '\0';
	return except || psl_is_public_suffix2(psl, r, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) == 1;
}

static void
psl_index_build(void)
{
	const char *dafsa = psl_dist_filename();
	size_t n = dafsa ? strlen(dafsa) : 0;
	struct stat st_dafsa, st_dat;
	const psl_ctx_t *psl = psl_index_from; /* the package's list (see the caller) */
	char *buf = NULL, *path = NULL;
	size_t len;
	bool ok = true;

	/* The package makes the compiled list from the text one and installs
	 * both: files more than an hour apart are not that pair. */
	if (n < 6 || strcmp(dafsa + n - 6, ".dafsa") != 0)
		goto out;
	path = xasprintf("%.*s.dat", (int)(n - 6), dafsa);
	if (stat(dafsa, &st_dafsa) != 0 || stat(path, &st_dat) != 0 ||
	    llabs((long long)st_dat.st_mtime - (long long)st_dafsa.st_mtime) > 3600 ||
	    file_read(path, 4 << 20, &buf, &len) != ERR_OK)
		goto out;
	psl_index.named = strset_new();
	psl_index.wild = strset_new();
	for (char *line = buf, *next; ok && line < buf + len; line = next) {
		char *end = memchr(line, '\n', (size_t)(buf + len - line));
		next = end ? end + 1 : buf + len;
		size_t rn = 0;
		while (line + rn < next && !is_space(line[rn]))
			rn++;
		/* "//" starts a comment line. */
		if (rn > 0 && !(rn >= 2 && line[0] == '/' && line[1] == '/'))
			ok = psl_index_rule(psl, line, rn);
	}
	if (!ok) {
		strset_free(psl_index.named);
		strset_free(psl_index.wild);
		psl_index.named = psl_index.wild = NULL;
	}
out:
	free(buf);
	free(path);
}

/* Can a name under parent (pn bytes, NUL-terminated) be a public
 * suffix without a rule for the name itself? Only under a wildcard, or
 * where the index does not know (no index, a punycode label). */
static bool
psl_child_may_be_public(const struct policy *p, const char *parent, size_t pn)
{
	if (p->psl == psl_builtin())
		return true;
	psl_index_from = p->psl;
	(void)pthread_once(&psl_index_once, psl_index_build);
	if (psl_index.named == NULL || (pn >= 4 && memcmp(parent, "xn--", 4) == 0) || strstr(parent, ".xn--") != NULL)
		return true;
	return strset_get(psl_index.wild, parent, pn) >= 0;
}

/* Is name (n bytes) named by a rule of the index, or may its punycode
 * first label be? Only asked where psl_child_may_be_public said no, so
 * the index exists. */
static bool
psl_named(const char *name, size_t n)
{
	return (n >= 4 && memcmp(name, "xn--", 4) == 0) || strset_get(psl_index.named, name, n) >= 0;
}

struct policy *
policy_new(void)
{
	struct policy *p = xcalloc(1, sizeof(*p));
	struct ioc i;
	struct ioc_opts o = {0};

	static _Atomic unsigned long generation;
	p->gen = ++generation;
	p->psl = psl_latest(NULL);
	p->psl_owned = p->psl != NULL;
	if (p->psl == NULL)
		p->psl = psl_builtin();
	p->nranges = policy_nspecial;
	p->ranges = xcalloc(p->nranges, sizeof(*p->ranges));
	for (size_t k = 0; k < policy_nspecial; k++) {
		if (!parse_range(policy_special[k].cidr, &p->ranges[k]))
			abort(); /* a typo in the table above */
		p->ranges[k].what = policy_special[k].what;
		const struct range *r = &p->ranges[k];
		unsigned char *bits = r->family == AF_INET ? p->first4 : p->first6;
		unsigned span = r->prefix >= 8 ? 1u : 1u << (8 - r->prefix);
		for (unsigned b = r->addr[0] & ~(span - 1); span--; b++)
			bits[b >> 3] |= (unsigned char)(1u << (b & 7));
	}
	p->domains = strset_new();
	p->exact = strset_new();
	for (size_t k = 0; k < policy_nbuiltin_domains; k++)
		add_domain(p, policy_builtin_domains[k].name, strlen(policy_builtin_domains[k].name),
			   policy_builtin_domains[k].strict ? V_BUILTIN_STRICT : V_BUILTIN);
	for (size_t k = 0; k < policy_nbuiltin_ips; k++) {
		if (ioc_parse(policy_builtin_ips[k], strlen(policy_builtin_ips[k]), &o, &i, NULL, 0) != REJ_OK)
			abort();
		add_exact(p, IOC_IP, i.value, i.len, V_BUILTIN);
	}
	for (size_t k = 0; k < policy_nbuiltin_hashes; k++) {
		if (ioc_parse(policy_builtin_hashes[k], strlen(policy_builtin_hashes[k]), &o, &i, NULL, 0) != REJ_OK)
			abort();
		add_exact(p, IOC_MD5, i.value, i.len, V_BUILTIN); /* one key space for all hashes */
	}
	return p;
}

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	if (p->psl_owned)
		psl_free((psl_ctx_t *)p->psl);
	free(p->ranges);
	strset_free(p->domains);
	strset_free(p->exact);
	free(p->user_nets);
	for (size_t k = 0; k < p->nurl_prefixes; k++)
		free(p->url_prefixes[k]);
	free(p->url_prefixes);
	free(p);
}

size_t
policy_allowlist_count(const struct policy *p)
{
	return p->user_count;
}

enum err
policy_allowlist_add(struct policy *p, const char *path, const char *buf, size_t len, struct strbuf *errs)
{
	const char *s = buf, *e = buf + len;
	unsigned line = 0;
	enum err rc = ERR_OK;
	struct ioc_opts o = {.types = IOC_TYPES_AUTO | IOC_BIT(IOC_CERT)};

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		s += 3;
	while (s < e) {
		const char *nl = memchr(s, '\n', (size_t)(e - s));
		const char *le = nl ? nl : e, *v = s, *ve;
		struct ioc i;
		char why[256];
		line++;
		s = nl ? nl + 1 : e;
		while (v < le && is_space((unsigned char)*v))
			v++;
		ve = v;
		while (ve < le && !is_space((unsigned char)*ve) && *ve != '#')
			ve++;
		if (ve == v)
			continue; /* blank or comment */
		enum ioc_reason r = ioc_parse(v, (size_t)(ve - v), &o, &i, why, sizeof(why));
		if (r != REJ_OK) {
			char echo[LIMIT_ECHO_BYTES * 4 + 8];
			sb_addf(errs, "%s:%u: not an allowlist entry (%s): %s\n", path, line, why,
				echo_str(v, (size_t)(ve - v), echo, sizeof(echo)));
			rc = ERR_CONFIG;
			continue;
		}
		p->user_count++;
		switch (i.type) {
		case IOC_IP:
			if (i.prefix >= 0) {
				xgrow((void **)&p->user_nets, &p->user_nets_cap, p->nuser_nets + 1,
				      sizeof(*p->user_nets));
				struct range *rg = &p->user_nets[p->nuser_nets++];
				rg->family = i.family;
				memcpy(rg->addr, i.addr, 16);
				rg->prefix = i.prefix;
				rg->what = "user allowlist";
			} else {
				add_exact(p, IOC_IP, i.value, i.len, V_USER);
			}
			break;
		case IOC_DOMAIN: add_domain(p, i.value, i.len, V_USER); break;
		case IOC_URL:
			xgrow((void **)&p->url_prefixes, &p->url_prefixes_cap, p->nurl_prefixes + 1, sizeof(char *));
			char norm[LIMIT_VALUE_BYTES + 32];
			size_t normlen = policy_url_normal(i.value, i.len, norm, sizeof(norm));
			p->url_prefixes[p->nurl_prefixes++] = xstrndup(norm, normlen);
			break;
		default: /* hashes: an allowlisted hash is refused whatever its type */
			add_exact(p, IOC_MD5, i.value, i.len, V_USER);
			break;
		}
	}
	return rc;
}

static enum ioc_reason
check_addr(const struct policy *p, int family, const unsigned char *a, const char *text, size_t n, char *why,
	   size_t whysz)
{
	const unsigned char *first = family == AF_INET ? p->first4 : p->first6;
	bool maybe = first[a[0] >> 3] & (1u << (a[0] & 7));
	for (size_t k = 0; maybe && k < p->nranges; k++)
		if (in_range(&p->ranges[k], family, a)) {
			set_why(why, whysz, "special-purpose address: %s", p->ranges[k].what);
			return REJ_SPECIAL;
		}
	if (family == AF_INET6 && (a[0] & 0xe0) != 0x20) {
		set_why(why, whysz, "not a global unicast address (outside 2000::/3, RFC 4291 2.4)");
		return REJ_SPECIAL;
	}
	int f = get_exact(p, IOC_IP, text, n);
	if (f >= 0) {
		if (f & V_USER) {
			set_why(why, whysz, "on the user allowlist");
			return REJ_USER_ALLOWLIST;
		}
		set_why(why, whysz, "a public DNS resolver (built-in allowlist)");
		return REJ_ALLOWLIST;
	}
	for (size_t k = 0; k < p->nuser_nets; k++)
		if (in_range(&p->user_nets[k], family, a)) {
			set_why(why, whysz, "inside an allowlisted network");
			return REJ_USER_ALLOWLIST;
		}
	return REJ_OK;
}

/*
 * Per-thread memos of what libpsl said (below), made on a thread's first
 * name and freed when it ends: as static thread-local arrays they were
 * 84 KB of every thread's TLS, zeroed (touched) as each thread started,
 * also the threads that never see a name (a provider's thousand tenant
 * threads: 84 MB).
 */
struct tld_memo {
	unsigned long gen;
	char tld[24];
	bool listed;
};
struct reg_memo {
	unsigned long gen;
	char parent[64];
	bool is_public, child_may_be_public;
	uint8_t reglen;
};
#define TLD_MEMOS 64   /* a power of two */
#define REG_MEMOS 1024 /* a power of two */
struct memos {
	struct tld_memo tld[TLD_MEMOS];
	struct reg_memo reg[REG_MEMOS];
};
static pthread_key_t memos_key;
static pthread_once_t memos_once = PTHREAD_ONCE_INIT;

static void
memos_key_make(void)
{
	(void)pthread_key_create(&memos_key, free);
}

static struct memos *
thread_memos(void)
{
	static _Thread_local struct memos *m;
	if (m == NULL) {
		(void)pthread_once(&memos_once, memos_key_make);
		m = xcalloc(1, sizeof(*m));
		(void)pthread_setspecific(memos_key, m);
	}
	return m;
}

/* Is the top-level domain tld itself on the public suffix list? A small
 * per-thread memo: a feed has few TLDs and millions of names. */
static bool
tld_listed(const struct policy *p, const char *tld)
{
	struct tld_memo *memo = thread_memos()->tld;
	size_t n = strlen(tld);
	if (n >= sizeof(memo[0].tld))
		return psl_is_public_suffix2(p->psl, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) == 1;
	unsigned h = (unsigned)(hash_bytes(tld, n, 0) & (TLD_MEMOS - 1));
	if (memo[h].gen == p->gen && strcmp(memo[h].tld, tld) == 0)
		return memo[h].listed;
	memo[h].gen = p->gen;
	memcpy(memo[h].tld, tld, n + 1);
	memo[h].listed = psl_is_public_suffix2(p->psl, tld, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) == 1;
	return memo[h].listed;
}

/*
 * Length of the registrable domain at the end of name (n bytes), 0 when
 * there is none; the same answer as psl_registrable_domain, which walks
 * from the left until a suffix is public, so for name = label.parent:
 *   reg(name) = none if name is public, name if parent is, else reg(parent).
 * The parent's answers come from a per-thread memo: a feed holds
 * millions of names under a few thousand parents. Whether the name
 * itself is public is libpsl's to say, unless the index shows that no
 * rule can make it so (most names: no lookup at all).
 */
static size_t
registrable_len(const struct policy *p, const char *name, size_t n)
{
	struct reg_memo *memo = thread_memos()->reg;
	const char *dot = memchr(name, '.', n);

	if (dot == NULL) /* a lone label that is no public suffix (not with the star rule) */
		return psl_is_public_suffix(p->psl, name) ? 0 : n;
	const char *parent = dot + 1;
	size_t pn = n - (size_t)(parent - name);
	if (pn >= sizeof(memo[0].parent)) {
		if (psl_is_public_suffix(p->psl, name))
			return 0;
		if (psl_is_public_suffix(p->psl, parent))
			return n;
		const char *r = psl_registrable_domain(p->psl, parent);
		return r ? strlen(r) : 0;
	}
	unsigned h = (unsigned)(hash_bytes(parent, pn, 1) & (REG_MEMOS - 1));
	if (memo[h].gen != p->gen || strcmp(memo[h].parent, parent) != 0) {
		memo[h].gen = p->gen;
		memcpy(memo[h].parent, parent, pn + 1);
		memo[h].is_public = psl_is_public_suffix(p->psl, parent);
		const char *r = memo[h].is_public ? NULL : psl_registrable_domain(p->psl, parent);
		memo[h].reglen = (uint8_t)(r ? strlen(r) : 0);
		memo[h].child_may_be_public = psl_child_may_be_public(p, parent, pn);
	}
	if ((memo[h].child_may_be_public || psl_named(name, n)) && psl_is_public_suffix(p->psl, name))
		return 0;
	return memo[h].is_public ? n : memo[h].reglen;
}

bool
policy_psl_indexed(const struct policy *p)
{
	return p->psl != psl_builtin() && psl_index.named != NULL;
}

size_t
policy_registrable_len(const struct policy *p, const char *name)
{
	return registrable_len(p, name, strlen(name));
}

/* Domain checks; url_has_path tells whether a URL names more than the
 * site itself, which built-in non-strict entries allow. */
static enum ioc_reason
check_domain(const struct policy *p, const char *d, size_t n, bool is_url, bool url_has_path, char *why, size_t whysz)
{
	char name[LIMIT_DOMAIN_BYTES + 1];
	const char *tld = name;

	memcpy(name, d, n);
	name[n] = '\0';
	const char *dot = memrchr(name, '.', n);
	if (dot)
		tld = dot + 1;
	size_t tl = (size_t)(name + n - tld);
	/* A special name ends the name at a label's start: their last
	 * labels are the same length, which most names rule out at once. */
	for (size_t k = 0; k < policy_nspecial_domains; k++) {
		size_t sl = policy_special_domains[k].len;
		if (policy_special_domains[k].tld_len == tl && n >= sl &&
		    d[n - 1] == policy_special_domains[k].name[sl - 1] &&
		    memcmp(d + n - sl, policy_special_domains[k].name, sl) == 0 && (n == sl || d[n - sl - 1] == '.')) {
			set_why(why, whysz, "special-use domain name .%s (RFC 6761)", policy_special_domains[k].name);
			return REJ_SPECIAL;
		}
	}
	/* A known top-level domain is one the public suffix list names,
	 * alone (com) or under a listed suffix (za only through co.za).
	 * Shortest suffix first: most names end in a listed TLD, which a
	 * per-thread memo answers without a lookup. */
	bool known = tld_listed(p, tld);
	for (const char *q = tld; !known && q != name;) {
		do
			q--;
		while (q != name && q[-1] != '.');
		known = psl_is_public_suffix2(p->psl, q, PSL_TYPE_ANY | PSL_TYPE_NO_STAR_RULE) == 1;
	}
	if (!known) {
		set_why(why, whysz, "unknown top-level domain .%s", tld);
		return REJ_BAD_DOMAIN;
	}
	size_t reglen = registrable_len(p, name, n);
	if (!is_url && reglen == 0 && psl_is_public_suffix2(p->psl, name, PSL_TYPE_ANY) == 1) {
		set_why(why, whysz, "%s is a public suffix: a block would cover every site under it", name);
		return REJ_PUBLIC_SUFFIX;
	}
	/* Built-in entries are registrable domains, so customer names below
	 * a public suffix (evil.blob.core.windows.net) are not covered. */
	const char *reg = reglen ? name + n - reglen : name;
	int reg_flags = -1;
	/* User allowlist: the name or any parent; or the name is above an
	 * allowlisted one (a DomainName indicator covers its subdomains).
	 * Every parent of a name in the set is in it too, so the suffixes
	 * there are found from the top-level label down, stopping at the
	 * first absent (most names: one lookup); then they are judged from
	 * the name up, the order the reasons are given in. The walk passes
	 * the registrable domain: remember its flags. */
	const char *found[LIMIT_DOMAIN_BYTES / 2 + 1];
	int flags[LIMIT_DOMAIN_BYTES / 2 + 1];
	size_t nf = 0;
	for (const char *q = tld;;) {
		int f = strset_get(p->domains, q, (size_t)(name + n - q));
		if (f < 0)
			break;
		found[nf] = q;
		flags[nf++] = f;
		if (q == name)
			break;
		do
			q--;
		while (q != name && q[-1] != '.');
	}
	const char *builtin = NULL;
	while (nf-- > 0) {
		const char *q = found[nf];
		int f = flags[nf];
		/* A built-in entry covers its subdomains while they are under the
		 * same registrable domain: microsoft.com, and also entries below
		 * one (one.one.one.one, ocsp.sectigo.com); the longest wins. */
		if (q <= reg && (f & (V_BUILTIN | V_BUILTIN_STRICT)) && builtin == NULL) {
			builtin = q;
			reg_flags = f;
		}
		if (f & V_USER) {
			set_why(why, whysz, "%s is on the user allowlist", q);
			return REJ_USER_ALLOWLIST;
		}
		if (q == name && (f & V_ANCESTOR) && !is_url) {
			set_why(why, whysz, "would also block an allowlisted subdomain of %s", name);
			return REJ_USER_ALLOWLIST;
		}
	}
	int f = reg_flags;
	if (f >= 0 && (f & (V_BUILTIN | V_BUILTIN_STRICT))) {
		if (is_url && url_has_path && !(f & V_BUILTIN_STRICT))
			return REJ_OK;
		set_why(why, whysz, "%s is critical infrastructure (built-in allowlist, entry %s)%s", name, builtin,
			is_url && !(f & V_BUILTIN_STRICT) ? "; only URLs with a path may be sent" : "");
		return REJ_ALLOWLIST;
	}
	return REJ_OK;
}

static enum ioc_reason
check_url(const struct policy *p, const struct ioc *i, char *why, size_t whysz)
{
	const char *host = i->value + i->host_off;
	const char *rest = host + i->host_len;
	enum ioc_reason r;

	/* Skip ":port" to find the path. */
	if (*rest == ':')
		while (*rest && *rest != '/' && *rest != '?')
			rest++;
	bool has_path = rest[0] != '\0' && !(rest[0] == '/' && rest[1] == '\0');
	if (i->family == AF_INET || i->family == AF_INET6) {
		char text[48];
		size_t n = ioc_addr_format(i->family, i->addr, text);
		r = check_addr(p, i->family, i->addr, text, n, why, whysz);
	} else {
		r = check_domain(p, host, i->host_len, true, has_path, why, whysz);
	}
	if (r != REJ_OK)
		return r;
	if (p->nurl_prefixes == 0)
		return REJ_OK;
	char norm[LIMIT_VALUE_BYTES + 32];
	size_t vl = policy_url_normal(i->value, i->len, norm, sizeof(norm));
	for (size_t k = 0; k < p->nurl_prefixes; k++) {
		const char *u = p->url_prefixes[k];
		size_t ul = strlen(u), n = vl < ul ? vl : ul;
		if (memcmp(u, norm, n) == 0) {
			set_why(why, whysz, "%s the allowlisted URL prefix %s", vl >= ul ? "under" : "would cover", u);
			return REJ_USER_ALLOWLIST;
		}
	}
	return REJ_OK;
}

enum ioc_reason
policy_check(const struct policy *p, const struct ioc *i, char *why, size_t whysz)
{
	int f;
	switch (i->type) {
	case IOC_IP: return check_addr(p, i->family, i->addr, i->value, i->len, why, whysz);
	case IOC_DOMAIN: return check_domain(p, i->value, i->len, false, false, why, whysz);
	case IOC_URL: return check_url(p, i, why, whysz);
	case IOC_MD5:
	case IOC_SHA1:
	case IOC_SHA256:
	case IOC_CERT:
		f = get_exact(p, IOC_MD5, i->value, i->len);
		if (f < 0)
			return REJ_OK;
		set_why(why, whysz,
			f & V_USER ? "on the user allowlist" : "hash of the empty file (built-in allowlist)");
		return f & V_USER ? REJ_USER_ALLOWLIST : REJ_ALLOWLIST;
	default: set_why(why, whysz, "no indicator type"); return REJ_NOT_INDICATOR;
	}
}

bool
policy_action_ok(enum ioc_type t, enum ioc_action a, bool generate_alert, char *why, size_t whysz)
{
	/* MDE "Action x type" matrix (indicators-overview.md). */
	bool file = t == IOC_MD5 || t == IOC_SHA1 || t == IOC_SHA256;
	bool net = t == IOC_IP || t == IOC_DOMAIN || t == IOC_URL;

	if (a == ACT_AUDIT && !generate_alert) {
		set_why(why, whysz, "Audit requires generate_alert = yes (MDE rejects it otherwise)");
		return false;
	}
	if (net && a == ACT_BLOCK_AND_REMEDIATE) {
		set_why(why, whysz, "%s indicators cannot be BlockAndRemediate (MDE action x type matrix)",
			ioc_type_name(t));
		return false;
	}
	if (t == IOC_CERT && (a == ACT_AUDIT || a == ACT_WARN || a == ACT_BLOCK)) {
		set_why(why, whysz,
			"CertificateThumbprint indicators take only Allowed or BlockAndRemediate "
			"(MDE action x type matrix)");
		return false;
	}
	(void)file;
	return true;
}
