#include "progress.h"

#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static struct {
	bool on;
	int shown; /* width of what is on the line now */
	char step[96];
	char wait_for[48];
	double wait_until; /* CLOCK_MONOTONIC seconds; 0 = not waiting */
} pg;

static double
mono(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void
draw(void)
{
	if (!pg.on)
		return;
	char line[200];
	int n;
	double left = pg.wait_until - mono();
	if (pg.wait_until > 0 && left > 0.5)
		n = snprintf(line, sizeof(line), "%s%swaiting %.0f s for %s", pg.step, pg.step[0] ? " · " : "", left,
			     pg.wait_for);
	else
		n = snprintf(line, sizeof(line), "%s", pg.step);
	if (n < 0)
		return;
	if (n > (int)sizeof(line) - 1)
		n = (int)sizeof(line) - 1;
	fprintf(stderr, "\r%s%*s", line, pg.shown > n ? pg.shown - n : 0, "");
	if (pg.shown > n)
		fprintf(stderr, "\r%s", line);
	fflush(stderr);
	pg.shown = n;
}

void
progress_start(bool on)
{
	memset(&pg, 0, sizeof(pg));
	pg.on = on && isatty(STDERR_FILENO);
}

void
progress_step(const char *what, size_t done, size_t total)
{
	if (!pg.on)
		return;
	snprintf(pg.step, sizeof(pg.step), "%s %zu/%zu", what, done, total);
	pg.wait_until = 0;
	draw();
}

void
progress_wait(const char *what, double secs)
{
	if (!pg.on || secs < 0.5)
		return;
	snprintf(pg.wait_for, sizeof(pg.wait_for), "%s", what);
	pg.wait_until = mono() + secs;
	draw();
}

void
progress_tick(void)
{
	if (pg.on && pg.wait_until > 0)
		draw();
}

void
progress_clear(void)
{
	if (!pg.on || pg.shown == 0)
		return;
	fprintf(stderr, "\r%*s\r", pg.shown, "");
	fflush(stderr);
	pg.shown = 0;
}
