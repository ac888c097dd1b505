/* What a team lead reads (report.h, report_int.h): whether the blocks are
 * enforced where they are scoped (doctor's last reading, kept in the
 * state), what changed over the last 7 and 30 days, and for a provider
 * every tenant on one page and in one table. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioc.h"
#include "report.h"
#include "report_int.h"

#define RECENT_CHANGES 25 /* listed on the page; the counts cover every one */

/* ---- the document ---- */

static void
count_op(void *ctx, const char *op, long long n)
{
	json_object_set_new(ctx, op, json_integer((json_int_t)n));
}

static void
recent_row(void *ctx, const struct store_change *c)
{
	char ts[32];
	format_time(c->at, ts, sizeof(ts));
	json_array_append_new(ctx,
			      json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "at", ts, "op", c->op, "type",
					ioc_type_name((enum ioc_type)c->type), "value", c->value, "feed",
					c->feed ? c->feed : "", "reason", c->reason));
}

void
report_lead_doc(json_t *doc, struct store *st, long long now)
{
	json_t *d7 = json_object(), *d30 = json_object(), *recent = json_array();
	store_history_counts(st, now - 7 * 86400, count_op, d7);
	store_history_counts(st, now - 30 * 86400, count_op, d30);
	store_history_recent(st, now - 30 * 86400, RECENT_CHANGES, recent_row, recent);
	json_object_set_new(doc, "changes",
			    json_pack("{s:o, s:o, s:o}", "last_7_days", d7, "last_30_days", d30, "recent", recent));
	char *text = store_meta_get(st, REPORT_DOCTOR_KEY);
	json_t *dr = text ? json_loads(text, 0, NULL) : NULL;
	free(text);
	if (json_is_object(dr))
		json_object_set_new(doc, "doctor", dr);
	else
		json_decref(dr);
}

/* ---- a tenant's page ---- */

/* Doctor's checks of device groups and network protection, by group,
 * and the tenant-wide settings no API shows. */
static void
enforcement_section(struct strbuf *o, const json_t *doc)
{
	const json_t *dr = json_object_get(doc, "doctor");
	report_tag(o, "<section id=\"enforcement\"><h2>Enforcement", "", "</h2>");
	if (dr == NULL) {
		report_tag(o, "<p class=\"muted\">",
			   "No reading yet: iocsync doctor checks the device groups and "
			   "network protection, and keeps what it saw here.",
			   "</p></section>");
		return;
	}
	report_tag(o, "<p class=\"sub\">as iocsync doctor saw it at ", report_sval(dr, "at"),
		   " (run it again to refresh)</p>");
	sb_adds(o, "<table><tr><th>check</th><th>verdict</th><th>what it saw</th><th>what to do</th></tr>");
	size_t i, rows = 0;
	json_t *x;
	json_array_foreach(json_object_get(dr, "checks"), i, x) {
		const char *check = report_sval(x, "check"), *v = report_sval(x, "verdict");
		/* enforcement only: groups, network protection, the settings */
		if (strncmp(check, "device group", 12) != 0 && strncmp(check, "network protection", 18) != 0 &&
		    strcmp(check, "custom network indicators") != 0 && strcmp(check, "allow or block file") != 0 &&
		    strcmp(check, "TCP only") != 0)
			continue;
		rows++;
		report_tag(o, "<tr><td>", check, "</td>");
		sb_addf(o, "<td class=\"%s\">",
			strcmp(v, "OK") == 0             ? "ok"
				: strcmp(v, "FAIL") == 0 ? "bad"
				: strcmp(v, "WARN") == 0 ? "warn"
							 : "muted");
		report_esc(o, v);
		report_tag(o, "</td><td>", report_sval(x, "detail"), "</td>");
		report_tag(o, "<td>", report_sval(x, "advice"), "</td></tr>");
	}
	if (rows == 0)
		sb_adds(o, "<tr><td colspan=\"4\" class=\"muted\">doctor saw no device group</td></tr>");
	sb_adds(o, "</table></section>");
}

static void
changes_section(struct strbuf *o, const json_t *doc)
{
	static const char *const ops[] = {"create", "update", "renew", "replace", "delete", "hold", "failed"};
	const json_t *ch = json_object_get(doc, "changes");
	sb_adds(o, "<section id=\"changes\"><h2>What changed</h2><table><tr><th></th>");
	for (size_t k = 0; k < NELEM(ops); k++)
		report_tag(o, "<th class=\"n\">", ops[k], "</th>");
	sb_adds(o, "</tr>");
	static const char *const windows[][2] = {{"last_7_days", "last 7 days"}, {"last_30_days", "last 30 days"}};
	for (size_t w = 0; w < 2; w++) {
		const json_t *counts = json_object_get(ch, windows[w][0]);
		report_tag(o, "<tr><td>", windows[w][1], "</td>");
		for (size_t k = 0; k < NELEM(ops); k++)
			sb_addf(o, "<td class=\"n\">%lld</td>", report_ival(counts, ops[k]));
		sb_adds(o, "</tr>");
	}
	sb_adds(o, "</table><table><tr><th>when</th><th>change</th><th>type</th><th>value</th><th>feed</th></tr>");
	size_t i;
	json_t *x;
	json_array_foreach(json_object_get(ch, "recent"), i, x) {
		report_tag(o, "<tr><td class=\"t\">", report_sval(x, "at"), "</td>");
		report_tag(o, "<td>", report_sval(x, "op"), "</td>");
		report_tag(o, "<td>", report_sval(x, "type"), "</td>");
		report_tag(o, "<td><code>", report_sval(x, "value"), "</code></td>");
		report_tag(o, "<td>", report_sval(x, "feed"), "</td></tr>");
	}
	if (json_array_size(json_object_get(ch, "recent")) == 0)
		sb_adds(o, "<tr><td colspan=\"5\" class=\"muted\">no change in 30 days</td></tr>");
	sb_adds(o, "</table></section>");
}

void
report_lead_sections(struct strbuf *o, const json_t *doc)
{
	enforcement_section(o, doc);
	changes_section(o, doc);
}

/* ---- every tenant ---- */

static long long
pending(const json_t *sum, bool done_counts)
{
	static const char *const ops[] = {"create", "update", "renew", "replace", "delete"};
	const json_t *planned = json_object_get(sum, "planned"), *done = json_object_get(sum, "done");
	long long n = report_ival(sum, "held");
	for (size_t k = 0; k < NELEM(ops); k++) {
		long long left = report_ival(planned, ops[k]) - (done_counts ? report_ival(done, ops[k]) : 0);
		n += left > 0 ? left : 0;
	}
	return n;
}

json_t *
report_tenant_row(const struct config *t, const json_t *doc)
{
	json_t *row = json_pack("{s:s, s:s}", "tenant", t->tenant_name ? t->tenant_name : "default", "tenant_id",
				t->tenant_id ? t->tenant_id : "");
	if (doc == NULL) {
		json_object_set_new(row, "error", json_string("its state cannot be read (no run yet?)"));
		return row;
	}
	const json_t *runs = json_object_get(doc, "runs"), *latest = NULL, *last_ok = NULL;
	size_t i;
	json_t *r;
	json_array_foreach((json_t *)runs, i, r) {
		const char *verb = report_sval(r, "verb");
		bool counts = strcmp(verb, "sync") == 0 || strcmp(verb, "plan") == 0;
		if (latest == NULL && counts && json_object_get(r, "summary"))
			latest = r;
		if (last_ok == NULL && strcmp(verb, "sync") == 0 && strcmp(report_sval(r, "outcome"), "ok") == 0)
			last_ok = r;
	}
	const json_t *sum = json_object_get(latest, "summary");
	size_t conflicts = 0, overrides = 0, down = 0;
	json_t *x;
	json_array_foreach(json_object_get(json_object_get(report_last_sync(runs), "summary"), "conflicts"), i, x) {
		conflicts += strcmp(report_sval(x, "op"), "conflict") == 0;
		overrides += json_is_true(json_object_get(x, "overrides"));
	}
	json_array_foreach(json_object_get(doc, "feeds"), i, x)
		down += json_object_get(x, "error") != NULL;
	json_object_set_new(row, "owned", json_integer(report_ival(json_object_get(doc, "indicators"), "total")));
	json_object_set_new(row, "drift",
			    latest ? json_integer(pending(sum, strcmp(report_sval(latest, "verb"), "sync") == 0))
				   : json_null());
	json_object_set_new(row, "last_run", latest ? json_string(report_sval(latest, "started")) : json_null());
	json_object_set_new(row, "last_outcome", latest ? json_string(report_sval(latest, "outcome")) : json_null());
	json_object_set_new(row, "last_success", last_ok ? json_string(report_sval(last_ok, "started")) : json_null());
	json_object_set_new(row, "conflicts", json_integer((json_int_t)conflicts));
	json_object_set_new(row, "overrides", json_integer((json_int_t)overrides));
	json_object_set_new(row, "held", json_integer(report_ival(sum, "held")));
	json_object_set_new(row, "feeds_down", json_integer((json_int_t)down));
	return row;
}

/* A row's drift for people: a number, or why there is none. */
static void
drift_text(const json_t *row, char *out, size_t outsz)
{
	if (json_object_get(row, "error"))
		snprintf(out, outsz, "unknown");
	else if (json_is_null(json_object_get(row, "drift")))
		snprintf(out, outsz, "no run");
	else
		snprintf(out, outsz, "%lld", report_ival(row, "drift"));
}

char *
report_tenants_html(const json_t *rows, long long now)
{
	struct strbuf o = {0};
	char ts[32];
	format_time(now, ts, sizeof(ts));
	size_t n = json_array_size(rows), drifting = 0, i;
	json_t *r;
	json_array_foreach((json_t *)rows, i, r)
		drifting += report_ival(r, "drift") > 0 || json_object_get(r, "error") != NULL;
	report_page_open(&o, "iocsync: every tenant");
	sb_addf(&o, "</h1><p class=\"sub\">generated %s &#183; from each tenant's state, without calling MDE</p>", ts);
	sb_addf(&o,
		"<div class=\"tiles\"><div class=\"tile\"><b>%zu</b><span>tenants</span></div><div class=\"tile\"><b "
		"class=\"%s\">%zu</b><span>with drift (changes pending)</span></div></div>",
		n, drifting ? "warn" : "ok", drifting);
	sb_adds(&o,
		"<section id=\"tenants\"><h2>Tenants</h2><table><tr><th>tenant</th><th class=\"n\">owned</th>"
		"<th class=\"n\">drift</th><th>last run</th><th>last success</th><th class=\"n\">conflicts</th>"
		"<th class=\"n\">overrides</th><th class=\"n\">feeds down</th></tr>");
	json_array_foreach((json_t *)rows, i, r) {
		char drift[32];
		drift_text(r, drift, sizeof(drift));
		report_tag(&o, "<tr><td>", report_sval(r, "tenant"), "<br/><small class=\"muted\">");
		report_tag(&o, "", report_sval(r, "tenant_id"), "</small></td>");
		sb_addf(&o, "<td class=\"n\">%lld</td><td class=\"n %s\">", report_ival(r, "owned"),
			strcmp(drift, "0") == 0 ? "ok" : "warn");
		report_esc(&o, drift);
		const char *oc = report_sval(r, "last_outcome");
		report_tag(&o, "</td><td class=\"t\">", report_sval(r, "last_run"), " ");
		report_tag(&o,
			   strcmp(oc, "ok") == 0 || strcmp(oc, "planned") == 0 ? "<span class=\"ok\">"
									       : "<span class=\"bad\">",
			   json_object_get(r, "error") ? report_sval(r, "error") : oc, "</span></td>");
		report_tag(&o, "<td class=\"t\">",
			   json_is_string(json_object_get(r, "last_success")) ? report_sval(r, "last_success")
									      : "never",
			   "</td>");
		sb_addf(&o, "<td class=\"n\">%lld</td><td class=\"n %s\">%lld</td><td class=\"n %s\">%lld</td></tr>",
			report_ival(r, "conflicts"), report_ival(r, "overrides") ? "bad" : "",
			report_ival(r, "overrides"), report_ival(r, "feeds_down") ? "warn" : "",
			report_ival(r, "feeds_down"));
	}
	if (n == 0)
		sb_adds(&o, "<tr><td colspan=\"8\" class=\"muted\">no tenant</td></tr>");
	sb_adds(&o,
		"</table><p class=\"sub\">drift: what the last plan or sync left to do, held deletions included; "
		"iocsync -t NAME report --html FILE has a tenant's own page.</p></section></main></body></html>\n");
	return o.buf;
}

void
report_tenants_print(FILE *fp, const json_t *rows)
{
	size_t i;
	json_t *r;
	fprintf(fp, "%-20s %8s %8s  %-20s  %-20s %9s %9s %10s\n", "tenant", "owned", "drift", "last run",
		"last success", "conflicts", "overrides", "feeds down");
	json_array_foreach((json_t *)rows, i, r) {
		char drift[32];
		drift_text(r, drift, sizeof(drift));
		const char *last = report_sval(r, "last_run"), *ok = report_sval(r, "last_success");
		fprintf(fp, "%-20s %8lld %8s  %-20s  %-20s %9lld %9lld %10lld%s%s\n", report_sval(r, "tenant"),
			report_ival(r, "owned"), drift, *last ? last : "never", *ok ? ok : "never",
			report_ival(r, "conflicts"), report_ival(r, "overrides"), report_ival(r, "feeds_down"),
			json_object_get(r, "error") ? "  " : "", report_sval(r, "error"));
	}
}
