/* iocsync config: validate the configuration and print it, defaults
 * filled in. Secrets are never in it (only the paths to them). */
#include <stdio.h>
#include <string.h>

#include "cmd.h"

static const char usage[] =
	"usage: iocsync [-c FILE] config [--check]\n"
	"\n"
	"Loads and validates the configuration; prints every error as FILE:LINE: what.\n"
	"Without --check, prints the effective configuration with its defaults.\n"
	"Exit status: 0 valid, 2 invalid or missing.\n";

int
cmd_config(struct app *a, int argc, char **argv)
{
	bool check = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--check") == 0) {
			check = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return EXIT_OK;
		} else {
			fputs(usage, stderr);
			return EXIT_USAGE;
		}
	}
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	if (!check) {
		struct strbuf sb = {0};
		config_dump(c, &sb);
		fputs(sb.buf, stdout);
		sb_free(&sb);
	} else if (!a->quiet) {
		printf("%s: valid (%zu feed%s)\n", c->path, c->nfeeds, c->nfeeds == 1 ? "" : "s");
	}
	config_free(c);
	return EXIT_OK;
}
