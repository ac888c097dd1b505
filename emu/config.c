/* mde-emulator --config: tenants' apps, machines and limits from INI.
 *
 *   [emulator]             token_lifetime, cap, rate_limits
 *   [app NAME]             tenant, client_id, secret and/or certificate (PEM
 *                          file), roles (comma-separated); federated_issuer,
 *                          federated_subject, federated_certificate (a PEM
 *                          public key or certificate) for workload identity;
 *                          managed_identity = yes: the identity Arc's local
 *                          endpoint issues tokens for ([emulator] imds_key_dir)
 *   [machine NAME]         id, group, group_id, tags, network_protection
 *   [faults]               seed, slow_ms, and a probability per fault:
 *                          429, 500, 503, slow, reset, truncate
 *   [readings]             NAME = CHOICE for the readings of spec section 9
 *
 * Unknown sections and keys are errors, reported as FILE:LINE. */
#include <ini.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "emu.h"

struct cfg {
	struct emu *e;
	char why[256];
	struct app *app; /* the section being read */
	struct machine *machine;
	char section[128];
};

static bool
set_str(char **dst, const char *v)
{
	free(*dst);
	*dst = xstrdup(v);
	return true;
}

/* "import_per_minute = 30", "list_per_hour = 1500" (0: no limit). */
static bool
per_limit(struct emu *e, const char *name, const char *value)
{
	char ep[32];
	long long n;
	const char *u = strrchr(name, '_');
	if (u == NULL || (size_t)(u - name) >= sizeof(ep) || num_parse(value, 0, 1000000, &n, NULL) != ERR_OK)
		return false;
	bool minute = strcmp(u, "_minute") == 0, hour = strcmp(u, "_hour") == 0;
	size_t len = (size_t)(u - name);
	if (!(minute || hour) || len < 4 || strncmp(name + len - 4, "_per", 4) != 0)
		return false;
	memcpy(ep, name, len - 4);
	ep[len - 4] = '\0';
	int k = ep_parse(ep);
	if (k < 0)
		return false;
	if (minute)
		e->per_min[k] = (int)n;
	else
		e->per_hour[k] = (int)n;
	return true;
}

/* A new section: an app or a machine starts; 0 for an unknown one. */
static int
enter(struct cfg *c, const char *section)
{
	struct emu *e = c->e;
	snprintf(c->section, sizeof(c->section), "%s", section);
	c->app = NULL;
	c->machine = NULL;
	if (strncmp(section, "app ", 4) == 0) {
		e->apps = xrealloc(e->apps, (e->napps + 1) * sizeof(*e->apps));
		c->app = &e->apps[e->napps++];
		*c->app = (struct app){.name = xstrdup(section + 4)};
	} else if (strncmp(section, "machine ", 8) == 0) {
		e->machines = xrealloc(e->machines, (e->nmachines + 1) * sizeof(*e->machines));
		c->machine = &e->machines[e->nmachines++];
		*c->machine = (struct machine){.name = xstrdup(section + 8),
					       .np_mode = xstrdup("Block"),
					       .group = xstrdup(""),
					       .tags = xstrdup("")};
	} else if (strcmp(section, "emulator") != 0 && strcmp(section, "faults") != 0 &&
		   strcmp(section, "readings") != 0) {
		snprintf(c->why, sizeof(c->why),
			 "unknown section [%s] (emulator, faults, readings, app NAME, machine NAME)", section);
		return 0;
	}
	return 1;
}

static int
faults_key(struct cfg *c, const char *name, const char *value)
{
	struct emu *e = c->e;
	long long n;
	char *end;
	if (strcmp(name, "seed") == 0 && num_parse(value, 0, LLONG_MAX, &n, NULL) == ERR_OK) {
		e->fault_rng = (uint64_t)n;
		return 1;
	}
	if (strcmp(name, "slow_ms") == 0 && num_parse(value, 0, 60000, &n, NULL) == ERR_OK) {
		e->slow_ms = (unsigned)n;
		return 1;
	}
	double pr = strtod(value, &end);
	if (*end == '\0' && end != value && fault_set_probability(e, name, pr))
		return 1;
	snprintf(
		c->why, sizeof(c->why),
		"[faults] %s = %s: seed, slow_ms, or 429/500/503/slow/reset/truncate = probability 0..1 (summing to at most 1)",
		name, value);
	return 0;
}

static int
emulator_key(struct cfg *c, const char *name, const char *value)
{
	struct emu *e = c->e;
	long long n;
	if (strcmp(name, "token_lifetime") == 0 && num_parse(value, 60, 86400, &n, NULL) == ERR_OK)
		e->token_lifetime = (long)n;
	else if (strcmp(name, "cap") == 0 && num_parse(value, 0, 10000000, &n, NULL) == ERR_OK)
		e->cap = (long)n;
	else if (strcmp(name, "rate_limits") == 0 && bool_parse(value, &e->rate_limits) == ERR_OK)
		;
	else if (strcmp(name, "imds_key_dir") == 0 && value[0] == '/') {
		free(e->imds_key_dir);
		e->imds_key_dir = xstrdup(value);
	} else if (per_limit(e, name, value))
		;
	else {
		snprintf(c->why, sizeof(c->why), "[emulator] %s = %s: unknown key or bad value", name, value);
		return 0;
	}
	return 1;
}

static int
app_key(struct cfg *c, const char *section, const char *name, const char *value)
{
	struct app *a = c->app;
	if (strcmp(name, "tenant") == 0)
		return set_str(&a->tenant, value);
	if (strcmp(name, "client_id") == 0)
		return set_str(&a->client_id, value);
	if (strcmp(name, "secret") == 0)
		return set_str(&a->secret, value);
	if (strcmp(name, "certificate") == 0) {
		char *pem;
		size_t plen;
		if (file_read(value, 1 << 20, &pem, &plen) != ERR_OK) {
			snprintf(c->why, sizeof(c->why), "certificate %.100s: cannot read", value);
			return 0;
		}
		bool ok = app_set_certificate(a, pem, plen, c->why, sizeof(c->why));
		free(pem);
		return ok;
	}
	if (strcmp(name, "federated_issuer") == 0 || strcmp(name, "federated_subject") == 0) {
		/* kept in a copy: app_set_federated replaces both */
		char *iss = xstrdup(name[10] == 'i' ? value : a->fed_issuer ? a->fed_issuer : "");
		char *sub = xstrdup(name[10] == 's' ? value : a->fed_subject ? a->fed_subject : "");
		void *key = a->fed_pubkey;
		a->fed_pubkey = NULL;
		app_clear_federated(a);
		a->fed_issuer = iss, a->fed_subject = sub, a->fed_pubkey = key;
		return 1;
	}
	if (strcmp(name, "federated_certificate") == 0) {
		char *pem, *iss = xstrdup(a->fed_issuer ? a->fed_issuer : ""),
			   *sub = xstrdup(a->fed_subject ? a->fed_subject : "");
		size_t plen;
		bool ok = false;
		if (file_read(value, 1 << 20, &pem, &plen) != ERR_OK) {
			snprintf(c->why, sizeof(c->why), "federated_certificate %.100s: cannot read", value);
		} else {
			ok = app_set_federated(a, iss, sub, pem, plen, c->why, sizeof(c->why));
			free(pem);
		}
		free(iss), free(sub);
		return ok;
	}
	if (strcmp(name, "managed_identity") == 0) {
		if (bool_parse(value, &a->managed_identity) == ERR_OK)
			return 1;
		snprintf(c->why, sizeof(c->why), "managed_identity = %.40s: yes or no", value);
		return 0;
	}
	if (strcmp(name, "roles") == 0) {
		char *dup = xstrdup(value), *save, *tok;
		a->roles = 0;
		for (tok = strtok_r(dup, ", ", &save); tok; tok = strtok_r(NULL, ", ", &save)) {
			unsigned b = role_parse(tok);
			if (b == 0) {
				snprintf(c->why, sizeof(c->why), "unknown role %.60s", tok);
				free(dup);
				return 0;
			}
			a->roles |= b;
		}
		free(dup);
		return 1;
	}
	snprintf(c->why, sizeof(c->why),
		 "[%s] unknown key %s (tenant, client_id, secret, certificate, roles, federated_issuer, "
		 "federated_subject, federated_certificate, managed_identity)",
		 section, name);
	return 0;
}

static int
machine_key(struct cfg *c, const char *section, const char *name, const char *value)
{
	long long n;
	struct machine *m = c->machine;
	if (strcmp(name, "id") == 0)
		return set_str(&m->id, value);
	if (strcmp(name, "group") == 0)
		return set_str(&m->group, value);
	if (strcmp(name, "tags") == 0)
		return set_str(&m->tags, value);
	if (strcmp(name, "group_id") == 0 && num_parse(value, 0, 1 << 30, &n, NULL) == ERR_OK) {
		m->group_id = (int)n;
		return 1;
	}
	if (strcmp(name, "network_protection") == 0 &&
	    (strcmp(value, "Block") == 0 || strcmp(value, "Audit") == 0 || strcmp(value, "Off") == 0))
		return set_str(&m->np_mode, value);
	snprintf(
		c->why, sizeof(c->why),
		"[%s] %s = %s: unknown key or bad value (id, group, group_id, tags, network_protection = Block|Audit|Off)",
		section, name, value);
	return 0;
}

static int
on_key(void *user, const char *section, const char *name, const char *value)
{
	struct cfg *c = user;
	if (strcmp(section, c->section) != 0 && !enter(c, section))
		return 0;
	if (strcmp(section, "readings") == 0)
		return reading_set(c->e, name, value, c->why, sizeof(c->why));
	if (strcmp(section, "faults") == 0)
		return faults_key(c, name, value);
	if (strcmp(section, "emulator") == 0)
		return emulator_key(c, name, value);
	if (c->app)
		return app_key(c, section, name, value);
	return machine_key(c, section, name, value);
}

bool
emu_config_load(struct emu *e, const char *path, char *why, size_t whysz)
{
	struct cfg c = {.e = e};
	int line = ini_parse(path, on_key, &c);
	if (line < 0) {
		snprintf(why, whysz, "%s: cannot read", path);
		return false;
	}
	if (line > 0) {
		snprintf(why, whysz, "%s:%d: %s", path, line, c.why[0] ? c.why : "syntax error");
		return false;
	}
	for (size_t i = 0; i < e->napps; i++) {
		struct app *a = &e->apps[i];
		bool fed = a->fed_issuer && *a->fed_issuer && a->fed_subject && *a->fed_subject && a->fed_pubkey;
		if (!a->tenant || !a->client_id || (!a->secret && !a->pubkey && !fed && !a->managed_identity) ||
		    a->roles == 0) {
			snprintf(why, whysz,
				 "%s: [app %s] needs tenant, client_id, a secret, a certificate or a federated "
				 "credential, and roles",
				 path, a->name);
			return false;
		}
		if (!fed && (a->fed_issuer || a->fed_subject || a->fed_pubkey)) {
			snprintf(why, whysz,
				 "%s: [app %s]: a federated credential needs federated_issuer, federated_subject and "
				 "federated_certificate",
				 path, a->name);
			return false;
		}
		app_object_id(a, a->oid);
	}
	for (size_t i = 0; i < e->nmachines; i++)
		if (e->machines[i].id == NULL) {
			snprintf(why, whysz, "%s: [machine %s] needs an id", path, e->machines[i].name);
			return false;
		}
	if (e->napps == 0) {
		snprintf(why, whysz, "%s: no [app NAME] section: nobody could log in", path);
		return false;
	}
	return true;
}
