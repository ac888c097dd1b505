#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fetch.h"
#include "limits.h"
#include "util.h"

struct body {
	struct strbuf sb;
	long long max;
	bool over;
};

static size_t
on_data(char *p, size_t sz, size_t n, void *ud)
{
	struct body *b = ud;
	if ((long long)(b->sb.len + sz * n) > b->max) {
		b->over = true;
		return 0; /* aborts the transfer */
	}
	sb_add(&b->sb, p, sz * n);
	return sz * n;
}

static char *
header_value(const char *p, size_t n, const char *name)
{
	size_t k = strlen(name);
	if (n <= k || !has_iprefix(p, n, name) || p[k] != ':')
		return NULL;
	p += k + 1;
	n -= k + 1;
	while (n > 0 && is_space((unsigned char)*p)) {
		p++;
		n--;
	}
	while (n > 0 && is_space((unsigned char)p[n - 1]))
		n--;
	return n > 0 && n < 1024 ? xstrndup(p, n) : NULL;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct fetch_result *r = ud;
	char *v;
	/* A redirect's headers come first; keep the final answer's. */
	if (has_iprefix(p, sz * n, "HTTP/")) {
		free(r->etag);
		free(r->last_modified);
		r->etag = r->last_modified = NULL;
	}
	if ((v = header_value(p, sz * n, "ETag")) != NULL) {
		free(r->etag);
		r->etag = v;
	} else if ((v = header_value(p, sz * n, "Last-Modified")) != NULL) {
		free(r->last_modified);
		r->last_modified = v;
	}
	return sz * n;
}

#define SET(opt, val)                                                                             \
	do {                                                                                      \
		if ((cc = curl_easy_setopt(h, opt, val)) != CURLE_OK)                             \
			goto setopt_failed;                                                       \
	} while (0)

enum err
fetch_url(const char *url, const struct fetch_opts *o, struct fetch_result *r, char *why, size_t whysz)
{
	CURL *h = curl_easy_init();
	struct curl_slist *hdrs = NULL;
	struct body b = {.max = o->max_bytes > 0 ? o->max_bytes : LIMIT_FETCH_BYTES_DEFAULT};
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode cc;
	enum err rc = ERR_OK;

	memset(r, 0, sizeof(*r));
	if (h == NULL) {
		snprintf(why, whysz, "cannot initialise libcurl");
		return ERR_NET;
	}
	SET(CURLOPT_URL, url);
	SET(CURLOPT_PROTOCOLS_STR, "http,https,file");
	SET(CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
	SET(CURLOPT_FOLLOWLOCATION, 1L);
	SET(CURLOPT_MAXREDIRS, (long)o->max_redirects);
	SET(CURLOPT_CONNECTTIMEOUT, (long)o->connect_timeout_s);
	SET(CURLOPT_TIMEOUT, (long)o->timeout_s);
	/* A server trickling bytes is as good as dead: under 100 bytes a
	 * second for 30 seconds ends the transfer. */
	SET(CURLOPT_LOW_SPEED_LIMIT, 100L);
	SET(CURLOPT_LOW_SPEED_TIME, 30L);
	SET(CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)b.max);
	SET(CURLOPT_ACCEPT_ENCODING, "");
	SET(CURLOPT_NOSIGNAL, 1L);
	SET(CURLOPT_SSL_VERIFYPEER, 1L);
	SET(CURLOPT_SSL_VERIFYHOST, 2L);
	SET(CURLOPT_ERRORBUFFER, errbuf);
	SET(CURLOPT_WRITEFUNCTION, on_data);
	SET(CURLOPT_WRITEDATA, &b);
	SET(CURLOPT_HEADERFUNCTION, on_header);
	SET(CURLOPT_HEADERDATA, r);
	if (o->user_agent)
		SET(CURLOPT_USERAGENT, o->user_agent);
	if (o->ca_file)
		SET(CURLOPT_CAINFO, o->ca_file);
	if (o->proxy)
		SET(CURLOPT_PROXY, o->proxy);
	if (o->etag) {
		char *hv = xasprintf("If-None-Match: %s", o->etag);
		hdrs = curl_slist_append(hdrs, hv);
		free(hv);
	}
	if (o->last_modified) {
		char *hv = xasprintf("If-Modified-Since: %s", o->last_modified);
		hdrs = curl_slist_append(hdrs, hv);
		free(hv);
	}
	if (hdrs)
		SET(CURLOPT_HTTPHEADER, hdrs);

	cc = curl_easy_perform(h);
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->status);
	if (b.over || cc == CURLE_FILESIZE_EXCEEDED) {
		snprintf(why, whysz, "body larger than max_bytes = %lld", b.max);
		rc = ERR_LIMIT;
	} else if (cc != CURLE_OK) {
		snprintf(why, whysz, "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		rc = ERR_NET;
	} else if (r->status == 304 && (o->etag || o->last_modified)) {
		r->not_modified = true;
	} else if (r->status != 200 && r->status != 0) {
		snprintf(why, whysz, "HTTP status %ld", r->status);
		rc = ERR_HTTP;
	}
	if (b.sb.buf == NULL)
		sb_add(&b.sb, "", 0);
	r->body = b.sb.buf;
	r->len = b.sb.len;
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	return rc;

setopt_failed:
	snprintf(why, whysz, "libcurl option refused: %s", curl_easy_strerror(cc));
	curl_slist_free_all(hdrs);
	curl_easy_cleanup(h);
	sb_free(&b.sb);
	return ERR_NET;
}

void
fetch_result_free(struct fetch_result *r)
{
	free(r->body);
	free(r->etag);
	free(r->last_modified);
	memset(r, 0, sizeof(*r));
}
