#include "report.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ioc.h"
#include "report_int.h"
#include "util.h"

/* ---- the document ---- */

struct tally {
	json_t *by_type, *by_action, *by_feed;
	long long total, expiring, held, now;
};

void
report_json_bump(json_t *o, const char *k)
{
	json_t *v = json_object_get(o, k);
	json_object_set_new(o, k, json_integer(v ? json_integer_value(v) + 1 : 1));
}

static void
count_row(void *ctx, const struct store_ind *r)
{
	struct tally *t = ctx;
	t->total++;
	report_json_bump(t->by_type, ioc_type_name((enum ioc_type)r->type));
	report_json_bump(t->by_action, ioc_action_name((enum ioc_action)r->action));
	const char *f = r->feeds && *r->feeds ? r->feeds : "(unknown)";
	while (*f) {
		size_t n = strcspn(f, ",");
		char name[256];
		snprintf(name, sizeof(name), "%.*s", (int)n, f);
		report_json_bump(t->by_feed, name);
		f += n + (f[n] == ',');
	}
	if (r->expires_at && r->expires_at - t->now < 86400)
		t->expiring++;
	if (r->gone_since)
		t->held++;
}

static void
run_row(void *ctx, const struct store_run *r)
{
	json_t *a = ctx, *sum = r->summary ? json_loads(r->summary, 0, NULL) : NULL;
	char ts[32];
	format_time(r->started, ts, sizeof(ts));
	json_t *x = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)r->id, "verb", r->verb, "started", ts,
			      "outcome", r->outcome);
	if (sum)
		json_object_set_new(x, "summary", sum);
	if (r->message)
		json_object_set_new(x, "message", json_string(r->message));
	json_array_append_new(a, x);
}

json_t *
report_status_doc(const struct config *c, struct store *st, int nruns, long long now)
{
	struct tally t = {json_object(), json_object(), json_object(), 0, 0, 0, now};
	json_t *runs = json_array(), *feeds = json_array();
	if (store_ind_each(st, count_row, &t) != ERR_OK || store_runs_each(st, nruns, run_row, runs) != ERR_OK) {
		json_decref(t.by_type), json_decref(t.by_action), json_decref(t.by_feed);
		json_decref(runs), json_decref(feeds);
		return NULL;
	}
	for (size_t i = 0; i < c->nfeeds; i++) {
		struct store_feed f;
		const struct feed_cfg *fc = &c->feeds[i];
		json_t *groups = json_array();
		for (size_t g = 0; g < fc->ndevice_groups; g++)
			json_array_append_new(groups, json_string(fc->device_groups[g]));
		/* what its indicators are sent with */
		json_t *x = json_pack("{s:s, s:s, s:b, s:s, s:b, s:o, s:I}", "name", fc->name, "url", fc->url,
				      "enabled", fc->enabled, "action", ioc_action_name(fc->action), "generate_alert",
				      fc->generate_alert, "device_groups", groups, "expire_after_s",
				      (json_int_t)fc->expire_after_s);
		if (store_feed_info(st, c->feeds[i].name, &f) == ERR_OK) {
			char ts[32];
			if (f.fetched_at) {
				format_time(f.fetched_at, ts, sizeof(ts));
				json_object_set_new(x, "fetched", json_string(ts));
			}
			if (f.last_good_at) {
				format_time(f.last_good_at, ts, sizeof(ts));
				json_object_set_new(x, "last_good", json_string(ts));
				json_object_set_new(x, "age_s", json_integer((json_int_t)(now - f.last_good_at)));
			}
			json_object_set_new(x, "indicators", json_integer((json_int_t)f.entries));
			if (f.last_error)
				json_object_set_new(x, "error", json_string(f.last_error));
			json_t *rep = f.report ? json_loads(f.report, 0, NULL) : NULL;
			if (rep)
				json_object_set_new(x, "report", rep);
			store_feed_clear(&f);
		}
		json_array_append_new(feeds, x);
	}
	json_t *doc = json_pack("{s:s, s:I, s:I, s:{s:I, s:o, s:o, s:o, s:I, s:I}, s:o, s:o}", "tenant",
				c->tenant_id ? c->tenant_id : "", "cap", (json_int_t)c->cap, "reserve",
				(json_int_t)c->reserve, "indicators", "total", (json_int_t)t.total, "by_type",
				t.by_type, "by_action", t.by_action, "by_feed", t.by_feed, "expiring_within_a_day",
				(json_int_t)t.expiring, "held", (json_int_t)t.held, "feeds", feeds, "runs", runs);
	if (c->tenant_name)
		json_object_set_new(doc, "tenant_name", json_string(c->tenant_name));
	report_lead_doc(doc, st, now);
	return doc;
}

/* ---- the page ---- */

void
report_esc(struct strbuf *o, const char *s)
{
	for (; s && *s; s++) {
		switch (*s) {
		case '&': sb_adds(o, "&amp;"); break;
		case '<': sb_adds(o, "&lt;"); break;
		case '>': sb_adds(o, "&gt;"); break;
		case '"': sb_adds(o, "&quot;"); break;
		case '\'': sb_adds(o, "&#39;"); break;
		default:
			if ((unsigned char)*s < 0x20 && *s != '\t' && *s != '\n')
				sb_addf(o, "&#xfffd;"); /* no control character in XML */
			else
				sb_addc(o, *s);
		}
	}
}

/* open, text escaped, close. */
void
report_tag(struct strbuf *o, const char *open, const char *text, const char *close)
{
	sb_adds(o, open);
	report_esc(o, text);
	sb_adds(o, close);
}

long long
report_ival(const json_t *o, const char *k)
{
	return (long long)json_integer_value(json_object_get(o, k));
}

const char *
report_sval(const json_t *o, const char *k)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : "";
}

static const char report_css[] =
	"body{font:14px/1.45 'DejaVu Sans',system-ui,sans-serif;color:#1d2733;background:#f3f5f8;margin:0}"
	"main{max-width:1040px;margin:0 auto;padding:24px}"
	"h1{font-size:22px;margin:0 0 4px}h2{font-size:16px;margin:0 0 12px;color:#22364d}"
	".sub{color:#5b6b7d;margin:0 0 18px}"
	"section{background:#fff;border:1px solid #dde3ea;border-radius:8px;padding:16px 20px;margin:0 0 16px}"
	"table{border-collapse:collapse;width:100%}th,td{text-align:left;padding:5px 8px;border-bottom:1px solid #edf0f4;"
	"vertical-align:top}th{font-weight:600;color:#4a5a6b;font-size:12px;text-transform:uppercase;letter-spacing:.03em}"
	"td.t{white-space:nowrap}th.n{text-align:right}td.n{text-align:right;white-space:nowrap;font-variant-numeric:tabular-nums}code{font:12px 'DejaVu Sans Mono',monospace;"
	"background:#f2f4f7;padding:1px 4px;border-radius:3px;word-break:break-all}"
	".tiles{display:flex;gap:12px;flex-wrap:wrap;margin:0 0 16px}.tile{flex:1;min-width:150px;background:#fff;"
	"border:1px solid #dde3ea;border-radius:8px;padding:12px 16px}.tile b{display:block;font-size:24px}"
	".tile span{color:#5b6b7d;font-size:12px}"
	".ok{color:#1a7f37}.warn{color:#9a6700}.bad{color:#c62828}"
	".bar{height:10px;background:#3b6fb6;border-radius:2px;min-width:1px}"
	".legend i{display:inline-block;width:10px;height:10px;border-radius:2px;margin:0 4px 0 12px}"
	".cols{display:flex;gap:16px;flex-wrap:wrap}.cols>div{flex:1;min-width:280px}"
	".muted{color:#8a97a6}";

/* A table of counts with a bar each, largest first. */
static void
count_table(struct strbuf *o, const char *title, const json_t *counts, long long total)
{
	sb_addf(o, "<div><table><tr><th>");
	report_esc(o, title);
	sb_adds(o, "</th><th class=\"n\">count</th><th style=\"width:45%\"></th></tr>");
	/* largest first: a selection sort over the keys */
	size_t n = json_object_size(counts), done = 0;
	char **shown = xcalloc(n ? n : 1, sizeof(char *));
	while (done < n) {
		const char *k, *best = NULL;
		json_t *v;
		long long bv = -1;
		json_object_foreach((json_t *)counts, k, v) {
			bool seen = false;
			for (size_t i = 0; i < done; i++)
				seen |= strcmp(shown[i], k) == 0;
			if (!seen && json_integer_value(v) > bv)
				best = k, bv = (long long)json_integer_value(v);
		}
		shown[done++] = (char *)best;
		sb_adds(o, "<tr><td>");
		report_esc(o, best);
		sb_addf(o,
			"</td><td class=\"n\">%lld</td><td><div class=\"bar\" style=\"width:%.1f%%\"></div></td></tr>",
			bv, total > 0 ? 100.0 * (double)bv / (double)total : 0);
	}
	if (n == 0)
		sb_adds(o, "<tr><td colspan=\"3\" class=\"muted\">none</td></tr>");
	sb_adds(o, "</table></div>");
	free(shown);
}

const json_t *
report_last_sync(const json_t *runs)
{
	size_t i;
	json_t *r;
	json_array_foreach((json_t *)runs, i, r)
		if (strcmp(report_sval(r, "verb"), "sync") == 0 && json_object_get(r, "summary"))
			return r;
	return NULL;
}

static void
cap_section(struct strbuf *o, const json_t *doc)
{
	const json_t *ls = report_last_sync(json_object_get(doc, "runs"));
	const json_t *sum = json_object_get(ls, "summary");
	long long cap = report_ival(doc, "cap"), reserve = report_ival(doc, "reserve");
	long long mine = report_ival(json_object_get(doc, "indicators"), "total"), others = report_ival(sum, "others");
	long long free_ = cap - reserve - mine - others;
	if (free_ < 0)
		free_ = 0;
	sb_adds(o, "<section id=\"cap\"><h2>Cap use</h2>");
	const struct {
		const char *label, *color;
		long long v;
	} seg[] = {{"iocsync's", "#3b6fb6", mine},
		   {"others'", "#8a97a6", others},
		   {"reserve", "#e0a526", reserve},
		   {"free", "#dfe7f1", free_}};
	double x = 0, W = 1000;
	sb_adds(o,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 34\" width=\"100%\" role=\"img\" "
		"aria-label=\"cap use\">");
	for (size_t i = 0; i < NELEM(seg); i++) {
		double w = cap > 0 ? W * (double)seg[i].v / (double)cap : 0;
		if (x + w > W)
			w = W - x;
		if (w > 0)
			sb_addf(o,
				"<rect x=\"%.1f\" y=\"2\" width=\"%.1f\" height=\"30\" fill=\"%s\"><title>%s: %lld</title></rect>",
				x, w, seg[i].color, seg[i].label, seg[i].v);
		x += w;
	}
	sb_adds(o, "</svg><p class=\"legend\">");
	for (size_t i = 0; i < NELEM(seg); i++)
		sb_addf(o, "<i style=\"background:%s\"></i>%s %lld", seg[i].color, seg[i].label, seg[i].v);
	sb_addf(o, " &#183; cap %lld%s</p></section>", cap,
		ls ? "" : " &#183; <span class=\"warn\">no sync yet: others' indicators unknown</span>");
}

static void
feeds_section(struct strbuf *o, const json_t *doc, long long now)
{
	(void)now;
	sb_adds(o,
		"<section id=\"feeds\"><h2>Feed health</h2><table><tr><th>feed</th><th>last fetch</th>"
		"<th>last good copy</th><th class=\"n\">age</th><th>state</th><th class=\"n\">accepted</th>"
		"<th class=\"n\">rejected</th></tr>");
	size_t i;
	json_t *f;
	json_array_foreach(json_object_get(doc, "feeds"), i, f) {
		const json_t *rep = json_object_get(f, "report");
		const char *err = json_string_value(json_object_get(f, "error"));
		long long age = report_ival(f, "age_s");
		report_tag(o, "<tr><td><b>", report_sval(f, "name"), "</b><br/>");
		report_tag(o, "<code>", report_sval(f, "url"), "</code></td>");
		report_tag(o, "<td class=\"t\">", json_object_get(f, "fetched") ? report_sval(f, "fetched") : "never",
			   "</td>");
		report_tag(o, "<td class=\"t\">",
			   json_object_get(f, "last_good") ? report_sval(f, "last_good") : "never", "");
		if (json_object_get(f, "age_s")) {
			char a[32];
			if (age < 60)
				snprintf(a, sizeof(a), "&lt; 1 min");
			else if (age < 3600)
				snprintf(a, sizeof(a), "%lld min", age / 60);
			else if (age < 86400)
				snprintf(a, sizeof(a), "%lld h %02lld min", age / 3600, age / 60 % 60);
			else
				snprintf(a, sizeof(a), "%lld d %lld h", age / 86400, age / 3600 % 24);
			sb_addf(o, "</td><td class=\"n\">%s</td><td>", a);
		} else
			sb_adds(o, "</td><td class=\"n\">&#8212;</td><td>");
		if (!json_is_true(json_object_get(f, "enabled")))
			sb_adds(o, "<span class=\"muted\">disabled</span>");
		else if (err && json_object_get(f, "last_good"))
			report_tag(o, "<span class=\"warn\">stale snapshot in use</span><br/><small>", err, "</small>");
		else if (err)
			report_tag(o, "<span class=\"bad\">down, no snapshot</span><br/><small>", err, "</small>");
		else if (json_object_get(f, "last_good"))
			sb_adds(o, "<span class=\"ok\">ok</span>");
		else
			sb_adds(o, "<span class=\"muted\">not read yet</span>");
		sb_addf(o, "</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td></tr>",
			report_ival(rep, "accepted_total"), report_ival(rep, "rejected_total"));
	}
	sb_adds(o, "</table></section>");
}

static void
rejects_section(struct strbuf *o, const json_t *doc)
{
	sb_adds(o,
		"<section id=\"rejects\"><h2>Rejected entries, by reason</h2><table><tr><th>feed</th><th>reason</th>"
		"<th class=\"n\">count</th><th>examples</th></tr>");
	size_t i, rows = 0;
	json_t *f;
	json_array_foreach(json_object_get(doc, "feeds"), i, f) {
		const json_t *rep = json_object_get(f, "report");
		const char *reason;
		json_t *n;
		json_object_foreach(json_object_get(rep, "rejected"), reason, n) {
			rows++;
			report_tag(o, "<tr><td>", report_sval(f, "name"), "</td>");
			report_tag(o, "<td>", reason, "</td>");
			sb_addf(o, "<td class=\"n\">%lld</td><td>", (long long)json_integer_value(n));
			size_t k;
			json_t *ex;
			json_array_foreach(json_object_get(json_object_get(rep, "examples"), reason), k, ex) {
				report_tag(o, "<code>", report_sval(ex, "input"), "</code> ");
				report_tag(o, "<small class=\"muted\">", report_sval(ex, "source"), ": ");
				report_tag(o, "", report_sval(ex, "why"), "</small><br/>");
			}
			sb_adds(o, "</td></tr>");
		}
	}
	if (rows == 0)
		sb_adds(o, "<tr><td colspan=\"4\" class=\"muted\">none</td></tr>");
	sb_adds(o, "</table></section>");
}

static void
conflicts_section(struct strbuf *o, const json_t *doc)
{
	const json_t *sum = json_object_get(report_last_sync(json_object_get(doc, "runs")), "summary");
	const json_t *cf = json_object_get(sum, "conflicts");
	sb_adds(o, "<section id=\"conflicts\"><h2>Conflicts, held deletions and over budget (last sync)</h2>");
	if (report_ival(sum, "held"))
		sb_addf(o,
			"<p><strong>%lld deletions held by a guard</strong> (max_delete, max_shrink, a feed down or "
			"paused): they wait for a person; everything else was applied.</p>",
			report_ival(sum, "held"));
	const char *feed;
	json_t *n;
	json_object_foreach(json_object_get(sum, "over_by_feed"), feed, n) {
		sb_addf(o, "<p>Over budget: feed ");
		report_tag(o, "<code>", feed, "</code>");
		sb_addf(o, ": %lld indicators did not fit.</p>", (long long)json_integer_value(n));
	}
	sb_adds(o,
		"<table><tr><th>kind</th><th>type</th><th>value</th><th>feed</th><th>other owner</th><th>why</th></tr>");
	size_t i;
	json_t *x;
	json_array_foreach((json_t *)cf, i, x) {
		report_tag(o, "<tr><td>", report_sval(x, "op"), "</td>");
		report_tag(o, "<td>", report_sval(x, "type"), "</td>");
		report_tag(o, "<td><code>", report_sval(x, "value"), "</code></td>");
		report_tag(o, "<td>", report_sval(x, "feed"), "</td>");
		report_tag(o, "<td>", report_sval(x, "owner"), json_object_get(x, "owner") ? ": " : "");
		report_tag(o, "", report_sval(x, "their_action"),
			   json_object_get(x, "overrides") ? " <strong>overrides the block</strong></td>" : "</td>");
		report_tag(o, "<td>", report_sval(x, "why"), "</td></tr>");
	}
	if (json_array_size(cf) == 0)
		sb_adds(o, "<tr><td colspan=\"6\" class=\"muted\">none</td></tr>");
	sb_adds(o, "</table></section>");
}

static void
runs_section(struct strbuf *o, const json_t *doc)
{
	const json_t *runs = json_object_get(doc, "runs");
	size_t n = json_array_size(runs);
	/* Each run's figures once, for the chart and the table. */
	struct fig {
		long long add, del, calls;
		double secs;
	} *fg = xcalloc(n ? n : 1, sizeof(*fg));
	long long maxv = 1, maxc = 1;
	double maxd = 1;
	for (size_t i = 0; i < n; i++) {
		const json_t *s = json_object_get(json_array_get(runs, i), "summary"), *d = json_object_get(s, "done");
		const char *k;
		json_t *v;
		fg[i].add = report_ival(d, "create") + report_ival(d, "update") + report_ival(d, "renew") +
			report_ival(d, "replace");
		fg[i].del = report_ival(d, "delete");
		json_object_foreach(json_object_get(s, "calls"), k, v)
			fg[i].calls += (long long)json_integer_value(v);
		fg[i].secs = json_number_value(json_object_get(s, "seconds"));
		maxv = fg[i].add > maxv ? fg[i].add : maxv;
		maxv = fg[i].del > maxv ? fg[i].del : maxv;
		maxc = fg[i].calls > maxc ? fg[i].calls : maxc;
		maxd = fg[i].secs > maxd ? fg[i].secs : maxd;
	}
	sb_addf(o, "<section id=\"runs\"><h2>The last %zu runs</h2>", n);
	/* Oldest on the left. Top: changes up (adds) and down (deletes);
	 * bottom: API calls as bars, the duration as a line. */
	double W = 1000, L = 50, slot = n ? (W - L - 10) / (double)n : 1, bw = slot * 0.35 > 14 ? 14 : slot * 0.35;
	sb_adds(o,
		"<svg xmlns=\"http://www.w3.org/2000/svg\" viewBox=\"0 0 1000 330\" width=\"100%\" role=\"img\" "
		"aria-label=\"runs\" font-family=\"DejaVu Sans, sans-serif\" font-size=\"11\">");
	sb_addf(o, "<text x=\"0\" y=\"14\" fill=\"#4a5a6b\">changes (adds up, deletes down; max %lld)</text>", maxv);
	sb_adds(o, "<line x1=\"50\" y1=\"100\" x2=\"990\" y2=\"100\" stroke=\"#b8c2cc\"/>");
	sb_addf(o,
		"<text x=\"0\" y=\"200\" fill=\"#4a5a6b\">API calls (bars, max %lld) and duration (line, max %.1f s)</text>",
		maxc, maxd);
	sb_adds(o, "<line x1=\"50\" y1=\"300\" x2=\"990\" y2=\"300\" stroke=\"#b8c2cc\"/>");
	struct strbuf line = {0};
	for (size_t j = 0; j < n; j++) {
		const json_t *r = json_array_get(runs, n - 1 - j);
		const struct fig *f = &fg[n - 1 - j];
		long long add = f->add, del = f->del, calls = f->calls;
		double x = L + slot * (double)j + slot / 2 - bw;
		double ha = 70.0 * (double)add / (double)maxv, hd = 70.0 * (double)del / (double)maxv;
		const char *oc = report_sval(r, "outcome");
		bool good = strcmp(oc, "ok") == 0 || strcmp(oc, "planned") == 0;
		sb_addf(o,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#2e9e5b\"><title>run %lld: +%lld</title></rect>",
			x, 100 - ha, bw, ha, report_ival(r, "id"), add);
		sb_addf(o,
			"<rect x=\"%.1f\" y=\"100\" width=\"%.1f\" height=\"%.1f\" fill=\"#d64545\"><title>run %lld: -%lld</title></rect>",
			x + bw, bw, hd, report_ival(r, "id"), del);
		double hc = 80.0 * (double)calls / (double)maxc;
		sb_addf(o,
			"<rect x=\"%.1f\" y=\"%.1f\" width=\"%.1f\" height=\"%.1f\" fill=\"#3b6fb6\" opacity=\"0.75\"><title>run %lld: %lld calls</title></rect>",
			x, 300 - hc, bw * 2, hc, report_ival(r, "id"), calls);
		sb_addf(&line, "%s%.1f,%.1f", j ? " " : "", x + bw, 300 - 80.0 * f->secs / maxd);
		sb_addf(o, "<text x=\"%.1f\" y=\"318\" text-anchor=\"middle\" fill=\"%s\">%lld</text>", x + bw,
			good ? "#5b6b7d" : "#c62828", report_ival(r, "id"));
	}
	if (line.buf)
		sb_addf(o, "<polyline points=\"%s\" fill=\"none\" stroke=\"#e0a526\" stroke-width=\"2\"/>", line.buf);
	sb_free(&line);
	sb_adds(o,
		"</svg><table><tr><th>run</th><th>started</th><th>verb</th><th>outcome</th><th class=\"n\">+</th>"
		"<th class=\"n\">&#8722;</th><th class=\"n\">failed</th><th class=\"n\">calls</th><th class=\"n\">s</th></tr>");
	for (size_t i = 0; i < n; i++) {
		const json_t *r = json_array_get(runs, i), *s = json_object_get(r, "summary");
		const char *oc = report_sval(r, "outcome");
		sb_addf(o, "<tr><td>%lld</td>", report_ival(r, "id"));
		report_tag(o, "<td class=\"t\">", report_sval(r, "started"), "</td>");
		report_tag(o, "<td>", report_sval(r, "verb"), "</td>");
		sb_addf(o, "<td class=\"%s\">", strcmp(oc, "ok") == 0 ? "ok" : strcmp(oc, "planned") == 0 ? "" : "bad");
		report_esc(o, oc);
		if (json_object_get(r, "message"))
			report_tag(o, "<br/><small>", report_sval(r, "message"), "</small>");
		sb_addf(o,
			"</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td><td class=\"n\">%lld</td>"
			"<td class=\"n\">%lld</td><td class=\"n\">%.1f</td></tr>",
			fg[i].add, fg[i].del, report_ival(s, "failed"), fg[i].calls, fg[i].secs);
	}
	free(fg);
	if (n == 0)
		sb_adds(o, "<tr><td colspan=\"9\" class=\"muted\">no run yet</td></tr>");
	sb_adds(o, "</table></section>");
}

void
report_page_open(struct strbuf *o, const char *title)
{
	sb_adds(o,
		"<!DOCTYPE html>\n<html xmlns=\"http://www.w3.org/1999/xhtml\" lang=\"en\"><head><meta "
		"charset=\"utf-8\"/><meta name=\"viewport\" content=\"width=device-width\"/><title>");
	report_esc(o, title);
	sb_adds(o, "</title><style>");
	sb_adds(o, report_css);
	sb_adds(o, "</style></head><body><main><h1>");
	report_esc(o, title);
}

char *
report_html(const struct config *c, const json_t *doc, long long now)
{
	struct strbuf o = {0};
	char ts[32];
	format_time(now, ts, sizeof(ts));
	const json_t *ind = json_object_get(doc, "indicators");
	long long total = report_ival(ind, "total");
	report_page_open(&o, "iocsync report");
	if (json_object_get(doc, "tenant_name")) {
		sb_adds(&o, ": ");
		report_esc(&o, report_sval(doc, "tenant_name"));
	}
	sb_adds(&o, "</h1><p class=\"sub\">tenant <code>");
	report_esc(&o, report_sval(doc, "tenant")[0] ? report_sval(doc, "tenant") : "(none configured)");
	sb_addf(&o, "</code> &#183; generated %s &#183; state <code>", ts);
	report_esc(&o, c->state);
	sb_adds(&o, "</code></p>");

	const json_t *ls = report_last_sync(json_object_get(doc, "runs"));
	size_t nfeeds = json_array_size(json_object_get(doc, "feeds")), stale = 0, i;
	json_t *f;
	json_array_foreach(json_object_get(doc, "feeds"), i, f)
		stale += json_object_get(f, "error") != NULL;
	sb_addf(&o, "<div class=\"tiles\"><div class=\"tile\"><b>%lld</b><span>indicators iocsync owns</span></div>",
		total);
	sb_addf(&o, "<div class=\"tile\"><b>%lld</b><span>of the cap of %lld used by all</span></div>",
		total + report_ival(json_object_get(ls, "summary"), "others"), report_ival(doc, "cap"));
	sb_addf(&o, "<div class=\"tile\"><b class=\"%s\">%zu of %zu</b><span>feeds healthy</span></div>",
		stale ? "warn" : "ok", nfeeds - stale, nfeeds);
	sb_adds(&o, "<div class=\"tile\"><b class=\"");
	sb_adds(&o, ls && strcmp(report_sval(ls, "outcome"), "ok") == 0 ? "ok" : "bad");
	sb_adds(&o, "\">");
	report_esc(&o, ls ? report_sval(ls, "outcome") : "none");
	sb_adds(&o, "</b><span>last sync ");
	report_esc(&o, ls ? report_sval(ls, "started") : "");
	sb_adds(&o, "</span></div></div>");

	cap_section(&o, doc);
	sb_adds(&o, "<section id=\"indicators\"><h2>Indicators iocsync owns</h2><div class=\"cols\">");
	count_table(&o, "feed", json_object_get(ind, "by_feed"), total);
	count_table(&o, "type", json_object_get(ind, "by_type"), total);
	count_table(&o, "action", json_object_get(ind, "by_action"), total);
	sb_addf(&o,
		"</div><p class=\"sub\">expiring within a day: %lld &#183; held after leaving their feeds: %lld</p>"
		"</section>",
		report_ival(ind, "expiring_within_a_day"), report_ival(ind, "held"));
	feeds_section(&o, doc, now);
	rejects_section(&o, doc);
	conflicts_section(&o, doc);
	report_lead_sections(&o, doc);
	runs_section(&o, doc);
	sb_adds(&o, "</main></body></html>\n");
	return o.buf;
}
