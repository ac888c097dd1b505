#include "apply.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "iocsync_limits.h"
#include "log.h"
#include "model.h"
#include "progress.h"
#include "signals.h"
#include "strset.h"
#include "util.h"

const char *
want_id(const struct run *r, size_t i)
{
	return r->ids.at && r->ids.at[i] ? r->ids.text.buf + r->ids.at[i] - 1 : NULL;
}

static void
want_id_set(struct run *r, size_t i, const char *id)
{
	r->ids.at[i] = (uint32_t)r->ids.text.len + 1;
	sb_add(&r->ids.text, id, strlen(id) + 1);
}

void
want_ids_free(struct want_ids *ids)
{
	free(ids->at);
	sb_free(&ids->text);
	*ids = (struct want_ids){0};
}

static void
journal(struct run *r, int seq, const char *step, size_t items, const char *state, const char *detail)
{
	if (store_journal(r->st, r->id, seq, step, (long long)items, state, detail, (long long)time(NULL)) != ERR_OK)
		log_warn("state: cannot record step %s", step);
}

static void
fail_item(struct run *r, const char *op, enum ioc_type t, const char *value, const char *reason)
{
	r->failed++;
	if (json_array_size(r->failures) < LIMIT_RUN_FAILURES_LISTED)
		json_array_append_new(r->failures,
				      json_pack("{s:s, s:s, s:s, s:s}", "op", op, "type", ioc_type_name(t), "value",
						value, "reason", reason));
	char vb[200], rb[400];
	log_warn("%s %s %s failed: %s", op, ioc_type_name(t), echo_str(value, strlen(value), vb, sizeof(vb)),
		 echo_str(reason, strlen(reason), rb, sizeof(rb)));
}

/* MDE's error code in a reason: "InvalidInput: ..." (an item's
 * failureReason) or "... HTTP 400 InvalidInput: ..." (a refused
 * request). Letters and digits only, at most 40; "unknown" otherwise. */
static void
reason_code(const char *reason, char *out, size_t outsz)
{
	const char *p = reason ? strstr(reason, "HTTP 400 ") : NULL;
	p = p ? p + 9 : reason ? reason : "";
	size_t n = 0;
	while (n + 1 < outsz && n < 40 && is_alnum((unsigned char)p[n]))
		n++;
	if (n == 0 || (p[n] != ':' && p[n] != '\0'))
		snprintf(out, outsz, "unknown");
	else
		snprintf(out, outsz, "%.*s", (int)n, p);
}

/* A value MDE refused (an item failed for a reason that will not pass,
 * or a request of one item refused whole): named with MDE's reason in
 * the output and the log, and counted by code for the metrics. */
static void
refuse_item(struct run *r, const struct op *o, const char *reason)
{
	const struct want *w = &r->w[o->want];
	char code[48];
	reason_code(reason, code, sizeof(code));
	fail_item(r, plan_op_name(o->kind), w->type, w->value, reason);
	json_object_set_new(json_array_get(r->failures, json_array_size(r->failures) - 1), "code", json_string(code));
	json_t *by = json_object_get(r->refused, code);
	if (by == NULL && json_object_size(r->refused) < LIMIT_RUN_REFUSED_CODES)
		json_object_set_new(r->refused, code, by = json_array());
	if (by && json_array_size(by) < LIMIT_RUN_REFUSED_PER_CODE)
		json_array_append_new(by,
				      json_pack("{s:s, s:s, s:s}", "type", ioc_type_name(w->type), "value", w->value,
						"feed", w->feed->name));
}

/* A stop was asked for: what was not sent is not a failure; the next run
 * lists MDE again and does the rest. */
static void
stopped(struct run *r)
{
	if (r->stopped)
		return;
	r->stopped = r->aborted = true;
	snprintf(r->why, sizeof(r->why), "stopped on %s after the batch in flight; the next run does the rest",
		 signals_stop_name());
}

size_t
apply_delete_ids(struct mde *m, struct store *st, long long run, int *seq, const char *const *ids, size_t n, bool *gone,
		 char *why, size_t whysz)
{
	size_t left = 0;
	for (size_t b = 0; b < n; b += LIMIT_MDE_BATCH) {
		size_t k = n - b < LIMIT_MDE_BATCH ? n - b : LIMIT_MDE_BATCH;
		if (signals_stop_requested()) {
			set_why(why, whysz, "stopped on %s before this batch", signals_stop_name());
			left += n - b;
			break;
		}
		progress_step("delete batch", b / LIMIT_MDE_BATCH + 1, (n + LIMIT_MDE_BATCH - 1) / LIMIT_MDE_BATCH);
		int s = ++*seq;
		if (st)
			store_journal(st, run, s, "batchdelete", (long long)k, "sent", NULL, (long long)time(NULL));
		long status = 0;
		enum err e = mde_batch_delete(m, ids + b, k, &status, why, whysz);
		if (e == ERR_HTTP && status == 404) {
			/* Some id is gone already and nothing was deleted
			 * (spec 8): list again, retry with those that remain. */
			json_t *all;
			char w2[256];
			if (mde_list_all(m, &all, w2, sizeof(w2)) == ERR_OK) {
				struct strset *live = strset_new();
				size_t i;
				json_t *x;
				json_array_foreach(all, i, x) {
					char idb[32];
					const char *s2 = mde_id(x, idb);
					if (s2)
						strset_add(live, s2, strlen(s2), 1);
				}
				json_decref(all);
				const char **rest = xcalloc(k, sizeof(*rest));
				size_t nr = 0;
				for (size_t i2 = 0; i2 < k; i2++) {
					if (strset_get(live, ids[b + i2], strlen(ids[b + i2])) >= 0)
						rest[nr++] = ids[b + i2];
					else if (gone)
						gone[b + i2] = true;
				}
				e = nr ? mde_batch_delete(m, rest, nr, &status, why, whysz) : ERR_OK;
				if (e == ERR_OK && gone)
					for (size_t i2 = 0; i2 < k; i2++)
						gone[b + i2] = true;
				if (e != ERR_OK)
					left += nr;
				free(rest);
				strset_free(live);
			} else {
				set_why(why, whysz, "%s", w2);
				left += k;
			}
		} else if (e == ERR_OK) {
			if (gone)
				for (size_t i2 = 0; i2 < k; i2++)
					gone[b + i2] = true;
		} else {
			left += k;
		}
		if (st)
			store_journal(st, run, s, "batchdelete", (long long)k, e == ERR_OK ? "done" : "failed",
				      e == ERR_OK ? NULL : why, (long long)time(NULL));
		if (e == ERR_NET)
			break; /* MDE is out of reach: stop here, the next run resumes */
	}
	return left;
}

/* Deletes the have indices in hv. */
static void
apply_deletes(struct run *r, const size_t *hv, size_t n, const char *op)
{
	if (n == 0 || r->aborted)
		return;
	const char **ids = xcalloc(n, sizeof(*ids));
	bool *gone = xcalloc(n, sizeof(*gone));
	for (size_t i = 0; i < n; i++)
		ids[i] = r->h[hv[i]].id;
	char why[512] = "";
	apply_delete_ids(r->m, r->st, r->id, &r->seq, ids, n, gone, why, sizeof(why));
	for (size_t i = 0; i < n; i++) {
		if (gone[i]) {
			r->have_gone[hv[i]] = true;
			r->done[OP_DELETE]++;
		} else if (signals_stop_requested()) {
			stopped(r);
		} else {
			fail_item(r, op, r->h[hv[i]].type, r->h[hv[i]].value, why[0] ? why : "not deleted");
		}
	}
	free(ids);
	free(gone);
}

/* Want i's row as the state keeps it once MDE gave its id: written
 * with its batch (record_ids) and, the same, at the run's end
 * (apply_record). */
static struct store_ind
want_row(const struct run *r, size_t i)
{
	const struct want *w = &r->w[i];
	return (struct store_ind){.type = w->type,
				  .action = w->action,
				  .value = w->value,
				  .mde_id = want_id(r, i),
				  .feeds = w->feeds,
				  .first_seen = r->first_seen[i],
				  .last_seen = r->now,
				  .expires_at = want_expiry(w, r->now)};
}

/* An import's change (create, update, renew, replace) as the history
 * keeps it. */
static struct store_change
import_change(const struct run *r, const struct op *o)
{
	const struct want *w = &r->w[o->want];
	return (struct store_change){.type = (int)w->type,
				     .value = w->value,
				     .at = r->now,
				     .op = plan_op_name(o->kind),
				     .action = (int)w->action,
				     .feed = w->feeds,
				     .reason = o->why,
				     .mde_id = want_id(r, o->want)};
}

/* The ids MDE gave, and each value's change for its history, into the
 * state at once (a run killed later still knows what it created and
 * why; and the history is not all written at the run's end, when a
 * provider's tenants all finish together). */
static void
record_ids(struct run *r, const size_t *todo, size_t k)
{
	struct store_ind *rows = xcalloc(k ? k : 1, sizeof(*rows));
	struct store_change *changes = xcalloc(k ? k : 1, sizeof(*changes));
	size_t n = 0;
	for (size_t i = 0; i < k; i++) {
		const struct op *o = &r->p->ops[todo[i]];
		if (want_id(r, o->want) == NULL)
			continue;
		changes[n] = import_change(r, o);
		rows[n++] = want_row(r, o->want);
	}
	if (store_ind_add(r->st, rows, n, changes, n) != ERR_OK)
		log_warn("state: cannot record the ids of an import batch (the run's end records them)");
	else
		for (size_t i = 0; i < k; i++)
			r->recorded[r->p->ops[todo[i]].want] = want_id(r, r->p->ops[todo[i]].want) != NULL;
	free(changes);
	free(rows);
}

/* An import's items: todo[0..k), indices into the plan's ops. */
struct batch {
	struct run *r;
	const size_t *todo;
	size_t k;
};

/* The import request's body, written as text straight from the wants
 * (no JSON tree in between) as its transfer starts, and given back once
 * sent (http_body): a run waiting on MDE's answer (most of a provider's
 * tenants, most of the time) holds none. */
static char *
import_body(void *ctx, size_t *len)
{
	const struct batch *b = ctx;
	struct strbuf body = {0};
	sb_reserve(&body, b->k * 512 + 64); /* an item is 300 to 500 bytes */
	sb_adds(&body, "{\"Indicators\":[");
	for (size_t i = 0; i < b->k; i++) {
		if (i)
			sb_addc(&body, ',');
		model_import_item(b->r->c, &b->r->w[b->r->p->ops[b->todo[i]].want], b->r->now, &body);
	}
	sb_add(&body, "]}", 2);
	*len = body.len;
	return body.buf;
}

/*
 * One import call for todo[0..k) (indices into p->ops). A request MDE
 * refuses whole with a 400 may stand for one bad item (spec 9,
 * import-errors): it is split in halves until the refused items stand
 * alone, within LIMIT_IMPORT_SPLIT_CALLS extra calls a run, so the good
 * ones go through in the same run. Items that failed for a reason that
 * may pass go to again[] for the next round.
 */
static void
import_range(struct run *r, const size_t *todo, size_t k, int round, size_t *again, size_t *nagain)
{
	if (k == 0 || r->aborted)
		return;
	if (signals_stop_requested()) {
		stopped(r);
		return;
	}
	char why[512];
	/* The batch goes once the budget lets it: journalled as sent then.
	 * Should the wait fail, mde_import fails the same way. */
	if (mde_budget_wait(r->m, MDE_EP_IMPORT) >= LIMIT_LONG_WAIT_S)
		store_release_memory(r->st);
	(void)mde_await(r->m, MDE_EP_IMPORT, why, sizeof(why));
	int s = ++r->seq;
	journal(r, s, "import", k, "sent", NULL);
	/* The run waits on MDE's answer now (behind every other tenant, in a
	 * provider's run): the state's pages go back meanwhile (about 150 KB
	 * a tenant after a batch's ids are written, massif); the system
	 * caches the file. */
	store_release_memory(r->st);
	struct mde_import_results res;
	long status = 0;
	struct batch b = {r, todo, k};
	struct http_body body = {import_body, &b};
	enum err e = mde_import(r->m, &body, k, &res, &status, why, sizeof(why));
	if (e == ERR_HTTP && status == 400) {
		journal(r, s, "import", k, "refused", why);
		if (k == 1) {
			refuse_item(r, &r->p->ops[todo[0]], why);
		} else if (r->split_calls + 2 <= LIMIT_IMPORT_SPLIT_CALLS) {
			r->split_calls += 2;
			log_info("import: MDE refused a batch of %zu whole (%s); splitting it to find the refused", k,
				 why);
			import_range(r, todo, k / 2, round, again, nagain);
			import_range(r, todo + k / 2, k - k / 2, round, again, nagain);
		} else {
			char reason[700];
			snprintf(reason, sizeof(reason),
				 "%s (refused with its batch of %zu; not split further: this "
				 "run's %d extra calls for that are spent, the next run goes on)",
				 why, k, LIMIT_IMPORT_SPLIT_CALLS);
			for (size_t i = 0; i < k; i++)
				refuse_item(r, &r->p->ops[todo[i]], reason);
		}
		return;
	}
	if (e != ERR_OK) {
		journal(r, s, "import", k, "failed", why);
		if (signals_stop_requested()) { /* not done: the next run lists and converges */
			stopped(r);
			return;
		}
		if (e == ERR_NET || e == ERR_PARSE) {
			/* Out of reach, or an answer we cannot match to the
			 * items: stop; the next run lists MDE again and finishes
			 * the work. */
			r->aborted = true;
			snprintf(r->why, sizeof(r->why), "%s", why);
		}
		for (size_t i = 0; i < k; i++) {
			const struct op *o = &r->p->ops[todo[i]];
			fail_item(r, plan_op_name(o->kind), r->w[o->want].type, r->w[o->want].value, why);
		}
		return;
	}
	const char *learn_value = NULL;
	size_t learn_want = 0;
	char *canon = xmalloc(LIMIT_VALUE_BYTES + 32);
	for (size_t i = 0; i < k; i++) {
		const struct op *o = &r->p->ops[todo[i]];
		const struct want *w = &r->w[o->want];
		const struct mde_import_item *x = &res.item[i];
		const char *ind = x->indicator, *id = x->id;
		/* Results come in input order (spec 8); one that names another
		 * value is not trusted. MDE may return the value in its own
		 * normal form (spec 9, normalize): compared canonically. */
		bool same = ind == NULL || strcasecmp(ind, w->value) == 0 ||
			(ioc_canon_as(w->type, ind, canon, LIMIT_VALUE_BYTES + 32) && strcmp(canon, w->value) == 0);
		if (!same) {
			fail_item(r, plan_op_name(o->kind), w->type, w->value,
				  "the import result does not match the item (the next run lists again)");
		} else if (x->failed || id == NULL) {
			const char *reason = x->reason;
			if (plan_item_retryable(reason) && round < 2)
				again[(*nagain)++] = todo[i];
			else
				refuse_item(r, o, reason ? reason : "failed without a reason");
		} else {
			want_id_set(r, o->want, id);
			r->done[o->kind]++;
			if (learn_value == NULL && ind && r->learn_owner) {
				learn_value = ind;
				learn_want = o->want; /* its id moves as others are set */
			}
		}
	}
	free(canon);
	record_ids(r, todo, k);
	journal(r, s, "import", k, "done", NULL);
	if (learn_value) {
		r->learn_owner = false;
		model_learn_owner(r->m, r->st, learn_value, want_id(r, learn_want));
	}
	mde_import_results_free(&res);
}

/* Imports the wants in todo (indices into p->ops, taken: freed) in
 * batches of LIMIT_MDE_BATCH, retrying items that failed for a reason
 * that may pass. */
static void
apply_imports(struct run *r, size_t *todo, size_t ntodo)
{
	for (int round = 0; round < 3 && ntodo > 0 && !r->aborted; round++) {
		size_t *again = xmalloc(ntodo * sizeof(*again)), nagain = 0;
		for (size_t b = 0; b < ntodo && !r->aborted; b += LIMIT_MDE_BATCH) {
			size_t k = ntodo - b < LIMIT_MDE_BATCH ? ntodo - b : LIMIT_MDE_BATCH;
			progress_step(round ? "import (retry) batch" : "import batch", b / LIMIT_MDE_BATCH + 1,
				      (ntodo + LIMIT_MDE_BATCH - 1) / LIMIT_MDE_BATCH);
			import_range(r, todo + b, k, round, again, &nagain);
		}
		if (nagain)
			log_info("import: %zu items failed for a reason that may pass; trying them again", nagain);
		free(todo);
		todo = again;
		ntodo = nagain;
	}
	for (size_t i = 0; i < ntodo && !r->stopped; i++) {
		const struct op *o = &r->p->ops[todo[i]];
		fail_item(r, plan_op_name(o->kind), r->w[o->want].type, r->w[o->want].value,
			  "still failing after retries");
	}
	free(todo);
}

/* The part of a run an op goes to: the deletes that free room first, the
 * imports, the deletes that wait for their replacement; or none. */
enum step {
	STEP_NONE,
	STEP_EARLY,
	STEP_IMPORT,
	STEP_LATE
};

static enum step
op_step(const struct op *o)
{
	if (o->kind == OP_DELETE)
		return o->late ? STEP_LATE : STEP_EARLY;
	if (o->kind == OP_CREATE || o->kind == OP_UPDATE || o->kind == OP_RENEW || o->kind == OP_REPLACE)
		return STEP_IMPORT;
	return STEP_NONE;
}

/* The ops of step s (indices into p->ops), *n of them, in an array of
 * their own size: a provider's tenants each hold these through their
 * import waits. */
static size_t *
step_ops(const struct plan *p, enum step s, size_t *n)
{
	*n = 0;
	for (size_t k = 0; k < p->n; k++)
		*n += op_step(&p->ops[k]) == s;
	size_t *v = xmalloc((*n ? *n : 1) * sizeof(*v)), i = 0;
	for (size_t k = 0; k < p->n; k++)
		if (op_step(&p->ops[k]) == s)
			v[i++] = k;
	return v;
}

void
apply_run(struct run *r)
{
	const struct plan *p = r->p;
	size_t n;
	/* Deletes first: they free room under the cap for what comes. */
	size_t *early = step_ops(p, STEP_EARLY, &n);
	for (size_t i = 0; i < n; i++)
		early[i] = p->ops[early[i]].have;
	apply_deletes(r, early, n, "delete");
	free(early);
	size_t *imp = step_ops(p, STEP_IMPORT, &n);
	apply_imports(r, imp, n);
	/* An old action goes only once its replacement exists, and only
	 * when it is another indicator: under an upsert key of (type,
	 * value), MDE changed the old one's action in place and gave its id
	 * back (spec 9, upsert-key); deleting it would unblock the value. */
	size_t *late = step_ops(p, STEP_LATE, &n), nl = 0;
	for (size_t i = 0; i < n; i++) {
		const struct op *o = &p->ops[late[i]];
		const char *now_id = want_id(r, o->want);
		if (now_id == NULL)
			continue;
		if (strcmp(now_id, r->h[o->have].id) != 0)
			late[nl++] = o->have;
		else
			r->have_gone[o->have] = true; /* it is the new one now */
	}
	size_t before = r->done[OP_DELETE];
	apply_deletes(r, late, nl, "replace");
	r->done[OP_DELETE] = before; /* counted as replacements */
	free(late);
}

/* The rows of what iocsync owns in MDE and keeps (not gone, not also a
 * want with an id) into rows; how many. */
static size_t
kept_haves(const struct run *r, const struct state *s, struct store_ind *rows)
{
	size_t n = 0;
	struct strset *seen = strset_new(), *wanted = strset_new();
	char key[LIMIT_VALUE_BYTES + 32];
	/* Wanted (type, value, action) -> want index; seen: those with an id. */
	for (size_t i = 0; i < r->nw; i++) {
		int kl = snprintf(key, sizeof(key), "%d:%d:%s", r->w[i].type, r->w[i].action, r->w[i].value);
		strset_add(wanted, key, (size_t)kl, (int)i);
		if (want_id(r, i))
			strset_add(seen, key, (size_t)kl, 1);
	}
	for (size_t j = 0; j < r->nh; j++) {
		const struct have *h = &r->h[j];
		if (!h->owned || r->have_gone[j] || h->action < 0 || h->type == IOC_NONE)
			continue;
		int kl = snprintf(key, sizeof(key), "%d:%d:%s", h->type, h->action, h->value);
		if (!strset_add(seen, key, (size_t)kl, 1))
			continue;
		int wi = strset_get(wanted, key, (size_t)kl);
		const struct state_row *sr = state_get(s, h->type, h->value);
		struct store_ind x = {.type = h->type,
				      .action = h->action,
				      .value = h->value,
				      .mde_id = h->id,
				      .expires_at = h->expire_at,
				      .last_seen = r->now};
		if (wi >= 0) {
			x.feeds = r->w[wi].feeds;
			x.first_seen = r->first_seen[wi];
		} else {
			x.feeds = sr ? sr->feeds : "";
			x.first_seen = sr && sr->first_seen ? sr->first_seen : r->now;
			x.gone_since = sr && sr->gone_since ? sr->gone_since : r->now;
		}
		rows[n++] = x;
	}
	strset_free(seen);
	strset_free(wanted);
	return n;
}

enum err
apply_record(struct run *r, const struct state *s)
{
	struct store_ind *rows = xcalloc(r->nw + r->nh + 1, sizeof(*rows));
	size_t n = 0, kept = 0;
	for (size_t i = 0; i < r->nw; i++)
		if (want_id(r, i) && !r->recorded[i])
			rows[n++] = want_row(r, i);
	if (r->nh)
		n += kept_haves(r, s, rows + n);
	/* What a batch recorded is in the table as it would be written here
	 * (want_row): it goes last, as kept. */
	for (size_t i = 0; i < r->nw; i++)
		if (want_id(r, i) && r->recorded[i]) {
			rows[n++] = want_row(r, i);
			kept++;
		}
	enum err e = store_ind_replace(r->st, rows, n, kept);
	free(rows);
	return e;
}

/* One change, logged per value (a text line, or {"change": ...} in a
 * JSON log). */
static void
log_change(const struct store_change *c)
{
	if (!log_enabled(LOG_INFO))
		return;
	const char *an = c->action >= 0 ? ioc_action_name((enum ioc_action)c->action) : "unknown";
	const char *tn = ioc_type_name((enum ioc_type)c->type), *feed = c->feed, *reason = c->reason, *id = c->mde_id;
	json_t *j = json_pack("{s:{s:s, s:s, s:s, s:s, s:s, s:s}}", "change", "op", c->op, "type", tn, "value",
			      c->value, "action", an, "feed", feed ? feed : "", "reason", reason ? reason : "");
	if (j && id)
		json_object_set_new(json_object_get(j, "change"), "id", json_string(id));
	log_fields(LOG_INFO, j, "change: %s %s %s %s (feed %s: %s)%s%s", c->op, tn, c->value, an,
		   feed && *feed ? feed : "-", reason ? reason : "", id ? " id " : "", id ? id : "");
	json_decref(j);
}

/* One change, logged and kept for the value's history. */
static void
change(struct store_change *v, size_t *n, const char *op, enum ioc_type t, const char *value, int action,
       const char *feed, const char *reason, const char *id, long long now)
{
	v[*n] = (struct store_change){.type = (int)t,
				      .value = value,
				      .at = now,
				      .op = op,
				      .action = action,
				      .feed = feed,
				      .reason = reason,
				      .mde_id = id};
	log_change(&v[(*n)++]);
}

void
apply_record_changes(struct run *r)
{
	long long now = r->now;
	const struct plan *p = r->p;
	struct store_change *v = xcalloc(p->n + json_array_size(r->failures) + 1, sizeof(*v));
	size_t n = 0;
	for (size_t k = 0; k < p->n; k++) {
		const struct op *o = &p->ops[k];
		const struct want *w = o->want != OP_NONE ? &r->w[o->want] : NULL;
		const struct have *h = o->have != OP_NONE ? &r->h[o->have] : NULL;
		switch (o->kind) {
		case OP_CREATE:
		case OP_UPDATE:
		case OP_RENEW:
		case OP_REPLACE:
			if (want_id(r, o->want)) {
				/* Kept with its batch's ids unless that write failed. */
				v[n] = import_change(r, o);
				log_change(&v[n]);
				n += !r->recorded[o->want];
			}
			break;
		case OP_DELETE:
			if (!o->late && r->have_gone && r->have_gone[o->have])
				change(v, &n, "delete", h->type, h->value, h->action, w ? w->feeds : NULL, o->why,
				       h->id, now);
			break;
		case OP_HOLD: change(v, &n, "hold", h->type, h->value, h->action, NULL, o->why, h->id, now); break;
		default: break;
		}
	}
	size_t i;
	json_t *f;
	json_array_foreach(r->failures, i, f) {
		int t = model_type(json_string_value(json_object_get(f, "type")));
		const char *val = json_string_value(json_object_get(f, "value"));
		if (val)
			change(v, &n, "failed", (enum ioc_type)t, val, -1, NULL,
			       json_string_value(json_object_get(f, "reason")), NULL, now);
	}
	if (store_history_add(r->st, v, n) != ERR_OK)
		log_warn("state: cannot keep the history of this run's changes");
	free(v);
}
