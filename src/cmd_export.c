/* iocsync export --format mde-csv: the desired set as the portal's
 * indicator import CSV (spec section 6), 500 rows a file. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "output.h"
#include "sync.h"

#define ROWS_PER_FILE 500	/* the portal imports at most 500 rows a file */

static const char usage[] =
	"usage: iocsync [-c FILE] export --format mde-csv [--out PREFIX]\n"
	"\n"
	"Writes the desired set (the feeds as sync would send them) as the CSV the\n"
	"MDE portal imports (Settings > Endpoints > Indicators > Import): PREFIX-001.csv,\n"
	"PREFIX-002.csv, ... with at most 500 rows each (default PREFIX: iocsync-indicators).\n"
	"The portal's import lists FileSha1, FileSha256, IpAddress, DomainName and Url:\n"
	"FileMd5 and CertificateThumbprint indicators are left out, and counted.\n"
	"Exit status: 0, 1 a feed failed or a file cannot be written, 2 usage.\n";

static void
csv_field(FILE *fp, const char *s)
{
	fputc('"', fp);
	for (; s && *s; s++) {
		if (*s == '"')
			fputc('"', fp);
		fputc(*s, fp);
	}
	fputc('"', fp);
}

int
cmd_export(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"format", required_argument, NULL, 'f'}, {"out", required_argument, NULL, 'o'},
		{"help", no_argument, NULL, 'h'}, {NULL, 0, NULL, 0},
	};
	const char *format = NULL, *prefix = "iocsync-indicators";
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "f:o:h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'f': format = optarg; break;
		case 'o': prefix = optarg; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || format == NULL || strcmp(format, "mde-csv") != 0) {
		if (format && strcmp(format, "mde-csv") != 0)
			fprintf(stderr, "iocsync export: --format %s: known formats: mde-csv\n", format);
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	struct store *st = sync_open_store(c, "export", true);
	if (st == NULL) {
		config_free(c);
		return EXIT_FAIL;
	}
	FILE *devnull = fopen("/dev/null", "w");
	struct output out = {.fp = a->quiet || !devnull ? devnull : stderr, .quiet = true};
	size_t nw, failed;
	struct want *w = sync_desired(c, st, &out, &nw, &failed);
	int rc = failed ? EXIT_FAIL : EXIT_OK;
	if (w == NULL) {
		rc = EXIT_USAGE;
		goto done;
	}
	size_t rows = 0, files = 0, skipped = 0;
	FILE *fp = NULL;
	char path[4096];
	for (size_t i = 0; i < nw && rc != EXIT_USAGE; i++) {
		const struct want *x = &w[i];
		if (x->type == IOC_MD5 || x->type == IOC_CERT) {
			skipped++;
			continue;
		}
		if (rows % ROWS_PER_FILE == 0) {
			if (fp && fclose(fp) != 0) {
				fprintf(stderr, "iocsync export: %s: write failed\n", path);
				rc = EXIT_FAIL;
			}
			snprintf(path, sizeof(path), "%s-%03zu.csv", prefix, ++files);
			fp = fopen(path, "w");
			if (fp == NULL) {
				fprintf(stderr, "iocsync export: %s: cannot create\n", path);
				rc = EXIT_FAIL;
				break;
			}
			fputs("IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,"
			      "RecommendedActions,RbacGroups,Category,MitreTechniques,GenerateAlert\n", fp);
		}
		char exp[32];
		format_time(x->expire_at, exp, sizeof(exp));
		exp[19] = '\0'; /* the portal's form: YYYY-MM-DDTHH:MM:SS.0Z */
		fprintf(fp, "%s,", ioc_type_name(x->type));
		csv_field(fp, x->value);
		fprintf(fp, ",%s.0Z,%s,%s,", exp, ioc_action_name(x->action), severity_name(x->severity));
		csv_field(fp, x->title);
		fputc(',', fp);
		csv_field(fp, x->description);
		fputc(',', fp);
		csv_field(fp, x->feed->recommended_actions);
		fputc(',', fp);
		struct strbuf g = {0};
		for (size_t k = 0; k < x->feed->ndevice_groups; k++)
			sb_addf(&g, "%s%s", k ? "," : "", x->feed->device_groups[k]);
		csv_field(fp, g.buf);
		sb_free(&g);
		fprintf(fp, ",,,%s\n", x->feed->generate_alert ? "True" : "False");
		rows++;
	}
	if (fp && fclose(fp) != 0) {
		fprintf(stderr, "iocsync export: %s: write failed\n", path);
		rc = EXIT_FAIL;
	}
	printf("export: %zu indicators in %zu file%s (%s-001.csv ...)", rows, files, files == 1 ? "" : "s", prefix);
	if (skipped)
		printf("; %zu FileMd5 or CertificateThumbprint left out (the portal's import does not list them)",
		       skipped);
	printf("\n");
	wants_free(w, nw);
done:
	if (devnull)
		fclose(devnull);
	store_close(st);
	config_free(c);
	return rc;
}
