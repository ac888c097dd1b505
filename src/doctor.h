/*
 * doctor's checks: is the deployment able to block anything? Each check
 * is OK, WARN or FAIL with what to do; what no API shows is listed as a
 * manual check with its portal path, and the facts that bite are said.
 * cmd_doctor.c prints them.
 */
#ifndef IOCSYNC_DOCTOR_H
#define IOCSYNC_DOCTOR_H

#include <jansson.h>

#include "config.h"
#include "ratelimit.h"

enum doctor_verdict {
	DOCTOR_OK,
	DOCTOR_WARN,
	DOCTOR_FAIL,
	DOCTOR_MANUAL,
	DOCTOR_NOTE
};

struct doctor_result {
	json_t *checks; /* [{"check", "verdict", "detail", "advice"?}] */
	int n[5];       /* checks by verdict */
};

/* Every check of c (NULL: the configuration at path did not load) into
 * *d (json_decref d->checks); the exit status: 0 all OK, 1 a FAIL, 2
 * WARN only. The clock is MDE's (NULL: the real one). */
int doctor_checks(const struct config *c, const char *path, const struct clock *clk, struct doctor_result *d);

/* The same, the checks alone (a fuzzer's way in). */
int doctor_run(const struct config *c, const struct clock *clk, json_t **checks);

#endif
