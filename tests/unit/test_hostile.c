/* Hostile input: never a crash, never silence. */
#include <stdlib.h>
#include <string.h>

#include "helpers.h"

static const enum feed_format all[] = {FEED_AUTO, FEED_TEXT, FEED_HOSTS, FEED_NETSET,
				       FEED_CSV,  FEED_STIX, FEED_MISP,  FEED_REPORT};

static void
every_format(const char *buf, size_t len)
{
	for (size_t f = 0; f < sizeof(all) / sizeof(all[0]); f++) {
		struct result r;
		run_buf(&r, all[f], 0, buf, len);
		/* JSON formats refuse non-JSON as a whole, with a reason */
		if ((all[f] == FEED_STIX || all[f] == FEED_MISP) && r.rc != ERR_OK)
			assert_true(r.why[0] != '\0');
		result_free(&r);
	}
}

static void
test_garbage(void **state)
{
	(void)state;
	size_t n = 1 << 20;
	unsigned char *b = malloc(n);
	unsigned x = 12345;
	for (size_t i = 0; i < n; i++) {
		x = x * 1103515245 + 12345;
		b[i] = (unsigned char)(x >> 16);
	}
	every_format((const char *)b, n);
	struct result r;
	run_buf(&r, FEED_TEXT, 0, (const char *)b, n);
	assert_int_equal(r.st.accepted_total, 0);
	assert_true(r.st.rejected_total > 0); /* reported, not silent */
	result_free(&r);
	free(b);
}

static void
test_nul_and_utf8(void **state)
{
	(void)state;
	const char in[] =
		"185.220.101.4\n185.220\0.101.5\nevil\xff\xfe.ru\nhttp://evil-domain.ru/\xc3\x28\n185.220.101.6";
	struct result r;
	every_format(in, sizeof(in) - 1);
	run_buf(&r, FEED_TEXT, 0, in, sizeof(in) - 1);
	assert_int_equal(r.st.accepted_total, 2);
	assert_int_equal(r.st.rejected[REJ_BINARY], 1);
	assert_int_equal(r.st.rejected[REJ_BAD_UTF8], 2);
	result_free(&r);
}

static void
test_long_line(void **state)
{
	(void)state;
	size_t n = 10 * 1024 * 1024;
	char *b = malloc(n + 64);
	memset(b, 'a', n);
	memcpy(b + n, "\n185.220.101.4\n", 15);
	every_format(b, n + 15);
	struct result r;
	run_buf(&r, FEED_TEXT, 0, b, n + 15);
	assert_int_equal(r.st.accepted_total, 1); /* the next line survives */
	assert_int_equal(r.st.rejected[REJ_LINE_TOO_LONG], 1);
	result_free(&r);
	free(b);
}

static void
test_truncated(void **state)
{
	(void)state;
	const char *stix =
		"{\"type\":\"bundle\",\"objects\":[{\"type\":\"indicator\",\"id\":\"indicator--a\","
		"\"pattern\":\"[ipv4-addr:value = '185.220.101.4']\"},{\"type\":\"ind";
	struct result r;
	run_str(&r, FEED_STIX, 0, stix);
	assert_int_equal(r.rc, ERR_PARSE);
	assert_non_null(strstr(r.why, "line 1"));
	result_free(&r);
	run_str(&r, FEED_CSV, 0, "ip,note\n185.220.101.4,\"ok\"\n185.220.101.5,\"cut");
	assert_int_equal(r.st.accepted_total, 1);
	assert_int_equal(r.st.rejected[REJ_MALFORMED], 1);
	result_free(&r);
	every_format(stix, strlen(stix) / 2);
}

static void
test_deep_json(void **state)
{
	(void)state;
	size_t depth = 100000;
	char *b = malloc(depth * 2 + 1);
	memset(b, '[', depth);
	memset(b + depth, ']', depth);
	b[depth * 2] = '\0';
	struct result r;
	run_str(&r, FEED_STIX, 0, b);
	assert_int_equal(r.rc, ERR_PARSE);
	result_free(&r);
	run_str(&r, FEED_MISP, 0, b);
	assert_int_equal(r.rc, ERR_PARSE);
	result_free(&r);
	every_format(b, depth * 2);
	/* and a deep STIX pattern */
	struct strbuf sb = {0};
	sb_adds(&sb, "{\"type\":\"indicator\",\"id\":\"indicator--a\",\"pattern\":\"");
	for (int i = 0; i < 10000; i++)
		sb_addc(&sb, '(');
	sb_adds(&sb, "\"}");
	run_buf(&r, FEED_STIX, 0, sb.buf, sb.len);
	assert_int_equal(r.rc, ERR_OK);
	assert_int_equal(r.st.rejected[REJ_UNSUPPORTED], 1);
	result_free(&r);
	sb_free(&sb);
	free(b);
}

static void
test_empty(void **state)
{
	(void)state;
	every_format("", 0);
	struct result r;
	run_str(&r, FEED_TEXT, 0, "");
	assert_int_equal(r.rc, ERR_OK);
	assert_int_equal(r.st.entries, 0);
	result_free(&r);
	run_str(&r, FEED_STIX, 0, "");
	assert_int_equal(r.rc, ERR_PARSE);
	result_free(&r);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_garbage),   cmocka_unit_test(test_nul_and_utf8), cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_truncated), cmocka_unit_test(test_deep_json),    cmocka_unit_test(test_empty),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
