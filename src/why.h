/*
 * iocsync why VALUE: why a value is, or is not, blocked. Which feeds
 * list it (from their last good copies, with the line), what policy says
 * of it, what the state and MDE hold for it, and iocsync's last changes
 * to it. Reads only. cmd_why.c prints it.
 */
#ifndef IOCSYNC_WHY_H
#define IOCSYNC_WHY_H

#include <jansson.h>
#include <stdbool.h>

#include "config.h"
#include "ioc.h"
#include "iocsync_limits.h"

struct why {
	enum ioc_type type;
	char value[LIMIT_VALUE_BYTES + 32];
	const char *raw;    /* as it was asked about */
	json_t *feeds;      /* [{feed, url, action, enabled, lines: [{line, verdict, reason?, why?}], note?}] */
	json_t *mde;        /* [{id, action, value, owner, iocsync, expires, groups}] */
	json_t *state;      /* [{id, action, feeds, first_seen, expires, left_its_feeds}] */
	json_t *history;    /* [{at, op, action, reason, feed}] */
	const char *policy; /* why policy refuses it (policy_why), or NULL */
	char policy_why[400];
	char mde_error[600]; /* why MDE could not be asked, or "" */
	const char *verdict; /* one line that says it all */
};

/* Everything known of x (ioc_parse's of raw, not a CIDR block) into *w; MDE is
 * asked when ask. EXIT_OK, or EXIT_FAIL when the store, an allowlist or
 * MDE could not be read (said; what could be is in *w). why_free it. */
int why_gather(const struct config *c, const struct ioc *x, const char *raw, bool ask, struct why *w);
void why_free(struct why *w);

#endif
