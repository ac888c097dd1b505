#include "metrics.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ioc.h"
#include "iocsync_limits.h"
#include "report.h"
#include "util.h"

/* A label value: backslash, double quote and newline escaped. */
static void
label(struct strbuf *o, const char *name, const char *v)
{
	sb_addf(o, "%s=\"", name);
	for (; v && *v; v++) {
		if (*v == '\\' || *v == '"')
			sb_addc(o, '\\'), sb_addc(o, *v);
		else if (*v == '\n')
			sb_adds(o, "\\n");
		else
			sb_addc(o, *v);
	}
	sb_addc(o, '"');
}

static void
family(struct strbuf *o, const char *name, const char *help)
{
	sb_addf(o, "# HELP %s %s\n# TYPE %s gauge\n", name, help, name);
}

/* name{tenant="…",k1="v1",k2="v2"} value */
static void
sample(struct strbuf *o, const char *name, const char *tenant, const char *const *kv, double v)
{
	sb_addf(o, "%s{", name);
	label(o, "tenant", tenant);
	for (; kv && kv[0]; kv += 2) {
		sb_addc(o, ',');
		label(o, kv[0], kv[1]);
	}
	if (v == (double)(long long)v)
		sb_addf(o, "} %lld\n", (long long)v);
	else
		sb_addf(o, "} %.3f\n", v);
}

struct ind_count {
	json_t *by; /* "feed\ttype\taction" -> count */
	long long n;
};

static void
count_ind(void *ctx, const struct store_ind *r)
{
	struct ind_count *ic = ctx;
	if (r->gone_since)
		return;
	const char *f = r->feeds ? r->feeds : "";
	size_t fl = strcspn(f, ",");
	char key[512];
	snprintf(key, sizeof(key), "%.*s\t%s\t%s", (int)fl, f, ioc_type_name((enum ioc_type)r->type),
		 ioc_action_name((enum ioc_action)r->action));
	ic->n++;
	report_json_bump(ic->by, key);
}

static void
last_ok(void *ctx, const struct store_run *r)
{
	long long *t = ctx;
	if (*t == 0 && strcmp(r->verb, "sync") == 0 && strcmp(r->outcome, "ok") == 0)
		*t = r->finished;
}

static double
num(const json_t *o, const char *k)
{
	return json_number_value(json_object_get(o, k));
}

/* Indicators iocsync owns, by feed, type and action; returns how many. */
static double
indicators(struct strbuf *o, const char *t, struct store *st)
{
	family(o, "iocsync_indicators", "Indicators iocsync owns in MDE, by the feed that decided each.");
	struct ind_count ic = {json_object(), 0};
	store_ind_each(st, count_ind, &ic);
	const char *key;
	json_t *v;
	json_object_foreach(ic.by, key, v) {
		char buf[512];
		snprintf(buf, sizeof(buf), "%s", key);
		char *ty = strchr(buf, '\t'), *ac = ty ? strchr(ty + 1, '\t') : NULL;
		if (!ac)
			continue;
		*ty++ = '\0';
		*ac++ = '\0';
		const char *kv[] = {"feed", buf, "type", ty, "action", ac, NULL};
		sample(o, "iocsync_indicators", t, kv, (double)json_integer_value(v));
	}
	json_decref(ic.by);
	return (double)ic.n;
}

/* What counts against the cap, and the room left. */
static void
budget(struct strbuf *o, const char *t, const struct config *c, const json_t *run, double owned)
{
	/* After the run: what the state holds now, and others' as listed. */
	double others = num(run, "others");
	family(o, "iocsync_budget_used", "Indicators in the tenant counted against the cap, by owner.");
	const char *mine[] = {"owner", "iocsync", NULL}, *theirs[] = {"owner", "others", NULL};
	sample(o, "iocsync_budget_used", t, mine, owned);
	sample(o, "iocsync_budget_used", t, theirs, others);
	family(o, "iocsync_budget_free", "Room left under the cap, after the reserve.");
	double room = (double)c->cap - (double)c->reserve - owned - others;
	sample(o, "iocsync_budget_free", t, NULL, room > 0 ? room : 0);
	family(o, "iocsync_budget_cap", "The tenant's indicator cap.");
	sample(o, "iocsync_budget_cap", t, NULL, (double)c->cap);
}

/* What the last run cost and met: calls, refusals, held, over budget. */
static void
run_metrics(struct strbuf *o, const char *t, const json_t *run)
{
	const char *key;
	json_t *v;
	family(o, "iocsync_api_calls", "API calls of the last run, by endpoint and status class.");
	const json_t *status = json_object_get(run, "status");
	json_object_foreach((json_t *)status, key, v) {
		const char *cls;
		json_t *n;
		json_object_foreach(v, cls, n) {
			const char *kv[] = {"endpoint", key, "status", cls, NULL};
			sample(o, "iocsync_api_calls", t, kv, (double)json_integer_value(n));
		}
	}

	size_t i;
	family(o, "iocsync_refused", "Values MDE refused in the last run, by MDE's error code and feed.");
	json_object_foreach(json_object_get(run, "refused"), key, v) {
		json_t *byfeed = json_object(), *x, *n;
		size_t j;
		const char *fname;
		json_array_foreach(v, j, x)
			report_json_bump(byfeed, json_string_value(json_object_get(x, "feed")));
		json_object_foreach(byfeed, fname, n) {
			const char *kv[] = {"code", key, "feed", fname, NULL};
			sample(o, "iocsync_refused", t, kv, (double)json_integer_value(n));
		}
		json_decref(byfeed);
	}

	const json_t *fw = json_object_get(run, "firewall");
	if (fw) {
		family(o, "iocsync_firewall_rules",
		       "Windows Firewall rules in iocsync's Intune policies after the last push.");
		sample(o, "iocsync_firewall_rules", t, NULL, num(fw, "rules"));
		family(o, "iocsync_firewall_addresses", "Blocked IPs the last push put in those rules.");
		sample(o, "iocsync_firewall_addresses", t, NULL, num(fw, "addresses"));
		family(o, "iocsync_firewall_policies", "iocsync's Intune firewall rules policies after the last push.");
		sample(o, "iocsync_firewall_policies", t, NULL, num(fw, "policies"));
	}
	family(o, "iocsync_write_error", "1 when the last run could not write its state or log (a full disk?).");
	sample(o, "iocsync_write_error", t, NULL, json_object_get(run, "write_error") ? 1 : 0);
	family(o, "iocsync_deletions_held", "Deletions a guard (max_delete, max_shrink, a feed down or paused) held.");
	sample(o, "iocsync_deletions_held", t, NULL, num(run, "held"));
	family(o, "iocsync_over_budget", "Desired indicators that did not fit under the cap or a quota, by feed.");
	json_object_foreach(json_object_get(run, "over_by_feed"), key, v) {
		const char *kv[] = {"feed", key, NULL};
		sample(o, "iocsync_over_budget", t, kv, (double)json_integer_value(v));
	}
	size_t nover = 0;
	json_array_foreach(json_object_get(run, "conflicts"), i, v)
		nover += json_is_true(json_object_get(v, "overrides"));
	family(o, "iocsync_overrides",
	       "Values a feed blocks that another owner's Allow or Audit overrides (first 50).");
	sample(o, "iocsync_overrides", t, NULL, (double)nover);
}

/* Each feed: what it refused, whether it is up, how old its copy is. */
static void
feed_metrics(struct strbuf *o, const char *t, const struct config *c, struct store *st, const json_t *feeds,
	     long long now)
{
	const char *key;
	json_t *v;
	size_t i;
	family(o, "iocsync_rejects", "Feed entries refused in the last reading, by feed and reason.");
	json_t *f;
	json_array_foreach((json_t *)feeds, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		json_object_foreach(json_object_get(f, "rejected"), key, v) {
			const char *kv[] = {"feed", name, "reason", key, NULL};
			sample(o, "iocsync_rejects", t, kv, (double)json_integer_value(v));
		}
	}
	family(o, "iocsync_feed_up", "1 when the feed's last fetch was good, 0 when its snapshot is in use.");
	json_array_foreach((json_t *)feeds, i, f) {
		const char *kv[] = {"feed", json_string_value(json_object_get(f, "name")), NULL};
		sample(o, "iocsync_feed_up", t, kv, json_object_get(f, "error") ? 0 : 1);
	}
	family(o, "iocsync_feed_age_seconds", "Age of the feed's last good copy.");
	for (size_t k = 0; k < c->nfeeds; k++) {
		struct store_feed sf;
		if (store_feed_info(st, c->feeds[k].name, &sf) == ERR_OK && sf.last_good_at) {
			const char *kv[] = {"feed", c->feeds[k].name, NULL};
			sample(o, "iocsync_feed_age_seconds", t, kv, (double)(now - sf.last_good_at));
		}
		store_feed_clear(&sf);
	}
}

/* When runs ended and converged. */
static void
last_run(struct strbuf *o, const char *t, struct store *st, const json_t *run, long long now)
{
	long long ok = 0;
	store_runs_each(st, LIMIT_STATUS_RUNS, last_ok, &ok); /* the store keeps as many */
	const char *outcome = json_string_value(json_object_get(run, "outcome"));
	family(o, "iocsync_last_run_ok", "1 when the last run converged.");
	sample(o, "iocsync_last_run_ok", t, NULL, outcome && strcmp(outcome, "ok") == 0);
	family(o, "iocsync_last_run_timestamp_seconds", "When the last run ended.");
	sample(o, "iocsync_last_run_timestamp_seconds", t, NULL, (double)now);
	family(o, "iocsync_last_success_timestamp_seconds", "When a run last converged (0: never).");
	sample(o, "iocsync_last_success_timestamp_seconds", t, NULL, (double)ok);
	family(o, "iocsync_run_duration_seconds", "How long the last run took.");
	sample(o, "iocsync_run_duration_seconds", t, NULL, num(run, "seconds"));
}

char *
metrics_text(const struct config *c, struct store *st, const json_t *run, const json_t *feeds, long long now)
{
	struct strbuf o = {0};
	const char *t = c->tenant_name ? c->tenant_name : c->tenant_id ? c->tenant_id : "default";
	double owned = indicators(&o, t, st);
	budget(&o, t, c, run, owned);
	run_metrics(&o, t, run);
	feed_metrics(&o, t, c, st, feeds, now);
	last_run(&o, t, st, run, now);
	sb_add(&o, "", 0);
	return o.buf;
}

enum err
metrics_write(const struct config *c, struct store *st, const json_t *run, const json_t *feeds, char *why, size_t whysz)
{
	char *text = metrics_text(c, st, run, feeds, (long long)time(NULL));
	enum err rc = file_write_atomic(c->metrics_file, text, strlen(text), 0640);
	if (rc != ERR_OK)
		set_why(why, whysz, "%s: %s", c->metrics_file, strerror(errno));
	free(text);
	return rc;
}
