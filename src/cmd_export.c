/* iocsync export: the desired set as the portal's indicator import CSV
 * (spec section 6), 500 rows a file; or the IP indicators as Windows
 * Firewall rules (firewall.h). */
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <jansson.h>
#include <time.h>

#include "cmd.h"
#include "collect.h"
#include "export_csv.h"
#include "firewall.h"
#include "mde.h"
#include "output.h"
#include "sync.h"
#include "apply.h"
#include "desired.h"
#include "model.h"

static const char usage[] =
	"usage: iocsync [-c FILE] export --format mde-csv [--out PREFIX]\n"
	"       iocsync [-c FILE] export --format firewall-ps1 [--from desired | mde] [--inbound]\n"
	"                                [--protocol udp | tcp | both] [--device-group NAME]\n"
	"                                [--group NAME] [--per-rule N] [--uninstall] [--out FILE]\n"
	"\n"
	"Writes the desired set (the feeds as sync would send them) as the CSV the\n"
	"MDE portal imports (Settings > Endpoints > Indicators > Import): PREFIX-001.csv,\n"
	"PREFIX-002.csv, ... with at most 500 rows each (default PREFIX: iocsync-indicators).\n"
	"The portal's import lists FileSha1, FileSha256, IpAddress, DomainName and Url:\n"
	"FileMd5 and CertificateThumbprint indicators are left out, and counted.\n"
	"\n"
	"firewall-ps1 writes a PowerShell script (to FILE, default standard output)\n"
	"that blocks the IP indicators with action Block for TCP and UDP in Windows\n"
	"Firewall: network protection blocks TCP only, so UDP and QUIC pass without\n"
	"it. From the desired set (default) or from what MDE holds (--from mde, every\n"
	"owner's). Outbound; --inbound adds inbound rules. One rule group (--group,\n"
	"default iocsync), replaced whole each time the script runs; at most N\n"
	"addresses a rule (--per-rule, default 1000, at most 10000). --uninstall\n"
	"writes the script that removes the group.\n"
	"--protocol udp writes UDP rules only: the gap network protection leaves when\n"
	"it runs in block mode (default both). --device-group NAME keeps the\n"
	"indicators scoped to that MDE device group or to all devices (a script for\n"
	"the devices of that group).\n"
	"Exit status: 0, 1 a feed failed, MDE could not be listed or a file cannot\n"
	"be written, 2 usage.\n";

/* Writes the script made for addrs to out ("-": standard output; a
 * file is replaced whole or not at all). */
static int
write_script(struct fw_opts *fo, const char *source, const char *const *addrs, size_t n, const char *out)
{
	char ts[32];
	format_time((long long)time(NULL), ts, sizeof(ts));
	fo->source = source;
	fo->generated = ts;
	return app_write_out("export", out, firewall_ps1(fo, addrs, n), 0640);
}

/* Whether an indicator scoped to groups (none: all devices) reaches
 * the devices of group (NULL: every indicator does). */
static bool
scoped_to(const char *group, char *const *groups, size_t n)
{
	if (group == NULL || n == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (strcmp(groups[i], group) == 0)
			return true;
	return false;
}

/* The same for an indicator of MDE's (its rbacGroupNames). */
static bool
mde_scoped_to(const char *group, json_t *x)
{
	json_t *g = json_object_get(x, "rbacGroupNames"), *e;
	size_t i;
	if (group == NULL || json_array_size(g) == 0)
		return true;
	json_array_foreach(g, i, e) {
		if (json_is_string(e) && strcmp(json_string_value(e), group) == 0)
			return true;
	}
	return false;
}

/* The firewall script, from the desired set w or from MDE's list. */
static int
export_firewall(const struct config *c, const struct want *w, size_t nw, bool from_mde, struct fw_opts *fo,
		const char *out)
{
	const char **ips = NULL;
	size_t n = 0;
	json_t *list = NULL, *canon = NULL;
	char why[512], src[600];
	struct mde *m = NULL;
	if (from_mde) {
		if ((m = mde_new(c, NULL, why, sizeof(why))) == NULL ||
		    mde_list_all(m, &list, why, sizeof(why)) != ERR_OK) {
			fprintf(stderr, "iocsync export: cannot list MDE's indicators: %s\n", why);
			mde_free(m);
			return EXIT_FAIL;
		}
		/* What MDE holds is not trusted more than a feed: each value is
		 * parsed and checked by policy as a feed's would be (an "Any",
		 * a resolver, a private range never reach a firewall rule). */
		struct policy *pol = policy_new();
		if (!collect_allowlists(c, pol)) {
			policy_free(pol);
			json_decref(list);
			mde_free(m);
			return EXIT_FAIL;
		}
		ips = xcalloc(json_array_size(list) + 1, sizeof(*ips));
		canon = json_array();
		size_t i, refused = 0;
		json_t *x;
		struct ioc *io = xmalloc(sizeof(*io));
		struct ioc_opts oo = {.types = IOC_BIT(IOC_IP)};
		json_array_foreach(list, i, x) {
			const char *t = json_string_value(json_object_get(x, "indicatorType"));
			const char *act = json_string_value(json_object_get(x, "action"));
			const char *v = json_string_value(json_object_get(x, "indicatorValue"));
			if (!(t && v && act && strcmp(t, "IpAddress") == 0 && strcmp(act, "Block") == 0) ||
			    !mde_scoped_to(fo->device_group, x))
				continue;
			char pw[300] = "";
			enum ioc_reason rr = ioc_parse(v, strlen(v), &oo, io, pw, sizeof(pw));
			if (rr == REJ_OK && io->prefix < 0)
				rr = policy_check(pol, io, pw, sizeof(pw));
			else if (rr == REJ_OK)
				rr = REJ_CIDR, snprintf(pw, sizeof(pw), "a CIDR block");
			if (rr != REJ_OK) {
				char vb[120];
				if (refused++ < 10)
					fprintf(stderr, "iocsync export: MDE's IpAddress %s left out: %s\n",
						echo_str(v, strlen(v), vb, sizeof(vb)), pw);
				continue;
			}
			json_array_append_new(canon, json_string(io->value));
			ips[n++] = json_string_value(json_array_get(canon, json_array_size(canon) - 1));
		}
		free(io);
		policy_free(pol);
		if (refused > 10)
			fprintf(stderr, "iocsync export: ... and %zu more of MDE's values left out\n", refused - 10);
		snprintf(src, sizeof(src), "what MDE holds (IpAddress, action Block, every owner) in tenant %s",
			 c->tenant_id ? c->tenant_id : "?");
	} else {
		ips = xcalloc(nw + 1, sizeof(*ips));
		for (size_t i = 0; i < nw; i++)
			if (w[i].type == IOC_IP && w[i].action == ACT_BLOCK &&
			    scoped_to(fo->device_group, w[i].feed->device_groups, w[i].feed->ndevice_groups))
				ips[n++] = w[i].value;
		snprintf(src, sizeof(src), "the desired set of %s (IpAddress, action Block)", c->path);
	}
	int rc = write_script(fo, src, ips, n, out);
	free(ips);
	json_decref(canon);
	json_decref(list);
	mde_free(m);
	return rc;
}

/* --protocol's word as FIREWALL_* bits; 0 (said) when it is none. */
static unsigned
protocols(const char *w)
{
	if (strcmp(w, "udp") == 0)
		return FIREWALL_UDP;
	if (strcmp(w, "tcp") == 0)
		return FIREWALL_TCP;
	if (strcmp(w, "both") == 0)
		return FIREWALL_TCP | FIREWALL_UDP;
	fprintf(stderr, "iocsync export: --protocol %s: udp, tcp or both\n", w);
	return 0;
}

int
cmd_export(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"out", required_argument, NULL, 'o'},
		{"from", required_argument, NULL, 'F'},
		{"inbound", no_argument, NULL, 'i'},
		{"group", required_argument, NULL, 'g'},
		{"per-rule", required_argument, NULL, 'p'},
		{"uninstall", no_argument, NULL, 'u'},
		{"protocol", required_argument, NULL, 'P'},
		{"device-group", required_argument, NULL, 'd'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *format = NULL, *prefix = NULL, *from = "desired", *why;
	struct fw_opts fo = {.group = "iocsync", .version = IOCSYNC_VERSION, .per_rule = FIREWALL_PER_RULE};
	long long per;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': format = optarg; break;
		case 'o': prefix = optarg; break;
		case 'F': from = optarg; break;
		case 'i': fo.inbound = true; break;
		case 'g': fo.group = optarg; break;
		case 'u': fo.uninstall = true; break;
		case 'd': fo.device_group = optarg; break;
		case 'P':
			if ((fo.protocols = protocols(optarg)) == 0)
				return EXIT_USAGE;
			break;
		case 'p':
			if (num_parse(optarg, 1, FIREWALL_PER_RULE_MAX, &per, &why) != ERR_OK) {
				fprintf(stderr, "iocsync export: --per-rule %s: %s (1 to %d)\n", optarg, why,
					FIREWALL_PER_RULE_MAX);
				return EXIT_USAGE;
			}
			fo.per_rule = (size_t)per;
			break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	bool csv = format && strcmp(format, "mde-csv") == 0, fw = format && strcmp(format, "firewall-ps1") == 0;
	if (optind < argc || (!csv && !fw) || (strcmp(from, "desired") != 0 && strcmp(from, "mde") != 0) ||
	    (csv && (fo.inbound || fo.uninstall || fo.protocols || fo.device_group || strcmp(from, "desired") != 0)) ||
	    fo.group[0] == '\0' || (fo.device_group && fo.device_group[0] == '\0')) {
		if (format && !csv && !fw)
			fprintf(stderr, "iocsync export: --format %s: known formats: mde-csv, firewall-ps1\n", format);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (prefix == NULL)
		prefix = csv ? "iocsync-indicators" : "-";
	if (fw && fo.uninstall) /* nothing to read: the script only removes the group */
		return write_script(&fo, "no indicator (--uninstall)", NULL, 0, prefix);
	bool from_mde = strcmp(from, "mde") == 0;
	struct app_desired d;
	int rc = app_desired(a, "export", !from_mde, &d);
	if (d.st == NULL || (d.w == NULL && !from_mde)) {
		app_desired_done(&d);
		return rc;
	}
	if (fw) {
		int r = export_firewall(d.c, d.w, d.nw, from_mde, &fo, prefix);
		app_desired_done(&d);
		return r != EXIT_OK ? r : rc;
	}
	struct export_csv_result res;
	rc = export_mde_csv(d.w, d.nw, (long long)time(NULL), prefix, &res) != ERR_OK ? EXIT_FAIL : rc;
	printf("export: %zu indicators in %zu file%s (%s-001.csv ...)", res.rows, res.files, res.files == 1 ? "" : "s",
	       prefix);
	if (res.skipped)
		printf("; %zu FileMd5 or CertificateThumbprint left out (the portal's import does not list them)",
		       res.skipped);
	printf("\n");
	app_desired_done(&d);
	return rc;
}
