/* Sending a line to systemd's journal, apart from log.c: <syslog.h>,
 * which sd-journal.h brings in, names its levels as log.h does. */
#include <systemd/sd-journal.h>

void log_journal_send(int prio, const char *msg);

void
log_journal_send(int prio, const char *msg)
{
	sd_journal_send("MESSAGE=%s", msg, "PRIORITY=%d", prio, "SYSLOG_IDENTIFIER=iocsync", NULL);
}
