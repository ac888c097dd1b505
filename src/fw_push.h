/*
 * The Intune firewall push (issue 22, docs/graph-firewall.md): the blocked
 * IPs of the desired set as Windows Firewall rules in Intune "Microsoft
 * Defender Firewall Rules" policies, made equal through Microsoft Graph.
 * Only policies iocsync owns are touched (their name starts with
 * [firewall] policy_prefix and their description says "managed by
 * iocsync: APPLICATION"); a changed policy is replaced by a new one,
 * created and assigned before the old one is deleted, so the UDP gap
 * never reopens between two calls.
 */
#ifndef IOCSYNC_FW_PUSH_H
#define IOCSYNC_FW_PUSH_H

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>

#include "config.h"
#include "err.h"

/* The policies for addrs (canonical IPv4 and IPv6): sorted, adjacent
 * addresses merged into ranges, at most rule_max_addresses entries a
 * rule, a rule per protocol, at most 150 rules a policy. Each is the
 * body Graph takes on create, its description carrying a digest of its
 * rules and assignment groups. Pure. */
json_t *fw_push_policies(const struct config *c, const char *const *addrs, size_t n);

/* How many policies are iocsync's (*ours) and how many of those are
 * assigned; the app's Graph roles into *roles (a new reference). */
enum err fw_push_status(const struct config *c, json_t **roles, size_t *ours, size_t *assigned, char *why,
			size_t whysz);

struct fw_push_result {
	size_t addresses, rules, policies; /* wanted */
	size_t created, kept, deleted;
};

/* Makes iocsync's policies in Intune equal to fw_push_policies(addrs);
 * dry_run: says what it would do. Lines for people go to out (NULL: none). */
enum err fw_push(const struct config *c, const char *const *addrs, size_t n, bool dry_run, FILE *out,
		 struct fw_push_result *res, char *why, size_t whysz);

#endif
