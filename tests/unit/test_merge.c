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
		char buf[MERGE_KEY_MAX];
		size_t kl;
		const char *key = merge_key(IOC_DOMAIN, v, strlen(v), NULL, buf, &kl);
		uint64_t h = merge_hash(IOC_DOMAIN, key, kl);
		assert_int_equal(
			merge_add_key(m, h, IOC_DOMAIN, key, kl, 0, 0, (unsigned long)i + 1, NULL, NULL, 0, &fresh),
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

/* Batches must leave the merge exactly as the same adds one by one:
 * items and their order, attributes, sources, and every fresh flag;
 * interleaved with single adds that carry titles, from feeds of
 * several priorities, through table growth, with parts taken in any
 * order. */
static void
test_batch_equals_single_adds(void **state)
{
	(void)state;
	enum {
		ROUNDS = 12,
		BATCH = 20000,
		SPACE = 60000
	};
	struct merge *one = merge_new(), *bat = merge_new();
	struct merge_req *r = xcalloc(BATCH, sizeof(*r));
	char(*vals)[48] = xcalloc(BATCH, sizeof(*vals)), (*keys)[48] = xcalloc(BATCH, sizeof(*keys));
	unsigned long seed = 7, line = 0;
	bool fresh;

	for (int round = 0; round < ROUNDS; round++) {
		uint32_t feed = (uint32_t)(round % 4);
		int32_t prio = (int32_t)((round * 37) % 5);
		for (size_t i = 0; i < BATCH; i++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			unsigned v = (unsigned)(seed >> 33) % SPACE;
			/* Text and binary keys; the same text under two types. */
			enum ioc_type t = v % 5 == 0 ? IOC_URL
				: v % 5 == 1         ? IOC_IP
				: v % 5 == 2         ? IOC_MD5
						     : IOC_DOMAIN;
			if (t == IOC_IP)
				snprintf(vals[i], sizeof(vals[i]), "45.%u.%u.%u", v >> 16, v >> 8 & 255, v & 255);
			else if (t == IOC_MD5)
				snprintf(vals[i], sizeof(vals[i]), "%032x", v * 2654435761u);
			else
				snprintf(vals[i], sizeof(vals[i]), "h%u.example.org", v / 5 * 5);
			size_t len = strlen(vals[i]);
			size_t kl;
			const char *key = merge_key(t, vals[i], len, NULL, keys[i], &kl);
			r[i] = (struct merge_req){.hash = merge_hash(t, key, kl),
						  .key = key,
						  .keylen = (uint32_t)kl,
						  .type = (uint8_t)t,
						  .line = (uint32_t)++line};
		}
		bool *want = xcalloc(BATCH, sizeof(*want));
		for (size_t i = 0; i < BATCH; i++)
			merge_add(one, (enum ioc_type)r[i].type, vals[i], strlen(vals[i]), feed, prio, r[i].line, NULL,
				  NULL, 0, &want[i]);
		if (round % 2 == 0) {
			merge_add_batch(bat, r, BATCH, feed, prio);
		} else if (round % 4 == 1) {
			for (unsigned p = merge_parts(); p-- > 0;) /* one part at a time, in another order */
				merge_batch_parts(bat, p, merge_parts(), r, BATCH, feed, prio);
			merge_batch_commit(bat, r, BATCH);
		} else {
			merge_batch_parts(bat, 1, 2, r, BATCH, feed, prio); /* the pipeline's halves */
			merge_batch_parts(bat, 0, 2, r, BATCH, feed, prio);
			merge_batch_commit(bat, r, BATCH);
		}
		for (size_t i = 0; i < BATCH; i++)
			if (r[i].fresh != want[i])
				fail_msg("round %d add %zu (%s): fresh %d, one by one %d", round, i, vals[i],
					 r[i].fresh, want[i]);
		free(want);
		/* A titled add between batches, the same on both sides. */
		char title[32];
		snprintf(title, sizeof(title), "round %d", round);
		size_t a = merge_add(one, IOC_DOMAIN, vals[round], strlen(vals[round]), feed, prio + 10, ++line, title,
				     NULL, round, &fresh);
		size_t b = merge_add(bat, IOC_DOMAIN, vals[round], strlen(vals[round]), feed, prio + 10, line, title,
				     NULL, round, &fresh);
		assert_int_equal(a, b);
	}
	assert_int_equal(merge_count(one), merge_count(bat));
	assert_true(merge_count(one) > SPACE / 2);
	for (size_t i = 0; i < merge_count(one); i++) {
		struct merge_item x, y;
		merge_get(one, i, &x);
		merge_get(bat, i, &y);
		assert_string_equal(x.value, y.value);
		assert_int_equal(x.type, y.type);
		assert_int_equal(x.feed, y.feed);
		assert_int_equal(x.priority, y.priority);
		assert_int_equal(x.expire_at, y.expire_at);
		if (x.title || y.title)
			assert_string_equal(x.title ? x.title : "-", y.title ? y.title : "-");
		size_t nx, ny;
		const struct merge_src *sx = merge_sources(one, i, &nx), *sy = merge_sources(bat, i, &ny);
		assert_int_equal(nx, ny);
		assert_memory_equal(sx, sy, nx * sizeof(*sx));
	}
	merge_free(one);
	merge_free(bat);
	free(r);
	free(vals);
	free(keys);
}

/* IPs and hashes are kept in binary: merge_get gives their canonical
 * text back, a hash in either case is one item, the pipeline's key from
 * a parsed address is merge_add's own, and SHA-1 and a thumbprint of
 * the same hex stay two items. */
static void
test_binary_keys(void **state)
{
	(void)state;
	struct merge *m = merge_new();
	struct merge_item it;
	bool fresh;
	static const struct {
		enum ioc_type t;
		const char *in, *text;
	} cases[] = {
		{IOC_IP, "45.1.2.3", "45.1.2.3"},
		{IOC_IP, "2a01:4f8:0:0:0:0:0:99", "2a01:4f8:0:0:0:0:0:99"},
		{IOC_MD5, "44D88612FEA8A8F36DE82E1278ABB02F", "44d88612fea8a8f36de82e1278abb02f"},
		{IOC_SHA1, "3395856ce81f2b7382dee72602f798b642f14140", "3395856ce81f2b7382dee72602f798b642f14140"},
		{IOC_CERT, "3395856ce81f2b7382dee72602f798b642f14140", "3395856ce81f2b7382dee72602f798b642f14140"},
		{IOC_SHA256, "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f",
		 "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"},
		{IOC_DOMAIN, "evil.example.net", "evil.example.net"},
		{IOC_URL, "http://45.1.2.3/x", "http://45.1.2.3/x"},
	};
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		assert_int_equal(add(m, cases[k].t, cases[k].in, 0, 0, (unsigned long)k + 1, NULL, &fresh), k);
		assert_true(fresh);
	}
	/* The lower-case MD5 is the same item. */
	assert_int_equal(add(m, IOC_MD5, "44d88612fea8a8f36de82e1278abb02f", 1, 0, 9, NULL, &fresh), 2);
	assert_int_equal(merge_count(m), sizeof(cases) / sizeof(cases[0]));
	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		merge_get(m, k, &it);
		assert_int_equal(it.type, cases[k].t);
		assert_string_equal(it.value, cases[k].text);
		assert_int_equal(it.len, strlen(cases[k].text));
	}
	/* What the pipeline passes (ioc_parse's address and lower-case hex,
	 * decoded eight digits at a time) is what merge_add makes of the text. */
	struct ioc io;
	struct ioc_opts o = {0};
	char a[MERGE_KEY_MAX], b[MERGE_KEY_MAX];
	static const char *const vals[] = {"45.1.2.3",
					   "2a01:4f8::99",
					   "185.220.101.4",
					   "0123456789ABCDEFabcdef0123456789",
					   "FFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF",
					   "3395856ce81f2b7382dee72602f798b642f14140",
					   "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"};
	for (size_t k = 0; k < sizeof(vals) / sizeof(vals[0]); k++) {
		assert_int_equal(ioc_parse(vals[k], strlen(vals[k]), &o, &io, NULL, 0), REJ_OK);
		size_t na, nb;
		const char *ka = merge_key(io.type, io.value, io.len, &io, a, &na);
		const char *kb = merge_key(io.type, vals[k], strlen(vals[k]), NULL, b, &nb);
		assert_int_equal(na, io.type == IOC_IP ? (io.family == AF_INET ? 4 : 16) : io.len / 2);
		assert_int_equal(na, nb);
		assert_memory_equal(ka, kb, na);
	}
	merge_free(m);
}

/* ---- the chunked pipeline against a single pass ---- */

struct capture {
	struct strbuf acc, rej;
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
		case 9: sb_addf(&sb, "185.%u.%u.%u  # tail\n", x % 256, (x >> 3) % 256, 1 + x % 250); break;
		default: sb_addf(&sb, "host-%u.badcorp.net\n", x % 4000); break;
		}
	}
	*len = sb.len;
	return sb.buf;
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
	static const size_t chunks[] = {97, 4096, 65536};
	static const unsigned threads[] = {2, 3, 8};
	for (size_t c = 0; c < 3; c++)
		for (size_t t = 0; t < 3; t++) {
			run_with(feed, len, FEED_AUTO, threads[t], chunks[c], &many, &s2, &d2);
			assert_string_equal(many.acc.buf, one.acc.buf);
			assert_string_equal(many.rej.buf, one.rej.buf);
			assert_int_equal(d2, d1);
			assert_memory_equal(&s2, &s1, sizeof(s1));
			sb_free(&many.acc);
			sb_free(&many.rej);
		}
	/* hosts and netset take the same path. */
	/* A line starting with the bytes of a BOM: a chunk must not start
	 * there, or its line reader would strip them. */
	static const char hosts[] =
		"0.0.0.0 a.tracker-x.net b.tracker-x.net\n127.0.0.1 localhost\n"
		"\xef\xbb\xbf"
		"0.0.0.0 bom.tracker-x.net\n"
		"0.0.0.0 c.tracker-x.net\n0.0.0.0 a.tracker-x.net\n";
	static const char netset[] = "; drop\n45.1.2.3 ; x\n45.1.2.0/24 ; y\n45.1.2.3\n45.1.2.4\n";
	const char *docs[] = {hosts, netset};
	enum feed_format fmts[] = {FEED_HOSTS, FEED_NETSET};
	for (size_t i = 0; i < 2; i++) {
		struct capture a, b;
		run_with(docs[i], strlen(docs[i]), fmts[i], 1, 0, &a, &s1, &d1);
		run_with(docs[i], strlen(docs[i]), fmts[i], 2, 8, &b, &s2, &d2);
		assert_string_equal(a.acc.buf, b.acc.buf);
		assert_string_equal(a.rej.buf, b.rej.buf);
		assert_memory_equal(&s1, &s2, sizeof(s1));
		assert_true(s1.accepted_total >= 2);
		sb_free(&a.acc), sb_free(&a.rej), sb_free(&b.acc), sb_free(&b.rej);
	}
	sb_free(&one.acc);
	sb_free(&one.rej);
	free(feed);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_priority_and_sources),
		cmocka_unit_test(test_binary_keys),
		cmocka_unit_test(test_growth),
		cmocka_unit_test(test_batch_equals_single_adds),
		cmocka_unit_test(test_parallel_equals_single_pass),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
