/* Configuration: one struct, validated in one place, file:line errors. */
#include <string.h>

#include "config.h"
#include "helpers.h"

static struct config *
load(const char *text, struct strbuf *errs)
{
	errs->len = 0;
	sb_add(errs, "", 0);
	return config_load_string("t.conf", text, errs);
}

static void
test_good(void **state)
{
	(void)state;
	struct strbuf e = {0};
	struct config *c = load("[mde]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
				"client_id = 11111111-1111-1111-1111-111111111111\n"
				"client_secret_file = /etc/iocsync/secret\n\n[sync]\nstate = /tmp/s.db ; inline\n"
				"max_delete = 10%\ncidr = expand\n\n[allowlist]\nfile = a.txt, b.txt\n\n"
				"[feed \"bad-ips\"]\nurl = https://intel.example.org/ips.txt\nformat = text\n"
				"type = ip\naction = warn\nseverity = high\nexpire_after = 14d\n"
				"device_groups = Servers, Workstations\n\n[feed \"empty\"]\nurl = file:///x\n",
				&e);
	if (c == NULL)
		fail_msg("%s", e.buf);
	assert_int_equal(c->nfeeds, 2);
	assert_string_equal(c->feeds[0].name, "bad-ips");
	assert_int_equal(c->feeds[0].action, ACT_WARN);
	assert_int_equal(c->feeds[0].expire_after_s, 14 * 86400);
	assert_int_equal(c->feeds[0].ndevice_groups, 2);
	assert_string_equal(c->feeds[0].device_groups[1], "Workstations");
	assert_int_equal(c->feeds[1].action, ACT_BLOCK); /* default */
	assert_int_equal(c->feeds[1].expire_after_s, 30 * 86400);
	assert_int_equal(c->max_delete_pct, 10);
	assert_int_equal(c->cidr, CIDR_EXPAND);
	assert_int_equal(c->nallowlist_files, 2);
	assert_string_equal(c->state, "/tmp/s.db");
	config_free(c);
	config_free(NULL);
	sb_free(&e);
}

static void
expect_error(const char *text, const char *want)
{
	struct strbuf e = {0};
	struct config *c = load(text, &e);
	if (c != NULL || strstr(e.buf, want) == NULL)
		fail_msg("want \"%s\" in:\n%s", want, e.buf);
	sb_free(&e);
}

static void
test_errors(void **state)
{
	(void)state;
	expect_error("[sync]\nreserve = 10\nbogus = 1\n", "t.conf:3: unknown key \"bogus\" in [sync]");
	expect_error("[nope]\nx = 1\n", "t.conf:1: unknown section [nope]");
	expect_error("[sync]\nreserve = ten\n", "t.conf:2: reserve: \"ten\": not a number");
	expect_error("[sync]\nreserve = 99999\n", "t.conf:2: reserve");
	expect_error("[mde]\ntenant_id = nope\n", "t.conf:2: tenant_id");
	expect_error("[sync]\nreserve = 1\nreserve = 2\n", "t.conf:3: reserve is given twice");
	expect_error("[sync]\nthis line has no equals\n", "t.conf:2: syntax error");
	expect_error("[feed \"x\"]\nformat = text\n", "t.conf:1: feed \"x\" has no url");
	expect_error("[feed x]\nurl = http://a/\n", "t.conf:1: feed section needs a quoted name");
	expect_error("[feed \"x\"]\nurl = ftp://a/\n", "t.conf:2: url");
	expect_error("[feed \"x\"]\nurl = http://a/\n[feed \"x\"]\nurl = http://b/\n", "t.conf:3: feed \"x\" is defined twice");
	/* the type x action matrix, naming the rule */
	expect_error("[feed \"x\"]\nurl = http://a/\ntype = ip\naction = block-and-remediate\n",
		     "t.conf:4: feed \"x\": action BlockAndRemediate: IpAddress indicators cannot be BlockAndRemediate (MDE action x type matrix)");
	expect_error("[feed \"x\"]\nurl = http://a/\naction = block-and-remediate\n", "declare type = hash or cert");
	expect_error("[feed \"x\"]\nurl = http://a/\naction = audit\n", "Audit requires generate_alert = yes");
	expect_error("[feed \"x\"]\nurl = http://a/\ntype = cert\naction = block\n", "CertificateThumbprint");
	expect_error("[feed \"x\"]\nurl = http://a/\ntype = ip\neducate_url = https://e/\n", "t.conf:4: feed \"x\": educate_url");
	char longline[400];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[sync]\nstate = ", 15);
	strcpy(longline + 390, "\n");
	expect_error(longline, "t.conf:2: line longer than");
	struct strbuf e = {0};
	struct config *c = load("[feed \"x\"]\nurl = http://a/\ntype = hash\naction = block-and-remediate\n", &e);
	assert_non_null(c);
	config_free(c);
	c = load("[feed \"x\"]\nurl = http://a/\naction = audit\ngenerate_alert = yes\n", &e);
	assert_non_null(c);
	config_free(c);
	sb_free(&e);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_errors)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
