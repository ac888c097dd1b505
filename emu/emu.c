/* mde-emulator core: clock, routing, rate limits, control plane, state. */
#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <microhttpd.h>
#include <openssl/rand.h>

#include "emu.h"

/* Limits per endpoint (spec section 3): per minute, per hour (0: none). */
static const struct {
	const char *name;
	int per_min, per_hour;
} eps[EP__COUNT] = {
	[EP_LIST] = {"list", 100, 1500},
	[EP_SUBMIT] = {"submit", 100, 1500},
	[EP_IMPORT] = {"import", 30, 0},
	[EP_DELETE] = {"delete", 100, 1500},
	[EP_BATCHDELETE] = {"batchdelete", 30, 1500},
	[EP_MACHINES] = {"machines", 100, 1500},
	[EP_FINDBYTAG] = {"findbytag", 100, 1500},
	[EP_AQ] = {"advancedqueries", 45, 1500},
	/* not documented for the exposure score: the usual 100 a minute, 1,500 an hour */
	[EP_SCORE] = {"exposurescore", 100, 1500},
	[EP_TOKEN] = {"token", 0, 0},
	[EP_OTHER] = {"other", 0, 0},
};

const char *
ep_name(enum ep e)
{
	return eps[e].name;
}

int
ep_parse(const char *s)
{
	for (int i = 0; i < EP__COUNT; i++)
		if (eps[i].per_min && strcmp(s, eps[i].name) == 0)
			return i;
	return -1;
}

long long
emu_now_ms(const struct emu *e)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000 + e->clock_offset_ms;
}

/* n digits of v at p (v fits). */
static void
put_digits(char *p, long long v, int n)
{
	while (n-- > 0) {
		p[n] = (char)('0' + v % 10);
		v /= 10;
	}
}

void
emu_time_format(long long ms, char *out, size_t outsz)
{
	time_t s = (time_t)(ms / 1000);
	struct tm tm;
	gmtime_r(&s, &tm);
	static const char shape[] = "0000-00-00T00:00:00.0000000Z";
	if (ms < 0 || tm.tm_year + 1900 > 9999 || outsz < sizeof(shape)) {
		snprintf(out, outsz, "%04d-%02d-%02dT%02d:%02d:%02d.%03lld0000Z", tm.tm_year + 1900, tm.tm_mon + 1,
			 tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, ms % 1000);
		return;
	}
	/* The same text, digit by digit: an import writes two a item under
	 * the emulator's lock, and snprintf was most of their time. */
	memcpy(out, shape, sizeof(shape));
	put_digits(out, tm.tm_year + 1900, 4);
	put_digits(out + 5, tm.tm_mon + 1, 2);
	put_digits(out + 8, tm.tm_mday, 2);
	put_digits(out + 11, tm.tm_hour, 2);
	put_digits(out + 14, tm.tm_min, 2);
	put_digits(out + 17, tm.tm_sec, 2);
	put_digits(out + 20, ms % 1000, 3);
}

/* The n digits at p as *v; false when one is not a digit. */
static bool
digits(const char *p, int n, int *v)
{
	*v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)p[i]))
			return false;
		*v = *v * 10 + (p[i] - '0');
	}
	return true;
}

/* The date and time of s as sscanf("%4d-%2d-%2dT%2d:%2d:%2d%n") with
 * n == 19 reads them: straight from the digits when s has them at
 * their places (what a client sends), the slow way otherwise. */
static bool
time_fields(const char *s, struct tm *tm)
{
	if (digits(s, 4, &tm->tm_year) && s[4] == '-' && digits(s + 5, 2, &tm->tm_mon) && s[7] == '-' &&
	    digits(s + 8, 2, &tm->tm_mday) && s[10] == 'T' && digits(s + 11, 2, &tm->tm_hour) && s[13] == ':' &&
	    digits(s + 14, 2, &tm->tm_min) && s[16] == ':' && digits(s + 17, 2, &tm->tm_sec))
		return true;
	int n = 0;
	return sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2d%n", &tm->tm_year, &tm->tm_mon, &tm->tm_mday, &tm->tm_hour,
		      &tm->tm_min, &tm->tm_sec, &n) == 6 &&
		n == 19;
}

bool
emu_time_parse(const char *s, long long *ms)
{
	struct tm tm = {0};
	if (!time_fields(s, &tm))
		return false;
	if (tm.tm_mon < 1 || tm.tm_mon > 12 || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 || tm.tm_min > 59 ||
	    tm.tm_sec > 60 || tm.tm_year < 1970 || tm.tm_year > 9999)
		return false;
	const char *p = s + 19;
	long long frac = 0;
	if (*p == '.') {
		int digits = 0;
		for (p++; isdigit((unsigned char)*p); p++, digits++)
			if (digits < 3)
				frac = frac * 10 + (*p - '0');
		if (digits == 0)
			return false;
		for (; digits < 3; digits++)
			frac *= 10;
	}
	if (!(strcmp(p, "Z") == 0 || strcmp(p, "+00:00") == 0))
		return false;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	*ms = (long long)timegm(&tm) * 1000 + frac;
	return true;
}

void
reply_free(struct reply *r)
{
	json_decref(r->body);
	free(r->text);
	free(r->www_authenticate);
	r->body = NULL;
	r->text = r->www_authenticate = NULL;
}

void
reply_error(struct reply *r, int status, const char *code, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	unsigned char rnd[16];
	char target[40];
	if (RAND_bytes(rnd, sizeof(rnd)) != 1)
		memset(rnd, 0, sizeof(rnd));
	snprintf(target, sizeof(target), "%02x%02x%02x%02x-%02x%02x-%02x%02x-%02x%02x-%02x%02x%02x%02x%02x%02x", rnd[0],
		 rnd[1], rnd[2], rnd[3], rnd[4], rnd[5], rnd[6], rnd[7], rnd[8], rnd[9], rnd[10], rnd[11], rnd[12],
		 rnd[13], rnd[14], rnd[15]);
	json_decref(r->body);
	free(r->text);
	r->text = NULL;
	r->status = status;
	r->odata = true;
	r->body = json_pack("{s:{s:s, s:s, s:s}}", "error", "code", code, "message", msg, "target", target);
}

const char *
req_query(const struct request *q, const char *name)
{
	/* No connection (fuzzing, tests): no query arguments. */
	return q->conn ? MHD_lookup_connection_value(q->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

/* ---- rate limits ---- */

static struct window *
window_for(struct emu *e, const char *key)
{
	for (size_t i = 0; i < e->nwins; i++)
		if (strcmp(e->wins[i].key, key) == 0)
			return &e->wins[i];
	e->wins = xrealloc(e->wins, (e->nwins + 1) * sizeof(*e->wins));
	e->wins[e->nwins] = (struct window){.key = xstrdup(key)};
	return &e->wins[e->nwins++];
}

long long
emu_window_take(struct emu *e, const char *key, int per_min, int per_hour)
{
	struct window *w = window_for(e, key);
	long long now = emu_now_ms(e);
	size_t drop = 0;
	while (drop < w->n && w->times[drop] <= now - 3600000)
		drop++;
	if (drop) {
		memmove(w->times, w->times + drop, (w->n - drop) * sizeof(*w->times));
		w->n -= drop;
	}
	size_t in_min = 0;
	while (in_min < w->n && w->times[w->n - 1 - in_min] > now - 60000)
		in_min++;
	long long wait_ms = 0;
	if (per_min && (int)in_min >= per_min)
		wait_ms = w->times[w->n - in_min] + 60000 - now;
	if (per_hour && (int)w->n >= per_hour) {
		long long h = w->times[0] + 3600000 - now;
		if (h > wait_ms)
			wait_ms = h;
	}
	if (wait_ms > 0)
		return wait_ms;
	xgrow((void **)&w->times, &w->cap, w->n + 1, sizeof(*w->times));
	w->times[w->n++] = now;
	return 0;
}

bool
emu_rate(struct emu *e, const struct app *a, enum ep ep, struct reply *r)
{
	if (!e->rate_limits || (e->per_min[ep] == 0 && e->per_hour[ep] == 0))
		return true;
	char key[256];
	snprintf(key, sizeof(key), "%s|%s|%s", a->tenant, a->client_id, eps[ep].name);
	long long wait_ms = emu_window_take(e, key, e->per_min[ep], e->per_hour[ep]);
	if (wait_ms > 0) {
		reply_error(r, 429, "TooManyRequests", "Rate limit of the %s endpoint reached", eps[ep].name);
		snprintf(r->retry_after, sizeof(r->retry_after), "%lld", (wait_ms + 999) / 1000);
		return false;
	}
	return true;
}

/* ---- setup ---- */

struct emu *
emu_new(void)
{
	struct emu *e = xcalloc(1, sizeof(*e));
	pthread_mutex_init(&e->mu, NULL);
	if (RAND_bytes(e->key, sizeof(e->key)) != 1)
		abort();
	e->next_id = 1;
	e->cap = 15000;
	e->token_lifetime = 3599;
	e->rate_limits = true;
	e->log = json_array();
	e->rejected = json_object();
	e->policies = json_array();
	e->groups = json_array();
	e->base = xstrdup("http://127.0.0.1");
	e->fault_rng = 1;
	for (int i = 0; i < EP__COUNT; i++) {
		e->per_min[i] = eps[i].per_min;
		e->per_hour[i] = eps[i].per_hour;
	}
	return e;
}

static void
add_machine(struct emu *e, const char *id, const char *name, const char *group, int gid, const char *tags,
	    const char *np)
{
	e->machines = xrealloc(e->machines, (e->nmachines + 1) * sizeof(*e->machines));
	e->machines[e->nmachines++] =
		(struct machine){xstrdup(id), xstrdup(name), xstrdup(group), xstrdup(tags), gid, xstrdup(np)};
}

void
emu_demo(struct emu *e)
{
	const char *t = "00000000-0000-0000-0000-000000000001";
	emu_add_app(e, t, "11111111-1111-1111-1111-111111111111", "emulator-secret", "iocsync-demo",
		    ROLE_TI_RW_ALL | ROLE_MACHINE_READ_ALL | ROLE_AQ_READ_ALL);
	add_machine(e, "1e5bc9d7e413ddd7902c2932e418702b84d0cc07", "ws-finance-01.contoso.local", "Finance", 101,
		    "finance,laptop", "Block");
	add_machine(e, "7292e4d64e3f4ab5a6a5de1c1a11b4b0f1f9f0a2", "ws-finance-02.contoso.local", "Finance", 101,
		    "finance", "Audit");
	add_machine(e, "b0c3f1a2d4e5f60718293a4b5c6d7e8f90a1b2c3", "srv-web-01.contoso.local", "Servers", 102,
		    "server,dmz", "Block");
	add_machine(e, "c4d5e6f708192a3b4c5d6e7f8091a2b3c4d5e6f7", "srv-db-01.contoso.local", "Servers", 102, "server",
		    "Off");
}

void
emu_free(struct emu *e)
{
	if (e == NULL)
		return;
	ind_free_all(e);
	for (size_t i = 0; i < e->napps; i++) {
		free(e->apps[i].tenant), free(e->apps[i].client_id);
		free(e->apps[i].secret), free(e->apps[i].name);
		app_clear_certificate(&e->apps[i]);
		app_clear_federated(&e->apps[i]);
	}
	free(e->apps);
	for (size_t i = 0; i < e->nmachines; i++) {
		struct machine *m = &e->machines[i];
		free(m->id), free(m->name), free(m->group), free(m->tags), free(m->np_mode);
	}
	free(e->machines);
	for (size_t i = 0; i < e->nwins; i++) {
		free(e->wins[i].key);
		free(e->wins[i].times);
	}
	free(e->wins);
	free(e->faults);
	free(e->fault_tenant);
	for (size_t i = 0; i < e->njti; i++)
		free(e->used_jti[i]);
	free(e->used_jti);
	sb_free(&e->scratch);
	json_decref(e->log);
	json_decref(e->policies);
	json_decref(e->groups);
	emu_changes_clear(e);
	emu_text_pool_free(e);
	emu_names_free(e);
	json_decref(e->rejected);
	free(e->base);
	free(e->state_path);
	free(e->imds_key_dir);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

/* ---- state ---- */

json_t *
emu_state_dump(struct emu *e)
{
	json_t *list = json_array();
	for (size_t i = 0; i < e->ninds; i++)
		json_array_append_new(
			list, json_pack("{s:s, s:o}", "tenant", e->inds[i].tenant, "indicator", ind_obj(&e->inds[i])));
	return json_pack("{s:I, s:I, s:o, s:O}", "next_id", (json_int_t)e->next_id, "clock_offset_ms",
			 (json_int_t)e->clock_offset_ms, "indicators", list, "policies", e->policies);
}

bool
emu_state_save(struct emu *e, char *why, size_t whysz)
{
	if (e->state_path == NULL)
		return true;
	json_t *j = emu_state_dump(e);
	char *s = json_dumps(j, JSON_INDENT(1));
	json_decref(j);
	enum err rc = file_write_atomic(e->state_path, s, strlen(s), 0600);
	free(s);
	if (rc != ERR_OK && why)
		snprintf(why, whysz, "cannot write %s", e->state_path);
	return rc == ERR_OK;
}

/* Is a policy with this id among the first n of list? */
static bool
policy_at(const json_t *list, size_t n, const char *id)
{
	for (size_t i = 0; i < n; i++) {
		const char *x = json_string_value(json_object_get(json_array_get(list, i), "id"));
		if (x && strcmp(x, id) == 0)
			return true;
	}
	return false;
}

bool
emu_state_apply(struct emu *e, json_t *j, char *why, size_t whysz)
{
	json_t *list = json_object_get(j, "indicators"), *el;
	size_t i;
	if (!json_is_array(list)) {
		snprintf(why, whysz, "\"indicators\" must be an array");
		return false;
	}
	/* Intune's policies (graph.c) as the API keeps them, with _tenant:
	 * checked before anything is loaded. */
	json_t *pols = json_object_get(j, "policies");
	if (pols && !json_is_array(pols)) {
		snprintf(why, whysz, "\"policies\" must be an array");
		return false;
	}
	json_array_foreach(pols, i, el) {
		const char *id = json_string_value(json_object_get(el, "id"));
		if (id == NULL || !json_is_string(json_object_get(el, "_tenant"))) {
			snprintf(why, whysz, "policies[%zu]: a policy needs \"id\" and \"_tenant\"", i);
			return false;
		}
		if (policy_at(e->policies, json_array_size(e->policies), id) || policy_at(pols, i, id)) {
			snprintf(why, whysz, "policies[%zu]: policy id %.40s exists already", i, id);
			return false;
		}
	}
	json_array_foreach(list, i, el) {
		char w[200];
		if (!ind_load(e, el, w, sizeof(w))) {
			snprintf(why, whysz, "indicators[%zu]: %s", i, w);
			return false;
		}
	}
	json_array_foreach(pols, i, el)
		json_array_append_new(e->policies, json_deep_copy(el));
	json_t *next = json_object_get(j, "next_id");
	if (json_is_integer(next) && json_integer_value(next) > e->next_id)
		e->next_id = json_integer_value(next);
	json_t *off = json_object_get(j, "clock_offset_ms");
	if (json_is_integer(off))
		e->clock_offset_ms = json_integer_value(off);
	return true;
}

bool
emu_state_load(struct emu *e, const char *path, char *why, size_t whysz)
{
	json_error_t err;
	json_t *j = json_load_file(path, JSON_REJECT_DUPLICATES, &err);
	if (j == NULL) {
		snprintf(why, whysz, "%s:%d:%d: %s", path, err.line, err.column, err.text);
		return false;
	}
	bool ok = emu_state_apply(e, j, why, whysz);
	json_decref(j);
	return ok;
}

/* ---- faults ---- */

static const char *const fault_names[] = {"429", "500", "503", "slow", "reset", "truncate", "401", "item"};
static const int fault_codes[] = {429, 500, 503, FAULT_SLOW, FAULT_RESET, FAULT_TRUNCATE, 401, FAULT_ITEM};
_Static_assert(NELEM(fault_names) == NELEM(((struct emu *)0)->fault_pm), "a probability per fault");

int
fault_parse(const char *s)
{
	if (strcmp(s, "none") == 0 || strcmp(s, "0") == 0)
		return 0;
	for (size_t i = 0; i < NELEM(fault_names); i++)
		if (strcmp(s, fault_names[i]) == 0)
			return fault_codes[i];
	return -1;
}

bool
fault_set_probability(struct emu *e, const char *name, double p)
{
	unsigned total = 0;
	for (size_t i = 0; i < NELEM(fault_names); i++)
		if (strcmp(name, fault_names[i]) == 0) {
			if (!(p >= 0 && p <= 1))
				return false;
			e->fault_pm[i] = (unsigned)(p * 1000 + 0.5);
			for (size_t k = 0; k < NELEM(fault_names); k++)
				total += e->fault_pm[k];
			return total <= 1000;
		}
	return false;
}

/* {"sequence":[429,"slow",0,...], "probabilities":{"500":0.05,...},
 *  "seed":N, "slow_ms":N}: replaces the fault plan. */
void
emu_faults_set(struct emu *e, json_t *in, struct reply *r)
{
	json_t *seq = json_object_get(in, "sequence"), *probs = json_object_get(in, "probabilities"), *el;
	json_t *seed = json_object_get(in, "seed"), *slow = json_object_get(in, "slow_ms");
	json_t *tenant = json_object_get(in, "tenant");
	const char *k;
	size_t i;

	free(e->fault_tenant);
	e->fault_tenant = json_is_string(tenant) ? xstrdup(json_string_value(tenant)) : NULL;
	free(e->faults);
	e->faults = NULL;
	e->nfaults = e->fault_pos = 0;
	memset(e->fault_pm, 0, sizeof(e->fault_pm));
	if (seq && !json_is_array(seq)) {
		reply_error(r, 400, "InvalidInput", "sequence: an array of faults");
		return;
	}
	e->faults = xcalloc(json_array_size(seq) + 1, sizeof(int));
	json_array_foreach(seq, i, el) {
		char num[24];
		const char *name = json_is_string(el) ? json_string_value(el) : NULL;
		if (json_is_integer(el)) {
			snprintf(num, sizeof(num), "%lld", (long long)json_integer_value(el));
			name = num;
		}
		int f = name ? fault_parse(name) : -1;
		if (f < 0) {
			reply_error(r, 400, "InvalidInput", "sequence[%zu]: 0, 429, 500, 503, slow, reset or truncate",
				    i);
			e->nfaults = 0;
			return;
		}
		e->faults[e->nfaults++] = f;
	}
	if (probs && !json_is_object(probs)) {
		reply_error(r, 400, "InvalidInput", "probabilities: an object of fault name to probability");
		return;
	}
	json_object_foreach(probs, k, el) {
		if (!json_is_number(el) || !fault_set_probability(e, k, json_number_value(el))) {
			memset(e->fault_pm, 0, sizeof(e->fault_pm));
			reply_error(r, 400, "InvalidInput",
				    "probabilities.%s: a known fault, from 0 to 1, all summing to at most 1", k);
			return;
		}
	}
	e->fault_rng = json_is_integer(seed) ? (uint64_t)json_integer_value(seed) : 1;
	if (json_is_integer(slow) && json_integer_value(slow) >= 0 && json_integer_value(slow) <= 60000)
		e->slow_ms = (unsigned)json_integer_value(slow);
	r->body = json_pack("{s:I, s:I, s:i}", "sequence", (json_int_t)e->nfaults, "seed", (json_int_t)e->fault_rng,
			    "slow_ms", (int)e->slow_ms);
}

/* splitmix64: small, seedable, good enough for fault draws. */
static uint64_t
rng_next(uint64_t *s)
{
	uint64_t z = (*s += 0x9e3779b97f4a7c15ULL);
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
	return z ^ (z >> 31);
}

/* The fault for this call: scripted first, then drawn. 0: none. */
static int
next_fault(struct emu *e)
{
	if (e->fault_pos < e->nfaults)
		return e->faults[e->fault_pos++];
	unsigned total = 0;
	for (size_t i = 0; i < NELEM(fault_names); i++)
		total += e->fault_pm[i];
	if (total == 0)
		return 0;
	unsigned x = (unsigned)(rng_next(&e->fault_rng) % 1000);
	for (size_t i = 0; i < NELEM(fault_names); i++) {
		if (x < e->fault_pm[i])
			return fault_codes[i];
		x -= e->fault_pm[i];
	}
	return 0;
}

/* ---- routing ---- */

static enum ep
classify(const char *m, const char *p, const char **id)
{
	*id = NULL;
	if (strcmp(p, "/api/indicators") == 0)
		return strcmp(m, "GET") == 0 ? EP_LIST : strcmp(m, "POST") == 0 ? EP_SUBMIT : EP_OTHER;
	if (strcmp(p, "/api/indicators/import") == 0 && strcmp(m, "POST") == 0)
		return EP_IMPORT;
	if (strcmp(p, "/api/indicators/BatchDelete") == 0 && strcmp(m, "POST") == 0)
		return EP_BATCHDELETE;
	if (strncmp(p, "/api/indicators/", 16) == 0 && strcmp(m, "DELETE") == 0 && strchr(p + 16, '/') == NULL) {
		*id = p + 16;
		return EP_DELETE;
	}
	if (strcmp(p, "/api/machines") == 0 && strcmp(m, "GET") == 0)
		return EP_MACHINES;
	if (strcmp(p, "/api/machines/findbytag") == 0 && strcmp(m, "GET") == 0)
		return EP_FINDBYTAG;
	if (strcmp(p, "/api/advancedqueries/run") == 0 && strcmp(m, "POST") == 0)
		return EP_AQ;
	if (strcmp(p, "/api/exposureScore/ByMachineGroups") == 0 && strcmp(m, "GET") == 0)
		return EP_SCORE;
	return EP_OTHER;
}

/* x-www-form-urlencoded text, decoded. */
static char *
form_decode(const char *p, size_t n)
{
	struct strbuf sb = {0};
	sb_add(&sb, "", 0);
	for (size_t i = 0; i < n; i++) {
		if (p[i] == '+') {
			sb_addc(&sb, ' ');
		} else if (p[i] == '%' && i + 2 < n && isxdigit((unsigned char)p[i + 1]) &&
			   isxdigit((unsigned char)p[i + 2])) {
			char hex[3] = {p[i + 1], p[i + 2], 0};
			sb_addc(&sb, (char)strtol(hex, NULL, 16));
			i += 2;
		} else {
			sb_addc(&sb, p[i]);
		}
	}
	return sb.buf;
}

/* A token request's form for the log, decoded, with the credential
 * replaced. */
static json_t *
form_for_log(const char *body, size_t len)
{
	json_t *o = json_object();
	const char *p = body, *end = body + len;
	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p)), *stop = amp ? amp : end;
		const char *eq = memchr(p, '=', (size_t)(stop - p));
		if (eq) {
			char *k = form_decode(p, (size_t)(eq - p));
			bool secret = strcmp(k, "client_secret") == 0 || strcmp(k, "client_assertion") == 0;
			char *v = secret ? xstrdup("<redacted>") : form_decode(eq + 1, (size_t)(stop - eq - 1));
			json_object_set_new(o, k, json_string(utf8_valid(v, strlen(v)) ? v : "<not UTF-8>"));
			free(k);
			free(v);
		}
		p = stop + 1;
	}
	return o;
}

static void
count(struct emu *e, enum ep ep, const struct request *q, int status, enum fault fault)
{
	int c = status == 429 ? 5 : status / 100 - 1;
	if (c < 0 || c > 5)
		c = 4;
	e->calls[ep][c]++;
	if (json_array_size(e->log) >= 1000)
		json_array_remove(e->log, 0);
	json_t *x = json_pack("{s:s, s:s, s:i}", "method", q->method, "path", q->full_path, "status", status);
	if (fault)
		json_object_set_new(x, "fault",
				    json_string(fault == FAULT_SLOW            ? "slow"
							: fault == FAULT_RESET ? "reset"
									       : "truncate"));
	if (e->log_bodies) {
		json_object_set_new(x, "query", q->query ? json_string(q->query) : json_null());
		json_t *body = NULL;
		if (ep == EP_TOKEN && q->body)
			body = form_for_log(q->body, q->body_len);
		else if (q->body && q->body_len)
			body = json_loadb(q->body, q->body_len, 0, NULL);
		json_object_set_new(x, "body", body ? body : json_null());
	}
	json_array_append_new(e->log, x);
}

void
emu_handle(struct emu *e, const struct request *q0, struct reply *r)
{
	struct request q = *q0;
	char path[1024];
	enum ep ep = EP_OTHER;
	const char *id;
	const struct app *a;
	struct app tok_app;

	pthread_mutex_lock(&e->mu);
	if (strlen(q.path) >= sizeof(path)) { /* never route a cut path */
		reply_error(r, 414, "BadRequest", "The path is longer than %zu bytes", sizeof(path) - 1);
		goto done;
	}
	memcpy(path, q.path, strlen(q.path) + 1);
	q.path = path;
	if (strncmp(path, "/_emulator/", 11) == 0) {
		emu_control(e, &q, r);
		goto done_nocount;
	}
	if (strcmp(path, "/metadata/identity/oauth2/token") == 0) {
		ep = EP_TOKEN;
		auth_managed(e, &q, r);
		goto done;
	}
	/* /{tenant}/oauth2/token and /{tenant}/oauth2/v2.0/token */
	char *o = strstr(path + 1, "/oauth2/");
	if (o && path[0] == '/' && memchr(path + 1, '/', (size_t)(o - path - 1)) == NULL && o > path + 1) {
		ep = EP_TOKEN;
		*o = '\0';
		if (strcmp(o + 1, "oauth2/token") == 0)
			auth_token(e, &q, path + 1, false, r);
		else if (strcmp(o + 1, "oauth2/v2.0/token") == 0)
			auth_token(e, &q, path + 1, true, r);
		else
			reply_error(r, 404, "ResourceNotFound", "no such endpoint");
		*o = '/';
		goto done;
	}
	if (graph_route(e, &q, path, r))
		goto done;
	if (strncmp(path, "/api/v1.0/", 10) == 0)
		memmove(path + 4, path + 9, strlen(path + 9) + 1);
	ep = classify(q.method, path, &id);
	if (strncmp(path, "/api/", 5) != 0 || ep == EP_OTHER) {
		reply_error(r, 404, "ResourceNotFound", "Resource %s %.200s was not found", q.method, q0->path);
		goto done;
	}
	if (!auth_bearer(e, &q, &tok_app, r))
		goto done;
	if (tok_app.graph) {
		reply_error(r, 401, "Unauthorized", "The token's audience is Microsoft Graph, not this API");
		goto done;
	}
	a = &tok_app;
	int f = e->fault_tenant && strcmp(e->fault_tenant, a->tenant) != 0 ? 0 : next_fault(e);
	if (f == FAULT_SLOW || f == FAULT_RESET || f == FAULT_TRUNCATE) {
		/* on the wire, after the request has done its work */
		r->fault = (enum fault)f;
		r->slow_ms = e->slow_ms ? e->slow_ms : 2000;
	} else if (f) {
		if (f == 429) {
			reply_error(r, 429, "TooManyRequests", "Injected fault");
			snprintf(r->retry_after, sizeof(r->retry_after), "1");
			goto done;
		}
		if (f == 401) {
			reply_error(r, 401, "Unauthorized", "Injected fault: the token was refused");
			goto done;
		}
		if (f == 500 || f == 503) {
			reply_error(r, f, f == 500 ? "InternalServerError" : "ServiceUnavailable", "Injected fault");
			goto done;
		}
	}
	if (!emu_rate(e, a, ep, r))
		goto done;
	ind_expire(e);
	switch (ep) {
	case EP_LIST: ind_list(e, a, &q, r); break;
	case EP_SUBMIT: ind_submit(e, a, &q, r); break;
	case EP_IMPORT:
		e->item_fault = f == FAULT_ITEM;
		ind_import(e, a, &q, r);
		e->item_fault = false;
		break;
	case EP_DELETE: ind_delete(e, a, id, r); break;
	case EP_BATCHDELETE: ind_batch_delete(e, a, &q, r); break;
	case EP_MACHINES: machines_list(e, a, &q, r); break;
	case EP_FINDBYTAG: machines_findbytag(e, a, &q, r); break;
	case EP_AQ: aq_run(e, a, &q, r); break;
	case EP_SCORE: exposure_by_group(e, a, &q, r); break;
	default: break;
	}
done:
	r->odata = ep != EP_TOKEN;
	count(e, ep, q0, r->status, r->fault);
done_nocount:
	pthread_mutex_unlock(&e->mu);
}
