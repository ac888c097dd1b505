/* iocsync daemon: sync at start, then every interval with jitter, until
 * SIGTERM or SIGINT. See iocsync(1), DAEMON. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <systemd/sd-daemon.h>
#include <time.h>
#include <unistd.h>

#include "cmd.h"
#include "log.h"
#include "ratelimit.h"
#include "signals.h"
#include "sync.h"

static const char usage[] =
	"usage: iocsync [-c FILE] daemon [--once]\n"
	"\n"
	"Syncs at start, then every [sync] interval (with up to 10% jitter), in\n"
	"the foreground: run it under systemd (Type=notify or simple) or another\n"
	"supervisor. A failed run is retried sooner (1, 2, 4 ... minutes, up to\n"
	"the interval); the daemon never dies of it.\n"
	"  --once   one sync, then exit with its status\n"
	"Signals: TERM or INT finish the batch in flight, save the state and exit\n"
	"0; HUP reloads the configuration (an invalid one is refused and the\n"
	"running one kept) and reopens the log file.\n"
	"Exit status: 0 stopped by a signal (or --once converged), 1 --once\n"
	"failed, 2 usage or configuration error at start.\n";

/* Sleeps until t (CLOCK_MONOTONIC seconds) or a signal: 1 stop, 2 reload. */
static int
sleep_until(double t)
{
	for (;;) {
		if (signals_stop_requested())
			return 1;
		if (signals_reload_requested())
			return 2;
		double left = t - clock_real.now(NULL);
		if (left <= 0)
			return 0;
		clock_real.sleep(NULL, left < 1 ? left : 1); /* a second at most: the flags are looked at again */
	}
}

/* A new configuration from the same file, or NULL (the errors logged). */
static struct config *
reload(const struct app *a)
{
	struct config *c = app_config(a, true);
	if (c == NULL) {
		if (log_reopen() != ERR_OK) /* logrotate's HUP must work even so */
			log_warn("SIGHUP: cannot reopen the log file");
		log_error("SIGHUP: the configuration is invalid (see above); keeping the running one");
	}
	return c;
}

int
cmd_daemon(struct app *a, int argc, char **argv)
{
	bool once = false;
	int orc = app_one_flag(argc, argv, usage, "once", 0, &once);
	if (orc >= 0)
		return orc;
	struct config *c = app_config(a, true);
	if (c == NULL)
		return EXIT_USAGE;
	if (c->nfeeds == 0) {
		fprintf(stderr, "iocsync daemon: %s defines no [feed \"name\"] section\n", c->path);
		config_free(c);
		return EXIT_USAGE;
	}
	if (!a->quiet && log_get_level() < LOG_INFO)
		log_set_level(LOG_INFO); /* a service's runs belong in its log */
	signals_install(true);
	unsigned rng = (unsigned)time(NULL) ^ (unsigned)getpid();
	sd_notify(0, "READY=1\nSTATUS=starting the first sync");
	log_info("daemon: started (interval %llds, state %s)", c->interval_s, c->state);

	int rc = EXIT_OK, failures = 0;
	for (;;) {
		unsigned flags = 0;
		struct sync_opts o = {.verb = "sync", .quiet = true, .flags = &flags};
		sd_notify(0, "STATUS=syncing");
		int r = sync_all(c, &o);
		if (once) {
			rc = r;
			break;
		}
		if (signals_stop_requested())
			break;
		/* Deletions held by a guard wait for a person: trying again in a
		 * minute would only hold them again. Creates went out. */
		bool failed = r != EXIT_OK && (flags & SYNC_FAILED || !(flags & SYNC_HELD));
		failures = failed ? failures + 1 : 0;
		double wait = (double)c->interval_s;
		if (failures) {
			/* 1, 2, 4 ... minutes, never past the interval. */
			double b = 60.0 * (double)(1LL << (failures > 10 ? 10 : failures - 1));
			wait = b < wait ? b : wait;
		}
		wait *= 0.9 + 0.1 * ((double)rand_r(&rng) / RAND_MAX); /* jitter: never all at once */
		time_t next = time(NULL) + (time_t)wait;
		char ts[32], st[160];
		format_time((long long)next, ts, sizeof(ts));
		snprintf(st, sizeof(st), "STATUS=%s; next run at %s",
			 r == EXIT_OK     ? "last run ok"
				 : failed ? "last run failed"
					  : "last run ok, deletions held",
			 ts);
		sd_notify(0, st);
		if (failures)
			log_warn("daemon: run failed (%d in a row); next try at %s", failures, ts);
		else
			log_info("daemon: next run at %s", ts);
		double until = clock_real.now(NULL) + wait;
		int why;
		while ((why = sleep_until(until)) == 2) {
			sd_notify(0, "RELOADING=1");
			struct config *n = reload(a);
			if (n) {
				config_free(c);
				c = n;
				log_info("daemon: configuration reloaded (%zu feeds); the log file reopened",
					 c->nfeeds);
			}
			sd_notify(0, "READY=1");
		}
		if (why == 1)
			break;
	}
	if (signals_stop_requested()) {
		sd_notify(0, "STOPPING=1");
		log_info("daemon: stopping on %s; the state is saved", signals_stop_name());
		rc = once && rc != EXIT_OK ? rc : EXIT_OK;
	}
	config_free(c);
	return rc;
}
