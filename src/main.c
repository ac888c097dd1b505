/* iocsync: keep Microsoft Defender for Endpoint's custom indicators in
 * sync with threat-intel feeds. main only dispatches. */
#include <curl/curl.h>
#include <stdio.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "log.h"

static const struct verb {
	const char *name;
	int (*run)(struct app *, int, char **);
	const char *summary;
} verbs[] = {
	{"check", cmd_check, "parse feed files offline: what would be sent, what is rejected and why"},
	{"feeds", cmd_feeds, "fetch every configured feed and report on each"},
	{"plan", cmd_plan, "show what sync would change in MDE, and why"},
	{"sync", cmd_sync, "make MDE's indicators equal to the feeds"},
	{"status", cmd_status, "what the state knows: owned indicators, feeds' health, last runs"},
	{"list", cmd_list, "list the indicators MDE holds (iocsync's own, or --all)"},
	{"purge", cmd_purge, "delete every indicator iocsync owns in MDE"},
	{"export", cmd_export, "write the desired set as the MDE portal's import CSV"},
	{"report", cmd_report, "write the state as one HTML page (report --html FILE)"},
	{"daemon", cmd_daemon, "sync now, then every interval, until stopped (for systemd)"},
	{"why", cmd_why, "why a value is, or is not, blocked: feeds, policy, MDE, history"},
	{"doctor", cmd_doctor, "can the deployment block? roles, groups, network protection, what to do"},
	{"probe", cmd_probe, "does TCP, does UDP reach HOST PORT? (the field test; --listen for the far end)"},
	{"firewall", cmd_firewall, "firewall push: the blocked IPs as Intune firewall rules, through Microsoft Graph"},
	{"alert", cmd_alert, "post one alert to [alert]'s webhook (OnFailure= of the units, or --test)"},
	{"config", cmd_config, "validate the configuration and print it with its defaults"},
};

static void
usage(FILE *fp)
{
	fprintf(fp,
		"usage: iocsync [-c FILE] [-v | -q] VERB [ARGS...]\n"
		"       iocsync --version | --help\n\n"
		"Verbs (iocsync VERB --help for each):\n");
	for (size_t i = 0; i < NELEM(verbs); i++)
		fprintf(fp, "  %-8s %s\n", verbs[i].name, verbs[i].summary);
	fprintf(fp,
		"\nOptions:\n"
		"  -c FILE   configuration file (default %s)\n"
		"  -t NAME   the [tenant \"NAME\"] to act on (plan, sync and daemon take all)\n"
		"  -v        more messages on standard error (twice: debug)\n"
		"  -q        errors only; check and feeds print summaries only\n"
		"\nSee iocsync(1) and iocsync.conf(5).\n",
		CONFIG_DEFAULT_PATH);
}

/* Before anything holds a secret: no core dump (a core once held the
 * client secret) and no ptrace by other processes of the same user; no
 * TLS session keys written where SSLKEYLOGFILE says. setrlimit goes
 * through prlimit64, which the units allow (@resources is refused). */
static void
harden_process(void)
{
	struct rlimit none = {0, 0};
	(void)prctl(PR_SET_DUMPABLE, 0, 0, 0, 0);
	(void)setrlimit(RLIMIT_CORE, &none);
	unsetenv("SSLKEYLOGFILE");
}

int
main(int argc, char **argv)
{
	struct app a = {0};
	int i, verbose = 0;

	harden_process();

	for (i = 1; i < argc && argv[i][0] == '-'; i++) {
		const char *o = argv[i];
		if (strcmp(o, "--version") == 0) {
			printf("iocsync %s\n", IOCSYNC_VERSION);
			return EXIT_OK;
		} else if (strcmp(o, "--help") == 0 || strcmp(o, "-h") == 0) {
			usage(stdout);
			return EXIT_OK;
		} else if (strcmp(o, "-c") == 0 && i + 1 < argc) {
			a.config_path = argv[++i];
		} else if (strncmp(o, "-c", 2) == 0 && o[2]) {
			a.config_path = o + 2;
		} else if (strcmp(o, "-t") == 0 && i + 1 < argc) {
			a.tenant = argv[++i];
		} else if (strcmp(o, "-v") == 0) {
			verbose++;
		} else if (strcmp(o, "-vv") == 0) {
			verbose += 2;
		} else if (strcmp(o, "-q") == 0) {
			a.quiet = true;
		} else {
			fprintf(stderr, "iocsync: unknown option %s\n", o);
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	log_detect_journal();
	/* Before any thread: libcurl's global state is not thread-safe. */
	curl_global_init(CURL_GLOBAL_DEFAULT);
	if (a.quiet)
		log_set_level(LOG_ERROR);
	else if (verbose)
		log_set_level(verbose > 1 ? LOG_DEBUG : LOG_INFO);
	a.verbose = verbose > 0;
	if (i >= argc) {
		usage(stderr);
		return EXIT_USAGE;
	}
	for (size_t v = 0; v < NELEM(verbs); v++)
		if (strcmp(argv[i], verbs[v].name) == 0)
			return verbs[v].run(&a, argc - i, argv + i);
	if (strcmp(argv[i], "help") == 0) {
		usage(stdout);
		return EXIT_OK;
	}
	fprintf(stderr, "iocsync: unknown verb \"%s\"\n", argv[i]);
	usage(stderr);
	return EXIT_USAGE;
}
