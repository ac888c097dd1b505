/*
 * doctor --api-probe: a harmless live probe that tells which reading of
 * spec section 9 a tenant's MDE follows where Microsoft's documents are
 * silent, so that the spec's uncertain rows can be settled by anyone with
 * a tenant. One probe indicator (a FileSha256 of random bytes, action
 * Allowed, expiring in an hour, titled for what it is), at most 12 API
 * calls, and everything it created deleted at the end.
 */
#ifndef IOCSYNC_APIPROBE_H
#define IOCSYNC_APIPROBE_H

#include <jansson.h>

#include "config.h"
#include "err.h"

/* Runs the probe against c's tenant. On ERR_OK *found is an object with
 * the keys upsert_key, empty_list, created_by, normalizes, omitted_fields
 * and import_errors (the reading names and choices of spec section 9),
 * "evidence" (one line per key), "calls" and "deleted"; "left" lists ids
 * that could not be deleted (then the result is ERR_HTTP, with why). On
 * another error *found may still hold what was learned before it, and
 * why says what failed. json_decref *found. */
enum err apiprobe_run(const struct config *c, json_t **found, char *why, size_t whysz);

#endif
