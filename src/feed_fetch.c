/* Fetching a feed: fetch.h's contract on top of the one libcurl wrapper,
 * http.h. */
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fetch.h"
#include "http.h"
#include "iocsync_limits.h"
#include "util.h"

#include <zlib.h>

/*
 * Unpacks a gzip body: Content-Encoding gzip, or a .gz file served as it
 * is. libcurl's own decoding takes a stream cut before its end marker for
 * a whole one, and a feed cut short must never pass for the feed (what
 * was cut would be deleted). Every member must reach its end marker; the
 * unpacked size is capped at max (a gzip bomb stops there).
 */
static enum err
gunzip(const char *in, size_t n, long long max, struct strbuf *out, char *why, size_t whysz)
{
	z_stream z;
	const size_t bufsz = 64 * 1024;
	unsigned char *buf = xmalloc(bufsz); /* not on a tenant thread's stack */
	enum err rc = ERR_OK;

	memset(&z, 0, sizeof(z));
	if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) {
		set_why(why, whysz, "cannot start gzip decoding");
		free(buf);
		return ERR_NET;
	}
	z.next_in = (Bytef *)(uintptr_t)in;
	z.avail_in = (uInt)n; /* n is under max_bytes, itself under 4 GiB */
	for (;;) {
		z.next_out = buf;
		z.avail_out = (uInt)bufsz;
		int zr = inflate(&z, Z_NO_FLUSH);
		size_t got = bufsz - z.avail_out;
		if ((long long)(out->len + got) > max) {
			set_why(why, whysz, "body larger than max_bytes = %lld once unpacked (gzip)", max);
			rc = ERR_LIMIT;
			break;
		}
		sb_add(out, buf, got);
		if (zr == Z_STREAM_END) {
			if (z.avail_in == 0)
				break;
			if (inflateReset(&z) != Z_OK) /* the next member */
				zr = Z_DATA_ERROR;
			else
				continue;
		}
		if (zr == Z_OK)
			continue;
		if (zr == Z_BUF_ERROR && z.avail_in == 0) /* no input left, no end marker */
			set_why(why, whysz,
				"truncated gzip: the body ends after %zu bytes, before the stream's "
				"end marker",
				n);
		else
			set_why(why, whysz, "corrupt gzip at byte %zu of %zu: %s", n - z.avail_in, n,
				z.msg ? z.msg : "bad data");
		rc = ERR_NET;
		break;
	}
	inflateEnd(&z);
	free(buf);
	return rc;
}

/* A file:// feed, read here rather than by libcurl: a regular file only,
 * at most max bytes, never under /proc, /sys or /dev once every symlink
 * is resolved (a feed naming /proc/self/environ would store the
 * environment, secrets included, as its snapshot). */
static enum err
read_file_url(const char *url, long long max, struct http_reply *rep, char *why, size_t whysz)
{
	CURLU *h = curl_url();
	char *path = NULL;
	memset(rep, 0, sizeof(*rep));
	if (h == NULL || curl_url_set(h, CURLUPART_URL, url, 0) != CURLUE_OK ||
	    curl_url_get(h, CURLUPART_PATH, &path, CURLU_URLDECODE) != CURLUE_OK) {
		curl_url_cleanup(h);
		set_why(why, whysz, "%.200s: not a file:// URL", url);
		return ERR_CONFIG;
	}
	curl_url_cleanup(h);
	char *real = realpath(path, NULL);
	curl_free(path);
	if (real == NULL) {
		set_why(why, whysz, "%.200s: %s", url, strerror(errno));
		return ERR_NET;
	}
	static const char *const off_limits[] = {"/proc", "/sys", "/dev"};
	for (size_t i = 0; i < NELEM(off_limits); i++) {
		size_t n = strlen(off_limits[i]);
		if (strncmp(real, off_limits[i], n) == 0 && (real[n] == '/' || real[n] == '\0')) {
			set_why(why, whysz, "%.200s: under %s, which is never a feed", url, off_limits[i]);
			free(real);
			return ERR_CONFIG;
		}
	}
	int fd = open(real, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK);
	struct stat sb;
	enum err e = ERR_OK;
	if (fd < 0 || fstat(fd, &sb) != 0) {
		set_why(why, whysz, "%.200s: %s", url, strerror(errno));
		e = ERR_NET;
	} else if (!S_ISREG(sb.st_mode)) {
		set_why(why, whysz, "%.200s: not a regular file", url);
		e = ERR_CONFIG;
	} else if (sb.st_size > max) {
		set_why(why, whysz, "%.200s: %lld bytes, more than max_bytes = %lld", url, (long long)sb.st_size, max);
		e = ERR_LIMIT;
	} else {
		rep->body = xmalloc((size_t)sb.st_size + 1);
		size_t got = 0;
		while (got < (size_t)sb.st_size) {
			ssize_t n = read(fd, rep->body + got, (size_t)sb.st_size - got);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			got += (size_t)n;
		}
		rep->body[got] = '\0';
		rep->len = got;
	}
	if (fd >= 0)
		close(fd);
	free(real);
	if (e != ERR_OK) {
		free(rep->body);
		rep->body = NULL;
	}
	return e;
}

enum err
feed_fetch_url(const char *url, const struct fetch_opts *o, struct fetch_result *r, char *why, size_t whysz)
{
	long long max = o->max_bytes > 0 ? o->max_bytes : LIMIT_FETCH_BYTES_DEFAULT;
	struct http_opts ho = {.ca_file = o->ca_file,
			       .proxy = o->proxy,
			       .user_agent = o->user_agent,
			       .connect_timeout_s = o->connect_timeout_s,
			       .timeout_s = o->timeout_s,
			       .max_body = max};
	char *inm = o->etag ? xasprintf("If-None-Match: %s", o->etag) : NULL;
	char *ims = o->last_modified ? xasprintf("If-Modified-Since: %s", o->last_modified) : NULL;
	const char *hdrs[3] = {0};
	size_t nh = 0;
	if (inm)
		hdrs[nh++] = inm;
	if (ims)
		hdrs[nh++] = ims;
	struct http_req q = {.method = "GET",
			     .url = url,
			     .headers = hdrs,
			     .max_redirects = o->max_redirects,
			     .stall_guard = true,
			     .raw_gzip = true,
			     .no_private_redirect = true};
	struct http_reply rep;
	enum err rc = ERR_OK;

	memset(r, 0, sizeof(*r));
	struct http *h = NULL;
	if (has_iprefix(url, strlen(url), "file://")) {
		rc = read_file_url(url, max, &rep, why, whysz);
		if (rc != ERR_OK)
			goto out;
	} else if ((h = http_new(&ho)) == NULL) {
		set_why(why, whysz, "cannot initialise libcurl");
		rc = ERR_NET;
		goto out;
	} else if (http_do(h, &q, &rep) != ERR_OK) {
		if (rep.fail == HTTP_FAIL_TOO_LARGE) {
			set_why(why, whysz, "body larger than max_bytes = %lld", max);
			rc = ERR_LIMIT;
		} else {
			set_why(why, whysz, "%s", rep.error);
			rc = ERR_NET;
		}
	} else if (rep.status == 304 && (o->etag || o->last_modified)) {
		r->not_modified = true;
	} else if (rep.status != 200 && rep.status != 0) {
		set_why(why, whysz, "HTTP status %ld", rep.status);
		rc = ERR_HTTP;
	}
	if (rc == ERR_OK && rep.len >= 2 && memcmp(rep.body, "\x1f\x8b", 2) == 0) {
		struct strbuf sb = {0};
		rc = gunzip(rep.body, rep.len, max, &sb, why, whysz);
		sb_add(&sb, "", 0);
		free(rep.body);
		rep.body = sb.buf;
		rep.len = sb.len;
		if (rc != ERR_OK)
			rep.len = 0, rep.body[0] = '\0';
	}
	r->status = rep.status;
	r->body = rep.body ? rep.body : xstrdup("");
	r->len = rep.body ? rep.len : 0;
	r->etag = rep.etag;
	r->last_modified = rep.last_modified;
	free(rep.taxii_last);
	free(rep.www_authenticate);
out:
	http_free(h);
	free(inm);
	free(ims);
	return rc;
}

void
feed_fetch_result_free(struct fetch_result *r)
{
	free(r->body);
	free(r->etag);
	free(r->last_modified);
	memset(r, 0, sizeof(*r));
}
