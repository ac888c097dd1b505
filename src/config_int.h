/*
 * What the files of the configuration module share (config.c reads and
 * checks sections, config_value.c parses one value, config_check.c
 * validates across keys and makes tenants, config_dump.c writes a
 * configuration back): the table of keys and the parser's state. Not
 * for use outside config*.c.
 */
#ifndef IOCSYNC_CONFIG_INT_H
#define IOCSYNC_CONFIG_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "config.h"
#include "strset.h"
#include "util.h"

enum kt {
	K_STR,
	K_PATH,
	K_BOOL,
	K_INT,
	K_DUR,
	K_GUID,
	K_URL,
	K_TYPES,
	K_ACTION,
	K_SEVERITY,
	K_FORMAT,
	K_LIST,
	K_CHAR,
	K_CIDR,
	K_PCT,
	K_CLOUD,
	K_LOGLEVEL,
	K_CSVHDR,
	K_TO_IDS,
	K_FILES,
	K_LOGFMT,
	K_QUOTA,
	K_WEBHOOK,  /* a URL that may hold a token: never echoed */
	K_ALERTFMT, /* generic | teams | slack */
};

enum sec {
	S_MDE,
	S_SYNC,
	S_FETCH,
	S_ALLOWLIST,
	S_ALERT,
	S_FIREWALL,
	S_FEED,
	S_TENANT,
	S__COUNT
};
extern const char *const config_section_names[S__COUNT];
extern const char *const config_severity_names[SEV__COUNT];
extern const char *const config_alert_format_names[3];

#define C(f) offsetof(struct config, f)
#define F(f) offsetof(struct feed_cfg, f)

/* One key: its section, name, kind, where it goes, and its range. */
struct key {
	enum sec sec;
	const char *name;
	enum kt t;
	size_t off;
	long long min, max;
};
extern const struct key config_keys[];
extern const size_t config_nkeys;
#define CONFIG_KEYS_MAX 128 /* room in a section's seen[]: more than the table holds */

/* The index of key (sec, name) of the table; aborts when there is none. */
size_t config_key_index(enum sec sec, const char *name);

struct parse {
	struct config *c;
	const char *name;
	struct strbuf *errs;
	int errors;
	unsigned line;
	enum sec sec; /* current section, or S__COUNT when unknown */
	struct feed_cfg *feed;
	struct tenant_cfg *tenant;
	char cursec[256];
	bool seen[CONFIG_KEYS_MAX]; /* per section instance */
	FILE *fp;
	const char *text; /* string input */
	bool long_line;
	struct strset *feed_names; /* name -> index in c->feeds */
	size_t feeds_cap;          /* xgrow's, for c->feeds */
};

/* An error at line (0: a rule across keys), counted. */
void config_err_at(struct parse *p, unsigned line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* Stores value v of key k into base (the config or a feed); reports a
 * bad value. */
void config_set_value(struct parse *p, const struct key *k, void *base, const char *v);

/* csv_delimiter's name for c (tab, semicolon, space), or NULL. */
const char *config_delimiter_name(char c);

/* Checks the configuration across keys, then its tenants (finish). */
void config_validate(struct parse *p);

#endif
