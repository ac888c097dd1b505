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
	const char *ca_file; /* trusted besides the system's store, or NULL */
	const char *proxy, *user_agent;
	long long connect_timeout_s, timeout_s;
	long long max_body; /* bytes of a reply body */
};

enum http_fail {
	HTTP_FAIL_NONE = 0,
	HTTP_FAIL_CONNECT,   /* DNS, refused: nothing was sent */
	HTTP_FAIL_TIMEOUT,   /* may have reached the server */
	HTTP_FAIL_RESET,     /* reset, closed early, truncated: may have reached it */
	HTTP_FAIL_TLS,       /* certificate or handshake: never retried */
	HTTP_FAIL_TOO_LARGE, /* the body passed max_body */
	HTTP_FAIL_OTHER,
};

struct http_reply {
	long status; /* 0 when the transfer failed */
	enum http_fail fail;
	char *body; /* malloc'd and NUL-terminated, or NULL */
	size_t len;
	char retry_after[64];       /* the Retry-After header, or "" */
	char *etag, *last_modified; /* the final answer's validators, or NULL */
	char *taxii_last;           /* X-TAXII-Date-Added-Last, or NULL */
	char *www_authenticate;     /* WWW-Authenticate (a managed identity's challenge), or NULL */
	char error[256];            /* what failed, for people */
	bool stream_stopped;        /* a 2xx body went to the request's stream, which stopped
				       it: what it found wrong is its own to tell */
};

/* A body read as it comes instead of kept whole (MDE's listings: a
 * tenant's page of 10,000 indicators never sits in memory at once). Only
 * a 2xx answer's body goes to feed; another's is kept, for its error.
 * reset is called before every transfer (a retry starts over); feed
 * returning false stops the transfer, and the reply says so. */
struct http_stream {
	void (*reset)(void *ctx);
	bool (*feed)(void *ctx, const char *p, size_t n);
	void *ctx;
};

/* A request body made as its transfer starts and given back as soon as
 * libcurl has taken its last byte, not held until the answer comes: a
 * provider's thousand tenants queued at MDE each held an import of
 * 200 KB. make returns the text malloc'd, with its length; it is called
 * again when a transfer starts over (a retry, or a kept connection
 * libcurl found closed) and must then give the same text. */
struct http_body {
	char *(*make)(void *ctx, size_t *len);
	void *ctx;
};

struct http_req {
	const char *method, *url;
	const struct http_stream *stream; /* or NULL: the body is kept */
	const char *const *headers;       /* NULL-terminated, or NULL */
	const char *body;                 /* or NULL */
	size_t len;
	const struct http_body *made; /* instead of body and len, or NULL */
	long max_redirects;           /* 0: a redirect is the answer */
	bool allow_file;              /* file:// too (feeds) */
	bool stall_guard;             /* under 100 B/s for 30 s ends it */
	bool raw_gzip;                /* ask for gzip, hand it over undecoded */
	bool no_private_redirect;     /* after a redirect, no loopback, private or link-local
					   address unless the first connection went to one */
};

struct http;

struct http *http_new(const struct http_opts *o);
void http_free(struct http *h);

/* Sends q. Returns ERR_OK when an answer came (any status; 0 for a
 * file), ERR_NET otherwise; r is filled in both cases and freed with
 * http_reply_free. */
enum err http_do(struct http *h, const struct http_req *q, struct http_reply *r);

/* http_do for an API call: no redirect, no file://. */
enum err http_send(struct http *h, const char *method, const char *url, const char *const *headers, const char *body,
		   size_t len, struct http_reply *r);
/* http_send with the body of a 2xx answer read by stream (may be NULL),
 * and the request's body made by made when it is not NULL. */
enum err http_send_stream(struct http *h, const char *method, const char *url, const char *const *headers,
			  const char *body, size_t len, const struct http_body *made, const struct http_stream *stream,
			  struct http_reply *r);
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

/* A URL's parts as libcurl reads them (the same parser that will send
 * the request, so no check is fooled by "http://127.0.0.1:1@evil/"). */
struct url_parts {
	char scheme[16];
	char host[300];   /* without brackets for IPv6; "" for file:// */
	long port;        /* the scheme's default when none is given */
	bool userinfo;    /* a user or password in the URL */
	bool loopback;    /* 127.0.0.0/8, ::1 or localhost */
	char origin[340]; /* scheme://host:port, lower case */
};
/* false with why when url is not one libcurl takes. */
bool http_url_parts(const char *url, struct url_parts *u, char *why, size_t whysz);

/* Is url acceptable for an API: https, or http to a loopback address
 * (127.0.0.0/8, ::1, localhost) when allow_http; never with userinfo.
 * why says why not. */
bool http_url_ok(const char *url, bool allow_http, char *why, size_t whysz);

/* Is this address one a redirect may not lead to: loopback, private
 * (RFC 1918, ULA), link-local, CGNAT, unspecified? */
bool http_addr_internal(int family, const void *addr);

/* The redirect rule, for each connection of a transfer: *first starts
 * at -1 and learns whether the first connection (no redirect yet) went
 * to an internal address; a connection after a redirect to an internal
 * address is refused unless that one did. */
bool http_guard_refuses(int *first, bool internal, long redirects);

/* Percent-encodes s for a query string or form body (RFC 3986
 * unreserved kept). */
char *http_escape(const char *s);

#endif
