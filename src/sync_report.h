/*
 * What a plan or sync run tells: the plan on the terminal, overrides
 * and held deletions in the log, the run's summary (the store's runs
 * table, the log, metrics) and its JSON document.
 */
#ifndef IOCSYNC_SYNC_REPORT_H
#define IOCSYNC_SYNC_REPORT_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "apply.h"
#include "mde.h"

/* One change of the plan as JSON (a new reference). */
json_t *sync_report_op_json(const struct run *r, const struct op *o);
/* {op name: count} (a new reference). */
json_t *sync_report_counts_json(const size_t *count);
/* {"calls", "retries", "status", "waited_s"} of m (a new reference). */
json_t *sync_report_calls_json(const struct mde *m);
/* "calls: ..." */
void sync_report_print_calls(FILE *fp, const struct mde *m);
/* The plan for people: counts, then each change (SHOW_PER_KIND of a
 * kind, all with verbose). */
void sync_report_print_plan(FILE *fp, const struct run *r, bool verbose);
/* Each value another owner's Allow or Audit overrides: a warning. */
void sync_report_overrides(const struct run *r);
/* The deletions a guard held, by why: logged once a run, named in msg,
 * and as {"held": N, "held_by": {why: n}} (a new reference). */
json_t *sync_report_held(const struct plan *p, const struct config *c, char *msg, size_t msgsz);
/* How a run ended, for its summary. */
struct sync_report_end {
	const char *verb;
	const char *outcome; /* "ok", "held", "partial", "planned", "stopped", "aborted", "failed" */
	size_t feeds_failed;
	double secs;
	const char *write_error; /* the store or the log could not be written, or NULL */
	json_t *held;            /* report_held's, or NULL */
	json_t *device_groups;   /* model_verify_groups's info, or NULL */
	const char *message;     /* the run's message, or "" */
};

/* The run's summary, as the runs table, the log and the metrics keep
 * it: outcome, counts, conflicts, over budget by feed, refused, calls
 * (a new reference). */
json_t *sync_report_summary(const struct run *r, const struct sync_report_end *e);

/* The run's result for people (a line, and the calls) or programs (the
 * summary with every change, the failures and the feeds' summaries). */
void sync_report_print_result(FILE *fp, const struct run *r, const struct sync_report_end *e, const json_t *sum,
			      json_t *feeds, bool json, bool quiet, bool dry_run);

#endif
