#include "signals.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>

static volatile sig_atomic_t stop_sig, hup;

static void
on_stop(int sig)
{
	if (stop_sig) {
		/* A second one: the user means now. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	stop_sig = sig;
}

static void
on_hup(int sig)
{
	(void)sig;
	hup = 1;
}

void
signals_install(bool want_hup)
{
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sigemptyset(&sa.sa_mask);
	sa.sa_handler = on_stop;
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	if (want_hup) {
		sa.sa_handler = on_hup;
		sigaction(SIGHUP, &sa, NULL);
	}
}

bool
signals_stop_requested(void)
{
	return stop_sig != 0;
}

const char *
signals_stop_name(void)
{
	return stop_sig == SIGINT ? "SIGINT" : stop_sig == SIGTERM ? "SIGTERM" : "a signal";
}

bool
signals_reload_requested(void)
{
	if (!hup)
		return false;
	hup = 0;
	return true;
}
