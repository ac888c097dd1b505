/* iocsync purge: deletes every indicator iocsync owns in MDE, or one
 * feed's (and nothing else), after asking. */
#include <getopt.h>
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
#include "apply.h"
#include "desired.h"
#include "model.h"

static const char usage[] =
	"usage: iocsync [-c FILE] purge [--feed NAME] [--yes]\n"
	"\n"
	"Deletes every indicator iocsync owns in MDE (those whose id it recorded,\n"
	"or created by its app with its application name) with BatchDelete, and\n"
	"forgets them in the state. With --feed, only those that came from feed\n"
	"NAME alone (a value another feed lists too stays). Indicators of anyone\n"
	"else are never touched. Asks first on a terminal; elsewhere --yes is\n"
	"required.\n"
	"Exit status: 0 all deleted, 1 some could not be, 2 usage or not confirmed.\n";

/* What the state says iocsync created: id -> the feeds it came from. */
static void
state_id(void *ctx, const struct store_ind *r)
{
	if (r->mde_id && r->value)
		json_object_set_new(ctx, r->mde_id, json_string(r->feeds ? r->feeds : ""));
}

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

/* The ids of what iocsync owns in MDE's list (recorded when made, or
 * owned by what MDE says), those of feed only when it is named; *shared
 * counts the feed's that another feed lists too. *ids: free it. */
static size_t
purge_ids(const struct mde *m, const json_t *list, const json_t *made, const char *feed, const char ***ids,
	  size_t *shared)
{
	size_t n = 0, i;
	json_t *x;
	*ids = xcalloc(json_array_size(list) + 1, sizeof(**ids));
	json_array_foreach(list, i, x) {
		const char *id = json_string_value(json_object_get(x, "id")); /* text: mde_list_all */
		const char *fs = id ? json_string_value(json_object_get(made, id)) : NULL;
		if (id == NULL || !(fs || mde_owned(m, x)))
			continue;
		if (feed && (fs == NULL || strcmp(fs, feed) != 0)) {
			/* another feed lists it too (or it is not known to be this feed's) */
			*shared += fs && strstr(fs, feed) != NULL;
			continue;
		}
		(*ids)[n++] = id;
	}
	return n;
}

/* Deletes ids[0..n) as a run of its own, journaled, and forgets them
 * (all of iocsync's: only without --feed; with it, the next sync
 * records what is left). Returns how many could not be deleted. */
static size_t
purge_delete(struct mde *m, struct store *st, const char **ids, size_t n, const char *feed, char *why, size_t whysz)
{
	long long run = store_run_begin(st, "purge", (long long)time(NULL));
	int seq = 0;
	bool *gone = xcalloc(n, sizeof(*gone));
	size_t left = apply_delete_ids(m, st, run, &seq, ids, n, gone, why, whysz);
	free(gone);
	json_t *sum = json_pack("{s:{s:I}, s:I}", "done", "delete", (json_int_t)(n - left), "failed", (json_int_t)left);
	char *text = json_dumps(sum, JSON_COMPACT);
	store_run_end(st, run, (long long)time(NULL), left ? "partial" : "ok", text, left ? why : NULL);
	free(text);
	json_decref(sum);
	if (left == 0 && !feed)
		store_ind_replace(st, NULL, 0, 0);
	printf("purge: deleted %zu of the %zu indicators iocsync owned%s%s\n", n - left, n, left ? "; " : "",
	       left ? why : "");
	return left;
}

int
cmd_purge(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"yes", no_argument, NULL, 'y'},
		{"feed", required_argument, NULL, 'f'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool yes = false;
	const char *feed = NULL;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "yh", longopts, NULL)) != -1) {
		if (ch == 'y') {
			yes = true;
		} else if (ch == 'f') {
			feed = optarg;
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
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	char why[512] = "";
	int rc = EXIT_OK;
	json_t *list = NULL, *made = NULL;
	const char **ids = NULL;
	struct store *st = NULL;
	struct mde *m = mde_new(c, NULL, why, sizeof(why));
	if (m == NULL) {
		fprintf(stderr, "iocsync purge: %s\n", why);
		config_free(c);
		return EXIT_USAGE;
	}
	if (feed && config_feed(c, feed) == NULL) {
		fprintf(stderr, "iocsync purge: --feed %s: no such feed in %s\n", feed, c->path);
		rc = EXIT_USAGE;
		goto done;
	}
	if ((st = sync_open_store(c, "purge", true)) == NULL) {
		rc = EXIT_FAIL;
		goto done;
	}
	model_load_owner(m, st);
	made = json_object();
	store_ind_each(st, state_id, made);
	if (mde_list_all(m, &list, why, sizeof(why)) != ERR_OK) {
		fprintf(stderr, "iocsync purge: %s\n", why);
		rc = EXIT_FAIL;
		goto done;
	}
	size_t shared = 0, n = purge_ids(m, list, made, feed, &ids, &shared);
	if (shared)
		printf("purge: %zu indicators of feed %s stay: another feed lists them too\n", shared, feed);
	if (feed && config_feed(c, feed)->enabled)
		fprintf(stderr,
			"iocsync purge: feed %s is enabled: the next sync sends its indicators again "
			"(pause it with enabled = no, or remove it)\n",
			feed);
	if (n == 0) {
		printf("purge: iocsync owns no indicator%s%s in MDE; nothing to do\n", feed ? " of feed " : "",
		       feed ? feed : "");
		if (!feed)
			store_ind_replace(st, NULL, 0, 0);
		goto done;
	}
	if (!yes && !(isatty(STDIN_FILENO) && confirm(n, c->tenant_id))) {
		fprintf(stderr,
			"iocsync purge: not confirmed (%zu indicators would be deleted; --yes to skip the "
			"question)\n",
			n);
		rc = EXIT_USAGE;
		goto done;
	}
	size_t left = purge_delete(m, st, ids, n, feed, why, sizeof(why));
	rc = left ? EXIT_FAIL : EXIT_OK;
done:
	free(ids);
	json_decref(list);
	json_decref(made);
	store_close(st);
	mde_free(m);
	config_free(c);
	return rc;
}
