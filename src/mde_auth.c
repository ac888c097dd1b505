#include "mde_auth.h"

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "iocsync_limits.h"
#include "log.h"
#include "mde_managed.h"
#include "util.h"

/* Where the credential is: the kind of source, and for each what its
 * errors call it, and the most a file of it may hold. */
enum source {
	SRC_FILE,       /* client_secret_file */
	SRC_ENV,        /* client_secret_env: where is the variable's name */
	SRC_CREDENTIAL, /* client_secret_credential, under $CREDENTIALS_DIRECTORY */
	SRC_CERTIFICATE,
	SRC_FEDERATED, /* federated_token_file: read again for every token */
	SRC_MANAGED    /* credential = managed-identity: where is the identity endpoint */
};
static const struct {
	const char *what; /* for file_*_private ("credential" may be root's) */
	const char *label;
	size_t max;
} sources[] = {
	[SRC_FILE] = {"client_secret_file", "client_secret_file", LIMIT_SECRET_BYTES},
	[SRC_ENV] = {NULL, "client_secret_env", 0},
	[SRC_CREDENTIAL] = {"credential", "client_secret_credential", LIMIT_SECRET_BYTES},
	[SRC_CERTIFICATE] = {"certificate", "certificate", LIMIT_CERTIFICATE_BYTES},
	[SRC_FEDERATED] = {"federated_token_file", "federated_token_file", LIMIT_FEDERATED_TOKEN_BYTES},
	[SRC_MANAGED] = {NULL, "credential = managed-identity", 0},
};

/* Azure Arc's local identity endpoint and its key directory on Linux, as
 * Azure Arc documents them and Microsoft's client libraries use them
 * (msal-node ManagedIdentitySources/AzureArc). An Azure VM's endpoint is
 * http://169.254.169.254/metadata/identity/oauth2/token. */
#define ARC_IMDS_URL "http://127.0.0.1:40342/metadata/identity/oauth2/token"
#define ARC_KEY_DIR "/var/opt/azcmagent/tokens"

struct mde_auth {
	char *tenant, *client_id, *login;
	char *resource;
	char *alt_resource; /* gov clouds: the other candidate audience (spec 9, gov-audience) */
	int token_version;
	enum source source; /* where the credential is (below) */
	char *where;        /* its file, its variable's name, or the identity endpoint */
	char *key_dir;      /* managed identity: where Arc's challenge key may be */
	bool loaded;        /* the credential has been read */
	char *secret;       /* or NULL with the certificate */
	EVP_PKEY *key;
	char *x5t, *x5t256; /* of the certificate */
	bool rs256;
	bool federated; /* the credential is federated_token_file's JWT */
	bool managed;   /* the machine's managed identity */
	char *token;
	double token_renew_at; /* the transport's clock */
	json_t *claims;        /* the token's payload */
};

static void
wipe(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

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
load_certificate(struct mde_auth *m, const char *path, char *why, size_t whysz)
{
	char *pem = file_read_private(path, "certificate", LIMIT_CERTIFICATE_BYTES, why, whysz);
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
client_assertion(struct mde_auth *m, const char *aud, char *why, size_t whysz)
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

/* The one source c names, into *src and *where (a new string: the path,
 * or the variable's name); false with why filled. */
static bool
source_of(const struct config *c, enum source *src, char **where, char *why, size_t whysz)
{
	int n = !!(c->client_secret_file || c->client_secret_credential) + !!c->client_secret_env + !!c->certificate +
		!!c->federated_token_file + !!c->credential;
	if (n != 1) {
		set_why(why, whysz,
			"[mde] needs exactly one of client_secret_file (or client_secret_credential), "
			"client_secret_env, certificate, federated_token_file and credential (%d given)",
			n);
		return false;
	}
	if (c->credential) {
		*src = SRC_MANAGED;
		*where = xstrdup(c->imds_url ? c->imds_url : ARC_IMDS_URL);
		return true;
	}
	if (c->federated_token_file) {
		*src = SRC_FEDERATED;
		*where = xstrdup(c->federated_token_file);
		return true;
	}
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	bool by_hand = dir == NULL || *dir == '\0';
	if (c->client_secret_credential && !(by_hand && c->client_secret_file)) {
		if (by_hand) {
			set_why(why, whysz,
				"client_secret_credential: $CREDENTIALS_DIRECTORY is not set (run "
				"under systemd with LoadCredential=%s:..., or add client_secret_file for runs by hand)",
				c->client_secret_credential);
			return false;
		}
		*src = SRC_CREDENTIAL;
		*where = xasprintf("%s/%s", dir, c->client_secret_credential);
		return true;
	}
	*src = c->client_secret_file ? SRC_FILE : c->client_secret_env ? SRC_ENV : SRC_CERTIFICATE;
	*where = xstrdup(c->client_secret_file          ? c->client_secret_file
				 : c->client_secret_env ? c->client_secret_env
							: c->certificate);
	return true;
}

/* A federated token file: a regular file that can be read. */
static bool
federated_check(const char *path, char *why, size_t whysz)
{
	struct stat sb;
	errno = 0;
	if (stat(path, &sb) != 0 || !S_ISREG(sb.st_mode) || access(path, R_OK) != 0) {
		set_why(why, whysz, "federated_token_file %s: not a readable file (%s)", path,
			errno ? strerror(errno) : "not a regular file");
		return false;
	}
	return true;
}

/* The federated token, read now (projected tokens are rotated by the
 * platform): one JWT that has not expired. NULL with why. */
static char *
federated_token(const char *path, char *why, size_t whysz)
{
	char *text = NULL;
	size_t len = 0;
	if (file_read(path, LIMIT_FEDERATED_TOKEN_BYTES, &text, &len) != ERR_OK) {
		set_why(why, whysz, "federated_token_file %s: cannot be read, or over %d bytes", path,
			LIMIT_FEDERATED_TOKEN_BYTES);
		return NULL;
	}
	while (len && is_space((unsigned char)text[len - 1]))
		text[--len] = '\0';
	const char *d1 = memchr(text, '.', len), *d2 = d1 ? memchr(d1 + 1, '.', len - (size_t)(d1 + 1 - text)) : NULL;
	size_t pn = 0;
	unsigned char *payload = d2 ? b64url_decode(d1 + 1, (size_t)(d2 - d1 - 1), &pn) : NULL;
	json_t *claims = payload ? json_loadb((const char *)payload, pn, JSON_REJECT_DUPLICATES, NULL) : NULL;
	free(payload);
	json_t *exp = json_object_get(claims, "exp");
	long long now = (long long)time(NULL);
	char *ok = NULL;
	if (!json_is_object(claims)) {
		set_why(why, whysz, "federated_token_file %s: not a JWT", path);
	} else if (json_is_integer(exp) && json_integer_value(exp) <= now) {
		char ts[32];
		format_time((long long)json_integer_value(exp), ts, sizeof(ts));
		set_why(why, whysz,
			"federated_token_file %s: the token expired at %s (the platform rotates it: is the file still "
			"refreshed?)",
			path, ts);
	} else {
		ok = text;
		text = NULL;
	}
	json_decref(claims);
	if (text) {
		explicit_bzero(text, len);
		free(text);
	}
	return ok;
}

/* The environment variable's value, or NULL with why filled. */
static const char *
env_secret(const char *name, char *why, size_t whysz)
{
	const char *v = getenv(name);
	if (v && *v)
		return v;
	set_why(why, whysz, "client_secret_env: the environment variable %s is not set", name);
	return NULL;
}

struct mde_auth *
mde_auth_new(const struct config *c, const char *login, const char *resource, const char *alt_resource, char *why,
	     size_t whysz)
{
	enum source src;
	char *where;
	if (!source_of(c, &src, &where, why, whysz))
		return NULL;
	/* Checked now, read later (load): only where it lives and how. A
	 * projected token is readable by others on purpose (it lives minutes). */
	bool ok = src == SRC_ENV       ? env_secret(where, why, whysz) != NULL
		: src == SRC_FEDERATED ? federated_check(where, why, whysz)
		: src == SRC_MANAGED   ? mde_managed_url_ok(where, why, whysz)
				       : file_check_private(where, sources[src].what, sources[src].max, why, whysz);
	if (!ok) {
		free(where);
		return NULL;
	}
	struct mde_auth *a = xcalloc(1, sizeof(*a));
	a->tenant = xstrdup(c->tenant_id);
	a->client_id = xstrdup(c->client_id);
	a->login = xstrdup(login);
	a->resource = xstrdup(resource);
	a->alt_resource = alt_resource ? xstrdup(alt_resource) : NULL;
	a->token_version = c->token_version;
	a->rs256 = c->certificate_rs256;
	a->source = src;
	a->where = where;
	if (src == SRC_MANAGED)
		a->key_dir = xstrdup(c->imds_key_dir ? c->imds_key_dir : ARC_KEY_DIR);
	return a;
}

void
mde_auth_free(struct mde_auth *a)
{
	if (a == NULL)
		return;
	wipe(a->secret);
	wipe(a->token);
	EVP_PKEY_free(a->key);
	json_decref(a->claims);
	free(a->x5t), free(a->x5t256);
	free(a->tenant), free(a->client_id), free(a->login), free(a->resource), free(a->alt_resource);
	free(a->where);
	free(a->key_dir);
	free(a);
}

/* Reads the credential, once, when the first token is needed. */
static enum err
load(struct mde_auth *a, char *why, size_t whysz)
{
	if (a->loaded) {
		if (a->secret || a->key || a->federated || a->managed)
			return ERR_OK;
		set_why(why, whysz, "the [mde] credential could not be read (said before)");
		return ERR_CONFIG;
	}
	a->loaded = true;
	const char *label = sources[a->source].label;
	if (a->source == SRC_MANAGED) {
		a->managed = true; /* the endpoint's challenge is answered for each token */
	} else if (a->source == SRC_FEDERATED) {
		a->federated = true; /* read for each token, in fetch_token */
	} else if (a->source == SRC_CERTIFICATE) {
		load_certificate(a, a->where, why, whysz);
	} else if (a->source == SRC_ENV) {
		const char *v = env_secret(a->where, why, whysz);
		a->secret = v ? trim_secret(xstrdup(v), label, why, whysz) : NULL;
	} else {
		char *text = file_read_private(a->where, sources[a->source].what, sources[a->source].max, why, whysz);
		a->secret = trim_secret(text, label, why, whysz);
	}
	return a->secret || a->key || a->federated || a->managed ? ERR_OK : ERR_CONFIG;
}

static bool
decode_claims(struct mde_auth *m)
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
	m->claims = json_loadb((const char *)raw, n, JSON_REJECT_DUPLICATES, NULL);
	free(raw);
	return json_is_object(m->claims);
}

/* Asks Entra's token endpoint (*url) for a token with the app's
 * credential; *r is its answer when ERR_OK. */
static enum err
entra_request(struct mde_auth *m, struct mde_transport *t, double deadline, struct http_reply *r, char **url_out,
	      char *why, size_t whysz)
{
	*r = (struct http_reply){0};
	bool v2 = m->token_version != 1;
	char *url = xasprintf("%s/%s/oauth2/%stoken", m->login, m->tenant, v2 ? "v2.0/" : "");
	*url_out = url;
	char *aud_esc = v2 ? NULL : http_escape(m->resource);
	char *scope = v2 ? xasprintf("%s/.default", m->resource) : NULL;
	char *scope_esc = scope ? http_escape(scope) : NULL;
	char *cid = http_escape(m->client_id);
	char *cred;
	if (m->federated) {
		/* Workload identity federation: the outside issuer's token is
		 * the assertion (entra-docs v2-oauth2-client-creds-grant-flow,
		 * "Third case"). */
		char *jwt = federated_token(m->where, why, whysz);
		if (jwt == NULL) {
			free(aud_esc), free(scope), free(scope_esc), free(cid);
			return ERR_CONFIG;
		}
		char *j = http_escape(jwt);
		cred = xasprintf(
			"client_assertion_type=urn%%3Aietf%%3Aparams%%3Aoauth%%3Aclient-assertion-type"
			"%%3Ajwt-bearer&client_assertion=%s",
			j);
		explicit_bzero(jwt, strlen(jwt)), explicit_bzero(j, strlen(j));
		free(jwt), free(j);
	} else if (m->secret) {
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
			free(aud_esc), free(scope), free(scope_esc), free(cid);
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
	enum retry_verdict v;
	enum err e =
		mde_transport_send(t, MDE_EP_TOKEN, "POST", url, hdrs, form, strlen(form), deadline, r, &v, why, whysz);
	explicit_bzero(form, strlen(form));
	free(form);
	return e;
}

/* Gets a new token for m->resource; *refused is set when Entra does
 * not know that audience (AADSTS500011). */
static enum err
fetch_token(struct mde_auth *m, struct mde_transport *t, double deadline, bool *refused, char *why, size_t whysz)
{
	*refused = false;
	char *url = NULL;
	struct http_reply r;
	enum err e = m->source == SRC_MANAGED
		? mde_managed_request(t, m->where, m->key_dir, m->resource, deadline, &r, &url, why, whysz)
		: entra_request(m, t, deadline, &r, &url, why, whysz);
	if (e != ERR_OK) {
		http_reply_free(&r);
		free(url);
		return e;
	}
	json_t *j = r.body ? json_loadb(r.body, r.len, JSON_REJECT_DUPLICATES, NULL) : NULL;
	const char *tok = json_string_value(json_object_get(j, "access_token"));
	json_t *exp = json_object_get(j, "expires_in");
	double life = json_is_integer(exp) ? (double)json_integer_value(exp)
		: json_is_string(exp)      ? atof(json_string_value(exp))
					   : 0;
	if (r.status == 200 && tok && *tok && life > 0) {
		m->token = xstrdup(tok);
		double margin = life / 4 < LIMIT_TOKEN_MARGIN_S ? life / 4 : LIMIT_TOKEN_MARGIN_S;
		m->token_renew_at = mde_transport_now(t) + life - margin;
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
			set_why(why, whysz, "token from %s: HTTP %ld %s%s%s%s", url, r.status, err ? err : "",
				desc ? ": " : "", desc ? echo_str(desc, strcspn(desc, "\r\n"), ebuf, sizeof(ebuf)) : "",
				desc && strncmp(desc, "AADSTS70021", 11) == 0 && !isdigit((unsigned char)desc[11])
					? " (the app has no federated credential trusting this token's issuer and "
					  "subject: add one in Entra ID > App registrations > Certificates & secrets > "
					  "Federated credentials)"
					: "");
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
ensure_token(struct mde_auth *m, struct mde_transport *t, double deadline, char *why, size_t whysz)
{
	if (m->token && mde_transport_now(t) < m->token_renew_at)
		return ERR_OK;
	if (m->token) {
		explicit_bzero(m->token, strlen(m->token));
		free(m->token);
		m->token = NULL;
	}
	bool refused = false;
	enum err e = fetch_token(m, t, deadline, &refused, why, whysz);
	if (e != ERR_OK && refused && m->alt_resource) {
		/* Once: the other candidate becomes the audience for good. */
		char *first = m->resource;
		m->resource = m->alt_resource;
		m->alt_resource = NULL;
		log_info("token: Entra does not know the audience %s (AADSTS500011); trying %s", first, m->resource);
		e = fetch_token(m, t, deadline, &refused, why, whysz);
		if (e == ERR_OK)
			log_warn(
				"token: Entra refused the audience %s (AADSTS500011); the audience %s worked: set "
				"resource = %s in [mde] to skip the first try",
				first, m->resource, m->resource);
		free(first);
	}
	return e;
}

/* A token valid for a while at hand, the credential read first if it is
 * not yet. */
static enum err
ready(struct mde_auth *a, struct mde_transport *t, double deadline, char *why, size_t whysz)
{
	enum err e = load(a, why, whysz);
	return e == ERR_OK ? ensure_token(a, t, deadline, why, whysz) : e;
}

enum err
mde_auth_header(struct mde_auth *a, struct mde_transport *t, double deadline, char **hdr, char *why, size_t whysz)
{
	enum err e = ready(a, t, deadline, why, whysz);
	*hdr = e == ERR_OK ? xasprintf("Authorization: Bearer %s", a->token) : NULL;
	return e;
}

void
mde_auth_header_free(char *hdr)
{
	wipe(hdr);
}

void
mde_auth_expire(struct mde_auth *a)
{
	a->token_renew_at = 0;
}

enum err
mde_auth_claims(struct mde_auth *a, struct mde_transport *t, double deadline, const json_t **claims, char *why,
		size_t whysz)
{
	enum err e = ready(a, t, deadline, why, whysz);
	*claims = e == ERR_OK ? a->claims : NULL;
	return e;
}
