/*
 * mde-emulator: a local Microsoft Defender for Endpoint API, written
 * from ../shared/spec/mde-api.md alone. It shares no indicator
 * validation and no API model with iocsync (only generic helpers from
 * util.c), so it checks the client instead of mirroring its mistakes.
 *
 * One mutex guards all state: requests are short, and fidelity matters
 * more than parallelism here.
 */
#ifndef MDE_EMU_H
#define MDE_EMU_H

#include <jansson.h>
#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "util.h"

enum role {
	ROLE_TI_RW = 1u << 0,
	ROLE_TI_RW_ALL = 1u << 1,
	ROLE_TI_READ_ALL = 1u << 2,
	ROLE_MACHINE_READ_ALL = 1u << 3,
	ROLE_MACHINE_RW_ALL = 1u << 4,
	ROLE_AQ_READ_ALL = 1u << 5,
	ROLE_SCORE_READ_ALL = 1u << 6,
	ROLE_DMC_READ_ALL = 1u << 7,   /* Microsoft Graph: DeviceManagementConfiguration.Read.All */
	ROLE_DMC_RW_ALL = 1u << 8,     /* and .ReadWrite.All */
	ROLE_GROUP_READ_ALL = 1u << 9, /* Microsoft Graph: Group.Read.All */
};
#define ROLE_LAST ROLE_GROUP_READ_ALL
const char *role_name(unsigned bit);
unsigned role_parse(const char *name); /* 0 if unknown */

struct app {
	char *tenant, *client_id, *secret, *name;
	unsigned roles;
	/* certificate credential (NULL: none): its public key and the
	 * base64url SHA-1 (x5t) and SHA-256 (x5t#S256) of its DER form */
	void *pubkey; /* EVP_PKEY * */
	char *x5t, *x5t256;
	bool managed_identity; /* the identity the managed identity endpoint issues tokens for */
	bool graph;            /* a request's token: its audience is Microsoft Graph */
	/* federated credential (workload identity; NULL: none): the outside
	 * issuer and subject it trusts, and the key that signs their tokens */
	char *fed_issuer, *fed_subject;
	void *fed_pubkey; /* EVP_PKEY * */
	char oid[37];     /* app_object_id, made once its tenant and client id are known */
};
/* The app's service principal object id: a GUID of its own, stable for
 * (tenant, client id) and never equal to the client id (reading
 * created-by=object-id). out holds 37 bytes. Made into a->oid where an
 * app is added (an import asks for it per item). */
void app_object_id(const struct app *a, char out[37]);
/* Is by (a createdBy) one of a's identities? */
bool app_is(const struct app *a, const char *by);
/* Sets a's certificate from PEM text; false with why. */
bool app_set_certificate(struct app *a, const char *pem, size_t len, char *why, size_t whysz);
void app_clear_certificate(struct app *a);
/* Sets a's federated credential: the issuer and subject it trusts and a
 * PEM public key or certificate that verifies their tokens; false with why. */
bool app_set_federated(struct app *a, const char *issuer, const char *subject, const char *pem, size_t len, char *why,
		       size_t whysz);
void app_clear_federated(struct app *a);

struct machine {
	char *id, *name, *group, *tags; /* tags: comma-separated */
	int group_id;
	char *np_mode; /* network protection: "Block", "Audit", "Off" */
};

/* An indicator kept compact: a provider's test holds millions (bench/
 * tenants.py: 1,000 tenants of 2,000), so no JSON tree stays in memory.
 * ind_obj gives the resource as the API shows it. */
struct indicator {
	long long id;
	long long expire_at; /* emulator clock, seconds; 0: never */
	const char *tenant;  /* emu_intern'd */
	const char *by;      /* createdBy, emu_intern'd */
	char *text;          /* compact JSON without the fields that hold their default */
};

/* Sliding-window rate limit state for (tenant, app, endpoint). */
struct window {
	char *key;
	long long *times; /* ms, oldest first */
	size_t n, cap;
};

enum ep {
	EP_LIST,
	EP_SUBMIT,
	EP_IMPORT,
	EP_DELETE,
	EP_BATCHDELETE,
	EP_MACHINES,
	EP_FINDBYTAG,
	EP_AQ,
	EP_SCORE,
	EP_TOKEN,
	EP_OTHER,
	EP__COUNT
};
const char *ep_name(enum ep e);
/* The endpoint named s ("list", "import", ...), or -1. */
int ep_parse(const char *s);

/* Readings (spec section 9): every candidate behaviour where the documents
 * are silent; choice 0 is the default (section 8). readings.c has the
 * names, choices and evidence. */
enum reading {
	R_UPSERT_KEY,      /* type-value-action | type-value */
	R_EMPTY_LIST,      /* 200 | 404 */
	R_IMPORT_ERRORS,   /* per-item | whole-batch */
	R_CREATED_BY,      /* client-id | object-id */
	R_NORMALIZE,       /* none | canonical */
	R_OMITTED_FIELDS,  /* keep | reset */
	R_GROUP_NAMES,     /* accept | validate */
	R_LIST_PERMISSION, /* read-all-allowed | readwrite-only */
	R_TEXT_LIMITS,     /* strict | none */
	R_PAST_EXPIRY,     /* reject | accept */
	R_LEGACY_ACTIONS,  /* accept | reject */
	R_GOV_AUDIENCE,    /* api-host | onmicrosoft-us */
	R_TEMPLATE_REFS,   /* optional | required (Graph: a policy from a template) */
	R__COUNT
};
#define READING_CHOICES_MAX 2
const char *reading_name(enum reading r);
const char *reading_choice_name(enum reading r, int choice);

/* Upsert key (tenant, type, value[, action]) -> indicator id. */
struct kslot {
	char *key; /* NULL: empty; KMAP_TOMB: deleted */
	size_t len;
	long long id;
};
struct kmap {
	struct kslot *slots;
	size_t cap, used; /* used counts tombstones too */
};

struct emu {
	pthread_mutex_t mu;
	struct app *apps;
	size_t napps;
	struct machine *machines;
	size_t nmachines;
	struct indicator *inds; /* sorted by id */
	size_t ninds, inds_cap;
	struct kmap keys;
	struct kmap names;      /* interned strings (tenants, createdBy) -> index in interned */
	struct interned {       /* each allocated once, never moved or freed before the emulator */
		long long *ids; /* a tenant's: its active indicators' ids, ascending (a listing
				   reads only these; the cap counts them) */
		size_t nids, ids_cap;
		char s[];
	} * *interned;
	size_t ninterned;
	long long next_id;
	long long expiry_due; /* no indicator expires before this (emulator clock, seconds; 0: none may) */
	struct window *wins;
	size_t nwins;
	long long clock_offset_ms;                   /* advanced by the control plane */
	unsigned char key[32];                       /* token signing key */
	char *base;                                  /* http://127.0.0.1:PORT */
	char *state_path;                            /* --state: saved after each change */
	long cap;                                    /* active indicators per tenant */
	int per_min[EP__COUNT], per_hour[EP__COUNT]; /* rate limits; 0: none */
	long token_lifetime;                         /* seconds */
	json_t *policies;                            /* Graph configurationPolicies (graph.c), with _tenant */
	json_t *groups;                              /* Entra groups: {id, displayName, _tenant} */
	char *imds_key_dir;                          /* managed identity: where its challenge key files go */
	char imds_key[65];                           /* the last challenge's key ("" none) */
	bool rate_limits;
	/* counters[endpoint][status class index] */
	unsigned long calls[EP__COUNT][6];
	json_t *log; /* last requests: method, path, status */
	/* Faults, one decision per API call: first the scripted sequence,
	 * then the probabilities (per mille) drawn from a seeded generator,
	 * so a run can be repeated. */
	int *faults; /* enum fault or an HTTP status */
	size_t nfaults, fault_pos;
	unsigned fault_pm[8]; /* per mille, indexed like fault_names */
	uint64_t fault_rng;
	unsigned slow_ms;
	char *fault_tenant; /* only this tenant's calls take faults (NULL: every call) */
	bool item_fault;    /* this import: odd items fail as if transiently */
	char **used_jti;
	size_t njti;
	int reading[R__COUNT];       /* each reading's current choice */
	int reading_start[R__COUNT]; /* as started (--reading, [readings]): /reset returns here */
	json_t *rejected;            /* values refused as InvalidInput (/_emulator/reject): a set */
	struct { /* every create, update, delete and expiry, in order: the last CHANGES_KEPT, as compact JSON */
		char **line;
		size_t head, n;
	} changes;
	bool log_bodies;        /* the request log keeps query and body too */
	struct strbuf scratch;  /* under mu: a kept text or change line is written here, then copied
				  at its size (no growing per item, no slack kept) */
	struct text_pool {      /* under mu: where kept texts and change lines live (textpool.c) */
		char *free[64]; /* per slot size: freed slots, each holding the next */
		char *cur;      /* the newest block's unused tail */
		size_t left;
		char **blocks;
		size_t nblocks, blocks_cap;
	} texts;
};

/* Is the current choice of r its second (non-default) one? */
static inline bool
reading_alt(const struct emu *e, enum reading r)
{
	return e->reading[r] != 0;
}

/* emulator clock */
long long emu_now_ms(const struct emu *e);
/* "2026-11-23T10:00:00.0000000Z" */
void emu_time_format(long long ms, char *out, size_t outsz);
/* Parses ISO-8601 UTC ("...Z", optional fraction, or +00:00); false if not. */
bool emu_time_parse(const char *s, long long *ms);

/* Faults that happen on the wire, after the request was handled. */
enum fault {
	FAULT_NONE = 0,
	FAULT_SLOW = 1,
	FAULT_RESET = 2,
	FAULT_TRUNCATE = 3,
	FAULT_ITEM = 4
};

/* A reply: status, JSON body (stolen) or NULL, extra headers. */
struct reply {
	enum fault fault; /* slow: answer after slow_ms; reset: close without
				   an answer; truncate: half the body, then close */
	unsigned slow_ms;
	int status;
	json_t *body;
	char retry_after[24];
	char *www_authenticate; /* a managed identity's challenge, or NULL */
	bool odata;             /* OData headers (API answers) */
	bool raw_empty;         /* 204 */
	char *text;             /* the body already written (a listing): sent as it is, body unused */
};
/* Frees what a reply holds (body, text, challenge) without sending it. */
void reply_free(struct reply *r);
void reply_error(struct reply *r, int status, const char *code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* A request, parsed. */
struct request {
	const char *method;
	const char *path; /* without query, "/api/v1.0" prefix removed for API */
	const char *full_path;
	const char *body;
	size_t body_len;
	const char *content_type;
	const char *authorization;
	const char *metadata; /* the Metadata header (managed identity endpoint) */
	const char *query;    /* the raw query string, for the log; or NULL */
	json_t *json;         /* the body, when it is JSON and parsed before the lock; or NULL */
	void *conn;           /* struct MHD_Connection * for query arguments */
};
const char *req_query(const struct request *q, const char *name);
/* The integer query argument name, from 0 to max, into *out (untouched
 * when absent); false with a 400 ODataError in r. */
bool emu_query_int(const struct request *q, const char *name, long long max, long long *out, struct reply *r);

/* auth.c */
/* GET /metadata/identity/oauth2/token, as Azure Arc's local identity
 * endpoint answers it: without Authorization, 401 with a challenge naming
 * a new key file under imds_key_dir; with "Basic <that file's content>",
 * a token for the app marked managed_identity. */
void auth_managed(struct emu *e, const struct request *q, struct reply *r);
/* Microsoft Graph's configurationPolicies (graph.c): answers a request
 * whose path is under /beta/deviceManagement/configurationPolicies (a
 * token with Graph's audience required) and says true; false otherwise. */
bool graph_route(struct emu *e, const struct request *q, const char *path, struct reply *r);
/* An error in Graph's shape: {"error": {code, message, innerError: {request-id, date}}}. */
void graph_error(struct emu *e, struct reply *r, int status, const char *code, const char *msg);
void auth_token(struct emu *e, const struct request *q, const char *tenant, bool v2, struct reply *r);
/* Checks the bearer token; on success fills *app (the app, with the
 * token's roles; strings borrowed) and returns true, else fills r (401). */
bool auth_bearer(struct emu *e, const struct request *q, struct app *app, struct reply *r);

/* indicators.c */
void ind_list(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void ind_submit(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void ind_import(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void ind_delete(struct emu *e, const struct app *a, const char *id, struct reply *r);
void ind_batch_delete(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void ind_expire(struct emu *e);
/* Rebuilds the upsert-key index (after the upsert-key reading changed). */
void ind_reindex(struct emu *e);
/* Loads one indicator as given (control plane, state file): no checks
 * beyond shape; returns false with why. */
bool ind_load(struct emu *e, json_t *obj, char *why, size_t whysz);
void ind_free_all(struct emu *e);
void emu_names_free(struct emu *e);

/* odata.c: $filter */
struct filter;
enum filter_entity {
	FILTER_INDICATORS,
	FILTER_MACHINES
};
struct filter *filter_parse(const char *s, enum filter_entity ent, char *why, size_t whysz);
bool filter_match(const struct filter *f, json_t *obj);
/* The text field must equal for f to match (field eq 'text', alone or
 * under and), or NULL when f asks no such thing. */
const char *filter_required_eq(const struct filter *f, const char *field);
void filter_free(struct filter *f);

/* machines.c */
void machines_list(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void machines_findbytag(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void aq_run(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
void exposure_by_group(struct emu *e, const struct app *a, const struct request *q, struct reply *r);
/* The id of the device group named name (from the machines), or -1. */
int emu_group_id(const struct emu *e, const char *name);

/* readings.c */
bool reading_set(struct emu *e, const char *name, const char *choice, char *why, size_t whysz);
/* "NAME=CHOICE" (--reading). */
bool reading_set_arg(struct emu *e, const char *arg, char *why, size_t whysz);
json_t *readings_json(const struct emu *e);
void readings_print(const struct emu *e, FILE *fp);

/* emu.c */
struct emu *emu_new(void);
void emu_free(struct emu *e);
/* Reads --config (see config.c); false with "FILE:LINE: why". */
bool emu_config_load(struct emu *e, const char *path, char *why, size_t whysz);
/* Parses a fault name ("429", "500", "503", "slow", "reset", "truncate",
 * "none"); -1 if unknown. Sets the probability of one (per mille). */
int fault_parse(const char *s);
bool fault_set_probability(struct emu *e, const char *name, double p);
/* Adds the built-in demo tenant, app, groups and machines. */
void emu_demo(struct emu *e);
void emu_handle(struct emu *e, const struct request *q, struct reply *r);
/* A call against the sliding windows of key (a minute and an hour; 0: no
 * limit): 0 when it may go (and is counted), else the ms until it may. */
long long emu_window_take(struct emu *e, const char *key, int per_min, int per_hour);
/* The endpoint's windows: true if allowed (and counted), else r is a 429. */
bool emu_rate(struct emu *e, const struct app *a, enum ep ep, struct reply *r);
bool emu_state_save(struct emu *e, char *why, size_t whysz);
bool emu_state_load(struct emu *e, const char *path, char *why, size_t whysz);
json_t *emu_state_dump(struct emu *e);

/* validate.c: an indicator as the emulator takes it. A refusal: */
struct verdict {
	int status;
	const char *code;
	char msg[256];
};

/* Takes the forms the documents' samples use ("true" for a boolean, a
 * comma-separated rbacGroupNames) as what they mean. */
void emu_lenient_forms(json_t *o);
/* Does body o pass the rules (section 4, 8; the readings)? v says why not. */
bool emu_validate(struct emu *e, json_t *o, struct verdict *v);
/* Are o's device groups known, under group-names = validate? */
bool emu_groups_check(struct emu *e, json_t *o, struct verdict *v);
/* o as stored: under normalize = canonical, values in MDE's own form. */
void emu_normalize(const struct emu *e, json_t *o);

/* store.c: the indicators in memory. */
/* May app a see (list) and change indicator x? */
bool emu_visible(const struct app *a, const struct indicator *x);
bool emu_may_write(const struct app *a, const struct indicator *x);
/* The upsert key of body o in tenant (under the upsert-key reading), a
 * new string of *len bytes. */
char *emu_key_of(const struct emu *e, const char *tenant, json_t *o, size_t *len);
/* The tenant's count of active indicators (kept by emu_index_at and
 * emu_remove_at). */
size_t emu_active(struct emu *e, const char *tenant);
/* The tenant's indicator ids, ascending (kept by emu_index_at and
 * emu_remove_at); *n of them. */
const long long *emu_tenant_ids(struct emu *e, const char *tenant, size_t *n);
/* s, kept once for the emulator's life: equal strings give one pointer. */
const char *emu_intern(struct emu *e, const char *s);
/* The fields an upsert copies from its item (kept.c), in the API's
 * order: the first three required, the rest optional. */
#define EMU_NCOPIED 16
extern const char *const emu_copied[EMU_NCOPIED];
/* What an optional field becomes when an update omits it under
 * omitted-fields=reset: its value on a fresh indicator (a new reference). */
json_t *emu_field_default(const char *name);
/* v as compact JSON text into sb; NULL as null. */
void emu_put_json(struct strbuf *sb, const json_t *v);
/* Indicator x as the API shows it (a new reference). */
json_t *ind_obj(const struct indicator *x);
/* The same resource written as text into sb, as json_dumps would write
 * ind_obj's (JSON_COMPACT), without building it: a listing's items. */
void ind_text(const struct indicator *x, struct strbuf *sb);
/* Keeps obj (the resource as the API shows it) as x's, compactly. */
void ind_keep(struct emu *e, struct indicator *x, const json_t *obj);
/* The change log, oldest first (a new array), and emptied. */
json_t *emu_changes(const struct emu *e);
void emu_changes_clear(struct emu *e);
/* Where indicator id is, or would be, in e->inds (sorted by id). */
size_t emu_lower_bound(const struct emu *e, long long id);
/* Indicator id (and its index in *at), or NULL. */
struct indicator *emu_find_num(struct emu *e, long long id, size_t *at);
/* The indicator body in would update, or NULL. */
struct indicator *emu_find_key(struct emu *e, const char *tenant, json_t *in);
/* One change, into the change log (/_emulator/changes); obj is x as
 * the API shows it, when at hand (NULL: read from x). */
void emu_log_change(struct emu *e, const char *op, const struct indicator *x, const json_t *obj);
/* A kept copy of s[0..n) (NUL-terminated), from the text pool; give it
 * back with emu_text_drop (NULL is ignored). Under the lock. */
char *emu_text_keep(struct emu *e, const char *s, size_t n);
void emu_text_drop(struct emu *e, char *t);
void emu_text_pool_free(struct emu *e);
/* Removes indicator i (why: deleted, expired), logged. */
void emu_remove_at(struct emu *e, size_t i, const char *why);
/* Removes the indicators at[0..n) of e->inds (an index named twice is
 * removed once), logged in at's order. */
void emu_remove_each(struct emu *e, const size_t *at, size_t n, const char *why);
/* Puts indicator i into the key index; obj as for emu_log_change. It
 * also notes when i expires. */
void emu_index_at(struct emu *e, size_t i, const json_t *obj);
/* Notes that x expires (its expire_at, when set): ind_expire looks then. */
void emu_expiry_note(struct emu *e, const struct indicator *x);

/* control.c: the control plane, for a path under /_emulator/. */
void emu_control(struct emu *e, const struct request *q, struct reply *r);
/* emu.c, for the control plane: state from JSON, an app, the faults. */
bool emu_state_apply(struct emu *e, json_t *j, char *why, size_t whysz);
void emu_add_app(struct emu *e, const char *tenant, const char *cid, const char *secret, const char *name,
		 unsigned roles_mask);
void emu_faults_set(struct emu *e, json_t *in, struct reply *r);

#endif
