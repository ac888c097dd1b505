/*
 * The one libcurl wrapper, for API calls (MDE and its login endpoint) and
 * feed downloads alike: one easy handle per client, reused so connections
 * stay open; connect and total timeouts; a body cap; a CA file and a
 * proxy from the configuration only (never the *_proxy environment, so a
 * service behaves as its configuration says). Redirects, file:// and the
 * stall guard are per request, for feeds. It never decides whether to
 * retry: retry.h does. Which URLs an API may use is http_url_ok's call.
 */
#ifndef IOCSYNC_HTTP_H
#define IOCSYNC_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct http_opts {
	const char *ca_file, *proxy, *user_agent;
	long long connect_timeout_s, timeout_s;
	long long max_body;		/* bytes of a reply body */
};

enum http_fail {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_CONNECT,	/* DNS, refused: nothing was sent */
	HTTP_FAIL_TIMEOUT,	/* may have reached the server */
	HTTP_FAIL_RESET,	/* reset, closed early, truncated: may have reached it */
	HTTP_FAIL_TLS,		/* certificate or handshake: never retried */
	HTTP_FAIL_TOO_LARGE,	/* the body passed max_body */
	HTTP_FAIL_OTHER,
};

struct http_reply {
	long status;		/* 0 when the transfer failed */
	enum http_fail fail;
	char *body;		/* malloc'd and NUL-terminated, or NULL */
	size_t len;
	char retry_after[64];	/* the Retry-After header, or "" */
	char *etag, *last_modified; /* the final answer's validators, or NULL */
	char *taxii_last;	/* X-TAXII-Date-Added-Last, or NULL */
	char error[256];	/* what failed, for people */
};

struct http_req {
	const char *method, *url;
	const char *const *headers;	/* NULL-terminated, or NULL */
	const char *body;		/* or NULL */
	size_t len;
	long max_redirects;		/* 0: a redirect is the answer */
	bool allow_file;		/* file:// too (feeds) */
	bool stall_guard;		/* under 100 B/s for 30 s ends it */
	bool raw_gzip;			/* ask for gzip, hand it over undecoded */
};

struct http;

struct http *http_new(const struct http_opts *o);
void http_free(struct http *h);

/* Sends q. Returns ERR_OK when an answer came (any status; 0 for a
 * file), ERR_NET otherwise; r is filled in both cases and freed with
 * http_reply_free. */
enum err http_do(struct http *h, const struct http_req *q, struct http_reply *r);

/* http_do for an API call: no redirect, no file://. */
enum err http_send(struct http *h, const char *method, const char *url, const char *const *headers,
		   const char *body, size_t len, struct http_reply *r);
void http_reply_free(struct http_reply *r);

/*
 * For fuzzers and tests that need exact bytes on the wire: while a stub
 * is set, every http_do answers from it and nothing is sent. The stub
 * fills r as http_do would (body malloc'd and NUL-terminated, or fail
 * and error set with status 0) and returns what http_do returns;
 * max_body is the client's cap. Process-wide; NULL restores the network.
 */
typedef enum err (*http_stub_fn)(void *ctx, const struct http_req *q, long long max_body, struct http_reply *r);
void http_set_stub(http_stub_fn fn, void *ctx);

/* Is url acceptable for an API: https, or http to a loopback address
 * (127.0.0.0/8, ::1, localhost) when allow_http. why says why not. */
bool http_url_ok(const char *url, bool allow_http, char *why, size_t whysz);

/* Percent-encodes s for a query string or form body (RFC 3986
 * unreserved kept). */
char *http_escape(const char *s);

#endif
