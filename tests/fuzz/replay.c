/* See replay.h. */
#include "replay.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SEP "\n%%\n"

static double
replay_now(void *ctx)
{
	return ((struct replay *)ctx)->now;
}

static void
replay_sleep(void *ctx, double s)
{
	if (s > 0)
		((struct replay *)ctx)->now += s;
}

void
replay_init(struct replay *rp, const uint8_t *data, size_t size)
{
	memset(rp, 0, sizeof(*rp));
	rp->p = (const char *)data;
	rp->end = rp->p + size;
	rp->now = 1000;
	rp->clk = (struct clock){replay_now, replay_sleep, rp};
}

void
replay_tmpdir(char *dir, size_t sz, const char *name)
{
	const char *t = getenv("TMPDIR");
	if (t == NULL || *t == '\0')
		t = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
	if ((size_t)snprintf(dir, sz, "%s/iocsync-%s-XXXXXX", t, name) >= sz || mkdtemp(dir) == NULL) {
		fprintf(stderr, "replay: cannot make a directory under %s\n", t);
		abort();
	}
}

const char *
replay_take_raw(struct replay *rp, size_t *len)
{
	if (rp->p == NULL)
		return NULL;
	const char *start = rp->p;
	const char *sep = memmem(start, (size_t)(rp->end - start), SEP, strlen(SEP));
	if (sep == NULL) {
		*len = (size_t)(rp->end - start);
		rp->p = NULL;
	} else {
		*len = (size_t)(sep - start);
		rp->p = sep + strlen(SEP);
	}
	return start;
}

static char *
dup_body(const char *p, size_t n)
{
	char *b = malloc(n + 1);
	if (b == NULL)
		abort();
	memcpy(b, p, n);
	b[n] = '\0';
	return b;
}

/* The value of word name= in the head line [p, e), into buf. */
static const char *
word(const char *p, const char *e, const char *name, char *buf, size_t sz)
{
	size_t nl = strlen(name);
	for (const char *w = p; w < e; w++) {
		if ((w == p || w[-1] == ' ') && (size_t)(e - w) > nl && memcmp(w, name, nl) == 0) {
			const char *v = w + nl;
			size_t n = 0;
			while (v + n < e && v[n] != ' ')
				n++;
			if (n >= sz)
				n = sz - 1;
			memcpy(buf, v, n);
			buf[n] = '\0';
			return buf;
		}
	}
	return NULL;
}

static void
check_request(const struct http_req *q)
{
	bool json = false;
	for (size_t i = 0; q->headers && q->headers[i]; i++)
		if (strcmp(q->headers[i], "Content-Type: application/json") == 0)
			json = true;
	if (json && q->body) {
		json_error_t je;
		json_t *j = json_loadb(q->body, q->len, 0, &je);
		if (j == NULL) {
			fprintf(stderr, "replay: %s %s sent a body that is not JSON: %s\n", q->method, q->url, je.text);
			abort();
		}
		json_decref(j);
	}
}

enum err
replay_stub(void *ctx, const struct http_req *q, long long max_body, struct http_reply *r)
{
	struct replay *rp = ctx;
	check_request(q);
	rp->served++;
	if (rp->fixed_url && strcmp(q->url, rp->fixed_url) == 0) {
		r->status = 200;
		r->body = dup_body(rp->fixed_body, strlen(rp->fixed_body));
		r->len = strlen(rp->fixed_body);
		return ERR_OK;
	}
	size_t n;
	const char *rec = replay_take_raw(rp, &n);
	if (rec == NULL) {
		r->fail = HTTP_FAIL_CONNECT;
		snprintf(r->error, sizeof(r->error), "connection refused (no more replies)");
		return ERR_NET;
	}
	const char *body = rec, *end = rec + n;
	long status = 200;
	if (n > 0 && rec[0] >= '0' && rec[0] <= '9') {
		const char *nl = memchr(rec, '\n', n);
		const char *he = nl ? nl : end;
		char buf[64];
		status = 0;
		for (const char *d = rec; d < he && *d >= '0' && *d <= '9' && status < 1000; d++)
			status = status * 10 + (*d - '0');
		if (word(rec, he, "ra=", buf, sizeof(buf)))
			snprintf(r->retry_after, sizeof(r->retry_after), "%s", buf);
		if (word(rec, he, "last=", buf, sizeof(buf)))
			r->taxii_last = dup_body(buf, strlen(buf));
		if (word(rec, he, "etag=", buf, sizeof(buf)))
			r->etag = dup_body(buf, strlen(buf));
		if (status == 0) {
			r->fail = word(rec, he, "fail=", buf, sizeof(buf)) ? (enum http_fail)(atoi(buf) % 7)
									   : HTTP_FAIL_RESET;
			if (r->fail == HTTP_FAIL_NONE)
				r->fail = HTTP_FAIL_OTHER;
			snprintf(r->error, sizeof(r->error), "transfer failed (replayed)");
			return ERR_NET;
		}
		body = nl ? nl + 1 : end;
	}
	if ((long long)(end - body) > max_body) {
		r->fail = HTTP_FAIL_TOO_LARGE;
		snprintf(r->error, sizeof(r->error), "the reply passed the cap of %lld bytes", max_body);
		free(r->taxii_last), free(r->etag);
		r->taxii_last = r->etag = NULL;
		return ERR_NET;
	}
	r->status = status;
	r->body = dup_body(body, (size_t)(end - body));
	r->len = (size_t)(end - body);
	return ERR_OK;
}
