/*
 * One progress line for long runs, on standard error when it is a
 * terminal and nothing else: batches done of total, and a countdown
 * while a rate limit holds the run. Redrawn in place with a carriage
 * return (no escape sequence, so NO_COLOR and dumb terminals are fine)
 * and wiped before any other line is written.
 */
#ifndef IOCSYNC_PROGRESS_H
#define IOCSYNC_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>

/* Turns the line on when on and standard error is a terminal. */
void progress_start(bool on);
/* "import 3/30 batches" */
void progress_step(const char *what, size_t done, size_t total);
/* A wait of secs begins, for what (an endpoint's limit, a retry). */
void progress_wait(const char *what, double secs);
/* Redraws the countdown; called about once a second while waiting. */
void progress_tick(void);
/* Wipes the line (before other output, and at the end). */
void progress_clear(void);

#endif
