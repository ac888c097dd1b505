/* iocsync alert: one alert to [alert]'s webhook, now. The units' OnFailure=
 * (iocsync-alert@.service) runs it when a run dies before it could say so
 * itself (a crash, a kill, a configuration that no longer loads); --test
 * checks the webhook by hand. */
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "cmd.h"
#include "iocsync_limits.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] alert --failed-unit UNIT | --test\n"
	"\n"
	"Posts one alert to the webhook of [alert] (webhook or webhook_file):\n"
	"  --failed-unit UNIT  the systemd unit UNIT failed (what OnFailure= runs);\n"
	"                      told once, until a run converges again\n"
	"  --test              a test alert, to check the webhook takes it\n"
	"Exit status: 0 posted (or told already), 1 not posted, 2 usage or no\n"
	"webhook configured.\n";

int
cmd_alert(struct app *a, int argc, char **argv)
{
	static const struct option longopts[] = {
		{"failed-unit", required_argument, NULL, 'u'},
		{"test", no_argument, NULL, 'T'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	const char *unit = NULL;
	bool test = false;
	int ch;
	optind = 1;
	while ((ch = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		switch (ch) {
		case 'u': unit = optarg; break;
		case 'T': test = true; break;
		case 'h': fputs(usage, stdout); return EXIT_OK;
		default: fputs(usage, stderr); return EXIT_USAGE;
		}
	}
	if (optind < argc || !!unit == test || (unit && (unit[0] == '\0' || strlen(unit) > 256))) {
		fputs(usage, stderr);
		return EXIT_USAGE;
	}
	/* One alert for the whole configuration: with tenants, no single
	 * state records it, so it is told each time the unit fails. */
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	if (c->alert_webhook == NULL && c->alert_webhook_file == NULL) {
		fprintf(stderr, "iocsync alert: no [alert] webhook or webhook_file in %s\n", c->path);
		config_free(c);
		return EXIT_USAGE;
	}
	struct store *st = unit && c->ntenants == 0 ? sync_open_store(c, "alert", true) : NULL;
	char key[LIMIT_ALERT_KEY], text[LIMIT_ALERT_TEXT], why[400] = "";
	if (unit) {
		snprintf(key, sizeof(key), "unit-failed:%s", unit);
		snprintf(text, sizeof(text),
			 "the systemd unit %s failed: journalctl -u %s says why; the last good state is kept", unit,
			 unit);
	} else {
		snprintf(key, sizeof(key), "test");
		snprintf(text, sizeof(text), "a test alert from iocsync alert --test: the webhook works");
	}
	enum err rc =
		alert_post_one(c, st, key, unit ? "critical" : "info", text, (long long)time(NULL), why, sizeof(why));
	store_close(st);
	config_free(c);
	if (rc == ERR_EMPTY) {
		printf("alert: %s\n", why);
		return EXIT_OK;
	}
	if (rc != ERR_OK) {
		fprintf(stderr, "iocsync alert: not posted: %s\n", why);
		return EXIT_FAIL;
	}
	printf("alert: posted (%s)\n", key);
	return EXIT_OK;
}
