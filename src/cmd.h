/* The verbs. One cmd_<verb>.c each; main.c only dispatches. */
#ifndef IOCSYNC_CMD_H
#define IOCSYNC_CMD_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"

struct app {
	const char *config_path; /* -c, or NULL for the default */
	bool quiet, verbose;
	const char *tenant; /* -t NAME */
	bool one_tenant;    /* the verb acts on one tenant: -t is needed when there are several */
};

/*
 * Loads the configuration: -c FILE (must exist), or the default path
 * when it exists (required says whether a missing default is an error),
 * else the built-in defaults. Prints errors; returns NULL on failure.
 */
struct config *app_config(const struct app *a, bool required);

/* What export and firewall act on: one tenant's configuration, its state
 * taken for verb, and (build) the desired set as sync would build it, the
 * feeds' summaries on stderr unless -q. */
struct app_desired {
	struct config *c;
	struct store *st;
	struct want *w;
	size_t nw;
	FILE *devnull;
};
/* EXIT_OK; EXIT_FAIL when a feed failed (the set is built all the same)
 * or the state cannot be taken; EXIT_USAGE for the configuration or an
 * allowlist. Release with app_desired_done whatever it returns. */
int app_desired(struct app *a, const char *verb, bool build, struct app_desired *d);
void app_desired_done(struct app_desired *d);

/* Writes text (taken: freed) to out, "-" for standard output, else a
 * file replaced whole or not at all with mode; a failure is printed for
 * verb. The exit status. */
int app_write_out(const char *verb, const char *out, char *text, unsigned mode);

/* The command line of a verb that takes one flag (--name, and
 * -short_opt when not 0), --help and no argument: -1 to go on, else the
 * exit status (the help printed, or the usage on standard error). */
int app_one_flag(int argc, char **argv, const char *usage, const char *name, char short_opt, bool *flag);

/* For status and report: one tenant's configuration (in *c) and the
 * status document of its store, read without the lock (report.h). NULL
 * with the error printed and *rc set. */
json_t *cmd_status_load(struct app *a, const char *verb, long long nruns, struct config **c, long long *now, int *rc);
/* Parses the --runs N of status and report (1 to 1000); false, with the
 * error printed, when it is not. */
bool cmd_status_runs(const char *verb, const char *arg, long long *n);

int cmd_check(struct app *a, int argc, char **argv);
int cmd_feeds(struct app *a, int argc, char **argv);
int cmd_config(struct app *a, int argc, char **argv);
int cmd_plan(struct app *a, int argc, char **argv);
int cmd_sync(struct app *a, int argc, char **argv);
int cmd_status(struct app *a, int argc, char **argv);
int cmd_list(struct app *a, int argc, char **argv);
int cmd_purge(struct app *a, int argc, char **argv);
int cmd_export(struct app *a, int argc, char **argv);
int cmd_alert(struct app *a, int argc, char **argv);
int cmd_firewall(struct app *a, int argc, char **argv);
int cmd_daemon(struct app *a, int argc, char **argv);
int cmd_report(struct app *a, int argc, char **argv);
int cmd_probe(struct app *a, int argc, char **argv);
int cmd_doctor(struct app *a, int argc, char **argv);
int cmd_why(struct app *a, int argc, char **argv);
#endif
