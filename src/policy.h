/*
 * What may never be sent to MDE: special-purpose addresses, the
 * built-in critical allowlist, the user's allowlist, public suffixes,
 * the CIDR rule and the type x action matrix.
 *
 * The rule for URLs on an allowlisted domain (documented in iocsync(1)):
 *  - user allowlist: a domain entry covers the domain, its subdomains
 *    and every URL on them, whatever the path; a URL prefix entry covers
 *    the URLs that start with it, and any URL that is a prefix of it;
 *  - built-in list: "strict" entries (sign-in, updates, Defender, public
 *    resolvers) cover every URL on them; the other entries (large
 *    platforms where anybody can publish) cover the site itself, so a URL
 *    with no path or "/" is refused, but a URL with a real path passes:
 *    a phishing form on docs.google.com may be blocked without blocking
 *    Google.
 *  - built-in entries cover a subdomain only while it is under the same
 *    registrable domain: "d1abc.cloudfront.net" sits below the public
 *    suffix "cloudfront.net", belongs to a customer, and passes.
 */
#ifndef IOCSYNC_POLICY_H
#define IOCSYNC_POLICY_H

#include <stdbool.h>

#include "err.h"
#include "ioc.h"
#include "util.h"

struct policy;

/* Builds a policy with the built-in lists and the newest public suffix
 * list (libpsl's built-in data or the publicsuffix package, whichever is
 * newer; with the package's, most names skip libpsl through an index of
 * its rules). Never NULL. policy_free(NULL) is a no-op. */
struct policy *policy_new(void);
void policy_free(struct policy *p);

/*
 * Adds the user allowlist in [buf, buf+len), named path for diagnostics:
 * one entry a line (IP, CIDR, domain, http(s) URL prefix or hash), with
 * "#" comments. Returns ERR_OK, or ERR_CONFIG with one "path:line: why"
 * line per bad entry appended to errs; good entries are kept either way.
 */
enum err policy_allowlist_add(struct policy *p, const char *path, const char *buf, size_t len, struct strbuf *errs);

/* Number of user allowlist entries loaded. */
size_t policy_allowlist_count(const struct policy *p);

/*
 * Decides whether a canonical single indicator (not a CIDR) may be sent.
 * Returns REJ_OK or the reason (REJ_SPECIAL, REJ_ALLOWLIST, REJ_USER_ALLOWLIST,
 * REJ_PUBLIC_SUFFIX, REJ_BAD_DOMAIN for an unknown top-level domain) with
 * why filled (size whysz; may be NULL).
 */
enum ioc_reason policy_check(const struct policy *p, const struct ioc *i, char *why, size_t whysz);

/*
 * The type x action matrix of MDE (spec section 4) and "Audit needs
 * generateAlert". Returns true when allowed; otherwise false with the
 * rule in why.
 */
bool policy_action_ok(enum ioc_type t, enum ioc_action a, bool generate_alert, char *why, size_t whysz);

/* Length of the registrable domain at the end of name (the PSL's
 * answer, memoized per thread), 0 when there is none. For tests. */
size_t policy_registrable_len(const struct policy *p, const char *name);
/* Whether names skip libpsl through the index of its list (policy.c)
 * once a name has been checked. For tests. */
bool policy_psl_indexed(const struct policy *p);

#endif
