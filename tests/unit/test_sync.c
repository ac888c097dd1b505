/* The sync engine's pure parts: the rate limiter on an injected clock,
 * the retry policy, and the plan over hand-made MDE lists. */
#include <arpa/inet.h>
#include <limits.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "config.h"
#include "desired.h"
#include "fw_push.h"
#include "http.h"
#include "iocsync_limits.h"
#include "mde.h"
#include "plan.h"
#include "ratelimit.h"
#include "retry.h"
#include "state.h"
#include "store.h"
#include "store_int.h"
#include "util.h"

/* ---- rate limiter ---- */

struct fake_clock {
	double t;
	double slept;
};

static double
fake_now(void *ctx)
{
	return ((struct fake_clock *)ctx)->t;
}

static void
fake_sleep(void *ctx, double s)
{
	((struct fake_clock *)ctx)->t += s;
	((struct fake_clock *)ctx)->slept += s;
}

/* Makes n calls through r as fast as it allows; returns the time taken. */
static double
burst(struct ratelimit *r, const struct clock *c, int n)
{
	double start = c->now(c->ctx);
	for (int i = 0; i < n; i++) {
		double w = ratelimit_wait(r, c->now(c->ctx));
		c->sleep(c->ctx, w);
		ratelimit_record(r, c->now(c->ctx));
	}
	return c->now(c->ctx) - start;
}

static void
test_ratelimit_minute_window(void **state)
{
	(void)state;
	struct fake_clock fc = {1000, 0};
	struct clock c = {fake_now, fake_sleep, &fc};
	struct ratelimit r;
	ratelimit_init(&r, 30, 0);
	/* 30 go at once; the 31st waits until the first leaves the window. */
	assert_true(burst(&r, &c, 30) == 0);
	assert_true(ratelimit_wait(&r, fc.t) > 59.9 && ratelimit_wait(&r, fc.t) <= 60.0);
	/* 90 calls take two full minutes, never more than 30 in any 60 s. */
	ratelimit_free(&r);
	ratelimit_init(&r, 30, 0);
	fc.t = 0;
	double took = burst(&r, &c, 90);
	assert_true(took >= 120.0 && took < 120.1);
	for (size_t i = 30; i < r.n; i++)
		assert_true(r.times[i] - r.times[i - 30] >= 60.0 - 1e-9);
	ratelimit_free(&r);
}

static void
test_ratelimit_hour_window(void **state)
{
	(void)state;
	struct fake_clock fc = {0, 0};
	struct clock c = {fake_now, fake_sleep, &fc};
	struct ratelimit r;
	ratelimit_init(&r, 100, 1500);
	/* 1,500 calls at 100 a minute take 14 minutes; the 1,501st waits
	 * for the hour since the first. */
	double took = burst(&r, &c, 1500);
	assert_true(took >= 14 * 60.0 && took < 14 * 60.0 + 1);
	double w = ratelimit_wait(&r, fc.t);
	assert_true(fc.t + w >= 3600.0 - 1e-6 && fc.t + w < 3600.1);
	ratelimit_free(&r);
}

static void
test_ratelimit_block_until(void **state)
{
	(void)state;
	struct ratelimit r;
	ratelimit_init(&r, 0, 0);
	assert_true(ratelimit_wait(&r, 10) == 0);
	ratelimit_block(&r, 25); /* a 429 said: not before 25 */
	assert_true(ratelimit_wait(&r, 10) == 15);
	assert_true(ratelimit_wait(&r, 25) == 0);
	ratelimit_free(&r);
}

/* ---- retry ---- */

static void
test_retry_decide(void **state)
{
	(void)state;
	assert_int_equal(retry_decide(200, HTTP_FAIL_NONE), RETRY_DONE);
	assert_int_equal(retry_decide(204, HTTP_FAIL_NONE), RETRY_DONE);
	assert_int_equal(retry_decide(400, HTTP_FAIL_NONE), RETRY_DONE);
	assert_int_equal(retry_decide(404, HTTP_FAIL_NONE), RETRY_DONE);
	assert_int_equal(retry_decide(403, HTTP_FAIL_NONE), RETRY_DONE);
	assert_int_equal(retry_decide(401, HTTP_FAIL_NONE), RETRY_REFRESH);
	assert_int_equal(retry_decide(429, HTTP_FAIL_NONE), RETRY_AGAIN);
	assert_int_equal(retry_decide(500, HTTP_FAIL_NONE), RETRY_AGAIN);
	assert_int_equal(retry_decide(503, HTTP_FAIL_NONE), RETRY_AGAIN);
	assert_int_equal(retry_decide(0, HTTP_FAIL_RESET), RETRY_AGAIN);
	assert_int_equal(retry_decide(0, HTTP_FAIL_TIMEOUT), RETRY_AGAIN);
	assert_int_equal(retry_decide(0, HTTP_FAIL_CONNECT), RETRY_AGAIN);
	assert_int_equal(retry_decide(0, HTTP_FAIL_TLS), RETRY_FAIL);
	assert_int_equal(retry_decide(0, HTTP_FAIL_TOO_LARGE), RETRY_FAIL);
}

static void
test_retry_after_both_forms(void **state)
{
	(void)state;
	time_t now = 784111777; /* Sun, 06 Nov 1994 08:49:37 GMT */
	assert_true(retry_after_parse("120", now, 3600) == 120);
	assert_true(retry_after_parse("0", now, 3600) == 0);
	assert_true(retry_after_parse("99999", now, 3600) == 3600);
	assert_true(retry_after_parse("Sun, 06 Nov 1994 08:50:07 GMT", now, 3600) == 30);
	assert_true(retry_after_parse("Sun, 06 Nov 1994 08:49:00 GMT", now, 3600) == 0); /* past */
	assert_true(retry_after_parse("", now, 3600) < 0);
	assert_true(retry_after_parse(NULL, now, 3600) < 0);
	assert_true(retry_after_parse("soon", now, 3600) < 0);
	assert_true(retry_after_parse("12s", now, 3600) < 0);
	assert_true(retry_after_parse("-5", now, 3600) < 0);
	assert_true(retry_after_parse("Sun, 06 Foo 1994 08:50:07 GMT", now, 3600) < 0);
	assert_true(retry_after_parse("Sun, 06 Nov 1994 08:50:07 PST", now, 3600) < 0);
}

static void
test_retry_backoff_jitter_and_cap(void **state)
{
	(void)state;
	uint64_t rng = 42;
	for (unsigned a = 1; a <= 12; a++) {
		double full = 0.5;
		for (unsigned i = 1; i < a; i++)
			full *= 2;
		if (full > 60)
			full = 60;
		for (int k = 0; k < 50; k++) {
			double d = retry_backoff(a, 0.5, 60, &rng);
			assert_true(d >= full / 2 - 1e-9 && d <= full + 1e-9);
		}
	}
}

static void
test_http_url_rules(void **state)
{
	(void)state;
	char why[256];
	assert_true(http_url_ok("https://api.securitycenter.microsoft.com", false, why, sizeof(why)));
	assert_false(http_url_ok("http://api.securitycenter.microsoft.com", false, why, sizeof(why)));
	assert_false(http_url_ok("http://api.securitycenter.microsoft.com", true, why, sizeof(why)));
	assert_non_null(strstr(why, "loopback"));
	assert_true(http_url_ok("http://127.0.0.1:8443", true, why, sizeof(why)));
	assert_true(http_url_ok("http://[::1]:8443/x", true, why, sizeof(why)));
	assert_true(http_url_ok("http://localhost:1", true, why, sizeof(why)));
	assert_false(http_url_ok("http://127.0.0.1.evil.example:1", true, why, sizeof(why)));
	assert_false(http_url_ok("http://localhost.evil.example", true, why, sizeof(why)));
	assert_false(http_url_ok("ftp://127.0.0.1", true, why, sizeof(why)));
	assert_false(http_url_ok("https://", false, why, sizeof(why)));
	/* The red team's: the text before the first ':' is not the host. */
	assert_false(http_url_ok("http://127.0.0.1:1@evil.example/", true, why, sizeof(why)));
	assert_non_null(strstr(why, "user or password"));
	assert_false(http_url_ok("https://user:pw@api.securitycenter.microsoft.com", false, why, sizeof(why)));
	assert_false(http_url_ok("http://127.0.0.1%2eevil.example/", true, why, sizeof(why)));
	struct url_parts u;
	assert_true(http_url_parts("http://127.0.0.1:1@evil.example/", &u, why, sizeof(why)));
	assert_string_equal(u.host, "evil.example");
	assert_true(u.userinfo);
	assert_true(http_url_parts("HTTPS://[::1]/x", &u, why, sizeof(why)));
	assert_string_equal(u.origin, "https://[::1]:443");
	assert_true(u.loopback);
}

/* Redirects to internal addresses: refused unless the configured URL
 * was internal itself; and what counts as internal. */
static void
test_redirect_to_an_internal_address(void **state)
{
	(void)state;
	int first = -1;
	assert_false(http_guard_refuses(&first, false, 0)); /* a public feed */
	assert_false(http_guard_refuses(&first, false, 1)); /* redirected to a public host */
	assert_true(http_guard_refuses(&first, true, 1));   /* redirected inside: refused */
	assert_true(http_guard_refuses(&first, true, 2));
	first = -1;
	assert_false(http_guard_refuses(&first, true, 0)); /* an internal feed, as configured */
	assert_false(http_guard_refuses(&first, true, 1)); /* may redirect inside */
	unsigned char a[16];
	static const char *const inside[] = {"127.0.0.1",   "10.1.2.3",        "172.16.0.1", "172.31.255.1",
					     "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0"};
	static const char *const outside[] = {"8.8.8.8", "172.32.0.1", "100.128.0.1", "45.1.2.3"};
	for (size_t i = 0; i < NELEM(inside); i++) {
		assert_int_equal(inet_pton(AF_INET, inside[i], a), 1);
		assert_true(http_addr_internal(AF_INET, a));
	}
	for (size_t i = 0; i < NELEM(outside); i++) {
		assert_int_equal(inet_pton(AF_INET, outside[i], a), 1);
		assert_false(http_addr_internal(AF_INET, a));
	}
	static const char *const inside6[] = {"::1", "::", "fd00::1", "fe80::1", "::ffff:10.0.0.1"};
	for (size_t i = 0; i < NELEM(inside6); i++) {
		assert_int_equal(inet_pton(AF_INET6, inside6[i], a), 1);
		assert_true(http_addr_internal(AF_INET6, a));
	}
	assert_int_equal(inet_pton(AF_INET6, "2001:4860:4860::8888", a), 1);
	assert_false(http_addr_internal(AF_INET6, a));
}

/* ---- plan ---- */

static struct feed_cfg feeds[2];

static struct want
W(const char *v, enum ioc_action a, int prio) {
	return (struct want){.type = IOC_IP,
			     .value = (char *)v,
			     .action = a,
			     .severity = SEV_MEDIUM,
			     .priority = prio,
			     .feed = &feeds[prio > 0 ? 1 : 0],
			     .feeds = "f"};
}

/* A tenant's own part of in->w: first_seen from seen (NULL: all 0), and
 * the attribute hash 7 for every want (H's). */
static long long own_seen[16];
static uint64_t own_attrs[16];

static void
own(struct plan_in *in, const long long *seen)
{
	assert_true(in->nw <= NELEM(own_seen));
	for (size_t i = 0; i < in->nw; i++) {
		own_seen[i] = seen ? seen[i] : 0;
		own_attrs[i] = 7;
	}
	in->first_seen = own_seen;
	in->attrs = own_attrs;
}

static struct have
H(const char *id, const char *v, int a, bool owned, long long exp) {
	return (struct have){.id = (char *)id,
			     .type = IOC_IP,
			     .value = (char *)v,
			     .action = a,
			     .owned = owned,
			     .expire_at = exp,
			     .attrs = 7};
}

static size_t
count_of(const struct plan *p, enum op_kind k)
{
	return k == OP_DELETE ? p->deletes : p->count[k];
}

static const struct op *
find_op(const struct plan *p, enum op_kind k, size_t have)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->ops[i].kind == k && p->ops[i].have == have)
			return &p->ops[i];
	return NULL;
}

static const struct op *
find_want(const struct plan *p, enum op_kind k, size_t want)
{
	for (size_t i = 0; i < p->n; i++)
		if (p->ops[i].kind == k && p->ops[i].want == want)
			return &p->ops[i];
	return NULL;
}

static void
test_plan_every_kind(void **state)
{
	(void)state;
	feeds[0].expire_after_s = feeds[1].expire_after_s = 30 * 86400;
	long long now = 1000, soon = now + 86400, far = now + 29 * 86400;
	struct want w[] = {
		W("1.1.1.10", ACT_BLOCK, 0), /* new: create */
		W("1.1.1.11", ACT_BLOCK, 0), /* same: keep */
		W("1.1.1.12", ACT_BLOCK, 0), /* other attrs: update */
		W("1.1.1.13", ACT_BLOCK, 0), /* expires soon: renew */
		W("1.1.1.14", ACT_WARN, 0),  /* action changed: replace */
		W("1.1.1.15", ACT_BLOCK, 0), /* someone else has it: conflict */
	};
	struct have h[] = {
		H("1", "1.1.1.11", ACT_BLOCK, true, far),
		H("2", "1.1.1.12", ACT_BLOCK, true, far),
		H("3", "1.1.1.13", ACT_BLOCK, true, soon),
		H("4", "1.1.1.14", ACT_BLOCK, true, far),
		H("5", "1.1.1.15", ACT_ALLOWED, false, 0),
		H("6", "1.1.1.16", ACT_BLOCK, true, far), /* left its feeds: delete */
		H("7", "1.1.1.11", ACT_BLOCK, true, far), /* a duplicate: delete */
	};
	h[1].attrs = 8;
	struct plan_in in = {.w = w,
			     .nw = NELEM(w),
			     .h = h,
			     .nh = NELEM(h),
			     .now = now,
			     .cap = 15000,
			     .others_known = true,
			     .max_delete_pct = 100};
	own(&in, NULL);
	struct plan p;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_CREATE), 1);
	assert_int_equal(count_of(&p, OP_KEEP), 1);
	assert_int_equal(count_of(&p, OP_UPDATE), 1);
	assert_int_equal(count_of(&p, OP_RENEW), 1);
	assert_int_equal(count_of(&p, OP_REPLACE), 1);
	assert_int_equal(count_of(&p, OP_CONFLICT), 1);
	assert_int_equal(count_of(&p, OP_DELETE), 2); /* 6 and the duplicate 7 */
	assert_int_equal(p.owned, 6);
	assert_int_equal(p.others, 1);
	const struct op *o = find_op(&p, OP_DELETE, 3); /* the old Block of 1.1.1.14 */
	assert_non_null(o);
	assert_true(o->late);
	assert_non_null(find_op(&p, OP_DELETE, 5));
	assert_non_null(find_op(&p, OP_DELETE, 6));
	/* Nothing of another owner is ever in a delete. */
	for (size_t i = 0; i < p.n; i++)
		if (p.ops[i].kind == OP_DELETE)
			assert_true(h[p.ops[i].have].owned);
	plan_free(&p);
}

static void
test_plan_budget_by_priority_severity_recency(void **state)
{
	(void)state;
	struct want w[] = {
		W("2.2.2.1", ACT_BLOCK, 0), /* low priority, old, in MDE */
		W("2.2.2.2", ACT_BLOCK, 0), /* low priority, recent, a newcomer */
		W("2.2.2.3", ACT_BLOCK, 5), /* high priority */
		W("2.2.2.4", ACT_BLOCK, 0), /* low priority, high severity */
	};
	w[3].severity = SEV_HIGH;
	const long long seen[] = {100, 900, 100, 100};
	struct have h[] = {
		H("1", "9.9.9.1", ACT_BLOCK, false, 0), H("2", "9.9.9.2", ACT_BLOCK, false, 0),
		H("3", "2.2.2.1", ACT_BLOCK, true, 0), /* owned: keeps its place over a newcomer of its rank */
	};
	/* cap 7, reserve 2, others 2: room for 3. */
	struct plan_in in = {.w = w,
			     .nw = 4,
			     .h = h,
			     .nh = 3,
			     .now = 1000,
			     .cap = 7,
			     .reserve = 2,
			     .others_known = true,
			     .max_delete_pct = 100};
	own(&in, seen);
	struct plan p;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(p.room, 3);
	assert_int_equal(count_of(&p, OP_OVER_BUDGET), 1);
	assert_int_equal(count_of(&p, OP_CREATE), 2);
	assert_int_equal(count_of(&p, OP_KEEP), 1);
	for (size_t i = 0; i < p.n; i++)
		if (p.ops[i].kind == OP_OVER_BUDGET)
			assert_string_equal(w[p.ops[i].want].value, "2.2.2.2");
	assert_null(find_op(&p, OP_DELETE, 2)); /* equal rank never evicts */
	assert_int_equal(p.over_by_feed[0], 1);
	plan_free(&p);
	/* A higher rank does: 2.2.2.1 makes room when a priority-5 value needs it. */
	w[1].priority = 5;
	w[1].feed = &feeds[1];
	plan_build(&in, feeds, 2, &p);
	assert_non_null(find_op(&p, OP_DELETE, 2));
	assert_string_equal(find_op(&p, OP_DELETE, 2)->why, "over budget: makes room for a higher rank");
	plan_free(&p);
	/* Others unknown (no Ti.ReadWrite.All): the room ignores them. */
	w[1].priority = 0;
	w[1].feed = &feeds[0];
	in.others_known = false;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(p.room, 5);
	assert_int_equal(count_of(&p, OP_OVER_BUDGET), 0);
	plan_free(&p);
}

static const char *
fake_state(void *ctx, enum ioc_type t, const char *v, long long *gone)
{
	(void)ctx;
	(void)t;
	*gone = strcmp(v, "3.3.3.1") == 0 ? 900 : 0;
	if (strcmp(v, "3.3.3.2") == 0)
		return "down-feed,other";
	if (strcmp(v, "3.3.3.3") == 0)
		return NULL; /* unknown to the state */
	return "up-feed";
}

static void
test_plan_hold_grace_and_down_feeds(void **state)
{
	(void)state;
	struct have h[] = {
		H("1", "3.3.3.1", ACT_BLOCK, true, 0), /* gone since 900 */
		H("2", "3.3.3.2", ACT_BLOCK, true, 0), /* from the down feed */
		H("3", "3.3.3.3", ACT_BLOCK, true, 0), /* provenance unknown */
		H("4", "3.3.3.4", ACT_BLOCK, true, 0), /* from a feed that is up */
	};
	const struct plan_down down[] = {{"down-feed", "its feed is down"}};
	struct plan_in in = {.h = h,
			     .nh = 4,
			     .now = 1000,
			     .cap = 15000,
			     .grace_s = 3600,
			     .down = down,
			     .ndown = 1,
			     .state = {fake_state, NULL},
			     .others_known = true,
			     .max_delete_pct = 100};
	own(&in, NULL);
	struct plan p;
	plan_build(&in, feeds, 2, &p);
	/* grace 1 h: 3.3.3.1 (gone 100 s ago) and 3.3.3.4 (just gone) are
	 * held; 3.3.3.2 and 3.3.3.3 are held for the down feed. */
	assert_int_equal(count_of(&p, OP_HOLD), 4);
	assert_int_equal(count_of(&p, OP_DELETE), 0);
	plan_free(&p);
	in.grace_s = 0;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_HOLD), 2);
	assert_int_equal(p.held, 2);
	assert_string_equal(find_op(&p, OP_HOLD, 1)->why, "its feed is down");
	assert_non_null(find_op(&p, OP_DELETE, 0));
	assert_non_null(find_op(&p, OP_DELETE, 3));
	plan_free(&p);
	/* No feed down: all go. */
	in.ndown = 0;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_DELETE), 4);
	plan_free(&p);
}

/* max_delete holds the deletions, never the creates; --force lets them
 * go, and --force-feed those of its feed. */
static void
test_plan_max_delete_holds_deletions_only(void **state)
{
	(void)state;
	struct want w[] = {W("5.5.5.1", ACT_BLOCK, 0), W("5.5.5.2", ACT_BLOCK, 0)};
	struct have h[] = {
		H("1", "3.3.3.2", ACT_BLOCK, true, 0), /* from down-feed,other */
		H("2", "3.3.3.4", ACT_BLOCK, true, 0), /* from up-feed */
		H("3", "3.3.3.5", ACT_BLOCK, true, 0), /* from up-feed */
		H("4", "5.5.5.1", ACT_BLOCK, true, 0), /* still wanted */
	};
	struct plan_in in = {.w = w,
			     .nw = 2,
			     .h = h,
			     .nh = 4,
			     .now = 1000,
			     .cap = 15000,
			     .others_known = true,
			     .state = {fake_state, NULL},
			     .max_delete_pct = 25};
	own(&in, NULL);
	struct plan p;
	plan_build(&in, feeds, 2, &p);
	assert_true(p.max_delete_held);
	assert_int_equal(count_of(&p, OP_CREATE), 1);
	assert_int_equal(count_of(&p, OP_DELETE), 0);
	assert_int_equal(count_of(&p, OP_HOLD), 3);
	assert_int_equal(p.held, 3);
	assert_int_equal(p.deletes, 0);
	assert_string_equal(find_op(&p, OP_HOLD, 1)->why, "held by max_delete");
	plan_free(&p);
	const char *forced[] = {"up-feed"};
	in.force_feeds = forced;
	in.nforce = 1;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_DELETE), 2); /* up-feed's two go */
	assert_non_null(find_op(&p, OP_HOLD, 0));     /* down-feed's stays */
	plan_free(&p);
	in.nforce = 0;
	in.force = true;
	plan_build(&in, feeds, 2, &p);
	assert_false(p.max_delete_held);
	assert_int_equal(count_of(&p, OP_DELETE), 3);
	plan_free(&p);
	in.force = false;
	in.max_delete_pct = 100;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_DELETE), 3);
	plan_free(&p);
}

/* Under the cap, one already in MDE keeps its place over a newcomer of
 * the same priority and severity, however new the newcomer; a feed's
 * quota caps what it may hold. */
static void
test_plan_budget_keeps_what_is_in_mde(void **state)
{
	(void)state;
	struct want w[] = {
		W("6.6.6.1", ACT_BLOCK, 0), /* feed 0, in MDE */
		W("6.6.6.2", ACT_BLOCK, 0), /* feed 0, in MDE */
		W("6.6.6.3", ACT_BLOCK, 0), /* feed 1, newer, not in MDE */
		W("6.6.6.4", ACT_BLOCK, 0), /* feed 1, newer, not in MDE */
		W("6.6.6.5", ACT_BLOCK, 0), /* feed 1, not in MDE */
	};
	w[2].feed = w[3].feed = w[4].feed = &feeds[1];
	struct have h[] = {H("1", "6.6.6.1", ACT_BLOCK, true, 0), H("2", "6.6.6.2", ACT_BLOCK, true, 0)};
	struct plan_in in = {
		.w = w, .nw = 5, .h = h, .nh = 2, .now = 1000, .cap = 3, .others_known = true, .max_delete_pct = 100};
	own(&in, (const long long[]){100, 100, 5000, 5000, 4000});
	struct plan p;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_KEEP), 2);
	assert_int_equal(count_of(&p, OP_CREATE), 1); /* the newest newcomer */
	assert_non_null(find_want(&p, OP_CREATE, 2));
	assert_int_equal(p.over_by_feed[1], 2);
	assert_int_equal(count_of(&p, OP_DELETE), 0);
	plan_free(&p);
	/* A quota of 1 on feed 1, room for all: its newest only. */
	in.cap = 100;
	feeds[1].quota = 1;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_CREATE), 1);
	assert_int_equal(p.over_by_feed[1], 2);
	assert_string_equal(find_want(&p, OP_OVER_BUDGET, 3)->why, "over its feed's quota");
	plan_free(&p);
	/* A quota as a share of the room: 50% of 4 = 2. */
	in.cap = 4;
	feeds[1].quota = 0;
	feeds[1].quota_pct = 50;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_CREATE), 2);
	plan_free(&p);
	feeds[1].quota_pct = 0;
}

/* Two wants on the heap, as desired_wants makes them: values a and b of
 * feed f. */
static struct want *
heap_set(const char *a, const char *b, const struct feed_cfg *f)
{
	struct want *w = xcalloc(2, sizeof(*w));
	const char *v[] = {a, b};
	for (size_t i = 0; i < 2; i++)
		w[i] = (struct want){.type = IOC_IP,
				     .value = xstrdup(v[i]),
				     .action = ACT_BLOCK,
				     .feed = f,
				     .feeds = f->name,
				     .item_title = i ? xstrdup("STIX name") : NULL};
	return w;
}

/* Tenants exchange an equal set for the one already shared; a set that
 * differs in a value or in its feed object stays its own; each is freed
 * with its last holder (ASan and valgrind see the rest). */
static void
test_desired_share(void **state)
{
	(void)state;
	feeds[0].name = "f0";
	feeds[1].name = "f0"; /* the same name, another object: another tenant's own copy */
	struct desired_share *sh = desired_share_new();
	struct want *a = desired_share_take(sh, heap_set("1.1.1.1", "2.2.2.2", &feeds[0]), 2);
	struct want *b = desired_share_take(sh, heap_set("1.1.1.1", "2.2.2.2", &feeds[0]), 2);
	struct want *c = desired_share_take(sh, heap_set("1.1.1.1", "2.2.2.3", &feeds[0]), 2);
	struct want *d = desired_share_take(sh, heap_set("1.1.1.1", "2.2.2.2", &feeds[1]), 2);
	assert_ptr_equal(a, b);
	assert_ptr_not_equal(a, c);
	assert_ptr_not_equal(a, d);
	desired_share_drop(sh, a, 2);
	assert_string_equal(b[1].value, "2.2.2.2"); /* still held by b's tenant */
	desired_share_drop(sh, b, 2);
	desired_share_drop(sh, c, 2);
	/* a set taken once more after its last holder dropped it is new */
	struct want *e = desired_share_take(sh, heap_set("1.1.1.1", "2.2.2.3", &feeds[0]), 2);
	assert_string_equal(e[1].value, "2.2.2.3");
	desired_share_drop(sh, e, 2);
	desired_share_free(sh); /* d is still held: freed here */
	/* With no share, a set is its own and dropped at once. */
	struct want *f = heap_set("1.1.1.1", "2.2.2.2", &feeds[0]);
	assert_ptr_equal(desired_share_take(NULL, f, 2), f);
	desired_share_drop(NULL, f, 2);
	feeds[0].name = feeds[1].name = NULL;
}

static void
test_plan_renew_not_every_run(void **state)
{
	(void)state;
	feeds[0].expire_after_s = 30 * 86400;
	struct want w[] = {W("4.4.4.1", ACT_BLOCK, 0)};
	/* 20 days left of 30: more than a third, kept. */
	struct have h[] = {H("1", "4.4.4.1", ACT_BLOCK, true, 1000 + 20 * 86400)};
	struct plan_in in = {.w = w, .nw = 1, .h = h, .nh = 1, .now = 1000, .cap = 15000, .others_known = true};
	own(&in, NULL);
	struct plan p;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_KEEP), 1);
	plan_free(&p);
	h[0].expire_at = 1000 + 9 * 86400; /* 9 days left: renew */
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_RENEW), 1);
	plan_free(&p);
	/* A STIX valid_until caps the expiry: renewing gains nothing. */
	w[0].item_expire = h[0].expire_at;
	plan_build(&in, feeds, 2, &p);
	assert_int_equal(count_of(&p, OP_KEEP), 1);
	plan_free(&p);
}

static void
test_attr_hash_and_retryable(void **state)
{
	(void)state;
	const char *g1[] = {"Servers", "Workstations"}, *g2[] = {"Workstations", "Servers"};
	uint64_t a = plan_attr_hash(ACT_BLOCK, SEV_HIGH, "t", "d", NULL, g1, 2, true, NULL);
	assert_true(a == plan_attr_hash(ACT_BLOCK, SEV_HIGH, "t", "d", "", g2, 2, true, ""));
	assert_true(a != plan_attr_hash(ACT_BLOCK, SEV_LOW, "t", "d", NULL, g1, 2, true, NULL));
	assert_true(a != plan_attr_hash(ACT_BLOCK, SEV_HIGH, "t", "d", NULL, g1, 1, true, NULL));
	assert_true(a != plan_attr_hash(ACT_BLOCK, SEV_HIGH, "t", "d", NULL, g1, 2, false, NULL));
	assert_true(a != plan_attr_hash(ACT_BLOCK, SEV_HIGH, "td", "", NULL, g1, 2, true, NULL));
	assert_true(plan_item_retryable("InternalServerError: Injected transient failure"));
	assert_true(plan_item_retryable(NULL));
	assert_true(plan_item_retryable("Request timed out"));
	assert_false(plan_item_retryable("InvalidInput: The tenant already has 15000 active indicators, the maximum"));
	assert_false(plan_item_retryable("InvalidIpAddress: 10.0.0.1 is invalid"));
	assert_false(plan_item_retryable("MissingRequiredParameter: Parameter title is missing"));
}

/* MDE documents ids as text; a number is taken too, and nothing else. */
static void
test_mde_id_text_or_number(void **state)
{
	(void)state;
	char b[32];
	json_t *x = json_pack("{s:s}", "id", "2841");
	assert_string_equal(mde_id(x, b), "2841");
	json_decref(x);
	x = json_pack("{s:I}", "id", (json_int_t)9007199254740993LL);
	assert_string_equal(mde_id(x, b), "9007199254740993");
	json_decref(x);
	x = json_pack("{s:b}", "id", 1);
	assert_null(mde_id(x, b));
	json_decref(x);
	x = json_object();
	assert_null(mde_id(x, b));
	json_decref(x);
}

/* ---- listing MDE's indicators against what a server may answer ---- */

enum list_mode {
	LIST_404,
	LIST_REPEAT,
	LIST_ENDLESS,
	LIST_BODY
};
/* What a stubbed login answers. */
#define TOKEN_ANSWER "{\"token_type\":\"Bearer\",\"expires_in\":3599,\"access_token\":\"a.e30.c\"}"

struct list_stub {
	enum list_mode mode;
	int lists;        /* list requests answered */
	const char *body; /* LIST_BODY: the one page */
	char *sent;       /* the last request body (malloc'd), or NULL */
};

/* A token, then list pages of 2 ($top=2): 404 for nothing; a server
 * that ignores $skip and answers the first page again; or one whose
 * pages never end. */
static enum err
list_stub(void *ctx, const struct http_req *q, long long max_body, struct http_reply *r)
{
	struct list_stub *ls = ctx;
	(void)max_body;
	struct strbuf sb = {0};
	r->status = 200;
	if (strstr(q->url, "/oauth2/")) {
		sb_adds(&sb, TOKEN_ANSWER);
	} else if (ls->mode == LIST_BODY) {
		sb_adds(&sb, ls->body);
	} else if (ls->mode == LIST_404) {
		r->status = 404;
		sb_adds(&sb, "{\"error\":{\"code\":\"NotFound\",\"message\":\"none\",\"target\":\"x\"}}");
	} else {
		int page = ls->mode == LIST_REPEAT ? 0 : ls->lists;
		sb_addf(&sb,
			"{\"value\":[{\"id\":\"%d\",\"indicatorValue\":\"45.0.0.1\"},"
			"{\"id\":\"%d\",\"indicatorValue\":\"45.0.0.2\"}]}",
			2 * page + 1, 2 * page + 2);
	}
	if (!strstr(q->url, "/oauth2/")) {
		ls->lists++;
		free(ls->sent);
		ls->sent = q->body ? xstrndup(q->body, q->len) : NULL;
	}
	r->body = sb.buf;
	r->len = sb.len;
	return ERR_OK;
}

/* A client of a tenant behind the stub, with more of its configuration. */
static struct config *
list_config(const char *more)
{
	struct strbuf text = {0}, errs = {0};
	sb_addf(&text,
		"[mde]\ntenant_id = 00000000-0000-0000-0000-000000000001\n"
		"client_id = 11111111-1111-1111-1111-111111111111\nclient_secret_env = IOCSYNC_TEST_SECRET\n"
		"cloud = custom\napi_url = https://mde.invalid\nlogin_url = https://login.invalid\nrate_limit_percent = 0\n%s",
		more);
	struct config *c = config_load_string("t.conf", text.buf, &errs);
	if (c == NULL)
		fail_msg("%s", errs.buf);
	setenv("IOCSYNC_TEST_SECRET", "s", 1);
	sb_free(&text);
	sb_free(&errs);
	return c;
}

/* A client of c whose every call the stub ls answers. */
static struct mde *
stubbed(const struct config *c, const struct clock *clk, struct list_stub *ls)
{
	char why[300];
	http_set_stub(list_stub, ls);
	struct mde *m = mde_new(c, clk, why, sizeof(why));
	if (m == NULL)
		fail_msg("%s", why);
	return m;
}

static void
test_list_paging_stops_on_404_repeat_and_past_the_cap(void **state)
{
	(void)state;
	struct config *c = list_config("list_page = 2\n[sync]\ncap = 10\nreserve = 0\n");
	struct fake_clock fc = {0};
	struct clock clk = {fake_now, fake_sleep, &fc};
	char why[300];
	json_t *all;
	static const struct {
		enum list_mode mode;
		enum err want;
		size_t n;
		int lists;
	} cases[] = {
		{LIST_404, ERR_OK, 0, 1},    /* an empty tenant answered with a 404 */
		{LIST_REPEAT, ERR_OK, 2, 2}, /* $skip not honoured: stop, not loop */
		/* never ending: refused past the cap (10) + LIMIT_MDE_LIST_SLACK, with max(cap, 15000) */
		{LIST_ENDLESS, ERR_PARSE, 0, (15000 + LIMIT_MDE_LIST_SLACK) / 2 + 1},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct list_stub ls = {.mode = cases[i].mode};
		struct mde *m = stubbed(c, &clk, &ls);
		assert_int_equal(mde_list_all(m, &all, why, sizeof(why)), cases[i].want);
		if (cases[i].want == ERR_OK) {
			assert_int_equal(json_array_size(all), cases[i].n);
			json_decref(all);
		} else {
			assert_null(all);
			if (strstr(why, "past any tenant's cap") == NULL)
				fail_msg("%s", why);
		}
		assert_int_equal(ls.lists, cases[i].lists);
		mde_free(m);
	}
	http_set_stub(NULL, NULL);
	config_free(c);
}

/* The listing is read as it streams (mde_list.c): the page's shape is
 * checked by a scanner, each element by jansson. What is not a list of
 * indicators is refused whole, never taken in part. */
static void
test_list_page_shapes(void **state)
{
	(void)state;
	struct config *c = list_config("");
	struct fake_clock fc = {0};
	struct clock clk = {fake_now, fake_sleep, &fc};
	static const struct {
		const char *body;
		size_t n;        /* indicators taken; (size_t)-1: refused */
		const char *why; /* in the error when refused */
	} cases[] = {
		{"{\"value\":[]}", 0, NULL},
		{" {\"@odata.context\":\"x}]\\\"[{\",\"value\":[{\"id\":7,\"indicatorValue\":\"a}{\\\"\"},"
		 "{\"id\":\"8\",\"x\":{\"y\":[1,{\"z\":\"]\"}]}}],\"more\":{\"value\":[]},\"n\":null} \n",
		 2, NULL},
		{"{\"value\":[{\"id\":\"1\"}],\"value\":[]}", (size_t)-1, "given twice"},
		{"{\"a\":1,\"a\":2,\"value\":[]}", (size_t)-1, "given twice"},
		{"{\"value\":{\"id\":\"1\"}}", (size_t)-1, "not an array"},
		{"{\"value\":null}", (size_t)-1, "not an array"},
		{"{\"value\":[{\"id\":\"1\"},2]}", (size_t)-1, "not an object"},
		{"{\"value\":[{\"id\":\"1\",\"id\":\"2\"}]}", (size_t)-1, "not JSON"},
		{"{\"value\":[{\"id\":\"1\"}", (size_t)-1, "ends early"},
		{"{\"value\":[{\"id\":\"1\"}]}x", (size_t)-1, "after the page"},
		{"[{\"id\":\"1\"}]", (size_t)-1, "not a JSON object"},
		{"{\"values\":[{\"id\":\"1\"}]}", (size_t)-1, "no \"value\" array"},
		{"", (size_t)-1, "ends early"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct list_stub ls = {.mode = LIST_BODY, .body = cases[i].body};
		char why[400] = "";
		json_t *all = NULL;
		struct mde *m = stubbed(c, &clk, &ls);
		enum err e = mde_list_all(m, &all, why, sizeof(why));
		if (cases[i].n == (size_t)-1) {
			if (e != ERR_PARSE || all != NULL || strstr(why, cases[i].why) == NULL)
				fail_msg("case %zu: %d, %s", i, (int)e, why);
		} else {
			if (e != ERR_OK)
				fail_msg("case %zu: %s", i, why);
			assert_int_equal(json_array_size(all), cases[i].n);
			json_decref(all);
		}
		mde_free(m);
	}
	http_set_stub(NULL, NULL);
	config_free(c);
}

/* Each element's text, one per line, as the scan handed them over. */
static bool
scan_seen(void *ctx, json_t *ind, char *why, size_t whysz)
{
	(void)why, (void)whysz;
	char *t = json_dumps(ind, JSON_COMPACT | JSON_SORT_KEYS);
	sb_adds(ctx, t);
	sb_addc(ctx, '\n');
	free(t);
	return true;
}

/* The scan takes an element's bytes a run at a time: however the body
 * is cut into chunks (inside a string, after a backslash, between the
 * brackets of a skipped member), it sees the same elements and the same
 * failure as when the body comes whole. */
static void
test_value_scan_in_any_chunks(void **state)
{
	(void)state;
	static const char *const bodies[] = {
		" {\"@odata.context\":\"x}]\\\"[{\",\"value\":[{\"id\":7,\"v\":\"a}{\\\"\\\\\"},"
		"{\"id\":\"8\",\"x\":{\"y\":[1,{\"z\":\"]\"}]}}],\"more\":{\"value\":[\"]}\"]},\"n\":null} \n",
		"{\"skip\":[[\"\\\\\"],{\"a\":\"}\"}],\"value\":[ {\"a\":[{}]} , {\"b\":\"\\u007b\"}\t]}",
		"{\"value\":[{\"id\":\"1\"},{\"id\":\"2\",\"id\":\"3\"}]}",
		"{\"value\":[{\"id\":\"1\"}]}{",
		"{\"value\":[{\"id\":\"1\"}",
	};
	for (size_t b = 0; b < NELEM(bodies); b++) {
		size_t n = strlen(bodies[b]);
		struct strbuf whole = {0}, cut = {0};
		struct value_scan *v = value_scan_new(scan_seen, &whole, "things");
		bool ok = value_scan_feed(v, bodies[b], n) && value_scan_finish(v);
		char *why = xstrdup(ok ? "" : value_scan_why(v));
		value_scan_free(v);
		for (size_t chunk = 1; chunk < 12; chunk++) {
			cut.len = 0;
			v = value_scan_new(scan_seen, &cut, "things");
			bool fed = true;
			for (size_t at = 0; fed && at < n; at += chunk)
				fed = value_scan_feed(v, bodies[b] + at, n - at < chunk ? n - at : chunk);
			bool ok2 = fed && value_scan_finish(v);
			if (ok2 != ok || strcmp(ok2 ? "" : value_scan_why(v), why) != 0 ||
			    strcmp(cut.len ? cut.buf : "", whole.len ? whole.buf : "") != 0)
				fail_msg("body %zu in chunks of %zu: %s / %s", b, chunk, ok2 ? "ok" : value_scan_why(v),
					 ok ? "ok" : why);
			value_scan_free(v);
		}
		if (b < 2)
			assert_true(ok);
		else
			assert_false(ok);
		if (b == 0)
			assert_string_equal(whole.buf,
					    "{\"id\":7,\"v\":\"a}{\\\"\\\\\"}\n"
					    "{\"id\":\"8\",\"x\":{\"y\":[1,{\"z\":\"]\"}]}}\n");
		free(why);
		sb_free(&whole);
		sb_free(&cut);
	}
}

/* A store in a new directory of its own; scratch_close removes both. */
struct scratch {
	char dir[64];
	struct store *st;
};

static struct store *
scratch_open(struct scratch *x, const char *name)
{
	char why[300];
	snprintf(x->dir, sizeof(x->dir), "/tmp/iocsync-%s-XXXXXX", name);
	assert_non_null(mkdtemp(x->dir));
	char *path = xasprintf("%s/state.db", x->dir);
	x->st = store_open(path, "test", why, sizeof(why));
	free(path);
	if (x->st == NULL)
		fail_msg("%s", why);
	return x->st;
}

static void
scratch_close(struct scratch *x)
{
	store_close(x->st);
	char *cmd = xasprintf("rm -rf '%s'", x->dir);
	assert_int_equal(system(cmd), 0);
	free(cmd);
}

struct history_seen {
	size_t n;
	long long newest, oldest;
};

static void
history_seen(void *ctx, const struct store_change *c)
{
	struct history_seen *h = ctx;
	if (h->n++ == 0)
		h->newest = c->at;
	h->oldest = c->at;
}

static struct history_seen
history_of(struct store *st, const char *value)
{
	struct history_seen h = {0};
	assert_int_equal(store_history_each(st, IOC_IP, value, history_seen, &h), ERR_OK);
	return h;
}

/* Each value keeps its newest LIMIT_HISTORY_PER_VALUE entries, whether
 * they came run by run or in one run; a value with fewer keeps all; a
 * hold repeated is kept once, in one run or the next, until something
 * else happens to the value. */
static void
test_history_keeps_the_newest_per_value(void **state)
{
	(void)state;
	struct scratch x;
	struct store *st = scratch_open(&x, "history");
	for (long long r = 0; r < 25; r++) { /* 25 runs of one renewal each */
		struct store_change c = {.type = IOC_IP, .value = "45.0.0.1", .at = r, .op = "renew", .reason = "r"};
		assert_int_equal(store_history_add(st, &c, 1), ERR_OK);
	}
	struct store_change v[30];
	for (size_t i = 0; i < 30; i++) /* one run: 27 of one value, 3 of another */
		v[i] = (struct store_change){.type = IOC_IP,
					     .value = i < 3 ? "45.0.0.3" : "45.0.0.2",
					     .at = 100 + (long long)i,
					     .op = "update",
					     .reason = "r"};
	assert_int_equal(store_history_add(st, v, 30), ERR_OK);
	struct store_change hold[2] = {{.type = IOC_IP, .value = "45.0.0.4", .at = 1, .op = "hold", .reason = "r"},
				       {.type = IOC_IP, .value = "45.0.0.4", .at = 2, .op = "hold", .reason = "r"}};
	assert_int_equal(store_history_add(st, hold, 2), ERR_OK);
	assert_int_equal(store_history_add(st, hold, 1), ERR_OK); /* the next run: still held */
	struct store_change again[3] = {{.type = IOC_IP, .value = "45.0.0.5", .at = 1, .op = "hold", .reason = "r"},
					{.type = IOC_IP, .value = "45.0.0.5", .at = 2, .op = "update", .reason = "r"},
					{.type = IOC_IP, .value = "45.0.0.5", .at = 3, .op = "hold", .reason = "r"}};
	assert_int_equal(store_history_add(st, again, 3), ERR_OK);
	struct history_seen h = history_of(st, "45.0.0.1");
	assert_int_equal(h.n, LIMIT_HISTORY_PER_VALUE);
	assert_int_equal(h.newest, 24);
	assert_int_equal(h.oldest, 25 - LIMIT_HISTORY_PER_VALUE);
	h = history_of(st, "45.0.0.2");
	assert_int_equal(h.n, LIMIT_HISTORY_PER_VALUE);
	assert_int_equal(h.newest, 129);
	assert_int_equal(h.oldest, 130 - LIMIT_HISTORY_PER_VALUE);
	h = history_of(st, "45.0.0.3");
	assert_int_equal(h.n, 3);
	h = history_of(st, "45.0.0.4");
	assert_int_equal(h.n, 1);
	assert_int_equal(h.newest, 1);
	h = history_of(st, "45.0.0.5"); /* a hold after something else is a new hold */
	assert_int_equal(h.n, 3);
	scratch_close(&x);
}

/* The table as "value:last_seen:mde_id" lines, sorted by SQLite's order. */
static void
row_text(void *ctx, const struct store_ind *r)
{
	sb_addf(ctx, "%s:%lld:%s\n", r->value, r->last_seen, r->mde_id);
}

static char *
table_text(struct store *st)
{
	struct strbuf sb = {0};
	sb_adds(&sb, "");
	assert_int_equal(store_ind_each(st, row_text, &sb), ERR_OK);
	return sb.buf;
}

/* The run's end writes the table whole in effect: the rows this run's
 * batches recorded (kept) stay as they are, the others are updated in
 * place when a column other than last_seen differs, rows left over
 * removed; a kept row the table lost is written again (the table written
 * whole). */
static void
test_replace_keeps_what_a_batch_recorded(void **state)
{
	(void)state;
	struct scratch x;
	struct store *st = scratch_open(&x, "replace");
#define ROW(v, seen, id) \
	{ \
		.type = IOC_IP, .action = 1, .value = v, .mde_id = id, .first_seen = 1, .last_seen = seen \
	}
	struct store_ind batch[] = {ROW("45.0.0.1", 5, "1"), ROW("45.0.0.2", 5, "2"), ROW("45.0.0.3", 5, "3")};
	assert_int_equal(store_ind_add(st, batch, 3, NULL, 0), ERR_OK);
	struct store_ind end[] = {ROW("45.0.0.4", 5, "4"), ROW("45.0.0.1", 5, "1"), ROW("45.0.0.2", 5, "2"),
				  ROW("45.0.0.3", 5, "3")};
	assert_int_equal(store_ind_replace(st, end, 4, 3), ERR_OK);
	char *t = table_text(st);
	assert_string_equal(t, "45.0.0.1:5:1\n45.0.0.2:5:2\n45.0.0.3:5:3\n45.0.0.4:5:4\n");
	free(t);
	/* All seen again, 4 with a new id: only 4 is written (last_seen is
	 * when a row last changed). */
	struct store_ind again[] = {ROW("45.0.0.1", 7, "1"), ROW("45.0.0.2", 7, "2"), ROW("45.0.0.3", 7, "3"),
				    ROW("45.0.0.4", 7, "44")};
	assert_int_equal(store_ind_replace(st, again, 4, 0), ERR_OK);
	t = table_text(st);
	assert_string_equal(t, "45.0.0.1:5:1\n45.0.0.2:5:2\n45.0.0.3:5:3\n45.0.0.4:7:44\n");
	free(t);
	struct store_ind next[] = {ROW("45.0.0.1", 9, "1"), ROW("45.0.0.2", 9, "22")}; /* 3 and 4 gone */
	assert_int_equal(store_ind_replace(st, next, 2, 0), ERR_OK);
	t = table_text(st);
	assert_string_equal(t, "45.0.0.1:9:1\n45.0.0.2:9:22\n");
	free(t);
	struct store_ind lost[] = {ROW("45.0.0.1", 9, "1"), ROW("45.0.0.2", 9, "22"), ROW("45.0.0.5", 9, "5")};
	assert_int_equal(store_ind_add(st, lost + 2, 1, NULL, 0), ERR_OK); /* a batch: 5 */
	assert_int_equal(store_ind_replace(st, lost, 2, 0), ERR_OK);       /* 5 gone again */
	assert_int_equal(store_ind_replace(st, lost, 3, 1), ERR_OK);       /* 5 kept, but lost */
	t = table_text(st);
	assert_string_equal(t, "45.0.0.1:9:1\n45.0.0.2:9:22\n45.0.0.5:9:5\n");
	free(t);
#undef ROW
	scratch_close(&x);
}

/* The state is searched, not hashed: by (type, value), a value under
 * two actions answering with its first row and the earlier first_seen;
 * by the id iocsync recorded, with the type and value that id was
 * recorded for; a table read out of order (a damaged type) is sorted. */
static void
test_state_search(void **state)
{
	(void)state;
	struct scratch x;
	struct store *st = scratch_open(&x, "state");
	char why[300];
	struct store_ind rows[] = {
		{.type = IOC_IP, .action = 2, .value = "45.0.0.2", .mde_id = "8", .feeds = "b", .first_seen = 3},
		{.type = IOC_IP, .action = 1, .value = "45.0.0.2", .mde_id = "7", .feeds = "a", .first_seen = 5},
		{.type = IOC_DOMAIN, .action = 1, .value = "a.example", .mde_id = "9", .first_seen = 4},
		{.type = IOC_IP, .action = 1, .value = "45.0.0.1", .mde_id = "", .first_seen = 1},
		{.type = IOC_IP, .action = 1, .value = "45.0.0.10", .mde_id = "10", .first_seen = 6},
	};
	assert_int_equal(store_ind_add(st, rows, 5, NULL, 0), ERR_OK);
	for (int damaged = 0; damaged < 2; damaged++) {
		struct state s;
		state_load(st, &s);
		assert_int_equal(s.n, damaged ? 6 : 5);
		const struct state_row *r = state_get(&s, IOC_IP, "45.0.0.2");
		assert_non_null(r);
		assert_int_equal(r->action, 1);
		assert_string_equal(r->feeds, "a");
		assert_int_equal(r->first_seen, 3);
		assert_non_null(state_get(&s, IOC_IP, "45.0.0.1"));
		assert_non_null(state_get(&s, IOC_IP, "45.0.0.10"));
		assert_non_null(state_get(&s, IOC_DOMAIN, "a.example"));
		assert_null(state_get(&s, IOC_IP, "45.0.0.0"));
		assert_null(state_get(&s, IOC_IP, "45.0.0.3"));
		assert_null(state_get(&s, IOC_URL, "a.example"));
		assert_true(state_made(&s, "7", IOC_IP, "45.0.0.2"));
		assert_true(state_made(&s, "8", IOC_IP, "45.0.0.2"));
		assert_true(state_made(&s, "9", IOC_DOMAIN, "a.example"));
		assert_true(state_made(&s, "10", IOC_IP, "45.0.0.10"));
		assert_false(state_made(&s, "9", IOC_IP, "a.example"));
		assert_false(state_made(&s, "7", IOC_IP, "45.0.0.1"));
		assert_false(state_made(&s, "", IOC_IP, "45.0.0.1"));
		assert_false(state_made(&s, NULL, IOC_IP, "45.0.0.1"));
		assert_false(state_made(&s, "11", IOC_IP, "45.0.0.1"));
		state_free(&s);
		if (damaged)
			break;
		/* A type SQLite keeps as text sorts after every number and
		 * reads as 0: first in iocsync's order. */
		enum err e = store_exec(st,
					"INSERT INTO indicators (type, value, action, mde_id, first_seen, last_seen)"
					" VALUES ('x', 'zz', 1, '12', 1, 1)",
					why, sizeof(why));
		if (e != ERR_OK)
			fail_msg("%s", why);
	}
	scratch_close(&x);
}

/* ---- the firewall push and its template's references ---- */

/* Graph behind the stub: no policy yet, the template's settings as
 * given (NULL: a 404), and a created policy's body kept. */
struct graph_stub {
	const char *templates;
	char *created;
	int template_reads;
};

static enum err
graph_stub(void *ctx, const struct http_req *q, long long max_body, struct http_reply *r)
{
	struct graph_stub *g = ctx;
	(void)max_body;
	const char *body = "{\"value\":[]}";
	r->status = 200;
	if (strstr(q->url, "/oauth2/")) {
		body = TOKEN_ANSWER;
	} else if (strstr(q->url, "/settingTemplates")) {
		g->template_reads++;
		if (g->templates)
			body = g->templates;
		else {
			r->status = 404;
			body = "{\"error\":{\"code\":\"NotFound\",\"message\":\"no such template\"}}";
		}
	} else if (strcmp(q->method, "POST") == 0) {
		free(g->created);
		g->created = xstrndup(q->body, q->len);
		r->status = 201;
		body = "{\"id\":\"p1\"}";
	}
	r->body = xstrdup(body);
	r->len = strlen(body);
	return ERR_OK;
}

/* The settingInstance of the created policy's first setting. */
static json_t *
created_instance(const struct graph_stub *g)
{
	json_t *p = json_loads(g->created, 0, NULL);
	assert_non_null(p);
	json_t *inst =
		json_incref(json_object_get(json_array_get(json_object_get(p, "settings"), 0), "settingInstance"));
	json_decref(p);
	assert_non_null(inst);
	return inst;
}

/* The push reads the tenant's template and puts its references on the
 * settings it defines, at any depth (an instance's, and its values'),
 * and on nothing else; a template it cannot read is said, and the
 * policy goes without references. */
static void
test_push_carries_the_templates_references(void **state)
{
	(void)state;
	struct config *c = list_config("[firewall]\ngraph_url = https://graph.invalid\n");
	const char *addrs[] = {"45.1.2.3", "45.1.2.9"};
	struct fw_push_result res;
	char why[300];
	struct graph_stub g = {
		.templates =
			"{\"value\":[{\"id\":\"0\",\"settingInstanceTemplate\":{"
			"\"settingInstanceTemplateId\":\"T-GROUP\",\"settingDefinitionId\":"
			"\"vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}\","
			"\"groupSettingCollectionValueTemplate\":[{\"settingValueTemplateId\":\"V-GROUP\","
			"\"children\":[{\"settingInstanceTemplateId\":\"T-PROTO\",\"settingDefinitionId\":"
			"\"vendor_msft_firewall_mdmstore_firewallrules_{firewallrulename}_protocol\","
			"\"simpleSettingValueTemplate\":{\"settingValueTemplateId\":\"V-PROTO\"}}]}]}}]}"};
	http_set_stub(graph_stub, &g);
	assert_int_equal(fw_push(c, addrs, 2, false, NULL, &res, why, sizeof(why)), ERR_OK);
	assert_int_equal(res.created, 1);
	assert_int_equal(g.template_reads, 1);
	json_t *inst = created_instance(&g);
	assert_string_equal(json_string_value(json_object_get(json_object_get(inst, "settingInstanceTemplateReference"),
							      "settingInstanceTemplateId")),
			    "T-GROUP");
	json_t *rule = json_array_get(json_object_get(inst, "groupSettingCollectionValue"), 0);
	assert_string_equal(json_string_value(json_object_get(json_object_get(rule, "settingValueTemplateReference"),
							      "settingValueTemplateId")),
			    "V-GROUP");
	size_t i, with = 0;
	json_t *ch;
	json_array_foreach(json_object_get(rule, "children"), i, ch) {
		const char *d = json_string_value(json_object_get(ch, "settingDefinitionId"));
		json_t *ref = json_object_get(ch, "settingInstanceTemplateReference");
		if (strstr(d, "}_protocol")) {
			assert_string_equal(json_string_value(json_object_get(ref, "settingInstanceTemplateId")),
					    "T-PROTO");
			json_t *vref = json_object_get(json_object_get(ch, "simpleSettingValue"),
						       "settingValueTemplateReference");
			assert_string_equal(json_string_value(json_object_get(vref, "settingValueTemplateId")),
					    "V-PROTO");
			assert_true(json_is_false(json_object_get(vref, "useTemplateDefault")));
			with++;
		} else {
			assert_null(ref); /* the template does not define it */
		}
	}
	assert_int_equal(with, 1);
	json_decref(inst);
	/* No template to read: the policy goes as it is, and that is said. */
	free(g.created);
	g = (struct graph_stub){0};
	const char *other[] = {"45.1.2.5"};
	assert_int_equal(fw_push(c, other, 1, false, NULL, &res, why, sizeof(why)), ERR_OK);
	assert_int_equal(res.created, 1);
	assert_int_equal(g.template_reads, 1);
	assert_null(strstr(g.created, "TemplateReference"));
	free(g.created);
	/* A dry run reads nothing it does not need. */
	g = (struct graph_stub){0};
	assert_int_equal(fw_push(c, addrs, 2, true, NULL, &res, why, sizeof(why)), ERR_OK);
	assert_int_equal(g.template_reads, 0);
	assert_null(g.created);
	http_set_stub(NULL, NULL);
	config_free(c);
}

/* ---- a made body sent again on a fresh connection ---- */

/* A loopback server: the first connection answers one request, then
 * reads a second whole and closes without a word (a kept connection the
 * server dropped); the second connection keeps what it is sent. */
struct drop_server {
	int lfd;
	struct strbuf again; /* the body that came on the second connection */
	int answered;
};

/* Reads one request's body into body (headers up to the blank line,
 * then Content-Length bytes); false at EOF or on a short read. */
static bool
read_request(int fd, struct strbuf *body)
{
	struct strbuf h = {0};
	char c;
	while (h.len < 4 || memcmp(h.buf + h.len - 4, "\r\n\r\n", 4) != 0) {
		if (read(fd, &c, 1) != 1) {
			sb_free(&h);
			return false;
		}
		sb_addc(&h, c);
	}
	const char *cl = strcasestr(h.buf, "\r\nContent-Length:");
	size_t want = cl ? strtoull(cl + 17, NULL, 10) : 0;
	sb_free(&h);
	body->len = 0;
	char b[65536];
	while (body->len < want) {
		size_t n = want - body->len < sizeof(b) ? want - body->len : sizeof(b);
		ssize_t k = read(fd, b, n);
		if (k <= 0)
			return false;
		sb_add(body, b, (size_t)k);
	}
	return true;
}

static void *
drop_server_run(void *v)
{
	struct drop_server *d = v;
	static const char ok[] = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
	struct strbuf body = {0};
	int fd = accept(d->lfd, NULL, NULL);
	if (fd >= 0 && read_request(fd, &body) && write(fd, ok, sizeof(ok) - 1) == sizeof(ok) - 1) {
		d->answered++;
		read_request(fd, &body);
	}
	if (fd >= 0)
		close(fd);
	fd = accept(d->lfd, NULL, NULL);
	if (fd >= 0 && read_request(fd, &d->again) && write(fd, ok, sizeof(ok) - 1) == sizeof(ok) - 1)
		d->answered++;
	if (fd >= 0)
		close(fd);
	sb_free(&body);
	return NULL;
}

struct made_text {
	size_t n; /* bytes */
	int made; /* times made */
};

static char *
make_text(void *ctx, size_t *len)
{
	struct made_text *m = ctx;
	char *t = xmalloc(m->n + 1);
	for (size_t i = 0; i < m->n; i++)
		t[i] = (char)('a' + i % 26);
	t[m->n] = '\0';
	m->made++;
	*len = m->n;
	return t;
}

/* libcurl finds the kept connection closed after it sent a made body:
 * it seeks back to the start, the body is made again (it was given back
 * at its last byte) and reaches the fresh connection whole. */
static void
test_made_body_sent_again_on_a_fresh_connection(void **state)
{
	(void)state;
	struct drop_server d = {.lfd = socket(AF_INET, SOCK_STREAM, 0)};
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t al = sizeof(a);
	assert_true(d.lfd >= 0);
	assert_int_equal(bind(d.lfd, (struct sockaddr *)&a, sizeof(a)), 0);
	assert_int_equal(listen(d.lfd, 4), 0);
	assert_int_equal(getsockname(d.lfd, (struct sockaddr *)&a, &al), 0);
	pthread_t th;
	assert_int_equal(pthread_create(&th, NULL, drop_server_run, &d), 0);
	char *url = xasprintf("http://127.0.0.1:%d/import", ntohs(a.sin_port));
	struct http_opts o = {.connect_timeout_s = 5, .timeout_s = 30};
	struct http *h = http_new(&o);
	struct made_text small = {.n = 10}, big = {.n = 300000};
	struct http_body mk_small = {make_text, &small}, mk_big = {make_text, &big};
	struct http_reply r;
	assert_int_equal(http_send_stream(h, "POST", url, NULL, NULL, 0, &mk_small, NULL, &r), ERR_OK);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
	assert_int_equal(http_send_stream(h, "POST", url, NULL, NULL, 0, &mk_big, NULL, &r), ERR_OK);
	assert_int_equal(r.status, 200);
	http_reply_free(&r);
	assert_int_equal(pthread_join(th, NULL), 0);
	assert_int_equal(d.answered, 2);
	assert_int_equal(big.made, 2);
	assert_int_equal(d.again.len, big.n);
	char *want = make_text(&big, &big.n);
	assert_memory_equal(d.again.buf, want, big.n);
	free(want);
	sb_free(&d.again);
	http_free(h);
	close(d.lfd);
	free(url);
}

static char *
two_items(void *ctx, size_t *len)
{
	(void)ctx;
	char *t = xstrdup("{\"Indicators\":[{},{}]}");
	*len = strlen(t);
	return t;
}

/* An import's results are read as they stream into a compact form:
 * strings and numbers for ids, failures with their reasons; a count or
 * a shape that is not MDE's is refused whole. */
static void
test_import_answer_shapes(void **state)
{
	(void)state;
	struct config *c = list_config("");
	struct fake_clock fc = {0};
	struct clock clk = {fake_now, fake_sleep, &fc};
	static const struct {
		const char *body;
		const char *why; /* NULL: taken */
	} cases[] = {
		{"{\"value\":[{\"id\":\"1\",\"indicator\":\"45.0.0.1\",\"isFailed\":false,\"failureReason\":null},"
		 "{\"id\":2,\"indicator\":\"45.0.0.2\",\"isFailed\":true,\"failureReason\":\"InvalidInput: no\"}],"
		 "\"@odata.context\":\"x\"}",
		 NULL},
		{"{\"value\":[{\"id\":\"1\"}]}", "1 results for 2"},
		{"{\"value\":[{\"id\":\"1\"},{\"id\":\"2\"},{\"id\":\"3\"}]}", "3 results for 2"},
		{"{\"value\":[{\"id\":\"1\",\"id\":\"2\"},{}]}", "not JSON"},
		{"{\"value\":{}}", "not an array"},
		{"{\"value\":[{},{}]", "ends early"},
		{"", "ends early"},
	};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct list_stub ls = {.mode = LIST_BODY, .body = cases[i].body};
		struct http_body made = {two_items, NULL};
		struct mde_import_results res;
		char why[400] = "";
		long status = 0;
		struct mde *m = stubbed(c, &clk, &ls);
		enum err e = mde_import(m, &made, 2, &res, &status, why, sizeof(why));
		assert_non_null(ls.sent); /* the made body went, whole */
		assert_string_equal(ls.sent, "{\"Indicators\":[{},{}]}");
		free(ls.sent);
		if (cases[i].why) {
			if (e != ERR_PARSE || res.n != 0 || strstr(why, cases[i].why) == NULL)
				fail_msg("case %zu: %d, %s", i, (int)e, why);
		} else {
			if (e != ERR_OK)
				fail_msg("case %zu: %s", i, why);
			assert_int_equal(res.n, 2);
			assert_string_equal(res.item[0].id, "1");
			assert_string_equal(res.item[0].indicator, "45.0.0.1");
			assert_false(res.item[0].failed);
			assert_null(res.item[0].reason);
			assert_string_equal(res.item[1].id, "2");
			assert_true(res.item[1].failed);
			assert_string_equal(res.item[1].reason, "InvalidInput: no");
		}
		mde_import_results_free(&res);
		mde_free(m);
	}
	http_set_stub(NULL, NULL);
	config_free(c);
}

/* sb_json_str writes a string as jansson does (the emulator's kept text
 * and change lines are read back by jansson). */
static void
test_json_str_as_jansson_writes_it(void **state)
{
	(void)state;
	static const char *const cases[] = {"",     "plain",      "q\"uote",      "back\\slash",
					    "a/b",  "\b\f\n\r\t", "\x01\x1f\x7f", "caf\xc3\xa9 \xe2\x82\xac",
					    "end\\"};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct strbuf sb = {0};
		sb_json_str(&sb, cases[i], strlen(cases[i]));
		json_t *j = json_string(cases[i]);
		char *want = json_dumps(j, JSON_ENCODE_ANY);
		assert_string_equal(sb.buf, want);
		free(want);
		json_decref(j);
		sb_free(&sb);
	}
}

/* sb_add_int writes what "%lld" does, at both ends of the range. */
static void
test_add_int_as_printf_writes_it(void **state)
{
	(void)state;
	static const long long cases[] = {0, 7, -7, 10, 1234567890123LL, LLONG_MAX, LLONG_MIN};
	for (size_t i = 0; i < NELEM(cases); i++) {
		struct strbuf sb = {0};
		char want[32];
		sb_adds(&sb, "x");
		sb_add_int(&sb, cases[i]);
		snprintf(want, sizeof(want), "x%lld", cases[i]);
		assert_string_equal(sb.buf, want);
		sb_free(&sb);
	}
}

/* utf8_valid takes ASCII eight bytes at a time: what follows a run of
 * it, at every offset, is still checked. */
static void
test_utf8_after_ascii_runs(void **state)
{
	(void)state;
	char buf[64];
	for (size_t at = 0; at < 40; at++) {
		memset(buf, 'a', sizeof(buf));
		memcpy(buf + at, "\xc3\xa9", 2); /* é: valid */
		assert_true(utf8_valid(buf, sizeof(buf)));
		buf[at + 1] = 'a'; /* a lead byte without its continuation */
		assert_false(utf8_valid(buf, sizeof(buf)));
		memset(buf, 'a', sizeof(buf));
		buf[at] = (char)0x80; /* a continuation byte alone */
		assert_false(utf8_valid(buf, sizeof(buf)));
		assert_true(utf8_valid(buf, at)); /* the ASCII before it */
	}
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ratelimit_minute_window),
		cmocka_unit_test(test_ratelimit_hour_window),
		cmocka_unit_test(test_ratelimit_block_until),
		cmocka_unit_test(test_retry_decide),
		cmocka_unit_test(test_retry_after_both_forms),
		cmocka_unit_test(test_retry_backoff_jitter_and_cap),
		cmocka_unit_test(test_http_url_rules),
		cmocka_unit_test(test_redirect_to_an_internal_address),
		cmocka_unit_test(test_plan_every_kind),
		cmocka_unit_test(test_plan_budget_by_priority_severity_recency),
		cmocka_unit_test(test_plan_hold_grace_and_down_feeds),
		cmocka_unit_test(test_plan_renew_not_every_run),
		cmocka_unit_test(test_desired_share),
		cmocka_unit_test(test_plan_max_delete_holds_deletions_only),
		cmocka_unit_test(test_plan_budget_keeps_what_is_in_mde),
		cmocka_unit_test(test_attr_hash_and_retryable),
		cmocka_unit_test(test_mde_id_text_or_number),
		cmocka_unit_test(test_list_paging_stops_on_404_repeat_and_past_the_cap),
		cmocka_unit_test(test_list_page_shapes),
		cmocka_unit_test(test_value_scan_in_any_chunks),
		cmocka_unit_test(test_history_keeps_the_newest_per_value),
		cmocka_unit_test(test_add_int_as_printf_writes_it),
		cmocka_unit_test(test_import_answer_shapes),
		cmocka_unit_test(test_replace_keeps_what_a_batch_recorded),
		cmocka_unit_test(test_state_search),
		cmocka_unit_test(test_push_carries_the_templates_references),
		cmocka_unit_test(test_made_body_sent_again_on_a_fresh_connection),
		cmocka_unit_test(test_utf8_after_ascii_runs),
		cmocka_unit_test(test_json_str_as_jansson_writes_it),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
