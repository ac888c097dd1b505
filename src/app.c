/* What every verb shares: the configuration as the command line names
 * it (one tenant's, for a verb about one), and the allowlists. In the
 * core library, so sync_run and the tests link without main. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cmd.h"
#include "desired.h"
#include "output.h"
#include "sync.h"
#include "iocsync_limits.h"
#include "log.h"
#include "policy.h"
#include "util.h"

struct config *
app_config(const struct app *a, bool required)
{
	const char *path = a->config_path ? a->config_path : CONFIG_DEFAULT_PATH;
	struct strbuf errs = {0};
	enum err rc;

	if (a->config_path == NULL && access(path, F_OK) != 0) {
		if (required) {
			fprintf(stderr, "iocsync: %s: no configuration (give one with -c FILE)\n", path);
			return NULL;
		}
		return config_defaults();
	}
	struct config *c = config_load(path, &errs, &rc);
	if (c == NULL) {
		fputs(errs.buf ? errs.buf : "iocsync: cannot load the configuration\n", stderr);
		fprintf(stderr, "iocsync: %s: configuration not loaded\n", path);
	}
	sb_free(&errs);
	if (c && (a->tenant || (c->ntenants && a->one_tenant))) {
		/* A verb about one tenant: its configuration alone. */
		size_t i = 0;
		while (i < c->ntenants && (a->tenant == NULL || strcmp(c->tenants[i].name, a->tenant) != 0))
			i++;
		if (i == c->ntenants || (a->tenant == NULL && c->ntenants > 1)) {
			struct strbuf names = {0};
			for (size_t k = 0; k < c->ntenants; k++)
				sb_addf(&names, "%s%s", k ? ", " : "", c->tenants[k].name);
			fprintf(stderr, "iocsync: %s (tenants: %s)\n",
				a->tenant ? "-t: no such tenant" : "name the tenant with -t NAME",
				names.buf ? names.buf : "none");
			sb_free(&names);
			config_free(c);
			return NULL;
		}
		struct config *t = config_tenant(c, i, false);
		config_free(c);
		c = t;
	}
	if (c)
		log_set_json(c->log_json);
	if (c && c->log_file && log_open_file(c->log_file, c->log_level) != ERR_OK)
		log_warn("%s: cannot open the log file: %s", c->log_file, strerror(errno));
	return c;
}

int
app_write_out(const char *verb, const char *out, char *text, unsigned mode)
{
	size_t len = strlen(text);
	int rc = EXIT_OK;
	if (strcmp(out, "-") == 0 ? fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0
				  : file_write_atomic(out, text, len, mode) != ERR_OK) {
		fprintf(stderr, "iocsync %s: %s: %s\n", verb, out, strerror(errno));
		rc = EXIT_FAIL;
	}
	free(text);
	return rc;
}

int
app_one_flag(int argc, char **argv, const char *usage, const char *name, char short_opt, bool *flag)
{
	const struct option longopts[] = {
		{name, no_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	char shorts[4] = "h";
	if (short_opt)
		shorts[1] = short_opt;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, shorts, longopts, NULL)) != -1) {
		if (ch == 'f' || (short_opt && ch == short_opt)) {
			*flag = true;
		} else if (ch == 'h') {
			fputs(usage, stdout);
			return EXIT_OK;
		} else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	return -1;
}

int
app_desired(struct app *a, const char *verb, bool build, struct app_desired *d)
{
	*d = (struct app_desired){0};
	a->one_tenant = true;
	if ((d->c = app_config(a, true)) == NULL)
		return EXIT_USAGE;
	if ((d->st = sync_open_store(d->c, verb, true)) == NULL)
		return EXIT_FAIL;
	if (!build)
		return EXIT_OK;
	d->devnull = fopen("/dev/null", "w");
	struct output out = {.fp = a->quiet || !d->devnull ? d->devnull : stderr, .quiet = true};
	size_t failed = 0;
	d->w = desired_build(d->c, d->st, &out, &d->nw, &failed);
	return d->w == NULL ? EXIT_USAGE : failed ? EXIT_FAIL : EXIT_OK;
}

void
app_desired_done(struct app_desired *d)
{
	desired_free(d->w, d->nw);
	if (d->devnull)
		fclose(d->devnull);
	store_close(d->st);
	config_free(d->c);
	*d = (struct app_desired){0};
}
