/*
 * One feed through the flow: parse(format) -> classify + normalize ->
 * CIDR rule -> policy -> merge. Used by `check` (files), `feeds`
 * (fetched bodies) and, later, plan and sync.
 */
#ifndef IOCSYNC_PIPELINE_H
#define IOCSYNC_PIPELINE_H

#include "feed.h"
#include "ioc.h"
#include "merge.h"
#include "policy.h"

struct feed_stats {
	enum feed_format format;                /* the format used (sniffed or declared) */
	unsigned long entries;                  /* raw entries offered by the parser */
	unsigned long accepted[IOC_TYPE_COUNT]; /* distinct in this feed, by type */
	unsigned long accepted_total;
	unsigned long duplicates; /* repeats within this feed */
	unsigned long rejected[REJ__COUNT];
	unsigned long rejected_total;
	unsigned long prose_skipped; /* report words that were no indicator */
	unsigned long cidr_expanded; /* addresses made by cidr = expand */
	char columns[200];           /* CSV: the columns read, or "" */
};

struct pipe_cfg {
	const char *name; /* the feed or file, for diagnostics */
	uint32_t feed;    /* index for the merge */
	int32_t priority;
	unsigned types; /* declared types (IOC_BIT mask); 0: auto */
	enum cidr_mode cidr;
	unsigned cidr_max_addrs; /* cidr = expand: largest block opened */
	const struct policy *policy;
	/* Large text, hosts and netset feeds: 0 picks one thread per CPU
	 * (the calling thread and CPUs - 1 workers) for feeds of 4 MiB and
	 * more; 1 forces a single pass; more forces that many threads at any
	 * size (tests). */
	unsigned threads;
	size_t chunk_bytes; /* 0: 1 MiB; smaller in tests */
	/* The buffer is a read-only file mapping (file_view's map): the pages
	 * of chunks already merged are given back to the kernel, so a big
	 * file does not sit in memory beside the merge (check). */
	bool drop_merged_input;
	unsigned long max_entries; /* 0: LIMIT_ENTRIES_PER_FEED; smaller in tests */
};

struct pipe_out {
	void *ctx;
	/* An indicator accepted for the first time in this feed. */
	void (*accepted)(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_type t, const char *value,
			 size_t len);
	/* A rejected entry; input is the raw text (not NUL-terminated). */
	void (*rejected)(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_reason r, const char *why,
			 const char *input, size_t inlen);
};

/*
 * Runs [buf, buf+len) through the flow into m, calling out (whose
 * callbacks may be NULL) and adding to *st (zero it first). Returns what
 * feed_parse returned, with why filled on ERR_PARSE; ERR_LIMIT when the
 * feed holds more than LIMIT_ENTRIES_PER_FEED entries (max_entries).
 *
 * A large line-oriented feed (text, hosts, netset; cidr = skip, since
 * expansion can multiply a chunk's output) is cut into chunks
 * at line ends, parsed and classified on up to one thread per CPU, and
 * merged a chunk at a time in input order on the calling thread: the
 * callbacks, the merge and the statistics are exactly those of a single
 * pass, and the callbacks and the merge run on the calling thread only.
 */
enum err pipeline_run(const struct pipe_cfg *c, const struct feed_opts *fo, const char *buf, size_t len,
		      struct merge *m, const struct pipe_out *out, struct feed_stats *st, char *why, size_t whysz);

/* The same for STIX objects already parsed (a TAXII collection's, a JSON
 * array): they go straight to STIX's object stage, not through text. */
struct json_t;
enum err pipeline_run_objects(const struct pipe_cfg *c, const struct feed_opts *fo, const struct json_t *objs,
			      struct merge *m, const struct pipe_out *out, struct feed_stats *st, char *why,
			      size_t whysz);

#endif
