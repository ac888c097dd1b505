/*
 * Signals for long runs. SIGTERM and SIGINT ask the run to stop once the
 * batch in flight is done (a second one ends the process at once);
 * SIGHUP asks the daemon to reload. The handlers only set flags: the
 * loops between batches and every wait look at them.
 */
#ifndef IOCSYNC_SIGNALS_H
#define IOCSYNC_SIGNALS_H

#include <stdbool.h>

/* Installs the handlers (without SA_RESTART, so a wait wakes up). */
void signals_install(bool hup);

/* Has a stop been asked for? Its signal's name in *name when so. */
bool signals_stop_requested(void);
const char *signals_stop_name(void);

/* Has a reload been asked for since the last call? Clears the flag. */
bool signals_reload_requested(void);

#endif
