/*
 * The orchestrator of plan and sync: the stages in order, each in its
 * own file. feeds -> desired set (desired.c, collect.c) -> what MDE holds
 * (model.c) -> plan (plan.c) -> apply (apply.c) -> state and report
 * (apply.c, sync_report.c). docs/DESIGN.md tells the contract.
 */
#include "sync.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "alert.h"
#include "apply.h"
#include "collect.h"
#include "desired.h"
#include "fw_push.h"
#include "iocsync_limits.h"
#include "log.h"
#include "metrics.h"
#include "model.h"
#include "output.h"
#include "progress.h"
#include "state.h"
#include "sync_report.h"
#include "util.h"

static void
report_killed(void *ctx, const struct store_run *r)
{
	(void)ctx;
	char ts[32];
	format_time(r->started, ts, sizeof(ts));
	log_warn("state: run %lld (%s, started %s) was killed%s%s%s%s; this run lists MDE again and converges", r->id,
		 r->verb, ts, r->step ? " during step " : "", r->step ? r->step : "", r->state ? " " : "",
		 r->state ? r->state : "");
}

struct store *
sync_open_store(const struct config *c, const char *who, bool write)
{
	char why[512];
	struct store *st = store_open(c->state, write ? who : NULL, why, sizeof(why));
	if (st == NULL) {
		log_error("%s: %s", who, why);
		return NULL;
	}
	/* A run left 'running' was killed: only the lock's holder can know
	 * that no run is live. */
	if (write && store_runs_recover(st, report_killed, NULL) != ERR_OK)
		log_warn("state: cannot read the runs table");
	return st;
}

/* One plan or sync of one configuration, stage by stage. */
struct pass {
	const struct config *c;
	const struct sync_opts *o;
	FILE *fp;
	long long now;
	struct timespec t0;
	struct mde *m;
	struct store *st;
	struct state s;
	json_t *groups_info; /* the device groups checked, for the summary */
	json_t *feeds;       /* the feeds' summaries */
	struct plan_down *down;
	size_t ndown, feeds_failed, bad_groups;
	struct plan p;
	struct run r;
	struct want *wants;    /* [r.nw] the desired set, shared with other tenants: read only */
	long long *first_seen; /* [r.nw] */
	uint64_t *attrs;       /* [r.nw] */
	size_t changes;
	const char *outcome;
	char msg[600];
	json_t *held;
	json_t *firewall; /* [firewall] push: what the push did, for the summary and metrics */
	const char *write_error;
	int rc;
};

/* MDE, the store (locked), the state and what createdBy says. */
static bool
pass_open(struct pass *x)
{
	char why[512];
	if (x->c->nfeeds == 0) {
		log_error("%s: %s defines no [feed \"name\"] section", x->o->verb, x->c->path);
		return false;
	}
	if ((x->m = mde_new(x->c, x->o->clk, why, sizeof(why))) == NULL) {
		log_error("%s: %s", x->o->verb, why);
		return false;
	}
	if ((x->st = sync_open_store(x->c, x->o->verb, true)) == NULL) {
		x->rc = EXIT_FAIL;
		return false;
	}
	state_load(x->st, &x->s);
	model_load_owner(x->m, x->st);
	/* The table's pages go back: the run lists MDE next (behind every
	 * other tenant, in a provider's run) and reads the state again only
	 * at its end. */
	store_release_memory(x->st);
	return true;
}

/* 1. The feeds, then those scoped to a device group MDE does not know
 * set aside: MDE is asked only once every feed is parsed, so the
 * credential is read after the untrusted input (mde_auth.h). False when
 * an allowlist cannot be loaded. */
static bool
pass_feeds(struct pass *x)
{
	const struct sync_opts *o = x->o;
	struct output out = {.fp = x->fp, .quiet = true, .json = o->json, .collect = true};
	if (o->quiet && !o->json)
		out.fp = fopen("/dev/null", "w");
	struct desired_in in = {.force = o->force,
				.force_feeds = o->force_feeds,
				.nforce_feeds = o->nforce_feeds,
				.keep_reports = true,
				.share = o->share};
	struct desired_feeds *df = desired_read(x->c, x->st, &out, &in);
	if (out.fp != x->fp && out.fp)
		fclose(out.fp);
	x->feeds = out.summaries;
	if (df == NULL)
		return false;
	bool *skip = model_verify_groups(x->c, x->m, &x->bad_groups, &x->groups_info);
	x->feeds_failed = desired_failed(df, skip) + x->bad_groups;
	x->down = xcalloc(x->c->nfeeds + 1, sizeof(*x->down));
	struct want *w = desired_wants(df, skip, &x->r.nw, x->down, &x->ndown);
	free(skip);
	desired_feeds_free(df);
	x->r.w = x->wants = desired_share_take(o->wants, w, x->r.nw);
	x->first_seen = desired_first_seen(x->r.w, x->r.nw, &x->s, x->now);
	return true;
}

/* 2. What MDE holds. */
static bool
pass_list(struct pass *x)
{
	char why[512];
	bool learned;
	x->r.h = model_list(x->m, x->st, &x->s, &x->r.nh, &learned, why, sizeof(why));
	if (x->r.h == NULL) {
		log_error("%s: cannot list MDE's indicators: %s", x->o->verb, why);
		snprintf(x->msg, sizeof(x->msg), "list: %s", why);
		return false;
	}
	if (learned)
		x->r.learn_owner = false;
	return true;
}

/* 3. The plan, printed. */
static void
pass_plan(struct pass *x)
{
	const struct config *c = x->c;
	const struct sync_opts *o = x->o;
	char why[512];
	const json_t *roles = mde_roles(x->m, why, sizeof(why));
	bool all = roles && model_has_role(roles, "Ti.ReadWrite.All");
	if (!all)
		log_warn(
			"the token lacks Ti.ReadWrite.All: others' indicators are not visible, so the budget cannot "
			"count them (imports past the cap will fail item by item)");
	x->attrs = desired_hash_held(x->r.w, x->r.nw, x->r.h, x->r.nh);
	struct plan_in in = {.w = x->r.w,
			     .nw = x->r.nw,
			     .first_seen = x->first_seen,
			     .attrs = x->attrs,
			     .h = x->r.h,
			     .nh = x->r.nh,
			     .now = x->now,
			     .cap = c->cap,
			     .reserve = c->reserve,
			     .grace_s = c->grace_s,
			     .renew_before_s = c->renew_before_s,
			     .others_known = all,
			     .down = x->down,
			     .ndown = x->ndown,
			     .max_delete_pct = c->max_delete_pct,
			     .force = o->force,
			     .force_feeds = o->force_feeds,
			     .nforce = o->nforce_feeds,
			     .state = {state_feeds, &x->s}};
	plan_build(&in, c->feeds, c->nfeeds, &x->p);
	const size_t *n = x->p.count;
	x->changes = n[OP_CREATE] + n[OP_UPDATE] + n[OP_RENEW] + n[OP_REPLACE] + n[OP_DELETE];
	x->held = sync_report_held(&x->p, c, x->msg, sizeof(x->msg));
	sync_report_overrides(&x->r);
	if (!o->json && !o->quiet)
		sync_report_print_plan(x->fp, &x->r, o->verbose);
}

/* 4. Apply, and record what came of it. */
static void
pass_apply(struct pass *x)
{
	struct run *r = &x->r;
	const char *verb = x->o->verb;
	r->ids.at = xcalloc(r->nw ? r->nw : 1, sizeof(*r->ids.at));
	r->recorded = xcalloc(r->nw ? r->nw : 1, sizeof(bool));
	r->have_gone = xcalloc(r->nh ? r->nh : 1, sizeof(bool));
	if (x->changes)
		apply_run(r);
	if (apply_record(r, &x->s) != ERR_OK)
		log_error("state: cannot record the indicators iocsync owns (the next run lists MDE again)");
	apply_record_changes(r);
	const char *wf = store_write_failed(x->st) ? store_write_failed(x->st) : log_write_failed();
	progress_clear();
	if (r->aborted) {
		snprintf(x->msg, sizeof(x->msg), "%s%s", r->stopped ? "" : "stopped: ", r->why);
		if (r->stopped)
			log_warn("%s: %s", verb, x->msg);
		else
			log_error("%s: %s", verb, x->msg);
	}
	bool partial = r->failed || x->feeds_failed || wf;
	x->outcome = r->stopped ? "stopped" : r->aborted ? "aborted" : partial ? "partial" : x->p.held ? "held" : "ok";
	x->rc = r->aborted || partial || x->p.held ? EXIT_FAIL : EXIT_OK;
	if (wf) {
		/* What reached MDE is listed again next run; what was not
		 * recorded here is the next run's to record. */
		log_error("%s: %s", verb, wf);
		snprintf(x->msg, sizeof(x->msg), "%s", wf);
		x->write_error = wf;
	}
}

/* 4b. [firewall] push = yes: the blocked IPs to Intune's firewall rules
 * policies, after MDE (fw_push.h). A failure fails the run; MDE's part
 * stands. */
static void
pass_firewall(struct pass *x, bool dry_run)
{
	if (!x->c->fw_push)
		return;
	size_t n;
	const char **ips = desired_blocked_ips(x->r.w, x->r.nw, &n);
	struct fw_push_result res;
	char why[512] = "";
	FILE *out = x->o->quiet || x->o->json ? NULL : x->fp;
	if (fw_push(x->c, ips, n, dry_run, out, &res, why, sizeof(why)) == ERR_OK) {
		log_info("firewall: %zu addresses in %zu rules, %zu policies: %s %zu, kept %zu, %s %zu", res.addresses,
			 res.rules, res.policies, dry_run ? "would create" : "created", res.created, res.kept,
			 dry_run ? "would delete" : "deleted", res.deleted);
		x->firewall = json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "addresses", (json_int_t)res.addresses,
					"rules", (json_int_t)res.rules, "policies", (json_int_t)res.policies, "created",
					(json_int_t)res.created, "kept", (json_int_t)res.kept, "deleted",
					(json_int_t)res.deleted);
	} else if (dry_run) {
		log_error("firewall: cannot plan the push: %s", why);
	} else {
		log_error("firewall: push failed: %s", why);
		snprintf(x->msg, sizeof(x->msg), "firewall push: %s", why);
		x->rc = EXIT_FAIL;
		x->outcome = "partial";
	}
	free(ips);
}

/* 5. The summary: into the runs table, the log, the metrics; printed. */
static void
pass_end(struct pass *x, long long run_id)
{
	const struct sync_opts *o = x->o;
	struct run *r = &x->r;
	progress_clear();
	struct timespec t1;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	struct sync_report_end e = {.verb = o->verb,
				    .outcome = x->outcome,
				    .feeds_failed = x->feeds_failed,
				    .secs = (double)(t1.tv_sec - x->t0.tv_sec) +
					    (double)(t1.tv_nsec - x->t0.tv_nsec) / 1e9,
				    .write_error = x->write_error,
				    .held = x->held,
				    .device_groups = x->groups_info,
				    .message = x->msg};
	json_t *sum = sync_report_summary(r, &e);
	if (x->firewall)
		json_object_set(sum, "firewall", x->firewall);
	if (o->flags) /* for the daemon: held is not a failure to retry soon */
		__atomic_fetch_or(
			o->flags,
			(x->p.held ? SYNC_HELD : 0u) |
				(r->aborted || r->failed || x->feeds_failed || x->outcome[0] == 'f' ? SYNC_FAILED : 0u),
			__ATOMIC_RELAXED);
	char *sumtext = json_dumps(sum, JSON_COMPACT);
	store_run_end(x->st, run_id, (long long)time(NULL), x->outcome, sumtext, x->msg[0] ? x->msg : NULL);
	log_run(sum);
	if (x->c->metrics_file && !o->dry_run) {
		char mw[300];
		if (metrics_write(x->c, x->st, sum, x->feeds, mw, sizeof(mw)) != ERR_OK)
			log_error("metrics: cannot write %s", mw);
	}
	if (!o->dry_run)
		alert_after_run(x->c, x->st, sum, x->feeds, x->msg, (long long)time(NULL));
	sync_report_print_result(x->fp, r, &e, sum, x->feeds, o->json, o->quiet, o->dry_run);
	free(sumtext);
	json_decref(sum);
}

static void
pass_close(struct pass *x)
{
	struct run *r = &x->r;
	json_decref(x->feeds);
	json_decref(x->held);
	json_decref(x->firewall);
	json_decref(x->groups_info);
	json_decref(r->failures);
	json_decref(r->refused);
	want_ids_free(&r->ids);
	free(r->recorded);
	free(r->have_gone);
	plan_free(&x->p);
	model_haves_free(r->h, r->nh);
	desired_share_drop(x->o->wants, x->wants, r->nw);
	free(x->first_seen);
	free(x->attrs);
	free(x->down);
	if (x->st) {
		state_free(&x->s);
		store_close(x->st);
	}
	mde_free(x->m);
}

int
sync_run(const struct config *c, const struct sync_opts *o)
{
	/* A setup error is a usage error, except for plan, whose 2 says
	 * "changes pending": there every error is 1. */
	const int usage_rc = o->dry_run ? EXIT_FAIL : EXIT_USAGE;
	struct pass x = {.c = c,
			 .o = o,
			 .fp = o->out ? o->out : stdout,
			 .now = (long long)time(NULL),
			 .outcome = "failed",
			 .rc = usage_rc};
	clock_gettime(CLOCK_MONOTONIC, &x.t0);
	progress_start(!o->quiet && o->out == NULL);
	if (!pass_open(&x) || !pass_feeds(&x)) {
		int rc = x.rc;
		pass_close(&x);
		return rc;
	}
	long long run_id = store_run_begin(x.st, o->verb, x.now);
	x.r = (struct run){.c = c,
			   .m = x.m,
			   .st = x.st,
			   .id = run_id,
			   .now = x.now,
			   .w = x.r.w,
			   .nw = x.r.nw,
			   .first_seen = x.first_seen,
			   .p = &x.p,
			   .failures = json_array(),
			   .refused = json_object(),
			   .learn_owner = mde_created_by(x.m) == NULL};
	if (!pass_list(&x)) {
		x.rc = EXIT_FAIL;
	} else {
		pass_plan(&x);
		if (o->dry_run) {
			x.outcome = "planned";
			pass_firewall(&x, true);
			x.rc = x.changes || x.p.held ? 2 : EXIT_OK;
			if ((x.feeds_failed && x.rc == EXIT_OK) || x.bad_groups) /* a misspelt group is fixed first */
				x.rc = EXIT_FAIL;
		} else {
			pass_apply(&x);
			pass_firewall(&x, false);
		}
	}
	pass_end(&x, run_id);
	int rc = x.rc;
	pass_close(&x);
	return rc;
}

/* One tenant's run in sync_all: its configuration is made when a worker
 * takes it and freed when the run ends, so memory follows the tenants
 * running, not the tenants configured. */
struct job {
	char *buf; /* what the run printed, shown in configuration order at the end */
	size_t len;
	int rc;
};

struct pool {
	const struct config *c;
	const struct sync_opts *o;
	struct job *jobs;
	size_t next; /* the next tenant to take, under mu */
	pthread_mutex_t mu;
};

static void *
pool_worker(void *v)
{
	struct pool *p = v;
	for (;;) {
		pthread_mutex_lock(&p->mu);
		size_t i = p->next++;
		pthread_mutex_unlock(&p->mu);
		if (i >= p->c->ntenants)
			return NULL;
		struct job *j = &p->jobs[i];
		struct sync_opts o = *p->o;
		struct config *t = config_tenant(p->c, i, true);
		o.out = open_memstream(&j->buf, &j->len);
		if (o.out == NULL) {
			log_error("tenant %s: cannot start its run", p->c->tenants[i].name);
			j->rc = EXIT_FAIL;
		} else {
			log_set_context(t->tenant_name);
			j->rc = sync_run(t, &o);
			log_set_context(NULL);
			fclose(o.out);
		}
		config_free(t);
	}
}

/* How many tenants may run at once: max_parallel_tenants, and what the
 * descriptor limit allows (each run holds its state's files and MDE's
 * connections). The soft limit is raised to the hard one first. */
static size_t
pool_size(const struct config *c)
{
	size_t n = c->ntenants < (size_t)c->max_parallel_tenants ? c->ntenants : (size_t)c->max_parallel_tenants;
	size_t fit = fd_room(LIMIT_FDS_RESERVED) / LIMIT_FDS_PER_TENANT;
	if (fit < 1)
		fit = 1;
	if (n > fit) {
		log_warn("sync: %zu tenants at once, not %zu: the open files limit (ulimit -n) allows no more", fit, n);
		n = fit;
	}
	return n;
}

int
sync_all(const struct config *c, const struct sync_opts *o)
{
	if (c->ntenants == 0)
		return sync_run(c, o);
	FILE *fp = o->out ? o->out : stdout;
	/* A feed two tenants take is fetched once, before any runs. */
	struct sync_opts shared = *o;
	struct collect_share *sh = collect_share_fetch(c);
	shared.share = sh;
	shared.wants = desired_share_new();
	struct pool p = {.c = c, .o = &shared, .jobs = xcalloc(c->ntenants, sizeof(*p.jobs))};
	pthread_mutex_init(&p.mu, NULL);
	size_t nw = pool_size(c), started = 0;
	pthread_t *th = xcalloc(nw, sizeof(*th));
	/* A run's stack is the main thread's size (8 MiB), not the default
	 * of a thread under every tool (valgrind gives less). */
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 16u << 20);
	for (size_t i = 0; i < nw; i++)
		if (pthread_create(&th[started], &attr, pool_worker, &p) == 0)
			started++;
	pthread_attr_destroy(&attr);
	if (started == 0) /* no thread at all: this one runs them */
		pool_worker(&p);
	for (size_t i = 0; i < started; i++)
		pthread_join(th[i], NULL);
	free(th);
	pthread_mutex_destroy(&p.mu);
	collect_share_free(sh);
	desired_share_free(shared.wants);
	bool any_fail = false, any_usage = false, any_pending = false;
	json_t *all = o->json ? json_object() : NULL;
	for (size_t i = 0; i < c->ntenants; i++) {
		struct job *j = &p.jobs[i];
		any_fail |= j->rc == EXIT_FAIL;
		if (o->dry_run) /* plan: 2 is "changes pending", its errors are 1 */
			any_pending |= j->rc == 2;
		else
			any_usage |= j->rc == EXIT_USAGE;
		if (all) {
			json_t *doc = j->buf ? json_loads(j->buf, 0, NULL) : NULL;
			json_object_set_new(all, c->tenants[i].name,
					    doc ? doc : json_pack("{s:s, s:i}", "outcome", "failed", "exit", j->rc));
		} else if (!o->quiet || j->rc != EXIT_OK) {
			fprintf(fp, "%s=== tenant %s (exit %d)\n%s", i ? "\n" : "", c->tenants[i].name, j->rc,
				j->buf ? j->buf : "");
		}
		free(j->buf);
	}
	if (all) {
		json_t *doc = json_pack("{s:o}", "tenants", all);
		json_dumpf(doc, fp, JSON_INDENT(1));
		fputc('\n', fp);
		json_decref(doc);
	}
	free(p.jobs);
	if (o->dry_run)
		return any_fail ? EXIT_FAIL : any_pending ? 2 : EXIT_OK;
	return any_usage ? EXIT_USAGE : any_fail ? EXIT_FAIL : EXIT_OK;
}