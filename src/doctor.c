#include "doctor.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fw_push.h"
#include "mde.h"
#include "model.h"
#include "report.h"
#include "util.h"

static const char *const vnames[] = {"OK", "WARN", "FAIL", "MANUAL", "NOTE"};

static void say(struct doctor_result *d, enum doctor_verdict v, const char *check, const char *advice, const char *fmt,
		...) __attribute__((format(printf, 5, 6)));
static void
say(struct doctor_result *d, enum doctor_verdict v, const char *check, const char *advice, const char *fmt, ...)
{
	char detail[1200];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(detail, sizeof(detail), fmt, ap);
	va_end(ap);
	json_t *x = json_pack("{s:s, s:s, s:s}", "check", check, "verdict", vnames[v], "detail", detail);
	if (advice)
		json_object_set_new(x, "advice", json_string(advice));
	json_array_append_new(d->checks, x);
	d->n[v]++;
}

static void
check_secret(struct doctor_result *d, const struct config *c)
{
	struct stat sb;
	const char *dir = getenv("CREDENTIALS_DIRECTORY");
	/* the credential under the unit; its file (if given) by hand */
	bool cred = c->client_secret_credential && dir && *dir;
	const char *file = cred ? NULL : c->client_secret_file ? c->client_secret_file : c->certificate;
	if (file) {
		char adv[600];
		snprintf(adv, sizeof(adv), "chmod 600 %s; chown it to the user iocsync runs as", file);
		if (stat(file, &sb) != 0)
			say(d, DOCTOR_FAIL, "secret", "create it, or fix the path in [mde]", "%s: cannot be read",
			    file);
		else if (sb.st_mode & 077)
			say(d, DOCTOR_FAIL, "secret", adv, "%s is readable by group or others (mode %04o): refused",
			    file, (unsigned)(sb.st_mode & 07777));
		else
			say(d, DOCTOR_OK, "secret", NULL, "%s: readable by its owner only (mode %04o)", file,
			    (unsigned)(sb.st_mode & 07777));
	} else if (c->credential) {
		say(d, DOCTOR_OK, "secret", NULL, "no secret: the machine's managed identity at %s (key directory %s)",
		    c->imds_url ? c->imds_url : "Azure Arc's local endpoint",
		    c->imds_key_dir ? c->imds_key_dir : "/var/opt/azcmagent/tokens");
	} else if (c->federated_token_file) {
		struct stat fs;
		if (stat(c->federated_token_file, &fs) == 0 && S_ISREG(fs.st_mode))
			say(d, DOCTOR_OK, "secret", NULL,
			    "no secret: a federated token from %s (workload identity, read again for each token)",
			    c->federated_token_file);
		else
			say(d, DOCTOR_FAIL, "secret", "check the path, or the platform that projects the token",
			    "federated_token_file %s: cannot be read", c->federated_token_file);
	} else if (c->client_secret_env) {
		if (getenv(c->client_secret_env))
			say(d, DOCTOR_OK, "secret", NULL, "from the environment variable %s", c->client_secret_env);
		else
			say(d, DOCTOR_FAIL, "secret", "set it in the service's environment (or use a credential)",
			    "the environment variable %s is not set", c->client_secret_env);
	} else if (c->client_secret_credential) {
		if (cred)
			say(d, DOCTOR_OK, "secret", NULL, "the systemd credential %s", c->client_secret_credential);
		else
			say(d, DOCTOR_WARN, "secret",
			    "add client_secret_file = the credential's file, for runs by hand",
			    "the systemd credential %s: no CREDENTIALS_DIRECTORY here (not run by systemd)",
			    c->client_secret_credential);
	} else {
		say(d, DOCTOR_FAIL, "secret",
		    "give client_secret_file, client_secret_env, client_secret_credential or "
		    "certificate in [mde]",
		    "no secret is configured");
	}
}

/* The device groups the feeds are scoped to (deduplicated). */
static json_t *
configured_groups(const struct config *c)
{
	json_t *g = json_object();
	for (size_t i = 0; i < c->nfeeds; i++)
		for (size_t k = 0; k < c->feeds[i].ndevice_groups; k++)
			json_object_set_new(g, c->feeds[i].device_groups[k], json_true());
	return g;
}

/* The API answers, and how much of the cap is used (all, iocsync's,
 * others'). */
static void
check_cap(struct doctor_result *d, const struct config *c, struct mde *m, bool ti, bool ti_all)
{
	char why[600];
	json_t *all = NULL;
	if (!ti) {
		say(d, DOCTOR_FAIL, "api", "grant Ti.ReadWrite.All", "not tried: the token cannot read indicators");
		return;
	}
	if (mde_list_all(m, &all, why, sizeof(why)) != ERR_OK) {
		say(d, DOCTOR_FAIL, "api", "check the cloud, region or api_url in [mde], the network and the proxy",
		    "listing indicators failed: %s", why);
		return;
	}
	size_t n = json_array_size(all), own = 0, i;
	json_t *x;
	json_array_foreach(all, i, x)
		own += mde_owned(m, x);
	json_decref(all);
	say(d, DOCTOR_OK, "api", NULL, "%s answers (%zu indicators listed)", mde_api_base(m), n);
	long long room = c->cap - c->reserve - (long long)n;
	static const char adv[] =
		"remove stale indicators in the portal, lower what the feeds send, or set "
		"priorities so what matters most fits";
	if ((long long)n >= c->cap)
		say(d, DOCTOR_FAIL, "cap", adv, "%zu of %lld: the cap is reached (iocsync's %zu, others' %zu)", n,
		    c->cap, own, n - own);
	else if (room < 0)
		say(d, DOCTOR_WARN, "cap", adv, "%zu of %lld: inside the reserve of %lld (iocsync's %zu, others' %zu)",
		    n, c->cap, c->reserve, own, n - own);
	else
		say(d, DOCTOR_OK, "cap", NULL,
		    "%zu of %lld used (iocsync's %zu, others' %zu); %lld free after the "
		    "reserve of %lld%s",
		    n, c->cap, own, n - own, room, c->reserve,
		    ti_all ? "" : " (others' unseen without Ti.ReadWrite.All)");
}

/* Each device group the configuration names (want) has devices. Returns
 * MDE's machine list (NULL when it could not be read). */
static json_t *
check_groups(struct doctor_result *d, struct mde *m, bool mach, json_t *want)
{
	char why[600];
	json_t *machines = NULL;
	long st = 0;
	if (!mach) {
		say(d, DOCTOR_WARN, "device groups", "grant Machine.Read.All",
		    "not checked: the token lacks Machine.Read.All");
		return NULL;
	}
	if (mde_call(m, MDE_EP_MACHINES, "GET", "/api/machines?$top=10000", NULL, &st, &machines, why, sizeof(why)) !=
		    ERR_OK &&
	    st != 404) {
		say(d, DOCTOR_FAIL, "device groups", "see the api check", "listing machines failed: %s", why);
		return machines;
	}
	json_t *seen = json_object(), *x, *v;
	size_t i;
	json_array_foreach(json_object_get(machines, "value"), i, x) {
		const char *g = json_string_value(json_object_get(x, "rbacGroupName"));
		if (g)
			report_json_bump(seen, g);
	}
	if (json_object_size(want) == 0)
		say(d, DOCTOR_OK, "device groups", NULL,
		    "no feed is scoped to device groups: indicators apply to every "
		    "device (%zu groups seen)",
		    json_object_size(seen));
	const char *g;
	json_object_foreach(want, g, v) {
		json_t *cnt = json_object_get(seen, g);
		char name[300];
		snprintf(name, sizeof(name), "device group %s", g);
		if (cnt)
			say(d, DOCTOR_OK, name, NULL, "%lld devices", (long long)json_integer_value(cnt));
		else
			say(d, DOCTOR_FAIL, name,
			    "fix device_groups in the configuration: names must match the portal's (Settings > "
			    "Endpoints > Device groups), case included",
			    "no device is in a group of that name: indicators scoped to it protect nothing");
	}
	json_decref(seen);
	return machines;
}

/* Per group of machines (those of want, or all): {total, block, not:
 * [names]} from the advanced-hunting results res. */
static json_t *
np_by_group(json_t *res, json_t *machines, json_t *want, size_t *reported)
{
	json_t *np = json_object(), *groups = json_object(), *x; /* DeviceId -> compliant */
	size_t i;
	json_array_foreach(json_object_get(res, "Results"), i, x) {
		const char *id = json_string_value(json_object_get(x, "DeviceId"));
		if (id)
			json_object_set(np, id, json_object_get(x, "IsCompliant"));
	}
	*reported = json_object_size(np);
	json_array_foreach(json_object_get(machines, "value"), i, x) {
		const char *g = json_string_value(json_object_get(x, "rbacGroupName"));
		const char *id = json_string_value(json_object_get(x, "id"));
		const char *nm = json_string_value(json_object_get(x, "computerDnsName"));
		if (!g || !id || (json_object_size(want) && !json_object_get(want, g)))
			continue;
		json_t *e = json_object_get(groups, g);
		if (!e)
			json_object_set_new(groups, g,
					    e = json_pack("{s:i, s:i, s:[]}", "total", 0, "block", 0, "not"));
		report_json_bump(e, "total");
		if (json_is_true(json_object_get(np, id)))
			report_json_bump(e, "block");
		else
			json_array_append_new(json_object_get(e, "not"), json_string(nm ? nm : id));
	}
	json_decref(np);
	return groups;
}

/* How many devices of each group run network protection in block mode. */
static void
check_network_protection(struct doctor_result *d, struct mde *m, bool aq, bool mach, json_t *want, json_t *machines)
{
	char why[600];
	long st = 0;
	if (!aq) {
		say(d, DOCTOR_WARN, "network protection", "grant AdvancedQuery.Read.All",
		    "not checked: the token lacks AdvancedQuery.Read.All");
		return;
	}
	json_t *body = json_pack("{s:s}", "Query",
				 "DeviceTvmSecureConfigurationAssessment | where ConfigurationId == \"scid-96\" "
				 "| summarize arg_max(Timestamp, *) by DeviceId "
				 "| project DeviceId, DeviceName, IsCompliant, IsApplicable");
	json_t *res = NULL;
	enum err e = mde_call(m, MDE_EP_QUERY, "POST", "/api/advancedqueries/run", body, &st, &res, why, sizeof(why));
	json_decref(body);
	if (e != ERR_OK) {
		say(d, DOCTOR_FAIL, "network protection", "see the api check", "advanced hunting failed: %s", why);
		return;
	}
	size_t reported;
	json_t *groups = np_by_group(res, machines, want, &reported), *v;
	json_decref(res);
	static const char adv[] =
		"turn network protection to block mode on those devices (Intune: Endpoint security > Attack surface "
		"reduction; or Set-MpPreference -EnableNetworkProtection Enabled); audit mode does not enforce. The "
		"check reads ConfigurationId scid-96, an id known from community sources, not from Microsoft's "
		"documentation";
	if (!mach)
		say(d, DOCTOR_WARN, "network protection", "grant Machine.Read.All",
		    "%zu devices reported, but without Machine.Read.All they cannot be put in groups", reported);
	const char *g;
	json_object_foreach(groups, g, v) {
		char name[300];
		snprintf(name, sizeof(name), "network protection in %s", g);
		long long tot = json_integer_value(json_object_get(v, "total"));
		long long blk = json_integer_value(json_object_get(v, "block"));
		if (blk == tot) {
			say(d, DOCTOR_OK, name, NULL, "%lld of %lld devices in block mode (scid-96, a community id)",
			    blk, tot);
			continue;
		}
		const json_t *laggards = json_object_get(v, "not");
		struct strbuf names = {0};
		for (size_t k = 0; k < json_array_size(laggards) && k < 10; k++)
			sb_addf(&names, "%s%s", k ? ", " : "", json_string_value(json_array_get(laggards, k)));
		if (json_array_size(laggards) > 10)
			sb_addf(&names, " and %zu more", json_array_size(laggards) - 10);
		say(d, blk ? DOCTOR_WARN : DOCTOR_FAIL, name, adv, "%lld of %lld devices in block mode; not: %s", blk,
		    tot, names.buf);
		sb_free(&names);
	}
	json_decref(groups);
}

static void
check_tenant(struct doctor_result *d, const struct config *c, const struct clock *clk)
{
	char why[600];
	struct mde *m = mde_new(c, clk, why, sizeof(why));
	if (m == NULL) {
		say(d, DOCTOR_FAIL, "token", "fix the [mde] section (see the secret check)", "no client: %s", why);
		return;
	}
	const json_t *roles = mde_roles(m, why, sizeof(why));
	if (roles == NULL) {
		say(d, DOCTOR_FAIL, "token",
		    "check tenant_id, client_id and the secret (expired? rotated?) in Entra ID > App registrations",
		    "no token: %s", why);
		mde_free(m);
		return;
	}
	say(d, DOCTOR_OK, "token", NULL, "a token for tenant %s, app %s", c->tenant_id ? c->tenant_id : "?",
	    c->client_id ? c->client_id : "?");
	bool ti_all = model_has_role(roles, "Ti.ReadWrite.All"), ti = ti_all || model_has_role(roles, "Ti.ReadWrite");
	bool mach = model_has_role(roles, "Machine.Read.All") || model_has_role(roles, "Machine.ReadWrite.All");
	bool aq = model_has_role(roles, "AdvancedQuery.Read.All");
	static const char grant[] =
		"Entra ID > App registrations > the app > API permissions > Add > APIs my "
		"organization uses > WindowsDefenderATP > Application permissions; then grant "
		"admin consent";
	if (ti_all)
		say(d, DOCTOR_OK, "role Ti.ReadWrite.All", NULL, "indicators: read and write, everybody's counted");
	else if (ti)
		say(d, DOCTOR_WARN, "role Ti.ReadWrite.All", grant,
		    "only Ti.ReadWrite: others' indicators are invisible, so the cap's budget cannot count them and "
		    "imports past the cap fail item by item");
	else
		say(d, DOCTOR_FAIL, "role Ti.ReadWrite.All", grant,
		    "no Ti.ReadWrite or Ti.ReadWrite.All: iocsync cannot "
		    "write indicators");
	if (mach)
		say(d, DOCTOR_OK, "role Machine.Read.All", NULL, "machines: readable (device groups can be checked)");
	else
		say(d, DOCTOR_WARN, "role Machine.Read.All", grant,
		    "no Machine.Read.All or Machine.ReadWrite.All: device groups cannot be checked");
	if (aq)
		say(d, DOCTOR_OK, "role AdvancedQuery.Read.All", NULL,
		    "advanced hunting: network protection can be checked");
	else
		say(d, DOCTOR_WARN, "role AdvancedQuery.Read.All", grant,
		    "no AdvancedQuery.Read.All: network protection on the devices cannot be checked");

	check_cap(d, c, m, ti, ti_all);
	/* Device groups, then network protection in each. */
	json_t *want = configured_groups(c);
	json_t *machines = check_groups(d, m, mach, want);
	check_network_protection(d, m, aq, mach, want, machines);
	json_decref(machines);
	json_decref(want);
	mde_free(m);
}

/* [firewall] push = yes: the Graph permission, and iocsync's policies
 * there and assigned. */
static void
check_firewall(struct doctor_result *d, const struct config *c)
{
	if (!c->fw_push)
		return;
	json_t *roles;
	size_t ours, assigned;
	char why[512] = "";
	enum err e = fw_push_status(c, &roles, &ours, &assigned, why, sizeof(why));
	if (roles && !model_has_role(roles, "DeviceManagementConfiguration.ReadWrite.All"))
		say(d, DOCTOR_FAIL, "firewall push",
		    "grant the app Microsoft Graph's DeviceManagementConfiguration.ReadWrite.All (application), with "
		    "admin consent",
		    "the Graph token lacks DeviceManagementConfiguration.ReadWrite.All: no rule can be pushed");
	else if (e != ERR_OK)
		say(d, DOCTOR_FAIL, "firewall push", "check [firewall] graph_url and the app's Graph permission",
		    "Microsoft Graph: %s", why);
	else if (ours == 0)
		say(d, DOCTOR_WARN, "firewall push", "run iocsync firewall push (or the next sync pushes)",
		    "no iocsync policy in Intune yet: UDP to blocked IPs passes");
	else if (assigned < ours)
		say(d, DOCTOR_WARN, "firewall push", "set [firewall] assign_groups to the devices' Entra groups",
		    "%zu of %zu iocsync policies are assigned to no group: their rules reach no device",
		    ours - assigned, ours);
	else
		say(d, DOCTOR_OK, "firewall push", NULL, "%zu iocsync policies in Intune, all assigned", ours);
	json_decref(roles);
}

static void
manual_and_facts(struct doctor_result *d)
{
	say(d, DOCTOR_MANUAL, "custom network indicators",
	    "Microsoft Defender portal: Settings > Endpoints > General > Advanced features > Custom network "
	    "indicators: On",
	    "no API shows it: without it, IP, URL and domain indicators do nothing");
	say(d, DOCTOR_MANUAL, "allow or block file",
	    "Settings > Endpoints > General > Advanced features > Allow or block file: On",
	    "no API shows it: without it, file hash indicators do nothing");
	say(d, DOCTOR_MANUAL, "EDR in block mode",
	    "Settings > Endpoints > General > Advanced features > Enable EDR in block mode: On",
	    "no API shows it: it lets Defender act on what a non-Microsoft antivirus misses");
	say(d, DOCTOR_NOTE, "delay", NULL, "IP and URL blocks can take up to 48 hours to reach the devices");
	say(d, DOCTOR_NOTE, "TCP only",
	    "iocsync export --format firewall-ps1 writes Windows Firewall rules for UDP; "
	    "iocsync probe HOST PORT --both shows what gets through",
	    "network protection blocks TCP (and HTTP/HTTPS); UDP and QUIC to a blocked IP pass");
	say(d, DOCTOR_NOTE, "HTTPS paths", NULL,
	    "a URL indicator's path is enforced for HTTPS only in Microsoft Edge; other browsers see the domain "
	    "(and need QUIC and ECH off)");
}

int
doctor_checks(const struct config *c, const char *path, const struct clock *clk, struct doctor_result *d)
{
	*d = (struct doctor_result){.checks = json_array()};
	if (c == NULL) {
		say(d, DOCTOR_FAIL, "configuration", "fix the lines named above", "%s: not valid", path);
	} else {
		say(d, DOCTOR_OK, "configuration", NULL, "%s: valid, %zu feeds", c->path, c->nfeeds);
		check_secret(d, c);
		check_tenant(d, c, clk);
		check_firewall(d, c);
	}
	manual_and_facts(d);
	return d->n[DOCTOR_FAIL] ? EXIT_FAIL : d->n[DOCTOR_WARN] ? 2 : EXIT_OK;
}

int
doctor_run(const struct config *c, const struct clock *clk, json_t **checks)
{
	struct doctor_result d;
	int rc = doctor_checks(c, c ? c->path : "", clk, &d);
	*checks = d.checks;
	return rc;
}
