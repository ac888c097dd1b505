/*
 * The MDE client's transport: every request to Entra ID and MDE goes
 * through mde_transport_send, which keeps each endpoint's budget (the
 * documented calls a minute and an hour, spec 3), retries what can pass
 * on retry (timeouts, resets, 429, 5xx: retry.h) within the caller's
 * deadline, honours Retry-After, and counts what the calls cost. It
 * never sees what the headers or the body hold.
 */
#ifndef IOCSYNC_MDE_TRANSPORT_H
#define IOCSYNC_MDE_TRANSPORT_H

#include <stddef.h>

#include "config.h"
#include "err.h"
#include "http.h"
#include "ratelimit.h"
#include "retry.h"

enum mde_ep {
	MDE_EP_TOKEN,
	MDE_EP_LIST,        /* GET /api/indicators */
	MDE_EP_POST,        /* POST /api/indicators */
	MDE_EP_IMPORT,      /* POST /api/indicators/import */
	MDE_EP_DELETE,      /* DELETE /api/indicators/{id} */
	MDE_EP_BATCHDELETE, /* POST /api/indicators/BatchDelete */
	MDE_EP_MACHINES,    /* GET /api/machines */
	MDE_EP_QUERY,       /* POST /api/advancedqueries/run */
	MDE_EP_GRAPH,       /* Microsoft Graph: Intune's configurationPolicies */
	MDE_EP__COUNT
};
/* "list", "import", ... (stable: logs, JSON, metrics). */
const char *mde_ep_name(enum mde_ep ep);

/* Classes of answer, for the metrics: 2xx, 3xx, 4xx (429 apart), 429,
 * 5xx, and "none" (no answer: the transport failed). */
enum mde_class {
	MDE_2XX,
	MDE_3XX,
	MDE_4XX,
	MDE_429,
	MDE_5XX,
	MDE_NONE,
	MDE_CLASS__COUNT
};
const char *mde_class_name(enum mde_class k);

/* What the calls of a run cost, per endpoint. */
struct mde_stats {
	unsigned long calls[MDE_EP__COUNT]; /* requests sent (retries too) */
	unsigned long retries[MDE_EP__COUNT];
	unsigned long throttled[MDE_EP__COUNT];                  /* 429s received */
	unsigned long failed[MDE_EP__COUNT];                     /* transport failures and 5xx */
	unsigned long by_class[MDE_EP__COUNT][MDE_CLASS__COUNT]; /* answers by status class */
	double waited_s;                                         /* time spent waiting on budgets */
};

struct mde_transport;

/* From c's [mde] and [fetch] settings: TLS (mde_ca_file, never a feed's
 * ca_file), proxy, timeouts, rate_limit_pct. clk NULL: the real clock.
 * NULL with why filled when libcurl cannot start. */
struct mde_transport *mde_transport_new(const struct config *c, const struct clock *clk, char *why, size_t whysz);
void mde_transport_free(struct mde_transport *t);

/* The transport's clock, in seconds. */
double mde_transport_now(const struct mde_transport *t);
const struct mde_stats *mde_transport_stats(const struct mde_transport *t);
/* How long ep's budget holds the next call now, in seconds (0: it may go). */
double mde_transport_wait(struct mde_transport *t, enum mde_ep ep);
/* Waits until a call to ep fits its budget, without making one; false
 * (why filled) when that would pass the deadline or a stop was asked for. */
bool mde_transport_await(struct mde_transport *t, enum mde_ep ep, double deadline, char *why, size_t whysz);

/*
 * Sends one request to url with retries, waiting for ep's budget first.
 * hdrs is a NULL-terminated list. ERR_OK: *r holds the last answer
 * (http_reply_free it) and *v its verdict (RETRY_OK, RETRY_FAIL or
 * RETRY_REFRESH for a 401, which the caller handles). ERR_NET: the
 * deadline would pass, or a stop was asked for; *r is freed then.
 */
enum err mde_transport_send(struct mde_transport *t, enum mde_ep ep, const char *method, const char *url,
			    const char *const *hdrs, const char *body, size_t len, double deadline,
			    struct http_reply *r, enum retry_verdict *v, char *why, size_t whysz);
/* mde_transport_send with a 2xx body read by stream (http.h), reset
 * before every try, and the request's body made by made for each try
 * when it is not NULL (http_body). */
enum err mde_transport_send_stream(struct mde_transport *t, enum mde_ep ep, const char *method, const char *url,
				   const char *const *hdrs, const char *body, size_t len, const struct http_body *made,
				   const struct http_stream *stream, double deadline, struct http_reply *r,
				   enum retry_verdict *v, char *why, size_t whysz);

#endif
