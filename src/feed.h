/*
 * Feed parsers: bytes in, raw entries and diagnostics out. No network,
 * no globals, no secrets. One file per format behind the table in
 * feed.c; fetching lives in feed_fetch.c.
 */
#ifndef IOCSYNC_FEED_H
#define IOCSYNC_FEED_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "ioc.h"

enum feed_format {
	FEED_AUTO = 0,
	FEED_TEXT,
	FEED_HOSTS,
	FEED_NETSET,
	FEED_CSV,
	FEED_STIX,
	FEED_MISP,
	FEED_REPORT,
	FEED_TAXII, /* a TAXII 2.1 collection: fetched by feed_taxii.c, read as STIX */
	FEED_FORMAT_COUNT
};

/* "text", "hosts", ...; never NULL. */
const char *feed_format_name(enum feed_format f);
/* Returns the format named s, or -1. */
int feed_format_parse(const char *s);

struct feed_opts {
	enum feed_format format;
	/* csv */
	char csv_delim;          /* 0: sniffed among , ; TAB | */
	const char *csv_columns; /* comma-separated names or 1-based numbers; NULL: auto */
	int csv_header;          /* -1 auto, 0 none, 1 first row is a header */
	/* misp */
	bool misp_ignore_to_ids; /* take attributes whose to_ids is false too */
	/* stix */
	long long now; /* for valid_until; 0 means time(NULL) */
};

/* One raw entry as the parser found it; pointers live for the call. */
struct feed_entry {
	const char *value;
	size_t len;
	unsigned long line; /* 1-based line of the input; 0 when unknown */
	unsigned types;     /* IOC_BIT mask the source declares; 0: any */
	const char *title;  /* STIX name, MISP comment; NUL-terminated or NULL */
	const char *description;
	const char *comment; /* text and hosts: the line's inline comment, raw (not
				NUL-terminated, untrusted); the pipeline makes it the
				description ({comment}) */
	size_t comment_len;
	long long expire_at; /* STIX valid_until (epoch s); 0: none */
	bool prose;          /* found in free text: a word that is no indicator is
				   not worth a diagnostic */
};

struct feed_sink {
	void *ctx;
	/* An entry to classify. */
	void (*entry)(void *ctx, const struct feed_entry *e);
	/* Something the parser itself skipped, with its place and reason;
	 * input is the offending text (not NUL-terminated, may be binary). */
	void (*reject)(void *ctx, unsigned long line, enum ioc_reason r, const char *why, const char *input,
		       size_t inlen);
	/* May be NULL. The line formats (text, hosts, netset) call it once
	 * at the end with the number of lines they read: the line ends, plus
	 * one for a last line without a newline. */
	void (*lines)(void *ctx, unsigned long n);
	/* May be NULL. CSV says which columns it reads ("url (2), dst_ip
	 * (5)"), and how it chose them. */
	void (*columns)(void *ctx, const char *desc);
};

/*
 * Parses [buf, buf+len) in o->format (FEED_AUTO: sniffed). Entries and
 * rejects go to sink. Returns ERR_OK when the input was read as a whole
 * (even if every line was rejected), or ERR_PARSE when it is not in the
 * format at all (not JSON, not a STIX bundle...), with why filled; the
 * entries delivered before that stand. *used (may be NULL) gets the
 * format actually used.
 */
enum err feed_parse(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *sink,
		    enum feed_format *used, char *why, size_t whysz);

/* Guesses the format of a feed from its first bytes. Never FEED_AUTO. */
enum feed_format feed_sniff(const char *buf, size_t len);

/* Is this body an HTML page (a login wall, an error page) rather than
 * the feed? */
bool feed_looks_html(const char *buf, size_t len);

/* Is this body binary data (a NUL byte in its first 4 KiB: an image, an
 * archive, UTF-16) rather than a text feed? *at is the NUL's offset. */
bool feed_looks_binary(const char *buf, size_t len, size_t *at);

/* ---- for the parsers ---- */

/* Iterates lines: strips a leading UTF-8 BOM, the line terminator (LF,
 * CRLF) and trailing white space. */
struct feed_lines {
	const char *p, *end;
	unsigned long no;
};
void feed_lines_init(struct feed_lines *l, const char *buf, size_t len);
/* Returns false at the end; otherwise the line in *s, *n (no NUL). */
bool feed_lines_next(struct feed_lines *l, const char **s, size_t *n);
/* Tells the sink how many lines l read (its lines callback). */
void feed_lines_done(const struct feed_lines *l, const struct feed_sink *k);

/* Rejects a line longer than LIMIT_LINE_BYTES or holding a NUL byte;
 * returns true when it did. */
bool feed_line_bad(const struct feed_sink *k, unsigned long no, const char *s, size_t n);

/* JSON feeds: loads buf with duplicate keys rejected; NULL with why
 * ("line 3, column 7: ...") when it is not JSON. */
struct json_t;
struct json_t *feed_json_load(const char *buf, size_t len, char *why, size_t whysz);

/* Finds the line of the first "needle" (a quoted JSON string: an id or
 * uuid) at or after the previous hit, else from the start; 0 if absent.
 * Objects usually come in order, so a whole file costs one pass. */
struct json_locator {
	const char *buf;
	size_t len, off;
	unsigned long line;
};
unsigned long feed_json_line(struct json_locator *l, const char *needle);

typedef enum err (*feed_parse_fn)(const char *buf, size_t len, const struct feed_opts *o, const struct feed_sink *sink,
				  char *why, size_t whysz);
enum err feed_text_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);
enum err feed_hosts_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);
enum err feed_netset_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);
enum err feed_csv_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);
enum err feed_stix_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);
/* STIX's object stage: the indicators of a JSON array of STIX objects
 * already parsed (a TAXII collection's), each to k. */
struct json_t;
void feed_stix_objects(const struct json_t *objs, const struct feed_opts *o, const struct feed_sink *k);
enum err feed_misp_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);
enum err feed_report_parse(const char *, size_t, const struct feed_opts *, const struct feed_sink *, char *, size_t);

#endif
