/* Classification and canonical forms of single values. */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "ioc.h"

static enum ioc_reason
parse(const char *s, unsigned types, struct ioc *i)
{
	struct ioc_opts o = {.types = types,
			     .url_feed = types && (types & IOC_BIT(IOC_URL)),
			     .cert = types && (types & IOC_BIT(IOC_CERT))};
	return ioc_parse(s, strlen(s), &o, i, NULL, 0);
}

static void
canon(const char *in, enum ioc_type t, const char *want)
{
	struct ioc i;
	enum ioc_reason r = parse(in, 0, &i);
	if (r != REJ_OK)
		fail_msg("%s: rejected as %s", in, ioc_reason_code(r));
	assert_int_equal(i.type, t);
	assert_string_equal(i.value, want);
}

static void
rejects(const char *in, enum ioc_reason want)
{
	struct ioc i;
	enum ioc_reason r = parse(in, 0, &i);
	if (r != want)
		fail_msg("%s: got %s, want %s", in, ioc_reason_code(r), ioc_reason_code(want));
}

static void
test_ipv4(void **state)
{
	(void)state;
	canon("45.9.148.3", IOC_IP, "45.9.148.3");
	canon("  45.9.148.3\t", IOC_IP, "45.9.148.3");
	canon("45.9.148.3:8080", IOC_IP, "45.9.148.3");
	canon("45.9.148.3/32", IOC_IP, "45.9.148.3");
	canon("45[.]9[.]148[.]3", IOC_IP, "45.9.148.3");
	rejects("300.1.2.3", REJ_BAD_IPV4);
	rejects("1.2.3", REJ_BAD_IPV4);
	rejects("1.2.3.4.5", REJ_BAD_IPV4);
	rejects("010.1.2.3", REJ_BAD_IPV4); /* octal or decimal? */
	rejects("45.9.148.3:99999", REJ_NOT_INDICATOR);
	struct ioc i;
	assert_int_equal(parse("1.2.3.77/24", 0, &i), REJ_OK);
	assert_int_equal(i.prefix, 24);
	assert_string_equal(i.value, "1.2.3.0/24");
}

static void
test_ipv6(void **state)
{
	(void)state;
	/* MDE wants all 8 groups, lower case, no "::". */
	canon("2001:4860:4860::8888", IOC_IP, "2001:4860:4860:0:0:0:0:8888");
	canon("2A01:04F8:0000:A0A1::0002", IOC_IP, "2a01:4f8:0:a0a1:0:0:0:2");
	canon("[2a01:4f8::2]:443", IOC_IP, "2a01:4f8:0:0:0:0:0:2");
	canon("::ffff:1.2.3.4", IOC_IP, "0:0:0:0:0:ffff:102:304");
	rejects("2001:db8::g", REJ_BAD_IPV6);
	rejects("fe80::1%eth0", REJ_BAD_IPV6);
}

static void
test_domains(void **state)
{
	(void)state;
	canon("Evil-Domain.RU.", IOC_DOMAIN, "evil-domain.ru");
	canon("*.evil.ru", IOC_DOMAIN, "evil.ru");
	canon(".evil.ru", IOC_DOMAIN, "evil.ru");
	canon("пример.рф", IOC_DOMAIN, "xn--e1afmkfd.xn--p1ai");
	canon("Bücher.example.de", IOC_DOMAIN, "xn--bcher-kva.example.de");
	canon("evil.ru:443", IOC_DOMAIN, "evil.ru");
	canon("a_b.evil.ru", IOC_DOMAIN, "a_b.evil.ru");
	rejects("-bad.ru", REJ_BAD_DOMAIN);
	rejects("bad-.ru", REJ_BAD_DOMAIN);
	rejects("a..ru", REJ_BAD_DOMAIN);
	rejects("localhost", REJ_NOT_INDICATOR);
	rejects("evil.123", REJ_BAD_DOMAIN);
	rejects("domain autuo.xicp.net", REJ_BAD_DOMAIN);
	rejects("user@evil.ru", REJ_NOT_INDICATOR);
	char longlabel[80];
	memset(longlabel, 'a', 64);
	strcpy(longlabel + 64, ".ru");
	rejects(longlabel, REJ_BAD_DOMAIN);
	rejects("\xff\xfe.ru", REJ_BAD_UTF8);
}

/* The label rules of RFC 1035 and 1123 as plainly as they can be said:
 * the oracle for ioc_domain_canon on ASCII names. */
static bool
labels_ok(const char *d, size_t n)
{
	size_t labels = 0, start = 0;
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && d[i] != '.') {
			char c = d[i];
			if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
			      c == '_'))
				return false;
			continue;
		}
		if (i == start || i - start > 63 || d[start] == '-' || d[i - 1] == '-')
			return false;
		labels++;
		if (i == n && strspn(d + start, "0123456789") == n - start)
			return false; /* an all-digit top-level label */
		start = i + 1;
	}
	return labels >= 2;
}

static void
domain_against_oracle(const char *in, size_t n)
{
	char out[300], why[200] = "";
	size_t outlen = 0, a = 0, b = n;
	/* ioc_domain_canon first drops "*." or "." in front and a final "." */
	if (n >= 2 && in[0] == '*' && in[1] == '.')
		a = 2;
	else if (n >= 1 && in[0] == '.')
		a = 1;
	if (b > a && in[b - 1] == '.')
		b--;
	bool want = labels_ok(in + a, b - a);
	enum ioc_reason r = ioc_domain_canon(in, n, out, &outlen, why, sizeof(why));
	if ((r == REJ_OK) != want)
		fail_msg("\"%.*s\": got %s (%s), the rules say %s", (int)n, in, ioc_reason_code(r), why,
			 want ? "valid" : "invalid");
	if (!want) {
		assert_true(why[0] != '\0');
		return;
	}
	assert_int_equal(outlen, b - a);
	for (size_t i = 0; i < outlen; i++)
		assert_int_equal(out[i], in[a + i] >= 'A' && in[a + i] <= 'Z' ? in[a + i] + 32 : in[a + i]);
	assert_int_equal(out[outlen], '\0');
}

/* Every name of up to 6 bytes over a small alphabet, then long random
 * ones near the label and name limits. */
static void
test_domain_rules(void **state)
{
	(void)state;
	static const char alpha[] = "aZ7-_.!";
	const size_t na = sizeof(alpha) - 1;
	char s[300];
	for (size_t len = 0; len <= 6; len++) {
		size_t total = 1;
		for (size_t k = 0; k < len; k++)
			total *= na;
		for (size_t x = 0; x < total; x++) {
			size_t v = x;
			for (size_t k = 0; k < len; k++, v /= na)
				s[k] = alpha[v % na];
			domain_against_oracle(s, len);
		}
	}
	uint32_t seed = 7;
	for (int t = 0; t < 20000; t++) {
		size_t len = 0, want = 200 + (seed = seed * 1103515245u + 12345u) % 80;
		while (len < want) {
			seed = seed * 1103515245u + 12345u;
			size_t ll = 55 + seed % 12; /* labels of 55 to 66 bytes */
			for (size_t k = 0; k < ll && len < want; k++) {
				seed = seed * 1103515245u + 12345u;
				s[len++] = (seed >> 16) % 50 == 0 ? "-_9Q."[(seed >> 8) % 5]
								  : 'a' + (char)((seed >> 8) % 26);
			}
			if (len < want)
				s[len++] = '.';
		}
		domain_against_oracle(s, len);
	}
}

static void
test_urls(void **state)
{
	(void)state;
	canon("HTTP://Evil.RU:80/Path?Q=1#frag", IOC_URL, "http://evil.ru/Path?Q=1");
	canon("https://evil.ru:443/", IOC_URL, "https://evil.ru/");
	canon("https://evil.ru:8443/a", IOC_URL, "https://evil.ru:8443/a");
	canon("hxxps://evil[.]ru/a[.]exe", IOC_URL, "https://evil.ru/a.exe");
	canon("hXXp[:]//evil[dot]ru/x", IOC_URL, "http://evil.ru/x");
	canon("http[://]evil(.)ru/x", IOC_URL, "http://evil.ru/x");
	canon("http://45.9.148.3:53417/Mozi.a", IOC_URL, "http://45.9.148.3:53417/Mozi.a");
	canon("http://[2a01:4f8::2]/x", IOC_URL, "http://[2a01:4f8:0:0:0:0:0:2]/x");
	canon("http://пример.рф/путь", IOC_URL, "http://xn--e1afmkfd.xn--p1ai/путь");
	/* A real path with brackets is not refanged. */
	canon("http://evil.ru/a[1].php?x=[y]", IOC_URL, "http://evil.ru/a[1].php?x=[y]");
	canon("http://evil.ru/~user/%3f'", IOC_URL, "http://evil.ru/~user/%3f'");
	rejects("ftp://evil.ru/x", REJ_URL_SCHEME);
	rejects("http:///x", REJ_BAD_URL);
	rejects("http://evil.ru/a b", REJ_BAD_URL);
	rejects("http://evil.ru:0/", REJ_BAD_URL);
	rejects("evil.ru/path", REJ_NO_SCHEME);
	rejects("/expres.php", REJ_NOT_INDICATOR);
	struct ioc i;
	assert_int_equal(parse("evil.ru/path", IOC_BIT(IOC_URL), &i), REJ_OK);
	assert_string_equal(i.value, "http://evil.ru/path");
	/* A declared URL feed refuses bare domains rather than guessing. */
	assert_int_equal(parse("evil.ru", IOC_BIT(IOC_URL), &i), REJ_TYPE_NOT_WANTED);
}

static void
test_hashes(void **state)
{
	(void)state;
	canon("44D88612FEA8A8F36DE82E1278ABB02F", IOC_MD5, "44d88612fea8a8f36de82e1278abb02f");
	canon("3395856ce81f2b7382dee72602f798b642f14140", IOC_SHA1, "3395856ce81f2b7382dee72602f798b642f14140");
	canon("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f", IOC_SHA256,
	      "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f");
	rejects("275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0", REJ_BAD_HASH);
	struct ioc i;
	/* Thumbprints only where the feed says so: SHA-1 lengths collide. */
	assert_int_equal(parse("3395856ce81f2b7382dee72602f798b642f14140", IOC_BIT(IOC_CERT), &i), REJ_OK);
	assert_int_equal(i.type, IOC_CERT);
	assert_int_equal(parse("3395856ce81f2b7382dee72602f798b642f14140", IOC_BIT(IOC_IP), &i), REJ_TYPE_NOT_WANTED);
}

static void
test_refang(void **state)
{
	(void)state;
	char out[256];
	bool ch;
	ioc_refang("a[.]b(.)c{.}d[dot]e(dot)f\\.g", 28, out, sizeof(out), &ch);
	assert_true(ch);
	assert_string_equal(out, "a.b.c.d.e.f.g");
	ioc_refang("x[@]y[at]z", 10, out, sizeof(out), &ch);
	assert_string_equal(out, "x@y@z");
	ioc_refang("no/brackets[1]", 14, out, sizeof(out), &ch);
	assert_false(ch);
	assert_string_equal(out, "no/brackets[1]");
	/* Output too small: cut, NUL-terminated, no overflow. */
	size_t n = ioc_refang("hxxp://abcdef", 13, out, 6, &ch);
	assert_true(n < 6);
	assert_int_equal(out[n], '\0');
}

/* Found by fuzz_canon; each kept as it was found. */
static void
test_fuzz_regressions(void **state)
{
	(void)state;
	/* each struct on the heap alone, so ASan sees a write past it */
	struct ioc *o = malloc(sizeof(*o));
	char why[256];
	struct ioc_opts opts = {.types = IOC_BIT(IOC_URL)};
	/* A long user name and a host that grows in punycode ("ß" is
	 * 2 bytes, "xn--zca" 7) wrote past value: the host is now measured
	 * before it is written. */
	struct strbuf u = {0};
	sb_adds(&u, "https://");
	for (int i = 0; i < 1940; i++)
		sb_adds(&u, "a");
	sb_adds(&u, "@");
	for (int i = 0; i < 31; i++)
		sb_adds(&u, i ? ".\xc3\x9f" : "\xc3\x9f");
	sb_adds(&u, "/");
	assert_int_equal(ioc_parse(u.buf, u.len, &opts, o, why, sizeof(why)), REJ_TOO_LONG);
	/* Around the limit: "[::1]" (5 bytes) is written out as 17, so the
	 * input fits where the value does not. Both sides of the limit are
	 * reached, and an accepted value is never past it. */
	size_t fits = 0, refused = 0;
	for (size_t cut = 2000; cut <= 2028; cut++) {
		struct strbuf v = {0};
		sb_adds(&v, "http://");
		for (size_t i = 0; i < cut; i++)
			sb_adds(&v, "b");
		sb_adds(&v, "@[::1]:8080/x");
		assert_true(v.len <= LIMIT_VALUE_BYTES);
		enum ioc_reason r = ioc_parse(v.buf, v.len, &opts, o, why, sizeof(why));
		if (r == REJ_OK) {
			assert_true(o->len <= LIMIT_VALUE_BYTES);
			fits++;
		} else {
			assert_int_equal(r, REJ_TOO_LONG);
			refused++;
		}
		sb_free(&v);
	}
	assert_true(fits > 0 && refused > 0);
	sb_free(&u);
	/* a control byte in the user name passed into the value */
	static const char ctl[] = "hxxps://E\x01@l[.]xeg";
	assert_int_equal(ioc_parse(ctl, sizeof(ctl) - 1, &opts, o, why, sizeof(why)), REJ_BAD_URL);
	free(o);
}

static void
test_types_parse(void **state)
{
	(void)state;
	const char *bad = NULL;
	assert_int_equal(ioc_types_parse("ip, domain", &bad), IOC_BIT(IOC_IP) | IOC_BIT(IOC_DOMAIN));
	assert_int_equal(ioc_types_parse("hash", &bad), IOC_HASHES);
	assert_int_equal(ioc_types_parse("FileSha256", &bad), IOC_BIT(IOC_SHA256));
	assert_int_equal(ioc_types_parse("ip,nope", &bad), 0);
	assert_string_equal(bad, "nope");
	assert_int_equal(ioc_action_parse("block-and-remediate"), ACT_BLOCK_AND_REMEDIATE);
	assert_int_equal(ioc_action_parse("Allowed"), ACT_ALLOWED);
	assert_int_equal(ioc_action_parse("AlertAndBlock"), -1);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ipv4),         cmocka_unit_test(test_ipv6),
		cmocka_unit_test(test_domains),      cmocka_unit_test(test_urls),
		cmocka_unit_test(test_hashes),       cmocka_unit_test(test_refang),
		cmocka_unit_test(test_types_parse),  cmocka_unit_test(test_fuzz_regressions),
		cmocka_unit_test(test_domain_rules),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
