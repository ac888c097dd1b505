/* The Windows Firewall script: golden files (tests/data/firewall/), rules
 * split at the per-rule limit, IPv6, and quoting that holds against
 * hostile group names and sources. UPDATE_GOLDEN=1 rewrites the files
 * (then read the diff before committing it). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "firewall.h"
#include "util.h"

static void
golden(const char *name, const char *got)
{
	char path[1024];
	snprintf(path, sizeof(path), "%s/firewall/%s", TEST_DATA, name);
	if (getenv("UPDATE_GOLDEN")) {
		FILE *fp = fopen(path, "w");
		assert_non_null(fp);
		fputs(got, fp);
		fclose(fp);
		return;
	}
	char *want;
	size_t len;
	if (file_read(path, 1 << 24, &want, &len) != ERR_OK)
		fail_msg("%s: cannot read (UPDATE_GOLDEN=1 writes it)", path);
	if (strcmp(want, got) != 0) {
		fprintf(stderr, "--- %s differs; got:\n%s\n", path, got);
		fail();
	}
	free(want);
}

static struct fw_opts
opts(void)
{
	return (struct fw_opts){.group = "iocsync",
				.source = "the desired set of /etc/iocsync/iocsync.conf",
				.generated = "2026-11-23T12:00:00Z",
				.version = "0.1.0",
				.per_rule = FIREWALL_PER_RULE};
}

static size_t
count(const char *s, const char *needle)
{
	size_t n = 0;
	for (const char *p = s; (p = strstr(p, needle)) != NULL; p += strlen(needle))
		n++;
	return n;
}

static void
test_small_outbound(void **state)
{
	(void)state;
	const char *ips[] = {"198.51.100.7" /* kept as given: the policy ran before */, "45.9.148.3",
			     "2a01:4f8:c17:b8f:0:0:0:2", "45.9.148.3" /* twice */};
	struct fw_opts o = opts();
	char *s = firewall_ps1(&o, ips, 4);
	golden("small-outbound.ps1", s);
	assert_int_equal(count(s, "New-NetFirewallRule"), 2);
	assert_int_equal(count(s, "'45.9.148.3'"), 1);
	free(s);
}

static void
test_split_inbound(void **state)
{
	(void)state;
	/* 2,500 addresses, IPv4 and IPv6, 1,000 a rule: 3 parts x 2 protocols x 2 directions. */
	char **ips = xcalloc(2500, sizeof(char *));
	for (int i = 0; i < 2500; i++)
		ips[i] = i % 2 ? xasprintf("45.%d.%d.%d", i / 62500, i / 250 % 250, 1 + i % 250)
			       : xasprintf("2a0e:fd45:%x:0:0:0:0:%x", i / 4096, 1 + i % 4096);
	struct fw_opts o = opts();
	o.inbound = true;
	char *s = firewall_ps1(&o, (const char *const *)ips, 2500);
	golden("split-inbound.ps1", s);
	assert_int_equal(count(s, "New-NetFirewallRule"), 12);
	assert_int_equal(count(s, "$Addresses = @("), 3);
	assert_int_equal(count(s, "-Direction Inbound"), 6);
	assert_int_equal(count(s, "-Protocol UDP"), 6);
	assert_non_null(strstr(s, "'iocsync block 3/3 UDP Inbound'"));
	/* every address once, and no rule over the limit */
	for (int i = 0; i < 2500; i++) {
		char q[64];
		snprintf(q, sizeof(q), "'%s'", ips[i]);
		assert_int_equal(count(s, q), 1);
		free(ips[i]);
	}
	free(ips);
	free(s);
	/* The limit is a parameter: 7 a rule makes 3 rules of 7, 7 and 1. */
	const char *few[15];
	char buf[15][16];
	for (int i = 0; i < 15; i++) {
		snprintf(buf[i], sizeof(buf[i]), "45.0.0.%d", 10 + i);
		few[i] = buf[i];
	}
	o = opts();
	o.per_rule = 7;
	s = firewall_ps1(&o, few, 15);
	assert_int_equal(count(s, "$Addresses = @("), 3);
	assert_non_null(strstr(s, "'iocsync block 3/3 TCP Outbound'"));
	free(s);
}

static void
test_hostile_names_stay_quoted(void **state)
{
	(void)state;
	/* A group name with quotes, a $ and a backtick; a source with a line
	 * break that would end the comment. */
	const char *ips[] = {"45.9.148.3"};
	struct fw_opts o = opts();
	o.group = "it's $(Remove-Item C:\\ -Recurse) `n";
	o.source = "feeds.conf\nRemove-Item C:\\ -Recurse # x";
	char *s = firewall_ps1(&o, ips, 1);
	golden("hostile-names.ps1", s);
	assert_non_null(strstr(s, "$Group = 'it''s $(Remove-Item C:\\ -Recurse) `n'\n"));
	/* the line break became a space: no line starts with the injected command */
	assert_null(strstr(s, "\nRemove-Item"));
	/* the group name only ever appears in a single-quoted string or a comment */
	for (const char *p = s; (p = strstr(p, "Remove-Item")) != NULL; p++) {
		const char *bol = p;
		while (bol > s && bol[-1] != '\n')
			bol--;
		assert_true(bol[0] == '#' || strncmp(bol, "$Group = '", 10) == 0);
	}
	free(s);
	/* PowerShell ends a single-quoted string at a typographic quote too. */
	o = opts();
	o.group = "x\xe2\x80\x99; Remove-Item C:\\; \xe2\x80\x98";
	s = firewall_ps1(&o, ips, 1);
	assert_non_null(
		strstr(s, "$Group = 'x\xe2\x80\x99\xe2\x80\x99; Remove-Item C:\\; \xe2\x80\x98\xe2\x80\x98'\n"));
	free(s);
}

static void
test_uninstall_and_empty(void **state)
{
	(void)state;
	struct fw_opts o = opts();
	o.uninstall = true;
	char *s = firewall_ps1(&o, NULL, 0);
	golden("uninstall.ps1", s);
	assert_int_equal(count(s, "New-NetFirewallRule"), 0);
	assert_int_equal(count(s, "Remove-NetFirewallRule"), 1);
	free(s);
	/* No address: the group is still emptied, no rule is made. */
	o = opts();
	s = firewall_ps1(&o, NULL, 0);
	assert_int_equal(count(s, "New-NetFirewallRule"), 0);
	assert_int_equal(count(s, "Remove-NetFirewallRule"), 1);
	assert_non_null(strstr(s, "0 rules in group"));
	free(s);
}

static void
test_udp_only_for_one_device_group(void **state)
{
	(void)state;
	/* The gap network protection leaves is UDP: --protocol udp writes
	 * UDP rules only, one per direction and part; the header says which
	 * device group the script is for. */
	const char *ips[] = {"45.9.148.3", "2a01:4f8:c17:b8f:0:0:0:2", "91.92.240.1"};
	struct fw_opts o = opts();
	o.protocols = FIREWALL_UDP;
	o.inbound = true;
	o.device_group = "Finance\nWrite-Host pwned";
	char *s = firewall_ps1(&o, ips, 3);
	golden("udp-only-group.ps1", s);
	assert_int_equal(count(s, "New-NetFirewallRule"), 2);
	assert_int_equal(count(s, "-Protocol UDP"), 2);
	assert_int_equal(count(s, "-Protocol TCP"), 0);
	assert_non_null(strstr(s, "device group Finance Write-Host pwned or to all devices"));
	assert_null(strstr(s, "\nWrite-Host pwned"));
	free(s);
	/* tcp alone, and both spelled out equal the default */
	o = opts();
	o.protocols = FIREWALL_TCP;
	s = firewall_ps1(&o, ips, 3);
	assert_int_equal(count(s, "-Protocol TCP"), 1);
	assert_int_equal(count(s, "-Protocol UDP"), 0);
	free(s);
	o = opts();
	char *def = firewall_ps1(&o, ips, 3);
	o.protocols = FIREWALL_TCP | FIREWALL_UDP;
	s = firewall_ps1(&o, ips, 3);
	assert_string_equal(s, def);
	free(s);
	free(def);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_small_outbound),
		cmocka_unit_test(test_split_inbound),
		cmocka_unit_test(test_hostile_names_stay_quoted),
		cmocka_unit_test(test_uninstall_and_empty),
		cmocka_unit_test(test_udp_only_for_one_device_group),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
