/*
 * Client-side budgets: each MDE endpoint allows so many calls a minute
 * and an hour (spec section 3). A limiter holds the times of the calls
 * it let through and says how long the next one must wait so that no
 * sliding window of a minute or an hour holds more than its limit.
 * Time comes from an injected clock, so tests run in no time.
 */
#ifndef IOCSYNC_RATELIMIT_H
#define IOCSYNC_RATELIMIT_H

#include <stddef.h>

struct clock {
	double (*now)(void *ctx); /* seconds, monotonic */
	void (*sleep)(void *ctx, double s);
	void *ctx;
};

/* The real clock (CLOCK_MONOTONIC, nanosleep). */
extern const struct clock clock_real;

struct ratelimit {
	int per_min, per_hour; /* 0: no limit on that window */
	double *times;         /* calls of the last hour, oldest first */
	size_t n, cap;
};

void ratelimit_init(struct ratelimit *r, int per_min, int per_hour);
void ratelimit_free(struct ratelimit *r);
/* Seconds the next call must wait at time now (0: it may go now). */
double ratelimit_wait(struct ratelimit *r, double now);
/* Records a call made at now. */
void ratelimit_record(struct ratelimit *r, double now);
/* Pushes the windows back: the server said "wait until now + s" (a
 * 429's Retry-After). Later calls will not go before then. */
void ratelimit_block(struct ratelimit *r, double until);

#endif
