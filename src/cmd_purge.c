/* iocsync purge: deletes every indicator iocsync owns in MDE (and
 * nothing else), after asking. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "mde.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] purge [--yes]\n"
	"\n"
	"Deletes every indicator iocsync owns in MDE (created by its app with its\n"
	"application name) with BatchDelete, and forgets them in the state.\n"
	"Indicators of anyone else are never touched. Asks first on a terminal;\n"
	"elsewhere --yes is required.\n"
	"Exit status: 0 all deleted, 1 some could not be, 2 usage or not confirmed.\n";

static bool
confirm(size_t n, const char *tenant)
{
	FILE *tty = fopen("/dev/tty", "r+");
	if (tty == NULL)
		return false;
	fprintf(tty, "Delete the %zu indicators iocsync owns in tenant %s? Type \"yes\": ", n, tenant);
	fflush(tty);
	char line[16] = "";
	bool ok = fgets(line, sizeof(line), tty) && strcmp(line, "yes\n") == 0;
	fclose(tty);
	return ok;
}

int
cmd_purge(struct app *a, int argc, char **argv)
{
	bool yes = false;
	int orc = app_one_flag(argc, argv, usage, "yes", 'y', &yes);
	if (orc >= 0)
		return orc;
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	char why[512] = "";
	int rc = EXIT_OK;
	json_t *list = NULL;
	const char **ids = NULL;
	bool *gone = NULL;
	struct store *st = NULL;
	struct mde *m = mde_new(c, NULL, why, sizeof(why));
	if (m == NULL) {
		fprintf(stderr, "iocsync purge: %s\n", why);
		config_free(c);
		return EXIT_USAGE;
	}
	if ((st = sync_open_store(c, "purge", true)) == NULL) {
		rc = EXIT_FAIL;
		goto done;
	}
	if (mde_list_all(m, &list, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "iocsync purge: %s\n", why);
		rc = EXIT_FAIL;
		goto done;
	}
	size_t n = 0, i;
	json_t *x;
	ids = xcalloc(json_array_size(list) + 1, sizeof(*ids));
	json_array_foreach(list, i, x) {
		const char *id = json_string_value(json_object_get(x, "id")); /* text: mde_list_all */
		if (id && mde_owned(m, x))
			ids[n++] = id;
	}
	if (n == 0) {
		printf("purge: iocsync owns no indicator in MDE; nothing to do\n");
		store_ind_replace(st, NULL, 0);
		goto done;
	}
	if (!yes && !(isatty(STDIN_FILENO) && confirm(n, c->tenant_id))) {
		fprintf(stderr, "iocsync purge: not confirmed (%zu indicators would be deleted; --yes to skip the "
				"question)\n", n);
		rc = EXIT_USAGE;
		goto done;
	}
	long long run = store_run_begin(st, "purge", (long long)time(NULL));
	int seq = 0;
	gone = xcalloc(n, sizeof(*gone));
	size_t left = delete_ids(m, st, run, &seq, ids, n, gone, why, sizeof(why));
	char sum[128];
	snprintf(sum, sizeof(sum), "{\"done\":{\"delete\":%zu},\"failed\":%zu}", n - left, left);
	store_run_end(st, run, (long long)time(NULL), left ? "partial" : "ok", sum, left ? why : NULL);
	if (left == 0)
		store_ind_replace(st, NULL, 0);
	printf("purge: deleted %zu of the %zu indicators iocsync owned%s%s\n", n - left, n, left ? "; " : "",
	       left ? why : "");
	rc = left ? EXIT_FAIL : EXIT_OK;
done:
	free(gone);
	free(ids);
	json_decref(list);
	store_close(st);
	mde_free(m);
	config_free(c);
	return rc;
}
