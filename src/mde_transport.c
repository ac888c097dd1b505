#include "mde_transport.h"

#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "iocsync_limits.h"
#include "log.h"
#include "progress.h"
#include "signals.h"
#include "util.h"

/* Documented limits (spec section 3): calls a minute and an hour. */
static const struct {
	const char *name;
	int per_min, per_hour;
} eps[MDE_EP__COUNT] = {
	[MDE_EP_TOKEN] = {"token", 0, 0},
	[MDE_EP_LIST] = {"list", 100, 1500},
	[MDE_EP_POST] = {"post", 100, 1500},
	[MDE_EP_IMPORT] = {"import", 30, 0},
	[MDE_EP_DELETE] = {"delete", 100, 1500},
	[MDE_EP_BATCHDELETE] = {"batchdelete", 30, 1500},
	[MDE_EP_MACHINES] = {"machines", 100, 1500},
	[MDE_EP_QUERY] = {"advancedqueries", 45, 1500},
	/* Intune's per-app limits are not in the pages read
	 * (docs/graph-firewall.md section 6): 60 a minute stays well clear. */
	[MDE_EP_GRAPH] = {"graph", 60, 0},
};

struct mde_transport {
	struct http *h;
	const struct clock *clk;
	struct ratelimit rl[MDE_EP__COUNT];
	uint64_t rng; /* the back-off's jitter */
	struct mde_stats st;
};

const char *
mde_ep_name(enum mde_ep ep)
{
	return ep < MDE_EP__COUNT ? eps[ep].name : "?";
}

const char *
mde_class_name(enum mde_class k)
{
	static const char *const names[] = {"2xx", "3xx", "4xx", "429", "5xx", "none"};
	_Static_assert(NELEM(names) == MDE_CLASS__COUNT, "class names");
	return (unsigned)k < MDE_CLASS__COUNT ? names[k] : "";
}

struct mde_transport *
mde_transport_new(const struct config *c, const struct clock *clk, char *why, size_t whysz)
{
	struct mde_transport *m = xcalloc(1, sizeof(*m));
	m->clk = clk ? clk : &clock_real;
	/* Jitter spreads real clients apart; under an injected clock (a
	 * test, a fuzzer) the same input must take the same path. */
	if (clk == NULL || clk == &clock_real)
		RAND_bytes((unsigned char *)&m->rng, sizeof(m->rng));
	else
		m->rng = 0x9e3779b97f4a7c15ULL;
	m->rng |= 1;
	struct http_opts ho = {
		.ca_file = c->mde_ca_file, /* never [fetch] ca_file: a feed's CA is not trusted for Microsoft */
		.proxy = c->mde_proxy ? c->mde_proxy : c->proxy,
		.user_agent = c->user_agent,
		.connect_timeout_s = c->connect_timeout_s,
		.timeout_s = c->api_timeout_s,
		.max_body = LIMIT_MDE_BODY_BYTES,
	};
	if ((m->h = http_new(&ho)) == NULL) {
		set_why(why, whysz, "cannot start libcurl");
		free(m);
		return NULL;
	}
	for (int i = 0; i < MDE_EP__COUNT; i++) {
		long long pm = (long long)eps[i].per_min * c->rate_limit_pct / 100;
		long long ph = (long long)eps[i].per_hour * c->rate_limit_pct / 100;
		if (c->rate_limit_pct == 0)
			pm = ph = 0;
		else {
			if (eps[i].per_min && pm < 1)
				pm = 1;
			if (eps[i].per_hour && ph < 1)
				ph = 1;
		}
		ratelimit_init(&m->rl[i], (int)pm, (int)ph);
	}
	return m;
}

void
mde_transport_free(struct mde_transport *m)
{
	if (m == NULL)
		return;
	http_free(m->h);
	for (int i = 0; i < MDE_EP__COUNT; i++)
		ratelimit_free(&m->rl[i]);
	free(m);
}

double
mde_transport_now(const struct mde_transport *m)
{
	return m->clk->now(m->clk->ctx);
}

const struct mde_stats *
mde_transport_stats(const struct mde_transport *m)
{
	return &m->st;
}

double
mde_transport_wait(struct mde_transport *m, enum mde_ep ep)
{
	return ratelimit_wait(&m->rl[ep], mde_transport_now(m));
}

/* Waits for ep's budget; false when that would pass the deadline. The
 * call that then goes is recorded by the caller (send records it). */
static bool
await_budget(struct mde_transport *m, enum mde_ep ep, double deadline, double *at, char *why, size_t whysz)
{
	double now = mde_transport_now(m), w = ratelimit_wait(&m->rl[ep], now);
	if (w > 0) {
		if (now + w > deadline) {
			set_why(why, whysz, "%s: the rate limit would hold the call %.0f s, past the deadline",
				eps[ep].name, w);
			return false;
		}
		if (w >= LIMIT_LONG_WAIT_S)
			log_info("%s: waiting %.0f s for the endpoint's rate limit", eps[ep].name, w);
		progress_wait(eps[ep].name, w);
		m->clk->sleep(m->clk->ctx, w);
		m->st.waited_s += w;
		now = mde_transport_now(m);
	}
	if (signals_stop_requested()) {
		set_why(why, whysz, "stopping on %s", signals_stop_name());
		return false;
	}
	*at = now;
	return true;
}

bool
mde_transport_await(struct mde_transport *m, enum mde_ep ep, double deadline, char *why, size_t whysz)
{
	double at;
	return await_budget(m, ep, deadline, &at, why, whysz);
}

enum err
mde_transport_send(struct mde_transport *m, enum mde_ep ep, const char *method, const char *url,
		   const char *const *hdrs, const char *body, size_t len, double deadline, struct http_reply *r,
		   enum retry_verdict *v, char *why, size_t whysz)
{
	return mde_transport_send_stream(m, ep, method, url, hdrs, body, len, NULL, NULL, deadline, r, v, why, whysz);
}

enum err
mde_transport_send_stream(struct mde_transport *m, enum mde_ep ep, const char *method, const char *url,
			  const char *const *hdrs, const char *body, size_t len, const struct http_body *made,
			  const struct http_stream *stream, double deadline, struct http_reply *r,
			  enum retry_verdict *v, char *why, size_t whysz)
{
	for (unsigned attempt = 1;; attempt++) {
		double at;
		if (!await_budget(m, ep, deadline, &at, why, whysz)) {
			*r = (struct http_reply){0};
			return ERR_NET;
		}
		ratelimit_record(&m->rl[ep], at);
		m->st.calls[ep]++;
		http_send_stream(m->h, method, url, hdrs, body, len, made, stream, r);
		*v = retry_decide(r->status, r->fail);
		m->st.by_class[ep][r->status == 429           ? MDE_429
					   : r->status >= 500 ? MDE_5XX
					   : r->status >= 400 ? MDE_4XX
					   : r->status >= 300 ? MDE_3XX
					   : r->status >= 200 ? MDE_2XX
							      : MDE_NONE]++;
		if (r->status == 429)
			m->st.throttled[ep]++;
		if (r->status == 0 || r->status >= 500)
			m->st.failed[ep]++;
		if (*v != RETRY_AGAIN)
			return ERR_OK;
		double wait = -1;
		if (r->status == 429 || r->status == 503)
			wait = retry_after_parse(r->retry_after, time(NULL), LIMIT_RETRY_AFTER_MAX_S);
		if (wait < 0)
			wait = retry_backoff(attempt, r->status == 429 ? 2.0 : 0.5, 60.0, &m->rng);
		double now = mde_transport_now(m);
		char what[300];
		if (r->status)
			snprintf(what, sizeof(what), "HTTP %ld", r->status);
		else
			snprintf(what, sizeof(what), "%s", r->error);
		if (now + wait > deadline) {
			set_why(why, whysz, "%s %s: %s, and a retry in %.0f s would pass the deadline", method,
				eps[ep].name, what, wait);
			*v = RETRY_FAIL;
			http_reply_free(r);
			return ERR_NET;
		}
		log_info("%s: %s; retry %u in %.1f s", eps[ep].name, what, attempt, wait);
		if (r->status == 429)
			ratelimit_block(&m->rl[ep], now + wait);
		else {
			progress_wait(eps[ep].name, wait);
			m->clk->sleep(m->clk->ctx, wait);
			m->st.waited_s += wait;
		}
		m->st.retries[ep]++;
		http_reply_free(r);
	}
}
