#include "model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "desired.h"
#include "http.h"
#include "iocsync_limits.h"
#include "log.h"
#include "util.h"

static long long
parse_time(const char *s)
{
	struct tm tm = {0};
	if (s == NULL ||
	    sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) !=
		    6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (long long)timegm(&tm);
}

int
model_type(const char *s)
{
	for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
		if (s && strcmp(s, ioc_type_name((enum ioc_type)t)) == 0)
			return t;
	return IOC_NONE;
}

int
model_action(const char *s)
{
	for (int a = 0; a < ACT__COUNT; a++)
		if (s && strcmp(s, ioc_action_name((enum ioc_action)a)) == 0)
			return a;
	return -1;
}

int
model_severity(const char *s)
{
	for (int v = 0; v < SEV__COUNT; v++)
		if (s && strcmp(s, config_severity_name((enum severity)v)) == 0)
			return v;
	return SEV_INFORMATIONAL;
}

static void owner_learned(struct mde *m, struct store *st, const char *by);

/* The listing as it streams, each indicator made a have at once. */
struct listing {
	struct mde *m;
	const struct state *s;
	struct have *h;
	size_t n, cap;
	char *canon;
	char *learn_by; /* createdBy of the first listed indicator iocsync recorded making */
	char **by;      /* [n] createdBy of each that names iocsync's application but is not
			   recorded, to settle once the listing is whole; else NULL */
	size_t by_cap;
};

static bool
listed(void *ctx, json_t *x, char *why, size_t whysz)
{
	(void)why, (void)whysz;
	struct listing *l = ctx;
	char idb[32];
	const char *ids = mde_id(x, idb);
	const char *val = json_string_value(json_object_get(x, "indicatorValue"));
	if (ids == NULL || val == NULL)
		return true;
	xgrow((void **)&l->h, &l->cap, l->n + 1, sizeof(*l->h));
	xgrow((void **)&l->by, &l->by_cap, l->n + 1, sizeof(*l->by));
	l->by[l->n] = NULL;
	struct have *y = &l->h[l->n++];
	*y = (struct have){0};
	y->type = (enum ioc_type)model_type(json_string_value(json_object_get(x, "indicatorType")));
	bool canonical = ioc_canon_as(y->type, val, l->canon, LIMIT_VALUE_BYTES + 32);
	const char *by = json_string_value(json_object_get(x, "createdBy"));
	const char *who = json_string_value(json_object_get(x, "createdByDisplayName"));
	if (who == NULL || *who == '\0')
		who = by ? by : "";
	/* id, value and owner in one allocation (a provider's daily run
	 * holds a listing per running tenant). */
	const char *v = canonical ? l->canon : val;
	size_t ni = strlen(ids) + 1, nv = strlen(v) + 1, no = strlen(who) + 1;
	y->id = xmalloc(ni + nv + no);
	y->value = y->id + ni;
	y->owner = y->value + nv;
	memcpy(y->id, ids, ni);
	memcpy(y->value, v, nv);
	memcpy(y->owner, who, no);
	if (!canonical && y->type >= IOC_MD5) /* hashes compare in lower case, whatever else they hold */
		for (char *p = y->value; *p; p++)
			*p = (char)lc((unsigned char)*p);
	y->action = model_action(json_string_value(json_object_get(x, "action")));
	y->owned = state_made(l->s, y->id, (int)y->type, y->value);
	/* Whether it says it is iocsync's waits for the whole listing: what
	 * MDE puts in createdBy may be learned from a later indicator. */
	if (!y->owned && by && mde_claims_app(l->m, x))
		l->by[l->n - 1] = xstrdup(by);
	if (l->learn_by == NULL && by && *by && canonical && state_made(l->s, ids, (int)y->type, l->canon))
		l->learn_by = xstrdup(by);
	y->expire_at = parse_time(json_string_value(json_object_get(x, "expirationTime")));
	json_t *g = json_object_get(x, "rbacGroupNames");
	size_t ng = json_array_size(g);
	const char **groups = xcalloc(ng ? ng : 1, sizeof(*groups));
	size_t gi = 0;
	for (size_t j = 0; j < ng; j++)
		if (json_is_string(json_array_get(g, j)))
			groups[gi++] = json_string_value(json_array_get(g, j));
	y->attrs = plan_attr_hash(
		y->action, model_severity(json_string_value(json_object_get(x, "severity"))),
		json_string_value(json_object_get(x, "title")), json_string_value(json_object_get(x, "description")),
		json_string_value(json_object_get(x, "recommendedActions")), groups, gi,
		json_is_true(json_object_get(x, "generateAlert")), json_string_value(json_object_get(x, "educateUrl")));
	free(groups);
	return true;
}

struct have *
model_list(struct mde *m, struct store *st, const struct state *s, size_t *n, bool *learned, char *why, size_t whysz)
{
	struct listing l = {.m = m, .s = s, .canon = xmalloc(LIMIT_VALUE_BYTES + 32)};
	enum err e = mde_list_each(m, listed, &l, why, whysz);
	free(l.canon);
	*learned = e == ERR_OK && l.learn_by;
	if (*learned)
		owner_learned(m, st, l.learn_by);
	free(l.learn_by);
	for (size_t i = 0; i < l.n; i++) { /* what says it is iocsync's, now that createdBy is known */
		if (e == ERR_OK && l.by[i] && mde_owned_by(m, l.by[i]))
			l.h[i].owned = true;
		free(l.by[i]);
	}
	free(l.by);
	if (e != ERR_OK) {
		model_haves_free(l.h, l.n);
		return NULL;
	}
	*n = l.n;
	return l.h ? l.h : xcalloc(1, sizeof(*l.h));
}

void
model_haves_free(struct have *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(h[i].id); /* value and owner share its allocation */
	free(h);
}

static void
member(struct strbuf *out, const char *name, const char *v)
{
	sb_add(out, ",\"", 2);
	sb_adds(out, name);
	sb_add(out, "\":", 2);
	if (v)
		sb_json_str(out, v, strlen(v));
	else
		sb_add(out, "null", 4);
}

void
model_import_item(const struct config *c, const struct want *w, long long now, struct strbuf *out)
{
	const struct feed_cfg *f = w->feed;
	char exp[32];
	format_time(want_expiry(w, now), exp, sizeof(exp));
	struct rendered r;
	desired_render(w, &r);
	bool edu = f->educate_url && w->type == IOC_URL && (w->action == ACT_BLOCK || w->action == ACT_WARN);
	sb_adds(out, "{\"indicatorValue\":");
	sb_json_str(out, w->value, strlen(w->value));
	member(out, "indicatorType", ioc_type_name(w->type));
	member(out, "action", ioc_action_name(w->action));
	member(out, "title", r.title);
	member(out, "description", r.description);
	member(out, "application", c->application);
	member(out, "expirationTime", exp);
	member(out, "severity", config_severity_name(w->severity));
	sb_adds(out,
		f->generate_alert ? ",\"generateAlert\":true,\"rbacGroupNames\":["
				  : ",\"generateAlert\":false,\"rbacGroupNames\":[");
	for (size_t g = 0; g < f->ndevice_groups; g++) {
		if (g)
			sb_addc(out, ',');
		sb_json_str(out, f->device_groups[g], strlen(f->device_groups[g]));
	}
	sb_addc(out, ']');
	member(out, "recommendedActions", f->recommended_actions);
	member(out, "educateUrl", edu ? f->educate_url : NULL);
	sb_addc(out, '}');
	desired_rendered_free(&r);
}

static char *
owner_key(const struct mde *m)
{
	return xasprintf("created_by:%s", mde_client_id(m));
}

void
model_load_owner(struct mde *m, struct store *st)
{
	char *okey = owner_key(m), *learned = store_meta_get(st, okey);
	mde_set_created_by(m, learned);
	free(okey);
	free(learned);
}

/* MDE was seen to put `by` in createdBy for an indicator this app
 * created: from now on that marks iocsync's own, in this run and the
 * next (kept in the state). */
static void
owner_learned(struct mde *m, struct store *st, const char *by)
{
	const char *cur = mde_created_by(m);
	if (cur && strcasecmp(cur, by) == 0)
		return;
	char bb[120];
	if (strcasecmp(by, mde_client_id(m)) != 0)
		log_info(
			"ownership: MDE puts %s in createdBy for this app, not its client id; iocsync owns "
			"what carries it",
			echo_str(by, strlen(by), bb, sizeof(bb)));
	mde_set_created_by(m, by);
	char *k = owner_key(m);
	if (store_meta_set(st, k, by) != ERR_OK)
		log_warn("state: cannot keep what MDE puts in createdBy (it is learned again)");
	free(k);
}

/* The filter names the value as MDE returned it (its own normalised
 * form). */
void
model_learn_owner(struct mde *m, struct store *st, const char *value, const char *id)
{
	long status;
	json_t *out = NULL;
	char why[512];
	if (mde_find_value(m, value, &status, &out, why, sizeof(why)) != ERR_OK) {
		log_warn("ownership: cannot read back indicator %s to learn what MDE puts in createdBy: %s", id, why);
	} else {
		size_t i;
		json_t *x;
		json_array_foreach(json_object_get(out, "value"), i, x) {
			char idb[32];
			const char *xid = mde_id(x, idb);
			const char *by = json_string_value(json_object_get(x, "createdBy"));
			if (xid && by && *by && strcmp(xid, id) == 0) {
				owner_learned(m, st, by);
				break;
			}
		}
	}
	json_decref(out);
}

bool
model_has_role(const json_t *roles, const char *name)
{
	size_t i;
	json_t *x;
	json_array_foreach(roles, i, x)
		if (json_is_string(x) && strcmp(json_string_value(x), name) == 0)
			return true;
	return false;
}

bool *
model_verify_groups(const struct config *c, struct mde *m, size_t *nbad, json_t **info)
{
	*nbad = 0;
	*info = NULL;
	size_t want = 0;
	for (size_t k = 0; k < c->nfeeds; k++)
		if (c->feeds[k].enabled)
			want += c->feeds[k].ndevice_groups;
	if (want == 0 || !c->verify_device_groups)
		return NULL;
	char why[512];
	const json_t *roles = mde_roles(m, why, sizeof(why));
	if (roles == NULL)
		return NULL; /* no token: the list says so next */
	if (!model_has_role(roles, "Machine.Read.All") && !model_has_role(roles, "Machine.ReadWrite.All")) {
		log_warn(
			"device groups are unverified: the token lacks Machine.Read.All, so a misspelt group would "
			"scope its blocks to nothing (grant it, or set verify_device_groups = no)");
		*info = json_pack("{s:b, s:s}", "verified", 0, "why", "the token lacks Machine.Read.All");
		return NULL;
	}
	json_t *groups;
	if (mde_device_groups(m, &groups, why, sizeof(why)) != ERR_OK) {
		log_warn("device groups are unverified: %s", why);
		*info = json_pack("{s:b, s:s}", "verified", 0, "why", why);
		return NULL;
	}
	struct strbuf known = {0};
	json_t *kn = json_array(), *unknown = json_object(), *v;
	const char *g;
	json_object_foreach(groups, g, v) {
		sb_addf(&known, "%s%s", known.len ? ", " : "", g);
		json_array_append_new(kn, json_string(g));
	}
	bool *bad = xcalloc(c->nfeeds, sizeof(*bad));
	for (size_t k = 0; k < c->nfeeds; k++) {
		const struct feed_cfg *f = &c->feeds[k];
		for (size_t i = 0; f->enabled && i < f->ndevice_groups; i++) {
			if (json_object_get(groups, f->device_groups[i]))
				continue;
			if (!bad[k])
				(*nbad)++;
			bad[k] = true;
			json_t *list = json_object_get(unknown, f->name);
			if (list == NULL)
				json_object_set_new(unknown, f->name, list = json_array());
			json_array_append_new(list, json_string(f->device_groups[i]));
			char gb[200];
			log_error(
				"feed %s: device group \"%s\" does not exist in MDE (groups with devices: %s); nothing of "
				"this feed is sent or deleted until device_groups is fixed (a group with no device yet "
				"cannot be seen: verify_device_groups = no)",
				f->name, echo_str(f->device_groups[i], strlen(f->device_groups[i]), gb, sizeof(gb)),
				known.len ? known.buf : "none");
		}
	}
	sb_free(&known);
	json_decref(groups);
	*info = json_pack("{s:b, s:o, s:o}", "verified", 1, "known", kn, "unknown", unknown);
	return bad;
}
