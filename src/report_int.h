/* Shared by report.c (a tenant's page) and report_lead.c (what a lead
 * reads: enforcement, recent changes, every tenant at once). */
#ifndef IOCSYNC_REPORT_INT_H
#define IOCSYNC_REPORT_INT_H

#include <jansson.h>

#include "store.h"
#include "util.h"

/* s, escaped for HTML text and attributes. */
void report_esc(struct strbuf *o, const char *s);
/* The page's head, its style and <main><h1> with title (escaped), the
 * h1 left open for the caller to end. */
void report_page_open(struct strbuf *o, const char *title);
/* open, text escaped, close. */
void report_tag(struct strbuf *o, const char *open, const char *text, const char *close);
long long report_ival(const json_t *o, const char *k);
/* o[k] as a string, "" when absent. */
const char *report_sval(const json_t *o, const char *k);
/* The newest run of runs that is a sync with a summary, or NULL. */
const json_t *report_last_sync(const json_t *runs);

/* The lead's sections of a tenant's page: enforcement per device group
 * (doctor's last reading) and the changes of the last 7 and 30 days. */
void report_lead_sections(struct strbuf *o, const json_t *doc);

/* Into doc: "changes" (counts by op over 7 and 30 days, the newest
 * changes) and "doctor" (its last reading, when one was kept). */
void report_lead_doc(json_t *doc, struct store *st, long long now);

#endif
