/* iocsync doctor: is the deployment able to block anything? Each check
 * answers OK, WARN or FAIL with what to do; what no API shows is listed
 * as a manual check with its portal path, and the facts that bite are
 * said. See iocsync(1), DOCTOR. */
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "apiprobe.h"
#include "cmd.h"
#include "doctor.h"
#include "mde.h"
#include "report.h"
#include "sync.h"
#include "util.h"

static const char usage[] =
	"usage: iocsync [-c FILE] doctor [--json] [--api-probe]\n"
	"\n"
	"Checks, each OK, WARN or FAIL with what to do: the configuration; the\n"
	"secret's permissions; that a token can be had and the roles in it\n"
	"(Ti.ReadWrite.All; Machine.Read.All to check device groups;\n"
	"AdvancedQuery.Read.All to check network protection); that the API\n"
	"answers; the cap's use (all, iocsync's, others'); that every device group\n"
	"the configuration names exists; how many devices of each group run\n"
	"network protection in block mode, and which do not. Then the settings no\n"
	"API shows (MANUAL, with their portal path) and the facts that bite (NOTE).\n"
	"Exit status: 0 all OK, 1 a FAIL, 2 WARN only (MANUAL and NOTE do not count).\n"
	"\n"
	"--api-probe instead learns which reading of the API this tenant follows where\n"
	"Microsoft's documents are silent (upsert key, empty list, createdBy, value\n"
	"normalisation, omitted fields, import errors), with one harmless probe\n"
	"indicator (an Allowed FileSha256 of random bytes, expiring in an hour) that\n"
	"it deletes; at most 12 API calls. --json: one object, keyed as in\n"
	"iocsync(1). Exit status: 0 learned and cleaned up, 1 otherwise.\n";

/* The readings a probe learns, in the order it prints them. */
static const char *const probe_keys[][2] = {
	{"upsert_key", "upsert-key"}, {"empty_list", "empty-list"}, {"import_errors", "import-errors"},
	{"created_by", "created-by"}, {"normalizes", "normalize"},  {"omitted_fields", "omitted-fields"},
};

static int
api_probe(struct app *a, bool json)
{
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	char why[1200] = "";
	json_t *found = NULL;
	enum err e = apiprobe_run(c, &found, why, sizeof(why));
	if (json) {
		json_t *doc = json_deep_copy(found);
		json_object_set_new(doc, "exit", json_integer(e == ERR_OK ? EXIT_OK : EXIT_FAIL));
		if (e != ERR_OK)
			json_object_set_new(doc, "error", json_string(why));
		json_dumpf(doc, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(doc);
	} else {
		printf("api-probe: what this tenant's MDE does where the documents are silent (spec section 9)\n");
		printf("%-16s %-18s %s\n", "READING", "FOUND", "EVIDENCE");
		const json_t *ev = json_object_get(found, "evidence");
		for (size_t i = 0; i < NELEM(probe_keys); i++) {
			const char *v = json_string_value(json_object_get(found, probe_keys[i][0]));
			printf("%-16s %-18s %s\n", probe_keys[i][1], v ? v : "(not learned)",
			       v ? json_string_value(json_object_get(ev, probe_keys[i][0])) : "");
		}
		printf("api-probe: %lld API calls; probe indicators deleted: %zu, left: %zu\n",
		       (long long)json_integer_value(json_object_get(found, "calls")),
		       json_array_size(json_object_get(found, "deleted")),
		       json_array_size(json_object_get(found, "left")));
	}
	if (e != ERR_OK)
		fprintf(stderr, "iocsync: doctor --api-probe: %s\n", why);
	json_decref(found);
	config_free(c);
	return e == ERR_OK ? EXIT_OK : e == ERR_CONFIG ? EXIT_USAGE : EXIT_FAIL;
}

/* The reading goes into the state, for the report's enforcement section;
 * a state held by a running sync is left as it is (said on stderr). */
static void
keep_reading(const struct config *c, json_t *checks)
{
	/* never the one to create a state (a hand run as root would own it) */
	if (c == NULL || access(c->state, F_OK) != 0)
		return;
	struct store *st = sync_open_store(c, "doctor", true);
	if (st == NULL) {
		fprintf(stderr,
			"doctor: this reading is not kept for iocsync report (the state is busy or cannot be "
			"opened)\n");
		return;
	}
	char ts[32];
	format_time((long long)time(NULL), ts, sizeof(ts));
	json_t *keep = json_pack("{s:s, s:O}", "at", ts, "checks", checks);
	char *text = json_dumps(keep, JSON_COMPACT);
	store_meta_set(st, REPORT_DOCTOR_KEY, text);
	free(text);
	json_decref(keep);
	store_close(st);
}

int
cmd_doctor(struct app *a, int argc, char **argv)
{
	bool json = false, probe = false;
	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--json") == 0) {
			json = true;
		} else if (strcmp(argv[i], "--api-probe") == 0) {
			probe = true;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			fputs(usage, stdout);
			return EXIT_OK;
		} else {
			fprintf(stderr, "iocsync: doctor: unknown argument %s\n%s", argv[i], usage);
			return EXIT_USAGE;
		}
	}
	if (probe)
		return api_probe(a, json);
	a->one_tenant = true;
	struct config *c = app_config(a, true);
	struct doctor_result d;
	int rc = doctor_checks(c, a->config_path ? a->config_path : CONFIG_DEFAULT_PATH, NULL, &d);
	if (json) {
		json_t *doc = json_pack("{s:O, s:i, s:i, s:i, s:i}", "checks", d.checks, "ok", d.n[DOCTOR_OK], "warn",
					d.n[DOCTOR_WARN], "fail", d.n[DOCTOR_FAIL], "exit", rc);
		json_dumpf(doc, stdout, JSON_INDENT(1));
		putchar('\n');
		json_decref(doc);
	} else {
		size_t i;
		json_t *x;
		json_array_foreach(d.checks, i, x) {
			printf("%-6s %-30s %s\n", json_string_value(json_object_get(x, "verdict")),
			       json_string_value(json_object_get(x, "check")),
			       json_string_value(json_object_get(x, "detail")));
			if (json_object_get(x, "advice"))
				printf("       %-30s -> %s\n", "", json_string_value(json_object_get(x, "advice")));
		}
		printf("\ndoctor: %d OK, %d WARN, %d FAIL (%d manual checks, %d notes)\n", d.n[DOCTOR_OK],
		       d.n[DOCTOR_WARN], d.n[DOCTOR_FAIL], d.n[DOCTOR_MANUAL], d.n[DOCTOR_NOTE]);
	}
	keep_reading(c, d.checks);
	json_decref(d.checks);
	config_free(c);
	return rc;
}
