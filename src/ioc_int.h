/* What ioc.c and ioc_url.c share; not for use outside ioc*.c. */
#ifndef IOCSYNC_IOC_INT_H
#define IOCSYNC_IOC_INT_H

#include <stdbool.h>
#include <stddef.h>

#include "ioc.h"
#include "iocsync_limits.h"

/* Dotted quad, each part 0-255; *leading_zero tells whether a part has
 * one (an octal reading would differ). */
bool ioc_ip4_parse(const char *s, size_t n, unsigned char a[4], bool *leading_zero);
/* Any IPv6 spelling inet_pton takes. */
bool ioc_ip6_parse(const char *s, size_t n, unsigned char a[16]);
/* Digits and dots only, with at least one dot: meant as an address. */
bool ioc_looks_ipv4(const char *s, size_t n);
/* An http or https URL (s holds a ':') into out, canonical. */
enum ioc_reason ioc_parse_url(const char *s, size_t n, struct ioc *out, char *why, size_t whysz);

#endif
