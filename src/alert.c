#include "alert.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "iocsync_limits.h"
#include "log.h"
#include "util.h"

/* The state's meta key that holds the conditions told: {key: {since, severity, summary}}. */
#define TOLD_KEY "alerts_told"

/* One condition that holds now. */
static void hold(json_t *now_set, const char *key, const char *severity, long long since, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void
hold(json_t *now_set, const char *key, const char *severity, long long since, const char *fmt, ...)
{
	char text[LIMIT_ALERT_TEXT];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	json_object_set_new(
		now_set, key,
		json_pack("{s:s, s:s, s:I}", "severity", severity, "summary", text, "since", (json_int_t)since));
}

static const char *
str_or(const json_t *o, const char *k, const char *dflt)
{
	const char *s = json_string_value(json_object_get(o, k));
	return s ? s : dflt;
}

static void
last_ok_run(void *ctx, const struct store_run *r)
{
	long long *t = ctx;
	if (t[0] == 0 && strcmp(r->verb, "sync") == 0 && strcmp(r->outcome, "ok") == 0)
		t[0] = r->finished;
	if (t[1] == 0 || (r->started && r->started < t[1]))
		t[1] = r->started; /* the oldest run kept */
}

/* The conditions a finished sync leaves holding. */
static json_t *
conditions(const struct config *c, struct store *st, const json_t *sum, const json_t *feeds, const char *message,
	   long long now)
{
	json_t *set = json_object();
	const char *outcome = json_string_value(json_object_get(sum, "outcome"));
	if (outcome == NULL)
		outcome = "failed";
	bool converged = strcmp(outcome, "ok") == 0 || strcmp(outcome, "held") == 0;
	if (!converged)
		hold(set, "run-failed", "critical", now, "the sync did not converge (%s)%s%s", outcome,
		     message && message[0] ? ": " : "", message ? message : "");

	json_int_t held = json_integer_value(json_object_get(sum, "held"));
	if (held > 0)
		hold(set, "deletions-held", "warning", now,
		     "%lld deletions held by a guard (max_delete, max_shrink, a feed down or paused); every block "
		     "still went out. Read iocsync plan; iocsync sync --force lets them go",
		     (long long)held);

	size_t i;
	json_t *f;
	json_array_foreach((json_t *)feeds, i, f) {
		const char *name = json_string_value(json_object_get(f, "name"));
		if (name == NULL || json_object_get(f, "error") == NULL)
			continue;
		struct store_feed sf;
		long long good = 0;
		if (store_feed_info(st, name, &sf) == ERR_OK)
			good = sf.last_good_at;
		store_feed_clear(&sf);
		if (good && now - good > c->feed_stale_after_s) {
			char key[LIMIT_ALERT_KEY];
			snprintf(key, sizeof(key), "feed-stale:%s", name);
			hold(set, key, "warning", good,
			     "feed %s has been down for %lld hours (its last good copy is in use, "
			     "its deletions held)",
			     name, (now - good) / 3600);
		}
	}

	long long runs[2] = {0, 0}; /* last converged, oldest kept */
	store_runs_each(st, LIMIT_STATUS_RUNS, last_ok_run, runs);
	long long stale = c->stale_after_s ? c->stale_after_s : 2 * c->interval_s;
	long long since = runs[0] ? runs[0] : runs[1];
	if (strcmp(outcome, "ok") != 0 && since && now - since > stale)
		hold(set, "no-success", "critical", since, "no sync has converged for %lld hours%s",
		     (now - since) / 3600, runs[0] ? "" : " (none has yet)");

	json_t *x;
	json_array_foreach(json_object_get(sum, "conflicts"), i, x) {
		if (!json_is_true(json_object_get(x, "overrides")))
			continue;
		char key[LIMIT_ALERT_KEY];
		snprintf(key, sizeof(key), "override:%s:%s", str_or(x, "type", ""), str_or(x, "value", ""));
		hold(set, key, "warning", now, "%s %s: %s's %s overrides feed %s's block (iocsync never touches it)",
		     str_or(x, "type", "?"), str_or(x, "value", "?"), str_or(x, "owner", "another owner"),
		     str_or(x, "their_action", "Allow"), str_or(x, "feed", "?"));
	}
	return set;
}

static const char *
tenant_label(const struct config *c)
{
	return c->tenant_name ? c->tenant_name : c->tenant_id ? c->tenant_id : "default";
}

/* One line of text per alert, for Teams and Slack. */
static char *
lines(const struct config *c, const json_t *alerts, const char *host)
{
	struct strbuf s = {0};
	size_t i, firing = 0;
	json_t *a;
	json_array_foreach((json_t *)alerts, i, a)
		firing += strcmp(json_string_value(json_object_get(a, "state")), "firing") == 0;
	sb_addf(&s, "iocsync on %s, tenant %s: %zu alert%s, %zu resolved", host, tenant_label(c), firing,
		firing == 1 ? "" : "s", json_array_size(alerts) - firing);
	json_array_foreach((json_t *)alerts, i, a) {
		sb_addf(&s, "\n- [%s] %s: %s", json_string_value(json_object_get(a, "state")),
			json_string_value(json_object_get(a, "severity")),
			json_string_value(json_object_get(a, "summary")));
	}
	return s.buf;
}

char *
alert_payload(const struct config *c, const json_t *alerts, const char *host)
{
	json_t *doc;
	if (c->alert_format == ALERT_GENERIC) {
		doc = json_pack("{s:s, s:s, s:s, s:s, s:s?, s:O}", "source", "iocsync", "version", IOCSYNC_VERSION,
				"host", host, "tenant", tenant_label(c), "tenant_id", c->tenant_id, "alerts", alerts);
	} else {
		char *text = lines(c, alerts, host);
		if (c->alert_format == ALERT_SLACK) {
			/* Slack's incoming webhooks take {"text": ...}. */
			doc = json_pack("{s:s}", "text", text);
		} else {
			/* Teams (Incoming Webhook and Workflows): a message
			 * with one Adaptive Card attachment (msteams-docs,
			 * add-incoming-webhook.md, "Send Adaptive Cards"). */
			json_t *card =
				json_pack("{s:s, s:s, s:s, s:[{s:s, s:s, s:b}]}", "$schema",
					  "http://adaptivecards.io/schemas/adaptive-card.json", "type", "AdaptiveCard",
					  "version", "1.4", "body", "type", "TextBlock", "text", text, "wrap", 1);
			doc = json_pack("{s:s, s:[{s:s, s:n, s:o}]}", "type", "message", "attachments", "contentType",
					"application/vnd.microsoft.card.adaptive", "contentUrl", "content", card);
		}
		free(text);
	}
	char *body = json_dumps(doc, JSON_COMPACT);
	json_decref(doc);
	return body;
}

/* The webhook URL, from the configuration or its file; NULL with why. */
static char *
webhook_url(const struct config *c, char *why, size_t whysz)
{
	if (c->alert_webhook)
		return xstrdup(c->alert_webhook);
	char *text = NULL;
	size_t len;
	if (file_read(c->alert_webhook_file, 64 * 1024, &text, &len) != ERR_OK) {
		snprintf(why, whysz, "webhook_file %s: cannot be read", c->alert_webhook_file);
		return NULL;
	}
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r' || text[len - 1] == ' '))
		text[--len] = '\0';
	char uwhy[300];
	if (!http_url_ok(text, true, uwhy, sizeof(uwhy))) {
		snprintf(why, whysz, "webhook_file %s: not an https:// URL (http:// to loopback only); not shown",
			 c->alert_webhook_file);
		explicit_bzero(text, len);
		free(text);
		return NULL;
	}
	return text;
}

/* Posts body to the webhook, retrying what may pass on a second try. */
static enum err
post(const struct config *c, const char *body, char *why, size_t whysz)
{
	char *url = webhook_url(c, why, whysz);
	if (url == NULL)
		return ERR_CONFIG;
	struct url_parts u;
	char origin[sizeof(u.origin)] = "the webhook";
	if (http_url_parts(url, &u, why, whysz))
		snprintf(origin, sizeof(origin), "%s", u.origin);
	struct http_opts ho = {.ca_file = c->ca_file,
			       .proxy = c->proxy,
			       .user_agent = c->user_agent,
			       .connect_timeout_s = c->alert_timeout_s < 15 ? c->alert_timeout_s : 15,
			       .timeout_s = c->alert_timeout_s,
			       .max_body = 64 * 1024};
	struct http *h = http_new(&ho);
	static const char *const headers[] = {"Content-Type: application/json", NULL};
	enum err rc = ERR_NET;
	for (int attempt = 0; attempt < LIMIT_ALERT_ATTEMPTS; attempt++) {
		if (attempt)
			sleep(1u << attempt); /* 2 s, 4 s */
		struct http_reply r;
		enum err e = http_send(h, "POST", url, headers, body, strlen(body), &r);
		long status = r.status;
		bool sent_ok = e == ERR_OK && status >= 200 && status < 300;
		bool again = e != ERR_OK ? r.fail != HTTP_FAIL_TLS : status == 408 || status == 429 || status >= 500;
		if (!sent_ok) /* the origin and the status only: the URL may hold a token */
			snprintf(why, whysz, "%s: %s", origin,
				 e != ERR_OK                             ? "no answer (connection, timeout or TLS)"
					 : status >= 300 && status < 400 ? "a redirect (not followed)"
									 : "refused");
		if (!sent_ok && e == ERR_OK)
			snprintf(why + strlen(why), whysz - strlen(why), " (HTTP %ld)", status);
		http_reply_free(&r);
		if (sent_ok) {
			rc = ERR_OK;
			break;
		}
		if (!again)
			break;
	}
	http_free(h);
	explicit_bzero(url, strlen(url));
	free(url);
	return rc;
}

static void
hostname(char *out, size_t n)
{
	if (gethostname(out, n) != 0 || out[0] == '\0')
		snprintf(out, n, "%s", "unknown host");
	out[n - 1] = '\0';
}

/* Posts alerts and, once the webhook took them, records told as the
 * conditions told from now on. */
static enum err
post_and_record(const struct config *c, struct store *st, json_t *alerts, json_t *told, char *why, size_t whysz)
{
	char host[256];
	hostname(host, sizeof(host));
	char *body = alert_payload(c, alerts, host);
	enum err rc = post(c, body, why, whysz);
	free(body);
	if (rc == ERR_OK && st) {
		char *text = json_dumps(told, JSON_COMPACT | JSON_SORT_KEYS);
		store_meta_set(st, TOLD_KEY, text);
		free(text);
	}
	return rc;
}

static json_t *
told_read(struct store *st)
{
	char *text = st ? store_meta_get(st, TOLD_KEY) : NULL;
	json_t *told = text ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
	free(text);
	if (!json_is_object(told)) {
		json_decref(told);
		told = json_object();
	}
	return told;
}

static void
add_alert(json_t *alerts, const char *key, const char *state, const json_t *cond)
{
	json_array_append_new(alerts,
			      json_pack("{s:s, s:s, s:O, s:O, s:O}", "key", key, "state", state, "severity",
					json_object_get(cond, "severity"), "summary", json_object_get(cond, "summary"),
					"since", json_object_get(cond, "since")));
}

void
alert_after_run(const struct config *c, struct store *st, const json_t *sum, const json_t *feeds, const char *message,
		long long now)
{
	if (c->alert_webhook == NULL && c->alert_webhook_file == NULL)
		return;
	json_t *active = conditions(c, st, sum, feeds, message, now);
	json_t *told = told_read(st), *alerts = json_array(), *next = json_object();
	const char *outcome = json_string_value(json_object_get(sum, "outcome"));
	bool converged = outcome && (strcmp(outcome, "ok") == 0 || strcmp(outcome, "held") == 0);
	const char *key;
	json_t *v;
	json_object_foreach(active, key, v) {
		json_t *was = json_object_get(told, key);
		json_object_set(next, key, was ? was : v);
		if (!was)
			add_alert(alerts, key, "firing", v);
	}
	json_object_foreach(told, key, v) {
		/* a failed unit (iocsync alert) clears with the next converged run */
		bool unit = strncmp(key, "unit-failed:", 12) == 0;
		if (json_object_get(active, key))
			continue;
		if (unit && !converged)
			json_object_set(next, key, v);
		else
			add_alert(alerts, key, "resolved", v);
	}
	if (json_array_size(alerts)) {
		char why[400] = "";
		if (post_and_record(c, st, alerts, next, why, sizeof(why)) == ERR_OK)
			log_info("alert: %zu posted to the webhook", json_array_size(alerts));
		else
			log_error("alert: %zu not posted, tried again next run: %s", json_array_size(alerts), why);
	}
	json_decref(next);
	json_decref(alerts);
	json_decref(told);
	json_decref(active);
}

enum err
alert_post_one(const struct config *c, struct store *st, const char *key, const char *severity, const char *summary,
	       long long now, char *why, size_t whysz)
{
	if (c->alert_webhook == NULL && c->alert_webhook_file == NULL) {
		snprintf(why, whysz, "no [alert] webhook or webhook_file in the configuration");
		return ERR_CONFIG;
	}
	json_t *told = told_read(st);
	if (json_object_get(told, key)) {
		json_decref(told);
		snprintf(why, whysz, "%s: told already, not cleared since", key);
		return ERR_EMPTY;
	}
	json_t *cond = json_pack("{s:s, s:s, s:I}", "severity", severity, "summary", summary, "since", (json_int_t)now);
	json_t *alerts = json_array();
	add_alert(alerts, key, "firing", cond);
	if (strcmp(key, "test") != 0)
		json_object_set(told, key, cond);
	enum err rc = post_and_record(c, strcmp(key, "test") ? st : NULL, alerts, told, why, whysz);
	json_decref(alerts);
	json_decref(cond);
	json_decref(told);
	return rc;
}
