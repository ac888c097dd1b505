/* The MDE portal's indicator CSV (spec 6): files of at most 500 rows
 * (the portal's import limit), the header the portal's template has. */
#include "export_csv.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "desired.h"
#include "iocsync_limits.h"
#include "util.h"

static void
csv_field(FILE *fp, const char *s)
{
	csv_cell(fp, s, true);
}

enum err
export_mde_csv(const struct want *w, size_t nw, long long now, const char *prefix, struct export_csv_result *r)
{
	enum err e = ERR_OK;
	*r = (struct export_csv_result){0};
	FILE *fp = NULL;
	char path[4096];
	for (size_t i = 0; i < nw; i++) {
		const struct want *x = &w[i];
		if (x->type == IOC_MD5 || x->type == IOC_CERT) {
			r->skipped++;
			continue;
		}
		if (r->rows % LIMIT_PORTAL_CSV_ROWS == 0) {
			if (fp && fclose(fp) != 0) {
				fprintf(stderr, "iocsync export: %s: write failed\n", path);
				e = ERR_IO;
			}
			snprintf(path, sizeof(path), "%s-%03zu.csv", prefix, ++r->files);
			/* never through a symlink someone planted at the name */
			int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0644);
			fp = fd >= 0 ? fdopen(fd, "w") : NULL;
			if (fp == NULL && fd >= 0)
				close(fd);
			if (fp == NULL) {
				fprintf(stderr, "iocsync export: %s: cannot create\n", path);
				e = ERR_IO;
				break;
			}
			fputs("IndicatorType,IndicatorValue,ExpirationTime,Action,Severity,Title,Description,"
			      "RecommendedActions,RbacGroups,Category,MitreTechniques,GenerateAlert\n",
			      fp);
		}
		char exp[32];
		format_time(want_expiry(x, now), exp, sizeof(exp));
		exp[19] = '\0'; /* the portal's form: YYYY-MM-DDTHH:MM:SS.0Z */
		fprintf(fp, "%s,", ioc_type_name(x->type));
		csv_field(fp, x->value);
		fprintf(fp, ",%s.0Z,%s,%s,", exp, ioc_action_name(x->action), config_severity_name(x->severity));
		struct rendered text;
		desired_render(x, &text);
		csv_field(fp, text.title);
		fputc(',', fp);
		csv_field(fp, text.description);
		fputc(',', fp);
		desired_rendered_free(&text);
		csv_field(fp, x->feed->recommended_actions);
		fputc(',', fp);
		struct strbuf g = {0};
		for (size_t k = 0; k < x->feed->ndevice_groups; k++)
			sb_addf(&g, "%s%s", k ? "," : "", x->feed->device_groups[k]);
		csv_field(fp, g.buf);
		sb_free(&g);
		fprintf(fp, ",,,%s\n", x->feed->generate_alert ? "True" : "False");
		r->rows++;
	}
	if (fp && fclose(fp) != 0) {
		fprintf(stderr, "iocsync export: %s: write failed\n", path);
		e = ERR_IO;
	}
	return e;
}
