/* What may never be sent, whatever format it arrives in. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "helpers.h"
#include "policy.h"

#include <libpsl.h>

static const char *const never[] = {
	"10.0.0.1", "127.0.0.1", "8.8.8.8", "1.1.1.1",    "microsoft.com", "login.microsoftonline.com",
	"co.uk",    "github.io", "fe80::1", "1.2.3.0/24",
};
#define GOOD_IP "185.220.101.4"
#define GOOD_DOMAIN "evil-domain.ru"

/* Nothing of never[] (nor an address of 1.2.3.0/24) may be accepted, and
 * the good controls must be, so that the test can fail. */
static void
check_result(const struct result *r, const char *fmt)
{
	const char *acc = r->accepted.buf;
	if (!accepted_has(r, "IpAddress", GOOD_IP) || !accepted_has(r, "DomainName", GOOD_DOMAIN))
		fail_msg("%s: the good controls were not accepted:\n%s\nrejected:\n%s", fmt, acc, r->rejected.buf);
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		char needle[64];
		snprintf(needle, sizeof(needle), " %s\n", never[i]);
		if (strstr(acc, needle))
			fail_msg("%s: %s was accepted", fmt, never[i]);
		/* in any canonical disguise */
		snprintf(needle, sizeof(needle), ".%s\n", never[i]);
		if (strstr(acc, needle) && strcmp(never[i], "co.uk") && strcmp(never[i], "github.io"))
			fail_msg("%s: a name under %s was accepted", fmt, never[i]);
	}
	if (strstr(acc, " 1.2.3.") || strstr(acc, "fe80:") || strstr(acc, " 0:0:0:0:0:0:0:1\n"))
		fail_msg("%s: a forbidden address was accepted:\n%s", fmt, acc);
	/* and each was rejected with a reason, not lost (defanged inputs
	 * are echoed as given, so count them) */
	if (r->st.rejected_total < sizeof(never) / sizeof(never[0]))
		fail_msg("%s: only %lu rejections reported:\n%s", fmt, r->st.rejected_total, r->rejected.buf);
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]) && !strstr(fmt, "defanged") && strcmp(fmt, "report");
	     i++)
		if (!strstr(r->rejected.buf, never[i]))
			fail_msg("%s: %s was not reported as rejected:\n%s", fmt, never[i], r->rejected.buf);
}

static void
test_never_text(void **state)
{
	(void)state;
	struct strbuf sb = {0};
	struct result r;
	sb_adds(&sb, "# list\n" GOOD_IP "\n" GOOD_DOMAIN "\n");
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++)
		sb_addf(&sb, "%s\n", never[i]);
	run_buf(&r, FEED_TEXT, 0, sb.buf, sb.len);
	check_result(&r, "text");
	result_free(&r);
	/* defanged */
	sb.len = 0;
	sb_adds(&sb,
		GOOD_IP
		"\n" GOOD_DOMAIN
		"\n10[.]0[.]0[.]1\n127(.)0(.)0(.)1\n8[.]8[.]8[.]8\n1[.]1[.]1[.]1\n"
		"microsoft[.]com\nlogin[.]microsoftonline[.]com\nco[.]uk\ngithub[.]io\nfe80::1\n1.2.3[.]0/24\n");
	run_buf(&r, FEED_TEXT, 0, sb.buf, sb.len);
	check_result(&r, "text (defanged)");
	result_free(&r);
	sb_free(&sb);
}

static void
test_never_hosts_netset_csv_report(void **state)
{
	(void)state;
	struct result r;
	run_str(&r, FEED_HOSTS, 0,
		"127.0.0.1 localhost\n::1 localhost #[IPv6]\n0.0.0.0 " GOOD_DOMAIN
		" microsoft.com\n"
		"0.0.0.0 login.microsoftonline.com co.uk github.io\n0.0.0.0 " GOOD_IP
		"\n"
		"0.0.0.0 10.0.0.1\n0.0.0.0 127.0.0.1 8.8.8.8 1.1.1.1 fe80::1 1.2.3.0/24\n");
	check_result(&r, "hosts");
	result_free(&r);

	run_str(&r, FEED_CSV, 0,
		"value,comment\n" GOOD_IP ",good\n" GOOD_DOMAIN
		",good\n10.0.0.1,x\n127.0.0.1,x\n8.8.8.8,x\n"
		"1.1.1.1,x\nmicrosoft.com,x\nlogin.microsoftonline.com,x\nco.uk,x\ngithub.io,x\n"
		"fe80::1,x\n1.2.3.0/24,x\n");
	check_result(&r, "csv");
	result_free(&r);

	run_str(&r, FEED_REPORT, 0,
		"The actor used " GOOD_IP " and " GOOD_DOMAIN
		" for C2. It also probed 10.0.0.1,\n"
		"127.0.0.1 and resolvers (8.8.8.8, 1.1.1.1). Lures named microsoft.com and\n"
		"login[.]microsoftonline[.]com, co.uk, github.io; fe80::1 and 1.2.3.0/24 were seen.\n");
	check_result(&r, "report");
	result_free(&r);
}

static void
test_never_stix_misp(void **state)
{
	(void)state;
	struct result r;
	struct strbuf sb = {0};
	sb_adds(&sb, "{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[");
	sb_adds(&sb,
		"{\"type\":\"indicator\",\"id\":\"indicator--0\",\"pattern\":\"[ipv4-addr:value = '" GOOD_IP
		"' OR domain-name:value = '" GOOD_DOMAIN "']\"}");
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		const char *v = never[i];
		const char *path = strchr(v, ':')      ? "ipv6-addr:value"
			: (v[0] >= '0' && v[0] <= '9') ? "ipv4-addr:value"
						       : "domain-name:value";
		sb_addf(&sb, ",{\"type\":\"indicator\",\"id\":\"indicator--%zu\",\"pattern\":\"[%s = '%s']\"}", i + 1,
			path, v);
	}
	sb_adds(&sb, "]}");
	run_buf(&r, FEED_STIX, 0, sb.buf, sb.len);
	check_result(&r, "stix");
	result_free(&r);

	sb.len = 0;
	sb_adds(&sb, "{\"Event\":{\"info\":\"t\",\"Attribute\":[");
	sb_adds(&sb,
		"{\"type\":\"ip-dst\",\"value\":\"" GOOD_IP
		"\",\"to_ids\":true},"
		"{\"type\":\"domain|ip\",\"value\":\"" GOOD_DOMAIN "|10.0.0.1\",\"to_ids\":true}");
	for (size_t i = 0; i < sizeof(never) / sizeof(never[0]); i++) {
		const char *v = never[i];
		const char *type = (v[0] >= '0' && v[0] <= '9') || strchr(v, ':') ? "ip-dst" : "domain";
		sb_addf(&sb, ",{\"type\":\"%s\",\"value\":\"%s\",\"to_ids\":true}", type, v);
	}
	sb_adds(&sb, "]}}");
	run_buf(&r, FEED_MISP, 0, sb.buf, sb.len);
	check_result(&r, "misp");
	result_free(&r);
	sb_free(&sb);
}

static void
test_allowlist(void **state)
{
	(void)state;
	struct policy *p = policy_new();
	struct strbuf errs = {0};
	const char *list =
		"# ours\n185.220.101.0/24\ngood.example.org\nhttps://intranet.evil-domain.ru/sso\n"
		"44d88612fea8a8f36de82e1278abb02f\nnot a valid entry\n45.77.1.2\n2a01:4f8::99\n";
	assert_int_equal(policy_allowlist_add(p, "allow.txt", list, strlen(list), &errs), ERR_CONFIG);
	assert_non_null(strstr(errs.buf, "allow.txt:6:"));
	assert_int_equal(policy_allowlist_count(p), 6);
	struct {
		const char *v;
		enum ioc_reason want;
	} cases[] = {
		{"185.220.101.4", REJ_USER_ALLOWLIST},
		{"185.220.102.4", REJ_OK},
		{"sub.good.example.org", REJ_SPECIAL}, /* example.org is reserved anyway */
		{"https://intranet.evil-domain.ru/sso/login", REJ_USER_ALLOWLIST},
		{"https://intranet.evil-domain.ru/", REJ_USER_ALLOWLIST}, /* would cover the prefix */
		{"https://intranet.evil-domain.ru/other", REJ_OK},
		{"44D88612FEA8A8F36DE82E1278ABB02F", REJ_USER_ALLOWLIST},
		{"44D88612FEA8A8F36DE82E1278ABB02E", REJ_OK},
		{"45.77.1.2", REJ_USER_ALLOWLIST},
		{"45.77.1.3", REJ_OK},
		{"45.77.1.2:8080", REJ_USER_ALLOWLIST},
		{"2a01:04f8:0:0:0:0:0:0099", REJ_USER_ALLOWLIST},
		{"2a01:4f8::98", REJ_OK},
		{"8.8.8.8", REJ_ALLOWLIST},
		{"2001:4860:4860::8888", REJ_ALLOWLIST},
		/* built-in: platforms allow paths, not the site; strict ones allow nothing */
		{"https://docs.google.com/forms/d/e/phish/viewform", REJ_OK},
		{"https://docs.google.com/", REJ_ALLOWLIST},
		{"https://login.microsoftonline.com/common/oauth2", REJ_ALLOWLIST},
		{"d1abc.cloudfront.net", REJ_OK}, /* a customer below a public suffix */
		{"cloudfront.net", REJ_PUBLIC_SUFFIX},
		{"e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855", REJ_ALLOWLIST},
		{"evil.local", REJ_SPECIAL},
		{"evil.onion", REJ_SPECIAL},
		{"svchost.exe", REJ_BAD_DOMAIN},
		{"100.64.1.1", REJ_SPECIAL},
		{"2001:db8::1", REJ_SPECIAL},
		{"fd00::1", REJ_SPECIAL},
		{"3fff::1", REJ_SPECIAL},
		{"2a01:4f8::2", REJ_OK},
		{"http://192.168.1.1/admin", REJ_SPECIAL},
		/* issue 19: built-in entries below a registrable domain cover their subdomains */
		{"one.one.one.one", REJ_ALLOWLIST},
		{"dns.one.one.one.one", REJ_ALLOWLIST},
		{"ocsp.sectigo.com", REJ_ALLOWLIST},
		{"r.ocsp.sectigo.com", REJ_ALLOWLIST},
		{"evil-sectigo.com", REJ_OK},
		{"www.msftncsi.com", REJ_ALLOWLIST},
		{"www.msftconnecttest.com", REJ_ALLOWLIST},
		{"autologon.microsoftazuread-sso.com", REJ_ALLOWLIST},
		{"myapp-contoso.msappproxy.net", REJ_ALLOWLIST},
		{"r3.o.lencr.org", REJ_ALLOWLIST},
		{"o.pki.goog", REJ_ALLOWLIST},
		{"0.pool.ntp.org", REJ_ALLOWLIST},
		{"time.windows.com", REJ_ALLOWLIST},
		{"badntp.org", REJ_OK},
		/* URL paths compared once normalised: ./, //, %2e */
		{"https://intranet.evil-domain.ru/./sso/x", REJ_USER_ALLOWLIST},
		{"https://intranet.evil-domain.ru//sso/x", REJ_USER_ALLOWLIST},
		{"https://intranet.evil-domain.ru/x/../sso/y", REJ_USER_ALLOWLIST},
		{"https://intranet.evil-domain.ru/%2e/sso/y", REJ_USER_ALLOWLIST},
		{"https://intranet.evil-domain.ru/%73so/y", REJ_USER_ALLOWLIST},
		{"https://intranet.evil-domain.ru/ssox", REJ_USER_ALLOWLIST}, /* a prefix, as before */
		{"https://intranet.evil-domain.ru/other/./x", REJ_OK},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct ioc io;
		struct ioc_opts o = {0};
		char why[256] = "";
		assert_int_equal(ioc_parse(cases[i].v, strlen(cases[i].v), &o, &io, NULL, 0), REJ_OK);
		enum ioc_reason r = policy_check(p, &io, why, sizeof(why));
		if (r != cases[i].want)
			fail_msg("%s: got %s (%s), want %s", cases[i].v, ioc_reason_code(r), why,
				 ioc_reason_code(cases[i].want));
	}
	sb_free(&errs);
	policy_free(p);
	policy_free(NULL);
}

static void
test_parent_of_allowlisted(void **state)
{
	(void)state;
	struct policy *p = policy_new();
	struct strbuf errs = {0};
	const char *list = "portal.partner-site.ru\n";
	assert_int_equal(policy_allowlist_add(p, "a", list, strlen(list), &errs), ERR_OK);
	struct ioc io;
	struct ioc_opts o = {0};
	ioc_parse("partner-site.ru", 15, &o, &io, NULL, 0);
	/* blocking the parent would block the allowlisted name too */
	assert_int_equal(policy_check(p, &io, NULL, 0), REJ_USER_ALLOWLIST);
	sb_free(&errs);
	policy_free(p);

	/* A name allowlisted after one of its subdomains (which made it an
	 * ancestor) is allowlisted itself, with all below it; and a user's
	 * entry over a built-in one is the user's. */
	static const char *const orders[] = {"a.partner-site.ru\npartner-site.ru\nmicrosoft.com\n",
					     "partner-site.ru\na.partner-site.ru\nmicrosoft.com\n"};
	for (size_t k = 0; k < 2; k++) {
		p = policy_new();
		errs = (struct strbuf){0};
		assert_int_equal(policy_allowlist_add(p, "a", orders[k], strlen(orders[k]), &errs), ERR_OK);
		static const char *const under[] = {"x.partner-site.ru",   "partner-site.ru", "a.partner-site.ru",
						    "b.a.partner-site.ru", "microsoft.com",   "x.microsoft.com"};
		for (size_t i = 0; i < sizeof(under) / sizeof(under[0]); i++) {
			char why[256] = "";
			assert_int_equal(ioc_parse(under[i], strlen(under[i]), &o, &io, NULL, 0), REJ_OK);
			enum ioc_reason r = policy_check(p, &io, why, sizeof(why));
			if (r != REJ_USER_ALLOWLIST)
				fail_msg("order %zu, %s: got %s (%s)", k, under[i], ioc_reason_code(r), why);
		}
		sb_free(&errs);
		policy_free(p);
	}
}

/* Every special-use name, alone, under a subdomain and in a URL, is
 * refused; names that only look alike (a longer label ending the same
 * way, or the special name inside another label) are not. */
static void
test_special_domains(void **state)
{
	(void)state;
	struct policy *p = policy_new();
	static const char *const special[] = {"localhost",   "local",       "test",     "invalid",   "example",
					      "onion",       "alt",         "internal", "home.arpa", "example.com",
					      "example.net", "example.org", "arpa"};
	static const char *const fine[] = {"notexample.com",  "example.com.ru", "mylocal.net", "contest.org",
					   "example-net.com", "home-arpa.net",  "alt.com",     "arpa.net"};
	char v[128], why[256];
	struct ioc io;
	struct ioc_opts o = {0};
	for (size_t k = 0; k < sizeof(special) / sizeof(special[0]); k++) {
		const char *forms[] = {"%s", "evil.%s", "http://evil.%s/x"};
		for (size_t f = 0; f < 3; f++) {
			snprintf(v, sizeof(v), forms[f], special[k]);
			enum ioc_reason r = ioc_parse(v, strlen(v), &o, &io, why, sizeof(why));
			if (r == REJ_OK)
				r = policy_check(p, &io, why, sizeof(why));
			if (f == 0 && !strchr(v, '.')) { /* a lone label is no domain at all */
				if (r == REJ_OK)
					fail_msg("%s: accepted", v);
				continue;
			}
			if (r != REJ_SPECIAL)
				fail_msg("%s: %s (%s), want special-purpose", v, ioc_reason_code(r), why);
		}
	}
	for (size_t k = 0; k < sizeof(fine) / sizeof(fine[0]); k++) {
		assert_int_equal(ioc_parse(fine[k], strlen(fine[k]), &o, &io, why, sizeof(why)), REJ_OK);
		enum ioc_reason r = policy_check(p, &io, why, sizeof(why));
		if (r != REJ_OK)
			fail_msg("%s: %s (%s), want ok", fine[k], ioc_reason_code(r), why);
	}
	policy_free(p);
}

static void
test_matrix(void **state)
{
	(void)state;
	char why[256];
	assert_false(policy_action_ok(IOC_IP, ACT_BLOCK_AND_REMEDIATE, false, why, sizeof(why)));
	assert_non_null(strstr(why, "matrix"));
	assert_false(policy_action_ok(IOC_URL, ACT_BLOCK_AND_REMEDIATE, true, why, sizeof(why)));
	assert_true(policy_action_ok(IOC_SHA256, ACT_BLOCK_AND_REMEDIATE, false, why, sizeof(why)));
	assert_false(policy_action_ok(IOC_CERT, ACT_BLOCK, false, why, sizeof(why)));
	assert_true(policy_action_ok(IOC_CERT, ACT_ALLOWED, false, why, sizeof(why)));
	assert_false(policy_action_ok(IOC_DOMAIN, ACT_AUDIT, false, why, sizeof(why)));
	assert_non_null(strstr(why, "generate_alert"));
	assert_true(policy_action_ok(IOC_DOMAIN, ACT_AUDIT, true, why, sizeof(why)));
	assert_true(policy_action_ok(IOC_IP, ACT_WARN, false, why, sizeof(why)));
}

/* The memoized registrable domain must give libpsl's answer, including
 * the awkward rules: wildcards and exceptions (ck), a listed name under
 * an unlisted parent (forgot.his.name), private suffixes, and repeats
 * (the memo's hits) interleaved with misses. */
static void
test_registrable_matches_psl(void **state)
{
	(void)state;
	static const char *const names[] = {
		"evil.com",
		"a.b.evil.com",
		"com",
		"co.uk",
		"evil.co.uk",
		"x.evil.co.uk",
		"github.io",
		"me.github.io",
		"a.me.github.io",
		"www.ck",
		"a.www.ck",
		"b.ck",
		"a.b.ck",
		"c.a.b.ck",
		"forgot.his.name",
		"x.forgot.his.name",
		"his.name",
		"y.his.name",
		"s3.amazonaws.com",
		"bucket.s3.amazonaws.com",
		"amazonaws.com",
		"za",
		"co.za",
		"shop.co.za",
		"blob.core.windows.net",
		"evil.blob.core.windows.net",
		"xn--80ak6aa92e.com",
		"a.xn--p1ai",
		"evil.com",
		"a.b.evil.com",
		"me.github.io",
		"a.b.ck",
		"www.ck",
	};
	psl_ctx_t *own = psl_latest(NULL);
	const psl_ctx_t *psl = own ? own : psl_builtin();
	struct policy *p = policy_new();
	for (int round = 0; round < 2; round++)
		for (size_t k = 0; k < sizeof(names) / sizeof(names[0]); k++) {
			const char *want = psl_registrable_domain(psl, names[k]);
			size_t got = policy_registrable_len(p, names[k]);
			if ((want ? strlen(want) : 0) != got)
				fail_msg("%s: psl says %s, memo says %zu bytes", names[k], want ? want : "(none)", got);
		}
	policy_free(p);
	psl_free(own);
}

/* The index of the public suffix list (policy.c) may only skip libpsl
 * where libpsl would say "not public": every rule of the list, a name
 * under each, and two labels under each, must get libpsl's answer. */
static void
test_psl_index_every_rule(void **state)
{
	(void)state;
	const char *dafsa = psl_dist_filename();
	size_t n = strlen(dafsa);
	char path[512], *buf = NULL, name[512];
	size_t len, rules = 0;

	psl_ctx_t *own = psl_latest(NULL);
	const psl_ctx_t *psl = own ? own : psl_builtin();
	/* The index only stands beside the package's compiled list. */
	if (psl == psl_builtin() || n < 6 || strcmp(dafsa + n - 6, ".dafsa") != 0) {
		print_message("SKIPPED: libpsl uses its built-in list, not the package's %s: no index\n", dafsa);
		psl_free(own);
		skip();
	}
	snprintf(path, sizeof(path), "%.*s.dat", (int)(n - 6), dafsa);
	if (file_read(path, 4 << 20, &buf, &len) != ERR_OK) {
		print_message("SKIPPED: no %s (package publicsuffix)\n", path);
		psl_free(own);
		skip();
	}
	struct policy *p = policy_new();
	assert_int_equal(policy_registrable_len(p, "evil.example.com"), strlen("example.com"));
	assert_true(policy_psl_indexed(p)); /* or the loop below proves nothing of the index */
	for (char *line = strtok(buf, "\n"); line; line = strtok(NULL, "\n")) {
		char *r = line;
		r[strcspn(r, " \t\r")] = '\0';
		if (*r == '\0' || strncmp(r, "//", 2) == 0)
			continue;
		bool ascii = true;
		for (char *c = r; *c; c++)
			ascii &= (unsigned char)*c < 0x80;
		if (!ascii)
			continue; /* names reach the policy in punycode */
		if (*r == '!')
			r++;
		const char *base = strncmp(r, "*.", 2) == 0 ? r + 2 : r;
		static const char *const forms[] = {"%s", "x0.%s", "a.x0.%s"};
		for (size_t f = 0; f < 3; f++) {
			/* For "*.ck": ck, x0.ck, a.x0.ck; for "co.uk": the same shape. */
			snprintf(name, sizeof(name), forms[f], base);
			const char *want = psl_registrable_domain(psl, name);
			size_t got = policy_registrable_len(p, name);
			if ((want ? strlen(want) : 0) != got)
				fail_msg("%s (rule %s): psl says %s, policy says %zu bytes", name, line,
					 want ? want : "(none)", got);
		}
		rules++;
	}
	assert_true(rules > 5000);
	policy_free(p);
	psl_free(own);
	free(buf);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_never_text),
		cmocka_unit_test(test_never_hosts_netset_csv_report),
		cmocka_unit_test(test_never_stix_misp),
		cmocka_unit_test(test_allowlist),
		cmocka_unit_test(test_special_domains),
		cmocka_unit_test(test_parent_of_allowlisted),
		cmocka_unit_test(test_matrix),
		cmocka_unit_test(test_registrable_matches_psl),
		cmocka_unit_test(test_psl_index_every_rule),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
