/*
 * The configuration: one INI file parsed into one struct and validated
 * in one place. Every error names file:line. Unknown sections and keys
 * are errors. Defaults are documented in iocsync.conf(5) and here.
 */
#ifndef IOCSYNC_CONFIG_H
#define IOCSYNC_CONFIG_H

#include <stdbool.h>
#include <stddef.h>

#include "err.h"
#include "feed.h"
#include "ioc.h"
#include "log.h"
#include "util.h"

#define CONFIG_DEFAULT_PATH "/etc/iocsync/iocsync.conf"

enum severity {
	SEV_INFORMATIONAL,
	SEV_LOW,
	SEV_MEDIUM,
	SEV_HIGH,
	SEV__COUNT
};
const char *config_severity_name(enum severity s);

struct feed_cfg {
	char *name;
	unsigned line;           /* of the [feed "name"] header */
	char *url;               /* http(s):// or file:// (required) */
	enum feed_format format; /* default auto */
	unsigned types;          /* default 0 = auto */
	enum ioc_action action;  /* default Block */
	unsigned action_line, types_line, educate_line;
	enum severity severity;   /* default Medium */
	long long expire_after_s; /* default 30d */
	char **device_groups;     /* default none = all devices */
	size_t ndevice_groups;
	bool generate_alert; /* default no (Audit requires yes) */
	char *title;         /* default "{feed}: {value}" */
	char *description;   /* default "Indicator from feed {feed}" */
	char *recommended_actions;
	char *educate_url;
	int priority;            /* default 0; higher decides */
	char csv_delim;          /* default sniffed */
	char *csv_columns;       /* default detected */
	int csv_header;          /* default -1 = detect */
	bool misp_ignore_to_ids; /* default no: to_ids is honoured */
	long long timeout_s;     /* default [fetch] timeout */
	long long max_bytes;     /* default [fetch] max_bytes */
	int max_shrink_pct;      /* default 50: a feed shrinking more holds its deletions */
	long long quota;         /* quota = N: at most N under the cap (0: none) */
	int quota_pct;           /* quota = P%: at most P% of the room (0: none) */
	bool enabled;            /* default yes */
	/* format = taxii */
	char *taxii_collection;              /* id or title; url is the discovery or API root URL */
	char *taxii_api_root;                /* default: the server's default, else its first */
	char *username, *password_file;      /* HTTP basic authentication */
	char *api_key_header, *api_key_file; /* or an API key in a header */
	bool allow_http;                     /* credentials over plain http (default no) */
};

struct config;

enum alert_format {
	ALERT_GENERIC,
	ALERT_TEAMS,
	ALERT_SLACK
};

/* A [tenant "name"] section: its own [mde] keys (and state,
 * metrics_file), the feeds it takes and the device groups it scopes them
 * to. What it does not set comes from [mde] and [sync]. */
struct tenant_cfg {
	char *name;
	unsigned line;
	struct config *over; /* the keys it sets; set[] says which */
	bool *set;           /* per key of config.c's table */
	char **feeds;        /* feed names; none = every feed */
	size_t nfeeds;
	char **device_groups; /* overrides every feed's; none = the feeds' own */
	size_t ndevice_groups;
};

struct config {
	char *path;
	char *tenant_name; /* in a configuration made by config_tenant */
	/* [mde] */
	char *tenant_id, *client_id, *client_secret_file, *certificate;
	char *cloud;                    /* global | gcc | gcc-high | dod | custom */
	char *application;              /* default "iocsync" */
	char *api_url, *login_url;      /* cloud = custom */
	bool allow_http;                /* http:// to a loopback address only */
	char *client_secret_env;        /* the secret in this environment variable */
	char *client_secret_credential; /* systemd: $CREDENTIALS_DIRECTORY/<name> */
	char *federated_token_file;     /* workload identity: an outside issuer's JWT, re-read per token */
	char *credential;               /* "managed-identity": the machine's identity (Azure Arc, Azure VM) */
	char *imds_url;                 /* its token endpoint (default Arc's local one) */
	char *imds_key_dir;             /* Arc: where the challenge's key files may be (default its own) */
	char *certificate_alg;          /* ps256 (default) | rs256 */
	bool certificate_rs256;
	long long token_version;       /* 2 (default) | 1 */
	char *region;                  /* global cloud: default, unified, us, eu, ... */
	char *resource;                /* token audience (default per cloud) */
	char *mde_ca_file, *mde_proxy; /* default [fetch] ca_file, proxy */
	long long api_timeout_s;       /* one request (default 120 s) */
	long long api_deadline_s;      /* one call with its retries (default 15 min) */
	long long rate_limit_pct;      /* of MDE's documented limits (default 100; 0 off) */
	long long list_page;           /* $top when listing (default 10000) */
	/* [sync] */
	char *state;                    /* default /var/lib/iocsync/state.db */
	long long reserve;              /* default 500 */
	long long cap;                  /* tenant cap, default 15000 */
	long long grace_s;              /* removal grace period, default 0 */
	long long renew_before_s;       /* default 0: a third of expire_after */
	int max_delete_pct;             /* default 25 */
	bool verify_device_groups;      /* default yes: feeds' groups checked against MDE's */
	long long interval_s;           /* default 24h */
	long long max_parallel_tenants; /* tenants synced at once (default 1000) */
	char *log_file;
	enum log_level log_level; /* default info (for the log file) */
	bool log_json;            /* log_format = json */
	char *metrics_file;       /* Prometheus textfile, written after each run */
	enum cidr_mode cidr;      /* default skip */
	unsigned cidr_expand_max; /* default 256 addresses */
	/* [fetch] */
	char *ca_file, *proxy, *user_agent;
	long long connect_timeout_s; /* default 15 */
	long long timeout_s;         /* default 300 */
	long long max_bytes;         /* default 256 MiB */
	long long max_redirects;     /* default 5 */
	/* [alert] */
	char *alert_webhook;      /* a URL; may hold a token (Teams, Slack): never shown */
	char *alert_webhook_file; /* or the URL in this file */
	enum alert_format alert_format;
	long long feed_stale_after_s; /* a feed down this long alerts (default 2 days) */
	long long stale_after_s;      /* no converged run this long alerts (0: 2 intervals) */
	long long alert_timeout_s;    /* one post (default 30 s) */
	/* [firewall]: the Intune firewall rules policies (firewall push) */
	char *fw_graph_url;              /* default https://graph.microsoft.com */
	char *fw_graph_resource;         /* the tokens' audience (default the same) */
	char *fw_protocol;               /* udp (default) | both */
	char *fw_assign_groups;          /* Entra group names or ids, a comma list (config_split_list) */
	char *fw_policy_prefix;          /* the policies' names start with it */
	long long fw_rule_max_addresses; /* remote addresses (or ranges) a rule (1000) */
	bool fw_push;                    /* the daemon pushes after each sync */
	/* [allowlist] */
	char **allowlist_files;
	size_t nallowlist_files;
	/* [feed "name"] */
	struct feed_cfg *feeds;
	size_t nfeeds;
	bool feeds_lent; /* a tenant's: feeds are its parent's, as they are (config_tenant) */
	/* [tenant "name"] */
	struct tenant_cfg *tenants;
	size_t ntenants;
};

/* The whole configuration of tenant i, as one without tenants: [mde] and
 * [sync] with the tenant's keys over them, its feeds only, its device
 * groups, its state (default: [sync] state with "-NAME" before ".db")
 * and metrics file (likewise before ".prom"). Free with config_free.
 * With lend, a tenant that takes every feed and names no device groups
 * of its own is lent c's feeds (the same objects, so that tenants can
 * share a desired set): then free it before c. */
struct config *config_tenant(const struct config *c, size_t i, bool lend);
/* Does tenant t take the feed named feed (a tenant that names no feeds
 * takes every one)? */
bool config_tenant_takes(const struct tenant_cfg *t, const char *feed);

/* The built-in defaults, with no feed. Never NULL; free with config_free. */
struct config *config_defaults(void);

/*
 * Loads and validates path. Returns the configuration, or NULL with every
 * problem as "path:line: what" lines appended to errs (and ERR_IO in
 * *rc when the file cannot be read, ERR_CONFIG otherwise).
 */
struct config *config_load(const char *path, struct strbuf *errs, enum err *rc);

/* Same, from a string (for tests and fuzzing); name is used in errors. */
struct config *config_load_string(const char *name, const char *text, struct strbuf *errs);

/* config_free(NULL) is a no-op. */
void config_free(struct config *c);

/* Splits a comma-separated list into *out (*n items, each trimmed);
 * false when an item is empty. */
bool config_split_list(const char *v, char ***out, size_t *n);
/* Frees a list of n strings. */
void config_free_list(char **l, size_t n);

/* Writes the effective configuration as INI (secrets never appear: the
 * file holds only their paths). */
void config_dump(const struct config *c, struct strbuf *out);

/* The feed of c named name, or NULL. */
const struct feed_cfg *config_feed(const struct config *c, const char *name);

#endif
