/*
 * Every limit iocsync applies to untrusted input, with its reason.
 * A limit that is hit is reported with its name; nothing is cut silently.
 */
#ifndef IOCSYNC_IOCSYNC_LIMITS_H
#define IOCSYNC_IOCSYNC_LIMITS_H

/* A feed larger than this is refused: the largest real feeds are ~10 MB,
 * and the 10M-line benchmark file is ~250 MB, so this leaves room for
 * both while stopping a server that streams forever. */
#define LIMIT_FEED_BYTES (1024LL * 1024 * 1024)

/* Default body cap for a fetched feed (configurable per feed up to
 * LIMIT_FEED_BYTES). */
#define LIMIT_FETCH_BYTES_DEFAULT (256LL * 1024 * 1024)

/* One line of a line-based feed. A longer line is rejected as a whole
 * (it is never a single indicator) and parsing goes on with the next. */
#define LIMIT_LINE_BYTES (64 * 1024)

/* One indicator value. MDE documents no limit; URLs beyond ~2 KB are
 * refused by common browsers and proxies, so nothing useful is lost. */
#define LIMIT_VALUE_BYTES 2048

/* DNS: RFC 1035 section 2.3.4. */
#define LIMIT_DOMAIN_BYTES 253
#define LIMIT_LABEL_BYTES 63

/* Indicators produced by one feed; MDE holds 15,000 per tenant, so a
 * feed beyond this is not a list anybody can use. */
#define LIMIT_ENTRIES_PER_FEED 50000000LL

/* A feed past LIMIT_ENTRIES_PER_FEED fails as a whole (its last good
 * snapshot stands), said with the limit's name. */

/* How much of a body sniffing reads: the format (auto), and the head
 * where an HTML page or binary data shows. */
#define LIMIT_SNIFF_BYTES 65536
#define LIMIT_SNIFF_LINES 200
#define LIMIT_SNIFF_HEAD_BYTES 4096
/* CSV rows that decide which columns hold indicators, by content. */
#define LIMIT_CSV_SNIFF_ROWS 50

/* Feeds in one configuration, and files in one `check`: the merge keeps
 * a feed's index in 16 bits of each item's record (merge.c). */
#define LIMIT_FEEDS 65535

/* Objects one TAXII collection may hold (its pages together are bounded
 * by the feed's max_bytes too): STIX indicators past this many are no
 * list a tenant of 15,000 can use. */
#define LIMIT_TAXII_OBJECTS 1000000

/* TAXII: objects asked for a page, and pages one collection may take. */
#define LIMIT_TAXII_PAGE 1000
#define LIMIT_TAXII_PAGES 10000

/* JSON nesting (STIX, MISP, replies). Jansson refuses deeper input by
 * itself (JSON_PARSER_MAX_DEPTH, 2048); we check our own walk too. */
#define LIMIT_JSON_DEPTH 64

/* CSV: fields in one row, and indicators split from one field. */
#define LIMIT_CSV_FIELDS 512

/* STIX patterns: comparisons in one pattern before it is skipped. */
#define LIMIT_STIX_TERMS 1024

/* CIDR expansion: the widest prefix that `cidr = expand` may open up,
 * per family. /24 = 256 addresses; a /16 would take 4x MDE's cap. */
#define LIMIT_CIDR_EXPAND_MIN_PREFIX4 20
#define LIMIT_CIDR_EXPAND_MIN_PREFIX6 116

/* Fetching. */
#define LIMIT_CONNECT_TIMEOUT_S_DEFAULT 15
#define LIMIT_FETCH_TIMEOUT_S_DEFAULT 300
#define LIMIT_REDIRECTS 5
/* A request with no timeout of its own (the MDE client sets one). */
#define LIMIT_HTTP_TIMEOUT_S_DEFAULT 120
/* A server trickling fewer bytes a second than this, this long, is as
 * good as dead (feeds). */
#define LIMIT_STALL_BYTES_PER_S 100
#define LIMIT_STALL_S 30
/* A reply's body when the caller sets no cap of its own. */
#define LIMIT_HTTP_BODY_BYTES_DEFAULT (64LL << 20)
/* The system's CA bundle and ca_file, joined in memory. */
#define LIMIT_CA_BUNDLE_BYTES (16 << 20)

/* A listing of MDE's indicators may pass the tenant cap by this much
 * (indicators expiring while the pages are read, a page's worth) before
 * it is taken as a broken or hostile answer and paging stops. */
#define LIMIT_MDE_LIST_SLACK 10000

/* An answer of MDE's: a listing page of 10,000 indicators is ~10 MB. */
#define LIMIT_MDE_BODY_BYTES (256LL << 20)

/* The most a Retry-After may ask of us before we give up the call. */
#define LIMIT_RETRY_AFTER_MAX_S 3600.0

/* A token is renewed this long before it expires (or at a quarter of
 * its life when it is shorter). */
#define LIMIT_TOKEN_MARGIN_S 300.0

/* A wait on MDE's budget this long is worth giving memory back for (the
 * state's page cache), and is logged: with many tenants in one process,
 * most are waiting at any moment (bench/tenants.py). */
#define LIMIT_LONG_WAIT_S 5.0

/* A secret (one line) and a certificate with its key (PEM). */
#define LIMIT_SECRET_BYTES 4096
#define LIMIT_CERTIFICATE_BYTES (1 << 20)
/* A federated (workload identity) token file: one JWT, a few kB. */
#define LIMIT_FEDERATED_TOKEN_BYTES 16384
/* Azure Arc's challenge key file: Microsoft's client libraries read at
 * most 4096 bytes of it (msal-node AZURE_ARC_SECRET_FILE_MAX_SIZE_BYTES). */
#define LIMIT_ARC_KEY_BYTES 4096

/* A page of MDE's listings ($top): the documented maximum (spec 3.1). */
#define LIMIT_MDE_PAGE 10000
/* One indicator of a listing, as JSON text: its longest fields (title,
 * description, a URL value) are a few kB; a megabyte is a broken answer. */
#define LIMIT_MDE_ITEM_BYTES (1 << 20)
/* Devices read from /api/machines: a million is past any tenant. */
#define LIMIT_MDE_MACHINES 1000000

/* What one run keeps to tell (the report, the JSON document, the runs
 * table): the failed items, MDE's error codes and the values refused by
 * each, and the conflicts, over-budget and held items each. Past these
 * they are counted, not listed. */
#define LIMIT_RUN_FAILURES_LISTED 1000
#define LIMIT_RUN_REFUSED_CODES 20
#define LIMIT_RUN_REFUSED_PER_CODE 100
#define LIMIT_RUN_SUMMARY_LISTED 50

/* Rows of one MDE portal CSV import file (spec 6). */
#define LIMIT_PORTAL_CSV_ROWS 500

/* Files one tenant's run holds open at once: its state (database, WAL,
 * shared memory, lock), MDE's and the sign-in's connections, a feed's
 * fetch, with room to spare; and what the process keeps for itself (log,
 * metrics, the feeds' parse). sync_all runs no more tenants at once than
 * the open files limit allows by these. */
#define LIMIT_FDS_PER_TENANT 12
#define LIMIT_FDS_RESERVED 64

/* Runs the state keeps (with their journals), and so the most status
 * and report may be asked to show (--runs). */
#define LIMIT_RUNS_KEPT 1000
#define LIMIT_STATUS_RUNS LIMIT_RUNS_KEPT

/* Indicators per import and per BatchDelete call (spec 3.3 and 3.5). */
#define LIMIT_MDE_BATCH 500

/* An indicator's title and description as MDE takes them (spec 8:
 * longer is refused); templates are cut to these at a character. */
#define LIMIT_TITLE_BYTES 100
#define LIMIT_DESCRIPTION_BYTES 1000

/* A feed line's inline comment kept for {comment} ("1.2.3.4 # Emotet
 * C2"): a label, not a document; the rest of a longer one is cut. */
#define LIMIT_COMMENT_BYTES 256

/* Extra import calls one run may spend splitting batches MDE refused
 * whole (spec 9, import-errors): about 2*log2(500) = 18 isolate one
 * refused item, so this isolates 7 in a run; past it the rest of a
 * refused batch is reported failed, to be split on the next run. */
#define LIMIT_IMPORT_SPLIT_CALLS 128

/* What iocsync did to one value, kept in the state for `iocsync why`:
 * the newest this many entries (a year of monthly renewals and more). */
#define LIMIT_HISTORY_PER_VALUE 20

/* Over-budget values a plan lists one by one (the rest are counted, by
 * feed): a feed of millions is mostly over the 15,000 cap, and a plan
 * must not hold an entry for each. */
#define LIMIT_PLAN_OVER_LISTED 10000

/* A configuration file larger than this is certainly not one. */
#define LIMIT_CONFIG_BYTES (1024 * 1024)

/* An allowlist file: a long list of names and addresses, read whole. */
#define LIMIT_ALLOWLIST_BYTES (64 * LIMIT_CONFIG_BYTES)

/* How much of a bad input is echoed back in a diagnostic. */
#define LIMIT_ECHO_BYTES 160

/* Alerts ([alert], alert.c): a condition's key (a kind and a feed name or
 * an indicator's type and value), a condition's text, and the tries of
 * one post (2 s, then 4 s apart: a webhook down for longer is tried
 * again next run, not by holding the run up). */
#define LIMIT_ALERT_KEY (LIMIT_VALUE_BYTES + 64)
#define LIMIT_ALERT_TEXT (LIMIT_VALUE_BYTES + 1024)
#define LIMIT_ALERT_ATTEMPTS 3

#endif
