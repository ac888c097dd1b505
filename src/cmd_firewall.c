/* iocsync firewall push: the blocked IPs as Intune firewall rules
 * policies through Microsoft Graph (fw_push.h). */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "desired.h"
#include "fw_push.h"
#include "output.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] firewall push [--dry-run]\n"
	"\n"
	"Makes iocsync's Intune firewall rules policies (Microsoft Defender Firewall\n"
	"Rules, through Microsoft Graph) equal to the blocked IPs of the desired\n"
	"set: UDP rules by default ([firewall] protocol = both adds TCP), adjacent\n"
	"addresses merged into ranges, at most rule_max_addresses a rule and 150\n"
	"rules a policy, assigned to [firewall] assign_groups. Only policies whose\n"
	"name starts with policy_prefix and whose description says 'managed by\n"
	"iocsync' are touched; a changed one is created anew and assigned before\n"
	"the old one is deleted. The app needs DeviceManagementConfiguration.ReadWrite.All.\n"
	"  --dry-run   say what would change, change nothing\n"
	"Exit status: 0, 1 a feed or Graph failed, 2 usage.\n";

int
cmd_firewall(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"dry-run", no_argument, NULL, 'n'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool dry = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'n': dry = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind + 1 != argc || strcmp(argv[optind], "push") != 0) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	struct app_desired d;
	int rc = app_desired(a, "firewall", true, &d);
	if (d.w) {
		size_t n;
		const char **ips = desired_blocked_ips(d.w, d.nw, &n);
		struct fw_push_result res;
		char why[512] = "";
		if (fw_push(d.c, ips, n, dry, stdout, &res, why, sizeof(why)) != ERR_OK) {
			fprintf(stderr, "iocsync firewall push: %s\n", why);
			rc = EXIT_FAIL;
		}
		printf("firewall: %zu addresses in %zu rules, %zu policies: %s %zu, kept %zu, %s %zu\n", res.addresses,
		       res.rules, res.policies, dry ? "would create" : "created", res.created, res.kept,
		       dry ? "would delete" : "deleted", res.deleted);
		free(ips);
	}
	app_desired_done(&d);
	return rc;
}
