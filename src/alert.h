/*
 * Alerts to a webhook ([alert] webhook or webhook_file; format generic,
 * teams or slack). After each sync the conditions that hold (a failed run,
 * held deletions, a feed down longer than feed_stale_after, no converged
 * run for stale_after, another owner's Allow overriding a feed's Block)
 * are compared with those already told, kept in the state's meta table:
 * a new condition is posted once, a cleared one once more as resolved,
 * and nothing while it merely holds. One post a run carries them all.
 *
 * A post is retried a bounded number of times, never redirected, and
 * says nothing secret: no credential, token or webhook URL is ever in a
 * payload or a log line (the log names the webhook's origin only).
 */
#ifndef IOCSYNC_ALERT_H
#define IOCSYNC_ALERT_H

#include <jansson.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "store.h"

/* After a sync of c: sum is its summary (sync_report_summary), feeds its
 * feed reports, message its one-line reason or "". Does nothing without
 * a webhook. A post that fails is logged and tried again next run. */
void alert_after_run(const struct config *c, struct store *st, const json_t *sum, const json_t *feeds,
		     const char *message, long long now);

/* Posts one alert now (iocsync alert): key names the condition
 * ("unit-failed:iocsync.service", "test"); st, when not NULL, records it
 * so that it is told once until a converged run clears it. ERR_OK when
 * the webhook took it; why says what failed otherwise. */
enum err alert_post_one(const struct config *c, struct store *st, const char *key, const char *severity,
			const char *summary, long long now, char *why, size_t whysz);

/* The payload for alerts (an array of {key, state, severity, summary,
 * since}) in c's format; for tests. Free it. */
char *alert_payload(const struct config *c, const json_t *alerts, const char *host);

#endif
