#ifndef IOCSYNC_TEST_HELPERS_H
#define IOCSYNC_TEST_HELPERS_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "feed.h"
#include "pipeline.h"
#include "util.h"

/* What one run of the pipeline produced, as text lines
 * "Type value" for accepted and "reason input" for rejected. */
struct result {
	struct feed_stats st;
	struct strbuf accepted; /* "Type value\n" lines */
	struct strbuf rejected; /* "code line\n" lines */
	enum err rc;
	char why[512];
};

/* Runs buf through the pipeline with the given format and declared types,
 * the default policy, cidr = skip. Free with result_free. */
void run_buf(struct result *r, enum feed_format f, unsigned types, const char *buf, size_t len);
void run_str(struct result *r, enum feed_format f, unsigned types, const char *s);
void result_free(struct result *r);

/* Is "Type value" among the accepted lines? */
int accepted_has(const struct result *r, const char *type, const char *value);

/* Reads ../shared/feeds/REL; fails the test when it cannot. */
char *shared_feed(const char *rel, size_t *len);
/* Is ../shared/feeds there and readable? */
int shared_available(void);
/* Must it be? Under CI (CI=true) a missing folder is a failure, not a
 * skip: the tests over real feeds must not vanish from CI unseen. */
int shared_required(void);

#endif
