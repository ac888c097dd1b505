/*
 * What the state store knows, as one JSON document (status --json) and
 * as one self-contained HTML page (report --html): inline CSS and SVG,
 * no script, no external resource.
 */
#ifndef IOCSYNC_REPORT_H
#define IOCSYNC_REPORT_H

#include <jansson.h>
#include <stdio.h>

#include "config.h"
#include "store.h"

/* The state's meta key where doctor keeps its last reading (at, checks)
 * for the report's enforcement section. */
#define REPORT_DOCTOR_KEY "doctor_last"

/* o[k] += 1 (from nothing: 1), for counting into JSON objects. */
void report_json_bump(json_t *o, const char *k);

/* The document: indicators (total, by type, action and feed, expiring,
 * held), feeds (health and the report of their last reading), the last
 * nruns runs (newest first, each with its summary). NULL when the store
 * cannot be read. */
json_t *report_status_doc(const struct config *c, struct store *st, int nruns, long long now);

/* The HTML page of doc. Free it. */
char *report_html(const struct config *c, const json_t *doc, long long now);

/* One tenant's row for a lead, from its configuration t and its document
 * (NULL when its state cannot be read: the row says so): owned, pending
 * drift (what the last plan or sync left to do, held deletions
 * included), the last converged sync, conflicts, overrides, feeds down. */
json_t *report_tenant_row(const struct config *t, const json_t *doc);

/* Every tenant's row as one page (report --html of a configuration with
 * tenants), and as a table for a terminal (report --tenants). */
char *report_tenants_html(const json_t *rows, long long now);
void report_tenants_print(FILE *fp, const json_t *rows);

#endif
