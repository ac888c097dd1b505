/*
 * The MDE client: every call through mde_call, which asks mde_auth.h for
 * the token's header (refreshed once on a 401) and mde_transport.h to
 * send it within each endpoint's budget and the run's deadline; then the
 * endpoints iocsync uses, each a typed call.
 */
#ifndef IOCSYNC_MDE_H
#define IOCSYNC_MDE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "config.h"
#include "err.h"
#include "mde_transport.h"
#include "ratelimit.h"

struct mde;

/*
 * Makes a client from the [mde] section of c. The credential is checked
 * (where it lives, its owner and mode) but read only when the first
 * token is needed (mde_auth.h); why says what is missing or wrong. The
 * clock may be NULL for the real one.
 */
struct mde *mde_new(const struct config *c, const struct clock *clk, char *why, size_t whysz);
void mde_free(struct mde *m);
/* A client of Microsoft Graph at graph_url with c's credential, tokens
 * for resource (https://graph.microsoft.com), for mde_call with
 * MDE_EP_GRAPH and paths such as /beta/deviceManagement/... */
struct mde *mde_new_graph(const struct config *c, const char *graph_url, const char *resource, char *why, size_t whysz);

const struct mde_stats *mde_stats(const struct mde *m);
const char *mde_api_base(const struct mde *m);
const char *mde_client_id(const struct mde *m);

/* Gets a token now (or keeps the current one) and returns the roles it
 * carries as a JSON array (borrowed, valid until the next call), or
 * NULL with why filled. */
const json_t *mde_roles(struct mde *m, char *why, size_t whysz);

/*
 * One call: method on path (under the API base, e.g. "/api/indicators"),
 * with an optional JSON body. On ERR_OK *status is 2xx and *out holds
 * the parsed reply (NULL for an empty body; json_decref it). ERR_HTTP:
 * another status, *status set, why has MDE's code and message.
 * ERR_NET: transport, or the deadline passed.
 */
enum err mde_call(struct mde *m, enum mde_ep ep, const char *method, const char *path, json_t *body, long *status,
		  json_t **out, char *why, size_t whysz);

/* Waits until a call to ep fits its budget, so that a caller builds a
 * big request only when it can go (what waits holds little memory);
 * false as mde_transport_await. */
bool mde_await(struct mde *m, enum mde_ep ep, char *why, size_t whysz);
/* How long ep's budget holds the next call now, in seconds. */
double mde_budget_wait(struct mde *m, enum mde_ep ep);

/* mde_call of a GET whose 2xx body is read by stream as it comes
 * (http.h); ERR_PARSE when the stream stopped it (the stream knows why). */
enum err mde_call_stream(struct mde *m, enum mde_ep ep, const char *path, const struct http_stream *stream,
			 long *status, char *why, size_t whysz);
/* The listing's page size ($top) and the most indicators it takes. */
int mde_list_page(const struct mde *m);
long long mde_list_max(const struct mde *m);

/* Called with each indicator of a listing (borrowed: keep what is needed);
 * false stops the listing, why filled. */
typedef bool (*mde_list_fn)(void *ctx, json_t *ind, char *why, size_t whysz);

/* The elements of a {"value": [...]} answer, each parsed alone and
 * handed to fn as the body streams (mde_list.c; of names what they are,
 * for a failure's words): how a listing's pages and an import's results
 * are read, never as one JSON tree. reset before each try. */
struct value_scan;
struct value_scan *value_scan_new(mde_list_fn fn, void *ctx, const char *of);
void value_scan_reset(struct value_scan *v);
bool value_scan_feed(struct value_scan *v, const char *b, size_t n);
/* After the last byte: true when the answer was whole. */
bool value_scan_finish(struct value_scan *v);
/* Why it stopped (as it streamed, or at its end), or NULL. */
const char *value_scan_why(const struct value_scan *v);
void value_scan_free(struct value_scan *v);

/*
 * Lists every indicator the token may see (mde_list.c), paging with $top
 * and $skip until a short page, a 404 (what some tenants answer for an
 * empty page, spec 9), or a page that repeats the last, and hands each
 * to fn once, with its "id" as text, as the page streams in: no page is
 * held whole. More indicators than any tenant may hold is ERR_PARSE:
 * nothing is trusted then. A page that is not a list of indicators is
 * ERR_PARSE too (what fn was given before stands: callers drop it).
 */
enum err mde_list_each(struct mde *m, mde_list_fn fn, void *ctx, char *why, size_t whysz);
/* mde_list_each into *all, a JSON array (for the verbs that show it). */
enum err mde_list_all(struct mde *m, json_t **all, char *why, size_t whysz);

/* "$filter=" text for field equal to value: OData's quoting, then the
 * URL's (free it). */
char *mde_filter_eq(const char *field, const char *value);

/* The indicators whose value is value exactly ($filter, at most 100),
 * into *out ({"value": [...]}; json_decref it; NULL when none). As
 * mde_call: ERR_HTTP with *status 404 is what some tenants answer for
 * none (spec 9, empty-list). */
enum err mde_find_value(struct mde *m, const char *value, long *status, json_t **out, char *why, size_t whysz);

/* One item's result of an import as MDE gave it: its id as text,
 * the value it names, its failure reason (each NULL when absent). */
struct mde_import_item {
	const char *id, *indicator, *reason;
	bool failed; /* isFailed is true */
};
/* An import's results, read as the answer streams into this compact
 * form (a JSON tree of 500 was 140 KB, held by every tenant of a
 * provider at once); the strings live in text. */
struct mde_import_results {
	struct mde_import_item *item;
	size_t n;
	char *text;
};
void mde_import_results_free(struct mde_import_results *r);

/* Import of at most 500 items: body makes {"Indicators":[...]} with n
 * items, as text, for each try (http_body: none is held while MDE
 * answers); *res gets MDE's results, one per item (checked; free them
 * with mde_import_results_free whatever comes back). ERR_HTTP with
 * *status: MDE refused the request whole (a 400 may stand for one bad
 * item, spec 9 import-errors). */
enum err mde_import(struct mde *m, const struct http_body *body, size_t n, struct mde_import_results *res, long *status,
		    char *why, size_t whysz);

/* The tenant's device groups that have devices, from GET /api/machines
 * (Machine.Read.All): *groups is an object name -> device count. A
 * tenant with no device gives an empty object. */
enum err mde_device_groups(struct mde *m, json_t **groups, char *why, size_t whysz);

/* BatchDelete of at most 500 ids. ERR_HTTP with *status 404 when an id
 * is unknown (nothing was deleted: list again and retry). */
enum err mde_batch_delete(struct mde *m, const char *const *ids, size_t n, long *status, char *why, size_t whysz);

/* Single delete; a 404 (already gone) counts as done. */
enum err mde_delete(struct mde *m, const char *id, char *why, size_t whysz);

/* Is this listed indicator one this client made by what it says of
 * itself: application is the configured name, and createdBy the client
 * id or what MDE was seen to put there for this app (mde_set_created_by;
 * spec 9, created-by)? Ids iocsync recorded are the caller's to check. */
bool mde_owned(const struct mde *m, const json_t *ind);
/* Does ind name this client's application (whoever created it)? And is
 * by (a createdBy) this client, by its id or what MDE was seen to put? */
bool mde_claims_app(const struct mde *m, const json_t *ind);
bool mde_owned_by(const struct mde *m, const char *by);
/* What MDE puts in createdBy for this app, when learned (NULL: only the
 * client id is known). */
void mde_set_created_by(struct mde *m, const char *by);
const char *mde_created_by(const struct mde *m);

/* An indicator's id as text (MDE sends a number; a string is taken as
 * it is): the string, buf holding a number, or NULL when there is none. */
const char *mde_id(const json_t *ind, char buf[32]);

#endif
