#include "config_int.h"

#include <stdio.h>
#include <string.h>

/* A duration in the largest unit that divides it: 30d, 24h, 90m, 15s. */
static void
dump_duration(struct strbuf *o, long long s)
{
	if (s != 0 && s % 86400 == 0)
		sb_addf(o, "%lldd", s / 86400);
	else if (s != 0 && s % 3600 == 0)
		sb_addf(o, "%lldh", s / 3600);
	else if (s != 0 && s % 60 == 0)
		sb_addf(o, "%lldm", s / 60);
	else
		sb_addf(o, "%llds", s);
}

/* Prints "name = value" for key k of base, or nothing when it is unset. */
static void
dump_key(const struct config *c, const struct key *k, const void *base, struct strbuf *o)
{
	static const char *const cidr[] = {"skip", "expand"};
	static const char *const lvl[] = {"error", "warning", "info", "debug"};
	const char *field = (const char *)base + k->off;
	const struct feed_cfg *f = base;

	switch (k->t) {
	case K_STR:
	case K_PATH:
	case K_CLOUD:
	case K_URL:
	case K_GUID:
		if (*(char *const *)field)
			sb_addf(o, "%s = %s\n", k->name, *(char *const *)field);
		return;
	case K_BOOL: sb_addf(o, "%s = %s\n", k->name, *(const bool *)field ? "yes" : "no"); return;
	case K_INT:
		if (k->sec == S_SYNC && k->off == C(cidr_expand_max))
			sb_addf(o, "%s = %u\n", k->name, *(const unsigned *)field);
		else if (k->sec == S_FEED && k->off == F(priority))
			sb_addf(o, "%s = %d\n", k->name, *(const int *)field);
		else if (*(const long long *)field != 0 || k->sec != S_FEED) /* 0: inherits [fetch] */
			sb_addf(o, "%s = %lld\n", k->name, *(const long long *)field);
		return;
	case K_DUR:
		if (*(const long long *)field == 0 && (k->sec == S_FEED || k->sec == S_ALERT))
			return; /* inherits [fetch]; stale_after: two intervals */
		sb_addf(o, "%s = ", k->name);
		dump_duration(o, *(const long long *)field);
		sb_addc(o, '\n');
		return;
	case K_PCT: sb_addf(o, "%s = %d%%\n", k->name, *(const int *)field); return;
	case K_QUOTA:
		if (f->quota)
			sb_addf(o, "quota = %lld\n", f->quota);
		else if (f->quota_pct)
			sb_addf(o, "quota = %d%%\n", f->quota_pct);
		return;
	case K_TYPES:
		if (f->types) {
			const char *sep = " = ";
			sb_adds(o, k->name);
			for (int t = IOC_IP; t < IOC_TYPE_COUNT; t++)
				if (f->types & IOC_BIT(t)) {
					sb_addf(o, "%s%s", sep, ioc_type_name((enum ioc_type)t));
					sep = ", ";
				}
			sb_addc(o, '\n');
		}
		return;
	case K_ACTION: sb_addf(o, "%s = %s\n", k->name, ioc_action_name(f->action)); return;
	case K_SEVERITY: sb_addf(o, "%s = %s\n", k->name, config_severity_name(f->severity)); return;
	case K_FORMAT: sb_addf(o, "%s = %s\n", k->name, feed_format_name(f->format)); return;
	case K_LIST:
		for (size_t g = 0; g < f->ndevice_groups; g++)
			sb_addf(o, "%s%s", g == 0 ? "device_groups = " : ", ", f->device_groups[g]);
		if (f->ndevice_groups)
			sb_addc(o, '\n');
		return;
	case K_FILES:
		for (size_t i = 0; i < c->nallowlist_files; i++)
			sb_addf(o, "%s = %s\n", k->name, c->allowlist_files[i]);
		return;
	case K_CHAR:
		if (config_delimiter_name(f->csv_delim))
			sb_addf(o, "%s = %s\n", k->name, config_delimiter_name(f->csv_delim));
		else if (f->csv_delim)
			sb_addf(o, "%s = %c\n", k->name, f->csv_delim);
		return;
	case K_CIDR: sb_addf(o, "%s = %s\n", k->name, cidr[c->cidr]); return;
	case K_LOGLEVEL: sb_addf(o, "%s = %s\n", k->name, lvl[c->log_level]); return;
	case K_CSVHDR:
		sb_addf(o, "%s = %s\n", k->name, f->csv_header < 0 ? "auto" : f->csv_header ? "yes" : "no");
		return;
	case K_TO_IDS: sb_addf(o, "%s = %s\n", k->name, f->misp_ignore_to_ids ? "ignore" : "honour"); return;
	case K_LOGFMT: sb_addf(o, "%s = %s\n", k->name, *(const bool *)field ? "json" : "text"); return;
	case K_WEBHOOK: /* Teams' and Slack's URLs are the credential: never printed */
		if (*(char *const *)field)
			sb_addf(o, "# %s = (set, not shown: it may hold a token; keep it in webhook_file)\n", k->name);
		return;
	case K_ALERTFMT: sb_addf(o, "%s = %s\n", k->name, config_alert_format_names[c->alert_format]); return;
	}
}

/* Every key of every section, from the same table the parser reads, so a
 * new key cannot be forgotten here. The output loads back as it is. */
void
config_dump(const struct config *c, struct strbuf *o)
{
	for (int s = 0; s < S_TENANT; s++) {
		size_t n = s == S_FEED ? c->nfeeds : 1;
		for (size_t i = 0; i < n; i++) {
			const void *base = c;
			if (s == S_FEED) {
				sb_addf(o, "%s[feed \"%s\"]\n", o->len ? "\n" : "", c->feeds[i].name);
				base = &c->feeds[i];
			} else if (s == S_ALLOWLIST && c->nallowlist_files == 0) {
				continue;
			} else {
				sb_addf(o, "%s[%s]\n", o->len ? "\n" : "", config_section_names[s]);
			}
			for (size_t k = 0; k < config_nkeys; k++)
				if (config_keys[k].sec == (enum sec)s)
					dump_key(c, &config_keys[k], base, o);
		}
	}
	for (size_t i = 0; i < c->ntenants; i++) {
		const struct tenant_cfg *t = &c->tenants[i];
		sb_addf(o, "\n[tenant \"%s\"]\n", t->name);
		for (size_t k = 0; k < config_nkeys; k++)
			if (t->set[k])
				dump_key(t->over, &config_keys[k], t->over, o);
		for (size_t g = 0; g < t->nfeeds; g++)
			sb_addf(o, "%s%s%s", g == 0 ? "feeds = " : ", ", t->feeds[g], g + 1 == t->nfeeds ? "\n" : "");
		for (size_t g = 0; g < t->ndevice_groups; g++)
			sb_addf(o, "%s%s%s", g == 0 ? "device_groups = " : ", ", t->device_groups[g],
				g + 1 == t->ndevice_groups ? "\n" : "");
	}
}
