#include "why.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "collect.h"
#include "mde.h"
#include "merge.h"
#include "model.h"
#include "pipeline.h"
#include "store.h"
#include "sync.h"
#include "util.h"

struct feed_scan {
	struct why *w;
	const struct feed_cfg *f;
	json_t *hits;
};

static void
scan_accepted(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_type t, const char *value, size_t len)
{
	struct feed_scan *fs = ctx;
	(void)c;
	if (t == fs->w->type && len == strlen(fs->w->value) && memcmp(value, fs->w->value, len) == 0)
		json_array_append_new(fs->hits, json_pack("{s:s, s:I}", "verdict", "listed", "line", (json_int_t)line));
}

/* A rejected line that is this value, in any of its forms. */
static void
scan_rejected(void *ctx, const struct pipe_cfg *c, unsigned long line, enum ioc_reason r, const char *why,
	      const char *input, size_t inlen)
{
	struct feed_scan *fs = ctx;
	(void)c;
	struct ioc *x = xmalloc(sizeof(*x));
	struct ioc_opts o = {.types = IOC_BIT(fs->w->type), .cert = fs->w->type == IOC_CERT};
	bool same = ioc_parse(input, inlen, &o, x, NULL, 0) == REJ_OK && strcmp(x->value, fs->w->value) == 0;
	free(x);
	if (!same && !(inlen == strlen(fs->w->raw) && strncasecmp(input, fs->w->raw, inlen) == 0))
		return;
	char buf[600];
	json_array_append_new(fs->hits,
			      json_pack("{s:s, s:I, s:s, s:s}", "verdict", "refused", "line", (json_int_t)line,
					"reason", ioc_reason_code(r), "why",
					echo_str(why ? why : "", why ? strlen(why) : 0, buf, sizeof(buf))));
}

/* Every feed's last good copy, parsed again, looking for the value. */
static void
scan_feeds(struct why *w, const struct config *c, struct store *st, struct policy *pol)
{
	for (size_t k = 0; k < c->nfeeds; k++) {
		const struct feed_cfg *f = &c->feeds[k];
		struct store_feed sf;
		json_t *entry = json_pack("{s:s, s:s, s:s, s:b}", "feed", f->name, "url", f->url, "action",
					  ioc_action_name(f->action), "enabled", f->enabled);
		json_array_append_new(w->feeds, entry);
		if (store_feed_get(st, f->name, &sf) != ERR_OK || sf.snapshot == NULL) {
			json_object_set_new(entry, "note", json_string("no good copy in the state yet"));
			store_feed_clear(&sf);
			continue;
		}
		struct feed_scan fs = {w, f, json_array()};
		struct feed_opts po = collect_feed_opts(f);
		struct pipe_cfg pc = collect_pipe_cfg(c, f, (uint32_t)k, pol);
		struct pipe_out out = {&fs, scan_accepted, scan_rejected};
		struct feed_stats stats = {.format = f->format};
		struct merge *m = merge_new();
		char why[256];
		(void)pipeline_run(&pc, &po, sf.snapshot, sf.snapshot_len, m, &out, &stats, why, sizeof(why));
		merge_free(m);
		json_object_set_new(entry, "lines", fs.hits);
		char ts[32];
		format_time(sf.last_good_at, ts, sizeof(ts));
		json_object_set_new(entry, "copy_of", json_string(ts));
		store_feed_clear(&sf);
	}
}

static void
state_row(void *ctx, const struct store_ind *r)
{
	struct why *w = ctx;
	if (r->value && r->type == (int)w->type && strcmp(r->value, w->value) == 0) {
		char first[32], exp[32];
		format_time(r->first_seen, first, sizeof(first));
		format_time(r->expires_at, exp, sizeof(exp));
		json_array_append_new(w->state,
				      json_pack("{s:s?, s:s, s:s, s:s, s:s, s:b}", "id", r->mde_id, "action",
						ioc_action_name((enum ioc_action)r->action), "feeds",
						r->feeds ? r->feeds : "", "first_seen", first, "expires", exp,
						"left_its_feeds", r->gone_since != 0));
	}
}

static void
history_row(void *ctx, const struct store_change *ch)
{
	struct why *w = ctx;
	char at[32];
	format_time(ch->at, at, sizeof(at));
	json_array_append_new(w->history,
			      json_pack("{s:s, s:s, s:s, s:s?, s:s?, s:s?}", "at", at, "op", ch->op, "action",
					ch->action >= 0 ? ioc_action_name((enum ioc_action)ch->action) : "", "feed",
					ch->feed, "reason", ch->reason, "id", ch->mde_id));
}

/* What MDE holds for the value: a listing filtered on it, in its form
 * and (hashes) in upper case, as some tenants normalise (spec 9). */
static enum err
ask_mde(struct why *w, const struct config *c, struct store *st, char *why, size_t whysz)
{
	struct mde *m = mde_new(c, NULL, why, whysz);
	if (m == NULL)
		return ERR_CONFIG;
	model_load_owner(m, st);
	enum err e = ERR_OK;
	for (int upper = 0; upper < 2 && e == ERR_OK; upper++) {
		char v[sizeof(w->value)];
		snprintf(v, sizeof(v), "%s", w->value);
		if (upper) {
			if (w->type < IOC_MD5)
				break;
			for (char *p = v; *p; p++)
				*p = (char)(*p >= 'a' && *p <= 'f' ? *p - 32 : *p);
		}
		json_t *out = NULL;
		long status = 0;
		e = mde_find_value(m, v, &status, &out, why, whysz);
		if (e == ERR_HTTP && status == 404)
			e = ERR_OK; /* nothing, said as some tenants say it */
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(out, "value"), i, x) {
			char idb[32];
			const char *by = json_string_value(json_object_get(x, "createdByDisplayName"));
			json_array_append_new(
				w->mde,
				json_pack("{s:s?, s:O?, s:O?, s:s?, s:b, s:O?, s:O?}", "id", mde_id(x, idb), "action",
					  json_object_get(x, "action"), "value", json_object_get(x, "indicatorValue"),
					  "owner", by ? by : json_string_value(json_object_get(x, "createdBy")),
					  "iocsync", mde_owned(m, x), "expires", json_object_get(x, "expirationTime"),
					  "groups", json_object_get(x, "rbacGroupNames")));
		}
		json_decref(out);
	}
	mde_free(m);
	return e;
}

/* One line that says it all, from what was found. */
static const char *
verdict(const struct why *w, const char *policy, bool asked)
{
	size_t i;
	json_t *x;
	bool listed = false, ours = false, blocking_other = false, allowed_other = false;
	json_array_foreach(w->feeds, i, x) {
		size_t j;
		json_t *l;
		json_array_foreach(json_object_get(x, "lines"), j, l)
			listed |= strcmp(json_string_value(json_object_get(l, "verdict")), "listed") == 0;
	}
	json_array_foreach(w->mde, i, x) {
		const char *a = json_string_value(json_object_get(x, "action"));
		bool allow = a && (strcmp(a, "Allowed") == 0 || strcmp(a, "Audit") == 0);
		if (json_is_true(json_object_get(x, "iocsync")))
			ours = true;
		else if (allow)
			allowed_other = true;
		else
			blocking_other = true;
	}
	if (policy)
		return "never sent: policy refuses it";
	if (allowed_other)
		return "not blocked: another owner's Allow or Audit is in MDE (Allow wins)";
	if (ours)
		return listed ? "in MDE by iocsync, as a feed lists it"
			      : "in MDE by iocsync, though no feed lists it now "
				"(held, or removed at the next sync)";
	if (blocking_other)
		return "in MDE by another owner";
	if (!asked)
		return listed ? "listed by a feed (MDE not asked)" : "no feed lists it (MDE not asked)";
	return listed ? "listed by a feed, not in MDE yet (the next sync sends it, or it did not fit)"
		      : "not in any feed, not in MDE";
}

int
why_gather(const struct config *c, const struct ioc *x, const char *raw, bool ask, struct why *w)
{
	int rc = EXIT_OK;
	w->raw = raw;
	w->type = x->type;
	snprintf(w->value, sizeof(w->value), "%s", x->value);
	w->feeds = json_array(), w->mde = json_array(), w->state = json_array(), w->history = json_array();
	struct policy *pol = policy_new();
	if (!collect_allowlists(c, pol))
		rc = EXIT_FAIL;
	if (policy_check(pol, x, w->policy_why, sizeof(w->policy_why)) != REJ_OK)
		w->policy = w->policy_why;
	struct store *st = sync_open_store(c, "why", false);
	if (st) {
		scan_feeds(w, c, st, pol);
		store_ind_each(st, state_row, w);
		store_history_each(st, (int)w->type, w->value, history_row, w);
	} else {
		rc = EXIT_FAIL;
	}
	if (ask && st && ask_mde(w, c, st, w->mde_error, sizeof(w->mde_error)) != ERR_OK)
		rc = EXIT_FAIL;
	w->verdict = verdict(w, w->policy, ask && !w->mde_error[0]);
	store_close(st);
	policy_free(pol);
	return rc;
}

void
why_free(struct why *w)
{
	json_decref(w->feeds), json_decref(w->mde), json_decref(w->state), json_decref(w->history);
}
