/* Configuration: one struct, validated in one place, file:line errors. */
#include <stdio.h>
#include <string.h>

#include "config.h"
#include "iocsync_limits.h"
#include "helpers.h"

static struct config *
load(const char *text, struct strbuf *errs)
{
	errs->len = 0;
	sb_add(errs, "", 0);
	return config_load_string("t.conf", text, errs);
}

/* text's configuration, which must load (the test fails with the errors). */
static struct config *
loaded(const char *text, struct strbuf *errs)
{
	struct config *c = load(text, errs);
	if (c == NULL)
		fail_msg("%s", errs->buf);
	return c;
}

static void
test_good(void **state)
{
	(void)state;
	struct strbuf e = {0};
	struct config *c =
		loaded("[mde]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
		       "client_id = 11111111-1111-1111-1111-111111111111\n"
		       "client_secret_file = /etc/iocsync/secret\n\n[sync]\nstate = /tmp/s.db ; inline\n"
		       "max_delete = 10%\ncidr = expand\n\n[allowlist]\nfile = a.txt, b.txt\n\n"
		       "[feed \"bad-ips\"]\nurl = https://intel.example.org/ips.txt\nformat = text\n"
		       "type = ip\naction = warn\nseverity = high\nexpire_after = 14d\n"
		       "device_groups = Servers, Workstations\n\n[feed \"empty\"]\nurl = file:///x\n",
		       &e);
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
expect_loads(const char *text)
{
	struct strbuf e = {0};
	struct config *c = load(text, &e);
	if (c == NULL)
		fail_msg("want it to load:\n%s\n%s", text, e.buf);
	config_free(c);
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
	expect_error("[feed \"x\"]\nurl = http://a/\n[feed \"x\"]\nurl = http://b/\n",
		     "t.conf:3: feed \"x\" is defined twice");
	/* the type x action matrix, naming the rule */
	expect_error(
		"[feed \"x\"]\nurl = http://a/\ntype = ip\naction = block-and-remediate\n",
		"t.conf:4: feed \"x\": action BlockAndRemediate: IpAddress indicators cannot be BlockAndRemediate (MDE action x type matrix)");
	expect_error("[feed \"x\"]\nurl = http://a/\naction = block-and-remediate\n", "declare type = hash or cert");
	expect_error("[feed \"x\"]\nurl = http://a/\naction = audit\n", "Audit requires generate_alert = yes");
	expect_error("[feed \"x\"]\nurl = http://a/\ntype = cert\naction = block\n", "CertificateThumbprint");
	expect_error("[feed \"x\"]\nurl = http://a/\ntype = ip\neducate_url = https://e/\n",
		     "t.conf:4: feed \"x\": educate_url");
	/* tenants */
	expect_error("[tenant \"a\"]\nclient_id = 11111111-1111-1111-1111-111111111111\n",
		     "t.conf:1: [tenant \"a\"] needs its own tenant_id");
	/* one multi-tenant app: client_id and its secret from [mde] */
	expect_loads(
		"[mde]\nclient_id = 11111111-1111-1111-1111-111111111111\nclient_secret_env = S\n"
		"[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-00000000000a\n"
		"[tenant \"b\"]\ntenant_id = 00000000-0000-0000-0000-00000000000b\n");
	/* a tenant in another cloud does not inherit [mde]'s region */
	expect_loads(
		"[mde]\nclient_id = 11111111-1111-1111-1111-111111111111\nclient_secret_env = S\nregion = eu\n"
		"[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-00000000000a\n"
		"[tenant \"us\"]\ntenant_id = 00000000-0000-0000-0000-00000000000b\ncloud = gcc-high\n");
	/* the same app in the same tenant twice would fight over its indicators */
	expect_error(
		"[mde]\nclient_id = 11111111-1111-1111-1111-111111111111\nclient_secret_env = S\n"
		"[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-00000000000a\n"
		"[tenant \"b\"]\ntenant_id = 00000000-0000-0000-0000-00000000000A\n",
		"t.conf:6: [tenant \"b\"]: same tenant_id, client_id and application as tenant \"a\"");
	expect_loads(
		"[mde]\nclient_id = 11111111-1111-1111-1111-111111111111\nclient_secret_env = S\n"
		"[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-00000000000a\n"
		"[tenant \"b\"]\ntenant_id = 00000000-0000-0000-0000-00000000000a\napplication = iocsync-b\n");
	expect_error(
		"[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
		"client_id = 11111111-1111-1111-1111-111111111111\nfeeds = nope\n",
		"t.conf:1: [tenant \"a\"]: feeds: no [feed \"nope\"]");
	expect_error("[tenant \"a\"]\nbogus = 1\n", "t.conf:2: unknown key \"bogus\" in [tenant \"a\"]");
	expect_error("[tenant \"a\"]\nreserve = 1\n", "t.conf:2: unknown key \"reserve\"");
	expect_error("[tenant a]\n", "t.conf:1: tenant section needs a quoted name");
	expect_error("[tenant \"a\"]\n[tenant \"a\"]\n", "t.conf:2: tenant \"a\" is defined twice");
	expect_error(
		"[sync]\nstate = /s.db\n[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
		"client_id = 11111111-1111-1111-1111-111111111111\nstate = /x.db\n"
		"[tenant \"b\"]\ntenant_id = 00000000-0000-0000-0000-000000000002\n"
		"client_id = 11111111-1111-1111-1111-111111111111\nstate = /x.db\n",
		"t.conf:7: [tenant \"b\"]: state /x.db is also tenant \"a\"'s");
	expect_error(
		"[mde]\nclient_secret_env = X\n[tenant \"a\"]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
		"client_id = 11111111-1111-1111-1111-111111111111\nregion = eu\ncloud = gcc\n",
		"t.conf:3: [tenant \"a\"]: region applies to cloud = global only");
	/* TAXII keys */
	expect_error("[feed \"x\"]\nurl = http://a/\ntaxii_collection = c\n", "need format = taxii");
	expect_error("[feed \"x\"]\nurl = http://a/\nformat = taxii\n", "format = taxii needs taxii_collection");
	expect_error("[feed \"x\"]\nurl = http://a/\nformat = taxii\ntaxii_collection = c\nusername = u\n",
		     "username and password_file go together");
	char longline[400];
	memset(longline, 'x', sizeof(longline));
	memcpy(longline, "[sync]\nstate = ", 15);
	strcpy(longline + 390, "\n");
	expect_error(longline, "t.conf:2: line longer than");
	expect_error("[feed \"x\"]\nurl = http://a/\ntitle = Blocked \xff by {feed}\n", "t.conf:3: not UTF-8 text");
	/* [firewall] assign_groups: a comma list like every other list */
	expect_error("[firewall]\nassign_groups = SOC, , Servers\n", "assign_groups: empty item in \"SOC, , Servers\"");
	expect_error("[firewall]\nassign_groups = SOC,\n", "assign_groups: empty item");
	expect_loads("[firewall]\nassign_groups = SOC Workstations , 6f1d2a3b-0000-4000-8000-000000000001\n");
	expect_error("[firewall]\nassign_groups =\n", "t.conf:2: assign_groups: empty value");
	struct strbuf e = {0};
	struct config *c = load("[feed \"x\"]\nurl = http://a/\ntype = hash\naction = block-and-remediate\n", &e);
	assert_non_null(c);
	config_free(c);
	c = load("[feed \"x\"]\nurl = http://a/\naction = audit\ngenerate_alert = yes\n", &e);
	assert_non_null(c);
	config_free(c);
	/* A tenant's configuration: its keys over [mde], its feeds, its groups,
	 * a state and metrics file of its own, its secret source alone. */
	c = loaded(
		"[mde]\ncloud = custom\napi_url = https://a/\nlogin_url = https://l/\nclient_secret_file = /base\n"
		"[sync]\nstate = /v/state.db\nmetrics_file = /m/i.prom\n"
		"[feed \"f1\"]\nurl = http://a/1\ndevice_groups = G\n[feed \"f2\"]\nurl = http://a/2\n"
		"[tenant \"t\"]\ntenant_id = 00000000-0000-0000-0000-000000000009\n"
		"client_id = 11111111-1111-1111-1111-111111111119\nclient_secret_env = T_SECRET\n"
		"feeds = f2\ndevice_groups = S1, S2\ntimeout = 5s\n",
		&e);
	struct config *t = config_tenant(c, 0, true); /* its own feeds and groups: nothing lent */
	assert_false(t->feeds_lent);
	assert_string_equal(t->tenant_name, "t");
	assert_string_equal(t->tenant_id, "00000000-0000-0000-0000-000000000009");
	assert_string_equal(t->api_url, "https://a/");
	assert_null(t->client_secret_file);
	assert_string_equal(t->client_secret_env, "T_SECRET");
	assert_string_equal(t->state, "/v/state-t.db");
	assert_string_equal(t->metrics_file, "/m/i-t.prom");
	assert_int_equal(t->api_timeout_s, 5);
	assert_int_equal(t->nfeeds, 1);
	assert_string_equal(t->feeds[0].name, "f2");
	assert_int_equal(t->feeds[0].ndevice_groups, 2);
	assert_string_equal(t->feeds[0].device_groups[1], "S2");
	assert_int_equal(t->ntenants, 0);
	config_free(t);
	config_free(c);
	/* A tenant that takes every feed as it is: lent the very feeds when
	 * asked (tenants then share a desired set), a copy otherwise. */
	c = loaded(
		"[mde]\ncloud = custom\napi_url = https://a/\nlogin_url = https://l/\nclient_secret_file = /s\n"
		"[feed \"f1\"]\nurl = http://a/1\n[tenant \"t\"]\n"
		"tenant_id = 00000000-0000-0000-0000-000000000009\nclient_id = 11111111-1111-1111-1111-111111111119\n",
		&e);
	t = config_tenant(c, 0, true);
	assert_true(t->feeds_lent);
	assert_ptr_equal(t->feeds, c->feeds);
	assert_int_equal(t->nfeeds, 1);
	config_free(t);
	t = config_tenant(c, 0, false);
	assert_false(t->feeds_lent);
	assert_ptr_not_equal(t->feeds, c->feeds);
	assert_string_equal(t->feeds[0].name, "f1");
	config_free(t);
	config_free(c);
	sb_free(&e);
}

/* One feed more than LIMIT_FEEDS (the merge's 16-bit feed index) is an
 * error at the section that passes the limit; LIMIT_FEEDS load. */
static void
test_feed_limit(void **state)
{
	(void)state;
	struct strbuf text = {0}, e = {0};
	sb_adds(&text, "[mde]\ntenant_id = 00000000-0000-0000-0000-000000000001\n");
	for (int i = 0; i < LIMIT_FEEDS; i++)
		sb_addf(&text, "[feed \"f%d\"]\nurl = file:///f\n", i);
	struct config *c = loaded(text.buf, &e);
	assert_int_equal(c->nfeeds, LIMIT_FEEDS);
	config_free(c);
	sb_adds(&text, "[feed \"one-more\"]\nurl = file:///f\n");
	assert_null(load(text.buf, &e));
	char want[64];
	snprintf(want, sizeof(want), "t.conf:%d: more than %d feeds", 2 + 2 * LIMIT_FEEDS + 1, LIMIT_FEEDS);
	if (strstr(e.buf, want) == NULL)
		fail_msg("want \"%s\" in: %s", want, e.buf);
	sb_free(&text);
	sb_free(&e);
}

/* text loads, and its dump holds want. */
static void
expect_dumped(const char *text, const char *want)
{
	struct strbuf e = {0}, d = {0};
	struct config *c = loaded(text, &e);
	config_dump(c, &d);
	sb_add(&d, "", 0);
	if (strstr(d.buf, want) == NULL)
		fail_msg("want \"%s\" in:\n%s", want, d.buf);
	config_free(c);
	sb_free(&e);
	sb_free(&d);
}

/* `iocsync config` prints every key, non-default values included, and what
 * it prints loads back to the same configuration. */
static void
test_dump_roundtrip(void **state)
{
	(void)state;
	static const char text[] =
		"[mde]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
		"client_id = 11111111-1111-1111-1111-111111111111\n"
		"certificate = /etc/iocsync/cert.pem\ncertificate_alg = rs256\ncloud = custom\n"
		"application = feeds-sync\napi_url = https://api.example.org\nlogin_url = https://login.example.org\n"
		"allow_http = yes\n"
		"token_version = 1\nresource = https://res.example.org\nca_file = /etc/ca.pem\n"
		"proxy = http://proxy.example.org:3128\ntimeout = 90s\ndeadline = 2h\nrate_limit_percent = 50\n"
		"list_page = 500\n"
		"[sync]\nstate = /tmp/s.db\nreserve = 1000\ncap = 12000\ngrace = 3d\nrenew_before = 36h\n"
		"max_delete = 10%\ninterval = 90m\nlog_file = /var/log/iocsync.log\nlog_level = debug\n"
		"cidr = expand\ncidr_expand_max = 64\n"
		"[fetch]\nca_file = /etc/fca.pem\nproxy = http://p.example.org/\nuser_agent = ua/1\n"
		"connect_timeout = 7s\ntimeout = 61s\nmax_bytes = 1000\nmax_redirects = 2\n"
		"[allowlist]\nfile = a.txt, b.txt\n"
		"[alert]\nwebhook_file = /etc/iocsync/hook\nformat = teams\nfeed_stale_after = 6h\nstale_after = 3d\n"
		"timeout = 20s\n"
		"[feed \"x\"]\nurl = https://intel.example.org/x.csv\nformat = csv\ntype = ip, url\naction = warn\n"
		"severity = low\nexpire_after = 2d\ndevice_groups = A, B c\ngenerate_alert = yes\n"
		"title = T {value}\ndescription = D {feed}\nrecommended_actions = call us\n"
		"educate_url = https://edu.example.org/\npriority = -5\ncsv_delimiter = tab\ncsv_columns = ip,url\n"
		"csv_header = no\nmisp_to_ids = ignore\ntimeout = 33s\nmax_bytes = 4096\nmax_shrink = 90%\n"
		"enabled = no\n";
	struct strbuf e = {0}, d1 = {0}, d2 = {0};
	struct config *c = loaded(text, &e);
	config_dump(c, &d1);
	sb_add(&d1, "", 0);
	/* every key given above is printed with its value */
	for (const char *l = text; *l;) {
		const char *nl = strchr(l, '\n');
		char line[200];
		snprintf(line, sizeof(line), "%.*s", (int)(nl - l), l);
		l = nl + 1;
		if (line[0] == '[' || strncmp(line, "file = ", 7) == 0 || strncmp(line, "type = ", 7) == 0 ||
		    strncmp(line, "action = ", 9) == 0 || strncmp(line, "severity = ", 11) == 0)
			continue; /* printed in MDE's spelling, checked below */
		if (strstr(d1.buf, line) == NULL)
			fail_msg("\"%s\" missing from the dump:\n%s", line, d1.buf);
	}
	assert_non_null(strstr(d1.buf, "type = IpAddress, Url\naction = Warn\nseverity = Low\n"));
	assert_non_null(strstr(d1.buf, "file = a.txt\nfile = b.txt\n"));
	struct config *c2 = load(d1.buf, &e);
	if (c2 == NULL)
		fail_msg("the dump does not load back:\n%s\n%s", e.buf, d1.buf);
	config_dump(c2, &d2);
	sb_add(&d2, "", 0);
	assert_string_equal(d1.buf, d2.buf);
	config_free(c);
	config_free(c2);
	/* the defaults load back too */
	c = config_defaults();
	d1.len = 0;
	config_dump(c, &d1);
	sb_add(&d1, "", 0);
	config_free(c);
	c = loaded(d1.buf, &e);
	config_free(c);
	/* the other secret sources and the region print too */
	expect_dumped("[mde]\nclient_secret_env = SECRET_VAR\nregion = eu\n", "client_secret_env = SECRET_VAR\n");
	expect_dumped("[mde]\nclient_secret_env = SECRET_VAR\nregion = eu\n", "region = eu\n");
	expect_dumped("[mde]\nclient_secret_credential = mde-secret\n", "client_secret_credential = mde-secret\n");
	expect_error("[mde]\nclient_secret_env = A\ncertificate = /c\n", "t.conf: [mde]: client_secret_file");
	/* a federated token is a credential source of its own */
	expect_error("[mde]\nclient_secret_file = /s\nfederated_token_file = /t\n",
		     "federated_token_file and credential exclude");
	expect_error("[mde]\ncredential = managed-identity\nfederated_token_file = /t\n", "exclude each other");
	expect_error("[mde]\nimds_url = http://127.0.0.1:40342/x\n", "imds_url and imds_key_dir need credential");
	expect_dumped("[mde]\nfederated_token_file = /var/run/secrets/azure/tokens/azure-identity-token\n",
		      "federated_token_file = /var/run/secrets/azure/tokens/azure-identity-token\n");
	/* a webhook URL may hold a token: printed as set, never echoed in an error */
	expect_dumped("[alert]\nwebhook = https://hooks.example.org/T0K3N\n",
		      "# webhook = (set, not shown: it may hold a token; keep it in webhook_file)\n");
	expect_error("[alert]\nwebhook = http://hooks.example.org/T0K3N\n", "t.conf:2: webhook: not an https:// URL");
	expect_error("[alert]\nwebhook = https://u:p@hooks.example.org/T0K3N\n", "the value is not shown");
	expect_error("[alert]\nwebhook = https://h.example.org/\nwebhook_file = /f\n",
		     "[alert]: webhook and webhook_file exclude each other");
	expect_error("[alert]\nformat = email\n", "t.conf:2: format: \"email\" is not generic, teams or slack");
	expect_error("[alert]\nstale_after = 10s\n", "t.conf:2: stale_after");
	/* ";" starts a comment after "= " and a space is trimmed: both go
	 * by name, and print that way so the dump loads back */
	expect_dumped("[feed \"s\"]\nurl = https://x.example.org/\ncsv_delimiter = semicolon\n",
		      "csv_delimiter = semicolon\n");
	expect_dumped("[feed \"s\"]\nurl = https://x.example.org/\ncsv_delimiter = space\n", "csv_delimiter = space\n");
	expect_dumped("[feed \"s\"]\nurl = https://x.example.org/\ncsv_delimiter = pipe\n", "csv_delimiter = |\n");
	expect_error("[feed \"s\"]\nurl = https://x.example.org/\ncsv_delimiter = ;\n", "write semicolon");
	sb_free(&e);
	sb_free(&d1);
	sb_free(&d2);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {cmocka_unit_test(test_good), cmocka_unit_test(test_errors),
					   cmocka_unit_test(test_dump_roundtrip), cmocka_unit_test(test_feed_limit)};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
