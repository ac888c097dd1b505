/*
 * Windows Firewall rules for the IP indicators, as a PowerShell script:
 * network protection blocks TCP only, so UDP (and QUIC) to a blocked
 * address passes unless the firewall stops it too. Pure: text in, text
 * out (golden-file tested).
 */
#ifndef IOCSYNC_FIREWALL_H
#define IOCSYNC_FIREWALL_H

#include <stdbool.h>
#include <stddef.h>

/* Windows Firewall takes a list of remote addresses per rule; 1,000 is
 * the limit commonly reported for rules made with netsh, and what we
 * split at by default. */
#define FIREWALL_PER_RULE 1000
#define FIREWALL_PER_RULE_MAX 10000

#define FIREWALL_TCP 1u
#define FIREWALL_UDP 2u

struct fw_opts {
	const char *group;     /* the rule group ("iocsync") */
	const char *source;    /* "the desired set of /etc/iocsync/iocsync.conf", for the header */
	const char *generated; /* "2026-11-23T12:00:00Z" */
	const char *version;
	const char *device_group; /* only the indicators scoped to it or to all devices, or NULL */
	unsigned protocols;       /* FIREWALL_TCP | FIREWALL_UDP; 0: both */
	bool inbound;             /* inbound rules as well as outbound */
	bool uninstall;           /* only remove the group */
	size_t per_rule;          /* addresses a rule */
};

/* The script for addrs (canonical IPv4 and IPv6, sorted and deduplicated
 * here). Free it. */
char *firewall_ps1(const struct fw_opts *o, const char *const *addrs, size_t n);

#endif
