/* The built-in tables of policy_builtin.c, for policy.c only. */
#ifndef IOCSYNC_POLICY_INT_H
#define IOCSYNC_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>

/* A special-purpose range (RFC 6890 registries) and what it is. */
struct policy_special_range {
	const char *cidr, *what;
};
extern const struct policy_special_range policy_special[];
extern const size_t policy_nspecial;

/* A special-use name; tld_len: of its last label, written apart. */
struct policy_special_domain {
	const char *name;
	size_t len, tld_len;
};
extern const struct policy_special_domain policy_special_domains[];
extern const size_t policy_nspecial_domains;

/* A registrable domain never blocked; strict: nor any URL on it. */
struct policy_builtin_domain {
	const char *name;
	bool strict;
};
extern const struct policy_builtin_domain policy_builtin_domains[];
extern const size_t policy_nbuiltin_domains;

extern const char *const policy_builtin_ips[];
extern const size_t policy_nbuiltin_ips;
extern const char *const policy_builtin_hashes[];
extern const size_t policy_nbuiltin_hashes;

/* A URL as it is compared with allowlisted prefixes (policy_url.c):
 * writes at most outsz bytes to out; returns its length. */
size_t policy_url_normal(const char *u, size_t n, char *out, size_t outsz);

#endif
