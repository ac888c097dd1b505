/*
 * Prometheus text exposition of a tenant's state after a run, written
 * atomically (a temporary file renamed over the old one) for
 * node_exporter's textfile collector. Gauges only: each describes the
 * last run or the state it left.
 */
#ifndef IOCSYNC_METRICS_H
#define IOCSYNC_METRICS_H

#include <jansson.h>

#include "config.h"
#include "err.h"
#include "store.h"

/* run: the run's summary (sync.c: outcome, seconds, owned, others, room,
 * calls, status); feeds: the feeds' summaries of this run (may be NULL). */
enum err metrics_write(const struct config *c, struct store *st, const json_t *run, const json_t *feeds, char *why,
		       size_t whysz);

/* The exposition as text (for tests and metrics_write). Free it. */
char *metrics_text(const struct config *c, struct store *st, const json_t *run, const json_t *feeds, long long now);

#endif
