#include "ratelimit.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "progress.h"
#include "signals.h"
#include "util.h"

static double
real_now(void *ctx)
{
	(void)ctx;
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
real_sleep(void *ctx, double s)
{
	(void)ctx;
	if (s <= 0)
		return;
	/* A second at a time, for the progress countdown; a stop request
	 * cuts the wait short and the caller sees it. */
	while (s > 0 && !signals_stop_requested()) {
		double step = s < 1 ? s : 1;
		struct timespec ts = {.tv_sec = (time_t)step, .tv_nsec = (long)((step - (double)(time_t)step) * 1e9)};
		while (!signals_stop_requested() && nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		s -= step;
		progress_tick();
	}
}

const struct clock clock_real = {real_now, real_sleep, NULL};

void
ratelimit_init(struct ratelimit *r, int per_min, int per_hour)
{
	memset(r, 0, sizeof(*r));
	r->per_min = per_min;
	r->per_hour = per_hour;
}

void
ratelimit_free(struct ratelimit *r)
{
	free(r->times);
	memset(r, 0, sizeof(*r));
}

static void
expire(struct ratelimit *r, double now)
{
	size_t drop = 0;
	while (drop < r->n && r->times[drop] <= now - 3600.0)
		drop++;
	if (drop) {
		memmove(r->times, r->times + drop, (r->n - drop) * sizeof(*r->times));
		r->n -= drop;
	}
}

double
ratelimit_wait(struct ratelimit *r, double now)
{
	expire(r, now);
	double wait = 0;
	/* A blocked-until mark is a time in the future at the end. */
	if (r->n && r->times[r->n - 1] > now)
		wait = r->times[r->n - 1] - now;
	if (r->per_min > 0) {
		size_t in_min = 0;
		while (in_min < r->n && r->times[r->n - 1 - in_min] > now - 60.0)
			in_min++;
		if (in_min >= (size_t)r->per_min) {
			/* The call that must leave the window first. */
			double w = r->times[r->n - (size_t)r->per_min] + 60.0 - now;
			if (w > wait)
				wait = w;
		}
	}
	if (r->per_hour > 0 && r->n >= (size_t)r->per_hour) {
		double w = r->times[r->n - (size_t)r->per_hour] + 3600.0 - now;
		if (w > wait)
			wait = w;
	}
	return wait > 0 ? wait : 0;
}

void
ratelimit_record(struct ratelimit *r, double now)
{
	expire(r, now);
	xgrow((void **)&r->times, &r->cap, r->n + 1, sizeof(*r->times));
	/* Keep the times sorted even after a block mark. */
	size_t i = r->n;
	while (i > 0 && r->times[i - 1] > now) {
		r->times[i] = r->times[i - 1];
		i--;
	}
	r->times[i] = now;
	r->n++;
}

void
ratelimit_block(struct ratelimit *r, double until)
{
	/* Recorded as a call at `until`: nothing goes before it, and it
	 * counts in the windows the way the server counted the refused
	 * call. */
	ratelimit_record(r, until);
}
