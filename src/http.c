#include "http.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocsync_limits.h"
#include "util.h"

struct http {
	CURL *curl;
	struct http_opts o;
	char *capath; /* libcurl's built-in CA directory, kept beside ca_file */
	char *cainfo; /* its built-in bundle (when there is no directory) */
	char *bundle; /* cainfo and ca_file joined, read once (set_ca) */
};

/* What the connection callback needs for one transfer. */
struct guard {
	CURL *curl;
	bool on;
	int first; /* -1 unknown, 0 public, 1 internal: the first connection's */
	bool refused;
	char where[INET6_ADDRSTRLEN];
};

struct sink {
	struct strbuf sb;
	long long max;
	bool over;
	struct http_reply *r;
	const struct http_stream *stream; /* the request's, or NULL */
	CURL *curl;
	int streaming; /* -1: not known until the status is, 0: kept, 1: to stream */
	bool stopped;  /* the stream said no more */
};

static size_t
on_body(char *p, size_t sz, size_t n, void *ud)
{
	struct sink *s = ud;
	if (s->stream && s->streaming < 0) {
		long code = 0;
		curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &code);
		s->streaming = code >= 200 && code < 300;
	}
	if (s->streaming == 1) {
		if (!s->stream->feed(s->stream->ctx, p, sz * n)) {
			s->stopped = true;
			return 0; /* aborts the transfer */
		}
		return sz * n;
	}
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
		free(r->www_authenticate);
		r->etag = r->last_modified = r->taxii_last = r->www_authenticate = NULL;
	} else if ((v = header_value(p, len, "WWW-Authenticate")) != NULL) {
		free(r->www_authenticate);
		r->www_authenticate = v;
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
	char *p = NULL;
	if (curl_easy_getinfo(h->curl, CURLINFO_CAPATH, &p) == CURLE_OK && p)
		h->capath = xstrdup(p);
	p = NULL;
	if (curl_easy_getinfo(h->curl, CURLINFO_CAINFO, &p) == CURLE_OK && p)
		h->cainfo = xstrdup(p);
	return h;
}

void
http_free(struct http *h)
{
	if (h == NULL)
		return;
	curl_easy_cleanup(h->curl);
	free(h->capath);
	free(h->cainfo);
	free(h->bundle);
	free(h);
}

bool
http_addr_internal(int family, const void *addr)
{
	const unsigned char *a = addr;
	if (family == AF_INET)
		return a[0] == 0 || a[0] == 10 || a[0] == 127 || (a[0] == 169 && a[1] == 254) ||
			(a[0] == 172 && (a[1] & 0xf0) == 16) || (a[0] == 192 && a[1] == 168) ||
			(a[0] == 100 && (a[1] & 0xc0) == 64);
	if (family == AF_INET6) {
		static const unsigned char zero[16];
		if (memcmp(a, zero, 15) == 0 && (a[15] == 0 || a[15] == 1)) /* :: and ::1 */
			return true;
		if ((a[0] & 0xfe) == 0xfc || (a[0] == 0xfe && (a[1] & 0xc0) == 0x80)) /* ULA, link-local */
			return true;
		if (memcmp(a, zero, 10) == 0 && a[10] == 0xff && a[11] == 0xff) /* v4-mapped */
			return http_addr_internal(AF_INET, a + 12);
		return false;
	}
	return false;
}

bool
http_guard_refuses(int *first, bool internal, long redirects)
{
	if (*first < 0 && redirects == 0)
		*first = internal;
	return redirects > 0 && internal && *first != 1;
}

/* Every connection of a transfer: after a redirect, an internal address
 * is refused unless the first connection went to one (the configured
 * URL is internal). A name that resolves differently the second time is
 * caught here too, where the address is final. */
static curl_socket_t
open_guarded(void *ctx, curlsocktype purpose, struct curl_sockaddr *sa)
{
	struct guard *g = ctx;
	(void)purpose;
	const void *addr = NULL;
	if (sa->family == AF_INET)
		addr = &((struct sockaddr_in *)(void *)&sa->addr)->sin_addr;
	else if (sa->family == AF_INET6)
		addr = &((struct sockaddr_in6 *)(void *)&sa->addr)->sin6_addr;
	bool internal = addr && http_addr_internal(sa->family, addr);
	long redirects = 0;
	curl_easy_getinfo(g->curl, CURLINFO_REDIRECT_COUNT, &redirects);
	if (g->on && http_guard_refuses(&g->first, internal, redirects)) {
		g->refused = true;
		if (addr)
			inet_ntop(sa->family, addr, g->where, sizeof(g->where));
		return CURL_SOCKET_BAD;
	}
	return socket(sa->family, sa->socktype, sa->protocol);
}

void
http_reply_free(struct http_reply *r)
{
	free(r->body);
	free(r->etag);
	free(r->last_modified);
	free(r->taxii_last);
	free(r->www_authenticate);
	r->body = r->etag = r->last_modified = r->taxii_last = r->www_authenticate = NULL;
	r->len = 0;
}

static enum http_fail
classify(CURLcode c)
{
	switch (c) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
	case CURLE_COULDNT_CONNECT: return HTTP_FAIL_CONNECT;
	case CURLE_OPERATION_TIMEDOUT: return HTTP_FAIL_TIMEOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM: return HTTP_FAIL_RESET;
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_PEER_FAILED_VERIFICATION:
	case CURLE_SSL_CERTPROBLEM:
	case CURLE_SSL_CIPHER:
	case CURLE_SSL_CACERT_BADFILE:
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
	case CURLE_SSL_INVALIDCERTSTATUS: return HTTP_FAIL_TLS;
	case CURLE_WRITE_ERROR:
	case CURLE_FILESIZE_EXCEEDED: return HTTP_FAIL_TOO_LARGE;
	default: return HTTP_FAIL_OTHER;
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

/* Every option is checked: one this libcurl refuses (built without it,
 * too old) fails the request with its name, never silently. */
#define SET(c, bad, opt, val) \
	do { \
		if (*(bad) == NULL && curl_easy_setopt((c), (opt), (val)) != CURLE_OK) \
			*(bad) = #opt; \
	} while (0)

/* The CA bundle: ca_file trusted besides the system's store, never
 * instead of it (the directory stays when libcurl has one, else the two
 * bundles go together, joined on the first request and kept). */
static void
set_ca(struct http *h, CURL *c, struct curl_blob *blob, const char **bad)
{
	SET(c, bad, CURLOPT_CAINFO, h->o.ca_file);
	if (h->capath) {
		SET(c, bad, CURLOPT_CAPATH, h->capath);
		return;
	}
	if (h->cainfo && h->bundle == NULL) {
		char *a = NULL, *b = NULL;
		size_t na = 0, nb = 0;
		if (file_read(h->cainfo, LIMIT_CA_BUNDLE_BYTES, &a, &na) == ERR_OK &&
		    file_read(h->o.ca_file, LIMIT_CA_BUNDLE_BYTES, &b, &nb) == ERR_OK)
			h->bundle = xasprintf("%s\n%s", a, b);
		free(a), free(b);
	}
	if (h->bundle) {
		*blob = (struct curl_blob){h->bundle, strlen(h->bundle), CURL_BLOB_NOCOPY};
		SET(c, bad, CURLOPT_CAINFO_BLOB, blob);
	}
}

/* A made body while libcurl sends it (http_body): given back at its
 * last byte, made again should libcurl start over. */
struct upload {
	const struct http_body *made;
	char *buf;
	size_t len, pos;
};

static size_t
on_upload(char *p, size_t sz, size_t n, void *ud)
{
	struct upload *u = ud;
	size_t k = u->len - u->pos < sz * n ? u->len - u->pos : sz * n;
	if (k == 0)
		return 0;
	if (u->buf == NULL)
		return CURL_READFUNC_ABORT; /* never: a seek makes it again */
	memcpy(p, u->buf + u->pos, k);
	u->pos += k;
	if (u->pos == u->len) {
		free(u->buf);
		u->buf = NULL;
	}
	return k;
}

static int
on_upload_seek(void *ud, curl_off_t off, int origin)
{
	struct upload *u = ud;
	if (origin != SEEK_SET || off < 0 || (curl_off_t)u->len < off)
		return CURL_SEEKFUNC_CANTSEEK;
	if (u->buf == NULL && off < (curl_off_t)u->len) {
		size_t len;
		u->buf = u->made->make(u->made->ctx, &len);
		if (len != u->len) { /* not the text whose length was sent */
			free(u->buf);
			u->buf = NULL;
			return CURL_SEEKFUNC_FAIL;
		}
	}
	u->pos = (size_t)off;
	return CURL_SEEKFUNC_OK;
}

/* The options of one request; NULL, or the name of the first refused. */
static const char *
set_options(struct http *h, const struct http_req *q, struct sink *s, struct guard *g, char *errbuf,
	    struct curl_slist *hl, struct upload *u)
{
	CURL *c = h->curl;
	const char *bad = NULL;
	SET(c, &bad, CURLOPT_URL, q->url);
	SET(c, &bad, CURLOPT_PROTOCOLS_STR, q->allow_file ? "http,https,file" : "http,https");
	SET(c, &bad, CURLOPT_REDIR_PROTOCOLS_STR, "http,https"); /* never to file:// */
	SET(c, &bad, CURLOPT_FOLLOWLOCATION, q->max_redirects > 0 ? 1L : 0L);
	SET(c, &bad, CURLOPT_MAXREDIRS, q->max_redirects);
	SET(c, &bad, CURLOPT_NOSIGNAL, 1L);
	SET(c, &bad, CURLOPT_CONNECTTIMEOUT,
	    (long)(h->o.connect_timeout_s ? h->o.connect_timeout_s : LIMIT_CONNECT_TIMEOUT_S_DEFAULT));
	SET(c, &bad, CURLOPT_TIMEOUT, (long)(h->o.timeout_s ? h->o.timeout_s : LIMIT_HTTP_TIMEOUT_S_DEFAULT));
	if (q->stall_guard) {
		/* A server trickling bytes is as good as dead. */
		SET(c, &bad, CURLOPT_LOW_SPEED_LIMIT, (long)LIMIT_STALL_BYTES_PER_S);
		SET(c, &bad, CURLOPT_LOW_SPEED_TIME, (long)LIMIT_STALL_S);
	}
	/* A Content-Length over the cap is refused before the body comes. */
	SET(c, &bad, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)s->max);
	if (q->raw_gzip) {
		SET(c, &bad, CURLOPT_ACCEPT_ENCODING, "gzip");
		SET(c, &bad, CURLOPT_HTTP_CONTENT_DECODING, 0L);
	} else {
		SET(c, &bad, CURLOPT_ACCEPT_ENCODING, "");
	}
	SET(c, &bad, CURLOPT_SSL_VERIFYPEER, 1L);
	SET(c, &bad, CURLOPT_SSL_VERIFYHOST, 2L);
	/* The floor set here, whatever OPENSSL_CONF says. */
	SET(c, &bad, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	SET(c, &bad, CURLOPT_OPENSOCKETFUNCTION, open_guarded);
	SET(c, &bad, CURLOPT_OPENSOCKETDATA, g);
	SET(c, &bad, CURLOPT_ERRORBUFFER, errbuf);
	SET(c, &bad, CURLOPT_WRITEFUNCTION, on_body);
	SET(c, &bad, CURLOPT_WRITEDATA, s);
	SET(c, &bad, CURLOPT_HEADERFUNCTION, on_header);
	SET(c, &bad, CURLOPT_HEADERDATA, s);
	SET(c, &bad, CURLOPT_USERAGENT, h->o.user_agent ? h->o.user_agent : "iocsync");
	/* The proxy comes from the configuration only, never the
	 * environment: "" turns libcurl's *_proxy variables off. */
	SET(c, &bad, CURLOPT_PROXY, h->o.proxy ? h->o.proxy : "");
	if (strcmp(q->method, "GET") != 0) {
		SET(c, &bad, CURLOPT_CUSTOMREQUEST, q->method);
		if (u->made) {
			SET(c, &bad, CURLOPT_POST, 1L);
			SET(c, &bad, CURLOPT_READFUNCTION, on_upload);
			SET(c, &bad, CURLOPT_READDATA, u);
			SET(c, &bad, CURLOPT_SEEKFUNCTION, on_upload_seek);
			SET(c, &bad, CURLOPT_SEEKDATA, u);
			SET(c, &bad, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)u->len);
		} else if (q->body) {
			SET(c, &bad, CURLOPT_POSTFIELDS, q->body);
			SET(c, &bad, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)q->len);
		}
	}
	SET(c, &bad, CURLOPT_HTTPHEADER, hl);
	return bad;
}

/* Why a transfer failed, for people, into r. */
static void
failure(CURL *c, CURLcode cc, const struct http_req *q, const struct sink *s, const struct guard *g, const char *errbuf,
	struct http_reply *r)
{
	char *to = NULL;
	r->fail = s->over ? HTTP_FAIL_TOO_LARGE : classify(cc);
	if (g->refused) {
		r->fail = HTTP_FAIL_CONNECT;
		snprintf(r->error, sizeof(r->error),
			 "a redirect led to the internal address %s: refused (only a configured URL may be internal)",
			 g->where);
	} else if (r->fail == HTTP_FAIL_TOO_LARGE) {
		snprintf(r->error, sizeof(r->error), "the reply passed the cap of %lld bytes", s->max);
	} else if (cc == CURLE_UNSUPPORTED_PROTOCOL && curl_easy_getinfo(c, CURLINFO_EFFECTIVE_URL, &to) == CURLE_OK &&
		   to && strcmp(to, q->url) != 0) {
		snprintf(r->error, sizeof(r->error), "redirected to %.150s: only http and https are followed", to);
	} else {
		snprintf(r->error, sizeof(r->error), "%s", errbuf[0] ? errbuf : curl_easy_strerror(cc));
	}
	r->status = 0;
}

enum err
http_do(struct http *h, const struct http_req *q, struct http_reply *r)
{
	long long max = h->o.max_body > 0 ? h->o.max_body : LIMIT_HTTP_BODY_BYTES_DEFAULT;
	if (q->stream)
		q->stream->reset(q->stream->ctx);
	struct upload u = {.made = q->made};
	if (u.made)
		u.buf = u.made->make(u.made->ctx, &u.len);
	if (stub) {
		struct http_req sent = *q; /* a stub sees the made body as text */
		if (u.made) {
			sent.body = u.buf;
			sent.len = u.len;
			sent.made = NULL;
		}
		memset(r, 0, sizeof(*r));
		enum err e = stub(stub_ctx, &sent, max, r);
		free(u.buf);
		if (e == ERR_OK && q->stream && r->status >= 200 && r->status < 300) {
			r->stream_stopped = !q->stream->feed(q->stream->ctx, r->body ? r->body : "", r->len);
			free(r->body);
			r->body = xstrdup("");
			r->len = 0;
		}
		return e;
	}
	CURL *c = h->curl;
	struct sink s = {.max = max, .r = r, .stream = q->stream, .curl = c, .streaming = -1};
	struct curl_slist *hl = NULL;
	char errbuf[CURL_ERROR_SIZE] = "";
	struct guard g = {.curl = c, .on = q->no_private_redirect, .first = -1};
	struct curl_blob blob = {0};

	memset(r, 0, sizeof(*r));
	/* Reset the per-request options, keep the connection cache. */
	curl_easy_reset(c);
	for (size_t i = 0; q->headers && q->headers[i]; i++)
		hl = curl_slist_append(hl, q->headers[i]);
	hl = curl_slist_append(hl, "Expect:");
	const char *bad = set_options(h, q, &s, &g, errbuf, hl, &u);
	if (bad == NULL && h->o.ca_file)
		set_ca(h, c, &blob, &bad);
	CURLcode cc = bad ? CURLE_UNKNOWN_OPTION : curl_easy_perform(c);
	free(u.buf);
	curl_slist_free_all(hl);
	/* The headers, the error buffer and the upload point into this
	 * frame: dropped from the handle (setting NULL cannot fail). */
	(void)curl_easy_setopt(c, CURLOPT_HTTPHEADER, NULL);
	(void)curl_easy_setopt(c, CURLOPT_ERRORBUFFER, NULL);
	(void)curl_easy_setopt(c, CURLOPT_READDATA, NULL);
	(void)curl_easy_setopt(c, CURLOPT_SEEKDATA, NULL);
	if (bad) {
		r->fail = HTTP_FAIL_OTHER;
		snprintf(r->error, sizeof(r->error), "libcurl refused the option %s", bad);
		return ERR_NET;
	}
	curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
	if (s.stopped) { /* an answer came; what the stream found wrong is its to tell */
		r->stream_stopped = true;
		cc = CURLE_OK;
	}
	if (cc != CURLE_OK) {
		failure(c, cc, q, &s, &g, errbuf, r);
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
http_send_stream(struct http *h, const char *method, const char *url, const char *const *headers, const char *body,
		 size_t len, const struct http_body *made, const struct http_stream *stream, struct http_reply *r)
{
	struct http_req q = {.method = method,
			     .url = url,
			     .stream = stream,
			     .headers = headers,
			     .body = body,
			     .len = len,
			     .made = made};
	return http_do(h, &q, r);
}

enum err
http_send(struct http *h, const char *method, const char *url, const char *const *headers, const char *body, size_t len,
	  struct http_reply *r)
{
	return http_send_stream(h, method, url, headers, body, len, NULL, NULL, r);
}

bool
http_url_parts(const char *url, struct url_parts *u, char *why, size_t whysz)
{
	memset(u, 0, sizeof(*u));
	CURLU *h = curl_url();
	char *scheme = NULL, *host = NULL, *user = NULL, *pass = NULL, *port = NULL;
	bool ok = h && curl_url_set(h, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
		curl_url_get(h, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
	if (!ok) {
		set_why(why, whysz, "%.200s: not a URL", url);
		curl_url_cleanup(h);
		return false;
	}
	if (curl_url_get(h, CURLUPART_HOST, &host, 0) != CURLUE_OK)
		host = NULL;
	u->userinfo = curl_url_get(h, CURLUPART_USER, &user, 0) == CURLUE_OK ||
		curl_url_get(h, CURLUPART_PASSWORD, &pass, 0) == CURLUE_OK;
	u->port = curl_url_get(h, CURLUPART_PORT, &port, CURLU_DEFAULT_PORT) == CURLUE_OK && port ? atol(port) : 0;
	snprintf(u->scheme, sizeof(u->scheme), "%s", scheme);
	const char *hs = host ? host : "";
	size_t hn = strlen(hs);
	if (hn >= 2 && hs[0] == '[' && hs[hn - 1] == ']') /* IPv6: without the brackets */
		snprintf(u->host, sizeof(u->host), "%.*s", (int)(hn - 2), hs + 1);
	else
		snprintf(u->host, sizeof(u->host), "%s", hs);
	for (char *p = u->host; *p; p++)
		*p = (char)lc((unsigned char)*p);
	unsigned char a[16];
	u->loopback = strcmp(u->host, "localhost") == 0 || (inet_pton(AF_INET, u->host, a) == 1 && a[0] == 127) ||
		(inet_pton(AF_INET6, u->host, a) == 1 && memcmp(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\1", 16) == 0);
	snprintf(u->origin, sizeof(u->origin), "%s://%s%s%s:%ld", u->scheme, strchr(u->host, ':') ? "[" : "", u->host,
		 strchr(u->host, ':') ? "]" : "", u->port);
	for (char *p = u->origin; *p; p++)
		*p = (char)lc((unsigned char)*p);
	curl_free(scheme), curl_free(host), curl_free(user), curl_free(pass), curl_free(port);
	curl_url_cleanup(h);
	return true;
}

bool
http_url_ok(const char *url, bool allow_http, char *why, size_t whysz)
{
	struct url_parts u;
	if (!http_url_parts(url, &u, why, whysz))
		return false;
	if (u.userinfo) {
		set_why(why, whysz,
			"%.200s: a user or password in the URL is refused (it would name another host "
			"than it seems to)",
			url);
		return false;
	}
	if (strcmp(u.scheme, "https") != 0 && strcmp(u.scheme, "http") != 0) {
		set_why(why, whysz, "%.200s: only https:// URLs are allowed", url);
		return false;
	}
	if (u.host[0] == '\0') {
		set_why(why, whysz, "%.200s: no host", url);
		return false;
	}
	if (strcmp(u.scheme, "https") == 0)
		return true;
	if (!allow_http) {
		set_why(why, whysz, "%.200s: http:// is refused (set allow_http = yes, loopback addresses only)", url);
		return false;
	}
	if (!u.loopback) {
		set_why(why, whysz, "%.200s: http:// is allowed to a loopback address only", url);
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
