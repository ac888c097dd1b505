/* The merge (dedup across feeds, priorities, sources) and the chunked,
 * multi-threaded pipeline, which must give exactly what one pass gives. */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "helpers.h"
#include <jansson.h>

#include "merge.h"
#include "pipeline.h"
#include "policy.h"

static size_t
add(struct merge *m, enum ioc_type t, const char *v, uint32_t feed, int32_t prio, unsigned long line, const char *title,
    bool *fresh)
{
	return merge_add(m, t, v, strlen(v), feed, prio, line, title, NULL, 0, fresh);
}

static void
test_priority_and_sources(void **state)
{
	(void)state;
	struct merge *m = merge_new();
	struct merge_item it;
	bool fresh;
	size_t n;

	size_t a = add(m, IOC_DOMAIN, "evil.example.com", 0, 10, 3, "low", &fresh);
	assert_true(fresh);
	assert_int_equal(add(m, IOC_DOMAIN, "evil.example.com", 0, 10, 9, "ignored", &fresh), a);
	assert_false(fresh); /* a repeat within feed 0 */
	/* Same text, other type: another item. */
	size_t b = add(m, IOC_URL, "evil.example.com", 0, 10, 4, NULL, &fresh);
	assert_true(fresh);
	assert_int_not_equal(a, b);
	/* Feed 1, higher priority: new in this feed, takes the attributes. */
	assert_int_equal(add(m, IOC_DOMAIN, "evil.example.com", 1, 50, 7, "high", &fresh), a);
	assert_true(fresh);
	/* Feed 2, lower priority: keeps feed 1's attributes. */
	assert_int_equal(add(m, IOC_DOMAIN, "evil.example.com", 2, 5, 1, "lower", &fresh), a);
	assert_true(fresh);
	/* Equal priority does not take over either. */
	assert_int_equal(add(m, IOC_DOMAIN, "evil.example.com", 3, 50, 2, "equal", &fresh), a);

	assert_int_equal(merge_count(m), 2);
	merge_get(m, a, &it);
	assert_string_equal(it.value, "evil.example.com");
	assert_int_equal(it.type, IOC_DOMAIN);
	assert_int_equal(it.feed, 1);
	assert_int_equal(it.priority, 50);
	assert_string_equal(it.title, "high");

	const struct merge_src *s = merge_sources(m, a, &n);
	assert_int_equal(n, 5);
	static const uint32_t want[][2] = {{0, 3}, {0, 9}, {1, 7}, {2, 1}, {3, 2}};
	for (size_t k = 0; k < n; k++) {
		assert_int_equal(s[k].feed, want[k][0]);
		assert_int_equal(s[k].line, want[k][1]);
	}
	s = merge_sources(m, b, &n);
	assert_int_equal(n, 1);
	assert_int_equal(s[0].line, 4);
	merge_get(m, b, &it);
	assert_null(it.title);
	/* Sources added after a grouping show up in the next one. */
	add(m, IOC_URL, "evil.example.com", 4, 0, 11, NULL, &fresh);
	s = merge_sources(m, b, &n);
	assert_int_equal(n, 2);
	assert_int_equal(s[1].feed, 4);
	merge_free(m);
}

/* Many items through several table growths, found again after. */
static void
test_growth(void **state)
{
	(void)state;
	enum {
		N = 200000
	};
	struct merge *m = merge_new();
	char v[64];
	bool fresh;

	for (int i = 0; i < N; i++) {
		snprintf(v, sizeof(v), "%d.example.net", i);
		uint64_t h = merge_hash(IOC_DOMAIN, v, strlen(v));
		assert_int_equal(merge_add_hashed(m, h, IOC_DOMAIN, v, strlen(v), 0, 0, (unsigned long)i + 1, NULL,
						  NULL, 0, &fresh),
				 (size_t)i);
		assert_true(fresh);
	}
	for (int i = N - 1; i >= 0; i -= 7) {
		snprintf(v, sizeof(v), "%d.example.net", i);
		assert_int_equal(add(m, IOC_DOMAIN, v, 1, 0, 1, NULL, &fresh), (size_t)i);
		assert_true(fresh);
		assert_int_equal(add(m, IOC_DOMAIN, v, 1, 0, 2, NULL, &fresh), (size_t)i);
		assert_false(fresh);
	}
	assert_int_equal(merge_count(m), N);
	struct merge_item it;
	merge_get(m, 12345, &it);
	assert_string_equal(it.value, "12345.example.net");
	assert_int_equal(it.len, strlen("12345.example.net"));
	/* Items added after a merge_get are found by the next one. */
	assert_int_equal(add(m, IOC_URL, "http://new.example.net/", 2, 0, 1, NULL, &fresh), (size_t)N);
	assert_int_equal(add(m, IOC_DOMAIN, "new.example.net", 2, 0, 2, NULL, &fresh), (size_t)N + 1);
	merge_get(m, N, &it);
	assert_string_equal(it.value, "http://new.example.net/");
	merge_get(m, N + 1, &it);
	assert_string_equal(it.value, "new.example.net");
	merge_get(m, 0, &it);
	assert_string_equal(it.value, "0.example.net");
	size_t n;
	const struct merge_src *s = merge_sources(m, 12345, &n);
	assert_int_equal(n, 1); /* 12345 is not a multiple of 7 away from N - 1 */
	assert_int_equal(s[0].line, 12346);
	s = merge_sources(m, N - 1, &n);
	assert_int_equal(n, 3);
	merge_free(m);

	/* Without sources: the same items, no sources. */
	m = merge_new();
	merge_skip_sources(m);
	add(m, IOC_IP, "45.1.2.3", 0, 0, 1, NULL, &fresh);
	assert_int_equal(add(m, IOC_IP, "45.1.2.3", 1, 0, 2, NULL, &fresh), 0);
	assert_true(fresh);
	assert_int_equal(merge_count(m), 1);
	merge_sources(m, 0, &n);
	assert_int_equal(n, 0);
	merge_free(m);
}

/* A feed's own set absorbed into the run's is the run's set as if the
 * feed's occurrences had been added to it directly: items and their
 * order, the deciding feed, attributes and sources; feeds of several
 * priorities, titles on some occurrences, through table growth. */
static void
test_absorb_equals_direct_adds(void **state)
{
	(void)state;
	enum {
		FEEDS = 6,
		PER_FEED = 30000,
		SPACE = 50000
	};
	struct merge *direct = merge_new(), *run = merge_new();
	unsigned long seed = 7;
	bool fresh;
	for (uint32_t feed = 0; feed < FEEDS; feed++) {
		int32_t prio = (int32_t)((feed * 37) % 5);
		struct merge *mine = merge_new();
		for (unsigned long line = 1; line <= PER_FEED; line++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			unsigned v = (unsigned)(seed >> 33) % SPACE;
			enum ioc_type t = v % 3 == 0 ? IOC_URL : v % 3 == 1 ? IOC_IP : IOC_DOMAIN;
			char val[48], title[32];
			if (t == IOC_IP)
				snprintf(val, sizeof(val), "45.%u.%u.%u", v >> 16, v >> 8 & 255, v & 255);
			else
				snprintf(val, sizeof(val), "h%u.example.org", v / 3 * 3); /* one text, two types */
			snprintf(title, sizeof(title), "feed %u line %lu", feed, line);
			bool titled = v % 7 == 0;
			bool a, b; /* new_in_feed: the pipeline counts it, absorb need not */
			merge_add(direct, t, val, strlen(val), feed, prio, line, titled ? title : NULL, NULL,
				  titled ? (long long)line : 0, &a);
			merge_add(mine, t, val, strlen(val), feed, prio, line, titled ? title : NULL, NULL,
				  titled ? (long long)line : 0, &b);
		}
		merge_absorb(run, mine);
		merge_free(mine);
	}
	assert_int_equal(merge_count(direct), merge_count(run));
	assert_true(merge_count(direct) > SPACE / 2);
	for (size_t i = 0; i < merge_count(direct); i++) {
		struct merge_item x, y;
		merge_get(direct, i, &x);
		merge_get(run, i, &y);
		assert_string_equal(x.value, y.value);
		assert_int_equal(x.type, y.type);
		assert_int_equal(x.feed, y.feed);
		assert_int_equal(x.priority, y.priority);
		assert_int_equal(x.expire_at, y.expire_at);
		assert_string_equal(x.title ? x.title : "-", y.title ? y.title : "-");
		size_t nx, ny;
		const struct merge_src *sx = merge_sources(direct, i, &nx), *sy = merge_sources(run, i, &ny);
		assert_int_equal(nx, ny);
		assert_memory_equal(sx, sy, nx * sizeof(*sx));
	}
	/* The same hex as SHA-1 and as a certificate thumbprint: two items. */
	static const char hex[] = "3395856ce81f2b7382dee72602f798b642f14140";
	size_t n0 = merge_count(run);
	assert_int_equal(merge_add(run, IOC_SHA1, hex, 40, 0, 0, 1, NULL, NULL, 0, &fresh), n0);
	assert_int_equal(merge_add(run, IOC_CERT, hex, 40, 0, 0, 2, NULL, NULL, 0, &fresh), n0 + 1);
	assert_int_equal(merge_add(run, IOC_SHA1, hex, 40, 1, 0, 3, NULL, NULL, 0, &fresh), n0);
	assert_true(fresh); /* new in feed 1 */
	merge_free(direct);
	merge_free(run);
}

/* A feed with more entries than the limit fails whole, saying which
 * limit, on the single pass and on the chunked one alike. */
static void
test_entries_limit(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	for (int i = 0; i < 3000; i++)
		sb_addf(&sb, "45.1.%d.%d\n", i / 250, 1 + i % 250);
	struct policy *pol = policy_new();
	struct feed_opts fo = {.format = FEED_TEXT, .csv_header = -1};
	for (unsigned threads = 1; threads <= 2; threads++) {
		struct pipe_cfg pc = {.name = "t",
				      .cidr = CIDR_SKIP,
				      .policy = pol,
				      .threads = threads,
				      .chunk_bytes = 4096,
				      .max_entries = 2999};
		struct merge *m = merge_new();
		struct feed_stats st = {0};
		char why[256] = "";
		assert_int_equal(pipeline_run(&pc, &fo, sb.buf, sb.len, m, NULL, &st, why, sizeof(why)), ERR_LIMIT);
		assert_non_null(strstr(why, "LIMIT_ENTRIES_PER_FEED"));
		merge_free(m);
		pc.max_entries = 3000;
		m = merge_new();
		memset(&st, 0, sizeof(st));
		assert_int_equal(pipeline_run(&pc, &fo, sb.buf, sb.len, m, NULL, &st, why, sizeof(why)), ERR_OK);
		assert_int_equal(merge_count(m), 3000);
		merge_free(m);
	}
	policy_free(pol);
	sb_free(&sb);
}

/* ---- the chunked pipeline against a single pass ---- */

struct capture {
	struct strbuf acc, rej;
	struct strbuf desc; /* every item's value and description ({comment}), in order */
};

static void
cap_acc(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_type t, const char *value, size_t len)
{
	struct capture *k = ctx;
	(void)c;
	sb_addf(&k->acc, "%lu %s %.*s\n", line, ioc_type_name(t), (int)len, value);
}

static void
cap_rej(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_reason code, const char *why, const char *in,
	size_t n)
{
	struct capture *k = ctx;
	char echo[512];
	(void)c;
	sb_addf(&k->rej, "%lu %s %s %s\n", line, ioc_reason_code(code), why ? why : "",
		echo_str(in, n, echo, sizeof(echo)));
}

static void
run_with(const char *buf, size_t len, enum feed_format f, unsigned threads, size_t chunk, struct capture *k,
	 struct feed_stats *st, size_t *distinct)
{
	static struct policy *pol;
	if (pol == NULL)
		pol = policy_new();
	struct feed_opts fo = {.format = f, .csv_header = -1};
	struct pipe_cfg pc = {.name = "t", .cidr = CIDR_SKIP, .policy = pol, .threads = threads, .chunk_bytes = chunk};
	struct pipe_out po = {k, cap_acc, cap_rej};
	struct merge *m = merge_new();
	char why[256];
	memset(k, 0, sizeof(*k));
	memset(st, 0, sizeof(*st));
	sb_add(&k->acc, "", 0);
	sb_add(&k->rej, "", 0);
	assert_int_equal(pipeline_run(&pc, &fo, buf, len, m, &po, st, why, sizeof(why)), ERR_OK);
	*distinct = merge_count(m);
	sb_add(&k->desc, "", 0);
	for (size_t i = 0; i < *distinct; i++) {
		struct merge_item it;
		merge_get(m, i, &it);
		if (it.description)
			sb_addf(&k->desc, "%s\t%s\n", it.value, it.description);
	}
	merge_free(m);
}

/* A mixed feed: values, repeats, comments, CRLF, junk, a NUL, CIDRs, and
 * lines starting with the bytes of a BOM (which a chunk must not take
 * for one). */
static char *
mixed_feed(size_t lines, size_t *len)
{
	struct strbuf sb = {0};
	uint32_t x = 12345;
	for (size_t i = 0; i < lines; i++) {
		x = x * 1103515245u + 12345u;
		unsigned r = (x >> 8) % 20;
		switch (r) {
		case 0: sb_addf(&sb, "# comment %zu\n", i); break;
		case 1: sb_addf(&sb, "\xef\xbb\xbf%u.malware-cdn.org\n", x % 50); break;
		case 2: sb_addf(&sb, "198.51.100.%u\r\n", x % 256); break; /* documentation range */
		case 3: sb_addf(&sb, "45.%u.%u.0/24\n", x % 200, (x >> 4) % 200); break;
		case 4: sb_add(&sb, "bad\0line\n", 9); break;
		case 5: sb_addf(&sb, "hxxp://evil%u[.]com/x\n", x % 300); break;
		case 6: sb_addf(&sb, "not an indicator %u\n", x % 9); break;
		case 7: sb_addf(&sb, "%08x%08x%08x%08x\n", x, x * 3, x * 5, x * 7); break;
		case 8:
		case 9: sb_addf(&sb, "185.%u.%u.%u  # tail %u\n", x % 256, (x >> 3) % 256, 1 + x % 250, x % 7); break;
		case 10: sb_addf(&sb, "%08x%08x%08x%08x;LOKI comment\x01%u\n", x, x * 5, x * 3, x, x % 5); break;
		default: sb_addf(&sb, "host-%u.badcorp.net\n", x % 4000); break;
		}
	}
	*len = sb.len;
	return sb.buf;
}

/* Inline comments of text feeds become the item's description, for
 * {comment}: cleaned, cut, dropped when not UTF-8; other columns are not
 * comments. */
static void
test_inline_comments(void **state)
{
	(void)state;
	struct strbuf in = {0};
	sb_adds(&in,
		"45.9.148.3 # Emotet C2\n"
		"evil-example-host.com // phishing kit\n"
		"9e107d9d372bb6826bd81d3542a419d6;LOKI: dropper\n"
		"45.9.148.4\t12\n"
		"45.9.148.5 # \xff\xfe not utf-8\n"
		"45.9.148.6 #   \t\n"
		"http://evil-example-host.com/a;b # in the query\n"
		"45.9.148.7 # ");
	for (int i = 0; i < 100; i++)
		sb_adds(&in, "long ");
	sb_adds(&in, "\n45.9.148.3 # a second comment for the same value\n");
	struct capture k;
	struct feed_stats st;
	size_t n;
	run_with(in.buf, in.len, FEED_TEXT, 1, 0, &k, &st, &n);
	assert_int_equal(n, 8);
	const char *want =
		"45.9.148.3\tEmotet C2\n"
		"evil-example-host.com\tphishing kit\n"
		"9e107d9d372bb6826bd81d3542a419d6\tLOKI: dropper\n"
		"http://evil-example-host.com/a;b\tin the query\n";
	assert_memory_equal(k.desc.buf, want, strlen(want));
	const char *last = k.desc.buf + strlen(want);
	assert_true(strncmp(last, "45.9.148.7\tlong long ", 21) == 0);
	assert_int_equal(strlen(last), strlen("45.9.148.7\t") + LIMIT_COMMENT_BYTES + strlen("\n"));
	sb_free(&k.acc), sb_free(&k.rej), sb_free(&k.desc), sb_free(&in);
}

static void
test_parallel_equals_single_pass(void **state)
{
	(void)state;
	size_t len;
	char *feed = mixed_feed(30000, &len);
	struct capture one, many;
	struct feed_stats s1, s2;
	size_t d1, d2;

	run_with(feed, len, FEED_AUTO, 1, 0, &one, &s1, &d1);
	assert_true(s1.accepted_total > 1000);
	assert_true(s1.duplicates > 1000);
	assert_true(s1.rejected[REJ_BINARY] > 100);
	assert_true(s1.rejected[REJ_CIDR] > 100);
	/* inline comments became descriptions: the first entry's, cleaned */
	assert_non_null(strstr(one.desc.buf, "\ttail "));
	assert_non_null(strstr(one.desc.buf, "\tLOKI comment "));
	assert_null(strchr(one.desc.buf, '\x01'));
	static const size_t chunks[] = {97, 4096, 65536};
	static const unsigned threads[] = {2, 3, 8};
	for (size_t c = 0; c < 3; c++)
		for (size_t t = 0; t < 3; t++) {
			run_with(feed, len, FEED_AUTO, threads[t], chunks[c], &many, &s2, &d2);
			assert_string_equal(many.acc.buf, one.acc.buf);
			assert_string_equal(many.rej.buf, one.rej.buf);
			assert_string_equal(many.desc.buf, one.desc.buf); /* {comment} on both paths */
			assert_int_equal(d2, d1);
			assert_memory_equal(&s2, &s1, sizeof(s1));
			sb_free(&many.acc);
			sb_free(&many.rej);
			sb_free(&many.desc);
		}
	/* hosts and netset take the same path. */
	/* A line starting with the bytes of a BOM: a chunk must not start
	 * there, or its line reader would strip them. */
	static const char hosts[] =
		"0.0.0.0 a.tracker-x.net b.tracker-x.net\n127.0.0.1 localhost\n"
		"\xef\xbb\xbf"
		"0.0.0.0 bom.tracker-x.net\n"
		"0.0.0.0 c.tracker-x.net # ad network\n0.0.0.0 a.tracker-x.net\n";
	static const char netset[] = "; drop\n45.1.2.3 ; x\n45.1.2.0/24 ; y\n45.1.2.3\n45.1.2.4\n";
	const char *docs[] = {hosts, netset};
	enum feed_format fmts[] = {FEED_HOSTS, FEED_NETSET};
	for (size_t i = 0; i < 2; i++) {
		struct capture a, b;
		run_with(docs[i], strlen(docs[i]), fmts[i], 1, 0, &a, &s1, &d1);
		run_with(docs[i], strlen(docs[i]), fmts[i], 2, 8, &b, &s2, &d2);
		assert_string_equal(a.acc.buf, b.acc.buf);
		assert_string_equal(a.rej.buf, b.rej.buf);
		assert_string_equal(a.desc.buf, b.desc.buf);
		assert_memory_equal(&s1, &s2, sizeof(s1));
		assert_true(s1.accepted_total >= 2);
		sb_free(&a.acc), sb_free(&a.rej), sb_free(&b.acc), sb_free(&b.rej), sb_free(&a.desc), sb_free(&b.desc);
	}
	sb_free(&one.acc);
	sb_free(&one.rej);
	sb_free(&one.desc);
	free(feed);
}

/* A TAXII collection's objects handed over parsed give what the text of
 * their compact bundle gives: the same values, lines, rejects, stats. */
static void
test_objects_equal_their_bundle(void **state)
{
	(void)state;
	static const char bundle[] =
		"{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":["
		"{\"type\":\"indicator\",\"id\":\"indicator--a\",\"pattern_type\":\"stix\","
		"\"pattern\":\"[ipv4-addr:value = '45.1.2.3'] OR [domain-name:value = 'update-check.top']\","
		"\"name\":\"two\"},"
		"{\"type\":\"indicator\",\"id\":\"indicator--b\",\"pattern_type\":\"stix\","
		"\"pattern\":\"[file:hashes.MD5 = '44d88612fea8a8f36de82e1278abb02f']\",\"revoked\":true},"
		"{\"type\":\"indicator\",\"id\":\"indicator--c\",\"pattern_type\":\"stix\","
		"\"pattern\":\"[url:value = 'http://45.1.2.4/x']\",\"valid_until\":\"2001-01-01T00:00:00Z\"},"
		"{\"type\":\"malware\",\"id\":\"malware--d\"}]}";
	struct policy *pol = policy_new();
	struct feed_opts fo = {.format = FEED_TAXII, .csv_header = -1};
	struct pipe_cfg pc = {.name = "t", .cidr = CIDR_SKIP, .policy = pol};
	struct capture a = {0}, b = {0};
	struct pipe_out pa = {&a, cap_acc, cap_rej}, pb = {&b, cap_acc, cap_rej};
	struct feed_stats sa = {0}, sb = {0};
	struct merge *ma = merge_new(), *mb = merge_new();
	char why[256];
	sb_add(&a.acc, "", 0), sb_add(&a.rej, "", 0), sb_add(&b.acc, "", 0), sb_add(&b.rej, "", 0);
	assert_int_equal(pipeline_run(&pc, &fo, bundle, strlen(bundle), ma, &pa, &sa, why, sizeof(why)), ERR_OK);
	json_t *root = json_loads(bundle, 0, NULL);
	assert_int_equal(
		pipeline_run_objects(&pc, &fo, json_object_get(root, "objects"), mb, &pb, &sb, why, sizeof(why)),
		ERR_OK);
	assert_string_equal(a.acc.buf, b.acc.buf);
	assert_string_equal(a.rej.buf, b.rej.buf);
	assert_int_equal(sa.accepted_total, 2);
	assert_int_equal(sa.rejected_total, 2);
	assert_memory_equal(&sa, &sb, sizeof(sa));
	assert_int_equal(merge_count(ma), merge_count(mb));
	json_decref(root);
	merge_free(ma), merge_free(mb);
	sb_free(&a.acc), sb_free(&a.rej), sb_free(&b.acc), sb_free(&b.rej);
	policy_free(pol);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_and_sources),

		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_absorb_equals_direct_adds),
		cmocka_unit_test(test_entries_limit),
		cmocka_unit_test(test_parallel_equals_single_pass),
		cmocka_unit_test(test_inline_comments),
		cmocka_unit_test(test_objects_equal_their_bundle),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
