/*
 * The control plane under /_emulator/: what a test or a person sets and
 * reads (reset, state, calls, the request log, the change log, readings,
 * rejected values, the clock, faults, apps, limits). One route a
 * function; each answers in JSON (mde-emulator(1), CONTROL PLANE).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

static void
ctl_reset(struct emu *e, json_t *in, struct reply *r)
{
	(void)in;
	ind_free_all(e);
	json_array_clear(e->policies);
	json_array_clear(e->groups);
	for (size_t i = 0; i < e->nwins; i++)
		e->wins[i].n = 0;
	memset(e->calls, 0, sizeof(e->calls));
	json_array_clear(e->log);
	free(e->faults);
	e->faults = NULL;
	free(e->fault_tenant);
	e->fault_tenant = NULL;
	e->nfaults = e->fault_pos = 0;
	memset(e->fault_pm, 0, sizeof(e->fault_pm));
	e->fault_rng = 1;
	e->clock_offset_ms = 0;
	e->next_id = 1;
	e->cap = 15000;
	e->rate_limits = true;
	memcpy(e->reading, e->reading_start, sizeof(e->reading));
	ind_reindex(e);
	json_object_clear(e->rejected);
	emu_changes_clear(e);
	e->log_bodies = false;
	(void)emu_state_save(e, NULL, 0);
	r->body = json_pack("{s:b}", "reset", 1);
}

static void
ctl_state_get(struct emu *e, json_t *in, struct reply *r)
{
	(void)in;
	r->body = emu_state_dump(e);
}

static void
ctl_state_set(struct emu *e, json_t *in, struct reply *r)
{
	char why[256];
	if (!emu_state_apply(e, in, why, sizeof(why)))
		reply_error(r, 400, "InvalidInput", "%s", why);
	else
		r->body = json_pack("{s:I}", "indicators", (json_int_t)e->ninds);
	(void)emu_state_save(e, NULL, 0);
}

static void
ctl_calls(struct emu *e, json_t *in, struct reply *r)
{
	static const char *const cls[] = {"1xx", "2xx", "3xx", "4xx", "5xx", "429"};
	(void)in;
	r->body = json_object();
	for (int k = 0; k < EP__COUNT; k++) {
		json_t *o = json_object();
		for (int c = 0; c < 6; c++)
			if (e->calls[k][c])
				json_object_set_new(o, cls[c], json_integer((json_int_t)e->calls[k][c]));
		json_object_set_new(r->body, ep_name((enum ep)k), o);
	}
}

static void
ctl_log_get(struct emu *e, json_t *in, struct reply *r)
{
	(void)in;
	r->body = json_pack("{s:O}", "requests", e->log);
}

/* {"bodies": true}: keep each request's query and body too;
 * {"clear": true}: start the log afresh. */
static void
ctl_log_set(struct emu *e, json_t *in, struct reply *r)
{
	if (json_is_boolean(json_object_get(in, "bodies")))
		e->log_bodies = json_is_true(json_object_get(in, "bodies"));
	if (json_is_true(json_object_get(in, "clear")))
		json_array_clear(e->log);
	r->body = json_pack("{s:b, s:I}", "bodies", e->log_bodies, "requests", (json_int_t)json_array_size(e->log));
}

static void
ctl_changes(struct emu *e, json_t *in, struct reply *r)
{
	(void)in;
	r->body = json_pack("{s:o}", "changes", emu_changes(e));
}

static void
ctl_readings_get(struct emu *e, json_t *in, struct reply *r)
{
	(void)in;
	r->body = readings_json(e);
}

/* {"name": "choice", ...}: all or nothing. */
static void
ctl_readings_set(struct emu *e, json_t *in, struct reply *r)
{
	const char *name;
	json_t *v;
	char why[256];
	int saved[R__COUNT];
	memcpy(saved, e->reading, sizeof(saved));
	json_object_foreach(in, name, v) {
		if (!json_is_string(v) || !reading_set(e, name, json_string_value(v), why, sizeof(why))) {
			if (!json_is_string(v))
				snprintf(why, sizeof(why), "reading %.60s: the choice must be a string", name);
			memcpy(e->reading, saved, sizeof(saved));
			ind_reindex(e);
			reply_error(r, 400, "InvalidInput", "%s", why);
			return;
		}
	}
	r->body = readings_json(e);
}

/* {"values": [...]}: refused as InvalidInput from now on, standing for
 * validation the service does and nobody documented. */
static void
ctl_reject(struct emu *e, json_t *in, struct reply *r)
{
	json_t *vals = json_object_get(in, "values"), *el;
	size_t i;
	if (!json_is_array(vals)) {
		reply_error(r, 400, "InvalidInput", "values: an array of strings expected");
		return;
	}
	json_array_foreach(vals, i, el)
		if (json_is_string(el))
			json_object_set_new(e->rejected, json_string_value(el), json_true());
	r->body = json_pack("{s:I}", "rejected", (json_int_t)json_object_size(e->rejected));
}

static void
ctl_clock(struct emu *e, json_t *in, struct reply *r)
{
	json_t *adv = json_object_get(in, "advance_seconds");
	if (!json_is_integer(adv) || json_integer_value(adv) < 0) {
		reply_error(r, 400, "InvalidInput", "advance_seconds: a non-negative integer expected");
		return;
	}
	e->clock_offset_ms += json_integer_value(adv) * 1000;
	ind_expire(e);
	char now[40];
	emu_time_format(emu_now_ms(e), now, sizeof(now));
	r->body = json_pack("{s:s}", "now", now);
}

static void
ctl_apps(struct emu *e, json_t *in, struct reply *r)
{
	const char *t = json_string_value(json_object_get(in, "tenant"));
	const char *cid = json_string_value(json_object_get(in, "client_id"));
	const char *sec = json_string_value(json_object_get(in, "secret"));
	const char *name = json_string_value(json_object_get(in, "name"));
	json_t *rl = json_object_get(in, "roles"), *el;
	size_t i;
	unsigned mask = 0;
	json_t *fed = json_object_get(in, "federated");
	const char *fiss = json_string_value(json_object_get(fed, "issuer"));
	const char *fsub = json_string_value(json_object_get(fed, "subject"));
	const char *fpem = json_string_value(json_object_get(fed, "certificate_pem"));
	bool mi = json_is_true(json_object_get(in, "managed_identity"));
	const char *kdir = json_string_value(json_object_get(in, "imds_key_dir"));
	bool ok = t && cid && (sec || (fiss && fsub && fpem) || mi) && name && json_is_array(rl) &&
		(!mi || (kdir && kdir[0] == '/')) && (fed == NULL || (fiss && fsub && fpem));
	json_array_foreach(rl, i, el) {
		unsigned b = json_is_string(el) ? role_parse(json_string_value(el)) : 0;
		ok &= b != 0;
		mask |= b;
	}
	if (!ok) {
		reply_error(r, 400, "InvalidInput",
			    "tenant, client_id, secret (or federated: issuer, subject, certificate_pem; or "
			    "managed_identity with imds_key_dir), name and roles (known names) expected");
		return;
	}
	emu_add_app(e, t, cid, sec, name, mask);
	const char *pem = json_string_value(json_object_get(in, "certificate_pem"));
	struct app *a = NULL;
	char why[256];
	for (size_t k = 0; k < e->napps; k++)
		if (!strcmp(e->apps[k].tenant, t) && !strcmp(e->apps[k].client_id, cid))
			a = &e->apps[k];
	if (pem && !app_set_certificate(a, pem, strlen(pem), why, sizeof(why)))
		reply_error(r, 400, "InvalidInput", "certificate_pem: %s", why);
	else if (fed && !app_set_federated(a, fiss, fsub, fpem, strlen(fpem), why, sizeof(why)))
		reply_error(r, 400, "InvalidInput", "federated: %s", why);
	else
		r->body = json_pack("{s:s}", "client_id", cid);
	if (mi && r->body) {
		a->managed_identity = true;
		free(e->imds_key_dir);
		e->imds_key_dir = xstrdup(kdir);
	}
}

/* An Entra group of a tenant, for Graph's /v1.0/groups (graph.c). */
static void
ctl_groups(struct emu *e, json_t *in, struct reply *r)
{
	const char *t = json_string_value(json_object_get(in, "tenant"));
	const char *id = json_string_value(json_object_get(in, "id"));
	const char *name = json_string_value(json_object_get(in, "displayName"));
	if (!t || !id || !name) {
		reply_error(r, 400, "InvalidInput", "tenant, id and displayName expected");
		return;
	}
	json_array_append_new(e->groups, json_pack("{s:s, s:s, s:s}", "id", id, "displayName", name, "_tenant", t));
	r->body = json_pack("{s:s}", "id", id);
}

static void
ctl_limits(struct emu *e, json_t *in, struct reply *r)
{
	json_t *rl = json_object_get(in, "rate_limits"), *cap = json_object_get(in, "cap"),
	       *life = json_object_get(in, "token_lifetime");
	if (json_is_boolean(rl))
		e->rate_limits = json_is_true(rl);
	if (json_is_integer(cap) && json_integer_value(cap) >= 0)
		e->cap = (long)json_integer_value(cap);
	if (json_is_integer(life) && json_integer_value(life) > 0)
		e->token_lifetime = (long)json_integer_value(life);
	r->body = json_pack("{s:b, s:I, s:I}", "rate_limits", e->rate_limits, "cap", (json_int_t)e->cap,
			    "token_lifetime", (json_int_t)e->token_lifetime);
}

static const struct {
	const char *method, *path;
	void (*fn)(struct emu *e, json_t *in, struct reply *r);
	bool body; /* takes a JSON object */
} routes[] = {
	{"POST", "/reset", ctl_reset, false},
	{"GET", "/state", ctl_state_get, false},
	{"POST", "/state", ctl_state_set, true},
	{"GET", "/calls", ctl_calls, false},
	{"GET", "/log", ctl_log_get, false},
	{"POST", "/log", ctl_log_set, true},
	{"GET", "/changes", ctl_changes, false},
	{"GET", "/readings", ctl_readings_get, false},
	{"POST", "/readings", ctl_readings_set, true},
	{"POST", "/reject", ctl_reject, true},
	{"POST", "/clock", ctl_clock, true},
	{"POST", "/faults", emu_faults_set, true},
	{"POST", "/apps", ctl_apps, true},
	{"POST", "/limits", ctl_limits, true},
	{"POST", "/groups", ctl_groups, true},
};

void
emu_control(struct emu *e, const struct request *q, struct reply *r)
{
	const char *p = q->path + strlen("/_emulator");
	r->status = 200;
	for (size_t i = 0; i < NELEM(routes); i++) {
		if (strcmp(q->method, routes[i].method) != 0 || strcmp(p, routes[i].path) != 0)
			continue;
		json_t *in = NULL;
		if (routes[i].body) {
			json_error_t err;
			in = json_loadb(q->body ? q->body : "", q->body_len, JSON_REJECT_DUPLICATES, &err);
			if (!json_is_object(in)) {
				json_decref(in);
				reply_error(r, 400, "InvalidRequestBody", "a JSON object expected: %s", err.text);
				return;
			}
		}
		routes[i].fn(e, in, r);
		json_decref(in);
		return;
	}
	reply_error(r, 404, "ResourceNotFound", "no control endpoint %s %.100s", q->method, q->path);
}
