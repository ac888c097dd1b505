#include "mde.h"

#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "limits.h"
#include "log.h"
#include "retry.h"
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
};

/* A token is renewed this long before it expires (or at a quarter of
 * its life when it is shorter). */
#define TOKEN_MARGIN_S 300.0
/* The most a Retry-After may ask of us before we give up the call. */
#define RETRY_AFTER_MAX_S 3600.0

struct mde {
	struct http *h;
	const struct clock *clk;
	char *tenant, *client_id, *application;
	char *api, *login, *resource;
	char *alt_resource; /* gov clouds: the other candidate audience (spec 9, gov-audience) */
	char *created_by;   /* what MDE puts in createdBy for this app, once learned; or NULL */
	long long list_max; /* more indicators than this in a listing: not a real tenant's */
	int token_version;
	char *secret; /* or NULL with the certificate */
	EVP_PKEY *key;
	char *x5t, *x5t256; /* of the certificate */
	bool rs256;
	char *token;
	double token_renew_at; /* clock time */
	json_t *claims;        /* the token's payload */
	struct ratelimit rl[MDE_EP__COUNT];
	double deadline_s;
	int list_page;
	uint64_t rng;
	struct mde_stats st;
};

const char *
mde_ep_name(enum mde_ep ep)
{
	return ep < MDE_EP__COUNT ? eps[ep].name : "?";
}

const struct mde_stats *
mde_stats(const struct mde *m)
{
	return &m->st;
}

const char *
mde_api_base(const struct mde *m)
{
	return m->api;
}

const char *
mde_client_id(const struct mde *m)
{
	return m->client_id;
}

/* ---- secrets ---- */

static char *
trim_secret(char *s, const char *what, char *why, size_t whysz)
{
	if (s == NULL)
		return NULL;
	size_t n = strlen(s);
	while (n && is_space((unsigned char)s[n - 1]))
		s[--n] = '\0';
	if (n == 0 || strchr(s, '\n')) {
		set_why(why, whysz, "%s: %s", what, n ? "holds more than one line" : "empty");
		explicit_bzero(s, n);
		free(s);
		return NULL;
	}
	return s;
}

static char *
b64url(const unsigned char *p, size_t n)
{
	static const char al[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *o = xmalloc(n / 3 * 4 + 5), *q = o;
	size_t i;
	for (i = 0; i + 2 < n; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 | p[i + 2];
		*q++ = al[v >> 18], *q++ = al[(v >> 12) & 63], *q++ = al[(v >> 6) & 63], *q++ = al[v & 63];
	}
	if (n - i == 1) {
		unsigned v = (unsigned)p[i] << 16;
		*q++ = al[v >> 18], *q++ = al[(v >> 12) & 63];
	} else if (n - i == 2) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8;
		*q++ = al[v >> 18], *q++ = al[(v >> 12) & 63], *q++ = al[(v >> 6) & 63];
	}
	*q = '\0';
	return o;
}

static unsigned char *
b64url_decode(const char *s, size_t n, size_t *outlen)
{
	unsigned char *o = xmalloc(n / 4 * 3 + 3);
	size_t k = 0;
	unsigned v = 0, bits = 0;
	for (size_t i = 0; i < n; i++) {
		int c = (unsigned char)s[i], d;
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '-' || c == '+')
			d = 62;
		else if (c == '_' || c == '/')
			d = 63;
		else if (c == '=')
			break;
		else {
			free(o);
			return NULL;
		}
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[k++] = (unsigned char)(v >> bits);
		}
	}
	*outlen = k;
	return o;
}

static bool
load_certificate(struct mde *m, const char *path, char *why, size_t whysz)
{
	char *pem = file_read_private(path, "certificate", 1 << 20, why, whysz);
	if (pem == NULL)
		return false;
	BIO *b = BIO_new_mem_buf(pem, -1);
	X509 *x = PEM_read_bio_X509(b, NULL, NULL, NULL);
	BIO_free(b);
	b = BIO_new_mem_buf(pem, -1);
	m->key = PEM_read_bio_PrivateKey(b, NULL, NULL, NULL);
	BIO_free(b);
	explicit_bzero(pem, strlen(pem));
	free(pem);
	bool ok = false;
	if (x == NULL || m->key == NULL) {
		set_why(why, whysz, "certificate %s: needs the PEM certificate and its unencrypted private key", path);
	} else if (EVP_PKEY_base_id(m->key) != EVP_PKEY_RSA) {
		set_why(why, whysz, "certificate %s: the key must be RSA (Entra signs PS256/RS256)", path);
	} else if (X509_check_private_key(x, m->key) != 1) {
		set_why(why, whysz, "certificate %s: the private key does not match the certificate", path);
	} else {
		unsigned char d1[20], d2[32];
		unsigned n1 = sizeof(d1), n2 = sizeof(d2);
		X509_digest(x, EVP_sha1(), d1, &n1);
		X509_digest(x, EVP_sha256(), d2, &n2);
		m->x5t = b64url(d1, n1);
		m->x5t256 = b64url(d2, n2);
		ok = true;
	}
	X509_free(x);
	return ok;
}

/* The signed JWT that stands for the secret (spec 1.3). */
static char *
client_assertion(struct mde *m, const char *aud, char *why, size_t whysz)
{
	unsigned char jti[16];
	char jtis[40];
	RAND_bytes(jti, sizeof(jti));
	jti[6] = (jti[6] & 0x0f) | 0x40;
	jti[8] = (jti[8] & 0x3f) | 0x80;
	snprintf(jtis, sizeof(jtis), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", jti[0],
		 jti[1], jti[2], jti[3], jti[4], jti[5], jti[6], jti[7], jti[8], jti[9], jti[10], jti[11], jti[12],
		 jti[13], jti[14], jti[15]);
	long long now = (long long)time(NULL);
	json_t *hd = m->rs256 ? json_pack("{s:s, s:s, s:s}", "alg", "RS256", "typ", "JWT", "x5t", m->x5t)
			      : json_pack("{s:s, s:s, s:s}", "alg", "PS256", "typ", "JWT", "x5t#S256", m->x5t256);
	json_t *cl =
		json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:I}", "aud", aud, "iss", m->client_id, "sub", m->client_id,
			  "jti", jtis, "nbf", (json_int_t)now, "iat", (json_int_t)now, "exp", (json_int_t)(now + 600));
	char *hs = json_dumps(hd, JSON_COMPACT), *cs = json_dumps(cl, JSON_COMPACT);
	char *h64 = b64url((unsigned char *)hs, strlen(hs)), *c64 = b64url((unsigned char *)cs, strlen(cs));
	char *input = xasprintf("%s.%s", h64, c64);
	free(hs), free(cs), free(h64), free(c64);
	json_decref(hd);
	json_decref(cl);

	EVP_MD_CTX *md = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	unsigned char *sig = NULL;
	size_t siglen = 0;
	char *out = NULL;
	bool ok = md && EVP_DigestSignInit(md, &pctx, EVP_sha256(), NULL, m->key) == 1;
	if (ok && !m->rs256)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_DIGEST) == 1;
	ok = ok && EVP_DigestSign(md, NULL, &siglen, (unsigned char *)input, strlen(input)) == 1;
	if (ok) {
		sig = xmalloc(siglen);
		ok = EVP_DigestSign(md, sig, &siglen, (unsigned char *)input, strlen(input)) == 1;
	}
	if (ok) {
		char *s64 = b64url(sig, siglen);
		out = xasprintf("%s.%s", input, s64);
		free(s64);
	} else {
		set_why(why, whysz, "cannot sign the client assertion with the certificate's key");
	}
	free(sig);
	EVP_MD_CTX_free(md);
	free(input);
	return out;
}

/* ---- setup ---- */

static const char *
region_host(const char *r)
{
	static const char *const regions[] = {"us", "eu", "uk", "au", "swa", "ina", "aea"};
	for (size_t i = 0; i < NELEM(regions); i++)
		if (strcmp(r, regions[i]) == 0)
			return regions[i];
	return NULL;
}

static char *
strip_slash(char *s)
{
	size_t n = strlen(s);
	while (n > 0 && s[n - 1] == '/')
		s[--n] = '\0';
	return s;
}

struct mde *
mde_new(const struct config *c, const struct clock *clk, char *why, size_t whysz)
{
	if (c->tenant_id == NULL || c->client_id == NULL) {
		set_why(why, whysz, "[mde] needs tenant_id and client_id");
		return NULL;
	}
	int sources =
		!!c->client_secret_file + !!c->client_secret_env + !!c->client_secret_credential + !!c->certificate;
	if (sources != 1) {
		set_why(why, whysz,
			"[mde] needs exactly one of client_secret_file, client_secret_env, "
			"client_secret_credential and certificate (%d given)",
			sources);
		return NULL;
	}
	struct mde *m = xcalloc(1, sizeof(*m));
	m->clk = clk ? clk : &clock_real;
	m->tenant = xstrdup(c->tenant_id);
	m->client_id = xstrdup(c->client_id);
	m->application = xstrdup(c->application);
	m->token_version = c->token_version;
	m->deadline_s = (double)c->api_deadline_s;
	m->list_page = c->list_page;
	m->rs256 = c->certificate_rs256;
	/* Jitter spreads real clients apart; under an injected clock (a
	 * test, a fuzzer) the same input must take the same path. */
	if (clk == NULL || clk == &clock_real)
		RAND_bytes((unsigned char *)&m->rng, sizeof(m->rng));
	else
		m->rng = 0x9e3779b97f4a7c15ULL;
	m->rng |= 1;

	const char *cloud = c->cloud;
	if (strcmp(cloud, "gcc") == 0) {
		m->api = xstrdup("https://api-gcc.securitycenter.microsoft.us");
		m->login = xstrdup("https://login.microsoftonline.com");
	} else if (strcmp(cloud, "gcc-high") == 0 || strcmp(cloud, "dod") == 0) {
		m->api = xstrdup("https://api-gov.securitycenter.microsoft.us");
		m->login = xstrdup("https://login.microsoftonline.us");
	} else {
		const char *r = c->region ? c->region : "";
		if (strcmp(r, "unified") == 0)
			m->api = xstrdup("https://api.security.microsoft.com");
		else if (region_host(r))
			m->api = xasprintf("https://%s.api.security.microsoft.com", r);
		else
			m->api = xstrdup("https://api.securitycenter.microsoft.com");
		m->login = xstrdup("https://login.microsoftonline.com");
	}
	/* The token's audience: the legacy resource works on every host
	 * (spec 1.2); the government clouds use their own API host. */
	if (c->resource) {
		m->resource = xstrdup(c->resource);
	} else if (strcmp(cloud, "gcc") == 0 || strcmp(cloud, "gcc-high") == 0 || strcmp(cloud, "dod") == 0) {
		/* The documents name no gov audience: the API host, or the
		 * onmicrosoft.us identifier some clients use; the other is
		 * tried once on AADSTS500011 (spec 9, gov-audience). */
		m->resource = xstrdup(m->api);
		m->alt_resource = xstrdup("https://securitycenter.onmicrosoft.us");
	} else {
		m->resource = xstrdup("https://api.securitycenter.microsoft.com");
	}
	m->list_max = (c->cap > 15000 ? c->cap : 15000) + LIMIT_MDE_LIST_SLACK;
	if (c->api_url) {
		free(m->api);
		m->api = strip_slash(xstrdup(c->api_url));
	}
	if (c->login_url) {
		free(m->login);
		m->login = strip_slash(xstrdup(c->login_url));
	}
	if (!http_url_ok(m->api, c->allow_http, why, whysz) || !http_url_ok(m->login, c->allow_http, why, whysz))
		goto fail;

	if (c->client_secret_file) {
		m->secret =
			trim_secret(file_read_private(c->client_secret_file, "client_secret_file", 4096, why, whysz),
				    "client_secret_file", why, whysz);
	} else if (c->client_secret_env) {
		const char *v = getenv(c->client_secret_env);
		if (v == NULL || *v == '\0')
			set_why(why, whysz, "client_secret_env: the environment variable %s is not set",
				c->client_secret_env);
		else
			m->secret = trim_secret(xstrdup(v), "client_secret_env", why, whysz);
	} else if (c->client_secret_credential) {
		const char *dir = getenv("CREDENTIALS_DIRECTORY");
		if (dir == NULL || *dir == '\0') {
			set_why(why, whysz,
				"client_secret_credential: $CREDENTIALS_DIRECTORY is not set (run "
				"under systemd with LoadCredential=%s:...)",
				c->client_secret_credential);
		} else {
			char *p = xasprintf("%s/%s", dir, c->client_secret_credential);
			m->secret = trim_secret(file_read_private(p, "credential", 4096, why, whysz),
						"client_secret_credential", why, whysz);
			free(p);
		}
	} else if (!load_certificate(m, c->certificate, why, whysz)) {
		goto fail;
	}
	if (m->secret == NULL && m->key == NULL)
		goto fail;

	struct http_opts ho = {
		.ca_file = c->mde_ca_file, /* never [fetch] ca_file: a feed's CA is not trusted for Microsoft */
		.proxy = c->mde_proxy ? c->mde_proxy : c->proxy,
		.user_agent = c->user_agent,
		.connect_timeout_s = c->connect_timeout_s,
		.timeout_s = c->api_timeout_s,
		.max_body = 256LL << 20,
	};
	m->h = http_new(&ho);
	if (m->h == NULL) {
		set_why(why, whysz, "cannot start libcurl");
		goto fail;
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
fail:
	mde_free(m);
	return NULL;
}

void
mde_free(struct mde *m)
{
	if (m == NULL)
		return;
	http_free(m->h);
	if (m->secret) {
		explicit_bzero(m->secret, strlen(m->secret));
		free(m->secret);
	}
	if (m->token) {
		explicit_bzero(m->token, strlen(m->token));
		free(m->token);
	}
	EVP_PKEY_free(m->key);
	json_decref(m->claims);
	free(m->x5t), free(m->x5t256);
	free(m->tenant), free(m->client_id), free(m->application);
	free(m->api), free(m->login), free(m->resource), free(m->alt_resource), free(m->created_by);
	for (int i = 0; i < MDE_EP__COUNT; i++)
		ratelimit_free(&m->rl[i]);
	free(m);
}

/* ---- the one path every request takes ---- */

static double
now_s(const struct mde *m)
{
	return m->clk->now(m->clk->ctx);
}

/* Waits for ep's budget; false when that would pass the deadline. */
static bool
await_budget(struct mde *m, enum mde_ep ep, double deadline, char *why, size_t whysz)
{
	double now = now_s(m), w = ratelimit_wait(&m->rl[ep], now);
	if (w > 0) {
		if (now + w > deadline) {
			set_why(why, whysz, "%s: the rate limit would hold the call %.0f s, past the deadline",
				eps[ep].name, w);
			return false;
		}
		if (w >= 5)
			log_info("%s: waiting %.0f s for the endpoint's rate limit", eps[ep].name, w);
		progress_wait(eps[ep].name, w);
		m->clk->sleep(m->clk->ctx, w);
		m->st.waited_s += w;
		now = now_s(m);
	}
	if (stop_requested()) {
		set_why(why, whysz, "stopping on %s", stop_signal_name());
		return false;
	}
	ratelimit_record(&m->rl[ep], now);
	return true;
}

/* Sends one request with retries; the token is the caller's. Returns
 * the verdict of the last answer in *v. */
static enum err
send_retrying(struct mde *m, enum mde_ep ep, const char *method, const char *url, const char *const *hdrs,
	      const char *body, size_t len, double deadline, struct http_reply *r, enum retry_verdict *v, char *why,
	      size_t whysz)
{
	for (unsigned attempt = 1;; attempt++) {
		if (!await_budget(m, ep, deadline, why, whysz))
			return ERR_NET;
		m->st.calls[ep]++;
		http_send(m->h, method, url, hdrs, body, len, r);
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
			wait = retry_after_parse(r->retry_after, time(NULL), RETRY_AFTER_MAX_S);
		if (wait < 0)
			wait = retry_backoff(attempt, r->status == 429 ? 2.0 : 0.5, 60.0, &m->rng);
		double now = now_s(m);
		char what[300];
		if (r->status)
			snprintf(what, sizeof(what), "HTTP %ld", r->status);
		else
			snprintf(what, sizeof(what), "%s", r->error);
		if (now + wait > deadline) {
			set_why(why, whysz, "%s %s: %s, and a retry in %.0f s would pass the deadline", method,
				eps[ep].name, what, wait);
			*v = RETRY_FAIL;
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

static bool
decode_claims(struct mde *m)
{
	json_decref(m->claims);
	m->claims = NULL;
	const char *a = strchr(m->token, '.'), *b = a ? strchr(a + 1, '.') : NULL;
	if (b == NULL)
		return false;
	size_t n;
	unsigned char *raw = b64url_decode(a + 1, (size_t)(b - a - 1), &n);
	if (raw == NULL)
		return false;
	m->claims = json_loadb((const char *)raw, n, 0, NULL);
	free(raw);
	return json_is_object(m->claims);
}

/* Gets a new token for m->resource; *refused is set when Entra does
 * not know that audience (AADSTS500011). */
static enum err
fetch_token(struct mde *m, double deadline, bool *refused, char *why, size_t whysz)
{
	*refused = false;
	bool v2 = m->token_version != 1;
	char *url = xasprintf("%s/%s/oauth2/%stoken", m->login, m->tenant, v2 ? "v2.0/" : "");
	char *aud_esc = v2 ? NULL : http_escape(m->resource);
	char *scope = v2 ? xasprintf("%s/.default", m->resource) : NULL;
	char *scope_esc = scope ? http_escape(scope) : NULL;
	char *cid = http_escape(m->client_id);
	char *cred;
	if (m->secret) {
		char *s = http_escape(m->secret);
		cred = xasprintf("client_secret=%s", s);
		explicit_bzero(s, strlen(s));
		free(s);
	} else {
		/* Entra checks the assertion's audience against its own URL. */
		char *aud = xstrdup(url);
		char *jwt = client_assertion(m, aud, why, whysz);
		free(aud);
		if (jwt == NULL) {
			free(url), free(aud_esc), free(scope), free(scope_esc), free(cid);
			return ERR_CONFIG;
		}
		cred = xasprintf(
			"client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type"
			"%%3Ajwt-bearer&client_assertion=%s",
			jwt);
		free(jwt);
	}
	char *form = xasprintf("grant_type=client_credentials&client_id=%s&%s=%s&%s", cid, v2 ? "scope" : "resource",
			       v2 ? scope_esc : aud_esc, cred);
	explicit_bzero(cred, strlen(cred));
	free(cred), free(aud_esc), free(scope), free(scope_esc), free(cid);
	static const char *const hdrs[] = {"Content-Type: application/x-www-form-urlencoded",
					   "Accept: application/json", NULL};
	struct http_reply r;
	enum retry_verdict v;
	enum err e =
		send_retrying(m, MDE_EP_TOKEN, "POST", url, hdrs, form, strlen(form), deadline, &r, &v, why, whysz);
	explicit_bzero(form, strlen(form));
	free(form);
	if (e != ERR_OK) {
		http_reply_free(&r);
		free(url);
		return e;
	}
	json_t *j = r.body ? json_loadb(r.body, r.len, 0, NULL) : NULL;
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	json_t *exp = json_object_get(j, "expires_in");
	double life = json_is_integer(exp) ? (double)json_integer_value(exp)
		: json_is_string(exp)      ? atof(json_string_value(exp))
					   : 0;
	if (r.status == 200 && tok && *tok && life > 0) {
		m->token = xstrdup(tok);
		double margin = life / 4 < TOKEN_MARGIN_S ? life / 4 : TOKEN_MARGIN_S;
		m->token_renew_at = now_s(m) + life - margin;
		if (!decode_claims(m))
			log_warn("token: its claims cannot be read (roles unknown)");
		log_debug("token: new, valid %.0f s", life);
	} else {
		/* Entra's error and the first line of its description: never
		 * the request, which holds the credential. */
		const char *err = json_string_value(json_object_get(j, "error"));
		const char *desc = json_string_value(json_object_get(j, "error_description"));
		char ebuf[200];
		*refused = r.status == 400 && desc && strncmp(desc, "AADSTS500011", 12) == 0;
		if (r.status == 0)
			set_why(why, whysz, "token from %s: %s", url, r.error);
		else if (r.status == 200)
			set_why(why, whysz, "token from %s: the answer holds no usable access_token", url);
		else
			set_why(why, whysz, "token from %s: HTTP %ld %s%s%s", url, r.status, err ? err : "",
				desc ? ": " : "",
				desc ? echo_str(desc, strcspn(desc, "\r\n"), ebuf, sizeof(ebuf)) : "");
		e = r.status == 0 ? ERR_NET : r.status == 200 ? ERR_PARSE : ERR_HTTP;
	}
	json_decref(j);
	if (r.body)
		explicit_bzero(r.body, r.len);
	http_reply_free(&r);
	free(url);
	return e;
}

/* Makes sure a token valid for a while is at hand. */
static enum err
ensure_token(struct mde *m, double deadline, char *why, size_t whysz)
{
	if (m->token && now_s(m) < m->token_renew_at)
		return ERR_OK;
	if (m->token) {
		explicit_bzero(m->token, strlen(m->token));
		free(m->token);
		m->token = NULL;
	}
	bool refused = false;
	enum err e = fetch_token(m, deadline, &refused, why, whysz);
	if (e != ERR_OK && refused && m->alt_resource) {
		/* Once: the other candidate becomes the audience for good. */
		char *first = m->resource;
		m->resource = m->alt_resource;
		m->alt_resource = NULL;
		log_info("token: Entra does not know the audience %s (AADSTS500011); trying %s", first, m->resource);
		e = fetch_token(m, deadline, &refused, why, whysz);
		if (e == ERR_OK)
			log_warn(
				"token: Entra refused the audience %s (AADSTS500011); the audience %s worked: set "
				"resource = %s in [mde] to skip the first try",
				first, m->resource, m->resource);
		free(first);
	}
	return e;
}

const json_t *
mde_roles(struct mde *m, char *why, size_t whysz)
{
	if (ensure_token(m, now_s(m) + m->deadline_s, why, whysz) != ERR_OK)
		return NULL;
	json_t *roles = json_object_get(m->claims, "roles");
	if (!json_is_array(roles)) {
		set_why(why, whysz, "the token carries no roles claim");
		return NULL;
	}
	return roles;
}

/* MDE's error code and message from a body, for people. */
static void
api_error(const struct http_reply *r, const char *method, const char *path, char *why, size_t whysz)
{
	json_t *j = r->body ? json_loadb(r->body, r->len, 0, NULL) : NULL;
	json_t *e = json_object_get(j, "error");
	const char *code = json_string_value(json_object_get(e, "code"));
	const char *msg = json_string_value(json_object_get(e, "message"));
	char mb[200], pb[200];
	echo_str(path, strlen(path), pb, sizeof(pb));
	if (code)
		set_why(why, whysz, "%s %s: HTTP %ld %s%s%s", method, pb, r->status, code, msg ? ": " : "",
			msg ? echo_str(msg, strlen(msg), mb, sizeof(mb)) : "");
	else
		set_why(why, whysz, "%s %s: HTTP %ld", method, pb, r->status);
	json_decref(j);
}

enum err
mde_call(struct mde *m, enum mde_ep ep, const char *method, const char *path, json_t *body, long *status, json_t **out,
	 char *why, size_t whysz)
{
	double deadline = now_s(m) + m->deadline_s;
	char *url = xasprintf("%s%s", m->api, path);
	char *payload = body ? json_dumps(body, JSON_COMPACT) : NULL;
	enum err e = ERR_OK;
	bool refreshed = false;
	*status = 0;
	if (out)
		*out = NULL;
	for (;;) {
		if ((e = ensure_token(m, deadline, why, whysz)) != ERR_OK)
			break;
		char *auth = xasprintf("Authorization: Bearer %s", m->token);
		const char *hdrs[] = {auth, "Accept: application/json",
				      payload ? "Content-Type: application/json" : NULL, NULL};
		struct http_reply r;
		enum retry_verdict v;
		e = send_retrying(m, ep, method, url, hdrs, payload, payload ? strlen(payload) : 0, deadline, &r, &v,
				  why, whysz);
		explicit_bzero(auth, strlen(auth));
		free(auth);
		if (e != ERR_OK) {
			http_reply_free(&r);
			break;
		}
		*status = r.status;
		if (v == RETRY_REFRESH && !refreshed) {
			/* Expired early or revoked: one new token, one more try. */
			refreshed = true;
			log_info("%s: 401, getting a new token", eps[ep].name);
			m->token_renew_at = 0;
			http_reply_free(&r);
			continue;
		}
		if (r.status >= 200 && r.status < 300) {
			if (out && r.len > 0) {
				json_error_t je;
				*out = json_loadb(r.body, r.len, 0, &je);
				if (*out == NULL) {
					set_why(why, whysz, "%s %s: HTTP %ld with a body that is not JSON (%s)", method,
						eps[ep].name, r.status, je.text);
					e = ERR_PARSE;
				}
			}
		} else {
			if (r.status)
				api_error(&r, method, path, why, whysz);
			else
				set_why(why, whysz, "%s %s: %s", method, eps[ep].name, r.error);
			e = r.status ? ERR_HTTP : ERR_NET;
		}
		http_reply_free(&r);
		break;
	}
	free(payload);
	free(url);
	return e;
}

/* ---- endpoints ---- */

static bool
same_id(const char *a, const char *b)
{
	return a && b && strlen(a) == strlen(b) && mem_ieq(a, b, strlen(a));
}

bool
mde_owned(const struct mde *m, const json_t *ind)
{
	const char *by = json_string_value(json_object_get(ind, "createdBy"));
	const char *app = json_string_value(json_object_get(ind, "application"));
	return app && strcmp(app, m->application) == 0 && (same_id(by, m->client_id) || same_id(by, m->created_by));
}

void
mde_set_created_by(struct mde *m, const char *by)
{
	free(m->created_by);
	m->created_by = by ? xstrdup(by) : NULL;
}

const char *
mde_created_by(const struct mde *m)
{
	return m->created_by;
}

enum err
mde_list_all(struct mde *m, json_t **all, char *why, size_t whysz)
{
	json_t *seen = json_object();
	*all = json_array();
	int page = m->list_page > 0 ? m->list_page : 10000;
	enum err e = ERR_OK;
	for (long long skip = 0;; skip += page) {
		char path[96];
		long status;
		json_t *out;
		snprintf(path, sizeof(path), "/api/indicators?$top=%d&$skip=%lld", page, skip);
		e = mde_call(m, MDE_EP_LIST, "GET", path, NULL, &status, &out, why, whysz);
		if (e == ERR_HTTP && status == 404) {
			/* Nothing (more) to list: some tenants answer an empty
			 * page so (spec 9, empty-list). */
			e = ERR_OK;
			break;
		}
		if (e != ERR_OK)
			break;
		json_t *v = json_object_get(out, "value");
		if (!json_is_array(v)) {
			set_why(why, whysz, "GET %s: the answer has no \"value\" array", path);
			json_decref(out);
			e = ERR_PARSE;
			break;
		}
		size_t i, n = json_array_size(v), fresh = 0;
		json_t *ind;
		json_array_foreach(v, i, ind) {
			char idb[32];
			const char *ids = mde_id(ind, idb);
			/* A list that shifts under paging may repeat one. */
			if (ids == NULL || json_object_get(seen, ids))
				continue;
			json_object_set_new(seen, ids, json_true());
			if (ids == idb) /* every id comes out as text */
				json_object_set_new(ind, "id", json_string(idb));
			json_array_append(*all, ind);
			fresh++;
		}
		json_decref(out);
		if (n < (size_t)page)
			break;
		if (fresh == 0) {
			/* A full page of what we have: $skip is not honoured. */
			log_warn("list: the page at $skip=%lld repeats the last one; taking the %zu listed as all",
				 skip, json_array_size(*all));
			break;
		}
		if ((long long)json_array_size(*all) > m->list_max) {
			set_why(why, whysz,
				"list: MDE listed more than %lld indicators, past any tenant's cap; not "
				"paging further",
				m->list_max);
			e = ERR_PARSE;
			break;
		}
	}
	json_decref(seen);
	if (e != ERR_OK) {
		json_decref(*all);
		*all = NULL;
	}
	return e;
}

enum err
mde_import(struct mde *m, json_t *items, json_t **results, long *status, char *why, size_t whysz)
{
	json_t *out;
	*results = NULL;
	json_t *body = json_pack("{s:O}", "Indicators", items);
	enum err e = mde_call(m, MDE_EP_IMPORT, "POST", "/api/indicators/import", body, status, &out, why, whysz);
	json_decref(body);
	if (e != ERR_OK)
		return e;
	json_t *v = json_object_get(out, "value");
	if (!json_is_array(v) || json_array_size(v) != json_array_size(items)) {
		set_why(why, whysz, "import: %zu results for %zu indicators", json_is_array(v) ? json_array_size(v) : 0,
			json_array_size(items));
		json_decref(out);
		return ERR_PARSE;
	}
	*results = json_incref(v);
	json_decref(out);
	return ERR_OK;
}

enum err
mde_batch_delete(struct mde *m, const char *const *ids, size_t n, long *status, char *why, size_t whysz)
{
	json_t *arr = json_array();
	for (size_t i = 0; i < n; i++)
		json_array_append_new(arr, json_string(ids[i]));
	json_t *body = json_pack("{s:o}", "IndicatorIds", arr);
	enum err e =
		mde_call(m, MDE_EP_BATCHDELETE, "POST", "/api/indicators/BatchDelete", body, status, NULL, why, whysz);
	json_decref(body);
	return e;
}

enum err
mde_delete(struct mde *m, const char *id, char *why, size_t whysz)
{
	long status;
	char *idesc = http_escape(id);
	char *path = xasprintf("/api/indicators/%s", idesc);
	enum err e = mde_call(m, MDE_EP_DELETE, "DELETE", path, NULL, &status, NULL, why, whysz);
	free(path);
	free(idesc);
	return e == ERR_HTTP && status == 404 ? ERR_OK : e;
}

enum err
mde_device_groups(struct mde *m, json_t **groups, char *why, size_t whysz)
{
	*groups = json_object();
	for (long long skip = 0;; skip += 10000) {
		char path[80];
		long status;
		json_t *out;
		snprintf(path, sizeof(path), "/api/machines?$top=10000&$skip=%lld", skip);
		enum err e = mde_call(m, MDE_EP_MACHINES, "GET", path, NULL, &status, &out, why, whysz);
		if (e == ERR_HTTP && status == 404) /* no (more) machines: DD get-machines.md */
			return ERR_OK;
		if (e != ERR_OK) {
			json_decref(*groups);
			*groups = NULL;
			return e;
		}
		json_t *v = json_object_get(out, "value"), *x;
		size_t i, n = json_array_size(v);
		json_array_foreach(v, i, x) {
			const char *g = json_string_value(json_object_get(x, "rbacGroupName"));
			if (g && *g)
				json_object_set_new(*groups, g,
						    json_integer(json_integer_value(json_object_get(*groups, g)) + 1));
		}
		json_decref(out);
		if (n < 10000 || skip >= 1000000) /* a million devices: enough for any tenant */
			return ERR_OK;
	}
}

const char *
mde_id(const json_t *ind, char buf[32])
{
	const json_t *id = json_object_get(ind, "id");
	if (json_is_integer(id)) {
		snprintf(buf, 32, "%lld", (long long)json_integer_value(id));
		return buf;
	}
	return json_string_value(id);
}

const char *
mde_class_name(enum mde_class k)
{
	static const char *const names[] = {"2xx", "3xx", "4xx", "429", "5xx", "none"};
	_Static_assert(NELEM(names) == MDE_CLASS__COUNT, "class names");
	return (unsigned)k < MDE_CLASS__COUNT ? names[k] : "";
}
