#include "http.h"

#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct http {
	CURL *curl;
	struct http_opts o;
};

struct sink {
	struct strbuf sb;
	long long max;
	bool over;
	struct http_reply *r;
};

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	if ((long long)(s->sb.len + sz * n) > s->max) {
		s->over = true;
		return 0; /* aborts the transfer */
	}
	sb_add(&s->sb, p, sz * n);
	return sz * n;
}

/* The value of header name in the line p (n bytes), trimmed and
 * malloc'd, or NULL when the line is another header. */
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
	return n < 1024 ? xstrndup(p, n) : NULL;
}

static size_t
on_header(char *p, size_t sz, size_t n, void *ud)
{
	struct http_reply *r = ((struct sink *)ud)->r;
	size_t len = sz * n;
	char *v;
	if (has_iprefix(p, len, "HTTP/")) {
		/* A redirect's or an interim answer's headers come first:
		 * keep only the final answer's. */
		r->retry_after[0] = '\0';
		free(r->etag);
		free(r->last_modified);
		free(r->taxii_last);
		r->etag = r->last_modified = r->taxii_last = NULL;
	} else if ((v = header_value(p, len, "Retry-After")) != NULL) {
		snprintf(r->retry_after, sizeof(r->retry_after), "%s", v);
		free(v);
	} else if ((v = header_value(p, len, "ETag")) != NULL) {
		free(r->etag);
		r->etag = v;
	} else if ((v = header_value(p, len, "Last-Modified")) != NULL) {
		free(r->last_modified);
		r->last_modified = v;
	} else if ((v = header_value(p, len, "X-TAXII-Date-Added-Last")) != NULL) {
		free(r->taxii_last);
		r->taxii_last = v;
	}
	return len;
}

struct http *
http_new(const struct http_opts *o)
{
	struct http *h = xcalloc(1, sizeof(*h));
	h->o = *o;
	h->curl = curl_easy_init();
	if (h->curl == NULL) {
		free(h);
		return NULL;
	}
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h);
}

void
http_reply_free(struct http_reply *r)
{
	free(r->body);
	free(r->etag);
	free(r->last_modified);
	free(r->taxii_last);
	r->body = r->etag = r->last_modified = r->taxii_last = NULL;
	r->len = 0;
}

static enum http_fail
classify(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT:
		return HTTP_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT:
		return HTTP_FAIL_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
		return HTTP_FAIL_RESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS:
		return HTTP_FAIL_TLS;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED:
		return HTTP_FAIL_TOO_LARGE;
	default:
		return HTTP_FAIL_OTHER;
	}
}

static http_stub_fn stub;
static void *stub_ctx;

void
http_set_stub(http_stub_fn fn, void *ctx)
{
	stub = fn;
	stub_ctx = ctx;
}

enum err
http_do(struct http *h, const struct http_req *q, struct http_reply *r)
{
	long long max = h->o.max_body > 0 ? h->o.max_body : 64LL << 20;
	if (stub) {
		memset(r, 0, sizeof(*r));
		return stub(stub_ctx, q, max, r);
	}
	CURL *c = h->curl;
	struct sink s = {.max = max, .r = r};
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";

	memset(r, 0, sizeof(*r));
	/* Reset the per-request options, keep the connection cache. */
	curl_easy_reset(c);
	curl_easy_setopt(c, CURLOPT_URL, q->url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, q->allow_file ? "http,https,file" : "http,https");
	curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"); /* never to file:// */
	curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, q->max_redirects > 0 ? 1L : 0L);
	curl_easy_setopt(c, CURLOPT_MAXREDIRS, q->max_redirects);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, (long)(h->o.connect_timeout_s ? h->o.connect_timeout_s : 15));
	curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)(h->o.timeout_s ? h->o.timeout_s : 120));
	if (q->stall_guard) {
		/* A server trickling bytes is as good as dead. */
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, 100L);
		curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, 30L);
	}
	/* A Content-Length over the cap is refused before the body comes. */
	curl_easy_setopt(c, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s.max);
	if (q->raw_gzip) {
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
		curl_easy_setopt(c, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	} else {
		curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "");
	}
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(c, CURLOPT_HEADERDATA, &s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, h->o.user_agent ? h->o.user_agent : "iocsync");
	if (h->o.ca_file)
		curl_easy_setopt(c, CURLOPT_CAINFO, h->o.ca_file);
	/* The proxy comes from the configuration only, never the
	 * environment: "" turns libcurl's *_proxy variables off. */
	curl_easy_setopt(c, CURLOPT_PROXY, h->o.proxy ? h->o.proxy : "");
	if (strcmp(q->method, "GET") != 0) {
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, q->method);
		if (q->body) {
			curl_easy_setopt(c, CURLOPT_POSTFIELDS, q->body);
			curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
		}
	}
	for (size_t i = 0; q->headers && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	hl = curl_slist_append(hl, "Expect:");
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);

	CURLcode cc = curl_easy_perform(c);
	curl_slist_free_all(hl);
	/* The headers point into this frame: drop them from the handle. */
	curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc != CURLE_OK) {
		r->fail = s.over ? HTTP_FAIL_TOO_LARGE : classify(cc);
		char *to = NULL;
		if (r->fail == HTTP_FAIL_TOO_LARGE)
			snprintf(r->error, sizeof(r->error), "the reply passed the cap of %lld bytes", s.max);
		else if (cc == CURLE_UNSUPPORTED_PROTOCOL && curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &to) == CURLE_OK &&
			 to && strcmp(to, q->url) != 0)
			snprintf(r->error, sizeof(r->error), "redirected to %.150s: only http and https are followed",
				 to);
		else
			snprintf(r->error, sizeof(r->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
		r->status = 0;
		sb_free(&s.sb);
		return ERR_NET;
	}
	if (s.sb.buf == NULL)
		sb_add(&s.sb, "", 0);
	r->body = s.sb.buf;
	r->len = s.sb.len;
	return ERR_OK;
}

enum err
http_send(struct http *h, const char *method, const char *url, const char *const *headers,
	  const char *body, size_t len, struct http_reply *r)
{
	struct http_req q = {.method = method, .url = url, .headers = headers, .body = body, .len = len};
	return http_do(h, &q, r);
}

static bool
loopback_host(const char *h, size_t n)
{
	if (n == 9 && mem_ieq(h, "localhost", 9))
		return true;
	if (n == 5 && memcmp(h, "[::1]", 5) == 0)
		return true;
	if (n >= 4 && memcmp(h, "127.", 4) == 0) {
		for (size_t i = 4; i < n; i++)
			if (!is_digit((unsigned char)h[i]) && h[i] != '.')
				return false;
		return true;
	}
	return false;
}

bool
http_url_ok(const char *url, bool allow_http, char *why, size_t whysz)
{
	const char *host;
	if (has_iprefix(url, strlen(url), "https://"))
		host = url + 8;
	else if (has_iprefix(url, strlen(url), "http://"))
		host = url + 7;
	else {
		set_why(why, whysz, "%s: only https:// URLs are allowed", url);
		return false;
	}
	if (*host == '\0') {
		set_why(why, whysz, "%s: no host", url);
		return false;
	}
	if (host == url + 8)
		return true;
	size_t n = 0;
	if (*host == '[') {
		const char *e = strchr(host, ']');
		n = e ? (size_t)(e - host) + 1 : strlen(host);
	} else {
		n = strcspn(host, ":/?#");
	}
	if (!allow_http) {
		set_why(why, whysz, "%s: http:// is refused (set allow_http = yes, loopback addresses only)", url);
		return false;
	}
	if (!loopback_host(host, n)) {
		set_why(why, whysz, "%s: http:// is allowed to a loopback address only", url);
		return false;
	}
	return true;
}

char *
http_escape(const char *s)
{
	static const char hex[] = "0123456789ABCDEF";
	struct strbuf sb = {0};
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;
		if (is_alnum(ch) || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
			sb_addc(&sb, (char)ch);
		} else {
			char e[3] = {'%', hex[ch >> 4], hex[ch & 15]};
			sb_add(&sb, e, 3);
		}
	}
	if (sb.buf == NULL)
		sb_add(&sb, "", 0);
	return sb.buf;
}
