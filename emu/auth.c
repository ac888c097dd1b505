/* Entra ID token endpoints (v1 and v2, client credentials with a client
 * secret) and bearer checks. Tokens are HS256 JWTs signed with a key
 * made at start: tid, appid, roles, aud, iat, nbf, exp. */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/sha.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ctype.h>
#include <fcntl.h>
#include <unistd.h>
#include <strings.h>

#include "emu.h"

struct app;
/* A client assertion, parsed once: its text, header and payload, and
 * its signature over the first signed_len bytes. */
struct jwt {
	const char *text;
	json_t *h, *p;
	unsigned char *sig;
	size_t sn, signed_len;
};
static bool jwt_parse(const char *text, struct jwt *j);
static void jwt_free(struct jwt *j);
static bool check_federated(struct emu *e, const struct app *a, const struct jwt *j, char *why, size_t whysz,
			    int *code);
static bool check_assertion(struct emu *e, const struct app *a, const char *tenant, const struct jwt *j, char *why,
			    size_t whysz, int *code);

#define GRAPH_AUDIENCE "https://graph.microsoft.com"

/* The commercial audiences (spec 1.2): always accepted. */
static const char *const audiences[] = {
	"https://api.securitycenter.microsoft.com", "https://securitycenter.onmicrosoft.com/windowsatpservice",
	"https://api.securitycenter.windows.com",
	GRAPH_AUDIENCE, /* for Microsoft Graph (graph.c), never for the MDE API */
};
/* The government clouds' candidates (spec 1.5 and reading gov-audience):
 * the API hosts, or the onmicrosoft.us identifier. */
static const char *const gov_api_hosts[] = {
	"https://api-gcc.securitycenter.microsoft.us",
	"https://api-gov.securitycenter.microsoft.us",
};
static const char gov_onmicrosoft[] = "https://securitycenter.onmicrosoft.us";

static char *
b64url(const unsigned char *p, size_t n)
{
	static const char t[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	char *o = xmalloc(n * 4 / 3 + 4), *w = o;
	for (size_t i = 0; i < n; i += 3) {
		unsigned v =
			(unsigned)p[i] << 16 | (i + 1 < n ? (unsigned)p[i + 1] << 8 : 0) | (i + 2 < n ? p[i + 2] : 0);
		*w++ = t[v >> 18 & 63];
		*w++ = t[v >> 12 & 63];
		if (i + 1 < n)
			*w++ = t[v >> 6 & 63];
		if (i + 2 < n)
			*w++ = t[v & 63];
	}
	*w = '\0';
	return o;
}

/* Decodes base64url without padding; NULL if malformed. */
static unsigned char *
b64url_dec(const char *s, size_t n, size_t *outn)
{
	unsigned char *o = xmalloc(n * 3 / 4 + 3);
	size_t w = 0;
	unsigned v = 0;
	int bits = 0;
	for (size_t i = 0; i < n; i++) {
		int c = s[i], d;
		if (c >= 'A' && c <= 'Z')
			d = c - 'A';
		else if (c >= 'a' && c <= 'z')
			d = c - 'a' + 26;
		else if (c >= '0' && c <= '9')
			d = c - '0' + 52;
		else if (c == '-')
			d = 62;
		else if (c == '_')
			d = 63;
		else {
			free(o);
			return NULL;
		}
		v = v << 6 | (unsigned)d;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			o[w++] = (unsigned char)(v >> bits);
		}
	}
	*outn = w;
	return o;
}

static char *
sign(const struct emu *e, const char *msg)
{
	unsigned char mac[32];
	unsigned maclen = 0;
	HMAC(EVP_sha256(), e->key, sizeof(e->key), (const unsigned char *)msg, strlen(msg), mac, &maclen);
	return b64url(mac, maclen);
}

static void
entra_error(struct reply *r, int status, const char *error, int code, const char *desc)
{
	char text[300];
	snprintf(text, sizeof(text), "AADSTS%d: %s", code, desc);
	r->status = status;
	r->body = json_pack("{s:s, s:s, s:[i], s:s, s:s}", "error", error, "error_description", text, "error_codes",
			    code, "trace_id", "00000000-0000-0000-0000-000000000000", "correlation_id",
			    "00000000-0000-0000-0000-000000000000");
}

/* Form field from application/x-www-form-urlencoded; malloc'd or NULL. */
static char *
form_get(const char *body, size_t len, const char *name)
{
	size_t nl = strlen(name);
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *e = amp ? amp : end;
		if ((size_t)(e - p) > nl && memcmp(p, name, nl) == 0 && p[nl] == '=') {
			struct strbuf sb = {0};
			sb_add(&sb, "", 0);
			for (const char *q = p + nl + 1; q < e; q++) {
				if (*q == '+')
					sb_addc(&sb, ' ');
				else if (*q == '%' && e - q >= 3 && isxdigit((unsigned char)q[1]) &&
					 isxdigit((unsigned char)q[2])) {
					char hex[3] = {q[1], q[2], 0};
					sb_addc(&sb, (char)strtol(hex, NULL, 16));
					q += 2;
				} else
					sb_addc(&sb, *q);
			}
			return sb.buf;
		}
		p = e + 1;
	}
	return NULL;
}

/* The emulator's own base URL, with or without a final slash: clients
 * that derive their audience from their base URL (<base>/.default). */
static bool
own_base(const struct emu *e, const char *a)
{
	size_t n = strlen(e->base);
	return strncmp(a, e->base, n) == 0 && (a[n] == '\0' || (a[n] == '/' && a[n + 1] == '\0'));
}

enum aud {
	AUD_UNKNOWN,
	AUD_OK,
	AUD_OTHER_GOV
};

/* Which audience a is. For a token request, the gov candidate that the
 * gov-audience reading does not hold is AUD_OTHER_GOV (AADSTS500011);
 * a token already issued is checked with any_gov. */
static enum aud
audience(const struct emu *e, const char *a, bool any_gov)
{
	bool onms = reading_alt(e, R_GOV_AUDIENCE);
	for (size_t i = 0; i < NELEM(audiences); i++)
		if (strcmp(a, audiences[i]) == 0)
			return AUD_OK;
	if (own_base(e, a))
		return AUD_OK;
	for (size_t i = 0; i < NELEM(gov_api_hosts); i++)
		if (strcmp(a, gov_api_hosts[i]) == 0)
			return any_gov || !onms ? AUD_OK : AUD_OTHER_GOV;
	if (strcmp(a, gov_onmicrosoft) == 0)
		return any_gov || onms ? AUD_OK : AUD_OTHER_GOV;
	return AUD_UNKNOWN;
}

void
app_object_id(const struct app *a, char out[37])
{
	unsigned char d[32];
	char *seed = xasprintf("service-principal|%s|%s", a->tenant, a->client_id);
	SHA256((const unsigned char *)seed, strlen(seed), d);
	free(seed);
	d[6] = (d[6] & 0x0f) | 0x40; /* a version 4 GUID's shape */
	d[8] = (d[8] & 0x3f) | 0x80;
	snprintf(out, 37, "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", d[0], d[1], d[2],
		 d[3], d[4], d[5], d[6], d[7], d[8], d[9], d[10], d[11], d[12], d[13], d[14], d[15]);
}

bool
app_is(const struct app *a, const char *by)
{
	return by && (strcmp(by, a->client_id) == 0 || strcmp(by, a->oid) == 0);
}

/* A token for app a, audience aud: signed claims with its roles, and
 * the reply Entra's v1 or v2 endpoint gives. */
static void
issue(struct emu *e, const struct app *a, const char *aud, bool v2, struct reply *r)
{
	long long now = emu_now_ms(e) / 1000;
	json_t *roles = json_array();
	for (unsigned bit = 1; bit <= ROLE_LAST; bit <<= 1)
		if (a->roles & bit)
			json_array_append_new(roles, json_string(role_name(bit)));
	json_t *claims =
		json_pack("{s:s, s:s, s:s, s:s, s:o, s:I, s:I, s:I}", "aud", aud, "iss",
			  "https://sts.windows.net/emulator/", "tid", a->tenant, "appid", a->client_id, "roles", roles,
			  "iat", (json_int_t)now, "nbf", (json_int_t)now, "exp", (json_int_t)(now + e->token_lifetime));
	char *payload = json_dumps(claims, JSON_COMPACT);
	json_decref(claims);
	char *h64 = b64url((const unsigned char *)"{\"alg\":\"HS256\",\"typ\":\"JWT\"}", 27);
	char *p64 = b64url((const unsigned char *)payload, strlen(payload));
	char *msg = xasprintf("%s.%s", h64, p64);
	char *sig = sign(e, msg);
	char *tok = xasprintf("%s.%s", msg, sig);
	r->status = 200;
	r->body = json_pack("{s:s, s:I, s:I, s:s}", "token_type", "Bearer", "expires_in", (json_int_t)e->token_lifetime,
			    "ext_expires_in", (json_int_t)e->token_lifetime, "access_token", tok);
	if (!v2) {
		char num[24];
		snprintf(num, sizeof(num), "%lld", now + e->token_lifetime);
		json_object_set_new(r->body, "expires_on", json_string(num));
		snprintf(num, sizeof(num), "%lld", now);
		json_object_set_new(r->body, "not_before", json_string(num));
		json_object_set_new(r->body, "resource", json_string(aud));
	}
	free(payload), free(h64), free(p64), free(msg), free(sig), free(tok);
}

void
auth_token(struct emu *e, const struct request *q, const char *tenant, bool v2, struct reply *r)
{
	char *grant = form_get(q->body ? q->body : "", q->body_len, "grant_type");
	char *cid = form_get(q->body ? q->body : "", q->body_len, "client_id");
	char *secret = form_get(q->body ? q->body : "", q->body_len, "client_secret");
	char *assertion = form_get(q->body ? q->body : "", q->body_len, "client_assertion");
	char *aud = form_get(q->body ? q->body : "", q->body_len, v2 ? "scope" : "resource");
	const struct app *a = NULL;
	bool tenant_known = false;

	if (strcmp(q->method, "POST") != 0) {
		entra_error(r, 405, "invalid_request", 900561, "The endpoint only accepts POST requests.");
		goto out;
	}
	for (size_t i = 0; i < e->napps; i++) {
		tenant_known |= strcmp(e->apps[i].tenant, tenant) == 0;
		if (cid && strcmp(e->apps[i].tenant, tenant) == 0 && strcmp(e->apps[i].client_id, cid) == 0)
			a = &e->apps[i];
	}
	if (!tenant_known) {
		entra_error(r, 400, "invalid_request", 90002, "Tenant not found.");
		goto out;
	}
	if (grant == NULL || cid == NULL || aud == NULL) {
		entra_error(r, 400, "invalid_request", 900144,
			    "The request body must contain grant_type, client_id and the resource or scope.");
		goto out;
	}
	if (strcmp(grant, "client_credentials") != 0) {
		entra_error(r, 400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
		goto out;
	}
	if (v2) {
		size_t n = strlen(aud);
		if (n < 9 || strcmp(aud + n - 9, "/.default") != 0) {
			entra_error(r, 400, "invalid_scope", 1002012,
				    "The scope must end in /.default for client credentials.");
			goto out;
		}
		aud[n - 9] = '\0';
	}
	if (audience(e, aud, false) != AUD_OK) {
		entra_error(r, 400, "invalid_resource", 500011, "The resource principal was not found in the tenant.");
		goto out;
	}
	if (a == NULL) {
		entra_error(r, 400, "unauthorized_client", 700016, "Application not found in the directory.");
		goto out;
	}
	if (assertion) {
		char *atype = form_get(q->body ? q->body : "", q->body_len, "client_assertion_type");
		bool typed = atype && strcmp(atype, "urn:ietf:params:oauth:client-assertion-type:jwt-bearer") == 0;
		free(atype);
		char why[200];
		int code;
		if (!typed) {
			entra_error(
				r, 400, "invalid_request", 90002,
				"client_assertion_type must be urn:ietf:params:oauth:client-assertion-type:jwt-bearer.");
			goto out;
		}
		/* Parsed once: an issuer other than the client is a federated token. */
		struct jwt j;
		bool parsed = jwt_parse(assertion, &j);
		const char *iss = parsed ? json_string_value(json_object_get(j.p, "iss")) : NULL;
		bool fed = a->fed_pubkey && iss && strcmp(iss, a->client_id) != 0;
		bool ok = fed ? check_federated(e, a, &j, why, sizeof(why), &code)
			      : check_assertion(e, a, tenant, parsed ? &j : NULL, why, sizeof(why), &code);
		jwt_free(&j);
		if (!ok) {
			entra_error(r, 401, "invalid_client", code, why);
			goto out;
		}
	} else if (secret == NULL || a->secret == NULL || strlen(secret) != strlen(a->secret) ||
		   CRYPTO_memcmp(secret, a->secret, strlen(secret)) != 0) {
		entra_error(r, 401, "invalid_client", 7000215, "Invalid client secret provided.");
		goto out;
	}
	issue(e, a, aud, v2, r);
out:
	free(grant), free(cid), free(secret), free(assertion), free(aud);
}

void
auth_managed(struct emu *e, const struct request *q, struct reply *r)
{
	const struct app *a = NULL;
	for (size_t i = 0; i < e->napps && a == NULL; i++)
		if (e->apps[i].managed_identity)
			a = &e->apps[i];
	const char *res = req_query(q, "resource"), *ver = req_query(q, "api-version");
	if (strcmp(q->method, "GET") != 0 || a == NULL || e->imds_key_dir == NULL) {
		reply_error(r, 404, "ResourceNotFound", "no managed identity is configured here");
		return;
	}
	if (q->metadata == NULL || strcmp(q->metadata, "true") != 0) {
		reply_error(r, 400, "invalid_request", "Required metadata header not specified");
		return;
	}
	if (ver == NULL || res == NULL || *res == '\0') {
		reply_error(r, 400, "invalid_request", "api-version and resource are required");
		return;
	}
	if (q->authorization == NULL) {
		/* A new key each challenge, in a file only root reads. */
		unsigned char raw[32];
		RAND_bytes(raw, sizeof(raw));
		for (size_t i = 0; i < sizeof(raw); i++)
			snprintf(e->imds_key + 2 * i, 3, "%02x", raw[i]);
		char *path = xasprintf("%s/%016llx.key", e->imds_key_dir, (unsigned long long)emu_now_ms(e));
		int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_NOFOLLOW | O_CLOEXEC, 0600);
		bool ok = fd >= 0 && write(fd, e->imds_key, strlen(e->imds_key)) == (ssize_t)strlen(e->imds_key);
		if (fd >= 0)
			close(fd);
		if (!ok) {
			free(path);
			e->imds_key[0] = '\0';
			reply_error(r, 500, "InternalError", "cannot write the challenge's key file");
			return;
		}
		r->www_authenticate = xasprintf("Basic realm=%s", path);
		free(path);
		reply_error(r, 401, "unauthorized", "Authorization header with the key file's content is required");
		return;
	}
	const char *k = strncmp(q->authorization, "Basic ", 6) == 0 ? q->authorization + 6 : "";
	if (e->imds_key[0] == '\0' || strlen(k) != strlen(e->imds_key) ||
	    CRYPTO_memcmp(k, e->imds_key, strlen(k)) != 0) {
		reply_error(r, 401, "unauthorized", "The key does not match the challenge's");
		return;
	}
	e->imds_key[0] = '\0'; /* one use */
	if (audience(e, res, false) != AUD_OK) {
		reply_error(r, 400, "invalid_resource", "AADSTS500011: The resource principal was not found.");
		return;
	}
	issue(e, a, res, false, r); /* Arc answers in v1's shape: expires_in as given, resource */
}

bool
auth_bearer(struct emu *e, const struct request *q, struct app *app, struct reply *r)
{
	const char *h = q->authorization;
	if (h == NULL || strncasecmp(h, "Bearer ", 7) != 0) {
		reply_error(r, 401, "Unauthorized", "Authorization header with a Bearer token is missing");
		return false;
	}
	const char *tok = h + 7, *d1 = strchr(tok, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	if (d1 == NULL || d2 == NULL || strlen(tok) > 8192) {
		reply_error(r, 401, "Unauthorized", "The token is malformed");
		return false;
	}
	char *msg = xstrndup(tok, (size_t)(d2 - tok));
	char *sig = sign(e, msg);
	bool ok = strlen(sig) == strlen(d2 + 1) && CRYPTO_memcmp(sig, d2 + 1, strlen(sig)) == 0;
	free(msg);
	free(sig);
	if (!ok) {
		reply_error(r, 401, "Unauthorized", "The token signature is invalid");
		return false;
	}
	size_t n;
	unsigned char *pl = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), &n);
	json_t *c = pl ? json_loadb((const char *)pl, n, 0, NULL) : NULL;
	free(pl);
	const char *tid = json_string_value(json_object_get(c, "tid"));
	const char *appid = json_string_value(json_object_get(c, "appid"));
	const char *aud = json_string_value(json_object_get(c, "aud"));
	json_int_t exp = json_integer_value(json_object_get(c, "exp"));
	const struct app *found = NULL;
	for (size_t i = 0; tid && appid && i < e->napps; i++)
		if (strcmp(e->apps[i].tenant, tid) == 0 && strcmp(e->apps[i].client_id, appid) == 0)
			found = &e->apps[i];
	if (found == NULL || aud == NULL || audience(e, aud, true) != AUD_OK) {
		json_decref(c);
		reply_error(r, 401, "Unauthorized", "The token does not name a known application and audience");
		return false;
	}
	if (exp <= emu_now_ms(e) / 1000) {
		json_decref(c);
		reply_error(r, 401, "Unauthorized", "The token has expired");
		return false;
	}
	/* The roles are the token's, as with Entra: a change of an app's
	 * roles shows once it gets a new token. */
	json_t *roles = json_object_get(c, "roles"), *el;
	size_t k;
	*app = *found;
	app->graph = strcmp(aud, GRAPH_AUDIENCE) == 0;
	app->roles = 0;
	json_array_foreach(roles, k, el) {
		if (json_is_string(el))
			app->roles |= role_parse(json_string_value(el));
	}
	json_decref(c);
	return true;
}

/* ---- certificate credentials (client assertions) ---- */

bool
app_set_certificate(struct app *a, const char *pem, size_t len, char *why, size_t whysz)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	BIO_free(bio);
	if (x == NULL) {
		snprintf(why, whysz, "not a PEM certificate");
		return false;
	}
	unsigned char d1[EVP_MAX_MD_SIZE], d2[EVP_MAX_MD_SIZE];
	unsigned n1 = 0, n2 = 0;
	EVP_PKEY *k = X509_get_pubkey(x);
	if (k == NULL || EVP_PKEY_base_id(k) != EVP_PKEY_RSA || !X509_digest(x, EVP_sha1(), d1, &n1) ||
	    !X509_digest(x, EVP_sha256(), d2, &n2)) {
		EVP_PKEY_free(k);
		X509_free(x);
		snprintf(why, whysz, "the certificate must hold an RSA key");
		return false;
	}
	X509_free(x);
	app_clear_certificate(a);
	a->pubkey = k;
	a->x5t = b64url(d1, n1);
	a->x5t256 = b64url(d2, n2);
	return true;
}

void
app_clear_certificate(struct app *a)
{
	EVP_PKEY_free(a->pubkey);
	free(a->x5t);
	free(a->x5t256);
	a->pubkey = NULL;
	a->x5t = a->x5t256 = NULL;
}

bool
app_set_federated(struct app *a, const char *issuer, const char *subject, const char *pem, size_t len, char *why,
		  size_t whysz)
{
	BIO *bio = BIO_new_mem_buf(pem, (int)len);
	X509 *x = bio ? PEM_read_bio_X509(bio, NULL, NULL, NULL) : NULL;
	EVP_PKEY *k = x ? X509_get_pubkey(x) : NULL;
	if (k == NULL && bio) { /* a bare public key */
		BIO_reset(bio);
		k = PEM_read_bio_PUBKEY(bio, NULL, NULL, NULL);
	}
	BIO_free(bio);
	X509_free(x);
	if (k == NULL || EVP_PKEY_base_id(k) != EVP_PKEY_RSA) {
		EVP_PKEY_free(k);
		snprintf(why, whysz, "federated_certificate: not a PEM RSA public key or certificate");
		return false;
	}
	app_clear_federated(a);
	a->fed_issuer = xstrdup(issuer);
	a->fed_subject = xstrdup(subject);
	a->fed_pubkey = k;
	return true;
}

void
app_clear_federated(struct app *a)
{
	EVP_PKEY_free(a->fed_pubkey);
	free(a->fed_issuer), free(a->fed_subject);
	a->fed_pubkey = NULL;
	a->fed_issuer = a->fed_subject = NULL;
}

static bool
verify_sig(EVP_PKEY *k, bool pss, const char *msg, size_t msglen, const unsigned char *sig, size_t siglen)
{
	EVP_MD_CTX *ctx = EVP_MD_CTX_new();
	EVP_PKEY_CTX *pctx = NULL;
	bool ok = ctx && EVP_DigestVerifyInit(ctx, &pctx, EVP_sha256(), NULL, k) == 1;
	if (ok && pss)
		ok = EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PSS_PADDING) == 1 &&
			EVP_PKEY_CTX_set_rsa_pss_saltlen(pctx, RSA_PSS_SALTLEN_AUTO) == 1;
	ok = ok && EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)msg, msglen) == 1;
	EVP_MD_CTX_free(ctx);
	return ok;
}

/* text as a JWT (at most 16 kB); false when it is none. Free with
 * jwt_free either way. */
static bool
jwt_parse(const char *text, struct jwt *j)
{
	*j = (struct jwt){.text = text};
	const char *d1 = strchr(text, '.'), *d2 = d1 ? strchr(d1 + 1, '.') : NULL;
	size_t hn, pn;
	unsigned char *h = NULL, *p = NULL;
	bool ok = d1 && d2 && strlen(text) <= 16384 && (h = b64url_dec(text, (size_t)(d1 - text), &hn)) != NULL &&
		(p = b64url_dec(d1 + 1, (size_t)(d2 - d1 - 1), &pn)) != NULL &&
		(j->sig = b64url_dec(d2 + 1, strlen(d2 + 1), &j->sn)) != NULL &&
		(j->h = json_loadb((const char *)h, hn, 0, NULL)) != NULL &&
		(j->p = json_loadb((const char *)p, pn, 0, NULL)) != NULL;
	free(h), free(p);
	if (ok)
		j->signed_len = (size_t)(d2 - text);
	return ok;
}

static void
jwt_free(struct jwt *j)
{
	json_decref(j->h);
	json_decref(j->p);
	free(j->sig);
	*j = (struct jwt){0};
}

/* exp not passed and nbf (if any) reached, with 5 minutes of skew. */
static bool
in_time(const struct emu *e, const json_t *payload)
{
	json_t *exp = json_object_get(payload, "exp"), *nbf = json_object_get(payload, "nbf");
	long long now = emu_now_ms(e) / 1000;
	return json_is_integer(exp) && json_integer_value(exp) + 300 > now &&
		(nbf == NULL || (json_is_integer(nbf) && json_integer_value(nbf) - 300 <= now));
}

/* Checks an outside issuer's token presented as a's federated credential
 * (entra-docs v2-oauth2-client-creds-grant-flow, "Third case"): RS256
 * signed by the registered key, iss and sub the registered ones, aud
 * api://AzureADTokenExchange, exp not passed (5 minutes of skew). Each
 * failure carries Entra's code: 70021 when no federated record matches
 * (issuer, subject or audience), 700024 out of its time range, 700027 a
 * bad signature (the emulator's choice of code for the last). */
static bool
check_federated(struct emu *e, const struct app *a, const struct jwt *j, char *why, size_t whysz, int *code)
{
	const char *alg = json_string_value(json_object_get(j->h, "alg"));
	const char *iss = json_string_value(json_object_get(j->p, "iss"));
	const char *sub = json_string_value(json_object_get(j->p, "sub"));
	const char *aud = json_string_value(json_object_get(j->p, "aud"));
	*code = 70021;
	if (!alg || strcmp(alg, "RS256") != 0 ||
	    !verify_sig(a->fed_pubkey, false, j->text, j->signed_len, j->sig, j->sn)) {
		*code = 700027;
		snprintf(why, whysz, "Client assertion failed signature validation.");
	} else if (!iss || !sub || !aud || strcmp(iss, a->fed_issuer) || strcmp(sub, a->fed_subject) ||
		   strcmp(aud, "api://AzureADTokenExchange")) {
		snprintf(why, whysz,
			 "No matching federated identity record found for presented assertion. Assertion Issuer: "
			 "'%.200s'. Assertion Subject: '%.200s'. Assertion Audience: '%.100s'.",
			 iss ? iss : "", sub ? sub : "", aud ? aud : "");
	} else if (!in_time(e, j->p)) {
		*code = 700024;
		snprintf(why, whysz, "Client assertion is not within its valid time range.");
	} else {
		return true;
	}
	return false;
}

/* Checks a client assertion JWT for app a (spec 1.3): RS256 with x5t or
 * PS256 with x5t#S256 naming a's certificate, a valid signature, aud =
 * the token endpoint, iss = sub = client id, nbf/exp around now (5
 * minutes of skew), and a jti never seen before. */
static bool
check_assertion(struct emu *e, const struct app *a, const char *tenant, const struct jwt *j, char *why, size_t whysz,
		int *code)
{
	bool ok = false;

	*code = 700027;
	if (a->pubkey == NULL) {
		snprintf(why, whysz, "No certificate is registered for the application.");
		return false;
	}
	if (j == NULL) {
		snprintf(why, whysz, "The client assertion is not a well-formed JWT.");
		return false;
	}
	const json_t *hj = j->h, *pj = j->p;
	const char *alg = json_string_value(json_object_get(hj, "alg"));
	const char *x5t = json_string_value(json_object_get(hj, "x5t"));
	const char *x5t256 = json_string_value(json_object_get(hj, "x5t#S256"));
	bool pss;
	if (alg && strcmp(alg, "RS256") == 0 && x5t && strcmp(x5t, a->x5t) == 0)
		pss = false;
	else if (alg && strcmp(alg, "PS256") == 0 && x5t256 && strcmp(x5t256, a->x5t256) == 0)
		pss = true;
	else {
		snprintf(why, whysz,
			 "The assertion must be RS256 with x5t or PS256 with x5t#S256 of the registered certificate.");
		return false;
	}
	if (!verify_sig(a->pubkey, pss, j->text, j->signed_len, j->sig, j->sn)) {
		snprintf(why, whysz, "Client assertion failed signature validation.");
		return false;
	}
	const char *aud = json_string_value(json_object_get(pj, "aud"));
	const char *iss = json_string_value(json_object_get(pj, "iss"));
	const char *sub = json_string_value(json_object_get(pj, "sub"));
	const char *jti = json_string_value(json_object_get(pj, "jti"));
	char *a1 = xasprintf("https://login.microsoftonline.com/%s/oauth2/v2.0/token", tenant);
	char *a2 = xasprintf("https://login.microsoftonline.com/%s/oauth2/token", tenant);
	char *a3 = xasprintf("%s/%s/oauth2/v2.0/token", e->base, tenant);
	char *a4 = xasprintf("%s/%s/oauth2/token", e->base, tenant);
	bool aud_ok = aud && (!strcmp(aud, a1) || !strcmp(aud, a2) || !strcmp(aud, a3) || !strcmp(aud, a4));
	free(a1), free(a2), free(a3), free(a4);
	if (!aud_ok) {
		*code = 700023;
		snprintf(why, whysz, "The assertion audience is not this tenant's token endpoint.");
	} else if (!iss || !sub || strcmp(iss, a->client_id) || strcmp(sub, a->client_id)) {
		*code = 700021;
		snprintf(why, whysz, "The assertion's iss and sub must both be the client id.");
	} else if (!in_time(e, pj)) {
		*code = 700024;
		snprintf(why, whysz, "Client assertion is not within its valid time range.");
	} else if (jti == NULL || *jti == '\0' || strlen(jti) > 128) {
		*code = 700021;
		snprintf(why, whysz, "The assertion needs a jti.");
	} else {
		char *key = xasprintf("%s|%s", a->client_id, jti);
		bool seen = false;
		for (size_t i = 0; i < e->njti && !seen; i++)
			seen = strcmp(e->used_jti[i], key) == 0;
		if (seen) {
			*code = 7000282;
			snprintf(why, whysz, "The assertion's jti was already used.");
			free(key);
		} else {
			e->used_jti = xrealloc(e->used_jti, (e->njti + 1) * sizeof(char *));
			e->used_jti[e->njti++] = key;
			ok = true;
		}
	}
	return ok;
}
