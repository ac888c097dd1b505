/* Fetching a feed with libcurl: http, https and file; connect and total
 * timeouts; a body cap; a redirect cap (never to file://); gzip; a stall
 * guard; conditional GET with ETag and Last-Modified. */
#ifndef IOCSYNC_FETCH_H
#define IOCSYNC_FETCH_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"

struct fetch_opts {
	long long connect_timeout_s, timeout_s, max_bytes, max_redirects;
	const char *ca_file, *proxy, *user_agent;
	const char *etag, *last_modified; /* validators of the last good copy, or NULL */
};

struct fetch_result {
	long status;       /* HTTP status; 0 for file:// */
	bool not_modified; /* 304: the last good copy is current */
	char *body;        /* malloc'd, NUL-terminated */
	size_t len;
	char *etag, *last_modified; /* from the reply, or NULL */
};

/* Fetches url. Returns ERR_OK with r filled (status 200/304, or 0 for
 * files), ERR_HTTP for another status, ERR_LIMIT when the body passes
 * max_bytes, ERR_NET for transport failures; why says what happened.
 * Free r with fetch_result_free in every case. */
enum err feed_fetch_url(const char *url, const struct fetch_opts *o, struct fetch_result *r, char *why, size_t whysz);
void feed_fetch_result_free(struct fetch_result *r);

#endif
