/* How `check` and `feeds` show accepted and rejected entries and the
 * per-feed summary, for people (text) or programs (JSON Lines). */
#ifndef IOCSYNC_OUTPUT_H
#define IOCSYNC_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "pipeline.h"

struct output {
	FILE *fp;
	bool json;
	bool quiet; /* summaries only */
	bool color;
	void *summaries; /* JSON: the feeds' summaries, for output_total */
	bool collect;    /* keep the summaries (and reject examples) in any mode */
	void *examples;  /* JSON: the current feed's rejects, 3 a reason */
};

/* Points o at stdout, in color on a terminal (not for JSON, nor under
 * NO_COLOR), with a 1 MiB buffer elsewhere (a file or a pipe). Call it
 * before anything is printed to stdout. */
void output_stdout(struct output *o);

/* A pipe_out that prints to o (o must outlive the run). */
struct pipe_out output_pipe(struct output *o);

/* Prints the summary of one feed or file. extra_json (may be NULL) is
 * a JSON object whose members are added to the JSON summary (it is not
 * consumed). Returns that summary (a json_t, a new reference: the caller
 * json_decrefs it) when o keeps summaries (json or collect), else NULL. */
void *output_feed_summary(struct output *o, const char *name, const struct feed_stats *st, const char *error,
			  void *extra_json);

/* Drops the rejects kept as examples since the last summary (a body
 * that was refused, whose snapshot stands in). */
void output_forget_examples(struct output *o);

/* Prints the closing summary; for JSON, "files" holds each feed's
 * summary given to output_feed_summary. */
void output_total(struct output *o, size_t distinct, size_t nfeeds, size_t failed);

#endif
