#include "sync_report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "iocsync_limits.h"
#include "log.h"
#include "util.h"

#define SHOW_PER_KIND 20 /* planned changes shown per kind without -v */

/* A conflict where another owner's Allow (or Audit) stands over a
 * value a feed blocks or warns about: MDE takes Allow over Warn over
 * Block (spec 4), so the feed's block does nothing there. */
static bool
overrides(const struct run *r, const struct op *o)
{
	const struct have *h = &r->h[o->have];
	enum ioc_action ours = r->w[o->want].action;
	return (h->action == ACT_ALLOWED || h->action == ACT_AUDIT) && ours != ACT_ALLOWED && ours != ACT_AUDIT;
}

/* Each override is a warning, in the log and on the terminal (the first
 * 20, then a count). */
void
sync_report_overrides(const struct run *r)
{
	size_t n = 0;
	for (size_t i = 0; i < r->p->n; i++) {
		const struct op *o = &r->p->ops[i];
		if (o->kind != OP_CONFLICT || o->have == OP_NONE || !overrides(r, o))
			continue;
		if (n++ < 20) {
			const struct have *h = &r->h[o->have];
			const struct want *w = &r->w[o->want];
			char vb[200], ob[120];
			log_warn("%s %s: %s by %s overrides feed %s's %s: the value is not blocked (indicator %s)",
				 ioc_type_name(w->type), echo_str(w->value, strlen(w->value), vb, sizeof(vb)),
				 ioc_action_name((enum ioc_action)h->action),
				 echo_str(h->owner, strlen(h->owner), ob, sizeof(ob)), w->feed->name,
				 ioc_action_name(w->action), h->id);
		}
	}
	if (n > 20)
		log_warn("... and %zu more values another owner's Allow or Audit overrides", n - 20);
}

json_t *
sync_report_op_json(const struct run *r, const struct op *o)
{
	json_t *j = json_pack("{s:s, s:s}", "op", plan_op_name(o->kind), "why", o->why);
	if (o->want != OP_NONE) {
		const struct want *w = &r->w[o->want];
		json_object_set_new(j, "type", json_string(ioc_type_name(w->type)));
		json_object_set_new(j, "value", json_string(w->value));
		json_object_set_new(j, "action", json_string(ioc_action_name(w->action)));
		json_object_set_new(j, "feed", json_string(w->feed->name));
		/* What MDE gets or keeps, for a reader of plan: every feed that
		 * lists it, the scope, the alert and the expiry. */
		json_t *feeds = json_array(), *groups = json_array();
		for (const char *s = w->feeds; s && *s;) {
			size_t n = strcspn(s, ",");
			json_array_append_new(feeds, json_stringn(s, n));
			s += n + (s[n] == ',');
		}
		for (size_t g = 0; g < w->feed->ndevice_groups; g++)
			json_array_append_new(groups, json_string(w->feed->device_groups[g]));
		char exp[32];
		format_time(want_expiry(w, r->now), exp, sizeof(exp));
		json_object_set_new(j, "feeds", feeds);
		json_object_set_new(j, "device_groups", groups);
		json_object_set_new(j, "generate_alert", json_boolean(w->feed->generate_alert));
		json_object_set_new(j, "expires", json_string(exp));
	} else {
		const struct have *h = &r->h[o->have];
		json_object_set_new(j, "type", json_string(h->type ? ioc_type_name(h->type) : "unknown"));
		json_object_set_new(j, "value", json_string(h->value));
		json_object_set_new(
			j, "action",
			json_string(h->action >= 0 ? ioc_action_name((enum ioc_action)h->action) : "unknown"));
	}
	if (o->have != OP_NONE)
		json_object_set_new(j, "id", json_string(r->h[o->have].id));
	if (o->kind == OP_CONFLICT && o->have != OP_NONE) {
		const struct have *h = &r->h[o->have];
		json_object_set_new(j, "owner", json_string(h->owner));
		json_object_set_new(
			j, "their_action",
			json_string(h->action >= 0 ? ioc_action_name((enum ioc_action)h->action) : "unknown"));
		if (overrides(r, o))
			json_object_set_new(j, "overrides", json_true());
	}
	return j;
}

json_t *
sync_report_counts_json(const size_t *count)
{
	json_t *j = json_object();
	for (int k = 0; k < OP__COUNT; k++)
		json_object_set_new(j, plan_op_name((enum op_kind)k), json_integer((json_int_t)count[k]));
	return j;
}

json_t *
sync_report_calls_json(const struct mde *m)
{
	const struct mde_stats *s = mde_stats(m);
	json_t *calls = json_object(), *retries = json_object();
	for (int e = 0; e < MDE_EP__COUNT; e++) {
		if (s->calls[e])
			json_object_set_new(calls, mde_ep_name((enum mde_ep)e), json_integer((json_int_t)s->calls[e]));
		if (s->retries[e])
			json_object_set_new(retries, mde_ep_name((enum mde_ep)e),
					    json_integer((json_int_t)s->retries[e]));
	}
	json_t *status = json_object();
	for (int e = 0; e < MDE_EP__COUNT; e++) {
		json_t *byc = json_object();
		for (int k = 0; k < MDE_CLASS__COUNT; k++)
			if (s->by_class[e][k])
				json_object_set_new(byc, mde_class_name((enum mde_class)k),
						    json_integer((json_int_t)s->by_class[e][k]));
		if (json_object_size(byc))
			json_object_set_new(status, mde_ep_name((enum mde_ep)e), byc);
		else
			json_decref(byc);
	}
	return json_pack("{s:o, s:o, s:o, s:f}", "calls", calls, "retries", retries, "status", status, "waited_s",
			 s->waited_s);
}

void
sync_report_print_calls(FILE *fp, const struct mde *m)
{
	const struct mde_stats *s = mde_stats(m);
	unsigned long api = 0, retries = 0, throttled = 0;
	fprintf(fp, "calls:");
	for (int e = 0; e < MDE_EP__COUNT; e++) {
		if (s->calls[e])
			fprintf(fp, " %s %lu", mde_ep_name((enum mde_ep)e), s->calls[e]);
		if (e != MDE_EP_TOKEN)
			api += s->calls[e];
		retries += s->retries[e];
		throttled += s->throttled[e];
	}
	fprintf(fp, " (API %lu, retries %lu, 429s %lu, waited %.0f s)\n", api, retries, throttled, s->waited_s);
}

/* "  feed a,b; groups all; alert no; expires 2027-01-05": what a planned
 * value is sent with. */
static void
want_attrs(const struct want *w, long long now, char *out, size_t outsz)
{
	struct strbuf g = {0};
	for (size_t k = 0; k < w->feed->ndevice_groups; k++)
		sb_addf(&g, "%s%s", k ? "," : "", w->feed->device_groups[k]);
	char exp[32];
	format_time(want_expiry(w, now), exp, sizeof(exp));
	exp[10] = '\0'; /* the day is enough here; --json has the time */
	snprintf(out, outsz, "  feed%s %s; groups %s; alert %s; expires %s", strchr(w->feeds, ',') ? "s" : "", w->feeds,
		 g.buf ? g.buf : "all", w->feed->generate_alert ? "yes" : "no", exp);
	sb_free(&g);
}

void
sync_report_print_plan(FILE *fp, const struct run *r, bool verbose)
{
	const struct plan *p = r->p;
	fprintf(fp, "MDE: %zu indicators: %zu iocsync's, %zu others'; cap %lld, reserve %lld: room for %lld\n",
		p->owned + p->others, p->owned, p->others, r->c->cap, r->c->reserve, p->room);
	fprintf(fp, "plan:");
	for (int k = 0; k < OP__COUNT; k++)
		fprintf(fp, " %s %zu%s", plan_op_name((enum op_kind)k), k == OP_DELETE ? p->deletes : p->count[k],
			k + 1 < OP__COUNT ? "," : "\n");
	for (int k = 0; k < OP_KEEP; k++) {
		size_t shown = 0, total = 0;
		for (size_t i = 0; i < p->n; i++) {
			const struct op *o = &p->ops[i];
			if ((int)o->kind != k)
				continue;
			total++;
			if (!verbose && shown >= SHOW_PER_KIND)
				continue;
			shown++;
			json_t *j = sync_report_op_json(r, o);
			char why[300];
			if (o->kind == OP_CONFLICT && o->have != OP_NONE)
				snprintf(why, sizeof(why), "%s by %s%s",
					 json_string_value(json_object_get(j, "their_action")),
					 json_string_value(json_object_get(j, "owner")),
					 json_object_get(j, "overrides") ? ": it overrides the feed's block" : "");
			else
				snprintf(why, sizeof(why), "%s", o->why);
			char attrs[600] = "";
			if (o->want != OP_NONE)
				want_attrs(&r->w[o->want], r->now, attrs, sizeof(attrs));
			fprintf(fp, "  %-11s %-21s %-17s %s%s (%s)\n", plan_op_name(o->kind),
				json_string_value(json_object_get(j, "type")),
				json_string_value(json_object_get(j, "action")),
				json_string_value(json_object_get(j, "value")), attrs, why);
			json_decref(j);
		}
		if (total > shown)
			fprintf(fp, "  ... and %zu more %s (-v shows all)\n", total - shown,
				plan_op_name((enum op_kind)k));
	}
	if (p->held)
		fprintf(fp,
			"held: %zu deletions, by a guard (listed as hold above); creates, updates and renewals "
			"go out all the same\n",
			p->held);
	for (size_t f = 0; f < r->c->nfeeds; f++)
		if (p->over_by_feed[f])
			fprintf(fp, "over budget: feed %s: %zu indicators did not fit\n", r->c->feeds[f].name,
				p->over_by_feed[f]);
}

/* The deletions a guard held, by why: logged once a run, named in the
 * run's message, and in the summary ({"held": N, "held_by": {why: n}}). */
json_t *
sync_report_held(const struct plan *p, const struct config *c, char *msg, size_t msgsz)
{
	json_t *by = json_object();
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		if (o->kind == OP_HOLD && strcmp(o->why, "left its feeds, in the grace period") != 0)
			json_object_set_new(by, o->why,
					    json_integer(json_integer_value(json_object_get(by, o->why)) + 1));
	}
	const char *why;
	json_t *n;
	json_object_foreach(by, why, n) {
		char extra[160] = "";
		if (strcmp(why, "held by max_delete") == 0)
			snprintf(extra, sizeof(extra),
				 " (the plan deletes more than max_delete = %d%% of the %zu iocsync "
				 "owns; sync --force lets them go)",
				 c->max_delete_pct, p->owned);
		log_warn("%lld deletions held: %s%s; creates, updates and renewals went out", json_integer_value(n),
			 why, extra);
	}
	if (p->held)
		snprintf(msg, msgsz, "%zu deletions held by a guard (see the log); everything else was applied",
			 p->held);
	return json_pack("{s:I, s:o}", "held", (json_int_t)p->held, "held_by", by);
}

json_t *
sync_report_summary(const struct run *r, const struct sync_report_end *e)
{
	const struct plan *p = r->p;
	json_t *sum = json_pack("{s:s, s:s, s:o, s:o, s:I, s:I, s:I, s:I, s:f}", "verb", e->verb, "outcome", e->outcome,
				"planned", sync_report_counts_json(p->count), "done", sync_report_counts_json(r->done),
				"failed", (json_int_t)r->failed, "feeds_failed", (json_int_t)e->feeds_failed, "owned",
				(json_int_t)p->owned, "others", (json_int_t)p->others, "seconds", e->secs);
	json_object_set_new(json_object_get(sum, "planned"), "delete", json_integer((json_int_t)p->deletes));
	json_object_set_new(sum, "room", json_integer((json_int_t)p->room));
	/* For the report: the first LIMIT_RUN_SUMMARY_LISTED conflicts, over-budget and held
	 * deletions each, and what did not fit by feed. */
	json_t *conf = json_array(), *over = json_object();
	size_t shown[OP__COUNT] = {0};
	for (size_t i = 0; i < p->n; i++) {
		const struct op *x = &p->ops[i];
		bool guard_hold = x->kind == OP_HOLD && strcmp(x->why, "left its feeds, in the grace period") != 0;
		if ((x->kind == OP_CONFLICT || x->kind == OP_OVER_BUDGET || guard_hold) &&
		    shown[x->kind]++ < LIMIT_RUN_SUMMARY_LISTED)
			json_array_append_new(conf, sync_report_op_json(r, x));
	}
	for (size_t f = 0; p->over_by_feed && f < r->c->nfeeds; f++)
		if (p->over_by_feed[f])
			json_object_set_new(over, r->c->feeds[f].name, json_integer((json_int_t)p->over_by_feed[f]));
	json_object_set_new(sum, "conflicts", conf);
	json_object_set_new(sum, "over_by_feed", over);
	json_object_set_new(sum, "refused", json_incref(r->refused)); /* by MDE's code, for the metrics */
	if (e->write_error)
		json_object_set_new(sum, "write_error", json_string(e->write_error));
	if (e->held)
		json_object_update(sum, e->held);
	if (e->device_groups)
		json_object_set_new(sum, "device_groups", json_incref(e->device_groups));
	json_t *cj = sync_report_calls_json(r->m);
	json_object_update(sum, cj);
	json_decref(cj);
	return sum;
}

void
sync_report_print_result(FILE *fp, const struct run *r, const struct sync_report_end *e, const json_t *sum,
			 json_t *feeds, bool json, bool quiet, bool dry_run)
{
	const struct plan *p = r->p;
	if (json) {
		json_t *doc = json_deep_copy(sum);
		json_t *ops = json_array();
		for (size_t i = 0; i < p->n; i++)
			if (p->ops[i].kind != OP_KEEP)
				json_array_append_new(ops, sync_report_op_json(r, &p->ops[i]));
		json_object_set_new(doc, "changes", ops);
		json_object_set_new(doc, "failures", json_incref(r->failures));
		json_object_set_new(doc, "feeds", feeds ? json_incref(feeds) : json_array());
		if (e->message && e->message[0])
			json_object_set_new(doc, "message", json_string(e->message));
		json_dumpf(doc, fp, JSON_INDENT(1));
		fputc('\n', fp);
		json_decref(doc);
	} else if (!dry_run && p->ops && !quiet) {
		fprintf(fp, "%s: created %zu, updated %zu, renewed %zu, replaced %zu, deleted %zu, failed %zu (%s)\n",
			e->verb, r->done[OP_CREATE], r->done[OP_UPDATE], r->done[OP_RENEW], r->done[OP_REPLACE],
			r->done[OP_DELETE], r->failed, e->outcome);
	}
	if (!json && !quiet)
		sync_report_print_calls(fp, r->m);
}
