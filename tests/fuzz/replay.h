/*
 * Replies for the fuzzers that drive a client end to end (MDE, TAXII):
 * the fuzz input is a list of HTTP replies, served in order to whatever
 * the code under test asks (see http_set_stub), on a clock that moves
 * only when the code sleeps, so retries and rate limits cost nothing.
 *
 * Input: records separated by the line "%%". A record that starts with a
 * digit has a head line: the status (0: the transfer failed), then
 * optional words ra=RETRY-AFTER, last=X-TAXII-DATE-ADDED-LAST,
 * fail=N (the http_fail of a status 0); the rest is the body. Any other
 * record is a 200 whose body is the whole record. When the records run
 * out, the connection is refused.
 *
 * What the client sends is checked as it goes: a JSON content type
 * with a body that is not JSON aborts (a bug of ours, not of the peer).
 */
#ifndef IOCSYNC_FUZZ_REPLAY_H
#define IOCSYNC_FUZZ_REPLAY_H

#include <stddef.h>
#include <stdint.h>

#include "http.h"
#include "ratelimit.h"

struct replay {
	const char *p, *end;   /* records not served yet */
	size_t served;         /* replies given, refusals included */
	const char *fixed_url; /* when set, this URL always gets fixed_body (200) */
	const char *fixed_body;
	double now; /* the clock, in seconds */
	struct clock clk;
};

void replay_init(struct replay *rp, const uint8_t *data, size_t size);
/* A fresh directory for a fuzzer's files, named after it: under $TMPDIR
 * when set (run.sh points it at a directory of its own and removes it:
 * a finding, an abort or a sanitizer's report, ends the process without
 * the target's atexit cleanup), else /dev/shm (state written for every
 * input stays in memory), else /tmp. Aborts on failure. */
void replay_tmpdir(char *dir, size_t sz, const char *name);
/* The next record as it is (no head parsed), or NULL; *len its size. */
const char *replay_take_raw(struct replay *rp, size_t *len);
/* http_stub_fn; ctx is a struct replay. */
enum err replay_stub(void *ctx, const struct http_req *q, long long max_body, struct http_reply *r);

#endif
