/* TAXII 2.1 feeds (format = taxii): see feed_taxii.c. */
#ifndef IOCSYNC_TAXII_H
#define IOCSYNC_TAXII_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"

struct taxii_opts {
	const char *ca_file, *proxy, *user_agent;
	long long connect_timeout_s, timeout_s, max_bytes;
	const char *snapshot; /* the last good bundle, or NULL: everything is read */
	size_t snapshot_len;
	const char *cursor; /* added_after, from the last good reading */
};

struct taxii_result {
	char *body;      /* the merged bundle (STIX JSON): the feed's snapshot */
	json_t *objects; /* the same objects, parsed (the parser's input, not body) */
	size_t len;
	char *cursor;        /* added_after for the next reading */
	size_t pages, fresh; /* pages read, objects received */
	bool unchanged;      /* nothing new since the snapshot */
};

/* Reads feed f's collection. why says what failed (never a secret). */
enum err feed_taxii_fetch(const struct feed_cfg *f, const struct taxii_opts *o, struct taxii_result *r, char *why,
			  size_t whysz);
void feed_taxii_result_free(struct taxii_result *r);

#endif
