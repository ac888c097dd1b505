/* iocsync check: parse files offline and show, line by line, what would
 * be sent and what was rejected and why. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "collect.h"
#include "iocsync_limits.h"
#include "merge.h"
#include "output.h"
#include "pipeline.h"
#include "policy.h"

static const char usage[] =
	"usage: iocsync check [--format F] [--type T] [--json] [--summary]\n"
	"                     [--allowlist FILE] [--cidr skip|expand] FILE...\n"
	"\n"
	"Parses feed files offline (\"-\" is standard input) and prints each\n"
	"accepted indicator in canonical form (TYPE<TAB>VALUE<TAB>FILE:LINE), each\n"
	"rejected line as FILE:LINE with its reason, and a summary per file.\n"
	"Nothing is sent anywhere. The configuration (-c, or the default file when it\n"
	"exists) supplies the allowlist and the CIDR rule.\n"
	"\n"
	"  -f, --format F      auto (default), text, hosts, netset, csv, stix, misp, report\n"
	"  -t, --type T        declared types: ip, domain, url, md5, sha1, sha256, hash,\n"
	"                      cert (comma-separated); default auto. \"url\" makes a\n"
	"                      scheme-less host/path an http:// URL; \"cert\" makes\n"
	"                      40 hex digits certificate thumbprints\n"
	"      --csv-columns C column names or numbers holding indicators\n"
	"      --json          JSON Lines: {\"type\",\"value\",\"source\"} per indicator,\n"
	"                      {\"rejected\",\"why\",\"input\",\"source\"} per rejection,\n"
	"                      and a last {\"summary\":{...}}\n"
	"  -s, --summary       print the summaries only\n"
	"      --allowlist F   an allowlist file, in addition to the configuration's\n"
	"      --cidr MODE     skip (default) or expand CIDR blocks\n"
	"\n"
	"Exit status: 0 when every file was read, 1 when one could not be, 2 on a\n"
	"usage or configuration error.\n";

/* The configuration's allowlists, and the one of --allowlist (may be
 * NULL), into pol; false with the error printed. */
static bool
check_policy(const struct config *cfg, const char *allow, struct policy *pol)
{
	if (!collect_allowlists(cfg, pol))
		return false;
	if (allow == NULL)
		return true;
	char *buf;
	size_t len;
	struct strbuf errs = {0};
	if (file_read(allow, LIMIT_ALLOWLIST_BYTES, &buf, &len) != ERR_OK) {
		fprintf(stderr, "iocsync check: %s: cannot read: %s\n", allow, strerror(errno));
		return false;
	}
	bool ok = policy_allowlist_add(pol, allow, buf, len, &errs) == ERR_OK;
	if (!ok)
		fputs(errs.buf, stderr);
	free(buf);
	sb_free(&errs);
	return ok;
}

/* One file (pc->name) through the pipeline into m, reported to out;
 * false when it could not be read or parsed (said). */
static bool
check_file(struct pipe_cfg *pc, const struct feed_opts *fo, struct merge *m, struct output *out)
{
	const char *path = pc->name;
	char why[512] = "";
	struct file_view fv;
	struct feed_stats st = {0};
	struct pipe_out po = output_pipe(out);
	enum err e = file_view_open(path, LIMIT_FEED_BYTES, &fv);
	if (e != ERR_OK) {
		snprintf(why, sizeof(why), "cannot read: %s",
			 e == ERR_LIMIT ? "larger than LIMIT_FEED_BYTES" : strerror(errno));
		fprintf(stderr, "iocsync check: %s: %s\n", path, why);
		st.format = fo->format;
		json_decref(output_feed_summary(out, path, &st, why, NULL));
		return false;
	}
	pc->drop_merged_input = fv.map != NULL;
	e = pipeline_run(pc, fo, fv.buf, fv.len, m, &po, &st, why, sizeof(why));
	file_view_close(&fv);
	if (e != ERR_OK)
		fprintf(stderr, "iocsync check: %s: %s\n", path, why);
	json_decref(output_feed_summary(out, path, &st, e != ERR_OK ? why : NULL, NULL));
	return e == ERR_OK;
}

int
cmd_check(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'},
		{"type", required_argument, NULL, 't'},
		{"json", no_argument, NULL, 'j'},
		{"summary", no_argument, NULL, 's'},
		{"allowlist", required_argument, NULL, 'a'},
		{"cidr", required_argument, NULL, 'C'},
		{"csv-columns", required_argument, NULL, 'k'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct feed_opts fo = {.format = FEED_AUTO, .csv_header = -1};
	struct output out = {.fp = stdout, .quiet = a->quiet};
	unsigned types = 0;
	const char *allow = NULL, *cidr = NULL, *bad;
	int ch, rc = EXIT_OK;

	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:t:sh", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f':
			if (feed_format_parse(optarg) < 0) {
				fprintf(stderr, "iocsync check: unknown format \"%s\"\n%s", optarg, usage);
				return EXIT_USAGE;
			}
			fo.format = (enum feed_format)feed_format_parse(optarg);
			break;
		case 't':
			types = ioc_types_parse(optarg, &bad);
			if (types == 0) {
				fprintf(stderr, "iocsync check: unknown type \"%s\"\n", bad);
				return EXIT_USAGE;
			}
			break;
		case 'j': out.json = true; break;
		case 's': out.quiet = true; break;
		case 'a': allow = optarg; break;
		case 'C': cidr = optarg; break;
		case 'k': fo.csv_columns = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind >= argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	if (cidr && strcmp(cidr, "skip") && strcmp(cidr, "expand")) {
		fprintf(stderr, "iocsync check: --cidr takes skip or expand\n");
		return EXIT_USAGE;
	}
	if (argc - optind > LIMIT_FEEDS) {
		fprintf(stderr, "iocsync check: %d files: at most %d in one run (LIMIT_FEEDS)\n", argc - optind,
			LIMIT_FEEDS);
		return EXIT_USAGE;
	}
	struct config *cfg = app_config(a, false);
	if (cfg == NULL)
		return EXIT_USAGE;
	struct policy *pol = policy_new();
	if (!check_policy(cfg, allow, pol)) {
		rc = EXIT_USAGE;
		goto done;
	}
	output_stdout(&out);
	struct merge *m = merge_new();
	merge_skip_sources(m); /* check prints first occurrences only */
	struct pipe_cfg pc = {.types = types,
			      .cidr = cidr ? (strcmp(cidr, "expand") == 0 ? CIDR_EXPAND : CIDR_SKIP) : cfg->cidr,
			      .cidr_max_addrs = cfg->cidr_expand_max,
			      .policy = pol};
	size_t failed = 0, nfiles = (size_t)(argc - optind);
	for (int i = optind; i < argc; i++) {
		pc.name = argv[i];
		pc.feed = (uint32_t)(i - optind);
		failed += !check_file(&pc, &fo, m, &out);
	}
	output_total(&out, merge_count(m), nfiles, failed);
	fflush(stdout);
	merge_free(m);
	rc = failed ? EXIT_FAIL : EXIT_OK;
done:
	policy_free(pol);
	config_free(cfg);
	return rc;
}
