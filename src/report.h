/*
 * What the state store knows, as one JSON document (status --json) and
 * as one self-contained HTML page (report --html): inline CSS and SVG,
 * no script, no external resource.
 */
#ifndef IOCSYNC_REPORT_H
#define IOCSYNC_REPORT_H

#include <jansson.h>

#include "config.h"
#include "store.h"

/* o[k] += 1 (from nothing: 1), for counting into JSON objects. */
void report_json_bump(json_t *o, const char *k);

/* The document: indicators (total, by type, action and feed, expiring,
 * held), feeds (health and the report of their last reading), the last
 * nruns runs (newest first, each with its summary). NULL when the store
 * cannot be read. */
json_t *report_status_doc(const struct config *c, struct store *st, int nruns, long long now);

/* The HTML page of doc. Free it. */
char *report_html(const struct config *c, const json_t *doc, long long now);

#endif
