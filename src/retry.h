/*
 * The retry policy: whether a failed call is tried again is decided
 * apart from how long to wait before it. Pure functions, unit-tested.
 */
#ifndef IOCSYNC_RETRY_H
#define IOCSYNC_RETRY_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "http.h"

enum retry_verdict {
	RETRY_DONE = 0, /* success or a final answer: hand it back */
	RETRY_AGAIN,    /* transient: wait, then send again */
	RETRY_REFRESH,  /* 401: get a new token, then send again (once) */
	RETRY_FAIL,     /* will not pass by trying again */
};

/* Decides on an answer (status > 0) or a transport failure. Every MDE
 * write iocsync sends is idempotent (upserts, deletes by id), so a
 * timeout or a reset after sending is retried too. */
enum retry_verdict retry_decide(long status, enum http_fail fail);

/* Parses a Retry-After value, in seconds or as an HTTP-date (RFC 9110
 * 10.2.3), into seconds from now (the wall clock time is `now`).
 * Returns -1 when absent or unreadable; never more than max_s. */
double retry_after_parse(const char *v, time_t now, double max_s);

/* Exponential back-off with full jitter for attempt n (1, 2, ...):
 * base * 2^(n-1), capped at cap_s, times a random factor in [0.5, 1]
 * drawn from *rng (xorshift state, never 0). */
double retry_backoff(unsigned attempt, double base_s, double cap_s, uint64_t *rng);

#endif
