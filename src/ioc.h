/*
 * The indicator model: types, rejection reasons, classification of one
 * raw value into a canonical indicator that MDE accepts, and refanging.
 * Syntax only: what may be sent at all is policy.c's business.
 */
#ifndef IOCSYNC_IOC_H
#define IOCSYNC_IOC_H

#include <stdbool.h>
#include <stddef.h>

#include "iocsync_limits.h"

enum ioc_type {
	IOC_NONE = 0,
	IOC_IP,
	IOC_DOMAIN,
	IOC_URL,
	IOC_MD5,
	IOC_SHA1,
	IOC_SHA256,
	IOC_CERT,
	IOC_TYPE_COUNT
};

#define IOC_BIT(t) (1u << (t))
#define IOC_HASHES (IOC_BIT(IOC_MD5) | IOC_BIT(IOC_SHA1) | IOC_BIT(IOC_SHA256))
/* What a feed with no declared type may yield: certificate thumbprints
 * only where the feed says so, since SHA-1 and thumbprints collide. */
#define IOC_TYPES_AUTO (IOC_BIT(IOC_IP) | IOC_BIT(IOC_DOMAIN) | IOC_BIT(IOC_URL) | IOC_HASHES)

/* MDE's indicatorType name ("IpAddress", ...); "" for IOC_NONE. */
const char *ioc_type_name(enum ioc_type t);

/* Parses a comma-separated list of type names (MDE names or ip, domain,
 * url, md5, sha1, sha256, hash, cert, auto) into a mask. Returns 0 and
 * sets *bad to the offending word (static storage) when one is unknown. */
unsigned ioc_types_parse(const char *list, const char **bad);

/* Why a value was not accepted. Codes are stable: they appear in JSON
 * output and metrics. */
enum ioc_reason {
	REJ_OK = 0,
	REJ_EMPTY,
	REJ_TOO_LONG,
	REJ_BAD_UTF8,
	REJ_BINARY,
	REJ_NOT_INDICATOR,
	REJ_BAD_IPV4,
	REJ_BAD_IPV6,
	REJ_BAD_DOMAIN,
	REJ_BAD_URL,
	REJ_URL_SCHEME,
	REJ_NO_SCHEME,
	REJ_BAD_HASH,
	REJ_CIDR,
	REJ_CIDR_TOO_WIDE,
	REJ_TYPE_NOT_WANTED,
	REJ_SPECIAL,
	REJ_ALLOWLIST,
	REJ_USER_ALLOWLIST,
	REJ_PUBLIC_SUFFIX,
	REJ_UNSUPPORTED,
	REJ_EXPIRED,
	REJ_REVOKED,
	REJ_NOT_TO_IDS,
	REJ_MALFORMED,
	REJ_LINE_TOO_LONG,
	REJ__COUNT
};

/* Stable short code ("special-purpose-address"); never NULL. */
const char *ioc_reason_code(enum ioc_reason r);

struct ioc_opts {
	unsigned types; /* allowed types (IOC_BIT mask); 0 = IOC_TYPES_AUTO */
	bool cert;      /* 40 hex digits are certificate thumbprints */
	bool url_feed;  /* scheme-less "host/path" becomes http://host/path */
};

/* One canonical indicator. For IP (and CIDR) the address is in addr. */
struct ioc {
	enum ioc_type type;
	int prefix; /* >= 0: a CIDR block of this length (type IOC_IP) */
	int family; /* AF_INET or AF_INET6 for IOC_IP and IP-literal URL hosts */
	unsigned char addr[16];
	bool defanged;             /* the input was defanged ("hxxp", "[.]"...) */
	size_t host_off, host_len; /* IOC_URL: the host inside value */
	size_t len;
	char value[LIMIT_VALUE_BYTES + 32];
};

/*
 * Classifies [in, in+len) and writes its canonical form to *out.
 * Leading and trailing white space is ignored; defanged input is
 * refanged. Returns REJ_OK, or the reason it is not an indicator, with a
 * human explanation written to why (size whysz; may be NULL).
 * A CIDR block returns REJ_OK with out->prefix >= 0: the caller applies
 * the CIDR rule (see policy.h).
 */
enum ioc_reason ioc_parse(const char *in, size_t len, const struct ioc_opts *o, struct ioc *out, char *why,
			  size_t whysz);

/*
 * The canonical form of a value MDE holds as type t, exactly as a feed's
 * value of that type is canonicalised (hash case, the full IPv6 form, a
 * URL's scheme and host case, IDN), so that what MDE normalised its own
 * way compares equal. Writes it to out (outsz bytes) and returns true;
 * false, with out untouched, when the value is not a plain indicator of
 * type t (another owner's odd value, a defanged one): compare it as MDE
 * wrote it then.
 */
bool ioc_canon_as(enum ioc_type t, const char *value, char *out, size_t outsz);

/*
 * Rewrites defanged notation to its real form: hxxp(s) at the start,
 * [.] (.) {.} [dot] (dot) {dot} \. to ".", [:] to ":", [://] to "://",
 * [/] to "/", [@] [at] to "@". Brackets that are not one of these stay
 * as they are. Writes at most outsz-1 bytes and a NUL; returns the
 * length and sets *changed when anything was rewritten.
 */
size_t ioc_refang(const char *in, size_t len, char *out, size_t outsz, bool *changed);

/* Canonical text of an address: dotted quad, or IPv6 as all 8 groups in
 * lower case without leading zeros (MDE rejects "::"). out must hold 40
 * bytes. Returns the length. */
size_t ioc_addr_format(int family, const unsigned char *addr, char *out);

/* Canonical domain: lower case, IDN to punycode, no trailing dot, label
 * rules of RFC 1035/1123 (underscores allowed). Returns REJ_OK or
 * REJ_BAD_DOMAIN/REJ_BAD_UTF8 with why filled. out holds LIMIT_DOMAIN_BYTES+1. */
enum ioc_reason ioc_domain_canon(const char *in, size_t len, char *out, size_t *outlen, char *why, size_t whysz);

#endif

#ifndef IOCSYNC_IOC_ACTION
#define IOCSYNC_IOC_ACTION
/* MDE's current action names (the legacy Alert and AlertAndBlock are
 * never sent). */
enum ioc_action {
	ACT_ALLOWED = 0,
	ACT_AUDIT,
	ACT_WARN,
	ACT_BLOCK,
	ACT_BLOCK_AND_REMEDIATE,
	ACT__COUNT
};
/* MDE's name of a ("Block"); never NULL. */
const char *ioc_action_name(enum ioc_action a);
/* Parses an action (MDE name or allow, audit, warn, block,
 * block-and-remediate; any case). Returns -1 when unknown. */
int ioc_action_parse(const char *s);
/* What a feed's CIDR block becomes: skipped (MDE takes single addresses),
 * or opened into its addresses up to cidr_expand_max. */
enum cidr_mode {
	CIDR_SKIP = 0,
	CIDR_EXPAND
};

/* The key an indicator is found by in a set: "type:value" into buf (at
 * most sz - 1 bytes, NUL-terminated); returns its length. */
size_t ioc_key(char *buf, size_t sz, int type, const char *value);

#endif
