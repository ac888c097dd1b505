/* Each format on small inputs written for its edge cases. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static void
test_text(void **state)
{
	(void)state;
	struct result r;
	/* BOM, CRLF, comments of every kind, indented and inline comments,
	 * trailing spaces, extra columns, IP:port, LOKI hash;comment, and a
	 * last line without newline. */
	run_str(&r, FEED_AUTO, 0,
		"\xef\xbb\xbf# header\r\n; semi\r\n// slashes\r\n  # indented\r\n\r\n"
		"185.220.101.4\t17\r\n185.220.101.5 # host name\r\n185.220.101.6   \r\n"
		"45.9.148.3:8080\r\n44d88612fea8a8f36de82e1278abb02f;EICAR test\r\n"
		"evil-domain.ru ; comment\r\nhttp://evil-domain.ru/a;b=c\r\nlast-line.ru");
	assert_int_equal(r.st.format, FEED_TEXT);
	assert_int_equal(r.st.accepted_total, 8);
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.4"));
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.6"));
	assert_true(accepted_has(&r, "IpAddress", "45.9.148.3"));
	assert_true(accepted_has(&r, "FileMd5", "44d88612fea8a8f36de82e1278abb02f"));
	assert_true(accepted_has(&r, "Url", "http://evil-domain.ru/a;b=c"));
	assert_true(accepted_has(&r, "DomainName", "last-line.ru"));
	assert_int_equal(r.st.rejected_total, 0);
	result_free(&r);

	/* duplicates counted, reported once */
	run_str(&r, FEED_TEXT, 0, "185.220.101.4\n185.220.101.4\n185[.]220[.]101[.]4\n");
	assert_int_equal(r.st.accepted_total, 1);
	assert_int_equal(r.st.duplicates, 2);
	result_free(&r);
}

/* What the text parser gave for one line: the value, or the reason. */
struct cut {
	unsigned long line;
	int code; /* 0: an entry */
	char value[64];
};
struct cuts {
	struct cut v[4096];
	size_t n;
};

static void
cut_entry(void *ctx, const struct feed_entry *e)
{
	struct cuts *c = ctx;
	struct cut *x = &c->v[c->n++];
	*x = (struct cut){.line = e->line};
	memcpy(x->value, e->value, e->len < 63 ? e->len : 63);
}

static void
cut_reject(void *ctx, unsigned long line, enum ioc_reason r, const char *why, const char *in, size_t n)
{
	struct cuts *c = ctx;
	(void)why, (void)in, (void)n;
	c->v[c->n++] = (struct cut){.line = line, .code = (int)r};
}

/* The text parser's value cut (the first blank ends it, a NUL anywhere
 * rejects the line, "hash;comment" is cut unless a URL) on random lines
 * of the bytes that matter, at every length and alignment, against the
 * rule written plainly here: the parser scans 8 bytes at a time. */
static void
test_text_value_cut(void **state)
{
	(void)state;
	static const char alphabet[] = {'a', '1', '.', ':', '/', ';', ' ', '\t', '\0', '#', '\r', 'b'};
	static char buf[4096 * 24];
	static struct cuts got;
	unsigned long seed = 11;
	for (int round = 0; round < 40; round++) {
		size_t len = 0, nlines = 0, starts[4096], ends[4096];
		while (nlines < 2000) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			size_t n = (seed >> 33) % 23;
			starts[nlines] = len;
			for (size_t i = 0; i < n; i++) {
				seed = seed * 6364136223846793005UL + 1442695040888963407UL;
				buf[len++] = alphabet[(seed >> 40) % sizeof(alphabet)];
			}
			ends[nlines++] = len;
			buf[len++] = '\n';
		}
		struct feed_opts fo = {.format = FEED_TEXT};
		struct feed_sink k = {&got, cut_entry, cut_reject, NULL, NULL};
		char why[64];
		got.n = 0;
		assert_int_equal(feed_parse(buf, len, &fo, &k, NULL, why, sizeof(why)), ERR_OK);
		size_t at = 0;
		for (size_t no = 0; no < nlines; no++) {
			const char *l = buf + starts[no];
			size_t b = 0, e = ends[no] - starts[no];
			while (e > 0 && (l[e - 1] == ' ' || l[e - 1] == '\t' || l[e - 1] == '\r'))
				e--;
			while (b < e && (l[b] == ' ' || l[b] == '\t'))
				b++;
			if (b == e || l[b] == '#' || l[b] == ';' || (e - b > 1 && l[b] == '/' && l[b + 1] == '/'))
				continue;
			if (at >= got.n || got.v[at].line != no + 1)
				fail_msg("round %d line %zu: nothing from the parser", round, no + 1);
			const struct cut *x = &got.v[at++];
			if (memchr(l + b, '\0', e - b)) {
				assert_int_equal(x->code, REJ_BINARY);
				continue;
			}
			size_t t = b;
			while (t < e && l[t] != ' ' && l[t] != '\t')
				t++;
			char want[64] = "";
			memcpy(want, l + b, t - b);
			const char *semi = memchr(want, ';', t - b);
			if (semi && !(memchr(want, ':', t - b) && strstr(want, "://")))
				want[semi - want] = '\0';
			if (x->code != 0 || strcmp(x->value, want) != 0)
				fail_msg("round %d line %zu: got \"%s\" (%d), want \"%s\"", round, no + 1, x->value,
					 x->code, want);
		}
		assert_int_equal(at, got.n);
	}
}

static void
test_hosts(void **state)
{
	(void)state;
	struct result r;
	run_str(&r, FEED_AUTO, 0,
		"# banner\n127.0.0.1 localhost\n::1 localhost #[IPv6]\n255.255.255.255 broadcasthost\n"
		"0.0.0.0 evil-a.ru\n0.0.0.0 evil-b.ru evil-c.ru # two\n127.0.0.1\tevil-d.ru  \n"
		"::1 evil-e.ru\n0.0.0.0 0.0.0.0\n");
	assert_int_equal(r.st.format, FEED_HOSTS);
	assert_int_equal(r.st.accepted_total, 5);
	assert_true(accepted_has(&r, "DomainName", "evil-c.ru"));
	assert_true(accepted_has(&r, "DomainName", "evil-e.ru"));
	assert_null(strstr(r.accepted.buf, "localhost"));
	assert_int_equal(r.st.rejected_total, 0);
	result_free(&r);
}

static void
test_netset(void **state)
{
	(void)state;
	struct result r;
	run_str(&r, FEED_AUTO, 0,
		"; Spamhaus DROP List\n; https://www.spamhaus.org/drop/drop.txt\n1.10.16.0/20 ; SBL256894\n"
		"185.220.101.4 ; single\n185.220.101.5/32\n; EOF\n");
	assert_int_equal(r.st.format, FEED_NETSET);
	assert_int_equal(r.st.accepted_total, 2);
	assert_int_equal(r.st.rejected[REJ_CIDR], 1);
	result_free(&r);
	/* DShield block.txt: start, end, bits. */
	run_str(&r, FEED_AUTO, 0,
		"#\n151.243.11.0\t151.243.11.255\t24\t170\tRASANA\tIR\tabuse@rasana.net\n"
		"65.49.1.0\t65.49.1.255\t24\t162\tHURRICANE\tUS\tabuse@he.net\n");
	assert_int_equal(r.st.format, FEED_NETSET);
	assert_int_equal(r.st.rejected[REJ_CIDR], 2);
	assert_int_equal(r.st.accepted_total, 0);
	assert_non_null(strstr(r.rejected.buf, "151.243.11.0/24"));
	result_free(&r);
}

static void
test_csv(void **state)
{
	(void)state;
	struct result r;
	/* comments before the header, quoted header, CRLF, BOM, "" escapes,
	 * a quoted field with a line break, several indicators in a field */
	run_str(&r, FEED_AUTO, 0,
		"\xef\xbb\xbf# banner\r\n#\r\n\"first_seen\",\"dst_ip\",\"note\"\r\n"
		"\"2024-01-01\",\"185.220.101.4\",\"say \"\"hi\"\"\"\r\n"
		"\"2024-01-02\",\"185.220.101.5\",\"two\r\nlines\"\r\n# END 2 entries");
	assert_int_equal(r.st.format, FEED_CSV);
	assert_int_equal(r.st.accepted_total, 2);
	assert_int_equal(r.st.rejected_total, 0);
	result_free(&r);

	run_str(&r, FEED_CSV, 0,
		"value,type,description\n"
		"\"019d4ae42f858d5ea65f3b71392dd37efec6c882,02c48917b15015ddd02738bc1f480f9c6379165618435855030f4c63ce372485,7a15cdb53c6c2a8e40a03dcf15195aef\",file,sample\n"
		"evil-domain.ru,hostname,\"C2, with comma\"\n");
	assert_int_equal(r.st.accepted_total, 4);
	assert_true(accepted_has(&r, "FileMd5", "7a15cdb53c6c2a8e40a03dcf15195aef"));
	result_free(&r);

	/* no header: columns found by their content */
	run_str(&r, FEED_CSV, 0,
		"hxxp://evil-domain.ru/~a/,2017-01-01 00:00:00,275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f\n"
		"hxxp://evil-other.ru/b/,2017-01-02 00:00:00,3395856ce81f2b7382dee72602f798b642f14140aaaaaaaaaaaaaaaaaaaaaaaa\n");
	assert_true(accepted_has(&r, "Url", "http://evil-domain.ru/~a/"));
	assert_true(accepted_has(&r, "FileSha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"));
	assert_null(strstr(r.accepted.buf, "2017"));
	result_free(&r);

	/* unterminated quote: reported with its line, nothing before lost */
	run_str(&r, FEED_CSV, 0, "ip\n185.220.101.4\n\"185.220.101.5\n");
	assert_int_equal(r.st.accepted_total, 1);
	assert_int_equal(r.st.rejected[REJ_MALFORMED], 1);
	assert_non_null(strstr(r.rejected.buf, "malformed 3"));
	result_free(&r);

	/* semicolon-delimited, sniffed */
	run_str(&r, FEED_CSV, 0, "date;ip;port\n2024;185.220.101.4;443\n2024;185.220.101.5;80\n");
	assert_int_equal(r.st.accepted_total, 2);
	assert_string_equal(r.st.columns, "ip (2); by header name");
	result_free(&r);

	/* Columns by header name: PhishTank's url, not its detail page; a
	 * download URL and a destination IP, not a reference or a source. */
	run_str(&r, FEED_CSV, 0,
		"phish_id,url,phish_detail_url,submission_time,reference_link,Download URL,dst_ip,source_url\n"
		"1,http://evil-phish.top/login,http://www.phishtank.com/phish_detail.php?phish_id=1,2024,"
		"https://blog.example-vendor.top/post,http://evil-dl.top/x.exe,45.1.2.3,https://feeds.vendor.top/a\n");
	assert_int_equal(r.st.accepted_total, 3);
	assert_true(accepted_has(&r, "Url", "http://evil-phish.top/login"));
	assert_true(accepted_has(&r, "Url", "http://evil-dl.top/x.exe"));
	assert_true(accepted_has(&r, "IpAddress", "45.1.2.3"));
	assert_null(strstr(r.accepted.buf, "phishtank"));
	assert_string_equal(r.st.columns, "url (2), Download URL (6), dst_ip (7); by header name");
	result_free(&r);
}

static void
test_stix(void **state)
{
	(void)state;
	struct result r;
	run_str(&r, FEED_AUTO, 0,
		"{\"type\":\"bundle\",\"id\":\"bundle--1\",\"objects\":[\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--a\",\"name\":\"C2\",\"pattern\":\"[ipv4-addr:value = '185.220.101.4' OR domain-name:value = 'evil-domain.ru']\",\"valid_until\":\"2999-01-01T00:00:00Z\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--b\",\"pattern\":\"[file:hashes.'SHA-256' = '275A021BBFB6489E54D471899F7DB9D1663FC695EC2FE2A2C4538AABF651FD0F']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--c\",\"pattern\":\"[file:hashes.md5 = '44d88612fea8a8f36de82e1278abb02f'] OR [file:hashes.SHA1 = '3395856ce81f2b7382dee72602f798b642f14140']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--d\",\"pattern\":\"[x509-certificate:issuer = 'CN=X' AND x509-certificate:serial_number = '01']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--e\",\"pattern\":\"[url:value = 'http://evil-domain.ru/it\\\\'s']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--f\",\"pattern\":\"[ipv4-addr:value = '185.220.101.9'] FOLLOWEDBY [domain-name:value = 'x.ru']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--g\",\"pattern\":\"[domain-name:value MATCHES '.*evil']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--h\",\"revoked\":true,\"pattern\":\"[ipv4-addr:value = '185.220.101.10']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--i\",\"valid_until\":\"2001-01-01T00:00:00Z\",\"pattern\":\"[ipv4-addr:value = '185.220.101.11']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--j\",\"pattern_type\":\"snort\",\"pattern\":\"alert tcp any\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--k\",\"pattern\":\"[x509-certificate:hashes.'SHA-1' = '3395856ce81f2b7382dee72602f798b642f14141']\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--l\",\"pattern\":\"[ipv4-addr:value IN ('185.220.101.12', '185.220.101.13')]\"},\n"
		"{\"type\":\"indicator\",\"id\":\"indicator--m\",\"pattern\":\"[network-traffic:dst_ref.value = '185.220.101.14']\"},\n"
		"{\"type\":\"malware\",\"id\":\"malware--x\",\"name\":\"x\"}\n]}");
	assert_int_equal(r.st.format, FEED_STIX);
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.4"));
	assert_true(accepted_has(&r, "DomainName", "evil-domain.ru"));
	assert_true(accepted_has(&r, "FileSha256", "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"));
	assert_true(accepted_has(&r, "FileMd5", "44d88612fea8a8f36de82e1278abb02f"));
	assert_true(accepted_has(&r, "FileSha1", "3395856ce81f2b7382dee72602f798b642f14140"));
	assert_true(accepted_has(&r, "Url", "http://evil-domain.ru/it's"));
	assert_true(accepted_has(&r, "CertificateThumbprint", "3395856ce81f2b7382dee72602f798b642f14141"));
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.13"));
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.14"));
	assert_int_equal(r.st.accepted_total, 10);
	assert_int_equal(r.st.rejected[REJ_UNSUPPORTED], 4); /* AND, FOLLOWEDBY, MATCHES, snort */
	assert_int_equal(r.st.rejected[REJ_REVOKED], 1);
	assert_int_equal(r.st.rejected[REJ_EXPIRED], 1);
	assert_non_null(strstr(r.rejected.buf, "unsupported 5 ")); /* line of indicator--d */
	result_free(&r);

	run_str(&r, FEED_STIX, 0, "{\"type\":\"report\"}");
	assert_int_equal(r.rc, ERR_PARSE);
	result_free(&r);
}

static void
test_misp(void **state)
{
	(void)state;
	struct result r;
	const char *ev =
		"{\"info\":\"op\",\"Attribute\":["
		"{\"type\":\"ip-dst|port\",\"value\":\"185.220.101.4|443\",\"to_ids\":true,\"uuid\":\"u1\"},"
		"{\"type\":\"domain|ip\",\"value\":\"evil-domain.ru|185.220.101.5\",\"to_ids\":\"1\"},"
		"{\"type\":\"filename|sha256\",\"value\":\"a.exe|275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f\",\"to_ids\":true},"
		"{\"type\":\"hostname\",\"value\":\"c2.evil-domain.ru\",\"to_ids\":false},"
		"{\"type\":\"email-src\",\"value\":\"a@b.ru\",\"to_ids\":true},"
		"{\"type\":\"x509-fingerprint-sha1\",\"value\":\"3395856ce81f2b7382dee72602f798b642f14141\",\"to_ids\":true},"
		"{\"type\":\"url\",\"value\":\"http://evil-domain.ru/x\",\"to_ids\":true,\"deleted\":true}],"
		"\"Object\":[{\"name\":\"file\",\"Attribute\":[{\"type\":\"md5\",\"value\":\"44d88612fea8a8f36de82e1278abb02f\",\"to_ids\":true}]}]}";
	const char *wraps[] = {"{\"response\":[{\"Event\":%s}]}", "{\"Event\":%s}", "%s"};
	for (int w = 0; w < 3; w++) {
		char *doc = xasprintf(wraps[w], ev);
		run_str(&r, FEED_AUTO, 0, doc);
		free(doc);
		assert_int_equal(r.st.format, FEED_MISP);
		assert_int_equal(r.rc, ERR_OK);
		assert_true(accepted_has(&r, "IpAddress", "185.220.101.4"));
		assert_true(accepted_has(&r, "IpAddress", "185.220.101.5"));
		assert_true(accepted_has(&r, "DomainName", "evil-domain.ru"));
		assert_true(accepted_has(&r, "FileSha256",
					 "275a021bbfb6489e54d471899f7db9d1663fc695ec2fe2a2c4538aabf651fd0f"));
		assert_true(accepted_has(&r, "CertificateThumbprint", "3395856ce81f2b7382dee72602f798b642f14141"));
		assert_true(accepted_has(&r, "FileMd5", "44d88612fea8a8f36de82e1278abb02f"));
		assert_int_equal(r.st.accepted_total, 6);
		assert_int_equal(r.st.rejected[REJ_NOT_TO_IDS], 1);
		assert_int_equal(r.st.rejected[REJ_UNSUPPORTED], 1);
		assert_int_equal(r.st.rejected[REJ_REVOKED], 1);
		result_free(&r);
	}
}

static void
test_report(void **state)
{
	(void)state;
	struct result r;
	run_str(&r, FEED_REPORT, 0,
		"= Operation X\n:toc:\n\nAn analysis is available as a https://www.welivesecurity.com/2021/x/[blogpost].\n"
		"The loader (Win32/Agent.ABC) contacted hxxp://evil-domain[.]ru/gate.php and 185.220.101[.]4.\n"
		"- 185.220.101[.]5\n|`3395856ce81f2b7382dee72602f798b642f14140`|loader.exe|Win32/X\n"
		"See [the post](https://example-blog.ru/post) and e.g. svchost.exe, version 4.18.1906.5.\n");
	assert_int_equal(r.st.format, FEED_REPORT);
	assert_true(accepted_has(&r, "Url", "http://evil-domain.ru/gate.php"));
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.4"));
	assert_true(accepted_has(&r, "IpAddress", "185.220.101.5"));
	assert_true(accepted_has(&r, "FileSha1", "3395856ce81f2b7382dee72602f798b642f14140"));
	assert_null(strstr(r.accepted.buf, "welivesecurity"));
	assert_null(strstr(r.accepted.buf, "example-blog"));
	assert_null(strstr(r.accepted.buf, "svchost"));
	assert_int_equal(r.st.accepted_total, 4);
	assert_int_equal(r.st.rejected_total, 0);
	result_free(&r);
}

static void
test_sniff(void **state)
{
	(void)state;
	assert_int_equal(feed_sniff("", 0), FEED_TEXT);
	assert_int_equal(feed_sniff("1.2.3.4\n", 8), FEED_TEXT);
	assert_int_equal(feed_sniff(" {\"type\":\"bundle\"}", 18), FEED_STIX);
	assert_int_equal(feed_sniff("{\"Event\":{}}", 12), FEED_MISP);
	assert_true(feed_looks_html("\n  <!DOCTYPE html><html>", 24));
	assert_false(feed_looks_html("1.2.3.4\n", 8));
}

/* The newline count behind JSON feeds' line numbers (feed_json_line),
 * eight bytes at a time, against one byte at a time: every length and
 * alignment, with the bytes that a word-wise test could take for a
 * newline (0x8a, 0x0b, 0x09, NUL, 0xff). */
static void
test_count_newlines(void **state)
{
	(void)state;
	static const char alphabet[] = {'\n', (char)0x8a, 0x0b, 0x09, 0, (char)0xff, 'a', '\n'};
	char buf[136];
	unsigned long seed = 3;
	for (int round = 0; round < 2000; round++) {
		for (size_t i = 0; i < sizeof(buf); i++) {
			seed = seed * 6364136223846793005UL + 1442695040888963407UL;
			buf[i] = alphabet[(seed >> 40) % sizeof(alphabet)];
		}
		size_t off = (size_t)round % 8, n = (size_t)round % (sizeof(buf) - 8);
		unsigned long want = 0;
		for (size_t i = 0; i < n; i++)
			want += buf[off + i] == '\n';
		assert_int_equal(count_newlines(buf + off, n), want);
	}
	memset(buf, '\n', sizeof(buf));
	assert_int_equal(count_newlines(buf, sizeof(buf)), sizeof(buf));
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text),  cmocka_unit_test(test_text_value_cut),
		cmocka_unit_test(test_hosts), cmocka_unit_test(test_netset),
		cmocka_unit_test(test_csv),   cmocka_unit_test(test_stix),
		cmocka_unit_test(test_misp),  cmocka_unit_test(test_report),
		cmocka_unit_test(test_sniff), cmocka_unit_test(test_count_newlines),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
